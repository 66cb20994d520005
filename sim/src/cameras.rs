//! The virtual CCTV cameras: for each scenario camera, a colour camera and an id camera with
//! the same pose and projection, each rendering into its own image.

use bevy::camera::visibility::RenderLayers;
use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::view::{Msaa, NoIndirectDrawing};
use bevy::light::ShadowFilteringMethod;
use crowdtwin_core::scenario::ShadowFilter;
use crowdtwin_agents::ID_LAYER;
use crowdtwin_core::camera::{CameraModel, NEAR_M};
use crowdtwin_core::scenario::{CameraSpec, RenderSettings};

/// The scenario's cameras and render settings.
#[derive(Resource, Clone)]
pub struct CameraSpecs {
    /// Cameras in scenario order.
    pub cameras: Vec<CameraSpec>,
    /// Render quality.
    pub render: RenderSettings,
}

/// The two render targets and camera entities of one scenario camera.
#[derive(Clone, Debug)]
pub struct CameraTargets {
    /// Colour camera entity.
    pub colour_camera: Entity,
    /// Id camera entity.
    pub id_camera: Entity,
    /// Colour image.
    pub colour: Handle<Image>,
    /// Id-mask image.
    pub id_mask: Handle<Image>,
    /// Width and height in pixels.
    pub size: (u32, u32),
}

/// The targets of every camera, in scenario order.
#[derive(Resource, Clone, Debug, Default)]
pub struct CameraRig {
    /// One entry per scenario camera.
    pub targets: Vec<CameraTargets>,
}

/// Spawns the cameras at start-up.
pub struct CameraRigPlugin;

impl Plugin for CameraRigPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CameraRig>().add_systems(Startup, spawn_cameras);
    }
}

/// The world transform of a camera: at its position, turned by yaw (compass) then pitch (down).
pub fn camera_transform(spec: &CameraSpec) -> Transform {
    let (x, y, z) = spec.position;
    Transform::from_xyz(x, y, z)
        .with_rotation(Quat::from_rotation_y(-spec.yaw_deg.to_radians()) * Quat::from_rotation_x(-spec.pitch_deg.to_radians()))
}

fn target_image(width: u32, height: u32) -> Image {
    let mut image = Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    image
}

fn spawn_cameras(
    mut commands: Commands,
    specs: Res<CameraSpecs>,
    atmosphere: Res<crate::weather::Atmosphere>,
    mut images: ResMut<Assets<Image>>,
    mut rig: ResMut<CameraRig>,
) {
    for (index, spec) in specs.cameras.iter().enumerate() {
        let (width, height) = spec.render_resolution;
        let model = CameraModel::new(spec, spec.render_resolution);
        let projection = Projection::Perspective(PerspectiveProjection {
            fov: model.vfov_rad(),
            aspect_ratio: width as f32 / height as f32,
            near: NEAR_M, // the CPU ground truth uses the same near plane
            far: 2000.0,
            ..default()
        });
        let transform = camera_transform(spec);
        let colour = images.add(target_image(width, height));
        let id_mask = images.add(target_image(width, height));
        let msaa = if specs.render.msaa == 4 { Msaa::Sample4 } else { Msaa::Off };
        let colour_camera = commands
            .spawn((
                Camera3d::default(),
                Camera {
                    order: index as isize,
                    clear_color: ClearColorConfig::Custom(atmosphere.sky),
                    ..default()
                },
                RenderTarget::Image(colour.clone().into()),
                projection.clone(),
                Tonemapping::AcesFitted,
                DebandDither::Disabled,
                msaa,
                transform,
                bevy::camera::Exposure { ev100: atmosphere.exposure_ev100 },
                // On lavapipe the GPU-driven path's culling and instance-building compute passes
                // run on the CPU as well: direct draws render the same frames about a quarter
                // faster (README "Cheaper frames").
                NoIndirectDrawing,
            ))
            .id();
        commands.entity(colour_camera).insert(match specs.render.shadow_filter {
            ShadowFilter::Gaussian => ShadowFilteringMethod::Gaussian,
            ShadowFilter::Hardware2x2 => ShadowFilteringMethod::Hardware2x2,
        });
        if let Some((colour, visibility_m)) = atmosphere.fog {
            commands.entity(colour_camera).insert(bevy::pbr::DistanceFog {
                color: colour,
                falloff: bevy::pbr::FogFalloff::from_visibility(visibility_m),
                ..default()
            });
        }
        // The id pass: no MSAA, no tonemapping, no dithering, so every pixel is exactly one id.
        let id_camera = commands
            .spawn((
                Camera3d::default(),
                Camera {
                    order: 1000 + index as isize,
                    clear_color: ClearColorConfig::Custom(Color::BLACK),
                    ..default()
                },
                RenderTarget::Image(id_mask.clone().into()),
                projection,
                Tonemapping::None,
                DebandDither::Disabled,
                Msaa::Off,
                RenderLayers::layer(ID_LAYER),
                transform,
                NoIndirectDrawing,
            ))
            .id();
        rig.targets.push(CameraTargets { colour_camera, id_camera, colour, id_mask, size: (width, height) });
    }
}
