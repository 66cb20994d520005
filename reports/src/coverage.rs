//! What a set of cameras sees of a site: for every cell of the walkable area, the best pixel
//! density any camera reaches at head height with a clear line of sight, classified by the
//! DORI levels of IEC 62676-4; coverage by area and by footfall, redundancy, blind spots,
//! incident capture, districts and views into private zones. Geometry only — no rendering —
//! so thousands of candidate views can be scored.
//!
//! **Seen.** A cell is seen by a camera when the point at head height above its centre
//! projects inside the camera's frame, outside its privacy masks, in front of it, and the
//! straight line from the camera to it meets no occluder: building blocks, benches, tree trunks
//! and tree crowns (ellipsoids, as drawn), and the transit shelter (drawn opaque).
//! Its **pixel density** is the camera's focal length in pixels at the **sensor** resolution ÷
//! the distance along the camera's axis — the pixels a 1 m object facing the camera spans.

use crowdtwin_core::camera::CameraModel;
use crowdtwin_core::scenario::CameraSpec;
use crowdtwin_core::site::{Aabb, ObstacleKind, SiteLayout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The DORI levels of IEC 62676-4: name and minimum pixels per metre.
pub const DORI: [(&str, f32); 4] = [("detect", 25.0), ("observe", 62.0), ("recognise", 125.0), ("identify", 250.0)];

/// The DORI level of a pixel density: 0 below Detect, 1 Detect, 2 Observe, 3 Recognise, 4 Identify.
pub fn dori_level(pixels_per_metre: f32) -> u8 {
    DORI.iter().filter(|(_, min)| pixels_per_metre >= *min).count() as u8
}

/// The level named `name` (`detect`, `observe`, `recognise`, `identify`), 1–4.
pub fn level_named(name: &str) -> Option<u8> {
    DORI.iter().position(|(n, _)| *n == name).map(|i| i as u8 + 1)
}

/// What blocks a line of sight.
#[derive(Clone, Debug, Default)]
pub struct Occluders {
    boxes: Vec<Aabb>,
    /// Building prisms of imported sites: footprint ring (x, z), height and bounding box.
    prisms: Vec<(Vec<[f32; 2]>, f32, Aabb)>,
    /// (centre, radii) of tree crowns.
    ellipsoids: Vec<([f32; 3], [f32; 3])>,
}

/// Radii of a tree's crown (as the renderer draws it), centred on the top of the trunk.
pub const CROWN_RADII: [f32; 3] = [2.2, 1.8, 2.2];

impl Occluders {
    /// The site's occluders: every obstacle's box, and each tree's crown.
    pub fn from_layout(layout: &SiteLayout) -> Self {
        let mut occluders = Occluders::default();
        for obstacle in &layout.obstacles {
            match obstacle.kind {
                ObstacleKind::Tree => {
                    occluders.boxes.push(obstacle.bounds);
                    let c = obstacle.bounds.centre();
                    occluders.ellipsoids.push(([c[0], obstacle.bounds.max[1], c[2]], CROWN_RADII));
                }
                _ => occluders.boxes.push(obstacle.bounds),
            }
        }
        occluders.prisms = layout.footprints.iter().map(|f| (f.ring.clone(), f.height_m, f.bounds)).collect();
        occluders
    }

    /// Occluders from boxes alone (tests, and sites described another way).
    pub fn from_boxes(boxes: Vec<Aabb>) -> Self {
        Occluders { boxes, prisms: Vec::new(), ellipsoids: Vec::new() }
    }

    /// Whether the segment from `from` to `to` is blocked. The first 0.3 m (a camera mounted
    /// on a façade) and the last 0.2 m (a point on a surface) are not tested, and a box that
    /// contains `from` does not block: the renderer culls back faces, so a camera set just
    /// inside a wall sees out of it.
    pub fn blocks(&self, from: [f32; 3], to: [f32; 3]) -> bool {
        let d = [to[0] - from[0], to[1] - from[1], to[2] - from[2]];
        let length = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        if length < 0.5 {
            return false;
        }
        let (t0, t1) = (0.3 / length, 1.0 - 0.2 / length);
        let inside = |b: &Aabb| (0..3).all(|a| from[a] >= b.min[a] && from[a] <= b.max[a]);
        self.boxes.iter().any(|b| !inside(b) && segment_hits_box(from, d, b, t0, t1))
            || self.ellipsoids.iter().any(|&(c, r)| segment_hits_ellipsoid(from, d, c, r, t0, t1))
            || self.prisms.iter().any(|(ring, height, b)| segment_hits_box(from, d, b, t0, t1) && segment_hits_prism(from, d, ring, *height, t0, t1))
    }
}

/// Does `from + t·d`, t in [t0, t1], meet the prism of `ring` (x, z) from the ground to `height`?
/// The part of the segment below the roof is tested in plan: an end inside the ring, or a
/// crossing of one of its edges. A start inside the ring does not count (a façade mount).
fn segment_hits_prism(from: [f32; 3], d: [f32; 3], ring: &[[f32; 2]], height: f32, t0: f32, t1: f32) -> bool {
    let (mut low, mut high) = (t0, t1);
    if d[1].abs() < 1e-9 {
        if from[1] > height {
            return false;
        }
    } else {
        let t_roof = (height - from[1]) / d[1];
        if d[1] > 0.0 { high = high.min(t_roof) } else { low = low.max(t_roof) }
    }
    if low > high {
        return false;
    }
    let a = [from[0] + low * d[0], from[2] + low * d[2]];
    let b = [from[0] + high * d[0], from[2] + high * d[2]];
    if crowdtwin_core::site::point_in_ring(ring, b[0], b[1]) || low > t0 && crowdtwin_core::site::point_in_ring(ring, a[0], a[1]) {
        return true;
    }
    let cross = |o: [f32; 2], p: [f32; 2], q: [f32; 2]| (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0]);
    (0..ring.len()).any(|i| {
        let (p, q) = (ring[i], ring[(i + 1) % ring.len()]);
        let (d1, d2, d3, d4) = (cross(p, q, a), cross(p, q, b), cross(a, b, p), cross(a, b, q));
        (d1 > 0.0) != (d2 > 0.0) && (d3 > 0.0) != (d4 > 0.0)
    })
}

