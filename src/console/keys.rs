//! The keymap: one table per screen that the key dispatch reads ([`lookup`]) and the help
//! overlay and footer print ([`help`]), so what the help says is what the keys do. A key a
//! role may not use is shown disabled with why.

use super::app::{RoleLevel, Screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does; each screen's handler gets the command, never the raw key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Help,
    Quit,
    Search,
    NextScreen,
    PrevScreen,
    /// `1`..`7`: the screen of that number.
    GoTo,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Left,
    Right,
    Open,
    Back,
    Refresh,
    Sort,
    Reverse,
    Cancel,
    Resend,
    Retry,
    Mark,
    MarkAll,
    Filter,
    Approve,
    Reject,
    Period,
    Dimension,
    Preview,
    /// Publish the public monitor now.
    Publish,
    Export,
    /// Times in local time or UTC.
    Clock,
    /// A key of a text field (documented here, handled by the line editor).
    Edit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The keys as the help writes them.
    pub key: &'static str,
    /// The keys that do it (without Ctrl or Alt, unless `ctrl`).
    pub codes: &'static [KeyCode],
    pub cmd: Cmd,
    pub what: &'static str,
    /// The role the daemon asks for (viewer: anyone on the staff list).
    pub needs: RoleLevel,
    /// Shown in the footer.
    pub footer: bool,
}

use Cmd::*;
use KeyCode::{
    BackTab, Backspace, Char, Down as KDown, End as KEnd, Enter, Esc, Home as KHome, Left as KLeft,
    PageDown as KPageDown, PageUp as KPageUp, Right as KRight, Tab, Up as KUp,
};
use RoleLevel::{Reviewer, Supervisor, Viewer};

const fn b(
    key: &'static str,
    codes: &'static [KeyCode],
    cmd: Cmd,
    what: &'static str,
    needs: RoleLevel,
    footer: bool,
) -> Binding {
    Binding {
        key,
        codes,
        cmd,
        what,
        needs,
        footer,
    }
}

const UPDOWN: &[KeyCode] = &[KUp, KDown, Char('k'), Char('j')];
const DOWN: &[KeyCode] = &[KDown, Char('j')];
const LEFT: &[KeyCode] = &[KLeft, Char('h')];
const RIGHT: &[KeyCode] = &[KRight, Char('l')];

/// The keys every screen honours (spec section 9), after the screen's own.
pub const COMMON: &[Binding] = &[
    b(
        "?",
        &[Char('?')],
        Help,
        "help for this screen",
        Viewer,
        true,
    ),
    b("q", &[Char('q')], Quit, "quit", Viewer, true),
    b(
        "/",
        &[Char('/')],
        Search,
        "search licenses (number, entry, importer, sender, control number)",
        Viewer,
        true,
    ),
    b("Tab", &[Tab], NextScreen, "next screen", Viewer, true),
    b(
        "Shift-Tab",
        &[BackTab],
        PrevScreen,
        "previous screen",
        Viewer,
        false,
    ),
    b(
        "1-7",
        &[
            Char('1'),
            Char('2'),
            Char('3'),
            Char('4'),
            Char('5'),
            Char('6'),
            Char('7'),
        ],
        GoTo,
        "go to a screen (or click its tab)",
        Viewer,
        false,
    ),
    b(
        "t",
        &[Char('t')],
        Clock,
        "times in local time / in UTC",
        Viewer,
        false,
    ),
];

/// Movement in a list, shared by the list screens.
const fn list(what: &'static str) -> [Binding; 4] {
    [
        b("Up/Down j/k", UPDOWN, Up, what, Viewer, false),
        b(
            "PgUp/PgDn",
            &[KPageUp, KPageDown],
            PageUp,
            "a page",
            Viewer,
            false,
        ),
        b(
            "Home/End",
            &[KHome, KEnd],
            Home,
            "first / last row",
            Viewer,
            false,
        ),
        b(
            "mouse",
            &[],
            Edit,
            "click a row to select it, wheel to scroll",
            Viewer,
            false,
        ),
    ]
}

const DASHBOARD: &[Binding] = &{
    let l = list("select a recent filing");
    [
        l[0],
        l[1],
        l[2],
        l[3],
        b(
            "Enter",
            &[Enter],
            Open,
            "open the selected filing's file",
            Viewer,
            true,
        ),
        b("r", &[Char('r')], Refresh, "refresh now", Viewer, false),
    ]
};

