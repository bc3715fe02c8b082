//! Gibbs sampling of discrete variables: every coordinate redrawn from its exact conditional
//! `P(v_j = s | rest) ∝ exp(−β E(…, v_j = s, …))`, its values enumerated (`±1` for a sign,
//! `0..k` for a class), coordinates in order, `sweeps` times.
//!
//! A variable the checker found the energy affine in (no term couples two of its
//! coordinates: an RBM's visible or hidden layer, [`crate::check::Sampler::Gibbs`]'s `blocks`)
//! is redrawn as one block: its coordinates are conditionally independent given the rest, so
//! every coordinate's conditional is taken at the same state and all are drawn together.
//!
//! A block whose conditionals the compiler derived ([`Entry::GibbsFields`]: `c = ∂E/∂v` of a
//! `sign` variable the energy is affine in) is drawn from one call: `E` changes by `2 c_j` when
//! `v_j` goes from −1 to +1, so `P(v_j = +1 | rest) = σ(−2β c_j)`. Other blocks evaluate the
//! energy at each value of each coordinate.
//!
//! `sign` latents summed out in closed form ([`Elim::MarginalClosed`]) are sampled alongside
//! (spec section 13): each sweep first redraws them given the rest (`z | y`, one block: the
//! checker proved the energy affine in them), then the sampled variables given them
//! (`y | z`), on the energy with the latents as inputs. Both steps are exact conditionals of
//! the joint `P(y, z) ∝ exp(−β E)`, so they leave it, and its marginal `P(y) ∝ exp(−β F(y))`,
//! invariant: an RBM's block Gibbs sampler (CD-k's negatives when a `cd` loss draws them).
//! Chains of a model with latents enumerated by the IR (not sampled, not closed) evaluate
//! the free energy instead, coordinate by coordinate: eliminating a latent couples the
//! coordinates it interacts with, so no block of the energy is a block of the free energy.
//!
//! Each chain draws from its own generator; chains are independent and run one after another.

use super::{Chains, Given, Stats};
use crate::check::{Elim, Role, VarId};
use crate::compile::{Entry, Input, Kernel, Output};
use crate::rng::Rng;
use crate::runtime::session::{Params, Point, RunError, Session};
use crate::types::Ty;

/// The energy `E(x, y, z)` with the latents as inputs ([`Entry::Energy`]): what a chain
/// that samples latents alongside the outputs (an RBM's hidden layer) evaluates. Without
/// sampled latents, chains evaluate the free energy, in which latents are eliminated as
/// declared.
struct Raw {
    kernel: Kernel,
    /// Per input port: a param's `(offset, len)` in the params, or a variable.
    sources: Vec<Result<(usize, usize), usize>>,
    energy: usize,
    loaded: Option<u64>,
}

impl Raw {
    fn new(session: &Session) -> Result<Raw, RunError> {
        Raw::of(session, Entry::Energy)
            .ok_or_else(|| RunError::Compile("no energy entry point".into()))
    }

    /// `entry` bound to the session's params and a point's variables; `None` when the model
    /// has no such entry point (or it has no energy).
    fn of(session: &Session, entry: Entry) -> Option<Raw> {
        let kernel = session.code.kernel(entry)?;
        let e = kernel.entry();
        let sources = e
            .inputs
            .iter()
            .map(|p| match p.what {
                Input::Value(v) => match session.param_slices[v.0 as usize] {
                    Some(s) => Ok(s),
                    None => Err(v.0 as usize),
                },
                _ => Err(usize::MAX),
            })
            .collect();
        let energy = e.outputs.iter().position(|p| p.what == Output::Energy)?;
        Some(Raw {
            kernel,
            sources,
            energy,
            loaded: None,
        })
    }

    fn call(&mut self, params: &Params, p: &Point) -> Result<f64, RunError> {
        self.kernel.ready()?;
        let fresh = self.loaded == Some(params.version());
        for (k, src) in self.sources.iter().enumerate() {
            match *src {
                Ok(_) if fresh => {}
                Ok((o, l)) => self.kernel.input_mut(k).copy_from_slice(&params[o..o + l]),
                Err(i) => {
                    let v = p.values.get(i).ok_or_else(|| {
                        RunError::Compile("the energy reads a value no point has".into())
                    })?;
                    super::copy_checked(self.kernel.input_mut(k), v)?;
                }
            }
        }
        self.loaded = Some(params.version());
        self.kernel.call()?;
        Ok(self.kernel.output(self.energy)[0])
    }
}

