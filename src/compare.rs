//! `crowdtwin compare`: privacy against performance, as LA3D's tables chart it — the same
//! scenario and seed run once per masking style (and unmasked, evaluation only), each measured
//! against the ground truth: what the anomaly model still detects, what the attackers still
//! learn, and what the masker misses.

use crate::pipeline::{run, RunOptions};
use crate::scenario::Variant;
use anyhow::Context;
use crowdtwin_core::scenario::MaskStyle;
use crowdtwin_reports::output::write_atomic;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The styles compared by default: unmasked first (the baseline), then the four masks.
pub const STYLES: [MaskStyle; 6] = [MaskStyle::None, MaskStyle::Solid, MaskStyle::Outlined, MaskStyle::Blur, MaskStyle::Pixelate, MaskStyle::Edges];

/// Parses `none,solid,…`.
pub fn parse_styles(text: &str) -> Result<Vec<MaskStyle>, String> {
    text.split(',')
        .map(|name| {
            STYLES.iter().copied().find(|s| s.name() == name.trim()).ok_or_else(|| format!("`{name}` is not a masking style (none, solid, outlined, blur, pixelate, edges)"))
        })
        .collect()
}

/// An attacker's score on the frames a style leaves, against chance.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AttackScore {
    /// `attribute_inference:skin_tone_band`, `reidentification:rank1`, …
    pub attack: String,
    /// The attacker's score.
    pub value: f64,
    /// An attacker without information.
    pub chance: f64,
    /// 95 % interval over persons, when there is one.
    pub ci: Option<(f64, f64)>,
}

/// One style's row.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StyleRow {
    /// The style.
    pub style: String,
    /// Its run folder.
    pub run: PathBuf,
    /// Frame AUC of the anomaly model on the frames this style leaves.
    pub ad_frame_auc: Option<f64>,
    /// Incidents detected ÷ visible (TBDC criteria).
    pub incident_recall: Option<f64>,
    /// Protected activities flagged ÷ visible.
    pub protected_flag_rate: Option<f64>,
    /// False alerts per camera-hour.
    pub false_alerts_per_hour: Option<f64>,
    /// The masker's miss rate (none for the unmasked baseline: nothing is masked).
    pub miss_rate: Option<f64>,
    /// The attackers on the frames the deployment shows (for `none`: raw frames).
    pub attacks: Vec<AttackScore>,
}

/// What `compare` measured.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Scenario file.
    pub scenario: PathBuf,
    /// One row per style, in the order run.
    pub rows: Vec<StyleRow>,
}

/// Runs `scenario` once per style into `out/<style>/` with the same seed and models (`base`'s),
/// the unmasked baseline under retention mode 3 (it stores nothing), and writes
/// `out/compare.json` and `out/compare.md`. `progress(style, done, total)` follows each run.
///
/// # Errors
/// No styles; a run that fails (named).
pub fn compare(base: &RunOptions, out: &Path, styles: &[MaskStyle], mut progress: impl FnMut(&str, u64, u64)) -> anyhow::Result<Comparison> {
    anyhow::ensure!(!styles.is_empty(), "compare: name at least one style");
    // Checked before the first run, not after it: mode 1 needs a key compare does not take.
    let scenario = crate::scenario::load_scenario(&base.scenario, base.seconds, base.seed)?;
    anyhow::ensure!(
        scenario.deployment.retention != 1,
        "{}: compare keeps no raw frames: give a scenario with `deployment.retention` 2 or 3 (it has 1)",
        base.scenario.display()
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut rows = Vec::new();
    for &style in styles {
        let name = style.name();
        let options = RunOptions {
            out: out.join(name),
            variant: Variant {
                masking_style: Some(style),
                // The unmasked baseline is evaluation only: the deployment keeps nothing.
                retention: (style == MaskStyle::None).then_some(3),
                ..base.variant.clone()
            },
            ..base.clone()
        };
        let summary = run(&options, |done, total| progress(name, done, total)).with_context(|| format!("compare: the `{name}` run"))?.summary;
        rows.push(row(name, &options.out, &summary, style == MaskStyle::None));
    }
    let comparison = Comparison { scenario: base.scenario.clone(), rows };
    write_atomic(&out.join("compare.json"), serde_json::to_string_pretty(&comparison)?.as_bytes()).context("writing compare.json")?;
    write_atomic(&out.join("compare.md"), markdown(&comparison).as_bytes()).context("writing compare.md")?;
    Ok(comparison)
}

fn row(style: &str, run: &Path, summary: &serde_json::Value, unmasked: bool) -> StyleRow {
    // The attackers on what the deployment shows: the masked view (for `none` it is the raw frame).
    let attacks = summary["privacy"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["view"] == "masked")
        .map(|p| AttackScore {
            attack: if p["attack"] == "reidentification" {
                format!("reidentification:{}", p["metric"].as_str().unwrap_or_default())
            } else {
                format!("{}:{}", p["attack"].as_str().unwrap_or_default(), p["target"].as_str().unwrap_or_default())
            },
            value: p["value"].as_f64().unwrap_or(f64::NAN),
            chance: p["chance"].as_f64().unwrap_or(f64::NAN),
            ci: p["ci_low"].as_f64().zip(p["ci_high"].as_f64()),
        })
        .collect();
    StyleRow {
        style: style.to_string(),
        run: run.to_path_buf(),
        ad_frame_auc: summary["ad_frame_auc"].as_f64(),
        incident_recall: summary["incident_recall"].as_f64(),
        protected_flag_rate: summary["protected_flag_rate"].as_f64(),
        false_alerts_per_hour: summary["false_alerts_per_hour"].as_f64(),
        miss_rate: if unmasked { None } else { summary["miss_rate"].as_f64() },
        attacks,
    }
}

/// The comparison as one Markdown table: a row per style.
pub fn markdown(c: &Comparison) -> String {
    let attacks: Vec<String> = c.rows.first().map(|r| r.attacks.iter().map(|a| a.attack.clone()).collect()).unwrap_or_default();
    let pct = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{:.1} %", v * 100.0));
    let mut md = String::from("| style | frame AUC | incident recall | protected flagged | false alerts / camera-hour | masker miss rate |");
    for a in &attacks {
        md.push_str(&format!(" {} (chance) |", a.replace('_', " ")));
    }
    md.push_str("\n|---|---|---|---|---|---|");
    md.push_str(&"---|".repeat(attacks.len()));
    md.push('\n');
    for r in &c.rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |",
            if r.style == "none" { "none (unmasked, evaluation only)" } else { &r.style },
            r.ad_frame_auc.map_or("—".into(), |a| format!("{a:.3}")),
            pct(r.incident_recall),
            pct(r.protected_flag_rate),
            r.false_alerts_per_hour.map_or("—".into(), |f| format!("{f:.0}")),
            pct(r.miss_rate)
        ));
        for name in &attacks {
            match r.attacks.iter().find(|a| &a.attack == name) {
                Some(a) => md.push_str(&format!(" {:.2} ({:.2}) |", a.value, a.chance)),
                None => md.push_str(" — |"),
            }
        }
        md.push('\n');
    }
    md
}
