//! GeoJSON sites: the same feature kinds as an OpenStreetMap import, one per GeoJSON feature,
//! told apart by `properties.kind` (the README's table gives the schema). Coordinates are WGS84
//! (RFC 7946: longitude, latitude) or local metres (x east, y north), as the scenario says.

use crate::features::{Building, CrossingPoint, Features, WideLine, parse_metres};
use crowdtwin_core::site::GeoOrigin;
use geo::{Coord, LineString, Polygon};
use serde_json::Value;

/// The kinds `properties.kind` may name.
pub const KINDS: &[&str] = &["walkable", "carriageway", "building", "steps", "crossing", "green", "tree", "bench", "street_lamp", "bus_stop", "shelter", "entrance"];

/// Reads a FeatureCollection into features; `project` maps a position to local (x, z) metres.
///
/// # Errors
/// Not GeoJSON, not a FeatureCollection, a feature without a known `kind`, a geometry that does
/// not fit its kind, or a non-finite number — named by feature index and field.
pub fn features(text: &str, project: &dyn Fn(&[f64]) -> Result<Coord, String>, storey_height_m: f64) -> Result<Features, String> {
    let collection: geojson::FeatureCollection = text.parse::<geojson::GeoJson>().map_err(|e| format!("not GeoJSON: {e}")).and_then(|g| geojson::FeatureCollection::try_from(g).map_err(|e| format!("not a FeatureCollection: {e}")))?;
    let mut f = Features::default();
    for (index, feature) in collection.features.iter().enumerate() {
        let source = format!("feature/{index}");
        let at = |field: &str, message: String| format!("features[{index}].{field}: {message}");
        let props = feature.properties.as_ref();
        let prop = |key: &str| props.and_then(|p| p.get(key));
        let kind = prop("kind").and_then(Value::as_str).ok_or_else(|| at("properties.kind", format!("missing; one of {}", KINDS.join(", "))))?;
        if !KINDS.contains(&kind) {
            return Err(at("properties.kind", format!("{kind:?} is not one of {}", KINDS.join(", "))));
        }
        let number = |key: &str| -> Result<Option<f64>, String> {
            match prop(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_f64().filter(|v| v.is_finite() && *v > 0.0).map(Some).ok_or_else(|| at(&format!("properties.{key}"), "must be a positive finite number".into())),
                Some(Value::String(s)) => parse_metres(s).map(Some).ok_or_else(|| at(&format!("properties.{key}"), format!("{s:?} is not a length"))),
                Some(other) => Err(at(&format!("properties.{key}"), format!("must be a number, got {other}"))),
            }
        };
        let geometry = feature.geometry.as_ref().ok_or_else(|| at("geometry", "missing".into()))?;
        let ring = |positions: &Vec<geojson::Position>| -> Result<LineString, String> { positions.iter().map(|p| project(p.as_slice())).collect::<Result<Vec<_>, _>>().map(LineString::from).map_err(|e| at("geometry", e)) };
        let mut polygons = Vec::new();
        let mut lines = Vec::new();
        let mut points = Vec::new();
        use geojson::GeometryValue as G;
        match &geometry.value {
            G::Point { coordinates } => points.push(project(coordinates.as_slice()).map_err(|e| at("geometry", e))?),
            G::MultiPoint { coordinates } => {
                for p in coordinates {
                    points.push(project(p.as_slice()).map_err(|e| at("geometry", e))?);
                }
            }
            G::LineString { coordinates } => lines.push(ring(coordinates)?),
            G::MultiLineString { coordinates } => {
                for l in coordinates {
                    lines.push(ring(l)?);
                }
            }
            G::Polygon { coordinates } => polygons.push(polygon(coordinates, &ring)?),
            G::MultiPolygon { coordinates } => {
                for p in coordinates {
                    polygons.push(polygon(p, &ring)?);
                }
            }
            G::GeometryCollection { .. } => return Err(at("geometry", "a GeometryCollection: give one feature per geometry".into())),
        }
        let wrong = |expected: &str| Err(at("geometry", format!("a `{kind}` must be {expected}")));
        let width = |default: f64| -> Result<f64, String> { Ok(number("width_m")?.unwrap_or(default)) };
        match kind {
            "walkable" | "green" if !polygons.is_empty() => {
                for p in polygons {
                    if kind == "walkable" {
                        if let Some(name) = prop("name").and_then(Value::as_str) {
                            use geo::Area;
                            f.squares.push((name.to_string(), p.unsigned_area()));
                        }
                        f.walk_areas.push((p, source.clone()));
                    } else {
                        f.green.push(p);
                    }
                }
                if !lines.is_empty() || !points.is_empty() {
                    return wrong("a Polygon or MultiPolygon");
                }
            }
            "walkable" if !lines.is_empty() => {
                let w = width(2.0)?;
                f.walk_lines.extend(lines.into_iter().map(|line| WideLine { line, width_m: w, sidewalk_m: 0.0, source: source.clone() }));
            }
            "steps" if !lines.is_empty() => {
                let w = width(2.0)?;
                f.steps.extend(lines.into_iter().map(|line| WideLine { line, width_m: w, sidewalk_m: 0.0, source: source.clone() }));
            }
            "carriageway" if !lines.is_empty() => {
                let (w, sidewalk) = (width(6.5)?, number("sidewalk_m")?.unwrap_or(0.0));
                f.carriageways.extend(lines.into_iter().map(|line| WideLine { line, width_m: w, sidewalk_m: sidewalk, source: source.clone() }));
            }
            "carriageway" if !polygons.is_empty() => f.carriageway_areas.extend(polygons),
            "building" if !polygons.is_empty() => {
                let height_m = match (number("height_m")?, number("levels")?) {
                    (Some(h), _) => h,
                    (None, Some(levels)) => levels * storey_height_m,
                    (None, None) => return Err(at("properties.height_m", "a building needs `height_m` or `levels`".into())),
                };
                f.buildings.extend(polygons.into_iter().map(|polygon| Building { polygon, height_m, source: source.clone() }));
            }
            "crossing" => {
                let ramps = match prop("ramps") {
                    None => true,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => return Err(at("properties.ramps", format!("must be true or false, got {other}"))),
                };
                let w = width(3.0)?;
                f.crossing_points.extend(points.into_iter().map(|at| CrossingPoint { at, ramps, source: source.clone() }));
                f.crossing_lines.extend(lines.into_iter().map(|line| (WideLine { line, width_m: w, sidewalk_m: 0.0, source: source.clone() }, ramps)));
                for p in polygons {
                    f.crossing_lines.push((WideLine { line: p.exterior().clone(), width_m: 0.0, sidewalk_m: 0.0, source: source.clone() }, ramps));
                }
            }
            "tree" | "bench" | "street_lamp" | "bus_stop" | "shelter" | "entrance" if !points.is_empty() => {
                for p in points {
                    match kind {
                        "tree" => f.trees.push(p),
                        "bench" => f.benches.push(p),
                        "street_lamp" => f.lamps.push(p),
                        "bus_stop" => f.stops.push((p, prop("shelter").and_then(Value::as_bool).unwrap_or(false))),
                        "shelter" => f.stops.push((p, true)),
                        _ => f.entrances.push(p),
                    }
                }
            }
            "walkable" | "green" | "building" => return wrong("a Polygon or MultiPolygon (walkable: or a LineString with width_m)"),
            "carriageway" | "steps" => return wrong("a LineString (with width_m) or, for carriageway, a Polygon"),
            _ => return wrong("a Point"),
        }
    }
    Ok(f)
}

fn polygon(rings: &[Vec<geojson::Position>], ring: &dyn Fn(&Vec<geojson::Position>) -> Result<LineString, String>) -> Result<Polygon, String> {
    let mut rings = rings.iter().map(ring);
    let exterior = rings.next().ok_or("a Polygon without rings")??;
    Ok(Polygon::new(exterior, rings.collect::<Result<Vec<_>, _>>()?))
}

/// The projection of a GeoJSON position: WGS84 about `origin`, or local metres (y north).
pub fn projector(origin: Option<GeoOrigin>, local: bool) -> impl Fn(&[f64]) -> Result<Coord, String> {
    move |p: &[f64]| {
        if p.len() < 2 || !p[0].is_finite() || !p[1].is_finite() {
            return Err(format!("position {p:?} must have two finite numbers"));
        }
        if local {
            return Ok(Coord { x: p[0], y: -p[1] });
        }
        if p[0].abs() > 180.0 || p[1].abs() > 90.0 {
            return Err(format!("position {p:?} is not (longitude, latitude) in degrees; set `coordinates: local` for metres"));
        }
        let [x, z] = origin.expect("WGS84 files have an origin").to_local(p[1], p[0]);
        Ok(Coord { x, y: z })
    }
}
