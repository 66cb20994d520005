//! The driver: a frame's whole path, top-down — source → masking → anomaly + alerts +
//! storage → recording — then the run's files.

use crate::output::{check_output_dir, fresh_staging, publish};
use crate::recorder::Recorder;
use crate::report::{write_run, ModelTexts};
use crate::scenario::{apply_variant, load_scenario};
use crate::stages::anomaly::{AlertOut, AnomalyStage, CapDelivery};
use crate::stages::masking::{Masking, MaskingStage};
use crate::stages::source::SimulationSource;
use crate::stages::{lockstep, FrameSource};
use crate::frames::FrameStore;
use anyhow::Context;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_reports::policy::Policy;
use crowdtwin_reports::profile::Profile;
use crowdtwin_reports::records::{decimal, RunRecord};
use crowdtwin_vision::alerts::{AlertRule, Alerter};
use crowdtwin_vision::anomaly::AnomalyDetector;
use crowdtwin_vision::cap::{CapContext, Webhook};
use crowdtwin_vision::deployment::{Storage, StorageKey};
use crowdtwin_vision::detector::Detector;
use crowdtwin_vision::manifest::sha256_file;
use crowdtwin_vision::masking::Masker;
use crowdtwin_vision::vendor::{is_pipeline, VendorPipeline};
use crowdtwin_vision::silhouette::SilhouetteModel;
use crowdtwin_vision::attacker::AttributeAttacker;
use std::path::{Path, PathBuf};

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
    pub variant: crate::scenario::Variant,
    /// An `http://` endpoint each alert's CAP 1.2 message is POSTed to as it closes.
    pub cap_webhook: Option<String>,
    /// What may be flagged (`None`: `profiles/unicri.ron`).
    pub profile: Option<PathBuf>,
    /// The trained privacy attacker's manifest (`None`: `models/attribute_attacker.ron`).
    pub attacker_model: Option<PathBuf>,
    /// Replay this frame store instead of simulating (`scenario` must share its render-relevant
    /// sections, and `seconds`, `seed` and the variant its overrides: see [`FrameStore::adopt`]).
    pub frames: Option<PathBuf>,
}

impl RunOptions {
    /// A run of `scenario` into `out` as `crowdtwin run` does it by default: the shipped masking
    /// (`models/nanodet.ron`) and anomaly ([`DEFAULT_AD_MODEL`]) models, no refiner, 2
    /// threads, depth 1, the default policy, the scenario's own duration and seed.
    pub fn new(scenario: PathBuf, out: PathBuf) -> Self {
        RunOptions {
            scenario,
            out,
            seconds: None,
            seed: None,
            mask_model: crate::project_file(Path::new("models/nanodet.ron")),
            refine_model: None,
            ad_model: crate::project_file(Path::new(DEFAULT_AD_MODEL)),
            key_file: None,
            threads: 2,
            log: false,
            policy: None,
            depth: 1,
            variant: Default::default(),
            cap_webhook: None,
            profile: None,
            attacker_model: None,
            frames: None,
        }
    }
}

/// The anomaly model runs, evals and benchmarks use unless told otherwise: the person-track model
/// trained by `models/train/train_anomaly.sh` (its card: `models/anomaly_tracks.md`). The earlier
/// default, `models/anomaly_mil.ron`, ships as the weak baseline; `models/anomaly_boxes.ron` as
/// an experiment that did not beat it.
pub const DEFAULT_AD_MODEL: &str = "models/anomaly_tracks.ron";

/// The profile runs, reports and evals class events by unless told otherwise.
pub const DEFAULT_PROFILE: &str = "profiles/unicri.ron";

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The output folder.
    pub out: PathBuf,
    /// The contents of `summary.json`.
    pub summary: serde_json::Value,
    /// What the CAP webhook received (`None`: no webhook).
    pub cap_delivery: Option<CapDelivery>,
}

/// Runs a scenario end to end and writes its outputs; `progress(done, total)` follows the ticks.
///
/// # Errors
/// A bad scenario, model, policy or key; a render, model or storage error during the run; an
/// output folder that is not a run. The output folder is left untouched by a failed run.
pub fn run(options: &RunOptions, progress: impl FnMut(u64, u64)) -> anyhow::Result<RunOutcome> {
    check_output_dir(&options.out)?; // before minutes of simulation, not after
    let (setup, models) = Setup::load(options)?;
    // The deployment's own storage is written during the run, inside the staging folder that
    // becomes the output only once everything is complete.
    let staging = fresh_staging(&options.out)?;
    let mut cap_delivery = None;
    let recorder = run_stages(&setup, models, options, &staging, progress).map(|(recorder, delivery)| {
        cap_delivery = delivery;
        recorder
    });
    let summary = recorder.and_then(|recorder| write_run(&staging, &setup.scenario, &recorder, &setup.policy, &setup.model));
    let summary = summary.and_then(|summary| publish(&staging, &options.out).map(|()| summary));
    if summary.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(RunOutcome { out: options.out.clone(), summary: summary?, cap_delivery })
}

