//! Feature kinds every import maps to (the site's vocabulary), and the OpenStreetMap tag mapping.
//!
//! Geometry is in local metres (x east, z south) as `geo` types with (x, y) = (x, z). Real
//! extracts are imperfect: each repair or skip is a [`Warning`] naming the element.

use crate::osm::{OsmData, Tags};
use crowdtwin_core::site::GeoOrigin;
use geo::{BooleanOps, Contains, Coord, LineString, MultiLineString, MultiPolygon, Point, Polygon, Validation};
use std::collections::BTreeMap;

/// A repair or a skip, naming the element (`way/123`, `node/4`, `relation/5`, `feature/2`).
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// The element.
    pub source: String,
    /// What was wrong and what was done.
    pub message: String,
}

/// A line with a width (footways, carriageways, steps).
#[derive(Clone, Debug)]
pub struct WideLine {
    /// Centre line.
    pub line: LineString,
    /// Full width, metres.
    pub width_m: f64,
    /// Pavement width on each side (carriageways tagged `sidewalk=*`), metres; 0 for none.
    pub sidewalk_m: f64,
    /// Where it came from.
    pub source: String,
}

/// A crossing point on a carriageway.
#[derive(Clone, Debug)]
pub struct CrossingPoint {
    /// Where the crossing node is.
    pub at: Coord,
    /// Dropped kerbs (wheelchairs cross here).
    pub ramps: bool,
    /// Where it came from.
    pub source: String,
}

/// A building.
#[derive(Clone, Debug)]
pub struct Building {
    /// Footprint.
    pub polygon: Polygon,
    /// Height, metres.
    pub height_m: f64,
    /// Where it came from.
    pub source: String,
}

/// Everything an import found, in local metres.
#[derive(Clone, Debug, Default)]
pub struct Features {
    /// Squares and pedestrian areas.
    pub walk_areas: Vec<(Polygon, String)>,
    /// Footways, pavements, paths and pedestrian streets mapped as lines.
    pub walk_lines: Vec<WideLine>,
    /// Steps (on foot only).
    pub steps: Vec<WideLine>,
    /// Carriageways.
    pub carriageways: Vec<WideLine>,
    /// Carriageway areas (`area:highway=<road>`).
    pub carriageway_areas: Vec<Polygon>,
    /// Crossings mapped as ways (`footway=crossing`), with their ramps.
    pub crossing_lines: Vec<(WideLine, bool)>,
    /// Crossings mapped as nodes.
    pub crossing_points: Vec<CrossingPoint>,
    /// Buildings.
    pub buildings: Vec<Building>,
    /// Grass and parks (drawn, not walked).
    pub green: Vec<Polygon>,
    /// Trees.
    pub trees: Vec<Coord>,
    /// Benches.
    pub benches: Vec<Coord>,
    /// Street lamps.
    pub lamps: Vec<Coord>,
    /// Transit stops: position and whether a shelter stands there.
    pub stops: Vec<(Coord, bool)>,
    /// Building entrances.
    pub entrances: Vec<Coord>,
    /// Named squares: name and area (m²), to name the place.
    pub squares: Vec<(String, f64)>,
    /// Repairs and skips.
    pub warnings: Vec<Warning>,
}

impl Features {
    /// Counts per kind, for `crowdtwin check` and tests.
    /// Elements cut into several parts (by the crop, or a repair) count once.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        fn distinct<'a>(sources: impl Iterator<Item = &'a String>) -> usize {
            sources.collect::<std::collections::BTreeSet<_>>().len()
        }
        BTreeMap::from([
            ("walkable areas", distinct(self.walk_areas.iter().map(|(_, s)| s))),
            ("footways", distinct(self.walk_lines.iter().map(|l| &l.source))),
            ("steps", distinct(self.steps.iter().map(|l| &l.source))),
            ("carriageways", distinct(self.carriageways.iter().map(|l| &l.source)) + self.carriageway_areas.len()),
            ("crossings", distinct(self.crossing_lines.iter().map(|(l, _)| &l.source)) + self.crossing_points.len()),
            ("buildings", distinct(self.buildings.iter().map(|b| &b.source))),
            ("green areas", self.green.len()),
            ("trees", self.trees.len()),
            ("benches", self.benches.len()),
            ("street lamps", self.lamps.len()),
            ("transit stops", self.stops.len()),
            ("entrances", self.entrances.len()),
        ])
    }

    fn warn(&mut self, source: &str, message: impl Into<String>) {
        self.warnings.push(Warning { source: source.to_string(), message: message.into() });
    }
}

