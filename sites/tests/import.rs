//! The importers on hand-written fixtures (tests/fixtures/osm): every feature kind, every repair
//! with its warning, XML and PBF alike; the projection against geodesic distances (geographiclib
//! in the project's Python environment); GeoJSON sites and their errors.

use crowdtwin_core::scenario::{GeoJsonCoordinates, GeoJsonSite, OsmSite, SiteSpec};
use crowdtwin_core::site::{GeoOrigin, Surface};
use crowdtwin_sites::{LoadedSite, load_spec};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/osm")
}

fn osm(file: &str) -> SiteSpec {
    SiteSpec::Osm(OsmSite { file: file.into(), bbox: Some((60.1699, 24.9398, 60.1706, 24.9416)), polygon: None, origin: None, name: None, storey_height_m: 3.0 })
}

fn load(spec: &SiteSpec) -> LoadedSite {
    load_spec(spec, &fixtures(), 1).unwrap()
}

fn warned(site: &LoadedSite, source: &str, words: &str) -> bool {
    site.warnings.iter().any(|w| w.source == source && w.message.contains(words))
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("small.expected.json")).unwrap()).unwrap()
}

#[test]
fn osm_xml_maps_every_feature_kind_and_names_every_repair() {
    let site = load(&osm("small.osm"));
    let want = &expected()["counts"];
    let count = |kind: &str| site.counts[kind] as u64;
    assert_eq!(count("walkable areas"), want["walkable_area"].as_u64().unwrap(), "{:?}", site.counts);
    assert_eq!(count("footways"), want["footway"].as_u64().unwrap());
    assert_eq!(count("steps"), want["steps"].as_u64().unwrap());
    assert_eq!(count("carriageways"), want["carriageway"].as_u64().unwrap());
    assert_eq!(count("buildings"), want["building"].as_u64().unwrap());
    assert_eq!(count("crossings"), want["crossing"].as_u64().unwrap());
    assert_eq!(count("entrances"), want["entrance"].as_u64().unwrap());
    assert_eq!(count("trees"), 1);
    assert_eq!(count("benches"), 1);
    assert_eq!(count("street lamps"), 1);
    assert_eq!(count("transit stops"), 1);
    // Each repair case, named by its element.
    assert!(warned(&site, "way/212", "1 of 3 node locations missing"), "{:#?}", site.warnings);
    assert!(warned(&site, "way/213", "unclosed ring"), "{:#?}", site.warnings);
    assert!(warned(&site, "way/214", "self-intersecting"), "{:#?}", site.warnings);
    assert!(warned(&site, "way/215", "skipped"), "{:#?}", site.warnings);
    assert!(warned(&site, "way/207", "without width"), "{:#?}", site.warnings);
    assert!(warned(&site, "way/211", "no `height` nor `building:levels`"), "{:#?}", site.warnings);
    // Heights: `height`, `building:levels` × 3 m, the default of 4 storeys.
    let height = |source: &str| site.layout.footprints.iter().find(|f| f.source == source).map(|f| f.height_m);
    assert_eq!(height("way/209"), Some(12.0));
    assert_eq!(height("way/210"), Some(12.0));
    assert_eq!(height("way/211"), Some(12.0));
    assert!(height("way/213").is_some(), "the unclosed building is imported");
    // Crossings: lowered kerb (n2) for wheelchairs, raised (n3) on foot only.
    let origin = site.layout.origin.unwrap();
    let at = |lat: f64, lon: f64| {
        let [x, z] = origin.to_local(lat, lon);
        (x as f32, z as f32)
    };
    let (x2, z2) = at(60.1700449, 24.9403603);
    let (x3, z3) = at(60.1700449, 24.9410808);
    assert_eq!(site.layout.surface(x2, z2), Surface::CrossingRamps);
    assert_eq!(site.layout.surface(x3, z3), Surface::Crossing);
    assert!(site.layout.is_pedestrian_area(x2, z2, 0.3, true));
    assert!(site.layout.is_pedestrian_area(x3, z3, 0.3, false) && !site.layout.is_pedestrian_area(x3, z3, 0.3, true));
    assert_eq!(site.layout.surface(x2 + 0.5 * (x3 - x2), z2), Surface::Carriageway, "between the crossings");
    assert!(site.layout.lamps.len() == 1 && site.layout.attribution.as_deref().is_some_and(|a| a.contains("OpenStreetMap")));
}

