//! The view's test mode: a script of raw input — pointer moves, mouse buttons, the wheel, keys
//! — written as the window's own input messages (`CursorMoved`, `MouseButtonInput`,
//! `MouseWheel`, `KeyboardInput`), so that the view's systems see exactly what a person's mouse
//! and keyboard would give them; plus state dumps (JSON), screenshots (PNG) and the exit.
//!
//! A script is a RON list of [`Step`]s, one step per displayed frame:
//! ```ron
//! [WaitCoverage, MoveToCamera("cam-0"), Press(Left), MoveTo(10.0, 0.0, -4.0), Release(Left),
//!  Tap("Tab"), Type("135"), Tap("Enter"), WaitCoverage, Dump("after.json"), Exit]
//! ```

use crate::edit::Status;
use crate::orbit::{Overview, screen_of};
use bevy::camera::visibility::RenderLayers;
use crate::overlay::Coverage;
use crate::pip::{Pip, PipMode};
use crate::{Edited, Selection, ViewConfig};
use anyhow::Context;
use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::input::mouse::{MouseButtonInput, MouseScrollUnit, MouseWheel};
use bevy::input::touch::TouchPhase;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::{CursorMoved, PrimaryWindow};
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_reports::coverage::{View, cells_seen};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A mouse button in a script.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Button {
    /// Left button.
    Left,
    /// Right button.
    Right,
    /// Middle button (wheel press).
    Middle,
}

/// One step of a script.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub enum Step {
    /// Do nothing for this many frames.
    Wait(u32),
    /// Wait until the overlay shows the last edit (at most 600 frames).
    WaitCoverage,
    /// Wait until the masked picture-in-picture shows the selected camera (at most 600 frames).
    WaitMasked,
    /// Measure the frame rate over this many frames (reported by the next dump).
    Measure(u32),
    /// Move the pointer to a window position (logical pixels from the top left).
    Move(f32, f32),
    /// Move the pointer to where a world point (x, y, z metres) is on screen.
    MoveTo(f32, f32, f32),
    /// Move the pointer onto the foot of a camera's mast (where it stands), by camera id.
    MoveToCamera(String),
    /// Press a mouse button.
    Press(Button),
    /// Release a mouse button.
    Release(Button),
    /// Turn the wheel by this many lines (positive: away from the user, zooms in).
    Wheel(f32),
    /// Press a key (a `KeyCode` name: `Tab`, `Enter`, `KeyS`, `ControlLeft`, `ArrowUp`, …).
    Hold(String),
    /// Release a key.
    Let(String),
    /// Press and, on the next frame, release a key.
    Tap(String),
    /// Type characters (digits, `.` and `-`), one key per frame.
    Type(String),
    /// Save a screenshot of the window (PNG, relative to `--out`).
    Screenshot(String),
    /// Write the state dump (JSON, relative to `--out`).
    Dump(String),
    /// Close the view.
    Exit,
}

/// A loaded script and where it has got to.
#[derive(Resource, Clone, Debug)]
pub struct Script {
    steps: Vec<Step>,
    next: usize,
    waited: u32,
    release: Vec<(KeyCode, Key)>,
    measure: Option<(u32, u32, f64)>,
    measured_fps: Option<f64>,
    frames: u64,
    screenshots: Arc<AtomicUsize>,
}

impl Script {
    /// Reads a script file.
    ///
    /// # Errors
    /// The file cannot be read, is not a RON list of steps (the error names line and column),
    /// or names a key the script does not know.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the script {}", path.display()))?;
        let steps: Vec<Step> = ron::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: {}",
                path.display(),
                e.span.start.line,
                e.span.start.col,
                e.code
            )
        })?;
        for step in &steps {
            if let Step::Hold(name) | Step::Let(name) | Step::Tap(name) = step {
                key_named(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: unknown key `{name}` (a KeyCode name such as Tab, KeyS, ArrowUp)",
                        path.display()
                    )
                })?;
            }
            if let Step::Type(text) = step {
                if let Some(bad) = text.chars().find(|c| key_named(&c.to_string()).is_none()) {
                    anyhow::bail!(
                        "{}: cannot type `{bad}` (digits, `.` and `-` only)",
                        path.display()
                    );
                }
            }
        }
        Ok(Script {
            steps,
            next: 0,
            waited: 0,
            release: Vec::new(),
            measure: None,
            measured_fps: None,
            frames: 0,
            screenshots: Default::default(),
        })
    }
}

