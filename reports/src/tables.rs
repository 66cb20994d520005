//! The run's records as Parquet tables, written and read through one serde path: each record
//! struct of [`crate::records`] is a row; `serde_arrow` turns a slice of rows into Arrow arrays
//! (the schema traced from the struct's own types) and back; polars writes and reads the
//! Parquet files. Every table carries the records schema version in a `schema_version` column
//! and is written atomically.
//!
//! Arrow types of the columns: `bool`; `u8`/`u16`/`u32` fields as `uint32` (the polars build
//! has no 8- and 16-bit integer types), `u64` as `uint64`; `f64` as `double`; strings and
//! enum values as `large_string` — never string views, which pyarrow's and pandas' filters
//! reject; id lists as `large_list<uint32>`; `Option` as a null.

use crate::output::write_atomic;
use crate::records::*;
use marrow::array::{Array, BooleanArray, BytesArray, ListArray, PrimitiveArray};
use marrow::datatypes::{DataType as ArrowType, Field, FieldMeta};
use polars::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use std::path::Path;

/// A record type written as one Parquet table, `NAME.parquet`.
pub trait Table: Serialize + DeserializeOwned {
    /// The table's file stem.
    const NAME: &'static str;

    /// Columns that follow from each row (a fraction, a duration, a count), added after the
    /// row's own for readers' convenience and never read back. `run` is the run's record, for
    /// derivations that need its settings (e.g. ticks to seconds).
    fn derived(_rows: &[Self], _run: Option<&RunRecord>) -> Vec<Column> {
        Vec::new()
    }

    /// Checks a row read back from a file (values the types alone do not rule out).
    ///
    /// # Errors
    /// The field and what is wrong with it.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A derived column: `value` of every row.
fn column<T, V>(name: &str, rows: &[T], value: impl Fn(&T) -> V) -> Column
where
    Series: NamedFrom<Vec<V>, [V]>,
{
    Column::new(name.into(), rows.iter().map(value).collect::<Vec<V>>())
}

impl Table for RunRecord {
    const NAME: &'static str = "runs";
}

impl Table for CameraRecord {
    const NAME: &'static str = "cameras";
}

impl Table for PersonRecord {
    const NAME: &'static str = "persons";
    fn check(&self) -> Result<(), String> {
        self.demographics().map(|_| ()).ok_or_else(|| format!("person {}: skin_tone {} is not a Monk tone (1–10)", self.person, self.skin_tone))
    }
}

impl Table for ObservationRecord {
    const NAME: &'static str = "observations";
    fn derived(rows: &[Self], _: Option<&RunRecord>) -> Vec<Column> {
        vec![column("visible_fraction", rows, Self::visible_fraction), column("exposed_fraction", rows, Self::exposed_fraction)]
    }
}

impl Table for FrameRecord {
    const NAME: &'static str = "frames";
}

impl Table for TimingRecord {
    const NAME: &'static str = "timings";
}

impl Table for IncidentRecord {
    const NAME: &'static str = "incidents";
    fn derived(rows: &[Self], run: Option<&RunRecord>) -> Vec<Column> {
        let tick_hz = run.map_or(1, |r| r.tick_hz).max(1) as f64;
        vec![
            column("start_s", rows, |i| i.start_tick as f64 / tick_hz),
            column("end_s", rows, |i| i.end_tick as f64 / tick_hz),
            column("participants", rows, |i| i.persons.len() as u32),
            column("objects", rows, |i| i.objects.len() as u32),
        ]
    }
}

/// One row of `incident_participants`: a participant of an incident, for joins with `persons`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ParticipantRecord {
    /// Incident index.
    pub incident: u32,
    /// Person id.
    pub person: u32,
}

impl Table for ParticipantRecord {
    const NAME: &'static str = "incident_participants";
}

impl Table for IncidentFrameRecord {
    const NAME: &'static str = "incident_frames";
    fn derived(rows: &[Self], _: Option<&RunRecord>) -> Vec<Column> {
        vec![column("visible", rows, |f| f.visible_px > 0), column("visible_fraction", rows, Self::visible_fraction)]
    }
}

