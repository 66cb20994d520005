//! How many persons a bias audit needs: the statistical power of the bias test (a group flagged
//! when the bootstrap interval of its difference to the best group lies above 0, as
//! [`crate::bias::group_bias`] decides) against a planted gap, measured on the synthetic detector
//! the README's validity statement uses — persons miss each of their frames with a probability
//! drawn around their group's rate (0.30, spread 0.08 between persons), 40 scored frames each.
//! At 200 persons per group a 5-point gap is flagged in 100 of 100 seeds and no gap in 4 of 100
//! (`a_planted_five_point_gap_is_flagged_and_no_gap_rarely`); [`power`] is that same experiment
//! at other sizes, so `crowdtwin eval plan` answers before a day of compute is spent.

use crate::bias::{group_bias, BiasOptions, PersonOutcome};
use crowdtwin_core::rng::{Purpose, StreamRng};
use serde::Serialize;

/// The synthetic detector's reference miss rate.
pub const BASE_RATE: f64 = 0.30;
/// Spread of persons' own miss probabilities around their group's rate.
pub const PERSON_SPREAD: f64 = 0.08;
/// Scored frames per person in the validated model.
pub const FRAMES_PER_PERSON: u32 = 40;

/// Two groups of `persons` each from the synthetic detector: `reference` at [`BASE_RATE`] and
/// `other` at `BASE_RATE + gap`, each person missing each of `frames` frames with a probability
/// drawn around the group's rate.
pub fn planted(seed: u64, gap: f64, persons: usize, frames: u32) -> Vec<(String, Vec<PersonOutcome>)> {
    let mut rng = StreamRng::new(seed, 99, Purpose::Bootstrap);
    [("reference", BASE_RATE), ("other", BASE_RATE + gap)]
        .iter()
        .map(|&(name, rate)| {
            let people = (0..persons)
                .map(|_| {
                    let p = (rate + PERSON_SPREAD * rng.normal() as f64).clamp(0.0, 1.0);
                    let missed = (0..frames).filter(|_| rng.unit() < p).count() as u32;
                    PersonOutcome { scored: frames, missed }
                })
                .collect();
            (name.to_string(), people)
        })
        .collect()
}

/// Share of `trials` planted experiments (seeds 0..trials) in which a group is flagged: the
/// power against `gap` (with `gap` 0, the false-flag rate).
pub fn power(gap: f64, persons: usize, frames: u32, trials: u64, options: &BiasOptions) -> f64 {
    let flagged = (0..trials).filter(|&seed| group_bias("g", &planted(seed, gap, persons, frames), &BiasOptions { seed, ..*options }).groups.iter().any(|g| g.flagged)).count();
    flagged as f64 / trials as f64
}

/// One size tried by [`plan`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PowerPoint {
    /// Persons per group.
    pub persons: usize,
    /// Share of trials flagging the planted gap.
    pub power: f64,
    /// Share of trials flagging when there is no gap.
    pub false_flags: f64,
}

/// Persons per group needed to flag `gap` with the wanted power: the sizes tried (a ladder from
/// 25 to 3 200, stopping once 95 % is reached and 200 persons tried) and the smallest reaching
/// 80 % and 95 %.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Plan {
    /// The planted gap (miss-rate points as a share, e.g. 0.05).
    pub gap: f64,
    /// Trials per size.
    pub trials: u64,
    /// Every size tried.
    pub points: Vec<PowerPoint>,
    /// Smallest size with power ≥ 0.8.
    pub persons_for_80: Option<usize>,
    /// Smallest size with power ≥ 0.95.
    pub persons_for_95: Option<usize>,
}

/// The ladder of sizes [`plan`] tries.
pub const LADDER: [usize; 10] = [25, 50, 100, 150, 200, 300, 400, 800, 1600, 3200];

/// Power and false-flag rate at each size of [`LADDER`] until 95 % power (and at least 200 persons).
pub fn plan(gap: f64, trials: u64, options: &BiasOptions) -> Plan {
    let mut points = Vec::new();
    for persons in LADDER {
        let point = PowerPoint { persons, power: power(gap, persons, FRAMES_PER_PERSON, trials, options), false_flags: power(0.0, persons, FRAMES_PER_PERSON, trials, options) };
        // Always through 200 persons, the validated size, so the README's figures can be read off.
        let done = point.power >= 0.95 && persons >= 200;
        points.push(point);
        if done {
            break;
        }
    }
    let first = |level: f64| points.iter().find(|p| p.power >= level).map(|p| p.persons);
    Plan { gap, trials, persons_for_80: first(0.8), persons_for_95: first(0.95), points }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_five_point_gap_is_flagged_and_no_gap_rarely() {
        // The stated suite size: 200 persons per group, 40 scored frames each.
        let options = BiasOptions { resamples: 400, min_persons: 20, ..Default::default() };
        let with_gap = power(0.05, 200, 40, 100, &options);
        let without = power(0.0, 200, 40, 100, &options);
        eprintln!("planted gap: flagged in {with_gap} of seeds with a 5-point gap, {without} without");
        assert!(with_gap >= 0.95, "a 5-point gap flagged in {with_gap} of seeds");
        assert!(without <= 0.05, "no gap flagged in {without} of seeds");
    }

    #[test]
    fn power_grows_with_persons_and_the_plan_finds_the_smallest_size() {
        let options = BiasOptions { resamples: 200, min_persons: 20, ..Default::default() };
        let plan = plan(0.05, 40, &options);
        let powers: Vec<f64> = plan.points.iter().map(|p| p.power).collect();
        assert!(powers.first().unwrap() < &0.8 && powers.last().unwrap() >= &0.95, "{powers:?}");
        assert!(powers.windows(2).filter(|w| w[1] + 0.1 < w[0]).count() == 0, "power should not fall with size: {powers:?}");
        let n80 = plan.persons_for_80.unwrap();
        assert!(plan.points.iter().filter(|p| p.persons < n80).all(|p| p.power < 0.8));
        assert!(plan.persons_for_95.unwrap() >= n80);
    }
}
