//! AD, the anomaly stage: an anomaly model run over the *masked* frames of one camera. It
//! never receives a raw frame: [`AnomalyDetector::score`] takes the masker's output.
//!
//! Two kinds of model, both causal and online per camera, as a live system runs them:
//! * a clip scorer (`clip_score`): each camera keeps its last `clip_length` pre-processed masked
//!   frames, and the score of a frame is the model's score of the clip that ends with it;
//! * a two-stage model (`two_stage`: RTFM, MGFN, UR-DMU, PEL4VAD): a feature extractor turns
//!   each snippet of frames into a feature, and a temporal head scores the camera's last
//!   snippets; the newest snippet's score holds until the next snippet ends.
//!
//! * a person-track model (`person_tracks`): the paint of each masked frame is cut into blobs
//!   and tracked ([`crate::tracks`]), and trees score each track; a frame scores its highest
//!   track, averaged over the camera's last frames.
//!
//! Until a camera has enough frames (or snippets), its first stands in for the missing older ones
//! (a person-track model instead averages over the frames it has, and a track younger than a
//! look-back gets 0 for what it cannot yet measure).

use crate::manifest::{Decoder, InputSpec, ModelManifest, Snippet, SnippetLayout, Task, TemporalHead};
use crate::model::{shape_matches, Model};
use crate::preprocess::fill_input;
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use ndarray::{Array1, Array2, Array3, Array4, Array5, Axis};
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

/// A loaded anomaly model with its per-camera state.
pub struct AnomalyDetector {
    /// The manifest it was loaded from.
    pub manifest: ModelManifest,
    /// sha256 of the ONNX file as verified at load; a two-stage model's is the extractor's and
    /// the head's, joined by `+`.
    pub sha256: String,
    scorer: Scorer,
}

enum Scorer {
    Clip(Box<ClipScorer>),
    TwoStage(Box<TwoStageScorer>),
    Tracks(Box<TrackScorer>),
}

/// A clip scorer's frame score, region scores and region grid (columns, rows).
type ClipResult = (f32, Vec<f32>, (usize, usize));

/// Pushes `item` as a camera's newest, keeping the last `length`; the first item also fills
/// the older places.
fn push_window<T: Clone>(window: &mut VecDeque<T>, item: T, length: usize) {
    if window.is_empty() {
        window.extend(std::iter::repeat_n(item.clone(), length - 1));
    }
    window.push_back(item);
    while window.len() > length {
        window.pop_front();
    }
}

fn finite_score(value: f32, model: &str) -> Result<f32, VisionError> {
    if value.is_finite() {
        Ok(value.clamp(0.0, 1.0))
    } else {
        Err(VisionError::Inference(format!("model `{model}` returned a score of {value}")))
    }
}

