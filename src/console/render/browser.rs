//! Every license, paged from the daemon: the search box, the window of rows, the position.

use super::clean;
use crate::console::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, Paragraph, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table, TableState,
};

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let b = &app.browser;
    let [search, table_area, pos] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut spans = vec![Span::raw(clean(&b.query))];
    if b.editing {
        spans.push(Span::raw("█"));
    }
    if b.query.is_empty() && !b.editing {
        spans.push(Span::raw("press / to search: AIM-2026-…, an entry number, an importer, a sender, a control number, or status= sender= country= hts= day=").dim());
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
        block = block.title_bottom(Line::from(format!(" {} ", clean(e))).red());
    } else if !b.plan.is_empty() {
        block = block.title_bottom(Line::from(format!(" {} ", b.plan)).dim());
    }
    f.render_widget(Paragraph::new(Line::from(spans)).block(block), search);

    let header = Row::new([
        "license",
        "status",
        "sender",
        "importer",
        "entry",
        "origin",
        "valid from",
        "HTS",
        "value USD",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = b
        .rows
        .iter()
        .map(|r| {
            let status = Cell::from(r.status.clone()).style(match r.status.as_str() {
                "cancelled" => Style::new().fg(Color::Red),
                "corrected" => Style::new().fg(Color::Yellow),
                _ => Style::new(),
            });
            let hts = if r.products > 1 {
                format!("{} +{}", clean(&r.hts), r.products - 1)
            } else {
                clean(&r.hts)
            };
            Row::new(vec![
                Cell::from(r.license.clone()),
                status,
                Cell::from(clean(&r.sender)),
                Cell::from(clean(&r.importer)),
                Cell::from(r.entry_number.as_deref().map_or_else(String::new, clean)),
                Cell::from(clean(&r.country_of_origin)),
                Cell::from(r.valid_from.to_string()),
                Cell::from(hts),
                Cell::from(clean(&r.total_value_usd)),
            ])
        })
        .collect();
    let order = format!(
        " Licenses by {}{} ",
        b.sort.name(),
        if b.desc { ", last first" } else { "" }
    );
    let table = Table::new(
        rows,
        [
            Constraint::Length(18),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Min(16),
            Constraint::Length(13),
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Length(13),
            Constraint::Length(14),
        ],
    )
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
