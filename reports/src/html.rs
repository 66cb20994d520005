//! `report.html`: one self-contained, printable page (inline SVG charts and PNG images)
//! written for a reader who is not an engineer.

use crate::charts::{miss_rate_bars, miss_rate_bars_with_intervals};
use crate::images::base64;
use crate::metrics::{attribute_values, GroupRate, MaskingMetrics};
use crate::bias::{AttributeBias, GroupBias};
use crate::policy::Verdict;
use crate::records::RunRecords;
use std::fmt::Write;

/// The stylesheet of every report page.
pub const STYLE: &str = r#"body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start} .note{background:#fff8e0;border-left:4px solid #e0b000;padding:.5em 1em}
img{max-width:100%;border:1px solid #ddd} svg{max-width:100%;height:auto} .legend span{display:inline-block;width:1em;height:.8em;margin:0 .3em 0 .8em} pre{white-space:pre-wrap;background:#f7f7f7;padding:.8em;font-size:.85em}
@media print{.charts svg{max-width:100%} h2{page-break-after:avoid}}
"#;

/// What the report shows besides the records.
pub struct ReportInput<'a> {
    /// The run's records.
    pub records: &'a RunRecords,
    /// Metrics computed from them.
    pub metrics: &'a MaskingMetrics,
    /// Miss threshold on the exposed fraction.
    pub miss_threshold: f64,
    /// Minimum visible pixels for a person-frame to be scored.
    pub min_visible_px: u32,
    /// Licence of the masking model.
    pub model_licence: String,
    /// The masking model's card (Markdown, shown as text).
    pub model_card: String,
    /// Contact sheets: (camera id, PNG bytes).
    pub contact_sheets: Vec<(String, Vec<u8>)>,
    /// Bias statistics with intervals.
    pub bias: &'a [AttributeBias],
    /// Anomaly outcomes by group, with intervals.
    pub outcome_bias: &'a [crate::outcomes::OutcomeBias],
    /// Name of the fairness policy.
    pub policy_name: &'a str,
    /// Its verdicts.
    pub verdicts: &'a [Verdict],
    /// Anomaly-detection metrics.
    pub anomaly: &'a crate::alerts::AnomalyMetrics,
    /// Bytes each camera sent.
    pub bandwidth: &'a [crate::alerts::CameraBandwidth],
    /// Operator views of the first alerts: (caption, PNG bytes).
    pub alert_views: Vec<(String, Vec<u8>)>,
    /// The cameras' coverage of the site and its map (PNG), when computed.
    pub coverage: Option<(crate::coverage::RunCoverage, Vec<u8>)>,
    /// How the run's masking differs from the masking its anomaly model was trained and measured
    /// on (the anomaly manifest's `masked_by`), when it does: shown under the anomaly table.
    pub anomaly_masking_mismatch: Option<String>,
}

fn interval(ci: Option<(f64, f64)>, scale: f64, digits: usize) -> String {
    ci.map_or("—".into(), |(low, high)| format!("{:.*} – {:.*}", digits, low * scale, digits, high * scale))
}

