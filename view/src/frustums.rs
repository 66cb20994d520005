//! Each camera drawn where it hangs: its mast, and its frustum out to the distance where a
//! person's pixel density falls to Detect (25 px/m at the sensor resolution), cut at the
//! ground; the selected camera in yellow. The private zones as magenta boxes, red when a camera
//! sees into them.

use crate::overlay::Coverage;
use crate::{Edited, Selection};
use bevy::camera::visibility::RenderLayers;
use bevy::prelude::*;
use crowdtwin_core::camera::CameraModel;
use crowdtwin_reports::coverage::DORI;

/// Draws the cameras and the private zones every frame.
pub struct FrustumPlugin;

impl Plugin for FrustumPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, gizmos_in_overview_only)
            .add_systems(Update, (draw_cameras, draw_private_zones));
    }
}

fn gizmos_in_overview_only(mut store: ResMut<GizmoConfigStore>) {
    store
        .config_mut::<DefaultGizmoConfigGroup>()
        .0
        .render_layers = RenderLayers::layer(crate::OVERVIEW_LAYER);
}

/// The frustum's corner rays of a camera model, ending at `range` metres along the axis or
/// at the ground, whichever comes first: (start, end) pairs in world space.
pub fn frustum_edges(model: &CameraModel, range: f32) -> [(Vec3, Vec3); 4] {
    let position = Vec3::from(model.position);
    let (w, h) = (model.width as f32, model.height as f32);
    [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)].map(|(u, v)| {
        let ray = Vec3::from(model.ray(u, v));
        let forward = ray.dot(Vec3::from(model.forward)).max(1e-3);
        let mut t = range / forward;
        if ray.y < 0.0 {
            t = t.min(-position.y / ray.y);
        }
        (position, position + ray * t)
    })
}

fn draw_cameras(mut gizmos: Gizmos, edited: Res<Edited>, selection: Res<Selection>) {
    for (index, spec) in edited.scenario.cameras.iter().enumerate() {
        let selected = selection.0 == Some(index);
        let colour = if selected {
            Color::srgb(1.0, 0.85, 0.1)
        } else {
            Color::srgb(0.95, 0.95, 0.95)
        };
        let model = CameraModel::new(spec, spec.sensor_resolution);
        let (x, y, z) = spec.position;
        gizmos.line(
            Vec3::new(x, 0.0, z),
            Vec3::new(x, y, z),
            Color::srgb(0.15, 0.15, 0.15),
        );
        gizmos.sphere(
            Isometry3d::from_translation(Vec3::new(x, y, z)),
            if selected { 0.45 } else { 0.3 },
            colour,
        );
        let edges = frustum_edges(&model, model.focal_px / DORI[0].1);
        for (start, end) in edges {
            gizmos.line(start, end, colour);
        }
        for k in 0..4 {
            gizmos.line(edges[k].1, edges[(k + 1) % 4].1, colour);
        }
        // The optical axis, to show where it points.
        let axis = Vec3::from(model.forward);
        gizmos.arrow(Vec3::new(x, y, z), Vec3::new(x, y, z) + axis * 3.0, colour);
    }
}

fn draw_private_zones(mut gizmos: Gizmos, edited: Res<Edited>, coverage: Option<Res<Coverage>>) {
    let seen: Vec<&str> = coverage
        .as_ref()
        .and_then(|c| c.summary.as_ref())
        .map(|s| s.private_views.iter().map(|v| v.zone.as_str()).collect())
        .unwrap_or_default();
    for zone in &edited.scenario.placement.private_zones {
        let min = Vec3::new(zone.min.0, zone.min.1, zone.min.2);
        let max = Vec3::new(zone.max.0, zone.max.1, zone.max.2);
        let colour = if seen.contains(&zone.name.as_str()) {
            Color::srgb(1.0, 0.1, 0.1)
        } else {
            Color::srgb(0.9, 0.2, 0.9)
        };
        gizmos.cube(
            Transform::from_translation(0.5 * (min + max)).with_scale(max - min),
            colour,
        );
    }
}
