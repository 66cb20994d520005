//! The DORI coverage of the site as a coloured overlay on the ground, recomputed whenever a
//! camera changes by the reports' own coverage model ([`crowdtwin_reports::coverage`]): each
//! walkable cell takes the colour of the best DORI level any camera reaches at head height with
//! a clear line of sight — red where no camera reaches Detect (a blind spot), the map's colours
//! ([`LEVEL_COLOURS`]) otherwise.

use crate::{Edited, SiteData};
use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use crowdtwin_reports::coverage::{
    self, CoverageSummary, Grid, LEVEL_COLOURS, Occluders, View, dori_level,
};
use std::time::Instant;

/// Opacity of the overlay on walkable cells (0–255).
pub const OVERLAY_ALPHA: u8 = 170;

/// The coverage the overlay shows.
#[derive(Resource)]
pub struct Coverage {
    /// The walkable grid (the scenario's `placement.cell_size_m`).
    pub grid: Grid,
    /// What blocks a line of sight.
    pub occluders: Occluders,
    /// Best pixel density per cell (px/m at the sensor resolution).
    pub best: Vec<f32>,
    /// The [`Edited::revision`] shown; `None` before the first computation.
    pub revision: Option<u64>,
    /// Milliseconds the last computation took.
    pub compute_ms: f64,
    /// Milliseconds from the start of the frame that made the last edit to the start of the
    /// next one: that frame recomputes the overlay and renders and presents it (the view renders
    /// within the frame, not pipelined); `None` until an edit has been shown. The input's own
    /// wait for its frame (up to one frame more) is not in it.
    pub latency_ms: Option<f64>,
    /// The edit being timed: its wall-clock start and the frames begun since.
    timing: Option<(f64, u32)>,
    /// Shares, blind area and views into private zones of the shown coverage.
    pub summary: Option<CoverageSummary>,
    /// The largest connected blind region: the centre (x, z) of its cell nearest its centroid,
    /// and its area, m².
    pub largest_blind: Option<([f32; 2], f64)>,
    /// The overlay texture: one pixel per cell, row-major from the north-west corner.
    pub image: Handle<Image>,
}

impl Coverage {
    /// The colour of a walkable cell at pixel density `ppm`.
    pub fn colour(ppm: f32) -> [u8; 4] {
        let [r, g, b] = LEVEL_COLOURS[dori_level(ppm) as usize];
        [r, g, b, OVERLAY_ALPHA]
    }

    /// The DORI level an overlay pixel shows (0 blind … 4 identify), `None` for a transparent
    /// (not walkable) or unknown colour.
    pub fn level_of(pixel: [u8; 4]) -> Option<u8> {
        (pixel[3] > 0)
            .then(|| {
                LEVEL_COLOURS
                    .iter()
                    .position(|c| c[..] == pixel[..3])
                    .map(|l| l as u8)
            })
            .flatten()
    }
}

/// Keeps the overlay in step with the edited cameras.
pub struct OverlayPlugin;

impl Plugin for OverlayPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_overlay)
            .add_systems(First, time_latency)
            .add_systems(PostUpdate, recompute);
    }
}

fn spawn_overlay(
    mut commands: Commands,
    site: Res<SiteData>,
    edited: Res<Edited>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let grid = Grid::of_site(&site.0, edited.scenario.placement.cell_size_m);
    let occluders = Occluders::from_layout(&site.0);
    let (w, h) = (grid.size.0 as u32, grid.size.1 as u32);
    let mut image = Image::new(
        Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        vec![0; (w * h * 4) as usize],
        TextureFormat::Rgba8UnormSrgb,
        // Kept on the CPU as well: the state dump reads the overlay's pixels back.
        RenderAssetUsages::default(),
    );
    image.sampler = ImageSampler::nearest();
    let handle = images.add(image);
    let size = Vec2::new(
        grid.size.0 as f32 * grid.cell_m,
        grid.size.1 as f32 * grid.cell_m,
    );
    let centre = Vec2::from(grid.origin) + 0.5 * size;
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(size.x, size.y))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color_texture: Some(handle.clone()),
            unlit: true,
            alpha_mode: AlphaMode::Blend,
            fog_enabled: false,
            ..default()
        })),
        // A few centimetres up, over the ground's own surfaces.
        Transform::from_xyz(centre.x, 0.05, centre.y),
        RenderLayers::layer(crate::OVERVIEW_LAYER),
    ));
    commands.insert_resource(Coverage {
        best: vec![0.0; grid.walkable.len()],
        grid,
        occluders,
        revision: None,
        compute_ms: 0.0,
        latency_ms: None,
        timing: None,
        summary: None,
        largest_blind: None,
        image: handle,
    });
}

