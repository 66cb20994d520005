//! Fairness policies: limits a board sets on the bias statistics, read from a RON file
//! (`policies/default.ron`), each line judged pass, fail or inconclusive.
//!
//! A line limits a rate per group (masking: the miss rate; alerts: the incident miss rate,
//! the protected-activity flag rate, the suspicion rate — [`crate::outcomes`]), or its ratio or
//! difference to the best group. **Verdicts come from intervals, not point estimates**: a line
//! passes when every judged group's whole interval lies within the limit, fails when some
//! group's whole interval lies beyond it, and is otherwise inconclusive ("needs more
//! persons"); the point-estimate reading is kept as a labelled secondary figure. Only groups
//! with at least `min_persons` persons are judged; a ratio or difference needs two of them
//! (lines on everybody, `attributes: []`, need one). When the best judged group's rate is 0
//! and another's is not, the ratio is unbounded and the line fails, saying so.

use crate::bias::{AttributeBias, BiasOptions, GroupBias, PersonOutcome};
use crate::outcomes::Outcome;
use crate::records::RunRecords;
use crowdtwin_core::scenario::{parse_checked, PathSegment, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a rule limits: a rate per group, or its ratio or difference to the best group.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMetric {
    /// A group's miss rate ÷ the best group's.
    MissRateRatio,
    /// A group's miss rate − the best group's.
    MissRateDifference,
    /// A group's miss rate (with no attributes: the overall miss rate).
    MissRate,
    /// A group's incident miss rate (its members' participations in incidents that went undetected).
    IncidentMissRate,
    /// … ÷ the best group's.
    IncidentMissRateRatio,
    /// … − the best group's.
    IncidentMissRateDifference,
    /// A group's protected-activity flag rate (its members' participations in flagged protected activities).
    ProtectedFlagRate,
    /// … ÷ the best group's.
    ProtectedFlagRateRatio,
    /// … − the best group's.
    ProtectedFlagRateDifference,
    /// A group's suspicion rate (its members' frames inside a false alert's region).
    SuspicionRate,
    /// … ÷ the best group's.
    SuspicionRateRatio,
    /// … − the best group's.
    SuspicionRateDifference,
}

/// How a line reads a group's rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Rate,
    Ratio,
    Difference,
}

impl PolicyMetric {
    /// The measure (`None`: masking) and the form.
    fn parts(self) -> (Option<Outcome>, Form) {
        use PolicyMetric::*;
        match self {
            MissRate => (None, Form::Rate),
            MissRateRatio => (None, Form::Ratio),
            MissRateDifference => (None, Form::Difference),
            IncidentMissRate => (Some(Outcome::IncidentMissRate), Form::Rate),
            IncidentMissRateRatio => (Some(Outcome::IncidentMissRate), Form::Ratio),
            IncidentMissRateDifference => (Some(Outcome::IncidentMissRate), Form::Difference),
            ProtectedFlagRate => (Some(Outcome::ProtectedFlagRate), Form::Rate),
            ProtectedFlagRateRatio => (Some(Outcome::ProtectedFlagRate), Form::Ratio),
            ProtectedFlagRateDifference => (Some(Outcome::ProtectedFlagRate), Form::Difference),
            SuspicionRate => (Some(Outcome::SuspicionRate), Form::Rate),
            SuspicionRateRatio => (Some(Outcome::SuspicionRate), Form::Ratio),
            SuspicionRateDifference => (Some(Outcome::SuspicionRate), Form::Difference),
        }
    }

    /// The measure's name in words.
    fn measure_words(self) -> &'static str {
        match self.parts().0 {
            None => "miss rate",
            Some(Outcome::IncidentMissRate) => "incident miss rate",
            Some(Outcome::ProtectedFlagRate) => "protected-activity flag rate",
            Some(Outcome::SuspicionRate) => "suspicion rate",
        }
    }
}

/// One line of a policy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// What is limited.
    pub metric: PolicyMetric,
    /// The attribute, or several for their intersection; empty for everybody together.
    pub attributes: Vec<String>,
    /// The largest acceptable value (finite).
    pub max: f64,
}

/// A fairness policy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Must be 1.
    pub version: u32,
    /// Name shown in reports.
    pub name: String,
    /// Bootstrap replicates (100 to 100 000).
    pub resamples: usize,
    /// Confidence level of the intervals, in (0, 1).
    pub confidence: f64,
    /// Groups with fewer persons are not judged (at least 1).
    pub min_persons: usize,
    /// Seed of the resampling.
    pub seed: u64,
    /// The lines.
    pub rules: Vec<PolicyRule>,
}

