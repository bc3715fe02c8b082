//! What the fuzz targets in `fuzz/` run, in the library so that `tests/fuzz_replay.rs` replays
//! their corpora and every crash they found through the very same code on a stable toolchain.
//!
//! Each entry point takes the fuzzer's bytes and returns `Err` only when a property of the
//! compiler is violated (the targets turn that into a crash); inputs the compiler rightly
//! rejects are `Ok`. A panic anywhere is a crash too.
//!
//! * [`parse_check`]: any bytes through parse and check — a checked model or diagnostics; a
//!   source that parses is formatted too, and must keep the properties of [`fmt_properties`].
//! * [`ir_program`]: a random well-typed IR program ([`random_ir`], its choices read from the
//!   bytes) through verify, differentiation and simplification, evaluated by the interpreter:
//!   simplification keeps values, the gradient agrees with finite differences
//!   ([`gradcheck`]), and native code ([`jit`]) agrees with the interpreter — strict code
//!   bit for bit, default code within `1e-10` relative.
//! * [`pipeline`]: a random well-typed model *source* ([`source::model`]) through check,
//!   lowering, differentiation, compilation, evaluation, inference and one training step, each
//!   returning a value or an error.
//! * [`files()`]: the command line's other inputs — data, weights and point files, `--at`
//!   values, `--memory` sizes, output names through the atomic writer ([`files`]).

pub mod files;
pub mod source;

pub use files::files;

use crate::check::{Optimizer, Role};
use crate::compile::Backend;
use crate::driver;
use crate::grad;
use crate::interp;
use crate::ir::{self, Graph, InputKind};
use crate::jit;
use crate::rng;
use crate::runtime::optim::Optim;
use crate::runtime::session::{Point, Session};
use crate::syntax;
use crate::testing::gradcheck::{self, Outcome};
use crate::testing::random_ir;
use crate::testing::rounding;
use crate::types::Ty;

/// Parses and checks `bytes`; a clean model is lowered too, and its graphs must verify.
pub fn parse_check(bytes: &[u8]) -> Result<(), String> {
    if let Ok(source) = std::str::from_utf8(bytes) {
        fmt_properties(source)?;
    }
    let checked = driver::check(bytes);
    if checked.has_errors() {
        return Ok(());
    }
    for model in &checked.models {
        let Ok(program) = ir::build(model) else {
            continue;
        };
        ir::verify(&program.energy)
            .map_err(|e| format!("the energy of `{}` does not verify: {e}", model.name))?;
    }
    Ok(())
}

/// The formatter's promises on a source that parses (any other source is `Ok`): the formatted
/// text parses to the same AST up to spans, formatting it again changes nothing, and its
/// comments are the source's, in the same order ([`same_comments`]).
pub fn fmt_properties(source: &str) -> Result<(), String> {
    let Ok(ast) = syntax::parse(source) else {
        return Ok(());
    };
    let once = syntax::format(source)
        .map_err(|d| format!("a source that parses does not format: {d:?}"))?;
    let again = syntax::parse(&once)
        .map_err(|d| format!("the formatted source does not parse: {d:?}\n{once}"))?;
    if without_spans(&ast) != without_spans(&again) {
        return Err(format!(
            "formatting changed the AST:\n{source}\n--- formatted:\n{once}"
        ));
    }
    let twice = syntax::format(&once)
        .map_err(|d| format!("the formatted source does not format: {d:?}\n{once}"))?;
    if twice != once {
        return Err(format!(
            "formatting is not idempotent:\n{once}\n--- formatted again:\n{twice}"
        ));
    }
    same_comments(source, &once)
}

