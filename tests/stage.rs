//! Staged code computes what unstaged code computes: `prepare` then `step` give the outputs of
//! the whole graph — bit for bit in the interpreter (the same ops on the same values), to
//! 1e-12 in native code and through whole runs (inference, negatives, training).

mod common;

use ebmc::compile::{self, Backend, Entry, Input, Output};
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::runtime::data::{Dataset, VarData};
use ebmc::runtime::run::RunOptions;
use ebmc::runtime::session::{Point, Session};
use ebmc::runtime::train;
use ebmc::testing::random_ir::{self, Rng};
use std::collections::HashMap;
use std::sync::Arc;

/// The outputs of `g` at `values` (by input name), through the whole graph and through its
/// stages; `None` when `g` does not stage for `moving`.
type Outputs = Vec<(String, Vec<f64>)>;

fn whole_and_staged(
    g: &Graph,
    moving: &[InputKind],
    values: &HashMap<String, Vec<f64>>,
) -> Option<(Outputs, Outputs)> {
    let staged = ir::stage(g, moving)?;
    for part in [&staged.prepare, &staged.step] {
        ir::verify(part).unwrap_or_else(|e| panic!("{e:?}\n{part}"));
    }
    for inp in &staged.prepare.inputs {
        assert!(!moving.contains(&inp.kind), "prepare reads `{}`", inp.name);
    }
    let outputs = |g: &Graph, v: &interp::Values| -> Outputs {
        g.outputs
            .iter()
            .map(|(n, _)| (n.clone(), v.output(n).unwrap().to_vec()))
            .collect()
    };
    let whole = interp::eval(g, values).ok()?;
    let prepared = interp::eval(&staged.prepare, values).unwrap();
    let mut step_values = values.clone();
    for (name, _) in &staged.prepare.outputs {
        step_values.insert(name.clone(), prepared.output(name).unwrap().to_vec());
    }
    let stepped = interp::eval(&staged.step, &step_values).unwrap();
    Some((outputs(g, &whole), outputs(&staged.step, &stepped)))
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter()
        .map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() })
        .collect()
}

#[test]
fn random_programs_stage_bit_for_bit() {
    let mut staged = 0;
    for seed in 0..400u64 {
        let mut rng = Rng::new(seed);
        let g = random_ir::program(&mut rng, 12);
        let inputs = random_ir::inputs(&g, &mut rng);
        let values: HashMap<String, Vec<f64>> = g
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .zip(inputs)
            .collect();
        for moving in [&[InputKind::Output][..], &[InputKind::Param]] {
            let Some((whole, stepped)) = whole_and_staged(&g, moving, &values) else {
                continue;
            };
            staged += 1;
            assert_eq!(whole.len(), stepped.len());
            for ((n, a), (m, b)) in whole.iter().zip(&stepped) {
                assert_eq!(n, m);
                assert_eq!(bits(a), bits(b), "seed {seed}, output `{n}`\n{g}");
            }
        }
    }
    assert!(staged > 200, "only {staged} programs staged");
}

/// Every example's inference gradient, staged and whole, in native code at random points.
#[test]
fn every_example_stages_to_the_same_native_values() {
    let mut staged = 0;
    for entry in std::fs::read_dir(common::examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ebm") {
            continue;
        }
        let model = common::model_of(&std::fs::read_to_string(&path).unwrap(), true);
        let code =
            Arc::new(compile::compile(&model, &compile::Options::new(Backend::Jit)).unwrap());
        let (Some(mut prepare), Some(mut step)) = (
            code.kernel(Entry::InferPrepare),
            code.kernel(Entry::InferStep),
        ) else {
            continue;
        };
        staged += 1;
        let unstaged = compile::Options {
            stage: false,
            ..compile::Options::new(Backend::Jit)
        };
        let whole_code = Arc::new(compile::compile(&model, &unstaged).unwrap());
        let mut whole = whole_code.kernel(Entry::InferGrad).unwrap();
        let mut rng = Rng::new(7);
        for _ in 0..5 {
            // One random value per variable, in whichever kernel reads it.
            let values: Vec<Vec<f64>> = model
                .vars
                .iter()
                .map(|v| match &v.ty {
                    ebmc::types::Ty::Real(s) => (0..s.len()).map(|_| rng.normal()).collect(),
                    ebmc::types::Ty::Class(k) => vec![rng.below(*k) as f64],
                    ebmc::types::Ty::Sign(s) => vec![1.0; s.len()],
                })
                .collect();
            for kernel in [&mut whole, &mut prepare, &mut step] {
                for k in 0..kernel.entry().inputs.len() {
                    if let Input::Value(v) = kernel.entry().inputs[k].what {
                        kernel.input_mut(k).copy_from_slice(&values[v.0 as usize]);
                    }
                }
            }
            whole.call().unwrap();
            prepare.call().unwrap();
            for (o, port) in prepare.entry().outputs.iter().enumerate() {
                let Output::Stage(s) = port.what else {
                    continue;
                };
                let i = (step.entry().inputs.iter())
                    .position(|p| p.what == Input::Stage(s))
                    .unwrap();
                let v = prepare.output(o).to_vec();
                step.input_mut(i).copy_from_slice(&v);
            }
            step.call().unwrap();
            for (o, port) in whole.entry().outputs.iter().enumerate() {
                let s = (step.entry().outputs.iter())
                    .position(|p| p.what == port.what)
                    .unwrap();
                for (a, b) in whole.output(o).iter().zip(step.output(s)) {
                    let tol = 1e-12 * a.abs().max(1.0);
                    assert!(
                        (a - b).abs() <= tol,
                        "{}: {:?} {a} vs {b}",
                        path.display(),
                        port.what
                    );
                }
            }
        }
    }
    assert!(staged >= 4, "only {staged} examples staged");
}

