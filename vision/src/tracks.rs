//! Person tracks read from what a masker leaves: the paint of a masked frame, cut into blobs and
//! tracked from frame to frame, each track described by its motion and shape over the last 2 s.
//! The rows are the input of a `person_tracks` anomaly model ([`crate::anomaly`]) and what
//! `crowdtwin dataset` exports to train one, so the features exist once, here.
//!
//! Per frame of one camera:
//! 1. the masked frame is resized to the model's analysis size with the pipeline's own filter
//!    ([`crate::preprocess::resize`]) and a pixel is **paint** when its RGB lies within an L1
//!    distance of [`PAINT_TOLERANCE`] of the mask colour;
//! 2. **blobs** are the 4-connected components of paint of [`MIN_BLOB_PX`] pixels or more
//!    (`imageproc`'s labelling);
//! 3. blobs take the **tracks** of the previous frame's blobs, greedily over the pairs by falling
//!    IoU (at least [`MATCH_IOU`]; each used once); the rest start new tracks. A track missing
//!    from one frame (a masker's miss) ends: its blob starts a new one when it is seen again
//!    (bridging misses with a constant-velocity prediction was measured and not kept:
//!    `models/train/README.md`);
//! 4. each track gets a row of the 24 [`FEATURES`] (speeds in body heights per second, aspect and
//!    height changes, shape change of a 16 × 8 occupancy grid, nearest neighbour and how it
//!    closes in, neighbours moving away, …; look-backs of [`LOOK_BACK`] frames, 0.4, 1 and 2 s at
//!    5 fps), joined with their maximum and mean over the track's last [`CONTEXT_ROWS`] rows:
//!    [`ROW_WIDTH`] = 72 values.
//!
//! The features and their motivation are those of the oracle study
//! (`models/train/oracle_tracks.py`, `models/train/README.md`), which measured them on
//! ground-truth tracks first.

use crate::preprocess::resize;
use crowdtwin_core::frame::RgbaImage;
use image::{GrayImage, Luma};
use imageproc::region_labelling::{connected_components, Connectivity};
use std::collections::{BTreeMap, VecDeque};

/// The per-track features, in row order (the first 24 of a row; then their maxima, then means).
pub const FEATURES: [&str; 24] = [
    "speed 1 s",
    "speed 0.4 s",
    "speed 2 s",
    "aspect",
    "aspect change 1 s",
    "aspect change 2 s",
    "height / track median",
    "height / recent max",
    "grid change 0.4 s",
    "grid change 1 s",
    "fill",
    "arm span",
    "mass",
    "mass change 1 s",
    "nearest",
    "within 1",
    "within 3",
    "nearest closing",
    "nearest's speed",
    "neighbours moving away",
    "fast in frame",
    "blobs in frame",
    "height px",
    "pixels",
];
/// Rows of a track its context is pooled over (itself included): 2 s at 5 fps.
pub const CONTEXT_ROWS: usize = 10;
/// Values per row: the features, their maxima and their means over the track's context.
pub const ROW_WIDTH: usize = 3 * FEATURES.len();
/// Smallest blob kept, pixels of the analysis frame.
pub const MIN_BLOB_PX: usize = 12;
/// A pixel is paint when the L1 distance of its RGB to the mask colour is below this (the
/// resize blends the paint's edges with what surrounds it).
pub const PAINT_TOLERANCE: u32 = 40;
/// Smallest IoU with which a blob continues a track.
pub const MATCH_IOU: f32 = 0.2;
/// Look-backs in frames: 0.4, 1 and 2 s at the 5 fps the features were designed for.
pub const LOOK_BACK: [usize; 3] = [2, 5, 10];
const GRID_ROWS: usize = 16;
const GRID_COLUMNS: usize = 8;

/// One blob of paint and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Blob {
    /// Box `[x0, y0, x1, y1)`, pixels of the analysis frame.
    pub bbox: [u32; 4],
    /// Pixels of paint.
    pub pixels: u32,
    cx: f64,
    cy: f64,
    w: f64,
    h: f64,
    /// Share of the box that is paint.
    fill: f64,
    /// Widest row over the median row width.
    span: f64,
    /// Mean row of the paint, as a share of the height from the top.
    mass: f64,
    /// 16 × 8 occupancy over the box, scaled so the fullest cell is 1.
    grid: Vec<f64>,
}

