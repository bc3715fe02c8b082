//! Batching ("vmap"): a per-example graph → one graph over a minibatch of `B` examples whose
//! output is the sum of the per-example outputs.
//!
//! Differentiating the batched sum gives the minibatch's summed parameter gradient as
//! matrix–matrix products: `W x` for every example becomes `(W Xᵀ)ᵀ`, and the gradient's
//! `Σ_b g_b x_bᵀ` becomes one `Gᵀ X`, so a weight matrix streams through the cache once per
//! minibatch instead of once per example. That is what lets compiled training beat a
//! per-example loop.
//!
//! Per-example inputs (inputs, outputs, latents, extras) get a leading axis of length `B`;
//! params do not. Each node becomes a node of the batched graph plus a flag saying whether it
//! carries that axis. The rules cover what dense models use — elementwise ops, matrix–vector
//! products, dots, sums, slices, a per-example class index into a shared table or into the
//! example's own vector (through a one-hot mask), max, min and log-sum-exp of each example's
//! vector (column by column), per-example scalars stacked into a vector — with per-example
//! values of rank ≤ 1 wherever a value must be spread along an axis. Anything else (a
//! per-example matrix, an index along another axis…) makes [`batch`] return `None`, and the
//! runtime keeps its per-example loop.

use super::{Binary, Cmp, Graph, InputKind, NodeId, Op, Reduce, Unary};

/// The most entries of a per-example vector whose max, min or log-sum-exp is batched, column
/// by column (a node per column); a longer one keeps the per-example loop.
const MAX_FOLDED: usize = 1024;
use crate::types::{Shape, Ty};

/// The batched graph of `g` over `b` examples with one output, `of`: the sum over the batch
/// of `g`'s output `of`. `None` when `g` uses an op the rules do not batch.
pub fn batch(g: &Graph, of: &str, b: usize) -> Option<Graph> {
    let (mut t, map) = Batcher::run(g, b)?;
    let (value, batched) = map[g.output(of)?.index()];
    let total = if batched {
        t.out.reduce(Reduce::Sum, value)
    } else {
        let k = t.out.constant(b as f64);
        t.out.mul(k, value)
    };
    t.out.set_output(of, total);
    Some(super::simplify(&t.out.prune()))
}

/// The batched graph of `g` over `b` examples keeping every output per example ("vmap"): an
/// output of shape `s` becomes `[b] ++ s`, row `k` the value for example `k`. `None` when `g`
/// uses an op the rules do not batch, or an output shared by every example has rank > 1.
pub fn batch_rows(g: &Graph, b: usize) -> Option<Graph> {
    let (mut t, map) = Batcher::run(g, b)?;
    for (name, n) in &g.outputs {
        let (value, batched) = map[n.index()];
        let rows = match (batched, g.shape(*n).rank()) {
            (true, _) => value,
            (false, 0) => t.out.broadcast(value, &Shape(vec![b])),
            (false, 1) => {
                let ones = t.ones(b);
                t.out.add(Op::Outer(ones, value))
            }
            (false, _) => return None,
        };
        t.out.set_output(name.clone(), rows);
    }
    Some(super::simplify(&t.out.prune()))
}

struct Batcher {
    out: Graph,
    b: usize,
}

impl Batcher {
    /// Every node of `g` in the batched graph, with whether it carries the batch axis.
    fn run(g: &Graph, b: usize) -> Option<(Batcher, Vec<(NodeId, bool)>)> {
        let mut t = Batcher {
            out: Graph::new(),
            b,
        };
        for inp in &g.inputs {
            let ty = match inp.kind {
                InputKind::Param => inp.ty.clone(),
                _ => {
                    let mut dims = vec![b];
                    dims.extend(inp.shape().0);
                    Ty::Real(Shape(dims))
                }
            };
            t.out.inputs.push(super::InputInfo {
                name: inp.name.clone(),
                kind: inp.kind,
                ty,
            });
        }
        let mut map: Vec<(NodeId, bool)> = Vec::with_capacity(g.len());
        for n in g.ids() {
            t.out.set_span(g.span(n));
            let r = t.node(g, n, &map)?;
            map.push(r);
        }
        Some((t, map))
    }

    fn ones(&mut self, n: usize) -> NodeId {
        self.out.splat(1.0, &Shape(vec![n]))
    }

