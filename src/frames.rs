//! The frame store: a scenario's rendered frames and ground truth recorded once
//! (`crowdtwin render`) and replayed through any models without the renderer
//! (`crowdtwin run --frames`, `eval`).
//!
//! A store (format [`VERSION`]) is a folder:
//! - `store.json` — the [`StoreManifest`]: the render key and each render-relevant section's
//!   sha256, the overrides it was rendered with, counts; written last, so a folder without it
//!   is no store;
//! - `scenario.ron` — the scenario file as it was given, byte for byte;
//! - `frames.parquet`, `persons_in_frame.parquet`, `incidents_in_frame.parquet` — per frame:
//!   its tick, camera, time and image files; each person's and each incident's exact ground
//!   truth in it, in the order the simulation gave them;
//! - `persons.parquet`, `staged_incidents.parquet` — who and what the run stages;
//! - `cCCC/TTTTTTTT.png` (colour, 8-bit RGBA as rendered: before the camera's privacy masks
//!   and degradations, which replay applies, seeded as a live run) and `cCCC/TTTTTTTT.ids.png`
//!   (the id mask: each pixel's u32 ground-truth id as its four RGBA bytes, little-endian).
//!
//! The store holds no model output. Its key is the sha256 of the render-relevant sections
//! only ([`render_sections`]), [`SIM_OUTPUT_FORMAT`] and the assets' sha256: masking, alerts,
//! deployment, evaluation, placement and the cameras' privacy masks and degradations can be
//! edited without a new render.

