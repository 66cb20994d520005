//! The rows a run accumulates, one struct per table of DESIGN.md. Each struct **is** its
//! table's row: its fields, in order, are the table's columns (serde names them), and
//! [`crate::tables`] writes and reads every table from them through one serde path. Columns a
//! reader may want but that follow from a row (fractions, durations, counts) are added by the
//! table's [`crate::tables::Table::derived`] when writing and never read back.

use crowdtwin_core::taxonomy::{AgeGroup, BodySize, ClothingColour, Demographics, GenderPresentation, HeadCovering, MobilityAid, SkinTone};
use serde::{Deserialize, Serialize};

/// One row of `runs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Scenario name.
    pub scenario: String,
    /// sha256 of the scenario file.
    pub scenario_sha256: String,
    /// Master seed.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Ticks per second.
    pub tick_hz: u32,
    /// Ticks simulated.
    pub ticks: u64,
    /// Masking model name.
    pub masking_model: String,
    /// sha256 of the masking model file.
    pub masking_model_sha256: String,
    /// Silhouette refinement model name (empty: boxes are painted).
    pub refine_model: String,
    /// sha256 of the refinement model file (empty when none).
    pub refine_model_sha256: String,
    /// crowdtwin version.
    pub crowdtwin_version: String,
    /// Deployment modality: `central`, `hybrid` or `edge`.
    pub modality: String,
    /// Retention mode (1–3).
    pub retention: u8,
    /// Bitrate model of the video streams, bits per pixel per frame at sensor resolution.
    pub bits_per_pixel: f64,
    /// Days raw footage is kept (retention mode 1 only).
    pub retention_raw_days: f64,
    /// Days masked footage is kept (modes 1 and 2).
    pub retention_masked_days: f64,
    /// Days alert records are kept (every mode).
    pub retention_alert_days: f64,
    /// Anomaly model name.
    pub anomaly_model: String,
    /// sha256 of the anomaly model file (a two-stage model: the extractor's and the head's, joined by `+`).
    pub anomaly_model_sha256: String,
    /// The profile that classed the events (what may be flagged).
    pub profile: String,
    /// sha256 of its file.
    pub profile_sha256: String,
    /// Alert threshold on the anomaly score.
    pub alert_threshold: f64,
    /// Hysteresis: an alert closes below threshold × this.
    pub alert_release_ratio: f64,
    /// Minimum duration before an alert is raised, seconds.
    pub alert_min_duration_s: f64,
    /// α of the detection criteria: least IoU of a region with an incident's box.
    pub region_iou: f64,
    /// β: least share of an incident's visible frames on a camera that must be detected.
    pub track_share: f64,
    /// Detector tiling, `COLSxROWS` (`1x1`: whole frame only), followed by ` + quarter turns`
    /// when the detector also looked at the frame turned each way (`masking.quarter_turns`).
    pub detector_tiles: String,
    /// Miss threshold on the exposed fraction.
    pub miss_threshold: f64,
    /// Person-frames with fewer visible pixels are not scored.
    pub min_visible_px: u32,
    /// Light of the scenario's hour: `day`, `twilight` or `night`.
    pub light: String,
    /// Weather: `clear`, `rain`, `fog` or `rain+fog`.
    pub weather: String,
    /// The place: an imported site's name, `template` for the procedural plaza.
    pub site: String,
    /// The map data's licence credit (e.g. "© OpenStreetMap contributors (ODbL 1.0)"); empty for the template.
    pub site_attribution: String,
    /// WGS84 latitude of the site's local origin, degrees north (none: not placed on Earth).
    pub origin_lat_deg: Option<f64>,
    /// WGS84 longitude of the site's local origin, degrees east.
    pub origin_lon_deg: Option<f64>,
}

impl RunRecord {
    /// Where the run's site lies on Earth, when it does.
    pub fn origin(&self) -> Option<crowdtwin_core::site::GeoOrigin> {
        Some(crowdtwin_core::site::GeoOrigin { lat_deg: self.origin_lat_deg?, lon_deg: self.origin_lon_deg? })
    }
}

