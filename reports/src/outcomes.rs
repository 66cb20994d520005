//! Anomaly outcomes by group: alerts are decisions about people. For each person, how often
//! the incidents they took part in went undetected, how often the protected activities they
//! took part in were flagged, and how often they stood inside a false alert's region — "who is
//! put under suspicion". Grouped by the persons' attributes with the same cluster bootstrap
//! over persons and the same too-few rule as the masking bias ([`crate::bias`]).

use crate::bias::{grouped_bias, AttributeBias, BiasOptions, PersonOutcome};
use crate::records::RunRecords;
use crate::regions::{area, intersection};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Per participation in a visible incident: the incident went undetected.
    IncidentMissRate,
    /// Per participation in a visible protected activity: the activity was flagged.
    ProtectedFlagRate,
    /// Per frame in which the person is visible (≥ `min_visible_px`): at least half of the
    /// person's visible box lies inside a region of a false alert.
    SuspicionRate,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 3] = [Outcome::IncidentMissRate, Outcome::ProtectedFlagRate, Outcome::SuspicionRate];

    /// Name in summaries and policies.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::IncidentMissRate => "incident_miss_rate",
            Outcome::ProtectedFlagRate => "protected_flag_rate",
            Outcome::SuspicionRate => "suspicion_rate",
        }
    }

    /// What one event is, in words (plural).
    pub fn events(self) -> &'static str {
        match self {
            Outcome::IncidentMissRate => "participations in visible incidents",
            Outcome::ProtectedFlagRate => "participations in visible protected activities",
            Outcome::SuspicionRate => "person-frames in view",
        }
    }
}

/// Each person's events and how many counted against them, for `outcome`. Needs the run's
/// alerts scored ([`crate::alerts::apply_outcome`]).
pub fn person_outcomes(records: &RunRecords, outcome: Outcome) -> BTreeMap<u32, PersonOutcome> {
    let min_px = records.runs.first().map_or(1, |r| r.min_visible_px);
    let mut out: BTreeMap<u32, PersonOutcome> = BTreeMap::new();
    match outcome {
        Outcome::IncidentMissRate | Outcome::ProtectedFlagRate => {
            let guarded = outcome == Outcome::ProtectedFlagRate;
            let class = if guarded { crate::profile::EventClass::Protected } else { crate::profile::EventClass::Incident };
            let visible = crate::alerts::visible_incidents(records);
            for incident in records.incidents.iter().filter(|i| i.class() == class && visible.contains(&i.incident)) {
                // Incidents count against a participant when missed; protected activities when flagged.
                let against = if guarded { incident.detected } else { !incident.detected };
                for &person in &incident.persons {
                    let entry = out.entry(person).or_insert(PersonOutcome { scored: 0, missed: 0 });
                    entry.scored += 1;
                    entry.missed += u32::from(against);
                }
            }
        }
        Outcome::SuspicionRate => {
            let false_alerts: BTreeSet<u32> = records.alerts.iter().filter(|a| a.false_alert).map(|a| a.alert).collect();
            let mut regions: BTreeMap<(u64, u16), Vec<[f64; 4]>> = BTreeMap::new();
            for region in records.alert_regions.iter().filter(|r| false_alerts.contains(&r.alert)) {
                regions.entry((region.tick, region.camera)).or_default().push(region.bbox());
            }
            for o in records.observations.iter().filter(|o| o.visible_px >= min_px) {
                let Some(b) = o.visible_box() else { continue };
                let b = b.map(|v| v as f64);
                let inside = regions.get(&(o.tick, o.camera)).is_some_and(|rs| rs.iter().any(|r| intersection(*r, b) >= 0.5 * area(b)));
                let entry = out.entry(o.person).or_insert(PersonOutcome { scored: 0, missed: 0 });
                entry.scored += 1;
                entry.missed += u32::from(inside);
            }
        }
    }
    out
}

/// One outcome grouped by one attribute list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeBias {
    /// Which outcome (its rate is each group's `miss_rate` below).
    pub outcome: Outcome,
    /// What one event is.
    pub events: &'static str,
    /// Events a group needs for its rate to be known within ±10 points (95 %): the normal
    /// approximation n = 1.96² p (1 − p) / 0.1² at the pooled rate p (p = 0.5 when none is
    /// known); more when one person's events are alike.
    pub events_needed: u64,
    /// The groups, as for masking (their `miss_rate` is this outcome's rate).
    pub bias: AttributeBias,
}

