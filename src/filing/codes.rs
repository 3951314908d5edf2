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
