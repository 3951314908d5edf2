//! One license (fields, products, history, audit) and the file that issued it, or one file:
//! scrolled, cancelled, its newest ack mailed again.

use super::{ask, send};
use crate::api::Request;
use crate::api::views::{AuditView, LicenseView, ReceiptView};
use crate::console::app::*;
use crate::console::keys::Cmd;
use crate::console::update::{Action, Tag};

pub fn enter(_app: &mut App) -> Vec<Action> {
    Vec::new()
}

pub fn open_license(app: &mut App, license: String, back: Screen) -> Vec<Action> {
    app.detail = Detail {
        loading: Some(format!("license {license}")),
        back: Some(back),
        ..Detail::default()
    };
    app.screen = Screen::Detail;
    license_requests(license)
}

fn license_requests(license: String) -> Vec<Action> {
    vec![
        send(
            Tag::License,
            Request::LicenseShow {
                license: license.clone(),
            },
        ),
        send(
            Tag::Audit,
            Request::Audit {
                license: Some(license),
                limit: 50,
            },
        ),
    ]
}

pub fn open_receipt(app: &mut App, sender: String, sha256: String, back: Screen) -> Vec<Action> {
    app.detail = Detail {
        loading: Some(format!(
            "file {} of {sender}",
            &sha256[..sha256.len().min(12)]
        )),
        back: Some(back),
        ..Detail::default()
    };
    app.screen = Screen::Detail;
    vec![send(Tag::Receipt, Request::Receipt { sender, sha256 })]
}

/// What is open, read again (the scroll stays).
pub fn reload(app: &mut App) -> Vec<Action> {
    let d = &app.detail;
    if let Some(l) = &d.license {
        return license_requests(l.license.clone());
    }
    if let Some(r) = &d.receipt {
        return vec![send(
            Tag::Receipt,
            Request::Receipt {
                sender: r.sender.clone(),
                sha256: r.sha256.clone(),
            },
        )];
    }
    Vec::new()
}

pub fn key(app: &mut App, cmd: Cmd) -> Vec<Action> {
    let page = crate::console::render::cells(app.page_rows());
    let last = crate::console::render::detail_last_scroll(app);
    let d = &mut app.detail;
    match cmd {
        Cmd::Back => {
            let back = d.back.unwrap_or(Screen::Browser);
            super::go(app, back)
        }
        Cmd::Up => {
            d.scroll = d.scroll.saturating_sub(1);
            Vec::new()
        }
        Cmd::Down => {
            d.scroll = d.scroll.saturating_add(1).min(last);
            Vec::new()
        }
        Cmd::PageUp => {
            d.scroll = d.scroll.saturating_sub(page);
            Vec::new()
        }
        Cmd::PageDown => {
            d.scroll = d.scroll.saturating_add(page).min(last);
            Vec::new()
        }
        Cmd::Home => {
            d.scroll = 0;
            Vec::new()
        }
        Cmd::End => {
            d.scroll = last;
            Vec::new()
        }
        Cmd::Refresh => reload(app),
        Cmd::Cancel => match &d.license {
            Some(l) => {
                let license = l.license.clone();
                ask(app, Pending::Cancel { license })
            }
            None => {
                app.say("c cancels a license: open one from Filings & licenses".to_string());
                Vec::new()
            }
        },
        Cmd::Resend => match &d.receipt {
            Some(r) => match r.acks.iter().max_by_key(|a| a.seq) {
                Some(a) => {
                    let p = Pending::Resend {
                        sender: r.sender.clone(),
                        sha256: r.sha256.clone(),
                        seq: a.seq,
                        ack: a.name.clone(),
                    };
                    ask(app, p)
                }
                None => Vec::new(),
            },
            None => {
                app.say("no file loaded to mail an ack of".to_string());
                Vec::new()
            }
        },
        _ => Vec::new(),
    }
}

pub fn license(app: &mut App, l: LicenseView) -> Vec<Action> {
    let issuing = l
        .history
        .iter()
        .find(|h| h.action == crate::store::LicenseAction::Issued)
        .map(|h| (l.sender.clone(), h.file_sha256.clone()));
    app.detail.license = Some(l);
    app.detail.loading = None;
    app.detail.error = None;
    if let Some((sender, sha256)) = issuing {
        return vec![send(Tag::Receipt, Request::Receipt { sender, sha256 })];
    }
    Vec::new()
}

pub fn audit(app: &mut App, a: Vec<AuditView>) {
    app.detail.audit = a;
}

pub fn receipt(app: &mut App, r: ReceiptView) {
    app.detail.receipt = Some(r);
    app.detail.loading = None;
    let last = crate::console::render::detail_last_scroll(app);
    app.detail.scroll = app.detail.scroll.min(last);
}

/// Something changed: what is open is read again if it is shown, else when it is.
pub fn changed(app: &mut App) -> Vec<Action> {
    if app.screen == Screen::Detail && app.link == Link::Up {
        return reload(app);
    }
    app.mark_stale(Screen::Detail);
    Vec::new()
}
