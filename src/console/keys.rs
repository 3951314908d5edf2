//! The keys of each screen, in one table: the help overlay lists them, the footer shows the
//! main ones, and a key a role may not use is shown disabled with why.

use super::app::{RoleLevel, Screen};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub key: &'static str,
    pub what: &'static str,
    /// The role the daemon asks for (viewer: anyone on the staff list).
    pub needs: RoleLevel,
    /// Shown in the footer.
    pub footer: bool,
}

const fn b(key: &'static str, what: &'static str, needs: RoleLevel, footer: bool) -> Binding {
    Binding {
        key,
        what,
        needs,
        footer,
    }
}

use RoleLevel::{Reviewer, Supervisor, Viewer};

/// The keys every screen honours (spec section 9).
pub const COMMON: [Binding; 8] = [
    b("?", "this help", Viewer, true),
    b("q", "quit", Viewer, true),
    b(
        "/",
        "search licenses (number, entry, importer, sender, control number)",
        Viewer,
        true,
    ),
    b("Enter", "open what is selected", Viewer, false),
    b("Esc", "back, or close", Viewer, false),
    b("Tab", "next screen", Viewer, true),
    b("Shift-Tab", "previous screen", Viewer, false),
    b("1-7", "go to a screen", Viewer, false),
];

/// The keys of one screen, besides [`COMMON`].
pub fn of(screen: Screen) -> &'static [Binding] {
    match screen {
        Screen::Dashboard => {
            const {
                &[
                    b("Up/Down", "select a recent filing", Viewer, false),
                    b("Enter", "open the selected filing's file", Viewer, false),
                    b("r", "refresh now", Viewer, false),
                ]
            }
        }
        Screen::Browser => {
            const {
                &[
                    b(
                        "/",
                        "edit the search: status= sender= country= hts= day= importer= entry= license= control=, or words",
                        Viewer,
                        false,
                    ),
                    b(
                        "Ctrl+U Ctrl+W",
                        "in the search: clear it / delete its last word",
                        Viewer,
                        false,
                    ),
                    b("Up/Down PgUp/PgDn", "scroll", Viewer, true),
                    b("Home/End", "first / last row", Viewer, false),
                    b("s", "sort: number, importer, sender, day", Viewer, true),
                    b("o", "reverse the order", Viewer, false),
                    b("Enter", "open the license", Viewer, true),
                    b("c", "cancel the selected license", Supervisor, true),
                ]
            }
        }
        Screen::Detail => {
            const {
                &[
                    b("Up/Down PgUp/PgDn", "scroll", Viewer, true),
                    b("c", "cancel this license (with a reason)", Supervisor, true),
                    b("m", "mail the newest ack again", Supervisor, true),
                    b("Esc", "back to where it was opened", Viewer, true),
                ]
            }
        }
        Screen::Rejections => {
            const {
                &[
                    b("Left/Right", "codes / senders / files", Viewer, true),
                    b("Up/Down", "select", Viewer, false),
                    b(
                        "Enter",
                        "the files of a code or sender; a file's detail",
                        Viewer,
                        true,
                    ),
                    b("d", "period: 1, 7, 30 days", Viewer, true),
                    b("r", "refresh", Viewer, false),
                ]
            }
        }
        Screen::Mail => {
            const {
                &[
                    b("Up/Down", "select", Viewer, false),
                    b(
                        "Enter",
                        "the whole message and its last SMTP error",
                        Viewer,
                        true,
                    ),
                    b("R", "retry the selected dead letter", Supervisor, true),
                    b("r", "refresh", Viewer, false),
                ]
            }
        }
        Screen::Review => {
            const {
                &[
                    b("Up/Down", "select (oldest first)", Viewer, false),
                    b(
                        "Space",
                        "mark / unmark for a decision on several",
                        Viewer,
                        true,
                    ),
                    b("a", "approve the marked (or the selected)", Reviewer, true),
                    b(
                        "x",
                        "reject the marked (or the selected), with a reason",
                        Reviewer,
                        true,
                    ),
                    b("r", "refresh", Viewer, false),
                ]
            }
        }
        Screen::Monitor => {
            const {
                &[
                    b("Left/Right", "month", Viewer, true),
                    b("d", "dimension", Viewer, true),
                    b(
                        "Up/Down",
                        "select a key (its 12-month trend)",
                        Viewer,
                        false,
                    ),
                    b(
                        "p",
                        "preview the public export ((D) where suppressed)",
                        Viewer,
                        true,
                    ),
                    b("r", "refresh", Viewer, false),
                ]
            }
        }
    }
}
