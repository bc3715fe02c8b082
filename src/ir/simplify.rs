//! The simplifier: a table of named local rewrite rules, applied in one forward sweep.
//!
//! [`simplify`] rebuilds the graph node by node in topological order. Each node, with its
//! arguments already simplified, is offered to the rules of [`RULES`] in order; the first that
//! applies returns a replacement, built through the same rewriter (so a replacement is itself
//! simplified), and otherwise the node is kept. Then everything the outputs do not need is
//! dropped. A node's arguments are final before the node is looked at, so one sweep does
//! almost everything; the exception is a rule that needs to know a value is read only once
//! (the `take-of-…` rules), which may apply only after a sweep removed a second reader, so
//! sweeps repeat until one changes nothing (in practice two). Each sweep is linear.
//!
//! Invariants of every rule:
//! * it keeps the node's shape (checked in debug builds) and its value, up to the usual
//!   algebraic liberties of symbolic differentiation: `x·0 = 0` even for infinite `x`;
//! * it makes the graph smaller or cheaper, so rewriting terminates;
//! * it has a name, used in tests (text in → text out) and in [`Stats`].

use super::{Binary, Graph, NodeId, Op, Reduce, Unary};
use crate::types::Shape;

/// A named rewrite: given an op whose arguments are simplified, and its result shape, the node
/// to use instead, or `None` when the rule does not apply.
pub struct Rule {
    pub name: &'static str,
    apply: fn(&mut Rewriter<'_>, &Op, &Shape) -> Option<NodeId>,
}

/// Every rule, in the order they are tried.
pub const RULES: &[Rule] = &[
    Rule {
        name: "const-fold",
        apply: const_fold,
    },
    Rule {
        name: "add-zero",
        apply: add_zero,
    },
    Rule {
        name: "sub-zero",
        apply: sub_zero,
    },
    Rule {
        name: "zero-sub",
        apply: zero_sub,
    },
    Rule {
        name: "mul-zero",
        apply: mul_zero,
    },
    Rule {
        name: "mul-one",
        apply: mul_one,
    },
    Rule {
        name: "mul-neg-one",
        apply: mul_neg_one,
    },
    Rule {
        name: "div-one",
        apply: div_one,
    },
    Rule {
        name: "neg-neg",
        apply: neg_neg,
    },
    Rule {
        name: "add-neg",
        apply: add_neg,
    },
    Rule {
        name: "sub-neg",
        apply: sub_neg,
    },
    Rule {
        name: "pow-const",
        apply: pow_const,
    },
    Rule {
        name: "log-exp",
        apply: log_exp,
    },
    Rule {
        name: "log-one-plus-exp",
        apply: log_one_plus_exp,
    },
    Rule {
        name: "select-same",
        apply: select_same,
    },
    Rule {
        name: "select-const",
        apply: select_const,
    },
    Rule {
        name: "elementwise-of-broadcast",
        apply: elementwise_of_broadcast,
    },
    Rule {
        name: "reduce-scalar",
        apply: reduce_scalar,
    },
    Rule {
        name: "sum-of-broadcast",
        apply: sum_of_broadcast,
    },
    Rule {
        name: "transpose-transpose",
        apply: transpose_transpose,
    },
    Rule {
        name: "take-of-elementwise",
        apply: take_of_elementwise,
    },
    Rule {
        name: "take-of-matvec",
        apply: take_of_matvec,
    },
    Rule {
        name: "slice-of-pad",
        apply: slice_of_pad,
    },
    Rule {
        name: "take-const",
        apply: take_const,
    },
    Rule {
        name: "onehot-const",
        apply: onehot_const,
    },
    Rule {
        name: "stack-of-slices",
        apply: stack_of_slices,
    },
    Rule {
        name: "zero-linear",
        apply: zero_linear,
    },
];

/// How often each rule fired, in [`RULES`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub fired: Vec<u32>,
}

impl Stats {
    /// How often the rule `name` fired.
    pub fn count(&self, name: &str) -> u32 {
        RULES
            .iter()
            .position(|r| r.name == name)
            .map(|i| self.fired[i])
            .unwrap_or(0)
    }
}

/// The simplified, pruned graph.
pub fn simplify(g: &Graph) -> Graph {
    simplify_with_stats(g).0
}

