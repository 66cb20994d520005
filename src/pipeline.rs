//! The driver: one function whose loop reads as a frame's whole path.

use crate::recorder::Recorder;
use crowdtwin_core::frame::Frame;
use crowdtwin_vision::masking::MaskOutput;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_reports::html::{report_html, ReportInput};
use crowdtwin_reports::images::{contact_sheet, png_bytes};
use crowdtwin_reports::metrics::{masking_metrics, summary_json};
use crowdtwin_reports::bias::masking_bias;
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::policy::Policy;
use crowdtwin_reports::records::RunRecord;
use crowdtwin_sim::{SimOptions, Simulation};
use crowdtwin_vision::detector::Detector;
use crowdtwin_vision::manifest::sha256_file;
use crowdtwin_vision::masking::Masker;
use crowdtwin_vision::silhouette::SilhouetteModel;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Output folder (replaced as a whole when the run completes).
    pub out: PathBuf,
    /// Override of the scenario's duration.
    pub seconds: Option<f32>,
    /// Override of the scenario's seed.
    pub seed: Option<u64>,
    /// Masking model manifest.
    pub mask_model: PathBuf,
    /// Optional silhouette model manifest refining person boxes.
    pub refine_model: Option<PathBuf>,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Let Bevy log warnings.
    pub log: bool,
    /// Fairness policy judged on the run (`None`: `policies/default.ron`).
    pub policy: Option<PathBuf>,
    /// Pipeline depth k: tick t+1 is simulated only once tick t−k is recorded (0: one tick at a time).
    pub depth: usize,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The output folder.
    pub out: PathBuf,
    /// The contents of `summary.json`.
    pub summary: serde_json::Value,
}

/// Loads a scenario and applies command-line overrides.
pub fn load_scenario(path: &Path, seconds: Option<f32>, seed: Option<u64>) -> anyhow::Result<Scenario> {
    let mut scenario = Scenario::load(path)?;
    if let Some(seconds) = seconds {
        scenario.duration_s = seconds;
        // A shortened run stages only what starts within it (the rest are left out, not moved).
        let before = scenario.incidents.len();
        scenario.incidents.retain(|incident| incident.start_s < seconds);
        if scenario.incidents.len() < before {
            eprintln!("note: --seconds {seconds} leaves out {} incident(s) scheduled later", before - scenario.incidents.len());
        }
    }
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    // Overrides must satisfy the same rules as the file.
    scenario.check().map_err(|(field, message)| anyhow::anyhow!("{}: with the command-line overrides, field `{field}`: {message}", path.display()))?;
    Ok(scenario)
}