/// The verdict on one line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The line, in words.
    pub rule: String,
    /// `pass`, `fail` or `inconclusive`, from the judged groups' intervals.
    pub outcome: &'static str,
    /// Why, in words (what a conclusive answer needs, or what an unbounded ratio is).
    pub reason: String,
    /// Secondary: `pass` or `fail` by the point estimate of the worst group alone (what the
    /// verdict was before it was read from intervals); empty when nothing was judged.
    pub point_outcome: &'static str,
    /// The judged group with the largest value.
    pub worst_group: Option<String>,
    /// Its value.
    pub value: Option<f64>,
    /// Its confidence interval.
    pub interval: Option<(f64, f64)>,
    /// Some judged group's whole interval lies beyond the limit.
    pub beyond_chance: bool,
    /// Groups left out for having too few persons.
    pub groups_too_small: usize,
}

impl Policy {
    /// Reads a policy file.
    ///
    /// # Errors
    /// A syntax error, an unknown field or attribute, or a value out of range — `max` not
    /// finite, `confidence` outside (0, 1), `resamples` outside 100–100 000, `min_persons` 0 —
    /// each naming file, line, column and field.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the policy: {e}", path.display()))?;
        parse_checked(&text, path, Policy::validate).map_err(|e: ScenarioError| e.to_string())
    }

    fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::{Index, Key};
        if self.version != 1 {
            return Err((vec![Key("version")], format!("policy version {} is not supported (this build reads 1)", self.version)));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err((vec![Key("confidence")], format!("must be above 0 and below 1, got {}", self.confidence)));
        }
        if !(100..=100_000).contains(&self.resamples) {
            return Err((vec![Key("resamples")], format!("must be 100 to 100 000 replicates, got {}", self.resamples)));
        }
        if self.min_persons == 0 {
            return Err((vec![Key("min_persons")], "must be at least 1".into()));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let (_, form) = rule.metric.parts();
            let max_at = vec![Key("rules"), Index(i), Key("max")];
            if !rule.max.is_finite() {
                return Err((max_at, format!("must be a finite number, got {}", rule.max)));
            }
            match form {
                Form::Ratio if rule.max < 1.0 => return Err((max_at, format!("a ratio to the best group is at least 1: a limit of {} can never pass", rule.max))),
                Form::Rate | Form::Difference if !(0.0..=1.0).contains(&rule.max) => {
                    return Err((max_at, format!("a rate or a difference of rates lies in 0–1, got {}", rule.max)));
                }
                _ => {}
            }
            if form != Form::Rate && rule.attributes.is_empty() {
                return Err((vec![Key("rules"), Index(i), Key("attributes")], "a ratio or difference compares groups: name an attribute (everybody is one group)".into()));
            }
            for (j, attribute) in rule.attributes.iter().enumerate() {
                if crate::metrics::attribute_values(attribute).is_empty() {
                    return Err((vec![Key("rules"), Index(i), Key("attributes"), Index(j)], format!("unknown attribute `{attribute}`")));
                }
            }
        }
        Ok(())
    }

    /// The bootstrap settings.
    pub fn options(&self) -> BiasOptions {
        BiasOptions { resamples: self.resamples, confidence: self.confidence, min_persons: self.min_persons, seed: self.seed }
    }

    /// The bias statistics every masking rule needs (one per distinct attribute list) and the
    /// verdicts of every line. Alert rules need the run's alerts scored.
    pub fn judge(&self, records: &RunRecords, miss_threshold: f64, min_visible_px: u32) -> (Vec<AttributeBias>, Vec<Verdict>) {
        self.judge_pool(&[(records, miss_threshold, min_visible_px)])
    }

    /// [`Policy::judge`] on the persons of several runs pooled (each run with its own miss
    /// threshold and visibility floor): runs of one scenario and condition under different seeds
    /// are different people, independent clusters for the bootstrap, so a pool of seeds judges
    /// groups a single run is too small for.
    pub fn judge_pool(&self, runs: &[(&RunRecords, f64, u32)]) -> (Vec<AttributeBias>, Vec<Verdict>) {
        let masking: Vec<BTreeMap<u32, PersonOutcome>> = runs.iter().map(|(r, threshold, floor)| crate::bias::person_outcomes(r, *threshold, *floor)).collect();
        let everybody_of_pool = |outcomes: &[BTreeMap<u32, PersonOutcome>]| {
            let people: Vec<PersonOutcome> = outcomes.iter().flat_map(|o| o.values().copied()).collect();
            crate::bias::group_bias("everybody", &[("everybody".to_string(), people)], &self.options())
        };
        let mut computed: Vec<(Option<Outcome>, AttributeBias)> = Vec::new();
        let mut verdicts = Vec::new();
        for rule in &self.rules {
            let names: Vec<&str> = rule.attributes.iter().map(String::as_str).collect();
            let key = if names.is_empty() { "everybody".to_string() } else { names.join(" × ") };
            let measure = rule.metric.parts().0;
            if !computed.iter().any(|(m, b)| *m == measure && b.attribute == key) {
                let outcomes = match measure {
                    None => masking.clone(),
                    Some(outcome) => runs.iter().map(|(r, _, _)| crate::outcomes::person_outcomes(r, outcome)).collect(),
                };
                let mut bias = if names.is_empty() {
                    everybody_of_pool(&outcomes)
                } else {
                    let pooled: Vec<(&RunRecords, &BTreeMap<u32, PersonOutcome>)> = runs.iter().map(|(r, _, _)| *r).zip(outcomes.iter()).collect();
                    crate::bias::pooled_grouped_bias(&pooled, &names, &self.options())
                };
                bias.attribute = key.clone();
                computed.push((measure, bias));
            }
            let (_, bias) = computed.iter().find(|(m, b)| *m == measure && b.attribute == key).expect("computed above");
            verdicts.push(judge_rule(rule, &key, bias, self.min_persons));
        }
        (computed.into_iter().filter(|(m, _)| m.is_none()).map(|(_, b)| b).collect(), verdicts)
    }
}

