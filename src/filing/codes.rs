//! Error and warning codes of AIM-XML 1.0 (spec section 3) and the issue record that carries them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every code the daemon can answer with. `F…` reject a whole file, `A…` one application,
/// `W…` are warnings that never block a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Code {
    F001,
    F002,
    F003,
    F004,
    F005,
    F006,
    F007,
    F008,
    F009,
    F010,
    F011,
    F012,
    A101,
    A102,
    A103,
    A201,
    A202,
    A203,
    A204,
    A205,
    A301,
    A310,
    A311,
    A312,
    A313,
    A320,
    A321,
    A322,
    A330,
    A401,
    A402,
    A403,
    W301,
    W310,
    /// A reviewer rejected a held application (spec section 6); the message is the reason.
    R590,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            F001 => "F001",
            F002 => "F002",
            F003 => "F003",
            F004 => "F004",
            F005 => "F005",
            F006 => "F006",
            F007 => "F007",
            F008 => "F008",
            F009 => "F009",
            F010 => "F010",
            F011 => "F011",
            F012 => "F012",
            A101 => "A101",
            A102 => "A102",
            A103 => "A103",
            A201 => "A201",
            A202 => "A202",
            A203 => "A203",
            A204 => "A204",
            A205 => "A205",
            A301 => "A301",
            A310 => "A310",
            A311 => "A311",
            A312 => "A312",
            A313 => "A313",
            A320 => "A320",
            A321 => "A321",
            A322 => "A322",
            A330 => "A330",
            A401 => "A401",
            A402 => "A402",
            A403 => "A403",
            W301 => "W301",
            W310 => "W310",
            R590 => "R590",
        }
    }

    /// What the code means, in one line (spec section 3), for staff screens.
    pub fn meaning(self) -> &'static str {
        use Code::*;
        match self {
            F001 => "not well-formed XML",
            F002 => "wrong root element, namespace or version",
            F003 => "SenderId is not a registered partner",
            F004 => "SenderId is not the partner of the inbox folder",
            F005 => "ControlNumber already used by this sender for other content",
            F006 => "file larger than the configured maximum",
            F007 => "not UTF-8, or another encoding declared",
            F008 => "a DOCTYPE, entity declaration or processing instruction",
            F009 => "no Application, or more than the configured maximum",
            F010 => "Interchange missing or one of its fields invalid",
            F011 => "file name does not end in .xml",
            F012 => "not a regular file",
            A101 => "unknown element or attribute",
            A102 => "required element or attribute missing",
            A103 => "element repeated where only one is allowed",
            A201 => "malformed value (type, length, list)",
            A202 => "country code not in ISO 3166-1 alpha-2",
            A203 => "control character in a value",
            A204 => "EntryNumber check digit wrong",
            A205 => "duplicate Application id or Product line in the file",
            A301 => "HTS number outside AIM scope",
            A310 => "UNKNOWN smelt country after 2022-06-28",
            A311 => "LargestSmelt NOT_APPLICABLE but SecondLargestSmelt is not",
            A312 => "SecondLargestSmelt same country as LargestSmelt",
            A313 => "MostRecentCast is not a country code",
            A320 => "ExpectedImportDate more than 60 days ahead",
            A321 => "ExpectedImportDate too far in the past",
            A322 => "ExpectedExportDate after ExpectedImportDate",
            A330 => "quantity or value zero, negative or too many digits",
            A401 => "license to correct or cancel not found for this sender",
            A402 => "license already cancelled",
            A403 => "license expired",
            W301 => "total value under USD 2,500 (informal entry)",
            W310 => "unit value far from the 90-day median of its HTS6",
            R590 => "rejected by a reviewer",
        }
    }

    /// The code named `s` (`A301`), if it is one.
    pub fn parse(s: &str) -> Option<Code> {
        use Code::*;
        [
            F001, F002, F003, F004, F005, F006, F007, F008, F009, F010, F011, F012, A101, A102,
            A103, A201, A202, A203, A204, A205, A301, A310, A311, A312, A313, A320, A321, A322,
            A330, A401, A402, A403, W301, W310, R590,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    pub fn is_warning(self) -> bool {
        matches!(self, Code::W301 | Code::W310)
    }

    pub fn is_file_level(self) -> bool {
        self.as_str().starts_with('F')
    }

    /// F006, F007, F011 and F012 are about the file as a whole: they carry no line or column.
    pub fn has_position(self) -> bool {
        !matches!(self, Code::F006 | Code::F007 | Code::F011 | Code::F012)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 1-based line and column (the column counted in characters) in the input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// One error or warning as it appears in an acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub code: Code,
    /// Field path such as `Application[A1]/Product[2]/Hts`; empty where none applies (F001).
    pub path: String,
    pub position: Option<Position>,
    /// What is wrong and what to do, free of control characters.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        if let Some(p) = self.position {
            write!(f, " (line {}, column {})", p.line, p.column)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Quote a value taken from a filing for a message: control characters replaced, long values
/// shortened, so that nothing from the file can reach a terminal or header unescaped.
pub fn quote(value: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::with_capacity(value.len().min(MAX) + 2);
    out.push('"');
    for (n, c) in value.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        out.push(if is_control(c) { '\u{FFFD}' } else { c });
    }
    out.push('"');
    out
}

/// The control characters the spec forbids in values (A203): U+0000–U+001F except tab,
/// and U+007F–U+009F.
pub fn is_control(c: char) -> bool {
    (c < '\u{20}' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// Replace every control character (tab included) by a space: for log lines and terminals.
pub fn sanitize(value: &str) -> String {
    value
        .chars()
        .map(|c| if is_control(c) || c == '\t' { ' ' } else { c })
        .collect()
}

/// The one-line meaning of any code an ack or a hold carries (`A301`, `R501`), if known.
pub fn meaning_of(code: &str) -> Option<&'static str> {
    Code::parse(code).map(Code::meaning).or(match code {
        "R501" => Some("held: a smelt country on the watch list"),
        "R502" => Some("held: the country of most recent cast on the watch list"),
        "R510" => Some("held: a unit value far from its HTS6 median"),
        _ => None,
    })
}
