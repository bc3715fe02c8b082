//! The metrics of a density model (spec section 13): the mean energy of a set's rows and, with
//! `partition by …`, the mean negative log-likelihood `−log P(y_i) = E(y_i) + log Z`.
//!
//! `log Z` is computed once per evaluation, with the parameters fixed:
//! * `partition by enumerate`: `log Σ_y exp(−E(y))` over every answer of the discrete outputs,
//!   exactly (a running log-sum-exp);
//! * `partition by grid(points, lo, hi)`: midpoint quadrature over `[lo, hi]` in every real
//!   output coordinate (at most 3): `log Σ_c exp(−E(y_c)) + d log h`, `h = (hi − lo)/points`.
//!   The grid is in the data's units: a standardized output is z-scored at each midpoint
//!   before the energy is evaluated, so `Z` is the normaliser of `exp(−E(z(y)))` over `y`
//!   itself and `−log P(y_i)` is a density in the data's units — the Jacobian of the
//!   z-score is inside the quadrature, with nothing to add. Mass outside `[lo, hi]` is not
//!   counted: `Z` is underestimated (the NLL too) when the model puts mass there.
//!
//! * `partition by ais(chains, steps)`: annealed importance sampling over discrete outputs
//!   ([`log_partition_se`]), with its standard error.
//!
//! β is 1: the density is `exp(−E(y)) / Z`, the one the density losses (`cd`, `dsm`, `nce`)
//! train.
//!
//! Without `Z`, a model whose outputs are all `sign` is also judged by its pseudo-log-likelihood
//! ([`pseudo_log_likelihood`]), which needs free energies only.

use super::data::{Dataset, Loaded};
use super::session::{Point, RunError, Session};
use crate::check::{Partition, Role, VarId};
use crate::rng::Rng;

/// A running `log Σ exp(v)`, one value at a time, without overflow.
#[derive(Clone, Copy, Debug)]
pub struct LogSumExp {
    max: f64,
    sum: f64,
}

