//! The overview camera, orbiting a focus point on the ground: right-drag orbits, middle-drag
//! (or Shift + right-drag) pans, the wheel zooms. The pointer is followed through the window's
//! `CursorMoved` messages — the same ones a scripted session writes — never through the OS.
//!
//! The overview's 3D scene renders into an image of [`ViewOptions::overview_scale`] of the
//! window's pixels, which a full-window UI node scales up; text and picture-in-picture are drawn
//! at the window's own resolution. A software rasteriser's cost is its fragments (README "The
//! planner's view" has the measurements), so this is what keeps the overview interactive there;
//! on a GPU `--overview-scale 1` renders it at full resolution. Picking maps window positions
//! into the image through [`Overview::scale`].
//!
//! [`ViewOptions::overview_scale`]: crate::ViewOptions::overview_scale

use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::input::mouse::{MouseScrollUnit, MouseWheel};
use bevy::math::primitives::InfinitePlane3d;
use bevy::prelude::*;
use bevy::render::view::{Msaa, NoIndirectDrawing};
use bevy::ui::IsDefaultUiCamera;
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

/// The overview camera, and how window positions map into the image it renders.
#[derive(Component, Clone, Copy, Debug)]
pub struct Overview {
    /// Image pixels per logical window pixel, per axis (the render scale times the window's
    /// scale factor, up to rounding).
    pub scale: Vec2,
}

/// The image the overview renders into (shown by a full-window UI node).
#[derive(Resource, Clone)]
pub struct OverviewTarget {
    /// The render target.
    pub image: Handle<Image>,
    /// Share of the window's physical pixels rendered, per axis (0.25–1).
    pub render_scale: f32,
}

/// Spawns the overview camera and drives it.
pub struct OrbitPlugin;

impl Plugin for OrbitPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Pointer>()
            .add_systems(Startup, spawn_overview)
            .add_systems(PreUpdate, track_pointer)
            .add_systems(Update, (fit_target, orbit_with_mouse, apply_orbit).chain());
    }
}

/// The overview image's size in pixels for a window, and the image pixels per logical window
/// pixel.
fn target_size(window: &Window, render_scale: f32) -> (UVec2, Vec2) {
    let physical = window.physical_size().max(UVec2::ONE);
    let size = (physical.as_vec2() * render_scale)
        .round()
        .max(Vec2::ONE)
        .as_uvec2();
    let logical = Vec2::new(window.width(), window.height()).max(Vec2::ONE);
    (size, size.as_vec2() / logical)
}

fn spawn_overview(
    mut commands: Commands,
    site: Res<crate::SiteData>,
    config: Res<crate::ViewConfig>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut images: ResMut<Assets<Image>>,
    atmosphere: Res<crowdtwin_sim::weather::Atmosphere>,
) {
    let render_scale = config.0.overview_scale;
    let (size, scale) = window
        .single()
        .map(|w| target_size(w, render_scale))
        .unwrap_or_else(|_| {
            let size = (Vec2::new(960.0, 540.0) * render_scale).round().as_uvec2();
            (size, Vec2::splat(render_scale))
        });
    let image = images.add(crate::pip::blank(size.x, size.y, true));
    // Below every other UI node: the HUD and the picture-in-picture stay sharp on top of it.
    commands.spawn((
        ImageNode::new(image.clone()),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(0.0),
            top: Val::Px(0.0),
            width: Val::Percent(100.0),
            height: Val::Percent(100.0),
            ..default()
        },
        GlobalZIndex(-1),
    ));
    // The window's own camera draws only the UI.
    commands.spawn((
        Camera2d,
        Camera {
            order: 10,
            clear_color: ClearColorConfig::Custom(atmosphere.sky),
            ..default()
        },
        Msaa::Off,
        Tonemapping::None,
        DebandDither::Disabled,
        IsDefaultUiCamera,
    ));
    commands.insert_resource(OverviewTarget {
        image: image.clone(),
        render_scale,
    });
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
        RenderTarget::Image(image.into()),
        Msaa::Off,
        NoIndirectDrawing,
        bevy::camera::Exposure {
            ev100: atmosphere.exposure_ev100,
        },
        orbit.transform(),
        orbit,
        Overview { scale },
        RenderLayers::from_layers(&[0, crate::OVERVIEW_LAYER]),
        // No tonemapping pass: one full-screen pass less for the software renderer.
        Tonemapping::None,
        DebandDither::Disabled,
    ));
}

/// Keeps the overview image at its share of the window, and the picking's scale with it, when
/// the window's size or scale factor changes (checked every frame: a scale-factor change comes
/// without a resize message).
fn fit_target(
    window: Query<&Window, With<PrimaryWindow>>,
    target: Res<OverviewTarget>,
    mut images: ResMut<Assets<Image>>,
    mut overview: Query<&mut Overview>,
) {
    let (Ok(window), Ok(mut overview)) = (window.single(), overview.single_mut()) else {
        return;
    };
    let (size, scale) = target_size(window, target.render_scale);
    if overview.scale != scale {
        overview.scale = scale;
    }
    if images.get(&target.image).is_some_and(|i| i.size() != size)
        && let Some(mut image) = images.get_mut(&target.image)
    {
        *image = crate::pip::blank(size.x, size.y, true);
    }
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

/// The ground point (y = `height`) under a window position (logical pixels), seen through the
/// overview camera.
pub fn ground_under(
    camera: &Camera,
    transform: &GlobalTransform,
    overview: &Overview,
    position: Vec2,
    height: f32,
) -> Option<Vec3> {
    let ray = camera
        .viewport_to_world(transform, position * overview.scale)
        .ok()?;
    let distance =
        ray.intersect_plane(Vec3::new(0.0, height, 0.0), InfinitePlane3d::new(Vec3::Y))?;
    Some(ray.get_point(distance))
}

/// The window position (logical pixels) of a world point seen through the overview camera, if
/// in front of it.
pub fn screen_of(
    camera: &Camera,
    transform: &GlobalTransform,
    overview: &Overview,
    point: Vec3,
) -> Option<Vec2> {
    let in_image = camera.world_to_viewport(transform, point).ok()?;
    Some(in_image / overview.scale)
}

/// Whether the pointer is over the primary window's picture-in-picture corner (input there is
/// not for the overview).
pub fn over_pip(window: &Query<&Window, With<PrimaryWindow>>, position: Vec2) -> bool {
    window
        .single()
        .is_ok_and(|w| crate::pip::rect(w.width(), w.height()).contains(position))
}
