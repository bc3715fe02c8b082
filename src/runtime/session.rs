//! A session: a checked model with its kernels and current parameter values, able to infer
//! and to compute the training loss and its gradient for one example.
//!
//! Values travel in a [`Point`]: one flat buffer per variable (indexed by `VarId`) and, for
//! contrastive losses on real outputs, the negative answer ȳ beside it. Parameters live in
//! one flat vector (so an optimizer sees a single buffer), sliced per param.
//!
//! What the IR leaves to the runtime is done here (spec sections 3, 6 and 7):
//! * real latents eliminated by `min by descent(…)` are minimised for every evaluation that
//!   needs the free energy (inner descent, warm-started at the latent's init);
//! * `infer … by descent` runs gradient descent on its variables, `enumerate` picks the
//!   lowest-energy combination of discrete values;
//! * ȳ for real outputs comes from `negatives descent` (descent from a random start, kept at
//!   least `radius` from `y_i` by projection after every step), `negatives shuffle` (the
//!   lowest-energy `y_j`, j ≠ i, of the batch) or, for `perceptron`, the model's inference.
//!   ȳ is then an input of the loss graph, so it is held fixed when differentiating.

use super::data::Dataset;
use super::kernel::{compile, Backend, Kernel, KernelError};
use crate::check::{
    Descent, Elim, Infer, InferMethod, Init, LossKind, Model, Negatives, Role, Ty, VarId,
};
use crate::grad;
use crate::ir::{self, InputKind, Program};
use crate::rng::{self, Rng};
use std::fmt;

/// Examples per call of the batched loss kernel: the training loop's chunk.
pub const BATCH: usize = 16;

/// Values of every variable of a model (and ȳ), flat and row-major, indexed by `VarId`.
#[derive(Clone, Debug, PartialEq)]
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
                (_, Ty::Sign) => vec![1.0],
                (_, t) => vec![0.0; t.elements()],
            })
            .collect();
        Point {
            values,
            negs: vec![Vec::new(); model.vars.len()],
        }
    }
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

/// Where a kernel input comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// A param: `(offset, len)` in the flat parameter vector.
    Param(usize, usize),
    Var(usize),
    Neg(usize),
}

/// A kernel with its inputs bound to a session's values, and its output buffer.
struct Bound {
    kernel: Box<dyn Kernel>,
    sources: Vec<Source>,
    out: Vec<f64>,
}

impl Bound {
    fn new(
        g: &ir::Graph,
        model: &Model,
        params: &[Option<(usize, usize)>],
        backend: Backend,
    ) -> Result<Bound, RunError> {
        let kernel = compile(g, backend)?;
        let mut sources = Vec::new();
        for inp in &kernel.layout().inputs {
            let (name, neg) = match inp.name.strip_prefix("neg.") {
                Some(n) if inp.kind == InputKind::Extra => (n, true),
                _ => (inp.name.as_str(), false),
            };
            let id = model.var_named(name).ok_or_else(|| {
                RunError::Compile(format!("kernel input `{}` names no variable", inp.name))
            })?;
            let i = id.0 as usize;
            sources.push(match (params[i], neg) {
                (Some((o, l)), false) => Source::Param(o, l),
                (_, false) => Source::Var(i),
                (_, true) => Source::Neg(i),
            });
        }
        let out = vec![0.0; kernel.layout().len];
        Ok(Bound {
            kernel,
            sources,
            out,
        })
    }

    fn call(&mut self, params: &[f64], p: &Point) -> Result<(), RunError> {
        let slices: Vec<&[f64]> = self
            .sources
            .iter()
            .map(|s| match *s {
                Source::Param(o, l) => &params[o..o + l],
                Source::Var(i) => p.values[i].as_slice(),
                Source::Neg(i) => p.negs[i].as_slice(),
            })
            .collect();
        self.kernel.call(&slices, &mut self.out)?;
        Ok(())
    }

    fn get(&self, name: &str) -> &[f64] {
        match self.kernel.layout().output(name) {
            Some((o, l)) => &self.out[o..o + l],
            None => &[],
        }
    }

