//! Model manifests: `models/NAME.ron` beside `NAME.onnx` states everything needed to feed the
//! model and decode its outputs, so a user's own model plugs in by writing one.

use crate::VisionError;
use crowdtwin_core::scenario::{parse_checked, PathSegment};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest schema version this build reads.
pub const MANIFEST_VERSION: u32 = 1;

/// A model manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// Schema version (1).
    pub version: u32,
    /// Short model name.
    pub name: String,
    /// What the model is for.
    pub task: Task,
    /// The ONNX file, relative to the manifest (empty for a served model).
    #[serde(default)]
    pub file: String,
    /// sha256 of the ONNX file (lower-case hex); checked at load (empty for a served model).
    #[serde(default)]
    pub sha256: String,
    /// A server that runs the model instead of a file: the Open Inference Protocol over gRPC.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Licence of the weights and packaging.
    pub licence: String,
    /// The model card (Markdown), relative to the manifest.
    pub card: String,
    /// The input tensor and its pre-processing.
    pub input: InputSpec,
    /// How to turn outputs into results.
    pub decoder: Decoder,
    /// ONNX Runtime intra-op threads this model always runs with, whatever `--threads` says
    /// (`None`: `--threads`). For a model whose sums ONNX Runtime splits by thread — a tree
    /// ensemble over many rows adds its trees' votes in per-thread parts — so that its outputs,
    /// and the run's tables, are the same bits at every thread count.
    #[serde(default)]
    pub threads: Option<usize>,
    /// An anomaly model only: the masking it was trained and measured on. A model that reads a
    /// masker's output learns that masker's habits (whom it finds, how its paint is shaped), so a
    /// run masking otherwise says so in its report (`None`: the manifest does not say).
    #[serde(default)]
    pub masked_by: Option<MaskedBy>,
}

/// The masking an anomaly model was trained and measured on: the masker and the scenario's
/// `masking` settings that shape its output (the fields `crowdtwin dataset` records in
/// `dataset.json` as `masking_*`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MaskedBy {
    /// The masker's manifest `name`.
    pub model: String,
    /// Where its outputs came from, as a run records it (`runs.masking_model_sha256`): its ONNX
    /// file's sha256 (64 lower-case hex digits), or `served:URL/MODEL[/VERSION]` for a masker on
    /// an inference server, whose bytes cannot be checked from here.
    pub sha256: String,
    /// `masking.style`.
    pub style: crowdtwin_core::scenario::MaskStyle,
    /// `masking.tiles`: (columns, rows), (1, 1) for the whole frame only.
    pub tiles: (u32, u32),
    /// `masking.quarter_turns`.
    pub quarter_turns: bool,
    /// `masking.vehicles`.
    pub vehicles: bool,
}

/// A model served over the Open Inference Protocol (KServe predict protocol v2) by gRPC:
/// Triton, KServe, Seldon MLServer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The server's gRPC address, `http://HOST:PORT`.
    pub url: String,
    /// The model's name on the server.
    pub model: String,
    /// The model's version on the server (empty: the server's choice).
    #[serde(default)]
    pub version: String,
    /// Seconds one call may take before it counts as failed (0 to 3600).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f32,
    /// Further tries of a call that failed for want of an answer (refused, timed out,
    /// unavailable, broken off), 0.1 s apart and doubling; 0 to 10. An error the model or server
    /// reports (invalid argument, internal error, …) is never retried.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Largest message either way, MiB (1 to 2048).
    #[serde(default = "default_max_message_mib")]
    pub max_message_mib: u32,
}

fn default_timeout_s() -> f32 {
    30.0
}

fn default_retries() -> u32 {
    2
}

fn default_max_message_mib() -> u32 {
    64
}

/// What a model does in the pipeline.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// AN: finds what must be masked.
    Masking,
    /// Refines a person box into a body silhouette, one crop at a time.
    Silhouette,
    /// AD: scores clips of masked video for anomalies.
    Anomaly,
    /// Privacy attacker: guesses a person's attributes from a crop of the frame.
    Attributes,
    /// A vendor's whole pipeline behind an endpoint: the raw frame in, its mask (and anomaly
    /// score and region) out ([`crate::vendor`]).
    Pipeline,
}

/// Memory layout of an image tensor.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Batch, channel, height, width.
    Nchw,
    /// Batch, height, width, channel.
    Nhwc,
}

/// Channel order of an image tensor.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red.
    Bgr,
}

/// How a frame is fitted to the input size.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Scale each axis independently to fill the input.
    Stretch,
    /// Keep the aspect ratio, centre the image and pad with black (pixel value 0).
    Letterbox,
    /// Keep the aspect ratio, scale until the input is covered and keep its centre (a
    /// resize-then-centre-crop in one step, with the shared triangle filter). Anomaly models only:
    /// a masker must see the whole frame.
    CentreCrop,
}

