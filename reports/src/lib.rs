//! crowdtwin-reports: what a run produced, turned into numbers, tables, charts and a report.
//! No Bevy, so the same code can score the pipeline on stored frames.
//!
//! * [`records`] — the rows a run accumulates (runs, cameras, persons, observations, frames).
//! * [`bias`] — per-group miss rates with cluster-bootstrap intervals, differences, ratios, flags.
//! * [`alerts`] — alerts scored against incidents frame by frame; AD frame AUC, recall, false alerts, bandwidth.
//! * [`regions`] — the anomaly model's regions; RBDC and TBDC (Ramachandra & Jones).
//! * [`outcomes`] — anomaly outcomes by group: incidents missed, protected activities flagged, persons under suspicion.
//! * [`coverage`] — camera coverage at DORI levels, blind spots, districts, private zones, incident capture.
//! * [`metrics`] — masking metrics: exposed fraction, miss rate, false-mask area, by group.
//! * [`tables`] — every record type written to and read from Parquet through one serde path (serde_arrow + polars).
//! * [`charts`] — plotters bar charts (SVG).
//! * [`images`] — PNG contact sheets (synthetic raw | ground-truth overlay | masked).
//! * [`geography`] — coverage, blind spots, footfall and cameras as GeoJSON (WGS84).
//! * [`html`] — the self-contained `report.html`.
//! * [`anomaly_html`] — its anomaly, alerting and deployment sections.
//! * [`privacy`] — privacy leakage after masking: attribute-inference and re-identification attackers.
//! * [`placement`] — choosing cameras from candidates: greedy and an exact ILP (good_lp + microlp) with its gap.
//! * [`profile`] — what may be flagged: each event kind an incident, protected or out of scope, per jurisdiction.
//! * [`policy`] — fairness policies (RON) judged on the bias statistics, one run or a pool of runs.
//! * [`power`] — the bias test's power against a planted gap: persons per group an audit needs.
//! * [`output`] — atomic file writes.
//! * [`retention`] — retention in time: storage held and raw-footage exposure over the retention periods, per modality and mode.
//! * [`site_map`] — the top-down map of a laid-out site (what an import made of a place).

pub mod alerts;
pub mod anomaly_html;
pub mod bias;
pub mod charts;
pub mod coverage;
pub mod geography;
pub mod html;
pub mod images;
pub mod metrics;
pub mod outcomes;
pub mod output;
pub mod placement;
pub mod policy;
pub mod power;
pub mod privacy;
pub mod profile;
pub mod records;
pub mod regions;
pub mod retention;
pub mod site_map;
pub mod tables;
