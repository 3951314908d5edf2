//! The monitor for staff: a month and a dimension, unsuppressed figures marked CONFIDENTIAL,
//! bar charts of the top keys and the 12-month trend of the selected key ([`charts`]), and a
//! preview of exactly what the public export shows.

use super::{Col, clean, flex, grid, grouped, num};
use crate::console::app::{App, ListArea, tons};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Table, TableState};

/// Below this width the charts go under the table instead of beside it.
const SIDE_BY_SIDE_FROM: u16 = 140;

/// The banner, the table and the charts' area.
fn areas(area: Rect) -> [Rect; 3] {
    let [banner, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let [table, charts] = if area.width >= SIDE_BY_SIDE_FROM {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body)
    } else {
        Layout::vertical([Constraint::Min(6), Constraint::Length(9)]).areas(body)
    };
    [banner, table, charts]
}

/// The list a click selects in: the keys of the month.
pub fn lists(app: &App, area: Rect) -> Vec<(ListArea, Rect, usize)> {
    let [_, table, _] = areas(area);
    let rows = super::table_rows(table);
    vec![(
        ListArea::Monitor,
        rows,
        super::offset_for(app.monitor.selected, rows),
    )]
}

const COLUMNS: [Col; 6] = [
    flex("key", 8, 0),
    num("licenses", 8, 2),
    num("metric tons", 13, 0),
    num("value USD", 16, 1),
    num("USD/t", 11, 3),
    num("importers", 10, 0),
];

#[allow(clippy::too_many_lines)] // one screen drawn top to bottom
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let m = &app.monitor;
    let [banner, table_area, chart_area] = areas(area);
    let month = m.month_name().unwrap_or("no month yet");
    let head = if m.public_preview {
        Line::from(format!(
            "PUBLIC PREVIEW: exactly what the export and the website show, (D) withheld (spec 7.1): {month}, {}",
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
    f.render_widget(Paragraph::new(super::clip(head, banner.width)), banner);
    if !m.loaded {
        f.render_widget(Paragraph::new("loading the monitor…"), table_area);
        return;
    }
    let shown = m.shown();
    let plain = Style::new();
    let rows: Vec<Vec<(String, Style)>> = if m.public_preview {
        m.shown_public()
            .iter()
            .map(|p| {
                vec![
                    // As the published site names it: "Canada (CA)", "7601.10".
                    (
                        clean(&crate::monitor::key_name(m.dimension_name(), &p.key)),
                        plain,
                    ),
                    (grouped(&p.licenses), plain),
                    (grouped(&p.metric_tons), plain),
                    (grouped(&p.value_usd), plain),
                    (grouped(&p.unit_value_usd_per_mt), plain),
                ]
            })
            .collect()
    } else {
        shown
            .iter()
            .map(|r| {
                let importers = if r.suppressed {
                    (
                        format!("{} (D)", r.importers),
                        Style::new().fg(Color::Yellow),
                    )
                } else {
                    (r.importers.to_string(), plain)
                };
                vec![
                    (clean(&r.key), plain),
                    (grouped(&r.licenses.to_string()), plain),
                    (grouped(&r.metric_tons), plain),
                    (grouped(&r.value_usd), plain),
                    (grouped(&r.unit_value_usd_per_mt), plain),
                    importers,
                ]
            })
            .collect()
    };
    // The public figures name no importers: the preview has no such column.
    let columns = if m.public_preview {
        &COLUMNS[..5]
    } else {
        &COLUMNS[..]
    };
    let (header, widths, rows) = grid(columns, table_area.width.saturating_sub(2), rows);
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::bordered().title(format!(
            " {month} by {} ({} of {} months; Left/Right) ",
            m.dimension_name(),
            m.month + 1,
            m.months.len()
        )));
    let count = m.row_count();
    let mut st = TableState::default().with_selected((count > 0).then_some(m.selected));
    f.render_stateful_widget(table, table_area, &mut st);
    // The preview's charts draw published figures only: a (D) is neither a bar nor a rank,
    // and a withheld month of the trend is a gap marked (D).
    let (bars, series): (Vec<(String, f64)>, Vec<Month>) = if m.public_preview {
        (
            m.shown_public()
                .iter()
                .filter(|r| !r.is_suppressed())
                .map(|r| (r.key.clone(), tons(&r.metric_tons)))
                .collect(),
            m.trend_public(),
        )
    } else {
        (
            shown
                .iter()
                .map(|r| (r.key.clone(), tons(&r.metric_tons)))
                .collect(),
            m.trend().into_iter().map(|(mo, t)| (mo, Some(t))).collect(),
        )
    };
    charts(app, &bars, &series, f, chart_area);
}

/// A month of the trend and its metric tons (`None`: withheld).
type Month = (String, Option<f64>);

/// The monitor's charts: the top keys of the month (largest first), and the selected key's
/// 12 months (`None`: withheld, drawn as a gap marked (D)).
fn charts(app: &App, top_keys: &[(String, f64)], series: &[Month], f: &mut Frame, area: Rect) {
    let m = &app.monitor;
    let [top, trend] = if area.width >= area.height * 4 {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
    };
    let bar_w = 7u16;
    let fits = usize::from(top.width.saturating_sub(2) / (bar_w + 1)).max(1);
    let bars: Vec<Bar> = top_keys
        .iter()
        .take(fits.min(8))
        .map(|(key, t)| {
            let t = *t;
            Bar::default()
                .value(bar(t))
                .text_value(super::ellipsis(
                    &grouped(&format!("{t:.0}")),
                    usize::from(bar_w),
                ))
                .label(Line::from(super::ellipsis(&clean(key), usize::from(bar_w))))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar_w)
            .bar_gap(1)
            .bar_style(Style::new().fg(Color::Cyan))
            .block(Block::bordered().title(" Top keys, metric tons ")),
        top,
    );
    let key = m.selected_key().map_or_else(String::new, |k| clean(&k));
    // As many months as fit, the newest kept.
    let tw = 5u16;
    let fits = usize::from(trend.width.saturating_sub(2) / (tw + 1)).max(1);
    let series = &series[series.len().saturating_sub(fits)..];
    let tbars: Vec<Bar> = series
        .iter()
        .map(|(mo, t)| {
            let month = Line::from(mo.get(5..).unwrap_or(mo).to_owned());
            let Some(t) = *t else {
                return Bar::default().value(0).text_value("(D)").label(month);
            };
            // Whole tons, grouped, where they fit the bar; thousands (`12k`) where not.
            let whole = grouped(&format!("{t:.0}"));
            let label = if whole.chars().count() <= usize::from(tw) {
                whole
            } else {
                format!("{:.0}k", t / 1000.0)
            };
            Bar::default()
                .value(bar(t))
                .text_value(super::ellipsis(&label, usize::from(tw)))
                .label(month)
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&tbars))
            .bar_width(tw)
            .bar_gap(1)
            .bar_style(Style::new().fg(Color::Magenta))
            .block(Block::bordered().title(format!(" {key}: 12 months, metric tons "))),
        trend,
    );
}

/// A bar's height: rounded, never below 0 (`as` saturates at `u64::MAX`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn bar(t: f64) -> u64 {
    t.round().max(0.0) as u64
}