/// [`simplify`], also saying which rules fired.
pub fn simplify_with_stats(g: &Graph) -> (Graph, Stats) {
    // A sweep can make a value read once that was read twice (its other reader simplified
    // away), which a rule about single reads only sees in the next sweep: repeat while a
    // sweep turned such a rule down for a shared value, until one changes nothing (in
    // practice at most one more). Most graphs take one sweep.
    let (mut out, mut stats, mut declined) = sweep(g);
    for _ in 0..4 {
        if !declined {
            break;
        }
        let (next, more, again) = sweep(&out);
        if more.fired.iter().all(|&f| f == 0) {
            break;
        }
        stats
            .fired
            .iter_mut()
            .zip(&more.fired)
            .for_each(|(a, b)| *a += b);
        out = next;
        declined = again;
    }
    (out, stats)
}

/// One forward sweep of the rules over the graph; also says whether a rule was turned down
/// only because a value was shared.
fn sweep(g: &Graph) -> (Graph, Stats, bool) {
    let mut out = Graph {
        inputs: g.inputs.clone(),
        ..Graph::default()
    };
    let mut stats = Stats {
        fired: vec![0; RULES.len()],
    };
    // How often each source node is read (by nodes and outputs), so that rules which pay off
    // only for a value read once can tell.
    let mut reads = vec![0u32; g.len()];
    for n in g.ids() {
        g.op(n).for_each_arg(|a| reads[a.index()] += 1);
    }
    for (_, n) in &g.outputs {
        reads[n.index()] += 1;
    }
    let mut map: Vec<NodeId> = Vec::with_capacity(g.len());
    let declined;
    {
        let mut rw = Rewriter {
            g: &mut out,
            stats: &mut stats,
            reads: Vec::new(),
            declined_shared: false,
        };
        for n in g.ids() {
            rw.g.set_span(g.span(n));
            let op = g.op(n).map_args(|a| map[a.index()]);
            let m = rw.rewrite(op);
            if rw.reads.len() <= m.index() {
                rw.reads.resize(m.index() + 1, 0);
            }
            rw.reads[m.index()] += reads[n.index()];
            map.push(m);
        }
        declined = rw.declined_shared;
    }
    out.outputs = g
        .outputs
        .iter()
        .map(|(s, n)| (s.clone(), map[n.index()]))
        .collect();
    out.set_span(g.current_span());
    let out = out.prune();
    super::debug_verify(&out, "simplify");
    (out, stats, declined)
}

/// The graph being rebuilt, and the statistics.
pub struct Rewriter<'a> {
    g: &'a mut Graph,
    stats: &'a mut Stats,
    /// Reads of each new node by the source graph (0 for nodes the rules made).
    reads: Vec<u32>,
    /// Whether [`Rewriter::shared`] turned a rule down in this sweep.
    declined_shared: bool,
}

impl Rewriter<'_> {
    /// The node for `op` after every applicable rule.
    fn rewrite(&mut self, op: Op) -> NodeId {
        let shape = match self.g.shape_of_op(&op) {
            Ok(s) => s,
            Err(e) => panic!("simplify: ill-shaped node: {e}"),
        };
        for (i, rule) in RULES.iter().enumerate() {
            if let Some(n) = (rule.apply)(self, &op, &shape) {
                debug_assert_eq!(
                    self.g.shape(n),
                    &shape,
                    "rule {} changed a shape",
                    rule.name
                );
                self.stats.fired[i] += 1;
                return n;
            }
        }
        self.g.add(op)
    }
    /// A node a rule makes, itself rewritten. A rule that pushes an op down a chain
    /// (`take-of-elementwise`) recurses as deep as the chain is long, so on a growing stack.
    fn mk(&mut self, op: Op) -> NodeId {
        super::with_stack(|| self.rewrite(op))
    }
    fn constant(&mut self, v: f64) -> NodeId {
        self.g.constant(v)
    }
    /// `v` in `shape`.
    fn splat(&mut self, v: f64, shape: &Shape) -> NodeId {
        self.g.splat(v, shape)
    }
    /// `x` made to have `shape`: itself, or a scalar broadcast.
    fn fit(&mut self, x: NodeId, shape: &Shape) -> NodeId {
        if self.g.shape(x) == shape {
            x
        } else {
            self.g.broadcast(x, shape)
        }
    }
    fn splat_of(&self, n: NodeId) -> Option<f64> {
        self.g.as_splat(n)
    }
    /// Whether the source graph reads `n` more than once (noted: a later sweep may see it
    /// read once).
    fn shared(&mut self, n: NodeId) -> bool {
        let shared = self.reads.get(n.index()).is_some_and(|&r| r > 1);
        self.declined_shared |= shared;
        shared
    }
    fn is(&self, n: NodeId, v: f64) -> bool {
        self.splat_of(n) == Some(v)
    }
}

