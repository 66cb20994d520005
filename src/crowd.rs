//! `crowdtwin diagram` and the crowd rows of `crowdtwin bench`: the pedestrian model on its own.

use crowdtwin_agents::crowd::CrowdModel;
use crowdtwin_agents::pedestrians::{corridor_speed, weidmann_speed, SpeedModel};
use crowdtwin_agents::population::generate_population;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_core::site::SiteLayout;
use crowdtwin_reports::charts::{line_chart, RGBColor, Series};
use crowdtwin_reports::output::write_atomic;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Stages a scenario's crowd without rendering: the incidents as planned, or why they cannot be
/// (too few persons that an incident's `who` admits, no bench for a bench activity, …).
pub fn plan_incidents(scenario: &Scenario) -> anyhow::Result<Vec<crowdtwin_agents::incidents::IncidentPlan>> {
    Ok(staged_crowd(scenario)?.incidents().to_vec())
}

/// The scenario's crowd on its laid-out site, staged and ready to step (no rendering): the same
/// deterministic crowd a run renders.
pub fn staged_crowd(scenario: &Scenario) -> anyhow::Result<CrowdModel> {
    let persons = generate_population(scenario);
    let layout = Arc::new(crowdtwin_sites::load(scenario).map_err(|e| anyhow::anyhow!("site: {e}"))?.layout);
    CrowdModel::new(scenario, &persons, layout).map_err(|e| anyhow::anyhow!("cannot stage the scenario: {e}"))
}

/// Densities at which the corridor is measured, persons per square metre.
pub const DIAGRAM_DENSITIES: [f32; 10] = [0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5];

/// Measures the fundamental diagram in a periodic corridor (30 m × 4 m), writes the plot
/// against Weidmann's curve as SVG to `out`, and returns the table as Markdown.
pub fn fundamental_diagram(out: &Path) -> anyhow::Result<String> {
    let model = SpeedModel::default();
    let mut table = String::from("| density (/m²) | simulated speed (m/s) | Weidmann 1993 (m/s) | difference |\n|---|---|---|---|\n");
    let mut measured = Vec::new();
    for density in DIAGRAM_DENSITIES {
        let point = corridor_speed(&model, density, 30.0, 4.0, 1);
        let expected = weidmann_speed(density);
        table.push_str(&format!("| {density:.2} | {:.3} | {expected:.3} | {:+.3} |\n", point.mean_speed_mps, point.mean_speed_mps - expected));
        measured.push((density as f64, point.mean_speed_mps as f64));
    }
    let curve: Vec<(f64, f64)> = (1..=110).map(|i| i as f64 * 0.05).map(|d| (d, weidmann_speed(d as f32) as f64)).collect();
    let svg = line_chart(
        "Corridor fundamental diagram: collision-free speed model vs Weidmann (1993)",
        "density (persons / m²)",
        "mean speed (m/s)",
        (0.0, 5.5),
        (0.0, 1.6),
        &[
            Series { label: "Weidmann 1993", colour: RGBColor(120, 120, 120), points: curve, markers: false },
            Series { label: "crowdtwin (30 m × 4 m periodic corridor)", colour: RGBColor(52, 101, 164), points: measured, markers: true },
        ],
    )
    .map_err(|e| anyhow::anyhow!("drawing the diagram: {e}"))?;
    write_atomic(out, svg.as_bytes()).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    Ok(table)
}

/// City scale on an imported site (one core): seconds to import the map and lay it out, seconds
/// to build the crowd of `count` persons (all present from the start) and plan everybody's first
/// route, and milliseconds per tick to step them (mean over `ticks`).
///
/// # Errors
/// The scenario or its map cannot be read, or the crowd cannot be staged.
pub fn city_benchmark(path: &Path, count: u32, ticks: u64) -> anyhow::Result<(f64, f64, f64)> {
    let mut scenario = crate::scenario::load_scenario(path, None, None)?;
    scenario.population.count = count;
    scenario.population.flow.present_at_start = 1.0;
    scenario.incidents.clear();
    scenario.duration_s = scenario.duration_s.max(ticks as f32 / scenario.tick_hz as f32 + 1.0);
    let started = Instant::now();
    let layout = Arc::new(crowdtwin_sites::load(&scenario).map_err(|e| anyhow::anyhow!("{}: site: {e}", path.display()))?.layout);
    let import_s = started.elapsed().as_secs_f64();
    let persons = generate_population(&scenario);
    let started = Instant::now();
    let mut crowd = CrowdModel::new(&scenario, &persons, layout).map_err(|e| anyhow::anyhow!(e))?;
    crowd.step(); // the first tick plans everybody's first route
    let route_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..ticks {
        crowd.step();
    }
    Ok((import_s, route_s, started.elapsed().as_secs_f64() * 1e3 / ticks.max(1) as f64))
}

/// Agent steps per second of the crowd model alone (one core) for `count` agents, on the
/// scenario's site grown to keep about 0.25 persons per square metre of plaza.
pub fn crowd_steps_per_second(base: &Scenario, count: u32, ticks: u64) -> anyhow::Result<(f64, f64)> {
    let mut scenario = base.clone();
    scenario.population.count = count;
    scenario.incidents.clear();
    let side = (count as f32 / 0.25).sqrt().max(40.0);
    let site = scenario.site.template_mut().ok_or_else(|| anyhow::anyhow!("the crowd benchmark grows the template's plaza: give it a `template(…)` scenario"))?;
    site.plaza_size_m = (side * 1.15, side / 1.15);
    scenario.duration_s = scenario.duration_s.max(ticks as f32 / scenario.tick_hz as f32 + 1.0);
    let persons = generate_population(&scenario);
    let layout = Arc::new(SiteLayout::template(scenario.site.template().expect("template"), scenario.seed));
    let started = Instant::now();
    let mut crowd = CrowdModel::new(&scenario, &persons, layout).map_err(|e| anyhow::anyhow!(e))?;
    crowd.step(); // the first tick plans everybody's first route
    let setup_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..ticks {
        crowd.step();
    }
    Ok((count as f64 * ticks as f64 / started.elapsed().as_secs_f64(), setup_s))
}
