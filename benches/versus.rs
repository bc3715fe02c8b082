//! ebmc against JAX and PyTorch on M1, M2, M4 and the digits MLP: training samples/s of one
//! SGD epoch (batch 32) on one thread and on two, and inference rows/s of y*, over 10,000
//! synthetic rows of the peers' shapes and settings (`benches/peers/models.py`, whose
//! docstring lists the models).
//!
//! Run `benches/peers/run.sh`: it runs the peers, which write `benches/peers/results.json`,
//! then this bench, which prints ebmc's figures beside theirs and the ratios (ebmc / peer,
//! higher is better). Alone (`cargo bench --bench versus`) it prints ebmc's figures and the
//! ratios against whatever results file is there, saying how old it is; names after `--`
//! choose models (`cargo bench --bench versus -- m2 digits_mlp`).

use ebmc::check::{Model, VarId};
use ebmc::compile::{self, Backend};
use ebmc::rng::Rng;
use ebmc::runtime::data::{Dataset, VarData};
use ebmc::runtime::session::{Point, Session};
use ebmc::runtime::{infer, train};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const N: usize = 10_000;

const M1: &str = "model m1 {
  input x : real[64]  output y : real[16]
  param W : real[16, 64] ~ normal(0, 0.05)  param b : real[16] = 0
  energy 0.5 * sqnorm(W @ x + b - y)
  loss energy
  infer y by descent(steps = 10, rate = 0.1, tol = 0)
  train by sgd(rate = 0.01, epochs = 1, batch = 32)
}";

const M2: &str = "model m2 {
  input x : real[784]  output y : real[10]
  param W1 : real[256, 784] ~ normal(0, 0.05)  param b1 : real[256] = 0
  param W2 : real[10, 256] ~ normal(0, 0.05)  param b2 : real[10] = 0
  energy 0.5 * sqnorm(W2 @ tanh(W1 @ x + b1) + b2 - y)
  loss energy
  infer y by descent(steps = 10, rate = 0.1, tol = 0)
  train by sgd(rate = 0.01, epochs = 1, batch = 32)
}";

const M4: &str = "model m4 {
  input x : real[32]  output y : real[32]
  param A : real[64, 32] ~ normal(0, 0.05)  param a : real[64] = 0
  param B : real[64, 32] ~ normal(0, 0.05)  param c : real[64] = 0
  energy 0.5 * sqnorm(tanh(A @ x + a) - tanh(B @ y + c))
  loss hinge(margin = 0.5) negatives descent(steps = 20, rate = 0.1, radius = 0.3)
  infer y by descent(steps = 100, rate = 0.1, tol = 0)
  train by sgd(rate = 0.01, epochs = 1, batch = 32)
}";

const DIGITS_MLP: &str = "model digits_mlp {
  input x : real[64]  output y : class[10]
  param W1 : real[128, 64] ~ normal(0, 0.05)  param b1 : real[128] = 0
  param W2 : real[10, 128] ~ normal(0, 0.05)  param b2 : real[10] = 0
  energy (W2 @ tanh(W1 @ x + b1) + b2)[y]
  loss nll(beta = 1)
  infer y by enumerate
  train by sgd(rate = 0.05, epochs = 1, batch = 32)
}";

/// `N` rows of `x` uniform in [−1, 1] and `y` a fixed random map of `x` plus noise (a
/// class for a class output), as the peers' script makes them (other numbers, same shapes).
fn dataset(model: &Model) -> Dataset {
    let mut rng = Rng::new(7);
    let x = model.var_named("x").unwrap();
    let y = model.var_named("y").unwrap();
    let (dx, dy) = (model.var(x).ty.elements(), model.var(y).ty.elements());
    let classes = match model.var(y).ty {
        ebmc::types::Ty::Class(k) => Some(k),
        _ => None,
    };
    let t: Vec<f64> = (0..dx * dy)
        .map(|_| rng.uniform_in(-1.0, 1.0) / (dx as f64).sqrt())
        .collect();
    let (mut xs, mut ys) = (Vec::with_capacity(N * dx), Vec::with_capacity(N * dy));
    for _ in 0..N {
        let row: Vec<f64> = (0..dx).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
        match classes {
            Some(k) => ys.push((rng.uniform_in(0.0, k as f64).floor()).min(k as f64 - 1.0)),
            None => {
                for i in 0..dy {
                    let dot: f64 = (0..dx).map(|j| t[i * dx + j] * row[j]).sum();
                    ys.push(dot.tanh() + 0.01 * rng.uniform_in(-1.0, 1.0));
                }
            }
        }
        xs.extend(row);
    }
    let var = |id: VarId, values: Vec<f64>| {
        let v = model.var(id);
        VarData {
            var: id,
            name: v.name.clone(),
            width: v.ty.elements(),
            ty: v.ty.clone(),
            values,
            columns: Vec::new(),
        }
    };
    Dataset {
        lines: (2..N + 2).collect(),
        vars: vec![var(x, xs), var(y, ys)],
    }
}