impl AnomalyDetector {
    /// Loads the model(s) an `anomaly` manifest names, checking hashes and every tensor.
    ///
    /// # Errors
    /// A manifest of another task or decoder, a file whose hash differs, or a tensor whose name
    /// or shape differs from the manifest's (both shapes named).
    pub fn load(manifest_path: &Path, threads: usize) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(manifest_path)?;
        let at = manifest_path.display();
        if manifest.task != Task::Anomaly {
            return Err(VisionError::Mismatch(format!("{at}: task is {:?}, an anomaly model needs `anomaly`", manifest.task)));
        }
        let model = Model::load(&manifest, manifest_path, threads)?;
        let mut sha256 = model.sha256.clone();
        let scorer = match manifest.decoder.clone() {
            Decoder::ClipScore { score, regions, clip_length, .. } => Scorer::Clip(Box::new(ClipScorer::new(model, &manifest, manifest_path, score, regions, clip_length)?)),
            Decoder::TwoStage { snippet, features, head, .. } => {
                let two = TwoStageScorer::new(model, &manifest, manifest_path, snippet, features, head, threads)?;
                sha256 = format!("{sha256}+{}", two.head.sha256);
                Scorer::TwoStage(Box::new(two))
            }
            Decoder::PersonTracks { probabilities, size, paint, context_frames, .. } => {
                Scorer::Tracks(Box::new(TrackScorer::new(model, &manifest, probabilities, size, paint, context_frames)?))
            }
            _ => return Err(VisionError::Mismatch(format!("{at}: an anomaly model needs the `clip_score`, `two_stage` or `person_tracks` decoder"))),
        };
        Ok(AnomalyDetector { manifest, sha256, scorer })
    }

    /// Frames one score looks back over: the clip, or a two-stage model's snippets × stride.
    pub fn clip_length(&self) -> usize {
        match &self.scorer {
            Scorer::Clip(clip) => clip.clip_length,
            Scorer::TwoStage(two) => two.snippet.frames + (two.head_spec.snippets - 1) * two.snippet.stride,
            Scorer::Tracks(tracks) => tracks.context_frames.max(1 + crate::tracks::LOOK_BACK[2]),
        }
    }

    /// The manifest's default alert threshold.
    pub fn default_threshold(&self) -> f32 {
        match self.manifest.decoder {
            Decoder::ClipScore { threshold, .. } | Decoder::TwoStage { threshold, .. } | Decoder::PersonTracks { threshold, .. } => threshold,
            _ => unreachable!("checked at load"),
        }
    }

    /// Adds camera `camera`'s next masked frame and scores it.
    ///
    /// # Errors
    /// The runtime fails, or the model returns a score that is not a finite number.
    pub fn score(&mut self, camera: u16, masked: &RgbaImage) -> Result<AnomalyOutput, VisionError> {
        let started = Instant::now();
        let name = self.manifest.name.clone();
        let (score, regions, grid) = match &mut self.scorer {
            Scorer::Clip(clip) => clip.score(camera, masked, &name)?,
            Scorer::TwoStage(two) => (two.score(camera, masked, &name)?, Vec::new(), (0, 0)),
            Scorer::Tracks(tracks) => tracks.score(camera, masked, &name)?,
        };
        Ok(AnomalyOutput { score, regions, grid, latency_ms: started.elapsed().as_secs_f64() * 1e3 })
    }

    /// Why this model cannot score a scenario's masked frames, if it cannot: a person-track
    /// model reads the paint of one mask colour at one frame rate. (Under a style that paints no
    /// person — blur, pixelate, edges, none — it finds only the blobs of what is not a person
    /// (screens; plates and vehicles where masked), which every style but none paints solid:
    /// what such a model can read of those frames, which `crowdtwin compare` is there to show.)
    pub fn check_scenario(&self, masking: &crowdtwin_core::scenario::MaskingSettings, camera_fps: &[u32]) -> Result<(), String> {
        let Decoder::PersonTracks { paint, fps, .. } = self.manifest.decoder else { return Ok(()) };
        use crowdtwin_core::scenario::MaskStyle;
        let name = &self.manifest.name;
        if matches!(masking.style, MaskStyle::Solid | MaskStyle::Outlined) && masking.colour != paint {
            return Err(format!("anomaly model `{name}` reads paint of colour {paint:?}; masking.colour is {:?}", masking.colour));
        }
        if let Some(other) = camera_fps.iter().find(|&&f| f != fps) {
            return Err(format!("anomaly model `{name}` was trained on {fps} fps (its look-backs are in frames); a camera renders at {other} fps"));
        }
        Ok(())
    }
}

/// A person-track scorer: blobs of paint, tracked per camera, each track's row scored by trees.
struct TrackScorer {
    model: Model,
    input: String,
    probabilities: String,
    size: (u32, u32),
    paint: [u8; 3],
    context_frames: usize,
    tracks: crate::tracks::PersonTracks,
    /// Each camera's last frame scores (the highest track's), newest last.
    recent: BTreeMap<u16, VecDeque<f32>>,
}

/// Region grid of a person-track model: 32 × 18 cells.
const TRACK_GRID: (usize, usize) = (32, 18);

impl TrackScorer {
    fn new(model: Model, manifest: &ModelManifest, probabilities: String, size: (u32, u32), paint: (u8, u8, u8), context_frames: usize) -> Result<Self, VisionError> {
        let width = crate::tracks::ROW_WIDTH as i64;
        model.check_input(&manifest.input.name, &[-1, width])?;
        let shape = model.output_shape(&probabilities)?;
        if !shape_matches(shape, &[-1, 2]) {
            return Err(VisionError::Mismatch(format!("output `{probabilities}` expected shape [N, 2] (two class probabilities per track), the model's is {shape:?}")));
        }
        Ok(TrackScorer {
            model,
            input: manifest.input.name.clone(),
            probabilities,
            size,
            paint: [paint.0, paint.1, paint.2],
            context_frames,
            tracks: Default::default(),
            recent: BTreeMap::new(),
        })
    }

