//! AN, the masking stage: every detected person (and screen) is painted over with a solid
//! colour before anything else sees the frame. A segmentation model's own instance silhouettes
//! are painted as they are; otherwise each detection's box is painted, grown by a dilation
//! margin — or, with a silhouette model, person boxes are refined into body silhouettes (grown
//! by the same margin), falling back to the box when the model finds nobody.

use crate::detector::{merge_tiled, Detection, Detector};
use crate::manifest::MaskKind;
use crate::silhouette::{RegionMask, SilhouetteModel};
use crate::styles::{outline_region, render_region};
use crate::VisionError;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::scenario::{MaskStyle, MaskingSettings};
use std::time::Instant;

/// The result of masking one frame.
#[derive(Clone, Debug)]
pub struct MaskOutput {
    /// The frame with every mask painted: the only image later stages may see.
    pub masked: RgbaImage,
    /// Per pixel, whether it was painted (rows top to bottom).
    pub mask: Vec<bool>,
    /// What the detector found.
    pub detections: Vec<Detection>,
    /// Person detections painted as refined silhouettes (the rest as boxes).
    pub refined: u32,
    /// Silhouette-model runs (one per person detection when refining; some fall back to boxes).
    pub silhouette_runs: u32,
    /// Wall time of detection, refinement and painting, milliseconds (a measurement, not a result).
    pub latency_ms: f64,
}

/// The masker: a detector, optionally a silhouette refiner, a colour and a dilation.
pub struct Masker {
    detector: Detector,
    refiner: Option<SilhouetteModel>,
    colour: [u8; 3],
    dilation_px: u32,
    tiles: (u32, u32),
    quarter_turns: bool,
    vehicles: bool,
    style: MaskStyle,
}

impl Masker {
    /// A masker over `detector` painting `colour`, growing each mask by `dilation_px`.
    pub fn new(detector: Detector, refiner: Option<SilhouetteModel>, colour: [u8; 3], dilation_px: u32) -> Self {
        Self { detector, refiner, colour, dilation_px, tiles: (1, 1), quarter_turns: false, vehicles: false, style: MaskStyle::Solid }
    }

    /// Renders persons' mask regions in `style` instead of the solid colour (screens, plates
    /// and vehicles stay solid: a blurred screen can still be read).
    pub fn with_style(mut self, style: MaskStyle) -> Self {
        self.style = style;
        self
    }

    /// A masker as a scenario's `masking` section sets it up: colour, dilation, tiles, quarter
    /// turns, vehicles and style.
    pub fn for_scenario(detector: Detector, refiner: Option<SilhouetteModel>, settings: &MaskingSettings) -> Self {
        let (r, g, b) = settings.colour;
        Masker::new(detector, refiner, [r, g, b], settings.dilation_px)
            .with_tiles(settings.tiles)
            .with_quarter_turns(settings.quarter_turns)
            .with_vehicles(settings.vehicles)
            .with_style(settings.style)
    }

    /// Also detect on `cols × rows` overlapping tiles of every frame (see [`Detector::detect_tiled`]).
    pub fn with_tiles(mut self, tiles: (u32, u32)) -> Self {
        self.tiles = tiles;
        self
    }

    /// Also detect on the frame turned a quarter turn each way (see [`Detector::detect_turned`]);
    /// what only a turned frame shows is added where the upright pass found nothing
    /// ([`merge_tiled`]'s rule), so the turns never take away what the upright pass paints.
    pub fn with_quarter_turns(mut self, quarter_turns: bool) -> Self {
        self.quarter_turns = quarter_turns;
        self
    }

    /// Also paints over detected vehicles (the manifest's `vehicle` classes), hiding their
    /// licence plates; without it vehicle detections are dropped.
    pub fn with_vehicles(mut self, vehicles: bool) -> Self {
        self.vehicles = vehicles;
        self
    }

    /// The underlying detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The silhouette refiner, when there is one.
    pub fn refiner(&self) -> Option<&SilhouetteModel> {
        self.refiner.as_ref()
    }

