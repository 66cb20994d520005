#!/usr/bin/env python3
"""Pools the held-out runs of anomaly models into one side-by-side table (markdown on stdout,
JSON with `--json`): what the card and the README print.

Each run folder is a `crowdtwin run` of one held-out scenario (the frame store's replay), read
from its own tables: the frame AUC is pooled over every frame of every run (a frame is positive
when an incident the run's profile calls an incident shows at least `min_visible_px` pixels in
it, as the run's own frame AUC counts it — `incident_frames.parquet` joined with
`incidents.parquet`, the run's classes), with a 95 % bootstrap interval over
runs × cameras — and the same against only the negatives that show no staged event, and only
those that show a protected or out-of-scope one (where the ranking fails); per kind, incidents visible and detected (TBDC: alerts whose region meets the
incident's box in at least `alerts.track_share` of its visible frames), protected activities
visible and flagged, out-of-scope events alerted on (disproportionate), and false alerts per
camera-hour. A kind seen fewer than 5 times says "inconclusive" beside its rate. Then, per model,
its operating points pooled over the runs (each run's `operating_points.parquet`: the alerting
rule replayed on its recorded scores at thresholds 0.05 … 0.95 and its own): incidents detected,
protected activities flagged, false alerts per camera-hour and the share of camera-time an alert
is open — the trade-off a board chooses its threshold from. Last, per kind, what goes with its row:
the frame AUC of the frames where that kind shows (and no incident of another kind) against the
frames where no incident and not that kind shows — above 0.5 the model ranks that kind's frames
as anomalous, which an incident should be and a protected activity should not —, and the masker's
miss rate on the event's participants while it runs (with the persons and events behind it) (person-frames scored as the run scores them: at least
`min_visible_px` visible, missed when more than `miss_threshold` of the visible pixels are left
unpainted; a model that reads paint cannot see a participant the masker left bare).

    python score_anomaly_runs.py --model NAME RUN... [--model NAME RUN...] [--json OUT]
"""

import argparse
import json
import pathlib

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

TBDC_KINDS = ["fight", "collapse", "dispersal", "vandalism", "vehicle_collision", "bag_snatch"]
LONG_CONTEXT = ["loitering", "abandoned_object"]
MIN_EVENTS = 5


def frames_of(run):
    """Every frame of `run` with its score, the kinds showing in it (at least `min_visible_px`)
    and whether it is positive: an event the run's profile calls an incident shows."""
    frames = pl.read_parquet(run / "frames.parquet").select("tick", "camera", "ad_score")
    incidents = pl.read_parquet(run / "incidents.parquet").select("incident", "kind", "protected", "out_of_scope")
    min_px = pl.read_parquet(run / "runs.parquet")["min_visible_px"][0]
    seen = pl.read_parquet(run / "incident_frames.parquet").filter(pl.col("visible_px") >= min_px).join(incidents, on="incident")
    shown = seen.group_by("tick", "camera").agg(pl.col("kind").unique().alias("kinds"), (~pl.col("protected") & ~pl.col("out_of_scope")).any().alias("positive"))
    return (frames.join(shown, on=["tick", "camera"], how="left")
            .with_columns(pl.col("kinds").fill_null([]), pl.col("positive").fill_null(False), pl.lit(run.name).alias("run")))


def participants_missed(run):
    """Per kind: the masker's missed and scored person-frames of the event's participants from its
    start tick to the tick before its end, by the run's own `min_visible_px` and `miss_threshold`
    (the report's "by staged event" table, `miss_rate_by_event`, counts them the same way)."""
    setting = pl.read_parquet(run / "runs.parquet").row(0, named=True)
    incidents = pl.read_parquet(run / "incidents.parquet").select("incident", "kind", "start_tick", "end_tick")
    cast = pl.read_parquet(run / "incident_participants.parquet").select("incident", "person").join(incidents, on="incident")
    seen = pl.read_parquet(run / "observations.parquet").filter(pl.col("visible_px") >= setting["min_visible_px"])
    # end_tick is the first tick after the event; a row shared by two events of one kind counts once.
    during = seen.join(cast, on="person").filter((pl.col("tick") >= pl.col("start_tick")) & (pl.col("tick") < pl.col("end_tick")))
    during = during.unique(["kind", "tick", "camera", "person"], keep="first", maintain_order=True)
    return during.group_by("kind").agg(
        pl.len().alias("scored"), (pl.col("exposed_fraction") > setting["miss_threshold"]).sum().alias("missed"),
        (pl.lit(run.name) + "/" + pl.col("person").cast(pl.String)).unique().alias("persons"),
        (pl.lit(run.name) + "/" + pl.col("incident").cast(pl.String)).unique().alias("events"))


