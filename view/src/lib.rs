//! crowdtwin-view: the planner's view — a Bevy window (winit) on a scenario's site with its
//! crowd moving, where cameras are placed by hand and their coverage is seen at once.
//!
//! One plugin per concern, composed by [`ViewPlugin`]:
//! * [`crowd`] — the crowd as the overview draws it (each body part as a box; a camera's own
//!   view keeps the full bodies);
//! * [`orbit`] — the overview camera (orbit, pan, zoom) and the pointer as the window reports it;
//! * [`edit`] — selecting, moving, turning, adding and deleting cameras; saving the scenario;
//! * [`overlay`] — the DORI coverage of the site as a coloured ground overlay, computed by the
//!   same code as the reports (`crowdtwin_reports::coverage`);
//! * [`frustums`] — each camera's mast and frustum, the private zones;
//! * [`pip`] — the selected camera's own view (raw render, or the DORI level per pixel);
//! * [`masked`] — the same view through the real masking model, on a worker thread;
//! * [`hud`] — on-screen keyboard help and the selected camera's numbers;
//! * [`script`] — the test mode: raw mouse and keyboard events replayed as window input, state
//!   dumps and screenshots.
//!
//! The crowd steps one simulation tick per displayed frame (the simulation's fixed `dt`), so a
//! scripted session is the same whatever the frame rate.

pub mod crowd;
pub mod edit;
pub mod frustums;
pub mod hud;
pub mod masked;
pub mod orbit;
pub mod overlay;
pub mod pip;
pub mod script;

use anyhow::Context;
use bevy::prelude::*;
use bevy::window::{ExitCondition, PresentMode, WindowResolution};
use crowdtwin_agents::body::{BodyLibrary, assets_dir};
use crowdtwin_agents::crowd::CrowdModel;
use crowdtwin_agents::motion::CrowdSim;
use crowdtwin_agents::population::generate_population;
use crowdtwin_agents::{AgentsPlugin, Crowd, SimClock};
use crowdtwin_core::scenario::{CameraSpec, Scenario};
use crowdtwin_core::site::SiteLayout;
use crowdtwin_sim::{site, weather};
use std::path::PathBuf;
use std::sync::Arc;

/// How to open the view.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// The scenario being edited.
    pub scenario: PathBuf,
    /// Where `Ctrl+S` writes the edited scenario.
    pub save_to: PathBuf,
    /// A `crowdtwin place` result (its `scenario.ron`) that `L` loads the cameras of.
    pub placed: Option<PathBuf>,
    /// A test script (RON list of [`script::Step`]) to replay instead of a person's input.
    pub script: Option<PathBuf>,
    /// Where the script's dumps and screenshots go.
    pub out: PathBuf,
    /// The masking model's manifest for the masked picture-in-picture.
    pub mask_model: PathBuf,
    /// Window size in logical pixels.
    pub size: (u32, u32),
    /// Share of the window's pixels (per axis, 0.25–1) the overview's 3D scene renders at
    /// before it is scaled up to the window; text and picture-in-picture stay at full
    /// resolution (see [`orbit`]).
    pub overview_scale: f32,
}

/// The default [`ViewOptions::overview_scale`]: what keeps the overview above 5 frames/s at
/// 960×540 under a software rasteriser (README "The planner's view").
pub const DEFAULT_OVERVIEW_SCALE: f32 = 0.4;

/// The scenario as edited so far; `revision` grows with every change of a camera.
#[derive(Resource, Clone)]
pub struct Edited {
    /// The scenario, its cameras as edited.
    pub scenario: Scenario,
    /// Number of changes so far.
    pub revision: u64,
    /// When the frame that made the last change started (wall-clock seconds since start-up,
    /// `Time<Real>`), for the overlay's latency.
    pub changed_at_s: f64,
}

impl Edited {
    /// Applies `change` to camera `index` and counts a revision when it changed anything.
    pub fn edit_camera(&mut self, index: usize, now_s: f64, change: impl FnOnce(&mut CameraSpec)) {
        let Some(camera) = self.scenario.cameras.get_mut(index) else {
            return;
        };
        let before = camera.clone();
        change(camera);
        clamp_pose(camera);
        if *camera != before {
            self.touch(now_s);
        }
    }

    /// Counts a change made directly to the cameras.
    pub fn touch(&mut self, now_s: f64) {
        self.revision += 1;
        self.changed_at_s = now_s;
    }
}

/// Keeps an edited pose within what `crowdtwin check` accepts (`CameraSpec` validation):
/// height above 0 and at most 1000 m, pitch −89–89°, field of view 1–170°; yaw wrapped to
/// 0–360°. A pose already inside those bounds is left as it is.
pub fn clamp_pose(camera: &mut CameraSpec) {
    camera.position.1 = camera.position.1.clamp(0.05, 1000.0);
    camera.yaw_deg = camera.yaw_deg.rem_euclid(360.0);
    camera.pitch_deg = camera.pitch_deg.clamp(-89.0, 89.0);
    camera.hfov_deg = camera.hfov_deg.clamp(1.0, 170.0);
}

