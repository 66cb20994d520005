//! Editing the cameras with the mouse and the keyboard, and saving the scenario.
//!
//! Mouse: a left press on a camera selects it and drags it over the ground (its height kept);
//! Shift + left press aims the selected camera at the ground point under the pointer; a left
//! click on empty ground clears the selection. Keyboard: see [`HELP`].

use crate::orbit::{Orbit, Overview, Pointer, ground_under, over_pip, screen_of};
use crate::{Edited, Selection, ViewConfig, clamp_pose};
use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use crowdtwin_core::scenario::{CameraSpec, Scenario, SiteSpec};
use std::path::Path;

/// The keys, as the on-screen help shows them.
pub const HELP: &str = "\
mouse  right-drag orbit | middle-drag or Shift+right-drag pan | wheel zoom
       left-drag a camera to move it | Shift+left-click aims the selected camera
keys   C next camera | N new camera | Delete remove it
       arrows move 0.5 m (Shift 5 m) | PgUp/PgDn height | Q/E yaw | R/F pitch | Z/X field of view
       Tab type an exact value (x, z, height, yaw, pitch, fov), Enter applies, Esc cancels
       V view: raw / masked / DORI per pixel | B look at the largest blind region
       L load `place` result | Ctrl+S save | H help";

/// Pixels round a camera's mast head within which a left press picks it.
const PICK_PX: f32 = 22.0;

/// A pose field typed as an exact value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// East, metres.
    X,
    /// South, metres.
    Z,
    /// Mounting height, metres.
    Height,
    /// Compass heading, degrees.
    Yaw,
    /// Tilt below the horizon, degrees.
    Pitch,
    /// Horizontal field of view, degrees.
    Fov,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::X,
        Field::Z,
        Field::Height,
        Field::Yaw,
        Field::Pitch,
        Field::Fov,
    ];

    /// Its name on screen.
    pub fn name(self) -> &'static str {
        match self {
            Field::X => "x (m, east)",
            Field::Z => "z (m, south)",
            Field::Height => "height (m)",
            Field::Yaw => "yaw (deg from north)",
            Field::Pitch => "pitch (deg down)",
            Field::Fov => "horizontal fov (deg)",
        }
    }

    fn set(self, camera: &mut CameraSpec, value: f32) {
        match self {
            Field::X => camera.position.0 = value,
            Field::Z => camera.position.2 = value,
            Field::Height => camera.position.1 = value,
            Field::Yaw => camera.yaw_deg = value,
            Field::Pitch => camera.pitch_deg = value,
            Field::Fov => camera.hfov_deg = value,
        }
    }
}

/// The exact value being typed, if any.
#[derive(Resource, Clone, Debug, Default)]
pub struct Entry(pub Option<(Field, String)>);

/// The last thing the view has to tell the user (saved, not saved and why, loaded).
#[derive(Resource, Clone, Debug, Default)]
pub struct Status(pub String);

#[derive(Resource, Clone, Copy, Debug, Default)]
enum Drag {
    #[default]
    None,
    /// Moving a camera (its index) with the offset from the grabbed ground point to it.
    Move(usize, Vec2),
}

/// Selection, dragging, keyboard edits, add, delete, load and save.
pub struct EditPlugin;

impl Plugin for EditPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Entry>()
            .init_resource::<Status>()
            .init_resource::<Drag>()
            .add_systems(
                Update,
                (mouse_edit, keyboard_edit, type_exact, add_delete_load_save)
                    .chain()
                    .in_set(crate::EditSet),
            );
    }
}

#[allow(clippy::too_many_arguments)]
fn mouse_edit(
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    pointer: Res<Pointer>,
    window: Query<&Window, With<PrimaryWindow>>,
    overview: Query<(&Camera, &GlobalTransform, &Overview)>,
    time: Res<Time<Real>>,
    mut drag: ResMut<Drag>,
    mut selection: ResMut<Selection>,
    mut edited: ResMut<Edited>,
) {
    let (Some(position), Ok((camera, transform, overview))) = (pointer.position, overview.single())
    else {
        return;
    };
    let now = time.elapsed_secs_f64();
    if buttons.just_pressed(MouseButton::Left)
        && !(selection.0.is_some() && over_pip(&window, position))
    {
        let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
        if shift {
            if let (Some(index), Some(target)) =
                (selection.0, ground_under(camera, transform, overview, position, 0.0))
            {
                let head = edited.scenario.placement.head_height_m;
                edited.edit_camera(index, now, |c| aim(c, Vec3::new(target.x, head, target.z)));
            }
            return;
        }
        let picked = pick(&edited.scenario.cameras, camera, transform, overview, position);
        selection.0 = picked;
        *drag = match (picked, ground_under(camera, transform, overview, position, 0.0)) {
            (Some(index), Some(grabbed)) => {
                let (x, _, z) = edited.scenario.cameras[index].position;
                Drag::Move(index, Vec2::new(x - grabbed.x, z - grabbed.z))
            }
            _ => Drag::None,
        };
    }
    if !buttons.pressed(MouseButton::Left) {
        *drag = Drag::None;
        return;
    }
    if let (Drag::Move(index, offset), Some(selected)) = (*drag, selection.0)
        && index == selected
    {
        if pointer.delta != Vec2::ZERO {
            if let Some(ground) = ground_under(camera, transform, overview, position, 0.0) {
                edited.edit_camera(index, now, |c| {
                    c.position.0 = ground.x + offset.x;
                    c.position.2 = ground.z + offset.y;
                });
            }
        }
    }
}

