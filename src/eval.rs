//! `crowdtwin eval`: a suite of scenario runs scored and compared with a baseline — the
//! regression gate a model developer puts in CI.
//!
//! Each run of the suite goes through the whole pipeline ([`crate::pipeline::run`]) into
//! `OUT/<run>/`; its metrics are then read back from its Parquet tables. Every metric comes
//! with a standard error for the sampling noise a new seed brings (persons for the masking
//! and privacy figures, incidents and frames for the anomaly ones). Against a baseline a
//! metric **regresses** when it is worse by more than
//! `z · √(se_baseline² + se_new²) + min_delta` (`min_delta` only for shares). One JUnit test
//! case per run × metric × group (and per policy line with `--policy`); the command exits 1
//! on any regression or policy failure.

use crate::frames::{FrameStore, RenderOptions};
use crate::pipeline::{self, RunOptions};
use crate::scenario::Variant;
use anyhow::Context;
use crowdtwin_core::scenario::{parse_checked, PathSegment};
use crowdtwin_reports::alerts::{anomaly_metrics, labelled_frames};
use crowdtwin_reports::bias::{masking_bias, AttributeBias, BiasOptions};
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::policy::Policy;
use crowdtwin_reports::records::RunRecords;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A suite file (RON).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Schema version; must be 1.
    pub version: u32,
    /// Name, in `junit.xml` and `summary.json`.
    pub name: String,
    /// How far a metric may move before it is a regression.
    #[serde(default)]
    pub tolerance: Tolerance,
    /// The runs.
    pub runs: Vec<SuiteRun>,
}

/// The regression rule.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Tolerance {
    /// Standard errors of the difference allowed (3: about one false alarm in 700 metrics).
    pub z: f64,
    /// Added to the allowance of shares (miss rates, recall, accuracies), absolute.
    pub min_delta: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { z: 3.0, min_delta: 0.02 }
    }
}

/// One run of a suite.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SuiteRun {
    /// Scenario file, relative to the suite file.
    pub scenario: PathBuf,
    /// Simulated seconds instead of the scenario's.
    #[serde(default)]
    pub seconds: Option<f32>,
    /// Seed instead of the scenario's.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The run's name (default: the scenario file's stem); names its folder.
    #[serde(default)]
    pub name: Option<String>,
    /// Local solar time instead of the scenario's.
    #[serde(default)]
    pub time_of_day_h: Option<f32>,
    /// Weather and street lights instead of the scenario's.
    #[serde(default)]
    pub conditions: Option<crowdtwin_core::scenario::Conditions>,
    /// A frame store (`crowdtwin render`), relative to the suite file, to replay instead of
    /// simulating: its render-relevant sections, seed and duration must be this run's.
    #[serde(default)]
    pub frames: Option<PathBuf>,
}

impl Suite {
    /// Reads and checks a suite file.
    ///
    /// # Errors
    /// A syntax error, unknown field or value out of range — `tolerance.z` or `min_delta` not
    /// finite or negative, a run's `seconds` or `time_of_day_h` not finite or out of range, a
    /// name with control characters (which XML cannot carry), two runs of one name — each
    /// naming file, line, column and field.
    pub fn load(path: &Path) -> anyhow::Result<Suite> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the suite", path.display()))?;
        Ok(parse_checked(&text, path, Suite::validate)?)
    }

    fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::{Index, Key};
        if self.version != 1 {
            return Err((vec![Key("version")], format!("suite version {} is not supported (this build reads 1)", self.version)));
        }
        if self.name.chars().any(char::is_control) {
            return Err((vec![Key("name")], "must not contain control characters (JUnit XML cannot carry them)".into()));
        }
        if self.runs.is_empty() {
            return Err((vec![Key("runs")], "a suite needs at least one run".into()));
        }
        for (field, value) in [("z", self.tolerance.z), ("min_delta", self.tolerance.min_delta)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err((vec![Key("tolerance"), Key(field)], format!("must be a finite number, 0 or more, got {value}")));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, run) in self.runs.iter().enumerate() {
            if let Some(seconds) = run.seconds.filter(|s| !(s.is_finite() && *s > 0.0 && *s <= 24.0 * 3600.0)) {
                return Err((vec![Key("runs"), Index(i), Key("seconds")], format!("must be above 0 and at most a day, got {seconds}")));
            }
            if let Some(hour) = run.time_of_day_h.filter(|h| !(0.0..=24.0).contains(h)) {
                return Err((vec![Key("runs"), Index(i), Key("time_of_day_h")], format!("must be between 0 and 24 hours, got {hour}")));
            }
            let name = self.run_name(i).map_err(|e| (vec![Key("runs"), Index(i), Key("name")], e.to_string()))?;
            if !names.insert(name.clone()) {
                return Err((vec![Key("runs"), Index(i), Key("name")], format!("two runs are called `{name}`; give one a `name`")));
            }
        }
        Ok(())
    }

    /// The name of run `i`: its own, else its scenario file's stem.
    pub fn run_name(&self, i: usize) -> anyhow::Result<String> {
        let run = &self.runs[i];
        let name = match &run.name {
            Some(name) => name.clone(),
            None => run.scenario.file_stem().and_then(|s| s.to_str()).context("a scenario path without a file name")?.to_string(),
        };
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "`{}` must be letters, digits, - or _ (it names a folder)",
            name.escape_debug()
        );
        Ok(name)
    }
}

/// One measured value of one run.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Measurement {
    /// Run name.
    pub run: String,
    /// Metric name (`miss_rate`, `incident_recall`, …).
    pub metric: String,
    /// Group (`everybody`, `skin_tone=5`, `identity`, …).
    pub group: String,
    /// Value.
    pub value: f64,
    /// Standard error for seed-to-seed noise.
    pub standard_error: f64,
    /// Whether a higher value is worse.
    pub higher_is_worse: bool,
    /// Whether the value is a share (0–1), to which `min_delta` applies.
    pub share: bool,
    /// Persons (or incidents, frames) behind it.
    pub units: usize,
    /// Too few persons to judge (a group below the policy's `min_persons`).
    pub too_few: bool,
}

