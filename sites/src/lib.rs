//! crowdtwin-sites: the site as data.
//!
//! One [`SiteLayout`] (in `crowdtwin-core`) is what renderer, crowd, navigation, incidents,
//! coverage and placement read. This crate makes it from a scenario's `site`:
//!
//! * `template(…)` — the procedural plaza ([`SiteLayout::template`]);
//! * `osm(…)` — an OpenStreetMap extract (PBF or XML, [`osm`]), cropped to a box or polygon,
//!   projected to the local frame ([`crowdtwin_core::site::GeoOrigin`]) and its tags mapped
//!   ([`features`]);
//! * `geojson(…)` — a plan as GeoJSON features ([`geojson_import`]).
//!
//! Imports are rasterised into a surface map and footprints by [`build`]. Every repair of an
//! imperfect extract is a [`features::Warning`] naming the element; nothing panics on bad data.

pub mod build;
pub mod features;
pub mod geojson_import;
pub mod osm;

use crowdtwin_core::scenario::{GeoJsonCoordinates, Scenario, SiteSpec};
use crowdtwin_core::site::{GeoOrigin, SiteLayout};
use features::{Features, Warning};
use geo::{BoundingRect, Coord, LineString, Polygon};
use std::collections::BTreeMap;
use std::path::Path;

/// The licence credit of OpenStreetMap data, shown wherever a map or figure from it is.
pub const OSM_ATTRIBUTION: &str = "© OpenStreetMap contributors (ODbL 1.0)";

/// A laid-out site and what its import found.
#[derive(Clone, Debug)]
pub struct LoadedSite {
    /// The site.
    pub layout: SiteLayout,
    /// Imported features per kind (empty for the template).
    pub counts: BTreeMap<&'static str, usize>,
    /// Repairs and skips, each naming its element.
    pub warnings: Vec<Warning>,
}

/// Lays out `scenario`'s site: the template, or the import its `site` names (files relative to
/// the scenario's folder).
///
/// # Errors
/// The file cannot be read or parsed (the message names it), or the crop holds no walkable area.
pub fn load(scenario: &Scenario) -> Result<LoadedSite, String> {
    load_spec(&scenario.site, &scenario.base_dir, scenario.seed)
}

/// [`load`] for a site spec, with `base_dir` for relative files.
///
/// # Errors
/// See [`load`].
pub fn load_spec(spec: &SiteSpec, base_dir: &Path, seed: u64) -> Result<LoadedSite, String> {
    match spec {
        SiteSpec::Template(site) => Ok(LoadedSite { layout: SiteLayout::template(site, seed), counts: BTreeMap::new(), warnings: Vec::new() }),
        SiteSpec::Osm(o) => {
            let path = base_dir.join(&o.file);
            let data = osm::read(&path)?;
            let crop_deg: Vec<(f64, f64)> = match (&o.bbox, &o.polygon) {
                (Some((s, w, n, e)), _) => vec![(*s, *w), (*s, *e), (*n, *e), (*n, *w)],
                (None, Some(p)) => p.clone(),
                (None, None) => return Err("site: give `bbox` or `polygon`".into()),
            };
            let origin = match o.origin {
                Some((lat_deg, lon_deg)) => GeoOrigin { lat_deg, lon_deg },
                None => {
                    let (lats, lons): (Vec<f64>, Vec<f64>) = crop_deg.iter().copied().unzip();
                    let mid = |v: &[f64]| 0.5 * (v.iter().copied().fold(f64::MAX, f64::min) + v.iter().copied().fold(f64::MIN, f64::max));
                    GeoOrigin { lat_deg: mid(&lats), lon_deg: mid(&lons) }
                }
            };
            let crop = Polygon::new(
                LineString::from(crop_deg.iter().map(|&(lat, lon)| {
                    let [x, z] = origin.to_local(lat, lon);
                    Coord { x, y: z }
                }).collect::<Vec<_>>()),
                vec![],
            );
            let features = features::from_osm(&data, &origin, &crop, o.storey_height_m as f64);
            let name = o.name.clone().or_else(|| largest_square(&features));
            finish(features, &crop, Some(origin), name, Some(OSM_ATTRIBUTION.into()), &path)
        }
        SiteSpec::Geojson(g) => {
            let path = base_dir.join(&g.file);
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let local = g.coordinates == GeoJsonCoordinates::Local;
            let mut origin = g.origin.map(|(lat_deg, lon_deg)| GeoOrigin { lat_deg, lon_deg });
            if !local && origin.is_none() {
                // The features' centre, from a first pass over the raw positions.
                let plain = geojson_import::projector(Some(GeoOrigin { lat_deg: 0.0, lon_deg: 0.0 }), true);
                let f = geojson_import::features(&text, &plain, 3.0).map_err(|e| format!("{}: {e}", path.display()))?;
                let r = all_coords(&f).bounding_rect().ok_or_else(|| format!("{}: no features", path.display()))?;
                origin = Some(GeoOrigin { lat_deg: -0.5 * (r.min().y + r.max().y), lon_deg: 0.5 * (r.min().x + r.max().x) });
            }
            let project = geojson_import::projector(origin, local);
            let features = geojson_import::features(&text, &project, 3.0).map_err(|e| format!("{}: {e}", path.display()))?;
            let r = all_coords(&features).bounding_rect().ok_or_else(|| format!("{}: no features", path.display()))?;
            let crop = geo::Rect::new(r.min() - Coord { x: 2.0, y: 2.0 }, r.max() + Coord { x: 2.0, y: 2.0 }).to_polygon();
            let name = g.name.clone().or_else(|| largest_square(&features));
            finish(features, &crop, origin, name, None, &path)
        }
    }
}