    fn score(&mut self, camera: u16, masked: &RgbaImage, name: &str) -> Result<ClipResult, VisionError> {
        let blobs = crate::tracks::paint_blobs(masked, self.paint, self.size);
        let rows = self.tracks.push(camera, blobs);
        let mut scores = Vec::with_capacity(rows.len());
        if !rows.is_empty() {
            let width = crate::tracks::ROW_WIDTH;
            let input = Array2::from_shape_fn((rows.len(), width), |(r, c)| rows[r].features[c]);
            let outputs = self.model.run(&self.input, input.view().into_dyn(), &[self.probabilities.as_str()])?;
            let probabilities = &outputs[0];
            if probabilities.len() != 2 * rows.len() {
                return Err(VisionError::Inference(format!("output `{}` gave {} values for {} rows, expected {}", self.probabilities, probabilities.len(), rows.len(), 2 * rows.len())));
            }
            for p in probabilities.iter().skip(1).step_by(2) {
                scores.push(finite_score(*p, name)?);
            }
        }
        let best = scores.iter().copied().fold(0.0, f32::max);
        let recent = self.recent.entry(camera).or_default();
        recent.push_back(best);
        if recent.len() > self.context_frames {
            recent.pop_front();
        }
        let score = recent.iter().sum::<f32>() / recent.len() as f32;
        if best <= 0.0 {
            return Ok((score, Vec::new(), (0, 0)));
        }
        // Each cell: the best track whose box covers it, scaled so the best cell scores the frame.
        let (columns, grid_rows) = TRACK_GRID;
        let (cell_w, cell_h) = (self.size.0 as f32 / columns as f32, self.size.1 as f32 / grid_rows as f32);
        let mut regions = vec![0.0f32; columns * grid_rows];
        for (row, &p) in rows.iter().zip(&scores) {
            let [x0, y0, x1, y1] = row.bbox.map(|v| v as f32);
            let (c0, c1) = ((x0 / cell_w) as usize, ((x1 / cell_w).ceil() as usize).min(columns));
            let (r0, r1) = ((y0 / cell_h) as usize, ((y1 / cell_h).ceil() as usize).min(grid_rows));
            for r in r0..r1 {
                for c in c0..c1 {
                    regions[r * columns + c] = regions[r * columns + c].max(p * score / best);
                }
            }
        }
        Ok((score, regions, TRACK_GRID))
    }
}

/// A clip scorer: frames stacked along the channels, one call per frame.
struct ClipScorer {
    model: Model,
    input: String,
    score: String,
    regions: Option<String>,
    frame_input: InputSpec,
    frame_size: (usize, usize),
    clip_length: usize,
    grid: (usize, usize),
    clips: BTreeMap<u16, VecDeque<Array3<f32>>>,
}

impl ClipScorer {
    fn new(model: Model, manifest: &ModelManifest, manifest_path: &Path, score: String, regions: Option<String>, clip_length: usize) -> Result<Self, VisionError> {
        let at = manifest_path.display();
        if !(1..=64).contains(&clip_length) {
            return Err(VisionError::Manifest(format!("{at}: clip_length must be 1 to 64, got {clip_length}")));
        }
        let frame_size = manifest.input.clip_frame_size(clip_length).map_err(|e| VisionError::Manifest(format!("{at}: {e}")))?;
        model.check_input(&manifest.input.name, &manifest.input.shape)?;
        let score_shape = model.output_shape(&score)?;
        if score_shape.iter().product::<i64>() != 1 {
            return Err(VisionError::Mismatch(format!("{at}: output `{score}` expected shape [1], the model's is {score_shape:?}")));
        }
        let grid = match &regions {
            Some(name) => {
                let shape = model.output_shape(name)?;
                if shape.len() != 4 || shape[0] != 1 || shape[1] != 1 || shape[2] < 1 || shape[3] < 1 {
                    return Err(VisionError::Mismatch(format!("{at}: output `{name}` expected shape [1, 1, rows, columns], the model's is {shape:?}")));
                }
                (shape[3] as usize, shape[2] as usize)
            }
            None => (0, 0),
        };
        let mut frame_input = manifest.input.clone();
        frame_input.shape = vec![1, 3, frame_size.1 as i64, frame_size.0 as i64];
        let input = manifest.input.name.clone();
        Ok(ClipScorer { model, input, score, regions, frame_input, frame_size, clip_length, grid, clips: BTreeMap::new() })
    }

