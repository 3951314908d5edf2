//! CBP's modulus-10 check digit, shared by entry numbers and license numbers (spec section 2).

/// Digit value of an entry-number character: digits as they are, letters A–I → 1–9,
/// J–R → 1–9, S–Z → 2–9. `None` for anything else.
fn char_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'I' => Some(u32::from(c - b'A') + 1),
        b'J'..=b'R' => Some(u32::from(c - b'J') + 1),
        b'S'..=b'Z' => Some(u32::from(c - b'S') + 2),
        _ => None,
    }
}

/// Check digit over `chars`: odd positions (1-based) added as they are, even positions doubled
/// (minus 9 where the double exceeds 9); check = (10 − sum mod 10) mod 10.
pub fn mod10(chars: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in chars.iter().enumerate() {
        let v = char_value(c)?;
        let v = if i % 2 == 1 {
            let d = v * 2;
            if d > 9 { d - 9 } else { d }
        } else {
            v
        };
        sum += v;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_number_examples_from_the_spec() {
        assert_eq!(mod10(b"ABC1234567"), Some(6));
        assert_eq!(mod10(b"9999999999"), Some(0));
    }

    #[test]
    fn license_number_examples_from_the_spec() {
        assert_eq!(mod10(b"20260000017"), Some(4));
        assert_eq!(mod10(b"20260000123"), Some(5));
        assert_eq!(mod10(b"20269999999"), Some(0));
    }

    #[test]
    fn letters_map_in_three_runs() {
        // A..I, J..R → 1..9; S..Z → 2..9: equal values give equal digits.
        assert_eq!(mod10(b"A"), mod10(b"1"));
        assert_eq!(mod10(b"J"), mod10(b"1"));
        assert_eq!(mod10(b"S"), mod10(b"2"));
        assert_eq!(mod10(b"Z"), mod10(b"9"));
        assert_eq!(mod10(b"a"), None);
    }
}
