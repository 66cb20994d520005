//! The demographic taxonomy of DESIGN.md: every attribute a person has and a group can be made of.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Skin tone on the Monk Skin Tone scale, 1 (lightest) to 10 (darkest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct SkinTone(u8);

impl SkinTone {
    /// All ten tones, lightest first.
    pub fn all() -> impl Iterator<Item = SkinTone> {
        (1..=10).map(SkinTone)
    }

    /// The tone's number on the Monk scale (1–10).
    pub fn monk(self) -> u8 {
        self.0
    }

    /// The Monk scale's reference swatch as sRGB bytes (Monk 2019, the published orbs).
    pub fn srgb(self) -> [u8; 3] {
        const MONK: [[u8; 3]; 10] = [
            [0xf6, 0xed, 0xe4],
            [0xf3, 0xe7, 0xdb],
            [0xf7, 0xea, 0xd0],
            [0xea, 0xda, 0xba],
            [0xd7, 0xbd, 0x96],
            [0xa0, 0x7e, 0x56],
            [0x82, 0x5c, 0x43],
            [0x60, 0x41, 0x34],
            [0x3a, 0x31, 0x2a],
            [0x29, 0x24, 0x20],
        ];
        MONK[(self.0 - 1) as usize]
    }
}

impl TryFrom<u8> for SkinTone {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, String> {
        if (1..=10).contains(&value) {
            Ok(SkinTone(value))
        } else {
            Err(format!("skin tone {value} is not on the Monk scale (1 to 10)"))
        }
    }
}

impl From<SkinTone> for u8 {
    fn from(tone: SkinTone) -> u8 {
        tone.0
    }
}

impl fmt::Display for SkinTone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Declares a closed attribute enum with its snake_case names, used in scenarios, tables and reports.
macro_rules! attribute_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The snake_case name used in scenarios, tables and reports.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

attribute_enum!(
    /// Gender presentation as perceived from appearance (not identity).
    GenderPresentation { Feminine => "feminine", Masculine => "masculine" }
);

attribute_enum!(
    /// Age group; bodies and heights follow it.
    AgeGroup { Child => "child", Adult => "adult", OlderAdult => "older_adult" }
);

attribute_enum!(
    /// Mobility aid.
    MobilityAid { None => "none", Wheelchair => "wheelchair", Cane => "cane", Walker => "walker" }
);

attribute_enum!(
    /// Face or head covering.
    HeadCovering {
        None => "none",
        Mask => "mask",
        Sunglasses => "sunglasses",
        Hijab => "hijab",
        Niqab => "niqab",
        Hat => "hat",
    }
);

attribute_enum!(
    /// Body size.
    BodySize { Slim => "slim", Average => "average", Heavy => "heavy" }
);

attribute_enum!(
    /// Coarse clothing colour family of the upper garment (what a bias analysis groups by).
    ClothingColour {
        Dark => "dark",
        Light => "light",
        Red => "red",
        Blue => "blue",
        Green => "green",
        Yellow => "yellow",
    }
);

impl ClothingColour {
    /// A representative sRGB colour of the family; appearance varies it per person.
    pub fn base_srgb(self) -> [u8; 3] {
        match self {
            ClothingColour::Dark => [40, 40, 46],
            ClothingColour::Light => [215, 212, 205],
            ClothingColour::Red => [170, 35, 40],
            ClothingColour::Blue => [40, 70, 150],
            ClothingColour::Green => [45, 110, 60],
            ClothingColour::Yellow => [220, 180, 40],
        }
    }
}

/// Every demographic attribute of one simulated person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    /// Monk skin tone.
    pub skin_tone: SkinTone,
    /// Gender presentation.
    pub gender_presentation: GenderPresentation,
    /// Age group.
    pub age_group: AgeGroup,
    /// Mobility aid.
    pub mobility_aid: MobilityAid,
    /// Face or head covering.
    pub head_covering: HeadCovering,
    /// Body size.
    pub body_size: BodySize,
    /// Upper-garment colour family.
    pub clothing_colour: ClothingColour,
}

/// The attributes by which results are grouped, with their names as used in `summary.json`.
pub const GROUPING_ATTRIBUTES: &[&str] = &[
    "skin_tone",
    "gender_presentation",
    "age_group",
    "mobility_aid",
    "head_covering",
    "body_size",
    "clothing_colour",
];

impl Demographics {
    /// The value of a grouping attribute (one of [`GROUPING_ATTRIBUTES`]) as text.
    pub fn value_of(&self, attribute: &str) -> Option<String> {
        Some(match attribute {
            "skin_tone" => self.skin_tone.to_string(),
            "gender_presentation" => self.gender_presentation.to_string(),
            "age_group" => self.age_group.to_string(),
            "mobility_aid" => self.mobility_aid.to_string(),
            "head_covering" => self.head_covering.to_string(),
            "body_size" => self.body_size.to_string(),
            "clothing_colour" => self.clothing_colour.to_string(),
            _ => return None,
        })
    }
}
