//! Privacy leakage after masking: what an attacker still learns about a person from the
//! frames, measured with and without masking so that the privacy gain is a number.
//!
//! The attacker is handed every person's location (the box of their visible pixels) — the
//! strongest localisation an attacker could have — and reads a crop there, from the raw frame
//! (unmasked) or from the masked frame the deployment shows and keeps (masked). Each crop
//! becomes a small descriptor ([`crop_features`]): colour by row of the body, colour
//! histograms, and the crop's height in metres (the attacker knows the camera's calibration;
//! a masked silhouette still shows how tall someone is) and aspect.
//!
//! * **Attribute inference**: a multinomial logistic regression (L2, full-batch gradient
//!   descent, fixed schedule — deterministic) trained on the descriptors of some persons
//!   predicts skin tone (three Monk bands), gender presentation and age group of the others;
//!   5-fold cross-validation by person, so no person is both trained and tested on. Reported:
//!   accuracy per crop, against **chance** — always answering the training folds' most common
//!   class — with a 95 % cluster-bootstrap interval over test persons.
//! * **Re-identification**: each person's descriptors on one camera, averaged, standardised
//!   and normalised (a tracklet), are matched by distance against every tracklet of the other
//!   cameras. Reported: rank-1 (the nearest is the same person) and mean average precision,
//!   against the rank-1 of guessing at random.
//!
//! * **Trained attribute inference** (`attribute_trained`, `models/attribute_attacker.ron`):
//!   a model trained beforehand on raw crops of *other* persons (other seeds' renders) guesses
//!   the same three attributes from each crop. Reported like attribute inference, but chance is
//!   the best constant guess *on the scored crops themselves* (their most common class), so a
//!   trained attacker that merely learned the training population's shares does not beat it.
//!
//! The simple attackers' leakage is a lower bound on what a trained deep model could find; the
//! trained one shows what masking removes from an attacker that reads raw frames well above
//! chance.

use crate::records::{PersonRecord, PrivacyRecord};
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::rng::{Purpose, StreamRng};
use std::collections::BTreeMap;

/// Rows of the colour grid over the crop's central column (the body, not the background at
/// its sides).
const GRID_ROWS: u32 = 6;
/// Bins of each chromaticity histogram.
const BINS: usize = 4;
/// Length of a crop descriptor.
pub const FEATURE_LEN: usize = (GRID_ROWS * 3) as usize + 3 * BINS + 2;
/// Cross-validation folds (by person).
pub const FOLDS: usize = 5;
/// At most this many crops per person and camera enter the attackers (evenly spaced in time),
/// so that persons who linger do not dominate.
pub const MAX_CROPS_PER_TRACKLET: usize = 12;