use crate::output::{check_replaceable, fresh_staging, publish_as, Kind};
use crate::scenario::{apply_variant, load_scenario, Variant};
use crate::stages::{FrameSource, Staged};
use anyhow::Context;
use crowdtwin_core::frame::{Frame, FrameKey, IdMask, IncidentInFrame, PersonInFrame, RgbaImage};
use crowdtwin_core::scenario::{Scenario, SiteSpec};
use crowdtwin_core::sensor::camera_output;
use crowdtwin_core::sha256_hex;
use crowdtwin_reports::images::{decode_png, png_bytes};
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::records::{IncidentRecord, PersonRecord};
use crowdtwin_reports::tables::{self, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `store.json`'s `format`.
pub const FORMAT: &str = "crowdtwin-frames";
/// The store layout this build writes and reads.
pub const VERSION: u32 = 1;
/// What the simulation gives for the same render-relevant sections; raised whenever a change
/// of the renderer, the crowd or the ground truth gives other frames, so old stores are refused.
pub const SIM_OUTPUT_FORMAT: u32 = 2;
/// The manifest's file name.
pub const MANIFEST: &str = "store.json";
/// The scenario file's copy inside a store.
pub const SCENARIO_COPY: &str = "scenario.ron";
/// The output kind `render --out` replaces.
pub const STORE: Kind = Kind { what: "a crowdtwin frame store (no store.json)", is: is_store };

/// Whether `dir` holds a frame store.
pub fn is_store(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// `store.json`: what a store holds and what it was rendered from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The layout version ([`VERSION`] when written by this build).
    pub version: u32,
    /// [`SIM_OUTPUT_FORMAT`] of the build that rendered it.
    pub sim_output_format: u32,
    /// The records schema of its Parquet tables.
    pub records_schema: u32,
    /// sha256 of the render-relevant sections, the sim-output format and the assets.
    pub key: String,
    /// Each render-relevant section's sha256 (so a mismatch names its sections).
    pub sections: BTreeMap<String, String>,
    /// sha256 over every file under `assets/` (bodies, textures).
    pub assets_sha256: String,
    /// The scenario file it was rendered from, absolute (an imported site's file is found beside it).
    pub scenario_origin: PathBuf,
    /// sha256 of that file as rendered (its copy is `scenario.ron`).
    pub scenario_sha256: String,
    /// `--seconds` it was rendered with.
    pub seconds: Option<f32>,
    /// `--seed` it was rendered with.
    pub seed: Option<u64>,
    /// The suite's variant it was rendered with (name, hour, weather; never style or retention).
    pub variant: Variant,
    /// Simulated ticks.
    pub ticks: u64,
    /// Frames stored, all cameras.
    pub frames: u64,
    /// The crowdtwin version that rendered it.
    pub crowdtwin_version: String,
    /// Frames per second of the render loop (simulate, render, read back, ground truth, write):
    /// a measurement of the machine that rendered it, not part of the key (0 when not recorded).
    #[serde(default)]
    pub render_fps: f64,
}

/// The sha256 of each render-relevant section of `scenario` (after overrides): seed, duration
/// (with the tick rate), hour, site (with an imported site's file), population, cameras (pose,
/// field of view, resolutions and rate — not ids, privacy masks or degradations), render,
/// conditions, traffic, incidents and the incident area.
///
/// # Errors
/// An imported site's file that cannot be read.
pub fn render_sections(scenario: &Scenario) -> anyhow::Result<BTreeMap<String, String>> {
    let site_file = match &scenario.site {
        SiteSpec::Osm(site) => Some(&site.file),
        SiteSpec::Geojson(site) => Some(&site.file),
        _ => None,
    };
    // The map's contents, not where it lies: a scenario in another folder naming the same map
    // renders the same frames.
    let mut site = serde_json::to_value(&scenario.site)?;
    if let Some(file) = site_file {
        let path = scenario.base_dir.join(file);
        let bytes = std::fs::read(&path).with_context(|| format!("reading the site file {}", path.display()))?;
        if let Some(field) = site.as_object_mut().and_then(|o| o.values_mut().next()).and_then(|v| v.get_mut("file")) {
            *field = serde_json::json!(sha256_hex(&bytes));
        }
    }
    let cameras: Vec<_> =
        scenario.cameras.iter().map(|c| (c.position, c.yaw_deg, c.pitch_deg, c.hfov_deg, c.sensor_resolution, c.render_resolution, c.fps)).collect();
    let mut sections = BTreeMap::new();
    let mut add = |name: &str, value: serde_json::Value| {
        sections.insert(name.to_string(), sha256_hex(value.to_string().as_bytes()));
    };
    add("seed", serde_json::json!(scenario.seed));
    add("duration", serde_json::json!([scenario.duration_s, scenario.tick_hz]));
    add("time_of_day_h", serde_json::json!(scenario.time_of_day_h));
    add("site", site);
    add("population", serde_json::to_value(&scenario.population)?);
    add("cameras", serde_json::to_value(cameras)?);
    add("render", serde_json::to_value(&scenario.render)?);
    add("conditions", serde_json::to_value(&scenario.conditions)?);
    add("traffic", serde_json::to_value(&scenario.traffic)?);
    add("incidents", serde_json::to_value(&scenario.incidents)?);
    add("area", serde_json::to_value(&scenario.area)?);
    Ok(sections)
}

/// The store key: sha256 of the sections, the store layout [`VERSION`], [`SIM_OUTPUT_FORMAT`],
/// the records schema of its tables and the assets' sha256 — so a store this build cannot
/// replay never carries the key of one it can.
pub fn render_key(sections: &BTreeMap<String, String>, assets_sha256: &str) -> String {
    let keyed = serde_json::json!({
        "format": FORMAT,
        "version": VERSION,
        "sim_output_format": SIM_OUTPUT_FORMAT,
        "records_schema": crowdtwin_core::RECORDS_SCHEMA_VERSION,
        "assets": assets_sha256,
        "sections": sections,
    });
    sha256_hex(keyed.to_string().as_bytes())
}

/// sha256 over every file under the assets folder: each file's relative path and sha256, in
/// path order.
///
/// # Errors
/// A file that cannot be read.
pub fn assets_sha256() -> anyhow::Result<String> {
    let root = crowdtwin_agents::body::assets_dir();
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading the assets folder {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files.sort();
    let mut listing = String::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let relative = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
        listing.push_str(&format!("{relative} {}\n", sha256_hex(&bytes)));
    }
    Ok(sha256_hex(listing.as_bytes()))
}

/// One row of `frames.parquet`: a stored frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredFrame {
    /// Simulation tick.
    pub tick: u64,
    /// Camera index in the scenario.
    pub camera: u16,
    /// Simulated time, seconds.
    pub time_s: f64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Colour image, relative to the store.
    pub colour: String,
    /// Id mask image, relative to the store.
    pub ids: String,
}

impl Table for StoredFrame {
    const NAME: &'static str = "frames";
}

/// One row of `persons_in_frame.parquet`: [`PersonInFrame`] of one frame (f32 values as exact f64).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredPerson {
    /// Simulation tick.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Person id.
    pub person: u32,
    /// Visible pixels (after occlusion).
    pub visible_px: u32,
    /// Pixels with nothing in front.
    pub unoccluded_px: u32,
    /// Unoccluded box `[x0, y0, x1, y1)`, pixels.
    pub unoccluded_box: Vec<u32>,
    /// Unoccluded height in the frame, pixels.
    pub height_px: f64,
    /// Pixels per metre at the sensor's resolution.
    pub pixels_per_metre: f64,
    /// Distance along the camera's axis, metres.
    pub depth_m: f64,
}

