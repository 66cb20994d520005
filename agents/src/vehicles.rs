//! Cars on the street ring: parked ones along the pavement kerb and moving ones on a one-way
//! lane beside the plaza (anticlockwise seen from above), keeping a time gap to the car ahead
//! and stopping for anybody on a crossing ahead. Each car carries two licence plates (a
//! ground-truth class of their own). A `vehicle_collision` incident drives one car.

use bevy::math::Vec2;
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::site::SiteLayout;

/// Length of a car, metres.
pub const CAR_LENGTH_M: f32 = 4.3;
/// Width of a car, metres.
pub const CAR_WIDTH_M: f32 = 1.8;
/// Time gap to the car ahead, seconds.
const TIME_GAP_S: f32 = 1.2;
/// Braking deceleration, m/s².
const BRAKING: f32 = 6.0;
/// Seconds an incident's car is on the street before the impact.
const APPROACH_S: f32 = 5.0;
/// Seconds it stays after the impact.
const LINGER_S: f32 = 20.0;

/// A car's state as of the last tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Car {
    /// Index (its plates' ids are `2 × index` and `2 × index + 1`).
    pub index: u32,
    /// Ground position of its centre (x, z).
    pub position: Vec2,
    /// Heading, radians about +y (0 faces +z).
    pub heading: f32,
    /// Speed, m/s.
    pub speed: f32,
    /// Parked for the whole run.
    pub parked: bool,
    /// Body colour.
    pub colour: [u8; 3],
    /// Arc length along its loop.
    pub arc_m: f32,
    /// On the street (a car an incident drives is off site before its approach and after).
    pub present: bool,
}

/// A closed loop of straight edges (a rectangle round the plaza).
#[derive(Clone, Debug)]
struct Loop {
    corners: [Vec2; 4],
    length: f32,
}

impl Loop {
    /// Anticlockwise seen from above (x east, z south): north edge westwards, then west edge
    /// southwards, south edge eastwards, east edge northwards.
    fn new(half: Vec2) -> Self {
        let corners = [Vec2::new(half.x, -half.y), Vec2::new(-half.x, -half.y), Vec2::new(-half.x, half.y), Vec2::new(half.x, half.y)];
        Loop { corners, length: 4.0 * (half.x + half.y) }
    }

    /// Position and heading at arc length `s`.
    fn at(&self, s: f32) -> (Vec2, f32) {
        let mut s = s.rem_euclid(self.length);
        for k in 0..4 {
            let (a, b) = (self.corners[k], self.corners[(k + 1) % 4]);
            let edge = a.distance(b);
            if s <= edge {
                let d = (b - a) / edge;
                return (a + d * s, d.x.atan2(d.y));
            }
            s -= edge;
        }
        (self.corners[0], 0.0)
    }

    /// Arc length of the point of the loop nearest to `p`.
    fn arc_of(&self, p: Vec2) -> f32 {
        let mut best = (f32::MAX, 0.0);
        let mut start = 0.0;
        for k in 0..4 {
            let (a, b) = (self.corners[k], self.corners[(k + 1) % 4]);
            let edge = a.distance(b);
            let t = ((p - a).dot(b - a) / (edge * edge)).clamp(0.0, 1.0);
            let d = p.distance(a.lerp(b, t));
            if d < best.0 {
                best = (d, start + t * edge);
            }
            start += edge;
        }
        best.1
    }
}

/// A car driven by an incident: it reaches `arc_m` at `tick` at `speed`, then brakes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drive {
    /// The car.
    pub car: u32,
    /// Arc length of the collision point.
    pub arc_m: f32,
    /// Tick of the impact.
    pub tick: u64,
    /// Speed at impact, m/s.
    pub speed: f32,
}

/// All cars of the run.
#[derive(Clone, Debug)]
pub struct Traffic {
    lane: Loop,
    cars: Vec<Car>,
    cruise_mps: f32,
    drives: Vec<Drive>,
    /// Per crossing of the layout, the arc length on the lane where it begins.
    crossing_starts: Vec<f32>,
}

const COLOURS: [[u8; 3]; 8] = [[200, 200, 205], [30, 30, 35], [150, 20, 25], [20, 50, 120], [120, 125, 130], [235, 235, 230], [40, 90, 60], [170, 140, 60]];

