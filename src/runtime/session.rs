//! A session: a compiled model with its kernels bound to the current parameter values, able
//! to infer ([`super::infer`]) and to compute the training loss and its gradient
//! ([`super::losses`]).
//!
//! Values travel in a [`Point`]: one flat buffer per variable (indexed by `VarId`) and, for
//! contrastive losses on real outputs, the negative answer ȳ beside it. Parameters live in
//! one flat vector (so an optimizer sees a single buffer), sliced per param.
//!
//! The session reaches native code only through the typed entry points of
//! [`crate::compile::Compiled`]: each [`Bound`] kernel knows, from the time it is made, which
//! variable each input port carries and where each output it reads lives, so a call copies
//! values into place, runs the code and reads results by offset — no names, no look-ups, no
//! allocation.

use super::data::Dataset;
use super::fold::Fold;
use crate::check::{Init, Model, Role, Var, VarId};
use crate::compile::{Compiled, Entry, Input, Kernel, KernelError, Output};
use crate::rng::{self, Rng};
use crate::types::Ty;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Values of every variable of a model (and ȳ), flat and row-major, indexed by `VarId`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Point {
    pub values: Vec<Vec<f64>>,
    /// The negative answer for outputs and real latents; empty when unused.
    pub negs: Vec<Vec<f64>>,
}

impl Point {
    /// Zeros for every non-param variable (class 0, sign +1).
    pub fn zeros(model: &Model) -> Point {
        let values = model
            .vars
            .iter()
            .map(|v| match (&v.role, &v.ty) {
                (Role::Param, _) => Vec::new(),
                (_, Ty::Sign(s)) => vec![1.0; s.len()],
                (_, t) => vec![0.0; t.elements()],
            })
            .collect();
        Point {
            values,
            negs: vec![Vec::new(); model.vars.len()],
        }
    }
}

impl Point {
    /// Makes `self` a copy of `other`, reusing its buffers (no allocation once both have the
    /// same shapes; `#[derive(Clone)]`'s `clone_from` would allocate).
    pub fn copy_from(&mut self, other: &Point) {
        self.values.clone_from(&other.values);
        self.negs.clone_from(&other.negs);
    }
}

/// The buffers a loss uses to build ȳ: the outputs of the model, the label's values and the
/// point ȳ is found from.
#[derive(Clone, Debug, Default)]
pub(super) struct LossScratch {
    pub(super) outputs: Vec<VarId>,
    pub(super) label: Vec<Vec<f64>>,
    pub(super) q: Point,
}

impl LossScratch {
    fn new(model: &Model) -> LossScratch {
        let outputs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
        LossScratch {
            label: outputs
                .iter()
                .map(|o| vec![0.0; model.var(*o).ty.elements()])
                .collect(),
            outputs,
            q: Point::zeros(model),
        }
    }
}

/// A param's initialiser: the checker fills in the default, so every checked param has one.
pub(super) fn param_init(v: &Var) -> Result<&Init, RunError> {
    v.init.as_ref().ok_or_else(|| {
        RunError::Compile(format!(
            "param `{}` has no initialiser: the model was not checked",
            v.name
        ))
    })
}

/// Why running a model failed.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    /// Lowering, compiling or calling a kernel failed: a limit or a bug, with its message.
    Compile(String),
    /// A NaN or infinity in training; the parameters are the last good ones.
    Numeric {
        /// 1-based.
        epoch: usize,
        /// 1-based, within the epoch, of `steps` steps per epoch.
        step: usize,
        steps: usize,
        what: String,
    },
    /// Anything else the user can fix, as one line.
    User(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Compile(m) | RunError::User(m) => f.write_str(m),
            RunError::Numeric {
                epoch,
                step,
                steps,
                what,
            } => write!(
                f,
                "training stopped at epoch {epoch}, step {step} of {steps}: {what}; the weights are the last good ones (before this step)"
            ),
        }
    }
}

impl std::error::Error for RunError {}

impl From<KernelError> for RunError {
    fn from(e: KernelError) -> RunError {
        RunError::Compile(e.0)
    }
}

impl From<crate::compile::CompileError> for RunError {
    fn from(e: crate::compile::CompileError) -> RunError {
        RunError::Compile(e.0)
    }
}

/// A session's parameters: every param, flat, in declaration order, with a version that
/// changes whenever they may have changed (any `&mut` access), so that a kernel copies them
/// into its input buffer only when they are not already there.
#[derive(Debug)]
pub struct Params {
    values: Vec<f64>,
    version: u64,
}

/// Versions of every [`Params`] of the process: unique, so that a kernel never mistakes one
/// session's parameters for another's.
static NEXT_VERSION: AtomicU64 = AtomicU64::new(0);

