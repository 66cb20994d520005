//! `crowdtwin place`: chooses cameras from candidate views to reach a coverage target with
//! the fewest, or the best coverage within a budget, scored by the coverage model of
//! [`crate::coverage`].

use crate::coverage::{assess, Assessment, SiteModel};
use anyhow::Context;
use crowdtwin_core::scenario::{CameraSpec, PathSegment, Scenario};
use crowdtwin_reports::coverage::{self, View};
use crowdtwin_reports::output::write_atomic;
use crowdtwin_reports::placement::{self, Goal, Instance, Placement};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where candidate views come from.
#[derive(Clone, Debug)]
pub enum Candidates {
    /// Generated from the site's façades and poles.
    Auto,
    /// A RON file: a list of camera specs (as in a scenario's `cameras`).
    File(PathBuf),
}

/// What `crowdtwin place` was asked.
pub struct PlaceOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Candidate views.
    pub candidates: Candidates,
    /// DORI level (1–4) and share of the weight to reach, e.g. observe:0.9.
    pub target: (u8, f64),
    /// At most this many cameras: maximise the share instead.
    pub budget: Option<usize>,
    /// Largest allowed difference between districts' covered shares.
    pub equity: Option<f64>,
    /// Weigh cells by footfall instead of area.
    pub by_footfall: bool,
    /// Run the exact solver only up to this many candidates (it is exponential at worst).
    pub exact_max_candidates: usize,
    /// Branch-and-bound nodes the exact solver may explore (a deterministic budget).
    pub node_limit: u64,
    /// Output folder.
    pub out: PathBuf,
    /// Also write the integer program as MPS here (any solver can check it).
    pub mps: Option<PathBuf>,
    /// Also solve the program with HiGHS (Python `highspy`), within this many seconds.
    pub highs_seconds: Option<f64>,
}

/// HiGHS's answer to the same program (`tools/placement/highs.py` on the MPS file).
#[derive(Clone, Debug, Serialize)]
pub struct HighsOutcome {
    /// HiGHS's version.
    pub version: String,
    /// Its model status (`Optimal`, `Time limit reached`, …).
    pub status: String,
    /// Its placement, scored like the others (none when it found no feasible one).
    pub placement: Option<Placement>,
    /// Its proven bound: cameras (target) or share (budget).
    pub bound: f64,
    /// Its relative gap between placement and bound, as HiGHS states it.
    pub gap: Option<f64>,
    /// Seconds HiGHS ran.
    pub seconds: f64,
    /// Whether it proved its placement optimal.
    pub optimal: bool,
}

