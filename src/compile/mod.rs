//! # The compiled model: one artifact from a checked model to native entry points
//!
//! [`compile`] is the only place that decides which graphs a model needs, how they are
//! batched and how they are compiled. It lowers the model ([`crate::ir::build`]),
//! differentiates what must be differentiated ([`crate::grad`]), batches the training loss
//! ([`crate::ir::batch`], the one batching mechanism) and compiles every graph into ONE
//! native module ([`crate::jit::compile_entries`]) — or keeps the graphs for the reference
//! interpreter. What comes out, [`Compiled`], is what `run`, `eval`, `bench`, `emit clif`,
//! `plot`, the benchmarks and the tests all take, so each of them times, prints and runs the
//! same code.
//!
//! Every entry point ([`EntryPoint`]) says in types what its buffers hold: each input
//! [`Port`] carries an [`Input`] (the value of a variable, or the negative answer ȳ of one)
//! and each output port an [`Output`] (the energy, a term, the gradient of a variable, the
//! loss, the energies of every answer). The runtime binds those ports to its own buffers once
//! per [`Kernel`] and never looks at the IR, a graph's names or the JIT's insides.
//!
//! Invariants:
//! * the offsets of the ports are those of the JIT signature ([`crate::jit::Signature`]);
//!   the interpreter backend reads its inputs at the same offsets, so one layout serves both;
//! * the ports of an entry point cover its input and output buffers exactly, in graph order;
//! * a batched entry point ([`Entry::LossGradBatch`]) takes [`BATCH`] rows of each
//!   per-example input, row after row, and the params once; its loss and gradient are sums
//!   over the rows;
//! * on the interpreter backend a graph whose evaluation needs more than [`MAX_VALUES`] values
//!   is refused here, before anything is allocated.

mod kernel;

pub use kernel::{Kernel, KernelError};

use crate::check::{Elim, InferMethod, Model, Role, Sampler, VarId};
use crate::grad;
use crate::ir::{self, Graph, InputKind};
use crate::jit;
use crate::types::Ty;
use std::fmt;
use std::sync::Arc;

/// Examples per call of the batched loss entry: the training loop's chunk of work.
pub const BATCH: usize = 16;

/// Chains per call of [`Entry::SampleStep`]: a sampler moves its chains by blocks of this
/// many, so that the per-step gradient is matrix–matrix products that read a weight matrix
/// once per block. On the density MLP (2 → 128 → 128 → 1) 16 beat 64 (whose 400 KB of scratch
/// leaves the cache) and matched 8 (`cargo bench --bench sample`).
pub const CHAINS: usize = 16;

/// Largest number of `f64`s one call of the interpreter may hold in its intermediate values:
/// 2^28 (2 GiB), the JIT's [`jit::MAX_SCRATCH`]. The interpreter keeps the value of every node
/// of the graph, so the sum over its nodes is what one call allocates. (Native code reuses
/// scratch by liveness, and [`jit::compile_entries`] applies the same limit to what it plans.)
pub const MAX_VALUES: usize = jit::MAX_SCRATCH;

/// Which backend runs the entry points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The reference interpreter ([`crate::interp`]).
    Interp,
    /// Native code (SIMD sums, FMA, inline transcendentals): agrees with the interpreter to
    /// rounding.
    Jit,
    /// Native code that computes exactly what the interpreter computes, bit for bit
    /// ([`jit::JitOptions::strict`]); `ebmc eval` uses it so its JSON does not depend on the
    /// backend.
    JitStrict,
}

/// How to compile.
#[derive(Clone, Debug)]
pub struct Options {
    pub backend: Backend,
    /// Keep the Cranelift IR text of every function (`ebmc emit clif`).
    pub keep_clif: bool,
    /// Stage inference ([`Entry::InferPrepare`], [`Entry::InferStep`]) where it pays; off only
    /// for tests that compare staged with unstaged code.
    pub stage: bool,
    /// Fused multiply-add where the host has it ([`jit::JitOptions::fma`]); off only for
    /// tests of the code a host without FMA gets.
    pub fma: bool,
}

