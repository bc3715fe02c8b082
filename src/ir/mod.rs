//! The tensor IR: a [`Graph`] of [`Node`]s in topological order, the input of differentiation,
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

mod batch;
mod lower;
mod parse;
pub mod random;
mod simplify;
mod verify;

pub use batch::batch;
pub use lower::{answers, build, energy, free_energy, loss, LowerError, Program, MAX_ANSWERS};
pub use parse::{parse, ParseError};
pub use simplify::{simplify, simplify_with_stats, Rule, Stats, RULES};
pub use verify::{debug_verify, verify, VerifyError};

use crate::span::Span;
use crate::types::{Shape, Ty};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A node's index in its [`Graph`]; arguments always have smaller indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// An `f64` compared and hashed by its bits, so constants can be hash-consed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bits(u64);

impl Bits {
    pub fn new(v: f64) -> Bits {
        Bits(v.to_bits())
    }
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.value())
    }
}

/// Elementwise functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unary {
    Neg,
    Exp,
    Log,
    Tanh,
    /// Logistic `1 / (1 + e^−u)`, evaluated without overflow for any `u`.
    Sigmoid,
    /// `log(1 + e^u)`, evaluated as `max(u, 0) + log1p(e^−|u|)`.
    Softplus,
    Abs,
    /// −1, 0 or +1; the derivative of `abs`, itself with derivative zero.
    Sign,
    Sqrt,
    Square,
    Sin,
    Cos,
}

/// Elementwise functions of two arguments, with scalar broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

/// Elementwise comparisons giving 1.0 (true) or 0.0 (false); derivative zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Le,
    Eq,
}

/// Whole-tensor reductions to a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduce {
    Sum,
    Max,
    Min,
    /// `log Σ e^v`, evaluated as `m + log Σ e^(v−m)` with `m = max v`.
    LogSumExp,
}

/// What an input holds and who supplies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    Param,
    Input,
    Output,
    Latent,
    /// Supplied by the runtime for a loss: a negative answer ȳ for real outputs.
    Extra,
}

impl InputKind {
    pub fn keyword(self) -> &'static str {
        match self {
            InputKind::Param => "param",
            InputKind::Input => "input",
            InputKind::Output => "output",
            InputKind::Latent => "latent",
            InputKind::Extra => "extra",
        }
    }
}

/// One input of a graph: a value the caller supplies, flat and row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct InputInfo {
    pub name: String,
    pub kind: InputKind,
    /// The source type; `class[k]` and `sign` inputs are scalars holding an index or ±1.
    pub ty: Ty,
}

impl InputInfo {
    /// The shape of the node that reads this input.
    pub fn shape(&self) -> Shape {
        self.ty.shape().cloned().unwrap_or_default()
    }
}

