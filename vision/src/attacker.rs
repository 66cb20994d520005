//! The trained privacy attacker: a model (the shipped one: gradient-boosted trees) that guesses
//! a person's skin-tone band, gender presentation and age group from a crop of a frame, trained
//! beforehand on raw crops of other persons (`models/train/train_attacker.py`). Run on the raw and on the masked frame, it
//! measures what masking removes with an attacker that has power on raw frames — unlike a
//! simple in-run attacker, whose chance-level result on raw frames shows nothing about masking.

use crate::manifest::{AttributeHead, ChannelOrder, Decoder, Layout, ModelManifest, Resize, Task, TrainedOn};
use crate::model::Model;
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use ndarray::{Array2, Array4};
use std::path::Path;

/// One person's attacker input: `crop` is `[3, rows, columns]` in channel-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct AttackerInput {
    /// Mean red, green and blue (0–1) of each cell of the box cut into rows × columns.
    pub crop: Vec<f32>,
    /// ln(box height in metres), ln(box width ÷ height).
    pub geometry: [f32; 2],
}

/// The input for the box `bbox` = [x0, y0, x1, y1] (inclusive pixels) of `image`, seen at
/// `pixels_per_metre` (at the image's resolution), cut into `rows` × `columns` cells: cell
/// (i, j) spans rows `y0 + h·i/rows` to `max(y0 + h·(i+1)/rows, that + 1)` (integer division,
/// clipped to the box) and likewise columns; its value per channel is the sum of the 0–255
/// values ÷ (pixels × 255), in f32. `models/train/train_attacker.py` computes the same.
/// A box reaching past the image is clipped to it (one outside it altogether reads its last
/// row or column); `rows` and `columns` must be at least 1.
pub fn attacker_input(image: &RgbaImage, bbox: [u32; 4], pixels_per_metre: f32, rows: u32, columns: u32) -> AttackerInput {
    let (last_x, last_y) = (image.width.saturating_sub(1), image.height.saturating_sub(1));
    let [x0, y0, x1, y1] = [bbox[0].min(last_x), bbox[1].min(last_y), bbox[2].min(last_x), bbox[3].min(last_y)];
    let (x1, y1) = (x1.max(x0), y1.max(y0));
    let (w, h) = ((x1 + 1).saturating_sub(x0).max(1), (y1 + 1).saturating_sub(y0).max(1));
    let cells = (rows * columns) as usize;
    let mut crop = vec![0.0f32; 3 * cells];
    for i in 0..rows {
        let ry0 = y0 + h * i / rows;
        let ry1 = (y0 + h * (i + 1) / rows).max(ry0 + 1).min(y1 + 1);
        for j in 0..columns {
            let cx0 = x0 + w * j / columns;
            let cx1 = (x0 + w * (j + 1) / columns).max(cx0 + 1).min(x1 + 1);
            let mut sum = [0u64; 3];
            for y in ry0..ry1 {
                for x in cx0..cx1 {
                    let p = ((y * image.width + x) * 4) as usize;
                    (0..3).for_each(|c| sum[c] += u64::from(image.pixels[p + c]));
                }
            }
            let count = (u64::from(ry1 - ry0) * u64::from(cx1 - cx0) * 255) as f32;
            for (c, s) in sum.iter().enumerate() {
                crop[c * cells + (i * columns + j) as usize] = *s as f32 / count;
            }
        }
    }
    AttackerInput { crop, geometry: [(h as f32 / pixels_per_metre.max(1e-3)).ln(), (w as f32 / h as f32).ln()] }
}

/// A loaded attribute attacker.
pub struct AttributeAttacker {
    model: Model,
    /// Its manifest.
    pub manifest: ModelManifest,
    /// sha256 of the ONNX file, as verified at load.
    pub sha256: String,
    /// Cells of the crop: (rows, columns).
    pub grid: (u32, u32),
    geometry: String,
}

