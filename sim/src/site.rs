//! The static scene: ground, street, pavement, buildings, benches, shelter, trees and the sun.
//!
//! Every object that can hide a person also gets a black, unlit twin on the id layer, so the
//! id pass is occluded exactly like the colour pass.

use bevy::camera::visibility::RenderLayers;
use bevy::light::{CascadeShadowConfigBuilder, DirectionalLightShadowMap};
use bevy::prelude::*;
use crowdtwin_agents::ID_LAYER;
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::site::{ObstacleKind, SiteLayout};
use std::sync::Arc;

/// The site to build and the light to build it under.
#[derive(Resource, Clone)]
pub struct SiteScene {
    /// Laid-out geometry.
    pub layout: Arc<SiteLayout>,
    /// Local solar time, hours.
    pub time_of_day_h: f32,
    /// Whether the sun casts shadows.
    pub shadows: bool,
    /// Seed for façade colours.
    pub seed: u64,
}

/// Builds the static scene at start-up.
pub struct SitePlugin;

impl Plugin for SitePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, (spawn_site, spawn_sun));
    }
}

pub use crowdtwin_core::scenario::sun_angles;

fn spawn_sun(mut commands: Commands, scene: Res<SiteScene>, atmosphere: Res<crate::weather::Atmosphere>) {
    // 1024² texels over the 120 m cascade (~12 cm each) is enough for people's shadows; the
    // default 2048² measured no faster or slower on lavapipe, so the smaller memory wins.
    commands.insert_resource(DirectionalLightShadowMap { size: 1024 });
    let (elevation, azimuth) = sun_angles(scene.time_of_day_h);
    let daylight = elevation.sin().max(0.0);
    // Cloud (rain or fog) dims and softens the sun: no shadows under an overcast sky.
    let overcast = atmosphere.rain_mm_h > 0.0 || atmosphere.fog.is_some();
    let cloud = if overcast { 0.45 } else { 1.0 };
    // Direction the light travels: from the sun towards the ground.
    let towards_sun = Vec3::new(elevation.cos() * azimuth.sin(), elevation.sin().max(0.05), -elevation.cos() * azimuth.cos());
    let cascades = CascadeShadowConfigBuilder {
        num_cascades: 1,
        maximum_distance: 120.0,
        ..default()
    }
    .build();
    commands.spawn((
        DirectionalLight {
            illuminance: (9_000.0 * daylight + 40.0) * cloud,
            shadow_maps_enabled: scene.shadows && daylight > 0.05 && !overcast,
            ..default()
        },
        cascades,
        Transform::from_translation(towards_sun).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.insert_resource(GlobalAmbientLight {
        color: Color::srgb(0.75, 0.82, 1.0),
        brightness: (1_800.0 * daylight + 25.0) * if overcast { 0.8 } else { 1.0 },
        affects_lightmapped_meshes: true,
    });
}

fn spawn_site(
    mut commands: Commands,
    scene: Res<SiteScene>,
    atmosphere: Res<crate::weather::Atmosphere>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let layout = &scene.layout;
    let unit_cube = meshes.add(Cuboid::new(1.0, 1.0, 1.0));
    let occluder = materials.add(StandardMaterial { base_color: Color::BLACK, unlit: true, fog_enabled: false, ..default() });
    // Rain darkens and glosses every surface.
    let wet = atmosphere.rain_mm_h > 0.0;
    let matte = |materials: &mut Assets<StandardMaterial>, rgb: [u8; 3]| {
        let darken = if wet { 0.65 } else { 1.0 };
        materials.add(StandardMaterial {
            base_color: Color::srgb_u8(rgb[0], rgb[1], rgb[2]).darker(1.0 - darken),
            perceptual_roughness: if wet { 0.35 } else { 0.9 },
            reflectance: if wet { 0.45 } else { 0.2 },
            ..default()
        })
    };
    // The ground as non-overlapping rectangles (plaza, street ring, pavement ring, land beyond):
    // stacked slabs would shade every ground pixel several times in a software rasteriser.
    let plane = meshes.add(Plane3d::default().mesh().size(1.0, 1.0));
    let far = [layout.walkable_half[0] + 200.0, layout.walkable_half[1] + 200.0];
    let layers = [
        ([0.0, 0.0], layout.plaza_half, [176, 164, 146]),
        (layout.plaza_half, layout.street_half, [62, 64, 68]),
        (layout.street_half, layout.walkable_half, [150, 148, 142]),
        (layout.walkable_half, far, [88, 92, 80]),
    ];
    for (inner, outer, rgb) in layers {
        let material = matte(&mut materials, rgb);
        for [x0, z0, x1, z1] in ring_rectangles(inner, outer) {
            commands.spawn((
                Mesh3d(plane.clone()),
                MeshMaterial3d(material.clone()),
                Transform::from_xyz(0.5 * (x0 + x1), 0.0, 0.5 * (z0 + z1)).with_scale(Vec3::new(x1 - x0, 1.0, z1 - z0)),
            ));
        }
    }

    let mut rng = StreamRng::new(scene.seed, 1, Purpose::Site);
    const FACADES: [[u8; 3]; 6] = [[196, 180, 160], [170, 120, 95], [205, 200, 190], [140, 140, 150], [185, 160, 120], [120, 95, 80]];
    let wood = matte(&mut materials, [120, 82, 50]);
    let glass = matte(&mut materials, [150, 175, 185]);
    let bark = matte(&mut materials, [85, 60, 40]);
    let leaves = matte(&mut materials, [60, 105, 55]);
    let crown = meshes.add(Sphere::new(1.0).mesh().uv(16, 10));
    for obstacle in &layout.obstacles {
        let bounds = obstacle.bounds;
        let box_transform = Transform::from_translation(Vec3::from(bounds.centre())).with_scale(Vec3::from(bounds.size()));
        let material = match obstacle.kind {
            ObstacleKind::Building => matte(&mut materials, FACADES[rng.index(FACADES.len())]),
            ObstacleKind::Bench => wood.clone(),
            ObstacleKind::Shelter => glass.clone(),
            ObstacleKind::Tree => bark.clone(),
        };
        let mut shapes = vec![(unit_cube.clone(), material, box_transform)];
        if obstacle.kind == ObstacleKind::Bench {
            // A seat and a backrest rather than a solid block: people are seen through the gap.
            shapes = vec![
                (unit_cube.clone(), wood.clone(), Transform::from_translation(Vec3::from(bounds.centre()).with_y(0.45)).with_scale(Vec3::from(bounds.size()).with_y(0.06))),
                (unit_cube.clone(), wood.clone(), Transform::from_translation(Vec3::from(bounds.centre()).with_y(0.22)).with_scale(Vec3::from(bounds.size()).with_y(0.44) * Vec3::new(0.9, 1.0, 0.9))),
            ];
        }
        if obstacle.kind == ObstacleKind::Tree {
            let top = Vec3::from(bounds.centre()).with_y(bounds.max[1]);
            shapes.push((crown.clone(), leaves.clone(), Transform::from_translation(top).with_scale(Vec3::new(2.2, 1.8, 2.2))));
        }
        for (mesh, material, transform) in shapes {
            commands.spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material), transform));
            commands.spawn((Mesh3d(mesh), MeshMaterial3d(occluder.clone()), transform, RenderLayers::layer(ID_LAYER)));
        }
    }
}

