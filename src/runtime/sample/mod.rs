//! Sampling the Gibbs distribution `P(y|x) ∝ exp(−β E(x, y))` (spec section 13): many chains
//! at once.
//!
//! [`Chains`] is the one way the runtime draws samples — `infer … by langevin | hmc | gibbs`
//! in `ebmc run`, `ebmc sample`, and a loss's `negatives` (ȳ drawn from the model). A call of
//! [`Chains::run`] moves `n` chains, each with its own inputs ([`Given`]), from a start
//! ([`Start`]) for the sampler's steps, and leaves the last state of every chain in a flat
//! buffer, `n` rows of [`Chains::width`] values (the sampled variables in the order named,
//! each row-major).
//!
//! * `langevin` and `hmc` move real variables along `∇_y E`. When the model has a
//!   [`Entry::SampleStep`] (the inference gradient batched over [`CHAINS`] chains,
//!   [`crate::ir::batch_rows`]), chains move by blocks of [`CHAINS`]: one call per step
//!   computes every chain's energy and gradient as matrix–matrix products, from stage values
//!   prepared once per chain ([`Entry::InferPrepare`]) when inference stages. The params are
//!   copied into the kernel once per version, and a step allocates nothing. Without that
//!   entry, chains move one at a time on the session's inference kernels: the same
//!   mathematics, slower.
//! * `gibbs` redraws each coordinate of discrete variables from its exact conditional
//!   ([`gibbs`]).
//!
//! Determinism: chain `k` draws from its own generator, seeded from one number drawn from the
//! caller's [`Rng`] and `k`, so a chain's path does not depend on how chains are blocked, on
//! `n`, or on the backend's batching.
//!
//! Invariants: `state.len() == n · width`; a chain whose values or energy become non-finite
//! is an error naming the sampler, the step and the rate, never a sample.

pub mod command;
mod gibbs;

use super::session::{Params, Point, RunError, Session};
use crate::check::{Init, Model, Sampler, VarId};
use crate::compile::{Compiled, Entry, Input, Kernel, Output, CHAINS};
use crate::rng::{self, Rng};
use crate::types::{Shape, Ty};
use std::sync::Arc;

/// Mixed into the seed of a run's generator by `ebmc sample` (and the Python package's
/// `sample`, which draws the same chains for the same seed): sampling draws apart from
/// training's stream of the same seed.
pub const SEED_SALT: u64 = 0x5a3b_1e00;

/// Where each chain's inputs (and any variable the sampler does not move) come from.
#[derive(Clone, Copy, Debug)]
pub enum Given<'a> {
    /// Every chain at the same point: `--at`, or a model without inputs.
    Same(&'a Point),
    /// Chain `k` at `points[k]`: one chain per example.
    Each(&'a [Point]),
}

impl<'a> Given<'a> {
    fn point(&self, k: usize) -> &'a Point {
        match *self {
            Given::Same(p) => p,
            Given::Each(ps) => &ps[k],
        }
    }

    fn same(&self) -> bool {
        matches!(self, Given::Same(_))
    }
}

/// Where chains start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From the sampler's `init` (`normal(0, 1)` by default; uniform for `gibbs`).
    Init,
    /// From the values already in the state buffer (CD-k starts at the data, a persistent
    /// chain where it stopped).
    State,
}

/// What a run of the chains reports beside their states.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Metropolis proposals and acceptances (`hmc`; zero otherwise).
    pub proposals: u64,
    pub accepted: u64,
    /// The energy of every chain's last state.
    pub energies: Vec<f64>,
}

impl Stats {
    /// The fraction of `hmc` proposals accepted; `None` for a sampler without proposals.
    pub fn acceptance(&self) -> Option<f64> {
        (self.proposals > 0).then(|| self.accepted as f64 / self.proposals as f64)
    }
}

/// The chains of one model's sampler: the variables drawn, and the kernels that move them.
pub struct Chains {
    code: Arc<Compiled>,
    /// The sampled variables: `(var, offset in a row of the state, elements)`.
    vars: Vec<(VarId, usize, usize)>,
    width: usize,
    /// The batched step, when the model has one.
    batched: Option<Batched>,
    /// `langevin`/`hmc` on `β_t E(y) + (1 − β_t) ½‖y‖²` instead of `E` (annealed importance
    /// sampling from `N(0, I)`, [`Chains::anneal`]).
    anneal: Option<f64>,
}