/// Whole runs — training with every kind of negative, inference by descent, metrics — give
/// the same figures staged and unstaged.
#[test]
fn runs_give_the_same_figures_staged_and_unstaged() {
    let square = |loss: &str| {
        format!(
            r#"model m {{
  input x : real   output y : real
  param A : real[8, 1] ~ normal(0, 0.5)  param a : real[8] = 0  param B : real[8, 1] ~ normal(0, 0.5)
  energy 0.5 * sqnorm(tanh(A @ [x] + a) - tanh(B @ [y]))
  loss {loss}
  infer y by descent(steps = 20, rate = 0.1, init = 0.5)
  train by adam(rate = 0.01, epochs = 3, batch = 16, seed = 1)
  data "data/square.csv" {{ x = x, y = y }} split 0.8
}}"#
        )
    };
    let mut sources: Vec<(String, String)> = ["regression", "implicit", "latent", "contrastive"]
        .iter()
        .map(|n| (n.to_string(), common::example_source(n)))
        .collect();
    for loss in [
        "perceptron",
        "square_square(margin = 1) negatives descent(steps = 5, rate = 0.1, radius = 0.3)",
        "log negatives shuffle",
    ] {
        sources.push((loss.to_string(), square(loss)));
    }
    for (name, source) in &sources {
        let model = common::model_of(source, true);
        let run = |unstaged: bool| {
            let opts = RunOptions {
                unstaged,
                ..RunOptions::default()
            };
            common::run(&model, &opts).report.table()
        };
        let (staged, unstaged) = (run(false), run(true));
        assert_eq!(staged, unstaged, "{name}");
    }
}

