//! Pre-processing shared by every image model: resampling, fitting to the input size
//! (stretch or letterbox), channel order, layout and normalisation, as a manifest states.

use crate::manifest::{ChannelOrder, InputSpec, Layout, Resize};
use crowdtwin_core::frame::RgbaImage;
use ndarray::Array4;

/// How an image was fitted into the model input: input = image × scale + pad (per axis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Horizontal scale.
    pub scale_x: f32,
    /// Vertical scale.
    pub scale_y: f32,
    /// Left padding in input pixels.
    pub pad_x: f32,
    /// Top padding in input pixels.
    pub pad_y: f32,
}

/// Fills the input tensor from an image: resample (triangle filter, antialiased like PIL's
/// bilinear), place (letterbox: centred on the manifest's `pad_value`, black by default),
/// reorder channels, normalise.
pub fn fill_input(image: &RgbaImage, input: &InputSpec, (in_w, in_h): (usize, usize)) -> (Array4<f32>, Fit) {
    let (fw, fh) = (image.width as usize, image.height as usize);
    let (used_w, used_h, fit) = if (fw, fh) == (in_w, in_h) {
        (in_w, in_h, Fit { scale_x: 1.0, scale_y: 1.0, pad_x: 0.0, pad_y: 0.0 })
    } else {
        match input.resize {
            Resize::Stretch => (in_w, in_h, Fit { scale_x: in_w as f32 / fw as f32, scale_y: in_h as f32 / fh as f32, pad_x: 0.0, pad_y: 0.0 }),
            Resize::Letterbox => {
                let r = (in_w as f32 / fw as f32).min(in_h as f32 / fh as f32);
                let (nw, nh) = (((fw as f32 * r).round() as usize).clamp(1, in_w), ((fh as f32 * r).round() as usize).clamp(1, in_h));
                let (px, py) = ((in_w - nw) / 2, (in_h - nh) / 2);
                // The exact scales of the resampled size (r rounded to whole pixels).
                (nw, nh, Fit { scale_x: nw as f32 / fw as f32, scale_y: nh as f32 / fh as f32, pad_x: px as f32, pad_y: py as f32 })
            }
            Resize::CentreCrop => {
                let r = (in_w as f32 / fw as f32).max(in_h as f32 / fh as f32);
                let (nw, nh) = (((fw as f32 * r).round() as usize).max(in_w), ((fh as f32 * r).round() as usize).max(in_h));
                // A negative padding: the resampled image's left and top margins are cut off.
                let (cx, cy) = ((nw - in_w) / 2, (nh - in_h) / 2);
                (nw, nh, Fit { scale_x: nw as f32 / fw as f32, scale_y: nh as f32 / fh as f32, pad_x: -(cx as f32), pad_y: -(cy as f32) })
            }
        }
    };
    let resampled = resample(image, used_w, used_h);
    let shape = match input.layout {
        Layout::Nchw => [1, 3, in_h, in_w],
        Layout::Nhwc => [1, in_h, in_w, 3],
    };
    let mut tensor = Array4::<f32>::zeros(shape);
    let channels: [usize; 3] = match input.channel_order {
        ChannelOrder::Rgb => [0, 1, 2],
        ChannelOrder::Bgr => [2, 1, 0],
    };
    let (px, py) = (fit.pad_x as i64, fit.pad_y as i64);
    for y in 0..in_h {
        for x in 0..in_w {
            // (sx, sy): the resampled image's pixel here; outside it the padding value, then normalised.
            let (sx, sy) = (x as i64 - px, y as i64 - py);
            let inside = (0..used_w as i64).contains(&sx) && (0..used_h as i64).contains(&sy);
            for (c, &source) in channels.iter().enumerate() {
                let pixel = if inside { resampled[(sy as usize * used_w + sx as usize) * 3 + source] } else { input.pad_value as f32 };
                let value = (pixel - input.mean[c]) / input.std[c];
                match input.layout {
                    Layout::Nchw => tensor[[0, c, y, x]] = value,
                    Layout::Nhwc => tensor[[0, y, x, c]] = value,
                }
            }
        }
    }
    (tensor, fit)
}