    /// Masks one frame.
    pub fn mask(&mut self, frame: &RgbaImage) -> Result<MaskOutput, VisionError> {
        let started = Instant::now();
        let mut detections = self.detector.detect_tiled(frame, self.tiles)?;
        if self.quarter_turns {
            let turned = self.detector.detect_turned(frame, self.tiles)?;
            detections = merge_tiled(detections, turned, self.detector.nms_iou());
        }
        if !self.vehicles {
            detections.retain(|d| d.kind != MaskKind::Vehicle);
        }
        let pixels = (frame.width * frame.height) as usize;
        // Painted in the solid colour, and persons' regions rendered in another style.
        let (mut solid, mut styled) = (vec![false; pixels], Vec::new());
        let (mut refined, mut silhouette_runs) = (0, 0);
        for detection in &detections {
            // A segmentation model's own silhouette first; else the refiner's; else the box.
            let silhouette = match (&detection.mask, &mut self.refiner, detection.kind) {
                (Some(own), _, _) => Some(own.clone()),
                (None, Some(refiner), MaskKind::Person) => {
                    silhouette_runs += 1;
                    refiner.person_mask(frame, detection.bbox)?
                }
                _ => None,
            };
            let mut own = (self.style != MaskStyle::Solid && detection.kind == MaskKind::Person).then(|| vec![false; pixels]);
            let target = own.as_mut().unwrap_or(&mut solid);
            match silhouette {
                Some(region) => {
                    refined += 1;
                    add_region(target, frame.width, frame.height, &region, self.dilation_px);
                }
                None => add_box(target, frame.width, frame.height, detection.bbox, self.dilation_px),
            }
            if let Some(own) = own {
                styled.push(region_of(&own, frame.width));
            }
        }
        // Outlines are drawn farthest (highest bottom edge) first, so a nearer person's ring
        // cuts into whoever stands behind; duplicate detections of one person are outlined once.
        if self.style == MaskStyle::Outlined {
            styled = merge_duplicates(styled, frame.width, frame.height);
            styled.sort_by_key(|region| region.y0 + region.height);
        }
        // Styled persons first, the solid paint last: a screen inside a blurred person stays painted.
        let mut masked = frame.clone();
        let mut mask = solid.clone();
        for region in &styled {
            match self.style {
                MaskStyle::Outlined => outline_region(&mut masked, region, self.colour, self.dilation_px),
                style => render_region(frame, &mut masked, region, style, self.colour),
            }
            region.mark(&mut mask, frame.width);
        }
        if self.style == MaskStyle::None {
            // Evaluation only: the detector's mask is kept (its misses are measured), nothing is painted.
            masked = frame.clone();
        } else {
            paint_into(&mut masked, &solid, self.colour);
        }
        Ok(MaskOutput { masked, mask, detections, refined, silhouette_runs, latency_ms: started.elapsed().as_secs_f64() * 1e3 })
    }
}

/// Marks the pixels whose centre lies inside `bbox` grown by `dilation_px`.
pub fn add_box(mask: &mut [bool], width: u32, height: u32, bbox: [f32; 4], dilation_px: u32) {
    let grow = dilation_px as f32;
    let x0 = (bbox[0] - grow - 0.5).ceil().max(0.0) as i64;
    let y0 = (bbox[1] - grow - 0.5).ceil().max(0.0) as i64;
    let x1 = ((bbox[2] + grow - 0.5).floor() as i64).min(width as i64 - 1);
    let y1 = ((bbox[3] + grow - 0.5).floor() as i64).min(height as i64 - 1);
    for y in y0..=y1 {
        for x in x0..=x1 {
            mask[(y * width as i64 + x) as usize] = true;
        }
    }
}

/// Marks a region's person pixels, each grown to a square of side 2 × `dilation_px` + 1.
pub fn add_region(mask: &mut [bool], width: u32, height: u32, region: &RegionMask, dilation_px: u32) {
    let d = dilation_px as i64;
    for y in 0..region.height as i64 {
        for x in 0..region.width as i64 {
            if !region.pixels[(y * region.width as i64 + x) as usize] {
                continue;
            }
            let (fx, fy) = (region.x0 as i64 + x, region.y0 as i64 + y);
            for ny in (fy - d).max(0)..=(fy + d).min(height as i64 - 1) {
                for nx in (fx - d).max(0)..=(fx + d).min(width as i64 - 1) {
                    mask[(ny * width as i64 + nx) as usize] = true;
                }
            }
        }
    }
}

/// The frame with every masked pixel set to `colour`.
pub fn paint(frame: &RgbaImage, mask: &[bool], colour: [u8; 3]) -> RgbaImage {
    let mut masked = frame.clone();
    paint_into(&mut masked, mask, colour);
    masked
}

/// A mask computed elsewhere (a vendor pipeline's), painted solid in `colour`: no detections.
pub fn paint_mask(frame: &RgbaImage, mask: Vec<bool>, colour: [u8; 3]) -> MaskOutput {
    let started = Instant::now();
    let mut masked = frame.clone();
    paint_into(&mut masked, &mask, colour);
    MaskOutput { masked, mask, detections: Vec::new(), refined: 0, silhouette_runs: 0, latency_ms: started.elapsed().as_secs_f64() * 1e3 }
}

