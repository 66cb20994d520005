//! Pedestrian dynamics: the collision-free speed model of Tordeux, Chraibi & Seyfried (2016),
//! "Collision-free speed model for pedestrian dynamics", with a uniform grid for neighbours.
//!
//! A first-order model: every pedestrian moves at speed `V(s) = min(v0, max(0, (s − ℓ) / T))`
//! along a direction `e`, where `s` is the distance to the nearest neighbour in front (one
//! whose disc overlaps the path ahead), `ℓ` the sum of the two radii and `T` the time gap. The
//! direction is the desired one turned away from close neighbours and walls by exponential
//! repulsions `a·exp((ℓ − s)/D)`. Speeds never make two discs overlap further, so the model
//! needs no collision resolution and reproduces the speed–density relation of real crowds
//! (see the corridor test against Weidmann's fundamental diagram).
//!
//! Plain data and functions: no Bevy, so tests and benchmarks run millions of steps.

use bevy::math::Vec2;
use std::collections::HashMap;

/// The model's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeedModel {
    /// Time gap `T`, seconds: how far ahead in time people keep their distance.
    pub time_gap_s: f32,
    /// Strength `a` of the repulsion between pedestrians.
    pub repulsion: f32,
    /// Range `D` of that repulsion, metres.
    pub repulsion_range_m: f32,
    /// Strength of the repulsion from walls.
    pub wall_repulsion: f32,
    /// Range of the repulsion from walls, metres.
    pub wall_range_m: f32,
    /// Neighbours farther than this are ignored, metres (also the grid's cell size).
    pub interaction_radius_m: f32,
}

impl Default for SpeedModel {
    /// Repulsions as published (a = 5, D = 0.1 m); the time gap calibrated on the corridor
    /// against Weidmann (1993) — see [`ADULT_RADIUS_M`] and the fundamental-diagram test.
    fn default() -> Self {
        SpeedModel {
            time_gap_s: 0.85,
            repulsion: 5.0,
            repulsion_range_m: 0.1,
            wall_repulsion: 5.0,
            wall_range_m: 0.05,
            interaction_radius_m: 2.0,
        }
    }
}

/// Radius of an adult body in the model, metres: with the time gap, calibrated on the corridor
/// (radii 0.18–0.23 m and time gaps 0.55–1.0 s were tried; 0.18 m and 0.85 s keep within
/// 0.1 m/s of Weidmann from 0.25 to 5 persons/m²). Tordeux et al. use a body length of 0.3 m.
pub const ADULT_RADIUS_M: f32 = 0.18;

/// Weidmann's (1993) speed–density relation: free speed 1.34 m/s, jam density 5.4 /m²,
/// `v(ρ) = 1.34 · (1 − exp(−1.913 · (1/ρ − 1/5.4)))`.
pub fn weidmann_speed(density_per_m2: f32) -> f32 {
    if density_per_m2 <= 0.0 {
        return 1.34;
    }
    (1.34 * (1.0 - (-1.913 * (1.0 / density_per_m2 - 1.0 / 5.4)).exp())).max(0.0)
}

/// One pedestrian as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Walker {
    /// Ground position (x, z), metres.
    pub position: Vec2,
    /// Body radius, metres.
    pub radius: f32,
    /// Free (desired) speed `v0`, m/s.
    pub free_speed: f32,
    /// Desired unit direction; zero to stand still (still an obstacle to others).
    pub desired: Vec2,
    /// Takes part in the crowd (absent people are skipped entirely).
    pub present: bool,
    /// Pedestrians with the same non-zero cohort neither repel nor block each other (people
    /// hugging, fighting or walking arm in arm are meant to touch).
    pub cohort: u32,
}

/// A wall near a point: the unit normal pointing away from it and the distance to it.
pub type WallContact = (Vec2, f32);

/// Anything pedestrians must keep away from.
pub trait Walls {
    /// Appends the walls within `range` of `point`.
    fn near(&self, point: Vec2, range: f32, out: &mut Vec<WallContact>);
}

/// No walls at all.
pub struct Open;

impl Walls for Open {
    fn near(&self, _: Vec2, _: f32, _: &mut Vec<WallContact>) {}
}