/// [`Entry::SampleStep`] bound: where each of its input ports comes from.
struct Batched {
    step: Kernel,
    /// [`Entry::InferPrepare`], when the step reads stage values.
    prepare: Option<Kernel>,
    /// Per input port of `step`.
    sources: Vec<Source>,
    /// Output ports of `step`: the energies, and per sampled variable its gradient.
    energy: usize,
    grads: Vec<usize>,
    /// Per input port of `prepare`: a param (its offset in the params) or a variable.
    prepare_sources: Vec<Source>,
    /// Per stage value: `(output port in prepare, input port in step)`.
    links: Vec<(usize, usize)>,
    /// The params version in `step`'s and `prepare`'s buffers.
    loaded: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Param(usize, usize),
    /// A sampled variable: its index in [`Chains::vars`].
    Sampled(usize),
    /// A variable read from each chain's [`Given`] point.
    Given(usize),
    Stage,
}

impl Chains {
    /// The chains of `session`'s model drawing `vars` (real outputs and latents for
    /// `langevin`/`hmc`, discrete ones for `gibbs`).
    pub fn new(session: &Session, vars: &[VarId]) -> Result<Chains, RunError> {
        let code = Arc::clone(&session.code);
        let model = &code.model;
        let mut layout = Vec::with_capacity(vars.len());
        let mut width = 0;
        for &v in vars {
            let n = model.var(v).ty.elements();
            layout.push((v, width, n));
            width += n;
        }
        let batched = match code.kernel(Entry::SampleStep) {
            Some(step) => Some(Batched::new(&code, step, &layout, &session.param_slices)?),
            None => None,
        };
        Ok(Chains {
            code,
            vars: layout,
            width,
            batched,
            anneal: None,
        })
    }

    /// The chains that draw what the model's `infer` samples, with that sampler; `None` when
    /// the model's inference does not sample.
    pub fn of_model(session: &Session) -> Result<Option<(Chains, Sampler)>, RunError> {
        let Some((vars, sampler)) = model_sampler(session.model()) else {
            return Ok(None);
        };
        Ok(Some((Chains::new(session, &vars)?, sampler)))
    }

    /// Values per chain: the sampled variables' elements, in order.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The sampled variables with their offsets and lengths in a row of the state.
    pub fn layout(&self) -> &[(VarId, usize, usize)] {
        &self.vars
    }

    /// For `gibbs`: the log of the number of states a chain moves through — its variables'
    /// and the closed-form latents it samples alongside — and whether its energies are the
    /// raw energy of those states (else the free energy of its variables). What annealed
    /// importance sampling starts from: the uniform distribution over those states.
    pub fn gibbs_states(&self) -> (f64, bool) {
        let model = &self.code.model;
        let (raw, aux) = gibbs::alongside(self);
        let log_count = |v: VarId, n: usize| {
            let per = match &model.var(v).ty {
                Ty::Class(k) => *k as f64,
                _ => 2.0,
            };
            n as f64 * per.ln()
        };
        let total = self
            .vars
            .iter()
            .map(|&(v, _, n)| log_count(v, n))
            .sum::<f64>()
            + aux.iter().map(|&(v, n)| log_count(v, n)).sum::<f64>();
        (total, raw && !aux.is_empty())
    }

    /// Makes `langevin` and `hmc` move on the geometric path between `N(0, I)` and the model,
    /// `E_t(y) = β_t E(y) + (1 − β_t) ½‖y‖²`, at `β_t = t` (`None`: on `E` itself).
    pub fn anneal(&mut self, t: Option<f64>) {
        self.anneal = t;
    }

    /// Whether the chains move by blocks through the batched step kernel.
    pub fn is_batched(&self) -> bool {
        self.batched.is_some()
    }

