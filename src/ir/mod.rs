//! The tensor IR: a [`Graph`] of nodes ([`Op`]s) in topological order, the input of differentiation,
//! simplification, interpretation and code generation.
//!
//! A node is an [`Op`] over earlier nodes, addressed by [`NodeId`]; its shape is computed once
//! when it is added and stored beside it, and its source span lives in a parallel vector. The
//! graph owns these invariants, and [`verify`] checks every one of them:
//!
//! * **topological order**: every argument of node `n` is a node `< n`, so one forward sweep
//!   evaluates the graph and one backward sweep differentiates it;
//! * **hash-consing**: no two nodes have the same op and arguments; adding an existing op
//!   returns the existing node. Common subexpressions are therefore shared by construction,
//!   which is what makes enumerating a class output cheap (everything that does not depend on
//!   the output is built once) and lets the gradient reuse forward values;
//! * **closed op set**: [`Op`] is a small closed enum; every pass matches it exhaustively, so a
//!   new op does not compile until it has a derivative rule, an interpreter case and a cost;
//! * **size independent of dimensions**: a node is a whole-tensor operation (a 784×256 matrix
//!   product is one node), so the graph grows with the model's text, never with its data;
//! * **spans**: each node carries the span of the source expression it came from; nodes made
//!   by a pass inherit the span of the node they derive from (the builder's current span,
//!   [`Graph::set_span`]).
//!
//! Elementwise ops broadcast scalars: each argument has the result's shape or is a scalar.
//! Discrete values (a `class` output, a `sign`) are scalar inputs holding an integer index or
//! ±1 as `f64`; only [`Op::Take`] and [`Op::OneHot`] read a value as an index.
//!
//! `Display` prints the text of `ebmc emit ir`, one node per line with its shape
//! (`%7 = matvec %2, %5 : real[16]`), then the named outputs; [`parse`] reads it back.
//!
//! The op set is in `ops`, the shape of each op's result in `shape`, that text in `print`;
//! this file holds the [`Graph`] itself: its storage, hash-consing, builders and costs.

mod batch;
mod linear;
mod lower;
mod ops;
mod parse;
mod print;
mod shape;
mod simplify;
mod stage;
mod verify;

pub use batch::{batch, batch_rows};
pub use linear::coefficients;
pub use lower::{answers, build, energy, free_energy, loss, LowerError, Program, MAX_ANSWERS};
pub use ops::{Binary, Bits, Cmp, InputInfo, InputKind, NodeId, Op, Reduce, Unary};
pub use parse::{parse, ParseError};
pub use simplify::{simplify, simplify_with_stats, Rule, Stats, RULES};
pub use stage::{stage, stage_name, Staged};
pub use verify::{debug_verify, verify, VerifyError};

use crate::span::Span;
use crate::types::{Shape, Ty};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Runs `f` on a stack with room left: the current one, or a new segment of 1 MiB allocated
/// on the heap when less than 64 KiB remain (rustc's remedy, the `stacker` crate).
///
/// For the few recursions whose depth only the source's size bounds — inlining a chain of
/// function calls, pushing an index down a chain of elementwise ops — so that a 100,000-deep
/// program needs memory, not a larger thread stack. Walks over graphs are otherwise iterative
/// (nodes are in topological order), and walks over expressions are bounded by the parser's
/// [`MAX_EXPR_DEPTH`](crate::syntax::MAX_EXPR_DEPTH).
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 << 10, 1 << 20, f)
}

