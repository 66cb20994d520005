//! Optional refinement of a person box into a body silhouette: the box is grown, cropped,
//! fitted to a person-segmentation model (MediaPipe's pose-landmark model by default) and its
//! mask mapped back into the frame. It costs one model run per person, so it is an option.

use crate::model::Model;
use crate::manifest::{Decoder, ModelManifest, Task};
use crate::preprocess::fill_input;
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use std::path::Path;

/// A person mask inside a frame rectangle.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionMask {
    /// Left column of the region in the frame.
    pub x0: u32,
    /// Top row of the region in the frame.
    pub y0: u32,
    /// Region width.
    pub width: u32,
    /// Region height.
    pub height: u32,
    /// Person pixels, row-major over the region.
    pub pixels: Vec<bool>,
}

impl RegionMask {
    /// Sets the region's pixels in a frame-sized mask `width` pixels wide.
    pub fn mark(&self, mask: &mut [bool], width: u32) {
        for y in 0..self.height {
            for x in 0..self.width {
                if self.pixels[(y * self.width + x) as usize] {
                    mask[((self.y0 + y) * width + self.x0 + x) as usize] = true;
                }
            }
        }
    }
}

/// A loaded silhouette model.
pub struct SilhouetteModel {
    model: Model,
    /// Its manifest.
    pub manifest: ModelManifest,
    /// sha256 of the ONNX file, as verified at load.
    pub sha256: String,
    input_size: (usize, usize),
}

fn sigmoid(x: f32) -> f32 {
    // Written so that large |x| cannot overflow (the logits reach ±1000).
    if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }
}

