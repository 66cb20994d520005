//! Retention in time: what the deployment holds once it has run as long as its retention
//! periods, and how much raw footage that exposes — for the run's own modality and mode and for
//! every other pairing, so a board sees the choice it is making.
//!
//! The projection uses the bitrate model ([`crowdtwin_core::bandwidth`]): a frame costs sensor
//! pixels × bits per pixel ÷ 8; each camera records around the clock at its frame rate. The alert
//! record bytes per day and the share of frames inside alerts (the clips an edge camera sends)
//! are the run's own, scaled from the hours it observed. A stored kind's steady-state holding is
//! its bytes per day × its retention period; the raw-footage exposure is the camera-days of raw
//! video on disk at any time (cameras × raw retention days, mode 1 only).
//!
//! What each mode keeps follows the UNICRI analysis (mode 1: masked footage, and raw footage for
//! warrant access; mode 2: masked footage; mode 3: alert records only); the modality says where
//! raw footage would be kept (the server when it streams there, else the camera) and what crosses
//! the network.

use crate::alerts::bandwidth;
use crate::records::RunRecords;
use crowdtwin_core::bandwidth::frame_bytes;
use serde::Serialize;

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;

/// One modality × retention-mode pairing, projected over the run's retention periods. Bytes are
/// totals over the run's cameras.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetentionRow {
    /// `central`, `hybrid` or `edge`.
    pub modality: String,
    /// Retention mode 1–3.
    pub mode: u8,
    /// Whether this is the run's own deployment.
    pub this_run: bool,
    /// Raw footage held at steady state, bytes (mode 1: encrypted).
    pub raw_stored_bytes: f64,
    /// Masked footage held at steady state, bytes.
    pub masked_stored_bytes: f64,
    /// Alert records held at steady state, bytes.
    pub alert_stored_bytes: f64,
    /// The three together, bytes.
    pub total_stored_bytes: f64,
    /// Raw-footage exposure: camera-days of raw video kept at any time.
    pub raw_camera_days: f64,
    /// Where raw footage is kept: `server`, `camera`, or empty when none is.
    pub raw_kept_at: &'static str,
    /// Raw video crossing the network per day, bytes (central only).
    pub raw_off_camera_bytes_per_day: f64,
    /// Masked video crossing the network per day, bytes (hybrid: every frame; edge: alert clips).
    pub masked_off_camera_bytes_per_day: f64,
}

/// The run's retention periods and the nine pairings' projections, the run's own first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetentionProjection {
    /// Days raw footage is kept.
    pub raw_days: f64,
    /// Days masked footage is kept.
    pub masked_days: f64,
    /// Days alert records are kept.
    pub alert_days: f64,
    /// Cameras projected.
    pub cameras: usize,
    /// Every modality × mode, the run's own first.
    pub rows: Vec<RetentionRow>,
}