def by_kind_diagnosis(runs, table, classes):
    """Per kind: frame AUC against frames without an incident or that kind (`table`: the runs'
    `frames_of`), and participants missed."""
    kinds = table["kinds"].to_list()
    s = table["ad_score"].to_numpy()
    incident = {k for k, c in classes.items() if c == "incident"}
    missed = pl.concat([participants_missed(r) for r in runs]).group_by("kind").agg(
        pl.col("scored").sum(), pl.col("missed").sum(), pl.col("persons").list.explode().n_unique(), pl.col("events").list.explode().n_unique())
    missed = {row["kind"]: row for row in missed.iter_rows(named=True)}
    out = {}
    for kind in classes:
        pos = np.array([kind in k and not (incident - {kind}) & set(k) for k in kinds])
        neg = np.array([kind not in k and not incident & set(k) for k in kinds])
        auc = float(roc_auc_score(pos[pos | neg], s[pos | neg])) if pos.any() and neg.any() else None
        m = missed.get(kind, {"scored": 0, "missed": 0, "persons": 0, "events": 0})
        out[kind] = {"class": classes[kind], "frames": int(pos.sum()), "frame_auc": auc, "participant_frames": int(m["scored"]),
                     "participant_frames_missed": int(m["missed"]), "participants": int(m["persons"]), "events": int(m["events"])}
    return out


def pooled(table, seed=7):
    """Frame AUC over `table` (the runs' `frames_of`) with a bootstrap interval over run × camera."""
    table = table.sort("run", "camera", "tick")
    y, s = table["positive"].to_numpy(), table["ad_score"].to_numpy()
    groups = (table["run"] + "/" + table["camera"].cast(pl.String)).to_numpy()
    names = sorted(set(groups))
    rng = np.random.default_rng(seed)
    index = {g: np.nonzero(groups == g)[0] for g in names}
    draws = []
    for _ in range(1000):
        pick = np.concatenate([index[names[i]] for i in rng.integers(0, len(names), len(names))])
        if 0 < y[pick].sum() < len(pick):
            draws.append(roc_auc_score(y[pick], s[pick]))
    return {"frames": int(len(y)), "positive": int(y.sum()), "frame_auc": float(roc_auc_score(y, s)), "frame_auc_ci95": [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]}


def model_summary(runs):
    runs = [pathlib.Path(r) for r in runs]
    frames = pl.concat([frames_of(r) for r in runs])
    out = pooled(frames)
    # Where the ranking fails: the same positives against the negatives showing no staged event
    # (a quiet plaza, as most of a real camera's day) and against those showing a protected or
    # out-of-scope one (what a lawful model must tell apart from an incident).
    shown = pl.col("kinds").list.len() > 0
    out["against_quiet"] = pooled(frames.filter(pl.col("positive") | ~shown))
    out["against_events"] = pooled(frames.filter(pl.col("positive") | shown))
    kinds, false_alerts, hours, alerts, disproportionate = {}, 0, 0.0, 0, 0
    per_run, anomalies = {}, []
    for run in runs:
        a = json.loads((run / "summary.json").read_text())["anomaly"]
        anomalies.append((run, a))
        per_run[run.name] = {"frame_auc": a["ad_frame_auc"], "positive_frames": a["positive_frames"]}
        false_alerts += a["false_alerts"]
        hours += a["camera_hours"]
        alerts += a["alerts"]
        disproportionate += a.get("disproportionate_alerts", 0)
        for k in a["by_kind"]:
            entry = kinds.setdefault(k["kind"], {"class": k["class"], "visible": 0, "alerted": 0})
            entry["visible"] += k["visible"]
            entry["alerted"] += k["alerted"]
    incident = [v for v in kinds.values() if v["class"] == "incident"]
    protected = [v for v in kinds.values() if v["class"] == "protected"]
    rate = lambda group: (sum(v["alerted"] for v in group) / max(sum(v["visible"] for v in group), 1)) if group else None
    count = lambda group: [sum(v["alerted"] for v in group), sum(v["visible"] for v in group)]
    out.update({
        "per_run": per_run, "alerts": alerts, "false_alerts": false_alerts, "camera_hours": hours,
        "false_alerts_per_camera_hour": false_alerts / hours if hours else None,
        "disproportionate_alerts": disproportionate,
        "incident_detection_rate": rate(incident), "protected_flag_rate": rate(protected),
        "incidents_detected": count(incident), "protected_flagged": count(protected),
        "by_kind": dict(sorted(kinds.items())),
        "operating_points": operating_points(anomalies),
    })
    out["by_kind_diagnosis"] = by_kind_diagnosis(runs, frames, {k: v["class"] for k, v in out["by_kind"].items()})
    return out


