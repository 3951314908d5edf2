//! Today's counts, throughput, mail and intake health, and the filings as they arrive.

use super::{Col, clean, col, grid, name, num};
use crate::console::app::{App, ListArea, group};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Sparkline, Table, TableState, Wrap};

/// Below this width the chart gives its room to the counts and health (its figures stay).
const CHART_FROM: u16 = 110;

fn areas(app: &App, area: Rect) -> [Rect; 3] {
    let note_h = u16::from(app.first_run_note.is_some());
    Layout::vertical([
        Constraint::Length(note_h),
        Constraint::Length(9),
        Constraint::Min(3),
    ])
    .areas(area)
}

/// The list a click selects in: the latest filings.
pub fn lists(app: &App, area: Rect) -> Vec<(ListArea, Rect, usize)> {
    let [_, _, rows] = areas(app, area);
    let rows = super::table_rows(rows);
    vec![(
        ListArea::Recent,
        rows,
        super::offset_for(app.recent_selected(), rows),
    )]
}

const RECENT: [Col; 6] = [
    col("time", 8, 0),
    col("sender", 12, 3),
    name("file", 12, 0),
    col("outcome", 20, 0),
    num("apps", 6, 2),
    num("licenses", 8, 1),
];

/// The newest points that fit in `width` columns: the chart moves on however long the
/// console runs (a sparkline draws from its first point and cuts the rest).
pub fn chart_points(data: &[u64], width: u16) -> &[u64] {
    &data[data.len().saturating_sub(usize::from(width))..]
}

#[allow(clippy::too_many_lines)] // one screen drawn top to bottom
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let [note, top, rows] = areas(app, area);
    if let Some(n) = &app.first_run_note {
        f.render_widget(
            Paragraph::new(clean(n))
                .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            note,
        );
    }
    let wide = area.width >= CHART_FROM;
    let [counts, spark, health] = if wide {
        Layout::horizontal([
            Constraint::Length(34),
            Constraint::Min(20),
            Constraint::Length(48),
        ])
        .areas(top)
    } else {
        let [c, h] = Layout::horizontal([Constraint::Length(32), Constraint::Min(20)]).areas(top);
        [c, Rect::default(), h]
    };
    let d = &app.dashboard;
    // Label left, figure right, over the box's inner width.
    let inner = usize::from(counts.width.saturating_sub(2));
    let line = |label: &str, n: u64| {
        let n = group(n);
        let pad = inner.saturating_sub(label.chars().count());
        Line::from(format!("{label}{n:>pad$}"))
    };
    let lines: Vec<Line> = match &d.status {
        Some(s) => vec![
            line("files", s.files_today),
            line("  rejected files", s.files_rejected_today),
            line("applications", s.applications_today),
            line("licenses issued", s.licenses_issued_today),
            line("apps rejected", s.rejected_today),
            line("apps held", s.held_today),
            line("on record", s.licenses_on_record),
        ],
        None => vec![Line::from("waiting for the daemon's counts…")],
    };
    let day = d
        .status
        .as_ref()
        .map_or_else(String::new, |s| format!(" Today {} (UTC day) ", s.day));
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(day)),
        counts,
    );
    let data: Vec<u64> = d.throughput.iter().copied().collect();
    let peak = data.iter().max().copied().unwrap_or(0);
    let last = data.last().copied().unwrap_or(0);
    if wide {
        let shown = chart_points(&data, spark.width.saturating_sub(2));
        f.render_widget(
            Sparkline::default()
                .data(shown)
                .style(Style::new().fg(Color::Green))
                .block(Block::bordered().title(format!(
                    " Files per 2 s (peak {}, last {}) ",
                    group(peak),
                    group(last)
                ))),
            spark,
        );
    }
    let mut h: Vec<Line> = Vec::new();
    if let Some(s) = &d.status {
        let mail = format!(
            "mail: {} queued, {} retrying, {} dead",
            group(s.mail_queued),
            group(s.mail_retrying),
            group(s.mail_dead)
        );
        h.push(if s.mail_dead > 0 {
            Line::from(mail).red()
        } else if s.mail_retrying > 0 {
            Line::from(mail).yellow()
        } else {
            Line::from(mail).green()
        });
        h.push(Line::from(format!(
            "pending review: {}",
            group(s.pending_review)
        )));
        if !wide {
            h.push(Line::from(format!(
                "files per 2 s: last {}, peak {}",
                group(last),
                group(peak)
            )));
        }
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
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Health ")),
        health,
    );
    let body = d.recent.iter().map(|r| {
        let style = match r.status.as_str() {
            s if s.starts_with("accepted") => Style::new().fg(Color::Green),
            s if s.starts_with("partial") => Style::new().fg(Color::Yellow),
            _ => Style::new().fg(Color::Red),
        };
        vec![
            (app.time_fmt(r.at, "%H:%M:%S"), Style::new()),
            (clean(&r.sender), Style::new()),
            (clean(&r.file_name), Style::new()),
            (clean(&r.outcome()), style),
            (group(r.applications), Style::new()),
            (group(r.licenses), Style::new()),
        ]
    });
    let (header, widths, table_rows) = grid(&RECENT, rows.width.saturating_sub(2), body);
    let n = table_rows.len();
    let table = Table::new(table_rows, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(format!(
            " Latest filings, live ({n}), times {} ",
            app.zone_name()
        )));
    let mut st = TableState::default().with_selected((n > 0).then_some(app.recent_selected()));
    f.render_stateful_widget(table, rows, &mut st);
}
