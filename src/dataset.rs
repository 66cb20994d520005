//! `crowdtwin dataset`: exports the *masked* frames of a simulated run — or of a frame store's
//! replay, so that many datasets (other maskers, sizes) cost one render — with their labels, to
//! train and test anomaly models. Raw frames are never written: an AD model only ever sees
//! what the masker left.
//!
//! Layout of the folder: `frames/<camera_id>/<tick>.png` (masked, resized to `size` with the
//! pipeline's own filter), `labels.parquet` (one row per frame), `tracks.parquet` (one row per
//! paint track and frame, solid and outlined masks only: the input rows of a `person_tracks`
//! model, read from the masked frame at `size`, with the training label `cast`) and
//! `dataset.json` (scenario, seed, masking model, size).

use crate::frames::FrameStore;
use crate::scenario::{apply_variant, load_scenario, Variant};
use crate::stages::source::SimulationSource;
use crate::stages::FrameSource;
use crowdtwin_reports::images::png_bytes;
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::tables::Table;
use crowdtwin_vision::detector::Detector;
use crowdtwin_vision::masking::Masker;
use crowdtwin_vision::preprocess::resize;
use anyhow::Context;
use std::path::PathBuf;

/// What to export.
#[derive(Clone, Debug)]
pub struct DatasetOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Output folder (created; an earlier dataset there is replaced as a whole).
    pub out: PathBuf,
    /// Override of the scenario's duration.
    pub seconds: Option<f32>,
    /// Override of the scenario's seed.
    pub seed: Option<u64>,
    /// Masking model manifest.
    pub mask_model: PathBuf,
    /// Size (width, height) of the stored frames.
    pub size: (u32, u32),
    /// ONNX Runtime threads.
    pub threads: usize,
    /// Replay this frame store instead of simulating (see [`FrameStore::adopt`]).
    pub frames: Option<PathBuf>,
    /// The store's variant (name, hour, weather) when replaying one.
    pub variant: Variant,
}

/// One labelled frame: a row of `labels.parquet`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Label {
    scenario: String,
    seed: u64,
    camera: u16,
    camera_id: String,
    tick: u64,
    time_s: f64,
    /// The frame's file, relative to the dataset folder.
    file: String,
    /// Some incident (not a protected activity) shows at least `evaluation.min_visible_px` pixels.
    anomaly: bool,
    /// Some protected activity shows.
    protected: bool,
    /// Kinds of the events in view, comma-separated.
    kinds: String,
    /// Box of the incidents in view in the stored frame's pixels (none when no incident shows).
    box_x0: Option<f64>,
    box_y0: Option<f64>,
    box_x1: Option<f64>,
    box_y1: Option<f64>,
}

impl Table for Label {
    const NAME: &'static str = "labels";
}

/// One paint track on one frame: a row of `tracks.parquet`.
#[derive(serde::Serialize, serde::Deserialize)]
struct TrackLabel {
    camera: u16,
    tick: u64,
    /// The track's number on its camera.
    track: u64,
    /// The blob's box `[x0, y0, x1, y1)` in the stored frame's pixels.
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    /// The training label: the centre of the visible pixels (20 or more) of a person then taking
    /// part in a short-horizon incident lies in the box.
    cast: bool,
    /// The model's input row ([`crowdtwin_vision::tracks::ROW_WIDTH`] values).
    features: Vec<f32>,
}

impl Table for TrackLabel {
    const NAME: &'static str = "tracks";
}

/// The centres, in the stored frame's pixels (x, y), of the visible pixels of each of `acting`
/// showing at least 20 pixels in `ids`.
fn centres_of(ids: &crowdtwin_core::frame::IdMask, acting: &[u32], (sx, sy): (f64, f64)) -> Vec<(f64, f64)> {
    use crowdtwin_core::ids::{PERSON_BASE, SCREEN_BASE};
    let mut sums: std::collections::BTreeMap<u32, (u64, u64, u64)> = acting.iter().map(|&p| (p, (0, 0, 0))).collect();
    for (i, &id) in ids.ids.iter().enumerate() {
        if (PERSON_BASE..SCREEN_BASE).contains(&id)
            && let Some(sum) = sums.get_mut(&(id - PERSON_BASE))
        {
            *sum = (sum.0 + 1, sum.1 + (i as u64 % ids.width as u64), sum.2 + (i as u64 / ids.width as u64));
        }
    }
    sums.values().filter(|s| s.0 >= 20).map(|&(n, x, y)| ((x as f64 / n as f64 + 0.5) * sx, (y as f64 / n as f64 + 0.5) * sy)).collect()
}