/// Resizes an image with the same filter the models' pre-processing uses (stretching it to
/// `width × height`), rounded to 8 bits: what a dataset stores for training.
pub fn resize(image: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    let rgb = resample(image, width as usize, height as usize);
    let mut out = RgbaImage::new(width, height);
    for (pixel, value) in out.pixels.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
        for c in 0..3 {
            pixel[c] = value[c].round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Separable resampling with a triangle filter whose support widens when shrinking (like PIL's
/// `BILINEAR`), so downscaled frames are not aliased. Returns RGB floats, row-major.
fn resample(frame: &RgbaImage, out_w: usize, out_h: usize) -> Vec<f32> {
    let (in_w, in_h) = (frame.width as usize, frame.height as usize);
    let weights = |in_len: usize, out_len: usize| -> Vec<(usize, Vec<f32>)> {
        let scale = in_len as f32 / out_len as f32;
        let support = scale.max(1.0);
        (0..out_len)
            .map(|o| {
                let centre = (o as f32 + 0.5) * scale;
                let first = ((centre - support).floor().max(0.0)) as usize;
                let last = ((centre + support).ceil() as usize).min(in_len);
                let mut w: Vec<f32> = (first..last).map(|i| (1.0 - ((i as f32 + 0.5 - centre) / support).abs()).max(0.0)).collect();
                let total: f32 = w.iter().sum();
                w.iter_mut().for_each(|v| *v /= total.max(1e-12));
                (first, w)
            })
            .collect()
    };
    let (wx, wy) = (weights(in_w, out_w), weights(in_h, out_h));
    // Horizontal pass.
    let mut rows = vec![0f32; in_h * out_w * 3];
    for y in 0..in_h {
        for (x, (first, w)) in wx.iter().enumerate() {
            let mut acc = [0f32; 3];
            for (k, weight) in w.iter().enumerate() {
                let i = (y * in_w + first + k) * 4;
                for c in 0..3 {
                    acc[c] += weight * frame.pixels[i + c] as f32;
                }
            }
            rows[(y * out_w + x) * 3..(y * out_w + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
    // Vertical pass.
    let mut out = vec![0f32; out_h * out_w * 3];
    for (y, (first, w)) in wy.iter().enumerate() {
        for x in 0..out_w {
            let mut acc = [0f32; 3];
            for (k, weight) in w.iter().enumerate() {
                let i = ((first + k) * out_w + x) * 3;
                for c in 0..3 {
                    acc[c] += weight * rows[i + c];
                }
            }
            out[(y * out_w + x) * 3..(y * out_w + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
    out
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_centre_crop_keeps_the_middle_at_the_scale_that_covers_the_input() {
        // 8 × 4, each column its own grey: cropping to 4 × 4 keeps columns 2 to 5 unscaled.
        let mut image = RgbaImage::new(8, 4);
        for (i, pixel) in image.pixels.chunks_exact_mut(4).enumerate() {
            let v = 10 * (i % 8) as u8;
            pixel.copy_from_slice(&[v, v, v, 255]);
        }
        let input = InputSpec {
            name: "x".into(),
            layout: Layout::Nchw,
            shape: vec![1, 3, 4, 4],
            channel_order: ChannelOrder::Rgb,
            resize: Resize::CentreCrop,
            mean: vec![0.0; 3],
            std: vec![1.0; 3],
            pad_value: 0,
        };
        let (tensor, fit) = fill_input(&image, &input, (4, 4));
        assert_eq!(fit, Fit { scale_x: 1.0, scale_y: 1.0, pad_x: -2.0, pad_y: 0.0 });
        let row: Vec<f32> = (0..4).map(|x| tensor[[0, 0, 1, x]]).collect();
        assert_eq!(row, vec![20.0, 30.0, 40.0, 50.0]);
        // 16 × 8 into 4 × 4: halved to 8 × 4 (each output a 1:3:3:1 blend of four columns), columns 2 to 5 kept.
        let mut wide = RgbaImage::new(16, 8);
        for (i, pixel) in wide.pixels.chunks_exact_mut(4).enumerate() {
            let v = 10 * (i % 16) as u8;
            pixel.copy_from_slice(&[v, v, v, 255]);
        }
        let (tensor, fit) = fill_input(&wide, &input, (4, 4));
        assert_eq!(fit, Fit { scale_x: 0.5, scale_y: 0.5, pad_x: -2.0, pad_y: 0.0 });
        let row: Vec<f32> = (0..4).map(|x| tensor[[0, 0, 1, x]]).collect();
        assert!(row.iter().zip([45.0, 65.0, 85.0, 105.0]).all(|(a, b)| (a - b).abs() < 1e-3), "{row:?}");
    }
}