/// The descriptor of the crop `bbox` = [x0, y0, x1, y1] (inclusive) of `image`, for a person
/// at `pixels_per_metre` (the attacker knows the camera's calibration): per row of the
/// crop's central half, chromaticity r/(r+g+b), g/(r+g+b) and brightness (invariant to how
/// strongly the person is lit); histograms of chromaticity and brightness; the crop's height
/// in metres (log) and its aspect (log).
pub fn crop_features(image: &RgbaImage, bbox: [u32; 4], pixels_per_metre: f32) -> Vec<f32> {
    let [x0, y0, x1, y1] = bbox;
    let (x1, y1) = (x1.min(image.width - 1), y1.min(image.height - 1));
    let (w, h) = ((x1 + 1).saturating_sub(x0).max(1), (y1 + 1).saturating_sub(y0).max(1));
    let (cx0, cx1) = (x0 + w / 4, (x0 + w / 4 + (w / 2).max(1)).min(x1 + 1));
    let describe = |x: u32, y: u32| {
        let i = ((y * image.width + x) * 4) as usize;
        let [r, g, b] = [image.pixels[i] as f32, image.pixels[i + 1] as f32, image.pixels[i + 2] as f32];
        let sum = (r + g + b).max(1.0);
        [r / sum, g / sum, sum / (3.0 * 255.0)]
    };
    let mut features = Vec::with_capacity(FEATURE_LEN);
    let mut histogram = [0.0f32; 3 * BINS];
    let mut pixels = 0.0f32;
    for row in 0..GRID_ROWS {
        let (ry0, ry1) = (y0 + h * row / GRID_ROWS, (y0 + h * (row + 1) / GRID_ROWS).max(y0 + h * row / GRID_ROWS + 1).min(y1 + 1));
        let mut sum = [0.0f32; 3];
        let mut count = 0.0f32;
        for y in ry0..ry1 {
            for x in cx0..cx1 {
                let d = describe(x, y);
                (0..3).for_each(|c| sum[c] += d[c]);
                // Chromaticities lie in 0–1 but rarely above 2/3: bins over 0–2/3.
                histogram[((d[0] * 1.5 * BINS as f32) as usize).min(BINS - 1)] += 1.0;
                histogram[BINS + ((d[1] * 1.5 * BINS as f32) as usize).min(BINS - 1)] += 1.0;
                histogram[2 * BINS + ((d[2] * BINS as f32) as usize).min(BINS - 1)] += 1.0;
                count += 1.0;
            }
        }
        pixels += count;
        features.extend(sum.iter().map(|s| s / count.max(1.0)));
    }
    features.extend(histogram.iter().map(|v| v / pixels.max(1.0)));
    features.push((h as f32 / pixels_per_metre.max(1e-3)).ln());
    features.push((w as f32 / h as f32).ln());
    features
}

/// One crop of one person on one camera, as the attacker reads it without and with masking.
#[derive(Clone, Debug, PartialEq)]
pub struct CropSample {
    /// Person id.
    pub person: u32,
    /// Camera index.
    pub camera: u16,
    /// Tick of the frame.
    pub tick: u64,
    /// Descriptor of the raw frame's crop.
    pub unmasked: Vec<f32>,
    /// Descriptor of the masked frame's crop.
    pub masked: Vec<f32>,
    /// The trained attacker's guesses, a class per head, on the raw and on the masked crop
    /// (`None`: the run has no trained attacker).
    pub trained: Option<(Vec<usize>, Vec<usize>)>,
}

/// An attacker's score: value against chance, with an interval.
#[derive(Clone, Debug, PartialEq)]
pub struct AttackScore {
    /// Accuracy, rank-1 or mAP.
    pub value: f64,
    /// The same measure for an attacker without information.
    pub chance: f64,
    /// 95 % cluster-bootstrap interval of `value` over persons (None when not computed).
    pub interval: Option<(f64, f64)>,
    /// Persons behind the score.
    pub persons: usize,
    /// Crops (or tracklets) behind the score.
    pub samples: usize,
}

/// Keeps at most [`MAX_CROPS_PER_TRACKLET`] crops per (person, camera), evenly spaced.
pub fn thin(samples: &[CropSample]) -> Vec<&CropSample> {
    let mut tracklets: BTreeMap<(u32, u16), Vec<&CropSample>> = BTreeMap::new();
    for sample in samples {
        tracklets.entry((sample.person, sample.camera)).or_default().push(sample);
    }
    let mut kept = Vec::new();
    for crops in tracklets.values_mut() {
        crops.sort_by_key(|c| c.tick);
        let n = crops.len();
        let take = n.min(MAX_CROPS_PER_TRACKLET);
        kept.extend((0..take).map(|i| crops[i * n / take]));
    }
    kept
}

/// Per-feature mean and standard deviation (1 where a feature is constant).
fn standardiser(rows: &[&[f32]]) -> (Vec<f64>, Vec<f64>) {
    let dims = rows.first().map_or(0, |r| r.len());
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0; dims];
    for row in rows {
        row.iter().enumerate().for_each(|(d, v)| mean[d] += *v as f64 / n);
    }
    let mut std = vec![0.0; dims];
    for row in rows {
        row.iter().enumerate().for_each(|(d, v)| std[d] += (*v as f64 - mean[d]).powi(2) / n);
    }
    (mean, std.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect())
}