/// Policy verdicts and, per attribute, miss rates with their 95 % intervals.
fn fairness_section(input: &ReportInput) -> String {
    let mut html = format!(
        "<h2>Fairness policy “{}”</h2><p>Persons are the units: intervals come from resampling persons (a cluster \
         bootstrap), so a group of few persons gets a wide interval. Only groups with enough persons are judged, and a ratio or \
         difference needs two of them. Verdicts are read from the intervals: a line <b>passes</b> when every judged group's whole \
         interval lies within the limit, <b>fails</b> when some group's whole interval lies beyond it, and is otherwise \
         <b>inconclusive</b> — more persons are needed. The point-estimate reading is shown beside it for reference only.</p>\
         <table><tr><th>line</th><th>verdict</th><th>why</th><th>worst group</th><th>value</th><th>95 % interval</th>\
         <th>by point estimate</th><th>groups too small</th></tr>",
        escape(input.policy_name)
    );
    for v in input.verdicts {
        let _ = write!(
            html,
            "<tr><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.rule),
            v.outcome,
            escape(&v.reason),
            escape(v.worst_group.as_deref().unwrap_or("—")),
            v.value.map_or("—".into(), |x| format!("{x:.3}")),
            interval(v.interval, 1.0, 3),
            if v.point_outcome.is_empty() { "—" } else { v.point_outcome },
            v.groups_too_small
        );
    }
    html.push_str("</table>");
    html.push_str("<p>Bars: miss rate; whiskers: 95 % interval; pale bars: fewer persons than the policy's minimum; ▲: missed more than the best group beyond chance.</p><div class=\"charts\">");
    for bias in input.bias.iter().filter(|b| matches!(b.attribute.as_str(), "skin_tone" | "age_group" | "gender_presentation" | "mobility_aid")) {
        match miss_rate_bars_with_intervals(&format!("Miss rate by {}", bias.attribute.replace('_', " ")), &bias.groups) {
            Ok(svg) => html.push_str(&svg),
            Err(error) => {
                let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
            }
        }
    }
    html.push_str("</div>");
    // Disparity heat maps over pairs of attributes (pooled miss rate per combination).
    html.push_str("<h3>Disparities over pairs of attributes</h3><p>Miss rate per combination of two attributes; darker is \
                   missed more often; each cell says how many persons stand behind it, so read small cells with care.</p><div class=\"charts\">");
    let outcomes = crate::bias::person_outcomes(input.records, input.miss_threshold, input.min_visible_px);
    for (a, b) in [("skin_tone", "age_group"), ("skin_tone", "gender_presentation"), ("age_group", "head_covering")] {
        let (columns, rows) = (attribute_values(a), attribute_values(b));
        let mut totals: std::collections::BTreeMap<(usize, usize), (u64, u64, usize)> = Default::default();
        for person in &input.records.persons {
            let (Some(outcome), Some(va), Some(vb)) = (outcomes.get(&person.person), person.value_of(a), person.value_of(b)) else {
                continue;
            };
            let (Some(c), Some(r)) = (columns.iter().position(|v| *v == va), rows.iter().position(|v| *v == vb)) else { continue };
            let entry = totals.entry((c, r)).or_default();
            entry.0 += outcome.scored as u64;
            entry.1 += outcome.missed as u64;
            entry.2 += 1;
        }
        let cells: Vec<(usize, usize, f64, usize)> =
            totals.iter().filter(|(_, t)| t.0 > 0).map(|(&(c, r), &(scored, missed, persons))| (c, r, missed as f64 / scored as f64, persons)).collect();
        if cells.is_empty() {
            continue;
        }
        let title = format!("Miss rate by {} × {}", a.replace('_', " "), b.replace('_', " "));
        match crate::charts::disparity_heat_map(&title, &columns, &rows, &cells) {
            Ok(svg) => html.push_str(&svg),
            Err(error) => {
                let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
            }
        }
    }
    html.push_str("</div>");
    for bias in input.bias.iter().filter(|b| b.attribute != "everybody") {
        let _ = write!(
            html,
            "<h3>Miss rate by {} (best: {})</h3><table><tr><th>group</th><th>persons</th><th>person-frames</th><th>miss rate</th>\
             <th>95 % interval</th><th>ratio to best</th><th>difference to best (points)</th><th>note</th></tr>",
            escape(&bias.attribute.replace('_', " ")),
            escape(bias.best.as_deref().unwrap_or("—"))
        );
        for g in &bias.groups {
            let note = match (g.flagged, g.too_few_persons) {
                (true, true) => "missed more, beyond chance — but too few persons",
                (true, false) => "missed more, beyond chance",
                (false, true) => "too few persons to conclude",
                (false, false) => "",
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&g.value),
                g.persons,
                g.person_frames,
                percent(g.miss_rate),
                interval(g.miss_rate_ci, 100.0, 1),
                g.ratio_to_best.map_or("—".into(), |r| format!("{r:.2}")),
                g.difference_to_best.map_or("—".into(), |d| format!("{:+.1}", d * 100.0)),
                note
            );
        }
        html.push_str("</table>");
    }
    html
}

