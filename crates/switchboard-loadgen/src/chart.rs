//! The chart of `docs/benchmarks.md`: throughput against concurrency, one
//! panel per backend, each scenario's medians beside the database's own
//! ceiling. A self-contained SVG: no scripts, no external fonts.

use std::fmt::{self, Write as _};

use crate::model::{Backend, Report, Scenario, Subject};
use crate::report::{self, Summary};

/// One panel, including its title and axis labels.
const PANEL_W: f64 = 480.0;
const PANEL_H: f64 = 360.0;
/// Space between panels and around the figure.
const GAP: f64 = 24.0;
/// The narrowest figure (the title must fit).
const MIN_WIDTH: f64 = 640.0;
/// Room for the title and subtitle above the panels.
const HEADER_H: f64 = 64.0;
/// The plot area inside a panel.
const PLOT_LEFT: f64 = 72.0;
const PLOT_RIGHT: f64 = 20.0;
const PLOT_TOP: f64 = 34.0;
const PLOT_BOTTOM: f64 = 56.0;

const FONT: &str = "sans-serif";
const CEILING_COLOR: &str = "#8c8c8c";
const GRID_COLOR: &str = "#e3e3e3";
const AXIS_COLOR: &str = "#444444";

/// A colour per scenario (colour-blind friendly: Okabe–Ito).
fn color(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::SoPatch => "#0072b2",
        Scenario::HcPatch => "#e69f00",
        Scenario::ChatbotEmail => "#009e73",
        Scenario::SoGet => "#cc79a7",
    }
}

/// What the ceiling is, per backend.
fn ceiling_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "pgbench",
        Backend::Sqlite => "bare SQLite connection",
    }
}

/// The label beside the ceiling's line.
fn ceiling_label(backend: Backend) -> String {
    format!("ceiling ({})", ceiling_name(backend))
}

/// Escapes text for SVG content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A tick step of 1, 2, 2.5 or 5 × 10ⁿ giving about five intervals up to
/// `max`, and the top tick (≥ `max`). At least 1 when there is nothing.
fn nice_scale(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (0.2, 1.0);
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step - 1e-9).ceil().max(1.0) * step;
    (step, top)
}

/// The decimals a tick step needs (0 for whole steps).
fn decimals(step: f64) -> usize {
    (0..6)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .map_or(6, |d| d as usize)
}

fn tick_label(value: f64, decimals: usize) -> String {
    if decimals == 0 {
        report::fmt_count(value)
    } else {
        format!("{value:.decimals$}")
    }
}

/// The chart of the report's medians as an SVG document.
#[must_use]
pub fn svg(report: &Report) -> String {
    let rows = report::summarize(report);
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_svg(&mut out, report, &rows);
    out
}

fn write_svg(out: &mut String, report: &Report, rows: &[Summary]) -> fmt::Result {
    let backends: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| rows.iter().any(|s| s.backend == *b))
        .collect();
    let panels = backends.len().max(1) as f64;
    let panels_w = GAP + panels * (PANEL_W + GAP);
    // Wide enough for the title when there is one panel; panels centred.
    let width = panels_w.max(MIN_WIDTH);
    let panels_left = (width - panels_w) / 2.0;
    let legend = Legend::new(&backends, width);
    let height = HEADER_H + PANEL_H + legend.height();

    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT}" font-size="12">"#
    )?;
    writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    )?;
    let title = format!(
        "Throughput vs concurrency (medians of {})",
        report::rounds_phrase(rows)
    );
    writeln!(
        out,
        r#"<text x="{:.1}" y="26" text-anchor="middle" font-size="18" font-weight="bold">{}</text>"#,
        width / 2.0,
        escape(&title)
    )?;
    writeln!(
        out,
        r##"<text x="{:.1}" y="46" text-anchor="middle" font-size="12" fill="#555555">{}</text>"##,
        width / 2.0,
        escape(&format!(
            "{} · {}",
            report.machine.trim(),
            report.started_at
        ))
    )?;

    if backends.is_empty() {
        writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555555">no runs</text>"##,
            width / 2.0,
            HEADER_H + PANEL_H / 2.0
        )?;
    }
    for (i, backend) in backends.iter().enumerate() {
        let x0 = panels_left + GAP + i as f64 * (PANEL_W + GAP);
        let panel_rows: Vec<&Summary> = rows.iter().filter(|s| s.backend == *backend).collect();
        write_panel(out, *backend, &panel_rows, x0, HEADER_H)?;
    }
    legend.write(out, width, HEADER_H + PANEL_H + 16.0)?;
    writeln!(out, "</svg>")
}