/// The AST's debug text with every span (`span: 3..5`, `op_span`, `path_span`, `test_span`) replaced by
/// `_`: two sources that differ only in layout give the same text.
pub fn without_spans(file: &syntax::ast::File) -> String {
    let text = format!("{file:?}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("span: ") {
        let (head, tail) = rest.split_at(at + "span: ".len());
        out.push_str(head);
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let a = digits(tail);
        match tail[a..].strip_prefix("..") {
            Some(after) if a > 0 && digits(after) > 0 => {
                out.push('_');
                rest = &after[digits(after)..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Whether `formatted` holds the comments of `source` in the same order, each the same text
/// up to line ends (`\r\n` becomes `\n`) and spaces at the end of its lines.
pub fn same_comments(source: &str, formatted: &str) -> Result<(), String> {
    let texts = |s: &str| -> Vec<String> {
        let s = s.strip_prefix('\u{feff}').unwrap_or(s);
        syntax::comments(s)
            .into_iter()
            .map(|(a, b)| {
                let lines: Vec<&str> = s[a..b].split('\n').map(str::trim_end).collect();
                lines.join("\n")
            })
            .collect()
    };
    let (before, after) = (texts(source), texts(formatted));
    if before != after {
        return Err(format!(
            "formatting changed the comments: {before:?} became {after:?}\n{source}\n--- formatted:\n{formatted}"
        ));
    }
    Ok(())
}

/// Relative error above which a gradient disagrees with finite differences — at each of three
/// step sizes: a miss at one can be a point where the function curves sharply (a smaller step
/// helps) or rounding where large values cancel into a small result (a larger step helps).
const GRAD_TOL: f64 = 1e-6;

/// The program [`ir_program`] builds from `bytes`: at most 24 steps.
pub fn program_of(bytes: &[u8]) -> (Graph, random_ir::Rng) {
    let mut rng = random_ir::Rng::from_bytes(bytes);
    let steps = 1 + rng.below(24);
    let g = random_ir::program(&mut rng, steps);
    (g, rng)
}

/// A random IR program from `bytes`, checked as described in the module documentation.
pub fn ir_program(bytes: &[u8]) -> Result<(), String> {
    let (g, mut rng) = program_of(bytes);
    ir::verify(&g).map_err(|e| format!("generated program does not verify: {e}\n{g}"))?;
    let grads = grad::with_gradients(&g, "f", &[InputKind::Param]);
    ir::verify(&grads).map_err(|e| format!("gradient does not verify: {e}\n{grads}"))?;
    let simple = ir::simplify(&g);
    ir::verify(&simple).map_err(|e| format!("simplified does not verify: {e}\n{simple}"))?;
    let point = random_ir::inputs(&g, &mut rng);
    let slots: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
    let eval = |h: &Graph| -> Result<f64, String> {
        interp::eval_slots(h, &slots)
            .map_err(|e| format!("evaluation failed on a well-typed program: {e}\n{h}"))?
            .scalar("f")
            .ok_or_else(|| format!("no output `f`\n{h}"))
    };
    let (a, b) = (eval(&g)?, eval(&simple)?);
    let same = a == b || (a - b).abs() <= 1e-12 * (1.0 + a.abs()) || (a.is_nan() && b.is_nan());
    if !same {
        return Err(format!(
            "simplify changed f from {a} to {b}\n{g}\nsimplified:\n{simple}"
        ));
    }
    jit_agrees(&grads, &slots)?;
    let dir = random_ir::param_direction(&g, &mut rng);
    let mut worst = None;
    for eps in [1e-4, 1e-5, 1e-3] {
        let outcome = gradcheck::check_vjp(&g, &grads, "f", &point, &dir, eps)
            .map_err(|e| format!("gradient check failed to evaluate: {e}\n{g}"))?;
        match outcome {
            Outcome::Kink => return Ok(()),
            Outcome::Checked(c) if !c.value.is_finite() => return Ok(()),
            Outcome::Checked(c) if c.relative_error() <= GRAD_TOL => return Ok(()),
            Outcome::Checked(c) => worst = Some(c),
        }
    }
    let c = worst.expect("every check failed");
    Err(format!(
        "gradient: analytic {} vs numeric {} (relative error {:e})\n{g}\ngradient:\n{grads}",
        c.analytic,
        c.numeric,
        c.relative_error()
    ))
}

/// Native code for `g` against the interpreter at `slots`: strict code bit for bit, default
/// code within `1e-10 · (1 + |interp|)` (the JIT's bound for random programs, whose values pass
/// through several inline transcendentals of ≤ 2 ulp and re-associated sums) — unless a
/// comparison sits within that bound of a tie, where default rounding may take the other side.
fn jit_agrees(g: &Graph, slots: &[&[f64]]) -> Result<(), String> {
    let want = interp::eval_slots(g, slots)
        .map_err(|e| format!("evaluation failed on a well-typed program: {e}\n{g}"))?;
    let modes: &[bool] = if rounding::near_tie(g, &want, 1e-10) {
        &[true]
    } else {
        &[true, false]
    };
    for &strict in modes {
        let opts = jit::JitOptions {
            strict,
            verify: true,
            ..jit::JitOptions::default()
        };
        let code = jit::compile_entries(&[jit::Entry::new("f", g)], opts)
            .map_err(|e| format!("the JIT refused a well-typed program: {e}\n{g}"))?;
        let f = &code.functions()[0];
        let mut inputs = Vec::new();
        f.pack(slots, &mut inputs)
            .map_err(|e| format!("packing the inputs failed: {e}"))?;
        let mut out = vec![f64::NAN; f.layout().outputs];
        let mut scratch = f.scratch();
        f.call(&inputs, &mut out, &mut scratch)
            .map_err(|e| format!("native code failed where the interpreter did not: {e}\n{g}"))?;
        let expected = g
            .outputs
            .iter()
            .flat_map(|(_, n)| want.node(*n).iter().copied());
        for (i, (a, w)) in out.iter().zip(expected).enumerate() {
            let ok = if strict {
                a.to_bits() == w.to_bits() || (a.is_nan() && w.is_nan())
            } else {
                a == &w || (a.is_nan() && w.is_nan()) || (a - w).abs() <= 1e-10 * (1.0 + w.abs())
            };
            if !ok {
                return Err(format!(
                    "{} JIT: output element {i} is {a:e}, the interpreter says {w:e}\n{g}",
                    if strict { "strict" } else { "default" }
                ));
            }
        }
    }
    Ok(())
}

/// What [`pipeline`] reached, for tests that want most inputs to go the whole way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    /// Session creation (lowering, differentiation, compilation) returned an error.
    Compile,
    /// Evaluation, inference or the loss returned an error (e.g. a NaN in a descent).
    Run,
    /// One training step was taken.
    Trained,
}

/// A random model source from `bytes`, through the whole pipeline on `backend`.
pub fn pipeline(bytes: &[u8], backend: Backend) -> Result<Reached, String> {
    let mut rng = random_ir::Rng::from_bytes(bytes);
    let source = source::model(&mut rng);
    let checked = driver::check(source.as_bytes());
    if checked.has_errors() || checked.models.len() != 1 {
        let msgs: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| format!("{d:?}"))
            .collect();
        return Err(format!(
            "a generated model does not check:\n{source}\n{}",
            msgs.join("\n")
        ));
    }
    let model = &checked.models[0];
    let seed = rng.next_u64();
    let Ok(mut session) = Session::compile(model, backend, seed) else {
        return Ok(Reached::Compile);
    };
    let mut r = rng::Rng::new(seed);
    let mut point = Point::zeros(model);
    let example = |r: &mut rng::Rng, point: &mut Point| {
        for (i, v) in model.vars.iter().enumerate() {
            if v.role == Role::Param {
                continue;
            }
            point.values[i] = match &v.ty {
                Ty::Real(s) => (0..s.len()).map(|_| r.normal()).collect(),
                Ty::Class(k) => vec![r.below(*k as u64) as f64],
                Ty::Sign(s) => (0..s.len())
                    .map(|_| if r.below(2) == 0 { -1.0 } else { 1.0 })
                    .collect(),
            };
        }
    };
    example(&mut r, &mut point);
    if session.energy(&mut point.clone()).is_err() {
        return Ok(Reached::Run);
    }
    if session.infer(&mut point.clone(), &mut r).is_err() {
        return Ok(Reached::Run);
    }
    // A minibatch of three examples for `negatives shuffle`.
    let outputs: Vec<usize> = model
        .vars_of(Role::Output)
        .map(|(id, _)| id.0 as usize)
        .collect();
    let mut batch = Vec::new();
    for _ in 0..3 {
        let mut q = point.clone();
        example(&mut r, &mut q);
        batch.push(outputs.iter().map(|&o| q.values[o].clone()).collect());
    }
    let mut grad = vec![0.0; session.params.len()];
    if session
        .loss_grad(&mut point, &batch, &mut r, &mut grad)
        .is_err()
    {
        return Ok(Reached::Run);
    }
    let optimizer = if seed.is_multiple_of(2) {
        Optimizer::Sgd { momentum: 0.9 }
    } else {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    };
    let mut optim = Optim::new(optimizer, 0.01, 1e-4, session.params.len());
    optim.step(&mut session.params, &grad);
    let _ = session.energy(&mut point);
    Ok(Reached::Trained)
}
