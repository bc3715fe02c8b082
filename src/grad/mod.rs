//! Reverse-mode differentiation over [`ir::Graph`](crate::ir::Graph): one derivative rule per op.
//!
//! [`vjp`] walks the nodes from the output back to the first, holding one adjoint (a node of
//! the same graph) per node, and applies the rule of each node's op to push its adjoint to
//! its arguments. Invariants:
//! * **one rule per op**, in one exhaustive `match` without a `_` arm ([`rule`]): an op added
//!   to the IR does not compile until it has a rule. Shape ops are each other's transposes:
//!   `sum ↔ broadcast`, `slice ↔ pad`, `take ↔ onehot`, `stack ↔ slice`, `transpose ↔
//!   transpose`, `matvec ↔ vecmat/outer`;
//! * **fan-out accumulates with `add`**: a node used twice receives the sum of both adjoints;
//! * **only what is needed is built**: a rule pushes to an argument only when that argument
//!   depends on some `wrt` node (activity analysis), so constants, data inputs and
//!   discrete indices get no gradient code;
//! * **forward values are shared**: rules refer to the forward nodes (e.g. `exp`'s rule
//!   multiplies by the `exp` node itself), so the gradient program reuses them — with
//!   hash-consing this is what keeps its cost a small multiple of the function's;
//! * **spans**: every node a rule makes carries the span of the node being differentiated.
//!
//! Elementwise ops broadcast scalars, so a scalar argument of a tensor-shaped op receives the
//! sum of its adjoint (`mul` uses `dot` for that). Non-smooth points take one-sided
//! conventions: `max`/`relu` route the gradient to the first argument on ties, `abs` gets
//! `sign`, `max.all` splits it evenly between tied maxima (as JAX does).

use crate::check::{LossKind, Model, Role};
use crate::ir::{self, Binary, Cmp, Graph, InputKind, NodeId, Op, Reduce, Unary};

/// Adjoints of `wrt` for the scalar `output`: the nodes computing `∂output/∂wrt[i]`, added to
/// `g`. A `wrt` node the output does not depend on gets zeros of its shape.
pub fn vjp(g: &mut Graph, output: NodeId, wrt: &[NodeId]) -> Vec<NodeId> {
    assert!(
        g.shape(output).is_scalar(),
        "vjp of a non-scalar output; use vjp_seeded"
    );
    let span = g.current_span();
    g.set_span(g.span(output));
    let one = g.constant(1.0);
    g.set_span(span);
    vjp_seeded(g, output, one, wrt)
}

/// Vector–Jacobian product: `seedᵀ · ∂output/∂wrt[i]` for each `wrt` node, `seed` being a
/// node of `output`'s shape.
pub fn vjp_seeded(g: &mut Graph, output: NodeId, seed: NodeId, wrt: &[NodeId]) -> Vec<NodeId> {
    assert_eq!(
        g.shape(seed),
        g.shape(output),
        "seed shape differs from output shape"
    );
    let saved_span = g.current_span();
    let end = output.index() + 1;
    // Activity: which nodes depend on a `wrt` node.
    let mut active = vec![false; end];
    for w in wrt {
        if w.index() < end {
            active[w.index()] = true;
        }
    }
    for n in 0..end {
        if !active[n] {
            let mut any = false;
            g.op(NodeId(n as u32))
                .for_each_arg(|a| any |= active[a.index()]);
            active[n] = any;
        }
    }
    // Each node's adjoint contributions, combined when the sweep reaches the node.
    let mut adj: Vec<Vec<NodeId>> = vec![Vec::new(); end];
    adj[output.index()].push(seed);
    for n in (0..end).rev() {
        if adj[n].is_empty() || !active[n] {
            continue;
        }
        let node = NodeId(n as u32);
        g.set_span(g.span(node));
        let gn = accumulate(g, std::mem::take(&mut adj[n]));
        adj[n].push(gn);
        let op = g.op(node).clone();
        let mut ctx = Ctx {
            g: &mut *g,
            active: &active,
            adj: &mut adj,
        };
        rule(&mut ctx, node, &op, gn);
    }
    let grads = wrt
        .iter()
        .map(|&w| match adj.get(w.index()) {
            Some(c) if !c.is_empty() => {
                g.set_span(g.span(w));
                accumulate(g, c.clone())
            }
            _ => {
                let s = g.shape(w).clone();
                g.zeros(&s)
            }
        })
        .collect();
    g.set_span(saved_span);
    grads
}

