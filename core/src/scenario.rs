//! Scenario schema v1: what a run simulates, written in RON.
//!
//! # Axes and angles
//! World coordinates are metres in a right-handed frame: **x points east, y up, z south**
//! (so north is −z), the ground is the plane y = 0 and the plaza's centre is the origin.
//! A camera's `yaw_deg` is its compass heading, clockwise from north (0 = looking north
//! along −z, 90 = east along +x); `pitch_deg` is its tilt **below** the horizon (a CCTV
//! camera looking down at 30° has `pitch_deg: 30.0`). `hfov_deg` is the horizontal field of
//! view; the vertical one follows from the resolution's aspect ratio (square pixels).
//!
//! # Time
//! The simulation advances in fixed ticks of `1 / tick_hz` seconds. A camera with `fps`
//! frames per second renders on every `tick_hz / fps`-th tick, starting with tick 0, so
//! `fps` must divide `tick_hz`.
//!
//! # Demographic mix
//! Quotas are **per attribute**: for each attribute the shares are turned into exact counts
//! (largest remainder) over `population.count`, and persons are ranked by a per-person random
//! key for that attribute, the first ones getting the first value. So the marginal counts are
//! exact, the attributes are combined at random (independent in expectation), and adding a
//! person moves at most the persons at quota boundaries.

use crate::incident::IncidentSpec;
use crate::taxonomy::{AgeGroup, BodySize, ClothingColour, GenderPresentation, HeadCovering, MobilityAid, SkinTone};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Sun elevation and azimuth (radians) for a local solar time: a mid-latitude equinox day,
/// rising in the east at 6 h, 55° high in the south at noon, setting in the west at 18 h.
pub fn sun_angles(time_of_day_h: f32) -> (f32, f32) {
    sun_angles_at(time_of_day_h, None)
}

/// Sun elevation and azimuth (radians) at a latitude (degrees north; `None`: the template's
/// mid-latitude, 35° N) on an equinox day: the noon sun stands 90° − latitude above the
/// southern horizon (the northern one south of the equator), so in Helsinki (60.2° N) at 29.8°.
pub fn sun_angles_at(time_of_day_h: f32, latitude_deg: Option<f64>) -> (f32, f32) {
    let day_angle = (time_of_day_h - 6.0) / 12.0 * std::f32::consts::PI;
    let noon = match latitude_deg {
        None => 55f32.to_radians(),
        Some(lat) => (90.0 - lat.abs() as f32).to_radians(),
    };
    let elevation = noon * day_angle.sin();
    let azimuth = match latitude_deg {
        Some(lat) if lat < 0.0 => std::f32::consts::FRAC_PI_2 - day_angle, // through the north
        _ => std::f32::consts::FRAC_PI_2 + day_angle,                      // from north, clockwise: 90° = east
    };
    (elevation, azimuth)
}

/// Parses RON text into any schema type, with errors that name `origin`, line, column and the
/// path of the field at fault (shared by scenarios and suites).
pub fn parse_ron<T: serde::de::DeserializeOwned>(text: &str, origin: &Path) -> Result<T, ScenarioError> {
    let mut deserializer = ron::Deserializer::from_str(text).map_err(|e| ScenarioError::from_ron(origin, e, String::new()))?;
    let value: T = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => value,
        Err(err) => {
            // An enum variant's fields show as `?` in the path: `site.?.bbox` reads `site.bbox`.
            let field = err.path().to_string().replace(".?.", ".");
            let spanned = deserializer.span_error(err.into_inner());
            return Err(ScenarioError::from_ron(origin, spanned, field));
        }
    };
    deserializer.end().map_err(|e| ScenarioError::from_ron(origin, deserializer.span_error(e), String::new()))?;
    Ok(value)
}

/// Parses RON text into a schema type and runs its semantic checks (`check` gives the path of
/// the field at fault and what is wrong); errors of either kind name `origin`, line, column and
/// field. Scenarios, suites, policies, candidate lists and model manifests all read this way.
///
/// # Errors
/// A syntax error, an unknown or missing field, a wrong type, or a failed check.
pub fn parse_checked<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &Path,
    check: impl FnOnce(&T) -> Result<(), (Vec<PathSegment>, String)>,
) -> Result<T, ScenarioError> {
    let value: T = parse_ron(text, origin)?;
    check(&value).map_err(|(path, message)| {
        let (line, col) = locate(text, &path).unwrap_or((1, 1));
        ScenarioError::Invalid { file: origin.to_path_buf(), line, col, field: render_path(&path), message }
    })?;
    Ok(value)
}

/// The only schema version this build reads.
pub const SCENARIO_VERSION: u32 = 1;

/// A complete scenario.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Schema version; must be 1.
    pub version: u32,
    /// Short name, used in reports.
    pub name: String,
    /// Master seed of every random stream.
    pub seed: u64,
    /// Simulated duration in seconds.
    pub duration_s: f32,
    /// Simulation rate in ticks per second (fixed dt = 1 / tick_hz).
    pub tick_hz: u32,
    /// Local solar time in hours (0–24), which places the sun.
    pub time_of_day_h: f32,
    /// The place: the procedural `template(…)` (a v1 file's bare `(…)` reads as one), or an
    /// imported `osm(…)` or `geojson(…)` map.
    pub site: SiteSpec,
    /// Who is there.
    pub population: Population,
    /// The virtual CCTV cameras.
    pub cameras: Vec<CameraSpec>,
    /// Render quality settings.
    #[serde(default)]
    pub render: RenderSettings,
    /// How the pipeline paints masks.
    #[serde(default)]
    pub masking: MaskingSettings,
    /// How results are scored.
    #[serde(default)]
    pub evaluation: EvaluationSettings,
    /// Light and weather.
    #[serde(default)]
    pub conditions: Conditions,
    /// Cars on the street ring.
    #[serde(default)]
    pub traffic: TrafficSpec,
    /// Scheduled incidents and protected activities (see [`crate::incident`]).
    #[serde(default)]
    pub incidents: Vec<IncidentSpec>,
    /// Where the models run and what the deployment keeps.
    #[serde(default)]
    pub deployment: DeploymentSettings,
    /// How anomaly scores become alerts and how alerts are matched to incidents.
    #[serde(default)]
    pub alerts: AlertSettings,
    /// How camera coverage is scored: grid, head height, districts, private zones.
    #[serde(default)]
    pub placement: PlacementSettings,
    /// Where `random` incident places are drawn: a polygon of local (x, z) metres (default:
    /// anywhere walkable on the site; on the template, the middle of the plaza as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Vec<(f32, f32)>>,
    /// The folder the scenario was read from: an imported site's `file` is relative to it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Where a scenario takes place.
#[derive(Clone, Debug, PartialEq)]
pub enum SiteSpec {
    /// `template(…)`: the procedural plaza.
    Template(Site),
    /// `osm(file: "…", bbox: (lat0, lon0, lat1, lon1) | polygon: [(lat, lon), …])`: an
    /// OpenStreetMap extract (PBF or OSM XML), cropped and projected to the local frame.
    Osm(OsmSite),
    /// `geojson(file: "…")`: a plan from CAD or GIS as GeoJSON features (WGS84 or local metres).
    Geojson(GeoJsonSite),
}

/// An OpenStreetMap site.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OsmSite {
    /// The extract, `.osm.pbf` or `.osm` (XML), relative to the scenario's folder.
    pub file: PathBuf,
    /// The crop as (south latitude, west longitude, north latitude, east longitude), degrees.
    #[serde(default, deserialize_with = "bare_some")]
    pub bbox: Option<(f64, f64, f64, f64)>,
    /// The crop as a polygon of (latitude, longitude) degrees, instead of `bbox`.
    #[serde(default, deserialize_with = "bare_some")]
    pub polygon: Option<Vec<(f64, f64)>>,
    /// WGS84 (latitude, longitude) of the local origin (default: the crop's centre).
    #[serde(default, deserialize_with = "bare_some")]
    pub origin: Option<(f64, f64)>,
    /// The place's name in reports (default: the largest named square in the crop).
    #[serde(default, deserialize_with = "bare_some")]
    pub name: Option<String>,
    /// Storey height for `building:levels`, metres.
    #[serde(default = "default_storey_height")]
    pub storey_height_m: f32,
}

/// A GeoJSON site.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GeoJsonSite {
    /// The FeatureCollection, relative to the scenario's folder.
    pub file: PathBuf,
    /// Coordinates are `wgs84` (longitude, latitude; RFC 7946) or `local` (x east, y north metres).
    #[serde(default)]
    pub coordinates: GeoJsonCoordinates,
    /// WGS84 (latitude, longitude) of the local origin: for `wgs84` files the default is the
    /// features' centre; for `local` files it places the site on Earth (no geography without it).
    #[serde(default, deserialize_with = "bare_some")]
    pub origin: Option<(f64, f64)>,
    /// The place's name in reports.
    #[serde(default, deserialize_with = "bare_some")]
    pub name: Option<String>,
}

/// How a GeoJSON site's coordinates are given.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GeoJsonCoordinates {
    /// Longitude, latitude in degrees (RFC 7946).
    #[default]
    Wgs84,
    /// Metres east (first) and north (second) of the origin, as CAD plans are drawn.
    Local,
}

/// Reads an optional field written without `Some(…)` (`bbox: (…)`, `name: "…"`), as the
/// site's own fields read best.
fn bare_some<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Writes what [`bare_some`] reads (only called for `Some`, the field being skipped when `None`).
fn bare<S: serde::Serializer, T: Serialize>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

fn default_storey_height() -> f32 {
    3.0
}

