//! Training: minibatch gradient descent on the model's loss (spec section 8).
//!
//! Every epoch shuffles the training rows with the run's seed; every step averages the loss
//! and its parameter gradient over one minibatch and lets the optimizer update the flat
//! parameter vector. A step whose loss or gradient is not finite — or that would make a
//! parameter non-finite — is not applied: training stops with an error naming the epoch and
//! step, and the session keeps the last good parameters. Same seed, same data: the same
//! weights, bit for bit.

use super::data::Dataset;
use super::optim::Optim;
use super::session::{Point, RunError, Session};
use crate::check::{Negatives, Role, Train, VarId};
use crate::rng::Rng;
use std::time::Instant;

/// What one epoch did.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    pub epochs: usize,
    /// Mean training loss over the epoch's steps, as computed while training.
    pub loss: f64,
    pub examples_per_sec: f64,
}

/// Writes row `row` of `data` into the point's bound variables.
pub fn load_row(data: &Dataset, row: usize, p: &mut Point) {
    for v in &data.vars {
        p.values[v.var.0 as usize].clear();
        p.values[v.var.0 as usize].extend_from_slice(v.row(row));
    }
}

/// Trains `s` on `data`; `on_epoch` sees each epoch's statistics as it ends.
pub fn train(
    s: &mut Session,
    data: &Dataset,
    t: &Train,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Vec<EpochStats>, RunError> {
    train_observed(s, data, t, &mut |e, _| {
        on_epoch(e);
        Ok(())
    })
}

/// [`train`], with the session handed to `on_epoch` after each epoch (read-only in spirit:
/// `&mut` only because evaluating calls kernels), for `ebmc run --history` to measure the
/// test set as training goes. An error from `on_epoch` stops training.
pub fn train_observed(
    s: &mut Session,
    data: &Dataset,
    t: &Train,
    on_epoch: &mut dyn FnMut(&EpochStats, &mut Session) -> Result<(), RunError>,
) -> Result<Vec<EpochStats>, RunError> {
    if data.is_empty() {
        return Err(RunError::User("no training rows".into()));
    }
    let model = s.model;
    let mut rng = Rng::new(t.seed ^ 0x7ea1_2345);
    let mut optim = Optim::for_train(t, s.params.len());
    let mut order: Vec<usize> = (0..data.rows()).collect();
    let mut grad = vec![0.0; s.params.len()];
    let mut point = Point::zeros(model);
    let outputs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    let shuffle_negatives = matches!(
        model.loss.as_ref().and_then(|l| l.negatives.as_ref()),
        Some(Negatives::Shuffle)
    );
    let mut history = Vec::new();
    let mut step = 0;
    for epoch in 1..=t.epochs {
        let start = Instant::now();
        rng.shuffle(&mut order);
        let (mut sum, mut steps) = (0.0, 0usize);
        for batch in order.chunks(t.batch) {
            step += 1;
            let others: Vec<Vec<Vec<f64>>> = if shuffle_negatives {
                batch
                    .iter()
                    .map(|&r| {
                        outputs
                            .iter()
                            .map(|o| data.var(*o).map(|v| v.row(r).to_vec()).unwrap_or_default())
                            .collect()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut loss = 0.0;
            for &row in batch {
                load_row(data, row, &mut point);
                loss += s.loss_grad(&mut point, &others, &mut rng, &mut grad)?;
            }
            let n = batch.len() as f64;
            loss /= n;
            grad.iter_mut().for_each(|g| *g /= n);
            let fail = |what: String| RunError::Numeric { epoch, step, what };
            if !loss.is_finite() {
                return Err(fail(format!("the loss is {loss}")));
            }
            if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
                return Err(fail(format!(
                    "the gradient of `{}` is {}",
                    param_name(s, i),
                    grad[i]
                )));
            }
            let before = s.params.clone();
            optim.step(&mut s.params, &grad);
            if let Some(i) = s.params.iter().position(|w| !w.is_finite()) {
                let name = param_name(s, i);
                s.params = before;
                return Err(fail(format!("the update made `{name}` non-finite")));
            }
            sum += loss;
            steps += 1;
        }
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let stats = EpochStats {
            epoch,
            epochs: t.epochs,
            loss: sum / steps.max(1) as f64,
            examples_per_sec: data.rows() as f64 / secs,
        };
        on_epoch(&stats, s)?;
        history.push(stats);
    }
    Ok(history)
}

/// The name of the param that owns flat index `i`.
fn param_name(s: &Session, i: usize) -> String {
    s.model
        .vars_of(Role::Param)
        .find(|(id, _)| s.param_slices[id.0 as usize].is_some_and(|(o, l)| (o..o + l).contains(&i)))
        .map(|(_, v)| v.name.clone())
        .unwrap_or_default()
}