/// Sets every masked pixel of `image` to `colour`.
fn paint_into(image: &mut RgbaImage, mask: &[bool], colour: [u8; 3]) {
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        image.pixels[i * 4..i * 4 + 3].copy_from_slice(&colour);
    }
}

/// Share of the smaller of two region boxes their intersection must cover for the two to be
/// one person found twice (the whole frame and a tile, or a box inside a box), not neighbours.
pub const DUPLICATE_OVERLAP: f32 = 0.6;

/// Regions whose boxes overlap by [`DUPLICATE_OVERLAP`] of the smaller one (transitively) joined
/// into one: an outline drawn inside one person would cut them into pieces.
fn merge_duplicates(regions: Vec<RegionMask>, width: u32, height: u32) -> Vec<RegionMask> {
    let n = regions.len();
    let mut group: Vec<usize> = (0..n).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    let area = |r: &RegionMask| (r.width * r.height) as f32;
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (&regions[i], &regions[j]);
            let w = (a.x0 + a.width).min(b.x0 + b.width) as f32 - a.x0.max(b.x0) as f32;
            let h = (a.y0 + a.height).min(b.y0 + b.height) as f32 - a.y0.max(b.y0) as f32;
            if w > 0.0 && h > 0.0 && w * h >= DUPLICATE_OVERLAP * area(a).min(area(b)) {
                let (ri, rj) = (root(&mut group, i), root(&mut group, j));
                group[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let roots: Vec<usize> = (0..n).map(|i| root(&mut group, i)).collect();
    let mut merged = Vec::new();
    for (i, region) in regions.iter().enumerate().filter(|&(i, _)| roots[i] == i) {
        let members: Vec<usize> = (0..n).filter(|&j| roots[j] == i).collect();
        if members.len() == 1 {
            // Most people are found once: their region stays as it is, with no frame-sized work.
            merged.push(region.clone());
            continue;
        }
        let mut mask = vec![false; (width * height) as usize];
        members.iter().for_each(|&j| regions[j].mark(&mut mask, width));
        merged.push(region_of(&mask, width));
    }
    merged
}

/// The set pixels of a frame-sized mask as a region over their bounding box.
fn region_of(mask: &[bool], width: u32) -> RegionMask {
    let set = || mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| (i as u32 % width, i as u32 / width));
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y) in set() {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
    }
    if x0 > x1 {
        return RegionMask { x0: 0, y0: 0, width: 0, height: 0, pixels: Vec::new() };
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let mut pixels = vec![false; (w * h) as usize];
    for (x, y) in set() {
        pixels[((y - y0) * w + x - x0) as usize] = true;
    }
    RegionMask { x0, y0, width: w, height: h, pixels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painting_covers_the_grown_box_exactly() {
        let frame = RgbaImage::new(20, 10);
        let mut mask = vec![false; 200];
        add_box(&mut mask, 20, 10, [5.0, 2.0, 10.0, 6.0], 1);
        // Box 5..10 × 2..6 grown by 1 → pixels 4..=10 × 1..=6.
        assert_eq!(mask.iter().filter(|&&m| m).count(), 7 * 6);
        assert!(mask[1 * 20 + 4] && mask[6 * 20 + 10]);
        assert!(!mask[7 * 20 + 10]);
        let masked = paint(&frame, &mask, [1, 2, 3]);
        assert_eq!(masked.rgb(4, 1), [1, 2, 3]);
        assert_eq!(masked.rgb(0, 0), [0, 0, 0]);
    }

    #[test]
    fn one_person_found_twice_is_outlined_once_and_neighbours_stay_two() {
        let boxed = |x0: u32, y0: u32, w: u32, h: u32| RegionMask { x0, y0, width: w, height: h, pixels: vec![true; (w * h) as usize] };
        // A box inside a box (a tile's detection of the same person) and a neighbour touching it.
        let regions = vec![boxed(10, 10, 8, 20), boxed(11, 14, 6, 15), boxed(18, 12, 8, 20)];
        let merged = merge_duplicates(regions, 40, 40);
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].x0, merged[0].y0, merged[0].width, merged[0].height), (10, 10, 8, 20));
        assert_eq!((merged[1].x0, merged[1].width), (18, 8));
    }

    #[test]
    fn a_region_is_dilated_and_clipped_to_the_frame() {
        let mut mask = vec![false; 100];
        let region = RegionMask { x0: 0, y0: 0, width: 2, height: 1, pixels: vec![true, false] };
        add_region(&mut mask, 10, 10, &region, 1);
        // Pixel (0, 0) grown by 1, clipped: (0..=1) × (0..=1).
        assert_eq!(mask.iter().filter(|&&m| m).count(), 4);
    }
}