impl Table for StoredPerson {
    const NAME: &'static str = "persons_in_frame";
}

/// One row of `incidents_in_frame.parquet`: [`IncidentInFrame`] of one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredIncident {
    /// Simulation tick.
    pub tick: u64,
    /// Camera index.
    pub camera: u16,
    /// Incident index.
    pub incident: u32,
    /// Visible pixels of its participants and objects.
    pub visible_px: u32,
    /// Their pixels with nothing in front.
    pub unoccluded_px: u32,
    /// Box `[x0, y0, x1, y1)` of the visible pixels (empty when none are).
    pub visible_box: Vec<u32>,
}

impl Table for StoredIncident {
    const NAME: &'static str = "incidents_in_frame";
}

/// One row of `staged_incidents.parquet`: an incident as staged (no scoring fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StagedIncident {
    /// Index in the scenario's `incidents`.
    pub incident: u32,
    /// Kind.
    pub kind: String,
    /// Whether the default profile calls it protected.
    pub protected: bool,
    /// First tick.
    pub start_tick: u64,
    /// First tick after it.
    pub end_tick: u64,
    /// Participants, by person id.
    pub persons: Vec<u32>,
    /// Objects, by index.
    pub objects: Vec<u32>,
    /// Centre x, metres.
    pub centre_x: f64,
    /// Centre z, metres.
    pub centre_z: f64,
    /// Intensity drawn, 0–1.
    pub intensity: f64,
}

impl Table for StagedIncident {
    const NAME: &'static str = "staged_incidents";
}

impl StagedIncident {
    fn from_record(r: &IncidentRecord) -> Self {
        StagedIncident {
            incident: r.incident,
            kind: r.kind.clone(),
            protected: r.protected,
            start_tick: r.start_tick,
            end_tick: r.end_tick,
            persons: r.persons.clone(),
            objects: r.objects.clone(),
            centre_x: r.centre_x,
            centre_z: r.centre_z,
            intensity: r.intensity,
        }
    }

    fn to_record(&self) -> IncidentRecord {
        IncidentRecord {
            incident: self.incident,
            kind: self.kind.clone(),
            protected: self.protected,
            out_of_scope: false,
            start_tick: self.start_tick,
            end_tick: self.end_tick,
            persons: self.persons.clone(),
            objects: self.objects.clone(),
            centre_x: self.centre_x,
            centre_z: self.centre_z,
            intensity: self.intensity,
            detected: false,
            time_to_alert_s: None,
        }
    }
}

/// What to render.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// The store folder (replaced as a whole when complete; only a store or an empty folder).
    pub out: PathBuf,
    /// Override of the scenario's duration.
    pub seconds: Option<f32>,
    /// Override of the scenario's seed.
    pub seed: Option<u64>,
    /// A suite's variant (its style and retention are ignored: they are not rendered).
    pub variant: Variant,
    /// Let Bevy log warnings.
    pub log: bool,
}

