//! The function translator: buffers, regions, loads and stores, counted loops, lane helpers.
//!
//! A [`FunctionTranslator`] wraps Cranelift's [`FunctionBuilder`] for one function of the ABI
//! described in [`super`]. It offers the vocabulary every kernel is written in:
//!
//! * **Regions.** A [`Region`] is `len` consecutive `f64`s at element `offset` of one of the
//!   three buffers; a [`Strided`] region is a nest of (length, stride) dimensions. Kernels
//!   check every region against the function's [`Layout`] *before* emitting an access
//!   ([`FunctionTranslator::check_read`], [`FunctionTranslator::check_write`]); a failed check
//!   is a bug in the caller and panics at compile time. Loads and stores are private to the
//!   `jit` module, so no access escapes this discipline — the soundness of
//!   [`super::CompiledFn::call`] rests on it.
//! * **Addresses.** An access is `base(buf) + dynamic + 8 * offset`, where `dynamic` is the
//!   sum of loop induction variables in bytes and the static part goes in the instruction's
//!   immediate. Induction variables advance in bytes so a loop body does no multiplications.
//! * **Counted loops.** [`FunctionTranslator::counted_loop`] emits a loop with compile-time
//!   trip count and one or more induction variables. Trip counts are known, so a loop that runs
//!   at all runs at least once and is emitted bottom-tested ("rotated"): the *header* block
//!   holds the induction variables and starts the body, the body may open nested blocks, and
//!   the latch at its end branches back to the header or on to the *exit*. The header is
//!   sealed once that back edge exists — its last predecessor — and the exit right after it.
//!   Zero trips emit nothing; one trip emits the body once, without a loop.
//! * **Lanes.** [`Width`] selects `f64` or `f64x2` (128-bit SIMD); the helpers (`fconst`,
//!   `fcmp`, `select`, bit casts, …) hide the differences, so a kernel body or a
//!   transcendental is written once for both.
//!
//! Memory accesses carry `notrap` (they are in bounds by construction) but not `aligned`:
//! regions start at any element, and a 16-byte access at an 8-byte boundary is legal on every
//! target Cranelift supports, whereas an `aligned` flag would let x86 fold it into an
//! instruction that requires 16-byte alignment.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, Block, Endianness, FuncRef, InstBuilder, MemFlagsData, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_module::FuncId;

use super::map_avx2::MapOp;
use super::module::{Host, Layout, Libm, STATUS_INDEX_OUT_OF_RANGE};

/// One of the three buffers of the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Buf {
    Input,
    Output,
    Scratch,
}

/// `len` consecutive `f64`s starting at element `offset` of `buf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    pub buf: Buf,
    pub offset: usize,
    pub len: usize,
}

impl Region {
    pub fn new(buf: Buf, offset: usize, len: usize) -> Region {
        Region { buf, offset, len }
    }

    /// The single element at `offset`.
    pub fn at(buf: Buf, offset: usize) -> Region {
        Region::new(buf, offset, 1)
    }

    /// Elements `start .. start + len` of this region.
    pub fn sub(self, start: usize, len: usize) -> Region {
        assert!(
            start + len <= self.len,
            "sub-region {start}+{len} of a region of {}",
            self.len
        );
        Region::new(self.buf, self.offset + start, len)
    }

    pub fn end(self) -> usize {
        self.offset + self.len
    }

    /// Whether the two regions share an element.
    pub fn overlaps(self, other: Region) -> bool {
        self.buf == other.buf
            && self.len > 0
            && other.len > 0
            && self.offset < other.end()
            && other.offset < self.end()
    }
}

/// A strided view: element `(i_0, …, i_k)` is at `offset + Σ i_d · stride_d` of `buf`.
/// Dimensions are listed outermost first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Strided {
    pub buf: Buf,
    pub offset: usize,
    /// `(length, stride)` per dimension, in elements.
    pub dims: Vec<(usize, usize)>,
}

impl Strided {
    /// A contiguous region seen as a row-major tensor of the given shape.
    pub fn row_major(region: Region, shape: &[usize]) -> Strided {
        assert_eq!(
            shape.iter().product::<usize>(),
            region.len,
            "shape of region"
        );
        let mut dims = vec![(0, 0); shape.len()];
        let mut stride = 1;
        for (d, &len) in shape.iter().enumerate().rev() {
            dims[d] = (len, stride);
            stride *= len;
        }
        Strided {
            buf: region.buf,
            offset: region.offset,
            dims,
        }
    }