/// The key code and logical key of a `KeyCode` name, or of a single typed character.
fn key_named(name: &str) -> Option<(KeyCode, Key)> {
    let character = |code, c: &str| Some((code, Key::Character(c.into())));
    match name {
        "Tab" => Some((KeyCode::Tab, Key::Tab)),
        "Enter" => Some((KeyCode::Enter, Key::Enter)),
        "Escape" => Some((KeyCode::Escape, Key::Escape)),
        "Backspace" => Some((KeyCode::Backspace, Key::Backspace)),
        "Delete" => Some((KeyCode::Delete, Key::Delete)),
        "ArrowUp" => Some((KeyCode::ArrowUp, Key::ArrowUp)),
        "ArrowDown" => Some((KeyCode::ArrowDown, Key::ArrowDown)),
        "ArrowLeft" => Some((KeyCode::ArrowLeft, Key::ArrowLeft)),
        "ArrowRight" => Some((KeyCode::ArrowRight, Key::ArrowRight)),
        "PageUp" => Some((KeyCode::PageUp, Key::PageUp)),
        "PageDown" => Some((KeyCode::PageDown, Key::PageDown)),
        "ShiftLeft" => Some((KeyCode::ShiftLeft, Key::Shift)),
        "ControlLeft" => Some((KeyCode::ControlLeft, Key::Control)),
        "." | "Period" => character(KeyCode::Period, "."),
        "-" | "Minus" => character(KeyCode::Minus, "-"),
        _ => {
            let (digit, letter) = (
                name.strip_prefix("Digit").unwrap_or(name),
                name.strip_prefix("Key").filter(|l| l.len() == 1),
            );
            if digit.len() == 1 && digit.chars().all(|c| c.is_ascii_digit()) {
                let codes = [
                    KeyCode::Digit0,
                    KeyCode::Digit1,
                    KeyCode::Digit2,
                    KeyCode::Digit3,
                    KeyCode::Digit4,
                    KeyCode::Digit5,
                    KeyCode::Digit6,
                    KeyCode::Digit7,
                    KeyCode::Digit8,
                    KeyCode::Digit9,
                ];
                return character(codes[digit.parse::<usize>().ok()?], digit);
            }
            let letter = letter?.chars().next().filter(char::is_ascii_uppercase)?;
            let codes = [
                KeyCode::KeyA,
                KeyCode::KeyB,
                KeyCode::KeyC,
                KeyCode::KeyD,
                KeyCode::KeyE,
                KeyCode::KeyF,
                KeyCode::KeyG,
                KeyCode::KeyH,
                KeyCode::KeyI,
                KeyCode::KeyJ,
                KeyCode::KeyK,
                KeyCode::KeyL,
                KeyCode::KeyM,
                KeyCode::KeyN,
                KeyCode::KeyO,
                KeyCode::KeyP,
                KeyCode::KeyQ,
                KeyCode::KeyR,
                KeyCode::KeyS,
                KeyCode::KeyT,
                KeyCode::KeyU,
                KeyCode::KeyV,
                KeyCode::KeyW,
                KeyCode::KeyX,
                KeyCode::KeyY,
                KeyCode::KeyZ,
            ];
            character(
                codes[(letter as u8 - b'A') as usize],
                &letter.to_ascii_lowercase().to_string(),
            )
        }
    }
}

/// Replays the script, when one was given.
pub struct ScriptPlugin;

impl Plugin for ScriptPlugin {
    fn build(&self, app: &mut App) {
        // Before the input systems of PreUpdate turn the messages into button states.
        app.add_systems(First, replay.run_if(resource_exists::<Script>));
    }
}

