//! Every loss of spec section 6 trains a model that beats itself untrained on its test split.
//!
//! "Untrained" is the same model, the same seeded init and the same data split with the
//! `train` line removed, so that `ebmc run` only evaluates the initial parameters
//! (`common::run_untrained`); "trained" is the model as written. Both are scored on the test
//! rows: accuracy for class and sign outputs, R² for the real output of `loss energy`.
//!
//! The classification losses train on iris with one of two energies:
//! * linear, `E(x, y) = −(W x + b)[y]`, for the losses of energy differences
//!   (`perceptron`, `hinge`, `log`, `mce`, `nll`, `mee`);
//! * prototypes, `E(x, y) = ½‖x − P[y]‖²`, for the losses that assume energies are
//!   non-negative (`lvq2` divides by Ē; `square_square` and `square_exp` pull E_i to 0).
//!   (`lvq2` on the linear energy, whose Ē can be negative, flips sign and unlearns.)
//!
//! Real outputs with `negatives descent` and `negatives shuffle` are trained by the implicit
//! and contrastive examples (tests/run_examples.rs) and the collapse experiment.

mod common;

use common::{model_of, run, run_untrained, score, Set};
use ebmc::runtime::run::RunOptions;

fn iris(energy: &str, loss: &str) -> String {
    let (params, energy) = match energy {
        "linear" => (
            "param W : real[3, 4] ~ normal(0, 0.1)  param b : real[3] = 0",
            "-(W @ x + b)[y]",
        ),
        "prototypes" => (
            "param P : real[3, 4] ~ normal(0, 0.1)",
            "0.5 * sqnorm(x - P[y])",
        ),
        _ => unreachable!(),
    };
    format!(
        "model m {{
           input x : real[4]  output y : class[3]
           {params}
           energy {energy}
           loss {loss}
           train by adam(rate = 0.05, epochs = 20, batch = 16, seed = 1)
           data \"data/iris.csv\" {{ x = sepal_length..petal_width, y = species }} split 0.8 standardize x
         }}"
    )
}

/// Trains `source` and asserts its test score rose by `gain` over the untrained model and
/// reached `at_least`.
fn improves(what: &str, source: &str, gain: f64, at_least: f64) {
    let model = model_of(source, false);
    let trained = score(&run(&model, &RunOptions::default()).report, Set::Test);
    let untrained = score(&run_untrained(&model).report, Set::Test);
    assert!(
        trained >= untrained + gain && trained >= at_least,
        "{what}: test score {trained} trained, {untrained} untrained"
    );
}

#[test]
fn energy_loss_trains_linear_regression_on_diabetes() {
    improves(
        "energy",
        "model m {
           input x : real[10]   output y : real
           param w : real[10] = 0   param b : real = 0
           energy 0.5 * (dot(w, x) + b - y)^2
           loss energy
           infer y by descent(steps = 50, rate = 0.5)
           train by adam(rate = 0.02, epochs = 100, seed = 1)
           data \"data/diabetes.csv\" { x = age..s6, y = progression } split 0.8 standardize x, y
         }",
        0.3,
        0.35,
    );
}

#[test]
fn perceptron_trains() {
    improves("perceptron", &iris("linear", "perceptron"), 0.2, 0.8);
}

#[test]
fn hinge_trains() {
    improves("hinge", &iris("linear", "hinge(margin = 1)"), 0.2, 0.8);
}

#[test]
fn log_trains() {
    improves("log", &iris("linear", "log"), 0.2, 0.8);
}

#[test]
fn log_trains_a_sign_output_on_breast_cancer() {
    improves(
        "log (sign)",
        "model m {
           input x : real[30]   output y : sign
           param w : real[30] ~ normal(0, 0.1)   param b : real = 0
           energy -y * (dot(w, x) + b)
           loss log
           train by adam(rate = 0.01, epochs = 10, seed = 1)
           data \"data/breast_cancer.csv\" { x = 0..29, y = benign } split 0.8 standardize x
         }",
        0.1,
        0.94,
    );
}

#[test]
fn mce_trains() {
    improves("mce", &iris("linear", "mce"), 0.2, 0.8);
}

#[test]
fn nll_trains() {
    improves("nll", &iris("linear", "nll(beta = 1)"), 0.2, 0.8);
}

#[test]
fn mee_trains() {
    improves("mee", &iris("linear", "mee(beta = 1)"), 0.2, 0.8);
}

#[test]
fn lvq2_trains_prototypes() {
    improves("lvq2", &iris("prototypes", "lvq2(delta = 0.1)"), 0.2, 0.75);
}

#[test]
fn square_square_trains_prototypes() {
    improves(
        "square_square",
        &iris("prototypes", "square_square(margin = 1)"),
        0.2,
        0.8,
    );
}

#[test]
fn square_exp_trains_prototypes() {
    improves(
        "square_exp",
        &iris("prototypes", "square_exp(gamma = 1)"),
        0.2,
        0.8,
    );
}
