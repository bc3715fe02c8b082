//! Sign latents summed out in closed form (spec section 13, "Latents, in closed form"):
//! `F = E₀ − 1/β Σ_j log 2cosh(β a_j)` against the enumeration of all 2^n values the IR built
//! before (the same model with the latent's elimination set back to `Elim::Marginal`), its
//! gradients against finite differences, the IR's linear coefficients against reverse mode,
//! and which latents the checker closes.

mod common;

use common::{chi_square, rbm_marginal, state_index};
use ebmc::check::{self, Elim, Model, Role};
use ebmc::compile::{self, Backend};
use ebmc::grad;
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::runtime::sample::{Chains, Given, Start};
use ebmc::runtime::session::{Point, Session};
use ebmc::syntax;
use ebmc::testing::gradcheck::{check_vjp, Outcome};
use ebmc::testing::random_ir::{self, Rng};
use ebmc::types::Ty;
use std::sync::Arc;

fn model(src: &str) -> Model {
    let file = syntax::parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    let (models, diags) = check::check(&file);
    assert!(diags.iter().all(|d| !d.is_error()), "{src}: {diags:?}");
    models.into_iter().next().expect("one model")
}

/// The model with every closed-form latent enumerated instead.
fn enumerated(m: &Model) -> Model {
    let mut m = m.clone();
    for v in &mut m.vars {
        if let Some(Elim::MarginalClosed { beta }) = v.elim {
            v.elim = Some(if beta.is_infinite() {
                Elim::MinEnumerate
            } else {
                Elim::Marginal { beta }
            });
        }
    }
    m
}

fn closed(m: &Model) -> Vec<String> {
    m.vars
        .iter()
        .filter(|v| matches!(v.elim, Some(Elim::MarginalClosed { .. })))
        .map(|v| v.name.clone())
        .collect()
}

/// Random values for `g`'s inputs, params scaled by `scale` (large weights make the
/// log-sum-exp of the enumeration and the softplus of the closed form work hard).
fn point(g: &Graph, rng: &mut Rng, scale: f64) -> Vec<Vec<f64>> {
    let mut p = random_ir::inputs(g, rng);
    for (v, inp) in p.iter_mut().zip(&g.inputs) {
        if inp.kind == InputKind::Param {
            v.iter_mut().for_each(|x| *x *= scale);
        }
    }
    p
}

fn energy(g: &Graph, p: &[Vec<f64>]) -> f64 {
    let slots: Vec<&[f64]> = p.iter().map(|v| v.as_slice()).collect();
    interp::eval_slots(g, &slots)
        .unwrap()
        .scalar("energy")
        .unwrap()
}

/// Small models whose sign latents the checker closes, with what it should close.
const CLOSED: &[(&str, &[&str])] = &[
    (
        "model rbm { output v : sign[5] latent h : sign[7] marginal(beta = 1) param W : real[5, 7] param b : real[5] param c : real[7] energy -dot(b, v) - dot(c, h) - dot(v, W @ h) }",
        &["h"],
    ),
    (
        // β ≠ 1, a term curved in the output only, and the latent through a let and a slice.
        "model curved { input x : real[3] output v : sign[4] latent h : sign[6] marginal(beta = 0.5) param W : real[4, 6] param U : real[6, 3] let u = U @ x energy a = sum(tanh(v * 2)) energy b = -dot(h, W' @ v + u) energy c = 0.5 * sum(h[1:4]) * sum(v) }",
        &["h"],
    ),
    (
        // Two closed latents, each coupled to the output only, beside an enumerated class one.
        "model two { output v : sign[3] latent g : sign[4] marginal(beta = 2) latent h : sign[5] marginal(beta = 1) latent k : class[3] marginal(beta = 1) param A : real[3, 4] param B : real[3, 5] param w : real[3, 3] energy -dot(v, A @ g) - dot(v, B @ h) + sum(h) * w[k, 0] - dot(v, w[k]) }",
        &["g", "h"],
    ),
    (
        // A scalar sign latent and a class output.
        "model scalar { input x : real[2] output y : class[3] latent s : sign marginal(beta = 1) param W : real[3, 2] param u : real[3] energy -(W @ x)[y] - s * u[y] }",
        &["s"],
    ),
];