def operating_points(runs):
    """The operating points of `runs` (pairs of a run folder and its `summary.json`'s `anomaly`)
    pooled: a run's rates times its visible incidents and protected activities give counts,
    summed over the runs."""
    pooled, chosen = {}, set()
    hours = sum(a["camera_hours"] for _, a in runs)
    for run, a in runs:
        visible = {c: sum(k["visible"] for k in a["by_kind"] if k["class"] == c) for c in ("incident", "protected")}
        points = pl.read_parquet(run / "operating_points.parquet")
        for row in points.iter_rows(named=True):
            entry = pooled.setdefault(round(row["threshold"], 4), {"threshold": round(row["threshold"], 4), "incidents": 0, "incidents_visible": 0,
                                                                  "protected": 0, "protected_visible": 0, "false_alerts": 0, "alert_time_share": 0.0, "runs": 0})
            if row["chosen"]:
                chosen.add(round(row["threshold"], 4))
            entry["incidents"] += round((row["incident_recall"] or 0.0) * visible["incident"])
            entry["incidents_visible"] += visible["incident"]
            entry["protected"] += round((row["protected_flag_rate"] or 0.0) * visible["protected"])
            entry["protected_visible"] += visible["protected"]
            entry["false_alerts"] += row["false_alerts"]
            entry["alert_time_share"] += row["alert_time_share"] * a["camera_hours"]  # weighted by camera-time
            entry["runs"] += 1
    if len(chosen) > 1:
        raise SystemExit(f"the runs were alerted at different thresholds {sorted(chosen)}: pool one model's runs at one threshold")
    out = []
    for entry in (pooled[t] for t in sorted(pooled)):
        if entry["runs"] != len(runs):
            continue  # a run's own threshold, absent from the others' grids
        entry["chosen"] = entry["threshold"] in chosen
        entry["false_alerts_per_camera_hour"] = entry["false_alerts"] / hours if hours else None
        entry["alert_time_share"] = entry["alert_time_share"] / hours if hours else 0.0
        out.append(entry)
    return out


def operating_markdown(name, points):
    lines = [f"| {name}: threshold | incidents detected | protected flagged | protected ≤ ½ detected | false alerts / camera-hour | alert open (camera-time) |", "|---|---|---|---|---|---|"]
    for p in points:
        if p["alert_time_share"] == 0 and not p["chosen"]:
            continue
        rate = lambda k: p[k] / p[k + "_visible"] if p[k + "_visible"] else 0.0
        # Judged only where a protected activity was visible; no incident detected but one flagged fails.
        ok = "—" if p["protected_visible"] == 0 or (p["incidents"] == 0 and p["protected"] == 0) else ("yes" if rate("protected") <= rate("incidents") / 2 else "no")
        label = f"**{p['threshold']:g} (shipped)**" if p["chosen"] else f"{p['threshold']:g}"
        fa = "—" if p["false_alerts_per_camera_hour"] is None else f"{p['false_alerts_per_camera_hour']:.0f}"
        lines.append(f"| {label} | {p['incidents']}/{p['incidents_visible']} | {p['protected']}/{p['protected_visible']} | {ok} | {fa} | {p['alert_time_share']:.0%} |")
    return "\n".join(lines)


