//! crowdtwin-sim: the Bevy app that simulates a scenario and renders its cameras headlessly.
//!
//! [`Simulation::step`] advances one fixed tick with one `App::update()`; every camera due on
//! that tick has rendered its colour frame and id mask by the time `update()` returns, and both
//! are read back to CPU memory before the next tick, so no frame is ever dropped or late.
//!
//! * [`site`] — the static scene and the sun.
//! * [`cameras`] — colour and id cameras per scenario camera.
//! * [`readback`] — GPU → CPU copies.
//! * [`ground_truth`] — id-mask decoding and the CPU rasteriser for unoccluded silhouettes.
//! * [`weather`] — sky, exposure, street lights, fog and rain.

pub mod cameras;
pub mod ground_truth;
pub mod readback;
pub mod site;
pub mod weather;

use bevy::app::PluginsState;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::pipelined_rendering::PipelinedRenderingPlugin;
use bevy::render::RenderPlugin;
use bevy::window::ExitCondition;
use crowdtwin_agents::body::{assets_dir, BodyLibrary};
use crowdtwin_agents::population::{generate_population, PersonSpec};
use crowdtwin_agents::crowd::CrowdModel;
use crowdtwin_agents::incidents::IncidentPlan;
use crowdtwin_agents::motion::{CrowdSim, PersonState};
use crowdtwin_agents::{AgentsPlugin, Crowd, ObjectPart, PersonPart, RasterMesh, SimClock};
use crowdtwin_core::camera::CameraModel;
use crowdtwin_core::frame::{Frame, FrameKey, RgbaImage};
use crowdtwin_core::scenario::Scenario;
use crowdtwin_core::sensor::camera_output;
use crowdtwin_core::site::SiteLayout;
use ground_truth::{decode_id_mask, incidents_in_frame, persons_in_frame, IncidentCast, PersonGeometry, Rasteriser};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why the simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The body assets are missing or malformed.
    #[error("cannot load the human bodies: {0}")]
    Assets(String),
    /// No GPU (or software renderer) could be used, or rendering failed.
    #[error("rendering failed: {0} (is Vulkan available? `make setup` installs Mesa's software Vulkan, lavapipe)")]
    Render(String),
    /// The rendered ground truth is not what the renderer should produce.
    #[error("invalid ground truth: {0}")]
    GroundTruth(String),
    /// The site's map cannot be read or holds no walkable area.
    #[error("site: {0}")]
    Site(String),
    /// The scenario's incidents cannot be staged with its population and site.
    #[error("cannot stage the scenario: {0}")]
    Staging(String),
}

/// Wall-clock time of the stages of the last [`Simulation::step`], milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepTimings {
    /// `App::update()`: systems, extraction, rendering of every due camera.
    pub update_ms: f64,
    /// GPU → CPU copies of colour frames and id masks.
    pub readback_ms: f64,
    /// Id-mask decoding and CPU rasterising of unoccluded silhouettes.
    pub ground_truth_ms: f64,
}

/// How to run the simulation.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Let Bevy log warnings and errors to stderr.
    pub log: bool,
}

/// A running simulation of one scenario.
pub struct Simulation {
    app: App,
    scenario: Arc<Scenario>,
    persons: Vec<PersonSpec>,
    layout: Arc<SiteLayout>,
    render_models: Vec<CameraModel>,
    sensor_models: Vec<CameraModel>,
    tick: u64,
    readback: readback::Readback,
    rasteriser: Rasteriser,
    timings: StepTimings,
    incidents: Vec<IncidentPlan>,
}

