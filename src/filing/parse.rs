//! Streaming reader of AIM-XML 1.0 documents into a raw, position-carrying tree.
//!
//! This layer owns well-formedness (F001, F008), the document's shape (F002, the structural
//! part of F010) and element-level application errors (A101 unknown, A103 repeated). Values are
//! kept as trimmed text with the byte offset of their first character; `rules` judges them.
//! It never allocates more than a constant factor of the input it has already read.
//!
//! Values are slices lent from the input (`Cow::Borrowed`); only a value with a reference
//! (`&amp;`) or, in an attribute, literal white space to normalise is owned. Paths of problems
//! are built only when a problem is kept, so reading a valid file allocates per application and
//! product (the lists that hold them), never per value or per path.

use super::codes::{Code, is_control, quote};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceError, NamespaceResolver, ResolveResult};
use quick_xml::reader::Reader as XmlReader;
use std::borrow::Cow;

/// The namespace of filings.
pub const FILING_NS: &str = "urn:aim:filing:1";

/// A value as read: trimmed of XML white space, references resolved, with the byte offset of
/// its first character (for an empty value: where it would have started).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text<'a> {
    pub value: Cow<'a, str>,
    pub offset: usize,
}

/// A label such as `Application[A-17]` or `Product[#3]`, held inline: the longest (an
/// application id of 35 characters) fits, so no label is a heap allocation.
#[derive(Clone, Copy)]
pub struct Label {
    buf: [u8; LABEL_MAX],
    len: u8,
}

const LABEL_MAX: usize = 56;

impl Label {
    /// `<kind>[<inner>]` or, with `hash`, `<kind>[#<inner>]`; `inner` is an application id
    /// (`[A-Za-z0-9_-]{1,35}`) or a number.
    fn new(kind: &str, hash: bool, inner: impl std::fmt::Display) -> Self {
        use std::io::Write;
        let mut buf = [0u8; LABEL_MAX];
        let mut w = &mut buf[..];
        let _ = if hash {
            write!(w, "{kind}[#{inner}]")
        } else {
            write!(w, "{kind}[{inner}]")
        };
        let len = LABEL_MAX - w.len();
        Self {
            buf,
            len: u8::try_from(len).unwrap_or(0),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl Default for Label {
    fn default() -> Self {
        Self {
            buf: [0; LABEL_MAX],
            len: 0,
        }
    }
}

impl std::ops::Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A file-level problem found while reading, with its byte offset where one applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    pub code: Code,
    pub path: String,
    pub offset: Option<usize>,
    pub message: String,
}

/// An element-level problem inside an application (A101, A103), fully located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    pub path: String,
    pub offset: usize,
    pub message: String,
}

#[derive(Clone, Debug, Default)]
pub struct RawInterchange<'a> {
    pub offset: usize,
    pub sender_id: Option<Text<'a>>,
    pub control_number: Option<Text<'a>>,
    pub created_at: Option<Text<'a>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawFiler<'a> {
    pub offset: usize,
    pub company: Option<Text<'a>>,
    pub street: Option<Text<'a>>,
    pub city: Option<Text<'a>>,
    pub state: Option<Text<'a>>,
    pub postal_code: Option<Text<'a>>,
    pub contact_name: Option<Text<'a>>,
    pub phone: Option<Text<'a>>,
    pub email: Option<Text<'a>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawProduct<'a> {
    /// 1-based position among the application's products.
    pub position: usize,
    pub offset: usize,
    pub line: Option<Text<'a>>,
    /// `Product[<line>]` or `Product[#<n>]`.
    pub label: Label,
    pub hts: Option<Text<'a>>,
    pub description: Option<Text<'a>>,
    pub largest_smelt: Option<Text<'a>>,
    pub second_smelt: Option<Text<'a>>,
    pub cast: Option<Text<'a>>,
    pub quantity: Option<Text<'a>>,
    pub value: Option<Text<'a>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawApp<'a> {
    /// 1-based position among the file's applications.
    pub position: usize,
    pub offset: usize,
    /// `Application[<id>]` or `Application[#<n>]`.
    pub label: Label,
    pub id: Option<Text<'a>>,
    pub action: Option<Text<'a>>,
    pub license: Option<Text<'a>>,
    pub filer: Option<RawFiler<'a>>,
    pub entry_type: Option<Text<'a>>,
    pub entry_number: Option<Text<'a>>,
    pub importer: Option<Text<'a>>,
    pub exporter: Option<Text<'a>>,
    pub manufacturers: Vec<Text<'a>>,
    pub origin: Option<Text<'a>>,
    pub export_country: Option<Text<'a>>,
    pub export_date: Option<Text<'a>>,
    pub import_date: Option<Text<'a>>,
    pub port: Option<Text<'a>>,
    pub products: Vec<RawProduct<'a>>,
    /// Set once a `Product` element was seen, even one beyond the limit.
    pub product_seen: bool,
    pub reason: Option<Text<'a>>,
    /// At most `rules::MAX_APP_ERRORS + 1` problems are kept; the rest are only counted, so
    /// an application of 200,000 unknown elements costs no more memory than one of 101.
    pub problems: Vec<Problem>,
    pub problems_unlisted: usize,
}

/// What reading a document yields.
#[derive(Debug, Default)]
pub struct RawFiling<'a> {
    /// The first file-level problem by the spec's priority among those found while reading:
    /// F008/F001 (first in the file), then F002, then F010.
    pub fatal: Option<FileProblem>,
    pub interchange: Option<RawInterchange<'a>>,
    pub apps: Vec<RawApp<'a>>,
    /// Number of `Application` elements, including those beyond `max_applications`.
    pub app_count: usize,
    /// Offset of the root start tag, and of the first `Application` beyond the limit.
    pub root_offset: usize,
    pub first_excess_offset: Option<usize>,
}

/// Limits applied while reading.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_applications: usize,
}

const MAX_MANUFACTURERS: usize = 10;
const MAX_PRODUCTS: usize = 999;

/// Reading stops at the first well-formedness failure.
struct Fatal(FileProblem);

type R<T> = Result<T, Fatal>;

fn wf(offset: usize, message: impl Into<String>) -> Fatal {
    Fatal(FileProblem {
        code: Code::F001,
        path: String::new(),
        offset: Some(offset),
        message: message.into(),
    })
}

/// XML 1.0 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn is_xml_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Offset of the first character XML 1.0 forbids in a document (raw C0 controls other than
/// tab, CR and LF; U+FFFE; U+FFFF).
fn first_forbidden_char(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    // Skip blocks of 32 bytes that hold no byte that could start one (a C0 control other than
    // tab, CR, LF, or 0xEF): a check without branches the compiler turns into vector code.
    let suspect = |c: u8| (c < 0x20 && c != b'\t' && c != b'\n' && c != b'\r') | (c == 0xEF);
    let mut i = 0;
    while i + 32 <= b.len() {
        if b[i..i + 32].iter().fold(false, |acc, &c| acc | suspect(c)) {
            break;
        }
        i += 32;
    }
    while i < b.len() {
        let c = b[i];
        if c < 0x20 && c != b'\t' && c != b'\n' && c != b'\r' {
            return Some(i);
        }
        if c == 0xEF
            && i + 2 < b.len()
            && b[i + 1] == 0xBF
            && (b[i + 2] == 0xBE || b[i + 2] == 0xBF)
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// One element start as the reader hands it on.
struct Start<'a> {
    bytes: BytesStart<'a>,
    /// Local name, when the element is in the filing namespace; `None` for foreign elements.
    local: Option<&'a str>,
    /// The name as written, for messages and paths.
    qname: &'a str,
    offset: usize,
    empty: bool,
}

enum Item<'a> {
    Start(Start<'a>),
    /// A piece of character data: text, a resolved reference or CDATA content.
    Text(TextPiece<'a>),
    End,
    Eof,
}

enum TextPiece<'a> {
    Str(&'a str, usize),
    Char(char, usize),
}

struct Reader<'a> {
    r: XmlReader<&'a [u8]>,
    /// Namespace scopes. Only elements that declare a namespace open a scope in the resolver
    /// (its nesting is limited to 65535), so the depth of the document is not limited: a
    /// deeply nested document is read to its end and answered by the rules, not refused.
    ns: NamespaceResolver,
    /// Depth of the element being read (open start tags).
    depth: usize,
    /// The depths of the open elements that opened a scope in `ns`.
    ns_scopes: Vec<usize>,
    /// The last event was an empty element that opened a scope: close it before the next.
    pop_empty: bool,
    /// Problems kept so far in all applications: the rules' bound on the errors of a file
    /// (`rules::MAX_FILE_ERRORS`) applied while reading, so that no more are kept than the
    /// ack can list (the rules keep at most as many, whatever value errors they add).
    kept_problems: usize,
    text: &'a str,
    base: usize,
    limits: Limits,
    /// The first F002 / F010 seen; reading goes on to find F001/F008 anywhere in the file.
    f002: Option<FileProblem>,
    f010: Option<FileProblem>,
    started: bool,
}

impl<'a> Reader<'a> {
    fn offset_of(&self, s: &str) -> usize {
        let p = s.as_ptr() as usize;
        if p >= self.base && p <= self.base + self.text.len() {
            p - self.base
        } else {
            self.pos()
        }
    }

    fn pos(&self) -> usize {
        usize::try_from(self.r.buffer_position()).unwrap_or(usize::MAX)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one match over quick-xml's events, each arm a few lines; split, the event flow is harder to follow"
    )]
    fn next(&mut self) -> R<Item<'a>> {
        loop {
            let before = self.pos();
            let first = !self.started;
            self.started = true;
            if self.pop_empty {
                self.ns.pop();
                self.pop_empty = false;
            }
            let ev = match self.r.read_event() {
                Ok(x) => x,
                Err(e) => {
                    let at = usize::try_from(self.r.error_position()).unwrap_or(before);
                    return Err(wf(
                        at,
                        format!("the XML is not well-formed: {}", clean(&e.to_string())),
                    ));
                }
            };
            let ns = self.scope(&ev, before)?;
            let in_ns = match ns {
                ResolveResult::Bound(n) => n.0 == FILING_NS,
                ResolveResult::Unbound => false,
                ResolveResult::Unknown(p) => {
                    return Err(wf(
                        before,
                        format!("namespace prefix {} is not declared", quote(&p)),
                    ));
                }
            };
            if let Event::Start(b) | Event::Empty(b) = &ev {
                let tag: &str = b;
                let tag_off = self.offset_of(tag);
                let name_len = b.name().0.len();
                check_tag(tag, name_len).map_err(|(rel, msg)| wf(tag_off + rel, msg))?;
                // A prefixed attribute needs its prefix declared, like an element.
                if tag[name_len..].contains(':') {
                    for a in b.attributes().with_checks(false).flatten() {
                        if a.key.0.contains(':')
                            && !a.key.0.starts_with("xmlns:")
                            && let (ResolveResult::Unknown(p), _) = self.ns.resolve_attribute(a.key)
                        {
                            return Err(wf(
                                tag_off,
                                format!("namespace prefix {} is not declared", quote(&p)),
                            ));
                        }
                    }
                }
            }
            return Ok(match ev {
                Event::Start(bytes) => self.start(bytes, in_ns, false),
                Event::Empty(bytes) => self.start(bytes, in_ns, true),
                Event::End(_) => Item::End,
                Event::Eof => Item::Eof,
                Event::Text(t) => {
                    let s = match t.into_inner() {
                        std::borrow::Cow::Borrowed(s) => s,
                        // The slice reader hands out borrowed text; anything else is a reader bug
                        // we answer as not readable rather than guess.
                        std::borrow::Cow::Owned(_) => return Err(wf(before, "unreadable text")),
                    };
                    let off = self.offset_of(s);
                    if let Some(i) = memchr::memmem::find(s.as_bytes(), b"]]>") {
                        return Err(wf(off + i, "\"]]>\" is not allowed in text; write ]]&gt;"));
                    }
                    Item::Text(TextPiece::Str(s, off))
                }
                Event::CData(c) => {
                    let s = match c.into_inner() {
                        std::borrow::Cow::Borrowed(s) => s,
                        std::borrow::Cow::Owned(_) => return Err(wf(before, "unreadable CDATA")),
                    };
                    let off = self.offset_of(s);
                    Item::Text(TextPiece::Str(s, off))
                }
                Event::GeneralRef(r) => {
                    let name: &str = &r;
                    let off = self.offset_of(name).saturating_sub(1);
                    let c = match name {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ if r.is_char_ref() => match r.resolve_char_ref() {
                            Ok(Some(c)) if is_xml_char(c) => c,
                            _ => {
                                return Err(wf(
                                    off,
                                    format!(
                                        "character reference &{}; is not an XML 1.0 character",
                                        clean(name)
                                    ),
                                ));
                            }
                        },
                        _ => {
                            return Err(wf(
                                off,
                                format!("entity &{}; is not defined", clean(name)),
                            ));
                        }
                    };
                    Item::Text(TextPiece::Char(c, off))
                }
                Event::Comment(_) => continue,
                Event::Decl(d) => {
                    if !first {
                        return Err(wf(
                            before,
                            "the XML declaration must be the first thing in the file",
                        ));
                    }
                    match d.version() {
                        Ok(v) if &*v == "1.0" => {}
                        _ => {
                            return Err(wf(before, "the XML declaration must say version=\"1.0\""));
                        }
                    }
                    if let Err(msg) = check_decl(&d) {
                        return Err(wf(before, msg));
                    }
                    continue;
                }
                Event::PI(_) => {
                    return Err(Fatal(FileProblem {
                        code: Code::F008,
                        path: String::new(),
                        offset: Some(before),
                        message: "processing instructions are not allowed; remove it".into(),
                    }));
                }
                Event::DocType(_) => {
                    return Err(Fatal(FileProblem {
                        code: Code::F008,
                        path: String::new(),
                        offset: Some(before),
                        message: "a DOCTYPE or entity declaration is not allowed; remove it".into(),
                    }));
                }
            });
        }
    }

