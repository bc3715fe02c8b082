//! Batching: the batched graph's loss and parameter gradient equal the sums over the examples
//! of the per-example ones (interpreter, relative 1e-12), for the dense models batching
//! covers; models it does not cover are refused, not mis-compiled.

use ebmc::grad;
use ebmc::interp;
use ebmc::ir::{self, InputKind};
use ebmc::rng::Rng;
use ebmc::types::Ty;

const B: usize = 8;

fn loss_graph(source: &str) -> ir::Graph {
    let checked = ebmc::driver::check(source.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    ir::loss(&checked.models[0]).unwrap().unwrap()
}

/// Random values for each input: params shared, per-example inputs one row per example.
fn values(g: &ir::Graph, rng: &mut Rng) -> Vec<Vec<Vec<f64>>> {
    g.inputs
        .iter()
        .map(|inp| {
            let n = inp.shape().len();
            let rows = if inp.kind == InputKind::Param { 1 } else { B };
            (0..rows)
                .map(|_| match &inp.ty {
                    Ty::Sign(s) => (0..s.len())
                        .map(|_| if rng.below(2) == 0 { -1.0 } else { 1.0 })
                        .collect(),
                    Ty::Class(k) => vec![rng.below(*k as u64) as f64],
                    _ => (0..n).map(|_| 0.5 * rng.normal()).collect(),
                })
                .collect()
        })
        .collect()
}

fn check(source: &str) {
    let g = loss_graph(source);
    let per = grad::with_gradients(&g, "loss", &[InputKind::Param]);
    let batched = ir::batch(&g, "loss", B).expect("a dense model batches");
    ir::verify(&batched).unwrap();
    let batched = grad::with_gradients(&batched, "loss", &[InputKind::Param]);
    let mut rng = Rng::new(11);
    let vals = values(&g, &mut rng);
    // Sums over the examples, one evaluation each.
    let mut sums: Vec<(String, Vec<f64>)> = Vec::new();
    for b in 0..B {
        let slots: Vec<&[f64]> = vals
            .iter()
            .map(|v| v[if v.len() == 1 { 0 } else { b }].as_slice())
            .collect();
        let out = interp::eval_slots(&per, &slots).unwrap();
        for (name, _) in &per.outputs {
            if name != "loss" && !name.starts_with("grad.") {
                continue;
            }
            let v = out.output(name).unwrap();
            match sums.iter_mut().find(|(n, _)| n == name) {
                Some((_, acc)) => acc.iter_mut().zip(v).for_each(|(a, x)| *a += x),
                None => sums.push((name.clone(), v.to_vec())),
            }
        }
    }
    let packed: Vec<Vec<f64>> = vals.iter().map(|v| v.concat()).collect();
    let slots: Vec<&[f64]> = packed.iter().map(|v| v.as_slice()).collect();
    let out = interp::eval_slots(&batched, &slots).unwrap();
    for (name, want) in &sums {
        let got = out
            .output(name)
            .unwrap_or_else(|| panic!("batched graph lacks {name}"));
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{name}: {g} vs {w}\n{batched}"
            );
        }
    }
}

#[test]
fn linear_regression_with_a_matrix() {
    check(
        "model m { input x : real[6] output y : real[3] param W : real[3, 6] param b : real[3]
      energy 0.5 * sqnorm(W @ x + b - y) loss energy }",
    );
}

#[test]
fn mlp_with_tanh() {
    check(
        "model m { input x : real[7] output y : real[2] param W1 : real[5, 7] param b1 : real[5]
      param W2 : real[2, 5] param b2 : real[2]
      energy 0.5 * sqnorm(W2 @ tanh(W1 @ x + b1) + b2 - y) loss energy }",
    );
}

#[test]
fn scalar_regression() {
    check(
        "model m { input x : real[4] output y : real param w : real[4] param b : real
      energy 0.5 * (dot(w, x) + b - y)^2 loss energy }",
    );
}

#[test]
fn vector_times_matrix_slices_and_elementwise_forms() {
    check("model m { input x : real[4] output y : real[3] param W : real[4, 3] param s : real
      energy sum(relu(x @ W - y)) + s * sqnorm(x[1:3]) + sum(max(y, 0.5) * sigmoid(y)) loss energy }");
}

/// Class outputs: the label indexes the answers' energies through a one-hot mask of the
/// batch's labels, and the losses' log-sum-exp, min and max over the answers are taken per
/// row (column by column) — every loss a class output takes.
#[test]
fn class_outputs_batch() {
    for loss in [
        "nll(beta = 1)",
        "nll(beta = 3)",
        "hinge(margin = 1)",
        "perceptron",
        "log",
        "mce",
        "lvq2(delta = 0.5)",
        "square_square(margin = 1)",
        "square_exp(gamma = 1)",
        "mee(beta = 1)",
    ] {
        // A score table indexed by the label (its rows by a mask product), and each example's
        // own scores indexed (masked and summed).
        check(&format!(
            "model m {{ input x : real[4] output y : class[3] param W : real[3, 4]
      energy (W @ x)[y] loss {loss} }}"
        ));
        check(&format!(
            "model m {{ input x : real[4] output y : class[5] param W : real[5, 4]
      param b : real[5] energy -(tanh(W @ x + b))[y] + 0.1 * sqnorm(W @ x) loss {loss} }}"
        ));
    }
}

/// The batched log-sum-exp is shifted by each row's own max: energies of ±1000 stay finite
/// and equal the per-example loss.
#[test]
fn batched_log_sum_exp_is_stable_per_row() {
    check(
        "model m { input x : real[4] output y : class[4] param W : real[4, 4]
      energy 1000 * (W @ x)[y] loss nll(beta = 1) }",
    );
}

/// A sign output: its answers are enumerated and stacked, and batch as class answers do.
#[test]
fn sign_outputs_batch() {
    check(
        "model m { input x : real[4] output y : sign param w : real[4] param b : real
      energy -y * (dot(w, x) + b) loss log }",
    );
}