impl Options {
    pub fn new(backend: Backend) -> Options {
        Options {
            backend,
            keep_clif: false,
            stage: true,
            fma: true,
        }
    }
}

/// The entry points a model can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    /// `E(x, y, z)` and its named terms.
    Energy,
    /// The energy and its gradient with respect to every real param, output and latent.
    Grad,
    /// The free energy (class latents eliminated as declared) and its gradient with respect
    /// to the real outputs and latents: what inference descends on (when it does not stage).
    InferGrad,
    /// The free energy of every answer, when every output is discrete.
    Answers,
    /// [`Entry::Answers`] of [`BATCH`] rows in one call (every answer's energy per row):
    /// enumeration over a data set scores a batch of rows together.
    AnswersBatch,
    /// The training loss of one example, without its gradient (the loss column of metrics),
    /// when the loss does not batch.
    Loss,
    /// The training loss of one example and its parameter gradient.
    LossGrad,
    /// The loss and its parameter gradient summed over [`BATCH`] examples in one call, when
    /// the loss batches (no per-example work left to the runtime; see [`crate::ir::batch`]).
    LossGradBatch,
    /// [`Entry::InferGrad`] staged ([`crate::ir::stage`]): what depends only on the params and
    /// the inputs, computed once per example, as `stage` outputs …
    InferPrepare,
    /// … and what depends on the outputs and latents, from those and the `stage` values: one
    /// step of a descent.
    InferStep,
    /// [`Entry::InferPrepare`] of [`BATCH`] rows in one call, each row's stage values in its
    /// row of the outputs: inference over a data set prepares its rows together.
    InferPrepareBatch,
    /// [`Entry::InferStep`] of [`BATCH`] rows in one call (every output per row): inference
    /// over a data set descends a batch of rows together, from the stage values of
    /// [`Entry::InferPrepareBatch`]. Compiled when both batch and the model infers by descent.
    InferStepBatch,
    /// [`Entry::Loss`] summed over [`BATCH`] rows in one call (the metrics' loss column), when
    /// the loss batches.
    LossBatch,
    /// The energy and its gradient with respect to the real outputs and latents of [`CHAINS`]
    /// chains in one call, every output per chain: a step of `langevin` or `hmc` over many
    /// chains. From the stage values of [`Entry::InferPrepare`] (per chain) when inference
    /// stages, else from the inputs (per chain).
    SampleStep,
    /// `E(x, y, z)` with every latent an input, and `∂E/∂v` of each `sign` output and latent
    /// the energy is affine in ([`ir::coefficients`]): the conditional of every coordinate of
    /// such a block at once, `P(v_j = +1 | rest) = σ(−2β ∂E/∂v_j)`, for `gibbs`.
    GibbsFields,
}

impl Entry {
    /// The name of the native function (and of the `ebmc emit clif` section).
    pub fn name(self) -> &'static str {
        match self {
            Entry::Energy => "energy",
            Entry::Grad => "grad",
            Entry::InferGrad => "infer_grad",
            Entry::Answers => "answers",
            Entry::AnswersBatch => "answers_batch",
            Entry::Loss => "loss",
            Entry::LossGrad => "loss_grad",
            Entry::LossGradBatch => "loss_grad_batch",
            Entry::InferPrepare => "infer_prepare",
            Entry::InferStep => "infer_step",
            Entry::InferPrepareBatch => "infer_prepare_batch",
            Entry::InferStepBatch => "infer_step_batch",
            Entry::LossBatch => "loss_batch",
            Entry::SampleStep => "sample_step",
            Entry::GibbsFields => "gibbs_fields",
        }
    }
}

/// What an input of an entry point carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The value of a variable: a param, an input, an output or a latent.
    Value(VarId),
    /// The negative answer ȳ of a real output or latent (contrastive losses).
    Negative(VarId),
    /// Stage value `k`, an output of [`Entry::InferPrepare`].
    Stage(usize),
}

