//! The report's anomaly and deployment sections: what the AD model and the alerting rule did
//! against the staged incidents, the price of a lower threshold, and what left the cameras.

use crate::alerts::{AnomalyMetrics, CameraBandwidth};
use crate::charts::{line_chart, timeline_chart, Lane, Series, Span};
use crate::html::{escape, ReportInput};
use crate::images::base64;
use plotters::style::RGBColor;
use std::fmt::Write;

fn share(value: Option<f64>) -> String {
    crate::html::percent_with(value, 0)
}

fn bytes(value: f64) -> String {
    match value {
        v if v >= 1e12 => format!("{:.2} TB", v / 1e12),
        v if v >= 1e9 => format!("{:.2} GB", v / 1e9),
        v if v >= 1e6 => format!("{:.1} MB", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        v => format!("{v:.0} B"),
    }
}

/// The anomaly-detection section: definitions, metrics, alerts, operator views and the
/// operating-point sweep.
pub fn anomaly_section(input: &ReportInput, metrics: &AnomalyMetrics) -> String {
    let records = input.records;
    let Some(run) = records.runs.first() else { return String::new() };
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2>Anomaly detection and alerts</h2><p>The anomaly model sees only masked frames: for each camera, the clip of its last frames \
         ending with the current one. An alert opens once the score stays at or above <b>{:.2}</b> for {:.1} s and closes when it falls \
         below {:.2} (hysteresis). It carries the camera, times, a confidence (peak score), a region of interest and its place on the site \
         map, and one neutral sentence — never a crime label.</p><p>Alerts are scored frame by frame by the criteria of Ramachandra &amp; Jones \
         (Street Scene, WACV 2020). In each frame of an open alert its <b>regions</b> are the 8-connected groups of grid cells scoring at or \
         above the threshold. A region <b>detects</b> an incident in a frame when its intersection over union with the incident's visible box \
         (≥ {} px) is at least α = {}; an incident is <b>detected</b> when at least β = {} of its visible frames on some camera are. A \
         protected activity is <b>flagged</b> when, in at least β of its visible frames, a region of an open alert covers at least half of \
         its visible box — whether or not the same alert also detected an incident. An alert none of whose frames detects an incident is a \
         <b>false alert</b>; one alert may detect several incidents. RBDC and TBDC score the model's regions at every threshold, without the \
         alerting rule.</p>",
        run.alert_threshold,
        run.alert_min_duration_s,
        run.alert_threshold * run.alert_release_ratio,
        run.min_visible_px,
        run.region_iou,
        run.track_share,
    );
    let _ = write!(
        html,
        "<table><tr><td>anomaly model</td><td>{} (sha256 <code>{}</code>)</td></tr>\
         <tr><td>frame AUC (positives: frames where an incident is visible; {} positive, {} negative)</td><td>{}</td></tr>\
         <tr><td>frame PR-AUC (average precision; a detector guessing at random scores the positives' share, {})</td><td>{}</td></tr>\
         <tr><td>RBDC / TBDC, area for 0–1 false-positive regions per frame ({} incident regions, {} tracks)</td><td>{} / {}</td></tr>\
         <tr><td>incident recall (visible incidents detected by the alerts)</td><td>{} ({} of {})</td></tr>\
         <tr><td>mean time from incident start to alert</td><td>{}</td></tr>\
         <tr><td>alerts raised / false</td><td>{} / {}</td></tr>\
         <tr><td>camera-time under an open alert</td><td>{}</td></tr>\
         <tr><td>false alerts per camera-hour</td><td>{} ({:.3} camera-hours observed)</td></tr>\
         <tr><td>protected activities flagged</td><td>{} ({} of {})</td></tr>\
         <tr><td>disproportionate alerts (covering an out-of-scope event) · out-of-scope events alerted on</td><td>{} · {} of {}</td></tr></table>\
         <p>Events are classed by the profile <b>{}</b>: incidents should alert, protected activities must not, and an alert on an \
         out-of-scope event (e.g. petty theft) is disproportionate — it counts as a negative and on its own line above.</p>",
        escape(&run.anomaly_model),
        run.anomaly_model_sha256,
        metrics.positive_frames,
        metrics.negative_frames,
        metrics.ad_frame_auc.map_or("—".into(), |a| format!("{a:.3}")),
        if metrics.positive_frames + metrics.negative_frames > 0 {
            format!("{:.3}", metrics.positive_frames as f64 / (metrics.positive_frames + metrics.negative_frames) as f64)
        } else {
            "—".into()
        },
        metrics.ad_frame_pr_auc.map_or("—".into(), |a| format!("{a:.3}")),
        metrics.detection.regions,
        metrics.detection.tracks,
        metrics.detection.rbdc_auc.map_or("—".into(), |a| format!("{a:.3}")),
        metrics.detection.tbdc_auc.map_or("—".into(), |a| format!("{a:.3}")),
        share(metrics.incident_recall),
        metrics.incidents_detected,
        metrics.incidents_visible,
        metrics.mean_time_to_alert_s.map_or("—".into(), |t| format!("{t:.1} s")),
        metrics.alerts,
        metrics.false_alerts,
        share(Some(metrics.alert_time_share)),
        metrics.false_alerts_per_hour.map_or("—".into(), |r| format!("{r:.0}")),
        metrics.camera_hours,
        share(metrics.protected_flag_rate),
        metrics.protected_flagged,
        metrics.protected_visible,
        metrics.disproportionate_alerts,
        metrics.out_of_scope_alerted,
        metrics.out_of_scope_visible,
        escape(&run.profile)
    );
    if let Some(mismatch) = &input.anomaly_masking_mismatch {
        let _ = write!(html, "<p class=\"note\"><b>Outside the model's intended use.</b> {}.</p>", escape(mismatch));
    }
    if metrics.alert_time_share >= 0.5 {
        let _ = write!(
            html,
            "<p class=\"note\">Alerts were open {} of the camera-time: an alert that is always on says little about where or when anything happened.</p>",
            share(Some(metrics.alert_time_share))
        );
    }
    if metrics.camera_hours < 1.0 {
        html.push_str("<p class=\"note\">Rates per camera-hour are extrapolated from less than an hour of simulated footage: read them as orders of magnitude.</p>");
    }

    if !metrics.by_kind.is_empty() {
        html.push_str("<h3>By kind of event</h3><table><tr><th>kind</th><th></th><th>visible</th><th>detected / flagged / alerted on</th></tr>");
        for kind in &metrics.by_kind {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&kind.kind.replace('_', " ")),
                match kind.class {
                    "protected" => "protected activity — must not be flagged",
                    "out_of_scope" => "out of scope — an alert is disproportionate",
                    _ => "incident",
                },
                kind.visible,
                kind.alerted
            );
        }
        html.push_str("</table>");
    }
    html.push_str(&roc_chart(records));
    html.push_str(&detection_chart(metrics));
    html.push_str(&timeline(records));

    // The price of a lower threshold.
    let points = &records.operating_points;
    if !points.is_empty() {
        let max_rate = points.iter().map(|p| p.false_alerts_per_hour).fold(1.0, f64::max) * 1.05;
        let recall: Vec<(f64, f64)> = points.iter().filter_map(|p| p.incident_recall.map(|r| (p.false_alerts_per_hour, r * 100.0))).collect();
        let guarded: Vec<(f64, f64)> = points.iter().filter_map(|p| p.protected_flag_rate.map(|r| (p.false_alerts_per_hour, r * 100.0))).collect();
        let chosen: Vec<(f64, f64)> = points.iter().filter(|p| p.chosen).filter_map(|p| p.incident_recall.map(|r| (p.false_alerts_per_hour, r * 100.0))).collect();
        let mut series = vec![
            Series { label: "incidents detected (%)", colour: RGBColor(40, 90, 200), points: sorted(recall), markers: true },
            Series { label: "protected activities flagged (%)", colour: RGBColor(200, 60, 40), points: sorted(guarded), markers: true },
        ];
        if !chosen.is_empty() {
            series.push(Series { label: "this run's threshold", colour: RGBColor(0, 0, 0), points: chosen, markers: true });
        }
        html.push_str("<h3>Operating points: what a lower threshold costs</h3><p>The alerting rule replayed on this run's scores at thresholds from 0.05 to 0.95. \
                       Moving right lowers the threshold: more incidents alerted, paid for in false alerts per camera-hour and in protected activities flagged.</p>");
        match line_chart("Incident recall against false alerts", "false alerts per camera-hour", "%", (0.0, max_rate), (0.0, 105.0), &series) {
            Ok(svg) => html.push_str(&svg),
            Err(error) => {
                let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
            }
        }
        html.push_str("<table><tr><th>threshold</th><th>alerts</th><th>false</th><th>false / camera-hour</th><th>camera-time under alert</th><th>incident recall</th><th>protected flagged</th></tr>");
        for p in points {
            let _ = write!(
                html,
                "<tr><td>{:.2}{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                p.threshold,
                if p.chosen { " (this run)" } else { "" },
                p.alerts,
                p.false_alerts,
                p.false_alerts_per_hour,
                share(Some(p.alert_time_share)),
                share(p.incident_recall),
                share(p.protected_flag_rate)
            );
        }
        html.push_str("</table>");
    }

    if !records.alerts.is_empty() {
        html.push_str("<h3>Alerts</h3><table><tr><th>#</th><th>camera</th><th>from–to (s)</th><th>raised (s)</th><th>confidence</th>\
                       <th>site (x, z) m</th><th>text</th><th>detected / flagged</th></tr>");
        for alert in &records.alerts {
            let camera = records.cameras.iter().find(|c| c.index == alert.camera).map_or("?", |c| c.id.as_str());
            let name = |id: &u32| records.incidents.iter().find(|i| i.incident == *id).map_or(format!("#{id}"), |i| format!("#{} {}", i.incident, i.kind.replace('_', " ")));
            let mut parts: Vec<String> = alert.detected_incidents.iter().map(name).collect();
            parts.extend(alert.flagged_activities.iter().map(|id| format!("{} — protected, flagged", name(id))));
            parts.extend(alert.disproportionate_events.iter().map(|id| format!("{} — out of scope: disproportionate", name(id))));
            if alert.false_alert {
                parts.push("no incident: a false alert".to_string());
            }
            let matched = parts.join("; ");
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{:.1}–{:.1}</td><td>{:.1}</td><td>{:.0} %</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                alert.alert,
                escape(camera),
                alert.start_s,
                alert.end_s,
                alert.raised_s,
                alert.confidence_pct,
                alert.location().map_or("above the horizon".into(), |[x, z]| format!("({:.1}, {:.1})", x + 0.0, z + 0.0)),
                escape(&alert.text),
                escape(&matched)
            );
        }
        html.push_str("</table>");
    }
    if !input.alert_views.is_empty() {
        html.push_str("<h3>What the operator sees</h3><p>Masked frames at each alert's peak score, the region of interest outlined in red (first alerts only).</p><div class=\"charts\">");
        for (caption, png) in &input.alert_views {
            let _ = write!(html, "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\" width=\"420\"><figcaption>{0}</figcaption></figure>", escape(caption), base64(png));
        }
        html.push_str("</div>");
    }
    html
}