/// A uniform grid of pedestrian indices for neighbour queries.
#[derive(Default)]
pub struct NeighbourGrid {
    cell_m: f32,
    cells: HashMap<(i32, i32), Vec<u32>>,
}

impl NeighbourGrid {
    /// Rebuilds the grid from the present walkers (indices in ascending order per cell).
    pub fn rebuild(&mut self, walkers: &[Walker], cell_m: f32) {
        self.cell_m = cell_m;
        for list in self.cells.values_mut() {
            list.clear();
        }
        for (index, walker) in walkers.iter().enumerate() {
            if walker.present {
                self.cells.entry(self.key(walker.position)).or_default().push(index as u32);
            }
        }
    }

    fn key(&self, p: Vec2) -> (i32, i32) {
        ((p.x / self.cell_m).floor() as i32, (p.y / self.cell_m).floor() as i32)
    }

    /// Calls `visit` with every walker index in the 3 × 3 cells around `point`.
    pub fn around(&self, point: Vec2, mut visit: impl FnMut(u32)) {
        let (cx, cz) = self.key(point);
        for dz in -1..=1 {
            for dx in -1..=1 {
                if let Some(list) = self.cells.get(&(cx + dx, cz + dz)) {
                    list.iter().for_each(|&i| visit(i));
                }
            }
        }
    }
}

/// The velocity the model gives each walker, computed from one snapshot of all of them (so
/// the result does not depend on the order of evaluation). Absent walkers get zero.
pub fn velocities(model: &SpeedModel, walkers: &[Walker], grid: &NeighbourGrid, walls: &dyn Walls) -> Vec<Vec2> {
    let mut contacts = Vec::new();
    let mut neighbours: Vec<(Vec2, f32, f32)> = Vec::new();
    walkers
        .iter()
        .enumerate()
        .map(|(index, me)| {
            if !me.present || me.desired == Vec2::ZERO || me.free_speed <= 0.0 {
                return Vec2::ZERO;
            }
            neighbours.clear();
            grid.around(me.position, |j| {
                let other = &walkers[j as usize];
                if j as usize == index || (me.cohort != 0 && other.cohort == me.cohort) {
                    return;
                }
                let away = me.position - other.position;
                let distance = away.length();
                if distance > 1e-6 && distance < model.interaction_radius_m {
                    neighbours.push((away / distance, distance, me.radius + other.radius));
                }
            });
            let mut direction = me.desired;
            for &(unit_away, distance, reach) in &neighbours {
                direction += unit_away * model.repulsion * ((reach - distance) / model.repulsion_range_m).exp();
            }
            contacts.clear();
            walls.near(me.position, me.radius + 10.0 * model.wall_range_m, &mut contacts);
            for &(normal, distance) in &contacts {
                direction += normal * model.wall_repulsion * ((me.radius - distance) / model.wall_range_m).exp();
            }
            let direction = direction.normalize_or_zero();
            // The spacing: the nearest neighbour whose disc overlaps the path ahead.
            let mut speed = me.free_speed;
            for &(unit_away, distance, reach) in &neighbours {
                let ahead = -direction.dot(unit_away);
                let lateral = direction.perp_dot(unit_away).abs() * distance;
                if ahead > 0.0 && lateral <= reach {
                    speed = speed.min(((distance - reach) / model.time_gap_s).max(0.0));
                }
            }
            direction * speed
        })
        .collect()
}

/// Walls of a corridor along x between z = 0 and z = `width`.
pub struct Corridor {
    /// Width, metres.
    pub width_m: f32,
}

impl Walls for Corridor {
    fn near(&self, point: Vec2, range: f32, out: &mut Vec<WallContact>) {
        if point.y < range {
            out.push((Vec2::Y, point.y));
        }
        if self.width_m - point.y < range {
            out.push((Vec2::NEG_Y, self.width_m - point.y));
        }
    }
}

/// One measured point of the fundamental diagram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiagramPoint {
    /// Density, persons per square metre.
    pub density_per_m2: f32,
    /// Mean speed in the walking direction, m/s.
    pub mean_speed_mps: f32,
}