thread_local! {
    /// Set while re-reading a v1 file whose `site` is the bare template struct.
    static BARE_TEMPLATE_SITE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

const SITE_VARIANTS: &[&str] = &["template", "osm", "geojson"];

impl<'de> Deserialize<'de> for SiteSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{EnumAccess, VariantAccess};
        if BARE_TEMPLATE_SITE.with(|flag| flag.get()) {
            return Site::deserialize(deserializer).map(SiteSpec::Template);
        }
        /// Reads a variant's fields with the inner struct's own derived reader (and its errors).
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the site's fields")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            Template,
            Osm,
            Geojson,
        }
        struct Spec;
        impl<'de> serde::de::Visitor<'de> for Spec {
            type Value = SiteSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("template(…), osm(…) or geojson(…)")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<SiteSpec, A::Error> {
                let (kind, variant) = data.variant::<Kind>()?;
                Ok(match kind {
                    Kind::Template => SiteSpec::Template(variant.struct_variant(&[], Fields(Default::default()))?),
                    Kind::Osm => SiteSpec::Osm(variant.struct_variant(&[], Fields(Default::default()))?),
                    Kind::Geojson => SiteSpec::Geojson(variant.struct_variant(&[], Fields(Default::default()))?),
                })
            }
        }
        deserializer.deserialize_enum("SiteSpec", SITE_VARIANTS, Spec)
    }
}

impl Serialize for SiteSpec {
    /// The template is written as v1's bare struct (which every build reads); the imports as
    /// `osm(…)` and `geojson(…)`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStructVariant;
        match self {
            SiteSpec::Template(site) => site.serialize(serializer),
            SiteSpec::Osm(o) => {
                let mut v = serializer.serialize_struct_variant("SiteSpec", 1, "osm", 6)?;
                v.serialize_field("file", &o.file)?;
                optional(&mut v, "bbox", &o.bbox)?;
                optional(&mut v, "polygon", &o.polygon)?;
                optional(&mut v, "origin", &o.origin)?;
                optional(&mut v, "name", &o.name)?;
                v.serialize_field("storey_height_m", &o.storey_height_m)?;
                v.end()
            }
            SiteSpec::Geojson(g) => {
                let mut v = serializer.serialize_struct_variant("SiteSpec", 2, "geojson", 4)?;
                v.serialize_field("file", &g.file)?;
                v.serialize_field("coordinates", &g.coordinates)?;
                optional(&mut v, "origin", &g.origin)?;
                optional(&mut v, "name", &g.name)?;
                v.end()
            }
        }
    }
}

/// A field read by [`bare_some`]: its value when set, left out when not.
fn optional<V: serde::ser::SerializeStructVariant, T: Serialize>(v: &mut V, key: &'static str, value: &Option<T>) -> Result<(), V::Error> {
    match value {
        Some(inner) => v.serialize_field(key, inner),
        None => v.skip_field(key),
    }
}

impl SiteSpec {
    /// The template's fields, when the site is the procedural plaza.
    pub fn template(&self) -> Option<&Site> {
        match self {
            SiteSpec::Template(site) => Some(site),
            _ => None,
        }
    }

    /// The template's fields, mutable (tests and benches resize the plaza).
    pub fn template_mut(&mut self) -> Option<&mut Site> {
        match self {
            SiteSpec::Template(site) => Some(site),
            _ => None,
        }
    }
}

/// A procedural plaza: an open square, ringed by a street with pavements, ringed by buildings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Size of the open plaza, (east–west, north–south) in metres.
    pub plaza_size_m: (f32, f32),
    /// Width of the carriageway around the plaza.
    pub street_width_m: f32,
    /// Width of the pavement along the buildings on the far side of the street.
    pub pavement_width_m: f32,
    /// Building heights are drawn from this range (metres).
    pub building_height_m: (f32, f32),
    /// Number of benches on the plaza.
    pub benches: u32,
    /// Whether a transit stop (shelter) stands at the plaza's south edge.
    pub transit_stop: bool,
    /// Pedestrian crossings over the street; elsewhere the kerb keeps people off the road.
    #[serde(default = "default_crossings")]
    pub crossings: Vec<Crossing>,
    /// Number of trees on the plaza.
    #[serde(default)]
    pub trees: u32,
    /// WGS84 (latitude, longitude) of the plaza's centre, to give alerts and maps geography and
    /// the sun its latitude (default: nowhere in particular, the sun of 35° N).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "bare_some", serialize_with = "bare")]
    pub origin: Option<(f64, f64)>,
}

/// A side of the plaza.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// −z.
    North,
    /// +x.
    East,
    /// +z.
    South,
    /// −x.
    West,
}

/// A zebra crossing from the plaza over the street to the pavement on one side.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Crossing {
    /// Which side of the plaza.
    pub side: Side,
    /// Offset of its centre along the side from the side's middle, metres (east or south positive).
    #[serde(default)]
    pub offset_m: f32,
    /// Width, metres.
    #[serde(default = "default_crossing_width")]
    pub width_m: f32,
    /// Dropped kerbs (ramps) at both ends: wheelchair users cross only where there are.
    #[serde(default = "default_true")]
    pub ramps: bool,
}

fn default_crossing_width() -> f32 {
    4.0
}

fn default_true() -> bool {
    true
}

/// One crossing in the middle of every side; only the north and south ones have ramps.
pub fn default_crossings() -> Vec<Crossing> {
    [(Side::North, true), (Side::East, false), (Side::South, true), (Side::West, false)]
        .into_iter()
        .map(|(side, ramps)| Crossing { side, offset_m: 0.0, width_m: default_crossing_width(), ramps })
        .collect()
}

/// The population: how many and in what demographic mix.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Number of persons who use the site during the run (not all of them at once: see `flow`).
    pub count: u32,
    /// Shares per attribute; an attribute left out uses the default noted on [`Mix`].
    #[serde(default)]
    pub mix: Mix,
    /// Arrivals, visits and departures.
    #[serde(default)]
    pub flow: Flow,
    /// People walking together.
    #[serde(default)]
    pub groups: Groups,
    /// What people on foot carry → share (quota-exact over the persons on foot, like the
    /// attributes; wheelchair users carry nothing visible). Default: none 60 %, bag 25 %,
    /// phone 15 % (a phone is held up, its lit screen a ground-truth class of its own).
    #[serde(default)]
    pub carried: BTreeMap<Carried, f32>,
}

/// Something a person carries.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Carried {
    /// Empty-handed.
    None,
    /// A bag in the right hand.
    Bag,
    /// A phone held up in the right hand, screen lit.
    Phone,
    /// An open umbrella.
    Umbrella,
}

impl Population {
    /// Carried-object shares with the default applied.
    pub fn carried_shares(&self) -> BTreeMap<Carried, f32> {
        if self.carried.is_empty() {
            BTreeMap::from([(Carried::None, 0.6), (Carried::Bag, 0.25), (Carried::Phone, 0.15)])
        } else {
            self.carried.clone()
        }
    }
}

/// How people come, go and what they do in between.
///
/// Each person makes trips: enters at a building entrance or the transit stop, visits a few
/// points of interest (dwelling at each), leaves through an entrance or the stop, stays away
/// for a while and comes back for another trip.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Flow {
    /// Share of persons on site at the start (the others arrive at random times during the run).
    pub present_at_start: f32,
    /// Points of interest visited per trip (min, max).
    pub visits: (u32, u32),
    /// Seconds spent at each point of interest (min, max).
    pub dwell_s: (f32, f32),
    /// Seconds away between two trips (min, max).
    pub absence_s: (f32, f32),
}

impl Default for Flow {
    fn default() -> Self {
        Self { present_at_start: 0.8, visits: (1, 4), dwell_s: (2.0, 15.0), absence_s: (20.0, 120.0) }
    }
}

/// Families and friends walking together.
///
/// Every child walks with at least one adult or older adult (a family); then adults are
/// grouped as friends until `share` of all persons walk in a group.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Groups {
    /// Share of persons walking in a group (children always do, whatever the share).
    pub share: f32,
    /// Group size (min, max).
    pub size: (u32, u32),
}

impl Default for Groups {
    fn default() -> Self {
        Self { share: 0.3, size: (2, 4) }
    }
}

/// Shares per attribute value (each attribute's shares sum to 1).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Monk tone → share. Default: uniform over 1–10.
    #[serde(default)]
    pub skin_tone: BTreeMap<SkinTone, f32>,
    /// Default: 50 % each.
    #[serde(default)]
    pub gender_presentation: BTreeMap<GenderPresentation, f32>,
    /// Default: child 10 %, adult 75 %, older adult 15 %.
    #[serde(default)]
    pub age_group: BTreeMap<AgeGroup, f32>,
    /// Default: none 100 %. `cane` and `walker` are not rendered yet and are refused.
    #[serde(default)]
    pub mobility_aid: BTreeMap<MobilityAid, f32>,
    /// Default: none 100 %.
    #[serde(default)]
    pub head_covering: BTreeMap<HeadCovering, f32>,
    /// Default: slim 30 %, average 50 %, heavy 20 %.
    #[serde(default)]
    pub body_size: BTreeMap<BodySize, f32>,
    /// Default: uniform over the colour families.
    #[serde(default)]
    pub clothing_colour: BTreeMap<ClothingColour, f32>,
}

fn uniform<T: Copy + Ord>(values: impl Iterator<Item = T>) -> BTreeMap<T, f32> {
    let values: Vec<T> = values.collect();
    let share = 1.0 / values.len() as f32;
    values.into_iter().map(|v| (v, share)).collect()
}

