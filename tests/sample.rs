//! Samplers (spec section 13) against distributions known exactly.
//!
//! Every test is seeded. Tolerances come from the number of effective samples: the chains
//! are independent (each draws from its own generator) and each contributes its last state, so
//! `n` chains run long enough to forget their start give `n` effective samples, and a
//! statistic's standard error is the textbook one for `n` independent draws. Each bound is
//! about 5 standard errors (a false failure about once in 10^6 runs) unless said otherwise:
//!
//! * a Gaussian `½ (y − μ)ᵀ A (y − μ)` by `langevin`: mean and covariance against the
//!   stationary law of the *unadjusted* chain, `N(μ, (A − rate·A²/2)⁻¹)` (exact for a
//!   Gaussian), and that law differs from `A⁻¹` by more than the tolerance, so the test sees
//!   the discretisation;
//! * a 1-D double well `(y² − 1)²` by `langevin` and by `hmc`: the Kolmogorov–Smirnov
//!   statistic against the CDF by quadrature (critical value `1.95/√n`, α = 0.001, plus the
//!   unadjusted chain's O(rate) bias for `langevin`, bounded below);
//! * `hmc` on an ill-conditioned Gaussian (condition number 100): mean and covariance
//!   against the exact `A⁻¹` (HMC's stationary law is exact);
//! * `gibbs` on a 10-spin Ising chain: the frequencies of all 1,024 states against exact
//!   enumeration, by a chi-square test (states with expected count < 5 pooled).

mod common;

use common::{chi_square, rbm_marginal, state_index};
use ebmc::compile::{self, Backend};
use ebmc::rng::Rng;
use ebmc::runtime::sample::{Chains, Given, Start};
use ebmc::runtime::session::{Point, Session};
use std::sync::Arc;

/// The model's chains, `n` of them from the sampler's init, at the zero point; returns the
/// states (rows of the chains' width) and the acceptance rate.
fn draw(src: &str, n: usize, seed: u64) -> (Vec<f64>, usize, Option<f64>) {
    let checked = ebmc::driver::check(src.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let model = &checked.models[0];
    let code = compile::compile(model, &compile::Options::new(Backend::Jit)).unwrap();
    let mut s = Session::new(&Arc::new(code), 0).unwrap();
    let (mut chains, sampler) = Chains::of_model(&s).unwrap().expect("a sampler");
    let at = Point::zeros(model);
    let mut state = vec![0.0; n * chains.width()];
    let stats = chains
        .run(
            &mut s,
            &sampler,
            Given::Same(&at),
            &mut state,
            Start::Init,
            &mut Rng::new(seed),
        )
        .unwrap();
    (state, chains.width(), stats.acceptance())
}

fn mean_cov(state: &[f64], w: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (state.len() / w) as f64;
    let mut mean = vec![0.0; w];
    for row in state.chunks(w) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x / n;
        }
    }
    let mut cov = vec![0.0; w * w];
    for row in state.chunks(w) {
        for i in 0..w {
            for j in 0..w {
                cov[i * w + j] += (row[i] - mean[i]) * (row[j] - mean[j]) / (n - 1.0);
            }
        }
    }
    (mean, cov)
}

fn inv2(a: [f64; 4]) -> [f64; 4] {
    let det = a[0] * a[3] - a[1] * a[2];
    [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det]
}

/// Checks a 2-D sample's mean and covariance against `N(mu, s)` with `n` effective samples:
/// the mean's standard error is `sqrt(s_ii / n)`, a covariance entry's `sqrt((s_ii s_jj +
/// s_ij²) / n)` (Wishart); 5 of each.
fn check_gaussian(state: &[f64], mu: [f64; 2], s: [f64; 4]) {
    let n = (state.len() / 2) as f64;
    let (mean, cov) = mean_cov(state, 2);
    for i in 0..2 {
        let se = (s[i * 3] / n).sqrt();
        assert!(
            (mean[i] - mu[i]).abs() < 5.0 * se,
            "mean[{i}] = {} vs {} (se {se})",
            mean[i],
            mu[i]
        );
    }
    for i in 0..2 {
        for j in 0..2 {
            let se = ((s[i * 3] * s[j * 3] + s[i * 2 + j].powi(2)) / n).sqrt();
            assert!(
                (cov[i * 2 + j] - s[i * 2 + j]).abs() < 5.0 * se,
                "cov[{i},{j}] = {} vs {} (se {se})",
                cov[i * 2 + j],
                s[i * 2 + j]
            );
        }
    }
}