/// The frame ROC curve of the AD score, against the diagonal of a detector guessing at random.
fn roc_chart(records: &crate::records::RunRecords) -> String {
    let curve = crate::alerts::roc_curve(&crate::alerts::labelled_frames(records));
    if curve.is_empty() {
        return "<p class=\"note\">No ROC curve: the run has no frame with an incident, or no frame without one.</p>".into();
    }
    let series = [
        Series { label: "anomaly score (frames)", colour: RGBColor(40, 90, 200), points: curve, markers: false },
        Series { label: "guessing at random", colour: RGBColor(150, 150, 150), points: vec![(0.0, 0.0), (1.0, 1.0)], markers: false },
    ];
    let mut html = String::from(
        "<h3>ROC curve</h3><p>Each point is one threshold on the frame score: the share of frames with a visible incident above it \
         (true-positive rate) against the share of frames without one above it (false-positive rate).</p>",
    );
    match line_chart("Frame ROC curve", "false-positive rate", "true-positive rate", (0.0, 1.0), (0.0, 1.0), &series) {
        Ok(svg) => html.push_str(&svg),
        Err(error) => {
            let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
        }
    }
    html
}

/// Per camera, when each staged event was visible on it and when its alerts ran.
fn timeline(records: &crate::records::RunRecords) -> String {
    let Some(run) = records.runs.first() else { return String::new() };
    let tick_s = 1.0 / run.tick_hz.max(1) as f64;
    let (incident, guarded, alerted, false_alert) = (RGBColor(230, 120, 0), RGBColor(40, 150, 70), RGBColor(200, 30, 30), RGBColor(120, 120, 120));
    // One lane per staged event (first to last frame in which some camera sees it), then one
    // lane of alerts per camera.
    let mut seen: std::collections::BTreeMap<u32, (u64, u64)> = std::collections::BTreeMap::new();
    for f in records.incident_frames.iter().filter(|f| f.visible_px >= run.min_visible_px) {
        let span = seen.entry(f.incident).or_insert((f.tick, f.tick));
        *span = (span.0.min(f.tick), span.1.max(f.tick));
    }
    let mut lanes: Vec<Lane> = records
        .incidents
        .iter()
        .filter_map(|event| {
            let &(first, last) = seen.get(&event.incident)?;
            Some(Lane {
                label: format!("#{} {}", event.incident, event.kind.replace('_', " ")),
                spans: vec![Span {
                    start_s: first as f64 * tick_s,
                    end_s: (last + 1) as f64 * tick_s,
                    colour: if event.protected { guarded } else { incident },
                    text: String::new(),
                }],
            })
        })
        .collect();
    for camera in &records.cameras {
        let alerts = records
            .alerts
            .iter()
            .filter(|a| a.camera == camera.index)
            .map(|a| {
                let matched: String = a.detected_incidents.iter().map(|m| format!(" → #{m}")).collect();
                Span { start_s: a.start_s, end_s: a.end_s, colour: if a.false_alert { false_alert } else { alerted }, text: format!("alert {}{matched}", a.alert) }
            })
            .collect();
        lanes.push(Lane { label: format!("alerts · {}", camera.id), spans: alerts });
    }
    let legend = [("incident", incident), ("protected activity", guarded), ("alert detecting an incident", alerted), ("false alert", false_alert)];
    let mut html = String::from(
        "<h3>Alert timeline</h3><p>When each staged event was visible to some camera (first to last frame with enough pixels), and when each camera's alerts ran, with the incidents each alert detected.</p>",
    );
    match timeline_chart("Alerts against staged events", run.duration_s, &lanes) {
        Ok(svg) => {
            html.push_str(&svg);
            html.push_str("<p>");
            for (label, RGBColor(r, g, b)) in legend {
                let _ = write!(html, "<span style=\"display:inline-block;width:1em;height:.8em;background:rgb({r},{g},{b});margin:0 .3em 0 1em\"></span>{label}");
            }
            html.push_str("</p>");
        }
        Err(error) => {
            let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
        }
    }
    html
}

