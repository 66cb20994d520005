//! Ground-truth ids and their encoding in the id mask.
//!
//! The id pass renders every object of interest in a flat colour whose 24 bits are its id
//! (`r << 16 | g << 8 | b`, sRGB bytes as written to the image). Ranges:
//!
//! | range                  | meaning                                              |
//! |------------------------|------------------------------------------------------|
//! | `0x000000`             | nothing of interest (ground, buildings, sky)         |
//! | `0x010000..=0x1FFFFF`  | persons: `PERSON_BASE + person id` (their body, hair, head covering, wheelchair) |
//! | `0x200000..=0x2FFFFF`  | device screens: `SCREEN_BASE + screen id`            |
//! | `0x300000..=0x3FFFFF`  | licence plates: `PLATE_BASE + plate id`              |
//! | `0x400000..=0x4FFFFF`  | other tracked objects (bags, street furniture of interest) |
//!
//! Any other value in an id mask is an error in the renderer (a blended or dithered edge),
//! which the tests check never happens.

/// First id of the person range.
pub const PERSON_BASE: u32 = 0x01_0000;
/// First id of the screen range.
pub const SCREEN_BASE: u32 = 0x20_0000;
/// First id of the licence-plate range.
pub const PLATE_BASE: u32 = 0x30_0000;
/// First id of the other-objects range.
pub const OBJECT_BASE: u32 = 0x40_0000;
/// One past the last valid id.
pub const ID_END: u32 = 0x50_0000;

/// What an id-mask value denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroundTruthId {
    /// Nothing of interest.
    Background,
    /// A person, by person id.
    Person(u32),
    /// A device screen, by screen id.
    Screen(u32),
    /// A licence plate, by plate id.
    Plate(u32),
    /// Another tracked object, by object id.
    Object(u32),
    /// A value outside every range: a rendering fault.
    Invalid(u32),
}

impl GroundTruthId {
    /// Decodes a 24-bit id-mask value.
    pub fn decode(value: u32) -> Self {
        match value {
            0 => Self::Background,
            v if (PERSON_BASE..SCREEN_BASE).contains(&v) => Self::Person(v - PERSON_BASE),
            v if (SCREEN_BASE..PLATE_BASE).contains(&v) => Self::Screen(v - SCREEN_BASE),
            v if (PLATE_BASE..OBJECT_BASE).contains(&v) => Self::Plate(v - PLATE_BASE),
            v if (OBJECT_BASE..ID_END).contains(&v) => Self::Object(v - OBJECT_BASE),
            v => Self::Invalid(v),
        }
    }

    /// The 24-bit value for this id.
    pub fn encode(self) -> u32 {
        match self {
            Self::Background => 0,
            Self::Person(p) => PERSON_BASE + p,
            Self::Screen(s) => SCREEN_BASE + s,
            Self::Plate(p) => PLATE_BASE + p,
            Self::Object(o) => OBJECT_BASE + o,
            Self::Invalid(v) => v,
        }
    }

    /// The id as the sRGB bytes the id pass writes.
    pub fn to_srgb_bytes(self) -> [u8; 3] {
        let v = self.encode();
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    }

    /// Reads an id from sRGB bytes of the id mask.
    pub fn from_srgb_bytes(rgb: [u8; 3]) -> Self {
        Self::decode(((rgb[0] as u32) << 16) | ((rgb[1] as u32) << 8) | rgb[2] as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_bytes() {
        for id in [
            GroundTruthId::Background,
            GroundTruthId::Person(0),
            GroundTruthId::Person(4242),
            GroundTruthId::Screen(3),
            GroundTruthId::Plate(9),
            GroundTruthId::Object(1),
        ] {
            assert_eq!(GroundTruthId::from_srgb_bytes(id.to_srgb_bytes()), id);
        }
        assert_eq!(GroundTruthId::decode(0x00_00ff), GroundTruthId::Invalid(0xff));
    }
}