impl Traffic {
    /// Places `parked` cars along the pavement kerb and `moving` cars evenly on the lane. An
    /// imported site has no lane yet (the scenario check refuses cars there): it gets no cars.
    pub fn new(layout: &SiteLayout, moving: u32, parked: u32, speed_kmh: f32, seed: u64) -> Self {
        let Some(ground) = layout.template_ground() else {
            let lane = Loop::new(Vec2::ONE);
            return Traffic { lane, cars: Vec::new(), cruise_mps: speed_kmh / 3.6, drives: Vec::new(), crossing_starts: vec![0.0; layout.crossings.len()] };
        };
        let street_width = ground.street_half[0] - ground.plaza_half[0];
        let lane = Loop::new(Vec2::from(ground.plaza_half) + Vec2::splat(street_width * 0.3));
        let kerb = Loop::new(Vec2::from(ground.street_half) - Vec2::splat(1.1));
        let mut rng = StreamRng::new(seed, 0, Purpose::Traffic);
        let mut cars = Vec::new();
        let spacing = lane.length / moving.max(1) as f32;
        for i in 0..moving {
            let arc_m = i as f32 * spacing + rng.range(0.0, spacing * 0.3);
            let (position, heading) = lane.at(arc_m);
            cars.push(Car { index: i, position, heading, speed: 0.0, parked: false, colour: COLOURS[rng.index(COLOURS.len())], arc_m, present: true });
        }
        // Parked cars avoid the crossings and the corners.
        let mut placed = 0;
        let mut attempts = 0;
        while placed < parked && attempts < 1000 {
            attempts += 1;
            let arc_m = rng.range(0.0, kerb.length);
            let (position, heading) = kerb.at(arc_m);
            let near_corner = kerb.corners.iter().any(|c| c.distance(position) < 6.0);
            let on_crossing = layout.crossings.iter().any(|c| {
                position.x > c.rect[0] - 3.5 && position.x < c.rect[2] + 3.5 && position.y > c.rect[1] - 3.5 && position.y < c.rect[3] + 3.5
            });
            let too_close = cars.iter().filter(|c| c.parked).any(|c| c.position.distance(position) < CAR_LENGTH_M + 1.0);
            if near_corner || on_crossing || too_close {
                continue;
            }
            cars.push(Car { index: moving + placed, position, heading, speed: 0.0, parked: true, colour: COLOURS[rng.index(COLOURS.len())], arc_m, present: true });
            placed += 1;
        }
        let crossing_starts = layout
            .crossings
            .iter()
            .map(|c| {
                let centre = Vec2::new(0.5 * (c.rect[0] + c.rect[2]), 0.5 * (c.rect[1] + c.rect[3]));
                let half_width = 0.5 * (c.rect[2] - c.rect[0]).min(c.rect[3] - c.rect[1]);
                lane.arc_of(centre) - half_width
            })
            .collect();
        Traffic { lane, cars, cruise_mps: speed_kmh / 3.6, drives: Vec::new(), crossing_starts }
    }

    /// Cruising speed, m/s.
    pub fn cruise_mps(&self) -> f32 {
        self.cruise_mps
    }

    /// The cars as of the last tick.
    pub fn cars(&self) -> &[Car] {
        &self.cars
    }

    /// Position and heading on the lane at arc length `arc_m`.
    pub fn lane_at(&self, arc_m: f32) -> (Vec2, f32) {
        self.lane.at(arc_m)
    }

    /// The point of the lane nearest to `p` and its arc length.
    pub fn lane_point(&self, p: Vec2) -> (Vec2, f32) {
        let arc = self.lane.arc_of(p);
        (self.lane.at(arc).0, arc)
    }

    /// Adds a car an incident drives: on the street from `approach_s` before `tick` to
    /// `linger_s` after it, reaching `arc_m` at `tick` at `speed`, then braking to a stop.
    /// Returns its index.
    pub fn schedule_drive(&mut self, arc_m: f32, tick: u64, speed: f32, colour_draw: usize) -> u32 {
        let index = self.cars.len() as u32;
        let (position, heading) = self.lane.at(arc_m);
        self.cars.push(Car { index, position, heading, speed: 0.0, parked: false, colour: COLOURS[colour_draw % COLOURS.len()], arc_m, present: false });
        self.drives.push(Drive { car: index, arc_m, tick, speed });
        index
    }

