//! The run's records as Parquet tables (polars). Each table carries the records schema
//! version in a `schema_version` column, and is written atomically.

use crate::output::write_atomic;
use crate::records::RunRecords;
use polars::prelude::*;
use std::path::Path;

fn frame(height: usize, mut columns: Vec<Column>) -> PolarsResult<DataFrame> {
    columns.insert(0, Column::new("schema_version".into(), vec![crowdtwin_core::RECORDS_SCHEMA_VERSION; height]));
    DataFrame::new(height, columns)
}

/// The `runs` table.
pub fn runs(records: &RunRecords) -> PolarsResult<DataFrame> {
    let r = &records.runs;
    frame(
        r.len(),
        vec![
            Column::new("scenario".into(), r.iter().map(|x| x.scenario.clone()).collect::<Vec<_>>()),
            Column::new("scenario_sha256".into(), r.iter().map(|x| x.scenario_sha256.clone()).collect::<Vec<_>>()),
            Column::new("seed".into(), r.iter().map(|x| x.seed).collect::<Vec<_>>()),
            Column::new("duration_s".into(), r.iter().map(|x| x.duration_s).collect::<Vec<_>>()),
            Column::new("tick_hz".into(), r.iter().map(|x| x.tick_hz).collect::<Vec<_>>()),
            Column::new("ticks".into(), r.iter().map(|x| x.ticks).collect::<Vec<_>>()),
            Column::new("masking_model".into(), r.iter().map(|x| x.masking_model.clone()).collect::<Vec<_>>()),
            Column::new("masking_model_sha256".into(), r.iter().map(|x| x.masking_model_sha256.clone()).collect::<Vec<_>>()),
            Column::new("refine_model".into(), r.iter().map(|x| x.refine_model.clone()).collect::<Vec<_>>()),
            Column::new("refine_model_sha256".into(), r.iter().map(|x| x.refine_model_sha256.clone()).collect::<Vec<_>>()),
            Column::new("crowdtwin_version".into(), r.iter().map(|x| x.crowdtwin_version.clone()).collect::<Vec<_>>()),
            Column::new("modality".into(), r.iter().map(|x| x.modality.clone()).collect::<Vec<_>>()),
            Column::new("retention".into(), r.iter().map(|x| x.retention as u32).collect::<Vec<_>>()),
            Column::new("bits_per_pixel".into(), r.iter().map(|x| x.bits_per_pixel).collect::<Vec<_>>()),
            Column::new("anomaly_model".into(), r.iter().map(|x| x.anomaly_model.clone()).collect::<Vec<_>>()),
            Column::new("anomaly_model_sha256".into(), r.iter().map(|x| x.anomaly_model_sha256.clone()).collect::<Vec<_>>()),
            Column::new("alert_threshold".into(), r.iter().map(|x| x.alert_threshold).collect::<Vec<_>>()),
            Column::new("alert_release_ratio".into(), r.iter().map(|x| x.alert_release_ratio).collect::<Vec<_>>()),
            Column::new("alert_min_duration_s".into(), r.iter().map(|x| x.alert_min_duration_s).collect::<Vec<_>>()),
            Column::new("match_tolerance_s".into(), r.iter().map(|x| x.match_tolerance_s).collect::<Vec<_>>()),
            Column::new("detector_tiles".into(), r.iter().map(|x| x.detector_tiles.clone()).collect::<Vec<_>>()),
            Column::new("miss_threshold".into(), r.iter().map(|x| x.miss_threshold).collect::<Vec<_>>()),
            Column::new("min_visible_px".into(), r.iter().map(|x| x.min_visible_px).collect::<Vec<_>>()),
            Column::new("light".into(), r.iter().map(|x| x.light.clone()).collect::<Vec<_>>()),
            Column::new("weather".into(), r.iter().map(|x| x.weather.clone()).collect::<Vec<_>>()),
        ],
    )
}

