//! Durations written in listener options (`timeout = "30s"`), parsed at
//! compile time so a typo is an error on the user's literal, not at run time.

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"` into milliseconds.
pub fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("`{text}` has no unit; write it like \"500ms\", \"30s\", \"5m\" or \"1h\"")
    })?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "`{text}` is not a duration; write it like \"500ms\", \"30s\", \"5m\" or \"1h\""
        ));
    }
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("`{digits}` is too large for a duration"))?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!(
                "unknown duration unit `{other}`; use one of ms, s, m, h"
            ));
        }
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large for a duration"))
}

#[cfg(test)]
mod tests {
    use super::parse_millis;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("5m"), Ok(300_000));
        assert_eq!(parse_millis("1h"), Ok(3_600_000));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert!(parse_millis("30").unwrap_err().contains("no unit"));
        assert!(parse_millis("s").unwrap_err().contains("not a duration"));
        assert!(
            parse_millis("3 days")
                .unwrap_err()
                .contains("unknown duration unit")
        );
        assert!(
            parse_millis("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
    }
}