impl AttributeAttacker {
    /// Loads the model an `attributes` manifest names, checking its hash and tensors.
    ///
    /// # Errors
    /// The manifest is not an attribute model's, the file's hash differs, or an input or output
    /// is missing or shaped otherwise (expected and actual shapes named).
    pub fn load(manifest_path: &Path, threads: usize) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(manifest_path)?;
        let at = manifest_path.display();
        if manifest.task != Task::Attributes {
            return Err(VisionError::Mismatch(format!("{at}: task is {:?}, an attribute attacker needs `attributes`", manifest.task)));
        }
        let Decoder::Attributes { geometry, heads, .. } = &manifest.decoder else {
            return Err(VisionError::Mismatch(format!("{at}: an attribute attacker needs the `attributes` decoder")));
        };
        let (geometry, heads) = (geometry.clone(), heads.clone());
        if manifest.input.layout != Layout::Nchw || manifest.input.channel_order != ChannelOrder::Rgb || manifest.input.resize != Resize::Stretch {
            return Err(VisionError::Manifest(format!("{at}: an attribute attacker's input is a cell grid: layout nchw, channel_order rgb, resize stretch")));
        }
        let (columns, rows) = manifest.input.image_size()?;
        let model = Model::load(&manifest, manifest_path, threads)?;
        model.check_input(&manifest.input.name, &[-1, 3, rows as i64, columns as i64])?;
        model.check_input(&geometry, &[-1, 2])?;
        for head in &heads {
            let declared = model.output_shape(&head.output)?;
            if !crate::model::shape_matches(declared, &[-1, head.classes.len() as i64]) {
                return Err(VisionError::Mismatch(format!("{at}: output `{}` expected shape [N, {}], the model's is {declared:?}", head.output, head.classes.len())));
            }
        }
        let sha256 = model.sha256.clone();
        Ok(AttributeAttacker { model, manifest, sha256, grid: (rows as u32, columns as u32), geometry })
    }

    /// The attributes guessed, in output order.
    pub fn heads(&self) -> &[AttributeHead] {
        match &self.manifest.decoder {
            Decoder::Attributes { heads, .. } => heads,
            _ => &[],
        }
    }

    /// Whether the persons of a run of `seed` and a population section of sha256
    /// `population_sha256` are the ones it was trained on.
    pub fn trained_on(&self, seed: u64, population_sha256: &str) -> bool {
        let Decoder::Attributes { trained_on, .. } = &self.manifest.decoder else { return false };
        trained_on.iter().any(|t: &TrainedOn| t.seed == seed && t.population_sha256 == population_sha256)
    }

    /// The input of a person's box (see [`attacker_input`]) at this model's grid.
    pub fn input(&self, image: &RgbaImage, bbox: [u32; 4], pixels_per_metre: f32) -> AttackerInput {
        attacker_input(image, bbox, pixels_per_metre, self.grid.0, self.grid.1)
    }

    /// The most probable class of each head for each input: `[inputs][heads]` class indices
    /// (the first class wins a tie). Inputs are normalised by the manifest's `mean` and `std`
    /// (on the 0–255 scale, per channel) before the call.
    ///
    /// # Errors
    /// An input of another grid than the model's, the runtime fails, or an output is shaped
    /// otherwise than `[N, classes]`.
    pub fn predict(&mut self, inputs: &[AttackerInput]) -> Result<Vec<Vec<usize>>, VisionError> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let (rows, columns) = (self.grid.0 as usize, self.grid.1 as usize);
        let cells = rows * columns;
        let (mean, std) = (&self.manifest.input.mean, &self.manifest.input.std);
        let mut crop = Array4::<f32>::zeros((inputs.len(), 3, rows, columns));
        let mut geometry = Array2::<f32>::zeros((inputs.len(), 2));
        for (n, input) in inputs.iter().enumerate() {
            if input.crop.len() != 3 * cells {
                return Err(VisionError::Mismatch(format!("input {n}: {} cell values, the model takes 3 × {rows} × {columns}", input.crop.len())));
            }
            for c in 0..3 {
                for k in 0..cells {
                    // In f64: with mean 0 and std 255 this gives back the cell exactly.
                    crop[[n, c, k / columns, k % columns]] = ((f64::from(input.crop[c * cells + k]) * 255.0 - f64::from(mean[c])) / f64::from(std[c])) as f32;
                }
            }
            geometry[[n, 0]] = input.geometry[0];
            geometry[[n, 1]] = input.geometry[1];
        }
        let heads = self.heads().to_vec();
        let names: Vec<&str> = heads.iter().map(|h| h.output.as_str()).collect();
        let input_name = self.manifest.input.name.clone();
        let outputs = self.model.run_inputs(&[(&input_name, crop.into_dyn().view()), (&self.geometry, geometry.into_dyn().view())], &names)?;
        let mut predictions = vec![Vec::with_capacity(heads.len()); inputs.len()];
        for (head, output) in heads.iter().zip(&outputs) {
            if output.shape() != [inputs.len(), head.classes.len()] {
                return Err(VisionError::Inference(format!("output `{}` has shape {:?}, expected [{}, {}]", head.output, output.shape(), inputs.len(), head.classes.len())));
            }
            for (n, row) in output.outer_iter().enumerate() {
                let best = row.iter().enumerate().fold(0, |best, (k, &p)| if p > row[best] { k } else { best });
                predictions[n].push(best);
            }
        }
        Ok(predictions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_average_their_pixels_and_geometry_is_in_metres() {
        // 4 × 2 image: left column red 255, right column green 51.
        let mut image = RgbaImage { width: 2, height: 4, pixels: vec![0; 2 * 4 * 4] };
        for y in 0..4 {
            image.pixels[(y * 2) as usize * 4] = 255;
            image.pixels[(y * 2 + 1) as usize * 4 + 1] = 51;
        }
        let input = attacker_input(&image, [0, 0, 1, 3], 2.0, 2, 1);
        // One column of cells over both image columns: red 0.5, green 0.1, blue 0.
        assert_eq!(input.crop, vec![0.5, 0.5, 0.1, 0.1, 0.0, 0.0]);
        assert!((input.geometry[0] - 2.0f32.ln()).abs() < 1e-6, "4 px at 2 px/m is 2 m");
        assert!((input.geometry[1] - 0.5f32.ln()).abs() < 1e-6);
        // Finer grid than the box: every cell still holds at least one pixel.
        let fine = attacker_input(&image, [0, 0, 1, 3], 2.0, 8, 4);
        assert_eq!(fine.crop.len(), 3 * 32);
        assert!(fine.crop.iter().all(|v| v.is_finite()));
    }
}
