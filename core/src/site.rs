//! The procedural site, laid out from a scenario's [`Site`] and seed.
//!
//! Pure data (axis-aligned boxes and points), so the renderer, the navigation and, later, the
//! coverage analysis all see the same geometry. The plaza is centred on the origin; a street
//! rings it, a pavement runs along the far side of the street, and buildings ring the pavement.

use crate::rng::{Purpose, StreamRng};
use crate::scenario::{Side, Site};

/// An axis-aligned box in world coordinates (metres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aabb {
    /// Minimum corner (x, y, z).
    pub min: [f32; 3],
    /// Maximum corner (x, y, z).
    pub max: [f32; 3],
}

impl Aabb {
    /// Whether the ground point (x, z) lies inside the box's footprint grown by `margin`.
    pub fn contains_ground(&self, x: f32, z: f32, margin: f32) -> bool {
        x >= self.min[0] - margin && x <= self.max[0] + margin && z >= self.min[2] - margin && z <= self.max[2] + margin
    }

    /// Centre of the box.
    pub fn centre(&self) -> [f32; 3] {
        [0.5 * (self.min[0] + self.max[0]), 0.5 * (self.min[1] + self.max[1]), 0.5 * (self.min[2] + self.max[2])]
    }

    /// Size of the box.
    pub fn size(&self) -> [f32; 3] {
        [self.max[0] - self.min[0], self.max[1] - self.min[1], self.max[2] - self.min[2]]
    }
}

/// What a static object is, so the renderer can give it a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObstacleKind {
    /// A building block.
    Building,
    /// A bench.
    Bench,
    /// The transit-stop shelter.
    Shelter,
    /// A tree (trunk; the crown is drawn above it).
    Tree,
}

/// A static object people cannot walk through.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obstacle {
    /// Its kind.
    pub kind: ObstacleKind,
    /// Its extent.
    pub bounds: Aabb,
}

/// Kinds of places people walk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoiKind {
    /// A building entrance on the pavement.
    Entrance,
    /// Next to a bench.
    Bench,
    /// The transit stop.
    TransitStop,
    /// An open spot on the plaza.
    PlazaSpot,
}

/// A point of interest on the ground.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointOfInterest {
    /// Its kind.
    pub kind: PoiKind,
    /// Ground position (x, z).
    pub position: [f32; 2],
}

/// A pedestrian crossing: the part of the street people may walk on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossingArea {
    /// Its footprint on the street, (x0, z0, x1, z1).
    pub rect: [f32; 4],
    /// Whether it has dropped kerbs (wheelchair users cross only there).
    pub ramps: bool,
}

impl CrossingArea {
    /// Whether (x, z) lies on it.
    pub fn contains(&self, x: f32, z: f32) -> bool {
        x >= self.rect[0] && x <= self.rect[2] && z >= self.rect[1] && z <= self.rect[3]
    }
}

/// The template's ground: centred rectangles of plaza, carriageway ring and pavement ring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemplateGround {
    /// Half extents of the open plaza (x, z).
    pub plaza_half: [f32; 2],
    /// Half extents of the plaza plus the street ring.
    pub street_half: [f32; 2],
    /// Half extents of everything walkable (plaza, street, pavement).
    pub walkable_half: [f32; 2],
}

/// What the ground is at a point of an imported site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Surface {
    /// Outside every mapped surface: not walkable (private land, unmapped yards, off the map).
    Off = 0,
    /// Where pedestrians walk: squares, pedestrian streets, footways, pavements.
    Walkway = 1,
    /// A carriageway: walkable only on a crossing.
    Carriageway = 2,
    /// A crossing with dropped kerbs (wheelchairs cross here).
    CrossingRamps = 3,
    /// A crossing with raised kerbs (on foot only).
    Crossing = 4,
    /// Steps: on foot only.
    Steps = 5,
    /// Inside a building.
    Building = 6,
    /// Grass, parks and planted land: drawn, not walked.
    Green = 7,
    /// Under a bench, a tree trunk or a shelter (imported sites paint their furniture into the
    /// raster, so walkability never loops over thousands of objects).
    Furniture = 8,
}

impl Surface {
    /// Whether a person may stand there at all (the carriageway included, as on the template).
    pub fn walkable(self) -> bool {
        matches!(self, Surface::Walkway | Surface::Carriageway | Surface::CrossingRamps | Surface::Crossing | Surface::Steps)
    }