    fn scalar(&self, name: &str) -> f64 {
        self.get(name).first().copied().unwrap_or(f64::NAN)
    }

    fn fork(&self) -> Bound {
        Bound {
            kernel: self.kernel.fork(),
            sources: self.sources.clone(),
            out: self.out.clone(),
        }
    }
}

/// A model ready to infer and train.
pub struct Session<'m> {
    pub model: &'m Model,
    /// Every param, flat, in declaration order.
    pub params: Vec<f64>,
    /// `(offset, len)` of each param in `params`, indexed by `VarId` (`None` for non-params).
    pub param_slices: Vec<Option<(usize, usize)>>,
    /// The free energy with its gradient with respect to outputs and real latents.
    energy: Bound,
    /// The free energies of every answer, when every output is discrete.
    answers: Option<Bound>,
    /// The training loss with its gradient with respect to every param.
    loss: Option<Bound>,
    /// The loss and its summed parameter gradient over [`BATCH`] examples at once (a
    /// batched graph: matrix–matrix products), when the model allows it; see [`ir::batch`].
    batch_loss: Option<Bound>,
    /// The packed inputs of `batch_loss`: row after row of each bound variable.
    batch_point: Point,
    /// Real latents eliminated by descent (not named in an `infer` group).
    inner: Vec<VarId>,
    /// Every iterate of inference by descent, while [`Session::record_path`] is on (plots).
    path: Option<Vec<Point>>,
}