/// Projects storage and raw-footage exposure over the run's retention periods; `None` without a
/// run or without frames observed.
pub fn project(records: &RunRecords) -> Option<RetentionProjection> {
    let run = records.runs.first()?;
    let traffic = bandwidth(records);
    // Per day, over all cameras: bytes of video recorded, of alert clips, of alert records.
    let (mut video, mut clips, mut alert_records) = (0.0, 0.0, 0.0);
    for (camera, t) in records.cameras.iter().zip(&traffic) {
        if t.frames == 0 || t.hours <= 0.0 {
            continue;
        }
        let day = frame_bytes(camera.sensor_resolution(), run.bits_per_pixel) * camera.fps as f64 * DAY_S;
        video += day;
        clips += day * t.alert_frames as f64 / t.frames as f64;
        let record_bytes: f64 = records.alerts.iter().filter(|a| a.camera == camera.index).map(|a| a.metadata_bytes as f64).sum();
        alert_records += record_bytes / t.hours * 24.0;
    }
    if video == 0.0 {
        return None;
    }
    let cameras = records.cameras.len();
    let (raw_days, masked_days, alert_days) = (run.retention_raw_days, run.retention_masked_days, run.retention_alert_days);
    let mut rows = Vec::new();
    for modality in ["central", "hybrid", "edge"] {
        for mode in 1..=3u8 {
            let raw = if mode == 1 { video * raw_days } else { 0.0 };
            let masked = if mode <= 2 { video * masked_days } else { 0.0 };
            let alerts = alert_records * alert_days;
            rows.push(RetentionRow {
                modality: modality.into(),
                mode,
                this_run: modality == run.modality && mode == run.retention,
                raw_stored_bytes: raw,
                masked_stored_bytes: masked,
                alert_stored_bytes: alerts,
                total_stored_bytes: raw + masked + alerts,
                raw_camera_days: if mode == 1 { cameras as f64 * raw_days } else { 0.0 },
                raw_kept_at: match (mode, modality) {
                    (1, "central") => "server",
                    (1, _) => "camera",
                    _ => "",
                },
                raw_off_camera_bytes_per_day: if modality == "central" { video } else { 0.0 },
                masked_off_camera_bytes_per_day: match modality {
                    "hybrid" => video,
                    "edge" => clips,
                    _ => 0.0,
                },
            });
        }
    }
    rows.sort_by_key(|r| !r.this_run); // stable: the run's own first, the rest in order
    Some(RetentionProjection { raw_days, masked_days, alert_days, cameras, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;

    #[test]
    fn holdings_follow_the_bitrate_model_and_the_periods() {
        let mut records = RunRecords::default();
        records.runs.push(RunRecord { modality: "hybrid".into(), retention: 1, ..test_run() });
        let mut camera = test_camera();
        camera.fps = 10;
        records.cameras.push(camera);
        // One hour observed: 36 000 frames at 10 fps, 3 600 of them inside an alert of 500 bytes.
        records.frames = (0..36_000u64)
            .map(|tick| FrameRecord { tick, camera: 0, time_s: tick as f64 / 10.0, persons_visible: 0, detections: 0, refined: 0, masked_px: 0, false_mask_px: 0, frame_px: 1, plate_px: 0, plate_exposed_px: 0, screen_px: 0, screen_exposed_px: 0, ad_score: 0.0 })
            .collect();
        records.alerts.push(AlertRecord { metadata_bytes: 500, ..test_alert(0.0, 359.9, [0.0; 4]) });
        let projection = project(&records).unwrap();
        assert_eq!(projection.rows.len(), 9);
        let own = &projection.rows[0];
        assert!(own.this_run && own.modality == "hybrid" && own.mode == 1);
        // 1920 × 1080 × 0.1 ÷ 8 = 25 920 bytes a frame; × 10 fps × 86 400 s = 22.39 GB a day.
        let day = 25_920.0 * 10.0 * 86_400.0;
        assert!((own.raw_stored_bytes - day * 28.0).abs() < 1.0);
        assert!((own.masked_stored_bytes - day * 30.0).abs() < 1.0);
        assert!((own.alert_stored_bytes - 500.0 * 24.0 * 30.0).abs() < 1e-6);
        assert_eq!((own.raw_camera_days, own.raw_kept_at), (28.0, "camera"));
        assert_eq!(own.raw_off_camera_bytes_per_day, 0.0);
        assert!((own.masked_off_camera_bytes_per_day - day).abs() < 1.0);
        let find = |modality: &str, mode: u8| projection.rows.iter().find(|r| r.modality == modality && r.mode == mode).unwrap();
        assert_eq!((find("central", 1).raw_kept_at, find("central", 1).raw_off_camera_bytes_per_day), ("server", day));
        let edge3 = find("edge", 3);
        assert_eq!((edge3.raw_stored_bytes, edge3.masked_stored_bytes, edge3.raw_camera_days), (0.0, 0.0, 0.0));
        assert!((edge3.masked_off_camera_bytes_per_day - day * 0.1).abs() < 1.0, "the alert clips: a tenth of the frames");
        assert_eq!(find("central", 2).raw_camera_days, 0.0);
    }
}
