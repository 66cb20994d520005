//! From features to the site every part reads: the surface raster (painted in an order that
//! makes crossings cut carriageways and buildings cut everything), footprints with roofs,
//! furniture as obstacles, points of interest, lamps and crossings.

use crate::features::Features;
use crowdtwin_core::site::{Aabb, CrossingArea, Footprint, GeoOrigin, Ground, GroundMap, Obstacle, ObstacleKind, PoiKind, PointOfInterest, SiteLayout, Surface};
use geo::{Area, Buffer, Centroid, Coord, LineString, MultiPolygon, Polygon, TriangulateEarcut};

/// Raster cells at most (about 30 MB): larger sites get coarser cells than the 0.1 m default.
const MAX_CELLS: f64 = 30e6;

/// Builds the layout of imported `features` inside `extent` (x0, z0, x1, z1 local metres).
pub fn layout(features: &Features, extent: [f64; 4], origin: Option<GeoOrigin>, name: Option<String>, attribution: Option<String>, warnings: &mut Vec<crate::features::Warning>) -> SiteLayout {
    let area = (extent[2] - extent[0]) * (extent[3] - extent[1]);
    let cell_m = 0.1f64.max((area / MAX_CELLS).sqrt());
    let size = (((extent[2] - extent[0]) / cell_m).ceil() as usize, ((extent[3] - extent[1]) / cell_m).ceil() as usize);
    let mut raster = Raster { origin: [extent[0], extent[1]], cell_m, size, cells: vec![Surface::Off as u8; size.0 * size.1] };

    // Painting order: later layers win. Green under walkways; pavements of tagged roads under
    // the roads; crossings only over carriageway; buildings over all.
    for polygon in &features.green {
        raster.fill(polygon, |_| Some(Surface::Green));
    }
    for (polygon, _) in &features.walk_areas {
        raster.fill(polygon, |_| Some(Surface::Walkway));
    }
    for line in features.carriageways.iter().filter(|l| l.sidewalk_m > 0.0) {
        for polygon in widen(&line.line, line.width_m + 2.0 * line.sidewalk_m) {
            raster.fill(&polygon, |_| Some(Surface::Walkway));
        }
    }
    for line in &features.walk_lines {
        for polygon in widen(&line.line, line.width_m) {
            raster.fill(&polygon, |_| Some(Surface::Walkway));
        }
    }
    for line in &features.steps {
        for polygon in widen(&line.line, line.width_m) {
            raster.fill(&polygon, |_| Some(Surface::Steps));
        }
    }
    for polygon in &features.carriageway_areas {
        raster.fill(polygon, |_| Some(Surface::Carriageway));
    }
    for line in &features.carriageways {
        for polygon in widen(&line.line, line.width_m) {
            raster.fill(&polygon, |_| Some(Surface::Carriageway));
        }
    }
    let on_road = |crossing: Surface| move |s: Surface| (s == Surface::Carriageway).then_some(crossing);
    let mut crossings = Vec::new();
    for (line, ramps) in &features.crossing_lines {
        let surface = if *ramps { Surface::CrossingRamps } else { Surface::Crossing };
        // The crossing way runs over the road; its width is the zebra's.
        for polygon in widen(&line.line, line.width_m) {
            raster.fill(&polygon, on_road(surface));
            crossings.push(CrossingArea { rect: bounds_of(&polygon), ramps: *ramps });
        }
    }
    for point in &features.crossing_points {
        if !features.carriageways.iter().any(|road| road.line.0.windows(2).any(|w| segment_distance(point.at, w[0], w[1]) <= 0.5 * road.width_m + 0.5)) {
            warnings.push(crate::features::Warning { source: point.source.clone(), message: "crossing not on a carriageway: left out".into() });
            continue;
        }
        let surface = if point.ramps { Surface::CrossingRamps } else { Surface::Crossing };
        // A crossing node sits on the road's centre line: a zebra 4 m wide across the road.
        let along = road_direction(features, point.at);
        let across = Coord { x: -along.y, y: along.x };
        let half_width = road_half_width(features, point.at) + 0.5;
        let corner = |a: f64, b: f64| point.at + along * a + across * b;
        let zebra = Polygon::new(LineString::from(vec![corner(-2.0, -half_width), corner(2.0, -half_width), corner(2.0, half_width), corner(-2.0, half_width)]), vec![]);
        raster.fill(&zebra, on_road(surface));
        crossings.push(CrossingArea { rect: bounds_of(&zebra), ramps: point.ramps });
    }
    let mut footprints = Vec::new();
    for building in &features.buildings {
        raster.fill(&building.polygon, |_| Some(Surface::Building));
        let ring: Vec<[f32; 2]> = building.polygon.exterior().0.iter().take(building.polygon.exterior().0.len().saturating_sub(1)).map(|c| [c.x as f32, c.y as f32]).collect();
        if ring.len() < 3 {
            continue;
        }
        let mut footprint = Footprint::new(ring, building.height_m as f32, building.source.clone());
        let roof = Polygon::new(LineString::from(footprint.ring.iter().map(|p| Coord { x: p[0] as f64, y: p[1] as f64 }).collect::<Vec<_>>()), vec![]).earcut_triangles_raw();
        footprint.roof = roof.triangle_indices.chunks_exact(3).map(|t| [t[0] as u32, t[1] as u32, t[2] as u32]).collect();
        footprints.push(footprint);
    }
    let at = |c: Coord| [c.x as f32, c.y as f32];

    let mut obstacles = Vec::new();
    let mut pois = Vec::new();
    for tree in &features.trees {
        let [x, z] = at(*tree);
        obstacles.push(Obstacle { kind: ObstacleKind::Tree, bounds: Aabb { min: [x - 0.2, 0.0, z - 0.2], max: [x + 0.2, 5.5, z + 0.2] } });
    }
    for bench in &features.benches {
        let [x, z] = at(*bench);
        obstacles.push(Obstacle { kind: ObstacleKind::Bench, bounds: Aabb { min: [x - 0.9, 0.0, z - 0.3], max: [x + 0.9, 0.85, z + 0.3] } });
        pois.push(PointOfInterest { kind: PoiKind::Bench, position: [x, z + 0.9] });
    }
    for (stop, shelter) in &features.stops {
        let [x, z] = at(*stop);
        if *shelter {
            obstacles.push(Obstacle { kind: ObstacleKind::Shelter, bounds: Aabb { min: [x - 1.5, 0.0, z - 0.5], max: [x + 1.5, 2.6, z + 0.5] } });
        }
        pois.push(PointOfInterest { kind: PoiKind::TransitStop, position: [x, z + 1.2] });
    }
    // Furniture into the raster too, so walkability never loops over thousands of objects.
    for obstacle in &obstacles {
        let [x0, _, z0] = obstacle.bounds.min.map(f64::from);
        let [x1, _, z1] = obstacle.bounds.max.map(f64::from);
        raster.fill(&geo::Rect::new(Coord { x: x0, y: z0 }, Coord { x: x1, y: z1 }).to_polygon(), |s| (s != Surface::Building).then_some(Surface::Furniture));
    }
    let ground = GroundMap { origin: [raster.origin[0] as f32, raster.origin[1] as f32], cell_m: cell_m as f32, size, cells: raster.cells };
    let mut layout = SiteLayout {
        ground: Ground::Map(ground),
        obstacles,
        footprints,
        points_of_interest: Vec::new(),
        crossings,
        lamps: features.lamps.iter().map(|c| at(*c)).collect(),
        origin,
        name,
        attribution,
    };
    // Entrances: mapped ones, moved off the façade onto the nearest walkway; else the middle of
    // each building's longest façade that faces a walkway.
    let mut entrances: Vec<[f32; 2]> = features.entrances.iter().filter_map(|e| nearest_walkway(&layout, at(*e), 3.0)).collect();
    for footprint in &layout.footprints {
        let mapped = entrances.iter().any(|e| footprint.bounds.contains_ground(e[0], e[1], 3.0) && distance_to_ring(&footprint.ring, *e) < 3.0);
        if mapped {
            continue;
        }
        let facing = footprint
            .edges()
            .filter_map(|(a, b)| {
                let (dx, dz) = (b[0] - a[0], b[1] - a[1]);
                let length = (dx * dx + dz * dz).sqrt();
                // Counter-clockwise seen from above in (x east, z south): outward is (−dz, dx)/length.
                let mid = [0.5 * (a[0] + b[0]) - dz / length * 1.0, 0.5 * (a[1] + b[1]) + dx / length * 1.0];
                (length >= 3.0 && layout.is_pedestrian_area(mid[0], mid[1], 0.3, false)).then_some((length, mid))
            })
            .max_by(|p, q| p.0.total_cmp(&q.0));
        if let Some((_, mid)) = facing {
            entrances.push(mid);
        }
    }
    pois.extend(entrances.into_iter().map(|position| PointOfInterest { kind: PoiKind::Entrance, position }));
    // Open spots: the centre of each walkable area big enough to gather on.
    for (polygon, _) in &features.walk_areas {
        if polygon.unsigned_area() >= 100.0
            && let Some(c) = polygon.centroid()
            && layout.is_pedestrian_area(c.x() as f32, c.y() as f32, 1.0, false)
        {
            pois.push(PointOfInterest { kind: PoiKind::PlazaSpot, position: [c.x() as f32, c.y() as f32] });
        }
    }
    pois.retain(|p| layout.is_walkable(p.position[0], p.position[1], 0.25));
    layout.points_of_interest = pois;
    layout
}

