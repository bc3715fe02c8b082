//! Density models (spec section 13): the losses `dsm` and `nce` against their definitions (a
//! 1-D Gaussian energy, where both have closed forms, and finite differences of their
//! parameter gradients — for `dsm` a second-order gradient), second-order reverse mode on the
//! random programs of `tests/grad.rs`, `partition by grid`/`enumerate` against closed-form
//! `log Z`, and a density model trained end to end.

mod common;

use ebmc::check::{Model, Partition};
use ebmc::compile::Backend;
use ebmc::grad::{self, with_gradients};
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::runtime::density::log_partition;
use ebmc::runtime::metrics::{OutputMetrics, Report};
use ebmc::runtime::run::RunOptions;
use ebmc::runtime::session::Session;
use ebmc::testing::gradcheck::{check_vjp, Outcome};
use ebmc::testing::random_ir;

/// The loss graph of `model` as training runs it: lowered, completed ([`grad::finish_loss`]).
fn loss_graph(model: &Model) -> Graph {
    grad::finish_loss(model, ir::loss(model).unwrap()).expect("a loss")
}

/// Evaluates `g` with inputs given by name.
fn eval(g: &Graph, at: &[(&str, &[f64])]) -> interp::Values {
    let slots: Vec<&[f64]> = g
        .inputs
        .iter()
        .map(|i| {
            at.iter()
                .find(|(n, _)| *n == i.name)
                .unwrap_or_else(|| panic!("no value for input `{}`", i.name))
                .1
        })
        .collect();
    interp::eval_slots(g, &slots).unwrap()
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// E = ½ a (y − m)², so ∇_y E(ỹ) = a (ỹ − m): with ỹ = y + σε the dsm loss is
/// `½ σ² r²`, `r = a (ỹ − m) − ε/σ`, and `∂/∂a = σ² r (ỹ − m)`, `∂/∂m = −σ² r a`.
#[test]
fn dsm_on_a_gaussian_energy_is_its_closed_form() {
    let model = common::model_of(
        "model g { output y : real  param a : real = 2  param m : real = 0.5
           energy 0.5 * a * (y - m)^2  loss dsm(sigma = 0.1) }",
        false,
    );
    let g = with_gradients(&loss_graph(&model), "loss", &[InputKind::Param]);
    let (a, m, y, sigma) = (2.0, 0.5, 0.3, 0.1);
    for eps in [0.7, -1.3, 0.0, 2.2] {
        let noisy = y + sigma * eps;
        let v = eval(
            &g,
            &[("a", &[a]), ("m", &[m]), ("y", &[y]), ("neg.y", &[noisy])],
        );
        let r = a * (noisy - m) - eps / sigma;
        let close = |got: f64, want: f64, what: &str| {
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{what}: {got} vs {want} at ε = {eps}"
            )
        };
        close(
            v.scalar("loss").unwrap(),
            0.5 * sigma * sigma * r * r,
            "loss",
        );
        close(
            v.scalar("grad.a").unwrap(),
            sigma * sigma * r * (noisy - m),
            "∂/∂a",
        );
        close(v.scalar("grad.m").unwrap(), -sigma * sigma * r * a, "∂/∂m");
    }
}

/// `nce(noise = normal(0, 2), ratio = 3)` on E = ½ a (y − m)² with `log Z` = c: per example
/// `softplus(−G(y)) + 3 softplus(G(ȳ))`, `G(v) = −E(v) − c − log N(v; 0, 2²) − log 3`.
#[test]
fn nce_on_a_gaussian_energy_is_its_closed_form() {
    let model = common::model_of(
        "model g { output y : real  param a : real = 2  param m : real = 0.5
           energy 0.5 * a * (y - m)^2  loss nce(noise = normal(0, 2), ratio = 3) }",
        false,
    );
    let g = with_gradients(&loss_graph(&model), "loss", &[InputKind::Param]);
    let f = |a: f64, m: f64, c: f64, y: f64, n: f64| {
        let log_noise =
            |v: f64| -0.5 * (v / 2.0).powi(2) - 2f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        let logit = |v: f64| -0.5 * a * (v - m).powi(2) - c - log_noise(v) - 3f64.ln();
        softplus(-logit(y)) + 3.0 * softplus(logit(n))
    };
    for (y, n, c) in [(0.3, -1.7, 0.0), (1.1, 2.5, 0.8), (-0.4, 0.1, -1.2)] {
        let (a, m) = (2.0, 0.5);
        let v = eval(
            &g,
            &[
                ("a", &[a]),
                ("m", &[m]),
                ("nce_log_z", &[c]),
                ("y", &[y]),
                ("neg.y", &[n]),
            ],
        );
        let want = f(a, m, c, y, n);
        let got = v.scalar("loss").unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
        // Each partial derivative against a central difference of the closed form (h = 1e-5:
        // truncation ~h² f''' ≈ 1e-10, rounding ~1e-16/h ≈ 1e-11).
        let h = 1e-5;
        let grads = [
            (
                "grad.a",
                (f(a + h, m, c, y, n) - f(a - h, m, c, y, n)) / (2.0 * h),
            ),
            (
                "grad.m",
                (f(a, m + h, c, y, n) - f(a, m - h, c, y, n)) / (2.0 * h),
            ),
            (
                "grad.nce_log_z",
                (f(a, m, c + h, y, n) - f(a, m, c - h, y, n)) / (2.0 * h),
            ),
        ];
        for (name, want) in grads {
            let got = v.scalar(name).unwrap();
            assert!((got - want).abs() <= 1e-8, "{name}: {got} vs {want}");
        }
    }
}

