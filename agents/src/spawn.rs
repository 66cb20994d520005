//! Spawning persons: a root entity on the ground, a joint hierarchy scaled to the person's
//! height, coloured body parts, hair, head covering and wheelchair, and for every visible
//! mesh a twin on the id layer painted with the person's ground-truth id.

use crate::body::{clothing_for_joint, BodyModel, BodyVariant, Garment, PartMaterial};
use crate::incidents::ObjectKind;
use crate::motion::{CrowdSim, JointRole, PersonState, SceneCar, SceneObject};
use crate::population::PersonSpec;
use crate::{CpuMesh, Crowd, ObjectPart, PersonPart, RasterMesh, ID_LAYER};
use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::mesh::{Indices, PrimitiveTopology, VertexAttributeValues};
use bevy::prelude::*;
use crowdtwin_core::ids::GroundTruthId;
use crowdtwin_core::scenario::Carried;
use crowdtwin_core::taxonomy::{HeadCovering, MobilityAid};
use std::collections::HashMap;
use std::sync::Arc;

/// A person's root entity.
#[derive(Component, Clone, Copy, Debug)]
pub struct Person {
    /// The person's id.
    pub id: u32,
}

/// A joint entity of a person's body.
#[derive(Component, Clone, Debug)]
pub struct BodyJoint {
    /// The person's root entity.
    pub owner: Entity,
    /// What the walk cycle does with it.
    pub role: JointRole,
    /// Rest-pose rotation (arms lowered from MakeHuman's A-pose).
    pub rest: Quat,
    /// Rest-pose translation relative to the parent joint.
    pub rest_translation: Vec3,
    /// Scale from the model's height to the person's.
    pub scale: f32,
    /// Direction of the bone (pivot to tail) in the model's rest frame.
    pub tail: Vec3,
    /// Direction of the parent's bone in the model's rest frame.
    pub parent_tail: Vec3,
}

/// Mesh and material handles shared across persons.
#[derive(Default)]
struct Handles {
    part_meshes: HashMap<(BodyVariant, usize), (Handle<Mesh>, Arc<CpuMesh>)>,
    shapes: HashMap<&'static str, (Handle<Mesh>, Arc<CpuMesh>)>,
    lit: HashMap<[u8; 3], Handle<StandardMaterial>>,
}

/// The sRGB material for an id: unlit, no fog, so the id pass writes exactly these bytes.
fn id_material(materials: &mut Assets<StandardMaterial>, id: GroundTruthId) -> Handle<StandardMaterial> {
    let [r, g, b] = id.to_srgb_bytes();
    materials.add(StandardMaterial {
        base_color: Color::srgb_u8(r, g, b),
        unlit: true,
        fog_enabled: false,
        ..default()
    })
}

fn cpu_mesh(mesh: &Mesh) -> CpuMesh {
    let positions = match mesh.attribute(Mesh::ATTRIBUTE_POSITION) {
        Some(VertexAttributeValues::Float32x3(p)) => p.clone(),
        _ => Vec::new(),
    };
    let indices = match mesh.indices() {
        Some(indices) => indices.iter().map(|i| i as u32).collect(),
        None => (0..positions.len() as u32).collect(),
    };
    CpuMesh { positions, indices }
}

impl Handles {
    fn lit(&mut self, materials: &mut Assets<StandardMaterial>, rgb: [u8; 3], roughness: f32) -> Handle<StandardMaterial> {
        self.lit
            .entry(rgb)
            .or_insert_with(|| {
                materials.add(StandardMaterial {
                    base_color: Color::srgb_u8(rgb[0], rgb[1], rgb[2]),
                    perceptual_roughness: roughness,
                    reflectance: 0.3,
                    ..default()
                })
            })
            .clone()
    }

