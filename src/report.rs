//! A run's files as the user reads them: the tables, the coverage of its cameras, contact
//! sheets, operator views, `summary.json` and `report.html` — made when a run ends, and
//! rebuilt from the tables alone by `crowdtwin report`.

use crate::output::is_run;
use crate::recorder::Recorder;
use anyhow::Context;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_reports::alerts::{anomaly_metrics, bandwidth};
use crowdtwin_reports::bias::masking_bias;
use crowdtwin_reports::html::{report_html, ReportInput};
use crowdtwin_reports::images::{contact_sheet, outline_box, png_bytes};
use crowdtwin_reports::metrics::{masking_metrics, summary_json};
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::outcomes::{outcome_bias, Outcome, OutcomeBias};
use crowdtwin_reports::policy::{everybody, Policy};
use crowdtwin_reports::records::AlertRecord;
use std::path::Path;

/// The masking model's licence and card, as the report quotes them.
#[derive(Clone, Debug, Default)]
pub struct ModelTexts {
    /// Licence of the masking model.
    pub licence: String,
    /// Its model card (Markdown).
    pub card: String,
    /// The trained privacy attacker: `{"name", "sha256"}` (with `not_run` and why, when the run's
    /// persons are its training data), or null.
    pub privacy_attacker: serde_json::Value,
    /// How the run's masking differs from the masking its anomaly model was trained and measured
    /// on (the anomaly manifest's `masked_by`; [`crowdtwin_vision::manifest::ModelManifest::masking_mismatch`]),
    /// when it does.
    pub anomaly_masking_mismatch: Option<String>,
}