impl Default for LogSumExp {
    fn default() -> Self {
        LogSumExp {
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }
}

impl LogSumExp {
    pub fn push(&mut self, v: f64) {
        if v.is_nan() {
            self.max = f64::NAN;
            return;
        }
        if v == f64::NEG_INFINITY {
            return;
        }
        if v > self.max {
            self.sum = self.sum * (self.max - v).exp() + 1.0;
            self.max = v;
        } else {
            self.sum += (v - self.max).exp();
        }
    }
    pub fn value(&self) -> f64 {
        if self.max == f64::NEG_INFINITY || self.max.is_nan() {
            self.max
        } else {
            self.max + self.sum.ln()
        }
    }
}

/// `log Z` of the density model of `s`, as `partition` says.
pub fn log_partition(
    s: &mut Session,
    partition: &Partition,
    loaded: Option<&Loaded>,
) -> Result<f64, RunError> {
    Ok(log_partition_se(s, partition, loaded)?.0)
}

/// [`log_partition`] with its standard error where it is an estimate (`ais`).
pub fn log_partition_se(
    s: &mut Session,
    partition: &Partition,
    loaded: Option<&Loaded>,
) -> Result<(f64, Option<f64>), RunError> {
    if let Partition::Ais { chains, steps } = *partition {
        let (log_z, se) = ais(s, chains, steps, loaded, &mut Rng::new(0xa15))?;
        return Ok((log_z, Some(se)));
    }
    Ok((exact_log_partition(s, partition, loaded)?, None))
}

/// `log Z` by annealed importance sampling (Neal 2001) and its standard error: from the
/// uniform distribution over the states the model's `gibbs` chains move through, or from
/// `N(0, I)` over real outputs moved by one step of its `langevin`/`hmc` per temperature
/// ([`ais_real`]).
///
/// `n` chains start at a uniform draw (one sweep at β = 0) and go through the temperatures
/// `β_t = t/T`, `t = 1 … T`; before the sweep at `β_t` each chain's log-weight gains
/// `−(β_t − β_{t−1}) E(x_{t−1})`, `E` the energy of its state. With `w_k` the weights,
/// `Ẑ = Z₀ · mean(w)` is unbiased (`Z₀` the number of states), and the standard error of
/// `log Ẑ` is `sd(w) / (mean(w) √n)` (the delta method). When the chains sample closed-form
/// latents alongside, the states are the joint `(y, z)` and `E` the raw energy: the joint's
/// `Z` is the marginal's when those latents have β = 1, which is required.
fn ais(
    s: &mut Session,
    n: usize,
    steps: usize,
    loaded: Option<&Loaded>,
    rng: &mut Rng,
) -> Result<(f64, f64), RunError> {
    use super::sample::{Chains, Given, Start};
    use crate::check::{Elim, Sampler};
    let Some((mut chains, sampler)) = Chains::of_model(s)? else {
        return Err(RunError::User(
            "`partition by ais` needs a sampler (`infer … by gibbs | langevin | hmc`): it moves its chains with the model's".into(),
        ));
    };
    let Sampler::Gibbs { blocks, .. } = sampler else {
        return ais_real(s, chains, sampler, n, steps, loaded, rng);
    };
    let (log_z0, joint) = chains.gibbs_states();
    if joint {
        let model = s.model();
        if let Some(v) = model
            .vars
            .iter()
            .find(|v| matches!(v.elim, Some(Elim::MarginalClosed { beta }) if beta != 1.0))
        {
            return Err(RunError::User(format!(
                "`partition by ais` anneals the joint distribution of the outputs and `{}`, whose Z is P's only with `marginal(beta = 1)`",
                v.name
            )));
        }
    }
    let zero = Point::zeros(s.model());
    let mut state = vec![0.0; n * chains.width()];
    let sweep = |beta: f64| Sampler::Gibbs {
        sweeps: 1,
        beta,
        blocks: blocks.clone(),
    };
    let mut energies = chains
        .run(
            s,
            &sweep(0.0),
            Given::Same(&zero),
            &mut state,
            Start::Init,
            rng,
        )?
        .energies;
    let mut log_w = vec![0.0; n];
    for t in 1..=steps {
        let (b0, b1) = ((t - 1) as f64 / steps as f64, t as f64 / steps as f64);
        for (w, e) in log_w.iter_mut().zip(&energies) {
            *w -= (b1 - b0) * e;
        }
        if t < steps {
            energies = chains
                .run(
                    s,
                    &sweep(b1),
                    Given::Same(&zero),
                    &mut state,
                    Start::State,
                    rng,
                )?
                .energies;
        }
    }
    let (log_mean, se) = log_mean_exp(&log_w)?;
    Ok((log_z0 + log_mean, se))
}

/// [`ais`] over real outputs: from `N(0, I)` (`log Z₀ = d/2 log 2π`) along
/// `E_t = β_t E + (1 − β_t) ½‖y‖²` ([`super::sample::Chains::anneal`]), one step of the
/// model's sampler at `β = 1` per temperature (`hmc`'s Metropolis test keeps each `E_t`
/// exactly; unadjusted `langevin` is biased by its step). Each weight gains
/// `−(β_t − β_{t−1}) (E(y) − ½‖y‖²)` before the step at `β_t`. Standardized outputs: `Z` is
/// over the z-scores, so `log Z` gains `Σ log scale` to be a density in the data's units.
fn ais_real(
    s: &mut Session,
    mut chains: super::sample::Chains,
    sampler: crate::check::Sampler,
    n: usize,
    steps: usize,
    loaded: Option<&Loaded>,
    rng: &mut Rng,
) -> Result<(f64, f64), RunError> {
    use super::sample::{write_values, Given, Start};
    use crate::check::Sampler;
    let one = match sampler {
        Sampler::Langevin { rate, init, .. } => Sampler::Langevin {
            steps: 1,
            rate,
            beta: 1.0,
            init,
        },
        Sampler::Hmc {
            leapfrog,
            rate,
            init,
            ..
        } => Sampler::Hmc {
            steps: 1,
            leapfrog,
            rate,
            beta: 1.0,
            init,
        },
        Sampler::Gibbs { .. } => unreachable!("discrete outputs take the other path"),
    };
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let d = chains.width();
    let zero = Point::zeros(model);
    let mut p = zero.clone();
    let mut state: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
    let mut log_w = vec![0.0; n];
    for t in 1..=steps {
        let (b0, b1) = ((t - 1) as f64 / steps as f64, t as f64 / steps as f64);
        for (k, w) in log_w.iter_mut().enumerate() {
            let row = &state[k * d..(k + 1) * d];
            write_values(&chains, row, &mut p);
            let e = s.energy(&mut p)?;
            let q = 0.5 * row.iter().map(|x| x * x).sum::<f64>();
            *w -= (b1 - b0) * (e - q);
        }
        if t < steps {
            chains.anneal(Some(b1));
            let r = chains.run(s, &one, Given::Same(&zero), &mut state, Start::State, rng);
            chains.anneal(None);
            r?;
        }
    }
    let (log_mean, se) = log_mean_exp(&log_w)?;
    let mut jacobian = 0.0;
    for &(v, _, _) in chains.layout() {
        if let Some(st) = loaded.and_then(|l| l.standardization(v)) {
            jacobian += st.scale.iter().map(|x| x.ln()).sum::<f64>();
        }
    }
    Ok((
        0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln() + log_mean + jacobian,
        se,
    ))
}

/// `log mean(exp(l))` of log-weights and its standard error `sd(w) / (mean(w) √n)`.
fn log_mean_exp(log_w: &[f64]) -> Result<(f64, f64), RunError> {
    let n = log_w.len() as f64;
    let max = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return Err(RunError::User(
            "`partition by ais`: the importance weights are not finite; check the energy's domain"
                .into(),
        ));
    }
    let w: Vec<f64> = log_w.iter().map(|l| (l - max).exp()).collect();
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Ok((max + mean.ln(), var.sqrt() / (mean * n.sqrt())))
}