/// The staged incidents and protected activities: when, who, and how much of the time each
/// camera could see them, and whether the alerts detected (or flagged) them.
fn events_section(records: &RunRecords) -> String {
    if records.incidents.is_empty() {
        return String::new();
    }
    let tick_hz = records.runs.first().map_or(1, |r| r.tick_hz).max(1) as f64;
    let mut html = String::from(
        "<h2>Staged events</h2><p>Incidents should raise an alert; <b>protected</b> activities (lawful assembly, prayer, a hug,          children playing, resting, busking, religious dress) must not; an alert on an <b>out-of-scope</b> event (petty theft) is          disproportionate — as the run's profile classes them. Each camera column gives the share of that camera's frames          during the event in which some participant (or the event's object) is visible.</p><table><tr><th>#</th><th>event</th>         <th>class</th><th>from–to (s)</th><th>participants</th><th>detected / flagged</th><th>time to alert</th>",
    );
    for camera in &records.cameras {
        let _ = write!(html, "<th>{}</th>", escape(&camera.id));
    }
    html.push_str("</tr>");
    for incident in &records.incidents {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}–{:.1}</td><td>{}</td><td>{}</td><td>{}</td>",
            incident.incident,
            escape(&incident.kind.replace('_', " ")),
            incident.class().name().replace('_', " "),
            incident.start_tick as f64 / tick_hz,
            incident.end_tick as f64 / tick_hz,
            incident.persons.len(),
            match (incident.detected, incident.class()) {
                (true, crate::profile::EventClass::Protected) => "flagged — must not be",
                (true, crate::profile::EventClass::OutOfScope) => "alerted on — disproportionate",
                (true, crate::profile::EventClass::Incident) => "yes",
                (false, _) => "no",
            },
            incident.time_to_alert_s.map_or("—".into(), |t| format!("{t:.1} s"))
        );
        for camera in &records.cameras {
            let rows: Vec<_> =
                records.incident_frames.iter().filter(|f| f.incident == incident.incident && f.camera == camera.index).collect();
            let seen = rows.iter().filter(|f| f.visible_px > 0).count();
            let cell = if rows.is_empty() { "—".to_string() } else { format!("{:.0} %", 100.0 * seen as f64 / rows.len() as f64) };
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

/// What the cameras see of the site: DORI coverage, blind spots, districts, private zones,
/// incident capture, and the map.
pub fn coverage_section(heading: &str, run: &crate::coverage::RunCoverage, map: &[u8]) -> String {
    let c = &run.coverage;
    let mut html = format!(
        "<h2>{}</h2><p>For every {:.2} m cell of the pedestrian area, the best pixel density any camera reaches at head \
         height with a clear line of sight (buildings, benches, trees and their crowns occlude; privacy masks hide), by the DORI levels of \
         IEC 62676-4 (detect 25, observe 62, recognise 125, identify 250 px/m at the sensor). Footfall is the crowd's person-seconds \
         in each cell over the scenario.</p><table><tr><th>level</th><th>share of the walkable area ({:.0} m²)</th><th>share of footfall</th></tr>",
        escape(heading),
        c.cell_m,
        c.walkable_m2
    );
    for (name, _) in crate::coverage::DORI {
        let _ = write!(
            html,
            "<tr><td>{name} or better</td><td>{}</td><td>{}</td></tr>",
            percent(c.area_share.get(name).copied()),
            percent(c.footfall_share.get(name).copied())
        );
    }
    let _ = write!(
        html,
        "</table><table><tr><td>seen by two or more cameras (detect)</td><td>{}</td></tr><tr><td>blind spots (no camera at detect)</td><td>{:.0} m², the largest {:.0} m²</td></tr>\
         <tr><td>person-seconds observed (observe or better) — the privacy cost of this placement</td><td>{:.0} of {:.0} ({})</td></tr></table>",
        percent(Some(c.redundancy_share)),
        c.blind_m2,
        c.largest_blind_region_m2,
        c.person_seconds_observed,
        c.person_seconds,
        percent((c.person_seconds > 0.0).then(|| c.person_seconds_observed / c.person_seconds))
    );
    let _ = write!(html, "<img alt=\"coverage map\" src=\"data:image/png;base64,{}\">{}", base64(map), crate::coverage::MAP_LEGEND_HTML);
    if !run.capture.is_empty() {
        html.push_str("<h3>Incident capture</h3><p>Events some camera saw at observe level or better for long enough (a participant's head in view).</p><table><tr><th>kind</th><th></th><th>staged</th><th>captured</th></tr>");
        for k in &run.capture {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&k.kind.replace('_', " ")),
                if k.protected { "protected activity" } else { "incident" },
                k.staged,
                k.captured
            );
        }
        html.push_str("</table>");
    }
    if !c.districts.is_empty() {
        html.push_str("<h3>Districts</h3><table><tr><th>district</th><th>walkable m²</th><th>observed area</th><th>person-seconds</th><th>watchedness (observed ÷ present)</th></tr>");
        for d in &c.districts {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{:.0}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
                escape(&d.name),
                d.walkable_m2,
                percent(Some(d.observe_share)),
                d.person_seconds,
                percent(d.watchedness)
            );
        }
        let _ = write!(html, "</table><p>Watchedness gap between districts: {}.</p>", percent(c.watchedness_gap));
    }
    if c.private_views.is_empty() {
        html.push_str("<p>No camera sees into a declared private zone.</p>");
    } else {
        html.push_str("<h3>Views into private zones</h3><p class=\"note\">These cameras see into places declared private; a privacy mask per camera (<code>privacy_masks</code>) is the remedy.</p><table><tr><th>camera</th><th>zone</th><th>share of the zone seen</th><th>best px/m</th></tr>");
        for v in &c.private_views {
            let _ = write!(html, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td></tr>", escape(&v.camera), escape(&v.zone), percent(Some(v.share_seen)), v.max_pixels_per_metre);
        }
        html.push_str("</table>");
    }
    html
}