/// The rectangles `[x0, z0, x1, z1]` covering the ring between two centred half-extents
/// (the whole inner rectangle when `inner` is zero).
pub fn ring_rectangles(inner: [f32; 2], outer: [f32; 2]) -> Vec<[f32; 4]> {
    if inner == [0.0, 0.0] {
        return vec![[-outer[0], -outer[1], outer[0], outer[1]]];
    }
    vec![
        [-outer[0], -outer[1], outer[0], -inner[1]], // north band, full width
        [-outer[0], inner[1], outer[0], outer[1]],   // south band, full width
        [-outer[0], -inner[1], -inner[0], inner[1]], // west, between the bands
        [inner[0], -inner[1], outer[0], inner[1]],   // east, between the bands
    ]
    .into_iter()
    .filter(|[x0, z0, x1, z1]| x1 > x0 && z1 > z0)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::ring_rectangles;

    #[test]
    fn ring_rectangles_tile_the_ring_exactly() {
        let rects = ring_rectangles([3.0, 2.0], [5.0, 4.0]);
        let area: f32 = rects.iter().map(|[x0, z0, x1, z1]| (x1 - x0) * (z1 - z0)).sum();
        assert_eq!(area, 10.0 * 8.0 - 6.0 * 4.0);
        // No overlap: every sample point of the ring lies in exactly one rectangle.
        for i in 0..100 {
            for j in 0..80 {
                let (x, z) = (-5.0 + 0.1 * i as f32 + 0.05, -4.0 + 0.1 * j as f32 + 0.05);
                let inside_inner = x.abs() < 3.0 && z.abs() < 2.0;
                let hits = rects.iter().filter(|[x0, z0, x1, z1]| x >= *x0 && x < *x1 && z >= *z0 && z < *z1).count();
                assert_eq!(hits, usize::from(!inside_inner), "({x}, {z})");
            }
        }
    }
}
