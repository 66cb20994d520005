//! Models served over the Open Inference Protocol (gRPC) by a real Seldon MLServer, started on
//! loopback by each test (`tools/serving/serve.py`, the project's Python environment) and
//! stopped after.

use super::*;
use crowdtwin_vision::manifest::Endpoint;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running MLServer with its folder, ports and per-model call logs.
struct Server {
    child: Child,
    dir: PathBuf,
    grpc: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Serves `models` (name, ONNX file — or, for a name starting `vendor`, the NanoDet manifest
    /// of `tools/serving/vendor_example.py`'s black-box pipeline, answering by its checkable echo
    /// rule when the name starts `vendor_echo`); `die_after`: the server exits on that model's
    /// call number plus one.
    fn start(dir: &Path, models: &[(&str, &str)], die_after: Option<(&str, usize)>) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let python = crowdtwin_core::python::interpreter().unwrap_or_else(|e| panic!("{e}"));
        let (grpc, http, metrics) = (free_port(), free_port(), free_port());
        let mut command = Command::new(python);
        command.arg(root().join("tools/serving/serve.py")).args(["--grpc-port", &grpc.to_string(), "--http-port", &http.to_string(), "--metrics-port", &metrics.to_string()]);
        for (name, file) in models {
            let kind = if name.starts_with("vendor") { "--vendor-example" } else { "--model" };
            command.arg(kind).arg(format!("{name}={}", root().join(file).display()));
            if name.starts_with("vendor_echo") {
                command.arg("--echo").arg(name);
            }
            command.arg("--calls-log").arg(format!("{name}={}", dir.join(format!("{name}.calls")).display()));
        }
        if let Some((name, n)) = die_after {
            command.arg("--die-after").arg(format!("{name}={n}"));
        }
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = command.arg(dir.join("server")).stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log)).spawn().unwrap();
        let mut server = Server { child, dir: dir.to_path_buf(), grpc };
        // Ready when every model answers its metadata over gRPC.
        let started = Instant::now();
        for (name, _) in models {
            let endpoint = server.endpoint(name);
            while crowdtwin_vision::served::ServedModel::connect(&endpoint, "readiness").is_err() {
                let exited = server.child.try_wait().unwrap();
                let log = || std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                assert!(exited.is_none(), "MLServer exited: {}", log());
                assert!(started.elapsed() < Duration::from_secs(120), "MLServer not ready after 120 s: {}", log());
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        server
    }

    fn endpoint(&self, model: &str) -> Endpoint {
        Endpoint { url: format!("http://127.0.0.1:{}", self.grpc), model: model.into(), version: String::new(), timeout_s: 30.0, retries: 2, max_message_mib: 64 }
    }

    /// Inference calls the server has answered for `model`.
    fn calls(&self, model: &str) -> usize {
        std::fs::read_to_string(self.dir.join(format!("{model}.calls"))).map(|s| s.lines().count()).unwrap_or(0)
    }

    /// A copy of the shipped manifest `models/FILE.ron` that names this server's `model` instead of its file.
    fn manifest(&self, shipped: &str, model: &str) -> PathBuf {
        let text = std::fs::read_to_string(root().join("models").join(format!("{shipped}.ron"))).unwrap();
        let mut served = Vec::new();
        for line in text.lines() {
            // The model's own `file` and `sha256` (top level, four spaces in), not `masked_by`'s masker's.
            let field = line.strip_prefix("    ").filter(|rest| !rest.starts_with(' ')).unwrap_or_default();
            if field.starts_with("file:") {
                served.push(format!("    endpoint: Some((url: \"http://127.0.0.1:{}\", model: \"{model}\")),", self.grpc));
            } else if !field.starts_with("sha256:") {
                served.push(line.to_string());
            }
        }
        let path = self.dir.join(format!("{shipped}-served.ron"));
        std::fs::write(&path, served.join("\n")).unwrap();
        path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every table but the runs table (compared apart: a served model's source is its endpoint) and
/// the measured timings.
fn tables(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for table in ["cameras", "persons", "observations", "frames", "incidents", "incident_participants", "incident_frames", "alerts", "operating_points", "privacy", "region_scores", "alert_regions"] {
        out.push((table.to_string(), std::fs::read(dir.join(format!("{table}.parquet"))).unwrap()));
    }
    out
}

#[test]
fn served_models_give_the_tables_in_process_models_give() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("served");
    // The default masker and the baseline anomaly model (one call per frame): the local run below uses them.
    let server = Server::start(&dir, &[("nanodet", "models/nanodet.onnx"), ("anomaly", "models/anomaly_mil.onnx")], None);
    let (masker, anomaly) = (server.manifest("nanodet", "nanodet"), server.manifest("anomaly_mil", "anomaly"));
    let local = dir.join("local");
    let options = RunOptions { threads: 1, depth: 1, ad_model: root().join("models/anomaly_mil.ron"), ..RunOptions::new(root().join("tests/fixtures/small.ron"), local.clone()) };
    run(&options, |_, _| {}).unwrap();
    let expected = tables(&local);
    for depth in [0, 1, 3] {
        let out = dir.join(format!("served-{depth}"));
        let before = (server.calls("nanodet"), server.calls("anomaly"));
        let options = RunOptions { depth, mask_model: masker.clone(), ad_model: anomaly.clone(), ..RunOptions::new(root().join("tests/fixtures/small.ron"), out.clone()) };
        run(&options, |_, _| {}).unwrap();
        for ((table, ours), (_, theirs)) in tables(&out).iter().zip(&expected) {
            assert!(ours == theirs, "{table}.parquet differs between served (depth {depth}) and in-process models");
        }
        // Every model call went to the server: one per frame each, none in-process.
        let frames = crowdtwin_reports::tables::read_all(&out).unwrap().frames.len();
        assert!(frames > 0);
        assert_eq!((server.calls("nanodet") - before.0, server.calls("anomaly") - before.1), (frames, frames), "depth {depth}");
        let (ours, theirs) = (crowdtwin_reports::tables::read_all(&out).unwrap().runs, crowdtwin_reports::tables::read_all(&local).unwrap().runs);
        let endpoint = format!("served:http://127.0.0.1:{}/", server.grpc);
        assert_eq!((ours[0].masking_model_sha256.clone(), ours[0].anomaly_model_sha256.clone()), (format!("{endpoint}nanodet"), format!("{endpoint}anomaly")));
        let mut same = ours[0].clone();
        (same.masking_model_sha256, same.anomaly_model_sha256) = (theirs[0].masking_model_sha256.clone(), theirs[0].anomaly_model_sha256.clone());
        assert_eq!(same, theirs[0], "the runs table differs only in the models' sources");
    }
    // `eval` takes served manifests as it takes files.
    let out = dir.join("eval");
    let eval = crowdtwin(&["eval", "--suite", "tests/fixtures/mini-suite.ron", "--mask-model", masker.to_str().unwrap(), "--ad-model", anomaly.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let runs = crowdtwin_reports::tables::read_all(&out.join("small")).unwrap().runs;
    assert!(runs[0].masking_model_sha256.starts_with("served:"), "{:?}", runs[0]);
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_server_that_dies_mid_run_is_named_and_leaves_no_output() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("served-dies");
    let server = Server::start(&dir, &[("nanodet", "models/nanodet.onnx")], Some(("nanodet", 4)));
    let masker = server.manifest("nanodet", "nanodet");
    let out = dir.join("run");
    let run = crowdtwin(&["run", "tests/fixtures/small.ron", "--mask-model", masker.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    let url = format!("http://127.0.0.1:{}", server.grpc);
    assert!(stderr.contains(&url) && stderr.contains("nanodet") && !stderr.contains("panicked"), "{stderr}");
    assert_eq!(server.calls("nanodet"), 4, "four answers, then the server died on the fifth call");
    assert!(!out.exists(), "a failed run leaves no output folder");
    // Nothing listens there now: the next run fails before simulating anything, naming it.
    let run = crowdtwin(&["run", "tests/fixtures/small.ron", "--mask-model", masker.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && stderr.contains(&url) && stderr.contains("no answer after 3 tries"), "{stderr}");
    assert!(!out.exists());
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A `task: pipeline` manifest for the vendor example `model` on `server`.
fn vendor_manifest(server: &Server, model: &str, contract: &str) -> PathBuf {
    let text = format!(
        r#"(
    version: 1,
    name: "acme-guard",
    task: pipeline,
    endpoint: (url: "http://127.0.0.1:{}", model: "{model}"),
    licence: "proprietary (test)",
    card: "acme.md",
    contract: ({contract}),
)"#,
        server.grpc
    );
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = server.dir.join(format!("acme-{}.ron", MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_vendor_pipeline_behind_the_contract_is_measured_like_crowdtwins_own() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("vendor");
    let server = Server::start(&dir, &[("vendor", "models/nanodet.ron"), ("vendor_echo", "models/nanodet.ron")], None);
    let contract = r#"frame: "frame", camera: Some("camera"), start: Some("start"), mask: "mask", score: Some("anomaly_score"), region: Some("anomaly_region"), threshold: 0.12"#;
    let manifest = vendor_manifest(&server, "vendor", contract);
    // Pixel for pixel, by the echo rule (mask: red > 128; score: camera / 1000), on a frame that is
    // neither square nor symmetric, two cameras interleaved, a camera index past 255.
    let echo = vendor_manifest(&server, "vendor_echo", contract);
    let (width, height) = (7u32, 5u32);
    let red = |x: u32, y: u32, camera: u16| (x * 3 + y * 5 + camera as u32) % 4 == 0 || (x == 6 && y == 0);
    for round in 0..2 {
        let mut pipeline = crowdtwin_vision::vendor::VendorPipeline::load(&echo).unwrap();
        for camera in [300u16, 2, 300, 2] {
            let mut frame = crowdtwin_core::frame::RgbaImage::new(width, height);
            for (i, p) in frame.pixels.chunks_exact_mut(4).enumerate() {
                let (x, y) = (i as u32 % width, i as u32 / width);
                // Only red decides: green and blue are high where red is low (an RGB/BGR swap shows).
                let on = red(x, y, camera);
                p.copy_from_slice(&[if on { 200 } else { 40 }, if on { 40 } else { 220 }, if on { 40 } else { 220 }, 255]);
            }
            let out = pipeline.process(camera, &frame).unwrap();
            let expected: Vec<bool> = (0..width * height).map(|i| red(i % width, i / width, camera)).collect();
            assert_eq!(out.mask, expected, "camera {camera}");
            let anomaly = out.anomaly.expect("the contract has a score");
            assert_eq!(anomaly.score, camera as f32 / 1000.0);
            // The region (the mask's bounding box, here the whole width) lights whole rows of cells.
            assert_eq!(anomaly.grid, (32, 18));
            let lit_columns: std::collections::BTreeSet<usize> = (0..anomaly.regions.len()).filter(|&i| anomaly.regions[i] > 0.0).map(|i| i % 32).collect();
            assert_eq!(lit_columns.len(), 32, "camera {camera}");
        }
        // Each camera's first frame of a run carries start = 1, later ones 0, afresh in the next run.
        let log = std::fs::read_to_string(dir.join("vendor_echo.calls")).unwrap();
        let starts: Vec<&str> = log.lines().skip(4 * round).map(|l| l.split(' ').nth(2).unwrap()).collect();
        assert_eq!(starts, vec!["1", "1", "0", "0"], "round {round}");
    }
    let local = dir.join("local");
    run_small(&local, None, 1, 1);
    let mut first: Option<Vec<(String, Vec<u8>)>> = None;
    for depth in [0, 3] {
        let out = dir.join(format!("vendor-{depth}"));
        let calls_before = server.calls("vendor");
        let options = RunOptions { depth, mask_model: manifest.clone(), ..RunOptions::new(root().join("tests/fixtures/small.ron"), out.clone()) };
        let summary = run(&options, |_, _| {}).unwrap().summary;
        let records = crowdtwin_reports::tables::read_all(&out).unwrap();
        // One call per frame, in tick order, with the camera's index; the service's scores are the run's.
        let log = std::fs::read_to_string(dir.join("vendor.calls")).unwrap();
        let calls: Vec<(u16, f32)> = log.lines().skip(calls_before).map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1].parse().unwrap(), f[3].parse::<f64>().unwrap() as f32)
        }).collect();
        assert_eq!(calls.len(), records.frames.len());
        for (frame, (camera, score)) in records.frames.iter().zip(&calls) {
            assert_eq!((frame.camera, frame.ad_score as f32), (*camera, *score), "tick {}", frame.tick);
            // The example scores min(1, 4 × its masked share): the mask crowdtwin painted is the one it sent.
            let share = frame.masked_px as f64 / frame.frame_px as f64;
            assert!((frame.ad_score - (4.0 * share).min(1.0)).abs() < 1e-6, "tick {}: score {} vs masked share {share}", frame.tick, frame.ad_score);
        }
        // Its region is laid on the 32 × 18 grid; its cells carry the score.
        for cells in &records.region_scores {
            assert_eq!((cells.columns, cells.rows), (32, 18));
        }
        // The same detector inside the box: about the in-process masker's miss rate.
        let ours = summary["miss_rate"].as_f64().unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&std::fs::read(local.join("summary.json")).unwrap()).unwrap();
        assert!((ours - theirs["miss_rate"].as_f64().unwrap()).abs() < 0.05, "{ours} vs {}", theirs["miss_rate"]);
        let run = &records.runs[0];
        let source = format!("served:http://127.0.0.1:{}/vendor", server.grpc);
        assert_eq!((run.masking_model.as_str(), run.anomaly_model.as_str(), run.alert_threshold), ("acme-guard", "acme-guard", 0.12));
        assert_eq!((&run.masking_model_sha256, &run.anomaly_model_sha256), (&source, &source));
        let tables = tables(&out);
        match &first {
            None => first = Some(tables),
            Some(first) => {
                for ((table, a), (_, b)) in first.iter().zip(&tables) {
                    assert!(a == b, "{table}.parquet differs between depths 0 and 3");
                }
            }
        }
    }
    // `eval` takes the pipeline as its masker.
    let out = dir.join("eval");
    let eval = crowdtwin(&["eval", "--suite", "tests/fixtures/mini-suite.ron", "--mask-model", manifest.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    assert_eq!(crowdtwin_reports::tables::read_all(&out.join("small")).unwrap().runs[0].anomaly_model, "acme-guard");
    // A contract the service does not declare is refused with both sides named.
    for (contract, expected) in [
        (r#"frame: "frame", mask: "masks""#, ["`masks`", "\"mask\""]),
        (r#"frame: "frame", mask: "mask", score: Some("mask")"#, ["FP32 [1]", "UINT8 [1, -1, -1]"]),
        (r#"frame: "frame", mask: "mask", region: Some("anomaly_region")"#, ["field `contract.region`", "score"]),
    ] {
        let bad = vendor_manifest(&server, "vendor", contract);
        let out = crowdtwin(&["run", "tests/fixtures/small.ron", "--mask-model", bad.to_str().unwrap(), "--out", dir.join("bad").to_str().unwrap(), "--quiet"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && expected.iter().all(|e| stderr.contains(e)), "{stderr}");
    }
    // Where one model is expected, a pipeline manifest says what it is.
    let error = crowdtwin_vision::detector::Detector::load(&manifest, 1).err().expect("must fail").to_string();
    assert!(error.contains("task: pipeline"), "{error}");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_served_two_stage_model_scores_as_the_in_process_one() {
    let dir = temp_dir("served-two-stage");
    let local = super::anomaly::two_stage_fixture(&dir.join("fixture"), "ncthw", 4, 2, 5, false);
    let fixture = dir.join("fixture");
    let server = Server::start(&dir, &[("extractor", fixture.join("extractor.onnx").to_str().unwrap()), ("head", fixture.join("head.onnx").to_str().unwrap())], None);
    // The same manifest with both parts served: each `file` and `sha256` becomes an endpoint.
    let text = std::fs::read_to_string(&local).unwrap();
    let endpoint = |model: &str| format!("endpoint: Some((url: \"http://127.0.0.1:{}\", model: \"{model}\"))", server.grpc);
    let mut served = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("file: \"extractor.onnx\"") {
            served.push(format!("    {},", endpoint("extractor")));
        } else if trimmed.starts_with("sha256:") {
            continue;
        } else if trimmed.starts_with("head: (file:") {
            let rest = &trimmed[trimmed.find("input:").unwrap()..];
            served.push(format!("        head: ({}, {rest}", endpoint("head")));
        } else {
            served.push(line.to_string());
        }
    }
    let served_path = dir.join("served.ron");
    std::fs::write(&served_path, served.join("\n")).unwrap();
    let mut ours = crowdtwin_vision::anomaly::AnomalyDetector::load(&local, 1).unwrap();
    let mut theirs = crowdtwin_vision::anomaly::AnomalyDetector::load(&served_path, 1).unwrap();
    let source = |model: &str| format!("served:http://127.0.0.1:{}/{model}", server.grpc);
    assert_eq!(theirs.sha256, format!("{}+{}", source("extractor"), source("head")));
    let frames = 9;
    for n in 0..frames {
        for camera in 0..2u16 {
            let mut image = crowdtwin_core::frame::RgbaImage::new(32, 24);
            for (i, p) in image.pixels.chunks_exact_mut(4).enumerate() {
                p[..3].copy_from_slice(&[(i * 7 + n * 31) as u8, (i * 3 + camera as usize * 90) as u8, (n * n * 5 + i) as u8]);
            }
            let (a, b) = (ours.score(camera, &image).unwrap().score, theirs.score(camera, &image).unwrap().score);
            assert_eq!(a, b, "frame {n}, camera {camera}");
        }
    }
    // Stride 2: a snippet ends on every other frame (0, 2, …, 8), one extractor call (ncthw) and one head call each.
    assert_eq!((server.calls("extractor"), server.calls("head")), (2 * 5, 2 * 5));
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_default_person_track_model_served_scores_as_the_in_process_one() {
    let dir = temp_dir("served-tracks");
    let server = Server::start(&dir, &[("tracks", "models/anomaly_tracks.onnx")], None);
    let served = server.manifest("anomaly_tracks", "tracks");
    let mut ours = crowdtwin_vision::anomaly::AnomalyDetector::load(&root().join("models/anomaly_tracks.ron"), 1).unwrap();
    let mut theirs = crowdtwin_vision::anomaly::AnomalyDetector::load(&served, 1).unwrap();
    assert_eq!(theirs.sha256, format!("served:http://127.0.0.1:{}/tracks", server.grpc));
    assert!(theirs.manifest.masked_by.is_some() && theirs.manifest.masked_by == ours.manifest.masked_by, "the served copy keeps masked_by");
    // The clip of the in-process fixture test (every frame shows paint), then a frame without.
    let blobs: Vec<u64> = fixture_json("anomaly_tracks_clip/reference.json")["blobs"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let mut scores = Vec::new();
    for index in 0..blobs.len() {
        let frame = fixture_png(&format!("anomaly_tracks_clip/frame_{index}.png"));
        let (a, b) = (ours.score(0, &frame).unwrap(), theirs.score(0, &frame).unwrap());
        // Both run the same trees in ONNX Runtime; the server's build may sum them in another order.
        assert!((a.score - b.score).abs() < 1e-6, "frame {index}: in process {} served {}", a.score, b.score);
        assert_eq!((a.grid, a.regions.len()), (b.grid, b.regions.len()), "frame {index}");
        assert!(a.regions.iter().zip(&b.regions).all(|(x, y)| (x - y).abs() < 1e-6), "frame {index}: region scores");
        scores.push(a.score);
    }
    assert!(scores.iter().any(|&s| s != scores[0]), "the scores vary, so the comparison can fail");
    // One call per frame with paint: the rows of all its tracks in one [N, 72] tensor.
    assert!(blobs.iter().all(|&n| n > 0));
    assert_eq!(server.calls("tracks"), blobs.len());
    // A grey frame has no paint: no call (no [0, 72] tensor is sent), no regions, the same score.
    let mut grey = crowdtwin_core::frame::RgbaImage::new(640, 360);
    grey.pixels.chunks_exact_mut(4).for_each(|p| p[..3].copy_from_slice(&[128, 128, 128]));
    let (a, b) = (ours.score(0, &grey).unwrap(), theirs.score(0, &grey).unwrap());
    assert!((a.score - b.score).abs() < 1e-6 && a.regions.is_empty() && b.regions.is_empty());
    assert_eq!(server.calls("tracks"), blobs.len(), "a frame without paint calls no model");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
