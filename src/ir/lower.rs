//! Lowering: checked [`Model`] → IR [`Graph`]s for the energy, the free energy, the answers
//! of a discrete output and the training loss.
//!
//! Expressions are lowered by substitution: a scope maps each variable to a node, a `let` is
//! lowered once per scope and shared, and a function call lowers the body with its parameters
//! bound to the argument nodes (inlining; calls with equal arguments are lowered once). The
//! checker guarantees functions are not recursive, so this terminates. Depth: an expression is
//! at most `MAX_EXPR_DEPTH` deep (the parser's limit); lets are lowered in index order (their
//! dependency order), so a let chain recurses one level; only a chain of calls recurses as
//! deep as it is long, on a stack that grows on the heap ([`super::with_stack`]).
//!
//! Discrete answers are *enumerated symbolically*: `E(x, k)` for each value `k` of a class or
//! sign output is the energy lowered with the output bound to the constant `k`. Because the
//! graph is hash-consed, every subexpression that does not depend on the output is built once
//! and shared by all `k`; `take` at a constant index becomes a static slice in the simplifier.
//! The same substitution eliminates class latents (`min by enumerate`: a `min.all` over `k`;
//! `marginal(β)`: `−1/β · logsumexp(−β E_k)`). Real latents eliminated by descent are the
//! runtime's job: the graphs read them as inputs.
//!
//! Builtins become compositions of core ops in numerically stable forms: `softplus` and
//! `sigmoid` are stable ops, `softmax(v) = exp(v − logsumexp v)`, `norm = sqrt(dot(v, v))`.
//!
//! Every graph returned is simplified and (in tests and debug builds) verified.

use super::{Binary, Graph, InputKind, NodeId, Op, Reduce, Unary};
use crate::check::{
    BinOp, Builtin, Elim, Expr, ExprKind, FnId, Index, LossKind, Model, Role, VarId,
};
use crate::span::Span;
use crate::types::Ty;
use std::fmt;

/// The checker refuses a model over it (`E0211`); lowering checks again, for graphs built
/// from models that did not come through the checker.
pub use crate::check::MAX_ANSWERS;

/// Why a model could not be lowered (a limit, or a combination the IR does not express).
#[derive(Clone, Debug, PartialEq)]
pub struct LowerError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for LowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LowerError {}

/// Every graph the later stages need for one model.
#[derive(Clone, Debug)]
pub struct Program {
    /// `E(x, y, z)`: every variable is an input (class and sign ones as index / ±1 scalars);
    /// outputs are the terms by name, then `energy`, their sum. What `emit ir` prints.
    pub energy: Graph,
    /// `F(x, y)`: class latents eliminated as declared; real latents are still inputs.
    /// Output `energy`.
    pub free_energy: Graph,
    /// When every output is discrete: output `energies`, the free energy of every answer
    /// (row-major over the outputs' values in declaration order; a sign's −1 comes first).
    pub answers: Option<Graph>,
    /// The per-example training loss (section 6), when the model has one. See [`loss`].
    pub loss: Option<Graph>,
}

/// Lowers every graph of a model.
pub fn build(model: &Model) -> Result<Program, LowerError> {
    Ok(Program {
        energy: energy(model),
        free_energy: free_energy(model)?,
        answers: answers(model)?,
        loss: loss(model)?,
    })
}

/// The energy `E(x, y, z)` with its terms; see [`Program::energy`].
pub fn energy(model: &Model) -> Graph {
    let mut l = Lower::new(model);
    let vars = l.declare(|_| true, "");
    let mut scope = Scope::new(model, vars);
    let terms = l.terms(&mut scope);
    let mut total = None;
    for (name, t) in terms {
        l.g.set_output(name, t);
        total = Some(match total {
            None => t,
            Some(acc) => l.g.add2(acc, t),
        });
    }
    let total = total.unwrap_or_else(|| l.g.constant(0.0));
    l.g.set_output("energy", total);
    l.finish("lower::energy")
}

/// The free energy `F(x, y)`; see [`Program::free_energy`].
pub fn free_energy(model: &Model) -> Result<Graph, LowerError> {
    let mut l = Lower::new(model);
    let vars = l.declare(|v| !eliminated(model, v), "");
    let f = l.free(&vars)?;
    l.g.set_output("energy", f);
    Ok(l.finish("lower::free_energy"))
}

