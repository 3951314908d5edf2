//! AIM-XML 1.0 filings: the domain model, the streaming reader, the rules and the
//! acknowledgement document. Pure: no disk, clock or network; the filing day and the store's
//! answers are inputs.

pub mod ack;
pub mod checkdigit;
pub mod codes;
pub mod countries;
pub mod model;
pub mod parse;
pub mod rules;

use codes::{Code, Issue};
use rules::{FileContext, Ledger, Locator, Verdict, file_issue};

/// In-progress upload names are never read: a leading `.`, or a trailing `.part`, `.tmp`,
/// `.filepart` or `~`.
pub fn is_in_progress_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with(".part")
        || name.ends_with(".tmp")
        || name.ends_with(".filepart")
        || name.ends_with('~')
}

/// F011: the name must end in `.xml`, compared case-insensitively.
pub fn name_error(name: &str) -> Option<Issue> {
    let ok = name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|e| e.eq_ignore_ascii_case(".xml"));
    (!ok).then(|| {
        file_issue(
            Code::F011,
            "",
            None,
            format!(
                "file name {} does not end in .xml; only .xml files are filings",
                codes::quote(name)
            ),
        )
    })
}

/// F006: larger than the configured maximum.
pub fn size_error(len: u64, max: u64) -> Option<Issue> {
    (len > max).then(|| too_large(len, max))
}

fn too_large(len: u64, max: u64) -> Issue {
    file_issue(
        Code::F006,
        "",
        None,
        format!(
            "the file has {len} bytes, more than the {max} allowed; split it into several files"
        ),
    )
}

/// F012: not a regular file.
pub fn not_regular_error(kind: &str) -> Issue {
    file_issue(
        Code::F012,
        "",
        None,
        format!("a {kind} is not a regular file and is never opened; upload the filing itself"),
    )
}

fn f007(message: String) -> Issue {
    file_issue(Code::F007, "", None, message)
}

/// F007 checks and BOM removal: the document text, or the encoding error.
pub fn decode(bytes: &[u8]) -> Result<&str, Issue> {
    if bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || bytes.starts_with(&[0, 0, 0xFE, 0xFF])
    {
        return Err(f007(
            "the file starts with a UTF-16 or UTF-32 byte order mark; send it as UTF-8".into(),
        ));
    }
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if body.starts_with(&[0, b'<']) || body.starts_with(&[b'<', 0]) {
        return Err(f007("the file looks like UTF-16; send it as UTF-8".into()));
    }
    if let Some(enc) = declared_encoding(body)
        && !enc.eq_ignore_ascii_case(b"UTF-8")
    {
        return Err(f007(format!(
            "the XML declaration names encoding {}; only UTF-8 is accepted",
            codes::quote(&String::from_utf8_lossy(enc))
        )));
    }
    std::str::from_utf8(body).map_err(|e| {
        f007(format!(
            "byte {} of the file is not valid UTF-8; send the file as UTF-8",
            e.valid_up_to() + 1 + (bytes.len() - body.len())
        ))
    })
}

/// The `encoding` pseudo-attribute of a leading XML declaration, if any.
fn declared_encoding(b: &[u8]) -> Option<&[u8]> {
    let rest = b.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    let end = memchr::memmem::find(rest, b"?>")?;
    let decl = &rest[..end];
    let at = memchr::memmem::find(decl, b"encoding")?;
    let mut r = &decl[at + 8..];
    r = r.trim_ascii_start();
    r = r.strip_prefix(b"=")?.trim_ascii_start();
    let q = *r.first()?;
    if q != b'"' && q != b'\'' {
        return None;
    }
    let close = memchr::memchr(q, &r[1..])?;
    Some(&r[1..1 + close])
}

/// Judge a file's bytes: everything from F007 on (the caller has done F012, F011 and F006).
pub fn check(
    bytes: &[u8],
    cx: &FileContext<'_>,
    ledger: &mut dyn Ledger,
) -> rules::LedgerResult<Verdict> {
    let text = match decode(bytes) {
        Ok(t) => t,
        Err(e) => return Ok(file_rejection(e)),
    };
    let raw = parse::read(
        text,
        parse::Limits {
            max_applications: cx.settings.max_applications,
        },
    );
    let loc = Locator::new(text);
    rules::judge(&raw, &loc, cx, ledger)
}