/// The render layer of what only the overview shows (the coverage overlay, the gizmos, the
/// simplified crowd): never in a camera's own view. Layer 0 is the scene, 1 the simulation's id
/// pass, 3 the full bodies ([`crowd::CAMERA_LAYER`]).
pub const OVERVIEW_LAYER: usize = 2;

/// The systems that change the edited cameras (mouse, keyboard, add, delete, load, save): what
/// shows the cameras runs after them, in the same frame.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EditSet;

/// The selected camera (index into the edited scenario's cameras).
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Selection(pub Option<usize>);

/// The laid-out site, shared by the overlay, the picking and the DORI view.
#[derive(Resource, Clone)]
pub struct SiteData(pub Arc<SiteLayout>);

/// The options the view was opened with.
#[derive(Resource, Clone)]
pub struct ViewConfig(pub ViewOptions);

/// Everything the view shows, as one plugin.
pub struct ViewPlugin;

impl Plugin for ViewPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Selection>()
            .add_systems(First, advance_clock)
            .add_plugins((
                crowd::SimplifiedCrowdPlugin,
                orbit::OrbitPlugin,
                edit::EditPlugin,
                overlay::OverlayPlugin,
                frustums::FrustumPlugin,
                pip::PipPlugin,
                masked::MaskedPlugin,
                hud::HudPlugin,
                script::ScriptPlugin,
            ));
    }
}

/// One simulation tick per displayed frame.
fn advance_clock(mut clock: ResMut<SimClock>, edited: Res<Edited>) {
    clock.tick += 1;
    clock.dt = edited.scenario.dt();
}

/// Opens the view and returns when its window is closed (or its script ends).
///
/// # Errors
/// The scenario, its site or the body assets cannot be loaded, or the crowd cannot be staged.
pub fn run(options: ViewOptions) -> anyhow::Result<()> {
    // The script first: a bad one is refused before anything heavy is loaded.
    anyhow::ensure!(
        (0.25..=1.0).contains(&options.overview_scale),
        "--overview-scale must be between 0.25 and 1 (the share of the window's pixels the overview renders), not {}",
        options.overview_scale
    );
    let steps = match &options.script {
        Some(path) => Some(script::Script::load(path)?),
        None => None,
    };
    let scenario = Scenario::load(&options.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bodies = BodyLibrary::load(&assets_dir().join("humans"))
        .map_err(|e| anyhow::anyhow!("cannot load the human bodies: {e}"))?;
    let persons = generate_population(&scenario);
    let layout = Arc::new(
        crowdtwin_sites::load(&scenario)
            .map_err(|e| anyhow::anyhow!("site: {e}"))?
            .layout,
    );
    let crowd = CrowdModel::new(&scenario, &persons, layout.clone())
        .map_err(|e| anyhow::anyhow!("cannot stage the scenario: {e}"))?;
    // winit panics without a display; say what to do instead.
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        anyhow::bail!(
            "`crowdtwin view` opens a window and needs an X display: DISPLAY is not set (on a headless machine: `Xvfb :1 & DISPLAY=:1 crowdtwin view …`)"
        );
    }
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;
    let (width, height) = options.size;
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: format!("crowdtwin view — {}", scenario.name),
                    resolution: WindowResolution::new(width, height),
                    // Frames as fast as the renderer gives them: the frame rate is what is measured.
                    present_mode: PresentMode::AutoNoVsync,
                    ..default()
                }),
                exit_condition: ExitCondition::OnPrimaryClosed,
                ..default()
            })
            // The frame that takes an edit also renders and presents it: with the renderer
            // pipelined a frame behind, an edit showed two frames later at the same frame rate
            // (measured: README "The planner's view").
            .disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>()
            .set(bevy::log::LogPlugin {
                level: bevy::log::Level::WARN,
                filter: "wgpu=error,naga=warn,bevy_render::renderer=error,bevy_light=error".into(),
                ..default()
            }),
    )
    .insert_resource(Crowd {
        seed: scenario.seed,
        persons,
        layout: layout.clone(),
        bodies: Arc::new(bodies),
    })
    .insert_resource(CrowdSim(crowd))
    // The overview never draws shadows (software rendering); the picture-in-picture is the
    // camera's own view and keeps the scenario's render settings otherwise.
    .insert_resource(site::SiteScene {
        layout: layout.clone(),
        time_of_day_h: scenario.time_of_day_h,
        shadows: false,
        seed: scenario.seed,
    })
    .insert_resource(weather::Atmosphere::new(
        scenario.time_of_day_h,
        layout.origin.map(|o| o.lat_deg),
        &scenario.conditions,
    ))
    .insert_resource(weather::WeatherSite(layout.clone(), scenario.seed))
    .insert_resource(SiteData(layout))
    .insert_resource(Edited {
        scenario,
        revision: 0,
        changed_at_s: 0.0,
    })
    .insert_resource(ViewConfig(options))
    .add_plugins((
        site::SitePlugin,
        weather::WeatherPlugin,
        AgentsPlugin,
        ViewPlugin,
    ));
    if let Some(steps) = steps {
        app.insert_resource(steps);
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => {
            anyhow::bail!("the view stopped with error code {code} (see its log above)")
        }
    }
}