    fn part(&mut self, meshes: &mut Assets<Mesh>, model: &BodyModel, index: usize) -> (Handle<Mesh>, Arc<CpuMesh>) {
        self.part_meshes
            .entry((model.variant, index))
            .or_insert_with(|| {
                let part = &model.parts[index];
                let mesh = Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::RENDER_WORLD)
                    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, part.positions.clone())
                    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, part.normals.clone())
                    .with_inserted_indices(Indices::U32(part.indices.clone()));
                let cpu = Arc::new(CpuMesh { positions: part.positions.clone(), indices: part.indices.clone() });
                (meshes.add(mesh), cpu)
            })
            .clone()
    }

    fn shape(&mut self, meshes: &mut Assets<Mesh>, name: &'static str, make: impl FnOnce() -> Mesh) -> (Handle<Mesh>, Arc<CpuMesh>) {
        self.shapes
            .entry(name)
            .or_insert_with(|| {
                let mesh = make();
                let cpu = Arc::new(cpu_mesh(&mesh));
                (meshes.add(mesh), cpu)
            })
            .clone()
    }
}

/// Spawns a visible mesh and its twin on the id layer, painted with `id_material`, under
/// `parent`; `twin` adds what the ground truth needs to find the twin (e.g. the CPU mesh and
/// whose part it is), or nothing for a pure occluder or an id-only surface.
fn spawn_pair(
    commands: &mut Commands,
    parent: Entity,
    mesh: Handle<Mesh>,
    material: Handle<StandardMaterial>,
    id_material: Handle<StandardMaterial>,
    transform: Transform,
    twin: impl Bundle,
) {
    commands.entity(parent).with_children(|children| {
        children.spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material), transform));
        children.spawn((Mesh3d(mesh), MeshMaterial3d(id_material), transform, RenderLayers::layer(ID_LAYER), twin));
    });
}

/// Spawns a visible mesh and its id-pass twin as part of `person` (rasterised for the ground truth).
fn spawn_with_twin(
    commands: &mut Commands,
    parent: Entity,
    (mesh, cpu): (Handle<Mesh>, Arc<CpuMesh>),
    material: Handle<StandardMaterial>,
    id_material: Handle<StandardMaterial>,
    person: u32,
    transform: Transform,
) {
    spawn_pair(commands, parent, mesh, material, id_material, transform, (RasterMesh(cpu), PersonPart { person }));
}

/// Start-up system: spawns every person of the [`Crowd`].
pub fn spawn_crowd(
    mut commands: Commands,
    crowd: Res<Crowd>,
    model: Res<CrowdSim>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let mut handles = Handles::default();
    let poses = model.0.poses();
    for spec in &crowd.persons {
        let variant = BodyVariant {
            age: spec.demographics.age_group,
            gender: spec.demographics.gender_presentation,
            size: spec.demographics.body_size,
        };
        let model = crowd.bodies.model(variant).clone();
        let state = PersonState { pose: poses[spec.id as usize], height_m: spec.height_m, carried: spec.carried };
        let visibility = if state.pose.present { Visibility::Inherited } else { Visibility::Hidden };
        let root = commands.spawn((Person { id: spec.id }, state.transform(), visibility)).id();
        commands.entity(root).insert(state);
        spawn_body(&mut commands, root, spec, &model, &mut handles, &mut meshes, &mut materials);
    }
}

