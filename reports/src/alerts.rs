//! Scoring the anomaly stage: alerts matched to staged incidents, frame AUC, incident recall,
//! false alerts per camera-hour, protected activities that drew alerts, and the traffic each
//! camera sends under the run's modality. From the records alone.
//!
//! **Matching.** An alert matches an incident (or protected activity) when (1) the incident is
//! visible — at least `min_visible_px` pixels — on the alert's camera in some frame within the
//! alert's interval widened by the tolerance, (2) the alert's interval overlaps the incident's,
//! widened by the tolerance, and (3) the alert's region of interest overlaps the box of the
//! incident's visible pixels on that camera over those frames. Real incidents are preferred
//! over protected activities, then the largest overlap. An alert that matches no incident, or
//! only a protected activity, is a false alert.

use crate::records::{AlertRecord, RunRecords};
use crowdtwin_core::bandwidth::{camera_traffic, frame_bytes};
use crowdtwin_core::scenario::Modality;
use std::collections::{BTreeMap, BTreeSet};

/// What the alerts of a run amount to.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AnomalyMetrics {
    /// Frame AUC of the AD score (positives: frames of a camera in which an incident — not a
    /// protected activity — is visible); `None` without both classes.
    pub ad_frame_auc: Option<f64>,
    /// Frame PR-AUC (average precision, scikit-learn's `average_precision_score`) of the AD
    /// score on the same frames; `None` without positives.
    pub ad_frame_pr_auc: Option<f64>,
    /// Positive frames.
    pub positive_frames: usize,
    /// Negative frames.
    pub negative_frames: usize,
    /// Alerts raised.
    pub alerts: usize,
    /// Alerts matching no incident, or only a protected activity.
    pub false_alerts: usize,
    /// Camera-hours observed (frames ÷ fps, summed over cameras).
    pub camera_hours: f64,
    /// False alerts per camera-hour.
    pub false_alerts_per_hour: Option<f64>,
    /// Incidents visible to some camera.
    pub incidents_visible: usize,
    /// Of which matched by an alert.
    pub incidents_detected: usize,
    /// detected ÷ visible.
    pub incident_recall: Option<f64>,
    /// Mean seconds from incident start to its first matching alert being raised.
    pub mean_time_to_alert_s: Option<f64>,
    /// Protected activities visible to some camera.
    pub protected_visible: usize,
    /// Of which drew an alert.
    pub protected_alerted: usize,
    /// alerted ÷ visible protected activities.
    pub protected_false_alert_rate: Option<f64>,
    /// Per kind of incident or protected activity: visible, and how many drew a matching alert.
    pub by_kind: Vec<KindOutcome>,
}

/// Alerts drawn by one kind of incident or protected activity.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KindOutcome {
    /// Kind (`fight`, `prayer`, …).
    pub kind: String,
    /// A protected activity (an alert on it is a false alert).
    pub protected: bool,
    /// Staged events of this kind visible to some camera.
    pub visible: usize,
    /// Of which drew a matching alert.
    pub alerted: usize,
}

/// Each frame's (AD score, positive?): positive when an incident — not a protected activity —
/// shows at least `min_visible_px` pixels on that camera in that frame.
pub fn labelled_frames(records: &RunRecords) -> Vec<(f64, bool)> {
    let min_px = records.runs.first().map_or(1, |r| r.min_visible_px);
    let protected = protected_by_incident(records);
    let positive: BTreeSet<(u64, u16)> = records
        .incident_frames
        .iter()
        .filter(|f| f.visible_px >= min_px && !protected.get(&f.incident).copied().unwrap_or(true))
        .map(|f| (f.tick, f.camera))
        .collect();
    records.frames.iter().map(|f| (f.ad_score, positive.contains(&(f.tick, f.camera)))).collect()
}

/// Cumulative (false positives, true positives) at each distinct score, from the highest
/// down: one point per threshold, ties taken together.
fn cumulative_counts(labelled: &[(f64, bool)]) -> Vec<(usize, usize)> {
    let mut sorted: Vec<(f64, bool)> = labelled.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut fp, mut tp) = (0, 0);
    let mut counts = Vec::new();
    for (i, &(score, positive)) in sorted.iter().enumerate() {
        if positive {
            tp += 1;
        } else {
            fp += 1;
        }
        if sorted.get(i + 1).is_none_or(|next| next.0 != score) {
            counts.push((fp, tp));
        }
    }
    counts
}

