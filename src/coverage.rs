//! The coverage of a scenario's cameras on its site: the coverage model's view of the site
//! (walkable grid, occluders, the crowd's footfall and the events' tracks, from the crowd
//! simulated without rendering), each placement's assessment, and the coverage files of a run.
//! Used where reports are made ([`crate::report`]) and by `crowdtwin place`.

use anyhow::Context;
use crowdtwin_core::scenario::{CameraSpec, Scenario};
use crowdtwin_core::site::SiteLayout;
use crowdtwin_reports::coverage::{self, EventTrack, Grid, Occluders, RunCoverage, View};
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::placement;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The site as the coverage model sees it, with the crowd's footfall and the events' tracks.
pub struct SiteModel {
    /// Laid-out site.
    pub layout: SiteLayout,
    /// Walkable grid.
    pub grid: Grid,
    /// Occluders.
    pub occluders: Occluders,
    /// Person-seconds per cell over the scenario.
    pub footfall: Vec<f64>,
    /// Each staged event's participants, tick by tick.
    pub tracks: Vec<EventTrack>,
}

impl SiteModel {
    /// Lays out the scenario's site and simulates its crowd (no rendering).
    ///
    /// # Errors
    /// An event the crowd cannot stage (too few persons its `who` admits, no bench).
    pub fn of(scenario: &Scenario) -> anyhow::Result<Self> {
        let mut crowd = crate::crowd::staged_crowd(scenario)?;
        let layout = crowd.layout().clone();
        let grid = Grid::of_site(&layout, scenario.placement.cell_size_m);
        let occluders = Occluders::from_layout(&layout);
        let plans = crowd.incidents().to_vec();
        let mut tracks: Vec<EventTrack> =
            plans.iter().map(|p| EventTrack { kind: p.kind.name().to_string(), protected: p.protected, positions: Vec::new() }).collect();
        let mut footfall = vec![0.0; grid.walkable.len()];
        let tick_s = scenario.dt() as f64;
        for tick in 0..scenario.total_ticks() {
            crowd.step();
            let poses = crowd.poses();
            for pose in poses.iter().filter(|p| p.present) {
                if let Some(cell) = grid.cell_at(pose.position.x, pose.position.y) {
                    footfall[cell] += tick_s;
                }
            }
            for (plan, track) in plans.iter().zip(tracks.iter_mut()) {
                if (plan.start_tick..plan.end_tick).contains(&tick) {
                    let positions = plan
                        .participants
                        .iter()
                        .filter_map(|&person| poses.iter().find(|p| p.person == person && p.present))
                        .map(|p| [p.position.x, p.position.y])
                        .collect();
                    track.positions.push(positions);
                }
            }
        }
        Ok(SiteModel { layout, grid, occluders, footfall, tracks })
    }
}

/// A placement's coverage (summary and capture per kind, serialised as `coverage.json`) and
/// its map.
#[derive(Clone, Debug, Serialize)]
pub struct Assessment {
    /// The coverage numbers and incident capture.
    #[serde(flatten)]
    pub run: RunCoverage,
    /// The map (PNG), not serialised.
    #[serde(skip)]
    pub map_png: Vec<u8>,
    /// The same as GeoJSON (WGS84), when the site has an origin; not serialised.
    #[serde(skip)]
    pub map_geojson: Option<String>,
}

impl Assessment {
    /// Writes the map as `<stem>.png` and, for a site on Earth, `<stem>.geojson` beside it.
    ///
    /// # Errors
    /// A file that cannot be written.
    pub fn write_maps(&self, dir: &Path, stem: &str) -> anyhow::Result<()> {
        write_atomic(&dir.join(format!("{stem}.png")), &self.map_png).with_context(|| format!("writing {stem}.png"))?;
        if let Some(geojson) = &self.map_geojson {
            write_atomic(&dir.join(format!("{stem}.geojson")), geojson.as_bytes()).with_context(|| format!("writing {stem}.geojson"))?;
        }
        Ok(())
    }
}