    /// Open or close the namespace scope of an element event, and resolve a start tag's
    /// namespace (other events: unbound).
    fn scope(&mut self, ev: &Event<'a>, before: usize) -> R<ResolveResult<'_>> {
        match ev {
            Event::Start(b) | Event::Empty(b) => {
                let declares = b
                    .attributes()
                    .with_checks(false)
                    .any(|a| a.is_ok_and(|a| a.key.as_namespace_binding().is_some()));
                if declares {
                    self.ns.push(b).map_err(|e| {
                        let msg = match e {
                            NamespaceError::TooManyBindings(n) => format!(
                                "more than {n} namespace declarations are in scope here; declare {FILING_NS} once, on LicenseFiling"
                            ),
                            NamespaceError::TooDeeplyNested(n) => format!(
                                "more than {n} nested elements declare a namespace; declare {FILING_NS} once, on LicenseFiling"
                            ),
                            e => format!("the XML is not well-formed: {}", clean(&e.to_string())),
                        };
                        wf(before, msg)
                    })?;
                    if matches!(ev, Event::Start(_)) {
                        self.ns_scopes.push(self.depth);
                    } else {
                        self.pop_empty = true;
                    }
                }
                if matches!(ev, Event::Start(_)) {
                    self.depth += 1;
                }
                Ok(self.ns.resolve_element(b.name()).0)
            }
            Event::End(_) => {
                self.depth = self.depth.saturating_sub(1);
                if self.ns_scopes.last() == Some(&self.depth) {
                    self.ns_scopes.pop();
                    self.ns.pop();
                }
                Ok(ResolveResult::Unbound)
            }
            _ => Ok(ResolveResult::Unbound),
        }
    }

    fn start(&self, bytes: BytesStart<'a>, in_ns: bool, empty: bool) -> Item<'a> {
        let (offset, qname, local) = {
            let name = bytes.name();
            let q: &str = name.0;
            let q: &'a str = in_input(q, self.text, self.base);
            let l = match q.find(':') {
                Some(i) => &q[i + 1..],
                None => q,
            };
            (self.offset_of(q).saturating_sub(1), q, l)
        };
        Item::Start(Start {
            bytes,
            local: in_ns.then_some(local),
            qname,
            offset,
            empty,
        })
    }

    /// Skip the rest of an element whose start was read (still checking well-formedness).
    fn skip(&mut self, s: &Start<'a>) -> R<()> {
        if s.empty {
            return Ok(());
        }
        let mut depth = 1usize;
        loop {
            match self.next()? {
                Item::Start(c) if !c.empty => depth += 1,
                Item::End => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Item::Eof => return Err(self.eof_inside(s.qname)),
                _ => {}
            }
        }
    }

    fn eof_inside(&self, name: &str) -> Fatal {
        wf(
            self.text.len(),
            format!("the file ends before <{}> is closed", clean(name)),
        )
    }

    /// Attributes other than namespace declarations, as (name as written, local name if
    /// unprefixed, value, offset of the value's first character after trimming), collected;
    /// for the root and Interchange, once a file.
    fn attribute_list(&self, s: &Start<'a>) -> R<Vec<(&'a str, bool, Text<'a>)>> {
        let mut out = Vec::new();
        self.attributes(s, |k, u, t| out.push((k, u, t)))?;
        Ok(out)
    }

    /// Each attribute other than a namespace declaration, handed to `each` as (name as
    /// written, whether it is unprefixed, value, offset of the value's first character after
    /// trimming): nothing is collected.
    fn attributes(&self, s: &Start<'a>, mut each: impl FnMut(&'a str, bool, Text<'a>)) -> R<()> {
        for a in s.bytes.attributes() {
            let a = a.map_err(|e| {
                wf(
                    s.offset,
                    format!("bad attribute: {}", clean(&e.to_string())),
                )
            })?;
            let key: &str = a.key.0;
            let key: &'a str = in_input(key, self.text, self.base);
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let raw: &str = &a.value;
            let raw: &'a str = in_input(raw, self.text, self.base);
            let raw_off = self.offset_of(raw);
            let value = unescape_attr(raw).map_err(|(rel, msg)| wf(raw_off + rel, msg))?;
            let lead = raw.len() - raw.trim_start_matches(is_xml_ws).len();
            let unprefixed = !key.contains(':');
            each(
                key,
                unprefixed,
                Text {
                    value: trim_cow(value),
                    offset: raw_off + lead,
                },
            );
        }
        Ok(())
    }

    /// Read the text content of a leaf element. Child elements are reported through `child`
    /// (name as written, offset) and skipped.
    fn leaf(&mut self, s: &Start<'a>, mut child: impl FnMut(&'a str, usize)) -> R<Text<'a>> {
        if s.empty {
            return Ok(Text {
                value: Cow::Borrowed(""),
                offset: s.offset,
            });
        }
        let content_start = self.pos();
        // Fast path: one borrowed text piece, the usual case. `buf` once pieces must be joined.
        let mut first: Option<&'a str> = None;
        let mut buf: Option<String> = None;
        let mut value_start: Option<usize> = None;
        loop {
            match self.next()? {
                Item::Text(p) => {
                    if value_start.is_none() {
                        value_start = match p {
                            TextPiece::Str(t, o) => {
                                let lead = t.len() - t.trim_start_matches(is_xml_ws).len();
                                (lead < t.len()).then_some(o + lead)
                            }
                            TextPiece::Char(c, o) => (!is_xml_ws(c)).then_some(o),
                        };
                    }
                    match (&mut buf, first, p) {
                        (None, None, TextPiece::Str(t, _)) => first = Some(t),
                        (b, f, p) => {
                            let b = b.get_or_insert_with(|| f.unwrap_or("").to_owned());
                            match p {
                                TextPiece::Str(t, _) => b.push_str(t),
                                TextPiece::Char(c, _) => b.push(c),
                            }
                        }
                    }
                }
                Item::Start(c) => {
                    child(c.qname, c.offset);
                    self.skip(&c)?;
                }
                Item::End => break,
                Item::Eof => return Err(self.eof_inside(s.qname)),
            }
        }
        let value = trim_cow(match buf {
            Some(b) => Cow::Owned(b),
            None => Cow::Borrowed(first.unwrap_or("")),
        });
        let offset = if value.is_empty() {
            content_start
        } else {
            value_start.unwrap_or(content_start)
        };
        Ok(Text { value, offset })
    }