/// The camera whose mast head (or foot) is nearest the pointer within [`PICK_PX`].
fn pick(
    cameras: &[CameraSpec],
    camera: &Camera,
    transform: &GlobalTransform,
    overview: &Overview,
    position: Vec2,
) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (index, spec) in cameras.iter().enumerate() {
        let (x, y, z) = spec.position;
        for point in [Vec3::new(x, y, z), Vec3::new(x, 0.0, z)] {
            if let Some(screen) = screen_of(camera, transform, overview, point) {
                let distance = screen.distance(position);
                if distance <= PICK_PX && best.is_none_or(|(_, d)| distance < d) {
                    best = Some((index, distance));
                }
            }
        }
    }
    best.map(|(index, _)| index)
}

/// Turns a camera so that its optical axis passes through `target`.
pub fn aim(camera: &mut CameraSpec, target: Vec3) {
    let (x, y, z) = camera.position;
    let d = target - Vec3::new(x, y, z);
    let horizontal = Vec2::new(d.x, d.z).length();
    if horizontal < 1e-3 {
        return;
    }
    camera.yaw_deg = d.x.atan2(-d.z).to_degrees();
    camera.pitch_deg = (-d.y).atan2(horizontal).to_degrees();
}

fn keyboard_edit(
    keys: Res<ButtonInput<KeyCode>>,
    entry: Res<Entry>,
    time: Res<Time<Real>>,
    selection: Res<Selection>,
    mut edited: ResMut<Edited>,
) {
    let Some(index) = selection.0 else { return };
    if entry.0.is_some() {
        return;
    }
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    if ctrl {
        return;
    }
    let step = if shift { 5.0 } else { 0.5 };
    let now = time.elapsed_secs_f64();
    let pressed = |key| keys.just_pressed(key);
    let mut change = |f: &dyn Fn(&mut CameraSpec)| edited.edit_camera(index, now, f);
    if pressed(KeyCode::ArrowUp) {
        change(&|c| c.position.2 -= step);
    }
    if pressed(KeyCode::ArrowDown) {
        change(&|c| c.position.2 += step);
    }
    if pressed(KeyCode::ArrowLeft) {
        change(&|c| c.position.0 -= step);
    }
    if pressed(KeyCode::ArrowRight) {
        change(&|c| c.position.0 += step);
    }
    if pressed(KeyCode::PageUp) {
        change(&|c| c.position.1 += 0.25);
    }
    if pressed(KeyCode::PageDown) {
        change(&|c| c.position.1 -= 0.25);
    }
    let turn = if shift { 15.0 } else { 5.0 };
    if pressed(KeyCode::KeyQ) {
        change(&|c| c.yaw_deg -= turn);
    }
    if pressed(KeyCode::KeyE) {
        change(&|c| c.yaw_deg += turn);
    }
    if pressed(KeyCode::KeyR) {
        change(&|c| c.pitch_deg -= 2.0);
    }
    if pressed(KeyCode::KeyF) {
        change(&|c| c.pitch_deg += 2.0);
    }
    if pressed(KeyCode::KeyZ) {
        change(&|c| c.hfov_deg -= 2.0);
    }
    if pressed(KeyCode::KeyX) {
        change(&|c| c.hfov_deg += 2.0);
    }
}