    /// Moves `state.len() / width` chains with `sampler` on `session`'s params, chain `k` at
    /// `given.point(k)`, from `start`; leaves every chain's last state in `state`.
    pub fn run(
        &mut self,
        session: &mut Session,
        sampler: &Sampler,
        given: Given,
        state: &mut [f64],
        start: Start,
        rng: &mut Rng,
    ) -> Result<Stats, RunError> {
        let n = state.len() / self.width.max(1);
        if let Given::Each(ps) = given {
            if ps.len() != n {
                return Err(RunError::Compile(format!(
                    "{} chains but {} points",
                    n,
                    ps.len()
                )));
            }
        }
        let base = rng.next_u64();
        let mut rngs: Vec<Rng> = (0..n).map(|k| chain_rng(base, k)).collect();
        if start == Start::Init {
            self.init(sampler, state, &mut rngs)?;
        }
        let mut stats = Stats {
            energies: vec![0.0; n],
            ..Stats::default()
        };
        if let Sampler::Gibbs {
            sweeps,
            beta,
            blocks,
        } = sampler
        {
            gibbs::run(
                self, session, *sweeps, *beta, blocks, given, state, &mut rngs, &mut stats,
            )?;
            return Ok(stats);
        }
        let rows = if self.batched.is_some() { CHAINS } else { 1 };
        let mut work = Work::new(rows, self.width);
        for first in (0..n).step_by(rows) {
            let count = rows.min(n - first);
            let block = &mut state[first * self.width..(first + count) * self.width];
            let mut eval = Evaluator {
                chains: self,
                session,
                given,
                first,
                count,
            };
            eval.prepare()?;
            let rngs = &mut rngs[first..first + count];
            match *sampler {
                Sampler::Langevin {
                    steps, rate, beta, ..
                } => langevin(&mut eval, &mut work, block, rngs, steps, rate, beta)?,
                Sampler::Hmc {
                    steps,
                    leapfrog,
                    rate,
                    beta,
                    ..
                } => hmc(
                    &mut eval, &mut work, block, rngs, steps, leapfrog, rate, beta, &mut stats,
                )?,
                Sampler::Gibbs { .. } => unreachable!("handled above"),
            }
            stats.energies[first..first + count].copy_from_slice(&work.e[..count]);
        }
        Ok(stats)
    }

    /// Every chain's start from the sampler's `init`, each from its own generator.
    fn init(&self, sampler: &Sampler, state: &mut [f64], rngs: &mut [Rng]) -> Result<(), RunError> {
        let model = &self.code.model;
        for (row, rng) in state.chunks_mut(self.width.max(1)).zip(rngs) {
            for &(v, o, len) in &self.vars {
                let slot = &mut row[o..o + len];
                match (sampler, &model.var(v).ty) {
                    (Sampler::Langevin { init, .. } | Sampler::Hmc { init, .. }, ty) => {
                        init_values(init, ty, rng, slot)?
                    }
                    (Sampler::Gibbs { .. }, ty) => slot
                        .iter_mut()
                        .for_each(|x| *x = gibbs::uniform_value(ty, rng)),
                }
            }
        }
        Ok(())
    }
}

/// The variables and sampler of the model's sampling `infer` group, if it has one.
pub fn model_sampler(model: &Model) -> Option<(Vec<VarId>, Sampler)> {
    model.infer.iter().find_map(|g| match &g.method {
        crate::check::InferMethod::Sample(s) => Some((g.vars.clone(), s.clone())),
        _ => None,
    })
}

/// Chain `k`'s generator for one run: a function of the run's base seed and `k` only.
fn chain_rng(base: u64, k: usize) -> Rng {
    let mut s = base ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    Rng::new(rng::splitmix64(&mut s))
}

fn init_values(init: &Init, ty: &Ty, rng: &mut Rng, out: &mut [f64]) -> Result<(), RunError> {
    let shape = match ty {
        Ty::Real(s) => s.clone(),
        _ => Shape::default(),
    };
    rng::init_into(init, &shape, rng, out).map_err(|e| RunError::User(e.to_string()))
}