/// RBDC and TBDC against false-positive regions per frame, up to 1 (the range their areas cover).
fn detection_chart(metrics: &AnomalyMetrics) -> String {
    let curves = &metrics.detection;
    if curves.points.is_empty() || (curves.rbdc_auc.is_none() && curves.tbdc_auc.is_none()) {
        return String::new();
    }
    // The best rate reached at or below each false-positive rate, as the areas count it.
    let envelope = |y: fn(&crate::regions::CurvePoint) -> f64| crate::regions::envelope(&curves.points, y).into_iter().map(|(x, v)| (x, v * 100.0)).collect();
    let series = [
        Series { label: "RBDC (regions detected, %)", colour: RGBColor(40, 90, 200), points: envelope(|p| p.rbdc), markers: false },
        Series { label: "TBDC (tracks detected, %)", colour: RGBColor(30, 150, 90), points: envelope(|p| p.tbdc), markers: false },
    ];
    let mut html = format!(
        "<h3>Region- and track-based detection</h3><p>The model's regions at every threshold (no alerting rule): the share of incident regions \
         (RBDC) and incident tracks (TBDC) detected against the false-positive regions per frame it takes. Areas for 0–1 false positives per \
         frame: RBDC {}, TBDC {} (1 is perfect; {} incident regions in {} tracks over {} frames).</p>",
        curves.rbdc_auc.map_or("—".into(), |a| format!("{a:.3}")),
        curves.tbdc_auc.map_or("—".into(), |a| format!("{a:.3}")),
        curves.regions,
        curves.tracks,
        curves.frames
    );
    match line_chart("RBDC and TBDC", "false-positive regions per frame", "% detected", (0.0, 1.0), (0.0, 105.0), &series) {
        Ok(svg) => html.push_str(&svg),
        Err(error) => {
            let _ = write!(html, "<p>chart unavailable: {}</p>", escape(&error));
        }
    }
    html
}