/// [`Entry::GibbsFields`] bound: the energy and `∂E/∂v` of the `sign` variables it has
/// fields for, at one state.
struct Fields {
    raw: Raw,
    /// Per variable of the model: its field's output port.
    ports: Vec<Option<usize>>,
}

impl Fields {
    fn new(session: &Session) -> Option<Fields> {
        let raw = Raw::of(session, Entry::GibbsFields)?;
        let mut ports = vec![None; session.model().vars.len()];
        for (k, p) in raw.kernel.entry().outputs.iter().enumerate() {
            if let Output::Grad(v) = p.what {
                ports[v.0 as usize] = Some(k);
            }
        }
        Some(Fields { raw, ports })
    }

    /// Evaluates at `p`; the energy, then [`Fields::field`] reads a variable's.
    fn call(&mut self, params: &Params, p: &Point) -> Result<f64, RunError> {
        self.raw.call(params, p)
    }

    fn field(&self, v: VarId) -> Option<&[f64]> {
        self.ports[v.0 as usize].map(|k| self.raw.kernel.output(k))
    }
}

/// The energy a Gibbs chain evaluates: the raw energy when it samples latents, else the
/// session's free energy.
fn energy(raw: &mut Option<Raw>, session: &mut Session, p: &mut Point) -> Result<f64, RunError> {
    match raw {
        Some(r) => r.call(&session.params, p),
        None => session.energy(p),
    }
}

/// A value of a discrete variable drawn uniformly.
pub(super) fn uniform_value(ty: &Ty, rng: &mut Rng) -> f64 {
    match ty {
        Ty::Class(k) => rng.below(*k as u64) as f64,
        Ty::Sign(_) => {
            if rng.below(2) == 0 {
                -1.0
            } else {
                1.0
            }
        }
        Ty::Real(_) => 0.0,
    }
}

/// The values a coordinate of `ty` takes, in order.
fn values(ty: &Ty) -> Vec<f64> {
    match ty {
        Ty::Class(k) => (0..*k).map(|i| i as f64).collect(),
        Ty::Sign(_) => vec![-1.0, 1.0],
        Ty::Real(_) => Vec::new(),
    }
}

/// Draws an index from `P(i) ∝ exp(−β (e_i − min e))`; a NaN energy is never drawn.
pub(super) fn draw_index(
    energies: &[f64],
    beta: f64,
    rng: &mut Rng,
    weights: &mut Vec<f64>,
) -> Option<usize> {
    let min = energies
        .iter()
        .copied()
        .filter(|e| !e.is_nan())
        .fold(f64::INFINITY, f64::min);
    if !min.is_finite() {
        return None;
    }
    weights.clear();
    weights.extend(energies.iter().map(|&e| {
        if e.is_nan() {
            0.0
        } else {
            (-beta * (e - min)).exp()
        }
    }));
    let total: f64 = weights.iter().sum();
    let mut u = rng.uniform() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return Some(i);
        }
        u -= w;
    }
    weights.iter().rposition(|w| *w > 0.0)
}

/// What a Gibbs chain of `chains` evaluates and draws besides its variables: whether it runs
/// on the raw energy (every discrete latent it does not name is summed out in closed form),
/// and then those latents with their element counts, sampled alongside; else `(false, [])`
/// and the chain runs on the free energy.
pub(super) fn alongside(chains: &Chains) -> (bool, Vec<(VarId, usize)>) {
    let model = &chains.code.model;
    let sampled = |v: VarId| chains.vars.iter().any(|l| l.0 == v);
    let latents: Vec<VarId> = model
        .vars_of(Role::Latent)
        .filter(|(_, v)| v.ty.is_discrete())
        .map(|(id, _)| id)
        .filter(|&id| !sampled(id))
        .collect();
    // A minimised latent (β = ∞) is no random variable to draw.
    let closed = |id: VarId| matches!(model.var(id).elim, Some(Elim::MarginalClosed { beta }) if beta.is_finite());
    if latents.iter().all(|&id| closed(id)) {
        let aux = latents
            .iter()
            .map(|&id| (id, model.var(id).ty.elements()))
            .collect();
        (true, aux)
    } else {
        (false, Vec::new())
    }
}