impl Params {
    pub fn new(values: Vec<f64>) -> Params {
        Params {
            values,
            version: NEXT_VERSION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Replaces every value (e.g. by weights read from a file).
    pub fn set(&mut self, values: Vec<f64>) {
        *self = Params::new(values);
    }

    /// Changes whenever the values may have changed; unique across the process.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl Clone for Params {
    fn clone(&self) -> Params {
        Params::new(self.values.clone())
    }
}

impl std::ops::Deref for Params {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.values
    }
}

impl std::ops::DerefMut for Params {
    fn deref_mut(&mut self) -> &mut [f64] {
        self.version = NEXT_VERSION.fetch_add(1, Ordering::Relaxed);
        &mut self.values
    }
}

/// Where a kernel input comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// A param: `(offset, len)` in the flat parameter vector.
    Param(usize, usize),
    Var(usize),
    Neg(usize),
    /// A stage value, written by [`Energy`] from its prepare kernel's outputs.
    Stage,
}

/// The points ȳ of the rows of one batched loss call (the density losses' ỹ, noise samples
/// or model samples, drawn by the runtime for a whole step): row after row, `width` values
/// each, variable `v`'s `len` values at `offset` in a row for every `(v, offset, len)` of
/// `layout`.
#[derive(Clone, Copy, Debug)]
pub struct RowNegs<'a> {
    pub values: &'a [f64],
    pub width: usize,
    pub layout: &'a [(VarId, usize, usize)],
}

/// A kernel with its input ports bound to a session's values and its outputs located.
pub(super) struct Bound {
    kernel: Kernel,
    /// Per input port.
    sources: Vec<Source>,
    /// The output port of the energy, the loss or the answers' energies.
    value: Option<usize>,
    /// The output port of each variable's gradient, indexed by `VarId`.
    grads: Vec<Option<usize>>,
    /// `(offset in the params, output port)` of every param gradient.
    param_grads: Vec<(usize, usize)>,
    /// The version of the params in the input buffer, if any: params are copied only when
    /// they changed.
    loaded: Option<u64>,
}

impl Bound {
    fn new(code: &Arc<Compiled>, entry: Entry, params: &[Option<(usize, usize)>]) -> Option<Bound> {
        let kernel = code.kernel(entry)?;
        let e = kernel.entry();
        let sources = e
            .inputs
            .iter()
            .map(|p| match p.what {
                Input::Value(v) => match params[v.0 as usize] {
                    Some((o, l)) => Source::Param(o, l),
                    None => Source::Var(v.0 as usize),
                },
                Input::Negative(v) => Source::Neg(v.0 as usize),
                Input::Stage(_) => Source::Stage,
            })
            .collect();
        let wanted = match entry {
            Entry::Loss | Entry::LossBatch | Entry::LossGrad | Entry::LossGradBatch => Output::Loss,
            Entry::Answers | Entry::AnswersBatch => Output::Energies,
            Entry::InferPrepare | Entry::InferPrepareBatch => Output::Stage(0),
            Entry::Energy
            | Entry::Grad
            | Entry::InferGrad
            | Entry::InferStep
            | Entry::InferStepBatch
            | Entry::SampleStep
            | Entry::GibbsFields => Output::Energy,
        };
        let mut value = None;
        let mut grads = vec![None; params.len()];
        let mut param_grads = Vec::new();
        for (k, p) in e.outputs.iter().enumerate() {
            match p.what {
                w if w == wanted => value = Some(k),
                Output::Grad(v) => {
                    grads[v.0 as usize] = Some(k);
                    if let Some((o, _)) = params[v.0 as usize] {
                        param_grads.push((o, k));
                    }
                }
                _ => {}
            }
        }
        param_grads.sort_by_key(|&(o, _)| o);
        Some(Bound {
            kernel,
            sources,
            value,
            grads,
            param_grads,
            loaded: None,
        })
    }

    /// Copies the params (when they changed) and the point's values into the input ports and
    /// calls.
    pub(super) fn call(&mut self, params: &Params, p: &Point) -> Result<(), RunError> {
        self.kernel.ready()?;
        let fresh = self.loaded == Some(params.version);
        for k in 0..self.sources.len() {
            let src: &[f64] = match self.sources[k] {
                // Stage values are written by `Energy`; params only when they changed.
                Source::Stage => continue,
                Source::Param(..) if fresh => continue,
                Source::Param(o, l) => &params[o..o + l],
                Source::Var(i) => &p.values[i],
                Source::Neg(i) => &p.negs[i],
            };
            let expected = self.kernel.entry().inputs[k].len;
            if src.len() != expected {
                return Err(RunError::Compile(format!(
                    "`{}`: input {k} has {} values, expected {expected}",
                    self.kernel.entry().entry.name(),
                    src.len(),
                )));
            }
            self.kernel.input_mut(k).copy_from_slice(src);
        }
        self.loaded = Some(params.version);
        self.kernel.call()?;
        Ok(())
    }

