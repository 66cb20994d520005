//! Choosing cameras: from candidate views (mount points, pan, tilt, field of view), the fewest
//! that see a target share of the walkable area at a DORI level, or the best share within a
//! budget — by a greedy heuristic and by an exact integer program (good_lp with microlp),
//! with the greedy's distance from the optimum (or from the LP bound) reported.
//!
//! Cells covered by the same set of candidates (and in the same district) are merged into one
//! weighted element first, so the program has one variable per candidate and one per element.

use crowdtwin_core::scenario::CameraSpec;
use crowdtwin_core::site::SiteLayout;
use good_lp::{constraint, microlp, variable, Expression, ProblemVariables, SolverModel, Variable};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the placement must achieve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Goal {
    /// Cover at least this share of the total weight with the fewest cameras.
    Target(f64),
    /// Cover the most weight with at most this many cameras.
    Budget(usize),
}

/// A covering instance: per candidate the cells it covers; per cell its weight and district.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Element weights (merged cells).
    pub weights: Vec<f64>,
    /// Element district (index into the districts, or `None`).
    pub districts: Vec<Option<usize>>,
    /// Per candidate, the elements it covers.
    pub covers: Vec<Vec<usize>>,
    /// Total weight of all cells (covered by some candidate or not).
    pub total: f64,
    /// Total weight per district.
    pub district_totals: Vec<f64>,
}

impl Instance {
    /// Builds an instance from per-candidate cell lists, per-cell weights and districts.
    pub fn new(cells_per_candidate: &[Vec<u32>], weights: &[f64], district_of: &[Option<usize>], districts: usize) -> Self {
        let mut covered_by: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (candidate, cells) in cells_per_candidate.iter().enumerate() {
            for &cell in cells {
                covered_by.entry(cell).or_default().push(candidate);
            }
        }
        let mut elements: BTreeMap<(Vec<usize>, Option<usize>), f64> = BTreeMap::new();
        for (cell, candidates) in covered_by {
            let w = weights[cell as usize];
            if w > 0.0 {
                *elements.entry((candidates, district_of[cell as usize])).or_default() += w;
            }
        }
        let mut instance = Instance {
            weights: Vec::new(),
            districts: Vec::new(),
            covers: vec![Vec::new(); cells_per_candidate.len()],
            total: weights.iter().sum(),
            district_totals: vec![0.0; districts],
        };
        for (cell, &w) in weights.iter().enumerate() {
            if let Some(d) = district_of[cell] {
                instance.district_totals[d] += w;
            }
        }
        for (index, ((candidates, district), weight)) in elements.into_iter().enumerate() {
            instance.weights.push(weight);
            instance.districts.push(district);
            for c in candidates {
                instance.covers[c].push(index);
            }
        }
        instance
    }

    /// Weight covered by a set of candidates.
    pub fn covered(&self, chosen: &[usize]) -> f64 {
        let mut seen = vec![false; self.weights.len()];
        for &c in chosen {
            self.covers[c].iter().for_each(|&e| seen[e] = true);
        }
        seen.iter().zip(&self.weights).filter(|(s, _)| **s).map(|(_, w)| w).sum()
    }

    /// Share of each district's weight covered by `chosen`.
    pub fn district_shares(&self, chosen: &[usize]) -> Vec<f64> {
        let mut seen = vec![false; self.weights.len()];
        for &c in chosen {
            self.covers[c].iter().for_each(|&e| seen[e] = true);
        }
        (0..self.district_totals.len())
            .map(|d| {
                let covered: f64 = (0..self.weights.len()).filter(|&e| seen[e] && self.districts[e] == Some(d)).map(|e| self.weights[e]).sum();
                if self.district_totals[d] > 0.0 { covered / self.district_totals[d] } else { 0.0 }
            })
            .collect()
    }

    /// Largest minus smallest district share (0 with fewer than two districts).
    pub fn equity_gap(&self, chosen: &[usize]) -> f64 {
        let shares: Vec<f64> = self.district_shares(chosen).into_iter().zip(&self.district_totals).filter(|(_, t)| **t > 0.0).map(|(s, _)| s).collect();
        if shares.len() < 2 {
            return 0.0;
        }
        shares.iter().cloned().fold(f64::MIN, f64::max) - shares.iter().cloned().fold(f64::MAX, f64::min)
    }
}

