//! Imported sites end to end: the shipped Helsinki square against its OpenStreetMap polygon
//! (shapely), a crowd of 200 for 3 000 ticks on it, an L-shaped GeoJSON plan through crowd,
//! coverage and automatic candidates, determinism, and `check`.

use super::{crowdtwin, root, temp_dir, RENDERER};
use crowdtwin_core::scenario::Scenario;
use crowdtwin_core::site::{SiteLayout, Surface};
use crowdtwin_core::taxonomy::MobilityAid;
use std::collections::BTreeSet;

fn helsinki() -> Scenario {
    Scenario::load(&root().join("scenarios/helsinki-kaivopiha.ron")).unwrap()
}

/// Steps the scenario's crowd (no rendering) and checks every present person, every tick: on a
/// walkable surface, never inside a building, and wheelchair users never on steps. Returns the
/// distance each wheelchair user travelled and how many person-ticks were on steps.
fn walk(scenario: &Scenario, ticks: u64) -> (Vec<f32>, usize) {
    let persons = crowdtwin_agents::population::generate_population(scenario);
    let wheelchair: BTreeSet<u32> = persons.iter().filter(|p| p.demographics.mobility_aid == MobilityAid::Wheelchair).map(|p| p.id).collect();
    let mut crowd = crowdtwin::crowd::staged_crowd(scenario).unwrap();
    let layout: SiteLayout = crowd.layout().clone();
    let mut travelled = std::collections::BTreeMap::new();
    let mut last = std::collections::BTreeMap::new();
    let mut on_steps = 0;
    for tick in 0..ticks {
        crowd.step();
        for pose in crowd.poses().into_iter().filter(|p| p.present) {
            let (x, z) = (pose.position.x, pose.position.y);
            let surface = layout.surface(x, z);
            assert!(!layout.in_building(x, z), "tick {tick}: person {} inside a building at ({x:.2}, {z:.2})", pose.person);
            assert!(surface.walkable(), "tick {tick}: person {} off the walkable area at ({x:.2}, {z:.2}): {surface:?}", pose.person);
            if surface == Surface::Steps {
                assert!(!wheelchair.contains(&pose.person), "tick {tick}: wheelchair user {} on steps at ({x:.2}, {z:.2})", pose.person);
                on_steps += 1;
            }
            if wheelchair.contains(&pose.person) {
                if let Some(before) = last.insert(pose.person, pose.position) {
                    *travelled.entry(pose.person).or_insert(0.0) += pose.position.distance(before);
                }
            }
        }
    }
    (travelled.into_values().collect(), on_steps)
}

#[test]
fn the_shipped_square_imports_within_5_percent_of_its_osm_polygon() {
    let python = crowdtwin_core::python::interpreter().unwrap();
    let file = root().join("assets/sites/helsinki-centre.osm.pbf");
    let out = std::process::Command::new(python).arg(root().join("tools/osm/reference_area.py")).arg(&file).arg("122595203").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reference_m2 = reference["area_m2"].as_f64().unwrap();
    // The imported walkable cells inside Kaivopiha's polygon.
    let scenario = helsinki();
    let layout = crowdtwin_sites::load(&scenario).unwrap().layout;
    let data = crowdtwin_sites::osm::read(&file).unwrap();
    let origin = layout.origin.unwrap();
    let ring: Vec<[f32; 2]> = data.ways[&122595203].refs.iter().map(|r| {
        let [x, z] = origin.to_local(data.nodes[r].lat, data.nodes[r].lon);
        [x as f32, z as f32]
    }).collect();
    let crowdtwin_core::site::Ground::Map(map) = &layout.ground else { panic!("an import is a map") };
    let inside = (0..map.cells.len())
        .filter(|&k| {
            let (i, j) = (k % map.size.0, k / map.size.0);
            let (x, z) = (map.origin[0] + (i as f32 + 0.5) * map.cell_m, map.origin[1] + (j as f32 + 0.5) * map.cell_m);
            crowdtwin_core::site::point_in_ring(&ring, x, z) && Surface::from_u8(map.cells[k]).pedestrian(false)
        })
        .count() as f64
        * (map.cell_m * map.cell_m) as f64;
    assert!((inside - reference_m2).abs() / reference_m2 <= 0.05, "imported {inside:.1} m², OpenStreetMap polygon {reference_m2:.1} m² (shapely)");
}

#[test]
fn two_hundred_people_for_3000_ticks_stay_on_the_real_site_and_wheelchairs_avoid_steps() {
    let mut scenario = helsinki();
    scenario.population.count = 200;
    scenario.duration_s = 300.0;
    let layout = crowdtwin_sites::load(&scenario).unwrap().layout;
    let crowdtwin_core::site::Ground::Map(map) = &layout.ground else { panic!("an import is a map") };
    assert!(map.cells.iter().any(|&c| Surface::from_u8(c) == Surface::Steps), "the site has steps to avoid");
    let (travelled, on_steps) = walk(&scenario, 3000);
    assert!(travelled.len() >= 5, "wheelchair users on the site: {}", travelled.len());
    assert!(travelled.iter().filter(|&&d| d > 20.0).count() >= 3, "wheelchair users move: {travelled:?}");
    eprintln!("person-ticks on steps (on foot): {on_steps}");
}