/// The free energies of every answer of the discrete outputs; see [`Program::answers`].
pub fn answers(model: &Model) -> Result<Option<Graph>, LowerError> {
    let outs = outputs(model);
    if outs.is_empty() || outs.iter().any(|&o| !model.var(o).ty.is_discrete()) {
        return Ok(None);
    }
    // Too many to enumerate: the checker allowed it only where nothing needs the answers
    // (the outputs are sampled).
    let count = outs
        .iter()
        .try_fold(1usize, |acc, &o| acc.checked_mul(model.var(o).ty.states()?));
    if count.is_none_or(|c| c > MAX_ANSWERS) {
        return Ok(None);
    }
    let mut l = Lower::new(model);
    let vars = l.declare(
        |v| !eliminated(model, v) && model.var(v).role != Role::Output,
        "",
    );
    let es = l.enumerate(&vars, &outs)?;
    l.g.set_output("energies", es);
    Ok(Some(l.finish("lower::answers")))
}

/// The per-example training loss of spec section 6, or `None` without a `loss` line.
///
/// Inputs: params, inputs, outputs (the label `y_i`), real latents (their values at the
/// label, found by the runtime), and for real outputs `extra` inputs `neg.NAME` for every
/// output and real latent — the answer the runtime supplies: ȳ for the contrastive losses,
/// `argmin_y E` for `perceptron`. Outputs: `loss`, `energy` (`E_i`) and, where used,
/// `energy.neg` (`Ē_i`, or `min_y E` for `perceptron`).
///
/// When every output is discrete, ȳ and `Σ_y` are exact: the free energies of all answers
/// are stacked, `E_i` is the entry at the label, `Ē_i` the `min.all` of that vector with the
/// label's entry masked to `+inf`, and `Σ_y` a `logsumexp`. ȳ is held fixed when
/// differentiating: the masked minimum routes the gradient to `E(ȳ)` only.
pub fn loss(model: &Model) -> Result<Option<Graph>, LowerError> {
    let Some(loss) = &model.loss else {
        return Ok(None);
    };
    let kind = loss.kind;
    let outs = outputs(model);
    let discrete = !outs.is_empty() && outs.iter().all(|&o| model.var(o).ty.is_discrete());
    let needs_answers = kind.uses_point() || kind.sums_answers();
    // `cd` on discrete outputs (`negatives gibbs`): ȳ is a model sample the runtime draws, as
    // for real outputs, not the enumerated most offending answer.
    let sampled = matches!(kind, LossKind::Cd { .. });
    if kind.is_density_loss() && discrete && !sampled {
        return Err(LowerError {
            message: format!(
                "loss `{}` moves real outputs, which a discrete output does not allow",
                kind.name()
            ),
            span: loss.span,
        });
    }
    let mut l = Lower::new(model);
    l.g.set_span(loss.span);
    let vars = l.declare(|v| !eliminated(model, v), "");
    // The point ȳ of each variable (the label's own node where there is none).
    let mut neg_points = vars.clone();
    let (e_pos, e_neg, all) = if !needs_answers {
        (l.free(&vars)?, None, None)
    } else if discrete && !sampled {
        let es = l.enumerate(&vars, &outs)?;
        l.g.set_span(loss.span);
        let k = l.g.shape(es).len() as u32;
        let label = l.answer_index(&vars, &outs);
        let e_pos = l.g.add(Op::Take {
            arg: es,
            index: label,
            axis: 0,
        });
        let e_neg = if kind.needs_negative() {
            let one = l.g.constant(1.0);
            let mask = l.g.add(Op::OneHot {
                arg: one,
                index: label,
                axis: 0,
                len: k,
            });
            let inf = l.g.constant(f64::INFINITY);
            let masked = l.g.select(mask, inf, es);
            Some(l.g.reduce(Reduce::Min, masked))
        } else if kind == LossKind::Perceptron {
            Some(l.g.reduce(Reduce::Min, es))
        } else {
            None
        };
        (e_pos, e_neg, Some(es))
    } else {
        if kind.sums_answers() {
            return Err(LowerError {
                message: format!(
                    "loss `{}` sums over every answer, which a real output does not allow",
                    kind.name()
                ),
                span: loss.span,
            });
        }
        let e_pos = l.free(&vars)?;
        // The negative answer: outputs and real latents from `extra` inputs.
        let neg = l.declare(
            |v| matches!(model.var(v).role, Role::Output | Role::Latent) && !eliminated(model, v),
            "neg.",
        );
        let merged: Vec<NodeId> = vars
            .iter()
            .zip(&neg)
            .map(|(&p, &n)| if n == NONE { p } else { n })
            .collect();
        neg_points = merged.clone();
        (e_pos, Some(l.free(&merged)?), None)
    };
    l.g.set_span(loss.span);
    let g = &mut l.g;
    let neg = || e_neg.expect("the loss needs the negative energy");
    let diff = |g: &mut Graph| g.sub(e_pos, neg());
    let value = match kind {
        LossKind::Energy => e_pos,
        LossKind::Perceptron => diff(g),
        LossKind::Hinge { margin } => {
            let d = diff(g);
            let m = g.constant(margin);
            let t = g.add2(m, d);
            let zero = g.constant(0.0);
            g.binary(Binary::Max, t, zero)
        }
        LossKind::Log => {
            let d = diff(g);
            g.unary(Unary::Softplus, d)
        }
        LossKind::Lvq2 { delta } => {
            let d = diff(g);
            let den = g.scale(delta, neg());
            let q = g.div(d, den);
            let zero = g.constant(0.0);
            let one = g.constant(1.0);
            let t = g.binary(Binary::Max, q, zero);
            g.binary(Binary::Min, one, t)
        }
        LossKind::Mce => {
            let d = diff(g);
            g.unary(Unary::Sigmoid, d)
        }
        LossKind::SquareSquare { margin } => {
            let p = g.unary(Unary::Square, e_pos);
            let m = g.constant(margin);
            let t = g.sub(m, neg());
            let zero = g.constant(0.0);
            let h = g.binary(Binary::Max, t, zero);
            let h2 = g.unary(Unary::Square, h);
            g.add2(p, h2)
        }
        LossKind::SquareExp { gamma } => {
            let p = g.unary(Unary::Square, e_pos);
            let n = g.neg(neg());
            let e = g.unary(Unary::Exp, n);
            let t = g.scale(gamma, e);
            g.add2(p, t)
        }
        LossKind::Cd { alpha } => {
            let d = diff(g);
            let p2 = g.unary(Unary::Square, e_pos);
            let n2 = g.unary(Unary::Square, neg());
            let s = g.add2(p2, n2);
            let t = g.scale(alpha, s);
            g.add2(d, t)
        }
        LossKind::Nce { noise, ratio } => {
            // The logit of "data, not noise" at v: G(v) = −E(v) − log Z − log p_n(v) − log ν.
            // Per example one data point and one noise sample weighted by ν: an unbiased
            // estimate of J = E_data[−log σ(G)] + ν E_noise[−log σ(−G)], the NCE objective
            // with ν noise samples per data sample.
            let log_z = model
                .var_named(crate::check::NCE_LOG_Z)
                .map(|z| vars[z.0 as usize])
                .filter(|&n| n != NONE)
                .ok_or_else(|| LowerError {
                    message: "loss `nce` without its `log Z` param: the model was not checked"
                        .into(),
                    span: loss.span,
                })?;
            let pos_pts: Vec<NodeId> = outs.iter().map(|o| vars[o.0 as usize]).collect();
            let neg_pts: Vec<NodeId> = outs.iter().map(|o| neg_points[o.0 as usize]).collect();
            let logit = |g: &mut Graph, e: NodeId, pts: &[NodeId]| {
                let ln = noise_log_density(g, noise, pts);
                let t = g.add2(e, log_z);
                let t = g.add2(t, ln);
                let t = g.neg(t);
                let c = g.constant(ratio.ln());
                g.sub(t, c)
            };
            let g_pos = logit(g, e_pos, &pos_pts);
            let g_neg = logit(g, neg(), &neg_pts);
            let m = g.neg(g_pos);
            let a = g.unary(Unary::Softplus, m);
            let b = g.unary(Unary::Softplus, g_neg);
            let b = g.scale(ratio, b);
            g.add2(a, b)
        }
        LossKind::Dsm { .. } => {
            // ∇_ỹ E is a derivative: `grad::finish_loss` adds the loss (the IR has no
            // derivative op, and lowering does not differentiate).
            l.g.set_output("energy", e_pos);
            l.g.set_output("energy.neg", neg());
            return Ok(Some(l.finish("lower::loss")));
        }
        LossKind::Nll { beta } | LossKind::Mee { beta } => {
            let es = all.expect("enumerated answers");
            // s = logsumexp(−β E) over every answer.
            let scaled = g.scale(-beta, es);
            let s = g.reduce(Reduce::LogSumExp, scaled);
            if let LossKind::Nll { .. } = kind {
                let t = g.scale(1.0 / beta, s);
                g.add2(e_pos, t)
            } else {
                // 1 − exp(−β E_i − s): the Gibbs probability of the label, never overflowing.
                let b = g.scale(-beta, e_pos);
                let t = g.sub(b, s);
                let p = g.unary(Unary::Exp, t);
                let one = g.constant(1.0);
                g.sub(one, p)
            }
        }
    };
    l.g.set_output("loss", value);
    l.g.set_output("energy", e_pos);
    if let Some(n) = e_neg {
        l.g.set_output("energy.neg", n);
    }
    Ok(Some(l.finish("lower::loss")))
}

