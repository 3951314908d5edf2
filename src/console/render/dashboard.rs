//! Today's counts, throughput, mail and intake health, and the filings as they arrive.

use super::clean;
use crate::console::app::{App, group};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState};

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let note_h = u16::from(app.first_run_note.is_some());
    let [note, top, rows] = Layout::vertical([
        Constraint::Length(note_h),
        Constraint::Length(9),
        Constraint::Min(3),
    ])
    .areas(area);
    if let Some(n) = &app.first_run_note {
        f.render_widget(
            Paragraph::new(clean(n))
                .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            note,
        );
    }
    let [counts, spark, health] = Layout::horizontal([
        Constraint::Length(34),
        Constraint::Min(20),
        Constraint::Length(48),
    ])
    .areas(top);
    let d = &app.dashboard;
    let lines: Vec<Line> = match &d.status {
        Some(s) => vec![
            Line::from(format!("files            {:>12}", group(s.files_today))),
            Line::from(format!(
                "  rejected files {:>12}",
                group(s.files_rejected_today)
            )),
            Line::from(format!(
                "applications     {:>12}",
                group(s.applications_today)
            )),
            Line::from(format!(
                "licenses issued  {:>12}",
                group(s.licenses_issued_today)
            )),
            Line::from(format!("rejected         {:>12}", group(s.rejected_today))),
            Line::from(format!("held             {:>12}", group(s.held_today))),
            Line::from(format!("on record {:>19}", group(s.licenses_on_record))),
        ],
        None => vec![Line::from("waiting for the daemon's counts…")],
    };
    let day = d
        .status
        .as_ref()
        .map_or_else(String::new, |s| format!(" Today {} (UTC) ", s.day));
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(day)),
        counts,
    );
    let data: Vec<u64> = d.throughput.iter().copied().collect();
    let peak = data.iter().max().copied().unwrap_or(0);
    f.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::new().fg(Color::Green))
            .block(Block::bordered().title(format!(
                " Files per 2 s (peak {peak}, last {}) ",
                data.last().copied().unwrap_or(0)
            ))),
        spark,
    );
    let mut h: Vec<Line> = Vec::new();
    if let Some(s) = &d.status {
        let mail = format!(
            "mail: {} queued, {} retrying, {} dead",
            s.mail_queued, s.mail_retrying, s.mail_dead
        );
        h.push(if s.mail_dead > 0 {
            Line::from(mail).red()
        } else if s.mail_retrying > 0 {
            Line::from(mail).yellow()
        } else {
            Line::from(mail).green()
        });
        h.push(Line::from(format!("pending review: {}", s.pending_review)));
        if s.problems.is_empty() {
            h.push(Line::from("intake: healthy").green());
        } else {
            for p in &s.problems {
                h.push(Line::from(format!("! {}", clean(p))).red());
            }
        }
        for e in s.last_errors.iter().take(2) {
            h.push(Line::from(format!("last error: {}", clean(e))).dim());
        }
    }
    f.render_widget(
        Paragraph::new(h)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(Block::bordered().title(" Health ")),
        health,
    );
    let header = Row::new(["time", "sender", "file", "outcome", "apps", "licenses"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let table_rows: Vec<Row> = d
        .recent
        .iter()
        .map(|r| {
            let outcome = Cell::from(clean(&r.status)).style(match r.status.as_str() {
                s if s.starts_with("accepted") => Style::new().fg(Color::Green),
                s if s.starts_with("partial") => Style::new().fg(Color::Yellow),
                _ => Style::new().fg(Color::Red),
            });
            Row::new(vec![
                Cell::from(r.at.format("%H:%M:%S").to_string()),
                Cell::from(clean(&r.sender)),
                Cell::from(clean(&r.file_name)),
                outcome,
                Cell::from(r.applications.to_string()),
                Cell::from(r.licenses.to_string()),
            ])
        })
        .collect();
    let n = table_rows.len();
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(8),
            Constraint::Length(15),
            Constraint::Min(20),
            Constraint::Length(22),
            Constraint::Length(6),
            Constraint::Length(8),
        ],
    )
    .header(header)
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .block(Block::bordered().title(format!(" Latest filings, live ({n}) ")));
    let mut st = TableState::default()
        .with_selected((n > 0).then_some(app.recent_sel.min(n.saturating_sub(1))));
    f.render_stateful_widget(table, rows, &mut st);
}