/// The input tensor.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Tensor name.
    pub name: String,
    /// Memory layout.
    pub layout: Layout,
    /// Shape as the model declares it, batch 1.
    pub shape: Vec<i64>,
    /// Channel order.
    pub channel_order: ChannelOrder,
    /// Fitting of frames to the input.
    pub resize: Resize,
    /// Tensor value = (pixel in 0–255 − mean) / std, per channel in tensor order.
    pub mean: Vec<f32>,
    /// See `mean`.
    pub std: Vec<f32>,
    /// Pixel value (0–255, every channel) of a letterbox's padding: 0 (black) by default;
    /// Ultralytics exports were trained with 114.
    #[serde(default)]
    pub pad_value: u8,
}

impl InputSpec {
    /// (width, height) of the input image.
    pub fn image_size(&self) -> Result<(usize, usize), VisionError> {
        let dims = &self.shape;
        let ok = dims.len() == 4 && dims[0] == 1 && dims.iter().all(|&d| d > 0);
        let (h, w, c) = match self.layout {
            Layout::Nchw if ok => (dims[2], dims[3], dims[1]),
            Layout::Nhwc if ok => (dims[1], dims[2], dims[3]),
            _ => return Err(VisionError::Manifest(format!("input shape {dims:?} is not a batch-1 image tensor"))),
        };
        if c != 3 {
            return Err(VisionError::Manifest(format!("input shape {dims:?} has {c} channels, expected 3")));
        }
        if self.mean.len() != 3 || self.std.len() != 3 || self.std.contains(&0.0) {
            return Err(VisionError::Manifest("input mean and std need three values each, std non-zero".into()));
        }
        Ok((w as usize, h as usize))
    }

    /// (width, height) of each frame of a clip input: NCHW with the clip's frames stacked along
    /// the channels, oldest first, three per frame in `channel_order`.
    pub fn clip_frame_size(&self, clip_length: usize) -> Result<(usize, usize), VisionError> {
        let dims = &self.shape;
        let ok = self.layout == Layout::Nchw && dims.len() == 4 && dims[0] == 1 && dims.iter().all(|&d| d > 0);
        if !ok || dims[1] != 3 * clip_length as i64 {
            return Err(VisionError::Manifest(format!(
                "input shape {dims:?} is not a batch-1 NCHW clip of {clip_length} frames (expected [1, {}, height, width])",
                3 * clip_length
            )));
        }
        if self.mean.len() != 3 || self.std.len() != 3 || self.std.contains(&0.0) {
            return Err(VisionError::Manifest("input mean and std need three values each, std non-zero".into()));
        }
        Ok((dims[3] as usize, dims[2] as usize))
    }
}

impl InputSpec {
    /// (width, height) of each frame of a snippet extractor's input: `[1, 3, frames, H, W]`
    /// (channels, then time) for [`SnippetLayout::Ncthw`], a batch-1 image for
    /// [`SnippetLayout::PerFrame`].
    pub fn snippet_frame_size(&self, layout: SnippetLayout, frames: usize) -> Result<(usize, usize), VisionError> {
        match layout {
            SnippetLayout::PerFrame => self.image_size(),
            SnippetLayout::Ncthw => {
                let dims = &self.shape;
                let ok = self.layout == Layout::Nchw && dims.len() == 5 && dims[0] == 1 && dims[1] == 3 && dims.iter().all(|&d| d > 0);
                if !ok || dims[2] != frames as i64 {
                    return Err(VisionError::Manifest(format!(
                        "input shape {dims:?} is not a batch-1 snippet of {frames} frames (expected layout nchw and shape [1, 3, {frames}, height, width])"
                    )));
                }
                if self.mean.len() != 3 || self.std.len() != 3 || self.std.contains(&0.0) {
                    return Err(VisionError::Manifest("input mean and std need three values each, std non-zero".into()));
                }
                Ok((dims[4] as usize, dims[3] as usize))
            }
        }
    }
}

/// How a snippet's frames reach the feature extractor.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SnippetLayout {
    /// One call per snippet on `[1, 3, frames, H, W]` (I3D, X3D): the snippet's feature is the output.
    Ncthw,
    /// One call per frame on a batch-1 image (a CLIP image encoder): the snippet's feature is
    /// the mean of its frames' features.
    PerFrame,
}

/// How a camera's frames are cut into snippets.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Snippet {
    /// Frames per snippet (I3D: 16).
    pub frames: usize,
    /// Frames from one snippet's end to the next's (16 for the non-overlapping snippets RTFM,
    /// MGFN, UR-DMU and PEL4VAD are trained on).
    pub stride: usize,
    /// How the extractor takes them.
    pub layout: SnippetLayout,
}

/// The temporal head of a two-stage anomaly model: the last `snippets` snippet features of a
/// camera in (`[1, snippets, D]`, oldest first), one score per snippet out.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TemporalHead {
    /// The head's ONNX file, relative to the manifest (empty for a served head).
    #[serde(default)]
    pub file: String,
    /// sha256 of that file (lower-case hex); checked at load (empty for a served head).
    #[serde(default)]
    pub sha256: String,
    /// A server that runs the head instead of a file.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Input tensor `[1, snippets, D]`.
    pub input: String,
    /// Output tensor with one score per snippet (`[1, snippets]` or `[1, snippets, 1]`).
    pub output: String,
    /// Snippets the head looks back over (S).
    pub snippets: usize,
    /// Whether the scores are logits (a sigmoid gives the probability).
    #[serde(default)]
    pub logits: bool,
}

