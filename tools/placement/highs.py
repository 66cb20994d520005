"""Solves a placement program that `crowdtwin place --mps` wrote with HiGHS (PyPI `highspy`).

    python tools/placement/highs.py PROGRAM.mps [--time-limit S] [--threads N] [--start C,C,…]

`--start` hands HiGHS a known placement (the candidates chosen; every other `x` is 0) as its first
incumbent, as crowdtwin hands microlp the greedy's; HiGHS completes the `y` columns itself.

Prints, as its last line, one JSON object (HiGHS itself prints a banner first): HiGHS's version, model status, objective, proven bound (the MIP dual
bound), relative gap, seconds, and the candidates (`x<c>` columns) it chose (set HIGHS_LOG=1 to
see HiGHS's own log on standard output). The relative gap is asked to be 1e-6 (HiGHS tolerates 1e-4 by default): it stops at an optimum proven to that or at the time limit.
"""

import argparse
import json
import math
import sys
import time

import highspy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--start", default="")
    args = parser.parse_args()
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(__import__("os").environ.get("HIGHS_LOG")))
    h.setOptionValue("time_limit", args.time_limit)
    h.setOptionValue("threads", args.threads)
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("random_seed", 0)
    status = h.readModel(args.program)
    if status != highspy.HighsStatus.kOk:
        print(f"HiGHS cannot read {args.program}: {status}", file=sys.stderr)
        return 2
    if args.start:
        import numpy as np

        chosen = {int(c) for c in args.start.split(",")}
        lp = h.getLp()
        columns = [(i, h.getColName(i)[1]) for i in range(lp.num_col_)]
        xs = [(i, 1.0 if int(name[1:]) in chosen else 0.0) for i, name in columns if name.startswith("x")]
        h.setSolution(len(xs), np.array([i for i, _ in xs], dtype=np.int32), np.array([v for _, v in xs], dtype=np.float64))
    started = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - started
    info = h.getInfo()
    model_status = h.modelStatusToString(h.getModelStatus())
    solution = h.getSolution()
    lp = h.getLp()
    names = [h.getColName(i)[1] for i in range(lp.num_col_)]
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    chosen = [int(n[1:]) for n, v in zip(names, solution.col_value) if n.startswith("x") and v > 0.5] if has_solution else None
    finite = lambda v: v if v is not None and math.isfinite(v) else None  # JSON has no Infinity
    json.dump(
        {
            "highs": h.version(),
            "status": model_status,
            "objective": finite(info.objective_function_value) if has_solution else None,
            "bound": finite(info.mip_dual_bound),
            "gap": finite(info.mip_gap) if has_solution else None,
            "seconds": seconds,
            "chosen": chosen,
        },
        sys.stdout,
        allow_nan=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