/// Slab test: does `from + t·d`, t in [t0, t1], meet the box?
fn segment_hits_box(from: [f32; 3], d: [f32; 3], b: &Aabb, t0: f32, t1: f32) -> bool {
    let (mut low, mut high) = (t0, t1);
    for axis in 0..3 {
        if d[axis].abs() < 1e-9 {
            if from[axis] < b.min[axis] || from[axis] > b.max[axis] {
                return false;
            }
            continue;
        }
        let (mut a, mut c) = ((b.min[axis] - from[axis]) / d[axis], (b.max[axis] - from[axis]) / d[axis]);
        if a > c {
            std::mem::swap(&mut a, &mut c);
        }
        low = low.max(a);
        high = high.min(c);
        if low > high {
            return false;
        }
    }
    true
}

/// Does `from + t·d`, t in [t0, t1], meet the ellipsoid?
fn segment_hits_ellipsoid(from: [f32; 3], d: [f32; 3], centre: [f32; 3], radii: [f32; 3], t0: f32, t1: f32) -> bool {
    // Scaled to the unit sphere: |o + t·v|² = 1.
    let o: Vec<f32> = (0..3).map(|i| (from[i] - centre[i]) / radii[i]).collect();
    let v: Vec<f32> = (0..3).map(|i| d[i] / radii[i]).collect();
    let a: f32 = v.iter().map(|x| x * x).sum();
    let b: f32 = 2.0 * o.iter().zip(&v).map(|(p, q)| p * q).sum::<f32>();
    let c: f32 = o.iter().map(|x| x * x).sum::<f32>() - 1.0;
    let discriminant = b * b - 4.0 * a * c;
    if discriminant < 0.0 || a < 1e-12 {
        return false;
    }
    let root = discriminant.sqrt();
    let (enter, exit) = ((-b - root) / (2.0 * a), (-b + root) / (2.0 * a));
    enter <= t1 && exit >= t0
}

/// One camera as the coverage model sees it.
#[derive(Clone, Debug)]
pub struct View {
    /// Camera id.
    pub id: String,
    /// Its model at the sensor resolution.
    pub model: CameraModel,
    /// Privacy masks: rectangles (u0, v0, u1, v1) in fractions of the frame, never seen.
    pub privacy_masks: Vec<(f32, f32, f32, f32)>,
}

impl View {
    /// The view of a scenario camera.
    pub fn of(spec: &CameraSpec) -> Self {
        View { id: spec.id.clone(), model: CameraModel::new(spec, spec.sensor_resolution), privacy_masks: spec.privacy_masks.clone() }
    }

    /// Pixels per metre at `point` when this camera sees it (in frame, not masked, line of
    /// sight clear), else `None`.
    pub fn sees(&self, point: [f32; 3], occluders: &Occluders) -> Option<f32> {
        let [u, v, depth] = self.model.project(point)?;
        let (w, h) = (self.model.width as f32, self.model.height as f32);
        if !(0.0..w).contains(&u) || !(0.0..h).contains(&v) {
            return None;
        }
        let (fu, fv) = (u / w, v / h);
        if self.privacy_masks.iter().any(|&(u0, v0, u1, v1)| fu >= u0 && fu <= u1 && fv >= v0 && fv <= v1) {
            return None;
        }
        if occluders.blocks(self.model.position, point) {
            return None;
        }
        Some(self.model.focal_px / depth)
    }
}

