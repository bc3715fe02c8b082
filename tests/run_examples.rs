//! Every example of `examples/` checks without a diagnostic and runs out of the box; the
//! examples on real data reach a stated figure on their test split (their own seed and
//! split, as `ebmc run examples/NAME.ebm` prints it). scikit-learn's figures on the same
//! splits are in README.md ("Results on real data").
//!
//! The models with data but no classical metric are judged against themselves untrained:
//! the same model, init and split with `train` removed (see `common::run_untrained`).

mod common;

use common::{example_source, loss, model_of, run, run_untrained, score, Set};
use ebmc::runtime::metrics::Report;
use ebmc::runtime::run::RunOptions;

/// Checks and runs `examples/NAME.ebm`; returns its test figure (accuracy or R²).
fn test_score(name: &str) -> f64 {
    let model = model_of(&example_source(name), false);
    let outcome = run(&model, &RunOptions::default());
    assert!(outcome.trained, "{name} trains");
    score(&outcome.report, Set::Test)
}

#[test]
fn digits_reaches_093_test_accuracy() {
    let acc = test_score("digits");
    assert!(acc >= 0.93, "digits test accuracy {acc}");
}

#[test]
fn breast_cancer_reaches_094_test_accuracy() {
    let acc = test_score("binary");
    assert!(acc >= 0.94, "breast cancer test accuracy {acc}");
}

#[test]
fn iris_reaches_090_test_accuracy() {
    let acc = test_score("iris");
    assert!(acc >= 0.90, "iris test accuracy {acc}");
}

#[test]
fn wine_with_a_hidden_layer_and_hinge_reaches_093_test_accuracy() {
    let acc = test_score("wine");
    assert!(acc >= 0.93, "wine test accuracy {acc}");
}

#[test]
fn diabetes_reaches_035_test_r2() {
    let r2 = test_score("regression");
    assert!(r2 >= 0.35, "diabetes test R² {r2}");
}

/// Implicit regression of y = x² with a hinge loss: inference by descent on the learned
/// energy recovers y from x (the untrained energy predicts nothing).
#[test]
fn implicit_regression_of_the_square_learns_y_from_x() {
    let r2 = test_score("implicit");
    assert!(r2 >= 0.7, "implicit y = x² test R² {r2}");
}

/// The latent model completes the lower half of a digit: better than untrained, and at least
/// a quarter of the variance explained.
#[test]
fn latent_model_completes_digits_better_than_untrained() {
    let model = model_of(&example_source("latent"), false);
    let trained = score(&run(&model, &RunOptions::default()).report, Set::Test);
    let untrained = score(&run_untrained(&model).report, Set::Test);
    assert!(
        trained >= 0.25 && trained > untrained + 0.2,
        "latent test R² {trained}, untrained {untrained}"
    );
}

/// The contrastive model ranks the right lower half above the others: its test hinge loss (on
/// the most offending lower half among 32 test rows) falls to under 60 % of the untrained one.
#[test]
fn contrastive_model_learns_to_rank_matching_halves() {
    let model = model_of(&example_source("contrastive"), false);
    let trained = loss(&run(&model, &RunOptions::default()).report, Set::Test);
    let untrained = loss(&run_untrained(&model).report, Set::Test);
    assert!(
        trained < 0.6 * untrained,
        "contrastive test loss {trained}, untrained {untrained}"
    );
}

/// Rosenbrock is a pure inference model: it runs and reports what it inferred
/// (the minimum itself is checked in tests/run_infer.rs).
#[test]
fn rosenbrock_runs_without_data() {
    let model = model_of(&example_source("rosenbrock"), false);
    let outcome = run(&model, &RunOptions::default());
    assert!(matches!(outcome.report, Report::Infer { .. }));
}

