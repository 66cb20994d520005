//! The director: stages the scenario's incidents and protected activities.
//!
//! At construction every entry of `incidents` becomes an [`IncidentPlan`]: its exact interval
//! in ticks, its place, its participants (drawn among the persons its `who` admits) and every
//! random choice of its choreography — drawn from the stream `(seed, index, Incident)`, so the
//! same seed stages the same performance and another seed a different one.
//!
//! During the run, participants live their normal trips until `lead` seconds before the start,
//! then walk to their marks (arriving from the nearest entrance when off site); from the start
//! tick to the end tick they perform; afterwards they walk off (a fallen person gets up first).
//! The ground truth is the plan itself: the interval is the scheduled one, whatever happens.

use crate::crowd::{Activity, Agent, ObjectPose, Order, Trip};
use crate::navigation::NavGrid;
use crate::physics::{BodyKey, Physics};
use crate::vehicles::Traffic;
use crate::population::PersonSpec;
use bevy::math::{Quat, Vec2, Vec3};
use crowdtwin_core::incident::{IncidentKind, Pairing, Place};
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::scenario::Carried;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_core::site::{ObstacleKind, SiteLayout};
use std::f32::consts::{FRAC_PI_2, PI, TAU};

/// Seconds before the start at which participants head for their marks.
const LEAD_S: f32 = 25.0;
/// Seconds a fallen person takes to get up.
const GET_UP_S: f32 = 1.5;

/// A thing the choreographies use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A bag (carried, then possibly left behind).
    Bag,
    /// A placard held up at an assembly.
    Placard,
}

/// A staged incident or protected activity: the exact ground truth and the choreography's draws.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentPlan {
    /// Index in the scenario's `incidents` list.
    pub index: u32,
    /// What happens.
    pub kind: IncidentKind,
    /// Whether it must not alert.
    pub protected: bool,
    /// First tick of the event.
    pub start_tick: u64,
    /// First tick after it (the event covers `start_tick..end_tick`).
    pub end_tick: u64,
    /// The persons taking part, by id.
    pub participants: Vec<u32>,
    /// The objects involved (the abandoned bag), by object index.
    pub objects: Vec<u32>,
    /// Its centre on the ground (x, z).
    pub centre: Vec2,
    /// The restricted zone (x0, z0, x1, z1), for loitering.
    pub zone: Option<[f32; 4]>,
    /// Intensity drawn for this instance, 0–1.
    pub intensity: f32,
    reserve_tick: u64,
    marks: Vec<Vec2>,
    facings: Vec<f32>,
    /// Per participant: phase offset, reaction delay (s), and a second draw (rate, run distance…).
    offsets: Vec<(f32, f32, f32)>,
    /// Fight: tick at which the first participant falls.
    fall_tick: Option<u64>,
    /// Abandoned object: tick at which the bag is put down.
    drop_tick: Option<u64>,
    /// Bench kinds: the seat centre and the bench's long axis (unit, on the ground).
    bench: Option<(Vec2, Vec2)>,
    /// Assembly: who holds a placard (object index).
    placards: Vec<Option<u32>>,
    /// Vehicle collision: the kerb mark, the impact point, the tick the victim steps off the
    /// kerb, the car's direction of travel and its speed at impact.
    collision: Option<(Vec2, Vec2, u64, Vec2, f32)>,
    cycle_s: f32,
}

impl IncidentPlan {
    /// Whether the event is under way on `tick`.
    pub fn is_active(&self, tick: u64) -> bool {
        (self.start_tick..self.end_tick).contains(&tick)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    Waiting,
    Approaching,
    Performing,
    Recovering { until: u64 },
    Done,
}

/// Where a bag is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BagState {
    Carried,
    Down,
    Gone,
}

/// Per participant scratch state of a running performance.
#[derive(Clone, Copy, Debug, Default)]
struct Mark {
    goal: Option<Vec2>,
    until: u64,
    fallen: bool,
}

/// Stages every plan.
pub struct Director {
    plans: Vec<IncidentPlan>,
    stages: Vec<Stage>,
    marks: Vec<Vec<Mark>>,
    rngs: Vec<StreamRng>,
    objects: Vec<ObjectKind>,
    bag_owner: Vec<Option<u32>>,
    bags: Vec<BagState>,
    heights: Vec<f32>,
    tick_hz: u32,
}

fn ticks(seconds: f32, hz: u32) -> u64 {
    (seconds * hz as f32).round().max(0.0) as u64
}

fn facing(from: Vec2, to: Vec2) -> f32 {
    let d = to - from;
    d.x.atan2(d.y)
}

/// A point where a group can gather (2 m clear, on foot) drawn uniformly from the site's extent,
/// or from `area` (a polygon of local metres) when given: 200 draws at most.
fn random_walkable_point(layout: &SiteLayout, area: Option<&[(f32, f32)]>, rng: &mut StreamRng) -> Option<Vec2> {
    let ring: Option<Vec<[f32; 2]>> = area.map(|a| a.iter().map(|&(x, z)| [x, z]).collect());
    let [x0, z0, x1, z1] = match &ring {
        Some(r) => r.iter().fold([f32::MAX, f32::MAX, f32::MIN, f32::MIN], |b, p| [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])]),
        None => layout.extent(),
    };
    (0..200).find_map(|_| {
        let p = Vec2::new(rng.range(x0, x1), rng.range(z0, z1));
        let inside = ring.as_ref().is_none_or(|r| crowdtwin_core::site::point_in_ring(r, p.x, p.y));
        (inside && layout.is_pedestrian_area(p.x, p.y, 2.0, false)).then_some(p)
    })
}

