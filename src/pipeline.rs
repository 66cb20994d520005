//! The driver: one function whose loop reads as a frame's whole path.

use crate::recorder::Recorder;
use crowdtwin_core::frame::Frame;
use crowdtwin_vision::masking::MaskOutput;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_reports::html::{report_html, ReportInput};
use crowdtwin_reports::images::{contact_sheet, outline_box, png_bytes};
use crowdtwin_reports::metrics::{masking_metrics, summary_json};
use crowdtwin_reports::alerts::{anomaly_metrics, bandwidth};
use crowdtwin_reports::bias::masking_bias;
use crowdtwin_reports::privacy::{attacked_attributes, privacy_leakage};
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::policy::Policy;
use crowdtwin_reports::records::RunRecord;
use crowdtwin_sim::{SimOptions, Simulation};
use crowdtwin_vision::detector::Detector;
use crowdtwin_vision::manifest::sha256_file;
use crowdtwin_vision::masking::Masker;
use crowdtwin_vision::silhouette::SilhouetteModel;
use crowdtwin_vision::alerts::{alerts_over, Alert, AlertRule, Alerter};
use crowdtwin_vision::anomaly::{AnomalyDetector, AnomalyOutput};
use crowdtwin_vision::deployment::{alert_metadata, Storage, StorageKey};
use crowdtwin_core::camera::CameraModel;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_reports::records::AlertRecord;
use std::collections::BTreeMap;
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
    /// Anomaly model manifest.
    pub ad_model: PathBuf,
    /// Key file for retention mode 1 (must lie outside the output folder).
    pub key_file: Option<PathBuf>,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Let Bevy log warnings.
    pub log: bool,
    /// Fairness policy judged on the run (`None`: `policies/default.ron`).
    pub policy: Option<PathBuf>,
    /// Pipeline depth k: tick t+1 is simulated only once tick t−k is recorded (0: one tick at a time).
    pub depth: usize,
    /// A variant of the scenario (another name, hour or weather), as an `eval` suite asks.
    pub variant: Variant,
}

/// Changes to a scenario beyond duration and seed: the same site and crowd under another
/// hour or weather.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Variant {
    /// The run's name in reports instead of the scenario's.
    pub name: Option<String>,
    /// Local solar time, hours.
    pub time_of_day_h: Option<f32>,
    /// Weather and street lights.
    pub conditions: Option<crowdtwin_core::scenario::Conditions>,
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

/// Applies a variant and checks the result by the scenario's own rules.
pub fn apply_variant(scenario: &mut Scenario, variant: &Variant, path: &Path) -> anyhow::Result<()> {
    if let Some(name) = &variant.name {
        scenario.name = name.clone();
    }
    if let Some(hour) = variant.time_of_day_h {
        scenario.time_of_day_h = hour;
    }
    if let Some(conditions) = &variant.conditions {
        scenario.conditions = conditions.clone();
    }
    scenario.check().map_err(|(field, message)| anyhow::anyhow!("{}: with the suite's changes, field `{field}`: {message}", path.display()))
}

/// A masked frame on its way through the pipeline.
type Masked = (Frame, MaskOutput);
/// A masked, scored frame, with the alerts it closed (and their operator views).
type Scored = (Frame, MaskOutput, AnomalyOutput, Vec<(Alert, Option<RgbaImage>)>);