/// Default widths (metres) of lines mapped without `width`.
pub fn default_width(highway: &str, tags: &Tags) -> f64 {
    match highway {
        "footway" if tags.get("footway").is_some_and(|f| f == "sidewalk") => 2.5,
        "footway" | "steps" | "corridor" => 2.0,
        "path" | "bridleway" => 1.5,
        "pedestrian" => 6.0,
        "living_street" => 5.0,
        "crossing" => 3.0,
        "motorway" | "trunk" => 12.0,
        "primary" => 10.0,
        "secondary" => 9.0,
        "tertiary" => 8.0,
        "residential" | "unclassified" | "road" => 6.5,
        "busway" => 7.0,
        "service" => 4.0,
        _ => 6.0,
    }
}

/// A length in metres from an OSM value (`3`, `3.5 m`, `3,5`); `None` when unreadable.
pub fn parse_metres(value: &str) -> Option<f64> {
    let v = value.trim().trim_end_matches('m').trim().replace(',', ".");
    v.parse::<f64>().ok().filter(|w| w.is_finite() && *w > 0.0 && *w < 1000.0)
}

/// Whether a crossing has dropped kerbs, from `kerb` (or `crossing:kerb`) and `wheelchair`.
pub fn ramps(tags: &Tags) -> Option<bool> {
    let kerb = tags.get("kerb").or_else(|| tags.get("crossing:kerb"));
    match kerb.map(String::as_str) {
        Some("lowered" | "flush" | "no") => return Some(true),
        Some("raised" | "rolled" | "yes") => return Some(false),
        _ => {}
    }
    match tags.get("wheelchair").map(String::as_str) {
        Some("yes" | "designated") => Some(true),
        Some("no") => Some(false),
        _ => None,
    }
}

const CARRIAGEWAYS: &[&str] =
    &["motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential", "service", "road", "busway", "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link"];
const WALKWAYS: &[&str] = &["footway", "path", "pedestrian", "living_street", "corridor", "bridleway"];

/// Whether an element lies under the street (tunnels, underground levels, indoor corridors):
/// the site is what cameras over the ground see.
fn below_ground(tags: &Tags) -> bool {
    tags.get("tunnel").is_some_and(|t| t != "no" && t != "building_passage")
        || tags.get("layer").and_then(|l| l.trim().parse::<i32>().ok()).is_some_and(|l| l < 0)
        || tags.get("level").and_then(|l| l.split(';').next()?.trim().parse::<f64>().ok()).is_some_and(|l| l < 0.0)
        || tags.contains_key("indoor")
}

/// What a closed way or multipolygon relation is, as an area.
#[derive(Clone, Copy)]
enum AreaKind {
    Building(f64),
    Walk,
    Carriageway,
    Green,
}