/// The ROC curve of (score, positive?) pairs: (false-positive rate, true-positive rate) from
/// (0, 0) to (1, 1), one point per distinct score; empty without both classes.
pub fn roc_curve(labelled: &[(f64, bool)]) -> Vec<(f64, f64)> {
    let positives = labelled.iter().filter(|l| l.1).count();
    let negatives = labelled.len() - positives;
    if positives == 0 || negatives == 0 {
        return Vec::new();
    }
    let mut curve = vec![(0.0, 0.0)];
    curve.extend(cumulative_counts(labelled).into_iter().map(|(fp, tp)| (fp as f64 / negatives as f64, tp as f64 / positives as f64)));
    curve
}

/// Average precision: Σ (Rₙ − Rₙ₋₁) Pₙ over the distinct scores from the highest down, the
/// step-wise area under the precision–recall curve (scikit-learn's definition, no
/// interpolation); `None` without positives.
pub fn average_precision(labelled: &[(f64, bool)]) -> Option<f64> {
    let positives = labelled.iter().filter(|l| l.1).count();
    if positives == 0 {
        return None;
    }
    let mut previous_recall = 0.0;
    let mut area = 0.0;
    for (fp, tp) in cumulative_counts(labelled) {
        let recall = tp as f64 / positives as f64;
        area += (recall - previous_recall) * tp as f64 / (tp + fp) as f64;
        previous_recall = recall;
    }
    Some(area)
}

/// Matches each alert to an incident (see the module's rules); returns, per alert, the
/// incident matched (if any).
pub fn match_alerts(records: &RunRecords, alerts: &[AlertRecord]) -> Vec<Option<u32>> {
    let Some(run) = records.runs.first() else { return vec![None; alerts.len()] };
    let (tick_hz, tolerance, min_px) = (run.tick_hz as f64, run.match_tolerance_s, run.min_visible_px);
    let protected = protected_by_incident(records);
    alerts
        .iter()
        .map(|alert| {
            let mut best: Option<(bool, f64, u32)> = None; // (real incident, overlap area, id)
            for incident in &records.incidents {
                let (start, end) = (incident.start_tick as f64 / tick_hz, incident.end_tick as f64 / tick_hz);
                if alert.end_s < start - tolerance || alert.start_s > end + tolerance {
                    continue;
                }
                let mut seen: Option<[f64; 4]> = None;
                for frame in records.incident_frames.iter().filter(|f| f.incident == incident.incident && f.camera == alert.camera) {
                    let t = frame.tick as f64 / tick_hz;
                    if frame.visible_px < min_px || t < alert.start_s - tolerance || t > alert.end_s + tolerance {
                        continue;
                    }
                    if let Some(b) = frame.visible_box() {
                        let b = b.map(|v| v as f64);
                        seen = Some(seen.map_or(b, |s| [s[0].min(b[0]), s[1].min(b[1]), s[2].max(b[2]), s[3].max(b[3])]));
                    }
                }
                let Some(b) = seen else { continue };
                let roi = alert.roi();
                let overlap = (roi[2].min(b[2]) - roi[0].max(b[0])).max(0.0) * (roi[3].min(b[3]) - roi[1].max(b[1])).max(0.0);
                if overlap <= 0.0 {
                    continue;
                }
                let candidate = (!protected[&incident.incident], overlap, incident.incident);
                if best.is_none_or(|b| (candidate.0, candidate.1) > (b.0, b.1)) {
                    best = Some(candidate);
                }
            }
            best.map(|b| b.2)
        })
        .collect()
}

/// Fills each alert's match and false-alert flag, and each incident's detection and time to
/// alert, from [`match_alerts`].
pub fn apply_matches(records: &mut RunRecords) {
    let alerts = std::mem::take(&mut records.alerts);
    let matches = match_alerts(records, &alerts);
    let protected = protected_by_incident(records);
    let tick_hz = records.runs.first().map_or(1, |r| r.tick_hz) as f64;
    let mut first: BTreeMap<u32, f64> = BTreeMap::new();
    records.alerts = alerts
        .into_iter()
        .zip(matches)
        .map(|(mut alert, matched)| {
            alert.matched_incident = matched;
            alert.false_alert = matched.is_none_or(|m| protected[&m]);
            if let Some(m) = matched {
                let entry = first.entry(m).or_insert(alert.raised_s);
                *entry = entry.min(alert.raised_s);
            }
            alert
        })
        .collect();
    for incident in &mut records.incidents {
        incident.detected = first.contains_key(&incident.incident);
        // An alert already open when the incident began counts as immediate, not as negative time.
        incident.time_to_alert_s = first.get(&incident.incident).map(|raised| (raised - incident.start_tick as f64 / tick_hz).max(0.0));
    }
}

