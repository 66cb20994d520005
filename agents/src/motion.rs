//! Moving people in Bevy: the [`CrowdModel`] is stepped once per tick and its poses are copied
//! onto the person entities; the joints are posed from each person's activity (walking,
//! striking, kneeling, hugging, …). Objects (bags, placards) follow the model too.

use crate::crowd::{Activity, AgentPose, CrowdModel};
use crate::incidents::ObjectKind;
use crate::spawn::BodyJoint;
use crate::SimClock;
use crowdtwin_core::scenario::Carried;
use bevy::prelude::*;
use std::f32::consts::{FRAC_PI_2, PI};

/// Seat height of the wheelchair, metres.
const SEAT_HEIGHT: f32 = 0.50;
/// Seat height of a bench, metres.
const BENCH_SEAT: f32 = 0.45;

/// The crowd model of the run.
#[derive(Resource)]
pub struct CrowdSim(pub CrowdModel);

/// A person's pose as of the last tick, on the person's root entity.
#[derive(Component, Clone, Debug)]
pub struct PersonState {
    /// The pose from the model.
    pub pose: AgentPose,
    /// Standing height, metres.
    pub height_m: f32,
    /// What the person carries (a phone or an umbrella raises the right arm).
    pub carried: Carried,
}

impl PersonState {
    /// The person's id.
    pub fn id(&self) -> u32 {
        self.pose.person
    }

    /// The root transform: feet on the ground turned to the heading, or the laid body.
    pub fn transform(&self) -> Transform {
        match self.pose.body {
            Some((feet, rotation)) => Transform::from_translation(feet).with_rotation(rotation),
            None => Transform::from_xyz(self.pose.position.x, 0.0, self.pose.position.y)
                .with_rotation(Quat::from_rotation_y(self.pose.heading)),
        }
    }
}

/// An object's root entity.
#[derive(Component, Clone, Copy, Debug)]
pub struct SceneObject {
    /// Object index.
    pub index: u32,
    /// What it is.
    pub kind: ObjectKind,
}

/// A car's root entity.
#[derive(Component, Clone, Copy, Debug)]
pub struct SceneCar {
    /// Car index.
    pub index: u32,
}

/// Copies the cars' positions onto their entities.
pub fn sync_cars(crowd: Res<CrowdSim>, mut cars: Query<(&SceneCar, &mut Transform, &mut Visibility)>) {
    let states = crowd.0.cars();
    for (car, mut transform, mut visibility) in &mut cars {
        let state = states[car.index as usize];
        *transform = Transform::from_xyz(state.position.x, 0.0, state.position.y).with_rotation(Quat::from_rotation_y(state.heading));
        *visibility = if state.present { Visibility::Inherited } else { Visibility::Hidden };
    }
}

/// Advances the crowd one tick (not while time is frozen for the warm-up).
pub fn step_crowd(clock: Res<SimClock>, mut crowd: ResMut<CrowdSim>) {
    if clock.dt > 0.0 {
        crowd.0.step();
    }
}

/// Copies the model's poses onto the person entities; absent persons are hidden.
pub fn sync_people(crowd: Res<CrowdSim>, mut people: Query<(&mut PersonState, &mut Transform, &mut Visibility)>) {
    let poses = crowd.0.poses();
    for (mut state, mut transform, mut visibility) in &mut people {
        let pose = poses[state.id() as usize];
        state.pose = pose;
        *transform = state.transform();
        *visibility = if pose.present { Visibility::Inherited } else { Visibility::Hidden };
    }
}

/// Copies the objects' poses onto their entities.
pub fn sync_objects(crowd: Res<CrowdSim>, mut objects: Query<(&SceneObject, &mut Transform, &mut Visibility)>) {
    let poses = crowd.0.objects();
    for (object, mut transform, mut visibility) in &mut objects {
        let pose = poses[object.index as usize];
        *transform = Transform::from_translation(pose.centre).with_rotation(pose.rotation);
        *visibility = if pose.present { Visibility::Inherited } else { Visibility::Hidden };
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
    LowerArm {
        /// Left side.
        left: bool,
    },
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
    /// The spine: bends forward to bow, crouch or strike.
    Spine,
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
            "lower_arm_l" => JointRole::LowerArm { left: true },
            "lower_arm_r" => JointRole::LowerArm { left: false },
            "spine" => JointRole::Spine,
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
            JointRole::LowerArm { .. } => {
                Quat::from_rotation_arc(bone_tail.normalize_or(Vec3::NEG_Y), parent_tail.normalize_or(Vec3::NEG_Y))
            }
            _ => Quat::IDENTITY,
        }
    }
}