/// `log Z` by enumeration or quadrature.
fn exact_log_partition(
    s: &mut Session,
    partition: &Partition,
    loaded: Option<&Loaded>,
) -> Result<f64, RunError> {
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let outputs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    let mut p = Point::zeros(model);
    let mut lse = LogSumExp::default();
    match *partition {
        Partition::Enumerate => {
            let counts: Vec<usize> = outputs
                .iter()
                .map(|o| model.var(*o).ty.states().unwrap_or(1))
                .collect();
            let total: usize = counts.iter().product();
            for mut k in 0..total {
                for (o, &n) in outputs.iter().zip(&counts).rev() {
                    p.values[o.0 as usize] = model.var(*o).ty.answer(k % n);
                    k /= n;
                }
                lse.push(-s.energy(&mut p)?);
            }
            Ok(lse.value())
        }
        Partition::Grid { points, lo, hi } => {
            // Every real output coordinate: (variable, element, its z-score map).
            let mut coords = Vec::new();
            for o in &outputs {
                let st = loaded.and_then(|l| l.standardization(*o));
                for e in 0..model.var(*o).ty.elements() {
                    let map = st.map(|st| (st.mean[e], st.scale[e]));
                    coords.push((*o, e, map));
                }
            }
            let h = (hi - lo) / points as f64;
            let cells = points.pow(coords.len() as u32);
            for mut c in 0..cells {
                for &(o, e, map) in coords.iter().rev() {
                    let i = c % points;
                    c /= points;
                    let u = lo + (i as f64 + 0.5) * h;
                    p.values[o.0 as usize][e] = match map {
                        Some((mean, scale)) => (u - mean) / scale,
                        None => u,
                    };
                }
                lse.push(-s.energy(&mut p)?);
            }
            Ok(lse.value() + coords.len() as f64 * h.ln())
        }
        Partition::Ais { .. } => unreachable!("estimated by `ais`"),
    }
}

/// The mean energy of the rows of `set` (as loaded: standardized where declared).
pub fn mean_energy(s: &mut Session, set: &Dataset) -> Result<f64, RunError> {
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let mut p = Point::zeros(model);
    let mut total = 0.0;
    for row in 0..set.rows() {
        for (id, v) in model.vars.iter().enumerate() {
            if v.role == Role::Output {
                if let Some(d) = set.var(VarId(id as u32)) {
                    p.values[id].clear();
                    p.values[id].extend_from_slice(d.row(row));
                }
            }
        }
        total += s.energy(&mut p)?;
    }
    Ok(total / set.rows().max(1) as f64)
}

/// The mean pseudo-log-likelihood of the rows of `set`, in nats per row, as scikit-learn's
/// `BernoulliRBM.score_samples` defines it: for each row `v` (every sign output element, `n`
/// of them, in declaration order) one coordinate `i` drawn uniformly from `rng` is flipped to
/// give `v̂`, and the row scores `n · log σ(F(v̂) − F(v))` — `n` times the log-probability of
/// `v_i` given the other coordinates under `P(v) ∝ exp(−F(v))`, since `P(v_i | v_−i) =
/// e^{−F(v)} / (e^{−F(v)} + e^{−F(v̂)})`. It is a one-coordinate stochastic estimate of
/// `Σ_i log P(v_i | v_−i)`; the same parametrisation-free quantity in ±1 or 0/1 units.
pub fn pseudo_log_likelihood(
    s: &mut Session,
    set: &Dataset,
    rng: &mut Rng,
) -> Result<f64, RunError> {
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let outputs: Vec<(usize, usize)> = model
        .vars_of(Role::Output)
        .map(|(id, v)| (id.0 as usize, v.ty.elements()))
        .collect();
    let n: usize = outputs.iter().map(|o| o.1).sum();
    let mut p = Point::zeros(model);
    let mut total = 0.0;
    for row in 0..set.rows() {
        for &(id, _) in &outputs {
            if let Some(d) = set.var(VarId(id as u32)) {
                p.values[id].clear();
                p.values[id].extend_from_slice(d.row(row));
            }
        }
        let f = s.energy(&mut p)?;
        let mut i = rng.below(n as u64) as usize;
        let (slot, at) = outputs
            .iter()
            .find_map(|&(id, len)| {
                if i < len {
                    Some((id, i))
                } else {
                    i -= len;
                    None
                }
            })
            .expect("a coordinate below n");
        p.values[slot][at] = -p.values[slot][at];
        let flipped = s.energy(&mut p)?;
        // n · log σ(F(v̂) − F(v)) = −n · softplus(F(v) − F(v̂)).
        let d = f - flipped;
        total -= n as f64 * (d.max(0.0) + (-d.abs()).exp().ln_1p());
    }
    Ok(total / set.rows().max(1) as f64)
}
