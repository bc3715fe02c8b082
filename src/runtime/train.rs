//! Training: minibatch gradient descent on the model's loss (spec section 8).
//!
//! Every epoch shuffles the training rows with the run's seed; every step averages the loss
//! and its parameter gradient over one minibatch and lets the optimizer update the flat
//! parameter vector. A step whose loss or gradient is not finite — or that would make a
//! parameter non-finite — is not applied: training stops with an error naming the epoch and
//! step, and the session keeps the last good parameters. Same seed, same data: the same
//! weights, bit for bit.
//!
//! Data parallelism: a minibatch is cut into chunks of [`CHUNK`] examples. Each chunk's loss
//! and gradient are summed in example order, and the chunks' sums are added in chunk order,
//! whichever thread computed them; each example draws its randomness (negatives) from a
//! generator seeded by the run's seed, the epoch and its row. So the weights do not depend
//! on the number of threads or on scheduling — one thread or many, the same bits.

use super::data::Dataset;
use super::fold::Fold;
use super::optim::Optim;
use super::sample::{Chains, Given, Start};
use super::session::{Params, Point, RowNegs, RunError, Session};
use crate::check::{Init, LossKind, Negatives, Noise, Role, Sampler, Train, VarId};
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
    /// The threads that computed the epoch's gradients: fewer than asked for when a step is
    /// too small to repay them ([`PARALLEL_WORK`]) or has fewer chunks than threads.
    pub threads: usize,
    /// The distinct operating-system threads that computed chunks in this epoch (at most
    /// `threads`; tests check that the threads asked for really ran).
    pub ran_on: usize,
}

/// Writes row `row` of `data` into the point's bound variables.
pub fn load_row(data: &Dataset, row: usize, p: &mut Point) {
    for v in &data.vars {
        p.values[v.var.0 as usize].clear();
        p.values[v.var.0 as usize].extend_from_slice(v.row(row));
    }
}

/// Examples per unit of work: the grain of threads and of the summation order, and the
/// size of the session's batched loss kernel.
pub const CHUNK: usize = crate::compile::BATCH;

/// Below this many parameter-gradient elements per minibatch (params × batch), a step is
/// too small to repay starting threads.
const PARALLEL_WORK: usize = 1 << 21;

/// The threads training starts when asked for `threads`, with `params` elements and
/// minibatches of `batch` rows: one when a step is too small to repay more, and never more
/// than the chunks of a minibatch.
pub fn threads_for(params: usize, batch: usize, threads: usize) -> usize {
    if params * batch < PARALLEL_WORK {
        1
    } else {
        threads.clamp(1, batch.div_ceil(CHUNK))
    }
}

/// The number of threads to train with when the user does not say.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A forked session and its buffers, for one thread.
struct Worker {
    s: Session,
    point: Point,
    /// One gradient buffer per chunk this worker computes in a step.
    grads: Vec<Vec<f64>>,
    losses: Vec<f64>,
    /// The version of the master params the worker's own copy holds.
    synced: Option<u64>,
    /// The threads of the pool that ran this worker's chunks since the epoch began.
    ran_on: Vec<std::thread::ThreadId>,
}

