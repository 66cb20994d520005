//! `crowdtwin bench`: throughput of each stage on this machine, printed as a table.

use crate::scenario::load_scenario;
use anyhow::Context;
use crowdtwin_core::frame::Frame;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_sim::{SimOptions, Simulation, StepTimings};
use crowdtwin_vision::detector::Detector;
use crowdtwin_vision::masking::Masker;
use crowdtwin_vision::silhouette::SilhouetteModel;
use std::path::Path;
use std::time::Instant;

/// The scenario with `count` cameras at 640×360, rendering on every tick: the first camera's
/// pose turned by 90° steps around its mast.
fn with_cameras(base: &Scenario, count: usize) -> Scenario {
    let mut scenario = base.clone();
    let first = base.cameras[0].clone();
    scenario.cameras = (0..count)
        .map(|i| {
            let mut camera = first.clone();
            camera.id = format!("bench{i}");
            camera.yaw_deg = first.yaw_deg + 90.0 * i as f32;
            camera.render_resolution = (640, 360);
            camera.sensor_resolution = (1920, 1080);
            camera.fps = scenario.tick_hz;
            camera
        })
        .collect();
    scenario
}

/// Renders `ticks` ticks after warm-up; returns (frames per second, mean stage timings per
/// tick, the frames).
fn time_render(scenario: &Scenario, ticks: u64) -> anyhow::Result<(f64, StepTimings, Vec<Frame>)> {
    let mut sim = Simulation::new(scenario, &SimOptions::default())?;
    let started = Instant::now();
    let mut frames = Vec::new();
    let mut total = StepTimings::default();
    for _ in 0..ticks {
        frames.extend(sim.step()?);
        let t = sim.timings();
        total.update_ms += t.update_ms / ticks as f64;
        total.readback_ms += t.readback_ms / ticks as f64;
        total.ground_truth_ms += t.ground_truth_ms / ticks as f64;
    }
    Ok((frames.len() as f64 / started.elapsed().as_secs_f64(), total, frames))
}

/// Mean per-frame milliseconds of the worker stages in a run's `timings.parquet`: (mask, AD, record).
fn stage_means(dir: &Path) -> anyhow::Result<[f64; 3]> {
    let [_, mask, ad, record] = timing_means(dir)?;
    Ok([mask, ad, record])
}

/// Mean per-frame milliseconds of every column of a run's `timings.parquet`: (source, mask, AD, record).
fn timing_means(dir: &Path) -> anyhow::Result<[f64; 4]> {
    let table = crowdtwin_reports::tables::read(&dir.join("timings.parquet"))?;
    let mean = |name: &str| -> anyhow::Result<f64> { Ok(table.column(name)?.as_materialized_series().mean().unwrap_or(0.0)) };
    Ok([mean("simulate_ms")?, mean("mask_ms")?, mean("ad_ms")?, mean("record_ms")?])
}

