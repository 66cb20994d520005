//! PNG images of synthetic frames: contact sheets of raw | ground-truth overlay | masked.
//! These are evaluation artefacts of synthetic frames, never the deployment's storage.

use crowdtwin_core::frame::{IdMask, RgbaImage};
use crowdtwin_core::ids::GroundTruthId;

/// Encodes an RGBA image as PNG.
pub fn png_bytes(image: &RgbaImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&image.pixels).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Decodes an 8-bit RGB or RGBA PNG.
pub fn decode_png(bytes: &[u8]) -> Result<RgbaImage, String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader.next_frame(&mut buffer).map_err(|e| e.to_string())?;
    if info.bit_depth != png::BitDepth::Eight {
        return Err(format!("only 8-bit PNGs are read, this one is {:?}", info.bit_depth));
    }
    let data = &buffer[..info.buffer_size()];
    let pixels = match info.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        other => return Err(format!("unsupported PNG colour type {other:?}")),
    };
    Ok(RgbaImage { width: info.width, height: info.height, pixels })
}

/// A distinct, stable colour per person id for overlays.
fn person_colour(person: u32) -> [u8; 3] {
    let h = person.wrapping_mul(2_654_435_761);
    [64 + (h & 0x7f) as u8, 64 + ((h >> 8) & 0x7f) as u8, 64 + ((h >> 16) & 0x7f) as u8]
}

/// The raw frame with every ground-truth person tinted in its own colour.
pub fn ground_truth_overlay(raw: &RgbaImage, id_mask: &IdMask) -> RgbaImage {
    let mut out = raw.clone();
    for (i, &id) in id_mask.ids.iter().enumerate() {
        let tint = match GroundTruthId::decode(id) {
            GroundTruthId::Person(p) => person_colour(p),
            GroundTruthId::Screen(_) => [255, 0, 255],
            GroundTruthId::Plate(_) => [255, 255, 0],
            _ => continue,
        };
        for c in 0..3 {
            out.pixels[i * 4 + c] = ((out.pixels[i * 4 + c] as u16 + 2 * tint[c] as u16) / 3) as u8;
        }
    }
    out
}

/// Draws the outline of `roi` (`[x0, y0, x1, y1]`, pixels) on an image, `thickness` pixels
/// wide, clipped to the image: how an alert's region of interest is highlighted.
pub fn outline_box(image: &mut RgbaImage, roi: [f32; 4], colour: [u8; 3], thickness: u32) {
    let (w, h) = (image.width as i64, image.height as i64);
    let clamp = |v: f32, max: i64| (v.round() as i64).clamp(0, max - 1);
    let (x0, y0, x1, y1) = (clamp(roi[0], w), clamp(roi[1], h), clamp(roi[2] - 1.0, w), clamp(roi[3] - 1.0, h));
    let t = thickness as i64;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let edge = x - x0 < t || x1 - x < t || y - y0 < t || y1 - y < t;
            if edge {
                image.set_rgb(x as u32, y as u32, colour);
            }
        }
    }
}

/// Stacks rows of equally sized images into one sheet with a gap between tiles.
pub fn contact_sheet(rows: &[Vec<RgbaImage>]) -> RgbaImage {
    let gap = 6;
    let (tile_w, tile_h) = rows.first().and_then(|r| r.first()).map_or((1, 1), |i| (i.width, i.height));
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(1) as u32;
    let width = cols * tile_w + (cols + 1) * gap;
    let height = rows.len() as u32 * tile_h + (rows.len() as u32 + 1) * gap;
    let mut sheet = RgbaImage::new(width, height);
    sheet.pixels.chunks_exact_mut(4).for_each(|p| p.copy_from_slice(&[250, 250, 250, 255]));
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            let (x0, y0) = (gap + c as u32 * (tile_w + gap), gap + r as u32 * (tile_h + gap));
            for y in 0..tile.height.min(tile_h) {
                let src = (y * tile.width * 4) as usize;
                let dst = (((y0 + y) * width + x0) * 4) as usize;
                let len = (tile.width.min(tile_w) * 4) as usize;
                sheet.pixels[dst..dst + len].copy_from_slice(&tile.pixels[src..src + len]);
            }
        }
    }
    sheet
}

/// Standard base64 (for inlining images in HTML).
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn png_round_trips() {
        let mut image = RgbaImage::new(3, 2);
        image.set_rgb(1, 1, [9, 8, 7]);
        assert_eq!(decode_png(&png_bytes(&image).unwrap()).unwrap(), image);
    }
}