/// A set of chosen candidates and what it achieves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placement {
    /// Chosen candidates (indices), ascending.
    pub chosen: Vec<usize>,
    /// Share of the total weight covered.
    pub share: f64,
    /// Whether the goal (target share) is met; always true for a budget.
    pub meets_goal: bool,
}

/// The placement of the candidates `chosen`: their covered share and whether it meets `goal`
/// (what any solver's answer is scored by).
pub fn placement(instance: &Instance, mut chosen: Vec<usize>, goal: Goal) -> Placement {
    chosen.sort_unstable();
    let share = if instance.total > 0.0 { instance.covered(&chosen) / instance.total } else { 0.0 };
    let meets_goal = match goal {
        Goal::Target(target) => share + 1e-9 >= target,
        Goal::Budget(n) => chosen.len() <= n,
    };
    Placement { chosen, share, meets_goal }
}

/// Greedy: repeatedly adds the candidate covering the most uncovered weight (ties: the lowest
/// index) until the target is met, the budget spent, or nothing adds weight.
pub fn greedy(instance: &Instance, goal: Goal) -> Placement {
    let mut seen = vec![false; instance.weights.len()];
    let mut chosen = Vec::new();
    let mut covered = 0.0;
    loop {
        match goal {
            Goal::Target(target) if covered + 1e-9 >= target * instance.total => break,
            Goal::Budget(n) if chosen.len() >= n => break,
            _ => {}
        }
        let gain = |c: usize| instance.covers[c].iter().filter(|&&e| !seen[e]).map(|&e| instance.weights[e]).sum::<f64>();
        let best = (0..instance.covers.len()).filter(|c| !chosen.contains(c)).map(|c| (c, gain(c))).fold(None, |best: Option<(usize, f64)>, (c, g)| match best {
            Some((_, bg)) if bg >= g => best,
            _ => Some((c, g)),
        });
        match best {
            Some((c, g)) if g > 0.0 => {
                chosen.push(c);
                covered += g;
                instance.covers[c].iter().for_each(|&e| seen[e] = true);
            }
            _ => break,
        }
    }
    placement(instance, chosen, goal)
}

/// The exact solver's answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exact {
    /// Its placement: optimal when `optimal`, else the best found within the node budget.
    pub placement: Option<Placement>,
    /// The LP relaxation's bound: a lower bound on cameras (target) or an upper bound on the
    /// share (budget).
    pub lp_bound: f64,
    /// The best proven bound (at least as tight as the LP bound).
    pub bound: f64,
    /// Whether the placement is proven optimal.
    pub optimal: bool,
}