fn area_kind(tags: &Tags, storey_height_m: f64, source: &str, warnings: &mut Vec<Warning>) -> Option<AreaKind> {
    let get = |k: &str| tags.get(k).map(String::as_str);
    if get("building").is_some_and(|b| b != "no") {
        let height = match (get("height").map(parse_metres), get("building:levels").map(|l| parse_metres(l))) {
            (Some(Some(h)), _) => h,
            (_, Some(Some(levels))) => levels * storey_height_m,
            (height, levels) => {
                let why = if height.is_some() || levels.is_some() { "unreadable `height`/`building:levels`" } else { "no `height` nor `building:levels`" };
                warnings.push(Warning { source: source.into(), message: format!("building with {why}: taken as 4 storeys ({} m)", 4.0 * storey_height_m) });
                4.0 * storey_height_m
            }
        };
        return Some(AreaKind::Building(height));
    }
    let area_yes = get("area") == Some("yes");
    if matches!(get("highway"), Some("pedestrian" | "footway" | "living_street")) && area_yes || get("place") == Some("square") || matches!(get("area:highway"), Some("pedestrian" | "footway" | "living_street")) {
        return Some(AreaKind::Walk);
    }
    if get("area:highway").is_some_and(|h| CARRIAGEWAYS.contains(&h)) {
        return Some(AreaKind::Carriageway);
    }
    if matches!(get("landuse"), Some("grass" | "flowerbed" | "meadow")) || matches!(get("leisure"), Some("park" | "garden")) || matches!(get("natural"), Some("grass" | "scrub")) {
        return Some(AreaKind::Green);
    }
    None
}

