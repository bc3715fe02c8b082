//! Seeded random well-typed IR programs, for property tests of every stage after lowering.
//!
//! [`program`] builds a graph over the whole op set with one scalar output `f`, whose real
//! inputs are params (so gradients are taken with respect to all of them) plus one `class`
//! input used as a dynamic index. The same seed gives the same program on every machine, so
//! a failure names its seed and can be replayed; the JIT's tests reuse it to compare native
//! code with [`crate::interp`].
//!
//! Programs are built to be well-conditioned where evaluated, so that finite differences
//! are meaningful: every input is drawn from `[-2, 2]` ([`inputs`]); `log`, `sqrt`, `pow`'s
//! base and the divisor of `div` get a positive argument (`softplus(a) + 0.5`); and each node
//! carries a rough bound on its magnitude — only nodes with a small bound are used as
//! arguments, so no composition explodes. Non-smooth ops (`abs`, `max`, comparisons, …) are
//! included: a gradient check skips points where a decision changes between its samples
//! (see the interpreter's branch signature).

use crate::ir::{Binary, Cmp, Graph, InputKind, NodeId, Op, Reduce, Unary};
use crate::rng;
use crate::types::{Shape, Ty};

/// SplitMix64 ([`rng::splitmix64`]): small, fast, and the same everywhere.
///
/// Not [`rng::Rng`], on purpose: the fuzz corpora and crash inputs in `fuzz/` and the seeds
/// the tests name are decoded through this stream (its modulo `below`, its Box–Muller
/// `normal`), so changing the generator would silently turn every one of them into a
/// different program.
///
/// [`Rng::from_bytes`] makes a generator driven by a fuzzer: its small choices
/// ([`Rng::below`] with at most 256 outcomes, hence which op, which argument, which shape) are
/// read from the bytes, one byte each, while they last, so that a mutation of one byte changes
/// one decision and coverage-guided fuzzing can steer the program's structure.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// Choices given from outside, read front to back; empty for a seeded generator.
    tape: Vec<u8>,
    pos: usize,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed ^ 0x853c_49e6_748f_ea9b,
            tape: Vec::new(),
            pos: 0,
        }
    }
    /// The first 8 bytes (zero-padded) seed the stream; the rest are choices.
    pub fn from_bytes(bytes: &[u8]) -> Rng {
        let n = bytes.len().min(8);
        let mut seed = [0u8; 8];
        seed[..n].copy_from_slice(&bytes[..n]);
        Rng {
            tape: bytes[n..].to_vec(),
            ..Rng::new(u64::from_le_bytes(seed))
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        rng::splitmix64(&mut self.state)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Uniform in `0..n` (`n > 0`); the next byte of the tape, when there is one and `n`
    /// fits in a byte.
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            if let Some(&b) = self.tape.get(self.pos) {
                self.pos += 1;
                return b as usize % n;
            }
        }
        (self.next_u64() % n as u64) as usize
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Bounds above this make a node ineligible as an argument.
const ARG_BOUND: f64 = 6.0;

/// The operations the generator chooses among; one per op (and per variant of an op).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gen {
    Unary(Unary),
    Binary(Binary),
    CmpSelect(Cmp),
    CmpValue,
    MatVec,
    VecMat,
    MatMul,
    Dot,
    Outer,
    Transpose,
    Reduce(Reduce),
    Broadcast,
    Slice,
    Index,
    Pad,
    Take,
    OneHot,
    Stack,
}

fn all_gens() -> Vec<Gen> {
    let mut v: Vec<Gen> = Unary::ALL.iter().map(|&u| Gen::Unary(u)).collect();
    v.extend(Binary::ALL.iter().map(|&b| Gen::Binary(b)));
    v.extend(Cmp::ALL.iter().map(|&c| Gen::CmpSelect(c)));
    v.extend(Reduce::ALL.iter().map(|&r| Gen::Reduce(r)));
    v.extend([
        Gen::CmpValue,
        Gen::MatVec,
        Gen::VecMat,
        Gen::MatMul,
        Gen::Dot,
        Gen::Outer,
        Gen::Transpose,
        Gen::Broadcast,
        Gen::Slice,
        Gen::Index,
        Gen::Pad,
        Gen::Take,
        Gen::OneHot,
        Gen::Stack,
    ]);
    v
}