    fn score(&mut self, camera: u16, masked: &RgbaImage, name: &str) -> Result<ClipResult, VisionError> {
        let (tensor, _) = fill_input(masked, &self.frame_input, self.frame_size);
        let clip = self.clips.entry(camera).or_default();
        push_window(clip, tensor.index_axis_move(Axis(0), 0), self.clip_length);
        let (w, h) = self.frame_size;
        let mut input = Array4::<f32>::zeros((1, 3 * self.clip_length, h, w));
        for (index, frame) in clip.iter().enumerate() {
            input.slice_mut(ndarray::s![0, 3 * index..3 * index + 3, .., ..]).assign(frame);
        }
        let mut wanted = vec![self.score.as_str()];
        wanted.extend(self.regions.as_deref());
        let outputs = self.model.run(&self.input, input.view().into_dyn(), &wanted)?;
        let clip_score = finite_score(outputs[0].iter().next().copied().unwrap_or(f32::NAN), name)?;
        let regions: Vec<f32> = outputs.get(1).map(|map| map.iter().copied().collect()).unwrap_or_default();
        if let Some(bad) = regions.iter().find(|v| !v.is_finite()) {
            return Err(VisionError::Inference(format!("model `{name}` returned a region score of {bad}")));
        }
        let grid = if regions.is_empty() { (0, 0) } else { self.grid };
        Ok((clip_score, regions.into_iter().map(|v| v.clamp(0.0, 1.0)).collect(), grid))
    }
}

/// A two-stage model: snippet feature extractor, then a temporal head over the last snippets.
struct TwoStageScorer {
    extractor: Model,
    head: Model,
    input: String,
    features: String,
    snippet: Snippet,
    head_spec: TemporalHead,
    frame_input: InputSpec,
    frame_size: (usize, usize),
    feature_size: usize,
    cameras: BTreeMap<u16, CameraSnippets>,
}

/// One camera's causal state.
#[derive(Default)]
struct CameraSnippets {
    /// Frames seen so far.
    seen: usize,
    /// The last `snippet.frames` frames: pre-processed (`ncthw`) or their features (`per_frame`).
    frames: VecDeque<Array1<f32>>,
    /// The last `head.snippets` snippet features.
    snippets: VecDeque<Array1<f32>>,
    /// The newest snippet's score.
    score: f32,
}

impl TwoStageScorer {
    fn new(extractor: Model, manifest: &ModelManifest, manifest_path: &Path, snippet: Snippet, features: String, head_spec: TemporalHead, threads: usize) -> Result<Self, VisionError> {
        let at = manifest_path.display();
        let frame_size = manifest.input.snippet_frame_size(snippet.layout, snippet.frames).map_err(|e| VisionError::Manifest(format!("{at}: {e}")))?;
        extractor.check_input(&manifest.input.name, &manifest.input.shape)?;
        let feature_shape = extractor.output_shape(&features)?.to_vec();
        let head_file = manifest_path.parent().unwrap_or(Path::new(".")).join(&head_spec.file);
        let head = Model::open_either(&head_file, &head_spec.sha256, head_spec.endpoint.as_ref(), manifest_path, threads)?;
        let head_input = head.input_shape(&head_spec.input)?.to_vec();
        // D: the extractor's last dimension, else the head's (either may leave it free).
        let feature_size = [feature_shape.last(), head_input.last()].into_iter().flatten().copied().find(|&d| d > 0).ok_or_else(|| {
            VisionError::Mismatch(format!("{at}: neither output `{features}` {feature_shape:?} nor the head's input `{}` {head_input:?} states the feature size", head_spec.input))
        })?;
        if feature_shape.len() != 2 || !shape_matches(&feature_shape, &[1, feature_size]) {
            return Err(VisionError::Mismatch(format!("{at}: output `{features}` expected shape [1, {feature_size}] (one feature per call), the model's is {feature_shape:?}")));
        }
        let s = head_spec.snippets as i64;
        head.check_input(&head_spec.input, &[1, s, feature_size])?;
        let head_output = head.output_shape(&head_spec.output)?;
        let scores_ok = shape_matches(head_output, &[1, s]) || shape_matches(head_output, &[1, s, 1]);
        if !scores_ok {
            return Err(VisionError::Mismatch(format!("{at}: the head's output `{}` expected shape [1, {s}] or [1, {s}, 1] (a score per snippet), the model's is {head_output:?}", head_spec.output)));
        }
        let mut frame_input = manifest.input.clone();
        frame_input.shape = vec![1, 3, frame_size.1 as i64, frame_size.0 as i64];
        let input = manifest.input.name.clone();
        Ok(TwoStageScorer { extractor, head, input, features, snippet, head_spec, frame_input, frame_size, feature_size: feature_size as usize, cameras: BTreeMap::new() })
    }