/// A multinomial logistic regression.
struct Softmax {
    weights: Vec<Vec<f64>>, // classes × (dims + 1), the last column the bias
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Softmax {
    const STEPS: usize = 300;
    const LEARNING_RATE: f64 = 0.5;
    const L2: f64 = 1e-2;

    fn standardise(&self, row: &[f32]) -> Vec<f64> {
        row.iter().enumerate().map(|(d, v)| (*v as f64 - self.mean[d]) / self.std[d]).collect()
    }

    fn probabilities(&self, x: &[f64]) -> Vec<f64> {
        let logits: Vec<f64> = self.weights.iter().map(|w| w[..x.len()].iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + w[x.len()]).collect();
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = exp.iter().sum();
        exp.into_iter().map(|e| e / total).collect()
    }

    /// Trains on (descriptor, class) pairs by full-batch gradient descent.
    fn train(rows: &[(&[f32], usize)], classes: usize) -> Softmax {
        let raw: Vec<&[f32]> = rows.iter().map(|r| r.0).collect();
        let (mean, std) = standardiser(&raw);
        let dims = mean.len();
        let mut model = Softmax { weights: vec![vec![0.0; dims + 1]; classes], mean, std };
        let xs: Vec<Vec<f64>> = raw.iter().map(|r| model.standardise(r)).collect();
        let n = rows.len().max(1) as f64;
        for _ in 0..Self::STEPS {
            let mut gradient = vec![vec![0.0; dims + 1]; classes];
            for (x, &(_, class)) in xs.iter().zip(rows) {
                let p = model.probabilities(x);
                for k in 0..classes {
                    let error = p[k] - f64::from(u8::from(k == class));
                    x.iter().enumerate().for_each(|(d, v)| gradient[k][d] += error * v / n);
                    gradient[k][dims] += error / n;
                }
            }
            for k in 0..classes {
                for d in 0..=dims {
                    let decay = if d < dims { Self::L2 * model.weights[k][d] } else { 0.0 };
                    model.weights[k][d] -= Self::LEARNING_RATE * (gradient[k][d] + decay);
                }
            }
        }
        model
    }

    fn predict(&self, row: &[f32]) -> usize {
        let p = self.probabilities(&self.standardise(row));
        (0..p.len()).fold(0, |best, k| if p[k] > p[best] { k } else { best })
    }
}

/// Cluster bootstrap over persons of Σ hits ÷ Σ trials: a 95 % percentile interval.
fn person_bootstrap(per_person: &[(f64, f64)], seed: u64, resamples: usize) -> Option<(f64, f64)> {
    if per_person.is_empty() {
        return None;
    }
    let mut rng = StreamRng::new(seed, 1, Purpose::Attacker);
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            let (mut hits, mut trials) = (0.0, 0.0);
            for _ in 0..per_person.len() {
                let (h, t) = per_person[rng.index(per_person.len())];
                hits += h;
                trials += t;
            }
            if trials > 0.0 { hits / trials } else { 0.0 }
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Some((at(0.025), at(0.975)))
}

/// Attribute inference by cross-validation over persons: `crops` are (person, descriptor),
/// `labels` each person's class out of `classes`. `None` with fewer than two classes among
/// the persons or fewer persons than folds.
pub fn attribute_inference(crops: &[(u32, &[f32])], labels: &BTreeMap<u32, usize>, classes: usize, seed: u64) -> Option<AttackScore> {
    let mut persons: Vec<u32> = labels.keys().copied().filter(|p| crops.iter().any(|c| c.0 == *p)).collect();
    let present: std::collections::BTreeSet<usize> = persons.iter().map(|p| labels[p]).collect();
    if present.len() < 2 || persons.len() < FOLDS {
        return None;
    }
    // Shuffled, then dealt class by class: every fold gets each class in proportion.
    let mut rng = StreamRng::new(seed, 0, Purpose::Attacker);
    let mut keyed: Vec<(usize, u64, u32)> = persons.iter().map(|&p| (labels[&p], rng.next_u64(), p)).collect();
    keyed.sort();
    persons = keyed.iter().map(|k| k.2).collect();
    let fold_of: BTreeMap<u32, usize> = persons.iter().enumerate().map(|(i, &p)| (p, i % FOLDS)).collect();
    let mut per_person: BTreeMap<u32, (f64, f64, f64)> = BTreeMap::new(); // hits, chance hits, crops
    for fold in 0..FOLDS {
        let train: Vec<(&[f32], usize)> = crops.iter().filter(|c| fold_of.get(&c.0).is_some_and(|f| *f != fold)).map(|c| (c.1, labels[&c.0])).collect();
        if train.is_empty() {
            continue;
        }
        let mut counts = vec![0usize; classes];
        train.iter().for_each(|t| counts[t.1] += 1);
        let majority = (0..classes).fold(0, |best, k| if counts[k] > counts[best] { k } else { best });
        let model = Softmax::train(&train, classes);
        for crop in crops.iter().filter(|c| fold_of.get(&c.0) == Some(&fold)) {
            let truth = labels[&crop.0];
            let entry = per_person.entry(crop.0).or_default();
            entry.0 += f64::from(u8::from(model.predict(crop.1) == truth));
            entry.1 += f64::from(u8::from(majority == truth));
            entry.2 += 1.0;
        }
    }
    per_person_score(&per_person, seed)
}

/// An accuracy from each person's (hits, chance hits, crops): per crop, with the 95 % cluster
/// bootstrap over persons. `None` without crops.
fn per_person_score(per_person: &BTreeMap<u32, (f64, f64, f64)>, seed: u64) -> Option<AttackScore> {
    let samples: f64 = per_person.values().map(|v| v.2).sum();
    if samples == 0.0 {
        return None;
    }
    let hits: Vec<(f64, f64)> = per_person.values().map(|v| (v.0, v.2)).collect();
    Some(AttackScore {
        value: per_person.values().map(|v| v.0).sum::<f64>() / samples,
        chance: per_person.values().map(|v| v.1).sum::<f64>() / samples,
        interval: person_bootstrap(&hits, seed, 1000),
        persons: per_person.len(),
        samples: samples as usize,
    })
}

/// A pre-trained attacker's guesses scored against the truth: `guesses` are (person, guessed
/// class), `labels` each person's class out of `classes`. Chance is the most common true class
/// among the guessed crops (the best constant answer); the interval is a 95 % cluster bootstrap
/// over persons. `None` when no guessed person has a label below `classes`.
pub fn scored_guesses(guesses: &[(u32, usize)], labels: &BTreeMap<u32, usize>, classes: usize, seed: u64) -> Option<AttackScore> {
    let scored: Vec<(u32, usize, usize)> = guesses.iter().filter_map(|&(p, g)| Some((p, g, *labels.get(&p)?))).filter(|s| s.2 < classes).collect();
    if scored.is_empty() {
        return None;
    }
    let mut counts = vec![0usize; classes];
    scored.iter().for_each(|s| counts[s.2] += 1);
    let majority = (0..classes).fold(0, |best, k| if counts[k] > counts[best] { k } else { best });
    let mut per_person: BTreeMap<u32, (f64, f64, f64)> = BTreeMap::new(); // hits, chance hits, crops
    for &(person, guess, truth) in &scored {
        let entry = per_person.entry(person).or_default();
        entry.0 += f64::from(u8::from(guess == truth));
        entry.1 += f64::from(u8::from(majority == truth));
        entry.2 += 1.0;
    }
    per_person_score(&per_person, seed)
}

/// Re-identification across cameras of tracklets (person, camera, mean descriptor): rank-1
/// and mean average precision, each against guessing at random. `None` when no person is
/// seen on two cameras.
pub fn reidentification(crops: &[(u32, u16, &[f32])], seed: u64) -> Option<(AttackScore, AttackScore)> {
    let raw: Vec<&[f32]> = crops.iter().map(|c| c.2).collect();
    let (mean, std) = standardiser(&raw);
    let mut sums: BTreeMap<(u32, u16), (Vec<f64>, f64)> = BTreeMap::new();
    for &(person, camera, row) in crops {
        let entry = sums.entry((person, camera)).or_insert_with(|| (vec![0.0; mean.len()], 0.0));
        row.iter().enumerate().for_each(|(d, v)| entry.0[d] += (*v as f64 - mean[d]) / std[d]);
        entry.1 += 1.0;
    }
    let tracklets: Vec<((u32, u16), Vec<f64>)> = sums
        .into_iter()
        .map(|(key, (sum, n))| {
            let v: Vec<f64> = sum.iter().map(|s| s / n).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
            (key, v.into_iter().map(|x| x / norm).collect())
        })
        .collect();
    let mut per_person: BTreeMap<u32, (f64, f64, f64, f64)> = BTreeMap::new(); // rank-1 hits, AP sum, chance rank-1, queries
    let mut chance_ap = 0.0;
    for ((person, camera), query) in &tracklets {
        let mut gallery: Vec<(f64, usize, bool)> = tracklets
            .iter()
            .enumerate()
            .filter(|(_, ((_, c), _))| c != camera)
            .map(|(g, ((p, _), v))| (query.iter().zip(v).map(|(a, b)| (a - b).powi(2)).sum::<f64>(), g, p == person))
            .collect();
        let matches = gallery.iter().filter(|g| g.2).count();
        if matches == 0 {
            continue;
        }
        gallery.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut found, mut precision_sum) = (0.0, 0.0);
        for (rank, g) in gallery.iter().enumerate() {
            if g.2 {
                found += 1.0;
                precision_sum += found / (rank + 1) as f64;
            }
        }
        let entry = per_person.entry(*person).or_default();
        entry.0 += f64::from(u8::from(gallery[0].2));
        entry.1 += precision_sum / matches as f64;
        entry.2 += matches as f64 / gallery.len() as f64;
        entry.3 += 1.0;
        chance_ap += random_average_precision(matches, gallery.len());
    }
    let queries: f64 = per_person.values().map(|v| v.3).sum();
    if queries == 0.0 {
        return None;
    }
    let persons = per_person.len();
    let rank1_hits: Vec<(f64, f64)> = per_person.values().map(|v| (v.0, v.3)).collect();
    let ap_sums: Vec<(f64, f64)> = per_person.values().map(|v| (v.1, v.3)).collect();
    let rank1 = AttackScore {
        value: rank1_hits.iter().map(|v| v.0).sum::<f64>() / queries,
        chance: per_person.values().map(|v| v.2).sum::<f64>() / queries,
        interval: person_bootstrap(&rank1_hits, seed, 1000),
        persons,
        samples: queries as usize,
    };
    let map = AttackScore {
        value: ap_sums.iter().map(|v| v.0).sum::<f64>() / queries,
        chance: chance_ap / queries,
        interval: person_bootstrap(&ap_sums, seed.wrapping_add(1), 1000),
        persons,
        samples: queries as usize,
    };
    Some((rank1, map))
}

