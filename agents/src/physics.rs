//! Rigid-body physics for the parts of a choreography that must look physical: a person
//! falling (a capsule toppling onto the ground) and a bag put down (a box dropped from the
//! hand). Rapier 3D (`rapier3d`, the engine `bevy_rapier3d` wraps), stepped with the
//! simulation's fixed tick on one thread, so a run is reproducible.

use bevy::math::{Quat, Vec2, Vec3};
use crowdtwin_core::site::SiteLayout;
use rapier3d::prelude::*;
use std::collections::BTreeMap;

/// A body's pose: translation of its centre and rotation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BodyPose {
    /// Centre, world coordinates.
    pub centre: Vec3,
    /// Orientation.
    pub rotation: Quat,
}

/// What a physical body stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BodyKey {
    /// A falling or fallen person (by id).
    Person(u32),
    /// A dropped object (by object index).
    Object(u32),
}

/// The physics world: the ground, the furniture and the bodies in play.
pub struct Physics {
    world: PhysicsWorld,
    bodies: BTreeMap<BodyKey, RigidBodyHandle>,
}

fn to_vec3(v: Vector) -> Vec3 {
    Vec3::new(v.x, v.y, v.z)
}

fn from_vec3(v: Vec3) -> Vector {
    Vector::new(v.x, v.y, v.z)
}

impl Physics {
    /// A world with the ground plane and every obstacle of the site as a fixed box; `dt` is the tick.
    pub fn new(layout: &SiteLayout, dt: f32) -> Self {
        let mut world = PhysicsWorld::default();
        world.integration_parameters.dt = dt;
        let [x0, z0, x1, z1] = layout.extent();
        let half = Vector::new(0.5 * (x1 - x0) + 50.0, 0.5, 0.5 * (z1 - z0) + 50.0);
        let centre = Vector::new(0.5 * (x0 + x1), -0.5, 0.5 * (z0 + z1));
        world.insert(RigidBodyBuilder::fixed().translation(centre), ColliderBuilder::cuboid(half.x, half.y, half.z).friction(0.9));
        // Footprint walls as thin boxes along each edge: falls and dropped objects stop at them.
        for footprint in &layout.footprints {
            for (a, b) in footprint.edges() {
                let (dx, dz) = (b[0] - a[0], b[1] - a[1]);
                let length = (dx * dx + dz * dz).sqrt();
                if length < 0.05 {
                    continue;
                }
                let rotation = Quat::from_rotation_y(-dz.atan2(dx));
                let pose = Pose::from_parts(Vector::new(0.5 * (a[0] + b[0]), 0.5 * footprint.height_m, 0.5 * (a[1] + b[1])), rapier3d::math::Rotation::from_array(rotation.to_array()));
                world.insert(RigidBodyBuilder::fixed().pose(pose), ColliderBuilder::cuboid(0.5 * length, 0.5 * footprint.height_m, 0.1).friction(0.8));
            }
        }
        for obstacle in &layout.obstacles {
            let [sx, sy, sz] = obstacle.bounds.size();
            let [cx, cy, cz] = obstacle.bounds.centre();
            world.insert(
                RigidBodyBuilder::fixed().translation(Vector::new(cx, cy, cz)),
                ColliderBuilder::cuboid(sx * 0.5, sy * 0.5, sz * 0.5).friction(0.8),
            );
        }
        Physics { world, bodies: BTreeMap::new() }
    }