fn spawn_body(
    commands: &mut Commands,
    root: Entity,
    spec: &PersonSpec,
    model: &BodyModel,
    handles: &mut Handles,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
) {
    let scale = spec.height_m / model.height_m;
    let id_mat = id_material(materials, GroundTruthId::Person(spec.id));
    let covering = spec.demographics.head_covering;
    let mut joint_entities: Vec<Entity> = Vec::with_capacity(model.joints.len());
    for joint in &model.joints {
        let role = JointRole::from_name(&joint.name);
        let parent_tail = joint.parent.map_or(Vec3::NEG_Y, |p| Vec3::from(model.joints[p].tail));
        let rest = role.rest_rotation(Vec3::from(joint.tail), parent_tail);
        let rest_translation = Vec3::from(joint.offset);
        let transform = match joint.parent {
            // The root joint carries the person's scale, so accessories under the root keep real size.
            None => Transform { translation: rest_translation * scale, rotation: rest, scale: Vec3::splat(scale) },
            Some(_) => Transform { translation: rest_translation, rotation: rest, scale: Vec3::ONE },
        };
        let entity = commands
            .spawn((BodyJoint {
                owner: root,
                role,
                rest,
                rest_translation,
                scale,
                tail: Vec3::from(joint.tail).normalize_or(Vec3::NEG_Y),
                parent_tail: parent_tail.normalize_or(Vec3::NEG_Y),
            }, transform, Visibility::default()))
            .id();
        let parent = joint.parent.map_or(root, |p| joint_entities[p]);
        commands.entity(parent).add_child(entity);
        joint_entities.push(entity);
    }
    for (index, part) in model.parts.iter().enumerate() {
        let joint_name = model.joints[part.joint].name.as_str();
        let rgb = match part.material {
            PartMaterial::Eye => [235, 235, 230],
            PartMaterial::Hair => {
                if matches!(covering, HeadCovering::Hijab | HeadCovering::Niqab | HeadCovering::Hat) {
                    continue; // the covering hides the hair
                }
                spec.hair_rgb
            }
            PartMaterial::Body => match clothing_for_joint(joint_name) {
                Garment::Skin => spec.skin_rgb,
                Garment::Shirt => spec.shirt_rgb,
                Garment::Trousers => spec.trousers_rgb,
                Garment::Shoes => spec.shoes_rgb,
            },
        };
        let roughness = if part.material == PartMaterial::Eye { 0.3 } else { 0.85 };
        let material = handles.lit(materials, rgb, roughness);
        let mesh = handles.part(meshes, model, index);
        spawn_with_twin(commands, joint_entities[part.joint], mesh, material, id_mat.clone(), spec.id, Transform::IDENTITY);
    }
    if let Some(head) = model.joint("head") {
        spawn_head_covering(commands, joint_entities[head], spec, Vec3::from(model.joints[head].tail), handles, meshes, materials, &id_mat);
    }
    if spec.demographics.mobility_aid == MobilityAid::Wheelchair {
        spawn_wheelchair(commands, root, spec.id, handles, meshes, materials, &id_mat);
    }
    spawn_carried(commands, root, spec, handles, meshes, materials, &id_mat);
}

