//! The rules of AIM-XML 1.0 (spec section 3): file-level checks F002–F010 after reading, and
//! every application judged on its own. Pure: the filing day, the partner list and the store's
//! answers come in as inputs.

use super::codes::{Code, Issue, Position, is_control, quote};
use super::model::*;
use super::parse::{
    RawApp, RawFiler, RawFiling, RawInterchange, RawProduct, Text, is_valid_app_id,
    parse_line_number,
};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// `UNKNOWN` smelt countries were accepted only until this day.
pub const UNKNOWN_SMELT_LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2022, 6, 28) {
    Some(d) => d,
    None => panic!("valid date"),
};
/// A license is valid from its issue date through this many days after it.
pub const VALIDITY_DAYS: i64 = 75;
/// A license may be applied for at most this many days before the expected import.
pub const MAX_DAYS_AHEAD: i64 = 60;
/// W301: below this total customs value an informal entry needs no license.
pub const INFORMAL_LIMIT_USD: Decimal = Decimal::from_parts(2500, 0, 0, false, 0);

/// Settings of the rules that come from the configuration.
#[derive(Clone, Debug)]
pub struct RuleSettings {
    pub import_past_days: i64,
    pub max_applications: usize,
    pub watch_countries: Vec<Country>,
    pub unit_value_outliers: bool,
    /// `aim validate` applies no review rules.
    pub apply_review: bool,
}

/// What the daemon knows about one license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseFacts {
    pub cancelled: bool,
    pub valid_from: NaiveDate,
    pub valid_through: NaiveDate,
}

/// The store could not answer: the file is not judged (never turned into F005 or A401); the
/// daemon leaves it in the inbox and tries again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store cannot answer: {0}")]
pub struct LedgerError(pub String);

pub type LedgerResult<T> = Result<T, LedgerError>;

/// The store's answers the rules need. `aim validate` uses [`Offline`].
pub trait Ledger {
    /// False where issued licenses and control numbers cannot be seen (`aim validate`):
    /// then F005 and A401–A403 are skipped.
    fn is_online(&self) -> bool {
        true
    }
    /// The SHA-256 of the file that used this control number (compared as a number) first.
    fn control_number_owner(&self, sender: &str, control: u32) -> LedgerResult<Option<[u8; 32]>>;
    /// The license, if it was issued to this sender.
    fn license(&self, sender: &str, number: LicenseNumber) -> LedgerResult<Option<LicenseFacts>>;
    /// Median unit value for a 6-digit HTS over the 90 days up to `day`, once at least 20
    /// licenses exist for it.
    fn unit_value_median(&self, hts6: &str, day: NaiveDate) -> LedgerResult<Option<Decimal>>;
    /// Called after each application that is not rejected, so that later applications of the
    /// same file see its effect (a license cancelled earlier in the file is A402).
    fn applied(&mut self, _sender: &str, _verdict: &AppVerdict) {}
}

/// The ledger of `aim validate`: it knows nothing.
pub struct Offline;

impl Ledger for Offline {
    fn is_online(&self) -> bool {
        false
    }
    fn control_number_owner(&self, _: &str, _: u32) -> LedgerResult<Option<[u8; 32]>> {
        Ok(None)
    }
    fn license(&self, _: &str, _: LicenseNumber) -> LedgerResult<Option<LicenseFacts>> {
        Ok(None)
    }
    fn unit_value_median(&self, _: &str, _: NaiveDate) -> LedgerResult<Option<Decimal>> {
        Ok(None)
    }
}

/// Everything about the file the rules need besides its content.
pub struct FileContext<'a> {
    /// The partner whose inbox the file arrived in; empty when the file stands for no inbox
    /// (`aim validate` outside one): then F004 is not checked.
    pub inbox_sender: &'a str,
    pub is_registered: &'a dyn Fn(&str) -> bool,
    pub filing_day: NaiveDate,
    pub sha256: [u8; 32],
    pub settings: &'a RuleSettings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppStatus {
    Issued,
    Corrected,
    Cancelled,
    PendingReview,
    Rejected,
}

impl AppStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Issued => "issued",
            AppStatus::Corrected => "corrected",
            AppStatus::Cancelled => "cancelled",
            AppStatus::PendingReview => "pending-review",
            AppStatus::Rejected => "rejected",
        }
    }
}

/// The outcome of a file as its ack states it (spec section 4): worked out here once, from
/// the verdict or from the applications a follow-up ack answers. The serde names are those
/// receipts have always been stored with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Accepted,
    Partial,
    Rejected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Accepted => "accepted",
            FileStatus::Partial => "partial",
            FileStatus::Rejected => "rejected",
        }
    }

    /// The status of an ack over these application statuses: rejected when there are none or
    /// all are rejected, partial when some are, else accepted.
    pub fn of(apps: impl IntoIterator<Item = AppStatus>) -> FileStatus {
        let (mut any, mut rejected, mut all_rejected) = (false, false, true);
        for s in apps {
            any = true;
            if s == AppStatus::Rejected {
                rejected = true;
            } else {
                all_rejected = false;
            }
        }
        if !any || all_rejected {
            FileStatus::Rejected
        } else if rejected {
            FileStatus::Partial
        } else {
            FileStatus::Accepted
        }
    }
}

/// A review rule that holds an application (spec section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HoldCode {
    /// A `LargestSmelt` or `SecondLargestSmelt` on `watch_countries`.
    R501,
    /// A `MostRecentCast` on `watch_countries`.
    R502,
    /// A W310 unit-value outlier while `unit_value_outliers` is on.
    R510,
}

impl HoldCode {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldCode::R501 => "R501",
            HoldCode::R502 => "R502",
            HoldCode::R510 => "R510",
        }
    }
}

impl std::fmt::Display for HoldCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason an application is held, with what triggered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub code: HoldCode,
    /// The field path, e.g. `Application[A1]/Product[2]/MostRecentCast`.
    pub path: String,
    /// What triggered it, for staff: the country, or the unit value against the median.
    pub detail: String,
}

