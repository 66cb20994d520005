//! Who is in the scene: quota-exact demographics and per-person appearance.
//!
//! Plain data with no Bevy types, so tables and reports can describe the population too.

use crowdtwin_core::rng::{Purpose, StreamRng};
use crowdtwin_core::scenario::{Carried, Scenario};
use crowdtwin_core::taxonomy::{
    AgeGroup, BodySize, ClothingColour, Demographics, GenderPresentation, HeadCovering, MobilityAid, SkinTone,
};
use std::collections::BTreeMap;

/// One simulated person: attributes and the look that follows from them.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonSpec {
    /// Stable id (0-based, in scenario order).
    pub id: u32,
    /// Demographic attributes.
    pub demographics: Demographics,
    /// Standing height in metres.
    pub height_m: f32,
    /// Skin colour (sRGB bytes), from the Monk swatch with a small per-person variation.
    pub skin_rgb: [u8; 3],
    /// Hair colour.
    pub hair_rgb: [u8; 3],
    /// Upper garment colour.
    pub shirt_rgb: [u8; 3],
    /// Lower garment colour.
    pub trousers_rgb: [u8; 3],
    /// Shoe colour.
    pub shoes_rgb: [u8; 3],
    /// Colour of the head covering, when there is one.
    pub covering_rgb: [u8; 3],
    /// Preferred walking (or wheeling) speed, m/s.
    pub preferred_speed_mps: f32,
    /// What the person carries.
    pub carried: Carried,
}

