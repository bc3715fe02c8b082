//! Contour lines of a sampled field, by marching squares.
//!
//! The field is `nx × ny` values, `v[i + nx * j]`; a level's contour is returned as polylines
//! in fractional grid coordinates `(i, j)`, each vertex on a grid edge where the field crosses
//! the level (linearly interpolated). Segments of neighbouring cells that meet on an edge are
//! chained into one polyline, so a closed contour is one closed polyline (first vertex
//! repeated at the end) and an open one runs from border to border (or to a NaN cell).
//!
//! A corner is "inside" when its value is `>= level`. A saddle cell (inside corners on one
//! diagonal) is resolved by the mean of its four corners. Cells with a NaN corner are skipped.

use std::collections::HashMap;

/// An edge of the grid: horizontal from `(i, j)` to `(i + 1, j)`, or vertical from `(i, j)`
/// to `(i, j + 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Edge {
    H(usize, usize),
    V(usize, usize),
}

/// The polylines of the contour of `v` at `level`.
pub fn contour(nx: usize, ny: usize, v: &[f64], level: f64) -> Vec<Vec<(f64, f64)>> {
    assert_eq!(v.len(), nx * ny, "a field of nx × ny values");
    let at = |i: usize, j: usize| v[i + nx * j];
    let crossing = |e: Edge| -> (f64, f64) {
        let ((i0, j0), (i1, j1)) = match e {
            Edge::H(i, j) => ((i, j), (i + 1, j)),
            Edge::V(i, j) => ((i, j), (i, j + 1)),
        };
        let (a, b) = (at(i0, j0), at(i1, j1));
        let t = if a == b { 0.5 } else { (level - a) / (b - a) };
        let t = t.clamp(0.0, 1.0);
        (
            i0 as f64 + t * (i1 as f64 - i0 as f64),
            j0 as f64 + t * (j1 as f64 - j0 as f64),
        )
    };
    let mut segments: Vec<(Edge, Edge)> = Vec::new();
    for j in 0..ny.saturating_sub(1) {
        for i in 0..nx.saturating_sub(1) {
            let corners = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
            if corners.iter().any(|c| c.is_nan()) {
                continue;
            }
            let inside = corners.map(|c| c >= level);
            // Around the cell: bottom (a–b), right (b–c), top (c–d), left (d–a).
            let edges = [
                Edge::H(i, j),
                Edge::V(i + 1, j),
                Edge::H(i, j + 1),
                Edge::V(i, j),
            ];
            let crossed: Vec<Edge> = (0..4)
                .filter(|&k| inside[k] != inside[(k + 1) % 4])
                .map(|k| edges[k])
                .collect();
            match crossed.as_slice() {
                [] => {}
                &[e0, e1] => segments.push((e0, e1)),
                _ => {
                    let centre = corners.iter().sum::<f64>() / 4.0 >= level;
                    let [bottom, right, top, left] = edges;
                    if centre == inside[0] {
                        segments.push((bottom, right));
                        segments.push((top, left));
                    } else {
                        segments.push((left, bottom));
                        segments.push((right, top));
                    }
                }
            }
        }
    }
    chain(&segments)
        .into_iter()
        .map(|line| line.into_iter().map(crossing).collect())
        .collect()
}

/// Joins segments that share an edge into polylines of edges.
fn chain(segments: &[(Edge, Edge)]) -> Vec<Vec<Edge>> {
    let mut by_edge: HashMap<Edge, Vec<usize>> = HashMap::new();
    for (k, (a, b)) in segments.iter().enumerate() {
        by_edge.entry(*a).or_default().push(k);
        by_edge.entry(*b).or_default().push(k);
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let (a, b) = segments[start];
        let mut line = vec![a, b];
        // Forward from b, then backward from a.
        for forward in [true, false] {
            loop {
                let end = if forward {
                    line[line.len() - 1]
                } else {
                    line[0]
                };
                let next = by_edge[&end].iter().copied().find(|&k| !used[k]);
                let Some(k) = next else { break };
                used[k] = true;
                let (p, q) = segments[k];
                let other = if p == end { q } else { p };
                if forward {
                    line.push(other);
                } else {
                    line.insert(0, other);
                }
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cone `sqrt(i² + j²)` around the centre of a 21 × 21 grid.
    fn cone() -> Vec<f64> {
        let mut v = Vec::new();
        for j in 0..21 {
            for i in 0..21 {
                v.push(((i as f64 - 10.0).powi(2) + (j as f64 - 10.0).powi(2)).sqrt());
            }
        }
        v
    }

    #[test]
    fn a_circle_is_one_closed_polyline_at_its_radius() {
        let lines = contour(21, 21, &cone(), 5.0);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line.first(), line.last(), "closed");
        for &(i, j) in line {
            let r = ((i - 10.0).powi(2) + (j - 10.0).powi(2)).sqrt();
            assert!((r - 5.0).abs() < 0.1, "vertex at radius {r}");
        }
    }

    #[test]
    fn a_plane_gives_one_open_line_from_border_to_border() {
        let v: Vec<f64> = (0..100).map(|k| (k % 10) as f64).collect();
        let lines = contour(10, 10, &v, 4.5);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), 10);
        assert!(lines[0].iter().all(|&(i, _)| (i - 4.5).abs() < 1e-12));
    }

    #[test]
    fn nothing_outside_the_range_and_nan_cells_are_skipped() {
        assert!(contour(21, 21, &cone(), 100.0).is_empty());
        let mut v = cone();
        v.iter_mut().for_each(|x| *x = f64::NAN);
        assert!(contour(21, 21, &v, 5.0).is_empty());
    }

    #[test]
    fn a_saddle_cell_gives_two_segments() {
        let v = [1.0, 0.0, 0.0, 1.0];
        assert_eq!(contour(2, 2, &v, 0.5).len(), 2);
    }
}