    fn record_f002(&mut self, offset: usize, message: String) {
        if self.f002.is_none() {
            self.f002 = Some(FileProblem {
                code: Code::F002,
                path: String::new(),
                offset: Some(offset),
                message,
            });
        }
    }

    fn record_f010(&mut self, path: &str, offset: usize, message: String) {
        if self.f010.is_none() {
            self.f010 = Some(FileProblem {
                code: Code::F010,
                path: path.to_owned(),
                offset: Some(offset),
                message,
            });
        }
    }
}

/// Trim XML white space, keeping a lent value lent and an owned one owned (re-allocated only
/// when there was white space to cut).
fn trim_cow(v: Cow<'_, str>) -> Cow<'_, str> {
    match v {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim_matches(is_xml_ws)),
        Cow::Owned(o) => {
            let t = o.trim_matches(is_xml_ws);
            if t.len() == o.len() {
                Cow::Owned(o)
            } else {
                Cow::Owned(t.to_owned())
            }
        }
    }
}

fn piece_offset(p: &TextPiece<'_>) -> usize {
    match p {
        TextPiece::Str(_, o) | TextPiece::Char(_, o) => *o,
    }
}

/// The names quick-xml hands out are slices of the input; re-borrow them for the input's
/// lifetime by locating them in it (a range lookup, no unsafe code).
fn in_input<'a>(s: &str, text: &'a str, base: usize) -> &'a str {
    let p = s.as_ptr() as usize;
    if p >= base && p + s.len() <= base + text.len() {
        let start = p - base;
        text.get(start..start + s.len()).unwrap_or("")
    } else {
        // Not borrowed from the input (never for the slice reader): fall back to a static
        // placeholder rather than panic.
        ""
    }
}

/// Resolve references in an attribute value and normalize literal white space to spaces:
/// the value itself when there is nothing to resolve or normalise. Errors carry the offset
/// within the raw value.
fn unescape_attr(raw: &str) -> Result<Cow<'_, str>, (usize, String)> {
    if memchr::memchr3(b'&', b'<', b'\t', raw.as_bytes()).is_none()
        && memchr::memchr2(b'\n', b'\r', raw.as_bytes()).is_none()
    {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let b = raw.as_bytes();
    while i < b.len() {
        match b[i] {
            b'&' => {
                let end = raw[i..].find(';').map(|e| i + e).ok_or((
                    i,
                    "an '&' in an attribute value must be written &amp;".to_string(),
                ))?;
                let name = &raw[i + 1..end];
                let c = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        // No sign: `str::parse` and `from_str_radix` would take a '+'.
                        let n = if let Some(h) = name.strip_prefix("#x") {
                            u32::from_str_radix(h, 16)
                                .ok()
                                .filter(|_| !h.starts_with('+'))
                        } else if let Some(d) = name.strip_prefix('#') {
                            d.parse::<u32>().ok().filter(|_| !d.starts_with('+'))
                        } else {
                            return Err((i, format!("entity &{}; is not defined", clean(name))));
                        };
                        match n.and_then(char::from_u32) {
                            Some(c) if is_xml_char(c) => c,
                            _ => {
                                return Err((
                                    i,
                                    format!(
                                        "character reference &{}; is not an XML 1.0 character",
                                        clean(name)
                                    ),
                                ));
                            }
                        }
                    }
                };
                out.push(c);
                i = end + 1;
            }
            b'<' => return Err((i, "'<' is not allowed in an attribute value".into())),
            b'\t' | b'\n' | b'\r' => {
                out.push(' ');
                i += 1;
            }
            _ => {
                let next = raw[i..]
                    .find(['&', '<', '\t', '\n', '\r'])
                    .map_or(b.len(), |e| i + e);
                out.push_str(&raw[i..next]);
                i = next;
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// XML 1.0 `NameStartChar`.
fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 `Name`.
fn is_name(s: &str) -> bool {
    // ASCII names, the usual case, without decoding characters.
    let b = s.as_bytes();
    if b.is_ascii() {
        return b
            .first()
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.'));
    }
    let mut cs = s.chars();
    cs.next().is_some_and(is_name_start)
        && cs.all(|c| {
            is_name_start(c)
                || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}'
                    | '\u{203F}'..='\u{2040}')
        })
}

