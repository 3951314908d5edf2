//! Figures as people read them, the same on every screen, page and command: thousands grouped.

/// A decimal as text with its thousands grouped: `181439.51` → `181,439.51`. Anything that is
/// not a plain decimal (`(D)`, empty) is returned as it is.
pub fn grouped(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_owned();
    }
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn thousands_are_grouped_and_anything_else_kept() {
        assert_eq!(grouped("181439.51"), "181,439.51");
        assert_eq!(grouped("-1234567.891"), "-1,234,567.891");
        assert_eq!(grouped("999"), "999");
        assert_eq!(grouped("1000"), "1,000");
        assert_eq!(grouped("(D)"), "(D)");
        assert_eq!(grouped(""), "");
    }
}
