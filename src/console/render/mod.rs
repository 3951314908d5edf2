//! Pure drawing: `render(&App, &mut Frame)`, one module a screen. Every string that came
//! from a filing goes through [`clean`] here.

mod browser;
pub(crate) mod dashboard;
mod detail;
mod mail;
mod monitor;
mod rejections;
mod review;

/// The detail's last useful scroll: its end at the bottom of the box.
pub fn detail_last_scroll(app: &App) -> u16 {
    let n = detail::lines(app).len();
    u16::try_from(n.saturating_sub(usize::from(app.body_rows()))).unwrap_or(u16::MAX)
}

use super::app::{App, Link, ListArea, Modal, Screen};
use super::keys;
pub(crate) use super::sanitize::clean;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs, Wrap};

/// The frame's parts: tabs, status line, the screen's body, footer.
fn frame_areas(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The tab titles: whole where they fit, short on a narrow terminal.
fn tab_titles(width: u16) -> Vec<String> {
    let whole: Vec<String> = Screen::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{} {}", i + 1, s.title()))
        .collect();
    // Each tab has a space either side and a divider after it.
    let need: usize = whole.iter().map(|t| t.chars().count() + 3).sum();
    if need <= usize::from(width) {
        return whole;
    }
    Screen::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{} {}", i + 1, s.short()))
        .collect()
}

/// The screen whose tab is at column `x` of the first line.
pub fn tab_at(app: &App, x: u16) -> Option<Screen> {
    let mut left = 0u16;
    for (i, t) in tab_titles(app.width).iter().enumerate() {
        let w = cells(t.chars().count()).saturating_add(2);
        if x >= left && x < left + w {
            return Some(Screen::ALL[i]);
        }
        left += w + 1;
    }
    None
}

/// The list row under (`x`, `y`): its index in the list, and which list.
pub fn row_at(app: &App, x: u16, y: u16) -> Option<(usize, ListArea)> {
    let [_, _, body, _] = frame_areas(Rect::new(0, 0, app.width, app.height));
    let lists = match app.screen {
        Screen::Dashboard => dashboard::lists(app, body),
        Screen::Browser => browser::lists(app, body),
        Screen::Rejections => rejections::lists(app, body),
        Screen::Mail => mail::lists(app, body),
        Screen::Review => review::lists(app, body),
        Screen::Monitor => monitor::lists(app, body),
        Screen::Detail => Vec::new(),
    };
    for (area, rows, offset) in lists {
        if rows.contains(ratatui::layout::Position { x, y }) {
            return Some((offset + usize::from(y - rows.y), area));
        }
    }
    None
}

/// The rows of a bordered table with a header inside `area`.
pub(crate) fn table_rows(area: Rect) -> Rect {
    let inner = Block::bordered().inner(area);
    Rect::new(
        inner.x,
        inner.y.saturating_add(1),
        inner.width,
        inner.height.saturating_sub(1),
    )
}

/// The first row a table shows when it only keeps `selected` in view (ratatui's own rule).
pub(crate) fn offset_for(selected: usize, rows: Rect) -> usize {
    selected.saturating_sub(usize::from(rows.height.max(1)) - 1)
}

pub fn render(app: &App, f: &mut Frame) {
    let [tabs, status, body, footer] = frame_areas(f.area());
    let titles: Vec<Line> = tab_titles(f.area().width)
        .into_iter()
        .map(Line::from)
        .collect();
    let sel = app.screen.index();
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
        Link::Connecting(None) => {
            Span::styled("connecting to the daemon…", Style::new().fg(Color::Yellow))
        }
        Link::Connecting(Some(why)) => Span::styled(
            format!("✖ {}; trying again by itself…", clean(why)),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
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
            "  {} ({})",
            clean(&h.user),
            crate::api::server::role_name(h.role)
        )));
    }
    // What a narrow terminal cuts comes last: the zone is also in each list's title, and the
    // data folder is only a reminder; how the console runs (q stops the daemon too) is not.
    if let Some(m) = &app.mode_note {
        spans.push(Span::raw(format!("  │ {}", clean(m))).dim());
    }
    spans.push(Span::raw(format!("  times {}", app.zone_name())));
    if let Some(h) = &app.hello {
        spans.push(Span::raw(format!("  data {}", clean(&h.data))).dim());
    }
    clip(Line::from(spans), app.width)
}

