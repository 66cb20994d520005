//! Route planning on the walkable area: an occupancy grid and A*.
//!
//! A cell is open when a pedestrian of the grid's clearance radius can stand at its centre
//! (off buildings and furniture, off the street except on crossings — on crossings with ramps
//! only, for the wheelchair grid). Routes are A* over the eight-connected grid without cutting
//! corners, then shortened by dropping waypoints that are in line of sight of each other.
//! City-scale grids (millions of cells) stay affordable: the search's memory is reused between
//! searches, and a goal in another connected component fails at once.

use bevy::math::Vec2;
use crowdtwin_core::site::SiteLayout;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Labels the 4-connected components of the open cells (1, 2, …; 0 for closed). A* moves
/// diagonally only past two open orthogonal cells, so its reachability is 4-connectivity.
fn components(open: &[bool], columns: usize, rows: usize) -> Vec<u32> {
    let mut label = vec![0u32; open.len()];
    let mut next = 0u32;
    let mut stack = Vec::new();
    for seed in 0..open.len() {
        if !open[seed] || label[seed] != 0 {
            continue;
        }
        next += 1;
        label[seed] = next;
        stack.push(seed);
        while let Some(cell) = stack.pop() {
            let (column, row) = (cell % columns, cell / columns);
            let neighbours = [
                (column > 0).then(|| cell - 1),
                (column + 1 < columns).then(|| cell + 1),
                (row > 0).then(|| cell - columns),
                (row + 1 < rows).then(|| cell + columns),
            ];
            for n in neighbours.into_iter().flatten() {
                if open[n] && label[n] == 0 {
                    label[n] = next;
                    stack.push(n);
                }
            }
        }
    }
    label
}

/// A* working memory, one per thread, grown to the largest grid searched: `seen[cell]` is the
/// generation of the search that last touched `cost[cell]` and `came_from[cell]`.
#[derive(Default)]
struct Scratch {
    cost: Vec<f32>,
    came_from: Vec<usize>,
    seen: Vec<u32>,
    generation: u32,
    frontier: BinaryHeap<Candidate>,
}

