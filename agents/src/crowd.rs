//! The crowd model: everybody's trips, groups, movement and choreographies, one fixed tick at a time.
//!
//! Plain data (no Bevy ECS): the Bevy systems copy [`CrowdModel::poses`] onto entities, and the
//! crowd tests and benchmarks run it alone. Each tick reads top-down:
//! 1. the director updates the scripted incidents and protected activities ([`crate::incidents`]);
//! 2. everybody else follows their trip (arrive, visit points of interest, leave) or their group;
//! 3. orders become desired directions along A* routes ([`crate::navigation`]);
//! 4. the collision-free speed model moves everybody at once ([`crate::pedestrians`]), and no
//!    step may end off the pedestrian area (a move that would is cut back or refused);
//! 5. physics advances falls and dropped objects ([`crate::physics`]).

use crate::incidents::{Director, IncidentPlan, ObjectKind};
use crate::navigation::NavGrid;
use crate::pedestrians::{velocities, NeighbourGrid, SpeedModel, Walker, WallContact, Walls};
use crate::physics::Physics;
use crate::population::PersonSpec;
use crate::vehicles::{Car, Traffic};
use bevy::math::{Quat, Vec2, Vec3};
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::scenario::{Flow, Groups, Scenario};
use crowdtwin_core::site::{Ground, PointOfInterest, SiteLayout};
use crowdtwin_core::taxonomy::{AgeGroup, MobilityAid};
use std::f32::consts::{PI, TAU};
use std::sync::Arc;

/// What a person's body is doing (the renderer poses the joints from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activity {
    /// Walking (or wheeling).
    Walking,
    /// Running.
    Running,
    /// Standing still.
    Standing,
    /// Sitting on a bench.
    Sitting,
    /// Lying on a bench.
    LyingOnBench,
    /// Striking with the arms (fight, vandalism).
    Striking,
    /// On the ground after a fall (the body pose comes from physics).
    Fallen,
    /// Getting up after a fall.
    GettingUp,
    /// Kneeling; `action_phase` is the bow.
    Kneeling,
    /// Hugging somebody.
    Hugging,
    /// Holding a placard up.
    HoldingPlacard,
    /// Playing an instrument.
    Busking,
    /// Crouching to put something down.
    Crouching,
}

/// A person's pose as of the last tick: everything the renderer and the ground truth need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentPose {
    /// Person id.
    pub person: u32,
    /// On site (absent persons are not drawn).
    pub present: bool,
    /// Ground position (x, z).
    pub position: Vec2,
    /// Heading, radians about +y (0 faces +z, south).
    pub heading: f32,
    /// Speed, m/s.
    pub speed: f32,
    /// Walk-cycle phase, radians.
    pub gait_phase: f32,
    /// What the body does.
    pub activity: Activity,
    /// Phase of the activity's own cycle (strikes, bows, strumming), radians.
    pub action_phase: f32,
    /// When the whole body is laid or tipped (falls, lying on a bench): the rotation of the
    /// standing body and the position of its feet-origin, replacing position and heading.
    pub body: Option<(Vec3, Quat)>,
    /// Seated in a wheelchair.
    pub wheelchair: bool,
}

/// An object's pose as of the last tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObjectPose {
    /// Object index (its ground-truth id is `GroundTruthId::Object(index)`).
    pub index: u32,
    /// What it is.
    pub kind: ObjectKind,
    /// In the scene.
    pub present: bool,
    /// Centre.
    pub centre: Vec3,
    /// Orientation.
    pub rotation: Quat,
}

/// What somebody is told to do this tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Order {
    /// Where to go (`None`: stay).
    pub destination: Option<Vec2>,
    /// Speed to go there at.
    pub speed: f32,
    /// Activity while moving (walking or running).
    pub moving: Activity,
    /// Activity when not moving.
    pub still: Activity,
    /// Heading to turn to when not moving.
    pub face: Option<f32>,
    /// Members of one cohort may touch.
    pub cohort: u32,
    /// Set the position exactly (sitting on a bench, lunging at an opponent): bypasses the model.
    pub pinned: Option<Vec2>,
    /// Phase of the activity's cycle.
    pub action_phase: f32,
    /// Body pose override.
    pub body: Option<(Vec3, Quat)>,
}