/// What an output of an entry point holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The (free) energy; in a loss entry, the energy of the correct answer `E_i`.
    Energy,
    /// In a loss entry, the energy of the negative answer `Ē_i`.
    NegativeEnergy,
    /// A named energy term: its index in [`Model::energy`].
    Term(usize),
    /// The gradient with respect to a variable.
    Grad(VarId),
    /// The training loss (summed over the rows of a batched entry).
    Loss,
    /// The free energy of every answer (see [`Entry::Answers`]).
    Energies,
    /// Stage value `k` (see [`Entry::InferPrepare`]).
    Stage(usize),
}

/// One input or output of an entry point: what it is and where it lives in its buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Port<T> {
    pub what: T,
    pub offset: usize,
    /// `f64`s, all rows of a batched input together.
    pub len: usize,
}

/// One compiled function of a model.
pub struct EntryPoint {
    pub entry: Entry,
    pub inputs: Vec<Port<Input>>,
    pub outputs: Vec<Port<Output>>,
    /// Rows per call: [`BATCH`] for the batched entry points, else 1.
    pub rows: usize,
    pub input_len: usize,
    pub output_len: usize,
    /// The source type of each input (discrete values are checked before a call).
    types: Vec<Ty>,
    /// The graph: run by the interpreter backend, and asked to name the bad value when native
    /// code reports a run-time index out of range.
    graph: Arc<Graph>,
    native: Option<jit::Function>,
}

impl EntryPoint {
    /// The input port carrying `what`.
    pub fn input(&self, what: Input) -> Option<&Port<Input>> {
        self.inputs.iter().find(|p| p.what == what)
    }

    /// The output port holding `what`.
    pub fn output(&self, what: Output) -> Option<&Port<Output>> {
        self.outputs.iter().find(|p| p.what == what)
    }

    /// The address of the native code (`None` on the interpreter): the identity of the
    /// function, for tests that two callers run the same code.
    pub fn address(&self) -> Option<usize> {
        self.native.as_ref().map(|f| f.address())
    }

    /// Scratch `f64`s one call needs (0 on the interpreter).
    pub fn scratch_len(&self) -> usize {
        self.native.as_ref().map_or(0, |f| f.layout().scratch)
    }
}

/// Every entry point of one model, compiled together.
pub struct Compiled {
    pub model: Model,
    pub backend: Backend,
    entries: Vec<EntryPoint>,
    /// The native module, kept for its CLIF text (the functions hold the code alive).
    code: Option<jit::Compiled>,
}

impl Compiled {
    pub fn entries(&self) -> &[EntryPoint] {
        &self.entries
    }

    pub fn entry(&self, e: Entry) -> Option<&EntryPoint> {
        self.entries.iter().find(|p| p.entry == e)
    }

    /// The entry point training computes its loss gradient with: the batched one when the
    /// loss batches, else the per-example one.
    pub fn training_entry(&self) -> Option<&EntryPoint> {
        self.entry(Entry::LossGradBatch)
            .or_else(|| self.entry(Entry::LossGrad))
    }

    /// The Cranelift IR text of an entry point, when compiled with [`Options::keep_clif`].
    pub fn clif(&self, e: &EntryPoint) -> Option<&str> {
        let code = self.code.as_ref()?;
        code.clif(e.native.as_ref()?)
    }

    /// A callable instance of entry point `e`, with its own buffers.
    pub fn kernel(self: &Arc<Self>, e: Entry) -> Option<Kernel> {
        let index = self.entries.iter().position(|p| p.entry == e)?;
        Some(Kernel::new(Arc::clone(self), index))
    }
}

/// Why a model did not compile: lowering refused it, a limit, or code generation.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

