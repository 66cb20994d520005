//! A detector run by ONNX Runtime: pre-processing, inference and decoding with NMS, all as the
//! manifest states — NanoDet-style GFL boxes, or an Ultralytics YOLO detection or segmentation
//! export (boxes and true per-instance silhouettes).

use crate::manifest::{Decoder, GflLevel, MaskClass, MaskKind, ModelManifest, Task};
use crate::preprocess::{fill_input, Fit};
use crate::silhouette::RegionMask;
use crate::model::{shape_matches, Model};
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use ndarray::ArrayViewD;
use std::path::Path;

/// One detection in frame pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// Class index in the model's output.
    pub class_id: usize,
    /// What it means for masking.
    pub kind: MaskKind,
    /// Confidence in [0, 1].
    pub score: f32,
    /// `[x0, y0, x1, y1]` in frame pixels (continuous coordinates).
    pub bbox: [f32; 4],
    /// The instance's own silhouette in frame pixels, from a segmentation model (none: the box is what is known).
    pub mask: Option<RegionMask>,
}

/// A loaded detector.
pub struct Detector {
    model: Model,
    /// The manifest it was loaded from.
    pub manifest: ModelManifest,
    /// sha256 of the ONNX file, as verified at load.
    pub sha256: String,
    input_size: (usize, usize),
}