    /// Whether a pedestrian (a wheelchair user when `needs_ramps`) may walk there.
    pub fn pedestrian(self, needs_ramps: bool) -> bool {
        match self {
            Surface::Walkway | Surface::CrossingRamps => true,
            Surface::Crossing | Surface::Steps => !needs_ramps,
            _ => false,
        }
    }

    /// The surface of a stored class byte ([`Surface::Off`] for an unknown one).
    pub fn from_u8(value: u8) -> Self {
        match value {
            1 => Surface::Walkway,
            2 => Surface::Carriageway,
            3 => Surface::CrossingRamps,
            4 => Surface::Crossing,
            5 => Surface::Steps,
            6 => Surface::Building,
            7 => Surface::Green,
            8 => Surface::Furniture,
            _ => Surface::Off,
        }
    }
}

/// An imported site's ground as a raster of [`Surface`] classes: the walkability queries of
/// crowd, navigation and coverage read it in constant time however many polygons the map has.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundMap {
    /// Site (x, z) of the corner of cell (0, 0), metres.
    pub origin: [f32; 2],
    /// Cell edge, metres.
    pub cell_m: f32,
    /// Cells along x and z.
    pub size: (usize, usize),
    /// One [`Surface`] byte per cell, row-major with z rows.
    pub cells: Vec<u8>,
}

impl GroundMap {
    /// The surface at (x, z): [`Surface::Off`] outside the map.
    pub fn at(&self, x: f32, z: f32) -> Surface {
        let (i, j) = (((x - self.origin[0]) / self.cell_m).floor(), ((z - self.origin[1]) / self.cell_m).floor());
        if i < 0.0 || j < 0.0 || i as usize >= self.size.0 || j as usize >= self.size.1 {
            return Surface::Off;
        }
        Surface::from_u8(self.cells[j as usize * self.size.0 + i as usize])
    }

    /// The map's extent (x0, z0, x1, z1).
    pub fn extent(&self) -> [f32; 4] {
        [self.origin[0], self.origin[1], self.origin[0] + self.size.0 as f32 * self.cell_m, self.origin[1] + self.size.1 as f32 * self.cell_m]
    }
}

/// The ground of a site: the template's rectangles, or an imported site's surface raster.
#[derive(Clone, Debug, PartialEq)]
pub enum Ground {
    /// The procedural plaza.
    Template(TemplateGround),
    /// An imported place (OpenStreetMap, GeoJSON).
    Map(GroundMap),
}

/// A building with a polygonal footprint (imported sites; the template's blocks are boxes).
#[derive(Clone, Debug, PartialEq)]
pub struct Footprint {
    /// Outer ring (x, z), counter-clockwise seen from above (+y), not repeating the first point.
    pub ring: Vec<[f32; 2]>,
    /// Height above the ground, metres.
    pub height_m: f32,
    /// The box around it (broad-phase tests).
    pub bounds: Aabb,
    /// Where it came from (`way/123`, `relation/45`, `feature/3`), for warnings and outputs.
    pub source: String,
    /// The roof as triangles of ring indices (empty: the renderer fans it).
    pub roof: Vec<[u32; 3]>,
}

impl Footprint {
    /// A footprint from a ring (either orientation; stored counter-clockwise seen from above).
    pub fn new(mut ring: Vec<[f32; 2]>, height_m: f32, source: String) -> Self {
        // Seen from above (+y) with x east and z south, counter-clockwise is a negative shoelace sum in (x, z).
        if shoelace(&ring) > 0.0 {
            ring.reverse();
        }
        let (mut min, mut max) = ([f32::MAX, 0.0, f32::MAX], [f32::MIN, height_m, f32::MIN]);
        for p in &ring {
            min[0] = min[0].min(p[0]);
            min[2] = min[2].min(p[1]);
            max[0] = max[0].max(p[0]);
            max[2] = max[2].max(p[1]);
        }
        Footprint { ring, height_m, bounds: Aabb { min, max }, source, roof: Vec::new() }
    }

    /// Whether the ground point (x, z) lies inside the footprint (even-odd rule).
    pub fn contains(&self, x: f32, z: f32) -> bool {
        self.bounds.contains_ground(x, z, 0.0) && point_in_ring(&self.ring, x, z)
    }

    /// The footprint's edges as (start, end) pairs.
    pub fn edges(&self) -> impl Iterator<Item = ([f32; 2], [f32; 2])> + '_ {
        (0..self.ring.len()).map(move |i| (self.ring[i], self.ring[(i + 1) % self.ring.len()]))
    }
}