    /// Copies the params and rows `rows` of the data's variables into the input ports of a
    /// batched kernel (row after row) and calls.
    pub(super) fn call_rows(
        &mut self,
        params: &Params,
        data: &Dataset,
        rows: &[usize],
        negs: Option<&RowNegs>,
    ) -> Result<(), RunError> {
        self.kernel.ready()?;
        let fresh = self.loaded == Some(params.version);
        for k in 0..self.sources.len() {
            match self.sources[k] {
                Source::Param(..) if fresh => {}
                Source::Param(o, l) => self.kernel.input_mut(k).copy_from_slice(&params[o..o + l]),
                Source::Var(i) => {
                    let v = data.var(VarId(i as u32)).ok_or_else(|| {
                        RunError::Compile(format!("batched input {k} is not bound to the data"))
                    })?;
                    let dst = self.kernel.input_mut(k);
                    let w = dst.len() / rows.len();
                    for (chunk, &r) in dst.chunks_exact_mut(w).zip(rows) {
                        chunk.copy_from_slice(v.row(r));
                    }
                }
                Source::Neg(i) => {
                    let found = negs.and_then(|n| {
                        let &(_, o, len) = n.layout.iter().find(|l| l.0 .0 as usize == i)?;
                        Some((n, o, len))
                    });
                    let Some((n, o, len)) = found else {
                        return Err(RunError::Compile(
                            "a batched loss without the points it reads beside the data".into(),
                        ));
                    };
                    let dst = self.kernel.input_mut(k);
                    for (j, chunk) in dst.chunks_exact_mut(len).enumerate() {
                        let at = j * n.width + o;
                        chunk.copy_from_slice(&n.values[at..at + len]);
                    }
                }
                Source::Stage => {
                    return Err(RunError::Compile(
                        "a batched loss takes no stage values".into(),
                    ))
                }
            }
        }
        self.loaded = Some(params.version);
        self.kernel.call()?;
        Ok(())
    }

    /// The rows of one call (1 unless the kernel is batched).
    pub(super) fn rows(&self) -> usize {
        self.kernel.entry().rows
    }

    /// The energy, loss or answers' energies of the last call.
    pub(super) fn values(&self) -> &[f64] {
        self.value.map_or(&[], |k| self.kernel.output(k))
    }

    pub(super) fn scalar(&self) -> f64 {
        self.values().first().copied().unwrap_or(f64::NAN)
    }

    /// The gradient with respect to `v` of the last call (empty when it has none).
    pub(super) fn grad(&self, v: VarId) -> &[f64] {
        match self.grads.get(v.0 as usize).copied().flatten() {
            Some(k) => self.kernel.output(k),
            None => &[],
        }
    }

    /// Folds the parameter gradient of the last call into `grad` (laid out like the params)
    /// as `fold` says; with [`Fold::Last`] or [`Fold::Only`], whether every element of `grad`
    /// is then finite (checked in the same pass), else `true`.
    pub(super) fn add_param_grads(&self, grad: &mut [f64], fold: Fold) -> bool {
        let mut finite = true;
        // Elements no output covers (a param the loss does not reach) have no term.
        // `param_grads` is in the order of the params (sorted when bound).
        let mut at = 0;
        for &(o, k) in &self.param_grads {
            let g = self.kernel.output(k);
            finite &= fold.gap(&mut grad[at..o]);
            finite &= fold.apply(&mut grad[o..o + g.len()], g);
            at = o + g.len();
        }
        finite &= fold.gap(&mut grad[at..]);
        finite
    }

    fn fork(&self) -> Bound {
        Bound {
            kernel: self.kernel.fork(),
            sources: self.sources.clone(),
            value: self.value,
            grads: self.grads.clone(),
            param_grads: self.param_grads.clone(),
            loaded: None,
        }
    }
}

/// The free energy and its gradient with respect to the outputs and latents — what every
/// descent, enumeration and negative calls, many times per example.
///
/// When the model stages ([`Entry::InferPrepare`], [`Entry::InferStep`]), a call runs the
/// prepare kernel only when the params or the inputs it reads differ from its last run (the
/// inputs are compared value by value, the params by version), then the step kernel: a descent
/// of `n` steps pays for what does not depend on what it moves once, not `n` times.
pub(super) enum Energy {
    /// The unstaged kernel, when the model does not stage.
    Whole(Bound),
    Staged(Box<Stages>),
}