impl Table for AlertRecord {
    const NAME: &'static str = "alerts";
    fn derived(rows: &[Self], _: Option<&RunRecord>) -> Vec<Column> {
        vec![column("duration_s", rows, |a| a.end_s - a.start_s)]
    }
}

impl Table for OperatingPointRecord {
    const NAME: &'static str = "operating_points";
}

impl Table for PrivacyRecord {
    const NAME: &'static str = "privacy";
}

impl Table for RegionScoresRecord {
    const NAME: &'static str = "region_scores";
}

impl Table for AlertRegionRecord {
    const NAME: &'static str = "alert_regions";
}

/// The Arrow fields of a record type, traced from its Rust types.
fn fields<T: Table>() -> Result<Vec<Field>, String> {
    let options = TracingOptions::default().enums_without_data_as_strings(true).strings_as_large_utf8(true).sequence_as_large_list(true);
    let mut fields = Vec::<Field>::from_type::<T>(options).map_err(|e| format!("{}: the record type has no table schema: {e}", T::NAME))?;
    // Enum values (`child`, `wheelchair` …) are traced as dictionaries; plain strings are what
    // every reader filters on, and serde_arrow writes and reads enums to and from them alike.
    for field in &mut fields {
        if matches!(field.data_type, ArrowType::Dictionary(_, _)) {
            field.data_type = ArrowType::LargeUtf8;
        }
    }
    Ok(fields)
}

/// The table of `rows`: `schema_version`, then the rows' own columns, then the derived ones.
///
/// # Errors
/// A row that does not fit the traced schema (cannot happen for the records written here).
pub fn table<T: Table>(rows: &[T], run: Option<&RunRecord>) -> Result<DataFrame, String> {
    let fields = fields::<T>()?;
    let arrays = serde_arrow::to_marrow(&fields, rows).map_err(|e| format!("{}: {e}", T::NAME))?;
    let mut columns = vec![Column::new("schema_version".into(), vec![crowdtwin_core::RECORDS_SCHEMA_VERSION; rows.len()])];
    for (field, array) in fields.iter().zip(arrays) {
        columns.push(to_series(&field.name, array).map_err(|e| format!("{}: {e}", T::NAME))?.into());
    }
    columns.extend(T::derived(rows, run));
    DataFrame::new(rows.len(), columns).map_err(|e| format!("{}: {e}", T::NAME))
}

/// The rows of a table read from `path`, checked to be of this build's schema version (an
/// empty table, which holds no version value, only for its columns).
///
/// # Errors
/// An unreadable file, another schema version (both named), a missing column or a value that
/// does not fit the record (naming the file and column).
pub fn rows<T: Table>(path: &Path) -> Result<Vec<T>, String> {
    let df = read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fields = fields::<T>()?;
    if df.height() == 0 {
        // An empty table (a run without alerts) carries no version value: its columns are checked.
        return match fields.iter().find(|f| df.column(&f.name).is_err()) {
            Some(missing) => Err(format!("{}: no column `{}`", path.display(), missing.name)),
            None => Ok(Vec::new()),
        };
    }
    let version = df.column("schema_version").ok().and_then(|c| c.as_materialized_series().u32().ok().and_then(|v| v.get(0)));
    let current = crowdtwin_core::RECORDS_SCHEMA_VERSION;
    if version != Some(current) {
        let found = version.map_or("none".to_string(), |v| v.to_string());
        return Err(format!("{}: schema version {found}, but this build reads schema version {current} (see the README's schema changelog)", path.display()));
    }
    let arrays = fields
        .iter()
        .map(|field| {
            let column = df.column(&field.name).map_err(|_| format!("{}: no column `{}`", path.display(), field.name))?;
            to_array(column.as_materialized_series(), &field.data_type).map_err(|e| format!("{}: column `{}`: {e}", path.display(), field.name))
        })
        .collect::<Result<Vec<Array>, String>>()?;
    let views: Vec<_> = arrays.iter().map(Array::as_view).collect();
    let rows: Vec<T> = serde_arrow::from_marrow(&fields, &views).map_err(|e| format!("{}: {e}", path.display()))?;
    rows.iter().try_for_each(|row| row.check().map_err(|e| format!("{}: {e}", path.display())))?;
    Ok(rows)
}