/// What an attacker still learns after masking, against what it learns from raw frames.
fn privacy_section(records: &RunRecords) -> String {
    let mut html = String::from(
        "<h2>Privacy leakage after masking</h2><p>An attacker is given every person's location in every frame and reads a crop there, \
         once from the raw frame and once from the masked frame the deployment keeps. It describes each crop by the colours of the body, row \
         by row (hue and brightness), colour histograms, and the crop's height in metres (the attacker knows the camera's calibration) \
         and shape. <b>Attribute inference</b>: a logistic regression trained on some \
         persons guesses the skin tone (three bands), gender presentation and age group of the others (5-fold cross-validation by \
         person); <i>chance</i> is always answering the most common class. <b>Re-identification</b>: each person's crops on one camera are \
         matched against every person seen on the other cameras; rank-1 is the share whose nearest match is the same person, mAP the mean \
         average precision; <i>chance</i> is a random ranking. <b>Attribute trained</b>: a model trained beforehand on raw crops of \
         other persons (gradient-boosted trees over the head's cells, a coarse view of the body and the height; other seeds' renders; \
         <code>models/attribute_attacker.md</code>) guesses the same attributes from each crop; its <i>chance</i> is the best constant \
         answer on the scored crops; it is not run on persons it was trained on. Intervals: 95 %, bootstrap over persons. The simple \
         attackers find a lower bound; where the trained one reads raw frames above chance, it shows what masking takes away.</p>",
    );
    if records.privacy.is_empty() {
        html.push_str("<p class=\"note\">No attacker could be scored: too few persons were seen large enough (or on two cameras).</p>");
        return html;
    }
    let mut bars = Vec::new();
    html.push_str("<table><tr><th>attack</th><th>target</th><th>measure</th><th>raw frames</th><th>masked frames</th><th>chance</th><th>persons</th><th>privacy gain</th></tr>");
    let keys: std::collections::BTreeSet<(&str, &str, &str)> = records.privacy.iter().map(|p| (p.attack.as_str(), p.target.as_str(), p.metric.as_str())).collect();
    for (attack, target, metric) in keys {
        let find = |view: &str| records.privacy.iter().find(|p| (p.attack.as_str(), p.target.as_str(), p.metric.as_str(), p.view.as_str()) == (attack, target, metric, view));
        let (raw, masked) = (find("unmasked"), find("masked"));
        let cell = |r: Option<&crate::records::PrivacyRecord>| {
            r.map_or("—".into(), |r| format!("{:.0} % ({})", r.value * 100.0, interval(r.ci_low.zip(r.ci_high), 100.0, 0)))
        };
        let chance = masked.or(raw).map(|r| r.chance);
        // The gain: how much of the raw frames' advantage over chance masking removes — only
        // where the raw frames give the attacker an advantage beyond sampling noise.
        let gain = match (raw, masked) {
            // Below chance on masked frames: the attacker is misled (trained on raw crops), which
            // removes the whole advantage but is no guarantee against one retrained on masks.
            (Some(r), Some(m)) if attack == "attribute_trained" && r.ci_low.is_some_and(|low| low > r.chance) && m.ci_high.is_some_and(|high| high < m.chance) => {
                "all of the advantage over chance removed (masked: below chance, the attacker is misled)".to_string()
            }
            (Some(r), Some(m)) if r.ci_low.is_some_and(|low| low > r.chance) => {
                format!("{:.0} % of the advantage over chance removed", 100.0 * (r.value - m.value) / (r.value - r.chance))
            }
            (Some(_), Some(_)) => "none measurable: on raw frames the attacker is not above chance beyond noise".into(),
            _ => "—".into(),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&attack.replace('_', " ")),
            escape(&target.replace('_', " ")),
            escape(metric),
            cell(raw),
            cell(masked),
            chance.map_or("—".into(), |c| format!("{:.0} %", c * 100.0)),
            masked.or(raw).map_or(0, |r| r.persons),
            gain
        );
        let short = match (attack, target, metric) {
            (_, "identity", metric) => format!("re-id {metric}"),
            ("attribute_trained", target, _) => format!("trained {}", target.split('_').next().unwrap_or(target)),
            (_, target, _) => target.split('_').next().unwrap_or(target).to_string(),
        };
        for (view, record) in [("raw", raw), ("mask", masked)] {
            if let Some(r) = record {
                bars.push((format!("{short} {view}"), Some(r.value), r.ci_low.zip(r.ci_high), format!("{:.0} %", r.value * 100.0), false));
            }
        }
        if let Some(c) = chance {
            bars.push((format!("{short} chance"), Some(c), None, format!("{:.0} %", c * 100.0), true));
        }
    }
    html.push_str("</table>");
    match crate::charts::share_bars("What the attacker gets right: raw frames, masked frames, chance", "accuracy / rank-1 / mAP", bars) {
        Ok(svg) => html.push_str(&svg),
        Err(error) => {
            let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
        }
    }
    html
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn percent(value: Option<f64>) -> String {
    percent_with(value, 1)
}

