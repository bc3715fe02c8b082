//! Training throughput: examples per second of SGD (batch 32, one thread) on M1 (linear
//! regression, 64 → 16) and M2 (MLP 784 → 256 → 10, tanh), 10,000 examples, against a
//! hand-written Rust SGD loop with hand-derived gradients over the same data, in the same run.
//!
//! Run with `cargo bench --bench train`. The ratio is ebmc / hand-written (higher is better).

use ebmc::check::VarId;
use ebmc::compile;
use ebmc::compile::Backend;
use ebmc::rng::Rng;
use ebmc::runtime::data::{Dataset, VarData};
use ebmc::runtime::session::{Point, Session};
use ebmc::runtime::train;
use std::sync::Arc;
use std::time::Instant;

const N: usize = 10_000;
const BATCH: usize = 32;
const RATE: f64 = 0.01;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// `N` examples of `(x, y)` with `y` a fixed random linear map of `x` plus noise.
fn data(dx: usize, dy: usize) -> (Vec<f64>, Vec<f64>) {
    let mut r = Lcg(7);
    let t: Vec<f64> = (0..dx * dy)
        .map(|_| r.next() / (dx as f64).sqrt())
        .collect();
    let mut xs = Vec::with_capacity(N * dx);
    let mut ys = Vec::with_capacity(N * dy);
    for _ in 0..N {
        let x: Vec<f64> = (0..dx).map(|_| r.next()).collect();
        for i in 0..dy {
            ys.push((0..dx).map(|j| t[i * dx + j] * x[j]).sum::<f64>() + 0.01 * r.next());
        }
        xs.extend(x);
    }
    (xs, ys)
}

fn dataset(model: &ebmc::check::Model, xs: &[f64], ys: &[f64]) -> Dataset {
    let var = |name: &str, values: &[f64]| {
        let id: VarId = model.var_named(name).unwrap();
        let ty = model.var(id).ty.clone();
        VarData {
            var: id,
            name: name.into(),
            width: ty.elements(),
            ty,
            values: values.to_vec(),
            columns: Vec::new(),
        }
    };
    Dataset {
        lines: (2..N + 2).collect(),
        vars: vec![var("x", xs), var("y", ys)],
    }
}