/// The frame's path, source to recording, over every tick; then the end-of-run scoring.
fn run_stages(setup: &Setup, models: Models, options: &RunOptions, staging: &Path, progress: impl FnMut(u64, u64)) -> anyhow::Result<(Recorder, Option<CapDelivery>)> {
    let scenario = &setup.scenario;
    let mut source: Box<dyn FrameSource> = match &setup.store {
        Some(store) => Box::new(store.source(scenario)?),
        None => Box::new(SimulationSource::new(scenario, options.log)?),
    };
    let recorder = Recorder::new(scenario, source.staged(), setup.run_record.clone(), models.attacker);
    let storage = Storage::new(&staging.join("deployment"), scenario.deployment.retention, setup.key.clone()).map_err(anyhow::Error::msg)?;
    let masking = MaskingStage::new(models.masker);
    let out = AlertOut::new(setup.run_record.origin(), setup.cap.clone(), models.webhook);
    let anomaly = AnomalyStage::new(models.anomaly, Alerter::new(setup.rule), storage, scenario, out);
    let (_, anomaly, mut recorder) = lockstep(source.as_mut(), options.depth, (masking, anomaly, recorder), progress)?;
    let (last, delivery) = anomaly.finish()?;
    recorder.record_alerts(last);
    recorder.score(scenario, setup.rule, &setup.profile);
    Ok((recorder, delivery))
}

/// Everything a run needs before its first frame besides the models: the scenario with its
/// overrides, the policy, the alerting rule, the mode-1 key and the run's own record.
struct Setup {
    scenario: Scenario,
    policy: Policy,
    rule: AlertRule,
    key: Option<StorageKey>,
    run_record: RunRecord,
    model: ModelTexts,
    /// Sender, status and clock of the alerts' CAP messages.
    cap: CapContext,
    /// What may be flagged.
    profile: Profile,
    /// The frame store replayed instead of the simulation.
    store: Option<FrameStore>,
}

/// The models, loaded and checked; the stages own them during the run.
struct Models {
    masker: Masking,
    /// None when a vendor pipeline scores its own frames.
    anomaly: Option<AnomalyDetector>,
    /// The CAP webhook, connected.
    webhook: Option<Webhook>,
    /// The trained privacy attacker.
    attacker: Option<AttributeAttacker>,
}

