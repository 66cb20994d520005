//! Where the anomaly model points: regions of its score grid, and their scoring against the
//! staged events by the spatio-temporal criteria of Ramachandra & Jones ("Street Scene: A new
//! dataset and evaluation protocol for video anomaly detection", WACV 2020).
//!
//! **Regions.** In a frame, a region is one 8-connected group of grid cells scoring at or
//! above a threshold, as the box around its cells (render pixels), scored by its best cell.
//! A model without a region output has one cell, the whole frame, scored by the frame's score.
//!
//! **Region-based detection criterion (RBDC).** A region *detects* a real incident in a frame
//! when its intersection over union with the incident's visible box on that camera is at
//! least α; a region that detects nothing is a false positive. RBDC = ground-truth regions
//! (an incident's visible box in one frame of one camera) detected ÷ all of them.
//!
//! **Track-based detection criterion (TBDC).** A track is an incident's run of visible frames
//! on one camera; it is detected when at least β of its frames are. TBDC = tracks detected ÷
//! tracks.
//!
//! Both are traced against the false-positive regions per frame as the threshold falls
//! through every distinct cell score of the run (the model's own output, no hysteresis), and
//! summarised by the area under the curve for 0–1 false positives per frame, as in the paper.

use crate::alerts::class_by_incident;
use crate::profile::EventClass;
use crate::records::{AlertRecord, CameraRecord, RegionScoresRecord, RunRecords};
use std::collections::BTreeMap;

/// Intersection over union of two boxes `[x0, y0, x1, y1)`.
pub fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let inter = intersection(a, b);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Area of the intersection of two boxes.
pub fn intersection(a: [f64; 4], b: [f64; 4]) -> f64 {
    (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0)
}

/// Area of a box.
pub fn area(b: [f64; 4]) -> f64 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// A region of one frame: its box in render pixels and its score (its best cell's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// `[x0, y0, x1, y1)`, render pixels.
    pub bbox: [f64; 4],
    /// Its best cell's score.
    pub score: f64,
}

/// Union-find over the cells of one grid.
struct Cells {
    parent: Vec<usize>,
}

