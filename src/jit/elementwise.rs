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
//! A chain may also read a vector *repeated* over the elements, in rows of a period `p`
//! (`n = rows · p`): [`Chain::cycle`] reads element `i mod p` of a `p`-vector (a shared vector
//! added to every row, such as a bias spread over a batch) and [`Chain::spread`] element
//! `i / p` of a `rows`-vector (one value per row). Such a chain runs as a loop over rows around
//! the loop over a row's `p` elements, so the repeated vector is read where it lies and never
//! copied out to `n` elements. Every repeated read of one chain has the same period.
//!
//! Comparisons produce `1.0` or `0.0`; `select(c, a, b)` takes `a` where `c ≠ 0`. `min` and
//! `max` propagate NaN.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, Value};

use super::emit::{Addr, FunctionTranslator, Region, Width};
use super::map_avx2::{self, MapOp};
use super::module::Libm;

/// Fewest elements for which a loop of a heavy chain takes two lane pairs per iteration
/// (see [`FunctionTranslator::elementwise`]): a batch of 16 rows of 128.
const LONG_HEAVY: usize = 2048;

/// The 256-bit map's name for `op`, if it computes it.
fn map_op(op: Unary) -> Option<MapOp> {
    match op {
        Unary::Exp => Some(MapOp::Exp),
        Unary::Tanh => Some(MapOp::Tanh),
        Unary::Sigmoid => Some(MapOp::Sigmoid),
        _ => None,
    }
}

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
    /// Whether evaluating it inline costs a polynomial or a division.
    fn heavy(self) -> bool {
        use Unary::*;
        matches!(self, Exp | Log | Log1p | Tanh | Sigmoid | Softplus)
    }

    /// Whether native code evaluates it by calling libm.
    fn calls_libm(self) -> bool {
        matches!(self, Unary::Sin | Unary::Cos)
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
    /// Element `i mod r.len` of `r`.
    Cycle(Region),
    /// Element `i / p` of `r`.
    Spread(Region, usize),
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

    /// Element `i mod r.len` of `r`: `r` repeated in every row of `r.len` elements.
    pub fn cycle(&mut self, r: Region) -> Val {
        assert!(r.len > 0, "a cycle reads a vector");
        self.push(Node::Cycle(r))
    }

    /// Element `i / p` of `r`: each element of `r` repeated over one row of `p` elements.
    pub fn spread(&mut self, r: Region, p: usize) -> Val {
        assert!(p > 0, "rows have elements");
        self.push(Node::Spread(r, p))
    }

    /// The row length of the chain's repeated reads, if it has any (they all agree).
    fn period(&self, live: &[bool]) -> Option<usize> {
        let mut period = None;
        for (node, &is_live) in self.nodes.iter().zip(live) {
            let p = match *node {
                Node::Cycle(r) if is_live => r.len,
                Node::Spread(_, p) if is_live => p,
                _ => continue,
            };
            assert!(
                period.is_none_or(|q| q == p),
                "repeated reads of periods {period:?} and {p} in one chain"
            );
            period = Some(p);
        }
        period
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
        let period = chain.period(&live);
        if let Some(p) = period {
            assert!(
                n.is_multiple_of(p),
                "{n} elements are no whole number of rows of {p}"
            );
        }
        let mut loads = Vec::new();
        for (node, &is_live) in chain.nodes.iter().zip(&live) {
            match *node {
                Node::Load(r) if is_live => {
                    assert_eq!(r.len, n, "loaded region length");
                    self.check_read(r);
                    loads.push(r);
                }
                Node::Cycle(r) | Node::Spread(r, _) if is_live => {
                    if let Node::Spread(_, p) = *node {
                        assert_eq!(r.len, n / p, "one spread element per row");
                    }
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
        if let Some((dst, op, arg)) = self.wide_map(n, chain, outputs) {
            match chain.nodes[arg.0 as usize] {
                Node::Load(src) => self.call_wide_map(dst, op, src),
                // A computed argument (a bias added before a `tanh`): into the output, then
                // `f` in place there — one more pass, and `f` at twice the width.
                _ => {
                    self.elementwise(n, chain, &[(dst, arg)]);
                    self.call_wide_map(dst, op, dst);
                }
            }
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

        // Two lane pairs per iteration for a light chain. A heavy one (exp's polynomial, then
        // a division) is bound by its latency, and the CPU's reorder window holds fewer than
        // two of its iterations, so two independent pairs in one body overlap where
        // consecutive iterations did not (Langevin on the density MLP, whose time is in
        // sigmoid over 16 × 128 values: ~12 % faster) — but the doubled body costs Cranelift
        // 10–25 % more compile time on the MLP models, so only long loops, where run time
        // outweighs it, take it. A call into libm gains nothing from it.
        let (mut heavy, mut calls) = (false, false);
        for (node, &is_live) in chain.nodes.iter().zip(&live) {
            match node {
                Node::Unary(op, _) if is_live => {
                    heavy |= op.heavy();
                    calls |= op.calls_libm();
                }
                Node::Binary(Binary::Pow, ..) if is_live => calls = true,
                _ => {}
            }
        }
        let unroll = if calls || (heavy && n < LONG_HEAVY) {
            1
        } else {
            2
        };
        match period {
            None => self.sweep(n, unroll, |t, w, dynamic, at| {
                t.chain_body(chain, &live, &scalars, outputs, None, w, dynamic, at)
            }),
            Some(p) => self.counted_loop(n / p, [8 * p as i64, 8], |t, [row, spread]| {
                // This row's element of every spread read, at both widths.
                let mut scalars = scalars.clone();
                for (i, node) in chain.nodes.iter().enumerate() {
                    if let (Node::Spread(r, _), true) = (node, live[i]) {
                        let x = t.load(Width::Scalar, Addr::new(r.buf, r.offset, Some(spread)));
                        let v = t.splat(Width::X2, x);
                        scalars[i] = Some((x, v));
                    }
                }
                t.sweep(p, unroll, |t, w, dynamic, at| {
                    t.chain_body(chain, &live, &scalars, outputs, Some(row), w, dynamic, at)
                })
            }),
        }
    }

    /// `(dst, op, arg)` when the chain's one output is `op(arg)` for a function the 256-bit
    /// map computes with the same bits, on a host that calls it, and the loop is long enough.
    fn wide_map(
        &self,
        n: usize,
        chain: &Chain,
        outputs: &[(Region, Val)],
    ) -> Option<(Region, MapOp, Val)> {
        if !self.wide_gemm() || !self.inline_math() || n < map_avx2::MIN_LEN {
            return None;
        }
        let [(dst, v)] = outputs else { return None };
        let Node::Unary(op, arg) = chain.nodes[v.0 as usize] else {
            return None;
        };
        Some((*dst, map_op(op)?, arg))
    }

    /// One lane group of `chain` at element `at` (plus the dynamic byte offset `dynamic`) of
    /// a row starting `row` bytes into the loaded and stored regions.
    #[allow(clippy::too_many_arguments)]
    fn chain_body(
        &mut self,
        chain: &Chain,
        live: &[bool],
        scalars: &[Option<(Value, Value)>],
        outputs: &[(Region, Val)],
        row: Option<Value>,
        w: Width,
        dynamic: Option<Value>,
        at: usize,
    ) {
        let whole = self.dyn_add(row, dynamic);
        let mut vals: Vec<Option<Value>> = vec![None; chain.nodes.len()];
        for (i, node) in chain.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let get = |v: Val| vals[v.0 as usize].expect("operands come first");
            let v = match *node {
                Node::Load(r) => self.load(w, Addr::new(r.buf, r.offset + at, whole)),
                Node::Cycle(r) => self.load(w, Addr::new(r.buf, r.offset + at, dynamic)),
                Node::Broadcast(_) | Node::Spread(..) => {
                    let (x, v) = scalars[i].expect("loaded before the loop");
                    if w == Width::Scalar {
                        x
                    } else {
                        v
                    }
                }
                Node::Const(c) => self.fconst(w, c),
                Node::Unary(op, a) => self.unary(w, op, get(a)),
                Node::Binary(op, a, b) => self.binary(w, op, get(a), get(b)),
                Node::Select(c, a, b) => {
                    let zero = self.fconst(w, 0.0);
                    let m = self.fcmp(FloatCC::NotEqual, get(c), zero);
                    self.select(w, m, get(a), get(b))
                }
            };
            vals[i] = Some(v);
        }
        for (o, v) in outputs {
            let v = vals[v.0 as usize].expect("live");
            self.store(v, Addr::new(o.buf, o.offset + at, whole));
        }
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
