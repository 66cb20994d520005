//! The overview camera, orbiting a focus point on the ground: right-drag orbits, middle-drag
//! (or Shift + right-drag) pans, the wheel zooms. The pointer is followed through the window's
//! `CursorMoved` messages — the same ones a scripted session writes — never through the OS.

use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::input::mouse::{MouseScrollUnit, MouseWheel};
use bevy::math::primitives::InfinitePlane3d;
use bevy::prelude::*;
use bevy::render::view::{Msaa, NoIndirectDrawing};
use bevy::window::{CursorMoved, PrimaryWindow};

/// The overview camera's orbit: it looks at `focus` from `distance` metres, turned `yaw` round
/// the vertical (radians, 0 = from the south) and raised `pitch` above the ground.
#[derive(Component, Clone, Copy, Debug)]
pub struct Orbit {
    /// Ground point looked at.
    pub focus: Vec3,
    /// Radians round the vertical.
    pub yaw: f32,
    /// Radians above the ground plane.
    pub pitch: f32,
    /// Metres from the focus.
    pub distance: f32,
}

impl Orbit {
    /// The camera transform of this orbit.
    pub fn transform(&self) -> Transform {
        let offset = Vec3::new(
            self.yaw.sin() * self.pitch.cos(),
            self.pitch.sin(),
            self.yaw.cos() * self.pitch.cos(),
        ) * self.distance;
        Transform::from_translation(self.focus + offset).looking_at(self.focus, Vec3::Y)
    }
}

/// Where the pointer is in the window (logical pixels from the top left) and how far it moved
/// during this frame.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Pointer {
    /// Position, when the pointer is in the window.
    pub position: Option<Vec2>,
    /// Movement during this frame.
    pub delta: Vec2,
}

/// Marks the overview camera.
#[derive(Component)]
pub struct Overview;

/// Spawns the overview camera and drives it.
pub struct OrbitPlugin;

impl Plugin for OrbitPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Pointer>()
            .add_systems(Startup, spawn_overview)
            .add_systems(PreUpdate, track_pointer)
            .add_systems(Update, (orbit_with_mouse, apply_orbit).chain());
    }
}

fn spawn_overview(
    mut commands: Commands,
    site: Res<crate::SiteData>,
    atmosphere: Res<crowdtwin_sim::weather::Atmosphere>,
) {
    let [x0, z0, x1, z1] = site.0.extent();
    let focus = Vec3::new(0.5 * (x0 + x1), 0.0, 0.5 * (z0 + z1));
    let orbit = Orbit {
        focus,
        yaw: 0.35,
        pitch: 0.95,
        distance: 0.85 * (x1 - x0).max(z1 - z0),
    };
    commands.spawn((
        Camera3d::default(),
        Camera {
            order: 0,
            clear_color: ClearColorConfig::Custom(atmosphere.sky),
            ..default()
        },
        Projection::Perspective(PerspectiveProjection {
            fov: 50f32.to_radians(),
            far: 5000.0,
            ..default()
        }),
        Msaa::Off,
        NoIndirectDrawing,
        bevy::camera::Exposure {
            ev100: atmosphere.exposure_ev100,
        },
        orbit.transform(),
        orbit,
        Overview,
        RenderLayers::from_layers(&[0, crate::OVERVIEW_LAYER]),
        // No tonemapping pass: one full-screen pass less for the software renderer.
        Tonemapping::None,
        DebandDither::Disabled,
    ));
}

fn track_pointer(mut moved: MessageReader<CursorMoved>, mut pointer: ResMut<Pointer>) {
    let start = pointer.position;
    for message in moved.read() {
        pointer.position = Some(message.position);
    }
    pointer.delta = match (start, pointer.position) {
        (Some(a), Some(b)) => b - a,
        _ => Vec2::ZERO,
    };
}

fn orbit_with_mouse(
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    pointer: Res<Pointer>,
    mut wheel: MessageReader<MouseWheel>,
    mut orbits: Query<&mut Orbit>,
) {
    let Ok(mut orbit) = orbits.single_mut() else {
        return;
    };
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    let delta = pointer.delta;
    if buttons.pressed(MouseButton::Middle) || (shift && buttons.pressed(MouseButton::Right)) {
        // Pan on the ground: the focus follows the pointer at the rate of the view's scale.
        let scale = orbit.distance * 0.0015;
        let (sin, cos) = orbit.yaw.sin_cos();
        let right = Vec3::new(cos, 0.0, -sin);
        let back = Vec3::new(sin, 0.0, cos);
        orbit.focus -= (right * delta.x + back * delta.y) * scale;
    } else if buttons.pressed(MouseButton::Right) {
        orbit.yaw -= delta.x * 0.006;
        orbit.pitch = (orbit.pitch + delta.y * 0.006).clamp(0.12, 1.55);
    }
    for message in wheel.read() {
        let lines = match message.unit {
            MouseScrollUnit::Line => message.y,
            MouseScrollUnit::Pixel => message.y / 40.0,
        };
        orbit.distance = (orbit.distance * 0.88f32.powf(lines)).clamp(5.0, 2000.0);
    }
}

fn apply_orbit(mut cameras: Query<(&Orbit, &mut Transform), Changed<Orbit>>) {
    for (orbit, mut transform) in &mut cameras {
        *transform = orbit.transform();
    }
}

/// The ground point (y = `height`) under a window position, seen through the overview camera.
pub fn ground_under(
    camera: &Camera,
    transform: &GlobalTransform,
    position: Vec2,
    height: f32,
) -> Option<Vec3> {
    let ray = camera.viewport_to_world(transform, position).ok()?;
    let distance =
        ray.intersect_plane(Vec3::new(0.0, height, 0.0), InfinitePlane3d::new(Vec3::Y))?;
    Some(ray.get_point(distance))
}

/// The window position of a world point seen through the overview camera, if in front of it.
pub fn screen_of(camera: &Camera, transform: &GlobalTransform, point: Vec3) -> Option<Vec2> {
    camera.world_to_viewport(transform, point).ok()
}

/// Whether the pointer is over the primary window's picture-in-picture corner (input there is
/// not for the overview).
pub fn over_pip(window: &Query<&Window, With<PrimaryWindow>>, position: Vec2) -> bool {
    window
        .single()
        .is_ok_and(|w| crate::pip::rect(w.width(), w.height()).contains(position))
}
