//! The top-down map of a laid-out site (`crowdtwin check`): surfaces, buildings, furniture,
//! lamps, crossings and points of interest, as a PNG (plotters' bitmap backend), so a planner
//! can see what an import made of their place before simulating it.

use crowdtwin_core::scenario::CameraSpec;
use crowdtwin_core::site::{ObstacleKind, PoiKind, SiteLayout, Surface};

/// sRGB colour of each surface on the map.
pub fn surface_colour(surface: Surface) -> [u8; 3] {
    match surface {
        Surface::Off => [236, 233, 226],
        Surface::Walkway => [250, 226, 170],
        Surface::Carriageway => [110, 112, 118],
        Surface::CrossingRamps => [255, 255, 255],
        Surface::Crossing => [200, 200, 255],
        Surface::Steps => [214, 150, 90],
        Surface::Building => [170, 160, 150],
        Surface::Green => [170, 210, 150],
        Surface::Furniture => [250, 226, 170],
    }
}

/// The map, at most `max_px` pixels on its longer side: each pixel coloured by the surface at
/// its centre, building footprints outlined, trees (green), benches (brown), shelters (blue),
/// lamps (yellow), entrances (red crosses), open spots people gather at (black crosses), and each
/// camera a black triangle with its heading drawn 20 m out. North is up.
///
/// # Errors
/// Drawing or PNG encoding failed.
pub fn site_png(layout: &SiteLayout, cameras: &[CameraSpec], max_px: u32) -> Result<Vec<u8>, String> {
    use plotters::prelude::*;
    let [x0, z0, x1, z1] = layout.extent();
    let scale = max_px as f32 / (x1 - x0).max(z1 - z0).max(1.0);
    let (width, height) = (((x1 - x0) * scale).ceil() as u32 + 2, ((z1 - z0) * scale).ceil() as u32 + 2);
    let mut buffer = vec![255u8; (width * height * 3) as usize];
    for j in 0..height {
        for i in 0..width {
            let (x, z) = (x0 + (i as f32 + 0.5) / scale, z0 + (j as f32 + 0.5) / scale);
            let k = ((j * width + i) * 3) as usize;
            buffer[k..k + 3].copy_from_slice(&surface_colour(layout.surface(x, z)));
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        let px = |x: f32, z: f32| (((x - x0) * scale) as i32, ((z - z0) * scale) as i32);
        let fail = |e: DrawingAreaErrorKind<_>| e.to_string();
        for obstacle in &layout.obstacles {
            let b = obstacle.bounds;
            let colour = match obstacle.kind {
                ObstacleKind::Building => RGBColor(170, 160, 150),
                ObstacleKind::Bench => RGBColor(140, 90, 40),
                ObstacleKind::Shelter => RGBColor(60, 110, 200),
                ObstacleKind::Tree => RGBColor(40, 130, 50),
            };
            if obstacle.kind == ObstacleKind::Tree {
                root.draw(&Circle::new(px(0.5 * (b.min[0] + b.max[0]), 0.5 * (b.min[2] + b.max[2])), (1.5 * scale).max(2.0) as i32, colour.filled())).map_err(fail)?;
            } else {
                root.draw(&Rectangle::new([px(b.min[0], b.min[2]), px(b.max[0], b.max[2])], colour.filled())).map_err(fail)?;
            }
        }
        for footprint in &layout.footprints {
            let mut ring: Vec<(i32, i32)> = footprint.ring.iter().map(|p| px(p[0], p[1])).collect();
            ring.push(ring[0]);
            root.draw(&PathElement::new(ring, RGBColor(90, 80, 70).stroke_width(1))).map_err(fail)?;
        }
        for lamp in &layout.lamps {
            root.draw(&Circle::new(px(lamp[0], lamp[1]), 2, RGBColor(230, 190, 0).filled())).map_err(fail)?;
        }
        for poi in &layout.points_of_interest {
            let colour = match poi.kind {
                PoiKind::Entrance => RGBColor(210, 30, 30),
                PoiKind::PlazaSpot => BLACK,
                PoiKind::Bench => RGBColor(140, 90, 40),
                PoiKind::TransitStop => RGBColor(60, 110, 200),
            };
            root.draw(&Cross::new(px(poi.position[0], poi.position[1]), 3, colour.stroke_width(1))).map_err(fail)?;
        }
        for camera in cameras {
            let (x, _, z) = camera.position;
            let yaw = camera.yaw_deg.to_radians();
            let ahead = (x + 20.0 * yaw.sin(), z - 20.0 * yaw.cos());
            root.draw(&PathElement::new(vec![px(x, z), px(ahead.0, ahead.1)], BLACK.stroke_width(2))).map_err(fail)?;
            root.draw(&TriangleMarker::new(px(x, z), 7, BLACK.filled())).map_err(fail)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for rgb in buffer.chunks_exact(3) {
        pixels.extend([rgb[0], rgb[1], rgb[2], 255]);
    }
    crate::images::png_bytes(&crowdtwin_core::frame::RgbaImage { width, height, pixels })
}