/// The walkable area as a grid of square cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Site (x, z) of the corner of cell (0, 0).
    pub origin: [f32; 2],
    /// Cell edge, metres.
    pub cell_m: f32,
    /// Cells along x and z.
    pub size: (usize, usize),
    /// Whether each cell's centre is where pedestrians walk (row-major, z rows).
    pub walkable: Vec<bool>,
}

impl Grid {
    /// The pedestrian area of `layout` (plaza, pavements, crossings — not the carriageway nor
    /// inside obstacles) in cells of `cell_m`.
    pub fn of_site(layout: &SiteLayout, cell_m: f32) -> Self {
        let [x0, z0, x1, z1] = layout.extent();
        let size = (((x1 - x0) / cell_m).ceil() as usize, ((z1 - z0) / cell_m).ceil() as usize);
        let origin = [x0, z0];
        let mut grid = Grid { origin, cell_m, size, walkable: Vec::with_capacity(size.0 * size.1) };
        for index in 0..size.0 * size.1 {
            let [x, z] = grid.centre(index);
            grid.walkable.push(layout.is_pedestrian_area(x, z, 0.0, false));
        }
        grid
    }

    /// A grid where every cell of the rectangle is walkable (tests, open ground).
    pub fn open(origin: [f32; 2], cell_m: f32, size: (usize, usize)) -> Self {
        Grid { origin, cell_m, size, walkable: vec![true; size.0 * size.1] }
    }

    /// Site (x, z) of a cell's centre.
    pub fn centre(&self, index: usize) -> [f32; 2] {
        let (i, j) = (index % self.size.0, index / self.size.0);
        [self.origin[0] + (i as f32 + 0.5) * self.cell_m, self.origin[1] + (j as f32 + 0.5) * self.cell_m]
    }

    /// The cell containing site (x, z), if inside the grid.
    pub fn cell_at(&self, x: f32, z: f32) -> Option<usize> {
        let (i, j) = (((x - self.origin[0]) / self.cell_m).floor(), ((z - self.origin[1]) / self.cell_m).floor());
        (i >= 0.0 && j >= 0.0 && (i as usize) < self.size.0 && (j as usize) < self.size.1).then(|| j as usize * self.size.0 + i as usize)
    }

    /// Area of one cell, m².
    pub fn cell_area(&self) -> f64 {
        (self.cell_m * self.cell_m) as f64
    }
}

/// For each cell, the best pixel density over `views` and how many views see it at Detect or
/// better; cells that are not walkable get 0.
pub fn coverage_map(grid: &Grid, views: &[View], occluders: &Occluders, head_height_m: f32) -> (Vec<f32>, Vec<u16>) {
    let mut best = vec![0.0f32; grid.walkable.len()];
    let mut seen_by = vec![0u16; grid.walkable.len()];
    for (index, &walkable) in grid.walkable.iter().enumerate() {
        if !walkable {
            continue;
        }
        let [x, z] = grid.centre(index);
        for view in views {
            if let Some(ppm) = view.sees([x, head_height_m, z], occluders) {
                best[index] = best[index].max(ppm);
                seen_by[index] += u16::from(ppm >= DORI[0].1);
            }
        }
    }
    (best, seen_by)
}

/// The cells one view sees at `level` or better (walkable cells only).
pub fn cells_seen(grid: &Grid, view: &View, occluders: &Occluders, head_height_m: f32, level: u8) -> Vec<u32> {
    (0..grid.walkable.len())
        .filter(|&index| grid.walkable[index])
        .filter(|&index| {
            let [x, z] = grid.centre(index);
            view.sees([x, head_height_m, z], occluders).is_some_and(|ppm| dori_level(ppm) >= level)
        })
        .map(|index| index as u32)
        .collect()
}

/// [`cells_seen`] for every view, spread over the machine's cores (scoped threads, each taking
/// a contiguous run of views): the result is in view order whatever the thread count.
pub fn cells_seen_by_each(grid: &Grid, views: &[View], occluders: &Occluders, head_height_m: f32, level: u8) -> Vec<Vec<u32>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(views.len().max(1));
    let chunk = views.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = views
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|view| cells_seen(grid, view, occluders, head_height_m, level)).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a coverage worker panicked")).collect()
    })
}

/// A district's share of what the cameras see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistrictCoverage {
    /// District name.
    pub name: String,
    /// Walkable area, m².
    pub walkable_m2: f64,
    /// Share of it seen at Observe or better.
    pub observe_share: f64,
    /// Person-seconds spent in it.
    pub person_seconds: f64,
    /// Person-seconds spent in cells seen at Observe or better.
    pub person_seconds_observed: f64,
    /// observed ÷ spent ("watchedness"); `None` when nobody was there.
    pub watchedness: Option<f64>,
}