/// Twice the signed area of a ring in (x, z) (positive when clockwise seen from above).
pub fn shoelace(ring: &[[f32; 2]]) -> f32 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// Even-odd point-in-polygon test of (x, z) against a ring.
pub fn point_in_ring(ring: &[[f32; 2]], x: f32, z: f32) -> bool {
    let mut inside = false;
    let mut j = ring.len().wrapping_sub(1);
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[j]);
        if (a[1] > z) != (b[1] > z) && x < (b[0] - a[0]) * (z - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Where the site lies on Earth: the WGS84 point at the local origin, and the projection
/// between the two. Local metres are east (x) and south (z) on the plane tangent at the origin,
/// scaled by the WGS84 ellipsoid's radii of curvature there (meridian M, prime vertical N):
/// x = N·cos φ0·Δλ, z = −M·Δφ. Over a crop of d metres the distortion is of order d·tan φ0 / (2N):
/// 3·10⁻⁵ (0.003 %) at 200 m and 1.4·10⁻⁴ at 1 km in Helsinki (φ0 = 60.17°), well inside the
/// 0.05 % the importer is tested to against geodesic distances (Karney's algorithm, geographiclib).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoOrigin {
    /// Latitude of the local origin, degrees north.
    pub lat_deg: f64,
    /// Longitude of the local origin, degrees east.
    pub lon_deg: f64,
}

impl GeoOrigin {
    const A: f64 = 6_378_137.0;
    const F: f64 = 1.0 / 298.257_223_563;

    fn radii(&self) -> (f64, f64) {
        let e2 = Self::F * (2.0 - Self::F);
        let s = self.lat_deg.to_radians().sin();
        let w = 1.0 - e2 * s * s;
        let n = Self::A / w.sqrt();
        let m = Self::A * (1.0 - e2) / (w * w.sqrt());
        (m, n)
    }

    /// Local (x east, z south) metres of a WGS84 point.
    pub fn to_local(&self, lat_deg: f64, lon_deg: f64) -> [f64; 2] {
        let (m, n) = self.radii();
        let x = n * self.lat_deg.to_radians().cos() * (lon_deg - self.lon_deg).to_radians();
        let z = -m * (lat_deg - self.lat_deg).to_radians();
        [x, z]
    }

    /// WGS84 (latitude, longitude) in degrees of a local point.
    pub fn to_wgs84(&self, x: f64, z: f64) -> (f64, f64) {
        let (m, n) = self.radii();
        let lat = self.lat_deg + (-z / m).to_degrees();
        let lon = self.lon_deg + (x / (n * self.lat_deg.to_radians().cos())).to_degrees();
        (lat, lon)
    }
}

/// The laid-out site: everything renderer, crowd, navigation, incidents, coverage and placement
/// read, whether the template generated it or a map was imported.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteLayout {
    /// The ground: what is walkable, carriageway, crossing, steps.
    pub ground: Ground,
    /// Box obstacles: the template's building blocks, benches, shelters and trees.
    pub obstacles: Vec<Obstacle>,
    /// Buildings with polygonal footprints (imported sites).
    pub footprints: Vec<Footprint>,
    /// Where people go.
    pub points_of_interest: Vec<PointOfInterest>,
    /// Zebra crossings over the street (the box each covers).
    pub crossings: Vec<CrossingArea>,
    /// Street lamp posts (x, z).
    pub lamps: Vec<[f32; 2]>,
    /// Where the local frame lies on Earth, when known.
    pub origin: Option<GeoOrigin>,
    /// The place's name (reports), when known.
    pub name: Option<String>,
    /// Credit the data's licence requires wherever it is shown (e.g. "© OpenStreetMap contributors").
    pub attribution: Option<String>,
}