/// The state rules write to.
struct Ctx<'a> {
    g: &'a mut Graph,
    active: &'a [bool],
    adj: &'a mut [Vec<NodeId>],
}

impl Ctx<'_> {
    /// Whether argument `a` needs an adjoint.
    fn wants(&self, a: NodeId) -> bool {
        self.active[a.index()]
    }

    /// Adds `d` to `a`'s adjoint, summing it first if `a` is a scalar broadcast by its user.
    fn push(&mut self, a: NodeId, d: NodeId) {
        if !self.wants(a) {
            return;
        }
        let d = if self.g.shape(a).is_scalar() && !self.g.shape(d).is_scalar() {
            self.g.sum(d)
        } else {
            d
        };
        debug_assert_eq!(self.g.shape(a), self.g.shape(d), "adjoint shape of {a}");
        self.adj[a.index()].push(d);
    }
}

/// The sum of a node's adjoint contributions (fan-out accumulates with `add`).
///
/// Contributions that are single entries padded along axis 0 — what the adjoints of `stack`
/// and of `v[k]` for every `k` give — are gathered into one `stack` instead of a chain of
/// padded adds, so enumerating `K` answers costs `O(K)` in the gradient, not `O(K²)`.
fn accumulate(g: &mut Graph, contributions: Vec<NodeId>) -> NodeId {
    let (pads, mut terms): (Vec<NodeId>, Vec<NodeId>) = contributions.into_iter().partition(|&c| {
        matches!(
            g.op(c),
            Op::Pad {
                axis: 0,
                keep: false,
                ..
            }
        )
    });
    if pads.len() >= 2 {
        let (len, entry) = match *g.op(pads[0]) {
            Op::Pad { arg, len, .. } => (len as usize, g.shape(arg).clone()),
            _ => unreachable!("partitioned to pads"),
        };
        let mut slots: Vec<Option<NodeId>> = vec![None; len];
        for &p in &pads {
            if let Op::Pad { arg, start, .. } = *g.op(p) {
                let slot = &mut slots[start as usize];
                *slot = Some(match *slot {
                    Some(prev) => g.add2(prev, arg),
                    None => arg,
                });
            }
        }
        let entries: Vec<NodeId> = slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| g.zeros(&entry)))
            .collect();
        terms.insert(0, g.add(Op::Stack(entries)));
    } else {
        terms.extend(pads);
    }
    let mut it = terms.into_iter();
    let first = it
        .next()
        .expect("a node with an adjoint has a contribution");
    it.fold(first, |acc, t| g.add2(acc, t))
}

