//! The linear part of an affine graph: for a scalar `out = c₀ + Σ_j a_j z_j` that is affine
//! in a node `z`, the coefficients `a = ∂out/∂z` as nodes of the same graph, free of `z`.
//!
//! Lowering needs them for the closed-form marginal of a `sign[n]` latent (spec section 13:
//! `F = E₀ − 1/β Σ_j log 2cosh(β a_j)`), inside every free energy it builds — the answers it
//! enumerates and the loss's — so they are built here, during lowering, and `ir` may not use
//! `grad` (`tests/layers.rs`). A linear map's coefficients are its transpose applied to 1,
//! which needs only the transposes of the linear ops (`sum ↔ broadcast`, `slice ↔ pad`,
//! `matvec ↔ vecmat`, …): the same rules as [`crate::grad`]'s for those ops, and no rule at all
//! for the others, which is what makes this not a second differentiator. `tests/rbm.rs`
//! checks the two agree on its models' energies and on random programs.
//!
//! Invariants:
//! * the result never reads a node that depends on `z` (a linear op's transpose reads its
//!   other, constant argument and the adjoint only), so `z` may be a placeholder that is
//!   dropped afterwards;
//! * a node on a path from `z` to `out` whose op is not linear in that argument (a product of
//!   two `z`-dependent nodes, `exp`, `take` at a `z`-dependent index, …) is an error naming
//!   the node: the graph is not affine in `z`, and the checker should have said so.

use super::{Binary, Graph, NodeId, Op, Reduce, Unary};

/// `∂out/∂z` for each `z` of `zs`, for a scalar `out` affine in them jointly (no product of
/// two values that depend on any of them), or the first node (from `out` back) that is not
/// linear in them.
pub fn coefficients(g: &mut Graph, out: NodeId, zs: &[NodeId]) -> Result<Vec<NodeId>, NodeId> {
    assert!(g.shape(out).is_scalar(), "coefficients of a non-scalar");
    let end = out.index() + 1;
    let first = zs.iter().map(|z| z.index()).min().unwrap_or(end);
    let mut active = vec![false; end];
    for z in zs {
        if z.index() < end {
            active[z.index()] = true;
        }
    }
    for n in first..end {
        if !active[n] {
            let mut any = false;
            g.op(NodeId(n as u32))
                .for_each_arg(|a| any |= active[a.index()]);
            active[n] = any;
        }
    }
    let span = g.current_span();
    let mut adj: Vec<Option<NodeId>> = vec![None; end];
    if active[out.index()] {
        adj[out.index()] = Some(g.constant(1.0));
    }
    for n in (first..end).rev() {
        let (Some(gn), true) = (adj[n], active[n]) else {
            continue;
        };
        let node = NodeId(n as u32);
        if zs.contains(&node) {
            continue;
        }
        g.set_span(g.span(node));
        let op = g.op(node).clone();
        let mut t = Transpose {
            g: &mut *g,
            active: &active,
            adj: &mut adj,
        };
        if !t.rule(&op, gn) {
            g.set_span(span);
            return Err(node);
        }
    }
    let cs = zs
        .iter()
        .map(|&z| match adj.get(z.index()).copied().flatten() {
            Some(a) => a,
            None => {
                let s = g.shape(z).clone();
                g.zeros(&s)
            }
        })
        .collect();
    g.set_span(span);
    Ok(cs)
}

struct Transpose<'a> {
    g: &'a mut Graph,
    active: &'a [bool],
    adj: &'a mut [Option<NodeId>],
}