    /// Starts a fall: a standing person of `height_m` at ground point `at`, facing `heading`,
    /// tips over towards `direction` (unit, on the ground) with the given push (m/s).
    pub fn start_fall(&mut self, person: u32, at: Vec2, heading: f32, height_m: f32, direction: Vec2, push_mps: f32) {
        let radius = (0.13 * height_m / 1.75).max(0.08);
        let half_height = (height_m * 0.5 - radius).max(0.05);
        let rotation = Quat::from_rotation_y(heading);
        let pose = Pose::from_parts(Vector::new(at.x, height_m * 0.5 + 0.01, at.y), rapier3d::math::Rotation::from_array(rotation.to_array()));
        // Angular velocity about the horizontal axis perpendicular to the fall.
        let axis = Vec3::new(direction.y, 0.0, -direction.x) * (push_mps / (height_m * 0.5));
        let body = RigidBodyBuilder::dynamic()
            .pose(pose)
            .linvel(Vector::new(direction.x * push_mps * 0.3, 0.0, direction.y * push_mps * 0.3))
            .angvel(from_vec3(axis))
            .angular_damping(0.8)
            .linear_damping(0.4)
            .build();
        let collider = ColliderBuilder::capsule_y(half_height, radius).density(985.0).friction(0.9).restitution(0.05);
        let (handle, _) = self.world.insert(body, collider);
        self.replace(BodyKey::Person(person), handle);
    }

    /// Drops a box-shaped object (`half_extents`, metres) released at `centre` with `velocity`.
    pub fn drop_object(&mut self, object: u32, centre: Vec3, heading: f32, half_extents: Vec3, velocity: Vec3) {
        let rotation = Quat::from_rotation_y(heading);
        let pose = Pose::from_parts(from_vec3(centre), rapier3d::math::Rotation::from_array(rotation.to_array()));
        let body = RigidBodyBuilder::dynamic().pose(pose).linvel(from_vec3(velocity)).angular_damping(0.5).build();
        let collider = ColliderBuilder::cuboid(half_extents.x, half_extents.y, half_extents.z).density(300.0).friction(0.8).restitution(0.1);
        let (handle, _) = self.world.insert(body, collider);
        self.replace(BodyKey::Object(object), handle);
    }

    fn replace(&mut self, key: BodyKey, handle: RigidBodyHandle) {
        if let Some(old) = self.bodies.insert(key, handle) {
            self.world.remove_body(old);
        }
    }

    /// Takes a body out of the world (a person getting up, an object picked up).
    pub fn remove(&mut self, key: BodyKey) {
        if let Some(handle) = self.bodies.remove(&key) {
            self.world.remove_body(handle);
        }
    }

    /// Advances one tick (nothing to do while no body is in play).
    pub fn step(&mut self) {
        if !self.bodies.is_empty() {
            self.world.step();
        }
    }

    /// The pose of a body in play.
    pub fn pose(&self, key: BodyKey) -> Option<BodyPose> {
        let handle = self.bodies.get(&key)?;
        let body = self.world.bodies.get(*handle)?;
        let rotation = body.rotation();
        Some(BodyPose { centre: to_vec3(body.translation()), rotation: Quat::from_array(rotation.to_array()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crowdtwin_core::scenario::Site;
    use crowdtwin_core::site::example_site;

    #[test]
    fn a_fall_ends_lying_on_the_ground_and_a_bag_comes_to_rest() {
        // No furniture: nothing in the way of the fall, the bag or the cars.
        let site = Site { benches: 0, transit_stop: false, trees: 0, ..example_site() };
        let layout = SiteLayout::template(&site, 1);
        let mut physics = Physics::new(&layout, 0.1);
        physics.start_fall(7, Vec2::new(1.0, 2.0), 0.3, 1.75, Vec2::new(1.0, 0.0), 1.2);
        physics.drop_object(0, Vec3::new(-2.0, 0.6, 0.0), 0.0, Vec3::new(0.2, 0.15, 0.08), Vec3::ZERO);
        for _ in 0..60 {
            physics.step();
        }
        let person = physics.pose(BodyKey::Person(7)).unwrap();
        let up = person.rotation * Vec3::Y;
        assert!(up.y.abs() < 0.35, "lying down: body axis {up:?}");
        assert!(person.centre.y < 0.3 && person.centre.x > 1.2, "{person:?}");
        let bag = physics.pose(BodyKey::Object(0)).unwrap();
        assert!((bag.centre.y - 0.08).abs() < 0.03 || (bag.centre.y - 0.15).abs() < 0.03 || (bag.centre.y - 0.2).abs() < 0.03, "{bag:?}");
    }
}