impl Detector {
    /// Loads the model a manifest names, checking its hash and every tensor the decoder uses.
    pub fn load(manifest_path: &Path, threads: usize) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(manifest_path)?;
        if manifest.task != Task::Masking {
            return Err(VisionError::Mismatch(format!("{}: task is {:?}, a masker needs `masking`", manifest_path.display(), manifest.task)));
        }
        let model = Model::load(&manifest, manifest_path, threads)?;
        let sha256 = model.sha256.clone();
        let input_size = manifest.input.image_size()?;
        let detector = Detector { model, manifest, sha256, input_size };
        detector.check_tensors(manifest_path)?;
        Ok(detector)
    }

    /// Compares the model's declared tensors with what the manifest's decoder expects.
    fn check_tensors(&self, manifest_path: &Path) -> Result<(), VisionError> {
        self.model.check_input(&self.manifest.input.name, &self.manifest.input.shape)?;
        let (levels, reg_max, classes) = match &self.manifest.decoder {
            Decoder::GflDetector { levels, reg_max, classes, .. } => (levels, reg_max, classes),
            Decoder::Yolo { output, prototypes, classes, .. } => return self.check_yolo(manifest_path, output, prototypes.as_deref(), classes),
            _ => return Err(VisionError::Mismatch(format!("{}: a masker needs the `gfl_detector` or `yolo` decoder", manifest_path.display()))),
        };
        let (w, h) = self.input_size;
        for level in levels {
            let anchors = ((w as u32).div_ceil(level.stride) * (h as u32).div_ceil(level.stride)) as i64;
            let class_count = self.class_count(level)?;
            if let Some(bad) = classes.iter().find(|c| c.id >= class_count) {
                return Err(VisionError::Mismatch(format!(
                    "{}: class {} (`{}`) is beyond the model's {class_count} classes",
                    manifest_path.display(),
                    bad.id,
                    bad.name
                )));
            }
            for (name, expected) in [
                (&level.scores, vec![1, anchors, class_count as i64]),
                (&level.boxes, vec![1, anchors, 4 * (*reg_max as i64 + 1)]),
            ] {
                let actual = self.model.output_shape(name)?;
                if !shape_matches(actual, &expected) {
                    return Err(VisionError::Mismatch(format!(
                        "{}: output `{name}` (stride {}) expected shape {expected:?}, the model's is {actual:?}",
                        manifest_path.display(),
                        level.stride
                    )));
                }
            }
        }
        Ok(())
    }

    /// A YOLO export: `output` is `[1, 4 + classes (+ coefficients), anchors]`, `prototypes`
    /// (when segmenting) `[1, coefficients, H/4, W/4]` of the input `H × W`.
    fn check_yolo(&self, manifest_path: &Path, output: &str, prototypes: Option<&str>, classes: &[MaskClass]) -> Result<(), VisionError> {
        let at = manifest_path.display();
        let shape = |name: &str| self.model.output_shape(name).map(<[i64]>::to_vec);
        let detections = shape(output)?;
        let coefficients = match prototypes {
            Some(name) => {
                let (w, h) = self.input_size;
                let protos = shape(name)?;
                let expected = [1, protos.get(1).copied().unwrap_or(-1).max(1), (h / 4) as i64, (w / 4) as i64];
                if protos.len() != 4 || !shape_matches(&protos, &expected) {
                    return Err(VisionError::Mismatch(format!("{at}: output `{name}` expected shape {expected:?} (prototypes at a quarter of the input), the model's is {protos:?}")));
                }
                expected[1]
            }
            None => 0,
        };
        if detections.len() != 3 || detections[0] != 1 || detections[1] <= 4 + coefficients {
            return Err(VisionError::Mismatch(format!(
                "{at}: output `{output}` expected shape [1, 4 + classes{}, anchors], the model's is {detections:?}",
                if coefficients > 0 { format!(" + {coefficients} coefficients") } else { String::new() }
            )));
        }
        let class_count = detections[1] - 4 - coefficients;
        if let Some(bad) = classes.iter().find(|c| c.id as i64 >= class_count) {
            return Err(VisionError::Mismatch(format!("{at}: class {} (`{}`) is beyond the model's {class_count} classes (output `{output}` {detections:?})", bad.id, bad.name)));
        }
        Ok(())
    }

    fn class_count(&self, level: &GflLevel) -> Result<usize, VisionError> {
        let dims = self.model.output_shape(&level.scores)?;
        match dims.last() {
            Some(&n) if n > 0 => Ok(n as usize),
            _ => Err(VisionError::Mismatch(format!("output `{}` has no class dimension (shape {dims:?})", level.scores))),
        }
    }

    /// (width, height) of the model input.
    pub fn input_size(&self) -> (usize, usize) {
        self.input_size
    }

    /// Runs the model on a frame and returns the kept classes' detections in frame pixels
    /// (with their silhouettes, for a segmentation model).
    pub fn detect(&mut self, frame: &RgbaImage) -> Result<Vec<Detection>, VisionError> {
        let (tensor, fit) = fill_input(frame, &self.manifest.input, self.input_size);
        let names = self.output_names();
        let outputs = self.model.run(&self.manifest.input.name, tensor.view().into_dyn(), &names.iter().map(String::as_str).collect::<Vec<_>>())?;
        let fetched = |name: &str| outputs[names.iter().position(|n| n == name).expect("every decoder output is fetched")].view();
        let frame_size = (frame.width, frame.height);
        match self.manifest.decoder.clone() {
            Decoder::Yolo { output, prototypes, score_threshold, nms_iou, mask_threshold, classes } => {
                let predictions = fetched(&output);
                let protos = prototypes.map(|name| fetched(&name).to_owned());
                let params = YoloParams { score_threshold, nms_iou, mask_threshold, input_size: self.input_size, fit, frame: frame_size };
                Ok(decode_yolo(&predictions, protos.as_ref(), &classes, &params))
            }
            Decoder::GflDetector { levels, reg_max, scores_are_probabilities, centre_offset, distance_scale, score_threshold, nms_iou, classes } => {
                let mut candidates = Vec::new();
                for level in &levels {
                    let (scores, boxes) = (fetched(&level.scores), fetched(&level.boxes));
                    let grid_w = (self.input_size.0 as u32).div_ceil(level.stride) as usize;
                    let params = GflParams { stride: level.stride as f32, grid_w, reg_max, scores_are_probabilities, centre_offset, distance_scale, score_threshold };
                    decode_level(&scores, &boxes, &params, &classes, &mut candidates);
                }
                let mut kept = non_maximum_suppression(candidates, nms_iou);
                for d in &mut kept {
                    d.bbox = to_frame(d.bbox, fit, frame_size);
                }
                Ok(kept)
            }
            _ => Err(VisionError::Mismatch(format!("model `{}` has no detector decoder", self.manifest.name))),
        }
    }

    /// Every output the decoder reads.
    fn output_names(&self) -> Vec<String> {
        match &self.manifest.decoder {
            Decoder::Yolo { output, prototypes, .. } => std::iter::once(output.clone()).chain(prototypes.clone()).collect(),
            Decoder::GflDetector { levels, .. } => levels.iter().flat_map(|l| [l.scores.clone(), l.boxes.clone()]).collect(),
            _ => Vec::new(),
        }
    }

    /// The decoder's NMS IoU.
    pub fn nms_iou(&self) -> f32 {
        match self.manifest.decoder {
            Decoder::GflDetector { nms_iou, .. } | Decoder::Yolo { nms_iou, .. } => nms_iou,
            _ => unreachable!("checked at load"),
        }
    }
}