impl SiteLayout {
    /// Lays out the procedural template `site` with the scenario's `seed` (deterministic).
    pub fn template(site: &Site, seed: u64) -> Self {
        let plaza_half = [site.plaza_size_m.0 * 0.5, site.plaza_size_m.1 * 0.5];
        let street_half = [plaza_half[0] + site.street_width_m, plaza_half[1] + site.street_width_m];
        let walkable_half = [street_half[0] + site.pavement_width_m, street_half[1] + site.pavement_width_m];
        let mut obstacles = Vec::new();
        let mut pois = Vec::new();
        let mut rng = StreamRng::new(seed, 0, Purpose::Site);

        // Buildings: a ring of blocks just outside the pavement, one row per side.
        let depth = 12.0;
        let (hx, hz) = (walkable_half[0], walkable_half[1]);
        let sides: [(bool, f32); 4] = [(true, -1.0), (true, 1.0), (false, -1.0), (false, 1.0)];
        for (along_x, sign) in sides {
            let half_len = if along_x { hx + depth } else { hz };
            let mut s = -half_len;
            while s < half_len - 1.0 {
                let width = rng.range(9.0, 18.0).min(half_len - s);
                let height = rng.range(site.building_height_m.0, site.building_height_m.1.max(site.building_height_m.0 + 1e-3));
                let (a, b) = (s + 0.2, s + width - 0.2);
                let bounds = if along_x {
                    let z0 = if sign < 0.0 { -hz - depth } else { hz };
                    Aabb { min: [a, 0.0, z0], max: [b, height, z0 + depth] }
                } else {
                    let x0 = if sign < 0.0 { -hx - depth } else { hx };
                    Aabb { min: [x0, 0.0, a], max: [x0 + depth, height, b] }
                };
                // The entrance: the middle of the façade facing the plaza, half a metre out.
                let mid = 0.5 * (a + b);
                let entrance = if along_x { [mid, sign * (hz - 0.5)] } else { [sign * (hx - 0.5), mid] };
                if entrance[0].abs() < hx - 0.4 && entrance[1].abs() < hz - 0.4 {
                    pois.push(PointOfInterest { kind: PoiKind::Entrance, position: entrance });
                }
                obstacles.push(Obstacle { kind: ObstacleKind::Building, bounds });
                s += width;
            }
        }

        // Transit stop: a shelter at the south edge of the plaza.
        if site.transit_stop {
            let z = plaza_half[1] - 1.2;
            obstacles.push(Obstacle {
                kind: ObstacleKind::Shelter,
                bounds: Aabb { min: [-3.0, 0.0, z - 0.75], max: [3.0, 2.6, z + 0.75] },
            });
            pois.push(PointOfInterest { kind: PoiKind::TransitStop, position: [0.0, z - 1.5] });
        }

        // Benches and trees, placed at random on the plaza away from everything else.
        let placed = |obstacles: &Vec<Obstacle>, x: f32, z: f32, margin: f32| {
            obstacles.iter().any(|o| o.bounds.contains_ground(x, z, margin))
        };
        for _ in 0..site.benches {
            for _attempt in 0..50 {
                let x = rng.range(-plaza_half[0] + 3.0, plaza_half[0] - 3.0);
                let z = rng.range(-plaza_half[1] + 3.0, plaza_half[1] - 3.0);
                if placed(&obstacles, x, z, 2.5) {
                    continue;
                }
                let along_x = rng.unit() < 0.5;
                let (half_w, half_d) = if along_x { (0.9, 0.3) } else { (0.3, 0.9) };
                obstacles.push(Obstacle {
                    kind: ObstacleKind::Bench,
                    bounds: Aabb { min: [x - half_w, 0.0, z - half_d], max: [x + half_w, 0.85, z + half_d] },
                });
                let front = if along_x { [x, z + 0.9] } else { [x + 0.9, z] };
                pois.push(PointOfInterest { kind: PoiKind::Bench, position: front });
                break;
            }
        }
        for _ in 0..site.trees {
            for _attempt in 0..50 {
                let x = rng.range(-plaza_half[0] + 2.0, plaza_half[0] - 2.0);
                let z = rng.range(-plaza_half[1] + 2.0, plaza_half[1] - 2.0);
                if placed(&obstacles, x, z, 3.0) {
                    continue;
                }
                obstacles.push(Obstacle {
                    kind: ObstacleKind::Tree,
                    bounds: Aabb { min: [x - 0.2, 0.0, z - 0.2], max: [x + 0.2, 5.5, z + 0.2] },
                });
                break;
            }
        }
        // Open spots spread over the plaza, so people cross it.
        for i in 0..6 {
            let x = plaza_half[0] * (-0.6 + 0.4 * (i % 4) as f32);
            let z = plaza_half[1] * if i < 3 { -0.4 } else { 0.4 };
            if !placed(&obstacles, x, z, 1.0) {
                pois.push(PointOfInterest { kind: PoiKind::PlazaSpot, position: [x, z] });
            }
        }
        let crossings = site
            .crossings
            .iter()
            .map(|c| {
                let (a, b) = (c.offset_m - c.width_m * 0.5, c.offset_m + c.width_m * 0.5);
                let rect = match c.side {
                    Side::North => [a, -street_half[1], b, -plaza_half[1]],
                    Side::South => [a, plaza_half[1], b, street_half[1]],
                    Side::West => [-street_half[0], a, -plaza_half[0], b],
                    Side::East => [plaza_half[0], a, street_half[0], b],
                };
                CrossingArea { rect, ramps: c.ramps }
            })
            .collect();
        let lamps = template_lamps(plaza_half, street_half);
        let origin = site.origin.map(|(lat_deg, lon_deg)| GeoOrigin { lat_deg, lon_deg });
        SiteLayout {
            ground: Ground::Template(TemplateGround { plaza_half, street_half, walkable_half }),
            obstacles,
            footprints: Vec::new(),
            points_of_interest: pois,
            crossings,
            lamps,
            origin,
            name: None,
            attribution: None,
        }
    }