/// `log p_n` of the points `pts` (every element independent): for `normal(m, s)`,
/// `Σ −½ ((v − m)/s)² − n (log s + ½ log 2π)`; for `uniform(lo, hi)` the constant
/// `−n log(hi − lo)` (a data point outside the support is scored as if inside).
fn noise_log_density(g: &mut Graph, noise: crate::check::Noise, pts: &[NodeId]) -> NodeId {
    let n: usize = pts.iter().map(|&p| g.shape(p).len()).sum();
    match noise {
        crate::check::Noise::Normal { mean, std } => {
            let mut total =
                g.constant(-(n as f64) * (std.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln()));
            for &p in pts {
                let m = g.constant(mean);
                let d = g.sub(p, m);
                let z = g.scale(1.0 / std, d);
                let sq = g.unary(Unary::Square, z);
                let s = g.sum(sq);
                let s = g.scale(-0.5, s);
                total = g.add2(total, s);
            }
            total
        }
        crate::check::Noise::Uniform { lo, hi } => g.constant(-(n as f64) * (hi - lo).ln()),
    }
}

/// The outputs, in declaration order.
fn outputs(model: &Model) -> Vec<VarId> {
    model.vars_of(Role::Output).map(|(id, _)| id).collect()
}

/// Whether the IR eliminates variable `v` itself (a discrete latent).
fn eliminated(model: &Model, v: VarId) -> bool {
    let var = model.var(v);
    var.role == Role::Latent && var.ty.is_discrete()
}