/// The whole pipeline (simulate → render → mask → AD → alerts → record) on the scenario as
/// written, strictly serial (depth 0) and overlapped (depth 1), against the bound set by the
/// slowest stage.
fn pipeline_overlap(scenario_path: &Path, mask_model: &Path, ad_model: &Path, seconds: f32, threads: usize) -> anyhow::Result<String> {
    let mut rows = String::new();
    let mut measured = Vec::new();
    let base = crate::pipeline::RunOptions {
        seconds: Some(seconds),
        mask_model: mask_model.to_path_buf(),
        ad_model: ad_model.to_path_buf(),
        threads,
        ..crate::pipeline::RunOptions::new(scenario_path.to_path_buf(), std::env::temp_dir().join(format!("crowdtwin-bench-{}", std::process::id())))
    };
    for depth in [0usize, 1] {
        let out = std::env::temp_dir().join(format!("crowdtwin-bench-{}-{depth}", std::process::id()));
        let options = crate::pipeline::RunOptions { out: out.clone(), depth, ..base.clone() };
        let started = Instant::now();
        let summary = crate::pipeline::run(&options, |_, _| {})?.summary;
        let wall = started.elapsed().as_secs_f64();
        let frames = summary["frames"].as_f64().unwrap_or(0.0);
        let stages = stage_means(&out)?;
        let _ = std::fs::remove_dir_all(&out);
        measured.push((depth, frames / wall, stages, frames));
    }
    let (_, serial_fps, workers, frames) = measured[0];
    let overlapped_fps = measured[1].1;
    rows.push_str(&replay_rows(&base, seconds, overlapped_fps)?);
    // Strictly serial, a frame costs the sum of the stages: what the workers do not account for
    // is the simulation's share (every tick, including ticks on which no camera is due).
    let simulate = (1000.0 / serial_fps.max(1e-9) - workers.iter().sum::<f64>()).max(0.0);
    let stages = [simulate, workers[0], workers[1], workers[2]];
    let labels = ["simulate + render", "mask (AN)", "anomaly (AD) + alerts", "record"];
    let slowest = stages.iter().cloned().fold(0.0, f64::max).max(1e-9);
    let bound_fps = 1000.0 / slowest;
    let slowest_name = labels[stages.iter().position(|&v| v == slowest).unwrap_or(0)];
    rows.push_str(&format!(
        "| full pipeline, strictly serial (depth 0) | scenario as written, {seconds} s, {frames} frames | {serial_fps:.2} frames/s |\n\
         | full pipeline, overlapped (depth 1) | same run | {overlapped_fps:.2} frames/s ({:.0} % of the bound) |\n\
         | bound set by the slowest stage | {slowest_name}: {slowest:.0} ms/frame (stages: {}) | {bound_fps:.2} frames/s |\n",
        100.0 * overlapped_fps / bound_fps,
        labels.iter().zip(stages).map(|(l, v)| format!("{l} {v:.0} ms")).collect::<Vec<_>>().join(", ")
    ));
    Ok(rows)
}

/// Record once, replay many: the same run rendered into a frame store, then replayed through
/// the same models (depth 1), against the live run's `live_fps`. The replay's bound is the
/// model stages' time plus 25 ms of decoding a frame.
fn replay_rows(live: &crate::pipeline::RunOptions, seconds: f32, live_fps: f64) -> anyhow::Result<String> {
    let store = std::env::temp_dir().join(format!("crowdtwin-bench-store-{}", std::process::id()));
    let render = crate::frames::RenderOptions { scenario: live.scenario.clone(), out: store.clone(), seconds: Some(seconds), seed: None, variant: Default::default(), log: false };
    let started = Instant::now();
    let manifest = crate::frames::render(&render, |_, _| {})?;
    let render_fps = manifest.frames as f64 / started.elapsed().as_secs_f64();
    let out = std::env::temp_dir().join(format!("crowdtwin-bench-replay-{}", std::process::id()));
    let options = crate::pipeline::RunOptions { out: out.clone(), frames: Some(store.clone()), depth: 1, ..live.clone() };
    // The frame loop runs from the first tick recorded to the last; set-up (models, tables) and
    // the report are the run's fixed costs, counted in the wall-clock rate only.
    let (started, mut first, mut last) = (Instant::now(), None, None);
    let summary = crate::pipeline::run(&options, |done, total| {
        if done == 1 {
            first = Some(Instant::now());
        }
        if done == total {
            last = Some(Instant::now());
        }
    })?
    .summary;
    let wall = started.elapsed().as_secs_f64();
    let frames = summary["frames"].as_f64().unwrap_or(0.0).max(1.0);
    let [decode, mask, ad, _] = timing_means(&out)?;
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&store);
    let ticks = manifest.ticks.max(2) as f64;
    let looped = match (first, last) {
        (Some(a), Some(b)) => (b - a).as_secs_f64() / (frames * (ticks - 1.0) / ticks),
        _ => wall / frames,
    };
    let (replay_ms, models_ms) = (looped * 1e3, mask + ad);
    let bound = models_ms + 25.0;
    Ok(format!(
        "| render into a frame store (`crowdtwin render`: simulate, render, ground truth, PNG) | same run, {} frames | {render_fps:.2} frames/s |\n\
         | replay of the store (`run --frames`, depth 1; no renderer) | same run and models; decoding {decode:.1} ms/frame | {:.2} frames/s with set-up and report, ×{:.1} the live run; frame loop {replay_ms:.0} ms/frame against model stages {models_ms:.0} ms + 25 ms = {bound:.0} ms/frame: {} |\n",
        manifest.frames,
        frames / wall,
        (frames / wall) / live_fps.max(1e-9),
        if replay_ms <= bound { "within" } else { "over" }
    ))
}