/// Exact counts for shares over `n` persons (largest-remainder rounding, ties by value order).
pub fn quota_counts<T: Copy + Ord>(shares: &BTreeMap<T, f32>, n: usize) -> Vec<(T, usize)> {
    let total: f32 = shares.values().sum();
    let mut counts: Vec<(T, usize, f64)> = shares
        .iter()
        .map(|(&v, &s)| {
            let exact = s as f64 / total as f64 * n as f64;
            (v, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    let assigned: usize = counts.iter().map(|c| c.1).sum();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| counts[b].2.partial_cmp(&counts[a].2).unwrap().then(a.cmp(&b)));
    for &i in order.iter().take(n.saturating_sub(assigned)) {
        counts[i].1 += 1;
    }
    counts.into_iter().map(|(v, c, _)| (v, c)).collect()
}

/// Assigns one attribute to `n` persons with exact quotas: persons are ranked by their own
/// key for this attribute and the ranks are cut by the counts.
fn assign<T: Copy + Ord>(shares: &BTreeMap<T, f32>, keys: &[f64]) -> Vec<T> {
    let counts = quota_counts(shares, keys.len());
    let mut ranked: Vec<usize> = (0..keys.len()).collect();
    ranked.sort_by(|&a, &b| keys[a].partial_cmp(&keys[b]).unwrap().then(a.cmp(&b)));
    let mut values = vec![counts[0].0; keys.len()];
    let mut next = 0;
    for (value, count) in counts {
        for &person in &ranked[next..next + count] {
            values[person] = value;
        }
        next += count;
    }
    values
}

fn vary(rgb: [u8; 3], rng: &mut StreamRng, amount: f32) -> [u8; 3] {
    let scale = 1.0 + rng.range(-amount, amount);
    rgb.map(|c| (c as f32 * scale).round().clamp(0.0, 255.0) as u8)
}

/// Generates the scenario's population (deterministic in the scenario's seed).
pub fn generate_population(scenario: &Scenario) -> Vec<PersonSpec> {
    let n = scenario.population.count as usize;
    let seed = scenario.seed;
    // One key per person per attribute, each from the person's own demographics stream.
    let mut keys = vec![[0f64; 7]; n];
    for (id, k) in keys.iter_mut().enumerate() {
        let mut rng = StreamRng::new(seed, id as u64, Purpose::Demographics);
        for key in k.iter_mut() {
            *key = rng.unit();
        }
    }
    let column = |a: usize| keys.iter().map(|k| k[a]).collect::<Vec<f64>>();
    let mix = &scenario.population.mix;
    let skin: Vec<SkinTone> = assign(&mix.skin_tone_shares(), &column(0));
    let gender: Vec<GenderPresentation> = assign(&mix.gender_presentation_shares(), &column(1));
    let age: Vec<AgeGroup> = assign(&mix.age_group_shares(), &column(2));
    let aid: Vec<MobilityAid> = assign(&mix.mobility_aid_shares(), &column(3));
    let covering: Vec<HeadCovering> = assign(&mix.head_covering_shares(), &column(4));
    let size: Vec<BodySize> = assign(&mix.body_size_shares(), &column(5));
    let clothing: Vec<ClothingColour> = assign(&mix.clothing_colour_shares(), &column(6));
    // Carried objects: quotas over the persons on foot (wheelchair users carry nothing visible).
    let on_foot: Vec<usize> = (0..n).filter(|&i| aid[i] != MobilityAid::Wheelchair).collect();
    let carried_keys: Vec<f64> = on_foot.iter().map(|&id| StreamRng::new(seed, id as u64, Purpose::Carried).unit()).collect();
    let mut carried = vec![Carried::None; n];
    if !on_foot.is_empty() {
        for (&person, value) in on_foot.iter().zip(assign(&scenario.population.carried_shares(), &carried_keys)) {
            carried[person] = value;
        }
    }

    (0..n)
        .map(|i| {
            let demographics = Demographics {
                skin_tone: skin[i],
                gender_presentation: gender[i],
                age_group: age[i],
                mobility_aid: aid[i],
                head_covering: covering[i],
                body_size: size[i],
                clothing_colour: clothing[i],
            };
            PersonSpec { carried: carried[i], ..appearance(seed, i as u32, demographics) }
        })
        .collect()
}

/// The look of a person with the given attributes, from the person's own appearance stream.
pub fn appearance(seed: u64, id: u32, demographics: Demographics) -> PersonSpec {
    let mut rng = StreamRng::new(seed, id as u64, Purpose::Appearance);
    let feminine = demographics.gender_presentation == GenderPresentation::Feminine;
    let (mean, sd) = match demographics.age_group {
        AgeGroup::Child => (1.28, 0.06),
        AgeGroup::Adult => if feminine { (1.64, 0.065) } else { (1.77, 0.07) },
        AgeGroup::OlderAdult => if feminine { (1.60, 0.06) } else { (1.72, 0.065) },
    };
    let height_m = (mean + sd * rng.normal()).clamp(mean - 2.5 * sd, mean + 2.5 * sd);
    const HAIR: [[u8; 3]; 5] = [[22, 18, 16], [50, 33, 24], [92, 62, 40], [170, 130, 80], [120, 50, 30]];
    const GREY: [[u8; 3]; 2] = [[150, 148, 145], [205, 203, 198]];
    let dark_skin = demographics.skin_tone.monk() >= 6;
    let hair_rgb = if demographics.age_group == AgeGroup::OlderAdult && rng.unit() < 0.8 {
        GREY[rng.index(GREY.len())]
    } else if dark_skin {
        HAIR[rng.index(2)]
    } else {
        HAIR[rng.index(HAIR.len())]
    };
    const TROUSERS: [[u8; 3]; 5] = [[35, 45, 75], [28, 28, 30], [95, 95, 100], [170, 150, 115], [80, 60, 45]];
    const SHOES: [[u8; 3]; 3] = [[25, 25, 25], [225, 225, 220], [90, 60, 40]];
    let covering_palette: &[[u8; 3]] = match demographics.head_covering {
        HeadCovering::Hijab => &[[25, 25, 30], [30, 40, 80], [190, 170, 140], [110, 30, 45], [230, 230, 225]],
        HeadCovering::Niqab => &[[20, 20, 22]],
        HeadCovering::Hat => &[[30, 30, 30], [110, 110, 110], [120, 85, 50]],
        HeadCovering::Mask => &[[170, 205, 230], [235, 235, 235]],
        HeadCovering::Sunglasses => &[[15, 15, 18]],
        HeadCovering::None => &[[0, 0, 0]],
    };
    let preferred_speed_mps = match (demographics.mobility_aid, demographics.age_group) {
        (MobilityAid::Wheelchair, _) => 1.0 + 0.1 * rng.normal(),
        (_, AgeGroup::Child) => 1.15 + 0.1 * rng.normal(),
        (_, AgeGroup::OlderAdult) => 1.1 + 0.1 * rng.normal(),
        _ => 1.34 + 0.15 * rng.normal(),
    }
    .clamp(0.6, 1.8);
    PersonSpec {
        id,
        demographics,
        height_m,
        skin_rgb: vary(demographics.skin_tone.srgb(), &mut rng, 0.03),
        hair_rgb,
        shirt_rgb: vary(demographics.clothing_colour.base_srgb(), &mut rng, 0.12),
        trousers_rgb: vary(TROUSERS[rng.index(TROUSERS.len())], &mut rng, 0.1),
        shoes_rgb: SHOES[rng.index(SHOES.len())],
        covering_rgb: covering_palette[rng.index(covering_palette.len())],
        preferred_speed_mps,
        carried: Carried::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;


    fn scenario(count: u32) -> Scenario {
        let text = format!(
            r#"(version: 1, name: "t", seed: 9, duration_s: 1.0, tick_hz: 10, time_of_day_h: 12.0,
            site: (plaza_size_m: (30.0, 30.0), street_width_m: 6.0, pavement_width_m: 3.0,
                   building_height_m: (8.0, 12.0), benches: 2, transit_stop: true),
            population: (count: {count}, mix: (
                skin_tone: {{1: 0.2, 5: 0.5, 9: 0.3}},
                age_group: {{child: 0.1, adult: 0.9}},
                mobility_aid: {{none: 0.95, wheelchair: 0.05}})),
            cameras: [(id: "a", position: (0.0, 6.0, 20.0), yaw_deg: 0.0, pitch_deg: 20.0, hfov_deg: 70.0,
                       sensor_resolution: (1920, 1080), render_resolution: (640, 360), fps: 5)])"#
        );
        Scenario::parse(&text, std::path::Path::new("t.ron")).unwrap()
    }

    #[test]
    fn quotas_are_exact() {
        let people = generate_population(&scenario(60));
        let count = |tone: u8| people.iter().filter(|p| p.demographics.skin_tone.monk() == tone).count();
        assert_eq!((count(1), count(5), count(9)), (12, 30, 18));
        assert_eq!(people.iter().filter(|p| p.demographics.age_group == AgeGroup::Child).count(), 6);
        assert_eq!(people.iter().filter(|p| p.demographics.mobility_aid == MobilityAid::Wheelchair).count(), 3);
    }

    #[test]
    fn adding_a_person_keeps_everybody_elses_look() {
        let before = generate_population(&scenario(60));
        let after = generate_population(&scenario(61));
        let same_look = before.iter().zip(&after).filter(|(a, b)| a == b).count();
        // Only persons at quota boundaries may change attributes; the look of everyone else is untouched.
        assert!(same_look >= 50, "{same_look} of 60 unchanged");
        assert_eq!(quota_counts(&BTreeMap::from([(1, 0.5f32), (2, 0.5)]), 3), vec![(1, 2), (2, 1)]);
    }
}