/// The judgement on one application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppVerdict {
    /// `@id` as written, where it is valid (echoed in the ack).
    pub id: Option<String>,
    pub position: usize,
    pub action: Option<Action>,
    pub status: AppStatus,
    /// The license a correction or cancellation refers to.
    pub license: Option<LicenseNumber>,
    /// The validated data of a new or corrected application without errors.
    pub data: Option<LicenseData>,
    pub reason: Option<String>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// Why the application is held for review (empty unless pending-review): staff see
    /// these, the filer never does.
    pub held_for: Vec<Hold>,
}

/// The judgement on a whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The file-level error, if any (then there are no applications).
    pub file_error: Option<Issue>,
    pub sender_id: Option<String>,
    /// The control number as written, where it is valid.
    pub control_number: Option<String>,
    pub control_value: Option<u32>,
    pub apps: Vec<AppVerdict>,
}

impl Verdict {
    /// Only a file that reached its applications uses up its control number.
    pub fn reached_applications(&self) -> bool {
        self.file_error.is_none()
    }

    /// The file's status: rejected for a file-level error, else from its applications.
    pub fn status(&self) -> FileStatus {
        if self.file_error.is_some() {
            FileStatus::Rejected
        } else {
            FileStatus::of(self.apps.iter().map(|a| a.status))
        }
    }

    /// Applications held for a reviewer.
    pub fn held(&self) -> usize {
        self.apps
            .iter()
            .filter(|a| a.status == AppStatus::PendingReview)
            .count()
    }
}

/// Turns byte offsets into 1-based lines and character columns.
pub struct Locator<'a> {
    text: &'a str,
    line_starts: std::cell::OnceCell<Vec<usize>>,
    /// The last offset located and its 0-based column. Columns on the same line are counted
    /// from there, so a file on one long line (minified XML) with many issues costs time in
    /// proportion to its size, not to size × issues.
    last: std::cell::Cell<(usize, usize)>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator {
            text,
            line_starts: std::cell::OnceCell::new(),
            last: std::cell::Cell::new((0, 0)),
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', self.text.as_bytes()).map(|i| i + 1))
                .collect()
        });
        let offset = offset.min(self.text.len());
        let line = starts.partition_point(|&s| s <= offset);
        let start = starts[line - 1];
        let end = starts.get(line).copied().unwrap_or(usize::MAX);
        let chars = |a: usize, b: usize| self.text.get(a..b).map_or(b - a, |s| s.chars().count());
        let (last, last_column) = self.last.get();
        let column = if !(start..end).contains(&last) {
            chars(start, offset)
        } else if last <= offset {
            last_column + chars(last, offset)
        } else {
            last_column.saturating_sub(chars(offset, last))
        };
        self.last.set((offset, column));
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

/// A file-level issue.
pub fn file_issue(code: Code, path: &str, position: Option<Position>, message: String) -> Issue {
    Issue {
        code,
        path: path.to_owned(),
        position: if code.has_position() { position } else { None },
        message,
    }
}

/// Judge a file that was read: file-level checks in the spec's order, then every application.
#[allow(
    clippy::too_many_lines,
    reason = "the file-level checks in the spec's order, read top to bottom against section 4"
)]
pub fn judge(
    raw: &RawFiling,
    loc: &Locator<'_>,
    cx: &FileContext<'_>,
    ledger: &mut dyn Ledger,
) -> LedgerResult<Verdict> {
    let mut v = Verdict {
        file_error: None,
        sender_id: None,
        control_number: None,
        control_value: None,
        apps: Vec::new(),
    };
    // Echo what could be read of the interchange, even when the file is rejected.
    if let Some(ic) = &raw.interchange {
        v.sender_id = ic
            .sender_id
            .as_ref()
            .filter(|t| is_sender_id(&t.value))
            .map(|t| t.value.to_string());
        if let Some(t) = ic
            .control_number
            .as_ref()
            .filter(|t| is_control_number(&t.value))
        {
            v.control_number = Some(t.value.to_string());
            v.control_value = t.value.parse().ok();
        }
    }
    if let Some(p) = &raw.fatal {
        v.file_error = Some(file_issue(
            p.code,
            &p.path,
            p.offset.map(|o| loc.position(o)),
            p.message.clone(),
        ));
        return Ok(v);
    }
    if let Some(e) = interchange_error(raw.interchange.as_ref(), raw.root_offset, loc, cx, ledger)?
    {
        v.file_error = Some(e);
        return Ok(v);
    }
    if raw.app_count == 0 {
        v.file_error = Some(file_issue(
            Code::F009,
            "Application",
            Some(loc.position(raw.root_offset)),
            "the file holds no Application; add at least one".into(),
        ));
        return Ok(v);
    }
    if raw.app_count > cx.settings.max_applications {
        v.file_error = Some(file_issue(
            Code::F009,
            "Application",
            raw.first_excess_offset.map(|o| loc.position(o)),
            format!(
                "the file holds {} applications, more than the {} allowed; split it into several files",
                raw.app_count, cx.settings.max_applications
            ),
        ));
        return Ok(v);
    }
    let sender = v.sender_id.clone().unwrap_or_default();
    let dup_ids = duplicate_ids(&raw.apps);
    let mut listed = 0usize;
    for app in &raw.apps {
        let (mut verdict, unlisted) = judge_app(app, &dup_ids, loc, cx, &sender, ledger)?;
        // Bounded acks (docs/format.md): 100 errors an application, 1,000 in all, each list
        // closed by one error that counts the rest.
        let budget = MAX_FILE_ERRORS.saturating_sub(listed);
        let why = if budget < MAX_APP_ERRORS {
            "this acknowledgement lists at most 1000 errors in all"
        } else {
            "an acknowledgement lists at most 100 errors of an application"
        };
        close_errors(
            &mut verdict.errors,
            budget.min(MAX_APP_ERRORS),
            unlisted,
            why,
        );
        listed += verdict.errors.len();
        if verdict.status != AppStatus::Rejected {
            ledger.applied(&sender, &verdict);
        }
        v.apps.push(verdict);
    }
    Ok(v)
}