// The rules. Each says when it applies in its first lines.

/// Elementwise ops whose arguments are all constants (or broadcast constants).
fn const_fold(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let v = match *op {
        Op::Unary(u, a) => u.apply(r.splat_of(a)?),
        Op::Binary(b, x, y) => b.apply(r.splat_of(x)?, r.splat_of(y)?),
        Op::Cmp(c, x, y) => c.apply(r.splat_of(x)?, r.splat_of(y)?),
        Op::Select(c, x, y) => {
            let c = r.splat_of(c)?;
            let (x, y) = (r.splat_of(x)?, r.splat_of(y)?);
            if c != 0.0 {
                x
            } else {
                y
            }
        }
        _ => return None,
    };
    Some(r.splat(v, shape))
}

fn add_zero(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Add, x, y) = *op else {
        return None;
    };
    let keep = if r.is(y, 0.0) {
        x
    } else if r.is(x, 0.0) {
        y
    } else {
        return None;
    };
    Some(r.fit(keep, shape))
}

fn sub_zero(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Sub, x, y) = *op else {
        return None;
    };
    r.is(y, 0.0).then(|| r.fit(x, shape))
}

fn zero_sub(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Sub, x, y) = *op else {
        return None;
    };
    if !r.is(x, 0.0) {
        return None;
    }
    let n = r.mk(Op::Unary(Unary::Neg, y));
    Some(r.fit(n, shape))
}

fn mul_zero(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Mul, x, y) = *op else {
        return None;
    };
    (r.is(x, 0.0) || r.is(y, 0.0)).then(|| r.splat(0.0, shape))
}

fn mul_one(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Mul, x, y) = *op else {
        return None;
    };
    let keep = if r.is(y, 1.0) {
        x
    } else if r.is(x, 1.0) {
        y
    } else {
        return None;
    };
    Some(r.fit(keep, shape))
}

fn mul_neg_one(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Mul, x, y) = *op else {
        return None;
    };
    let other = if r.is(y, -1.0) {
        x
    } else if r.is(x, -1.0) {
        y
    } else {
        return None;
    };
    let n = r.mk(Op::Unary(Unary::Neg, other));
    Some(r.fit(n, shape))
}

fn div_one(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Div, x, y) = *op else {
        return None;
    };
    r.is(y, 1.0).then(|| r.fit(x, shape))
}

fn neg_neg(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Unary(Unary::Neg, a) = *op else {
        return None;
    };
    match *r.g.op(a) {
        Op::Unary(Unary::Neg, x) => Some(x),
        _ => None,
    }
}

/// `x + (−y) → x − y` and `(−x) + y → y − x`.
fn add_neg(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Add, x, y) = *op else {
        return None;
    };
    if let Op::Unary(Unary::Neg, b) = *r.g.op(y) {
        return Some(r.mk(Op::Binary(Binary::Sub, x, b)));
    }
    if let Op::Unary(Unary::Neg, a) = *r.g.op(x) {
        return Some(r.mk(Op::Binary(Binary::Sub, y, a)));
    }
    None
}

/// `x − (−y) → x + y`.
fn sub_neg(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Sub, x, y) = *op else {
        return None;
    };
    let Op::Unary(Unary::Neg, b) = *r.g.op(y) else {
        return None;
    };
    Some(r.mk(Op::Binary(Binary::Add, x, b)))
}

/// `x^1 → x`, `x^2 → square x`, `x^0.5 → sqrt x` for a scalar constant exponent.
fn pow_const(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Binary(Binary::Pow, x, e) = *op else {
        return None;
    };
    let k = r.g.as_const(e)?;
    let n = if k == 1.0 {
        x
    } else if k == 2.0 {
        r.mk(Op::Unary(Unary::Square, x))
    } else if k == 0.5 {
        r.mk(Op::Unary(Unary::Sqrt, x))
    } else {
        return None;
    };
    Some(r.fit(n, shape))
}

