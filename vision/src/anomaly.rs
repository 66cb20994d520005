//! AD, the anomaly stage: a clip model run by ONNX Runtime over the *masked* frames of one
//! camera. It never receives a raw frame: [`AnomalyDetector::score`] takes the masker's output.
//!
//! Each camera keeps its last `clip_length` pre-processed masked frames; the score of a frame
//! is the model's score of the clip that ends with it (a causal window, as a live system has).
//! Until a camera has a full clip its first frame stands in for the missing older ones.

use crate::detector::{open_session, shape_matches, shape_of};
use crate::manifest::{Decoder, InputSpec, ModelManifest, Task};
use crate::preprocess::fill_input;
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use ndarray::{Array3, Array4, Axis};
use ort::session::Session;
use ort::value::TensorRef;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Instant;

/// The anomaly score of one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyOutput {
    /// Score in [0, 1] of the clip ending with this frame.
    pub score: f32,
    /// Region scores in [0, 1], row-major over a `columns × rows` grid laid over the frame
    /// (empty when the model has no region output).
    pub regions: Vec<f32>,
    /// `(columns, rows)` of the region grid.
    pub grid: (usize, usize),
    /// Wall time of pre-processing and inference, milliseconds (a measurement, not a result).
    pub latency_ms: f64,
}

impl AnomalyOutput {
    /// The region of interest at `threshold`: the box `[x0, y0, x1, y1]` (pixels of a
    /// `width × height` frame) around every region scoring at least `threshold`; the whole
    /// frame when the model gives no regions.
    pub fn region_of_interest(&self, threshold: f32, (width, height): (u32, u32)) -> Option<[f32; 4]> {
        let (columns, rows) = self.grid;
        if self.regions.is_empty() || columns == 0 || rows == 0 {
            return (self.score >= threshold).then_some([0.0, 0.0, width as f32, height as f32]);
        }
        let (cell_w, cell_h) = (width as f32 / columns as f32, height as f32 / rows as f32);
        let mut roi: Option<[f32; 4]> = None;
        for (index, _) in self.regions.iter().enumerate().filter(|(_, s)| **s >= threshold) {
            let (c, r) = ((index % columns) as f32, (index / columns) as f32);
            let cell = [c * cell_w, r * cell_h, (c + 1.0) * cell_w, (r + 1.0) * cell_h];
            roi = Some(match roi {
                None => cell,
                Some(b) => [b[0].min(cell[0]), b[1].min(cell[1]), b[2].max(cell[2]), b[3].max(cell[3])],
            });
        }
        roi
    }
}

/// A loaded anomaly model with one clip buffer per camera.
pub struct AnomalyDetector {
    session: Session,
    /// The manifest it was loaded from.
    pub manifest: ModelManifest,
    /// sha256 of the ONNX file, as verified at load.
    pub sha256: String,
    frame_input: InputSpec,
    frame_size: (usize, usize),
    clip_length: usize,
    grid: (usize, usize),
    clips: BTreeMap<u16, VecDeque<Array3<f32>>>,
}

