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

mod common;

use ebmc::check::{LossKind, Model};
use ebmc::compile::{self, Backend};
use ebmc::driver;
use ebmc::grad::{self, with_gradients};
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::jit::{self, JitError, JitOptions};
use ebmc::testing::{random_ir, rounding};
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
    common::run_native(g, opts, point)
}

/// The interpreter's outputs, packed in the same order.
/// The interpreter's outputs, and whether a comparison was within `tol` of a tie.
fn oracle(g: &Graph, point: &[Vec<f64>], tol: f64) -> (Vec<f64>, bool) {
    let slices: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
    let v = interp::eval_slots(g, &slices).unwrap();
    let outputs = g
        .outputs
        .iter()
        .flat_map(|(_, n)| v.node(*n).to_vec())
        .collect();
    (outputs, rounding::near_tie(g, &v, tol))
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

/// Strict code bit for bit, then default code within `tol`; returns whether default code was
/// compared (it is not where a comparison is within `tol` of a tie).
fn compare(g: &Graph, point: &[Vec<f64>], tol: f64, label: &str) -> bool {
    let (want, near_tie) = oracle(g, point, tol);
    let exact = run(g, strict(), point).unwrap_or_else(|e| panic!("{label}: {e}\n{g}"));
    for (i, (a, b)) in exact.iter().zip(&want).enumerate() {
        assert!(
            same_bits(*a, *b),
            "{label}: strict {} = {a:e}, interpreter {b:e}\n{g}",
            output_at(g, i)
        );
    }
    // Where a comparison is within `tol` of a tie, default rounding may take the other side.
    if near_tie {
        return false;
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
    true
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
    random_ir::inputs(g, &mut random_ir::Rng::new(seed))
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
        if let Some(l) = &grad::finish_loss(&m, p.loss.clone()) {
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
            LossKind::Cd { alpha: 0.1 },
            LossKind::Dsm { sigma: 0.2 },
        ] {
            let mut m = m.clone();
            let Some(loss) = m.loss.as_mut() else {
                continue;
            };
            loss.kind = kind;
            let Ok(Some(g)) = ir::loss(&m) else { continue };
            let Some(g) = grad::finish_loss(&m, Some(g)) else {
                continue;
            };
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
    let mut default_compared = 0;
    for seed in 0..520u64 {
        let mut rng = random_ir::Rng::new(seed);
        let steps = 4 + (seed % 12) as usize;
        let g = random_ir::program(&mut rng, steps);
        let g = with_gradients(&g, "f", &[InputKind::Param]);
        default_compared += compare(
            &g,
            &random_ir::inputs(&g, &mut rng),
            1e-10,
            &format!("seed {seed}"),
        ) as usize;
    }
    // Ties are rare: nearly every program's default code is compared too.
    assert!(default_compared >= 500, "{default_compared} of 520");
}

/// One random program per op, several sizes: every op is translated.
#[test]
fn every_op() {
    for op in random_ir::op_names() {
        if matches!(op, "const" | "input") {
            continue;
        }
        for seed in 0..6u64 {
            let mut rng = random_ir::Rng::new(seed * 31 + 5);
            let g = random_ir::program_with(&mut rng, 3, op);
            let g = with_gradients(&g, "f", &[InputKind::Param]);
            compare(
                &g,
                &random_ir::inputs(&g, &mut rng),
                1e-10,
                &format!("{op} seed {seed}"),
            );
        }
    }
}

/// The batched loss-gradient entry point equals the sum of per-example calls (to rounding),
/// in one artifact with every other entry point.
#[test]
fn batched_loss_gradient_sums_examples() {
    let mut batched = 0;
    for (label, m) in models() {
        if m.loss.is_none() {
            continue;
        }
        let code = driver::compile(&m, &compile::Options::new(Backend::Jit)).unwrap();
        let names: Vec<&str> = code.entries().iter().map(|e| e.entry.name()).collect();
        let infers = names.contains(&"infer_grad")
            || (names.contains(&"infer_prepare") && names.contains(&"infer_step"));
        assert!(
            names.starts_with(&["energy", "grad"]) && infers && names.contains(&"loss_grad"),
            "{label}: {names:?}"
        );
        let Some(mut batch) = code.kernel(compile::Entry::LossGradBatch) else {
            continue;
        };
        batched += 1;
        let mut one = code.kernel(compile::Entry::LossGrad).unwrap();
        let rows = batch.entry().rows;
        assert_eq!(rows, compile::BATCH);
        let graphs = compile::entry_graphs(&m, true).unwrap();
        let g = &graphs
            .iter()
            .find(|(e, _)| *e == compile::Entry::LossGrad)
            .unwrap()
            .1;
        let shared_point = point(g, 1);
        let mut want = vec![0.0; one.entry().output_len];
        for k in 0..rows {
            // Params from one point, everything else from the k-th.
            let p = point(g, 100 + k as u64);
            for (i, (own, sh)) in p.iter().zip(&shared_point).enumerate() {
                let shared = g.inputs[i].kind == InputKind::Param;
                let v = if shared { sh } else { own };
                one.input_mut(i).copy_from_slice(v);
                let dst = batch.input_mut(i);
                if shared {
                    dst.copy_from_slice(v);
                } else {
                    dst[k * v.len()..(k + 1) * v.len()].copy_from_slice(v);
                }
            }
            one.call().unwrap();
            let mut at = 0;
            for j in 0..one.entry().outputs.len() {
                for x in one.output(j) {
                    want[at] += x;
                    at += 1;
                }
            }
        }
        batch.call().unwrap();
        for (j, port) in batch.entry().outputs.iter().enumerate() {
            let k = one
                .entry()
                .outputs
                .iter()
                .position(|p| p.what == port.what)
                .unwrap();
            let w = &want[one.entry().outputs[k].offset..][..port.len];
            for (a, w) in batch.output(j).iter().zip(w) {
                assert!(
                    (a - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{label}: batch {:?} = {a}, sum of calls {w}",
                    port.what
                );
            }
        }
    }
    // The dense examples (regression, digits) batch; class indices and negatives do not.
    assert!(batched >= 2, "only {batched} examples batch their loss");
}

const TAKE: &str = "%0 = param v : real[3, 2]
%1 = output k class[3] : real
%2 = take %0, %1, 0 : real[2]
%3 = onehot %2, %1, 1 : real[2, 3]
%4 = sum %3 : real
out f = %4";

/// A run-time index out of range (or not an integer) is an error, never a wild access.
#[test]
fn bad_indices_are_errors() {
    let g = ir::parse(TAKE).unwrap();
    let v = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert_eq!(run(&g, fast(), &[v.clone(), vec![2.0]]).unwrap(), [11.0]);
    for bad in [3.0, -1.0, 0.5, f64::NAN, f64::INFINITY, 1e300] {
        for opts in [fast(), strict()] {
            let e = run(&g, opts, &[v.clone(), vec![bad]]).unwrap_err();
            assert!(matches!(e, JitError::IndexOutOfRange { .. }), "{bad}: {e}");
        }
    }
}

/// The safe wrapper checks every buffer length against the compiled layout.
#[test]
fn length_mismatch_is_an_error() {
    let g = ir::parse(TAKE).unwrap();
    let code = jit::compile(&g).unwrap();
    let f = &code.functions()[0];
    let l = f.layout();
    let mut out = vec![0.0; l.outputs];
    let mut scratch = f.scratch();
    let e = f
        .call(&vec![0.0; l.inputs - 1], &mut out, &mut scratch)
        .unwrap_err();
    assert!(
        matches!(
            e,
            JitError::BufferLength {
                expected: 7,
                found: 6,
                ..
            }
        ),
        "{e}"
    );
    let e = f
        .call(&vec![0.0; l.inputs], &mut [0.0; 2], &mut scratch)
        .unwrap_err();
    assert!(matches!(e, JitError::BufferLength { .. }), "{e}");
    let e = f
        .call(
            &vec![0.0; l.inputs],
            &mut out,
            &mut vec![0.0; l.scratch + 1],
        )
        .unwrap_err();
    assert!(matches!(e, JitError::BufferLength { .. }), "{e}");
    let mut packed = Vec::new();
    assert!(f.pack(&[&[1.0; 5], &[0.0]], &mut packed).is_err());
}

/// A graph needing more scratch than the limit is refused when compiled.
#[test]
fn scratch_limit_is_enforced() {
    let g = ir::parse(
        "%0 = param a : real[20000]
%1 = param b : real[20000]
%2 = outer %0, %1 : real[20000, 20000]
%3 = sum %2 : real
out f = %3",
    )
    .unwrap();
    match jit::compile(&g) {
        Err(JitError::TooLarge { scratch, .. }) => assert_eq!(scratch, 400_000_000),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("compiled a 3.2 GB scratch arena"),
    }
}

/// Compiled code is shared between threads; each brings its own scratch.
#[test]
fn compiled_code_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let g = ir::parse(TAKE).unwrap();
    let code = jit::compile(&g).unwrap();
    assert_send_sync(&code);
    let f = code.functions()[0].clone();
    let handles: Vec<_> = (0..3)
        .map(|k| {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut out = [0.0];
                let mut inputs = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, k as f64];
                f.call(&inputs, &mut out, &mut f.scratch()).unwrap();
                inputs.clear();
                out[0]
            })
        })
        .collect();
    let sums: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(sums, [3.0, 7.0, 11.0]);
}

/// A compiled model's kernels report errors in the interpreter's words, on every backend.
#[test]
fn native_kernel_errors_match_the_interpreter() {
    let src = "model m {\n  output k : class[3]\n  param v : real[3, 2]\n  energy sum(v[k])\n}\n";
    let m = driver::check(src.as_bytes()).models.remove(0);
    for bad in [3.0, 0.5] {
        let mut msgs = Vec::new();
        for b in [Backend::Interp, Backend::Jit, Backend::JitStrict] {
            let code = driver::compile(&m, &compile::Options::new(b)).unwrap();
            let mut k = code.kernel(compile::Entry::Energy).unwrap();
            let e = k.entry();
            let port = e
                .inputs
                .iter()
                .position(|p| p.what == compile::Input::Value(m.var_named("k").unwrap()))
                .unwrap();
            k.input_mut(port)[0] = bad;
            msgs.push(k.call().unwrap_err().0);
        }
        assert_eq!(msgs[0], msgs[1]);
        assert_eq!(msgs[0], msgs[2]);
    }
}
