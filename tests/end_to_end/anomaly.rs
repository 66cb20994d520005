//! The anomaly stage, alerts, deployment modality and retention, end to end.

use super::*;
use crowdtwin_vision::deployment::{open, raw_label, verify_log, warrant_access, StorageKey};
use std::collections::HashSet;

#[test]
fn the_weak_baseline_anomaly_model_matches_the_numpy_reference_on_a_masked_clip() {
    scores_the_fixture_clip_like_its_reference("models/anomaly_mil.ron", "anomaly_clip");
}

#[test]
fn the_box_reading_anomaly_model_matches_the_python_reference_on_a_masked_clip() {
    scores_the_fixture_clip_like_its_reference("models/anomaly_boxes.ron", "anomaly_boxes_clip");
}

#[test]
fn the_default_person_track_model_finds_the_blobs_and_scores_the_frames_its_training_did() {
    assert_eq!(crowdtwin::pipeline::DEFAULT_AD_MODEL, "models/anomaly_tracks.ron");
    let reference = fixture_json("anomaly_tracks_clip/reference.json");
    let mut model = crowdtwin_vision::anomaly::AnomalyDetector::load(&root().join("models/anomaly_tracks.ron"), 1).unwrap();
    assert_eq!(reference["sha256"].as_str(), Some(model.sha256.as_str()), "the fixture was made with this model");
    let manifest = crowdtwin_vision::manifest::ModelManifest::load(&root().join("models/anomaly_tracks.ron")).unwrap();
    let crowdtwin_vision::manifest::Decoder::PersonTracks { paint, size, .. } = manifest.decoder else { panic!("a person_tracks decoder") };
    let expected: Vec<f64> = reference["scores"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let blobs: Vec<u64> = reference["blobs"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let mut scores = Vec::new();
    for index in 0..expected.len() {
        let frame = fixture_png(&format!("anomaly_tracks_clip/frame_{index}.png"));
        assert_eq!(crowdtwin_vision::tracks::paint_blobs(&frame, [paint.0, paint.1, paint.2], size).len() as u64, blobs[index], "blobs of frame {index}");
        let output = model.score(0, &frame).unwrap();
        assert_eq!(output.regions.is_empty(), blobs[index] == 0, "region scores where there are tracks");
        scores.push(output.score);
    }
    let worst = scores.iter().zip(&expected).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "scores {scores:?} differ from the training script's {expected:?} by {worst}");
    assert!(expected.iter().any(|&s| s != expected[0]), "the reference scores vary, so the comparison can fail");
}

/// Scores the fixture's 8 masked frames as one camera's clip and compares the last clip's score
/// and region scores with the reference the fixture was made with.
fn scores_the_fixture_clip_like_its_reference(manifest: &str, fixture: &str) {
    let reference = fixture_json(&format!("{fixture}/reference.json"));
    let mut model = crowdtwin_vision::anomaly::AnomalyDetector::load(&root().join(manifest), 1).unwrap();
    assert_eq!(reference["sha256"].as_str(), Some(model.sha256.as_str()), "the fixture was made with this model");
    let mut output = None;
    for index in 0..model.clip_length() {
        let frame = fixture_png(&format!("{fixture}/frame_{index}.png"));
        output = Some(model.score(0, &frame).unwrap());
    }
    let output = output.unwrap();
    let expected_score = reference["score"].as_f64().unwrap() as f32;
    assert!((output.score - expected_score).abs() < 1e-4, "score {} vs reference {expected_score}", output.score);
    let regions: Vec<f32> = reference["regions"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let grid = reference["grid"].as_array().map_or((16, 9), |g| (g[0].as_u64().unwrap() as usize, g[1].as_u64().unwrap() as usize));
    assert_eq!(output.grid, grid);
    assert_eq!(output.regions.len(), regions.len());
    let worst = output.regions.iter().zip(&regions).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-4, "region scores differ from the reference by {worst}");
}

#[test]
fn a_mismatched_anomaly_model_names_expected_and_actual_shapes() {
    let dir = temp_dir("bad-anomaly");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = std::fs::read_to_string(root().join("models/anomaly_mil.ron")).unwrap();
    let onnx = root().join("models/anomaly_mil.onnx").display().to_string();
    // Claim 4-frame clips: the model takes 8.
    let bad = manifest.replace("[1, 24, 72, 128]", "[1, 12, 72, 128]").replace("clip_length: 8", "clip_length: 4").replace("\"anomaly_mil.onnx\"", &format!("{onnx:?}"));
    std::fs::write(dir.join("bad.ron"), &bad).unwrap();
    let error = crowdtwin_vision::anomaly::AnomalyDetector::load(&dir.join("bad.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("[1, 12, 72, 128]") && error.contains("[1, 24, 72, 128]"), "{error}");
    // A masking manifest is refused as an anomaly model, and the reverse.
    let error = crowdtwin_vision::anomaly::AnomalyDetector::load(&root().join("models/nanodet.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("anomaly"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_person_track_model_names_what_it_cannot_read() {
    use crowdtwin_core::scenario::{MaskStyle, MaskingSettings};
    let dir = temp_dir("bad-tracks");
    std::fs::create_dir_all(&dir).unwrap();
    // Another model's file behind the manifest: its input is a clip, not rows of 72 features.
    let manifest = std::fs::read_to_string(root().join("models/anomaly_tracks.ron")).unwrap();
    let mil = crowdtwin_vision::manifest::ModelManifest::load(&root().join("models/anomaly_mil.ron")).unwrap();
    let sha = manifest.split("sha256: \"").nth(1).unwrap().split('"').next().unwrap();
    let onnx = root().join("models/anomaly_mil.onnx").display().to_string();
    let bad = manifest.replace(sha, &mil.sha256).replace("\"anomaly_tracks.onnx\"", &format!("{onnx:?}")).replace("name: \"tracks\"", "name: \"clip\"");
    std::fs::write(dir.join("bad.ron"), &bad).unwrap();
    let error = crowdtwin_vision::anomaly::AnomalyDetector::load(&dir.join("bad.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("[-1, 72]") && error.contains("[1, 24, 72, 128]"), "{error}");
    // It reads paint of one colour at one frame rate, and names the setting that differs.
    let model = crowdtwin_vision::anomaly::AnomalyDetector::load(&root().join("models/anomaly_tracks.ron"), 1).unwrap();
    let solid = MaskingSettings::default();
    assert_eq!(model.check_scenario(&solid, &[5, 5]), Ok(()));
    assert_eq!(model.check_scenario(&MaskingSettings { style: MaskStyle::Outlined, ..solid.clone() }, &[5]), Ok(()));
    let error = model.check_scenario(&MaskingSettings { colour: (255, 0, 0), ..solid.clone() }, &[5]).unwrap_err();
    assert!(error.contains("(255, 0, 0)") && error.contains("(0, 160, 230)"), "{error}");
    // Blur leaves no paint to read: allowed (it scores 0), whatever the colour.
    assert_eq!(model.check_scenario(&MaskingSettings { style: MaskStyle::Blur, colour: (255, 0, 0), ..solid.clone() }, &[5]), Ok(()));
    let error = model.check_scenario(&solid, &[5, 10]).unwrap_err();
    assert!(error.contains("10 fps") && error.contains("5 fps"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A model that says 0.5 for every clip and every region, whatever it sees: an ONNX file made
/// with `onnx` in the project's Python environment, and its manifest (threshold 0.5).
fn constant_anomaly_model(dir: &Path) -> PathBuf {
    let script = r#"
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
half = lambda name, shape: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.full(shape, 0.5, dtype=np.float32)))
graph = helper.make_graph(
    [half("score", [1]), half("regions", [1, 1, 9, 16])],
    "constant",
    [helper.make_tensor_value_info("clip", TensorProto.FLOAT, [1, 24, 72, 128])],
    [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1]), helper.make_tensor_value_info("regions", TensorProto.FLOAT, [1, 1, 9, 16])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
"#;
    std::fs::create_dir_all(dir).unwrap();
    let onnx = dir.join("constant.onnx");
    crowdtwin_core::python::run(script, &[onnx.to_str().unwrap()], "").unwrap_or_else(|e| panic!("{e}"));
    let sha256 = crowdtwin_vision::manifest::sha256_file(&onnx).unwrap();
    let manifest = std::fs::read_to_string(root().join("models/anomaly_mil.ron")).unwrap();
    let card = root().join("models/anomaly_mil.md").display().to_string();
    let ours = manifest
        .replace("\"anomaly_mil.onnx\"", "\"constant.onnx\"")
        .replace("b7f89a10b2fd8ec1c34c9ce9f50fae2be6cf37c335e904dfdf42c0d9b0c86141", &sha256)
        .replace("\"anomaly_mil.md\"", &format!("{card:?}"))
        .replace("threshold: 0.03", "threshold: 0.5");
    assert!(ours.contains(&sha256) && ours.contains("threshold: 0.5"), "the manifest template changed: {ours}");
    std::fs::write(dir.join("constant.ron"), ours).unwrap();
    dir.join("constant.ron")
}

#[test]
fn a_constant_anomaly_model_detects_nothing_and_flags_every_protected_activity_in_view() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("constant-model");
    let out = dir.join("run");
    let options = RunOptions { ad_model: constant_anomaly_model(&dir), ..RunOptions::new(root().join("tests/fixtures/small.ron"), out.clone()) };
    let summary = run(&options, |_, _| {}).unwrap().summary;
    let anomaly = &summary["anomaly"];
    // One alert open the whole run over the whole frame: a score at chance (AUC 0.5) …
    assert_eq!(summary["ad_frame_auc"].as_f64(), Some(0.5), "{anomaly}");
    assert_eq!((anomaly["alerts"].as_u64(), anomaly["false_alerts"].as_u64()), (Some(1), Some(1)), "{anomaly}");
    // Open from the frame it is raised on (after the 1 s minimum duration) to the end: half the 2 s run.
    assert!(summary["alert_time_share"].as_f64().unwrap() >= 0.5, "{summary}");
    // … detects nothing (a person's box against the whole frame: IoU far below α) …
    assert_eq!(anomaly["incidents_visible"].as_u64(), Some(1), "the collapse is in view: {anomaly}");
    assert_eq!(summary["incident_recall"].as_f64(), Some(0.0), "{anomaly}");
    assert_eq!(anomaly["detection"]["rbdc_auc"].as_f64(), Some(0.0), "{anomaly}");
    // … and flags every protected activity in view.
    assert_eq!((anomaly["protected_visible"].as_u64(), summary["protected_flag_rate"].as_f64()), (Some(1), Some(1.0)), "{anomaly}");
    let records = crowdtwin_reports::tables::read_all(&out).unwrap();
    let alert = &records.alerts[0];
    assert!(alert.false_alert && alert.detected_incidents.is_empty() && alert.flagged_activities == vec![1], "{alert:?}");
    assert!(records.alert_regions.iter().all(|r| r.bbox() == [0.0, 0.0, 480.0, 270.0]), "every region is the whole frame");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The small scenario with a `deployment` section.
fn deployment_scenario(dir: &Path, deployment: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("tests/fixtures/small.ron")).unwrap();
    let changed = text.replace("population: (count: 12),", &format!("population: (count: 12), deployment: {deployment},"));
    assert_ne!(changed, text);
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("scenario.ron");
    std::fs::write(&path, changed).unwrap();
    path
}

fn run_deployment(scenario: PathBuf, out: &Path, key_file: Option<PathBuf>) -> anyhow::Result<serde_json::Value> {
    let options = RunOptions { key_file, ..RunOptions::new(scenario, out.to_path_buf()) };
    run(&options, |_, _| {}).map(|o| o.summary)
}

/// What raw pixels look like on disk: every run of 4 horizontal pixels that show a person the
/// masker painted over, as RGBA (16 bytes) and RGB (12 bytes) — minus any run the masked frames
/// themselves contain (those are not secret, the masked frame shows them).
struct RawFingerprints {
    rgba: HashSet<[u8; 16]>,
    rgb: HashSet<[u8; 12]>,
    /// (tick, raw frame, painted person pixels) per frame, for lossy (JPEG) comparisons.
    frames: Vec<(u64, crowdtwin_core::frame::RgbaImage, Vec<usize>)>,
}

fn raw_fingerprints(scenario: &Scenario) -> RawFingerprints {
    let detector = crowdtwin_vision::detector::Detector::load(&root().join("models/nanodet.ron"), 2).unwrap();
    let (r, g, b) = scenario.masking.colour;
    let mut masker = crowdtwin_vision::masking::Masker::new(detector, None, [r, g, b], scenario.masking.dilation_px);
    let mut sim = Simulation::new(scenario, &SimOptions::default()).unwrap();
    let (mut rgba, mut rgb, mut frames) = (HashSet::new(), HashSet::new(), Vec::new());
    let (mut allowed_rgba, mut allowed_rgb) = (HashSet::new(), HashSet::new());
    for _ in 0..scenario.total_ticks() {
        for frame in sim.step().unwrap() {
            let masked = masker.mask(&frame.rgba).unwrap();
            let width = frame.rgba.width as usize;
            let painted_person: Vec<bool> =
                frame.id_mask.ids.iter().zip(&masked.mask).map(|(&id, &painted)| painted && matches!(GroundTruthId::decode(id), GroundTruthId::Person(_))).collect();
            for start in 0..painted_person.len().saturating_sub(4) {
                let same_row = start % width + 4 <= width;
                let bytes = |image: &crowdtwin_core::frame::RgbaImage| -> ([u8; 16], [u8; 12]) {
                    let quad: [u8; 16] = image.pixels[start * 4..start * 4 + 16].try_into().unwrap();
                    let mut triple = [0u8; 12];
                    for k in 0..4 {
                        triple[k * 3..k * 3 + 3].copy_from_slice(&quad[k * 4..k * 4 + 3]);
                    }
                    (quad, triple)
                };
                if same_row {
                    let (quad, triple) = bytes(&masked.masked);
                    allowed_rgba.insert(quad);
                    allowed_rgb.insert(triple);
                    if painted_person[start..start + 4].iter().all(|&p| p) {
                        let (quad, triple) = bytes(&frame.rgba);
                        rgba.insert(quad);
                        rgb.insert(triple);
                    }
                }
            }
            let painted: Vec<usize> = painted_person.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
            frames.push((frame.key.tick, frame.rgba.clone(), painted));
        }
    }
    rgba.retain(|w| !allowed_rgba.contains(w));
    rgb.retain(|w| !allowed_rgb.contains(w));
    assert!(rgba.len() > 1000, "the fixture paints enough people to fingerprint: {}", rgba.len());
    RawFingerprints { rgba, rgb, frames }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

fn contains_raw(bytes: &[u8], raw: &RawFingerprints) -> bool {
    bytes.windows(16).any(|w| raw.rgba.contains(<&[u8; 16]>::try_from(w).unwrap()))
        || bytes.windows(12).any(|w| raw.rgb.contains(<&[u8; 12]>::try_from(w).unwrap()))
}

/// Mean absolute difference between a decoded image and the raw frame over its painted person pixels.
fn difference_to_raw(decoded: &[u8], raw: &crowdtwin_core::frame::RgbaImage, painted: &[usize], channels: usize) -> f64 {
    let total: f64 = painted.iter().map(|&i| (0..3).map(|c| (decoded[i * channels + c] as f64 - raw.pixels[i * 4 + c] as f64).abs()).sum::<f64>()).sum();
    total / (3 * painted.len().max(1)) as f64
}

/// Scans every file of a run: no raw person pixel the masker painted over is in any file's
/// bytes or in any decoded PNG; a stored JPEG is far from the raw frame where it was painted.
fn assert_no_raw_pixels(out: &Path, raw: &RawFingerprints) {
    let files = files_under(out);
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!contains_raw(&bytes, raw), "raw pixel bytes in {}", file.display());
        match file.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                let image = crowdtwin_reports::images::decode_png(&bytes).unwrap();
                assert!(!contains_raw(&image.pixels, raw), "raw pixels in the image {}", file.display());
            }
            Some("jpg") => {
                let mut decoder = jpeg_decoder::Decoder::new(bytes.as_slice());
                let pixels = decoder.decode().unwrap();
                let tick: u64 = file.file_stem().unwrap().to_str().unwrap().parse().unwrap();
                let (_, frame, painted) = raw.frames.iter().find(|(t, _, _)| *t == tick).unwrap();
                if painted.len() > 100 {
                    let difference = difference_to_raw(&pixels, frame, painted, 3);
                    assert!(difference > 20.0, "{} is close to the raw frame where people were painted ({difference:.1})", file.display());
                }
            }
            _ => {}
        }
    }
}

#[test]
fn retention_modes_keep_only_what_they_allow_and_modalities_account_for_their_bytes() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("retention");
    let raw = raw_fingerprints(&small_scenario());
    let frame_bytes = 1920.0 * 1080.0 * 0.1 / 8.0;

    // Mode 2, central: masked frames kept, raw frames never written; raw video leaves the camera.
    let out = dir.join("mode2");
    let summary = run_deployment(deployment_scenario(&dir.join("s2"), "(modality: central, retention: 2)"), &out, None).unwrap();
    let stored = files_under(&out.join("deployment"));
    assert_eq!(stored.iter().filter(|f| f.extension().is_some_and(|e| e == "jpg")).count(), 10, "{stored:?}");
    assert!(!out.join("deployment/raw").exists());
    assert_no_raw_pixels(&out, &raw);
    assert!((summary["raw_bytes_off_camera"].as_f64().unwrap() - 10.0 * frame_bytes).abs() < 1e-6, "{}", summary["raw_bytes_off_camera"]);
    assert_eq!(summary["masked_bytes_sent"].as_f64(), Some(0.0));

    // Mode 3, edge: nothing but alert metadata kept; only metadata and alert clips leave the camera.
    let out = dir.join("mode3");
    let summary = run_deployment(deployment_scenario(&dir.join("s3"), "(modality: edge, retention: 3)"), &out, None).unwrap();
    let stored = files_under(&out.join("deployment"));
    // Alert records and their CAP messages: no pixels.
    assert!(stored.iter().all(|f| f.file_name().unwrap() == "alerts.jsonl" || f.parent().unwrap().ends_with("cap") && f.extension().unwrap() == "xml"), "{stored:?}");
    assert_no_raw_pixels(&out, &raw);
    assert_eq!(summary["raw_bytes_off_camera"].as_f64(), Some(0.0));
    let metadata = std::fs::metadata(out.join("deployment/alerts.jsonl")).map_or(0, |m| m.len());
    assert_eq!(summary["metadata_bytes_sent"].as_f64(), Some(metadata as f64), "what an edge camera sends is what the deployment keeps");
    let alert_frames = summary["bandwidth"][0]["alert_frames"].as_f64().unwrap();
    assert_eq!(summary["masked_bytes_sent"].as_f64(), Some(alert_frames * frame_bytes));
    for line in std::fs::read_to_string(out.join("deployment/alerts.jsonl")).unwrap_or_default().lines() {
        let alert: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(alert["text"], crowdtwin_vision::alerts::ALERT_TEXT);
        assert!(alert["confidence_pct"].as_f64().is_some_and(|c| (0.0..=100.0).contains(&c)));
    }

    // Mode 1, hybrid: raw frames sealed with a key kept outside the run, every access logged.
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key_path = keys.join("key");
    StorageKey::generate(&key_path).unwrap();
    let scenario = deployment_scenario(&dir.join("s1"), "(modality: hybrid, retention: 1, retention_days: (raw: 7.0, masked: 14.0, alerts: 90.0))");
    let out = dir.join("mode1");
    let error = run_deployment(scenario.clone(), &out, None).unwrap_err().to_string();
    assert!(error.contains("--key-file"), "{error}");
    let summary = run_deployment(scenario.clone(), &out, Some(key_path.clone())).unwrap();
    assert_eq!(summary["raw_bytes_off_camera"].as_f64(), Some(0.0));
    assert!((summary["masked_bytes_sent"].as_f64().unwrap() - 10.0 * frame_bytes).abs() < 1e-6);
    // Retention in time: the run's own pairing first, held bytes = bytes a day × the period.
    let projection = &summary["retention_projection"];
    assert_eq!(projection["rows"].as_array().map(Vec::len), Some(9), "{projection}");
    let own = &projection["rows"][0];
    assert_eq!((own["this_run"].as_bool(), own["modality"].as_str(), own["mode"].as_u64()), (Some(true), Some("hybrid"), Some(1)), "{own}");
    let fps = crowdtwin_core::scenario::Scenario::load(&scenario).unwrap().cameras[0].fps as f64;
    let day = frame_bytes * fps * 86_400.0;
    assert!((own["raw_stored_bytes"].as_f64().unwrap() - 7.0 * day).abs() < 1.0, "{own}");
    assert!((own["masked_stored_bytes"].as_f64().unwrap() - 14.0 * day).abs() < 1.0, "{own}");
    assert_eq!((own["raw_camera_days"].as_f64(), own["raw_kept_at"].as_str()), (Some(7.0), Some("camera")), "{own}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Retention in time") && report.contains("<b>7 days</b>"), "the report projects the periods");
    let root_dir = out.join("deployment");
    let sealed: Vec<PathBuf> = files_under(&root_dir.join("raw"));
    assert_eq!(sealed.len(), 10);
    let key = StorageKey::read(&key_path).unwrap();
    let wrong = keys.join("wrong");
    StorageKey::generate(&wrong).unwrap();
    let wrong = StorageKey::read(&wrong).unwrap();
    for file in &sealed {
        let bytes = std::fs::read(file).unwrap();
        assert!(!contains_raw(&bytes, &raw), "sealed files show no raw bytes");
        let tick: u64 = file.file_name().unwrap().to_str().unwrap().split('.').next().unwrap().parse().unwrap();
        assert!(open(&wrong, &raw_label("test", tick), &bytes).is_err(), "a wrong key must not decrypt {}", file.display());
        let jpeg = open(&key, &raw_label("test", tick), &bytes).unwrap();
        let pixels = jpeg_decoder::Decoder::new(jpeg.as_slice()).decode().unwrap();
        let (_, frame, painted) = raw.frames.iter().find(|(t, _, _)| *t == tick).unwrap();
        assert!(difference_to_raw(&pixels, frame, painted, 3) < 8.0, "the right key gives back the raw frame");
    }
    let log = root_dir.join("access_log.jsonl");
    assert_eq!(verify_log(&log).unwrap().0, 10, "one entry per stored raw frame");
    assert!(warrant_access(&root_dir, &wrong, "test", 0, "auditor", "warrant 17").is_err());
    assert!(warrant_access(&root_dir, &key, "test", 0, "auditor", "warrant 17").is_ok());
    assert_eq!(verify_log(&log).unwrap().0, 12, "both the refused and the granted access are logged");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replace("warrant 17", "routine")).unwrap();
    assert!(verify_log(&log).is_err(), "an edited log is detected");
    // A key kept inside the run it protects is refused.
    let inside = out.join("key");
    std::fs::copy(&key_path, &inside).unwrap();
    let error = run_deployment(scenario, &out, Some(inside)).unwrap_err().to_string();
    assert!(error.contains("inside the output folder"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_dataset_holds_masked_frames_and_per_frame_labels() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let out = temp_dir("dataset");
    let output = crowdtwin(&["dataset", "tests/fixtures/small.ron", "--out", out.to_str().unwrap(), "--size", "96x54", "--quiet"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let labels = crowdtwin_reports::tables::read(&out.join("labels.parquet")).unwrap();
    assert_eq!(labels.height(), 10, "one row per frame");
    let column = |name: &str| labels.column(name).unwrap().as_materialized_series().clone();
    let (anomaly, protected, files) = (column("anomaly"), column("protected"), column("file"));
    // The small scenario stages a collapse (an incident) and a hug (protected) in front of the camera.
    let (anomaly, protected, files) = (anomaly.bool().unwrap(), protected.bool().unwrap(), files.str().unwrap());
    assert!((0..anomaly.len()).any(|i| anomaly.get(i) == Some(true)), "{labels}");
    assert!((0..protected.len()).any(|i| protected.get(i) == Some(true)), "{labels}");
    for file in (0..files.len()).filter_map(|i| files.get(i)) {
        let image = crowdtwin_reports::images::decode_png(&std::fs::read(out.join(file)).unwrap()).unwrap();
        assert_eq!((image.width, image.height), (96, 54), "{file}");
    }
    // The paint tracks a person-track model reads, each row as wide as the model's input, and
    // the collapsing person (cast) found in some of them.
    let tracks = crowdtwin_reports::tables::read(&out.join("tracks.parquet")).unwrap();
    assert!(tracks.height() > 10, "{tracks}");
    let features = tracks.column("features").unwrap().as_materialized_series().list().unwrap().clone();
    assert!((0..features.len()).all(|i| features.get_as_series(i).is_some_and(|r| r.len() == crowdtwin_vision::tracks::ROW_WIDTH)));
    let cast = tracks.column("cast").unwrap().as_materialized_series().bool().unwrap().clone();
    assert!((0..cast.len()).any(|i| cast.get(i) == Some(true)), "no track holds the collapsing person: {tracks}");
    // What the trainer checks against the manifest it writes: the paint colour and frame rates.
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("dataset.json")).unwrap()).unwrap();
    let scenario = crowdtwin_core::scenario::Scenario::load(&root().join("tests/fixtures/small.ron")).unwrap();
    let colour = scenario.masking.colour;
    assert_eq!(meta["masking_colour"], serde_json::json!([colour.0, colour.1, colour.2]));
    assert_eq!(meta["camera_fps"], serde_json::json!(scenario.cameras.iter().map(|c| c.fps).collect::<Vec<_>>()));
    // How the detector looked (the trainer refuses datasets masked differently).
    let masking = &scenario.masking;
    assert_eq!(meta["masking_tiles"], serde_json::json!([masking.tiles.0, masking.tiles.1]));
    assert_eq!((meta["masking_quarter_turns"].as_bool(), meta["masking_vehicles"].as_bool()), (Some(masking.quarter_turns), Some(masking.vehicles)));
    // …and the values the shipped trainer accepts (small.ron uses the defaults).
    assert_eq!((meta["masking_colour"].clone(), meta["camera_fps"].clone()), (serde_json::json!([0, 160, 230]), serde_json::json!([5])));
    // It never replaces a folder that is not a dataset.
    let other = temp_dir("not-a-dataset");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let refused = crowdtwin(&["dataset", "tests/fixtures/small.ron", "--out", other.to_str().unwrap(), "--quiet"]);
    assert!(!refused.status.success() && other.join("notes.txt").is_file());
    for dir in [out, other] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn the_track_trainer_refuses_datasets_it_cannot_vouch_for() {
    // A model is trained and measured on one masker: a dataset that does not say how it was
    // masked, or datasets masked differently, are refused before anything is fitted.
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("trainer-refusals");
    std::fs::create_dir_all(&dir).unwrap();
    let set = |name: &str| dir.join(name);
    let output = crowdtwin(&["dataset", "tests/fixtures/small.ron", "--out", set("a").to_str().unwrap(), "--size", "320x180", "--quiet"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let copy = Command::new("cp").arg("-r").arg(set("a")).arg(set(name)).status().unwrap();
        assert!(copy.success());
        let path = set(name).join("dataset.json");
        let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(meta.as_object_mut().unwrap());
        std::fs::write(&path, serde_json::to_string(&meta).unwrap()).unwrap();
    };
    edited("b", &|m| {
        m.insert("masking_quarter_turns".into(), serde_json::Value::Bool(true));
    });
    edited("old", &|m| {
        m.remove("masking_tiles");
        m.remove("masking_vehicles");
    });
    let python = crowdtwin_core::python::interpreter().unwrap_or_else(|e| panic!("{e}"));
    let train = |sets: &[&str]| {
        let mut command = Command::new(&python);
        command.arg(root().join("models/train/train_anomaly_tracks.py")).arg("--train");
        command.args(sets.iter().map(|name| set(name))).args(["--validation", "1", "--test"]).arg(set("a")).arg("--out").arg(set("model"));
        let out = command.output().unwrap();
        assert!(!out.status.success(), "trained on {sets:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let error = train(&["a", "old"]);
    assert!(error.contains("old/dataset.json") && error.contains("masking_tiles, masking_vehicles"), "{error}");
    let error = train(&["a", "b"]);
    assert!(error.contains("masked differently") && error.contains("\"quarter_turns\": true") && error.contains("b:"), "{error}");
    assert!(!set("model").exists(), "nothing written");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A two-stage fixture (`models/tools/make_two_stage_fixture.py`: extractor and temporal head,
/// 24 × 32 frames, 8 features) and its manifest, `two_stage.ron` in `dir`.
pub(super) fn two_stage_fixture(dir: &Path, layout: &str, frames: usize, stride: usize, snippets: usize, logits: bool) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let python = crowdtwin_core::python::interpreter().unwrap_or_else(|e| panic!("{e}"));
    let mut make = Command::new(python);
    make.arg(root().join("models/tools/make_two_stage_fixture.py")).args(["--layout", layout, "--frames", &frames.to_string(), "--snippets", &snippets.to_string()]);
    if logits {
        make.arg("--logits");
    }
    let out = make.arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sha = |file: &str| crowdtwin_vision::manifest::sha256_file(&dir.join(file)).unwrap();
    let (input, shape) = match layout {
        "ncthw" => ("video", format!("[1, 3, {frames}, 24, 32]")),
        _ => ("image", "[1, 3, 24, 32]".to_string()),
    };
    let manifest = format!(
        r#"(
    version: 1,
    name: "two-stage-fixture-{layout}",
    task: anomaly,
    file: "extractor.onnx",
    sha256: "{}",
    licence: "test fixture, random weights",
    card: "none.md",
    input: (name: "{input}", layout: nchw, shape: {shape}, channel_order: rgb, resize: centre_crop,
            mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5]),
    decoder: two_stage(
        snippet: (frames: {frames}, stride: {stride}, layout: {layout}),
        features: "features",
        head: (file: "head.onnx", sha256: "{}", input: "snippet_features", output: "scores", snippets: {snippets}, logits: {logits}),
        threshold: 0.5,
    ),
)"#,
        sha("extractor.onnx"),
        sha("head.onnx")
    );
    std::fs::write(dir.join("two_stage.ron"), manifest).unwrap();
    dir.join("two_stage.ron")
}

#[test]
fn a_two_stage_model_scores_each_camera_causally_like_the_numpy_reference() {
    // Overlapping snippets (stride < frames) through a clip extractor; spaced ones (stride >
    // frames: some frames in no snippet) through a per-frame encoder with a logit head.
    for (layout, frames, stride, snippets, logits) in [("ncthw", 4, 2, 5, false), ("per_frame", 3, 4, 3, true)] {
        let dir = temp_dir(&format!("two-stage-{layout}"));
        let manifest = two_stage_fixture(&dir, layout, frames, stride, snippets, logits);
        let mut model = crowdtwin_vision::anomaly::AnomalyDetector::load(&manifest, 1).unwrap();
        assert_eq!(model.sha256.split('+').count(), 2, "both files are the model's provenance");
        // Two cameras, 23 frames each at the input size, sent interleaved as the pipeline does.
        let (cameras, count, height, width) = (2usize, 23usize, 24u32, 32u32);
        let mut raw = Vec::new();
        let mut images = Vec::new();
        for camera in 0..cameras {
            for n in 0..count {
                let mut image = crowdtwin_core::frame::RgbaImage::new(width, height);
                for (i, pixel) in image.pixels.chunks_exact_mut(4).enumerate() {
                    let (x, y) = (i % width as usize, i / width as usize);
                    for (c, value) in pixel.iter_mut().take(3).enumerate() {
                        *value = ((x * 7 + y * 13 + c * 53 + camera * 101) ^ (n * n * 29 + x * n)) as u8;
                    }
                    raw.extend_from_slice(&pixel[..3]);
                }
                images.push(image);
            }
        }
        let mut ours = vec![Vec::new(); cameras];
        for n in 0..count {
            for (camera, scores) in ours.iter_mut().enumerate() {
                scores.push(model.score(camera as u16, &images[camera * count + n]).unwrap().score);
            }
        }
        std::fs::write(dir.join("frames.u8"), &raw).unwrap();
        let python = crowdtwin_core::python::interpreter().unwrap_or_else(|e| panic!("{e}"));
        let mut reference = Command::new(python);
        reference.arg(root().join("models/tools/two_stage_reference.py")).arg("--models").arg(&dir).args([
            "--layout",
            layout,
            "--frames",
            &frames.to_string(),
            "--stride",
            &stride.to_string(),
            "--snippets",
            &snippets.to_string(),
            "--mean",
            "127.5",
            "--std",
            "127.5",
            "--shape",
            &format!("{cameras},{count},{height},{width}"),
        ]);
        if logits {
            reference.arg("--logits");
        }
        let out = reference.arg(dir.join("frames.u8")).arg(dir.join("reference.json")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
        for (camera, scores) in ours.iter().enumerate() {
            let theirs: Vec<f32> = json["scores"][camera].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let worst = scores.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-5, "{layout}, camera {camera}: {scores:?} vs the reference {theirs:?}");
            // A score holds between snippet ends and moves with what the camera saw.
            assert!(scores.chunks(stride).all(|held| held.iter().all(|s| *s == held[0])), "{layout}: {scores:?}");
            let distinct: std::collections::BTreeSet<u32> = scores.iter().map(|s| s.to_bits()).collect();
            assert!(distinct.len() >= 4, "{layout}: {scores:?}");
        }
        assert_ne!(ours[0], ours[1], "each camera has its own snippets");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_two_stage_model_runs_and_evaluates_from_its_manifest_alone() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("two-stage-run");
    let manifest = two_stage_fixture(&dir, "ncthw", 4, 2, 5, false);
    let out = dir.join("run");
    let run = crowdtwin(&["run", "tests/fixtures/small.ron", "--ad-model", manifest.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let records = crowdtwin_reports::tables::read_all(&out).unwrap();
    assert_eq!(records.runs[0].anomaly_model, "two-stage-fixture-ncthw");
    let scores: Vec<f64> = records.frames.iter().map(|f| f.ad_score).collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)) && scores.windows(2).any(|w| w[0] != w[1]), "{scores:?}");
    let eval_out = dir.join("eval");
    let eval = crowdtwin(&["eval", "--suite", "tests/fixtures/mini-suite.ron", "--ad-model", manifest.to_str().unwrap(), "--out", eval_out.to_str().unwrap(), "--quiet"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    for run in ["small", "small-fog-dusk"] {
        let records = crowdtwin_reports::tables::read_all(&eval_out.join(run)).unwrap();
        assert_eq!(records.runs[0].anomaly_model, "two-stage-fixture-ncthw", "{run}");
    }
    // A manifest that does not fit the models names tensors and both shapes.
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(dir.join("bad.ron"), text.replace("snippets: 5", "snippets: 6")).unwrap();
    let error = crowdtwin_vision::anomaly::AnomalyDetector::load(&dir.join("bad.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("snippet_features") && error.contains("[1, 6, 8]") && error.contains("[1, 5, 8]"), "{error}");
    std::fs::write(dir.join("bad.ron"), text.replace("frames: 4", "frames: 3")).unwrap();
    let error = crowdtwin_vision::anomaly::AnomalyDetector::load(&dir.join("bad.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("[1, 3, 4, 24, 32]") && error.contains("3 frames"), "{error}");
    std::fs::write(dir.join("bad.ron"), text.replace("\"features\"", "\"feats\"")).unwrap();
    let error = crowdtwin_vision::anomaly::AnomalyDetector::load(&dir.join("bad.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("feats") && error.contains("features"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `tools/cap/receiver.py` on loopback, answering every POST with `status`; stopped when dropped.
struct CapReceiver {
    child: std::process::Child,
    url: String,
}

impl CapReceiver {
    fn start(dir: &Path, status: u16) -> Self {
        use std::io::BufRead;
        let python = crowdtwin_core::python::interpreter().unwrap();
        let mut child = Command::new(python)
            .arg(root().join("tools/cap/receiver.py"))
            .arg(dir)
            .args(["--status", &status.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("receiver said {line:?}"));
        CapReceiver { child, url: format!("http://127.0.0.1:{port}/cap") }
    }
}

impl Drop for CapReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_with(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == extension)).collect()).unwrap_or_default();
    files.sort();
    files
}

/// Runs `tools/cap/validate.py` (the official CAP 1.2 schema) on `files`: (all valid, its output).
fn validate_cap(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(crowdtwin_core::python::interpreter().unwrap()).arg(root().join("tools/cap/validate.py")).args(files).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn alerts_go_out_as_schema_valid_cap_messages_to_a_webhook() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("cap");
    let model = constant_anomaly_model(&dir.join("model"));
    // The GeoJSON L-site lies on Earth: its alerts have a latitude and longitude.
    let scenario = root().join("tests/fixtures/l_site.ron");
    let received = dir.join("received");
    let receiver = CapReceiver::start(&received, 201);
    let out = dir.join("run");
    let options = RunOptions { ad_model: model.clone(), cap_webhook: Some(receiver.url.clone()), ..RunOptions::new(scenario.clone(), out.clone()) };
    let outcome = run(&options, |_, _| {}).unwrap();
    drop(receiver);
    let stored = files_with(&out.join("deployment/cap"), "xml");
    let records = crowdtwin_reports::tables::read_all(&out).unwrap();
    assert!(!records.alerts.is_empty() && stored.len() == records.alerts.len(), "one CAP message per alert: {stored:?}");
    let delivery = outcome.cap_delivery.unwrap();
    assert_eq!((delivery.delivered, delivery.failed, delivery.url.as_str()), (stored.len() as u64, 0, options.cap_webhook.as_deref().unwrap()));
    // What the webhook received is byte for byte what the deployment kept, with CAP's media type.
    let bodies = files_with(&received, "xml");
    let mut sent: Vec<String> = bodies.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let mut kept: Vec<String> = stored.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    sent.sort();
    kept.sort();
    assert_eq!(sent, kept);
    for body in &bodies {
        assert_eq!(std::fs::read_to_string(body.with_extension("type")).unwrap(), crowdtwin_vision::cap::CAP_MEDIA_TYPE);
    }
    // Valid against the official schema; and the validator does refuse what CAP forbids.
    let (valid, report) = validate_cap(&stored);
    assert!(valid, "{report}");
    let broken = dir.join("broken.xml");
    let zulu = with_zulu_sent_time(&kept[0]);
    std::fs::write(&broken, zulu).unwrap();
    let (valid, report) = validate_cap(std::slice::from_ref(&broken));
    assert!(!valid && report.contains("invalid"), "a time ending in Z must be refused: {report}");
    // The circle is the alert's latitude/longitude; the text is the neutral one.
    for alert in &records.alerts {
        let (lat, lon) = (alert.latitude_deg.unwrap(), alert.longitude_deg.unwrap());
        let circle = format!("<circle>{lat:.6},{lon:.6} ");
        assert!(kept.iter().any(|m| m.contains(&circle)), "{circle} in {kept:?}");
    }
    assert!(kept.iter().all(|m| m.contains(crowdtwin_vision::alerts::ALERT_TEXT) && m.contains("<status>Test</status>")));

    // A receiver that refuses: the run completes, the failures are counted and name the endpoint.
    let refusing = CapReceiver::start(&dir.join("refused"), 503);
    let out = dir.join("refused-run");
    let options = RunOptions { ad_model: model.clone(), cap_webhook: Some(refusing.url.clone()), ..RunOptions::new(scenario.clone(), out.clone()) };
    let delivery = run(&options, |_, _| {}).unwrap().cap_delivery.unwrap();
    assert_eq!((delivery.delivered, delivery.failed), (0, stored.len() as u64));
    assert!(delivery.errors[0].contains(&refusing.url) && delivery.errors[0].contains("503"), "{:?}", delivery.errors);
    assert_eq!(files_with(&out.join("deployment/cap"), "xml").len(), stored.len(), "nothing is lost");
    drop(refusing);

    // A dead endpoint is named before anything runs; no output appears.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{port}/cap");
    let out = dir.join("dead-run");
    let options = RunOptions { ad_model: model, cap_webhook: Some(dead.clone()), ..RunOptions::new(scenario, out.clone()) };
    let error = run(&options, |_, _| {}).unwrap_err().to_string();
    assert!(error.contains(&dead), "{error}");
    assert!(!out.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The message with its first `sent` time's `±hh:mm` offset replaced by `Z`, which CAP 1.2 forbids.
fn with_zulu_sent_time(message: &str) -> String {
    let start = message.find("<sent>").unwrap() + "<sent>".len();
    let end = message[start..].find("</sent>").unwrap() + start;
    format!("{}{}Z{}", &message[..start], &message[start..end - 6], &message[end..])
}

#[test]
fn a_profile_decides_what_may_be_flagged_and_a_stored_run_is_rescored_under_another() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("profile");
    std::fs::create_dir_all(&dir).unwrap();
    // small.ron with a bag snatch by a mixed pair in front of the camera, under the whole-frame alert.
    let text = std::fs::read_to_string(root().join("tests/fixtures/small.ron")).unwrap();
    let snatch = "(kind: bag_snatch, start_s: 0.2, duration_s: (1.4, 1.6), place: point(2.5, 3.5), pairing: mixed),\n    ],";
    let scenario = dir.join("snatch.ron");
    std::fs::write(&scenario, text.replacen("    ],\n)", &format!("        {snatch}\n)"), 1)).unwrap();
    let out = dir.join("run");
    let options = RunOptions { ad_model: constant_anomaly_model(&dir.join("model")), ..RunOptions::new(scenario, out.clone()) };
    let summary = run(&options, |_, _| {}).unwrap().summary;
    let anomaly = &summary["anomaly"];
    assert_eq!(summary["profile"], "unicri");
    // Petty theft is out of scope: not an incident to find, and the alert over it is disproportionate.
    assert_eq!((anomaly["incidents_visible"].as_u64(), anomaly["out_of_scope_visible"].as_u64()), (Some(1), Some(1)), "{anomaly}");
    assert_eq!((anomaly["out_of_scope_alerted"].as_u64(), anomaly["disproportionate_alerts"].as_u64()), (Some(1), Some(1)), "{anomaly}");
    let records = crowdtwin_reports::tables::read_all(&out).unwrap();
    let snatch = records.incidents.iter().find(|i| i.kind == "bag_snatch").unwrap();
    assert!(snatch.out_of_scope && !snatch.protected && snatch.detected, "{snatch:?}");
    assert_eq!(records.alerts[0].disproportionate_events, vec![snatch.incident]);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("out of scope — an alert is disproportionate") && report.contains("alerted on — disproportionate"));

    // The board of another jurisdiction classes theft as an incident: the stored run, rescored.
    let files = ["runs", "incidents", "alerts", "operating_points"].map(|t| format!("{t}.parquet")).into_iter().chain(["summary.json".to_string(), "report.html".to_string()]);
    let before: Vec<(String, Vec<u8>)> = files.map(|f| (f.clone(), std::fs::read(out.join(&f)).unwrap())).collect();
    let strict = dir.join("strict.ron");
    std::fs::write(&strict, std::fs::read_to_string(root().join("profiles/unicri.ron")).unwrap().replace("name: \"unicri\"", "name: \"strict\"").replace("bag_snatch: out_of_scope", "bag_snatch: incident")).unwrap();
    let done = crowdtwin(&["report", out.to_str().unwrap(), "--profile", strict.to_str().unwrap()]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).contains("profile `strict`"));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let anomaly = &summary["anomaly"];
    assert_eq!((anomaly["incidents_visible"].as_u64(), anomaly["disproportionate_alerts"].as_u64(), anomaly["out_of_scope_visible"].as_u64()), (Some(2), Some(0), Some(0)), "{anomaly}");
    let records = crowdtwin_reports::tables::read_all(&out).unwrap();
    assert_eq!(records.runs[0].profile, "strict");
    assert!(records.incidents.iter().all(|i| !i.out_of_scope));
    assert_eq!(records.operating_points.iter().filter(|p| p.chosen).count(), 1);
    // Back under the default profile: every table, the summary and the report as the run wrote them.
    let done = crowdtwin(&["report", out.to_str().unwrap(), "--profile", "profiles/unicri.ron"]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    for (file, bytes) in &before {
        assert!(&std::fs::read(out.join(file)).unwrap() == bytes, "{file} differs after rescoring under the run's own profile");
    }
    // A profile that leaves a kind out is refused, naming it.
    let partial = dir.join("partial.ron");
    std::fs::write(&partial, "(version: 1, name: \"partial\", events: {fight: incident})").unwrap();
    let refused = crowdtwin(&["report", out.to_str().unwrap(), "--profile", partial.to_str().unwrap()]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("bag_snatch"), "{}", String::from_utf8_lossy(&refused.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_trained_attacker_reads_crops_as_it_was_trained_and_matches_the_python_reference() {
    let reference = fixture_json("attacker/reference.json");
    let mut attacker = crowdtwin_vision::attacker::AttributeAttacker::load(&root().join("models/attribute_attacker.ron"), 1).unwrap();
    assert_eq!(reference["sha256"].as_str(), Some(attacker.sha256.as_str()), "the fixture was made with this model");
    let frame = fixture_png("attacker/frame.png");
    let persons = reference["persons"].as_array().unwrap();
    assert!(persons.len() >= 3, "the fixture holds several persons");
    let floats = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
    let mut inputs = Vec::new();
    for person in persons {
        let bbox: Vec<u32> = person["bbox"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let input = attacker.input(&frame, [bbox[0], bbox[1], bbox[2], bbox[3]], person["pixels_per_metre"].as_f64().unwrap() as f32);
        // The crop is exact (integer sums, one division); the logarithms may differ in the last bit.
        assert_eq!(input.crop, floats(&person["crop"]), "person {}", person["person"]);
        let geometry = floats(&person["geometry"]);
        assert!(input.geometry.iter().zip(&geometry).all(|(a, b)| (a - b).abs() < 1e-5), "{:?} vs {geometry:?}", input.geometry);
        inputs.push(input);
    }
    let predicted = attacker.predict(&inputs).unwrap();
    let expected: Vec<Vec<usize>> = persons.iter().map(|p| p["classes"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as usize).collect()).collect();
    assert_eq!(predicted, expected);
    // A masking manifest is refused as an attacker, naming the task it needs.
    let error = crowdtwin_vision::attacker::AttributeAttacker::load(&root().join("models/nanodet.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("attributes"), "{error}");
    // A manifest claiming another grid names expected and actual shapes.
    let dir = temp_dir("bad-attacker");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = std::fs::read_to_string(root().join("models/attribute_attacker.ron")).unwrap();
    let onnx = root().join("models/attribute_attacker.onnx").display().to_string();
    std::fs::write(dir.join("bad.ron"), manifest.replace("[1, 3, 24, 12]", "[1, 3, 32, 16]").replace("\"attribute_attacker.onnx\"", &format!("{onnx:?}"))).unwrap();
    let error = crowdtwin_vision::attacker::AttributeAttacker::load(&dir.join("bad.ron"), 1).err().expect("must fail").to_string();
    assert!(error.contains("[-1, 3, 32, 16]") && error.contains("24, 12]"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_trained_attacker_is_not_run_on_the_persons_it_was_trained_on() {
    let dir = temp_dir("attacker-in-sample");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = small_scenario();
    let population = crowdtwin::frames::render_sections(&scenario).unwrap()["population"].clone();
    // The shipped attacker, declared trained on the small scenario's persons.
    let manifest = std::fs::read_to_string(root().join("models/attribute_attacker.ron")).unwrap();
    let onnx = root().join("models/attribute_attacker.onnx").display().to_string();
    let declared = manifest
        .replace("\"attribute_attacker.onnx\"", &format!("{onnx:?}"))
        .replace("trained_on: [", &format!("trained_on: [(seed: {}, population_sha256: {population:?}),", scenario.seed));
    std::fs::write(dir.join("in-sample.ron"), declared).unwrap();
    let out = dir.join("run");
    let options = RunOptions { seconds: Some(1.0), attacker_model: Some(dir.join("in-sample.ron")), ..RunOptions::new(root().join("tests/fixtures/small.ron"), out.clone()) };
    let summary = crowdtwin::pipeline::run(&options, |_, _| {}).unwrap().summary;
    assert!(summary["privacy_attacker_model"]["not_run"].as_str().is_some_and(|w| w.contains("training data")), "{}", summary["privacy_attacker_model"]);
    let privacy = crowdtwin_reports::tables::read_all(&out).unwrap().privacy;
    assert!(privacy.iter().all(|p| p.attack != "attribute_trained"), "{privacy:?}");
    // Another seed stages other persons: it is run, and scores them.
    let options = RunOptions { seed: Some(scenario.seed + 1), ..options };
    let summary = crowdtwin::pipeline::run(&options, |_, _| {}).unwrap().summary;
    assert!(summary["privacy_attacker_model"]["not_run"].is_null() && summary["privacy_attacker_model"]["sha256"].is_string(), "{}", summary["privacy_attacker_model"]);
    let privacy = crowdtwin_reports::tables::read_all(&out).unwrap().privacy;
    assert!(privacy.iter().any(|p| p.attack == "attribute_trained"), "{privacy:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The anomaly model is handed the masked frame and nothing else: with the frame's
/// ground truth scrambled (every id of the id mask, the persons and incidents in view), the raw
/// frame after masking and the masker's own by-products too (its per-pixel mask, its
/// detections), every score and region score of the anomaly stage is bit for bit what it was —
/// with the default person-track model and with the box-reading model, whose region grid makes
/// the comparison finer. (NanoDet-g masks here: what is tested is what reaches the model, not how
/// well it reads this masker's paint.)
#[test]
fn corrupting_the_ground_truth_leaves_the_anomaly_scores_unchanged() {
    use crowdtwin::stages::anomaly::{AlertOut, AnomalyStage};
    use crowdtwin::stages::masking::{Masking, MaskingStage};
    use crowdtwin::stages::{Stage, TickInfo};
    use crowdtwin_vision::alerts::{AlertRule, Alerter};
    use crowdtwin_vision::anomaly::AnomalyDetector;
    use crowdtwin_vision::cap::CapContext;
    use crowdtwin_vision::deployment::Storage;
    let scenario = small_scenario();
    let mut sim = Simulation::new(&scenario, &SimOptions::default()).unwrap();
    let mut frames = Vec::new();
    while frames.len() < 10 {
        frames.extend(sim.step().unwrap().into_iter().filter(|f| f.key.camera == 0));
    }
    // What is scrambled below is really there: people, an event under way, ids in the mask.
    assert!(frames.iter().any(|f| !f.persons.is_empty()), "the clip shows people");
    assert!(frames.iter().any(|f| !f.incidents.is_empty()), "an event is under way");
    assert!(frames.iter().any(|f| f.id_mask.ids.iter().any(|&id| id != 0)), "the id mask names something");
    let dir = temp_dir("ad-ground-truth");
    let scores = |model: &str, corrupt: bool, name: &str| -> Vec<(f32, Vec<f32>)> {
        let ad = AnomalyDetector::load(&root().join(model), 1).unwrap();
        let detector = crowdtwin_vision::detector::Detector::load(&root().join("models/nanodet.ron"), 1).unwrap();
        let mut masking = MaskingStage::new(Masking::Masker(Box::new(crowdtwin_vision::masking::Masker::for_scenario(detector, None, &scenario.masking))));
        let storage = Storage::new(&dir.join(name), scenario.deployment.retention, None).unwrap();
        let cap = CapContext::new(&scenario.deployment.cap, scenario.time_of_day_h, None, &scenario.name, scenario.seed, "template").unwrap();
        let rule = AlertRule { threshold: ad.default_threshold(), release_ratio: 0.8, min_duration_s: 0.0 };
        let mut anomaly = AnomalyStage::new(Some(ad), Alerter::new(rule), storage, &scenario, AlertOut::new(None, cap, None));
        frames
            .iter()
            .map(|frame| {
                let tick = TickInfo { tick: frame.key.tick, source_ms: 0.0 };
                let mut frame = frame.clone();
                if corrupt {
                    frame.id_mask.ids.iter_mut().enumerate().for_each(|(i, id)| *id = (i as u32).wrapping_mul(2_654_435_761));
                    frame.persons.clear();
                    frame.incidents.clear();
                }
                let mut masked = masking.process(tick, frame).unwrap();
                if corrupt {
                    // The raw frame rides beside the masked one to the stage's storage: scramble it too.
                    masked.frame.rgba.pixels.iter_mut().for_each(|v| *v = v.wrapping_add(97));
                    masked.mask.mask.iter_mut().for_each(|painted| *painted = !*painted);
                    masked.mask.detections.clear();
                }
                let scored = anomaly.process(tick, masked).unwrap();
                (scored.anomaly.score, scored.anomaly.regions)
            })
            .collect()
    };
    // The box-reading model: its cell trees give a region grid at the masker's resolution of
    // detail; the person-track model reads the paint itself.
    for model in ["models/anomaly_boxes.ron", "models/anomaly_tracks.ron"] {
        let clean = scores(model, false, "clean");
        assert!(clean.iter().any(|(_, regions)| !regions.is_empty()), "{model} gives region scores");
        assert!(clean.iter().any(|(score, _)| *score != clean[0].0), "{model}'s scores vary over the clip, so the comparison can fail");
        assert_eq!(clean, scores(model, true, "corrupt"), "the ground truth or the masker's by-products reached {model}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