impl Cells {
    fn root(&mut self, mut cell: usize) -> usize {
        while self.parent[cell] != cell {
            self.parent[cell] = self.parent[self.parent[cell]];
            cell = self.parent[cell];
        }
        cell
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// The 8-neighbours of `cell` on a `columns × rows` grid.
fn neighbours(cell: usize, columns: usize, rows: usize) -> impl Iterator<Item = usize> {
    let (c, r) = ((cell % columns) as i64, (cell / columns) as i64);
    (-1..=1i64).flat_map(move |dr| (-1..=1i64).map(move |dc| (c + dc, r + dr))).filter_map(move |(nc, nr)| {
        let inside = nc >= 0 && nr >= 0 && (nc as usize) < columns && (nr as usize) < rows && (nc, nr) != (c, r);
        inside.then_some(nr as usize * columns + nc as usize)
    })
}

/// The grid's cells in pixels of a `width × height` frame: `(columns, rows, cell width, cell height)`.
fn geometry(grid: &RegionScoresRecord, (width, height): (u32, u32)) -> (usize, usize, f64, f64) {
    let (columns, rows) = (grid.columns.max(1) as usize, grid.rows.max(1) as usize);
    (columns, rows, width as f64 / columns as f64, height as f64 / rows as f64)
}

/// The regions of `active` cells (8-connected groups) as boxes, each scored by its best cell.
fn regions_of(grid: &RegionScoresRecord, active: &[bool], cells: &mut Cells, frame: (u32, u32)) -> Vec<Region> {
    let (columns, _, cell_w, cell_h) = geometry(grid, frame);
    let mut by_root: BTreeMap<usize, ([usize; 4], f64)> = BTreeMap::new();
    for (cell, _) in active.iter().enumerate().filter(|(_, a)| **a) {
        let (c, r) = (cell % columns, cell / columns);
        let score = grid.scores[cell];
        let entry = by_root.entry(cells.root(cell)).or_insert(([c, r, c, r], score));
        entry.0 = [entry.0[0].min(c), entry.0[1].min(r), entry.0[2].max(c), entry.0[3].max(r)];
        entry.1 = entry.1.max(score);
    }
    by_root
        .into_values()
        .map(|([c0, r0, c1, r1], score)| Region {
            bbox: [c0 as f64 * cell_w, r0 as f64 * cell_h, (c1 + 1) as f64 * cell_w, (r1 + 1) as f64 * cell_h],
            score,
        })
        .collect()
}

/// The regions of one frame's grid at `threshold` (cells scoring at or above it).
pub fn regions(grid: &RegionScoresRecord, threshold: f64, frame: (u32, u32)) -> Vec<Region> {
    let (columns, rows, _, _) = geometry(grid, frame);
    let active: Vec<bool> = grid.scores.iter().map(|&s| s >= threshold).collect();
    let mut cells = Cells { parent: (0..active.len()).collect() };
    for cell in (0..active.len()).filter(|&c| active[c]) {
        for n in neighbours(cell, columns, rows).filter(|&n| n < active.len() && active[n]) {
            cells.join(cell, n);
        }
    }
    regions_of(grid, &active, &mut cells, frame)
}

/// Render size per camera index.
pub fn frame_sizes(cameras: &[CameraRecord]) -> BTreeMap<u16, (u32, u32)> {
    cameras.iter().map(|c| (c.index, (c.render_width, c.render_height))).collect()
}

/// The regions of every alert in each frame in which it is open (the rows of `alert_regions`).
pub fn alert_regions(records: &RunRecords, alerts: &[AlertRecord], threshold: f64) -> Vec<crate::records::AlertRegionRecord> {
    let sizes = frame_sizes(&records.cameras);
    let mut rows = Vec::new();
    for alert in alerts {
        let size = sizes.get(&alert.camera).copied().unwrap_or((1, 1));
        for grid in records.region_scores.iter().filter(|g| alert.covers(g.camera, g.tick)) {
            for (index, region) in regions(grid, threshold, size).into_iter().enumerate() {
                rows.push(crate::records::AlertRegionRecord {
                    alert: alert.alert,
                    tick: grid.tick,
                    camera: grid.camera,
                    region: index as u32,
                    x0: region.bbox[0],
                    y0: region.bbox[1],
                    x1: region.bbox[2],
                    y1: region.bbox[3],
                    score: region.score,
                });
            }
        }
    }
    rows
}

/// One point of a detection curve.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    /// The threshold on region scores.
    pub threshold: f64,
    /// False-positive regions per frame.
    pub false_positives_per_frame: f64,
    /// RBDC: ground-truth regions detected ÷ all of them.
    pub rbdc: f64,
    /// TBDC: tracks detected ÷ all of them.
    pub tbdc: f64,
}

/// The model-level RBDC and TBDC of a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DetectionCurves {
    /// α used.
    pub region_iou: f64,
    /// β used.
    pub track_share: f64,
    /// Ground-truth regions (an incident visible in one frame of one camera).
    pub regions: usize,
    /// Tracks (an incident's visible frames on one camera).
    pub tracks: usize,
    /// Frames scored.
    pub frames: usize,
    /// Area under RBDC for 0–1 false positives per frame (0–1); `None` without ground truth.
    pub rbdc_auc: Option<f64>,
    /// Area under TBDC for 0–1 false positives per frame.
    pub tbdc_auc: Option<f64>,
    /// The curve, one point per distinct region score from the highest down (not serialised:
    /// the report draws it).
    #[serde(skip)]
    pub points: Vec<CurvePoint>,
}

/// A real incident's visible box in one frame of one camera.
struct Truth {
    bbox: [f64; 4],
    track: usize,
}