/// A measurement compared with its baseline.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Comparison {
    /// The new measurement.
    pub measurement: Measurement,
    /// Baseline value, if the baseline had the metric.
    pub baseline: Option<f64>,
    /// How much worse than the baseline (negative: better).
    pub worse_by: Option<f64>,
    /// Allowed worsening.
    pub allowance: Option<f64>,
    /// `pass`, `regression`, `skipped` (too few persons, or nothing to compare with).
    pub status: &'static str,
}

/// The metrics of one run, from its records. `options` are the bootstrap settings.
pub fn measure(run: &str, records: &RunRecords, options: &BiasOptions) -> Vec<Measurement> {
    let mut out = Vec::new();
    let Some(info) = records.runs.first() else { return out };
    let se_of = |ci: Option<(f64, f64)>| ci.map_or(0.0, |(low, high)| (high - low) / (2.0 * 1.959_964));
    let share = |metric: &str, group: String, value: f64, se: f64, higher_is_worse: bool, units: usize, too_few: bool| Measurement {
        run: run.to_string(),
        metric: metric.to_string(),
        group,
        value,
        standard_error: se,
        higher_is_worse,
        share: true,
        units,
        too_few,
    };
    // Masking: miss rate of everybody and of every group, bootstrap over persons.
    let mut attributes = vec![("everybody", Vec::new())];
    attributes.extend(crowdtwin_core::taxonomy::GROUPING_ATTRIBUTES.iter().map(|a| (*a, vec![*a])));
    for (name, list) in attributes {
        let bias = if list.is_empty() {
            crowdtwin_reports::policy::everybody(records, info.miss_threshold, info.min_visible_px, options)
        } else {
            masking_bias(records, &list, info.miss_threshold, info.min_visible_px, options)
        };
        for group in &bias.groups {
            let Some(rate) = group.miss_rate else { continue };
            let label = if list.is_empty() { "everybody".to_string() } else { format!("{name}={}", group.value) };
            // Everybody is always judged: the allowance widens with few persons.
            let too_few = group.too_few_persons && !list.is_empty();
            out.push(share("miss_rate", label, rate, se_of(group.miss_rate_ci), true, group.persons, too_few));
        }
    }
    // Anomaly detection.
    let anomaly = anomaly_metrics(records);
    let binomial = |successes: usize, n: usize| {
        // (x + 1)/(n + 2) keeps the error of 0/n and n/n above zero.
        let p = (successes as f64 + 1.0) / (n as f64 + 2.0);
        (p * (1.0 - p) / n.max(1) as f64).sqrt()
    };
    if let Some(recall) = anomaly.incident_recall {
        out.push(share("incident_recall", "incidents".into(), recall, binomial(anomaly.incidents_detected, anomaly.incidents_visible), false, anomaly.incidents_visible, false));
    }
    if let Some(rate) = anomaly.protected_flag_rate {
        out.push(share("protected_flag_rate", "protected activities".into(), rate, binomial(anomaly.protected_flagged, anomaly.protected_visible), true, anomaly.protected_visible, false));
    }
    if let Some(auc) = anomaly.ad_frame_auc {
        // Hanley & McNeil (1982); frames of one incident are not independent, so this is a floor.
        let (np, nn) = (anomaly.positive_frames as f64, anomaly.negative_frames as f64);
        let (q1, q2) = (auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc));
        let variance = (auc * (1.0 - auc) + (np - 1.0) * (q1 - auc * auc) + (nn - 1.0) * (q2 - auc * auc)) / (np * nn);
        out.push(share("ad_frame_auc", "frames".into(), auc, variance.max(0.0).sqrt(), false, labelled_frames(records).len(), false));
    }
    if let Some(rate) = anomaly.false_alerts_per_hour {
        // Poisson: √count false alerts, at least one.
        let se = (anomaly.false_alerts.max(1) as f64).sqrt() / anomaly.camera_hours.max(1e-9);
        out.push(Measurement { share: false, ..share("false_alerts_per_hour", "camera-hours".into(), rate, se, true, anomaly.alerts, false) });
    }
    // Privacy: what the attackers still get from masked frames.
    for p in records.privacy.iter().filter(|p| p.view == "masked") {
        // The simple attackers keep their metric names (baselines compare by them).
        let metric = match p.attack.as_str() {
            "attribute_trained" => format!("privacy_trained_{}", p.metric.to_lowercase()),
            _ => format!("privacy_{}", p.metric.to_lowercase()),
        };
        out.push(share(&metric, p.target.clone(), p.value, se_of(p.ci_low.zip(p.ci_high)), true, p.persons as usize, false));
    }
    out
}

/// Compares measurements with a baseline's.
pub fn compare(new: &[Measurement], baseline: Option<&[Measurement]>, tolerance: &Tolerance) -> Vec<Comparison> {
    new.iter()
        .map(|m| {
            let before = baseline.and_then(|b| b.iter().find(|x| (x.run.as_str(), x.metric.as_str(), x.group.as_str()) == (m.run.as_str(), m.metric.as_str(), m.group.as_str())));
            let Some(before) = before else {
                return Comparison { measurement: m.clone(), baseline: None, worse_by: None, allowance: None, status: "skipped" };
            };
            let worse_by = if m.higher_is_worse { m.value - before.value } else { before.value - m.value };
            let allowance = tolerance.z * (m.standard_error.powi(2) + before.standard_error.powi(2)).sqrt() + if m.share { tolerance.min_delta } else { 0.0 };
            let status = if m.too_few || before.too_few {
                "skipped"
            } else if worse_by > allowance + 1e-12 {
                "regression"
            } else {
                "pass"
            };
            Comparison { measurement: m.clone(), baseline: Some(before.value), worse_by: Some(worse_by), allowance: Some(allowance), status }
        })
        .collect()
}

