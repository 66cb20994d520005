//! Crowd tests: the model alone, no renderer.

use crate::crowd::{Activity, CrowdModel};
use crate::pedestrians::{corridor_speed, weidmann_speed, SpeedModel};
use crate::population::generate_population;
use crowdtwin_core::incident::{IncidentKind, Pairing};
use crowdtwin_core::scenario::{Carried, Scenario};
use crowdtwin_core::site::{ObstacleKind, SiteLayout};
use crowdtwin_core::taxonomy::{AgeGroup, MobilityAid};
use std::path::Path;
use std::sync::Arc;

/// A plaza with every kind of incident and protected activity scheduled.
fn scenario(seed: u64, count: u32, duration_s: f32) -> Scenario {
    let text = format!(
        r#"(
    version: 1, name: "crowd-test", seed: {seed}, duration_s: {duration_s}, tick_hz: 10, time_of_day_h: 12.0,
    site: (plaza_size_m: (40.0, 30.0), street_width_m: 7.0, pavement_width_m: 3.0, building_height_m: (9.0, 20.0),
           benches: 4, transit_stop: true, trees: 3),
    population: (count: {count}, mix: (
        skin_tone: {{ 1: 0.1, 2: 0.1, 3: 0.1, 4: 0.1, 5: 0.1, 6: 0.1, 7: 0.1, 8: 0.1, 9: 0.1, 10: 0.1 }},
        age_group: {{ child: 0.1, adult: 0.75, older_adult: 0.15 }},
        mobility_aid: {{ none: 0.95, wheelchair: 0.05 }},
        head_covering: {{ none: 0.8, hijab: 0.1, niqab: 0.05, hat: 0.05 }},
    )),
    cameras: [(id: "c", position: (0.0, 8.0, 20.0), yaw_deg: 0.0, pitch_deg: 25.0, hfov_deg: 70.0,
               sensor_resolution: (1920, 1080), render_resolution: (480, 270), fps: 5)],
    incidents: [
        (kind: fight, start_s: 6.0, duration_s: (6.0, 9.0), place: point(-8.0, -5.0)),
        (kind: collapse, start_s: 8.0, duration_s: (5.0, 8.0)),
        (kind: abandoned_object, start_s: 14.0, duration_s: (8.0, 12.0), abandon_after_s: 8.0, place: point(6.0, 6.0)),
        (kind: loitering, start_s: 5.0, duration_s: (10.0, 14.0), place: zone(10.0, -12.0, 16.0, -6.0)),
        (kind: dispersal, start_s: 12.0, duration_s: (4.0, 6.0), participants: Some((6, 8))),
        (kind: vandalism, start_s: 9.0, duration_s: (5.0, 7.0)),
        (kind: assembly, start_s: 7.0, duration_s: (8.0, 10.0), participants: Some((6, 8))),
        (kind: prayer, start_s: 6.0, duration_s: (10.0, 12.0)),
        (kind: hug, start_s: 5.0, duration_s: (3.0, 5.0), pairing: same),
        (kind: hug, start_s: 9.0, duration_s: (3.0, 5.0), pairing: mixed),
        (kind: bag_snatch, start_s: 7.0, duration_s: (5.0, 6.0), pairing: mixed, place: point(0.0, 8.0)),
        (kind: children_playing, start_s: 4.0, duration_s: (8.0, 10.0)),
        (kind: sitting_on_bench, start_s: 5.0, duration_s: (8.0, 10.0)),
        (kind: lying_on_bench, start_s: 6.0, duration_s: (8.0, 10.0)),
        (kind: busking, start_s: 8.0, duration_s: (8.0, 10.0)),
        (kind: standing_in_religious_dress, start_s: 6.0, duration_s: (6.0, 8.0)),
        (kind: vehicle_collision, start_s: 10.0, duration_s: (5.0, 7.0), place: point(10.0, -14.0)),
    ],
    traffic: (moving_cars: 4, parked_cars: 5),
)"#
    );
    Scenario::parse(&text, Path::new("crowd-test.ron")).unwrap()
}

fn model(scenario: &Scenario) -> CrowdModel {
    let persons = generate_population(scenario);
    let layout = Arc::new(SiteLayout::template(scenario.site.template().expect("a template site"), scenario.seed));
    CrowdModel::new(scenario, &persons, layout).unwrap()
}