impl Setup {
    fn load(options: &RunOptions) -> anyhow::Result<(Setup, Models)> {
        let store = options.frames.as_deref().map(FrameStore::open).transpose()?;
        let mut scenario = load_scenario(&options.scenario, options.seconds, options.seed)?;
        apply_variant(&mut scenario, &options.variant, &options.scenario)?;
        if let Some(store) = &store {
            store.adopt(&mut scenario, &options.scenario)?; // before any model loads
        }
        // The site is read here too, so a bad map fails before any model loads; its origin
        // (a GeoJSON file's own, when the scenario gives none) is the sun's latitude.
        let site = crowdtwin_sites::load(&scenario).map_err(|e| anyhow::anyhow!("{}: site: {e}", options.scenario.display()))?.layout;
        let latitude = site.origin.map(|o| o.lat_deg);
        let place = site.name.clone().unwrap_or_else(|| "template".into());
        let cap = CapContext::new(&scenario.deployment.cap, scenario.time_of_day_h, site.origin.map(|o| o.lon_deg), &scenario.name, scenario.seed, &place)
            .map_err(|e| anyhow::anyhow!("{}: deployment.cap: {e}", options.scenario.display()))?;
        // A dead endpoint is named before any frame is rendered, not after.
        let webhook = options.cap_webhook.as_deref().map(Webhook::connect).transpose().map_err(anyhow::Error::msg)?;
        let policy_path = options.policy.clone().unwrap_or_else(|| crate::project_file(Path::new("policies/default.ron")));
        let policy = Policy::load(&policy_path).map_err(anyhow::Error::msg)?;
        let profile = Profile::load(&options.profile.clone().unwrap_or_else(|| crate::project_file(Path::new(DEFAULT_PROFILE)))).map_err(anyhow::Error::msg)?;
        let refiner = options.refine_model.as_deref().map(|path| SilhouetteModel::load(path, options.threads)).transpose()?;
        let refine_model = refiner.as_ref().map(|r| (r.manifest.name.clone(), r.sha256.clone())).unwrap_or_default();
        let (masking, masked_by) = load_masking(options, &scenario, refiner)?;
        // A vendor pipeline that scores anomalies replaces the anomaly model too.
        let anomaly = match masked_by.vendor_threshold {
            Some(_) => None,
            None => Some(AnomalyDetector::load(&options.ad_model, options.threads)?),
        };
        if let Some(model) = &anomaly {
            let fps: Vec<u32> = scenario.cameras.iter().map(|c| c.fps).collect();
            model.check_scenario(&scenario.masking, &fps).map_err(|e| anyhow::anyhow!("{}: {e}", options.ad_model.display()))?;
        }
        // Not refused: a board may audit a model under another masker; the report says so. A
        // vendor pipeline paints its own masks solid, whatever `masking.style` says.
        let mut painted = scenario.masking.clone();
        if is_pipeline(&options.mask_model) {
            painted.style = crowdtwin_core::scenario::MaskStyle::Solid;
        }
        let masking_mismatch =
            anomaly.as_ref().and_then(|model| model.manifest.masking_mismatch(&masked_by.name, &masked_by.source, !refine_model.0.is_empty(), &painted));
        if let Some(mismatch) = &masking_mismatch {
            eprintln!("warning: {mismatch}");
        }
        let (attacker, privacy_attacker) = load_attacker(options, &scenario)?;
        let key = storage_key(&scenario, options)?;
        let default_threshold = masked_by.vendor_threshold.or(anomaly.as_ref().map(AnomalyDetector::default_threshold)).unwrap_or(0.5);
        let rule = AlertRule {
            threshold: scenario.alerts.threshold.unwrap_or(default_threshold),
            release_ratio: scenario.alerts.release_ratio,
            min_duration_s: scenario.alerts.min_duration_s as f64,
        };
        let (anomaly_model, anomaly_source) = match &anomaly {
            Some(model) => (model.manifest.name.clone(), model.sha256.clone()),
            None => (masked_by.name.clone(), masked_by.source.clone()),
        };
        let run_record = RunRecord {
            scenario: scenario.name.clone(),
            scenario_sha256: sha256_file(&options.scenario)?,
            seed: scenario.seed,
            duration_s: scenario.duration_s as f64,
            tick_hz: scenario.tick_hz,
            ticks: scenario.total_ticks(),
            masking_model: masked_by.name.clone(),
            masking_model_sha256: masked_by.source.clone(),
            refine_model: refine_model.0,
            refine_model_sha256: refine_model.1,
            crowdtwin_version: env!("CARGO_PKG_VERSION").to_string(),
            modality: scenario.deployment.modality.name().to_string(),
            retention: scenario.deployment.retention,
            bits_per_pixel: decimal(scenario.deployment.bits_per_pixel),
            retention_raw_days: decimal(scenario.deployment.retention_days.raw),
            retention_masked_days: decimal(scenario.deployment.retention_days.masked),
            retention_alert_days: decimal(scenario.deployment.retention_days.alerts),
            anomaly_model,
            anomaly_model_sha256: anomaly_source,
            profile: profile.name.clone(),
            profile_sha256: profile.sha256.clone(),
            alert_threshold: decimal(rule.threshold),
            alert_release_ratio: decimal(rule.release_ratio),
            alert_min_duration_s: decimal(scenario.alerts.min_duration_s),
            region_iou: decimal(scenario.alerts.region_iou),
            track_share: decimal(scenario.alerts.track_share),
            detector_tiles: format!("{}x{}{}", scenario.masking.tiles.0, scenario.masking.tiles.1, if scenario.masking.quarter_turns { " + quarter turns" } else { "" }),
            miss_threshold: decimal(scenario.evaluation.miss_threshold),
            min_visible_px: scenario.evaluation.min_visible_px,
            light: scenario.light_condition_at(latitude).to_string(),
            weather: scenario.conditions.weather_name().to_string(),
            site: place,
            site_attribution: site.attribution.clone().unwrap_or_default(),
            origin_lat_deg: site.origin.map(|o| o.lat_deg),
            origin_lon_deg: site.origin.map(|o| o.lon_deg),
        };
        // CAP identifiers carry a key of everything that makes this run this run.
        let cap = cap.with_run_key(&serde_json::to_string(&(&run_record, &scenario.masking, &scenario.deployment))?);
        let card = std::fs::read_to_string(options.mask_model.parent().unwrap_or(Path::new(".")).join(&masked_by.card)).unwrap_or_default();
        let setup = Setup { scenario, policy, rule, key, run_record, model: ModelTexts { licence: masked_by.licence, card, privacy_attacker, anomaly_masking_mismatch: masking_mismatch }, cap, profile, store };
        Ok((setup, Models { masker: masking, anomaly, webhook, attacker }))
    }
}