/// Measures the mean speed at a density in a periodic corridor (`length_m` × `width_m`, walls
/// along both sides, people walking towards +x at a free speed of 1.34 m/s): persons are
/// placed at random without overlap, the crowd is simulated for `warm_up_s` and the speed is
/// averaged over the next `measure_s`.
pub fn corridor_speed(model: &SpeedModel, density_per_m2: f32, length_m: f32, width_m: f32, seed: u64) -> DiagramPoint {
    corridor_speed_with_radius(model, density_per_m2, length_m, width_m, seed, ADULT_RADIUS_M)
}

/// [`corridor_speed`] with bodies of the given radius.
pub fn corridor_speed_with_radius(model: &SpeedModel, density_per_m2: f32, length_m: f32, width_m: f32, seed: u64, radius: f32) -> DiagramPoint {
    let corridor = CorridorRun { length_m, width_m, radius_m: radius, periodic: true, measure_from_m: 0.0, measure_to_m: length_m, ..CorridorRun::default() };
    let positions = corridor.positions(density_per_m2, seed);
    DiagramPoint { density_per_m2, mean_speed_mps: corridor.run(model, &positions).mean_speed_mps }
}

/// A corridor experiment: `length_m` × `width_m`, walls along both sides, everybody walking
/// towards +x at `free_speed_mps`; an agent past the far end comes back at the near end. With
/// `periodic`, people near either end also see those near the other (a ring); without, the
/// corridor is open at both ends (as a simulator without periodic boundaries must run it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorridorRun {
    /// Length, metres.
    pub length_m: f32,
    /// Width, metres.
    pub width_m: f32,
    /// Body radius, metres.
    pub radius_m: f32,
    /// Everybody's free speed, m/s (Weidmann's 1.34: in a single file nobody can overtake, so a
    /// spread of free speeds would measure the slowest walkers, not the speed–density relation).
    pub free_speed_mps: f32,
    /// Time step, seconds.
    pub dt_s: f32,
    /// Seconds simulated before measuring.
    pub warm_up_s: f32,
    /// Seconds measured.
    pub measure_s: f32,
    /// Whether the ends see each other.
    pub periodic: bool,
    /// The measuring section along x, metres: steps that start inside it are counted.
    pub measure_from_m: f32,
    /// Its end, metres.
    pub measure_to_m: f32,
}

impl Default for CorridorRun {
    fn default() -> Self {
        CorridorRun {
            length_m: 30.0,
            width_m: 4.0,
            radius_m: ADULT_RADIUS_M,
            free_speed_mps: 1.34,
            dt_s: 0.05,
            warm_up_s: 20.0,
            measure_s: 20.0,
            periodic: true,
            measure_from_m: 0.0,
            measure_to_m: 30.0,
        }
    }
}

/// What a corridor experiment measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorridorResult {
    /// Distance walked along x in the measuring section ÷ (agent-steps spent in it × dt), m/s.
    pub mean_speed_mps: f32,
    /// Agents × steps simulated.
    pub agent_steps: u64,
    /// Wall-clock seconds of the stepping loop.
    pub seconds: f64,
}

impl CorridorRun {
    /// Start positions for `density_per_m2`: random sequential placement without overlap (a
    /// jittered lattice where that fails, at high densities), seeded.
    pub fn positions(&self, density_per_m2: f32, seed: u64) -> Vec<Vec2> {
        use crowdtwin_core::rng::{Purpose, StreamRng};
        let (length_m, width_m, radius) = (self.length_m, self.width_m, self.radius_m);
        let count = (density_per_m2 * length_m * width_m).round() as usize;
        let mut rng = StreamRng::new(seed, count as u64, Purpose::Navigation);
        let spacing = (length_m * width_m / count.max(1) as f32).sqrt();
        let columns = (length_m / spacing).floor().max(1.0) as usize;
        let mut placed: Vec<Vec2> = Vec::with_capacity(count);
        for i in 0..count {
            let mut position = None;
            for _ in 0..200 {
                let p = Vec2::new(rng.range(0.0, length_m), rng.range(radius, width_m - radius));
                if placed.iter().all(|&q| periodic_distance(q, p, length_m) >= 2.0 * radius) {
                    position = Some(p);
                    break;
                }
            }
            placed.push(position.unwrap_or_else(|| {
                let (c, r) = (i % columns, i / columns);
                Vec2::new((c as f32 + 0.5) * spacing, ((r as f32 + 0.5) * spacing).min(width_m - radius))
            }));
        }
        placed
    }