/// A share as a percentage with `digits` decimals, "—" when there is none.
pub fn percent_with(value: Option<f64>, digits: usize) -> String {
    value.map_or("—".to_string(), |v| format!("{:.*} %", digits, v * 100.0))
}

fn group_table(groups: &[GroupRate]) -> String {
    let mut html = String::from("<table><tr><th>group</th><th>persons</th><th>person-frames</th><th>missed</th><th>miss rate</th></tr>");
    for g in groups {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&g.value),
            g.persons,
            g.person_frames,
            g.missed,
            percent(g.miss_rate)
        );
    }
    html.push_str("</table>");
    html
}

/// Plain-language findings, each quoting the interval it rests on; small groups are called out.
fn findings(metrics: &MaskingMetrics, bias: &[AttributeBias]) -> Vec<String> {
    let mut out = Vec::new();
    let everybody = bias.iter().find(|b| b.attribute == "everybody").and_then(|b| b.groups.first());
    if let Some(rate) = metrics.miss_rate {
        out.push(format!(
            "Overall, the masker left more than the threshold of a person visible in {} of {} scored person-frames ({}; 95 % interval {} over {} persons).",
            metrics.missed,
            metrics.person_frames,
            percent(Some(rate)),
            everybody.map_or("—".into(), |g| interval_percent(g.miss_rate_ci)),
            everybody.map_or(0, |g| g.persons)
        ));
    }
    for b in bias.iter().filter(|b| b.attribute != "everybody" && !b.attribute.contains('×')) {
        let with_data: Vec<&GroupBias> = b.groups.iter().filter(|g| g.miss_rate.is_some()).collect();
        if with_data.len() < 2 {
            continue;
        }
        let by_rate = |a: &&&GroupBias, c: &&&GroupBias| a.miss_rate.unwrap_or(0.0).total_cmp(&c.miss_rate.unwrap_or(0.0));
        let (Some(best), Some(worst)) = (with_data.iter().min_by(by_rate), with_data.iter().max_by(by_rate)) else { continue };
        if worst.miss_rate.unwrap_or(0.0) - best.miss_rate.unwrap_or(0.0) < 0.001 {
            continue;
        }
        let reading = if worst.too_few_persons || best.too_few_persons {
            "one of these groups has too few persons to conclude anything".to_string()
        } else {
            let against_best = b.best.as_deref() == Some(best.value.as_str());
            match (against_best, worst.difference_ci) {
                (true, Some((low, high))) => format!(
                    "the difference, 95 % interval {:.0} to {:.0} points, {}",
                    low * 100.0,
                    high * 100.0,
                    if low > 0.0 { "lies above 0: beyond chance" } else { "includes 0: it may be noise" }
                ),
                _ => "no interval for their difference".to_string(),
            }
        };
        out.push(format!(
            "By {}: highest miss rate for {} ({}, 95 % interval {}, {} persons), lowest for {} ({}, {}, {} persons); {}.",
            b.attribute.replace('_', " "),
            worst.value,
            percent(worst.miss_rate),
            interval_percent(worst.miss_rate_ci),
            worst.persons,
            best.value,
            percent(best.miss_rate),
            interval_percent(best.miss_rate_ci),
            best.persons,
            reading
        ));
    }
    out
}