impl Blob {
    /// A blob of the given pixels `(x, y)`; at least one pixel.
    fn of(points: &[(u32, u32)]) -> Blob {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for &(x, y) in points {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
        let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
        let mut grid = vec![0.0; GRID_ROWS * GRID_COLUMNS];
        let mut widths = vec![0usize; h];
        let mut rows_sum = 0.0;
        for &(x, y) in points {
            let (r, c) = ((y - y0) as usize, (x - x0) as usize);
            grid[(r * GRID_ROWS / h) * GRID_COLUMNS + c * GRID_COLUMNS / w] += 1.0;
            widths[r] += 1;
            rows_sum += r as f64;
        }
        let fullest = grid.iter().copied().fold(1.0, f64::max);
        grid.iter_mut().for_each(|v| *v /= fullest);
        let mut filled: Vec<usize> = widths.iter().copied().filter(|&n| n > 0).collect();
        filled.sort_unstable();
        let middle = filled.len() / 2;
        let median = if filled.len() % 2 == 1 { filled[middle] as f64 } else { (filled[middle - 1] + filled[middle]) as f64 / 2.0 };
        let n = points.len() as f64;
        Blob {
            bbox: [x0, y0, x1, y1],
            pixels: points.len() as u32,
            cx: (x0 + x1) as f64 / 2.0,
            cy: (y0 + y1) as f64 / 2.0,
            w: w as f64,
            h: h as f64,
            fill: n / (w * h) as f64,
            span: *widths.iter().max().unwrap_or(&0) as f64 / median.max(1.0),
            mass: rows_sum / n / h as f64,
            grid,
        }
    }

    fn aspect(&self) -> f64 {
        self.w / self.h
    }

    fn grid_change(&self, before: &Blob) -> f64 {
        self.grid.iter().zip(&before.grid).map(|(a, b)| (a - b).abs()).sum::<f64>() / self.grid.len() as f64
    }
}

/// The blobs of paint of one masked frame, seen at `size` (width, height): row-major order of
/// their first pixel.
pub fn paint_blobs(masked: &RgbaImage, colour: [u8; 3], (width, height): (u32, u32)) -> Vec<Blob> {
    let small = resize(masked, width, height);
    let paint = GrayImage::from_fn(width, height, |x, y| {
        let rgb = small.rgb(x, y);
        let distance: u32 = (0..3).map(|c| (rgb[c] as i32 - colour[c] as i32).unsigned_abs()).sum();
        Luma([if distance < PAINT_TOLERANCE { 255 } else { 0 }])
    });
    let labels = connected_components(&paint, Connectivity::Four, Luma([0u8]));
    let mut order = Vec::new();
    let mut points: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
    for (x, y, label) in labels.enumerate_pixels() {
        let label = label.0[0];
        if label == 0 {
            continue;
        }
        let entry = points.entry(label).or_default();
        if entry.is_empty() {
            order.push(label);
        }
        entry.push((x, y));
    }
    order.iter().map(|label| &points[label]).filter(|p| p.len() >= MIN_BLOB_PX).map(|p| Blob::of(p)).collect()
}

/// Intersection over union of two boxes `[x0, y0, x1, y1)`.
pub fn iou(a: [u32; 4], b: [u32; 4]) -> f32 {
    let w = a[2].min(b[2]) as f32 - a[0].max(b[0]) as f32;
    let h = a[3].min(b[3]) as f32 - a[1].max(b[1]) as f32;
    let inter = w.max(0.0) * h.max(0.0);
    let area = |b: [u32; 4]| ((b[2] - b[0]) * (b[3] - b[1])) as f32;
    inter / (area(a) + area(b) - inter)
}

/// One track's row on one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackRow {
    /// The track's number on its camera (from 0, in order of appearance).
    pub track: u64,
    /// Its blob's box `[x0, y0, x1, y1)`, pixels of the analysis frame.
    pub bbox: [u32; 4],
    /// [`ROW_WIDTH`] values: the [`FEATURES`], their maxima and their means over the track's
    /// last [`CONTEXT_ROWS`] rows.
    pub features: Vec<f32>,
}

/// Tracks of every camera, fed one frame at a time, in order.
#[derive(Default)]
pub struct PersonTracks {
    cameras: BTreeMap<u16, CameraTracks>,
}

/// One camera's tracks.
#[derive(Default)]
struct CameraTracks {
    next_track: u64,
    /// The last frames' blobs by track, newest last: the look-backs' reach.
    frames: VecDeque<BTreeMap<u64, Blob>>,
    /// (track, box) of each blob of the newest frame, in blob order: what the next frame matches.
    previous: Vec<(u64, [u32; 4])>,
    /// Each live track's heights so far (sorted for the median on every frame: linear in the
    /// track's age, a few thousand values for a track that lives ten minutes).
    heights: BTreeMap<u64, Vec<f64>>,
    /// Each live track's last feature rows.
    rows: BTreeMap<u64, VecDeque<[f64; FEATURES.len()]>>,
}

