//! The training loss of one example on a [`Session`] (spec section 6), and where its negative
//! answer comes from.
//!
//! For real outputs ȳ comes from `negatives descent` (descent from a random start, kept at
//! least `radius` from `y_i` by projection after every step), `negatives shuffle` (the
//! lowest-energy `y_j`, j ≠ i, of the batch) or, for `perceptron`, the model's inference.
//! ȳ is then an input of the loss kernel, so it is held fixed when differentiating. Latents
//! eliminated by descent are minimised at the label and at ȳ alike.

use super::fold::Fold;
use super::sample::{write_values, Chains, Given, Start};
use super::session::{Bound, LossScratch, Point, RunError, Session};
use crate::check::{Descent, Init, LossKind, Negatives, Noise, Role, VarId};
use crate::rng::Rng;

impl Session {
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
        loss.add_param_grads(grad, Fold::Add);
        Ok(loss.scalar())
    }

    /// The training loss at `p` and its gradient, added into `grad`, with the point ȳ
    /// already in `p.negs` (drawn for a whole step: [`super::train`]).
    pub fn loss_grad_given(&mut self, p: &mut Point, grad: &mut [f64]) -> Result<f64, RunError> {
        self.min_descended(p)?;
        let loss = self
            .loss
            .as_mut()
            .ok_or_else(|| RunError::User("the model has no loss".into()))?;
        loss.call(&self.params, p)?;
        loss.add_param_grads(grad, Fold::Add);
        Ok(loss.scalar())
    }

    /// The summed loss of the rows `rows` of `data` with their points ȳ given (the density
    /// losses' metrics): one call of the batched loss kernel for a whole batch, else row by
    /// row.
    pub fn loss_rows_given(
        &mut self,
        data: &super::data::Dataset,
        rows: &[usize],
        negs: &super::session::RowNegs,
        p: &mut Point,
    ) -> Result<f64, RunError> {
        if let Some(l) = self.loss_batch_given(data, rows, negs) {
            return l;
        }
        let mut total = 0.0;
        for (j, &row) in rows.iter().enumerate() {
            super::train::load_row(data, row, p);
            for &(v, o, len) in negs.layout {
                let at = j * negs.width + o;
                p.negs[v.0 as usize].clear();
                p.negs[v.0 as usize].extend_from_slice(&negs.values[at..at + len]);
            }
            self.min_descended(p)?;
            let loss = loss_only(&mut self.loss_value, &mut self.loss)?;
            loss.call(&self.params, p)?;
            total += loss.scalar();
        }
        Ok(total)
    }

    /// The training loss at `p` without its gradient.
    pub fn loss(
        &mut self,
        p: &mut Point,
        batch: &[Vec<Vec<f64>>],
        rng: &mut Rng,
    ) -> Result<f64, RunError> {
        self.prepare_loss(p, batch, rng)?;
        let loss = loss_only(&mut self.loss_value, &mut self.loss)?;
        loss.call(&self.params, p)?;
        Ok(loss.scalar())
    }

    /// Latents at the label and, for real outputs, the negative answer ȳ.
    fn prepare_loss(
        &mut self,
        p: &mut Point,
        batch: &[Vec<Vec<f64>>],
        rng: &mut Rng,
    ) -> Result<(), RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let model = &code.model;
        let Some(loss) = &model.loss else {
            return Ok(());
        };
        self.min_descended(p)?;
        let real = model
            .vars_of(Role::Output)
            .any(|(_, v)| !v.ty.is_discrete());
        let needs_neg = loss.kind.uses_point();
        if !(real && needs_neg) {
            return Ok(());
        }
        // The scratch leaves the session while ȳ is found (descent borrows the session), and
        // comes back whatever happens.
        let mut scratch = std::mem::take(&mut self.scratch);
        let found = self.negative(p, batch, rng, &mut scratch);
        if found.is_ok() {
            for (i, v) in model.vars.iter().enumerate() {
                if matches!(v.role, Role::Output | Role::Latent) && !v.ty.is_discrete() {
                    p.negs[i].clone_from(&scratch.q.values[i]);
                }
            }
        }
        self.scratch = scratch;
        found
    }

    /// The negative answer ȳ for the label at `p`, into `scratch.q`, with its latents
    /// eliminated as at the label.
    fn negative(
        &mut self,
        p: &Point,
        batch: &[Vec<Vec<f64>>],
        rng: &mut Rng,
        scratch: &mut LossScratch,
    ) -> Result<(), RunError> {
        let code = std::sync::Arc::clone(&self.code);
        let Some(loss) = &code.model.loss else {
            return Ok(());
        };
        let LossScratch { outputs, label, q } = scratch;
        for (l, o) in label.iter_mut().zip(outputs.iter()) {
            l.clone_from(&p.values[o.0 as usize]);
        }
        q.copy_from(p);
        match (&loss.negatives, loss.kind) {
            (_, LossKind::Perceptron) => {
                self.infer(q, rng)?;
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
                let (outs, label, radius) = (&*outputs, &*label, *radius);
                let project = move |q: &mut Point| keep_away(q, outs, label, radius);
                self.descend(q, outs, &d, rng, Some(&project), "negatives descent")?;
            }
            (Some(Negatives::Shuffle), _) => {
                let mut best: Option<(f64, usize)> = None;
                for (j, other) in batch.iter().enumerate() {
                    if other == label {
                        continue;
                    }
                    for (o, v) in outputs.iter().zip(other) {
                        q.values[o.0 as usize].clone_from(v);
                    }
                    let e = self.energy(q)?;
                    if best.is_none_or(|(b, _)| e < b) {
                        best = Some((e, j));
                    }
                }
                match best {
                    Some((_, j)) => {
                        for (o, v) in outputs.iter().zip(&batch[j]) {
                            q.values[o.0 as usize].clone_from(v);
                        }
                    }
                    None => {
                        // No other answer in the batch: a random one, as descent would start.
                        for o in outputs.iter() {
                            q.values[o.0 as usize]
                                .iter_mut()
                                .for_each(|x| *x = rng.normal());
                        }
                    }
                }
            }
            (Some(Negatives::Sample { sampler, .. }), _) => {
                // One chain from the label (CD-k): the per-example path of metrics and of
                // losses that do not batch; training draws a whole step's chains at once
                // (`train::StepNegatives`).
                let mut chains = Chains::new(self, outputs)?;
                let mut state: Vec<f64> = label.iter().flatten().copied().collect();
                chains.run(self, sampler, Given::Same(q), &mut state, Start::State, rng)?;
                write_values(&chains, &state, q);
            }
            (_, LossKind::Dsm { sigma }) => {
                // The noisy label ỹ = y_i + σ ε.
                for (o, l) in outputs.iter().zip(label.iter()) {
                    for (x, y) in q.values[o.0 as usize].iter_mut().zip(l) {
                        *x = y + sigma * rng.normal();
                    }
                }
            }
            (_, LossKind::Nce { noise, .. }) => {
                for o in outputs.iter() {
                    for x in q.values[o.0 as usize].iter_mut() {
                        *x = match noise {
                            Noise::Normal { mean, std } => mean + std * rng.normal(),
                            Noise::Uniform { lo, hi } => lo + (hi - lo) * rng.uniform(),
                        };
                    }
                }
            }
            (None, _) => unreachable!("the checker requires negatives for real outputs"),
        }
        // The latents at ȳ: eliminated as at the label.
        self.min_descended(q)
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

/// The kernel that computes the loss alone when compiled (`value`), else the loss gradient
/// (`grad`: its loss output is the same). Fields, not the session, so that the params can be
/// read beside it.
fn loss_only<'s>(
    value: &'s mut Option<Bound>,
    grad: &'s mut Option<Bound>,
) -> Result<&'s mut Bound, RunError> {
    match value {
        Some(l) => Ok(l),
        None => grad
            .as_mut()
            .ok_or_else(|| RunError::User("the model has no loss".into())),
    }
}
