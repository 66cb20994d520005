//! The selected camera's own view in a corner of the window: its raw render (same projection,
//! exposure and fog as the frames `crowdtwin run` renders, every person drawn in full; at the
//! size it is shown, or at the camera's render resolution for the masker), the masked view ([`crate::masked`]), or the DORI level per pixel — the level a head at that pixel would be seen at: the
//! ray meets the head-height plane, the pixel density there is the sensor's focal length ÷ the
//! distance along the axis (the coverage model's rule), grey where something blocks the line of
//! sight, black under the camera's privacy masks, clear above the horizon.

use crate::{Edited, Selection};
use bevy::asset::RenderAssetUsages;
use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::view::{Msaa, NoIndirectDrawing};
use crowdtwin_core::camera::{CameraModel, NEAR_M};
use crowdtwin_core::scenario::CameraSpec;
use crowdtwin_reports::coverage::{LEVEL_COLOURS, Occluders, dori_level};

/// Width of the picture-in-picture, logical pixels; its height follows the camera's aspect.
pub const PIP_WIDTH: f32 = 384.0;
/// Margin from the window's corner, logical pixels.
pub const PIP_MARGIN: f32 = 12.0;
/// Columns of the DORI-per-pixel image (rows follow the aspect).
pub const DORI_COLUMNS: u32 = 192;
/// The picture-in-picture renders on this cadence (seconds of wall-clock time): 1.18 times a
/// second keeps it above the 1 fps asked of it while the overview gets the rest (each render is
/// a full camera frame with every body in full, as costly as an overview frame on a software
/// rasteriser).
pub const PIP_PERIOD_S: f64 = 0.85;

/// What the picture-in-picture shows.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PipMode {
    /// The camera's render.
    #[default]
    Raw,
    /// What leaves the masking model (see [`crate::masked`]).
    Masked,
    /// The DORI level per pixel over the render.
    Dori,
}

impl PipMode {
    /// Its name on screen and in dumps.
    pub fn name(self) -> &'static str {
        match self {
            PipMode::Raw => "raw",
            PipMode::Masked => "masked",
            PipMode::Dori => "DORI per pixel",
        }
    }
}

/// The window rectangle of the picture-in-picture (logical pixels, top-left origin).
pub fn rect(window_width: f32, window_height: f32) -> Rect {
    let height = PIP_WIDTH * 9.0 / 16.0;
    Rect::new(
        window_width - PIP_MARGIN - PIP_WIDTH,
        window_height - PIP_MARGIN - height,
        window_width - PIP_MARGIN,
        window_height - PIP_MARGIN,
    )
}

/// The picture-in-picture's camera, images and bookkeeping.
#[derive(Resource)]
pub struct Pip {
    /// The render target.
    pub image: Handle<Image>,
    /// The DORI-per-pixel image.
    pub dori: Handle<Image>,
    /// The camera entity.
    pub camera: Entity,
    /// The camera spec last shown (the DORI image is redrawn when it changes).
    pub shown: Option<CameraSpec>,
    /// Wall-clock seconds of each picture-in-picture render so far (the last few).
    pub renders_s: Vec<f64>,
    /// The camera renders a new frame this frame (the masked view reads that one back).
    pub rendering: bool,
    /// When the next render is due (wall-clock seconds).
    next_s: f64,
    /// A due render was put off by an edit in its frame: the next frame renders.
    deferred: bool,
    /// The UI nodes: the render and the DORI layer.
    nodes: (Entity, Entity),
}

/// Marks the picture-in-picture's camera.
#[derive(Component)]
pub struct PipCamera;

/// The picture-in-picture of the selected camera; `V` switches what it shows.
pub struct PipPlugin;

impl Plugin for PipPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PipMode>()
            .add_systems(Startup, spawn_pip)
            .add_systems(
                Update,
                (switch_mode, follow_selection)
                    .chain()
                    .after(crate::EditSet),
            );
    }
}

/// A blank image: a render target (copyable, for read-back) or a CPU-written RGBA texture.
pub fn blank(width: u32, height: u32, target: bool) -> Image {
    if target {
        let mut image =
            Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
        image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
        image
    } else {
        Image::new(
            Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            TextureDimension::D2,
            vec![0; (width * height * 4) as usize],
            TextureFormat::Rgba8UnormSrgb,
            RenderAssetUsages::default(),
        )
    }
}