/// A box in input pixels as frame pixels, clipped to the frame.
fn to_frame(b: [f32; 4], fit: Fit, (width, height): (u32, u32)) -> [f32; 4] {
    [
        ((b[0] - fit.pad_x) / fit.scale_x).clamp(0.0, width as f32),
        ((b[1] - fit.pad_y) / fit.scale_y).clamp(0.0, height as f32),
        ((b[2] - fit.pad_x) / fit.scale_x).clamp(0.0, width as f32),
        ((b[3] - fit.pad_y) / fit.scale_y).clamp(0.0, height as f32),
    ]
}

/// What a YOLO export's decoding needs besides its outputs.
struct YoloParams {
    score_threshold: f32,
    nms_iou: f32,
    mask_threshold: f32,
    /// (width, height) of the model input.
    input_size: (usize, usize),
    fit: Fit,
    /// (width, height) of the frame.
    frame: (u32, u32),
}

/// Decodes a YOLO export (see [`Decoder::Yolo`]): each anchor's best class, kept above the
/// threshold when listed, class-wise NMS, then each kept instance's mask — the sigmoid of its
/// coefficients over the prototypes, cropped to its box at prototype resolution, sampled
/// bilinearly (half-pixel centres, as PyTorch's `interpolate(…, align_corners=False)`) at every
/// frame pixel's place in the input, and thresholded.
fn decode_yolo(predictions: &ArrayViewD<f32>, protos: Option<&ndarray::ArrayD<f32>>, classes: &[MaskClass], p: &YoloParams) -> Vec<Detection> {
    let (rows, anchors) = (predictions.shape()[1], predictions.shape()[2]);
    let coefficients = protos.map_or(0, |m| m.shape()[1]);
    let class_count = rows - 4 - coefficients;
    let mut candidates = Vec::new();
    let mut anchor_of = Vec::new();
    for anchor in 0..anchors {
        let (mut best, mut score) = (0, f32::MIN);
        for c in 0..class_count {
            let s = predictions[[0, 4 + c, anchor]];
            if s > score {
                (best, score) = (c, s);
            }
        }
        let Some(class) = classes.iter().find(|c| c.id == best) else { continue };
        if score < p.score_threshold {
            continue;
        }
        let (cx, cy, w, h) = (predictions[[0, 0, anchor]], predictions[[0, 1, anchor]], predictions[[0, 2, anchor]], predictions[[0, 3, anchor]]);
        candidates.push(Detection { class_id: class.id, kind: class.kind, score, bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], mask: None });
        anchor_of.push(anchor);
    }
    nms_indices(&candidates, p.nms_iou)
        .into_iter()
        .map(|i| {
            let input_box = candidates[i].bbox;
            let mask = protos.map(|m| instance_mask(m, predictions, anchor_of[i], 4 + class_count, input_box, p));
            Detection { bbox: to_frame(input_box, p.fit, p.frame), mask, ..candidates[i].clone() }
        })
        .collect()
}