/// `outcome` grouped by `attributes`.
pub fn outcome_bias(records: &RunRecords, outcome: Outcome, attributes: &[&str], options: &BiasOptions) -> OutcomeBias {
    let outcomes = person_outcomes(records, outcome);
    let (scored, against) = outcomes.values().fold((0u64, 0u64), |(s, m), o| (s + o.scored as u64, m + o.missed as u64));
    let p = if scored > 0 { against as f64 / scored as f64 } else { 0.5 };
    // At a pooled rate of 0 or 1 the formula says 0: one event would do, which it would not.
    let p = p.clamp(0.05, 0.95);
    let events_needed = (1.96f64 * 1.96 * p * (1.0 - p) / 0.01).ceil() as u64;
    OutcomeBias { outcome, events: outcome.events(), events_needed, bias: grouped_bias(records, &outcomes, attributes, options) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use crowdtwin_core::taxonomy::*;

    fn person(id: u32, age: AgeGroup) -> PersonRecord {
        let d = Demographics {
            skin_tone: SkinTone::try_from(5).unwrap(),
            gender_presentation: GenderPresentation::Feminine,
            age_group: age,
            mobility_aid: MobilityAid::None,
            head_covering: HeadCovering::None,
            body_size: BodySize::Average,
            clothing_colour: ClothingColour::Blue,
        };
        PersonRecord::new(id, d, 1.7)
    }

    #[test]
    fn who_stands_inside_a_false_alerts_region_and_whose_events_go_unseen() {
        let mut records = RunRecords::default();
        records.runs.push(test_run());
        records.persons = vec![person(1, AgeGroup::Child), person(2, AgeGroup::Adult)];
        // Person 1 (a child) stands in a false alert's region on both frames, person 2 on none.
        let obs = |tick, person, b: [u32; 4]| ObservationRecord {
            tick, camera: 0, person, visible_px: 100, unoccluded_px: 100, height_px: 50.0, pixels_per_metre: 50.0, depth_m: 10.0, exposed_px: 0,
            box_x0: Some(b[0]), box_y0: Some(b[1]), box_x1: Some(b[2]), box_y1: Some(b[3]),
        };
        records.observations = vec![obs(0, 1, [0, 0, 10, 20]), obs(0, 2, [100, 0, 110, 20]), obs(2, 1, [0, 0, 10, 20]), obs(2, 2, [100, 0, 110, 20])];
        records.alerts = vec![AlertRecord {
            alert: 0, camera: 0, start_tick: 0, raised_tick: 0, end_tick: 2, start_s: 0.0, raised_s: 0.0, end_s: 0.2, confidence_pct: 90.0,
            roi_x0: 0.0, roi_y0: 0.0, roi_x1: 40.0, roi_y1: 40.0, site_x_m: None, site_z_m: None, latitude_deg: None, longitude_deg: None, text: String::new(), metadata_bytes: 0,
            detected_incidents: vec![], flagged_activities: vec![], disproportionate_events: Vec::new(), false_alert: true,
        }];
        records.alert_regions = [0, 2].iter().map(|&tick| AlertRegionRecord { alert: 0, tick, camera: 0, region: 0, x0: 0.0, y0: 0.0, x1: 40.0, y1: 40.0, score: 0.9 }).collect();
        let suspicion = person_outcomes(&records, Outcome::SuspicionRate);
        assert_eq!((suspicion[&1].scored, suspicion[&1].missed, suspicion[&2].missed), (2, 2, 0));
        let by_age = outcome_bias(&records, Outcome::SuspicionRate, &["age_group"], &BiasOptions { min_persons: 1, resamples: 100, ..Default::default() });
        let rate = |v: &str| by_age.bias.groups.iter().find(|g| g.value == v).and_then(|g| g.miss_rate);
        assert_eq!((rate("child"), rate("adult")), (Some(1.0), Some(0.0)));
        // An undetected fight with both as participants counts against both; a flagged hug only for its pair.
        records.incidents = vec![
            IncidentRecord { incident: 0, kind: "fight".into(), protected: false, out_of_scope: false, start_tick: 0, end_tick: 4, persons: vec![1, 2], objects: vec![], centre_x: 0.0, centre_z: 0.0, intensity: 1.0, detected: false, time_to_alert_s: None },
            IncidentRecord { incident: 1, kind: "hug".into(), protected: true, out_of_scope: false, start_tick: 0, end_tick: 4, persons: vec![1], objects: vec![], centre_x: 0.0, centre_z: 0.0, intensity: 1.0, detected: true, time_to_alert_s: Some(0.0) },
        ];
        records.incident_frames = vec![IncidentFrameRecord::new(0, 0, 0, 100, 100, Some([0, 0, 20, 20])), IncidentFrameRecord::new(0, 0, 1, 100, 100, Some([0, 0, 20, 20]))];
        let missed = person_outcomes(&records, Outcome::IncidentMissRate);
        assert_eq!((missed[&1].missed, missed[&2].missed), (1, 1));
        let flagged = person_outcomes(&records, Outcome::ProtectedFlagRate);
        assert_eq!((flagged[&1].scored, flagged[&1].missed, flagged.contains_key(&2)), (1, 1, false));
        assert!(outcome_bias(&records, Outcome::IncidentMissRate, &["age_group"], &BiasOptions::default()).events_needed >= 18);
    }
}
