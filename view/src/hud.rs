//! On-screen text: the keyboard help (`H` hides it), the coverage the overlay shows, the
//! selected camera's exact pose, the value being typed and the last message; the frame rate.

use crate::edit::{Entry, HELP, Status};
use crate::overlay::Coverage;
use crate::pip::PipMode;
use crate::{Edited, Selection};
use bevy::diagnostic::{DiagnosticsStore, FrameTimeDiagnosticsPlugin};
use bevy::prelude::*;

#[derive(Component)]
struct HudText;

#[derive(Resource, Clone, Copy)]
struct ShowHelp(bool);

/// The text panel.
pub struct HudPlugin;

impl Plugin for HudPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<FrameTimeDiagnosticsPlugin>() {
            app.add_plugins(FrameTimeDiagnosticsPlugin::default());
        }
        app.insert_resource(ShowHelp(true))
            .add_systems(Startup, spawn_hud)
            .add_systems(Update, (toggle_help, update_hud).chain());
    }
}

fn spawn_hud(mut commands: Commands) {
    commands.spawn((
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(13.0),
            ..default()
        },
        TextColor(Color::WHITE),
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(8.0),
            top: Val::Px(8.0),
            padding: UiRect::all(Val::Px(6.0)),
            ..default()
        },
        HudText,
    ));
}

fn toggle_help(keys: Res<ButtonInput<KeyCode>>, entry: Res<Entry>, mut show: ResMut<ShowHelp>) {
    if entry.0.is_none() && keys.just_pressed(KeyCode::KeyH) {
        show.0 = !show.0;
    }
}

#[allow(clippy::too_many_arguments)]
fn update_hud(
    show: Res<ShowHelp>,
    edited: Res<Edited>,
    selection: Res<Selection>,
    entry: Res<Entry>,
    status: Res<Status>,
    mode: Res<PipMode>,
    coverage: Option<Res<Coverage>>,
    diagnostics: Res<DiagnosticsStore>,
    mut text: Query<&mut Text, With<HudText>>,
) {
    let Ok(mut text) = text.single_mut() else {
        return;
    };
    let mut lines = Vec::new();
    let fps = diagnostics
        .get(&FrameTimeDiagnosticsPlugin::FPS)
        .and_then(|d| d.smoothed())
        .unwrap_or(0.0);
    lines.push(format!(
        "{} | {} camera(s) | {fps:.0} fps",
        edited.scenario.name,
        edited.scenario.cameras.len()
    ));
    if let Some(summary) = coverage.as_ref().and_then(|c| c.summary.as_ref()) {
        let share = |level: &str| summary.area_share.get(level).copied().unwrap_or(0.0) * 100.0;
        lines.push(format!(
            "coverage of {:.0} m2 walkable: detect {:.0} % | observe {:.0} % | recognise {:.0} % | blind {:.0} m2 (largest {:.0} m2)",
            summary.walkable_m2,
            share("detect"),
            share("observe"),
            share("recognise"),
            summary.blind_m2,
            summary.largest_blind_region_m2
        ));
        if let Some(([x, z], area)) = coverage.as_ref().and_then(|c| c.largest_blind) {
            lines.push(format!(
                "largest blind region: {area:.0} m2 around x {x:.1} m, z {z:.1} m (B looks at it)"
            ));
        }
        for view in &summary.private_views {
            lines.push(format!(
                "! {} sees into private zone {} ({:.0} % of it)",
                view.camera,
                view.zone,
                view.share_seen * 100.0
            ));
        }
        lines.push("overlay: red blind | yellow detect | light green observe | green recognise | dark green identify".into());
    }
    match selection.0.and_then(|i| edited.scenario.cameras.get(i)) {
        Some(c) => lines.push(format!(
            "selected {}: x {:.2} m | z {:.2} m | height {:.2} m | yaw {:.1} deg | pitch {:.1} deg | fov {:.1} deg | view: {}",
            c.id,
            c.position.0,
            c.position.2,
            c.position.1,
            c.yaw_deg,
            c.pitch_deg,
            c.hfov_deg,
            mode.name()
        )),
        None => lines.push("no camera selected (left-click a camera's mast, or C)".into()),
    }
    if let Some((field, typed)) = &entry.0 {
        lines.push(format!(
            "type {}: {typed}_ (Enter applies, Tab next field, Esc cancels)",
            field.name()
        ));
    }
    if !status.0.is_empty() {
        lines.push(status.0.clone());
    }
    if show.0 {
        lines.push(HELP.to_string());
    }
    let joined = lines.join("\n");
    if text.0 != joined {
        text.0 = joined;
    }
}