impl Gen {
    /// The ops this choice makes as its main node.
    fn makes(self, op: &str) -> bool {
        match self {
            Gen::Unary(u) => u.name() == op,
            Gen::Binary(b) => b.name() == op,
            Gen::CmpSelect(c) => c.name() == op || op == "select",
            // Picks its comparison at random: not a way to make one chosen op.
            Gen::CmpValue => false,
            Gen::Reduce(r) => r.name() == op,
            Gen::MatVec => op == "matvec",
            Gen::VecMat => op == "vecmat",
            Gen::MatMul => op == "matmul",
            Gen::Dot => op == "dot",
            Gen::Outer => op == "outer",
            Gen::Transpose => op == "transpose",
            Gen::Broadcast => op == "broadcast",
            Gen::Slice | Gen::Index => op == "slice",
            Gen::Pad => op == "pad",
            Gen::Take => op == "take",
            Gen::OneHot => op == "onehot",
            Gen::Stack => op == "stack",
        }
    }
}

struct Builder<'r> {
    rng: &'r mut Rng,
    g: Graph,
    /// Nodes usable as arguments, with their magnitude bounds.
    pool: Vec<(NodeId, f64)>,
    bound: Vec<f64>,
    class: NodeId,
    class_len: usize,
    params: usize,
}

