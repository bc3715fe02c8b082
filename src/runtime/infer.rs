//! Inference on a [`Session`] (spec sections 3 and 7): what the IR leaves to the runtime.
//!
//! * real latents eliminated by `min by descent(…)` are minimised for every evaluation that
//!   needs the free energy (inner descent, warm-started at the latent's init);
//! * `infer … by descent` runs gradient descent on its variables until its steps run out or
//!   the gradient's norm falls below `tol`; a value that becomes non-finite is an error, and
//!   so is a descent that ends no lower than it started (it oscillates: the rate is too large);
//! * `infer … by enumerate` picks the lowest-energy combination of discrete values, in one
//!   call of the answers kernel when every output is enumerated at once.

use super::data::Dataset;
use super::session::{Energy, Params, Point, RunError, Session};
use crate::check::{Descent, Elim, Infer, InferMethod, Init, LossKind, Model, Role, VarId};
use crate::rng::{self, Rng};
use crate::types::Shape;
use crate::types::Ty;

/// How often (in steps) a long descent is checked for progress, so that an oscillating one
/// stops early instead of running out its steps.
const STALL_CHECK: usize = 1000;

/// Real latents eliminated by descent and not named in an `infer` group: minimised inside
/// every evaluation of the free energy.
pub(super) fn inner_latents(model: &Model) -> Vec<VarId> {
    let named: Vec<VarId> = model
        .infer
        .iter()
        .flat_map(|g| g.vars.iter().copied())
        .collect();
    eliminated_by_descent(model)
        .into_iter()
        .filter(|v| !named.contains(v))
        .collect()
}

/// Every real latent eliminated by descent: the energy a loss uses is `min_z E`, whether or not
/// inference names the latent.
pub(super) fn eliminated_by_descent(model: &Model) -> Vec<VarId> {
    model
        .vars
        .iter()
        .enumerate()
        .filter(|(_, v)| matches!(v.elim, Some(Elim::MinDescent(_))))
        .map(|(i, _)| VarId(i as u32))
        .collect()
}

/// Sets a variable's values from an init (a constant or a distribution), with the one
/// initialiser params use ([`rng::init_into`]), in place.
fn init_var(
    model: &Model,
    v: VarId,
    values: &mut [f64],
    init: &Init,
    rng: &mut Rng,
) -> Result<(), RunError> {
    let shape = match &model.var(v).ty {
        Ty::Real(shape) => shape,
        _ => &Shape::default(),
    };
    rng::init_into(init, shape, rng, values).map_err(|e| RunError::User(e.to_string()))
}

/// The descent eliminating a latent.
fn descent_of(model: &Model, v: VarId) -> &Descent {
    match &model.var(v).elim {
        Some(Elim::MinDescent(d)) => d,
        _ => unreachable!("only latents eliminated by descent are minimised"),
    }
}

