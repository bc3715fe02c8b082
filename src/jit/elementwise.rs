//! Fused elementwise chains: one loop computing many ops per element.
//!
//! A [`Chain`] is a small SSA program over one element `i`: nodes read element `i` of a region
//! ([`Chain::load`]), a single element broadcast to all `i` ([`Chain::broadcast`]), a constant,
//! or apply a [`Unary`], [`Binary`] or select to earlier nodes. Nodes refer only to earlier
//! nodes, so the chain is in topological order by construction.
//! [`FunctionTranslator::elementwise`] runs it over `n` elements and stores any number of its
//! values: the loop body evaluates the chain on `f64x2` lanes (two vectors per iteration when
//! the chain is cheap), then a bounded remainder, then at most one scalar element.
//!
//! Invariants checked when the loop is emitted:
//!
//! * every loaded region and every output has exactly `n` elements, every broadcast one, all
//!   inside their buffers; outputs are not in the input buffer;
//! * outputs are pairwise disjoint, and an output either is disjoint from every loaded region
//!   or *is* one of them (in-place update): all loads of an element happen before any store
//!   of it, so exactly-aliased updates are safe and partial overlaps are refused.
//!
//! Comparisons produce `1.0` or `0.0`; `select(c, a, b)` takes `a` where `c ≠ 0`. `min` and
//! `max` propagate NaN.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{Addr, FunctionTranslator, Region, Width};
use super::module::Libm;

/// Elementwise functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unary {
    Neg,
    Abs,
    Sqrt,
    Square,
    Recip,
    Relu,
    /// `1` where `x > 0`, else `0`: the derivative of relu.
    Step,
    Exp,
    Log,
    Log1p,
    Tanh,
    Sigmoid,
    Softplus,
    Sin,
    Cos,
}

impl Unary {
    /// Whether evaluating it costs more than a few instructions.
    fn heavy(self) -> bool {
        use Unary::*;
        matches!(
            self,
            Exp | Log | Log1p | Tanh | Sigmoid | Softplus | Sin | Cos
        )
    }
}

/// Elementwise functions of two arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A node of a [`Chain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Val(u32);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Node {
    Load(Region),
    Broadcast(Region),
    Const(f64),
    Unary(Unary, Val),
    Binary(Binary, Val, Val),
    Select(Val, Val, Val),
}

/// An elementwise program; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chain {
    nodes: Vec<Node>,
}

impl Chain {
    pub fn new() -> Chain {
        Chain::default()
    }

    fn push(&mut self, n: Node) -> Val {
        for v in match n {
            Node::Unary(_, a) => vec![a],
            Node::Binary(_, a, b) => vec![a, b],
            Node::Select(c, a, b) => vec![c, a, b],
            _ => vec![],
        } {
            assert!(
                (v.0 as usize) < self.nodes.len(),
                "chain node from elsewhere"
            );
        }
        self.nodes.push(n);
        Val(self.nodes.len() as u32 - 1)
    }

    /// Element `i` of `r`.
    pub fn load(&mut self, r: Region) -> Val {
        self.push(Node::Load(r))
    }

    /// The single element `r` (of length 1), for every `i`.
    pub fn broadcast(&mut self, r: Region) -> Val {
        assert_eq!(r.len, 1, "a broadcast reads one element");
        self.push(Node::Broadcast(r))
    }

    pub fn constant(&mut self, c: f64) -> Val {
        self.push(Node::Const(c))
    }

    pub fn unary(&mut self, op: Unary, a: Val) -> Val {
        self.push(Node::Unary(op, a))
    }

    pub fn binary(&mut self, op: Binary, a: Val, b: Val) -> Val {
        self.push(Node::Binary(op, a, b))
    }

    /// `a` where `c ≠ 0`, else `b`.
    pub fn select(&mut self, c: Val, a: Val, b: Val) -> Val {
        self.push(Node::Select(c, a, b))
    }

    /// Which nodes the outputs need.
    fn live(&self, outputs: &[(Region, Val)]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        for (_, v) in outputs {
            live[v.0 as usize] = true;
        }
        for i in (0..self.nodes.len()).rev() {
            if !live[i] {
                continue;
            }
            match self.nodes[i] {
                Node::Unary(_, a) => live[a.0 as usize] = true,
                Node::Binary(_, a, b) => {
                    live[a.0 as usize] = true;
                    live[b.0 as usize] = true;
                }
                Node::Select(c, a, b) => {
                    for v in [c, a, b] {
                        live[v.0 as usize] = true;
                    }
                }
                _ => {}
            }
        }
        live
    }
}

