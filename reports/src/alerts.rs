//! Scoring the anomaly stage: alerts scored against the staged events frame by frame, frame
//! AUC, the model-level detection curves, incident recall, false alerts per camera-hour,
//! protected activities flagged, and the traffic each camera sends under the run's modality.
//! From the records alone.
//!
//! **Alerts, by the criteria of Ramachandra & Jones (Street Scene, WACV 2020).** In each frame
//! of an open alert, its regions are the 8-connected groups of grid cells at or above the alert
//! threshold ([`crate::regions`]; the `alert_regions` table). A region *detects* a real
//! incident in a frame when its IoU with the incident's visible box on that camera is at least
//! α (`alerts.region_iou`); an incident is **detected** when at least β (`alerts.track_share`)
//! of its visible frames on some camera are. A protected activity is **flagged** when, in at
//! least β of its visible frames on some camera, a region of an open alert covers at least
//! half of its visible box — whether or not the same alert detected a real incident too. An
//! alert is **false** when none of its frames detects a real incident. One alert may detect
//! several events. Event recall, false alerts per camera-hour and time to alert are counted on
//! these per-frame matches; RBDC and TBDC ([`crate::regions::detection_curves`]) score the
//! model's regions at every threshold without the alerting rule.

use crate::records::{AlertRecord, AlertRegionRecord, RunRecords};
use crate::profile::EventClass;
use crate::regions::{area, detection_curves, intersection, iou, DetectionCurves};
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
    /// Alerts none of whose frames detects a real incident.
    pub false_alerts: usize,
    /// Share of camera-time (frames) under an open alert: near 1, an always-on alert.
    pub alert_time_share: f64,
    /// Camera-hours observed (frames ÷ fps, summed over cameras).
    pub camera_hours: f64,
    /// False alerts per camera-hour.
    pub false_alerts_per_hour: Option<f64>,
    /// Incidents visible to some camera.
    pub incidents_visible: usize,
    /// Of which detected by the alerts.
    pub incidents_detected: usize,
    /// detected ÷ visible.
    pub incident_recall: Option<f64>,
    /// Mean seconds from incident start to the first alert that detected it being raised.
    pub mean_time_to_alert_s: Option<f64>,
    /// Protected activities visible to some camera.
    pub protected_visible: usize,
    /// Of which flagged by the alerts.
    pub protected_flagged: usize,
    /// flagged ÷ visible protected activities.
    pub protected_flag_rate: Option<f64>,
    /// Out-of-scope events (the profile's: an alert on them is disproportionate) visible to some camera.
    pub out_of_scope_visible: usize,
    /// Of which alerted on by the β criterion of flagging.
    pub out_of_scope_alerted: usize,
    /// Alerts whose regions covered an out-of-scope event in some frame: disproportionate alerts.
    pub disproportionate_alerts: usize,
    /// Per kind of incident or protected activity: visible, and how many were detected or flagged.
    pub by_kind: Vec<KindOutcome>,
    /// The model's regions scored at every threshold: RBDC and TBDC with their areas.
    pub detection: DetectionCurves,
}

/// Alerts drawn by one kind of incident or protected activity.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KindOutcome {
    /// Kind (`fight`, `prayer`, …).
    pub kind: String,
    /// A protected activity (it must not be flagged).
    pub protected: bool,
    /// Its class under the run's profile: `incident`, `protected` or `out_of_scope`.
    pub class: &'static str,
    /// Staged events of this kind visible to some camera.
    pub visible: usize,
    /// Of which detected (an incident), flagged (a protected activity) or alerted on (out of scope).
    pub alerted: usize,
}

/// Each frame's (AD score, positive?): positive when an incident — not a protected or
/// out-of-scope event — shows at least `min_visible_px` pixels on that camera in that frame.
pub fn labelled_frames(records: &RunRecords) -> Vec<(f64, bool)> {
    let min_px = records.runs.first().map_or(1, |r| r.min_visible_px);
    let classes = class_by_incident(records);
    let positive: BTreeSet<(u64, u16)> = records
        .incident_frames
        .iter()
        .filter(|f| f.visible_px >= min_px && classes.get(&f.incident) == Some(&EventClass::Incident))
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

/// What a set of alerts did, frame by frame (see the module's criteria).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertOutcome {
    /// Per alert, in the order given: the real incidents it detected in some frame.
    pub detected: Vec<Vec<u32>>,
    /// Per alert: the protected activities it flagged in some frame.
    pub flagged: Vec<Vec<u32>>,
    /// Per alert: the out-of-scope events it covered in some frame (it is disproportionate).
    pub disproportionate: Vec<Vec<u32>>,
    /// Events detected (incidents) or flagged (protected activities) by the β criterion, with
    /// the seconds from their start to the first such alert being raised (0 when it was
    /// already raised).
    pub hits: BTreeMap<u32, f64>,
    /// Frames under an open alert ÷ all frames.
    pub alert_time_share: f64,
}

