//! The closed op set: what a node of a [`Graph`](super::Graph) computes, and the small enums
//! it is built from, each with its printed name and, for the elementwise ones, its value on
//! one element.
//!
//! Passes match [`Op`] exhaustively, so a new op does not compile until it has a derivative
//! rule, an interpreter case, a shape rule and a cost. [`Op::for_each_arg`] and
//! [`Op::map_args`] visit arguments in the order the text prints them.

use crate::types::{Shape, Ty};
use std::fmt;

/// A node's index in its [`Graph`](super::Graph); arguments always have smaller indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
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
/// ([`Graph::shape_of_op`](super::Graph::shape_of_op)); ops that make a larger tensor carry
/// the target size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// A real scalar; tensors of one value are `broadcast` of a constant.
    Const(Bits),
    /// The i-th entry of [`Graph::inputs`](super::Graph::inputs).
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