    pub fn count(&self) -> usize {
        self.dims.iter().map(|d| d.0).product()
    }

    /// The smallest region holding every element (empty when there are none).
    pub fn hull(&self) -> Region {
        if self.count() == 0 {
            return Region::new(self.buf, self.offset, 0);
        }
        let last: usize = self.dims.iter().map(|&(n, s)| (n - 1) * s).sum();
        Region::new(self.buf, self.offset, last + 1)
    }
}

/// Lanes per value: a scalar `f64` or a 128-bit vector `f64x2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    Scalar,
    X2,
}

impl Width {
    pub fn lanes(self) -> usize {
        match self {
            Width::Scalar => 1,
            Width::X2 => 2,
        }
    }

    pub fn float(self) -> Type {
        match self {
            Width::Scalar => types::F64,
            Width::X2 => types::F64X2,
        }
    }

    pub fn int(self) -> Type {
        match self {
            Width::Scalar => types::I64,
            Width::X2 => types::I64X2,
        }
    }
}

/// A comparison result usable by [`FunctionTranslator::select`]: an `i8` flag for scalars, an
/// all-ones/all-zeros lane mask for vectors.
#[derive(Clone, Copy, Debug)]
pub struct Mask(Value);

/// Where an access goes: buffer, static element offset, optional dynamic byte offset.
#[derive(Clone, Copy, Debug)]
pub(super) struct Addr {
    pub buf: Buf,
    pub elem: usize,
    pub dynamic: Option<Value>,
}

impl Addr {
    pub fn new(buf: Buf, elem: usize, dynamic: Option<Value>) -> Addr {
        Addr { buf, elem, dynamic }
    }

    /// The same address `n` elements further.
    pub fn plus(self, n: usize) -> Addr {
        Addr {
            elem: self.elem + n,
            ..self
        }
    }
}

/// Builds one function of the ABI; see the module documentation.
pub struct FunctionTranslator<'a> {
    pub(super) b: FunctionBuilder<'a>,
    host: Host<'a>,
    layout: Layout,
    bases: [Value; 3],
    imported: HashMap<Libm, FuncRef>,
    /// The 256-bit matrix product, once imported into this function.
    gemm: Option<FuncRef>,
    /// The 256-bit map, once imported into this function.
    map: Option<FuncRef>,
    /// Block returning [`STATUS_INDEX_OUT_OF_RANGE`], created on first use.
    fail: Option<Block>,
}