/// Pooled figures over the runs that share a condition.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ConditionSummary {
    /// `light` or `weather`.
    pub by: String,
    /// Its value (`day`, `night`, `rain`, …).
    pub condition: String,
    /// Runs pooled.
    pub runs: Vec<String>,
    /// Scored person-frames.
    pub person_frames: u64,
    /// Missed person-frames ÷ scored.
    pub miss_rate: Option<f64>,
    /// Incidents visible.
    pub incidents_visible: usize,
    /// Of which detected ÷ visible.
    pub incident_recall: Option<f64>,
    /// Protected activities visible.
    pub protected_visible: usize,
    /// Of which flagged ÷ visible.
    pub protected_flag_rate: Option<f64>,
    /// False alerts ÷ camera-hours.
    pub false_alerts_per_hour: Option<f64>,
}

/// Pools the runs by light and by weather (each run's records and name).
pub fn by_condition(runs: &[(String, RunRecords)]) -> Vec<ConditionSummary> {
    let mut pooled: BTreeMap<(String, String), (ConditionSummary, u64, usize, usize, usize, f64)> = BTreeMap::new();
    for (name, records) in runs {
        let Some(info) = records.runs.first() else { continue };
        let outcomes = crowdtwin_reports::bias::person_outcomes(records, info.miss_threshold, info.min_visible_px);
        let (scored, missed) = outcomes.values().fold((0u64, 0u64), |(s, m), o| (s + o.scored as u64, m + o.missed as u64));
        let anomaly = anomaly_metrics(records);
        for (by, condition) in [("light", &info.light), ("weather", &info.weather)] {
            let entry = pooled.entry((by.to_string(), condition.clone())).or_insert_with(|| {
                (ConditionSummary { by: by.to_string(), condition: condition.clone(), ..Default::default() }, 0, 0, 0, 0, 0.0)
            });
            entry.0.runs.push(name.clone());
            entry.0.person_frames += scored;
            entry.1 += missed;
            entry.0.incidents_visible += anomaly.incidents_visible;
            entry.2 += anomaly.incidents_detected;
            entry.0.protected_visible += anomaly.protected_visible;
            entry.3 += anomaly.protected_flagged;
            entry.4 += anomaly.false_alerts;
            entry.5 += anomaly.camera_hours;
        }
    }
    pooled
        .into_values()
        .map(|(mut s, missed, detected, alerted, false_alerts, hours)| {
            s.miss_rate = (s.person_frames > 0).then(|| missed as f64 / s.person_frames as f64);
            s.incident_recall = (s.incidents_visible > 0).then(|| detected as f64 / s.incidents_visible as f64);
            s.protected_flag_rate = (s.protected_visible > 0).then(|| alerted as f64 / s.protected_visible as f64);
            s.false_alerts_per_hour = (hours > 0.0).then(|| false_alerts as f64 / hours);
            s
        })
        .collect()
}

/// What `crowdtwin eval` was asked to do.
pub struct EvalOptions {
    /// Suite file.
    pub suite: PathBuf,
    /// Output folder: one run folder per suite run, `junit.xml`, `summary.json`.
    pub out: PathBuf,
    /// A previous eval's output folder to compare with.
    pub baseline: Option<PathBuf>,
    /// Fairness policy judged on every run (its failures fail the gate).
    pub policy: Option<PathBuf>,
    /// What may be flagged, for every run (`None`: the default profile).
    pub profile: Option<PathBuf>,
    /// Masking model manifest.
    pub mask_model: PathBuf,
    /// Silhouette model refining every run's person boxes (`None`: boxes as detected).
    pub refine_model: Option<PathBuf>,
    /// Anomaly model manifest.
    pub ad_model: PathBuf,
    /// ONNX Runtime threads.
    pub threads: usize,
    /// `(i, n)`: run only shard `i` of `n` — the suite's runs whose index modulo `n` is `i` —
    /// and write `shard.json` instead of a verdict ([`merge`] gives the verdict).
    pub shard: Option<(usize, usize)>,
    /// Frame stores kept here, one per render key: a run without its own `frames` is rendered
    /// into one once, and every later eval with the same key replays it (`None`: simulate live).
    pub frames_cache: Option<PathBuf>,
}

/// What the gate decided.
pub struct EvalOutcome {
    /// No regression and no policy failure.
    pub passed: bool,
    /// Test cases: total, regressions (and policy failures), skipped.
    pub counts: (usize, usize, usize),
    /// The summary written (a shard's: its `shard.json`).
    pub summary: serde_json::Value,
}