/// The graph of every entry point a model needs, in the order they are compiled; the staged
/// inference entry points only when `stage` is on.
pub fn entry_graphs(model: &Model, stage: bool) -> Result<Vec<(Entry, Graph)>, CompileError> {
    let program = ir::build(model).map_err(|e| CompileError(e.message))?;
    let moving = [InputKind::Output, InputKind::Latent];
    let infer_grad = grad::with_gradients(&program.free_energy, "energy", &moving);
    let staged = stage.then(|| ir::stage(&infer_grad, &moving)).flatten();
    let sample_step = needs_sample_step(model)
        .then(|| match &staged {
            Some(s) => ir::batch_rows(&s.step, CHAINS),
            None => ir::batch_rows(&infer_grad, CHAINS),
        })
        .flatten();
    let mut graphs = vec![
        (Entry::Energy, program.energy.clone()),
        (Entry::Grad, grad::energy_gradient(&program.energy)),
    ];
    // Staged, the whole inference gradient is never run: not compiled (compile time).
    if staged.is_none() {
        graphs.push((Entry::InferGrad, infer_grad));
    }
    if let Some(s) = staged {
        if let Some(rows) = ir::batch_rows(&s.prepare, BATCH) {
            graphs.push((Entry::InferPrepareBatch, rows));
            if let Some(step) = descends(model)
                .then(|| ir::batch_rows(&s.step, BATCH))
                .flatten()
            {
                graphs.push((Entry::InferStepBatch, step));
            }
        }
        graphs.push((Entry::InferPrepare, s.prepare));
        graphs.push((Entry::InferStep, s.step));
    }
    if let Some(g) = sample_step {
        graphs.push((Entry::SampleStep, g));
    }
    if let Some(a) = program.answers {
        if let Some(rows) = ir::batch_rows(&a, BATCH) {
            graphs.push((Entry::AnswersBatch, rows));
        }
        graphs.push((Entry::Answers, a));
    }
    if needs_gibbs(model) {
        graphs.push((Entry::GibbsFields, gibbs_fields(model, &program.energy)));
    }
    if let Some(l) = &grad::finish_loss(model, program.loss) {
        let batched = loss_batches(model)
            .then(|| ir::batch(l, "loss", BATCH))
            .flatten();
        // The loss alone is for metrics, which take it by batches when it batches (and the
        // few rows left over from the loss gradient): not compiled then (compile time).
        if batched.is_none() {
            graphs.push((Entry::Loss, l.clone()));
        }
        graphs.push((
            Entry::LossGrad,
            grad::with_gradients(l, "loss", &[InputKind::Param]),
        ));
        if let Some(b) = batched {
            graphs.push((
                Entry::LossGradBatch,
                grad::with_gradients(&b, "loss", &[InputKind::Param]),
            ));
            graphs.push((Entry::LossBatch, b));
        }
    }
    Ok(graphs)
}

/// Whether the model draws real variables with a gradient sampler (`langevin`, `hmc`), whose
/// chains move together through [`Entry::SampleStep`]. A model whose energy the batching
/// rules do not cover gets no such entry, and its chains move one at a time.
pub fn needs_sample_step(model: &Model) -> bool {
    let gradient = |s: &Sampler| matches!(s, Sampler::Langevin { .. } | Sampler::Hmc { .. });
    model.infer.iter().any(|g| matches!(&g.method, InferMethod::Sample(s) if gradient(s)))
        || model.loss.as_ref().is_some_and(|l| {
            matches!(&l.negatives, Some(crate::check::Negatives::Sample { sampler, .. }) if gradient(sampler))
        })
}

/// Whether the model draws discrete variables by `gibbs` (its `infer`, or `cd`'s negatives).
pub fn needs_gibbs(model: &Model) -> bool {
    let gibbs = |s: &Sampler| matches!(s, Sampler::Gibbs { .. });
    model.infer.iter().any(|g| matches!(&g.method, InferMethod::Sample(s) if gibbs(s)))
        || model.loss.as_ref().is_some_and(|l| {
            matches!(&l.negatives, Some(crate::check::Negatives::Sample { sampler, .. }) if gibbs(sampler))
        })
}

/// The graph of [`Entry::GibbsFields`]: the energy with a `grad.NAME` output for each `sign`
/// output or latent it is affine in. A variable the IR's linear ops do not reach linearly (a
/// product of two of its coordinates, an index by it) gets none, and `gibbs` evaluates the
/// energy at each of its values instead.
fn gibbs_fields(model: &Model, energy: &Graph) -> Graph {
    let mut g = energy.clone();
    let Some(out) = g.output("energy") else {
        return g;
    };
    for v in &model.vars {
        if !matches!(v.role, Role::Output | Role::Latent) || !matches!(v.ty, Ty::Sign(_)) {
            continue;
        }
        let Some(node) = g.input_named(&v.name) else {
            continue;
        };
        if let Ok(c) = ir::coefficients(&mut g, out, &[node]) {
            g.set_output(grad::grad_name(&v.name), c[0]);
        }
    }
    ir::debug_verify(&g, "compile::gibbs_fields");
    ir::simplify(&g)
}