#[allow(clippy::too_many_arguments)]
fn replay(
    mut commands: Commands,
    mut script: ResMut<Script>,
    config: Res<ViewConfig>,
    time: Res<Time<Real>>,
    window: Query<Entity, With<PrimaryWindow>>,
    overview: Query<(&Camera, &GlobalTransform, &Overview)>,
    state: DumpState,
    mut cursor: MessageWriter<CursorMoved>,
    mut buttons: MessageWriter<MouseButtonInput>,
    mut wheel: MessageWriter<MouseWheel>,
    mut keys: MessageWriter<KeyboardInput>,
    mut exit: MessageWriter<AppExit>,
) {
    let Ok(window) = window.single() else { return };
    script.frames += 1;
    let key_message = |code: KeyCode, logical: Key, state: ButtonState| {
        let text = match (&logical, state) {
            (Key::Character(c), ButtonState::Pressed) => Some(c.clone()),
            _ => None,
        };
        KeyboardInput {
            key_code: code,
            logical_key: logical,
            state,
            text,
            repeat: false,
            window,
        }
    };
    for (code, logical) in std::mem::take(&mut script.release) {
        keys.write(key_message(code, logical, ButtonState::Released));
    }
    if let Some((frames, done, started)) = script.measure {
        if done + 1 >= frames {
            script.measured_fps = Some(frames as f64 / (time.elapsed_secs_f64() - started));
            script.measure = None;
        } else {
            script.measure = Some((frames, done + 1, started));
        }
        return;
    }
    let fail = |exit: &mut MessageWriter<AppExit>, message: String| {
        eprintln!("view script: {message}");
        exit.write(AppExit::error());
    };
    let Some(step) = script.steps.get(script.next).cloned() else {
        return;
    };
    let mut advance = true;
    let button = |b: Button| match b {
        Button::Left => MouseButton::Left,
        Button::Right => MouseButton::Right,
        Button::Middle => MouseButton::Middle,
    };
    let move_to = |cursor: &mut MessageWriter<CursorMoved>, position: Vec2| {
        cursor.write(CursorMoved {
            window,
            position,
            delta: None,
        });
    };
    match step {
        Step::Wait(frames) => {
            script.waited += 1;
            advance = script.waited >= frames;
        }
        Step::WaitCoverage => {
            let shown = state.coverage.as_ref().and_then(|c| c.revision);
            script.waited += 1;
            if script.waited > 600 {
                return fail(
                    &mut exit,
                    "the coverage overlay did not catch up within 600 frames".into(),
                );
            }
            advance = shown == Some(state.edited.revision);
        }
        Step::WaitMasked => {
            script.waited += 1;
            if script.waited > 600 {
                return fail(
                    &mut exit,
                    format!(
                        "the masked view did not arrive within 600 frames ({})",
                        state.status.0
                    ),
                );
            }
            let selected = state
                .selection
                .0
                .and_then(|i| state.edited.scenario.cameras.get(i))
                .map(|c| &c.id);
            advance = selected.is_some()
                && state.masked.as_ref().and_then(|m| m.shows.as_ref()) == selected;
        }
        Step::Measure(frames) => script.measure = Some((frames.max(1), 0, time.elapsed_secs_f64())),
        Step::Move(x, y) => move_to(&mut cursor, Vec2::new(x, y)),
        Step::MoveTo(..) | Step::MoveToCamera(_) if overview.single().is_err() => {
            return fail(&mut exit, "no overview camera".into());
        }
        Step::MoveTo(x, y, z) => {
            let (camera, transform, overview) = overview.single().expect("checked above");
            match screen_of(camera, transform, overview, Vec3::new(x, y, z)) {
                Some(position) => move_to(&mut cursor, position),
                None => return fail(&mut exit, format!("({x}, {y}, {z}) is not on screen")),
            }
        }
        Step::MoveToCamera(id) => {
            let (camera, transform, overview) = overview.single().expect("checked above");
            let Some(spec) = state.edited.scenario.cameras.iter().find(|c| c.id == id) else {
                return fail(&mut exit, format!("no camera `{id}`"));
            };
            let (x, _, z) = spec.position;
            match screen_of(camera, transform, overview, Vec3::new(x, 0.0, z)) {
                Some(position) => move_to(&mut cursor, position),
                None => return fail(&mut exit, format!("camera `{id}` is not on screen")),
            }
        }
        Step::Press(b) => {
            buttons.write(MouseButtonInput {
                button: button(b),
                state: ButtonState::Pressed,
                window,
            });
        }
        Step::Release(b) => {
            buttons.write(MouseButtonInput {
                button: button(b),
                state: ButtonState::Released,
                window,
            });
        }
        Step::Wheel(lines) => {
            wheel.write(MouseWheel {
                unit: MouseScrollUnit::Line,
                x: 0.0,
                y: lines,
                window,
                phase: TouchPhase::Moved,
            });
        }
        Step::Hold(name) => {
            let (code, logical) = key_named(&name).expect("checked at load");
            keys.write(key_message(code, logical, ButtonState::Pressed));
        }
        Step::Let(name) => {
            let (code, logical) = key_named(&name).expect("checked at load");
            keys.write(key_message(code, logical, ButtonState::Released));
        }
        Step::Tap(name) => {
            let (code, logical) = key_named(&name).expect("checked at load");
            keys.write(key_message(code, logical.clone(), ButtonState::Pressed));
            script.release.push((code, logical));
        }
        Step::Type(text) => {
            // One character per frame: the rest stays as the current step.
            let mut chars = text.chars();
            if let Some(c) = chars.next() {
                let (code, logical) = key_named(&c.to_string()).expect("checked at load");
                keys.write(key_message(code, logical.clone(), ButtonState::Pressed));
                script.release.push((code, logical));
            }
            let rest: String = chars.collect();
            if !rest.is_empty() {
                let next = script.next;
                script.steps[next] = Step::Type(rest);
                advance = false;
            }
        }
        Step::Screenshot(name) => {
            let path = config.0.out.join(name);
            let pending = script.screenshots.clone();
            pending.fetch_add(1, Ordering::SeqCst);
            commands.spawn(Screenshot::primary_window()).observe(
                move |captured: On<ScreenshotCaptured>| {
                    if let Err(e) = save_screenshot(&captured.image, &path) {
                        eprintln!("view script: {e}");
                    }
                    pending.fetch_sub(1, Ordering::SeqCst);
                },
            );
        }
        Step::Dump(name) => {
            let path = config.0.out.join(name);
            let dump = state.dump(script.frames, script.measured_fps.take());
            let written = serde_json::to_vec_pretty(&dump)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    crowdtwin_reports::output::write_atomic(&path, &bytes)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = written {
                return fail(&mut exit, format!("writing {}: {e}", path.display()));
            }
        }
        Step::Exit => {
            // Not before the screenshots asked for are on disk.
            if script.screenshots.load(Ordering::SeqCst) > 0 {
                script.waited += 1;
                if script.waited > 300 {
                    return fail(
                        &mut exit,
                        "a screenshot was not delivered within 300 frames".into(),
                    );
                }
                return;
            }
            exit.write(AppExit::Success);
        }
    }
    if advance {
        script.next += 1;
        script.waited = 0;
    }
}