fn run(model: &mut CrowdModel, ticks: u64) -> Vec<String> {
    (0..ticks)
        .map(|_| {
            model.step();
            format!("{:?}{:?}", model.poses(), model.objects())
        })
        .collect()
}

#[test]
fn same_seed_same_crowd_and_incidents_other_seed_other() {
    let (a, b, c) = (scenario(5, 120, 30.0), scenario(5, 120, 30.0), scenario(6, 120, 30.0));
    let (mut ma, mut mb, mut mc) = (model(&a), model(&b), model(&c));
    assert_eq!(ma.incidents(), mb.incidents());
    assert_ne!(ma.incidents(), mc.incidents(), "another seed stages another performance");
    let (ra, rb, rc) = (run(&mut ma, 250), run(&mut mb, 250), run(&mut mc, 250));
    assert!(ra == rb, "identical trajectories for the same seed");
    assert!(ra != rc);
}

#[test]
fn incidents_start_and_end_on_their_scheduled_ticks_and_are_performed() {
    let scenario = scenario(9, 120, 30.0);
    let mut crowd = model(&scenario);
    let plans = crowd.incidents().to_vec();
    assert_eq!(plans.len(), scenario.incidents.len());
    for (plan, spec) in plans.iter().zip(&scenario.incidents) {
        assert_eq!(plan.start_tick, (spec.start_s * 10.0).round() as u64, "{:?}", plan.kind);
        let duration = (plan.end_tick - plan.start_tick) as f32 / 10.0;
        assert!(duration >= spec.duration_s.0 - 0.051 && duration <= spec.duration_s.1 + 0.051, "{:?}: {duration} s", plan.kind);
        assert_eq!(plan.protected, spec.kind.is_protected());
        if spec.pairing != Pairing::Any {
            let people = generate_population(&scenario);
            let gender = |k: usize| people[plan.participants[k] as usize].demographics.gender_presentation;
            assert_eq!(gender(0) == gender(1), spec.pairing == Pairing::Same, "{:?} pair", spec.pairing);
        }
        if spec.kind == IncidentKind::BagSnatch {
            assert_eq!(generate_population(&scenario)[plan.participants[0] as usize].carried, Carried::Bag, "the victim carries a bag");
        }
        let (low, high) = spec.participant_range();
        assert!((low as usize..=high as usize).contains(&plan.participants.len()));
        for &person in &plan.participants {
            assert!(spec.who().admits(&generate_population(&scenario)[person as usize].demographics));
        }
    }
    // Every person takes part in at most one event.
    let mut all: Vec<u32> = plans.iter().flat_map(|p| p.participants.clone()).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n);
    // What each performance looks like while under way.
    let mut seen: std::collections::BTreeMap<IncidentKind, Vec<Activity>> = Default::default();
    let mut bag_on_ground = false;
    let mut struck = false;
    for _ in 0..300 {
        crowd.step();
        let tick = crowd.tick() - 1;
        let poses = crowd.poses();
        for plan in &plans {
            if plan.is_active(tick) {
                for &p in &plan.participants {
                    seen.entry(plan.kind).or_default().push(poses[p as usize].activity);
                }
                if plan.kind == IncidentKind::VehicleCollision && tick == plan.start_tick {
                    let victim = poses[plan.participants[0] as usize].position;
                    struck = crowd.cars().iter().any(|c| c.present && c.position.distance(victim) < 2.5);
                }
                if plan.kind == IncidentKind::AbandonedObject {
                    let bag = crowd.objects()[plan.objects[0] as usize];
                    bag_on_ground |= bag.present && bag.centre.y < 0.25;
                }
            }
        }
    }
    let did = |kind: IncidentKind, activity: Activity| seen.get(&kind).is_some_and(|v| v.contains(&activity));
    assert!(did(IncidentKind::Fight, Activity::Striking) && did(IncidentKind::Fight, Activity::Fallen), "{:?}", seen.get(&IncidentKind::Fight));
    assert!(did(IncidentKind::Collapse, Activity::Fallen));
    assert!(did(IncidentKind::Vandalism, Activity::Striking));
    assert!(did(IncidentKind::Prayer, Activity::Kneeling));
    assert!(did(IncidentKind::Hug, Activity::Hugging));
    assert!(did(IncidentKind::Assembly, Activity::HoldingPlacard));
    assert!(did(IncidentKind::Dispersal, Activity::Running));
    assert!(did(IncidentKind::ChildrenPlaying, Activity::Running));
    assert!(did(IncidentKind::SittingOnBench, Activity::Sitting));
    assert!(did(IncidentKind::LyingOnBench, Activity::LyingOnBench));
    assert!(did(IncidentKind::Busking, Activity::Busking));
    assert!(did(IncidentKind::BagSnatch, Activity::Running) && did(IncidentKind::BagSnatch, Activity::Striking), "the snatcher runs up, grabs and runs: {:?}", seen.get(&IncidentKind::BagSnatch));
    assert!(bag_on_ground, "the abandoned bag lies on the ground while the incident lasts");
    assert!(struck && did(IncidentKind::VehicleCollision, Activity::Fallen), "the car reaches the person crossing at the start tick, who falls");
}

