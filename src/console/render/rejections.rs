//! Rejections grouped by error code (with what each code means) and by sender (the filer's
//! scorecard), and the files of the one chosen.

use super::{Col, clean, col, flex, grid, name, num};
use crate::console::app::{App, ListArea, RejFocus, group};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Paragraph, Table, TableState};

/// Below this width the three lists are stacked instead of codes beside senders.
const SIDE_BY_SIDE_FROM: u16 = 140;

fn focus_block(title: String, focused: bool) -> Block<'static> {
    let b = Block::bordered().title(title);
    if focused {
        b.border_style(Style::new().fg(Color::Cyan))
    } else {
        b
    }
}

fn areas(area: Rect) -> [Rect; 3] {
    if area.width >= SIDE_BY_SIDE_FROM {
        let [top, files] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
        let [codes, senders] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
        [codes, senders, files]
    } else {
        Layout::vertical([
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
        ])
        .areas(area)
    }
}

/// The lists a click selects in: codes, senders, files.
pub fn lists(app: &App, area: Rect) -> Vec<(ListArea, Rect, usize)> {
    let r = &app.rejections;
    let [codes, senders, files] = areas(area).map(super::table_rows);
    vec![
        (
            ListArea::Rejections(RejFocus::Codes),
            codes,
            super::offset_for(r.code_sel, codes),
        ),
        (
            ListArea::Rejections(RejFocus::Senders),
            senders,
            super::offset_for(r.sender_sel, senders),
        ),
        (
            ListArea::Rejections(RejFocus::Files),
            files,
            super::offset_for(r.file_sel, files),
        ),
    ]
}

const CODES: [Col; 4] = [
    col("code", 5, 0),
    num("count", 7, 0),
    flex("meaning", 20, 0),
    col("senders", 20, 1),
];

const SENDERS: [Col; 7] = [
    col("sender", 12, 0),
    num("files", 7, 0),
    num("rej.files", 9, 0),
    num("apps", 8, 3),
    num("rej.apps", 8, 2),
    num("accepted", 8, 0),
    flex("top codes", 12, 1),
];

const FILES: [Col; 5] = [
    col("received", 19, 0),
    col("sender", 12, 2),
    name("file", 14, 0),
    col("status", 9, 0),
    col("codes", 20, 1),
];

#[allow(clippy::too_many_lines)] // one screen drawn top to bottom
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let r = &app.rejections;
    let Some(data) = &r.data else {
        f.render_widget(
            Paragraph::new("loading the scorecard…").block(Block::bordered().title(" Rejections ")),
            area,
        );
        return;
    };
    let [codes, senders, files] = areas(area);
    let hl = Style::new().add_modifier(Modifier::REVERSED);
    let plain = Style::new();
    let period = format!(
        "{} through {}",
        data.from.map(|d| d.to_string()).unwrap_or_default(),
        data.through.map(|d| d.to_string()).unwrap_or_default()
    );
    let code_rows = data.by_code.iter().map(|c| {
        vec![
            (clean(&c.code), plain),
            (group(c.count), plain),
            (
                crate::filing::codes::meaning_of(&c.code)
                    .unwrap_or("")
                    .to_owned(),
                plain,
            ),
            (clean(&c.senders.join(" ")), plain),
        ]
    });
    let (header, widths, rows) = grid(&CODES, codes.width.saturating_sub(2), code_rows);
    let t = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(hl)
        .block(focus_block(
            format!(" By error code, last {} days ({period}) ", r.days),
            r.focus == RejFocus::Codes,
        ));
    let mut st =
        TableState::default().with_selected((!data.by_code.is_empty()).then_some(r.code_sel));
    f.render_stateful_widget(t, codes, &mut st);

    let sender_rows = data.by_sender.iter().map(|s| {
        let top: Vec<String> = s
            .codes
            .iter()
            .take(3)
            .map(|(c, n)| format!("{} {n}", clean(c)))
            .collect();
        vec![
            (clean(&s.sender), plain),
            (group(s.files), plain),
            (group(s.files_rejected), plain),
            (group(s.applications), plain),
            (group(s.applications_rejected), plain),
            (format!("{}%", s.acceptance_pct), plain),
            (top.join(", "), plain),
        ]
    });
    let (header, widths, rows) = grid(&SENDERS, senders.width.saturating_sub(2), sender_rows);
    let t = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(hl)
        .block(focus_block(
            " By sender: the filer's scorecard (rej.files: every application rejected) ".into(),
            r.focus == RejFocus::Senders,
        ));
    let mut st =
        TableState::default().with_selected((!data.by_sender.is_empty()).then_some(r.sender_sel));
    f.render_stateful_widget(t, senders, &mut st);

    let title = match &r.files_of {
        Some(w) => format!(
            " Files of {} (newest first; Enter opens, Esc closes) ",
            clean(&w.to_string())
        ),
        None => " Files: Enter on a code or a sender lists them ".into(),
    };
    let file_rows = r.files.iter().map(|x| {
        vec![
            (app.time(x.received_at), plain),
            (clean(&x.sender), plain),
            (clean(&x.file_name), plain),
            (x.status.clone(), plain),
            (clean(&x.codes.join(" ")), plain),
        ]
    });
    let (header, widths, rows) = grid(&FILES, files.width.saturating_sub(2), file_rows);
    let t = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(hl)
        .block(focus_block(title, r.focus == RejFocus::Files));
    let mut st = TableState::default().with_selected((!r.files.is_empty()).then_some(r.file_sel));
    f.render_stateful_widget(t, files, &mut st);
}
