//! crowdtwin-agents: the people of the simulation.
//!
//! * [`population`] — quota-exact demographics and per-person appearance (plain data).
//! * [`body`] — MakeHuman body variants split into rigid segments.
//! * [`spawn`] — turns persons into Bevy entities: body, hair, head covering, wheelchair, and
//!   the flat-coloured twins the id pass renders.
//! * [`navigation`] — the walkable area as an occupancy grid, A* routes.
//! * [`pedestrians`] — the collision-free speed model (Tordeux et al. 2016), neighbour grid,
//!   the corridor fundamental diagram.
//! * [`physics`] — Rapier bodies for falls and dropped objects.
//! * [`incidents`] — the director staging incidents and protected activities (exact ground truth).
//! * [`crowd`] — the crowd model: trips, groups, movement, one tick at a time, without Bevy.
//! * [`vehicles`] — cars on the street ring with licence plates.
//! * [`motion`] — the Bevy side: steps the model, copies poses, animates joints by activity.
//!
//! [`AgentsPlugin`] wires them into a Bevy app driven one fixed tick per `update()`.

pub mod body;
pub mod crowd;
pub mod incidents;
pub mod motion;
pub mod navigation;
pub mod pedestrians;
pub mod physics;
pub mod population;
pub mod spawn;
pub mod vehicles;

use bevy::prelude::*;
use crowdtwin_core::site::SiteLayout;
use std::sync::Arc;

/// The render layer of the id pass (the colour pass uses layer 0).
pub const ID_LAYER: usize = 1;

/// The simulation clock: the driver sets it before every `update()`, so systems never read
/// wall-clock time and every run of a scenario is identical.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct SimClock {
    /// Current tick.
    pub tick: u64,
    /// Fixed step in seconds.
    pub dt: f32,
}

/// Everything the agents need to know about the run.
#[derive(Resource, Clone)]
pub struct Crowd {
    /// Master seed.
    pub seed: u64,
    /// The persons to simulate.
    pub persons: Vec<population::PersonSpec>,
    /// The site they move in.
    pub layout: Arc<SiteLayout>,
    /// Their bodies.
    pub bodies: Arc<body::BodyLibrary>,
}

/// A triangle mesh kept on the CPU, in its entity's local frame, for ground-truth rasterising.
#[derive(Clone, Debug, Default)]
pub struct CpuMesh {
    /// Vertex positions.
    pub positions: Vec<[f32; 3]>,
    /// Triangle indices.
    pub indices: Vec<u32>,
}

/// The CPU copy of the mesh an id-pass entity renders.
#[derive(Component, Clone, Debug)]
pub struct RasterMesh(pub Arc<CpuMesh>);

/// Marks an id-pass entity as part of a person (body, hair, covering or wheelchair).
#[derive(Component, Clone, Copy, Debug)]
pub struct PersonPart {
    /// The person's id.
    pub person: u32,
}

/// Marks an id-pass entity as part of an object (a bag, a placard).
#[derive(Component, Clone, Copy, Debug)]
pub struct ObjectPart {
    /// The object's index.
    pub object: u32,
}

/// Spawns the crowd and its objects at start-up and moves them every tick. Needs the
/// [`Crowd`] and [`motion::CrowdSim`] resources.
pub struct AgentsPlugin;

impl Plugin for AgentsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SimClock>().add_systems(Startup, (spawn::spawn_crowd, spawn::spawn_objects, spawn::spawn_cars)).add_systems(
            Update,
            (motion::step_crowd, motion::sync_people, motion::sync_objects, motion::sync_cars, motion::animate_bodies).chain(),
        );
    }
}

#[cfg(test)]
mod crowd_tests;