impl<'a> FunctionTranslator<'a> {
    pub(super) fn new(
        mut b: FunctionBuilder<'a>,
        host: Host<'a>,
        layout: Layout,
    ) -> FunctionTranslator<'a> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let p = b.block_params(entry);
        let bases = [p[0], p[1], p[2]];
        FunctionTranslator {
            b,
            host,
            layout,
            bases,
            imported: HashMap::new(),
            gemm: None,
            map: None,
            fail: None,
        }
    }

    /// Returns success from the current block, closes the failure block, hands the builder
    /// back for finalization.
    pub(super) fn finish(mut self) -> FunctionBuilder<'a> {
        let ok = self.b.ins().iconst(types::I32, 0);
        self.b.ins().return_(&[ok]);
        if let Some(fail) = self.fail {
            // Every index check that branches here has been emitted: its last predecessor.
            self.b.switch_to_block(fail);
            self.b.seal_block(fail);
            let status = self
                .b
                .ins()
                .iconst(types::I32, i64::from(STATUS_INDEX_OUT_OF_RANGE));
            self.b.ins().return_(&[status]);
        }
        self.b
    }

    /// The buffer lengths of the function being built.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub(super) fn inline_math(&self) -> bool {
        self.host.options.inline_math && !self.host.options.strict
    }

    /// Whether code must match the interpreter bit for bit (see [`super::JitOptions::strict`]).
    pub fn strict(&self) -> bool {
        self.host.options.strict
    }

    // ---- bounds discipline -------------------------------------------------------------

    /// Panics unless `r` lies inside its buffer.
    pub fn check_read(&self, r: Region) {
        let len = self.layout.len(r.buf);
        assert!(
            r.len == 0 || r.end() <= len,
            "JIT kernel region {r:?} exceeds the {:?} buffer of {len} f64s",
            r.buf
        );
    }

    /// Panics unless `r` lies inside its buffer and that buffer is writable.
    pub fn check_write(&self, r: Region) {
        assert!(
            r.buf != Buf::Input || r.len == 0,
            "JIT kernel writes to the input buffer: {r:?}"
        );
        self.check_read(r);
    }

    // ---- memory -------------------------------------------------------------------------

    fn flags() -> MemFlagsData {
        MemFlagsData::new().with_notrap()
    }

    fn pointer(&mut self, a: Addr) -> (Value, i32) {
        let base = self.bases[a.buf as usize];
        let base = match a.dynamic {
            Some(d) => self.b.ins().iadd(base, d),
            None => base,
        };
        let bytes = (a.elem as u64) * 8;
        match i32::try_from(bytes) {
            Ok(imm) => (base, imm),
            Err(_) => {
                let far = self.b.ins().iadd_imm_s(base, bytes as i64);
                (far, 0)
            }
        }
    }

    /// Loads `w.lanes()` elements. Callers have checked the region containing them.
    pub(super) fn load(&mut self, w: Width, a: Addr) -> Value {
        let (p, imm) = self.pointer(a);
        self.b.ins().load(w.float(), Self::flags(), p, imm)
    }

    /// [`Self::load`] for a loop body that reads a region no instruction of the loop writes,
    /// at an address that moves with the loop's own induction variable (`a.dynamic` includes
    /// it). The load is marked `readonly` and `can_move`, which makes it a pure value to
    /// Cranelift's optimizer: instead of staying where it was emitted — every load of an
    /// unrolled body ahead of every use, so a register-blocked kernel holds them all at once
    /// and spills — it is placed just before its first use. Sound here because the address
    /// depends on the induction variable, so the load can neither be hoisted out of the loop
    /// nor merged with a load outside it, and inside the loop the memory does not change.
    pub(super) fn load_in_loop(&mut self, w: Width, a: Addr) -> Value {
        assert!(a.dynamic.is_some(), "a loop-varying address");
        let (p, imm) = self.pointer(a);
        let flags = Self::flags().with_readonly().with_can_move();
        self.b.ins().load(w.float(), flags, p, imm)
    }

    /// Stores `w.lanes()` elements. Callers have checked the region containing them.
    pub(super) fn store(&mut self, v: Value, a: Addr) {
        debug_assert!(a.buf != Buf::Input);
        let (p, imm) = self.pointer(a);
        self.b.ins().store(Self::flags(), v, p, imm);
    }

    // ---- control flow -------------------------------------------------------------------

    /// Emits a loop of `trips` iterations with one induction variable per entry of
    /// `strides`; the `k`-th starts at 0 and advances by `strides[k]` (bytes, usually a
    /// multiple of 8) per iteration. `body` receives their current values.
    pub fn counted_loop<const K: usize>(
        &mut self,
        trips: usize,
        strides: [i64; K],
        mut body: impl FnMut(&mut Self, [Value; K]),
    ) {
        match trips {
            0 => {}
            1 => {
                let zero = self.b.ins().iconst(types::I64, 0);
                body(self, [zero; K]);
            }
            _ => {
                let zero = self.b.ins().iconst(types::I64, 0);
                let vars: [Variable; K] = std::array::from_fn(|_| {
                    let v = self.b.declare_var(types::I64);
                    self.b.def_var(v, zero);
                    v
                });
                // The exit test needs a variable that advances: the first positive stride, or
                // a dedicated counter.
                let lead = strides.iter().position(|&s| s > 0);
                let counter = lead.is_none().then(|| {
                    let v = self.b.declare_var(types::I64);
                    self.b.def_var(v, zero);
                    v
                });

                let header = self.b.create_block();
                let exit = self.b.create_block();
                self.b.ins().jump(header, &[]);
                self.b.switch_to_block(header);
                let ivs: [Value; K] = std::array::from_fn(|k| self.b.use_var(vars[k]));
                body(self, ivs);

                // Latch, in whatever block the body ended in.
                let mut limit_value = None;
                for k in 0..K {
                    let next = self.b.ins().iadd_imm_s(ivs[k], strides[k]);
                    self.b.def_var(vars[k], next);
                    if Some(k) == lead {
                        limit_value = Some((next, strides[k] * trips as i64));
                    }
                }
                let (next, limit) = match counter {
                    Some(c) => {
                        let cur = self.b.use_var(c);
                        let next = self.b.ins().iadd_imm_s(cur, 1);
                        self.b.def_var(c, next);
                        (next, trips as i64)
                    }
                    None => limit_value.expect("a positive stride"),
                };
                let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, next, limit);
                self.b.ins().brif(more, header, &[], exit, &[]);
                // The back edge above was the header's last predecessor; the exit has only it.
                self.b.seal_block(header);
                self.b.switch_to_block(exit);
                self.b.seal_block(exit);
            }
        }
    }

    /// Visits elements `0..n` in lane groups: a loop over `2 * unroll` elements per
    /// iteration (`body` called `unroll` times with `f64x2` at static element offsets
    /// `0, 2, …` and the loop's byte offset), then the remaining pairs unrolled (fewer than
    /// `unroll`), then at most one scalar element. Code size is bounded by `unroll`.
    pub(super) fn sweep(
        &mut self,
        n: usize,
        unroll: usize,
        mut body: impl FnMut(&mut Self, Width, Option<Value>, usize),
    ) {
        let per_iter = 2 * unroll;
        let trips = n / per_iter;
        self.counted_loop(trips, [8 * per_iter as i64], |t, [iv]| {
            for u in 0..unroll {
                body(t, Width::X2, Some(iv), 2 * u);
            }
        });
        let mut at = trips * per_iter;
        while at + 2 <= n {
            body(self, Width::X2, None, at);
            at += 2;
        }
        if at < n {
            body(self, Width::Scalar, None, at);
        }
    }

    /// The sum of two optional dynamic byte offsets.
    pub(super) fn dyn_add(&mut self, a: Option<Value>, b: Option<Value>) -> Option<Value> {
        match (a, b) {
            (Some(a), Some(b)) => Some(self.b.ins().iadd(a, b)),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// Branches to the failure exit (status [`STATUS_INDEX_OUT_OF_RANGE`]) when `bad` is set.
    pub(super) fn fail_if(&mut self, bad: Value) {
        let fail = *self.fail.get_or_insert_with(|| self.b.create_block());
        let cont = self.b.create_block();
        self.b.ins().brif(bad, fail, &[], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// Reads the `f64` at `a` as an index in `0..count` and returns it in bytes times
    /// `scale_bytes`; exits with [`STATUS_INDEX_OUT_OF_RANGE`] unless the value is exactly
    /// such an integer.
    pub(super) fn runtime_index(&mut self, a: Addr, count: usize, scale_bytes: i64) -> Value {
        let x = self.load(Width::Scalar, a);
        let i = self.b.ins().fcvt_to_sint_sat(types::I64, x);
        let back = self.b.ins().fcvt_from_sint(types::F64, i);
        let inexact = self.b.ins().fcmp(FloatCC::NotEqual, x, back);
        let out = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, i, count as i64);
        let bad = self.b.ins().bor(inexact, out);
        self.fail_if(bad);
        self.b.ins().imul_imm_s(i, scale_bytes)
    }

    // ---- lane-generic arithmetic ---------------------------------------------------------

    pub(super) fn splat(&mut self, w: Width, x: Value) -> Value {
        match w {
            Width::Scalar => x,
            Width::X2 => self.b.ins().splat(types::F64X2, x),
        }
    }

    pub(super) fn fconst(&mut self, w: Width, c: f64) -> Value {
        let x = self.b.ins().f64const(c);
        self.splat(w, x)
    }

    pub(super) fn iconst(&mut self, w: Width, c: i64) -> Value {
        let x = self.b.ins().iconst(types::I64, c);
        match w {
            Width::Scalar => x,
            Width::X2 => self.b.ins().splat(types::I64X2, x),
        }
    }

    /// `a * b + c`, fused when the host has FMA.
    pub(super) fn fma(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.host.has_fma && !self.host.options.strict {
            self.b.ins().fma(a, b, c)
        } else {
            let p = self.b.ins().fmul(a, b);
            self.b.ins().fadd(p, c)
        }
    }

    /// `Σ c[i] x^i` by Estrin's scheme: pairs `c[2i] + c[2i+1] x`, then pairs of those with
    /// `x²`, then with `x⁴`…, so the longest chain of dependent operations is `⌈log₂ n⌉ + 1`
    /// FMAs instead of Horner's `n − 1`. A heavy elementwise loop (sigmoid, tanh) is bound by
    /// that chain, not by its instruction count: the CPU overlaps only the few iterations its
    /// reorder window holds, and with Horner's degree-10 `exp` a sigmoid of two lanes took ~55
    /// cycles. The rounding differs from Horner's by an ulp of the polynomial at most, which
    /// each caller scales down (`1 + r + r² P(r)`, `x + x³ T(x²)`); the ulp sweeps of
    /// `tests/jit_kernels.rs` hold the result to its bound.
    pub(super) fn poly(&mut self, w: Width, x: Value, c: &[f64]) -> Value {
        assert!(!c.is_empty(), "a polynomial has coefficients");
        let mut terms: Vec<Value> = c
            .chunks(2)
            .map(|pair| {
                let c0 = self.fconst(w, pair[0]);
                match pair.get(1) {
                    Some(&c1) => {
                        let c1 = self.fconst(w, c1);
                        self.fma(c1, x, c0)
                    }
                    None => c0,
                }
            })
            .collect();
        let mut power = x;
        while terms.len() > 1 {
            power = self.b.ins().fmul(power, power);
            terms = terms
                .chunks(2)
                .map(|pair| match pair {
                    [lo, hi] => self.fma(*hi, power, *lo),
                    [lo] => *lo,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
        }
        terms[0]
    }

    pub(super) fn fcmp(&mut self, cc: FloatCC, a: Value, b: Value) -> Mask {
        Mask(self.b.ins().fcmp(cc, a, b))
    }

    pub(super) fn fcmp_const(&mut self, w: Width, cc: FloatCC, a: Value, c: f64) -> Mask {
        let k = self.fconst(w, c);
        self.fcmp(cc, a, k)
    }

    /// Lane-wise `if m { a } else { b }`.
    pub(super) fn select(&mut self, w: Width, m: Mask, a: Value, b: Value) -> Value {
        match w {
            Width::Scalar => self.b.ins().select(m.0, a, b),
            Width::X2 => {
                let m = self.b.ins().bitcast(types::F64X2, MemFlagsData::new(), m.0);
                self.b.ins().bitselect(m, a, b)
            }
        }
    }

    /// Reinterprets floats as integers of the same width.
    pub(super) fn bits_of(&mut self, w: Width, x: Value) -> Value {
        self.b.ins().bitcast(w.int(), MemFlagsData::new(), x)
    }

    pub(super) fn float_of(&mut self, w: Width, x: Value) -> Value {
        self.b.ins().bitcast(w.float(), MemFlagsData::new(), x)
    }

    /// `([a0, b0], [a1, b1])` from `a = [a0, a1]`, `b = [b0, b1]`: the two columns of a 2×2
    /// block whose rows are `a` and `b`.
    pub(super) fn interleave(&mut self, a: Value, b: Value) -> (Value, Value) {
        let little = MemFlagsData::new().with_endianness(Endianness::Little);
        let bytes = |t: &mut Self, v: Value| t.b.ins().bitcast(types::I8X16, little, v);
        let (x, y) = (bytes(self, a), bytes(self, b));
        // Byte `i < 16` of the mask picks byte `i` of `x`, `16 + i` byte `i` of `y`.
        let mask = |first: u8| -> Vec<u8> {
            (first..first + 8)
                .chain(16 + first..16 + first + 8)
                .collect()
        };
        let mut half = |first: u8| {
            let imm = self.b.func.dfg.immediates.push(mask(first).into());
            let v = self.b.ins().shuffle(x, y, imm);
            self.b.ins().bitcast(types::F64X2, little, v)
        };
        (half(0), half(8))
    }

    /// Sum of the two lanes of an `f64x2` (lane 0 first), as a scalar.
    pub(super) fn hreduce(
        &mut self,
        v: Value,
        op: impl Fn(&mut Self, Value, Value) -> Value,
    ) -> Value {
        let lo = self.b.ins().extractlane(v, 0u8);
        let hi = self.b.ins().extractlane(v, 1u8);
        op(self, lo, hi)
    }

    // ---- calls ----------------------------------------------------------------------------

    /// Whether matrix products call the 256-bit kernel (see [`super::Jit::wide_gemm`]).
    pub(super) fn wide_gemm(&self) -> bool {
        self.host.wide_gemm
    }

    /// Calls the 256-bit `C (+)= A B` on regions the caller has checked: `A[m, n]`,
    /// `B[n, p]`, `C[m, p]`, contiguous and row-major.
    pub(super) fn call_wide_gemm(
        &mut self,
        [c, a, b]: [Region; 3],
        (m, n, p): (usize, usize, usize),
        add: bool,
    ) {
        let callee = match self.gemm {
            Some(r) => r,
            None => {
                let id = self.host.wide_gemm();
                *self
                    .gemm
                    .insert(self.host.module.declare_func_in_func(id, self.b.func))
            }
        };
        let (pa, pb, pc) = (self.address(a), self.address(b), self.address(c));
        let dims = [m, n, p].map(|d| self.b.ins().iconst(types::I64, d as i64));
        let add = self.b.ins().iconst(types::I32, i64::from(add));
        self.b
            .ins()
            .call(callee, &[pa, pb, pc, dims[0], dims[1], dims[2], add]);
    }

    /// Calls the 256-bit `dst[i] = op(src[i])` on regions the caller has checked: of equal
    /// length, equal or disjoint.
    pub(super) fn call_wide_map(&mut self, dst: Region, op: MapOp, src: Region) {
        let callee = match self.map {
            Some(r) => r,
            None => {
                let id = self.host.wide_map();
                *self
                    .map
                    .insert(self.host.module.declare_func_in_func(id, self.b.func))
            }
        };
        let (ps, pd) = (self.address(src), self.address(dst));
        let n = self.b.ins().iconst(types::I64, dst.len as i64);
        let op = self.b.ins().iconst(types::I32, op as i64);
        self.b.ins().call(callee, &[ps, pd, n, op]);
    }

    /// The address of `r`'s first element, as a pointer value (for a call).
    fn address(&mut self, r: Region) -> Value {
        match self.pointer(Addr::new(r.buf, r.offset, None)) {
            (base, 0) => base,
            (base, imm) => self.b.ins().iadd_imm_s(base, i64::from(imm)),
        }
    }

    // ---- libm ---------------------------------------------------------------------------

    fn libm_ref(&mut self, f: Libm) -> FuncRef {
        if let Some(r) = self.imported.get(&f) {
            return *r;
        }
        let id = self.host.libm(f);
        let r = self.host.module.declare_func_in_func(id, self.b.func);
        self.imported.insert(f, r);
        r
    }

    /// Calls `f`, a function of this module with the same ABI and layout, on this function's
    /// buffers; a non-zero status it returns is returned at once.
    pub(super) fn call_part(&mut self, f: FuncId) {
        let callee = self.host.module.declare_func_in_func(f, self.b.func);
        let args = self.bases;
        let call = self.b.ins().call(callee, &args);
        let status = self.b.inst_results(call)[0];
        let bad = self.b.ins().icmp_imm_s(IntCC::NotEqual, status, 0);
        self.fail_if(bad);
    }

    /// Calls a libm function lane by lane.
    pub(super) fn call_libm(&mut self, w: Width, f: Libm, args: &[Value]) -> Value {
        assert_eq!(args.len(), f.arity());
        let callee = self.libm_ref(f);
        match w {
            Width::Scalar => {
                let call = self.b.ins().call(callee, args);
                self.b.inst_results(call)[0]
            }
            Width::X2 => {
                let mut out = None;
                for lane in 0..2u8 {
                    let lane_args: Vec<Value> = args
                        .iter()
                        .map(|&a| self.b.ins().extractlane(a, lane))
                        .collect();
                    let call = self.b.ins().call(callee, &lane_args);
                    let r = self.b.inst_results(call)[0];
                    out = Some(match out {
                        None => self.b.ins().splat(types::F64X2, r),
                        Some(v) => self.b.ins().insertlane(v, r, lane),
                    });
                }
                out.expect("two lanes")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_overlap_only_when_sharing_an_element() {
        let a = Region::new(Buf::Output, 4, 4);
        assert!(a.overlaps(Region::new(Buf::Output, 7, 1)));
        assert!(!a.overlaps(Region::new(Buf::Output, 8, 3)));
        assert!(!a.overlaps(Region::new(Buf::Output, 0, 4)));
        assert!(!a.overlaps(Region::new(Buf::Scratch, 4, 4)));
        assert!(!a.overlaps(Region::new(Buf::Output, 5, 0)));
        assert_eq!(a.sub(1, 2), Region::new(Buf::Output, 5, 2));
    }

    #[test]
    fn strided_hull_covers_every_element() {
        let s = Strided::row_major(Region::new(Buf::Input, 3, 24), &[2, 3, 4]);
        assert_eq!(s.dims, vec![(2, 12), (3, 4), (4, 1)]);
        assert_eq!(s.hull(), Region::new(Buf::Input, 3, 24));
        let t = Strided {
            buf: Buf::Input,
            offset: 1,
            dims: vec![(4, 1), (3, 4)],
        };
        assert_eq!((t.count(), t.hull().len), (12, 12));
        let empty = Strided {
            dims: vec![(0, 5), (3, 1)],
            ..t
        };
        assert_eq!(empty.hull().len, 0);
    }
}