/// One instance's silhouette in frame pixels (see [`decode_yolo`]).
fn instance_mask(protos: &ndarray::ArrayD<f32>, predictions: &ArrayViewD<f32>, anchor: usize, first: usize, input_box: [f32; 4], p: &YoloParams) -> RegionMask {
    let (count, mh, mw) = (protos.shape()[1], protos.shape()[2], protos.shape()[3]);
    let (iw, ih) = (p.input_size.0 as f32, p.input_size.1 as f32);
    let (sx, sy) = (mw as f32 / iw, mh as f32 / ih);
    // The box at prototype resolution; a prototype pixel counts when its index lies inside.
    let (x1, y1, x2, y2) = (input_box[0] * sx, input_box[1] * sy, input_box[2] * sx, input_box[3] * sy);
    let coefficient: Vec<f32> = (0..count).map(|k| predictions[[0, first + k, anchor]]).collect();
    let mut small = vec![0f32; mh * mw];
    for r in 0..mh {
        for c in 0..mw {
            let (fc, fr) = (c as f32, r as f32);
            if fc >= x1 && fc < x2 && fr >= y1 && fr < y2 {
                let logit: f32 = (0..count).map(|k| coefficient[k] * protos[[0, k, r, c]]).sum();
                small[r * mw + c] = 1.0 / (1.0 + (-logit).exp());
            }
        }
    }
    // Bilinear sample with half-pixel centres and clamped edges.
    let sample = |x: f32, y: f32| {
        let (x, y) = ((x * sx - 0.5).max(0.0), (y * sy - 0.5).max(0.0));
        let (x0, y0) = ((x.floor() as usize).min(mw - 1), (y.floor() as usize).min(mh - 1));
        let (x1, y1) = ((x0 + 1).min(mw - 1), (y0 + 1).min(mh - 1));
        let (ax, ay) = (x - x0 as f32, y - y0 as f32);
        let top = small[y0 * mw + x0] * (1.0 - ax) + small[y0 * mw + x1] * ax;
        let bottom = small[y1 * mw + x0] * (1.0 - ax) + small[y1 * mw + x1] * ax;
        top * (1.0 - ay) + bottom * ay
    };
    let frame_box = to_frame(input_box, p.fit, p.frame);
    let (fx0, fy0) = (frame_box[0].floor() as u32, frame_box[1].floor() as u32);
    let (fx1, fy1) = ((frame_box[2].ceil() as u32).min(p.frame.0), (frame_box[3].ceil() as u32).min(p.frame.1));
    let (width, height) = (fx1.saturating_sub(fx0), fy1.saturating_sub(fy0));
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for y in fy0..fy1 {
        for x in fx0..fx1 {
            // The frame pixel's centre in input pixels.
            let (u, v) = ((x as f32 + 0.5) * p.fit.scale_x + p.fit.pad_x, (y as f32 + 0.5) * p.fit.scale_y + p.fit.pad_y);
            pixels.push(sample(u, v) > p.mask_threshold);
        }
    }
    RegionMask { x0: fx0, y0: fy0, width, height, pixels }
}

struct GflParams {
    stride: f32,
    grid_w: usize,
    reg_max: usize,
    scores_are_probabilities: bool,
    centre_offset: f32,
    distance_scale: f32,
    score_threshold: f32,
}

/// Decodes one level's anchors into candidate detections (input pixels).
fn decode_level(scores: &ArrayViewD<f32>, boxes: &ArrayViewD<f32>, p: &GflParams, classes: &[MaskClass], out: &mut Vec<Detection>) {
    let anchors = scores.shape()[1];
    let bins = p.reg_max + 1;
    for anchor in 0..anchors {
        for class in classes {
            let raw = scores[[0, anchor, class.id]];
            let score = if p.scores_are_probabilities { raw } else { 1.0 / (1.0 + (-raw).exp()) };
            if score < p.score_threshold {
                continue;
            }
            let (col, row) = ((anchor % p.grid_w) as f32, (anchor / p.grid_w) as f32);
            let (cx, cy) = ((col + p.centre_offset) * p.stride, (row + p.centre_offset) * p.stride);
            let mut side = [0f32; 4];
            for (s, distance) in side.iter_mut().enumerate() {
                let logits: Vec<f32> = (0..bins).map(|k| boxes[[0, anchor, s * bins + k]]).collect();
                let max = logits.iter().copied().fold(f32::MIN, f32::max);
                let weights: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
                let total: f32 = weights.iter().sum();
                *distance = weights.iter().enumerate().map(|(k, w)| k as f32 * w).sum::<f32>() / total * p.stride * p.distance_scale;
            }
            out.push(Detection {
                class_id: class.id,
                kind: class.kind,
                score,
                bbox: [cx - side[0], cy - side[1], cx + side[2], cy + side[3]],
                mask: None,
            });
        }
    }
}

