//! crowdtwin-vision: the pipeline under test. No Bevy: it runs on stored frames or real video.
//!
//! * [`manifest`] — the RON model manifest: tensors, pre-processing, decoder, licence.
//! * [`runtime`] — loading ONNX Runtime's shared library (`make setup` puts it in `.ort/`).
//! * [`detector`] — a GFL/NanoDet box detector or a YOLO detection/segmentation export, run by `ort`, decoded in Rust.
//! * [`model`] — a model the decoders call: declared tensors and `run`, in-process or served.
//! * [`served`] — models served over the Open Inference Protocol (KServe v2) by gRPC.
//! * [`vendor`] — a vendor's black-box pipeline on the same protocol: raw frame in, mask (and score) out.
//! * [`preprocess`] — resampling, letterbox/stretch, channel order, normalisation.
//! * [`silhouette`] — optional refinement of person boxes into body silhouettes (MediaPipe).
//! * [`masking`] — AN: paints every detected person (and screen) as a solid silhouette, or in a LA3D style.
//! * [`styles`] — the masking styles LA3D compares: size-adaptive blur and pixelation, edge maps.
//! * [`attacker`] — the trained privacy attacker: person attributes guessed from a crop.
//! * [`anomaly`] — AD: a clip or two-stage (extractor + temporal head) model scoring each camera's masked frames.
//! * [`tracks`] — person tracks read from a masked frame's paint: the input of a `person_tracks` anomaly model.
//! * [`alerts`] — threshold, hysteresis and minimum duration turn scores into neutral alerts.
//! * [`cap`] — alerts as OASIS CAP 1.2 messages, and their delivery to a webhook.
//! * [`deployment`] — modality (what leaves the camera) and retention (what is kept), enforced.

pub mod alerts;
pub mod anomaly;
pub mod attacker;
pub mod cap;
pub mod deployment;
pub mod detector;
pub mod manifest;
pub mod masking;
pub mod model;
pub mod preprocess;
pub mod runtime;
pub mod served;
pub mod silhouette;
pub mod styles;
pub mod tracks;
pub mod vendor;

/// Why the pipeline could not run.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// ONNX Runtime's shared library is missing or unusable.
    #[error("{0}")]
    Runtime(String),
    /// The manifest cannot be read or is malformed.
    #[error("{0}")]
    Manifest(String),
    /// The model does not match its manifest (file hash, tensor names or shapes).
    #[error("{0}")]
    Mismatch(String),
    /// ONNX Runtime failed while running the model.
    #[error("inference failed: {0}")]
    Inference(String),
}