impl Builder<'_> {
    fn bound_of(&self, n: NodeId) -> f64 {
        self.bound.get(n.index()).copied().unwrap_or(f64::INFINITY)
    }
    fn add(&mut self, op: Op, bound: f64) -> NodeId {
        let n = self.g.add(op);
        if self.bound.len() <= n.index() {
            self.bound.resize(n.index() + 1, f64::INFINITY);
        }
        let b = self.bound[n.index()].min(bound);
        self.bound[n.index()] = b;
        if b <= ARG_BOUND && !self.pool.iter().any(|p| p.0 == n) {
            self.pool.push((n, b));
        }
        n
    }
    fn param(&mut self, shape: Shape) -> NodeId {
        self.params += 1;
        self.g.input(
            format!("p{}", self.params),
            InputKind::Param,
            Ty::Real(shape),
        );
        let i = self.g.inputs.len() as u32 - 1;
        // Already added by `input`; this records its bound and pools it.
        self.add(Op::Input(i), 2.0)
    }
    /// A random eligible node satisfying `pred`, or a new param of `fallback` shape.
    fn arg(&mut self, pred: impl Fn(&Shape) -> bool, fallback: Shape) -> NodeId {
        let ok: Vec<NodeId> = self
            .pool
            .iter()
            .filter(|(n, _)| pred(self.g.shape(*n)))
            .map(|p| p.0)
            .collect();
        // Prefer recent nodes, so programs are deep rather than wide.
        if !ok.is_empty() && self.rng.below(5) != 0 {
            let k = ok.len();
            let i = k - 1 - self.rng.below(k.min(4));
            return ok[i];
        }
        self.param(fallback)
    }
    fn any(&mut self) -> NodeId {
        let s = self.rand_shape();
        self.arg(|_| true, s)
    }
    fn of(&mut self, s: &Shape) -> NodeId {
        let t = s.clone();
        self.arg(move |x| *x == t, s.clone())
    }
    fn rand_shape(&mut self) -> Shape {
        let shapes: [&[usize]; 7] = [&[], &[2], &[3], &[2, 3], &[3, 2], &[3, 3], &[2, 3, 2]];
        Shape(self.rng.pick(&shapes).to_vec())
    }
    fn dim(&mut self) -> usize {
        2 + self.rng.below(2)
    }
    /// `softplus(a) + 0.5`: positive, with `a`'s bound plus 1.5.
    fn positive(&mut self, a: NodeId) -> NodeId {
        let b = self.bound_of(a);
        let s = self.add(Op::Unary(Unary::Softplus, a), b + 1.0);
        let h = self.g.constant(0.5);
        self.add(Op::Binary(Binary::Add, s, h), b + 1.5)
    }
    fn scalar_or_same(&mut self, s: &Shape) -> NodeId {
        if self.rng.below(4) == 0 {
            self.of(&Shape::scalar())
        } else {
            self.of(s)
        }
    }

    /// Adds one random op; returns the new node.
    fn step(&mut self, gen: Gen) -> NodeId {
        let b = |s: &Self, n: NodeId| s.bound_of(n);
        match gen {
            Gen::Unary(u) => {
                let a = self.any();
                let a = if matches!(u, Unary::Log | Unary::Sqrt) {
                    self.positive(a)
                } else {
                    a
                };
                let ba = b(self, a);
                let bound = match u {
                    Unary::Neg | Unary::Abs => ba,
                    Unary::Exp => ba.exp(),
                    Unary::Log => (ba + 1.0).ln().max(1.0),
                    Unary::Tanh | Unary::Sigmoid | Unary::Sign | Unary::Sin | Unary::Cos => 1.0,
                    Unary::Softplus => ba + 1.0,
                    Unary::Sqrt => ba.sqrt(),
                    Unary::Square => ba * ba,
                };
                self.add(Op::Unary(u, a), bound)
            }
            Gen::Binary(op) => {
                let x = self.any();
                let s = self.g.shape(x).clone();
                let mut y = self.scalar_or_same(&s);
                let (mut x, swap) = (x, self.rng.below(2) == 0);
                if swap && op != Binary::Pow && op != Binary::Div {
                    std::mem::swap(&mut x, &mut y);
                }
                let (bx, by) = (b(self, x), b(self, y));
                let (x, y, bound) = match op {
                    Binary::Add | Binary::Sub => (x, y, bx + by),
                    Binary::Mul => (x, y, bx * by),
                    Binary::Max | Binary::Min => (x, y, bx.max(by)),
                    Binary::Div => {
                        let d = self.positive(y);
                        (x, d, bx / 0.5)
                    }
                    Binary::Pow => {
                        let base = self.positive(x);
                        let e = if self.rng.below(2) == 0 {
                            self.g.constant(*self.rng.pick(&[2.0, 3.0, 0.5, -1.5, 1.7]))
                        } else {
                            self.add(Op::Unary(Unary::Tanh, y), 1.0)
                        };
                        (base, e, (bx + 1.5).powi(3).max(2.0f64.powf(1.5)))
                    }
                };
                self.add(Op::Binary(op, x, y), bound)
            }
            Gen::CmpSelect(c) => {
                let x = self.any();
                let s = self.g.shape(x).clone();
                let y = self.scalar_or_same(&s);
                let cond = self.add(Op::Cmp(c, x, y), 1.0);
                let p = self.scalar_or_same(&s);
                let q = self.of(&s);
                let bound = b(self, p).max(b(self, q));
                self.add(Op::Select(cond, p, q), bound)
            }
            Gen::CmpValue => {
                let x = self.any();
                let s = self.g.shape(x).clone();
                let y = self.scalar_or_same(&s);
                let op = *self.rng.pick(&Cmp::ALL);
                let c = self.add(Op::Cmp(op, x, y), 1.0);
                let w = self.of(&s);
                let bw = b(self, w);
                self.add(Op::Binary(Binary::Mul, c, w), bw)
            }
            Gen::MatVec | Gen::VecMat => {
                let a = self.arg(|s| s.rank() == 2, Shape(vec![2, 3]));
                let (m, n) = (self.g.shape(a).0[0], self.g.shape(a).0[1]);
                let len = if gen == Gen::MatVec { n } else { m };
                let x = self.of(&Shape(vec![len]));
                let bound = len as f64 * b(self, a) * b(self, x);
                let op = if gen == Gen::MatVec {
                    Op::MatVec(a, x)
                } else {
                    Op::VecMat(x, a)
                };
                self.add(op, bound)
            }
            Gen::MatMul => {
                let a = self.arg(|s| s.rank() == 2, Shape(vec![3, 2]));
                let k = self.g.shape(a).0[1];
                let p = self.dim();
                let c = self.arg(move |s| s.rank() == 2 && s.0[0] == k, Shape(vec![k, p]));
                let bound = k as f64 * b(self, a) * b(self, c);
                self.add(Op::MatMul(a, c), bound)
            }
            Gen::Dot => {
                let a = self.any();
                let s = self.g.shape(a).clone();
                let c = self.of(&s);
                let bound = s.len() as f64 * b(self, a) * b(self, c);
                self.add(Op::Dot(a, c), bound)
            }
            Gen::Outer => {
                let a = self.arg(|s| s.rank() == 1, Shape(vec![3]));
                let c = self.arg(|s| s.rank() == 1, Shape(vec![2]));
                let bound = b(self, a) * b(self, c);
                self.add(Op::Outer(a, c), bound)
            }
            Gen::Transpose => {
                let a = self.arg(|s| s.rank() == 2, Shape(vec![2, 3]));
                let ba = b(self, a);
                self.add(Op::Transpose(a), ba)
            }
            Gen::Reduce(r) => {
                let a = self.arg(|s| !s.is_scalar(), Shape(vec![3]));
                let n = self.g.shape(a).len() as f64;
                let ba = b(self, a);
                let bound = match r {
                    Reduce::Sum => n * ba,
                    Reduce::Max | Reduce::Min => ba,
                    Reduce::LogSumExp => ba + n.ln(),
                };
                self.add(Op::Reduce(r, a), bound)
            }
            Gen::Broadcast => {
                let a = self.of(&Shape::scalar());
                let s = loop {
                    let s = self.rand_shape();
                    if !s.is_scalar() {
                        break s;
                    }
                };
                let ba = b(self, a);
                self.add(Op::Broadcast(a, s), ba)
            }
            Gen::Slice | Gen::Index => {
                let a = self.arg(|s| !s.is_scalar(), Shape(vec![3, 2]));
                let s = self.g.shape(a).clone();
                let axis = self.rng.below(s.rank());
                let d = s.0[axis];
                let start = self.rng.below(d);
                let (end, keep) = if gen == Gen::Slice {
                    (start + 1 + self.rng.below(d - start), true)
                } else {
                    (start + 1, false)
                };
                let ba = b(self, a);
                self.add(
                    Op::Slice {
                        arg: a,
                        axis: axis as u32,
                        start: start as u32,
                        end: end as u32,
                        keep,
                    },
                    ba,
                )
            }
            Gen::Pad => {
                let a = self.any();
                let s = self.g.shape(a).clone();
                let keep = !s.is_scalar() && self.rng.below(2) == 0;
                let axis = self.rng.below(s.rank() + usize::from(!keep));
                let w = if keep { s.0[axis] } else { 1 };
                let len = w + self.rng.below(3);
                let start = self.rng.below(len - w + 1);
                let ba = b(self, a);
                self.add(
                    Op::Pad {
                        arg: a,
                        axis: axis as u32,
                        start: start as u32,
                        len: len as u32,
                        keep,
                    },
                    ba,
                )
            }
            Gen::Take => {
                let k = self.class_len;
                let a = self.arg(move |s| s.0.contains(&k), Shape(vec![k, 2]));
                let s = self.g.shape(a).clone();
                let axes: Vec<usize> = (0..s.rank()).filter(|&i| s.0[i] == k).collect();
                let axis = *self.rng.pick(&axes) as u32;
                let index = if self.rng.below(3) == 0 {
                    self.g.constant(self.rng.below(k) as f64)
                } else {
                    self.class
                };
                let ba = b(self, a);
                self.add(
                    Op::Take {
                        arg: a,
                        index,
                        axis,
                    },
                    ba,
                )
            }
            Gen::OneHot => {
                let a = self.arg(|s| s.rank() <= 1, Shape(vec![2]));
                let axis = self.rng.below(self.g.shape(a).rank() + 1) as u32;
                let ba = b(self, a);
                self.add(
                    Op::OneHot {
                        arg: a,
                        index: self.class,
                        axis,
                        len: self.class_len as u32,
                    },
                    ba,
                )
            }
            Gen::Stack => {
                let first = self.any();
                let s = self.g.shape(first).clone();
                let mut xs = vec![first];
                for _ in 0..1 + self.rng.below(2) {
                    xs.push(self.of(&s));
                }
                let bound = xs.iter().map(|&x| b(self, x)).fold(0.0, f64::max);
                self.add(Op::Stack(xs), bound)
            }
        }
    }
}