    /// Where people enter and leave the site: building entrances and the transit stop.
    pub fn exits(&self) -> impl Iterator<Item = [f32; 2]> + '_ {
        self.points_of_interest.iter().filter(|p| matches!(p.kind, PoiKind::Entrance | PoiKind::TransitStop)).map(|p| p.position)
    }

    /// The template's rectangles, when the site is the procedural plaza.
    pub fn template_ground(&self) -> Option<&TemplateGround> {
        match &self.ground {
            Ground::Template(t) => Some(t),
            Ground::Map(_) => None,
        }
    }

    /// The rectangle (x0, z0, x1, z1) holding everything walkable: the grids of navigation and
    /// coverage span it.
    pub fn extent(&self) -> [f32; 4] {
        match &self.ground {
            Ground::Template(t) => [-t.walkable_half[0], -t.walkable_half[1], t.walkable_half[0], t.walkable_half[1]],
            Ground::Map(map) => map.extent(),
        }
    }

    /// The surface at (x, z). On the template: plaza and pavement are walkway, the ring between
    /// them carriageway (crossing where a crossing is), buildings and beyond off.
    pub fn surface(&self, x: f32, z: f32) -> Surface {
        match &self.ground {
            Ground::Map(map) => map.at(x, z),
            Ground::Template(t) => {
                if !(x.abs() <= t.walkable_half[0] && z.abs() <= t.walkable_half[1]) {
                    Surface::Off
                } else if self.on_street(x, z) {
                    match self.crossings.iter().find(|c| c.contains(x, z)) {
                        Some(c) if c.ramps => Surface::CrossingRamps,
                        Some(_) => Surface::Crossing,
                        None => Surface::Carriageway,
                    }
                } else {
                    Surface::Walkway
                }
            }
        }
    }

    /// Whether (x, z) lies on a carriageway (on the template, between the plaza and the pavement).
    pub fn on_street(&self, x: f32, z: f32) -> bool {
        match &self.ground {
            Ground::Template(t) => {
                let in_street_ring = x.abs() <= t.street_half[0] && z.abs() <= t.street_half[1];
                let in_plaza = x.abs() <= t.plaza_half[0] && z.abs() <= t.plaza_half[1];
                in_street_ring && !in_plaza
            }
            Ground::Map(map) => matches!(map.at(x, z), Surface::Carriageway | Surface::CrossingRamps | Surface::Crossing),
        }
    }

    /// Whether a pedestrian of the given radius may stand at (x, z): walkable, and off the
    /// street except on a crossing (one with ramps when `needs_ramps`), and (imported sites) off
    /// steps when `needs_ramps`. The body's edge is checked at eight points around the centre.
    pub fn is_pedestrian_area(&self, x: f32, z: f32, radius: f32, needs_ramps: bool) -> bool {
        if !self.is_walkable(x, z, radius) {
            return false;
        }
        let edge = body_edge(radius);
        match &self.ground {
            Ground::Template(_) => edge.iter().all(|&(dx, dz)| {
                let (px, pz) = (x + dx, z + dz);
                !self.on_street(px, pz) || self.crossings.iter().any(|c| (c.ramps || !needs_ramps) && c.contains(px, pz))
            }),
            Ground::Map(map) => edge.iter().all(|&(dx, dz)| map.at(x + dx, z + dz).pedestrian(needs_ramps)),
        }
    }

    /// Whether a person of the given radius can stand at (x, z). On an imported site the
    /// furniture is in the raster, so the body's edge probes find it.
    pub fn is_walkable(&self, x: f32, z: f32, radius: f32) -> bool {
        match &self.ground {
            Ground::Template(t) => {
                x.abs() <= t.walkable_half[0] - radius && z.abs() <= t.walkable_half[1] - radius && !self.obstacles.iter().any(|o| o.bounds.contains_ground(x, z, radius))
            }
            Ground::Map(map) => body_edge(radius).iter().all(|&(dx, dz)| map.at(x + dx, z + dz).walkable()),
        }
    }

    /// Whether (x, z) lies inside a building (a box block or a footprint).
    pub fn in_building(&self, x: f32, z: f32) -> bool {
        self.obstacles.iter().any(|o| o.kind == ObstacleKind::Building && o.bounds.contains_ground(x, z, 0.0)) || self.footprints.iter().any(|f| f.contains(x, z))
    }

    /// Local (x, z) metres to WGS84 (latitude, longitude), when the site has an origin.
    pub fn to_wgs84(&self, x: f32, z: f32) -> Option<(f64, f64)> {
        self.origin.map(|o| o.to_wgs84(x as f64, z as f64))
    }
}

