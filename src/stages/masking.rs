//! The masking stage (AN): the masking model sees the raw frame only.

use super::{Masked, Stage, TickInfo};
use crowdtwin_core::frame::Frame;
use crowdtwin_vision::masking::Masker;

/// Masking in-process: the detector (and optional silhouette refiner) run by ONNX Runtime.
pub struct MaskingStage {
    masker: Masker,
}

impl MaskingStage {
    /// A stage around `masker`.
    pub fn new(masker: Masker) -> Self {
        MaskingStage { masker }
    }
}

impl Stage for MaskingStage {
    type Input = Frame;
    type Output = Masked;
    const NAME: &'static str = "masking";

    fn process(&mut self, _: TickInfo, frame: Frame) -> anyhow::Result<Masked> {
        let mask = self.masker.mask(&frame.rgba)?;
        Ok(Masked { frame, mask })
    }
}
