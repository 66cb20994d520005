//! Per-frame ground truth: who is where in the id mask, and how much of each person the camera
//! would see without occluders.
//!
//! *Visible* pixels are counted in the id mask rendered by the GPU. *Unoccluded* pixels are
//! counted by rasterising each person's own triangles alone on the CPU, with the same camera
//! model and the same sampling rule as the GPU (a pixel is covered when its centre is inside a
//! triangle, top-left fill rule). Both use the render resolution; pixels per metre use the sensor's.

use crowdtwin_core::camera::CameraModel;
use crowdtwin_core::frame::{IdMask, IncidentInFrame, PersonInFrame};
use crowdtwin_core::ids::GroundTruthId;
use std::collections::BTreeMap;

/// One person's geometry this tick, in world coordinates.
#[derive(Clone, Debug, Default)]
pub struct PersonGeometry {
    /// Person id.
    pub person: u32,
    /// World-space triangles (three points each).
    pub triangles: Vec<[[f32; 3]; 3]>,
    /// Ground position and standing height: where pixels per metre are measured (mid-body).
    pub anchor: [f32; 3],
}

/// Decodes the id-mask image bytes; fails on any value outside the documented id ranges.
pub fn decode_id_mask(rgba: &[u8], width: u32, height: u32) -> Result<IdMask, String> {
    let mut ids = Vec::with_capacity((width * height) as usize);
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        let id = GroundTruthId::from_srgb_bytes([px[0], px[1], px[2]]);
        if let GroundTruthId::Invalid(value) = id {
            return Err(format!(
                "id mask pixel ({}, {}) holds {value:#08x}, outside every id range: the id pass blended, dithered or anti-aliased",
                i as u32 % width,
                i as u32 / width
            ));
        }
        ids.push(id.encode());
    }
    Ok(IdMask { width, height, ids })
}

/// Rasterises triangles already projected to pixel coordinates, calling `cover(x, y)` once per
/// covered pixel per triangle.
fn raster_triangle(p: [[f32; 2]; 3], width: u32, height: u32, mut cover: impl FnMut(u32, u32)) {
    let area = (p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1]);
    if area.abs() < 1e-12 {
        return;
    }
    // Orient counter-clockwise in pixel space so edge functions are positive inside.
    let (a, b, c) = if area > 0.0 { (p[0], p[1], p[2]) } else { (p[0], p[2], p[1]) };
    let min_x = a[0].min(b[0]).min(c[0]).floor().max(0.0) as i64;
    let max_x = (a[0].max(b[0]).max(c[0]).ceil() as i64).min(width as i64 - 1);
    let min_y = a[1].min(b[1]).min(c[1]).floor().max(0.0) as i64;
    let max_y = (a[1].max(b[1]).max(c[1]).ceil() as i64).min(height as i64 - 1);
    if min_x > max_x || min_y > max_y {
        return;
    }
    let edge = |u: [f32; 2], v: [f32; 2], x: f32, y: f32| (v[0] - u[0]) * (y - u[1]) - (v[1] - u[1]) * (x - u[0]);
    // Top-left rule (y down, edges walked clockwise on screen): a centre exactly on an edge
    // belongs to the triangle only for a top edge (horizontal, walked rightwards) or a left
    // edge (walked upwards), as GPUs decide ties.
    let owns = |u: [f32; 2], v: [f32; 2]| {
        let (dx, dy) = (v[0] - u[0], v[1] - u[1]);
        (dy == 0.0 && dx > 0.0) || dy < 0.0
    };
    let (own_ab, own_bc, own_ca) = (owns(a, b), owns(b, c), owns(c, a));
    for y in min_y..=max_y {
        let cy = y as f32 + 0.5;
        for x in min_x..=max_x {
            let cx = x as f32 + 0.5;
            let (e0, e1, e2) = (edge(a, b, cx, cy), edge(b, c, cx, cy), edge(c, a, cx, cy));
            let inside = |e: f32, own: bool| e > 0.0 || (e == 0.0 && own);
            if inside(e0, own_ab) && inside(e1, own_bc) && inside(e2, own_ca) {
                cover(x as u32, y as u32);
            }
        }
    }
}

/// Scratch space reused across frames: which pixels the current person covers.
#[derive(Default)]
pub struct Rasteriser {
    stamp: Vec<u32>,
    generation: u32,
}

/// The unoccluded silhouette of one person in one camera.
#[derive(Clone, Debug, PartialEq)]
pub struct Silhouette {
    /// Covered pixels.
    pub pixels: u32,
    /// Bounding box `[x0, y0, x1, y1)` of covered pixels.
    pub bounds: [u32; 4],
    /// Height in pixels of the silhouette's part inside the frame.
    pub height_px: f32,
}

impl Rasteriser {
    /// Rasterises a person alone; `None` when no pixel is covered.
    pub fn silhouette(&mut self, camera: &CameraModel, geometry: &PersonGeometry) -> Option<Silhouette> {
        self.union_silhouette(camera, &[geometry])
    }