/// Examples per second of one epoch of `ebmc`'s training loop.
fn ebmc_rate(source: &str, xs: &[f64], ys: &[f64], backend: Backend, threads: usize) -> f64 {
    let checked = ebmc::driver::check(source.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.models[0];
    let set = dataset(model, xs, ys);
    let mut s = Session::compile(model, backend, 1).unwrap();
    let t = model.train.clone().unwrap();
    let start = Instant::now();
    train::train(&mut s, &set, &t, threads, &mut |_| {}).unwrap();
    N as f64 / start.elapsed().as_secs_f64()
}

/// Hand-written SGD on E = ½‖W x + b − y‖² (per-example gradients, averaged per batch).
fn linreg_rate(xs: &[f64], ys: &[f64], dx: usize, dy: usize) -> f64 {
    let mut w = vec![0.01; dy * dx];
    let mut b = vec![0.0; dy];
    let (mut gw, mut gb, mut r) = (vec![0.0; dy * dx], vec![0.0; dy], vec![0.0; dy]);
    let start = Instant::now();
    for batch in (0..N).collect::<Vec<_>>().chunks(BATCH) {
        gw.iter_mut().for_each(|g| *g = 0.0);
        gb.iter_mut().for_each(|g| *g = 0.0);
        for &n in batch {
            let x = &xs[n * dx..(n + 1) * dx];
            let y = &ys[n * dy..(n + 1) * dy];
            for i in 0..dy {
                r[i] = w[i * dx..(i + 1) * dx]
                    .iter()
                    .zip(x)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    + b[i]
                    - y[i];
                gb[i] += r[i];
                for (g, xj) in gw[i * dx..(i + 1) * dx].iter_mut().zip(x) {
                    *g += r[i] * xj;
                }
            }
        }
        let k = RATE / batch.len() as f64;
        w.iter_mut().zip(&gw).for_each(|(w, g)| *w -= k * g);
        b.iter_mut().zip(&gb).for_each(|(b, g)| *b -= k * g);
    }
    std::hint::black_box(&w);
    N as f64 / start.elapsed().as_secs_f64()
}

/// Hand-written SGD on E = ½‖W2 tanh(W1 x + b1) + b2 − y‖².
fn mlp_rate(xs: &[f64], ys: &[f64], dx: usize, dh: usize, dy: usize) -> f64 {
    let mut r0 = Lcg(3);
    let mut w1: Vec<f64> = (0..dh * dx).map(|_| r0.next() * 0.05).collect();
    let mut w2: Vec<f64> = (0..dy * dh).map(|_| r0.next() * 0.05).collect();
    let (mut b1, mut b2) = (vec![0.0; dh], vec![0.0; dy]);
    let (mut gw1, mut gw2, mut gb1, mut gb2) = (
        vec![0.0; dh * dx],
        vec![0.0; dy * dh],
        vec![0.0; dh],
        vec![0.0; dy],
    );
    let (mut h, mut r, mut dhv) = (vec![0.0; dh], vec![0.0; dy], vec![0.0; dh]);
    let start = Instant::now();
    for batch in (0..N).collect::<Vec<_>>().chunks(BATCH) {
        for g in [&mut gw1, &mut gw2, &mut gb1, &mut gb2] {
            g.iter_mut().for_each(|g| *g = 0.0);
        }
        for &n in batch {
            let x = &xs[n * dx..(n + 1) * dx];
            let y = &ys[n * dy..(n + 1) * dy];
            for i in 0..dh {
                h[i] = (w1[i * dx..(i + 1) * dx]
                    .iter()
                    .zip(x)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    + b1[i])
                    .tanh();
            }
            for i in 0..dy {
                r[i] = w2[i * dh..(i + 1) * dh]
                    .iter()
                    .zip(&h)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    + b2[i]
                    - y[i];
                gb2[i] += r[i];
                for (g, hj) in gw2[i * dh..(i + 1) * dh].iter_mut().zip(&h) {
                    *g += r[i] * hj;
                }
            }
            for j in 0..dh {
                let back: f64 = (0..dy).map(|i| w2[i * dh + j] * r[i]).sum();
                dhv[j] = back * (1.0 - h[j] * h[j]);
                gb1[j] += dhv[j];
                for (g, xk) in gw1[j * dx..(j + 1) * dx].iter_mut().zip(x) {
                    *g += dhv[j] * xk;
                }
            }
        }
        let k = RATE / batch.len() as f64;
        for (w, g) in [
            (&mut w1, &gw1),
            (&mut w2, &gw2),
            (&mut b1, &gb1),
            (&mut b2, &gb2),
        ] {
            w.iter_mut().zip(g.iter()).for_each(|(w, g)| *w -= k * g);
        }
    }
    std::hint::black_box(&w1);
    N as f64 / start.elapsed().as_secs_f64()
}

/// Rows per second of inference (`infer y by descent`, 10 steps) over the whole data set, as
/// `ebmc run` evaluates it: staged and prepared by batches of rows, or neither (`stage` off).
fn ebmc_infer_rate(source: &str, xs: &[f64], ys: &[f64], stage: bool) -> f64 {
    let checked = ebmc::driver::check(source.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.models[0];
    let set = dataset(model, xs, ys);
    let options = compile::Options {
        stage,
        ..compile::Options::new(Backend::Jit)
    };
    let code = Arc::new(compile::compile(model, &options).unwrap());
    let mut s = Session::new(&code, 1).unwrap();
    let y = model.var_named("y").unwrap().0 as usize;
    let mut p = Point::zeros(model);
    let mut rng = Rng::new(1);
    let all: Vec<usize> = (0..N).collect();
    let mut points = vec![Point::zeros(model); compile::BATCH];
    let mut energies = [0.0; compile::BATCH];
    let start = Instant::now();
    for rows in all.chunks(compile::BATCH) {
        // The rows descend together when they can, as `ebmc run` infers them.
        let (ps, es) = (&mut points[..rows.len()], &mut energies[..rows.len()]);
        for (q, &row) in ps.iter_mut().zip(rows) {
            train::load_row(&set, row, q);
            q.values[y].iter_mut().for_each(|v| *v = 0.0);
        }
        if s.infer_rows(&set, rows, ps, es, None, &mut rng).unwrap() {
            continue;
        }
        let prepared = s.prepare_rows(&set, rows).unwrap();
        for (k, &row) in rows.iter().enumerate() {
            train::load_row(&set, row, &mut p);
            p.values[y].iter_mut().for_each(|v| *v = 0.0);
            if prepared {
                s.use_prepared_row(k, &p);
            }
            s.infer(&mut p, &mut rng).unwrap();
        }
    }
    std::hint::black_box((&p, &points));
    N as f64 / start.elapsed().as_secs_f64()
}

/// Hand-written inference for the MLP energy by 10 descent steps of rate 0.1, written as
/// one would by hand: the network once per row (it does not depend on y), then the steps.
fn mlp_infer_rate(xs: &[f64], dx: usize, dh: usize, dy: usize) -> f64 {
    let mut r0 = Lcg(3);
    let w1: Vec<f64> = (0..dh * dx).map(|_| r0.next() * 0.05).collect();
    let w2: Vec<f64> = (0..dy * dh).map(|_| r0.next() * 0.05).collect();
    let (b1, b2) = (vec![0.0; dh], vec![0.0; dy]);
    let (mut h, mut out, mut y) = (vec![0.0; dh], vec![0.0; dy], vec![0.0; dy]);
    let start = Instant::now();
    for n in 0..N {
        let x = &xs[n * dx..(n + 1) * dx];
        for i in 0..dh {
            let dot: f64 = w1[i * dx..(i + 1) * dx]
                .iter()
                .zip(x)
                .map(|(a, b)| a * b)
                .sum();
            h[i] = (dot + b1[i]).tanh();
        }
        for i in 0..dy {
            let dot: f64 = w2[i * dh..(i + 1) * dh]
                .iter()
                .zip(&h)
                .map(|(a, b)| a * b)
                .sum();
            out[i] = dot + b2[i];
        }
        y.iter_mut().for_each(|v| *v = 0.0);
        for _ in 0..10 {
            // ∂E/∂y = y − out.
            for (yi, oi) in y.iter_mut().zip(&out) {
                *yi -= 0.1 * (*yi - oi);
            }
        }
        std::hint::black_box(&y);
    }
    N as f64 / start.elapsed().as_secs_f64()
}

/// MB/s of loading (parsing and checking) a CSV of `N` rows × 794 columns, values written
/// with six decimals (about 72 MB, the M2 data set's shape), from memory: best of three, in
/// wall time and in CPU time.
fn csv_load_rate(m2: &str) -> (f64, f64, f64) {
    let checked = ebmc::driver::check(m2.as_bytes());
    let model = &checked.models[0];
    let data = model.data.clone().unwrap();
    let mut r = Lcg(11);
    let mut text = (0..784)
        .map(|j| j.to_string())
        .chain((784..794).map(|j| j.to_string()))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for _ in 0..N {
        let row: Vec<String> = (0..794).map(|_| format!("{:.6}", r.next())).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let (start, cpu) = (Instant::now(), thread_cpu_seconds());
        let loaded =
            ebmc::runtime::data::from_bytes(text.as_bytes(), &data, &model.vars, 1).unwrap();
        std::hint::black_box(&loaded);
        best = best.min(start.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(thread_cpu_seconds() - cpu);
    }
    let mb = text.len() as f64 / 1e6;
    (mb, mb / best, mb / best_cpu)
}

/// The CPU time of this thread so far (user and system, from `/proc/thread-self/stat`, in
/// clock ticks of 10 ms), NaN where there is no such file: on a shared machine, what a
/// single-threaded job cost rather than how long it waited.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (in parentheses): utime and stime are the 12th and 13th.
    let after = stat.rsplit(')').next().unwrap_or("");
    // (The first field after it, the state, is the 3rd.)
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    match (field(11), field(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn main() {
    let backend = Backend::Jit;
    let m1 = "model m1 { input x : real[64]  output y : real[16]\n  param W : real[16, 64] = 0.01  param b : real[16] = 0\n  energy 0.5 * sqnorm(W @ x + b - y)\n  loss energy\n  train by sgd(rate = 0.01, epochs = 1, batch = 32)\n  data \"unused.csv\" { x = 0..63, y = 64..79 } }";
    let m2 = "model m2 { input x : real[784]  output y : real[10]\n  param W1 : real[256, 784] ~ normal(0, 0.05)  param b1 : real[256] = 0\n  param W2 : real[10, 256] ~ normal(0, 0.05)  param b2 : real[10] = 0\n  energy 0.5 * sqnorm(W2 @ tanh(W1 @ x + b1) + b2 - y)\n  loss energy\n  train by sgd(rate = 0.01, epochs = 1, batch = 32)\n  data \"unused.csv\" { x = 0..783, y = 784..793 } }";
    println!(
        "training throughput, SGD batch {BATCH}, {N} examples, one thread ({backend:?} backend)"
    );
    println!(
        "{:<6} {:>14} {:>14} {:>8}",
        "model", "ebmc ex/s", "hand ex/s", "ratio"
    );
    let (xs, ys) = data(64, 16);
    let (e, h) = (
        ebmc_rate(m1, &xs, &ys, backend, 1),
        linreg_rate(&xs, &ys, 64, 16),
    );
    println!("{:<6} {:>14.0} {:>14.0} {:>8.2}", "M1", e, h, e / h);
    let (xs, ys) = data(784, 10);
    let (m2_train, h) = (
        ebmc_rate(m2, &xs, &ys, backend, 1),
        mlp_rate(&xs, &ys, 784, 256, 10),
    );
    println!(
        "{:<6} {:>14.0} {:>14.0} {:>8.2}",
        "M2",
        m2_train,
        h,
        m2_train / h
    );
    let infer = |m: &str| {
        m.replace(
            "  loss energy",
            "  loss energy\n  infer y by descent(steps = 10, rate = 0.1)",
        )
    };
    println!();
    println!("inference of y* by 10 descent steps, {N} rows, one thread");
    println!(
        "{:<6} {:>14} {:>14} {:>14} {:>8} {:>8}",
        "model", "ebmc rows/s", "unstaged", "hand rows/s", "staging", "vs hand"
    );
    let (xs, ys) = data(64, 16);
    let (e, u) = (
        ebmc_infer_rate(&infer(m1), &xs, &ys, true),
        ebmc_infer_rate(&infer(m1), &xs, &ys, false),
    );
    println!(
        "{:<6} {:>14.0} {:>14.0} {:>14} {:>8.2} {:>8}",
        "M1",
        e,
        u,
        "-",
        e / u,
        "-"
    );
    let (xs, ys) = data(784, 10);
    let (i, u, h) = (
        ebmc_infer_rate(&infer(m2), &xs, &ys, true),
        ebmc_infer_rate(&infer(m2), &xs, &ys, false),
        mlp_infer_rate(&xs, 784, 256, 10),
    );
    println!(
        "{:<6} {:>14.0} {:>14.0} {:>14.0} {:>8.2} {:>8.2}",
        "M2",
        i,
        u,
        h,
        i / u,
        i / h
    );
    let (mb, rate, per_cpu) = csv_load_rate(&m2.replace(
        "\"unused.csv\" { x = 0..783, y = 784..793 }",
        "\"unused.csv\" { x = 0..783, y = 784..793 } split 0.8",
    ));
    println!();
    println!(
        "CSV loading, {N} rows x 794 columns ({mb:.0} MB, from memory): {rate:.0} MB/s \
         ({per_cpu:.0} MB per CPU second)"
    );
    let threads = ebmc::runtime::train::default_threads();
    if threads > 1 {
        let e2 = ebmc_rate(m2, &xs, &ys, backend, threads);
        println!(
            "M2 with {threads} threads: {e2:.0} ex/s, {:.2}x one thread (same weights)",
            e2 / m2_train
        );
    }
}