fn write_panel(
    out: &mut String,
    backend: Backend,
    rows: &[&Summary],
    x0: f64,
    y0: f64,
) -> fmt::Result {
    let left = x0 + PLOT_LEFT;
    let right = x0 + PANEL_W - PLOT_RIGHT;
    let top = y0 + PLOT_TOP;
    let bottom = y0 + PANEL_H - PLOT_BOTTOM;

    let mut conns: Vec<u32> = rows.iter().map(|s| s.concurrency).collect();
    conns.sort_unstable();
    conns.dedup();
    let slot = (right - left) / conns.len().max(1) as f64;
    let x_of = |c: u32| {
        let i = conns.iter().position(|x| *x == c).unwrap_or(0);
        left + (i as f64 + 0.5) * slot
    };
    let max = rows.iter().map(|s| s.throughput).fold(0.0, f64::max);
    let (step, y_top) = nice_scale(max);
    let y_of = |v: f64| bottom - (v / y_top) * (bottom - top);

    writeln!(
        out,
        r#"<g class="panel" data-backend="{}">"#,
        backend.name()
    )?;
    writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        (left + right) / 2.0,
        y0 + 18.0,
        escape(backend.label())
    )?;

    // Horizontal grid and y ticks.
    let places = decimals(step);
    let ticks = (y_top / step).round() as u32;
    for k in 0..=ticks {
        let v = f64::from(k) * step;
        let y = y_of(v);
        writeln!(
            out,
            r#"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="{GRID_COLOR}" stroke-width="1"/>"#
        )?;
        writeln!(
            out,
            r#"<text class="ytick" x="{:.1}" y="{:.1}" text-anchor="end" fill="{AXIS_COLOR}">{}</text>"#,
            left - 8.0,
            y + 4.0,
            escape(&tick_label(v, places))
        )?;
    }
    // Axes.
    writeln!(
        out,
        r#"<path d="M{left:.1},{top:.1} V{bottom:.1} H{right:.1}" fill="none" stroke="{AXIS_COLOR}" stroke-width="1"/>"#
    )?;
    // x ticks.
    for c in &conns {
        let x = x_of(*c);
        writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="{AXIS_COLOR}" stroke-width="1"/>"#,
            bottom + 5.0
        )?;
        writeln!(
            out,
            r#"<text class="xtick" x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{AXIS_COLOR}">{c}</text>"#,
            bottom + 19.0
        )?;
    }
    writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{AXIS_COLOR}">concurrent connections</text>"#,
        (left + right) / 2.0,
        bottom + 40.0
    )?;
    let label_x = x0 + 16.0;
    let label_y = (top + bottom) / 2.0;
    writeln!(
        out,
        r#"<text x="{label_x:.1}" y="{label_y:.1}" text-anchor="middle" fill="{AXIS_COLOR}" transform="rotate(-90 {label_x:.1} {label_y:.1})">req/s (ceiling: tx/s)</text>"#
    )?;

    // The ceiling first, so the scenarios are drawn over it.
    let ceiling: Vec<&Summary> = rows
        .iter()
        .copied()
        .filter(|s| s.subject == Subject::Ceiling)
        .collect();
    if !ceiling.is_empty() {
        let points = points(&ceiling, &x_of, &y_of);
        writeln!(
            out,
            r#"<polyline class="ceiling" points="{points}" fill="none" stroke="{CEILING_COLOR}" stroke-width="5" stroke-dasharray="12 7" stroke-linejoin="round" stroke-linecap="round"/>"#
        )?;
        for s in &ceiling {
            write_marker(out, s, CEILING_COLOR, 5.0, "tx/s", &x_of, &y_of)?;
        }
        // Label the line above its last point, inside the plot.
        if let Some(last) = ceiling.last() {
            let x = x_of(last.concurrency);
            let anchor = if x > (left + right) / 2.0 {
                "end"
            } else {
                "start"
            };
            writeln!(
                out,
                r##"<text class="ceiling-label" x="{x:.1}" y="{:.1}" text-anchor="{anchor}" fill="#666666" font-size="12" font-style="italic">{}</text>"##,
                (y_of(last.throughput) - 12.0).max(top + 12.0),
                escape(&ceiling_label(backend))
            )?;
        }
    }
    for scenario in Scenario::ALL {
        let series: Vec<&Summary> = rows
            .iter()
            .copied()
            .filter(|s| s.subject == Subject::Scenario(scenario))
            .collect();
        if series.is_empty() {
            continue;
        }
        let colour = color(scenario);
        writeln!(
            out,
            r#"<polyline class="scenario" data-scenario="{}" points="{}" fill="none" stroke="{colour}" stroke-width="2.5" stroke-linejoin="round"/>"#,
            scenario.name(),
            points(&series, &x_of, &y_of)
        )?;
        for s in &series {
            write_marker(out, s, colour, 4.0, "req/s", &x_of, &y_of)?;
        }
    }
    writeln!(out, "</g>")
}