impl Mix {
    /// Skin-tone shares with the default applied.
    pub fn skin_tone_shares(&self) -> BTreeMap<SkinTone, f32> {
        or_default(&self.skin_tone, || uniform(SkinTone::all()))
    }
    /// Gender-presentation shares with the default applied.
    pub fn gender_presentation_shares(&self) -> BTreeMap<GenderPresentation, f32> {
        or_default(&self.gender_presentation, || uniform(GenderPresentation::ALL.iter().copied()))
    }
    /// Age-group shares with the default applied.
    pub fn age_group_shares(&self) -> BTreeMap<AgeGroup, f32> {
        or_default(&self.age_group, || {
            BTreeMap::from([(AgeGroup::Child, 0.10), (AgeGroup::Adult, 0.75), (AgeGroup::OlderAdult, 0.15)])
        })
    }
    /// Mobility-aid shares with the default applied.
    pub fn mobility_aid_shares(&self) -> BTreeMap<MobilityAid, f32> {
        or_default(&self.mobility_aid, || BTreeMap::from([(MobilityAid::None, 1.0)]))
    }
    /// Head-covering shares with the default applied.
    pub fn head_covering_shares(&self) -> BTreeMap<HeadCovering, f32> {
        or_default(&self.head_covering, || BTreeMap::from([(HeadCovering::None, 1.0)]))
    }
    /// Body-size shares with the default applied.
    pub fn body_size_shares(&self) -> BTreeMap<BodySize, f32> {
        or_default(&self.body_size, || {
            BTreeMap::from([(BodySize::Slim, 0.3), (BodySize::Average, 0.5), (BodySize::Heavy, 0.2)])
        })
    }
    /// Clothing-colour shares with the default applied.
    pub fn clothing_colour_shares(&self) -> BTreeMap<ClothingColour, f32> {
        or_default(&self.clothing_colour, || uniform(ClothingColour::ALL.iter().copied()))
    }
}

fn or_default<T: Clone + Ord>(given: &BTreeMap<T, f32>, default: impl FnOnce() -> BTreeMap<T, f32>) -> BTreeMap<T, f32> {
    if given.is_empty() { default() } else { given.clone() }
}

/// One virtual CCTV camera.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    /// Unique id, used in tables and file names.
    pub id: String,
    /// Position (x east, y up = mounting height, z south) in metres.
    pub position: (f32, f32, f32),
    /// Compass heading in degrees, clockwise from north.
    pub yaw_deg: f32,
    /// Tilt below the horizon in degrees.
    pub pitch_deg: f32,
    /// Horizontal field of view in degrees.
    pub hfov_deg: f32,
    /// The real camera's resolution (width, height): pixels per metre and DORI levels use it.
    pub sensor_resolution: (u32, u32),
    /// The resolution the pipeline sees (width, height); same aspect ratio as the sensor.
    pub render_resolution: (u32, u32),
    /// Frames per second; must divide `tick_hz`.
    pub fps: u32,
    /// What the camera does to the image after rendering (none by default).
    #[serde(default)]
    pub degradation: Degradation,
    /// Privacy masks: rectangles (u0, v0, u1, v1) in fractions of the frame (0–1, from the top
    /// left) that the camera blacks out itself, before anything leaves it — the remedy for a
    /// view into a window or doorway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub privacy_masks: Vec<(f32, f32, f32, f32)>,
}

/// A camera's image degradations, applied after rendering and before the pipeline sees the
/// frame, in this order: lower resolution, motion blur, sensor noise, JPEG compression.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Degradation {
    /// Resolution divisor: the frame is averaged down by this factor and scaled back up
    /// (1 = none, 2 = half the resolution).
    pub downscale: u32,
    /// Length of a horizontal motion blur, pixels (0 = none).
    pub motion_blur_px: u32,
    /// Standard deviation of Gaussian sensor noise, in 8-bit levels (0 = none); seeded per frame.
    pub noise_sigma: f32,
    /// JPEG compression at this quality (1–100), or none.
    pub jpeg_quality: Option<u8>,
}

impl Default for Degradation {
    fn default() -> Self {
        Self { downscale: 1, motion_blur_px: 0, noise_sigma: 0.0, jpeg_quality: None }
    }
}

impl Degradation {
    /// Whether the frame is left as rendered.
    pub fn is_none(&self) -> bool {
        self.downscale <= 1 && self.motion_blur_px == 0 && self.noise_sigma <= 0.0 && self.jpeg_quality.is_none()
    }
}

/// Cars on the street ring (one-way, anticlockwise seen from above).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficSpec {
    /// Cars driving round the ring, keeping their distance and stopping for crossings in use.
    pub moving_cars: u32,
    /// Cars parked along the pavement kerb.
    pub parked_cars: u32,
    /// Cruising speed, km/h.
    pub speed_kmh: f32,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        Self { moving_cars: 0, parked_cars: 0, speed_kmh: 30.0 }
    }
}

/// Light and weather.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Conditions {
    /// Rain, millimetres per hour (0 = dry): falling streaks, a wet and darker ground.
    pub rain_mm_h: f32,
    /// Meteorological visibility in fog, metres, or clear air.
    pub fog_visibility_m: Option<f32>,
    /// Street lights along the pavements and round the plaza.
    pub street_lights: StreetLights,
}

impl Conditions {
    /// The weather in one word for comparisons across runs: `clear`, `rain`, `fog` or
    /// `rain+fog`.
    pub fn weather_name(&self) -> &'static str {
        match (self.rain_mm_h > 0.0, self.fog_visibility_m.is_some()) {
            (false, false) => "clear",
            (true, false) => "rain",
            (false, true) => "fog",
            (true, true) => "rain+fog",
        }
    }
}

impl Default for Conditions {
    fn default() -> Self {
        Self { rain_mm_h: 0.0, fog_visibility_m: None, street_lights: StreetLights::Auto }
    }
}

/// How camera coverage is scored (`crowdtwin run` reports it; `crowdtwin place` optimises it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementSettings {
    /// Edge of the grid cells over the walkable area, metres.
    pub cell_size_m: f32,
    /// Height of the point each camera must see above a cell, metres (a face).
    pub head_height_m: f32,
    /// An incident is captured when some camera sees a participant at Observe or better for
    /// at least this many seconds.
    pub capture_min_s: f32,
    /// Named districts (rectangles on the site), for coverage and watchedness per district.
    pub districts: Vec<DistrictSpec>,
    /// Places no camera should look into (windows, doorways): boxes on the site.
    pub private_zones: Vec<PrivateZoneSpec>,
}

impl Default for PlacementSettings {
    fn default() -> Self {
        Self { cell_size_m: 0.5, head_height_m: 1.6, capture_min_s: 2.0, districts: Vec::new(), private_zones: Vec::new() }
    }
}

/// A district: a name and a rectangle (x0, z0, x1, z1) on the site, metres.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistrictSpec {
    /// Name.
    pub name: String,
    /// (x0, z0, x1, z1).
    pub rect: (f32, f32, f32, f32),
}

/// A private zone: a box (min and max corners, metres), e.g. a window on a façade.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrivateZoneSpec {
    /// Name.
    pub name: String,
    /// Minimum corner (x, y, z).
    pub min: (f32, f32, f32),
    /// Maximum corner (x, y, z).
    pub max: (f32, f32, f32),
}

/// When the street lights are on.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StreetLights {
    /// On while the sun is less than 6° above the horizon (dusk, night, dawn).
    #[default]
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

/// Render quality.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RenderSettings {
    /// Multisample anti-aliasing of the colour frame: 1 (off, the default) or 4. The id mask
    /// never uses MSAA.
    pub msaa: u32,
    /// Whether the sun casts shadows.
    pub shadows: bool,
    /// How shadow edges are filtered: `hardware2x2` (the default: one 2×2 comparison sample,
    /// cheaper on a software renderer) or `gaussian` (Bevy's soft, many-tap filter).
    pub shadow_filter: ShadowFilter,
}

/// How shadow-map lookups are filtered (Bevy's `ShadowFilteringMethod`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShadowFilter {
    /// Bevy's default: a Gaussian-weighted multi-tap filter, soft edges.
    Gaussian,
    /// One hardware 2×2 percentage-closer sample: harder edges, fewest texture reads.
    #[default]
    #[serde(rename = "hardware2x2")]
    Hardware2x2,
}

impl Default for RenderSettings {
    fn default() -> Self {
        // MSAA off and the 2×2 shadow filter: measured to leave the plaza's miss rate within noise
        // at about twice the frames/s of MSAA 4 with the Gaussian filter (README "Cheaper frames").
        Self { msaa: 1, shadows: true, shadow_filter: ShadowFilter::default() }
    }
}

/// How masks are painted by the pipeline.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MaskingSettings {
    /// Solid silhouette colour (sRGB bytes).
    pub colour: (u8, u8, u8),
    /// Pixels by which every mask is grown before painting.
    pub dilation_px: u32,
    /// Besides the whole frame, the detector also looks at (columns, rows) overlapping tiles,
    /// each fitted to its input on its own; (1, 1) means the whole frame only.
    pub tiles: (u32, u32),
    /// Also paint over the vehicles the model detects, hiding their licence plates.
    pub vehicles: bool,
    /// Also detect on the frame turned a quarter turn each way (each turned frame tiled as
    /// `tiles` says, columns and rows swapped): a person lying on the ground stands upright to a
    /// detector trained on upright people. About three times the detector's work.
    pub quarter_turns: bool,
    /// How a person's mask region is rendered: outlined paint (the default), a solid silhouette
    /// (as PACA paints it) or one of the styles LA3D compares — blur, pixelation, edges — each
    /// with its size-adaptive strength.
    pub style: MaskStyle,
}

impl Default for MaskingSettings {
    fn default() -> Self {
        Self { colour: (0, 160, 230), dilation_px: 2, tiles: (1, 1), vehicles: false, quarter_turns: false, style: MaskStyle::Outlined }
    }
}

/// How a person's mask region is rendered (Asres, Jiao & Omlin, "LA3D", IEEE TIFS 2025; the
/// formulas are in the README).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MaskStyle {
    /// A solid silhouette in `colour`, as PACA paints it.
    Solid,
    /// A Gaussian blur whose kernel grows with the person's share of the frame.
    Blur,
    /// Blocks of the region's mean colour, whose size grows with the person's share of the frame.
    Pixelate,
    /// The region's Canny edge map (white edges on black).
    Edges,
    /// Solid paint in `colour` with a black ring `dilation_px` wide (at least 1 px) around each
    /// person's region, drawn farthest first (regions of one person found twice, overlapping by
    /// 60 % of the smaller box, are joined first): persons next to each other stay separate blobs
    /// instead of merging into one, while every pixel a solid mask would hide stays hidden. It is
    /// what the person-track anomaly model (`models/anomaly_tracks.ron`) reads best. The default.
    #[default]
    Outlined,
    /// Nothing painted: the frame passes unmasked (the detector still runs, so its misses are
    /// measured). Evaluation only — the baseline of `crowdtwin compare` —, allowed with
    /// `deployment.retention: 3` alone, so that no unmasked frame is ever stored.
    None,
}