/// The store of `render`'s scenario in `cache` (`cache/KEY16`): reused when one with its key is
/// there, else rendered into it (of two shards rendering it at once, the first to finish wins);
/// a folder of that name that is no such store is replaced.
///
/// # Errors
/// A bad scenario, a render error, a store that cannot be moved into place.
pub fn cached_store(cache: &Path, render: &RenderOptions, progress: impl FnMut(u64, u64)) -> anyhow::Result<PathBuf> {
    let mut scenario = crate::scenario::load_scenario(&render.scenario, render.seconds, render.seed)?;
    crate::scenario::apply_variant(&mut scenario, &render.variant, &render.scenario)?;
    let key = crate::frames::render_key(&crate::frames::render_sections(&scenario)?, &crate::frames::assets_sha256()?);
    let dir = cache.join(&key[..16]);
    if FrameStore::open(&dir).is_ok_and(|store| store.manifest.key == key) {
        eprintln!("reusing the frame store {} (key {})", dir.display(), &key[..16]);
        return Ok(dir);
    }
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    // Rendered under a name of this process's own (shards of a job array may share the cache
    // across nodes), then renamed into place: a shard replaying the store never sees another
    // replace it, and a rename onto a store already there (another shard was first) fails,
    // leaving that one.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let own = cache.join(format!(".{}.{}.{}.{nanos}", &key[..16], host.trim(), std::process::id()));
    crate::frames::render(&RenderOptions { out: own.clone(), ..render.clone() }, progress)?;
    eprintln!("rendered the frame store {} (key {})", dir.display(), &key[..16]);
    if dir.exists() && FrameStore::open(&dir).map_or(true, |store| store.manifest.key != key) {
        // Not a store this build can replay (a crash, a hand edit): moved aside, then removed.
        let stale = cache.join(format!(".{}.stale.{nanos}", &key[..16]));
        eprintln!("replacing {}: not a frame store of key {}", dir.display(), &key[..16]);
        if std::fs::rename(&dir, &stale).is_ok() {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }
    if let Err(error) = std::fs::rename(&own, &dir) {
        let _ = std::fs::remove_dir_all(&own);
        if !FrameStore::open(&dir).is_ok_and(|store| store.manifest.key == key) {
            return Err(error).with_context(|| format!("moving the new frame store into {}", dir.display()));
        }
    }
    Ok(dir)
}

/// The file a shard writes beside its run folders.
pub const SHARD_FILE: &str = "shard.json";

/// Runs a suite (or one shard of it), compares it with the baseline and writes `junit.xml` and
/// `summary.json` (a shard: `shard.json`).
///
/// # Errors
/// A bad suite, baseline, policy or shard; a run that fails (named).
pub fn eval(options: &EvalOptions, mut progress: impl FnMut(&str, u64, u64)) -> anyhow::Result<EvalOutcome> {
    let suite = Suite::load(&options.suite)?;
    // Checked before any run: a day of compute must not end in a bad baseline or policy.
    let baseline = options.baseline.as_deref().map(read_baseline).transpose()?;
    let policy = options.policy.as_deref().map(|p| Policy::load(p).map_err(anyhow::Error::msg)).transpose()?;
    if let Some(profile) = &options.profile {
        crowdtwin_reports::profile::Profile::load(profile).map_err(anyhow::Error::msg)?;
    }
    if let Some((i, n)) = options.shard {
        anyhow::ensure!(n >= 1 && i < n, "--shard {i}/{n}: the shard index must be below the shard count");
    }
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    let folder = options.suite.parent().unwrap_or(Path::new("."));
    let mine = |i: usize| options.shard.is_none_or(|(shard, n)| i % n == shard);
    let mut names = Vec::new();
    for (i, run) in suite.runs.iter().enumerate().filter(|(i, _)| mine(*i)) {
        let name = suite.run_name(i)?;
        let variant = Variant { name: Some(name.clone()), time_of_day_h: run.time_of_day_h, conditions: run.conditions.clone(), ..Variant::default() };
        let scenario = folder.join(&run.scenario);
        let frames = match (&run.frames, &options.frames_cache) {
            (Some(store), _) => Some(folder.join(store)),
            (None, Some(cache)) => {
                let render = RenderOptions { scenario: scenario.clone(), out: PathBuf::new(), seconds: run.seconds, seed: run.seed, variant: variant.clone(), log: false };
                Some(cached_store(cache, &render, |done, total| progress(&format!("{name} (render)"), done, total)).with_context(|| format!("suite run `{name}`: its frame store"))?)
            }
            (None, None) => None,
        };
        let run_options = RunOptions {
            scenario,
            out: options.out.join(&name),
            seconds: run.seconds,
            seed: run.seed,
            mask_model: options.mask_model.clone(),
            refine_model: options.refine_model.clone(),
            ad_model: options.ad_model.clone(),
            key_file: None,
            threads: options.threads,
            log: false,
            policy: options.policy.clone(),
            depth: 1,
            variant,
            cap_webhook: None,
            profile: options.profile.clone(),
            attacker_model: None,
            frames,
        };
        pipeline::run(&run_options, |done, total| progress(&name, done, total)).with_context(|| format!("suite run `{name}`"))?;
        names.push(name);
    }
    if let Some((i, n)) = options.shard {
        let shard = serde_json::json!({
            "suite": suite.name,
            "suite_file": std::path::absolute(&options.suite)?,
            "suite_sha256": crowdtwin_vision::manifest::sha256_file(&options.suite)?,
            "shard": i,
            "shards": n,
            "runs": names,
            "models": models_of(&options.out, &names)?,
        });
        write_atomic(&options.out.join(SHARD_FILE), serde_json::to_string_pretty(&shard)?.as_bytes()).context("writing shard.json")?;
        return Ok(EvalOutcome { passed: true, counts: (0, 0, 0), summary: shard });
    }
    summarize(&suite, options.out.as_path(), options.baseline.as_deref(), baseline.as_deref(), policy.as_ref())
}

/// The models a shard's runs used (masking, refiner, anomaly, profile, privacy attacker): every
/// run of one eval uses the same, so the first run's `runs` table and summary tell (none for a
/// shard without runs).
fn models_of(out: &Path, names: &[String]) -> anyhow::Result<Option<[String; 5]>> {
    let Some(first) = names.first() else { return Ok(None) };
    let runs = crowdtwin_reports::tables::read(&out.join(first).join("runs.parquet")).map_err(anyhow::Error::msg)?;
    let value = |column: &str| -> anyhow::Result<String> {
        Ok(runs.column(column)?.str()?.get(0).with_context(|| format!("run `{first}` has no {column}"))?.to_string())
    };
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join(first).join("summary.json"))?)?;
    let attacker = summary["privacy_attacker_model"]["sha256"].as_str().unwrap_or_default().to_string();
    Ok(Some([value("masking_model_sha256")?, value("refine_model_sha256")?, value("anomaly_model_sha256")?, value("profile_sha256")?, attacker]))
}