/// Expected average precision of a ranking drawn at random, with `relevant` matches among
/// `gallery` items: a match at rank r (uniform) has on average (r − 1)(R − 1)/(N − 1) other
/// matches above it, so E[AP] = (H_N + (R − 1)/(N − 1) · (N − H_N)) / N.
fn random_average_precision(relevant: usize, gallery: usize) -> f64 {
    let n = gallery as f64;
    let harmonic: f64 = (1..=gallery).map(|r| 1.0 / r as f64).sum();
    let others = if gallery > 1 { (relevant as f64 - 1.0) / (n - 1.0) } else { 0.0 };
    (harmonic + others * (n - harmonic)) / n
}

/// The skin-tone band the attribute-inference attacker is asked for: Monk 1–3 `light`, 4–7
/// `medium`, 8–10 `dark` (ten classes are too many for the persons of one run).
pub fn skin_tone_band(monk: u8) -> usize {
    match monk {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The attributes the attacker is asked for, with their class names and each person's class:
/// skin tone in three bands, gender presentation, age group.
pub fn attacked_attributes(persons: &[PersonRecord]) -> Vec<(&'static str, Vec<String>, BTreeMap<u32, usize>)> {
    let mut attributes = vec![(
        "skin_tone_band",
        attacked_classes("skin_tone_band"),
        persons.iter().map(|p| (p.person, skin_tone_band(p.skin_tone))).collect(),
    )];
    for attribute in ["gender_presentation", "age_group"] {
        let classes = attacked_classes(attribute);
        let labels = persons
            .iter()
            .filter_map(|p| {
                let value = p.value_of(attribute)?;
                Some((p.person, classes.iter().position(|c| *c == value)?))
            })
            .collect();
        attributes.push((attribute, classes, labels));
    }
    attributes
}

/// The class names of an attacked attribute (`skin_tone_band`, `gender_presentation`,
/// `age_group`), in the order attackers number them; empty for any other name.
pub fn attacked_classes(attribute: &str) -> Vec<String> {
    match attribute {
        "skin_tone_band" => vec!["light (Monk 1–3)".to_string(), "medium (4–7)".into(), "dark (8–10)".into()],
        "gender_presentation" | "age_group" => crate::metrics::attribute_values(attribute),
        _ => Vec::new(),
    }
}

/// Every attacker on both views: the `privacy` table's rows. `attributes` maps each attacked
/// attribute to (its class names, each person's class), as [`attacked_attributes`] gives;
/// `trained` names the trained attacker's heads (attribute, classes) in the order of
/// [`CropSample::trained`]'s guesses (empty: no trained attacker).
pub fn privacy_leakage(samples: &[CropSample], attributes: &[(&str, Vec<String>, BTreeMap<u32, usize>)], trained: &[(String, Vec<String>)], seed: u64) -> Vec<PrivacyRecord> {
    let kept = thin(samples);
    let mut rows = Vec::new();
    let record = |attack: &str, target: &str, view: &str, metric: &str, score: AttackScore| PrivacyRecord {
        attack: attack.into(),
        target: target.into(),
        view: view.into(),
        metric: metric.into(),
        value: score.value,
        chance: score.chance,
        ci_low: score.interval.map(|i| i.0),
        ci_high: score.interval.map(|i| i.1),
        persons: score.persons as u32,
        samples: score.samples as u32,
    };
    for (view, pick) in [("unmasked", false), ("masked", true)] {
        fn descriptor(sample: &CropSample, masked: bool) -> &[f32] {
            if masked { &sample.masked } else { &sample.unmasked }
        }
        let crops: Vec<(u32, &[f32])> = kept.iter().map(|s| (s.person, descriptor(s, pick))).collect();
        for (attribute, classes, labels) in attributes {
            if let Some(score) = attribute_inference(&crops, labels, classes.len(), seed) {
                rows.push(record("attribute_inference", attribute, view, "accuracy", score));
            }
        }
        for (head, (attribute, _)) in trained.iter().enumerate() {
            let Some((_, classes, labels)) = attributes.iter().find(|a| a.0 == attribute) else { continue };
            let guesses: Vec<(u32, usize)> = kept
                .iter()
                .filter_map(|s| {
                    let (raw, masked) = s.trained.as_ref()?;
                    Some((s.person, *(if pick { masked } else { raw }).get(head)?))
                })
                .collect();
            if let Some(score) = scored_guesses(&guesses, labels, classes.len(), seed) {
                rows.push(record("attribute_trained", attribute, view, "accuracy", score));
            }
        }
        let tracklets: Vec<(u32, u16, &[f32])> = kept.iter().map(|s| (s.person, s.camera, descriptor(s, pick))).collect();
        if let Some((rank1, map)) = reidentification(&tracklets, seed) {
            rows.push(record("reidentification", "identity", view, "rank1", rank1));
            rows.push(record("reidentification", "identity", view, "mAP", map));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, colour: impl Fn(u32, u32) -> [u8; 3]) -> RgbaImage {
        let mut pixels = Vec::with_capacity((width * height * 4) as usize);
        for y in 0..height {
            for x in 0..width {
                let [r, g, b] = colour(x, y);
                pixels.extend([r, g, b, 255]);
            }
        }
        RgbaImage { width, height, pixels }
    }

    #[test]
    fn the_descriptor_reads_chromaticity_by_row_and_height_in_metres() {
        // Top half pure red, bottom half dark blue, 40 × 60 crop; 50 px per metre.
        let frame = image(100, 100, |_, y| if y < 30 { [255, 0, 0] } else { [0, 0, 51] });
        let f = crop_features(&frame, [0, 0, 39, 59], 50.0);
        assert_eq!(f.len(), FEATURE_LEN);
        let close = |got: &[f32], want: &[f32]| got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5);
        assert!(close(&f[0..3], &[1.0, 0.0, 1.0 / 3.0]), "first row: red chromaticity, a third of full brightness: {:?}", &f[0..3]);
        assert!(close(&f[15..18], &[0.0, 0.0, 1.0 / 15.0]), "last row: blue, dark: {:?}", &f[15..18]);
        // r-chromaticity: half the pixels at 0 (bin 0), half at 1 (last bin).
        assert!(close(&f[18..22], &[0.5, 0.0, 0.0, 0.5]), "{:?}", &f[18..22]);
        assert!((f[30] - 1.2f32.ln()).abs() < 1e-6, "60 px at 50 px/m is 1.2 m");
        assert!((f[31] - (40.0f32 / 60.0).ln()).abs() < 1e-6);
    }

    /// Persons of class k have descriptors around k (plus noise): learnable when `signal`.
    fn planted(persons: u32, signal: bool) -> (Vec<(u32, Vec<f32>)>, BTreeMap<u32, usize>) {
        let mut rng = StreamRng::new(5, 0, Purpose::Attacker);
        let labels: BTreeMap<u32, usize> = (0..persons).map(|p| (p, (p % 3) as usize)).collect();
        let mut crops = Vec::new();
        for p in 0..persons {
            for _ in 0..6 {
                let centre = if signal { labels[&p] as f32 } else { 0.0 };
                crops.push((p, (0..4).map(|_| centre + 0.3 * rng.normal()).collect()));
            }
        }
        (crops, labels)
    }

    #[test]
    fn the_attacker_learns_a_planted_attribute_and_not_an_absent_one() {
        for (signal, expect_high) in [(true, true), (false, false)] {
            let (crops, labels) = planted(60, signal);
            let view: Vec<(u32, &[f32])> = crops.iter().map(|c| (c.0, c.1.as_slice())).collect();
            let score = attribute_inference(&view, &labels, 3, 1).unwrap();
            assert_eq!((score.persons, score.samples), (60, 360));
            assert!((score.chance - 1.0 / 3.0).abs() < 0.01, "balanced classes: chance {}", score.chance);
            let (low, high) = score.interval.unwrap();
            assert!(low <= score.value && score.value <= high);
            if expect_high {
                assert!(score.value > 0.95, "{score:?}");
            } else {
                assert!(score.value < 0.5, "{score:?}");
            }
        }
    }

    #[test]
    fn reidentification_finds_the_same_person_on_another_camera() {
        // Three persons, two cameras; each person's look is distinct and repeats across cameras.
        let looks = [[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let rows: Vec<(u32, u16, Vec<f32>)> = (0..3u32).flat_map(|p| (0..2u16).map(move |c| (p, c, looks[p as usize].to_vec()))).collect();
        let view: Vec<(u32, u16, &[f32])> = rows.iter().map(|r| (r.0, r.1, r.2.as_slice())).collect();
        let (rank1, map) = reidentification(&view, 0).unwrap();
        assert_eq!((rank1.value, map.value, rank1.samples, rank1.persons), (1.0, 1.0, 6, 3));
        assert!((rank1.chance - 1.0 / 3.0).abs() < 1e-12);
        // Everybody looking alike: ties go by gallery order, rank-1 falls to chance.
        let same: Vec<(u32, u16, &[f32])> = rows.iter().map(|r| (r.0, r.1, looks[0].as_slice())).collect();
        let (rank1, _) = reidentification(&same, 0).unwrap();
        assert!((rank1.value - 1.0 / 3.0).abs() < 1e-12, "{rank1:?}");
        // Nobody on two cameras: nothing to report.
        let single: Vec<(u32, u16, &[f32])> = rows.iter().filter(|r| r.1 == 0).map(|r| (r.0, r.1, r.2.as_slice())).collect();
        assert!(reidentification(&single, 0).is_none());
    }

    #[test]
    fn random_average_precision_is_exact_on_small_galleries() {
        // One match among two: AP 1 or 1/2, equally likely → 3/4.
        assert!((random_average_precision(1, 2) - 0.75).abs() < 1e-12);
        // Two matches among three: rankings put the non-match at rank 1, 2 or 3:
        // AP (1/2 + 2/3)/2, (1 + 2/3)/2, 1 → mean 0.8055….
        let expected = ((0.5 + 2.0 / 3.0) / 2.0 + (1.0 + 2.0 / 3.0) / 2.0 + 1.0) / 3.0;
        assert!((random_average_precision(2, 3) - expected).abs() < 1e-12);
        assert_eq!(random_average_precision(1, 1), 1.0);
    }

    #[test]
    fn thinning_keeps_evenly_spaced_crops_per_tracklet() {
        let samples: Vec<CropSample> =
            (0..30u64).map(|t| CropSample { person: 1, camera: 0, tick: t, unmasked: vec![], masked: vec![], trained: None }).collect();
        let kept = thin(&samples);
        assert_eq!(kept.len(), MAX_CROPS_PER_TRACKLET);
        assert_eq!(kept.iter().map(|s| s.tick).collect::<Vec<_>>(), vec![0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]);
    }

    #[test]
    fn trained_guesses_are_scored_against_the_best_constant_answer() {
        // 40 persons, 30 of class 0: a constant "0" scores 75 %.
        let labels: BTreeMap<u32, usize> = (0..40).map(|p| (p, usize::from(p >= 30))).collect();
        let constant: Vec<(u32, usize)> = (0..40).flat_map(|p| [(p, 0), (p, 0)]).collect();
        let score = scored_guesses(&constant, &labels, 2, 1).unwrap();
        assert_eq!((score.value, score.chance, score.persons, score.samples), (0.75, 0.75, 40, 80));
        // Right on every person: 100 % against the same chance, the interval above it.
        let right: Vec<(u32, usize)> = (0..40).map(|p| (p, labels[&p])).collect();
        let score = scored_guesses(&right, &labels, 2, 1).unwrap();
        assert_eq!((score.value, score.chance), (1.0, 0.75));
        assert!(score.interval.unwrap().0 > 0.75);
        // Persons without a label are not scored; none at all gives no score.
        assert_eq!(scored_guesses(&[(99, 1)], &labels, 2, 1), None);
    }
}