/// Inference's batched prepare gives, row by row, what the per-row prepare gives (1e-12).
#[test]
fn batched_prepare_equals_per_row_prepare() {
    let mut batched = 0;
    for path in example_and_bench_models() {
        let name = path.display();
        let model = common::model_of(&std::fs::read_to_string(&path).unwrap(), true);
        let code =
            Arc::new(compile::compile(&model, &compile::Options::new(Backend::Jit)).unwrap());
        let (Some(mut rows), Some(mut one)) = (
            code.kernel(Entry::InferPrepareBatch),
            code.kernel(Entry::InferPrepare),
        ) else {
            continue;
        };
        batched += 1;
        let n = rows.entry().rows;
        let mut rng = Rng::new(3);
        // Per input port of the batched kernel: n rows of values (params: one copy).
        let values: Vec<Vec<f64>> = (0..rows.entry().inputs.len())
            .map(|k| {
                (0..rows.entry().inputs[k].len)
                    .map(|_| rng.normal())
                    .collect()
            })
            .collect();
        for (k, v) in values.iter().enumerate() {
            rows.input_mut(k).copy_from_slice(v);
        }
        rows.call().unwrap();
        for r in 0..n {
            for k in 0..one.entry().inputs.len() {
                let what = one.entry().inputs[k].what;
                let b = rows.entry().input(what).unwrap();
                let len = one.entry().inputs[k].len;
                let v = &values[rows
                    .entry()
                    .inputs
                    .iter()
                    .position(|p| p.what == what)
                    .unwrap()];
                let row = if b.len == len {
                    &v[..]
                } else {
                    &v[r * len..(r + 1) * len]
                };
                one.input_mut(k).copy_from_slice(row);
            }
            one.call().unwrap();
            for (o, port) in one.entry().outputs.iter().enumerate() {
                let all = rows.output(
                    rows.entry()
                        .outputs
                        .iter()
                        .position(|p| p.what == port.what)
                        .unwrap(),
                );
                let w = port.len;
                for (a, b) in one.output(o).iter().zip(&all[r * w..(r + 1) * w]) {
                    assert!(
                        (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                        "{name} row {r}: {a} vs {b}"
                    );
                }
            }
        }
    }
    assert!(batched >= 3, "only {batched} models prepare in batches");
}

/// Every `.ebm` of `examples/` and `benches/models/`, sorted.
fn example_and_bench_models() -> Vec<std::path::PathBuf> {
    let benches = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/models");
    let mut files: Vec<_> = [common::examples(), benches]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ebm"))
        .collect();
    files.sort();
    files
}

/// `rows` random rows of every real input and output of `model` (normal values).
fn random_rows(model: &ebmc::check::Model, rows: usize, rng: &mut Rng) -> Dataset {
    let vars = (model.vars.iter().enumerate())
        .filter(|(_, v)| {
            matches!(v.role, ebmc::check::Role::Input | ebmc::check::Role::Output)
                && !v.ty.is_discrete()
        })
        .map(|(i, v)| {
            let width = v.ty.elements();
            VarData {
                var: ebmc::check::VarId(i as u32),
                name: v.name.clone(),
                ty: v.ty.clone(),
                width,
                values: (0..rows * width).map(|_| rng.normal()).collect(),
                columns: Vec::new(),
            }
        })
        .collect();
    Dataset {
        lines: (2..rows + 2).collect(),
        vars,
    }
}

/// Inference of a batch of rows together ([`Session::infer_rows`]: one batched prepare, every
/// descent step one batched call) gives every row's answer and energy as inference of that
/// row alone does (1e-12), on every example and bench model that infers by descent — with
/// the same draws of the init (a random init makes the check stronger).
#[test]
fn batched_inference_equals_per_row_inference() {
    let (mut batched, mut labelled) = (0, 0);
    for path in example_and_bench_models() {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(&path).unwrap();
        // A random init, where the descent has none, makes the check stronger.
        let random_init: String = (source.lines())
            .map(|l| match l.rfind(')') {
                Some(i)
                    if l.contains("infer") && l.contains("by descent(") && !l.contains("init") =>
                {
                    format!("{}, init = normal(0, 0.1){}\n", &l[..i], &l[i..])
                }
                _ => format!("{l}\n"),
            })
            .collect();
        for source in [source.clone(), random_init] {
            let model = common::model_of(&source, true);
            let code =
                Arc::new(compile::compile(&model, &compile::Options::new(Backend::Jit)).unwrap());
            if code.entry(Entry::InferStepBatch).is_none() {
                continue;
            }
            let n = compile::BATCH;
            let mut rng = Rng::new(11);
            let data = random_rows(&model, 2 * n, &mut rng);
            let (mut whole, mut rows) = (Session::new(&code, 5).unwrap(), Session::new(&code, 5));
            let rows = rows.as_mut().unwrap();
            let (mut r1, mut r2) = (ebmc::rng::Rng::new(9), ebmc::rng::Rng::new(9));
            for chunk in (0..2 * n).collect::<Vec<_>>().chunks(n) {
                let mut points = vec![Point::zeros(&model); n];
                for (p, &r) in points.iter_mut().zip(chunk) {
                    train::load_row(&data, r, p);
                }
                let mut energies = vec![0.0; n];
                // The loss `energy` of the rows, from the energies at their labels.
                let (mut at_labels, mut expected) = (0.0, 0.0);
                let labels = rows.loss_is_label_energy().then_some(&mut at_labels);
                assert!(
                    rows.infer_rows(&data, chunk, &mut points, &mut energies, labels, &mut r2)
                        .unwrap(),
                    "{name}: the rows did not infer together"
                );
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
                for (k, &r) in chunk.iter().enumerate() {
                    let mut p = Point::zeros(&model);
                    train::load_row(&data, r, &mut p);
                    expected += whole.energy(&mut p).unwrap();
                    let e = whole.infer(&mut p, &mut r1).unwrap();
                    assert!(
                        close(e, energies[k]),
                        "{name} row {r}: {e} vs {}",
                        energies[k]
                    );
                    for (v, (a, b)) in p.values.iter().zip(&points[k].values).enumerate() {
                        assert_eq!(a.len(), b.len());
                        for (x, y) in a.iter().zip(b) {
                            assert!(close(*x, *y), "{name} row {r} var {v}: {x} vs {y}");
                        }
                    }
                }
                if rows.loss_is_label_energy() {
                    labelled += 1;
                    assert!(
                        close(expected, at_labels),
                        "{name}: {expected} vs {at_labels}"
                    );
                }
            }
            assert_eq!(r1, r2, "{name}: the init drew differently");
            batched += 1;
        }
    }
    assert!(batched >= 4, "only {batched} models infer rows together");
    assert!(
        labelled >= 4,
        "only {labelled} batches took the loss at the labels"
    );
}

/// Enumeration of a batch of rows together ([`Session::infer_rows`]: one call of the batched
/// answers kernel) gives every row the energy of enumerating it alone and every answer's
/// energy as [`Session::answer_energies`] does (1e-12), and the same answer unless two
/// answers' energies tie within that, on every example and bench model that infers by
/// enumeration.
#[test]
fn batched_enumeration_equals_per_row_enumeration() {
    let mut batched = 0;
    for path in example_and_bench_models() {
        let name = path.display().to_string();
        let model = common::model_of(&std::fs::read_to_string(&path).unwrap(), true);
        let code =
            Arc::new(compile::compile(&model, &compile::Options::new(Backend::Jit)).unwrap());
        if code.entry(Entry::AnswersBatch).is_none() {
            continue;
        }
        let n = compile::BATCH;
        let data = random_rows(&model, 2 * n, &mut Rng::new(3));
        let (mut whole, mut rows) = (Session::new(&code, 5).unwrap(), Session::new(&code, 5));
        let rows = rows.as_mut().unwrap();
        let (mut r1, mut r2) = (ebmc::rng::Rng::new(9), ebmc::rng::Rng::new(9));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
        for chunk in (0..2 * n).collect::<Vec<_>>().chunks(n) {
            let mut points = vec![Point::zeros(&model); n];
            for (p, &r) in points.iter_mut().zip(chunk) {
                train::load_row(&data, r, p);
            }
            let mut energies = vec![0.0; n];
            let together = rows
                .infer_rows(&data, chunk, &mut points, &mut energies, None, &mut r2)
                .unwrap();
            if !together {
                continue;
            }
            batched += 1;
            for (k, &r) in chunk.iter().enumerate() {
                let mut p = Point::zeros(&model);
                train::load_row(&data, r, &mut p);
                let e = whole.infer(&mut p, &mut r1).unwrap();
                assert!(
                    close(e, energies[k]),
                    "{name} row {r}: {e} vs {}",
                    energies[k]
                );
                let all = whole.answer_energies(&mut p).unwrap().unwrap();
                let got = rows.batch_answer_energies(k).expect("the batch's energies");
                assert_eq!(all.len(), got.len(), "{name}");
                for (a, b) in all.iter().zip(got) {
                    assert!(close(*a, *b), "{name} row {r}: {a} vs {b}");
                }
                if p.values != points[k].values {
                    let low = all.iter().copied().fold(f64::INFINITY, f64::min);
                    let near = all.iter().filter(|&&x| close(x, low)).count();
                    assert!(near >= 2, "{name} row {r}: another answer without a tie");
                }
            }
        }
    }
    assert!(batched >= 8, "only {batched} batches enumerated together");
}

/// A batch in which a row diverges is left to the per-row path (`Ok(false)`, the generator
/// untouched), which names that row's divergence in its own words.
#[test]
fn a_diverging_batch_falls_back_to_per_row_inference() {
    let source = common::example_source("regression").replace("rate = 0.5)", "rate = 1e6)");
    let model = common::model_of(&source, true);
    let code = Arc::new(compile::compile(&model, &compile::Options::new(Backend::Jit)).unwrap());
    assert!(code.entry(Entry::InferStepBatch).is_some());
    let n = compile::BATCH;
    let mut rng = Rng::new(2);
    let data = random_rows(&model, n, &mut rng);
    let mut s = Session::new(&code, 1).unwrap();
    let mut points = vec![Point::zeros(&model); n];
    for (p, r) in points.iter_mut().zip(0..n) {
        train::load_row(&data, r, p);
    }
    let mut r = ebmc::rng::Rng::new(4);
    let before = r.clone();
    let rows: Vec<usize> = (0..n).collect();
    let together = s
        .infer_rows(&data, &rows, &mut points, &mut vec![0.0; n], None, &mut r)
        .unwrap();
    assert!(!together);
    assert_eq!(r, before);
    let err = s.infer(&mut points[0], &mut r).unwrap_err().to_string();
    assert!(err.contains("diverged"), "{err}");
}