impl Order {
    pub(crate) fn stand() -> Self {
        Order {
            destination: None,
            speed: 0.0,
            moving: Activity::Walking,
            still: Activity::Standing,
            face: None,
            cohort: 0,
            pinned: None,
            action_phase: 0.0,
            body: None,
        }
    }

    pub(crate) fn go(destination: Vec2, speed: f32) -> Self {
        Order { destination: Some(destination), speed, ..Order::stand() }
    }
}

/// A trip's stage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Trip {
    /// Off site until this tick.
    Away { until: u64 },
    /// Walking to a point of interest.
    Visiting { target: Vec2, visits_left: u32 },
    /// Staying at a point of interest.
    Dwelling { until: u64, visits_left: u32, facing: f32 },
    /// Walking to an exit.
    Leaving { exit: Vec2 },
}

/// One person inside the model.
#[derive(Clone, Debug)]
pub(crate) struct Agent {
    pub id: u32,
    pub radius: f32,
    pub free_speed: f32,
    pub wheelchair: bool,
    pub present: bool,
    pub position: Vec2,
    pub heading: f32,
    pub speed: f32,
    pub gait_phase: f32,
    pub stride_m: f32,
    pub activity: Activity,
    pub action_phase: f32,
    pub body: Option<(Vec3, Quat)>,
    pub trip: Trip,
    /// Chosen for an incident or protected activity (walks alone, never in a group).
    pub participant: bool,
    /// Index of the group's leader when following one.
    leader: Option<usize>,
    /// Slot beside or behind the leader (lateral, back) in metres.
    slot: Vec2,
    /// The incident or protected activity directing this person, from its reservation on.
    pub scripted: bool,
    route: Vec<Vec2>,
    route_goal: Option<Vec2>,
    rng: StreamRng,
}

/// How far a person on an imported site goes for a point of interest, metres.
pub const MAX_TRIP_M: f32 = 300.0;

/// Obstacles and the site's outer boundary as walls for the speed model.
struct SiteWalls<'a>(&'a SiteLayout);

impl Walls for SiteWalls<'_> {
    fn near(&self, p: Vec2, range: f32, out: &mut Vec<WallContact>) {
        let layout = self.0;
        // An imported site's furniture is in its raster: the scan below finds it.
        let boxes: &[crowdtwin_core::site::Obstacle] = if layout.template_ground().is_some() { &layout.obstacles } else { &[] };
        for obstacle in boxes {
            let b = &obstacle.bounds;
            let nearest = Vec2::new(p.x.clamp(b.min[0], b.max[0]), p.y.clamp(b.min[2], b.max[2]));
            let away = p - nearest;
            let distance = away.length();
            if distance > 1e-5 && distance < range {
                out.push((away / distance, distance));
            }
        }
        match &layout.ground {
            Ground::Template(t) => {
                let [hx, hz] = t.walkable_half;
                for (distance, normal) in [(p.x + hx, Vec2::X), (hx - p.x, Vec2::NEG_X), (p.y + hz, Vec2::Y), (hz - p.y, Vec2::NEG_Y)] {
                    if distance < range {
                        out.push((normal, distance.max(0.0)));
                    }
                }
            }
            // An imported site's edge is wherever the raster stops being walkable (façades, fences
            // of unmapped land, grass): the nearest such cell in range is one wall.
            Ground::Map(map) => {
                let step = map.cell_m.max(0.2);
                let reach = (range / step).ceil() as i32;
                let mut nearest: Option<(f32, Vec2)> = None;
                for j in -reach..=reach {
                    for i in -reach..=reach {
                        let q = p + Vec2::new(i as f32 * step, j as f32 * step);
                        let d = q.distance(p);
                        if d < range && !map.at(q.x, q.y).walkable() && nearest.is_none_or(|(best, _)| d < best) {
                            nearest = Some((d, q));
                        }
                    }
                }
                if let Some((d, q)) = nearest
                    && d > 1e-5
                {
                    out.push(((p - q) / d, (d - 0.5 * step).max(0.0)));
                }
            }
        }
    }
}