impl Batched {
    fn new(
        code: &Arc<Compiled>,
        step: Kernel,
        layout: &[(VarId, usize, usize)],
        params: &[Option<(usize, usize)>],
    ) -> Result<Batched, RunError> {
        let source = |what: &Input| match *what {
            Input::Value(v) => match params[v.0 as usize] {
                Some((o, l)) => Source::Param(o, l),
                None => match layout.iter().position(|l| l.0 == v) {
                    Some(i) => Source::Sampled(i),
                    None => Source::Given(v.0 as usize),
                },
            },
            Input::Negative(v) => Source::Given(v.0 as usize),
            Input::Stage(_) => Source::Stage,
        };
        let e = step.entry();
        let sources: Vec<Source> = e.inputs.iter().map(|p| source(&p.what)).collect();
        let energy = e
            .outputs
            .iter()
            .position(|p| p.what == Output::Energy)
            .ok_or_else(|| RunError::Compile("`sample_step` has no energy".into()))?;
        let mut grads = Vec::with_capacity(layout.len());
        for &(v, _, _) in layout {
            let k = e.outputs.iter().position(|p| p.what == Output::Grad(v));
            grads.push(k.ok_or_else(|| {
                RunError::Compile(format!(
                    "`sample_step` has no gradient for `{}`",
                    code.model.var(v).name
                ))
            })?);
        }
        let stages: Vec<(usize, usize)> = e
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p.what {
                Input::Stage(k) => Some((k, i)),
                _ => None,
            })
            .collect();
        let (prepare, prepare_sources, links) = if stages.is_empty() {
            (None, Vec::new(), Vec::new())
        } else {
            let prepare = code
                .kernel(Entry::InferPrepare)
                .ok_or_else(|| RunError::Compile("stage values without a prepare".into()))?;
            let pe = prepare.entry();
            let ps = pe.inputs.iter().map(|p| source(&p.what)).collect();
            let mut links = Vec::with_capacity(stages.len());
            for (k, i) in stages {
                let o = pe
                    .outputs
                    .iter()
                    .position(|p| p.what == Output::Stage(k))
                    .ok_or_else(|| RunError::Compile(format!("no stage value {k}")))?;
                links.push((o, i));
            }
            (Some(prepare), ps, links)
        };
        Ok(Batched {
            step,
            prepare,
            sources,
            energy,
            grads,
            prepare_sources,
            links,
            loaded: None,
        })
    }
}

/// The buffers of one block of chains, allocated once per run.
struct Work {
    g: Vec<f64>,
    e: Vec<f64>,
    /// HMC: the state, gradient and energy where a proposal started, and the momenta.
    y0: Vec<f64>,
    g0: Vec<f64>,
    e0: Vec<f64>,
    p: Vec<f64>,
}

impl Work {
    fn new(rows: usize, width: usize) -> Work {
        Work {
            g: vec![0.0; rows * width],
            e: vec![0.0; rows],
            y0: vec![0.0; rows * width],
            g0: vec![0.0; rows * width],
            e0: vec![0.0; rows],
            p: vec![0.0; rows * width],
        }
    }
}

/// The energy and gradient of one block of chains.
struct Evaluator<'c, 's, 'g> {
    chains: &'c mut Chains,
    session: &'s mut Session,
    given: Given<'g>,
    /// The block: chains `first..first + count`.
    first: usize,
    count: usize,
}