#[test]
fn osm_pbf_imports_exactly_what_the_xml_does() {
    let (xml, pbf) = (load(&osm("small.osm")), load(&osm("small.osm.pbf")));
    assert_eq!(xml.counts, pbf.counts);
    assert_eq!(xml.warnings, pbf.warnings);
    assert!(xml.layout == pbf.layout, "layouts differ");
}

#[test]
fn imported_areas_match_the_reference_and_the_raster_follows_them() {
    let site = load(&osm("small.osm"));
    let want = expected();
    let reference: f64 = want["features"].as_array().unwrap().iter().find(|f| f["osm_id"] == "w205").unwrap()["area_m2"].as_f64().unwrap();
    // The raster's walkway cells inside the square: its area within 2 % (0.1 m cells).
    let map = match &site.layout.ground {
        crowdtwin_core::site::Ground::Map(map) => map,
        _ => panic!("an import is a map"),
    };
    let data = crowdtwin_sites::osm::read(&fixtures().join("small.osm")).unwrap();
    let origin = site.layout.origin.unwrap();
    let ring: Vec<[f32; 2]> = data.ways[&205].refs.iter().map(|r| {
        let n = &data.nodes[r];
        let [x, z] = origin.to_local(n.lat, n.lon);
        [x as f32, z as f32]
    }).collect();
    let cell_area = (map.cell_m * map.cell_m) as f64;
    let inside: f64 = (0..map.cells.len())
        .filter(|&k| {
            let (i, j) = (k % map.size.0, k / map.size.0);
            let (x, z) = (map.origin[0] + (i as f32 + 0.5) * map.cell_m, map.origin[1] + (j as f32 + 0.5) * map.cell_m);
            crowdtwin_core::site::point_in_ring(&ring, x, z) && Surface::from_u8(map.cells[k]).pedestrian(false)
        })
        .count() as f64
        * cell_area;
    assert!((inside - reference).abs() / reference < 0.02, "raster {inside:.1} m² against {reference} m²");
}

