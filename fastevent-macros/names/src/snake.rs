//! From a type's name to the names registered for it: `NewChatEvent` ->
//! `new_chat`, `GenerateChatTitle` -> `generate_chat_title`.
//!
//! The conversion is the common two-pattern one (insert `_` at
//! `(.)([A-Z][a-z]+)`, then at `([a-z0-9])([A-Z])`, then lower-case), so a
//! name is what other tools and languages derive from the same type name.
//! It must never change: a registered name is stored in queued jobs and
//! failed-job records, and a renamed event would orphan them.

/// The snake case of a type name: insert `_` before an upper case letter
/// that starts a lower case run (`(.)([A-Z][a-z]+)`), then between a lower
/// case letter or digit and an upper case letter (`([a-z0-9])([A-Z])`),
/// then lower-case everything. `HTTPServer` -> `http_server`,
/// `Send2FACode` -> `send2_fa_code`.
///
/// ```
/// assert_eq!(fastevent_names::snake_case("GenerateChatTitle"), "generate_chat_title");
/// ```
pub fn snake_case(name: &str) -> String {
    underscore_between_lower_and_upper(&underscore_before_words(name)).to_lowercase()
}

/// `(.)([A-Z][a-z]+)` -> `\1_\2`. Matches do not overlap, so after a match
/// the scan resumes behind the lower case run it consumed.
fn underscore_before_words(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i + 2 < chars.len()
            && chars[i + 1].is_ascii_uppercase()
            && chars[i + 2].is_ascii_lowercase();
        out.push(chars[i]);
        if !starts_word {
            i += 1;
            continue;
        }
        out.push('_');
        out.push(chars[i + 1]);
        let mut j = i + 2;
        while j < chars.len() && chars[j].is_ascii_lowercase() {
            out.push(chars[j]);
            j += 1;
        }
        i = j;
    }
    out
}

/// `([a-z0-9])([A-Z])` -> `\1_\2`.
fn underscore_between_lower_and_upper(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    for (k, c) in chars.iter().enumerate() {
        out.push(*c);
        if (c.is_ascii_lowercase() || c.is_ascii_digit())
            && chars.get(k + 1).is_some_and(|n| n.is_ascii_uppercase())
        {
            out.push('_');
        }
    }
    out
}

/// The default registered name of an event type: its snake case, with one
/// exact trailing `_event` removed (`UserEventEvent` -> `user_event`), but
/// never down to nothing (`Event` -> `event`).
///
/// ```
/// assert_eq!(fastevent_names::event_name("NewChatEvent"), "new_chat");
/// ```
pub fn event_name(type_name: &str) -> String {
    let snake = snake_case(type_name);
    match snake.strip_suffix("_event") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => snake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_drop_one_trailing_event() {
        for (ty, name) in [
            ("NewUserRegisteredEvent", "new_user_registered"),
            ("NewUserMessage", "new_user_message"),
            ("HTTPRequestEvent", "http_request"),
            ("UserEventEvent", "user_event"),
            ("OrderV2Event", "order_v2"),
            ("Event", "event"),
            ("Eventful", "eventful"),
            ("NewChatEvent", "new_chat"),
        ] {
            assert_eq!(event_name(ty), name, "event name of {ty}");
        }
    }

    #[test]
    fn snake_case_splits_words_acronyms_and_digits() {
        for (ty, name) in [
            ("GenerateChatTitle", "generate_chat_title"),
            ("HTTPServer", "http_server"),
            ("Send2FACode", "send2_fa_code"),
            ("SendEmailListener", "send_email_listener"),
            ("already_snake", "already_snake"),
            ("A", "a"),
            ("", ""),
            ("ABC", "abc"),
            ("getHTTPResponseCode", "get_http_response_code"),
        ] {
            assert_eq!(snake_case(ty), name, "snake case of {ty}");
        }
    }
}
