//! Fairness policies: thresholds a board sets on the bias statistics, read from a RON file
//! (`policies/default.ron`), each line judged pass, fail or inconclusive.
//!
//! A line fails when some group with enough persons exceeds the limit on its point estimate; the
//! verdict also says whether the group's confidence interval lies wholly above the limit
//! ("beyond chance"). A line is inconclusive when no group is large enough to judge.

use crate::bias::{masking_bias, AttributeBias, BiasOptions};
use crate::records::RunRecords;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a rule limits.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMetric {
    /// A group's miss rate ÷ the best group's.
    MissRateRatio,
    /// A group's miss rate − the best group's.
    MissRateDifference,
    /// A group's miss rate (with no attributes: the overall miss rate).
    MissRate,
}

/// One line of a policy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// What is limited.
    pub metric: PolicyMetric,
    /// The attribute, or several for their intersection; empty for everybody together.
    pub attributes: Vec<String>,
    /// The largest acceptable value.
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
    /// Bootstrap replicates.
    pub resamples: usize,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Groups with fewer persons are not judged.
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
    /// `pass`, `fail` or `inconclusive`.
    pub outcome: &'static str,
    /// The judged group with the largest value.
    pub worst_group: Option<String>,
    /// Its value.
    pub value: Option<f64>,
    /// Its confidence interval.
    pub interval: Option<(f64, f64)>,
    /// The interval lies wholly above the limit.
    pub beyond_chance: bool,
    /// Groups left out for having too few persons.
    pub groups_too_small: usize,
}

impl Policy {
    /// Reads a policy file; errors name the file, line and column.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the policy: {e}", path.display()))?;
        let policy: Policy = ron::from_str(&text).map_err(|e| format!("{}:{}:{}: {}", path.display(), e.span.start.line, e.span.start.col, e.code))?;
        if policy.version != 1 {
            return Err(format!("{}: policy version {} is not supported (this build reads 1)", path.display(), policy.version));
        }
        if !(0.5..1.0).contains(&policy.confidence) || policy.resamples < 100 {
            return Err(format!("{}: `confidence` must be in [0.5, 1) and `resamples` at least 100", path.display()));
        }
        for (i, rule) in policy.rules.iter().enumerate() {
            for attribute in &rule.attributes {
                if crate::metrics::attribute_values(attribute).is_empty() {
                    return Err(format!("{}: rules[{i}]: unknown attribute `{attribute}`", path.display()));
                }
            }
        }
        Ok(policy)
    }

    /// The bootstrap settings.
    pub fn options(&self) -> BiasOptions {
        BiasOptions { resamples: self.resamples, confidence: self.confidence, min_persons: self.min_persons, seed: self.seed }
    }

    /// The bias statistics every rule needs (one per distinct attribute list) and the verdicts.
    pub fn judge(&self, records: &RunRecords, miss_threshold: f64, min_visible_px: u32) -> (Vec<AttributeBias>, Vec<Verdict>) {
        let mut computed: Vec<AttributeBias> = Vec::new();
        let mut verdicts = Vec::new();
        for rule in &self.rules {
            let names: Vec<&str> = rule.attributes.iter().map(String::as_str).collect();
            let key = if names.is_empty() { "everybody".to_string() } else { names.join(" × ") };
            if !computed.iter().any(|b| b.attribute == key) {
                let mut bias = if names.is_empty() {
                    everybody(records, miss_threshold, min_visible_px, &self.options())
                } else {
                    masking_bias(records, &names, miss_threshold, min_visible_px, &self.options())
                };
                bias.attribute = key.clone();
                computed.push(bias);
            }
            let bias = computed.iter().find(|b| b.attribute == key).unwrap();
            verdicts.push(judge_rule(rule, &key, bias, self.min_persons));
        }
        (computed, verdicts)
    }
}

/// The bias statistics of everybody as one group (the persons' pooled miss rate with its interval).
pub fn everybody(records: &RunRecords, miss_threshold: f64, min_visible_px: u32, options: &BiasOptions) -> AttributeBias {
    let outcomes = crate::bias::person_outcomes(records, miss_threshold, min_visible_px);
    crate::bias::group_bias("everybody", &[("everybody".to_string(), outcomes.into_values().collect())], options)
}

fn judge_rule(rule: &PolicyRule, key: &str, bias: &AttributeBias, min_persons: usize) -> Verdict {
    let words = match rule.metric {
        PolicyMetric::MissRateRatio => format!("miss-rate ratio to the best group by {key} ≤ {}", rule.max),
        PolicyMetric::MissRateDifference => format!("miss-rate difference to the best group by {key} ≤ {}", rule.max),
        PolicyMetric::MissRate => format!("miss rate of every group by {key} ≤ {}", rule.max),
    };
    let judged: Vec<_> = bias.groups.iter().filter(|g| g.persons >= min_persons).collect();
    let value_of = |g: &crate::bias::GroupBias| match rule.metric {
        PolicyMetric::MissRateRatio => (g.ratio_to_best, g.ratio_ci),
        PolicyMetric::MissRateDifference => (g.difference_to_best, g.difference_ci),
        PolicyMetric::MissRate => (g.miss_rate, g.miss_rate_ci),
    };
    let worst = judged.iter().filter(|g| value_of(g).0.is_some()).max_by(|a, b| value_of(a).0.unwrap().total_cmp(&value_of(b).0.unwrap()));
    let groups_too_small = bias.groups.len() - judged.len();
    match worst {
        None => Verdict { rule: words, outcome: "inconclusive", worst_group: None, value: None, interval: None, beyond_chance: false, groups_too_small },
        Some(g) => {
            let (value, interval) = value_of(g);
            let fails = value.is_some_and(|v| v > rule.max);
            Verdict {
                rule: words,
                outcome: if fails { "fail" } else { "pass" },
                worst_group: Some(g.value.clone()),
                value,
                interval,
                beyond_chance: interval.is_some_and(|(low, _)| low > rule.max),
                groups_too_small,
            }
        }
    }
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
}
