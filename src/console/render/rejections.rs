//! Rejections grouped by error code and by sender (the filer's scorecard), and the files of
//! the one chosen.

use super::clean;
use crate::console::app::{App, RejFocus, group};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

fn focus_block(title: String, focused: bool) -> Block<'static> {
    let b = Block::bordered().title(title);
    if focused {
        b.border_style(Style::new().fg(Color::Cyan))
    } else {
        b
    }
}

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let r = &app.rejections;
    let Some(data) = &r.data else {
        f.render_widget(
            Paragraph::new("loading the scorecard…").block(Block::bordered().title(" Rejections ")),
            area,
        );
        return;
    };
    let [top, files] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let [codes, senders] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(top);
    let hl = Style::new().add_modifier(Modifier::REVERSED);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let period = format!(
        "{} through {}",
        data.from.map(|d| d.to_string()).unwrap_or_default(),
        data.through.map(|d| d.to_string()).unwrap_or_default()
    );
    let code_rows: Vec<Row> = data
        .by_code
        .iter()
        .map(|c| {
            Row::new(vec![
                clean(&c.code),
                group(c.count),
                clean(&c.senders.join(" ")),
            ])
        })
        .collect();
    let t = Table::new(
        code_rows,
        [
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["code", "count", "senders"]).style(bold))
    .row_highlight_style(hl)
    .block(focus_block(
        format!(" By error code, last {} days ({period}) ", r.days),
        r.focus == RejFocus::Codes,
    ));
    let mut st =
        TableState::default().with_selected((!data.by_code.is_empty()).then_some(r.code_sel));
    f.render_stateful_widget(t, codes, &mut st);

    let sender_rows: Vec<Row> = data
        .by_sender
        .iter()
        .map(|s| {
            let top: Vec<String> = s
                .codes
                .iter()
                .take(3)
                .map(|(c, n)| format!("{} {n}", clean(c)))
                .collect();
            Row::new(vec![
                clean(&s.sender),
                group(s.files),
                group(s.files_rejected),
                group(s.applications),
                group(s.applications_rejected),
                format!("{}%", s.acceptance_pct),
                top.join(", "),
            ])
        })
        .collect();
    let t = Table::new(
        sender_rows,
        [
            Constraint::Length(15),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "sender",
            "files",
            "rej.files",
            "apps",
            "rej.apps",
            "accepted",
            "top codes",
        ])
        .style(bold),
    )
    .row_highlight_style(hl)
    .block(focus_block(
        " By sender: the filer's scorecard ".into(),
        r.focus == RejFocus::Senders,
    ));
    let mut st =
        TableState::default().with_selected((!data.by_sender.is_empty()).then_some(r.sender_sel));
    f.render_stateful_widget(t, senders, &mut st);

    let title = match &r.files_of {
        Some(w) => format!(
            " Files of {} (newest first; Enter opens, Esc closes) ",
            clean(w)
        ),
        None => " Files: Enter on a code or a sender lists them ".into(),
    };
    let file_rows: Vec<Row> = r
        .files
        .iter()
        .map(|x| {
            Row::new(vec![
                x.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                clean(&x.sender),
                clean(&x.file_name),
                x.status.clone(),
                clean(&x.codes.join(" ")),
            ])
        })
        .collect();
    let t = Table::new(
        file_rows,
        [
            Constraint::Length(19),
            Constraint::Length(15),
            Constraint::Min(20),
            Constraint::Length(9),
            Constraint::Length(30),
        ],
    )
    .header(Row::new(["received", "sender", "file", "status", "codes"]).style(bold))
    .row_highlight_style(hl)
    .block(focus_block(title, r.focus == RejFocus::Files));
    let mut st = TableState::default().with_selected((!r.files.is_empty()).then_some(r.file_sel));
    f.render_stateful_widget(t, files, &mut st);
}