impl MaskStyle {
    /// The style's name as scenarios spell it (`outlined`, `solid`, …).
    pub fn name(self) -> &'static str {
        match self {
            MaskStyle::None => "none",
            MaskStyle::Solid => "solid",
            MaskStyle::Blur => "blur",
            MaskStyle::Pixelate => "pixelate",
            MaskStyle::Edges => "edges",
            MaskStyle::Outlined => "outlined",
        }
    }
}

/// How results are scored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationSettings {
    /// A person-frame is missed when its exposed fraction exceeds this.
    pub miss_threshold: f32,
    /// Person-frames with fewer visible pixels are recorded but not scored.
    pub min_visible_px: u32,
    /// Show the synthetic raw frames in the contact sheets (evaluation artefacts). Off by
    /// default, so that under retention modes 2 and 3 no raw pixel reaches the disk at all.
    pub raw_contact_sheets: bool,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        Self { miss_threshold: 0.2, min_visible_px: 20, raw_contact_sheets: false }
    }
}

/// Where masking (AN) and anomaly detection (AD) run, which decides what leaves the camera.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Both on a server: the camera streams raw video.
    #[default]
    Central,
    /// Masking on the camera, AD on a server: the camera streams masked video.
    Hybrid,
    /// Both on the camera: it sends alert metadata and the masked clip of each alert.
    Edge,
}

impl Modality {
    /// The name used in scenarios and tables.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Central => "central",
            Modality::Hybrid => "hybrid",
            Modality::Edge => "edge",
        }
    }
}

/// The simulated deployment: modality, retention and the bitrate model of its video streams.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentSettings {
    /// Where AN and AD run.
    pub modality: Modality,
    /// Retention mode: 1 masked footage kept and raw footage kept encrypted for warrant access;
    /// 2 masked footage kept, raw deleted right after masking; 3 only alert metadata kept.
    pub retention: u8,
    /// Bitrate model of a compressed video stream, bits per pixel per frame at the sensor
    /// resolution (H.264 at good quality is about 0.1).
    pub bits_per_pixel: f32,
    /// How long each stored kind is kept before deletion, days.
    pub retention_days: RetentionPeriods,
    /// How alerts are written as OASIS CAP 1.2 messages.
    pub cap: CapSettings,
}

/// The CAP 1.2 messages' sender, status and clock. A run's second `t` is the instant
/// `date`T`time_of_day_h` + `t` at `utc_offset`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CapSettings {
    /// CAP `sender`: the deployment's identifier (an e-mail-like address or domain; no spaces,
    /// commas or `<`, `&`).
    pub sender: String,
    /// CAP `status`: `test` (default: every recipient ignores it — these alerts come from a
    /// simulation), `exercise` (for a drill's participants) or `actual`.
    pub status: CapStatus,
    /// Calendar date of the run, `YYYY-MM-DD` (default the 2026 March equinox, the day the sun model assumes).
    pub date: String,
    /// The clock's offset from UTC, `+hh:mm` or `-hh:mm`; `None`: the site's mean solar time
    /// (its origin's longitude × 4 min, rounded to the minute; `+00:00` without an origin), the
    /// time `time_of_day_h` is given in.
    pub utc_offset: Option<String>,
}

impl Default for CapSettings {
    fn default() -> Self {
        Self { sender: "crowdtwin@example.invalid".into(), status: CapStatus::Test, date: "2026-03-20".into(), utc_offset: None }
    }
}

/// CAP `status` values a simulated deployment may send.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CapStatus {
    /// Actionable by all targeted recipients.
    Actual,
    /// For the designated participants of an exercise only.
    Exercise,
    /// Technical testing only: every recipient ignores it.
    Test,
}

impl CapStatus {
    /// The value as CAP spells it.
    pub fn cap_value(self) -> &'static str {
        match self {
            CapStatus::Actual => "Actual",
            CapStatus::Exercise => "Exercise",
            CapStatus::Test => "Test",
        }
    }
}

impl CapSettings {
    /// The run's calendar date.
    pub fn parsed_date(&self) -> Result<chrono::NaiveDate, String> {
        chrono::NaiveDate::parse_from_str(&self.date, "%Y-%m-%d").map_err(|e| format!("`{}` is not a date YYYY-MM-DD ({e})", self.date))
    }

    /// The clock's offset from UTC in minutes: the given one, or the mean solar time of
    /// `longitude_deg` (degrees east; `None`: UTC).
    pub fn offset_minutes(&self, longitude_deg: Option<f64>) -> Result<i32, String> {
        let Some(text) = &self.utc_offset else {
            return Ok(longitude_deg.map_or(0, |lon| (lon * 4.0).round() as i32));
        };
        let bad = || format!("`{text}` is not a UTC offset `+hh:mm` or `-hh:mm` between -14:00 and +14:00");
        let bytes = text.as_bytes();
        if bytes.len() != 6 || !matches!(bytes[0], b'+' | b'-') || bytes[3] != b':' || ![1, 2, 4, 5].iter().all(|&i| bytes[i].is_ascii_digit()) {
            return Err(bad());
        }
        let (hours, minutes): (i32, i32) = (text[1..3].parse().map_err(|_| bad())?, text[4..6].parse().map_err(|_| bad())?);
        let total = hours * 60 + minutes;
        if minutes >= 60 || total > 14 * 60 {
            return Err(bad());
        }
        Ok(if bytes[0] == b'-' { -total } else { total })
    }
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        Self { modality: Modality::Central, retention: 2, bits_per_pixel: 0.1, retention_days: RetentionPeriods::default(), cap: CapSettings::default() }
    }
}

/// Retention periods per stored kind, in days (0 to 3650): what a recorder keeps before it
/// deletes. Which kinds exist at all is the retention mode's to say; these say for how long. The
/// defaults, 28 days of raw and 30 days of masked footage and of alert records, are the periods
/// the design issue cites for Hong Kong — an example, not legal advice: set them per jurisdiction.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionPeriods {
    /// Raw footage (kept, encrypted, in mode 1 only).
    pub raw: f32,
    /// Masked footage (modes 1 and 2).
    pub masked: f32,
    /// Alert records (every mode).
    pub alerts: f32,
}

impl Default for RetentionPeriods {
    fn default() -> Self {
        Self { raw: 28.0, masked: 30.0, alerts: 30.0 }
    }
}

/// Alerting: hysteresis on the anomaly score and minimum duration; and how alerts are scored
/// against the staged events, by the region- and track-based detection criteria of
/// Ramachandra & Jones (Street Scene, WACV 2020).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Score at or above which an alert may open (`None`: the AD model's default threshold).
    pub threshold: Option<f32>,
    /// An open alert closes once the score falls below threshold × this ratio (hysteresis).
    pub release_ratio: f32,
    /// The score must stay at or above the threshold this long before an alert is raised.
    pub min_duration_s: f32,
    /// α: a region detects an incident in a frame when its intersection over union with the
    /// incident's visible box on that camera is at least this (default 0.1).
    pub region_iou: f32,
    /// β: an incident is detected (a protected activity flagged) when at least this share of
    /// its visible frames on some camera are (default 0.1).
    pub track_share: f32,
    /// Gone (schema v1 had it): alerts are scored frame by frame by `region_iou` and
    /// `track_share` now; any value is refused with a message saying so.
    #[serde(skip_serializing)]
    pub match_tolerance_s: Removed,
}

/// A field a newer build no longer reads: present (whatever its value) or not, so that its
/// presence is refused with a message rather than as an unknown field.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Removed(pub bool);

impl<'de> Deserialize<'de> for Removed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(Removed(true))
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self { threshold: None, release_ratio: 0.8, min_duration_s: 1.0, region_iou: 0.1, track_share: 0.1, match_tolerance_s: Removed(false) }
    }
}

impl Scenario {
    /// Fixed time step in seconds.
    pub fn dt(&self) -> f32 {
        1.0 / self.tick_hz as f32
    }

    /// Number of ticks simulated.
    pub fn total_ticks(&self) -> u64 {
        (self.duration_s as f64 * self.tick_hz as f64).round() as u64
    }

    /// Ticks between two frames of `camera`.
    pub fn ticks_per_frame(&self, camera: &CameraSpec) -> u64 {
        (self.tick_hz / camera.fps) as u64
    }