/// The tag mapping of an OpenStreetMap extract, cropped to `crop` (a polygon of local metres)
/// and projected about `origin`.
pub fn from_osm(data: &OsmData, origin: &GeoOrigin, crop: &Polygon, storey_height_m: f64) -> Features {
    let mut f = Features::default();
    let local = |lat: f64, lon: f64| {
        let [x, z] = origin.to_local(lat, lon);
        Coord { x, y: z }
    };
    let coords: BTreeMap<i64, Coord> = data.nodes.iter().map(|(&id, n)| (id, local(n.lat, n.lon))).collect();
    // The coordinates of a way's present nodes, warning about the absent ones.
    let resolve = |id: i64, refs: &[i64], warnings: &mut Vec<Warning>| -> Vec<Coord> {
        let present: Vec<Coord> = refs.iter().filter_map(|r| coords.get(r).copied()).collect();
        if present.len() < refs.len() {
            warnings.push(Warning {
                source: format!("way/{id}"),
                message: format!("{} of {} node locations missing (cut at the extract's edge): kept the {} present", refs.len() - present.len(), refs.len(), present.len()),
            });
        }
        present
    };
    let crop_multi = MultiPolygon::new(vec![crop.clone()]);
    let mut carriageway_nodes: BTreeMap<i64, (Coord, f64)> = BTreeMap::new();

    for (&id, way) in &data.ways {
        let source = format!("way/{id}");
        let tags = &way.tags;
        if below_ground(tags) {
            continue;
        }
        let closed = way.refs.len() >= 4 && way.refs.first() == way.refs.last();
        let highway = tags.get("highway").map(String::as_str);
        let mut warnings = Vec::new();
        if let Some(kind) = area_kind(tags, storey_height_m, &source, &mut warnings).filter(|_| closed || tags.get("area").is_some_and(|a| a == "yes") || tags.contains_key("building") || tags.get("place").is_some_and(|p| p == "square") || tags.contains_key("area:highway")) {
            let mut ring = resolve(id, &way.refs, &mut warnings);
            ring.dedup();
            if ring.len() >= 2 && ring.first() == ring.last() {
                ring.pop();
            }
            if ring.len() < 3 {
                warnings.push(Warning { source: source.clone(), message: format!("area with {} usable nodes: skipped", ring.len()) });
                f.warnings.extend(warnings);
                continue;
            }
            if !closed && way.refs.first() != way.refs.last() {
                warnings.push(Warning { source: source.clone(), message: "unclosed ring (first node is not the last): closed it".into() });
            }
            f.warnings.extend(warnings);
            let polygons = repaired(Polygon::new(LineString::from(ring), vec![]), &source, &mut f);
            add_area(&mut f, kind, polygons, &crop_multi, &source, tags);
            continue;
        }
        f.warnings.extend(warnings);
        let Some(highway) = highway else { continue };
        let is_walk = WALKWAYS.contains(&highway);
        let is_road = CARRIAGEWAYS.contains(&highway);
        let is_steps = highway == "steps";
        if !(is_walk || is_road || is_steps) {
            continue;
        }
        let mut warnings = Vec::new();
        let mut line = resolve(id, &way.refs, &mut warnings);
        line.dedup();
        f.warnings.extend(warnings);
        if line.len() < 2 {
            f.warn(&source, format!("{highway} with {} usable nodes: skipped", line.len()));
            continue;
        }
        let crossing = is_walk && tags.get("footway").is_some_and(|v| v == "crossing");
        let default_kind = if crossing { "crossing" } else { highway };
        let width_m = match tags.get("width").map(|w| (w, parse_metres(w))) {
            Some((_, Some(w))) => w,
            Some((raw, None)) => {
                let w = default_width(default_kind, tags);
                f.warn(&source, format!("unreadable width {raw:?}: {w} m"));
                w
            }
            None => match tags.get("lanes").and_then(|l| parse_metres(l)).filter(|_| is_road) {
                Some(lanes) => 3.25 * lanes,
                None => {
                    let w = default_width(default_kind, tags);
                    f.warn(&source, format!("{default_kind} without width: {w} m"));
                    w
                }
            },
        };
        if is_road {
            let half = 0.5 * width_m;
            for (r, c) in way.refs.iter().filter_map(|r| coords.get(r).map(|c| (*r, *c))) {
                carriageway_nodes.insert(r, (c, half));
            }
        }
        let sidewalk_m = match tags.get("sidewalk").map(String::as_str) {
            Some("both" | "left" | "right" | "yes") if is_road => 2.5,
            _ => 0.0,
        };
        let clipped = crop_multi.clip(&MultiLineString::new(vec![LineString::from(line)]), false);
        for part in clipped.0.into_iter().filter(|l| l.0.len() >= 2) {
            let wide = WideLine { line: part, width_m, sidewalk_m, source: source.clone() };
            if crossing {
                let r = ramps(tags).or_else(|| way.refs.iter().filter_map(|n| data.nodes.get(n)).find_map(|n| ramps(&n.tags))).unwrap_or(true);
                f.crossing_lines.push((wide, r));
            } else if is_steps {
                f.steps.push(wide);
            } else if is_road {
                f.carriageways.push(wide);
            } else {
                f.walk_lines.push(wide);
            }
        }
    }

    for (&id, relation) in &data.relations {
        if relation.tags.get("type").map(String::as_str) != Some("multipolygon") {
            continue;
        }
        let source = format!("relation/{id}");
        let mut warnings = Vec::new();
        let Some(kind) = area_kind(&relation.tags, storey_height_m, &source, &mut warnings) else { continue };
        f.warnings.extend(warnings);
        let mut outer = Vec::new();
        let mut inner = Vec::new();
        for member in relation.members.iter().filter(|m| m.kind == "way") {
            let Some(way) = data.ways.get(&member.id) else {
                f.warn(&source, format!("member way/{} is not in the extract: left out", member.id));
                continue;
            };
            let mut w = Vec::new();
            let line = resolve(member.id, &way.refs, &mut w);
            f.warnings.extend(w);
            if member.role == "inner" { inner.push(line) } else { outer.push(line) }
        }
        let (outer, inner) = (assemble_rings(outer, &source, &mut f), assemble_rings(inner, &source, &mut f));
        let holes: Vec<LineString> = inner.into_iter().map(LineString::from).collect();
        for ring in outer {
            let polygons = repaired(Polygon::new(LineString::from(ring), holes.clone()), &source, &mut f);
            add_area(&mut f, kind, polygons, &crop_multi, &source, &relation.tags);
        }
    }

    for (&id, node) in &data.nodes {
        if node.tags.is_empty() {
            continue;
        }
        let at = coords[&id];
        if !crop.contains(&Point::from(at)) {
            continue;
        }
        let get = |k: &str| node.tags.get(k).map(String::as_str);
        match (get("natural"), get("amenity"), get("highway")) {
            (Some("tree"), _, _) => f.trees.push(at),
            (_, Some("bench"), _) => f.benches.push(at),
            (_, _, Some("street_lamp")) => f.lamps.push(at),
            (_, _, Some("bus_stop")) => f.stops.push((at, get("shelter") == Some("yes"))),
            (_, _, Some("crossing")) => {
                if carriageway_nodes.contains_key(&id) {
                    let r = ramps(&node.tags);
                    if r.is_none() {
                        f.warn(&format!("node/{id}"), "crossing without `kerb` or `wheelchair`: taken as dropped kerbs");
                    }
                    f.crossing_points.push(CrossingPoint { at, ramps: r.unwrap_or(true), source: format!("node/{id}") });
                }
            }
            _ => {}
        }
        if get("entrance").is_some() {
            f.entrances.push(at);
        }
    }
    // Repairs of elements that never reach the crop are not the site's: keep those that do.
    let inside = |node: &i64| coords.get(node).is_some_and(|c| crop.contains(&Point::from(*c)));
    let mut touching: std::collections::BTreeSet<String> = data.ways.iter().filter(|(_, w)| w.refs.iter().any(inside)).map(|(id, _)| format!("way/{id}")).collect();
    for (id, relation) in &data.relations {
        if relation.members.iter().any(|m| (m.kind == "way" && touching.contains(&format!("way/{}", m.id))) || (m.kind == "node" && inside(&m.id))) {
            touching.insert(format!("relation/{id}"));
        }
    }
    f.warnings.retain(|w| !(w.source.starts_with("way/") || w.source.starts_with("relation/")) || touching.contains(&w.source));
    f
}