fn spawn_pip(
    mut commands: Commands,
    mut images: ResMut<Assets<Image>>,
    atmosphere: Res<crowdtwin_sim::weather::Atmosphere>,
    edited: Res<Edited>,
) {
    let image = images.add(blank(16, 9, true));
    let dori = images.add(blank(16, 9, false));
    let msaa = if edited.scenario.render.msaa == 4 {
        Msaa::Sample4
    } else {
        Msaa::Off
    };
    let camera = commands
        .spawn((
            Camera3d::default(),
            Camera {
                order: 1,
                is_active: false,
                clear_color: ClearColorConfig::Custom(atmosphere.sky),
                ..default()
            },
            RenderTarget::Image(image.clone().into()),
            Tonemapping::AcesFitted,
            DebandDither::Disabled,
            msaa,
            NoIndirectDrawing,
            bevy::camera::Exposure {
                ev100: atmosphere.exposure_ev100,
            },
            PipCamera,
            // The scene and the full bodies (the overview draws boxes instead).
            RenderLayers::from_layers(&[0, crate::crowd::CAMERA_LAYER]),
        ))
        .id();
    if let Some((colour, visibility_m)) = atmosphere.fog {
        commands.entity(camera).insert(bevy::pbr::DistanceFog {
            color: colour,
            falloff: bevy::pbr::FogFalloff::from_visibility(visibility_m),
            ..default()
        });
    }
    let placed = placed();
    let render = commands
        .spawn((
            ImageNode::new(image.clone()),
            placed.clone(),
            Visibility::Hidden,
        ))
        .id();
    let layer = commands
        .spawn((
            ImageNode::new(dori.clone()),
            placed,
            Visibility::Hidden,
            GlobalZIndex(1),
        ))
        .id();
    commands.insert_resource(Pip {
        image,
        dori,
        camera,
        shown: None,
        renders_s: Vec::new(),
        rendering: false,
        next_s: 0.0,
        deferred: false,
        nodes: (render, layer),
    });
}

/// The picture-in-picture's place in the window, as a UI node ([`rect`]).
pub fn placed() -> Node {
    Node {
        position_type: PositionType::Absolute,
        right: Val::Px(PIP_MARGIN),
        bottom: Val::Px(PIP_MARGIN),
        width: Val::Px(PIP_WIDTH),
        height: Val::Px(PIP_WIDTH * 9.0 / 16.0),
        ..default()
    }
}

fn switch_mode(
    keys: Res<ButtonInput<KeyCode>>,
    entry: Res<crate::edit::Entry>,
    mut mode: ResMut<PipMode>,
) {
    if entry.0.is_none() && keys.just_pressed(KeyCode::KeyV) {
        *mode = match *mode {
            PipMode::Raw => PipMode::Masked,
            PipMode::Masked => PipMode::Dori,
            PipMode::Dori => PipMode::Raw,
        };
    }
}