/// The generator of one example's randomness in one epoch.
fn example_rng(seed: u64, epoch: usize, row: usize) -> Rng {
    let mix = (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (row as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    Rng::new(seed ^ 0x7ea1_2345 ^ mix)
}

/// Loss and gradient sums of one chunk, into `grad` (zeroed first), at the `master` params:
/// the batched kernel reads them where they are; the per-example path first copies them
/// into the worker's session (once per step).
#[allow(clippy::too_many_arguments)]
fn chunk(
    w: &mut Worker,
    master: &Params,
    data: &Dataset,
    rows: &[usize],
    others: &[Vec<Vec<f64>>],
    negs: Option<RowNegs>,
    seed: u64,
    epoch: usize,
    k: usize,
) -> Result<f64, RunError> {
    let (s, point, grad) = (&mut w.s, &mut w.point, &mut w.grads[k]);
    // `0 + g`: the bits of zeroing `grad` and adding the chunk's sum, in one pass.
    if let Some(loss) =
        s.loss_grad_batch(Some(master), data, rows, negs.as_ref(), grad, Fold::First)
    {
        return loss.map(|(l, _)| l);
    }
    grad.iter_mut().for_each(|g| *g = 0.0);
    if w.synced != Some(master.version()) {
        // A worker's session starts without params (the batched kernel reads the master's):
        // they are copied in the first time a per-example path (a chunk of fewer rows than
        // the batched kernel takes, or a loss that does not batch) needs them.
        if s.params.len() != master.len() {
            s.params.set(super::memory::zeros(
                master.len(),
                "a training thread's params",
            )?);
        }
        s.params.copy_from_slice(master);
        w.synced = Some(master.version());
    }
    let mut loss = 0.0;
    for (j, &row) in rows.iter().enumerate() {
        load_row(data, row, point);
        if let Some(n) = &negs {
            for &(v, o, len) in n.layout {
                let at = j * n.width + o;
                point.negs[v.0 as usize].clear();
                point.negs[v.0 as usize].extend_from_slice(&n.values[at..at + len]);
            }
            loss += s.loss_grad_given(point, grad)?;
            continue;
        }
        let mut rng = example_rng(seed, epoch, row);
        loss += s.loss_grad(point, others, &mut rng, grad)?;
    }
    Ok(loss)
}

/// Trains `s` on `data` with up to `threads` threads; `on_epoch` sees each epoch's
/// statistics as it ends.
pub fn train(
    s: &mut Session,
    data: &Dataset,
    t: &Train,
    threads: usize,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Vec<EpochStats>, RunError> {
    train_observed(s, data, t, threads, &mut |e, _| {
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
    threads: usize,
    on_epoch: &mut dyn FnMut(&EpochStats, &mut Session) -> Result<(), RunError>,
) -> Result<Vec<EpochStats>, RunError> {
    if data.is_empty() {
        return Err(RunError::User("no training rows".into()));
    }
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let mut rng = Rng::new(t.seed ^ 0x7ea1_2345);
    let mut optim = Optim::for_train(t, s.params.len())?;
    let mut order: Vec<usize> = (0..data.rows()).collect();
    let mut grad = super::memory::zeros(s.params.len(), "the gradient")?;
    let threads = threads_for(s.params.len(), t.batch.min(data.rows()), threads);
    // One pool for the whole run: every step hands its chunks, its gradient sum and its
    // optimizer ranges to the same threads.
    let pool = match threads {
        1 => None,
        _ => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| RunError::User(format!("cannot start {threads} threads: {e}")))?,
        ),
    };
    let mut workers: Vec<Worker> = (0..threads)
        .map(|_| Worker {
            s: s.fork_without_params(),
            point: Point::zeros(model),
            grads: Vec::new(),
            losses: Vec::new(),
            synced: None,
            ran_on: Vec::new(),
        })
        .collect();
    let outputs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    let shuffle_negatives = matches!(
        model.loss.as_ref().and_then(|l| l.negatives.as_ref()),
        Some(Negatives::Shuffle)
    );
    // The outputs of every example of a step, for `negatives shuffle`; grown once, reused.
    let mut others: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut history = Vec::new();
    let mut step_negs = StepNegatives::for_model(s)?;
    let steps_per_epoch = data.rows().div_ceil(t.batch);
    for epoch in 1..=t.epochs {
        let start = Instant::now();
        rng.shuffle(&mut order);
        let (mut sum, mut steps) = (0.0, 0usize);
        for (step, batch) in (1..).zip(order.chunks(t.batch)) {
            let others = if shuffle_negatives {
                batch_outputs(&mut others, data, &outputs, batch)
            } else {
                &[]
            };
            if let Some(n) = &mut step_negs {
                n.draw(s, data, batch, t.seed, epoch, &mut rng)?;
            }
            let (mut loss, bad_grad) = step_grads(
                s,
                pool.as_ref(),
                &mut workers,
                data,
                batch,
                others,
                step_negs.as_ref(),
                t.seed,
                epoch,
                &mut grad,
            )?;
            // `grad` is already the mean (step_grads divides as it sums).
            loss /= batch.len() as f64;
            let fail = |what: String| RunError::Numeric {
                epoch,
                step,
                steps: steps_per_epoch,
                what,
            };
            if !loss.is_finite() {
                return Err(fail(format!("the loss is {loss}")));
            }
            // `step_grads` found the first non-finite element as it summed.
            if let Some(i) = bad_grad {
                return Err(fail(format!(
                    "the gradient of `{}` is {}",
                    param_name(s, i),
                    grad[i]
                )));
            }
            // The params stay the last good ones when the update would break them. Each
            // training thread updates a range of the params (the same bits as one).
            let stepped = match &pool {
                Some(pool) => optim.try_step_split(&mut s.params, &grad, pool),
                None => optim.try_step(&mut s.params, &grad),
            };
            if let Err(i) = stepped {
                let name = param_name(s, i);
                return Err(fail(format!("the update would make `{name}` non-finite")));
            }
            sum += loss;
            steps += 1;
        }
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let mut ran_on: Vec<std::thread::ThreadId> = Vec::new();
        for w in &mut workers {
            for id in w.ran_on.drain(..) {
                if !ran_on.contains(&id) {
                    ran_on.push(id);
                }
            }
        }
        let stats = EpochStats {
            epoch,
            epochs: t.epochs,
            loss: sum / steps.max(1) as f64,
            examples_per_sec: data.rows() as f64 / secs,
            threads: workers.len(),
            // One thread computes every chunk itself (the calling one).
            ran_on: ran_on.len().max(1),
        };
        on_epoch(&stats, s)?;
        history.push(stats);
    }
    Ok(history)
}

/// The summed loss and the mean gradient of one minibatch, chunk by chunk, on the workers'
/// threads, and the first non-finite element of the gradient, found while summing.
#[allow(clippy::too_many_arguments)]
fn step_grads(
    s: &Session,
    pool: Option<&rayon::ThreadPool>,
    workers: &mut [Worker],
    data: &Dataset,
    batch: &[usize],
    others: &[Vec<Vec<f64>>],
    negs: Option<&StepNegatives>,
    seed: u64,
    epoch: usize,
    grad: &mut [f64],
) -> Result<(f64, Option<usize>), RunError> {
    let chunks = batch.len().div_ceil(CHUNK);
    let rows_of = |c: usize| &batch[c * CHUNK..((c + 1) * CHUNK).min(batch.len())];
    let negs_of = |c: usize| negs.map(|n| n.rows(c * CHUNK, rows_of(c).len()));
    let t = workers.len();
    let master: &Params = &s.params;
    let len = master.len();
    if t == 1 {
        // One thread computes the chunks in order, so it can add each into `grad` as it
        // goes — the same additions in the same order as below — and needs at most one chunk
        // buffer, not one per chunk.
        // The batched kernel adds its chunk's gradient into `grad` itself; the per-example
        // path sums a chunk in its own buffer first (a chunk's sum is one term).
        let w = &mut workers[0];
        let n = batch.len();
        let (mut loss, mut finite) = (0.0, true);
        for c in 0..chunks {
            let fold = Fold::of(c, chunks, n);
            let (rows, negs) = (rows_of(c), negs_of(c));
            if let Some(l) =
                w.s.loss_grad_batch(Some(master), data, rows, negs.as_ref(), grad, fold)
            {
                let (l, ok) = l?;
                (loss, finite) = (loss + l, finite & ok);
                continue;
            }
            if w.grads.is_empty() {
                w.grads.push(vec![0.0; len]);
            }
            loss += chunk(w, master, data, rows, others, negs, seed, epoch, 0)?;
            finite &= fold.apply(grad, &w.grads[0]);
        }
        // The folds divided by the batch size and checked the result as they went.
        let bad = if finite {
            None
        } else {
            grad.iter().position(|g| !g.is_finite())
        };
        return Ok((loss, bad));
    }
    // Worker `i` takes the current params (each thread copies its own) and computes chunks
    // `i, i + t, i + 2t, …`, the k-th of them into its k-th buffer (buffers only ever grow,
    // so that no step allocates).
    let run = |(i, w): (usize, &mut Worker)| -> Result<(), RunError> {
        let me = std::thread::current().id();
        if !w.ran_on.contains(&me) {
            w.ran_on.push(me);
        }
        let mine = (i..chunks).step_by(t).len();
        if w.grads.len() < mine {
            w.grads.resize_with(mine, || vec![0.0; len]);
            w.losses.resize(mine, 0.0);
        }
        for (k, c) in (i..chunks).step_by(t).enumerate() {
            w.losses[k] = chunk(
                w,
                master,
                data,
                rows_of(c),
                others,
                negs_of(c),
                seed,
                epoch,
                k,
            )?;
        }
        Ok(())
    };
    let pool = pool.ok_or_else(|| RunError::Compile("several workers without threads".into()))?;
    // Worker `i` on the pool's thread `i` (a broadcast runs once on every thread): each
    // thread really computes, whatever the scheduling.
    let cells: Vec<std::sync::Mutex<&mut Worker>> =
        workers.iter_mut().map(std::sync::Mutex::new).collect();
    let results: Vec<Result<(), RunError>> = pool.broadcast(|ctx| {
        let i = ctx.index();
        match cells.get(i).map(|c| c.lock()) {
            Some(Ok(mut w)) => run((i, &mut **w)),
            Some(Err(_)) => Err(RunError::Compile("a training thread panicked".into())),
            None => Ok(()),
        }
    });
    drop(cells);
    results.into_iter().collect::<Result<(), RunError>>()?;
    // Sum in chunk order (chunk c was computed by worker c % t as its (c / t)-th), each
    // element independently: threads split the elements, never the order of a sum.
    let workers = &*workers;
    // The mean: the sum, then divided by the batch's size, folded chunk by chunk (the same
    // operations in the same order as zeroing, summing and dividing) and checked for a
    // non-finite element in the last pass.
    let sum_range = |start: usize, out: &mut [f64]| -> Option<usize> {
        let mut finite = true;
        for c in 0..chunks {
            let part = &workers[c % t].grads[c / t][start..start + out.len()];
            finite &= Fold::of(c, chunks, batch.len()).apply(out, part);
        }
        if finite {
            return None;
        }
        out.iter().position(|g| !g.is_finite()).map(|i| start + i)
    };
    let per = len.div_ceil(t);
    let mut found: Vec<Option<usize>> = vec![None; t];
    pool.scope(|scope| {
        for ((k, out), f) in grad.chunks_mut(per).enumerate().zip(&mut found) {
            let sum_range = &sum_range;
            scope.spawn(move |_| *f = sum_range(k * per, out));
        }
    });
    let bad = found.into_iter().flatten().next();
    let loss = (0..chunks).map(|c| workers[c % t].losses[c / t]).sum();
    Ok((loss, bad))
}

/// The outputs of the rows `batch` of `data`, written into `buf` (grown as needed, never
/// shrunk), as the first `batch.len()` entries.
fn batch_outputs<'b>(
    buf: &'b mut Vec<Vec<Vec<f64>>>,
    data: &Dataset,
    outputs: &[VarId],
    batch: &[usize],
) -> &'b [Vec<Vec<f64>>] {
    if buf.len() < batch.len() {
        buf.resize_with(batch.len(), || vec![Vec::new(); outputs.len()]);
    }
    for (example, &row) in buf.iter_mut().zip(batch) {
        for (values, o) in example.iter_mut().zip(outputs) {
            values.clear();
            if let Some(v) = data.var(*o) {
                values.extend_from_slice(v.row(row));
            }
        }
    }
    &buf[..batch.len()]
}

/// The name of the param that owns flat index `i`.
fn param_name(s: &Session, i: usize) -> String {
    s.model()
        .vars_of(Role::Param)
        .find(|(id, _)| s.param_slices[id.0 as usize].is_some_and(|(o, l)| (o..o + l).contains(&i)))
        .map(|(_, v)| v.name.clone())
        .unwrap_or_default()
}

/// The points ȳ of one step's rows for the density losses (spec section 13), drawn on the
/// master session before the step's chunks are computed — so they do not depend on threads:
/// * `dsm`: ỹ = y_i + σ ε, ε from the row's own generator (seed, epoch, row);
/// * `nce`: a noise sample, likewise;
/// * `cd`: a sample of the model. Without `persistent`, one chain per row starts at `y_i` and
///   runs the sampler's steps (CD-k). With `persistent = N`, a buffer of `N` chains lives
///   across steps (started from the sampler's `init` and run once, at the first step); each
///   step draws one chain per row (uniformly, with replacement), restarts each with
///   probability `reinit` from `init`, runs the sampler's steps from there and writes the
///   chains back. All chains of a step move together ([`Chains`], batched by the model's
///   sample-step kernel).
pub(super) struct StepNegatives {
    kind: LossKind,
    layout: Vec<(VarId, usize, usize)>,
    width: usize,
    values: Vec<f64>,
    cd: Option<CdChains>,
}

struct CdChains {
    chains: Chains,
    sampler: Sampler,
    persistent: Option<(usize, f64)>,
    /// The persistent buffer: `N × width`; empty until the first step.
    buffer: Vec<f64>,
    picked: Vec<usize>,
    /// One point per row, for a model with inputs (the chains' `Given::Each`).
    points: Vec<Point>,
}

impl StepNegatives {
    /// [`StepNegatives::for_model`] for measuring the loss (metrics): `cd`'s chains start at
    /// each row's label (CD-k), persistent or not in training.
    pub(super) fn for_metrics(s: &Session) -> Result<Option<StepNegatives>, RunError> {
        let mut n = StepNegatives::for_model(s)?;
        if let Some(cd) = n.as_mut().and_then(|n| n.cd.as_mut()) {
            cd.persistent = None;
        }
        Ok(n)
    }

    /// `None` unless the model's loss is a density loss.
    pub(super) fn for_model(s: &Session) -> Result<Option<StepNegatives>, RunError> {
        let model = s.model();
        let Some(loss) = model.loss.as_ref().filter(|l| l.kind.is_density_loss()) else {
            return Ok(None);
        };
        let mut layout = Vec::new();
        let mut width = 0;
        for (id, v) in model.vars_of(Role::Output) {
            let n = v.ty.elements();
            layout.push((id, width, n));
            width += n;
        }
        let cd = match &loss.negatives {
            Some(Negatives::Sample {
                sampler,
                persistent,
                reinit,
            }) => {
                let vars: Vec<VarId> = layout.iter().map(|l| l.0).collect();
                Some(CdChains {
                    chains: Chains::new(s, &vars)?,
                    sampler: sampler.clone(),
                    persistent: persistent.map(|n| (n, *reinit)),
                    buffer: Vec::new(),
                    picked: Vec::new(),
                    points: Vec::new(),
                })
            }
            _ => None,
        };
        Ok(Some(StepNegatives {
            kind: loss.kind,
            layout,
            width,
            values: Vec::new(),
            cd,
        }))
    }

    /// The points of rows `first..first + count` of the step.
    pub(super) fn rows(&self, first: usize, count: usize) -> RowNegs<'_> {
        RowNegs {
            values: &self.values[first * self.width..(first + count) * self.width],
            width: self.width,
            layout: &self.layout,
        }
    }

    /// Draws the points of the rows `batch` of `data` at the session's current params.
    pub(super) fn draw(
        &mut self,
        s: &mut Session,
        data: &Dataset,
        batch: &[usize],
        seed: u64,
        epoch: usize,
        rng: &mut Rng,
    ) -> Result<(), RunError> {
        let w = self.width;
        self.values.clear();
        for &row in batch {
            for &(v, _, _) in &self.layout {
                let label = data.var(v).map(|d| d.row(row)).unwrap_or(&[]);
                self.values.extend_from_slice(label);
            }
        }
        match self.kind {
            LossKind::Dsm { sigma } => {
                for (k, &row) in batch.iter().enumerate() {
                    let mut r = example_rng(seed, epoch, row);
                    for x in &mut self.values[k * w..(k + 1) * w] {
                        *x += sigma * r.normal();
                    }
                }
            }
            LossKind::Nce { noise, .. } => {
                for (k, &row) in batch.iter().enumerate() {
                    let mut r = example_rng(seed, epoch, row);
                    for x in &mut self.values[k * w..(k + 1) * w] {
                        *x = match noise {
                            Noise::Normal { mean, std } => mean + std * r.normal(),
                            Noise::Uniform { lo, hi } => lo + (hi - lo) * r.uniform(),
                        };
                    }
                }
            }
            _ => {
                let Some(cd) = &mut self.cd else {
                    return Err(RunError::Compile("`cd` without its sampler".into()));
                };
                let zero = Point::zeros(s.model());
                let density = s.model().is_density();
                if !density {
                    cd.points.resize_with(batch.len(), || zero.clone());
                    for (p, &row) in cd.points.iter_mut().zip(batch) {
                        load_row(data, row, p);
                    }
                }
                let given = if density {
                    Given::Same(&zero)
                } else {
                    Given::Each(&cd.points[..batch.len()])
                };
                match cd.persistent {
                    None => {
                        cd.chains.run(
                            s,
                            &cd.sampler,
                            given,
                            &mut self.values,
                            Start::State,
                            rng,
                        )?;
                    }
                    Some((n, reinit)) => {
                        if cd.buffer.is_empty() {
                            cd.buffer = vec![0.0; n * w];
                            let all = vec![zero.clone(); if density { 0 } else { n }];
                            let g = if density {
                                Given::Same(&zero)
                            } else {
                                Given::Each(&all)
                            };
                            cd.chains
                                .run(s, &cd.sampler, g, &mut cd.buffer, Start::Init, rng)?;
                        }
                        cd.picked.clear();
                        for k in 0..batch.len() {
                            let i = rng.below(n as u64) as usize;
                            cd.picked.push(i);
                            let row = &mut self.values[k * w..(k + 1) * w];
                            if rng.uniform() < reinit {
                                if matches!(cd.sampler, Sampler::Gibbs { .. }) {
                                    uniform_row(s.model(), &self.layout, row, rng);
                                } else {
                                    init_row(&cd.sampler, row, rng);
                                }
                            } else {
                                row.copy_from_slice(&cd.buffer[i * w..(i + 1) * w]);
                            }
                        }
                        cd.chains.run(
                            s,
                            &cd.sampler,
                            given,
                            &mut self.values,
                            Start::State,
                            rng,
                        )?;
                        for (k, &i) in cd.picked.iter().enumerate() {
                            cd.buffer[i * w..(i + 1) * w]
                                .copy_from_slice(&self.values[k * w..(k + 1) * w]);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A `gibbs` chain's fresh start: every discrete coordinate uniform over its values, as
/// `gibbs(init = uniform)` starts.
fn uniform_row(
    model: &crate::check::Model,
    layout: &[(VarId, usize, usize)],
    row: &mut [f64],
    rng: &mut Rng,
) {
    for &(v, o, n) in layout {
        for x in &mut row[o..o + n] {
            *x = match model.var(v).ty {
                crate::types::Ty::Class(k) => rng.below(k as u64) as f64,
                _ if rng.below(2) == 0 => -1.0,
                _ => 1.0,
            };
        }
    }
}

/// A chain's fresh start from the sampler's `init`.
fn init_row(sampler: &Sampler, row: &mut [f64], rng: &mut Rng) {
    let init = match sampler {
        Sampler::Langevin { init, .. } | Sampler::Hmc { init, .. } => init,
        Sampler::Gibbs { .. } => &Init::Normal {
            mean: 0.0,
            std: 1.0,
        },
    };
    for x in row.iter_mut() {
        *x = match init {
            Init::Normal { mean, std } => mean + std * rng.normal(),
            Init::Uniform { lo, hi } => lo + (hi - lo) * rng.uniform(),
            Init::Values(v) => v.first().copied().unwrap_or(0.0),
            Init::Glorot => rng.normal(),
        };
    }
}