fn is_sender_id(s: &str) -> bool {
    (2..=15).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn is_control_number(s: &str) -> bool {
    (1..=9).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())
}

/// `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`, a real date and time.
pub fn is_created_at(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        i += 1 + n;
    }
    let zone = &b[i..];
    let zone_ok = zone == b"Z"
        || (zone.len() == 6
            && (zone[0] == b'+' || zone[0] == b'-')
            && zone[1..3].iter().all(u8::is_ascii_digit)
            && zone[3] == b':'
            && zone[4..6].iter().all(u8::is_ascii_digit));
    zone_ok && DateTime::parse_from_rfc3339(s).is_ok()
}

/// (name, value, rule, the form the rule wants) of an `Interchange` field.
type InterchangeField<'a> = (&'a str, &'a Option<Text<'a>>, fn(&str) -> bool, &'a str);

fn interchange_error(
    ic: Option<&RawInterchange>,
    root_offset: usize,
    loc: &Locator<'_>,
    cx: &FileContext<'_>,
    ledger: &dyn Ledger,
) -> LedgerResult<Option<Issue>> {
    // Everything before F005 needs no store; F005 asks it, and its failure is not the filer's.
    let (sender, control) = match interchange_form_error(ic, root_offset, loc, cx) {
        Err(e) => return Ok(Some(e)),
        Ok(None) => return Ok(None),
        Ok(Some(sc)) => sc,
    };
    if ledger.is_online()
        && let Ok(n) = control.value.parse::<u32>()
        && let Some(owner) = ledger.control_number_owner(&sender.value, n)?
        && owner != cx.sha256
    {
        return Ok(Some(file_issue(
            Code::F005,
            "Interchange/ControlNumber",
            Some(loc.position(control.offset)),
            format!(
                "control number {} was already used by {} for a file with different content; use a new control number",
                control.value, sender.value
            ),
        )));
    }
    Ok(None)
}

/// F010, F003 and F004: `Err` the first of them, else the sender and control number fields.
fn interchange_form_error<'r>(
    ic: Option<&'r RawInterchange<'r>>,
    root_offset: usize,
    loc: &Locator<'_>,
    cx: &FileContext<'_>,
) -> Result<Option<(&'r Text<'r>, &'r Text<'r>)>, Issue> {
    let f010 = |path: &str, off: usize, msg: String| {
        Err(file_issue(Code::F010, path, Some(loc.position(off)), msg))
    };
    let Some(ic) = ic else {
        return f010(
            "Interchange",
            root_offset,
            "Interchange is missing; add it with SenderId, ControlNumber and CreatedAt".into(),
        );
    };
    let fields: [InterchangeField<'_>; 3] = [
        (
            "SenderId",
            &ic.sender_id,
            is_sender_id,
            "2 to 15 of A-Z and 0-9",
        ),
        (
            "ControlNumber",
            &ic.control_number,
            is_control_number,
            "1 to 9 digits",
        ),
        (
            "CreatedAt",
            &ic.created_at,
            is_created_at,
            "an RFC 3339 date-time with offset, e.g. 2026-11-28T14:05:00Z",
        ),
    ];
    for (name, slot, ok, form) in fields {
        let path = format!("Interchange/{name}");
        match slot {
            None => return f010(&path, ic.offset, format!("{name} is missing")),
            Some(t) if t.value.chars().any(is_control) => {
                return f010(
                    &path,
                    t.offset,
                    format!("{name} contains a control character"),
                );
            }
            Some(t) if !ok(&t.value) => {
                return f010(
                    &path,
                    t.offset,
                    format!("{name} {} is not valid: it must be {form}", quote(&t.value)),
                );
            }
            Some(_) => {}
        }
    }
    let Some(sender) = ic.sender_id.as_ref() else {
        return Ok(None);
    };
    if !(cx.is_registered)(&sender.value) {
        return Err(file_issue(
            Code::F003,
            "Interchange/SenderId",
            Some(loc.position(sender.offset)),
            format!(
                "{} is not a registered partner; ask the agency to register it",
                quote(&sender.value)
            ),
        ));
    }
    if !cx.inbox_sender.is_empty() && sender.value != cx.inbox_sender {
        return Err(file_issue(
            Code::F004,
            "Interchange/SenderId",
            Some(loc.position(sender.offset)),
            format!(
                "the file names sender {} but arrived in the inbox of {}; send it from that partner's own folder",
                quote(&sender.value),
                quote(cx.inbox_sender)
            ),
        ));
    }
    Ok(ic.control_number.as_ref().map(|c| (sender, c)))
}

/// Ids that occur more than once in the file (case-sensitive).
fn duplicate_ids<'r>(apps: &'r [RawApp<'_>]) -> HashMap<&'r str, usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for a in apps {
        if let Some(id) = &a.id {
            *counts.entry(&*id.value).or_default() += 1;
        }
    }
    counts.retain(|_, n| *n > 1);
    counts
}

/// The most errors an ack lists for one application; beyond them, one closing error (the
/// next one, its message saying how many more there are). docs/format.md, "Bounded acks".
pub const MAX_APP_ERRORS: usize = 100;
/// The most errors an ack lists in all; beyond them, each further rejected application lists
/// only its first error, as a closing error that counts the rest.
pub const MAX_FILE_ERRORS: usize = 1000;