/// Scores `cameras` on the site.
///
/// # Errors
/// Only when the map cannot be encoded as PNG.
pub fn assess(scenario: &Scenario, site: &SiteModel, cameras: &[CameraSpec]) -> anyhow::Result<Assessment> {
    let settings = &scenario.placement;
    let views: Vec<View> = cameras.iter().map(View::of).collect();
    let (best, seen_by) = coverage::coverage_map(&site.grid, &views, &site.occluders, settings.head_height_m);
    let districts: Vec<coverage::District> = settings.districts.iter().map(|d| (d.name.clone(), [d.rect.0, d.rect.1, d.rect.2, d.rect.3])).collect();
    let mut summary = coverage::summarise(&site.grid, &best, &seen_by, &site.footfall, &districts);
    let zones: Vec<(String, [f32; 3], [f32; 3])> =
        settings.private_zones.iter().map(|z| (z.name.clone(), [z.min.0, z.min.1, z.min.2], [z.max.0, z.max.1, z.max.2])).collect();
    summary.private_views = coverage::private_views(&views, &site.occluders, &zones);
    let capture = coverage::incident_capture(&views, &site.occluders, settings.head_height_m, &site.tracks, scenario.dt() as f64, settings.capture_min_s as f64);
    let map_png = coverage::map_png(&site.grid, &best, &site.footfall, &views, &site.layout).map_err(anyhow::Error::msg)?;
    let map_geojson = site.layout.origin.map(|origin| crowdtwin_reports::geography::coverage_geojson(&site.grid, &best, &site.footfall, &views, &origin));
    Ok(Assessment { run: RunCoverage { coverage: summary, capture }, map_png, map_geojson })
}

/// The coverage section files of a run: `coverage.json` and `plots/coverage.png` in `dir`.
///
/// # Errors
/// As [`SiteModel::of`] and [`assess`], or a file that cannot be written.
pub fn write_run_coverage(dir: &Path, scenario: &Scenario) -> anyhow::Result<()> {
    let site = SiteModel::of(scenario)?;
    let assessment = assess(scenario, &site, &scenario.cameras)?;
    assessment.write_maps(&dir.join("plots"), "coverage")?;
    write_atomic(&dir.join("coverage.json"), serde_json::to_string_pretty(&assessment)?.as_bytes()).context("writing coverage.json")?;
    Ok(())
}

/// Seconds to score `views` candidate views on a 200 m × 200 m site (the scenario's site grown
/// to it), with the walkable cells and the view-cells seen.
pub fn bench_coverage(base: &Scenario, views: usize) -> anyhow::Result<(f64, usize, usize)> {
    let mut site = base.site.template().cloned().ok_or_else(|| anyhow::anyhow!("the coverage benchmark grows the template's plaza: give it a `template(…)` scenario"))?;
    let margin = site.street_width_m + site.pavement_width_m;
    site.plaza_size_m = (200.0 - 2.0 * margin, 200.0 - 2.0 * margin);
    let layout = SiteLayout::template(&site, base.seed);
    let grid = Grid::of_site(&layout, 0.5);
    let occluders = Occluders::from_layout(&layout);
    let mut candidates = placement::auto_candidates(&layout, &base.cameras[0], 8.0);
    anyhow::ensure!(!candidates.is_empty(), "no candidates on the benchmark site");
    // Evenly spaced over the generated ones, repeated when there are fewer.
    let generated = candidates.len();
    candidates = (0..views).map(|k| candidates[k * generated / views.max(1) % generated].clone()).collect();
    let started = Instant::now();
    let views: Vec<View> = candidates.iter().map(View::of).collect();
    let seen: usize = coverage::cells_seen_by_each(&grid, &views, &occluders, base.placement.head_height_m, 1).iter().map(Vec::len).sum();
    Ok((started.elapsed().as_secs_f64(), grid.walkable.iter().filter(|w| **w).count(), seen))
}