/// The largest side of a site, metres: a district, not a region (and a GeoJSON plan in metres
/// read as degrees would otherwise ask for a grid of the Earth's size).
pub const MAX_SIDE_M: f64 = 12_000.0;

fn finish(features: Features, crop: &Polygon, origin: Option<GeoOrigin>, name: Option<String>, attribution: Option<String>, path: &Path) -> Result<LoadedSite, String> {
    let r = crop.bounding_rect().ok_or("empty crop")?;
    let (width, height) = (r.max().x - r.min().x, r.max().y - r.min().y);
    if !(width <= MAX_SIDE_M && height <= MAX_SIDE_M) {
        return Err(format!(
            "{}: the site spans {width:.0} m × {height:.0} m, more than {MAX_SIDE_M:.0} m a side (a district, not a region){}",
            path.display(),
            if attribution.is_none() { "; are its coordinates metres? then say `coordinates: local`" } else { "" }
        ));
    }
    if let Some(o) = origin {
        let (cx, cz) = (0.5 * (r.min().x + r.max().x), 0.5 * (r.min().y + r.max().y));
        if cx.hypot(cz) > 20_000.0 {
            return Err(format!("{}: the origin ({:.6}, {:.6}) lies {:.0} km from the site's centre: give an origin in or near the site", path.display(), o.lat_deg, o.lon_deg, cx.hypot(cz) / 1000.0));
        }
    }
    let mut warnings = features.warnings.clone();
    let layout = build::layout(&features, [r.min().x, r.min().y, r.max().x, r.max().y], origin, name, attribution, &mut warnings);
    let walkable = match &layout.ground {
        crowdtwin_core::site::Ground::Map(map) => map.cells.iter().any(|&c| crowdtwin_core::site::Surface::from_u8(c).pedestrian(false)),
        crowdtwin_core::site::Ground::Template(_) => true,
    };
    if !walkable {
        return Err(format!("{}: the crop holds no walkable area (squares, pedestrian areas, footways): is the box where the data is?", path.display()));
    }
    Ok(LoadedSite { layout, counts: features.counts(), warnings })
}

fn largest_square(features: &Features) -> Option<String> {
    features.squares.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(name, _)| name.clone())
}

fn all_coords(f: &Features) -> geo::MultiPoint {
    let mut points: Vec<Coord> = Vec::new();
    points.extend(f.walk_areas.iter().flat_map(|(p, _)| p.exterior().0.iter().copied()));
    points.extend(f.buildings.iter().flat_map(|b| b.polygon.exterior().0.iter().copied()));
    points.extend(f.green.iter().flat_map(|p| p.exterior().0.iter().copied()));
    points.extend(f.carriageway_areas.iter().flat_map(|p| p.exterior().0.iter().copied()));
    for l in f.walk_lines.iter().chain(&f.steps).chain(&f.carriageways).chain(f.crossing_lines.iter().map(|(l, _)| l)) {
        points.extend(l.line.0.iter().copied());
    }
    points.extend(f.trees.iter().chain(&f.benches).chain(&f.lamps).chain(&f.entrances).copied());
    points.extend(f.stops.iter().map(|(c, _)| *c));
    points.extend(f.crossing_points.iter().map(|c| c.at));
    geo::MultiPoint::from(points)
}
