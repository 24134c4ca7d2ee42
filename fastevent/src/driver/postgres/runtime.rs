//! What belongs to one Tokio runtime. sqlx's connections are driven by the
//! runtime that opened them and die with it, while a driver may outlive
//! that runtime: kept for the whole process, it is used by each
//! `#[tokio::test]` or `block_on` on a runtime of its own. A pool handed
//! on to the next runtime fails there now and then ("a Tokio 1.x context
//! was found, but it is being shutdown"), so each runtime whose
//! predecessor has ended gets a value of its own.

use std::sync::{Arc, Mutex, Weak};

/// A value made on the current runtime, made again when a later runtime
/// asks for it after the one it was made on has ended. While that runtime
/// runs, every runtime shares the value, as before.
pub(super) struct PerRuntime<T> {
    slot: Mutex<Option<Made<T>>>,
}

struct Made<T> {
    value: T,
    /// Dead once the runtime it was made on has shut down.
    runtime: Weak<()>,
}

impl<T: Clone> PerRuntime<T> {
    pub(super) fn new() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// The value for the current runtime, made with `make` when there is
    /// none or its runtime has ended. Must be called on a runtime.
    pub(super) fn get_or_make<E>(&self, make: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(made) = slot.as_ref().filter(|made| made.runtime.strong_count() > 0) {
            return Ok(made.value.clone());
        }
        let value = make()?;
        *slot = Some(Made {
            value: value.clone(),
            runtime: current_runtime_token(),
        });
        Ok(value)
    }
}

/// A token that lives exactly as long as the current runtime: a task of
/// that runtime holds its only strong reference and never finishes, and a
/// runtime drops every task it still holds when it shuts down.
fn current_runtime_token() -> Weak<()> {
    let alive = Arc::new(());
    let token = Arc::downgrade(&alive);
    tokio::spawn(async move {
        let _alive = alive;
        std::future::pending::<()>().await
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_a_runtime_of_its_own<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async { work() })
        })
        .join()
        .unwrap()
    }

    #[test]
    fn a_value_is_shared_while_its_runtime_runs_and_made_again_after() {
        let values = Arc::new(PerRuntime::new());
        let made = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let get = {
            let (values, made) = (values.clone(), made.clone());
            move || {
                let n = made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                values.get_or_make(|| Ok::<_, ()>(n)).unwrap()
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = runtime.block_on(async { get() });
        let again = runtime.block_on(async { get() });
        assert_eq!((first, again), (0, 0), "one value on one runtime");
        let get2 = get.clone();
        assert_eq!(
            on_a_runtime_of_its_own(get2),
            0,
            "shared while its runtime runs"
        );
        drop(runtime);
        assert_eq!(
            on_a_runtime_of_its_own(get),
            3,
            "made again once its runtime has ended"
        );
    }
}