/// Points the picture-in-picture's camera at the selected camera and shows or hides its layers.
#[allow(clippy::too_many_arguments)]
pub fn follow_selection(
    selection: Res<Selection>,
    edited: Res<Edited>,
    mode: Res<PipMode>,
    coverage: Option<Res<crate::overlay::Coverage>>,
    time: Res<Time<Real>>,
    mut pip: ResMut<Pip>,
    mut images: ResMut<Assets<Image>>,
    mut cameras: Query<(&mut Camera, &mut Transform, &mut Projection), With<PipCamera>>,
    mut visibility: Query<&mut Visibility, With<ImageNode>>,
    window: Query<&Window, With<bevy::window::PrimaryWindow>>,
    masked: Option<Res<crate::masked::MaskedView>>,
) {
    let masker_busy = masked.is_some_and(|m| m.in_flight >= crate::masked::IN_FLIGHT);
    let spec = selection.0.and_then(|i| edited.scenario.cameras.get(i));
    let Ok((mut camera, mut transform, mut projection)) = cameras.get_mut(pip.camera) else {
        return;
    };
    let (render_node, dori_node) = pip.nodes;
    let Some(spec) = spec else {
        camera.is_active = false;
        pip.rendering = false;
        pip.deferred = false;
        pip.shown = None;
        for node in [render_node, dori_node] {
            if let Ok(mut v) = visibility.get_mut(node) {
                *v = Visibility::Hidden;
            }
        }
        return;
    };
    let (width, height) = spec.render_resolution;
    let model = CameraModel::new(spec, spec.render_resolution);
    // The masker sees the camera's render resolution, as in a run; the raw and DORI views are
    // rendered at the size they are shown (the same picture, a third of the pixels at 640×360).
    let size = if *mode == PipMode::Masked {
        UVec2::new(width, height)
    } else {
        let scale = window.single().map_or(1.0, Window::scale_factor);
        let shown_width = (PIP_WIDTH * scale).round().min(width as f32).max(1.0);
        let shown_height = (shown_width * height as f32 / width as f32).round().max(1.0);
        UVec2::new(shown_width as u32, shown_height as u32)
    };
    let resized = images.get(&pip.image).is_none_or(|i| i.size() != size);
    if resized && let Some(mut image) = images.get_mut(&pip.image) {
        *image = blank(size.x, size.y, true);
    }
    let changed = pip.shown.as_ref() != Some(spec);
    // Another camera (or the first) is shown at once: the picture never shows the last one's.
    let switched = pip.shown.as_ref().map(|s| &s.id) != Some(&spec.id);
    if changed {
        *transform = crowdtwin_sim::cameras::camera_transform(spec);
        *projection = Projection::Perspective(PerspectiveProjection {
            fov: model.vfov_rad(),
            aspect_ratio: width as f32 / height as f32,
            near: NEAR_M,
            far: 2000.0,
            ..default()
        });
        if let Some(coverage) = &coverage {
            let dori = dori_image(
                spec,
                &coverage.occluders,
                edited.scenario.placement.head_height_m,
            );
            if let Some(mut image) = images.get_mut(&pip.dori) {
                *image = dori;
            }
        }
        pip.shown = Some(spec.clone());
    }
    // On a fixed cadence of PIP_PERIOD_S (so frames that fall late do not lower the rate); a
    // render due in the frame that takes an edit goes to the next frame (the edit's frame shows
    // it on the overview first). While the masker has all the frames it can take, a render
    // would be seen by nobody: it waits.
    let now = time.elapsed_secs_f64();
    let late = now - pip.next_s;
    let masker_full = *mode == PipMode::Masked && masker_busy;
    let due = resized
        || switched
        || (!masker_full && (pip.deferred || (late >= 0.0 && !changed)));
    pip.deferred = !due && !masker_full && late >= 0.0;
    camera.is_active = due;
    pip.rendering = due;
    if due {
        // A cadence fallen more than a period behind restarts from now.
        pip.next_s = if late > PIP_PERIOD_S { now } else { pip.next_s } + PIP_PERIOD_S;
        pip.renders_s.push(now);
        let excess = pip.renders_s.len().saturating_sub(32);
        pip.renders_s.drain(..excess);
    }
    if let Ok(mut v) = visibility.get_mut(render_node) {
        *v = Visibility::Visible;
    }
    if let Ok(mut v) = visibility.get_mut(dori_node) {
        *v = if *mode == PipMode::Dori {
            Visibility::Visible
        } else {
            Visibility::Hidden
        };
    }
}

/// The DORI level per pixel of a camera (see the module's documentation), as an RGBA image
/// [`DORI_COLUMNS`] wide: the map's level colours, grey where hidden, black under privacy masks.
pub fn dori_image(spec: &CameraSpec, occluders: &Occluders, head_height_m: f32) -> Image {
    let model = CameraModel::new(spec, spec.sensor_resolution);
    let columns = DORI_COLUMNS;
    let rows = ((columns as f32) * model.height as f32 / model.width as f32)
        .round()
        .max(1.0) as u32;
    let mut pixels = Vec::with_capacity((columns * rows * 4) as usize);
    let position = Vec3::from(model.position);
    for row in 0..rows {
        for column in 0..columns {
            let (fu, fv) = (
                (column as f32 + 0.5) / columns as f32,
                (row as f32 + 0.5) / rows as f32,
            );
            let masked = spec
                .privacy_masks
                .iter()
                .any(|&(u0, v0, u1, v1)| fu >= u0 && fu <= u1 && fv >= v0 && fv <= v1);
            let ray = Vec3::from(model.ray(fu * model.width as f32, fv * model.height as f32));
            let pixel = if masked {
                [0, 0, 0, 255]
            } else if ray.y >= -1e-4 || position.y <= head_height_m {
                [0, 0, 0, 0]
            } else {
                let point = position + ray * ((head_height_m - position.y) / ray.y);
                if occluders.blocks(model.position, point.to_array()) {
                    [90, 90, 90, 200]
                } else {
                    let depth = (point - position).dot(Vec3::from(model.forward));
                    let [r, g, b] = LEVEL_COLOURS[dori_level(model.focal_px / depth) as usize];
                    [r, g, b, 190]
                }
            };
            pixels.extend_from_slice(&pixel);
        }
    }
    let mut image = blank(columns, rows, false);
    image.data = Some(pixels);
    image
}