const GAUSSIAN: &str = "model g {
  output y : real[2]
  param mu : real[2] = [1, -2]
  param A : real[2, 2] = [[2, 0.6], [0.6, 1]]
  energy 0.5 * dot(y - mu, A @ (y - mu))
  infer y by METHOD
}";

#[test]
fn langevin_on_a_gaussian_has_the_unadjusted_chains_law() {
    let (rate, n) = (0.1, 10_000);
    let src = GAUSSIAN.replace("METHOD", &format!("langevin(steps = 300, rate = {rate})"));
    let (state, w, acc) = draw(&src, n, 1);
    assert_eq!((w, acc), (2, None));
    // (A − rate A²/2)⁻¹: the stationary covariance of y ← y − rate A (y − μ) + sqrt(2 rate) ε.
    let a = [2.0, 0.6, 0.6, 1.0];
    let a2 = [
        a[0] * a[0] + a[1] * a[2],
        a[0] * a[1] + a[1] * a[3],
        a[2] * a[0] + a[3] * a[2],
        a[2] * a[1] + a[3] * a[3],
    ];
    let m: Vec<f64> = (0..4).map(|k| a[k] - rate * a2[k] / 2.0).collect();
    let s = inv2([m[0], m[1], m[2], m[3]]);
    // The test tells this law from A⁻¹: they differ in the first variance by more than 5
    // standard errors of its estimate.
    let exact = inv2(a);
    assert!((s[0] - exact[0]).abs() > 5.0 * (2.0 * s[0] * s[0] / n as f64).sqrt());
    check_gaussian(&state, [1.0, -2.0], s);
}

#[test]
fn langevin_with_beta_samples_the_tempered_law() {
    // exp(−β E) with β = 4 by the spec's update y ← y − rate ∇E + sqrt(2 rate / β) ε: its
    // stationary covariance S solves S = (I − rate A) S (I − rate A) + (2 rate / β) I, so
    // S = (β (A − rate A² / 2))⁻¹.
    let (rate, beta) = (0.02, 4.0);
    let src = GAUSSIAN.replace(
        "METHOD",
        &format!("langevin(steps = 800, rate = {rate}, beta = {beta})"),
    );
    let (state, _, _) = draw(&src, 4000, 2);
    let a = [2.0, 0.6, 0.6, 1.0];
    let a2 = [
        a[0] * a[0] + a[1] * a[2],
        a[0] * a[1] + a[1] * a[3],
        a[2] * a[0] + a[3] * a[2],
        a[2] * a[1] + a[3] * a[3],
    ];
    let m: Vec<f64> = (0..4).map(|k| beta * (a[k] - rate * a2[k] / 2.0)).collect();
    check_gaussian(&state, [1.0, -2.0], inv2([m[0], m[1], m[2], m[3]]));
}

#[test]
fn hmc_is_exact_on_an_ill_conditioned_gaussian() {
    // Eigenvalues 100 and 1 along axes rotated by 30°: condition number 100.
    let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
    let (l1, l2) = (100.0, 1.0);
    let a = [
        l1 * c * c + l2 * s * s,
        (l1 - l2) * c * s,
        (l1 - l2) * c * s,
        l1 * s * s + l2 * c * c,
    ];
    let src = format!(
        "model g {{
  output y : real[2]
  param mu : real[2] = [0.5, -1]
  param A : real[2, 2] = [[{}, {}], [{}, {}]]
  energy 0.5 * dot(y - mu, A @ (y - mu))
  infer y by hmc(steps = 200, leapfrog = 10, rate = 0.05)
}}",
        a[0], a[1], a[2], a[3]
    );
    let (state, _, acc) = draw(&src, 3000, 3);
    let acc = acc.expect("hmc reports its acceptance");
    assert!(acc > 0.5 && acc < 1.0, "acceptance {acc}");
    check_gaussian(&state, [0.5, -1.0], inv2(a));
}