/// A random program: `steps` random ops over random params and one `class[3]` output `k`;
/// the output `f` is a scalar depending on the last few nodes.
pub fn program(rng: &mut Rng, steps: usize) -> Graph {
    build(rng, steps, &all_gens())
}

/// A random program whose every step makes the op named `op` (as [`Op::name`] or
/// [`Reduce::name`] spell it), over random arguments.
pub fn program_with(rng: &mut Rng, steps: usize, op: &str) -> Graph {
    let gens: Vec<Gen> = all_gens().into_iter().filter(|g| g.makes(op)).collect();
    assert!(!gens.is_empty(), "the generator makes no `{op}`");
    build(rng, steps, &gens)
}

fn build(rng: &mut Rng, steps: usize, gens: &[Gen]) -> Graph {
    let mut g = Graph::new();
    let class = g.input("k", InputKind::Output, Ty::Class(3));
    let mut b = Builder {
        rng,
        g,
        pool: Vec::new(),
        bound: Vec::new(),
        class,
        class_len: 3,
        params: 0,
    };
    let mut last = Vec::new();
    for _ in 0..steps {
        let gen = *b.rng.pick(gens);
        last.push(b.step(gen));
    }
    // f = Σ_j c_j · sum(n_j) over the last nodes, skipping huge ones.
    let mut f = None;
    for &n in last.iter().rev().take(3) {
        if b.bound_of(n) > 1e3 {
            continue;
        }
        let s = b.g.sum(n);
        let c = b.rng.uniform(0.5, 1.5);
        let t = b.g.scale(c, s);
        f = Some(match f {
            None => t,
            Some(acc) => b.g.add2(acc, t),
        });
    }
    let f = match f {
        Some(f) => f,
        None => {
            let p = b.param(Shape::scalar());
            b.g.add(Op::Unary(Unary::Sin, p))
        }
    };
    b.g.set_output("f", f);
    b.g
}