impl Simulation {
    /// Builds the world of `scenario` and renders the warm-up frames.
    pub fn new(scenario: &Scenario, options: &SimOptions) -> Result<Self, SimError> {
        let bodies = BodyLibrary::load(&assets_dir().join("humans")).map_err(SimError::Assets)?;
        let persons = generate_population(scenario);
        let layout = Arc::new(crowdtwin_sites::load(scenario).map_err(SimError::Site)?.layout);
        let crowd = CrowdModel::new(scenario, &persons, layout.clone()).map_err(SimError::Staging)?;
        let incidents = crowd.incidents().to_vec();
        let mut app = App::new();
        let mut plugins = DefaultPlugins
            .build()
            .set(WindowPlugin { primary_window: None, exit_condition: ExitCondition::DontExit, ..default() })
            .set(RenderPlugin { synchronous_pipeline_compilation: true, ..default() })
            .disable::<PipelinedRenderingPlugin>();
        // Built beside the planner's view, Bevy has winit, which needs a display: the
        // simulation renders offscreen and must run without one.
        #[cfg(feature = "window")]
        {
            plugins = plugins.disable::<bevy::winit::WinitPlugin>();
        }
        plugins = if options.log {
            plugins.set(LogPlugin { level: bevy::log::Level::WARN, filter: "wgpu=error,naga=warn,bevy_render::renderer=error,bevy_light=error".into(), ..default() })
        } else {
            plugins.disable::<LogPlugin>()
        };
        app.add_plugins(plugins)
            .insert_resource(Crowd { seed: scenario.seed, persons: persons.clone(), layout: layout.clone(), bodies: Arc::new(bodies) })
            .insert_resource(CrowdSim(crowd))
            .insert_resource(site::SiteScene {
                layout: layout.clone(),
                time_of_day_h: scenario.time_of_day_h,
                shadows: scenario.render.shadows,
                seed: scenario.seed,
            })
            .insert_resource(cameras::CameraSpecs { cameras: scenario.cameras.clone(), render: scenario.render.clone() })
            .insert_resource(weather::Atmosphere::new(scenario.time_of_day_h, layout.origin.map(|o| o.lat_deg), &scenario.conditions))
            .insert_resource(weather::WeatherSite(layout.clone(), scenario.seed))
            .add_plugins((site::SitePlugin, cameras::CameraRigPlugin, weather::WeatherPlugin, AgentsPlugin));
        while app.plugins_state() == PluginsState::Adding {
            bevy::tasks::tick_global_task_pools_on_main_thread();
        }
        app.finish();
        app.cleanup();
        let render_models = scenario.cameras.iter().map(|c| CameraModel::new(c, c.render_resolution)).collect();
        let sensor_models = scenario.cameras.iter().map(|c| CameraModel::new(c, c.sensor_resolution)).collect();
        let mut sim = Simulation {
            app,
            scenario: Arc::new(scenario.clone()),
            persons,
            layout,
            render_models,
            sensor_models,
            tick: 0,
            readback: Default::default(),
            rasteriser: Rasteriser::default(),
            timings: StepTimings::default(),
            incidents,
        };
        sim.warm_up()?;
        Ok(sim)
    }

    /// The simulated persons.
    pub fn persons(&self) -> &[PersonSpec] {
        &self.persons
    }

    /// The laid-out site.
    pub fn layout(&self) -> &SiteLayout {
        &self.layout
    }

    /// The staged incidents and protected activities (their exact ground truth).
    pub fn incidents(&self) -> &[IncidentPlan] {
        &self.incidents
    }

    /// The next tick to simulate.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Stage timings of the last step.
    pub fn timings(&self) -> StepTimings {
        self.timings
    }

    /// Renders with time frozen (dt = 0: nobody moves, no random draw) until every camera
    /// delivers a colour frame and an id mask showing every person the camera model says is in
    /// view: the first updates compile pipelines and upload meshes.
    fn warm_up(&mut self) -> Result<(), SimError> {
        let mut previous_id_masks: Vec<Vec<u8>> = Vec::new();
        for _ in 0..8 {
            self.app.world_mut().insert_resource(SimClock { tick: 0, dt: 0.0 });
            self.set_active_cameras(|_| true);
            self.app.update();
            self.check_running()?;
            let rig = self.app.world().resource::<cameras::CameraRig>().clone();
            let people = self.person_geometry();
            let mut all_drawn = !rig.targets.is_empty();
            let mut id_masks = Vec::new();
            for (index, target) in rig.targets.iter().enumerate() {
                let (width, height) = target.size;
                let (colour, id_bytes) = self.read_camera(target)?;
                let id_mask = decode_id_mask(&id_bytes, width, height).map_err(SimError::GroundTruth)?;
                let expected = persons_in_frame(&mut self.rasteriser, &self.render_models[index], &self.sensor_models[index], &people, &id_mask);
                // Some pixels of the sky or scene, and an id pass that has drawn the people in view —
                // or, if all of them are hidden behind something, an id mask that no longer changes.
                let settled = previous_id_masks.get(index) == Some(&id_bytes);
                all_drawn &= colour.chunks_exact(4).any(|p| p[3] != 0 && (p[0] | p[1] | p[2]) != 0);
                all_drawn &= expected.is_empty() || expected.iter().any(|p| p.visible_px > 0) || settled;
                id_masks.push(id_bytes);
            }
            previous_id_masks = id_masks;
            if all_drawn {
                return Ok(());
            }
        }
        Err(SimError::Render("the cameras still deliver empty images after 8 warm-up frames".into()))
    }

