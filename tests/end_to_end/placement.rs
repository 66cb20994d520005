//! Camera placement end to end: `crowdtwin place` writes a scenario that runs as is, and a
//! run's report carries the coverage of its cameras.

use super::*;

#[test]
fn place_writes_a_runnable_scenario_that_reaches_its_target() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("place");
    let out = dir.join("placed");
    let mps = dir.join("program.mps");
    let output = crowdtwin(&["place", "tests/fixtures/small.ron", "--target", "observe:0.6", "--out", out.to_str().unwrap(), "--mps", mps.to_str().unwrap(), "--highs", "10"]);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    let placed = Scenario::load(&out.join("scenario.ron")).unwrap_or_else(|e| panic!("{e}"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("placement.json")).unwrap()).unwrap();
    let outcome = &report["outcome"];
    assert_eq!(placed.cameras.len(), outcome["after_cameras"].as_u64().unwrap() as usize);
    // The same program as MPS, solved by HiGHS too: one binary per candidate, and the same optimum.
    let program = std::fs::read_to_string(&mps).unwrap();
    assert_eq!(program.matches(" BV BND ").count() as u64, outcome["candidates"].as_u64().unwrap());
    assert_eq!(outcome["highs"]["optimal"], true, "{}", outcome["highs"]);
    assert_eq!(outcome["highs"]["placement"]["chosen"].as_array().unwrap().len(), placed.cameras.len());
    assert!(text.contains("| HiGHS ") && text.contains("| microlp ("), "{text}");
    let after = outcome["after"]["coverage"]["area_share"]["observe"].as_f64().unwrap();
    let before = outcome["before"]["coverage"]["area_share"]["observe"].as_f64().unwrap();
    assert!(after >= 0.6 && after > before, "observe coverage {before} → {after}");
    // The greedy's gap is measured against a proven bound, and nothing beats the bound.
    assert!(outcome["greedy_gap"].as_f64().unwrap() >= 0.0 && outcome["bound"].as_f64().unwrap() <= placed.cameras.len() as f64 + 1e-9);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Before: the scenario's 1 cameras") && html.contains("After: the ") && html.matches("data:image/png;base64,").count() == 2);
    for map in ["coverage_before.png", "coverage_after.png"] {
        assert!(crowdtwin_reports::images::decode_png(&std::fs::read(out.join(map)).unwrap()).unwrap().width > 100);
    }
    // The placed scenario runs as is, and its report shows the coverage of its cameras.
    let run_dir = dir.join("run");
    let output = crowdtwin(&["run", out.join("scenario.ron").to_str().unwrap(), "--seconds", "0.4", "--out", run_dir.to_str().unwrap(), "--quiet"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
    let observed = summary["coverage"]["coverage"]["area_share"]["observe"].as_f64().unwrap();
    assert!((observed - after).abs() < 1e-9, "the run scores the same coverage: {observed} vs {after}");
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains("Camera coverage of the site") && html.contains("data:image/png;base64,"));
    // Candidates from a file: the scenario's own camera and one turned away; a low target is
    // met by the first alone, and the written camera keeps its pose.
    let mut own = small_scenario().cameras[0].clone();
    let mut away = own.clone();
    away.id = "away".into();
    away.yaw_deg += 180.0;
    own.id = "own".into();
    let file = dir.join("candidates.ron");
    std::fs::write(&file, ron::ser::to_string(&vec![away, own.clone()]).unwrap()).unwrap();
    let chosen_dir = dir.join("from-file");
    let output = crowdtwin(&["place", "tests/fixtures/small.ron", "--candidates", file.to_str().unwrap(), "--target", "detect:0.2", "--out", chosen_dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let chosen = Scenario::load(&chosen_dir.join("scenario.ron")).unwrap().cameras;
    assert_eq!(chosen.len(), 1);
    assert_eq!((chosen[0].position, chosen[0].yaw_deg), (own.position, own.yaw_deg));
    // A candidate file with a non-finite number is refused before any work, naming line and field.
    let text = ron::ser::to_string_pretty(&vec![own.clone()], ron::ser::PrettyConfig::default()).unwrap();
    let bad_text = text.replacen(&format!("yaw_deg: {:?}", own.yaw_deg), "yaw_deg: NaN", 1);
    assert_ne!(bad_text, text, "{text}");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, &bad_text).unwrap();
    let output = crowdtwin(&["place", "tests/fixtures/small.ron", "--candidates", bad.to_str().unwrap(), "--out", dir.join("bad").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = bad_text.lines().position(|l| l.contains("yaw_deg")).unwrap() + 1;
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("bad.ron:{line}:")) && stderr.contains("field `[0].yaw_deg`"), "{stderr}");
    // A target nobody can reach is an error that says how far the candidates get.
    let output = crowdtwin(&["place", "tests/fixtures/small.ron", "--target", "identify:0.99", "--out", dir.join("never").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot reach") || text.contains("reaches"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_privacy_mask_blacks_out_its_part_of_the_frame_in_the_camera() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let mut scenario = small_scenario();
    scenario.cameras[0].privacy_masks = vec![(0.0, 0.0, 0.5, 1.0)];
    let (_, frame) = staged_frame(&scenario, &[(0, -2.0, 6.0), (1, 2.0, 6.0)]);
    let (w, h) = (frame.rgba.width, frame.rgba.height);
    let pixel = |x: u32, y: u32| &frame.rgba.pixels[((y * w + x) * 4) as usize..((y * w + x) * 4 + 3) as usize];
    assert!((0..h).all(|y| (0..w / 2).all(|x| pixel(x, y) == [0, 0, 0])), "the left half is black");
    assert!((0..h).any(|y| (w / 2..w).any(|x| pixel(x, y) != [0, 0, 0])), "the right half is not");
    // The id mask (ground truth) is untouched: the person on the left is still there.
    assert!(frame.persons.iter().any(|p| p.visible_px > 0));
}

#[test]
fn highs_solves_the_written_mps_program_to_the_optimum_microlp_proves() {
    use crowdtwin_core::rng::{Purpose, StreamRng};
    use crowdtwin_reports::placement::{exact, write_mps, Goal, Instance};
    let dir = temp_dir("mps");
    std::fs::create_dir_all(&dir).unwrap();
    let python = crowdtwin_core::python::interpreter().unwrap();
    let mut checked = 0;
    for seed in 0..8u64 {
        // Small random covering instances with two districts: microlp proves their optimum.
        let mut rng = StreamRng::new(seed, 0, Purpose::Site);
        let sets: Vec<Vec<u32>> = (0..10).map(|_| (0..40u32).filter(|_| rng.unit() < 0.25).collect()).collect();
        let weights: Vec<f64> = (0..40).map(|_| 0.5 + rng.unit()).collect();
        let districts: Vec<Option<usize>> = (0..40).map(|c| Some(usize::from(c >= 20))).collect();
        let instance = Instance::new(&sets, &weights, &districts, 2);
        for (goal, equity) in [(Goal::Target(0.7), None), (Goal::Budget(3), None), (Goal::Budget(3), Some(0.15)), (Goal::Target(0.6), Some(0.2))] {
            let Ok(truth) = exact(&instance, goal, equity, 100_000, None) else { continue };
            let Some(best) = truth.placement.filter(|_| truth.optimal) else { continue };
            let mps = dir.join(format!("p{seed}-{checked}.mps"));
            std::fs::write(&mps, write_mps(&instance, goal, equity)).unwrap();
            let out = Command::new(&python).arg(root().join("tools/placement/highs.py")).arg(&mps).args(["--time-limit", "30"]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let answer: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
            assert!(answer["status"] == "Optimal" || answer["gap"].as_f64().is_some_and(|g| g <= 1e-6), "{answer}");
            let chosen: Vec<usize> = answer["chosen"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as usize).collect();
            match goal {
                Goal::Target(share) => {
                    assert_eq!(chosen.len(), best.chosen.len(), "seed {seed} {goal:?} {equity:?}: HiGHS {chosen:?}, microlp {:?}", best.chosen);
                    assert!(instance.covered(&chosen) / instance.total + 1e-9 >= share);
                }
                Goal::Budget(n) => {
                    let share = instance.covered(&chosen) / instance.total;
                    assert!(chosen.len() <= n && (share - best.share).abs() < 1e-6, "seed {seed} {goal:?} {equity:?}: {share} vs {}", best.share);
                    assert!((answer["objective"].as_f64().unwrap() / instance.total - best.share).abs() < 1e-6);
                }
            }
            if let Some(limit) = equity {
                assert!(instance.equity_gap(&chosen) <= limit + 1e-6, "the MPS program keeps the equity limit");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} instances checked");
    std::fs::remove_dir_all(dir).unwrap();
}
