//! Masking styles besides the solid silhouette, as LA3D compares them (Asres, Jiao & Omlin,
//! "Low-latency video anonymization for crowd anomaly detection: privacy vs. performance", IEEE
//! TIFS 2025, arXiv 2410.18717): Gaussian blur and pixelation with a strength that adapts to the
//! person's size, and Canny edge maps. Each style rewrites only the pixels of one person's mask
//! region, from the raw frame, within the region's bounding box.
//!
//! **Size-adaptive strength** (LA3D's bounded adaptive anonymization, log scaler): a person whose
//! region covers `s` % of the frame (`s` = ⌊100 × region pixels ÷ frame pixels⌋, at least 1) gets
//! the factor `r = α_m · max(ln s, 1)` with α_m = 1. The blur kernel side is
//! `k = min(⌊r · 13⌋, ⌊α_d · box side⌋)` per axis (α_d = ½, at least 1, made odd by subtracting 1),
//! its σ = 0.3 ((k − 1)/2 − 1) + 0.8 (OpenCV's rule for a kernel given without σ); the pixel block
//! side is `b = min(⌊r · 4⌋, ⌊α_d · box side⌋)` per axis (at least 1). Edges are Canny's with
//! LA3D's thresholds 100 and 200 on the luma, with no size adaptation (LA3D has none).

use crate::silhouette::RegionMask;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::scenario::MaskStyle;
use image::{GrayImage, Luma, Rgb, RgbImage};

/// LA3D's base blur kernel side, pixels.
pub const BLUR_KERNEL: f32 = 13.0;
/// LA3D's base pixel block side, pixels.
pub const PIXEL_BLOCK: f32 = 4.0;
/// LA3D's α_d: the strength is capped at this share of the region's box side.
pub const DIM_SCALE: f32 = 0.5;
/// LA3D's Canny thresholds.
pub const CANNY_THRESHOLDS: (f32, f32) = (100.0, 200.0);

/// LA3D's adaptive factor `r` for a region of `pixels` in a frame of `frame_px`.
pub fn adaptive_factor(pixels: usize, frame_px: usize) -> f32 {
    let share = ((100 * pixels) / frame_px.max(1)).max(1) as f32;
    share.ln().max(1.0)
}

/// The blur kernel side for one axis of a box `side` pixels long, at factor `r`.
pub fn blur_kernel(r: f32, side: u32) -> u32 {
    let k = ((r * BLUR_KERNEL) as u32).min(((DIM_SCALE * side as f32) as u32).max(1));
    if k % 2 == 0 { k.saturating_sub(1).max(1) } else { k }
}

/// The pixel block side for one axis of a box `side` pixels long, at factor `r`.
pub fn pixel_block(r: f32, side: u32) -> u32 {
    ((r * PIXEL_BLOCK) as u32).min(((DIM_SCALE * side as f32) as u32).max(1)).max(1)
}