/// Bit `i` of an Arrow bitmap (least significant bit first).
fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap[i / 8] >> (i % 8) & 1 == 1
}

/// An Arrow bitmap of `bits`.
fn bitmap(bits: impl Iterator<Item = bool>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, b) in bits.enumerate() {
        if i % 8 == 0 {
            bytes.push(0);
        }
        if b {
            bytes[i / 8] |= 1 << (i % 8);
        }
    }
    bytes
}

/// Values with their validity as options.
fn optional<T: Copy, U>(values: &[T], validity: Option<&[u8]>, map: impl Fn(T) -> U) -> Vec<Option<U>> {
    values.iter().enumerate().map(|(i, &v)| validity.is_none_or(|b| bit(b, i)).then(|| map(v))).collect()
}

/// A polars series of one Arrow array (the types [`fields`] traces).
fn to_series(name: &str, array: Array) -> Result<Series, String> {
    let name: PlSmallStr = name.into();
    let strings = |offsets: Vec<usize>, data: &[u8], validity: Option<Vec<u8>>| -> Result<Series, String> {
        let texts = (0..offsets.len().saturating_sub(1))
            .map(|i| {
                let valid = validity.as_deref().is_none_or(|b| bit(b, i));
                valid.then(|| std::str::from_utf8(&data[offsets[i]..offsets[i + 1]]).map_err(|e| e.to_string())).transpose()
            })
            .collect::<Result<Vec<Option<&str>>, String>>()?;
        Ok(Series::new(name.clone(), texts))
    };
    Ok(match array {
        Array::Boolean(a) => {
            let values: Vec<Option<bool>> = (0..a.len).map(|i| a.validity.as_deref().is_none_or(|b| bit(b, i)).then(|| bit(&a.values, i))).collect();
            Series::new(name, values)
        }
        Array::UInt8(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), u32::from)),
        Array::UInt16(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), u32::from)),
        Array::UInt32(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), |v| v)),
        Array::UInt64(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), |v| v)),
        Array::Int32(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), |v| v)),
        Array::Int64(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), |v| v)),
        Array::Float32(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), |v| v)),
        Array::Float64(a) => Series::new(name, optional(&a.values, a.validity.as_deref(), |v| v)),
        Array::Utf8(a) => strings(a.offsets.iter().map(|&o| o as usize).collect(), &a.data, a.validity)?,
        Array::LargeUtf8(a) => strings(a.offsets.iter().map(|&o| o as usize).collect(), &a.data, a.validity)?,
        Array::LargeList(a) => {
            let elements = to_series("", *a.elements)?;
            let lists: Vec<Series> = a.offsets.windows(2).map(|w| elements.slice(w[0], (w[1] - w[0]) as usize)).collect();
            if lists.is_empty() {
                // polars types an empty list of series as null; the column keeps its list type.
                Series::new_empty(name, &DataType::List(Box::new(elements.dtype().clone())))
            } else {
                Series::new(name, lists)
            }
        }
        other => return Err(format!("column `{name}`: arrays of type {:?} are not a table type", other.data_type())),
    })
}

