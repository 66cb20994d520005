//! Scores each masked frame against its ground truth and accumulates the run's records.

use crowdtwin_agents::incidents::IncidentPlan;
use crowdtwin_agents::population::PersonSpec;
use crowdtwin_core::frame::Frame;
use crowdtwin_core::ids::GroundTruthId;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_reports::images::ground_truth_overlay;
use crowdtwin_reports::privacy::{crop_features, CropSample};
use crowdtwin_reports::records::*;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_vision::alerts::Alert;
use crowdtwin_vision::anomaly::AnomalyOutput;
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
}

impl Recorder {
    /// A recorder for a run of `scenario` with these persons and run metadata.
    pub fn new(scenario: &Scenario, persons: &[PersonSpec], incidents: &[IncidentPlan], run: RunRecord) -> Self {
        let cameras = scenario
            .cameras
            .iter()
            .enumerate()
            .map(|(index, c)| CameraRecord {
                index: index as u16,
                id: c.id.clone(),
                position: [c.position.0 as f64, c.position.1 as f64, c.position.2 as f64],
                yaw_deg: c.yaw_deg as f64,
                pitch_deg: c.pitch_deg as f64,
                hfov_deg: c.hfov_deg as f64,
                sensor_resolution: c.sensor_resolution,
                render_resolution: c.render_resolution,
                fps: c.fps,
            })
            .collect();
        let persons = persons
            .iter()
            .map(|p| PersonRecord { person: p.id, demographics: p.demographics, height_m: p.height_m as f64 })
            .collect();
        // Three moments per camera for the contact sheet: at 20 %, 50 % and 80 % of the run.
        let total = scenario.total_ticks();
        let sheet_ticks = [0.2, 0.5, 0.8].iter().map(|f| (total as f64 * f) as u64).collect();
        let incidents = incidents
            .iter()
            .map(|plan| IncidentRecord {
                incident: plan.index,
                kind: plan.kind.name().to_string(),
                protected: plan.protected,
                start_tick: plan.start_tick,
                end_tick: plan.end_tick,
                persons: plan.participants.clone(),
                objects: plan.objects.clone(),
                centre: [plan.centre.x as f64, plan.centre.y as f64],
                intensity: plan.intensity as f64,
                detected: false,
                time_to_alert_s: None,
            })
            .collect();
        Recorder {
            records: RunRecords { runs: vec![run], cameras, persons, incidents, ..Default::default() },
            sheets: BTreeMap::new(),
            sheet_ticks,
            raw_sheets: scenario.evaluation.raw_contact_sheets,
            history: BTreeMap::new(),
            alerts: Vec::new(),
            alert_views: Vec::new(),
            privacy_samples: Vec::new(),
            render_per_sensor: scenario.cameras.iter().map(|c| c.render_resolution.0 as f32 / c.sensor_resolution.0 as f32).collect(),
            privacy_masks: scenario
                .cameras
                .iter()
                .map(|c| c.privacy_masks.iter().map(|&r| crowdtwin_sim::privacy_mask_px(r, c.render_resolution.0, c.render_resolution.1)).collect())
                .collect(),
        }
    }

    /// Keeps alerts as they close, with the operator's view of the first few.
    pub fn record_alerts(&mut self, closed: Vec<(Alert, Option<RgbaImage>)>) {
        for (alert, view) in closed {
            if let Some(view) = view.filter(|_| self.alert_views.len() < ALERT_VIEWS) {
                self.alert_views.push((alert.clone(), view));
            }
            self.alerts.push(alert);
        }
    }

    /// Scores one masked and anomaly-scored frame against its ground truth.
    pub fn record(&mut self, frame: &Frame, masked: &MaskOutput, anomaly: &AnomalyOutput, simulate_ms: f64) {
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
            let painted = painted || (!privacy_masks.is_empty() && {
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
        for person in frame.persons.iter().filter(|p| p.visible_px >= PRIVACY_MIN_VISIBLE_PX) {
            let Some(&bbox) = person_boxes.get(&person.person) else { continue };
            let pixels_per_metre = person.pixels_per_metre * render_per_sensor;
            self.privacy_samples.push(CropSample {
                person: person.person,
                camera,
                tick,
                unmasked: crop_features(&frame.rgba, bbox, pixels_per_metre),
                masked: crop_features(&masked.masked, bbox, pixels_per_metre),
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
        self.history.entry(camera).or_default().push((tick, frame.time_s, (frame.rgba.width, frame.rgba.height), anomaly.clone()));
        for incident in &frame.incidents {
            self.records.incident_frames.push(IncidentFrameRecord {
                tick,
                camera,
                incident: incident.incident,
                visible_px: incident.visible_px,
                unoccluded_px: incident.unoccluded_px,
                visible_box: incident.visible_box,
            });
        }
        let rows = self.sheets.entry(camera).or_default();
        if rows.len() < self.sheet_ticks.len() && tick >= self.sheet_ticks[rows.len()] {
            rows.push(if self.raw_sheets {
                vec![frame.rgba.clone(), ground_truth_overlay(&frame.rgba, &frame.id_mask), masked.masked.clone()]
            } else {
                vec![ground_truth_overlay(&masked.masked, &frame.id_mask), masked.masked.clone()]
            });
        }
        let record_ms = started.elapsed().as_secs_f64() * 1e3;
        self.records.timings.push(TimingRecord { tick, camera, simulate_ms, mask_ms: masked.latency_ms, ad_ms: anomaly.latency_ms, record_ms });
    }
}