/// OpenCV's Gaussian kernel of side `k` with σ from `k` (`getGaussianKernel(k, 0)`).
fn gaussian_kernel(k: u32) -> Vec<f32> {
    let sigma = 0.3 * ((k as f32 - 1.0) * 0.5 - 1.0) + 0.8;
    let centre = (k as f32 - 1.0) / 2.0;
    let weights: Vec<f32> = (0..k).map(|i| (-(i as f32 - centre).powi(2) / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = weights.iter().sum();
    weights.iter().map(|w| w / total).collect()
}

/// Renders one person's `region` of `frame` in `style` into `out` (the frame being masked).
/// `Solid` paints `colour`; the others rewrite the region from the raw frame.
pub fn render_region(frame: &RgbaImage, out: &mut RgbaImage, region: &RegionMask, style: MaskStyle, colour: [u8; 3]) {
    let (x0, y0, w, h) = (region.x0, region.y0, region.width, region.height);
    if w == 0 || h == 0 {
        return;
    }
    let crop = RgbImage::from_fn(w, h, |x, y| Rgb(frame.rgb(x0 + x, y0 + y)));
    let styled: Option<RgbImage> = match style {
        // Outlined regions are painted solid here; the masker, which knows the ring's width,
        // draws them with [`outline_region`].
        MaskStyle::Solid | MaskStyle::Outlined => None,
        // Unmasked: the region keeps its raw pixels.
        MaskStyle::None => Some(crop.clone()),
        MaskStyle::Blur => {
            let r = adaptive_factor(region.pixels.iter().filter(|p| **p).count(), (frame.width * frame.height) as usize);
            let (kx, ky) = (blur_kernel(r, w), blur_kernel(r, h));
            let across = imageproc::filter::horizontal_filter(&crop, &gaussian_kernel(kx));
            Some(imageproc::filter::vertical_filter(&across, &gaussian_kernel(ky)))
        }
        MaskStyle::Pixelate => {
            let r = adaptive_factor(region.pixels.iter().filter(|p| **p).count(), (frame.width * frame.height) as usize);
            let (bx, by) = (pixel_block(r, w), pixel_block(r, h));
            let mut blocks = crop.clone();
            for top in (0..h).step_by(by as usize) {
                for left in (0..w).step_by(bx as usize) {
                    let (right, bottom) = ((left + bx).min(w), (top + by).min(h));
                    let mut sum = [0u64; 3];
                    for y in top..bottom {
                        for x in left..right {
                            let p = crop.get_pixel(x, y);
                            (0..3).for_each(|c| sum[c] += p[c] as u64);
                        }
                    }
                    let n = ((right - left) * (bottom - top)) as u64;
                    let mean = Rgb([0, 1, 2].map(|c| ((sum[c] + n / 2) / n) as u8));
                    for y in top..bottom {
                        for x in left..right {
                            blocks.put_pixel(x, y, mean);
                        }
                    }
                }
            }
            Some(blocks)
        }
        MaskStyle::Edges => {
            let gray = GrayImage::from_fn(w, h, |x, y| {
                let [r, g, b] = crop.get_pixel(x, y).0;
                Luma([(0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32).round() as u8])
            });
            let edges = imageproc::edges::canny(&gray, CANNY_THRESHOLDS.0, CANNY_THRESHOLDS.1);
            Some(RgbImage::from_fn(w, h, |x, y| {
                let e = edges.get_pixel(x, y)[0];
                Rgb([e, e, e])
            }))
        }
    };
    for y in 0..h {
        for x in 0..w {
            if region.pixels[(y * w + x) as usize] {
                let rgb = styled.as_ref().map_or(colour, |s| s.get_pixel(x, y).0);
                out.set_rgb(x0 + x, y0 + y, rgb);
            }
        }
    }
}

/// Paints one person's `region` into `out` as [`MaskStyle::Outlined`] draws it: black where a
/// region pixel lies within `ring` pixels (the square's norm) of a pixel outside the region,
/// `colour` inside. Every region pixel is painted one or the other.
pub fn outline_region(out: &mut RgbaImage, region: &RegionMask, colour: [u8; 3], ring: u32) {
    let (w, h) = (region.width, region.height);
    if w == 0 || h == 0 {
        return;
    }
    // One pixel of background around the region's box, so its box edges count as outside.
    let padded = GrayImage::from_fn(w + 2, h + 2, |x, y| {
        let inside = (1..=w).contains(&x) && (1..=h).contains(&y) && region.pixels[((y - 1) * w + x - 1) as usize];
        Luma([if inside { 255 } else { 0 }])
    });
    let interior = imageproc::morphology::erode(&padded, imageproc::distance_transform::Norm::LInf, ring.clamp(1, 255) as u8);
    for y in 0..h {
        for x in 0..w {
            if region.pixels[(y * w + x) as usize] {
                let inner = interior.get_pixel(x + 1, y + 1).0[0] > 0;
                out.set_rgb(region.x0 + x, region.y0 + y, if inner { colour } else { [0, 0, 0] });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(width: u32, height: u32) -> RgbaImage {
        let mut frame = RgbaImage::new(width, height);
        for (i, p) in frame.pixels.chunks_exact_mut(4).enumerate() {
            let v = ((i * 7919) % 251) as u8;
            p.copy_from_slice(&[v, 255 - v, (v / 2).wrapping_add(60), 255]);
        }
        frame
    }

    fn region(x0: u32, y0: u32, width: u32, height: u32) -> RegionMask {
        RegionMask { x0, y0, width, height, pixels: vec![true; (width * height) as usize] }
    }

    #[test]
    fn the_strength_follows_la3d_formulas() {
        // 1 % of the frame: ln 1 < 1, so r = 1 — the base kernel 13 and block 4.
        assert_eq!(adaptive_factor(100, 10_000), 1.0);
        assert_eq!((blur_kernel(1.0, 200), pixel_block(1.0, 200)), (13, 4));
        // 25 %: r = ln 25 = 3.22 → kernel ⌊41.8⌋ = 41, block ⌊12.9⌋ = 12 …
        let r = adaptive_factor(2_500, 10_000);
        assert!((r - 25f32.ln()).abs() < 1e-6);
        assert_eq!((blur_kernel(r, 200), pixel_block(r, 200)), (41, 12));
        // … capped at half the box side, and odd for a kernel.
        assert_eq!((blur_kernel(r, 40), pixel_block(r, 40)), (19, 12));
        assert_eq!((blur_kernel(r, 2), pixel_block(r, 1)), (1, 1));
    }

    #[test]
    fn each_style_rewrites_only_the_region_and_hides_what_was_there() {
        let frame = noisy(64, 48);
        let inside = region(10, 8, 30, 30);
        for style in [MaskStyle::Solid, MaskStyle::Blur, MaskStyle::Pixelate, MaskStyle::Edges] {
            let mut out = frame.clone();
            render_region(&frame, &mut out, &inside, style, [0, 160, 230]);
            let changed = |x: u32, y: u32| out.rgb(x, y) != frame.rgb(x, y);
            assert!((0..64).all(|x| (0..48).all(|y| !changed(x, y) || (10..40).contains(&x) && (8..38).contains(&y))), "{style:?} leaks outside the region");
            let inside_changed = (10..40).flat_map(|x| (8..38).map(move |y| (x, y))).filter(|&(x, y)| changed(x, y)).count();
            assert!(inside_changed > 800, "{style:?} changed only {inside_changed} of 900 pixels");
        }
        // A region much wider than tall gets kernels of two sizes.
        let mut out = frame.clone();
        render_region(&frame, &mut out, &region(0, 0, 64, 20), MaskStyle::Blur, [0, 0, 0]);
        assert_ne!(out.rgb(30, 10), frame.rgb(30, 10));
        // Pixelation gives constant blocks; edges are black or white.
        let mut out = frame.clone();
        render_region(&frame, &mut out, &inside, MaskStyle::Pixelate, [0, 0, 0]);
        assert_eq!(out.rgb(10, 8), out.rgb(13, 11), "one 4×4 block");
        let mut out = frame.clone();
        render_region(&frame, &mut out, &inside, MaskStyle::Edges, [0, 0, 0]);
        assert!((10..40).all(|x| (8..38).all(|y| matches!(out.rgb(x, y), [0, 0, 0] | [255, 255, 255]))));
    }

    #[test]
    fn an_outline_hides_every_region_pixel_and_keeps_neighbours_apart() {
        let frame = noisy(40, 30);
        let mut out = frame.clone();
        let colour = [0, 160, 230];
        // Two boxes side by side, touching: the nearer (lower) one is drawn last.
        outline_region(&mut out, &region(5, 5, 10, 15), colour, 2);
        outline_region(&mut out, &region(15, 6, 10, 16), colour, 2);
        for y in 0..30 {
            for x in 0..40 {
                let inside = (5..15).contains(&x) && (5..20).contains(&y) || (15..25).contains(&x) && (6..22).contains(&y);
                let rgb = out.rgb(x, y);
                assert_eq!(inside, rgb == colour || rgb == [0, 0, 0], "pixel ({x}, {y}) {rgb:?}");
            }
        }
        // A 2 px ring: the outer two rows and columns are black, the rest is paint.
        assert_eq!((out.rgb(5, 5), out.rgb(6, 6), out.rgb(7, 7)), ([0, 0, 0], [0, 0, 0], colour));
        // Where the boxes touch, black separates their paint on every row.
        for y in 8..18 {
            assert!((12..18).any(|x| out.rgb(x, y) == [0, 0, 0]), "row {y} has no black between the boxes");
        }
    }
}