/// The `cameras` table.
pub fn cameras(records: &RunRecords) -> PolarsResult<DataFrame> {
    let c = &records.cameras;
    frame(
        c.len(),
        vec![
            Column::new("camera".into(), c.iter().map(|x| x.index as u32).collect::<Vec<_>>()),
            Column::new("camera_id".into(), c.iter().map(|x| x.id.clone()).collect::<Vec<_>>()),
            Column::new("x_m".into(), c.iter().map(|x| x.position[0]).collect::<Vec<_>>()),
            Column::new("y_m".into(), c.iter().map(|x| x.position[1]).collect::<Vec<_>>()),
            Column::new("z_m".into(), c.iter().map(|x| x.position[2]).collect::<Vec<_>>()),
            Column::new("yaw_deg".into(), c.iter().map(|x| x.yaw_deg).collect::<Vec<_>>()),
            Column::new("pitch_deg".into(), c.iter().map(|x| x.pitch_deg).collect::<Vec<_>>()),
            Column::new("hfov_deg".into(), c.iter().map(|x| x.hfov_deg).collect::<Vec<_>>()),
            Column::new("sensor_width".into(), c.iter().map(|x| x.sensor_resolution.0).collect::<Vec<_>>()),
            Column::new("sensor_height".into(), c.iter().map(|x| x.sensor_resolution.1).collect::<Vec<_>>()),
            Column::new("render_width".into(), c.iter().map(|x| x.render_resolution.0).collect::<Vec<_>>()),
            Column::new("render_height".into(), c.iter().map(|x| x.render_resolution.1).collect::<Vec<_>>()),
            Column::new("fps".into(), c.iter().map(|x| x.fps).collect::<Vec<_>>()),
        ],
    )
}

/// The `persons` table: one row per person with every attribute.
pub fn persons(records: &RunRecords) -> PolarsResult<DataFrame> {
    let p = &records.persons;
    let text = |f: &dyn Fn(&crate::records::PersonRecord) -> String| p.iter().map(f).collect::<Vec<String>>();
    frame(
        p.len(),
        vec![
            Column::new("person".into(), p.iter().map(|x| x.person).collect::<Vec<_>>()),
            Column::new("skin_tone".into(), p.iter().map(|x| x.demographics.skin_tone.monk() as u32).collect::<Vec<_>>()),
            Column::new("gender_presentation".into(), text(&|x| x.demographics.gender_presentation.to_string())),
            Column::new("age_group".into(), text(&|x| x.demographics.age_group.to_string())),
            Column::new("mobility_aid".into(), text(&|x| x.demographics.mobility_aid.to_string())),
            Column::new("head_covering".into(), text(&|x| x.demographics.head_covering.to_string())),
            Column::new("body_size".into(), text(&|x| x.demographics.body_size.to_string())),
            Column::new("clothing_colour".into(), text(&|x| x.demographics.clothing_colour.to_string())),
            Column::new("height_m".into(), p.iter().map(|x| x.height_m).collect::<Vec<_>>()),
        ],
    )
}

/// The `observations` table: one row per person-frame.
pub fn observations(records: &RunRecords) -> PolarsResult<DataFrame> {
    let o = &records.observations;
    frame(
        o.len(),
        vec![
            Column::new("tick".into(), o.iter().map(|x| x.tick).collect::<Vec<_>>()),
            Column::new("camera".into(), o.iter().map(|x| x.camera as u32).collect::<Vec<_>>()),
            Column::new("person".into(), o.iter().map(|x| x.person).collect::<Vec<_>>()),
            Column::new("visible_px".into(), o.iter().map(|x| x.visible_px).collect::<Vec<_>>()),
            Column::new("unoccluded_px".into(), o.iter().map(|x| x.unoccluded_px).collect::<Vec<_>>()),
            Column::new("visible_fraction".into(), o.iter().map(|x| x.visible_fraction()).collect::<Vec<_>>()),
            Column::new("height_px".into(), o.iter().map(|x| x.height_px).collect::<Vec<_>>()),
            Column::new("pixels_per_metre".into(), o.iter().map(|x| x.pixels_per_metre).collect::<Vec<_>>()),
            Column::new("depth_m".into(), o.iter().map(|x| x.depth_m).collect::<Vec<_>>()),
            Column::new("exposed_px".into(), o.iter().map(|x| x.exposed_px).collect::<Vec<_>>()),
            Column::new("exposed_fraction".into(), o.iter().map(|x| x.exposed_fraction()).collect::<Vec<_>>()),
        ],
    )
}

