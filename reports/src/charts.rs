//! Charts drawn with plotters as SVG, to be inlined in the report.

use crate::metrics::GroupRate;
use plotters::prelude::*;
pub use plotters::style::RGBColor;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar of a miss-rate chart.
struct Bar {
    /// Group value, under the bar.
    label: String,
    /// Height; `None` draws no bar.
    rate: Option<f64>,
    /// Whisker, if any.
    interval: Option<(f64, f64)>,
    /// Text above the bar (or whisker).
    text: String,
    /// Drawn pale (a group too small to conclude).
    pale: bool,
}

/// Bars of miss rates with optional whiskers and a label above each.
fn bar_chart(title: &str, y_desc: &str, bars: &[Bar], headroom: f64) -> Result<String, String> {
    let mut svg = String::new();
    {
        let width = (140 + 70 * bars.len() as u32).max(420);
        let root = SVGBackend::with_string(&mut svg, (width, 330)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top = bars.iter().filter_map(|b| b.interval.map(|c| c.1).or(b.rate)).fold(0.0f64, f64::max);
        let y_max = if top <= 0.0 { 0.1 } else { (top * headroom).min(1.0).max(0.05) };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(58)
            .y_label_area_size(58)
            .build_cartesian_2d((0..bars.len()).into_segmented(), 0.0..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .y_label_formatter(&|v| format!("{:.0} %", v * 100.0))
            .x_labels(bars.len())
            .x_label_formatter(&|segment| match segment {
                SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.label.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| e.to_string())?;
        let (solid, pale) = (RGBColor(52, 101, 164), RGBColor(170, 190, 215));
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                b.rate.map(|rate| {
                    let colour = if b.pale { pale } else { solid };
                    let mut bar = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), rate)], colour.filled());
                    bar.set_margin(0, 0, 8, 8);
                    bar
                })
            }))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                b.interval.map(|(low, high)| {
                    PathElement::new(vec![(SegmentValue::CenterOf(i), low), (SegmentValue::CenterOf(i), high)], BLACK.stroke_width(2))
                })
            }))
            .map_err(|e| e.to_string())?;
        let label_style = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let y = b.interval.map(|c| c.1).or(b.rate).unwrap_or(0.0) + y_max * 0.01;
                Text::new(b.text.clone(), (SegmentValue::CenterOf(i), y), label_style.clone())
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A bar chart of miss rates per group. Every bar is labelled with the persons and
/// person-frames behind it; groups without scored person-frames show "no data".
pub fn miss_rate_bars(title: &str, groups: &[GroupRate]) -> Result<String, String> {
    let bars: Vec<Bar> = groups
        .iter()
        .map(|g| Bar {
            label: g.value.clone(),
            rate: g.miss_rate,
            interval: None,
            text: match g.miss_rate {
                Some(rate) => format!("{:.1} % · {}p/{}pf", rate * 100.0, g.persons, g.person_frames),
                None => "no data".to_string(),
            },
            pale: false,
        })
        .collect();
    bar_chart(title, "miss rate", &bars, 1.25)
}

/// Miss rate per group as bars with their confidence intervals as whiskers; each bar is
/// labelled with its persons, and groups with too few persons are drawn pale.
pub fn miss_rate_bars_with_intervals(title: &str, groups: &[crate::bias::GroupBias]) -> Result<String, String> {
    let bars: Vec<Bar> = groups
        .iter()
        .map(|g| Bar {
            label: g.value.clone(),
            rate: g.miss_rate,
            interval: g.miss_rate_ci,
            text: format!(
                "{} · {}p{}",
                g.miss_rate.map_or("—".into(), |r| format!("{:.0} %", r * 100.0)),
                g.persons,
                if g.flagged { " ▲" } else { "" }
            ),
            pale: g.too_few_persons,
        })
        .collect();
    bar_chart(title, "miss rate (95 % interval)", &bars, 1.15)
}

/// Shares (0–1) as bars: (label, value, interval, text above, pale).
pub fn share_bars(title: &str, y_desc: &str, bars: Vec<(String, Option<f64>, Option<(f64, f64)>, String, bool)>) -> Result<String, String> {
    let bars: Vec<Bar> = bars.into_iter().map(|(label, rate, interval, text, pale)| Bar { label, rate, interval, text, pale }).collect();
    bar_chart(title, y_desc, &bars, 1.15)
}

/// One series of a line chart: a name, a colour and its (x, y) points.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Line colour.
    pub colour: RGBColor,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
    /// Draw markers at the points (measurements) rather than a plain line (a model curve).
    pub markers: bool,
}

/// A line chart with a legend (e.g. measured speeds against a published curve).
pub fn line_chart(title: &str, x_desc: &str, y_desc: &str, x_range: (f64, f64), y_range: (f64, f64), series: &[Series]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (620, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(|e| e.to_string())?;
        for s in series {
            let colour = s.colour;
            let drawn = chart.draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2))).map_err(|e| e.to_string())?;
            drawn.label(s.label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            if s.markers {
                chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, colour.filled()))).map_err(|e| e.to_string())?;
            }
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK).draw().map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One interval on a timeline lane.
pub struct Span {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Fill.
    pub colour: RGBColor,
    /// Text written at the span's start (empty: none).
    pub text: String,
}