fn footer_line(app: &App) -> Line<'static> {
    if let Some(flash) = &app.flash {
        return Line::from(Span::styled(clean(flash), Style::new().fg(Color::Cyan)));
    }
    let mut spans = Vec::new();
    let mut left = usize::from(app.width);
    // Help first: whatever else does not fit, `?` lists it.
    let mut shown: Vec<&keys::Binding> = keys::help(app.screen)
        .into_iter()
        .filter(|b| b.footer)
        .collect();
    shown.sort_by_key(|b| b.key != "?");
    for b in shown {
        let what = footer_words(b.what);
        let w = b.key.chars().count() + 1 + what.chars().count() + 2;
        if w > left {
            continue;
        }
        left -= w;
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
        spans.push(Span::styled(format!("{what}  "), style));
    }
    Line::from(spans)
}

/// A key's words in the footer: up to the first colon, comma or parenthesis.
fn footer_words(what: &str) -> &str {
    what.split([':', ',', '('])
        .next()
        .unwrap_or(what)
        .trim_end()
}

/// Every line of the detail as text (tests).
#[cfg(test)]
pub(crate) fn detail_text(app: &App) -> String {
    detail::lines(app)
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
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
            let area = centered(f.area(), 80, 8);
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
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().title(" Reason ")),
                area,
            );
        }
        Modal::Confirm { action, reason } => {
            let area = centered(f.area(), 80, 8);
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
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().title(" Confirm ")),
                area,
            );
        }
        Modal::Message { title, text, error } => {
            let lines: Vec<Line> = text.lines().map(|l| Line::from(clean(l))).collect();
            let h = cells(lines.len()).saturating_add(4).min(f.area().height);
            let area = centered(f.area(), 100, h);
            f.render_widget(Clear, area);
            let style = if *error {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            };
            let mut lines = lines;
            lines.push(Line::from("Enter or Esc closes; any other key closes and goes on").dim());
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
    // Keys in a column of their own; what a key does wraps under itself, never under the keys.
    const KEY_W: usize = 18;
    let text_w = usize::from(f.area().width.min(110).saturating_sub(2))
        .saturating_sub(KEY_W)
        .max(16);
    let indent = " ".repeat(KEY_W);
    let mut lines = vec![Line::from(format!("{}: every key", app.screen.title())).bold()];
    for b in keys::help(app.screen) {
        for (i, piece) in textwrap::wrap(b.what, text_w).iter().enumerate() {
            let key = if i == 0 {
                format!("{:<KEY_W$}", b.key)
            } else {
                indent.clone()
            };
            lines.push(Line::from(vec![
                Span::styled(key, Style::new().bold()),
                Span::raw(piece.to_string()),
            ]));
        }
        if let Some(w) = app.disabled_why(b.needs) {
            for piece in textwrap::wrap(&format!("(disabled: {w})"), text_w) {
                lines.push(Line::from(vec![
                    Span::raw(indent.clone()),
                    Span::styled(piece.to_string(), Style::new().dim()),
                ]));
            }
        }
    }
    let h = cells(lines.len()).saturating_add(2).min(f.area().height);
    let area = centered(f.area(), 110, h);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" Help ")
                .title_bottom(Line::from(" Esc or ? closes this help ").dim()),
        ),
        area,
    );
}

/// A table column: its header, the width it wants, when it gives way on a narrow terminal
/// (0: never; higher numbers go first), right-aligned (numbers), and whether it takes the
/// room left (one column a table).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Col {
    pub head: &'static str,
    pub width: u16,
    pub drop: u8,
    pub right: bool,
    pub flex: bool,
    /// Cut in the middle (a file name: its end tells files of one batch apart).
    pub middle: bool,
}

pub(crate) const fn col(head: &'static str, width: u16, drop: u8) -> Col {
    Col {
        head,
        width,
        drop,
        right: false,
        flex: false,
        middle: false,
    }
}

pub(crate) const fn num(head: &'static str, width: u16, drop: u8) -> Col {
    Col {
        head,
        width,
        drop,
        right: true,
        flex: false,
        middle: false,
    }
}

pub(crate) const fn flex(head: &'static str, width: u16, drop: u8) -> Col {
    Col {
        head,
        width,
        drop,
        right: false,
        flex: true,
        middle: false,
    }
}

/// The flexible column of a file or ack name, cut in the middle.
pub(crate) const fn name(head: &'static str, width: u16, drop: u8) -> Col {
    Col {
        middle: true,
        ..flex(head, width, drop)
    }
}