/// Well-formedness of a start tag beyond what the reader checks (XML 1.0 section 3.1), for
/// every start tag, also of elements that are skipped: the element and attribute names are
/// XML names, attributes are separated by white space, each has `=` and a quoted value holding
/// no `<` and only well-formed references, and none is repeated. `tag` is the text between `<`
/// and `>` (or `/>`); errors carry a byte offset into it.
#[allow(
    clippy::too_many_lines,
    reason = "one pass over a tag's bytes as a small state machine"
)]
fn check_tag(tag: &str, name_len: usize) -> Result<(), (usize, String)> {
    let name = tag.get(..name_len).unwrap_or(tag);
    if !is_name(name) {
        return Err((0, format!("{} is not an XML element name", quote(name))));
    }
    let b = tag.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    // The attribute names seen, to find a repeated one; a start tag rarely has more than a
    // few, held without allocating.
    let mut few: [&str; 8] = [""; 8];
    let mut count = 0usize;
    let mut more: Vec<&str> = Vec::new();
    let mut i = name_len;
    loop {
        let gap = i;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        if i == gap {
            return Err((i, "attributes must be separated by white space".into()));
        }
        let start = i;
        while i < b.len() && !ws(b[i]) && b[i] != b'=' {
            i += 1;
        }
        let key = &tag[start..i];
        if !is_name(key) {
            return Err((start, format!("{} is not an attribute name", quote(key))));
        }
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err((start, format!("attribute {} has no value", quote(key))));
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        let q = match b.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => q,
            _ => {
                return Err((
                    i,
                    format!("the value of attribute {} must be quoted", quote(key)),
                ));
            }
        };
        let Some(len) = memchr::memchr(q, &b[i + 1..]) else {
            return Err((
                i,
                format!("the value of attribute {} is not closed", quote(key)),
            ));
        };
        let value = &tag[i + 1..i + 1 + len];
        if memchr::memchr2(b'&', b'<', value.as_bytes()).is_some() {
            unescape_attr(value).map_err(|(rel, msg)| (i + 1 + rel, msg))?;
        }
        if count < few.len() {
            few[count] = key;
        } else {
            if more.is_empty() {
                more.extend_from_slice(&few);
            }
            more.push(key);
        }
        count += 1;
        i += len + 2;
    }
    let names: &mut [&str] = if more.is_empty() {
        &mut few[..count]
    } else {
        &mut more
    };
    if names.len() > 1 {
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err((name_len, format!("attribute {} is repeated", quote(w[0]))));
        }
    }
    Ok(())
}

/// The XML declaration after `<?` and before `?>`: `xml`, `version`, optionally `encoding` and
/// `standalone`, in that order, each `name="value"` after white space (XML 1.0 section 2.8).
fn check_decl(decl: &str) -> Result<(), String> {
    let bad = || {
        "the XML declaration is malformed: write <?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            .to_string()
    };
    let mut rest = decl.strip_prefix("xml").ok_or_else(bad)?;
    let mut seen = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_xml_ws);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(bad());
        }
        let (key, after) = trimmed.split_at(
            trimmed
                .find(['=', ' ', '\t', '\r', '\n'])
                .unwrap_or(trimmed.len()),
        );
        let after = after.trim_start_matches(is_xml_ws);
        let after = after
            .strip_prefix('=')
            .ok_or_else(bad)?
            .trim_start_matches(is_xml_ws);
        let q = after
            .chars()
            .next()
            .filter(|&c| c == '"' || c == '\'')
            .ok_or_else(bad)?;
        let end = after[1..].find(q).ok_or_else(bad)?;
        let value = &after[1..1 + end];
        rest = &after[end + 2..];
        let ok = match key {
            "version" => seen.is_empty(),
            "encoding" => {
                seen == ["version"]
                    && value.starts_with(|c: char| c.is_ascii_alphabetic())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            }
            "standalone" => {
                matches!(seen.last(), Some(&"version" | &"encoding"))
                    && matches!(value, "yes" | "no")
            }
            _ => false,
        };
        if !ok {
            return Err(bad());
        }
        seen.push(key);
    }
    if seen.first() != Some(&"version") {
        return Err(bad());
    }
    Ok(())
}