impl Evaluator<'_, '_, '_> {
    /// Writes what stays fixed while the block moves: params (when they changed), the given
    /// values of each chain, and each chain's stage values.
    fn prepare(&mut self) -> Result<(), RunError> {
        let Some(b) = &mut self.chains.batched else {
            return Ok(());
        };
        let params: &Params = &self.session.params;
        let fresh = b.loaded == Some(params.version());
        b.step.ready()?;
        for (k, src) in b.sources.iter().enumerate() {
            match *src {
                Source::Param(o, l) if !fresh => {
                    b.step.input_mut(k).copy_from_slice(&params[o..o + l]);
                }
                Source::Given(i) => {
                    let dst = b.step.input_mut(k);
                    let w = dst.len() / CHAINS;
                    for r in 0..CHAINS {
                        // Rows past the last chain repeat it: finite values, results unread.
                        let c = self.first + r.min(self.count - 1);
                        copy_checked(&mut dst[r * w..(r + 1) * w], &self.given.point(c).values[i])?;
                    }
                }
                _ => {}
            }
        }
        if let Some(prepare) = &mut b.prepare {
            prepare.ready()?;
            for (k, src) in b.prepare_sources.iter().enumerate() {
                if let Source::Param(o, l) = *src {
                    if !fresh {
                        prepare.input_mut(k).copy_from_slice(&params[o..o + l]);
                    }
                }
            }
            let mut done = false;
            for r in 0..CHAINS {
                let c = self.first + r.min(self.count - 1);
                // Chains at one point share their stage values: prepared once.
                if !(done && self.given.same()) && r < self.count {
                    let p = self.given.point(c);
                    for (k, src) in b.prepare_sources.iter().enumerate() {
                        if let Source::Given(i) | Source::Sampled(i) = *src {
                            let values = match *src {
                                Source::Sampled(j) => {
                                    let v = self.chains.vars[j].0;
                                    &p.values[v.0 as usize]
                                }
                                _ => &p.values[i],
                            };
                            copy_checked(prepare.input_mut(k), values)?;
                        }
                    }
                    prepare.call()?;
                    done = true;
                }
                for &(o, i) in &b.links {
                    let w = prepare.output(o).len();
                    let src = prepare.output(o);
                    b.step.input_mut(i)[r * w..(r + 1) * w].copy_from_slice(src);
                }
            }
        }
        b.loaded = Some(params.version());
        Ok(())
    }

    /// Energies `e` and gradients `g` of the block's chains at `y` (rows of the state).
    fn eval(&mut self, y: &[f64], e: &mut [f64], g: &mut [f64]) -> Result<(), RunError> {
        let width = self.chains.width;
        match &mut self.chains.batched {
            Some(b) => {
                for (k, src) in b.sources.iter().enumerate() {
                    if let Source::Sampled(j) = *src {
                        let (_, o, len) = self.chains.vars[j];
                        let dst = b.step.input_mut(k);
                        for r in 0..self.count {
                            dst[r * len..(r + 1) * len]
                                .copy_from_slice(&y[r * width + o..r * width + o + len]);
                        }
                    }
                }
                b.step.call()?;
                e[..self.count].copy_from_slice(&b.step.output(b.energy)[..self.count]);
                for (j, &port) in b.grads.iter().enumerate() {
                    let (_, o, len) = self.chains.vars[j];
                    let src = b.step.output(port);
                    for r in 0..self.count {
                        g[r * width + o..r * width + o + len]
                            .copy_from_slice(&src[r * len..(r + 1) * len]);
                    }
                }
            }
            None => {
                // One chain: the session's inference kernels on a point.
                let mut p = self.given.point(self.first).clone();
                for &(v, o, len) in &self.chains.vars {
                    p.values[v.0 as usize].clear();
                    p.values[v.0 as usize].extend_from_slice(&y[o..o + len]);
                }
                self.session.energy.call(&self.session.params, &p)?;
                e[0] = self.session.energy.scalar();
                for &(v, o, len) in &self.chains.vars {
                    let gv = self.session.energy.grad(v);
                    if gv.len() != len {
                        return Err(RunError::Compile(format!(
                            "no gradient for `{}`",
                            self.chains.code.model.var(v).name
                        )));
                    }
                    g[o..o + len].copy_from_slice(gv);
                }
            }
        }
        if let Some(t) = self.chains.anneal {
            for r in 0..self.count {
                let yr = &y[r * width..(r + 1) * width];
                let q = 0.5 * yr.iter().map(|x| x * x).sum::<f64>();
                e[r] = t * e[r] + (1.0 - t) * q;
                for (gi, yi) in g[r * width..(r + 1) * width].iter_mut().zip(yr) {
                    *gi = t * *gi + (1.0 - t) * yi;
                }
            }
        }
        Ok(())
    }

    /// An error naming the sampler when a chain's values or energy are not finite.
    fn check(
        &self,
        y: &[f64],
        e: &[f64],
        what: &str,
        step: usize,
        steps: usize,
        rate: f64,
    ) -> Result<(), RunError> {
        if e[..self.count].iter().all(|x| x.is_finite()) && y.iter().all(|x| x.is_finite()) {
            return Ok(());
        }
        let names: Vec<String> = self
            .chains
            .vars
            .iter()
            .map(|(v, _, _)| format!("`{}`", self.chains.code.model.var(*v).name))
            .collect();
        Err(RunError::User(format!(
            "{what} on {} diverged at step {step} of {steps}: a chain's values or energy became infinite or NaN; lower its rate ({rate}) or start closer (init)",
            names.join(", ")
        )))
    }
}

fn copy_checked(dst: &mut [f64], src: &[f64]) -> Result<(), RunError> {
    if dst.len() != src.len() {
        return Err(RunError::Compile(format!(
            "a chain's input has {} values, expected {}",
            src.len(),
            dst.len()
        )));
    }
    dst.copy_from_slice(src);
    Ok(())
}