/// The columns that fit in `avail` (dropped by priority) and each one's width: the flexible
/// one gets what is left.
pub(crate) fn fit_columns(cols: &[Col], avail: u16) -> Vec<(usize, u16)> {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let need = |keep: &[usize]| -> u16 {
        keep.iter().map(|i| cols[*i].width).sum::<u16>() + cells(keep.len().saturating_sub(1))
    };
    while need(&keep) > avail {
        let Some((pos, _)) = keep
            .iter()
            .enumerate()
            .filter(|(_, i)| cols[**i].drop > 0)
            .max_by_key(|(pos, i)| (cols[**i].drop, *pos))
        else {
            break;
        };
        keep.remove(pos);
    }
    let spare = avail.saturating_sub(need(&keep));
    // The room left goes to the flexible column, or when it gave way, to the last one (a
    // right-aligned amount then ends at the table's edge).
    let flex_at = keep
        .iter()
        .position(|i| cols[*i].flex)
        .or(keep.len().checked_sub(1));
    keep.iter()
        .enumerate()
        .map(|(pos, i)| {
            let extra = if Some(pos) == flex_at { spare } else { 0 };
            (*i, cols[*i].width + extra)
        })
        .collect()
}

/// A table's header, widths and rows, with only the columns that fit: each cell cut to its
/// width with an ellipsis, numbers right-aligned.
pub(crate) fn grid<'a>(
    cols: &[Col],
    avail: u16,
    rows: impl IntoIterator<Item = Vec<(String, Style)>>,
) -> (
    ratatui::widgets::Row<'a>,
    Vec<Constraint>,
    Vec<ratatui::widgets::Row<'a>>,
) {
    use ratatui::widgets::{Cell, Row};
    let fit = fit_columns(cols, avail);
    let header = Row::new(
        fit.iter()
            .map(|(i, w)| aligned(cols[*i].head.to_owned(), *w, &cols[*i], Style::new()))
            .collect::<Vec<Cell>>(),
    )
    .style(Style::new().add_modifier(Modifier::BOLD));
    let widths = fit.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    let body = rows
        .into_iter()
        .map(|cells| {
            Row::new(
                fit.iter()
                    .map(|(i, w)| {
                        let (text, style) = cells.get(*i).cloned().unwrap_or_default();
                        aligned(text, *w, &cols[*i], style)
                    })
                    .collect::<Vec<Cell>>(),
            )
        })
        .collect();
    (header, widths, body)
}

fn aligned<'a>(text: String, w: u16, col: &Col, style: Style) -> ratatui::widgets::Cell<'a> {
    let t = if col.middle {
        ellipsis_middle(&text, usize::from(w))
    } else {
        ellipsis(&text, usize::from(w))
    };
    let line = if col.right {
        Line::from(t).right_aligned()
    } else {
        Line::from(t)
    };
    ratatui::widgets::Cell::from(line).style(style)
}

/// `s` cut to `w` columns, with `…` where it was cut.
pub(crate) fn ellipsis(s: &str, w: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= w {
        return s.to_owned();
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw > w - 1 {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// `s` cut to `w` columns with `…` in its middle: a third of the room for its start, the rest
/// for its end (`demo-17…3734-000012.xml`).
pub(crate) fn ellipsis_middle(s: &str, w: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= w || w < 5 {
        return ellipsis(s, w);
    }
    let room = w - 1;
    let head = ellipsis(s, room / 3 + 1);
    let head = head.trim_end_matches('…');
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if used + cw > room - room / 3 {
            break;
        }
        tail.push(c);
        used += cw;
    }
    let tail: String = tail.into_iter().rev().collect();
    format!("{head}…{tail}")
}

/// A line cut to `w` columns with `…` (a paragraph that does not wrap).
pub(crate) fn clip(line: Line<'static>, w: u16) -> Line<'static> {
    let w = usize::from(w);
    if line.width() <= w {
        return line;
    }
    let mut left = w.saturating_sub(1);
    let mut spans = Vec::new();
    for s in line.spans {
        if left == 0 {
            break;
        }
        let sw = s.width();
        if sw <= left {
            left -= sw;
            spans.push(s);
        } else {
            let cut = ellipsis(&s.content, left + 1);
            let cut = cut.trim_end_matches('…').to_owned();
            left = 0;
            spans.push(Span::styled(cut, s.style));
        }
    }
    spans.push(Span::raw("…"));
    Line::from(spans).style(line.style)
}

pub(crate) use crate::figures::grouped;

/// A count of lines or characters as terminal cells (a terminal has fewer than 65,536).
pub(crate) fn cells(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}