/// The whole crowd of one scenario.
pub struct CrowdModel {
    layout: Arc<SiteLayout>,
    nav_on_foot: NavGrid,
    nav_wheelchair: NavGrid,
    model: SpeedModel,
    pub(crate) agents: Vec<Agent>,
    director: Director,
    pub(crate) physics: Physics,
    traffic: Traffic,
    neighbours: NeighbourGrid,
    flow: Flow,
    dt: f32,
    tick_hz: u32,
    tick: u64,
    /// Persons put on a mark by [`CrowdModel::stage`] (tests, staged shots).
    staged: std::collections::BTreeMap<u32, (Vec2, f32)>,
}

/// Radius of a body for the speed model: wheelchairs are wider and longer.
fn body_radius(spec: &PersonSpec) -> f32 {
    match (spec.demographics.mobility_aid, spec.demographics.age_group) {
        (MobilityAid::Wheelchair, _) => 0.35,
        (_, AgeGroup::Child) => 0.15,
        _ => crate::pedestrians::ADULT_RADIUS_M,
    }
}

impl CrowdModel {
    /// Builds the crowd of `scenario`: groups, incidents and every person's first trip.
    /// Fails when an incident cannot find the participants it asks for.
    pub fn new(scenario: &Scenario, persons: &[PersonSpec], layout: Arc<SiteLayout>) -> Result<Self, String> {
        let seed = scenario.seed;
        let dt = scenario.dt();
        let nav_on_foot = NavGrid::build(&layout, 0.5, 0.3, false);
        let nav_wheelchair = NavGrid::build(&layout, 0.5, 0.42, true);
        let mut agents: Vec<Agent> = persons
            .iter()
            .map(|spec| {
                let mut gait = StreamRng::new(seed, spec.id as u64, Purpose::Gait);
                Agent {
                    id: spec.id,

                    radius: body_radius(spec),
                    free_speed: spec.preferred_speed_mps,
                    wheelchair: spec.demographics.mobility_aid == MobilityAid::Wheelchair,
                    present: false,
                    position: Vec2::ZERO,
                    heading: 0.0,
                    speed: 0.0,
                    gait_phase: gait.range(0.0, TAU),
                    stride_m: 0.83 * spec.height_m,
                    activity: Activity::Standing,
                    action_phase: 0.0,
                    body: None,
                    trip: Trip::Away { until: 0 },
                    participant: false,
                    leader: None,
                    slot: Vec2::ZERO,
                    scripted: false,
                    route: Vec::new(),
                    route_goal: None,
                    rng: StreamRng::new(seed, spec.id as u64, Purpose::Trips),
                }
            })
            .collect();
        let spec = &scenario.traffic;
        let mut traffic = Traffic::new(&layout, spec.moving_cars, spec.parked_cars, spec.speed_kmh, seed);
        let director = Director::new(scenario, persons, &layout, &nav_on_foot, &mut traffic)?;
        for plan in director.plans() {
            for &person in &plan.participants {
                agents[person as usize].participant = true;
            }
        }
        form_groups(&mut agents, persons, &scenario.population.groups, seed);
        let mut crowd = CrowdModel {
            physics: Physics::new(&layout, dt),
            traffic,
            layout,
            nav_on_foot,
            nav_wheelchair,
            model: SpeedModel::default(),
            agents,
            director,
            neighbours: NeighbourGrid::default(),
            flow: scenario.population.flow.clone(),
            dt,
            tick_hz: scenario.tick_hz,
            tick: 0,
            staged: Default::default(),
        };
        crowd.place_at_start(seed, scenario.total_ticks());
        crowd.director.place_early(&mut crowd.agents, &crowd.nav_on_foot, dt);
        Ok(crowd)
    }

