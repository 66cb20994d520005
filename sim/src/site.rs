//! The static scene: ground, street, pavement, buildings, benches, shelter, trees and the sun.
//!
//! Every object that can hide a person also gets a black, unlit twin on the id layer, so the
//! id pass is occluded exactly like the colour pass.

use bevy::camera::visibility::RenderLayers;
use bevy::light::{CascadeShadowConfigBuilder, DirectionalLightShadowMap};
use bevy::prelude::*;
use crowdtwin_agents::ID_LAYER;
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::site::{Footprint, Ground, GroundMap, ObstacleKind, SiteLayout, Surface};
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

impl SiteScene {
    fn latitude(&self) -> Option<f64> {
        self.layout.origin.map(|o| o.lat_deg)
    }
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
    let (elevation, azimuth) = crowdtwin_core::scenario::sun_angles_at(scene.time_of_day_h, scene.latitude());
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
    mut images: ResMut<Assets<Image>>,
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
    match &layout.ground {
        Ground::Template(t) => {
            let far = [t.walkable_half[0] + 200.0, t.walkable_half[1] + 200.0];
            let layers = [
                ([0.0, 0.0], t.plaza_half, [176, 164, 146]),
                (t.plaza_half, t.street_half, [62, 64, 68]),
                (t.street_half, t.walkable_half, [150, 148, 142]),
                (t.walkable_half, far, [88, 92, 80]),
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
        }
        // An imported site's ground is its surface raster drawn as one texture (one texel per
        // cell, nearest filtering), with land beyond it to the horizon.
        Ground::Map(map) => {
            let texture = images.add(surface_texture(map, wet));
            let material = materials.add(StandardMaterial {
                base_color_texture: Some(texture),
                perceptual_roughness: if wet { 0.35 } else { 0.9 },
                reflectance: if wet { 0.45 } else { 0.2 },
                ..default()
            });
            let [x0, z0, x1, z1] = map.extent();
            commands.spawn((Mesh3d(meshes.add(ground_quad([x0, z0, x1, z1]))), MeshMaterial3d(material)));
            let land = matte(&mut materials, [88, 92, 80]);
            let far = 200.0;
            for [a0, b0, a1, b1] in [[x0 - far, z0 - far, x1 + far, z0], [x0 - far, z1, x1 + far, z1 + far], [x0 - far, z0, x0, z1], [x1, z0, x1 + far, z1]] {
                commands.spawn((Mesh3d(plane.clone()), MeshMaterial3d(land.clone()), Transform::from_xyz(0.5 * (a0 + a1), 0.0, 0.5 * (b0 + b1)).with_scale(Vec3::new(a1 - a0, 1.0, b1 - b0))));
            }
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
    // Imported buildings: prisms over their footprints, seen from either side (a footprint's
    // winding is repaired data, and a camera may be mounted inside a façade's thickness).
    let two_sided_occluder = materials.add(StandardMaterial { base_color: Color::BLACK, unlit: true, fog_enabled: false, cull_mode: None, double_sided: true, ..default() });
    for footprint in &layout.footprints {
        let rgb = FACADES[rng.index(FACADES.len())];
        let darken = if wet { 0.65 } else { 1.0 };
        let material = materials.add(StandardMaterial {
            base_color: Color::srgb_u8(rgb[0], rgb[1], rgb[2]).darker(1.0 - darken),
            perceptual_roughness: if wet { 0.35 } else { 0.9 },
            cull_mode: None,
            double_sided: true,
            ..default()
        });
        let mesh = meshes.add(footprint_mesh(footprint));
        commands.spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material)));
        commands.spawn((Mesh3d(mesh), MeshMaterial3d(two_sided_occluder.clone()), RenderLayers::layer(ID_LAYER)));
    }
}

