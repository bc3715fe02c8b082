//! `ebmc plot`: pictures of a model's energy and of its training, as SVG.
//!
//! An energy-based model is a function to look at. Four kinds of figure:
//!
//! * **landscape** — `E(x, y)` for one fixed input `x`, over one or two coordinates of the
//!   outputs (or of latents inferred with them): a line for one coordinate, a heat map with
//!   contour lines and a colour scale for two. It marks the correct answer `y_i` (when the
//!   point comes from the data), the inferred `y*` and, for inference by descent, the path
//!   descent took (recorded by the session). Coordinates not on an axis stay at `y*`. For
//!   discrete outputs it draws the energy of every answer as a bar, with `y_i`, `y*` and the
//!   most offending incorrect answer `ȳ` (the lowest-energy one that is not `y_i`) marked.
//! * **surface** — for one real input and one real output, `E` over the whole `(x, y)` plane
//!   with the data on it: a trained energy is low along the data and high away from it; a
//!   collapsed one (spec section 5's lint) is flat — one colour.
//! * **density** — `E(y)` over two output coordinates, the landscape of `P(y) ∝ exp(−E(y))`,
//!   with the data (of a model without inputs) and samples from `--samples` on it
//!   ([`density`]);
//! * **training** — training and test loss, and test accuracy or R², per epoch, from a history
//!   file (`ebmc run --history`) or from training the model here.
//!
//! The steps: [`setup`] makes a session with the weights to show — read from `--weights`,
//! else trained (when the model has `train` and `data`; it says so first), else the declared
//! init — and reads what `--at`, `--axes`, `--range` and `--scale` say; [`landscape`] picks
//! the point, infers, and samples the energy on a [`grid::Grid`] (batched across cores,
//! through [`Session::energy`](crate::runtime::session::Session::energy) only, so it runs on
//! whichever backend the session runs on); [`draw`] turns the result into SVG with `plotters`.
//!
//! Invariants:
//! * every energy drawn is one the session computes at a point the [`Figure`] can name
//!   ([`grid::Grid::point`]); tests compare the two;
//! * positions are computed in the model's units and shown in the data's: a standardized
//!   variable's axis, `--at` and `--range` values are in the units of the data file;
//! * nothing here touches the terminal: notes for the user go through the `say` callback.

pub mod contour;
mod density;
mod draw;
pub mod grid;
mod landscape;
mod setup;

pub use density::Density;
use landscape::MAP_SAMPLES;

use crate::check::Model;
use crate::runtime::history::History;
use crate::runtime::session::{Point, RunError};
use grid::Grid;
use std::fmt;
use std::path::{Path, PathBuf};

/// What to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Landscape,
    Surface,
    Training,
    Density,
}

/// What the command line says, as given; [`plot`] checks it against the model.
#[derive(Clone, Debug, Default)]
pub struct PlotOptions {
    /// Weights from `ebmc run --save`; without them the model is trained or left at its init.
    pub weights: Option<PathBuf>,
    /// `NAME=VALUE` with a JSON number or (nested) array, in the data's units.
    pub at: Vec<String>,
    /// The coordinates of a landscape: `y`, `y[0],y[1]`, `y[1],z`.
    pub axes: Option<String>,
    /// `NAME=LO:HI` per axis (a coordinate label such as `y[1]`, or `x`, `y` of a surface).
    pub ranges: Vec<String>,
    /// Samples per axis.
    pub grid: Option<usize>,
    /// `LO:HI`: the energies the colour scale spans (the same for figures to compare).
    pub scale: Option<String>,
    /// A history file from `ebmc run --history` (training plots).
    pub history: Option<PathBuf>,
    /// Overrides the model's training seed (init, data split, shuffling, inference).
    pub seed: Option<u64>,
    /// A CSV file of samples to draw on a density (`ebmc sample --out`).
    pub samples: Option<PathBuf>,
}

/// Why a figure could not be made: one line for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotError(pub String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

impl From<RunError> for PlotError {
    fn from(e: RunError) -> PlotError {
        PlotError(e.to_string())
    }
}

/// A figure and the numbers it shows.
#[derive(Clone, Debug)]
pub struct Figure {
    pub svg: String,
    /// The parameters the energies were computed with (flat, as in `Session::params`).
    pub params: Vec<f64>,
    pub data: FigureData,
}

