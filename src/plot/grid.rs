//! Energies over a grid of one or two coordinates, every other value held at a base point.
//!
//! A coordinate is one element of one variable (an output, a latent named in an `infer`
//! group, or — for surfaces — an input), sampled at evenly spaced values in the model's own
//! units. Each [`Axis`] also carries the affine map to the units a reader should see: the
//! data's units for a variable the `data` clause standardizes, else the identity.
//!
//! Evaluation goes through [`Session::energy`] only, so it runs on whichever backend the
//! session was compiled for and includes what the session adds to the graph (inner latents
//! minimised by descent). It is batched across threads: the grid is cut into one contiguous
//! block of points per core, each evaluated by a [`Session::fork`] (shared compiled code, its
//! own scratch), writing into its own slice of the result. The values are the same as one
//! `energy` call per point, in any order, on any number of threads.

use crate::check::VarId;
use crate::runtime::session::{Point, RunError, Session};

/// One sampled coordinate.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub var: VarId,
    /// Flat, row-major index of the element within the variable.
    pub element: usize,
    /// As a reader writes it: `y`, `y[1]`, `W[0, 2]`.
    pub label: String,
    /// The sampled values, in the model's units, increasing.
    pub values: Vec<f64>,
    /// `shown = value * unit.0 + unit.1`: data units for standardized variables.
    pub unit: (f64, f64),
}

impl Axis {
    /// `n` evenly spaced values from `lo` to `hi` (model units, `n ≥ 2`).
    pub fn linspace(
        var: VarId,
        element: usize,
        label: String,
        (lo, hi): (f64, f64),
        n: usize,
        unit: (f64, f64),
    ) -> Axis {
        let n = n.max(2);
        let values = (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect();
        Axis {
            var,
            element,
            label,
            values,
            unit,
        }
    }

    /// A model-unit value in the reader's units.
    pub fn shown(&self, v: f64) -> f64 {
        v * self.unit.0 + self.unit.1
    }

    /// The first and last sample, in the reader's units.
    pub fn shown_range(&self) -> (f64, f64) {
        let (a, b) = (self.values[0], self.values[self.values.len() - 1]);
        (self.shown(a), self.shown(b))
    }

    /// The value of this coordinate at `p`.
    pub fn of(&self, p: &Point) -> f64 {
        p.values[self.var.0 as usize][self.element]
    }
}

/// Energies at every combination of the axes' values.
#[derive(Clone, Debug)]
pub struct Grid {
    /// Every variable's value away from the axes.
    pub base: Point,
    pub axes: Vec<Axis>,
    /// Row-major with the first axis fastest: index `i + n0 * j` for axis values `(i, j)`.
    pub energies: Vec<f64>,
}

impl Grid {
    /// Evaluates `session`'s energy at every grid point (see the module comment).
    pub fn evaluate(session: &Session, base: Point, axes: Vec<Axis>) -> Result<Grid, RunError> {
        let total: usize = axes.iter().map(|a| a.values.len()).product();
        let mut energies = vec![f64::NAN; total];
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 16)
            .min(total.div_ceil(256).max(1));
        let block = total.div_ceil(threads).max(1);
        let grid = Grid {
            base,
            axes,
            energies: Vec::new(),
        };
        std::thread::scope(|scope| {
            let workers: Vec<_> = energies
                .chunks_mut(block)
                .enumerate()
                .map(|(b, out)| {
                    let mut s = session.fork();
                    let grid = &grid;
                    scope.spawn(move || -> Result<(), RunError> {
                        let mut p = grid.base.clone();
                        let mut idx = vec![0; grid.axes.len()];
                        for (k, e) in out.iter_mut().enumerate() {
                            grid.unflatten(b * block + k, &mut idx);
                            grid.set(&mut p, &idx);
                            *e = s.energy(&mut p)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().expect("a grid worker panicked"))
        })?;
        Ok(Grid { energies, ..grid })
    }

    /// The number of samples along each axis.
    pub fn dims(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.values.len()).collect()
    }

    fn unflatten(&self, mut flat: usize, idx: &mut [usize]) {
        for (i, a) in idx.iter_mut().zip(&self.axes) {
            *i = flat % a.values.len();
            flat /= a.values.len();
        }
    }

    /// Writes the axes' values at `idx` into `p` (whose other values are left as they are).
    fn set(&self, p: &mut Point, idx: &[usize]) {
        for (a, &i) in self.axes.iter().zip(idx) {
            p.values[a.var.0 as usize][a.element] = a.values[i];
        }
    }

    /// The point at grid index `idx` (one index per axis): what `energy(idx)` is the energy of.
    pub fn point(&self, idx: &[usize]) -> Point {
        let mut p = self.base.clone();
        self.set(&mut p, idx);
        p
    }

    /// The energy at grid index `idx`.
    pub fn energy(&self, idx: &[usize]) -> f64 {
        let mut flat = 0;
        for (a, &i) in self.axes.iter().zip(idx).rev() {
            flat = flat * a.values.len() + i;
        }
        self.energies[flat]
    }
}