/// The parameter gradients of `dsm` and `nce` on an MLP energy against finite differences of
/// the loss in a random direction (for `dsm`, second-order reverse mode: ∇_W of ∇_y E).
#[test]
fn density_loss_gradients_match_finite_differences() {
    for loss in ["dsm(sigma = 0.3)", "nce(noise = normal(0, 1.5), ratio = 2)"] {
        let src = format!(
            "model mlp {{ output y : real[2]
               param W1 : real[5, 2]  param b1 : real[5]  param w2 : real[5]
               fn silu(h : real[5]) = h * sigmoid(h)
               energy dot(w2, silu(W1 @ y + b1)) + 0.1 * sqnorm(y)
               loss {loss} }}"
        );
        let model = common::model_of(&src, false);
        let forward = loss_graph(&model);
        let grads = with_gradients(&forward, "loss", &[InputKind::Param]);
        let mut rng = random_ir::Rng::new(7);
        let mut checked = 0;
        for _ in 0..10 {
            let point = random_ir::inputs(&forward, &mut rng);
            let dir = random_ir::param_direction(&forward, &mut rng);
            match check_vjp(&forward, &grads, "loss", &point, &dir, 1e-4).unwrap() {
                Outcome::Kink => continue,
                Outcome::Checked(c) => {
                    assert!(
                        c.relative_error() <= 1e-6,
                        "{loss}: analytic {} vs numeric {}",
                        c.analytic,
                        c.numeric
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 10, "{loss}: a smooth loss has no kinks");
    }
}

/// Second-order reverse mode: for each random program `f`, `s = Σ ⟨u, ∇_W f⟩` (u a data
/// input) is a graph that already holds a gradient; `∇_W s` (the Hessian of `f` times u)
/// must match finite differences of `s` — so every op the first gradient emits has a rule.
#[test]
fn second_order_gradients_of_random_programs_match_finite_differences() {
    let mut checked = 0;
    let total = 300;
    for seed in 0..total {
        let mut rng = random_ir::Rng::new(seed);
        let steps = 4 + rng.below(10);
        let f = random_ir::program(&mut rng, steps);
        let mut g = with_gradients(&f, "f", &[InputKind::Param]);
        let params: Vec<_> = g
            .inputs
            .iter()
            .filter(|i| i.kind == InputKind::Param && !i.ty.is_discrete())
            .cloned()
            .collect();
        let mut s = g.constant(0.0);
        for p in &params {
            let Some(d) = g.output(&grad::grad_name(&p.name)) else {
                continue;
            };
            let u = g.input(format!("u.{}", p.name), InputKind::Input, p.ty.clone());
            let t = g.mul(d, u);
            let t = g.sum(t);
            s = g.add2(s, t);
        }
        g.set_output("s", s);
        let second = with_gradients(&g, "s", &[InputKind::Param]);
        ir::verify(&second).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{second}"));
        for _ in 0..8 {
            let point = random_ir::inputs(&g, &mut rng);
            let dir = random_ir::param_direction(&g, &mut rng);
            match check_vjp(&g, &second, "s", &point, &dir, 1e-4).unwrap() {
                Outcome::Kink => continue,
                Outcome::Checked(c) => {
                    assert!(c.value.is_finite(), "seed {seed}: s = {}", c.value);
                    assert!(
                        c.relative_error() <= 1e-5,
                        "seed {seed}: analytic {} vs numeric {} (relative error {:e})\n{f}\nsecond:\n{second}",
                        c.analytic,
                        c.numeric,
                        c.relative_error()
                    );
                    checked += 1;
                    break;
                }
            }
        }
    }
    assert!(checked >= 240, "only {checked} of {total} programs checked");
}

/// A Gaussian energy ½ Σ a_j y_j²: `log Z = (d/2) log 2π − ½ Σ log a_j`. The midpoint rule
/// is spectrally accurate for it; the grid's truncation at ±8 (≥ 5.6 sd) leaves < 1e-7.
#[test]
fn grid_partition_of_a_gaussian_is_its_closed_form() {
    for (dims, points) in [(1usize, 400usize), (2, 300), (3, 80)] {
        let a = [2.0, 0.5, 1.5];
        let terms: Vec<String> = (0..dims).map(|j| format!("{} * y[{j}]^2", a[j])).collect();
        let src = format!(
            "model g {{ output y : real[{dims}]  param w : real = 0
               energy 0.5 * ({}) + w * 0 }}",
            terms.join(" + ")
        );
        let model = common::model_of(&src, true);
        let mut s = Session::compile(&model, Backend::Jit, 0).unwrap();
        let got = log_partition(
            &mut s,
            &Partition::Grid {
                points,
                lo: -8.0,
                hi: 8.0,
            },
            None,
        )
        .unwrap();
        let want = dims as f64 / 2.0 * (2.0 * std::f64::consts::PI).ln()
            - 0.5 * a[..dims].iter().map(|x: &f64| x.ln()).sum::<f64>();
        let tol = if dims == 3 { 1e-5 } else { 1e-7 };
        assert!((got - want).abs() <= tol, "{dims}-D: {got} vs {want}");
    }
}