/// A line widened to a polygon of the given full width, flat-ended.
fn widen(line: &LineString, width_m: f64) -> Vec<Polygon> {
    use geo::algorithm::buffer::{BufferStyle, LineCap, LineJoin};
    let style = BufferStyle::new(0.5 * width_m).line_cap(LineCap::Butt).line_join(LineJoin::Round(0.5));
    let widened: MultiPolygon = line.buffer_with_style(style);
    widened.0
}

fn bounds_of(polygon: &Polygon) -> [f32; 4] {
    polygon.exterior().0.iter().fold([f32::MAX, f32::MAX, f32::MIN, f32::MIN], |b, c| [b[0].min(c.x as f32), b[1].min(c.y as f32), b[2].max(c.x as f32), b[3].max(c.y as f32)])
}

/// Unit direction of the carriageway segment nearest to `at`.
fn road_direction(features: &Features, at: Coord) -> Coord {
    nearest_segment(features, at).map(|(a, b, _)| {
        let d = b - a;
        let l = (d.x * d.x + d.y * d.y).sqrt().max(1e-9);
        d / l
    }).unwrap_or(Coord { x: 1.0, y: 0.0 })
}

fn road_half_width(features: &Features, at: Coord) -> f64 {
    nearest_segment(features, at).map(|(_, _, w)| 0.5 * w).unwrap_or(3.5)
}

