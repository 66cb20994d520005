//! Alerting: turns each camera's anomaly scores into alerts for a human operator, with a
//! threshold, hysteresis and a minimum duration, as the UNICRI analysis of the real system asks.
//!
//! An alert opens once the score has stayed at or above `threshold` for `min_duration_s`
//! (measured from the first to the latest frame above it), and closes on the first frame whose
//! score falls below `threshold × release_ratio`. Its wording is fixed and neutral: it never
//! names a crime.

use crate::anomaly::AnomalyOutput;
use crowdtwin_core::camera::CameraModel;
use std::collections::BTreeMap;

/// The only text an alert carries: neutral, no crime label.
pub const ALERT_TEXT: &str = "potential safety incident — review footage";

/// Alerting parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertRule {
    /// Score at or above which an alert may open.
    pub threshold: f32,
    /// An open alert closes below `threshold × release_ratio`.
    pub release_ratio: f32,
    /// How long the score must stay at or above the threshold before the alert is raised.
    pub min_duration_s: f64,
}

/// An alert as the operator receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Camera index.
    pub camera: u16,
    /// Tick of the first frame at or above the threshold.
    pub start_tick: u64,
    /// Time of that frame, seconds.
    pub start_s: f64,
    /// Time the alert was raised (minimum duration reached), seconds.
    pub raised_s: f64,
    /// Tick of the frame it was raised on: from there to `end_tick` it is open.
    pub raised_tick: u64,
    /// Tick of the frame that closed it (or the camera's last frame).
    pub end_tick: u64,
    /// Time of that frame, seconds.
    pub end_s: f64,
    /// Peak score while open, as 0–100 %.
    pub confidence_pct: f64,
    /// Region of interest `[x0, y0, x1, y1]` in frame pixels: the union of the regions at or
    /// above the threshold over the alert's frames.
    pub roi: [f32; 4],
    /// The neutral wording shown to the operator.
    pub text: &'static str,
}

impl Alert {
    /// Duration from first frame above threshold to the closing frame, seconds.
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }

    /// Where the alert is on the site map: the ground point (x, z) in metres under the bottom
    /// centre of its region of interest, seen by `camera` (its model at the frame's
    /// resolution); `None` when that point lies above the horizon.
    pub fn location(&self, camera: &CameraModel) -> Option<[f32; 2]> {
        camera.ground_point((self.roi[0] + self.roi[2]) * 0.5, self.roi[3])
    }
}

#[derive(Clone, Debug)]
struct Candidate {
    alert: Alert,
    raised: bool,
}

/// One alert state machine per camera.
#[derive(Clone, Debug)]
pub struct Alerter {
    rule: AlertRule,
    frame_size: BTreeMap<u16, (u32, u32)>,
    open: BTreeMap<u16, Candidate>,
    last: BTreeMap<u16, (u64, f64)>,
}

impl Alerter {
    /// An alerter applying `rule` to every camera.
    pub fn new(rule: AlertRule) -> Self {
        Self { rule, frame_size: BTreeMap::new(), open: BTreeMap::new(), last: BTreeMap::new() }
    }

    /// Feeds camera `camera`'s score for the frame at (`tick`, `time_s`) of `frame_size`
    /// pixels; returns the alert it closes, if any.
    pub fn push(&mut self, camera: u16, tick: u64, time_s: f64, frame_size: (u32, u32), output: &AnomalyOutput) -> Option<Alert> {
        let rule = self.rule;
        self.frame_size.insert(camera, frame_size);
        self.last.insert(camera, (tick, time_s));
        let roi = output.region_of_interest(rule.threshold, frame_size);
        match self.open.get_mut(&camera) {
            None => {
                if output.score >= rule.threshold {
                    let alert = Alert {
                        camera,
                        start_tick: tick,
                        start_s: time_s,
                        raised_s: time_s,
                        raised_tick: tick,
                        end_tick: tick,
                        end_s: time_s,
                        confidence_pct: output.score as f64 * 100.0,
                        roi: roi.unwrap_or([0.0, 0.0, frame_size.0 as f32, frame_size.1 as f32]),
                        text: ALERT_TEXT,
                    };
                    let raised = rule.min_duration_s <= 0.0;
                    self.open.insert(camera, Candidate { alert, raised });
                }
                None
            }
            Some(candidate) if !candidate.raised => {
                if output.score >= rule.threshold {
                    grow(&mut candidate.alert, tick, time_s, output.score, roi);
                    if time_s - candidate.alert.start_s >= rule.min_duration_s - 1e-9 {
                        candidate.raised = true;
                        candidate.alert.raised_s = time_s;
                        candidate.alert.raised_tick = tick;
                    }
                } else {
                    // Too short: a blip, not an alert.
                    self.open.remove(&camera);
                }
                None
            }
            Some(candidate) => {
                if output.score < rule.threshold * rule.release_ratio {
                    let mut alert = self.open.remove(&camera).expect("present").alert;
                    alert.end_tick = tick;
                    alert.end_s = time_s;
                    return Some(alert);
                }
                grow(&mut candidate.alert, tick, time_s, output.score, roi);
                None
            }
        }
    }