    /// Who is on site at the start (a quota-exact share, by per-person keys), where, and when the rest arrive.
    fn place_at_start(&mut self, seed: u64, total_ticks: u64) {
        let leaders: Vec<usize> = (0..self.agents.len()).filter(|&i| self.agents[i].leader.is_none()).collect();
        let mut keyed: Vec<(u64, usize)> =
            leaders.iter().map(|&i| (StreamRng::new(seed, self.agents[i].id as u64, Purpose::Trips).next_u64(), i)).collect();
        keyed.sort();
        let present = (self.flow.present_at_start as f64 * keyed.len() as f64).round() as usize;
        let mut placed: Vec<Vec2> = Vec::new();
        for (rank, &(_, i)) in keyed.iter().enumerate() {
            if rank < present {
                let nav = if self.agents[i].wheelchair { &self.nav_wheelchair } else { &self.nav_on_foot };
                let agent = &mut self.agents[i];
                let mut spot = random_open(nav, &mut agent.rng);
                for _ in 0..20 {
                    if placed.iter().all(|p| p.distance(spot) > 0.8) {
                        break;
                    }
                    spot = random_open(nav, &mut agent.rng);
                }
                placed.push(spot);
                agent.present = true;
                agent.position = spot;
                agent.heading = agent.rng.range(-PI, PI);
                let visits_left = draw_visits(&self.flow, &mut agent.rng);
                agent.trip = Trip::Visiting { target: Vec2::ZERO, visits_left };
                let target = self.pick_point_of_interest(i);
                if let Trip::Visiting { target: t, .. } = &mut self.agents[i].trip {
                    *t = target;
                }
            } else {
                let agent = &mut self.agents[i];
                agent.trip = Trip::Away { until: (agent.rng.unit() * total_ticks as f64) as u64 };
            }
        }
        // Followers start beside their leaders.
        for i in 0..self.agents.len() {
            if let Some(leader) = self.agents[i].leader {
                let (present, at, heading) = (self.agents[leader].present, self.agents[leader].position, self.agents[leader].heading);
                let spot = at + Vec2::from_angle(-heading).rotate(self.agents[i].slot);
                let agent = &mut self.agents[i];
                agent.present = present;
                agent.position = self.nav_on_foot.nearest_open(spot).unwrap_or(spot);
                agent.heading = heading;
            }
        }
    }

    /// Puts a person on a mark, standing still facing `heading` (0 = +z), from now on: for tests
    /// and staged shots. Returns false for an unknown id.
    pub fn stage(&mut self, person: u32, at: Vec2, heading: f32) -> bool {
        let Some(agent) = self.agents.get_mut(person as usize) else { return false };
        agent.present = true;
        agent.scripted = true;
        agent.position = at;
        agent.heading = heading;
        agent.speed = 0.0;
        agent.activity = Activity::Standing;
        agent.body = None;
        self.staged.insert(person, (at, heading));
        true
    }

    /// The incidents and protected activities as planned (exact ground truth).
    pub fn incidents(&self) -> &[IncidentPlan] {
        self.director.plans()
    }

    /// The laid-out site.
    pub fn layout(&self) -> &SiteLayout {
        &self.layout
    }