impl Transpose<'_> {
    fn on(&self, a: NodeId) -> bool {
        self.active[a.index()]
    }

    /// Adds `d` to `a`'s adjoint (summed when `a` is a scalar its user broadcast).
    fn push(&mut self, a: NodeId, d: NodeId) {
        if !self.on(a) {
            return;
        }
        let d = if self.g.shape(a).is_scalar() && !self.g.shape(d).is_scalar() {
            self.g.sum(d)
        } else {
            d
        };
        self.adj[a.index()] = Some(match self.adj[a.index()] {
            Some(prev) => self.g.add2(prev, d),
            None => d,
        });
    }

    /// The adjoint of `x` in `x · other` (a scalar `x` against a tensor gets `⟨gn, other⟩`).
    fn scaled(&mut self, gn: NodeId, other: NodeId, x: NodeId) -> NodeId {
        if self.g.shape(x).is_scalar() && !self.g.shape(gn).is_scalar() {
            self.g.dot(gn, other)
        } else {
            self.g.mul(gn, other)
        }
    }

    /// Pushes the adjoint `gn` of a node `op(args)` through `op`, which must be linear in its
    /// active arguments; `false` when it is not.
    fn rule(&mut self, op: &Op, gn: NodeId) -> bool {
        match *op {
            Op::Const(_) | Op::Input(_) => {}
            Op::Unary(Unary::Neg, a) => {
                let d = self.g.neg(gn);
                self.push(a, d);
            }
            Op::Binary(Binary::Add, x, y) => {
                self.push(x, gn);
                self.push(y, gn);
            }
            Op::Binary(Binary::Sub, x, y) => {
                self.push(x, gn);
                if self.on(y) {
                    let d = self.g.neg(gn);
                    self.push(y, d);
                }
            }
            Op::Binary(Binary::Mul, x, y) => match (self.on(x), self.on(y)) {
                (true, true) => return false,
                (true, false) => {
                    let d = self.scaled(gn, y, x);
                    self.push(x, d);
                }
                _ => {
                    let d = self.scaled(gn, x, y);
                    self.push(y, d);
                }
            },
            Op::Binary(Binary::Div, x, y) if !self.on(y) => {
                let d = self.g.div(gn, y);
                self.push(x, d);
            }
            Op::Select(c, x, y) if !self.on(c) => {
                let zero = self.g.constant(0.0);
                if self.on(x) {
                    let d = self.g.select(c, gn, zero);
                    self.push(x, d);
                }
                if self.on(y) {
                    let d = self.g.select(c, zero, gn);
                    self.push(y, d);
                }
            }
            Op::MatVec(a, x) | Op::VecMat(x, a) if self.on(a) && self.on(x) => return false,
            Op::MatVec(a, x) => {
                if self.on(a) {
                    let d = self.g.add(Op::Outer(gn, x));
                    self.push(a, d);
                } else {
                    let d = self.g.add(Op::VecMat(gn, a));
                    self.push(x, d);
                }
            }
            Op::VecMat(x, a) => {
                if self.on(a) {
                    let d = self.g.add(Op::Outer(x, gn));
                    self.push(a, d);
                } else {
                    let d = self.g.add(Op::MatVec(a, gn));
                    self.push(x, d);
                }
            }
            Op::MatMul(a, b) => match (self.on(a), self.on(b)) {
                (true, true) => return false,
                (true, false) => {
                    let bt = self.g.add(Op::Transpose(b));
                    let d = self.g.add(Op::MatMul(gn, bt));
                    self.push(a, d);
                }
                _ => {
                    let at = self.g.add(Op::Transpose(a));
                    let d = self.g.add(Op::MatMul(at, gn));
                    self.push(b, d);
                }
            },
            Op::Dot(a, b) => match (self.on(a), self.on(b)) {
                (true, true) => return false,
                (true, false) => {
                    let d = self.g.mul(gn, b);
                    self.push(a, d);
                }
                _ => {
                    let d = self.g.mul(gn, a);
                    self.push(b, d);
                }
            },
            Op::Outer(a, b) => match (self.on(a), self.on(b)) {
                (true, true) => return false,
                (true, false) => {
                    let d = self.g.add(Op::MatVec(gn, b));
                    self.push(a, d);
                }
                _ => {
                    let d = self.g.add(Op::VecMat(a, gn));
                    self.push(b, d);
                }
            },
            Op::Transpose(a) => {
                let d = self.g.add(Op::Transpose(gn));
                self.push(a, d);
            }
            Op::Reduce(Reduce::Sum, a) => {
                let s = self.g.shape(a).clone();
                let d = self.g.broadcast(gn, &s);
                self.push(a, d);
            }
            Op::Broadcast(a, _) => {
                let d = self.g.sum(gn);
                self.push(a, d);
            }
            Op::Slice {
                arg,
                axis,
                start,
                keep,
                ..
            } => {
                let len = self.g.shape(arg).0[axis as usize] as u32;
                let d = self.g.add(Op::Pad {
                    arg: gn,
                    axis,
                    start,
                    len,
                    keep,
                });
                self.push(arg, d);
            }
            Op::Pad {
                arg,
                axis,
                start,
                keep,
                ..
            } => {
                let width = if keep {
                    self.g.shape(arg).0[axis as usize] as u32
                } else {
                    1
                };
                let d = self.g.add(Op::Slice {
                    arg: gn,
                    axis,
                    start,
                    end: start + width,
                    keep,
                });
                self.push(arg, d);
            }
            Op::Take { arg, index, axis } if !self.on(index) => {
                let len = self.g.shape(arg).0[axis as usize] as u32;
                let d = self.g.add(Op::OneHot {
                    arg: gn,
                    index,
                    axis,
                    len,
                });
                self.push(arg, d);
            }
            Op::OneHot {
                arg, index, axis, ..
            } if !self.on(index) => {
                let d = self.g.add(Op::Take {
                    arg: gn,
                    index,
                    axis,
                });
                self.push(arg, d);
            }
            Op::Stack(ref xs) => {
                for (i, &x) in xs.iter().enumerate() {
                    if self.on(x) {
                        let i = i as u32;
                        let d = self.g.add(Op::Slice {
                            arg: gn,
                            axis: 0,
                            start: i,
                            end: i + 1,
                            keep: false,
                        });
                        self.push(x, d);
                    }
                }
            }
            // Not linear in an active argument: a curved function, a product of two
            // `z`-dependent values (caught above), a comparison or an index that moves with `z`.
            Op::Unary(..)
            | Op::Binary(..)
            | Op::Cmp(..)
            | Op::Select(..)
            | Op::Reduce(..)
            | Op::Take { .. }
            | Op::OneHot { .. } => return false,
        }
        true
    }
}