/// The `frames` table.
pub fn frames(records: &RunRecords) -> PolarsResult<DataFrame> {
    let f = &records.frames;
    frame(
        f.len(),
        vec![
            Column::new("tick".into(), f.iter().map(|x| x.tick).collect::<Vec<_>>()),
            Column::new("camera".into(), f.iter().map(|x| x.camera as u32).collect::<Vec<_>>()),
            Column::new("time_s".into(), f.iter().map(|x| x.time_s).collect::<Vec<_>>()),
            Column::new("persons_visible".into(), f.iter().map(|x| x.persons_visible).collect::<Vec<_>>()),
            Column::new("detections".into(), f.iter().map(|x| x.detections).collect::<Vec<_>>()),
            Column::new("refined".into(), f.iter().map(|x| x.refined).collect::<Vec<_>>()),
            Column::new("masked_px".into(), f.iter().map(|x| x.masked_px).collect::<Vec<_>>()),
            Column::new("false_mask_px".into(), f.iter().map(|x| x.false_mask_px).collect::<Vec<_>>()),
            Column::new("frame_px".into(), f.iter().map(|x| x.frame_px).collect::<Vec<_>>()),
            Column::new("plate_px".into(), f.iter().map(|x| x.plate_px).collect::<Vec<_>>()),
            Column::new("plate_exposed_px".into(), f.iter().map(|x| x.plate_exposed_px).collect::<Vec<_>>()),
            Column::new("screen_px".into(), f.iter().map(|x| x.screen_px).collect::<Vec<_>>()),
            Column::new("screen_exposed_px".into(), f.iter().map(|x| x.screen_exposed_px).collect::<Vec<_>>()),
            Column::new("ad_score".into(), f.iter().map(|x| x.ad_score).collect::<Vec<_>>()),
        ],
    )
}

/// The `timings` table (wall-clock; differs between runs by nature).
pub fn timings(records: &RunRecords) -> PolarsResult<DataFrame> {
    let t = &records.timings;
    frame(
        t.len(),
        vec![
            Column::new("tick".into(), t.iter().map(|x| x.tick).collect::<Vec<_>>()),
            Column::new("camera".into(), t.iter().map(|x| x.camera as u32).collect::<Vec<_>>()),
            Column::new("simulate_ms".into(), t.iter().map(|x| x.simulate_ms).collect::<Vec<_>>()),
            Column::new("mask_ms".into(), t.iter().map(|x| x.mask_ms).collect::<Vec<_>>()),
            Column::new("ad_ms".into(), t.iter().map(|x| x.ad_ms).collect::<Vec<_>>()),
            Column::new("record_ms".into(), t.iter().map(|x| x.record_ms).collect::<Vec<_>>()),
        ],
    )
}

