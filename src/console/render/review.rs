//! The review queue, oldest first: the filter, marks and position, and beside (or under) it
//! the selected filing with why it is held, each reason at the product line it is about.

use super::{Col, clean, col, flex, grid, grouped};
use crate::api::views::HeldView;
use crate::console::app::{App, ListArea, group};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Table, TableState, Wrap};

/// Below this width the filing is shown under the list instead of beside it.
const SIDE_BY_SIDE_FROM: u16 = 120;

fn areas(area: Rect) -> [Rect; 2] {
    if area.width >= SIDE_BY_SIDE_FROM {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    }
}

/// The list a click selects in.
pub fn lists(app: &App, area: Rect) -> Vec<(ListArea, Rect, usize)> {
    let [list, _] = areas(area);
    let rows = super::table_rows(list);
    vec![(
        ListArea::Review,
        rows,
        super::offset_for(app.review.selected, rows),
    )]
}

const COLUMNS: [Col; 6] = [
    col("", 3, 0),
    flex("handle", 16, 0),
    col("received", 11, 2),
    col("origin", 6, 3),
    col("reasons", 9, 0),
    col("sender", 12, 4),
];

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let r = &app.review;
    let [list, side] = areas(area);
    let shown = r.shown();
    let plain = Style::new();
    let rows = shown.iter().map(|h| {
        let mark = if r.marked.contains(&h.handle) {
            "[x]"
        } else {
            "[ ]"
        };
        vec![
            (mark.to_owned(), plain),
            (clean(h.shown_handle()), plain),
            (app.time_fmt(h.received_at, "%m-%d %H:%M"), plain),
            (
                h.country_of_origin
                    .as_deref()
                    .map_or_else(String::new, clean),
                plain,
            ),
            (h.reasons.join(" "), Style::new().fg(Color::Yellow)),
            (clean(&h.sender), plain),
        ]
    });
    let (header, widths, rows) = grid(&COLUMNS, list.width.saturating_sub(2), rows);
    let mut title = if r.loaded {
        format!(
            " Held: {} of {}{} · marked {} ",
            if shown.is_empty() {
                "none".to_owned()
            } else {
                format!("row {}", group(r.selected as u64 + 1))
            },
            group(shown.len() as u64),
            if r.filter.trim().is_empty() {
                String::new()
            } else {
                format!(" shown ({} held)", group(r.held.len() as u64))
            },
            group(r.marked.len() as u64)
        )
    } else {
        " Held for review: loading… ".into()
    };
    if r.filtering || !r.filter.is_empty() {
        title.push_str(&format!(
            "· filter: {}{} ",
            clean(&r.filter),
            if r.filtering { "█" } else { "" }
        ));
    }
    let mut block = Block::bordered().title(title);
    if r.filtering {
        block = block.border_style(Style::new().fg(Color::Cyan));
    }
    let t = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(block);
    let mut st = TableState::default().with_selected((!shown.is_empty()).then_some(r.selected));
    f.render_stateful_widget(t, list, &mut st);

    let lines = match shown.get(r.selected) {
        None if r.loaded && r.held.is_empty() => vec![Line::from("Nothing is held for review.")],
        None if r.loaded => vec![Line::from(
            "Nothing held matches the filter (Esc clears it).",
        )],
        None => Vec::new(),
        Some(h) => filing_lines(app, h),
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" The filing ")),
        side,
    );
}

/// Which product line a hold's path is about (`Application[A1]/Product[2]/…` → 2).
fn product_of(path: &str) -> Option<u16> {
    let rest = &path[path.find("Product[")? + 8..];
    rest[..rest.find(']')?].parse().ok()
}

fn filing_lines(app: &App, h: &HeldView) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(clean(h.shown_handle())).bold()];
    lines.push(Line::from(format!(
        "{} application{} from {} received {}",
        h.action,
        h.license
            .as_deref()
            .map_or_else(String::new, |l| format!(" correcting {l}")),
        clean(&h.file_name),
        app.time(h.received_at)
    )));
    lines.push(Line::from(format!(
        "importer {}  origin {}  import {}",
        h.importer.as_deref().map_or_else(|| "-".into(), clean),
        h.country_of_origin
            .as_deref()
            .map_or_else(|| "-".into(), clean),
        h.expected_import_date
            .map_or_else(|| "-".into(), |d| d.to_string())
    )));
    let general: Vec<_> = h
        .details
        .iter()
        .filter(|d| product_of(&d.path).is_none())
        .collect();
    if !general.is_empty() {
        lines.push(Line::from("Held for").bold());
        for d in general {
            lines.push(
                Line::from(format!(
                    "{} {}: {}",
                    clean(&d.code),
                    clean(&d.path),
                    clean(&d.detail)
                ))
                .yellow(),
            );
        }
    }
    lines.push(Line::from("Products (why held, at its line)").bold());
    for p in &h.products {
        lines.push(Line::from(format!(
            "{:<3} {} {} kg {} USD, {} USD/t",
            p.line,
            clean(&p.hts),
            grouped(&clean(&p.quantity_kg)),
            grouped(&clean(&p.value_usd)),
            grouped(&clean(&p.unit_value_usd_per_mt)),
        )));
        lines.push(
            Line::from(format!(
                "    smelt {} / {}, cast {}; {}",
                clean(&p.largest_smelt),
                clean(&p.second_largest_smelt),
                clean(&p.most_recent_cast),
                clean(&p.description)
            ))
            .dim(),
        );
        for d in h
            .details
            .iter()
            .filter(|d| product_of(&d.path) == Some(p.line))
        {
            let field = d.path.rsplit('/').next().unwrap_or("");
            lines.push(
                Line::from(format!(
                    "    ▲ {} {}: {}",
                    clean(&d.code),
                    clean(field),
                    clean(&d.detail)
                ))
                .yellow(),
            );
        }
    }
    lines
}
