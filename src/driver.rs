//! Chains the stages. One function per `emit` stage; nothing here prints.

use crate::check::{self, Model};
use crate::diag::Diagnostic;
use crate::grad;
use crate::ir::{self, InputKind};
use crate::jit;
use crate::syntax::{self, ast};

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
        let g = program
            .loss
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

/// The graphs of every native entry point of a model, in the order [`compile_model`]
/// compiles them: `energy` (the energy and its terms); `grad` (and its gradient with respect
/// to every real param, output and latent); `infer_grad` (gradient with respect to outputs
/// and latents only, what inference descends on); and, when the model has a loss, `loss_grad`
/// (the loss and its parameter gradient, one example) and `loss_grad_batch` (the same summed
/// over [`BATCH`] examples in one call).
pub fn entry_graphs(model: &Model) -> Result<EntryGraphs, String> {
    let program = ir::build(model).map_err(|e| e.message)?;
    let mut v = vec![
        ("energy", program.energy.clone()),
        ("grad", grad::energy_gradient(&program.energy)),
        (
            "infer_grad",
            grad::with_gradients(
                &program.energy,
                "energy",
                &[InputKind::Output, InputKind::Latent],
            ),
        ),
    ];
    if let Some(l) = &program.loss {
        let g = grad::with_gradients(l, "loss", &[InputKind::Param]);
        v.push(("loss_grad", g.clone()));
        v.push(("loss_grad_batch", g));
    }
    Ok(v)
}

/// Entry-point names with their graphs.
pub type EntryGraphs = Vec<(&'static str, ir::Graph)>;

/// Examples per call of the batched loss-gradient entry.
pub const BATCH: usize = 32;

/// Every entry point of [`entry_graphs`] compiled into one native module.
pub fn compile_model(
    model: &Model,
    options: jit::JitOptions,
) -> Result<(jit::Compiled, EntryGraphs), String> {
    let graphs = entry_graphs(model)?;
    let entries: Vec<jit::Entry> = graphs
        .iter()
        .map(|(name, g)| match *name {
            "loss_grad_batch" => jit::Entry::batched(*name, g, BATCH),
            _ => jit::Entry::new(*name, g),
        })
        .collect();
    let code = jit::compile_entries(&entries, options).map_err(|e| e.to_string())?;
    Ok((code, graphs))
}

/// The text of `ebmc emit clif`: the Cranelift IR of every entry point.
pub fn emit_clif(model: &Model) -> Result<String, String> {
    let options = jit::JitOptions {
        keep_clif: true,
        ..jit::JitOptions::default()
    };
    let (code, _) = compile_model(model, options)?;
    let mut s = String::new();
    for f in code.functions() {
        let l = f.layout();
        s += &format!(
            "; {}: {} inputs, {} outputs, {} scratch f64s\n",
            f.name(),
            l.inputs,
            l.outputs,
            l.scratch
        );
        s += code.clif(f).unwrap_or("");
        s += "\n";
    }
    Ok(s)
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
    let (code, graphs) = compile_model(&model, jit::JitOptions::default())?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;

    // A random point: the model's variables as `ebmc eval --random` draws them, and standard
    // normal values for the loss's extra inputs (negative answers).
    let values = crate::runtime::eval::point(&model, &crate::runtime::eval::PointSource::Random(1))
        .map_err(|e| e.to_string())?;
    let mut rng = crate::rng::Rng::new(2);
    let mut obj = serde_json::Map::new();
    obj.insert("model".into(), model.name.clone().into());
    obj.insert("compile_ms".into(), round(compile_ms).into());
    for ((name, g), f) in graphs.iter().zip(code.functions()) {
        let per_example: Vec<Vec<f64>> = g
            .inputs
            .iter()
            .map(|i| match model.var_named(&i.name) {
                Some(id) => values[id.0 as usize].clone(),
                None => (0..i.shape().len()).map(|_| rng.normal()).collect(),
            })
            .collect();
        let mut inputs = vec![0.0; f.layout().inputs];
        let examples = f.signature.batch.map_or(1, |b| b.examples);
        for k in 0..examples {
            let step = f.signature.batch.map_or(0, |b| b.stride);
            for ((&(o, l), &shared), v) in f
                .signature
                .inputs
                .iter()
                .zip(&f.signature.shared)
                .zip(&per_example)
            {
                let o = if shared { o } else { o + k * step };
                inputs[o..o + l].copy_from_slice(v);
            }
        }
        let mut out = vec![0.0; f.layout().outputs];
        let mut scratch = f.scratch();
        let mut call = || {
            f.call(&inputs, &mut out, &mut scratch)
                .map_err(|e| e.to_string())
        };
        let ns = median_ns(&mut call)? / examples as f64;
        let key = match *name {
            "energy" => "energy_ns",
            "grad" => "grad_ns",
            "infer_grad" => "infer_grad_ns",
            "loss_grad_batch" => "loss_grad_ns",
            _ => continue,
        };
        obj.insert(key.into(), round(ns).into());
    }
    Ok(serde_json::Value::Object(obj))
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
