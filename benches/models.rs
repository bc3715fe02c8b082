//! Models M1–M7 compiled by ebmc against the same models written by hand in Rust with
//! hand-derived gradients, timed in the same run. Prints one table: the median time per
//! call of each side and the ratio ebmc / hand-written for the energy, the full gradient
//! (every param, output and latent) and the per-example loss gradient (the batched entry over
//! 32 examples, divided by 32, against 32 hand-written calls), and the compile time from
//! source text to every entry point callable.
//!
//! Every hand-written result is first checked against ebmc's (relative 1e-9), so the two
//! sides compute the same thing. Run with `cargo bench --bench models`.

use ebmc::check::{Model, Role};
use ebmc::compile::{Backend, Entry, Input, Kernel, Options, Output};
use ebmc::driver;
use ebmc::types::Ty;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

// ---- hand-written building blocks (what a careful Rust programmer writes) ---------------

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        s0 += x[0] * y[0];
        s1 += x[1] * y[1];
        s2 += x[2] * y[2];
        s3 += x[3] * y[3];
    }
    let mut s = (s0 + s1) + (s2 + s3);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y = A x (+ b)`, `A` row-major `[m, n]`.
fn matvec(y: &mut [f64], a: &[f64], x: &[f64], b: Option<&[f64]>) {
    let n = x.len();
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = dot(&a[i * n..(i + 1) * n], x) + b.map_or(0.0, |b| b[i]);
    }
}

/// `z += Aᵀ g`.
fn matvec_t_add(z: &mut [f64], a: &[f64], g: &[f64]) {
    let n = z.len();
    for (i, &gi) in g.iter().enumerate() {
        for (zj, aij) in z.iter_mut().zip(&a[i * n..(i + 1) * n]) {
            *zj += gi * aij;
        }
    }
}

/// `A (+)= g xᵀ`.
fn outer(a: &mut [f64], g: &[f64], x: &[f64], add: bool) {
    let n = x.len();
    for (i, &gi) in g.iter().enumerate() {
        let row = &mut a[i * n..(i + 1) * n];
        if add {
            row.iter_mut().zip(x).for_each(|(r, xj)| *r += gi * xj);
        } else {
            row.iter_mut().zip(x).for_each(|(r, xj)| *r = gi * xj);
        }
    }
}

fn sqnorm(v: &[f64]) -> f64 {
    dot(v, v)
}

// ---- the models ------------------------------------------------------------------------

/// Values by variable name; `grads` by the same names.
type Vars = ebmc::ir::FxMap<String, Vec<f64>>;

struct Hand {
    /// The energy.
    energy: fn(&Vars, &mut Scratch) -> f64,
    /// Energy and gradient w.r.t. every param, output and latent (into `grads`).
    grad: fn(&Vars, &mut Scratch, &mut Vars) -> f64,
    /// Loss and parameter gradient, added into `grads`.
    loss_grad: Option<fn(&Vars, &mut Scratch, &mut Vars) -> f64>,
}

#[derive(Default)]
struct Scratch {
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
}

fn buf(v: &mut Vec<f64>, n: usize) -> &mut [f64] {
    v.resize(n, 0.0);
    &mut v[..n]
}

fn g<'v>(v: &'v Vars, k: &str) -> &'v [f64] {
    &v[k]
}

fn out<'v>(v: &'v mut Vars, k: &str) -> &'v mut [f64] {
    v.get_mut(k).unwrap()
}

// M1: E = ½‖W x + b − y‖²
fn m1_resid<'s>(v: &Vars, s: &'s mut Scratch) -> &'s mut [f64] {
    let r = buf(&mut s.a, 16);
    matvec(r, g(v, "W"), g(v, "x"), Some(g(v, "b")));
    r.iter_mut().zip(g(v, "y")).for_each(|(r, y)| *r -= y);
    r
}
fn m1_energy(v: &Vars, s: &mut Scratch) -> f64 {
    0.5 * sqnorm(m1_resid(v, s))
}
fn m1_grad_params(v: &Vars, s: &mut Scratch, gr: &mut Vars, add: bool) -> f64 {
    let r = m1_resid(v, s);
    outer(out(gr, "W"), r, g(v, "x"), add);
    for (gb, ri) in out(gr, "b").iter_mut().zip(r.iter()) {
        *gb = if add { *gb + ri } else { *ri };
    }
    0.5 * sqnorm(r)
}
fn m1_grad(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let e = m1_grad_params(v, s, gr, false);
    let r = &s.a;
    out(gr, "y").iter_mut().zip(r).for_each(|(gy, r)| *gy = -r);
    e
}
fn m1_loss(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    m1_grad_params(v, s, gr, true)
}

// M2: E = ½‖W2 tanh(W1 x + b1) + b2 − y‖²
fn m2_forward(v: &Vars, s: &mut Scratch) -> f64 {
    let h = buf(&mut s.a, 256);
    matvec(h, g(v, "W1"), g(v, "x"), Some(g(v, "b1")));
    h.iter_mut().for_each(|x| *x = x.tanh());
    let r = buf(&mut s.b, 10);
    matvec(r, g(v, "W2"), &s.a, Some(g(v, "b2")));
    r.iter_mut().zip(g(v, "y")).for_each(|(r, y)| *r -= y);
    0.5 * sqnorm(r)
}
fn m2_energy(v: &Vars, s: &mut Scratch) -> f64 {
    m2_forward(v, s)
}
fn m2_grad_params(v: &Vars, s: &mut Scratch, gr: &mut Vars, add: bool) -> f64 {
    let e = m2_forward(v, s);
    let (h, r) = (&s.a, &s.b);
    outer(out(gr, "W2"), r, h, add);
    for (gb, ri) in out(gr, "b2").iter_mut().zip(r) {
        *gb = if add { *gb + ri } else { *ri };
    }
    let gh = buf(&mut s.c, 256);
    gh.iter_mut().for_each(|x| *x = 0.0);
    matvec_t_add(gh, g(v, "W2"), r);
    gh.iter_mut().zip(h).for_each(|(g, h)| *g *= 1.0 - h * h);
    outer(out(gr, "W1"), gh, g(v, "x"), add);
    for (gb, gi) in out(gr, "b1").iter_mut().zip(gh.iter()) {
        *gb = if add { *gb + gi } else { *gi };
    }
    e
}
fn m2_grad(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let e = m2_grad_params(v, s, gr, false);
    out(gr, "y")
        .iter_mut()
        .zip(&s.b)
        .for_each(|(gy, r)| *gy = -r);
    e
}
fn m2_loss(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    m2_grad_params(v, s, gr, true)
}

// M3: E = (W x + b)[y]; loss nll: E(y) + log Σ exp(−E(y'))
fn m3_energy(v: &Vars, _: &mut Scratch) -> f64 {
    let y = g(v, "y")[0] as usize;
    dot(&g(v, "W")[y * 64..(y + 1) * 64], g(v, "x")) + g(v, "b")[y]
}
fn m3_grad(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let y = g(v, "y")[0] as usize;
    let gw = out(gr, "W");
    gw.iter_mut().for_each(|x| *x = 0.0);
    gw[y * 64..(y + 1) * 64].copy_from_slice(g(v, "x"));
    let gb = out(gr, "b");
    gb.iter_mut().for_each(|x| *x = 0.0);
    gb[y] = 1.0;
    m3_energy(v, s)
}
fn m3_loss(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let y = g(v, "y")[0] as usize;
    let e = buf(&mut s.a, 10);
    matvec(e, g(v, "W"), g(v, "x"), Some(g(v, "b")));
    let m = e.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(-x));
    let z: f64 = e.iter().map(|&x| (-x - m).exp()).sum();
    let lse = m + z.ln();
    let loss = e[y] + lse;
    // d/ds = onehot(y) − softmax(−s)
    e.iter_mut().for_each(|x| *x = -(-*x - lse).exp());
    e[y] += 1.0;
    outer(out(gr, "W"), e, g(v, "x"), true);
    out(gr, "b")
        .iter_mut()
        .zip(e.iter())
        .for_each(|(b, d)| *b += d);
    loss
}

// M4: E = ½‖tanh(A x + a) − tanh(B y + c)‖²
fn m4_energy(v: &Vars, s: &mut Scratch) -> f64 {
    let u = buf(&mut s.a, 64);
    matvec(u, g(v, "A"), g(v, "x"), Some(g(v, "a")));
    u.iter_mut().for_each(|x| *x = x.tanh());
    let w = buf(&mut s.b, 64);
    matvec(w, g(v, "B"), g(v, "y"), Some(g(v, "c")));
    w.iter_mut().zip(&s.a).for_each(|(w, u)| *w = u - w.tanh());
    0.5 * sqnorm(w)
}
fn m4_grad(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let e = m4_energy(v, s);
    let (u, d) = (&s.a, &s.b);
    // v = u − d; dE/du = d; dE/dv = −d.
    let gu = buf(&mut s.c, 64);
    gu.iter_mut()
        .zip(u)
        .zip(d)
        .for_each(|((g, u), d)| *g = d * (1.0 - u * u));
    outer(out(gr, "A"), gu, g(v, "x"), false);
    out(gr, "a").copy_from_slice(gu);
    let gv = buf(&mut s.d, 64);
    gv.iter_mut().zip(u).zip(d).for_each(|((g, u), d)| {
        let t = u - d;
        *g = -d * (1.0 - t * t)
    });
    outer(out(gr, "B"), gv, g(v, "y"), false);
    out(gr, "c").copy_from_slice(gv);
    let gy = out(gr, "y");
    gy.iter_mut().for_each(|x| *x = 0.0);
    matvec_t_add(gy, g(v, "B"), gv);
    e
}
/// ∇θ E at (x, y) scaled by `k`, added into `gr` (params only).
fn m4_param_grad_add(v: &Vars, y: &str, k: f64, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let u = buf(&mut s.a, 64);
    matvec(u, g(v, "A"), g(v, "x"), Some(g(v, "a")));
    u.iter_mut().for_each(|x| *x = x.tanh());
    let t = buf(&mut s.b, 64);
    matvec(t, g(v, "B"), g(v, y), Some(g(v, "c")));
    t.iter_mut().for_each(|x| *x = x.tanh());
    let d = buf(&mut s.c, 64);
    d.iter_mut()
        .zip(&s.a)
        .zip(&s.b)
        .for_each(|((d, u), t)| *d = u - t);
    let e = 0.5 * sqnorm(d);
    if k != 0.0 {
        let gu = buf(&mut s.d, 64);
        gu.iter_mut()
            .zip(&s.a)
            .zip(&s.c)
            .for_each(|((g, u), d)| *g = k * d * (1.0 - u * u));
        outer(out(gr, "A"), gu, g(v, "x"), true);
        out(gr, "a")
            .iter_mut()
            .zip(gu.iter())
            .for_each(|(a, g)| *a += g);
        gu.iter_mut()
            .zip(&s.b)
            .zip(&s.c)
            .for_each(|((g, t), d)| *g = -k * d * (1.0 - t * t));
        outer(out(gr, "B"), gu, g(v, y), true);
        out(gr, "c")
            .iter_mut()
            .zip(gu.iter())
            .for_each(|(c, g)| *c += g);
    }
    e
}
fn m4_loss(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let e_pos = {
        // Energies first, to know whether the hinge is active.
        let mut none = Vars::default();
        m4_param_grad_add(v, "y", 0.0, s, &mut none)
    };
    let e_neg = {
        let mut none = Vars::default();
        m4_param_grad_add(v, "neg.y", 0.0, s, &mut none)
    };
    let z = 0.5 + e_pos - e_neg;
    if z >= 0.0 {
        m4_param_grad_add(v, "y", 1.0, s, gr);
        m4_param_grad_add(v, "neg.y", -1.0, s, gr);
    }
    z.max(0.0)
}

// M5: E = ½‖y − (W x + V z)‖² + 0.05‖z‖²
fn m5_resid(v: &Vars, s: &mut Scratch) -> f64 {
    let p = buf(&mut s.a, 16);
    matvec(p, g(v, "W"), g(v, "x"), None);
    let q = buf(&mut s.b, 16);
    matvec(q, g(v, "V"), g(v, "z"), None);
    let r = &mut s.a;
    r.iter_mut()
        .zip(&s.b)
        .zip(g(v, "y"))
        .for_each(|((p, q), y)| *p = y - (*p + q));
    0.5 * sqnorm(r) + 0.05 * sqnorm(g(v, "z"))
}
fn m5_energy(v: &Vars, s: &mut Scratch) -> f64 {
    m5_resid(v, s)
}
fn m5_grad_params(v: &Vars, s: &mut Scratch, gr: &mut Vars, add: bool) -> f64 {
    let e = m5_resid(v, s);
    let nr = buf(&mut s.c, 16);
    nr.iter_mut().zip(&s.a).for_each(|(n, r)| *n = -r);
    outer(out(gr, "W"), nr, g(v, "x"), add);
    outer(out(gr, "V"), nr, g(v, "z"), add);
    e
}
fn m5_grad(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let e = m5_grad_params(v, s, gr, false);
    out(gr, "y").copy_from_slice(&s.a);
    let gz = out(gr, "z");
    gz.iter_mut().zip(g(v, "z")).for_each(|(g, z)| *g = 0.1 * z);
    matvec_t_add(gz, g(v, "V"), &s.c);
    e
}
fn m5_loss(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    m5_grad_params(v, s, gr, true)
}

// M6: E = −½ yᵀ W y − bᵀ y
fn m6_energy(v: &Vars, s: &mut Scratch) -> f64 {
    let wy = buf(&mut s.a, 512);
    matvec(wy, g(v, "W"), g(v, "y"), None);
    -0.5 * dot(g(v, "y"), wy) - dot(g(v, "b"), g(v, "y"))
}
fn m6_grad(v: &Vars, s: &mut Scratch, gr: &mut Vars) -> f64 {
    let e = m6_energy(v, s);
    let y = g(v, "y");
    let gw = out(gr, "W");
    for i in 0..512 {
        let k = -0.5 * y[i];
        for (w, yj) in gw[i * 512..(i + 1) * 512].iter_mut().zip(y) {
            *w = k * yj;
        }
    }
    out(gr, "b").iter_mut().zip(y).for_each(|(b, y)| *b = -y);
    // ∂E/∂y = −½ (W + Wᵀ) y − b
    let wty = buf(&mut s.b, 512);
    wty.iter_mut().for_each(|x| *x = 0.0);
    matvec_t_add(wty, g(v, "W"), y);
    let gy = out(gr, "y");
    for i in 0..512 {
        gy[i] = -0.5 * (s.a[i] + wty[i]) - g(v, "b")[i];
    }
    e
}

// M7: Rosenbrock
fn m7_energy(v: &Vars, _: &mut Scratch) -> f64 {
    let y = g(v, "y");
    let mut e = 0.0;
    for i in 0..y.len() - 1 {
        let t = y[i + 1] - y[i] * y[i];
        let u = 1.0 - y[i];
        e += 100.0 * t * t + u * u;
    }
    e
}
fn m7_grad(v: &Vars, _: &mut Scratch, gr: &mut Vars) -> f64 {
    let y = g(v, "y");
    let gy = out(gr, "y");
    gy.iter_mut().for_each(|x| *x = 0.0);
    let mut e = 0.0;
    for i in 0..y.len() - 1 {
        let t = y[i + 1] - y[i] * y[i];
        let u = 1.0 - y[i];
        e += 100.0 * t * t + u * u;
        gy[i] += -400.0 * y[i] * t - 2.0 * u;
        gy[i + 1] += 200.0 * t;
    }
    e
}

fn models() -> Vec<(&'static str, &'static str, Hand)> {
    macro_rules! src {
        ($f:literal) => {
            include_str!(concat!("models/", $f))
        };
    }
    vec![
        (
            "M1 linreg",
            src!("m1_linreg.ebm"),
            Hand {
                energy: m1_energy,
                grad: m1_grad,
                loss_grad: Some(m1_loss),
            },
        ),
        (
            "M2 mlp",
            src!("m2_mlp.ebm"),
            Hand {
                energy: m2_energy,
                grad: m2_grad,
                loss_grad: Some(m2_loss),
            },
        ),
        (
            "M3 multiclass",
            src!("m3_multiclass.ebm"),
            Hand {
                energy: m3_energy,
                grad: m3_grad,
                loss_grad: Some(m3_loss),
            },
        ),
        (
            "M4 implicit",
            src!("m4_implicit.ebm"),
            Hand {
                energy: m4_energy,
                grad: m4_grad,
                loss_grad: Some(m4_loss),
            },
        ),
        (
            "M5 latent",
            src!("m5_latent.ebm"),
            Hand {
                energy: m5_energy,
                grad: m5_grad,
                loss_grad: Some(m5_loss),
            },
        ),
        (
            "M6 hopfield",
            src!("m6_hopfield.ebm"),
            Hand {
                energy: m6_energy,
                grad: m6_grad,
                loss_grad: None,
            },
        ),
        (
            "M7 rosenbrock",
            src!("m7_rosenbrock.ebm"),
            Hand {
                energy: m7_energy,
                grad: m7_grad,
                loss_grad: None,
            },
        ),
    ]
}

// ---- harness ---------------------------------------------------------------------------

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut f = || {
        f();
        Ok(())
    };
    driver::median_ns(&mut f).unwrap()
}

struct Rng(u64);
impl Rng {
    fn normal(&mut self) -> f64 {
        // Sum of uniforms: cheap, deterministic, roughly normal.
        let mut s = 0.0;
        for _ in 0..4 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s += (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        }
        s
    }
}

/// A random point for every variable a graph reads (class values in range).
fn point(model: &Model, rng: &mut Rng, scale: &HashMap<String, f64>) -> Vars {
    let mut v = Vars::default();
    for var in &model.vars {
        v.insert(
            var.name.clone(),
            match var.ty {
                Ty::Class(k) => vec![(rng.normal().abs() * 100.0) as usize as f64 % k as f64],
                Ty::Sign(ref s) => vec![1.0; s.len()],
                _ => {
                    let s = scale.get(&var.name).copied().unwrap_or(1.0);
                    (0..var.ty.elements()).map(|_| s * rng.normal()).collect()
                }
            },
        );
    }
    v
}

/// Writes one point per row of the kernel into its input ports (params from the first).
fn fill(k: &mut Kernel, model: &Model, points: &[Vars]) {
    for i in 0..k.entry().inputs.len() {
        let Input::Value(v) = k.entry().inputs[i].what else {
            panic!("the benchmarked models take no negative answers")
        };
        let var = model.var(v);
        let dst = k.input_mut(i);
        if var.role == Role::Param {
            dst.copy_from_slice(&points[0][&var.name]);
        } else {
            let l = var.ty.elements();
            for (row, p) in dst.chunks_mut(l).zip(points) {
                row.copy_from_slice(&p[&var.name]);
            }
        }
    }
}

fn output(k: &Kernel, what: Output) -> &[f64] {
    let j = k
        .entry()
        .outputs
        .iter()
        .position(|p| p.what == what)
        .unwrap();
    k.output(j)
}

fn close(label: &str, a: &[f64], b: &[f64]) {
    let scale = b.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-9 * scale,
            "{label}[{i}]: ebmc {x}, hand-written {y}"
        );
    }
}

fn main() {
    println!("| model | compile ms | energy ns (hand) | ratio | gradient ns (hand) | ratio | loss grad ns/example (hand) | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (label, src, hand) in models() {
        // Compile time: source text to every entry point callable; median of 11.
        let mut ms = Vec::new();
        for _ in 0..11 {
            let t = Instant::now();
            let checked = driver::check(src.as_bytes());
            let m = checked.models.into_iter().next().unwrap();
            black_box(driver::compile(&m, &Options::new(Backend::Jit)).unwrap());
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        let compile_ms = ms[5];

        let checked = driver::check(src.as_bytes());
        assert!(!checked.has_errors(), "{label}");
        let model = checked.models.into_iter().next().unwrap();
        let code = driver::compile(&model, &Options::new(Backend::Jit)).unwrap();
        let mut rng = Rng(7);
        let scale: HashMap<String, f64> = [("W1", 0.05), ("W2", 0.1), ("W", 0.05)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let p = point(&model, &mut rng, &scale);
        let mut s = Scratch::default();
        let mut grads: Vars = p
            .iter()
            .map(|(k, v)| (k.clone(), vec![0.0; v.len()]))
            .collect();
        let grad_name = |w: Output| match w {
            Output::Grad(v) => Some(model.var(v).name.clone()),
            _ => None,
        };

        // Energy.
        let mut f = code.kernel(Entry::Energy).unwrap();
        fill(&mut f, &model, std::slice::from_ref(&p));
        f.call().unwrap();
        close(
            &format!("{label} energy"),
            output(&f, Output::Energy),
            &[(hand.energy)(&p, &mut s)],
        );
        let e_jit = median_ns(|| f.call().unwrap());
        let e_hand = median_ns(|| {
            black_box((hand.energy)(black_box(&p), &mut s));
        });

        // Full gradient.
        let mut f = code.kernel(Entry::Grad).unwrap();
        fill(&mut f, &model, std::slice::from_ref(&p));
        f.call().unwrap();
        (hand.grad)(&p, &mut s, &mut grads);
        for port in &f.entry().outputs {
            if let Some(v) = grad_name(port.what) {
                close(
                    &format!("{label} grad.{v}"),
                    output(&f, port.what),
                    &grads[&v],
                );
            }
        }
        let g_jit = median_ns(|| f.call().unwrap());
        let g_hand = median_ns(|| {
            black_box((hand.grad)(black_box(&p), &mut s, &mut grads));
        });

        // The loss gradient training runs, over the rows it gives one call.
        let loss = match (hand.loss_grad, code.training_entry()) {
            (Some(lg), Some(e)) => {
                let mut f = code.kernel(e.entry).unwrap();
                let b = e.rows;
                let mut points: Vec<Vars> = vec![p.clone()];
                while points.len() < b {
                    // Params are shared: every row has the first point's.
                    let mut q = point(&model, &mut rng, &scale);
                    for (_, v) in model.vars_of(Role::Param) {
                        q.insert(v.name.clone(), p[&v.name].clone());
                    }
                    points.push(q);
                }
                fill(&mut f, &model, &points);
                f.call().unwrap();
                let mut run_hand = |grads: &mut Vars| {
                    grads
                        .values_mut()
                        .for_each(|v| v.iter_mut().for_each(|x| *x = 0.0));
                    let mut l = 0.0;
                    for q in &points {
                        l += lg(q, &mut s, grads);
                    }
                    l
                };
                let l = run_hand(&mut grads);
                close(&format!("{label} loss"), output(&f, Output::Loss), &[l]);
                for port in &f.entry().outputs {
                    if let Some(v) = grad_name(port.what) {
                        close(
                            &format!("{label} loss grad.{v}"),
                            output(&f, port.what),
                            &grads[&v],
                        );
                    }
                }
                let jit = median_ns(|| f.call().unwrap()) / b as f64;
                let hand = median_ns(|| {
                    black_box(run_hand(&mut grads));
                }) / b as f64;
                format!("{jit:.0} ({hand:.0}) | {:.2}", jit / hand)
            }
            _ => "— | —".to_string(),
        };
        println!(
            "| {label} | {compile_ms:.2} | {e_jit:.0} ({e_hand:.0}) | {:.2} | {g_jit:.0} ({g_hand:.0}) | {:.2} | {loss} |",
            e_jit / e_hand,
            g_jit / g_hand
        );
    }
}
