//! Renders every incident and protected activity of a scenario close up, halfway through, as
//! one contact sheet: `cargo run --release --example activities -- scenarios/plaza.ron docs/activities.png`.
//! One extra camera per event, 7 m from its centre, looking at it from the plaza's middle.

use crowdtwin_agents::crowd::CrowdModel;
use crowdtwin_agents::population::generate_population;
use crowdtwin_core::scenario::{CameraSpec, Scenario};
use crowdtwin_reports::images::{contact_sheet, png_bytes};
use crowdtwin_sim::{SimOptions, Simulation};
use std::path::Path;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let scenario_path = args.next().unwrap_or_else(|| "scenarios/plaza.ron".into());
    let out = args.next().unwrap_or_else(|| "activities.png".into());
    let mut scenario = Scenario::load(Path::new(&scenario_path))?;
    let layout = Arc::new(crowdtwin_sites::load(&scenario).map_err(anyhow::Error::msg)?.layout);
    let plans = CrowdModel::new(&scenario, &generate_population(&scenario), layout).map_err(anyhow::Error::msg)?.incidents().to_vec();
    scenario.cameras = plans
        .iter()
        .map(|plan| {
            let (cx, cz) = (plan.centre.x, plan.centre.y);
            let length = (cx * cx + cz * cz).sqrt().max(1e-3);
            let (ux, uz) = if length < 0.5 { (0.0, 1.0) } else { (-cx / length, -cz / length) };
            let at = (cx + ux * 7.0, cz + uz * 7.0);
            // Compass yaw of the direction from the camera to the event (north = −z, clockwise).
            let yaw = (-ux).atan2(uz).to_degrees();
            CameraSpec {
                id: format!("{}-{}", plan.index, plan.kind.name()),
                position: (at.0, 2.6, at.1),
                yaw_deg: yaw,
                pitch_deg: 12.0,
                hfov_deg: 50.0,
                sensor_resolution: (1920, 1440),
                render_resolution: (400, 300),
                fps: 1,
                degradation: Default::default(),
                privacy_masks: Vec::new(),
            }
        })
        .collect();
    scenario.render.shadows = true;
    // Cameras render once a second: the shot is the rendered tick nearest the middle.
    let every = scenario.tick_hz as u64;
    let middle = |p: &crowdtwin_agents::incidents::IncidentPlan| ((p.start_tick + p.end_tick) / 2 + every / 2) / every * every;
    let last = plans.iter().map(middle).max().unwrap_or(0);
    let mut sim = Simulation::new(&scenario, &SimOptions::default())?;
    let mut shots = vec![None; plans.len()];
    while sim.tick() <= last {
        let tick = sim.tick();
        for frame in sim.step()? {
            let plan = &plans[frame.key.camera as usize];
            if tick == middle(plan) {
                shots[frame.key.camera as usize] = Some(frame.rgba);
            }
        }
    }
    let images: Vec<_> = shots.into_iter().flatten().collect();
    let rows: Vec<Vec<_>> = images.chunks(3).map(|c| c.to_vec()).collect();
    std::fs::write(&out, png_bytes(&contact_sheet(&rows)).map_err(anyhow::Error::msg)?)?;
    for plan in &plans {
        println!("{:>2}: {} at ({:.1}, {:.1}), ticks {}..{}", plan.index, plan.kind.name(), plan.centre.x, plan.centre.y, plan.start_tick, plan.end_tick);
    }
    println!("wrote {out}");
    Ok(())
}