fn time_latency(time: Res<Time<Real>>, mut coverage: ResMut<Coverage>) {
    if let Some((changed_at, frames)) = coverage.timing {
        if frames + 1 >= 1 {
            coverage.latency_ms = Some((time.elapsed_secs_f64() - changed_at) * 1e3);
            coverage.timing = None;
        } else {
            coverage.timing = Some((changed_at, frames + 1));
        }
    }
}

fn recompute(
    edited: Res<Edited>,
    mut coverage: ResMut<Coverage>,
    mut images: ResMut<Assets<Image>>,
) {
    if coverage.revision == Some(edited.revision) {
        return;
    }
    let started = Instant::now();
    let settings = &edited.scenario.placement;
    let views: Vec<View> = edited.scenario.cameras.iter().map(View::of).collect();
    let (best, seen_by) = coverage::coverage_map(
        &coverage.grid,
        &views,
        &coverage.occluders,
        settings.head_height_m,
    );
    let mut summary = coverage::summarise(&coverage.grid, &best, &seen_by, &[], &[]);
    let zones: Vec<(String, [f32; 3], [f32; 3])> = settings
        .private_zones
        .iter()
        .map(|z| {
            (
                z.name.clone(),
                [z.min.0, z.min.1, z.min.2],
                [z.max.0, z.max.1, z.max.2],
            )
        })
        .collect();
    summary.private_views = coverage::private_views(&views, &coverage.occluders, &zones);
    let pixels: Vec<u8> = best
        .iter()
        .zip(&coverage.grid.walkable)
        .flat_map(|(&ppm, &walkable)| {
            if walkable {
                Coverage::colour(ppm)
            } else {
                [0; 4]
            }
        })
        .collect();
    if let Some(mut image) = images.get_mut(&coverage.image) {
        image.data = Some(pixels);
    }
    coverage.largest_blind = largest_blind_region(&coverage.grid, &best);
    coverage.best = best;
    coverage.summary = Some(summary);
    coverage.revision = Some(edited.revision);
    coverage.compute_ms = started.elapsed().as_secs_f64() * 1e3;
    if edited.revision > 0 {
        coverage.timing = Some((edited.changed_at_s, 0));
    }
}

/// The largest 4-connected region of walkable cells no camera sees at Detect: the centre (x, z)
/// of its cell nearest its centroid (a region along a street may have its centroid off it), and
/// its area, m² (the area the coverage summary's `largest_blind_region_m2` gives).
pub fn largest_blind_region(grid: &Grid, best: &[f32]) -> Option<([f32; 2], f64)> {
    let blind = |cell: usize| grid.walkable[cell] && dori_level(best[cell]) == 0;
    let (width, height) = grid.size;
    let mut seen = vec![false; best.len()];
    let mut largest: Option<(Vec<usize>, usize)> = None;
    for start in 0..best.len() {
        if seen[start] || !blind(start) {
            continue;
        }
        let (mut region, mut stack) = (Vec::new(), vec![start]);
        seen[start] = true;
        while let Some(cell) = stack.pop() {
            region.push(cell);
            let (i, j) = (cell % width, cell / width);
            let neighbours = [
                (i > 0).then(|| cell - 1),
                (i + 1 < width).then(|| cell + 1),
                (j > 0).then(|| cell - width),
                (j + 1 < height).then(|| cell + width),
            ];
            for next in neighbours.into_iter().flatten() {
                if !seen[next] && blind(next) {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        if largest.as_ref().is_none_or(|(r, _)| region.len() > r.len()) {
            let size = region.len();
            largest = Some((region, size));
        }
    }
    let (region, size) = largest?;
    let sum = region.iter().fold([0.0f64; 2], |[x, z], &cell| {
        let [cx, cz] = grid.centre(cell);
        [x + cx as f64, z + cz as f64]
    });
    let centroid = [(sum[0] / size as f64) as f32, (sum[1] / size as f64) as f32];
    let distance = |cell: &usize| {
        let [x, z] = grid.centre(*cell);
        (x - centroid[0]).powi(2) + (z - centroid[1]).powi(2)
    };
    let nearest = region
        .iter()
        .copied()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))?;
    Some((grid.centre(nearest), size as f64 * grid.cell_area()))
}