/// Poses every joint from its person's activity.
pub fn animate_bodies(people: Query<&PersonState>, mut joints: Query<(&BodyJoint, &mut Transform)>) {
    for (joint, mut transform) in &mut joints {
        let Ok(state) = people.get(joint.owner) else { continue };
        let (mut rotation, translation) = joint_pose(joint, &state.pose, state.height_m);
        // Walking or standing with a phone or an umbrella: the right hand stays up in front.
        let busy_hand = matches!(state.pose.activity, Activity::Walking | Activity::Standing) && !state.pose.wheelchair;
        match (state.carried, joint.role) {
            (Carried::Phone, JointRole::UpperArm { left: false }) if busy_hand => rotation = Quat::from_rotation_x(-0.35) * joint.rest,
            (Carried::Phone, JointRole::LowerArm { left: false }) if busy_hand => rotation = Quat::from_rotation_x(-1.5) * joint.rest,
            (Carried::Umbrella, JointRole::UpperArm { left: false }) if busy_hand => rotation = Quat::from_rotation_x(-0.6) * joint.rest,
            (Carried::Umbrella, JointRole::LowerArm { left: false }) if busy_hand => rotation = Quat::from_rotation_x(-1.2) * joint.rest,
            _ => {}
        }
        transform.rotation = rotation;
        transform.translation = translation;
    }
}

/// The rotation and translation of one joint for a pose.
fn joint_pose(joint: &BodyJoint, pose: &AgentPose, height_m: f32) -> (Quat, Vec3) {
    let rest = (joint.rest, joint.rest_translation);
    let pelvis_at = |lowered_by: f32| (Quat::IDENTITY, joint.rest_translation * joint.scale - Vec3::Y * lowered_by);
    let arm = |angle: f32| (Quat::from_rotation_x(angle) * joint.rest, joint.rest_translation);
    let bend = |angle: f32| (Quat::from_rotation_x(angle), joint.rest_translation);
    let phase = pose.action_phase;
    match pose.activity {
        _ if pose.wheelchair => wheelchair_pose(joint, pose),
        Activity::Walking | Activity::Running | Activity::Standing => {
            // Amplitude follows speed, so a standing person stands still; running swings wider.
            let stride = (pose.speed / 1.3).clamp(0.0, 1.7);
            let running = pose.activity == Activity::Running;
            let gait = pose.gait_phase;
            let swing = |left: bool| if left { gait.sin() } else { (gait + PI).sin() };
            match joint.role {
                JointRole::Pelvis => {
                    let bob = 0.015 * stride * (2.0 * gait).cos();
                    (Quat::IDENTITY, joint.rest_translation * joint.scale + Vec3::Y * bob)
                }
                JointRole::Spine if running => bend(0.15),
                JointRole::Thigh { left } => bend(-0.42 * stride * swing(left)),
                JointRole::Shin { left } => bend(0.75 * stride * (swing(left) + 0.3).max(0.0) + if running { 0.4 } else { 0.0 }),
                JointRole::UpperArm { left } => arm(0.35 * stride * swing(left)),
                JointRole::LowerArm { .. } => arm(if running { -1.2 } else { -0.15 - 0.15 * stride }),
                _ => rest,
            }
        }
        Activity::Striking => {
            // Jabs with the right, guard with the left, feet apart; every other blow a kick.
            let extension = phase.sin().max(0.0);
            let kick = (phase / (2.0 * PI)).floor() as i64 % 3 == 2;
            match joint.role {
                JointRole::Spine => bend(0.15 + 0.1 * extension),
                JointRole::UpperArm { left: false } => arm(-1.0 - 0.5 * extension),
                JointRole::LowerArm { left: false } => arm(-1.4 * (1.0 - extension)),
                JointRole::UpperArm { left: true } => arm(-0.9),
                JointRole::LowerArm { left: true } => arm(-1.7),
                JointRole::Thigh { left: false } if kick => bend(-1.1 * extension),
                JointRole::Thigh { left } => bend(if left { -0.25 } else { 0.2 }),
                JointRole::Shin { left: false } if kick => bend(0.3 * (1.0 - extension)),
                JointRole::Shin { .. } => bend(0.15),
                JointRole::Pelvis => pelvis_at(0.03),
                _ => rest,
            }
        }
        Activity::Fallen | Activity::GettingUp => match joint.role {
            JointRole::UpperArm { left } => (Quat::from_rotation_z(if left { 0.6 } else { -0.6 }) * joint.rest, joint.rest_translation),
            JointRole::Thigh { left } => bend(if left { -0.3 } else { -0.05 }),
            JointRole::Shin { left } => bend(if left { 0.6 } else { 0.1 }),
            _ => rest,
        },
        Activity::Kneeling => {
            // Upright on the knees, bowing forward on the prayer's cycle.
            let bow = (0.5 - 0.5 * phase.cos()).powi(2);
            let shin = 0.245 * height_m;
            match joint.role {
                JointRole::Pelvis => (Quat::from_rotation_x(0.5 * bow), joint.rest_translation * joint.scale - Vec3::Y * (shin + 0.12 * bow)),
                JointRole::Thigh { .. } => bend(-0.5 * bow),
                JointRole::Shin { .. } => bend(FRAC_PI_2 + 0.5 * bow),
                JointRole::Spine => bend(1.1 * bow),
                JointRole::UpperArm { .. } => arm(-0.2 - 1.6 * bow),
                JointRole::LowerArm { .. } => arm(-0.3),
                _ => rest,
            }
        }
        Activity::Hugging => {
            // Upper arms forward and in, forearms wrapped round the other's back.
            let sway = 0.05 * phase.sin();
            let side = |left: bool| if left { 1.0 } else { -1.0 };
            let upper = |left: bool| Vec3::new(0.35 * side(left), -0.25, 1.0).normalize();
            let fore = |left: bool| Vec3::new(-1.0 * side(left), 0.05, 0.35).normalize();
            match joint.role {
                JointRole::Pelvis => (Quat::from_rotation_z(sway), joint.rest_translation * joint.scale),
                JointRole::Spine => bend(0.12),
                JointRole::UpperArm { left } => (aim(joint.tail, upper(left)), joint.rest_translation),
                JointRole::LowerArm { left } => {
                    (aim(joint.tail, aim(joint.parent_tail, upper(left)).inverse() * fore(left)), joint.rest_translation)
                }
                _ => rest,
            }
        }
        Activity::HoldingPlacard => {
            // Both hands up on the pole above the head.
            let lift = 0.05 * phase.sin();
            let up = |left: bool| Vec3::new(if left { 0.12 } else { -0.12 }, 1.0, 0.25 + lift).normalize();
            match joint.role {
                JointRole::UpperArm { left } => (aim(joint.tail, up(left)), joint.rest_translation),
                JointRole::LowerArm { left } => {
                    let fore = Vec3::new(if left { -0.3 } else { 0.3 }, 1.0, 0.2).normalize();
                    (aim(joint.tail, aim(joint.parent_tail, up(left)).inverse() * fore), joint.rest_translation)
                }
                _ => rest,
            }
        }
        Activity::Busking => match joint.role {
            JointRole::UpperArm { left: false } => arm(-0.5),
            JointRole::LowerArm { left: false } => arm(-1.3 + 0.35 * phase.sin()),
            JointRole::UpperArm { left: true } => (Quat::from_rotation_z(0.5) * Quat::from_rotation_x(-0.8) * joint.rest, joint.rest_translation),
            JointRole::LowerArm { left: true } => arm(-1.4),
            _ => rest,
        },
        Activity::Crouching => match joint.role {
            JointRole::Pelvis => pelvis_at(0.3 * height_m),
            JointRole::Thigh { .. } => bend(-1.6),
            JointRole::Shin { .. } => bend(2.1),
            JointRole::Spine => bend(0.5),
            JointRole::UpperArm { left: false } => arm(-0.6),
            _ => rest,
        },
        Activity::Sitting | Activity::LyingOnBench => {
            let settle = if pose.activity == Activity::Sitting { phase.clamp(0.0, 1.0) } else { 0.0 };
            match (joint.role, pose.activity) {
                (_, Activity::LyingOnBench) => rest,
                (JointRole::Pelvis, _) => {
                    let standing = joint.rest_translation * joint.scale;
                    let seated = Vec3::new(standing.x, BENCH_SEAT + 0.06, -0.05);
                    (Quat::IDENTITY, standing.lerp(seated, settle))
                }
                (JointRole::Thigh { .. }, _) => bend(-FRAC_PI_2 * settle),
                (JointRole::Shin { .. }, _) => bend(FRAC_PI_2 * settle),
                (JointRole::LowerArm { .. }, _) => arm(-0.6 * settle),
                _ => rest,
            }
        }
    }
}