/// A body's centre and eight points round its edge, as offsets: where walkability is checked.
fn body_edge(radius: f32) -> [(f32, f32); 9] {
    let diagonal = radius * std::f32::consts::FRAC_1_SQRT_2;
    [(0.0, 0.0), (radius, 0.0), (-radius, 0.0), (0.0, radius), (0.0, -radius), (diagonal, diagonal), (-diagonal, diagonal), (diagonal, -diagonal), (-diagonal, -diagonal)]
}

/// The template's lamp posts: every 16 m along the kerb of the pavement ring, and four on the plaza.
fn template_lamps(plaza_half: [f32; 2], street_half: [f32; 2]) -> Vec<[f32; 2]> {
    let [sx, sz] = street_half;
    let [px, pz] = plaza_half;
    let mut posts: Vec<[f32; 2]> = Vec::new();
    let corners = [[-sx, -sz], [sx, -sz], [sx, sz], [-sx, sz]];
    for k in 0..4 {
        let (from, to) = (corners[k], corners[(k + 1) % 4]);
        let length = ((to[0] - from[0]).powi(2) + (to[1] - from[1]).powi(2)).sqrt();
        let count = (length / 16.0).round().max(1.0) as usize;
        for i in 0..count {
            let t = (i as f32 + 0.5) / count as f32;
            // As glam's `lerp`, so the template's posts stand exactly where they always have.
            posts.push([from[0] * (1.0 - t) + to[0] * t, from[1] * (1.0 - t) + to[1] * t]);
        }
    }
    for (x, z) in [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)] {
        posts.push([x * px, z * pz]);
    }
    posts
}

/// A 40 m × 30 m plaza with a 7 m street, 3 m pavements, five benches, four trees, a transit
/// stop and the default crossings: the site of unit tests (override fields as needed).
pub fn example_site() -> Site {
    Site {
        plaza_size_m: (40.0, 30.0),
        street_width_m: 7.0,
        pavement_width_m: 3.0,
        building_height_m: (9.0, 20.0),
        benches: 5,
        transit_stop: true,
        crossings: crate::scenario::default_crossings(),
        trees: 4,
        origin: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_deterministic_and_points_of_interest_are_walkable() {
        let a = SiteLayout::template(&example_site(), 3);
        assert_eq!(a, SiteLayout::template(&example_site(), 3));
        assert!(a.points_of_interest.len() >= 8, "{:?}", a.points_of_interest);
        for poi in &a.points_of_interest {
            assert!(a.is_walkable(poi.position[0], poi.position[1], 0.25), "{poi:?}");
        }
        assert_eq!(a.obstacles.iter().filter(|o| o.kind == ObstacleKind::Bench).count(), 5);
        assert!(!a.is_walkable(0.0, 13.8, 0.25), "the shelter blocks its spot");
        // The street is crossed at the crossings only; the east and west ones have no ramps.
        assert!(!a.is_pedestrian_area(10.0, -18.0, 0.25, false), "on the street");
        assert!(a.is_pedestrian_area(0.0, -18.0, 0.25, true), "north crossing, with ramps");
        assert!(a.is_pedestrian_area(23.0, 0.0, 0.25, false), "east crossing on foot");
        assert!(!a.is_pedestrian_area(23.0, 0.0, 0.25, true), "east crossing has no ramps");
        assert!(a.is_pedestrian_area(5.0, 5.0, 0.25, true), "plaza");
    }
}
