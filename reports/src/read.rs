//! Reading a run's Parquet tables back into records, so the report can be rebuilt from the
//! tables alone (`crowdtwin report DIR`) — or from tables some other tool wrote in this schema.

use crate::records::*;
use crate::tables::read;
use crowdtwin_core::taxonomy::{Demographics, SkinTone};
use polars::prelude::*;
use std::path::Path;

/// One table's columns, with errors that name the table and column.
struct Table {
    name: String,
    df: DataFrame,
}

impl Table {
    fn open(dir: &Path, name: &str) -> Result<Self, String> {
        let path = dir.join(format!("{name}.parquet"));
        let df = read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if df.height() == 0 {
            return Ok(Table { name: name.to_string(), df }); // an empty table (a run without incidents)
        }
        let version = df.column("schema_version").ok().and_then(|c| c.as_materialized_series().u32().ok().and_then(|v| v.get(0)));
        if version != Some(crowdtwin_core::RECORDS_SCHEMA_VERSION) {
            return Err(format!("{}: schema version {version:?}, this build reads {}", path.display(), crowdtwin_core::RECORDS_SCHEMA_VERSION));
        }
        Ok(Table { name: name.to_string(), df })
    }

    fn len(&self) -> usize {
        self.df.height()
    }

    fn series(&self, column: &str) -> Result<Series, String> {
        self.df.column(column).map(|c| c.as_materialized_series().clone()).map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))
    }

    fn strings(&self, column: &str) -> Result<Vec<String>, String> {
        let s = self.series(column)?;
        let ca = s.str().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or_default().to_string()).collect())
    }

    fn u32s(&self, column: &str) -> Result<Vec<u32>, String> {
        let s = self.series(column)?;
        let ca = s.u32().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or_default()).collect())
    }

    fn optional_u32s(&self, column: &str) -> Result<Vec<Option<u32>>, String> {
        let s = self.series(column)?;
        let ca = s.u32().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i)).collect())
    }

    fn u64s(&self, column: &str) -> Result<Vec<u64>, String> {
        let s = self.series(column)?;
        let ca = s.u64().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or_default()).collect())
    }

    fn f64s(&self, column: &str) -> Result<Vec<f64>, String> {
        let s = self.series(column)?;
        let ca = s.f64().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or_default()).collect())
    }

    fn optional_f64s(&self, column: &str) -> Result<Vec<Option<f64>>, String> {
        let s = self.series(column)?;
        let ca = s.f64().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i)).collect())
    }

    fn bools(&self, column: &str) -> Result<Vec<bool>, String> {
        let s = self.series(column)?;
        let ca = s.bool().map_err(|e| format!("{}.parquet: column `{column}`: {e}", self.name))?;
        Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or_default()).collect())
    }
}

fn parse<T: serde::de::DeserializeOwned>(table: &str, column: &str, text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| format!("{table}.parquet: column `{column}`: unknown value `{text}`"))
}