/// Unadjusted Langevin on one block: `y ← y − rate · ∇E + sqrt(2 · rate / β) · ε`.
fn langevin(
    eval: &mut Evaluator,
    w: &mut Work,
    y: &mut [f64],
    rngs: &mut [Rng],
    steps: usize,
    rate: f64,
    beta: f64,
) -> Result<(), RunError> {
    let width = eval.chains.width;
    let noise = (2.0 * rate / beta).sqrt();
    for step in 1..=steps {
        eval.eval(y, &mut w.e, &mut w.g)?;
        for ((row, g), rng) in y
            .chunks_exact_mut(width)
            .zip(w.g.chunks_exact(width))
            .zip(rngs.iter_mut())
        {
            for (yi, gi) in row.iter_mut().zip(g) {
                *yi += noise * rng.normal() - rate * gi;
            }
        }
        if step % 16 == 0 || step == steps {
            eval.check(y, &w.e, "langevin", step, steps, rate)?;
        }
    }
    eval.eval(y, &mut w.e, &mut w.g)?;
    eval.check(y, &w.e, "langevin", steps, steps, rate)
}

/// Hamiltonian Monte Carlo on one block: unit mass, `leapfrog` steps of size `rate` on the
/// potential `β E`, then a Metropolis test per chain; a rejected chain stays where it was.
#[allow(clippy::too_many_arguments)]
fn hmc(
    eval: &mut Evaluator,
    w: &mut Work,
    y: &mut [f64],
    rngs: &mut [Rng],
    steps: usize,
    leapfrog: usize,
    rate: f64,
    beta: f64,
    stats: &mut Stats,
) -> Result<(), RunError> {
    let width = eval.chains.width;
    let n = eval.count;
    let len = n * width;
    eval.eval(y, &mut w.e0, &mut w.g0)?;
    eval.check(y, &w.e0, "hmc", 0, steps, rate)?;
    for _ in 0..steps {
        w.y0[..len].copy_from_slice(y);
        for (p, rng) in w.p[..len].chunks_exact_mut(width).zip(rngs.iter_mut()) {
            p.iter_mut().for_each(|x| *x = rng.normal());
        }
        // Kinetic energy at the start, per chain, kept in `e` until the end.
        for r in 0..n {
            w.e[r] = 0.5 * sqnorm(&w.p[r * width..(r + 1) * width]);
        }
        let half = 0.5 * rate * beta;
        for (p, g) in w.p[..len].iter_mut().zip(&w.g0[..len]) {
            *p -= half * g;
        }
        let mut kinetic0 = [0.0; CHAINS];
        kinetic0[..n].copy_from_slice(&w.e[..n]);
        for l in 0..leapfrog {
            for (yi, p) in y.iter_mut().zip(&w.p[..len]) {
                *yi += rate * p;
            }
            eval.eval(y, &mut w.e, &mut w.g)?;
            let k = if l + 1 < leapfrog { rate * beta } else { half };
            for (p, g) in w.p[..len].iter_mut().zip(&w.g[..len]) {
                *p -= k * g;
            }
        }
        for r in 0..n {
            let h0 = beta * w.e0[r] + kinetic0[r];
            let h1 = beta * w.e[r] + 0.5 * sqnorm(&w.p[r * width..(r + 1) * width]);
            let u = rngs[r].uniform();
            let finite =
                h1.is_finite() && y[r * width..(r + 1) * width].iter().all(|x| x.is_finite());
            stats.proposals += 1;
            // `u < exp(h0 − h1)`, written so that a NaN rejects.
            if finite && u.ln() < h0 - h1 {
                stats.accepted += 1;
                w.e0[r] = w.e[r];
                w.g0[r * width..(r + 1) * width].copy_from_slice(&w.g[r * width..(r + 1) * width]);
            } else {
                y[r * width..(r + 1) * width].copy_from_slice(&w.y0[r * width..(r + 1) * width]);
            }
        }
    }
    w.e[..n].copy_from_slice(&w.e0[..n]);
    Ok(())
}

fn sqnorm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// The sampled variables' values of one chain's row of a state, written into `p`.
pub fn write_values(chains: &Chains, row: &[f64], p: &mut Point) {
    for &(v, o, len) in &chains.vars {
        p.values[v.0 as usize].clear();
        p.values[v.0 as usize].extend_from_slice(&row[o..o + len]);
    }
}
