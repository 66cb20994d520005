//! The `crowdtwin` command line: a thin layer over the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use crowdtwin::{bench, pipeline, project_file};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "crowdtwin", version, about = "Digital-twin testbed for privacy-preserving AI video surveillance")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What every simulated run is given: the scenario, where to write, overrides, the masking
/// model and ONNX Runtime's threads.
#[derive(clap::Args)]
struct Simulated {
    /// Scenario file (RON); with `--frames`, optional (default: the store's own copy) and only
    /// its non-render sections may differ from the store's.
    #[arg(required_unless_present = "frames")]
    scenario: Option<PathBuf>,
    /// Replay this frame store (`crowdtwin render`) instead of simulating: no renderer runs,
    /// the store's seed and duration apply.
    #[arg(long, value_name = "FRAMES")]
    frames: Option<PathBuf>,
    /// Output folder; replaced as a whole when the run completes.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    /// Masking model manifest.
    #[arg(long, default_value = "models/nanodet.ron")]
    mask_model: PathBuf,
    /// ONNX Runtime threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The scenario's duration and seed, overridden from the command line.
#[derive(clap::Args)]
struct Overrides {
    /// Simulate this many seconds instead of the scenario's duration.
    #[arg(long)]
    seconds: Option<f32>,
    /// Use this seed instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario, mask every frame with the model and score it against ground truth.
    Run {
        #[command(flatten)]
        simulated: Simulated,
        /// Refine person boxes into silhouettes with this model (e.g. models/pose_landmark_lite.ron).
        #[arg(long)]
        refine_model: Option<PathBuf>,
        /// Anomaly model manifest (AD).
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_AD_MODEL)]
        ad_model: PathBuf,
        /// Key file for retention mode 1 (raw frames encrypted); outside the output folder.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Fairness policy (RON) judged on the run.
        #[arg(long, default_value = "policies/default.ron")]
        policy: PathBuf,
        /// Pipeline depth k: tick t+1 is simulated once tick t−k is recorded (results are the same for every k).
        #[arg(long, default_value_t = 1)]
        depth: usize,
        /// POST each alert's CAP 1.2 message to this http:// endpoint as the alert closes
        /// (checked reachable before the run; every message is also kept in deployment/cap/).
        #[arg(long, value_name = "URL")]
        cap_webhook: Option<String>,
        /// What may be flagged: each event kind an incident, protected or out of scope (RON).
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_PROFILE)]
        profile: PathBuf,
        /// The trained privacy attacker (an `attributes` model manifest).
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_ATTACKER)]
        attacker_model: PathBuf,
    },
    /// Record a scenario's frames and ground truth once into a frame store, to replay through
    /// any models with `run --frames` (no model runs; nothing but synthetic frames is kept).
    Render {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// The store folder; replaced as a whole when complete (only a store or an empty folder).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Privacy against performance: run the scenario once per masking style (and unmasked,
    /// evaluation only) with the same seed and models, and tabulate anomaly detection, the
    /// attackers and the masker's misses per style.
    Compare {
        #[command(flatten)]
        simulated: Simulated,
        /// Anomaly model manifest (AD).
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_AD_MODEL)]
        ad_model: PathBuf,
        /// Styles to run, comma-separated.
        #[arg(long, default_value = "none,solid,outlined,blur,pixelate,edges")]
        styles: String,
        /// What may be flagged.
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_PROFILE)]
        profile: PathBuf,
    },
    /// Run a suite of scenarios, compare with a baseline and write junit.xml + summary.json;
    /// exits 1 on a regression (or a policy failure), 2 on an error.
    Eval {
        /// `merge SHARD_DIR… --out OUT`: combine `--shard` outputs into one verdict.
        #[command(subcommand)]
        action: Option<EvalAction>,
        /// Suite file (RON), e.g. scenarios/ci-suite.ron.
        #[arg(long, required = false)]
        suite: Option<PathBuf>,
        /// Output folder: a run folder per suite run, junit.xml, summary.json.
        #[arg(long, required = false)]
        out: Option<PathBuf>,
        /// Run only shard I of N (`I/N`, I from 0): the suite's runs whose index modulo N is I;
        /// writes shard.json instead of a verdict. `eval merge` gives the verdict.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// A previous eval's output folder to compare with.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Fairness policy judged on every run; its failures fail the gate.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// What may be flagged, for every run (default profiles/unicri.ron).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Masking model manifest.
        #[arg(long, default_value = "models/nanodet.ron")]
        mask_model: PathBuf,
        /// Refine every run's person boxes into silhouettes with this model (e.g.
        /// models/pose_landmark_lite.ron): a second masking model for the same frames.
        #[arg(long)]
        refine_model: Option<PathBuf>,
        /// Anomaly model manifest (AD).
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_AD_MODEL)]
        ad_model: PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Keep frame stores here, one per render key: each run is rendered once and replayed
        /// by every later eval with the same key (new models, masking or alert settings).
        #[arg(long, value_name = "DIR")]
        frames_cache: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Choose cameras from candidate views: the fewest that reach a coverage target, or the best
    /// coverage within a budget; writes a runnable scenario, placement.json and coverage maps.
    Place {
        /// Scenario file (RON): the site, crowd and current cameras.
        scenario: PathBuf,
        /// Candidate views: `auto` (façades and poles of the site) or a RON file of camera specs.
        #[arg(long, default_value = "auto")]
        candidates: String,
        /// DORI level and share of the walkable area to reach, e.g. observe:0.9.
        #[arg(long, default_value = "observe:0.9")]
        target: String,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// At most this many cameras: maximise the share at the target's level instead.
        #[arg(long)]
        budget: Option<usize>,
        /// Largest allowed difference between the districts' covered shares (0–1).
        #[arg(long)]
        equity: Option<f64>,
        /// Weigh cells by simulated footfall instead of area.
        #[arg(long)]
        footfall: bool,
        /// Run the exact solver only up to this many candidates (beyond: greedy + LP bound).
        #[arg(long, default_value_t = 2000)]
        exact_max: usize,
        /// Also write the integer program as MPS to this file (any MIP solver can check it).
        #[arg(long, value_name = "FILE")]
        mps: Option<PathBuf>,
        /// Also solve the program with HiGHS (the Python environment's highspy), within this many
        /// seconds, and print greedy, microlp and HiGHS side by side.
        #[arg(long, value_name = "SECONDS")]
        highs: Option<f64>,
        /// Branch-and-bound nodes the exact solver may explore (deterministic budget).
        #[arg(long, default_value_t = 100)]
        nodes: u64,
    },
    /// Open the planner's view: a window on the scenario's site with its crowd, where cameras
    /// are moved by mouse and keyboard and their DORI coverage is seen at once (needs a display:
    /// X11, or Xvfb). `Ctrl+S` writes the edited scenario.
    View {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Where `Ctrl+S` writes the edited scenario (default: `<scenario>.edited.ron` beside it).
        #[arg(long)]
        save: Option<PathBuf>,
        /// A `crowdtwin place` result (its `scenario.ron`) that `L` loads the cameras of.
        #[arg(long)]
        placed: Option<PathBuf>,
        /// Window size, WIDTHxHEIGHT logical pixels.
        #[arg(long, default_value = "960x540", value_parser = parse_size)]
        size: (u32, u32),
        /// Share of the window's pixels (per axis, 0.25–1) the overview's 3D scene renders at
        /// before it is scaled up (text and picture-in-picture stay sharp); 1 on a GPU.
        #[arg(long, default_value_t = crowdtwin_view::DEFAULT_OVERVIEW_SCALE)]
        overview_scale: f32,
        /// The masking model of the masked picture-in-picture (manifest).
        #[arg(long, default_value = "models/nanodet.ron")]
        mask_model: PathBuf,
        /// Replay a script of raw mouse and keyboard input (RON) instead of a person's: the test mode.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Where a script's dumps and screenshots go.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Export the masked frames of a simulated run (or of a frame store's replay, `--frames`)
    /// with per-frame anomaly labels, to train and test anomaly models (raw frames are never written).
    Dataset {
        #[command(flatten)]
        simulated: Simulated,
        /// Stored frame size, WIDTHxHEIGHT.
        #[arg(long, default_value = "128x72", value_parser = parse_size)]
        size: (u32, u32),
    },
    /// Write a new random key file for retention mode 1 (refuses to overwrite one).
    Keygen {
        /// Where to write the key (keep it outside every output folder).
        path: PathBuf,
    },
    /// Decrypt one raw frame kept under retention mode 1, logging who and why in the run's
    /// hash-chained access log (which is verified first).
    Warrant {
        /// A run folder written under retention mode 1.
        dir: PathBuf,
        /// The key file the run was made with.
        #[arg(long)]
        key_file: PathBuf,
        /// Camera id.
        #[arg(long)]
        camera: String,
        /// Tick of the frame.
        #[arg(long)]
        tick: u64,
        /// Who asks.
        #[arg(long)]
        actor: String,
        /// Why (e.g. the warrant's reference).
        #[arg(long)]
        reason: String,
        /// Where to write the decrypted JPEG.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a run's access log (retention mode 1): every line chained to the one before.
    VerifyLog {
        /// A run folder written under retention mode 1.
        dir: PathBuf,
    },
    /// Rebuild report.html and summary.json of a run folder from its tables, without simulating.
    Report {
        /// A folder written by `crowdtwin run`.
        dir: PathBuf,
        /// Fairness policy (RON) to judge the run by.
        #[arg(long, default_value = "policies/default.ron")]
        policy: PathBuf,
        /// Class the run's events by this profile instead (its alerts and operating points are
        /// rescored and the tables that depend on it rewritten).
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Check a scenario file and print what it describes: for an imported site, what was
    /// imported (counts per kind) and every repair; and write the site's top-down map (PNG).
    Check {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Where to write the site map (default: `out/<scenario name>.site.png`).
        #[arg(long)]
        map: Option<PathBuf>,
    },
    /// Validate the pedestrian model: measure the corridor fundamental diagram, print it against
    /// Weidmann (1993) and plot it as SVG.
    Diagram {
        /// Where to write the plot.
        #[arg(long, default_value = "fundamental_diagram.svg")]
        out: PathBuf,
    },
    /// Measure render, masking and end-to-end throughput on this machine.
    Bench {
        /// Scenario whose site and crowd are used.
        #[arg(default_value = "scenarios/plaza.ron")]
        scenario: PathBuf,
        /// Ticks rendered per measurement.
        #[arg(long, default_value_t = 20)]
        ticks: u64,
        /// Masking model manifest.
        #[arg(long, default_value = "models/nanodet.ron")]
        mask_model: PathBuf,
        /// Silhouette model measured as well.
        #[arg(long, default_value = "models/pose_landmark_lite.ron")]
        refine_model: PathBuf,
        /// A manifest naming a served copy of the masking model (an `endpoint`): the remote path is
        /// measured against the in-process one.
        #[arg(long)]
        served_mask_model: Option<PathBuf>,
        /// Anomaly model manifest.
        #[arg(long, default_value = crowdtwin::pipeline::DEFAULT_AD_MODEL)]
        ad_model: PathBuf,
        /// ONNX Runtime threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Measure crowdtwin's masking stage against a plain Python ONNX Runtime + NumPy loop doing
    /// the same work on the same frames (needs `make setup`'s Python environment).
    BenchPeers {
        /// Scenario whose first camera's frames are used.
        #[arg(default_value = "scenarios/plaza.ron")]
        scenario: PathBuf,
        /// Ticks rendered (one camera: one frame per tick at the camera's rate).
        #[arg(long, default_value_t = 20)]
        frames: u64,
        /// Masking model manifest (a `gfl_detector` file: the peer decodes NanoDet's outputs).
        #[arg(long, default_value = "models/nanodet.ron")]
        mask_model: PathBuf,
        /// ONNX Runtime threads, the same on both sides.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Simulated seconds per density of the crowd comparison (half warm-up, half measured).
        #[arg(long, default_value_t = 40.0)]
        crowd_seconds: f32,
    },
}

/// What `eval` does besides running a suite.
#[derive(Subcommand)]
enum EvalAction {
    /// Before running: how many persons per group (and seeds) the bias test needs to flag a
    /// miss-rate gap with 80 % and 95 % power, and whether each of the suite's pools has them.
    Plan {
        /// Suite file (RON).
        #[arg(long)]
        suite: PathBuf,
        /// The gap to detect, as a share of frames (0.05: 5 points of miss rate).
        #[arg(long, default_value_t = 0.05)]
        gap: f64,
        /// Planted experiments per size.
        #[arg(long, default_value_t = 100)]
        trials: u64,
    },
    /// Combine the output folders of `eval --shard I/N` (all N, once each) into the summary,
    /// junit.xml and exit code one `eval` of the whole suite gives.
    Merge {
        /// The shards' output folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder: the run folders, junit.xml, summary.json.
        #[arg(long)]
        out: PathBuf,
        /// A previous eval's output folder to compare with.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Fairness policy judged on every run.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    quiet_headless_vulkan();
    match execute(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1), // the gate failed; no error
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The scenario, overrides and suite variant of a run. With `--frames`: the scenario by default
/// the store's own copy, with the store's variant (hour, weather) and, unless given, its seed and
/// duration; a named scenario is taken as written, so that a render-relevant difference from
/// the store (its hour, another `--seed`) is refused by [`crowdtwin::frames::FrameStore::adopt`].
fn replayed(scenario: Option<PathBuf>, frames: Option<&Path>, seconds: Option<f32>, seed: Option<u64>) -> anyhow::Result<(PathBuf, Option<f32>, Option<u64>, crowdtwin::scenario::Variant)> {
    let Some(frames) = frames else {
        return Ok((scenario.context("give the scenario")?, seconds, seed, Default::default()));
    };
    let store = crowdtwin::frames::FrameStore::open(frames)?;
    let manifest = store.manifest.clone();
    let (seconds, seed) = (seconds.or(manifest.seconds), seed.or(manifest.seed));
    Ok(match scenario {
        Some(scenario) => (scenario, seconds, seed, Default::default()),
        None => (store.scenario_copy(), seconds, seed, manifest.variant),
    })
}

/// Mesa's Vulkan loader prints an alarming "XDG_RUNTIME_DIR is invalid" on headless machines;
/// give it a private runtime folder when the session has none.
fn quiet_headless_vulkan() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join("crowdtwin-xdg-runtime");
        if std::fs::create_dir_all(&dir).is_ok() {
            // SAFETY: called at the top of `main`, before any thread is started.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

/// `I/N` of `--shard`.
fn parse_shard(text: &str) -> anyhow::Result<(usize, usize)> {
    let parsed = text.split_once('/').and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n >= 1 && i < n => Ok((i, n)),
        _ => anyhow::bail!("--shard {text:?}: expected I/N with 0 ≤ I < N, e.g. 0/2"),
    }
}

/// Runs a command; `Ok(false)` when it ran but its verdict is a failure (`eval`).
fn execute(cli: Cli) -> anyhow::Result<bool> {
    if let Command::Eval { action, suite, out, shard, baseline, policy, profile, mask_model, refine_model, ad_model, threads, frames_cache, quiet } = cli.command {
        let (outcome, out) = match action {
            Some(EvalAction::Plan { suite, gap, trials }) => {
                let (power, pools) = crowdtwin::eval::plan(&suite, gap, trials)?;
                println!("power of the bias test against a {:.1}-point miss-rate gap ({} planted experiments per size; persons missing each of 40 frames with probability 0.30 ± 0.08, the other group 0.30 + gap):", gap * 100.0, power.trials);
                println!("  {:>8}  {:>6}  {:>12}", "persons", "power", "false flags");
                for p in &power.points {
                    println!("  {:>8}  {:>5.0} %  {:>10.0} %", p.persons, p.power * 100.0, p.false_flags * 100.0);
                }
                let size = |n: Option<usize>| n.map_or("more than 3200".to_string(), |n| n.to_string());
                println!("persons per group for 80 % power: {}; for 95 %: {}", size(power.persons_for_80), size(power.persons_for_95));
                println!("the suite's pools (runs of one scenario and condition; persons its population gives the smallest group — an upper bound, persons never in view are not scored):");
                for p in &pools {
                    let runs = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
                    println!(
                        "  {} ({}, {}): {} run(s) × {} persons of {} = {} → {}; runs needed for 80 %: {}, for 95 %: {}",
                        p.scenario, p.light, p.weather, p.runs, p.persons_per_run, p.smallest_group, p.persons, p.reaches, runs(p.runs_for_80), runs(p.runs_for_95)
                    );
                }
                return Ok(true);
            }
            Some(EvalAction::Merge { shards, out, baseline, policy }) => {
                let policy = policy.map(|p| project_file(&p));
                (crowdtwin::eval::merge(&shards, &out, baseline.as_deref(), policy.as_deref())?, out)
            }
            None => {
                let (Some(suite), Some(out)) = (suite, out) else { anyhow::bail!("eval needs --suite SUITE and --out OUT (or `eval merge SHARD_DIR… --out OUT`)") };
                let shard = shard.as_deref().map(parse_shard).transpose()?;
                let options = crowdtwin::eval::EvalOptions {
                    suite,
                    out: out.clone(),
                    baseline,
                    policy: policy.map(|p| project_file(&p)),
                    profile: profile.map(|p| project_file(&p)),
                    mask_model: project_file(&mask_model),
                    refine_model: refine_model.map(|m| project_file(&m)),
                    ad_model: project_file(&ad_model),
                    threads,
                    shard,
                    frames_cache,
                };
                let bar = progress_bar(quiet)?;
                let outcome = crowdtwin::eval::eval(&options, |run, done, total| {
                    bar.set_message(run.to_string());
                    bar.set_length(total);
                    bar.set_position(done);
                })?;
                bar.finish_and_clear();
                if let Some((i, n)) = shard {
                    println!("shard {i}/{n} of suite `{}`: {} run(s); `crowdtwin eval merge` gives the verdict", outcome.summary["suite"].as_str().unwrap_or(""), outcome.summary["runs"].as_array().map_or(0, Vec::len));
                    return Ok(true);
                }
                (outcome, out)
            }
        };
        let (tests, failed, skipped) = outcome.counts;
        println!(
            "suite `{}`: {tests} test cases, {failed} failed, {skipped} skipped — {}",
            outcome.summary["suite"].as_str().unwrap_or(""),
            if outcome.passed { "PASS" } else { "FAIL" }
        );
        for c in outcome.summary["comparisons"].as_array().into_iter().flatten().filter(|c| c["status"] == "regression") {
            let m = &c["measurement"];
            println!("  regression: {} {} [{}]: {:.4} (baseline {:.4}, allowed {:.4} worse)", m["run"].as_str().unwrap_or(""), m["metric"].as_str().unwrap_or(""), m["group"].as_str().unwrap_or(""), m["value"].as_f64().unwrap_or(f64::NAN), c["baseline"].as_f64().unwrap_or(f64::NAN), c["allowance"].as_f64().unwrap_or(f64::NAN));
        }
        println!("junit: {}", out.join("junit.xml").display());
        return Ok(outcome.passed);
    }
    execute_command(cli.command).map(|()| true)
}

fn execute_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run { simulated: Simulated { scenario, frames, out, overrides: Overrides { seconds, seed }, mask_model, threads, quiet }, refine_model, ad_model, key_file, policy, depth, cap_webhook, profile, attacker_model } => {
            let (scenario, seconds, seed, variant) = replayed(scenario, frames.as_deref(), seconds, seed)?;
            let options = pipeline::RunOptions {
                scenario,
                out,
                seconds,
                seed,
                mask_model: project_file(&mask_model),
                refine_model: refine_model.map(|m| project_file(&m)),
                ad_model: project_file(&ad_model),
                key_file,
                threads,
                log: true,
                policy: Some(project_file(&policy)),
                depth,
                variant,
                cap_webhook,
                profile: Some(project_file(&profile)),
                attacker_model: Some(project_file(&attacker_model)),
                frames,
            };
            let bar = progress_bar(quiet)?;
            let outcome = pipeline::run(&options, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            let summary = &outcome.summary;
            println!(
                "{} frames, {} scored person-frames, miss rate {}",
                summary["frames"],
                summary["person_frames"],
                summary["miss_rate"].as_f64().map_or("n/a".into(), |m| format!("{:.1} %", m * 100.0))
            );
            let alerts = &summary["anomaly"]["alerts"];
            println!(
                "{alerts} alert{} ({} false, open {} of camera-time), incident recall {}, frame AUC {}",
                if alerts.as_u64() == Some(1) { "" } else { "s" },
                summary["anomaly"]["false_alerts"],
                summary["alert_time_share"].as_f64().map_or("n/a".into(), |s| format!("{:.0} %", s * 100.0)),
                summary["incident_recall"].as_f64().map_or("n/a".into(), |r| format!("{:.0} %", r * 100.0)),
                summary["ad_frame_auc"].as_f64().map_or("n/a".into(), |a| format!("{a:.3}"))
            );
            println!("report: {}", outcome.out.join("report.html").display());
            if let Some(delivery) = &outcome.cap_delivery {
                println!("CAP webhook {}: {} of {} messages delivered", delivery.url, delivery.delivered, delivery.delivered + delivery.failed);
                anyhow::ensure!(
                    delivery.failed == 0,
                    "{} CAP messages were not delivered to {} (the run's outputs are complete; every message is in {}):\n  {}",
                    delivery.failed,
                    delivery.url,
                    outcome.out.join("deployment/cap").display(),
                    delivery.errors.join("\n  ")
                );
            }
            Ok(())
        }
        Command::Render { scenario, out, overrides: Overrides { seconds, seed }, quiet } => {
            let options = crowdtwin::frames::RenderOptions { scenario, out, seconds, seed, variant: Default::default(), log: true };
            let bar = progress_bar(quiet)?;
            let manifest = crowdtwin::frames::render(&options, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            println!(
                "{} frames of {} ticks in {} (key {}), rendered at {:.2} frames/s",
                manifest.frames,
                manifest.ticks,
                options.out.display(),
                &manifest.key[..16],
                manifest.render_fps
            );
            Ok(())
        }
        Command::Compare { simulated: Simulated { scenario, frames, out, overrides: Overrides { seconds, seed }, mask_model, threads, quiet }, ad_model, styles, profile } => {
            let styles = crowdtwin::compare::parse_styles(&styles).map_err(anyhow::Error::msg)?;
            let (scenario, seconds, seed, variant) = replayed(scenario, frames.as_deref(), seconds, seed)?;
            let base = pipeline::RunOptions {
                seconds,
                seed,
                variant,
                frames,
                mask_model: project_file(&mask_model),
                ad_model: project_file(&ad_model),
                threads,
                profile: Some(project_file(&profile)),
                ..pipeline::RunOptions::new(scenario, out.clone())
            };
            let bar = progress_bar(quiet)?;
            let comparison = crowdtwin::compare::compare(&base, &out, &styles, |style, done, total| {
                bar.set_message(style.to_string());
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            print!("{}", crowdtwin::compare::markdown(&comparison));
            println!("written: {} and {}", out.join("compare.md").display(), out.join("compare.json").display());
            Ok(())
        }
        Command::Keygen { path } => {
            crowdtwin_vision::deployment::StorageKey::generate(&path).map_err(anyhow::Error::msg)?;
            println!("key written to {} (readable by you only); keep it outside every output folder", path.display());
            Ok(())
        }
        Command::Warrant { dir, key_file, camera, tick, actor, reason, out } => {
            let key = crowdtwin_vision::deployment::StorageKey::read(&key_file).map_err(anyhow::Error::msg)?;
            let jpeg = crowdtwin_vision::deployment::warrant_access(&dir.join("deployment"), &key, &camera, tick, &actor, &reason).map_err(anyhow::Error::msg)?;
            crowdtwin_reports::output::write_atomic(&out, &jpeg)?;
            println!("raw frame {camera} @ tick {tick} written to {}; access logged", out.display());
            Ok(())
        }
        Command::VerifyLog { dir } => {
            let (entries, last) = crowdtwin_vision::deployment::verify_log(&dir.join("deployment").join("access_log.jsonl")).map_err(anyhow::Error::msg)?;
            println!("access log intact: {entries} entries, last hash {last}");
            Ok(())
        }
        Command::Check { scenario, map } => {
            let s = crowdtwin::scenario::load_scenario(&scenario, None, None)?;
            crowdtwin::scenario::check_site(&s, &scenario, map.as_deref())?;
            println!(
                "{}: scenario `{}`, {} persons, {} camera(s), {} s at {} ticks/s ({} ticks)",
                scenario.display(),
                s.name,
                s.population.count,
                s.cameras.len(),
                s.duration_s,
                s.tick_hz,
                s.total_ticks()
            );
            let plans = crowdtwin::crowd::plan_incidents(&s).map_err(|e| anyhow::anyhow!("{}: {e}", scenario.display()))?;
            let profile = crowdtwin_reports::profile::Profile::load(&project_file(Path::new(crowdtwin::pipeline::DEFAULT_PROFILE))).map_err(anyhow::Error::msg)?;
            for plan in &plans {
                println!(
                    "  incidents[{}]: {}{}, {:.1}–{:.1} s, {} participant(s) at ({:.1}, {:.1})",
                    plan.index,
                    plan.kind.name(),
                    match profile.class(plan.kind.name()) {
                        crowdtwin_reports::profile::EventClass::Incident => String::new(),
                        class => format!(" ({}, default profile)", class.name().replace('_', " ")),
                    },
                    plan.start_tick as f32 / s.tick_hz as f32,
                    plan.end_tick as f32 / s.tick_hz as f32,
                    plan.participants.len(),
                    plan.centre.x,
                    plan.centre.y
                );
            }
            Ok(())
        }
        Command::Dataset { simulated: Simulated { scenario, frames, out, overrides: Overrides { seconds, seed }, mask_model, threads, quiet }, size } => {
            let (scenario, seconds, seed, variant) = replayed(scenario, frames.as_deref(), seconds, seed)?;
            let options = crowdtwin::dataset::DatasetOptions { scenario, out, seconds, seed, mask_model: project_file(&mask_model), size, threads, frames, variant };
            let bar = progress_bar(quiet)?;
            let (frames, positives) = crowdtwin::dataset::export(&options, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            println!("{frames} masked frames, {positives} labelled anomalous: {}", options.out.display());
            Ok(())
        }
        Command::Report { dir, policy, profile } => {
            let summary = crowdtwin::report::rebuild_report(&dir, &project_file(&policy), profile.map(|p| project_file(&p)).as_deref())?;
            println!(
                "{} frames, {} scored person-frames, policy `{}`, profile `{}`",
                summary["frames"],
                summary["person_frames"],
                summary["policy"]["name"].as_str().unwrap_or(""),
                summary["profile"].as_str().unwrap_or("")
            );
            println!("report: {}", dir.join("report.html").display());
            Ok(())
        }
        Command::Diagram { out } => {
            println!("{}", crowdtwin::crowd::fundamental_diagram(&out)?);
            println!("plot written to {}", out.display());
            Ok(())
        }
        Command::Eval { .. } => unreachable!("handled by `execute`"),
        Command::View { scenario, save, placed, size, overview_scale, mask_model, script, out } => {
            let save_to = save.unwrap_or_else(|| scenario.with_extension("edited.ron"));
            let mask_model = crowdtwin::project_file(&mask_model);
            crowdtwin_view::run(crowdtwin_view::ViewOptions { scenario, save_to, placed, script, out, size, overview_scale, mask_model })
        }
        Command::Place { scenario, candidates, target, out, budget, equity, footfall, exact_max, nodes, mps, highs } => {
            anyhow::ensure!(highs.is_none_or(|s| s.is_finite() && s > 0.0), "--highs takes a positive number of seconds");
            let options = crowdtwin::place::PlaceOptions {
                scenario,
                candidates: if candidates == "auto" { crowdtwin::place::Candidates::Auto } else { crowdtwin::place::Candidates::File(PathBuf::from(candidates)) },
                target: crowdtwin::place::parse_target(&target).map_err(anyhow::Error::msg)?,
                budget,
                equity,
                by_footfall: footfall,
                exact_max_candidates: exact_max,
                node_limit: nodes,
                out: out.clone(),
                mps,
                highs_seconds: highs,
            };
            let o = crowdtwin::place::place(&options)?;
            let share = |a: &crowdtwin::coverage::Assessment, level: &str| a.run.coverage.area_share.get(level).copied().unwrap_or(0.0) * 100.0;
            println!(
                "{} candidates ({} elements): greedy {} cameras ({:.1} %), exact {}; best bound {}",
                o.candidates,
                o.elements,
                o.greedy.chosen.len(),
                o.greedy.share * 100.0,
                match (&o.exact, o.exact_ran) {
                    (_, false) => format!("not run (more than --exact-max {} candidates)", options.exact_max_candidates),
                    (None, true) => format!("found no placement within {} nodes", options.node_limit),
                    (Some(e), true) => format!("{} cameras ({:.1} %)", e.chosen.len(), e.share * 100.0),
                },
                o.bound.map_or("—".into(), |b| format!("{b:.2}"))
            );
            println!(
                "greedy gap {}; written: the {} placement{}, equity gap {:.3}",
                if o.greedy_gap.is_finite() { format!("{:.1} %", o.greedy_gap * 100.0) } else { "n/a (it breaks the equity limit)".into() },
                o.chosen_by,
                if o.proven_optimal { ", proven optimal" } else { "" },
                o.equity_gap
            );
            if let Some(h) = &o.highs {
                use crowdtwin_reports::placement::{gap, Goal};
                let goal = options.budget.map_or(Goal::Target(options.target.1), Goal::Budget);
                let cell = |p: Option<&crowdtwin_reports::placement::Placement>| p.map_or("none found".to_string(), |p| format!("{} cameras, {:.2} %", p.chosen.len(), p.share * 100.0));
                let gap_of = |p: Option<&crowdtwin_reports::placement::Placement>| p.zip(o.bound).map_or("—".to_string(), |(p, b)| format!("{:.1} %", gap(goal, p, b) * 100.0));
                let bound = |b: Option<f64>| b.map_or("—".to_string(), |b| format!("{b:.3}"));
                println!("| solver | placement | its proven bound | gap to the best bound ({}) | seconds |\n|---|---|---|---|---|", bound(o.bound));
                println!("| greedy | {} | — | {} | {:.3} |", cell(Some(&o.greedy)), gap_of(Some(&o.greedy)), o.seconds[1]);
                if o.exact_ran {
                    println!("| microlp ({} nodes) | {} | {} | {} | {:.2} |", options.node_limit, cell(o.exact.as_ref()), bound(o.exact_bound), gap_of(o.exact.as_ref()), o.seconds[2]);
                }
                println!("| HiGHS {} ({}) | {} | {} | {} | {:.2} |", h.version, h.status, cell(h.placement.as_ref()), bound(Some(h.bound)), gap_of(h.placement.as_ref()), h.seconds);
            }
            println!(
                "observe coverage of the walkable area: before {:.1} % ({} cameras), after {:.1} % ({} cameras)",
                share(&o.before, "observe"),
                o.cameras_before,
                share(&o.after, "observe"),
                o.after_cameras
            );
            println!("written: {}", out.join("scenario.ron").display());
            Ok(())
        }
        Command::Bench { scenario, ticks, mask_model, refine_model, served_mask_model, ad_model, threads } => {
            let refine_model = project_file(&refine_model);
            let served = served_mask_model.as_deref().map(project_file);
            println!("{}", bench::bench(&scenario, &project_file(&mask_model), Some(&refine_model), served.as_deref(), &project_file(&ad_model), ticks, threads)?);
            Ok(())
        }
        Command::BenchPeers { scenario, frames, mask_model, threads, crowd_seconds } => {
            anyhow::ensure!(crowd_seconds.is_finite() && (1.0..=3600.0).contains(&crowd_seconds), "--crowd-seconds must be 1 to 3600, got {crowd_seconds}");
            println!("{}", bench::bench_peers(&scenario, &project_file(&mask_model), frames, threads)?);
            println!("{}", bench::bench_crowd_peer(&bench::PEER_DENSITIES, crowd_seconds / 2.0, crowd_seconds / 2.0)?);
            Ok(())
        }
    }
}

fn progress_bar(quiet: bool) -> anyhow::Result<ProgressBar> {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {bar:40} tick {pos}/{len} ({eta} left)")?);
    Ok(bar)
}

/// Parses `WIDTHxHEIGHT`.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(|| format!("`{text}` is not WIDTHxHEIGHT"))?;
    Ok((w.trim().parse().map_err(|_| format!("bad width in `{text}`"))?, h.trim().parse().map_err(|_| format!("bad height in `{text}`"))?))
}