/// One row of `cameras`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraRecord {
    /// Index in the scenario.
    #[serde(rename = "camera")]
    pub index: u16,
    /// Camera id.
    #[serde(rename = "camera_id")]
    pub id: String,
    /// Position east of the origin, metres.
    pub x_m: f64,
    /// Mounting height, metres.
    pub y_m: f64,
    /// Position south of the origin, metres.
    pub z_m: f64,
    /// Compass heading, degrees.
    pub yaw_deg: f64,
    /// Tilt below the horizon, degrees.
    pub pitch_deg: f64,
    /// Horizontal field of view, degrees.
    pub hfov_deg: f64,
    /// Sensor width, pixels.
    pub sensor_width: u32,
    /// Sensor height, pixels.
    pub sensor_height: u32,
    /// Width of the frames the pipeline sees, pixels.
    pub render_width: u32,
    /// Their height, pixels.
    pub render_height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl CameraRecord {
    /// (width, height) of the real camera's sensor.
    pub fn sensor_resolution(&self) -> (u32, u32) {
        (self.sensor_width, self.sensor_height)
    }
}

/// One row of `persons`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// Person id.
    pub person: u32,
    /// Monk skin tone, 1–10 (checked when read back).
    pub skin_tone: u8,
    /// Gender presentation.
    pub gender_presentation: GenderPresentation,
    /// Age group.
    pub age_group: AgeGroup,
    /// Mobility aid.
    pub mobility_aid: MobilityAid,
    /// Face or head covering.
    pub head_covering: HeadCovering,
    /// Body size.
    pub body_size: BodySize,
    /// Main clothing colour.
    pub clothing_colour: ClothingColour,
    /// Standing height, metres.
    pub height_m: f64,
}

impl PersonRecord {
    /// The row of a person with these attributes.
    pub fn new(person: u32, d: Demographics, height_m: f64) -> Self {
        PersonRecord {
            person,
            skin_tone: d.skin_tone.monk(),
            gender_presentation: d.gender_presentation,
            age_group: d.age_group,
            mobility_aid: d.mobility_aid,
            head_covering: d.head_covering,
            body_size: d.body_size,
            clothing_colour: d.clothing_colour,
            height_m,
        }
    }

    /// The person's attributes (`None` when the row's skin tone is not a Monk tone).
    pub fn demographics(&self) -> Option<Demographics> {
        Some(Demographics {
            skin_tone: SkinTone::try_from(self.skin_tone).ok()?,
            gender_presentation: self.gender_presentation,
            age_group: self.age_group,
            mobility_aid: self.mobility_aid,
            head_covering: self.head_covering,
            body_size: self.body_size,
            clothing_colour: self.clothing_colour,
        })
    }

    /// The person's value of a taxonomy attribute (`"skin_tone"` → `"8"`, `"age_group"` →
    /// `"child"` …), as [`Demographics::value_of`] names it; `None` for another name.
    pub fn value_of(&self, attribute: &str) -> Option<String> {
        self.demographics()?.value_of(attribute)
    }
}

/// One row of `observations`: a person in a frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservationRecord {
    /// Tick.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Person id.
    pub person: u32,
    /// Pixels of the person visible in the frame (id mask).
    pub visible_px: u32,
    /// Pixels the person would cover without occluders.
    pub unoccluded_px: u32,
    /// Height of the unoccluded silhouette within the frame, pixels.
    pub height_px: f64,
    /// Pixels per metre at the person, sensor resolution.
    pub pixels_per_metre: f64,
    /// Distance along the camera axis, metres.
    pub depth_m: f64,
    /// Visible person pixels the masker left unpainted.
    pub exposed_px: u32,
    /// Box of the person's visible pixels `[x0, y0, x1, y1)`, render pixels: left edge (none
    /// when nothing is visible).
    pub box_x0: Option<u32>,
    /// Top edge.
    pub box_y0: Option<u32>,
    /// Right edge (exclusive).
    pub box_x1: Option<u32>,
    /// Bottom edge (exclusive).
    pub box_y1: Option<u32>,
}

