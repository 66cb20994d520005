//! Scores each masked frame against its ground truth and accumulates the run's records.

use crate::stages::{Scored, Stage, Staged, TickInfo};
use crowdtwin_core::frame::Frame;
use crowdtwin_core::ids::GroundTruthId;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_reports::images::ground_truth_overlay;
use crowdtwin_reports::regions::alert_regions;
use crowdtwin_reports::privacy::{attacked_attributes, crop_features, privacy_leakage, CropSample};
use crowdtwin_reports::profile::Profile;
use crowdtwin_reports::records::*;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_vision::alerts::{alerts_over, Alert, AlertRule};
use crowdtwin_vision::deployment::alert_metadata;
use crowdtwin_vision::anomaly::AnomalyOutput;
use crowdtwin_vision::attacker::AttributeAttacker;
use crowdtwin_vision::masking::MaskOutput;
use std::collections::BTreeMap;
use std::time::Instant;

/// Per camera, each frame's (tick, time, frame size, anomaly output): replayed by the
/// operating-point sweep.
pub type ScoreHistory = BTreeMap<u16, Vec<(u64, f64, (u32, u32), AnomalyOutput)>>;

/// At most this many alerts are shown as operator views in the report.
pub const ALERT_VIEWS: usize = 8;

/// A person needs this many visible pixels to be cropped for the privacy attackers.
pub const PRIVACY_MIN_VISIBLE_PX: u32 = 150;

/// Accumulates records and the frames kept for contact sheets.
pub struct Recorder {
    /// Everything recorded so far.
    pub records: RunRecords,
    /// Per camera: rows of (raw, ground-truth overlay, masked) for the contact sheet — without
    /// the raw column, and with the overlay on the masked frame, unless the scenario asks for
    /// raw contact sheets.
    pub sheets: BTreeMap<u16, Vec<Vec<RgbaImage>>>,
    sheet_ticks: Vec<u64>,
    raw_sheets: bool,
    /// Masking style `none` (evaluation only): nothing is painted, so nothing counts as masked,
    /// and no frame is kept for contact sheets or operator views — they would be raw frames.
    unmasked: bool,
    /// Every frame's anomaly output, for the operating-point sweep.
    pub history: ScoreHistory,
    /// Alerts as raised, in the order they closed.
    pub alerts: Vec<Alert>,
    /// The masked frame at each of the first alerts' peak score (the operator's view).
    pub alert_views: Vec<(Alert, RgbaImage)>,
    /// Per camera, render width ÷ sensor width.
    render_per_sensor: Vec<f32>,
    /// Per camera, its privacy masks in render pixels: blacked out in the camera, so never exposed.
    privacy_masks: Vec<Vec<[u32; 4]>>,
    /// Crop descriptors of persons, unmasked and masked, for the privacy attackers (kept in
    /// memory only: the run writes the attackers' scores, never the crops).
    pub privacy_samples: Vec<CropSample>,
    /// The trained attribute attacker, run on each crop as it is recorded (its inputs are too
    /// large to keep for every crop until the end).
    pub attacker: Option<AttributeAttacker>,
}

impl Recorder {
    /// A recorder for a run of `scenario` with these staged persons and incidents and run metadata.
    pub fn new(scenario: &Scenario, staged: Staged, run: RunRecord, attacker: Option<AttributeAttacker>) -> Self {
        let cameras = scenario
            .cameras
            .iter()
            .enumerate()
            .map(|(index, c)| CameraRecord {
                index: index as u16,
                id: c.id.clone(),
                x_m: c.position.0 as f64,
                y_m: c.position.1 as f64,
                z_m: c.position.2 as f64,
                yaw_deg: c.yaw_deg as f64,
                pitch_deg: c.pitch_deg as f64,
                hfov_deg: c.hfov_deg as f64,
                sensor_width: c.sensor_resolution.0,
                sensor_height: c.sensor_resolution.1,
                render_width: c.render_resolution.0,
                render_height: c.render_resolution.1,
                fps: c.fps,
            })
            .collect();
        // Three moments per camera for the contact sheet: at 20 %, 50 % and 80 % of the run.
        let total = scenario.total_ticks();
        let sheet_ticks = [0.2, 0.5, 0.8].iter().map(|f| (total as f64 * f) as u64).collect();
        let Staged { persons, incidents } = staged;
        Recorder {
            records: RunRecords { runs: vec![run], cameras, persons, incidents, ..Default::default() },
            sheets: BTreeMap::new(),
            sheet_ticks,
            raw_sheets: scenario.evaluation.raw_contact_sheets,
            unmasked: scenario.masking.style == crowdtwin_core::scenario::MaskStyle::None,
            history: BTreeMap::new(),
            alerts: Vec::new(),
            alert_views: Vec::new(),
            privacy_samples: Vec::new(),
            attacker,
            render_per_sensor: scenario.cameras.iter().map(|c| c.render_resolution.0 as f32 / c.sensor_resolution.0 as f32).collect(),
            privacy_masks: scenario
                .cameras
                .iter()
                .map(|c| c.privacy_masks.iter().map(|&r| crowdtwin_core::sensor::privacy_mask_px(r, c.render_resolution.0, c.render_resolution.1)).collect())
                .collect(),
        }
    }