/// The trained privacy attacker, its heads checked against the attributes the run's privacy
/// table scores (names and classes, in order), and what `summary.json` says of it: `{name,
/// sha256}`, plus `not_run` when the run's persons are the ones it was trained on (the same
/// seed and population) — scored there it would be in-sample, so it is left out (and said on stderr).
fn load_attacker(options: &RunOptions, scenario: &Scenario) -> anyhow::Result<(Option<AttributeAttacker>, serde_json::Value)> {
    let path = options.attacker_model.clone().unwrap_or_else(|| crate::project_file(Path::new(DEFAULT_ATTACKER)));
    // One thread: the model is small, and its guesses must not depend on the machine.
    let attacker = AttributeAttacker::load(&path, 1)?;
    for head in attacker.heads() {
        let expected = crowdtwin_reports::privacy::attacked_classes(&head.attribute);
        anyhow::ensure!(
            !expected.is_empty() && head.classes == expected,
            "{}: head `{}`: expected an attacked attribute (skin_tone_band, gender_presentation, age_group) with classes {expected:?}, the manifest gives {:?}",
            path.display(),
            head.attribute,
            head.classes
        );
    }
    let mut about = serde_json::json!({ "name": attacker.manifest.name, "sha256": attacker.sha256 });
    let population = crate::frames::render_sections(scenario)?.remove("population").unwrap_or_default();
    if attacker.trained_on(scenario.seed, &population) {
        let why = format!("the run's persons (seed {}, this population) are its training data", scenario.seed);
        eprintln!("warning: the trained privacy attacker {} is not run: {why}", path.display());
        about["not_run"] = serde_json::json!(why);
        return Ok((None, about));
    }
    Ok((Some(attacker), about))
}

/// The trained privacy attacker every run scores unless told otherwise.
pub const DEFAULT_ATTACKER: &str = "models/attribute_attacker.ron";

/// What masks a run's frames, as its records name it.
struct MaskedBy {
    name: String,
    /// The model file's sha256, or `served:…`.
    source: String,
    licence: String,
    /// The model card, relative to the manifest.
    card: String,
    /// A vendor pipeline that scores anomalies: its default alert threshold.
    vendor_threshold: Option<f32>,
}

/// crowdtwin's masker from a model manifest, or a vendor pipeline from a `task: pipeline` one.
fn load_masking(options: &RunOptions, scenario: &Scenario, refiner: Option<SilhouetteModel>) -> anyhow::Result<(Masking, MaskedBy)> {
    let settings = &scenario.masking;
    if !is_pipeline(&options.mask_model) {
        let detector = Detector::load(&options.mask_model, options.threads)?;
        let m = detector.manifest.clone();
        let by = MaskedBy { name: m.name, source: detector.sha256.clone(), licence: m.licence, card: m.card, vendor_threshold: None };
        return Ok((Masking::Masker(Box::new(Masker::for_scenario(detector, refiner, settings))), by));
    }
    anyhow::ensure!(
        refiner.is_none() && settings.tiles == (1, 1) && !settings.quarter_turns && matches!(settings.style, crowdtwin_core::scenario::MaskStyle::Solid | crowdtwin_core::scenario::MaskStyle::Outlined),
        "{}: a vendor pipeline returns its own mask, painted solid: --refine-model, masking.tiles, masking.quarter_turns and masking.style (other than the default) do not apply to it",
        options.mask_model.display()
    );
    let pipeline = VendorPipeline::load(&options.mask_model)?;
    let m = pipeline.manifest.clone();
    let threshold = pipeline.scores_anomalies().then_some(m.contract.threshold);
    let by = MaskedBy { name: m.name, source: pipeline.source(), licence: m.licence, card: m.card, vendor_threshold: threshold };
    let (r, g, b) = settings.colour;
    Ok((Masking::Vendor(Box::new(pipeline), [r, g, b]), by))
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