/// What a detected class means for masking.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    /// A person: painted as a full-body silhouette.
    Person,
    /// A device screen.
    Screen,
    /// A licence plate.
    Plate,
    /// A vehicle: painted over as a whole (its plates with it) when the masker is asked to
    /// hide vehicles, ignored otherwise.
    Vehicle,
}

/// A class the decoder keeps and masks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MaskClass {
    /// Class index in the model's output.
    pub id: usize,
    /// Human-readable name.
    pub name: String,
    /// What it is for masking.
    pub kind: MaskKind,
}

/// One feature-pyramid level of a GFL detector.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GflLevel {
    /// Stride in input pixels.
    pub stride: u32,
    /// Output with class scores, shape [1, N, classes].
    pub scores: String,
    /// Output with box distributions, shape [1, N, 4 × (reg_max + 1)].
    pub boxes: String,
}

/// Output decoders.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Decoder {
    /// A NanoDet-style detector: per level, class scores and a distribution over distances from
    /// each anchor centre to the box's left, top, right and bottom sides.
    GflDetector {
        /// Levels, any order.
        levels: Vec<GflLevel>,
        /// Highest distance bin (bins per side = reg_max + 1).
        reg_max: usize,
        /// Whether scores are probabilities already (otherwise a sigmoid is applied).
        scores_are_probabilities: bool,
        /// Anchor centre = (column + centre_offset) × stride.
        centre_offset: f32,
        /// Side distance in input pixels = expected bin × stride × distance_scale.
        distance_scale: f32,
        /// Minimum score kept.
        score_threshold: f32,
        /// IoU above which a lower-scored box of the same class is suppressed.
        nms_iou: f32,
        /// Classes kept and masked.
        classes: Vec<MaskClass>,
    },
    /// An Ultralytics YOLO (v8/11) detection or segmentation export: `output` is
    /// `[1, 4 + classes (+ mask coefficients), anchors]` — each anchor's box as centre x, centre
    /// y, width, height in input pixels, then its class scores (probabilities), then, for a
    /// segmentation model, its coefficients over the prototype masks in `prototypes`
    /// (`[1, coefficients, H/4, W/4]`). Input: letterboxed RGB / 255. Each anchor takes its best
    /// class; kept above `score_threshold` when that class is listed, then class-wise NMS at
    /// `nms_iou`. A kept instance's mask is the sigmoid of its coefficients over the
    /// prototypes, cropped to its box, upsampled bilinearly and thresholded at
    /// `mask_threshold` — Ultralytics' `process_mask` — and painted as the person's silhouette.
    Yolo {
        /// The detection output.
        output: String,
        /// The prototype-mask output of a segmentation export (none: a detection export, boxes painted).
        #[serde(default)]
        prototypes: Option<String>,
        /// Minimum score kept.
        score_threshold: f32,
        /// IoU above which a lower-scored box of the same class is suppressed.
        nms_iou: f32,
        /// Mask probability above which a pixel belongs to the instance.
        #[serde(default = "default_presence_threshold")]
        mask_threshold: f32,
        /// Classes kept and masked.
        classes: Vec<MaskClass>,
    },
    /// A person-crop segmenter: the person box, grown by `crop_expand` about its centre, is
    /// cut out (black outside the frame), fitted to the input, and the output mask mapped back.
    CropMask {
        /// Output holding the mask (one value per mask pixel).
        output: String,
        /// Mask (width, height) as laid out in the output.
        size: Vec<u32>,
        /// Whether values are logits (a sigmoid gives the probability).
        logits: bool,
        /// Probability above which a pixel is person.
        threshold: f32,
        /// Width and height of the box are multiplied by this before cropping.
        crop_expand: f32,
        /// Optional output with the probability that a person is in the crop.
        #[serde(default)]
        presence_output: Option<String>,
        /// Below this presence the crop's mask is not trusted (the whole box is painted).
        #[serde(default = "default_presence_threshold")]
        presence_threshold: f32,
    },
    /// A clip anomaly scorer (AD): the last `clip_length` masked frames of one camera in, a
    /// score in [0, 1] for the newest frame out, and optionally a grid of per-region scores
    /// (multiple-instance learning: the clip's score is its most anomalous region's).
    ClipScore {
        /// Output with the clip's score, one value.
        score: String,
        /// Optional output with region scores in [0, 1], shape [1, 1, rows, columns] over the frame.
        #[serde(default)]
        regions: Option<String>,
        /// Frames per clip.
        clip_length: usize,
        /// Default alert threshold on the score.
        threshold: f32,
    },
    /// A privacy attacker guessing person attributes ([`crate::attacker`]): input `crop`
    /// (`input.name`, `[N, 3, rows, columns]`, each cell the mean of a person's box cut into
    /// rows × columns, after `mean`/`std`) and `geometry` (`[N, 2]`: ln of the box's height in
    /// metres, ln of its width ÷ height); out, per head, class probabilities `[N, classes]`.
    Attributes {
        /// The geometry input's name.
        geometry: String,
        /// The attributes guessed.
        heads: Vec<AttributeHead>,
        /// The persons it was trained on, as (seed, population section): a run of the same
        /// seed and population stages those very persons, so scoring it there would be in-sample.
        #[serde(default)]
        trained_on: Vec<TrainedOn>,
    },
    /// A two-stage anomaly model as RTFM, MGFN, UR-DMU and PEL4VAD are deployed: the manifest's
    /// own file is the snippet feature extractor (I3D, X3D, a CLIP image encoder) and `head` the
    /// temporal head over the last snippet features. Causal and online, per camera: a snippet
    /// ends on every `stride`-th masked frame (the first on the camera's first frame), the head
    /// scores the last `head.snippets` snippets, and the newest snippet's score is the score of
    /// that frame and of the frames after it until the next snippet ends. Before a camera has
    /// enough frames (snippets), its first stands in for the missing older ones.
    TwoStage {
        /// How frames make snippets.
        snippet: Snippet,
        /// The extractor's feature output, `[1, D]`.
        features: String,
        /// The temporal head.
        head: TemporalHead,
        /// Default alert threshold on the score.
        threshold: f32,
    },
    /// A person-track anomaly model ([`crate::tracks`]): the masked frame's paint is cut into
    /// blobs and tracked, each track's row of [`crate::tracks::ROW_WIDTH`] features goes in
    /// (`input.name`, `[N, 72]`), and the probability that the track takes part in an incident
    /// comes out (`probabilities`, `[N, 2]`, the second column). A frame scores its highest
    /// track (0 with none), averaged over the camera's last `context_frames` frames; its region
    /// scores are each track's probability over its box, scaled so the best equals the frame's
    /// score (none on a frame without a blob: an open alert's region is then the whole frame).
    /// The input's image fields (`layout`, `resize`, `mean`, `std`) are not used.
    PersonTracks {
        /// Output with each row's class probabilities, `[N, 2]`.
        probabilities: String,
        /// (width, height) the masked frame is resized to before its paint is read.
        size: (u32, u32),
        /// The mask colour read as paint: the scenario's `masking.colour` must be the same.
        paint: (u8, u8, u8),
        /// Frame rate the look-backs were trained at: every camera must render at it.
        fps: u32,
        /// Frames the frame score is averaged over.
        context_frames: usize,
        /// Default alert threshold on the score.
        threshold: f32,
    },
}

