"""Train the trained attribute attacker (`models/attribute_attacker.onnx`) on person crops of
crowdtwin's own frame stores, and export it to ONNX.

The attacker is what an adversary with the deployment's footage and a labelled set of other
people would build: it reads a person's crop (the box of their visible pixels, resampled to
24 x 12 cells) and two numbers of geometry (log height in metres, log aspect), keeps the
head's cells and a coarse 6 x 3 view of the body, and guesses skin-tone band, gender
presentation and age group with gradient-boosted trees (scikit-learn's
HistGradientBoostingClassifier, exported by skl2onnx), chosen over small MLPs on the raw cells
in an exploratory comparison (models/train/README.md). It is trained on
**raw** crops of training stores only; the persons of `--test` stores are never seen, so the
accuracies printed for them (and written to the card's metrics) are person-disjoint.

The crop and geometry here are the ones `crowdtwin_vision::attacker::attacker_input` computes
at run time; `models/tools/make_attacker_fixture.py` pins the two together in a test.

Usage (after `crowdtwin render` of the stores, see models/train/README.md):
    .venv/bin/python models/train/train_attacker.py --train STORE... --test STORE... --out models
"""

import argparse
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pyarrow.parquet as pq
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from onnx import compose
from skl2onnx import to_onnx
from sklearn.ensemble import HistGradientBoostingClassifier

ROWS, COLS = 24, 12
PERSON_BASE, SCREEN_BASE = 0x01_0000, 0x20_0000
MIN_VISIBLE_PX = 150  # src/recorder.rs PRIVACY_MIN_VISIBLE_PX
MAX_CROPS_PER_TRACKLET = 12  # reports/src/privacy.rs
ATTRIBUTES = [
    ("skin_tone_band", ["light (Monk 1–3)", "medium (4–7)", "dark (8–10)"]),
    ("gender_presentation", ["feminine", "masculine"]),
    ("age_group", ["child", "adult", "older_adult"]),
]


def skin_tone_band(monk):
    return 0 if monk <= 3 else 1 if monk <= 7 else 2