pub(super) struct Stages {
    prepare: Bound,
    step: Bound,
    /// The prepare of [`Entry::InferPrepareBatch`] rows at once, when the prepare batches.
    batch: Option<Bound>,
    /// Per stage value: its output port in `prepare` and in `batch`, its input port in `step`.
    links: Vec<(usize, Option<usize>, usize)>,
    /// The step of [`Entry::InferStepBatch`] rows at once, and per stage value its output port
    /// in `batch` and its input port in `step_batch`: a batch of rows descends together.
    step_batch: Option<(Bound, Vec<(usize, usize)>)>,
    /// The input values the stage values in `step` were computed from (the `Var` sources of
    /// `prepare`, concatenated), and the params version they were computed with (`None`: not
    /// computed).
    key: Vec<f64>,
    computed: Option<u64>,
    /// The params version the outputs of `batch` were computed with.
    batch_computed: Option<u64>,
}

impl Energy {
    fn new(code: &Arc<Compiled>, params: &[Option<(usize, usize)>]) -> Option<Energy> {
        let bind = |e| Bound::new(code, e, params);
        let (Some(prepare), Some(step)) = (bind(Entry::InferPrepare), bind(Entry::InferStep))
        else {
            return Some(Energy::Whole(bind(Entry::InferGrad)?));
        };
        let batch = bind(Entry::InferPrepareBatch);
        let port = |b: &Bound, what| b.kernel.entry().outputs.iter().position(|p| p.what == what);
        let step_batch = match (&batch, bind(Entry::InferStepBatch)) {
            (Some(b), Some(sb)) => {
                let links: Option<Vec<(usize, usize)>> = (sb.kernel.entry().inputs.iter())
                    .enumerate()
                    .filter_map(|(i, p)| match p.what {
                        Input::Stage(k) => Some(port(b, Output::Stage(k)).map(|o| (o, i))),
                        _ => None,
                    })
                    .collect();
                links.map(|l| (sb, l))
            }
            _ => None,
        };
        let links = (step.kernel.entry().inputs.iter().enumerate())
            .filter_map(|(i, p)| match p.what {
                Input::Stage(k) => Some((
                    port(&prepare, Output::Stage(k))?,
                    batch.as_ref().and_then(|b| port(b, Output::Stage(k))),
                    i,
                )),
                _ => None,
            })
            .collect();
        Some(Energy::Staged(Box::new(Stages {
            prepare,
            step,
            batch,
            links,
            step_batch,
            key: Vec::new(),
            computed: None,
            batch_computed: None,
        })))
    }

    /// Computes the energy and its gradient at `p`.
    pub(super) fn call(&mut self, params: &Params, p: &Point) -> Result<(), RunError> {
        let s = match self {
            Energy::Whole(b) => return b.call(params, p),
            Energy::Staged(s) => s,
        };
        if !s.fresh(params, p) {
            s.computed = None;
            s.prepare.call(params, p)?;
            for &(o, _, i) in &s.links {
                let (prepare, step) = (&s.prepare.kernel, &mut s.step.kernel);
                step.input_mut(i).copy_from_slice(prepare.output(o));
            }
            s.remember(params, p);
        }
        s.step.call(params, p)
    }

    /// Prepares the rows `rows` of `data` in one call of the batched prepare kernel, for
    /// [`Energy::use_row`]; `false` when the model has no such kernel or `rows` is not a whole
    /// batch (each row is then prepared on its own).
    pub(super) fn prepare_rows(
        &mut self,
        params: &Params,
        data: &Dataset,
        rows: &[usize],
    ) -> Result<bool, RunError> {
        let Energy::Staged(s) = self else {
            return Ok(false);
        };
        let Some(batch) = &mut s.batch else {
            return Ok(false);
        };
        let bound = batch.sources.iter().all(|src| match *src {
            Source::Var(i) => data.var(VarId(i as u32)).is_some(),
            _ => true,
        });
        if rows.len() != batch.kernel.entry().rows || !bound {
            return Ok(false);
        }
        s.batch_computed = None;
        batch.call_rows(params, data, rows, None)?;
        s.batch_computed = Some(params.version);
        Ok(true)
    }

    /// Takes row `k` of the last [`Energy::prepare_rows`] as the stage values of `p` (whose
    /// inputs must hold that row); `false` when there is none for the current params.
    pub(super) fn use_row(&mut self, params: &Params, k: usize, p: &Point) -> bool {
        let Energy::Staged(s) = self else {
            return false;
        };
        let (Some(batch), true) = (&s.batch, s.batch_computed == Some(params.version)) else {
            return false;
        };
        if s.links.iter().any(|l| l.1.is_none()) {
            return false;
        }
        let rows = batch.kernel.entry().rows;
        for &(_, o, i) in &s.links {
            let o = o.expect("checked above");
            let all = batch.kernel.output(o);
            let w = all.len() / rows;
            s.step
                .kernel
                .input_mut(i)
                .copy_from_slice(&all[k * w..(k + 1) * w]);
        }
        s.remember(params, p);
        true
    }