impl Detector {
    /// Detects on the whole frame and on `cols × rows` overlapping tiles (each fitted to the
    /// model input on its own, so small people are seen larger), merging everything with
    /// [`merge_tiled`]. Tiles overlap by a quarter of their size so nobody is only ever cut in half.
    pub fn detect_tiled(&mut self, frame: &RgbaImage, tiles: (u32, u32)) -> Result<Vec<Detection>, VisionError> {
        let whole = self.detect(frame)?;
        let mut parts = Vec::new();
        if tiles.0 * tiles.1 > 1 {
            for [x0, y0, x1, y1] in tile_rects(frame.width, frame.height, tiles) {
                let mut tile = RgbaImage::new(x1 - x0, y1 - y0);
                for y in y0..y1 {
                    let (src, dst) = (((y * frame.width + x0) * 4) as usize, ((y - y0) * tile.width * 4) as usize);
                    let len = (tile.width * 4) as usize;
                    tile.pixels[dst..dst + len].copy_from_slice(&frame.pixels[src..src + len]);
                }
                for mut d in self.detect(&tile)? {
                    d.bbox = [d.bbox[0] + x0 as f32, d.bbox[1] + y0 as f32, d.bbox[2] + x0 as f32, d.bbox[3] + y0 as f32];
                    if let Some(mask) = &mut d.mask {
                        (mask.x0, mask.y0) = (mask.x0 + x0, mask.y0 + y0);
                    }
                    parts.push(d);
                }
            }
        }
        Ok(merge_tiled(whole, parts, self.nms_iou()))
    }
}