impl ObservationRecord {
    /// visible ÷ unoccluded pixels.
    pub fn visible_fraction(&self) -> f64 {
        if self.unoccluded_px == 0 { 0.0 } else { (self.visible_px as f64 / self.unoccluded_px as f64).min(1.0) }
    }

    /// exposed ÷ visible pixels (0 when nothing is visible).
    pub fn exposed_fraction(&self) -> f64 {
        if self.visible_px == 0 { 0.0 } else { self.exposed_px as f64 / self.visible_px as f64 }
    }

    /// Box of the visible pixels `[x0, y0, x1, y1)`.
    pub fn visible_box(&self) -> Option<[u32; 4]> {
        Some([self.box_x0?, self.box_y0?, self.box_x1?, self.box_y1?])
    }
}

/// One row of `frames`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// Tick.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Simulated time, seconds.
    pub time_s: f64,
    /// Persons with at least one visible pixel.
    pub persons_visible: u32,
    /// Detections kept by the masker.
    pub detections: u32,
    /// Person detections painted as refined silhouettes.
    pub refined: u32,
    /// Pixels painted by the masker.
    pub masked_px: u32,
    /// Painted pixels that show no person.
    pub false_mask_px: u32,
    /// Pixels in the frame.
    pub frame_px: u32,
    /// Pixels showing licence plates.
    pub plate_px: u32,
    /// Plate pixels left unmasked.
    pub plate_exposed_px: u32,
    /// Pixels showing lit device screens.
    pub screen_px: u32,
    /// Screen pixels left unmasked.
    pub screen_exposed_px: u32,
    /// The AD model's score of the clip (or, for a two-stage model, the newest snippet) ending with this frame, in [0, 1].
    pub ad_score: f64,
}

/// Wall-clock timings of one frame, kept apart from `frames` so the tables stay reproducible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingRecord {
    /// Tick.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Simulation + render + readback + ground truth of the tick, ms (shared by its frames).
    pub simulate_ms: f64,
    /// Masking (detection + painting), ms.
    pub mask_ms: f64,
    /// Anomaly scoring (pre-processing + inference) and alerting, ms.
    pub ad_ms: f64,
    /// Recording against the ground truth, ms.
    pub record_ms: f64,
}

/// One incident or protected activity as staged (exact ground truth).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// Index in the scenario's `incidents` list.
    pub incident: u32,
    /// Kind (`fight`, `hug`, …).
    pub kind: String,
    /// Whether it must not alert (its class under the run's profile is `protected`).
    pub protected: bool,
    /// Whether an alert on it is disproportionate (class `out_of_scope`): neither.
    pub out_of_scope: bool,
    /// First tick.
    pub start_tick: u64,
    /// First tick after it.
    pub end_tick: u64,
    /// Participants' ids.
    pub persons: Vec<u32>,
    /// Objects involved (object indices).
    #[serde(rename = "object_ids")]
    pub objects: Vec<u32>,
    /// Centre on the ground, east, metres.
    pub centre_x: f64,
    /// Centre on the ground, south, metres.
    pub centre_z: f64,
    /// Intensity drawn for the instance.
    pub intensity: f64,
    /// Whether the alerts detected it ([`crate::alerts`]'s criteria); for a protected activity,
    /// whether they flagged it — which they must not.
    pub detected: bool,
    /// Seconds from its start to the first alert that detected (or flagged) it being raised
    /// (0 when that alert was already raised when it began).
    pub time_to_alert_s: Option<f64>,
}