/// What a person carries, under the root (real size): a bag at the right hand, a phone held
/// up in front of the chest (its lit screen painted with the screen id in the id pass), or an
/// open umbrella over the head. Bag, phone and umbrella count as part of the person.
fn spawn_carried(
    commands: &mut Commands,
    root: Entity,
    spec: &PersonSpec,
    handles: &mut Handles,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    id_mat: &Handle<StandardMaterial>,
) {
    let h = spec.height_m;
    let cube = handles.shape(meshes, "cube", || Cuboid::new(1.0, 1.0, 1.0).mesh().build());
    match spec.carried {
        Carried::None => {}
        Carried::Bag => {
            let leather = handles.lit(materials, [70, 45, 30], 0.7);
            let transform = Transform::from_xyz(-0.27 * h / 1.75, 0.43 * h, 0.02).with_scale(Vec3::new(0.1, 0.3, 0.36) * (h / 1.75).max(0.8));
            spawn_with_twin(commands, root, cube, leather, id_mat.clone(), spec.id, transform);
        }
        Carried::Phone => {
            let case = handles.lit(materials, [25, 25, 28], 0.4);
            // Held at the height of the lower chest, tilted towards the face.
            let tilt = Quat::from_rotation_x(-0.9);
            let at = Vec3::new(-0.1 * h / 1.75, 0.66 * h, 0.3 * h / 1.75);
            let body = Transform::from_translation(at).with_rotation(tilt).with_scale(Vec3::new(0.075, 0.15, 0.01));
            spawn_with_twin(commands, root, cube.clone(), case, id_mat.clone(), spec.id, body);
            let screen_light = materials.add(StandardMaterial {
                base_color: Color::srgb(0.75, 0.85, 1.0),
                emissive: LinearRgba::rgb(6.0, 8.0, 12.0),
                ..default()
            });
            let screen_id = id_material(materials, GroundTruthId::Screen(spec.id));
            let screen = Transform::from_translation(at + tilt * Vec3::new(0.0, 0.0, -0.006)).with_rotation(tilt).with_scale(Vec3::new(0.065, 0.13, 0.002));
            spawn_pair(commands, root, cube.0.clone(), screen_light, screen_id, screen, ());
        }
        Carried::Umbrella => {
            let canopy_colour = [[20, 20, 24], [150, 25, 30], [30, 60, 130], [40, 110, 70]][spec.id as usize % 4];
            let canopy = handles.lit(materials, canopy_colour, 0.5);
            let shaft = handles.lit(materials, [40, 40, 40], 0.5);
            let dome = handles.shape(meshes, "umbrella", || Sphere::new(1.0).mesh().uv(20, 8));
            let x = -0.16 * h / 1.75;
            let pole = Transform::from_xyz(x, 0.62 * h + 0.45, 0.22).with_scale(Vec3::new(0.02, 0.9, 0.02));
            let top = Transform::from_xyz(x * 0.5, h + 0.2, 0.12).with_scale(Vec3::new(0.55, 0.16, 0.55));
            spawn_with_twin(commands, root, cube, shaft, id_mat.clone(), spec.id, pole);
            spawn_with_twin(commands, root, dome, canopy, id_mat.clone(), spec.id, top);
        }
    }
}

/// Head coverings are simple shapes fitted to the head bone (pivot at the neck, tail at the crown).
#[allow(clippy::too_many_arguments)]
fn spawn_head_covering(
    commands: &mut Commands,
    head: Entity,
    spec: &PersonSpec,
    head_tail: Vec3,
    handles: &mut Handles,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    id_mat: &Handle<StandardMaterial>,
) {
    let covering = spec.demographics.head_covering;
    if covering == HeadCovering::None {
        return;
    }
    let length = head_tail.length().max(0.05);
    let up = head_tail / length;
    // The skull's centre sits about two thirds up the neck-to-crown bone; its radius is ~ 0.42 of it.
    let centre = up * length * 0.66;
    let radius = length * 0.42;
    let material = handles.lit(materials, spec.covering_rgb, 0.9);
    let sphere = handles.shape(meshes, "sphere", || Sphere::new(1.0).mesh().uv(24, 16));
    let cylinder = handles.shape(meshes, "cylinder", || Cylinder::new(1.0, 1.0).mesh().resolution(24).build());
    let cube = handles.shape(meshes, "cube", || Cuboid::new(1.0, 1.0, 1.0).mesh().build());
    let mut put = |mesh: &(Handle<Mesh>, Arc<CpuMesh>), transform: Transform| {
        spawn_with_twin(commands, head, mesh.clone(), material.clone(), id_mat.clone(), spec.id, transform);
    };
    match covering {
        HeadCovering::Hat => {
            put(&cylinder, Transform::from_translation(centre + up * radius * 0.75).with_scale(Vec3::new(radius * 1.08, radius * 0.7, radius * 1.08)));
            put(&cylinder, Transform::from_translation(centre + up * radius * 0.45).with_scale(Vec3::new(radius * 1.6, radius * 0.06, radius * 1.6)));
        }
        HeadCovering::Hijab | HeadCovering::Niqab => {
            // Set back so the face stays bare for a hijab; a niqab also covers the face.
            let back = if covering == HeadCovering::Hijab { -0.22 } else { 0.0 };
            put(&sphere, Transform::from_translation(centre + Vec3::Z * radius * back).with_scale(Vec3::splat(radius * 1.12)));
            put(&cylinder, Transform::from_translation(up * length * 0.2).with_scale(Vec3::new(radius * 1.25, length * 0.45, radius * 1.1)));
        }
        HeadCovering::Mask => {
            put(&sphere, Transform::from_translation(centre + Vec3::new(0.0, -0.35, 0.72) * radius).with_scale(Vec3::new(radius * 0.62, radius * 0.4, radius * 0.3)));
        }
        HeadCovering::Sunglasses => {
            put(&cube, Transform::from_translation(centre + Vec3::new(0.0, 0.12, 0.93) * radius).with_scale(Vec3::new(radius * 1.5, radius * 0.22, radius * 0.12)));
        }
        HeadCovering::None => {}
    }
}