    /// Keeps alerts as they close, with the operator's view of the first few.
    pub fn record_alerts(&mut self, closed: Vec<(Alert, Option<RgbaImage>)>) {
        for (alert, view) in closed {
            if let Some(view) = view.filter(|_| self.alert_views.len() < ALERT_VIEWS && !self.unmasked) {
                self.alert_views.push((alert.clone(), view));
            }
            self.alerts.push(alert);
        }
    }

    /// Scores one masked and anomaly-scored frame against its ground truth.
    ///
    /// # Errors
    /// The trained attacker's model fails.
    pub fn record(&mut self, frame: &Frame, masked: &MaskOutput, anomaly: &AnomalyOutput, simulate_ms: f64) -> anyhow::Result<()> {
        let started = Instant::now();
        let (tick, camera) = (frame.key.tick, frame.key.camera);
        let mut exposed: BTreeMap<u32, u32> = BTreeMap::new();
        let (mut masked_px, mut false_mask_px) = (0u32, 0u32);
        let (mut plate_px, mut plate_exposed_px) = (0u32, 0u32);
        let (mut screen_px, mut screen_exposed_px) = (0u32, 0u32);
        let mut person_boxes: BTreeMap<u32, [u32; 4]> = BTreeMap::new();
        let width = frame.id_mask.width.max(1);
        let privacy_masks = &self.privacy_masks[camera as usize];
        for (index, (&id, &painted)) in frame.id_mask.ids.iter().zip(&masked.mask).enumerate() {
            let truth = GroundTruthId::decode(id);
            let painted = (painted && !self.unmasked) || (!privacy_masks.is_empty() && {
                let (x, y) = (index as u32 % width, index as u32 / width);
                privacy_masks.iter().any(|r| x >= r[0] && x < r[2] && y >= r[1] && y < r[3])
            });
            if let GroundTruthId::Person(p) = truth {
                let (x, y) = (index as u32 % width, index as u32 / width);
                let b = person_boxes.entry(p).or_insert([x, y, x, y]);
                *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
            match truth {
                GroundTruthId::Plate(_) => {
                    plate_px += 1;
                    plate_exposed_px += u32::from(!painted);
                }
                GroundTruthId::Screen(_) => {
                    screen_px += 1;
                    screen_exposed_px += u32::from(!painted);
                }
                _ => {}
            }
            if painted {
                masked_px += 1;
                if !matches!(truth, GroundTruthId::Person(_) | GroundTruthId::Screen(_) | GroundTruthId::Plate(_)) {
                    false_mask_px += 1;
                }
            } else if let GroundTruthId::Person(p) = truth {
                *exposed.entry(p).or_default() += 1;
            }
        }
        // Pixels per metre at the render resolution, where the crop is measured (the ground
        // truth gives it at the sensor's).
        let render_per_sensor = self.render_per_sensor[camera as usize];
        let cropped: Vec<(u32, [u32; 4], f32)> = frame
            .persons
            .iter()
            .filter(|p| p.visible_px >= PRIVACY_MIN_VISIBLE_PX)
            .filter_map(|p| Some((p.person, *person_boxes.get(&p.person)?, p.pixels_per_metre * render_per_sensor)))
            .collect();
        let mut trained = match &mut self.attacker {
            Some(attacker) if !cropped.is_empty() => {
                let mut views = Vec::with_capacity(2);
                for image in [&frame.rgba, &masked.masked] {
                    let inputs: Vec<_> = cropped.iter().map(|&(_, bbox, ppm)| attacker.input(image, bbox, ppm)).collect();
                    views.push(attacker.predict(&inputs).map_err(|e| anyhow::anyhow!("the trained privacy attacker: {e}"))?);
                }
                let masked = views.pop().unwrap_or_default();
                views.pop().unwrap_or_default().into_iter().zip(masked).map(Some).collect()
            }
            _ => vec![None; cropped.len()],
        };
        for (&(person, bbox, pixels_per_metre), trained) in cropped.iter().zip(trained.drain(..)) {
            self.privacy_samples.push(CropSample {
                person,
                camera,
                tick,
                unmasked: crop_features(&frame.rgba, bbox, pixels_per_metre),
                masked: crop_features(&masked.masked, bbox, pixels_per_metre),
                trained,
            });
        }
        for person in &frame.persons {
            self.records.observations.push(ObservationRecord {
                tick,
                camera,
                person: person.person,
                visible_px: person.visible_px,
                unoccluded_px: person.unoccluded_px,
                height_px: person.height_px as f64,
                pixels_per_metre: person.pixels_per_metre as f64,
                depth_m: person.depth_m as f64,
                exposed_px: exposed.get(&person.person).copied().unwrap_or(0),
                box_x0: person_boxes.get(&person.person).map(|b| b[0]),
                box_y0: person_boxes.get(&person.person).map(|b| b[1]),
                box_x1: person_boxes.get(&person.person).map(|b| b[2] + 1),
                box_y1: person_boxes.get(&person.person).map(|b| b[3] + 1),
            });
        }
        self.records.frames.push(FrameRecord {
            tick,
            camera,
            time_s: frame.time_s,
            persons_visible: frame.persons.iter().filter(|p| p.visible_px > 0).count() as u32,
            detections: masked.detections.len() as u32,
            refined: masked.refined,
            masked_px,
            false_mask_px,
            frame_px: frame.rgba.width * frame.rgba.height,
            plate_px,
            plate_exposed_px,
            screen_px,
            screen_exposed_px,
            ad_score: anomaly.score as f64,
        });
        // A model without regions scores the whole frame: one cell.
        let (columns, rows, scores) = if anomaly.regions.is_empty() {
            (1, 1, vec![anomaly.score as f64])
        } else {
            (anomaly.grid.0 as u32, anomaly.grid.1 as u32, anomaly.regions.iter().map(|&s| s as f64).collect())
        };
        self.records.region_scores.push(RegionScoresRecord { tick, camera, columns, rows, scores });
        self.history.entry(camera).or_default().push((tick, frame.time_s, (frame.rgba.width, frame.rgba.height), anomaly.clone()));
        for incident in &frame.incidents {
            self.records.incident_frames.push(IncidentFrameRecord::new(tick, camera, incident.incident, incident.visible_px, incident.unoccluded_px, incident.visible_box));
        }
        if !self.unmasked {
            let rows = self.sheets.entry(camera).or_default();
            if rows.len() < self.sheet_ticks.len() && tick >= self.sheet_ticks[rows.len()] {
                rows.push(if self.raw_sheets {
                    vec![frame.rgba.clone(), ground_truth_overlay(&frame.rgba, &frame.id_mask), masked.masked.clone()]
                } else {
                    vec![ground_truth_overlay(&masked.masked, &frame.id_mask), masked.masked.clone()]
                });
            }
        }
        let record_ms = started.elapsed().as_secs_f64() * 1e3;
        self.records.timings.push(TimingRecord { tick, camera, simulate_ms, mask_ms: masked.latency_ms, ad_ms: anomaly.latency_ms, record_ms });
        Ok(())
    }
}

impl Stage for Recorder {
    type Input = Scored;
    type Output = ();
    const NAME: &'static str = "recording";