fn save_screenshot(image: &Image, path: &Path) -> Result<(), String> {
    let (width, height) = (image.width(), image.height());
    let mut pixels = image.data.clone().ok_or("the screenshot has no pixels")?;
    match image.texture_descriptor.format {
        TextureFormat::Bgra8Unorm | TextureFormat::Bgra8UnormSrgb => {
            pixels.chunks_exact_mut(4).for_each(|p| p.swap(0, 2))
        }
        TextureFormat::Rgba8Unorm | TextureFormat::Rgba8UnormSrgb => {}
        other => {
            return Err(format!(
                "screenshot format {other:?} is not 8-bit RGBA or BGRA"
            ));
        }
    }
    pixels.chunks_exact_mut(4).for_each(|p| p[3] = 255);
    let png = crowdtwin_reports::images::png_bytes(&RgbaImage {
        width,
        height,
        pixels,
    })?;
    crowdtwin_reports::output::write_atomic(path, &png)
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// What a dump reads.
#[derive(bevy::ecs::system::SystemParam)]
pub struct DumpState<'w, 's> {
    edited: Res<'w, Edited>,
    selection: Res<'w, Selection>,
    status: Res<'w, Status>,
    mode: Res<'w, PipMode>,
    coverage: Option<Res<'w, Coverage>>,
    pip: Option<Res<'w, Pip>>,
    masked: Option<Res<'w, crate::masked::MaskedView>>,
    images: Res<'w, Assets<Image>>,
    clock: Res<'w, crowdtwin_agents::SimClock>,
    overview: Query<
        'w,
        's,
        (
            &'static crate::orbit::Orbit,
            &'static Camera,
            &'static GlobalTransform,
            &'static Overview,
        ),
    >,
    meshes: Query<'w, 's, (Option<&'static RenderLayers>, &'static ChildOf), With<Mesh3d>>,
    joints: Query<'w, 's, (), With<crowdtwin_agents::spawn::BodyJoint>>,
}

/// A camera's pose in a dump.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PoseDump {
    /// Camera id.
    pub id: String,
    /// (x, height, z), metres.
    pub position: [f32; 3],
    /// Compass heading, degrees.
    pub yaw_deg: f32,
    /// Tilt below the horizon, degrees.
    pub pitch_deg: f32,
    /// Horizontal field of view, degrees.
    pub hfov_deg: f32,
}