/// The derivative rule of each op: pushes the adjoint `gn` of node `n = op(args)` to `args`.
fn rule(c: &mut Ctx<'_>, n: NodeId, op: &Op, gn: NodeId) {
    match *op {
        Op::Const(_) | Op::Input(_) | Op::Cmp(..) => {}
        Op::Unary(u, a) => {
            if !c.wants(a) {
                return;
            }
            let g = &mut *c.g;
            let d = match u {
                Unary::Neg => g.neg(gn),
                Unary::Exp => g.mul(gn, n),
                Unary::Log => g.div(gn, a),
                Unary::Tanh => {
                    let one = g.constant(1.0);
                    let y2 = g.unary(Unary::Square, n);
                    let t = g.sub(one, y2);
                    g.mul(gn, t)
                }
                Unary::Sigmoid => {
                    let one = g.constant(1.0);
                    let t = g.sub(one, n);
                    let t = g.mul(n, t);
                    g.mul(gn, t)
                }
                Unary::Softplus => {
                    let s = g.unary(Unary::Sigmoid, a);
                    g.mul(gn, s)
                }
                Unary::Abs => {
                    let s = g.unary(Unary::Sign, a);
                    g.mul(gn, s)
                }
                // Piecewise constant: no gradient flows.
                Unary::Sign => return,
                Unary::Sqrt => {
                    let t = g.scale(2.0, n);
                    g.div(gn, t)
                }
                Unary::Square => {
                    let t = g.scale(2.0, a);
                    g.mul(gn, t)
                }
                Unary::Sin => {
                    let t = g.unary(Unary::Cos, a);
                    g.mul(gn, t)
                }
                Unary::Cos => {
                    let t = g.unary(Unary::Sin, a);
                    let t = g.mul(gn, t);
                    g.neg(t)
                }
            };
            c.push(a, d);
        }
        Op::Binary(b, x, y) => {
            let (wx, wy) = (c.wants(x), c.wants(y));
            let g = &mut *c.g;
            let (dx, dy) = match b {
                Binary::Add => (wx.then_some(gn), wy.then_some(gn)),
                Binary::Sub => (wx.then_some(gn), wy.then(|| g.neg(gn))),
                Binary::Mul => (
                    wx.then(|| mul_adjoint(g, gn, y, x)),
                    wy.then(|| mul_adjoint(g, gn, x, y)),
                ),
                Binary::Div => {
                    let dx = wx.then(|| g.div(gn, y));
                    let dy = wy.then(|| {
                        let q = g.div(n, y);
                        let t = g.mul(gn, q);
                        g.neg(t)
                    });
                    (dx, dy)
                }
                Binary::Pow => {
                    let dx = wx.then(|| {
                        let one = g.constant(1.0);
                        let e = g.sub(y, one);
                        let p = g.binary(Binary::Pow, x, e);
                        let t = g.mul(y, p);
                        g.mul(gn, t)
                    });
                    let dy = wy.then(|| {
                        let l = g.unary(Unary::Log, x);
                        let t = g.mul(n, l);
                        g.mul(gn, t)
                    });
                    (dx, dy)
                }
                Binary::Max | Binary::Min => {
                    // `x` wins ties: c = x ≥ y for max, x ≤ y for min.
                    let cond = if b == Binary::Max {
                        g.cmp(Cmp::Le, y, x)
                    } else {
                        g.cmp(Cmp::Le, x, y)
                    };
                    let zero = g.constant(0.0);
                    (
                        wx.then(|| g.select(cond, gn, zero)),
                        wy.then(|| g.select(cond, zero, gn)),
                    )
                }
            };
            if let Some(d) = dx {
                c.push(x, d);
            }
            if let Some(d) = dy {
                c.push(y, d);
            }
        }
        Op::Select(cond, x, y) => {
            let zero = c.g.constant(0.0);
            if c.wants(x) {
                let d = c.g.select(cond, gn, zero);
                c.push(x, d);
            }
            if c.wants(y) {
                let d = c.g.select(cond, zero, gn);
                c.push(y, d);
            }
        }
        Op::MatVec(a, x) => {
            if c.wants(a) {
                let d = c.g.add(Op::Outer(gn, x));
                c.push(a, d);
            }
            if c.wants(x) {
                let d = c.g.add(Op::VecMat(gn, a));
                c.push(x, d);
            }
        }
        Op::VecMat(x, a) => {
            if c.wants(x) {
                let d = c.g.add(Op::MatVec(a, gn));
                c.push(x, d);
            }
            if c.wants(a) {
                let d = c.g.add(Op::Outer(x, gn));
                c.push(a, d);
            }
        }
        Op::MatMul(a, b) => {
            if c.wants(a) {
                let bt = c.g.add(Op::Transpose(b));
                let d = c.g.add(Op::MatMul(gn, bt));
                c.push(a, d);
            }
            if c.wants(b) {
                let at = c.g.add(Op::Transpose(a));
                let d = c.g.add(Op::MatMul(at, gn));
                c.push(b, d);
            }
        }
        Op::Dot(a, b) => {
            if c.wants(a) {
                let d = c.g.mul(gn, b);
                c.push(a, d);
            }
            if c.wants(b) {
                let d = c.g.mul(gn, a);
                c.push(b, d);
            }
        }
        Op::Outer(a, b) => {
            if c.wants(a) {
                let d = c.g.add(Op::MatVec(gn, b));
                c.push(a, d);
            }
            if c.wants(b) {
                let d = c.g.add(Op::VecMat(a, gn));
                c.push(b, d);
            }
        }
        Op::Transpose(a) => {
            if c.wants(a) {
                let d = c.g.add(Op::Transpose(gn));
                c.push(a, d);
            }
        }
        Op::Reduce(r, a) => {
            if !c.wants(a) {
                return;
            }
            let g = &mut *c.g;
            let d = match r {
                Reduce::Sum => {
                    let s = g.shape(a).clone();
                    g.broadcast(gn, &s)
                }
                Reduce::Max | Reduce::Min => {
                    let mask = g.cmp(Cmp::Eq, a, n);
                    let count = g.sum(mask);
                    let share = g.div(gn, count);
                    g.mul(mask, share)
                }
                Reduce::LogSumExp => {
                    let t = g.sub(a, n);
                    let p = g.unary(Unary::Exp, t);
                    g.mul(p, gn)
                }
            };
            c.push(a, d);
        }
        Op::Broadcast(a, _) => {
            if c.wants(a) {
                let d = c.g.sum(gn);
                c.push(a, d);
            }
        }
        Op::Slice {
            arg,
            axis,
            start,
            end: _,
            keep,
        } => {
            if c.wants(arg) {
                let len = c.g.shape(arg).0[axis as usize] as u32;
                let d = c.g.add(Op::Pad {
                    arg: gn,
                    axis,
                    start,
                    len,
                    keep,
                });
                c.push(arg, d);
            }
        }
        Op::Pad {
            arg,
            axis,
            start,
            len: _,
            keep,
        } => {
            if c.wants(arg) {
                let width = if keep {
                    c.g.shape(arg).0[axis as usize] as u32
                } else {
                    1
                };
                let d = c.g.add(Op::Slice {
                    arg: gn,
                    axis,
                    start,
                    end: start + width,
                    keep,
                });
                c.push(arg, d);
            }
        }
        Op::Take { arg, index, axis } => {
            if c.wants(arg) {
                let len = c.g.shape(arg).0[axis as usize] as u32;
                let d = c.g.add(Op::OneHot {
                    arg: gn,
                    index,
                    axis,
                    len,
                });
                c.push(arg, d);
            }
        }
        Op::OneHot {
            arg,
            index,
            axis,
            len: _,
        } => {
            if c.wants(arg) {
                let d = c.g.add(Op::Take {
                    arg: gn,
                    index,
                    axis,
                });
                c.push(arg, d);
            }
        }
        Op::Stack(ref xs) => {
            for (i, &x) in xs.iter().enumerate() {
                if c.wants(x) {
                    let i = i as u32;
                    let d = c.g.add(Op::Slice {
                        arg: gn,
                        axis: 0,
                        start: i,
                        end: i + 1,
                        keep: false,
                    });
                    c.push(x, d);
                }
            }
        }
    }
}

