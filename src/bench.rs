//! `crowdtwin bench`: throughput of each stage on this machine, printed as a table.

use crate::scenario::load_scenario;
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
    let table = crowdtwin_reports::tables::read(&dir.join("timings.parquet"))?;
    let mean = |name: &str| -> anyhow::Result<f64> { Ok(table.column(name)?.as_materialized_series().mean().unwrap_or(0.0)) };
    Ok([mean("mask_ms")?, mean("ad_ms")?, mean("record_ms")?])
}

/// The whole pipeline (simulate → render → mask → AD → alerts → record) on the scenario as
/// written, strictly serial (depth 0) and overlapped (depth 1), against the bound set by the
/// slowest stage.
fn pipeline_overlap(scenario_path: &Path, mask_model: &Path, ad_model: &Path, seconds: f32, threads: usize) -> anyhow::Result<String> {
    let mut rows = String::new();
    let mut measured = Vec::new();
    for depth in [0usize, 1] {
        let out = std::env::temp_dir().join(format!("crowdtwin-bench-{}-{depth}", std::process::id()));
        let options = crate::pipeline::RunOptions {
            scenario: scenario_path.to_path_buf(),
            out: out.clone(),
            seconds: Some(seconds),
            seed: None,
            mask_model: mask_model.to_path_buf(),
            refine_model: None,
            ad_model: ad_model.to_path_buf(),
            key_file: None,
            threads,
            log: false,
            policy: None,
            depth,
            variant: Default::default(),
            cap_webhook: None,
            profile: None,
        };
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
    let mut tiled = Masker::new(Detector::load(mask_model, threads)?, None, [0, 160, 230], 2).with_tiles((2, 2));
    let started = Instant::now();
    for frame in &sample {
        tiled.mask(&frame.rgba)?;
    }
    let ms = started.elapsed().as_secs_f64() * 1e3 / sample.len().max(1) as f64;
    table.push_str(&format!("| masking, boxes, whole frame + 2×2 tiles | 640×360, {threads} thread(s) | {ms:.1} ms/frame |\n"));
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
    let started = Instant::now();
    for frame in &sample {
        anomaly.score(0, &frame.rgba)?;
    }
    let ms = started.elapsed().as_secs_f64() * 1e3 / sample.len().max(1) as f64;
    table.push_str(&format!("| anomaly model (clip of {} frames, resize + inference) | 640×360 in, {threads} thread(s) | {ms:.1} ms/frame |\n", anomaly.clip_length()));
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