/// Builds the covering program: x per candidate (binary, or in [0, 1] for the relaxation),
/// y per element in [0, 1] with y ≤ Σ x over the candidates covering it; the goal and, with
/// `equity`, share(d₁) − share(d₂) ≤ equity for every pair of districts. Solved by microlp
/// within `node_limit` branch-and-bound nodes (deterministic, unlike a time limit). Returns
/// the candidates' values (none when no incumbent was found), the proven bound on the
/// objective, and whether the answer is proven optimal.
/// `warm` seeds the search with a known placement (microlp's variables are positional, so
/// the relaxation's variables name the integer program's).
fn solve_program(instance: &Instance, goal: Goal, equity: Option<f64>, integer: bool, node_limit: u64, warm: Option<(&[microlp::Variable], &[usize])>) -> Result<(Option<Vec<f64>>, f64, bool, Vec<microlp::Variable>), String> {
    let mut vars = ProblemVariables::new();
    let x: Vec<Variable> = (0..instance.covers.len()).map(|_| vars.add(if integer { variable().binary() } else { variable().clamp(0, 1) })).collect();
    let y: Vec<Variable> = (0..instance.weights.len()).map(|_| vars.add(variable().clamp(0, 1))).collect();
    let covered: Expression = y.iter().zip(&instance.weights).map(|(v, w)| *w * *v).sum();
    let cameras: Expression = x.iter().copied().sum();
    let mut model = match goal {
        Goal::Target(_) => vars.minimise(cameras.clone()).using(microlp),
        Goal::Budget(_) => vars.maximise(covered.clone()).using(microlp),
    };
    let mut covering: Vec<Vec<Variable>> = vec![Vec::new(); instance.weights.len()];
    for (c, elements) in instance.covers.iter().enumerate() {
        elements.iter().for_each(|&e| covering[e].push(x[c]));
    }
    for (e, candidates) in covering.iter().enumerate() {
        let sum: Expression = candidates.iter().copied().sum();
        model.add_constraint(constraint!(y[e] - sum <= 0));
    }
    match goal {
        Goal::Target(target) => {
            model.add_constraint(constraint!(covered.clone() >= target * instance.total));
        }
        Goal::Budget(n) => {
            model.add_constraint(constraint!(cameras.clone() <= n as f64));
        }
    }
    if let Some(gap) = equity {
        // With an equity limit y must be exactly "covered": a y left below what the chosen
        // cameras see would let the limit hold on paper only.
        for (e, candidates) in covering.iter().enumerate() {
            for &x_c in candidates {
                model.add_constraint(constraint!(y[e] - x_c >= 0));
            }
        }
        let share = |d: usize| -> Expression {
            let total = instance.district_totals[d];
            (0..instance.weights.len()).filter(|&e| instance.districts[e] == Some(d)).map(|e| (instance.weights[e] / total) * y[e]).sum()
        };
        let live: Vec<usize> = (0..instance.district_totals.len()).filter(|&d| instance.district_totals[d] > 0.0).collect();
        for &a in &live {
            for &b in &live {
                if a != b {
                    model.add_constraint(constraint!(share(a) - share(b) <= gap));
                }
            }
        }
    }
    let mut options = microlp::SolveOptions::default();
    options.node_limit = Some(node_limit);
    if let Some((variables, chosen)) = warm.filter(|(v, _)| v.len() == x.len() + y.len()) {
        let mut covered = vec![false; instance.weights.len()];
        chosen.iter().for_each(|&c| instance.covers[c].iter().for_each(|&e| covered[e] = true));
        let values = (0..x.len()).map(|c| chosen.contains(&c)).chain(covered);
        options.warm_start = Some(variables.iter().copied().zip(values.map(|v| f64::from(u8::from(v)))).collect());
    }
    let outcome = model.as_inner().solve_with(options).map_err(|e| match e {
        microlp::Error::Infeasible => "no placement of the candidates reaches the goal".to_string(),
        other => format!("the solver failed: {other}"),
    })?;
    let scale = match goal {
        Goal::Target(_) => 1.0,
        Goal::Budget(_) => 1.0 / instance.total.max(1e-12),
    };
    match outcome.into_solution() {
        Ok(solution) => {
            let optimal = solution.termination_reason() == microlp::TerminationReason::ProvenOptimal;
            let variables: Vec<microlp::Variable> = solution.iter().map(|(v, _)| v).collect();
            let values: Vec<f64> = solution.iter().take(x.len()).map(|(_, v)| v).collect();
            let bound = solution.stats().best_bound.unwrap_or(solution.objective()) * scale;
            Ok((Some(values), if optimal { solution.objective() * scale } else { bound }, optimal, variables))
        }
        // The node budget ran out before any incumbent: only the bound is known.
        Err(interrupted) => Ok((None, interrupted.stats().best_bound.map_or(f64::NAN, |b| b * scale), false, Vec::new())),
    }
}

/// The LP relaxation's bound (fewest cameras, possibly fractional; or the largest share).
pub fn lp_bound(instance: &Instance, goal: Goal, equity: Option<f64>) -> Result<f64, String> {
    solve_program(instance, goal, equity, false, 0, None).map(|(_, bound, _, _)| bound)
}

/// The exact solver: branch and bound within `node_limit` nodes. `None` placement when no
/// incumbent was found within the budget.
/// `warm`, e.g. the greedy's placement, seeds the search.
pub fn exact(instance: &Instance, goal: Goal, equity: Option<f64>, node_limit: u64, warm: Option<&[usize]>) -> Result<Exact, String> {
    let (_, lp_bound, _, variables) = solve_program(instance, goal, equity, false, 0, None)?;
    let (values, bound, optimal, _) = solve_program(instance, goal, equity, true, node_limit, warm.map(|w| (variables.as_slice(), w)))?;
    let placement = values.map(|values| placement(instance, values.iter().enumerate().filter(|(_, v)| **v > 0.5).map(|(c, _)| c).collect(), goal));
    // The tighter of the LP bound and the search's own.
    let bound = match goal {
        Goal::Target(_) => if bound.is_nan() { lp_bound } else { bound.max(lp_bound) },
        Goal::Budget(_) => if bound.is_nan() { lp_bound } else { bound.min(lp_bound) },
    };
    Ok(Exact { placement, lp_bound, bound, optimal })
}