/// One attribute an attribute model guesses: an output of per-class probabilities.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttributeHead {
    /// The attribute, as the `privacy` table names it (`skin_tone_band`, `gender_presentation`, `age_group`).
    pub attribute: String,
    /// Output `[N, classes]`.
    pub output: String,
    /// Class names, in output order; the attribute's classes as crowdtwin names them.
    pub classes: Vec<String>,
}

/// One training set of persons: a scenario's seed and the sha256 of its `population` section
/// (as a frame store's `sections.population` gives it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainedOn {
    /// The seed.
    pub seed: u64,
    /// sha256 of the population section.
    pub population_sha256: String,
}

fn default_presence_threshold() -> f32 {
    0.5
}

impl ModelManifest {
    /// Reads a manifest.
    ///
    /// # Errors
    /// A syntax error, unknown field, or a value out of range — a mean or std not finite, a std
    /// of 0, a threshold outside its range or not finite — each naming file, line, column and field.
    pub fn load(path: &Path) -> Result<Self, VisionError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VisionError::Manifest(format!("{}: cannot read the model manifest: {e}", path.display())))?;
        if crate::vendor::is_pipeline_text(&text) {
            return Err(VisionError::Manifest(format!(
                "{}: a vendor pipeline (task: pipeline) masks and scores on its own; it goes in `run`/`eval --mask-model`, not where one model is expected",
                path.display()
            )));
        }
        parse_checked(&text, path, ModelManifest::validate).map_err(|e| VisionError::Manifest(e.to_string()))
    }

    fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::{Index, Key};
        if self.version != MANIFEST_VERSION {
            return Err((vec![Key("version")], format!("manifest version {} is not supported (this build reads {MANIFEST_VERSION})", self.version)));
        }
        if let Some(threads) = self.threads
            && !(1..=256).contains(&threads)
        {
            return Err((vec![Key("threads")], format!("must be 1 to 256 when given, got {threads}")));
        }
        for (field, values) in [("mean", &self.input.mean), ("std", &self.input.std)] {
            if values.len() != 3 {
                return Err((vec![Key("input"), Key(field)], format!("needs three values (one per channel), got {}", values.len())));
            }
            for (i, &v) in values.iter().enumerate() {
                if !v.is_finite() || (field == "std" && v == 0.0) {
                    let rule = if field == "std" { "a finite number other than 0" } else { "a finite number" };
                    return Err((vec![Key("input"), Key(field), Index(i)], format!("must be {rule}, got {v}")));
                }
            }
        }
        check_source(&self.file, &self.sha256, self.endpoint.as_ref())?;
        if let Some(masked_by) = &self.masked_by {
            if self.task != Task::Anomaly {
                return Err((vec![Key("masked_by")], "only an anomaly model reads masked frames: another task has no `masked_by`".into()));
            }
            if masked_by.model.is_empty() {
                return Err((vec![Key("masked_by"), Key("model")], "must name the masker (its manifest's `name`)".into()));
            }
            let digest = masked_by.sha256.len() == 64 && masked_by.sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            if !digest && !masked_by.sha256.starts_with(SERVED) {
                return Err((vec![Key("masked_by"), Key("sha256")], format!("must be 64 lower-case hex digits or `served:URL/MODEL`, got {:?}", masked_by.sha256)));
            }
            if masked_by.tiles.0 == 0 || masked_by.tiles.1 == 0 {
                return Err((vec![Key("masked_by"), Key("tiles")], format!("must be at least (1, 1), got {:?}", masked_by.tiles)));
            }
        }
        if self.input.resize == Resize::CentreCrop && self.task != Task::Anomaly {
            // A masker that never sees the frame's margins leaves the people there unmasked.
            return Err((vec![Key("input"), Key("resize")], "centre_crop cuts off the frame's margins: only an anomaly model may use it".into()));
        }
        let within = |path: Vec<PathSegment>, value: f32, low: f32, high: f32| {
            if (low..=high).contains(&value) { Ok(()) } else { Err((path, format!("must be {low} to {high}, got {value}"))) }
        };
        match &self.decoder {
            Decoder::GflDetector { levels, reg_max, classes, score_threshold, nms_iou, centre_offset, distance_scale, .. } => {
                if levels.is_empty() {
                    return Err((vec![Key("decoder"), Key("levels")], "needs at least one level".into()));
                }
                if let Some(i) = levels.iter().position(|l| l.stride == 0) {
                    return Err((vec![Key("decoder"), Key("levels"), Index(i), Key("stride")], "must be at least 1 pixel".into()));
                }
                if !(1..=64).contains(reg_max) {
                    return Err((vec![Key("decoder"), Key("reg_max")], format!("must be 1 to 64, got {reg_max}")));
                }
                if classes.is_empty() {
                    return Err((vec![Key("decoder"), Key("classes")], "needs at least one class to mask".into()));
                }
                within(vec![Key("decoder"), Key("score_threshold")], *score_threshold, 0.0, 1.0)?;
                within(vec![Key("decoder"), Key("nms_iou")], *nms_iou, 0.0, 1.0)?;
                within(vec![Key("decoder"), Key("centre_offset")], *centre_offset, 0.0, 1.0)?;
                if !(distance_scale.is_finite() && *distance_scale > 0.0) {
                    return Err((vec![Key("decoder"), Key("distance_scale")], format!("must be a finite number above 0, got {distance_scale}")));
                }
            }
            Decoder::Yolo { score_threshold, nms_iou, mask_threshold, classes, .. } => {
                within(vec![Key("decoder"), Key("score_threshold")], *score_threshold, 0.0, 1.0)?;
                within(vec![Key("decoder"), Key("nms_iou")], *nms_iou, 0.0, 1.0)?;
                within(vec![Key("decoder"), Key("mask_threshold")], *mask_threshold, 0.0, 1.0)?;
                if classes.is_empty() {
                    return Err((vec![Key("decoder"), Key("classes")], "needs at least one class to mask".into()));
                }
            }
            Decoder::CropMask { threshold, crop_expand, presence_threshold, size, .. } => {
                if size.len() != 2 || size.contains(&0) {
                    return Err((vec![Key("decoder"), Key("size")], format!("must be (width, height), both at least 1, got {size:?}")));
                }
                within(vec![Key("decoder"), Key("threshold")], *threshold, 0.0, 1.0)?;
                within(vec![Key("decoder"), Key("presence_threshold")], *presence_threshold, 0.0, 1.0)?;
                within(vec![Key("decoder"), Key("crop_expand")], *crop_expand, 1.0, 4.0)?;
            }
            Decoder::TwoStage { snippet, head, threshold, .. } => {
                if !(*threshold > 0.0 && *threshold < 1.0) {
                    return Err((vec![Key("decoder"), Key("threshold")], format!("must be above 0 and below 1, got {threshold}")));
                }
                for (field, value, high) in [("frames", snippet.frames, 256), ("stride", snippet.stride, 256)] {
                    if !(1..=high).contains(&value) {
                        return Err((vec![Key("decoder"), Key("snippet"), Key(field)], format!("must be 1 to {high}, got {value}")));
                    }
                }
                check_source(&head.file, &head.sha256, head.endpoint.as_ref()).map_err(|(mut path, message)| {
                    path.splice(0..0, [Key("decoder"), Key("head")]);
                    (path, message)
                })?;
                if !(1..=1024).contains(&head.snippets) {
                    return Err((vec![Key("decoder"), Key("head"), Key("snippets")], format!("must be 1 to 1024, got {}", head.snippets)));
                }
            }
            Decoder::Attributes { heads, .. } => {
                if heads.is_empty() {
                    return Err((vec![Key("decoder"), Key("heads")], "needs at least one attribute".into()));
                }
                if let Some(i) = heads.iter().position(|h| h.classes.len() < 2) {
                    return Err((vec![Key("decoder"), Key("heads"), Index(i), Key("classes")], "needs at least two classes".into()));
                }
            }
            Decoder::PersonTracks { threshold, size, fps, context_frames, .. } => {
                if !(*threshold > 0.0 && *threshold < 1.0) {
                    return Err((vec![Key("decoder"), Key("threshold")], format!("must be above 0 and below 1, got {threshold}")));
                }
                if !(16..=4096).contains(&size.0) || !(16..=4096).contains(&size.1) {
                    return Err((vec![Key("decoder"), Key("size")], format!("must be 16 to 4096 pixels a side, got {size:?}")));
                }
                if !(1..=240).contains(fps) {
                    return Err((vec![Key("decoder"), Key("fps")], format!("must be 1 to 240, got {fps}")));
                }
                if !(1..=600).contains(context_frames) {
                    return Err((vec![Key("decoder"), Key("context_frames")], format!("must be 1 to 600, got {context_frames}")));
                }
            }
            Decoder::ClipScore { threshold, clip_length, .. } => {
                if !(*threshold > 0.0 && *threshold < 1.0) {
                    return Err((vec![Key("decoder"), Key("threshold")], format!("must be above 0 and below 1, got {threshold}")));
                }
                if *clip_length == 0 {
                    return Err((vec![Key("decoder"), Key("clip_length")], "must be at least 1 frame".into()));
                }
            }
        }
        Ok(())
    }

    /// Where the model comes from, for provenance: the file's sha256, or for a served model
    /// `served:URL/MODEL[/VERSION]` (its bytes cannot be checked from here).
    pub fn source(&self) -> String {
        self.endpoint.as_ref().map_or_else(|| self.sha256.clone(), Endpoint::source)
    }

    /// Path of the ONNX file, given the manifest's own path.
    pub fn model_path(&self, manifest_path: &Path) -> PathBuf {
        manifest_path.parent().unwrap_or(Path::new(".")).join(&self.file)
    }
}