/// Incidents (and protected activities) visible — at least `min_visible_px` pixels — on some camera.
pub fn visible_incidents(records: &RunRecords) -> BTreeSet<u32> {
    let min_px = records.runs.first().map_or(1, |r| r.min_visible_px);
    records.incident_frames.iter().filter(|f| f.visible_px >= min_px).map(|f| f.incident).collect()
}

/// Camera-hours the run observed.
pub fn camera_hours(records: &RunRecords) -> f64 {
    records
        .cameras
        .iter()
        .map(|c| records.frames.iter().filter(|f| f.camera == c.index).count() as f64 / c.fps.max(1) as f64 / 3600.0)
        .sum()
}

/// The anomaly metrics of a run whose alerts carry their matches ([`apply_matches`]).
pub fn anomaly_metrics(records: &RunRecords) -> AnomalyMetrics {
    let labelled = labelled_frames(records);
    let visible = visible_incidents(records);
    let real: Vec<_> = records.incidents.iter().filter(|i| !i.protected && visible.contains(&i.incident)).collect();
    let guarded: Vec<_> = records.incidents.iter().filter(|i| i.protected && visible.contains(&i.incident)).collect();
    let detected = real.iter().filter(|i| i.detected).count();
    let times: Vec<f64> = real.iter().filter_map(|i| i.time_to_alert_s).collect();
    let hours = camera_hours(records);
    let false_alerts = records.alerts.iter().filter(|a| a.false_alert).count();
    let mut by_kind: BTreeMap<(bool, &str), KindOutcome> = BTreeMap::new();
    for incident in records.incidents.iter().filter(|i| visible.contains(&i.incident)) {
        let outcome = by_kind.entry((incident.protected, &incident.kind)).or_insert_with(|| KindOutcome {
            kind: incident.kind.clone(),
            protected: incident.protected,
            visible: 0,
            alerted: 0,
        });
        outcome.visible += 1;
        outcome.alerted += usize::from(incident.detected);
    }
    AnomalyMetrics {
        ad_frame_auc: frame_auc(&labelled),
        ad_frame_pr_auc: average_precision(&labelled),
        positive_frames: labelled.iter().filter(|l| l.1).count(),
        negative_frames: labelled.iter().filter(|l| !l.1).count(),
        alerts: records.alerts.len(),
        false_alerts,
        camera_hours: hours,
        false_alerts_per_hour: (hours > 0.0).then(|| false_alerts as f64 / hours),
        incidents_visible: real.len(),
        incidents_detected: detected,
        incident_recall: (!real.is_empty()).then(|| detected as f64 / real.len() as f64),
        mean_time_to_alert_s: (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64),
        protected_visible: guarded.len(),
        protected_alerted: guarded.iter().filter(|i| i.detected).count(),
        protected_false_alert_rate: (!guarded.is_empty()).then(|| guarded.iter().filter(|i| i.detected).count() as f64 / guarded.len() as f64),
        by_kind: by_kind.into_values().collect(),
    }
}

/// The alerting rule's outcome when `alerts` are the alerts it raised at `threshold`: matched
/// against the run's incidents exactly as the run's own alerts are ([`apply_matches`] and
/// [`anomaly_metrics`] give the same counts), without copying the run's tables.
pub fn operating_point(records: &RunRecords, alerts: &[AlertRecord], threshold: f64, chosen: bool) -> crate::records::OperatingPointRecord {
    let matches = match_alerts(records, alerts);
    let protected = protected_by_incident(records);
    let alerted: BTreeSet<u32> = matches.iter().flatten().copied().collect();
    let false_alerts = matches.iter().filter(|m| m.is_none_or(|m| protected[&m])).count();
    let visible = visible_incidents(records);
    let share_alerted = |guarded: bool| {
        let events: Vec<u32> = records.incidents.iter().filter(|i| i.protected == guarded && visible.contains(&i.incident)).map(|i| i.incident).collect();
        (!events.is_empty()).then(|| events.iter().filter(|i| alerted.contains(i)).count() as f64 / events.len() as f64)
    };
    let hours = camera_hours(records);
    crate::records::OperatingPointRecord {
        threshold,
        alerts: alerts.len() as u32,
        false_alerts: false_alerts as u32,
        false_alerts_per_hour: if hours > 0.0 { false_alerts as f64 / hours } else { 0.0 },
        incident_recall: share_alerted(false),
        protected_false_alert_rate: share_alerted(true),
        chosen,
    }
}