def attacker_input(rgba, bbox, pixels_per_metre):
    """Crop [3, ROWS, COLS] (cell means of 0-255 values / 255) and geometry [2], float32, as
    crowdtwin_vision::attacker::attacker_input: bbox = [x0, y0, x1, y1] inclusive."""
    x0, y0, x1, y1 = bbox
    h, w = y1 + 1 - y0, x1 + 1 - x0
    crop = np.zeros((3, ROWS, COLS), dtype=np.float32)
    for i in range(ROWS):
        ry0 = y0 + h * i // ROWS
        ry1 = min(max(y0 + h * (i + 1) // ROWS, ry0 + 1), y1 + 1)
        for j in range(COLS):
            cx0 = x0 + w * j // COLS
            cx1 = min(max(x0 + w * (j + 1) // COLS, cx0 + 1), x1 + 1)
            cell = rgba[ry0:ry1, cx0:cx1, :3].astype(np.int64)
            count = np.float32(cell.shape[0] * cell.shape[1] * 255)
            for c in range(3):
                crop[c, i, j] = np.float32(cell[:, :, c].sum()) / count
    geometry = np.array([np.log(np.float32(h) / np.float32(pixels_per_metre)), np.log(np.float32(w) / np.float32(h))], dtype=np.float32)
    return crop, geometry


def sensor_widths(scenario_text):
    """Each camera's sensor width, in the order the scenario lists its cameras (the store keeps the
    scenario byte for byte). Good for crowdtwin's own scenarios, whose `sensor_resolution` fields
    belong to cameras only; not a RON parser."""
    return [int(w) for w in re.findall(r"sensor_resolution:\s*\(\s*(\d+)\s*,", scenario_text)]


def thin(samples):
    """At most MAX_CROPS_PER_TRACKLET crops per (person, camera), evenly spaced in time, as
    reports::privacy::thin."""
    tracklets = {}
    for s in samples:
        tracklets.setdefault((s[0], s[1]), []).append(s)
    kept = []
    for key in sorted(tracklets):
        crops = sorted(tracklets[key], key=lambda s: s[2])
        n = len(crops)
        take = min(n, MAX_CROPS_PER_TRACKLET)
        kept.extend(crops[i * n // take] for i in range(take))
    return kept


def read_store(store):
    """(person key, crop, geometry, labels) of every thinned crop of a store's raw frames."""
    store = Path(store)
    manifest = json.loads((store / "store.json").read_text())
    widths = sensor_widths((store / "scenario.ron").read_text())
    frames = pq.read_table(store / "frames.parquet").to_pylist()
    persons = {p["person"]: p for p in pq.read_table(store / "persons.parquet").to_pylist()}
    in_frame = {}
    for p in pq.read_table(store / "persons_in_frame.parquet").to_pylist():
        in_frame.setdefault((p["tick"], p["camera"]), []).append(p)
    # Which frames each kept crop needs: thin first (on the ground truth's visibility), read after.
    candidates = []
    for f in frames:
        for p in in_frame.get((f["tick"], f["camera"]), []):
            if p["visible_px"] >= MIN_VISIBLE_PX:
                candidates.append((p["person"], f["camera"], f["tick"], p["pixels_per_metre"]))
    wanted = {}
    for person, camera, tick, ppm in thin(candidates):
        wanted.setdefault((tick, camera), []).append((person, ppm))
    rows = []
    for f in frames:
        needed = wanted.get((f["tick"], f["camera"]))
        if not needed:
            continue
        rgba = np.asarray(Image.open(store / f["colour"]).convert("RGBA"))
        ids = np.asarray(Image.open(store / f["ids"]).convert("RGBA")).astype(np.uint32)
        ids = ids[:, :, 0] | (ids[:, :, 1] << 8) | (ids[:, :, 2] << 16) | (ids[:, :, 3] << 24)
        render_per_sensor = np.float32(f["width"]) / np.float32(widths[f["camera"]])
        for person, ppm in needed:
            ys, xs = np.nonzero(ids == PERSON_BASE + person)
            if len(xs) == 0:
                continue
            bbox = (xs.min(), ys.min(), xs.max(), ys.max())
            crop, geometry = attacker_input(rgba, bbox, np.float32(ppm) * render_per_sensor)
            p = persons[person]
            labels = [skin_tone_band(p["skin_tone"]), ATTRIBUTES[1][1].index(p["gender_presentation"]), ATTRIBUTES[2][1].index(p["age_group"])]
            rows.append((f"{manifest['key'][:16]}/{person}", crop, geometry, labels))
    return rows


def stack(rows):
    crops = np.stack([r[1] for r in rows])
    geometry = np.stack([r[2] for r in rows])
    labels = np.array([r[3] for r in rows])
    persons = np.array([r[0] for r in rows])
    return crops, geometry, labels, persons


def feature_graph():
    """The deployed graph's first part: crop [N,3,ROWS,COLS] + geometry [N,2] -> features
    [N, 3*4*6 + 3*6*3 + 2]: the head's cells (rows 0-3, columns 3-8) as they are, the whole box
    pooled to 6 x 3 cells, and the geometry. Training computes its features with this very
    graph in ONNX Runtime, so the trees see at run time exactly the numbers they were fitted on."""
    const = lambda name, values: numpy_helper.from_array(np.array(values, dtype=np.int64), name)
    init = [const("top_starts", [0, 3]), const("top_ends", [4, 9]), const("top_axes", [2, 3])]
    nodes = [
        helper.make_node("Slice", ["crop", "top_starts", "top_ends", "top_axes"], ["top"]),
        helper.make_node("Flatten", ["top"], ["top_flat"], axis=1),
        helper.make_node("AveragePool", ["crop"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["pooled"], ["pooled_flat"], axis=1),
        helper.make_node("Concat", ["top_flat", "pooled_flat", "geometry"], ["features"], axis=1),
    ]
    inputs = [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["N", 3, ROWS, COLS]), helper.make_tensor_value_info("geometry", TensorProto.FLOAT, ["N", 2])]
    return nodes, init, inputs


def features_of(crops, geometry):
    nodes, init, inputs = feature_graph()
    graph = helper.make_graph(nodes, "features", inputs, [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", FEATURES])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["features"], {"crop": crops, "geometry": geometry})[0]


FEATURES = 3 * 4 * 6 + 3 * 6 * 3 + 2


def export(path, heads, sample):
    """The feature graph, then one tree ensemble per attribute (skl2onnx), its class
    probabilities renamed to the attribute: outputs [N, classes] each."""
    nodes, init, inputs = feature_graph()
    outputs = []
    opsets = {"": 17}
    for (name, classes), model in zip(ATTRIBUTES, heads):
        head = compose.add_prefix(to_onnx(model, sample, options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3}), f"{name}_")
        x = head.graph.input[0].name
        probabilities = head.graph.output[1].name
        for node in head.graph.node:
            node.input[:] = ["features" if i == x else i for i in node.input]
        nodes += list(head.graph.node)
        init += list(head.graph.initializer)
        nodes.append(helper.make_node("Identity", [probabilities], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", len(classes)]))
        for o in head.opset_import:
            opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
    graph = helper.make_graph(nodes, "crowdtwin-attribute-attacker", inputs, outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())], producer_name="crowdtwin models/train/train_attacker.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def score(session, rows, seed):
    """Accuracy per crop of each attribute on `rows`, against chance (the most common class of
    these crops), with a 95 % cluster-bootstrap interval over persons (1000 resamples)."""
    crops, geometry, labels, persons = stack(rows)
    outputs = session.run([a[0] for a in ATTRIBUTES], {"crop": crops, "geometry": geometry})
    keys = sorted(set(persons))
    index = {p: i for i, p in enumerate(keys)}
    member = np.array([index[p] for p in persons])
    rng = np.random.default_rng(seed)
    resamples = [np.bincount(rng.integers(0, len(keys), len(keys)), minlength=len(keys)) for _ in range(1000)]
    result = {"persons": len(keys), "crops": len(crops), "attributes": {}}
    for k, ((name, classes), probabilities) in enumerate(zip(ATTRIBUTES, outputs)):
        hits = (probabilities.argmax(axis=1) == labels[:, k]).astype(float)
        per_hits = np.bincount(member, weights=hits, minlength=len(keys))
        per_crops = np.bincount(member, minlength=len(keys)).astype(float)
        boot = sorted(float((w * per_hits).sum() / (w * per_crops).sum()) for w in resamples)
        shares = np.bincount(labels[:, k], minlength=len(classes)) / len(labels)
        result["attributes"][name] = {"classes": classes, "accuracy": float(hits.mean()), "ci": [boot[24], boot[974]],
                                      "chance": float(shares.max()), "class_shares": shares.round(4).tolist()}
        print(f"{name}: accuracy {hits.mean():.3f} [{boot[24]:.3f}, {boot[974]:.3f}] on {len(keys)} unseen persons ({len(crops)} crops), chance {shares.max():.3f}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="frame stores to train on")
    parser.add_argument("--test", nargs="+", required=True, help="frame stores of other persons, for the card's accuracies")
    parser.add_argument("--other-scene", nargs="*", default=[], help="frame stores of a scene not trained on, reported apart")
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    train = [r for s in args.train for r in read_store(s)]
    test = [r for s in args.test for r in read_store(s)]
    other = [r for s in args.other_scene for r in read_store(s)]
    tc, tg, ty, tp = stack(train)
    x = features_of(tc, tg)
    heads = []
    for k, (name, classes) in enumerate(ATTRIBUTES):
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, early_stopping=False, random_state=args.seed)
        model.fit(x, ty[:, k])
        heads.append(model)
        print(f"trained {name}: {model.n_iter_} boosting rounds")
    onnx_path = args.out / "attribute_attacker.onnx"
    export(onnx_path, heads, x[:1])

    # Score the exported graph, as crowdtwin runs it, on the unseen persons.
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    metrics = {"train_stores": [Path(s).name for s in args.train], "train_persons": int(len(set(tp))), "train_crops": len(tc),
               "train_class_shares": {name: (np.bincount(ty[:, k], minlength=len(c)) / len(ty)).round(4).tolist() for k, (name, c) in enumerate(ATTRIBUTES)}}
    for label, rows in [("test", test), ("other_scene", other)]:
        if rows:
            metrics[label] = score(session, rows, args.seed)
            metrics[label]["stores"] = [Path(s).name for s in (args.test if label == "test" else args.other_scene)]
    (args.out / "attribute_attacker_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print("sha256", hashlib.sha256(onnx_path.read_bytes()).hexdigest())
    # The manifest's `trained_on`: runs staging these persons are not scored by this attacker.
    stores = [json.loads((Path(s) / "store.json").read_text()) for s in args.train]
    assert all(m["seed"] is not None for m in stores), "render the training stores with --seed"
    trained_on = sorted({(m["seed"], m["sections"]["population"]) for m in stores})
    print("trained_on: [\n" + "".join(f'            (seed: {seed}, population_sha256: "{sha}"),\n' for seed, sha in trained_on) + "        ],")


if __name__ == "__main__":
    main()
