//! The picture-in-picture's masked view: the selected camera's render read back from the GPU,
//! passed through the camera's own output (privacy masks, degradations) and the real masking
//! model (ONNX Runtime, the run's default `models/nanodet.ron` or `--mask-model`), on a worker
//! thread so the window never waits for it. Every frame the picture-in-picture renders is read
//! back and masked, with at most [`IN_FLIGHT`] frames read back or queued at once (a slower
//! masker then skips renders rather than fall behind). The model is loaded the first time the
//! masked view is shown; the worker is joined when the view closes.

use crate::edit::Status;
use crate::pip::{Pip, PipMode};
use crate::{Edited, Selection, ViewConfig};
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::scenario::{CameraSpec, MaskingSettings};
use crowdtwin_vision::detector::Detector;
use crowdtwin_vision::masking::Masker;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames read back or waiting for the masker at most: one being masked, the next ready.
pub const IN_FLIGHT: u32 = 2;

/// A frame to mask.
struct Job {
    /// The frame as read back, or why it could not be.
    frame: Result<RgbaImage, String>,
    camera: CameraSpec,
    index: u16,
    seed: u64,
    tick: u64,
}

/// The worker's channels and the masked image shown.
#[derive(Resource)]
pub struct MaskedView {
    jobs: Option<Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    done: Mutex<Receiver<(String, Result<RgbaImage, String>)>>,
    /// Frames being read back or masked.
    pub in_flight: u32,
    /// Frames masked so far, and the wall-clock seconds of the last ones.
    pub masked_s: Vec<f64>,
    /// The masked image, and the camera it shows.
    pub image: Handle<Image>,
    /// Id of the camera the masked image shows.
    pub shows: Option<String>,
    node: Entity,
}

/// The masked picture-in-picture.
pub struct MaskedPlugin;

impl Plugin for MaskedPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_worker).add_systems(
            Update,
            (request_frame, show_masked).after(crate::pip::follow_selection),
        );
    }
}

fn spawn_worker(
    mut commands: Commands,
    config: Res<ViewConfig>,
    edited: Res<Edited>,
    mut images: ResMut<Assets<Image>>,
) {
    let (jobs, incoming) = channel::<Job>();
    let (results, done) = channel();
    let model = config.0.mask_model.clone();
    let settings = edited.scenario.masking.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let worker = std::thread::Builder::new()
        .name("view-masker".into())
        .spawn(move || worker(model, settings, incoming, results, flag))
        .expect("a thread for the masker");
    let image = images.add(crate::pip::blank(16, 9, false));
    let node = commands
        .spawn((
            ImageNode::new(image.clone()),
            crate::pip::placed(),
            Visibility::Hidden,
            GlobalZIndex(2),
        ))
        .id();
    commands.insert_resource(MaskedView {
        jobs: Some(jobs),
        worker: Some(worker),
        stop,
        done: Mutex::new(done),
        in_flight: 0,
        masked_s: Vec::new(),
        image,
        shows: None,
        node,
    });
}