/// The closed op set. Shapes follow from the op and its arguments' shapes
/// ([`Graph::shape_of_op`]); ops that make a larger tensor carry the target size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// A real scalar; tensors of one value are `broadcast` of a constant.
    Const(Bits),
    /// The i-th entry of [`Graph::inputs`].
    Input(u32),
    Unary(Unary, NodeId),
    Binary(Binary, NodeId, NodeId),
    Cmp(Cmp, NodeId, NodeId),
    /// `select c, a, b`: `a` where `c ≠ 0`, else `b`; elementwise with scalar broadcasting.
    Select(NodeId, NodeId, NodeId),
    /// `[m, n] × [n] → [m]`.
    MatVec(NodeId, NodeId),
    /// `[m] × [m, n] → [n]`: `xᵀA`, the adjoint of `matvec` in its vector.
    VecMat(NodeId, NodeId),
    /// `[m, k] × [k, n] → [m, n]`.
    MatMul(NodeId, NodeId),
    /// `Σ a·b` over two equally shaped tensors.
    Dot(NodeId, NodeId),
    /// `[m] × [n] → [m, n]`.
    Outer(NodeId, NodeId),
    /// Swaps the two axes of a matrix.
    Transpose(NodeId),
    Reduce(Reduce, NodeId),
    /// A scalar repeated to the given shape.
    Broadcast(NodeId, Shape),
    /// `start..end` along `axis`; with `keep = false` the range has one element and the axis
    /// is dropped (a static index).
    Slice {
        arg: NodeId,
        axis: u32,
        start: u32,
        end: u32,
        keep: bool,
    },
    /// The adjoint of `Slice`: places `arg` at `start` along `axis` in zeros of length `len`
    /// (inserting that axis when `keep = false`).
    Pad {
        arg: NodeId,
        axis: u32,
        start: u32,
        len: u32,
        keep: bool,
    },
    /// Entry `index` (a scalar node holding an integer) along `axis`, which is dropped.
    Take {
        arg: NodeId,
        index: NodeId,
        axis: u32,
    },
    /// The adjoint of `Take`: `arg` placed at `index` along a new `axis` of length `len`,
    /// zeros elsewhere.
    OneHot {
        arg: NodeId,
        index: NodeId,
        axis: u32,
        len: u32,
    },
    /// Equally shaped tensors stacked along a new leading axis.
    Stack(Vec<NodeId>),
}

impl Op {
    /// The operator's name as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Const(_) => "const",
            Op::Input(_) => "input",
            Op::Unary(u, _) => u.name(),
            Op::Binary(b, _, _) => b.name(),
            Op::Cmp(c, _, _) => c.name(),
            Op::Select(..) => "select",
            Op::MatVec(..) => "matvec",
            Op::VecMat(..) => "vecmat",
            Op::MatMul(..) => "matmul",
            Op::Dot(..) => "dot",
            Op::Outer(..) => "outer",
            Op::Transpose(_) => "transpose",
            Op::Reduce(r, _) => r.name(),
            Op::Broadcast(..) => "broadcast",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Take { .. } => "take",
            Op::OneHot { .. } => "onehot",
            Op::Stack(_) => "stack",
        }
    }

    /// The node arguments, in order.
    pub fn args(&self) -> Vec<NodeId> {
        let mut v = Vec::new();
        self.for_each_arg(|a| v.push(a));
        v
    }

    /// Calls `f` on each node argument, in order, without allocating.
    pub fn for_each_arg(&self, mut f: impl FnMut(NodeId)) {
        match self {
            Op::Const(_) | Op::Input(_) => {}
            Op::Unary(_, a)
            | Op::Transpose(a)
            | Op::Reduce(_, a)
            | Op::Broadcast(a, _)
            | Op::Slice { arg: a, .. }
            | Op::Pad { arg: a, .. } => f(*a),
            Op::Binary(_, a, b)
            | Op::Cmp(_, a, b)
            | Op::MatVec(a, b)
            | Op::VecMat(a, b)
            | Op::MatMul(a, b)
            | Op::Dot(a, b)
            | Op::Outer(a, b)
            | Op::Take {
                arg: a, index: b, ..
            }
            | Op::OneHot {
                arg: a, index: b, ..
            } => {
                f(*a);
                f(*b)
            }
            Op::Select(c, a, b) => {
                f(*c);
                f(*a);
                f(*b)
            }
            Op::Stack(xs) => xs.iter().for_each(|&x| f(x)),
        }
    }

    /// The same op with every argument replaced by `f(arg)`.
    pub fn map_args(&self, mut f: impl FnMut(NodeId) -> NodeId) -> Op {
        match self {
            Op::Const(c) => Op::Const(*c),
            Op::Input(i) => Op::Input(*i),
            Op::Unary(u, a) => Op::Unary(*u, f(*a)),
            Op::Binary(b, x, y) => Op::Binary(*b, f(*x), f(*y)),
            Op::Cmp(c, x, y) => Op::Cmp(*c, f(*x), f(*y)),
            Op::Select(c, x, y) => Op::Select(f(*c), f(*x), f(*y)),
            Op::MatVec(x, y) => Op::MatVec(f(*x), f(*y)),
            Op::VecMat(x, y) => Op::VecMat(f(*x), f(*y)),
            Op::MatMul(x, y) => Op::MatMul(f(*x), f(*y)),
            Op::Dot(x, y) => Op::Dot(f(*x), f(*y)),
            Op::Outer(x, y) => Op::Outer(f(*x), f(*y)),
            Op::Transpose(a) => Op::Transpose(f(*a)),
            Op::Reduce(r, a) => Op::Reduce(*r, f(*a)),
            Op::Broadcast(a, s) => Op::Broadcast(f(*a), s.clone()),
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep,
            } => Op::Slice {
                arg: f(*arg),
                axis: *axis,
                start: *start,
                end: *end,
                keep: *keep,
            },
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => Op::Pad {
                arg: f(*arg),
                axis: *axis,
                start: *start,
                len: *len,
                keep: *keep,
            },
            Op::Take { arg, index, axis } => Op::Take {
                arg: f(*arg),
                index: f(*index),
                axis: *axis,
            },
            Op::OneHot {
                arg,
                index,
                axis,
                len,
            } => Op::OneHot {
                arg: f(*arg),
                index: f(*index),
                axis: *axis,
                len: *len,
            },
            Op::Stack(xs) => Op::Stack(xs.iter().map(|&x| f(x)).collect()),
        }
    }
}