/// Runs a scenario end to end and writes its outputs; `progress(done, total)` follows the ticks.
pub fn run(options: &RunOptions, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<RunOutcome> {
    check_output_dir(&options.out)?; // before minutes of simulation, not after
    let mut scenario = load_scenario(&options.scenario, options.seconds, options.seed)?;
    apply_variant(&mut scenario, &options.variant, &options.scenario)?;
    let policy_path = options.policy.clone().unwrap_or_else(|| crate::project_file(Path::new("policies/default.ron")));
    let policy = Policy::load(&policy_path).map_err(anyhow::Error::msg)?;
    let detector = Detector::load(&options.mask_model, options.threads)?;
    let refiner = options.refine_model.as_deref().map(|path| SilhouetteModel::load(path, options.threads)).transpose()?;
    let mut anomaly = AnomalyDetector::load(&options.ad_model, options.threads)?;
    let key = storage_key(&scenario, options)?;
    let rule = AlertRule {
        threshold: scenario.alerts.threshold.unwrap_or_else(|| anomaly.default_threshold()),
        release_ratio: scenario.alerts.release_ratio,
        min_duration_s: scenario.alerts.min_duration_s as f64,
    };
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
        modality: scenario.deployment.modality.name().to_string(),
        retention: scenario.deployment.retention,
        bits_per_pixel: decimal(scenario.deployment.bits_per_pixel),
        anomaly_model: anomaly.manifest.name.clone(),
        anomaly_model_sha256: anomaly.sha256.clone(),
        alert_threshold: decimal(rule.threshold),
        alert_release_ratio: decimal(rule.release_ratio),
        alert_min_duration_s: decimal(scenario.alerts.min_duration_s),
        match_tolerance_s: decimal(scenario.alerts.match_tolerance_s),
        detector_tiles: format!("{}x{}", scenario.masking.tiles.0, scenario.masking.tiles.1),
        miss_threshold: decimal(scenario.evaluation.miss_threshold),
        min_visible_px: scenario.evaluation.min_visible_px,
        light: scenario.light_condition().to_string(),
        weather: scenario.conditions.weather_name().to_string(),
    };
    let (r, g, b) = scenario.masking.colour;
    let mut masker = Masker::new(detector, refiner, [r, g, b], scenario.masking.dilation_px).with_tiles(scenario.masking.tiles).with_vehicles(scenario.masking.vehicles);
    let mut sim = Simulation::new(&scenario, &SimOptions { log: options.log })?;
    let mut recorder = Recorder::new(&scenario, sim.persons(), sim.incidents(), run_record);
    // The deployment's own storage is written during the run, inside the staging folder that
    // becomes the output only once everything is complete.
    let staging = fresh_staging(&options.out)?;
    let mut storage = Storage::new(&staging.join("deployment"), scenario.deployment.retention, key).map_err(anyhow::Error::msg)?;
    let mut alerter = Alerter::new(rule);
    let cameras = camera_models(&scenario);

    // Lockstep: this thread simulates and renders (Bevy); each tick's frames go through the
    // masking worker (AN), the anomaly worker (AD, alerts, deployment storage) and the
    // recording worker, over bounded channels. Tick t+1 is simulated only once tick t−k is
    // recorded, so rendering overlaps the stages while each stage sees the ticks in order: the
    // records are the same for every depth and thread count.
    let total = scenario.total_ticks();
    let depth = options.depth as u64;
    let (to_masking, masking_inbox) = crossbeam::channel::bounded::<(Vec<Frame>, f64)>(options.depth + 1);
    let (to_anomaly, anomaly_inbox) = crossbeam::channel::bounded::<(Vec<Masked>, f64)>(options.depth + 1);
    let (to_recording, recording_inbox) = crossbeam::channel::bounded::<(Vec<Scored>, f64)>(options.depth + 1);
    let (recorded, recorded_inbox) = crossbeam::channel::bounded::<u64>(options.depth + 2);
    let recorder = std::thread::scope(|scope| -> anyhow::Result<Recorder> {
        let masking = scope.spawn(move || -> anyhow::Result<()> {
            for (frames, simulate_ms) in masking_inbox {
                let mut masked = Vec::with_capacity(frames.len());
                for frame in frames {
                    let output = masker.mask(&frame.rgba)?; // AN: the model sees the raw frame only
                    masked.push((frame, output));
                }
                if to_anomaly.send((masked, simulate_ms)).is_err() {
                    break; // a later stage stopped: its error is reported
                }
            }
            Ok(())
        });
        let alerting = scope.spawn(move || -> anyhow::Result<(Alerter, Storage, Vec<(Alert, Option<RgbaImage>)>)> {
            let mut views: BTreeMap<u16, (f32, RgbaImage)> = BTreeMap::new();
            for (masked, simulate_ms) in anomaly_inbox {
                let mut scored = Vec::with_capacity(masked.len());
                for (frame, mask) in masked {
                    let camera = frame.key.camera;
                    let started = Instant::now();
                    let mut output = anomaly.score(camera, &mask.masked)?; // AD: masked frames only
                    let size = (frame.rgba.width, frame.rgba.height);
                    let closed = alerter.push(camera, frame.key.tick, frame.time_s, size, &output);
                    output.latency_ms = started.elapsed().as_secs_f64() * 1e3;
                    // The operator's view: the masked frame at the open alert's peak score.
                    if alerter.is_open(camera) && views.get(&camera).is_none_or(|(peak, _)| output.score > *peak) {
                        views.insert(camera, (output.score, mask.masked.clone()));
                    }
                    let mut alerts = Vec::new();
                    if let Some(alert) = closed {
                        store_alert(&mut storage, &alert, &cameras)?;
                        alerts.push((alert, views.remove(&camera).map(|(_, view)| view)));
                    }
                    if !alerter.is_open(camera) {
                        views.remove(&camera);
                    }
                    // Retention: the raw frame goes no further than this call.
                    storage.store_frame(&cameras[camera as usize].0, frame.key.tick, &frame.rgba, &mask.masked).map_err(anyhow::Error::msg)?;
                    scored.push((frame, mask, output, alerts));
                }
                if to_recording.send((scored, simulate_ms)).is_err() {
                    break;
                }
            }
            let mut last = Vec::new();
            for alert in alerter.finish() {
                store_alert(&mut storage, &alert, &cameras)?;
                let view = views.remove(&alert.camera).map(|(_, view)| view);
                last.push((alert, view));
            }
            Ok((alerter, storage, last))
        });
        let recording = scope.spawn(move || -> Recorder {
            let mut tick = 0;
            for (scored, simulate_ms) in recording_inbox {
                for (frame, mask, anomaly, alerts) in scored {
                    recorder.record(&frame, &mask, &anomaly, simulate_ms); // score against ground truth
                    recorder.record_alerts(alerts);
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
        let alerted = alerting.join().map_err(|_| anyhow::anyhow!("the anomaly stage panicked"))?;
        let mut recorder = recording.join().map_err(|_| anyhow::anyhow!("the recording stage panicked"))?;
        simulated?;
        masked?;
        let (_, _storage, last) = alerted?;
        recorder.record_alerts(last);
        anyhow::ensure!(done == total, "the pipeline recorded {done} of {total} ticks");
        Ok(recorder)
    });
    let mut recorder = match recorder {
        Ok(recorder) => recorder,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    score_alerts(&mut recorder, &scenario, rule);
    let attributes = attacked_attributes(&recorder.records.persons);
    recorder.records.privacy = privacy_leakage(&recorder.privacy_samples, &attributes, scenario.seed);

    let card = std::fs::read_to_string(options.mask_model.parent().unwrap_or(Path::new(".")).join(&manifest.card)).unwrap_or_default();
    let summary = write_outputs(&options.out, &staging, &scenario, &recorder, &policy, manifest.licence.clone(), card)?;
    Ok(RunOutcome { out: options.out.clone(), summary })
}

/// The mode-1 key, read from a key file outside the output folder (none for modes 2 and 3).
fn storage_key(scenario: &Scenario, options: &RunOptions) -> anyhow::Result<Option<StorageKey>> {
    if scenario.deployment.retention != 1 {
        return Ok(None);
    }
    let path = options.key_file.as_ref().context(
        "retention mode 1 keeps raw frames encrypted: give --key-file KEY (outside the output folder; `crowdtwin keygen KEY` writes one)",
    )?;
    let key = StorageKey::read(path).map_err(anyhow::Error::msg)?;
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let out = absolute(&options.out);
    let key_path = absolute(path);
    let key_path = key_path.canonicalize().unwrap_or(key_path);
    let out = out.canonicalize().unwrap_or(out);
    anyhow::ensure!(!key_path.starts_with(&out), "the key file {} lies inside the output folder {}: keep it apart from what it protects", path.display(), options.out.display());
    Ok(Some(key))
}

/// Each camera's id and its model at the render resolution (alert regions are in render pixels).
fn camera_models(scenario: &Scenario) -> Vec<(String, CameraModel)> {
    scenario.cameras.iter().map(|c| (c.id.clone(), CameraModel::new(c, c.render_resolution))).collect()
}

/// Stores an alert's metadata (every retention mode keeps it).
fn store_alert(storage: &mut Storage, alert: &Alert, cameras: &[(String, CameraModel)]) -> anyhow::Result<()> {
    let (id, model) = &cameras[alert.camera as usize];
    storage.store_alert(&alert_metadata(alert, id, alert_location(alert, model))).map_err(anyhow::Error::msg)
}

/// Where an alert is on the site map: the ground under the bottom centre of its region.
fn alert_location(alert: &Alert, camera: &CameraModel) -> Option<[f32; 2]> {
    camera.ground_point((alert.roi[0] + alert.roi[2]) * 0.5, alert.roi[3])
}

/// The grid of thresholds the operating-point sweep replays.
pub const SWEEP_THRESHOLDS: [f32; 19] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/// Turns the raised alerts into records, matches them to incidents, and replays the alerting
/// rule over the sweep's thresholds on the recorded scores.
fn score_alerts(recorder: &mut Recorder, scenario: &Scenario, rule: AlertRule) {
    let cameras = camera_models(scenario);
    let to_records = |alerts: &[Alert]| -> Vec<AlertRecord> {
        let mut sorted = alerts.to_vec();
        sorted.sort_by(|a, b| (a.camera, a.start_tick).cmp(&(b.camera, b.start_tick)));
        sorted
            .iter()
            .enumerate()
            .map(|(index, alert)| {
                let (id, model) = &cameras[alert.camera as usize];
                let location = alert_location(alert, model);
                AlertRecord {
                    alert: index as u32,
                    camera: alert.camera,
                    start_tick: alert.start_tick,
                    end_tick: alert.end_tick,
                    start_s: alert.start_s,
                    raised_s: alert.raised_s,
                    end_s: alert.end_s,
                    confidence_pct: alert.confidence_pct,
                    roi: alert.roi.map(|v| v as f64),
                    location: location.map(|l| l.map(|v| v as f64)),
                    text: alert.text.to_string(),
                    metadata_bytes: alert_metadata(alert, id, location).len() as u32 + 1,
                    matched_incident: None,
                    false_alert: true,
                }
            })
            .collect()
    };
    recorder.records.alerts = to_records(&recorder.alerts);
    crowdtwin_reports::alerts::apply_matches(&mut recorder.records);
    let mut thresholds: Vec<f32> = SWEEP_THRESHOLDS.to_vec();
    if !thresholds.iter().any(|t| (t - rule.threshold).abs() < 1e-6) {
        thresholds.push(rule.threshold);
        thresholds.sort_by(f32::total_cmp);
    }
    recorder.records.operating_points = thresholds
        .iter()
        .map(|&threshold| {
            let replayed = alerts_over(AlertRule { threshold, ..rule }, &recorder.history);
            let chosen = (threshold - rule.threshold).abs() < 1e-6;
            crowdtwin_reports::alerts::operating_point(&recorder.records, &to_records(&replayed), decimal(threshold), chosen)
        })
        .collect();
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

/// The empty staging folder beside `out` where a run is assembled.
fn fresh_staging(out: &Path) -> anyhow::Result<PathBuf> {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let staging = out.with_file_name(format!(".{name}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing a stale {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    Ok(staging)
}

/// Writes tables, contact sheets, summary and report into the staging folder, then swaps it
/// into place (old run moved aside first, removed last), so `out` only ever holds a complete run.
fn write_outputs(out: &Path, staging: &Path, scenario: &Scenario, recorder: &Recorder, policy: &Policy, licence: String, card: String) -> anyhow::Result<serde_json::Value> {
    check_output_dir(out)?;
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let result = stage_outputs(staging, scenario, recorder, policy, licence, card);
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_dir_all(staging);
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
    std::fs::rename(staging, out).with_context(|| format!("moving the new run into {}", out.display()))?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| format!("removing the previous run at {}", previous.display()))?;
    }
    Ok(summary)
}

fn stage_outputs(staging: &Path, scenario: &Scenario, recorder: &Recorder, policy: &Policy, licence: String, card: String) -> anyhow::Result<serde_json::Value> {
    let records = &recorder.records;
    crowdtwin_reports::tables::write_all(records, staging).map_err(anyhow::Error::msg)?;
    crate::place::write_run_coverage(staging, scenario)?;
    let mut sheets = Vec::new();
    for (camera, rows) in &recorder.sheets {
        let id = scenario.cameras[*camera as usize].id.clone();
        let png = png_bytes(&contact_sheet(rows)).map_err(anyhow::Error::msg)?;
        let path = staging.join("plots").join(format!("contact_{id}.png"));
        write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))?;
        sheets.push((id, png));
    }
    // The operator's view of the first alerts: the masked frame, its region of interest outlined.
    for (alert, view) in &recorder.alert_views {
        let Some(record) = records.alerts.iter().find(|a| (a.camera, a.start_tick) == (alert.camera, alert.start_tick)) else { continue };
        let mut view = view.clone();
        outline_box(&mut view, alert.roi, [255, 40, 40], 2);
        let path = staging.join("plots").join(format!("alert_{:03}.png", record.alert));
        write_atomic(&path, &png_bytes(&view).map_err(anyhow::Error::msg)?).with_context(|| format!("writing {}", path.display()))?;
    }
    let model = serde_json::json!({ "licence": licence, "card": card });
    let path = staging.join("model.json");
    write_atomic(&path, serde_json::to_string_pretty(&model)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    write_report(staging, records, sheets, policy, licence, card)
}

/// Scores the records (metrics, bias, policy verdicts, anomaly metrics, bandwidth) and writes
/// `summary.json` and `report.html` into `dir`, each atomically. Used by `run` and by
/// `report`, which rebuilds them from a run's tables.
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
    let anomaly = anomaly_metrics(records);
    let bandwidth = bandwidth(records);
    summary["ad_frame_auc"] = serde_json::json!(anomaly.ad_frame_auc);
    summary["incident_recall"] = serde_json::json!(anomaly.incident_recall);
    summary["false_alerts_per_hour"] = serde_json::json!(anomaly.false_alerts_per_hour);
    summary["protected_false_alert_rate"] = serde_json::json!(anomaly.protected_false_alert_rate);
    summary["raw_bytes_off_camera"] = serde_json::json!(bandwidth.iter().map(|b| b.raw_bytes).sum::<f64>());
    summary["raw_bytes_off_camera_per_hour"] = serde_json::json!(bandwidth.iter().map(|b| b.raw_bytes_per_hour).sum::<f64>());
    summary["masked_bytes_sent"] = serde_json::json!(bandwidth.iter().map(|b| b.masked_bytes).sum::<f64>());
    summary["metadata_bytes_sent"] = serde_json::json!(bandwidth.iter().map(|b| b.metadata_bytes).sum::<f64>());
    summary["anomaly"] = serde_json::to_value(&anomaly)?;
    summary["privacy"] = serde_json::to_value(&records.privacy)?;
    summary["light"] = serde_json::json!(run.light);
    summary["weather"] = serde_json::json!(run.weather);
    summary["bandwidth"] = serde_json::to_value(&bandwidth)?;
    summary["deployment"] = serde_json::json!({
        "modality": run.modality, "retention": run.retention, "bits_per_pixel": run.bits_per_pixel,
    });
    let alert_views = records
        .alerts
        .iter()
        .filter_map(|alert| {
            let png = std::fs::read(dir.join("plots").join(format!("alert_{:03}.png", alert.alert))).ok()?;
            Some((view_caption(records, alert), png))
        })
        .collect();
    let coverage = std::fs::read(dir.join("coverage.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<crowdtwin_reports::coverage::RunCoverage>(&bytes).ok())
        .zip(std::fs::read(dir.join("plots").join("coverage.png")).ok());
    if let Some((c, _)) = &coverage {
        summary["coverage"] = serde_json::to_value(c)?;
    }
    let html = report_html(&ReportInput {
        coverage,
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
        anomaly: &anomaly,
        bandwidth: &bandwidth,
        alert_views,
    })
    .map_err(anyhow::Error::msg)?;
    let path = dir.join("report.html");
    write_atomic(&path, html.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("summary.json");
    write_atomic(&path, serde_json::to_string_pretty(&summary)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(summary)
}

fn view_caption(records: &crowdtwin_reports::records::RunRecords, alert: &AlertRecord) -> String {
    let camera = records.cameras.iter().find(|c| c.index == alert.camera).map_or("?", |c| c.id.as_str());
    format!("alert #{} · camera {camera} · {:.1}–{:.1} s · {:.0} % · {}", alert.alert, alert.start_s, alert.end_s, alert.confidence_pct, alert.text)
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
