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
    scenario.check().map_err(|(field, message)| anyhow::anyhow!("{}: with the suite's changes, field `{field}`: {message}", path.display()))
}