impl<'m> Session<'m> {
    /// Lowers, differentiates and compiles the model; params are initialised from their
    /// declarations with `seed`.
    pub fn new(model: &'m Model, backend: Backend, seed: u64) -> Result<Session<'m>, RunError> {
        let program: Program = ir::build(model).map_err(|e| RunError::Compile(e.message))?;
        // Where each param lives in the flat vector; its values are drawn only once every
        // kernel has compiled, so a model over a memory limit allocates nothing.
        let mut param_slices = vec![None; model.vars.len()];
        let mut len = 0;
        for (id, v) in model.vars_of(Role::Param) {
            param_slices[id.0 as usize] = Some((len, v.ty.elements()));
            len += v.ty.elements();
        }
        let energy_graph = grad::with_gradients(
            &program.free_energy,
            "energy",
            &[InputKind::Output, InputKind::Latent],
        );
        let energy = Bound::new(&energy_graph, model, &param_slices, backend)?;
        let answers = match &program.answers {
            Some(g) => Some(Bound::new(g, model, &param_slices, backend)?),
            None => None,
        };
        let loss = match &program.loss {
            Some(g) => Some(Bound::new(
                &grad::with_gradients(g, "loss", &[InputKind::Param]),
                model,
                &param_slices,
                backend,
            )?),
            None => None,
        };
        let mut params = Vec::with_capacity(len);
        let mut rng = Rng::new(seed);
        for (_, v) in model.vars_of(Role::Param) {
            let shape = v.ty.shape().cloned().unwrap_or_default();
            let init = v.init.clone().unwrap_or_else(|| rng::default_init(&shape));
            let values = rng::init_values(&init, &shape, &mut rng)
                .map_err(|e| RunError::User(e.to_string()))?;
            params.extend(values);
        }
        let named: Vec<VarId> = model
            .infer
            .iter()
            .flat_map(|g| g.vars.iter().copied())
            .collect();
        let inner: Vec<VarId> = model
            .vars
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                matches!(v.elim, Some(Elim::MinDescent(_))) && !named.contains(&VarId(*i as u32))
            })
            .map(|(i, _)| VarId(i as u32))
            .collect();
        // Batched when nothing is left for the runtime to supply per example: no inner
        // latents to minimise and no negative answer to find for a real output.
        let real_negatives = model.loss.as_ref().is_some_and(|l| {
            (l.kind.needs_negative() || l.kind == LossKind::Perceptron)
                && model
                    .vars_of(Role::Output)
                    .any(|(_, v)| !v.ty.is_discrete())
        });
        let batch_loss = match &program.loss {
            Some(g) if eliminated_by_descent(model).is_empty() && !real_negatives => {
                match ir::batch(g, "loss", BATCH) {
                    Some(b) => Some(Bound::new(
                        &grad::with_gradients(&b, "loss", &[InputKind::Param]),
                        model,
                        &param_slices,
                        backend,
                    )?),
                    None => None,
                }
            }
            _ => None,
        };
        Ok(Session {
            model,
            params,
            param_slices,
            energy,
            answers,
            loss,
            batch_loss,
            batch_point: Point::zeros(model),
            inner,
            path: None,
        })
    }

    /// A copy for another thread: same parameters, its own kernel scratch.
    pub fn fork(&self) -> Session<'m> {
        Session {
            model: self.model,
            params: self.params.clone(),
            param_slices: self.param_slices.clone(),
            energy: self.energy.fork(),
            answers: self.answers.as_ref().map(|b| b.fork()),
            loss: self.loss.as_ref().map(|b| b.fork()),
            batch_loss: self.batch_loss.as_ref().map(|b| b.fork()),
            batch_point: self.batch_point.clone(),
            inner: self.inner.clone(),
            path: None,
        }
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

    /// The summed loss of the [`BATCH`] examples `rows` of `data`, with their summed
    /// parameter gradient added into `grad`, in one call of the batched kernel; `None` when
    /// the model is not batched or `rows` is not a whole batch.
    pub fn loss_grad_batch(
        &mut self,
        data: &Dataset,
        rows: &[usize],
        grad: &mut [f64],
    ) -> Option<Result<f64, RunError>> {
        let bound = self.batch_loss.as_mut()?;
        if rows.len() != BATCH {
            return None;
        }
        for v in &data.vars {
            let buf = &mut self.batch_point.values[v.var.0 as usize];
            buf.clear();
            for &r in rows {
                buf.extend_from_slice(v.row(r));
            }
        }
        if let Err(e) = bound.call(&self.params, &self.batch_point) {
            return Some(Err(e));
        }
        for (id, v) in self.model.vars_of(Role::Param) {
            let Some((o, l)) = self.param_slices[id.0 as usize] else {
                continue;
            };
            let g = bound.get(&grad::grad_name(&v.name));
            if g.len() == l {
                grad[o..o + l]
                    .iter_mut()
                    .zip(g)
                    .for_each(|(acc, gi)| *acc += gi);
            }
        }
        Some(Ok(bound.scalar("loss")))
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
        Ok(self.energy.scalar("energy"))
    }

    /// Minimises the inner latents by descent, each from its init.
    fn min_inner(&mut self, p: &mut Point) -> Result<(), RunError> {
        let inner = self.inner.clone();
        self.min_latents(p, &inner)
    }

    /// Minimises the given real latents by descent, each from its init.
    fn min_latents(&mut self, p: &mut Point, inner: &[VarId]) -> Result<(), RunError> {
        if inner.is_empty() {
            return Ok(());
        }
        let descents: Vec<Descent> = inner
            .iter()
            .map(|v| match &self.model.var(*v).elim {
                Some(Elim::MinDescent(d)) => d.clone(),
                _ => unreachable!("inner latents are eliminated by descent"),
            })
            .collect();
        let mut rng = Rng::new(0x1a7e_u64);
        for (v, d) in inner.iter().zip(&descents) {
            init_values(&mut p.values[v.0 as usize], &d.init, &mut rng);
        }
        let steps = descents.iter().map(|d| d.steps).max().unwrap_or(0);
        let tol = descents.iter().map(|d| d.tol).fold(f64::INFINITY, f64::min);
        for _ in 0..steps {
            self.energy.call(&self.params, p)?;
            let mut norm = 0.0;
            for (v, d) in inner.iter().zip(&descents) {
                let g = self.energy.get(&grad::grad_name(&self.model.var(*v).name));
                norm += g.iter().map(|x| x * x).sum::<f64>();
                for (x, gi) in p.values[v.0 as usize].iter_mut().zip(g) {
                    *x -= d.rate * gi;
                }
            }
            // `tol` bounds the gradient's norm, not its square: `tol = 1e-8` stops where the
            // gradient is 1e-8, not 1e-4.
            if norm.sqrt() < tol {
                break;
            }
        }
        Ok(())
    }

    /// Gradient descent on `vars` (real outputs and latents) from `d.init`, until `d.steps`
    /// steps or a gradient whose norm is below `d.tol`; returns the energy. A value that
    /// becomes infinite or NaN is an error naming `what`, the step and the rate.
    /// `project`, when given, maps each iterate back onto the allowed set.
    fn descend(
        &mut self,
        p: &mut Point,
        vars: &[VarId],
        d: &Descent,
        rng: &mut Rng,
        project: Option<&dyn Fn(&mut Point)>,
        what: &str,
    ) -> Result<f64, RunError> {
        for v in vars {
            init_values(&mut p.values[v.0 as usize], &d.init, rng);
        }
        if let Some(f) = project {
            f(p);
        }
        let record = self.path.is_some() && project.is_none();
        if record {
            self.path.get_or_insert_with(Vec::new).push(p.clone());
        }
        let names: Vec<String> = vars
            .iter()
            .map(|v| grad::grad_name(&self.model.var(*v).name))
            .collect();
        for step in 1..=d.steps {
            self.min_inner(p)?;
            self.energy.call(&self.params, p)?;
            let mut norm = 0.0;
            for (v, name) in vars.iter().zip(&names) {
                let g = self.energy.get(name);
                norm += g.iter().map(|x| x * x).sum::<f64>();
                for (x, gi) in p.values[v.0 as usize].iter_mut().zip(g) {
                    *x -= d.rate * gi;
                }
            }
            // A rate too large for the curvature overshoots further at every step; say so
            // rather than hand back NaN as an answer.
            if !norm.is_finite()
                || vars
                    .iter()
                    .any(|v| p.values[v.0 as usize].iter().any(|x| !x.is_finite()))
            {
                let names: Vec<String> = vars
                    .iter()
                    .map(|v| format!("`{}`", self.model.var(*v).name))
                    .collect();
                return Err(RunError::User(format!(
                    "{what} on {} diverged at step {step} of {}: the values became infinite or NaN; lower its rate ({}) or start closer (init)",
                    names.join(", "),
                    d.steps,
                    d.rate
                )));
            }
            if let Some(f) = project {
                f(p);
            }
            if record {
                self.path.get_or_insert_with(Vec::new).push(p.clone());
            }
            if norm.sqrt() < d.tol {
                break;
            }
        }
        self.energy(p)
    }

    /// Every combination of values of the discrete variables `vars`, lowest energy kept.
    fn enumerate(&mut self, p: &mut Point, vars: &[VarId]) -> Result<f64, RunError> {
        let all_outputs_discrete = self
            .model
            .vars_of(Role::Output)
            .all(|(_, v)| v.ty.is_discrete());
        let outputs: Vec<VarId> = self.model.vars_of(Role::Output).map(|(id, _)| id).collect();
        if let (Some(answers), true, true) = (
            &mut self.answers,
            self.inner.is_empty(),
            all_outputs_discrete && vars == outputs.as_slice(),
        ) {
            answers.call(&self.params, p)?;
            let es = answers.get("energies");
            let (best, e) = argmin(es);
            decode(self.model, vars, best, p);
            return Ok(e);
        }
        let count: usize = vars
            .iter()
            .map(|v| answer_count(&self.model.var(*v).ty))
            .product();
        let (mut best, mut best_e) = (0, f64::INFINITY);
        for k in 0..count {
            decode(self.model, vars, k, p);
            let e = self.energy(p)?;
            if e < best_e || (k == 0 && e.is_nan()) {
                best = k;
                best_e = e;
            }
        }
        decode(self.model, vars, best, p);
        self.energy(p)?;
        Ok(best_e)
    }

    /// Runs every inference group of the model in order; returns the final energy.
    pub fn infer(&mut self, p: &mut Point, rng: &mut Rng) -> Result<f64, RunError> {
        let groups: Vec<Infer> = self.model.infer.clone();
        for g in &groups {
            match &g.method {
                InferMethod::Descent(d) => {
                    self.descend(p, &g.vars, d, rng, None, "descent")?;
                }
                InferMethod::Enumerate => {
                    self.enumerate(p, &g.vars)?;
                }
            }
        }
        self.energy(p)
    }

    /// The training loss at `p` (whose outputs hold the label) and its gradient, added into
    /// `grad` (one entry per element of `params`). `batch` holds the outputs of the other
    /// examples of the minibatch, for `negatives shuffle`.
    pub fn loss_grad(
        &mut self,
        p: &mut Point,
        batch: &[Vec<Vec<f64>>],
        rng: &mut Rng,
        grad: &mut [f64],
    ) -> Result<f64, RunError> {
        self.prepare_loss(p, batch, rng)?;
        let loss = self
            .loss
            .as_mut()
            .ok_or_else(|| RunError::User("the model has no loss".into()))?;
        loss.call(&self.params, p)?;
        for (id, v) in self.model.vars_of(Role::Param) {
            let Some((o, l)) = self.param_slices[id.0 as usize] else {
                continue;
            };
            let g = loss.get(&grad::grad_name(&v.name));
            if g.len() == l {
                for (acc, gi) in grad[o..o + l].iter_mut().zip(g) {
                    *acc += gi;
                }
            }
        }
        Ok(loss.scalar("loss"))
    }

    /// The training loss at `p` without its gradient.
    pub fn loss(
        &mut self,
        p: &mut Point,
        batch: &[Vec<Vec<f64>>],
        rng: &mut Rng,
    ) -> Result<f64, RunError> {
        self.prepare_loss(p, batch, rng)?;
        let loss = self
            .loss
            .as_mut()
            .ok_or_else(|| RunError::User("the model has no loss".into()))?;
        loss.call(&self.params, p)?;
        Ok(loss.scalar("loss"))
    }

    /// Latents at the label and, for real outputs, the negative answer ȳ.
    fn prepare_loss(
        &mut self,
        p: &mut Point,
        batch: &[Vec<Vec<f64>>],
        rng: &mut Rng,
    ) -> Result<(), RunError> {
        let Some(loss) = &self.model.loss else {
            return Ok(());
        };
        let latents = eliminated_by_descent(self.model);
        self.min_latents(p, &latents)?;
        let outputs: Vec<VarId> = self.model.vars_of(Role::Output).map(|(id, _)| id).collect();
        let real = outputs.iter().any(|o| !self.model.var(*o).ty.is_discrete());
        let needs_neg = loss.kind.needs_negative() || loss.kind == LossKind::Perceptron;
        if !(real && needs_neg) {
            return Ok(());
        }
        let label: Vec<Vec<f64>> = outputs
            .iter()
            .map(|o| p.values[o.0 as usize].clone())
            .collect();
        let mut q = p.clone();
        match (&loss.negatives, loss.kind) {
            (_, LossKind::Perceptron) => {
                self.infer(&mut q, rng)?;
            }
            (
                Some(Negatives::Descent {
                    steps,
                    rate,
                    radius,
                }),
                _,
            ) => {
                let d = Descent {
                    steps: *steps,
                    rate: *rate,
                    init: Init::Normal {
                        mean: 0.0,
                        std: 1.0,
                    },
                    tol: 0.0,
                };
                let (outs, radius) = (outputs.clone(), *radius);
                let project = move |q: &mut Point| keep_away(q, &outs, &label, radius);
                self.descend(
                    &mut q,
                    &outputs,
                    &d,
                    rng,
                    Some(&project),
                    "negatives descent",
                )?;
            }
            (Some(Negatives::Shuffle), _) => {
                let mut best: Option<(f64, usize)> = None;
                for (j, other) in batch.iter().enumerate() {
                    if *other == label {
                        continue;
                    }
                    for (o, v) in outputs.iter().zip(other) {
                        q.values[o.0 as usize].clone_from(v);
                    }
                    let e = self.energy(&mut q)?;
                    if best.is_none_or(|(b, _)| e < b) {
                        best = Some((e, j));
                    }
                }
                match best {
                    Some((_, j)) => {
                        for (o, v) in outputs.iter().zip(&batch[j]) {
                            q.values[o.0 as usize].clone_from(v);
                        }
                        self.min_latents(&mut q, &latents)?;
                    }
                    None => {
                        // No other answer in the batch: a random one, as descent would start.
                        for o in &outputs {
                            q.values[o.0 as usize]
                                .iter_mut()
                                .for_each(|x| *x = rng.normal());
                        }
                        self.min_latents(&mut q, &latents)?;
                    }
                }
            }
            (None, _) => unreachable!("the checker requires negatives for real outputs"),
        }
        // The latents at ȳ: eliminated as at the label.
        self.min_latents(&mut q, &latents)?;
        for (i, v) in self.model.vars.iter().enumerate() {
            if matches!(v.role, Role::Output | Role::Latent) && !v.ty.is_discrete() {
                p.negs[i].clone_from(&q.values[i]);
            }
        }
        Ok(())
    }
}

