//! Every license, paged from the daemon: the search box, the window of rows, the position.

use super::{Col, clean, col, flex, grid, grouped, num};
use crate::console::app::{App, ListArea};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState, Table, TableState,
};

/// The columns, and the order they give way on a narrow terminal: importer, entry, country
/// first; the license number and the value never.
const COLUMNS: [Col; 9] = [
    col("license", 18, 0),
    col("status", 9, 0),
    col("sender", 10, 5),
    flex("importer", 14, 9),
    col("entry", 13, 8),
    col("origin", 6, 7),
    col("valid from", 10, 6),
    col("HTS", 13, 4),
    num("value USD", 17, 0),
];

fn areas(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The list a click selects in: the window of rows, from its offset.
pub fn lists(app: &App, area: Rect) -> Vec<(ListArea, Rect, usize)> {
    let [_, table, _] = areas(area);
    vec![(
        ListArea::Browser,
        super::table_rows(table),
        app.browser.offset,
    )]
}

#[allow(clippy::too_many_lines)] // one screen drawn top to bottom
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let b = &app.browser;
    let [search, table_area, pos] = areas(area);
    let mut spans = vec![Span::raw(clean(&b.query))];
    if b.editing {
        spans.push(Span::raw("█"));
    }
    if b.query.is_empty() && !b.editing {
        spans.push(Span::raw(super::ellipsis("press / to search: AIM-2026-…, an entry number, an importer, a sender, a control number, or status= sender= country= hts= day=", usize::from(search.width.saturating_sub(2)))).dim());
    }
    let title = if b.editing {
        " Search (Enter done) "
    } else {
        " Search "
    };
    let mut block = Block::bordered().title(title);
    if b.editing {
        block = block.border_style(Style::new().fg(Color::Cyan));
    }
    if let Some(e) = &b.query_error {
        let e = super::ellipsis(&clean(e), usize::from(search.width.saturating_sub(4)));
        block = block.title_bottom(Line::from(format!(" {e} ")).red());
    } else if !b.plan.is_empty() {
        let p = super::ellipsis(&b.plan, usize::from(search.width.saturating_sub(4)));
        block = block.title_bottom(Line::from(format!(" {p} ")).dim());
    }
    f.render_widget(Paragraph::new(Line::from(spans)).block(block), search);

    let body = b.rows.iter().map(|r| {
        let status = match r.status.as_str() {
            "cancelled" => Style::new().fg(Color::Red),
            "corrected" => Style::new().fg(Color::Yellow),
            _ => Style::new(),
        };
        let hts = if r.products > 1 {
            format!("{} +{}", clean(&r.hts), r.products - 1)
        } else {
            clean(&r.hts)
        };
        let plain = Style::new();
        vec![
            (r.license.clone(), plain),
            (r.status.clone(), status),
            (clean(&r.sender), plain),
            (clean(&r.importer), plain),
            (
                r.entry_number.as_deref().map_or_else(String::new, clean),
                plain,
            ),
            (clean(&r.country_of_origin), plain),
            (r.valid_from.to_string(), plain),
            (hts, plain),
            (grouped(&clean(&r.total_value_usd)), plain),
        ]
    });
    // The scrollbar takes the last column of the box.
    let (header, widths, rows) = grid(&COLUMNS, table_area.width.saturating_sub(3), body);
    let order = format!(
        " Licenses by {}{} ",
        b.sort.name(),
        if b.desc { ", last first" } else { "" }
    );
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(order));
    let mut st = TableState::default()
        .with_offset(b.offset)
        .with_selected((!b.rows.is_empty()).then_some(b.selected));
    f.render_stateful_widget(table, table_area, &mut st);
    if let (Some(total), Some(start)) = (b.total, b.start) {
        let mut sb = ScrollbarState::new(usize::try_from(total).unwrap_or(usize::MAX))
            .position(usize::try_from(start).unwrap_or(0) + b.selected);
        f.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            table_area,
            &mut sb,
        );
    }
    let mut p = vec![Span::styled(b.position(), Style::new().bold())];
    if b.loading.is_some() {
        p.push(Span::raw("  loading…").dim());
    }
    if let Some(ms) = b.last_ms {
        p.push(Span::raw(format!("  last page {ms} ms")).dim());
    }
    f.render_widget(Paragraph::new(Line::from(p)), pos);
}