/// The Arrow array of a polars column, as the record's field `data_type` asks.
fn to_array(series: &Series, data_type: &ArrowType) -> Result<Array, String> {
    let text = |e: PolarsError| e.to_string();
    let narrow = |what: &str| format!("a value does not fit {what}");
    Ok(match data_type {
        ArrowType::Boolean => {
            let ca = series.bool().map_err(text)?;
            let validity = (ca.null_count() > 0).then(|| bitmap(ca.iter().map(|v| v.is_some())));
            Array::Boolean(BooleanArray { len: ca.len(), validity, values: bitmap(ca.iter().map(|v| v.unwrap_or(false))) })
        }
        ArrowType::UInt8 | ArrowType::UInt16 | ArrowType::UInt32 => {
            let ca = series.u32().map_err(text)?;
            let validity = (ca.null_count() > 0).then(|| bitmap(ca.iter().map(|v| v.is_some())));
            let values = ca.iter().map(|v| v.unwrap_or(0));
            match data_type {
                ArrowType::UInt8 => Array::UInt8(PrimitiveArray { validity, values: values.map(u8::try_from).collect::<Result<_, _>>().map_err(|_| narrow("u8"))? }),
                ArrowType::UInt16 => Array::UInt16(PrimitiveArray { validity, values: values.map(u16::try_from).collect::<Result<_, _>>().map_err(|_| narrow("u16"))? }),
                _ => Array::UInt32(PrimitiveArray { validity, values: values.collect() }),
            }
        }
        ArrowType::UInt64 => primitive(series.u64().map_err(text)?, Array::UInt64),
        ArrowType::Int32 => primitive(series.i32().map_err(text)?, Array::Int32),
        ArrowType::Int64 => primitive(series.i64().map_err(text)?, Array::Int64),
        ArrowType::Float32 => primitive(series.f32().map_err(text)?, Array::Float32),
        ArrowType::Float64 => primitive(series.f64().map_err(text)?, Array::Float64),
        ArrowType::LargeUtf8 => {
            let ca = series.str().map_err(text)?;
            let validity = (ca.null_count() > 0).then(|| bitmap(ca.iter().map(|v| v.is_some())));
            let mut offsets = vec![0i64];
            let mut data = Vec::new();
            for value in ca.iter() {
                data.extend_from_slice(value.unwrap_or_default().as_bytes());
                offsets.push(data.len() as i64);
            }
            Array::LargeUtf8(BytesArray { validity, offsets, data })
        }
        ArrowType::LargeList(element) => {
            let ca = series.list().map_err(text)?;
            let mut offsets = vec![0i64];
            let mut parts = Vec::new();
            for row in 0..ca.len() {
                let list = ca.get_as_series(row).ok_or_else(|| format!("row {row} holds no list"))?;
                offsets.push(offsets[offsets.len() - 1] + list.len() as i64);
                parts.push(list);
            }
            let mut all = Series::new_empty("".into(), &ca.inner_dtype().clone());
            for part in &parts {
                all.append(part).map_err(text)?;
            }
            let meta = FieldMeta { name: element.name.clone(), nullable: element.nullable, metadata: element.metadata.clone() };
            Array::LargeList(ListArray { validity: None, offsets, meta, elements: Box::new(to_array(&all, &element.data_type)?) })
        }
        other => return Err(format!("fields of type {other:?} are not a table type")),
    })
}

/// A primitive Arrow array of a polars numeric column.
fn primitive<T: PolarsNumericType>(ca: &ChunkedArray<T>, wrap: impl Fn(PrimitiveArray<T::Native>) -> Array) -> Array {
    let validity = (ca.null_count() > 0).then(|| bitmap(ca.iter().map(|v| v.is_some())));
    wrap(PrimitiveArray { validity, values: ca.iter().map(|v| v.unwrap_or_default()).collect() })
}

/// Serialises a table to Parquet bytes. The Arrow schema stored in the file (which pyarrow,
/// pandas and DuckDB restore) names plain `large_string` rather than polars' own string views.
///
/// # Errors
/// Polars' encoding errors.
pub fn parquet_bytes(df: &mut DataFrame) -> PolarsResult<Vec<u8>> {
    let schema = df.schema().to_arrow(CompatLevel::oldest());
    let arrow_schema = polars_parquet::write::schema_to_metadata_key(&schema);
    let metadata = KeyValueMetadata::from_static(vec![(arrow_schema.key, arrow_schema.value.unwrap_or_default())]);
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).with_key_value_metadata(Some(metadata)).finish(df)?;
    Ok(bytes)
}