impl ModelManifest {
    /// How this run's masking differs from the masking the model was trained and measured on
    /// (its manifest's `masked_by`), one clause per difference; `None` when it does not, or the
    /// manifest does not say. Not an error: a board may want to see the model under another
    /// masker, but its figures are then outside the model's intended use.
    ///
    /// `masker` and `masker_sha256` are the run's masking model (its manifest `name`, and its
    /// file's sha256 or `served:…`), `refined` whether silhouettes are refined from its boxes.
    pub fn masking_mismatch(&self, masker: &str, masker_sha256: &str, refined: bool, masking: &crowdtwin_core::scenario::MaskingSettings) -> Option<String> {
        let trained = self.masked_by.as_ref()?;
        let mut differences = Vec::new();
        if masker != trained.model {
            differences.push(format!("masker {masker} instead of {}", trained.model));
        } else if masker_sha256 != trained.sha256 {
            // A file's sha256, or `served:…` for a masker on a server.
            let source = |s: &str| if s.starts_with(SERVED) { s.to_string() } else { format!("file sha256 {s}") };
            differences.push(format!("masker {masker} from {} instead of {}", source(masker_sha256), source(&trained.sha256)));
        }
        if refined {
            differences.push("silhouettes refined from its boxes".to_string());
        }
        if masking.style != trained.style {
            differences.push(format!("style {} instead of {}", masking.style.name(), trained.style.name()));
        }
        let tiles = |(c, r): (u32, u32)| if (c, r) == (1, 1) { "whole frame".to_string() } else { format!("{c}x{r} tiles") };
        if masking.tiles != trained.tiles {
            differences.push(format!("{} instead of {}", tiles(masking.tiles), tiles(trained.tiles)));
        }
        if masking.quarter_turns != trained.quarter_turns {
            differences.push(format!("quarter turns {}", if masking.quarter_turns { "on" } else { "off" }));
        }
        if masking.vehicles != trained.vehicles {
            differences.push(format!("vehicles {}", if masking.vehicles { "masked" } else { "left bare" }));
        }
        (!differences.is_empty()).then(|| {
            format!(
                "anomaly model `{}` was trained and measured on the masking of {} ({}, {}); this run masks otherwise: {} — its anomaly figures here are outside its intended use (its card)",
                self.name,
                trained.model,
                tiles(trained.tiles),
                trained.style.name(),
                differences.join(", ")
            )
        })
    }
}