const BROWSER: &[Binding] = &{
    let l = list("select a license");
    [
        b(
            "/",
            &[Char('/')],
            Search,
            "edit the search: status= sender= country= hts= day= importer= entry= license= control=, or words",
            Viewer,
            true,
        ),
        b(
            "Ctrl+U Ctrl+W",
            &[],
            Edit,
            "in the search: clear it / delete its last word",
            Viewer,
            false,
        ),
        l[0],
        l[1],
        l[2],
        l[3],
        b("Enter", &[Enter], Open, "open the license", Viewer, true),
        b("Esc", &[Esc], Back, "clear the search", Viewer, false),
        b(
            "s",
            &[Char('s')],
            Sort,
            "sort: number, importer, sender, day",
            Viewer,
            true,
        ),
        b(
            "o",
            &[Char('o')],
            Reverse,
            "reverse the order",
            Viewer,
            false,
        ),
        b(
            "r",
            &[Char('r')],
            Refresh,
            "read the rows again",
            Viewer,
            false,
        ),
        b(
            "e",
            &[Char('e')],
            Export,
            "export the list (the whole query) to a CSV file",
            Viewer,
            true,
        ),
        b(
            "c",
            &[Char('c')],
            Cancel,
            "cancel the selected license",
            Supervisor,
            true,
        ),
    ]
};

const DETAIL: &[Binding] = &[
    b("Up/Down j/k", UPDOWN, Up, "scroll", Viewer, false),
    b(
        "PgUp/PgDn",
        &[KPageUp, KPageDown],
        PageUp,
        "scroll a page",
        Viewer,
        false,
    ),
    b("Home/End", &[KHome, KEnd], Home, "top / end", Viewer, false),
    b(
        "c",
        &[Char('c')],
        Cancel,
        "cancel this license (with a reason)",
        Supervisor,
        true,
    ),
    b(
        "m",
        &[Char('m')],
        Resend,
        "mail the newest ack again",
        Supervisor,
        true,
    ),
    b("r", &[Char('r')], Refresh, "read it again", Viewer, false),
    b(
        "Esc",
        &[Esc],
        Back,
        "back to where it was opened",
        Viewer,
        true,
    ),
];

const REJECTIONS: &[Binding] = &{
    let l = list("select");
    [
        b(
            "Left/Right h/l",
            &[KLeft, KRight, Char('h'), Char('l')],
            Left,
            "codes / senders / files",
            Viewer,
            true,
        ),
        l[0],
        l[1],
        l[2],
        l[3],
        b(
            "Enter",
            &[Enter],
            Open,
            "the files of a code or sender; a file's detail",
            Viewer,
            true,
        ),
        b("Esc", &[Esc], Back, "close the files", Viewer, false),
        b(
            "d",
            &[Char('d')],
            Period,
            "period: 1, 7, 30 days",
            Viewer,
            true,
        ),
        b("r", &[Char('r')], Refresh, "refresh", Viewer, false),
    ]
};

const MAIL: &[Binding] = &{
    let l = list("select");
    [
        l[0],
        l[1],
        l[2],
        l[3],
        b(
            "Enter",
            &[Enter],
            Open,
            "the whole message and its last SMTP error",
            Viewer,
            true,
        ),
        b(
            "R",
            &[Char('R')],
            Retry,
            "retry the selected dead letter",
            Supervisor,
            true,
        ),
        b("r", &[Char('r')], Refresh, "refresh", Viewer, false),
    ]
};

const REVIEW: &[Binding] = &{
    let l = list("select (oldest first)");
    [
        l[0],
        l[1],
        l[2],
        l[3],
        b(
            "Space",
            &[Char(' ')],
            Mark,
            "mark / unmark the selected, then move down",
            Viewer,
            true,
        ),
        b(
            "A",
            &[Char('A')],
            MarkAll,
            "mark every row shown (again: unmark all)",
            Viewer,
            true,
        ),
        b(
            "f",
            &[Char('f')],
            Filter,
            "filter: type a code, a country, an HTS or a sender",
            Viewer,
            true,
        ),
        b(
            "a",
            &[Char('a')],
            Approve,
            "approve the marked (or the selected)",
            Reviewer,
            true,
        ),
        b(
            "x",
            &[Char('x')],
            Reject,
            "reject the marked (or the selected), with a reason",
            Reviewer,
            true,
        ),
        b("Enter", &[Enter], Open, "open the file", Viewer, false),
        b(
            "Esc",
            &[Esc],
            Back,
            "unmark all, clear the filter",
            Viewer,
            false,
        ),
        b("r", &[Char('r')], Refresh, "refresh", Viewer, false),
    ]
};

