//! The planner's view, used as a planner would: the window opened on a real X server (Xvfb)
//! with lavapipe, driven by raw mouse and keyboard input, checked through its state dump, its
//! overlay's pixels, its screenshots and the scenario it saves.

use super::{crowdtwin, root, temp_dir};
use crowdtwin_core::scenario::{PrivateZoneSpec, Scenario};
use crowdtwin_reports::coverage::{Grid, Occluders, View, cells_seen, coverage_map, dori_level};
use crowdtwin_view::script::Dump;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// An Xvfb server on a free display, stopped when dropped.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        // `-displayfd 1`: Xvfb picks a free display and writes its number once it accepts clients.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (`make setup` installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let number = line.trim();
        assert!(
            !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
            "Xvfb gave no display: `{line}`"
        );
        Xvfb {
            child,
            display: format!(":{number}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dump(dir: &Path, name: &str) -> Dump {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The scenario with the dumped cameras' poses.
fn with_poses(scenario: &Scenario, dumped: &Dump) -> Scenario {
    let mut scenario = scenario.clone();
    scenario.cameras = dumped
        .cameras
        .iter()
        .map(|pose| {
            let mut camera = scenario
                .cameras
                .iter()
                .find(|c| c.id == pose.id)
                .unwrap()
                .clone();
            camera.position = (pose.position[0], pose.position[1], pose.position[2]);
            (camera.yaw_deg, camera.pitch_deg, camera.hfov_deg) =
                (pose.yaw_deg, pose.pitch_deg, pose.hfov_deg);
            camera
        })
        .collect();
    scenario
}

/// The coverage the reports' model gives a scenario's cameras: walkable cells per DORI level,
/// the grid, and the best pixel density per cell.
fn levels(scenario: &Scenario) -> ([u64; 5], Grid, Vec<f32>) {
    let layout = crowdtwin_sites::load(scenario).unwrap().layout;
    let grid = Grid::of_site(&layout, scenario.placement.cell_size_m);
    let views: Vec<View> = scenario.cameras.iter().map(View::of).collect();
    let (best, _) = coverage_map(
        &grid,
        &views,
        &Occluders::from_layout(&layout),
        scenario.placement.head_height_m,
    );
    let mut counts = [0u64; 5];
    for (_, &ppm) in best.iter().enumerate().filter(|&(c, _)| grid.walkable[c]) {
        counts[dori_level(ppm) as usize] += 1;
    }
    (counts, grid, best)
}

#[test]
fn a_planner_moves_a_camera_onto_a_blind_spot_and_saves_a_scenario_check_accepts() {
    let dir = temp_dir("view");
    std::fs::create_dir_all(&dir).unwrap();
    // The small scenario with a privacy mask and a private zone, which the save must keep.
    let text = std::fs::read_to_string(root().join("tests/fixtures/small.ron")).unwrap();
    let text = text.replace(
        "            fps: 5,\n",
        "            fps: 5,\n            privacy_masks: [(0.0, 0.0, 0.15, 0.2)],\n",
    );
    let text = text.replace(
        "    render: (msaa: 1, shadows: false),",
        "    render: (msaa: 1, shadows: false),\n    placement: (private_zones: [(name: \"window\", min: (-13.0, 2.0, -10.0), max: (-11.0, 4.0, -9.0))]),",
    );
    let scenario_path = dir.join("site.ron");
    std::fs::write(&scenario_path, &text).unwrap();
    let scenario = Scenario::load(&scenario_path).unwrap();
    assert_eq!(
        scenario.placement.private_zones,
        vec![PrivateZoneSpec {
            name: "window".into(),
            min: (-13.0, 2.0, -10.0),
            max: (-11.0, 4.0, -9.0)
        }]
    );

    // A blind cell that the camera sees once it stands 8 m north of it, facing south.
    let (_, grid, before_best) = levels(&scenario);
    let original = scenario.cameras[0].clone();
    let target = (0..grid.walkable.len())
        .filter(|&c| grid.walkable[c] && dori_level(before_best[c]) == 0)
        .map(|c| grid.centre(c))
        .filter(|&[x, z]| x.abs() < 8.0 && z > 0.0 && z < 20.0)
        .find(|&[x, z]| {
            let mut moved = original.clone();
            (moved.position.0, moved.position.2, moved.yaw_deg) = (x, z - 8.0, 180.0);
            moved.position.1 += 0.5;
            let layout = crowdtwin_sites::load(&scenario).unwrap().layout;
            View::of(&moved)
                .sees(
                    [x, scenario.placement.head_height_m, z],
                    &Occluders::from_layout(&layout),
                )
                .is_some_and(|ppm| dori_level(ppm) >= 1)
        })
        .expect("a blind cell the moved camera covers");
    let (tx, tz) = (target[0], target[1] - 8.0);

    let script = format!(
        "[
            Wait(3), WaitCoverage, Measure(20), Dump(\"before.json\"), Screenshot(\"before.png\"),
            MoveToCamera(\"test\"), Press(Left), Wait(1), MoveTo({tx}, 0.0, {tz}), Wait(1), Release(Left),
            WaitCoverage, Dump(\"dragged.json\"),
            Tap(\"Tab\"), Tap(\"Tab\"), Tap(\"Tab\"), Tap(\"Tab\"), Type(\"180\"), Tap(\"Enter\"),
            Tap(\"PageUp\"), Tap(\"PageUp\"),
            Wait(2), WaitCoverage, Wait(2), Measure(10), Dump(\"after.json\"), Screenshot(\"after.png\"),
            Tap(\"KeyV\"), WaitMasked, Wait(2), Screenshot(\"masked.png\"), Wait(20), Dump(\"masked.json\"),
            Tap(\"KeyV\"), Wait(3), Screenshot(\"dori.png\"),
            Hold(\"ControlLeft\"), Tap(\"KeyS\"), Let(\"ControlLeft\"), Wait(2), Dump(\"saved.json\"),
            Exit,
        ]"
    );
    let saved = dir.join("edited.ron");
    run_view(
        &dir,
        &scenario_path,
        &script,
        &["--save", saved.to_str().unwrap()],
    );

    let before = dump(&dir, "before.json");
    assert_eq!(before.selected, None);
    assert_eq!(
        before.cameras[0].position,
        [
            original.position.0,
            original.position.1,
            original.position.2
        ]
    );
    assert!(before.measured_fps.is_some_and(|fps| fps > 0.0));
    // The overlay shows what the reports' coverage model computes, cell for cell by level.
    assert_eq!(before.overlay_revision, Some(before.revision));
    assert_eq!(
        before.overlay_cells_by_level,
        levels(&with_poses(&scenario, &before)).0
    );

    // The drag moved the camera's foot to the ground point under the pointer.
    let dragged = dump(&dir, "dragged.json");
    assert_eq!(dragged.selected.as_deref(), Some("test"));
    let [x, y, z] = dragged.cameras[0].position;
    assert!(
        (x - tx).abs() < 0.05 && (z - tz).abs() < 0.05,
        "dragged to ({x}, {z}), pointer at ({tx}, {tz})"
    );
    assert_eq!(y, original.position.1, "a drag keeps the height");

    // Exact yaw typed, height raised by two PageUp presses.
    let after = dump(&dir, "after.json");
    let pose = &after.cameras[0];
    assert_eq!(pose.yaw_deg, 180.0);
    assert_eq!(pose.position[1], original.position.1 + 0.5);
    assert_eq!(pose.pitch_deg, original.pitch_deg);
    assert_eq!(after.overlay_revision, Some(after.revision));
    let (expected, grid, best) = levels(&with_poses(&scenario, &after));
    assert_eq!(after.overlay_cells_by_level, expected);
    assert_ne!(
        after.overlay_cells_by_level, before.overlay_cells_by_level,
        "the coverage changed"
    );
    // Read from the overlay's texels: the spot was blind and is seen now, and the cells the
    // moved camera sees had blind texels before and have none now.
    let cell = grid.cell_at(target[0], target[1]).unwrap();
    assert_eq!(
        before.overlay_levels[cell], 0,
        "the spot was blind on screen"
    );
    assert!(
        (1..=4).contains(&after.overlay_levels[cell]),
        "the spot is seen on screen: {}",
        after.overlay_levels[cell]
    );
    assert!(dori_level(best[cell]) >= 1);
    let moved = with_poses(&scenario, &after);
    let layout = crowdtwin_sites::load(&moved).unwrap().layout;
    let footprint = cells_seen(
        &grid,
        &View::of(&moved.cameras[0]),
        &Occluders::from_layout(&layout),
        moved.placement.head_height_m,
        1,
    );
    assert!(
        footprint
            .iter()
            .any(|&c| before.overlay_levels[c as usize] == 0),
        "the new footprint had blind texels"
    );
    assert!(
        footprint
            .iter()
            .all(|&c| (1..=4).contains(&after.overlay_levels[c as usize])),
        "no blind texel in the footprint now"
    );
    let counted = after
        .footprint_cells_by_level
        .expect("a camera is selected");
    assert_eq!(counted.iter().sum::<u64>(), footprint.len() as u64);
    assert_eq!(counted[0], 0, "{counted:?}");
    assert!(after.overlay_latency_ms.is_some_and(|ms| ms > 0.0) && after.pip_fps.is_some());
    let largest = after.summary.as_ref().unwrap()["largest_blind_region_m2"]
        .as_f64()
        .unwrap();
    assert_eq!(
        after.largest_blind.map(|(_, area)| area),
        Some(largest),
        "the region B looks at is the summary's largest"
    );

    // The masked view came from the masking model, frame after frame.
    let masked = dump(&dir, "masked.json");
    assert_eq!(masked.pip_mode, "masked");
    assert!(masked.masked_frames >= 1, "{masked:?}");

    // Saved: `check` accepts it, and it reads back equal to the edited scenario.
    let saved_dump = dump(&dir, "saved.json");
    assert!(
        saved_dump.status.starts_with("saved"),
        "{}",
        saved_dump.status
    );
    let check = crowdtwin(&[
        "check",
        saved.to_str().unwrap(),
        "--map",
        dir.join("map.png").to_str().unwrap(),
    ]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // … and `crowdtwin run` takes it as it is: the moved camera renders and is scored.
    let run_dir = dir.join("run");
    let run = crowdtwin(&[
        "run",
        saved.to_str().unwrap(),
        "--out",
        run_dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let records = crowdtwin_reports::tables::read_all(&run_dir).unwrap();
    assert!(!records.frames.is_empty());
    let back = Scenario::load(&saved).unwrap();
    let mut edited = scenario.clone();
    edited.cameras[0].position = (pose.position[0], pose.position[1], pose.position[2]);
    edited.cameras[0].yaw_deg = pose.yaw_deg;
    edited.base_dir = back.base_dir.clone();
    assert_eq!(
        back, edited,
        "incidents, privacy masks, private zones and all kept"
    );

    // The screenshots are the window, and they differ.
    let shots: Vec<_> = ["before.png", "after.png", "dori.png", "masked.png"]
        .iter()
        .map(|n| {
            crowdtwin_reports::images::decode_png(&std::fs::read(dir.join(n)).unwrap()).unwrap()
        })
        .collect();
    assert!(shots.iter().all(|s| (s.width, s.height) == (960, 540)));
    assert_ne!(shots[0].pixels, shots[1].pixels);
    assert_ne!(
        shots[1].pixels, shots[2].pixels,
        "the DORI view differs from the raw one"
    );
    assert_ne!(
        shots[2].pixels, shots[3].pixels,
        "the masked view differs from the DORI one"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `crowdtwin view SCENARIO --script` under a fresh Xvfb with `script` and extra arguments;
/// panics with its stderr when it fails.
fn run_view(dir: &Path, scenario: &Path, script: &str, extra: &[&str]) {
    std::fs::write(dir.join("script.ron"), script).unwrap();
    let xvfb = Xvfb::start();
    let out = Command::new(env!("CARGO_BIN_EXE_crowdtwin"))
        .args(["view", scenario.to_str().unwrap(), "--script"])
        .arg(dir.join("script.ron"))
        .arg("--out")
        .arg(dir)
        .args(extra)
        .env("DISPLAY", &xvfb.display)
        .env_remove("WAYLAND_DISPLAY")
        .current_dir(root())
        .output()
        .unwrap();
    drop(xvfb);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn orbit_pan_zoom_blind_spot_add_delete_cycle_and_load_a_place_result_by_raw_input() {
    let dir = temp_dir("view-keys");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = root().join("tests/fixtures/small.ron");
    let scenario = Scenario::load(&fixture).unwrap();
    // A real `place` result for this site: two cameras chosen from its candidate views.
    let placed_dir = dir.join("placed");
    let place = crowdtwin(&[
        "place",
        fixture.to_str().unwrap(),
        "--out",
        placed_dir.to_str().unwrap(),
        "--budget",
        "2",
    ]);
    assert!(
        place.status.success(),
        "{}",
        String::from_utf8_lossy(&place.stderr)
    );
    let placed = Scenario::load(&placed_dir.join("scenario.ron")).unwrap();
    assert_eq!(placed.cameras.len(), 2);
    let saved = dir.join("edited.ron");
    run_view(
        &dir,
        &fixture,
        "[
            Wait(3), WaitCoverage, Dump(\"start.json\"),
            Move(480.0, 300.0), Wait(1), Press(Right), Wait(1), Move(540.0, 270.0), Wait(1), Release(Right), Wait(1), Dump(\"orbited.json\"),
            Press(Middle), Wait(1), Move(500.0, 300.0), Wait(1), Release(Middle), Wait(1), Dump(\"panned.json\"),
            Wheel(2.0), Wait(1), Dump(\"zoomed.json\"),
            Tap(\"KeyB\"), Wait(1), Dump(\"blind.json\"),
            Tap(\"KeyC\"), Wait(1), Dump(\"cycled.json\"),
            Tap(\"KeyN\"), Wait(1), WaitCoverage, Dump(\"added.json\"),
            Tap(\"Delete\"), Wait(1), WaitCoverage, Dump(\"deleted.json\"),
            Tap(\"KeyL\"), Wait(1), WaitCoverage, Dump(\"loaded.json\"),
            Hold(\"ControlLeft\"), Tap(\"KeyS\"), Let(\"ControlLeft\"), Wait(2), Dump(\"saved.json\"),
            Exit,
        ]",
        &[
            "--placed",
            placed_dir.join("scenario.ron").to_str().unwrap(),
            "--save",
            saved.to_str().unwrap(),
        ],
    );
    let start = dump(&dir, "start.json");
    // The overview renders at the default share of the 960×540 window.
    let scale = crowdtwin_view::DEFAULT_OVERVIEW_SCALE;
    assert_eq!(
        start.overview_image,
        Some([(960.0 * scale).round() as u32, (540.0 * scale).round() as u32])
    );
    // Picking maps the window into that image: the orbit's focus, at the centre of the
    // overview camera's image, is at the centre of the window.
    let [fx, fy] = start.focus_on_screen.expect("the focus is on screen");
    assert!(
        (fx - 480.0).abs() < 0.5 && (fy - 270.0).abs() < 0.5,
        "focus at ({fx}, {fy})"
    );
    // The overview draws every body part as a box; the full part only in a camera's view.
    let [both, camera_only, boxes] = start.body_meshes;
    assert!(
        both == 0 && camera_only > 0 && boxes == camera_only,
        "{:?}",
        start.body_meshes
    );
    let orbit = |d: &Dump| d.orbit.clone().expect("an overview camera");
    let close = |a: f32, b: f32| (a - b).abs() < 1e-4 * (1.0 + b.abs());
    let (o0, o1) = (orbit(&start), orbit(&dump(&dir, "orbited.json")));
    // Right-drag 60 px right and 30 px up: turns the view, keeps focus and distance.
    assert!(close(o1.yaw, o0.yaw - 60.0 * 0.006), "{o0:?} → {o1:?}");
    assert!(close(o1.pitch, o0.pitch - 30.0 * 0.006), "{o0:?} → {o1:?}");
    assert_eq!((o1.focus, o1.distance), (o0.focus, o0.distance));
    // Middle-drag: the focus slides over the ground; the view's angles stay.
    let o2 = orbit(&dump(&dir, "panned.json"));
    assert_eq!((o2.yaw, o2.pitch, o2.distance), (o1.yaw, o1.pitch, o1.distance));
    assert_ne!(o2.focus, o1.focus);
    assert_eq!(o2.focus[1], 0.0);
    // Two wheel lines in: 0.88² of the distance.
    let o3 = orbit(&dump(&dir, "zoomed.json"));
    assert!(close(o3.distance, o2.distance * 0.88 * 0.88), "{o2:?} → {o3:?}");
    // B: the view looks at the largest blind region's centroid.
    let blind = dump(&dir, "blind.json");
    let ([bx, bz], area) = blind.largest_blind.expect("the small site has a blind region");
    assert!(area > 0.0);
    assert_eq!(orbit(&blind).focus, [bx, 0.0, bz]);
    // C selects the first camera.
    let cycled = dump(&dir, "cycled.json");
    assert_eq!(cycled.selected.as_deref(), Some(scenario.cameras[0].id.as_str()));
    // N adds a camera at the view's centre, a copy of the selected one's settings; the overlay
    // counts it as the coverage model does.
    let added = dump(&dir, "added.json");
    assert_eq!(added.cameras.len(), scenario.cameras.len() + 1);
    let new = added.cameras.last().unwrap();
    assert_eq!(added.selected.as_deref(), Some(new.id.as_str()));
    assert_eq!(new.id, "cam-new-1");
    assert_eq!(
        new.position,
        [bx, scenario.cameras[0].position.1, bz],
        "at the focus, at the template's height"
    );
    let mut with_new = scenario.clone();
    let mut copy = scenario.cameras[0].clone();
    copy.id = new.id.clone();
    copy.position = (new.position[0], new.position[1], new.position[2]);
    copy.privacy_masks.clear();
    with_new.cameras.push(copy);
    assert_eq!(added.overlay_revision, Some(added.revision));
    assert_eq!(added.overlay_cells_by_level, levels(&with_new).0);
    // Delete removes it; the overlay is back to the scenario's own coverage.
    let deleted = dump(&dir, "deleted.json");
    assert_eq!(deleted.cameras, start.cameras);
    assert_eq!(deleted.selected, None);
    assert_eq!(deleted.overlay_revision, Some(deleted.revision));
    assert_eq!(deleted.overlay_cells_by_level, start.overlay_cells_by_level);
    // L loads the `place` result's cameras; the overlay shows their coverage.
    let loaded = dump(&dir, "loaded.json");
    assert!(loaded.status.starts_with("loaded 2 camera(s)"), "{}", loaded.status);
    let ids: Vec<_> = loaded.cameras.iter().map(|c| c.id.as_str()).collect();
    let placed_ids: Vec<_> = placed.cameras.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, placed_ids);
    assert_eq!(loaded.overlay_revision, Some(loaded.revision));
    let mut with_placed = scenario.clone();
    with_placed.cameras = placed.cameras.clone();
    assert_eq!(loaded.overlay_cells_by_level, levels(&with_placed).0);
    assert_ne!(loaded.overlay_cells_by_level, start.overlay_cells_by_level);
    // Saved: the scenario with the placed cameras, which `check` accepts.
    assert!(dump(&dir, "saved.json").status.starts_with("saved"));
    let back = Scenario::load(&saved).unwrap();
    assert_eq!(back.cameras, placed.cameras);
    let check = crowdtwin(&["check", saved.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_script_with_an_unknown_key_is_refused_before_any_window_opens() {
    let dir = temp_dir("view-bad-script");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("script.ron"), "[Wait(1),\n Tap(\"Hyper\")]").unwrap();
    let out = crowdtwin(&[
        "view",
        "tests/fixtures/small.ron",
        "--script",
        dir.join("script.ron").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown key `Hyper`"), "{stderr}");
    std::fs::write(dir.join("script.ron"), "[Wait(1),\n Jump(3)]").unwrap();
    let out = crowdtwin(&[
        "view",
        "tests/fixtures/small.ron",
        "--script",
        dir.join("script.ron").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("script.ron:2:"), "names the line: {stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