/// Text from the file made safe for a message.
fn clean(s: &str) -> String {
    s.chars()
        .take(80)
        .map(|c| if is_control(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// Read a document (UTF-8, BOM already removed) into a raw filing.
pub fn read(text: &str, limits: Limits) -> RawFiling<'_> {
    let mut r = XmlReader::from_str(text);
    {
        let cfg = r.config_mut();
        cfg.check_comments = true;
        cfg.check_end_names = true;
        cfg.allow_unmatched_ends = false;
        cfg.expand_empty_elements = false;
        cfg.trim_text(false);
    }
    let mut rd = Reader {
        r,
        text,
        base: text.as_ptr() as usize,
        ns: NamespaceResolver::default(),
        depth: 0,
        ns_scopes: Vec::new(),
        pop_empty: false,
        kept_problems: 0,
        limits,
        f002: None,
        f010: None,
        started: false,
    };
    let mut out = RawFiling::default();
    let result = document(&mut rd, &mut out);
    let forbidden = first_forbidden_char(text);
    let wf_problem = match result {
        Err(Fatal(p)) => Some(p),
        Ok(()) => None,
    };
    // F008/F001: whichever comes first in the file.
    let first_wf = match (wf_problem, forbidden) {
        (Some(p), Some(f)) if f < p.offset.unwrap_or(usize::MAX) => {
            Some(forbidden_problem(text, f))
        }
        (Some(p), _) => Some(p),
        (None, Some(f)) => Some(forbidden_problem(text, f)),
        (None, None) => None,
    };
    out.fatal = first_wf.or(rd.f002.take()).or(rd.f010.take());
    out
}

fn forbidden_problem(text: &str, at: usize) -> FileProblem {
    let c = text[at..].chars().next().unwrap_or('\0');
    FileProblem {
        code: Code::F001,
        path: String::new(),
        offset: Some(at),
        message: format!(
            "character U+{:04X} is not allowed in an XML 1.0 document; remove it",
            u32::from(c)
        ),
    }
}

fn document<'a>(rd: &mut Reader<'a>, out: &mut RawFiling<'a>) -> R<()> {
    let mut root_seen = false;
    loop {
        match rd.next()? {
            Item::Start(s) => {
                if root_seen {
                    return Err(wf(s.offset, "only one root element is allowed"));
                }
                root_seen = true;
                root(rd, s, out)?;
            }
            Item::Text(p) => {
                if let TextPiece::Str(t, o) = p
                    && t.trim_matches(is_xml_ws).is_empty()
                {
                    let _ = o;
                    continue;
                }
                return Err(wf(
                    piece_offset(&p),
                    "text is not allowed outside the root element",
                ));
            }
            Item::End => return Err(wf(rd.pos(), "end tag without a start tag")),
            Item::Eof => {
                if !root_seen {
                    return Err(wf(rd.text.len(), "the file holds no XML element"));
                }
                return Ok(());
            }
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "the root element's children in the spec's order"
)]
fn root<'a>(rd: &mut Reader<'a>, s: Start<'a>, out: &mut RawFiling<'a>) -> R<()> {
    out.root_offset = s.offset;
    if s.local != Some("LicenseFiling") {
        rd.record_f002(
            s.offset,
            format!(
                "the root element must be LicenseFiling in namespace {FILING_NS}, not {}",
                quote(s.qname)
            ),
        );
        return rd.skip(&s);
    }
    let mut version_ok = false;
    for (key, unprefixed, v) in rd.attribute_list(&s)? {
        if unprefixed && key == "version" {
            if v.value == "1.0" {
                version_ok = true;
            } else {
                rd.record_f002(
                    v.offset,
                    format!("version must be \"1.0\", not {}", quote(&v.value)),
                );
            }
        } else {
            rd.record_f002(
                v.offset,
                format!("LicenseFiling has no attribute {}", quote(key)),
            );
        }
    }
    if !version_ok {
        rd.record_f002(s.offset, "LicenseFiling must carry version=\"1.0\"".into());
    }
    if s.empty {
        return Ok(());
    }
    loop {
        match rd.next()? {
            Item::Start(c) => match c.local {
                Some("Interchange") => {
                    if out.interchange.is_some() {
                        rd.record_f010(
                            "Interchange",
                            c.offset,
                            "Interchange must appear only once".into(),
                        );
                        rd.skip(&c)?;
                    } else {
                        out.interchange = Some(interchange(rd, &c)?);
                    }
                }
                Some("Application") => {
                    out.app_count += 1;
                    if out.app_count <= rd.limits.max_applications {
                        let app = application(rd, &c, out.app_count)?;
                        out.apps.push(app);
                    } else {
                        out.first_excess_offset.get_or_insert(c.offset);
                        rd.skip(&c)?;
                    }
                }
                _ => {
                    rd.record_f002(
                        c.offset,
                        format!(
                            "LicenseFiling may hold only Interchange and Application, not {}",
                            quote(c.qname)
                        ),
                    );
                    rd.skip(&c)?;
                }
            },
            Item::Text(p) => {
                if !is_blank(&p) {
                    rd.record_f002(
                        piece_offset(&p),
                        "text is not allowed directly under LicenseFiling".into(),
                    );
                }
            }
            Item::End => return Ok(()),
            Item::Eof => return Err(rd.eof_inside(s.qname)),
        }
    }
}

fn is_blank(p: &TextPiece<'_>) -> bool {
    match p {
        TextPiece::Str(t, _) => t.trim_matches(is_xml_ws).is_empty(),
        TextPiece::Char(c, _) => is_xml_ws(*c),
    }
}

fn interchange<'a>(rd: &mut Reader<'a>, s: &Start<'a>) -> R<RawInterchange<'a>> {
    let mut ic = RawInterchange {
        offset: s.offset,
        ..Default::default()
    };
    for (key, _, v) in rd.attribute_list(s)? {
        rd.record_f010(
            &format!("Interchange/@{key}"),
            v.offset,
            format!("Interchange has no attribute {}", quote(key)),
        );
    }
    if s.empty {
        return Ok(ic);
    }
    loop {
        match rd.next()? {
            Item::Start(c) => {
                let slot = match c.local {
                    Some("SenderId") => &mut ic.sender_id,
                    Some("ControlNumber") => &mut ic.control_number,
                    Some("CreatedAt") => &mut ic.created_at,
                    _ => {
                        rd.record_f010(
                            &format!("Interchange/{}", c.qname),
                            c.offset,
                            format!("Interchange has no element {}", quote(c.qname)),
                        );
                        rd.skip(&c)?;
                        continue;
                    }
                };
                let path = format!("Interchange/{}", c.qname);
                if slot.is_some() {
                    rd.record_f010(
                        &path,
                        c.offset,
                        format!("{} must appear only once", c.qname),
                    );
                    rd.skip(&c)?;
                    continue;
                }
                for (key, _, v) in rd.attribute_list(&c)? {
                    rd.record_f010(
                        &format!("{path}/@{key}"),
                        v.offset,
                        format!("{} has no attribute {}", c.qname, quote(key)),
                    );
                }
                let mut nested = None;
                let t = rd.leaf(&c, |n, o| {
                    if nested.is_none() {
                        nested = Some((n, o));
                    }
                })?;
                if let Some((n, o)) = nested {
                    rd.record_f010(
                        &path,
                        o,
                        format!(
                            "{} must hold text only, not the element {}",
                            c.qname,
                            quote(n)
                        ),
                    );
                }
                *slot = Some(t);
            }
            Item::Text(p) => {
                if !is_blank(&p) {
                    rd.record_f010(
                        "Interchange",
                        piece_offset(&p),
                        "text is not allowed directly under Interchange".into(),
                    );
                }
            }
            Item::End => return Ok(ic),
            Item::Eof => return Err(rd.eof_inside(s.qname)),
        }
    }
}

/// `[A-Za-z0-9_-]{1,35}`
pub fn is_valid_app_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 35
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// `[1-9][0-9]{0,2}`
pub fn parse_line_number(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 3 || b[0] == b'0' || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.parse().ok()
}

/// Where an element sits, for problems: `<base>/<mid>/<leaf>` (empty parts left out), with
/// `[n]` after the leaf when `index` is set. Built into a string only when a problem is kept.
#[derive(Clone, Copy)]
struct At<'p> {
    base: &'p str,
    mid: &'p str,
    leaf: &'p str,
    index: Option<usize>,
}

impl<'p> At<'p> {
    fn new(base: &'p str) -> Self {
        At {
            base,
            mid: "",
            leaf: "",
            index: None,
        }
    }

    /// A child of this place (this place must not have an index).
    fn child(self, name: &'p str) -> Self {
        if self.mid.is_empty() && !self.leaf.is_empty() {
            At {
                mid: self.leaf,
                leaf: name,
                ..self
            }
        } else if self.leaf.is_empty() {
            At { leaf: name, ..self }
        } else {
            // Three parts at most are ever needed (application, Filer or Product, field).
            At {
                base: self.base,
                mid: self.mid,
                leaf: name,
                index: None,
            }
        }
    }

    fn nth(self, n: usize) -> Self {
        At {
            index: Some(n),
            ..self
        }
    }

    fn path(&self) -> String {
        let mut p = String::with_capacity(self.base.len() + self.mid.len() + self.leaf.len() + 8);
        p.push_str(self.base);
        for part in [self.mid, self.leaf] {
            if !part.is_empty() {
                p.push('/');
                p.push_str(part);
            }
        }
        if let Some(n) = self.index {
            p.push_str(&format!("[{n}]"));
        }
        p
    }

    /// The path of an attribute of this element.
    fn attr(&self, key: &str) -> String {
        format!("{}/@{key}", self.path())
    }

    /// The path of a child element named as written.
    fn under(&self, name: &str) -> String {
        format!("{}/{name}", self.path())
    }
}

struct Ctx<'p> {
    problems: &'p mut Vec<Problem>,
    /// Problems beyond this many are only counted.
    keep: usize,
    unlisted: usize,
    /// Occurrences seen of elements that may appear once, by path (for `Importer[2]`).
    repeats: std::collections::HashMap<String, usize>,
}

