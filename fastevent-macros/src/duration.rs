//! Durations written in listener options (`timeout = "30s"`), parsed at
//! compile time so a typo is an error on the user's literal, not at run time.

const EXAMPLES: &str = "like \"500ms\", \"30s\", \"5m\" or \"1h\"";

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"` into milliseconds.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "\"{text}\" is not a duration: write a whole number and a unit, {EXAMPLES}"
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "\"{text}\" has no unit: write \"{digits}s\" for seconds, or use ms, m or h"
        ));
    }
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            let hint = match unit_meant(other) {
                Some(meant) => format!("write \"{digits}{meant}\""),
                None => format!("write a whole number and a unit, {EXAMPLES}"),
            };
            return Err(format!(
                "\"{text}\" is not a duration: unknown unit `{}`; {hint} (units: ms, s, m, h)",
                other.trim()
            ));
        }
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("\"{text}\" is too large for a duration"))?;
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("\"{text}\" is too large for a duration"))
}

/// The unit a spelled-out or spaced unit (`" minutes"`, `"sec"`) stands for.
fn unit_meant(unit: &str) -> Option<&'static str> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => Some("ms"),
        "s" | "sec" | "secs" | "second" | "seconds" => Some("s"),
        "m" | "min" | "mins" | "minute" | "minutes" => Some("m"),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some("h"),
        _ => None,
    }
}

/// Milliseconds in the largest unit that keeps them whole: `60000` -> `1m`.
pub(crate) fn display(millis: u64) -> String {
    [(3_600_000, "h"), (60_000, "m"), (1_000, "s")]
        .into_iter()
        .find(|&(factor, _)| millis > 0 && millis / factor * factor == millis)
        .map_or_else(
            || format!("{millis}ms"),
            |(factor, unit)| format!("{}{unit}", millis / factor),
        )
}

#[cfg(test)]
mod tests {
    use super::{display, parse_millis};

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("5m"), Ok(300_000));
        assert_eq!(parse_millis("1h"), Ok(3_600_000));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert!(parse_millis("30").unwrap_err().contains("write \"30s\""));
        assert!(parse_millis("s").unwrap_err().contains("not a duration"));
        assert!(parse_millis("").unwrap_err().contains("not a duration"));
        assert!(
            parse_millis("3 days")
                .unwrap_err()
                .contains("unknown unit `days`")
        );
        assert!(
            parse_millis("5 minutes")
                .unwrap_err()
                .contains("write \"5m\"")
        );
        assert!(
            parse_millis("1.5s")
                .unwrap_err()
                .contains("unknown unit `.5s`")
        );
        assert!(
            parse_millis("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_millis("99999999999999999h")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(display(0), "0ms");
        assert_eq!(display(250), "250ms");
        assert_eq!(display(30_000), "30s");
        assert_eq!(display(90_000), "90s");
        assert_eq!(display(60_000), "1m");
        assert_eq!(display(7_200_000), "2h");
    }
}