/// Every real latent eliminated by descent: the energy a loss uses is `min_z E`, whether or not
/// inference names the latent.
fn eliminated_by_descent(model: &Model) -> Vec<VarId> {
    model
        .vars
        .iter()
        .enumerate()
        .filter(|(_, v)| matches!(v.elim, Some(Elim::MinDescent(_))))
        .map(|(i, _)| VarId(i as u32))
        .collect()
}

/// Sets a variable's values from an init: a constant or a distribution.
fn init_values(values: &mut [f64], init: &Init, rng: &mut Rng) {
    match init {
        Init::Values(v) => {
            for (i, x) in values.iter_mut().enumerate() {
                *x = if v.len() == 1 {
                    v[0]
                } else {
                    v.get(i).copied().unwrap_or(0.0)
                };
            }
        }
        Init::Normal { mean, std } => values
            .iter_mut()
            .for_each(|x| *x = mean + std * rng.normal()),
        Init::Uniform { lo, hi } => values
            .iter_mut()
            .for_each(|x| *x = rng.uniform_in(*lo, *hi)),
        Init::Glorot => {
            let a = (6.0 / (values.len() as f64 + 1.0)).sqrt();
            values.iter_mut().for_each(|x| *x = rng.uniform_in(-a, a));
        }
    }
}

