//! Bias statistics: per-group miss rates with 95 % confidence intervals from a **cluster
//! bootstrap over persons**, differences and ratios to the best group, and flags.
//!
//! Persons are the independent units, not frames: a person seen in 200 frames is one draw. Each
//! bootstrap replicate resamples, within every group, that group's persons with replacement
//! (stratified, so every group keeps its size) and recomputes the pooled miss rates; intervals
//! are percentiles of the replicates. Conventions follow Fairlearn: `difference` is the largest
//! minus the smallest group value, `ratio` the smallest divided by the largest; for a group,
//! `difference_to_best` = its miss rate − the best group's and `ratio_to_best` = its miss rate ÷
//! the best group's (≥ 1, "1.3 times as often missed"). The best group is the one with the
//! lowest miss rate among groups with at least `min_persons` persons (among all groups with data
//! when none is that large). A group of at least `min_persons` persons is **flagged** when the
//! interval of its difference to the best group excludes 0 (lies above it); smaller groups are
//! marked **too few persons** and never flagged (their intervals are degenerate, not evidence).

use crate::records::RunRecords;
use crowdtwin_core::rng::{Purpose, StreamRng};
use serde::Serialize;
use std::collections::BTreeMap;

/// How the statistics are computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BiasOptions {
    /// Bootstrap replicates.
    pub resamples: usize,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Groups with fewer persons are marked as too small to conclude.
    pub min_persons: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for BiasOptions {
    fn default() -> Self {
        BiasOptions { resamples: 1000, confidence: 0.95, min_persons: 20, seed: 0 }
    }
}

/// One person's outcome: scored and missed person-frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonOutcome {
    /// Scored person-frames.
    pub scored: u32,
    /// Missed person-frames.
    pub missed: u32,
}

/// The miss rate of one group with its uncertainty.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupBias {
    /// Group value (`"8"`, `"child"`, `"8 × child"` for an intersection).
    pub value: String,
    /// Persons with scored person-frames.
    pub persons: usize,
    /// Scored person-frames.
    pub person_frames: u64,
    /// Missed person-frames.
    pub missed: u64,
    /// Pooled miss rate.
    pub miss_rate: Option<f64>,
    /// Its confidence interval.
    pub miss_rate_ci: Option<(f64, f64)>,
    /// Miss rate − the best group's.
    pub difference_to_best: Option<f64>,
    /// Its confidence interval.
    pub difference_ci: Option<(f64, f64)>,
    /// Miss rate ÷ the best group's.
    pub ratio_to_best: Option<f64>,
    /// Its confidence interval (`None` when the best group's rate can be 0 in a replicate).
    pub ratio_ci: Option<(f64, f64)>,
    /// Fewer persons than `min_persons`: do not conclude.
    pub too_few_persons: bool,
    /// The difference interval lies above 0: missed more often than the best group, beyond chance.
    pub flagged: bool,
}

/// All groups of one attribute (or intersection of attributes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeBias {
    /// Attribute name (`"skin_tone"`, or `"skin_tone × age_group"`).
    pub attribute: String,
    /// The best group's value.
    pub best: Option<String>,
    /// Fairlearn `difference()`: largest − smallest group miss rate.
    pub difference: Option<f64>,
    /// Fairlearn `ratio()`: smallest ÷ largest group miss rate.
    pub ratio: Option<f64>,
    /// Every group with scored person-frames, in the given order.
    pub groups: Vec<GroupBias>,
}

fn pooled(people: &[PersonOutcome]) -> (u64, u64) {
    people.iter().fold((0, 0), |(s, m), p| (s + p.scored as u64, m + p.missed as u64))
}

fn rate((scored, missed): (u64, u64)) -> Option<f64> {
    (scored > 0).then(|| missed as f64 / scored as f64)
}