/// A wheelchair under the root (real size, not scaled with the person): seat, backrest,
/// two push wheels and two casters.
fn spawn_wheelchair(
    commands: &mut Commands,
    root: Entity,
    person: u32,
    handles: &mut Handles,
    meshes: &mut Assets<Mesh>,
    materials: &mut Assets<StandardMaterial>,
    id_mat: &Handle<StandardMaterial>,
) {
    let frame = handles.lit(materials, [60, 62, 68], 0.5);
    let tyre = handles.lit(materials, [20, 20, 20], 0.9);
    let cube = handles.shape(meshes, "cube", || Cuboid::new(1.0, 1.0, 1.0).mesh().build());
    let wheel = handles.shape(meshes, "wheel", || Torus::new(0.27, 0.30).mesh().minor_resolution(8).major_resolution(28).build());
    let caster = handles.shape(meshes, "caster", || Cylinder::new(0.07, 0.04).mesh().resolution(12).build());
    let parts: [(&(Handle<Mesh>, Arc<CpuMesh>), &Handle<StandardMaterial>, Transform); 7] = [
        (&cube, &frame, Transform::from_xyz(0.0, 0.48, 0.0).with_scale(Vec3::new(0.46, 0.04, 0.44))),
        (&cube, &frame, Transform::from_xyz(0.0, 0.75, -0.22).with_scale(Vec3::new(0.46, 0.5, 0.03))),
        (&wheel, &tyre, Transform::from_xyz(0.28, 0.30, -0.08).with_rotation(Quat::from_rotation_z(std::f32::consts::FRAC_PI_2))),
        (&wheel, &tyre, Transform::from_xyz(-0.28, 0.30, -0.08).with_rotation(Quat::from_rotation_z(std::f32::consts::FRAC_PI_2))),
        (&caster, &tyre, Transform::from_xyz(0.2, 0.07, 0.3).with_rotation(Quat::from_rotation_z(std::f32::consts::FRAC_PI_2))),
        (&caster, &tyre, Transform::from_xyz(-0.2, 0.07, 0.3).with_rotation(Quat::from_rotation_z(std::f32::consts::FRAC_PI_2))),
        (&cube, &frame, Transform::from_xyz(0.0, 0.12, 0.34).with_scale(Vec3::new(0.3, 0.03, 0.12))),
    ];
    for (mesh, material, transform) in parts {
        spawn_with_twin(commands, root, mesh.clone(), material.clone(), id_mat.clone(), person, transform);
    }
}