/// List at most `keep` of an application's errors in full; where there are more, the next
/// one closes the list, its message saying how many of the application's errors are not
/// listed (`unlisted` counted before, plus those cut here).
fn close_errors(errors: &mut Vec<Issue>, keep: usize, unlisted: usize, why: &str) {
    if errors.len() <= keep + 1 && unlisted == 0 {
        return;
    }
    let more = unlisted + errors.len().saturating_sub(keep + 1);
    errors.truncate(keep + 1);
    if let Some(last) = errors.last_mut()
        && more > 0
    {
        let s = if more == 1 { "" } else { "s" };
        last.message = format!(
            "{}; and {more} more error{s} in this application, not listed: {why}; correct these and send the file again",
            last.message
        );
    }
}

/// Where a field sits, `<parent>/<name>` (with `[index]` for a repeated one): a path built
/// into a string only when an issue names it, so judging a valid value allocates nothing.
#[derive(Clone, Copy)]
struct Field<'p> {
    parent: &'p str,
    name: &'p str,
    index: Option<usize>,
}

impl<'p> Field<'p> {
    fn new(parent: &'p str, name: &'p str) -> Self {
        Field {
            parent,
            name,
            index: None,
        }
    }

    /// The field's own name as messages use it (`Importer`, `@line`, `Manufacturer[2]`).
    fn name(&self) -> Cow<'p, str> {
        match self.index {
            None => Cow::Borrowed(self.name),
            Some(i) => Cow::Owned(format!("{}[{i}]", self.name)),
        }
    }
}

/// A path an issue is filed under: built from a [`Field`] only when the issue is kept.
trait IssuePath {
    fn into_path(self) -> String;
}

impl IssuePath for String {
    fn into_path(self) -> String {
        self
    }
}

impl IssuePath for Field<'_> {
    fn into_path(self) -> String {
        format!("{}/{}", self.parent, self.name())
    }
}

/// The first control character of a value and its 0-based character index. A value of
/// printable ASCII, the usual case, is passed over without decoding characters.
fn first_control(v: &str) -> Option<(usize, char)> {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t') {
        return None;
    }
    v.chars().enumerate().find(|&(_, c)| is_control(c))
}

/// Collects the errors of one application: the first [`MAX_APP_ERRORS`] + 1 in full, the rest
/// only counted (no position is computed for them).
struct Judge<'a, 'l> {
    loc: &'a Locator<'l>,
    errors: Vec<Issue>,
    unlisted: usize,
    warnings: Vec<Issue>,
}

impl Judge<'_, '_> {
    fn err(&mut self, code: Code, path: impl IssuePath, offset: usize, message: String) {
        if self.errors.len() > MAX_APP_ERRORS {
            self.unlisted += 1;
            return;
        }
        self.errors.push(Issue {
            code,
            path: path.into_path(),
            position: Some(self.loc.position(offset)),
            message,
        });
    }

    fn warn(&mut self, code: Code, path: impl IssuePath, offset: usize, message: String) {
        self.warnings.push(Issue {
            code,
            path: path.into_path(),
            position: Some(self.loc.position(offset)),
            message,
        });
    }

    /// A102 when a required value is absent; A203 for control characters; A201 when empty.
    /// Returns the value when it can be checked further.
    fn value<'t>(
        &mut self,
        t: &'t Option<Text<'_>>,
        path: Field<'_>,
        parent_offset: usize,
        required: bool,
    ) -> Option<&'t Text<'t>> {
        let name = path.name();
        match t {
            None => {
                if required {
                    self.err(
                        Code::A102,
                        path,
                        parent_offset,
                        format!("{name} is required; add it"),
                    );
                }
                None
            }
            Some(t) => {
                if let Some((i, c)) = first_control(&t.value) {
                    self.err(
                        Code::A203,
                        path,
                        t.offset,
                        format!("{name} contains the control character U+{:04X} at character {}; remove it", u32::from(c), i + 1),
                    );
                    None
                } else if t.value.is_empty() {
                    self.err(
                        Code::A201,
                        path,
                        t.offset,
                        format!("{name} is empty; give a value"),
                    );
                    None
                } else {
                    Some(t)
                }
            }
        }
    }

    /// A text of 1..=max characters.
    fn name_text(
        &mut self,
        t: &Option<Text>,
        path: Field<'_>,
        parent_offset: usize,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let t = self.value(t, path, parent_offset, required)?;
        let n = t.value.chars().count();
        if n > max {
            let name = path.name();
            self.err(
                Code::A201,
                path,
                t.offset,
                format!("{name} has {n} characters; at most {max} are allowed"),
            );
            return None;
        }
        Some(t.value.to_string())
    }

    fn pattern(
        &mut self,
        t: &Option<Text>,
        path: Field<'_>,
        parent_offset: usize,
        required: bool,
        ok: impl Fn(&str) -> bool,
        form: &str,
    ) -> Option<String> {
        let t = self.value(t, path, parent_offset, required)?;
        if !ok(&t.value) {
            let name = path.name();
            self.err(
                Code::A201,
                path,
                t.offset,
                format!("{name} {} is not valid: it must be {form}", quote(&t.value)),
            );
            return None;
        }
        Some(t.value.to_string())
    }

    fn country(
        &mut self,
        t: &Option<Text>,
        path: Field<'_>,
        parent_offset: usize,
        required: bool,
    ) -> Option<Country> {
        let t = self.value(t, path, parent_offset, required)?;
        self.country_code(t, path)
    }

    fn country_code(&mut self, t: &Text, path: Field<'_>) -> Option<Country> {
        let name = path.name();
        match Country::parse(&t.value) {
            Ok(c) => Some(c),
            Err(CountryError::NotTwoLetters) => {
                self.err(
                    Code::A201,
                    path,
                    t.offset,
                    format!("{name} {} is not a country code: give two upper-case letters (ISO 3166-1 alpha-2)", quote(&t.value)),
                );
                None
            }
            Err(CountryError::NotAssigned) => {
                self.err(
                    Code::A202,
                    path,
                    t.offset,
                    format!(
                        "{name} {} is not an ISO 3166-1 alpha-2 country code",
                        quote(&t.value)
                    ),
                );
                None
            }
        }
    }

    fn date(
        &mut self,
        t: &Option<Text>,
        path: Field<'_>,
        parent_offset: usize,
        required: bool,
    ) -> Option<(NaiveDate, usize)> {
        let t = self.value(t, path, parent_offset, required)?;
        let b = t.value.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        match NaiveDate::parse_from_str(&t.value, "%Y-%m-%d") {
            Ok(d) if shaped => Some((d, t.offset)),
            _ => {
                let name = path.name();
                self.err(
                    Code::A201,
                    path,
                    t.offset,
                    format!(
                        "{name} {} is not a date: give a real date as YYYY-MM-DD",
                        quote(&t.value)
                    ),
                );
                None
            }
        }
    }

    fn smelt(
        &mut self,
        t: &Option<Text>,
        path: Field<'_>,
        parent_offset: usize,
        filing_day: NaiveDate,
    ) -> Option<Smelt> {
        let t = self.value(t, path, parent_offset, true)?;
        match &*t.value {
            "NOT_APPLICABLE" => Some(Smelt::NotApplicable),
            "UNKNOWN" => {
                if filing_day > UNKNOWN_SMELT_LAST_DAY {
                    let name = path.name();
                    self.err(
                        Code::A310,
                        path,
                        t.offset,
                        format!("{name} UNKNOWN was accepted only until 2022-06-28; give the country where the aluminum was smelted"),
                    );
                    None
                } else {
                    Some(Smelt::Unknown)
                }
            }
            _ => self.country_code(t, path).map(Smelt::Country),
        }
    }

    fn decimal(
        &mut self,
        t: &Option<Text>,
        path: Field<'_>,
        parent_offset: usize,
        max_decimals: usize,
    ) -> Option<Decimal> {
        let t = self.value(t, path, parent_offset, true)?;
        let name = path.name();
        match parse_positive_decimal(&t.value, max_decimals) {
            Ok(d) => Some(d),
            Err(DecimalError::Malformed) => {
                self.err(
                    Code::A201,
                    path,
                    t.offset,
                    format!("{name} {} is not a decimal number: write digits with an optional '.' and fraction", quote(&t.value)),
                );
                None
            }
            Err(e) => {
                let why = match e {
                    DecimalError::NotPositive => "must be greater than zero".to_string(),
                    DecimalError::TooManyDecimals => {
                        format!("has more than {max_decimals} decimals")
                    }
                    _ => "has more than 12 integer digits".to_string(),
                };
                self.err(
                    Code::A330,
                    path,
                    t.offset,
                    format!("{name} {} {why}", quote(&t.value)),
                );
                None
            }
        }
    }
}