/// The bias statistics of everybody as one group (the persons' pooled miss rate with its interval).
pub fn everybody(records: &RunRecords, miss_threshold: f64, min_visible_px: u32, options: &BiasOptions) -> AttributeBias {
    let outcomes = crate::bias::person_outcomes(records, miss_threshold, min_visible_px);
    crate::bias::group_bias("everybody", &[("everybody".to_string(), outcomes.into_values().collect())], options)
}


fn judge_rule(rule: &PolicyRule, key: &str, bias: &AttributeBias, min_persons: usize) -> Verdict {
    let (_, form) = rule.metric.parts();
    let measure = rule.metric.measure_words();
    let words = match form {
        Form::Ratio => format!("{measure} ratio to the best group by {key} ≤ {}", rule.max),
        Form::Difference => format!("{measure} difference to the best group by {key} ≤ {}", rule.max),
        Form::Rate => format!("{measure} of every group by {key} ≤ {}", rule.max),
    };
    let judged: Vec<&GroupBias> = bias.groups.iter().filter(|g| g.persons >= min_persons).collect();
    let value_of = |g: &GroupBias| match form {
        Form::Ratio => (g.ratio_to_best, g.ratio_ci),
        Form::Difference => (g.difference_to_best, g.difference_ci),
        Form::Rate => (g.miss_rate, g.miss_rate_ci),
    };
    let groups_too_small = bias.groups.len() - judged.len();
    let verdict = |outcome: &'static str, reason: String, point_outcome: &'static str, worst: Option<&GroupBias>, beyond_chance: bool| {
        let (value, interval) = worst.map_or((None, None), |g| value_of(g));
        Verdict { rule: words.clone(), outcome, reason, point_outcome, worst_group: worst.map(|g| g.value.clone()), value, interval, beyond_chance, groups_too_small }
    };
    if judged.is_empty() {
        return verdict("inconclusive", format!("no group has at least {min_persons} persons"), "", None, false);
    }
    if form != Form::Rate && !rule.attributes.is_empty() && judged.len() < 2 {
        let reason = format!("a comparison needs two groups with at least {min_persons} persons; only {} has them", judged[0].value);
        return verdict("inconclusive", reason, "", None, false);
    }
    if form == Form::Ratio {
        let best = judged.iter().min_by(|a, b| a.miss_rate.unwrap_or(0.0).total_cmp(&b.miss_rate.unwrap_or(0.0)));
        let worst = judged.iter().max_by(|a, b| a.miss_rate.unwrap_or(0.0).total_cmp(&b.miss_rate.unwrap_or(0.0)));
        if let (Some(best), Some(worst)) = (best, worst) {
            if best.miss_rate == Some(0.0) && worst.miss_rate.is_some_and(|r| r > 0.0) {
                let reason = format!(
                    "unbounded: the best group ({}) has a rate of 0 and {} has {:.3}, so their ratio exceeds any limit",
                    best.value,
                    worst.value,
                    worst.miss_rate.unwrap_or(0.0)
                );
                return verdict("fail", reason, "fail", Some(worst), false);
            }
        }
    }
    let worst = judged.iter().filter(|g| value_of(g).0.is_some()).max_by(|a, b| value_of(a).0.unwrap_or(0.0).total_cmp(&value_of(b).0.unwrap_or(0.0))).copied();
    let point_outcome = match worst.and_then(|g| value_of(g).0) {
        Some(v) if v > rule.max => "fail",
        Some(_) => "pass",
        None => "",
    };
    let beyond: Vec<&GroupBias> = judged.iter().filter(|g| value_of(g).1.is_some_and(|(low, _)| low > rule.max)).copied().collect();
    let unsure: Vec<&GroupBias> = judged.iter().filter(|g| value_of(g).1.is_none_or(|(_, high)| high > rule.max)).copied().collect();
    let (outcome, reason) = if let Some(g) = beyond.first() {
        let (low, high) = value_of(g).1.unwrap_or_default();
        ("fail", format!("{}'s whole interval, {low:.3} to {high:.3}, lies beyond {}", g.value, rule.max))
    } else if let Some(g) = unsure.first() {
        let reason = match value_of(g).1 {
            Some((low, high)) => format!("needs more persons: {}'s interval, {low:.3} to {high:.3}, straddles {}", g.value, rule.max),
            None => format!("needs more persons: {}'s interval has no upper end (the best group's rate can be 0)", g.value),
        };
        ("inconclusive", reason)
    } else {
        ("pass", format!("every judged group's whole interval lies within {}", rule.max))
    };
    verdict(outcome, reason, point_outcome, worst, !beyond.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_default_policy_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.ron");
        let policy = Policy::load(&path).unwrap();
        assert!(policy.rules.len() >= 5);
        let bad = std::env::temp_dir().join("crowdtwin-bad-policy.ron");
        std::fs::write(&bad, "(version: 1, name: \"x\", resamples: 1000, confidence: 0.95, min_persons: 20, seed: 0,\n rules: [(metric: miss_rate_ratio, attributes: [\"skin_tone\"], maximum: 1.25)])").unwrap();
        let error = Policy::load(&bad).unwrap_err();
        assert!(error.contains(":2:") && error.contains("maximum"), "{error}");
    }

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("crowdtwin-policy-{}-{name}.ron", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn non_finite_and_out_of_range_values_are_refused_with_line_column_and_field() {
        let good = "(version: 1, name: \"x\", resamples: 1000, confidence: 0.95, min_persons: 20, seed: 0,\n rules: [(metric: miss_rate_ratio, attributes: [\"skin_tone\"], max: 1.25)])";
        assert!(Policy::load(&write("good", good)).is_ok());
        for (bad, field, line) in [
            (good.replace("max: 1.25", "max: NaN"), "rules[0].max", 2),
            (good.replace("max: 1.25", "max: inf"), "rules[0].max", 2),
            (good.replace("confidence: 0.95", "confidence: 1.0"), "confidence", 1),
            (good.replace("confidence: 0.95", "confidence: NaN"), "confidence", 1),
            (good.replace("resamples: 1000", "resamples: 0"), "resamples", 1),
            (good.replace("resamples: 1000", "resamples: 100000000"), "resamples", 1),
            (good.replace("min_persons: 20", "min_persons: 0"), "min_persons", 1),
            (good.replace("\"skin_tone\"", "\"shoe_size\""), "rules[0].attributes[0]", 2),
            (good.replace("max: 1.25", "max: 0.8"), "rules[0].max", 2),
            (good.replace("attributes: [\"skin_tone\"]", "attributes: []"), "rules[0].attributes", 2),
            (good.replace("metric: miss_rate_ratio", "metric: miss_rate").replace("max: 1.25", "max: 1.5"), "rules[0].max", 2),
        ] {
            let error = Policy::load(&write("bad", &bad)).unwrap_err();
            assert!(error.contains(&format!("field `{field}`")) && error.contains(&format!(":{line}:")), "{bad}: {error}");
        }
    }

    fn group(value: &str, persons: usize, rate: f64, ci: (f64, f64), ratio: Option<f64>, ratio_ci: Option<(f64, f64)>) -> GroupBias {
        GroupBias {
            value: value.into(),
            persons,
            person_frames: 100,
            missed: (rate * 100.0) as u64,
            miss_rate: Some(rate),
            miss_rate_ci: Some(ci),
            difference_to_best: Some(0.0),
            difference_ci: Some((0.0, 0.0)),
            ratio_to_best: ratio,
            ratio_ci,
            too_few_persons: persons < 20,
            flagged: false,
        }
    }

    fn bias(groups: Vec<GroupBias>) -> AttributeBias {
        AttributeBias { attribute: "age_group".into(), best: None, difference: None, ratio: None, groups }
    }

    fn ratio_rule(max: f64) -> PolicyRule {
        PolicyRule { metric: PolicyMetric::MissRateRatio, attributes: vec!["age_group".into()], max }
    }

    #[test]
    fn a_comparison_needs_two_judged_groups_and_an_unbounded_ratio_fails() {
        // Only adults have enough persons: "worst group adult, 1.000" used to pass.
        let only_adults = bias(vec![group("adult", 40, 0.3, (0.25, 0.35), Some(1.0), Some((1.0, 1.0))), group("child", 3, 0.6, (0.4, 0.8), Some(2.0), Some((1.3, 2.6)))]);
        let v = judge_rule(&ratio_rule(1.25), "age_group", &only_adults, 20);
        assert_eq!(v.outcome, "inconclusive", "{v:?}");
        assert!(v.reason.contains("two groups"), "{}", v.reason);
        // Everybody needs only one group.
        let rule = PolicyRule { metric: PolicyMetric::MissRate, attributes: vec![], max: 0.35 };
        assert_eq!(judge_rule(&rule, "everybody", &bias(vec![group("everybody", 40, 0.2, (0.15, 0.25), None, None)]), 20).outcome, "pass");
        // The best judged group at 0, another above: unbounded, fails.
        let zero = bias(vec![group("adult", 40, 0.0, (0.0, 0.0), None, None), group("child", 30, 0.1, (0.05, 0.15), None, None)]);
        let v = judge_rule(&ratio_rule(1.25), "age_group", &zero, 20);
        assert_eq!((v.outcome, v.worst_group.as_deref()), ("fail", Some("child")));
        assert!(v.reason.contains("unbounded"), "{}", v.reason);
    }

    #[test]
    fn verdicts_come_from_intervals_not_point_estimates() {
        let with = |ratio: f64, ci: (f64, f64)| bias(vec![group("adult", 40, 0.2, (0.15, 0.25), Some(1.0), Some((1.0, 1.0))), group("child", 40, 0.2 * ratio, (0.1, 0.4), Some(ratio), Some(ci))]);
        // "masculine 1.27" and "feminine 1.36" on two seeds, both intervals including 1.25: neither fails.
        for (ratio, ci) in [(1.27, (0.98, 1.61)), (1.36, (1.05, 1.72))] {
            let v = judge_rule(&ratio_rule(1.25), "age_group", &with(ratio, ci), 20);
            assert_eq!((v.outcome, v.point_outcome), ("inconclusive", "fail"), "{v:?}");
            assert!(v.reason.contains("needs more persons"), "{}", v.reason);
        }
        let v = judge_rule(&ratio_rule(1.25), "age_group", &with(1.6, (1.3, 1.9)), 20);
        assert!(v.outcome == "fail" && v.beyond_chance, "{v:?}");
        let v = judge_rule(&ratio_rule(1.25), "age_group", &with(1.05, (0.9, 1.2)), 20);
        assert_eq!((v.outcome, v.point_outcome), ("pass", "pass"), "{v:?}");
        // A point estimate under the limit with an interval across it is inconclusive, not a pass.
        let v = judge_rule(&ratio_rule(1.25), "age_group", &with(1.1, (0.9, 1.4)), 20);
        assert_eq!((v.outcome, v.point_outcome), ("inconclusive", "pass"), "{v:?}");
    }
}