    /// Rows per call of the batched descent step, when the model has one (and its prepare
    /// batches, which it reads).
    pub(super) fn step_rows(&self) -> Option<usize> {
        match self {
            Energy::Staged(s) => (s.step_batch.as_ref()).map(|(b, _)| b.kernel.entry().rows),
            Energy::Whole(_) => None,
        }
    }

    /// Copies the stage values of the last [`Energy::prepare_rows`] into the batched step, one
    /// block per stage value; `false` when there are none for the current params.
    pub(super) fn stage_rows(&mut self, params: &Params) -> bool {
        let Energy::Staged(s) = self else {
            return false;
        };
        let (Some(batch), Some((step, links))) = (&s.batch, &mut s.step_batch) else {
            return false;
        };
        if s.batch_computed != Some(params.version) {
            return false;
        }
        for &(o, i) in links.iter() {
            step.kernel
                .input_mut(i)
                .copy_from_slice(batch.kernel.output(o));
        }
        true
    }

    /// One call of the batched step at the points `points` (one per row, as many as the
    /// kernel's rows): their moving values in, energies and gradients out
    /// ([`Energy::row_energies`], [`Energy::rows_and_grads`]).
    pub(super) fn step_rows_call(
        &mut self,
        params: &Params,
        points: &[Point],
    ) -> Result<(), RunError> {
        self.load_rows(params, points)?;
        self.call_rows()
    }

    /// Writes the params (when they changed) and the values of `points` that the batched
    /// step reads into its buffers, where a descent then updates them in place
    /// ([`Energy::rows_and_grads`]).
    pub(super) fn load_rows(&mut self, params: &Params, points: &[Point]) -> Result<(), RunError> {
        let b = self.step_batch_mut()?;
        b.kernel.ready()?;
        let fresh = b.loaded == Some(params.version);
        for k in 0..b.sources.len() {
            match b.sources[k] {
                Source::Stage => {}
                Source::Param(..) if fresh => {}
                Source::Param(o, l) => b.kernel.input_mut(k).copy_from_slice(&params[o..o + l]),
                Source::Var(i) => {
                    let dst = b.kernel.input_mut(k);
                    let w = dst.len() / points.len();
                    for (chunk, p) in dst.chunks_exact_mut(w).zip(points) {
                        chunk.copy_from_slice(&p.values[i]);
                    }
                }
                Source::Neg(_) => {
                    return Err(RunError::Compile(
                        "a batched descent step takes no negatives".into(),
                    ))
                }
            }
        }
        b.loaded = Some(params.version);
        Ok(())
    }

    /// Calls the batched step on the values in its buffers.
    pub(super) fn call_rows(&mut self) -> Result<(), RunError> {
        self.step_batch_mut()?.kernel.call()?;
        Ok(())
    }

    /// The values of `v` of every row in the batched step's input buffer, row after row, to
    /// be updated in place, and the gradient with respect to them of the last call.
    pub(super) fn rows_and_grads(&mut self, v: VarId) -> Option<(&mut [f64], &[f64])> {
        let b = self.step_batch_mut().ok()?;
        let input = b
            .sources
            .iter()
            .position(|s| matches!(s, Source::Var(i) if *i == v.0 as usize))?;
        let output = b.grads.get(v.0 as usize).copied().flatten()?;
        Some(b.kernel.input_and_output(input, output))
    }

    fn step_batch_mut(&mut self) -> Result<&mut Bound, RunError> {
        match self {
            Energy::Staged(s) => match &mut s.step_batch {
                Some((b, _)) => Ok(b),
                None => Err(RunError::Compile("no batched step".into())),
            },
            Energy::Whole(_) => Err(RunError::Compile("no batched step".into())),
        }
    }

    /// The energy of every row of the last [`Energy::step_rows_call`].
    pub(super) fn row_energies(&self) -> &[f64] {
        match self {
            Energy::Staged(s) => s.step_batch.as_ref().map_or(&[], |(b, _)| b.values()),
            Energy::Whole(_) => &[],
        }
    }

    fn bound(&self) -> &Bound {
        match self {
            Energy::Whole(b) => b,
            Energy::Staged(s) => &s.step,
        }
    }

    /// The energy of the last call.
    pub(super) fn scalar(&self) -> f64 {
        self.bound().scalar()
    }

    /// The gradient with respect to `v` of the last call.
    pub(super) fn grad(&self, v: VarId) -> &[f64] {
        self.bound().grad(v)
    }