/// Percentile interval of `values` (sorted in place) at `confidence`.
fn percentile_interval(values: &mut [f64], confidence: f64) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let position = q * (values.len() - 1) as f64;
        let (low, high) = (position.floor() as usize, position.ceil() as usize);
        values[low] + (values[high] - values[low]) * (position - low as f64)
    };
    let tail = (1.0 - confidence) / 2.0;
    Some((at(tail), at(1.0 - tail)))
}

/// Bias statistics for groups given as (value, the persons' outcomes), in display order.
pub fn group_bias(attribute: &str, groups: &[(String, Vec<PersonOutcome>)], options: &BiasOptions) -> AttributeBias {
    let groups: Vec<&(String, Vec<PersonOutcome>)> = groups.iter().filter(|(_, people)| pooled(people).0 > 0).collect();
    let rates: Vec<Option<f64>> = groups.iter().map(|(_, people)| rate(pooled(people))).collect();
    let candidates = |min: usize| {
        (0..groups.len()).filter(|&g| groups[g].1.len() >= min).min_by(|&a, &b| rates[a].unwrap().total_cmp(&rates[b].unwrap()).then(a.cmp(&b)))
    };
    let best = candidates(options.min_persons).or_else(|| candidates(0));
    // Replicates: per group, resample its persons with replacement.
    let mut rng = StreamRng::new(options.seed, 0, Purpose::Bootstrap);
    let mut replicates: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(options.resamples); groups.len()];
    for _ in 0..options.resamples {
        for (g, (_, people)) in groups.iter().enumerate() {
            let (mut scored, mut missed) = (0u64, 0u64);
            for _ in 0..people.len() {
                let person = people[rng.index(people.len())];
                scored += person.scored as u64;
                missed += person.missed as u64;
            }
            replicates[g].push(rate((scored, missed)));
        }
    }
    let out: Vec<GroupBias> = groups
        .iter()
        .enumerate()
        .map(|(g, (value, people))| {
            let (scored, missed) = pooled(people);
            let mut own: Vec<f64> = replicates[g].iter().flatten().copied().collect();
            let (mut differences, mut ratios, mut ratio_defined) = (Vec::new(), Vec::new(), true);
            if let Some(b) = best {
                for (mine, theirs) in replicates[g].iter().zip(&replicates[b]) {
                    if let (Some(mine), Some(theirs)) = (mine, theirs) {
                        differences.push(mine - theirs);
                        if *theirs > 0.0 {
                            ratios.push(mine / theirs);
                        } else {
                            ratio_defined = false;
                        }
                    }
                }
            }
            let best_rate = best.and_then(|b| rates[b]);
            let difference_ci = if best == Some(g) { Some((0.0, 0.0)) } else { percentile_interval(&mut differences, options.confidence) };
            GroupBias {
                value: value.clone(),
                persons: people.len(),
                person_frames: scored,
                missed,
                miss_rate: rates[g],
                miss_rate_ci: percentile_interval(&mut own, options.confidence),
                difference_to_best: best_rate.zip(rates[g]).map(|(b, r)| r - b),
                difference_ci,
                ratio_to_best: best_rate.zip(rates[g]).and_then(|(b, r)| (b > 0.0).then(|| r / b)),
                ratio_ci: if best == Some(g) {
                    Some((1.0, 1.0))
                } else if ratio_defined {
                    percentile_interval(&mut ratios, options.confidence)
                } else {
                    None
                },
                too_few_persons: people.len() < options.min_persons,
                // A group too small to conclude is never flagged: with one or two persons the
                // bootstrap interval is degenerate, not evidence.
                flagged: best != Some(g) && people.len() >= options.min_persons && difference_ci.is_some_and(|(low, _)| low > 0.0),
            }
        })
        .collect();
    let values: Vec<f64> = rates.iter().flatten().copied().collect();
    let (low, high) = (values.iter().copied().fold(f64::INFINITY, f64::min), values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    AttributeBias {
        attribute: attribute.to_string(),
        best: best.map(|b| groups[b].0.clone()),
        difference: (!values.is_empty()).then(|| high - low),
        ratio: (!values.is_empty() && high > 0.0).then(|| low / high),
        groups: out,
    }
}