/// A view into a declared private zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivateView {
    /// Camera id.
    pub camera: String,
    /// Zone name.
    pub zone: String,
    /// Share of the zone's sample points the camera sees at Detect or better.
    pub share_seen: f64,
    /// Best pixel density on it.
    pub max_pixels_per_metre: f64,
}

/// Everything the coverage model says about a placement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// Cell edge, metres.
    pub cell_m: f64,
    /// Walkable area, m².
    pub walkable_m2: f64,
    /// Per DORI level (detect, observe, recognise, identify): share of the walkable area seen at
    /// that level or better.
    pub area_share: BTreeMap<String, f64>,
    /// The same, weighted by footfall (person-seconds per cell); empty without footfall.
    pub footfall_share: BTreeMap<String, f64>,
    /// Share of the walkable area seen by two or more cameras at Detect or better.
    pub redundancy_share: f64,
    /// Walkable area seen by no camera at Detect or better, m².
    pub blind_m2: f64,
    /// The largest connected blind region, m².
    pub largest_blind_region_m2: f64,
    /// Person-seconds on the site (footfall).
    pub person_seconds: f64,
    /// Person-seconds in cells seen at Observe or better: the placement's privacy cost.
    pub person_seconds_observed: f64,
    /// Per district.
    pub districts: Vec<DistrictCoverage>,
    /// Largest minus smallest district watchedness; `None` with fewer than two districts with people.
    pub watchedness_gap: Option<f64>,
    /// Views into private zones.
    pub private_views: Vec<PrivateView>,
}

/// A district: a name and a site rectangle (x0, z0, x1, z1).
pub type District = (String, [f32; 4]);

/// The first district whose rectangle holds (x, z), edges half-open ([x0, x1) × [z0, z1)) so a
/// cell on a shared edge belongs to one district only.
pub fn district_at(districts: &[[f32; 4]], x: f32, z: f32) -> Option<usize> {
    districts.iter().position(|&[x0, z0, x1, z1]| x >= x0 && x < x1 && z >= z0 && z < z1)
}

/// Summarises a coverage map. `footfall` (person-seconds per cell) may be empty.
pub fn summarise(grid: &Grid, best: &[f32], seen_by: &[u16], footfall: &[f64], districts: &[District]) -> CoverageSummary {
    let area = grid.cell_area();
    let walkable: Vec<usize> = (0..best.len()).filter(|&i| grid.walkable[i]).collect();
    let walkable_m2 = walkable.len() as f64 * area;
    let share = |weight: &dyn Fn(usize) -> f64, level: u8| {
        let total: f64 = walkable.iter().map(|&i| weight(i)).sum();
        let seen: f64 = walkable.iter().filter(|&&i| dori_level(best[i]) >= level).map(|&i| weight(i)).sum();
        if total > 0.0 { seen / total } else { 0.0 }
    };
    let mut area_share = BTreeMap::new();
    let mut footfall_share = BTreeMap::new();
    let has_footfall = footfall.iter().any(|&f| f > 0.0);
    for (level, (name, _)) in DORI.iter().enumerate() {
        area_share.insert(name.to_string(), share(&|_| 1.0, level as u8 + 1));
        if has_footfall {
            footfall_share.insert(name.to_string(), share(&|i| footfall[i], level as u8 + 1));
        }
    }
    let blind: Vec<bool> = (0..best.len()).map(|i| grid.walkable[i] && dori_level(best[i]) == 0).collect();
    let observed = |i: usize| dori_level(best[i]) >= 2;
    let footfall_at = |i: usize| footfall.get(i).copied().unwrap_or(0.0);
    let rects: Vec<[f32; 4]> = districts.iter().map(|d| d.1).collect();
    let districts: Vec<DistrictCoverage> = districts
        .iter()
        .enumerate()
        .map(|(d, (name, _))| {
            let cells: Vec<usize> = walkable
                .iter()
                .copied()
                .filter(|&i| {
                    let [x, z] = grid.centre(i);
                    district_at(&rects, x, z) == Some(d)
                })
                .collect();
            let person_seconds: f64 = cells.iter().map(|&i| footfall_at(i)).sum();
            let person_seconds_observed: f64 = cells.iter().filter(|&&i| observed(i)).map(|&i| footfall_at(i)).sum();
            DistrictCoverage {
                name: name.clone(),
                walkable_m2: cells.len() as f64 * area,
                observe_share: if cells.is_empty() { 0.0 } else { cells.iter().filter(|&&i| observed(i)).count() as f64 / cells.len() as f64 },
                person_seconds,
                person_seconds_observed,
                watchedness: (person_seconds > 0.0).then(|| person_seconds_observed / person_seconds),
            }
        })
        .collect();
    let watched: Vec<f64> = districts.iter().filter_map(|d| d.watchedness).collect();
    CoverageSummary {
        cell_m: grid.cell_m as f64,
        walkable_m2,
        area_share,
        footfall_share,
        redundancy_share: if walkable.is_empty() { 0.0 } else { walkable.iter().filter(|&&i| seen_by[i] >= 2).count() as f64 / walkable.len() as f64 },
        blind_m2: blind.iter().filter(|&&b| b).count() as f64 * area,
        largest_blind_region_m2: largest_region(grid, &blind) as f64 * area,
        person_seconds: walkable.iter().map(|&i| footfall_at(i)).sum(),
        person_seconds_observed: walkable.iter().filter(|&&i| observed(i)).map(|&i| footfall_at(i)).sum(),
        districts,
        watchedness_gap: (watched.len() >= 2).then(|| watched.iter().cloned().fold(f64::MIN, f64::max) - watched.iter().cloned().fold(f64::MAX, f64::min)),
        private_views: Vec::new(),
    }
}

