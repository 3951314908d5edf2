//! The one gate between filing-derived text and the terminal: every string that came from a
//! filing (names, file names, values, ack XML, error messages quoting input) is passed
//! through [`clean`] in render, so no file can move the cursor, clear the screen, set the
//! terminal title or reorder what is shown.

/// Control characters (C0, DEL, C1, tab) become a space, as [`crate::filing::codes::sanitize`]
/// does for logs; bidirectional overrides and isolates become `?` (they would make the screen
/// read differently from the data).
pub fn clean(s: &str) -> String {
    crate::filing::codes::sanitize(s)
        .chars()
        .map(|c| match c {
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_escape_sequence_survives() {
        let hostile = "a\x1b[2J\x1b]0;owned\x07b\r\n\u{9b}c\u{202e}d\te";
        let c = clean(hostile);
        assert!(!c.chars().any(|ch| ch.is_control()), "{c:?}");
        assert_eq!(c, "a [2J ]0;owned b   c?d e");
    }
}
