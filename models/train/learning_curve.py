#!/usr/bin/env python3
"""How the person-track model's frame AUC grows with training scenes, on the training scenes
alone (the held-out scenes are never read): the first `--scenes` training datasets are cut into
`--folds` folds (scene k goes to fold k mod folds); for each fold, trees as the recipe fits them
(`train_anomaly_tracks.trees`) learn from the first n scenes of the other folds, for each n of
`--sizes`, and score the fold's frames as the decoder does. Frame AUC pooled over the folds,
twice: as the pipeline scores under the default profile (loitering and abandoned objects
incidents, the bag snatch a negative) and on the recipe's training labels (the profile's
short-horizon incidents; frames showing only loitering or an abandoned object left out). v2's
figures in models/train/README.md were taken when those labels still counted the bag snatch.

    python learning_curve.py DIR/datasets [--scenes 36] [--folds 4] [--sizes 9 18 27]

Deterministic (one thread, seeded trees). About 2 minutes for the defaults on 2 cores.
"""

import argparse
import pathlib

import numpy as np
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from train_anomaly_tracks import fitted_rows, load, model_frame_scores, trees

# The default profile's incidents (profiles/unicri.ron): the bag snatch is out of scope there.
PROFILE_INCIDENTS = {"fight", "collapse", "dispersal", "vandalism", "vehicle_collision", "loitering", "abandoned_object"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=pathlib.Path, help="the recipe's DIR/datasets (ad-train-1 … are read)")
    parser.add_argument("--scenes", type=int, default=36)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[9, 18, 27])
    args = parser.parse_args()
    most = args.scenes - -(-args.scenes // args.folds)
    if max(args.sizes) > most:
        raise SystemExit(f"--sizes up to {max(args.sizes)}: each fold leaves at most {most} of {args.scenes} scenes to fit on")
    sets = [load(args.datasets / f"ad-train-{i}") for i in range(1, args.scenes + 1)]
    folds = [list(range(k, args.scenes, args.folds)) for k in range(args.folds)]
    with threadpool_limits(1):
        for n in args.sizes:
            profile, short, scores, kept = [], [], [], []
            for fold in folds:
                model = trees().fit(*fitted_rows([sets[i] for i in range(args.scenes) if i not in fold][:n]))
                for d in (sets[i] for i in fold):
                    scores.append(model_frame_scores(model, d))
                    profile.append(np.array([bool(PROFILE_INCIDENTS & set(k.split(","))) if k else False for k in d["kinds"]]))
                    short.append(d["short"])
                    kept.append(~d["long_only"])
            p, s, y, k = map(np.concatenate, (profile, scores, short, kept))
            print(f"{n} scenes fitted: frame AUC {roc_auc_score(p, s):.3f} as the pipeline scores, {roc_auc_score(y[k], s[k]):.3f} on the training labels", flush=True)


if __name__ == "__main__":
    main()
