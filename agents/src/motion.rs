//! Moving people: goal-seeking steering between points of interest with separation from
//! neighbours and obstacle avoidance, and a procedural walk cycle. Deliberately simple; the
//! validated pedestrian model is a later issue.

use crate::population::PersonSpec;
use crate::spawn::BodyJoint;
use crate::SimClock;
use bevy::prelude::*;
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::site::SiteLayout;
use crowdtwin_core::taxonomy::MobilityAid;
use std::f32::consts::{FRAC_PI_2, PI, TAU};

/// Body radius used for obstacles and separation, metres.
const BODY_RADIUS: f32 = 0.25;
/// Seat height of the wheelchair, metres.
const SEAT_HEIGHT: f32 = 0.50;

/// The moving state of a person.
#[derive(Component, Clone, Debug)]
pub struct PersonState {
    /// Person id.
    pub id: u32,
    /// Ground position (x, z).
    pub position: Vec2,
    /// Heading, radians about +y (0 faces +z).
    pub heading: f32,
    /// Current speed, m/s.
    pub speed: f32,
    /// Preferred speed, m/s.
    pub preferred_speed: f32,
    /// Current goal (x, z).
    pub goal: Vec2,
    /// Seconds left to wait at the goal.
    pub dwell_s: f32,
    /// Walk-cycle phase, radians.
    pub phase: f32,
    /// Stride length (two steps), metres.
    pub stride_m: f32,
    /// Seated in a wheelchair.
    pub seated: bool,
    /// The person's own navigation stream (goal and dwell choices).
    rng: StreamRng,
}

fn random_walkable(layout: &SiteLayout, rng: &mut StreamRng) -> Vec2 {
    for _ in 0..200 {
        let x = rng.range(-layout.walkable_half[0], layout.walkable_half[0]);
        let z = rng.range(-layout.walkable_half[1], layout.walkable_half[1]);
        if layout.is_walkable(x, z, BODY_RADIUS * 2.0) {
            return Vec2::new(x, z);
        }
    }
    Vec2::ZERO
}

fn pick_goal(layout: &SiteLayout, rng: &mut StreamRng) -> Vec2 {
    if layout.points_of_interest.is_empty() || rng.unit() < 0.2 {
        return random_walkable(layout, rng);
    }
    let poi = layout.points_of_interest[rng.index(layout.points_of_interest.len())];
    // Spread arrivals around the point so people do not stack on one spot.
    let jitter = Vec2::new(rng.range(-0.8, 0.8), rng.range(-0.8, 0.8));
    let goal = Vec2::from(poi.position) + jitter;
    if layout.is_walkable(goal.x, goal.y, BODY_RADIUS) { goal } else { Vec2::from(poi.position) }
}

impl PersonState {
    /// Initial state: a random walkable spot, heading to a first goal, mid-stride.
    pub fn new(seed: u64, spec: &PersonSpec, layout: &SiteLayout) -> Self {
        let mut rng = StreamRng::new(seed, spec.id as u64, Purpose::Navigation);
        let position = random_walkable(layout, &mut rng);
        let goal = pick_goal(layout, &mut rng);
        let mut gait = StreamRng::new(seed, spec.id as u64, Purpose::Gait);
        let to_goal = goal - position;
        PersonState {
            id: spec.id,
            position,
            heading: to_goal.x.atan2(to_goal.y),
            speed: spec.preferred_speed_mps,
            preferred_speed: spec.preferred_speed_mps,
            goal,
            dwell_s: 0.0,
            phase: gait.range(0.0, TAU),
            stride_m: 0.83 * spec.height_m,
            seated: spec.demographics.mobility_aid == MobilityAid::Wheelchair,
            rng,
        }
    }

    /// The root transform: on the ground, turned to the heading.
    pub fn transform(&self) -> Transform {
        Transform::from_xyz(self.position.x, 0.0, self.position.y).with_rotation(Quat::from_rotation_y(self.heading))
    }
}