impl Scratch {
    fn begin(&mut self, cells: usize) {
        if self.seen.len() < cells {
            self.cost.resize(cells, f32::INFINITY);
            self.came_from.resize(cells, usize::MAX);
            self.seen.resize(cells, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        self.frontier.clear();
    }
}

thread_local! {
    static SEARCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// An occupancy grid over the site's walkable rectangle.
#[derive(Clone, Debug)]
pub struct NavGrid {
    /// Cell size, metres.
    pub cell_m: f32,
    /// World (x, z) of the corner of cell (0, 0).
    pub origin: Vec2,
    /// Cells along x.
    pub columns: usize,
    /// Cells along z.
    pub rows: usize,
    open: Vec<bool>,
    /// Connected component of each open cell (0 for closed cells): a search between two
    /// components fails at once instead of exploring the whole of one (on a city-scale site a
    /// courtyard entrance would otherwise cost a search of millions of cells).
    component: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    estimate: f32,
    cell: usize,
    /// The cost to the cell when pushed: an entry whose cost has since been beaten is stale.
    cost: f32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on the estimate; ties by cell index so the search order is deterministic.
        other.estimate.total_cmp(&self.estimate).then_with(|| other.cell.cmp(&self.cell))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl NavGrid {
    /// Rasterises the site's pedestrian area for a body of `clearance_m` radius.
    pub fn build(layout: &SiteLayout, cell_m: f32, clearance_m: f32, needs_ramps: bool) -> Self {
        let [x0, z0, x1, z1] = layout.extent();
        let origin = Vec2::new(x0, z0);
        let columns = ((x1 - x0) / cell_m).ceil() as usize;
        let rows = ((z1 - z0) / cell_m).ceil() as usize;
        let mut open = vec![false; columns * rows];
        for row in 0..rows {
            for column in 0..columns {
                let centre = origin + Vec2::new((column as f32 + 0.5) * cell_m, (row as f32 + 0.5) * cell_m);
                open[row * columns + column] = layout.is_pedestrian_area(centre.x, centre.y, clearance_m, needs_ramps);
            }
        }
        let component = components(&open, columns, rows);
        NavGrid { cell_m, origin, columns, rows, open, component }
    }

    /// The cell containing a point, if it lies on the grid.
    pub fn cell_of(&self, point: Vec2) -> Option<usize> {
        let local = (point - self.origin) / self.cell_m;
        if local.x < 0.0 || local.y < 0.0 {
            return None;
        }
        let (column, row) = (local.x as usize, local.y as usize);
        (column < self.columns && row < self.rows).then_some(row * self.columns + column)
    }

    /// Centre of a cell.
    pub fn centre(&self, cell: usize) -> Vec2 {
        let (column, row) = (cell % self.columns, cell / self.columns);
        self.origin + Vec2::new((column as f32 + 0.5) * self.cell_m, (row as f32 + 0.5) * self.cell_m)
    }

    /// Whether the cell containing `point` is open.
    pub fn is_open(&self, point: Vec2) -> bool {
        self.cell_of(point).is_some_and(|c| self.open[c])
    }

    /// The open cell centre nearest to `point` (by rings of cells), if any cell is open.
    pub fn nearest_open(&self, point: Vec2) -> Option<Vec2> {
        let local = ((point - self.origin) / self.cell_m).floor();
        let (column, row) = (local.x as i64, local.y as i64);
        let mut best: Option<(f32, usize)> = None;
        for ring in 0..(self.columns.max(self.rows) as i64) {
            for r in row - ring..=row + ring {
                for c in column - ring..=column + ring {
                    let on_ring = (r - row).abs() == ring || (c - column).abs() == ring;
                    if !on_ring || r < 0 || c < 0 || r >= self.rows as i64 || c >= self.columns as i64 {
                        continue;
                    }
                    let cell = r as usize * self.columns + c as usize;
                    if self.open[cell] {
                        let d = self.centre(cell).distance_squared(point);
                        if best.is_none_or(|(bd, bc)| d < bd || (d == bd && cell < bc)) {
                            best = Some((d, cell));
                        }
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.map(|(_, cell)| self.centre(cell))
    }

    /// Whether the straight segment a→b stays on open cells (sampled every third of a cell).
    pub fn line_of_sight(&self, a: Vec2, b: Vec2) -> bool {
        let steps = ((b - a).length() / (self.cell_m / 3.0)).ceil().max(1.0) as usize;
        (0..=steps).all(|i| self.is_open(a.lerp(b, i as f32 / steps as f32)))
    }

    /// A route from `from` to `to` as waypoints (ending at `to`, or at the open cell nearest
    /// to it), or `None` when no open path connects them.
    pub fn find_path(&self, from: Vec2, to: Vec2) -> Option<Vec<Vec2>> {
        let start_point = if self.is_open(from) { from } else { self.nearest_open(from)? };
        let goal_point = if self.is_open(to) { to } else { self.nearest_open(to)? };
        if self.line_of_sight(start_point, goal_point) {
            return Some(vec![goal_point]); // most trips on an open plaza: no search needed
        }
        let (start, goal) = (self.cell_of(start_point)?, self.cell_of(goal_point)?);
        if self.component[start] != self.component[goal] {
            return None;
        }
        SEARCH.with(|scratch| self.search(&mut scratch.borrow_mut(), start, goal, start_point, goal_point))
    }

    /// A* from `start` to `goal` in `scratch`'s buffers (reset lazily by generation, so a search
    /// costs what it explores, not the grid's size: city-scale grids have millions of cells).
    fn search(&self, scratch: &mut Scratch, start: usize, goal: usize, start_point: Vec2, goal_point: Vec2) -> Option<Vec<Vec2>> {
        scratch.begin(self.open.len());
        let Scratch { cost, came_from, seen, generation, frontier } = scratch;
        let generation = *generation;
        let cost_of = |cell: usize, cost: &mut Vec<f32>, seen: &mut Vec<u32>| {
            if seen[cell] != generation {
                seen[cell] = generation;
                cost[cell] = f32::INFINITY;
            }
            cost[cell]
        };
        cost_of(start, cost, seen);
        cost[start] = 0.0;
        frontier.push(Candidate { estimate: 0.0, cell: start, cost: 0.0 });
        let goal_centre = self.centre(goal);
        let heuristic = |cell: usize| {
            let d = (self.centre(cell) - goal_centre).abs() / self.cell_m;
            (d.x.max(d.y) + (std::f32::consts::SQRT_2 - 1.0) * d.x.min(d.y)) * self.cell_m
        };
        while let Some(Candidate { cell, cost: pushed, .. }) = frontier.pop() {
            if cell == goal {
                break;
            }
            // A better path to the cell was expanded already: nothing here can improve on it.
            if pushed > cost[cell] {
                continue;
            }
            let (column, row) = ((cell % self.columns) as i64, (cell / self.columns) as i64);
            for (dc, dr) in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)] {
                let (c, r) = (column + dc, row + dr);
                if c < 0 || r < 0 || c >= self.columns as i64 || r >= self.rows as i64 {
                    continue;
                }
                let next = r as usize * self.columns + c as usize;
                if !self.open[next] {
                    continue;
                }
                let diagonal = dc != 0 && dr != 0;
                // No squeezing between two blocked cells at a corner.
                if diagonal
                    && (!self.open[row as usize * self.columns + c as usize] || !self.open[r as usize * self.columns + column as usize])
                {
                    continue;
                }
                let step = if diagonal { std::f32::consts::SQRT_2 } else { 1.0 } * self.cell_m;
                let new_cost = cost[cell] + step;
                if new_cost < cost_of(next, cost, seen) {
                    cost[next] = new_cost;
                    came_from[next] = cell;
                    frontier.push(Candidate { estimate: new_cost + heuristic(next), cell: next, cost: new_cost });
                }
            }
        }
        frontier.clear();
        if cost_of(goal, cost, seen).is_infinite() {
            return None;
        }
        let mut cells = vec![goal];
        while let Some(&last) = cells.last() {
            if last == start {
                break;
            }
            cells.push(came_from[last]);
        }
        cells.reverse();
        let mut points: Vec<Vec2> = cells.iter().map(|&c| self.centre(c)).collect();
        points[0] = start_point;
        *points.last_mut().unwrap() = goal_point;
        Some(self.shorten(&points))
    }

    /// Drops every waypoint the route can skip in a straight line (string pulling).
    fn shorten(&self, points: &[Vec2]) -> Vec<Vec2> {
        let mut route = Vec::new();
        let mut anchor = 0;
        while anchor + 1 < points.len() {
            let mut reach = anchor + 1;
            while reach + 1 < points.len() && self.line_of_sight(points[anchor], points[reach + 1]) {
                reach += 1;
            }
            route.push(points[reach]);
            anchor = reach;
        }
        route
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crowdtwin_core::site::example_site;

    fn layout() -> SiteLayout {
        SiteLayout::template(&example_site(), 3)
    }

    #[test]
    fn routes_cross_the_street_at_crossings_and_wheelchairs_only_where_there_are_ramps() {
        let layout = layout();
        let on_foot = NavGrid::build(&layout, 0.5, 0.3, false);
        let wheelchair = NavGrid::build(&layout, 0.5, 0.3, true);
        // From the plaza's east edge to the pavement beyond the east street.
        let (from, to) = (Vec2::new(17.0, 0.0), Vec2::new(28.5, 0.0));
        let walk = on_foot.find_path(from, to).unwrap();
        let wheel = wheelchair.find_path(from, to).unwrap();
        let length = |route: &[Vec2]| {
            let mut previous = from;
            route.iter().map(|&p| std::mem::replace(&mut previous, p).distance(p)).sum::<f32>()
        };
        assert!(length(&walk) < 13.0, "straight over the east crossing: {walk:?}");
        assert!(length(&wheel) > 30.0, "round by a ramped crossing: {wheel:?}");
        for route in [&walk, &wheel] {
            let mut previous = from;
            for &p in route.iter() {
                let steps = (previous.distance(p) / 0.1).ceil() as usize;
                for i in 0..=steps {
                    let q = previous.lerp(p, i as f32 / steps.max(1) as f32);
                    assert!(layout.is_walkable(q.x, q.y, 0.0), "through an obstacle at {q:?}");
                }
                previous = p;
            }
        }
    }
}