impl Detector {
    /// Detects on `frame` turned a quarter turn clockwise and a quarter turn anticlockwise
    /// ([`QuarterTurn`]), each turned frame also on `tiles` transposed (a landscape frame's
    /// `cols × rows` become the portrait frame's `rows × cols`), and returns every detection in
    /// the upright frame's pixels, silhouettes included. A person lying across the frame stands
    /// upright in one of the turned frames, as the people a detector was trained on do; which way
    /// their head points decides which turn finds them, so both are run.
    pub fn detect_turned(&mut self, frame: &RgbaImage, tiles: (u32, u32)) -> Result<Vec<Detection>, VisionError> {
        let mut out = Vec::new();
        for turn in [QuarterTurn::Clockwise, QuarterTurn::Anticlockwise] {
            for mut d in self.detect_tiled(&turn.turn(frame), (tiles.1, tiles.0))? {
                d.bbox = turn.box_back(d.bbox, frame.width, frame.height);
                d.mask = d.mask.map(|m| turn.region_back(&m, frame.width, frame.height));
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// A quarter turn of a frame. A `width × height` frame turned is `height × width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuarterTurn {
    /// The top edge becomes the right edge.
    Clockwise,
    /// The top edge becomes the left edge.
    Anticlockwise,
}

impl QuarterTurn {
    /// Where pixel `(u, v)` of the turned frame lies in the upright `width × height` frame.
    fn pixel_back(self, (u, v): (u32, u32), width: u32, height: u32) -> (u32, u32) {
        match self {
            QuarterTurn::Clockwise => (v, height - 1 - u),
            QuarterTurn::Anticlockwise => (width - 1 - v, u),
        }
    }

    /// `frame` turned.
    pub fn turn(self, frame: &RgbaImage) -> RgbaImage {
        let (width, height) = (frame.width, frame.height);
        let mut turned = RgbaImage::new(height, width);
        for v in 0..width {
            for u in 0..height {
                let (x, y) = self.pixel_back((u, v), width, height);
                let (src, dst) = (((y * width + x) * 4) as usize, ((v * height + u) * 4) as usize);
                turned.pixels[dst..dst + 4].copy_from_slice(&frame.pixels[src..src + 4]);
            }
        }
        turned
    }

    /// A box `[x0, y0, x1, y1]` of the turned frame (continuous pixel coordinates) in the upright
    /// `width × height` frame.
    pub fn box_back(self, b: [f32; 4], width: u32, height: u32) -> [f32; 4] {
        let (w, h) = (width as f32, height as f32);
        match self {
            QuarterTurn::Clockwise => [b[1], h - b[2], b[3], h - b[0]],
            QuarterTurn::Anticlockwise => [w - b[3], b[0], w - b[1], b[2]],
        }
    }

    /// A silhouette of the turned frame in the upright `width × height` frame.
    pub fn region_back(self, region: &RegionMask, width: u32, height: u32) -> RegionMask {
        if region.width == 0 || region.height == 0 {
            // Nothing to turn back (a mask clamped away at the frame's edge): it marks no pixel wherever it lies.
            return RegionMask { x0: 0, y0: 0, width: 0, height: 0, pixels: Vec::new() };
        }
        let corners = [(region.x0, region.y0), (region.x0 + region.width - 1, region.y0 + region.height - 1)].map(|c| self.pixel_back(c, width, height));
        let (x0, y0) = (corners[0].0.min(corners[1].0), corners[0].1.min(corners[1].1));
        let mut back = RegionMask { x0, y0, width: region.height, height: region.width, pixels: vec![false; region.pixels.len()] };
        for j in 0..region.height {
            for i in 0..region.width {
                let (x, y) = self.pixel_back((region.x0 + i, region.y0 + j), width, height);
                back.pixels[((y - y0) * back.width + x - x0) as usize] = region.pixels[(j * region.width + i) as usize];
            }
        }
        back
    }
}

/// Merges a tiled pass so that it never exposes more than the whole frame alone: a box found on
/// a tile may hold only the part of a person the tile cut, and can outscore the whole-frame box
/// of the same person — plain NMS would then keep the part (a known failure of sliced
/// inference). So every whole-frame box is kept (they went through NMS among themselves), and a
/// tile box is added only where it overlaps no whole-frame box of its class (IoU above
/// `iou_threshold`, or 80 % of the tile box inside it); tile boxes go through NMS among themselves.
pub fn merge_tiled(whole: Vec<Detection>, tiles: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    let inside = |inner: &[f32; 4], outer: &[f32; 4]| {
        let w = (inner[2].min(outer[2]) - inner[0].max(outer[0])).max(0.0);
        let h = (inner[3].min(outer[3]) - inner[1].max(outer[1])).max(0.0);
        let area = (inner[2] - inner[0]) * (inner[3] - inner[1]);
        area > 0.0 && w * h >= 0.8 * area
    };
    let extra: Vec<Detection> = non_maximum_suppression(tiles, iou_threshold)
        .into_iter()
        .filter(|t| whole.iter().all(|w| w.class_id != t.class_id || (iou(&w.bbox, &t.bbox) <= iou_threshold && !inside(&t.bbox, &w.bbox))))
        .collect();
    let mut kept = whole;
    kept.extend(extra);
    // The same order as NMS gives, so the result does not depend on where a box came from.
    kept.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.class_id.cmp(&b.class_id)).then(a.bbox[0].total_cmp(&b.bbox[0])).then(a.bbox[1].total_cmp(&b.bbox[1]))
    });
    kept
}

/// Overlapping tile rectangles `[x0, y0, x1, y1)` covering a frame in `cols × rows` tiles.
pub fn tile_rects(width: u32, height: u32, (cols, rows): (u32, u32)) -> Vec<[u32; 4]> {
    let span = |length: u32, count: u32, index: u32| {
        let step = length as f32 / count as f32;
        let size = (step * 1.25).min(length as f32);
        let start = (index as f32 * step - (size - step) * 0.5).clamp(0.0, length as f32 - size);
        (start.round() as u32, (start + size).round().min(length as f32) as u32)
    };
    let mut rects = Vec::new();
    for row in 0..rows {
        for col in 0..cols {
            let ((x0, x1), (y0, y1)) = (span(width, cols, col), span(height, rows, row));
            rects.push([x0, y0, x1, y1]);
        }
    }
    rects
}

