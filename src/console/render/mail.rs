//! The mail queue: waiting (queued, retrying) and dead letters with the last SMTP error.

use super::clean;
use crate::console::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let Some(m) = &app.mail.data else {
        f.render_widget(
            Paragraph::new("loading the mail queue…").block(Block::bordered().title(" Mail ")),
            area,
        );
        return;
    };
    let rows: Vec<Row> = m
        .waiting
        .iter()
        .chain(&m.dead)
        .map(|j| {
            let style = match j.state.as_str() {
                "dead" => Style::new().fg(Color::Red),
                "retrying" => Style::new().fg(Color::Yellow),
                _ => Style::new(),
            };
            Row::new(vec![
                Cell::from(j.id.to_string()),
                Cell::from(j.state.clone()).style(style),
                Cell::from(clean(&j.sender)),
                Cell::from(clean(&j.ack_name)),
                Cell::from(clean(&j.to.join(", "))),
                Cell::from(j.attempts.to_string()),
                Cell::from(j.next_attempt.format("%m-%d %H:%M:%S").to_string()),
                Cell::from(j.last_error.as_deref().map_or_else(String::new, clean)),
            ])
        })
        .collect();
    let n = m.waiting.len() + m.dead.len();
    let t = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(12),
            Constraint::Length(28),
            Constraint::Length(24),
            Constraint::Length(4),
            Constraint::Length(15),
            Constraint::Min(20),
        ],
    )
    .header(
        Row::new([
            "id",
            "state",
            "sender",
            "ack",
            "to",
            "try",
            "next attempt",
            "last SMTP error",
        ])
        .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .block(Block::bordered().title(format!(
        " Mail: {} waiting, {} dead ",
        m.waiting.len(),
        m.dead.len()
    )));
    let mut st = TableState::default().with_selected((n > 0).then_some(app.mail.selected));
    f.render_stateful_widget(t, area, &mut st);
}
