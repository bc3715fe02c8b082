//! Chains the stages. One function per `emit` stage; nothing here prints.

use crate::atomic;
use crate::check::{self, Model, VarId};
use crate::compile::{self, Backend, Compiled, Entry, Input};
use crate::diag::Diagnostic;
use crate::grad;
use crate::ir::{self, InputKind};
use crate::plot;
use crate::runtime;
use crate::syntax::{self, ast};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::plot::{Kind as PlotKind, PlotOptions};
pub use crate::runtime::eval::PointSource;
pub use crate::runtime::run::{RunOptions, RunOutcome};
pub use crate::runtime::sample::command::{SampleOptions, SampleOutcome};
pub use crate::runtime::train::EpochStats;

/// The result of the front end on one source: models when clean, and every diagnostic.
pub struct Checked {
    pub models: Vec<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Parses source bytes.
pub fn parse(bytes: &[u8]) -> Result<ast::File, Vec<Diagnostic>> {
    syntax::parse_bytes(bytes)
}

/// Parses and checks source bytes.
pub fn check(bytes: &[u8]) -> Checked {
    match parse(bytes) {
        Ok(file) => {
            let (models, diagnostics) = check::check(&file);
            Checked {
                models,
                diagnostics,
            }
        }
        Err(diagnostics) => Checked {
            models: Vec::new(),
            diagnostics,
        },
    }
}

/// [`check`] of a source file in `base_dir`: consts written `const D = features` (or
/// `targets`, `classes`) take their values from the model's `data` clause first
/// ([`runtime::widths`]). What cannot be read is said on the checker's diagnostic for the
/// const.
pub fn check_at(bytes: &[u8], base_dir: &Path) -> Checked {
    check_bound(bytes, &[], Some(base_dir)).unwrap_or_else(|_| check(bytes))
}

/// The consts of a source bound to the data (`const D = features`), as (name, what) pairs
/// in source order, for the Python estimators, which bind them at `fit`. Empty when the
/// source does not parse.
pub fn data_consts(bytes: &[u8]) -> Vec<(String, String)> {
    let Ok(file) = parse(bytes) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for model in &file.models {
        for (name, _, what) in runtime::widths::data_bound(model) {
            if !out.iter().any(|(n, _)| *n == name.name) {
                out.push((name.name.clone(), what.to_string()));
            }
        }
    }
    out
}

/// [`check`] with consts given values from outside the source, as whole numbers: each
/// `const NAME = …` named in `consts` takes the value in place of its expression (in every
/// model that declares it), keeping the declaration's span, so diagnostics still point at it.
/// The Python package binds a model's widths to its data this way (`D = 64` from the data),
/// and with a `base_dir` binds the data-bound consts left from the model's `data` clause, as
/// [`check_at`]. `Err` names a const no model of the source declares; a source that does not
/// parse is checked as it is (its diagnostics say why).
pub fn check_with_consts(
    bytes: &[u8],
    consts: &[(String, u64)],
    base_dir: Option<&Path>,
) -> Result<Checked, String> {
    check_bound(bytes, consts, base_dir)
}

/// Overrides first, then (with a `base_dir`) the data-bound consts left, then the checker.
fn check_bound(
    bytes: &[u8],
    consts: &[(String, u64)],
    base_dir: Option<&Path>,
) -> Result<Checked, String> {
    let mut file = match parse(bytes) {
        Ok(file) => file,
        Err(_) => return Ok(check(bytes)),
    };
    for (name, value) in consts {
        let mut found = false;
        for model in &mut file.models {
            if model
                .decls
                .iter()
                .any(|d| matches!(&d.kind, ast::DeclKind::Const { name: n, .. } if &n.name == name))
            {
                runtime::widths::set_const(model, name, *value);
                found = true;
            }
        }
        if !found {
            let declared: Vec<&str> = file
                .models
                .iter()
                .flat_map(|m| &m.decls)
                .filter_map(|d| match &d.kind {
                    ast::DeclKind::Const { name, .. } => Some(name.name.as_str()),
                    _ => None,
                })
                .collect();
            let has = match declared.as_slice() {
                [] => "it declares no consts".to_string(),
                names => format!("its consts are {}", names.join(", ")),
            };
            return Err(format!("no `const {name}` in the source to bind; {has}"));
        }
    }
    let mut reasons = Vec::new();
    if let Some(dir) = base_dir {
        for model in &mut file.models {
            reasons.extend(runtime::widths::bind_into(model, dir));
        }
    }
    let (models, mut diagnostics) = check::check(&file);
    runtime::widths::explain(&mut diagnostics, &reasons);
    Ok(Checked {
        models,
        diagnostics,
    })
}

/// The text of `ebmc fmt`: the source in the canonical layout ([`syntax::format`]); bytes that
/// are not UTF-8 get the parser's diagnostic.
pub fn fmt(bytes: &[u8]) -> Result<String, Vec<Diagnostic>> {
    match std::str::from_utf8(bytes) {
        Ok(source) => syntax::format(source),
        // Always a diagnostic: the parser refuses bytes that are not UTF-8.
        Err(_) => Err(parse(bytes).err().unwrap_or_default()),
    }
}

/// The text of `ebmc emit ast`.
pub fn emit_ast(bytes: &[u8]) -> Result<String, Vec<Diagnostic>> {
    parse(bytes).map(|f| syntax::print_file(&f))
}

/// The text of `ebmc emit ir`: the energy graph with its named terms.
pub fn emit_ir(model: &Model) -> Result<String, String> {
    let program = ir::build(model).map_err(|e| e.message)?;
    Ok(program.energy.to_string())
}

/// The text of `ebmc emit grad`: the energy and its gradient with respect to every real
/// param, output and latent (or the variables named in `wrt`); with `loss`, the training
/// loss and its parameter gradient.
pub fn emit_grad(model: &Model, wrt: Option<&[String]>, loss: bool) -> Result<String, String> {
    let program = ir::build(model).map_err(|e| e.message)?;
    if loss {
        let g = grad::finish_loss(model, program.loss)
            .ok_or_else(|| format!("model `{}` has no `loss`", model.name))?;
        let g = grad::with_gradients(&g, "loss", &[InputKind::Param]);
        return Ok(grad::emit_text(&g, "loss"));
    }
    let g = match wrt {
        None => grad::energy_gradient(&program.energy),
        Some(names) => gradient_of(&program.energy, "energy", names)?,
    };
    Ok(grad::emit_text(&g, "energy"))
}

/// `g` with `grad.NAME` outputs for the named real inputs only.
fn gradient_of(g: &ir::Graph, of: &str, names: &[String]) -> Result<ir::Graph, String> {
    let mut g = ir::simplify(g);
    let mut wrt = Vec::new();
    for name in names {
        let input = g.inputs.iter().find(|i| &i.name == name);
        match input {
            Some(i) if i.ty.is_discrete() => {
                return Err(format!(
                    "`{name}` is `{}`: only real variables have a gradient",
                    i.ty
                ))
            }
            Some(_) => wrt.push(g.input_named(name).expect("declared input has a node")),
            None => {
                let known: Vec<&str> = g
                    .inputs
                    .iter()
                    .filter(|i| !i.ty.is_discrete())
                    .map(|i| i.name.as_str())
                    .collect();
                return Err(format!(
                    "--wrt: the energy has no variable `{name}`; it has {}",
                    known.join(", ")
                ));
            }
        }
    }
    let out = g
        .output(of)
        .expect("the energy graph has an `energy` output");
    let grads = grad::vjp(&mut g, out, &wrt);
    for (name, d) in names.iter().zip(grads) {
        g.set_output(grad::grad_name(name), d);
    }
    Ok(ir::simplify(&g))
}

/// Compiles every entry point of a model into one artifact ([`compile::compile`]).
pub fn compile(model: &Model, options: &compile::Options) -> Result<Arc<Compiled>, String> {
    compile::compile(model, options)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// The text of `ebmc emit clif`: the Cranelift IR of every entry point of the compiled model.
pub fn emit_clif(model: &Model) -> Result<String, String> {
    emit_clif_with(model, compile::Options::new(Backend::Jit))
}

/// [`emit_clif`] compiled with `options` (tests: the code of a host without FMA).
pub fn emit_clif_with(model: &Model, options: compile::Options) -> Result<String, String> {
    let options = compile::Options {
        keep_clif: true,
        ..options
    };
    let code = compile(model, &options)?;
    let mut s = String::new();
    for e in code.entries() {
        s += &format!(
            "; {}: {} inputs, {} outputs, {} scratch f64s\n",
            e.entry.name(),
            e.input_len,
            e.output_len,
            e.scratch_len()
        );
        s += code.clif(e).unwrap_or("");
        s += "\n";
    }
    Ok(s)
}

/// `ebmc run` ([`runtime::run::run`]): trains and infers as `opts` say; `on_epoch` sees each
/// epoch's statistics as it ends.
pub fn run(
    model: &Model,
    base_dir: &Path,
    opts: &RunOptions,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<RunOutcome, String> {
    runtime::run::run(model, base_dir, opts, on_epoch).map_err(|e| e.to_string())
}

/// `ebmc sample` ([`runtime::sample::command::sample`]): draws with the model's sampler.
pub fn sample(
    model: &Model,
    base_dir: &Path,
    opts: &runtime::sample::command::SampleOptions,
) -> Result<runtime::sample::command::SampleOutcome, String> {
    runtime::sample::command::sample(model, base_dir, opts).map_err(|e| e.to_string())
}

/// The `--at NAME=VALUE` flags of `ebmc run` as [`RunOptions::at`] takes them: the model's
/// inputs ([`runtime::run::inputs_at`]). An error is a mistake on the command line.
pub fn run_inputs_at(model: &Model, at: &[String]) -> Result<Vec<(VarId, Vec<f64>)>, String> {
    runtime::run::inputs_at(model, at)
}

/// The `--at NAME=VALUE` flags of `ebmc eval`: any variable of the point, each once
/// ([`runtime::eval::parse_ats`]). An error is a mistake on the command line.
pub fn eval_values_at(model: &Model, at: &[String]) -> Result<Vec<(VarId, Vec<f64>)>, String> {
    runtime::eval::parse_ats(model, at, &|_| Ok(()))
}

/// `ebmc plot` ([`plot::plot`]): the figure of `kind` written atomically to `out`, or to
/// `MODEL-KIND.svg` in the working directory; returns the path written. `say` receives notes.
pub fn plot(
    kind: PlotKind,
    model: &Model,
    base_dir: &Path,
    opts: &PlotOptions,
    out: Option<PathBuf>,
    say: &mut dyn FnMut(&str),
) -> Result<PathBuf, PlotFailure> {
    let figure = plot::plot(kind, model, base_dir, opts, say)
        .map_err(|e| PlotFailure::Plot(e.to_string()))?;
    let kind_name = match kind {
        PlotKind::Landscape => "landscape",
        PlotKind::Surface => "surface",
        PlotKind::Training => "training",
        PlotKind::Density => "density",
    };
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{}-{kind_name}.svg", model.name)));
    atomic::write(&out, figure.svg.as_bytes())
        .map_err(|e| PlotFailure::Write(format!("cannot write {}: {e}", out.display())))?;
    Ok(out)
}

/// Why `ebmc plot` made no file: the figure failed (the user's to fix) or writing it did.
#[derive(Clone, Debug, PartialEq)]
pub enum PlotFailure {
    Plot(String),
    Write(String),
}

/// `ebmc eval`: the energy, terms and gradient at a point (with `at` in place of the point's
/// values of those variables), on strict native code (bit for bit
/// the interpreter's numbers, so the JSON does not depend on the backend) or the interpreter.
pub fn eval(
    model: &Model,
    source: &PointSource,
    at: &[(VarId, Vec<f64>)],
    interp: bool,
) -> Result<runtime::eval::Evaluation, String> {
    let backend = if interp {
        Backend::Interp
    } else {
        Backend::JitStrict
    };
    let code = compile(model, &compile::Options::new(backend))?;
    runtime::eval::eval(&code, source, at).map_err(|e| e.to_string())
}

/// `ebmc build --lib`: the C shared library, header and example of `model` in `dir`, holding
/// the params of `weights` when given ([`crate::clib::build`]).
pub fn build_lib(
    model: &Model,
    dir: &Path,
    weights: Option<&Path>,
) -> Result<crate::clib::Built, crate::clib::BuildError> {
    crate::clib::build(model, dir, weights)
}

/// The JSON keys of `ebmc bench` for the entry points it times; the loss is timed on the
/// entry training runs ([`Compiled::training_entry`]) with the rows training gives it.
fn bench_key(e: Entry) -> Option<&'static str> {
    match e {
        Entry::Energy => Some("energy_ns"),
        Entry::Grad => Some("grad_ns"),
        Entry::InferGrad => Some("infer_grad_ns"),
        // What a descent runs: the prepare once per example, the step at every iteration.
        Entry::InferPrepare => Some("infer_prepare_ns"),
        Entry::InferStep => Some("infer_step_ns"),
        Entry::InferPrepareBatch => Some("infer_prepare_batch_ns"),
        // Per chain: one step of a sampler's block of chains.
        Entry::SampleStep => Some("sample_step_ns"),
        Entry::Answers
        | Entry::AnswersBatch
        | Entry::GibbsFields
        | Entry::InferStepBatch
        | Entry::Loss
        | Entry::LossBatch
        | Entry::LossGrad
        | Entry::LossGradBatch => None,
    }
}

/// `ebmc bench` (spec section 12): compile time from source text to callable native code,
/// then the median time of each entry point at a random point, as a JSON object.
pub fn bench(bytes: &[u8], model_name: Option<&str>) -> Result<serde_json::Value, String> {
    use std::time::Instant;
    let start = Instant::now();
    let checked = check(bytes);
    if checked.has_errors() {
        return Err("the model does not check; run `ebmc check` for the diagnostics".into());
    }
    let model = match model_name {
        Some(n) => checked.models.into_iter().find(|m| m.name == n),
        None if checked.models.len() == 1 => checked.models.into_iter().next(),
        None => None,
    }
    .ok_or_else(|| "choose one model with --model NAME".to_string())?;
    let code = compile(&model, &compile::Options::new(Backend::Jit))?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut obj = serde_json::Map::new();
    obj.insert("model".into(), model.name.clone().into());
    obj.insert("compile_ms".into(), round(compile_ms).into());
    let timed = bench_compiled(&code)?;
    for t in &timed {
        obj.insert(t.key.into(), round(t.ns).into());
    }
    // A staged model has no whole inference gradient: one evaluation of it is a prepare and
    // a step, which is what `infer_grad_ns` then reports.
    let ns = |key| timed.iter().find(|t| t.key == key).map(|t| t.ns);
    if let (None, Some(p), Some(s)) = (
        ns("infer_grad_ns"),
        ns("infer_prepare_ns"),
        ns("infer_step_ns"),
    ) {
        obj.insert("infer_grad_ns".into(), round(p + s).into());
    }
    if let Some(hot) = ns("energy_ns") {
        if let Some(rows) = energy_rows_ns(&code, hot)? {
            obj.insert("energy_rows_ns".into(), round(rows).into());
        }
    }
    Ok(serde_json::Value::Object(obj))
}

/// One entry point [`bench_compiled`] timed.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// The JSON key of `ebmc bench`.
    pub key: &'static str,
    pub entry: Entry,
    /// The native code timed: the identity of the function, shared with every kernel of the
    /// same compiled model (`None` on the interpreter).
    pub address: Option<usize>,
    /// Nanoseconds per example (per row, for a batched entry point).
    pub ns: f64,
}

/// Times the entry points of a compiled model at a random point (the model's variables as
/// `ebmc eval --random` draws them, standard normal negative answers): nanoseconds per
/// example of `energy`, `grad`, `infer_grad` and of the loss gradient training runs.
pub fn bench_compiled(code: &Arc<Compiled>) -> Result<Vec<Timing>, String> {
    let model = &code.model;
    let values = runtime::eval::point(model, &runtime::eval::PointSource::Random(1))
        .map_err(|e| e.to_string())?;
    let mut rng = crate::rng::Rng::new(2);
    let training = code.training_entry().map(|e| e.entry);
    let mut timed = Vec::new();
    for e in code.entries() {
        let key = match bench_key(e.entry) {
            Some(k) => k,
            None if Some(e.entry) == training => "loss_grad_ns",
            None => continue,
        };
        let mut kernel = code.kernel(e.entry).expect("an entry of this model");
        for k in 0..e.inputs.len() {
            let port = &e.inputs[k];
            let dst = kernel.input_mut(k);
            match port.what {
                Input::Value(v) => {
                    let row = &values[v.0 as usize];
                    for chunk in dst.chunks_mut(row.len().max(1)) {
                        chunk.copy_from_slice(&row[..chunk.len()]);
                    }
                }
                Input::Negative(_) | Input::Stage(_) => {
                    dst.iter_mut().for_each(|x| *x = rng.normal())
                }
            }
        }
        let mut call = || kernel.call().map_err(|e| e.to_string());
        let ns = median_ns(&mut call)? / e.rows as f64;
        timed.push(Timing {
            key,
            entry: e.entry,
            address: e.address(),
            ns,
        });
    }
    Ok(timed)
}

/// The energy's native throughput over a batch of distinct rows, in nanoseconds per row:
/// what a caller evaluating many points in one call (Python's batched `energy`, a C loop)
/// can reach, reading every row's values from memory, where `energy_ns` times one point held
/// in cache. Rows of standard normal values for the real inputs, outputs and latents (a
/// discrete one keeps the random point's value), the params written once; as many rows as
/// take about 20 ms at `hot_ns` each (between 100 and 10,000); the median of 5 passes.
/// `None` for a model without an energy entry point.
fn energy_rows_ns(code: &Arc<Compiled>, hot_ns: f64) -> Result<Option<f64>, String> {
    use std::time::Instant;
    let Some(mut kernel) = code.kernel(Entry::Energy) else {
        return Ok(None);
    };
    let model = &code.model;
    let point = runtime::eval::point(model, &runtime::eval::PointSource::Random(1))
        .map_err(|e| e.to_string())?;
    let rows = ((20e6 / hot_ns.max(1.0)) as usize).clamp(100, 10_000);
    let mut rng = crate::rng::Rng::new(3);
    // Per input port: its rows when it changes from row to row.
    let mut varying: Vec<(usize, usize, Vec<f64>)> = Vec::new();
    for (k, port) in kernel.entry().inputs.clone().iter().enumerate() {
        let Input::Value(v) = port.what else {
            return Ok(None);
        };
        let var = model.var(v);
        let value = &point[v.0 as usize];
        if var.role == crate::check::Role::Param || var.ty.is_discrete() {
            kernel.input_mut(k).copy_from_slice(value);
        } else {
            let values = (0..rows * port.len).map(|_| rng.normal()).collect();
            varying.push((k, port.len, values));
        }
    }
    let mut passes = Vec::with_capacity(5);
    for _ in 0..6 {
        let t = Instant::now();
        for r in 0..rows {
            for (k, len, values) in &varying {
                kernel
                    .input_mut(*k)
                    .copy_from_slice(&values[r * len..(r + 1) * len]);
            }
            kernel.call().map_err(|e| e.to_string())?;
        }
        passes.push(t.elapsed().as_nanos() as f64 / rows as f64);
    }
    // The first pass warms the caches and the branch predictors.
    passes.remove(0);
    passes.sort_by(|a, b| a.total_cmp(b));
    Ok(Some(passes[passes.len() / 2]))
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The median time of one call in nanoseconds: warm-up, then 31 samples of enough calls to
/// take about 50 µs each.
pub fn median_ns(f: &mut dyn FnMut() -> Result<(), String>) -> Result<f64, String> {
    use std::time::Instant;
    let t = Instant::now();
    let mut calls = 0usize;
    while calls < 3 || t.elapsed().as_micros() < 2_000 {
        f()?;
        calls += 1;
    }
    let per = t.elapsed().as_nanos() as f64 / calls as f64;
    let inner = ((50_000.0 / per.max(1.0)) as usize).clamp(1, 100_000);
    let mut times = Vec::with_capacity(31);
    for _ in 0..31 {
        let t = Instant::now();
        for _ in 0..inner {
            f()?;
        }
        times.push(t.elapsed().as_nanos() as f64 / inner as f64);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}
