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
use crowdtwin_vision::cap::{self, CapCircle, CapContext, Webhook};
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
    out: AlertOut,
}

/// Where a closed alert goes besides the run's tables: its record and CAP 1.2 message in the
/// deployment's storage, and the CAP webhook when there is one.
pub struct AlertOut {
    /// Where the site lies on Earth: alerts carry latitude and longitude.
    pub origin: Option<GeoOrigin>,
    /// Sender, status and clock of the CAP messages.
    pub cap: CapContext,
    /// The endpoint each CAP message is POSTed to.
    pub webhook: Option<Webhook>,
    delivery: CapDelivery,
}

impl AlertOut {
    /// Alerts placed by `origin`, written as CAP in `cap`'s terms, POSTed to `webhook`.
    pub fn new(origin: Option<GeoOrigin>, cap: CapContext, webhook: Option<Webhook>) -> Self {
        let delivery = CapDelivery { url: webhook.as_ref().map(|w| w.url().to_string()).unwrap_or_default(), ..Default::default() };
        AlertOut { origin, cap, webhook, delivery }
    }
}

/// What the CAP webhook received: messages delivered and failed, and the first failures.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CapDelivery {
    /// The endpoint (empty: no webhook).
    pub url: String,
    /// Messages accepted (HTTP 2xx).
    pub delivered: u64,
    /// Messages not accepted.
    pub failed: u64,
    /// The first ten failures, each naming the message and the endpoint.
    pub errors: Vec<String>,
}

impl AnomalyStage {
    /// A stage scoring with `detector` (or taking a vendor pipeline's scores), alerting with
    /// `alerter`, keeping frames and alerts in `storage` and sending alerts `out`, for the cameras
    /// of `scenario`.
    pub fn new(detector: Option<AnomalyDetector>, alerter: Alerter, storage: Storage, scenario: &Scenario, out: AlertOut) -> Self {
        AnomalyStage { detector, alerter, storage, cameras: render_models(scenario), views: BTreeMap::new(), out }
    }

    /// Closes the alerts still open after the last frame (stored like any other), each with
    /// its operator's view; and what the CAP webhook received (`None` without one).
    ///
    /// # Errors
    /// When the storage cannot write an alert.
    pub fn finish(mut self) -> anyhow::Result<(Vec<(Alert, Option<RgbaImage>)>, Option<CapDelivery>)> {
        let mut last = Vec::new();
        for alert in self.alerter.finish() {
            self.send(&alert)?;
            let view = self.views.remove(&alert.camera).map(|(_, view)| view);
            last.push((alert, view));
        }
        let delivery = self.out.webhook.is_some().then_some(self.out.delivery);
        Ok((last, delivery))
    }

    /// Keeps a closed alert's record and CAP message (every retention mode keeps them) and POSTs
    /// the message to the webhook; a refused POST is counted, not fatal: the run goes on.
    fn send(&mut self, alert: &Alert) -> anyhow::Result<()> {
        let (id, model) = &self.cameras[alert.camera as usize];
        let location = alert.location(model);
        self.storage.store_alert(&alert_metadata(alert, id, location, self.out.origin)).map_err(anyhow::Error::msg)?;
        let circle = location.zip(self.out.origin).map(|(at, origin)| {
            let (lat_deg, lon_deg) = origin.to_wgs84(at[0] as f64, at[1] as f64);
            CapCircle { lat_deg, lon_deg, radius_km: ground_radius_km(alert, model, at) }
        });
        let (identifier, xml) = cap::message(&self.out.cap, alert, id, circle);
        self.storage.store_cap(&identifier, &xml).map_err(anyhow::Error::msg)?;
        if let Some(webhook) = &self.out.webhook {
            match webhook.post(&xml) {
                Ok(()) => self.out.delivery.delivered += 1,
                Err(error) => {
                    self.out.delivery.failed += 1;
                    if self.out.delivery.errors.len() < 10 {
                        self.out.delivery.errors.push(format!("{identifier}: {error}"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The radius of the alert's CAP circle: from its ground point to the farthest corner of its
/// region of interest that meets the ground, kilometres, between 5 m and 1 km.
fn ground_radius_km(alert: &Alert, model: &CameraModel, at: [f32; 2]) -> f64 {
    let [x0, y0, x1, y1] = alert.roi;
    let farthest = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
        .into_iter()
        .filter_map(|(u, v)| model.ground_point(u, v))
        .map(|[x, z]| ((x - at[0]).hypot(z - at[1])) as f64)
        .fold(0.0, f64::max);
    (farthest / 1000.0).clamp(0.005, 1.0)
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
            self.send(&alert)?;
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