/// Reads every table of a run folder written by [`crate::tables::write_all`].
pub fn read_records(dir: &Path) -> Result<RunRecords, String> {
    let t = Table::open(dir, "runs")?;
    let (scenario, scenario_sha256, seed, duration_s, tick_hz, ticks) =
        (t.strings("scenario")?, t.strings("scenario_sha256")?, t.u64s("seed")?, t.f64s("duration_s")?, t.u32s("tick_hz")?, t.u64s("ticks")?);
    let (masking_model, masking_model_sha256, refine_model, refine_model_sha256) =
        (t.strings("masking_model")?, t.strings("masking_model_sha256")?, t.strings("refine_model")?, t.strings("refine_model_sha256")?);
    let (version, modality, tiles, threshold, min_px) =
        (t.strings("crowdtwin_version")?, t.strings("modality")?, t.strings("detector_tiles")?, t.f64s("miss_threshold")?, t.u32s("min_visible_px")?);
    let (light, weather) = (t.strings("light")?, t.strings("weather")?);
    let (retention, bits_per_pixel, anomaly_model, anomaly_model_sha256) =
        (t.u32s("retention")?, t.f64s("bits_per_pixel")?, t.strings("anomaly_model")?, t.strings("anomaly_model_sha256")?);
    let (alert_threshold, release, min_duration, tolerance) =
        (t.f64s("alert_threshold")?, t.f64s("alert_release_ratio")?, t.f64s("alert_min_duration_s")?, t.f64s("match_tolerance_s")?);
    let runs = (0..t.len())
        .map(|i| RunRecord {
            retention: retention[i] as u8,
            bits_per_pixel: bits_per_pixel[i],
            anomaly_model: anomaly_model[i].clone(),
            anomaly_model_sha256: anomaly_model_sha256[i].clone(),
            alert_threshold: alert_threshold[i],
            alert_release_ratio: release[i],
            alert_min_duration_s: min_duration[i],
            match_tolerance_s: tolerance[i],
            scenario: scenario[i].clone(),
            scenario_sha256: scenario_sha256[i].clone(),
            seed: seed[i],
            duration_s: duration_s[i],
            tick_hz: tick_hz[i],
            ticks: ticks[i],
            masking_model: masking_model[i].clone(),
            masking_model_sha256: masking_model_sha256[i].clone(),
            refine_model: refine_model[i].clone(),
            refine_model_sha256: refine_model_sha256[i].clone(),
            crowdtwin_version: version[i].clone(),
            modality: modality[i].clone(),
            detector_tiles: tiles[i].clone(),
            miss_threshold: threshold[i],
            min_visible_px: min_px[i],
            light: light[i].clone(),
            weather: weather[i].clone(),
        })
        .collect();

    let t = Table::open(dir, "cameras")?;
    let (index, id, x, y, z) = (t.u32s("camera")?, t.strings("camera_id")?, t.f64s("x_m")?, t.f64s("y_m")?, t.f64s("z_m")?);
    let (yaw, pitch, hfov, sw, sh, rw, rh, fps) = (
        t.f64s("yaw_deg")?,
        t.f64s("pitch_deg")?,
        t.f64s("hfov_deg")?,
        t.u32s("sensor_width")?,
        t.u32s("sensor_height")?,
        t.u32s("render_width")?,
        t.u32s("render_height")?,
        t.u32s("fps")?,
    );
    let cameras = (0..t.len())
        .map(|i| CameraRecord {
            index: index[i] as u16,
            id: id[i].clone(),
            position: [x[i], y[i], z[i]],
            yaw_deg: yaw[i],
            pitch_deg: pitch[i],
            hfov_deg: hfov[i],
            sensor_resolution: (sw[i], sh[i]),
            render_resolution: (rw[i], rh[i]),
            fps: fps[i],
        })
        .collect();

    let t = Table::open(dir, "persons")?;
    let (person, tone, height) = (t.u32s("person")?, t.u32s("skin_tone")?, t.f64s("height_m")?);
    let text: Vec<Vec<String>> = ["gender_presentation", "age_group", "mobility_aid", "head_covering", "body_size", "clothing_colour"]
        .iter()
        .map(|c| t.strings(c))
        .collect::<Result<_, _>>()?;
    let mut persons = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let skin_tone = SkinTone::try_from(tone[i] as u8).map_err(|_| format!("persons.parquet: skin_tone {} is not a Monk tone", tone[i]))?;
        persons.push(PersonRecord {
            person: person[i],
            demographics: Demographics {
                skin_tone,
                gender_presentation: parse("persons", "gender_presentation", &text[0][i])?,
                age_group: parse("persons", "age_group", &text[1][i])?,
                mobility_aid: parse("persons", "mobility_aid", &text[2][i])?,
                head_covering: parse("persons", "head_covering", &text[3][i])?,
                body_size: parse("persons", "body_size", &text[4][i])?,
                clothing_colour: parse("persons", "clothing_colour", &text[5][i])?,
            },
            height_m: height[i],
        });
    }

    let t = Table::open(dir, "observations")?;
    let (tick, camera, person, visible, unoccluded) = (t.u64s("tick")?, t.u32s("camera")?, t.u32s("person")?, t.u32s("visible_px")?, t.u32s("unoccluded_px")?);
    let (height_px, ppm, depth, exposed) = (t.f64s("height_px")?, t.f64s("pixels_per_metre")?, t.f64s("depth_m")?, t.u32s("exposed_px")?);
    let observations = (0..t.len())
        .map(|i| ObservationRecord {
            tick: tick[i],
            camera: camera[i] as u16,
            person: person[i],
            visible_px: visible[i],
            unoccluded_px: unoccluded[i],
            height_px: height_px[i],
            pixels_per_metre: ppm[i],
            depth_m: depth[i],
            exposed_px: exposed[i],
        })
        .collect();

    let t = Table::open(dir, "frames")?;
    let (tick, camera, time_s, persons_visible, detections, refined) =
        (t.u64s("tick")?, t.u32s("camera")?, t.f64s("time_s")?, t.u32s("persons_visible")?, t.u32s("detections")?, t.u32s("refined")?);
    let (masked, false_mask, frame_px) = (t.u32s("masked_px")?, t.u32s("false_mask_px")?, t.u32s("frame_px")?);
    let (plate, plate_exposed, screen, screen_exposed) =
        (t.u32s("plate_px")?, t.u32s("plate_exposed_px")?, t.u32s("screen_px")?, t.u32s("screen_exposed_px")?);
    let ad_score = t.f64s("ad_score")?;
    let frames = (0..t.len())
        .map(|i| FrameRecord {
            tick: tick[i],
            camera: camera[i] as u16,
            time_s: time_s[i],
            persons_visible: persons_visible[i],
            detections: detections[i],
            refined: refined[i],
            masked_px: masked[i],
            false_mask_px: false_mask[i],
            frame_px: frame_px[i],
            plate_px: plate[i],
            plate_exposed_px: plate_exposed[i],
            screen_px: screen[i],
            screen_exposed_px: screen_exposed[i],
            ad_score: ad_score[i],
        })
        .collect();

    let t = Table::open(dir, "incidents")?;
    let (incident, kind, protected, start, end) = (t.u32s("incident")?, t.strings("kind")?, t.bools("protected")?, t.u64s("start_tick")?, t.u64s("end_tick")?);
    let (members, objects, cx, cz, intensity) = (t.strings("persons")?, t.strings("object_ids")?, t.f64s("centre_x")?, t.f64s("centre_z")?, t.f64s("intensity")?);
    let ids = |text: &str, column: &str| {
        text.split_whitespace()
            .map(|p| p.parse::<u32>().map_err(|_| format!("incidents.parquet: {column} `{text}` is not a list of ids")))
            .collect::<Result<Vec<u32>, String>>()
    };
    let (detected, time_to_alert) = (t.bools("detected")?, t.optional_f64s("time_to_alert_s")?);
    let mut incidents = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let persons = ids(&members[i], "persons")?;
        incidents.push(IncidentRecord {
            incident: incident[i],
            kind: kind[i].clone(),
            protected: protected[i],
            start_tick: start[i],
            end_tick: end[i],
            persons,
            objects: ids(&objects[i], "object_ids")?,
            centre: [cx[i], cz[i]],
            intensity: intensity[i],
            detected: detected[i],
            time_to_alert_s: time_to_alert[i],
        });
    }

    let t = Table::open(dir, "incident_frames")?;
    let (tick, camera, incident, visible, unoccluded) = (t.u64s("tick")?, t.u32s("camera")?, t.u32s("incident")?, t.u32s("visible_px")?, t.u32s("unoccluded_px")?);
    let corners: Vec<Vec<Option<u32>>> = ["box_x0", "box_y0", "box_x1", "box_y1"].iter().map(|c| t.optional_u32s(c)).collect::<Result<_, _>>()?;
    let incident_frames = (0..t.len())
        .map(|i| IncidentFrameRecord {
            tick: tick[i],
            camera: camera[i] as u16,
            incident: incident[i],
            visible_px: visible[i],
            unoccluded_px: unoccluded[i],
            visible_box: match (corners[0][i], corners[1][i], corners[2][i], corners[3][i]) {
                (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
                _ => None,
            },
        })
        .collect();

    let t = Table::open(dir, "alerts")?;
    let (alert, camera, start_tick, end_tick) = (t.u32s("alert")?, t.u32s("camera")?, t.u64s("start_tick")?, t.u64s("end_tick")?);
    let (start_s, raised_s, end_s, confidence) = (t.f64s("start_s")?, t.f64s("raised_s")?, t.f64s("end_s")?, t.f64s("confidence_pct")?);
    let roi: Vec<Vec<f64>> = ["roi_x0", "roi_y0", "roi_x1", "roi_y1"].iter().map(|c| t.f64s(c)).collect::<Result<_, _>>()?;
    let (site_x, site_z, text, metadata_bytes) = (t.optional_f64s("site_x_m")?, t.optional_f64s("site_z_m")?, t.strings("text")?, t.u32s("metadata_bytes")?);
    let (matched, false_alert) = (t.optional_u32s("matched_incident")?, t.bools("false_alert")?);
    let alerts = (0..t.len())
        .map(|i| AlertRecord {
            alert: alert[i],
            camera: camera[i] as u16,
            start_tick: start_tick[i],
            end_tick: end_tick[i],
            start_s: start_s[i],
            raised_s: raised_s[i],
            end_s: end_s[i],
            confidence_pct: confidence[i],
            roi: [roi[0][i], roi[1][i], roi[2][i], roi[3][i]],
            location: site_x[i].zip(site_z[i]).map(|(x, z)| [x, z]),
            text: text[i].clone(),
            metadata_bytes: metadata_bytes[i],
            matched_incident: matched[i],
            false_alert: false_alert[i],
        })
        .collect();

    let t = Table::open(dir, "operating_points")?;
    let (threshold, alerts_at, false_at, per_hour) = (t.f64s("threshold")?, t.u32s("alerts")?, t.u32s("false_alerts")?, t.f64s("false_alerts_per_hour")?);
    let (recall, protected_rate, chosen) = (t.optional_f64s("incident_recall")?, t.optional_f64s("protected_false_alert_rate")?, t.bools("chosen")?);
    let operating_points = (0..t.len())
        .map(|i| OperatingPointRecord {
            threshold: threshold[i],
            alerts: alerts_at[i],
            false_alerts: false_at[i],
            false_alerts_per_hour: per_hour[i],
            incident_recall: recall[i],
            protected_false_alert_rate: protected_rate[i],
            chosen: chosen[i],
        })
        .collect();

    let t = Table::open(dir, "privacy")?;
    let (attack, target, view, metric) = (t.strings("attack")?, t.strings("target")?, t.strings("view")?, t.strings("metric")?);
    let (value, chance, ci_low, ci_high) = (t.f64s("value")?, t.f64s("chance")?, t.optional_f64s("ci_low")?, t.optional_f64s("ci_high")?);
    let (privacy_persons, samples) = (t.u32s("persons")?, t.u32s("samples")?);
    let privacy = (0..t.len())
        .map(|i| PrivacyRecord {
            attack: attack[i].clone(),
            target: target[i].clone(),
            view: view[i].clone(),
            metric: metric[i].clone(),
            value: value[i],
            chance: chance[i],
            ci_low: ci_low[i],
            ci_high: ci_high[i],
            persons: privacy_persons[i],
            samples: samples[i],
        })
        .collect();

    Ok(RunRecords { runs, cameras, persons, observations, frames, incidents, incident_frames, alerts, operating_points, privacy, ..Default::default() })
}
