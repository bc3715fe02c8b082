//! The IR translator: the emission pass over a [`Plan`], one `translate_<op>` per op.
//!
//! It walks the nodes in topological order and emits one kernel per materialized node: a fused
//! elementwise tree becomes one [`Chain`], one loop.
//!
//! Invariants:
//! * every region handed to a kernel lies inside the function's [`super::Layout`] (the kernels
//!   check it again when they emit);
//! * code size depends on the graph, never on the tensor sizes: every op is a fixed number of
//!   counted loops;
//! * a run-time index (`take`/`onehot` by a class value) is checked by the generated code,
//!   which returns [`super::STATUS_INDEX_OUT_OF_RANGE`] instead of reading out of bounds.
//!
//! With [`super::JitOptions::strict`], every op computes exactly what [`crate::interp`]
//! computes (sums left to right from −0, no FMA, libm transcendentals), so results agree bit
//! for bit; without it reductions use several SIMD accumulators and FMA and transcendentals
//! are inline polynomials (≤ 2 ulp), so results agree to rounding.

use std::collections::HashMap;

use crate::ir::{self, Graph, NodeId, Op, Reduce};

use super::elementwise::{Binary, Chain, Unary, Val};
use super::emit::{FunctionTranslator, Region, Strided};
use super::kernels::Accumulate;
use super::plan::{self, const_index, split, split_new, Loc, Plan, Repeat};

/// Everything needed to emit one function's body.
pub(super) struct Body<'g> {
    pub(super) g: &'g Graph,
    pub(super) plan: Plan,
    pub(super) strict: bool,
}

impl Body<'_> {
    /// The nodes computed by a kernel, in order.
    pub(super) fn kernels(&self) -> Vec<NodeId> {
        self.g
            .ids()
            .filter(|n| self.plan.computed[n.index()])
            .collect()
    }

    /// Emits kernels `start..` of `kernels` (from [`Body::kernels`]) until the function holds
    /// `budget` instructions (at least one kernel), and returns where it stopped: the constants
    /// go before the first kernel, the copies into the outputs after the last. Every kernel
    /// reads and writes only the buffers, so consecutive ranges may go in functions called in
    /// turn.
    pub(super) fn emit_until(
        &self,
        t: &mut FunctionTranslator,
        kernels: &[NodeId],
        start: usize,
        budget: usize,
    ) -> usize {
        if start == 0 {
            for &(r, v) in &self.plan.consts {
                t.fill(r, v);
            }
        }
        let mut tr = Translator {
            g: self.g,
            plan: &self.plan,
            strict: self.strict,
            t,
        };
        let mut end = start;
        while end < kernels.len() && (end == start || tr.t.b.func.dfg.num_insts() < budget) {
            tr.translate(kernels[end]);
            end += 1;
        }
        if end == kernels.len() {
            for &(dst, n) in &self.plan.copies {
                tr.place(dst, n);
            }
        }
        end
    }
}

/// Emits the kernels of one graph: one `translate_<op>` per op.
struct Translator<'p, 't, 'a> {
    g: &'p Graph,
    plan: &'p Plan,
    strict: bool,
    t: &'t mut FunctionTranslator<'a>,
}

fn row_major(r: Region, dims: &[(usize, usize)]) -> Strided {
    Strided {
        buf: r.buf,
        offset: r.offset,
        dims: dims.to_vec(),
    }
}