impl Ctx<'_> {
    /// The path of a repetition of a single element: `…/Importer[2]`, `…/Importer[3]`, …
    fn repeated(&mut self, path: String) -> String {
        let n = match self.repeats.get_mut(&path) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                self.repeats.insert(path.clone(), 2);
                2
            }
        };
        format!("{path}[{n}]")
    }

    /// No further problem is kept (only counted).
    fn full(&self) -> bool {
        self.problems.len() > self.keep
    }

    /// Keep a problem; its path and message are only built when it is kept.
    fn push(
        &mut self,
        code: Code,
        offset: usize,
        path: impl FnOnce() -> String,
        message: impl FnOnce() -> String,
    ) {
        if self.full() {
            self.unlisted += 1;
            return;
        }
        self.problems.push(Problem {
            code,
            path: path(),
            offset,
            message: message(),
        });
    }

    /// A103 for a repeated single element at `at`.
    fn repeat(&mut self, at: At<'_>, offset: usize, message: impl FnOnce() -> String) {
        if self.full() {
            self.unlisted += 1;
            return;
        }
        let path = self.repeated(at.path());
        self.push(Code::A103, offset, || path, message);
    }
}

/// Which children an application may hold, by its action.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Allowed {
    NewOrCorrect,
    Cancel,
    /// Action missing or invalid: names are checked against every possible child.
    Any,
}

fn application<'a>(rd: &mut Reader<'a>, s: &Start<'a>, position: usize) -> R<RawApp<'a>> {
    let mut app = RawApp {
        position,
        offset: s.offset,
        ..Default::default()
    };
    let mut unknown_attrs: Vec<(&'a str, usize)> = Vec::new();
    rd.attributes(s, |key, unprefixed, v| match (unprefixed, key) {
        (true, "id") => app.id = Some(v),
        (true, "action") => app.action = Some(v),
        (true, "license") => app.license = Some(v),
        _ => unknown_attrs.push((key, v.offset)),
    })?;
    app.label = match &app.id {
        Some(id) if is_valid_app_id(&id.value) => Label::new("Application", false, &id.value),
        _ => Label::new("Application", true, position),
    };
    let label = app.label;
    let here = At::new(label.as_str());
    let mut problems = std::mem::take(&mut app.problems);
    let mut cx = Ctx {
        problems: &mut problems,
        keep: super::rules::MAX_APP_ERRORS
            .min(super::rules::MAX_FILE_ERRORS.saturating_sub(rd.kept_problems)),
        unlisted: 0,
        repeats: std::collections::HashMap::new(),
    };
    for (key, off) in unknown_attrs {
        cx.push(
            Code::A101,
            off,
            || here.attr(key),
            || format!("Application has no attribute {}", quote(key)),
        );
    }
    let allowed = match app.action.as_ref().map(|a| &*a.value) {
        Some("new") | Some("correct") => Allowed::NewOrCorrect,
        Some("cancel") => Allowed::Cancel,
        _ => Allowed::Any,
    };
    if !s.empty {
        loop {
            match rd.next()? {
                Item::Start(c) => application_child(rd, &mut app, &mut cx, here, allowed, c)?,
                Item::Text(p) => {
                    if !is_blank(&p) {
                        cx.push(
                            Code::A101,
                            piece_offset(&p),
                            || here.path(),
                            || {
                                "text is not allowed directly under Application; put it in an element"
                                    .into()
                            },
                        );
                    }
                }
                Item::End => break,
                Item::Eof => return Err(rd.eof_inside(s.qname)),
            }
        }
    }
    app.problems_unlisted = cx.unlisted;
    rd.kept_problems += problems.len();
    app.problems = problems;
    Ok(app)
}

fn unknown_child(cx: &mut Ctx<'_>, parent: At<'_>, what: &str, c: &Start<'_>) {
    // Past the bound nothing is built, only counted: 200,000 unknown elements cost no text.
    cx.push(
        Code::A101,
        c.offset,
        || parent.under(c.qname),
        || format!("{what} {}; remove it or check its spelling", quote(c.qname)),
    );
}

/// Reject every attribute of an element that takes none.
fn no_attributes<'a>(rd: &Reader<'a>, cx: &mut Ctx<'_>, at: At<'_>, c: &Start<'a>) -> R<()> {
    rd.attributes(c, |key, _, v| {
        cx.push(
            Code::A101,
            v.offset,
            || at.attr(key),
            || format!("{} has no attribute {}", c.qname, quote(key)),
        );
    })
}

/// Read a leaf's text, reporting attributes and child elements as A101.
fn leaf_value<'a>(rd: &mut Reader<'a>, cx: &mut Ctx<'_>, at: At<'_>, c: &Start<'a>) -> R<Text<'a>> {
    no_attributes(rd, cx, at, c)?;
    let mut nested: Vec<(&'a str, usize)> = Vec::new();
    let t = rd.leaf(c, |n, o| nested.push((n, o)))?;
    for (n, o) in nested {
        cx.push(
            Code::A101,
            o,
            || at.under(n),
            || format!("{} holds text only, not the element {}", c.qname, quote(n)),
        );
    }
    Ok(t)
}

/// Read a single-occurrence leaf into its slot, or report A103 when it is repeated.
fn single<'a>(
    rd: &mut Reader<'a>,
    cx: &mut Ctx<'_>,
    at: At<'_>,
    c: &Start<'a>,
    slot: &mut Option<Text<'a>>,
) -> R<()> {
    if slot.is_some() {
        cx.repeat(at, c.offset, || {
            format!("{} must appear only once", c.qname)
        });
        return rd.skip(c);
    }
    *slot = Some(leaf_value(rd, cx, at, c)?);
    Ok(())
}

#[allow(
    clippy::too_many_lines,
    reason = "one arm per child element of an application, in the spec's order"
)]
fn application_child<'a>(
    rd: &mut Reader<'a>,
    app: &mut RawApp<'a>,
    cx: &mut Ctx<'_>,
    here: At<'_>,
    allowed: Allowed,
    c: Start<'a>,
) -> R<()> {
    let name = c.local.unwrap_or("");
    let is_data = matches!(
        name,
        "Filer"
            | "EntryType"
            | "EntryNumber"
            | "Importer"
            | "Exporter"
            | "Manufacturer"
            | "CountryOfOrigin"
            | "CountryOfExportation"
            | "ExpectedExportDate"
            | "ExpectedImportDate"
            | "PortOfEntry"
            | "Product"
    );
    let is_reason = name == "Reason";
    if !is_data && !is_reason {
        unknown_child(cx, here, "Application has no element", &c);
        return rd.skip(&c);
    }
    if is_data && allowed == Allowed::Cancel {
        cx.push(
            Code::A101,
            c.offset,
            || here.under(c.qname),
            || {
                format!(
                    "a cancel holds only Reason, not {}; remove it",
                    quote(c.qname)
                )
            },
        );
        return rd.skip(&c);
    }
    if is_reason && allowed == Allowed::NewOrCorrect {
        cx.push(
            Code::A101,
            c.offset,
            || here.under("Reason"),
            || "Reason belongs only in a cancel; remove it".into(),
        );
        return rd.skip(&c);
    }
    let at = here.child(name);
    match name {
        "Filer" => {
            if app.filer.is_some() {
                cx.repeat(at, c.offset, || "Filer must appear only once".into());
                return rd.skip(&c);
            }
            app.filer = Some(filer(rd, cx, at, &c)?);
        }
        "EntryType" => single(rd, cx, at, &c, &mut app.entry_type)?,
        "EntryNumber" => single(rd, cx, at, &c, &mut app.entry_number)?,
        "Importer" => single(rd, cx, at, &c, &mut app.importer)?,
        "Exporter" => single(rd, cx, at, &c, &mut app.exporter)?,
        "CountryOfOrigin" => single(rd, cx, at, &c, &mut app.origin)?,
        "CountryOfExportation" => single(rd, cx, at, &c, &mut app.export_country)?,
        "ExpectedExportDate" => single(rd, cx, at, &c, &mut app.export_date)?,
        "ExpectedImportDate" => single(rd, cx, at, &c, &mut app.import_date)?,
        "PortOfEntry" => single(rd, cx, at, &c, &mut app.port)?,
        "Reason" => single(rd, cx, at, &c, &mut app.reason)?,
        "Manufacturer" => {
            let n = app.manufacturers.len() + 1;
            let at = at.nth(n);
            if n > MAX_MANUFACTURERS {
                cx.push(
                    Code::A103,
                    c.offset,
                    || at.path(),
                    || format!("at most {MAX_MANUFACTURERS} Manufacturer elements are allowed"),
                );
                // Count it, so every further one is reported with its own index.
                app.manufacturers.push(Text {
                    value: Cow::Borrowed(""),
                    offset: c.offset,
                });
                return rd.skip(&c);
            }
            let t = leaf_value(rd, cx, at, &c)?;
            app.manufacturers.push(t);
        }
        "Product" => {
            app.product_seen = true;
            let n = app.products.len() + 1;
            if n > MAX_PRODUCTS {
                cx.push(
                    Code::A103,
                    c.offset,
                    || here.under(&format!("Product[#{n}]")),
                    || format!("at most {MAX_PRODUCTS} Product elements are allowed; file the rest in another application"),
                );
                return rd.skip(&c);
            }
            let p = product(rd, cx, here, n, &c)?;
            app.products.push(p);
        }
        _ => {
            unknown_child(cx, here, "Application has no element", &c);
            return rd.skip(&c);
        }
    }
    Ok(())
}