    /// The light of the scenario's hour, by the sun's elevation: `day` (≥ 6°, street lights
    /// off under `auto`), `twilight` (−6° to 6°, civil twilight) or `night`.
    pub fn light_condition(&self) -> &'static str {
        self.light_condition_at(self.latitude_deg())
    }

    /// [`Scenario::light_condition`] at a latitude (the laid-out site's, which may know more
    /// than the scenario: a GeoJSON file's own coordinates).
    pub fn light_condition_at(&self, latitude_deg: Option<f64>) -> &'static str {
        let (elevation, _) = sun_angles_at(self.time_of_day_h, latitude_deg);
        if elevation >= 6f32.to_radians() {
            "day"
        } else if elevation >= -6f32.to_radians() {
            "twilight"
        } else {
            "night"
        }
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::io(path, format!("cannot read the scenario: {e}")))?;
        Self::parse(&text, path)
    }

    /// Parses and validates scenario text; `origin` names the file in errors and its folder is
    /// where an imported site's file is looked for.
    pub fn parse(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
        let mut scenario = match parse_checked(text, origin, Scenario::validate) {
            // A v1 file's `site` is the template's bare `(…)`: read it again that way.
            Err(first) if first.field() == Some("site") => {
                BARE_TEMPLATE_SITE.with(|flag| flag.set(true));
                let again = parse_checked(text, origin, Scenario::validate);
                BARE_TEMPLATE_SITE.with(|flag| flag.set(false));
                match again {
                    Ok(scenario) => scenario,
                    // Read as v1, the file got past `site`: its error is the one to show.
                    Err(second) if second.field() != Some("site") => return Err(second),
                    Err(_) => return Err(first),
                }
            }
            other => other?,
        };
        scenario.base_dir = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(scenario)
    }

    /// The scenario as RON text that reads back equal from any folder: an imported site's map
    /// is named by its full path (the scenario's own folder is [`Scenario::base_dir`]).
    ///
    /// # Errors
    /// The site's map cannot be found, or the scenario cannot be serialised.
    pub fn portable_ron(&self) -> Result<String, String> {
        let mut portable = self.clone();
        let base = self.base_dir.clone();
        let absolute = |file: &mut PathBuf| -> Result<(), String> {
            let joined = base.join(&*file);
            *file = std::fs::canonicalize(&joined).map_err(|e| format!("finding the site's map {}: {e}", joined.display()))?;
            Ok(())
        };
        match &mut portable.site {
            SiteSpec::Osm(o) => absolute(&mut o.file)?,
            SiteSpec::Geojson(g) => absolute(&mut g.file)?,
            SiteSpec::Template(_) => {}
        }
        ron::ser::to_string_pretty(&portable, ron::ser::PrettyConfig::default()).map_err(|e| format!("serialising the scenario: {e}"))
    }

    /// The latitude the site declares (template `origin`, OpenStreetMap crop or origin, GeoJSON
    /// origin), degrees; the sun follows it. `None` for a template without an origin.
    pub fn latitude_deg(&self) -> Option<f64> {
        match &self.site {
            SiteSpec::Template(site) => site.origin.map(|o| o.0),
            SiteSpec::Osm(osm) => osm.origin.map(|o| o.0).or_else(|| osm.bbox.map(|b| 0.5 * (b.0 + b.2))).or_else(|| {
                let polygon = osm.polygon.as_ref()?;
                Some(polygon.iter().map(|p| p.0).sum::<f64>() / polygon.len().max(1) as f64)
            }),
            SiteSpec::Geojson(g) => g.origin.map(|o| o.0),
        }
    }

    /// The semantic checks, for a scenario changed after loading (e.g. by command-line
    /// overrides): `Err((field path, message))`.
    pub fn check(&self) -> Result<(), (String, String)> {
        self.validate().map_err(|(path, message)| (render_path(&path), message))
    }

    /// Semantic checks serde cannot express; the error carries the path of the field at fault.
    fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::{Index, Key};
        let at = |segments: &[PathSegment], message: String| Err((segments.to_vec(), message));
        if self.version != SCENARIO_VERSION {
            return at(&[Key("version")], format!("version {} is not supported (this build reads {SCENARIO_VERSION})", self.version));
        }
        if !(self.duration_s > 0.0 && self.duration_s <= 24.0 * 3600.0) {
            return at(&[Key("duration_s")], format!("must be positive and at most a day, got {}", self.duration_s));
        }
        if !(1..=1000).contains(&self.tick_hz) {
            return at(&[Key("tick_hz")], format!("must be 1 to 1000 ticks per second, got {}", self.tick_hz));
        }
        if self.total_ticks() == 0 {
            return at(&[Key("duration_s")], format!("{} s is shorter than one tick at {} ticks/s", self.duration_s, self.tick_hz));
        }
        if !(0.0..=24.0).contains(&self.time_of_day_h) {
            return at(&[Key("time_of_day_h")], format!("must be between 0 and 24 hours, got {}", self.time_of_day_h));
        }
        match &self.site {
            SiteSpec::Template(Site { origin: Some((lat, lon)), .. }) if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 85.0 && lon.abs() <= 180.0) => {
                return at(&[Key("site"), Key("origin")], format!("must be finite (latitude, longitude) degrees, got ({lat}, {lon})"));
            }
            SiteSpec::Template(site) => {
                if !(site.plaza_size_m.0 >= 10.0 && site.plaza_size_m.1 >= 10.0 && site.plaza_size_m.0 <= 1000.0 && site.plaza_size_m.1 <= 1000.0) {
                    return at(&[Key("site"), Key("plaza_size_m")], "each side must be 10 to 1000 m".into());
                }
                if !(0.0..=100.0).contains(&site.street_width_m) {
                    return at(&[Key("site"), Key("street_width_m")], format!("must be 0 to 100 m, got {}", site.street_width_m));
                }
                if !(0.0..=100.0).contains(&site.pavement_width_m) {
                    return at(&[Key("site"), Key("pavement_width_m")], format!("must be 0 to 100 m, got {}", site.pavement_width_m));
                }
                let (low, high) = site.building_height_m;
                if !(low > 0.0 && low <= high && high <= 500.0) {
                    return at(&[Key("site"), Key("building_height_m")], "must be (min, max) with 0 < min <= max <= 500 m".into());
                }
                if site.benches > 1000 {
                    return at(&[Key("site"), Key("benches")], format!("at most 1000, got {}", site.benches));
                }
                if site.trees > 1000 {
                    return at(&[Key("site"), Key("trees")], format!("at most 1000, got {}", site.trees));
                }
                for (i, crossing) in site.crossings.iter().enumerate() {
                    let along = match crossing.side {
                        Side::North | Side::South => site.plaza_size_m.0,
                        Side::East | Side::West => site.plaza_size_m.1,
                    };
                    if !(crossing.width_m >= 1.0 && crossing.width_m <= along) {
                        return at(&[Key("site"), Key("crossings"), Index(i), Key("width_m")], format!("must be 1 m to the side's {along} m"));
                    }
                    if !(crossing.offset_m.abs() + crossing.width_m * 0.5 <= along * 0.5) {
                        return at(&[Key("site"), Key("crossings"), Index(i), Key("offset_m")], "the crossing must lie along the plaza's side".into());
                    }
                }
            }
            SiteSpec::Osm(osm) => {
                let osm_at = |name: &'static str, message: String| at(&[Key("site"), Key(name)], message);
                let valid = |lat: f64, lon: f64| lat.is_finite() && lon.is_finite() && lat.abs() <= 85.0 && lon.abs() <= 180.0;
                match (&osm.bbox, &osm.polygon) {
                    (Some(_), Some(_)) | (None, None) => return osm_at("bbox", "give exactly one of `bbox` and `polygon`".into()),
                    (Some((s0, w0, n1, e1)), None) => {
                        if !(valid(*s0, *w0) && valid(*n1, *e1)) {
                            return osm_at("bbox", format!("latitudes must be finite within ±85° and longitudes within ±180°, got ({s0}, {w0}, {n1}, {e1})"));
                        }
                        if !(s0 < n1 && w0 < e1) {
                            return osm_at("bbox", format!("must be (south, west, north, east) degrees with south < north and west < east, got ({s0}, {w0}, {n1}, {e1})"));
                        }
                        if (n1 - s0) > 0.1 || (e1 - w0) > 0.2 {
                            return osm_at("bbox", "spans more than 0.1° of latitude or 0.2° of longitude (about 11 km): crop a district, not a region".into());
                        }
                    }
                    (None, Some(polygon)) => {
                        if polygon.len() < 3 || polygon.iter().any(|&(lat, lon)| !valid(lat, lon)) {
                            return osm_at("polygon", "needs at least 3 finite (latitude, longitude) points".into());
                        }
                    }
                }
                if let Some((lat, lon)) = osm.origin {
                    if !valid(lat, lon) {
                        return osm_at("origin", format!("must be finite (latitude, longitude) degrees, got ({lat}, {lon})"));
                    }
                    let points: Vec<(f64, f64)> = match (&osm.bbox, &osm.polygon) {
                        (Some((s0, w0, n1, e1)), _) => vec![(*s0, *w0), (*n1, *e1)],
                        (None, Some(p)) => p.clone(),
                        (None, None) => Vec::new(),
                    };
                    let (lats, lons): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
                    let within = |v: f64, of: &[f64]| v >= of.iter().copied().fold(f64::MAX, f64::min) - 0.02 && v <= of.iter().copied().fold(f64::MIN, f64::max) + 0.02;
                    if !(within(lat, &lats) && within(lon, &lons)) {
                        return osm_at("origin", format!("({lat}, {lon}) lies outside the crop (by more than 0.02°): give a point in or near it"));
                    }
                }
                if !(osm.storey_height_m >= 2.0 && osm.storey_height_m <= 10.0) {
                    return osm_at("storey_height_m", format!("must be 2 to 10 m, got {}", osm.storey_height_m));
                }
            }
            SiteSpec::Geojson(g) => {
                if let Some((lat, lon)) = g.origin
                    && !(lat.is_finite() && lon.is_finite() && lat.abs() <= 85.0 && lon.abs() <= 180.0)
                {
                    return at(&[Key("site"), Key("origin")], format!("must be finite (latitude, longitude) degrees, got ({lat}, {lon})"));
                }
            }
        }
        if !matches!(self.site, SiteSpec::Template(_)) {
            // Cars drive the template's street ring; they do not follow imported carriageways yet.
            let refuse = |field: &'static str, n: u32| at(&[Key("traffic"), Key(field)], format!("{n} cars, but cars drive only on the template's street ring, not on an imported site's carriageways yet: set 0"));
            if self.traffic.moving_cars > 0 {
                return refuse("moving_cars", self.traffic.moving_cars);
            }
            if self.traffic.parked_cars > 0 {
                return refuse("parked_cars", self.traffic.parked_cars);
            }
        }
        if let Some(area) = &self.area
            && (area.len() < 3 || area.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()))
        {
            return at(&[Key("area")], "needs at least 3 finite (x, z) points".into());
        }
        if self.population.count > 100_000 {
            return at(&[Key("population"), Key("count")], "at most 100000 persons".into());
        }
        if !self.population.carried.is_empty() {
            let shares: Vec<f32> = self.population.carried.values().copied().collect();
            let total: f32 = shares.iter().sum();
            if shares.iter().any(|s| !(0.0..=1.0).contains(s)) || (total - 1.0).abs() > 1e-3 {
                return at(&[Key("population"), Key("carried")], format!("shares must be between 0 and 1 and sum to 1, they sum to {total}"));
            }
        }
        let flow = &self.population.flow;
        let flow_at = |name: &'static str, message: String| at(&[Key("population"), Key("flow"), Key(name)], message);
        if !(0.0..=1.0).contains(&flow.present_at_start) {
            return flow_at("present_at_start", format!("must be a share between 0 and 1, got {}", flow.present_at_start));
        }
        if !(flow.visits.0 >= 1 && flow.visits.0 <= flow.visits.1 && flow.visits.1 <= 100) {
            return flow_at("visits", format!("must be (min, max) with 1 <= min <= max <= 100, got {:?}", flow.visits));
        }
        for (name, (low, high)) in [("dwell_s", flow.dwell_s), ("absence_s", flow.absence_s)] {
            if !(low >= 0.0 && low <= high && high <= 24.0 * 3600.0) {
                return flow_at(name, format!("must be (min, max) seconds with 0 <= min <= max, got ({low}, {high})"));
            }
        }
        let groups = &self.population.groups;
        if !(0.0..=1.0).contains(&groups.share) {
            return at(&[Key("population"), Key("groups"), Key("share")], format!("must be between 0 and 1, got {}", groups.share));
        }
        if !(groups.size.0 >= 2 && groups.size.0 <= groups.size.1 && groups.size.1 <= 8) {
            return at(&[Key("population"), Key("groups"), Key("size")], format!("must be (min, max) with 2 <= min <= max <= 8, got {:?}", groups.size));
        }
        let mix = &self.population.mix;
        let sums: [(&'static str, Vec<f32>); 7] = [
            ("skin_tone", mix.skin_tone.values().copied().collect()),
            ("gender_presentation", mix.gender_presentation.values().copied().collect()),
            ("age_group", mix.age_group.values().copied().collect()),
            ("mobility_aid", mix.mobility_aid.values().copied().collect()),
            ("head_covering", mix.head_covering.values().copied().collect()),
            ("body_size", mix.body_size.values().copied().collect()),
            ("clothing_colour", mix.clothing_colour.values().copied().collect()),
        ];
        for (attribute, shares) in sums {
            if shares.is_empty() {
                continue;
            }
            let segments = [Key("population"), Key("mix"), Key(attribute)];
            if shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
                return at(&segments, "every share must be between 0 and 1".into());
            }
            let total: f32 = shares.iter().sum();
            if (total - 1.0).abs() > 1e-3 {
                return at(&segments, format!("shares must sum to 1, they sum to {total}"));
            }
        }
        for aid in [MobilityAid::Cane, MobilityAid::Walker] {
            if mix.mobility_aid.get(&aid).is_some_and(|&s| s > 0.0) {
                return at(
                    &[Key("population"), Key("mix"), Key("mobility_aid")],
                    format!("`{aid}` is in the taxonomy but not rendered yet; use `none` or `wheelchair`"),
                );
            }
        }
        if self.cameras.is_empty() {
            return at(&[Key("cameras")], "at least one camera is needed".into());
        }
        for (i, cam) in self.cameras.iter().enumerate() {
            if self.cameras[..i].iter().any(|other| other.id == cam.id) {
                return at(&[Key("cameras"), Index(i), Key("id")], format!("camera id {:?} is used twice", cam.id));
            }
            cam.validate(self.tick_hz).map_err(|(path, message)| ([vec![Key("cameras"), Index(i)], path].concat(), message))?;
        }
        if self.traffic.moving_cars > 200 || self.traffic.parked_cars > 500 {
            return at(&[Key("traffic")], "at most 200 moving and 500 parked cars".into());
        }
        if !(5.0..=130.0).contains(&self.traffic.speed_kmh) {
            return at(&[Key("traffic"), Key("speed_kmh")], format!("must be 5 to 130 km/h, got {}", self.traffic.speed_kmh));
        }
        let placement = &self.placement;
        if !(0.05..=10.0).contains(&placement.cell_size_m) {
            return at(&[Key("placement"), Key("cell_size_m")], format!("must be 0.05 to 10 m, got {}", placement.cell_size_m));
        }
        if !(0.0..=3.0).contains(&placement.head_height_m) {
            return at(&[Key("placement"), Key("head_height_m")], format!("must be 0 to 3 m, got {}", placement.head_height_m));
        }
        if !(0.0..=3600.0).contains(&placement.capture_min_s) {
            return at(&[Key("placement"), Key("capture_min_s")], format!("must be 0 to 3600 s, got {}", placement.capture_min_s));
        }
        for (i, zone) in placement.private_zones.iter().enumerate() {
            let (a, b) = (zone.min, zone.max);
            if !(a.0 <= b.0 && a.1 <= b.1 && a.2 <= b.2) || [a.0, a.1, a.2, b.0, b.1, b.2].iter().any(|v| !v.is_finite()) {
                return at(&[Key("placement"), Key("private_zones"), Index(i)], "`min` must not exceed `max` on any axis".into());
            }
        }
        for (i, district) in placement.districts.iter().enumerate() {
            let (x0, z0, x1, z1) = district.rect;
            if !(x0 < x1 && z0 < z1) {
                return at(&[Key("placement"), Key("districts"), Index(i), Key("rect")], format!("({x0}, {z0}, {x1}, {z1}) needs x0 < x1 and z0 < z1"));
            }
            if let Some(other) = placement.districts[..i].iter().find(|o| o.rect.0 < x1 && x0 < o.rect.2 && o.rect.1 < z1 && z0 < o.rect.3) {
                return at(&[Key("placement"), Key("districts"), Index(i), Key("rect")], format!("overlaps district `{}`: districts must not overlap", other.name));
            }
        }
        if !(0.0..=200.0).contains(&self.conditions.rain_mm_h) {
            return at(&[Key("conditions"), Key("rain_mm_h")], format!("must be 0 to 200 mm/h, got {}", self.conditions.rain_mm_h));
        }
        if self.conditions.fog_visibility_m.is_some_and(|v| !(5.0..=100_000.0).contains(&v)) {
            return at(&[Key("conditions"), Key("fog_visibility_m")], "must be 5 m to 100 km".into());
        }
        if !matches!(self.render.msaa, 1 | 4) {
            return at(&[Key("render"), Key("msaa")], format!("must be 1 or 4, got {}", self.render.msaa));
        }
        if !(0.0..=1.0).contains(&self.evaluation.miss_threshold) {
            return at(&[Key("evaluation"), Key("miss_threshold")], "must be between 0 and 1".into());
        }
        if self.evaluation.min_visible_px == 0 {
            return at(&[Key("evaluation"), Key("min_visible_px")], "must be at least 1: a hidden person cannot be scored".into());
        }
        for (i, incident) in self.incidents.iter().enumerate() {
            incident.validate(self.duration_s).map_err(|(field, message)| (vec![Key("incidents"), Index(i), Key(field)], message))?;
        }
        if !(1..=3).contains(&self.deployment.retention) {
            return at(&[Key("deployment"), Key("retention")], format!("must be 1, 2 or 3, got {}", self.deployment.retention));
        }
        for (field, days) in [("raw", self.deployment.retention_days.raw), ("masked", self.deployment.retention_days.masked), ("alerts", self.deployment.retention_days.alerts)] {
            if !(0.0..=3650.0).contains(&days) {
                return at(&[Key("deployment"), Key("retention_days"), Key(field)], format!("must be 0 to 3650 days, got {days}"));
            }
        }
        if self.masking.style == MaskStyle::None && self.deployment.retention != 3 {
            return at(
                &[Key("masking"), Key("style")],
                format!("`none` leaves frames unmasked: evaluation only, with `deployment.retention: 3` (nothing stored), not retention {}", self.deployment.retention),
            );
        }
        let cap = &self.deployment.cap;
        if cap.sender.is_empty() || cap.sender.chars().any(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&')) {
            return at(&[Key("deployment"), Key("cap"), Key("sender")], format!("`{}` is not a CAP sender: not empty, no spaces, commas, `<` or `&`", cap.sender));
        }
        if let Err(why) = cap.parsed_date() {
            return at(&[Key("deployment"), Key("cap"), Key("date")], why);
        }
        if let Err(why) = cap.offset_minutes(None) {
            return at(&[Key("deployment"), Key("cap"), Key("utc_offset")], why);
        }
        if !(0.001..=24.0).contains(&self.deployment.bits_per_pixel) {
            return at(&[Key("deployment"), Key("bits_per_pixel")], format!("must be 0.001 to 24, got {}", self.deployment.bits_per_pixel));
        }
        if self.alerts.threshold.is_some_and(|t| !(t > 0.0 && t < 1.0)) {
            return at(&[Key("alerts"), Key("threshold")], "must be between 0 and 1 (exclusive)".into());
        }
        if !(self.alerts.release_ratio > 0.0 && self.alerts.release_ratio <= 1.0) {
            return at(&[Key("alerts"), Key("release_ratio")], format!("must be above 0 and at most 1, got {}", self.alerts.release_ratio));
        }
        if !(0.0..=600.0).contains(&self.alerts.min_duration_s) {
            return at(&[Key("alerts"), Key("min_duration_s")], format!("must be 0 to 600 s, got {}", self.alerts.min_duration_s));
        }
        if self.alerts.match_tolerance_s.0 {
            return at(
                &[Key("alerts"), Key("match_tolerance_s")],
                "is no longer read: alerts are scored frame by frame (Ramachandra & Jones) — a region detects an incident when its IoU with the incident's box is at least `alerts.region_iou` (α, default 0.1), and an incident is detected when `alerts.track_share` (β, default 0.1) of its visible frames are; remove this field".into(),
            );
        }
        if !(self.alerts.region_iou > 0.0 && self.alerts.region_iou <= 1.0) {
            return at(&[Key("alerts"), Key("region_iou")], format!("must be above 0 and at most 1, got {}", self.alerts.region_iou));
        }
        if !(self.alerts.track_share > 0.0 && self.alerts.track_share <= 1.0) {
            return at(&[Key("alerts"), Key("track_share")], format!("must be above 0 and at most 1, got {}", self.alerts.track_share));
        }
        let (cols, rows) = self.masking.tiles;
        if !(1..=8).contains(&cols) || !(1..=8).contains(&rows) {
            return at(&[Key("masking"), Key("tiles")], format!("({cols}, {rows}) must be 1 to 8 columns and rows"));
        }
        if self.masking.dilation_px > 64 {
            return at(&[Key("masking"), Key("dilation_px")], format!("at most 64 px, got {}", self.masking.dilation_px));
        }
        Ok(())
    }
}