fn sorted(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points
}

/// The deployment section: where the models ran, what left each camera, what was kept.
pub fn deployment_section(input: &ReportInput, bandwidth: &[CameraBandwidth]) -> String {
    let Some(run) = input.records.runs.first() else { return String::new() };
    let (where_, leaves) = match run.modality.as_str() {
        "central" => ("masking and anomaly detection run on a server", "every frame leaves the camera raw (unmasked)"),
        "hybrid" => ("masking runs on the camera, anomaly detection on a server", "only masked video leaves the camera"),
        _ => ("masking and anomaly detection run on the camera", "only alert metadata and the masked frames of each alert leave the camera"),
    };
    let retention = match run.retention {
        1 => "mode 1: masked frames kept; raw frames kept encrypted (XChaCha20-Poly1305) for warrant access, every access in a hash-chained log",
        2 => "mode 2: masked frames kept; raw frames dropped right after masking",
        _ => "mode 3: nothing kept but alert metadata (time, place, neutral text)",
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2>Deployment</h2><p><b>{}</b>: {where_}; {leaves}. Retention <b>{retention}</b>. Video bytes follow a bitrate model of \
         {} bits per pixel per frame at each camera's sensor resolution.</p><table><tr><th>camera</th><th>frames</th><th>raw video off camera</th>\
         <th>masked video sent</th><th>metadata sent</th><th>raw per hour</th><th>masked per hour</th><th>metadata per hour</th></tr>",
        escape(&run.modality),
        run.bits_per_pixel
    );
    for b in bandwidth {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&b.camera),
            b.frames,
            bytes(b.raw_bytes),
            bytes(b.masked_bytes),
            bytes(b.metadata_bytes),
            bytes(b.raw_bytes_per_hour),
            bytes(b.masked_bytes_per_hour),
            bytes(b.metadata_bytes_per_hour)
        );
    }
    html.push_str("</table>");
    if let Some(projection) = crate::retention::project(input.records) {
        html.push_str(&retention_table(&projection));
    }
    html
}

