//! Where default (non-strict) native code may *decide* differently from the interpreter.
//!
//! Default code rounds differently from [`crate::interp`] in a few ops (inline polynomial
//! transcendentals of ≤ 2 ulp; sums, dot and matrix products with several SIMD accumulators
//! and FMA), so its values agree to rounding. A comparison or `sign` fed by such a value can
//! then fall on the other side of a tie, and a step of the result follows: the values are no
//! longer close. [`near_tie`] finds such decisions in one evaluation, so that tests and fuzz
//! targets compare default code only where rounding cannot flip one (strict code is compared
//! bit for bit everywhere).

use crate::interp::Values;
use crate::ir::{Graph, NodeId, Op, Reduce, Unary};

/// Whether default code computes `op` from equal arguments exactly as the interpreter does.
fn rounds_like_interpreter(op: &Op) -> bool {
    match op {
        Op::Unary(u, _) => !matches!(
            u,
            Unary::Exp | Unary::Log | Unary::Tanh | Unary::Sigmoid | Unary::Softplus
        ),
        Op::Reduce(r, _) => matches!(r, Reduce::Max | Reduce::Min),
        Op::Dot(..) | Op::MatVec(..) | Op::VecMat(..) | Op::MatMul(..) | Op::Outer(..) => false,
        _ => true,
    }
}

/// Whether `b` is `a`'s own maximum or minimum (possibly broadcast): `eq a, max a` ties
/// exactly at the maximum in any rounding, and only *other* elements close to it are ties.
fn is_extreme_of(g: &Graph, b: NodeId, a: NodeId) -> bool {
    let b = match g.op(b) {
        Op::Broadcast(s, _) => *s,
        _ => b,
    };
    matches!(g.op(b), Op::Reduce(Reduce::Max | Reduce::Min, x) if *x == a)
}

/// Whether a comparison or `sign` of `g`, in the evaluation `values`, decided between operands
/// within `tol · (1 + |b|)` of a tie where at least one of them may round differently in
/// default code.
pub fn near_tie(g: &Graph, values: &Values, tol: f64) -> bool {
    let mut exact = vec![true; g.len()];
    for n in g.ids() {
        let op = g.op(n);
        let mut args_exact = true;
        op.for_each_arg(|a| args_exact &= exact[a.index()]);
        exact[n.index()] = args_exact && rounds_like_interpreter(op);
    }
    let close = |a: f64, b: f64| (a - b).abs() <= tol * (1.0 + b.abs());
    g.ids().any(|n| match g.op(n) {
        Op::Cmp(_, a, b) if a != b && !(exact[a.index()] && exact[b.index()]) => {
            let extreme = is_extreme_of(g, *a, *b) || is_extreme_of(g, *b, *a);
            let (va, vb) = (values.node(*a), values.node(*b));
            let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
            (0..va.len().max(vb.len())).any(|i| {
                let (x, y) = (at(va, i), at(vb, i));
                close(x, y) && !(extreme && x == y)
            })
        }
        Op::Unary(Unary::Sign, a) if !exact[a.index()] => {
            values.node(*a).iter().any(|&v| close(v, 0.0))
        }
        _ => false,
    })
}