#[derive(Clone, Debug)]
pub enum FigureData {
    /// Real outputs: the energy over one or two coordinates.
    Landscape(Landscape),
    /// Discrete outputs: the energy of every answer.
    Answers(Answers),
    Surface(Surface),
    Training(History),
    /// Two output coordinates of `P(y) ∝ exp(−E(y))`: energies, data and samples.
    Density(Density),
}

#[derive(Clone, Debug)]
pub struct Landscape {
    pub grid: Grid,
    /// The correct answer's point (input and outputs), when known.
    pub truth: Option<Point>,
    /// After inference; the grid's base point.
    pub inferred: Point,
    pub inferred_energy: f64,
    /// Every iterate of inference by descent (empty for other methods).
    pub path: Vec<Point>,
    pub path_energies: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct Answers {
    /// One per answer, in enumeration order (`−1` before `+1`; several outputs row-major).
    pub labels: Vec<String>,
    pub energies: Vec<f64>,
    /// The input and inferred values: with answer `k` written in, the point `energies[k]` is of.
    pub point: Point,
    pub truth: Option<usize>,
    pub inferred: usize,
    /// The most offending incorrect answer: the lowest energy other than `truth`.
    pub offending: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Surface {
    /// Axis 0 is the input, axis 1 the output.
    pub grid: Grid,
    /// The data, `(x, y)` in the data's units: training rows, then test rows.
    pub points: Vec<(f64, f64)>,
    pub test_from: usize,
}

/// Makes a figure of `model` (from the file in `base_dir`). `say` receives notes for the user
/// (such as "training first"), as they happen.
pub fn plot(
    kind: Kind,
    model: &Model,
    base_dir: &Path,
    opts: &PlotOptions,
    say: &mut dyn FnMut(&str),
) -> Result<Figure, PlotError> {
    if kind == Kind::Training {
        return training(model, base_dir, opts, say);
    }
    if let Some(n) = opts.grid.filter(|n| !(2..=2000).contains(n)) {
        return Err(PlotError(format!(
            "--grid {n}: expected 2 to 2000 samples per axis"
        )));
    }
    // Mistakes on the command line before the (possibly long) training.
    for a in &opts.at {
        setup::parse_at(model, a)?;
    }
    for r in &opts.ranges {
        setup::parse_range(r)?;
    }
    let scale = opts.scale.as_deref().map(setup::parse_scale).transpose()?;
    if kind == Kind::Density {
        density::axes(model, opts)?;
    }
    let mut prepared = setup::prepare(model, base_dir, opts, say)?;
    let data = match kind {
        Kind::Landscape => landscape::landscape(&mut prepared, opts)?,
        Kind::Surface => landscape::surface(&mut prepared, opts)?,
        Kind::Density => density::density(&mut prepared, opts)?,
        Kind::Training => unreachable!("handled above"),
    };
    let svg = draw::figure(model, &data, &prepared, scale)?;
    Ok(Figure {
        svg,
        params: prepared.session.params.to_vec(),
        data,
    })
}

/// The training figure: from `--history`, else by training here with per-epoch test figures.
fn training(
    model: &Model,
    base_dir: &Path,
    opts: &PlotOptions,
    say: &mut dyn FnMut(&str),
) -> Result<Figure, PlotError> {
    let history = match &opts.history {
        Some(path) => History::read(path).map_err(PlotError)?,
        None => {
            if model.train.is_none() || model.data.is_none() {
                return Err(PlotError(format!(
                    "`{}` has no `train` and `data` to make a history from; give one with --history H.json (from `ebmc run --history`)",
                    model.name
                )));
            }
            if opts.weights.is_some() {
                return Err(PlotError(
                    "a training plot trains the model (or reads --history); --weights would skip training".into(),
                ));
            }
            say(&format!(
                "training `{}` to record its history (save it with `ebmc run --history H.json` to plot it again without training)",
                model.name
            ));
            let run_opts = crate::runtime::run::RunOptions {
                seed: opts.seed,
                track_test: true,
                ..Default::default()
            };
            let outcome = crate::runtime::run::run(model, base_dir, &run_opts, &mut |_| {})?;
            History {
                model: model.name.clone(),
                epochs: outcome.epochs,
            }
        }
    };
    if history.epochs.is_empty() {
        return Err(PlotError("the history has no epochs to plot".into()));
    }
    let svg = draw::training(&history)?;
    Ok(Figure {
        svg,
        params: Vec::new(),
        data: FigureData::Training(history),
    })
}