/// Whether inference descends on the outputs (one `infer … by descent` group and nothing
/// else), so that a data set's rows can descend together ([`Entry::InferStepBatch`]).
fn descends(model: &Model) -> bool {
    matches!(&model.infer[..], [g] if matches!(g.method, InferMethod::Descent(_)))
}

/// Whether nothing of the loss is left for the runtime to supply per example: no latent
/// minimised by descent and no negative answer to find for a real output.
fn loss_batches(model: &Model) -> bool {
    let descended = model
        .vars
        .iter()
        .any(|v| matches!(v.elim, Some(Elim::MinDescent(_))));
    // The density losses' points (ỹ, noise, model samples) are drawn by the runtime for a
    // whole step and fed to the batched kernel beside the data rows.
    let real_negatives = model.loss.as_ref().is_some_and(|l| {
        l.kind.uses_point()
            && !l.kind.is_density_loss()
            && model
                .vars_of(Role::Output)
                .any(|(_, v)| !v.ty.is_discrete())
    });
    !descended && !real_negatives
}

/// Compiles every entry point of `model`.
pub fn compile(model: &Model, options: &Options) -> Result<Compiled, CompileError> {
    let graphs = entry_graphs(model, options.stage)?;
    let (natives, code) = match options.backend {
        Backend::Interp => {
            for (_, g) in &graphs {
                check_interp_memory(g)?;
            }
            (vec![None; graphs.len()], None)
        }
        Backend::Jit | Backend::JitStrict => {
            let jit_options = jit::JitOptions {
                strict: options.backend == Backend::JitStrict,
                keep_clif: options.keep_clif,
                fma: options.fma,
                ..jit::JitOptions::default()
            };
            let entries: Vec<jit::Entry> = graphs
                .iter()
                .map(|(e, g)| jit::Entry::new(e.name(), g))
                .collect();
            let code = jit::compile_entries(&entries, jit_options)
                .map_err(|e| CompileError(e.to_string()))?;
            let natives = code.functions().iter().cloned().map(Some).collect();
            (natives, Some(code))
        }
    };
    let mut entries = Vec::with_capacity(graphs.len());
    for ((entry, g), native) in graphs.into_iter().zip(natives) {
        entries.push(entry_point(model, entry, g, native)?);
    }
    Ok(Compiled {
        model: model.clone(),
        backend: options.backend,
        entries,
        code,
    })
}

/// Entry points of a model compiled into an object file rather than into memory
/// (`ebmc build --lib`): their typed ports, and the object whose functions implement them.
pub struct ObjectCode {
    /// In the order asked for; no native code (see [`ObjectCode::object`]).
    pub entries: Vec<EntryPoint>,
    /// One function per entry point, in the same order, under `PREFIX` + [`Entry::name`].
    pub object: jit::Object,
}

/// Compiles the entry points `wanted` of `model` (those it has) into one object file for the
/// host machine, with strict code ([`Backend::JitStrict`]: bit for bit what `ebmc eval`
/// computes), each function's symbol `prefix` followed by the entry's name.
pub fn compile_object(
    model: &Model,
    wanted: &[Entry],
    prefix: &str,
) -> Result<ObjectCode, CompileError> {
    // Unstaged: a library's caller calls each entry point on its own.
    let graphs: Vec<(Entry, Graph)> = entry_graphs(model, false)?
        .into_iter()
        .filter(|(e, _)| wanted.contains(e))
        .collect();
    let names: Vec<String> = graphs
        .iter()
        .map(|(e, _)| format!("{prefix}{}", e.name()))
        .collect();
    let entries: Vec<jit::Entry> = graphs
        .iter()
        .zip(&names)
        .map(|((_, g), n)| jit::Entry::new(n.clone(), g))
        .collect();
    let options = jit::JitOptions {
        strict: true,
        ..jit::JitOptions::default()
    };
    let object = jit::compile_object(&entries, options, &model.name)
        .map_err(|e| CompileError(e.to_string()))?;
    let mut points = Vec::with_capacity(graphs.len());
    for (entry, g) in graphs {
        points.push(entry_point(model, entry, g, None)?);
    }
    Ok(ObjectCode {
        entries: points,
        object,
    })
}

