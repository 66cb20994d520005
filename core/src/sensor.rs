//! What a real camera does to the image after the optics: its own privacy masks, then lower
//! resolution, motion blur, sensor noise and JPEG compression (a scenario's per-camera
//! `privacy_masks` and `degradation`). Applied to the rendered frame before the pipeline sees
//! it — by the live simulation and by a frame store's replay alike, so both give the same
//! bytes; the ground truth is untouched.

use crate::frame::RgbaImage;
use crate::rng::{Purpose, StreamRng};
use crate::scenario::{CameraSpec, Degradation};

/// The frame as it leaves camera `index` (spec `camera`) on `tick` of a run seeded `seed`: the
/// camera's privacy masks blacked out, then its degradations applied.
///
/// # Errors
/// A JPEG round trip that fails (see [`degrade`]).
pub fn camera_output(mut rgba: RgbaImage, camera: &CameraSpec, seed: u64, tick: u64, index: u16) -> Result<RgbaImage, String> {
    let width = rgba.width;
    for &rect in &camera.privacy_masks {
        let [x0, y0, x1, y1] = privacy_mask_px(rect, width, rgba.height);
        for y in y0..y1 {
            rgba.pixels[((y * width + x0) * 4) as usize..((y * width + x1) * 4) as usize].chunks_exact_mut(4).for_each(|p| p.copy_from_slice(&[0, 0, 0, 255]));
        }
    }
    if camera.degradation.is_none() {
        return Ok(rgba);
    }
    degrade(&rgba, &camera.degradation, seed, tick, index)
}

/// A privacy mask (fractions u0, v0, u1, v1 of the frame) as pixel bounds [x0, y0, x1, y1)
/// of a `width` × `height` frame.
pub fn privacy_mask_px(rect: (f32, f32, f32, f32), width: u32, height: u32) -> [u32; 4] {
    let (u0, v0, u1, v1) = rect;
    let at = |f: f32, size: u32| ((f.clamp(0.0, 1.0) * size as f32).round() as u32).min(size);
    [at(u0, width), at(v0, height), at(u1, width), at(v1, height)]
}

/// Applies every degradation in order: resolution, blur, noise, compression. Deterministic:
/// the noise is drawn from the stream keyed by (seed, tick × 65536 + camera).
pub fn degrade(image: &RgbaImage, degradation: &Degradation, seed: u64, tick: u64, camera: u16) -> Result<RgbaImage, String> {
    let mut out = image.clone();
    if degradation.downscale > 1 {
        out = lower_resolution(&out, degradation.downscale);
    }
    if degradation.motion_blur_px > 1 {
        out = motion_blur(&out, degradation.motion_blur_px);
    }
    if degradation.noise_sigma > 0.0 {
        let mut rng = StreamRng::new(seed, tick.wrapping_mul(65_536) + camera as u64, Purpose::Sensor);
        add_noise(&mut out, degradation.noise_sigma, &mut rng);
    }
    if let Some(quality) = degradation.jpeg_quality {
        out = jpeg_round_trip(&out, quality)?;
    }
    Ok(out)
}

/// Averages `factor` × `factor` blocks and spreads each average back over its block (what a
/// sensor with fewer, larger pixels would deliver, at the same frame size).
pub fn lower_resolution(image: &RgbaImage, factor: u32) -> RgbaImage {
    let (w, h) = (image.width, image.height);
    let mut out = image.clone();
    for by in (0..h).step_by(factor as usize) {
        for bx in (0..w).step_by(factor as usize) {
            let (x1, y1) = ((bx + factor).min(w), (by + factor).min(h));
            let mut sum = [0u32; 4];
            for y in by..y1 {
                for x in bx..x1 {
                    let i = ((y * w + x) * 4) as usize;
                    for c in 0..4 {
                        sum[c] += image.pixels[i + c] as u32;
                    }
                }
            }
            let n = (x1 - bx) * (y1 - by);
            let mean = sum.map(|s| ((s + n / 2) / n) as u8);
            for y in by..y1 {
                for x in bx..x1 {
                    let i = ((y * w + x) * 4) as usize;
                    out.pixels[i..i + 4].copy_from_slice(&mean);
                }
            }
        }
    }
    out
}