impl Translator<'_, '_, '_> {
    /// The memory holding `n` (constants a kernel reads have a slot; fused nodes have none).
    fn region(&self, n: NodeId) -> Region {
        match self.plan.loc[n.index()] {
            Loc::Mem(r) => r,
            Loc::Const(c) => self
                .plan
                .consts
                .iter()
                .find(|p| p.1.to_bits() == c.to_bits())
                .map(|p| p.0)
                .expect("constants read by kernels have a slot"),
            other => panic!("{} has no memory: {other:?}", self.g.node_text(n)),
        }
    }

    fn dims(&self, n: NodeId) -> &[usize] {
        &self.g.shape(n).0
    }

    /// Writes `n`'s value into `dst` (an output slot or a stack row).
    fn place(&mut self, dst: Region, n: NodeId) {
        match self.plan.loc[n.index()] {
            Loc::Const(c) => self.t.fill(dst, c),
            Loc::Mem(r) => self.t.copy(dst, r),
            other => panic!("cannot place {}: {other:?}", self.g.node_text(n)),
        }
    }

    fn translate(&mut self, n: NodeId) {
        let dst = self.region(n);
        match self.g.op(n) {
            Op::Const(_) | Op::Input(_) => unreachable!("not computed by a kernel"),
            Op::Unary(..) | Op::Binary(..) | Op::Cmp(..) | Op::Select(..) => {
                self.translate_elementwise(n, dst)
            }
            Op::MatVec(a, x) => self.translate_matvec(dst, *a, *x),
            Op::VecMat(x, a) => self.translate_vecmat(dst, *x, *a),
            Op::MatMul(a, b) => self.translate_matmul(dst, *a, *b),
            Op::Dot(a, b) => self.translate_dot(dst, *a, *b),
            Op::Outer(a, b) => self.translate_outer(dst, *a, *b),
            Op::Transpose(a) => self.translate_transpose(dst, *a),
            Op::Reduce(r, a) => self.translate_reduce(dst, *r, *a),
            Op::Broadcast(..) => self.translate_elementwise(n, dst),
            Op::Slice {
                arg,
                axis,
                start,
                end,
                ..
            } => self.translate_slice(dst, *arg, *axis, *start, *end),
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => self.translate_pad(dst, *arg, *axis, *start, *len, *keep),
            Op::Take { arg, index, axis } => self.translate_take(dst, *arg, *index, *axis),
            Op::OneHot {
                arg,
                index,
                axis,
                len,
            } => self.translate_onehot(dst, *arg, *index, *axis, *len),
            Op::Stack(xs) => self.translate_stack(dst, xs),
        }
    }

    // ---- elementwise: one fused loop per materialized tree ----------------------------

    fn translate_elementwise(&mut self, n: NodeId, dst: Region) {
        let mut c = Chain::new();
        let mut memo = HashMap::new();
        let v = self.chain_op(n, dst.len, &mut c, &mut memo);
        self.t.elementwise(dst.len, &c, &[(dst, v)]);
    }

    /// The chain computing `n`'s op from its operands, with the fused operands computed in
    /// the loop too.
    ///
    /// A fused tree is as deep as the chain of single-use elementwise ops it covers, which
    /// only the source's size bounds (`let h2 = h1 * 0.9 + 0.1`, 100,000 times), so it is
    /// walked with an explicit stack, in the order a recursive walk takes (operands left to
    /// right, each value made once): the same chain, instruction for instruction.
    fn chain_op(
        &self,
        root: NodeId,
        len: usize,
        c: &mut Chain,
        memo: &mut HashMap<NodeId, Val>,
    ) -> Val {
        // (node, how many of its operands are done); `vals` holds the values of the operands
        // done, the innermost node's last.
        let mut stack: Vec<(NodeId, usize)> = vec![(root, 0)];
        let mut vals: Vec<Val> = Vec::new();
        while let Some(&mut (n, ref mut done)) = stack.last_mut() {
            let (args, arity) = elementwise_args(self.g.op(n));
            if *done < arity {
                let a = args[*done];
                *done += 1;
                if let Some(v) = memo.get(&a) {
                    vals.push(*v);
                    continue;
                }
                let v = match self.plan.loc[a.index()] {
                    Loc::Const(x) => c.constant(x),
                    Loc::Fused => match plan::repeat_of(self.g, a) {
                        Some((v, Repeat::Cycle, _)) => c.cycle(self.region(v)),
                        Some((v, Repeat::Spread, p)) => c.spread(self.region(v), p),
                        None => {
                            stack.push((a, 0));
                            continue;
                        }
                    },
                    Loc::Mem(r) if r.len == len => c.load(r),
                    Loc::Mem(r) => c.broadcast(r),
                    Loc::Dead => unreachable!("operands are live"),
                };
                memo.insert(a, v);
                vals.push(v);
            } else {
                stack.pop();
                let xs = vals.split_off(vals.len() - arity);
                let v = self.chain_apply(n, &xs, c);
                if stack.is_empty() {
                    return v;
                }
                memo.insert(n, v);
                vals.push(v);
            }
        }
        unreachable!("the root returns from the loop")
    }

    /// `n`'s elementwise op applied to the chain values of its operands.
    fn chain_apply(&self, n: NodeId, xs: &[Val], c: &mut Chain) -> Val {
        match self.g.op(n) {
            Op::Unary(u, _) => translate_unary(c, *u, xs[0]),
            Op::Binary(b, ..) => translate_binary(c, *b, xs[0], xs[1]),
            Op::Cmp(cmp, ..) => {
                let op = match cmp {
                    ir::Cmp::Lt => Binary::Lt,
                    ir::Cmp::Le => Binary::Le,
                    ir::Cmp::Eq => Binary::Eq,
                };
                c.binary(op, xs[0], xs[1])
            }
            Op::Select(..) => c.select(xs[0], xs[1], xs[2]),
            Op::Broadcast(..) => xs[0],
            other => unreachable!("{} is not elementwise", other.name()),
        }
    }

    // ---- linear algebra -----------------------------------------------------------------

    fn translate_matvec(&mut self, dst: Region, a: NodeId, x: NodeId) {
        let (m, k) = (self.dims(a)[0], self.dims(a)[1]);
        let (ra, rx) = (self.region(a), self.region(x));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[(m, 1)]),
                &row_major(ra, &[(m, k), (k, 1)]),
                Some(&row_major(rx, &[(m, 0), (k, 1)])),
            );
        } else {
            self.t.matvec(dst, ra, rx, m, k, Accumulate::Overwrite);
        }
    }

    fn translate_vecmat(&mut self, dst: Region, x: NodeId, a: NodeId) {
        let (m, k) = (self.dims(a)[0], self.dims(a)[1]);
        let (ra, rx) = (self.region(a), self.region(x));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[(k, 1)]),
                &row_major(rx, &[(k, 0), (m, 1)]),
                Some(&row_major(ra, &[(k, 1), (m, k)])),
            );
        } else {
            self.t.matvec_t(dst, ra, rx, m, k, Accumulate::Overwrite);
        }
    }

    fn translate_matmul(&mut self, dst: Region, a: NodeId, b: NodeId) {
        let (m, k, p) = (self.dims(a)[0], self.dims(a)[1], self.dims(b)[1]);
        let (ra, rb) = (self.region(a), self.region(b));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[(m, p), (p, 1)]),
                &row_major(ra, &[(m, k), (p, 0), (k, 1)]),
                Some(&row_major(rb, &[(m, 0), (p, 1), (k, p)])),
            );
        } else {
            self.t.matmul(dst, ra, rb, (m, k, p), Accumulate::Overwrite);
        }
    }

    fn translate_dot(&mut self, dst: Region, a: NodeId, b: NodeId) {
        let (ra, rb) = (self.region(a), self.region(b));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[]),
                &row_major(ra, &[(ra.len, 1)]),
                Some(&row_major(rb, &[(rb.len, 1)])),
            );
        } else {
            self.t.dot(dst, ra, rb);
        }
    }

    fn translate_outer(&mut self, dst: Region, a: NodeId, b: NodeId) {
        let (ra, rb) = (self.region(a), self.region(b));
        self.t
            .outer(dst, ra, rb, ra.len, rb.len, Accumulate::Overwrite);
    }

    fn translate_transpose(&mut self, dst: Region, a: NodeId) {
        let (m, k) = (self.dims(a)[0], self.dims(a)[1]);
        let ra = self.region(a);
        self.t.transpose(dst, ra, m, k);
    }

    fn translate_reduce(&mut self, dst: Region, r: Reduce, a: NodeId) {
        let ra = self.region(a);
        match (r, self.strict) {
            (Reduce::Sum, false) => self.t.sum(dst, ra),
            (Reduce::Sum, true) => {
                self.t
                    .contract_seq(&row_major(dst, &[]), &row_major(ra, &[(ra.len, 1)]), None)
            }
            (Reduce::Max, false) => self.t.max(dst, ra),
            (Reduce::Min, false) => self.t.min(dst, ra),
            (Reduce::Max, true) => self.t.extremum_seq(dst, ra, true),
            (Reduce::Min, true) => self.t.extremum_seq(dst, ra, false),
            (Reduce::LogSumExp, false) => self.t.logsumexp(dst, ra),
            (Reduce::LogSumExp, true) => self.t.logsumexp_seq(dst, ra),
        }
    }

    // ---- data movement ------------------------------------------------------------------

    fn translate_slice(&mut self, dst: Region, arg: NodeId, axis: u32, start: u32, end: u32) {
        let (outer, d, inner) = split(self.dims(arg), axis as usize);
        let ra = self.region(arg);
        let w = (end - start) as usize * inner;
        let src = Strided {
            buf: ra.buf,
            offset: ra.offset + start as usize * inner,
            dims: vec![(outer, d * inner), (w, 1)],
        };
        self.t.copy_strided(
            &row_major(dst, &[(outer, w), (w, 1)]),
            &src,
            Accumulate::Overwrite,
        );
    }

    fn translate_pad(
        &mut self,
        dst: Region,
        arg: NodeId,
        axis: u32,
        start: u32,
        len: u32,
        keep: bool,
    ) {
        let (outer, w, inner) = if keep {
            split(self.dims(arg), axis as usize)
        } else {
            split_new(self.dims(arg), axis as usize)
        };
        let ra = self.region(arg);
        self.pad_into(
            dst,
            ra,
            (outer, w * inner),
            start as usize * inner,
            len as usize * inner,
        );
    }

    /// `dst = 0` then row `o` of `src` (`[outer, w]`) at `at` of row `o` of `dst` (`row` wide).
    /// With one row, only the zeros around the copy are written (a pad that shifts a long
    /// vector by one is a copy and one zero, not a fill and a copy).
    fn pad_into(
        &mut self,
        dst: Region,
        src: Region,
        (outer, w): (usize, usize),
        at: usize,
        row: usize,
    ) {
        if outer == 1 {
            let after = at + w;
            if at > 0 {
                self.t.fill(Region::new(dst.buf, dst.offset, at), 0.0);
            }
            if row > after {
                self.t
                    .fill(Region::new(dst.buf, dst.offset + after, row - after), 0.0);
            }
        } else {
            self.t.fill(dst, 0.0);
        }
        let to = Strided {
            buf: dst.buf,
            offset: dst.offset + at,
            dims: vec![(outer, row), (w, 1)],
        };
        self.t.copy_strided(
            &to,
            &row_major(src, &[(outer, w), (w, 1)]),
            Accumulate::Overwrite,
        );
    }

    fn translate_take(&mut self, dst: Region, arg: NodeId, index: NodeId, axis: u32) {
        let (outer, d, inner) = split(self.dims(arg), axis as usize);
        let ra = self.region(arg);
        match const_index(self.g, index, d) {
            Some(k) => {
                let src = Strided {
                    buf: ra.buf,
                    offset: ra.offset + k * inner,
                    dims: vec![(outer, d * inner), (inner, 1)],
                };
                self.t.copy_strided(
                    &row_major(dst, &[(outer, inner), (inner, 1)]),
                    &src,
                    Accumulate::Overwrite,
                );
            }
            None => {
                let ri = self.region(index);
                self.t.take_dynamic(dst, ra, (outer, d, inner), ri);
            }
        }
    }

    fn translate_onehot(&mut self, dst: Region, arg: NodeId, index: NodeId, axis: u32, len: u32) {
        let (outer, _, inner) = split_new(self.dims(arg), axis as usize);
        let len = len as usize;
        let ra = self.region(arg);
        match const_index(self.g, index, len) {
            Some(k) => self.pad_into(dst, ra, (outer, inner), k * inner, len * inner),
            None => {
                let ri = self.region(index);
                self.t.onehot_dynamic(dst, ra, (outer, len, inner), ri);
            }
        }
    }

    fn translate_stack(&mut self, dst: Region, xs: &[NodeId]) {
        let each = dst.len / xs.len();
        for (k, &x) in xs.iter().enumerate() {
            self.place(dst.sub(k * each, each), x);
        }
    }
}

