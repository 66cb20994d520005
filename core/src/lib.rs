//! crowdtwin-core: the shared language of crowdtwin.
//!
//! Nothing here depends on Bevy or ONNX Runtime, so the pipeline (`vision`) and the
//! evaluation (`reports`) can run on stored frames or real video with the same types.
//!
//! * [`scenario`] — the RON scenario schema (v1), its loader and its validation errors.
//! * [`taxonomy`] — the demographic taxonomy (Monk skin tones, age groups, …).
//! * [`incident`] — scheduled incidents and protected activities.
//! * [`ids`] — the ground-truth id ranges and their colour encoding in the id mask.
//! * [`rng`] — per-entity random streams keyed by (seed, entity, purpose).
//! * [`site`] — the procedural site laid out from the scenario.
//! * [`camera`] — the pinhole camera model shared by the renderer and the evaluation.
//! * [`paths`] — finding project files from wherever the program runs.
//! * [`python`] — the project's pinned Python environment, where tests meet real external readers and peers.
//! * [`frame`] — frames and per-frame ground truth handed from the simulation to the pipeline.
//! * [`bandwidth`] — the bitrate model: what each camera sends under a deployment modality.

pub mod bandwidth;
pub mod camera;
pub mod frame;
pub mod ids;
pub mod incident;
pub mod paths;
pub mod python;
pub mod rng;
pub mod scenario;
pub mod sensor;
pub mod site;
pub mod taxonomy;

/// Version of the schema of every Parquet table and `summary.json` this build writes (the
/// README's schema changelog says what each version changed; at most one bump per landed change).
pub const RECORDS_SCHEMA_VERSION: u32 = 6;

/// The lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