/// The integer program [`exact`] solves, in free MPS format, so that any solver can check it
/// (HiGHS, CBC, Gurobi, CPLEX read it): binary `x<c>` per candidate (between the INTORG/INTEND
/// markers, and `BV` bounded), `y<e>` in [0, 1] per merged element; rows `cover<e>`
/// (y − Σ x ≤ 0), `target` (Σ w·y ≥ share × total weight) or `budget` (Σ x ≤ n), and with
/// `equity` the rows `exact<e>_<c>` (y − x ≥ 0) and `equity<a>_<b>` (share(a) − share(b) ≤ gap).
/// The objective `cameras` (minimised, target) or `covered` (maximised, budget: the covered
/// weight; ÷ the total weight is the share). Numbers are written with Rust's shortest exact
/// decimal form, so the file holds the very program solved here.
pub fn write_mps(instance: &Instance, goal: Goal, equity: Option<f64>) -> String {
    use std::fmt::Write;
    let (objective, sense) = match goal {
        Goal::Target(_) => ("cameras", "MIN"),
        Goal::Budget(_) => ("covered", "MAX"),
    };
    let mut covering: Vec<Vec<usize>> = vec![Vec::new(); instance.weights.len()];
    for (c, elements) in instance.covers.iter().enumerate() {
        elements.iter().for_each(|&e| covering[e].push(c));
    }
    let live: Vec<usize> = (0..instance.district_totals.len()).filter(|&d| instance.district_totals[d] > 0.0).collect();
    let pairs: Vec<(usize, usize)> = live.iter().flat_map(|&a| live.iter().filter(move |&&b| b != a).map(move |&b| (a, b))).collect();
    let mut mps = format!("NAME crowdtwin-placement\nOBJSENSE\n    {sense}\nROWS\n N  {objective}\n");
    for e in 0..instance.weights.len() {
        let _ = writeln!(mps, " L  cover{e}");
    }
    mps.push_str(match goal {
        Goal::Target(_) => " G  target\n",
        Goal::Budget(_) => " L  budget\n",
    });
    if equity.is_some() {
        for (e, candidates) in covering.iter().enumerate() {
            for &c in candidates {
                let _ = writeln!(mps, " G  exact{e}_{c}");
            }
        }
        for (a, b) in &pairs {
            let _ = writeln!(mps, " L  equity{a}_{b}");
        }
    }
    mps.push_str("COLUMNS\n    MARKER  'MARKER'  'INTORG'\n");
    for (c, elements) in instance.covers.iter().enumerate() {
        match goal {
            Goal::Target(_) => { let _ = writeln!(mps, "    x{c}  cameras  1"); }
            Goal::Budget(_) => { let _ = writeln!(mps, "    x{c}  budget  1"); }
        }
        for &e in elements {
            let _ = writeln!(mps, "    x{c}  cover{e}  -1");
            if equity.is_some() {
                let _ = writeln!(mps, "    x{c}  exact{e}_{c}  -1");
            }
        }
    }
    mps.push_str("    MARKER  'MARKER'  'INTEND'\n");
    for (e, &w) in instance.weights.iter().enumerate() {
        let _ = writeln!(mps, "    y{e}  cover{e}  1");
        match goal {
            Goal::Target(_) => { let _ = writeln!(mps, "    y{e}  target  {w}"); }
            Goal::Budget(_) => { let _ = writeln!(mps, "    y{e}  covered  {w}"); }
        }
        if equity.is_some() {
            for &c in &covering[e] {
                let _ = writeln!(mps, "    y{e}  exact{e}_{c}  1");
            }
            if let Some(d) = instance.districts[e].filter(|d| instance.district_totals[*d] > 0.0) {
                let share = w / instance.district_totals[d];
                for (a, b) in &pairs {
                    if *a == d {
                        let _ = writeln!(mps, "    y{e}  equity{a}_{b}  {share}");
                    } else if *b == d {
                        let _ = writeln!(mps, "    y{e}  equity{a}_{b}  {}", -share);
                    }
                }
            }
        }
    }
    mps.push_str("RHS\n");
    match goal {
        Goal::Target(target) => { let _ = writeln!(mps, "    RHS  target  {}", target * instance.total); }
        Goal::Budget(n) => { let _ = writeln!(mps, "    RHS  budget  {n}"); }
    }
    if let Some(gap) = equity {
        for (a, b) in &pairs {
            let _ = writeln!(mps, "    RHS  equity{a}_{b}  {gap}");
        }
    }
    mps.push_str("BOUNDS\n");
    for c in 0..instance.covers.len() {
        let _ = writeln!(mps, " BV BND  x{c}");
    }
    for e in 0..instance.weights.len() {
        let _ = writeln!(mps, " UP BND  y{e}  1");
    }
    mps.push_str("ENDATA\n");
    mps
}