impl IncidentRecord {
    /// Its class under the run's profile.
    pub fn class(&self) -> crate::profile::EventClass {
        use crate::profile::EventClass;
        match (self.protected, self.out_of_scope) {
            (true, _) => EventClass::Protected,
            (false, true) => EventClass::OutOfScope,
            (false, false) => EventClass::Incident,
        }
    }
}

/// One row of `alerts`: an alert as raised, and what it detected or flagged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Alert number in the run (ordered by camera, then start).
    pub alert: u32,
    /// Camera index.
    pub camera: u16,
    /// Tick of the first frame at or above the threshold.
    pub start_tick: u64,
    /// Tick of the frame it was raised on (minimum duration reached): it is open from here.
    pub raised_tick: u64,
    /// Tick of the closing frame (the camera's last frame for an alert still open at the end).
    pub end_tick: u64,
    /// Time of the first frame at or above the threshold, seconds.
    pub start_s: f64,
    /// Time the operator was alerted (minimum duration reached), seconds.
    pub raised_s: f64,
    /// Time of the closing frame, seconds.
    pub end_s: f64,
    /// Peak score while open, 0–100 %.
    pub confidence_pct: f64,
    /// Region of interest, left edge, render pixels.
    pub roi_x0: f64,
    /// Top edge.
    pub roi_y0: f64,
    /// Right edge.
    pub roi_x1: f64,
    /// Bottom edge.
    pub roi_y1: f64,
    /// Ground position east (metres) of the ROI's bottom centre, when it lies below the horizon.
    pub site_x_m: Option<f64>,
    /// Ground position south, metres.
    pub site_z_m: Option<f64>,
    /// The ground position's WGS84 latitude, degrees (the alert's geolocation; none when the
    /// site has no origin or the region lies above the horizon).
    pub latitude_deg: Option<f64>,
    /// Its longitude, degrees east.
    pub longitude_deg: Option<f64>,
    /// The operator's text.
    pub text: String,
    /// Size of the alert's metadata record as the deployment stores and sends it, bytes.
    pub metadata_bytes: u32,
    /// The real incidents it detected: in some frame of the alert, one of its regions has an
    /// IoU of at least α with the incident's visible box.
    pub detected_incidents: Vec<u32>,
    /// The protected activities it flagged: in some frame, one of its regions covers at least
    /// half of the activity's visible box.
    pub flagged_activities: Vec<u32>,
    /// The out-of-scope events it covered (the flagging criterion): a disproportionate alert.
    pub disproportionate_events: Vec<u32>,
    /// True when none of its frames detects a real incident.
    pub false_alert: bool,
}

impl AlertRecord {
    /// Whether a frame of `camera` at `tick` lies inside the alert while it is open (from the
    /// frame it was raised on to the frame that closed it).
    pub fn covers(&self, camera: u16, tick: u64) -> bool {
        self.camera == camera && (self.raised_tick..=self.end_tick).contains(&tick)
    }

    /// Region of interest `[x0, y0, x1, y1]` in render pixels.
    pub fn roi(&self) -> [f64; 4] {
        [self.roi_x0, self.roi_y0, self.roi_x1, self.roi_y1]
    }

    /// Ground position (x, z) in metres, when below the horizon.
    pub fn location(&self) -> Option<[f64; 2]> {
        self.site_x_m.zip(self.site_z_m).map(|(x, z)| [x, z])
    }
}

/// One row of `operating_points`: the alerting rule replayed at one threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatingPointRecord {
    /// Threshold on the anomaly score.
    pub threshold: f64,
    /// Alerts raised.
    pub alerts: u32,
    /// Of which false.
    pub false_alerts: u32,
    /// False alerts per camera-hour.
    pub false_alerts_per_hour: f64,
    /// Incidents visible to some camera detected by the alerts ÷ all such incidents.
    pub incident_recall: Option<f64>,
    /// Protected activities visible to some camera flagged by the alerts ÷ all such activities.
    pub protected_flag_rate: Option<f64>,
    /// Share of camera-time (frames) under an open alert.
    pub alert_time_share: f64,
    /// Whether this is the run's own threshold.
    pub chosen: bool,
}

