//! Renders a line-up of simulated people close to a camera and writes it as a PNG:
//! `cargo run --release --example lineup -- docs/lineup.png`.
//! A quick way to look at bodies, clothing, skin tones, head coverings and wheelchairs.

use crowdtwin_core::scenario::Scenario;
use crowdtwin_core::taxonomy::{AgeGroup, HeadCovering, MobilityAid};
use crowdtwin_reports::images::png_bytes;
use crowdtwin_sim::{SimOptions, Simulation};
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "lineup.png".into());
    let text = r#"(
        version: 1, name: "lineup", seed: 5, duration_s: 1.0, tick_hz: 10, time_of_day_h: 11.0,
        site: (plaza_size_m: (30.0, 24.0), street_width_m: 6.0, pavement_width_m: 3.0,
               building_height_m: (8.0, 12.0), benches: 0, transit_stop: false),
        population: (count: 10, mix: (
            skin_tone: {1: 0.2, 3: 0.2, 5: 0.2, 8: 0.2, 10: 0.2},
            age_group: {child: 0.2, adult: 0.6, older_adult: 0.2},
            mobility_aid: {none: 0.9, wheelchair: 0.1},
            head_covering: {none: 0.4, hijab: 0.2, hat: 0.1, niqab: 0.1, mask: 0.1, sunglasses: 0.1})),
        cameras: [(id: "c", position: (0.0, 2.2, 8.5), yaw_deg: 0.0, pitch_deg: 8.0, hfov_deg: 58.0,
                   sensor_resolution: (1920, 1080), render_resolution: (1280, 720), fps: 10)],
    )"#;
    let scenario = Scenario::parse(text, Path::new("lineup"))?;
    let mut sim = Simulation::new(&scenario, &SimOptions::default())?;
    let mut people: Vec<_> = sim.persons().to_vec();
    people.sort_by_key(|p| (p.demographics.mobility_aid == MobilityAid::Wheelchair, p.demographics.age_group == AgeGroup::Child));
    for (slot, person) in people.iter().enumerate() {
        let x = -3.8 + slot as f32 * 0.85;
        let z = if slot % 2 == 0 { 0.0 } else { 0.8 };
        let turn = if person.demographics.head_covering == HeadCovering::None { 0.0 } else { 0.35 };
        sim.place_person(person.id, x, z, turn);
    }
    let frame = sim.step()?.remove(0);
    std::fs::write(&out, png_bytes(&frame.rgba).map_err(anyhow::Error::msg)?)?;
    for p in &people {
        println!("{:>2}: {:?}", p.id, p.demographics);
    }
    println!("wrote {out}");
    Ok(())
}
