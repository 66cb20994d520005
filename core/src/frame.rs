//! Frames and their ground truth, as the simulation hands them to the pipeline.
//!
//! The pipeline (`vision`) reads only [`Frame::rgba`]; the ground truth travels beside it to
//! the evaluation and never into a model.

/// An 8-bit sRGB RGBA image, rows top to bottom, no padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub pixels: Vec<u8>,
}

impl RgbaImage {
    /// A black, opaque image.
    pub fn new(width: u32, height: u32) -> Self {
        let mut pixels = vec![0u8; (width * height * 4) as usize];
        pixels.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        Self { width, height, pixels }
    }

    /// The RGB bytes of pixel (x, y).
    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Sets pixel (x, y) to an opaque RGB colour.
    pub fn set_rgb(&mut self, x: u32, y: u32, rgb: [u8; 3]) {
        let i = ((y * self.width + x) * 4) as usize;
        self.pixels[i..i + 3].copy_from_slice(&rgb);
        self.pixels[i + 3] = 255;
    }
}

/// The id mask of a frame: one ground-truth id (see [`crate::ids`]) per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` ids, rows top to bottom.
    pub ids: Vec<u32>,
}

/// Identifies a frame: the simulation tick and the camera's index in the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameKey {
    /// Simulation tick at which the frame was rendered.
    pub tick: u64,
    /// Index of the camera in the scenario's camera list.
    pub camera: u16,
}

/// Ground truth about one person in one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonInFrame {
    /// The person's id.
    pub person: u32,
    /// Pixels of the id mask that show this person (after occlusion).
    pub visible_px: u32,
    /// Pixels the person would cover alone in the frame (rasterised on the CPU, no occluders).
    pub unoccluded_px: u32,
    /// Bounding box of the unoccluded silhouette, `[x0, y0, x1, y1)` in pixels, clipped to the frame.
    pub unoccluded_box: [u32; 4],
    /// Height in pixels of the unoccluded silhouette within the frame (a person cut by the
    /// frame's edge counts by the part the camera can see).
    pub height_px: f32,
    /// Pixels per metre at the person's position, at the camera's *sensor* resolution.
    pub pixels_per_metre: f32,
    /// Distance from the camera along its axis, metres.
    pub depth_m: f32,
}

impl PersonInFrame {
    /// Visible fraction = visible ÷ unoccluded pixels (1 when fully in view, 0 when hidden).
    pub fn visible_fraction(&self) -> f32 {
        if self.unoccluded_px == 0 { 0.0 } else { (self.visible_px as f32 / self.unoccluded_px as f32).min(1.0) }
    }
}

/// Ground truth about one incident or protected activity under way in one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentInFrame {
    /// Index of the incident in the scenario.
    pub incident: u32,
    /// Pixels of the id mask showing its participants or objects (after occlusion).
    pub visible_px: u32,
    /// Pixels its participants and objects would cover with nothing in front of them.
    pub unoccluded_px: u32,
    /// Bounding box `[x0, y0, x1, y1)` of the visible pixels, if any.
    pub visible_box: Option<[u32; 4]>,
}

impl IncidentInFrame {
    /// Visible fraction = visible ÷ unoccluded pixels (0 when out of view).
    pub fn visible_fraction(&self) -> f32 {
        if self.unoccluded_px == 0 { 0.0 } else { (self.visible_px as f32 / self.unoccluded_px as f32).min(1.0) }
    }
}

/// One rendered camera frame with its ground truth.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Which tick and camera.
    pub key: FrameKey,
    /// Simulated time of the tick, seconds.
    pub time_s: f64,
    /// The colour frame at the render resolution — the only thing the pipeline sees.
    pub rgba: RgbaImage,
    /// The id mask, pixel-aligned with `rgba`.
    pub id_mask: IdMask,
    /// Every person whose unoccluded silhouette touches the frame.
    pub persons: Vec<PersonInFrame>,
    /// Every incident or protected activity under way on this tick, seen or not.
    pub incidents: Vec<IncidentInFrame>,
}