fn points(series: &[&Summary], x_of: &impl Fn(u32) -> f64, y_of: &impl Fn(f64) -> f64) -> String {
    series
        .iter()
        .map(|s| format!("{:.1},{:.1}", x_of(s.concurrency), y_of(s.throughput)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_marker(
    out: &mut String,
    s: &Summary,
    colour: &str,
    radius: f64,
    unit: &str,
    x_of: &impl Fn(u32) -> f64,
    y_of: &impl Fn(f64) -> f64,
) -> fmt::Result {
    let tooltip = format!(
        "{} {} at {}: {} {unit}",
        s.backend.label(),
        s.subject,
        s.concurrency,
        report::fmt_count(s.throughput)
    );
    writeln!(
        out,
        r##"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{colour}" stroke="#ffffff" stroke-width="1"><title>{}</title></circle>"##,
        x_of(s.concurrency),
        y_of(s.throughput),
        escape(&tooltip)
    )
}

/// The legend below the panels: every scenario, then the ceiling.
struct Legend {
    entries: Vec<(String, &'static str, bool)>,
    columns: usize,
    column_w: f64,
}

impl Legend {
    /// Rough advance of one character at the legend's font size.
    const CHAR_W: f64 = 6.8;
    /// The sample line and the gap before the text.
    const SAMPLE_W: f64 = 36.0;
    const ROW_H: f64 = 20.0;

    fn new(backends: &[Backend], width: f64) -> Self {
        let mut entries: Vec<(String, &'static str, bool)> = Scenario::ALL
            .into_iter()
            .map(|s| (s.label().to_owned(), color(s), false))
            .collect();
        if !backends.is_empty() {
            let names: Vec<&str> = backends.iter().map(|b| ceiling_name(*b)).collect();
            entries.push((
                format!("ceiling: {}", names.join(" · ")),
                CEILING_COLOR,
                true,
            ));
        }
        let longest = entries
            .iter()
            .map(|(label, _, _)| label.chars().count())
            .max()
            .unwrap_or(0);
        let column_w = Self::SAMPLE_W + longest as f64 * Self::CHAR_W + 24.0;
        let columns = if 2.0 * column_w <= width - 2.0 * GAP {
            2
        } else {
            1
        };
        Self {
            entries,
            columns,
            column_w,
        }
    }

    fn height(&self) -> f64 {
        let rows = self.entries.len().div_ceil(self.columns);
        rows as f64 * Self::ROW_H + 28.0
    }

    fn write(&self, out: &mut String, width: f64, y0: f64) -> fmt::Result {
        let left = ((width - self.columns as f64 * self.column_w) / 2.0).max(GAP);
        writeln!(out, r#"<g class="legend">"#)?;
        for (i, (label, colour, dashed)) in self.entries.iter().enumerate() {
            let x = left + (i % self.columns) as f64 * self.column_w;
            let y = y0 + (i / self.columns) as f64 * Self::ROW_H;
            let style = if *dashed {
                r#" stroke-width="5" stroke-dasharray="8 5""#
            } else {
                r#" stroke-width="2.5""#
            };
            writeln!(
                out,
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}"{style}/>"#,
                x + 28.0
            )?;
            writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + Self::SAMPLE_W,
                y + 4.0,
                escape(label)
            )?;
        }
        writeln!(out, "</g>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::full_report;

    #[test]
    fn nice_scales() {
        for (max, step, top) in [
            (0.0, 0.2, 1.0),
            (1.0, 0.2, 1.0),
            (7.3, 2.0, 8.0),
            (1234.0, 250.0, 1250.0),
            (4000.0, 1000.0, 4000.0),
            (4001.0, 1000.0, 5000.0),
            (12_000.0, 2500.0, 12_500.0),
            (0.37, 0.1, 0.4),
        ] {
            let (s, t) = nice_scale(max);
            assert!(
                (s - step).abs() < 1e-9 && (t - top).abs() < 1e-9,
                "{max}: {s} {t}"
            );
        }
        assert_eq!(decimals(250.0), 0);
        assert_eq!(decimals(0.25), 2);
        assert_eq!(tick_label(12_500.0, 0), "12,500");
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&#39;");
    }

    #[test]
    fn svg_has_a_polyline_per_scenario_and_the_ceiling() {
        let svg = svg(&full_report());
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Throughput vs concurrency (medians of 1 round)"));
        assert_eq!(svg.matches("<g class=\"panel\"").count(), 2);
        assert_eq!(svg.matches("class=\"scenario\"").count(), 2 * 4);
        assert_eq!(svg.matches("class=\"ceiling\"").count(), 2);
        for scenario in Scenario::ALL {
            assert_eq!(
                svg.matches(&format!("data-scenario=\"{}\"", scenario.name()))
                    .count(),
                2
            );
        }
        assert!(svg.contains(">ceiling (pgbench)</text>"));
        assert!(svg.contains(">ceiling (bare SQLite connection)</text>"));
        for c in [1, 8, 32] {
            assert!(svg.contains(&format!(
                "text-anchor=\"middle\" fill=\"{AXIS_COLOR}\">{c}</text>"
            )));
        }
        // Tags balance.
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
        assert_eq!(
            svg.matches("<circle").count(),
            svg.matches("</circle>").count()
        );
    }

    #[test]
    fn svg_only_has_panels_for_backends_run() {
        let mut report = full_report();
        report.runs.retain(|r| r.backend == Backend::Postgres);
        let svg = svg(&report);
        assert_eq!(svg.matches("<g class=\"panel\"").count(), 1);
        assert!(svg.contains("data-backend=\"postgres\""));
        assert!(!svg.contains("bare SQLite connection"));
    }

    #[test]
    fn svg_escapes_text() {
        let mut report = full_report();
        report.machine = "AT&T <fast> \"box\"".to_owned();
        let svg = svg(&report);
        assert!(svg.contains("AT&amp;T &lt;fast&gt; &quot;box&quot;"));
        assert!(!svg.contains("<fast>"));
        assert!(svg.contains("with $select"));
    }

    /// The y tick labels of each panel, in order.
    fn y_ticks(svg: &str) -> Vec<Vec<f64>> {
        svg.split("<g class=\"panel\"")
            .skip(1)
            .map(|panel| {
                panel
                    .split("<text class=\"ytick\"")
                    .skip(1)
                    .filter_map(|t| {
                        let label = t.split('>').nth(1)?.split('<').next()?;
                        label.replace(',', "").parse::<f64>().ok()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn y_ticks_start_at_zero_and_cover_the_largest_value() {
        let report = full_report();
        let rows = report::summarize(&report);
        let ticks = y_ticks(&svg(&report));
        assert_eq!(ticks.len(), 2);
        for (backend, ticks) in Backend::ALL.into_iter().zip(&ticks) {
            let max = rows
                .iter()
                .filter(|s| s.backend == backend)
                .map(|s| s.throughput)
                .fold(0.0, f64::max);
            assert_eq!(ticks.first(), Some(&0.0), "{backend}: {ticks:?}");
            let top = ticks.last().copied().unwrap_or(0.0);
            assert!(top >= max, "{backend}: top tick {top} < {max}");
            assert!((3..=11).contains(&ticks.len()), "{backend}: {ticks:?}");
        }
        // SQLite's reads reach 12,000 req/s.
        assert_eq!(ticks[0].last(), Some(&12_500.0));
    }

    #[test]
    fn svg_of_an_empty_report() {
        let mut report = full_report();
        report.runs.clear();
        let svg = svg(&report);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains(">no runs</text>"));
    }
}