fn filer<'a>(rd: &mut Reader<'a>, cx: &mut Ctx<'_>, at: At<'_>, s: &Start<'a>) -> R<RawFiler<'a>> {
    let mut f = RawFiler {
        offset: s.offset,
        ..Default::default()
    };
    no_attributes(rd, cx, at, s)?;
    if s.empty {
        return Ok(f);
    }
    loop {
        match rd.next()? {
            Item::Start(c) => {
                let name = c.local.unwrap_or("");
                let slot = match name {
                    "Company" => &mut f.company,
                    "Street" => &mut f.street,
                    "City" => &mut f.city,
                    "State" => &mut f.state,
                    "PostalCode" => &mut f.postal_code,
                    "ContactName" => &mut f.contact_name,
                    "Phone" => &mut f.phone,
                    "Email" => &mut f.email,
                    _ => {
                        unknown_child(cx, at, "Filer has no element", &c);
                        rd.skip(&c)?;
                        continue;
                    }
                };
                single(rd, cx, at.child(name), &c, slot)?;
            }
            Item::Text(p) => {
                if !is_blank(&p) {
                    cx.push(
                        Code::A101,
                        piece_offset(&p),
                        || at.path(),
                        || "text is not allowed directly under Filer".into(),
                    );
                }
            }
            Item::End => return Ok(f),
            Item::Eof => return Err(rd.eof_inside(s.qname)),
        }
    }
}