    /// The next tick to simulate.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Advances the crowd by one tick.
    pub fn step(&mut self) {
        let tick = self.tick;
        let mut orders = vec![Order::stand(); self.agents.len()];
        self.director.direct(tick, self.dt, &mut self.agents, &mut self.physics, &self.layout, &self.nav_on_foot, &mut orders);
        for i in 0..self.agents.len() {
            if !self.agents[i].scripted && self.agents[i].leader.is_none() {
                orders[i] = self.follow_trip(i, tick);
            }
        }
        for i in 0..self.agents.len() {
            if let Some(leader) = self.agents[i].leader {
                orders[i] = self.follow_leader(i, leader);
            }
        }
        for (&person, &(at, heading)) in &self.staged {
            self.agents[person as usize].present = true;
            orders[person as usize] = Order { pinned: Some(at), face: Some(heading), ..Order::stand() };
        }
        self.move_everybody(&orders);
        self.physics.step();
        let on_crossings: Vec<bool> = self
            .layout
            .crossings
            .iter()
            .map(|c| {
                let r = c.rect;
                self.agents.iter().any(|a| a.present && a.position.x > r[0] - 0.3 && a.position.x < r[2] + 0.3 && a.position.y > r[1] - 0.3 && a.position.y < r[3] + 0.3)
            })
            .collect();
        self.traffic.step(tick, self.dt, &on_crossings);
        self.tick += 1;
    }

    fn pick_point_of_interest(&mut self, i: usize) -> Vec2 {
        let layout = self.layout.clone();
        let nav = if self.agents[i].wheelchair { &self.nav_wheelchair } else { &self.nav_on_foot };
        let agent = &mut self.agents[i];
        let all = &layout.points_of_interest;
        // On an imported site people go to places within a walk (a city centre has thousands of
        // them, kilometres apart); the template's plaza is small enough for all of them.
        let near: Vec<PointOfInterest>;
        let pois: &[PointOfInterest] = if layout.template_ground().is_some() {
            all
        } else {
            near = all.iter().filter(|p| Vec2::from(p.position).distance(agent.position) <= MAX_TRIP_M).copied().collect();
            if near.is_empty() { all } else { &near }
        };
        let point = if pois.is_empty() || agent.rng.unit() < 0.15 {
            random_open(nav, &mut agent.rng)
        } else {
            let poi = pois[agent.rng.index(pois.len())];
            let jitter = Vec2::new(agent.rng.range(-1.0, 1.0), agent.rng.range(-1.0, 1.0));
            Vec2::from(poi.position) + jitter
        };
        nav.nearest_open(point).unwrap_or(point)
    }

    fn pick_exit(&mut self, i: usize) -> Vec2 {
        let exits: Vec<Vec2> = self.layout.exits().map(Vec2::from).collect();
        let nav = if self.agents[i].wheelchair { &self.nav_wheelchair } else { &self.nav_on_foot };
        let agent = &mut self.agents[i];
        let exit = if exits.is_empty() { random_open(nav, &mut agent.rng) } else { exits[agent.rng.index(exits.len())] };
        nav.nearest_open(exit).unwrap_or(exit)
    }