fn interval_percent(ci: Option<(f64, f64)>) -> String {
    ci.map_or("—".into(), |(low, high)| format!("{:.1}–{:.1} %", low * 100.0, high * 100.0))
}

/// Anomaly outcomes by group: incident miss rates, protected-activity flag rates and
/// suspicion rates per attribute, with their intervals.
fn outcomes_section(input: &ReportInput) -> String {
    if input.outcome_bias.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<h2>Alerts and people: outcomes by group</h2><p>Alerts are decisions about people. For every person: how many of the \
         incidents they took part in went undetected (<b>incident miss rate</b>), how many of the protected activities they took part \
         in were flagged (<b>flag rate</b>), and in how many of the frames that show them they stood inside a false alert's region \
         (<b>suspicion rate</b>: at least half of their visible box inside it) — grouped by attribute, with intervals from \
         resampling persons and the same too-few rule as masking. On one short scenario most groups are inconclusive: that is the \
         honest answer.</p>",
    );
    for outcome in crate::outcomes::Outcome::ALL {
        let of_outcome: Vec<&crate::outcomes::OutcomeBias> = input.outcome_bias.iter().filter(|o| o.outcome == outcome).collect();
        let Some(first) = of_outcome.first() else { continue };
        let _ = write!(
            html,
            "<h3>{}</h3><p>Events: {}. A group needs about {} of them for its rate to be known within ±10 points (95 %).</p>\
             <table><tr><th>attribute</th><th>group</th><th>persons</th><th>events</th><th>rate</th><th>95 % interval</th><th>note</th></tr>",
            outcome.name().replace('_', " "),
            first.events,
            first.events_needed
        );
        for o in &of_outcome {
            for g in &o.bias.groups {
                let note = if g.too_few_persons {
                    "too few persons".to_string()
                } else if (g.person_frames as u64) < o.events_needed {
                    format!("too few events ({} of {} needed)", g.person_frames, o.events_needed)
                } else if g.flagged {
                    "above the best group, beyond chance".to_string()
                } else {
                    String::new()
                };
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&o.bias.attribute.replace('_', " ")),
                    escape(&g.value),
                    g.persons,
                    g.person_frames,
                    percent(g.miss_rate),
                    interval_percent(g.miss_rate_ci),
                    escape(&note)
                );
            }
        }
        html.push_str("</table>");
    }
    html
}