const MONITOR: &[Binding] = &{
    let l = list("select a key (its 12-month trend)");
    [
        b(
            "Left/Right h/l",
            &[KLeft, KRight, Char('h'), Char('l')],
            Left,
            "month",
            Viewer,
            true,
        ),
        b("d", &[Char('d')], Dimension, "dimension", Viewer, true),
        l[0],
        l[1],
        l[2],
        l[3],
        b(
            "p",
            &[Char('p')],
            Preview,
            "preview the public export ((D) where suppressed)",
            Viewer,
            true,
        ),
        b(
            "P",
            &[Char('P')],
            Publish,
            "publish the public monitor now (asks first)",
            Supervisor,
            true,
        ),
        b("r", &[Char('r')], Refresh, "refresh", Viewer, false),
    ]
};

/// The search box's keys while it is being edited (before anything else).
pub const SEARCH_EDIT: &[Binding] = &[
    b(
        "Enter/Esc",
        &[Enter, Esc],
        Back,
        "done editing",
        Viewer,
        true,
    ),
    b(
        "Tab",
        &[Tab],
        NextScreen,
        "done, next screen",
        Viewer,
        false,
    ),
    b(
        "Backspace",
        &[Backspace],
        Edit,
        "delete a character",
        Viewer,
        false,
    ),
];

/// The keys of one screen, besides [`COMMON`].
pub fn of(screen: Screen) -> &'static [Binding] {
    match screen {
        Screen::Dashboard => DASHBOARD,
        Screen::Browser => BROWSER,
        Screen::Detail => DETAIL,
        Screen::Rejections => REJECTIONS,
        Screen::Mail => MAIL,
        Screen::Review => REVIEW,
        Screen::Monitor => MONITOR,
    }
}

/// The screen's bindings, then the common ones it does not take over: each key once.
pub fn help(screen: Screen) -> Vec<&'static Binding> {
    let own = of(screen);
    let mut v: Vec<&Binding> = own.iter().collect();
    for c in COMMON {
        let taken = own.iter().any(|o| o.key == c.key)
            || c.codes
                .iter()
                .any(|k| own.iter().any(|o| o.codes.contains(k)));
        if !taken {
            v.push(c);
        }
    }
    v
}

/// The command a key gives on `screen`: the screen's own table first, then the common one.
/// A key with Ctrl or Alt is no command (text fields take Ctrl+U and Ctrl+W themselves).
pub fn lookup(screen: Screen, k: &KeyEvent) -> Option<Cmd> {
    if k.modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    find(of(screen).iter().chain(COMMON), k.code)
}

/// The command of `code` in `table`, with the direction the shared rows stand for.
pub fn find<'a>(table: impl IntoIterator<Item = &'a Binding>, code: KeyCode) -> Option<Cmd> {
    let b = table.into_iter().find(|b| b.codes.contains(&code))?;
    Some(match (b.cmd, code) {
        (Up, c) if DOWN.contains(&c) => Down,
        (Up, _) => Up,
        (PageUp, KPageDown) => PageDown,
        (Home, KEnd) => End,
        (Left, c) if RIGHT.contains(&c) => Right,
        (Left, c) if LEFT.contains(&c) => Left,
        (cmd, _) => cmd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_once_per_screen_and_does_what_its_line_says() {
        for s in Screen::ALL {
            let h = help(s);
            let mut seen = std::collections::BTreeSet::new();
            for b in &h {
                assert!(seen.insert(b.key), "{s:?} lists {} twice", b.key);
                for c in b.codes {
                    let k = KeyEvent::new(*c, KeyModifiers::NONE);
                    let got = lookup(s, &k).expect("a listed key is a command");
                    let first = h.iter().find(|x| x.codes.contains(c)).unwrap();
                    assert_eq!(first.key, b.key, "{s:?}: {c:?} is listed under two lines");
                    assert!(
                        got == b.cmd || matches!(b.cmd, Up | PageUp | Home | Left),
                        "{s:?}: {c:?} does {got:?}, the help says {:?}",
                        b.cmd
                    );
                }
            }
        }
        assert_eq!(
            lookup(Screen::Review, &KeyEvent::new(KDown, KeyModifiers::NONE)),
            Some(Down)
        );
        assert_eq!(
            lookup(Screen::Review, &KeyEvent::new(KUp, KeyModifiers::NONE)),
            Some(Up)
        );
    }
}