/// Minimises the real latents `vars` of `p` by descent on `energy`, each from its init, all
/// together for the largest of their step counts or until the gradient's norm is below the
/// smallest of their `tol`s.
fn min_latents(
    energy: &mut Energy,
    params: &Params,
    model: &Model,
    p: &mut Point,
    vars: &[VarId],
) -> Result<(), RunError> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut rng = Rng::new(0x1a7e_u64);
    for &v in vars {
        let d = descent_of(model, v);
        init_var(model, v, &mut p.values[v.0 as usize], &d.init, &mut rng)?;
    }
    let steps = vars.iter().map(|&v| descent_of(model, v).steps).max();
    let tol = vars
        .iter()
        .map(|&v| descent_of(model, v).tol)
        .fold(f64::INFINITY, f64::min);
    for _ in 0..steps.unwrap_or(0) {
        energy.call(params, p)?;
        let mut norm = 0.0;
        for &v in vars {
            let rate = descent_of(model, v).rate;
            let g = energy.grad(v);
            norm += g.iter().map(|x| x * x).sum::<f64>();
            for (x, gi) in p.values[v.0 as usize].iter_mut().zip(g) {
                *x -= rate * gi;
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

impl Session {
    /// Minimises the inner latents by descent, each from its init.
    pub(super) fn min_inner(&mut self, p: &mut Point) -> Result<(), RunError> {
        let model = &self.code.model;
        min_latents(&mut self.energy, &self.params, model, p, &self.inner)
    }

    /// Minimises every latent eliminated by descent (the energy a loss uses is `min_z E`).
    pub(super) fn min_descended(&mut self, p: &mut Point) -> Result<(), RunError> {
        let model = &self.code.model;
        min_latents(&mut self.energy, &self.params, model, p, &self.descended)
    }

    /// Gradient descent on `vars` (real outputs and latents) from `d.init`, until `d.steps`
    /// steps or a gradient whose norm is below `d.tol`; returns the energy. A value that
    /// becomes infinite or NaN is an error naming `what`, the step and the rate.
    /// `project`, when given, maps each iterate back onto the allowed set.
    pub(super) fn descend(
        &mut self,
        p: &mut Point,
        vars: &[VarId],
        d: &Descent,
        rng: &mut Rng,
        project: Option<&dyn Fn(&mut Point)>,
        what: &str,
    ) -> Result<f64, RunError> {
        for v in vars {
            init_var(
                &self.code.model,
                *v,
                &mut p.values[v.0 as usize],
                &d.init,
                rng,
            )?;
        }
        if let Some(f) = project {
            f(p);
        }
        let record = self.path.is_some() && project.is_none();
        if record {
            self.path.get_or_insert_with(Vec::new).push(p.clone());
        }
        // The energy where the descent started and the decrease its first step promised
        // (rate × |∇E|²), to tell a descent that goes nowhere (below).
        let mut start: Option<(f64, f64)> = None;
        for step in 1..=d.steps {
            self.min_inner(p)?;
            self.energy.call(&self.params, p)?;
            let energy = self.energy.scalar();
            if step > 1 && step % STALL_CHECK == 0 {
                self.check_progress(vars, d, start, energy, step, what, project.is_some())?;
            }
            let mut norm = 0.0;
            for v in vars {
                let g = self.energy.grad(*v);
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
                    .map(|v| format!("`{}`", self.code.model.var(*v).name))
                    .collect();
                return Err(RunError::User(format!(
                    "{what} on {} diverged at step {step} of {}: the values became infinite or NaN; lower its rate ({}) or start closer (init)",
                    names.join(", "),
                    d.steps,
                    d.rate
                )));
            }
            start.get_or_insert((energy, d.rate * norm));
            if let Some(f) = project {
                f(p);
            }
            if record {
                self.path.get_or_insert_with(Vec::new).push(p.clone());
            }
            if norm.sqrt() < d.tol {
                return self.energy(p);
            }
        }
        let energy = self.energy(p)?;
        self.check_progress(vars, d, start, energy, d.steps, what, project.is_some())?;
        Ok(energy)
    }

    /// A descent whose energy after `step` steps is no lower than where it started, although
    /// its first step promised a decrease, is going nowhere: the steps overshoot a valley and
    /// come back (`y^2` at rate 1 flips y forever, at the same energy). That is an error, not
    /// an answer: the last iterate of an oscillation is no minimum. A projected descent (a
    /// loss's negatives, kept away from the correct answer) may rise legitimately and is not
    /// judged.
    #[allow(clippy::too_many_arguments)]
    fn check_progress(
        &self,
        vars: &[VarId],
        d: &Descent,
        start: Option<(f64, f64)>,
        energy: f64,
        step: usize,
        what: &str,
        projected: bool,
    ) -> Result<(), RunError> {
        let Some((first, promised)) = start else {
            return Ok(());
        };
        // A promise within rounding of the energy is no promise: near a minimum (or on a
        // plateau) the energy may not move at all.
        let noticeable = promised > 1e-9 * (first.abs() + 1.0);
        if projected || !noticeable || energy < first {
            return Ok(());
        }
        let names: Vec<String> = vars
            .iter()
            .map(|v| format!("`{}`", self.code.model.var(*v).name))
            .collect();
        Err(RunError::User(format!(
            "{what} on {} made no progress: after {step} of {} steps the energy ({energy}) is no lower than at the start ({first}); the steps overshoot and oscillate: lower its rate ({})",
            names.join(", "),
            d.steps,
            d.rate
        )))
    }

    /// Every combination of values of the discrete variables `vars`, lowest energy kept.
    fn enumerate(&mut self, p: &mut Point, vars: &[VarId]) -> Result<f64, RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let model = &code.model;
        let all_outputs_discrete = model.vars_of(Role::Output).all(|(_, v)| v.ty.is_discrete());
        let all_outputs = vars
            .iter()
            .copied()
            .eq(model.vars_of(Role::Output).map(|(id, _)| id));
        if let (Some(answers), true, true) = (
            &mut self.answers,
            self.inner.is_empty(),
            all_outputs_discrete && all_outputs,
        ) {
            answers.call(&self.params, p)?;
            let (best, e) = argmin(answers.values());
            decode(model, vars, best, p);
            return Ok(e);
        }
        let count: usize = vars
            .iter()
            .map(|v| answer_count(&model.var(*v).ty))
            .product();
        let (mut best, mut best_e) = (0, f64::INFINITY);
        for k in 0..count {
            decode(model, vars, k, p);
            let e = self.energy(p)?;
            if e < best_e || (k == 0 && e.is_nan()) {
                best = k;
                best_e = e;
            }
        }
        decode(model, vars, best, p);
        self.energy(p)?;
        Ok(best_e)
    }

    /// The free energy of every joint answer of the outputs at the inputs of `p` (row-major
    /// over the outputs in declaration order, as [`Ty::answer`] numbers each output's values),
    /// or `None` unless every output is discrete. One call of the answers kernel when it can;
    /// otherwise one energy per answer, `p`'s outputs restored after.
    pub fn answer_energies(&mut self, p: &mut Point) -> Result<Option<Vec<f64>>, RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let model = &code.model;
        let outs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
        if outs.is_empty() || outs.iter().any(|o| !model.var(*o).ty.is_discrete()) {
            return Ok(None);
        }
        if let (Some(answers), true) = (&mut self.answers, self.inner.is_empty()) {
            answers.call(&self.params, p)?;
            return Ok(Some(answers.values().to_vec()));
        }
        let saved: Vec<Vec<f64>> = outs
            .iter()
            .map(|o| p.values[o.0 as usize].clone())
            .collect();
        let count: usize = outs
            .iter()
            .map(|o| answer_count(&model.var(*o).ty))
            .product();
        let mut es = Vec::with_capacity(count);
        for k in 0..count {
            decode(model, &outs, k, p);
            es.push(self.energy(p)?);
        }
        for (o, v) in outs.iter().zip(saved) {
            p.values[o.0 as usize] = v;
        }
        Ok(Some(es))
    }

    /// Infers the rows `rows` of `data` together: `points[k]` holds the inputs of row
    /// `rows[k]` and gets its answer, `energies[k]` its final energy — what [`Session::infer`]
    /// gives row by row (to rounding: the batched kernel may sum in another order), with the
    /// rows prepared by one call ([`Session::prepare_rows`]) and every descent step one call
    /// of the batched step for the whole batch, so the per-row work is matrix–matrix products.
    ///
    /// `Ok(false)`, with `rng` as it was, when the model's inference is not one descent whose
    /// prepare and step batch, `rows` is not a whole batch, or some row diverges or makes no
    /// progress: the caller then infers row by row, which reports the first such row with the
    /// per-row words. `rng` draws each row's init in row order, as the per-row path does, so
    /// the caller must not draw from it between rows.
    ///
    /// With `labels`, `points` hold the rows' outputs as the data has them, and `labels`
    /// gets the sum of the rows' energies there (in row order) — the loss `energy` of the rows
    /// ([`Session::loss_is_label_energy`]), from the stage values inference computes anyway
    /// rather than from a second pass of the network. The real outputs are then zeroed (as
    /// the caller's per-row path does) before the descent starts.
    pub fn infer_rows(
        &mut self,
        data: &Dataset,
        rows: &[usize],
        points: &mut [Point],
        energies: &mut [f64],
        labels: Option<&mut f64>,
        rng: &mut Rng,
    ) -> Result<bool, RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let model = &code.model;
        self.answers_batch_of = None;
        let [g] = &model.infer[..] else {
            return Ok(false);
        };
        if matches!(g.method, InferMethod::Enumerate) {
            return self.enumerate_rows(&g.vars, data, rows, points, energies, labels.is_some());
        }
        let InferMethod::Descent(d) = &g.method else {
            return Ok(false);
        };
        let n = rows.len();
        if self.energy.step_rows() != Some(n)
            || !self.inner.is_empty()
            || self.path.is_some()
            || points.len() != n
            || energies.len() != n
        {
            return Ok(false);
        }
        if !self.energy.prepare_rows(&self.params, data, rows)?
            || !self.energy.stage_rows(&self.params)
        {
            return Ok(false);
        }
        if let Some(sum) = labels {
            self.energy.step_rows_call(&self.params, points)?;
            *sum = self.energy.row_energies().iter().sum();
            for p in points.iter_mut() {
                for (o, v) in model.vars_of(Role::Output) {
                    if !v.ty.is_discrete() {
                        p.values[o.0 as usize].iter_mut().for_each(|x| *x = 0.0);
                    }
                }
            }
        }
        let saved = rng.clone();
        for p in points.iter_mut() {
            for v in &g.vars {
                init_var(model, *v, &mut p.values[v.0 as usize], &d.init, rng)?;
            }
        }
        // Per row, as `descend` keeps it: where it started (energy, promised decrease) and
        // whether its gradient fell below `tol` (it then stays where it is).
        let mut start: Vec<Option<(f64, f64)>> = vec![None; n];
        let mut done = vec![false; n];
        let mut norms = vec![0.0; n];
        let mut row_energies = vec![0.0; n];
        // The rows' values live in the step kernel's input buffer for the whole descent and
        // are updated there, all rows in one pass per variable; they go back to `points` at
        // the end. The same operations in the same order per row as `descend`.
        self.energy.load_rows(&self.params, points)?;
        let ok = 'descent: {
            for step in 1..=d.steps {
                self.energy.call_rows()?;
                row_energies.copy_from_slice(self.energy.row_energies());
                if step > 1 && step % STALL_CHECK == 0 {
                    for k in (0..n).filter(|&k| !done[k]) {
                        let progress = self.check_progress(
                            &g.vars,
                            d,
                            start[k],
                            row_energies[k],
                            step,
                            "",
                            false,
                        );
                        if progress.is_err() {
                            break 'descent false;
                        }
                    }
                }
                norms.iter_mut().for_each(|x| *x = 0.0);
                for v in &g.vars {
                    let Some((values, grads)) = self.energy.rows_and_grads(*v) else {
                        break 'descent false;
                    };
                    let w = values.len() / n;
                    let rows = values.chunks_exact_mut(w).zip(grads.chunks_exact(w));
                    for (k, (xk, gk)) in rows.enumerate() {
                        if done[k] {
                            continue;
                        }
                        norms[k] += gk.iter().map(|x| x * x).sum::<f64>();
                        for (x, gi) in xk.iter_mut().zip(gk) {
                            *x -= d.rate * gi;
                        }
                    }
                    if !crate::types::all_finite(values) {
                        break 'descent false;
                    }
                }
                for k in 0..n {
                    if done[k] {
                        continue;
                    }
                    if !norms[k].is_finite() {
                        break 'descent false;
                    }
                    start[k].get_or_insert((row_energies[k], d.rate * norms[k]));
                    done[k] = norms[k].sqrt() < d.tol;
                }
                if done.iter().all(|&x| x) {
                    break;
                }
            }
            self.energy.call_rows()?;
            for (k, e) in energies.iter_mut().enumerate() {
                *e = self.energy.row_energies()[k];
                if !done[k]
                    && (self.check_progress(&g.vars, d, start[k], *e, d.steps, "", false)).is_err()
                {
                    break 'descent false;
                }
            }
            for v in &g.vars {
                let Some((values, _)) = self.energy.rows_and_grads(*v) else {
                    break 'descent false;
                };
                let w = values.len() / n;
                for (p, xk) in points.iter_mut().zip(values.chunks_exact(w)) {
                    p.values[v.0 as usize].copy_from_slice(xk);
                }
            }
            true
        };
        if !ok {
            *rng = saved;
        }
        Ok(ok)
    }

    /// [`Session::infer_rows`] of a model that infers by enumerating all its outputs: the
    /// free energy of every answer of every row in one call of the batched answers kernel,
    /// and each row's lowest answer (the first on ties, NaN never, as [`Session::enumerate`]).
    /// `Ok(false)` when the model has no such kernel, `rows` is not a whole batch, or the loss
    /// at the labels is wanted (the per-row path then gives it).
    fn enumerate_rows(
        &mut self,
        vars: &[VarId],
        data: &Dataset,
        rows: &[usize],
        points: &mut [Point],
        energies: &mut [f64],
        labels: bool,
    ) -> Result<bool, RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let model = &code.model;
        let all_outputs = vars
            .iter()
            .copied()
            .eq(model.vars_of(Role::Output).map(|(id, _)| id));
        let Some(b) = &mut self.answers_batch else {
            return Ok(false);
        };
        if labels
            || !all_outputs
            || !self.inner.is_empty()
            || self.path.is_some()
            || rows.len() != b.rows()
            || points.len() != rows.len()
            || energies.len() != rows.len()
        {
            return Ok(false);
        }
        b.call_rows(&self.params, data, rows, None)?;
        let all = b.values();
        let count = all.len() / rows.len();
        for ((p, e), scores) in points.iter_mut().zip(energies).zip(all.chunks_exact(count)) {
            let (best, lowest) = argmin(scores);
            decode(model, vars, best, p);
            *e = lowest;
        }
        self.answers_batch_of = Some(self.params.version());
        Ok(true)
    }

    /// The free energy of every answer of row `k` of the batch the last
    /// [`Session::infer_rows`] enumerated, if it did (and the params are still those).
    pub fn batch_answer_energies(&self, k: usize) -> Option<&[f64]> {
        let b = self.answers_batch.as_ref()?;
        if self.answers_batch_of != Some(self.params.version()) {
            return None;
        }
        let all = b.values();
        let count = all.len() / b.rows();
        all.get(k * count..(k + 1) * count)
    }

    /// Whether the training loss of a row is the energy at the row's outputs as the data has
    /// them (`loss energy`, no latents), which the batched descent step gives from the stage
    /// values ([`Session::infer_rows`] with `labels`).
    pub fn loss_is_label_energy(&self) -> bool {
        let model = self.model();
        model
            .loss
            .as_ref()
            .is_some_and(|l| l.kind == LossKind::Energy && l.negatives.is_none())
            && model.vars_of(Role::Latent).next().is_none()
            && !model.is_density()
    }

    /// Runs every inference group of the model in order; returns the final energy.
    pub fn infer(&mut self, p: &mut Point, rng: &mut Rng) -> Result<f64, RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let groups: &[Infer] = &code.model.infer;
        for g in groups {
            match &g.method {
                InferMethod::Descent(d) => {
                    self.descend(p, &g.vars, d, rng, None, "descent")?;
                }
                InferMethod::Enumerate => {
                    self.enumerate(p, &g.vars)?;
                }
                InferMethod::Sample(sampler) => {
                    // One chain at `p`: its last state is the answer (a draw from P(y|x)).
                    let mut chains = super::sample::Chains::new(self, &g.vars)?;
                    let mut state = vec![0.0; chains.width()];
                    let at = p.clone();
                    let stats = chains.run(
                        self,
                        sampler,
                        super::sample::Given::Same(&at),
                        &mut state,
                        super::sample::Start::Init,
                        rng,
                    )?;
                    self.acceptance = stats.acceptance().or(self.acceptance);
                    super::sample::write_values(&chains, &state, p);
                }
            }
        }
        self.energy(p)
    }
}