/// The adjoint of `x` in `x · other` under `gn`: `gn · other`, or `⟨gn, other⟩` when `x` is a
/// scalar broadcast against a tensor (one fused `dot` instead of a product and a sum).
fn mul_adjoint(g: &mut Graph, gn: NodeId, other: NodeId, x: NodeId) -> NodeId {
    // A scalar `x` against a tensor result means `other` has the result's shape.
    if g.shape(x).is_scalar() && !g.shape(gn).is_scalar() {
        g.dot(gn, other)
    } else {
        g.mul(gn, other)
    }
}

/// The training loss graph of `model` ([`ir::loss`]) completed where the loss is itself a
/// derivative of the energy: `dsm(sigma)`'s `½ σ² Σ ‖∇_ỹ E(ỹ) − (ỹ − y)/σ²‖²` over the real
/// outputs, ỹ the `neg.NAME` inputs the runtime fills with `y + σ ε`. Differentiating that
/// with respect to the params ([`with_gradients`]) is second-order reverse mode: [`vjp`] run
/// over a graph that already holds a gradient, every rule's output being ops that have rules.
pub fn finish_loss(model: &Model, loss: Option<Graph>) -> Option<Graph> {
    let g = loss?;
    match model.loss.as_ref().map(|l| l.kind) {
        Some(LossKind::Dsm { sigma }) => Some(score_matching(model, &g, sigma)),
        _ => Some(g),
    }
}