/// A random direction over the real params of `g` (zero for every other input), for
/// directional finite-difference checks of parameter gradients.
pub fn param_direction(g: &Graph, rng: &mut Rng) -> Vec<Vec<f64>> {
    g.inputs
        .iter()
        .map(|inp| {
            let n = inp.shape().len();
            if inp.kind == InputKind::Param && matches!(inp.ty, Ty::Real(_)) {
                (0..n).map(|_| rng.normal()).collect()
            } else {
                vec![0.0; n]
            }
        })
        .collect()
}

/// Random values for every input of `g`, in input order: reals in `[-2, 2]`, classes in
/// range, signs ±1.
pub fn inputs(g: &Graph, rng: &mut Rng) -> Vec<Vec<f64>> {
    g.inputs
        .iter()
        .map(|inp| match &inp.ty {
            Ty::Real(s) => (0..s.len()).map(|_| rng.uniform(-2.0, 2.0)).collect(),
            Ty::Class(k) => vec![rng.below(*k) as f64],
            Ty::Sign(s) => (0..s.len())
                .map(|_| if rng.below(2) == 0 { -1.0 } else { 1.0 })
                .collect(),
        })
        .collect()
}

/// The names of the ops [`program`] can generate: every op of the IR.
pub fn op_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = Unary::ALL.iter().map(|u| u.name()).collect();
    v.extend(Binary::ALL.iter().map(|b| b.name()));
    v.extend(Cmp::ALL.iter().map(|c| c.name()));
    v.extend(Reduce::ALL.iter().map(|r| r.name()));
    v.extend([
        "const",
        "input",
        "select",
        "matvec",
        "vecmat",
        "matmul",
        "dot",
        "outer",
        "transpose",
        "broadcast",
        "slice",
        "pad",
        "take",
        "onehot",
        "stack",
    ]);
    v
}
