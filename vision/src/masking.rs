//! AN, the masking stage: every detected person (and screen) is painted over with a solid
//! colour before anything else sees the frame. This masker paints each detection's box, grown
//! by a dilation margin — a full-body silhouette for the box masker.

use crate::detector::{Detection, Detector};
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use std::time::Instant;

/// The result of masking one frame.
#[derive(Clone, Debug)]
pub struct MaskOutput {
    /// The frame with every mask painted: the only image later stages may see.
    pub masked: RgbaImage,
    /// Per pixel, whether it was painted (rows top to bottom).
    pub mask: Vec<bool>,
    /// What the model found.
    pub detections: Vec<Detection>,
    /// Wall time of detection and painting, milliseconds (a measurement, not part of results).
    pub latency_ms: f64,
}

/// A masker that paints detector boxes.
pub struct BoxMasker {
    detector: Detector,
    colour: [u8; 3],
    dilation_px: u32,
}

impl BoxMasker {
    /// A masker over `detector` painting `colour`, growing each box by `dilation_px`.
    pub fn new(detector: Detector, colour: [u8; 3], dilation_px: u32) -> Self {
        Self { detector, colour, dilation_px }
    }

    /// The underlying detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Masks one frame.
    pub fn mask(&mut self, frame: &RgbaImage) -> Result<MaskOutput, VisionError> {
        let started = Instant::now();
        let detections = self.detector.detect(frame)?;
        let (masked, mask) = paint_boxes(frame, &detections, self.colour, self.dilation_px);
        Ok(MaskOutput { masked, mask, detections, latency_ms: started.elapsed().as_secs_f64() * 1e3 })
    }
}

/// Paints every detection's box (grown by `dilation_px`) in `colour`; returns the image and mask.
pub fn paint_boxes(frame: &RgbaImage, detections: &[Detection], colour: [u8; 3], dilation_px: u32) -> (RgbaImage, Vec<bool>) {
    let mut masked = frame.clone();
    let mut mask = vec![false; (frame.width * frame.height) as usize];
    let grow = dilation_px as f32;
    for d in detections {
        // Pixels whose centre lies inside the grown box.
        let x0 = (d.bbox[0] - grow - 0.5).ceil().max(0.0) as u32;
        let y0 = (d.bbox[1] - grow - 0.5).ceil().max(0.0) as u32;
        let x1 = ((d.bbox[2] + grow - 0.5).floor() as i64).min(frame.width as i64 - 1);
        let y1 = ((d.bbox[3] + grow - 0.5).floor() as i64).min(frame.height as i64 - 1);
        if x1 < 0 || y1 < 0 {
            continue;
        }
        for y in y0..=y1 as u32 {
            for x in x0..=x1 as u32 {
                mask[(y * frame.width + x) as usize] = true;
                masked.set_rgb(x, y, colour);
            }
        }
    }
    (masked, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::MaskKind;

    #[test]
    fn painting_covers_the_grown_box_exactly() {
        let frame = RgbaImage::new(20, 10);
        let detection = Detection { class_id: 0, kind: MaskKind::Person, score: 0.9, bbox: [5.0, 2.0, 10.0, 6.0] };
        let (masked, mask) = paint_boxes(&frame, &[detection], [1, 2, 3], 1);
        // Box 5..10 × 2..6 grown by 1 → pixels 4..=10 × 1..=6.
        assert_eq!(mask.iter().filter(|&&m| m).count(), 7 * 6);
        assert!(mask[(1 * 20 + 4) as usize] && mask[(6 * 20 + 10) as usize]);
        assert!(!mask[(7 * 20 + 10) as usize]);
        assert_eq!(masked.rgb(4, 1), [1, 2, 3]);
        assert_eq!(masked.rgb(0, 0), [0, 0, 0]);
    }
}