/// Scores `alerts` with their `regions` against the staged events, by the run's α and β.
pub fn evaluate_alerts(records: &RunRecords, alerts: &[AlertRecord], regions: &[AlertRegionRecord]) -> AlertOutcome {
    let none = || AlertOutcome { detected: vec![Vec::new(); alerts.len()], flagged: vec![Vec::new(); alerts.len()], disproportionate: vec![Vec::new(); alerts.len()], ..Default::default() };
    let Some(run) = records.runs.first() else { return none() };
    let (tick_hz, min_px, alpha, beta) = (run.tick_hz.max(1) as f64, run.min_visible_px, run.region_iou, run.track_share);
    let classes = class_by_incident(records);
    let position: BTreeMap<u32, usize> = alerts.iter().enumerate().map(|(i, a)| (a.alert, i)).collect();
    let mut by_frame: BTreeMap<(u64, u16), Vec<(usize, [f64; 4])>> = BTreeMap::new();
    for region in regions {
        if let Some(&i) = position.get(&region.alert) {
            by_frame.entry((region.tick, region.camera)).or_default().push((i, region.bbox()));
        }
    }
    let mut detected: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); alerts.len()];
    let mut flagged: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); alerts.len()];
    let mut disproportionate: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); alerts.len()];
    // Per (event, camera): visible frames, frames hit.
    let mut tracks: BTreeMap<(u32, u16), (usize, usize)> = BTreeMap::new();
    for frame in records.incident_frames.iter().filter(|f| f.visible_px >= min_px) {
        let Some(b) = frame.visible_box() else { continue };
        let b = b.map(|v| v as f64);
        let class = classes.get(&frame.incident).copied().unwrap_or(EventClass::Protected);
        let mut hit = false;
        for &(i, region) in by_frame.get(&(frame.tick, frame.camera)).into_iter().flatten() {
            // An incident must be found (IoU ≥ α); any other event is hit once a region covers it.
            let matches = if class == EventClass::Incident { iou(region, b) >= alpha } else { intersection(region, b) >= 0.5 * area(b) };
            if matches {
                hit = true;
                match class {
                    EventClass::Incident => &mut detected[i],
                    EventClass::Protected => &mut flagged[i],
                    EventClass::OutOfScope => &mut disproportionate[i],
                }
                .insert(frame.incident);
            }
        }
        let track = tracks.entry((frame.incident, frame.camera)).or_default();
        track.0 += 1;
        track.1 += usize::from(hit);
    }
    let mut hits = BTreeMap::new();
    for (&(event, _), &(visible, hit)) in &tracks {
        if hit >= crate::regions::needed(visible, beta) {
            let start = records.incidents.iter().find(|i| i.incident == event).map_or(0.0, |i| i.start_tick as f64 / tick_hz);
            let class = classes.get(&event).copied().unwrap_or(EventClass::Protected);
            let first = alerts
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    match class {
                        EventClass::Incident => &detected[*i],
                        EventClass::Protected => &flagged[*i],
                        EventClass::OutOfScope => &disproportionate[*i],
                    }
                    .contains(&event)
                })
                .map(|(_, a)| (a.raised_s - start).max(0.0))
                .fold(f64::INFINITY, f64::min);
            hits.insert(event, first);
        }
    }
    AlertOutcome {
        detected: detected.into_iter().map(|s| s.into_iter().collect()).collect(),
        flagged: flagged.into_iter().map(|s| s.into_iter().collect()).collect(),
        disproportionate: disproportionate.into_iter().map(|s| s.into_iter().collect()).collect(),
        hits,
        alert_time_share: alert_time_share(records, alerts),
    }
}

/// Share of the run's frames (camera-time) that lie inside an open alert of their camera.
pub fn alert_time_share(records: &RunRecords, alerts: &[AlertRecord]) -> f64 {
    let under = records.frames.iter().filter(|f| alerts.iter().any(|a| a.covers(f.camera, f.tick))).count();
    if records.frames.is_empty() { 0.0 } else { under as f64 / records.frames.len() as f64 }
}

