//! The crowd as the overview draws it: every body part (and what is worn on it) as its bounding
//! box under the same joint, in the part's own colour, so a person keeps their pose, height and
//! clothing at 12 triangles a part (about 200 a person) instead of about 3 900. The full bodies move to
//! [`CAMERA_LAYER`], which only the picture-in-picture (a camera's own view) renders: the issue's
//! rule is that the crowd may be simplified in the overview, never in a camera's view.
//!
//! Why: on a software rasteriser the bodies were most of the overview's triangles (70 persons,
//! about 277 000 of them on the plaza), set up on one thread every frame; the measurements are in
//! the README ("The planner's view").

use crate::OVERVIEW_LAYER;
use bevy::camera::primitives::{Aabb, MeshAabb};
use bevy::camera::visibility::RenderLayers;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use crowdtwin_agents::spawn::BodyJoint;

/// The render layer of the full bodies: a camera's own view draws it, the overview does not.
/// (0 is the scene, 1 the simulation's id pass, 2 [`OVERVIEW_LAYER`].)
pub const CAMERA_LAYER: usize = 3;

/// Swaps the overview's bodies for boxes.
pub struct SimplifiedCrowdPlugin;

impl Plugin for SimplifiedCrowdPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<BoxMeshes>()
            .add_systems(Update, simplify_new_parts);
    }
}

/// One box mesh per part mesh, and the part's centre in its own frame.
#[derive(Resource, Default)]
struct BoxMeshes(HashMap<AssetId<Mesh>, (Handle<Mesh>, Vec3)>);

/// Each newly spawned visible mesh under a body joint goes to [`CAMERA_LAYER`]; a box of its
/// bounds, same material and transform, takes its place on [`OVERVIEW_LAYER`].
#[allow(clippy::type_complexity)]
fn simplify_new_parts(
    mut commands: Commands,
    parts: Query<
        (
            Entity,
            &Mesh3d,
            &MeshMaterial3d<StandardMaterial>,
            &Transform,
            &ChildOf,
            Option<&Aabb>,
        ),
        (Added<Mesh3d>, Without<RenderLayers>),
    >,
    joints: Query<(), With<BodyJoint>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut boxes: ResMut<BoxMeshes>,
) {
    for (entity, mesh, material, transform, parent, aabb) in &parts {
        if !joints.contains(parent.parent()) {
            continue;
        }
        let id = mesh.0.id();
        if !boxes.0.contains_key(&id) {
            // The mesh's own data while it is still in the main world (body meshes are
            // render-world-only once extracted), else the bounds Bevy computed for the entity.
            let bounds = meshes
                .get(id)
                .and_then(MeshAabb::compute_aabb)
                .or(aabb.copied());
            // A part without bounds stays drawn in full (and is tried again if respawned).
            let Some(Aabb {
                center,
                half_extents,
            }) = bounds
            else {
                continue;
            };
            let size = (Vec3::from(half_extents) * 2.0).max(Vec3::splat(0.01));
            let made = (meshes.add(Cuboid::from_size(size)), Vec3::from(center));
            boxes.0.insert(id, made);
        }
        let Some((cuboid, centre)) = boxes.0.get(&id).cloned() else {
            continue;
        };
        commands
            .entity(entity)
            .insert(RenderLayers::layer(CAMERA_LAYER));
        commands.entity(parent.parent()).with_child((
            Mesh3d(cuboid),
            material.clone(),
            *transform * Transform::from_translation(centre),
            RenderLayers::layer(OVERVIEW_LAYER),
        ));
    }
}