/// The values a discrete type enumerates, as the `f64`s its input holds.
fn values(ty: &Ty) -> Vec<Vec<f64>> {
    (0..ty.states().unwrap_or(0))
        .map(|k| ty.answer(k))
        .collect()
}

/// The bits of the NaN that stands for a latent marginalised in closed form while its
/// coefficients are found ([`Lower::close`]); the latent's position is added to them.
const PLACEHOLDER: u64 = 0x7ff8_e6bc_0000_0000;

/// A placeholder for variables a scope does not bind; reading one is a lowering bug.
const NONE: NodeId = NodeId(u32::MAX);

/// What variables, lets and calls stand for in one substitution.
struct Scope {
    vars: Vec<NodeId>,
    /// Lets `0..next_let` are lowered (always a prefix: see `ExprKind::Let` in `expr`).
    lets: Vec<Option<NodeId>>,
    next_let: usize,
    calls: super::FxMap<(FnId, Vec<NodeId>), NodeId>,
}

impl Scope {
    fn new(model: &Model, vars: Vec<NodeId>) -> Scope {
        Scope {
            vars,
            lets: vec![None; model.lets.len()],
            next_let: 0,
            calls: Default::default(),
        }
    }
}

struct Lower<'m> {
    m: &'m Model,
    g: Graph,
}