    /// The silhouette of several bodies together (pixels covered by any of them counted once).
    pub fn union_silhouette(&mut self, camera: &CameraModel, geometries: &[&PersonGeometry]) -> Option<Silhouette> {
        let (width, height) = (camera.width, camera.height);
        if self.stamp.len() != (width * height) as usize {
            self.stamp = vec![0; (width * height) as usize];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
        let generation = self.generation;
        let (mut pixels, mut bounds) = (0u32, [u32::MAX, u32::MAX, 0, 0]);
        let stamp = &mut self.stamp;
        for triangle in geometries.iter().flat_map(|g| g.triangles.iter()) {
            let projected = [camera.project(triangle[0]), camera.project(triangle[1]), camera.project(triangle[2])];
            // Triangles crossing the near plane are dropped (cameras are mounted well above people).
            let [Some(a), Some(b), Some(c)] = projected else { continue };
            raster_triangle([[a[0], a[1]], [b[0], b[1]], [c[0], c[1]]], width, height, |x, y| {
                let i = (y * width + x) as usize;
                if stamp[i] != generation {
                    stamp[i] = generation;
                    pixels += 1;
                    bounds = [bounds[0].min(x), bounds[1].min(y), bounds[2].max(x + 1), bounds[3].max(y + 1)];
                }
            });
        }
        (pixels > 0).then_some(Silhouette { pixels, bounds, height_px: (bounds[3] - bounds[1]) as f32 })
    }
}

/// The ground truth of one frame: every person whose unoccluded silhouette touches it.
pub fn persons_in_frame(
    rasteriser: &mut Rasteriser,
    render_camera: &CameraModel,
    sensor_camera: &CameraModel,
    people: &[PersonGeometry],
    id_mask: &IdMask,
) -> Vec<PersonInFrame> {
    let mut visible: BTreeMap<u32, u32> = BTreeMap::new();
    for &id in &id_mask.ids {
        if let GroundTruthId::Person(p) = GroundTruthId::decode(id) {
            *visible.entry(p).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for person in people {
        let Some(silhouette) = rasteriser.silhouette(render_camera, person) else { continue };
        out.push(PersonInFrame {
            person: person.person,
            visible_px: visible.get(&person.person).copied().unwrap_or(0),
            unoccluded_px: silhouette.pixels,
            unoccluded_box: silhouette.bounds,
            height_px: silhouette.height_px,
            pixels_per_metre: sensor_camera.pixels_per_metre(person.anchor),
            depth_m: sensor_camera.to_camera(person.anchor)[2],
        });
    }
    out
}

/// What an incident under way is made of: its participants and its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentCast {
    /// Index of the incident.
    pub incident: u32,
    /// Participants' ids.
    pub persons: Vec<u32>,
    /// Objects' indices.
    pub objects: Vec<u32>,
}

/// Ground truth of every incident under way in a frame: visible pixels (id mask), unoccluded
/// pixels (CPU rasterising of participants and objects together) and the visible box.
pub fn incidents_in_frame(
    rasteriser: &mut Rasteriser,
    camera: &CameraModel,
    casts: &[IncidentCast],
    people: &[PersonGeometry],
    objects: &[PersonGeometry],
    id_mask: &IdMask,
) -> Vec<IncidentInFrame> {
    casts
        .iter()
        .map(|cast| {
            let mut parts: Vec<&PersonGeometry> = people.iter().filter(|g| cast.persons.contains(&g.person)).collect();
            parts.extend(objects.iter().filter(|g| cast.objects.contains(&g.person)));
            let unoccluded_px = rasteriser.union_silhouette(camera, &parts).map_or(0, |s| s.pixels);
            let (mut visible_px, mut bounds) = (0u32, [u32::MAX, u32::MAX, 0, 0]);
            for (i, &id) in id_mask.ids.iter().enumerate() {
                let ours = match GroundTruthId::decode(id) {
                    GroundTruthId::Person(p) => cast.persons.contains(&p),
                    GroundTruthId::Object(o) => cast.objects.contains(&o),
                    _ => false,
                };
                if ours {
                    let (x, y) = (i as u32 % id_mask.width, i as u32 / id_mask.width);
                    visible_px += 1;
                    bounds = [bounds[0].min(x), bounds[1].min(y), bounds[2].max(x + 1), bounds[3].max(y + 1)];
                }
            }
            IncidentInFrame { incident: cast.incident, visible_px, unoccluded_px, visible_box: (visible_px > 0).then_some(bounds) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centres_on_an_edge_belong_to_top_and_left_edges_only() {
        // A square whose edges pass exactly through pixel centres (x, y = 2.5 … 12.5).
        let mut covered = vec![false; 16 * 16];
        let quad = [[2.5, 2.5], [12.5, 2.5], [12.5, 12.5], [2.5, 12.5]];
        for tri in [[quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]] {
            raster_triangle(tri, 16, 16, |x, y| covered[(y * 16 + x) as usize] = true);
        }
        assert!(covered[2 * 16 + 2], "top-left corner pixel: on the top and left edges");
        assert!(!covered[12 * 16 + 12] && !covered[2 * 16 + 12] && !covered[12 * 16 + 2], "right and bottom edges excluded");
        assert_eq!(covered.iter().filter(|&&c| c).count(), 100);
    }

    #[test]
    fn two_triangles_tile_a_square_without_gaps_or_overlap() {
        let mut count = vec![0u8; 16 * 16];
        let quad = [[2.0, 2.0], [12.0, 2.0], [12.0, 12.0], [2.0, 12.0]];
        for tri in [[quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]] {
            raster_triangle(tri, 16, 16, |x, y| count[(y * 16 + x) as usize] += 1);
        }
        assert_eq!(count.iter().filter(|&&c| c == 1).count(), 100);
        assert!(count.iter().all(|&c| c <= 1));
    }
}

/// The pixels one person covers alone (row-major), by the same rule as [`Rasteriser`].
pub fn coverage(camera: &CameraModel, geometry: &PersonGeometry) -> Vec<bool> {
    let (width, height) = (camera.width, camera.height);
    let mut covered = vec![false; (width * height) as usize];
    for triangle in &geometry.triangles {
        let [Some(a), Some(b), Some(c)] = triangle.map(|p| camera.project(p)) else { continue };
        raster_triangle([[a[0], a[1]], [b[0], b[1]], [c[0], c[1]]], width, height, |x, y| covered[(y * width + x) as usize] = true);
    }
    covered
}