/// `partition by enumerate`: `log Σ_k exp(−v_k)` over a class output.
#[test]
fn enumerate_partition_is_exact() {
    let model = common::model_of(
        "model c { output k : class[4]  param v : real[4] ~ normal(0, 2)  energy v[k] }",
        false,
    );
    let mut s = Session::compile(&model, Backend::Jit, 3).unwrap();
    let v = s.params.to_vec();
    let want = v.iter().map(|e| (-e).exp()).sum::<f64>().ln();
    let got = log_partition(&mut s, &Partition::Enumerate, None).unwrap();
    assert!((got - want).abs() <= 1e-12, "{got} vs {want}");
}

/// A 1-D Gaussian density model trained by `dsm` on N(1, 0.5²) data reaches the true
/// density's test NLL, ½ log(2πe · 0.25) = 0.7258, in the data's units through
/// `standardize`. Tolerance: the test mean of −log p over n = 600 rows has standard error
/// sd(−log p)/√n = (1/√2)/√600 = 0.029 (−log p of a Gaussian is ½χ²₁ + const, sd 1/√2);
/// 4 standard errors, plus the DSM optimum's bias (variance s² + σ²: KL ≈ 0.002 here).
#[test]
fn a_gaussian_density_trained_by_dsm_reaches_the_true_nll() {
    let dir = std::env::temp_dir().join(format!("ebmc-density-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ebmc::rng::Rng::new(11);
    let mut csv = String::from("y\n");
    for _ in 0..3000 {
        csv += &format!("{}\n", 1.0 + 0.5 * rng.normal());
    }
    std::fs::write(dir.join("g.csv"), csv).unwrap();
    let model = common::model_of(
        r#"model g {
             output y : real
             param m : real = 0   param la : real = 0
             energy 0.5 * exp(la) * (y - m)^2
             loss dsm(sigma = 0.05)
             train by adam(rate = 0.02, epochs = 30, batch = 64)
             data "g.csv" { y = y } split 0.8 standardize y
             partition by grid(points = 400, lo = -4, hi = 6)
           }"#,
        false,
    );
    let out = ebmc::runtime::run::run(&model, &dir, &RunOptions::default(), &mut |_| {}).unwrap();
    let Report::Data {
        test: Some(test), ..
    } = &out.report
    else {
        panic!("a test set")
    };
    let OutputMetrics::Density { nll: Some(nll), .. } = test.outputs[0].1 else {
        panic!("density metrics: {:?}", test.outputs)
    };
    let truth = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * 0.25).ln();
    assert!(
        (nll - truth).abs() <= 4.0 * 0.029 + 0.002,
        "test NLL {nll}, true density {truth}"
    );
    // What `ebmc run` prints and `--metrics` writes: energy and nll, no rmse.
    let table = out.report.table();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["loss", "energy", "nll"], "{table}");
    let json = out.report.to_json();
    assert!(json["test"]["nll"].as_f64().is_some(), "{json}");
    assert!(json["test"]["energy"].as_f64().is_some(), "{json}");
    assert!(json["test"].get("rmse").is_none(), "{json}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `cd(alpha = 0.3)` on E = ½ a (y − m)²: `E(y) − E(ȳ) + α (E(y)² + E(ȳ)²)` with ȳ an input
/// (held fixed): value, and each parameter's partial against a central difference.
#[test]
fn cd_on_a_gaussian_energy_is_its_definition() {
    let model = common::model_of(
        "model g { output y : real  param a : real = 2  param m : real = 0.5
           energy 0.5 * a * (y - m)^2
           loss cd(alpha = 0.3) negatives langevin(steps = 5, rate = 0.01) }",
        false,
    );
    let g = with_gradients(&loss_graph(&model), "loss", &[InputKind::Param]);
    let f = |a: f64, m: f64, y: f64, n: f64| {
        let e = |v: f64| 0.5 * a * (v - m).powi(2);
        e(y) - e(n) + 0.3 * (e(y).powi(2) + e(n).powi(2))
    };
    for (y, n) in [(0.3, -1.7), (1.1, 2.5), (-0.4, 0.1)] {
        let (a, m) = (2.0, 0.5);
        let v = eval(
            &g,
            &[("a", &[a]), ("m", &[m]), ("y", &[y]), ("neg.y", &[n])],
        );
        let want = f(a, m, y, n);
        let got = v.scalar("loss").unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
        let h = 1e-5;
        for (name, want) in [
            (
                "grad.a",
                (f(a + h, m, y, n) - f(a - h, m, y, n)) / (2.0 * h),
            ),
            (
                "grad.m",
                (f(a, m + h, y, n) - f(a, m - h, y, n)) / (2.0 * h),
            ),
        ] {
            let got = v.scalar(name).unwrap();
            assert!((got - want).abs() <= 1e-7, "{name}: {got} vs {want}");
        }
        assert!(v.output("grad.neg.y").is_none(), "ȳ is held fixed");
    }
}

