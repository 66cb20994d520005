//! The anomaly stage (AD): the anomaly model scores the masked frame only, the alerter turns
//! scores into alerts, and the deployment's storage keeps what the retention mode allows —
//! the raw frame's last stop.

use super::{Masked, Scored, Stage, TickInfo};
use crowdtwin_core::camera::{render_models, CameraModel};
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_core::site::GeoOrigin;
use crowdtwin_vision::alerts::{Alert, Alerter};
use crowdtwin_vision::anomaly::AnomalyDetector;
use crowdtwin_vision::deployment::{alert_metadata, Storage};
use std::collections::BTreeMap;
use std::time::Instant;

/// Anomaly scoring, alerting and deployment storage.
pub struct AnomalyStage {
    /// crowdtwin's anomaly model; `None` when a vendor pipeline scores its own frames.
    detector: Option<AnomalyDetector>,
    alerter: Alerter,
    storage: Storage,
    cameras: Vec<(String, CameraModel)>,
    /// Per camera with an open alert: the masked frame at its peak score so far (the operator's view).
    views: BTreeMap<u16, (f32, RgbaImage)>,
    /// Where the site lies on Earth: alerts carry latitude and longitude.
    origin: Option<GeoOrigin>,
}

impl AnomalyStage {
    /// A stage scoring with `detector` (or taking a vendor pipeline's scores), alerting with `alerter` and keeping frames and alert
    /// metadata in `storage`, for the cameras of `scenario`.
    pub fn new(detector: Option<AnomalyDetector>, alerter: Alerter, storage: Storage, scenario: &Scenario, origin: Option<GeoOrigin>) -> Self {
        AnomalyStage { detector, alerter, storage, cameras: render_models(scenario), views: BTreeMap::new(), origin }
    }

    /// Closes the alerts still open after the last frame (stored like any other), each with
    /// its operator's view.
    ///
    /// # Errors
    /// When the storage cannot write an alert's metadata.
    pub fn finish(mut self) -> anyhow::Result<Vec<(Alert, Option<RgbaImage>)>> {
        let mut last = Vec::new();
        for alert in self.alerter.finish() {
            store_alert(&mut self.storage, &alert, &self.cameras, self.origin)?;
            let view = self.views.remove(&alert.camera).map(|(_, view)| view);
            last.push((alert, view));
        }
        Ok(last)
    }
}

impl Stage for AnomalyStage {
    type Input = Masked;
    type Output = Scored;
    const NAME: &'static str = "anomaly";

    fn process(&mut self, _: TickInfo, Masked { frame, mask, vendor_anomaly }: Masked) -> anyhow::Result<Scored> {
        let camera = frame.key.camera;
        let started = Instant::now();
        let mut anomaly = match (vendor_anomaly, &mut self.detector) {
            (Some(vendor), _) => vendor,
            (None, Some(detector)) => detector.score(camera, &mask.masked)?, // masked frames only
            (None, None) => anyhow::bail!("no anomaly score for camera {camera}: the vendor pipeline gave none"),
        };
        let size = (frame.rgba.width, frame.rgba.height);
        let closed = self.alerter.push(camera, frame.key.tick, frame.time_s, size, &anomaly);
        anomaly.latency_ms = started.elapsed().as_secs_f64() * 1e3;
        if self.alerter.is_open(camera) && self.views.get(&camera).is_none_or(|(peak, _)| anomaly.score > *peak) {
            self.views.insert(camera, (anomaly.score, mask.masked.clone()));
        }
        let mut alerts = Vec::new();
        if let Some(alert) = closed {
            store_alert(&mut self.storage, &alert, &self.cameras, self.origin)?;
            alerts.push((alert, self.views.remove(&camera).map(|(_, view)| view)));
        }
        if !self.alerter.is_open(camera) {
            self.views.remove(&camera);
        }
        // Retention: the raw frame goes no further than this call.
        self.storage.store_frame(&self.cameras[camera as usize].0, frame.key.tick, &frame.rgba, &mask.masked).map_err(anyhow::Error::msg)?;
        Ok(Scored { frame, mask, anomaly, closed: alerts })
    }
}

/// Stores an alert's metadata (every retention mode keeps it).
fn store_alert(storage: &mut Storage, alert: &Alert, cameras: &[(String, CameraModel)], origin: Option<GeoOrigin>) -> anyhow::Result<()> {
    let (id, model) = &cameras[alert.camera as usize];
    storage.store_alert(&alert_metadata(alert, id, alert.location(model), origin)).map_err(anyhow::Error::msg)
}