/// `local@domain`, a dot in the domain, at most 254 characters.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&c));
    let domain_ok = domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && !domain.contains("..")
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
    local_ok && domain_ok
}

fn is_state(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase())
}

fn is_phone(s: &str) -> bool {
    (1..=30).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_digit() || b" +-().".contains(&c))
}

fn is_port(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|c| c.is_ascii_digit())
}

fn filer(
    j: &mut Judge<'_, '_>,
    f: &Option<RawFiler>,
    app: &RawApp,
    label: &str,
    required: bool,
) -> Option<Filer> {
    let path = format!("{label}/Filer");
    let Some(f) = f else {
        if required {
            j.err(
                Code::A102,
                path,
                app.offset,
                "Filer is required; add it".into(),
            );
        }
        return None;
    };
    let p = |n: &'static str| Field::new(&path, n);
    let o = f.offset;
    let company = j.name_text(&f.company, p("Company"), o, true, 100);
    let street = j.name_text(&f.street, p("Street"), o, true, 100);
    let city = j.name_text(&f.city, p("City"), o, true, 100);
    let state = j.pattern(
        &f.state,
        p("State"),
        o,
        true,
        is_state,
        "two upper-case letters",
    );
    let postal_code = j.name_text(&f.postal_code, p("PostalCode"), o, true, 100);
    let contact_name = j.name_text(&f.contact_name, p("ContactName"), o, true, 100);
    let phone = j.pattern(
        &f.phone,
        p("Phone"),
        o,
        true,
        is_phone,
        "1 to 30 of digits, space and +-().",
    );
    let email = j.pattern(
        &f.email,
        p("Email"),
        o,
        true,
        is_email,
        "an e-mail address local@domain",
    );
    Some(Filer {
        company: company?,
        street: street?,
        city: city?,
        state: state?,
        postal_code: postal_code?,
        contact_name: contact_name?,
        phone: phone?,
        email: email?,
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "one product's rules in the spec's order"
)]
fn product(
    j: &mut Judge<'_, '_>,
    p: &RawProduct,
    app_label: &str,
    seen_lines: &mut Vec<u16>,
    filing_day: NaiveDate,
) -> Option<Product> {
    let path = format!("{app_label}/{}", p.label);
    let f = |n: &'static str| Field::new(&path, n);
    let o = p.offset;
    let line = match &p.line {
        None => {
            j.err(
                Code::A102,
                f("@line"),
                o,
                "Product needs a line attribute (1 to 999)".into(),
            );
            None
        }
        Some(t) => match j.value(&p.line, f("@line"), o, true) {
            None => None,
            Some(_) => match parse_line_number(&t.value) {
                None => {
                    j.err(
                        Code::A201,
                        f("@line"),
                        t.offset,
                        format!("line {} is not valid: give a number from 1 to 999 without leading zeros", quote(&t.value)),
                    );
                    None
                }
                Some(n) if seen_lines.contains(&n) => {
                    j.err(
                        Code::A205,
                        f("@line"),
                        t.offset,
                        format!("line {n} is used by more than one Product of this application"),
                    );
                    None
                }
                Some(n) => {
                    seen_lines.push(n);
                    Some(n)
                }
            },
        },
    };
    let hts = j
        .pattern(
            &p.hts,
            f("Hts"),
            o,
            true,
            |s| Hts::parse(s).is_some(),
            "10 digits, optionally as 1234.56.7890",
        )
        .and_then(|s| Hts::parse(&s))
        .and_then(|h| {
            if h.category().is_some() {
                return Some(h);
            }
            let off = p.hts.as_ref().map_or(o, |t| t.offset);
            j.err(
                Code::A301,
                f("Hts"),
                off,
                format!(
                    "HTS {} is not an aluminum product covered by AIM",
                    h.dotted()
                ),
            );
            None
        });
    let description = j.name_text(&p.description, f("Description"), o, true, 200);
    let largest = j.smelt(&p.largest_smelt, f("LargestSmelt"), o, filing_day);
    let second = j.smelt(&p.second_smelt, f("SecondLargestSmelt"), o, filing_day);
    let mut pair_ok = true;
    if largest == Some(Smelt::NotApplicable)
        && let Some(t) = &p.second_smelt
        && t.value != "NOT_APPLICABLE"
    {
        j.err(
            Code::A311,
            f("SecondLargestSmelt"),
            t.offset,
            "LargestSmelt is NOT_APPLICABLE (secondary aluminum only), so SecondLargestSmelt must be NOT_APPLICABLE too".into(),
        );
        pair_ok = false;
    }
    if let (Some(Smelt::Country(a)), Some(Smelt::Country(b))) = (largest, second)
        && a == b
    {
        let off = p.second_smelt.as_ref().map_or(o, |t| t.offset);
        j.err(
            Code::A312,
            f("SecondLargestSmelt"),
            off,
            format!("SecondLargestSmelt {a} is the same country as LargestSmelt; give a different country or NOT_APPLICABLE"),
        );
        pair_ok = false;
    }
    let cast = match j.value(&p.cast, f("MostRecentCast"), o, true) {
        Some(t) if t.value == "NOT_APPLICABLE" || t.value == "UNKNOWN" => {
            j.err(
                Code::A313,
                f("MostRecentCast"),
                t.offset,
                format!(
                    "MostRecentCast must be the country where the metal was last cast, not {}",
                    t.value
                ),
            );
            None
        }
        Some(t) => j.country_code(t, f("MostRecentCast")),
        None => None,
    };
    let quantity = j.decimal(&p.quantity, f("QuantityKg"), o, 3);
    let value = j.decimal(&p.value, f("CustomsValueUsd"), o, 2);
    Some(Product {
        line: line?,
        hts: hts?,
        description: description?,
        largest_smelt: largest.filter(|_| pair_ok)?,
        second_smelt: second?,
        cast: cast?,
        quantity: Kg(quantity?),
        value: Usd(value?),
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "an application's rules in the spec's order, read top to bottom against section 3"
)]
fn judge_app(
    app: &RawApp,
    dup_ids: &HashMap<&str, usize>,
    loc: &Locator<'_>,
    cx: &FileContext<'_>,
    sender: &str,
    ledger: &dyn Ledger,
) -> LedgerResult<(AppVerdict, usize)> {
    let mut j = Judge {
        loc,
        errors: Vec::new(),
        unlisted: app.problems_unlisted,
        warnings: Vec::new(),
    };
    for p in &app.problems {
        j.err(p.code, p.path.clone(), p.offset, p.message.clone());
    }
    let label = app.label.as_str();
    let at = |n: &'static str| Field::new(label, n);
    let day = cx.filing_day;

    // Attributes.
    let id = j.pattern(
        &app.id,
        at("@id"),
        app.offset,
        true,
        is_valid_app_id,
        "1 to 35 of A-Z, a-z, 0-9, _ and -",
    );
    if let Some(id) = &id
        && dup_ids.contains_key(id.as_str())
    {
        let off = app.id.as_ref().map_or(app.offset, |t| t.offset);
        j.err(
            Code::A205,
            at("@id"),
            off,
            format!(
                "id {id} is used by more than one Application in this file; give each its own id"
            ),
        );
    }
    let action = match j.value(&app.action, at("@action"), app.offset, true) {
        Some(t) => match Action::parse(&t.value) {
            Some(a) => Some(a),
            None => {
                j.err(
                    Code::A201,
                    at("@action"),
                    t.offset,
                    format!(
                        "action {} is not valid: use new, correct or cancel",
                        quote(&t.value)
                    ),
                );
                None
            }
        },
        None => None,
    };
    let mut license = None;
    match (action, &app.license) {
        (Some(Action::New), Some(t)) => j.err(
            Code::A101,
            at("@license"),
            t.offset,
            "a new application carries no license attribute; remove it, or use action=\"correct\""
                .into(),
        ),
        (Some(Action::New), None) => {}
        (_, lic) => {
            let required = action.is_some();
            if let Some(s) = j.pattern(
                lic,
                at("@license"),
                app.offset,
                required,
                |s| LicenseNumber::parse(s).is_some(),
                "a license number AIM-YYYY-NNNNNNN-C with a correct check digit",
            ) {
                license = LicenseNumber::parse(&s);
            }
        }
    }

    let data_required = matches!(action, Some(Action::New) | Some(Action::Correct));
    let mut data = None;
    let mut reason = None;
    if action == Some(Action::Cancel) || action.is_none() {
        reason = j.name_text(&app.reason, at("Reason"), app.offset, action.is_some(), 200);
    }
    if data_required || action.is_none() {
        data = license_data(&mut j, app, label, data_required, day, cx.settings);
    }

    // The store's view of the license a correction or cancellation names.
    if let (Some(Action::Correct | Action::Cancel), Some(n)) = (action, license)
        && ledger.is_online()
    {
        let off = app.license.as_ref().map_or(app.offset, |t| t.offset);
        match ledger.license(sender, n)? {
            None => j.err(
                Code::A401,
                at("@license"),
                off,
                format!("license {n} was not issued to {sender}; check the number"),
            ),
            Some(f) if f.cancelled => j.err(
                Code::A402,
                at("@license"),
                off,
                format!("license {n} is already cancelled"),
            ),
            Some(f) if day > f.valid_through => j.err(
                Code::A403,
                at("@license"),
                off,
                format!(
                    "license {n} expired on {}; apply for a new license",
                    f.valid_through
                ),
            ),
            Some(_) => {}
        }
    }

    // Warnings. W301 needs only readable values, so it shows beside other errors too.
    if data_required
        && let Some(total) = total_value(app)
        && total < INFORMAL_LIMIT_USD
    {
        j.warn(
            Code::W301,
            label.to_owned(),
            app.offset,
            format!("the total customs value {} USD is under 2,500 USD: an informal entry needs no license", fixed(total, 2)),
        );
    }
    if let Some(d) = &data {
        for (p, raw) in d.products.iter().zip(&app.products) {
            if let Some(median) = ledger.unit_value_median(p.hts.hts6(), day)? {
                let uv = p.unit_value();
                let five = Decimal::from(5);
                if uv > median * five || uv * five < median {
                    j.warn(
                        Code::W310,
                        format!("{label}/{}", raw.label),
                        raw.value.as_ref().map_or(raw.offset, |t| t.offset),
                        format!(
                            "unit value {} USD/t is more than five times above or below the 90-day median {} USD/t for HTS {}",
                            fixed(uv, 2),
                            fixed(median, 2),
                            p.hts.hts6()
                        ),
                    );
                }
            }
        }
    }

    let rejected = !j.errors.is_empty();
    let mut held_for = Vec::new();
    if !rejected
        && cx.settings.apply_review
        && let Some(d) = &data
    {
        for p in &d.products {
            let line = format!("{label}/Product[{}]", p.line);
            let mut watch = |code: HoldCode, field: &str, what: &str, c: Country| {
                if cx.settings.watch_countries.contains(&c) {
                    let hold = Hold {
                        code,
                        path: format!("{line}/{field}"),
                        detail: format!("{what} {c} is on the watch list"),
                    };
                    if !held_for.contains(&hold) {
                        held_for.push(hold);
                    }
                }
            };
            if let Smelt::Country(c) = p.largest_smelt {
                watch(HoldCode::R501, "LargestSmelt", "largest smelt country", c);
            }
            if let Smelt::Country(c) = p.second_smelt {
                watch(
                    HoldCode::R501,
                    "SecondLargestSmelt",
                    "second largest smelt country",
                    c,
                );
            }
            watch(HoldCode::R502, "MostRecentCast", "cast country", p.cast);
        }
        if cx.settings.unit_value_outliers {
            for w in j.warnings.iter().filter(|w| w.code == Code::W310) {
                held_for.push(Hold {
                    code: HoldCode::R510,
                    path: w.path.clone(),
                    detail: w.message.clone(),
                });
            }
        }
    }
    let status = match (rejected, action, held_for.is_empty()) {
        (true, _, _) | (_, None, _) => AppStatus::Rejected,
        (false, Some(Action::Cancel), _) => AppStatus::Cancelled,
        (false, Some(_), false) => AppStatus::PendingReview,
        (false, Some(Action::New), true) => AppStatus::Issued,
        (false, Some(Action::Correct), true) => AppStatus::Corrected,
    };
    Ok((
        AppVerdict {
            id,
            position: app.position,
            action,
            status,
            license,
            data: if status == AppStatus::Rejected {
                None
            } else {
                data
            },
            reason: if status == AppStatus::Rejected {
                None
            } else {
                reason
            },
            errors: j.errors,
            warnings: j.warnings,
            held_for,
        },
        j.unlisted,
    ))
}

/// The sum of the application's customs values, when every one of them is valid.
fn total_value(app: &RawApp) -> Option<Decimal> {
    if app.products.is_empty() {
        return None;
    }
    app.products.iter().try_fold(Decimal::ZERO, |sum, p| {
        let t = p.value.as_ref()?;
        parse_positive_decimal(&t.value, 2).ok().map(|v| sum + v)
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "one field after another of the stored license"
)]
fn license_data(
    j: &mut Judge<'_, '_>,
    app: &RawApp,
    label: &str,
    required: bool,
    day: NaiveDate,
    settings: &RuleSettings,
) -> Option<LicenseData> {
    let at = |n: &'static str| Field::new(label, n);
    let o = app.offset;
    let filer = filer(j, &app.filer, app, label, required);
    let entry_type = j
        .value(&app.entry_type, at("EntryType"), o, required)
        .and_then(|t| match &*t.value {
            "consumption" => Some(EntryType::Consumption),
            "ftz" => Some(EntryType::Ftz),
            other => {
                j.err(
                    Code::A201,
                    at("EntryType"),
                    t.offset,
                    format!(
                        "EntryType {} is not valid: use consumption or ftz",
                        quote(other)
                    ),
                );
                None
            }
        });
    let mut entry_ok = true;
    let entry_number = match j.value(&app.entry_number, at("EntryNumber"), o, false) {
        None => {
            entry_ok = app.entry_number.is_none();
            None
        }
        Some(t) => match EntryNumber::parse(&t.value) {
            Ok(e) => Some(e),
            Err(EntryNumberError::Malformed) => {
                j.err(
                    Code::A201,
                    at("EntryNumber"),
                    t.offset,
                    format!(
                        "EntryNumber {} is not valid: it must be XXX-NNNNNNN-C",
                        quote(&t.value)
                    ),
                );
                entry_ok = false;
                None
            }
            Err(EntryNumberError::CheckDigit { expected }) => {
                j.err(
                    Code::A204,
                    at("EntryNumber"),
                    t.offset,
                    format!("EntryNumber {} has a wrong check digit (expected {expected}); check the number", quote(&t.value)),
                );
                entry_ok = false;
                None
            }
        },
    };
    let importer = j.name_text(&app.importer, at("Importer"), o, required, 100);
    let exporter = j.name_text(&app.exporter, at("Exporter"), o, required, 100);

    // Manufacturers: 1..10 names, or UNKNOWN alone. Entries past the 10th were A103 already.
    let mut manufacturers = Vec::new();
    let mut manu_ok = true;
    if app.manufacturers.is_empty() && required {
        j.err(
            Code::A102,
            at("Manufacturer"),
            o,
            "Manufacturer is required; add at least one (or UNKNOWN)".into(),
        );
        manu_ok = false;
    }
    let listed = app.manufacturers.len();
    for (i, m) in app.manufacturers.iter().take(10).enumerate() {
        let path = Field {
            index: Some(i + 1),
            ..Field::new(label, "Manufacturer")
        };
        match j.name_text(&Some(m.clone()), path, o, true, 100) {
            Some(name) if name == "UNKNOWN" && listed > 1 => {
                j.err(
                    Code::A201,
                    path,
                    m.offset,
                    "UNKNOWN must stand alone: list every manufacturer, or only UNKNOWN".into(),
                );
                manu_ok = false;
            }
            Some(name) => manufacturers.push(name),
            None => manu_ok = false,
        }
    }
    if listed > 10 {
        manu_ok = false;
    }
    let manufacturers = if manufacturers.len() == 1 && manufacturers[0] == "UNKNOWN" {
        Manufacturers::Unknown
    } else {
        Manufacturers::Named(manufacturers)
    };

    let origin = j.country(&app.origin, at("CountryOfOrigin"), o, required);
    let export_country = j.country(&app.export_country, at("CountryOfExportation"), o, required);
    let export_date = j.date(&app.export_date, at("ExpectedExportDate"), o, required);
    let import_date = j.date(&app.import_date, at("ExpectedImportDate"), o, required);
    let mut dates_ok = true;
    if let Some((imp, off)) = import_date {
        let ahead = (imp - day).num_days();
        if ahead > MAX_DAYS_AHEAD {
            j.err(
                Code::A320,
                at("ExpectedImportDate"),
                off,
                format!("ExpectedImportDate {imp} is {ahead} days after the day of filing {day}; apply at most {MAX_DAYS_AHEAD} days before import"),
            );
            dates_ok = false;
        } else if -ahead > settings.import_past_days {
            j.err(
                Code::A321,
                at("ExpectedImportDate"),
                off,
                format!(
                    "ExpectedImportDate {imp} is {} days before the day of filing {day}; at most {} days are accepted",
                    -ahead, settings.import_past_days
                ),
            );
            dates_ok = false;
        }
    }
    if let (Some((exp, off)), Some((imp, _))) = (export_date, import_date)
        && exp > imp
    {
        j.err(
            Code::A322,
            at("ExpectedExportDate"),
            off,
            format!("ExpectedExportDate {exp} is after ExpectedImportDate {imp}"),
        );
        dates_ok = false;
    }
    let port = j.pattern(
        &app.port,
        at("PortOfEntry"),
        o,
        required,
        is_port,
        "a 4-digit CBP port code",
    );

    // Products.
    if !app.product_seen && required {
        j.err(
            Code::A102,
            at("Product"),
            o,
            "at least one Product is required".into(),
        );
    }
    // A205 goes to each repetition of a line number, not to its first use.
    let mut seen_lines: Vec<u16> = Vec::new();
    let mut products = Vec::with_capacity(app.products.len());
    let mut products_ok = app.product_seen && app.products.len() <= 999;
    for p in &app.products {
        match product(j, p, label, &mut seen_lines, day) {
            Some(p) => products.push(p),
            None => products_ok = false,
        }
    }
    let data = LicenseData {
        filer: filer?,
        entry_type: entry_type?,
        entry_number,
        importer: importer?,
        exporter: exporter?,
        manufacturers,
        origin: origin?,
        export_country: export_country?,
        export_date: export_date?.0,
        import_date: import_date?.0,
        port: port?,
        products,
    };
    (entry_ok && manu_ok && dates_ok && products_ok).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(file_error: bool, statuses: &[AppStatus]) -> Verdict {
        Verdict {
            file_error: file_error.then(|| file_issue(Code::F001, "", None, "x".into())),
            sender_id: None,
            control_number: None,
            control_value: None,
            apps: statuses
                .iter()
                .enumerate()
                .map(|(position, &status)| AppVerdict {
                    id: None,
                    position,
                    action: None,
                    status,
                    license: None,
                    data: None,
                    reason: None,
                    errors: Vec::new(),
                    warnings: Vec::new(),
                    held_for: Vec::new(),
                })
                .collect(),
        }
    }

    /// One status of a file, from its verdict: a file-level error or no accepted application
    /// is rejected, some rejected is partial (spec section 4).
    #[test]
    fn file_status_from_the_verdict() {
        use AppStatus::*;
        for (file_error, apps, want) in [
            (true, &[Issued][..], FileStatus::Rejected),
            (false, &[], FileStatus::Rejected),
            (false, &[Rejected, Rejected], FileStatus::Rejected),
            (false, &[Issued, Rejected], FileStatus::Partial),
            (false, &[PendingReview, Rejected], FileStatus::Partial),
            (false, &[Issued, Corrected, Cancelled], FileStatus::Accepted),
            (false, &[PendingReview], FileStatus::Accepted),
        ] {
            let v = verdict(file_error, apps);
            assert_eq!(v.status(), want, "{file_error} {apps:?}");
            assert_eq!(v.status().as_str(), want.as_str());
        }
    }

    /// Receipts store the status by these names; databases written before keep reading.
    #[test]
    fn file_status_keeps_its_stored_names() {
        for (s, name) in [
            (FileStatus::Accepted, "\"accepted\""),
            (FileStatus::Partial, "\"partial\""),
            (FileStatus::Rejected, "\"rejected\""),
        ] {
            assert_eq!(serde_json::to_string(&s).unwrap(), name);
            assert_eq!(serde_json::from_str::<FileStatus>(name).unwrap(), s);
        }
    }
}