/// One row of `privacy`: an attacker's score on unmasked or masked crops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyRecord {
    /// `attribute_inference` or `reidentification`.
    pub attack: String,
    /// What is inferred: an attribute (`skin_tone_band`, `gender_presentation`, `age_group`) or `identity`.
    pub target: String,
    /// `unmasked` (raw frames) or `masked` (the frames the deployment shows and keeps).
    pub view: String,
    /// `accuracy`, `rank1` or `mAP`.
    pub metric: String,
    /// The attacker's score.
    pub value: f64,
    /// The same measure for an attacker without information.
    pub chance: f64,
    /// 95 % cluster-bootstrap interval over persons, low end.
    pub ci_low: Option<f64>,
    /// High end.
    pub ci_high: Option<f64>,
    /// Persons behind the score.
    pub persons: u32,
    /// Crops (attribute inference) or query tracklets (re-identification).
    pub samples: u32,
}

/// An incident under way in one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentFrameRecord {
    /// Tick of the frame.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Incident index.
    pub incident: u32,
    /// Visible pixels of its participants and objects.
    pub visible_px: u32,
    /// Pixels they would cover unoccluded.
    pub unoccluded_px: u32,
    /// Box of the visible pixels `[x0, y0, x1, y1)`: left edge (none when nothing is visible).
    pub box_x0: Option<u32>,
    /// Top edge.
    pub box_y0: Option<u32>,
    /// Right edge (exclusive).
    pub box_x1: Option<u32>,
    /// Bottom edge (exclusive).
    pub box_y1: Option<u32>,
}

impl IncidentFrameRecord {
    /// The row for an incident's visibility in one frame.
    pub fn new(tick: u64, camera: u16, incident: u32, visible_px: u32, unoccluded_px: u32, visible_box: Option<[u32; 4]>) -> Self {
        let corner = |k: usize| visible_box.map(|b| b[k]);
        IncidentFrameRecord { tick, camera, incident, visible_px, unoccluded_px, box_x0: corner(0), box_y0: corner(1), box_x1: corner(2), box_y1: corner(3) }
    }

    /// Box of the visible pixels `[x0, y0, x1, y1)`.
    pub fn visible_box(&self) -> Option<[u32; 4]> {
        Some([self.box_x0?, self.box_y0?, self.box_x1?, self.box_y1?])
    }

    /// visible ÷ unoccluded pixels.
    pub fn visible_fraction(&self) -> f64 {
        if self.unoccluded_px == 0 { 0.0 } else { (self.visible_px as f64 / self.unoccluded_px as f64).min(1.0) }
    }
}

/// One row of `region_scores`: the anomaly model's region grid on one frame (a model without
/// regions: one cell, the frame's score).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionScoresRecord {
    /// Tick.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Grid columns.
    pub columns: u32,
    /// Grid rows.
    pub rows: u32,
    /// Cell scores in [0, 1], row-major from the top left.
    pub scores: Vec<f64>,
}

/// One row of `alert_regions`: a region of an open alert in one of its frames — an
/// 8-connected group of grid cells at or above the alert threshold, as a box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRegionRecord {
    /// Alert number.
    pub alert: u32,
    /// Tick of the frame.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Region number within the frame.
    pub region: u32,
    /// Left edge, render pixels.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
    /// Its best cell's score.
    pub score: f64,
}

impl AlertRegionRecord {
    /// `[x0, y0, x1, y1)`.
    pub fn bbox(&self) -> [f64; 4] {
        [self.x0, self.y0, self.x1, self.y1]
    }
}