impl Unary {
    pub const ALL: [Unary; 12] = [
        Unary::Neg,
        Unary::Exp,
        Unary::Log,
        Unary::Tanh,
        Unary::Sigmoid,
        Unary::Softplus,
        Unary::Abs,
        Unary::Sign,
        Unary::Sqrt,
        Unary::Square,
        Unary::Sin,
        Unary::Cos,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Softplus => "softplus",
            Unary::Abs => "abs",
            Unary::Sign => "sign",
            Unary::Sqrt => "sqrt",
            Unary::Square => "square",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
        }
    }
    /// The function on one element, in its numerically stable form.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Unary::Neg => -x,
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => {
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Unary::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Unary::Abs => x.abs(),
            Unary::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x // keeps 0, −0 and NaN
                }
            }
            Unary::Sqrt => x.sqrt(),
            Unary::Square => x * x,
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
        }
    }
}

impl Binary {
    pub const ALL: [Binary; 7] = [
        Binary::Add,
        Binary::Sub,
        Binary::Mul,
        Binary::Div,
        Binary::Pow,
        Binary::Max,
        Binary::Min,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Pow => "pow",
            Binary::Max => "max",
            Binary::Min => "min",
        }
    }
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => a.powf(b),
            // NaN-propagating, unlike f64::max.
            Binary::Max => {
                if a >= b || a.is_nan() {
                    a
                } else {
                    b
                }
            }
            Binary::Min => {
                if a <= b || a.is_nan() {
                    a
                } else {
                    b
                }
            }
        }
    }
}

impl Cmp {
    pub const ALL: [Cmp; 3] = [Cmp::Lt, Cmp::Le, Cmp::Eq];
    pub fn name(self) -> &'static str {
        match self {
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Eq => "eq",
        }
    }
    pub fn apply(self, a: f64, b: f64) -> f64 {
        let t = match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
        };
        if t {
            1.0
        } else {
            0.0
        }
    }
}