/// Start-up system: spawns the objects the choreographies use (bags, placards), each with an
/// id-pass twin painted with its object id.
pub fn spawn_objects(
    mut commands: Commands,
    model: Res<CrowdSim>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let mut handles = Handles::default();
    let cube = handles.shape(&mut meshes, "cube", || Cuboid::new(1.0, 1.0, 1.0).mesh().build());
    for (index, kind) in model.0.object_kinds() {
        let root = commands.spawn((SceneObject { index, kind }, Transform::default(), Visibility::Hidden)).id();
        let id_mat = id_material(&mut materials, GroundTruthId::Object(index));
        // (colour, centre, size) of each box, in the object's frame (its centre at the origin).
        let boxes: Vec<([u8; 3], Vec3, Vec3)> = match kind {
            ObjectKind::Bag => vec![([52, 40, 34], Vec3::ZERO, Vec3::new(0.4, 0.3, 0.16))],
            ObjectKind::Placard => {
                let colours = [[235, 235, 225], [250, 215, 70], [240, 240, 240], [120, 200, 120]];
                vec![
                    (colours[index as usize % colours.len()], Vec3::ZERO, Vec3::new(0.7, 0.45, 0.02)),
                    ([40, 40, 160], Vec3::new(0.0, 0.02, 0.012), Vec3::new(0.55, 0.08, 0.005)),
                    ([120, 90, 60], Vec3::new(0.0, -0.5, -0.02), Vec3::new(0.03, 0.6, 0.03)),
                ]
            }
        };
        for (rgb, centre, size) in boxes {
            let material = handles.lit(&mut materials, rgb, 0.8);
            let transform = Transform::from_translation(centre).with_scale(size);
            let (mesh, cpu) = cube.clone();
            spawn_pair(&mut commands, root, mesh, material, id_mat.clone(), transform, (RasterMesh(cpu), ObjectPart { object: index }));
        }
    }
}

/// Start-up system: spawns every car (body, cabin, wheels, two licence plates). The car's
/// id-pass twin is black (it hides what is behind it); each plate is painted with its plate id.
pub fn spawn_cars(
    mut commands: Commands,
    model: Res<CrowdSim>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let mut handles = Handles::default();
    let cube = handles.shape(&mut meshes, "cube", || Cuboid::new(1.0, 1.0, 1.0).mesh().build());
    let wheel = handles.shape(&mut meshes, "car_wheel", || Cylinder::new(0.33, 0.22).mesh().resolution(16).build());
    let occluder = materials.add(StandardMaterial { base_color: Color::BLACK, unlit: true, fog_enabled: false, ..default() });
    let glass = handles.lit(&mut materials, [40, 50, 60], 0.15);
    let tyre = handles.lit(&mut materials, [18, 18, 18], 0.9);
    let plate = handles.lit(&mut materials, [235, 235, 225], 0.6);
    let (length, width) = (crate::vehicles::CAR_LENGTH_M, crate::vehicles::CAR_WIDTH_M);
    for car in model.0.cars() {
        let visibility = if car.present { Visibility::Inherited } else { Visibility::Hidden };
        let root = commands.spawn((SceneCar { index: car.index }, Transform::default(), visibility)).id();
        let paint = handles.lit(&mut materials, car.colour, 0.35);
        // (mesh, material, transform): the car faces +z in its own frame.
        let mut parts = vec![
            (cube.clone(), paint.clone(), Transform::from_xyz(0.0, 0.62, 0.0).with_scale(Vec3::new(width, 0.62, length))),
            (cube.clone(), glass.clone(), Transform::from_xyz(0.0, 1.2, -0.2).with_scale(Vec3::new(width * 0.9, 0.55, length * 0.5))),
        ];
        for (x, z) in [(-0.8, 1.35), (0.8, 1.35), (-0.8, -1.35), (0.8, -1.35)] {
            parts.push((wheel.clone(), tyre.clone(), Transform::from_xyz(x, 0.33, z).with_rotation(Quat::from_rotation_z(std::f32::consts::FRAC_PI_2))));
        }
        for (mesh, material, transform) in parts {
            spawn_pair(&mut commands, root, mesh.0, material, occluder.clone(), transform, ());
        }
        for (k, z) in [(0u32, length * 0.5 + 0.01), (1, -length * 0.5 - 0.01)] {
            let id_mat = id_material(&mut materials, GroundTruthId::Plate(car.index * 2 + k));
            let transform = Transform::from_xyz(0.0, 0.5, z).with_scale(Vec3::new(0.52, 0.12, 0.02));
            spawn_pair(&mut commands, root, cube.0.clone(), plate.clone(), id_mat, transform, ());
        }
    }
}
