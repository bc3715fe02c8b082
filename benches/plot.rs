//! Plotting speed: a 200 × 200 energy grid of the implicit-regression MLP (16-unit tanh
//! embeddings of x and y; the data-free copy in `tests/plot/implicit.ebm`, so that the figure
//! is drawn at the declared init instead of training first) and the whole surface figure.
//!
//! Run with `cargo bench --bench plot`. The baseline, measured in the same run, is the same
//! number of plain `Session::energy` calls one after another on one thread: the grid must
//! cost no more than that (it forks one session per core), and drawing must add little.
//! Medians of a few runs.

use ebmc::check::Role;
use ebmc::compile::Backend;
use ebmc::plot::grid::{Axis, Grid};
use ebmc::plot::{self, Kind, PlotOptions};
use ebmc::runtime::session::{Point, Session};
use std::path::Path;
use std::time::Instant;

const N: usize = 200;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plot");
    let bytes = std::fs::read(dir.join("implicit.ebm")).unwrap();
    let model = ebmc::driver::check(&bytes).models.remove(0);
    let mut s = Session::compile(&model, Backend::Jit, 0).unwrap();
    let x = model.vars_of(Role::Input).next().unwrap().0;
    let y = model.vars_of(Role::Output).next().unwrap().0;
    let axes = || {
        vec![
            Axis::linspace(x, 0, "x".into(), (-2.0, 2.0), N, (1.0, 0.0)),
            Axis::linspace(y, 0, "y".into(), (-2.0, 2.0), N, (1.0, 0.0)),
        ]
    };
    let runs = 5;
    let (mut plain, mut grid, mut figure) = (Vec::new(), Vec::new(), Vec::new());
    let mut checksum = 0.0;
    for _ in 0..runs {
        let t = Instant::now();
        let mut p = Point::zeros(&model);
        for j in 0..N {
            for i in 0..N {
                p.values[x.0 as usize][0] = -2.0 + 4.0 * i as f64 / (N - 1) as f64;
                p.values[y.0 as usize][0] = -2.0 + 4.0 * j as f64 / (N - 1) as f64;
                checksum += s.energy(&mut p).unwrap();
            }
        }
        plain.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let g = Grid::evaluate(&s, Point::zeros(&model), axes()).unwrap();
        grid.push(t.elapsed().as_secs_f64());
        checksum -= g.energies.iter().sum::<f64>();

        let t = Instant::now();
        let opts = PlotOptions {
            ranges: vec!["x=-2:2".into(), "y=-2:2".into()],
            grid: Some(N),
            ..Default::default()
        };
        let fig = plot::plot(Kind::Surface, &model, &dir, &opts, &mut |_| {}).unwrap();
        figure.push(t.elapsed().as_secs_f64());
        assert!(fig.svg.len() > 1000);
    }
    // Same points, same energies: the two sums cancel up to summation order.
    assert!(
        checksum.abs() < 1e-6 * runs as f64 * (N * N) as f64,
        "{checksum}"
    );
    let (plain, grid, figure) = (median(plain), median(grid), median(figure));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{N}×{N} grid of implicit.ebm ({} points, {threads} threads available):",
        N * N
    );
    println!(
        "  baseline, {} plain Session::energy calls: {:8.1} ms",
        N * N,
        plain * 1e3
    );
    println!(
        "  Grid::evaluate:                          {:8.1} ms   ({:.2}× the baseline)",
        grid * 1e3,
        grid / plain
    );
    println!(
        "  whole surface figure (session, grid, SVG): {:6.1} ms   ({:.2}× the baseline)",
        figure * 1e3,
        figure / plain
    );
}