/// A horizontal box blur over `length` pixels (a camera panning or shaking sideways).
pub fn motion_blur(image: &RgbaImage, length: u32) -> RgbaImage {
    let (w, h) = (image.width as i64, image.height as i64);
    let half = length as i64 / 2;
    let mut out = image.clone();
    for y in 0..h {
        for x in 0..w {
            let mut sum = [0u32; 3];
            let mut n = 0;
            for dx in -half..(length as i64 - half) {
                let sx = (x + dx).clamp(0, w - 1);
                let i = ((y * w + sx) * 4) as usize;
                for c in 0..3 {
                    sum[c] += image.pixels[i + c] as u32;
                }
                n += 1;
            }
            let i = ((y * w + x) * 4) as usize;
            for c in 0..3 {
                out.pixels[i + c] = ((sum[c] + n / 2) / n) as u8;
            }
        }
    }
    out
}

/// Adds Gaussian noise of standard deviation `sigma` (8-bit levels) to every colour channel.
pub fn add_noise(image: &mut RgbaImage, sigma: f32, rng: &mut StreamRng) {
    for pixel in image.pixels.chunks_exact_mut(4) {
        for c in pixel.iter_mut().take(3) {
            *c = (*c as f32 + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Encodes as baseline JPEG at `quality` and decodes again.
pub fn jpeg_round_trip(image: &RgbaImage, quality: u8) -> Result<RgbaImage, String> {
    let rgb: Vec<u8> = image.pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut encoded = Vec::new();
    jpeg_encoder::Encoder::new(&mut encoded, quality)
        .encode(&rgb, image.width as u16, image.height as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| format!("JPEG encoding: {e}"))?;
    let mut decoder = jpeg_decoder::Decoder::new(encoded.as_slice());
    let decoded = decoder.decode().map_err(|e| format!("JPEG decoding: {e}"))?;
    if decoded.len() != rgb.len() {
        return Err(format!("JPEG decoding gave {} bytes for a {}×{} RGB image", decoded.len(), image.width, image.height));
    }
    let pixels = decoded.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    Ok(RgbaImage { width: image.width, height: image.height, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkerboard() -> RgbaImage {
        let (width, height) = (64, 48);
        let pixels = (0..width * height).flat_map(|i| if (i % width / 4 + i / width / 4) % 2 == 0 { [230, 230, 230, 255] } else { [20, 20, 20, 255] }).collect();
        RgbaImage { width, height, pixels }
    }

    fn contrast(image: &RgbaImage) -> f64 {
        let mean = image.pixels.iter().step_by(4).map(|&v| v as f64).sum::<f64>() / (image.pixels.len() / 4) as f64;
        (image.pixels.iter().step_by(4).map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (image.pixels.len() / 4) as f64).sqrt()
    }

    #[test]
    fn each_degradation_changes_the_image_as_it_should_and_noise_is_reproducible() {
        let image = checkerboard();
        assert_eq!(degrade(&image, &Degradation::default(), 1, 0, 0).unwrap(), image, "no degradation: untouched");
        assert!(contrast(&lower_resolution(&image, 8)) < 0.2 * contrast(&image), "8 px blocks average out 4 px squares");
        assert_eq!(lower_resolution(&image, 4), image, "aligned 4 px blocks keep 4 px squares");
        assert!(contrast(&motion_blur(&image, 8)) < 0.8 * contrast(&image));
        let noisy = |tick| degrade(&image, &Degradation { noise_sigma: 10.0, ..Default::default() }, 1, tick, 0).unwrap();
        assert_eq!(noisy(3), noisy(3));
        assert_ne!(noisy(3), noisy(4));
        let jpeg = jpeg_round_trip(&image, 30).unwrap();
        let error: f64 = jpeg.pixels.iter().zip(&image.pixels).map(|(&a, &b)| (a as f64 - b as f64).abs()).sum::<f64>() / image.pixels.len() as f64;
        assert!(error > 0.5 && error < 40.0, "lossy but close: {error}");
    }
}