fn checked(source: &str) -> Model {
    let checked = ebmc::driver::check(source.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked.models.into_iter().next().unwrap()
}

/// Samples/s of one training epoch on `threads` threads (best of three epochs from the same
/// start).
fn train_rate(model: &Model, data: &Dataset, threads: usize) -> f64 {
    let t = model.train.clone().unwrap();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut s = Session::compile(model, Backend::Jit, 1).unwrap();
        let start = Instant::now();
        train::train(&mut s, data, &t, threads, &mut |_| {}).unwrap();
        best = best.min(start.elapsed().as_secs_f64());
    }
    N as f64 / best
}

/// Rows/s of inference of y* over every row, as `ebmc run` infers a data set: staged, the
/// rows prepared by batches.
fn infer_rate(model: &Model, data: &Dataset, threads: usize) -> f64 {
    let code = Arc::new(compile::compile(model, &compile::Options::new(Backend::Jit)).unwrap());
    let mut s = Session::new(&code, 1).unwrap();
    let y = model.var_named("y").unwrap().0 as usize;
    let mut p = Point::zeros(model);
    let mut rng = Rng::new(1);
    let all: Vec<usize> = (0..N).collect();
    let mut points = vec![Point::zeros(model); compile::BATCH];
    let mut energies = [0.0; compile::BATCH];
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        // On several threads, whole batches of rows spread over them, as `ebmc run` does.
        let ready = |r: usize, q: &mut Point| {
            train::load_row(data, r, q);
            q.values[y].iter_mut().for_each(|v| *v = 0.0);
        };
        let answers = infer::infer_all_rows(&mut s, data, threads, false, &ready).unwrap();
        for rows in all.chunks(compile::BATCH) {
            if answers.as_ref().is_some_and(|a| a.covers(rows[0])) {
                continue;
            }
            // The rows descend together when they can, as `ebmc run` infers them.
            let (ps, es) = (&mut points[..rows.len()], &mut energies[..rows.len()]);
            for (q, &row) in ps.iter_mut().zip(rows) {
                train::load_row(data, row, q);
                q.values[y].iter_mut().for_each(|v| *v = 0.0);
            }
            if s.infer_rows(data, rows, ps, es, None, &mut rng).unwrap() {
                continue;
            }
            let prepared = s.prepare_rows(data, rows).unwrap();
            for (k, &row) in rows.iter().enumerate() {
                train::load_row(data, row, &mut p);
                p.values[y].iter_mut().for_each(|v| *v = 0.0);
                if prepared {
                    s.use_prepared_row(k, &p);
                }
                s.infer(&mut p, &mut rng).unwrap();
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box((&p, &points));
    N as f64 / best
}

/// The peers' figures of one model: (peer and version, train samples/s, infer rows/s).
fn peers(results: &Value, model: &str) -> Vec<(String, f64, f64)> {
    let mut out = Vec::new();
    if let Some(ps) = results["peers"].as_object() {
        for (peer, r) in ps {
            let m = &r["models"][model];
            if let (Some(t), Some(i)) = (
                m["train_samples_per_s"].as_f64(),
                m["infer_rows_per_s"].as_f64(),
            ) {
                let version = r["version"].as_str().unwrap_or("?");
                out.push((format!("{peer} {version}"), t, i));
            }
        }
    }
    out
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/results.json");
    let results: Value = match std::fs::read(&path) {
        Ok(bytes) => {
            let age = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map_or(String::from("of unknown age"), |d| {
                    format!("{} s old", d.as_secs())
                });
            println!("peers: {} ({age})", path.display());
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        }
        Err(_) => {
            println!("peers: no {} (run benches/peers/run.sh)", path.display());
            Value::Null
        }
    };
    println!(
        "{:<11} {:>14} {:>14} {:>9} {:>13} {:>13} {:>9} | {:<16} {:>14} {:>8} {:>13} {:>8}",
        "model",
        "train 1 thr/s",
        "train 2 thr/s",
        "2 vs 1",
        "infer rows/s",
        "infer 2 thr/s",
        "2 vs 1",
        "peer",
        "train/s",
        "ratio",
        "infer rows/s",
        "ratio"
    );
    // `cargo bench --bench versus -- m2 m4`: only those models.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for (name, source) in [
        ("m1", M1),
        ("m2", M2),
        ("m4", M4),
        ("digits_mlp", DIGITS_MLP),
    ] {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let model = checked(source);
        let data = dataset(&model);
        let one = train_rate(&model, &data, 1);
        let two = train_rate(&model, &data, 2);
        let infer = infer_rate(&model, &data, 1);
        let infer2 = infer_rate(&model, &data, 2);
        let ours = format!(
            "{name:<11} {one:>14.0} {two:>14.0} {:>8.2}× {infer:>13.0} {infer2:>13.0} {:>8.2}×",
            two / one,
            infer2 / infer
        );
        let theirs = peers(&results, name);
        if theirs.is_empty() {
            println!("{ours} | (no peer figures)");
        }
        for (peer, t, i) in theirs {
            println!(
                "{ours} | {peer:<16} {t:>14.0} {:>7.2}× {i:>13.0} {:>7.2}×",
                one / t,
                infer / i
            );
        }
    }
}
