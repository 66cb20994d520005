//! A vendor's black-box pipeline on the Open Inference Protocol: crowdtwin sends each camera's
//! raw frame and the service answers with its mask — and, optionally, its anomaly score and
//! region — so a system whose models are never handed over is measured like crowdtwin's own.
//!
//! The contract is stated as tensor names in a `task: pipeline` manifest:
//!
//! | tensor | direction | type and shape | meaning |
//! |---|---|---|---|
//! | `frame` | in | `UINT8 [1, H, W, 3]` | the camera's frame as rendered, RGB, rows top to bottom |
//! | `camera` (optional) | in | `INT64 [1]` | the camera's index, for a service that keeps per-camera state |
//! | `start` (optional) | in | `INT64 [1]` | 1 on a camera's first frame of a run (reset its state), else 0 |
//! | `mask` | out | `UINT8` or `BOOL [1, H, W]` | non-zero where the service masks |
//! | `score` (optional) | out | `FP32 [1]` | the frame's anomaly score in [0, 1] |
//! | `region` (optional) | out | `FP32 [1, 4]` | x0, y0, x1, y1 in frame pixels; x1 ≤ x0 for none |
//!
//! Calls go one at a time in tick order, like every served model's.

use crate::anomaly::AnomalyOutput;
use crate::manifest::{Endpoint, Task};
use crate::served::{describe, RawTensor, ServedModel};
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::scenario::{parse_checked, PathSegment};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// The grid a vendor's region box is laid on (columns, rows): region scores and alert regions
/// are cells, so the box is kept to within 1/32 of the frame's width and 1/18 of its height.
pub const REGION_GRID: (usize, usize) = (32, 18);

/// A `task: pipeline` manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PipelineManifest {
    /// Schema version (1).
    pub version: u32,
    /// The system's name.
    pub name: String,
    /// `pipeline`.
    pub task: Task,
    /// Where it is served.
    pub endpoint: Endpoint,
    /// Licence or terms of the system.
    pub licence: String,
    /// Its card (Markdown), relative to the manifest.
    pub card: String,
    /// The tensor names of the contract.
    pub contract: Contract,
}

/// The pipeline-level contract's tensor names (see the module's table).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Input: the frame, `UINT8 [1, H, W, 3]`.
    pub frame: String,
    /// Input: the camera's index, `INT64 [1]`.
    #[serde(default)]
    pub camera: Option<String>,
    /// Input: 1 on a camera's first frame of a run, else 0, `INT64 [1]` — the service's cue to
    /// start that camera afresh (runs of a suite share the server).
    #[serde(default)]
    pub start: Option<String>,
    /// Output: the mask, `UINT8` or `BOOL [1, H, W]`.
    pub mask: String,
    /// Output: the anomaly score, `FP32 [1]` (none: crowdtwin's `--ad-model` scores the masked frames).
    #[serde(default)]
    pub score: Option<String>,
    /// Output: the anomaly region, `FP32 [1, 4]`.
    #[serde(default)]
    pub region: Option<String>,
    /// Default alert threshold on `score`.
    #[serde(default = "half")]
    pub threshold: f32,
}

fn half() -> f32 {
    0.5
}

/// Whether the manifest at `path` describes a vendor pipeline (`task: pipeline`) rather than a model.
pub fn is_pipeline(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| is_pipeline_text(&text))
}

/// Whether manifest text describes a vendor pipeline (`task: pipeline`).
pub fn is_pipeline_text(text: &str) -> bool {
    #[derive(Deserialize)]
    struct TaskOnly {
        task: Task,
    }
    ron::Options::default().from_str::<TaskOnly>(text).is_ok_and(|t| t.task == Task::Pipeline)
}

impl PipelineManifest {
    /// Reads a pipeline manifest.
    ///
    /// # Errors
    /// A syntax error, unknown field or out-of-range value, naming file, line, column and field.
    pub fn load(path: &Path) -> Result<Self, VisionError> {
        let text = std::fs::read_to_string(path).map_err(|e| VisionError::Manifest(format!("{}: cannot read the manifest: {e}", path.display())))?;
        parse_checked(&text, path, PipelineManifest::validate).map_err(|e| VisionError::Manifest(e.to_string()))
    }

    fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::Key;
        if self.version != crate::manifest::MANIFEST_VERSION {
            return Err((vec![Key("version")], format!("manifest version {} is not supported", self.version)));
        }
        if self.task != Task::Pipeline {
            return Err((vec![Key("task")], "a pipeline manifest has `task: pipeline`".into()));
        }
        if self.contract.region.is_some() && self.contract.score.is_none() {
            return Err((vec![Key("contract"), Key("region")], "a region belongs to a score: name `score` too, or leave the region out".into()));
        }
        let t = self.contract.threshold;
        if !(t > 0.0 && t < 1.0) {
            return Err((vec![Key("contract"), Key("threshold")], format!("must be above 0 and below 1, got {t}")));
        }
        self.endpoint.validate()
    }
}

/// What the service answered for one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct VendorOutput {
    /// Per pixel, whether the service masks it (rows top to bottom).
    pub mask: Vec<bool>,
    /// Its anomaly score and region, when the contract has a score.
    pub anomaly: Option<AnomalyOutput>,
}

/// A connected vendor pipeline.
pub struct VendorPipeline {
    served: ServedModel,
    /// Its manifest.
    pub manifest: PipelineManifest,
    /// Cameras whose first frame of this run has been sent.
    started: std::collections::BTreeSet<u16>,
}

impl VendorPipeline {
    /// Connects to the service a pipeline manifest names and checks its declared tensors.
    ///
    /// # Errors
    /// A bad manifest, no answer from the endpoint, or a declared tensor whose name, type or
    /// shape differs from the contract (both named).
    pub fn load(path: &Path) -> Result<Self, VisionError> {
        let manifest = PipelineManifest::load(path)?;
        let at = path.display().to_string();
        let served = ServedModel::connect(&manifest.endpoint, &at)?;
        let c = &manifest.contract;
        let check = |list: &[crate::model::TensorInfo], kind: &str, name: &str, types: &[&str], dims: usize, last: Option<i64>| -> Result<(), VisionError> {
            let tensor = list.iter().find(|t| t.name == name).ok_or_else(|| {
                let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
                VisionError::Mismatch(format!("{at}: the service has no {kind} `{name}` (it has {names:?})"))
            })?;
            let shape_ok = tensor.shape.len() == dims && tensor.shape[0] <= 1 && last.is_none_or(|l| tensor.shape[dims - 1] == l || tensor.shape[dims - 1] < 0);
            if !types.contains(&tensor.datatype.as_str()) || !shape_ok {
                let expected = match (dims, last) {
                    (4, _) => "[1, H, W, 3]".to_string(),
                    (3, _) => "[1, H, W]".to_string(),
                    (_, Some(l)) => format!("[1, {l}]"),
                    _ => "[1]".to_string(),
                };
                return Err(VisionError::Mismatch(format!(
                    "{at}: {kind} `{name}` expected {} {expected}, the service declares {} {:?}",
                    types.join(" or "),
                    tensor.datatype,
                    tensor.shape
                )));
            }
            Ok(())
        };
        check(&served.inputs, "input", &c.frame, &["UINT8"], 4, Some(3))?;
        for name in c.camera.iter().chain(&c.start) {
            check(&served.inputs, "input", name, &["INT64"], 1, None)?;
        }
        check(&served.outputs, "output", &c.mask, &["UINT8", "BOOL"], 3, None)?;
        if let Some(score) = &c.score {
            check(&served.outputs, "output", score, &["FP32"], 1, None)?;
        }
        if let Some(region) = &c.region {
            check(&served.outputs, "output", region, &["FP32"], 2, Some(4))?;
        }
        Ok(VendorPipeline { served, manifest, started: Default::default() })
    }

    /// Where the system comes from, for provenance: `served:URL/MODEL`.
    pub fn source(&self) -> String {
        self.manifest.endpoint.source()
    }

    /// Whether the service scores anomalies itself.
    pub fn scores_anomalies(&self) -> bool {
        self.manifest.contract.score.is_some()
    }