/// One IR unary op as chain nodes.
fn translate_unary(c: &mut Chain, u: ir::Unary, x: Val) -> Val {
    let direct = |op: Unary, c: &mut Chain| c.unary(op, x);
    match u {
        ir::Unary::Neg => direct(Unary::Neg, c),
        ir::Unary::Exp => direct(Unary::Exp, c),
        ir::Unary::Log => direct(Unary::Log, c),
        ir::Unary::Tanh => direct(Unary::Tanh, c),
        ir::Unary::Sigmoid => direct(Unary::Sigmoid, c),
        ir::Unary::Softplus => direct(Unary::Softplus, c),
        ir::Unary::Abs => direct(Unary::Abs, c),
        ir::Unary::Sqrt => direct(Unary::Sqrt, c),
        ir::Unary::Square => direct(Unary::Square, c),
        ir::Unary::Sin => direct(Unary::Sin, c),
        ir::Unary::Cos => direct(Unary::Cos, c),
        // ±1 off zero; 0, −0 and NaN pass through, as in `Unary::apply`.
        ir::Unary::Sign => {
            let zero = c.constant(0.0);
            let one = c.constant(1.0);
            let minus = c.constant(-1.0);
            let pos = c.binary(Binary::Gt, x, zero);
            let neg = c.binary(Binary::Lt, x, zero);
            let rest = c.select(neg, minus, x);
            c.select(pos, one, rest)
        }
    }
}