/// Runs the benchmark and returns the table as Markdown.
pub fn bench(scenario_path: &Path, mask_model: &Path, refine_model: Option<&Path>, served_mask_model: Option<&Path>, ad_model: &Path, ticks: u64, threads: usize) -> anyhow::Result<String> {
    let base = load_scenario(scenario_path, None, None)?;
    let mut table = String::from("| stage | setting | result |\n|---|---|---|\n");
    let mut sample = Vec::new();
    for count in [1, 2, 4] {
        let (fps, stages, frames) = time_render(&with_cameras(&base, count), ticks)?;
        table.push_str(&format!(
            "| render + readback + ground truth | {count} camera(s), 640×360, msaa {}, shadows {} | {fps:.2} frames/s (per tick: update {:.0} ms, readback {:.0} ms, ground truth {:.0} ms) |\n",
            base.render.msaa, base.render.shadows, stages.update_ms, stages.readback_ms, stages.ground_truth_ms
        ));
        if count == 1 {
            sample = frames;
        }
    }
    let mut masker = Masker::new(Detector::load(mask_model, threads)?, None, [0, 160, 230], 2);
    let started = Instant::now();
    for frame in &sample {
        masker.mask(&frame.rgba)?;
    }
    let mask_ms = started.elapsed().as_secs_f64() * 1e3 / sample.len().max(1) as f64;
    table.push_str(&format!("| masking, boxes (detector + painting) | 640×360, {threads} thread(s) | {mask_ms:.1} ms/frame |\n"));
    if let Some(served) = served_mask_model {
        let mut remote = Masker::new(Detector::load(served, threads)?, None, [0, 160, 230], 2);
        let started = Instant::now();
        for frame in &sample {
            remote.mask(&frame.rgba)?;
        }
        let ms = started.elapsed().as_secs_f64() * 1e3 / sample.len().max(1) as f64;
        table.push_str(&format!(
            "| masking, boxes, the model served over the Open Inference Protocol (gRPC, raw tensors, loopback) | 640×360 | {ms:.1} ms/frame ({:+.1} ms/frame, ×{:.2} in-process) |\n",
            ms - mask_ms,
            ms / mask_ms
        ));
    }
    let tiled = |turns: bool| -> anyhow::Result<f64> {
        let mut masker = Masker::new(Detector::load(mask_model, threads)?, None, [0, 160, 230], 2).with_tiles((2, 2)).with_quarter_turns(turns);
        let started = Instant::now();
        for frame in &sample {
            masker.mask(&frame.rgba)?;
        }
        Ok(started.elapsed().as_secs_f64() * 1e3 / sample.len().max(1) as f64)
    };
    let (upright_ms, turned_ms) = (tiled(false)?, tiled(true)?);
    table.push_str(&format!("| masking, boxes, whole frame + 2×2 tiles | 640×360, {threads} thread(s) | {upright_ms:.1} ms/frame |\n"));
    table.push_str(&format!(
        "| masking, boxes, whole frame + 2×2 tiles, also turned a quarter each way (`masking.quarter_turns`) | 640×360, {threads} thread(s) | {turned_ms:.1} ms/frame (×{:.2} the time without them) |\n",
        turned_ms / upright_ms
    ));
    if let Some(refine_model) = refine_model {
        let refiner = SilhouetteModel::load(refine_model, threads)?;
        let mut refining = Masker::new(Detector::load(mask_model, threads)?, Some(refiner), [0, 160, 230], 2);
        let (started, mut people) = (Instant::now(), 0);
        for frame in &sample {
            people += refining.mask(&frame.rgba)?.silhouette_runs;
        }
        let ms = started.elapsed().as_secs_f64() * 1e3 / sample.len().max(1) as f64;
        let per_frame = people as f64 / sample.len().max(1) as f64;
        table.push_str(&format!(
            "| masking, silhouettes (detector + one pose-model run per person) | 640×360, {threads} thread(s), {per_frame:.1} pose runs/frame | {ms:.1} ms/frame |\n"
        ));
    }
    let scenario = with_cameras(&base, 1);
    let mut sim = Simulation::new(&scenario, &SimOptions::default())?;
    let started = Instant::now();
    let mut frames = 0usize;
    for _ in 0..ticks {
        for frame in sim.step()? {
            masker.mask(&frame.rgba)?;
            frames += 1;
        }
    }
    let fps = frames as f64 / started.elapsed().as_secs_f64();
    table.push_str(&format!("| end to end (simulate → render → mask) | 1 camera, 640×360 | {fps:.2} frames/s |\n"));
    let mut anomaly = crowdtwin_vision::anomaly::AnomalyDetector::load(ad_model, threads)?;
    // Scored on masked frames, as in a run: a model that reads paint does little on raw ones.
    let mut outlined = Masker::new(Detector::load(mask_model, threads)?, None, [0, 160, 230], 2).with_style(crowdtwin_core::scenario::MaskStyle::Outlined);
    let masked = sample.iter().map(|frame| outlined.mask(&frame.rgba).map(|m| m.masked)).collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    for frame in &masked {
        anomaly.score(0, frame)?;
    }
    let ms = started.elapsed().as_secs_f64() * 1e3 / masked.len().max(1) as f64;
    let name = &anomaly.manifest.name;
    table.push_str(&format!(
        "| anomaly model (`{name}`, looking back {} frames; resize + inference on masked frames) | 640×360 in, {threads} thread(s) | {ms:.1} ms/frame |\n",
        anomaly.clip_length()
    ));
    let seconds = (ticks as f32 / base.tick_hz as f32).max(4.0);
    table.push_str(&pipeline_overlap(scenario_path, mask_model, ad_model, seconds, threads)?);
    for views in [100, 1_000] {
        let (seconds, cells, visible) = crate::coverage::bench_coverage(&base, views)?;
        table.push_str(&format!(
            "| coverage of candidate views (projection + line of sight per cell, all cores) | {views} views, 200 m × 200 m site, {cells} walkable cells of 0.5 m | {seconds:.2} s ({:.1} ms/view; {visible} view-cells seen) |\n",
            seconds * 1e3 / views as f64
        ));
    }
    for count in [1_000, 10_000] {
        let (rate, setup_s) = crate::crowd::crowd_steps_per_second(&base, count, ticks)?;
        table.push_str(&format!(
            "| crowd model alone (routes, speed model, incidents; one core) | {count} agents, {ticks} ticks | {rate:.0} agent steps/s (set-up and first routes {setup_s:.1} s) |\n"
        ));
    }
    let city = crate::project_file(Path::new("scenarios/helsinki-centre.ron"));
    let (import_s, route_s, step_ms) = crate::crowd::city_benchmark(&city, 10_000, ticks)?;
    table.push_str(&format!(
        "| city scale: central Helsinki from OpenStreetMap (1.0 km × 1.7 km; one core) | import and lay out the map | {import_s:.1} s |\n\
         | city scale | 10 000 agents: crowd set-up and first routes | {route_s:.1} s |\n\
         | city scale | 10 000 agents, {ticks} ticks | {step_ms:.1} ms per tick |\n"
    ));
    Ok(table)
}