/// Every person's scored and missed person-frames in a run.
pub fn person_outcomes(records: &RunRecords, miss_threshold: f64, min_visible_px: u32) -> BTreeMap<u32, PersonOutcome> {
    let mut outcomes: BTreeMap<u32, PersonOutcome> = BTreeMap::new();
    for o in records.observations.iter().filter(|o| o.visible_px >= min_visible_px) {
        let entry = outcomes.entry(o.person).or_insert(PersonOutcome { scored: 0, missed: 0 });
        entry.scored += 1;
        entry.missed += u32::from(o.exposed_fraction() > miss_threshold);
    }
    outcomes
}

/// Masking bias of a run for one attribute or an intersection (`attributes` of length 2 or more:
/// groups are the combinations that occur, e.g. `"8 × child"`), groups in taxonomy order.
pub fn masking_bias(records: &RunRecords, attributes: &[&str], miss_threshold: f64, min_visible_px: u32, options: &BiasOptions) -> AttributeBias {
    grouped_bias(records, &person_outcomes(records, miss_threshold, min_visible_px), attributes, options)
}

/// Bias statistics of any per-person outcome (`scored` events, `missed` of them counted against
/// the person) grouped by one attribute or an intersection, groups in taxonomy order.
pub fn grouped_bias(records: &RunRecords, outcomes: &BTreeMap<u32, PersonOutcome>, attributes: &[&str], options: &BiasOptions) -> AttributeBias {
    pooled_grouped_bias(&[(records, outcomes)], attributes, options)
}

/// [`grouped_bias`] pooled over runs: a group's persons are those of every run (persons of
/// different runs are different people — another seed draws another crowd — so each is its
/// own cluster in the bootstrap), so more seeds narrow the intervals.
pub fn pooled_grouped_bias(runs: &[(&RunRecords, &BTreeMap<u32, PersonOutcome>)], attributes: &[&str], options: &BiasOptions) -> AttributeBias {
    let mut groups: BTreeMap<Vec<usize>, (String, Vec<PersonOutcome>)> = BTreeMap::new();
    for (records, outcomes) in runs {
        add_person_groups(&mut groups, records, outcomes, attributes);
    }
    let groups: Vec<(String, Vec<PersonOutcome>)> = groups.into_values().collect();
    group_bias(&attributes.join(" × "), &groups, options)
}