impl<'m> Lower<'m> {
    fn new(m: &'m Model) -> Lower<'m> {
        let mut g = Graph::new();
        g.set_span(m.span);
        Lower { m, g }
    }

    fn finish(self, pass: &str) -> Graph {
        super::debug_verify(&self.g, pass);
        super::simplify(&self.g)
    }

    /// Declares an input for each variable `keep` selects (named `prefix` + its name); the
    /// others map to [`NONE`].
    fn declare(&mut self, keep: impl Fn(VarId) -> bool, prefix: &str) -> Vec<NodeId> {
        let m = self.m;
        let extra = !prefix.is_empty();
        (0..m.vars.len() as u32)
            .map(VarId)
            .map(|id| {
                if !keep(id) {
                    return NONE;
                }
                let v = m.var(id);
                let kind = match v.role {
                    _ if extra => InputKind::Extra,
                    Role::Param => InputKind::Param,
                    Role::Input => InputKind::Input,
                    Role::Output => InputKind::Output,
                    Role::Latent => InputKind::Latent,
                };
                self.g.set_span(v.span);
                self.g
                    .input(format!("{prefix}{}", v.name), kind, v.ty.clone())
            })
            .collect()
    }

    /// The energy terms in `scope`, by name.
    fn terms(&mut self, scope: &mut Scope) -> Vec<(String, NodeId)> {
        let m = self.m;
        m.energy
            .iter()
            .map(|t| (t.name.clone(), self.expr(scope, &t.value, &[])))
            .collect()
    }

    /// The energy (sum of terms) in `scope`.
    fn total(&mut self, scope: &mut Scope) -> NodeId {
        let terms = self.terms(scope);
        self.g.set_span(self.m.span);
        let mut it = terms.into_iter().map(|t| t.1);
        let first = it.next().unwrap_or_else(|| self.g.constant(0.0));
        it.fold(first, |acc, t| self.g.add2(acc, t))
    }

    /// The free energy with `vars` bound: discrete latents eliminated one after another, the
    /// ones in closed form ([`Elim::MarginalClosed`]) last, innermost (see [`Lower::close`]).
    fn free(&mut self, vars: &[NodeId]) -> Result<NodeId, LowerError> {
        let m = self.m;
        let (closed, latents): (Vec<VarId>, Vec<VarId>) = (0..m.vars.len() as u32)
            .map(VarId)
            .filter(|&v| eliminated(m, v))
            .partition(|&v| matches!(m.var(v).elim, Some(Elim::MarginalClosed { .. })));
        // Every combination of the latents' values is a copy of the energy: 30 `class[2]`
        // latents made 2^30 of them (the command ran until memory ran out).
        let count = latents
            .iter()
            .try_fold(1usize, |acc, &z| acc.checked_mul(m.var(z).ty.states()?));
        if count.is_none_or(|c| c > MAX_ANSWERS) {
            return Err(LowerError {
                message: format!(
                    "the class and sign latents have more than {MAX_ANSWERS} combinations of values to eliminate"
                ),
                span: m.var(latents[0]).span,
            });
        }
        self.eliminate(vars.to_vec(), &latents, &closed)
    }

    fn eliminate(
        &mut self,
        vars: Vec<NodeId>,
        latents: &[VarId],
        closed: &[VarId],
    ) -> Result<NodeId, LowerError> {
        let Some((&z, rest)) = latents.split_first() else {
            return self.close(vars, closed);
        };
        let var = self.m.var(z);
        let mut es = Vec::new();
        for k in values(&var.ty) {
            let mut v = vars.clone();
            v[z.0 as usize] = self.value(&var.ty, &k);
            es.push(self.eliminate(v, rest, closed)?);
        }
        self.g.set_span(var.span);
        let stacked = self.g.add(Op::Stack(es));
        Ok(match var.elim {
            Some(Elim::Marginal { beta }) if beta.is_finite() => {
                let s = self.g.scale(-beta, stacked);
                let l = self.g.reduce(Reduce::LogSumExp, s);
                self.g.scale(-1.0 / beta, l)
            }
            _ => self.g.reduce(Reduce::Min, stacked),
        })
    }

    /// The energy with the `closed` sign latents marginalised in closed form (spec section
    /// 13). The checker proved the energy affine in them jointly, `E = E₀ + Σ_j c_j z_j` with
    /// `E₀` (the energy at `z = 0`) and `c = ∂E/∂z` free of every closed `z`, so the sum over
    /// `z ∈ {±1}^n` factorises:
    /// `−1/β log Σ_z e^{−βE} = E₀ − 1/β Σ_j log 2cosh(β c_j)`, and `log 2cosh(x) = softplus(2x) − x`
    /// keeps it finite for any `c`: `F = E₀ + Σ_j c_j − 1/β Σ_j softplus(2β c_j)`.
    ///
    /// `c` comes from [`super::linear::coefficients`] over the energy lowered with each closed
    /// latent bound to a placeholder (a broadcast NaN of its own payload, which nothing else
    /// is): the coefficients never read the placeholder, which is then dead and pruned.
    fn close(&mut self, vars: Vec<NodeId>, closed: &[VarId]) -> Result<NodeId, LowerError> {
        if closed.is_empty() {
            let mut scope = Scope::new(self.m, vars);
            return Ok(self.total(&mut scope));
        }
        let mut at_zero = vars.clone();
        let mut at_z = vars;
        let mut holders = Vec::new();
        for (k, &z) in closed.iter().enumerate() {
            let var = self.m.var(z);
            let shape = var.ty.shape().cloned().unwrap_or_default();
            self.g.set_span(var.span);
            let nan = self.g.constant(f64::from_bits(PLACEHOLDER | k as u64));
            let holder = self.g.broadcast(nan, &shape);
            at_z[z.0 as usize] = holder;
            at_zero[z.0 as usize] = self.g.zeros(&shape);
            holders.push(holder);
        }
        let e = self.total(&mut Scope::new(self.m, at_z));
        let e0 = self.total(&mut Scope::new(self.m, at_zero));
        let cs = super::linear::coefficients(&mut self.g, e, &holders).map_err(|n| LowerError {
            message: format!(
                "the energy is not affine in the sign latents marginalised in closed form ({})",
                closed
                    .iter()
                    .map(|&z| format!("`{}`", self.m.var(z).name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            span: self.g.span(n),
        })?;
        let mut f = e0;
        for (&z, c) in closed.iter().zip(cs) {
            let var = self.m.var(z);
            let Some(Elim::MarginalClosed { beta }) = var.elim else {
                unreachable!("closed latents are MarginalClosed")
            };
            self.g.set_span(var.span);
            if beta.is_infinite() {
                // min over z_j = ±1 of c_j z_j is −|c_j|.
                let a = self.g.unary(Unary::Abs, c);
                let s = self.g.sum(a);
                let t = self.g.neg(s);
                f = self.g.add2(f, t);
                continue;
            }
            let lin = self.g.sum(c);
            let two_bc = self.g.scale(2.0 * beta, c);
            let sp = self.g.unary(Unary::Softplus, two_bc);
            let sp = self.g.sum(sp);
            let sp = self.g.scale(-1.0 / beta, sp);
            let t = self.g.add2(lin, sp);
            f = self.g.add2(f, t);
        }
        Ok(f)
    }

    /// The free energies of every combination of values of the discrete `outs`, as a vector.
    fn enumerate(&mut self, vars: &[NodeId], outs: &[VarId]) -> Result<NodeId, LowerError> {
        let m = self.m;
        let count = outs
            .iter()
            .try_fold(1usize, |acc, &o| acc.checked_mul(m.var(o).ty.states()?));
        if count.is_none_or(|c| c > MAX_ANSWERS) {
            return Err(LowerError {
                message: format!("the outputs have more than {MAX_ANSWERS} answers to enumerate"),
                span: m.var(outs[0]).span,
            });
        }
        // Each output's values as nodes, built once and shared by every combination.
        let nodes: Vec<Vec<NodeId>> = outs
            .iter()
            .map(|&o| {
                let ty = &m.var(o).ty;
                values(ty).iter().map(|k| self.value(ty, k)).collect()
            })
            .collect();
        let mut combos: Vec<Vec<NodeId>> = vec![Vec::new()];
        for node in &nodes {
            combos = combos
                .into_iter()
                .flat_map(|c| node.iter().map(move |&k| [c.clone(), vec![k]].concat()))
                .collect();
        }
        let mut es = Vec::with_capacity(combos.len());
        for combo in combos {
            let mut v = vars.to_vec();
            for (&o, &k) in outs.iter().zip(&combo) {
                v[o.0 as usize] = k;
            }
            es.push(self.free(&v)?);
        }
        self.g.set_span(m.var(outs[0]).span);
        Ok(self.g.add(Op::Stack(es)))
    }

    /// The position of the label (the outputs' inputs) among the enumerated answers.
    fn answer_index(&mut self, vars: &[NodeId], outs: &[VarId]) -> NodeId {
        let mut idx = self.g.constant(0.0);
        for &o in outs {
            let ty = &self.m.var(o).ty;
            let radix = ty.states().expect("the checker bounds the answers") as f64;
            let i = self.index_of(vars[o.0 as usize], ty);
            let r = self.g.constant(radix);
            let t = self.g.mul(idx, r);
            idx = self.g.add2(t, i);
        }
        idx
    }

    /// A discrete value as an index: a class is one already, a sign ±1 maps to 0, 1, and a
    /// sign tensor to its answer number (the first element the most significant bit, as
    /// [`Ty::answer`] counts): `Σ_j (y_j + 1)/2 · 2^(n−1−j)`.
    fn index_of(&mut self, value: NodeId, ty: &Ty) -> NodeId {
        match ty {
            Ty::Sign(s) => {
                let one = self.g.constant(1.0);
                let t = self.g.add2(value, one);
                let bits = self.g.scale(0.5, t);
                if s.is_scalar() {
                    return bits;
                }
                let n = s.len();
                let powers: Vec<f64> = (0..n).map(|j| (1u64 << (n - 1 - j)) as f64).collect();
                let w = self.tensor(&s.0, &powers);
                let weighted = self.g.mul(bits, w);
                self.g.reduce(Reduce::Sum, weighted)
            }
            _ => value,
        }
    }

    /// The node holding one value of a discrete type: a constant, or for a sign tensor the
    /// constants stacked to its shape.
    fn value(&mut self, ty: &Ty, values: &[f64]) -> NodeId {
        match ty.shape() {
            Some(s) if !s.is_scalar() => self.tensor(&s.0, values),
            _ => self.g.constant(values[0]),
        }
    }

    /// Row-major `values` as a tensor of shape `dims`, stacked from constants.
    fn tensor(&mut self, dims: &[usize], values: &[f64]) -> NodeId {
        match dims.split_first() {
            None => self.g.constant(values[0]),
            Some((&n, rest)) => {
                let stride: usize = rest.iter().product();
                let parts: Vec<NodeId> = (0..n)
                    .map(|i| self.tensor(rest, &values[i * stride..(i + 1) * stride]))
                    .collect();
                self.g.add(Op::Stack(parts))
            }
        }
    }

    fn expr(&mut self, scope: &mut Scope, e: &Expr, args: &[NodeId]) -> NodeId {
        match &e.kind {
            ExprKind::Number(v) => {
                self.g.set_span(e.span);
                self.g.constant(*v)
            }
            ExprKind::Var(v) => {
                let n = scope.vars[v.0 as usize];
                assert!(
                    n != NONE,
                    "variable `{}` is not bound in this graph",
                    self.m.var(*v).name
                );
                n
            }
            ExprKind::Let(l) => {
                let l = l.0 as usize;
                // Lets are numbered in dependency order, so lowering every let up to `l` in
                // index order finds each one's own lets already lowered: a chain of lets
                // 100,000 long recurses one level, not 100,000.
                let m = self.m;
                while scope.next_let <= l {
                    let j = scope.next_let;
                    let n = self.expr(scope, &m.lets[j].value, &[]);
                    scope.lets[j] = Some(n);
                    scope.next_let += 1;
                }
                scope.lets[l].expect("lowered above")
            }
            ExprKind::Param(i) => args[*i],
            ExprKind::Vector(xs) => {
                let xs: Vec<NodeId> = xs.iter().map(|x| self.expr(scope, x, args)).collect();
                self.g.set_span(e.span);
                self.g.add(Op::Stack(xs))
            }
            ExprKind::Call(f, xs) => {
                let xs: Vec<NodeId> = xs.iter().map(|x| self.expr(scope, x, args)).collect();
                let key = (*f, xs);
                if let Some(&n) = scope.calls.get(&key) {
                    return n;
                }
                let m = self.m;
                // Functions are inlined, so a chain of calls (`f2(a) = f1(a) * 0.9`, …) is
                // as deep here as in the source; its depth is only bounded by the source's
                // size: the body is lowered on a stack that grows on the heap.
                let n = super::with_stack(|| self.expr(scope, &m.fns[f.0 as usize].body, &key.1));
                scope.calls.insert(key, n);
                n
            }
            ExprKind::Builtin(b, xs) => {
                let xs: Vec<NodeId> = xs.iter().map(|x| self.expr(scope, x, args)).collect();
                self.g.set_span(e.span);
                self.builtin(*b, &xs)
            }
            ExprKind::Index(base, idx) => {
                let mut n = self.expr(scope, base, args);
                let mut axis = 0u32;
                for i in idx {
                    let op = match i {
                        Index::At(k) => {
                            let k = *k as u32;
                            Op::Slice {
                                arg: n,
                                axis,
                                start: k,
                                end: k + 1,
                                keep: false,
                            }
                        }
                        Index::Slice { start, end } => {
                            axis += 1;
                            Op::Slice {
                                arg: n,
                                axis: axis - 1,
                                start: *start as u32,
                                end: *end as u32,
                                keep: true,
                            }
                        }
                        Index::Dynamic(d) => {
                            let v = self.expr(scope, d, args);
                            let index = self.index_of(v, &d.ty);
                            Op::Take {
                                arg: n,
                                index,
                                axis,
                            }
                        }
                    };
                    self.g.set_span(e.span);
                    n = self.g.add(op);
                }
                n
            }
            ExprKind::Transpose(a) => {
                let a = self.expr(scope, a, args);
                self.g.set_span(e.span);
                if self.g.shape(a).rank() == 2 {
                    self.g.add(Op::Transpose(a))
                } else {
                    a
                }
            }
            ExprKind::Neg(a) => {
                let a = self.expr(scope, a, args);
                self.g.set_span(e.span);
                self.g.neg(a)
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.expr(scope, a, args), self.expr(scope, b, args));
                self.g.set_span(e.span);
                match op {
                    BinOp::Add => self.g.binary(Binary::Add, a, b),
                    BinOp::Sub => self.g.binary(Binary::Sub, a, b),
                    BinOp::Mul => self.g.binary(Binary::Mul, a, b),
                    BinOp::Div => self.g.binary(Binary::Div, a, b),
                    BinOp::Pow => self.g.binary(Binary::Pow, a, b),
                    BinOp::MatMul => {
                        let op = match (self.g.shape(a).rank(), self.g.shape(b).rank()) {
                            (2, 2) => Op::MatMul(a, b),
                            (1, 2) => Op::VecMat(a, b),
                            (1, 1) => Op::Dot(a, b),
                            _ => Op::MatVec(a, b),
                        };
                        self.g.add(op)
                    }
                }
            }
        }
    }

    fn builtin(&mut self, b: Builtin, xs: &[NodeId]) -> NodeId {
        let g = &mut self.g;
        let un = |g: &mut Graph, u| g.unary(u, xs[0]);
        match b {
            Builtin::Exp => un(g, Unary::Exp),
            Builtin::Log => un(g, Unary::Log),
            Builtin::Tanh => un(g, Unary::Tanh),
            Builtin::Sigmoid => un(g, Unary::Sigmoid),
            Builtin::Softplus => un(g, Unary::Softplus),
            Builtin::Abs => un(g, Unary::Abs),
            Builtin::Sqrt => un(g, Unary::Sqrt),
            Builtin::Square => un(g, Unary::Square),
            Builtin::Sin => un(g, Unary::Sin),
            Builtin::Cos => un(g, Unary::Cos),
            Builtin::Relu => {
                let zero = g.constant(0.0);
                g.binary(Binary::Max, xs[0], zero)
            }
            Builtin::Sum => g.reduce(Reduce::Sum, xs[0]),
            Builtin::Mean => {
                let n = g.shape(xs[0]).len() as f64;
                let s = g.sum(xs[0]);
                g.scale(1.0 / n, s)
            }
            Builtin::Max => g.reduce(Reduce::Max, xs[0]),
            Builtin::Min => g.reduce(Reduce::Min, xs[0]),
            Builtin::LogSumExp => g.reduce(Reduce::LogSumExp, xs[0]),
            Builtin::Dot => g.dot(xs[0], xs[1]),
            Builtin::SqNorm => g.dot(xs[0], xs[0]),
            Builtin::Norm => {
                let s = g.dot(xs[0], xs[0]);
                g.unary(Unary::Sqrt, s)
            }
            Builtin::Cosine => {
                // ⟨a, b⟩ / max(‖a‖‖b‖, 1e-8) (spec section 4), as ⟨a, b⟩ / sqrt(max(|a|²
                // |b|², 1e-16)): one square root, never of 0, so the value and its gradient
                // stay finite at a zero vector (a descent started at `init = 0`).
                let ab = g.dot(xs[0], xs[1]);
                let aa = g.dot(xs[0], xs[0]);
                let bb = g.dot(xs[1], xs[1]);
                let p = g.mul(aa, bb);
                let floor = g.constant(1e-16);
                let p = g.binary(Binary::Max, p, floor);
                let r = g.unary(Unary::Sqrt, p);
                g.div(ab, r)
            }
            Builtin::Softmax => {
                let l = g.reduce(Reduce::LogSumExp, xs[0]);
                let t = g.sub(xs[0], l);
                g.unary(Unary::Exp, t)
            }
            Builtin::L1 => {
                let a = g.unary(Unary::Abs, xs[0]);
                g.sum(a)
            }
            Builtin::Max2 => g.binary(Binary::Max, xs[0], xs[1]),
            Builtin::Min2 => g.binary(Binary::Min, xs[0], xs[1]),
            Builtin::Pow => g.binary(Binary::Pow, xs[0], xs[1]),
        }
    }
}
