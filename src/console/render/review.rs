//! The review queue, oldest first, with the reasons and the filing beside it.

use super::clean;
use crate::console::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};

pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let r = &app.review;
    let [list, side] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let rows: Vec<Row> = r
        .held
        .iter()
        .map(|h| {
            Row::new(vec![
                if r.marked.contains(&h.handle) {
                    "[x]"
                } else {
                    "[ ]"
                }
                .to_owned(),
                clean(&h.handle),
                h.received_at.format("%m-%d %H:%M").to_string(),
                h.reasons.join(" "),
            ])
        })
        .collect();
    let title = if r.loaded {
        format!(
            " Held for review: {} (marked {}) ",
            r.held.len(),
            r.marked.len()
        )
    } else {
        " Held for review: loading… ".into()
    };
    let t = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(20),
            Constraint::Length(11),
            Constraint::Length(14),
        ],
    )
    .header(Row::new(["", "handle", "received", "reasons"]).style(Style::new().bold()))
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .block(Block::bordered().title(title));
    let mut st = TableState::default().with_selected((!r.held.is_empty()).then_some(r.selected));
    f.render_stateful_widget(t, list, &mut st);

    let mut lines: Vec<Line> = Vec::new();
    match r.held.get(r.selected) {
        None if r.loaded => lines.push(Line::from("Nothing is held for review.")),
        None => {}
        Some(h) => {
            lines.push(Line::from(clean(&h.handle)).bold());
            lines.push(Line::from(format!(
                "{} application{} from {} received {}",
                h.action,
                h.license
                    .as_deref()
                    .map_or_else(String::new, |l| format!(" correcting {l}")),
                clean(&h.file_name),
                h.received_at.format("%Y-%m-%d %H:%M:%S")
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
            lines.push(Line::from(""));
            lines.push(Line::from("Why it is held").bold());
            for d in &h.details {
                lines.push(Line::from(format!(
                    "{} {}: {}",
                    clean(&d.code),
                    clean(&d.path),
                    clean(&d.detail)
                )));
            }
            lines.push(Line::from(""));
            lines.push(Line::from("Products").bold());
            for p in &h.products {
                lines.push(Line::from(format!(
                    "{} {} {} ({}) {} kg {} USD, {} USD/t, smelt {} cast {}",
                    p.line,
                    clean(&p.hts),
                    clean(&p.description),
                    clean(&p.category),
                    clean(&p.quantity_kg),
                    clean(&p.value_usd),
                    clean(&p.unit_value_usd_per_mt),
                    clean(&p.largest_smelt),
                    clean(&p.most_recent_cast)
                )));
            }
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" The filing ")),
        side,
    );
}
