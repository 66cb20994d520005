//! What may be flagged: a board's profile maps every kind of staged event to `incident` (an
//! alert is wanted), `protected` (an alert must not happen) or `out_of_scope` (an alert would be
//! disproportionate — e.g. petty crime, which the UNICRI analysis says fails necessity and
//! proportionality). Read from a RON file (`profiles/unicri.ron` by default) and applied when a
//! run is scored, like a policy: the same recorded run can be scored under another
//! jurisdiction's profile (`crowdtwin report --profile`).
//!
//! Scoring under a profile ([`crate::alerts`]): only `incident` events make positive frames and
//! count towards recall; `protected` ones are flagged by the coverage criterion; `out_of_scope`
//! ones are negatives too, and an alert whose region covers one (the same criterion) is a
//! **disproportionate alert**, counted on its own.

use crate::records::RunRecords;
use crowdtwin_core::incident::IncidentKind;
use crowdtwin_core::scenario::{parse_checked, PathSegment, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How a profile classes one kind of event.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// The system should alert on it.
    Incident,
    /// The system must not alert on it (lawful, protected behaviour).
    Protected,
    /// An alert on it is disproportionate: scored as a negative and counted apart.
    OutOfScope,
}

impl EventClass {
    /// The snake_case name used in profiles, tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            EventClass::Incident => "incident",
            EventClass::Protected => "protected",
            EventClass::OutOfScope => "out_of_scope",
        }
    }
}

/// A board's declaration of what may be flagged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile format version; must be 1.
    pub version: u32,
    /// Short name, written into `runs.profile` and the report.
    pub name: String,
    /// Every event kind and its class.
    pub events: BTreeMap<IncidentKind, EventClass>,
    /// sha256 of the profile file (set by [`Profile::load`]): two profiles of one name differ here.
    #[serde(skip)]
    pub sha256: String,
}

impl Profile {
    /// Reads and checks a profile.
    ///
    /// # Errors
    /// An unreadable file; syntax, an unknown kind or class (file, line, column and field); a
    /// kind left out (each missing kind named: a profile declares every one).
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the profile: {e}", path.display()))?;
        let mut profile: Profile = parse_checked(&text, path, Profile::validate).map_err(|e: ScenarioError| e.to_string())?;
        use sha2::{Digest, Sha256};
        profile.sha256 = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        Ok(profile)
    }

    fn validate(&self) -> Result<(), (Vec<PathSegment>, String)> {
        use PathSegment::Key;
        if self.version != 1 {
            return Err((vec![Key("version")], format!("profile version {} is not supported (this build reads 1)", self.version)));
        }
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err((vec![Key("name")], "must be a non-empty name without control characters".into()));
        }
        let missing: Vec<&str> = IncidentKind::ALL.iter().filter(|k| !self.events.contains_key(k)).map(|k| k.name()).collect();
        if !missing.is_empty() {
            return Err((vec![Key("events")], format!("every event kind needs a class (incident, protected or out_of_scope); missing: {}", missing.join(", "))));
        }
        Ok(())
    }

    /// The class of `kind` (a kind this build does not know counts as an incident).
    pub fn class(&self, kind: &str) -> EventClass {
        self.events.iter().find(|(k, _)| k.name() == kind).map_or(EventClass::Incident, |(_, &class)| class)
    }

    /// Classes the run's events by this profile and rescores its alerts against them
    /// ([`crate::alerts::apply_outcome`]); the run's record names the profile. Operating points
    /// are the caller's to recompute: they need the alerting rule replayed.
    pub fn apply(&self, records: &mut RunRecords) {
        for incident in &mut records.incidents {
            let class = self.class(&incident.kind);
            incident.protected = class == EventClass::Protected;
            incident.out_of_scope = class == EventClass::OutOfScope;
        }
        if let Some(run) = records.runs.first_mut() {
            run.profile = self.name.clone();
            run.profile_sha256 = self.sha256.clone();
        }
        crate::alerts::apply_outcome(records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("crowdtwin-profile-{name}-{}.ron", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_shipped_profile_classes_every_kind_and_keeps_theft_out_of_scope() {
        let profile = Profile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/unicri.ron")).unwrap();
        assert_eq!(profile.name, "unicri");
        assert_eq!(profile.events.len(), IncidentKind::ALL.len());
        for kind in IncidentKind::ALL {
            let expected = if kind.is_protected() { EventClass::Protected } else { EventClass::Incident };
            if kind != IncidentKind::BagSnatch {
                assert_eq!(profile.class(kind.name()), expected, "{kind:?}");
            }
        }
        assert_eq!(profile.class("bag_snatch"), EventClass::OutOfScope, "petty theft is disproportionate to alert on");
    }

    #[test]
    fn a_missing_or_unknown_kind_is_named() {
        let path = write("missing", "(version: 1, name: \"x\", events: {fight: incident})");
        let error = Profile::load(&path).unwrap_err();
        assert!(error.contains("events") && error.contains("collapse") && error.contains("hug"), "{error}");
        let path = write("unknown", "(version: 1, name: \"x\",\n events: {fight: incident, pickpocket: out_of_scope})");
        let error = Profile::load(&path).unwrap_err();
        assert!(error.contains(":2:") && error.contains("pickpocket"), "{error}");
        let path = write("class", "(version: 1, name: \"x\", events: {fight: maybe})");
        assert!(Profile::load(&path).unwrap_err().contains("maybe"));
    }
}