/// Moves every person one tick: towards the goal, away from close neighbours, around obstacles.
/// Reads a snapshot of all positions first, so the result does not depend on query order.
pub fn steer_people(clock: Res<SimClock>, crowd: Res<crate::Crowd>, mut people: Query<(&mut PersonState, &mut Transform)>) {
    let dt = clock.dt;
    if dt <= 0.0 {
        return; // frozen (warm-up): no movement and no random draws
    }
    let mut snapshot: Vec<(u32, Vec2)> = people.iter().map(|(s, _)| (s.id, s.position)).collect();
    snapshot.sort_by_key(|(id, _)| *id);
    let layout = &crowd.layout;
    for (mut state, mut transform) in &mut people {
        if state.dwell_s > 0.0 {
            state.dwell_s -= dt;
            state.speed = 0.0;
            if state.dwell_s <= 0.0 {
                let goal = pick_goal(layout, &mut state.rng);
                state.goal = goal;
            }
            continue;
        }
        let to_goal = state.goal - state.position;
        let distance = to_goal.length();
        if distance < 0.4 {
            state.dwell_s = state.rng.range(1.0, 6.0);
            state.speed = 0.0;
            continue;
        }
        let mut desired = to_goal / distance;
        for &(other, position) in &snapshot {
            if other == state.id {
                continue;
            }
            let away = state.position - position;
            let d = away.length();
            if d > 1e-4 && d < 1.2 {
                desired += away / d * (1.2 - d) * 1.5;
            }
        }
        let desired = desired.normalize_or_zero();
        // Turn towards a walkable direction: straight, else progressively wider deviations.
        let speed = state.preferred_speed.min(distance / dt);
        let mut chosen = None;
        for deviation in [0.0f32, 0.35, -0.35, 0.7, -0.7, 1.05, -1.05, 1.4, -1.4, 2.0, -2.0] {
            let direction = Vec2::from_angle(deviation).rotate(desired);
            let next = state.position + direction * speed * dt;
            if layout.is_walkable(next.x, next.y, BODY_RADIUS) {
                chosen = Some((direction, next));
                break;
            }
        }
        match chosen {
            Some((direction, next)) => {
                let target_heading = direction.x.atan2(direction.y);
                let mut turn = (target_heading - state.heading + PI).rem_euclid(TAU) - PI;
                turn = turn.clamp(-4.0 * dt, 4.0 * dt);
                state.heading += turn;
                state.position = next;
                state.speed = speed;
                let stride = state.stride_m;
                state.phase = (state.phase + TAU * speed * dt / stride).rem_euclid(TAU);
            }
            None => {
                // Boxed in: pick another goal next tick.
                let goal = pick_goal(layout, &mut state.rng);
                state.goal = goal;
                state.speed = 0.0;
            }
        }
        *transform = state.transform();
    }
}

/// What the walk cycle does with a joint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JointRole {
    /// The root: bobs while walking, lowered onto the seat when seated.
    Pelvis,
    /// Upper arm; `left` swings with the right leg.
    UpperArm {
        /// Left side.
        left: bool,
    },
    /// Forearm.
    LowerArm,
    /// Thigh.
    Thigh {
        /// Left side.
        left: bool,
    },
    /// Shin.
    Shin {
        /// Left side.
        left: bool,
    },
    /// Any other joint: keeps its rest pose.
    Fixed,
}

impl JointRole {
    /// The role of a joint by name.
    pub fn from_name(name: &str) -> Self {
        match name {
            "pelvis" => JointRole::Pelvis,
            "upper_arm_l" => JointRole::UpperArm { left: true },
            "upper_arm_r" => JointRole::UpperArm { left: false },
            "lower_arm_l" | "lower_arm_r" => JointRole::LowerArm,
            "thigh_l" => JointRole::Thigh { left: true },
            "thigh_r" => JointRole::Thigh { left: false },
            "shin_l" => JointRole::Shin { left: true },
            "shin_r" => JointRole::Shin { left: false },
            _ => JointRole::Fixed,
        }
    }