    fn fork(&self) -> Energy {
        match self {
            Energy::Whole(b) => Energy::Whole(b.fork()),
            Energy::Staged(s) => Energy::Staged(Box::new(Stages {
                prepare: s.prepare.fork(),
                step: s.step.fork(),
                batch: s.batch.as_ref().map(Bound::fork),
                links: s.links.clone(),
                step_batch: (s.step_batch.as_ref()).map(|(b, l)| (b.fork(), l.clone())),
                key: Vec::new(),
                computed: None,
                batch_computed: None,
            })),
        }
    }
}

impl Stages {
    /// Records that the step kernel's stage values are those of `p`'s inputs and `params`.
    fn remember(&mut self, params: &Params, p: &Point) {
        self.key.clear();
        for src in &self.prepare.sources {
            if let Source::Var(i) = *src {
                self.key.extend_from_slice(&p.values[i]);
            }
        }
        self.computed = Some(params.version);
    }

    /// Whether the stage values in the step kernel were computed from these params and from
    /// the same input values as `p`'s.
    fn fresh(&self, params: &Params, p: &Point) -> bool {
        if self.computed != Some(params.version) {
            return false;
        }
        let mut at = 0;
        for src in &self.prepare.sources {
            if let Source::Var(i) = *src {
                let v = &p.values[i];
                if self.key.get(at..at + v.len()) != Some(v.as_slice()) {
                    return false;
                }
                at += v.len();
            }
        }
        true
    }
}

/// A model ready to infer and train.
pub struct Session {
    /// The compiled model this session runs.
    pub code: Arc<Compiled>,
    /// Every param, flat, in declaration order.
    pub params: Params,
    /// `(offset, len)` of each param in `params`, indexed by `VarId` (`None` for non-params).
    pub param_slices: Vec<Option<(usize, usize)>>,
    /// The free energy with its gradient with respect to outputs and real latents.
    pub(super) energy: Energy,
    /// The free energies of every answer, when every output is discrete.
    pub(super) answers: Option<Bound>,
    /// The same for a batch of rows in one call, and the version of the params its values
    /// are of when they are those of the rows of the last [`Session::infer_rows`]
    /// ([`Session::batch_answer_energies`]).
    pub(super) answers_batch: Option<Bound>,
    pub(super) answers_batch_of: Option<u64>,
    /// The training loss with its gradient with respect to every param.
    pub(super) loss: Option<Bound>,
    /// The training loss alone, for metrics, per example and summed over a batch of rows.
    pub(super) loss_value: Option<Bound>,
    loss_value_batch: Option<Bound>,
    /// The loss and its summed parameter gradient over a batch of examples in one call, when
    /// the loss batches.
    batch_loss: Option<Bound>,
    /// Real latents eliminated by descent (not named in an `infer` group).
    pub(super) inner: Vec<VarId>,
    /// Every real latent eliminated by descent, named in an `infer` group or not.
    pub(super) descended: Vec<VarId>,
    /// Where a loss builds its negative answer ȳ, kept so that no step allocates.
    pub(super) scratch: LossScratch,
    /// Every iterate of inference by descent, while [`Session::record_path`] is on (plots).
    pub(super) path: Option<Vec<Point>>,
    /// The acceptance rate of the last `hmc` inference (its proposals over every chain).
    pub acceptance: Option<f64>,
}

impl Session {
    /// Binds the compiled model's kernels; params are initialised from their declarations
    /// with `seed`.
    pub fn new(code: &Arc<Compiled>, seed: u64) -> Result<Session, RunError> {
        let model = &code.model;
        let mut param_slices = vec![None; model.vars.len()];
        let mut len = 0;
        for (id, v) in model.vars_of(Role::Param) {
            param_slices[id.0 as usize] = Some((len, v.ty.elements()));
            len += v.ty.elements();
        }
        let bind = |e| Bound::new(code, e, &param_slices);
        let energy = Energy::new(code, &param_slices)
            .ok_or_else(|| RunError::Compile("the model has no inference kernel".into()))?;
        let answers = bind(Entry::Answers);
        let answers_batch = bind(Entry::AnswersBatch);
        let loss = bind(Entry::LossGrad);
        let loss_value = bind(Entry::Loss);
        let loss_value_batch = bind(Entry::LossBatch);
        let batch_loss = bind(Entry::LossGradBatch);
        let mut params = super::memory::zeros(len, "the params")?;
        let mut rng = Rng::new(seed);
        for (id, v) in model.vars_of(Role::Param) {
            let shape = v.ty.shape().cloned().unwrap_or_default();
            let (o, l) = param_slices[id.0 as usize].unwrap_or_default();
            rng::init_into(param_init(v)?, &shape, &mut rng, &mut params[o..o + l])
                .map_err(|e| RunError::User(e.to_string()))?;
        }
        let inner = super::infer::inner_latents(model);
        let descended = super::infer::eliminated_by_descent(model);
        Ok(Session {
            code: Arc::clone(code),
            params: Params::new(params),
            param_slices,
            energy,
            answers,
            answers_batch,
            answers_batch_of: None,
            loss,
            loss_value,
            loss_value_batch,
            batch_loss,
            inner,
            descended,
            scratch: LossScratch::new(model),
            path: None,
            acceptance: None,
        })
    }