    /// Simulates the agents starting at `positions` with `model` and measures their speed.
    pub fn run(&self, model: &SpeedModel, positions: &[Vec2]) -> CorridorResult {
        let (length_m, width_m, dt) = (self.length_m, self.width_m, self.dt_s);
        let mut walkers: Vec<Walker> =
            positions.iter().map(|&position| Walker { position, radius: self.radius_m, free_speed: self.free_speed_mps, desired: Vec2::X, present: true, cohort: 0 }).collect();
        let walls = Corridor { width_m };
        let mut grid = NeighbourGrid::default();
        let (mut travelled, mut samples) = (0.0f64, 0u64);
        let steps = ((self.warm_up_s + self.measure_s) / dt).round() as usize;
        let warm_steps = (self.warm_up_s / dt).round() as usize;
        let mut ghosts = Vec::new();
        let started = std::time::Instant::now();
        for step in 0..steps {
            ghosts.clear();
            ghosts.extend_from_slice(&walkers);
            if self.periodic {
                // Copies of the people near either end stand beyond the other.
                for w in &walkers {
                    if w.position.x < 2.0 {
                        ghosts.push(Walker { position: w.position + Vec2::new(length_m, 0.0), ..*w });
                    }
                    if w.position.x > length_m - 2.0 {
                        ghosts.push(Walker { position: w.position - Vec2::new(length_m, 0.0), ..*w });
                    }
                }
            }
            grid.rebuild(&ghosts, model.interaction_radius_m);
            let velocity = velocities(model, &ghosts, &grid, &walls);
            for (walker, v) in walkers.iter_mut().zip(&velocity) {
                let from = walker.position.x;
                walker.position += *v * dt;
                walker.position.y = walker.position.y.clamp(0.01, width_m - 0.01);
                if step >= warm_steps && (self.measure_from_m..self.measure_to_m).contains(&from) {
                    travelled += (v.x * dt) as f64;
                    samples += 1;
                }
            }
            for i in 0..walkers.len() {
                let position = walkers[i].position;
                if position.x < length_m {
                    continue;
                }
                let back = Vec2::new(position.x - length_m, position.y);
                // Open: back at the near end only once nobody stands there (as JuPedSim requires).
                let free = self.periodic || walkers.iter().enumerate().all(|(j, w)| j == i || w.position.distance(back) >= 2.0 * self.radius_m);
                if free {
                    walkers[i].position = back;
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let mean_speed_mps = if samples > 0 { (travelled / (samples as f64 * dt as f64)) as f32 } else { 0.0 };
        CorridorResult { mean_speed_mps, agent_steps: (walkers.len() * steps) as u64, seconds }
    }
}

fn periodic_distance(a: Vec2, b: Vec2, length: f32) -> f32 {
    let mut dx = (a.x - b.x).abs();
    dx = dx.min(length - dx);
    Vec2::new(dx, a.y - b.y).length()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_overlaps_and_a_free_walker_walks_at_free_speed() {
        let model = SpeedModel::default();
        let walker = |x: f32, y: f32, d: Vec2| Walker { position: Vec2::new(x, y), radius: ADULT_RADIUS_M, free_speed: 1.3, desired: d, present: true, cohort: 0 };
        let walkers = vec![walker(0.0, 0.0, Vec2::X), walker(0.4, 0.0, Vec2::ZERO), walker(10.0, 5.0, Vec2::Y)];
        let mut grid = NeighbourGrid::default();
        grid.rebuild(&walkers, model.interaction_radius_m);
        let v = velocities(&model, &walkers, &grid, &Open);
        assert!(v[0].x < 0.1, "never walks into a standing person 4 cm away: {:?}", v[0]);
        assert_eq!(v[1], Vec2::ZERO);
        assert!((v[2] - Vec2::new(0.0, 1.3)).length() < 1e-4, "{:?}", v[2]);
    }
}
