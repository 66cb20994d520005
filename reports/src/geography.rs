//! Geography in the outputs: a coverage assessment as GeoJSON (RFC 7946, WGS84 longitude and
//! latitude), next to the PNG maps, so planners open it in QGIS or geojson.io over their own
//! base map. Written only for sites placed on Earth (an imported map, or a template `origin`).
//!
//! One FeatureCollection, each feature with a `layer` property:
//! * `coverage` — per DORI level reached (`level`: detect … identify), the cells at that best
//!   level merged into one MultiPolygon, with `area_m2`;
//! * `blind_spot` — walkable cells no camera sees at Detect, merged the same way;
//! * `footfall` — simulated person-seconds pooled over 2 m squares, as Points;
//! * `camera` — each camera's mount (Point: `id`, `height_m`, `yaw_deg`, `pitch_deg`, `hfov_deg`)
//!   and `view` — its view cone on the ground to 40 m (Polygon).

use crate::coverage::{dori_level, Grid, View, DORI};
use crowdtwin_core::site::GeoOrigin;
use geo::{Area, Coord, LineString, MultiPolygon, Polygon, Rect};
use geojson::{Feature, FeatureCollection, Geometry, Position};
use serde_json::json;
use std::collections::BTreeMap;

/// The coverage of `views` on `grid` (best pixel density per cell, footfall per cell) as a
/// GeoJSON FeatureCollection string, positions projected from local metres about `origin`.
pub fn coverage_geojson(grid: &Grid, best: &[f32], footfall: &[f64], views: &[View], origin: &GeoOrigin) -> String {
    let position = |x: f64, z: f64| -> Position {
        let (lat, lon) = origin.to_wgs84(x, z);
        Position::from(vec![(lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7])
    };
    let ring = |coords: &LineString| coords.0.iter().map(|c| position(c.x, c.y)).collect::<Vec<_>>();
    let polygon = |p: &Polygon| std::iter::once(ring(p.exterior())).chain(p.interiors().iter().map(ring)).collect::<Vec<_>>();
    let feature = |geometry: geojson::GeometryValue, properties: serde_json::Value| Feature {
        geometry: Some(Geometry::new(geometry)),
        properties: properties.as_object().cloned(),
        ..Default::default()
    };
    let mut features = Vec::new();
    // Cells by level, as row runs (few rectangles), merged by boolean union.
    for level in 0..=DORI.len() as u8 {
        let mut rects: Vec<Polygon> = Vec::new();
        for j in 0..grid.size.1 {
            let mut i = 0;
            while i < grid.size.0 {
                let at = |i: usize| j * grid.size.0 + i;
                if !(grid.walkable[at(i)] && dori_level(best[at(i)]) == level) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < grid.size.0 && grid.walkable[at(i)] && dori_level(best[at(i)]) == level {
                    i += 1;
                }
                let (x0, z0) = (grid.origin[0] as f64 + start as f64 * grid.cell_m as f64, grid.origin[1] as f64 + j as f64 * grid.cell_m as f64);
                let (x1, z1) = (grid.origin[0] as f64 + i as f64 * grid.cell_m as f64, z0 + grid.cell_m as f64);
                rects.push(Rect::new(Coord { x: x0, y: z0 }, Coord { x: x1, y: z1 }).to_polygon());
            }
        }
        if rects.is_empty() {
            continue;
        }
        let merged: MultiPolygon = geo::unary_union(rects.iter());
        let area_m2 = (merged.unsigned_area() * 100.0).round() / 100.0;
        let properties = if level == 0 {
            json!({ "layer": "blind_spot", "area_m2": area_m2 })
        } else {
            let (name, min) = DORI[level as usize - 1];
            json!({ "layer": "coverage", "level": name, "min_pixels_per_metre": min, "area_m2": area_m2 })
        };
        features.push(feature(geojson::GeometryValue::new_multi_polygon(merged.0.iter().map(polygon)), properties));
    }
    // Footfall pooled over 2 m squares.
    let pool = ((2.0 / grid.cell_m).round() as usize).max(1);
    let mut pooled: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for (index, &f) in footfall.iter().enumerate() {
        if f > 0.0 {
            *pooled.entry(((index % grid.size.0) / pool, (index / grid.size.0) / pool)).or_default() += f;
        }
    }
    for (&(i, j), &f) in &pooled {
        let side = pool as f64 * grid.cell_m as f64;
        let (x, z) = (grid.origin[0] as f64 + (i as f64 + 0.5) * side, grid.origin[1] as f64 + (j as f64 + 0.5) * side);
        features.push(feature(geojson::GeometryValue::new_point(position(x, z)), json!({ "layer": "footfall", "person_seconds": (f * 10.0).round() / 10.0 })));
    }
    for view in views {
        let m = &view.model;
        let [x, y, z] = m.position.map(|v| v as f64);
        let forward = m.ray(m.width as f32 * 0.5, m.height as f32 * 0.5);
        let yaw = (forward[0] as f64).atan2(-forward[2] as f64).to_degrees().rem_euclid(360.0);
        let pitch = (-forward[1] as f64).atan2((forward[0] as f64).hypot(forward[2] as f64)).to_degrees();
        let left = m.ray(0.0, m.height as f32 * 0.5);
        let hfov = 2.0 * ((left[0] * forward[0] + left[1] * forward[1] + left[2] * forward[2]) as f64 / ((left.iter().map(|v| v * v).sum::<f32>().sqrt() * forward.iter().map(|v| v * v).sum::<f32>().sqrt()) as f64)).clamp(-1.0, 1.0).acos().to_degrees();
        features.push(feature(
            geojson::GeometryValue::new_point(position(x, z)),
            json!({ "layer": "camera", "id": view.id, "height_m": (y * 100.0).round() / 100.0, "yaw_deg": (yaw * 10.0).round() / 10.0, "pitch_deg": (pitch * 10.0).round() / 10.0, "hfov_deg": (hfov * 10.0).round() / 10.0 }),
        ));
        let mut cone = vec![Coord { x, y: z }];
        for k in 0..=8 {
            let ray = m.ray(m.width as f32 * k as f32 / 8.0, m.height as f32 * 0.5);
            let horizontal = (ray[0] * ray[0] + ray[2] * ray[2]).sqrt().max(1e-6);
            cone.push(Coord { x: x + (ray[0] / horizontal * 40.0) as f64, y: z + (ray[2] / horizontal * 40.0) as f64 });
        }
        cone.push(Coord { x, y: z });
        features.push(feature(geojson::GeometryValue::new_polygon(polygon(&Polygon::new(LineString::from(cone), vec![]))), json!({ "layer": "view", "id": view.id, "range_m": 40.0 })));
    }
    FeatureCollection { features, bbox: None, foreign_members: None }.to_string()
}