/// `infer y by enumerate(beta = 1)` on iris: the test set's probabilities score a log loss
/// and an ECE (15 bins) well below those of guessing (ln 3 = 1.10, and an ECE of 0.33 for a
/// uniform guess among equally frequent classes); reached: 0.084 and 0.036.
#[test]
fn iris_probabilities_are_calibrated() {
    use ebmc::runtime::metrics::OutputMetrics;
    let model = model_of(&example_source("iris_proba"), false);
    let outcome = run(&model, &RunOptions::default());
    let Report::Data {
        test: Some(test), ..
    } = &outcome.report
    else {
        panic!("a test set");
    };
    let OutputMetrics::Discrete {
        accuracy,
        calibration: Some(c),
    } = test.outputs[0].1
    else {
        panic!("probabilities for a class output");
    };
    assert!(accuracy >= 0.90, "iris_proba test accuracy {accuracy}");
    assert!(c.log_loss < 0.2, "test log loss {}", c.log_loss);
    assert!(c.ece < 0.1, "test ECE {}", c.ece);
}

/// The 2-D density examples, shortened to 2 epochs (80 steps; the full 3,000 steps are run by
/// hand, with the README's measurements): each trains and reports a finite test energy and NLL,
/// and those trained by dsm already improve on the untrained model's NLL. (In 64 steps pcd's
/// persistent chains and nce's `log Z` have not settled: their NLL may still be above it.)
#[test]
fn density_examples_train_end_to_end() {
    for name in [
        "eight_gaussians_dsm",
        "eight_gaussians_nce",
        "eight_gaussians_pcd",
        "two_moons_dsm",
        "two_moons_nce",
        "two_moons_pcd",
    ] {
        let mut model = model_of(&example_source(name), false);
        let before = score(&run_untrained(&model).report, Set::Test);
        model.train.as_mut().expect("train").epochs = 2;
        let outcome = run(&model, &RunOptions::default());
        assert!(outcome.trained, "{name} trains");
        let after = score(&outcome.report, Set::Test);
        assert!(after.is_finite(), "{name}: test NLL {after}");
        if name.ends_with("dsm") {
            assert!(
                after < before - 0.05,
                "{name}: test NLL {after}, untrained {before}"
            );
        }
    }
}

/// The RBM on binarised digits, trained as written (CD-1 by block Gibbs, 20 epochs): its
/// held-out pseudo-log-likelihood reaches scikit-learn's `BernoulliRBM` with the same hidden
/// size and epochs (−15.4 nats/image over 5 seeds, `benches/peers/rbm.py`; about −16.5 in the
/// issue), where the untrained model scores 64 · log σ(0) ≈ −44.4.
#[test]
fn digits_rbm_reaches_scikit_learns_pseudo_likelihood() {
    let pll = |r: &Report| match common::metric(r, Set::Test) {
        ebmc::runtime::metrics::OutputMetrics::Density { pll, .. } => pll.expect("a pll"),
        m => panic!("{m:?}"),
    };
    let mut model = model_of(&example_source("digits_rbm"), false);
    // Annealed importance sampling (its NLL) is tested in tests/rbm.rs; here it would double
    // the time of a debug build's run.
    model.partition = None;
    let before = pll(&run_untrained(&model).report);
    let outcome = run(&model, &RunOptions::default());
    assert!(outcome.trained);
    let after = pll(&outcome.report);
    assert!(before < -40.0, "untrained pll {before}");
    assert!(after >= -16.5, "test pll {after}");
}

/// Every `.ebm` of `examples/` is covered by a test above.
#[test]
fn every_example_is_tested() {
    let mut names: Vec<String> = std::fs::read_dir(common::examples())
        .expect("examples/")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "ebm").then_some(stem)
        })
        .collect();
    names.sort();
    let tested = [
        "binary",
        "contrastive",
        "digits",
        "digits_rbm",
        "eight_gaussians_dsm",
        "eight_gaussians_nce",
        "eight_gaussians_pcd",
        "implicit",
        "iris",
        "iris_proba",
        "latent",
        "regression",
        "rosenbrock",
        "two_moons_dsm",
        "two_moons_nce",
        "two_moons_pcd",
        "wine",
    ];
    assert_eq!(names, tested);
}
