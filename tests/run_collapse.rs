//! The collapse experiment of LeCun et al. (2006), section 6, on y = x²
//! (`examples/data/square.csv`): implicit regression `E = ½‖G_X(x) − G_Y(y)‖²` with both
//! sides trainable.
//!
//! The figure is the mean over the test rows of E(x, ȳ_i) − E(x, y_i), where ȳ_i is y_i moved
//! by 0.5 (up or down, to stay in [0, 1]) — an answer that is plainly wrong. Untrained, the
//! random energy is far from flat (a mean |gap| of about 2; asserted above 1).
//!
//! * `loss energy` only pulls the energy of correct answers down, so training flattens the
//!   energy: asserted, the mean |E(x, ȳ_i) − E(x, y_i)| is below 1e-3 after 40 epochs.
//! * `hinge` and `square_square`, with negatives found by descent, also push wrong answers
//!   up: the mean gap is at least 0.1, 100 times the collapse bound.
//!   `square_square` trains four times longer: its `E_i²` term first pulls every energy
//!   towards 0 (after 40 epochs the gap is only 0.03), and only then does `(m − Ē)²` open the
//!   gap again (0.09 after 80 epochs, 0.21 after 160).
//!
//! All train the implicit example's architecture with its optimizer, seed and split; only the
//! loss line (and for `square_square` the epochs) differs. The library is driven directly
//! (data, session, training) so that the energies can be read at chosen points.

mod common;

use common::{example_source, examples, model_of};
use ebmc::check::Role;
use ebmc::compile::Backend;
use ebmc::runtime::data;
use ebmc::runtime::session::{Point, Session};
use ebmc::runtime::train::{self, load_row};

/// Trains the implicit example with `loss` for `epochs`; returns the mean over the test rows
/// of E(x, ȳ_i) − E(x, y_i) and of its absolute value.
fn energy_gap(loss: &str, epochs: usize) -> (f64, f64) {
    let source = example_source("implicit");
    let line = source
        .lines()
        .find(|l| l.trim_start().starts_with("loss "))
        .expect("a loss line");
    let model = model_of(&source.replace(line, &format!("  loss {loss}")), true);
    let mut t = model.train.clone().expect("train");
    t.epochs = epochs;
    let decl = model.data.as_ref().expect("data");
    let loaded = data::load(decl, &model.vars, &examples(), t.seed).expect("square.csv loads");
    let mut s = Session::compile(&model, Backend::Interp, t.seed).expect("compiles");
    train::train(&mut s, &loaded.train, &t, 1, &mut |_| {}).expect("trains");
    let (y, _) = model.vars_of(Role::Output).next().expect("an output");
    let y = y.0 as usize;
    let mut p = Point::zeros(&model);
    let (mut gap, mut abs) = (0.0, 0.0);
    let rows = loaded.test.rows();
    assert!(rows >= 50, "{rows} test rows");
    for r in 0..rows {
        load_row(&loaded.test, r, &mut p);
        let e = s.energy(&mut p).expect("energy");
        let yi = p.values[y][0];
        p.values[y][0] = if yi < 0.5 { yi + 0.5 } else { yi - 0.5 };
        let e_bar = s.energy(&mut p).expect("energy");
        gap += e_bar - e;
        abs += (e_bar - e).abs();
    }
    (gap / rows as f64, abs / rows as f64)
}

/// The collapse bound: a mean |gap| below this is a flat energy.
const FLAT: f64 = 1e-3;

/// What the collapse assertions rest on: before training the energy is far from flat, so a
/// gap below [`FLAT`] after training is training's doing.
#[test]
fn the_untrained_energy_is_far_from_flat() {
    let (_, untrained) = energy_gap("energy", 0);
    assert!(
        untrained > 1000.0 * FLAT,
        "untrained: mean |E(ȳ) − E(y)| = {untrained}, expected about 2"
    );
}

#[test]
fn energy_loss_collapses() {
    let (_, collapsed) = energy_gap("energy", 40);
    assert!(
        collapsed < FLAT,
        "loss energy: mean |E(ȳ) − E(y)| = {collapsed}, expected a collapsed energy"
    );
}

/// Asserts a gap of at least 100 times the collapse bound.
fn opens_a_gap(loss: &str, epochs: usize) {
    let (gap, _) = energy_gap(loss, epochs);
    assert!(gap >= 100.0 * FLAT, "loss {loss}: mean E(ȳ) − E(y) = {gap}");
}

#[test]
fn hinge_does_not_collapse() {
    opens_a_gap(
        "hinge(margin = 0.5) negatives descent(steps = 20, rate = 0.1, radius = 0.3)",
        40,
    );
}

#[test]
fn square_square_does_not_collapse() {
    opens_a_gap(
        "square_square(margin = 1) negatives descent(steps = 20, rate = 0.1, radius = 0.3)",
        160,
    );
}