/// How far a placement may be from the optimum: for a target, (cameras − bound) ÷ bound with
/// the bound the optimum's camera count (exact) or ⌈LP bound⌉; for a budget, (bound − share) ÷
/// bound with the optimum's share or the LP bound.
pub fn gap(goal: Goal, placement: &Placement, bound: f64) -> f64 {
    match goal {
        Goal::Target(_) => {
            let bound = (bound - 1e-6).ceil().max(1.0);
            (placement.chosen.len() as f64 - bound) / bound
        }
        Goal::Budget(_) => {
            if bound <= 0.0 {
                0.0
            } else {
                ((bound - placement.share) / bound).max(0.0)
            }
        }
    }
}

/// Candidate views generated from the site: mount points every `spacing_m` on every building
/// face that looks onto the pedestrian area (6 m up, 0.3 m out), facing out and ±40° (box
/// blocks and imported footprints alike); and poles (5 m) facing eight ways — on the template
/// at the plaza's corners and edge midpoints, on an imported site at its street lamps (at most
/// one per `spacing_m`); each at tilts of 15°
/// and 30° and fields of view of 60° and 90°, with the template's sensor, render, fps and
/// degradation (no privacy masks).
pub fn auto_candidates(layout: &SiteLayout, template: &CameraSpec, spacing_m: f32) -> Vec<CameraSpec> {
    let mut mounts: Vec<([f32; 3], Vec<f32>)> = Vec::new();
    for obstacle in layout.obstacles.iter().filter(|o| o.kind == crowdtwin_core::site::ObstacleKind::Building) {
        let b = obstacle.bounds;
        // (outward normal x, z; compass yaw of that normal)
        for (nx, nz, yaw) in [(0.0f32, -1.0f32, 0.0f32), (1.0, 0.0, 90.0), (0.0, 1.0, 180.0), (-1.0, 0.0, 270.0)] {
            let along_x = nz != 0.0;
            let (from, to) = if along_x { (b.min[0], b.max[0]) } else { (b.min[2], b.max[2]) };
            let count = (((to - from) / spacing_m).floor() as usize).max(1);
            for k in 0..count {
                let t = from + (k as f32 + 0.5) * (to - from) / count as f32;
                let (x, z) = if along_x {
                    (t, if nz < 0.0 { b.min[2] - 0.3 } else { b.max[2] + 0.3 })
                } else {
                    (if nx < 0.0 { b.min[0] - 0.3 } else { b.max[0] + 0.3 }, t)
                };
                if layout.is_pedestrian_area(x + nx * 1.5, z + nz * 1.5, 0.0, false) {
                    mounts.push(([x, 6.0f32.min(b.max[1] - 0.5).max(3.0), z], vec![yaw - 40.0, yaw, yaw + 40.0]));
                }
            }
        }
    }
    for footprint in &layout.footprints {
        for (a, b) in footprint.edges() {
            let (dx, dz) = (b[0] - a[0], b[1] - a[1]);
            let length = (dx * dx + dz * dz).sqrt();
            if length < 2.0 {
                continue;
            }
            // Counter-clockwise seen from above in (x east, z south): outward is (−dz, dx)/length.
            let (nx, nz) = (-dz / length, dx / length);
            let yaw = nx.atan2(-nz).to_degrees();
            let count = ((length / spacing_m).floor() as usize).max(1);
            for k in 0..count {
                let t = (k as f32 + 0.5) / count as f32;
                let (x, z) = (a[0] + dx * t + nx * 0.3, a[1] + dz * t + nz * 0.3);
                if layout.is_pedestrian_area(x + nx * 1.5, z + nz * 1.5, 0.0, false) {
                    mounts.push(([x, 6.0f32.min(footprint.height_m - 0.5).max(3.0), z], vec![yaw - 40.0, yaw, yaw + 40.0]));
                }
            }
        }
    }
    let eight_ways: Vec<f32> = (0..8).map(|k| k as f32 * 45.0).collect();
    match layout.template_ground() {
        Some(ground) => {
            let [px, pz] = ground.plaza_half;
            for (x, z) in [(-px, -pz), (0.0, -pz), (px, -pz), (px, 0.0), (px, pz), (0.0, pz), (-px, pz), (-px, 0.0)] {
                mounts.push(([x, 5.0, z], eight_ways.clone()));
            }
        }
        None => {
            let mut poles: Vec<[f32; 2]> = Vec::new();
            for lamp in &layout.lamps {
                if poles.iter().all(|p| (p[0] - lamp[0]).hypot(p[1] - lamp[1]) >= spacing_m) {
                    poles.push(*lamp);
                    mounts.push(([lamp[0], 5.0, lamp[1]], eight_ways.clone()));
                }
            }
        }
    }
    let mut candidates = Vec::new();
    for ([x, y, z], yaws) in mounts {
        for &yaw in &yaws {
            for pitch in [15.0, 30.0] {
                for hfov in [60.0, 90.0] {
                    candidates.push(CameraSpec {
                        id: format!("cand{:04}", candidates.len()),
                        position: (x, y, z),
                        yaw_deg: yaw.rem_euclid(360.0),
                        pitch_deg: pitch,
                        hfov_deg: hfov,
                        // The template's masks were drawn for its own view, not these.
                        privacy_masks: Vec::new(),
                        ..template.clone()
                    });
                }
            }
        }
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crowdtwin_core::rng::{Purpose, StreamRng};

    const NODES: u64 = 100_000;

    /// A random instance: `candidates` sets over `cells` cells of random weight.
    fn random_instance(seed: u64, candidates: usize, cells: usize) -> Instance {
        let mut rng = StreamRng::new(seed, 0, Purpose::Site);
        let sets: Vec<Vec<u32>> = (0..candidates).map(|_| (0..cells as u32).filter(|_| rng.unit() < 0.3).collect()).collect();
        let weights: Vec<f64> = (0..cells).map(|_| 0.5 + rng.unit()).collect();
        let districts: Vec<Option<usize>> = (0..cells).map(|c| Some(usize::from(c >= cells / 2))).collect();
        Instance::new(&sets, &weights, &districts, 2)
    }

    /// Every subset, smallest first: the fewest cameras reaching the target, or the best share
    /// within the budget.
    fn brute_force(instance: &Instance, goal: Goal, equity: Option<f64>) -> Option<Placement> {
        let n = instance.covers.len();
        let mut best: Option<Placement> = None;
        for mask in 0u32..(1 << n) {
            let chosen: Vec<usize> = (0..n).filter(|c| mask & (1 << c) != 0).collect();
            if equity.is_some_and(|g| instance.equity_gap(&chosen) > g + 1e-9) {
                continue;
            }
            let p = placement(instance, chosen, goal);
            if !p.meets_goal {
                continue;
            }
            let better = match (&best, goal) {
                (None, _) => true,
                (Some(b), Goal::Target(_)) => p.chosen.len() < b.chosen.len(),
                (Some(b), Goal::Budget(_)) => p.share > b.share + 1e-9,
            };
            if better {
                best = Some(p);
            }
        }
        best
    }

    #[test]
    fn the_exact_solver_equals_brute_force_and_the_greedy_stays_within_its_gap() {
        for seed in 0..12 {
            let instance = random_instance(seed, 10, 40);
            for goal in [Goal::Target(0.9), Goal::Target(0.75), Goal::Budget(2), Goal::Budget(3)] {
                let greedy = greedy(&instance, goal);
                let Some(truth) = brute_force(&instance, goal, None) else {
                    // No subset reaches the target: both solvers must say so.
                    assert!(!greedy.meets_goal && exact(&instance, goal, None, NODES, None).is_err(), "seed {seed} {goal:?}");
                    continue;
                };
                let exact = exact(&instance, goal, None, NODES, None).unwrap();
                assert!(exact.optimal, "small instances are solved to optimality");
                let found = exact.placement.clone().unwrap();
                match goal {
                    Goal::Target(_) => assert_eq!(found.chosen.len(), truth.chosen.len(), "seed {seed} {goal:?}"),
                    Goal::Budget(_) => assert!((found.share - truth.share).abs() < 1e-6, "seed {seed} {goal:?}: {} vs {}", found.share, truth.share),
                }
                assert!(found.meets_goal);
                // The LP bound is a valid bound, and the greedy is within the gap it reports
                // against it (and against the optimum).
                match goal {
                    Goal::Target(_) => assert!(exact.lp_bound <= truth.chosen.len() as f64 + 1e-6),
                    Goal::Budget(_) => assert!(exact.lp_bound + 1e-6 >= truth.share),
                }
                for bound in [exact.lp_bound, match goal { Goal::Target(_) => truth.chosen.len() as f64, Goal::Budget(_) => truth.share }] {
                    let g = gap(goal, &greedy, bound);
                    match goal {
                        Goal::Target(_) => assert!(greedy.chosen.len() as f64 <= (1.0 + g) * truth.chosen.len() as f64 + 1e-9),
                        Goal::Budget(_) => assert!(greedy.share + 1e-9 >= (1.0 - g) * truth.share),
                    }
                }
                assert!(gap(goal, &greedy, match goal { Goal::Target(_) => truth.chosen.len() as f64, Goal::Budget(_) => truth.share }) >= -1e-9, "nothing beats the optimum");
            }
        }
    }

    #[test]
    fn an_equity_limit_is_honoured_exactly() {
        // Camera 0 sees all of district A (10 cells), camera 1 a tenth of district B: with a
        // limit of 0.1 only camera 1 alone keeps the districts within 0.1 of each other —
        // covering cells without counting them must not pass for equity.
        let sets = vec![(0..10).collect::<Vec<u32>>(), vec![10]];
        let districts: Vec<Option<usize>> = (0..20).map(|c| Some(usize::from(c >= 10))).collect();
        let instance = Instance::new(&sets, &[1.0; 20], &districts, 2);
        let found = exact(&instance, Goal::Budget(2), Some(0.1), NODES, None).unwrap().placement.unwrap();
        assert_eq!(found.chosen, vec![1]);
        assert!(instance.equity_gap(&found.chosen) <= 0.1 + 1e-9);
        let mut checked = 0;
        for seed in 0..12 {
            let instance = random_instance(100 + seed, 9, 30);
            let goal = Goal::Budget(3);
            if let Some(truth) = brute_force(&instance, goal, Some(0.1)) {
                let exact = exact(&instance, goal, Some(0.1), NODES, None).unwrap();
                let found = exact.placement.unwrap();
                assert!((found.share - truth.share).abs() < 1e-6, "seed {seed}");
                assert!(instance.equity_gap(&found.chosen) <= 0.1 + 1e-6);
                checked += 1;
            }
        }
        assert!(checked >= 3, "only {checked} random instances had a placement within the limit");
    }

    #[test]
    fn greedy_on_a_hand_made_instance() {
        // Cells 0–5 of weight 1; A covers 0–3, B 2–5, C 4–5, D 0–1.
        let sets = vec![vec![0, 1, 2, 3], vec![2, 3, 4, 5], vec![4, 5], vec![0, 1]];
        let instance = Instance::new(&sets, &[1.0; 6], &[None; 6], 0);
        let g = greedy(&instance, Goal::Target(1.0));
        assert_eq!(g.chosen, vec![0, 1], "A first (ties to the lowest index), then B");
        assert!(g.meets_goal && (g.share - 1.0).abs() < 1e-12);
        assert_eq!(greedy(&instance, Goal::Budget(1)).share, 4.0 / 6.0);
        assert_eq!(gap(Goal::Target(1.0), &g, 2.0), 0.0);
        assert_eq!(gap(Goal::Target(1.0), &Placement { chosen: vec![0, 1, 2], share: 1.0, meets_goal: true }, 1.5), 0.5);
    }
}
