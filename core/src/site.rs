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
    fn contains(&self, x: f32, z: f32) -> bool {
        x >= self.rect[0] && x <= self.rect[2] && z >= self.rect[1] && z <= self.rect[3]
    }
}

/// The laid-out site.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteLayout {
    /// Half extents of the open plaza (x, z).
    pub plaza_half: [f32; 2],
    /// Half extents of the plaza plus the street ring.
    pub street_half: [f32; 2],
    /// Half extents of everything walkable (plaza, street, pavement).
    pub walkable_half: [f32; 2],
    /// Buildings, benches, the shelter and trees.
    pub obstacles: Vec<Obstacle>,
    /// Where people go.
    pub points_of_interest: Vec<PointOfInterest>,
    /// Zebra crossings over the street.
    pub crossings: Vec<CrossingArea>,
}

impl SiteLayout {
    /// Lays out `site` with the scenario's `seed` (deterministic).
    pub fn generate(site: &Site, seed: u64) -> Self {
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
        SiteLayout { plaza_half, street_half, walkable_half, obstacles, points_of_interest: pois, crossings }
    }

    /// Where people enter and leave the site: building entrances and the transit stop.
    pub fn exits(&self) -> impl Iterator<Item = [f32; 2]> + '_ {
        self.points_of_interest.iter().filter(|p| matches!(p.kind, PoiKind::Entrance | PoiKind::TransitStop)).map(|p| p.position)
    }

    /// Whether (x, z) lies on the carriageway (between the plaza and the pavement).
    pub fn on_street(&self, x: f32, z: f32) -> bool {
        let in_street_ring = x.abs() <= self.street_half[0] && z.abs() <= self.street_half[1];
        let in_plaza = x.abs() <= self.plaza_half[0] && z.abs() <= self.plaza_half[1];
        in_street_ring && !in_plaza
    }

    /// Whether a pedestrian of the given radius may stand at (x, z): walkable, and off the
    /// street except on a crossing (one with ramps when `needs_ramps`). The body's edge is
    /// checked at eight points around the centre.
    pub fn is_pedestrian_area(&self, x: f32, z: f32, radius: f32, needs_ramps: bool) -> bool {
        if !self.is_walkable(x, z, radius) {
            return false;
        }
        let diagonal = radius * std::f32::consts::FRAC_1_SQRT_2;
        let edge = [(0.0, 0.0), (radius, 0.0), (-radius, 0.0), (0.0, radius), (0.0, -radius), (diagonal, diagonal), (-diagonal, diagonal), (diagonal, -diagonal), (-diagonal, -diagonal)];
        edge.iter().all(|&(dx, dz)| {
            let (px, pz) = (x + dx, z + dz);
            !self.on_street(px, pz) || self.crossings.iter().any(|c| (c.ramps || !needs_ramps) && c.contains(px, pz))
        })
    }

    /// Whether a person of the given radius can stand at (x, z).
    pub fn is_walkable(&self, x: f32, z: f32, radius: f32) -> bool {
        x.abs() <= self.walkable_half[0] - radius
            && z.abs() <= self.walkable_half[1] - radius
            && !self.obstacles.iter().any(|o| o.bounds.contains_ground(x, z, radius))
    }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_deterministic_and_points_of_interest_are_walkable() {
        let a = SiteLayout::generate(&example_site(), 3);
        assert_eq!(a, SiteLayout::generate(&example_site(), 3));
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