impl PersonTracks {
    /// Adds camera `camera`'s next frame's blobs; returns a row per blob (blob order).
    pub fn push(&mut self, camera: u16, blobs: Vec<Blob>) -> Vec<TrackRow> {
        self.cameras.entry(camera).or_default().push(blobs)
    }
}

impl CameraTracks {
    /// Greedy matching to the previous frame: pairs by falling IoU (ties: later blob, then later
    /// previous blob, first), each blob and previous track used once.
    fn assign(&mut self, blobs: &[Blob]) -> Vec<u64> {
        let mut pairs = Vec::new();
        for (i, blob) in blobs.iter().enumerate() {
            for (j, &(_, old)) in self.previous.iter().enumerate() {
                let overlap = iou(blob.bbox, old);
                if overlap >= MATCH_IOU {
                    pairs.push((overlap, i, j));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
        let mut matched: Vec<Option<u64>> = vec![None; blobs.len()];
        let mut taken = vec![false; self.previous.len()];
        for (_, i, j) in pairs {
            if matched[i].is_none() && !taken[j] {
                matched[i] = Some(self.previous[j].0);
                taken[j] = true;
            }
        }
        matched
            .into_iter()
            .map(|m| {
                m.unwrap_or_else(|| {
                    self.next_track += 1;
                    self.next_track - 1
                })
            })
            .collect()
    }

    fn push(&mut self, blobs: Vec<Blob>) -> Vec<TrackRow> {
        let tracks = self.assign(&blobs);
        self.previous = tracks.iter().zip(&blobs).map(|(&t, b)| (t, b.bbox)).collect();
        let back = |k: usize| self.frames.len().checked_sub(k).and_then(|i| self.frames.get(i));
        let (shortly, second, two) = (back(LOOK_BACK[0]), back(LOOK_BACK[1]), back(LOOK_BACK[2]));
        let n = blobs.len();
        // Velocity over 1 s in body heights per second (zero for a track younger than 1 s).
        let velocity: Vec<(f64, f64)> = tracks
            .iter()
            .zip(&blobs)
            .map(|(t, d)| second.and_then(|s| s.get(t)).map_or((0.0, 0.0), |b| ((d.cx - b.cx) / d.h, (d.cy - b.cy) / d.h)))
            .collect();
        let speed: Vec<f64> = velocity.iter().map(|(x, y)| x.hypot(*y)).collect();
        let gap = |i: usize, j: usize| {
            if i == j {
                f64::INFINITY
            } else {
                (blobs[i].cx - blobs[j].cx).hypot(blobs[i].cy - blobs[j].cy) / blobs[i].h.max(1.0)
            }
        };
        let fast = speed.iter().filter(|&&s| s > 1.5).count() as f64;
        let mut out = Vec::with_capacity(n);
        for (i, (&track, d)) in tracks.iter().zip(&blobs).enumerate() {
            let [a, b, c] = [shortly, second, two].map(|frame| frame.and_then(|f| f.get(&track)));
            let heights = self.heights.entry(track).or_default();
            heights.push(d.h);
            let aspect = d.aspect();
            let j = (0..n).filter(|&j| j != i).min_by(|&x, &y| gap(i, x).total_cmp(&gap(i, y)).then(x.cmp(&y))).unwrap_or(i);
            let near = if j != i { gap(i, j) } else { 1e3 };
            let was_near = match (j != i, b, second.and_then(|s| s.get(&tracks[j]))) {
                (true, Some(b), Some(other)) => (other.cx - b.cx).hypot(other.cy - b.cy) / d.h,
                _ => near,
            };
            let around: Vec<usize> = (0..n).filter(|&k| gap(i, k) < 3.0).collect();
            let away = around
                .iter()
                .map(|&k| {
                    let offset = ((blobs[k].cx - d.cx) / d.h.max(1.0), (blobs[k].cy - d.cy) / d.h.max(1.0));
                    (velocity[k].0 * offset.0 + velocity[k].1 * offset.1) / offset.0.hypot(offset.1).max(1e-3)
                })
                .sum::<f64>()
                / around.len().max(1) as f64;
            let moved = |before: Option<&Blob>, seconds: f64| before.map_or(0.0, |p| (d.cx - p.cx).hypot(d.cy - p.cy) / d.h / seconds);
            let row = [
                speed[i],
                moved(a, 0.4),
                moved(c, 2.0),
                aspect,
                aspect - b.map_or(aspect, Blob::aspect),
                aspect - c.map_or(aspect, Blob::aspect),
                d.h / median(heights),
                d.h / heights[heights.len().saturating_sub(CONTEXT_ROWS)..].iter().copied().fold(f64::MIN, f64::max),
                a.map_or(0.0, |a| d.grid_change(a)),
                b.map_or(0.0, |b| d.grid_change(b)),
                d.fill,
                d.span,
                d.mass,
                d.mass - b.map_or(d.mass, |b| b.mass),
                near,
                (0..n).filter(|&k| gap(i, k) < 1.0).count() as f64,
                around.len() as f64,
                near - was_near,
                if j != i { speed[j] } else { 0.0 },
                away,
                fast,
                n as f64,
                d.h,
                d.fill * d.h * d.w,
            ];
            let context = self.rows.entry(track).or_default();
            context.push_back(row);
            if context.len() > CONTEXT_ROWS {
                context.pop_front();
            }
            let mut features = Vec::with_capacity(ROW_WIDTH);
            features.extend(row.iter().map(|&v| v as f32));
            features.extend((0..row.len()).map(|f| context.iter().map(|r| r[f]).fold(f64::MIN, f64::max) as f32));
            features.extend((0..row.len()).map(|f| (context.iter().map(|r| r[f]).sum::<f64>() / context.len() as f64) as f32));
            out.push(TrackRow { track, bbox: d.bbox, features });
        }
        self.frames.push_back(tracks.into_iter().zip(blobs).collect());
        if self.frames.len() > LOOK_BACK[2] {
            self.frames.pop_front();
        }
        // A track absent from every remembered frame can never return: forget it.
        let live = |t: &u64| self.frames.iter().any(|f| f.contains_key(t));
        self.heights.retain(|t, _| live(t));
        self.rows.retain(|t, _| live(t));
        out
    }
}

/// The median (mean of the middle two for an even count) of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[middle] } else { (sorted[middle - 1] + sorted[middle]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_with(boxes: &[[u32; 4]], colour: [u8; 3]) -> RgbaImage {
        let mut frame = RgbaImage::new(64, 36);
        for b in boxes {
            for y in b[1]..b[3] {
                for x in b[0]..b[2] {
                    frame.set_rgb(x, y, colour);
                }
            }
        }
        frame
    }

    #[test]
    fn blobs_are_the_paints_components_and_small_ones_are_dropped() {
        let colour = [0, 160, 230];
        let frame = frame_with(&[[2, 2, 6, 12], [20, 4, 26, 20], [40, 30, 42, 32]], colour);
        let blobs = paint_blobs(&frame, colour, (64, 36));
        assert_eq!(blobs.iter().map(|b| b.bbox).collect::<Vec<_>>(), vec![[2, 2, 6, 12], [20, 4, 26, 20]]);
        assert_eq!(blobs[0].pixels, 40);
        assert!((blobs[0].fill - 1.0).abs() < 1e-9 && (blobs[0].span - 1.0).abs() < 1e-9);
        // Other colours are not paint.
        assert!(paint_blobs(&frame_with(&[[2, 2, 6, 12]], [200, 40, 40]), colour, (64, 36)).is_empty());
    }

    #[test]
    fn a_moving_blob_keeps_its_track_and_its_speed_is_in_heights_per_second() {
        let colour = [0, 160, 230];
        let mut tracks = PersonTracks::default();
        let mut last = Vec::new();
        for t in 0..8u32 {
            // 10 px tall, moving 2 px a frame: 10 px a second at 5 fps, one height per second.
            let blobs = paint_blobs(&frame_with(&[[4 + 2 * t, 10, 8 + 2 * t, 20], [50, 5, 54, 15]], colour), colour, (64, 36));
            last = tracks.push(3, blobs);
        }
        // Blobs come in row-major order of their first pixel: the still one (top at y 5) first.
        assert_eq!(last.iter().map(|r| r.track).collect::<Vec<_>>(), vec![0, 1], "both blobs keep their first tracks");
        assert_eq!(last[1].features.len(), ROW_WIDTH);
        assert!((last[1].features[0] - 1.0).abs() < 1e-6, "speed over 1 s: {}", last[1].features[0]);
        assert_eq!(last[0].features[0], 0.0);
        // A new camera starts its own tracks.
        assert_eq!(tracks.push(4, paint_blobs(&frame_with(&[[4, 10, 8, 20]], colour), colour, (64, 36)))[0].track, 0);
    }

    #[test]
    fn the_same_frames_give_the_same_rows() {
        let colour = [0, 160, 230];
        let run = || {
            let mut tracks = PersonTracks::default();
            (0..6u32).flat_map(|t| tracks.push(0, paint_blobs(&frame_with(&[[t, 3, t + 5, 20], [20 - t, 4, 26 - t, 22]], colour), colour, (64, 36)))).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