    /// The elements of the kernel buffers a session of `code` allocates (inputs, outputs and
    /// scratch of the entry points [`Session::new`] binds — all but the energy and gradient
    /// of `eval`, and the unstaged inference gradient when inference stages — once called).
    /// With `training_only`, those a training thread's copy may call: the loss gradient (per
    /// example and batched) and, when the loss does not batch, what its negatives and latents
    /// need (inference, answers).
    pub fn buffer_elements(code: &Compiled, training_only: bool) -> usize {
        let has = |x| code.entries().iter().any(|e| e.entry == x);
        let (staged, batched) = (has(Entry::InferPrepare), has(Entry::LossGradBatch));
        code.entries()
            .iter()
            .filter(|e| match e.entry {
                Entry::Energy | Entry::Grad => false,
                Entry::InferGrad => !staged,
                Entry::LossGrad | Entry::LossGradBatch => true,
                Entry::Loss
                | Entry::LossBatch
                | Entry::InferPrepareBatch
                | Entry::InferStepBatch
                | Entry::SampleStep
                | Entry::GibbsFields => !training_only,
                Entry::AnswersBatch => !training_only,
                Entry::Answers | Entry::InferPrepare | Entry::InferStep => {
                    !training_only || !batched
                }
            })
            .map(|e| e.input_len + e.output_len + e.scratch_len())
            .sum()
    }

    /// Compiles `model` on `backend` ([`crate::compile::compile`]) and binds a session to it.
    pub fn compile(
        model: &Model,
        backend: crate::compile::Backend,
        seed: u64,
    ) -> Result<Session, RunError> {
        let code = crate::compile::compile(model, &crate::compile::Options::new(backend))?;
        Session::new(&Arc::new(code), seed)
    }

    /// The model this session runs.
    pub fn model(&self) -> &Model {
        &self.code.model
    }

    /// A copy for another thread: same parameters, its own kernel buffers.
    pub fn fork(&self) -> Session {
        Session {
            params: self.params.clone(),
            ..self.fork_without_params()
        }
    }

    /// [`Session::fork`] for inference over rows on another thread
    /// ([`super::infer::infer_all_rows`]), allocated fallibly: the params and the buffers of
    /// the batched inference kernels, which hold another copy of them. `None` when the memory
    /// is not there (the caller then uses fewer threads, never aborts).
    pub(super) fn try_fork_for_rows(&self) -> Option<Session> {
        let mut params =
            super::memory::zeros(self.params.len(), "an inference thread's params").ok()?;
        params.copy_from_slice(&self.params);
        let mut s = Session {
            params: Params::new(params),
            ..self.fork_without_params()
        };
        if let Energy::Staged(st) = &mut s.energy {
            if let Some(b) = &mut st.batch {
                b.kernel.ready().ok()?;
            }
            if let Some((b, _)) = &mut st.step_batch {
                b.kernel.ready().ok()?;
            }
        }
        Some(s)
    }

    /// [`Session::fork`] with no params, for a training thread: its batched loss reads the
    /// master's ([`Session::loss_grad_batch`]), so a copy would be memory for nothing until a
    /// per-example path needs one (and sets it).
    pub(super) fn fork_without_params(&self) -> Session {
        Session {
            code: Arc::clone(&self.code),
            params: Params::new(Vec::new()),
            param_slices: self.param_slices.clone(),
            energy: self.energy.fork(),
            answers: self.answers.as_ref().map(|b| b.fork()),
            answers_batch: self.answers_batch.as_ref().map(|b| b.fork()),
            answers_batch_of: None,
            loss: self.loss.as_ref().map(|b| b.fork()),
            loss_value: self.loss_value.as_ref().map(|b| b.fork()),
            loss_value_batch: self.loss_value_batch.as_ref().map(|b| b.fork()),
            batch_loss: self.batch_loss.as_ref().map(|b| b.fork()),
            inner: self.inner.clone(),
            descended: self.descended.clone(),
            scratch: LossScratch::new(self.model()),
            path: None,
            acceptance: None,
        }
    }

    /// Rows per call of the batched loss kernel, when the loss batches.
    pub fn batch_rows(&self) -> Option<usize> {
        self.batch_loss.as_ref().map(|b| b.kernel.entry().rows)
    }