/// A step in the path to a field: a struct key or a list index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PathSegment {
    /// A named field.
    Key(&'static str),
    /// An element of a list.
    Index(usize),
}

impl CameraSpec {
    /// The checks one camera must pass, in a scenario ticking `tick_hz` times a second (its fps
    /// must divide it): the path of the field at fault is relative to the camera.
    ///
    /// # Errors
    /// The field at fault and what is wrong: an id that is not letters, digits, `-` or `_`, a
    /// pose, field of view or resolution out of range or not finite, a bad degradation or mask.
    pub fn validate(&self, tick_hz: u32) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::{Index, Key};
        let field = |name: &'static str| vec![Key(name)];
        let cam = self;
        if cam.id.is_empty() || !cam.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err((field("id"), format!("camera id {:?} must be non-empty letters, digits, '-' or '_'", cam.id)));
        }
        if !(1.0..=170.0).contains(&cam.hfov_deg) {
            return Err((field("hfov_deg"), format!("must be 1 to 170 degrees, got {}", cam.hfov_deg)));
        }
        if !(-89.0..=89.0).contains(&cam.pitch_deg) {
            return Err((field("pitch_deg"), format!("must be -89 to 89 degrees, got {}", cam.pitch_deg)));
        }
        let (x, y, z) = cam.position;
        if !(x.abs() <= 10_000.0 && z.abs() <= 10_000.0 && y > 0.0 && y <= 1_000.0) {
            return Err((field("position"), format!("({x}, {y}, {z}) must be finite, within 10 km, 0 < y <= 1000 m")));
        }
        if !cam.yaw_deg.is_finite() {
            return Err((field("yaw_deg"), format!("must be a finite angle, got {}", cam.yaw_deg)));
        }
        let (sw, sh) = cam.sensor_resolution;
        let (rw, rh) = cam.render_resolution;
        if sw < 16 || sh < 16 || sw > 16384 || sh > 16384 {
            return Err((field("sensor_resolution"), format!("{sw}x{sh} is outside 16 to 16384 pixels a side")));
        }
        if rw < 16 || rh < 16 || rw > 8192 || rh > 8192 {
            return Err((field("render_resolution"), format!("{rw}x{rh} is outside 16 to 8192 pixels a side")));
        }
        let (sensor_aspect, render_aspect) = (sw as f32 / sh as f32, rw as f32 / rh as f32);
        if (sensor_aspect / render_aspect - 1.0).abs() > 0.01 {
            return Err((
                field("render_resolution"),
                format!("aspect ratio {render_aspect:.3} differs from the sensor's {sensor_aspect:.3}"),
            ));
        }
        let degradation = &cam.degradation;
        let degradation_at = |name: &'static str| vec![Key("degradation"), Key(name)];
        if !(1..=16).contains(&degradation.downscale) {
            return Err((degradation_at("downscale"), format!("must be 1 (none) to 16, got {}", degradation.downscale)));
        }
        if degradation.motion_blur_px > 64 {
            return Err((degradation_at("motion_blur_px"), format!("at most 64 px, got {}", degradation.motion_blur_px)));
        }
        if !(0.0..=64.0).contains(&degradation.noise_sigma) {
            return Err((degradation_at("noise_sigma"), format!("must be 0 to 64 levels, got {}", degradation.noise_sigma)));
        }
        if degradation.jpeg_quality.is_some_and(|q| !(1..=100).contains(&q)) {
            return Err((degradation_at("jpeg_quality"), "must be 1 to 100".into()));
        }
        for (k, &(u0, v0, u1, v1)) in cam.privacy_masks.iter().enumerate() {
            let ok = [u0, v0, u1, v1].iter().all(|f| (0.0..=1.0).contains(f)) && u0 < u1 && v0 < v1;
            if !ok {
                return Err((vec![Key("privacy_masks"), Index(k)], format!("({u0}, {v0}, {u1}, {v1}) must be fractions 0–1 with u0 < u1 and v0 < v1")));
            }
        }
        if cam.fps == 0 || tick_hz % cam.fps != 0 {
            return Err((field("fps"), format!("{} fps does not divide the simulation rate of {} ticks/s", cam.fps, tick_hz)));
        }
        Ok(())
    }
}