impl Reduce {
    pub const ALL: [Reduce; 4] = [Reduce::Sum, Reduce::Max, Reduce::Min, Reduce::LogSumExp];
    pub fn name(self) -> &'static str {
        match self {
            Reduce::Sum => "sum",
            Reduce::Max => "max.all",
            Reduce::Min => "min.all",
            Reduce::LogSumExp => "logsumexp",
        }
    }
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
    fn finish(&self) -> u64 {
        self.0
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

    /// The shape of `op`'s result, or why its arguments do not fit it.
    pub fn shape_of_op(&self, op: &Op) -> Result<Shape, String> {
        let mut bad = None;
        op.for_each_arg(|a| {
            if a.index() >= self.ops.len() && bad.is_none() {
                bad = Some(format!("argument {a} is not an earlier node"));
            }
        });
        if let Some(b) = bad {
            return Err(b);
        }
        let sh = |n: NodeId| &self.shapes[n.index()];
        let elementwise = |args: &[NodeId]| -> Result<Shape, String> {
            let mut out = Shape::scalar();
            for &a in args {
                let s = sh(a);
                if s.is_scalar() {
                    continue;
                }
                if out.is_scalar() {
                    out = s.clone();
                } else if &out != s {
                    return Err(format!("shapes {out} and {s} do not broadcast"));
                }
            }
            Ok(out)
        };
        let rank = |n: NodeId, r: usize, what: &str| -> Result<(), String> {
            if sh(n).rank() == r {
                Ok(())
            } else {
                Err(format!("{what}: expected rank {r}, found {}", sh(n)))
            }
        };
        match op {
            Op::Const(_) => Ok(Shape::scalar()),
            Op::Input(i) => match self.inputs.get(*i as usize) {
                Some(inp) => Ok(inp.shape()),
                None => Err(format!("no input {i}")),
            },
            Op::Unary(_, a) => Ok(sh(*a).clone()),
            Op::Binary(_, a, b) | Op::Cmp(_, a, b) => elementwise(&[*a, *b]),
            Op::Select(c, a, b) => elementwise(&[*c, *a, *b]),
            Op::MatVec(a, x) => {
                rank(*a, 2, "matvec matrix")?;
                rank(*x, 1, "matvec vector")?;
                if sh(*a).0[1] != sh(*x).0[0] {
                    return Err(format!("matvec of {} and {}", sh(*a), sh(*x)));
                }
                Ok(Shape(vec![sh(*a).0[0]]))
            }
            Op::VecMat(x, a) => {
                rank(*x, 1, "vecmat vector")?;
                rank(*a, 2, "vecmat matrix")?;
                if sh(*a).0[0] != sh(*x).0[0] {
                    return Err(format!("vecmat of {} and {}", sh(*x), sh(*a)));
                }
                Ok(Shape(vec![sh(*a).0[1]]))
            }
            Op::MatMul(a, b) => {
                rank(*a, 2, "matmul left")?;
                rank(*b, 2, "matmul right")?;
                if sh(*a).0[1] != sh(*b).0[0] {
                    return Err(format!("matmul of {} and {}", sh(*a), sh(*b)));
                }
                Ok(Shape(vec![sh(*a).0[0], sh(*b).0[1]]))
            }
            Op::Dot(a, b) => {
                if sh(*a) != sh(*b) {
                    return Err(format!("dot of {} and {}", sh(*a), sh(*b)));
                }
                Ok(Shape::scalar())
            }
            Op::Outer(a, b) => {
                rank(*a, 1, "outer left")?;
                rank(*b, 1, "outer right")?;
                Ok(Shape(vec![sh(*a).0[0], sh(*b).0[0]]))
            }
            Op::Transpose(a) => {
                rank(*a, 2, "transpose")?;
                Ok(Shape(vec![sh(*a).0[1], sh(*a).0[0]]))
            }
            Op::Reduce(_, _) => Ok(Shape::scalar()),
            Op::Broadcast(a, s) => {
                rank(*a, 0, "broadcast")?;
                Ok(s.clone())
            }
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep,
            } => {
                let s = sh(*arg);
                let (axis, start, end) = (*axis as usize, *start as usize, *end as usize);
                if axis >= s.rank()
                    || start >= end
                    || end > s.0[axis]
                    || (!keep && end - start != 1)
                {
                    return Err(format!("slice {start}..{end} of axis {axis} of {s}"));
                }
                let mut d = s.0.clone();
                if *keep {
                    d[axis] = end - start;
                } else {
                    d.remove(axis);
                }
                Ok(Shape(d))
            }
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => {
                let s = sh(*arg);
                let (axis, start, len) = (*axis as usize, *start as usize, *len as usize);
                let mut d = s.0.clone();
                if *keep {
                    if axis >= s.rank() || start + s.0[axis] > len {
                        return Err(format!("pad of {s} at {start} of axis {axis} to {len}"));
                    }
                    d[axis] = len;
                } else {
                    if axis > s.rank() || start >= len {
                        return Err(format!("pad of {s} at {start} of new axis {axis} to {len}"));
                    }
                    d.insert(axis, len);
                }
                Ok(Shape(d))
            }
            Op::Take { arg, index, axis } => {
                rank(*index, 0, "take index")?;
                let s = sh(*arg);
                if *axis as usize >= s.rank() {
                    return Err(format!("take along axis {axis} of {s}"));
                }
                let mut d = s.0.clone();
                d.remove(*axis as usize);
                Ok(Shape(d))
            }
            Op::OneHot {
                arg,
                index,
                axis,
                len,
            } => {
                rank(*index, 0, "onehot index")?;
                let s = sh(*arg);
                if *axis as usize > s.rank() || *len == 0 {
                    return Err(format!("onehot along new axis {axis} of {s}"));
                }
                let mut d = s.0.clone();
                d.insert(*axis as usize, *len as usize);
                Ok(Shape(d))
            }
            Op::Stack(xs) => {
                let Some(first) = xs.first() else {
                    return Err("stack of nothing".into());
                };
                let s = sh(*first);
                if let Some(o) = xs.iter().find(|&&x| sh(x) != s) {
                    return Err(format!("stack of {s} and {}", sh(*o)));
                }
                let mut d = vec![xs.len()];
                d.extend_from_slice(&s.0);
                Ok(Shape(d))
            }
        }
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

    /// The line of `emit ir` for one node, without a newline.
    pub fn node_text(&self, n: NodeId) -> String {
        let mut s = format!("{n} = ");
        let op = self.op(n);
        match op {
            Op::Const(c) => s += &format!("const {:?}", c.value()),
            Op::Input(i) => {
                let inp = &self.inputs[*i as usize];
                s += &format!("{} {}", inp.kind.keyword(), inp.name);
                if inp.ty.is_discrete() {
                    s += &format!(" {}", inp.ty);
                }
            }
            Op::Broadcast(a, _) => s += &format!("broadcast {a}"),
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep,
            } => {
                s += &format!("slice {arg}, {axis}, ");
                s += &if *keep {
                    format!("{start}..{end}")
                } else {
                    format!("{start}")
                };
            }
            Op::Pad {
                arg,
                axis,
                start,
                len: _,
                keep,
            } => {
                s += &format!("pad {arg}, {axis}, ");
                let n = if *keep {
                    self.shape(*arg).0[*axis as usize]
                } else {
                    1
                };
                s += &if *keep {
                    format!("{start}..{}", *start as usize + n)
                } else {
                    format!("{start}")
                };
            }
            Op::Take { arg, index, axis } => s += &format!("take {arg}, {index}, {axis}"),
            Op::OneHot {
                arg,
                index,
                axis,
                len: _,
            } => s += &format!("onehot {arg}, {index}, {axis}"),
            _ => {
                s += op.name();
                let args: Vec<String> = op.args().iter().map(|a| a.to_string()).collect();
                if !args.is_empty() {
                    s += " ";
                    s += &args.join(", ");
                }
            }
        }
        s += &format!(" : {}", self.shape(n));
        s
    }
}

impl fmt::Display for Graph {
    /// The text of `ebmc emit ir`: one node per line, then one `out NAME = %n` per output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in self.ids() {
            writeln!(f, "{}", self.node_text(n))?;
        }
        for (name, n) in &self.outputs {
            writeln!(f, "out {name} = {n}")?;
        }
        Ok(())
    }
}