/// Writes `rows` as `DIR/NAME.parquet`.
///
/// # Errors
/// Building, encoding or writing the table, naming it.
pub fn write<T: Table>(dir: &Path, rows: &[T], run: Option<&RunRecord>) -> Result<(), String> {
    let mut df = table(rows, run)?;
    let bytes = parquet_bytes(&mut df).map_err(|e| format!("encoding {}.parquet: {e}", T::NAME))?;
    write_atomic(&dir.join(format!("{}.parquet", T::NAME)), &bytes).map_err(|e| format!("writing {}.parquet: {e}", T::NAME))
}

/// The `incident_participants` rows: one per (incident, person).
pub fn participants(records: &RunRecords) -> Vec<ParticipantRecord> {
    records.incidents.iter().flat_map(|i| i.persons.iter().map(move |&person| ParticipantRecord { incident: i.incident, person })).collect()
}

/// Writes every table as `<name>.parquet` into `dir`.
///
/// # Errors
/// The first table that cannot be built, encoded or written.
pub fn write_all(records: &RunRecords, dir: &Path) -> Result<(), String> {
    let run = records.runs.first();
    write(dir, &records.runs, run)?;
    write(dir, &records.cameras, run)?;
    write(dir, &records.persons, run)?;
    write(dir, &records.observations, run)?;
    write(dir, &records.frames, run)?;
    write(dir, &records.timings, run)?;
    write(dir, &records.incidents, run)?;
    write(dir, &participants(records), run)?;
    write(dir, &records.incident_frames, run)?;
    write(dir, &records.alerts, run)?;
    write(dir, &records.operating_points, run)?;
    write(dir, &records.privacy, run)?;
    write(dir, &records.region_scores, run)?;
    write(dir, &records.alert_regions, run)
}

/// Reads every table of a run folder written by [`write_all`] back into records (the derived
/// columns and `incident_participants` follow from the rest and are not read).
///
/// # Errors
/// The first table that cannot be read, is of another schema version, or does not fit its record.
pub fn read_all(dir: &Path) -> Result<RunRecords, String> {
    fn open<T: Table>(dir: &Path) -> Result<Vec<T>, String> {
        rows(&dir.join(format!("{}.parquet", T::NAME)))
    }
    Ok(RunRecords {
        runs: open(dir)?,
        cameras: open(dir)?,
        persons: open(dir)?,
        observations: open(dir)?,
        frames: open(dir)?,
        timings: open(dir)?,
        incidents: open(dir)?,
        incident_frames: open(dir)?,
        alerts: open(dir)?,
        operating_points: open(dir)?,
        privacy: open(dir)?,
        region_scores: open(dir)?,
        alert_regions: open(dir)?,
    })
}