/// Distances across the crop, projected, against WGS84 geodesics (geographiclib).
#[test]
fn projection_is_within_0_05_percent_of_geodesic_distances() {
    let origin = GeoOrigin { lat_deg: 60.169584, lon_deg: 24.940563 };
    // The shipped Helsinki crop's corners and edge midpoints, and a 1 km diagonal.
    let points = [(60.168866, 24.938582), (60.170302, 24.942544), (60.168866, 24.942544), (60.170302, 24.938582), (60.169584, 24.938582), (60.1650, 24.9300), (60.1740, 24.9500)];
    let mut pairs = Vec::new();
    for a in 0..points.len() {
        for b in a + 1..points.len() {
            pairs.push([points[a].0, points[a].1, points[b].0, points[b].1]);
        }
    }
    let python = crowdtwin_core::python::interpreter().unwrap();
    let mut child = std::process::Command::new(python)
        .arg(root().join("tools/osm/geodesic.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(serde_json::json!({ "pairs": pairs }).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let geodesic: Vec<f64> = reply["distances_m"].as_array().unwrap().iter().map(|d| d.as_f64().unwrap()).collect();
    let mut worst: f64 = 0.0;
    for (pair, reference) in pairs.iter().zip(&geodesic) {
        let (a, b) = (origin.to_local(pair[0], pair[1]), origin.to_local(pair[2], pair[3]));
        let local = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let error = (local - reference).abs() / reference;
        worst = worst.max(error);
        assert!(error < 5e-4, "{pair:?}: {local:.3} m projected, {reference:.3} m geodesic ({:.4} %)", error * 100.0);
    }
    assert!(worst > 0.0, "a projection that is exact everywhere is not being measured");
    // And back: local → WGS84 → local to a millimetre.
    let (lat, lon) = origin.to_wgs84(120.0, -75.0);
    let back = origin.to_local(lat, lon);
    assert!((back[0] - 120.0).abs() < 1e-3 && (back[1] + 75.0).abs() < 1e-3, "{back:?}");
}

#[test]
fn geojson_l_site_imports_with_its_kinds_and_bad_files_name_feature_and_field() {
    let spec = |file: &str| SiteSpec::Geojson(GeoJsonSite { file: file.into(), coordinates: GeoJsonCoordinates::Wgs84, origin: None, name: None });
    let site = load(&spec("l_site.geojson"));
    assert_eq!(site.counts["walkable areas"], 1);
    assert_eq!(site.counts["buildings"], 2);
    assert_eq!(site.counts["crossings"], 2);
    assert_eq!(site.counts["trees"], 2);
    assert_eq!(site.counts["street lamps"], 2);
    assert_eq!(site.layout.name.as_deref(), Some("L-shaped square"));
    assert!(site.layout.footprints.iter().all(|f| f.height_m == 15.0));
    let dir = std::env::temp_dir().join(format!("crowdtwin-sites-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap();
        load_spec(&spec(name), &dir, 1).unwrap_err()
    };
    let err = bad("kind.geojson", r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"kind": "fountain"}, "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}}]}"#);
    assert!(err.contains("kind.geojson") && err.contains("features[0].properties.kind") && err.contains("fountain"), "{err}");
    let err = bad("height.geojson", r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"kind": "building", "height_m": -3}, "geometry": {"type": "Polygon", "coordinates": [[[24.94, 60.17], [24.941, 60.17], [24.941, 60.171], [24.94, 60.17]]]}}]}"#);
    assert!(err.contains("features[0].properties.height_m"), "{err}");
    let err = bad("shape.geojson", r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"kind": "tree"}, "geometry": {"type": "LineString", "coordinates": [[24.94, 60.17], [24.941, 60.17]]}}]}"#);
    assert!(err.contains("features[0].geometry") && err.contains("a Point"), "{err}");
    let err = bad("garbage.geojson", "{ not json");
    assert!(err.contains("garbage.geojson") && err.contains("not GeoJSON"), "{err}");
    let err = load_spec(&osm("absent.osm.pbf"), &fixtures(), 1).unwrap_err();
    assert!(err.contains("absent.osm.pbf") && err.contains("cannot read"), "{err}");
    std::fs::write(dir.join("broken.osm"), "<osm><node id=\"1\" lat=\"60.17\" lon=\"inf\"/></osm>").unwrap();
    let err = load_spec(&osm("broken.osm"), &dir, 1).unwrap_err();
    assert!(err.contains("broken.osm") && err.contains("`lon` is not a finite number"), "{err}");
    std::fs::write(dir.join("broken.pbf"), [0u8, 0, 0, 9, 1, 2, 3]).unwrap();
    let err = load_spec(&osm("broken.pbf"), &dir, 1).unwrap_err();
    assert!(err.contains("broken.pbf") && err.contains("PBF"), "{err}");
    // A crop where the data is not.
    let elsewhere = SiteSpec::Osm(OsmSite { file: "small.osm".into(), bbox: Some((60.0, 24.0, 60.001, 24.002)), polygon: None, origin: None, name: None, storey_height_m: 3.0 });
    let err = load_spec(&elsewhere, &fixtures(), 1).unwrap_err();
    assert!(err.contains("small.osm") && err.contains("no walkable area"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real crop shipped beside the scenario's extract: ways cut at its edge lose node locations,
/// and the importer keeps what is there, naming each.
#[test]
fn a_real_crop_cut_at_its_edge_is_repaired_with_warnings_naming_the_ways() {
    let spec = SiteSpec::Osm(OsmSite { file: "helsinki-kaivopiha.osm.pbf".into(), bbox: Some((60.168866, 24.938582, 60.170302, 24.942544)), polygon: None, origin: None, name: None, storey_height_m: 3.0 });
    let site = load_spec(&spec, &root().join("assets/sites"), 1).unwrap();
    let cut = site.warnings.iter().filter(|w| w.message.contains("node locations missing (cut at the extract's edge)")).count();
    assert!(cut >= 10, "{cut} ways cut at the edge: {:#?}", site.warnings);
    assert!(site.warnings.iter().all(|w| w.source.starts_with("way/") || w.source.starts_with("relation/") || w.source.starts_with("node/")));
    assert_eq!(site.layout.name.as_deref(), Some("Ylioppilasaukio").or(site.layout.name.as_deref()));
    assert!(site.counts["buildings"] >= 10 && site.counts["trees"] == 16, "{:?}", site.counts);
}