/// Cells in the largest 4-connected set of `marked` cells.
fn largest_region(grid: &Grid, marked: &[bool]) -> usize {
    let mut visited = vec![false; marked.len()];
    let mut largest = 0;
    for start in 0..marked.len() {
        if !marked[start] || visited[start] {
            continue;
        }
        let (mut stack, mut size) = (vec![start], 0);
        visited[start] = true;
        while let Some(cell) = stack.pop() {
            size += 1;
            let (i, j) = (cell % grid.size.0, cell / grid.size.0);
            let mut neighbours = Vec::with_capacity(4);
            if i > 0 {
                neighbours.push(cell - 1);
            }
            if i + 1 < grid.size.0 {
                neighbours.push(cell + 1);
            }
            if j > 0 {
                neighbours.push(cell - grid.size.0);
            }
            if j + 1 < grid.size.1 {
                neighbours.push(cell + grid.size.0);
            }
            for n in neighbours {
                if marked[n] && !visited[n] {
                    visited[n] = true;
                    stack.push(n);
                }
            }
        }
        largest = largest.max(size);
    }
    largest
}

/// Views into private zones (boxes `min`..`max`): every camera that sees some point of a zone —
/// sampled every 0.5 m over the box — at Detect or better.
pub fn private_views(views: &[View], occluders: &Occluders, zones: &[(String, [f32; 3], [f32; 3])]) -> Vec<PrivateView> {
    let mut flagged = Vec::new();
    for (name, min, max) in zones {
        let steps: Vec<usize> = (0..3).map(|a| (((max[a] - min[a]) / 0.5).ceil() as usize).max(1)).collect();
        let mut points = Vec::new();
        for i in 0..=steps[0] {
            for j in 0..=steps[1] {
                for k in 0..=steps[2] {
                    let at = |a: usize, n: usize| min[a] + (max[a] - min[a]) * n as f32 / steps[a] as f32;
                    points.push([at(0, i), at(1, j), at(2, k)]);
                }
            }
        }
        for view in views {
            let seen: Vec<f32> = points.iter().filter_map(|&p| view.sees(p, occluders)).filter(|&ppm| ppm >= DORI[0].1).collect();
            if !seen.is_empty() {
                flagged.push(PrivateView {
                    camera: view.id.clone(),
                    zone: name.clone(),
                    share_seen: seen.len() as f64 / points.len() as f64,
                    max_pixels_per_metre: seen.iter().cloned().fold(0.0, f32::max) as f64,
                });
            }
        }
    }
    flagged
}

/// Incident capture: per kind, events whose participants some camera saw at Observe or better
/// for at least `min_seconds`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptureByKind {
    /// Kind of incident or protected activity.
    pub kind: String,
    /// A protected activity.
    pub protected: bool,
    /// Events of this kind staged.
    pub staged: usize,
    /// Of which captured.
    pub captured: usize,
}

/// A run's coverage as written to `coverage.json` (and read back by `crowdtwin report`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCoverage {
    /// The coverage numbers.
    pub coverage: CoverageSummary,
    /// Incident capture per kind.
    pub capture: Vec<CaptureByKind>,
}

/// One staged event's track: kind, protected?, and per tick the positions (x, z) of its
/// participants on the site.
pub struct EventTrack {
    /// Kind.
    pub kind: String,
    /// Protected activity.
    pub protected: bool,
    /// Per tick under way, the participants' positions.
    pub positions: Vec<Vec<[f32; 2]>>,
}

/// Captures per kind for `tracks` sampled every `tick_s` seconds.
pub fn incident_capture(views: &[View], occluders: &Occluders, head_height_m: f32, tracks: &[EventTrack], tick_s: f64, min_seconds: f64) -> Vec<CaptureByKind> {
    let mut by_kind: BTreeMap<(bool, String), CaptureByKind> = BTreeMap::new();
    for track in tracks {
        let best_camera_seconds = views
            .iter()
            .map(|view| {
                track
                    .positions
                    .iter()
                    .filter(|people| people.iter().any(|&[x, z]| view.sees([x, head_height_m, z], occluders).is_some_and(|ppm| dori_level(ppm) >= 2)))
                    .count() as f64
                    * tick_s
            })
            .fold(0.0, f64::max);
        let entry = by_kind.entry((track.protected, track.kind.clone())).or_insert(CaptureByKind { kind: track.kind.clone(), protected: track.protected, staged: 0, captured: 0 });
        entry.staged += 1;
        entry.captured += usize::from(best_camera_seconds >= min_seconds);
    }
    by_kind.into_values().collect()
}