/// Fills each alert's detected incidents, flagged activities and false-alert flag, and each
/// incident's detection and time to alert, from the run's `alert_regions` ([`evaluate_alerts`]).
pub fn apply_outcome(records: &mut RunRecords) {
    let outcome = evaluate_alerts(records, &records.alerts, &records.alert_regions);
    for (alert, ((detected, flagged), disproportionate)) in records.alerts.iter_mut().zip(outcome.detected.into_iter().zip(outcome.flagged).zip(outcome.disproportionate)) {
        alert.false_alert = detected.is_empty();
        alert.detected_incidents = detected;
        alert.flagged_activities = flagged;
        alert.disproportionate_events = disproportionate;
    }
    for incident in &mut records.incidents {
        incident.time_to_alert_s = outcome.hits.get(&incident.incident).copied();
        incident.detected = incident.time_to_alert_s.is_some();
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

/// The anomaly metrics of a run whose alerts are scored ([`apply_outcome`]).
pub fn anomaly_metrics(records: &RunRecords) -> AnomalyMetrics {
    let labelled = labelled_frames(records);
    let visible = visible_incidents(records);
    let of = |class: EventClass| -> Vec<_> { records.incidents.iter().filter(|i| i.class() == class && visible.contains(&i.incident)).collect() };
    let (real, guarded, out_of_scope) = (of(EventClass::Incident), of(EventClass::Protected), of(EventClass::OutOfScope));
    let detected = real.iter().filter(|i| i.detected).count();
    let times: Vec<f64> = real.iter().filter_map(|i| i.time_to_alert_s).collect();
    let hours = camera_hours(records);
    let false_alerts = records.alerts.iter().filter(|a| a.false_alert).count();
    let (alpha, beta) = records.runs.first().map_or((0.1, 0.1), |r| (r.region_iou, r.track_share));
    let mut by_kind: BTreeMap<(EventClass, &str), KindOutcome> = BTreeMap::new();
    for incident in records.incidents.iter().filter(|i| visible.contains(&i.incident)) {
        let outcome = by_kind.entry((incident.class(), &incident.kind)).or_insert_with(|| KindOutcome {
            kind: incident.kind.clone(),
            protected: incident.protected,
            class: incident.class().name(),
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
        alert_time_share: alert_time_share(records, &records.alerts),
        camera_hours: hours,
        false_alerts_per_hour: (hours > 0.0).then(|| false_alerts as f64 / hours),
        incidents_visible: real.len(),
        incidents_detected: detected,
        incident_recall: (!real.is_empty()).then(|| detected as f64 / real.len() as f64),
        mean_time_to_alert_s: (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64),
        protected_visible: guarded.len(),
        protected_flagged: guarded.iter().filter(|i| i.detected).count(),
        protected_flag_rate: (!guarded.is_empty()).then(|| guarded.iter().filter(|i| i.detected).count() as f64 / guarded.len() as f64),
        out_of_scope_visible: out_of_scope.len(),
        out_of_scope_alerted: out_of_scope.iter().filter(|i| i.detected).count(),
        disproportionate_alerts: records.alerts.iter().filter(|a| !a.disproportionate_events.is_empty()).count(),
        by_kind: by_kind.into_values().collect(),
        detection: detection_curves(records, alpha, beta),
    }
}

/// The alerting rule's outcome when `alerts` (with their `regions`) are what it raised at
/// `threshold`: scored exactly as the run's own alerts are ([`apply_outcome`] and
/// [`anomaly_metrics`] give the same counts), without copying the run's tables.
pub fn operating_point(records: &RunRecords, alerts: &[AlertRecord], regions: &[AlertRegionRecord], threshold: f64, chosen: bool) -> crate::records::OperatingPointRecord {
    let outcome = evaluate_alerts(records, alerts, regions);
    let false_alerts = outcome.detected.iter().filter(|d| d.is_empty()).count();
    let visible = visible_incidents(records);
    let share_hit = |class: EventClass| {
        let events: Vec<u32> = records.incidents.iter().filter(|i| i.class() == class && visible.contains(&i.incident)).map(|i| i.incident).collect();
        (!events.is_empty()).then(|| events.iter().filter(|i| outcome.hits.contains_key(i)).count() as f64 / events.len() as f64)
    };
    let hours = camera_hours(records);
    crate::records::OperatingPointRecord {
        threshold,
        alerts: alerts.len() as u32,
        false_alerts: false_alerts as u32,
        false_alerts_per_hour: if hours > 0.0 { false_alerts as f64 / hours } else { 0.0 },
        incident_recall: share_hit(EventClass::Incident),
        protected_flag_rate: share_hit(EventClass::Protected),
        alert_time_share: outcome.alert_time_share,
        chosen,
    }
}

/// Each staged event's class under the run's profile (callers count an event missing from
/// `incidents` as protected: it is never ground truth for detection).
pub(crate) fn class_by_incident(records: &RunRecords) -> BTreeMap<u32, EventClass> {
    records.incidents.iter().map(|i| (i.incident, i.class())).collect()
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
            let alert_frames = frames.iter().filter(|f| alerts.iter().any(|a| a.covers(f.camera, f.tick))).count();
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
        records.runs.push(RunRecord { min_visible_px: 20, ..test_run() });
        for (id, protected, start, end) in incidents {
            records.incidents.push(test_incident(id, if protected { "hug" } else { "fight" }, protected, (start, end), vec![]));
        }
        for (tick, incident, b) in frames {
            records.incident_frames.push(IncidentFrameRecord::new(tick, 0, incident, 100, 100, Some(b)));
        }
        records
    }

    fn camera() -> CameraRecord {
        test_camera()
    }

    fn alert(start_s: f64, end_s: f64, roi: [f64; 4]) -> AlertRecord {
        test_alert(start_s, end_s, roi)
    }

    /// Frames every 2 ticks (5 fps) on camera 0 from tick 0 to 198, each with a 16×9 grid
    /// (40 px cells on 640×360) scoring `cells` high and every other cell 0.
    fn with_grid(records: &mut RunRecords, cells: &[usize]) {
        records.cameras = vec![camera()];
        records.frames = (0..100).map(|i| FrameRecord { tick: i * 2, camera: 0, time_s: i as f64 * 0.2, persons_visible: 0, detections: 0, refined: 0, masked_px: 0, false_mask_px: 0, frame_px: 640 * 360, plate_px: 0, plate_exposed_px: 0, screen_px: 0, screen_exposed_px: 0, ad_score: 0.9 }).collect();
        records.region_scores = (0..100)
            .map(|i| {
                let scores = (0..144).map(|c| if cells.contains(&c) { 0.9 } else { 0.0 }).collect();
                RegionScoresRecord { tick: i * 2, camera: 0, columns: 16, rows: 9, scores }
            })
            .collect();
    }

    /// An event's box on every frame of `ticks`.
    fn seen(id: u32, ticks: std::ops::Range<u64>, b: [u32; 4]) -> Vec<(u64, u32, [u32; 4])> {
        ticks.step_by(2).map(|t| (t, id, b)).collect()
    }

    /// Scores `alerts` as a run does: their regions at the rule's threshold, then the outcome.
    fn score(records: &mut RunRecords, alerts: Vec<AlertRecord>) {
        records.alerts = alerts.into_iter().enumerate().map(|(i, a)| AlertRecord { alert: i as u32, ..a }).collect();
        records.alert_regions = crate::regions::alert_regions(records, &records.alerts, 0.5);
        apply_outcome(records);
    }

    /// Cells of a box of 40 px cells (16 columns).
    fn cells(c0: usize, r0: usize, c1: usize, r1: usize) -> Vec<usize> {
        (r0..=r1).flat_map(|r| (c0..=c1).map(move |c| r * 16 + c)).collect()
    }

    #[test]
    fn an_always_on_whole_frame_alert_detects_nothing_and_flags_what_it_covers() {
        // A fight in an 80×120 box and a prayer in a 120×80 box, both 5–10 s; the model scores
        // every cell high for the whole run: one alert, its region the whole frame.
        let mut records = run_with(vec![(0, false, 50, 100), (1, true, 50, 100)], [seen(0, 50..100, [40, 80, 120, 200]), seen(1, 50..100, [400, 200, 520, 280])].concat());
        with_grid(&mut records, &(0..144).collect::<Vec<_>>());
        score(&mut records, vec![alert(0.0, 19.8, [0.0, 0.0, 640.0, 360.0])]);
        assert_eq!(records.alert_regions.len(), 100, "one region, the whole frame, in each of its 100 frames");
        let a = &records.alerts[0];
        assert!(a.false_alert && a.detected_incidents.is_empty(), "IoU of the fight with the frame is 0.04 < α: {a:?}");
        assert_eq!(a.flagged_activities, vec![1], "the whole frame covers the prayer");
        assert!(!records.incidents[0].detected && records.incidents[1].detected);
        let metrics = anomaly_metrics(&records);
        assert_eq!((metrics.incident_recall, metrics.protected_flag_rate, metrics.false_alerts), (Some(0.0), Some(1.0), 1));
        assert!((metrics.alert_time_share - 1.0).abs() < 1e-12, "open on every frame");
    }

    #[test]
    fn one_alert_over_two_incidents_detects_both_and_a_prayer_beside_a_fight_is_flagged() {
        // Two fights (0, 1) and a prayer (2), each in view 5–10 s; the model lights each one's cells.
        let boxes = [[40, 80, 120, 200], [400, 40, 480, 160], [200, 200, 320, 280]];
        let frames = [seen(0, 50..100, boxes[0]), seen(1, 50..100, boxes[1]), seen(2, 50..100, boxes[2])].concat();
        let mut records = run_with(vec![(0, false, 50, 100), (1, false, 50, 100), (2, true, 50, 100)], frames);
        with_grid(&mut records, &[cells(1, 2, 2, 4), cells(10, 1, 11, 3), cells(5, 5, 7, 6)].concat());
        score(&mut records, vec![alert(4.0, 12.0, [0.0, 0.0, 640.0, 360.0])]);
        let a = &records.alerts[0];
        assert_eq!((a.detected_incidents.clone(), a.flagged_activities.clone(), a.false_alert), (vec![0, 1], vec![2], false), "{a:?}");
        assert!(records.incidents.iter().all(|i| i.detected), "both fights detected and the prayer flagged");
        assert_eq!(records.incidents[0].time_to_alert_s, Some(0.0), "raised at 5 s, when the fight began");
        let metrics = anomaly_metrics(&records);
        assert_eq!((metrics.incident_recall, metrics.protected_flag_rate, metrics.false_alerts), (Some(1.0), Some(1.0), 0));
    }

    #[test]
    fn a_track_needs_beta_of_its_visible_frames() {
        // A fight visible 5–10 s (25 frames); an alert covering only its first 2 frames: 2/25 < 0.1.
        let mut records = run_with(vec![(0, false, 50, 100)], seen(0, 50..100, [40, 80, 120, 200]));
        with_grid(&mut records, &cells(1, 2, 2, 4));
        score(&mut records, vec![alert(5.0, 5.2, [0.0, 0.0, 640.0, 360.0])]);
        assert_eq!(records.alerts[0].detected_incidents, vec![0], "its frames detect the fight…");
        assert!(!records.incidents[0].detected, "…but 2 of 25 frames are under β = 0.1");
        score(&mut records, vec![alert(5.0, 5.4, [0.0, 0.0, 640.0, 360.0])]);
        assert!(records.incidents[0].detected, "3 of 25 frames reach it");
    }

    #[test]
    fn an_operating_point_counts_what_scoring_the_run_itself_counts() {
        let frames = [seen(0, 50..100, [40, 80, 120, 200]), seen(1, 50..100, [400, 200, 520, 280]), seen(2, 150..190, [40, 80, 120, 200])].concat();
        let mut records = run_with(vec![(0, false, 50, 100), (1, true, 50, 100), (2, false, 150, 190)], frames);
        with_grid(&mut records, &[cells(1, 2, 2, 4), cells(10, 5, 12, 6)].concat());
        let alerts = vec![alert(6.0, 8.0, [0.0; 4]), alert(1.0, 2.0, [0.0; 4])];
        let alerts: Vec<AlertRecord> = alerts.into_iter().enumerate().map(|(i, a)| AlertRecord { alert: i as u32, ..a }).collect();
        let regions = crate::regions::alert_regions(&records, &alerts, 0.5);
        let point = operating_point(&records, &alerts, &regions, 0.5, true);
        score(&mut records, alerts);
        let metrics = anomaly_metrics(&records);
        assert_eq!((point.alerts as usize, point.false_alerts as usize), (metrics.alerts, metrics.false_alerts));
        assert_eq!((point.incident_recall, point.protected_flag_rate), (metrics.incident_recall, metrics.protected_flag_rate));
        assert_eq!(Some(point.false_alerts_per_hour), metrics.false_alerts_per_hour);
        assert_eq!((point.incident_recall, point.protected_flag_rate, point.false_alerts), (Some(0.5), Some(1.0), 1));
        assert!((point.alert_time_share - metrics.alert_time_share).abs() < 1e-12);
    }
}
