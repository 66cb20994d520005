//! The masking stage (AN): the masking model sees the raw frame only — crowdtwin's masker
//! in-process (or its models served), or a vendor's whole pipeline behind an endpoint.

use super::{Masked, Stage, TickInfo};
use crowdtwin_core::frame::Frame;
use crowdtwin_vision::masking::{paint_mask, Masker};
use crowdtwin_vision::vendor::VendorPipeline;

/// What masks the frames.
pub enum Masking {
    /// crowdtwin's masker: detector (and optional silhouette refiner) and painting.
    Masker(Box<Masker>),
    /// A vendor pipeline: its mask, painted solid in `colour`, and its anomaly output.
    Vendor(Box<VendorPipeline>, [u8; 3]),
}

/// The masking stage.
pub struct MaskingStage {
    masking: Masking,
}

impl MaskingStage {
    /// A stage around `masking`.
    pub fn new(masking: Masking) -> Self {
        MaskingStage { masking }
    }
}

impl Stage for MaskingStage {
    type Input = Frame;
    type Output = Masked;
    const NAME: &'static str = "masking";

    fn process(&mut self, _: TickInfo, frame: Frame) -> anyhow::Result<Masked> {
        match &mut self.masking {
            Masking::Masker(masker) => {
                let mask = masker.mask(&frame.rgba)?;
                Ok(Masked { frame, mask, vendor_anomaly: None })
            }
            Masking::Vendor(pipeline, colour) => {
                let started = std::time::Instant::now();
                let out = pipeline.process(frame.key.camera, &frame.rgba)?;
                let mut mask = paint_mask(&frame.rgba, out.mask, *colour);
                // The service's call is the masking time (its anomaly scoring included).
                mask.latency_ms = started.elapsed().as_secs_f64() * 1e3;
                Ok(Masked { frame, mask, vendor_anomaly: out.anomaly })
            }
        }
    }
}
