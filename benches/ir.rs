//! IR speed: lowering + differentiation + simplification of the 784→256→10 MLP energy, and of
//! the NLL loss over 10 classes. Run with `cargo bench --bench ir`. The baseline, measured in
//! the same run, is parse + check of the same source (the stage before).

use ebmc::check::Model;
use ebmc::ir::InputKind;
use ebmc::{driver, grad, ir};
use std::time::Instant;

const MLP: &str = "model mlp { input x : real[784]  output y : real[10]
  param W1 : real[256, 784]  param b1 : real[256]  param W2 : real[10, 256]  param b2 : real[10]
  energy 0.5 * sqnorm(W2 @ tanh(W1 @ x + b1) + b2 - y)
  loss energy }";
const NLL: &str = "model nll { input x : real[64]  output y : class[10]
  param W : real[10, 64]  param b : real[10]
  energy (W @ x + b)[y]
  loss nll(beta = 1) }";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn model(src: &str) -> Model {
    driver::check(src.as_bytes()).models.remove(0)
}

fn main() {
    let (mlp, nll) = (model(MLP), model(NLL));
    let energy = time(200, || {
        let g = ir::energy(&mlp);
        std::hint::black_box(grad::energy_gradient(&g));
    });
    let loss = time(200, || {
        let g = ir::loss(&nll).unwrap().unwrap();
        std::hint::black_box(grad::with_gradients(&g, "loss", &[InputKind::Param]));
    });
    let front = time(200, || {
        std::hint::black_box(driver::check(MLP.as_bytes()));
    });
    println!("ir: lower + differentiate + simplify (median of 200)");
    println!(
        "  MLP 784→256→10 energy + gradient   {:8.1} µs",
        energy * 1e6
    );
    println!("  NLL over 10 classes + gradient     {:8.1} µs", loss * 1e6);
    println!(
        "  parse + check of the MLP (baseline) {:7.1} µs   ratio {:.1}x",
        front * 1e6,
        energy / front
    );
}
