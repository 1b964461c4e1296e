//! An entry and the rules a new one must follow (the specification's
//! "Validation", the same for the form and the JSON API).

use alloc::string::String;
use oasis_store::Record;

/// A guestbook entry, as stored: the id is the key (1, 2, 3… in the order
/// entries are stored), the name is indexed (exact-name search, newest
/// first), `created` is Unix seconds (0 without a wall clock).
#[derive(Record, serde::Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1, 2, 3…
    #[key]
    pub id: u64,
    /// Who wrote it: 1 to 64 characters, no control characters.
    #[index]
    pub name: String,
    /// What they wrote: 1 to 2000 characters; `\n` and `\t` the only
    /// control characters.
    pub message: String,
    /// When it was stored, in seconds since the Unix epoch.
    pub created: u64,
}

/// Longest name, in characters (Unicode scalar values).
pub const NAME_MAX: usize = 64;
/// Longest message, in characters.
pub const MESSAGE_MAX: usize = 2000;

/// The whitespace trimmed from both ends (PHP's `trim` set, which the PHP
/// twin uses: space, tab, newline, carriage return, NUL, vertical tab).
fn trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b'))
}

/// `name` cleaned (trimmed), or why it is refused (`name: …`).
pub fn clean_name(name: &str) -> Result<String, &'static str> {
    let name = trim(name);
    if name.is_empty() {
        return Err("name: required (1 to 64 characters)");
    }
    if name.chars().count() > NAME_MAX {
        return Err("name: longer than 64 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("name: control characters are not allowed");
    }
    Ok(String::from(name))
}

/// `message` cleaned (`\r\n` made `\n`, then trimmed), or why it is
/// refused (`message: …`).
pub fn clean_message(message: &str) -> Result<String, &'static str> {
    let unified;
    let message = if message.contains("\r\n") {
        unified = message.replace("\r\n", "\n");
        trim(&unified)
    } else {
        trim(message)
    };
    if message.is_empty() {
        return Err("message: required (1 to 2000 characters)");
    }
    if message.chars().count() > MESSAGE_MAX {
        return Err("message: longer than 2000 characters");
    }
    if message
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("message: control characters other than newline and tab are not allowed");
    }
    Ok(String::from(message))
}

/// A new entry's name and message, both cleaned, or the first refusal.
pub fn clean(name: &str, message: &str) -> Result<(String, String), &'static str> {
    Ok((clean_name(name)?, clean_message(message)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn trims_and_counts_characters_not_bytes() {
        assert_eq!(clean_name("  Jürg \t").unwrap(), "Jürg");
        assert_eq!(clean_name(&"é".repeat(64)).unwrap(), "é".repeat(64));
        assert!(
            clean_name(&"é".repeat(65))
                .unwrap_err()
                .starts_with("name:")
        );
        assert!(
            clean_name(" \n ")
                .unwrap_err()
                .starts_with("name: required")
        );
        assert!(clean_name("a\u{7}b").unwrap_err().contains("control"));
        assert!(clean_name("a\nb").unwrap_err().contains("control"));
        assert!(clean_name("a\u{85}b").unwrap_err().contains("control"));
    }

    #[test]
    fn messages_keep_newlines_and_tabs_and_lose_carriage_returns() {
        assert_eq!(clean_message("a\r\nb\tc\n").unwrap(), "a\nb\tc");
        assert!(clean_message("a\rb").unwrap_err().contains("control"));
        assert!(clean_message("a\u{0}b").unwrap_err().contains("control"));
        assert_eq!(clean_message(&"x".repeat(2000)).unwrap().len(), 2000);
        assert!(
            clean_message(&"x".repeat(2001))
                .unwrap_err()
                .contains("longer")
        );
        assert!(
            clean_message("")
                .unwrap_err()
                .starts_with("message: required")
        );
        assert_eq!(
            clean("n", "").unwrap_err().split(':').next(),
            Some("message")
        );
        assert_eq!(clean("", "").unwrap_err().split(':').next(), Some("name"));
    }

    proptest! {
        #[test]
        fn whatever_is_accepted_follows_the_rules(name in ".{0,80}", message in "(?s).{0,40}") {
            if let Ok(n) = clean_name(&name) {
                prop_assert!((1..=NAME_MAX).contains(&n.chars().count()));
                prop_assert!(!n.chars().any(char::is_control));
                prop_assert_eq!(n.to_string(), trim(&n).to_string());
            }
            if let Ok(m) = clean_message(&message) {
                prop_assert!((1..=MESSAGE_MAX).contains(&m.chars().count()));
                prop_assert!(!m.contains('\r'));
                prop_assert!(!m.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
            }
        }
    }
}