impl SilhouetteModel {
    /// Loads the model a `silhouette` manifest names, checking its hash and tensors.
    pub fn load(manifest_path: &Path, threads: usize) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(manifest_path)?;
        if manifest.task != Task::Silhouette {
            return Err(VisionError::Mismatch(format!("{}: task is {:?}, a refiner needs `silhouette`", manifest_path.display(), manifest.task)));
        }
        let Decoder::CropMask { output, size, presence_output, .. } = &manifest.decoder else {
            return Err(VisionError::Mismatch(format!("{}: a refiner needs the `crop_mask` decoder", manifest_path.display())));
        };
        if size.len() != 2 {
            return Err(VisionError::Manifest(format!("{}: `size` must be [width, height]", manifest_path.display())));
        }
        let model = Model::load(&manifest, manifest_path, threads)?;
        let sha256 = model.sha256.clone();
        let input_size = manifest.input.image_size()?;
        model.check_input(&manifest.input.name, &manifest.input.shape)?;
        if let Some(name) = presence_output {
            model.output_shape(name)?;
        }
        let mask_shape = model.output_shape(output)?;
        let elements: i64 = mask_shape.iter().product();
        if elements != (size[0] * size[1]) as i64 {
            return Err(VisionError::Mismatch(format!(
                "{}: output `{output}` expected {}×{} values, the model's shape is {mask_shape:?}",
                manifest_path.display(),
                size[0],
                size[1]
            )));
        }
        Ok(SilhouetteModel { model, manifest, sha256, input_size })
    }

    /// The grown crop rectangle `[x0, y0, x1, y1)` (may extend past the frame).
    fn crop_rect(&self, bbox: [f32; 4]) -> [i64; 4] {
        let Decoder::CropMask { crop_expand, .. } = self.manifest.decoder else { unreachable!("checked at load") };
        let (cx, cy) = ((bbox[0] + bbox[2]) * 0.5, (bbox[1] + bbox[3]) * 0.5);
        let (hw, hh) = ((bbox[2] - bbox[0]) * 0.5 * crop_expand, (bbox[3] - bbox[1]) * 0.5 * crop_expand);
        let (x0, y0) = ((cx - hw).floor() as i64, (cy - hh).floor() as i64);
        [x0, y0, ((cx + hw).ceil() as i64).max(x0 + 1), ((cy + hh).ceil() as i64).max(y0 + 1)]
    }

    /// Runs the model on one crop image; returns per-pixel probabilities (mask size) and presence.
    pub fn probabilities(&mut self, crop: &RgbaImage) -> Result<(Vec<f32>, Option<f32>, crate::preprocess::Fit), VisionError> {
        let Decoder::CropMask { output, logits, presence_output, .. } = self.manifest.decoder.clone() else { unreachable!("checked at load") };
        let (tensor, fit) = fill_input(crop, &self.manifest.input, self.input_size);
        let mut names = vec![output.as_str()];
        names.extend(presence_output.as_deref());
        let outputs = self.model.run(&self.manifest.input.name, tensor.view().into_dyn(), &names)?;
        let probabilities: Vec<f32> = outputs[0].iter().map(|&v| if logits { sigmoid(v) } else { v }).collect();
        let presence = outputs.get(1).and_then(|value| value.iter().next().copied());
        Ok((probabilities, presence, fit))
    }

    /// The person inside `bbox` (frame pixels) as a mask over the frame, clipped to it; `None`
    /// when the model says no person is there (the caller then keeps the box).
    pub fn person_mask(&mut self, frame: &RgbaImage, bbox: [f32; 4]) -> Result<Option<RegionMask>, VisionError> {
        let Decoder::CropMask { size, threshold, presence_threshold, .. } = self.manifest.decoder.clone() else { unreachable!() };
        let [rx0, ry0, rx1, ry1] = self.crop_rect(bbox);
        let (cw, ch) = ((rx1 - rx0) as u32, (ry1 - ry0) as u32);
        let mut crop = RgbaImage::new(cw, ch); // black outside the frame
        for y in 0..ch {
            for x in 0..cw {
                let (fx, fy) = (rx0 + x as i64, ry0 + y as i64);
                if fx >= 0 && fy >= 0 && fx < frame.width as i64 && fy < frame.height as i64 {
                    crop.set_rgb(x, y, frame.rgb(fx as u32, fy as u32));
                }
            }
        }
        let (p, presence, fit) = self.probabilities(&crop)?;
        if presence.is_some_and(|v| v < presence_threshold) {
            return Ok(None);
        }
        let (mw, mh) = (size[0] as usize, size[1] as usize);
        let mask_per_input = (mw as f32 / self.input_size.0 as f32, mh as f32 / self.input_size.1 as f32);
        let sample = |u: f32, v: f32| -> f32 {
            let (u, v) = (u.clamp(0.0, mw as f32 - 1.0), v.clamp(0.0, mh as f32 - 1.0));
            let (u0, v0) = (u.floor() as usize, v.floor() as usize);
            let (u1, v1) = ((u0 + 1).min(mw - 1), (v0 + 1).min(mh - 1));
            let (fu, fv) = (u - u0 as f32, v - v0 as f32);
            let at = |x: usize, y: usize| p[y * mw + x];
            (at(u0, v0) * (1.0 - fu) + at(u1, v0) * fu) * (1.0 - fv) + (at(u0, v1) * (1.0 - fu) + at(u1, v1) * fu) * fv
        };
        let (x0, y0) = (rx0.max(0) as u32, ry0.max(0) as u32);
        let (x1, y1) = (rx1.min(frame.width as i64).max(0) as u32, ry1.min(frame.height as i64).max(0) as u32);
        let (width, height) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
        let mut pixels = vec![false; (width * height) as usize];
        for y in 0..height {
            for x in 0..width {
                let (fx, fy) = ((x0 + x) as f32, (y0 + y) as f32);
                // Frame pixel centre → input pixels → mask pixels (the mask may be smaller than the input).
                let u = ((fx + 0.5 - rx0 as f32) * fit.scale_x + fit.pad_x) * mask_per_input.0 - 0.5;
                let v = ((fy + 0.5 - ry0 as f32) * fit.scale_y + fit.pad_y) * mask_per_input.1 - 0.5;
                pixels[(y * width + x) as usize] = sample(u, v) > threshold;
            }
        }
        Ok(Some(RegionMask { x0, y0, width, height, pixels }))
    }
}
