//! Scheduled incidents and protected activities: the scenario's `incidents` list.
//!
//! Both kinds of event are staged the same way: a kind, a start, a duration range, a place and
//! the participants (by count and by attribute). What differs is the ground truth: an incident
//! (a fight, a collapse, …) should raise an alert, a *protected* activity (an assembly, prayer,
//! a hug, …) must not. Every instance's choreography is drawn from the scenario's seed, so a
//! model cannot learn one canned clip.

use crate::taxonomy::{AgeGroup, Demographics, GenderPresentation, HeadCovering, MobilityAid, SkinTone};
use serde::{Deserialize, Serialize};

/// What happens.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Two to four people strike each other; one of them falls.
    Fight,
    /// A person falls and stays down.
    Collapse,
    /// A person puts a bag down and leaves; it is an incident once left for `abandon_after_s`.
    AbandonedObject,
    /// A person lingers inside a restricted zone.
    Loitering,
    /// A standing crowd suddenly runs apart.
    Dispersal,
    /// A person repeatedly strikes and kicks a bench.
    Vandalism,
    /// A person crossing the street away from a crossing is hit by a car and falls.
    VehicleCollision,
    /// Theft: a person runs up behind another, grabs at their bag and runs off; the victim
    /// stops and turns after them. Petty crime: out of scope in the default profile.
    BagSnatch,
    /// Protected: a peaceful assembly, some holding placards.
    Assembly,
    /// Protected: group prayer in kneeling rows.
    Prayer,
    /// Protected: two people hugging.
    Hug,
    /// Protected: children running and chasing each other.
    ChildrenPlaying,
    /// Protected: a person sits down on a bench and stays.
    SittingOnBench,
    /// Protected: a person lies down on a bench.
    LyingOnBench,
    /// Protected: a busker playing, an audience standing around.
    Busking,
    /// Protected: a person in religious dress standing still.
    StandingInReligiousDress,
}

impl IncidentKind {
    /// Every kind, incidents first.
    pub const ALL: [IncidentKind; 16] = [
        IncidentKind::Fight,
        IncidentKind::Collapse,
        IncidentKind::AbandonedObject,
        IncidentKind::Loitering,
        IncidentKind::Dispersal,
        IncidentKind::Vandalism,
        IncidentKind::VehicleCollision,
        IncidentKind::BagSnatch,
        IncidentKind::Assembly,
        IncidentKind::Prayer,
        IncidentKind::Hug,
        IncidentKind::ChildrenPlaying,
        IncidentKind::SittingOnBench,
        IncidentKind::LyingOnBench,
        IncidentKind::Busking,
        IncidentKind::StandingInReligiousDress,
    ];

    /// Whether a lawful system must not alert on it.
    pub fn is_protected(self) -> bool {
        !matches!(
            self,
            IncidentKind::Fight
                | IncidentKind::Collapse
                | IncidentKind::AbandonedObject
                | IncidentKind::Loitering
                | IncidentKind::Dispersal
                | IncidentKind::Vandalism
                | IncidentKind::VehicleCollision
                | IncidentKind::BagSnatch
        )
    }

    /// Whether it is an incident shown within seconds (fight, collapse, dispersal, vandalism,
    /// vehicle collision, bag snatch), not one that needs minutes of context (loitering, an
    /// abandoned object) nor a protected activity.
    pub fn is_short_horizon(self) -> bool {
        !self.is_protected() && !matches!(self, IncidentKind::AbandonedObject | IncidentKind::Loitering)
    }