/// Exports a dataset; returns (frames, frames labelled anomalous).
pub fn export(options: &DatasetOptions, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<(usize, usize)> {
    let out = &options.out;
    let name = out.file_name().and_then(|n| n.to_str()).filter(|n| !n.is_empty() && *n != "." && *n != "..");
    anyhow::ensure!(name.is_some(), "--out {} must name a folder", out.display());
    if out.exists() {
        let is_dataset = out.join("labels.parquet").is_file();
        let is_empty = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
        anyhow::ensure!(is_dataset || is_empty, "--out {} exists and is not a crowdtwin dataset; refusing to replace it", out.display());
    }
    let (width, height) = options.size;
    anyhow::ensure!((16..=4096).contains(&width) && (16..=4096).contains(&height), "--size {width}x{height} must be 16 to 4096 pixels a side");
    let store = options.frames.as_deref().map(FrameStore::open).transpose()?;
    let mut scenario = load_scenario(&options.scenario, options.seconds, options.seed)?;
    apply_variant(&mut scenario, &options.variant, &options.scenario)?;
    if let Some(store) = &store {
        store.adopt(&mut scenario, &options.scenario)?;
    }
    let detector = Detector::load(&options.mask_model, options.threads)?;
    let model = (detector.manifest.name.clone(), detector.sha256.clone());
    anyhow::ensure!(
        scenario.masking.style != crowdtwin_core::scenario::MaskStyle::None,
        "masking.style `none` leaves frames unmasked: a dataset of masked frames cannot be made from it"
    );
    let mut masker = Masker::for_scenario(detector, None, &scenario.masking);
    let (r, g, b) = scenario.masking.colour;
    let painted = matches!(scenario.masking.style, crowdtwin_core::scenario::MaskStyle::Solid | crowdtwin_core::scenario::MaskStyle::Outlined);
    let mut tracks = crowdtwin_vision::tracks::PersonTracks::default();
    let mut track_rows = Vec::new();
    let mut source: Box<dyn FrameSource> = match &store {
        Some(store) => Box::new(store.source(&scenario)?),
        None => Box::new(SimulationSource::new(&scenario, false)?),
    };
    let plans = source.staged().incidents;

    let staging = out.with_file_name(format!(".{}.partial", name.unwrap_or("dataset")));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing a stale {}", staging.display()))?;
    }
    let total = scenario.total_ticks();
    let mut labels = Vec::new();
    for tick in 0..total {
        for frame in source.next_tick()? {
            let masked = masker.mask(&frame.rgba)?; // the AD model's only input
            let camera = &scenario.cameras[frame.key.camera as usize];
            let file = format!("frames/{}/{:07}.png", camera.id, frame.key.tick);
            let small = resize(&masked.masked, width, height);
            write_atomic(&staging.join(&file), &png_bytes(&small).map_err(anyhow::Error::msg)?)?;
            let (sx, sy) = (width as f64 / frame.rgba.width as f64, height as f64 / frame.rgba.height as f64);
            if painted {
                let rows = tracks.push(frame.key.camera, crowdtwin_vision::tracks::paint_blobs(&masked.masked, [r, g, b], (width, height)));
                // Training labels only, from the ground truth: who takes part in a short-horizon incident now.
                let acting: Vec<u32> = plans
                    .iter()
                    .filter(|p| p.start_tick <= frame.key.tick && frame.key.tick <= p.end_tick)
                    .filter(|p| crowdtwin_core::incident::IncidentKind::from_name(&p.kind).is_some_and(|k| k.is_short_horizon()))
                    .flat_map(|p| p.persons.iter().copied())
                    .collect();
                let centres = if acting.is_empty() { Vec::new() } else { centres_of(&frame.id_mask, &acting, (sx, sy)) };
                for row in rows {
                    let [x0, y0, x1, y1] = row.bbox;
                    let cast = centres.iter().any(|&(x, y)| x0 as f64 <= x && x < x1 as f64 && y0 as f64 <= y && y < y1 as f64);
                    track_rows.push(TrackLabel { camera: frame.key.camera, tick: frame.key.tick, track: row.track, x0, y0, x1, y1, cast, features: row.features });
                }
            }
            let seen: Vec<_> = frame
                .incidents
                .iter()
                .filter(|i| i.visible_px >= scenario.evaluation.min_visible_px)
                .filter_map(|i| plans.iter().find(|p| p.incident == i.incident).map(|plan| (plan, i)))
                .collect();
            let alarming: Vec<_> = seen.iter().filter(|(plan, _)| !plan.protected).collect();
            let incident_box = alarming.iter().filter_map(|(_, i)| i.visible_box).fold(None, |acc: Option<[f64; 4]>, b| {
                let b = [b[0] as f64 * sx, b[1] as f64 * sy, b[2] as f64 * sx, b[3] as f64 * sy];
                Some(acc.map_or(b, |a| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]))
            });
            let mut kinds: Vec<&str> = seen.iter().map(|(plan, _)| plan.kind.as_str()).collect();
            kinds.dedup();
            let corner = |k: usize| incident_box.map(|b| b[k]);
            labels.push(Label {
                scenario: scenario.name.clone(),
                seed: scenario.seed,
                camera: frame.key.camera,
                camera_id: camera.id.clone(),
                tick: frame.key.tick,
                time_s: frame.time_s,
                file,
                anomaly: !alarming.is_empty(),
                protected: seen.iter().any(|(plan, _)| plan.protected),
                kinds: kinds.join(","),
                box_x0: corner(0),
                box_y0: corner(1),
                box_x1: corner(2),
                box_y1: corner(3),
            });
        }
        progress(tick + 1, total);
    }
    let positives = labels.iter().filter(|l| l.anomaly).count();
    crowdtwin_reports::tables::write(&staging, &labels, None).map_err(anyhow::Error::msg)?;
    if painted {
        crowdtwin_reports::tables::write(&staging, &track_rows, None).map_err(anyhow::Error::msg)?;
    }
    let meta = serde_json::json!({
        "scenario": scenario.name,
        "scenario_sha256": crowdtwin_vision::manifest::sha256_file(&options.scenario)?,
        "seed": scenario.seed,
        "duration_s": scenario.duration_s,
        "masking_model": model.0,
        "masking_model_sha256": model.1,
        "size": [width, height],
        "masking_style": scenario.masking.style.name(),
        // What a person-track model's manifest must state (its `paint` and `fps`): the trainer checks them.
        "masking_colour": [scenario.masking.colour.0, scenario.masking.colour.1, scenario.masking.colour.2],
        "camera_fps": scenario.cameras.iter().map(|c| c.fps).collect::<Vec<_>>(),
        // How the detector looked: paint made with other tiles or turns is other paint, and a
        // model trained on one is not measured on the other (the trainer refuses a mix).
        "masking_tiles": [scenario.masking.tiles.0, scenario.masking.tiles.1],
        "masking_quarter_turns": scenario.masking.quarter_turns,
        "masking_vehicles": scenario.masking.vehicles,
        "track_features": crowdtwin_vision::tracks::FEATURES,
        "frames": labels.len(),
        "anomalous_frames": positives,
        "label": "anomaly = some incident (not a protected activity) shows at least evaluation.min_visible_px pixels",
    });
    write_atomic(&staging.join("dataset.json"), serde_json::to_string_pretty(&meta)?.as_bytes())?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing the earlier dataset {}", out.display()))?;
    }
    std::fs::rename(&staging, out).with_context(|| format!("moving the dataset into {}", out.display()))?;
    Ok((labels.len(), positives))
}
