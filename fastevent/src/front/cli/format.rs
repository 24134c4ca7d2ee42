//! Output for people: aligned tables, UTC times, durations. Output for
//! scripts is JSON, written by each command.

pub(crate) use crate::job::clock::utc;
use std::time::Duration;

/// A table with a header row, columns padded to their widest cell.
pub(super) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether only the header is there.
    pub(super) fn is_empty(&self) -> bool {
        self.rows.len() == 1
    }

    pub(super) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[c] - cell.chars().count();
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `1.5s`, `30s`, `2m`, `1h30m`: how listener options are written.
pub(super) fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    match s {
        _ if s >= 3600 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s >= 60 && s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// The first line of `text`, at most `max` characters.
pub(super) fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max && !text.contains('\n') {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `text` with every character that acts on a terminal instead of showing
/// written out, so that it shows what it holds and nothing else: C0 and C1
/// controls and DEL (`\x1b`, `\r`, `\n`, `\t`, `\u{9b}`), and the
/// bidirectional marks, overrides and isolates, which reorder what follows
/// them (`\u{202e}`). Job names, errors and bytes come from whoever could
/// write to the queue. Backslashes stay as they are, so JSON stays
/// readable: a `\x1b` written out in the data looks like an escaped ESC,
/// but neither acts on the terminal.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0'..='\x1f' | '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{80}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `bytes` as [`escape`]d text, each byte that is not UTF-8 as `\xff`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// "1 job", "3 jobs".
pub(super) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(&["ID", "QUEUE"]);
        assert!(table.is_empty());
        table.row(vec!["12".into(), "default".into()]);
        table.row(vec!["7".into(), "q".into()]);
        assert_eq!(table.render(), "ID  QUEUE\n12  default\n7   q\n");
    }

    #[test]
    fn durations_read_like_listener_options() {
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(30)), "30s");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
        assert_eq!(duration(Duration::from_secs(7200)), "2h");
        assert_eq!(duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn what_acts_on_a_terminal_is_written_out() {
        assert_eq!(
            escape("plain text, ünïcode → ok"),
            "plain text, ünïcode → ok"
        );
        assert_eq!(
            escape("\x1b[31mred\x07\r\n\t\0\x7f"),
            r"\x1b[31mred\x07\r\n\t\x00\x7f"
        );
        assert_eq!(escape("\u{9b}2J\u{85}"), r"\u{9b}2J\u{85}");
        assert_eq!(
            escape("a\u{202e}b\u{2066}c\u{200f}d\u{61c}e\u{2028}f"),
            r"a\u{202e}b\u{2066}c\u{200f}d\u{61c}e\u{2028}f"
        );
        assert_eq!(escape(r#"{"a":"\u001b"}"#), r#"{"a":"\u001b"}"#);
        assert_eq!(escape_bytes(b"ok\xff\x1b\xc3"), r"ok\xff\x1b\xc3");
        assert_eq!(escape_bytes("é".as_bytes()), "é");
    }

    #[test]
    fn first_lines_are_cut() {
        assert_eq!(first_line("short", 10), "short");
        assert_eq!(first_line("abcdefghijkl", 5), "abcd…");
        assert_eq!(first_line("one\ntwo", 10), "one…");
    }
}