    /// The kind a scenario spells `name`, if any.
    pub fn from_name(name: &str) -> Option<IncidentKind> {
        IncidentKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The scenario spelling (`abandoned_object`, …), used in tables.
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::Fight => "fight",
            IncidentKind::Collapse => "collapse",
            IncidentKind::AbandonedObject => "abandoned_object",
            IncidentKind::Loitering => "loitering",
            IncidentKind::Dispersal => "dispersal",
            IncidentKind::Vandalism => "vandalism",
            IncidentKind::VehicleCollision => "vehicle_collision",
            IncidentKind::BagSnatch => "bag_snatch",
            IncidentKind::Assembly => "assembly",
            IncidentKind::Prayer => "prayer",
            IncidentKind::Hug => "hug",
            IncidentKind::ChildrenPlaying => "children_playing",
            IncidentKind::SittingOnBench => "sitting_on_bench",
            IncidentKind::LyingOnBench => "lying_on_bench",
            IncidentKind::Busking => "busking",
            IncidentKind::StandingInReligiousDress => "standing_in_religious_dress",
        }
    }

    /// Participants allowed (min, max) and the default range when the scenario gives none.
    pub fn participant_limits(self) -> ((u32, u32), (u32, u32)) {
        match self {
            IncidentKind::Fight => ((2, 4), (2, 4)),
            IncidentKind::Hug | IncidentKind::BagSnatch => ((2, 2), (2, 2)),
            IncidentKind::Collapse
            | IncidentKind::AbandonedObject
            | IncidentKind::Loitering
            | IncidentKind::Vandalism
            | IncidentKind::VehicleCollision
            | IncidentKind::SittingOnBench
            | IncidentKind::LyingOnBench
            | IncidentKind::StandingInReligiousDress => ((1, 1), (1, 1)),
            IncidentKind::Dispersal => ((4, 60), (8, 14)),
            IncidentKind::Assembly => ((3, 200), (8, 16)),
            IncidentKind::Prayer => ((2, 100), (4, 9)),
            IncidentKind::ChildrenPlaying => ((2, 12), (3, 5)),
            IncidentKind::Busking => ((2, 30), (4, 8)),
        }
    }

    /// The attribute filter a kind implies when the scenario gives none.
    pub fn default_who(self) -> Who {
        match self {
            IncidentKind::ChildrenPlaying => Who { age_group: vec![AgeGroup::Child], ..Who::default() },
            IncidentKind::StandingInReligiousDress => {
                Who { head_covering: vec![HeadCovering::Hijab, HeadCovering::Niqab], ..Who::default() }
            }
            // Choreographies that stand, kneel, strike or run are performed on foot.
            IncidentKind::Fight
            | IncidentKind::Dispersal
            | IncidentKind::Vandalism
            | IncidentKind::VehicleCollision
            | IncidentKind::Prayer
            | IncidentKind::Hug
            | IncidentKind::BagSnatch
            | IncidentKind::Collapse
            | IncidentKind::LyingOnBench
            | IncidentKind::SittingOnBench
            | IncidentKind::Busking => Who { mobility_aid: vec![MobilityAid::None], ..Who::default() },
            IncidentKind::AbandonedObject | IncidentKind::Loitering | IncidentKind::Assembly => Who::default(),
        }
    }
}

/// The gender presentations of a two-person event's pair.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// Whoever the draw gives.
    #[default]
    Any,
    /// Both present the same gender.
    Same,
    /// One feminine, one masculine.
    Mixed,
}

/// Where it happens.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// A spot on the plaza drawn from the seed.
    #[default]
    Random,
    /// Around the ground point (x, z), metres.
    Point(f32, f32),
    /// Inside the rectangle (x0, z0, x1, z1); loitering wanders in it (the restricted zone).
    Zone(f32, f32, f32, f32),
}

/// Which persons may take part; an empty list allows every value of that attribute.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Who {
    /// Allowed Monk tones.
    pub skin_tone: Vec<SkinTone>,
    /// Allowed gender presentations.
    pub gender_presentation: Vec<GenderPresentation>,
    /// Allowed age groups.
    pub age_group: Vec<AgeGroup>,
    /// Allowed mobility aids.
    pub mobility_aid: Vec<MobilityAid>,
    /// Allowed head coverings.
    pub head_covering: Vec<HeadCovering>,
}

impl Who {
    /// Whether a person with these attributes may take part.
    pub fn admits(&self, d: &Demographics) -> bool {
        fn ok<T: PartialEq>(allowed: &[T], value: &T) -> bool {
            allowed.is_empty() || allowed.contains(value)
        }
        ok(&self.skin_tone, &d.skin_tone)
            && ok(&self.gender_presentation, &d.gender_presentation)
            && ok(&self.age_group, &d.age_group)
            && ok(&self.mobility_aid, &d.mobility_aid)
            && ok(&self.head_covering, &d.head_covering)
    }

    /// Whether no attribute is restricted.
    pub fn is_any(&self) -> bool {
        *self == Who::default()
    }
}

/// One scheduled incident or protected activity.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    /// What happens.
    pub kind: IncidentKind,
    /// When it starts, seconds from the start of the run (the ground truth starts on this tick).
    pub start_s: f32,
    /// How long it lasts, seconds: drawn per instance between (min, max).
    pub duration_s: (f32, f32),
    /// Where.
    #[serde(default)]
    pub place: Place,
    /// How many take part, drawn between (min, max); default by kind.
    #[serde(default)]
    pub participants: Option<(u32, u32)>,
    /// Who may take part; default by kind (children for `children_playing`, hijab or niqab
    /// for `standing_in_religious_dress`, persons on foot where the choreography needs it).
    #[serde(default)]
    pub who: Option<Who>,
    /// Intensity in [0, 1], drawn between (min, max): striking rate, running speed, crowd spread.
    #[serde(default = "default_intensity")]
    pub intensity: (f32, f32),
    /// `abandoned_object` only: seconds a bag lies unattended before it counts as abandoned
    /// (the owner puts it down this long before `start_s`).
    #[serde(default = "default_abandon_after")]
    pub abandon_after_s: f32,
    /// Two-person events only: a `same`- or `mixed`-gender pair (default `any`), so the same
    /// embrace can be staged by both and scored side by side.
    #[serde(default)]
    pub pairing: Pairing,
}