fn product<'a>(
    rd: &mut Reader<'a>,
    cx: &mut Ctx<'_>,
    app_at: At<'_>,
    position: usize,
    s: &Start<'a>,
) -> R<RawProduct<'a>> {
    let mut p = RawProduct {
        position,
        offset: s.offset,
        ..Default::default()
    };
    let mut unknown_attrs: Vec<(&'a str, usize)> = Vec::new();
    rd.attributes(s, |key, unprefixed, v| {
        if unprefixed && key == "line" {
            p.line = Some(v);
        } else {
            unknown_attrs.push((key, v.offset));
        }
    })?;
    p.label = match p.line.as_ref().and_then(|l| parse_line_number(&l.value)) {
        Some(n) => Label::new("Product", false, n),
        None => Label::new("Product", true, position),
    };
    let label = p.label;
    let at = app_at.child(label.as_str());
    for (key, off) in unknown_attrs {
        cx.push(
            Code::A101,
            off,
            || at.attr(key),
            || format!("Product has no attribute {}", quote(key)),
        );
    }
    if s.empty {
        return Ok(p);
    }
    loop {
        match rd.next()? {
            Item::Start(c) => {
                let name = c.local.unwrap_or("");
                let slot = match name {
                    "Hts" => &mut p.hts,
                    "Description" => &mut p.description,
                    "LargestSmelt" => &mut p.largest_smelt,
                    "SecondLargestSmelt" => &mut p.second_smelt,
                    "MostRecentCast" => &mut p.cast,
                    "QuantityKg" => &mut p.quantity,
                    "CustomsValueUsd" => &mut p.value,
                    _ => {
                        unknown_child(cx, at, "Product has no element", &c);
                        rd.skip(&c)?;
                        continue;
                    }
                };
                single(rd, cx, at.child(name), &c, slot)?;
            }
            Item::Text(t) => {
                if !is_blank(&t) {
                    cx.push(
                        Code::A101,
                        piece_offset(&t),
                        || at.path(),
                        || "text is not allowed directly under Product".into(),
                    );
                }
            }
            Item::End => return Ok(p),
            Item::Eof => return Err(rd.eof_inside(s.qname)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(s: &str) -> RawFiling<'_> {
        read(
            s,
            Limits {
                max_applications: 10,
            },
        )
    }

    #[test]
    fn leaf_offsets_point_at_first_character() {
        let doc = "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application id=\"A1\" action=\"new\"><Importer>  Acme &amp; Co </Importer><Exporter>&amp;X</Exporter><PortOfEntry></PortOfEntry><EntryType/></Application></LicenseFiling>";
        let f = rd(doc);
        assert!(f.fatal.is_none(), "{:?}", f.fatal);
        let a = &f.apps[0];
        let imp = a.importer.as_ref().unwrap();
        assert_eq!(imp.value, "Acme & Co");
        assert_eq!(&doc[imp.offset..imp.offset + 4], "Acme");
        let exp = a.exporter.as_ref().unwrap();
        assert_eq!(exp.value, "&X");
        assert_eq!(&doc[exp.offset..exp.offset + 5], "&amp;");
        let port = a.port.as_ref().unwrap();
        assert_eq!(port.value, "");
        assert_eq!(&doc[port.offset..port.offset + 2], "</");
        let et = a.entry_type.as_ref().unwrap();
        assert_eq!(&doc[et.offset..et.offset + 10], "<EntryType");
    }

    /// Plain values are lent from the input; only a value with a reference, or an attribute
    /// with literal white space to normalise, is owned.
    #[test]
    fn values_are_lent_unless_resolved() {
        let doc = "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application id=\" A1 \" action=\"new\" license=\"a\tb\"><Importer> Acme </Importer><Exporter>X &amp; Y</Exporter><Product line=\"7\"><Hts>7601.10.6000</Hts></Product></Application></LicenseFiling>";
        let f = rd(doc);
        assert!(f.fatal.is_none(), "{:?}", f.fatal);
        let a = &f.apps[0];
        let lent =
            |t: &Option<Text<'_>>| matches!(t.as_ref().map(|t| &t.value), Some(Cow::Borrowed(_)));
        assert!(lent(&a.importer) && lent(&a.id) && lent(&a.action));
        assert!(lent(&a.products[0].hts) && lent(&a.products[0].line));
        assert_eq!(a.importer.as_ref().unwrap().value, "Acme");
        assert_eq!(a.id.as_ref().unwrap().value, "A1");
        assert!(!lent(&a.exporter) && !lent(&a.license));
        assert_eq!(a.exporter.as_ref().unwrap().value, "X & Y");
        assert_eq!(a.license.as_ref().unwrap().value, "a b");
        assert_eq!(a.label.as_str(), "Application[A1]");
        assert_eq!(a.products[0].label.as_str(), "Product[7]");
    }

    /// Labels are held inline: the longest application id fits whole.
    #[test]
    fn labels_hold_the_longest_id() {
        let id = "A".repeat(35);
        assert_eq!(
            Label::new("Application", false, &id).as_str(),
            format!("Application[{id}]")
        );
        assert_eq!(
            Label::new("Application", true, usize::MAX).as_str(),
            format!("Application[#{}]", usize::MAX)
        );
    }

    /// Paths of problems are built when kept: repeated, nested and over-the-limit elements
    /// keep the paths they always had.
    #[test]
    fn problem_paths() {
        let doc = format!(
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application action=\"new\" x=\"1\"><Importer>I</Importer><Importer>J</Importer><Importer>K</Importer><Filer><Phone a=\"b\">1</Phone><Fax/></Filer><Filer/><Product line=\"2\"><Hts><b/></Hts><Hts/></Product>{}</Application></LicenseFiling>",
            "<Manufacturer>M</Manufacturer>".repeat(11)
        );
        let f = rd(&doc);
        let paths: Vec<&str> = f.apps[0].problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "Application[#1]/@x",
                "Application[#1]/Importer[2]",
                "Application[#1]/Importer[3]",
                "Application[#1]/Filer/Phone/@a",
                "Application[#1]/Filer/Fax",
                "Application[#1]/Filer[2]",
                "Application[#1]/Product[2]/Hts/b",
                "Application[#1]/Product[2]/Hts[2]",
                "Application[#1]/Manufacturer[11]",
            ]
        );
    }

    #[test]
    fn forbidden_characters_are_found_past_clean_blocks() {
        for at in [0, 31, 32, 33, 100] {
            let mut doc = "a\n\t\r".repeat(40);
            doc.insert(at, '\u{1}');
            assert_eq!(first_forbidden_char(&doc), Some(at), "{at}");
            let mut doc = "x".repeat(at);
            doc.push('\u{FFFE}');
            assert_eq!(first_forbidden_char(&doc), Some(at), "{at}");
        }
        assert_eq!(first_forbidden_char(&"é\n".repeat(100)), None);
    }

    #[test]
    fn whitespace_then_reference_offset() {
        let doc = "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application id=\"A1\" action=\"new\"><Importer>\n  &#65;BC</Importer></Application></LicenseFiling>";
        let f = rd(doc);
        let imp = f.apps[0].importer.as_ref().unwrap();
        assert_eq!(imp.value, "ABC");
        assert_eq!(&doc[imp.offset..imp.offset + 5], "&#65;");
    }

    #[test]
    fn prefixed_namespace_is_accepted() {
        let doc = "<f:LicenseFiling xmlns:f=\"urn:aim:filing:1\" version=\"1.0\"><f:Application id=\"A1\" action=\"new\"><f:Importer>X</f:Importer></f:Application></f:LicenseFiling>";
        let f = rd(doc);
        assert!(f.fatal.is_none(), "{:?}", f.fatal);
        assert_eq!(f.apps[0].importer.as_ref().unwrap().value, "X");
        assert!(f.apps[0].problems.is_empty());
    }

    #[test]
    fn foreign_namespace_element_is_unknown() {
        let doc = "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application id=\"A1\" action=\"new\"><Importer xmlns=\"urn:other\">X</Importer></Application></LicenseFiling>";
        let f = rd(doc);
        assert_eq!(f.apps[0].problems[0].code, Code::A101);
    }

    /// Namespace scopes end with their element: a declaration on a skipped element does not
    /// leak to its siblings, and the filing namespace declared on an inner element applies there.
    #[test]
    fn namespace_scopes_end_with_their_element() {
        let doc = "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application id=\"A1\" action=\"new\"><x:Deep xmlns:x=\"urn:x\"><x:In/></x:Deep><Importer xmlns=\"urn:other\"><y/></Importer><Exporter>E</Exporter><p:Port xmlns:p=\"urn:x\"/><q:Hts/></Application></LicenseFiling>";
        let f = rd(doc);
        // `q` was never declared; `x` and `p` were, on elements that have ended.
        assert_eq!(f.fatal.as_ref().map(|p| p.code), Some(Code::F001));
        assert!(f.fatal.unwrap().message.contains("\"q\""));
        let ok = doc.replace(
            "<q:Hts/>",
            "<p:EntryType xmlns:p=\"urn:aim:filing:1\">ftz</p:EntryType>",
        );
        let f = rd(&ok);
        assert!(f.fatal.is_none(), "{:?}", f.fatal);
        let a = &f.apps[0];
        assert_eq!(a.exporter.as_ref().unwrap().value, "E");
        assert_eq!(a.entry_type.as_ref().unwrap().value, "ftz");
        // x:Deep, Importer in another namespace, p:Port: unknown; p:EntryType is the filing's.
        let unknown: Vec<&str> = a.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            unknown,
            [
                "Application[A1]/x:Deep",
                "Application[A1]/Importer",
                "Application[A1]/p:Port"
            ]
        );
    }

    /// Nesting is not limited by the reader: 100,000 nested unknown elements are one A101
    /// inside an application and F002 directly under the root, never a stack overflow or a
    /// refusal; unclosed, they are F001 at the end of the file.
    #[test]
    fn deep_nesting_is_read_to_the_end() {
        let deep = format!("{}{}", "<D>".repeat(100_000), "</D>".repeat(100_000));
        let doc = format!(
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Application id=\"A1\" action=\"new\">{deep}<Importer>I</Importer></Application></LicenseFiling>"
        );
        let f = rd(&doc);
        assert!(f.fatal.is_none(), "{:?}", f.fatal);
        assert_eq!(f.apps[0].problems.len(), 1);
        assert_eq!(f.apps[0].problems[0].code, Code::A101);
        assert_eq!(f.apps[0].importer.as_ref().unwrap().value, "I");
        let doc = format!(
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">{deep}</LicenseFiling>"
        );
        assert_eq!(rd(&doc).fatal.map(|p| p.code), Some(Code::F002));
        let doc = format!(
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">{}",
            "<D>".repeat(100_000)
        );
        let p = rd(&doc).fatal.expect("unclosed");
        assert_eq!((p.code, p.offset), (Code::F001, Some(doc.len())));
    }

    #[test]
    fn too_many_namespace_declarations_say_what_to_do() {
        let decls: String = (0..200)
            .map(|i| format!(" xmlns:n{i}=\"urn:n{i}\""))
            .collect();
        let doc = format!("<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"{decls}/>");
        let p = rd(&doc).fatal.expect("too many");
        assert_eq!(p.code, Code::F001);
        assert!(
            p.message.contains("declare urn:aim:filing:1 once"),
            "{}",
            p.message
        );
    }

    #[test]
    fn well_formedness_errors() {
        for (doc, code) in [
            ("", Code::F001),
            ("<a>", Code::F001),
            ("<a></b>", Code::F001),
            ("<a/><b/>", Code::F001),
            ("<a>&foo;</a>", Code::F001),
            ("<a>&#1;</a>", Code::F001),
            ("<a>\u{1}</a>", Code::F001),
            ("<a x='1' x='2'/>", Code::F001),
            ("<!DOCTYPE a><a/>", Code::F008),
            ("<?pi x?><a/>", Code::F008),
            ("<a/><?pi?>", Code::F008),
            ("<a>\u{1}</a><?pi?>", Code::F001),
            ("<p:a/>", Code::F001),
            ("<a q:x=\"1\"/>", Code::F001),
            ("<a/>text", Code::F001),
        ] {
            let f = rd(doc);
            assert_eq!(
                f.fatal.as_ref().map(|p| p.code),
                Some(code),
                "{doc:?}: {:?}",
                f.fatal
            );
        }
    }

    #[test]
    fn root_shape_errors_are_f002() {
        for doc in [
            "<LicenseFiling version=\"1.0\"/>",
            "<LicenseFiling xmlns=\"urn:aim:filing:2\" version=\"1.0\"/>",
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"2.0\"/>",
            "<LicenseFiling xmlns=\"urn:aim:filing:1\"/>",
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\" x=\"y\"/>",
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\"><Foo/></LicenseFiling>",
            "<LicenseFiling xmlns=\"urn:aim:filing:1\" version=\"1.0\">text</LicenseFiling>",
        ] {
            assert_eq!(rd(doc).fatal.map(|p| p.code), Some(Code::F002), "{doc}");
        }
    }
}
