//! The monitor for staff: a month and a dimension, unsuppressed figures marked CONFIDENTIAL,
//! bar charts of the top keys, the 12-month trend of the selected key, and a preview of
//! exactly what the public export shows.

use super::clean;
use crate::console::app::{App, tons};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Cell, Paragraph, Row, Table, TableState};

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let m = &app.monitor;
    let [banner, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let month = m.month_name().unwrap_or("no month yet");
    let head = if m.public_preview {
        Line::from(format!(
            "PUBLIC PREVIEW: exactly what the export shows, (D) where fewer than {} importers: {month}, {}",
            crate::monitor::MIN_IMPORTERS,
            m.dimension_name()
        ))
        .style(Style::new().fg(Color::Black).bg(Color::Green).bold())
    } else {
        Line::from(format!(
            "CONFIDENTIAL: unsuppressed staff figures, not for release: {month}, {}",
            m.dimension_name()
        ))
        .style(Style::new().fg(Color::White).bg(Color::Red).bold())
    };
    f.render_widget(Paragraph::new(head), banner);
    if !m.loaded {
        f.render_widget(Paragraph::new("loading the monitor…"), body);
        return;
    }
    let [table_area, charts] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let shown = m.shown();
    let widths = [
        Constraint::Min(12),
        Constraint::Length(9),
        Constraint::Length(13),
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Length(10),
    ];
    let table = if m.public_preview {
        let rows: Vec<Row> = m
            .shown_public()
            .iter()
            .map(|p| {
                Row::new(vec![
                    clean(&p.key),
                    p.licenses.clone(),
                    p.metric_tons.clone(),
                    p.value_usd.clone(),
                    p.unit_value_usd_per_mt.clone(),
                    String::new(),
                ])
            })
            .collect();
        Table::new(rows, widths).header(
            Row::new(["key", "licenses", "metric tons", "value USD", "USD/t", ""]).style(bold),
        )
    } else {
        let rows: Vec<Row> = shown
            .iter()
            .map(|r| {
                let sup = if r.suppressed {
                    Cell::from(format!("{} (D)", r.importers)).style(Style::new().fg(Color::Yellow))
                } else {
                    Cell::from(r.importers.to_string())
                };
                Row::new(vec![
                    Cell::from(clean(&r.key)),
                    Cell::from(r.licenses.to_string()),
                    Cell::from(r.metric_tons.clone()),
                    Cell::from(r.value_usd.clone()),
                    Cell::from(r.unit_value_usd_per_mt.clone()),
                    sup,
                ])
            })
            .collect();
        Table::new(rows, widths).header(
            Row::new([
                "key",
                "licenses",
                "metric tons",
                "value USD",
                "USD/t",
                "importers",
            ])
            .style(bold),
        )
    };
    let table = table
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(format!(
            " {month} by {} ({} of {} months; Left/Right) ",
            m.dimension_name(),
            m.month + 1,
            m.months.len()
        )));
    let mut st = TableState::default().with_selected((!shown.is_empty()).then_some(m.selected));
    f.render_stateful_widget(table, table_area, &mut st);

    let [top, trend] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let bars: Vec<Bar> = shown
        .iter()
        .take(8)
        .map(|r| {
            let t = tons(&r.metric_tons);
            Bar::default()
                .value(t.round().max(0.0) as u64)
                .text_value(format!("{t:.0}"))
                .label(Line::from(clean(&r.key)))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(7)
            .bar_gap(1)
            .bar_style(Style::new().fg(Color::Cyan))
            .block(Block::bordered().title(" Top keys, metric tons ")),
        top,
    );
    let series = m.trend();
    let key = shown
        .get(m.selected)
        .map_or_else(String::new, |r| clean(&r.key));
    let tbars: Vec<Bar> = series
        .iter()
        .map(|(mo, t)| {
            Bar::default()
                .value(t.round().max(0.0) as u64)
                .text_value(format!("{t:.0}"))
                .label(Line::from(mo.get(5..).unwrap_or(mo).to_owned()))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&tbars))
            .bar_width(4)
            .bar_gap(1)
            .bar_style(Style::new().fg(Color::Magenta))
            .block(Block::bordered().title(format!(" {key}: 12 months, metric tons "))),
        trend,
    );
}