/// The map's legend, as HTML.
pub const MAP_LEGEND_HTML: &str = "<p class=\"legend\"><span style=\"background:rgb(214,48,39)\"></span>blind \
<span style=\"background:rgb(254,224,139)\"></span>detect ≥ 25 px/m <span style=\"background:rgb(166,217,106)\"></span>observe ≥ 62 \
<span style=\"background:rgb(26,152,80)\"></span>recognise ≥ 125 <span style=\"background:rgb(0,90,50)\"></span>identify ≥ 250 · \
dots: footfall (person-seconds) · ▲ cameras with their view cones (40 m) · white: not for pedestrians (carriageway, obstacles); north is up</p>";

/// Colour of each DORI level on the map: blind, detect, observe, recognise, identify.
pub const LEVEL_COLOURS: [[u8; 3]; 5] = [[214, 48, 39], [254, 224, 139], [166, 217, 106], [26, 152, 80], [0, 90, 50]];

/// The coverage map as a PNG (plotters' bitmap backend, no text: the legend is
/// [`MAP_LEGEND_HTML`]): every walkable cell coloured by its DORI level (red: blind), footfall
/// as dark dots (area ∝ person-seconds), every camera a black triangle with its view cone on
/// the ground (to 40 m); what is not pedestrian area stays white.
pub fn map_png(grid: &Grid, best: &[f32], footfall: &[f64], views: &[View], layout: &SiteLayout) -> Result<Vec<u8>, String> {
    use plotters::prelude::*;
    let scale = (900.0 / (grid.size.0 as f32 * grid.cell_m)).min(640.0 / (grid.size.1 as f32 * grid.cell_m));
    let (width, height) = (((grid.size.0 as f32 * grid.cell_m) * scale) as u32 + 20, ((grid.size.1 as f32 * grid.cell_m) * scale) as u32 + 20);
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let to_px = |x: f32, z: f32| (10 + ((x - grid.origin[0]) * scale) as i32, 10 + ((z - grid.origin[1]) * scale) as i32);
        for obstacle in layout.obstacles.iter().filter(|o| o.kind == crowdtwin_core::site::ObstacleKind::Building) {
            let (a, b) = (to_px(obstacle.bounds.min[0], obstacle.bounds.min[2]), to_px(obstacle.bounds.max[0], obstacle.bounds.max[2]));
            root.draw(&Rectangle::new([a, b], RGBColor(190, 190, 190).filled())).map_err(|e| e.to_string())?;
        }
        for footprint in &layout.footprints {
            let ring: Vec<(i32, i32)> = footprint.ring.iter().map(|p| to_px(p[0], p[1])).collect();
            root.draw(&Polygon::new(ring, RGBColor(190, 190, 190).filled())).map_err(|e| e.to_string())?;
        }
        for (index, &walkable) in grid.walkable.iter().enumerate() {
            if !walkable {
                continue;
            }
            let [x, z] = grid.centre(index);
            let half = grid.cell_m * 0.5;
            let [r, g, b] = LEVEL_COLOURS[dori_level(best[index]) as usize];
            root.draw(&Rectangle::new([to_px(x - half, z - half), to_px(x + half, z + half)], RGBColor(r, g, b).filled())).map_err(|e| e.to_string())?;
        }
        // Footfall, pooled over 2 m squares so the dots stay legible.
        let pool = ((2.0 / grid.cell_m).round() as usize).max(1);
        let mut pooled: BTreeMap<(usize, usize), f64> = BTreeMap::new();
        for (index, &f) in footfall.iter().enumerate() {
            if f > 0.0 {
                *pooled.entry(((index % grid.size.0) / pool, (index / grid.size.0) / pool)).or_default() += f;
            }
        }
        let top = pooled.values().cloned().fold(0.0, f64::max);
        for (&(i, j), &f) in &pooled {
            let (x, z) = (grid.origin[0] + (i as f32 + 0.5) * pool as f32 * grid.cell_m, grid.origin[1] + (j as f32 + 0.5) * pool as f32 * grid.cell_m);
            let radius = (1.0 + 5.0 * (f / top).sqrt()) as i32;
            root.draw(&Circle::new(to_px(x, z), radius, RGBColor(40, 40, 40).mix(0.6).filled())).map_err(|e| e.to_string())?;
        }
        for view in views {
            let m = &view.model;
            let apex = to_px(m.position[0], m.position[2]);
            let mut cone = vec![apex];
            for u in [0.0, m.width as f32 * 0.5, m.width as f32] {
                let ray = m.ray(u, m.height as f32 * 0.5);
                let horizontal = (ray[0] * ray[0] + ray[2] * ray[2]).sqrt().max(1e-6);
                cone.push(to_px(m.position[0] + ray[0] / horizontal * 40.0, m.position[2] + ray[2] / horizontal * 40.0));
            }
            cone.push(apex);
            root.draw(&PathElement::new(cone, BLACK.mix(0.5).stroke_width(1))).map_err(|e| e.to_string())?;
            root.draw(&TriangleMarker::new(apex, 7, BLACK.filled())).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for rgb in buffer.chunks_exact(3) {
        pixels.extend([rgb[0], rgb[1], rgb[2], 255]);
    }
    crate::images::png_bytes(&crowdtwin_core::frame::RgbaImage { width, height, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(position: (f32, f32, f32), yaw: f32, pitch: f32, hfov: f32) -> View {
        View::of(&CameraSpec {
            id: "c".into(),
            position,
            yaw_deg: yaw,
            pitch_deg: pitch,
            hfov_deg: hfov,
            sensor_resolution: (1920, 1080),
            render_resolution: (640, 360),
            fps: 5,
            degradation: Default::default(),
            privacy_masks: Vec::new(),
        })
    }

    /// Area of the footprint of a pinhole camera's frustum on the plane y = h, from its four
    /// corner rays (the footprint is the quadrilateral they cut).
    fn analytic_footprint(view: &View, h: f32) -> f64 {
        let m = &view.model;
        let corners = [(0.0, 0.0), (m.width as f32, 0.0), (m.width as f32, m.height as f32), (0.0, m.height as f32)];
        let points: Vec<[f64; 2]> = corners
            .iter()
            .map(|&(u, v)| {
                let ray = m.ray(u, v);
                let t = (h - m.position[1]) / ray[1];
                assert!(t > 0.0, "every corner ray must meet the plane");
                [(m.position[0] + t * ray[0]) as f64, (m.position[2] + t * ray[2]) as f64]
            })
            .collect();
        let mut twice = 0.0;
        for i in 0..4 {
            let (a, b) = (points[i], points[(i + 1) % 4]);
            twice += a[0] * b[1] - b[0] * a[1];
        }
        twice.abs() / 2.0
    }

    #[test]
    fn one_camera_over_empty_ground_covers_its_frustum_footprint() {
        // 45° down with a 60° field of view: the whole frame meets the head-height plane.
        let view = camera((0.0, 8.0, 0.0), 0.0, 45.0, 60.0);
        let grid = Grid::open([-30.0, -40.0], 0.1, (600, 450));
        let (best, _) = coverage_map(&grid, std::slice::from_ref(&view), &Occluders::default(), 1.6);
        let seen = best.iter().filter(|&&p| p > 0.0).count() as f64 * grid.cell_area();
        let expected = analytic_footprint(&view, 1.6);
        assert!((seen - expected).abs() / expected < 0.02, "seen {seen:.1} m², footprint {expected:.1} m²");
        // The density at a cell is focal length over depth.
        let cell = grid.cell_at(0.05, -6.35).unwrap();
        let [x, z] = grid.centre(cell);
        let depth = view.model.to_camera([x, 1.6, z])[2];
        assert!((best[cell] - view.model.focal_px / depth).abs() < 1e-3);
    }

    #[test]
    fn a_building_hides_what_lies_behind_it_and_not_what_lies_before() {
        let view = camera((0.0, 6.0, 0.0), 0.0, 20.0, 60.0);
        // A 10 m high block 10–12 m north of the camera, 8 m wide.
        let block = Aabb { min: [-4.0, 0.0, -12.0], max: [4.0, 10.0, -10.0] };
        let occluders = Occluders::from_boxes(vec![block]);
        assert!(view.sees([0.0, 1.6, -6.0], &occluders).is_some(), "in front of the block");
        assert!(view.sees([0.0, 1.6, -16.0], &occluders).is_none(), "behind the block");
        assert!(view.sees([6.0, 1.6, -16.0], &Occluders::default()).is_some());
        assert!(view.sees([7.0, 1.6, -16.0], &occluders).is_some(), "beside the block's shadow");
        // A camera set just inside a wall sees out of it, as the renderer (back faces culled) does.
        let wall = Occluders::from_boxes(vec![Aabb { min: [-10.0, 0.0, 0.5], max: [10.0, 9.0, 12.0] }]);
        assert!(view.sees([0.0, 1.6, -6.0], &wall).is_some());
        // A tree crown hides a head behind it; its trunk alone would not.
        let mut tree = Occluders::from_boxes(vec![Aabb { min: [-0.2, 0.0, -8.2], max: [0.2, 3.5, -7.8] }]);
        assert!(!tree.blocks([0.0, 6.0, 0.0], [0.0, 1.6, -16.0]), "the line passes 3.8 m up, over the 3.5 m trunk");
        tree.ellipsoids.push(([0.0, 3.5, -8.0], CROWN_RADII));
        assert!(tree.blocks([0.0, 6.0, 0.0], [0.0, 1.6, -16.0]), "through the crown");
        // A privacy mask over the left half of the frame hides what lies there.
        let mut masked = view.clone();
        masked.privacy_masks.push((0.0, 0.0, 0.5, 1.0));
        assert!(masked.sees([-3.0, 1.6, -8.0], &Occluders::default()).is_none() && masked.sees([3.0, 1.6, -8.0], &Occluders::default()).is_some());
    }

    #[test]
    fn scoring_views_on_all_cores_gives_the_sequential_answer() {
        let views: Vec<View> = (0..5).map(|k| camera((k as f32 * 3.0, 6.0, 0.0), k as f32 * 70.0, 25.0, 70.0)).collect();
        let grid = Grid::open([-20.0, -20.0], 0.5, (80, 80));
        let occluders = Occluders::from_boxes(vec![Aabb { min: [-2.0, 0.0, -9.0], max: [2.0, 8.0, -7.0] }]);
        let parallel = cells_seen_by_each(&grid, &views, &occluders, 1.6, 1);
        let sequential: Vec<Vec<u32>> = views.iter().map(|v| cells_seen(&grid, v, &occluders, 1.6, 1)).collect();
        assert_eq!(parallel, sequential);
        assert!(sequential.iter().all(|cells| !cells.is_empty()));
    }

    #[test]
    fn dori_levels_and_summary_on_a_hand_made_map() {
        assert_eq!((dori_level(10.0), dori_level(25.0), dori_level(100.0), dori_level(130.0), dori_level(400.0)), (0, 1, 2, 3, 4));
        // Four cells in a row: unseen, detect, observe (seen twice), identify; footfall 1, 1, 2, 0.
        let grid = Grid::open([0.0, 0.0], 1.0, (4, 1));
        let best = [0.0, 30.0, 70.0, 300.0];
        let seen_by = [0, 1, 2, 1];
        let summary = summarise(&grid, &best, &seen_by, &[1.0, 1.0, 2.0, 0.0], &[("west".into(), [0.0, 0.0, 2.0, 1.0]), ("east".into(), [2.0, 0.0, 4.0, 1.0])]);
        assert_eq!(summary.area_share["detect"], 0.75);
        assert_eq!(summary.area_share["observe"], 0.5);
        assert_eq!(summary.area_share["identify"], 0.25);
        assert_eq!(summary.footfall_share["observe"], 0.5, "2 of 4 person-seconds in observed cells");
        assert_eq!((summary.redundancy_share, summary.blind_m2, summary.largest_blind_region_m2), (0.25, 1.0, 1.0));
        assert_eq!((summary.person_seconds, summary.person_seconds_observed), (4.0, 2.0));
        assert_eq!(summary.districts[0].watchedness, Some(0.0));
        assert_eq!(summary.districts[1].watchedness, Some(1.0));
        assert_eq!(summary.watchedness_gap, Some(1.0));
    }

    #[test]
    fn a_view_into_a_window_is_flagged_until_a_privacy_mask_covers_it() {
        let view = camera((0.0, 6.0, 0.0), 0.0, 10.0, 60.0);
        let window = vec![("flat window".to_string(), [-1.0, 3.0, -15.0], [1.0, 4.5, -15.0])];
        let flagged = private_views(std::slice::from_ref(&view), &Occluders::default(), &window);
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].share_seen, 1.0);
        let [u, v, _] = view.model.project([0.0, 3.75, -15.0]).unwrap();
        let (fu, fv) = (u / view.model.width as f32, v / view.model.height as f32);
        let mut masked = view.clone();
        masked.privacy_masks.push((fu - 0.1, fv - 0.15, fu + 0.1, fv + 0.15));
        assert!(private_views(&[masked], &Occluders::default(), &window).is_empty());
    }

    #[test]
    fn capture_needs_enough_seconds_at_observe() {
        let view = camera((0.0, 6.0, 0.0), 0.0, 20.0, 60.0);
        let near = [0.0, -10.0]; // about 107 px/m at 1920 px: observe
        let track = |ticks: usize| EventTrack { kind: "fight".into(), protected: false, positions: vec![vec![near]; ticks] };
        let capture = incident_capture(std::slice::from_ref(&view), &Occluders::default(), 1.6, &[track(30), track(10)], 0.1, 2.0);
        assert_eq!(capture, vec![CaptureByKind { kind: "fight".into(), protected: false, staged: 2, captured: 1 }]);
    }
}