/// The rotation that turns a bone lying along `tail` (its rest direction in the parent's frame)
/// to point along `direction` in the parent's frame.
fn aim(tail: Vec3, direction: Vec3) -> Quat {
    Quat::from_rotation_arc(tail, direction.normalize_or(Vec3::NEG_Y))
}

fn wheelchair_pose(joint: &BodyJoint, pose: &AgentPose) -> (Quat, Vec3) {
    let stride = (pose.speed / 1.3).clamp(0.0, 1.0);
    match joint.role {
        JointRole::Pelvis => {
            // Sit the hips on the seat (the chair is real size; the body is scaled).
            let t = joint.rest_translation * joint.scale;
            (Quat::IDENTITY, Vec3::new(t.x, SEAT_HEIGHT + 0.06, -0.05))
        }
        JointRole::Thigh { .. } => (Quat::from_rotation_x(-FRAC_PI_2), joint.rest_translation),
        JointRole::Shin { .. } => (Quat::from_rotation_x(FRAC_PI_2), joint.rest_translation),
        // Hands on the push rims, pushing in rhythm with the gait phase.
        JointRole::UpperArm { .. } => {
            (Quat::from_rotation_x(-0.25 + 0.2 * pose.gait_phase.sin() * stride) * joint.rest, joint.rest_translation)
        }
        JointRole::LowerArm { .. } => (Quat::from_rotation_x(-0.7) * joint.rest, joint.rest_translation),
        _ => (joint.rest, joint.rest_translation),
    }
}