    /// Whether camera `camera` has an alert raised and not yet closed.
    pub fn is_open(&self, camera: u16) -> bool {
        self.open.get(&camera).is_some_and(|c| c.raised)
    }

    /// Closes what is still open at the end of the run (at each camera's last frame); a
    /// candidate that never reached the minimum duration is dropped.
    pub fn finish(&mut self) -> Vec<Alert> {
        let open = std::mem::take(&mut self.open);
        open.into_values()
            .filter(|c| c.raised)
            .map(|c| {
                let mut alert = c.alert;
                if let Some(&(tick, time_s)) = self.last.get(&alert.camera) {
                    alert.end_tick = tick;
                    alert.end_s = time_s;
                }
                alert
            })
            .collect()
    }
}

fn grow(alert: &mut Alert, tick: u64, time_s: f64, score: f32, roi: Option<[f32; 4]>) {
    alert.end_tick = tick;
    alert.end_s = time_s;
    alert.confidence_pct = alert.confidence_pct.max(score as f64 * 100.0);
    if let Some(r) = roi {
        alert.roi = [alert.roi[0].min(r[0]), alert.roi[1].min(r[1]), alert.roi[2].max(r[2]), alert.roi[3].max(r[3])];
    }
}

/// Runs `rule` over whole score sequences (per camera, in tick order) and returns every alert,
/// ordered by camera then start: the same alerts the live alerter raises, for a threshold sweep.
pub fn alerts_over(rule: AlertRule, sequences: &BTreeMap<u16, Vec<(u64, f64, (u32, u32), AnomalyOutput)>>) -> Vec<Alert> {
    let mut alerter = Alerter::new(rule);
    let mut alerts = Vec::new();
    for (&camera, frames) in sequences {
        for (tick, time_s, size, output) in frames {
            alerts.extend(alerter.push(camera, *tick, *time_s, *size, output));
        }
    }
    alerts.extend(alerter.finish());
    alerts.sort_by(|a, b| (a.camera, a.start_tick).cmp(&(b.camera, b.start_tick)));
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(score: f32) -> AnomalyOutput {
        // A 2×1 grid: the left region carries the score, the right one stays low.
        AnomalyOutput { score, regions: vec![score, 0.05], grid: (2, 1), latency_ms: 0.0 }
    }

    fn run(rule: AlertRule, scores: &[f32]) -> Vec<Alert> {
        let frames = scores.iter().enumerate().map(|(i, &s)| (i as u64 * 2, i as f64 * 0.2, (100, 50), output(s))).collect();
        alerts_over(rule, &BTreeMap::from([(0u16, frames)]))
    }

    const RULE: AlertRule = AlertRule { threshold: 0.5, release_ratio: 0.8, min_duration_s: 0.4 };

    #[test]
    fn a_blip_shorter_than_the_minimum_duration_raises_nothing() {
        assert!(run(RULE, &[0.1, 0.9, 0.9, 0.1, 0.1]).is_empty());
    }

    #[test]
    fn hysteresis_keeps_an_alert_open_between_threshold_and_release() {
        // Above 0.5 for three frames (0.4 s), then 0.45 (above the 0.4 release), then 0.3 closes.
        let alerts = run(RULE, &[0.1, 0.6, 0.7, 0.9, 0.45, 0.3, 0.1]);
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!((alert.start_tick, alert.end_tick), (2, 10));
        assert!((alert.raised_s - 0.6).abs() < 1e-9 && (alert.duration_s() - 0.8).abs() < 1e-9);
        assert!((alert.confidence_pct - 90.0).abs() < 1e-4);
        assert_eq!(alert.roi, [0.0, 0.0, 50.0, 50.0], "only the left region was above threshold");
        assert_eq!(alert.text, ALERT_TEXT);
    }

    #[test]
    fn an_alert_still_open_at_the_end_closes_at_the_last_frame() {
        let alerts = run(RULE, &[0.9, 0.9, 0.9, 0.9]);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].end_tick, 6);
    }

    #[test]
    fn the_wording_names_no_crime() {
        for word in ["fight", "theft", "assault", "crime", "violence", "suspect", "criminal"] {
            assert!(!ALERT_TEXT.to_lowercase().contains(word), "{word}");
        }
    }
}