/// `σ(−2β c)`: the probability of +1 for a sign coordinate whose energy changes by `2c` from
/// −1 to +1, without overflow.
fn plus_probability(c: f64, beta: f64) -> f64 {
    let t = 2.0 * beta * c;
    if t >= 0.0 {
        let e = (-t).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + t.exp())
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    chains: &Chains,
    session: &mut Session,
    sweeps: usize,
    beta: f64,
    blocks: &[VarId],
    given: Given,
    state: &mut [f64],
    rngs: &mut [Rng],
    stats: &mut Stats,
) -> Result<(), RunError> {
    let width = chains.width.max(1);
    let model = std::sync::Arc::clone(&chains.code);
    let model = &model.model;
    let (raw_ok, aux) = alongside(chains);
    let samples_latents = !aux.is_empty()
        || chains
            .vars
            .iter()
            .any(|(v, _, _)| model.var(*v).role == Role::Latent);
    let mut raw = if samples_latents {
        Some(Raw::new(session)?)
    } else {
        None
    };
    let mut fields = if raw_ok { Fields::new(session) } else { None };
    let no_blocks: &[VarId] = &[];
    let blocks = if raw_ok { blocks } else { no_blocks };
    // Per step of a sweep: the closed latents first (as blocks), then the sampled variables.
    let steps: Vec<(VarId, usize, bool)> = aux
        .iter()
        .map(|&(v, len)| (v, len, true))
        .chain(
            chains
                .vars
                .iter()
                .map(|&(v, _, len)| (v, len, blocks.contains(&v) && len > 1)),
        )
        .collect();
    let domains: Vec<Vec<f64>> = steps
        .iter()
        .map(|(v, _, _)| values(&model.var(*v).ty))
        .collect();
    let mut energies = Vec::new();
    let mut weights = Vec::new();
    // A block's energies: per coordinate, per value.
    let mut table: Vec<f64> = Vec::new();
    for (k, (row, rng)) in state.chunks_mut(width).zip(rngs.iter_mut()).enumerate() {
        let mut p = given.point(k).clone();
        super::write_values(chains, row, &mut p);
        let mut current = energy(&mut raw, session, &mut p)?;
        for _ in 0..sweeps {
            for (j, &(v, len, block)) in steps.iter().enumerate() {
                let dom = &domains[j];
                let slot = v.0 as usize;
                if block {
                    if let Some(f) = fields.as_mut().filter(|f| f.ports[slot].is_some()) {
                        // Every coordinate's conditional from the field `∂E/∂v`, all drawn.
                        let e = f.call(&session.params, &p)?;
                        let c = f.field(v).expect("a field port");
                        let mut moved = e;
                        for (i, &ci) in c.iter().enumerate() {
                            let q = plus_probability(ci, beta);
                            if !q.is_finite() {
                                return Err(not_finite(model, v));
                            }
                            let s = if rng.uniform() < q { 1.0 } else { -1.0 };
                            moved += ci * (s - p.values[slot][i]);
                            p.values[slot][i] = s;
                        }
                        current = moved;
                        continue;
                    }
                    // Every coordinate's conditional at the same state, then all drawn.
                    table.clear();
                    for i in 0..len {
                        let keep = p.values[slot][i];
                        for &s in dom {
                            let e = if s == keep {
                                current
                            } else {
                                p.values[slot][i] = s;
                                energy(&mut raw, session, &mut p)?
                            };
                            table.push(e);
                        }
                        p.values[slot][i] = keep;
                    }
                    for i in 0..len {
                        let es = &table[i * dom.len()..(i + 1) * dom.len()];
                        let pick = draw_index(es, beta, rng, &mut weights)
                            .ok_or_else(|| not_finite(model, v))?;
                        p.values[slot][i] = dom[pick];
                    }
                    current = energy(&mut raw, session, &mut p)?;
                    continue;
                }
                for i in 0..len {
                    let keep = p.values[slot][i];
                    energies.clear();
                    for &s in dom {
                        let e = if s == keep {
                            current
                        } else {
                            p.values[slot][i] = s;
                            energy(&mut raw, session, &mut p)?
                        };
                        energies.push(e);
                    }
                    let pick = draw_index(&energies, beta, rng, &mut weights)
                        .ok_or_else(|| not_finite(model, v))?;
                    p.values[slot][i] = dom[pick];
                    current = energies[pick];
                }
            }
        }
        for &(v, o, len) in &chains.vars {
            row[o..o + len].copy_from_slice(&p.values[v.0 as usize]);
        }
        stats.energies[k] = current;
    }
    Ok(())
}

fn not_finite(model: &crate::check::Model, v: crate::check::VarId) -> RunError {
    RunError::User(format!(
        "gibbs on `{}`: every value of a coordinate has a NaN or infinite energy; check the energy's domain",
        model.var(v).name
    ))
}