/// The ground truth of the curves: per (tick, camera), the real incidents' visible boxes; and
/// each track's length.
fn ground_truth(records: &RunRecords) -> (BTreeMap<(u64, u16), Vec<Truth>>, Vec<usize>) {
    let min_px = records.runs.first().map_or(1, |r| r.min_visible_px);
    let classes = class_by_incident(records);
    let mut tracks: BTreeMap<(u32, u16), usize> = BTreeMap::new();
    let mut lengths = Vec::new();
    let mut truth: BTreeMap<(u64, u16), Vec<Truth>> = BTreeMap::new();
    for frame in records.incident_frames.iter().filter(|f| f.visible_px >= min_px && classes.get(&f.incident) == Some(&EventClass::Incident)) {
        let Some(b) = frame.visible_box() else { continue };
        let next = tracks.len();
        let track = *tracks.entry((frame.incident, frame.camera)).or_insert(next);
        if track == lengths.len() {
            lengths.push(0);
        }
        lengths[track] += 1;
        truth.entry((frame.tick, frame.camera)).or_default().push(Truth { bbox: b.map(|v| v as f64), track });
    }
    (truth, lengths)
}

/// Frames needed to detect a track of `length` frames at share β (at least one).
pub fn needed(length: usize, beta: f64) -> usize {
    ((length as f64 * beta - 1e-9).ceil() as usize).max(1)
}

/// RBDC and TBDC over every distinct cell score, at α = `region_iou`, β = `track_share`.
///
/// Each frame's regions are followed as its threshold falls through its distinct cell scores (a
/// union–find adds each cell to the groups of its active neighbours, and the frame's regions are
/// re-read at each level: cells × levels per frame, small for the grids of clip models); the
/// frames' changes are then merged in order of threshold. Non-finite scores (the anomaly stage
/// refuses them) never open a cell.
pub fn detection_curves(records: &RunRecords, region_iou: f64, track_share: f64) -> DetectionCurves {
    let (truth, lengths) = ground_truth(records);
    let sizes = frame_sizes(&records.cameras);
    let total_regions: usize = truth.values().map(Vec::len).sum();
    // (threshold, change in false positives, changes (truth index, ±1)) of every frame.
    let mut changes: Vec<(f64, i64, Vec<(usize, i64)>)> = Vec::new();
    let mut truth_index = 0usize;
    let mut owner: Vec<usize> = Vec::new(); // truth index → track
    for grid in &records.region_scores {
        let size = sizes.get(&grid.camera).copied().unwrap_or((1, 1));
        let here: &[Truth] = truth.get(&(grid.tick, grid.camera)).map_or(&[], Vec::as_slice);
        let base = truth_index;
        truth_index += here.len();
        owner.extend(here.iter().map(|t| t.track));
        let (columns, rows, _, _) = geometry(grid, size);
        let mut order: Vec<usize> = (0..grid.scores.len()).filter(|&c| grid.scores[c].is_finite()).collect();
        order.sort_by(|&a, &b| grid.scores[b].total_cmp(&grid.scores[a]).then(a.cmp(&b)));
        let mut active = vec![false; grid.scores.len()];
        let mut cells = Cells { parent: (0..grid.scores.len()).collect() };
        let (mut false_positives, mut detected) = (0i64, vec![false; here.len()]);
        let mut k = 0;
        while k < order.len() {
            let level = grid.scores[order[k]];
            while k < order.len() && grid.scores[order[k]] == level {
                let cell = order[k];
                active[cell] = true;
                for n in neighbours(cell, columns, rows).filter(|&n| n < active.len() && active[n]) {
                    cells.join(cell, n);
                }
                k += 1;
            }
            let found = regions_of(grid, &active, &mut cells, size);
            let now: Vec<bool> = here.iter().map(|t| found.iter().any(|r| iou(r.bbox, t.bbox) >= region_iou)).collect();
            let fp = found.iter().filter(|r| !here.iter().any(|t| iou(r.bbox, t.bbox) >= region_iou)).count() as i64;
            let flips: Vec<(usize, i64)> =
                now.iter().zip(&detected).enumerate().filter(|(_, (a, b))| a != b).map(|(i, (&a, _))| (base + i, if a { 1 } else { -1 })).collect();
            if fp != false_positives || !flips.is_empty() {
                changes.push((level, fp - false_positives, flips));
            }
            false_positives = fp;
            detected = now;
        }
    }
    changes.sort_by(|a, b| b.0.total_cmp(&a.0));
    let frames = records.region_scores.len();
    let (mut fp, mut hits) = (0i64, 0i64);
    let mut track_hits = vec![0usize; lengths.len()];
    let mut tracks_detected = 0usize;
    let mut points = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let level = changes[i].0;
        while i < changes.len() && changes[i].0 == level {
            fp += changes[i].1;
            for &(t, delta) in &changes[i].2 {
                hits += delta;
                let track = owner[t];
                let need = needed(lengths[track], track_share);
                let before = track_hits[track] >= need;
                track_hits[track] = (track_hits[track] as i64 + delta) as usize;
                let after = track_hits[track] >= need;
                tracks_detected = tracks_detected + usize::from(after && !before) - usize::from(before && !after);
            }
            i += 1;
        }
        points.push(CurvePoint {
            threshold: level,
            false_positives_per_frame: if frames == 0 { 0.0 } else { fp as f64 / frames as f64 },
            rbdc: if total_regions == 0 { 0.0 } else { hits as f64 / total_regions as f64 },
            tbdc: if lengths.is_empty() { 0.0 } else { tracks_detected as f64 / lengths.len() as f64 },
        });
    }
    let area = |y: fn(&CurvePoint) -> f64| area_to_one(&points, y);
    DetectionCurves {
        region_iou,
        track_share,
        regions: total_regions,
        tracks: lengths.len(),
        frames,
        rbdc_auc: (total_regions > 0).then(|| area(|p| p.rbdc)),
        tbdc_auc: (!lengths.is_empty()).then(|| area(|p| p.tbdc)),
        points,
    }
}