/// The view's state as a test checks it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dump {
    /// Frames displayed so far.
    pub frame: u64,
    /// Simulation tick.
    pub tick: u64,
    /// Every camera's pose.
    pub cameras: Vec<PoseDump>,
    /// The selected camera's id.
    pub selected: Option<String>,
    /// The last message shown.
    pub status: String,
    /// Edits so far.
    pub revision: u64,
    /// The edit the overlay shows.
    pub overlay_revision: Option<u64>,
    /// Milliseconds the last coverage computation took.
    pub overlay_compute_ms: f64,
    /// Milliseconds from the last edit to the overlay showing it.
    pub overlay_latency_ms: Option<f64>,
    /// Walkable overlay pixels (cells) by DORI level read back from the overlay texture:
    /// blind, detect, observe, recognise, identify.
    pub overlay_cells_by_level: [u64; 5],
    /// Every cell's DORI level as the overlay texture shows it (row-major, the coverage grid's
    /// cells; 255 where the texel is clear: not walkable).
    pub overlay_levels: Vec<u8>,
    /// The same inside the selected camera's footprint (the cells the coverage model says it
    /// sees at Detect or better).
    pub footprint_cells_by_level: Option<[u64; 5]>,
    /// The largest connected blind region: centroid (x, z) and area, m².
    pub largest_blind: Option<([f32; 2], f64)>,
    /// The coverage summary (area shares, blind area, private views).
    pub summary: Option<serde_json::Value>,
    /// What the picture-in-picture shows.
    pub pip_mode: String,
    /// Picture-in-picture renders per second over its recent renders.
    pub pip_fps: Option<f64>,
    /// Masked frames per second over the recent ones (the masked picture-in-picture).
    pub masked_fps: Option<f64>,
    /// Masked frames shown so far (the last 32 are kept).
    pub masked_frames: usize,
    /// The frame rate measured by the last `Measure` step.
    pub measured_fps: Option<f64>,
    /// The overview camera's orbit.
    pub orbit: Option<OrbitDump>,
    /// Size of the image the overview renders (pixels; the window's size times
    /// `--overview-scale`).
    pub overview_image: Option<[u32; 2]>,
    /// Where the orbit's focus is in the window (logical pixels): the window's centre when
    /// picking maps window positions into the overview's image right.
    pub focus_on_screen: Option<[f32; 2]>,
    /// Meshes under body joints: drawn in full in both views (layer 0), drawn in full in a
    /// camera's view only, and boxes in the overview only.
    pub body_meshes: [u32; 3],
}

/// The overview camera's orbit in a dump.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OrbitDump {
    /// Ground point looked at (x, y, z), metres.
    pub focus: [f32; 3],
    /// Radians round the vertical.
    pub yaw: f32,
    /// Radians above the ground.
    pub pitch: f32,
    /// Metres from the focus.
    pub distance: f32,
}