    /// The trip of somebody not in a group's tail and not scripted.
    fn follow_trip(&mut self, i: usize, tick: u64) -> Order {
        let ticks = |seconds: f32, hz: u32| (seconds * hz as f32).round().max(1.0) as u64;
        let free_speed = self.agents[i].free_speed;
        match self.agents[i].trip {
            Trip::Away { until } => {
                if tick < until {
                    self.agents[i].present = false;
                    return Order::stand();
                }
                // Arrive through an entrance or off the transit stop.
                let entrance = self.pick_exit(i);
                let visits_left = draw_visits(&self.flow, &mut self.agents[i].rng);
                let target = self.pick_point_of_interest(i);
                let agent = &mut self.agents[i];
                agent.present = true;
                agent.position = entrance;
                agent.route_goal = None;
                agent.trip = Trip::Visiting { target, visits_left };
                self.arrive_group(i);
                Order::go(target, free_speed)
            }
            Trip::Visiting { target, visits_left } => {
                if self.agents[i].position.distance(target) < 0.6 {
                    let (low, high) = self.flow.dwell_s;
                    let agent = &mut self.agents[i];
                    let dwell = agent.rng.range(low, high);
                    let facing = agent.heading;
                    agent.trip = Trip::Dwelling { until: tick + ticks(dwell, self.tick_hz), visits_left, facing };
                    return Order::stand();
                }
                Order::go(target, free_speed)
            }
            Trip::Dwelling { until, visits_left, facing } => {
                if tick < until {
                    return Order { face: Some(facing), ..Order::stand() };
                }
                if visits_left > 1 {
                    let target = self.pick_point_of_interest(i);
                    self.agents[i].trip = Trip::Visiting { target, visits_left: visits_left - 1 };
                    Order::go(target, free_speed)
                } else {
                    let exit = self.pick_exit(i);
                    self.agents[i].trip = Trip::Leaving { exit };
                    Order::go(exit, free_speed)
                }
            }
            Trip::Leaving { exit } => {
                if self.agents[i].position.distance(exit) < 0.8 {
                    let (low, high) = self.flow.absence_s;
                    let agent = &mut self.agents[i];
                    let away = agent.rng.range(low, high);
                    agent.trip = Trip::Away { until: tick + ticks(away, self.tick_hz) };
                    agent.present = false;
                    return Order::stand();
                }
                Order::go(exit, free_speed)
            }
        }
    }

    /// Group members arrive with their leader.
    fn arrive_group(&mut self, leader: usize) {
        let at = self.agents[leader].position;
        for i in 0..self.agents.len() {
            if self.agents[i].leader == Some(leader) {
                let spot = at + self.agents[i].slot * 0.5;
                let agent = &mut self.agents[i];
                agent.present = true;
                agent.position = self.nav_on_foot.nearest_open(spot).unwrap_or(spot);
                agent.route_goal = None;
            }
        }
    }

    fn follow_leader(&mut self, i: usize, leader: usize) -> Order {
        let (present, at, heading, speed) =
            (self.agents[leader].present, self.agents[leader].position, self.agents[leader].heading, self.agents[leader].speed);
        self.agents[i].present = present;
        if !present {
            return Order::stand();
        }
        // The slot is in the leader's frame: x to the leader's right, y behind.
        let forward = Vec2::new(heading.sin(), heading.cos());
        let right = Vec2::new(-forward.y, forward.x);
        let slot = self.agents[i].slot;
        let spot = at + right * slot.x - forward * slot.y;
        let gap = self.agents[i].position.distance(spot);
        if gap < 0.3 && speed < 0.1 {
            return Order { face: Some(heading), cohort: leader as u32 + 1, ..Order::stand() };
        }
        let catch_up = (speed + gap * 0.8).min(self.agents[i].free_speed * 1.4);
        Order { cohort: leader as u32 + 1, ..Order::go(spot, catch_up.max(0.3)) }
    }