fn nearest_segment(features: &Features, at: Coord) -> Option<(Coord, Coord, f64)> {
    let mut best: Option<(f64, (Coord, Coord, f64))> = None;
    for road in &features.carriageways {
        for w in road.line.0.windows(2) {
            let d = segment_distance(at, w[0], w[1]);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, (w[0], w[1], road.width_m)));
            }
        }
    }
    best.map(|(_, s)| s)
}

fn segment_distance(p: Coord, a: Coord, b: Coord) -> f64 {
    let (d, q) = (b - a, p - a);
    let t = ((q.x * d.x + q.y * d.y) / (d.x * d.x + d.y * d.y).max(1e-12)).clamp(0.0, 1.0);
    let c = a + d * t;
    ((p.x - c.x).powi(2) + (p.y - c.y).powi(2)).sqrt()
}

fn distance_to_ring(ring: &[[f32; 2]], p: [f32; 2]) -> f32 {
    let c = |q: [f32; 2]| Coord { x: q[0] as f64, y: q[1] as f64 };
    (0..ring.len()).map(|i| segment_distance(c(p), c(ring[i]), c(ring[(i + 1) % ring.len()])) as f32).fold(f32::MAX, f32::min)
}

/// The walkway point nearest to `p` within `reach` metres (0.1 m steps), if any.
fn nearest_walkway(layout: &SiteLayout, p: [f32; 2], reach: f32) -> Option<[f32; 2]> {
    let steps = (reach / 0.1) as i32;
    let mut best: Option<(f32, [f32; 2])> = None;
    for j in -steps..=steps {
        for i in -steps..=steps {
            let q = [p[0] + i as f32 * 0.1, p[1] + j as f32 * 0.1];
            let d = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt();
            if d <= reach && best.is_none_or(|(bd, _)| d < bd) && layout.is_pedestrian_area(q[0], q[1], 0.3, false) {
                best = Some((d, q));
            }
        }
    }
    best.map(|(_, q)| q)
}

/// The surface raster being painted.
struct Raster {
    origin: [f64; 2],
    cell_m: f64,
    size: (usize, usize),
    cells: Vec<u8>,
}

impl Raster {
    /// Scan-line fill (even-odd over the exterior and holes) of the cells whose centres lie
    /// inside `polygon`; `paint` maps a cell's current surface to its new one (or keeps it).
    fn fill(&mut self, polygon: &Polygon, paint: impl Fn(Surface) -> Option<Surface>) {
        let rings: Vec<&LineString> = std::iter::once(polygon.exterior()).chain(polygon.interiors()).collect();
        let (mut z0, mut z1) = (f64::MAX, f64::MIN);
        for c in rings.iter().flat_map(|r| r.0.iter()) {
            z0 = z0.min(c.y);
            z1 = z1.max(c.y);
        }
        let row = |z: f64| ((z - self.origin[1]) / self.cell_m - 0.5).ceil().max(0.0) as usize;
        let (first, last) = (row(z0), row(z1).min(self.size.1));
        let mut xs = Vec::new();
        for j in first..last {
            let z = self.origin[1] + (j as f64 + 0.5) * self.cell_m;
            xs.clear();
            for ring in &rings {
                for w in ring.0.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    if (a.y > z) != (b.y > z) {
                        xs.push(a.x + (z - a.y) * (b.x - a.x) / (b.y - a.y));
                    }
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let column = |x: f64| ((x - self.origin[0]) / self.cell_m - 0.5).ceil().clamp(0.0, self.size.0 as f64) as usize;
                for i in column(pair[0])..column(pair[1]) {
                    let cell = &mut self.cells[j * self.size.0 + i];
                    if let Some(surface) = paint(Surface::from_u8(*cell)) {
                        *cell = surface as u8;
                    }
                }
            }
        }
    }
}