/// Everything one run recorded.
#[derive(Clone, Debug, Default)]
pub struct RunRecords {
    /// The run (one row).
    pub runs: Vec<RunRecord>,
    /// The cameras.
    pub cameras: Vec<CameraRecord>,
    /// The persons.
    pub persons: Vec<PersonRecord>,
    /// Person-frames.
    pub observations: Vec<ObservationRecord>,
    /// Frames.
    pub frames: Vec<FrameRecord>,
    /// Timings.
    pub timings: Vec<TimingRecord>,
    /// Staged incidents and protected activities.
    pub incidents: Vec<IncidentRecord>,
    /// Incidents under way, per frame.
    pub incident_frames: Vec<IncidentFrameRecord>,
    /// Alerts raised.
    pub alerts: Vec<AlertRecord>,
    /// The alerting rule replayed over a range of thresholds.
    pub operating_points: Vec<OperatingPointRecord>,
    /// Privacy leakage: the attackers' scores.
    pub privacy: Vec<PrivacyRecord>,
    /// The anomaly model's region grid on every frame.
    pub region_scores: Vec<RegionScoresRecord>,
    /// The regions of every open alert in each of its frames.
    pub alert_regions: Vec<AlertRegionRecord>,
}

/// The f64 a person means by an f32 from a scenario (0.2f32 → 0.2, not 0.20000000298…), so
/// that settings copied into records read back as written.
pub fn decimal(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(value as f64)
}

/// A run record for tests: 10 ticks per second, `min_visible_px` 1, α = β = 0.1.
#[cfg(test)]
pub(crate) fn test_run() -> RunRecord {
    RunRecord {
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
        retention_raw_days: 28.0,
        retention_masked_days: 30.0,
        retention_alert_days: 30.0,
        anomaly_model: String::new(),
        anomaly_model_sha256: String::new(),
        profile: "unicri".into(),
        profile_sha256: String::new(),
        alert_threshold: 0.5,
        alert_release_ratio: 0.8,
        alert_min_duration_s: 1.0,
        region_iou: 0.1,
        track_share: 0.1,
        detector_tiles: "1x1".into(),
        miss_threshold: 0.2,
        min_visible_px: 1,
        light: "day".into(),
        weather: "clear".into(),
        site: "template".into(),
        site_attribution: String::new(),
        origin_lat_deg: None,
        origin_lon_deg: None,
    }
}

/// Camera 0 (`c`) at 5 fps, 1920×1080 sensor rendered at 640×360.
#[cfg(test)]
pub(crate) fn test_camera() -> CameraRecord {
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

/// Event `incident` of `kind` from `start_tick` to the tick before `end_tick`, staged by
/// `persons`, neither detected nor out of scope.
#[cfg(test)]
pub(crate) fn test_incident(incident: u32, kind: &str, protected: bool, (start_tick, end_tick): (u64, u64), persons: Vec<u32>) -> IncidentRecord {
    IncidentRecord {
        incident,
        kind: kind.into(),
        protected,
        out_of_scope: false,
        start_tick,
        end_tick,
        persons,
        objects: vec![],
        centre_x: 0.0,
        centre_z: 0.0,
        intensity: 1.0,
        detected: false,
        time_to_alert_s: None,
    }
}

/// Alert 0 on camera 0 from `start_s` to `end_s` (10 ticks per second), 200 bytes of metadata.
#[cfg(test)]
pub(crate) fn test_alert(start_s: f64, end_s: f64, roi: [f64; 4]) -> AlertRecord {
    AlertRecord {
        alert: 0,
        camera: 0,
        start_tick: (start_s * 10.0) as u64,
        end_tick: (end_s * 10.0) as u64,
        start_s,
        raised_s: start_s,
        raised_tick: (start_s * 10.0) as u64,
        end_s,
        confidence_pct: 80.0,
        roi_x0: roi[0],
        roi_y0: roi[1],
        roi_x1: roi[2],
        roi_y1: roi[3],
        site_x_m: None,
        site_z_m: None,
        latitude_deg: None,
        longitude_deg: None,
        text: String::new(),
        metadata_bytes: 200,
        detected_incidents: vec![],
        flagged_activities: vec![],
        disproportionate_events: vec![],
        false_alert: false,
    }
}