#[test]
fn an_imported_site_and_its_crowd_are_deterministic() {
    let scenario = helsinki();
    let (a, b) = (crowdtwin_sites::load(&scenario).unwrap(), crowdtwin_sites::load(&scenario).unwrap());
    assert!(a.layout == b.layout && a.warnings == b.warnings);
    let poses = |s: &Scenario| {
        let mut crowd = crowdtwin::crowd::staged_crowd(s).unwrap();
        for _ in 0..150 {
            crowd.step();
        }
        crowd.poses().into_iter().map(|p| (p.person, p.present, p.position.x.to_bits(), p.position.y.to_bits())).collect::<Vec<_>>()
    };
    assert_eq!(poses(&scenario), poses(&scenario));
}

#[test]
fn an_l_shaped_geojson_site_passes_the_crowd_coverage_and_candidate_checks() {
    let mut scenario = Scenario::load(&root().join("tests/fixtures/l_site.ron")).unwrap();
    scenario.duration_s = 60.0;
    walk(&scenario, 600);
    let site = crowdtwin::coverage::SiteModel::of(&scenario).unwrap();
    // Coverage: the grid's walkable cells are the L (816 m², less furniture), the steps and
    // the crossings, nothing else.
    let geojson: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/osm/l_site.geojson")).unwrap()).unwrap();
    let origin = site.layout.origin.unwrap();
    let l: Vec<[f32; 2]> = geojson["features"][0]["geometry"]["coordinates"][0].as_array().unwrap().iter().map(|p| {
        let [x, z] = origin.to_local(p[1].as_f64().unwrap(), p[0].as_f64().unwrap());
        [x as f32, z as f32]
    }).collect();
    let cell_m2 = (site.grid.cell_m * site.grid.cell_m) as f64;
    let (mut in_l, mut elsewhere) = (0.0, Vec::new());
    for (index, _) in site.grid.walkable.iter().enumerate().filter(|(_, w)| **w) {
        let [x, z] = site.grid.centre(index);
        if crowdtwin_core::site::point_in_ring(&l, x, z) {
            in_l += cell_m2;
        } else {
            elsewhere.push(site.layout.surface(x, z));
        }
    }
    assert!((in_l - 816.0).abs() / 816.0 < 0.03, "walkable {in_l:.1} m² of the L's 816 m²");
    assert!(elsewhere.iter().all(|s| matches!(s, Surface::Steps | Surface::CrossingRamps | Surface::Crossing)), "{elsewhere:?}");
    let assessment = crowdtwin::coverage::assess(&scenario, &site, &scenario.cameras).unwrap();
    let json = serde_json::to_value(&assessment).unwrap();
    assert!(json.to_string().contains("detect"), "{json}");
    // Automatic candidates: on the two buildings' façades facing the L, and on the two lamps.
    let candidates = crowdtwin_reports::placement::auto_candidates(&site.layout, &scenario.cameras[0], 8.0);
    assert!(!candidates.is_empty());
    let lamps = &site.layout.lamps;
    for c in &candidates {
        let (x, z) = (c.position.0, c.position.2);
        let on_lamp = lamps.iter().any(|l| (l[0] - x).hypot(l[1] - z) < 1e-3);
        let on_facade = site.layout.footprints.iter().any(|f| f.edges().any(|(a, b)| distance(a, b, [x, z]) < 0.35));
        assert!(on_lamp || on_facade, "candidate {} at ({x:.1}, {z:.1}) is on neither a façade nor a lamp", c.id);
    }
    assert!(candidates.iter().any(|c| lamps.iter().any(|l| (l[0] - c.position.0).hypot(l[1] - c.position.2) < 1e-3)), "lamp posts are candidates");
    // `place` on it writes a scenario that loads where it is written.
    let out = temp_dir("l-place");
    let placed = crowdtwin(&["place", "tests/fixtures/l_site.ron", "--budget", "2", "--out", out.to_str().unwrap()]);
    assert!(placed.status.success(), "{}", String::from_utf8_lossy(&placed.stderr));
    let checked = crowdtwin(&["check", out.join("scenario.ron").to_str().unwrap(), "--map", out.join("map.png").to_str().unwrap()]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    // The chosen cameras and their coverage as GeoJSON next to the PNG map.
    let after: geojson::FeatureCollection = std::fs::read_to_string(out.join("coverage_after.geojson")).unwrap().parse().unwrap();
    let cameras = after.features.iter().filter(|f| f.properties.as_ref().is_some_and(|p| p["layer"] == "camera")).count();
    assert!((1..=2).contains(&cameras), "{cameras} cameras in coverage_after.geojson");
    let _ = std::fs::remove_dir_all(&out);
}

fn distance(a: [f32; 2], b: [f32; 2], p: [f32; 2]) -> f32 {
    let (dx, dz) = (b[0] - a[0], b[1] - a[1]);
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dz) / (dx * dx + dz * dz).max(1e-9)).clamp(0.0, 1.0);
    (a[0] + t * dx - p[0]).hypot(a[1] + t * dz - p[1])
}