/// Renders a scenario into a frame store; `progress(done, total)` follows the ticks.
///
/// # Errors
/// A bad scenario or site, a render error, an output folder that is neither empty nor a
/// store. A failed render leaves `out` as it was.
pub fn render(options: &RenderOptions, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<StoreManifest> {
    check_replaceable(&options.out, &STORE)?;
    let variant = Variant { masking_style: None, retention: None, ..options.variant.clone() };
    let mut scenario = load_scenario(&options.scenario, options.seconds, options.seed)?;
    apply_variant(&mut scenario, &variant, &options.scenario)?;
    let sections = render_sections(&scenario)?;
    let assets = assets_sha256()?;
    let text = std::fs::read(&options.scenario).with_context(|| format!("reading {}", options.scenario.display()))?;
    let manifest = StoreManifest {
        format: FORMAT.into(),
        version: VERSION,
        sim_output_format: SIM_OUTPUT_FORMAT,
        records_schema: crowdtwin_core::RECORDS_SCHEMA_VERSION,
        key: render_key(&sections, &assets),
        sections,
        assets_sha256: assets,
        scenario_origin: std::path::absolute(&options.scenario).with_context(|| format!("{}: no absolute path", options.scenario.display()))?,
        scenario_sha256: sha256_hex(&text),
        seconds: options.seconds,
        seed: options.seed,
        variant,
        ticks: scenario.total_ticks(),
        frames: 0,
        crowdtwin_version: env!("CARGO_PKG_VERSION").into(),
        render_fps: 0.0,
    };
    let staging = fresh_staging(&options.out)?;
    let written = write_store(&staging, &scenario, &text, manifest, options.log, &mut progress);
    let published = written.and_then(|manifest| publish_as(&staging, &options.out, &STORE).map(|()| manifest));
    if published.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    published
}

/// Simulates every tick, writes each due camera's frame as it comes, then the tables and,
/// last, the manifest.
fn write_store(dir: &Path, scenario: &Scenario, text: &[u8], mut manifest: StoreManifest, log: bool, progress: &mut impl FnMut(u64, u64)) -> anyhow::Result<StoreManifest> {
    let mut sim = crowdtwin_sim::Simulation::new(scenario, &crowdtwin_sim::SimOptions { log })?;
    let staged = Staged::new(sim.persons(), sim.incidents());
    let (mut frames, mut persons, mut incidents) = (Vec::new(), Vec::new(), Vec::new());
    let started = std::time::Instant::now(); // after the warm-up: the loop alone is timed
    for tick in 0..manifest.ticks {
        for frame in sim.step_rendered()? {
            let FrameKey { tick, camera } = frame.key;
            let stem = format!("c{camera:03}/{tick:08}");
            let (colour, ids) = (format!("{stem}.png"), format!("{stem}.ids.png"));
            let folder = dir.join(format!("c{camera:03}"));
            std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
            for (file, image) in [(&colour, &frame.rgba), (&ids, &id_mask_image(&frame.id_mask))] {
                let path = dir.join(file);
                std::fs::write(&path, png_bytes(image).map_err(anyhow::Error::msg)?).with_context(|| format!("writing {}", path.display()))?;
            }
            persons.extend(frame.persons.iter().map(|p| StoredPerson {
                tick,
                camera,
                person: p.person,
                visible_px: p.visible_px,
                unoccluded_px: p.unoccluded_px,
                unoccluded_box: p.unoccluded_box.to_vec(),
                height_px: p.height_px as f64,
                pixels_per_metre: p.pixels_per_metre as f64,
                depth_m: p.depth_m as f64,
            }));
            incidents.extend(frame.incidents.iter().map(|i| StoredIncident {
                tick,
                camera,
                incident: i.incident,
                visible_px: i.visible_px,
                unoccluded_px: i.unoccluded_px,
                visible_box: i.visible_box.map(|b| b.to_vec()).unwrap_or_default(),
            }));
            frames.push(StoredFrame { tick, camera, time_s: frame.time_s, width: frame.rgba.width, height: frame.rgba.height, colour, ids });
        }
        progress(tick + 1, manifest.ticks);
    }
    manifest.render_fps = frames.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let text_error = |e: String| anyhow::anyhow!("{}: {e}", dir.display());
    tables::write(dir, &frames, None).map_err(text_error)?;
    tables::write(dir, &persons, None).map_err(text_error)?;
    tables::write(dir, &incidents, None).map_err(text_error)?;
    tables::write(dir, &staged.persons, None).map_err(text_error)?;
    tables::write(dir, &staged.incidents.iter().map(StagedIncident::from_record).collect::<Vec<_>>(), None).map_err(text_error)?;
    write_atomic(&dir.join(SCENARIO_COPY), text).with_context(|| format!("writing {}", dir.join(SCENARIO_COPY).display()))?;
    manifest.frames = frames.len() as u64;
    write_atomic(&dir.join(MANIFEST), serde_json::to_string_pretty(&manifest)?.as_bytes()).with_context(|| format!("writing {}", dir.join(MANIFEST).display()))?;
    Ok(manifest)
}

/// The id mask as an RGBA image: each id's four little-endian bytes.
fn id_mask_image(mask: &IdMask) -> RgbaImage {
    RgbaImage { width: mask.width, height: mask.height, pixels: mask.ids.iter().flat_map(|id| id.to_le_bytes()).collect() }
}

/// An opened frame store.
#[derive(Clone, Debug)]
pub struct FrameStore {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: StoreManifest,
}

impl FrameStore {
    /// Opens the store in `dir` and checks it is one this build can replay.
    ///
    /// # Errors
    /// No `store.json` (or not a store's), another layout version, another sim-output format or
    /// records schema — each naming the store and both values.
    pub fn open(dir: &Path) -> anyhow::Result<FrameStore> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: not a frame store (cannot read {MANIFEST})", dir.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
        anyhow::ensure!(value["format"] == FORMAT, "{}: not a crowdtwin frame store (format {})", path.display(), value["format"]);
        anyhow::ensure!(
            value["version"] == VERSION,
            "{}: frame store version {}, this build reads version {VERSION}: render it again",
            dir.display(),
            value["version"]
        );
        let manifest: StoreManifest = serde_json::from_value(value).with_context(|| format!("{}: a field is missing or malformed", path.display()))?;
        anyhow::ensure!(
            manifest.sim_output_format == SIM_OUTPUT_FORMAT,
            "{}: rendered by a simulation of output format {}, this build's is {SIM_OUTPUT_FORMAT} (its frames would differ): render it again",
            dir.display(),
            manifest.sim_output_format
        );
        anyhow::ensure!(
            manifest.records_schema == crowdtwin_core::RECORDS_SCHEMA_VERSION,
            "{}: tables of records schema {}, this build's is {}: render it again",
            dir.display(),
            manifest.records_schema,
            crowdtwin_core::RECORDS_SCHEMA_VERSION
        );
        Ok(FrameStore { dir: dir.to_path_buf(), manifest })
    }

    /// The store's copy of the scenario file it was rendered from.
    pub fn scenario_copy(&self) -> PathBuf {
        self.dir.join(SCENARIO_COPY)
    }

    /// Makes a scenario loaded from `path` (with the store's overrides) ready to replay this
    /// store: when it is the store's own copy, an imported site's file is looked for beside the
    /// original; then its render-relevant sections and the assets must be the store's.
    ///
    /// # Errors
    /// Each render-relevant section that differs, by name, or assets that changed since.
    pub fn adopt(&self, scenario: &mut Scenario, path: &Path) -> anyhow::Result<()> {
        let same_file = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().ok() == Some(a));
        if same_file(path, &self.scenario_copy()) {
            // An imported site's file is read where the scenario it was rendered from found it.
            scenario.base_dir = self.manifest.scenario_origin.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        let sections = render_sections(scenario)?;
        let differing: Vec<&str> = sections
            .iter()
            .filter(|(name, sha)| self.manifest.sections.get(*name) != Some(sha))
            .map(|(name, _)| name.as_str())
            .collect();
        anyhow::ensure!(
            differing.is_empty(),
            "{} was not rendered from {}: its render-relevant {} {} (render it again, or change only masking, alerts, deployment, evaluation, placement, privacy masks or degradations)",
            self.dir.display(),
            path.display(),
            if differing.len() == 1 { "section differs:" } else { "sections differ:" },
            differing.join(", ")
        );
        let assets = assets_sha256()?;
        anyhow::ensure!(
            render_key(&sections, &assets) == self.manifest.key,
            "{}: the assets changed since it was rendered (key {} ≠ {}): render it again",
            self.dir.display(),
            &render_key(&sections, &assets)[..12],
            &self.manifest.key[..12]
        );
        Ok(())
    }

    /// The store as a frame source for a run of `scenario` (adopted, see [`FrameStore::adopt`]).
    ///
    /// # Errors
    /// A table that cannot be read, or one whose frames do not fit the scenario's cameras.
    pub fn source(&self, scenario: &Scenario) -> anyhow::Result<StoreSource> {
        let read = |e: String| anyhow::anyhow!(e);
        let frames: Vec<StoredFrame> = tables::rows(&self.dir.join("frames.parquet")).map_err(read)?;
        let persons: Vec<StoredPerson> = tables::rows(&self.dir.join("persons_in_frame.parquet")).map_err(read)?;
        let incidents: Vec<StoredIncident> = tables::rows(&self.dir.join("incidents_in_frame.parquet")).map_err(read)?;
        let staged_persons: Vec<PersonRecord> = tables::rows(&self.dir.join("persons.parquet")).map_err(read)?;
        let staged_incidents: Vec<StagedIncident> = tables::rows(&self.dir.join("staged_incidents.parquet")).map_err(read)?;
        let mut by_tick: BTreeMap<u64, Vec<Pending>> = BTreeMap::new();
        for frame in frames {
            let camera = scenario.cameras.get(frame.camera as usize).with_context(|| format!("{}: frame of camera {}, the scenario has {}", self.dir.display(), frame.camera, scenario.cameras.len()))?;
            anyhow::ensure!(
                (frame.width, frame.height) == camera.render_resolution,
                "{}: camera {}'s frames are {}×{}, the scenario renders {}×{}",
                self.dir.display(),
                frame.camera,
                frame.width,
                frame.height,
                camera.render_resolution.0,
                camera.render_resolution.1
            );
            by_tick.entry(frame.tick).or_default().push(Pending { frame, persons: Vec::new(), incidents: Vec::new() });
        }
        let dir = self.dir.display();
        for p in persons {
            let (tick, camera) = (p.tick, p.camera);
            let b = &p.unoccluded_box;
            anyhow::ensure!(b.len() == 4, "{}: persons_in_frame: unoccluded_box of {} values", self.dir.display(), b.len());
            slot(&mut by_tick, tick, camera).with_context(|| format!("{dir}: ground truth of tick {tick}, camera {camera}, which has no frame"))?.persons.push(PersonInFrame {
                person: p.person,
                visible_px: p.visible_px,
                unoccluded_px: p.unoccluded_px,
                unoccluded_box: [b[0], b[1], b[2], b[3]],
                height_px: p.height_px as f32,
                pixels_per_metre: p.pixels_per_metre as f32,
                depth_m: p.depth_m as f32,
            });
        }
        for i in incidents {
            let b = &i.visible_box;
            let visible_box = match b.len() {
                0 => None,
                4 => Some([b[0], b[1], b[2], b[3]]),
                n => anyhow::bail!("{}: incidents_in_frame: visible_box of {n} values", self.dir.display()),
            };
            slot(&mut by_tick, i.tick, i.camera).with_context(|| format!("{dir}: ground truth of tick {}, camera {}, which has no frame", i.tick, i.camera))?.incidents.push(IncidentInFrame { incident: i.incident, visible_px: i.visible_px, unoccluded_px: i.unoccluded_px, visible_box });
        }
        let staged = Staged { persons: staged_persons, incidents: staged_incidents.iter().map(StagedIncident::to_record).collect() };
        Ok(StoreSource { dir: self.dir.clone(), scenario: scenario.clone(), by_tick, tick: 0, ticks: self.manifest.ticks, staged })
    }
}