    /// Sends camera `camera`'s raw frame; returns the service's mask and anomaly output.
    ///
    /// # Errors
    /// The call fails (endpoint named), or the reply's mask is not the frame's size, or its
    /// score or region is not finite.
    pub fn process(&mut self, camera: u16, frame: &RgbaImage) -> Result<VendorOutput, VisionError> {
        let started = Instant::now();
        let c = self.manifest.contract.clone();
        let (w, h) = (frame.width as usize, frame.height as usize);
        let rgb: Vec<u8> = frame.pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        let mut inputs = vec![RawTensor { name: c.frame.clone(), datatype: "UINT8".into(), shape: vec![1, h as i64, w as i64, 3], bytes: rgb }];
        let int64 = |name: &String, value: i64| RawTensor { name: name.clone(), datatype: "INT64".into(), shape: vec![1], bytes: value.to_le_bytes().to_vec() };
        if let Some(name) = &c.camera {
            inputs.push(int64(name, camera as i64));
        }
        let first = self.started.insert(camera);
        if let Some(name) = &c.start {
            inputs.push(int64(name, first as i64));
        }
        let mut wanted = vec![c.mask.as_str()];
        wanted.extend(c.score.as_deref());
        wanted.extend(c.region.as_deref());
        let replies = self.served.infer_raw(inputs, &wanted)?;
        let where_ = describe(&self.manifest.endpoint);
        let mask_tensor = &replies[0];
        let mask_shape_ok = mask_tensor.shape == [1, h as i64, w as i64] || mask_tensor.shape == [h as i64, w as i64];
        if !["UINT8", "BOOL"].contains(&mask_tensor.datatype.as_str()) || !mask_shape_ok {
            return Err(VisionError::Inference(format!(
                "{where_}: mask `{}` came as {} {:?}, the frame needs UINT8 or BOOL [1, {h}, {w}]",
                c.mask, mask_tensor.datatype, mask_tensor.shape
            )));
        }
        let mask: Vec<bool> = mask_tensor.bytes.iter().map(|&b| b != 0).collect();
        // FP32 with exactly `count` values, else an error naming the tensor.
        let floats = |t: &RawTensor, count: usize| -> Result<Vec<f32>, VisionError> {
            let values: Vec<f32> = t.bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if t.datatype != "FP32" || values.len() != count {
                return Err(VisionError::Inference(format!("{where_}: `{}` came as {} {:?}, expected {count} FP32 value(s)", t.name, t.datatype, t.shape)));
            }
            Ok(values)
        };
        let anomaly = match &c.score {
            None => None,
            Some(name) => {
                let score = floats(&replies[1], 1)?[0];
                if !score.is_finite() {
                    return Err(VisionError::Inference(format!("{where_}: score `{name}` is {score}")));
                }
                let score = score.clamp(0.0, 1.0);
                let region = match &c.region {
                    Some(name) => {
                        let b = floats(&replies[2], 4)?;
                        if b.iter().any(|v| !v.is_finite()) {
                            return Err(VisionError::Inference(format!("{where_}: region `{name}` must be 4 finite numbers, got {b:?}")));
                        }
                        (b[2] > b[0] && b[3] > b[1]).then(|| [b[0], b[1], b[2], b[3]])
                    }
                    None => None,
                };
                let (regions, grid) = match region {
                    Some(bbox) => (region_cells(bbox, score, (w, h)), REGION_GRID),
                    None => (Vec::new(), (0, 0)),
                };
                Some(AnomalyOutput { score, regions, grid, latency_ms: started.elapsed().as_secs_f64() * 1e3 })
            }
        };
        Ok(VendorOutput { mask, anomaly })
    }
}

/// The region box on [`REGION_GRID`]: each cell the box overlaps scores `score`, the rest 0.
fn region_cells(bbox: [f32; 4], score: f32, (w, h): (usize, usize)) -> Vec<f32> {
    let (columns, rows) = REGION_GRID;
    let (cell_w, cell_h) = (w as f32 / columns as f32, h as f32 / rows as f32);
    let mut cells = vec![0.0; columns * rows];
    for r in 0..rows {
        for c in 0..columns {
            let (x0, y0) = (c as f32 * cell_w, r as f32 * cell_h);
            let overlaps = bbox[0] < x0 + cell_w && bbox[2] > x0 && bbox[1] < y0 + cell_h && bbox[3] > y0;
            if overlaps {
                cells[r * columns + c] = score;
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_box_covers_the_cells_it_overlaps() {
        // 320 × 180 frame: cells of 10 × 10; the box (15, 5)–(31, 12) overlaps columns 1–3 of rows 0–1.
        let cells = region_cells([15.0, 5.0, 31.0, 12.0], 0.8, (320, 180));
        let lit: Vec<(usize, usize)> = (0..cells.len()).filter(|&i| cells[i] > 0.0).map(|i| (i % 32, i / 32)).collect();
        assert_eq!(lit, vec![(1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (3, 1)]);
    }
}