    /// Turns orders into movement: routes, the speed model, the pedestrian-area constraint.
    fn move_everybody(&mut self, orders: &[Order]) {
        let dt = self.dt;
        let mut walkers = Vec::with_capacity(self.agents.len());
        for (i, order) in orders.iter().enumerate() {
            let agent = &self.agents[i];
            let nav = if agent.wheelchair { &self.nav_wheelchair } else { &self.nav_on_foot };
            let mut desired = Vec2::ZERO;
            let mut free_speed = 0.0;
            if let (Some(destination), None) = (order.destination, order.pinned) {
                let agent = &mut self.agents[i];
                if agent.route_goal != Some(destination) || agent.route.is_empty() {
                    agent.route = nav.find_path(agent.position, destination).unwrap_or_else(|| vec![destination]);
                    agent.route_goal = Some(destination);
                }
                while agent.route.len() > 1 && agent.position.distance(agent.route[0]) < 0.5 {
                    agent.route.remove(0);
                }
                let waypoint = agent.route[0];
                let to = waypoint - agent.position;
                let distance = agent.position.distance(destination);
                if to.length() > 0.05 && distance > 0.1 {
                    desired = to.normalize();
                    // Slow down on the last metre instead of overshooting.
                    free_speed = order.speed.min(distance / dt.max(1e-3) * 0.5).min(order.speed);
                }
            }
            let agent = &self.agents[i];
            // Bodies on the ground or kneeling take more room than a standing disc.
            let footprint = match agent.activity {
                Activity::Kneeling | Activity::Fallen | Activity::GettingUp | Activity::Crouching => 2.5,
                _ => 1.0,
            };
            walkers.push(Walker {
                position: agent.position,
                radius: agent.radius * footprint,
                free_speed,
                desired,
                present: agent.present,
                cohort: order.cohort,
            });
        }
        self.neighbours.rebuild(&walkers, self.model.interaction_radius_m);
        let velocity = velocities(&self.model, &walkers, &self.neighbours, &SiteWalls(&self.layout));
        for (i, order) in orders.iter().enumerate() {
            let layout = &self.layout;
            let agent = &mut self.agents[i];
            if !agent.present {
                agent.speed = 0.0;
                agent.body = None;
                continue;
            }
            let before = agent.position;
            if let Some(pinned) = order.pinned {
                agent.position = pinned;
            } else {
                let step = velocity[i] * dt;
                // Somebody already off the pedestrian area (a staged mark, the end of a script) may
                // move anywhere walkable, so they can get back.
                let stranded = !layout.is_pedestrian_area(before.x, before.y, agent.radius * 0.6, agent.wheelchair);
                let allowed = |p: Vec2| layout.is_pedestrian_area(p.x, p.y, agent.radius * 0.6, agent.wheelchair) || stranded && layout.is_walkable(p.x, p.y, 0.05);
                // Along the wall when the straight step is refused.
                for candidate in [before + step, before + Vec2::new(step.x, 0.0), before + Vec2::new(0.0, step.y)] {
                    if allowed(candidate) {
                        agent.position = candidate;
                        break;
                    }
                }
            }
            let moved = agent.position - before;
            agent.speed = moved.length() / dt;
            let target_heading = if agent.speed > 0.15 && order.pinned.is_none() {
                Some(moved.x.atan2(moved.y))
            } else {
                order.face
            };
            if let Some(target) = target_heading {
                let turn = (target - agent.heading + PI).rem_euclid(TAU) - PI;
                let rate = if agent.speed > 2.0 { 8.0 } else { 4.0 };
                agent.heading = (agent.heading + turn.clamp(-rate * dt, rate * dt)).rem_euclid(TAU);
            }
            let moving = agent.speed > 0.15 && order.pinned.is_none();
            agent.activity = if moving { order.moving } else { order.still };
            if moving {
                agent.gait_phase = (agent.gait_phase + TAU * agent.speed * dt / agent.stride_m).rem_euclid(TAU);
            }
            agent.action_phase = order.action_phase;
            agent.body = order.body;
        }
    }

    /// Every person's pose as of the last tick, by id.
    pub fn poses(&self) -> Vec<AgentPose> {
        self.agents
            .iter()
            .map(|a| AgentPose {
                person: a.id,
                present: a.present,
                position: a.position,
                heading: a.heading,
                speed: a.speed,
                gait_phase: a.gait_phase,
                activity: a.activity,
                action_phase: a.action_phase,
                body: a.body,
                wheelchair: a.wheelchair,
            })
            .collect()
    }

    /// Every car as of the last tick.
    pub fn cars(&self) -> &[Car] {
        self.traffic.cars()
    }

    /// Every object's pose as of the last tick.
    pub fn objects(&self) -> Vec<ObjectPose> {
        self.director.objects(&self.agents, &self.physics)
    }

    /// The objects the scenario needs (known from the start, so the renderer can build them once).
    pub fn object_kinds(&self) -> Vec<(u32, ObjectKind)> {
        self.director.object_kinds()
    }
}