/// [`finish_loss`] for `dsm`: `g` has output `energy.neg` (the energy at ỹ) and, per real
/// output `y`, inputs `y` and `neg.y`.
fn score_matching(model: &Model, g: &Graph, sigma: f64) -> Graph {
    let mut g = g.clone();
    let e_noisy = g
        .output("energy.neg")
        .expect("a dsm loss graph has the energy at the noisy point");
    let mut pairs = Vec::new();
    for (_, v) in model.vars_of(Role::Output) {
        if let (Some(y), Some(noisy)) = (
            g.input_named(&v.name),
            g.input_named(&format!("neg.{}", v.name)),
        ) {
            pairs.push((y, noisy));
        }
    }
    let span = g.current_span();
    g.set_span(g.span(e_noisy));
    let wrt: Vec<NodeId> = pairs.iter().map(|p| p.1).collect();
    let scores = vjp(&mut g, e_noisy, &wrt);
    let mut total = g.constant(0.0);
    for ((y, noisy), score) in pairs.into_iter().zip(scores) {
        let d = g.sub(noisy, y);
        let target = g.scale(1.0 / (sigma * sigma), d);
        let r = g.sub(score, target);
        let sq = g.unary(Unary::Square, r);
        let s = g.sum(sq);
        total = g.add2(total, s);
    }
    let loss = g.scale(0.5 * sigma * sigma, total);
    g.set_span(span);
    g.set_output("loss", loss);
    ir::debug_verify(&g, "grad::score_matching");
    ir::simplify(&g)
}

/// The name of the gradient output for input `name`.
pub fn grad_name(name: &str) -> String {
    format!("{GRAD_PREFIX}{name}")
}

/// What the name of a gradient output starts with, before the variable's name.
pub const GRAD_PREFIX: &str = "grad.";

/// A copy of `g` with `grad.NAME` outputs — the gradient of the scalar output `of` with
/// respect to every real input of the given kinds — simplified and pruned. Discrete inputs
/// (class, sign) get no gradient. Inputs keep their order, so a point for `g` is a point for
/// the result.
pub fn with_gradients(g: &Graph, of: &str, kinds: &[InputKind]) -> Graph {
    // Simplify first: stable rewrites such as `log(1 + exp u) → softplus u` must happen
    // before their derivatives are taken, or the gradient keeps the unstable form.
    let mut g = ir::simplify(g);
    let out = g
        .output(of)
        .unwrap_or_else(|| panic!("graph has no output `{of}`"));
    let mut names = Vec::new();
    let mut wrt = Vec::new();
    for inp in g.inputs.clone() {
        if kinds.contains(&inp.kind) && !inp.ty.is_discrete() {
            if let Some(n) = g.input_named(&inp.name) {
                names.push(grad_name(&inp.name));
                wrt.push(n);
            }
        }
    }
    let grads = vjp(&mut g, out, &wrt);
    for (name, d) in names.into_iter().zip(grads) {
        g.set_output(name, d);
    }
    ir::debug_verify(&g, "grad::vjp");
    let g = ir::simplify(&g);
    ir::debug_verify(&g, "grad::with_gradients");
    g
}

/// The gradient program `emit grad` prints: `energy`, its terms and `grad.NAME` for every
/// real param, output and latent.
pub fn energy_gradient(energy: &Graph) -> Graph {
    with_gradients(
        energy,
        "energy",
        &[InputKind::Param, InputKind::Output, InputKind::Latent],
    )
}

/// Costs of a gradient program: of the function alone (`of`) and of everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GradCost {
    pub function: u64,
    pub total: u64,
}

impl GradCost {
    pub fn of(g: &Graph, of: &str) -> GradCost {
        let f = g.output(of).map(|n| g.cost(&[n])).unwrap_or(0);
        let all: Vec<NodeId> = g.outputs.iter().map(|o| o.1).collect();
        GradCost {
            function: f,
            total: g.cost(&all),
        }
    }
}

/// The text of `ebmc emit grad`: the program, then a comment line with the op counts.
pub fn emit_text(g: &Graph, of: &str) -> String {
    let c = GradCost::of(g, of);
    let ratio = if c.function == 0 {
        0.0
    } else {
        c.total as f64 / c.function as f64
    };
    format!(
        "{g}// cost: {of} {}, {of} and gradient {} ({ratio:.2}x), {} nodes\n",
        c.function,
        c.total,
        g.len()
    )
}