/// A polygon made valid: a self-intersecting ring is resolved by `geo`'s boolean union (which
/// splits a bow-tie into its loops).
fn repaired(polygon: Polygon, source: &str, f: &mut Features) -> Vec<Polygon> {
    if polygon.is_valid() {
        return vec![polygon];
    }
    let fixed = geo::unary_union([&polygon]);
    f.warn(source, format!("invalid (self-intersecting) ring: repaired into {} polygon(s)", fixed.0.len()));
    fixed.0
}

fn add_area(f: &mut Features, kind: AreaKind, polygons: Vec<Polygon>, crop: &MultiPolygon, source: &str, tags: &Tags) {
    use geo::Area;
    for polygon in polygons {
        let clipped = MultiPolygon::new(vec![polygon]).intersection(crop);
        for part in clipped.0 {
            match kind {
                AreaKind::Building(height_m) => f.buildings.push(Building { polygon: part, height_m, source: source.to_string() }),
                AreaKind::Walk => {
                    if let Some(name) = tags.get("name") {
                        f.squares.push((name.clone(), part.unsigned_area()));
                    }
                    f.walk_areas.push((part, source.to_string()));
                }
                AreaKind::Carriageway => f.carriageway_areas.push(part),
                AreaKind::Green => f.green.push(part),
            }
        }
    }
}

/// Joins open member ways end to end into rings; a chain that does not close is closed with a warning.
fn assemble_rings(mut parts: Vec<Vec<Coord>>, source: &str, f: &mut Features) -> Vec<Vec<Coord>> {
    parts.retain(|p| p.len() >= 2);
    let mut rings = Vec::new();
    while let Some(mut ring) = (!parts.is_empty()).then(|| parts.remove(0)) {
        while ring.first() != ring.last() {
            let end = *ring.last().expect("non-empty");
            let Some(k) = parts.iter().position(|p| p.first() == Some(&end) || p.last() == Some(&end)) else {
                f.warn(source, "ring members do not close (cut at the extract's edge): closed it");
                break;
            };
            let mut next = parts.remove(k);
            if next.first() != Some(&end) {
                next.reverse();
            }
            ring.extend(next.into_iter().skip(1));
        }
        ring.dedup();
        if ring.len() >= 2 && ring.first() == ring.last() {
            ring.pop();
        }
        if ring.len() >= 3 {
            rings.push(ring);
        } else {
            f.warn(source, "a ring with fewer than 3 usable nodes: skipped");
        }
    }
    rings
}