    fn process(&mut self, tick: TickInfo, scored: Scored) -> anyhow::Result<()> {
        self.record(&scored.frame, &scored.mask, &scored.anomaly, tick.source_ms)?; // score against ground truth
        self.record_alerts(scored.closed);
        Ok(())
    }
}

/// The grid of thresholds the operating-point sweep replays.
pub const SWEEP_THRESHOLDS: [f32; 19] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

impl Recorder {
    /// After the last frame: turns the raised alerts into records, finds each one's regions in
    /// each of its frames and scores them against the staged events as `profile` classes them; replays the alerting
    /// `rule` over the sweep's thresholds on the recorded scores and scores those alerts the
    /// same way; and runs the privacy attackers on the crops kept in memory.
    pub fn score(&mut self, scenario: &Scenario, rule: AlertRule, profile: &Profile) {
        let cameras = crowdtwin_core::camera::render_models(scenario);
        let origin = self.records.runs.first().and_then(|r| r.origin());
        let to_records = |alerts: &[Alert]| -> Vec<AlertRecord> {
            let mut sorted = alerts.to_vec();
            sorted.sort_by_key(|a| (a.camera, a.start_tick));
            sorted
                .iter()
                .enumerate()
                .map(|(index, alert)| {
                    let (id, model) = &cameras[alert.camera as usize];
                    let location = alert.location(model);
                    let geo = location.zip(origin).map(|([x, z], o)| o.to_wgs84(x as f64, z as f64));
                    AlertRecord {
                        alert: index as u32,
                        camera: alert.camera,
                        start_tick: alert.start_tick,
                        end_tick: alert.end_tick,
                        start_s: alert.start_s,
                        raised_s: alert.raised_s,
                        raised_tick: alert.raised_tick,
                        end_s: alert.end_s,
                        confidence_pct: alert.confidence_pct,
                        roi_x0: alert.roi[0] as f64,
                        roi_y0: alert.roi[1] as f64,
                        roi_x1: alert.roi[2] as f64,
                        roi_y1: alert.roi[3] as f64,
                        site_x_m: location.map(|l| l[0] as f64),
                        site_z_m: location.map(|l| l[1] as f64),
                        latitude_deg: geo.map(|g| g.0),
                        longitude_deg: geo.map(|g| g.1),
                        text: alert.text.to_string(),
                        metadata_bytes: alert_metadata(alert, id, location, origin).len() as u32 + 1,
                        detected_incidents: Vec::new(),
                        flagged_activities: Vec::new(), disproportionate_events: Vec::new(),
                        false_alert: true,
                    }
                })
                .collect()
        };
        self.records.alerts = to_records(&self.alerts);
        self.records.alert_regions = alert_regions(&self.records, &self.records.alerts, rule.threshold as f64);
        profile.apply(&mut self.records);
        self.records.operating_points = operating_points(&self.records, rule, &self.history);
        let attributes = attacked_attributes(&self.records.persons);
        let trained: Vec<(String, Vec<String>)> = self.attacker.as_ref().map_or_else(Vec::new, |a| a.heads().iter().map(|h| (h.attribute.clone(), h.classes.clone())).collect());
        self.records.privacy = privacy_leakage(&self.privacy_samples, &attributes, &trained, scenario.seed);
    }
}

/// The alerting `rule` replayed at each sweep threshold (and the rule's own) on the recorded
/// scores, each threshold's alerts scored against the staged events as the records class them
/// — exactly as the run's own alerts are scored.
pub fn operating_points(records: &RunRecords, rule: AlertRule, history: &ScoreHistory) -> Vec<OperatingPointRecord> {
    let mut thresholds: Vec<f32> = SWEEP_THRESHOLDS.to_vec();
    if !thresholds.iter().any(|t| (t - rule.threshold).abs() < 1e-6) {
        thresholds.push(rule.threshold);
        thresholds.sort_by(f32::total_cmp);
    }
    thresholds
        .iter()
        .map(|&threshold| {
            // Scoring needs only when each alert was open: no place, text or size.
            let replayed: Vec<AlertRecord> = alerts_over(AlertRule { threshold, ..rule }, history).iter().enumerate().map(|(i, a)| timing_record(i as u32, a)).collect();
            let regions = alert_regions(records, &replayed, threshold as f64);
            let chosen = (threshold - rule.threshold).abs() < 1e-6;
            crowdtwin_reports::alerts::operating_point(records, &replayed, &regions, decimal(threshold), chosen)
        })
        .collect()
}

/// An alert's record with its timing only (what scoring reads).
fn timing_record(index: u32, alert: &Alert) -> AlertRecord {
    AlertRecord {
        alert: index,
        camera: alert.camera,
        start_tick: alert.start_tick,
        raised_tick: alert.raised_tick,
        end_tick: alert.end_tick,
        start_s: alert.start_s,
        raised_s: alert.raised_s,
        end_s: alert.end_s,
        confidence_pct: alert.confidence_pct,
        roi_x0: 0.0,
        roi_y0: 0.0,
        roi_x1: 0.0,
        roi_y1: 0.0,
        site_x_m: None,
        site_z_m: None,
        latitude_deg: None,
        longitude_deg: None,
        text: String::new(),
        metadata_bytes: 0,
        detected_incidents: Vec::new(),
        flagged_activities: Vec::new(),
        disproportionate_events: Vec::new(),
        false_alert: true,
    }
}

/// The scores a run recorded, as the sweep replays them: per camera, each frame's tick, time,
/// render size and anomaly output, from the `frames`, `region_scores` and `cameras` tables
/// (what `crowdtwin report --profile` rescores a stored run with).
pub fn history_from_records(records: &RunRecords) -> ScoreHistory {
    let sizes: BTreeMap<u16, (u32, u32)> = records.cameras.iter().map(|c| (c.index, (c.render_width, c.render_height))).collect();
    let grids: BTreeMap<(u16, u64), &RegionScoresRecord> = records.region_scores.iter().map(|g| ((g.camera, g.tick), g)).collect();
    let mut history = ScoreHistory::new();
    for frame in &records.frames {
        let grid = grids.get(&(frame.camera, frame.tick));
        let output = AnomalyOutput {
            score: frame.ad_score as f32,
            regions: grid.map(|g| g.scores.iter().map(|&s| s as f32).collect()).unwrap_or_default(),
            grid: grid.map_or((0, 0), |g| (g.columns as usize, g.rows as usize)),
            latency_ms: 0.0,
        };
        let size = sizes.get(&frame.camera).copied().unwrap_or((1, 1));
        history.entry(frame.camera).or_default().push((frame.tick, frame.time_s, size, output));
    }
    for frames in history.values_mut() {
        frames.sort_by_key(|f| f.0);
    }
    history
}