    /// The kernel training runs (the batched loss when there is one) and how many calls it
    /// has made: tests check that `ebmc bench` times the code training runs.
    pub fn training_kernel(&self) -> Option<(Option<usize>, u64)> {
        let b = self.batch_loss.as_ref().or(self.loss.as_ref())?;
        Some((b.kernel.entry().address(), b.kernel.calls()))
    }

    /// Starts (`true`) or stops recording the iterates of [`Session::infer`]'s descents:
    /// the starting point and the point after every step, for `ebmc plot` to draw the path.
    pub fn record_path(&mut self, on: bool) {
        self.path = on.then(Vec::new);
    }

    /// The iterates recorded since the last call (empty when not recording).
    pub fn take_path(&mut self) -> Vec<Point> {
        self.path.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The summed loss of the examples `rows` of `data`, with their summed parameter gradient
    /// folded into `grad` as `fold` says, in one call of the batched kernel; `None` when the
    /// model is not batched or `rows` is not a whole batch. With the loss, whether `grad` is
    /// all finite after a [`Fold::Last`] or [`Fold::Only`] (else `true`).
    /// `params`, when given, are used instead of the session's own (a training worker reads
    /// the master's without copying them).
    /// `negs` holds the rows' points ȳ when the loss reads them (the density losses).
    pub fn loss_grad_batch(
        &mut self,
        params: Option<&Params>,
        data: &Dataset,
        rows: &[usize],
        negs: Option<&RowNegs>,
        grad: &mut [f64],
        fold: Fold,
    ) -> Option<Result<(f64, bool), RunError>> {
        let bound = self.batch_loss.as_mut()?;
        if rows.len() != bound.kernel.entry().rows {
            return None;
        }
        let params = params.unwrap_or(&self.params);
        if let Err(e) = bound.call_rows(params, data, rows, negs) {
            return Some(Err(e));
        }
        let finite = bound.add_param_grads(grad, fold);
        Some(Ok((bound.scalar(), finite)))
    }

    /// Whether [`Session::loss_batch`] takes `rows` rows in one call.
    pub fn loss_batches(&self, rows: usize) -> bool {
        self.loss_value_batch.as_ref().is_some_and(|b| {
            b.kernel.entry().rows == rows && !b.sources.iter().any(|s| matches!(s, Source::Neg(_)))
        })
    }

    /// The summed loss of the rows `rows` of `data` in one call of the batched loss kernel
    /// (metrics); `None` when the loss does not batch or `rows` is not a whole batch.
    pub fn loss_batch(&mut self, data: &Dataset, rows: &[usize]) -> Option<Result<f64, RunError>> {
        let bound = self.loss_value_batch.as_mut()?;
        // A loss that reads points beside the data draws them per example (the fallback).
        let reads_points = bound.sources.iter().any(|s| matches!(s, Source::Neg(_)));
        if rows.len() != bound.kernel.entry().rows || reads_points {
            return None;
        }
        Some(
            bound
                .call_rows(&self.params, data, rows, None)
                .map(|()| bound.scalar()),
        )
    }

    /// [`Session::loss_batch`] for a loss that reads points beside the data, given.
    pub(super) fn loss_batch_given(
        &mut self,
        data: &Dataset,
        rows: &[usize],
        negs: &RowNegs,
    ) -> Option<Result<f64, RunError>> {
        let bound = self.loss_value_batch.as_mut()?;
        if rows.len() != bound.kernel.entry().rows {
            return None;
        }
        Some(
            bound
                .call_rows(&self.params, data, rows, Some(negs))
                .map(|()| bound.scalar()),
        )
    }

    /// Prepares the rows `rows` of `data` for inference in one call (see
    /// [`Session::use_prepared_row`]); `false` when the model cannot, or `rows` is not a
    /// whole batch.
    pub fn prepare_rows(&mut self, data: &Dataset, rows: &[usize]) -> Result<bool, RunError> {
        self.energy.prepare_rows(&self.params, data, rows)
    }

    /// Uses row `k` of the last [`Session::prepare_rows`] for the inference of `p`, which must
    /// hold that row's inputs; `false` when there is none (inference then prepares `p` itself).
    pub fn use_prepared_row(&mut self, k: usize, p: &Point) -> bool {
        self.energy.use_row(&self.params, k, p)
    }

    pub fn has_loss(&self) -> bool {
        self.loss.is_some()
    }

    /// The values of one param.
    pub fn param(&self, id: VarId) -> &[f64] {
        match self.param_slices[id.0 as usize] {
            Some((o, l)) => &self.params[o..o + l],
            None => &[],
        }
    }

    /// The free energy at `p` (inner latents minimised first).
    pub fn energy(&mut self, p: &mut Point) -> Result<f64, RunError> {
        self.min_inner(p)?;
        self.energy.call(&self.params, p)?;
        Ok(self.energy.scalar())
    }
}