/// A model (or a two-stage model's head) comes from exactly one of a file with its sha256 and an
/// endpoint; errors name `file` or `endpoint` (and the endpoint's field).
fn check_source(file: &str, sha256: &str, endpoint: Option<&Endpoint>) -> Result<(), (Vec<PathSegment>, String)> {
    use PathSegment::Key;
    match endpoint {
        None if file.is_empty() => Err((vec![Key("file")], "a model needs a `file` or an `endpoint`".into())),
        None => Ok(()),
        Some(_) if !file.is_empty() || !sha256.is_empty() => {
            Err((vec![Key("endpoint")], "a served model has no `file` or `sha256` (its bytes are the server's): give one or the other".into()))
        }
        Some(endpoint) => endpoint.validate(),
    }
}

/// How a served model's source begins, where a file's sha256 would stand ([`Endpoint::source`]).
pub const SERVED: &str = "served:";

impl Endpoint {
    /// `served:URL/MODEL[/VERSION]`: where a served model's results come from.
    pub fn source(&self) -> String {
        if self.version.is_empty() {
            format!("{SERVED}{}/{}", self.url, self.model)
        } else {
            format!("{SERVED}{}/{}/{}", self.url, self.model, self.version)
        }
    }

    /// Checks the fields (errors name the field under `endpoint`).
    pub(crate) fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::Key;
        let field = |name: &'static str| vec![Key("endpoint"), Key(name)];
        let rest = self.url.strip_prefix("http://").unwrap_or("");
        if rest.is_empty() || rest.contains('/') {
            return Err((field("url"), format!("must be `http://HOST:PORT` (gRPC, no TLS), got {:?}", self.url)));
        }
        if self.model.is_empty() {
            return Err((field("model"), "must name the model on the server".into()));
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0 && self.timeout_s <= 3600.0) {
            return Err((field("timeout_s"), format!("must be above 0 and at most 3600 seconds, got {}", self.timeout_s)));
        }
        if self.retries > 10 {
            return Err((field("retries"), format!("must be 0 to 10, got {}", self.retries)));
        }
        if !(1..=2048).contains(&self.max_message_mib) {
            return Err((field("max_message_mib"), format!("must be 1 to 2048, got {}", self.max_message_mib)));
        }
        Ok(())
    }
}