/// Whether each staged event is a protected activity.
fn protected_by_incident(records: &RunRecords) -> BTreeMap<u32, bool> {
    records.incidents.iter().map(|i| (i.incident, i.protected)).collect()
}

/// Area under the ROC curve of (score, positive?) pairs: the probability that a random
/// positive scores above a random negative, ties counted half (Mann–Whitney U ÷ n₊n₋).
pub fn frame_auc(labelled: &[(f64, bool)]) -> Option<f64> {
    let positives = labelled.iter().filter(|l| l.1).count();
    let negatives = labelled.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut sorted: Vec<(f64, bool)> = labelled.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mean_rank * sorted[i..=j].iter().filter(|l| l.1).count() as f64;
        i = j + 1;
    }
    let u = rank_sum - (positives * (positives + 1)) as f64 / 2.0;
    Some(u / (positives as f64 * negatives as f64))
}

/// What one camera sends off the camera under the run's modality and bitrate model.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CameraBandwidth {
    /// Camera id.
    pub camera: String,
    /// Frames the camera produced.
    pub frames: usize,
    /// Frames inside alerts (an edge camera uploads these, masked, for review).
    pub alert_frames: usize,
    /// Hours observed.
    pub hours: f64,
    /// Raw (unmasked) video leaving the camera, bytes.
    pub raw_bytes: f64,
    /// Masked video leaving the camera, bytes.
    pub masked_bytes: f64,
    /// Alert metadata leaving the camera, bytes.
    pub metadata_bytes: f64,
    /// raw bytes per hour.
    pub raw_bytes_per_hour: f64,
    /// masked bytes per hour.
    pub masked_bytes_per_hour: f64,
    /// metadata bytes per hour.
    pub metadata_bytes_per_hour: f64,
}