/// `exp(−(y² − 1)²)`'s CDF on a fine grid by the midpoint rule.
fn double_well_cdf() -> impl Fn(f64) -> f64 {
    let (lo, hi, m) = (-4.0, 4.0, 80_000);
    let h = (hi - lo) / m as f64;
    let mut cdf = Vec::with_capacity(m + 1);
    let mut acc = 0.0;
    cdf.push(0.0);
    for k in 0..m {
        let y: f64 = lo + (k as f64 + 0.5) * h;
        acc += (-(y * y - 1.0).powi(2)).exp() * h;
        cdf.push(acc);
    }
    let z = acc;
    move |y: f64| {
        let k = ((y - lo) / h).clamp(0.0, m as f64);
        let i = (k.floor() as usize).min(m - 1);
        let f = k - i as f64;
        (cdf[i] * (1.0 - f) + cdf[i + 1] * f) / z
    }
}

fn ks(mut ys: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    ys.sort_by(f64::total_cmp);
    let n = ys.len() as f64;
    let mut d = 0.0f64;
    for (i, y) in ys.iter().enumerate() {
        let f = cdf(*y);
        d = d
            .max((f - i as f64 / n).abs())
            .max(((i + 1) as f64 / n - f).abs());
    }
    d
}

const WELL: &str = "model w {
  output y : real
  energy (y^2 - 1)^2
  infer y by METHOD
}";

#[test]
fn hmc_on_a_double_well_matches_quadrature() {
    let n = 3000;
    let src = WELL.replace("METHOD", "hmc(steps = 300, leapfrog = 10, rate = 0.1)");
    let (state, _, _) = draw(&src, n, 4);
    let d = ks(state, double_well_cdf());
    // α = 0.001.
    assert!(d < 1.95 / (n as f64).sqrt(), "KS {d}");
}

#[test]
fn langevin_on_a_double_well_matches_quadrature() {
    let n = 3000;
    let src = WELL.replace("METHOD", "langevin(steps = 3000, rate = 0.005)");
    let (state, _, _) = draw(&src, n, 5);
    let d = ks(state, double_well_cdf());
    // α = 0.001, plus the unadjusted chain's bias: at rate 0.005 its law is within 0.01 of
    // the target in CDF (measured with 10^6 chains: 0.004).
    assert!(d < 1.95 / (n as f64).sqrt() + 0.01, "KS {d}");
}

/// A 10-spin Ising chain with couplings J and fields h.
fn ising(method: &str) -> String {
    let spins: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let mut energy = Vec::new();
    for i in 0..9 {
        energy.push(format!("0.6 * s{i} * s{}", i + 1));
    }
    for (i, s) in spins.iter().enumerate() {
        energy.push(format!("{} * {s}", 0.1 * (i as f64 - 4.5) / 4.5));
    }
    format!(
        "model ising {{
  output {}
  energy -({})
  infer {} by {method}
}}",
        spins
            .iter()
            .map(|s| format!("{s} : sign"))
            .collect::<Vec<_>>()
            .join("   output "),
        energy.join(" + "),
        spins.join(", ")
    )
}

fn ising_energy(s: &[f64]) -> f64 {
    let mut e = 0.0;
    for i in 0..9 {
        e -= 0.6 * s[i] * s[i + 1];
    }
    for (i, x) in s.iter().enumerate() {
        e -= 0.1 * (i as f64 - 4.5) / 4.5 * x;
    }
    e
}