/// A fast hasher for hash-consing keys (FxHash): the keys are small and trusted.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    /// The state mixed down (murmur3's finalizer). Multiplication only carries entropy upward,
    /// and the hash table indexes by the low bits: the constants of an enumeration (`0.0`,
    /// `1.0`, … 65,535.0, whose bits differ only above bit 35) all fell in one bucket, and
    /// hash-consing them took time quadratic in the number of classes.
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A tensor program: nodes in topological order, inputs and named outputs.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    ops: Vec<Op>,
    shapes: Vec<Shape>,
    spans: Vec<Span>,
    /// The inputs, in the order they were declared; `Op::Input(i)` reads `inputs[i]`.
    pub inputs: Vec<InputInfo>,
    /// Named results, in order (`energy`, the terms, `loss`, `grad.W`, …).
    pub outputs: Vec<(String, NodeId)>,
    dedup: FxMap<Op, NodeId>,
    /// The span given to new nodes.
    span: Span,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    pub fn op(&self, n: NodeId) -> &Op {
        &self.ops[n.index()]
    }
    pub fn shape(&self, n: NodeId) -> &Shape {
        &self.shapes[n.index()]
    }
    pub fn span(&self, n: NodeId) -> Span {
        self.spans[n.index()]
    }
    /// Every node id, in topological order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator {
        (0..self.ops.len() as u32).map(NodeId)
    }

    /// Sets the span that nodes added from now on carry.
    pub fn set_span(&mut self, span: Span) {
        self.span = span;
    }
    pub fn current_span(&self) -> Span {
        self.span
    }

    /// The constant value of a node, if it is a constant.
    pub fn as_const(&self, n: NodeId) -> Option<f64> {
        match self.op(n) {
            Op::Const(c) => Some(c.value()),
            _ => None,
        }
    }
    /// The value every element of `n` has, if `n` is a constant or a broadcast constant.
    pub fn as_splat(&self, n: NodeId) -> Option<f64> {
        match self.op(n) {
            Op::Const(c) => Some(c.value()),
            Op::Broadcast(a, _) => self.as_const(*a),
            _ => None,
        }
    }

    /// The named output `name`.
    pub fn output(&self, name: &str) -> Option<NodeId> {
        self.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
    }
    /// Names (or renames) an output; an existing name is rebound.
    pub fn set_output(&mut self, name: impl Into<String>, node: NodeId) {
        let name = name.into();
        match self.outputs.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = node,
            None => self.outputs.push((name, node)),
        }
    }
    /// The input named `name`, as a node, if the graph reads it.
    pub fn input_named(&self, name: &str) -> Option<NodeId> {
        let i = self.inputs.iter().position(|inp| inp.name == name)? as u32;
        self.dedup.get(&Op::Input(i)).copied()
    }

    /// Declares a new input and returns the node reading it.
    pub fn input(&mut self, name: impl Into<String>, kind: InputKind, ty: Ty) -> NodeId {
        self.inputs.push(InputInfo {
            name: name.into(),
            kind,
            ty,
        });
        self.add(Op::Input(self.inputs.len() as u32 - 1))
    }
    /// Adds `op` (or finds the equal node already there), or says why its shapes do not fit.
    pub fn try_add(&mut self, op: Op) -> Result<NodeId, String> {
        if let Some(&n) = self.dedup.get(&op) {
            return Ok(n);
        }
        let shape = self.shape_of_op(&op)?;
        let id = NodeId(self.ops.len() as u32);
        self.ops.push(op.clone());
        self.shapes.push(shape);
        self.spans.push(self.span);
        self.dedup.insert(op, id);
        Ok(id)
    }

    /// Adds `op`; a shape error here is a bug in the pass that built it.
    pub fn add(&mut self, op: Op) -> NodeId {
        match self.try_add(op) {
            Ok(n) => n,
            Err(e) => panic!("ill-shaped IR node: {e}"),
        }
    }

    // Builders for the common ops: short names keep the passes readable.

    pub fn constant(&mut self, v: f64) -> NodeId {
        self.add(Op::Const(Bits::new(v)))
    }
    /// `v` in the shape `shape` (a constant, broadcast unless `shape` is scalar).
    pub fn splat(&mut self, v: f64, shape: &Shape) -> NodeId {
        let c = self.constant(v);
        self.broadcast(c, shape)
    }
    pub fn zeros(&mut self, shape: &Shape) -> NodeId {
        self.splat(0.0, shape)
    }
    /// A scalar to `shape`; the scalar itself when `shape` is scalar.
    pub fn broadcast(&mut self, a: NodeId, shape: &Shape) -> NodeId {
        if shape.is_scalar() {
            a
        } else {
            self.add(Op::Broadcast(a, shape.clone()))
        }
    }
    pub fn unary(&mut self, u: Unary, a: NodeId) -> NodeId {
        self.add(Op::Unary(u, a))
    }
    pub fn binary(&mut self, b: Binary, x: NodeId, y: NodeId) -> NodeId {
        self.add(Op::Binary(b, x, y))
    }
    pub fn neg(&mut self, a: NodeId) -> NodeId {
        self.unary(Unary::Neg, a)
    }
    pub fn add2(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(Binary::Add, x, y)
    }
    pub fn sub(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(Binary::Sub, x, y)
    }
    pub fn mul(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(Binary::Mul, x, y)
    }
    pub fn div(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(Binary::Div, x, y)
    }
    pub fn cmp(&mut self, c: Cmp, x: NodeId, y: NodeId) -> NodeId {
        self.add(Op::Cmp(c, x, y))
    }
    pub fn select(&mut self, c: NodeId, x: NodeId, y: NodeId) -> NodeId {
        self.add(Op::Select(c, x, y))
    }
    pub fn reduce(&mut self, r: Reduce, a: NodeId) -> NodeId {
        self.add(Op::Reduce(r, a))
    }
    pub fn sum(&mut self, a: NodeId) -> NodeId {
        self.reduce(Reduce::Sum, a)
    }
    pub fn dot(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.add(Op::Dot(x, y))
    }
    /// Scalar multiple `k · a`.
    pub fn scale(&mut self, k: f64, a: NodeId) -> NodeId {
        let c = self.constant(k);
        self.mul(c, a)
    }

    /// The nodes that `roots` depend on (including themselves), as a mask.
    pub fn reachable(&self, roots: &[NodeId]) -> Vec<bool> {
        let mut live = vec![false; self.len()];
        for r in roots {
            live[r.index()] = true;
        }
        for n in self.ids().rev() {
            if live[n.index()] {
                self.op(n).for_each_arg(|a| live[a.index()] = true);
            }
        }
        live
    }

    /// The cost of one node: elements touched or multiply-adds, whichever the op does. `pad`
    /// and `onehot` count the values they place, not the zeros around them: the zeros are a
    /// memory fill of the gradient's own size, which the cheap-gradient principle does not
    /// bound (a function that reads one row of `W` still has a gradient the size of `W`).
    pub fn node_cost(&self, n: NodeId) -> u64 {
        let out = self.shape(n).len() as u64;
        let len = |a: &NodeId| self.shape(*a).len() as u64;
        match self.op(n) {
            Op::Const(_) | Op::Input(_) => 0,
            Op::Unary(..) | Op::Binary(..) | Op::Cmp(..) | Op::Select(..) => out,
            Op::MatVec(a, _) | Op::VecMat(_, a) => len(a),
            Op::MatMul(a, b) => len(a) * self.shape(*b).0[1] as u64,
            Op::Dot(a, _) | Op::Reduce(_, a) => len(a),
            Op::Outer(..) | Op::Transpose(_) | Op::Broadcast(..) | Op::Stack(_) => out,
            Op::Slice { .. } | Op::Take { .. } => out,
            Op::Pad { arg, .. } | Op::OneHot { arg, .. } => len(arg),
        }
    }

    /// The weighted op count of everything `roots` need: the sum of [`Graph::node_cost`] over
    /// the nodes they reach. The cheap-gradient principle says the gradient program costs a
    /// small constant multiple of the function's.
    pub fn cost(&self, roots: &[NodeId]) -> u64 {
        let live = self.reachable(roots);
        self.ids()
            .filter(|n| live[n.index()])
            .map(|n| self.node_cost(n))
            .sum()
    }

    /// A copy holding only what the outputs need (inputs are all kept, in order, so callers
    /// address them by the same names). Node ids are renumbered densely.
    pub fn prune(&self) -> Graph {
        let roots: Vec<NodeId> = self.outputs.iter().map(|o| o.1).collect();
        let live = self.reachable(&roots);
        let mut g = Graph {
            inputs: self.inputs.clone(),
            ..Graph::default()
        };
        let mut map = vec![NodeId(u32::MAX); self.len()];
        // Inputs first, in declaration order, so the text lists the interface at the top.
        for i in 0..self.inputs.len() as u32 {
            if let Some(&n) = self.dedup.get(&Op::Input(i)) {
                g.set_span(self.span(n));
                map[n.index()] = g.add(Op::Input(i));
            }
        }
        for n in self.ids() {
            if live[n.index()] && !matches!(self.op(n), Op::Input(_)) {
                g.set_span(self.span(n));
                map[n.index()] = g.add(self.op(n).map_args(|a| map[a.index()]));
            }
        }
        g.outputs = self
            .outputs
            .iter()
            .map(|(s, n)| (s.clone(), map[n.index()]))
            .collect();
        g.span = self.span;
        g
    }
}

#[cfg(test)]
mod tests {
    use super::{FxHasher, Op};
    use crate::ir::Bits;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn constants_spread_over_the_low_bits_of_the_hash() {
        // The table picks a bucket by the low bits; before the finalizer, the constants
        // 0.0 … 4095.0 all had the same low 12 bits.
        let h = BuildHasherDefault::<FxHasher>::default();
        let buckets: HashSet<u64> = (0..4096)
            .map(|k| h.hash_one(Op::Const(Bits::new(k as f64))) & 4095)
            .collect();
        assert!(buckets.len() > 2000, "{} buckets of 4096", buckets.len());
    }
}