impl AnomalyDetector {
    /// Loads the model an `anomaly` manifest names, checking its hash and every tensor.
    pub fn load(manifest_path: &Path, threads: usize) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(manifest_path)?;
        let at = manifest_path.display();
        if manifest.task != Task::Anomaly {
            return Err(VisionError::Mismatch(format!("{at}: task is {:?}, an anomaly model needs `anomaly`", manifest.task)));
        }
        let Decoder::ClipScore { score, regions, clip_length, threshold } = manifest.decoder.clone() else {
            return Err(VisionError::Mismatch(format!("{at}: an anomaly model needs the `clip_score` decoder")));
        };
        if !(1..=64).contains(&clip_length) {
            return Err(VisionError::Manifest(format!("{at}: clip_length must be 1 to 64, got {clip_length}")));
        }
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(VisionError::Manifest(format!("{at}: threshold must be between 0 and 1, got {threshold}")));
        }
        let frame_size = manifest.input.clip_frame_size(clip_length).map_err(|e| VisionError::Manifest(format!("{at}: {e}")))?;
        let (session, sha256) = open_session(&manifest, manifest_path, threads)?;
        let declared = session.inputs().iter().find(|i| i.name() == manifest.input.name).map(shape_of);
        match declared {
            Some(shape) if shape_matches(&shape, &manifest.input.shape) => {}
            Some(shape) => {
                return Err(VisionError::Mismatch(format!(
                    "{at}: input `{}` expected shape {:?}, the model's is {shape:?}",
                    manifest.input.name, manifest.input.shape
                )))
            }
            None => return Err(VisionError::Mismatch(format!("{at}: the model has no input `{}`", manifest.input.name))),
        }
        let output_shape = |name: &str| -> Result<Vec<i64>, VisionError> {
            session.outputs().iter().find(|o| o.name() == name).map(shape_of).ok_or_else(|| {
                let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
                VisionError::Mismatch(format!("{at}: the model has no output `{name}` (it has {names:?})"))
            })
        };
        let score_shape = output_shape(&score)?;
        if score_shape.iter().product::<i64>() != 1 {
            return Err(VisionError::Mismatch(format!("{at}: output `{score}` expected shape [1], the model's is {score_shape:?}")));
        }
        let grid = match &regions {
            Some(name) => {
                let shape = output_shape(name)?;
                if shape.len() != 4 || shape[0] != 1 || shape[1] != 1 || shape[2] < 1 || shape[3] < 1 {
                    return Err(VisionError::Mismatch(format!(
                        "{at}: output `{name}` expected shape [1, 1, rows, columns], the model's is {shape:?}"
                    )));
                }
                (shape[3] as usize, shape[2] as usize)
            }
            None => (0, 0),
        };
        let mut frame_input = manifest.input.clone();
        frame_input.shape = vec![1, 3, frame_size.1 as i64, frame_size.0 as i64];
        Ok(AnomalyDetector { session, manifest, sha256, frame_input, frame_size, clip_length, grid, clips: BTreeMap::new() })
    }

    /// Frames per clip.
    pub fn clip_length(&self) -> usize {
        self.clip_length
    }

    /// The manifest's default alert threshold.
    pub fn default_threshold(&self) -> f32 {
        match self.manifest.decoder {
            Decoder::ClipScore { threshold, .. } => threshold,
            _ => unreachable!("checked at load"),
        }
    }

    /// Adds camera `camera`'s next masked frame to its clip and scores the clip.
    pub fn score(&mut self, camera: u16, masked: &RgbaImage) -> Result<AnomalyOutput, VisionError> {
        let started = Instant::now();
        let (tensor, _) = fill_input(masked, &self.frame_input, self.frame_size);
        let frame = tensor.index_axis_move(Axis(0), 0);
        let clip = self.clips.entry(camera).or_default();
        if clip.is_empty() {
            clip.extend(std::iter::repeat_n(frame.clone(), self.clip_length - 1));
        }
        clip.push_back(frame);
        while clip.len() > self.clip_length {
            clip.pop_front();
        }
        let (w, h) = self.frame_size;
        let mut input = Array4::<f32>::zeros((1, 3 * self.clip_length, h, w));
        for (index, frame) in clip.iter().enumerate() {
            input.slice_mut(ndarray::s![0, 3 * index..3 * index + 3, .., ..]).assign(frame);
        }
        let Decoder::ClipScore { score, regions, .. } = &self.manifest.decoder else { unreachable!("checked at load") };
        let view = TensorRef::from_array_view(&input).map_err(|e| VisionError::Inference(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.manifest.input.name.as_str() => view])
            .map_err(|e| VisionError::Inference(e.to_string()))?;
        let value = outputs[score.as_str()].try_extract_array::<f32>().map_err(|e| VisionError::Inference(e.to_string()))?;
        let clip_score = value.iter().next().copied().unwrap_or(0.0);
        let region_scores: Vec<f32> = match regions {
            Some(name) => {
                let map = outputs[name.as_str()].try_extract_array::<f32>().map_err(|e| VisionError::Inference(e.to_string()))?;
                map.iter().copied().collect()
            }
            None => Vec::new(),
        };
        if !clip_score.is_finite() {
            return Err(VisionError::Inference(format!("model `{}` returned a score of {clip_score}", self.manifest.name)));
        }
        if let Some(bad) = region_scores.iter().find(|v| !v.is_finite()) {
            return Err(VisionError::Inference(format!("model `{}` returned a region score of {bad}", self.manifest.name)));
        }
        let region_scores = region_scores.into_iter().map(|v| v.clamp(0.0, 1.0)).collect();
        Ok(AnomalyOutput {
            score: clip_score.clamp(0.0, 1.0),
            regions: region_scores,
            grid: self.grid,
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }
}