    /// `[b, n]`: 1 at column `index_k` of row `k`, 0 elsewhere (`index` holds the batch's
    /// `b` indices).
    fn one_hot(&mut self, index: NodeId, n: usize) -> NodeId {
        let iota: Vec<NodeId> = (0..n).map(|j| self.out.constant(j as f64)).collect();
        let iota = self.out.add(Op::Stack(iota));
        let across = self.ones(n);
        let rows = self.out.add(Op::Outer(index, across));
        let down = self.ones(self.b);
        let columns = self.out.add(Op::Outer(down, iota));
        self.out.add(Op::Cmp(Cmp::Eq, rows, columns))
    }

    /// A batched or shared value shaped for an elementwise op whose per-example result has
    /// shape `s`, in the batched graph: scalars broadcast by themselves; a per-example scalar
    /// is spread along `s`, a shared vector along the batch (rank 1 only).
    fn fit(&mut self, (node, batched): (NodeId, bool), own: &Shape, s: &Shape) -> Option<NodeId> {
        match (batched, own.rank(), s.rank()) {
            (true, _, _) if own == s => Some(node),
            (true, 0, 1) => {
                let ones = self.ones(s.0[0]);
                Some(self.out.add(Op::Outer(node, ones)))
            }
            (false, 0, _) => Some(node),
            (false, 1, 1) if own == s => {
                let ones = self.ones(self.b);
                Some(self.out.add(Op::Outer(ones, node)))
            }
            _ => None,
        }
    }