fn log_exp(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Unary(Unary::Log, a) = *op else {
        return None;
    };
    match *r.g.op(a) {
        Op::Unary(Unary::Exp, x) => Some(x),
        _ => None,
    }
}

/// `log(1 + exp u) → softplus u`, which does not overflow for large `u`.
fn log_one_plus_exp(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Unary(Unary::Log, a) = *op else {
        return None;
    };
    let Op::Binary(Binary::Add, x, y) = *r.g.op(a) else {
        return None;
    };
    let e = if r.is(x, 1.0) {
        y
    } else if r.is(y, 1.0) {
        x
    } else {
        return None;
    };
    let Op::Unary(Unary::Exp, u) = *r.g.op(e) else {
        return None;
    };
    if r.g.shape(u) != r.g.shape(a) {
        return None;
    }
    Some(r.mk(Op::Unary(Unary::Softplus, u)))
}

fn select_same(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Select(_, x, y) = *op else {
        return None;
    };
    (x == y).then(|| r.fit(x, shape))
}

fn select_const(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Select(c, x, y) = *op else {
        return None;
    };
    let c = r.splat_of(c)?;
    let keep = if c != 0.0 { x } else { y };
    Some(r.fit(keep, shape))
}

/// An elementwise op with a `broadcast s` argument reads the scalar `s` directly, when
/// another argument already gives the result's shape.
fn elementwise_of_broadcast(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    if !matches!(op, Op::Binary(..) | Op::Cmp(..) | Op::Select(..)) {
        return None;
    }
    let args = op.args();
    let full = args
        .iter()
        .filter(|&&a| r.g.shape(a) == shape && !matches!(r.g.op(a), Op::Broadcast(..)))
        .count();
    if full == 0 || !args.iter().any(|&a| matches!(r.g.op(a), Op::Broadcast(..))) {
        return None;
    }
    let g = &*r.g;
    let new = op.map_args(|a| match g.op(a) {
        Op::Broadcast(s, _) => *s,
        _ => a,
    });
    Some(r.mk(new))
}

/// A reduction of a scalar is the scalar.
fn reduce_scalar(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Reduce(_, a) = *op else { return None };
    r.g.shape(a).is_scalar().then_some(a)
}

/// `sum(broadcast s) → n·s`; `max.all`, `min.all` of a broadcast are `s`, `logsumexp` is
/// `s + log n`.
fn sum_of_broadcast(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Reduce(red, a) = *op else { return None };
    let Op::Broadcast(s, ref sh) = *r.g.op(a) else {
        return None;
    };
    let n = sh.len() as f64;
    Some(match red {
        Reduce::Sum => {
            let k = r.constant(n);
            r.mk(Op::Binary(Binary::Mul, k, s))
        }
        Reduce::Max | Reduce::Min => s,
        Reduce::LogSumExp => {
            let k = r.constant(n.ln());
            r.mk(Op::Binary(Binary::Add, s, k))
        }
    })
}

/// `take(a ∘ b, i) → take(a, i) ∘ take(b, i)` (a scalar operand stays as it is) and
/// `take(u(a), i) → u(take(a, i))`: the one entry wanted, not every entry. This is what makes
/// an energy like `(W x + b)[y]` cost a row of `W`, not all of it.
///
/// Only where the whole vector is not needed anyway: for an index read at run time (a class
/// input; with a constant index — the answers of an enumeration — splitting the vector per
/// answer would make the graph grow with the number of classes) and a vector nothing else
/// reads (a loss that also takes its logsumexp keeps it whole).
fn take_of_elementwise(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Take { arg, index, axis } = *op else {
        return None;
    };
    if r.g.as_const(index).is_some() || r.shared(arg) {
        return None;
    }
    let take = |r: &mut Rewriter<'_>, x: NodeId| {
        if r.g.shape(x).is_scalar() {
            x
        } else {
            r.mk(Op::Take {
                arg: x,
                index,
                axis,
            })
        }
    };
    match *r.g.op(arg) {
        Op::Binary(b, x, y) => {
            let (tx, ty) = (take(r, x), take(r, y));
            Some(r.mk(Op::Binary(b, tx, ty)))
        }
        Op::Unary(u, x) => {
            let tx = take(r, x);
            Some(r.mk(Op::Unary(u, tx)))
        }
        _ => None,
    }
}