/// Projects the outputs of `q` to at least `radius` from `label` (all outputs together).
fn keep_away(q: &mut Point, outputs: &[VarId], label: &[Vec<f64>], radius: f64) {
    let mut d2 = 0.0;
    for (o, l) in outputs.iter().zip(label) {
        d2 += q.values[o.0 as usize]
            .iter()
            .zip(l)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
    }
    let d = d2.sqrt();
    if d >= radius {
        return;
    }
    for (o, l) in outputs.iter().zip(label) {
        for (x, y) in q.values[o.0 as usize].iter_mut().zip(l) {
            // At the label itself, step along +1 in every coordinate.
            let dir = if d > 0.0 {
                (*x - y) / d
            } else {
                1.0 / (d2.max(1.0)).sqrt()
            };
            *x = y + radius * dir;
        }
    }
}

fn answer_count(ty: &Ty) -> usize {
    match ty {
        Ty::Class(k) => *k,
        Ty::Sign => 2,
        Ty::Real(_) => 1,
    }
}

/// Writes answer number `k` (row-major over `vars` in order; a sign's −1 first) into `p`.
fn decode(model: &Model, vars: &[VarId], mut k: usize, p: &mut Point) {
    for v in vars.iter().rev() {
        let ty = &model.var(*v).ty;
        let n = answer_count(ty);
        let i = k % n;
        k /= n;
        p.values[v.0 as usize] = vec![match ty {
            Ty::Sign => {
                if i == 0 {
                    -1.0
                } else {
                    1.0
                }
            }
            _ => i as f64,
        }];
    }
}

/// Index and value of the smallest entry (the first on ties; NaN never wins).
fn argmin(xs: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (i, &x) in xs.iter().enumerate() {
        if x < best.1 {
            best = (i, x);
        }
    }
    if best.1 == f64::INFINITY && !xs.is_empty() {
        best = (0, xs[0]);
    }
    best
}
