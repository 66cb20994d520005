//! The bitrate model of the simulated deployment: what each camera sends off the camera under
//! a modality. Shared by the pipeline (`vision::deployment`) and the reports.

use crate::scenario::Modality;

/// Bytes a camera sends off the camera, by kind, under a modality.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CameraTraffic {
    /// Raw (unmasked) video leaving the camera.
    pub raw_bytes: f64,
    /// Masked video leaving the camera.
    pub masked_bytes: f64,
    /// Alert metadata leaving the camera.
    pub metadata_bytes: f64,
}

/// Bytes of one compressed frame at `sensor` resolution under the bitrate model.
pub fn frame_bytes(sensor: (u32, u32), bits_per_pixel: f64) -> f64 {
    sensor.0 as f64 * sensor.1 as f64 * bits_per_pixel / 8.0
}

/// What a camera sends over a run of `frames` frames, `alert_frames` of them inside alerts
/// (the clips an edge camera uploads for review) and `alert_metadata_bytes` of alert records.
///
/// * central: the camera streams raw video; masking and AD run on the server;
/// * hybrid: the camera masks and streams masked video; AD runs on the server;
/// * edge: the camera masks and scores; it sends alert metadata and the masked frames of
///   each alert, nothing else.
pub fn camera_traffic(modality: Modality, frames: u64, alert_frames: u64, frame_bytes: f64, alert_metadata_bytes: f64) -> CameraTraffic {
    match modality {
        Modality::Central => CameraTraffic { raw_bytes: frames as f64 * frame_bytes, ..Default::default() },
        Modality::Hybrid => CameraTraffic { masked_bytes: frames as f64 * frame_bytes, ..Default::default() },
        Modality::Edge => CameraTraffic { raw_bytes: 0.0, masked_bytes: alert_frames as f64 * frame_bytes, metadata_bytes: alert_metadata_bytes },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_follows_where_the_models_run() {
        let bytes = frame_bytes((1920, 1080), 0.1);
        assert!((bytes - 25_920.0).abs() < 1e-6);
        let central = camera_traffic(Modality::Central, 100, 10, bytes, 500.0);
        assert_eq!((central.raw_bytes, central.masked_bytes, central.metadata_bytes), (100.0 * bytes, 0.0, 0.0));
        let hybrid = camera_traffic(Modality::Hybrid, 100, 10, bytes, 500.0);
        assert_eq!((hybrid.raw_bytes, hybrid.masked_bytes), (0.0, 100.0 * bytes));
        let edge = camera_traffic(Modality::Edge, 100, 10, bytes, 500.0);
        assert_eq!((edge.raw_bytes, edge.masked_bytes, edge.metadata_bytes), (0.0, 10.0 * bytes, 500.0));
    }
}