/// Tab opens (and cycles) the exact-value entry; digits, `.` and `-` type; Enter applies.
fn type_exact(
    mut typed: MessageReader<KeyboardInput>,
    mut entry: ResMut<Entry>,
    time: Res<Time<Real>>,
    selection: Res<Selection>,
    mut edited: ResMut<Edited>,
    mut status: ResMut<Status>,
) {
    let Some(index) = selection.0 else {
        typed.clear();
        entry.0 = None;
        return;
    };
    for key in typed.read().filter(|k| k.state == ButtonState::Pressed) {
        match (&mut entry.0, &key.logical_key) {
            (_, Key::Tab) => {
                let next = match &entry.0 {
                    None => Field::X,
                    Some((field, _)) => {
                        Field::ALL[(Field::ALL.iter().position(|f| f == field).unwrap_or(0) + 1)
                            % Field::ALL.len()]
                    }
                };
                entry.0 = Some((next, String::new()));
            }
            (Some(_), Key::Escape) => entry.0 = None,
            (Some((_, text)), Key::Backspace) => {
                text.pop();
            }
            (Some((field, text)), Key::Enter) => {
                match text.parse::<f32>() {
                    Ok(value) if value.is_finite() => {
                        let field = *field;
                        edited.edit_camera(index, time.elapsed_secs_f64(), |c| field.set(c, value));
                        status.0 = format!("{} set to {value}", field.name());
                    }
                    _ => status.0 = format!("`{text}` is not a number"),
                }
                entry.0 = None;
            }
            (Some((_, text)), Key::Character(c))
                if c.chars()
                    .all(|ch| ch.is_ascii_digit() || ch == '.' || ch == '-') =>
            {
                text.push_str(c)
            }
            _ => {}
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_delete_load_save(
    keys: Res<ButtonInput<KeyCode>>,
    entry: Res<Entry>,
    time: Res<Time<Real>>,
    config: Res<ViewConfig>,
    mut orbits: Query<&mut Orbit>,
    coverage: Option<Res<crate::overlay::Coverage>>,
    mut selection: ResMut<Selection>,
    mut edited: ResMut<Edited>,
    mut status: ResMut<Status>,
) {
    if entry.0.is_some() {
        return;
    }
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    let now = time.elapsed_secs_f64();
    let count = edited.scenario.cameras.len();
    if ctrl && keys.just_pressed(KeyCode::KeyS) {
        status.0 = match save(&edited.scenario, &config.0.save_to) {
            Ok(()) => format!("saved {}", config.0.save_to.display()),
            Err(e) => format!("not saved: {e}"),
        };
        return;
    }
    if ctrl {
        return;
    }
    if keys.just_pressed(KeyCode::KeyB) {
        if let (Some(([x, z], _)), Ok(mut orbit)) = (
            coverage.as_ref().and_then(|c| c.largest_blind),
            orbits.single_mut(),
        ) {
            orbit.focus = Vec3::new(x, 0.0, z);
        }
    }
    if keys.just_pressed(KeyCode::KeyC) && count > 0 {
        selection.0 = Some(selection.0.map_or(0, |i| (i + 1) % count));
    }
    if keys.just_pressed(KeyCode::KeyN) {
        let focus = orbits.single().map(|o| o.focus).unwrap_or_default();
        let template = selection
            .0
            .or(if count > 0 { Some(0) } else { None })
            .map(|i| edited.scenario.cameras[i].clone());
        let Some(mut camera) = template else {
            status.0 = "the scenario has no camera to copy the settings of".into();
            return;
        };
        camera.id = (1..)
            .map(|k| format!("cam-new-{k}"))
            .find(|id| edited.scenario.cameras.iter().all(|c| &c.id != id))
            .expect("an unused id");
        camera.position = (focus.x, camera.position.1, focus.z);
        camera.privacy_masks.clear();
        clamp_pose(&mut camera);
        status.0 = format!("added {}", camera.id);
        edited.scenario.cameras.push(camera);
        selection.0 = Some(count);
        edited.touch(now);
    }
    if keys.just_pressed(KeyCode::Delete) {
        if let Some(index) = selection.0.filter(|&i| i < count) {
            if count == 1 {
                status.0 = "a scenario needs at least one camera".into();
            } else {
                let removed = edited.scenario.cameras.remove(index);
                status.0 = format!("removed {}", removed.id);
                selection.0 = None;
                edited.touch(now);
            }
        }
    }
    if keys.just_pressed(KeyCode::KeyL) {
        status.0 = match &config.0.placed {
            None => "no `place` result given (`crowdtwin view --placed OUT/scenario.ron`)".into(),
            Some(path) => match Scenario::load(path) {
                Ok(placed) if !same_site(&placed, &edited.scenario) => {
                    format!(
                        "not loaded: {} is for another site than this scenario's",
                        path.display()
                    )
                }
                Ok(placed) => {
                    edited.scenario.cameras = placed.cameras;
                    selection.0 = None;
                    edited.touch(now);
                    format!(
                        "loaded {} camera(s) from {}",
                        edited.scenario.cameras.len(),
                        path.display()
                    )
                }
                Err(e) => format!("not loaded: {e}"),
            },
        };
    }
}

/// Whether two scenarios take place on the same site: equal site specs once an imported map is
/// named by its full path (a `place` result names it so).
pub fn same_site(a: &Scenario, b: &Scenario) -> bool {
    let absolute = |s: &Scenario| {
        let mut site = s.site.clone();
        let canonical = |file: &mut std::path::PathBuf| {
            if let Ok(path) = std::fs::canonicalize(s.base_dir.join(&*file)) {
                *file = path;
            }
        };
        match &mut site {
            SiteSpec::Osm(o) => canonical(&mut o.file),
            SiteSpec::Geojson(g) => canonical(&mut g.file),
            SiteSpec::Template(_) => {}
        }
        site
    };
    absolute(a) == absolute(b)
}

/// Writes `scenario` to `path` (atomically) after checking that it reads back, from that
/// folder, as a valid scenario equal to it.
///
/// # Errors
/// The edited scenario does not validate (e.g. a camera off the site), does not read back
/// equal, or cannot be written.
pub fn save(scenario: &Scenario, path: &Path) -> Result<(), String> {
    let text = scenario.portable_ron()?;
    let text = format!(
        "// Written by `crowdtwin view`: scenario `{}` with {} camera(s) placed by hand.\n{text}\n",
        scenario.name,
        scenario.cameras.len()
    );
    let back = Scenario::parse(&text, path).map_err(|e| e.to_string())?;
    let mut expected = scenario.clone();
    expected.base_dir = back.base_dir.clone();
    if !matches!(scenario.site, SiteSpec::Template(_)) {
        if !same_site(&back, scenario) {
            return Err("the written scenario would name another map than the edited one".into());
        }
        expected.site = back.site.clone(); // the same map, named by its full path
    }
    if back != expected {
        return Err("the written scenario would not read back equal to the edited one".into());
    }
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("creating {}: {e}", folder.display()))?;
    }
    crowdtwin_reports::output::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aiming_puts_the_optical_axis_through_the_target_in_the_renderer_and_the_camera_model() {
        let mut camera: CameraSpec = ron::from_str(
            "(id: \"c\", position: (2.0, 6.0, -3.0), yaw_deg: 0.0, pitch_deg: 0.0, hfov_deg: 60.0, \
             sensor_resolution: (1920, 1080), render_resolution: (480, 270), fps: 5)",
        )
        .unwrap();
        for target in [
            Vec3::new(12.0, 1.6, -3.0),
            Vec3::new(2.0, 0.0, -20.0),
            Vec3::new(-5.0, 1.0, 4.0),
        ] {
            aim(&mut camera, target);
            let expected = (target - Vec3::new(2.0, 6.0, -3.0)).normalize();
            let rendered = crowdtwin_sim::cameras::camera_transform(&camera).forward();
            let model =
                Vec3::from(crowdtwin_core::camera::CameraModel::new(&camera, (480, 270)).forward);
            assert!(
                rendered.dot(expected) > 0.99999,
                "{target}: renderer looks along {rendered}"
            );
            assert!(
                model.dot(expected) > 0.99999,
                "{target}: camera model looks along {model}"
            );
        }
        // Due east is a compass heading of 90 degrees, due north (−z) of 0.
        aim(&mut camera, Vec3::new(12.0, 6.0, -3.0));
        assert!((camera.yaw_deg - 90.0).abs() < 1e-4 && camera.pitch_deg.abs() < 1e-4);
        aim(&mut camera, Vec3::new(2.0, 6.0, -13.0));
        assert!(camera.yaw_deg.abs() < 1e-4);
    }

    #[test]
    fn editing_keeps_a_valid_pose_as_it_is_and_an_invalid_one_within_checks_bounds() {
        let mut edited_camera: CameraSpec = ron::from_str(
            "(id: \"c\", position: (0.0, 300.0, 0.0), yaw_deg: 10.0, pitch_deg: -60.0, hfov_deg: 160.0, \
             sensor_resolution: (1920, 1080), render_resolution: (480, 270), fps: 5)",
        )
        .unwrap();
        let valid = edited_camera.clone();
        clamp_pose(&mut edited_camera);
        assert_eq!(edited_camera, valid);
        edited_camera.pitch_deg = 120.0;
        edited_camera.yaw_deg = -30.0;
        clamp_pose(&mut edited_camera);
        assert_eq!(
            (edited_camera.pitch_deg, edited_camera.yaw_deg),
            (89.0, 330.0)
        );
    }
}
