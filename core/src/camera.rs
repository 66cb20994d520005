//! The pinhole camera model shared by the renderer, the ground truth and the evaluation.
//!
//! Conventions are those of [`crate::scenario`]: x east, y up, z south; yaw clockwise from
//! north; pitch below the horizon. Image coordinates are continuous pixels with (0, 0) at the
//! top-left corner of the top-left pixel, so pixel (i, j) has its centre at (i + 0.5, j + 0.5).

use crate::scenario::{CameraSpec, Scenario};

/// Nearest depth (metres) at which a point is considered in front of the camera.
pub const NEAR_M: f32 = 0.05;

/// A camera's pose and intrinsics at one resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraModel {
    /// Optical centre in world coordinates.
    pub position: [f32; 3],
    /// Unit vector of the image's +x axis in the world.
    pub right: [f32; 3],
    /// Unit vector of the image's up direction (−y in pixels) in the world.
    pub up: [f32; 3],
    /// Unit vector along the optical axis.
    pub forward: [f32; 3],
    /// Focal length in pixels (square pixels).
    pub focal_px: f32,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Each camera of `scenario`, by id, with its model at the render resolution (what the pipeline
/// sees: masks, anomaly regions and alert regions are in render pixels).
pub fn render_models(scenario: &Scenario) -> Vec<(String, CameraModel)> {
    scenario.cameras.iter().map(|c| (c.id.clone(), CameraModel::new(c, c.render_resolution))).collect()
}

impl CameraModel {
    /// The model of `spec` at `resolution` (the sensor's or the render's).
    pub fn new(spec: &CameraSpec, resolution: (u32, u32)) -> Self {
        let (yaw, pitch) = (spec.yaw_deg.to_radians(), spec.pitch_deg.to_radians());
        let (sy, cy, sp, cp) = (yaw.sin(), yaw.cos(), pitch.sin(), pitch.cos());
        let focal_px = resolution.0 as f32 * 0.5 / (spec.hfov_deg.to_radians() * 0.5).tan();
        CameraModel {
            position: [spec.position.0, spec.position.1, spec.position.2],
            right: [cy, 0.0, sy],
            up: [sp * sy, cp, -sp * cy],
            forward: [cp * sy, -sp, -cp * cy],
            focal_px,
            width: resolution.0,
            height: resolution.1,
        }
    }

    /// Vertical field of view in radians.
    pub fn vfov_rad(&self) -> f32 {
        2.0 * (self.height as f32 * 0.5 / self.focal_px).atan()
    }

    /// Coordinates of a world point in the camera frame: (right, up, depth along the axis).
    pub fn to_camera(&self, point: [f32; 3]) -> [f32; 3] {
        let d = [point[0] - self.position[0], point[1] - self.position[1], point[2] - self.position[2]];
        [dot(d, self.right), dot(d, self.up), dot(d, self.forward)]
    }

    /// Projects a world point to continuous pixel coordinates and depth; `None` behind the camera.
    pub fn project(&self, point: [f32; 3]) -> Option<[f32; 3]> {
        let [x, y, depth] = self.to_camera(point);
        if depth < NEAR_M {
            return None;
        }
        Some([
            self.width as f32 * 0.5 + self.focal_px * x / depth,
            self.height as f32 * 0.5 - self.focal_px * y / depth,
            depth,
        ])
    }

    /// Pixels per metre on a plane facing the camera at `point` (at this model's resolution).
    pub fn pixels_per_metre(&self, point: [f32; 3]) -> f32 {
        let depth = self.to_camera(point)[2];
        if depth < NEAR_M { 0.0 } else { self.focal_px / depth }
    }

    /// World direction (unit) of the ray through continuous pixel coordinates (u, v).
    pub fn ray(&self, u: f32, v: f32) -> [f32; 3] {
        let x = (u - self.width as f32 * 0.5) / self.focal_px;
        let y = (self.height as f32 * 0.5 - v) / self.focal_px;
        let d = [
            self.forward[0] + x * self.right[0] + y * self.up[0],
            self.forward[1] + x * self.right[1] + y * self.up[1],
            self.forward[2] + x * self.right[2] + y * self.up[2],
        ];
        let n = dot(d, d).sqrt();
        [d[0] / n, d[1] / n, d[2] / n]
    }

    /// Where the ray through pixel (u, v) meets the ground plane (y = 0), as site (x, z);
    /// `None` when the ray points at or above the horizon.
    pub fn ground_point(&self, u: f32, v: f32) -> Option<[f32; 2]> {
        let ray = self.ray(u, v);
        if ray[1] >= -1e-6 {
            return None;
        }
        let t = -self.position[1] / ray[1];
        Some([self.position[0] + t * ray[0], self.position[2] + t * ray[2]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ground_point_projects_back_to_its_pixel() {
        let model = CameraModel::new(&spec(30.0, 25.0), (640, 360));
        let [u, v, _] = model.project([3.0, 0.0, -12.0]).expect("in front");
        let [x, z] = model.ground_point(u, v).expect("below the horizon");
        assert!((x - 3.0).abs() < 1e-3 && (z + 12.0).abs() < 1e-3, "({x}, {z})");
        assert_eq!(model.ground_point(320.0, -1000.0), None, "above the horizon");
    }

    fn spec(yaw: f32, pitch: f32) -> CameraSpec {
        CameraSpec {
            id: "c".into(),
            position: (0.0, 5.0, 0.0),
            yaw_deg: yaw,
            pitch_deg: pitch,
            hfov_deg: 90.0,
            sensor_resolution: (1920, 1080),
            render_resolution: (640, 360),
            fps: 5,
            degradation: Default::default(),
            privacy_masks: Vec::new(),
        }
    }

    #[test]
    fn yaw_follows_the_compass() {
        let north = CameraModel::new(&spec(0.0, 0.0), (640, 360));
        assert!((north.forward[2] + 1.0).abs() < 1e-6, "yaw 0 looks north (-z)");
        let east = CameraModel::new(&spec(90.0, 0.0), (640, 360));
        assert!((east.forward[0] - 1.0).abs() < 1e-6, "yaw 90 looks east (+x)");
        let down = CameraModel::new(&spec(0.0, 30.0), (640, 360));
        assert!(down.forward[1] < -0.49, "positive pitch looks down");
    }

    #[test]
    fn projection_hits_the_image_centre_and_edges() {
        let cam = CameraModel::new(&spec(0.0, 0.0), (640, 360));
        let centre = cam.project([0.0, 5.0, -10.0]).unwrap();
        assert!((centre[0] - 320.0).abs() < 1e-3 && (centre[1] - 180.0).abs() < 1e-3);
        // 90° hfov: a point 10 m ahead and 10 m to the right is on the right edge.
        let edge = cam.project([10.0, 5.0, -10.0]).unwrap();
        assert!((edge[0] - 640.0).abs() < 1e-3);
        assert!(cam.project([0.0, 5.0, 10.0]).is_none(), "behind the camera");
        let ray = cam.ray(edge[0], edge[1]);
        assert!((ray[0] - ray[2].abs()).abs() < 1e-5);
        assert!((cam.pixels_per_metre([0.0, 5.0, -10.0]) - 32.0).abs() < 1e-3);
    }
}