/// Retention in time: every modality × mode projected over the run's retention periods.
fn retention_table(p: &crate::retention::RetentionProjection) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<h3>Retention in time</h3><p>Kept for <b>{} days</b> (raw footage, mode 1 only), <b>{} days</b> (masked footage, modes 1–2) and          <b>{} days</b> (alert records). Projected for the {} cameras recording around the clock at their frame rates, by the bitrate          model; alert records (their JSON lines; the CAP copies are not counted) and the share of frames in alerts are this run's, scaled to a day. <i>Held</i> is what lies on disk once          the deployment has run for its retention periods; <i>raw exposure</i> is the camera-days of raw video kept at any time. The          run's own deployment is in bold.</p><table><tr><th>modality</th><th>mode</th><th>raw held</th><th>masked held</th>         <th>alert records held</th><th>total held</th><th>raw exposure (camera-days)</th><th>raw kept on</th>         <th>raw off camera per day</th><th>masked off camera per day</th></tr>",
        p.raw_days, p.masked_days, p.alert_days, p.cameras
    );
    for r in &p.rows {
        let (open, close) = if r.this_run { ("<b>", "</b>") } else { ("", "") };
        let _ = write!(
            html,
            "<tr><td>{open}{}{close}</td><td>{open}{}{close}</td><td>{}</td><td>{}</td><td>{}</td><td>{open}{}{close}</td><td>{open}{}{close}</td>             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.modality),
            r.mode,
            bytes(r.raw_stored_bytes),
            bytes(r.masked_stored_bytes),
            bytes(r.alert_stored_bytes),
            bytes(r.total_stored_bytes),
            r.raw_camera_days,
            if r.raw_kept_at.is_empty() { "—" } else { r.raw_kept_at },
            bytes(r.raw_off_camera_bytes_per_day),
            bytes(r.masked_off_camera_bytes_per_day)
        );
    }
    html.push_str("</table>");
    html
}