/// The same 1-D Gaussian trained by persistent contrastive divergence (Langevin negatives)
/// and by nce: both reach the true density's test NLL. Tolerance as for dsm (4 standard
/// errors of the test mean, 0.116), plus 0.03 for what 25 epochs of noisy gradient steps and
/// Langevin's step (rate 0.01 on unit variance: +0.5 % variance) leave.
#[test]
fn a_gaussian_density_trained_by_pcd_and_by_nce_reaches_the_true_nll() {
    let dir = std::env::temp_dir().join(format!("ebmc-density-cd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ebmc::rng::Rng::new(12);
    let mut csv = String::from("y\n");
    for _ in 0..3000 {
        csv += &format!("{}\n", 1.0 + 0.5 * rng.normal());
    }
    std::fs::write(dir.join("g.csv"), csv).unwrap();
    let truth = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * 0.25).ln();
    for loss in [
        "cd negatives langevin(steps = 20, rate = 0.01, persistent = 500)",
        "nce(noise = normal(0, 2), ratio = 1)",
    ] {
        let src = format!(
            r#"model g {{
                 output y : real
                 param m : real = 0   param la : real = 0
                 energy 0.5 * exp(la) * (y - m)^2
                 loss {loss}
                 train by adam(rate = 0.02, epochs = 25, batch = 64)
                 data "g.csv" {{ y = y }} split 0.8 standardize y
                 partition by grid(points = 400, lo = -4, hi = 6)
               }}"#
        );
        let model = common::model_of(&src, false);
        let out =
            ebmc::runtime::run::run(&model, &dir, &RunOptions::default(), &mut |_| {}).unwrap();
        let Report::Data {
            test: Some(test), ..
        } = &out.report
        else {
            panic!("a test set")
        };
        let OutputMetrics::Density { nll: Some(nll), .. } = test.outputs[0].1 else {
            panic!("density metrics: {:?}", test.outputs)
        };
        assert!(
            (nll - truth).abs() <= 4.0 * 0.029 + 0.03,
            "{loss}: test NLL {nll}, true density {truth}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
