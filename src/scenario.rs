//! Loading a scenario for a command: the file, the command line's overrides and a suite's
//! variant, each checked by the scenario's own rules.

use crowdtwin_core::scenario::{Conditions, Scenario};
use std::path::Path;

/// Changes to a scenario beyond duration and seed: the same site and crowd under another
/// hour or weather.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Variant {
    /// The run's name in reports instead of the scenario's.
    pub name: Option<String>,
    /// Local solar time, hours.
    pub time_of_day_h: Option<f32>,
    /// Weather and street lights.
    pub conditions: Option<Conditions>,
    /// How persons are masked (`crowdtwin compare` runs every style).
    pub masking_style: Option<crowdtwin_core::scenario::MaskStyle>,
    /// Retention mode (`compare`'s unmasked baseline keeps nothing: mode 3).
    pub retention: Option<u8>,
}

/// Loads a scenario and applies command-line overrides.
///
/// # Errors
/// A scenario that does not parse or validate (file, line, column and field), or an override
/// that breaks the scenario's rules (the field and the rule).
pub fn load_scenario(path: &Path, seconds: Option<f32>, seed: Option<u64>) -> anyhow::Result<Scenario> {
    let mut scenario = Scenario::load(path)?;
    if let Some(seconds) = seconds {
        scenario.duration_s = seconds;
        // A shortened run stages only what starts within it (the rest are left out, not moved).
        let before = scenario.incidents.len();
        scenario.incidents.retain(|incident| incident.start_s < seconds);
        if scenario.incidents.len() < before {
            eprintln!("note: --seconds {seconds} leaves out {} incident(s) scheduled later", before - scenario.incidents.len());
        }
    }
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    // Overrides must satisfy the same rules as the file.
    scenario.check().map_err(|(field, message)| anyhow::anyhow!("{}: with the command-line overrides, field `{field}`: {message}", path.display()))?;
    Ok(scenario)
}

/// Applies a variant and checks the result by the scenario's own rules.
///
/// # Errors
/// A variant that breaks the scenario's rules (the field and the rule).
pub fn apply_variant(scenario: &mut Scenario, variant: &Variant, path: &Path) -> anyhow::Result<()> {
    if let Some(name) = &variant.name {
        scenario.name = name.clone();
    }
    if let Some(hour) = variant.time_of_day_h {
        scenario.time_of_day_h = hour;
    }
    if let Some(conditions) = &variant.conditions {
        scenario.conditions = conditions.clone();
    }
    if let Some(style) = variant.masking_style {
        scenario.masking.style = style;
    }
    if let Some(mode) = variant.retention {
        scenario.deployment.retention = mode;
    }
    scenario.check().map_err(|(field, message)| anyhow::anyhow!("{}: with the suite's changes, field `{field}`: {message}", path.display()))
}

/// `crowdtwin check`'s site part: lays the site out, prints what an import found (counts per
/// kind, repairs grouped by kind with the elements they name) and writes the top-down map.
///
/// # Errors
/// The site cannot be loaded, or the map cannot be written.
pub fn check_site(scenario: &Scenario, path: &Path, map: Option<&Path>) -> anyhow::Result<()> {
    let site = crowdtwin_sites::load(scenario).map_err(|e| anyhow::anyhow!("{}: site: {e}", path.display()))?;
    let layout = &site.layout;
    let [x0, z0, x1, z1] = layout.extent();
    let place = layout.name.as_deref().unwrap_or("the template plaza");
    println!("site: {place}, {:.0} m × {:.0} m", x1 - x0, z1 - z0);
    if let Some(origin) = layout.origin {
        println!("  local origin at {:.6}° N, {:.6}° E (x east, z south, metres)", origin.lat_deg, origin.lon_deg);
    }
    if let Some(credit) = &layout.attribution {
        println!("  map data {credit}");
    }
    if !site.counts.is_empty() {
        let counts: Vec<String> = site.counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        println!("  imported: {}", counts.join(", "));
    }
    if !site.warnings.is_empty() {
        let mut grouped: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
        for w in &site.warnings {
            grouped.entry(w.message.as_str()).or_default().push(w.source.as_str());
        }
        println!("  {} repair(s) or skip(s):", site.warnings.len());
        for (message, sources) in grouped {
            let shown: Vec<&str> = sources.iter().take(8).copied().collect();
            let more = if sources.len() > 8 { format!(" and {} more", sources.len() - 8) } else { String::new() };
            println!("    {}{more}: {message}", shown.join(", "));
        }
    }
    // Each camera against the site: a mount inside a building or far off the map is a mistake.
    for camera in &scenario.cameras {
        let (x, y, z) = camera.position;
        let building = layout.footprints.iter().find(|f| f.contains(x, z) && y < f.height_m).map(|f| f.source.clone()).or_else(|| {
            layout.obstacles.iter().any(|o| o.kind == crowdtwin_core::site::ObstacleKind::Building && o.bounds.contains_ground(x, z, -0.05) && y < o.bounds.max[1]).then(|| "a building block".to_string())
        });
        let off = x < x0 - 50.0 || x > x1 + 50.0 || z < z0 - 50.0 || z > z1 + 50.0;
        let note = match (building, off) {
            (Some(b), _) => format!(" — warning: inside {b} (below its roof): its view starts inside walls"),
            (None, true) => " — warning: more than 50 m off the site".to_string(),
            (None, false) => String::new(),
        };
        println!("  camera `{}` at ({x:.1}, {y:.1}, {z:.1}) m, heading {:.0}°{note}", camera.id, camera.yaw_deg);
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "site".into());
    let out = map.map(Path::to_path_buf).unwrap_or_else(|| std::path::PathBuf::from("out").join(format!("{stem}.site.png")));
    let png = crowdtwin_reports::site_map::site_png(layout, &scenario.cameras, 1200).map_err(anyhow::Error::msg)?;
    crowdtwin_reports::output::write_atomic(&out, &png).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    println!("  map: {}", out.display());
    Ok(())
}