impl Drop for MaskedView {
    /// Stops the worker after the frame it masks (frames still queued are dropped), so ONNX
    /// Runtime is not torn down under a running inference.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn worker(
    model: PathBuf,
    settings: MaskingSettings,
    jobs: Receiver<Job>,
    results: Sender<(String, Result<RgbaImage, String>)>,
    stop: Arc<AtomicBool>,
) {
    // Loaded once, on the first job; a model that fails to load is not tried again.
    let mut masker: Option<Result<Masker, String>> = None;
    loop {
        // The stop flag is looked at between frames: a readback still in flight holds a sender,
        // so the channel alone would not end the loop when the view closes.
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let job = match jobs.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let outcome = (|| {
            let loaded = masker.get_or_insert_with(|| {
                Detector::load(&model, 1)
                    .map(|detector| Masker::for_scenario(detector, None, &settings))
                    .map_err(|e| format!("the masking model {}: {e}", model.display()))
            });
            let masker = loaded.as_mut().map_err(|e| e.clone())?;
            let frame = crowdtwin_core::sensor::camera_output(
                job.frame?,
                &job.camera,
                job.seed,
                job.tick,
                job.index,
            )?;
            let output = masker.mask(&frame).map_err(|e| e.to_string())?;
            Ok(output.masked)
        })();
        if results.send((job.camera.id.clone(), outcome)).is_err() {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn request_frame(
    mut commands: Commands,
    mode: Res<PipMode>,
    selection: Res<Selection>,
    edited: Res<Edited>,
    clock: Res<crowdtwin_agents::SimClock>,
    pip: Res<Pip>,
    mut masked: ResMut<MaskedView>,
) {
    let Some(index) = selection
        .0
        .filter(|_| *mode == PipMode::Masked && pip.rendering && masked.in_flight < IN_FLIGHT)
    else {
        return;
    };
    let Some(camera) = edited.scenario.cameras.get(index).cloned() else {
        return;
    };
    let (width, height) = camera.render_resolution;
    let (seed, tick) = (edited.scenario.seed, clock.tick);
    let Some(jobs) = masked.jobs.clone() else {
        return;
    };
    masked.in_flight += 1;
    commands
        .spawn(Readback::texture(pip.image.clone()))
        .observe(
            move |complete: On<ReadbackComplete>, mut commands: Commands| {
                // Rows come padded to wgpu's 256-byte copy alignment.
                let row = (width * 4) as usize;
                let padded = complete.data.len() / height.max(1) as usize;
                let pixels: Vec<u8> = if padded >= row {
                    complete
                        .data
                        .chunks_exact(padded)
                        .flat_map(|r| &r[..row])
                        .copied()
                        .collect()
                } else {
                    Vec::new()
                };
                let frame = if pixels.len() == row * height as usize {
                    Ok(RgbaImage {
                        width,
                        height,
                        pixels,
                    })
                } else {
                    Err(format!(
                        "the read-back frame has {} bytes, {width}×{height} RGBA needs {}",
                        complete.data.len(),
                        row * height as usize
                    ))
                };
                let _ = jobs.send(Job {
                    frame,
                    camera: camera.clone(),
                    index: index as u16,
                    seed,
                    tick,
                });
                commands.entity(complete.entity).despawn();
            },
        );
}

#[allow(clippy::too_many_arguments)]
fn show_masked(
    mode: Res<PipMode>,
    selection: Res<Selection>,
    edited: Res<Edited>,
    time: Res<Time<Real>>,
    mut masked: ResMut<MaskedView>,
    mut status: ResMut<Status>,
    mut images: ResMut<Assets<Image>>,
    mut visibility: Query<&mut Visibility, With<ImageNode>>,
) {
    let channel = masked.done.lock().expect("the masker's channel");
    let mut received: Vec<_> = channel.try_iter().collect();
    let stopped = received.is_empty()
        && masked.in_flight > 0
        && matches!(
            channel.try_recv(),
            Err(std::sync::mpsc::TryRecvError::Disconnected)
        );
    drop(channel);
    // A worker that died (it never should) is reported once, and nothing more is sent to it.
    if stopped {
        received.push((String::new(), Err("the masking worker stopped".to_string())));
        masked.jobs = None;
        masked.in_flight = 1;
    }
    for (camera, outcome) in received {
        masked.in_flight = masked.in_flight.saturating_sub(1);
        match outcome {
            Ok(frame) => {
                masked.shows = Some(camera);
                let mut image = crate::pip::blank(frame.width, frame.height, false);
                image.data = Some(frame.pixels);
                if let Some(mut shown) = images.get_mut(&masked.image) {
                    *shown = image;
                }
                masked.masked_s.push(time.elapsed_secs_f64());
                let excess = masked.masked_s.len().saturating_sub(32);
                masked.masked_s.drain(..excess);
            }
            Err(e) => status.0 = format!("masked view: {e}"),
        }
    }
    if let Ok(mut v) = visibility.get_mut(masked.node) {
        let selected = selection
            .0
            .and_then(|i| edited.scenario.cameras.get(i))
            .map(|c| &c.id);
        *v = if *mode == PipMode::Masked && selected.is_some() && selected == masked.shows.as_ref()
        {
            Visibility::Visible
        } else {
            Visibility::Hidden
        };
    }
}