impl FunctionTranslator<'_> {
    /// Evaluates `chain` for elements `0..n` and stores `outputs[k].1` into `outputs[k].0`.
    pub fn elementwise(&mut self, n: usize, chain: &Chain, outputs: &[(Region, Val)]) {
        let live = chain.live(outputs);
        let mut loads = Vec::new();
        for (node, &is_live) in chain.nodes.iter().zip(&live) {
            match *node {
                Node::Load(r) if is_live => {
                    assert_eq!(r.len, n, "loaded region length");
                    self.check_read(r);
                    loads.push(r);
                }
                Node::Broadcast(r) if is_live => self.check_read(r),
                _ => {}
            }
        }
        for (i, (o, _)) in outputs.iter().enumerate() {
            assert_eq!(o.len, n, "output region length");
            self.check_write(*o);
            for (p, _) in &outputs[..i] {
                assert!(!o.overlaps(*p), "outputs {o:?} and {p:?} overlap");
            }
            for l in &loads {
                assert!(
                    l == o || !l.overlaps(*o),
                    "output {o:?} partially overlaps input {l:?}"
                );
            }
        }
        if n == 0 || outputs.is_empty() {
            return;
        }

        // Broadcast elements are loaded once, before the loop, at both widths.
        let mut scalars: Vec<Option<(Value, Value)>> = vec![None; chain.nodes.len()];
        for (i, node) in chain.nodes.iter().enumerate() {
            if let (Node::Broadcast(r), true) = (node, live[i]) {
                let x = self.load(Width::Scalar, Addr::new(r.buf, r.offset, None));
                let v = self.splat(Width::X2, x);
                scalars[i] = Some((x, v));
            }
        }

        let heavy = chain.nodes.iter().zip(&live).any(|(n, &l)| {
            l && match n {
                Node::Unary(op, _) => op.heavy(),
                Node::Binary(op, _, _) => *op == Binary::Pow,
                _ => false,
            }
        });
        let unroll = if heavy { 1 } else { 2 };
        self.sweep(n, unroll, |t, w, dynamic, at| {
            let mut vals: Vec<Option<Value>> = vec![None; chain.nodes.len()];
            for (i, node) in chain.nodes.iter().enumerate() {
                if !live[i] {
                    continue;
                }
                let get = |v: Val| vals[v.0 as usize].expect("operands come first");
                let v = match *node {
                    Node::Load(r) => t.load(w, Addr::new(r.buf, r.offset + at, dynamic)),
                    Node::Broadcast(_) => {
                        let (x, v) = scalars[i].expect("loaded before the loop");
                        if w == Width::Scalar {
                            x
                        } else {
                            v
                        }
                    }
                    Node::Const(c) => t.fconst(w, c),
                    Node::Unary(op, a) => t.unary(w, op, get(a)),
                    Node::Binary(op, a, b) => t.binary(w, op, get(a), get(b)),
                    Node::Select(c, a, b) => {
                        let zero = t.fconst(w, 0.0);
                        let m = t.fcmp(FloatCC::NotEqual, get(c), zero);
                        t.select(w, m, get(a), get(b))
                    }
                };
                vals[i] = Some(v);
            }
            for (o, v) in outputs {
                let v = vals[v.0 as usize].expect("live");
                t.store(v, Addr::new(o.buf, o.offset + at, dynamic));
            }
        });
    }

    /// `dst[i] = op(src[i])`.
    pub fn map_unary(&mut self, dst: Region, op: Unary, src: Region) {
        let mut c = Chain::new();
        let x = c.load(src);
        let y = c.unary(op, x);
        self.elementwise(dst.len, &c, &[(dst, y)]);
    }

    /// `dst[i] = op(a[i], b[i])`.
    pub fn map_binary(&mut self, dst: Region, op: Binary, a: Region, b: Region) {
        let mut c = Chain::new();
        let x = c.load(a);
        let y = c.load(b);
        let z = c.binary(op, x, y);
        self.elementwise(dst.len, &c, &[(dst, z)]);
    }

    /// One elementwise function of one lane group.
    pub fn unary(&mut self, w: Width, op: Unary, x: Value) -> Value {
        match op {
            Unary::Neg => self.b.ins().fneg(x),
            Unary::Abs => self.b.ins().fabs(x),
            Unary::Sqrt => self.b.ins().sqrt(x),
            Unary::Square => self.b.ins().fmul(x, x),
            Unary::Recip => {
                let one = self.fconst(w, 1.0);
                self.b.ins().fdiv(one, x)
            }
            Unary::Relu => {
                let zero = self.fconst(w, 0.0);
                self.b.ins().fmax(x, zero)
            }
            Unary::Step => {
                let one = self.fconst(w, 1.0);
                let zero = self.fconst(w, 0.0);
                let m = self.fcmp(FloatCC::GreaterThan, x, zero);
                self.select(w, m, one, zero)
            }
            Unary::Exp => self.exp(w, x),
            Unary::Log => self.log(w, x),
            Unary::Log1p => self.log1p(w, x),
            Unary::Tanh => self.tanh(w, x),
            Unary::Sigmoid => self.sigmoid(w, x),
            Unary::Softplus => self.softplus(w, x),
            Unary::Sin => self.call_libm(w, Libm::Sin, &[x]),
            Unary::Cos => self.call_libm(w, Libm::Cos, &[x]),
        }
    }

    /// One elementwise function of two lane groups.
    pub fn binary(&mut self, w: Width, op: Binary, a: Value, b: Value) -> Value {
        let cmp = |t: &mut Self, cc: FloatCC| {
            let one = t.fconst(w, 1.0);
            let zero = t.fconst(w, 0.0);
            let m = t.fcmp(cc, a, b);
            t.select(w, m, one, zero)
        };
        match op {
            Binary::Add => self.b.ins().fadd(a, b),
            Binary::Sub => self.b.ins().fsub(a, b),
            Binary::Mul => self.b.ins().fmul(a, b),
            Binary::Div => self.b.ins().fdiv(a, b),
            Binary::Min => self.b.ins().fmin(a, b),
            Binary::Max => self.b.ins().fmax(a, b),
            Binary::Pow => self.call_libm(w, Libm::Pow, &[a, b]),
            Binary::Lt => cmp(self, FloatCC::LessThan),
            Binary::Le => cmp(self, FloatCC::LessThanOrEqual),
            Binary::Gt => cmp(self, FloatCC::GreaterThan),
            Binary::Ge => cmp(self, FloatCC::GreaterThanOrEqual),
            Binary::Eq => cmp(self, FloatCC::Equal),
            Binary::Ne => cmp(self, FloatCC::NotEqual),
        }
    }
}