/// What reading a picked-up entry gave: the checks before the content need no more.
pub enum Input<'a> {
    Bytes(&'a [u8]),
    /// Larger than allowed; only its size is known.
    TooLarge(u64),
    /// Not a regular file (its kind, for the message); never opened for reading.
    NotRegular(&'a str),
}

/// Judge a picked-up file: F012, F011 and F006 in the spec's order, then its content.
pub fn check_input(
    name: &str,
    input: Input<'_>,
    max_bytes: u64,
    cx: &FileContext<'_>,
    ledger: &mut dyn Ledger,
) -> rules::LedgerResult<Verdict> {
    let bytes = match input {
        Input::NotRegular(kind) => return Ok(file_rejection(not_regular_error(kind))),
        Input::TooLarge(size) => {
            return Ok(file_rejection(
                name_error(name).unwrap_or_else(|| too_large(size, max_bytes)),
            ));
        }
        Input::Bytes(b) => b,
    };
    match name_error(name).or_else(|| size_error(bytes.len() as u64, max_bytes)) {
        Some(e) => Ok(file_rejection(e)),
        None => check(bytes, cx, ledger),
    }
}

/// A verdict that is only a file-level error (F006, F011, F012).
pub fn file_rejection(e: Issue) -> Verdict {
    Verdict {
        file_error: Some(e),
        sender_id: None,
        control_number: None,
        control_value: None,
        apps: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_progress_names() {
        for n in [".x.xml", "x.xml.part", "x.tmp", "x.filepart", "x.xml~"] {
            assert!(is_in_progress_name(n), "{n}");
        }
        assert!(!is_in_progress_name("x.xml"));
    }

    #[test]
    fn xml_extension() {
        assert!(name_error("a.xml").is_none());
        assert!(name_error("A.XML").is_none());
        assert_eq!(name_error("notes.txt").unwrap().code, Code::F011);
        assert_eq!(name_error(".xml").unwrap().code, Code::F011);
        assert_eq!(name_error("xml").unwrap().code, Code::F011);
    }

    #[test]
    fn file_checks_come_in_the_spec_order() {
        let settings = rules::RuleSettings {
            import_past_days: 15,
            max_applications: 10,
            watch_countries: Vec::new(),
            unit_value_outliers: false,
            apply_review: false,
        };
        let registered = |_: &str| true;
        let cx = FileContext {
            inbox_sender: "ACMEBRK",
            is_registered: &registered,
            filing_day: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            sha256: [0; 32],
            settings: &settings,
        };
        let code = |name: &str, input: Input<'_>| {
            check_input(name, input, 8, &cx, &mut rules::Offline)
                .expect("the offline ledger always answers")
                .file_error
                .map(|e| e.code)
        };
        // F012 before F011 before F006, then the content (F001 here).
        assert_eq!(code("x.txt", Input::NotRegular("FIFO")), Some(Code::F012));
        assert_eq!(code("x.txt", Input::TooLarge(100)), Some(Code::F011));
        assert_eq!(code("x.xml", Input::TooLarge(100)), Some(Code::F006));
        assert_eq!(code("x.xml", Input::Bytes(b"123456789")), Some(Code::F006));
        assert_eq!(code("x.xml", Input::Bytes(b"<a>")), Some(Code::F001));
    }

    #[test]
    fn encodings() {
        assert!(decode(b"\xEF\xBB\xBF<a/>").is_ok_and(|t| t == "<a/>"));
        assert!(decode(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>").is_ok());
        assert!(decode(b"<?xml version=\"1.0\" encoding='UTF-8'?><a/>").is_ok());
        for bad in [
            &b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"[..],
            b"\xFF\xFE<\x00a\x00/\x00>\x00",
            b"\xFE\xFF\x00<\x00a",
            b"\x00\x00\xFE\xFF",
            b"<a>\xE9</a>",
            b"<\x00a\x00",
        ] {
            assert_eq!(decode(bad).unwrap_err().code, Code::F007, "{bad:?}");
        }
    }
}
