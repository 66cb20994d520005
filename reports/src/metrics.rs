//! Masking metrics, computed from a run's records.
//!
//! * exposed fraction (per person-frame) = visible person pixels the masker left unpainted ÷
//!   visible person pixels;
//! * a person-frame is **missed** when its exposed fraction exceeds the miss threshold (0.2 by
//!   default); only person-frames with at least `min_visible_px` visible pixels are scored;
//! * miss rate = missed ÷ scored person-frames (pooled), overall, per group, per height,
//!   distance and occlusion bin, and per staged event kind (its participants while it runs);
//! * masking recall = 1 − miss rate;
//! * false-mask area = painted pixels that show no person, as a fraction of all pixels.

use crate::records::{ObservationRecord, PersonRecord, RunRecords};
use crowdtwin_core::taxonomy::{
    AgeGroup, BodySize, ClothingColour, GenderPresentation, HeadCovering, MobilityAid, SkinTone, GROUPING_ATTRIBUTES,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The miss rate of one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupRate {
    /// Group value (e.g. `"7"` for Monk 7, `"child"`, `"60–100 px"`).
    pub value: String,
    /// Distinct persons behind the scored person-frames.
    pub persons: usize,
    /// Scored person-frames.
    pub person_frames: usize,
    /// Missed person-frames.
    pub missed: usize,
    /// missed ÷ person_frames; `None` without scored person-frames.
    pub miss_rate: Option<f64>,
}

/// Height bins (pixels of the unoccluded silhouette) for recall against person size.
pub const HEIGHT_BINS: [(f64, f64, &str); 5] =
    [(0.0, 30.0, "<30 px"), (30.0, 60.0, "30–60 px"), (60.0, 100.0, "60–100 px"), (100.0, 150.0, "100–150 px"), (150.0, f64::INFINITY, "≥150 px")];

/// Pixel-density bins (pixels per metre at the sensor) at the DORI levels of IEC 62676-4:
/// below Detect, Detect, Observe, Recognise, Identify.
pub const DENSITY_BINS: [(f64, f64, &str); 5] = [
    (0.0, 25.0, "<25 px/m"),
    (25.0, 62.0, "25–62 px/m (detect)"),
    (62.0, 125.0, "62–125 px/m (observe)"),
    (125.0, 250.0, "125–250 px/m (recognise)"),
    (250.0, f64::INFINITY, "≥250 px/m (identify)"),
];

/// Occlusion bins: the visible share of the person's silhouette.
pub const VISIBILITY_BINS: [(f64, f64, &str); 4] =
    [(0.0, 0.25, "<25 % visible"), (0.25, 0.5, "25–50 % visible"), (0.5, 0.75, "50–75 % visible"), (0.75, 1.01, "≥75 % visible")];

/// Masking metrics of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaskingMetrics {
    /// Frames processed.
    pub frames: usize,
    /// Person-frames scored.
    pub person_frames: usize,
    /// Person-frames missed.
    pub missed: usize,
    /// Overall miss rate (`None` without scored person-frames).
    pub miss_rate: Option<f64>,
    /// Mean exposed fraction over scored person-frames.
    pub mean_exposed_fraction: Option<f64>,
    /// False-mask pixels ÷ all pixels of all frames.
    pub false_mask_fraction: f64,
    /// Per attribute, per value, in taxonomy order.
    pub by_group: BTreeMap<String, Vec<GroupRate>>,
    /// Per height bin.
    pub by_height: Vec<GroupRate>,
    /// Per pixel-density (distance) bin.
    pub by_density: Vec<GroupRate>,
    /// Per occlusion bin.
    pub by_visibility: Vec<GroupRate>,
    /// Per kind of staged event (incident, protected or out of scope), in name order: its
    /// participants' person-frames from its start tick to the tick before its end — a fallen
    /// person is a participant of a collapse. A model reading the paint cannot see a participant
    /// left bare.
    pub by_event: Vec<GroupRate>,
}

/// Every value an attribute can take, in taxonomy order, as text.
pub fn attribute_values(attribute: &str) -> Vec<String> {
    fn names<T: ToString>(values: &[T]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }
    match attribute {
        "skin_tone" => SkinTone::all().map(|t| t.to_string()).collect(),
        "gender_presentation" => names(GenderPresentation::ALL),
        "age_group" => names(AgeGroup::ALL),
        "mobility_aid" => names(MobilityAid::ALL),
        "head_covering" => names(HeadCovering::ALL),
        "body_size" => names(BodySize::ALL),
        "clothing_colour" => names(ClothingColour::ALL),
        _ => Vec::new(),
    }
}