/// The `incidents` table: one row per staged incident or protected activity.
pub fn incidents(records: &RunRecords) -> PolarsResult<DataFrame> {
    let i = &records.incidents;
    let tick_hz = records.runs.first().map_or(1, |r| r.tick_hz) as f64;
    frame(
        i.len(),
        vec![
            Column::new("incident".into(), i.iter().map(|x| x.incident).collect::<Vec<_>>()),
            Column::new("kind".into(), i.iter().map(|x| x.kind.clone()).collect::<Vec<_>>()),
            Column::new("protected".into(), i.iter().map(|x| x.protected).collect::<Vec<_>>()),
            Column::new("start_tick".into(), i.iter().map(|x| x.start_tick).collect::<Vec<_>>()),
            Column::new("end_tick".into(), i.iter().map(|x| x.end_tick).collect::<Vec<_>>()),
            Column::new("start_s".into(), i.iter().map(|x| x.start_tick as f64 / tick_hz).collect::<Vec<_>>()),
            Column::new("end_s".into(), i.iter().map(|x| x.end_tick as f64 / tick_hz).collect::<Vec<_>>()),
            Column::new("participants".into(), i.iter().map(|x| x.persons.len() as u32).collect::<Vec<_>>()),
            Column::new(
                "persons".into(),
                i.iter().map(|x| x.persons.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
            ),
            Column::new("objects".into(), i.iter().map(|x| x.objects.len() as u32).collect::<Vec<_>>()),
            Column::new(
                "object_ids".into(),
                i.iter().map(|x| x.objects.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
            ),
            Column::new("centre_x".into(), i.iter().map(|x| x.centre[0]).collect::<Vec<_>>()),
            Column::new("centre_z".into(), i.iter().map(|x| x.centre[1]).collect::<Vec<_>>()),
            Column::new("intensity".into(), i.iter().map(|x| x.intensity).collect::<Vec<_>>()),
            Column::new("detected".into(), i.iter().map(|x| x.detected).collect::<Vec<_>>()),
            Column::new("time_to_alert_s".into(), i.iter().map(|x| x.time_to_alert_s).collect::<Vec<_>>()),
        ],
    )
}

/// The `incident_participants` table: one row per (incident, person), for joins with `persons`.
pub fn incident_participants(records: &RunRecords) -> PolarsResult<DataFrame> {
    let pairs: Vec<(u32, u32)> = records.incidents.iter().flat_map(|i| i.persons.iter().map(move |&p| (i.incident, p))).collect();
    frame(
        pairs.len(),
        vec![
            Column::new("incident".into(), pairs.iter().map(|x| x.0).collect::<Vec<_>>()),
            Column::new("person".into(), pairs.iter().map(|x| x.1).collect::<Vec<_>>()),
        ],
    )
}

/// The `incident_frames` table: per frame, every incident under way, whether and where it is visible.
pub fn incident_frames(records: &RunRecords) -> PolarsResult<DataFrame> {
    let f = &records.incident_frames;
    let corner = |k: usize| f.iter().map(|x| x.visible_box.map(|b| b[k])).collect::<Vec<Option<u32>>>();
    frame(
        f.len(),
        vec![
            Column::new("tick".into(), f.iter().map(|x| x.tick).collect::<Vec<_>>()),
            Column::new("camera".into(), f.iter().map(|x| x.camera as u32).collect::<Vec<_>>()),
            Column::new("incident".into(), f.iter().map(|x| x.incident).collect::<Vec<_>>()),
            Column::new("visible".into(), f.iter().map(|x| x.visible_px > 0).collect::<Vec<_>>()),
            Column::new("visible_px".into(), f.iter().map(|x| x.visible_px).collect::<Vec<_>>()),
            Column::new("unoccluded_px".into(), f.iter().map(|x| x.unoccluded_px).collect::<Vec<_>>()),
            Column::new(
                "visible_fraction".into(),
                f.iter()
                    .map(|x| if x.unoccluded_px == 0 { 0.0 } else { (x.visible_px as f64 / x.unoccluded_px as f64).min(1.0) })
                    .collect::<Vec<_>>(),
            ),
            Column::new("box_x0".into(), corner(0)),
            Column::new("box_y0".into(), corner(1)),
            Column::new("box_x1".into(), corner(2)),
            Column::new("box_y1".into(), corner(3)),
        ],
    )
}

/// The `alerts` table: every alert raised, with its match.
pub fn alerts(records: &RunRecords) -> PolarsResult<DataFrame> {
    let a = &records.alerts;
    let roi = |k: usize| a.iter().map(|x| x.roi[k]).collect::<Vec<_>>();
    frame(
        a.len(),
        vec![
            Column::new("alert".into(), a.iter().map(|x| x.alert).collect::<Vec<_>>()),
            Column::new("camera".into(), a.iter().map(|x| x.camera as u32).collect::<Vec<_>>()),
            Column::new("start_tick".into(), a.iter().map(|x| x.start_tick).collect::<Vec<_>>()),
            Column::new("end_tick".into(), a.iter().map(|x| x.end_tick).collect::<Vec<_>>()),
            Column::new("start_s".into(), a.iter().map(|x| x.start_s).collect::<Vec<_>>()),
            Column::new("raised_s".into(), a.iter().map(|x| x.raised_s).collect::<Vec<_>>()),
            Column::new("end_s".into(), a.iter().map(|x| x.end_s).collect::<Vec<_>>()),
            Column::new("duration_s".into(), a.iter().map(|x| x.end_s - x.start_s).collect::<Vec<_>>()),
            Column::new("confidence_pct".into(), a.iter().map(|x| x.confidence_pct).collect::<Vec<_>>()),
            Column::new("roi_x0".into(), roi(0)),
            Column::new("roi_y0".into(), roi(1)),
            Column::new("roi_x1".into(), roi(2)),
            Column::new("roi_y1".into(), roi(3)),
            Column::new("site_x_m".into(), a.iter().map(|x| x.location.map(|l| l[0])).collect::<Vec<_>>()),
            Column::new("site_z_m".into(), a.iter().map(|x| x.location.map(|l| l[1])).collect::<Vec<_>>()),
            Column::new("text".into(), a.iter().map(|x| x.text.clone()).collect::<Vec<_>>()),
            Column::new("metadata_bytes".into(), a.iter().map(|x| x.metadata_bytes).collect::<Vec<_>>()),
            Column::new("matched_incident".into(), a.iter().map(|x| x.matched_incident).collect::<Vec<_>>()),
            Column::new("false_alert".into(), a.iter().map(|x| x.false_alert).collect::<Vec<_>>()),
        ],
    )
}

/// The `operating_points` table: the alerting rule replayed at each threshold of a sweep.
pub fn operating_points(records: &RunRecords) -> PolarsResult<DataFrame> {
    let o = &records.operating_points;
    frame(
        o.len(),
        vec![
            Column::new("threshold".into(), o.iter().map(|x| x.threshold).collect::<Vec<_>>()),
            Column::new("alerts".into(), o.iter().map(|x| x.alerts).collect::<Vec<_>>()),
            Column::new("false_alerts".into(), o.iter().map(|x| x.false_alerts).collect::<Vec<_>>()),
            Column::new("false_alerts_per_hour".into(), o.iter().map(|x| x.false_alerts_per_hour).collect::<Vec<_>>()),
            Column::new("incident_recall".into(), o.iter().map(|x| x.incident_recall).collect::<Vec<_>>()),
            Column::new("protected_false_alert_rate".into(), o.iter().map(|x| x.protected_false_alert_rate).collect::<Vec<_>>()),
            Column::new("chosen".into(), o.iter().map(|x| x.chosen).collect::<Vec<_>>()),
        ],
    )
}

/// The `privacy` table: what the attackers learn from unmasked and masked crops.
pub fn privacy(records: &RunRecords) -> PolarsResult<DataFrame> {
    let p = &records.privacy;
    frame(
        p.len(),
        vec![
            Column::new("attack".into(), p.iter().map(|x| x.attack.clone()).collect::<Vec<_>>()),
            Column::new("target".into(), p.iter().map(|x| x.target.clone()).collect::<Vec<_>>()),
            Column::new("view".into(), p.iter().map(|x| x.view.clone()).collect::<Vec<_>>()),
            Column::new("metric".into(), p.iter().map(|x| x.metric.clone()).collect::<Vec<_>>()),
            Column::new("value".into(), p.iter().map(|x| x.value).collect::<Vec<_>>()),
            Column::new("chance".into(), p.iter().map(|x| x.chance).collect::<Vec<_>>()),
            Column::new("ci_low".into(), p.iter().map(|x| x.ci_low).collect::<Vec<_>>()),
            Column::new("ci_high".into(), p.iter().map(|x| x.ci_high).collect::<Vec<_>>()),
            Column::new("persons".into(), p.iter().map(|x| x.persons).collect::<Vec<_>>()),
            Column::new("samples".into(), p.iter().map(|x| x.samples).collect::<Vec<_>>()),
        ],
    )
}

/// Serialises a table to Parquet bytes.
pub fn parquet_bytes(df: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(df)?;
    Ok(bytes)
}

/// Writes every table as `<name>.parquet` into `dir`.
pub fn write_all(records: &RunRecords, dir: &Path) -> Result<(), String> {
    let tables: [(&str, fn(&RunRecords) -> PolarsResult<DataFrame>); 12] = [
        ("runs", runs),
        ("cameras", cameras),
        ("persons", persons),
        ("observations", observations),
        ("frames", frames),
        ("timings", timings),
        ("incidents", incidents),
        ("incident_participants", incident_participants),
        ("incident_frames", incident_frames),
        ("alerts", alerts),
        ("operating_points", operating_points),
        ("privacy", privacy),
    ];
    for (name, build) in tables {
        let mut df = build(records).map_err(|e| format!("building table {name}: {e}"))?;
        let bytes = parquet_bytes(&mut df).map_err(|e| format!("encoding {name}.parquet: {e}"))?;
        write_atomic(&dir.join(format!("{name}.parquet")), &bytes).map_err(|e| format!("writing {name}.parquet: {e}"))?;
    }
    Ok(())
}

/// Reads a Parquet table written by [`write_all`].
pub fn read(path: &Path) -> PolarsResult<DataFrame> {
    let file = std::fs::File::open(path)?;
    ParquetReader::new(file).finish()
}
