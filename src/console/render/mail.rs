//! Mail: waiting (queued, retrying), dead letters with the last SMTP error, and the messages
//! sent (newest first).

use super::{Col, clean, col, grid, name, num};
use crate::console::app::{App, ListArea, group};
use crate::store::MailState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Paragraph, Table, TableState};

/// The list a click selects in.
pub fn lists(app: &App, area: Rect) -> Vec<(ListArea, Rect, usize)> {
    let rows = super::table_rows(area);
    vec![(
        ListArea::Mail,
        rows,
        super::offset_for(app.mail.selected, rows),
    )]
}

const COLUMNS: [Col; 8] = [
    num("id", 9, 0),
    col("state", 8, 0),
    col("sender", 12, 4),
    name("ack", 18, 0),
    col("to", 22, 5),
    num("tries", 5, 3),
    col("next / sent", 14, 2),
    col("last SMTP error", 24, 6),
];

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let Some(m) = &app.mail.data else {
        f.render_widget(
            Paragraph::new("loading the mail queue…").block(Block::bordered().title(" Mail ")),
            area,
        );
        return;
    };
    let [list] = Layout::vertical([Constraint::Min(3)]).areas(area);
    let rows = m.waiting.iter().chain(&m.dead).chain(&m.sent).map(|j| {
        let style = match j.state {
            MailState::Dead => Style::new().fg(Color::Red),
            MailState::Retrying => Style::new().fg(Color::Yellow),
            MailState::Sent => Style::new().fg(Color::Green),
            MailState::Queued => Style::new(),
        };
        let when = match j.state {
            MailState::Sent => j.sent_at.map(|t| app.time_fmt(t, "%m-%d %H:%M:%S")),
            MailState::Dead => None,
            _ => Some(app.time_fmt(j.next_attempt, "%m-%d %H:%M:%S")),
        };
        let plain = Style::new();
        vec![
            (j.id.to_string(), plain),
            (j.state.as_str().to_owned(), style),
            (clean(&j.sender), plain),
            (clean(&j.ack_name), plain),
            (clean(&j.to.join(", ")), plain),
            (j.attempts.to_string(), plain),
            (when.unwrap_or_default(), plain),
            (
                j.last_error.as_deref().map_or_else(String::new, clean),
                plain,
            ),
        ]
    });
    let n = m.waiting.len() + m.dead.len() + m.sent.len();
    let (header, widths, rows) = grid(&COLUMNS, list.width.saturating_sub(2), rows);
    let t = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(format!(
            " Mail: {} waiting, {} dead, {} sent (newest first); times {} ",
            group(m.waiting.len() as u64),
            group(m.dead.len() as u64),
            group(m.sent.len() as u64),
            app.zone_name()
        )));
    let mut st = TableState::default().with_selected((n > 0).then_some(app.mail.selected));
    f.render_stateful_widget(t, list, &mut st);
}