/// The curve's upper envelope for 0–1 false positives per frame, as (x, y) corners of a step
/// function from (0, 0) to (1, best): the best detection rate reached at or below each
/// false-positive rate. A lower threshold may merge regions and lose detections, so the raw
/// curve need not rise; what an operator can reach at a given false-positive rate is its best
/// point up to there. Beyond the curve's last point the rate stays as it is.
pub fn envelope(points: &[CurvePoint], y: fn(&CurvePoint) -> f64) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f64, f64)> = points.iter().map(|p| (p.false_positives_per_frame, y(p))).filter(|p| p.0 < 1.0).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut best = 0.0f64;
    let mut steps = vec![(0.0, 0.0)];
    for (x, v) in sorted {
        steps.push((x, best));
        best = best.max(v);
        steps.push((x, best));
    }
    steps.push((1.0, best));
    steps
}

/// ∫₀¹ of the [`envelope`]: the area for 0–1 false positives per frame.
pub fn area_to_one(points: &[CurvePoint], y: fn(&CurvePoint) -> f64) -> f64 {
    envelope(points, y).windows(2).map(|w| (w[1].0 - w[0].0) * w[0].1).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(columns: u32, rows: u32, scores: &[f64]) -> RegionScoresRecord {
        RegionScoresRecord { tick: 0, camera: 0, columns, rows, scores: scores.to_vec() }
    }

    #[test]
    fn regions_are_8_connected_groups_with_their_best_cell() {
        // 4×3 grid on a 40×30 frame (10 px cells): a diagonal pair joins, a far cell stands alone.
        #[rustfmt::skip]
        let g = grid(4, 3, &[
            0.9, 0.0, 0.0, 0.6,
            0.0, 0.7, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0,
        ]);
        let found = regions(&g, 0.5, (40, 30));
        assert_eq!(found, vec![Region { bbox: [0.0, 0.0, 20.0, 20.0], score: 0.9 }, Region { bbox: [30.0, 0.0, 40.0, 10.0], score: 0.6 }]);
        assert!(regions(&g, 0.95, (40, 30)).is_empty());
        // A one-cell grid is the whole frame.
        assert_eq!(regions(&grid(1, 1, &[0.4]), 0.3, (64, 32)), vec![Region { bbox: [0.0, 0.0, 64.0, 32.0], score: 0.4 }]);
    }

    #[test]
    fn iou_and_cover() {
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]), 1.0);
        assert!((iou([0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(iou([0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]), 0.0);
    }

    /// Ten frames of a 4×3 grid on a 40×30 frame; an incident at cell 0 ([0, 0, 10, 10)) in
    /// view on frames 0–4; `score(tick, cell)` is the model's output.
    fn curves(score: impl Fn(u64, usize) -> f64) -> DetectionCurves {
        use crate::records::*;
        let mut records = RunRecords::default();
        records.runs.push(test_run());
        records.cameras.push(CameraRecord { index: 0, id: "c".into(), x_m: 0.0, y_m: 0.0, z_m: 0.0, yaw_deg: 0.0, pitch_deg: 0.0, hfov_deg: 60.0, sensor_width: 40, sensor_height: 30, render_width: 40, render_height: 30, fps: 10 });
        records.incidents.push(IncidentRecord { incident: 0, kind: "fight".into(), protected: false, out_of_scope: false, start_tick: 0, end_tick: 5, persons: vec![], objects: vec![], centre_x: 0.0, centre_z: 0.0, intensity: 1.0, detected: false, time_to_alert_s: None });
        records.incident_frames = (0..5).map(|t| IncidentFrameRecord::new(t, 0, 0, 100, 100, Some([0, 0, 10, 10]))).collect();
        records.region_scores = (0..10).map(|t| RegionScoresRecord { tick: t, camera: 0, columns: 4, rows: 3, scores: (0..12).map(|c| score(t, c)).collect() }).collect();
        detection_curves(&records, 0.1, 0.1)
    }

    #[test]
    fn rbdc_and_tbdc_follow_the_threshold_through_every_score() {
        // The incident's cell scores 0.8 while in view; a false region (cell 11) 0.6 on frame 7.
        let good = curves(|t, c| if c == 0 && t < 5 { 0.8 } else if c == 11 && t == 7 { 0.6 } else { 0.0 });
        assert_eq!((good.regions, good.tracks, good.frames), (5, 1, 10));
        let at = |threshold: f64| good.points.iter().find(|p| p.threshold == threshold).copied().unwrap();
        assert_eq!((at(0.8).false_positives_per_frame, at(0.8).rbdc, at(0.8).tbdc), (0.0, 1.0, 1.0));
        assert_eq!((at(0.6).false_positives_per_frame, at(0.6).rbdc), (0.1, 1.0));
        // At 0 every cell is on: one whole-frame region per frame, IoU 1/12 with the box < α.
        assert_eq!((at(0.0).false_positives_per_frame, at(0.0).rbdc, at(0.0).tbdc), (1.0, 0.0, 0.0));
        assert_eq!((good.rbdc_auc, good.tbdc_auc), (Some(1.0), Some(1.0)));
        // A model that finds the incident only after a false region on every frame scores 0.
        let poor = curves(|t, c| if c == 11 { 0.9 } else if c == 0 && t < 5 { 0.5 } else { 0.0 });
        assert_eq!((poor.rbdc_auc, poor.tbdc_auc), (Some(0.0), Some(0.0)));
    }

    #[test]
    fn the_area_counts_the_best_rate_reached_up_to_each_false_positive_rate() {
        let p = |x: f64, y: f64| CurvePoint { threshold: 0.0, false_positives_per_frame: x, rbdc: y, tbdc: y };
        // 0.5 reached at 0.2 FP/frame, 1.0 at 0.6; beyond, flat: 0.5 × 0.4 + 1.0 × 0.4 = 0.6.
        assert!((area_to_one(&[p(0.2, 0.5), p(0.6, 1.0)], |p| p.rbdc) - 0.6).abs() < 1e-12);
        // A later point that loses a detection does not lower the envelope.
        assert!((area_to_one(&[p(0.0, 1.0), p(0.5, 0.0)], |p| p.rbdc) - 1.0).abs() < 1e-12);
        // Points beyond 1 FP/frame do not count.
        assert_eq!(area_to_one(&[p(2.0, 1.0)], |p| p.rbdc), 0.0);
    }
}