/// Adds a run's persons to their groups, keyed by each value's position in its attribute's
/// taxonomy order (so groups come out in that order).
fn add_person_groups(groups: &mut BTreeMap<Vec<usize>, (String, Vec<PersonOutcome>)>, records: &RunRecords, outcomes: &BTreeMap<u32, PersonOutcome>, attributes: &[&str]) {
    let orders: Vec<Vec<String>> = attributes.iter().map(|a| crate::metrics::attribute_values(a)).collect();
    for person in &records.persons {
        let Some(&outcome) = outcomes.get(&person.person) else { continue };
        let values: Option<Vec<String>> = attributes.iter().map(|a| person.value_of(a)).collect();
        let Some(values) = values else { continue };
        // Sort key: each value's position in its attribute's taxonomy order.
        let key: Vec<usize> = values.iter().zip(&orders).map(|(v, order)| order.iter().position(|o| o == v).unwrap_or(usize::MAX)).collect();
        groups.entry(key).or_insert_with(|| (values.join(" × "), Vec::new())).1.push(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(rates: &[(u32, u32)]) -> Vec<PersonOutcome> {
        rates.iter().map(|&(scored, missed)| PersonOutcome { scored, missed }).collect()
    }

    #[test]
    fn hand_worked_groups() {
        // a: 3 of 10 and 1 of 10 → 0.2; b: 5 of 10 → 0.5.
        let groups = vec![("a".to_string(), people(&[(10, 3), (10, 1)])), ("b".to_string(), people(&[(10, 5)]))];
        let bias = group_bias("g", &groups, &BiasOptions { min_persons: 1, ..Default::default() });
        assert_eq!(bias.best.as_deref(), Some("a"));
        assert!((bias.difference.unwrap() - 0.3).abs() < 1e-12);
        assert!((bias.ratio.unwrap() - 0.4).abs() < 1e-12);
        let b = &bias.groups[1];
        assert_eq!((b.persons, b.person_frames, b.missed), (1, 10, 5));
        assert!((b.ratio_to_best.unwrap() - 2.5).abs() < 1e-12 && (b.difference_to_best.unwrap() - 0.3).abs() < 1e-12);
        // One person in b: every replicate is that person, so b's interval is a point.
        assert_eq!(b.miss_rate_ci, Some((0.5, 0.5)));
        // a resamples {0.3, 0.1} persons: replicate rates are 0.1, 0.2 or 0.3.
        let (low, high) = bias.groups[0].miss_rate_ci.unwrap();
        assert!((low - 0.1).abs() < 1e-12 && (high - 0.3).abs() < 1e-12);
        assert!(b.flagged, "b's difference interval [0.2, 0.4] excludes 0");
        assert!(!bias.groups[0].flagged);
    }

    #[test]
    fn per_group_values_equal_fairlearns_metric_frame() {
        // The same person-frames given to Fairlearn's MetricFrame (the mean of the missed flag
        // per person-frame, sensitive feature = group), computed live in the project's Python
        // environment: by_group, difference() and ratio() must equal ours.
        let groups = vec![
            ("a".to_string(), people(&[(10, 2), (8, 1), (12, 6)])),
            ("b".to_string(), people(&[(5, 0), (7, 3)])),
            ("c".to_string(), people(&[(20, 5)])),
        ];
        let bias = group_bias("group", &groups, &BiasOptions { min_persons: 1, resamples: 100, ..Default::default() });
        let mut frames = Vec::new();
        for (group, people) in &groups {
            for person in people {
                frames.extend((0..person.scored).map(|k| serde_json::json!([group, u32::from(k < person.missed)])));
            }
        }
        let script = "import json, sys\nimport numpy as np\nfrom fairlearn.metrics import MetricFrame\n\
            rows = json.load(sys.stdin)\n\
            missed = np.array([r[1] for r in rows], dtype=float)\n\
            frame = MetricFrame(metrics=lambda t, p: float(np.mean(t)), y_true=missed, y_pred=missed, sensitive_features=[r[0] for r in rows])\n\
            print(json.dumps({'by_group': {k: float(v) for k, v in frame.by_group.items()}, 'difference': float(frame.difference()), 'ratio': float(frame.ratio())}))\n";
        let output = crowdtwin_core::python::run(script, &[], &serde_json::to_string(&frames).unwrap()).unwrap_or_else(|e| panic!("{e}"));
        let fairlearn: serde_json::Value = serde_json::from_str(&output).unwrap();
        for group in &bias.groups {
            let theirs = fairlearn["by_group"][&group.value].as_f64().unwrap();
            assert!((group.miss_rate.unwrap() - theirs).abs() < 1e-12, "{}: ours {:?}, Fairlearn {theirs}", group.value, group.miss_rate);
        }
        assert!((bias.difference.unwrap() - fairlearn["difference"].as_f64().unwrap()).abs() < 1e-12, "{fairlearn}");
        assert!((bias.ratio.unwrap() - fairlearn["ratio"].as_f64().unwrap()).abs() < 1e-12, "{fairlearn}");
        // The table is not degenerate: Fairlearn sees three distinct groups and a real gap.
        assert_eq!(fairlearn["by_group"].as_object().unwrap().len(), 3);
        assert!(fairlearn["difference"].as_f64().unwrap() > 0.01);
    }
}