fn render_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Finds the 1-based line and column of the field a path names, by scanning the RON text
/// (strings and comments skipped), so semantic errors point where serde errors do.
fn locate(text: &str, path: &[PathSegment]) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut found = 0usize;
    for segment in path {
        let (mut depth, mut commas, mut i) = (0i32, 0usize, pos);
        let mut matched = None;
        while i < bytes.len() {
            let c = bytes[i];
            let comment = c == b'/' && matches!(bytes.get(i + 1), Some(b'/') | Some(b'*'));
            if depth == 1 && !comment && text.is_char_boundary(i) {
                match segment {
                    PathSegment::Index(want) if commas == *want && !c.is_ascii_whitespace() && c != b',' => {
                        if matches!(c, b')' | b']' | b'}') {
                            return None;
                        }
                        matched = Some(i);
                        break;
                    }
                    PathSegment::Key(key) if text[i..].starts_with(key) => {
                        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
                        if starts_word && text[i + key.len()..].trim_start().starts_with(':') {
                            matched = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            match c {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                _ if comment && bytes[i + 1] == b'/' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                _ if comment => {
                    // Block comments nest in RON.
                    let mut nesting = 0usize;
                    while i + 1 < bytes.len() {
                        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                            nesting += 1;
                            i += 2;
                        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                            nesting -= 1;
                            i += 1;
                            if nesting == 0 {
                                break;
                            }
                            i += 1;
                        } else {
                            i += 1;
                        }
                    }
                }
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth <= 0 {
                        return None;
                    }
                }
                b',' if depth == 1 => commas += 1,
                _ => {}
            }
            i += 1;
        }
        found = matched?;
        pos = match segment {
            PathSegment::Key(key) => {
                let after_colon = found + key.len() + text[found + key.len()..].find(':')? + 1;
                after_colon + text[after_colon..].find(|c: char| !c.is_whitespace())?
            }
            PathSegment::Index(_) => found,
        };
    }
    let line = text[..found].matches('\n').count() + 1;
    let col = text[..found].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

/// Why a scenario could not be used; the message names file, line, column and field.
#[derive(Debug)]
pub enum ScenarioError {
    /// The file could not be read.
    Io {
        /// The scenario file.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The text is not a valid scenario (syntax, unknown or missing field, wrong type).
    Parse {
        /// The scenario file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// Path of the field at fault (`cameras[1].fps`), empty at top level.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The values are well formed but not acceptable.
    Invalid {
        /// The scenario file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// Path of the field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ScenarioError {
    fn io(path: &Path, message: String) -> Self {
        ScenarioError::Io { file: path.to_path_buf(), message }
    }

    fn from_ron(file: &Path, error: ron::error::SpannedError, field: String) -> Self {
        ScenarioError::Parse {
            file: file.to_path_buf(),
            line: error.span.start.line,
            col: error.span.start.col,
            field: if field == "." { String::new() } else { field },
            message: error.code.to_string(),
        }
    }

    /// (line, column) of the error, when it has one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Parse { line, col, .. } | ScenarioError::Invalid { line, col, .. } => Some((*line, *col)),
        }
    }

    /// Path of the field at fault, when it has one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Parse { field, .. } | ScenarioError::Invalid { field, .. } => Some(field),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Io { file, message } => write!(f, "{}: {message}", file.display()),
            ScenarioError::Parse { file, line, col, field, message } | ScenarioError::Invalid { file, line, col, field, message } => {
                if field.is_empty() {
                    write!(f, "{}:{line}:{col}: {message}", file.display())
                } else {
                    write!(f, "{}:{line}:{col}: field `{field}`: {message}", file.display())
                }
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"(
    version: 1,
    name: "t",
    seed: 1,
    duration_s: 2.0,
    tick_hz: 10,
    time_of_day_h: 12.0,
    site: (plaza_size_m: (30.0, 20.0), street_width_m: 6.0, pavement_width_m: 3.0,
           building_height_m: (8.0, 12.0), benches: 2, transit_stop: true),
    population: (count: 5),
    cameras: [
        (id: "a", position: (0.0, 6.0, 20.0), yaw_deg: 0.0, pitch_deg: 20.0, hfov_deg: 70.0,
         sensor_resolution: (1920, 1080), render_resolution: (640, 360), fps: 5),
        (id: "b", position: (0.0, 6.0, -20.0), yaw_deg: 180.0, pitch_deg: 20.0, hfov_deg: 70.0,
         sensor_resolution: (1920, 1080), render_resolution: (640, 360), fps: 5),
    ],
)"#;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Path::new("s.ron"))
    }

    #[test]
    fn the_good_scenario_parses_with_defaults() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.total_ticks(), 20);
        assert_eq!(s.ticks_per_frame(&s.cameras[0]), 2);
        assert_eq!(s.render, RenderSettings::default());
        assert_eq!(s.population.mix.skin_tone_shares().len(), 10);
    }

    #[test]
    fn sites_read_as_template_osm_or_geojson_and_a_v1_site_unchanged() {
        let v1 = parse(GOOD).unwrap();
        let tagged = parse(&GOOD.replace("site: (plaza_size_m", "site: template(plaza_size_m")).unwrap();
        assert_eq!(v1, tagged, "`template(…)` is the v1 struct");
        let osm = parse(&GOOD.replace(
            "site: (plaza_size_m: (30.0, 20.0), street_width_m: 6.0, pavement_width_m: 3.0,\n           building_height_m: (8.0, 12.0), benches: 2, transit_stop: true)",
            "site: osm(file: \"m.osm.pbf\", bbox: (60.16, 24.9, 60.18, 24.95), name: \"Square\")",
        ))
        .unwrap();
        let SiteSpec::Osm(o) = &osm.site else { panic!("{:?}", osm.site) };
        assert_eq!((o.bbox, o.name.as_deref(), o.storey_height_m), (Some((60.16, 24.9, 60.18, 24.95)), Some("Square"), 3.0));
        assert_eq!(osm.latitude_deg(), Some(0.5 * (60.16 + 60.18)));
        assert_eq!(osm.base_dir, Path::new(""));
        // Written and read back, each form is the same scenario.
        for s in [&v1, &osm] {
            let text = ron::ser::to_string_pretty(s, ron::ser::PrettyConfig::default()).unwrap();
            assert_eq!(&parse(&text).unwrap(), s, "{text}");
        }
        let geo = parse(&GOOD.replace(
            "site: (plaza_size_m: (30.0, 20.0), street_width_m: 6.0, pavement_width_m: 3.0,\n           building_height_m: (8.0, 12.0), benches: 2, transit_stop: true)",
            "site: geojson(file: \"plan.geojson\", coordinates: local, origin: (60.17, 24.94))",
        ))
        .unwrap();
        assert!(matches!(&geo.site, SiteSpec::Geojson(g) if g.coordinates == GeoJsonCoordinates::Local && g.origin == Some((60.17, 24.94))));
        // Errors inside an import name the field.
        let bad = |site: &str| parse(&GOOD.replace("site: (plaza_size_m: (30.0, 20.0), street_width_m: 6.0, pavement_width_m: 3.0,\n           building_height_m: (8.0, 12.0), benches: 2, transit_stop: true)", site)).unwrap_err();
        let err = bad("site: osm(file: \"m.osm\", bbox: (60.18, 24.9, 60.16, 24.95))");
        assert_eq!(err.field(), Some("site.bbox"), "{err}");
        let err = bad("site: osm(file: \"m.osm\")");
        assert!(err.field() == Some("site.bbox") && err.to_string().contains("exactly one of `bbox` and `polygon`"), "{err}");
        let err = bad("site: osm(file: \"m.osm\", bbox: (60.16, 24.9, 60.18, 24.95), storeys: 3)");
        assert!(err.to_string().contains("storeys"), "{err}");
        let err = bad("site: osm(file: \"m.osm\", bbox: (NaN, 24.9, 60.18, 24.95))");
        assert_eq!(err.field(), Some("site.bbox"), "{err}");
        let err = bad("site: osm(file: \"m.osm\", bbox: (89.0, 24.9, 91.0, 24.95))");
        assert!(err.field() == Some("site.bbox") && err.to_string().contains("±85°"), "{err}");
        let err = bad("site: osm(file: \"m.osm\", bbox: (60.16, 24.9, 60.18, 24.95), origin: (10.0, 10.0))");
        assert!(err.field() == Some("site.origin") && err.to_string().contains("outside the crop"), "{err}");
        let err = bad("site: osm(file: \"m.osm\", bbox: (60.16, 24.9, 60.18, 24.95)),\n    traffic: (moving_cars: 2)");
        assert!(err.field() == Some("traffic.moving_cars") && err.to_string().contains("template's street ring"), "{err}");
        let err = bad("site: park(file: \"m.osm\")");
        assert!(err.field() == Some("site") && err.to_string().contains("park"), "{err}");
    }

    #[test]
    fn the_sun_follows_the_latitude() {
        let (noon_35, _) = sun_angles_at(12.0, None);
        let (noon_helsinki, _) = sun_angles_at(12.0, Some(60.17));
        assert!((noon_35.to_degrees() - 55.0).abs() < 1e-3 && (noon_helsinki.to_degrees() - 29.83).abs() < 1e-2, "{noon_35} {noon_helsinki}");
        assert_eq!(sun_angles(9.0), sun_angles_at(9.0, None));
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let err = parse(&GOOD.replace("seed: 1,", "seed: 1,,")).unwrap_err();
        assert_eq!(err.position().unwrap().0, 4, "{err}");
        assert!(err.to_string().starts_with("s.ron:4:"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_named_with_its_position() {
        let err = parse(&GOOD.replace("benches: 2,", "benches: 2, fountains: 1,")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("fountains") && text.contains("s.ron:9:"), "{text}");
        assert_eq!(err.field(), Some("site.fountains"));
    }

    #[test]
    fn a_wrong_type_names_the_field_path() {
        let err = parse(&GOOD.replace("hfov_deg: 70.0,\n         sensor_resolution: (1920, 1080), render_resolution: (640, 360), fps: 5),\n        (id: \"b\"", "hfov_deg: \"wide\",\n         sensor_resolution: (1920, 1080), render_resolution: (640, 360), fps: 5),\n        (id: \"b\"")).unwrap_err();
        assert_eq!(err.field(), Some("cameras[0].hfov_deg"), "{err}");
        assert_eq!(err.position().unwrap().0, 12, "{err}");
    }

    #[test]
    fn a_semantic_error_points_at_the_field() {
        // The second camera's fps does not divide 10 ticks/s.
        let text = GOOD.replacen("fps: 5)", "fps: 5)", 1).replace("render_resolution: (640, 360), fps: 5),\n    ]", "render_resolution: (640, 360), fps: 4),\n    ]");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.field(), Some("cameras[1].fps"), "{err}");
        let line = text.lines().position(|l| l.contains("fps: 4")).unwrap() + 1;
        let col = text.lines().nth(line - 1).unwrap().find("fps: 4").unwrap() + 1;
        assert_eq!(err.position(), Some((line, col)), "{err}");
        let err = parse(&GOOD.replace("count: 5", "count: 5, mix: (age_group: {child: 0.5, adult: 0.6})")).unwrap_err();
        assert_eq!(err.field(), Some("population.mix.age_group"), "{err}");
        assert_eq!(err.position().unwrap().0, 10, "{err}");
        let err = parse(&GOOD.replace("version: 1", "version: 2")).unwrap_err();
        assert_eq!((err.field(), err.position()), (Some("version"), Some((2, 5))), "{err}");
    }

    #[test]
    fn the_old_matching_tolerance_is_refused_pointing_to_the_detection_criteria() {
        let text = GOOD.replace("count: 5", "count: 5), alerts: (match_tolerance_s: 2.0");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.field(), Some("alerts.match_tolerance_s"), "{err}");
        assert!(err.to_string().contains("region_iou") && err.to_string().contains("track_share"), "{err}");
        let ok = parse(&GOOD.replace("count: 5", "count: 5), alerts: (region_iou: 0.2, track_share: 0.3")).unwrap();
        assert_eq!((ok.alerts.region_iou, ok.alerts.track_share), (0.2, 0.3));
        let err = parse(&GOOD.replace("count: 5", "count: 5), alerts: (region_iou: NaN")).unwrap_err();
        assert_eq!(err.field(), Some("alerts.region_iou"), "{err}");
    }

    #[test]
    fn comments_with_any_characters_do_not_confuse_the_locator() {
        let text = GOOD.replace("seed: 1,", "/* 40 m × 30 m, (fps: 3) /* nested */ */ seed: 1, // ü, [x]").replace("fps: 5),\n    ]", "fps: 4),\n    ]");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.field(), Some("cameras[1].fps"), "{err}");
        let line = text.lines().position(|l| l.contains("fps: 4")).unwrap() + 1;
        assert_eq!(err.position().unwrap().0, line, "{err}");
    }

    #[test]
    fn values_that_would_hang_or_mislead_later_are_refused() {
        for (from, to, field) in [
            ("street_width_m: 6.0", "street_width_m: inf", "site.street_width_m"),
            ("benches: 2", "benches: 4000000000", "site.benches"),
            ("yaw_deg: 0.0", "yaw_deg: NaN", "cameras[0].yaw_deg"),
            ("duration_s: 2.0", "duration_s: 0.01", "duration_s"),
            ("count: 5", "count: 5), evaluation: (min_visible_px: 0", "evaluation.min_visible_px"),
            ("count: 5", "count: 5), deployment: (retention_days: (raw: NaN)", "deployment.retention_days.raw"),
            ("count: 5", "count: 5), deployment: (retention_days: (alerts: -1.0)", "deployment.retention_days.alerts"),
            ("count: 5", "count: 5), deployment: (retention_days: (masked: inf)", "deployment.retention_days.masked"),
            ("count: 5", "count: 5), deployment: (cap: (date: \"2026-02-30\")", "deployment.cap.date"),
            ("count: 5", "count: 5), deployment: (cap: (utc_offset: Some(\"+2:00\"))", "deployment.cap.utc_offset"),
            ("count: 5", "count: 5), deployment: (cap: (utc_offset: Some(\"+-1:00\"))", "deployment.cap.utc_offset"),
            ("count: 5", "count: 5), deployment: (cap: (sender: \"ops desk\")", "deployment.cap.sender"),
        ] {
            let err = parse(&GOOD.replacen(from, to, 1)).unwrap_err();
            assert_eq!(err.field(), Some(field), "{to}: {err}");
        }
    }

    #[test]
    fn a_skin_tone_off_the_monk_scale_is_refused() {
        let err = parse(&GOOD.replace("count: 5", "count: 5, mix: (skin_tone: {11: 1.0})")).unwrap_err();
        assert!(err.to_string().contains("Monk"), "{err}");
    }
}