    fn node(&mut self, g: &Graph, n: NodeId, map: &[(NodeId, bool)]) -> Option<(NodeId, bool)> {
        let m = |a: &NodeId| map[a.index()];
        let sh = |a: &NodeId| g.shape(*a).clone();
        let any = |args: &[NodeId]| args.iter().any(|a| map[a.index()].1);
        let op = g.op(n);
        let args = op.args();
        if !any(&args) {
            // Shared by every example: copied as it is.
            let per_example =
                matches!(op, Op::Input(i) if g.inputs[*i as usize].kind != InputKind::Param);
            let op = op.map_args(|a| map[a.index()].0);
            return Some((self.out.add(op), per_example));
        }
        let s = g.shape(n).clone();
        let batched = match op {
            Op::Const(_) | Op::Input(_) => unreachable!("leaves have no arguments"),
            Op::Unary(u, a) => self.out.unary(*u, m(a).0),
            Op::Binary(op, a, c) => {
                let (x, y) = (self.fit(m(a), &sh(a), &s)?, self.fit(m(c), &sh(c), &s)?);
                self.out.binary(*op, x, y)
            }
            Op::Cmp(c, a, d) => {
                let (x, y) = (self.fit(m(a), &sh(a), &s)?, self.fit(m(d), &sh(d), &s)?);
                self.out.add(Op::Cmp(*c, x, y))
            }
            Op::Select(c, a, d) => {
                let mut xs = Vec::new();
                for v in [c, a, d] {
                    xs.push(self.fit(m(v), &sh(v), &s)?);
                }
                self.out.add(Op::Select(xs[0], xs[1], xs[2]))
            }
            Op::MatVec(w, x) if !m(w).1 => {
                // W x_b for every b: (W Xᵀ)ᵀ, so that W is read once.
                let xt = self.out.add(Op::Transpose(m(x).0));
                let p = self.out.add(Op::MatMul(m(w).0, xt));
                self.out.add(Op::Transpose(p))
            }
            Op::VecMat(x, w) if !m(w).1 => self.out.add(Op::MatMul(m(x).0, m(w).0)),
            Op::Dot(a, c) if sh(a).rank() <= 1 => {
                if sh(a).is_scalar() {
                    self.out.mul(m(a).0, m(c).0)
                } else {
                    let n = sh(a).0[0];
                    match (m(a), m(c)) {
                        ((x, true), (y, true)) => {
                            let p = self.out.mul(x, y);
                            let ones = self.ones(n);
                            self.out.add(Op::MatVec(p, ones))
                        }
                        ((x, true), (w, false)) | ((w, false), (x, true)) => {
                            self.out.add(Op::MatVec(x, w))
                        }
                        _ => unreachable!("at least one argument is batched"),
                    }
                }
            }
            Op::Reduce(Reduce::Sum, a) => match sh(a).rank() {
                0 => m(a).0,
                1 => {
                    let ones = self.ones(sh(a).0[0]);
                    self.out.add(Op::MatVec(m(a).0, ones))
                }
                _ => return None,
            },
            Op::Broadcast(a, target) => match target.rank() {
                0 => m(a).0,
                1 => {
                    let ones = self.ones(target.0[0]);
                    self.out.add(Op::Outer(m(a).0, ones))
                }
                _ => return None,
            },
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep,
            } => self.out.add(Op::Slice {
                arg: m(arg).0,
                axis: axis + 1,
                start: *start,
                end: *end,
                keep: *keep,
            }),
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => self.out.add(Op::Pad {
                arg: m(arg).0,
                axis: axis + 1,
                start: *start,
                len: *len,
                keep: *keep,
            }),
            // A per-example index (a class): row `k` picks entry `y_k`, through a one-hot mask
            // of the batch's indices, so that a shared table is read by one product.
            Op::Take {
                arg,
                index,
                axis: 0,
            } if m(index).1 && sh(index).is_scalar() => {
                let n = sh(arg).0[0];
                let mask = self.one_hot(m(index).0, n);
                match (m(arg), sh(arg).rank()) {
                    // Row y_k of a shared matrix, entry y_k of a shared vector: mask · table
                    // is exact (the other products are zeros).
                    ((a, false), 1) => self.out.add(Op::MatVec(mask, a)),
                    ((a, false), 2) => self.out.add(Op::MatMul(mask, a)),
                    // Entry y_k of each example's own vector: the others zeroed, then summed.
                    ((a, true), 1) => {
                        let zeros = self.out.splat(0.0, &Shape(vec![self.b, n]));
                        let picked = self.out.add(Op::Select(mask, a, zeros));
                        let ones = self.ones(n);
                        self.out.add(Op::MatVec(picked, ones))
                    }
                    _ => return None,
                }
            }
            // The adjoint: a scalar at entry `y_k` of zeros.
            Op::OneHot {
                arg,
                index,
                axis: 0,
                len,
            } if m(index).1 && sh(arg).is_scalar() => {
                let n = *len as usize;
                let mask = self.one_hot(m(index).0, n);
                let shape = Shape(vec![self.b, n]);
                let values = match m(arg) {
                    (a, true) => {
                        let ones = self.ones(n);
                        self.out.add(Op::Outer(a, ones))
                    }
                    (a, false) => self.out.broadcast(a, &shape),
                };
                let zeros = self.out.splat(0.0, &shape);
                self.out.add(Op::Select(mask, values, zeros))
            }
            // Max, min and log-sum-exp of each example's vector: the columns folded with the
            // elementwise max (or min), as the whole reduction folds; log-sum-exp shifted by
            // each row's max, as the interpreter's is.
            Op::Reduce(r @ (Reduce::Max | Reduce::Min | Reduce::LogSumExp), a)
                if sh(a).rank() == 1 && sh(a).0[0] <= MAX_FOLDED =>
            {
                let n = sh(a).0[0];
                let fold = match r {
                    Reduce::Min => Binary::Min,
                    _ => Binary::Max,
                };
                let v = m(a).0;
                let column = |t: &mut Batcher, j: usize| {
                    t.out.add(Op::Slice {
                        arg: v,
                        axis: 1,
                        start: j as u32,
                        end: j as u32 + 1,
                        keep: false,
                    })
                };
                let mut best = column(self, 0);
                for j in 1..n {
                    let c = column(self, j);
                    best = self.out.binary(fold, best, c);
                }
                if *r != Reduce::LogSumExp {
                    best
                } else {
                    let ones = self.ones(n);
                    let shift = self.out.add(Op::Outer(best, ones));
                    let centred = self.out.sub(v, shift);
                    let e = self.out.unary(Unary::Exp, centred);
                    let total = self.out.add(Op::MatVec(e, ones));
                    let log = self.out.unary(Unary::Log, total);
                    self.out.binary(Binary::Add, best, log)
                }
            }
            // Per-example scalars stacked into each example's vector (an answers' energies):
            // the columns of the batch stacked, then turned to one row per example.
            Op::Stack(items) if items.iter().all(|a| sh(a).is_scalar()) => {
                let rows = Shape(vec![self.b]);
                let columns: Vec<NodeId> = items
                    .iter()
                    .map(|a| match m(a) {
                        (x, true) => x,
                        (x, false) => self.out.broadcast(x, &rows),
                    })
                    .collect();
                let stacked = self.out.add(Op::Stack(columns));
                self.out.add(Op::Transpose(stacked))
            }
            Op::MatVec(..)
            | Op::VecMat(..)
            | Op::MatMul(..)
            | Op::Dot(..)
            | Op::Outer(..)
            | Op::Transpose(_)
            | Op::Reduce(..)
            | Op::Take { .. }
            | Op::OneHot { .. }
            | Op::Stack(_) => return None,
        };
        Some((batched, true))
    }
}
