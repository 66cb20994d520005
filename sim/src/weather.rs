//! Light and weather from the scenario's `time_of_day_h` and `conditions`: the sky, the
//! cameras' exposure (a CCTV camera adapts to the light), street lights, fog and rain.

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use crowdtwin_agents::SimClock;
use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::scenario::{Conditions, StreetLights};
use crowdtwin_core::site::SiteLayout;
use std::sync::Arc;

/// Height of the rain volume, metres.
const RAIN_HEIGHT_M: f32 = 14.0;
/// Fall speed of rain drops, m/s.
const RAIN_SPEED_MPS: f32 = 7.0;

/// The light of the scene, derived once from the hour and the conditions.
#[derive(Resource, Clone, Debug)]
pub struct Atmosphere {
    /// Sun elevation, radians.
    pub sun_elevation: f32,
    /// Share of full daylight, 0–1.
    pub daylight: f32,
    /// Whether the street lights are on.
    pub lights_on: bool,
    /// Colour of the sky behind everything.
    pub sky: Color,
    /// Camera exposure (EV at ISO 100): Bevy's default by day, opened up at dusk and night.
    pub exposure_ev100: f32,
    /// Fog colour and visibility, metres.
    pub fog: Option<(Color, f32)>,
    /// Rain, mm/h.
    pub rain_mm_h: f32,
}

impl Atmosphere {
    /// The atmosphere at `time_of_day_h` under `conditions`, at a latitude (degrees; `None`:
    /// the template's 35° N).
    pub fn new(time_of_day_h: f32, latitude_deg: Option<f64>, conditions: &Conditions) -> Self {
        let (sun_elevation, _) = crowdtwin_core::scenario::sun_angles_at(time_of_day_h, latitude_deg);
        let daylight = sun_elevation.sin().max(0.0);
        let lights_on = match conditions.street_lights {
            StreetLights::Auto => sun_elevation < 6f32.to_radians(),
            StreetLights::On => true,
            StreetLights::Off => false,
        };
        let overcast = if conditions.rain_mm_h > 0.0 || conditions.fog_visibility_m.is_some() { 0.45 } else { 1.0 };
        // Illuminance the camera adapts to: the sun's (as lit in `site`) plus the street lights'.
        let key_lux = (9_000.0 * daylight + 40.0) * overcast + if lights_on { 40.0 } else { 0.0 };
        // Adapts part of the way only: a night scene stays darker than a day scene, as on real CCTV.
        let exposure_ev100 = (9.7 + 0.65 * (key_lux / 5_000.0).log2().min(0.0)).max(3.0);
        let day_sky = Vec3::new(0.62, 0.74, 0.88).lerp(Vec3::splat(0.72), 1.0 - overcast);
        let night_sky = Vec3::new(0.02, 0.03, 0.06);
        let sky = night_sky.lerp(day_sky, (daylight * 3.0).min(1.0));
        let fog = conditions.fog_visibility_m.map(|v| {
            let grey = Vec3::splat(0.7).lerp(night_sky, 1.0 - (daylight * 3.0).min(1.0));
            (Color::srgb(grey.x, grey.y, grey.z), v)
        });
        let sky = if fog.is_some() { fog.unwrap().0 } else { Color::srgb(sky.x, sky.y, sky.z) };
        Atmosphere { sun_elevation, daylight, lights_on, sky, exposure_ev100, fog, rain_mm_h: conditions.rain_mm_h }
    }
}

/// Street lights and rain.
pub struct WeatherPlugin;

impl Plugin for WeatherPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, (spawn_street_lights, spawn_rain)).add_systems(Update, fall_rain);
    }
}

/// The site's layout, for the lamp posts.
#[derive(Resource, Clone)]
pub struct WeatherSite(pub Arc<SiteLayout>, pub u64);