/// Intersection over union of two boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Greedy per-class NMS; the result is sorted by descending score (ties by position), so it
/// does not depend on the order candidates arrived in.
pub fn non_maximum_suppression(candidates: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    let kept = nms_indices(&candidates, iou_threshold);
    let mut slots: Vec<Option<Detection>> = candidates.into_iter().map(Some).collect();
    kept.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The indices [`non_maximum_suppression`] keeps, in its order.
fn nms_indices(candidates: &[Detection], iou_threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        b.score.total_cmp(&a.score).then(a.class_id.cmp(&b.class_id)).then(a.bbox[0].total_cmp(&b.bbox[0])).then(a.bbox[1].total_cmp(&b.bbox[1]))
    });
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        let candidate = &candidates[i];
        if kept.iter().all(|&k| candidates[k].class_id != candidate.class_id || iou(&candidates[k].bbox, &candidate.bbox) <= iou_threshold) {
            kept.push(i);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(score: f32, bbox: [f32; 4], class_id: usize) -> Detection {
        Detection { class_id, kind: MaskKind::Person, score, bbox, mask: None }
    }

    #[test]
    fn a_quarter_turn_and_back_puts_every_pixel_box_and_silhouette_where_it_was() {
        // A 5 × 3 frame whose pixels are all different, and the pixel (3, 1) marked.
        let mut frame = RgbaImage::new(5, 3);
        for (i, px) in frame.pixels.chunks_mut(4).enumerate() {
            px[0] = i as u8;
        }
        for turn in [QuarterTurn::Clockwise, QuarterTurn::Anticlockwise] {
            let turned = turn.turn(&frame);
            assert_eq!((turned.width, turned.height), (3, 5));
            // Every turned pixel came from the upright pixel pixel_back names.
            for v in 0..5 {
                for u in 0..3 {
                    let (x, y) = turn.pixel_back((u, v), 5, 3);
                    assert_eq!(turned.pixels[((v * 3 + u) * 4) as usize], frame.pixels[((y * 5 + x) * 4) as usize]);
                }
            }
            // The marked pixel's box and a one-pixel silhouette of it come back to (3, 1).
            let at = (0..15).find(|&i| turned.pixels[i * 4] == 8).unwrap() as u32;
            let (u, v) = (at % 3, at / 3);
            assert_eq!(turn.box_back([u as f32, v as f32, u as f32 + 1.0, v as f32 + 1.0], 5, 3), [3.0, 1.0, 4.0, 2.0], "{turn:?}");
            let region = RegionMask { x0: u, y0: v, width: 1, height: 1, pixels: vec![true] };
            assert_eq!(turn.region_back(&region, 5, 3), RegionMask { x0: 3, y0: 1, width: 1, height: 1, pixels: vec![true] });
        }
        // Which way is which: turned clockwise, the upright frame's top-left pixel is the turned
        // frame's top-right one; turned anticlockwise, its bottom-left one.
        assert_eq!(QuarterTurn::Clockwise.turn(&frame).pixels[2 * 4], frame.pixels[0]);
        assert_eq!(QuarterTurn::Anticlockwise.turn(&frame).pixels[(4 * 3) * 4], frame.pixels[0]);
        // An empty silhouette stays empty.
        let empty = RegionMask { x0: 3, y0: 5, width: 0, height: 0, pixels: vec![] };
        assert!(QuarterTurn::Clockwise.region_back(&empty, 5, 3).pixels.is_empty());
        // A 2 × 3 L-shaped silhouette at the turned frame's top left, back in the upright frame.
        let l = RegionMask { x0: 0, y0: 0, width: 2, height: 3, pixels: vec![true, false, true, false, true, true] };
        let mut upright = vec![false; 15];
        QuarterTurn::Clockwise.region_back(&l, 5, 3).mark(&mut upright, 5);
        let mut expected = vec![false; 15];
        for (j, row) in [[true, false], [true, false], [true, true]].iter().enumerate() {
            for (i, &on) in row.iter().enumerate() {
                let (x, y) = QuarterTurn::Clockwise.pixel_back((i as u32, j as u32), 5, 3);
                expected[(y * 5 + x) as usize] = on;
            }
        }
        assert_eq!(upright, expected);
    }

    #[test]
    fn tiles_cover_the_frame_and_overlap() {
        let rects = tile_rects(640, 360, (3, 2));
        assert_eq!(rects.len(), 6);
        for y in 0..360 {
            for x in 0..640 {
                assert!(rects.iter().any(|r| x >= r[0] && x < r[2] && y >= r[1] && y < r[3]), "({x}, {y}) uncovered");
            }
        }
        assert!(rects[0][2] > rects[1][0], "neighbouring tiles overlap: {rects:?}");
        assert_eq!(tile_rects(640, 360, (1, 1)), vec![[0, 0, 640, 360]]);
    }

    #[test]
    fn a_box_cut_by_a_tile_edge_never_suppresses_the_whole_frame_box() {
        let person = |score: f32, bbox: [f32; 4]| Detection { class_id: 0, kind: MaskKind::Person, score, bbox, mask: None };
        // The whole frame sees a person at x 300–340; a tile ending at x = 320 sees its left
        // half, and scores it higher. Plain NMS keeps only the half (IoU 0.5 > 0.45).
        let whole = person(0.55, [300.0, 100.0, 340.0, 200.0]);
        let part = person(0.80, [300.0, 100.0, 320.0, 200.0]);
        let plain = non_maximum_suppression(vec![whole.clone(), part.clone()], 0.45);
        assert_eq!(plain, vec![part.clone()], "the failure the merge avoids");
        assert_eq!(merge_tiled(vec![whole.clone()], vec![part.clone()], 0.45), vec![whole.clone()], "the whole box survives, the part goes");
        // A part stopping a few pixels short of the tile edge is no different.
        let short = person(0.80, [300.0, 100.0, 316.0, 200.0]);
        assert_eq!(merge_tiled(vec![whole.clone()], vec![short], 0.45), vec![whole.clone()]);
        // A person only a tile saw is kept; a tile's duplicate of a whole-frame box is not.
        let elsewhere = person(0.7, [500.0, 50.0, 520.0, 120.0]);
        let duplicate = person(0.9, [301.0, 101.0, 341.0, 201.0]);
        assert_eq!(merge_tiled(vec![whole.clone()], vec![part, elsewhere.clone(), duplicate], 0.45), vec![elsewhere, whole]);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let kept = non_maximum_suppression(
            vec![
                det(0.6, [0.0, 0.0, 10.0, 10.0], 0),
                det(0.9, [1.0, 1.0, 11.0, 11.0], 0),
                det(0.5, [1.0, 1.0, 11.0, 11.0], 62),
                det(0.4, [50.0, 50.0, 60.0, 60.0], 0),
            ],
            0.5,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.5, 0.4]);
        assert!((iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 0.0, 3.0, 2.0]) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn gfl_decoding_puts_the_box_around_the_anchor() {
        // One anchor at column 1, row 0 of a stride-8 grid; all mass on bin 2 for every side.
        let reg_max = 3;
        let scores = ndarray::Array3::from_shape_fn((1, 2, 1), |(_, a, _)| if a == 1 { 0.8 } else { 0.1 }).into_dyn();
        let boxes = ndarray::Array3::from_shape_fn((1, 2, 16), |(_, _, i)| if i % 4 == 2 { 20.0 } else { 0.0 }).into_dyn();
        let params = GflParams { stride: 8.0, grid_w: 2, reg_max, scores_are_probabilities: true, centre_offset: 0.5, distance_scale: 1.0, score_threshold: 0.5 };
        let classes = [MaskClass { id: 0, name: "person".into(), kind: MaskKind::Person }];
        let mut out = Vec::new();
        decode_level(&scores.view(), &boxes.view(), &params, &classes, &mut out);
        assert_eq!(out.len(), 1);
        let b = out[0].bbox;
        // centre (12, 4), distance 2 bins × 8 px = 16 px each side.
        for (got, want) in b.iter().zip([-4.0, -12.0, 28.0, 20.0]) {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
    }
}