fn rate<'a>(value: String, rows: impl Iterator<Item = &'a ObservationRecord>, miss_threshold: f64) -> GroupRate {
    let (mut person_frames, mut missed, mut persons) = (0, 0, BTreeSet::new());
    for row in rows {
        person_frames += 1;
        persons.insert(row.person);
        if row.exposed_fraction() > miss_threshold {
            missed += 1;
        }
    }
    GroupRate {
        value,
        persons: persons.len(),
        person_frames,
        missed,
        miss_rate: (person_frames > 0).then(|| missed as f64 / person_frames as f64),
    }
}

/// Computes the masking metrics of a run.
pub fn masking_metrics(records: &RunRecords, miss_threshold: f64, min_visible_px: u32) -> MaskingMetrics {
    let scored: Vec<&ObservationRecord> = records.observations.iter().filter(|o| o.visible_px >= min_visible_px).collect();
    let persons: BTreeMap<u32, &PersonRecord> = records.persons.iter().map(|p| (p.person, p)).collect();
    let overall = rate(String::new(), scored.iter().copied(), miss_threshold);
    let mut by_group = BTreeMap::new();
    for &attribute in GROUPING_ATTRIBUTES {
        let groups = attribute_values(attribute)
            .into_iter()
            .map(|value| {
                let rows = scored.iter().copied().filter(|o| {
                    persons.get(&o.person).and_then(|p| p.value_of(attribute)).as_deref() == Some(value.as_str())
                });
                rate(value.clone(), rows, miss_threshold)
            })
            .collect();
        by_group.insert(attribute.to_string(), groups);
    }
    let by_height = HEIGHT_BINS
        .iter()
        .map(|&(low, high, label)| {
            rate(label.to_string(), scored.iter().copied().filter(|o| o.height_px >= low && o.height_px < high), miss_threshold)
        })
        .collect();
    let binned = |bins: &[(f64, f64, &str)], key: fn(&ObservationRecord) -> f64| -> Vec<GroupRate> {
        bins.iter()
            .map(|&(low, high, label)| rate(label.to_string(), scored.iter().copied().filter(|o| key(o) >= low && key(o) < high), miss_threshold))
            .collect()
    };
    let by_density = binned(&DENSITY_BINS, |o| o.pixels_per_metre);
    let by_visibility = binned(&VISIBILITY_BINS, |o| o.visible_fraction());
    let by_event = by_event(records, &scored, miss_threshold);
    let frame_px: u64 = records.frames.iter().map(|f| f.frame_px as u64).sum();
    let false_px: u64 = records.frames.iter().map(|f| f.false_mask_px as u64).sum();
    MaskingMetrics {
        frames: records.frames.len(),
        person_frames: overall.person_frames,
        missed: overall.missed,
        miss_rate: overall.miss_rate,
        mean_exposed_fraction: (!scored.is_empty())
            .then(|| scored.iter().map(|o| o.exposed_fraction()).sum::<f64>() / scored.len() as f64),
        false_mask_fraction: if frame_px == 0 { 0.0 } else { false_px as f64 / frame_px as f64 },
        by_group,
        by_height,
        by_density,
        by_visibility,
        by_event,
    }
}

/// Scored person-frames of each event kind's participants while the event runs; a row counted
/// once per kind even where two events of that kind share a participant and a tick.
fn by_event(records: &RunRecords, scored: &[&ObservationRecord], miss_threshold: f64) -> Vec<GroupRate> {
    let mut by_person: BTreeMap<u32, Vec<&ObservationRecord>> = BTreeMap::new();
    for &o in scored {
        by_person.entry(o.person).or_default().push(o);
    }
    let mut rows: BTreeMap<&str, BTreeMap<(u64, u16, u32), &ObservationRecord>> = BTreeMap::new();
    for incident in &records.incidents {
        let kind = rows.entry(incident.kind.as_str()).or_default();
        for person in &incident.persons {
            for &o in by_person.get(person).into_iter().flatten().filter(|o| (incident.start_tick..incident.end_tick).contains(&o.tick)) {
                kind.insert((o.tick, o.camera, o.person), o);
            }
        }
    }
    rows.into_iter().map(|(kind, rows)| rate(kind.to_string(), rows.into_values(), miss_threshold)).collect()
}