impl DumpState<'_, '_> {
    fn dump(&self, frame: u64, measured_fps: Option<f64>) -> Dump {
        let scenario = &self.edited.scenario;
        let cameras = scenario
            .cameras
            .iter()
            .map(|c| PoseDump {
                id: c.id.clone(),
                position: [c.position.0, c.position.1, c.position.2],
                yaw_deg: c.yaw_deg,
                pitch_deg: c.pitch_deg,
                hfov_deg: c.hfov_deg,
            })
            .collect();
        let selected = self.selection.0.and_then(|i| scenario.cameras.get(i));
        let mut overlay_cells_by_level = [0u64; 5];
        let mut footprint_cells_by_level = None;
        let mut overlay_levels = Vec::new();
        if let Some(coverage) = &self.coverage {
            let pixels = self
                .images
                .get(&coverage.image)
                .and_then(|i| i.data.clone())
                .unwrap_or_default();
            let level_at = |cell: usize| {
                pixels
                    .get(cell * 4..cell * 4 + 4)
                    .and_then(|p| Coverage::level_of([p[0], p[1], p[2], p[3]]))
            };
            overlay_levels = (0..coverage.grid.walkable.len())
                .map(|cell| level_at(cell).unwrap_or(255))
                .collect();
            for cell in (0..coverage.grid.walkable.len()).filter(|&c| coverage.grid.walkable[c]) {
                if let Some(level) = level_at(cell) {
                    overlay_cells_by_level[level as usize] += 1;
                }
            }
            if let Some(spec) = selected {
                let mut counts = [0u64; 5];
                for cell in cells_seen(
                    &coverage.grid,
                    &View::of(spec),
                    &coverage.occluders,
                    scenario.placement.head_height_m,
                    1,
                ) {
                    if let Some(level) = level_at(cell as usize) {
                        counts[level as usize] += 1;
                    }
                }
                footprint_cells_by_level = Some(counts);
            }
        }
        let rate = |times: &[f64]| {
            (times.len() >= 2)
                .then(|| (times.len() - 1) as f64 / (times[times.len() - 1] - times[0]))
        };
        let pip_fps = self.pip.as_ref().and_then(|pip| rate(&pip.renders_s));
        let masked_fps = self.masked.as_ref().and_then(|m| rate(&m.masked_s));
        Dump {
            frame,
            tick: self.clock.tick,
            cameras,
            selected: selected.map(|c| c.id.clone()),
            status: self.status.0.clone(),
            revision: self.edited.revision,
            overlay_revision: self.coverage.as_ref().and_then(|c| c.revision),
            overlay_compute_ms: self.coverage.as_ref().map_or(0.0, |c| c.compute_ms),
            overlay_latency_ms: self.coverage.as_ref().and_then(|c| c.latency_ms),
            overlay_cells_by_level,
            overlay_levels,
            footprint_cells_by_level,
            largest_blind: self.coverage.as_ref().and_then(|c| c.largest_blind),
            summary: self
                .coverage
                .as_ref()
                .and_then(|c| c.summary.as_ref())
                .and_then(|s| serde_json::to_value(s).ok()),
            pip_mode: self.mode.name().to_string(),
            pip_fps,
            masked_fps,
            masked_frames: self.masked.as_ref().map_or(0, |m| m.masked_s.len()),
            measured_fps,
            orbit: self.overview.single().ok().map(|(o, _, _, _)| OrbitDump {
                focus: o.focus.to_array(),
                yaw: o.yaw,
                pitch: o.pitch,
                distance: o.distance,
            }),
            overview_image: self
                .overview
                .single()
                .ok()
                .and_then(|(_, c, _, _)| c.physical_target_size())
                .map(|s| s.to_array()),
            focus_on_screen: self.overview.single().ok().and_then(|(o, c, t, v)| {
                screen_of(c, t, v, o.focus).map(|p| p.to_array())
            }),
            body_meshes: self.body_meshes(),
        }
    }

    fn body_meshes(&self) -> [u32; 3] {
        let mut counts = [0; 3];
        for (layers, parent) in &self.meshes {
            if !self.joints.contains(parent.parent()) {
                continue;
            }
            match layers {
                None => counts[0] += 1,
                Some(l) if *l == RenderLayers::layer(crate::crowd::CAMERA_LAYER) => counts[1] += 1,
                Some(l) if *l == RenderLayers::layer(crate::OVERVIEW_LAYER) => counts[2] += 1,
                Some(_) => {}
            }
        }
        counts
    }
}