#[test]
fn check_prints_what_was_imported_and_writes_the_site_map() {
    let out = temp_dir("check-map");
    std::fs::create_dir_all(&out).unwrap();
    let map = out.join("site.png");
    let checked = crowdtwin(&["check", "scenarios/helsinki-kaivopiha.ron", "--map", map.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(text.contains("Kaivopiha, Helsinki") && text.contains("© OpenStreetMap contributors"), "{text}");
    assert!(text.contains("15 buildings") && text.contains("16 trees"), "{text}");
    assert!(text.contains("footway without width: 2 m") && text.contains("way/"), "{text}");
    assert!(text.contains("camera `south-east` at (-10.5, 6.0, 46.0) m") && !text.contains("warning"), "{text}");
    let png = crowdtwin_reports::images::decode_png(&std::fs::read(&map).unwrap()).unwrap();
    assert!(png.width >= 1000 && png.height >= 700, "{}x{}", png.width, png.height);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_helsinki_square_runs_the_same_at_every_depth_with_geography_in_its_outputs() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let run = |depth: &str| {
        let out = temp_dir(&format!("helsinki-{depth}"));
        let run = crowdtwin(&["run", "scenarios/helsinki-kaivopiha.ron", "--seconds", "1", "--depth", depth, "--quiet", "--out", out.to_str().unwrap()]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let bytes: Vec<Vec<u8>> = ["observations.parquet", "persons.parquet", "frames.parquet", "alerts.parquet", "region_scores.parquet", "runs.parquet"]
            .iter()
            .map(|name| std::fs::read(out.join(name)).unwrap())
            .collect();
        (out, bytes)
    };
    let (out, a) = run("0");
    let (other, b) = run("2");
    let _ = std::fs::remove_dir_all(&other);
    assert!(a == b, "tables differ between depths 0 and 2");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["person_frames"].as_u64().unwrap() > 50, "{summary}");
    // The report names the place and credits OpenStreetMap.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Kaivopiha, Helsinki") && html.contains("© OpenStreetMap contributors"), "the report names neither the place nor the map's source");
    // Geography, read by real consumers: the runs and alerts tables (pyarrow), the coverage
    // map as GeoJSON (shapely builds every geometry; every position lies in the crop).
    let code = r#"
import json, sys
import pyarrow.parquet as pq
from shapely.geometry import shape
out = sys.argv[1]
run = pq.read_table(out + "/runs.parquet").to_pylist()[0]
alerts = pq.read_table(out + "/alerts.parquet").to_pylist()
fc = json.load(open(out + "/plots/coverage.geojson"))
assert fc["type"] == "FeatureCollection"
layers = {}
for f in fc["features"]:
    g = shape(f["geometry"])
    assert g.is_valid, f["properties"]
    minx, miny, maxx, maxy = g.bounds
    assert 24.9380 <= minx and maxx <= 24.9430 and 60.1685 <= miny and maxy <= 60.1706, (f["properties"], g.bounds)
    layers[f["properties"]["layer"]] = layers.get(f["properties"]["layer"], 0) + 1
print(json.dumps({"site": run["site"], "lat": run["origin_lat_deg"], "lon": run["origin_lon_deg"], "layers": layers,
                  "alerts": [[a["site_x_m"], a["site_z_m"], a["latitude_deg"], a["longitude_deg"]] for a in alerts]}))
"#;
    let reply: serde_json::Value = serde_json::from_str(&crowdtwin_core::python::run(code, &[out.to_str().unwrap()], "").unwrap()).unwrap();
    assert_eq!(reply["site"], "Kaivopiha, Helsinki");
    assert_eq!((reply["lat"].as_f64(), reply["lon"].as_f64()), (Some(60.1695841), Some(24.940563)));
    let layers = &reply["layers"];
    assert_eq!(layers["camera"], 3, "{layers}");
    assert!(layers["coverage"].as_u64().unwrap() >= 2 && layers["blind_spot"] == 1 && layers["footfall"].as_u64().unwrap() > 10, "{layers}");
    let origin = crowdtwin_core::site::GeoOrigin { lat_deg: 60.1695841, lon_deg: 24.940563 };
    for alert in reply["alerts"].as_array().unwrap() {
        let (Some(x), Some(z)) = (alert[0].as_f64(), alert[1].as_f64()) else { continue };
        let (lat, lon) = origin.to_wgs84(x, z);
        assert!((alert[2].as_f64().unwrap() - lat).abs() < 1e-9 && (alert[3].as_f64().unwrap() - lon).abs() < 1e-9, "{alert}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
