//! Frame stores: `crowdtwin render` once, `run --frames` and `eval` replay without the renderer.

use super::*;

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut found = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

/// Two run folders hold the same files byte for byte, but for `timings.parquet` (wall-clock
/// measurements, which differ between any two runs).
fn assert_same_run(live: &Path, replay: &Path, what: &str) {
    let (mut a, mut b) = (files(live), files(replay));
    for run in [&mut a, &mut b] {
        assert!(run.remove(Path::new("timings.parquet")).is_some(), "{what}: timings.parquet is written");
    }
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}: the same files");
    for (file, bytes) in &a {
        assert!(bytes == &b[file], "{what}: {} differs between the live run and the replay", file.display());
    }
    assert!(a.len() > 15, "{what}: a whole run ({} files)", a.len());
}

fn run_with(args: &[&str]) -> std::process::Output {
    let output = crowdtwin(&[&["run", "--quiet"], args].concat());
    assert!(output.status.success(), "crowdtwin run {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn a_replayed_frame_store_gives_the_live_run_byte_for_byte_with_any_masker() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("frame-store");
    let (store, s) = (dir.join("store"), |p: &Path| p.to_str().unwrap().to_string());
    let output = crowdtwin(&["render", "tests/fixtures/small.ron", "--out", &s(&store), "--quiet"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // The documented layout, and nothing a model made.
    let mut stored: Vec<String> = files(&store).keys().map(|p| p.to_string_lossy().into_owned()).collect();
    stored.retain(|f| !f.starts_with("c000/"));
    assert_eq!(
        stored,
        ["frames.parquet", "incidents_in_frame.parquet", "persons.parquet", "persons_in_frame.parquet", "scenario.ron", "staged_incidents.parquet", "store.json"]
    );
    assert_eq!(std::fs::read_dir(store.join("c000")).unwrap().count(), 20, "10 frames of camera 0: colour and id mask");
    for table in ["frames", "persons_in_frame", "incidents_in_frame", "staged_incidents"] {
        let df = crowdtwin_reports::tables::read(&store.join(format!("{table}.parquet"))).unwrap();
        for column in df.get_column_names() {
            for word in ["score", "mask", "alert", "detected", "anomal"] {
                assert!(!column.contains(word), "{table}.{column}: the store holds no model output");
            }
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("store.json")).unwrap()).unwrap();
    assert_eq!(manifest["frames"], 10);
    assert_eq!(manifest["version"], crowdtwin::frames::VERSION);

    // The default masker: live and replayed (the store's own copy of the scenario, and the file).
    let (live, replay, replay_named) = (dir.join("live"), dir.join("replay"), dir.join("replay-named"));
    run_with(&["tests/fixtures/small.ron", "--out", &s(&live)]);
    run_with(&["--frames", &s(&store), "--out", &s(&replay)]);
    run_with(&["tests/fixtures/small.ron", "--frames", &s(&store), "--out", &s(&replay_named)]);
    assert_same_run(&live, &replay, "default masker, the store's scenario");
    assert_same_run(&live, &replay_named, "default masker, the scenario named");
    // A training dataset of masked frames from the store is the live one.
    let (data_live, data_replay) = (dir.join("data-live"), dir.join("data-replay"));
    for args in [vec!["tests/fixtures/small.ron".to_string(), "--out".into(), s(&data_live)], vec!["--frames".into(), s(&store), "--out".into(), s(&data_replay)]] {
        let output = crowdtwin(&[&["dataset", "--size", "96x54", "--quiet"], &args.iter().map(String::as_str).collect::<Vec<_>>()[..]].concat());
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(files(&data_live), files(&data_replay), "dataset from the store and live: the same files");
    assert_eq!(files(&data_live).len(), 13, "10 masked frames, labels.parquet, tracks.parquet, dataset.json");

    // A second masking set-up (the silhouette refiner) and settings edited after the render —
    // privacy masks, sensor noise and JPEG, another mask style — give the live run with them.
    let edited = dir.join("edited.ron");
    let text = std::fs::read_to_string(root().join("tests/fixtures/small.ron")).unwrap();
    let text = text
        .replace("fps: 5,", "fps: 5, degradation: (noise_sigma: 4.0, jpeg_quality: Some(60)), privacy_masks: [(0.0, 0.0, 0.25, 0.2)],")
        .replace("render: (msaa: 1, shadows: false),", "render: (msaa: 1, shadows: false), masking: (style: blur),");
    std::fs::write(&edited, &text).unwrap();
    let (live2, replay2) = (dir.join("live-refined"), dir.join("replay-refined"));
    let refine = ["--refine-model", "models/pose_landmark_lite.ron"];
    run_with(&[&[s(&edited).as_str(), "--out", &s(&live2)], &refine[..]].concat());
    run_with(&[&[s(&edited).as_str(), "--frames", &s(&store), "--out", &s(&replay2)], &refine[..]].concat());
    assert_same_run(&live2, &replay2, "refined masker, edited camera and masking");
    let runs = |d: &Path| std::fs::read(d.join("observations.parquet")).unwrap();
    assert_ne!(runs(&live), runs(&live2), "the second set-up masks otherwise");

    // A render-relevant difference is refused (exit 2), naming the sections.
    let moved = dir.join("moved.ron");
    std::fs::write(&moved, text.replace("count: 12", "count: 13").replace("pitch_deg: 20.0", "pitch_deg: 21.0")).unwrap();
    let refused = crowdtwin(&["run", &s(&moved), "--frames", &s(&store), "--out", &s(&dir.join("never")), "--quiet"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sections differ: cameras, population"), "{stderr}");
    let refused = crowdtwin(&["run", "--frames", &s(&store), "--seed", "8", "--out", &s(&dir.join("never")), "--quiet"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("section differs: seed"), "{}", String::from_utf8_lossy(&refused.stderr));
    // So are a store of another version and one of another simulation output format.
    let manifest_text = std::fs::read_to_string(store.join("store.json")).unwrap();
    let sim_output = format!("\"sim_output_format\": {}", crowdtwin::frames::SIM_OUTPUT_FORMAT);
    for (field, value) in [("\"version\": 1", "\"version\": 99"), (sim_output.as_str(), "\"sim_output_format\": 0")] {
        assert!(manifest_text.contains(field));
        std::fs::write(store.join("store.json"), manifest_text.replace(field, value)).unwrap();
        let refused = crowdtwin(&["run", "--frames", &s(&store), "--out", &s(&dir.join("never")), "--quiet"]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(value.split(": ").nth(1).unwrap()) && stderr.contains("render it again"), "{stderr}");
    }
    std::fs::write(store.join("store.json"), &manifest_text).unwrap();
    assert!(!dir.join("never").exists(), "a refused replay writes nothing");
    // `render --out` replaces only a store.
    let refused = crowdtwin(&["render", "tests/fixtures/small.ron", "--out", &s(&live), "--quiet"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a crowdtwin frame store"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn eval_renders_each_run_once_into_its_cache_and_replays_it_as_a_live_eval_scores_it() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("eval-frames");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (cache, live, cached, again) = (dir.join("cache"), dir.join("live"), dir.join("cached"), dir.join("again"));
    let eval = |out: &Path, extra: &[&str]| {
        let output = crowdtwin(&[&["eval", "--suite", "tests/fixtures/mini-suite.ron", "--quiet", "--out", &s(out)], extra].concat());
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    eval(&live, &[]);
    let first = eval(&cached, &["--frames-cache", &s(&cache)]);
    assert!(!first.contains("reusing") && first.matches("rendered the frame store").count() == 2, "{first}");
    let stores: Vec<PathBuf> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(stores.len(), 2, "one store per render key: day, and fog at dusk");
    let written = |store: &PathBuf| std::fs::metadata(store.join("store.json")).unwrap().modified().unwrap();
    let before: Vec<_> = stores.iter().map(written).collect();
    let second = eval(&again, &["--frames-cache", &s(&cache)]);
    assert_eq!(second.matches("reusing the frame store").count(), 2, "{second}");
    assert_eq!(stores.iter().map(written).collect::<Vec<_>>(), before, "nothing rendered again");
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for out in [&cached, &again] {
        for file in ["summary.json", "junit.xml", "small/observations.parquet", "small-fog-dusk/alerts.parquet", "small-fog-dusk/report.html"] {
            assert!(read(&live, file) == read(out, file), "{file}: a replayed eval scores as the live one");
        }
    }
    // A suite run may name its store; another seed than the store's is refused, naming it.
    let suite = dir.join("suite.ron");
    let store = &stores[0];
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("store.json")).unwrap()).unwrap();
    let name = manifest["variant"]["name"].as_str().unwrap().to_string();
    let (hour, fog) = if name == "small" { ("None", "None") } else { ("Some(18.2)", "Some((fog_visibility_m: Some(40.0)))") };
    let scenario = s(&root().join("tests/fixtures/small.ron"));
    let write_suite = |seed: &str| {
        std::fs::write(&suite, format!("(version: 1, name: \"named\", runs: [(name: Some(\"{name}\"), scenario: \"{scenario}\", seed: {seed}, time_of_day_h: {hour}, conditions: {fog}, frames: Some(\"{}\"))])", s(store))).unwrap()
    };
    write_suite("None");
    let named = dir.join("named");
    let output = crowdtwin(&["eval", "--suite", &s(&suite), "--quiet", "--out", &s(&named)]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(read(&live, &format!("{name}/observations.parquet")) == read(&named, &format!("{name}/observations.parquet")));
    // Named on the command line, a scenario is taken as written: the plain file against the
    // store of fog at dusk is refused, naming the hour and the weather.
    let dusk = stores.iter().find(|store| std::fs::read_to_string(store.join("store.json")).unwrap().contains("18.2")).unwrap();
    let refused = crowdtwin(&["run", &scenario, "--frames", &s(dusk), "--out", &s(&dir.join("never")), "--quiet"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sections differ: conditions, time_of_day_h"), "{stderr}");
    write_suite("Some(9)");
    let output = crowdtwin(&["eval", "--suite", &s(&suite), "--quiet", "--out", &s(&dir.join("refused"))]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("section differs: seed"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_store_of_an_imported_site_replays_from_its_own_copy_and_from_a_scenario_elsewhere() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("frame-store-site");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let store = dir.join("store");
    let output = crowdtwin(&["render", "tests/fixtures/l_site.ron", "--seconds", "1", "--out", &s(&store), "--quiet"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (live, replay, elsewhere) = (dir.join("live"), dir.join("replay"), dir.join("elsewhere"));
    run_with(&["tests/fixtures/l_site.ron", "--seconds", "1", "--out", &s(&live)]);
    // The store's copy names the map relative to the original scenario: read from there.
    run_with(&["--frames", &s(&store), "--out", &s(&replay)]);
    assert_same_run(&live, &replay, "imported site, the store's scenario");
    // The same map named from another folder is the same site (its contents are keyed, not its path).
    let moved = dir.join("moved");
    std::fs::create_dir_all(moved.join("maps")).unwrap();
    std::fs::copy(root().join("tests/fixtures/osm/l_site.geojson"), moved.join("maps/l.geojson")).unwrap();
    let text = std::fs::read_to_string(root().join("tests/fixtures/l_site.ron")).unwrap().replace("osm/l_site.geojson", "maps/l.geojson");
    std::fs::write(moved.join("l.ron"), text).unwrap();
    let output = crowdtwin(&["run", &s(&moved.join("l.ron")), "--frames", &s(&store), "--out", &s(&elsewhere), "--quiet"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // An edited map is another site.
    std::fs::write(moved.join("maps/l.geojson"), std::fs::read_to_string(moved.join("maps/l.geojson")).unwrap().replacen("40", "41", 1)).unwrap();
    let refused = crowdtwin(&["run", &s(&moved.join("l.ron")), "--frames", &s(&store), "--out", &s(&dir.join("never")), "--quiet"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("section differs: site"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
