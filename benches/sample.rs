//! Sampler throughput: chain-steps per second of `langevin` and of `hmc` with 5 leapfrog steps,
//! 1,024 chains, float64, one thread, on the MLP energy 2 → 128 → 128 → 1 (SiLU, written
//! `h * sigmoid(h)`) of the 2-D density benchmark, at its declared (random) init.
//!
//! The peers run in the same invocation when `benches/peers/.venv` exists (made by
//! `benches/peers/setup.sh --torch`): JAX `jit(lax.scan)` (`density.py --sampler`) and
//! TorchEBM (`density_torchebm.py --sampler`), on the same MLP with their own random weights
//! and the same step sizes. Printed: each figure and the ratio ebmc / peer (higher is better).
//!
//! Run with `cargo bench --bench sample`.

use ebmc::compile::{self, Backend};
use ebmc::rng::Rng;
use ebmc::runtime::sample::{Chains, Given, Start};
use ebmc::runtime::session::{Point, Session};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

const CHAINS: usize = 1024;

fn source(method: &str) -> String {
    format!(
        "model mlp {{
  output y : real[2]
  param W1 : real[128, 2]   param b1 : real[128] = 0
  param W2 : real[128, 128] param b2 : real[128] = 0
  param w3 : real[128]      param b3 : real = 0
  let a1 = W1 @ y + b1
  let h1 = a1 * sigmoid(a1)
  let a2 = W2 @ h1 + b2
  let h2 = a2 * sigmoid(a2)
  energy dot(w3, h2) + b3
  infer y by {method}
}}"
    )
}

/// Chain-steps per second of the model's sampler over `CHAINS` chains: the best of `reps`
/// timed runs after one warm-up.
fn ebmc(method: &str, steps: usize, reps: usize) -> (f64, Option<f64>) {
    let checked = ebmc::driver::check(source(method).as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.models[0];
    let code = compile::compile(model, &compile::Options::new(Backend::Jit)).expect("compiles");
    let mut s = Session::new(&Arc::new(code), 0).expect("session");
    let (mut chains, sampler) = Chains::of_model(&s).expect("chains").expect("a sampler");
    assert!(chains.is_batched(), "the MLP batches over chains");
    let at = Point::zeros(model);
    let mut state = vec![0.0; CHAINS * chains.width()];
    let mut rng = Rng::new(1);
    let mut best = 0.0f64;
    let mut acceptance = None;
    for rep in 0..=reps {
        let t = Instant::now();
        let stats = chains
            .run(
                &mut s,
                &sampler,
                Given::Same(&at),
                &mut state,
                Start::Init,
                &mut rng,
            )
            .expect("samples");
        let rate = (CHAINS * steps) as f64 / t.elapsed().as_secs_f64();
        if rep > 0 {
            best = best.max(rate);
        }
        acceptance = stats.acceptance();
    }
    (best, acceptance)
}

/// The peer's figures: `(langevin, hmc)` chain-steps/s parsed from its output.
fn peer(script: &str) -> Option<(String, f64, f64)> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers");
    let python = here.join(".venv/bin/python");
    if !python.exists() {
        return None;
    }
    let out = Command::new(python)
        .arg(here.join(script))
        .arg("--sampler")
        .env("OMP_NUM_THREADS", "1")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let figure = |what: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.contains(what))?;
        let after = line.split(": ").nth(1)?;
        let number = after
            .split_whitespace()
            .nth(if what == "hmc" { 2 } else { 1 })?;
        number.parse().ok()
    };
    let name = text.lines().next()?.split(':').next()?.to_string();
    Some((name, figure("langevin")?, figure("hmc")?))
}

fn main() {
    let (lang, _) = ebmc("langevin(steps = 100, rate = 0.01)", 100, 5);
    let (hmc, acc) = ebmc("hmc(steps = 100, leapfrog = 5, rate = 0.05)", 100, 3);
    println!(
        "ebmc: langevin {lang:.0} chain-steps/s, hmc(5 leapfrog) {hmc:.0} chain-steps/s (1,024 chains, acceptance {:.3})",
        acc.unwrap_or(f64::NAN)
    );
    let mut any = false;
    for script in ["density.py", "density_torchebm.py"] {
        if let Some((name, pl, ph)) = peer(script) {
            any = true;
            println!(
                "{name}: langevin {pl:.0} (ebmc {:.2}x), hmc(5 leapfrog) {ph:.0} (ebmc {:.2}x)",
                lang / pl,
                hmc / ph
            );
        }
    }
    if !any {
        println!("(no peers: run benches/peers/setup.sh --torch to time JAX and TorchEBM in the same run)");
    }
}