/// Combines the shards of one suite (each an `eval --shard I/N` output folder) into `out` and
/// gives the verdict one `eval` of the whole suite would: the same `summary.json`, `junit.xml`
/// and pass or fail.
///
/// # Errors
/// A shard folder without `shard.json`; shards of another suite (or a suite file changed
/// since), of different shard counts or models; a missing or duplicate shard; a run folder
/// missing from its shard.
pub fn merge(shards: &[PathBuf], out: &Path, baseline_dir: Option<&Path>, policy: Option<&Path>) -> anyhow::Result<EvalOutcome> {
    anyhow::ensure!(!shards.is_empty(), "eval merge: name the shard folders");
    let mut read = Vec::new();
    for dir in shards {
        let path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: not an `eval --shard` output", path.display()))?;
        let shard: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        read.push((dir.clone(), shard));
    }
    let first = &read[0].1;
    let n = first["shards"].as_u64().context("shard.json without `shards`")? as usize;
    let suite_file = PathBuf::from(first["suite_file"].as_str().context("shard.json without `suite_file`")?);
    let sha = crowdtwin_vision::manifest::sha256_file(&suite_file).with_context(|| format!("reading the suite {}", suite_file.display()))?;
    let mut by_index: BTreeMap<usize, PathBuf> = BTreeMap::new();
    for (dir, shard) in &read {
        let at = dir.display();
        anyhow::ensure!(shard["suite_sha256"].as_str() == Some(sha.as_str()), "{at}: a shard of another suite, or {} changed since it ran", suite_file.display());
        anyhow::ensure!(shard["shards"].as_u64() == Some(n as u64), "{at}: a shard of {} shards, the first of {n}", shard["shards"]);
        let models = (&shard["models"], &first["models"]);
        anyhow::ensure!(models.0.is_null() || models.1.is_null() || models.0 == models.1, "{at}: run with other models ({} against {})", models.0, models.1);
        let i = shard["shard"].as_u64().context("shard.json without `shard`")? as usize;
        if let Some(other) = by_index.insert(i, dir.clone()) {
            anyhow::bail!("shard {i}/{n} given twice: {} and {at}", other.display());
        }
    }
    let missing: Vec<String> = (0..n).filter(|i| !by_index.contains_key(i)).map(|i| format!("{i}/{n}")).collect();
    anyhow::ensure!(missing.is_empty(), "missing shard(s) {}", missing.join(", "));
    let suite = Suite::load(&suite_file)?;
    let baseline = baseline_dir.map(read_baseline).transpose()?;
    let policy = policy.map(|p| Policy::load(p).map_err(anyhow::Error::msg)).transpose()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for i in 0..suite.runs.len() {
        let name = suite.run_name(i)?;
        let from = by_index[&(i % n)].join(&name);
        anyhow::ensure!(from.join("runs.parquet").is_file(), "{}: run `{name}` is missing from shard {}/{n}", from.display(), i % n);
        let to = out.join(&name);
        if std::path::absolute(&from)? != std::path::absolute(&to)? {
            copy_tree(&from, &to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    summarize(&suite, out, baseline_dir, baseline.as_deref(), policy.as_ref())
}

/// Copies a run folder (files and subfolders), replacing what is there.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The verdict on a suite's run folders in `out`, read from their tables: measurements,
/// comparisons with the baseline, policy verdicts, `junit.xml` and `summary.json`.
fn summarize(suite: &Suite, out: &Path, baseline_dir: Option<&Path>, baseline: Option<&[Measurement]>, policy: Option<&Policy>) -> anyhow::Result<EvalOutcome> {
    let bootstrap = policy.map(Policy::options).unwrap_or(BiasOptions { min_persons: 20, ..Default::default() });
    let mut measurements = Vec::new();
    let mut verdicts = Vec::new();
    let mut pooled = Vec::new();
    let mut runs = Vec::new();
    for (i, run) in suite.runs.iter().enumerate() {
        let name = suite.run_name(i)?;
        // Scored from the run's tables, as any other tool reading them would.
        let records = crowdtwin_reports::tables::read_all(&out.join(&name)).map_err(anyhow::Error::msg)?;
        measurements.extend(measure(&name, &records, &bootstrap));
        if let Some(policy) = policy {
            let info = records.runs.first().context("a run without a `runs` record")?;
            let (_, judged) = policy.judge(&records, info.miss_threshold, info.min_visible_px);
            verdicts.extend(judged.into_iter().map(|v| (name.clone(), v)));
        }
        let info = records.runs.first().context("a run without a `runs` record")?;
        runs.push(serde_json::json!({
            "name": name, "scenario": run.scenario, "seed": info.seed, "seconds": info.duration_s,
            "light": info.light, "weather": info.weather, "folder": name,
        }));
        pooled.push((name, records));
    }
    let pools = pool_runs(suite, &pooled, policy, &bootstrap);
    for pool in &pools {
        verdicts.extend(pool.verdicts.iter().map(|v| (pool.name.clone(), v.clone())));
    }
    let comparisons = compare(&measurements, baseline, &suite.tolerance);
    let regressions = comparisons.iter().filter(|c| c.status == "regression").count();
    let policy_failures = verdicts.iter().filter(|(_, v)| v.outcome == "fail").count();
    let skipped = comparisons.iter().filter(|c| c.status == "skipped").count() + verdicts.iter().filter(|(_, v)| v.outcome == "inconclusive").count();
    let total = comparisons.len() + verdicts.len();
    let passed = regressions == 0 && policy_failures == 0;
    let summary = serde_json::json!({
        "suite": suite.name,
        "schema_version": crowdtwin_core::RECORDS_SCHEMA_VERSION,
        "passed": passed,
        "baseline": baseline_dir,
        "tolerance": suite.tolerance,
        "tests": total,
        "regressions": regressions,
        "policy_failures": policy_failures,
        "skipped": skipped,
        "runs": runs,
        "conditions": by_condition(&pooled),
        "pools": pools,
        "measurements": measurements,
        "comparisons": comparisons,
        "policy": policy.map(|p| serde_json::json!({
            "name": p.name,
            "verdicts": verdicts.iter().map(|(run, v)| serde_json::json!({ "run": run, "verdict": v })).collect::<Vec<_>>(),
        })),
    });
    write_atomic(&out.join("junit.xml"), junit(&suite.name, &comparisons, &verdicts).as_bytes()).context("writing junit.xml")?;
    write_atomic(&out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes()).context("writing summary.json")?;
    Ok(EvalOutcome { passed, counts: (total, regressions + policy_failures, skipped), summary })
}

/// Runs of one scenario under one condition (light, weather), pooled: their persons judged
/// together (another seed is another crowd, so each person is an independent cluster).
#[derive(Clone, Debug, Serialize)]
pub struct Pool {
    /// `pool:<scenario>:<light>:<weather>`, its name in `junit.xml` and the verdicts.
    pub name: String,
    /// The scenario file, as the suite names it.
    pub scenario: String,
    /// Light of the runs.
    pub light: String,
    /// Weather of the runs.
    pub weather: String,
    /// The runs pooled (at least two).
    pub runs: Vec<String>,
    /// Persons with scored person-frames, over the runs.
    pub persons: usize,
    /// Pooled masking bias of everybody and of each grouping attribute, with intervals.
    pub bias: Vec<AttributeBias>,
    /// The policy's verdicts on the pool (they count in the gate like a run's).
    pub verdicts: Vec<crowdtwin_reports::policy::Verdict>,
}

/// The suite's pools: runs sharing a scenario and a condition, two or more of them.
fn pool_runs(suite: &Suite, runs: &[(String, RunRecords)], policy: Option<&Policy>, options: &BiasOptions) -> Vec<Pool> {
    let mut keys: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, (_, records)) in runs.iter().enumerate() {
        let Some(info) = records.runs.first() else { continue };
        keys.entry((suite.runs[i].scenario.display().to_string(), info.light.clone(), info.weather.clone())).or_default().push(i);
    }
    keys.into_iter()
        .filter(|(_, members)| members.len() >= 2)
        .map(|((scenario, light, weather), members)| {
            let judged: Vec<(&RunRecords, f64, u32)> = members
                .iter()
                .map(|&i| {
                    let info = &runs[i].1.runs[0];
                    (&runs[i].1, info.miss_threshold, info.min_visible_px)
                })
                .collect();
            let outcomes: Vec<BTreeMap<u32, crowdtwin_reports::bias::PersonOutcome>> = judged.iter().map(|(r, t, f)| crowdtwin_reports::bias::person_outcomes(r, *t, *f)).collect();
            let everybody: Vec<crowdtwin_reports::bias::PersonOutcome> = outcomes.iter().flat_map(|o| o.values().copied()).collect();
            let mut bias = vec![crowdtwin_reports::bias::group_bias("everybody", &[("everybody".to_string(), everybody.clone())], options)];
            let with_outcomes: Vec<(&RunRecords, &BTreeMap<u32, crowdtwin_reports::bias::PersonOutcome>)> = judged.iter().map(|(r, _, _)| *r).zip(outcomes.iter()).collect();
            for attribute in crowdtwin_core::taxonomy::GROUPING_ATTRIBUTES {
                bias.push(crowdtwin_reports::bias::pooled_grouped_bias(&with_outcomes, &[attribute], options));
            }
            let verdicts = policy.map(|p| p.judge_pool(&judged).1).unwrap_or_default();
            Pool {
                name: format!("pool:{scenario}:{light}:{weather}"),
                scenario,
                light,
                weather,
                runs: members.iter().map(|&i| runs[i].0.clone()).collect(),
                persons: everybody.len(),
                bias,
                verdicts,
            }
        })
        .collect()
}

/// What a suite would give each pool, before it runs: `eval plan`.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedPool {
    /// The scenario file and the condition (`light`, `weather`) its runs share.
    pub scenario: String,
    /// Light of the runs (from the scenario's hour and latitude).
    pub light: String,
    /// Weather of the runs.
    pub weather: String,
    /// Runs (seeds) in the pool.
    pub runs: usize,
    /// The smallest group of any grouping attribute the population gives a run: `attribute=value`.
    pub smallest_group: String,
    /// Persons of that group in one run (the population's exact quota).
    pub persons_per_run: usize,
    /// Over the pool's runs.
    pub persons: usize,
    /// `95 %`, `80 %` or `short`: the power the pool reaches for the gap.
    pub reaches: &'static str,
    /// Runs (seeds) that would reach 80 % and 95 % power.
    pub runs_for_80: Option<usize>,
    /// Runs for 95 %.
    pub runs_for_95: Option<usize>,
}

/// `eval plan`: the bias test's power against a `gap` from the validated synthetic model
/// ([`crowdtwin_reports::power`]), and what each of the suite's pools reaches with the persons its
/// population gives its smallest group — an upper bound, as persons never in view are not scored,
/// and the model assumes 40 scored frames per person.
///
/// # Errors
/// A bad suite or scenario, or a gap outside (0, 0.7].
pub fn plan(suite_path: &Path, gap: f64, trials: u64) -> anyhow::Result<(crowdtwin_reports::power::Plan, Vec<PlannedPool>)> {
    anyhow::ensure!(gap.is_finite() && gap > 0.0 && gap <= 0.7, "--gap must be a miss-rate gap in (0, 0.7], got {gap}");
    anyhow::ensure!((10..=10_000).contains(&trials), "--trials must be 10 to 10 000, got {trials}");
    let suite = Suite::load(suite_path)?;
    let folder = suite_path.parent().unwrap_or(Path::new("."));
    // The validated set-up: 400 replicates, groups of at least 20 judged.
    let power = crowdtwin_reports::power::plan(gap, trials, &BiasOptions { resamples: 400, min_persons: 20, ..Default::default() });
    let mut pools: BTreeMap<(String, String, String), (usize, String, usize)> = BTreeMap::new();
    for (i, run) in suite.runs.iter().enumerate() {
        let name = suite.run_name(i)?;
        let path = folder.join(&run.scenario);
        let mut scenario = crate::scenario::load_scenario(&path, run.seconds, run.seed)?;
        crate::scenario::apply_variant(&mut scenario, &Variant { name: Some(name), time_of_day_h: run.time_of_day_h, conditions: run.conditions.clone(), ..Variant::default() }, &path)?;
        let persons = crowdtwin_agents::population::generate_population(&scenario);
        let mut smallest: Option<(usize, String)> = None;
        for attribute in crowdtwin_core::taxonomy::GROUPING_ATTRIBUTES {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for p in &persons {
                *counts.entry(p.demographics.value_of(attribute).unwrap_or_default()).or_default() += 1;
            }
            // An attribute with one value has no groups to compare.
            if counts.len() < 2 {
                continue;
            }
            for (value, n) in counts {
                if smallest.as_ref().is_none_or(|(m, _)| n < *m) {
                    smallest = Some((n, format!("{attribute}={value}")));
                }
            }
        }
        let (n, group) = smallest.unwrap_or((persons.len(), "everybody".into()));
        let key = (run.scenario.display().to_string(), scenario.light_condition().to_string(), scenario.conditions.weather_name().to_string());
        let entry = pools.entry(key).or_insert((0, group.clone(), n));
        entry.0 += 1;
        if n < entry.2 {
            (entry.1, entry.2) = (group, n);
        }
    }
    let runs_for = |needed: Option<usize>, per_run: usize| needed.map(|needed| needed.div_ceil(per_run.max(1)));
    let planned = pools
        .into_iter()
        .map(|((scenario, light, weather), (runs, smallest_group, persons_per_run))| {
            let persons = runs * persons_per_run;
            let reaches = match (power.persons_for_95, power.persons_for_80) {
                (Some(n95), _) if persons >= n95 => "95 %",
                (_, Some(n80)) if persons >= n80 => "80 %",
                _ => "short",
            };
            PlannedPool {
                scenario,
                light,
                weather,
                runs,
                smallest_group,
                persons_per_run,
                persons,
                reaches,
                runs_for_80: runs_for(power.persons_for_80, persons_per_run),
                runs_for_95: runs_for(power.persons_for_95, persons_per_run),
            }
        })
        .collect();
    Ok((power, planned))
}

/// A baseline eval's measurements.
fn read_baseline(dir: &Path) -> anyhow::Result<Vec<Measurement>> {
    let path = dir.join("summary.json");
    let bytes = std::fs::read(&path).with_context(|| format!("{}: no eval summary to compare with", path.display()))?;
    let summary: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
    anyhow::ensure!(
        summary["schema_version"].as_u64() == Some(crowdtwin_core::RECORDS_SCHEMA_VERSION as u64),
        "{}: schema version {}, but this build compares schema version {} (see the README's schema changelog)",
        path.display(),
        summary["schema_version"],
        crowdtwin_core::RECORDS_SCHEMA_VERSION
    );
    serde_json::from_value(summary["measurements"].clone()).with_context(|| format!("{}: field `measurements` is not an eval's", path.display()))
}

/// Text as XML 1.0 character data or attribute value: markup characters escaped, and every
/// character XML 1.0 forbids (most control characters, even as references) replaced by U+FFFD.
fn xml(text: &str) -> String {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    text.chars()
        .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test suite per run, one test case per metric × group and per policy line.
pub fn junit(suite: &str, comparisons: &[Comparison], verdicts: &[(String, crowdtwin_reports::policy::Verdict)]) -> String {
    let mut runs: Vec<&str> = comparisons.iter().map(|c| c.measurement.run.as_str()).chain(verdicts.iter().map(|v| v.0.as_str())).collect();
    runs.dedup();
    let failures = comparisons.iter().filter(|c| c.status == "regression").count() + verdicts.iter().filter(|v| v.1.outcome == "fail").count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"crowdtwin eval {}\" tests=\"{}\" failures=\"{failures}\">\n",
        xml(suite),
        comparisons.len() + verdicts.len()
    );
    let mut seen = std::collections::BTreeSet::new();
    for run in runs.into_iter().filter(|r| seen.insert(*r)) {
        let cases: Vec<&Comparison> = comparisons.iter().filter(|c| c.measurement.run == run).collect();
        let judged: Vec<_> = verdicts.iter().filter(|v| v.0 == run).map(|v| &v.1).collect();
        let failed = cases.iter().filter(|c| c.status == "regression").count() + judged.iter().filter(|v| v.outcome == "fail").count();
        let skipped = cases.iter().filter(|c| c.status == "skipped").count() + judged.iter().filter(|v| v.outcome == "inconclusive").count();
        let _ = writeln!(out, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">", xml(run), cases.len() + judged.len());
        for c in cases {
            let m = &c.measurement;
            let _ = write!(out, "    <testcase classname=\"{}.{}\" name=\"{}\">", xml(run), xml(&m.metric), xml(&m.group));
            let detail = format!(
                "value {:.4} (se {:.4}, {} units), baseline {}, worse by {}, allowed {}",
                m.value,
                m.standard_error,
                m.units,
                c.baseline.map_or("none".into(), |b| format!("{b:.4}")),
                c.worse_by.map_or("—".into(), |w| format!("{w:.4}")),
                c.allowance.map_or("—".into(), |a| format!("{a:.4}"))
            );
            match c.status {
                "regression" => {
                    let _ = write!(out, "<failure message=\"regression: {}\">{}</failure>", xml(&detail), xml(&detail));
                }
                "skipped" => {
                    let why = if c.baseline.is_none() { "no baseline value" } else { "too few persons to judge" };
                    let _ = write!(out, "<skipped message=\"{why}\"/><system-out>{}</system-out>", xml(&detail));
                }
                _ => {
                    let _ = write!(out, "<system-out>{}</system-out>", xml(&detail));
                }
            }
            out.push_str("</testcase>\n");
        }
        for v in judged {
            let _ = write!(out, "    <testcase classname=\"{}.policy\" name=\"{}\">", xml(run), xml(&v.rule));
            let detail = format!("{}: {} (worst group {}, value {})", v.outcome, v.reason, v.worst_group.as_deref().unwrap_or("—"), v.value.map_or("—".into(), |x| format!("{x:.4}")));
            match v.outcome {
                "fail" => {
                    let _ = write!(out, "<failure message=\"{}\"/>", xml(&detail));
                }
                "inconclusive" => {
                    let _ = write!(out, "<skipped message=\"{}\"/>", xml(&detail));
                }
                _ => {}
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(metric: &str, value: f64, se: f64, higher_is_worse: bool) -> Measurement {
        Measurement {
            run: "r".into(),
            metric: metric.into(),
            group: "everybody".into(),
            value,
            standard_error: se,
            higher_is_worse,
            share: true,
            units: 50,
            too_few: false,
        }
    }

    #[test]
    fn a_regression_is_a_worsening_beyond_the_noise_allowance() {
        let tolerance = Tolerance { z: 3.0, min_delta: 0.02 };
        // Allowance: 3 · √(0.03² + 0.04²) + 0.02 = 0.17.
        let baseline = vec![m("miss_rate", 0.30, 0.03, true), m("incident_recall", 0.8, 0.0, false)];
        let check = |value: f64, metric: &str| {
            let new = vec![m(metric, value, if metric == "miss_rate" { 0.04 } else { 0.0 }, metric == "miss_rate")];
            compare(&new, Some(&baseline), &tolerance)[0].status
        };
        assert_eq!(check(0.46, "miss_rate"), "pass");
        assert_eq!(check(0.48, "miss_rate"), "regression");
        assert_eq!(check(0.05, "miss_rate"), "pass", "better is never a regression");
        assert_eq!(check(0.79, "incident_recall"), "pass", "within min_delta");
        assert_eq!(check(0.77, "incident_recall"), "regression", "lower recall is worse");
        // Identical values always pass, whatever the tolerance.
        let same = compare(&baseline, Some(&baseline), &Tolerance { z: 0.0, min_delta: 0.0 });
        assert!(same.iter().all(|c| c.status == "pass"));
        // Nothing to compare with, or too few persons: skipped, never failed.
        assert_eq!(compare(&baseline, None, &tolerance)[0].status, "skipped");
        let few = vec![Measurement { too_few: true, ..m("miss_rate", 0.9, 0.0, true) }];
        assert_eq!(compare(&few, Some(&baseline), &tolerance)[0].status, "skipped");
    }

    #[test]
    fn junit_has_one_case_per_comparison_and_marks_failures() {
        let baseline = vec![m("miss_rate", 0.1, 0.0, true)];
        let comparisons = compare(&[m("miss_rate", 0.5, 0.0, true), m("ad_frame_auc", 0.6, 0.0, false)], Some(&baseline), &Tolerance::default());
        let xml = junit("s<1>", &comparisons, &[]);
        assert_eq!(xml.matches("<testcase ").count(), 2);
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert_eq!(xml.matches("<skipped ").count(), 1, "the AUC has no baseline");
        assert!(xml.contains("tests=\"2\" failures=\"1\"") && xml.contains("s&lt;1&gt;"));
    }

    #[test]
    fn a_suite_names_the_field_at_fault() {
        let dir = std::env::temp_dir().join(format!("crowdtwin-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.ron");
        std::fs::write(&path, "(\n  version: 1,\n  name: \"x\",\n  runs: [(scenario: \"a.ron\", secs: Some(2.0))],\n)\n").unwrap();
        let error = format!("{:#}", Suite::load(&path).unwrap_err());
        assert!(error.contains("bad.ron:4:") && error.contains("secs"), "{error}");
        std::fs::write(&path, "(version: 1, name: \"x\", runs: [(scenario: \"a.ron\"), (scenario: \"b/a.ron\")])").unwrap();
        let error = format!("{:#}", Suite::load(&path).unwrap_err());
        assert!(error.contains("runs[1].name") && error.contains("`a`"), "{error}");
        // Non-finite and out-of-range numbers, and control characters, are refused with their field.
        let good = "(\n  version: 1,\n  name: \"x\",\n  tolerance: (z: 3.0, min_delta: 0.02),\n  runs: [(scenario: \"a.ron\", seconds: Some(2.0), time_of_day_h: Some(9.0))],\n)\n";
        std::fs::write(&path, good).unwrap();
        assert!(Suite::load(&path).is_ok());
        for (bad, field, line) in [
            (good.replace("z: 3.0", "z: inf"), "tolerance.z", 4),
            (good.replace("z: 3.0", "z: NaN"), "tolerance.z", 4),
            (good.replace("min_delta: 0.02", "min_delta: -1.0"), "tolerance.min_delta", 4),
            (good.replace("Some(2.0)", "Some(inf)"), "runs[0].seconds", 5),
            (good.replace("Some(9.0)", "Some(NaN)"), "runs[0].time_of_day_h", 5),
            (good.replace("name: \"x\"", "name: \"x\u{1b}[31m\""), "name", 3),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let error = format!("{:#}", Suite::load(&path).unwrap_err());
            assert!(error.contains(&format!("bad.ron:{line}:")) && error.contains(&format!("field `{field}`")), "{bad}: {error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn junit_carries_no_character_xml_forbids_and_a_real_consumer_reads_it() {
        // A run name and a policy line with control characters (escape, bell, NUL) reach junit.xml.
        let comparisons = compare(&[Measurement { run: "r\u{1b}[31m".into(), ..m("miss_rate", 0.5, 0.0, true) }], None, &Tolerance::default());
        let verdict = crowdtwin_reports::policy::Verdict {
            rule: "miss rate \u{7}\u{0} ≤ 0.35".into(),
            outcome: "fail",
            reason: "x".into(),
            point_outcome: "fail",
            worst_group: Some("adult".into()),
            value: Some(0.5),
            interval: Some((0.4, 0.6)),
            beyond_chance: true,
            groups_too_small: 0,
        };
        let xml = junit("suite\u{1b}", &comparisons, &[("r\u{1b}[31m".into(), verdict)]);
        assert!(!xml.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')), "{xml:?}");
        assert!(xml.contains('\u{FFFD}'));
        // junitparser (the project's Python environment) parses it and counts what we wrote.
        let dir = std::env::temp_dir().join(format!("crowdtwin-junit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("junit.xml");
        std::fs::write(&path, &xml).unwrap();
        let script = "import sys\nfrom junitparser import JUnitXml\nxml = JUnitXml.fromfile(sys.argv[1])\n\
            cases = [c for s in xml for c in s]\nfailed = sum(1 for c in cases if not c.is_passed and not c.is_skipped)\n\
            print(len(cases), failed, xml.tests, xml.failures)\n";
        let out = crowdtwin_core::python::run(script, &[path.to_str().unwrap()], "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["2", "1", "2", "1"], "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
