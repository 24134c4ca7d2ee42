//! `queue.json`, read and rewritten under an exclusive lock on the `lock`
//! file beside it. The new state goes to a temporary file that is then
//! renamed over the old one, so a process killed mid-write leaves the old
//! file whole; the OS drops a dead process's lock, so nobody waits on it.

use super::state::State;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The directory of one queue.
#[derive(Debug, Clone)]
pub struct QueueFile {
    dir: PathBuf,
}

impl QueueFile {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `change` on the state under the exclusive lock, and writes the
    /// state back if it changed.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T, String> {
        let _lock = self.lock(true)?;
        let before = self.read_text()?;
        let mut state = parse(&before)?;
        let result = change(&mut state);
        let after = serde_json::to_string(&state).map_err(|e| e.to_string())?;
        if after != before {
            self.write(&after)?;
        }
        Ok(result)
    }

    /// Reads the state under a shared lock.
    pub fn read<T>(&self, look: impl FnOnce(&State) -> T) -> Result<T, String> {
        let _lock = self.lock(false)?;
        Ok(look(&parse(&self.read_text()?)?))
    }

    /// Held until dropped: closing the file releases the lock.
    fn lock(&self, exclusive: bool) -> Result<File, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.error("create", e))?;
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| self.error("open the lock", e))?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|e| self.error("lock", e))?;
        Ok(file)
    }

    /// The file's text; an empty queue before the first write.
    fn read_text(&self) -> Result<String, String> {
        match std::fs::read_to_string(self.dir.join("queue.json")) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(self.error("read", e)),
        }
    }

    fn write(&self, text: &str) -> Result<(), String> {
        let temporary = self.dir.join("queue.json.tmp");
        std::fs::write(&temporary, text).map_err(|e| self.error("write", e))?;
        std::fs::rename(&temporary, self.dir.join("queue.json"))
            .map_err(|e| self.error("rename", e))
    }

    fn error(&self, what: &str, error: std::io::Error) -> String {
        format!("cannot {what} in {}: {error}", self.dir.display())
    }
}

fn parse(text: &str) -> Result<State, String> {
    if text.is_empty() {
        return Ok(State::default());
    }
    serde_json::from_str(text).map_err(|e| format!("queue.json cannot be read: {e}"))
}