/// Solves `mps` (the program of `instance` and `goal`) with HiGHS in the project's Python
/// environment within `seconds`, starting from the placement `start` (empty: none).
fn solve_with_highs(mps: &Path, instance: &Instance, goal: Goal, seconds: f64, start: &[usize]) -> anyhow::Result<HighsOutcome> {
    let python = crowdtwin_core::python::interpreter().map_err(anyhow::Error::msg)?;
    let output = std::process::Command::new(python)
        .arg(crate::project_file(Path::new("tools/placement/highs.py")))
        .arg(mps)
        .args(["--time-limit", &seconds.to_string(), "--threads", "1"])
        .args(if start.is_empty() { Vec::new() } else { vec!["--start".to_string(), start.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")] })
        .output()
        .with_context(|| format!("starting tools/placement/highs.py on {}", mps.display()))?;
    anyhow::ensure!(output.status.success(), "HiGHS failed on {}: {}", mps.display(), String::from_utf8_lossy(&output.stderr));
    // HiGHS prints its banner on standard output first: the answer is the last line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer: serde_json::Value = serde_json::from_str(stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default())
        .with_context(|| format!("HiGHS's answer on {}: {stdout}", mps.display()))?;
    let scale = match goal {
        Goal::Target(_) => 1.0,
        Goal::Budget(_) => 1.0 / instance.total.max(1e-12),
    };
    let placement = answer["chosen"].as_array().map(|c| placement::placement(instance, c.iter().filter_map(|v| v.as_u64()).map(|v| v as usize).collect(), goal));
    let status = answer["status"].as_str().unwrap_or_default().to_string();
    // HiGHS may stop at its time limit after its own bound already met its incumbent (it rounds
    // the bound up to whole cameras only when it reports): that answer is proven optimal too.
    let closed = placement.is_some() && answer["gap"].as_f64().is_some_and(|g| g <= 1e-6);
    Ok(HighsOutcome {
        version: answer["highs"].as_str().unwrap_or_default().to_string(),
        optimal: status == "Optimal" || closed,
        status,
        placement,
        bound: answer["bound"].as_f64().unwrap_or(f64::NAN) * scale,
        gap: answer["gap"].as_f64(),
        seconds: answer["seconds"].as_f64().unwrap_or(f64::NAN),
    })
}

/// Reads a RON list of candidate camera specs; each passes the checks a scenario's camera does
/// (finite pose, ranges, an fps that divides `tick_hz`).
///
/// # Errors
/// An unreadable file, a syntax error or a camera that fails a check, naming file, line, column
/// and field (`[3].position`).
pub fn load_candidates(path: &Path, tick_hz: u32) -> anyhow::Result<Vec<CameraSpec>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the candidates", path.display()))?;
    let check = |cameras: &Vec<CameraSpec>| {
        cameras.iter().enumerate().try_for_each(|(i, c)| c.validate(tick_hz).map_err(|(field, message)| ([vec![PathSegment::Index(i)], field].concat(), message)))
    };
    Ok(crowdtwin_core::scenario::parse_checked(&text, path, check)?)
}

/// Parses `LEVEL:SHARE` (e.g. `observe:0.9`).
pub fn parse_target(text: &str) -> Result<(u8, f64), String> {
    let (level, share) = text.split_once(':').ok_or_else(|| format!("`{text}` is not LEVEL:SHARE (e.g. observe:0.9)"))?;
    let level = coverage::level_named(level).ok_or_else(|| format!("`{level}` is not a DORI level (detect, observe, recognise, identify)"))?;
    let share: f64 = share.parse().map_err(|_| format!("`{share}` is not a share between 0 and 1"))?;
    if !(share > 0.0 && share <= 1.0) {
        return Err(format!("`{share}` is not a share above 0 and at most 1"));
    }
    Ok((level, share))
}

/// What `place` decided.
#[derive(Clone, Debug, Serialize)]
pub struct PlaceOutcome {
    /// Candidate views considered.
    pub candidates: usize,
    /// Cameras of the scenario as written.
    pub cameras_before: usize,
    /// Cameras placed.
    pub after_cameras: usize,
    /// Merged elements in the program.
    pub elements: usize,
    /// The greedy's placement and its gap to the best bound known.
    pub greedy: Placement,
    /// HiGHS's answer to the same program, when asked (`--highs`).
    pub highs: Option<HighsOutcome>,
    /// The greedy's gap to the best bound (see `placement::gap`).
    pub greedy_gap: f64,
    /// Whether the exact solver ran (at most `--exact-max` candidates).
    pub exact_ran: bool,
    /// The exact solver's placement, when it ran and found one within its node budget.
    pub exact: Option<Placement>,
    /// The LP relaxation's bound.
    pub lp_bound: Option<f64>,
    /// The bound microlp's branch and bound proved (at least the LP bound).
    pub exact_bound: Option<f64>,
    /// The best proven bound (the optimum when proven optimal): the gaps are measured against it.
    pub bound: Option<f64>,
    /// The exact solver's gap to the best bound (0 when its answer is proven optimal).
    pub exact_gap: Option<f64>,
    /// Whether the written placement is proven optimal.
    pub proven_optimal: bool,
    /// The placement written out: `exact` or `greedy`.
    pub chosen_by: String,
    /// Equity gap of the written placement (largest minus smallest district share).
    pub equity_gap: f64,
    /// Seconds: candidate coverage, greedy, exact.
    pub seconds: [f64; 3],
    /// Before (the scenario's own cameras) and after.
    pub before: Assessment,
    /// After.
    pub after: Assessment,
}

/// Runs the placement and writes `DIR/scenario.ron`, `DIR/placement.json` and the maps.
pub fn place(options: &PlaceOptions) -> anyhow::Result<PlaceOutcome> {
    let scenario = crate::scenario::load_scenario(&options.scenario, None, None)?;
    // A candidate file is checked before minutes of crowd simulation, not after.
    let from_file = match &options.candidates {
        Candidates::Auto => None,
        Candidates::File(path) => Some(load_candidates(path, scenario.tick_hz)?),
    };
    let site = SiteModel::of(&scenario)?;
    let candidates = from_file.unwrap_or_else(|| placement::auto_candidates(&site.layout, &scenario.cameras[0], 8.0));
    anyhow::ensure!(!candidates.is_empty(), "no candidate views");
    let started = Instant::now();
    let (level, share) = options.target;
    let views: Vec<View> = candidates.iter().map(View::of).collect();
    let cells = coverage::cells_seen_by_each(&site.grid, &views, &site.occluders, scenario.placement.head_height_m, level);
    let weights: Vec<f64> = (0..site.grid.walkable.len())
        .map(|i| if !site.grid.walkable[i] { 0.0 } else if options.by_footfall { site.footfall[i] } else { 1.0 })
        .collect();
    // The same district rule as the coverage summary.
    let rects: Vec<[f32; 4]> = scenario.placement.districts.iter().map(|d| [d.rect.0, d.rect.1, d.rect.2, d.rect.3]).collect();
    let district_of: Vec<Option<usize>> = (0..site.grid.walkable.len())
        .map(|i| {
            let [x, z] = site.grid.centre(i);
            coverage::district_at(&rects, x, z)
        })
        .collect();
    let instance = Instance::new(&cells, &weights, &district_of, scenario.placement.districts.len());
    anyhow::ensure!(
        instance.total > 0.0,
        "nothing to cover: the walkable area has no {}",
        if options.by_footfall { "footfall (nobody walks in the scenario's time)" } else { "cells" }
    );
    if options.budget == Some(0) {
        anyhow::bail!("--budget must be at least 1 camera");
    }
    let coverage_s = started.elapsed().as_secs_f64();
    let goal = match options.budget {
        Some(n) => Goal::Budget(n),
        None => Goal::Target(share),
    };
    let started = Instant::now();
    let greedy = placement::greedy(&instance, goal);
    let greedy_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let run_exact = candidates.len() <= options.exact_max_candidates;
    let exact = if run_exact {
        Some(placement::exact(&instance, goal, options.equity, options.node_limit, Some(&greedy.chosen)))
    } else {
        None
    };
    let exact = match exact.transpose() {
        Ok(exact) => exact,
        Err(error) if !greedy.meets_goal => anyhow::bail!("{error}: the best the greedy reaches is {:.1} % with {} cameras", greedy.share * 100.0, greedy.chosen.len()),
        Err(_) if options.equity.is_some() => anyhow::bail!(
            "no placement of the candidates reaches the goal within the equity limit {} (without it the greedy reaches {:.1} % with {} cameras)",
            options.equity.unwrap_or_default(),
            greedy.share * 100.0,
            greedy.chosen.len()
        ),
        Err(error) => anyhow::bail!("{error}"),
    };
    let exact_s = started.elapsed().as_secs_f64();
    let mps = (options.mps.is_some() || options.highs_seconds.is_some()).then(|| placement::write_mps(&instance, goal, options.equity));
    if let (Some(path), Some(text)) = (&options.mps, &mps) {
        write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    }
    let highs = match (options.highs_seconds, &mps) {
        (Some(seconds), Some(text)) => {
            let path = match &options.mps {
                Some(path) => path.clone(),
                None => {
                    let path = std::env::temp_dir().join(format!("crowdtwin-placement-{}.mps", std::process::id()));
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    path
                }
            };
            // Warm-started like microlp: with the best placement known so far that meets the goal.
            let known = exact.as_ref().and_then(|e| e.placement.clone()).filter(|p| p.meets_goal).or(Some(greedy.clone()).filter(|g| g.meets_goal));
            let answer = solve_with_highs(&path, &instance, goal, seconds, known.map(|p| p.chosen).unwrap_or_default().as_slice());
            if options.mps.is_none() {
                let _ = std::fs::remove_file(&path);
            }
            Some(answer?)
        }
        _ => None,
    };
    let bound = match &exact {
        Some(e) => Some(e.bound),
        None => placement::lp_bound(&instance, goal, options.equity).ok(),
    };
    // The tightest proven bound of either solver.
    let bound = match (bound, highs.as_ref().map(|h| h.bound).filter(|b| b.is_finite())) {
        (Some(b), Some(h)) => Some(match goal {
            Goal::Target(_) => b.max(h),
            Goal::Budget(_) => b.min(h),
        }),
        (b, h) => b.or(h),
    };
    let lp_bound = exact.as_ref().map(|e| e.lp_bound).or(bound);
    let exact_placement = exact.as_ref().and_then(|e| e.placement.clone());
    let greedy_allowed = options.equity.is_none_or(|g| instance.equity_gap(&greedy.chosen) <= g + 1e-9);
    // A greedy that breaks the equity limit answers another problem: no gap to the bound.
    let greedy_gap = if greedy_allowed { bound.map_or(f64::NAN, |b| placement::gap(goal, &greedy, b)) } else { f64::NAN };
    let exact_gap = exact_placement.as_ref().zip(bound).map(|(e, b)| placement::gap(goal, e, b));
    let exact_better = |e: &Placement| match goal {
        Goal::Target(_) => e.chosen.len() <= greedy.chosen.len(),
        Goal::Budget(_) => e.share + 1e-12 >= greedy.share,
    };
    let (written, chosen_by) = match &exact_placement {
        Some(e) if e.meets_goal && (exact_better(e) || !greedy_allowed) => (e.clone(), "exact"),
        _ if greedy_allowed => (greedy.clone(), "greedy"),
        _ if !run_exact => anyhow::bail!(
            "the greedy placement breaks the equity limit and the exact solver did not run ({} candidates > --exact-max {})",
            candidates.len(),
            options.exact_max_candidates
        ),
        _ => anyhow::bail!("the greedy placement breaks the equity limit and the exact solver found none within {} nodes (raise --nodes)", options.node_limit),
    };
    // HiGHS's placement is written when it keeps the limits and beats the others.
    let highs_placement = highs.as_ref().and_then(|h| h.placement.clone()).filter(|h| h.meets_goal && options.equity.is_none_or(|g| instance.equity_gap(&h.chosen) <= g + 1e-9));
    let (written, chosen_by) = match highs_placement {
        Some(h) if (match goal { Goal::Target(_) => h.chosen.len() < written.chosen.len(), Goal::Budget(_) => h.share > written.share + 1e-12 }) => (h, "highs"),
        _ => (written, chosen_by),
    };
    // The program's y equal the coverage under an equity limit, so this holds; checked anyway,
    // since a placement that breaks the limit must never be written as if it kept it.
    if let Some(limit) = options.equity {
        let gap = instance.equity_gap(&written.chosen);
        anyhow::ensure!(gap <= limit + 1e-6, "the {chosen_by} placement's districts differ by {gap:.3}, beyond the equity limit {limit}");
    }
    anyhow::ensure!(
        written.meets_goal,
        "the candidates cannot reach {:.0} % at {}: the best is {:.1} % with {} cameras",
        share * 100.0,
        coverage::DORI[level as usize - 1].0,
        written.share * 100.0,
        written.chosen.len()
    );
    let chosen: Vec<CameraSpec> = written
        .chosen
        .iter()
        .enumerate()
        .map(|(k, &c)| CameraSpec { id: format!("placed-{}", k + 1), ..candidates[c].clone() })
        .collect();
    let before = assess(&scenario, &site, &scenario.cameras)?;
    let after = assess(&scenario, &site, &chosen)?;
    let mut placed = scenario.clone();
    placed.name = format!("{}-placed", scenario.name);
    placed.cameras = chosen;
    placed.check().map_err(|(field, message)| anyhow::anyhow!("the placed scenario is invalid at `{field}`: {message}"))?;
    let outcome = PlaceOutcome {
        candidates: candidates.len(),
        cameras_before: scenario.cameras.len(),
        after_cameras: placed.cameras.len(),
        elements: instance.weights.len(),
        greedy_gap,
        // Proven when the solver says so, or when the written placement meets the bound.
        proven_optimal: (exact.as_ref().is_some_and(|e| e.optimal) && chosen_by == "exact")
            || (highs.as_ref().is_some_and(|h| h.optimal) && chosen_by == "highs")
            || bound.is_some_and(|b| placement::gap(goal, &written, b) <= 1e-9),
        exact_gap,
        chosen_by: chosen_by.to_string(),
        equity_gap: instance.equity_gap(&written.chosen),
        greedy,
        highs,
        exact_ran: run_exact,
        exact: exact_placement,
        lp_bound,
        exact_bound: exact.as_ref().map(|e| e.bound),
        bound,
        seconds: [coverage_s, greedy_s, exact_s],
        before,
        after,
    };
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    // The written scenario lives elsewhere: an imported site's map is named by its full path.
    let ron = placed.portable_ron().map_err(anyhow::Error::msg)?;
    let goal_words = match goal {
        Goal::Target(target) => format!("{:.0} % at {} or better", target * 100.0, coverage::DORI[level as usize - 1].0),
        Goal::Budget(n) => format!("the most seen at {} or better with at most {n}", coverage::DORI[level as usize - 1].0),
    };
    let header = format!(
        "// Written by `crowdtwin place` from {}: {} cameras chosen ({}) from {} candidates for {goal_words}.\n",
        options.scenario.display(),
        placed.cameras.len(),
        chosen_by,
        candidates.len(),
    );
    write_atomic(&options.out.join("scenario.ron"), format!("{header}{ron}\n").as_bytes()).context("writing scenario.ron")?;
    outcome.before.write_maps(&options.out, "coverage_before")?;
    outcome.after.write_maps(&options.out, "coverage_after")?;
    let json = serde_json::json!({
        "scenario": options.scenario,
        "goal": match goal { Goal::Target(s) => serde_json::json!({"target_share": s}), Goal::Budget(n) => serde_json::json!({"budget": n}) },
        "level": coverage::DORI[level as usize - 1].0,
        "weight": if options.by_footfall { "footfall" } else { "area" },
        "equity_max_gap": options.equity,
        "outcome": outcome,
        "chosen_cameras": placed.cameras,
    });
    write_atomic(&options.out.join("placement.json"), serde_json::to_string_pretty(&json)?.as_bytes()).context("writing placement.json")?;
    let html = placement_html(options, &placed, &outcome, goal, level);
    write_atomic(&options.out.join("report.html"), html.as_bytes()).context("writing report.html")?;
    Ok(outcome)
}

/// `report.html` of a placement: the solver's result, the chosen cameras, and the coverage
/// before and after, with both maps.
fn placement_html(options: &PlaceOptions, placed: &Scenario, o: &PlaceOutcome, goal: Goal, level: u8) -> String {
    use crowdtwin_reports::html::{coverage_section, escape, percent_with, STYLE};
    use std::fmt::Write;
    let level_name = coverage::DORI[level as usize - 1].0;
    let weight = if options.by_footfall { "footfall (person-seconds)" } else { "area" };
    let goal_text = match goal {
        Goal::Target(share) => format!("the fewest cameras that see {:.0} % of the walkable {weight} at {level_name} or better", share * 100.0),
        Goal::Budget(n) => format!("the largest share of the walkable {weight} seen at {level_name} or better with at most {n} cameras"),
    };
    let placement_cell = |p: Option<&Placement>| p.map_or("—".to_string(), |p| format!("{} cameras, {} of the {weight}", p.chosen.len(), percent_with(Some(p.share), 1)));
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>crowdtwin placement — {name}</title><style>\n{STYLE}</style></head><body>\
         <h1>Camera placement — scenario “{name}”</h1><p class=\"note\">Coverage here is geometry on the simulated site: a cell counts as seen \
         when a camera's line of sight to a head above it is clear. Crowds hiding each other, weather and light are not in it; run the placed \
         scenario (<code>crowdtwin run scenario.ron</code>) to measure those.</p><h2>What was asked and found</h2><table>\
         <tr><td>goal</td><td>{}</td></tr><tr><td>candidate views</td><td>{} ({} merged elements)</td></tr>\
         <tr><td>greedy</td><td>{}</td></tr><tr><td>exact (integer program, good_lp + microlp)</td><td>{}</td></tr>{}\
         <tr><td>best proven bound</td><td>{}</td></tr><tr><td>greedy's gap to the bound</td><td>{}</td></tr>\
         <tr><td>written</td><td>the {} placement{}</td></tr><tr><td>district equity gap (limit)</td><td>{:.3} ({})</td></tr>\
         <tr><td>seconds: scoring candidates, greedy, exact</td><td>{:.2}, {:.3}, {:.2}</td></tr></table>",
        goal_text,
        o.candidates,
        o.elements,
        placement_cell(Some(&o.greedy)),
        placement_cell(o.exact.as_ref()),
        o.highs.as_ref().map_or(String::new(), |h| format!(
            "<tr><td>HiGHS {} (the same program, as MPS)</td><td>{} — {}, bound {:.3}, {:.2} s</td></tr>",
            escape(&h.version),
            placement_cell(h.placement.as_ref()),
            escape(&h.status),
            h.bound,
            h.seconds
        )),
        o.bound.map_or("—".into(), |b| format!("{b:.3}")),
        if o.greedy_gap.is_finite() { percent_with(Some(o.greedy_gap), 1) } else { "—".into() },
        o.chosen_by,
        if o.proven_optimal { ", proven optimal" } else { "" },
        o.equity_gap,
        options.equity.map_or("none".into(), |g| format!("{g}")),
        o.seconds[0],
        o.seconds[1],
        o.seconds[2],
        name = escape(&placed.name),
    );
    html.push_str("<h2>Chosen cameras</h2><table><tr><th>id</th><th>position (x, y, z) m</th><th>yaw</th><th>tilt</th><th>field of view</th><th>sensor</th></tr>");
    for c in &placed.cameras {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>({:.1}, {:.1}, {:.1})</td><td>{:.0}°</td><td>{:.0}°</td><td>{:.0}°</td><td>{}×{}</td></tr>",
            escape(&c.id),
            c.position.0,
            c.position.1,
            c.position.2,
            c.yaw_deg,
            c.pitch_deg,
            c.hfov_deg,
            c.sensor_resolution.0,
            c.sensor_resolution.1
        );
    }
    html.push_str("</table>");
    html.push_str(&coverage_section(&format!("Before: the scenario's {} cameras", o.cameras_before), &o.before.run, &o.before.map_png));
    html.push_str(&coverage_section(&format!("After: the {} cameras placed", o.after_cameras), &o.after.run, &o.after.map_png));
    html.push_str("</body></html>");
    html
}