/// Colours of the surfaces of an imported site (sRGB), as the template paints the same ones.
fn surface_rgb(surface: Surface) -> [u8; 3] {
    match surface {
        Surface::Off => [120, 116, 108],
        Surface::Walkway => [176, 164, 146],
        Surface::Carriageway => [62, 64, 68],
        Surface::CrossingRamps | Surface::Crossing => [205, 205, 200],
        Surface::Steps => [140, 130, 118],
        Surface::Building => [96, 90, 84],
        Surface::Green => [88, 110, 70],
        Surface::Furniture => [176, 164, 146],
    }
}

fn surface_texture(map: &GroundMap, wet: bool) -> Image {
    use bevy::asset::RenderAssetUsages;
    use bevy::image::ImageSampler;
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    let darken = |c: u8| if wet { (c as f32 * 0.65) as u8 } else { c };
    let mut data = Vec::with_capacity(map.cells.len() * 4);
    for (k, &cell) in map.cells.iter().enumerate() {
        let [r, g, b] = surface_rgb(Surface::from_u8(cell));
        // Zebra stripes across crossings, every other 0.5 m band.
        let (i, j) = (k % map.size.0, k / map.size.0);
        let stripe = matches!(Surface::from_u8(cell), Surface::CrossingRamps | Surface::Crossing) && (((i + j) as f32 * map.cell_m / 0.5) as usize) % 2 == 1;
        let [r, g, b] = if stripe { surface_rgb(Surface::Carriageway) } else { [r, g, b] };
        data.extend([darken(r), darken(g), darken(b), 255]);
    }
    let mut image = Image::new(
        Extent3d { width: map.size.0 as u32, height: map.size.1 as u32, depth_or_array_layers: 1 },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// A flat quad over `[x0, z0, x1, z1]` at y = 0, facing up, with UV (0, 0) at (x0, z0) and
/// (1, 1) at (x1, z1) (texture rows run south, as the raster's do).
fn ground_quad([x0, z0, x1, z1]: [f32; 4]) -> Mesh {
    use bevy::asset::RenderAssetUsages;
    use bevy::mesh::{Indices, PrimitiveTopology};
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::RENDER_WORLD)
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, vec![[x0, 0.0, z0], [x1, 0.0, z0], [x1, 0.0, z1], [x0, 0.0, z1]])
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0, 1.0, 0.0]; 4])
        .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        .with_inserted_indices(Indices::U32(vec![0, 2, 1, 0, 3, 2]))
}

/// A building's prism: a wall quad per footprint edge (normals outward) and the roof.
fn footprint_mesh(footprint: &Footprint) -> Mesh {
    use bevy::asset::RenderAssetUsages;
    use bevy::mesh::{Indices, PrimitiveTopology};
    let (mut positions, mut normals, mut indices) = (Vec::new(), Vec::new(), Vec::new());
    let h = footprint.height_m;
    for (a, b) in footprint.edges() {
        let (dx, dz) = (b[0] - a[0], b[1] - a[1]);
        let length = (dx * dx + dz * dz).sqrt().max(1e-6);
        let normal = [-dz / length, 0.0, dx / length];
        let base = positions.len() as u32;
        positions.extend([[a[0], 0.0, a[1]], [b[0], 0.0, b[1]], [b[0], h, b[1]], [a[0], h, a[1]]]);
        normals.extend([normal; 4]);
        indices.extend([base, base + 1, base + 2, base, base + 2, base + 3]);
    }
    let base = positions.len() as u32;
    positions.extend(footprint.ring.iter().map(|p| [p[0], h, p[1]]));
    normals.extend(std::iter::repeat_n([0.0, 1.0, 0.0], footprint.ring.len()));
    if footprint.roof.is_empty() {
        for k in 1..footprint.ring.len().saturating_sub(1) as u32 {
            indices.extend([base, base + k, base + k + 1]);
        }
    } else {
        indices.extend(footprint.roof.iter().flat_map(|t| t.map(|i| base + i)));
    }
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::RENDER_WORLD)
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
        .with_inserted_indices(Indices::U32(indices))
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