/// The lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, std::io::Error> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path)?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_out_of_range_values_are_refused_with_line_column_and_field() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/nanodet.ron");
        let good = std::fs::read_to_string(&path).unwrap();
        assert!(ModelManifest::load(&path).is_ok());
        let dir = std::env::temp_dir().join(format!("crowdtwin-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let line_of = |needle: &str| good.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let std_line = line_of("std:");
        let score_line = line_of("score_threshold:");
        let score = good[good.find("score_threshold:").unwrap()..].split(',').next().unwrap().to_string();
        let std = good[good.find("std:").unwrap()..].split(']').next().unwrap().to_string() + "]";
        let pinned = ModelManifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/anomaly_boxes.ron")).unwrap();
        assert_eq!((pinned.threads, ModelManifest::load(&path).unwrap().threads), (Some(1), None));
        for (bad, field, line) in [
            (good.replacen(&std, "std: [0.0, 1.0, 1.0]", 1), "input.std[0]", std_line),
            (good.replacen(&std, "std: [1.0, NaN, 1.0]", 1), "input.std[1]", std_line),
            (good.replacen(&score, "score_threshold: inf", 1), "decoder.score_threshold", score_line),
            (good.replacen(&score, "score_threshold: NaN", 1), "decoder.score_threshold", score_line),
            (good.replacen("    decoder:", "    threads: Some(0),\n    decoder:", 1), "threads", line_of("decoder:")),
        ] {
            let file = dir.join("bad.ron");
            std::fs::write(&file, &bad).unwrap();
            let error = ModelManifest::load(&file).unwrap_err().to_string();
            assert!(error.contains(&format!("bad.ron:{line}:")) && error.contains(&format!("field `{field}`")), "{error}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_manifest_names_a_file_or_an_endpoint_never_both() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/nanodet.ron");
        let good = std::fs::read_to_string(&path).unwrap();
        let file_line = good.lines().find(|l| l.trim_start().starts_with("file:")).unwrap().to_string();
        let sha_line = good.lines().find(|l| l.trim_start().starts_with("sha256:")).unwrap().to_string();
        let endpoint = |fields: &str| format!("    endpoint: Some((url: \"http://127.0.0.1:8081\", model: \"nanodet\"{fields})),");
        let served = good.replace(&file_line, &endpoint("")).replace(&(sha_line.clone() + "\n"), "");
        let dir = std::env::temp_dir().join(format!("crowdtwin-manifest-endpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.ron");
        std::fs::write(&file, &served).unwrap();
        let manifest = ModelManifest::load(&file).unwrap();
        assert_eq!(manifest.source(), "served:http://127.0.0.1:8081/nanodet");
        assert_eq!(manifest.endpoint.as_ref().map(|e| (e.timeout_s, e.retries, e.max_message_mib)), Some((30.0, 2, 64)));
        for (bad, field) in [
            (good.replace(&file_line, &(file_line.clone() + "\n" + &endpoint(""))), "endpoint"),
            (good.replace(&file_line, "").replace(&sha_line, ""), "file"),
            (served.replace("model: \"nanodet\")", "model: \"nanodet\", timeout_s: NaN)"), "endpoint.timeout_s"),
            (served.replace("model: \"nanodet\")", "model: \"nanodet\", retries: 11)"), "endpoint.retries"),
            (served.replace("http://127.0.0.1:8081", "https://example.org/v2"), "endpoint.url"),
            (served.replace("resize: letterbox", "resize: centre_crop"), "input.resize"),
        ] {
            std::fs::write(&file, &bad).unwrap();
            let error = ModelManifest::load(&file).unwrap_err().to_string();
            assert!(error.contains("m.ron:") && error.contains(&format!("field `{field}`")), "{error}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_run_masking_otherwise_than_the_anomaly_model_was_trained_on_is_told_each_difference() {
        use crowdtwin_core::scenario::{MaskStyle, MaskingSettings};
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let manifest = ModelManifest::load(&models.join("anomaly_tracks.ron")).unwrap();
        let trained = manifest.masked_by.clone().expect("the default anomaly model states the masking it was trained on");
        let same = MaskingSettings { style: trained.style, tiles: trained.tiles, quarter_turns: trained.quarter_turns, vehicles: trained.vehicles, ..Default::default() };
        assert_eq!(manifest.masking_mismatch(&trained.model, &trained.sha256, false, &same), None);
        let other = MaskingSettings { tiles: (2, 2), style: MaskStyle::Solid, quarter_turns: !trained.quarter_turns, ..same.clone() };
        let told = manifest.masking_mismatch("nanodet-g-416-coco", &"ab".repeat(32), true, &other).unwrap();
        for clause in [
            format!("masker nanodet-g-416-coco instead of {}", trained.model),
            "silhouettes refined from its boxes".into(),
            "style solid instead of outlined".into(),
            "2x2 tiles instead of whole frame".into(),
            "quarter turns on".into(),
        ] {
            assert!(told.contains(&clause), "{clause:?} missing from {told:?}");
        }
        assert!(!told.contains("vehicles"), "{told}");
        let retrained = manifest.masking_mismatch(&trained.model, &"ab".repeat(32), false, &same).unwrap();
        assert!(retrained.contains(&format!("from file sha256 {} instead of file sha256 {}", "ab".repeat(32), trained.sha256)), "{retrained}");
        let served = manifest.masking_mismatch(&trained.model, "served:http://127.0.0.1:8081/yolov5s", false, &same).unwrap();
        assert!(served.contains(&format!("from served:http://127.0.0.1:8081/yolov5s instead of file sha256 {}", trained.sha256)), "{served}");
        let vehicles = manifest.masking_mismatch(&trained.model, &trained.sha256, false, &MaskingSettings { vehicles: !trained.vehicles, ..same.clone() }).unwrap();
        assert!(vehicles.contains(if trained.vehicles { "vehicles left bare" } else { "vehicles masked" }), "{vehicles}");
        // A manifest that does not say is not second-guessed.
        let baseline = ModelManifest::load(&models.join("anomaly_mil.ron")).unwrap();
        assert_eq!((baseline.masked_by.as_ref(), baseline.masking_mismatch("nanodet-g-416-coco", "", true, &other)), (None, None));
    }

    #[test]
    fn masked_by_belongs_to_anomaly_models_and_a_bad_one_names_its_field() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let tracks = std::fs::read_to_string(models.join("anomaly_tracks.ron")).unwrap();
        let nanodet = std::fs::read_to_string(models.join("nanodet.ron")).unwrap();
        let block = &tracks[tracks.find("    masked_by:").unwrap()..tracks.find("    decoder:").unwrap()];
        let sha = block.lines().find(|l| l.contains("sha256:")).unwrap();
        let tiles = block.lines().find(|l| l.contains("tiles:")).unwrap();
        let dir = std::env::temp_dir().join(format!("crowdtwin-manifest-masked-by-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (bad, field) in [
            (nanodet.replacen("    decoder:", &format!("{block}    decoder:"), 1), "masked_by"),
            (tracks.replacen(sha, "        sha256: \"not-a-digest\",", 1), "masked_by.sha256"),
            (tracks.replacen(sha, &sha.to_uppercase().replace("SHA256", "sha256"), 1), "masked_by.sha256"),
            (tracks.replacen("        model: \"yolov5s-coco-384x640\",", "        model: \"\",", 1), "masked_by.model"),
            (tracks.replacen(tiles, "        tiles: (0, 1),", 1), "masked_by.tiles"),
        ] {
            let file = dir.join("m.ron");
            std::fs::write(&file, &bad).unwrap();
            let error = ModelManifest::load(&file).unwrap_err().to_string();
            assert!(error.contains("m.ron:") && error.contains(&format!("field `{field}`")), "{error}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