/// Runs a scenario end to end and writes its outputs; `progress(done, total)` follows the ticks.
pub fn run(options: &RunOptions, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<RunOutcome> {
    check_output_dir(&options.out)?; // before minutes of simulation, not after
    let scenario = load_scenario(&options.scenario, options.seconds, options.seed)?;
    let policy_path = options.policy.clone().unwrap_or_else(|| crate::project_file(Path::new("policies/default.ron")));
    let policy = Policy::load(&policy_path).map_err(anyhow::Error::msg)?;
    let detector = Detector::load(&options.mask_model, options.threads)?;
    let refiner = options.refine_model.as_deref().map(|path| SilhouetteModel::load(path, options.threads)).transpose()?;
    let manifest = detector.manifest.clone();
    let run_record = RunRecord {
        scenario: scenario.name.clone(),
        scenario_sha256: sha256_file(&options.scenario)?,
        seed: scenario.seed,
        duration_s: scenario.duration_s as f64,
        tick_hz: scenario.tick_hz,
        ticks: scenario.total_ticks(),
        masking_model: manifest.name.clone(),
        masking_model_sha256: detector.sha256.clone(),
        refine_model: refiner.as_ref().map(|r| r.manifest.name.clone()).unwrap_or_default(),
        refine_model_sha256: refiner.as_ref().map(|r| r.sha256.clone()).unwrap_or_default(),
        crowdtwin_version: env!("CARGO_PKG_VERSION").to_string(),
        modality: "central".to_string(),
        detector_tiles: format!("{}x{}", scenario.masking.tiles.0, scenario.masking.tiles.1),
        miss_threshold: decimal(scenario.evaluation.miss_threshold),
        min_visible_px: scenario.evaluation.min_visible_px,
    };
    let (r, g, b) = scenario.masking.colour;
    let masker = Masker::new(detector, refiner, [r, g, b], scenario.masking.dilation_px).with_tiles(scenario.masking.tiles).with_vehicles(scenario.masking.vehicles);
    let mut sim = Simulation::new(&scenario, &SimOptions { log: options.log })?;
    let mut recorder = Recorder::new(&scenario, sim.persons(), sim.incidents(), run_record);
    let mut masker = masker;

    // Lockstep: this thread simulates and renders (Bevy); each tick's frames go to the masking
    // worker, then to the recording worker, over bounded channels. Tick t+1 is simulated only
    // once tick t−k is recorded, so rendering overlaps masking while every stage still sees the
    // ticks in order: the records are the same for every depth and thread count.
    let total = scenario.total_ticks();
    let depth = options.depth as u64;
    let (to_masking, masking_inbox) = crossbeam::channel::bounded::<(Vec<Frame>, f64)>(options.depth + 1);
    let (to_recording, recording_inbox) = crossbeam::channel::bounded::<(Vec<(Frame, MaskOutput)>, f64)>(options.depth + 1);
    let (recorded, recorded_inbox) = crossbeam::channel::bounded::<u64>(options.depth + 2);
    let recorder = std::thread::scope(|scope| -> anyhow::Result<Recorder> {
        let masking = scope.spawn(move || -> anyhow::Result<()> {
            for (frames, simulate_ms) in masking_inbox {
                let mut masked = Vec::with_capacity(frames.len());
                for frame in frames {
                    let output = masker.mask(&frame.rgba)?; // AN: the model sees the raw frame only
                    masked.push((frame, output));
                }
                if to_recording.send((masked, simulate_ms)).is_err() {
                    break; // the recorder stopped: its error is reported
                }
            }
            Ok(())
        });
        let recording = scope.spawn(move || -> Recorder {
            let mut tick = 0;
            for (masked, simulate_ms) in recording_inbox {
                for (frame, output) in &masked {
                    recorder.record(frame, output, simulate_ms); // score against ground truth
                }
                if recorded.send(tick).is_err() {
                    break;
                }
                tick += 1;
            }
            recorder
        });
        let mut done = 0u64;
        let simulated: anyhow::Result<()> = (|| {
            for tick in 0..total {
                while done + depth < tick {
                    // The stages stopped early only on an error, reported below.
                    let Ok(_) = recorded_inbox.recv() else { return Ok(()) };
                    done += 1;
                    progress(done, total);
                }
                let started = Instant::now();
                let frames = sim.step()?; // simulate tick, render due cameras, read back, ground truth
                if to_masking.send((frames, started.elapsed().as_secs_f64() * 1e3)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        })();
        drop(to_masking);
        for _ in recorded_inbox.iter() {
            done += 1;
            progress(done, total);
        }
        let masked = masking.join().map_err(|_| anyhow::anyhow!("the masking stage panicked"))?;
        let recorder = recording.join().map_err(|_| anyhow::anyhow!("the recording stage panicked"))?;
        simulated?;
        masked?;
        anyhow::ensure!(done == total, "the pipeline recorded {done} of {total} ticks");
        Ok(recorder)
    })?;

    let card = std::fs::read_to_string(options.mask_model.parent().unwrap_or(Path::new(".")).join(&manifest.card)).unwrap_or_default();
    let summary = write_outputs(&options.out, &scenario, &recorder, &policy, manifest.licence.clone(), card)?;
    Ok(RunOutcome { out: options.out.clone(), summary })
}

/// Files whose presence marks a folder as a crowdtwin run (so `--out` never replaces anything else).
const RUN_MARKERS: [&str; 2] = ["summary.json", "runs.parquet"];

/// Checks `out` can take a run: it names a folder, and if it exists it is empty or a previous run.
pub fn check_output_dir(out: &Path) -> anyhow::Result<()> {
    let name = out.file_name().and_then(|n| n.to_str()).filter(|n| !n.is_empty() && *n != "." && *n != "..");
    anyhow::ensure!(name.is_some(), "--out {} must name a folder (not `.`, `..` or a root)", out.display());
    if out.exists() {
        anyhow::ensure!(out.is_dir(), "--out {} exists and is not a folder", out.display());
        let is_run = RUN_MARKERS.iter().all(|m| out.join(m).is_file());
        let is_empty = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
        anyhow::ensure!(
            is_run || is_empty,
            "--out {} exists and is not a crowdtwin run (no summary.json and runs.parquet); refusing to replace it",
            out.display()
        );
    }
    Ok(())
}

/// Writes tables, contact sheets, summary and report into a staging folder, then swaps it into
/// place (old run moved aside first, removed last), so `out` only ever holds a complete run.
fn write_outputs(out: &Path, scenario: &Scenario, recorder: &Recorder, policy: &Policy, licence: String, card: String) -> anyhow::Result<serde_json::Value> {
    check_output_dir(out)?;
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let staging = out.with_file_name(format!(".{name}.partial"));
    let result = stage_outputs(&staging, scenario, recorder, policy, licence, card);
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    let previous = out.with_file_name(format!(".{name}.previous"));
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| format!("removing {}", previous.display()))?;
    }
    if out.exists() {
        std::fs::rename(out, &previous).with_context(|| format!("moving the previous run {} aside", out.display()))?;
    }
    std::fs::rename(&staging, out).with_context(|| format!("moving the new run into {}", out.display()))?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| format!("removing the previous run at {}", previous.display()))?;
    }
    Ok(summary)
}