def diagnosis_markdown(models):
    """One row per kind: its class, each model's frame AUC on that kind's frames, then the masker's
    miss rate on its participants (the same masker and frames in every model's runs: checked),
    with the events and persons behind it. Fewer than `MIN_EVENTS` events: "few events"."""
    names = list(models)
    missed = [{k: (d["participant_frames_missed"], d["participant_frames"], d["participants"], d["events"]) for k, d in models[n]["by_kind_diagnosis"].items()} for n in names]
    if any(m != missed[0] for m in missed):
        raise SystemExit("the models' runs masked different frames: their participants' miss rates differ")
    lines = ["| kind (class) | " + " | ".join(f"{n}: frame AUC of its frames" for n in names) + " | participants missed by the masker: person-frames (persons, events) |",
             "|---|" + "---|" * len(names) + "---|"]
    for kind in sorted(missed[0], key=lambda k: ((TBDC_KINDS + LONG_CONTEXT).index(k) if k in TBDC_KINDS + LONG_CONTEXT else 99, k)):
        cls = models[names[0]]["by_kind_diagnosis"][kind]["class"].replace("_", " ")
        auc = lambda d: "—" if d["frame_auc"] is None else f"{d['frame_auc']:.2f} ({d['frames']} frames)"
        m, n, persons, events = missed[0][kind]
        few = "; few events" if events < MIN_EVENTS else ""
        cast = f"{m / n:.0%} of {n} ({persons} persons, {events} events{few})" if n else "not seen"
        lines.append(f"| {kind} ({cls}) | " + " | ".join(auc(models[x]["by_kind_diagnosis"][kind]) for x in names) + f" | {cast} |")
    return "\n".join(lines)


def cell(kind, entry):
    if entry is None or entry["visible"] == 0:
        return "not seen"
    text = f"{entry['alerted']}/{entry['visible']}"
    return text + (" (inconclusive)" if entry["visible"] < MIN_EVENTS else f" ({entry['alerted'] / entry['visible']:.0%})")


def markdown(models):
    names = list(models)
    lines = ["| held-out | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    row = lambda label, f: lines.append(f"| {label} | " + " | ".join(f(models[n]) for n in names) + " |")
    row("frame AUC, pooled (95 % CI over run × camera)", lambda m: f"**{m['frame_auc']:.3f}** ({m['frame_auc_ci95'][0]:.2f}–{m['frame_auc_ci95'][1]:.2f})")
    row("frames (positive)", lambda m: f"{m['frames']} ({m['positive']})")
    auc = lambda p: f"{p['frame_auc']:.3f} ({p['frame_auc_ci95'][0]:.2f}–{p['frame_auc_ci95'][1]:.2f})"
    row("frame AUC against frames showing no staged event (negatives)", lambda m: f"{auc(m['against_quiet'])} ({m['against_quiet']['frames'] - m['positive']})")
    row("frame AUC against frames showing a protected or out-of-scope event (negatives)", lambda m: f"{auc(m['against_events'])} ({m['against_events']['frames'] - m['positive']})")
    share = lambda pair: f"{pair[0]}/{pair[1]} ({pair[0] / pair[1]:.0%})" if pair[1] else "—"
    row("incidents detected (TBDC criterion, every incident kind)", lambda m: share(m["incidents_detected"]))
    row("protected activities flagged", lambda m: share(m["protected_flagged"]))
    row("protected flag rate ≤ ½ incident detection rate", lambda m: "—" if not (m["incidents_detected"][1] and m["protected_flagged"][1]) else ("yes" if m["protected_flag_rate"] <= m["incident_detection_rate"] / 2 else "no"))
    row("false alerts per camera-hour", lambda m: "—" if m["false_alerts_per_camera_hour"] is None else f"{m['false_alerts_per_camera_hour']:.0f}")
    row("disproportionate alerts (out of scope)", lambda m: str(m["disproportionate_alerts"]))
    kinds = sorted({k for m in models.values() for k in m["by_kind"]}, key=lambda k: ((TBDC_KINDS + LONG_CONTEXT).index(k) if k in TBDC_KINDS + LONG_CONTEXT else 99, k))
    for kind in kinds:
        cls = next(m["by_kind"][kind]["class"] for m in models.values() if kind in m["by_kind"])
        verb = {"incident": "detected", "protected": "flagged", "out_of_scope": "alerted on"}[cls]
        row(f"{kind} ({cls.replace('_', ' ')}): {verb}", lambda m, kind=kind: cell(kind, m["by_kind"].get(kind)))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", action="append", required=True, metavar=("NAME", "RUN"))
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    models = {entry[0]: model_summary(entry[1:]) for entry in args.model}
    print(markdown(models))
    for name, m in models.items():
        print()
        print(operating_markdown(name, m["operating_points"]))
    print()
    print(diagnosis_markdown(models))
    if args.json:
        args.json.write_text(json.dumps(models, indent=2) + "\n")


if __name__ == "__main__":
    main()