fn draw_visits(flow: &Flow, rng: &mut StreamRng) -> u32 {
    flow.visits.0 + rng.index((flow.visits.1 - flow.visits.0 + 1) as usize) as u32
}

/// A random open cell centre (jittered within its cell), for start positions and wandering.
pub(crate) fn random_open(nav: &NavGrid, rng: &mut StreamRng) -> Vec2 {
    for _ in 0..400 {
        let p = nav.origin + Vec2::new(rng.range(0.0, nav.columns as f32), rng.range(0.0, nav.rows as f32)) * nav.cell_m;
        if nav.is_open(p) {
            return p;
        }
    }
    nav.nearest_open(Vec2::ZERO).unwrap_or(Vec2::ZERO)
}

/// Families (every child with an adult or older adult) and groups of friends, up to the
/// scenario's share; scripted participants walk alone.
fn form_groups(agents: &mut [Agent], persons: &[PersonSpec], groups: &Groups, seed: u64) {
    let mut rng = StreamRng::new(seed, 0, Purpose::Groups);
    let free = |i: usize, agents: &[Agent]| !agents[i].participant && agents[i].leader.is_none();
    let mut keyed = |filter: &dyn Fn(&PersonSpec) -> bool, agents: &[Agent]| {
        let mut list: Vec<(u64, usize)> =
            (0..persons.len()).filter(|&i| filter(&persons[i]) && free(i, agents)).map(|i| (rng.next_u64(), i)).collect();
        list.sort();
        list.into_iter().map(|(_, i)| i).collect::<Vec<usize>>()
    };
    let children = keyed(&|p| p.demographics.age_group == AgeGroup::Child, agents);
    let mut carers = keyed(&|p| p.demographics.age_group != AgeGroup::Child && p.demographics.mobility_aid == MobilityAid::None, agents);
    let mut is_leader = vec![false; agents.len()];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); agents.len()];
    // Families: one carer per one or two children.
    let mut child_iter = children.into_iter().peekable();
    while child_iter.peek().is_some() {
        let Some(carer) = carers.pop() else { break };
        is_leader[carer] = true;
        for _ in 0..2 {
            if let Some(child) = child_iter.next() {
                members[carer].push(child);
            }
            if members[carer].len() + 1 >= groups.size.1 as usize {
                break;
            }
        }
    }
    // Friends, until the share of persons in groups is reached.
    let target = (groups.share as f64 * agents.len() as f64).round() as usize;
    let mut in_groups: usize = members.iter().map(|m| if m.is_empty() { 0 } else { m.len() + 1 }).sum();
    let adults = carers;
    let mut next = 0;
    while in_groups + groups.size.0 as usize <= target && next + groups.size.0 as usize <= adults.len() {
        let size = (groups.size.0 + rng.index((groups.size.1 - groups.size.0 + 1) as usize) as u32) as usize;
        let size = size.min(adults.len() - next);
        let leader = adults[next];
        is_leader[leader] = true;
        members[leader].extend(&adults[next + 1..next + size]);
        next += size;
        in_groups += size;
    }
    for leader in 0..agents.len() {
        if members[leader].is_empty() {
            continue;
        }
        let slowest = members[leader].iter().map(|&m| agents[m].free_speed).fold(agents[leader].free_speed, f32::min);
        agents[leader].free_speed = slowest;
        for (k, &member) in members[leader].iter().enumerate() {
            // Side by side for the first, then a row behind.
            let slot = match k {
                0 => Vec2::new(0.65, 0.0),
                1 => Vec2::new(-0.65, 0.0),
                2 => Vec2::new(0.3, 0.8),
                _ => Vec2::new(-0.3 * k as f32, 0.8 * (k / 2) as f32),
            };
            agents[member].leader = Some(leader);
            agents[member].slot = slot;
            agents[member].free_speed = slowest * 1.3;
        }
    }
}