    /// Reads back a camera's colour frame and id-mask bytes as last rendered.
    fn read_camera(&mut self, target: &cameras::CameraTargets) -> Result<(Vec<u8>, Vec<u8>), SimError> {
        let (width, height) = target.size;
        let colour = self.readback.read(&self.app, &target.colour, width, height).map_err(SimError::Render)?;
        let id_bytes = self.readback.read(&self.app, &target.id_mask, width, height).map_err(SimError::Render)?;
        Ok((colour, id_bytes))
    }

    fn check_running(&self) -> Result<(), SimError> {
        match self.app.should_exit() {
            Some(exit) => Err(SimError::Render(format!("Bevy stopped ({exit:?}); see its log above"))),
            None => Ok(()),
        }
    }

    fn set_active_cameras(&mut self, due: impl Fn(usize) -> bool) {
        let rig = self.app.world().resource::<cameras::CameraRig>().clone();
        for (index, target) in rig.targets.iter().enumerate() {
            for entity in [target.colour_camera, target.id_camera] {
                if let Some(mut camera) = self.app.world_mut().get_mut::<Camera>(entity) {
                    camera.is_active = due(index);
                }
            }
        }
    }

    /// Whether camera `index` renders on `tick`.
    pub fn is_due(&self, index: usize, tick: u64) -> bool {
        tick % self.scenario.ticks_per_frame(&self.scenario.cameras[index]) == 0
    }

    /// Puts a person at ground position (x, z) facing `heading_rad` (0 = +z, south) and keeps
    /// them standing there; for tests and staged shots. Returns false for an unknown id.
    pub fn place_person(&mut self, id: u32, x: f32, z: f32, heading_rad: f32) -> bool {
        let world = self.app.world_mut();
        if !world.resource_mut::<CrowdSim>().0.stage(id, Vec2::new(x, z), heading_rad) {
            return false;
        }
        let pose = world.resource::<CrowdSim>().0.poses()[id as usize];
        let mut people = world.query::<(&mut PersonState, &mut Transform, &mut Visibility)>();
        for (mut state, mut transform, mut visibility) in people.iter_mut(world) {
            if state.id() == id {
                state.pose = pose;
                *transform = state.transform();
                *visibility = Visibility::Inherited;
            }
        }
        true
    }

    /// The camera model of camera `index` at its render resolution.
    pub fn render_camera(&self, index: usize) -> &CameraModel {
        &self.render_models[index]
    }

    /// Every person's world-space triangles as of the last tick, ordered by person id.
    pub fn person_geometry(&mut self) -> Vec<PersonGeometry> {
        let heights: BTreeMap<u32, f32> = self.persons.iter().map(|p| (p.id, p.height_m)).collect();
        let mut by_person: BTreeMap<u32, PersonGeometry> = BTreeMap::new();
        let world = self.app.world_mut();
        let mut parts = world.query::<(&GlobalTransform, &RasterMesh, &PersonPart)>();
        for (transform, mesh, part) in parts.iter(world) {
            let geometry = by_person.entry(part.person).or_insert_with(|| PersonGeometry { person: part.person, ..default() });
            let world_points: Vec<[f32; 3]> =
                mesh.0.positions.iter().map(|&p| transform.transform_point(Vec3::from(p)).to_array()).collect();
            geometry.triangles.extend(
                mesh.0.indices.chunks_exact(3).map(|t| [world_points[t[0] as usize], world_points[t[1] as usize], world_points[t[2] as usize]]),
            );
        }
        let mut roots = world.query::<&PersonState>();
        for state in roots.iter(world) {
            let id = state.id();
            if !state.pose.present {
                by_person.remove(&id); // off site: not drawn, not in any frame
            } else if let Some(geometry) = by_person.get_mut(&id) {
                let height = heights.get(&id).copied().unwrap_or(1.7);
                geometry.anchor = [state.pose.position.x, height * 0.5, state.pose.position.y];
            }
        }
        by_person.into_values().collect()
    }