/// Per camera, the bytes that leave it under the run's modality ([`camera_traffic`]): central
/// sends every frame raw; hybrid every frame masked; edge the masked frames inside alerts plus
/// each alert's metadata record. A frame costs sensor pixels × bits per pixel ÷ 8.
pub fn bandwidth(records: &RunRecords) -> Vec<CameraBandwidth> {
    let Some(run) = records.runs.first() else { return Vec::new() };
    records
        .cameras
        .iter()
        .map(|camera| {
            let frames: Vec<_> = records.frames.iter().filter(|f| f.camera == camera.index).collect();
            let alerts: Vec<_> = records.alerts.iter().filter(|a| a.camera == camera.index).collect();
            let alert_frames = frames.iter().filter(|f| alerts.iter().any(|a| (a.start_tick..=a.end_tick).contains(&f.tick))).count();
            let frame_bytes = frame_bytes(camera.sensor_resolution(), run.bits_per_pixel);
            let metadata: u64 = alerts.iter().map(|a| a.metadata_bytes as u64).sum();
            let modality: Modality = serde_json::from_value(serde_json::Value::String(run.modality.clone())).unwrap_or_default();
            let traffic = camera_traffic(modality, frames.len() as u64, alert_frames as u64, frame_bytes, metadata as f64);
            let (raw, masked, meta) = (traffic.raw_bytes, traffic.masked_bytes, traffic.metadata_bytes);
            let hours = frames.len() as f64 / camera.fps.max(1) as f64 / 3600.0;
            let per_hour = |bytes: f64| if hours > 0.0 { bytes / hours } else { 0.0 };
            CameraBandwidth {
                camera: camera.id.clone(),
                frames: frames.len(),
                alert_frames,
                hours,
                raw_bytes: raw,
                masked_bytes: masked,
                metadata_bytes: meta,
                raw_bytes_per_hour: per_hour(raw),
                masked_bytes_per_hour: per_hour(masked),
                metadata_bytes_per_hour: per_hour(meta),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;

    #[test]
    fn auc_counts_ties_half_and_orders() {
        assert_eq!(frame_auc(&[(0.9, true), (0.1, false)]), Some(1.0));
        assert_eq!(frame_auc(&[(0.1, true), (0.9, false)]), Some(0.0));
        assert_eq!(frame_auc(&[(0.5, true), (0.5, false)]), Some(0.5));
        // 2 positives, 2 negatives: pairs (0.8>0.3 ✓, 0.8>0.6 ✓, 0.4>0.3 ✓, 0.4<0.6 ✗) = 3/4.
        assert_eq!(frame_auc(&[(0.8, true), (0.4, true), (0.3, false), (0.6, false)]), Some(0.75));
        assert_eq!(frame_auc(&[(0.8, true)]), None);
    }

    #[test]
    fn roc_and_average_precision_match_scikit_learns_worked_example() {
        // scikit-learn's documented example: y_true [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8]
        // give average_precision_score 0.8333… and roc_auc_score 0.75; roc_curve passes
        // through (0, 0.5), (0.5, 0.5), (0.5, 1) and (1, 1).
        let labelled = [(0.1, false), (0.4, false), (0.35, true), (0.8, true)];
        assert!((average_precision(&labelled).unwrap() - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(frame_auc(&labelled), Some(0.75));
        assert_eq!(roc_curve(&labelled), vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]);
        // Ties are one threshold: two tied scores, one of each class, give one diagonal step.
        assert_eq!(roc_curve(&[(0.5, true), (0.5, false)]), vec![(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(average_precision(&[(0.5, true), (0.5, false)]), Some(0.5));
        assert_eq!(average_precision(&[(0.5, false)]), None);
        assert!(roc_curve(&[(0.5, true)]).is_empty());
    }

    fn run_with(incidents: Vec<(u32, bool, u64, u64)>, frames: Vec<(u64, u32, [u32; 4])>) -> RunRecords {
        let mut records = RunRecords::default();
        records.runs.push(RunRecord {
            scenario: "t".into(),
            scenario_sha256: String::new(),
            seed: 0,
            duration_s: 20.0,
            tick_hz: 10,
            ticks: 200,
            masking_model: String::new(),
            masking_model_sha256: String::new(),
            refine_model: String::new(),
            refine_model_sha256: String::new(),
            crowdtwin_version: String::new(),
            modality: "central".into(),
            retention: 2,
            bits_per_pixel: 0.1,
            anomaly_model: String::new(),
            anomaly_model_sha256: String::new(),
            alert_threshold: 0.5,
            alert_release_ratio: 0.8,
            alert_min_duration_s: 1.0,
            match_tolerance_s: 2.0,
            detector_tiles: "1x1".into(),
            miss_threshold: 0.2,
            min_visible_px: 20,
            light: "day".into(),
            weather: "clear".into(),
        });
        for (id, protected, start, end) in incidents {
            records.incidents.push(IncidentRecord {
                incident: id,
                kind: if protected { "hug".into() } else { "fight".into() },
                protected,
                start_tick: start,
                end_tick: end,
                persons: vec![],
                objects: vec![],
                centre_x: 0.0,
                centre_z: 0.0,
                intensity: 1.0,
                detected: false,
                time_to_alert_s: None,
            });
        }
        for (tick, incident, b) in frames {
            records.incident_frames.push(IncidentFrameRecord::new(tick, 0, incident, 100, 100, Some(b)));
        }
        records
    }

    /// Camera 0 at 5 fps.
    fn camera() -> CameraRecord {
        CameraRecord {
            index: 0,
            id: "c".into(),
            x_m: 0.0,
            y_m: 0.0,
            z_m: 0.0,
            yaw_deg: 0.0,
            pitch_deg: 0.0,
            hfov_deg: 60.0,
            sensor_width: 1920,
            sensor_height: 1080,
            render_width: 640,
            render_height: 360,
            fps: 5,
        }
    }

    fn alert(start_s: f64, end_s: f64, roi: [f64; 4]) -> AlertRecord {
        AlertRecord {
            alert: 0,
            camera: 0,
            start_tick: (start_s * 10.0) as u64,
            end_tick: (end_s * 10.0) as u64,
            start_s,
            raised_s: start_s + 1.0,
            end_s,
            confidence_pct: 80.0,
            roi_x0: roi[0],
            roi_y0: roi[1],
            roi_x1: roi[2],
            roi_y1: roi[3],
            site_x_m: None,
            site_z_m: None,
            text: String::new(),
            metadata_bytes: 200,
            matched_incident: None,
            false_alert: false,
        }
    }

    #[test]
    fn an_operating_point_counts_what_matching_the_run_itself_counts() {
        let mut records = run_with(
            vec![(0, false, 50, 100), (1, true, 50, 100), (2, false, 150, 190)],
            vec![(60, 0, [0, 0, 50, 50]), (60, 1, [100, 0, 150, 50]), (160, 2, [0, 0, 50, 50])],
        );
        records.cameras.push(camera());
        records.frames = (0..40).map(|i| FrameRecord { tick: i * 2, camera: 0, time_s: i as f64 * 0.2, persons_visible: 0, detections: 0, refined: 0, masked_px: 0, false_mask_px: 0, frame_px: 1, plate_px: 0, plate_exposed_px: 0, screen_px: 0, screen_exposed_px: 0, ad_score: 0.0 }).collect();
        let alerts = vec![alert(6.0, 8.0, [10.0, 10.0, 40.0, 40.0]), alert(6.0, 8.0, [110.0, 10.0, 140.0, 40.0]), alert(1.0, 2.0, [0.0, 0.0, 10.0, 10.0])];
        let point = operating_point(&records, &alerts, 0.5, true);
        records.alerts = alerts;
        apply_matches(&mut records);
        let metrics = anomaly_metrics(&records);
        assert_eq!((point.alerts as usize, point.false_alerts as usize), (metrics.alerts, metrics.false_alerts));
        assert_eq!((point.incident_recall, point.protected_false_alert_rate), (metrics.incident_recall, metrics.protected_false_alert_rate));
        assert_eq!(Some(point.false_alerts_per_hour), metrics.false_alerts_per_hour);
        assert_eq!((point.incident_recall, point.protected_false_alert_rate, point.false_alerts), (Some(0.5), Some(1.0), 2));
    }

    #[test]
    fn an_alert_matches_in_time_and_space_and_prefers_real_incidents() {
        // Incident 0 (fight) 5–10 s at the left; incident 1 (hug, protected) 5–10 s at the right.
        let mut records = run_with(
            vec![(0, false, 50, 100), (1, true, 50, 100)],
            vec![(60, 0, [0, 0, 50, 50]), (60, 1, [100, 0, 150, 50]), (95, 0, [0, 0, 50, 50]), (95, 1, [100, 0, 150, 50])],
        );
        records.alerts = vec![
            alert(6.0, 8.0, [10.0, 10.0, 40.0, 40.0]),     // on the fight
            alert(6.0, 8.0, [110.0, 10.0, 140.0, 40.0]),   // on the hug: a false alert
            alert(6.0, 8.0, [200.0, 100.0, 240.0, 140.0]), // on nothing
            alert(15.0, 16.0, [10.0, 10.0, 40.0, 40.0]),   // too late (beyond 10 s + 2 s)
            alert(11.5, 13.0, [0.0, 0.0, 150.0, 50.0]),    // within tolerance (seen at 9.5 s), over both: the fight wins
        ];
        apply_matches(&mut records);
        let matched: Vec<_> = records.alerts.iter().map(|a| a.matched_incident).collect();
        assert_eq!(matched, vec![Some(0), Some(1), None, None, Some(0)]);
        let false_alerts: Vec<_> = records.alerts.iter().map(|a| a.false_alert).collect();
        assert_eq!(false_alerts, vec![false, true, true, true, false]);
        assert!(records.incidents[0].detected && records.incidents[1].detected);
        assert_eq!(records.incidents[0].time_to_alert_s, Some(2.0), "raised at 7 s, started at 5 s");
        records.cameras.push(camera());
        let metrics = anomaly_metrics(&records);
        assert_eq!((metrics.incident_recall, metrics.protected_false_alert_rate), (Some(1.0), Some(1.0)));
        assert_eq!((metrics.alerts, metrics.false_alerts), (5, 3));
    }
}