#[test]
fn gibbs_on_an_ising_chain_matches_enumeration() {
    let n = 20_000;
    let (state, w, _) = draw(&ising("gibbs(sweeps = 12)"), n, 6);
    assert_eq!(w, 10);
    let mut counts = vec![0usize; 1024];
    for row in state.chunks(10) {
        assert!(row.iter().all(|x| *x == 1.0 || *x == -1.0));
        counts[state_index(row)] += 1;
    }
    let weights: Vec<f64> = (0..1024)
        .map(|k| {
            let s: Vec<f64> = (0..10)
                .map(|i| if k >> (9 - i) & 1 == 1 { 1.0 } else { -1.0 })
                .collect();
            (-ising_energy(&s)).exp()
        })
        .collect();
    let z: f64 = weights.iter().sum();
    // Chi-square over states with expected count ≥ 5, the rest pooled into one bin.
    let (mut chi2, mut bins) = (0.0, 0usize);
    let (mut pooled_e, mut pooled_o) = (0.0, 0.0);
    for (k, w) in weights.iter().enumerate() {
        let e = n as f64 * w / z;
        let o = counts[k] as f64;
        if e >= 5.0 {
            chi2 += (o - e).powi(2) / e;
            bins += 1;
        } else {
            pooled_e += e;
            pooled_o += o;
        }
    }
    if pooled_e > 0.0 {
        chi2 += (pooled_o - pooled_e).powi(2) / pooled_e;
        bins += 1;
    }
    // The chi-square critical value at α = 0.001 with df = bins − 1, by Wilson–Hilferty.
    let df = (bins - 1) as f64;
    let crit = df * (1.0 - 2.0 / (9.0 * df) + 3.09 * (2.0 / (9.0 * df)).sqrt()).powi(3);
    assert!(bins > 100, "{bins} bins");
    assert!(
        chi2 < crit,
        "chi-square {chi2} over {bins} bins, critical {crit}"
    );
}

#[test]
fn chains_do_not_depend_on_their_blocking() {
    // The same 70 chains run as 70 and as the first 5 (one partial block, and chains one at a
    // time would be another blocking): chain k's path depends on the seed and k only.
    let src = GAUSSIAN.replace("METHOD", "langevin(steps = 50, rate = 0.05)");
    let (all, _, _) = draw(&src, 70, 9);
    let (few, _, _) = draw(&src, 5, 9);
    assert_eq!(&all[..10], &few[..]);
}

/// An RBM, `E(v, h) = −(a·v + b·h + h·W v)`, with `energy` written so that the checker finds it
/// affine in `v` and `h` (block Gibbs), or with a term that is 0 on signs but not linear to the
/// checker (`0 * sqnorm(v)`: single-site Gibbs). Both draw `(v, h)` jointly.
fn rbm(extra: &str) -> String {
    format!(
        "model rbm {{
  output v : sign[5]
  latent h : sign[3]
  param  W : real[3, 5] = [[0.8, -0.6, 0.5, 0, 0.3], [-0.4, 0.7, 0, 0.9, -0.5], [0.3, 0.3, -0.8, 0.4, 0.6]]
  param  a : real[5] = [0.2, -0.1, 0, 0.3, -0.2]
  param  b : real[3] = [-0.2, 0.1, 0.3]
  energy -(dot(a, v) + dot(b, h) + dot(h, W @ v)){extra}
  infer v, h by gibbs(sweeps = 30)
}}"
    )
}

#[test]
fn rbm_block_gibbs_agrees_with_single_site_and_enumeration() {
    // The checker redraws v and h as blocks in the first model, site by site in the second.
    let block = ebmc::driver::check(rbm("").as_bytes());
    let site = ebmc::driver::check(rbm(" + 0 * sqnorm(v)").as_bytes());
    let blocks = |c: &ebmc::driver::Checked| match &c.models[0].infer[0].method {
        ebmc::check::InferMethod::Sample(ebmc::check::Sampler::Gibbs { blocks, .. }) => {
            blocks.len()
        }
        m => panic!("{m:?}"),
    };
    assert_eq!((blocks(&block), blocks(&site)), (2, 1));
    assert!(site
        .diagnostics
        .iter()
        .any(|d| d.code == ebmc::diag::Code::GibbsSiteBySite));
    let exact = rbm_marginal();
    // 30 sweeps: at 8, 20,000 block chains still remembered their uniform start (chi-square
    // 177 against a critical 61); at 40 they passed.
    let n = 8_000;
    for (src, seed) in [(rbm(""), 10), (rbm(" + 0 * sqnorm(v)"), 11)] {
        let (state, w, _) = draw(&src, n, seed);
        assert_eq!(w, 8);
        let mut counts = vec![0usize; 32];
        for row in state.chunks(8) {
            counts[state_index(&row[..5])] += 1;
        }
        let (chi2, crit) = chi_square(&counts, &exact);
        assert!(chi2 < crit, "{src}: chi-square {chi2}, critical {crit}");
    }
}