/// One IR binary op as chain nodes.
fn translate_binary(c: &mut Chain, b: ir::Binary, x: Val, y: Val) -> Val {
    match b {
        ir::Binary::Add => c.binary(Binary::Add, x, y),
        ir::Binary::Sub => c.binary(Binary::Sub, x, y),
        ir::Binary::Mul => c.binary(Binary::Mul, x, y),
        ir::Binary::Div => c.binary(Binary::Div, x, y),
        ir::Binary::Pow => c.binary(Binary::Pow, x, y),
        // The IR's choice exactly: `x` if `x ≥ y` (`≤` for min) or `x` is NaN, else `y` —
        // NaN from either side, and the first argument on ties (so `max(−0, 0)` is −0).
        ir::Binary::Max | ir::Binary::Min => {
            let cmp = if b == ir::Binary::Max {
                Binary::Ge
            } else {
                Binary::Le
            };
            let keep = c.binary(cmp, x, y);
            let nan = c.binary(Binary::Ne, x, x);
            let pick = c.select(keep, x, y);
            c.select(nan, x, pick)
        }
    }
}

/// The operands of an elementwise op, in the order its chain reads them (the first `.1`).
fn elementwise_args(op: &Op) -> ([NodeId; 3], usize) {
    let mut args = [NodeId(0); 3];
    let mut k = 0;
    op.for_each_arg(|a| {
        args[k] = a;
        k += 1;
    });
    (args, k)
}