fn benches(layout: &SiteLayout) -> Vec<(Vec2, Vec2)> {
    layout
        .obstacles
        .iter()
        .filter(|o| o.kind == ObstacleKind::Bench)
        .map(|o| {
            let [sx, _, sz] = o.bounds.size();
            let [cx, _, cz] = o.bounds.centre();
            (Vec2::new(cx, cz), if sx >= sz { Vec2::X } else { Vec2::Y })
        })
        .collect()
}

impl Director {
    /// Plans every entry of the scenario's `incidents`.
    pub fn new(scenario: &Scenario, persons: &[PersonSpec], layout: &SiteLayout, nav: &NavGrid, traffic: &mut Traffic) -> Result<Self, String> {
        let hz = scenario.tick_hz;
        let total = scenario.total_ticks();
        let mut taken = vec![false; persons.len()];
        let mut plans = Vec::new();
        let mut rngs = Vec::new();
        let mut objects = Vec::new();
        let mut bag_owner = Vec::new();
        let site_benches = benches(layout);
        for (index, spec) in scenario.incidents.iter().enumerate() {
            let kind = spec.kind;
            let at = |message: String| format!("incidents[{index}] ({}): {message}", kind.name());
            let mut rng = StreamRng::new(scenario.seed, index as u64, Purpose::Incident);
            let duration = rng.range(spec.duration_s.0, spec.duration_s.1);
            let intensity = rng.range(spec.intensity.0, spec.intensity.1);
            let start_tick = ticks(spec.start_s, hz);
            let end_tick = (start_tick + ticks(duration, hz).max(1)).min(total.max(start_tick + 1));
            // The place.
            let (mut centre, zone) = match spec.place {
                Place::Random if layout.template_ground().is_none() || scenario.area.is_some() => (random_walkable_point(layout, scenario.area.as_deref(), &mut rng).ok_or_else(|| at("found no walkable point for a `random` place (in `area`, when given) in 200 draws".into()))?, None),
                Place::Random => {
                    let plaza = Vec2::from(layout.template_ground().expect("template").plaza_half) * 0.7;
                    let mut p = Vec2::new(rng.range(-plaza.x, plaza.x), rng.range(-plaza.y, plaza.y));
                    for _ in 0..50 {
                        if layout.is_pedestrian_area(p.x, p.y, 2.0, false) {
                            break;
                        }
                        p = Vec2::new(rng.range(-plaza.x, plaza.x), rng.range(-plaza.y, plaza.y));
                    }
                    (p, None)
                }
                Place::Point(x, z) => (Vec2::new(x, z), None),
                Place::Zone(x0, z0, x1, z1) => (Vec2::new(rng.range(x0, x1), rng.range(z0, z1)), Some([x0, z0, x1, z1])),
            };
            let zone = match (kind, zone) {
                (IncidentKind::Loitering, None) => Some([centre.x - 3.0, centre.y - 3.0, centre.x + 3.0, centre.y + 3.0]),
                (_, zone) => zone,
            };
            // A collision happens on the lane beside the plaza edge nearest to the place.
            let mut collision = None;
            if kind == IncidentKind::VehicleCollision {
                let Some(ground) = layout.template_ground() else {
                    return Err(at("needs the template's street ring: cars do not drive on imported sites yet".into()));
                };
                let half = Vec2::from(ground.plaza_half);
                let p = Vec2::new(centre.x.clamp(-half.x, half.x), centre.y.clamp(-half.y, half.y));
                let (dx, dz) = (half.x - p.x.abs(), half.y - p.y.abs());
                let (edge, outward) = if dx < dz {
                    (Vec2::new(half.x * p.x.signum(), p.y), Vec2::new(p.x.signum(), 0.0))
                } else {
                    (Vec2::new(p.x, half.y * p.y.signum()), Vec2::new(0.0, p.y.signum()))
                };
                let mark = edge - outward * 0.5;
                let (hit, arc) = traffic.lane_point(edge + outward);
                let speed = traffic.cruise_mps() * (0.6 + 0.4 * intensity);
                let step_off = start_tick.saturating_sub(ticks(mark.distance(hit) / 1.3, hz));
                traffic.schedule_drive(arc, start_tick, speed, rng.index(8));
                let heading = traffic.lane_at(arc).1;
                centre = hit;
                collision = Some((mark, hit, step_off, Vec2::new(heading.sin(), heading.cos()), speed));
            }
            let needs_bench = matches!(kind, IncidentKind::Vandalism | IncidentKind::SittingOnBench | IncidentKind::LyingOnBench);
            let bench = if needs_bench {
                if site_benches.is_empty() {
                    return Err(at("needs a bench, but the site has none (`site.benches`)".into()));
                }
                let chosen = match spec.place {
                    Place::Random => site_benches[rng.index(site_benches.len())],
                    _ => *site_benches.iter().min_by(|a, b| a.0.distance(centre).total_cmp(&b.0.distance(centre))).unwrap(),
                };
                centre = chosen.0;
                Some(chosen)
            } else {
                if collision.is_none() {
                    centre = nav.nearest_open(centre).unwrap_or(centre);
                }
                None
            };
            // The participants: persons the filter admits, ranked by a per-person key.
            let (low, high) = spec.participant_range();
            let count = (low + rng.index((high - low + 1) as usize) as u32) as usize;
            let who = spec.who();
            let mut eligible: Vec<(u64, u32)> = persons
                .iter()
                .filter(|p| !taken[p.id as usize] && who.admits(&p.demographics))
                .map(|p| (StreamRng::new(scenario.seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9), p.id as u64, Purpose::Incident).next_u64(), p.id))
                .collect();
            eligible.sort();
            // A bag snatch's victim (the first participant) carries a bag when anybody eligible does.
            if kind == IncidentKind::BagSnatch
                && let Some(at) = eligible.iter().position(|&(_, id)| persons[id as usize].carried == Carried::Bag)
            {
                let victim = eligible.remove(at);
                eligible.insert(0, victim);
            }
            if eligible.len() < count {
                return Err(at(format!(
                    "needs {count} participants that `who` admits and no other incident uses; the population has {}",
                    eligible.len()
                )));
            }
            let mut participants: Vec<u32> = eligible.iter().take(count).map(|&(_, id)| id).collect();
            if spec.pairing != Pairing::Any {
                // The first drawn, then the first after them whose presentation the pairing asks for.
                let gender = |id: u32| persons[id as usize].demographics.gender_presentation;
                let first = participants[0];
                let wanted = |id: u32| (gender(id) == gender(first)) == (spec.pairing == Pairing::Same);
                let Some(&(_, second)) = eligible.iter().skip(1).find(|&&(_, id)| wanted(id)) else {
                    return Err(at(format!("needs a {:?} pair that `who` admits and no other incident uses; the population has none", spec.pairing).to_lowercase()));
                };
                participants = vec![first, second];
            }
            for &p in &participants {
                taken[p as usize] = true;
            }
            // The marks and facings.
            let n = participants.len();
            let common = rng.range(-PI, PI);
            let mut marks = Vec::with_capacity(n);
            let mut facings = Vec::with_capacity(n);
            match kind {
                IncidentKind::Fight => {
                    let radius = rng.range(0.45, 0.6);
                    let turn = rng.range(0.0, TAU);
                    for k in 0..n {
                        let angle = turn + TAU * k as f32 / n as f32 + rng.range(-0.3, 0.3);
                        let mark = centre + Vec2::from_angle(angle) * radius;
                        marks.push(mark);
                        facings.push(facing(mark, centre));
                    }
                }
                IncidentKind::BagSnatch => {
                    // The victim on the spot, the snatcher some metres behind them.
                    let axis = Vec2::from_angle(common);
                    marks.push(centre);
                    facings.push(common);
                    let behind = centre - axis * rng.range(5.0, 8.0);
                    marks.push(behind);
                    facings.push(facing(behind, centre));
                }
                IncidentKind::Hug => {
                    let axis = Vec2::from_angle(common);
                    for sign in [1.0, -1.0] {
                        let mark = centre + axis * 0.17 * sign;
                        marks.push(mark);
                        facings.push(facing(mark, centre));
                    }
                }
                IncidentKind::Assembly | IncidentKind::Dispersal => {
                    // A loose crowd: random spots in a disc, at least `gap` apart.
                    let gap = 1.1 - 0.4 * intensity;
                    let radius = (n as f32 * gap * gap / PI).sqrt() * 1.25 + 0.5;
                    for _ in 0..n {
                        let mut best = centre;
                        for _ in 0..60 {
                            let candidate = centre + Vec2::from_angle(rng.range(0.0, TAU)) * radius * rng.unit().sqrt() as f32;
                            best = candidate;
                            if marks.iter().all(|m: &Vec2| m.distance(candidate) >= gap) && nav.is_open(candidate) {
                                break;
                            }
                        }
                        marks.push(best);
                        facings.push(if kind == IncidentKind::Assembly { common + rng.range(-0.4, 0.4) } else { facing(best, centre) + rng.range(-1.0, 1.0) });
                    }
                }
                IncidentKind::Prayer => {
                    let columns = (n as f32).sqrt().ceil() as usize;
                    let forward = Vec2::new(common.sin(), common.cos());
                    let right = Vec2::new(-forward.y, forward.x);
                    for k in 0..n {
                        let (row, column) = (k / columns, k % columns);
                        let lateral = (column as f32 - (columns as f32 - 1.0) * 0.5) * 1.0;
                        marks.push(centre + right * lateral - forward * row as f32 * 1.4);
                        facings.push(common);
                    }
                }
                IncidentKind::Busking => {
                    marks.push(centre);
                    facings.push(common);
                    let forward = Vec2::new(common.sin(), common.cos());
                    for k in 1..n {
                        let angle = (k as f32 - 0.5) / (n as f32 - 1.0) * PI - FRAC_PI_2 + rng.range(-0.1, 0.1);
                        let mark = centre + Vec2::from_angle(-angle).rotate(forward) * rng.range(2.3, 3.5);
                        marks.push(mark);
                        facings.push(facing(mark, centre));
                    }
                }
                IncidentKind::ChildrenPlaying => {
                    for _ in 0..n {
                        let mark = centre + Vec2::from_angle(rng.range(0.0, TAU)) * rng.range(0.5, 3.0);
                        marks.push(mark);
                        facings.push(rng.range(-PI, PI));
                    }
                }
                IncidentKind::Vandalism | IncidentKind::SittingOnBench | IncidentKind::LyingOnBench => {
                    let (seat, along) = bench.unwrap();
                    let front = Vec2::new(-along.y, along.x);
                    let side = if rng.unit() < 0.5 { 1.0 } else { -1.0 };
                    let mark = seat + front * side * 0.85 + along * rng.range(-0.4, 0.4);
                    marks.push(mark);
                    facings.push(facing(mark, seat));
                }
                IncidentKind::VehicleCollision => {
                    let (mark, hit, ..) = collision.unwrap();
                    marks.push(mark);
                    facings.push(facing(mark, hit));
                }
                _ => {
                    marks.push(centre);
                    facings.push(common);
                }
            }
            for mark in &mut marks {
                if !nav.is_open(*mark) && !needs_bench {
                    *mark = nav.nearest_open(*mark).unwrap_or(*mark);
                }
            }
            let offsets = (0..n).map(|_| (rng.range(0.0, TAU), rng.range(0.0, 0.6), rng.unit() as f32)).collect();
            let fall_tick = match kind {
                IncidentKind::Fight => Some(start_tick + ticks(duration * rng.range(0.35, 0.75), hz)),
                IncidentKind::Collapse | IncidentKind::VehicleCollision => Some(start_tick),
                _ => None,
            };
            let drop_tick = (kind == IncidentKind::AbandonedObject).then(|| start_tick.saturating_sub(ticks(spec.abandon_after_s, hz)));
            let mut plan_objects = Vec::new();
            let mut placards = vec![None; n];
            if kind == IncidentKind::AbandonedObject {
                plan_objects.push(objects.len() as u32);
                objects.push(ObjectKind::Bag);
                bag_owner.push(Some(participants[0]));
            }
            if kind == IncidentKind::Assembly {
                for (k, placard) in placards.iter_mut().enumerate() {
                    if k % 3 == 0 || rng.unit() < 0.3 * intensity as f64 {
                        *placard = Some(objects.len() as u32);
                        objects.push(ObjectKind::Placard);
                        bag_owner.push(None);
                    }
                }
            }
            let first_act = drop_tick.or(collision.map(|c| c.2)).unwrap_or(start_tick);
            plans.push(IncidentPlan {
                index: index as u32,
                kind,
                protected: kind.is_protected(),
                start_tick,
                end_tick,
                participants,
                objects: plan_objects,
                centre,
                zone,
                intensity,
                reserve_tick: first_act.saturating_sub(ticks(LEAD_S, hz)),
                marks,
                facings,
                offsets,
                fall_tick,
                drop_tick,
                bench,
                placards,
                collision,
                cycle_s: rng.range(6.0, 10.0),
            });
            rngs.push(rng);
        }
        let n = plans.len();
        Ok(Director {
            marks: plans.iter().map(|p| vec![Mark::default(); p.participants.len()]).collect(),
            plans,
            stages: vec![Stage::Waiting; n],
            bags: vec![BagState::Carried; objects.len()],
            rngs,
            objects,
            bag_owner,
            heights: persons.iter().map(|p| p.height_m).collect(),
            tick_hz: scenario.tick_hz,
        })
    }

    /// Participants of events that begin too early to walk in from anywhere on the site start
    /// within reach of their marks (at 60 % of the walking distance they have time for, at most 15 m).
    pub(crate) fn place_early(&mut self, agents: &mut [Agent], nav: &NavGrid, dt: f32) {
        for (p, plan) in self.plans.iter().enumerate() {
            if plan.reserve_tick > 0 {
                continue;
            }
            let available_s = plan.drop_tick.unwrap_or(plan.start_tick) as f32 * dt;
            for (k, &person) in plan.participants.iter().enumerate() {
                let agent = &mut agents[person as usize];
                let reach = (available_s * 0.6 * agent.free_speed).min(15.0);
                let direction = Vec2::from_angle(self.rngs[p].range(0.0, TAU));
                let spot = plan.marks[k] + direction * reach;
                agent.position = nav.nearest_open(spot).unwrap_or(spot);
                agent.heading = facing(agent.position, plan.marks[k]);
                agent.present = true;
            }
        }
    }

    /// The plans (the ground truth of every incident and protected activity).
    pub fn plans(&self) -> &[IncidentPlan] {
        &self.plans
    }

    /// Every object, by index.
    pub fn object_kinds(&self) -> Vec<(u32, ObjectKind)> {
        self.objects.iter().enumerate().map(|(i, &k)| (i as u32, k)).collect()
    }

    /// Gives the orders of everybody a plan directs on `tick`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn direct(
        &mut self,
        tick: u64,
        dt: f32,
        agents: &mut [Agent],
        physics: &mut Physics,
        layout: &SiteLayout,
        nav: &NavGrid,
        orders: &mut [Order],
    ) {
        for p in 0..self.plans.len() {
            let plan = &self.plans[p];
            let stage = self.stages[p];
            let next = match stage {
                Stage::Waiting if tick >= plan.reserve_tick => {
                    for (k, &person) in plan.participants.iter().enumerate() {
                        let agent = &mut agents[person as usize];
                        agent.scripted = true;
                        if !agent.present {
                            agent.present = true;
                            agent.position = nearest_exit(layout, nav, plan.marks[k]);
                        }
                    }
                    Stage::Approaching
                }
                Stage::Waiting => continue,
                Stage::Approaching if tick >= plan.start_tick => Stage::Performing,
                Stage::Performing if tick >= plan.end_tick => {
                    // Fallen participants get up; the rest walk off; a left bag is taken away.
                    let any_fallen = self.marks[p].iter().any(|m| m.fallen);
                    if plan.kind == IncidentKind::AbandonedObject {
                        physics.remove(BodyKey::Object(plan.objects[0]));
                        self.bags[plan.objects[0] as usize] = BagState::Gone;
                    }
                    if any_fallen { Stage::Recovering { until: tick + ticks(GET_UP_S, self.tick_hz) } } else { self.release(p, agents, layout, nav) }
                }
                Stage::Recovering { until } if tick >= until => {
                    for (k, &person) in self.plans[p].participants.iter().enumerate() {
                        if self.marks[p][k].fallen {
                            physics.remove(BodyKey::Person(person));
                        }
                    }
                    self.release(p, agents, layout, nav)
                }
                other => other,
            };
            self.stages[p] = next;
            match next {
                Stage::Approaching => self.approach(p, tick, dt, agents, physics, layout, nav, orders),
                Stage::Performing => self.perform(p, tick, dt, agents, physics, nav, orders),
                Stage::Recovering { until } => self.recover(p, tick, until, agents, physics, orders),
                Stage::Waiting | Stage::Done => {}
            }
        }
    }

    fn release(&mut self, p: usize, agents: &mut [Agent], layout: &SiteLayout, nav: &NavGrid) -> Stage {
        for &person in &self.plans[p].participants {
            let agent = &mut agents[person as usize];
            if agent.scripted {
                agent.scripted = false;
                agent.body = None;
                if agent.present {
                    agent.trip = Trip::Leaving { exit: nearest_exit(layout, nav, agent.position) };
                }
            }
        }
        Stage::Done
    }

    /// Before the start: everybody to their mark; the bag owner puts the bag down and leaves.
    #[allow(clippy::too_many_arguments)]
    fn approach(&mut self, p: usize, tick: u64, _dt: f32, agents: &mut [Agent], physics: &mut Physics, layout: &SiteLayout, nav: &NavGrid, orders: &mut [Order]) {
        let plan = &self.plans[p];
        for (k, &person) in plan.participants.iter().enumerate() {
            let i = person as usize;
            if !agents[i].scripted {
                continue; // the bag owner, gone
            }
            let mark = plan.marks[k];
            let speed = agents[i].free_speed;
            if let Some(drop) = plan.drop_tick {
                let crouch = ticks(0.8, self.tick_hz);
                if tick >= drop + crouch {
                    // Walk away and off site: back to a normal (leaving) trip.
                    agents[i].scripted = false;
                    agents[i].trip = Trip::Leaving { exit: farthest_exit(layout, nav, mark) };
                    continue;
                }
                if tick >= drop {
                    if tick == drop {
                        let a = &agents[i];
                        let right = Vec2::new(-a.heading.cos(), a.heading.sin());
                        let at = a.position + right * 0.3;
                        self.bags[plan.objects[0] as usize] = BagState::Down;
                        physics.drop_object(plan.objects[0], Vec3::new(at.x, 0.35, at.y), a.heading, Vec3::new(0.2, 0.15, 0.08), Vec3::ZERO);
                    }
                    orders[i] = Order { still: Activity::Crouching, face: Some(agents[i].heading), ..Order::stand() };
                    continue;
                }
            }
            if let Some((from, hit, step_off, _, _)) = plan.collision
                && tick >= step_off
            {
                // Across the carriageway, away from any crossing, straight into the car's path.
                let walk = (tick - step_off) as f32 / (plan.start_tick - step_off).max(1) as f32;
                orders[i] = Order { pinned: Some(from.lerp(hit, walk.min(1.0))), face: Some(facing(from, hit)), ..Order::stand() };
                orders[i].still = Activity::Walking;
                continue;
            }
            orders[i] = if agents[i].position.distance(mark) > 0.3 {
                Order { cohort: 100_000 + p as u32, ..Order::go(mark, speed) }
            } else {
                Order { face: Some(plan.facings[k]), cohort: 100_000 + p as u32, ..Order::stand() }
            };
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn perform(&mut self, p: usize, tick: u64, dt: f32, agents: &mut [Agent], physics: &mut Physics, nav: &NavGrid, orders: &mut [Order]) {
        let hz = self.tick_hz;
        let plan = &self.plans[p];
        let t = (tick - plan.start_tick) as f32 * dt;
        let cohort = 100_000 + p as u32;
        let intensity = plan.intensity;
        let n = plan.participants.len();
        for (k, &person) in plan.participants.iter().enumerate() {
            let i = person as usize;
            if !agents[i].scripted {
                continue;
            }
            let mark = plan.marks[k];
            let (phase0, delay, draw) = plan.offsets[k];
            let position = agents[i].position;
            let free = agents[i].free_speed;
            let far = position.distance(mark) > 0.4;
            let mut order = Order { cohort, ..Order::stand() };
            match plan.kind {
                IncidentKind::Fight | IncidentKind::Collapse | IncidentKind::VehicleCollision => {
                    let falls = plan.fall_tick.is_some_and(|f| tick >= f) && k == 0;
                    if falls {
                        if !self.marks[p][k].fallen {
                            self.marks[p][k].fallen = true;
                            let others: Vec<Vec2> = plan.participants[1..].iter().map(|&o| agents[o as usize].position).collect();
                            let direction = if others.is_empty() {
                                Vec2::from_angle(phase0)
                            } else {
                                (position - others.iter().copied().sum::<Vec2>() / others.len() as f32).normalize_or(Vec2::X)
                            };
                            let (direction, push) = match (plan.kind, plan.collision) {
                                (IncidentKind::Fight, _) => (direction, 1.0 + 1.5 * intensity),
                                // Thrown along the car's way.
                                (_, Some((_, _, _, travel, speed))) => (travel, 0.35 * speed),
                                _ => (direction, 0.3 + 0.5 * intensity),
                            };
                            physics.start_fall(person, position, agents[i].heading, self.heights[i], direction, push);
                        }
                        order = fallen_order(physics, person, self.heights[i], cohort);
                    } else if far && plan.kind == IncidentKind::Fight {
                        order = Order { cohort, moving: Activity::Running, ..Order::go(mark, free * 1.8) };
                    } else {
                        // Face the opponent, lunge with every strike, drift as they shove.
                        let target = agents[plan.participants[(k + 1) % n] as usize].position;
                        let rate = 1.0 + 2.0 * intensity + 0.5 * draw;
                        let phase = phase0 + TAU * rate * t;
                        let drift = Vec2::new((0.5 * t + phase0).sin(), (0.4 * t + 2.0 * phase0).cos()) * 0.25;
                        let towards = (target - mark).normalize_or(Vec2::X);
                        let lunge = towards * 0.12 * phase.sin().max(0.0);
                        let face = facing(position, target);
                        order = Order { pinned: Some(mark + drift + lunge), face: Some(face), still: Activity::Striking, action_phase: phase, cohort, ..Order::stand() };
                    }
                }
                IncidentKind::AbandonedObject => {}
                IncidentKind::BagSnatch => {
                    let victim = agents[plan.participants[0] as usize].position;
                    let snatcher = agents[plan.participants[1] as usize].position;
                    let state = &mut self.marks[p][1];
                    // The grab: the tick the snatcher reaches the victim, then 0.6 s of it.
                    if state.until == 0 && victim.distance(snatcher) < 0.7 {
                        state.until = tick + ticks(0.6, hz);
                    }
                    let grabbed = state.until;
                    if k == 1 {
                        order = if grabbed == 0 {
                            Order { cohort, moving: Activity::Running, ..Order::go(victim, free * (1.8 + 0.6 * intensity)) }
                        } else if tick < grabbed {
                            let face = facing(position, victim);
                            Order { pinned: Some(position), face: Some(face), still: Activity::Striking, action_phase: TAU * 2.0 * t, cohort, ..Order::stand() }
                        } else {
                            if state.goal.is_none() {
                                let away = (position - mark).normalize_or(Vec2::from_angle(phase0));
                                let goal = position + away.rotate(Vec2::from_angle(draw - 0.5)) * (15.0 + 10.0 * draw);
                                state.goal = Some(nav.nearest_open(goal).unwrap_or(goal));
                            }
                            Order { cohort, moving: Activity::Running, ..Order::go(state.goal.unwrap(), 3.5 + 2.0 * intensity) }
                        };
                    } else {
                        let chase_until = grabbed + ticks(1.0 + 1.5 * draw, hz);
                        order = if grabbed == 0 || tick < grabbed + ticks(0.3 + delay, hz) {
                            // Walking on, unaware; then startled.
                            Order { pinned: Some(position), face: Some(plan.facings[0]), still: Activity::Standing, cohort, ..Order::stand() }
                        } else if tick < chase_until {
                            Order { cohort, moving: Activity::Running, ..Order::go(snatcher, 2.0 + 1.0 * intensity) }
                        } else {
                            Order { face: Some(facing(position, snatcher)), cohort, ..Order::stand() }
                        };
                    }
                }
                IncidentKind::Loitering => {
                    let zone = plan.zone.unwrap();
                    let state = &mut self.marks[p][k];
                    let arrived = state.goal.is_none_or(|g| position.distance(g) < 0.4);
                    if arrived && tick >= state.until {
                        let rng = &mut self.rngs[p];
                        let goal = Vec2::new(rng.range(zone[0], zone[2]), rng.range(zone[1], zone[3]));
                        state.goal = Some(nav.nearest_open(goal).unwrap_or(goal));
                        state.until = tick + ticks(rng.range(3.0, 9.0), hz);
                    }
                    let goal = state.goal.unwrap();
                    order = if position.distance(goal) > 0.4 {
                        Order { cohort, ..Order::go(goal, 0.5 + 0.3 * intensity) }
                    } else {
                        Order { face: Some(phase0 + 0.7 * (0.2 * t).sin()), cohort, ..Order::stand() }
                    };
                }
                IncidentKind::Dispersal => {
                    if t < delay * (1.0 - intensity * 0.5) {
                        order = Order { face: Some(plan.facings[k]), cohort, ..Order::stand() };
                    } else {
                        let state = &mut self.marks[p][k];
                        if state.goal.is_none() {
                            let away = (mark - plan.centre).normalize_or(Vec2::from_angle(phase0));
                            let goal = mark + away * (8.0 + 8.0 * draw);
                            state.goal = Some(nav.nearest_open(goal).unwrap_or(goal));
                        }
                        let goal = state.goal.unwrap();
                        order = Order { moving: Activity::Running, ..Order::go(goal, 2.5 + 2.5 * intensity) };
                    }
                }
                IncidentKind::Vandalism => {
                    let (seat, _) = plan.bench.unwrap();
                    if far {
                        order = Order { cohort, ..Order::go(mark, free) };
                    } else {
                        // Bursts of blows with pauses.
                        let burst = (t / (2.0 + 2.0 * draw)).fract() < 0.4 + 0.4 * intensity;
                        let phase = if burst { phase0 + TAU * (1.2 + 1.5 * intensity) * t } else { 0.0 };
                        order = Order {
                            pinned: Some(mark),
                            face: Some(facing(mark, seat)),
                            still: if burst { Activity::Striking } else { Activity::Standing },
                            action_phase: phase,
                            cohort,
                            ..Order::stand()
                        };
                    }
                }
                IncidentKind::Assembly | IncidentKind::Busking | IncidentKind::StandingInReligiousDress => {
                    if far {
                        order = Order { cohort, ..Order::go(mark, free) };
                    } else {
                        let still = match (plan.kind, k) {
                            (IncidentKind::Assembly, _) if plan.placards[k].is_some() => Activity::HoldingPlacard,
                            (IncidentKind::Busking, 0) => Activity::Busking,
                            _ => Activity::Standing,
                        };
                        let sway = 0.15 * (0.6 * t + phase0).sin();
                        order = Order {
                            face: Some(plan.facings[k] + sway),
                            still,
                            action_phase: phase0 + TAU * (1.5 + intensity) * t,
                            cohort,
                            ..Order::stand()
                        };
                    }
                }
                IncidentKind::Prayer => {
                    if far {
                        order = Order { cohort, ..Order::go(mark, free) };
                    } else {
                        order = Order {
                            pinned: Some(mark),
                            face: Some(plan.facings[k]),
                            still: Activity::Kneeling,
                            action_phase: TAU * (t / plan.cycle_s) + 0.2 * phase0,
                            cohort,
                            ..Order::stand()
                        };
                    }
                }
                IncidentKind::Hug => {
                    if far {
                        // The last metres in a hurry, as into an embrace.
                        order = Order { cohort, ..Order::go(mark, free * 1.4) };
                    } else {
                        let other = agents[plan.participants[1 - k] as usize].position;
                        order = Order {
                            pinned: Some(mark),
                            face: Some(facing(mark, other)),
                            still: Activity::Hugging,
                            action_phase: 0.6 * t,
                            cohort,
                            ..Order::stand()
                        };
                    }
                }
                IncidentKind::ChildrenPlaying => {
                    let chaser = k == ((t / 6.0) as usize) % n;
                    let state = &mut self.marks[p][k];
                    let goal = if chaser {
                        plan.participants
                            .iter()
                            .filter(|&&o| o != person)
                            .map(|&o| agents[o as usize].position)
                            .min_by(|a, b| a.distance(position).total_cmp(&b.distance(position)))
                            .unwrap_or(mark)
                    } else {
                        if state.goal.is_none_or(|g| position.distance(g) < 0.5) {
                            let rng = &mut self.rngs[p];
                            let g = plan.centre + Vec2::from_angle(rng.range(0.0, TAU)) * rng.range(1.0, 5.0);
                            state.goal = Some(nav.nearest_open(g).unwrap_or(g));
                        }
                        state.goal.unwrap()
                    };
                    order = Order { moving: Activity::Running, ..Order::go(goal, 1.8 + 1.6 * intensity * (0.7 + 0.3 * draw)) };
                }
                IncidentKind::SittingOnBench | IncidentKind::LyingOnBench => {
                    let (seat, along) = plan.bench.unwrap();
                    let state = &mut self.marks[p][k];
                    if far && state.until == 0 {
                        order = Order { cohort, ..Order::go(mark, free) };
                    } else {
                        if state.until == 0 {
                            state.until = tick.max(1);
                        }
                        // Sit down over a second; lie down two seconds later.
                        let since = (tick - state.until) as f32 * dt;
                        let settle = (since / 1.0).min(1.0);
                        let back = (seat - mark).normalize_or(Vec2::Y);
                        let seat_spot = seat - back * 0.05;
                        let face = facing(seat, mark);
                        if plan.kind == IncidentKind::LyingOnBench && since > 3.0 {
                            order = Order { pinned: Some(seat), still: Activity::LyingOnBench, body: Some(lying_on_bench(seat, along, self.heights[i])), cohort, ..Order::stand() };
                        } else {
                            order = Order { pinned: Some(mark.lerp(seat_spot, settle)), face: Some(face), still: Activity::Sitting, action_phase: settle, cohort, ..Order::stand() };
                        }
                    }
                }
            }
            orders[i] = order;
        }
    }

    fn recover(&mut self, p: usize, tick: u64, until: u64, agents: &mut [Agent], physics: &Physics, orders: &mut [Order]) {
        let plan = &self.plans[p];
        let total = ticks(GET_UP_S, self.tick_hz).max(1) as f32;
        let progress = 1.0 - (until.saturating_sub(tick)) as f32 / total;
        for (k, &person) in plan.participants.iter().enumerate() {
            let i = person as usize;
            if !agents[i].scripted {
                continue;
            }
            if self.marks[p][k].fallen {
                let lying = fallen_order(physics, person, self.heights[i], 0);
                let (feet, rotation) = lying.body.unwrap_or((Vec3::new(agents[i].position.x, 0.0, agents[i].position.y), Quat::IDENTITY));
                let upright = Quat::from_rotation_y(agents[i].heading);
                let standing = Vec3::new(feet.x, 0.0, feet.z);
                let body = (feet.lerp(standing, progress), rotation.slerp(upright, progress));
                orders[i] = Order { pinned: Some(Vec2::new(body.0.x, body.0.z)), still: Activity::GettingUp, body: Some(body), ..Order::stand() };
            } else {
                orders[i] = Order { face: Some(agents[i].heading), ..Order::stand() };
            }
        }
    }

    /// Poses of every object on `tick` (after the agents moved).
    pub(crate) fn objects(&self, agents: &[Agent], physics: &Physics) -> Vec<ObjectPose> {
        self.objects
            .iter()
            .enumerate()
            .map(|(index, &kind)| {
                let index = index as u32;
                let hidden = ObjectPose { index, kind, present: false, centre: Vec3::new(0.0, -10.0, 0.0), rotation: Quat::IDENTITY };
                match kind {
                    ObjectKind::Bag => {
                        let Some(owner) = self.bag_owner[index as usize] else { return hidden };
                        match (self.bags[index as usize], physics.pose(BodyKey::Object(index))) {
                            (BagState::Down, Some(pose)) => {
                                return ObjectPose { index, kind, present: true, centre: pose.centre, rotation: pose.rotation };
                            }
                            (BagState::Carried, _) => {}
                            _ => return hidden,
                        }
                        let owner = &agents[owner as usize];
                        if !owner.present {
                            return hidden;
                        }
                        // Carried at the right hand.
                        let right = Vec2::new(-owner.heading.cos(), owner.heading.sin());
                        let at = owner.position + right * 0.3;
                        let hand = self.heights[owner.id as usize] * 0.38;
                        ObjectPose { index, kind, present: true, centre: Vec3::new(at.x, hand, at.y), rotation: Quat::from_rotation_y(owner.heading) }
                    }
                    ObjectKind::Placard => {
                        let Some((p, k)) = self.plans.iter().enumerate().find_map(|(p, plan)| {
                            plan.placards.iter().position(|&o| o == Some(index)).map(|k| (p, k))
                        }) else {
                            return hidden;
                        };
                        let holder = &agents[self.plans[p].participants[k] as usize];
                        if holder.activity != Activity::HoldingPlacard || !holder.present {
                            return hidden;
                        }
                        let forward = Vec2::new(holder.heading.sin(), holder.heading.cos());
                        let at = holder.position + forward * 0.3;
                        let top = self.heights[holder.id as usize] + 0.35;
                        ObjectPose { index, kind, present: true, centre: Vec3::new(at.x, top, at.y), rotation: Quat::from_rotation_y(holder.heading) }
                    }
                }
            })
            .collect()
    }
}

/// A fallen person's order: the body where physics has it.
fn fallen_order(physics: &Physics, person: u32, height_m: f32, cohort: u32) -> Order {
    let Some(pose) = physics.pose(BodyKey::Person(person)) else { return Order { still: Activity::Fallen, cohort, ..Order::stand() } };
    let feet = pose.centre - pose.rotation * Vec3::new(0.0, height_m * 0.5, 0.0);
    Order { pinned: Some(Vec2::new(pose.centre.x, pose.centre.z)), still: Activity::Fallen, body: Some((feet, pose.rotation)), cohort, ..Order::stand() }
}

/// Lying along a bench on the back: the body's up axis along the bench, its front to the sky.
fn lying_on_bench(seat: Vec2, along: Vec2, height_m: f32) -> (Vec3, Quat) {
    let along3 = Vec3::new(along.x, 0.0, along.y);
    // Standing body: up = +y, front = +z. Lying: up → along the bench, front → +y.
    let rotation = Quat::from_mat3(&bevy::math::Mat3::from_cols(along3.cross(Vec3::Y), along3, Vec3::Y));
    let feet = Vec3::new(seat.x, 0.58, seat.y) - along3 * height_m * 0.5;
    (feet, rotation)
}

fn nearest_exit(layout: &SiteLayout, nav: &NavGrid, to: Vec2) -> Vec2 {
    let exit = layout.exits().map(Vec2::from).min_by(|a, b| a.distance(to).total_cmp(&b.distance(to))).unwrap_or(to);
    nav.nearest_open(exit).unwrap_or(exit)
}

fn farthest_exit(layout: &SiteLayout, nav: &NavGrid, from: Vec2) -> Vec2 {
    let exit = layout.exits().map(Vec2::from).max_by(|a, b| a.distance(from).total_cmp(&b.distance(from))).unwrap_or(from);
    nav.nearest_open(exit).unwrap_or(exit)
}