/// The typed ports of one graph, at the offsets of its function's signature.
fn entry_point(
    model: &Model,
    entry: Entry,
    g: Graph,
    native: Option<jit::Function>,
) -> Result<EntryPoint, CompileError> {
    let signature = jit::Signature::of(&g);
    let unknown = |name: &str| {
        CompileError(format!(
            "entry `{}`: `{name}` names no variable",
            entry.name()
        ))
    };
    let mut inputs = Vec::with_capacity(g.inputs.len());
    for (info, &(offset, len)) in g.inputs.iter().zip(&signature.inputs) {
        let stage = info
            .name
            .strip_prefix("stage.")
            .and_then(|k| k.parse().ok());
        let what = match (info.name.strip_prefix("neg."), stage) {
            (_, Some(k)) if info.kind == InputKind::Extra => Input::Stage(k),
            (Some(n), _) if info.kind == InputKind::Extra => {
                Input::Negative(model.var_named(n).ok_or_else(|| unknown(&info.name))?)
            }
            _ => Input::Value(
                model
                    .var_named(&info.name)
                    .ok_or_else(|| unknown(&info.name))?,
            ),
        };
        inputs.push(Port { what, offset, len });
    }
    let mut outputs = Vec::with_capacity(g.outputs.len());
    for (name, offset, len) in &signature.outputs {
        let what = match name.as_str() {
            "energy" => Output::Energy,
            "loss" => Output::Loss,
            "energies" => Output::Energies,
            "energy.neg" => Output::NegativeEnergy,
            n if n.starts_with("stage.") => {
                Output::Stage(n["stage.".len()..].parse().map_err(|_| unknown(n))?)
            }
            n => match n.strip_prefix(grad::GRAD_PREFIX) {
                Some(v) => Output::Grad(model.var_named(v).ok_or_else(|| unknown(n))?),
                None => Output::Term(
                    model
                        .energy
                        .iter()
                        .position(|t| t.name == n)
                        .ok_or_else(|| unknown(n))?,
                ),
            },
        };
        outputs.push(Port {
            what,
            offset: *offset,
            len: *len,
        });
    }
    if let Some(f) = &native {
        debug_assert_eq!(f.signature, signature, "one layout for both backends");
    }
    Ok(EntryPoint {
        entry,
        rows: match entry {
            Entry::LossGradBatch
            | Entry::LossBatch
            | Entry::InferPrepareBatch
            | Entry::InferStepBatch
            | Entry::AnswersBatch => BATCH,
            Entry::SampleStep => CHAINS,
            // Listed, not `_`: a new batched entry point must say its rows.
            Entry::Energy
            | Entry::Grad
            | Entry::InferGrad
            | Entry::Answers
            | Entry::Loss
            | Entry::LossGrad
            | Entry::InferPrepare
            | Entry::InferStep
            | Entry::GibbsFields => 1,
        },
        input_len: signature.input_len(),
        output_len: signature.output_len(),
        types: g.inputs.iter().map(|i| i.ty.clone()).collect(),
        inputs,
        outputs,
        graph: Arc::new(g),
        native,
    })
}

/// Refuses a graph whose interpretation needs more than [`MAX_VALUES`] values.
fn check_interp_memory(g: &Graph) -> Result<(), CompileError> {
    let values = g
        .ids()
        .try_fold(0usize, |acc, n| acc.checked_add(g.shape(n).len()));
    if values.is_none_or(|v| v > MAX_VALUES) {
        return Err(CompileError(format!(
            "the model needs {} values of memory for one evaluation, more than the limit of {MAX_VALUES} (2 GiB); use smaller dimensions",
            values.map_or("more than 2^64".into(), |v| v.to_string())
        )));
    }
    Ok(())
}