/// Writes every file of a finished run into `dir` (the staging folder): tables, coverage,
/// contact sheets, operator views, `model.json`, `summary.json` and `report.html`.
///
/// # Errors
/// A table, image or file that cannot be made or written, naming it.
pub fn write_run(dir: &Path, scenario: &Scenario, recorder: &Recorder, policy: &Policy, model: &ModelTexts) -> anyhow::Result<serde_json::Value> {
    let records = &recorder.records;
    crowdtwin_reports::tables::write_all(records, dir).map_err(anyhow::Error::msg)?;
    crate::coverage::write_run_coverage(dir, scenario)?;
    let mut sheets = Vec::new();
    for (camera, rows) in &recorder.sheets {
        let id = scenario.cameras[*camera as usize].id.clone();
        let png = png_bytes(&contact_sheet(rows)).map_err(anyhow::Error::msg)?;
        let path = dir.join("plots").join(format!("contact_{id}.png"));
        write_atomic(&path, &png).with_context(|| format!("writing {}", path.display()))?;
        sheets.push((id, png));
    }
    // The operator's view of the first alerts: the masked frame, its region of interest outlined.
    for (alert, view) in &recorder.alert_views {
        let Some(record) = records.alerts.iter().find(|a| (a.camera, a.start_tick) == (alert.camera, alert.start_tick)) else { continue };
        let mut view = view.clone();
        outline_box(&mut view, alert.roi, [255, 40, 40], 2);
        let path = dir.join("plots").join(format!("alert_{:03}.png", record.alert));
        write_atomic(&path, &png_bytes(&view).map_err(anyhow::Error::msg)?).with_context(|| format!("writing {}", path.display()))?;
    }
    let texts = serde_json::json!({
        "licence": model.licence, "card": model.card, "privacy_attacker": model.privacy_attacker, "anomaly_masking_mismatch": model.anomaly_masking_mismatch,
    });
    let path = dir.join("model.json");
    write_atomic(&path, serde_json::to_string_pretty(&texts)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    write_report(dir, records, sheets, policy, model.clone())
}

/// Scores the records (metrics, bias, policy verdicts, anomaly metrics, bandwidth) and writes
/// `summary.json` and `report.html` into `dir`, each atomically. Used by `run` and by
/// `report`, which rebuilds them from a run's tables.
///
/// # Errors
/// A run without its `runs` record, or a file that cannot be written.
pub fn write_report(
    dir: &Path,
    records: &crowdtwin_reports::records::RunRecords,
    sheets: Vec<(String, Vec<u8>)>,
    policy: &Policy,
    model: ModelTexts,
) -> anyhow::Result<serde_json::Value> {
    let run = records.runs.first().context("the run has no `runs` record")?;
    let (threshold, min_px) = (run.miss_threshold, run.min_visible_px);
    let metrics = masking_metrics(records, threshold, min_px);
    let mut summary = summary_json(records, &metrics, threshold, min_px);
    // Bias with intervals for every attribute, plus what the policy's lines need.
    let (mut bias, verdicts) = policy.judge(records, threshold, min_px);
    for &attribute in crowdtwin_core::taxonomy::GROUPING_ATTRIBUTES {
        if !bias.iter().any(|b| b.attribute == attribute) {
            bias.push(masking_bias(records, &[attribute], threshold, min_px, &policy.options()));
        }
    }
    if !bias.iter().any(|b| b.attribute == "everybody") {
        bias.push(everybody(records, threshold, min_px, &policy.options()));
    }
    summary["bias"] = serde_json::to_value(&bias)?;
    // Alerts are decisions about people: their outcomes by group, with intervals.
    let outcome_bias: Vec<OutcomeBias> = Outcome::ALL
        .iter()
        .flat_map(|&outcome| crowdtwin_core::taxonomy::GROUPING_ATTRIBUTES.iter().map(move |&attribute| (outcome, attribute)))
        .map(|(outcome, attribute)| outcome_bias(records, outcome, &[attribute], &policy.options()))
        .collect();
    summary["anomaly_bias"] = serde_json::to_value(&outcome_bias)?;
    summary["policy"] = serde_json::json!({ "name": policy.name, "verdicts": verdicts });
    let anomaly = anomaly_metrics(records);
    let bandwidth = bandwidth(records);
    summary["ad_frame_auc"] = serde_json::json!(anomaly.ad_frame_auc);
    summary["incident_recall"] = serde_json::json!(anomaly.incident_recall);
    summary["false_alerts_per_hour"] = serde_json::json!(anomaly.false_alerts_per_hour);
    summary["protected_flag_rate"] = serde_json::json!(anomaly.protected_flag_rate);
    summary["alert_time_share"] = serde_json::json!(anomaly.alert_time_share);
    summary["raw_bytes_off_camera"] = serde_json::json!(bandwidth.iter().map(|b| b.raw_bytes).sum::<f64>());
    summary["raw_bytes_off_camera_per_hour"] = serde_json::json!(bandwidth.iter().map(|b| b.raw_bytes_per_hour).sum::<f64>());
    summary["masked_bytes_sent"] = serde_json::json!(bandwidth.iter().map(|b| b.masked_bytes).sum::<f64>());
    summary["metadata_bytes_sent"] = serde_json::json!(bandwidth.iter().map(|b| b.metadata_bytes).sum::<f64>());
    summary["anomaly"] = serde_json::to_value(&anomaly)?;
    summary["anomaly_masking_mismatch"] = serde_json::json!(model.anomaly_masking_mismatch);
    summary["privacy"] = serde_json::to_value(&records.privacy)?;
    summary["privacy_attacker_model"] = model.privacy_attacker.clone();
    summary["light"] = serde_json::json!(run.light);
    summary["weather"] = serde_json::json!(run.weather);
    summary["bandwidth"] = serde_json::to_value(&bandwidth)?;
    summary["deployment"] = serde_json::json!({
        "modality": run.modality, "retention": run.retention, "bits_per_pixel": run.bits_per_pixel,
        "retention_days": { "raw": run.retention_raw_days, "masked": run.retention_masked_days, "alerts": run.retention_alert_days },
    });
    summary["retention_projection"] = serde_json::to_value(crowdtwin_reports::retention::project(records))?;
    let alert_views = records
        .alerts
        .iter()
        .filter_map(|alert| {
            let png = std::fs::read(dir.join("plots").join(format!("alert_{:03}.png", alert.alert))).ok()?;
            Some((view_caption(records, alert), png))
        })
        .collect();
    let coverage = std::fs::read(dir.join("coverage.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<crowdtwin_reports::coverage::RunCoverage>(&bytes).ok())
        .zip(std::fs::read(dir.join("plots").join("coverage.png")).ok());
    if let Some((c, _)) = &coverage {
        summary["coverage"] = serde_json::to_value(c)?;
    }
    let html = report_html(&ReportInput {
        coverage,
        bias: &bias,
        outcome_bias: &outcome_bias,
        policy_name: &policy.name,
        verdicts: &verdicts,
        records,
        metrics: &metrics,
        miss_threshold: threshold,
        min_visible_px: min_px,
        model_licence: model.licence,
        model_card: model.card,
        contact_sheets: sheets,
        anomaly: &anomaly,
        bandwidth: &bandwidth,
        alert_views,
        anomaly_masking_mismatch: model.anomaly_masking_mismatch,
    })
    .map_err(anyhow::Error::msg)?;
    let path = dir.join("report.html");
    write_atomic(&path, html.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("summary.json");
    write_atomic(&path, serde_json::to_string_pretty(&summary)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(summary)
}

fn view_caption(records: &crowdtwin_reports::records::RunRecords, alert: &AlertRecord) -> String {
    let camera = records.cameras.iter().find(|c| c.index == alert.camera).map_or("?", |c| c.id.as_str());
    format!("alert #{} · camera {camera} · {:.1}–{:.1} s · {:.0} % · {}", alert.alert, alert.start_s, alert.end_s, alert.confidence_pct, alert.text)
}

/// Rebuilds `report.html` and `summary.json` of a run folder from its tables, contact sheets
/// and `model.json`, without simulating anything (e.g. under another policy). With a
/// `profile`, the run's events are classed anew, its alerts and operating points rescored from
/// the recorded scores (the alerting rule replayed) and the profile-dependent tables
/// (`runs`, `incidents`, `alerts`, `operating_points`) rewritten to match.
///
/// # Errors
/// A folder that is not a run, a bad policy or profile, or tables of another schema version or
/// shape (naming file, column and both versions).
pub fn rebuild_report(dir: &Path, policy: &Path, profile: Option<&Path>) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(is_run(dir), "{} is not a crowdtwin run (no summary.json and runs.parquet)", dir.display());
    let policy = Policy::load(policy).map_err(anyhow::Error::msg)?;
    let profile = profile.map(|p| crowdtwin_reports::profile::Profile::load(p).map_err(anyhow::Error::msg)).transpose()?;
    let mut records = crowdtwin_reports::tables::read_all(dir).map_err(anyhow::Error::msg)?;
    if let Some(profile) = profile {
        let run = records.runs.first().context("the run has no `runs` record")?;
        let rule = crowdtwin_vision::alerts::AlertRule {
            threshold: run.alert_threshold as f32,
            release_ratio: run.alert_release_ratio as f32,
            min_duration_s: run.alert_min_duration_s,
        };
        profile.apply(&mut records);
        records.operating_points = crate::recorder::operating_points(&records, rule, &crate::recorder::history_from_records(&records));
        crowdtwin_reports::tables::write_all(&records, dir).map_err(anyhow::Error::msg)?;
    }
    let mut sheets = Vec::new();
    for camera in &records.cameras {
        let path = dir.join("plots").join(format!("contact_{}.png", camera.id));
        if let Ok(png) = std::fs::read(&path) {
            sheets.push((camera.id.clone(), png));
        }
    }
    let model: serde_json::Value = std::fs::read(dir.join("model.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| serde_json::json!({ "licence": "", "card": "" }));
    let text = |key: &str| model[key].as_str().unwrap_or_default().to_string();
    write_report(dir, &records, sheets, &policy, ModelTexts {
        licence: text("licence"),
        card: text("card"),
        privacy_attacker: model["privacy_attacker"].clone(),
        anomaly_masking_mismatch: model["anomaly_masking_mismatch"].as_str().map(str::to_string),
    })
}