    fn score(&mut self, camera: u16, masked: &RgbaImage, name: &str) -> Result<f32, VisionError> {
        let Snippet { frames, stride, layout } = self.snippet;
        let mut state = self.cameras.remove(&camera).unwrap_or_default();
        let n = state.seen;
        state.seen += 1;
        // Only frames some snippet will hold are prepared: the next snippet ends at frame
        // `n.next_multiple_of(stride)` and holds the `frames` frames up to it.
        if n.next_multiple_of(stride) - n < frames {
            let (tensor, _) = fill_input(masked, &self.frame_input, self.frame_size);
            let frame = match layout {
                SnippetLayout::Ncthw => tensor.into_shape_with_order(3 * self.frame_size.0 * self.frame_size.1).expect("a contiguous frame"),
                SnippetLayout::PerFrame => self.extract(tensor.into_dyn())?,
            };
            push_window(&mut state.frames, frame, frames);
        }
        if n.is_multiple_of(stride) {
            let feature = match layout {
                SnippetLayout::PerFrame => {
                    let mut mean = Array1::<f32>::zeros(self.feature_size);
                    state.frames.iter().for_each(|f| mean += f);
                    mean / frames as f32
                }
                SnippetLayout::Ncthw => {
                    let (w, h) = self.frame_size;
                    // Frames are [3, H, W] each; the extractor wants channels, then time.
                    let mut clip = Array5::<f32>::zeros((1, 3, frames, h, w));
                    for (t, frame) in state.frames.iter().enumerate() {
                        let frame = frame.view().into_shape_with_order((3, h, w)).expect("a whole frame");
                        clip.slice_mut(ndarray::s![0, .., t, .., ..]).assign(&frame);
                    }
                    self.extract(clip.into_dyn())?
                }
            };
            push_window(&mut state.snippets, feature, self.head_spec.snippets);
            let mut window = Array2::<f32>::zeros((self.head_spec.snippets, self.feature_size));
            for (i, feature) in state.snippets.iter().enumerate() {
                window.row_mut(i).assign(feature);
            }
            let window = window.insert_axis(Axis(0));
            let scores = self.head.run(&self.head_spec.input, window.view().into_dyn(), &[self.head_spec.output.as_str()])?;
            let newest = scores[0].iter().last().copied().unwrap_or(f32::NAN);
            let newest = if self.head_spec.logits { 1.0 / (1.0 + (-newest).exp()) } else { newest };
            state.score = finite_score(newest, name)?;
        }
        let score = state.score;
        self.cameras.insert(camera, state);
        Ok(score)
    }

    /// The extractor's feature of one input.
    fn extract(&mut self, input: ndarray::ArrayD<f32>) -> Result<Array1<f32>, VisionError> {
        let outputs = self.extractor.run(&self.input, input.view(), &[self.features.as_str()])?;
        let feature: Array1<f32> = outputs[0].iter().copied().collect();
        if feature.len() != self.feature_size {
            return Err(VisionError::Inference(format!("output `{}` gave {} values, expected {}", self.features, feature.len(), self.feature_size)));
        }
        Ok(feature)
    }
}
