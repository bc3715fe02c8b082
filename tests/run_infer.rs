//! Inference finds known minima (spec section 7): models without data, run through the
//! library as `ebmc run` does, must put their inferred output at the minimum they are built
//! around.
//!
//! * a quadratic bowl with a different curvature per coordinate, centre `c` known: descent
//!   reaches `c` to 1e-6 in every coordinate;
//! * `examples/rosenbrock.ebm` (n = 10, minimum at y = 1, E = 0): plain descent from 0 reaches
//!   it to 1e-2 in every coordinate with the example's rate and steps.

mod common;

use common::{example_source, model_of, run};
use ebmc::runtime::metrics::Report;
use ebmc::runtime::run::RunOptions;

/// The inferred `y` and the energy there.
fn infer(source: &str) -> (Vec<f64>, f64) {
    let model = model_of(source, false);
    let outcome = run(&model, &RunOptions::default());
    let Report::Infer { values, energy } = outcome.report else {
        panic!("a model without data reports what it inferred");
    };
    let (name, _, y) = values.into_iter().next().expect("an inferred variable");
    assert_eq!(name, "y");
    (y, energy)
}

#[test]
fn descent_finds_the_centre_of_a_quadratic_bowl() {
    let (y, energy) = infer(
        "model bowl {
           output y : real[4]
           energy 0.5 * sum([1, 2, 4, 0.5] * (y - [0.3, -1.5, 2, 0.75])^2)
           infer y by descent(steps = 200, rate = 0.2, init = 0)
         }",
    );
    let centre = [0.3, -1.5, 2.0, 0.75];
    for (i, (a, b)) in y.iter().zip(centre).enumerate() {
        assert!((a - b).abs() < 1e-6, "y[{i}] = {a}, expected {b}");
    }
    assert!(energy < 1e-12, "energy at the minimum: {energy}");
}

#[test]
fn descent_finds_the_minimum_of_rosenbrock_in_ten_dimensions() {
    let (y, energy) = infer(&example_source("rosenbrock"));
    assert_eq!(y.len(), 10);
    for (i, a) in y.iter().enumerate() {
        assert!((a - 1.0).abs() < 1e-2, "y[{i}] = {a}, expected 1 ± 1e-2");
    }
    assert!(energy < 1e-4, "energy at the minimum: {energy}");
}

/// `cosine` is finite at a zero vector (spec section 4: `a·b / max(‖a‖‖b‖, 1e-8)`): descent
/// started at `init = 0` moves towards the answer instead of stopping on a NaN.
#[test]
fn cosine_descent_starts_at_a_zero_vector() {
    let (y, energy) = infer(
        "model m {
           param a : real[3] = [1, 2, 2]
           output y : real[3]
           energy 1 - cosine(a, y)
           infer y by descent(steps = 300, rate = 0.5, init = 0)
         }",
    );
    // The first step is long (the gradient at 0 is a / 1e-8) but lands on the ray of a,
    // where the energy is 0. (A regulariser such as `0.01 * sqnorm(y)` would then have to
    // pull y back from ~1e8: such a descent ends far above where it started, and is an error.)
    assert!(energy.abs() < 1e-9, "energy {energy}");
    // The minimum lies along a: y ∝ (1, 2, 2).
    let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(norm > 0.1, "descent did not move from 0: {y:?}");
    for (yi, ai) in y.iter().zip([1.0, 2.0, 2.0]) {
        assert!((yi / norm - ai / 3.0).abs() < 1e-3, "{y:?}");
    }
}

/// A non-finite energy at the answer is an error naming it, never a result (exit 1 from the
/// command line).
#[test]
fn a_nan_energy_at_the_answer_is_an_error() {
    let model = model_of(
        "model m {
           output y : real
           energy log(-1) + y^2
           infer y by descent(steps = 10, rate = 0.1)
         }",
        true,
    );
    let err = ebmc::runtime::run::run(
        &model,
        &common::examples(),
        &RunOptions::default(),
        &mut |_| {},
    )
    .expect_err("a NaN energy is an error");
    assert_eq!(
        err.to_string(),
        "inference ended with the energy = NaN: check the energy's domain (log, sqrt, division) at the answer"
    );
}

/// The error a model without data gets from `ebmc run`.
fn run_error(source: &str) -> String {
    let model = model_of(source, true);
    ebmc::runtime::run::run(
        &model,
        &common::examples(),
        &RunOptions::default(),
        &mut |_| {},
    )
    .expect_err("an error")
    .to_string()
}

/// A descent that oscillates (`y^2` at rate 1 flips y between 1 and −1, at the same energy,
/// forever) is an error naming the rate, found at the first progress check (step 1,000), not
/// after its hundred million steps.
#[test]
fn an_oscillating_descent_is_an_error_found_early() {
    let start = std::time::Instant::now();
    let err = run_error(
        "model m {
           output y : real
           energy y^2
           infer y by descent(steps = 100000000, rate = 1, init = 1)
         }",
    );
    assert_eq!(
        err,
        "descent on `y` made no progress: after 1000 of 100000000 steps the energy (1) is no lower than at the start (1); the steps overshoot and oscillate: lower its rate (1)"
    );
    // Not a timing assertion on speed: 1e8 steps would take minutes, 1,000 take microseconds.
    assert!(start.elapsed().as_secs() < 60);
}

/// The same judgement at the end of a short descent; and none where the descent starts at
/// the minimum (no decrease was promised) or converges slowly (it does get lower).
#[test]
fn only_a_descent_that_goes_nowhere_is_an_error() {
    let err = run_error(
        "model m {
           output y : real[2]
           energy sqnorm(y - [1, 2])
           infer y by descent(steps = 10, rate = 1, init = 0)
         }",
    );
    assert!(
        err.starts_with("descent on `y` made no progress: after 10 of 10 steps the energy (5)"),
        "{err}"
    );
    let (y, energy) = infer(
        "model m {
           output y : real
           energy (y - 2)^2
           infer y by descent(steps = 10, rate = 0.1, init = 2)
         }",
    );
    assert_eq!((y, energy), (vec![2.0], 0.0));
    let (y, _) = infer(
        "model m {
           output y : real
           energy (y - 2)^2
           infer y by descent(steps = 5000, rate = 0.0001, init = 0)
         }",
    );
    assert!(y[0] > 1.0 && y[0] < 2.0, "{y:?}");
}