fn stage_outputs(staging: &Path, scenario: &Scenario, recorder: &Recorder, policy: &Policy, licence: String, card: String) -> anyhow::Result<serde_json::Value> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).with_context(|| format!("removing a stale {}", staging.display()))?;
    }
    std::fs::create_dir_all(staging).with_context(|| format!("creating {}", staging.display()))?;
    let records = &recorder.records;
    crowdtwin_reports::tables::write_all(records, staging).map_err(anyhow::Error::msg)?;
    let mut sheets = Vec::new();
    for (camera, rows) in &recorder.sheets {
        let id = scenario.cameras[*camera as usize].id.clone();
        let png = png_bytes(&contact_sheet(rows)).map_err(anyhow::Error::msg)?;
        let path = staging.join("plots").join(format!("contact_{id}.png"));
        write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))?;
        sheets.push((id, png));
    }
    let model = serde_json::json!({ "licence": licence, "card": card });
    let path = staging.join("model.json");
    write_atomic(&path, serde_json::to_string_pretty(&model)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    write_report(staging, records, sheets, policy, licence, card)
}

/// Scores the records (metrics, bias, policy verdicts) and writes `summary.json` and
/// `report.html` into `dir`, each atomically. Used by `run` and by `report`, which rebuilds
/// them from a run's tables.
pub fn write_report(
    dir: &Path,
    records: &crowdtwin_reports::records::RunRecords,
    sheets: Vec<(String, Vec<u8>)>,
    policy: &Policy,
    licence: String,
    card: String,
) -> anyhow::Result<serde_json::Value> {
    let run = records.runs.first().context("the run has no `runs` record")?;
    let (threshold, min_px) = (run.miss_threshold, run.min_visible_px);
    let metrics = masking_metrics(records, threshold, min_px);
    let mut summary = summary_json(records, &metrics, threshold, min_px);
    // Bias with intervals for every attribute, plus what the policy's lines need.
    let (mut bias, verdicts) = policy.judge(records, threshold, min_px);
    for &attribute in crowdtwin_core::taxonomy::GROUPING_ATTRIBUTES {
        if !bias.iter().any(|b| b.attribute == attribute) {
            bias.push(masking_bias(records, &[attribute], threshold, min_px, &policy.options()));
        }
    }
    summary["bias"] = serde_json::to_value(&bias)?;
    summary["policy"] = serde_json::json!({ "name": policy.name, "verdicts": verdicts });
    let html = report_html(&ReportInput {
        bias: &bias,
        policy_name: &policy.name,
        verdicts: &verdicts,
        records,
        metrics: &metrics,
        miss_threshold: threshold,
        min_visible_px: min_px,
        model_licence: licence,
        model_card: card,
        contact_sheets: sheets,
    })
    .map_err(anyhow::Error::msg)?;
    let path = dir.join("report.html");
    write_atomic(&path, html.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("summary.json");
    write_atomic(&path, serde_json::to_string_pretty(&summary)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(summary)
}

/// Rebuilds `report.html` and `summary.json` of a run folder from its tables, contact sheets
/// and `model.json`, without simulating anything (e.g. under another policy).
pub fn rebuild_report(dir: &Path, policy: &Path) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(RUN_MARKERS.iter().all(|m| dir.join(m).is_file()), "{} is not a crowdtwin run (no summary.json and runs.parquet)", dir.display());
    let policy = Policy::load(policy).map_err(anyhow::Error::msg)?;
    let records = crowdtwin_reports::read::read_records(dir).map_err(anyhow::Error::msg)?;
    let mut sheets = Vec::new();
    for camera in &records.cameras {
        let path = dir.join("plots").join(format!("contact_{}.png", camera.id));
        if let Ok(png) = std::fs::read(&path) {
            sheets.push((camera.id.clone(), png));
        }
    }
    let model: serde_json::Value = std::fs::read(dir.join("model.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| serde_json::json!({ "licence": "", "card": "" }));
    let text = |key: &str| model[key].as_str().unwrap_or_default().to_string();
    write_report(dir, &records, sheets, &policy, text("licence"), text("card"))
}

/// The f64 a person means by an f32 from a scenario (0.2f32 → 0.2, not 0.20000000298…).
fn decimal(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(value as f64)
}