/// One lane of a timeline (e.g. a camera's alerts).
pub struct Lane {
    /// Name at the left.
    pub label: String,
    /// Its intervals.
    pub spans: Vec<Span>,
}

/// A timeline: lanes of intervals over `0..duration_s` seconds (the caller explains the
/// colours: a legend inside would hide lanes).
pub fn timeline_chart(title: &str, duration_s: f64, lanes: &[Lane]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let height = 110 + 30 * lanes.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let lane_count = lanes.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..duration_s.max(1e-3), (0..lane_count).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time (s)")
            .y_labels(lane_count)
            .y_label_formatter(&|segment| match segment {
                SegmentValue::CenterOf(i) => lanes.get(*i).map(|l| l.label.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, lane) in lanes.iter().enumerate() {
            chart
                .draw_series(lane.spans.iter().map(|span| {
                    let end = span.end_s.max(span.start_s + duration_s * 0.004); // an instant stays visible
                    let mut bar = Rectangle::new([(span.start_s, SegmentValue::Exact(i)), (end, SegmentValue::Exact(i + 1))], span.colour.mix(0.8).filled());
                    bar.set_margin(5, 5, 0, 0);
                    bar
                }))
                .map_err(|e| e.to_string())?;
            let style = TextStyle::from(("sans-serif", 10).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series(lane.spans.iter().filter(|s| !s.text.is_empty()).map(|span| Text::new(span.text.clone(), (span.start_s, SegmentValue::CenterOf(i)), style.clone())))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A heat map of miss rates over the combinations of two attributes: one cell per pair of
/// values, shaded from white (0 %) to red (the highest rate), labelled with the rate and the
/// persons behind it; combinations nobody had are grey.
pub fn disparity_heat_map(title: &str, columns: &[String], rows: &[String], cells: &[(usize, usize, f64, usize)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let (cell_w, cell_h) = (64u32, 34u32);
        let width = 130 + cell_w * columns.len() as u32;
        let height = 90 + cell_h * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (width.max(360), height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top = cells.iter().map(|c| c.2).fold(0.0f64, f64::max).max(1e-9);
        let title_style = TextStyle::from(("sans-serif", 16).into_font());
        root.draw(&Text::new(title.to_string(), (10, 8), title_style)).map_err(|e| e.to_string())?;
        let label = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
        let row_label = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        let (x0, y0) = (120i32, 50i32);
        for (c, name) in columns.iter().enumerate() {
            let x = x0 + c as i32 * cell_w as i32 + cell_w as i32 / 2;
            root.draw(&Text::new(name.clone(), (x, y0 - 10), label.clone())).map_err(|e| e.to_string())?;
        }
        for (r, name) in rows.iter().enumerate() {
            let y = y0 + r as i32 * cell_h as i32 + cell_h as i32 / 2;
            root.draw(&Text::new(name.clone(), (x0 - 6, y), row_label.clone())).map_err(|e| e.to_string())?;
            for c in 0..columns.len() {
                let (left, upper) = (x0 + c as i32 * cell_w as i32, y0 + r as i32 * cell_h as i32);
                let cell = cells.iter().find(|cell| cell.0 == c && cell.1 == r);
                let fill = match cell {
                    Some(&(_, _, rate, _)) => {
                        let t = (rate / top).clamp(0.0, 1.0);
                        RGBColor(255, (255.0 * (1.0 - 0.75 * t)) as u8, (255.0 * (1.0 - 0.85 * t)) as u8)
                    }
                    None => RGBColor(225, 225, 225),
                };
                root.draw(&Rectangle::new([(left, upper), (left + cell_w as i32 - 2, upper + cell_h as i32 - 2)], fill.filled()))
                    .map_err(|e| e.to_string())?;
                if let Some(&(_, _, rate, persons)) = cell {
                    let text = format!("{:.0} % · {}p", rate * 100.0, persons);
                    root.draw(&Text::new(text, (left + cell_w as i32 / 2, upper + cell_h as i32 / 2), label.clone())).map_err(|e| e.to_string())?;
                }
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heat_map_labels_every_cell_with_data_and_only_those() {
        let (columns, rows) = (vec!["1".to_string(), "2".to_string()], vec!["child".to_string(), "adult".to_string()]);
        let svg = disparity_heat_map("t", &columns, &rows, &[(0, 1, 0.25, 3), (1, 0, 0.5, 1)]).unwrap();
        assert!(svg.contains("25 % · 3p") && svg.contains("50 % · 1p"));
        assert_eq!(svg.matches(" % · ").count(), 2, "no label on the two empty cells");
    }

    #[test]
    fn the_timeline_draws_one_bar_per_span_and_labels_lanes() {
        let span = |start_s, end_s, text: &str| Span { start_s, end_s, colour: RGBColor(200, 0, 0), text: text.into() };
        let lanes = vec![
            Lane { label: "north · events".into(), spans: vec![span(1.0, 4.0, "fight"), span(6.0, 9.0, "")] },
            Lane { label: "north · alerts".into(), spans: vec![span(2.0, 5.0, "#0")] },
        ];
        let svg = timeline_chart("t", 10.0, &lanes).unwrap();
        assert!(svg.contains("north · events") && svg.contains("north · alerts") && svg.contains("fight") && svg.contains("#0"));
        assert_eq!(svg.matches("fill=\"#C80000\"").count(), 3, "{svg}");
    }
}