    /// Every object in the scene as world-space triangles (keyed by object index).
    fn object_geometry(&mut self) -> Vec<PersonGeometry> {
        let present: std::collections::BTreeSet<u32> =
            self.app.world().resource::<CrowdSim>().0.objects().iter().filter(|o| o.present).map(|o| o.index).collect();
        let mut by_object: BTreeMap<u32, PersonGeometry> = BTreeMap::new();
        let world = self.app.world_mut();
        let mut parts = world.query::<(&GlobalTransform, &RasterMesh, &ObjectPart)>();
        for (transform, mesh, part) in parts.iter(world) {
            if !present.contains(&part.object) {
                continue;
            }
            let geometry = by_object.entry(part.object).or_insert_with(|| PersonGeometry { person: part.object, ..default() });
            let points: Vec<[f32; 3]> = mesh.0.positions.iter().map(|&p| transform.transform_point(Vec3::from(p)).to_array()).collect();
            geometry.triangles.extend(mesh.0.indices.chunks_exact(3).map(|t| [points[t[0] as usize], points[t[1] as usize], points[t[2] as usize]]));
        }
        by_object.into_values().collect()
    }

    /// Simulates the next tick and returns the frames of every camera due on it, in camera
    /// order, as they leave the cameras (privacy masks and degradations applied).
    pub fn step(&mut self) -> Result<Vec<Frame>, SimError> {
        let frames = self.step_rendered()?;
        let scenario = self.scenario.clone();
        frames
            .into_iter()
            .map(|mut frame| {
                let index = frame.key.camera;
                frame.rgba = camera_output(frame.rgba, &scenario.cameras[index as usize], scenario.seed, frame.key.tick, index).map_err(SimError::Render)?;
                Ok(frame)
            })
            .collect()
    }

    /// Simulates the next tick and returns the frames of every camera due on it, in camera
    /// order, as rendered: before the camera's privacy masks and degradations (what a frame
    /// store keeps, so that those stay editable without a new render).
    pub fn step_rendered(&mut self) -> Result<Vec<Frame>, SimError> {
        let tick = self.tick;
        let due: Vec<bool> = (0..self.scenario.cameras.len()).map(|i| self.is_due(i, tick)).collect();
        self.app.world_mut().insert_resource(SimClock { tick, dt: self.scenario.dt() });
        self.set_active_cameras(|i| due[i]);
        let started = std::time::Instant::now();
        self.app.update();
        self.check_running()?;
        self.tick += 1;
        self.timings = StepTimings { update_ms: started.elapsed().as_secs_f64() * 1e3, ..default() };
        if !due.iter().any(|&d| d) {
            return Ok(Vec::new());
        }
        let rig = self.app.world().resource::<cameras::CameraRig>().clone();
        let started = std::time::Instant::now();
        let people = self.person_geometry();
        let objects = self.object_geometry();
        let casts: Vec<IncidentCast> = self
            .incidents
            .iter()
            .filter(|plan| plan.is_active(tick))
            .map(|plan| IncidentCast { incident: plan.index, persons: plan.participants.clone(), objects: plan.objects.clone() })
            .collect();
        self.timings.ground_truth_ms += started.elapsed().as_secs_f64() * 1e3;
        let mut frames = Vec::new();
        for (index, target) in rig.targets.iter().enumerate() {
            if !due[index] {
                continue;
            }
            let (width, height) = target.size;
            let started = std::time::Instant::now();
            let (colour, id_bytes) = self.read_camera(target)?;
            self.timings.readback_ms += started.elapsed().as_secs_f64() * 1e3;
            let started = std::time::Instant::now();
            let id_mask = decode_id_mask(&id_bytes, width, height).map_err(SimError::GroundTruth)?;
            let persons = persons_in_frame(&mut self.rasteriser, &self.render_models[index], &self.sensor_models[index], &people, &id_mask);
            let incidents = incidents_in_frame(&mut self.rasteriser, &self.render_models[index], &casts, &people, &objects, &id_mask);
            self.timings.ground_truth_ms += started.elapsed().as_secs_f64() * 1e3;
            let rgba = RgbaImage { width, height, pixels: colour };
            frames.push(Frame {
                key: FrameKey { tick, camera: index as u16 },
                time_s: tick as f64 / self.scenario.tick_hz as f64,
                rgba,
                id_mask,
                persons,
                incidents,
            });
        }
        Ok(frames)
    }
}