fn default_intensity() -> (f32, f32) {
    (0.3, 0.9)
}

fn default_abandon_after() -> f32 {
    10.0
}

impl IncidentSpec {
    /// Participant range with the kind's default applied.
    pub fn participant_range(&self) -> (u32, u32) {
        self.participants.unwrap_or(self.kind.participant_limits().1)
    }

    /// Attribute filter with the kind's default applied.
    pub fn who(&self) -> Who {
        self.who.clone().unwrap_or_else(|| self.kind.default_who())
    }

    /// Checks one entry against a run of `duration_s`: `Err((field, message))`.
    pub fn validate(&self, run_duration_s: f32) -> Result<(), (&'static str, String)> {
        if !(self.start_s >= 0.0 && self.start_s < run_duration_s) {
            return Err(("start_s", format!("must lie within the run (0 to {run_duration_s} s), got {}", self.start_s)));
        }
        let (low, high) = self.duration_s;
        if !(low > 0.0 && low <= high && high <= 3600.0) {
            return Err(("duration_s", format!("must be (min, max) with 0 < min <= max <= 3600 s, got ({low}, {high})")));
        }
        let ((min_allowed, max_allowed), _) = self.kind.participant_limits();
        let (min, max) = self.participant_range();
        if !(min >= min_allowed && min <= max && max <= max_allowed) {
            return Err((
                "participants",
                format!("a {} takes {min_allowed} to {max_allowed} participants, got ({min}, {max})", self.kind.name()),
            ));
        }
        let (low, high) = self.intensity;
        if !(0.0..=1.0).contains(&low) || !(0.0..=1.0).contains(&high) || low > high {
            return Err(("intensity", format!("must be (min, max) within [0, 1], got ({low}, {high})")));
        }
        if !(self.abandon_after_s >= 0.0 && self.abandon_after_s <= 600.0) {
            return Err(("abandon_after_s", format!("must be 0 to 600 s, got {}", self.abandon_after_s)));
        }
        if self.kind == IncidentKind::AbandonedObject && self.abandon_after_s > self.start_s {
            return Err((
                "abandon_after_s",
                format!("the bag is put down {} s before `start_s` ({} s), before the run begins", self.abandon_after_s, self.start_s),
            ));
        }
        match self.place {
            Place::Random => {}
            Place::Point(x, z) if x.is_finite() && z.is_finite() => {}
            Place::Zone(x0, z0, x1, z1) if x0 < x1 && z0 < z1 && [x0, z0, x1, z1].iter().all(|v| v.is_finite()) => {}
            _ => return Err(("place", "a point must be finite; a zone is (x0, z0, x1, z1) with x0 < x1 and z0 < z1".into())),
        }
        if self.pairing != Pairing::Any && self.participant_range() != (2, 2) {
            return Err(("pairing", format!("`same` and `mixed` pair two persons; this {} has {:?} participants", self.kind.name(), self.participant_range())));
        }
        if let Some(who) = &self.who
            && who.mobility_aid.contains(&MobilityAid::Wheelchair)
            && self.kind.default_who().mobility_aid == vec![MobilityAid::None]
        {
            return Err(("who", format!("a {} is choreographed on foot; wheelchair users cannot take part", self.kind.name())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_kinds_are_the_ones_that_must_not_alert() {
        let protected: Vec<&str> = IncidentKind::ALL.iter().filter(|k| k.is_protected()).map(|k| k.name()).collect();
        assert_eq!(
            protected,
            ["assembly", "prayer", "hug", "children_playing", "sitting_on_bench", "lying_on_bench", "busking", "standing_in_religious_dress"]
        );
    }

    #[test]
    fn validation_names_the_field() {
        let spec = IncidentSpec {
            kind: IncidentKind::Hug,
            start_s: 2.0,
            duration_s: (3.0, 5.0),
            place: Place::Random,
            participants: Some((3, 3)),
            who: None,
            intensity: default_intensity(),
            abandon_after_s: default_abandon_after(),
            pairing: Pairing::Mixed,
        };
        assert_eq!(spec.validate(10.0).unwrap_err().0, "participants");
        let late = IncidentSpec { participants: None, start_s: 12.0, ..spec.clone() };
        assert_eq!(late.validate(10.0).unwrap_err().0, "start_s");
        assert!(IncidentSpec { participants: None, ..spec.clone() }.validate(10.0).is_ok());
        let fight = IncidentSpec { kind: IncidentKind::Fight, participants: Some((2, 4)), ..spec };
        assert_eq!(fight.validate(10.0).unwrap_err().0, "pairing", "a pairing needs exactly two");
    }
}
