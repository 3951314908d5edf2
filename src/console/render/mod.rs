//! Pure drawing: `render(&App, &mut Frame)`, one module a screen. Every string that came
//! from a filing goes through [`clean`] here.

mod browser;
mod dashboard;
mod detail;
mod mail;
mod monitor;
mod rejections;
mod review;

use super::app::{App, Link, Modal, Screen};
use super::keys;
pub(crate) use super::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs, Wrap};

pub fn render(app: &App, f: &mut Frame) {
    let [tabs, status, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let titles: Vec<Line> = Screen::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| Line::from(format!("{} {}", i + 1, s.title())))
        .collect();
    let sel = Screen::ALL
        .iter()
        .position(|s| *s == app.screen)
        .unwrap_or(0);
    f.render_widget(
        Tabs::new(titles)
            .select(sel)
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD))
            .divider("│"),
        tabs,
    );
    f.render_widget(Paragraph::new(status_line(app)), status);
    match app.screen {
        Screen::Dashboard => dashboard::render(app, f, body),
        Screen::Browser => browser::render(app, f, body),
        Screen::Detail => detail::render(app, f, body),
        Screen::Rejections => rejections::render(app, f, body),
        Screen::Mail => mail::render(app, f, body),
        Screen::Review => review::render(app, f, body),
        Screen::Monitor => monitor::render(app, f, body),
    }
    f.render_widget(Paragraph::new(footer_line(app)), footer);
    if let Some(m) = &app.modal {
        modal(app, m, f);
    }
}

fn status_line(app: &App) -> Line<'static> {
    let link = match &app.link {
        Link::Connecting => {
            Span::styled("connecting to the daemon…", Style::new().fg(Color::Yellow))
        }
        Link::Up => Span::styled("● daemon connected", Style::new().fg(Color::Green)),
        Link::Lost(why) => Span::styled(
            format!(
                "✖ lost the daemon ({}): reconnecting by itself…",
                clean(why)
            ),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let mut spans = vec![link];
    if let Some(h) = &app.hello {
        spans.push(Span::raw(format!(
            "  {} ({})  data {}",
            clean(&h.user),
            h.role,
            clean(&h.data)
        )));
    }
    if let Some(m) = &app.mode_note {
        spans.push(Span::raw(format!("  │ {}", clean(m))).dim());
    }
    Line::from(spans)
}

fn footer_line(app: &App) -> Line<'static> {
    if let Some(flash) = &app.flash {
        return Line::from(Span::styled(clean(flash), Style::new().fg(Color::Cyan)));
    }
    let mut spans = Vec::new();
    for b in keys::of(app.screen)
        .iter()
        .chain(keys::COMMON.iter())
        .filter(|b| b.footer)
    {
        let disabled = app.disabled_why(b.needs).is_some();
        let style = if disabled {
            Style::new().add_modifier(Modifier::DIM | Modifier::CROSSED_OUT)
        } else {
            Style::new()
        };
        spans.push(Span::styled(
            format!("{} ", b.key),
            style.add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!("{}  ", b.what), style));
    }
    Line::from(spans)
}

/// A rectangle of `w`×`h` in the middle of `r`.
pub(crate) fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect::new(r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h)
}

fn modal(app: &App, m: &Modal, f: &mut Frame) {
    match m {
        Modal::Help => help(app, f),
        Modal::Reason { action, text } => {
            let area = centered(f.area(), 80, 7);
            f.render_widget(Clear, area);
            let mut lines = vec![
                Line::from(action.describe()).bold(),
                Line::from("Reason (1 to 200 characters; the filer reads it):"),
                Line::from(format!("> {}█", clean(text))),
            ];
            if let Some(why) = app.disabled_why(action.needs()) {
                lines.push(Line::from(format!("disabled: {why}; the daemon will refuse it")).red());
            }
            lines.push(Line::from("Enter continue   Esc cancel").dim());
            f.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(" Reason ")),
                area,
            );
        }
        Modal::Confirm { action, reason } => {
            let area = centered(f.area(), 80, 7);
            f.render_widget(Clear, area);
            let mut lines = vec![Line::from(format!("{}?", action.describe())).bold()];
            if let Some(r) = reason {
                lines.push(Line::from(format!("reason: {}", clean(r))));
            }
            if let Some(why) = app.disabled_why(action.needs()) {
                lines.push(Line::from(format!("disabled: {why}; the daemon will refuse it")).red());
            }
            lines.push(Line::from("y yes   n / Esc no"));
            f.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(" Confirm ")),
                area,
            );
        }
        Modal::Message { title, text, error } => {
            let lines: Vec<Line> = text.lines().map(|l| Line::from(clean(l))).collect();
            let h = (lines.len() as u16 + 4).min(f.area().height);
            let area = centered(f.area(), 100, h);
            f.render_widget(Clear, area);
            let style = if *error {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            };
            let mut lines = lines;
            lines.push(Line::from("any key closes").dim());
            f.render_widget(
                Paragraph::new(lines)
                    .style(style)
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().title(format!(" {} ", clean(title)))),
                area,
            );
        }
    }
}

fn help(app: &App, f: &mut Frame) {
    let mut lines = vec![Line::from(format!("{}: every key", app.screen.title())).bold()];
    for b in keys::of(app.screen).iter().chain(keys::COMMON.iter()) {
        let why = app.disabled_why(b.needs);
        let mut spans = vec![
            Span::styled(format!("{:<18}", b.key), Style::new().bold()),
            Span::raw(b.what),
        ];
        if let Some(w) = why {
            spans.push(Span::styled(
                format!("  (disabled: {w})"),
                Style::new().dim(),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(""));
    lines.push(Line::from("Esc or ? closes this help").dim());
    let h = (lines.len() as u16 + 2).min(f.area().height);
    let area = centered(f.area(), 110, h);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(" Help ")),
        area,
    );
}