#[test]
fn nobody_walks_through_a_building_or_off_the_pavement_over_a_long_run() {
    let scenario = scenario(3, 200, 300.0);
    let mut crowd = model(&scenario);
    let layout = crowd.layout().clone();
    let persons = generate_population(&scenario);
    // The victim of the staged collision crosses away from a crossing, by design.
    let jaywalkers: Vec<u32> =
        crowd.incidents().iter().filter(|p| p.kind == IncidentKind::VehicleCollision).flat_map(|p| p.participants.clone()).collect();
    let mut present_ticks = 0u64;
    for _ in 0..3000 {
        crowd.step();
        for pose in crowd.poses() {
            if !pose.present {
                continue;
            }
            present_ticks += 1;
            let (x, z) = (pose.position.x, pose.position.y);
            for obstacle in &layout.obstacles {
                if obstacle.kind != ObstacleKind::Bench {
                    assert!(!obstacle.bounds.contains_ground(x, z, 0.0), "person {} inside a {:?} at ({x}, {z}) on tick {}", pose.person, obstacle.kind, crowd.tick());
                }
            }
            let wheelchair = persons[pose.person as usize].demographics.mobility_aid == MobilityAid::Wheelchair;
            assert!(jaywalkers.contains(&pose.person) || layout.is_pedestrian_area(x, z, 0.0, wheelchair) || layout.obstacles.iter().any(|o| o.kind == ObstacleKind::Bench && o.bounds.contains_ground(x, z, 0.1)),
                "person {} on the street at ({x}, {z})", pose.person);
        }
    }
    assert!(present_ticks > 200 * 3000 / 3, "people come and go but the site is not empty: {present_ticks}");
}

#[test]
fn the_demographic_mix_is_exact() {
    let scenario = scenario(11, 200, 30.0);
    let people = generate_population(&scenario);
    let dark = people.iter().filter(|p| p.demographics.skin_tone.monk() >= 8).count();
    let children = people.iter().filter(|p| p.demographics.age_group == AgeGroup::Child).count();
    let wheelchairs = people.iter().filter(|p| p.demographics.mobility_aid == MobilityAid::Wheelchair).count();
    assert_eq!((dark, children, wheelchairs), (60, 20, 10));
    // Carried objects: default shares over the 190 persons on foot.
    let carrying = |what: Carried| people.iter().filter(|p| p.carried == what).count();
    // 190 × 0.25 = 47.5 and 190 × 0.15 = 28.5: the largest remainder (0.15 is a hair above in f32) gets the odd one.
    assert_eq!((carrying(Carried::Bag), carrying(Carried::Phone), carrying(Carried::None)), (47, 29, 114 + 10));
    assert!(people.iter().filter(|p| p.demographics.mobility_aid == MobilityAid::Wheelchair).all(|p| p.carried == Carried::None));
}

#[test]
fn the_corridor_follows_weidmanns_fundamental_diagram() {
    // Stated band: within 0.15 m/s of Weidmann (1993) from 0.5 to 5 persons/m².
    let model = SpeedModel::default();
    let measured: Vec<(f32, f32, f32)> = [0.5f32, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0]
        .iter()
        .map(|&density| (density, corridor_speed(&model, density, 30.0, 4.0, 1).mean_speed_mps, weidmann_speed(density)))
        .collect();
    assert!(measured.iter().all(|(_, speed, expected)| (speed - expected).abs() <= 0.15), "(density, simulated, Weidmann): {measured:?}");
}