/// Lamp posts every 16 m along the kerb of the pavement ring and four on the plaza; lit
/// (point lights without shadows) when the street lights are on. The posts occlude the id pass.
fn spawn_street_lights(
    mut commands: Commands,
    atmosphere: Res<Atmosphere>,
    site: Res<WeatherSite>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let posts: Vec<Vec2> = site.0.lamps.iter().map(|&p| Vec2::from(p)).collect();
    let pole = meshes.add(Cuboid::new(0.14, 6.0, 0.14));
    let lamp = meshes.add(Cuboid::new(0.5, 0.18, 0.3));
    let metal = materials.add(StandardMaterial { base_color: Color::srgb(0.22, 0.23, 0.25), perceptual_roughness: 0.6, ..default() });
    let glow = materials.add(StandardMaterial {
        base_color: Color::srgb(1.0, 0.9, 0.7),
        emissive: if atmosphere.lights_on { LinearRgba::rgb(40.0, 32.0, 20.0) } else { LinearRgba::BLACK },
        ..default()
    });
    let occluder = materials.add(StandardMaterial { base_color: Color::BLACK, unlit: true, fog_enabled: false, ..default() });
    for at in posts {
        let post = Transform::from_xyz(at.x, 3.0, at.y);
        let head = Transform::from_xyz(at.x, 6.0, at.y);
        commands.spawn((Mesh3d(pole.clone()), MeshMaterial3d(metal.clone()), post));
        commands.spawn((Mesh3d(pole.clone()), MeshMaterial3d(occluder.clone()), post, RenderLayers::layer(crowdtwin_agents::ID_LAYER)));
        commands.spawn((Mesh3d(lamp.clone()), MeshMaterial3d(glow.clone()), head));
        if atmosphere.lights_on {
            commands.spawn((
                PointLight { intensity: 120_000.0, range: 30.0, color: Color::srgb(1.0, 0.85, 0.65), shadow_maps_enabled: false, ..default() },
                Transform::from_xyz(at.x, 5.8, at.y),
            ));
        }
    }
}

/// The falling streaks of rain: one mesh of crossed quads over the site.
#[derive(Component)]
struct RainVolume {
    /// Which of the two stacked copies (so the streaks wrap without a gap).
    copy: u32,
}

fn spawn_rain(
    mut commands: Commands,
    atmosphere: Res<Atmosphere>,
    site: Res<WeatherSite>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    if atmosphere.rain_mm_h <= 0.0 {
        return;
    }
    let [x0, z0, x1, z1] = site.0.extent();
    let (cx, cz) = (0.5 * (x0 + x1), 0.5 * (z0 + z1));
    let (hx, hz) = (0.5 * (x1 - x0) + 10.0, 0.5 * (z1 - z0) + 10.0);
    // About 0.012 visible streaks per m³ and mm/h, capped for the software renderer.
    let count = ((4.0 * hx * hz * RAIN_HEIGHT_M) * 0.012 * atmosphere.rain_mm_h).min(40_000.0) as usize;
    let mut rng = StreamRng::new(site.1, 0, Purpose::Weather);
    let (mut positions, mut indices) = (Vec::with_capacity(count * 8), Vec::with_capacity(count * 12));
    let (length, width) = (0.55, 0.012);
    for _ in 0..count {
        let c = Vec3::new(cx + rng.range(-hx, hx), rng.range(0.0, RAIN_HEIGHT_M), cz + rng.range(-hz, hz));
        for (dx, dz) in [(width, 0.0), (0.0, width)] {
            let base = positions.len() as u32;
            positions.extend([
                [c.x - dx, c.y, c.z - dz],
                [c.x + dx, c.y, c.z + dz],
                [c.x + dx, c.y + length, c.z + dz],
                [c.x - dx, c.y + length, c.z - dz],
            ]);
            indices.extend([base, base + 1, base + 2, base, base + 2, base + 3]);
        }
    }
    let normals = vec![[0.0, 0.0, 1.0]; positions.len()];
    let mesh = Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::RENDER_WORLD)
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
        .with_inserted_indices(Indices::U32(indices));
    let mesh = meshes.add(mesh);
    let brightness = 0.35 + 0.5 * atmosphere.daylight;
    let material = materials.add(StandardMaterial {
        base_color: Color::srgba(0.8 * brightness, 0.85 * brightness, 0.95 * brightness, 0.35),
        unlit: true,
        alpha_mode: AlphaMode::Blend,
        double_sided: true,
        cull_mode: None,
        ..default()
    });
    for copy in 0..2 {
        commands.spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material.clone()), Transform::default(), RainVolume { copy }));
    }
}

/// Moves the two rain volumes down with the simulated time, wrapping every `RAIN_HEIGHT_M`.
fn fall_rain(clock: Res<SimClock>, mut volumes: Query<(&RainVolume, &mut Transform)>) {
    let fallen = (clock.tick as f32 * clock.dt.max(0.0) * RAIN_SPEED_MPS).rem_euclid(RAIN_HEIGHT_M);
    for (volume, mut transform) in &mut volumes {
        transform.translation.y = -fallen + volume.copy as f32 * RAIN_HEIGHT_M;
    }
}