/// The pending frame of `camera` on `tick`.
fn slot(by_tick: &mut BTreeMap<u64, Vec<Pending>>, tick: u64, camera: u16) -> Option<&mut Pending> {
    by_tick.get_mut(&tick).and_then(|frames| frames.iter_mut().find(|f| f.frame.camera == camera))
}

/// A stored frame waiting for its tick: its row and its ground truth.
struct Pending {
    frame: StoredFrame,
    persons: Vec<PersonInFrame>,
    incidents: Vec<IncidentInFrame>,
}

/// A frame store replayed as a frame source: each frame decoded, then the camera's privacy
/// masks and degradations applied as in a live run.
pub struct StoreSource {
    dir: PathBuf,
    scenario: Scenario,
    by_tick: BTreeMap<u64, Vec<Pending>>,
    tick: u64,
    ticks: u64,
    staged: Staged,
}

impl StoreSource {
    fn load(&self, pending: Pending) -> anyhow::Result<Frame> {
        let StoredFrame { tick, camera, time_s, width, height, colour, ids } = pending.frame;
        let read = |file: &str| -> anyhow::Result<RgbaImage> {
            let path = self.dir.join(file);
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let image = decode_png(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            anyhow::ensure!((image.width, image.height) == (width, height), "{}: {}×{}, frames.parquet says {width}×{height}", path.display(), image.width, image.height);
            Ok(image)
        };
        let rgba = read(&colour)?;
        let id_image = read(&ids)?;
        let id_mask = IdMask { width, height, ids: id_image.pixels.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect() };
        let spec = &self.scenario.cameras[camera as usize];
        let rgba = camera_output(rgba, spec, self.scenario.seed, tick, camera).map_err(anyhow::Error::msg)?;
        Ok(Frame { key: FrameKey { tick, camera }, time_s, rgba, id_mask, persons: pending.persons, incidents: pending.incidents })
    }
}

impl FrameSource for StoreSource {
    fn ticks(&self) -> u64 {
        self.ticks
    }

    fn next_tick(&mut self) -> anyhow::Result<Vec<Frame>> {
        let pending = self.by_tick.remove(&self.tick).unwrap_or_default();
        self.tick += 1;
        pending.into_iter().map(|p| self.load(p)).collect()
    }

    fn staged(&self) -> Staged {
        self.staged.clone()
    }
}