    /// Advances every moving car by `dt`; `on_crossings` says, per crossing of the layout,
    /// whether somebody is on it.
    pub fn step(&mut self, tick: u64, dt: f32, on_crossings: &[bool]) {
        let length = self.lane.length;
        let snapshot: Vec<(u32, f32, bool)> = self.cars.iter().map(|c| (c.index, c.arc_m, c.parked || !c.present)).collect();
        for car in self.cars.iter_mut().filter(|c| !c.parked) {
            if let Some(drive) = self.drives.iter().find(|d| d.car == car.index) {
                // Scripted: on schedule to the impact, then braking to a stop.
                let approach = (APPROACH_S / dt).round() as u64;
                let linger = (LINGER_S / dt).round() as u64;
                car.present = tick + approach >= drive.tick && tick <= drive.tick + linger;
                if tick <= drive.tick {
                    car.speed = drive.speed;
                    car.arc_m = drive.arc_m - drive.speed * (drive.tick - tick) as f32 * dt;
                } else {
                    car.speed = (car.speed - BRAKING * dt).max(0.0);
                    car.arc_m += car.speed * dt;
                }
            } else {
                let ahead = snapshot
                    .iter()
                    .filter(|(i, _, parked)| *i != car.index && !parked)
                    .map(|(_, s, _)| (s - car.arc_m).rem_euclid(length))
                    .fold(f32::MAX, f32::min);
                let mut limit = self.cruise_mps.min(((ahead - CAR_LENGTH_M - 2.0) / TIME_GAP_S).max(0.0));
                for (&start, &occupied) in self.crossing_starts.iter().zip(on_crossings) {
                    if !occupied {
                        continue;
                    }
                    let to_crossing = (start - car.arc_m).rem_euclid(length);
                    if to_crossing < 25.0 {
                        limit = limit.min(((to_crossing - CAR_LENGTH_M * 0.5 - 1.5) / TIME_GAP_S).max(0.0));
                    }
                }
                // Accelerate gently, brake as needed.
                car.speed = if limit > car.speed { (car.speed + 2.0 * dt).min(limit) } else { limit };
                car.arc_m += car.speed * dt;
            }
            car.arc_m = car.arc_m.rem_euclid(length);
            let (position, heading) = self.lane.at(car.arc_m);
            car.position = position;
            car.heading = heading;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crowdtwin_core::scenario::Site;
    use crowdtwin_core::site::example_site;

    #[test]
    fn cars_keep_their_distance_and_stop_for_a_crossing_in_use() {
        // No furniture: nothing in the way of the fall, the bag or the cars.
        let site = Site { benches: 0, transit_stop: false, trees: 0, ..example_site() };
        let layout = SiteLayout::template(&site, 1);
        let mut traffic = Traffic::new(&layout, 6, 4, 30.0, 1);
        assert_eq!(traffic.cars().iter().filter(|c| c.parked).count(), 4);
        for tick in 0..600 {
            traffic.step(tick, 0.1, &[false; 4]);
            let moving: Vec<&Car> = traffic.cars().iter().filter(|c| !c.parked).collect();
            for a in &moving {
                for b in &moving {
                    assert!(a.index == b.index || a.position.distance(b.position) > CAR_LENGTH_M, "cars {} and {} collide", a.index, b.index);
                }
                assert!(layout.on_street(a.position.x, a.position.y), "car {} off the street at {:?}", a.index, a.position);
            }
        }
        // Everybody on every crossing: after a while every moving car waits before one.
        for tick in 600..900 {
            traffic.step(tick, 0.1, &[true; 4]);
        }
        assert!(traffic.cars().iter().filter(|c| !c.parked).all(|c| c.speed < 0.1));
        for car in traffic.cars().iter().filter(|c| !c.parked) {
            for crossing in &layout.crossings {
                let r = crossing.rect;
                let inside = car.position.x > r[0] - 1.0 && car.position.x < r[2] + 1.0 && car.position.y > r[1] - 1.0 && car.position.y < r[3] + 1.0;
                assert!(!inside, "car {} stopped on a crossing", car.index);
            }
        }
    }
}
