//! Name conversion, bit for bit the reference system's, so events keep the
//! names their users already know (`NewChatEvent` -> `new_chat`).

/// `pascal_case_to_snake_case` of the reference: insert `_` before an upper
/// case letter that starts a lower case run (`(.)([A-Z][a-z]+)`), then between
/// a lower case letter or digit and an upper case letter (`([a-z0-9])([A-Z])`),
/// then lower-case everything.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // Pass 1: `(.)([A-Z][a-z]+)` -> `\1_\2`. Matches do not overlap, so after a
    // match the scan resumes behind the lower case run it consumed.
    let mut first = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i + 2 < chars.len()
            && chars[i + 1].is_ascii_uppercase()
            && chars[i + 2].is_ascii_lowercase();
        first.push(chars[i]);
        if starts_word {
            first.push('_');
            let mut j = i + 1;
            first.push(chars[j]);
            j += 1;
            while j < chars.len() && chars[j].is_ascii_lowercase() {
                first.push(chars[j]);
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    // Pass 2: `([a-z0-9])([A-Z])` -> `\1_\2`.
    let chars: Vec<char> = first.chars().collect();
    let mut second = String::with_capacity(first.len() + 4);
    for (k, c) in chars.iter().enumerate() {
        second.push(*c);
        if (c.is_ascii_lowercase() || c.is_ascii_digit())
            && chars.get(k + 1).is_some_and(|n| n.is_ascii_uppercase())
        {
            second.push('_');
        }
    }
    second.to_lowercase()
}

/// The event name of the reference: snake case, then one exact trailing
/// `_event` removed (`UserEventEvent` -> `user_event`, `Event` -> `event`).
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
    fn event_names_match_the_reference() {
        // The verified examples of the reference inventory, item 2.
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
    fn snake_case_matches_the_reference() {
        for (ty, name) in [
            ("GenerateChatTitle", "generate_chat_title"),
            ("HTTPServer", "http_server"),
            ("Send2FACode", "send2_fa_code"),
            ("SendEmailListener", "send_email_listener"),
            ("already_snake", "already_snake"),
            ("A", "a"),
        ] {
            assert_eq!(snake_case(ty), name, "snake case of {ty}");
        }
    }
}
