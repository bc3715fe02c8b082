//! Native code against the reference interpreter.
//!
//! * **strict** code ([`JitOptions::strict`]) must equal the interpreter bit for bit — every
//!   output of every graph: the energy and its gradients of every example and fixture, every
//!   loss of section 6 with its parameter gradient, and hundreds of seeded random programs;
//! * **default** code must agree to rounding: `|jit − interp| ≤ 1e-12 · (1 + |interp|)`
//!   element-wise for models; random programs, whose values pass through several inline
//!   transcendentals (each ≤ 2 ulp off libm) and re-associated sums, use `1e-10`;
//! * batched entries equal the sum of per-example calls; bad indices and wrong buffer lengths
//!   are errors; the scratch limit is enforced.

use ebmc::check::{LossKind, Model};
use ebmc::driver;
use ebmc::grad::{self, with_gradients};
use ebmc::interp;
use ebmc::ir::{self, random, Graph, InputKind};
use ebmc::jit::{self, Entry, JitError, JitOptions};
use std::path::Path;

fn strict() -> JitOptions {
    JitOptions {
        strict: true,
        verify: true,
        ..JitOptions::default()
    }
}

fn fast() -> JitOptions {
    JitOptions {
        verify: true,
        ..JitOptions::default()
    }
}

/// Runs `g` natively at `point`; the outputs, packed.
fn run(g: &Graph, opts: JitOptions, point: &[Vec<f64>]) -> Result<Vec<f64>, JitError> {
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

/// The interpreter's outputs, packed in the same order.
fn oracle(g: &Graph, point: &[Vec<f64>]) -> Vec<f64> {
    let slices: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
    let v = interp::eval_slots(g, &slices).unwrap();
    g.outputs
        .iter()
        .flat_map(|(_, n)| v.node(*n).to_vec())
        .collect()
}

/// Which output holds flat index `i`.
fn output_at(g: &Graph, mut i: usize) -> String {
    for (name, n) in &g.outputs {
        let l = g.shape(*n).len();
        if i < l {
            return format!("{name}[{i}]");
        }
        i -= l;
    }
    "?".into()
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Strict code equals the interpreter bit for bit; default code agrees within `tol`.
fn compare(g: &Graph, point: &[Vec<f64>], tol: f64, label: &str) {
    let want = oracle(g, point);
    let exact = run(g, strict(), point).unwrap_or_else(|e| panic!("{label}: {e}\n{g}"));
    for (i, (a, b)) in exact.iter().zip(&want).enumerate() {
        assert!(
            same_bits(*a, *b),
            "{label}: strict {} = {a:e}, interpreter {b:e}\n{g}",
            output_at(g, i)
        );
    }
    let near = run(g, fast(), point).unwrap_or_else(|e| panic!("{label}: {e}\n{g}"));
    for (i, (a, b)) in near.iter().zip(&want).enumerate() {
        let ok = same_bits(*a, *b) || (a - b).abs() <= tol * (1.0 + b.abs());
        assert!(
            ok,
            "{label}: native {} = {a:e}, interpreter {b:e}\n{g}",
            output_at(g, i)
        );
    }
}

/// Every model of the examples and the `ok` fixtures.
fn models() -> Vec<(String, Model)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "tests/ebm/ok"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "ebm") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let checked = driver::check(&std::fs::read(&f).unwrap());
        assert!(!checked.has_errors(), "{}", f.display());
        for m in checked.models {
            out.push((format!("{}:{}", f.display(), m.name), m));
        }
    }
    out
}

/// A random point for `g`'s inputs (reals standard normal, discrete values in range).
fn point(g: &Graph, seed: u64) -> Vec<Vec<f64>> {
    random::inputs(g, &mut random::Rng::new(seed))
}

#[test]
fn examples_energy_and_every_gradient() {
    let mut graphs = 0;
    for (label, m) in models() {
        let p = ir::build(&m).unwrap();
        let all = [InputKind::Param, InputKind::Output, InputKind::Latent];
        let mut gs = vec![
            ("energy", p.energy.clone()),
            ("grad", with_gradients(&p.energy, "energy", &all)),
            (
                "infer",
                with_gradients(
                    &p.free_energy,
                    "energy",
                    &[InputKind::Output, InputKind::Latent],
                ),
            ),
        ];
        if let Some(a) = &p.answers {
            gs.push(("answers", a.clone()));
        }
        if let Some(l) = &p.loss {
            gs.push(("loss", with_gradients(l, "loss", &[InputKind::Param])));
        }
        for (what, g) in gs {
            for seed in 0..3 {
                compare(
                    &g,
                    &point(&g, seed),
                    1e-12,
                    &format!("{label} {what} seed {seed}"),
                );
                graphs += 1;
            }
        }
    }
    assert!(graphs > 50, "{graphs}");
}

#[test]
fn every_loss_and_its_parameter_gradient() {
    let mut checked = 0;
    for (label, m) in models() {
        for kind in [
            LossKind::Energy,
            LossKind::Perceptron,
            LossKind::Hinge { margin: 0.5 },
            LossKind::Log,
            LossKind::Lvq2 { delta: 0.1 },
            LossKind::Mce,
            LossKind::SquareSquare { margin: 1.0 },
            LossKind::SquareExp { gamma: 1.0 },
            LossKind::Nll { beta: 1.0 },
            LossKind::Mee { beta: 1.0 },
        ] {
            let mut m = m.clone();
            let Some(loss) = m.loss.as_mut() else {
                continue;
            };
            loss.kind = kind;
            let Ok(Some(g)) = ir::loss(&m) else { continue };
            let g = with_gradients(&g, "loss", &[InputKind::Param]);
            compare(&g, &point(&g, 7), 1e-12, &format!("{label} loss {kind:?}"));
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked}");
}

/// At least 500 random programs per run: the function and its gradient, strict and default.
#[test]
fn random_programs() {
    for seed in 0..520u64 {
        let mut rng = random::Rng::new(seed);
        let steps = 4 + (seed % 12) as usize;
        let g = random::program(&mut rng, steps);
        let g = with_gradients(&g, "f", &[InputKind::Param]);
        compare(
            &g,
            &random::inputs(&g, &mut rng),
            1e-10,
            &format!("seed {seed}"),
        );
    }
}

/// One random program per op, several sizes: every op is translated.
#[test]
fn every_op() {
    for op in random::op_names() {
        if matches!(op, "const" | "input") {
            continue;
        }
        for seed in 0..6u64 {
            let mut rng = random::Rng::new(seed * 31 + 5);
            let g = random::program_with(&mut rng, 3, op);
            let g = with_gradients(&g, "f", &[InputKind::Param]);
            compare(
                &g,
                &random::inputs(&g, &mut rng),
                1e-10,
                &format!("{op} seed {seed}"),
            );
        }
    }
}