/// `take(W x, i) → dot(take(W, i), x)`: one row of the product instead of all of them (for
/// an index read at run time, as above).
fn take_of_matvec(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Take {
        arg,
        index,
        axis: 0,
    } = *op
    else {
        return None;
    };
    if r.g.as_const(index).is_some() {
        return None;
    }
    let Op::MatVec(w, x) = *r.g.op(arg) else {
        return None;
    };
    let row = r.mk(Op::Take {
        arg: w,
        index,
        axis: 0,
    });
    Some(r.mk(Op::Dot(row, x)))
}

fn transpose_transpose(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Transpose(a) = *op else { return None };
    match *r.g.op(a) {
        Op::Transpose(x) => Some(x),
        _ => None,
    }
}

/// `slice(pad x)` of the same place is `x`; of a place outside `x` it is zeros.
fn slice_of_pad(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let Op::Slice {
        arg,
        axis,
        start,
        end,
        keep,
    } = *op
    else {
        return None;
    };
    let Op::Pad {
        arg: x,
        axis: pa,
        start: ps,
        len: _,
        keep: pk,
    } = *r.g.op(arg)
    else {
        return None;
    };
    if pa != axis {
        return None;
    }
    let width = if pk {
        r.g.shape(x).0[axis as usize] as u32
    } else {
        1
    };
    if start == ps && end == ps + width && keep == pk {
        return Some(x);
    }
    (end <= ps || start >= ps + width).then(|| r.splat(0.0, shape))
}

/// The value of a constant index, if it is an integer in `0..len`.
fn const_index(r: &Rewriter<'_>, index: NodeId, len: u32) -> Option<u32> {
    let k = r.g.as_const(index)?;
    (k >= 0.0 && k < len as f64 && k.fract() == 0.0).then_some(k as u32)
}

/// `take` at a constant index is a static `slice`: what enumerating a class output leaves.
fn take_const(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Take { arg, index, axis } = *op else {
        return None;
    };
    let len = r.g.shape(arg).0[axis as usize] as u32;
    let k = const_index(r, index, len)?;
    Some(r.mk(Op::Slice {
        arg,
        axis,
        start: k,
        end: k + 1,
        keep: false,
    }))
}

fn onehot_const(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::OneHot {
        arg,
        index,
        axis,
        len,
    } = *op
    else {
        return None;
    };
    let k = const_index(r, index, len)?;
    Some(r.mk(Op::Pad {
        arg,
        axis,
        start: k,
        len,
        keep: false,
    }))
}

/// `stack(a[0], a[1], …, a[n−1]) → a`: what enumerating `E = v[y]` leaves.
fn stack_of_slices(r: &mut Rewriter<'_>, op: &Op, _: &Shape) -> Option<NodeId> {
    let Op::Stack(xs) = op else { return None };
    let Op::Slice {
        arg: a,
        axis: 0,
        keep: false,
        ..
    } = *r.g.op(xs[0])
    else {
        return None;
    };
    if r.g.shape(a).0[0] != xs.len() {
        return None;
    }
    let whole = xs.iter().enumerate().all(|(i, &x)| {
        matches!(*r.g.op(x), Op::Slice { arg, axis: 0, start, keep: false, .. } if arg == a && start as usize == i)
    });
    whole.then_some(a)
}

/// Ops linear in an argument that is all zeros give zeros.
fn zero_linear(r: &mut Rewriter<'_>, op: &Op, shape: &Shape) -> Option<NodeId> {
    let zero = |n: &NodeId| r.is(*n, 0.0);
    let hit = match op {
        Op::Unary(Unary::Neg, a)
        | Op::Transpose(a)
        | Op::Reduce(Reduce::Sum, a)
        | Op::Slice { arg: a, .. }
        | Op::Pad { arg: a, .. }
        | Op::Take { arg: a, .. }
        | Op::OneHot { arg: a, .. } => zero(a),
        Op::MatVec(a, b)
        | Op::VecMat(a, b)
        | Op::MatMul(a, b)
        | Op::Dot(a, b)
        | Op::Outer(a, b) => zero(a) || zero(b),
        Op::Stack(xs) => xs.iter().all(zero),
        _ => false,
    };
    hit.then(|| r.splat(0.0, shape))
}