/// Masking recall (1 − miss rate) over person-frames at least `min_height_px` tall.
pub fn recall_at_least(records: &RunRecords, min_height_px: f64, miss_threshold: f64, min_visible_px: u32) -> Option<(f64, usize)> {
    let rows: Vec<&ObservationRecord> =
        records.observations.iter().filter(|o| o.visible_px >= min_visible_px && o.height_px >= min_height_px).collect();
    let group = rate(String::new(), rows.into_iter(), miss_threshold);
    group.miss_rate.map(|m| (1.0 - m, group.person_frames))
}

/// `summary.json`: the headline numbers of a run.
pub fn summary_json(records: &RunRecords, metrics: &MaskingMetrics, miss_threshold: f64, min_visible_px: u32) -> serde_json::Value {
    let run = records.runs.first();
    let by_group: BTreeMap<&str, BTreeMap<&str, Option<f64>>> = metrics
        .by_group
        .iter()
        .map(|(attribute, groups)| {
            (attribute.as_str(), groups.iter().filter(|g| g.person_frames > 0).map(|g| (g.value.as_str(), g.miss_rate)).collect())
        })
        .collect();
    let recall_60 = recall_at_least(records, 60.0, miss_threshold, min_visible_px);
    // Screens and plates: pixels left unmasked ÷ pixels seen, over the whole run.
    let exposed = |seen: fn(&crate::records::FrameRecord) -> (u32, u32)| {
        let (total, open) = records.frames.iter().map(seen).fold((0u64, 0u64), |(t, o), (a, b)| (t + a as u64, o + b as u64));
        (total > 0).then(|| open as f64 / total as f64)
    };
    let screen_exposed = exposed(|f| (f.screen_px, f.screen_exposed_px));
    let plate_exposed = exposed(|f| (f.plate_px, f.plate_exposed_px));
    let count = |class| records.incidents.iter().filter(|i| i.class() == class).count();
    use crate::profile::EventClass;
    let (incidents, protected, out_of_scope) = (count(EventClass::Incident), count(EventClass::Protected), count(EventClass::OutOfScope));
    serde_json::json!({
        "schema_version": crowdtwin_core::RECORDS_SCHEMA_VERSION,
        "scenario": run.map(|r| r.scenario.clone()),
        "seed": run.map(|r| r.seed),
        "frames": metrics.frames,
        "person_frames": metrics.person_frames,
        "missed_person_frames": metrics.missed,
        "miss_rate": metrics.miss_rate,
        "miss_threshold": miss_threshold,
        "min_visible_px": min_visible_px,
        "mean_exposed_fraction": metrics.mean_exposed_fraction,
        "false_mask_fraction": metrics.false_mask_fraction,
        "screen_exposed_fraction": screen_exposed,
        "plate_exposed_fraction": plate_exposed,
        "incidents": incidents,
        "protected_activities": protected,
        "out_of_scope_events": out_of_scope,
        "profile": run.map(|r| r.profile.clone()),
        "miss_rate_by_group": by_group,
        "miss_rate_by_height_px": metrics.by_height.iter().map(|g| (g.value.clone(), g.miss_rate)).collect::<BTreeMap<_, _>>(),
        "miss_rate_by_pixels_per_metre": metrics.by_density.iter().map(|g| (g.value.clone(), g.miss_rate)).collect::<BTreeMap<_, _>>(),
        "miss_rate_by_visible_fraction": metrics.by_visibility.iter().map(|g| (g.value.clone(), g.miss_rate)).collect::<BTreeMap<_, _>>(),
        "miss_rate_by_event": metrics.by_event.iter().map(|g| (g.value.clone(), g.miss_rate)).collect::<BTreeMap<_, _>>(),
        "masking_recall_at_least_60px": recall_60.map(|r| r.0),
        "person_frames_at_least_60px": recall_60.map(|r| r.1),
        "masking_model": run.map(|r| r.masking_model.clone()),
        "masking_model_sha256": run.map(|r| r.masking_model_sha256.clone()),
        "refine_model": run.map(|r| r.refine_model.clone()).filter(|m| !m.is_empty()),
        "refine_model_sha256": run.map(|r| r.refine_model_sha256.clone()).filter(|m| !m.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use crowdtwin_core::taxonomy::*;

    fn person(id: u32, tone: u8) -> PersonRecord {
        let demographics = Demographics {
            skin_tone: SkinTone::try_from(tone).unwrap(),
            gender_presentation: GenderPresentation::Feminine,
            age_group: AgeGroup::Adult,
            mobility_aid: MobilityAid::None,
            head_covering: HeadCovering::None,
            body_size: BodySize::Average,
            clothing_colour: ClothingColour::Blue,
        };
        PersonRecord::new(id, demographics, 1.7)
    }

    fn obs(person: u32, visible: u32, exposed: u32, height: f64) -> ObservationRecord {
        ObservationRecord {
            tick: 0,
            camera: 0,
            person,
            visible_px: visible,
            unoccluded_px: visible,
            height_px: height,
            pixels_per_metre: 50.0,
            depth_m: 10.0,
            exposed_px: exposed,
            box_x0: None,
            box_y0: None,
            box_x1: None,
            box_y1: None,
        }
    }

    #[test]
    fn hand_worked_miss_rates() {
        let records = RunRecords {
            persons: vec![person(0, 2), person(1, 9)],
            observations: vec![
                obs(0, 100, 0, 80.0),   // fully masked
                obs(0, 100, 20, 80.0),  // exposed 0.2: not missed (must exceed)
                obs(1, 100, 21, 40.0),  // exposed 0.21: missed
                obs(1, 100, 100, 40.0), // missed
                obs(1, 10, 10, 40.0),   // too small to score
            ],
            frames: vec![FrameRecord { tick: 0, camera: 0, time_s: 0.0, persons_visible: 2, detections: 1, refined: 0, masked_px: 50, false_mask_px: 25, frame_px: 100, plate_px: 0, plate_exposed_px: 0, screen_px: 0, screen_exposed_px: 0, ad_score: 0.0 }],
            ..Default::default()
        };
        let m = masking_metrics(&records, 0.2, 20);
        assert_eq!((m.person_frames, m.missed), (4, 2));
        assert_eq!(m.miss_rate, Some(0.5));
        assert_eq!(m.false_mask_fraction, 0.25);
        let tones = &m.by_group["skin_tone"];
        assert_eq!(tones[1].miss_rate, Some(0.0));
        assert_eq!(tones[8].miss_rate, Some(1.0));
        assert_eq!(tones[8].persons, 1);
        assert_eq!(tones[0].miss_rate, None);
        assert_eq!(m.by_height[1].miss_rate, Some(1.0));
        assert_eq!(m.by_height[2].miss_rate, Some(0.0));
        // Every observation is at 50 px/m (detect level) and fully visible.
        assert_eq!((m.by_density[1].person_frames, m.by_density[1].miss_rate), (4, Some(0.5)));
        assert_eq!(m.by_density[0].miss_rate, None);
        assert_eq!((m.by_visibility[3].person_frames, m.by_visibility[3].miss_rate), (4, Some(0.5)));
        assert_eq!(recall_at_least(&records, 60.0, 0.2, 20), Some((1.0, 2)));
    }

    #[test]
    fn event_participants_scored_while_the_event_runs() {
        let at = |tick: u64, person: u32, exposed: u32| ObservationRecord { tick, ..obs(person, 100, exposed, 80.0) };
        let event = |incident: u32, kind: &str, ticks: (u64, u64), persons: Vec<u32>| test_incident(incident, kind, kind == "prayer", ticks, persons);
        let records = RunRecords {
            persons: vec![person(0, 2), person(1, 9), person(2, 5)],
            observations: vec![
                at(0, 0, 0),   // before the collapse: not its participant's frame yet
                at(2, 0, 100), // fallen, left bare: missed
                at(3, 0, 10),  // painted
                at(4, 0, 100), // the end tick is the first tick after it: not counted
                at(2, 1, 0),   // a bystander of no event
                at(2, 2, 50),  // praying in both prayers at once: one row
                ObservationRecord { camera: 1, ..at(2, 2, 0) }, // the same tick on another camera: its own row
                ObservationRecord { camera: 1, visible_px: 10, exposed_px: 10, ..at(3, 0, 0) }, // bare but too small to score
            ],
            incidents: vec![event(0, "collapse", (2, 4), vec![0]), event(1, "prayer", (0, 9), vec![2]), event(2, "prayer", (1, 3), vec![2])],
            ..Default::default()
        };
        let m = masking_metrics(&records, 0.2, 20);
        let rows: Vec<(&str, usize, usize, usize)> = m.by_event.iter().map(|g| (g.value.as_str(), g.persons, g.person_frames, g.missed)).collect();
        assert_eq!(rows, vec![("collapse", 1, 2, 1), ("prayer", 1, 2, 1)]);
        assert_eq!(summary_json(&records, &m, 0.2, 20)["miss_rate_by_event"]["collapse"], 0.5);
    }
}
