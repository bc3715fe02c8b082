//! Helpers shared by the `run_*` tests: load a checked model from a file or from source, run
//! it through the library as `ebmc run` does, and read figures out of its report; and one IR
//! graph run natively ([`run_native`]) for the JIT tests.

#![allow(dead_code)] // each test binary uses its own subset

use ebmc::check::Model;
use ebmc::driver;
use ebmc::runtime::metrics::{OutputMetrics, Report};
use ebmc::runtime::run::{self, RunOptions, RunOutcome};
use std::path::{Path, PathBuf};

/// `examples/` of the crate.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The only model of `source`, which must check without any diagnostic (warnings included,
/// unless `warnings_ok`).
pub fn model_of(source: &str, warnings_ok: bool) -> Model {
    let checked = driver::check(source.as_bytes());
    let shown: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error() || !warnings_ok)
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(shown.is_empty(), "diagnostics:\n{}", shown.join("\n"));
    assert_eq!(checked.models.len(), 1, "one model expected");
    checked.models.into_iter().next().expect("one model")
}

/// The source of `examples/NAME.ebm`.
pub fn example_source(name: &str) -> String {
    std::fs::read_to_string(examples().join(format!("{name}.ebm")))
        .unwrap_or_else(|e| panic!("examples/{name}.ebm: {e}"))
}

/// Runs a model whose data paths are relative to `examples/`.
pub fn run(model: &Model, opts: &RunOptions) -> RunOutcome {
    run::run(model, &examples(), opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("model `{}`: {e}", model.name))
}

/// The same model and split with its initial parameters: `train` removed, the training seed
/// passed as `--seed` so that the init and the data split are those a training run starts from.
pub fn run_untrained(model: &Model) -> RunOutcome {
    let seed = model.train.as_ref().expect("a model with `train`").seed;
    let mut m = model.clone();
    m.train = None;
    run(
        &m,
        &RunOptions {
            seed: Some(seed),
            ..RunOptions::default()
        },
    )
}

/// Which set of a report.
#[derive(Clone, Copy, Debug)]
pub enum Set {
    Train,
    Test,
}

/// Accuracy (discrete output) or R² (real output) of the only output, on one set.
pub fn score(report: &Report, set: Set) -> f64 {
    match metric(report, set) {
        OutputMetrics::Discrete { accuracy, .. } => accuracy,
        // An undefined R² fails every comparison a test makes with it.
        OutputMetrics::Real { r2, .. } => r2.unwrap_or(f64::NAN),
        OutputMetrics::Density { nll, .. } => nll.unwrap_or(f64::NAN),
    }
}

/// The metrics of the only output, on one set.
pub fn metric(report: &Report, set: Set) -> OutputMetrics {
    let Report::Data { train, test } = report else {
        panic!("a report with data expected");
    };
    let e = match set {
        Set::Train => train,
        Set::Test => test.as_ref().expect("a test set"),
    };
    assert_eq!(e.outputs.len(), 1, "one output expected");
    e.outputs[0].1
}

/// The mean loss on one set.
pub fn loss(report: &Report, set: Set) -> f64 {
    let Report::Data { train, test } = report else {
        panic!("a report with data expected");
    };
    let e = match set {
        Set::Train => train,
        Set::Test => test.as_ref().expect("a test set"),
    };
    e.loss.expect("a model with a loss")
}

/// Runs `g` natively at `point` (one input slice per graph input); the outputs, packed.
pub fn run_native(
    g: &ebmc::ir::Graph,
    opts: ebmc::jit::JitOptions,
    point: &[Vec<f64>],
) -> Result<Vec<f64>, ebmc::jit::JitError> {
    use ebmc::jit::{self, Entry};
    let code = jit::compile_entries(&[Entry::new("f", g)], opts)?;
    let f = &code.functions()[0];
    let slices: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
    let mut inputs = Vec::new();
    f.pack(&slices, &mut inputs).unwrap();
    let mut out = vec![f64::NAN; f.layout().outputs];
    let mut scratch = vec![f64::NAN; f.layout().scratch];
    f.call(&inputs, &mut out, &mut scratch)?;
    Ok(out)
}

/// The exact marginal of `v` of the small RBM of the sampler tests (`tests/sample.rs`,
/// `tests/rbm.rs`: 5 visible and 3 hidden spins, `E = −(a·v + b·h + h·(W v))` with the
/// weights below), by summing `exp(−E)` over all 8 values of `h`: 32 states indexed as
/// [`state_index`].
pub fn rbm_marginal() -> Vec<f64> {
    let w = [
        [0.8, -0.6, 0.5, 0.0, 0.3],
        [-0.4, 0.7, 0.0, 0.9, -0.5],
        [0.3, 0.3, -0.8, 0.4, 0.6],
    ];
    let (a, b) = ([0.2, -0.1, 0.0, 0.3, -0.2], [-0.2, 0.1, 0.3]);
    let spins = |k: usize, n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| if k >> (n - 1 - i) & 1 == 1 { 1.0 } else { -1.0 })
            .collect()
    };
    let mut p = vec![0.0; 32];
    for (kv, pv) in p.iter_mut().enumerate() {
        let v = spins(kv, 5);
        for kh in 0..8 {
            let h = spins(kh, 3);
            let mut e = 0.0;
            for i in 0..5 {
                e -= a[i] * v[i];
            }
            for j in 0..3 {
                e -= b[j] * h[j];
                for i in 0..5 {
                    e -= h[j] * w[j][i] * v[i];
                }
            }
            *pv += (-e).exp();
        }
    }
    let z: f64 = p.iter().sum();
    p.iter().map(|x| x / z).collect()
}

/// Index of a spin state: the first spin the most significant bit, +1 as 1.
pub fn state_index(s: &[f64]) -> usize {
    s.iter().fold(0, |k, x| 2 * k + usize::from(*x > 0.0))
}

/// Pearson's chi-square of `counts` (n independent draws: one per chain, its last state)
/// against `p`, and its critical value at α = 0.001 with `p.len() − 1` degrees of freedom
/// (Wilson–Hilferty). Every expected count must be over 5, the chi-square approximation's
/// condition (asserted); a sampler whose law differs by δ in total variation moves the
/// statistic by about n·δ², so 20,000 chains detect a δ of a few percent.
pub fn chi_square(counts: &[usize], p: &[f64]) -> (f64, f64) {
    let n: usize = counts.iter().sum();
    let chi2: f64 = counts
        .iter()
        .zip(p)
        .map(|(&o, &q)| {
            let e = n as f64 * q;
            assert!(e >= 5.0, "expected count {e}");
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let df = (p.len() - 1) as f64;
    let crit = df * (1.0 - 2.0 / (9.0 * df) + 3.09 * (2.0 / (9.0 * df)).sqrt()).powi(3);
    (chi2, crit)
}