/// Reads a Parquet file into a data frame.
///
/// # Errors
/// An unreadable or malformed file.
pub fn read(path: &Path) -> PolarsResult<DataFrame> {
    let file = std::fs::File::open(path)?;
    ParquetReader::new(file).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crowdtwin_core::taxonomy::*;

    /// One row of every table, with every kind of value (options both ways, lists, enums).
    fn records() -> RunRecords {
        let run = RunRecord {
            scenario: "plaza — Ünïcode".into(),
            scenario_sha256: "ab".repeat(32),
            seed: u64::MAX - 3,
            duration_s: 20.0,
            tick_hz: 10,
            ticks: 200,
            masking_model: "nanodet".into(),
            masking_model_sha256: "cd".repeat(32),
            refine_model: String::new(),
            refine_model_sha256: String::new(),
            crowdtwin_version: "0.1.0".into(),
            modality: "edge".into(),
            retention: 3,
            bits_per_pixel: 0.1,
            retention_raw_days: 28.0,
            retention_masked_days: 30.0,
            retention_alert_days: 30.0,
            anomaly_model: "mil".into(),
            anomaly_model_sha256: "ef".repeat(32),
            profile: "unicri".into(),
            profile_sha256: "0f".into(),
            alert_threshold: 0.55,
            alert_release_ratio: 0.8,
            alert_min_duration_s: 1.0,
            region_iou: 0.1,
            track_share: 0.1,
            detector_tiles: "2x2".into(),
            miss_threshold: 0.2,
            min_visible_px: 20,
            light: "night".into(),
            weather: "rain+fog".into(),
            site: "Kaivopiha, Helsinki".into(),
            site_attribution: "© OpenStreetMap contributors (ODbL 1.0)".into(),
            origin_lat_deg: Some(60.1695841),
            origin_lon_deg: None,
        };
        let demographics = Demographics {
            skin_tone: SkinTone::try_from(9).unwrap(),
            gender_presentation: GenderPresentation::Masculine,
            age_group: AgeGroup::OlderAdult,
            mobility_aid: MobilityAid::Wheelchair,
            head_covering: HeadCovering::Hijab,
            body_size: BodySize::Heavy,
            clothing_colour: ClothingColour::Yellow,
        };
        RunRecords {
            cameras: vec![CameraRecord {
                index: 2,
                id: "north".into(),
                x_m: -1.5,
                y_m: 6.0,
                z_m: 12.25,
                yaw_deg: 180.0,
                pitch_deg: 20.0,
                hfov_deg: 70.0,
                sensor_width: 1920,
                sensor_height: 1080,
                render_width: 640,
                render_height: 360,
                fps: 5,
            }],
            persons: vec![PersonRecord::new(7, demographics, 1.62)],
            observations: vec![ObservationRecord { tick: 4, camera: 2, person: 7, visible_px: 300, unoccluded_px: 400, height_px: 80.5, pixels_per_metre: 51.25, depth_m: 9.5, exposed_px: 12, box_x0: Some(5), box_y0: Some(6), box_x1: Some(25), box_y1: None }],
            frames: vec![FrameRecord { tick: 4, camera: 2, time_s: 0.4, persons_visible: 1, detections: 2, refined: 0, masked_px: 900, false_mask_px: 30, frame_px: 230400, plate_px: 0, plate_exposed_px: 0, screen_px: 5, screen_exposed_px: 1, ad_score: 0.125 }],
            timings: vec![TimingRecord { tick: 4, camera: 2, simulate_ms: 600.5, mask_ms: 90.0, ad_ms: 4.0, record_ms: 1.5 }],
            incidents: vec![IncidentRecord {
                incident: 0,
                kind: "fight".into(),
                protected: false, out_of_scope: false,
                start_tick: 20,
                end_tick: 80,
                persons: vec![7, 9],
                objects: vec![],
                centre_x: 1.0,
                centre_z: -2.0,
                intensity: 0.7,
                detected: true,
                time_to_alert_s: Some(1.5),
            }],
            incident_frames: vec![IncidentFrameRecord::new(4, 2, 0, 120, 150, Some([10, 20, 30, 60])), IncidentFrameRecord::new(5, 2, 0, 0, 150, None)],
            alerts: vec![AlertRecord {
                alert: 0,
                camera: 2,
                start_tick: 25,
                raised_tick: 35,
                end_tick: 60,
                start_s: 2.5,
                raised_s: 3.5,
                end_s: 6.0,
                confidence_pct: 77.0,
                roi_x0: 1.0,
                roi_y0: 2.0,
                roi_x1: 300.0,
                roi_y1: 200.0,
                site_x_m: Some(3.0),
                site_z_m: Some(-4.5),
                latitude_deg: Some(60.1695),
                longitude_deg: None,
                text: "potential safety incident — review footage".into(),
                metadata_bytes: 210,
                detected_incidents: vec![0],
                flagged_activities: vec![], disproportionate_events: Vec::new(),
                false_alert: false,
            }],
            operating_points: vec![OperatingPointRecord { threshold: 0.5, alerts: 1, false_alerts: 0, false_alerts_per_hour: 0.0, incident_recall: Some(1.0), protected_flag_rate: None, alert_time_share: 0.25, chosen: true }],
            region_scores: vec![RegionScoresRecord { tick: 4, camera: 2, columns: 2, rows: 1, scores: vec![0.25, 0.75] }],
            alert_regions: vec![AlertRegionRecord { alert: 0, tick: 4, camera: 2, region: 0, x0: 320.0, y0: 0.0, x1: 640.0, y1: 360.0, score: 0.75 }],
            privacy: Vec::new(), // an empty table reads back empty
            runs: vec![run],
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("crowdtwin-tables-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_table_reads_back_as_written() {
        let dir = temp("roundtrip");
        let written = records();
        write_all(&written, &dir).unwrap();
        let read = read_all(&dir).unwrap();
        assert_eq!(read.runs, written.runs);
        assert_eq!(read.cameras, written.cameras);
        assert_eq!(read.persons, written.persons);
        assert_eq!(read.observations, written.observations);
        assert_eq!(read.frames, written.frames);
        assert_eq!(read.timings, written.timings);
        assert_eq!(read.incidents, written.incidents);
        assert_eq!(read.incident_frames, written.incident_frames);
        assert_eq!(read.alerts, written.alerts);
        assert_eq!(read.operating_points, written.operating_points);
        assert_eq!(read.region_scores, written.region_scores);
        assert_eq!(read.alert_regions, written.alert_regions);
        assert!(read.privacy.is_empty());
        // Written again from what was read: the same bytes.
        let again = temp("roundtrip-again");
        write_all(&read, &again).unwrap();
        for name in ["runs", "persons", "incidents", "incident_frames", "alerts"] {
            let bytes = |d: &Path| std::fs::read(d.join(format!("{name}.parquet"))).unwrap();
            assert_eq!(bytes(&dir), bytes(&again), "{name}.parquet");
        }
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(again).unwrap();
    }

    #[test]
    fn columns_keep_their_names_types_and_derived_values() {
        let written = records();
        let persons = table(&written.persons, written.runs.first()).unwrap();
        let names: Vec<&str> = persons.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["schema_version", "person", "skin_tone", "gender_presentation", "age_group", "mobility_aid", "head_covering", "body_size", "clothing_colour", "height_m"]);
        assert_eq!(persons.column("skin_tone").unwrap().dtype(), &DataType::UInt32);
        assert_eq!(persons.column("age_group").unwrap().str().unwrap().get(0), Some("older_adult"));
        let incidents = table(&written.incidents, written.runs.first()).unwrap();
        let value = |name: &str| incidents.column(name).unwrap().get(0).unwrap().to_string();
        assert_eq!((value("start_s"), value("end_s"), value("participants"), value("objects")), ("2.0".into(), "8.0".into(), "2".into(), "0".into()));
        assert!(matches!(incidents.column("persons").unwrap().dtype(), DataType::List(inner) if **inner == DataType::UInt32));
        let none = table::<IncidentRecord>(&[], written.runs.first()).unwrap();
        assert!(matches!(none.column("persons").unwrap().dtype(), DataType::List(inner) if **inner == DataType::UInt32), "an empty table keeps its list type");
        let frames = table(&written.incident_frames, None).unwrap();
        assert_eq!(frames.column("box_x1").unwrap().u32().unwrap().get(1), None);
        assert_eq!(frames.column("visible").unwrap().bool().unwrap().get(1), Some(false));
        let fraction = frames.column("visible_fraction").unwrap().f64().unwrap().get(0).unwrap();
        assert!((fraction - 0.8).abs() < 1e-12);
    }

    #[test]
    fn another_schema_version_is_refused_naming_both() {
        let dir = temp("version");
        let written = records();
        let mut runs = table(&written.runs, None).unwrap();
        runs.with_column(Column::new("schema_version".into(), vec![crowdtwin_core::RECORDS_SCHEMA_VERSION + 1])).unwrap();
        std::fs::write(dir.join("runs.parquet"), parquet_bytes(&mut runs).unwrap()).unwrap();
        let error = rows::<RunRecord>(&dir.join("runs.parquet")).unwrap_err();
        let (theirs, ours) = (crowdtwin_core::RECORDS_SCHEMA_VERSION + 1, crowdtwin_core::RECORDS_SCHEMA_VERSION);
        assert!(error.contains(&format!("schema version {theirs}")) && error.contains(&format!("schema version {ours}")), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