    /// Rest rotation: MakeHuman's A-pose arms (upper arms ~42° out, elbows bent ~40°) are
    /// lowered to hang beside the body and the forearms straightened along the upper arms.
    /// `parent_tail` is the parent bone's tail, in the same (model) frame.
    pub fn rest_rotation(self, bone_tail: Vec3, parent_tail: Vec3) -> Quat {
        match self {
            JointRole::UpperArm { left } => {
                let side = if left { 1.0 } else { -1.0 };
                let hanging = Vec3::new(0.12 * side, -1.0, 0.02).normalize();
                Quat::from_rotation_arc(bone_tail.normalize_or(Vec3::NEG_Y), hanging)
            }
            JointRole::LowerArm => {
                Quat::from_rotation_arc(bone_tail.normalize_or(Vec3::NEG_Y), parent_tail.normalize_or(Vec3::NEG_Y))
            }
            _ => Quat::IDENTITY,
        }
    }
}

/// Poses every joint from its person's gait phase (walking) or seat (wheelchair users).
pub fn animate_bodies(people: Query<&PersonState>, mut joints: Query<(&BodyJoint, &mut Transform)>) {
    for (joint, mut transform) in &mut joints {
        let Ok(state) = people.get(joint.owner) else { continue };
        // Amplitude follows speed so a standing person stands still.
        let stride = (state.speed / 1.3).clamp(0.0, 1.0);
        let phase = state.phase;
        let swing = |left: bool| if left { phase.sin() } else { (phase + PI).sin() };
        let (rotation, translation) = match (joint.role, state.seated) {
            (JointRole::Pelvis, false) => {
                let bob = 0.015 * stride * (2.0 * phase).cos();
                (Quat::IDENTITY, joint.rest_translation * joint.scale + Vec3::Y * bob)
            }
            (JointRole::Pelvis, true) => {
                // Sit the hips on the seat (the chair is real size; the body is scaled).
                let t = joint.rest_translation * joint.scale;
                (Quat::IDENTITY, Vec3::new(t.x, SEAT_HEIGHT + 0.06, -0.05))
            }
            (JointRole::Thigh { left }, false) => (Quat::from_rotation_x(-0.42 * stride * swing(left)), joint.rest_translation),
            (JointRole::Thigh { .. }, true) => (Quat::from_rotation_x(-FRAC_PI_2), joint.rest_translation),
            (JointRole::Shin { left }, false) => {
                // The knee flexes during the swing phase (leg moving forward).
                let flex = 0.75 * stride * (swing(left) + 0.3).max(0.0);
                (Quat::from_rotation_x(flex), joint.rest_translation)
            }
            (JointRole::Shin { .. }, true) => (Quat::from_rotation_x(FRAC_PI_2), joint.rest_translation),
            (JointRole::UpperArm { left }, false) => {
                (Quat::from_rotation_x(0.35 * stride * swing(left)) * joint.rest, joint.rest_translation)
            }
            (JointRole::UpperArm { .. }, true) => {
                // Hands on the push rims, pushing in rhythm with the "phase".
                (Quat::from_rotation_x(-0.25 + 0.2 * (state.phase).sin() * stride) * joint.rest, joint.rest_translation)
            }
            (JointRole::LowerArm, false) => (Quat::from_rotation_x(-0.15 - 0.15 * stride) * joint.rest, joint.rest_translation),
            (JointRole::LowerArm, true) => (Quat::from_rotation_x(-0.7) * joint.rest, joint.rest_translation),
            (JointRole::Fixed, _) => (joint.rest, joint.rest_translation),
        };
        transform.rotation = rotation;
        transform.translation = translation;
    }
}