fn answer_count(ty: &Ty) -> usize {
    ty.states().unwrap_or(1)
}

/// Writes answer number `k` (row-major over `vars` in order; a sign's −1 first, a sign
/// tensor's first element the most significant: [`Ty::answer`]) into `p`.
fn decode(model: &Model, vars: &[VarId], mut k: usize, p: &mut Point) {
    for v in vars.iter().rev() {
        let ty = &model.var(*v).ty;
        let n = answer_count(ty);
        let i = k % n;
        k /= n;
        p.values[v.0 as usize] = ty.answer(i);
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

/// The answers of every row of a data set inferred by batches of rows on several threads
/// ([`infer_all_rows`]): per whole batch of rows, whether it was inferred together and, if so,
/// the descended variables' values and the energy of each of its rows.
pub struct RowAnswers {
    /// The descended variables: `(var, offset in a row of `values`, elements)`.
    layout: Vec<(VarId, usize, usize)>,
    width: usize,
    values: Vec<f64>,
    energies: Vec<f64>,
    /// Per batch of [`crate::compile::BATCH`] rows.
    done: Vec<bool>,
    /// Per batch, the sum of its rows' energies at their labels, when asked for.
    labels: Vec<f64>,
}

impl RowAnswers {
    /// Whether row `row`'s batch was inferred together.
    pub fn covers(&self, row: usize) -> bool {
        self.done
            .get(row / crate::compile::BATCH)
            .copied()
            .unwrap_or(false)
    }

    /// The sum of the energies at the labels of the batch of row `row` (see
    /// [`Session::infer_rows`]), when it was asked for and the batch was inferred together.
    pub fn labels(&self, row: usize) -> Option<f64> {
        let b = row / crate::compile::BATCH;
        self.covers(row)
            .then(|| self.labels.get(b).copied())
            .flatten()
    }

    /// Writes row `row`'s answer into `p` and returns its energy; `None` when its batch was
    /// not inferred together (the caller infers it row by row).
    pub fn answer(&self, row: usize, p: &mut Point) -> Option<f64> {
        if !*self.done.get(row / crate::compile::BATCH)? {
            return None;
        }
        let at = &self.values[row * self.width..(row + 1) * self.width];
        for &(v, o, len) in &self.layout {
            p.values[v.0 as usize].copy_from_slice(&at[o..o + len]);
        }
        Some(self.energies[row])
    }
}

/// Infers every whole batch of rows of `data` on `threads` threads ([`Session::infer_rows`]
/// on `s` and on copies of it), batch `b` on thread `b % threads`, for `ebmc run`'s metrics.
/// `prepare_point` loads a row's point (its inputs and, with `labels`, its outputs: see
/// [`Session::infer_rows`]; without, the real outputs zeroed). `None` when it does not apply:
/// one thread (or no memory for a second session: the copies are allocated fallibly), fewer
/// than two batches, or an inference that draws from the generator (a random init: the draws
/// would depend on the order of the rows), since the answers must be those of one thread,
/// row by row.
pub fn infer_all_rows(
    s: &mut Session,
    data: &Dataset,
    threads: usize,
    labels: bool,
    prepare_point: &(dyn Fn(usize, &mut Point) + Sync),
) -> Result<Option<RowAnswers>, RunError> {
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let n = crate::compile::BATCH;
    let batches = data.rows() / n;
    let descent = match &model.infer[..] {
        [g] => match &g.method {
            InferMethod::Descent(d) => Some((g, d)),
            _ => None,
        },
        _ => None,
    };
    let Some((g, d)) = descent else {
        return Ok(None);
    };
    if threads < 2
        || batches < 2
        || !matches!(d.init, Init::Values(_))
        || s.energy.step_rows() != Some(n)
    {
        return Ok(None);
    }
    let mut layout = Vec::new();
    let mut width = 0;
    for &v in &g.vars {
        let len = model.var(v).ty.elements();
        layout.push((v, width, len));
        width += len;
    }
    let mut answers = RowAnswers {
        layout,
        width,
        values: vec![0.0; data.rows() * width],
        energies: vec![0.0; data.rows()],
        done: vec![false; batches],
        labels: vec![0.0; if labels { batches } else { 0 }],
    };
    // A copy of the session per extra thread, as far as the memory goes.
    let mut forks: Vec<Session> = Vec::new();
    for _ in 1..threads.min(batches) {
        match s.try_fork_for_rows() {
            Some(f) => forks.push(f),
            None => break,
        }
    }
    if forks.is_empty() {
        return Ok(None);
    }
    let threads = forks.len() + 1;
    // Per thread, its batches: (index, values, energies, done).
    type Slot<'a> = (
        usize,
        &'a mut [f64],
        &'a mut [f64],
        &'a mut bool,
        Option<&'a mut f64>,
    );
    let mut work: Vec<Vec<Slot>> = (0..threads).map(|_| Vec::new()).collect();
    let mut label_sums = answers.labels.iter_mut();
    let slots = (answers.values.chunks_mut(n * width))
        .zip(answers.energies.chunks_mut(n))
        .zip(answers.done.iter_mut())
        .enumerate();
    for (b, ((v, e), done)) in slots {
        work[b % threads].push((b, v, e, done, label_sums.next()));
    }
    let layout = &answers.layout;
    let run = |s: &mut Session, slots: Vec<Slot>| -> Result<(), RunError> {
        let mut points = vec![Point::zeros(model); n];
        let mut energies = vec![0.0; n];
        // Never drawn from: the init is a constant.
        let mut rng = Rng::new(0);
        for (b, values, es, done, labels) in slots {
            let rows: Vec<usize> = (b * n..(b + 1) * n).collect();
            for (p, &r) in points.iter_mut().zip(&rows) {
                prepare_point(r, p);
            }
            *done = s.infer_rows(data, &rows, &mut points, &mut energies, labels, &mut rng)?;
            if *done {
                es.copy_from_slice(&energies);
                for (p, at) in points.iter().zip(values.chunks_exact_mut(width)) {
                    for &(v, o, len) in layout {
                        at[o..o + len].copy_from_slice(&p.values[v.0 as usize]);
                    }
                }
            }
        }
        Ok(())
    };
    let mut work = work.into_iter();
    let first = work.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (forks.iter_mut().zip(work))
            .map(|(f, slots)| scope.spawn(move || run(f, slots)))
            .collect();
        let mine = run(s, first);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .chain([mine])
            .collect::<Result<(), RunError>>()
    })?;
    Ok(Some(answers))
}