/// Renders the report.
pub fn report_html(input: &ReportInput) -> Result<String, String> {
    let records = input.records;
    let metrics = input.metrics;
    let run = records.runs.first().ok_or("the run has no `runs` record")?;
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>crowdtwin report — {name}</title>
<style>
{style}</style></head><body>
<h1>Masking and alerting audit — scenario “{name}”</h1>
<p class="note">All figures below are measured <b>in simulation</b>, on synthetic people rendered by a game engine.
They show how the masking model behaves on these renders; they do not by themselves prove how it behaves on real footage.</p>
"#,
        name = escape(&run.scenario),
        style = STYLE
    );
    // An imported place is named, and its map data credited as its licence requires.
    if run.site != "template" {
        let origin = run.origin().map(|o| format!(" (local origin {:.6}° N, {:.6}° E)", o.lat_deg, o.lon_deg)).unwrap_or_default();
        let credit = if run.site_attribution.is_empty() {
            String::new()
        } else if run.site_attribution.contains("OpenStreetMap") {
            format!(" Map data {} — <a href=\"https://www.openstreetmap.org/copyright\">openstreetmap.org/copyright</a>.", escape(&run.site_attribution))
        } else {
            format!(" Map data {}.", escape(&run.site_attribution))
        };
        let _ = write!(html, "<p>Site: <b>{}</b>{origin}, imported from a map.{credit}</p>", escape(&run.site));
    }

    let _ = write!(
        html,
        "<h2>Scope</h2><table>\
         <tr><td>scenario</td><td>{}</td></tr><tr><td>scenario sha256</td><td><code>{}</code></td></tr>\
         <tr><td>seed</td><td>{}</td></tr><tr><td>simulated time</td><td>{:.1} s ({} ticks at {} Hz)</td></tr>\
         <tr><td>cameras</td><td>{}</td></tr><tr><td>frames</td><td>{}</td></tr>\
         <tr><td>persons</td><td>{}</td></tr><tr><td>scored person-frames</td><td>{}</td></tr>\
         <tr><td>light, weather</td><td>{}, {}</td></tr><tr><td>crowdtwin</td><td>{}</td></tr></table>",
        escape(&run.scenario),
        run.scenario_sha256,
        run.seed,
        run.duration_s,
        run.ticks,
        run.tick_hz,
        records.cameras.len(),
        metrics.frames,
        records.persons.len(),
        metrics.person_frames,
        escape(&run.light),
        escape(&run.weather),
        escape(&run.crowdtwin_version),
    );

    html.push_str("<h2>Population actually simulated</h2><div class=\"charts\">");
    for attribute in ["skin_tone", "age_group", "gender_presentation", "mobility_aid", "head_covering", "body_size"] {
        let _ = write!(html, "<table><tr><th>{}</th><th>persons</th></tr>", attribute.replace('_', " "));
        for value in attribute_values(attribute) {
            let count = records.persons.iter().filter(|p| p.value_of(attribute).as_deref() == Some(value.as_str())).count();
            if count > 0 {
                let _ = write!(html, "<tr><td>{}</td><td>{count}</td></tr>", escape(&value));
            }
        }
        html.push_str("</table>");
    }
    html.push_str("</div>");

    let _ = write!(
        html,
        "<h2>Masking model</h2><table><tr><td>model</td><td>{}</td></tr><tr><td>sha256</td><td><code>{}</code></td></tr>\
         <tr><td>silhouette refinement</td><td>{}</td></tr>\
         <tr><td>licence</td><td>{}</td></tr></table><details><summary>Model card</summary><pre>{}</pre></details>",
        escape(&run.masking_model),
        run.masking_model_sha256,
        if run.refine_model.is_empty() {
            "none: every detection is painted as a box".to_string()
        } else {
            format!("{} (sha256 <code>{}</code>): person boxes are refined into body silhouettes", escape(&run.refine_model), run.refine_model_sha256)
        },
        escape(&input.model_licence),
        escape(&input.model_card)
    );

    let _ = write!(
        html,
        "<h2>Method in plain words</h2><p>Every camera frame is rendered from the simulation together with an exact map of which \
         pixel shows which person. The masking model sees only the ordinary picture and paints over everyone it finds (a box, or a body silhouette when refinement is on; by default each outlined in black, so that neighbours stay apart). \
         For each person in each frame we then count how many of the person's visible pixels were left unpainted (the \
         <i>exposed fraction</i>). A person-frame counts as <b>missed</b> when more than {:.0} % of the person's visible pixels stay unpainted. \
         People showing fewer than {} pixels are recorded but not scored. Rates are pooled over person-frames; the number of \
         distinct persons behind each figure is shown, because persons, not frames, are the independent units.</p>",
        input.miss_threshold * 100.0,
        input.min_visible_px
    );

    let _ = write!(
        html,
        "<h2>Results</h2><table><tr><td>miss rate</td><td>{}</td></tr><tr><td>mean exposed fraction</td><td>{}</td></tr>\
         <tr><td>false-mask area (painted pixels showing no person)</td><td>{:.2} % of all pixels</td></tr>\
         <tr><td>alerts (false) · camera-time under an open alert</td><td>{} ({}) · {}</td></tr>\
         <tr><td>incidents detected · protected activities flagged</td><td>{} · {}</td></tr></table><ul>",
        percent(metrics.miss_rate),
        percent(metrics.mean_exposed_fraction),
        metrics.false_mask_fraction * 100.0,
        input.anomaly.alerts,
        input.anomaly.false_alerts,
        percent(Some(input.anomaly.alert_time_share)),
        percent(input.anomaly.incident_recall),
        percent(input.anomaly.protected_flag_rate),
    );
    for finding in findings(metrics, input.bias) {
        let _ = write!(html, "<li>{}</li>", escape(&finding));
    }
    html.push_str("</ul><p>Each bar is labelled with its miss rate, the persons (p) and the person-frames (pf) behind it.</p><div class=\"charts\">");
    html.push_str(&miss_rate_bars("Miss rate by person height in the frame", &metrics.by_height)?);
    html.push_str("</div>");
    // Per-attribute tables come with their intervals in the fairness section below.
    let _ = write!(html, "<h3>By height in pixels</h3>{}", group_table(&metrics.by_height));
    let _ = write!(html, "<h3>By distance (pixels per metre at the sensor, DORI levels)</h3>{}", group_table(&metrics.by_density));
    let _ = write!(html, "<h3>By occlusion (share of the silhouette visible)</h3>{}", group_table(&metrics.by_visibility));
    if !metrics.by_event.is_empty() {
        let _ = write!(
            html,
            "<h3>By staged event (its participants while it runs)</h3><p>The person who falls in a collapse, the person a car hits and \
             whoever lies on a bench are participants of those events: whoever the masker leaves bare here is exposed, and a model \
             that reads only the paint cannot see them. A kind staged a few times says little.</p>{}",
            group_table(&metrics.by_event)
        );
    }

    html.push_str(&fairness_section(input));
    html.push_str(&events_section(records));
    html.push_str(&crate::anomaly_html::anomaly_section(input, input.anomaly));
    html.push_str(&outcomes_section(input));
    html.push_str(&crate::anomaly_html::deployment_section(input, input.bandwidth));
    html.push_str(&privacy_section(records));
    if let Some((coverage, map)) = &input.coverage {
        html.push_str(&coverage_section("Camera coverage of the site", coverage, map));
    }

    html.push_str("<h2>What the cameras saw</h2><p>Synthetic frames only. Left to right: the rendered frame (only when the scenario sets <code>evaluation.raw_contact_sheets</code>), ground truth (each person tinted) over it — otherwise over the masked frame —, and the masked frame.</p>");
    for (camera, png) in &input.contact_sheets {
        let _ = write!(html, "<h3>Camera {}</h3><img alt=\"contact sheet of camera {0}\" src=\"data:image/png;base64,{}\">", escape(camera), base64(png));
    }

    let shapes = if run.refine_model.is_empty() {
        "The masker paints boxes, not body outlines, so it over-masks background; the false-mask area measures that."
    } else {
        "Silhouettes come from a person-crop model; where it finds nobody the whole box is painted instead."
    };
    let _ = write!(
        html,
        "<h2>Limitations</h2><ul><li>Synthetic people differ from real ones in shape, texture, motion and clothing; a detector trained \
         on photographs may find them harder or easier than real people.</li><li>{shapes}</li><li>Camera coverage is geometry: a cell counts as seen when the line of sight to a head \
         above it is clear; people hiding each other, weather and light are not in it.</li><li>The simple privacy attackers (a \
         linear model, a colour descriptor) find a lower bound; the trained attacker learned from synthetic raw crops only, so a \
         network trained on each masking style, or on real people, could find more.</li><li>Intervals cover sampling noise among the \
         simulated persons only, not the gap between synthetic and real people.</li><li>This report covers one scenario ({}) with one seed ({}): \
         it says nothing about other hours, weather, denser crowds or other camera placements.</li></ul></body></html>",
        escape(&run.scenario),
        run.seed
    );
    Ok(html)
}