#[test]
fn the_closed_form_equals_enumeration() {
    for (k, &(src, want)) in CLOSED.iter().enumerate() {
        let m = model(src);
        assert_eq!(closed(&m), want, "{src}");
        let f = ir::free_energy(&m).unwrap();
        let e = ir::free_energy(&enumerated(&m)).unwrap();
        assert_eq!(f.inputs, e.inputs, "{src}");
        let mut rng = Rng::new(100 + k as u64);
        for scale in [0.1, 1.0, 10.0, 300.0] {
            for _ in 0..10 {
                let p = point(&f, &mut rng, scale);
                let (a, b) = (energy(&f, &p), energy(&e, &p));
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "{src} at scale {scale}: closed {a}, enumerated {b}\n{f}"
                );
            }
        }
    }
}

#[test]
fn closed_form_gradients_match_finite_differences() {
    for (k, &(src, _)) in CLOSED.iter().enumerate() {
        let m = model(src);
        let f = ir::free_energy(&m).unwrap();
        let grads = grad::with_gradients(&f, "energy", &[InputKind::Param, InputKind::Input]);
        let mut rng = Rng::new(200 + k as u64);
        let mut checked = 0;
        for _ in 0..10 {
            let p = point(&f, &mut rng, 1.0);
            let dir: Vec<Vec<f64>> = f
                .inputs
                .iter()
                .map(|i| {
                    (0..i.shape().len())
                        .map(|_| {
                            if matches!(i.ty, Ty::Real(_)) {
                                rng.normal()
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect();
            match check_vjp(&f, &grads, "energy", &p, &dir, 1e-4).unwrap() {
                Outcome::Kink => continue,
                Outcome::Checked(c) => {
                    assert!(c.relative_error() <= 1e-7, "{src}: {c:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 8, "{src}: only {checked} points checked");
    }
}

/// `ir::coefficients` of the energy in a latent equals its reverse-mode gradient.
#[test]
fn linear_coefficients_equal_reverse_mode() {
    for (k, &(src, want)) in CLOSED.iter().enumerate() {
        let m = model(src);
        let mut g = ir::energy(&m);
        let out = g.output("energy").unwrap();
        for name in want {
            let z = g.input_named(name).unwrap();
            let lin = ir::coefficients(&mut g, out, &[z]).unwrap()[0];
            let rev = grad::vjp(&mut g, out, &[z])[0];
            g.set_output("lin", lin);
            g.set_output("rev", rev);
            let mut rng = Rng::new(300 + k as u64);
            for _ in 0..5 {
                let p = random_ir::inputs(&g, &mut rng);
                let slots: Vec<&[f64]> = p.iter().map(|v| v.as_slice()).collect();
                let v = interp::eval_slots(&g, &slots).unwrap();
                let (a, b) = (v.output("lin").unwrap(), v.output("rev").unwrap());
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                        "{src} {name}: {a:?} vs {b:?}"
                    );
                }
            }
        }
        // Not linear: a product of the latent with itself is refused, naming the node.
        let h = g.input_named(want[0]).unwrap();
        let sq = g.mul(h, h);
        let s = g.sum(sq);
        assert_eq!(ir::coefficients(&mut g, s, &[h]), Err(sq));
    }
}

/// A latent too large to enumerate is summed out in closed form: `sign[200]`, whose 2^200
/// values the IR could never enumerate, has the closed form's value (checked against a
/// direct computation of `E₀ − Σ log 2cosh(a_j)`).
#[test]
fn a_wide_latent_is_summed_in_closed_form() {
    let m = model(
        "model wide { output v : sign[3] latent h : sign[200] marginal(beta = 1) param W : real[3, 200] param c : real[200] energy -dot(c, h) - dot(v, W @ h) }",
    );
    assert_eq!(closed(&m), ["h"]);
    let f = ir::free_energy(&m).unwrap();
    let mut rng = Rng::new(7);
    let p = point(&f, &mut rng, 1.0);
    let get = |name: &str| &p[f.inputs.iter().position(|i| i.name == name).unwrap()];
    let (v, w, c) = (get("v"), get("W"), get("c"));
    let want: f64 = (0..200)
        .map(|j| {
            let a = c[j] + (0..3).map(|i| v[i] * w[i * 200 + j]).sum::<f64>();
            -(2.0 * a.cosh()).ln()
        })
        .sum();
    let got = energy(&f, &p);
    assert!((got - want).abs() <= 1e-11 * want.abs(), "{got} vs {want}");
}

/// What the checker leaves to enumeration: latents that are not linear, coupled with each
/// other, indexed by, or eliminated one way before a later latent eliminated the other
/// (`min` and sum); and `min by enumerate` in closed form where it factorises.
#[test]
fn the_checker_closes_only_what_factorises() {
    let cases: &[(&str, &[&str])] = &[
        ("model m { output v : sign[3] latent h : sign[4] marginal(beta = 1) param W : real[3, 4] energy -dot(v, W @ h) + sum(h * h) }", &[]),
        ("model m { output v : sign[3] latent h : sign[4] marginal(beta = 1) param W : real[3, 4] energy -dot(v, W @ h) + sum(tanh(h)) }", &[]),
        ("model m { output v : sign[3] latent h : sign marginal(beta = 1) param w : real[2] energy w[h] * sum(v) }", &[]),
        ("model m { output v : sign[3] latent g : sign[2] marginal(beta = 1) latent h : sign[2] marginal(beta = 1) param W : real[2, 2] energy -dot(g, W @ h) - sum(v) * sum(g) }", &["g"]),
        ("model m { output v : sign[3] latent h : sign[2] marginal(beta = 1) latent k : class[2] min by enumerate param W : real[3, 2] param w : real[2] energy -dot(v, W @ h) + w[k] * sum(h) }", &[]),
        // `min` in closed form, E₀ − Σ|a_j|, and not when a later latent is summed out.
        ("model m { output v : sign[3] latent h : sign[2] min by enumerate param W : real[3, 2] energy -dot(v, W @ h) }", &["h"]),
        ("model m { output v : sign[3] latent h : sign[3] marginal(beta = inf) latent g : sign[2] marginal(beta = 1) param W : real[3, 3] param U : real[3, 2] energy -dot(v, W @ h) - dot(v, U @ g) }", &["g"]),
        ("model m { output v : sign[3] latent h : sign[3] param W : real[3, 3] param w : real[2] latent k : class[2] marginal(beta = 1) energy -dot(v, W @ h) + w[k] * sum(v) }", &[]),
    ];
    for &(src, want) in cases {
        let m = model(src);
        assert_eq!(closed(&m), want, "{src}");
        // Whatever is left is enumerated, and still equals the closed form where one applies.
        let f = ir::free_energy(&m).unwrap();
        let e = ir::free_energy(&enumerated(&m)).unwrap();
        let mut rng = Rng::new(9);
        for _ in 0..5 {
            let p = point(&f, &mut rng, 1.0);
            let (a, b) = (energy(&f, &p), energy(&e, &p));
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{src}: {a} vs {b}"
            );
        }
    }
    let m = model(CLOSED[0].0);
    assert!(m.vars.iter().any(|v| v.role == Role::Latent));
}

// ---- sampling: `gibbs` with a closed-form latent sampled alongside ----

/// The RBM of `tests/sample.rs`, `E(v, h) = −(a·v + b·h + h·W v)`, with `h` summed out in
/// closed form: `gibbs` on `v` alone samples `h` alongside.
fn rbm(extra: &str, sweeps: usize) -> String {
    format!(
        "model rbm {{
  output v : sign[5]
  latent h : sign[3] marginal(beta = 1)
  param  W : real[3, 5] = [[0.8, -0.6, 0.5, 0, 0.3], [-0.4, 0.7, 0, 0.9, -0.5], [0.3, 0.3, -0.8, 0.4, 0.6]]
  param  a : real[5] = [0.2, -0.1, 0, 0.3, -0.2]
  param  b : real[3] = [-0.2, 0.1, 0.3]
  energy -(dot(a, v) + dot(b, h) + dot(h, W @ v)){extra}
  infer v by gibbs(sweeps = {sweeps})
}}"
    )
}

/// `n` chains of the model's sampler from its init; the sampled rows.
fn draw(src: &str, n: usize, seed: u64) -> (Vec<f64>, usize) {
    let checked = ebmc::driver::check(src.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.models[0];
    let code = compile::compile(model, &compile::Options::new(Backend::Jit)).unwrap();
    let mut s = Session::new(&Arc::new(code), 0).unwrap();
    let (mut chains, sampler) = Chains::of_model(&s).unwrap().expect("a sampler");
    let at = Point::zeros(model);
    let mut state = vec![0.0; n * chains.width()];
    chains
        .run(
            &mut s,
            &sampler,
            Given::Same(&at),
            &mut state,
            Start::Init,
            &mut ebmc::rng::Rng::new(seed),
        )
        .unwrap();
    (state, chains.width())
}

#[test]
fn gibbs_with_a_closed_latent_samples_the_marginal() {
    let exact = rbm_marginal();
    // The block sampler (v from its field, h alongside) and, with a term that is 0 on signs
    // but not linear to the checker, v site by site (h still alongside, as a block).
    for (extra, seed) in [("", 21), (" + 0 * sqnorm(v)", 22)] {
        let src = rbm(extra, 30);
        let m = model(&src);
        assert_eq!(closed(&m), ["h"]);
        let (state, w) = draw(&src, 20_000, seed);
        assert_eq!(w, 5);
        let mut counts = vec![0usize; 32];
        for row in state.chunks(5) {
            assert!(row.iter().all(|x| *x == 1.0 || *x == -1.0));
            counts[state_index(row)] += 1;
        }
        let (chi2, crit) = chi_square(&counts, &exact);
        assert!(chi2 < crit, "{extra}: chi-square {chi2}, critical {crit}");
    }
}

// ---- `cd` with `negatives gibbs`: the loss and a run ----

/// `cd(alpha)` on a `sign` output with a closed-form latent is `F(v) − F(v̄) + α (F(v)² +
/// F(v̄)²)` with `F` the free energy graph (the closed form), `v̄` the `neg.v` input, and its
/// parameter gradient matches finite differences.
#[test]
fn cd_with_gibbs_negatives_is_a_free_energy_difference() {
    let src = "model rbm { output v : sign[5] latent h : sign[7] marginal(beta = 1) param W : real[5, 7] param b : real[5] param c : real[7] energy -dot(b, v) - dot(c, h) - dot(v, W @ h) infer v by gibbs(sweeps = 1) loss cd(alpha = 0.3) negatives gibbs(sweeps = 1) }";
    let m = model(src);
    let loss = grad::finish_loss(&m, ir::loss(&m).unwrap()).unwrap();
    let free = ir::free_energy(&m).unwrap();
    assert!(loss.inputs.iter().any(|i| i.name == "neg.v"), "{loss}");
    let mut rng = Rng::new(41);
    for _ in 0..10 {
        let p = point(&loss, &mut rng, 1.0);
        let at = |name: &str| p[loss.inputs.iter().position(|i| i.name == name).unwrap()].clone();
        let f_of = |v: Vec<f64>| {
            let q: Vec<Vec<f64>> = free
                .inputs
                .iter()
                .map(|i| {
                    if i.name == "v" {
                        v.clone()
                    } else {
                        at(&i.name)
                    }
                })
                .collect();
            energy(&free, &q)
        };
        let (fp, fn_) = (f_of(at("v")), f_of(at("neg.v")));
        let want = fp - fn_ + 0.3 * (fp * fp + fn_ * fn_);
        let slots: Vec<&[f64]> = p.iter().map(|v| v.as_slice()).collect();
        let got = interp::eval_slots(&loss, &slots)
            .unwrap()
            .scalar("loss")
            .unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
    let grads = grad::with_gradients(&loss, "loss", &[InputKind::Param]);
    for _ in 0..5 {
        let p = point(&loss, &mut rng, 1.0);
        let dir = random_ir::param_direction(&loss, &mut rng);
        match check_vjp(&loss, &grads, "loss", &p, &dir, 1e-4).unwrap() {
            Outcome::Kink => {}
            Outcome::Checked(c) => assert!(c.relative_error() <= 1e-7, "{c:?}"),
        }
    }
}

/// CD-1 with block Gibbs trains an RBM on data drawn from a known one: the held-out rows'
/// exact NLL (partition by enumeration of 2^6 states, the hidden layer in closed form) falls
/// from log 64 at the start (zero weights: uniform) to within reach of the data's own
/// entropy, and the `pll` metric is reported beside it.
#[test]
fn cd_with_block_gibbs_trains_an_rbm() {
    let dir = tempfile::tempdir().unwrap();
    // Data: 3,000 draws of a 6-visible, 2-hidden RBM with strong weights (exactly, by
    // enumerating its 64 × 4 states), seeded.
    let w = [
        [2.0, -1.5],
        [1.8, 1.2],
        [-1.6, 1.9],
        [0.0, -2.0],
        [1.5, 0.5],
        [-1.2, -1.4],
    ];
    let mut states = Vec::new();
    let mut weights = Vec::new();
    for k in 0..64usize {
        let v: Vec<f64> = (0..6)
            .map(|i| if k >> (5 - i) & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let f: f64 = (0..2)
            .map(|j| {
                let a: f64 = (0..6).map(|i| v[i] * w[i][j]).sum();
                -(2.0 * f64::cosh(a)).ln()
            })
            .sum();
        states.push(v);
        weights.push((-f).exp());
    }
    let z: f64 = weights.iter().sum();
    let entropy: f64 = weights.iter().map(|x| -(x / z) * (x / z).ln()).sum();
    let mut rng = Rng::new(5);
    let mut csv = String::from("v0,v1,v2,v3,v4,v5\n");
    for _ in 0..3000 {
        let mut u = rng.unit() * z;
        let k = weights
            .iter()
            .position(|x| {
                u -= x;
                u < 0.0
            })
            .unwrap_or(63);
        let row: Vec<String> = states[k].iter().map(|x| format!("{x}")).collect();
        csv += &(row.join(",") + "\n");
    }
    std::fs::write(dir.path().join("d.csv"), csv).unwrap();
    // CD-1, and persistent chains (100 of them) moved by 5 sweeps a step: with 1 sweep they
    // lag the weights at this rate (test NLL 3.48, measured); restarted at 5 % a step, 3.25.
    for (negatives, bound) in [
        ("gibbs(sweeps = 1)", entropy + 0.25),
        (
            "gibbs(sweeps = 5, persistent = 100, reinit = 0)",
            entropy + 0.25,
        ),
        // Restarts from uniform noise keep the chains far from the model: only "it trains".
        (
            "gibbs(sweeps = 5, persistent = 100, reinit = 0.05)",
            64f64.ln() - 0.5,
        ),
    ] {
        let src = format!(
            "model rbm {{
  output v : sign[6]
  latent h : sign[4] marginal(beta = 1)
  param  W : real[6, 4] ~ normal(0, 0.1)
  param  b : real[6] = 0
  param  c : real[4] = 0
  energy -dot(b, v) - dot(c, h) - dot(v, W @ h)
  infer v by gibbs(sweeps = 10)
  loss cd negatives {negatives}
  train by sgd(rate = 0.05, epochs = 30, batch = 10, seed = 3)
  data \"d.csv\" {{ v = v0..v5 }} split 0.8
  partition by enumerate
}}"
        );
        let path = dir.path().join("rbm.ebm");
        std::fs::write(&path, src).unwrap();
        let metrics = dir.path().join("m.json");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .args(["run", path.to_str().unwrap(), "--quiet", "--metrics"])
            .arg(&metrics)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&metrics).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
        let test = &json["test"];
        let (nll, pll) = (test["nll"].as_f64().unwrap(), test["pll"].as_f64().unwrap());
        eprintln!("{negatives}: test NLL {nll}, data entropy {entropy}, pll {pll}");
        // 600 test rows: the NLL's standard error is about sd(−log p)/√600 ≈ 0.06 nats. CD-1
        // is biased, so the bound is the entropy plus 0.25 nats — far below log 64 = 4.16,
        // where an untrained (uniform) model sits.
        assert!(nll < bound, "{negatives}: test NLL {nll}, bound {bound}");
        assert!(pll.is_finite() && pll < 0.0, "pll {pll}");
    }
}

// ---- `partition by ais` ----

/// `log Z` by annealed importance sampling against enumeration: an RBM whose hidden layer
/// the chains sample alongside (the joint `(v, h)` annealed), a 10-spin Ising chain (no
/// latent), and a class output. The tolerance is 4 standard errors of the estimate itself
/// (`sd(w) / (mean(w) √chains)`, from its own 100 weights), and the standard error must be
/// small enough (< 0.1 nats) for the check to mean something.
#[test]
fn ais_agrees_with_enumeration() {
    let rbm = "model rbm {
  output v : sign[6]
  latent h : sign[4] marginal(beta = 1)
  param  W : real[6, 4] = [[1, -0.5, 0.3, 0.8], [0.7, 0.9, -1, 0.2], [-0.8, 0.4, 0.6, -0.3], [0.5, -1.2, 0.1, 0.9], [0, 0.6, -0.7, 1.1], [-0.9, -0.2, 0.8, 0.4]]
  param  b : real[6] = [0.3, -0.2, 0.1, 0, 0.5, -0.4]
  param  c : real[4] = [-0.1, 0.2, 0, 0.3]
  energy -dot(b, v) - dot(c, h) - dot(v, W @ h)
  infer v by gibbs(sweeps = 1)
  partition by ais(chains = 100, steps = 1000)
}";
    let ising = "model ising { output s : sign[10] param J : real = 0.8 energy -J * dot(s[0:9], s[1:10]) - 0.3 * s[0] infer s by gibbs(sweeps = 1) partition by ais(chains = 100, steps = 1000) }";
    let class = "model c { output y : class[5] output s : sign[3] param w : real[5] = [1, -2, 0.5, 3, 0] param u : real[5, 3] = [[1, 0, -1], [0.5, 2, 0], [0, 0, 1], [-1, 1, 1], [2, -2, 0.3]] energy -w[y] - dot(u[y], s) infer y, s by gibbs(sweeps = 1) partition by ais(chains = 100, steps = 1000) }";
    for src in [rbm, ising, class] {
        let m = model(src);
        let code = compile::compile(&m, &compile::Options::new(Backend::Jit)).unwrap();
        let mut s = Session::new(&Arc::new(code), 0).unwrap();
        let part = m.partition.clone().unwrap();
        let (ais, se) = ebmc::runtime::density::log_partition_se(&mut s, &part, None).unwrap();
        let se = se.expect("a standard error");
        let exact =
            ebmc::runtime::density::log_partition(&mut s, &ebmc::check::Partition::Enumerate, None)
                .unwrap();
        assert!(se < 0.1, "{src}: standard error {se}");
        assert!(
            (ais - exact).abs() < 4.0 * se,
            "{src}: ais {ais} ± {se}, enumeration {exact}"
        );
        eprintln!("{}: ais {ais:.4} ± {se:.4}, exact {exact:.4}", m.name);
    }
}

/// `partition by ais` over a real output against quadrature (`partition by grid`): a double
/// well, an off-centre narrow Gaussian (exact `log Z = ½ log(2π/4)`), annealed from `N(0, 1)`
/// by one `hmc` step per temperature; 4 standard errors of the estimate's own weights.
#[test]
fn ais_over_a_real_output_agrees_with_the_grid() {
    for (energy, sampler) in [
        ("(y^2 - 1)^2", "hmc(steps = 1, leapfrog = 5, rate = 0.2)"),
        (
            "2 * (y - 1.5)^2",
            "hmc(steps = 1, leapfrog = 5, rate = 0.2)",
        ),
    ] {
        let src = format!(
            "model m {{ output y : real param w : real = 1 energy w * {energy} infer y by {sampler} partition by ais(chains = 100, steps = 1000) }}"
        );
        let m = model(&src);
        let code = compile::compile(&m, &compile::Options::new(Backend::Jit)).unwrap();
        let mut s = Session::new(&Arc::new(code), 0).unwrap();
        let part = m.partition.clone().unwrap();
        let (ais, se) = ebmc::runtime::density::log_partition_se(&mut s, &part, None).unwrap();
        let se = se.unwrap();
        let grid = ebmc::check::Partition::Grid {
            points: 4000,
            lo: -8.0,
            hi: 8.0,
        };
        let exact = ebmc::runtime::density::log_partition(&mut s, &grid, None).unwrap();
        eprintln!("{energy} by {sampler}: ais {ais:.4} ± {se:.4}, grid {exact:.4}");
        assert!(se < 0.1, "{src}: standard error {se}");
        assert!(
            (ais - exact).abs() < 4.0 * se,
            "{src}: ais {ais} ± {se}, grid {exact}"
        );
    }
}

/// `ebmc sample` of the RBM above (its hidden layer in closed form, sampled alongside): a CSV
/// of `v[0] … v[4]` with ±1 values, the same file for the same seed, and its state
/// frequencies against the exact marginal (chi-square, 4,000 chains: every expected count of
/// the 32 states is over 5).
#[test]
fn ebmc_sample_draws_an_rbm_with_a_closed_latent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.ebm"), rbm("", 30)).unwrap();
    let run = |out: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .current_dir(dir.path())
            .args([
                "sample", "m.ebm", "--n", "4000", "--seed", "3", "--out", out,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(dir.path().join(out)).unwrap()
    };
    let (a, b) = (run("a.csv"), run("b.csv"));
    assert_eq!(a, b, "the same seed, the same samples");
    let mut lines = a.lines();
    assert_eq!(lines.next().unwrap(), "v[0],v[1],v[2],v[3],v[4]");
    let mut counts = vec![0usize; 32];
    for line in lines {
        let row: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        assert!(row.iter().all(|x| *x == 1.0 || *x == -1.0), "{line}");
        counts[state_index(&row)] += 1;
    }
    assert_eq!(counts.iter().sum::<usize>(), 4000);
    let (chi2, crit) = chi_square(&counts, &rbm_marginal());
    assert!(chi2 < crit, "chi-square {chi2}, critical {crit}");
}

/// `ir::coefficients` on random programs (`testing::random_ir`): for each real input `p`
/// the program is affine in, the coefficients equal reverse mode's gradient at random points,
/// and the program is affine indeed: `f(p + t) − f(p) = ⟨c, t⟩` for a random `t`.
#[test]
fn linear_coefficients_on_random_programs() {
    let mut rng = Rng::new(77);
    let mut affine = 0;
    for _ in 0..600 {
        let steps = 1 + rng.below(8);
        let mut g = random_ir::program(&mut rng, steps);
        let out = g.output("f").unwrap();
        for (i, inp) in g.inputs.clone().iter().enumerate() {
            if !matches!(inp.ty, Ty::Real(_)) {
                continue;
            }
            let Some(z) = g.input_named(&inp.name) else {
                continue;
            };
            let Ok(c) = ir::coefficients(&mut g, out, &[z]) else {
                continue;
            };
            let rev = grad::vjp(&mut g, out, &[z])[0];
            let mut h = g.clone();
            h.set_output("lin", c[0]);
            h.set_output("rev", rev);
            let p = random_ir::inputs(&h, &mut rng);
            let slots: Vec<&[f64]> = p.iter().map(|v| v.as_slice()).collect();
            let Ok(v) = interp::eval_slots(&h, &slots) else {
                continue;
            };
            let (a, b) = (v.output("lin").unwrap().to_vec(), v.output("rev").unwrap());
            let f0 = v.scalar("f").unwrap();
            if !f0.is_finite() || a.iter().any(|x| !x.is_finite()) {
                continue;
            }
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                    "{h}\n{a:?} vs {b:?}"
                );
            }
            let t: Vec<f64> = (0..p[i].len()).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut q = p.clone();
            q[i].iter_mut().zip(&t).for_each(|(x, d)| *x += d);
            let slots: Vec<&[f64]> = q.iter().map(|v| v.as_slice()).collect();
            let f1 = interp::eval_slots(&h, &slots).unwrap().scalar("f").unwrap();
            let dot: f64 = a.iter().zip(&t).map(|(x, d)| x * d).sum();
            let scale = f0.abs().max(f1.abs()).max(1.0);
            assert!((f1 - f0 - dot).abs() <= 1e-9 * scale, "not affine: {h}");
            affine += 1;
        }
    }
    assert!(affine >= 100, "only {affine} affine (program, input) pairs");
}