/// `crowdtwin bench-peers`: crowdtwin's masking stage against what a user would write instead —
/// a plain Python loop with ONNX Runtime and NumPy (`tools/peers/masking_loop.py`: letterbox,
/// inference, NanoDet's decoding with NMS, painting) — on the same rendered frames, model and
/// ONNX Runtime thread count. Returns the table as Markdown.
///
/// # Errors
/// The scenario, model or rendering fails, the Python environment is missing, or the two do not
/// paint about the same pixels (then they did not do the same work and no ratio is printed).
pub fn bench_peers(scenario_path: &Path, mask_model: &Path, frames: u64, threads: usize) -> anyhow::Result<String> {
    let base = load_scenario(scenario_path, None, None)?;
    let (_, _, sample) = time_render(&with_cameras(&base, 1), frames)?;
    anyhow::ensure!(!sample.is_empty(), "{}: no frames rendered in {frames} ticks", scenario_path.display());
    let dir = std::env::temp_dir().join(format!("crowdtwin-bench-peers-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut paths = Vec::new();
    for (i, frame) in sample.iter().enumerate() {
        let path = dir.join(format!("frame_{i:03}.png"));
        std::fs::write(&path, crowdtwin_reports::images::png_bytes(&frame.rgba).map_err(anyhow::Error::msg)?)?;
        paths.push(path);
    }
    let dilation = 2;
    let mut masker = Masker::new(Detector::load(mask_model, threads)?, None, [0, 160, 230], dilation);
    let started = Instant::now();
    let mut ours_px = 0u64;
    for frame in &sample {
        ours_px += masker.mask(&frame.rgba)?.mask.iter().filter(|&&m| m).count() as u64;
    }
    let ours_s = started.elapsed().as_secs_f64();
    let python = crowdtwin_core::python::interpreter().map_err(anyhow::Error::msg)?;
    let output = std::process::Command::new(python)
        .arg(crate::project_file(Path::new("tools/peers/masking_loop.py")))
        .args(["--manifest", &mask_model.display().to_string(), "--threads", &threads.to_string(), "--dilation", &dilation.to_string()])
        .args(&paths)
        .output()?;
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(output.status.success(), "the Python peer failed: {}", String::from_utf8_lossy(&output.stderr));
    let peer: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let (peer_s, peer_px) = (peer["seconds"].as_f64().unwrap_or(f64::NAN), peer["masked_px"].as_u64().unwrap_or(0));
    // The same job: painted pixels agree to within 2 % (the resamplers differ in the last bits).
    let agreement = ours_px as f64 / peer_px.max(1) as f64;
    anyhow::ensure!((0.98..=1.02).contains(&agreement), "the peer painted {peer_px} pixels against crowdtwin's {ours_px}: not the same work");
    let n = sample.len() as f64;
    Ok(format!(
        "| stage | crowdtwin | peer | ratio |\n|---|---|---|---|\n\
         | masking: letterbox, NanoDet-g 416 inference, decoding + NMS, painting ({} frames {}×{}, {threads} ONNX Runtime thread(s); painted pixels agree to {:.2} %) | {:.1} frames/s (Rust) | {:.1} frames/s (Python loop: onnxruntime + NumPy + PIL) | ×{:.2} |\n",
        sample.len(),
        sample[0].rgba.width,
        sample[0].rgba.height,
        (agreement - 1.0).abs() * 100.0,
        n / ours_s,
        n / peer_s,
        peer_s / ours_s
    ))
}

/// Densities of the crowd comparison, persons per square metre.
pub const PEER_DENSITIES: [f32; 5] = [0.5, 1.0, 2.0, 3.0, 4.0];

/// The crowd model against JuPedSim's collision-free speed model (the same published model,
/// Tordeux, Chraibi and Seyfried 2016, in JuPedSim's C++ core; `tools/peers/corridor_jupedsim.py`)
/// on the same open corridor, with the same agents at the same start positions, the same
/// parameters and time step: each density's mean speed in the measuring section side by side with
/// Weidmann's (1993), and the agent steps per second of each (one core each: JuPedSim steps on
/// one thread). `densities` each run `warm_up_s` + `measure_s`. Returns the two tables as Markdown.
///
/// # Errors
/// The Python environment or JuPedSim fails.
pub fn bench_crowd_peer(densities: &[f32], warm_up_s: f32, measure_s: f32) -> anyhow::Result<String> {
    use crowdtwin_agents::pedestrians::{weidmann_speed, CorridorRun, SpeedModel};
    let model = SpeedModel::default();
    // Open at both ends (JuPedSim has no periodic boundary); measured away from them.
    let corridor = CorridorRun { periodic: false, measure_from_m: 10.0, measure_to_m: 20.0, warm_up_s, measure_s, ..CorridorRun::default() };
    let mut ours = Vec::new();
    let mut runs = Vec::new();
    for (i, &density) in densities.iter().enumerate() {
        let positions = corridor.positions(density, 1 + i as u64);
        ours.push(corridor.run(&model, &positions));
        runs.push(serde_json::json!({ "density_per_m2": density, "positions": positions.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>() }));
    }
    let config = serde_json::json!({
        "length_m": corridor.length_m, "width_m": corridor.width_m, "dt_s": corridor.dt_s,
        "warm_up_s": corridor.warm_up_s, "measure_s": corridor.measure_s,
        "measure_from_m": corridor.measure_from_m, "measure_to_m": corridor.measure_to_m,
        "model": {
            "time_gap_s": model.time_gap_s, "repulsion": model.repulsion, "repulsion_range_m": model.repulsion_range_m,
            "wall_repulsion": model.wall_repulsion, "wall_range_m": model.wall_range_m,
            "free_speed_mps": corridor.free_speed_mps, "radius_m": corridor.radius_m,
        },
        "densities": runs,
    });
    let python = crowdtwin_core::python::interpreter().map_err(anyhow::Error::msg)?;
    let mut child = std::process::Command::new(python)
        .arg(crate::project_file(Path::new("tools/peers/corridor_jupedsim.py")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting tools/peers/corridor_jupedsim.py")?;
    std::io::Write::write_all(&mut child.stdin.take().expect("piped"), config.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "the JuPedSim peer failed: {}", String::from_utf8_lossy(&output.stderr));
    let peer: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading tools/peers/corridor_jupedsim.py's answer")?;
    let theirs = peer["runs"].as_array().cloned().unwrap_or_default();
    anyhow::ensure!(theirs.len() == ours.len(), "the JuPedSim peer measured {} densities of {}", theirs.len(), ours.len());
    let mut table = format!(
        "| density (persons/m²) | agents | crowdtwin (m/s) | JuPedSim {} (m/s) | Weidmann 1993 (m/s) |\n|---|---|---|---|---|\n",
        peer["jupedsim"].as_str().unwrap_or("?")
    );
    for ((&density, mine), other) in densities.iter().zip(&ours).zip(&theirs) {
        let _ = std::fmt::Write::write_fmt(
            &mut table,
            format_args!(
                "| {density} | {} | {:.2} | {:.2} | {:.2} |\n",
                other["agents"],
                mine.mean_speed_mps,
                other["mean_speed_mps"].as_f64().unwrap_or(f64::NAN),
                weidmann_speed(density)
            ),
        );
    }
    let ours_rate = ours.iter().map(|r| r.agent_steps as f64).sum::<f64>() / ours.iter().map(|r| r.seconds).sum::<f64>();
    let peer_steps: f64 = theirs.iter().filter_map(|r| r["agent_steps"].as_f64()).sum();
    // JuPedSim's own stepping only: its Python-side bookkeeping (measuring, wrapping) is ours to carry.
    let peer_rate = peer_steps / theirs.iter().filter_map(|r| r["iterate_seconds"].as_f64()).sum::<f64>();
    let agents: f64 = theirs.iter().filter_map(|r| r["agents"].as_f64()).sum();
    let _ = std::fmt::Write::write_fmt(
        &mut table,
        format_args!(
            "\n| stage | crowdtwin | peer | ratio |\n|---|---|---|---|\n\
             | crowd: collision-free speed model, open {} m × {} m corridor, {} densities ({agents} agents in all), dt {} s, {} s each, one core | {:.0} agent steps/s (Rust) | {:.0} agent steps/s (JuPedSim's C++ core: `Simulation.iterate` alone) | ×{:.2} |\n",
            corridor.length_m,
            corridor.width_m,
            densities.len(),
            corridor.dt_s,
            corridor.warm_up_s + corridor.measure_s,
            ours_rate,
            peer_rate,
            ours_rate / peer_rate
        ),
    );
    Ok(table)
}
