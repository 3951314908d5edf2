//! One license (every field, products, history, audit timeline) and the file that issued it
//! (its acks with errors and positions, the ack XML, the mail of each ack); or one file.

use super::clean;
use crate::console::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

fn field(name: &str, value: &str) -> Line<'static> {
    Line::from(format!("{name:<24}{}", clean(value)))
}

#[allow(clippy::too_many_lines)] // one screen drawn top to bottom: the lines of a license in their order
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let d = &app.detail;
    let mut out: Vec<Line> = Vec::new();
    if let Some(what) = &d.loading {
        out.push(Line::from(format!("loading {}…", clean(what))).dim());
    }
    if let Some(e) = &d.error {
        out.push(Line::from(clean(e)).red());
    }
    if d.license.is_none() && d.receipt.is_none() && d.loading.is_none() && d.error.is_none() {
        // Short lines: the detail cuts rather than wraps, and this must read whole at 80.
        for l in [
            "Nothing opened yet. Select one of these and press Enter:",
            "  a license in Filings & licenses (2)",
            "  a filing on the Dashboard (1)",
            "  a file under Rejections (4)",
            "  an application under Review (6)",
        ] {
            out.push(Line::from(l));
        }
    }
    if let Some(l) = &d.license {
        out.push(Line::from(format!("License {}", l.license)).bold());
        let status_style = match l.status.as_str() {
            "cancelled" => Style::new().fg(Color::Red),
            _ => Style::new().fg(Color::Green),
        };
        out.push(Line::styled(
            format!("{:<24}{}", "status", l.status),
            status_style,
        ));
        for (k, v) in [
            ("sender", l.sender.clone()),
            ("importer", l.importer.clone()),
            ("exporter", l.exporter.clone()),
            ("manufacturers", l.manufacturers.join(", ")),
            ("entry type", l.entry_type.clone()),
            (
                "entry number",
                l.entry_number.clone().unwrap_or_else(|| "-".into()),
            ),
            ("country of origin", l.country_of_origin.clone()),
            ("country of exportation", l.country_of_exportation.clone()),
            ("expected export", l.expected_export_date.to_string()),
            ("expected import", l.expected_import_date.to_string()),
            ("port of entry", l.port_of_entry.clone()),
            // Company and contact on lines of their own: an address cut at 80 is no use.
            ("filer", l.filer_company.clone()),
            (
                "filer contact",
                format!("{} <{}>", l.filer_contact, l.filer_email),
            ),
            (
                "valid",
                format!("{} through {}", l.valid_from, l.valid_through),
            ),
            ("total value USD", super::grouped(&l.total_value_usd)),
        ] {
            out.push(field(k, &v));
        }
        out.push(Line::from(""));
        out.push(Line::from("Products").bold());
        out.push(
            Line::from(format!(
                "{:<5}{:<11}{:>17}{:>18}{:>14}",
                "line", "HTS", "kg", "USD", "USD/t"
            ))
            .dim(),
        );
        for p in &l.products {
            out.push(Line::from(format!(
                "{:<5}{:<11}{:>17}{:>18}{:>14}",
                p.line,
                clean(&p.hts),
                super::grouped(&clean(&p.quantity_kg)),
                super::grouped(&clean(&p.value_usd)),
                super::grouped(&clean(&p.unit_value_usd_per_mt)),
            )));
            out.push(
                Line::from(format!(
                    "     {}; smelt {} / {}, cast {}",
                    clean(&p.category),
                    clean(&p.largest_smelt),
                    clean(&p.second_largest_smelt),
                    clean(&p.most_recent_cast)
                ))
                .dim(),
            );
            out.push(Line::from(format!("     {}", clean(&p.description))).dim());
        }
        out.push(Line::from(""));
        out.push(Line::from(format!("History (times {})", app.zone_name())).bold());
        for h in &l.history {
            out.push(Line::from(format!(
                "{}  {:<10} by {:<12} {}{}",
                app.time(h.at),
                h.action.as_str(),
                clean(&h.by),
                h.application
                    .as_deref()
                    .map_or_else(String::new, |a| format!("application {} ", clean(a))),
                h.reason
                    .as_deref()
                    .map_or_else(String::new, |r| format!("reason: {}", clean(r)))
            )));
        }
        out.push(Line::from(""));
        out.push(Line::from("Audit timeline").bold());
        if d.audit.is_empty() {
            out.push(Line::from("(none loaded)").dim());
        }
        for a in &d.audit {
            out.push(Line::from(format!(
                "{}  {:<12} {:<10} {:<8} {}",
                app.time(a.at),
                clean(&a.actor),
                a.action.as_str(),
                a.outcome.as_str(),
                clean(&a.detail)
            )));
        }
        out.push(Line::from(""));
    }
    if let Some(r) = &d.receipt {
        out.push(Line::from(format!("File of {} ({})", clean(&r.sender), r.sha256)).bold());
        out.push(field("status", r.status.as_str()));
        out.push(field(
            "control number",
            &r.control_text
                .clone()
                .or_else(|| r.control_number.map(|n| n.to_string()))
                .unwrap_or_else(|| "-".into()),
        ));
        if let Some(e) = &r.file_error {
            out.push(field("file-level error", e));
        }
        for dl in &r.deliveries {
            out.push(Line::from(format!(
                "received {}  {}  → ack {}{}",
                app.time(dl.received_at),
                clean(&dl.file_name),
                clean(&dl.ack_name),
                if dl.done { "" } else { "  (not finished)" }
            )));
        }
        out.push(Line::from("Applications (as they stand now)").bold());
        for a in &r.applications {
            out.push(Line::from(format!(
                "  {:<12} {:<16} {}",
                a.id.as_deref().map_or_else(|| "-".into(), clean),
                a.status.as_str(),
                a.license.as_deref().unwrap_or("")
            )));
        }
        for ack in &r.acks {
            out.push(Line::from(""));
            out.push(
                Line::from(format!(
                    "Ack {} (sequence {}) by {} at {}{}",
                    clean(&ack.name),
                    ack.seq,
                    clean(&ack.by),
                    app.time(ack.at),
                    if ack.written { "" } else { ", not yet written" }
                ))
                .bold(),
            );
            if ack.mail.is_empty() {
                out.push(Line::from("  mail: none found (no addresses, or sent long ago)").dim());
            }
            for m in &ack.mail {
                let mut l = format!(
                    "  mail {} to {}: {}",
                    m.id,
                    clean(&m.to.join(", ")),
                    m.state_words()
                );
                if let Some(e) = &m.last_error {
                    l.push_str(&format!("; last SMTP error: {}", clean(e)));
                }
                out.push(if m.state == crate::store::MailState::Dead {
                    Line::from(l).red()
                } else {
                    Line::from(l)
                });
            }
            for i in &ack.issues {
                let pos = match (i.line, i.column) {
                    (Some(l), Some(c)) => format!("{l}:{c}"),
                    (Some(l), None) => l.to_string(),
                    _ => "-".into(),
                };
                let l = format!(
                    "  {} {}{} {} at {}  {}{}",
                    i.kind,
                    clean(&i.code),
                    crate::filing::codes::meaning_of(&i.code)
                        .map_or_else(String::new, |m| format!(" ({m})")),
                    clean(&i.path),
                    pos,
                    clean(&i.message),
                    i.application
                        .as_deref()
                        .map_or_else(String::new, |a| format!("  [{}]", clean(a)))
                );
                out.push(if i.kind == "error" {
                    Line::from(l).red()
                } else {
                    Line::from(l).yellow()
                });
            }
            out.push(Line::from("  ack XML:").dim());
            for x in ack.xml.lines() {
                out.push(Line::from(format!("  {}", clean(x))).dim());
            }
        }
    }
    out
}

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let all = lines(app);
    let n = all.len();
    let inner = area.width.saturating_sub(2);
    let rows = usize::from(area.height.saturating_sub(2));
    let scroll = usize::from(app.detail.scroll).min(n.saturating_sub(rows));
    let mut title = match (&app.detail.license, &app.detail.receipt) {
        (Some(l), _) => format!(" License {} ", l.license),
        (None, Some(r)) => format!(" File of {} ", clean(&r.sender)),
        _ => " Detail ".into(),
    };
    if n > rows {
        title.push_str(&format!(
            "· lines {}-{} of {} ",
            scroll + 1,
            (scroll + rows).min(n),
            n
        ));
    }
    // Lines are cut with an ellipsis rather than wrapped, so the scroll counts true lines.
    let shown: Vec<Line> = all
        .into_iter()
        .skip(scroll)
        .take(rows)
        .map(|l| super::clip(l, inner))
        .collect();
    f.render_widget(
        Paragraph::new(shown).block(Block::bordered().title(title)),
        area,
    );
}
