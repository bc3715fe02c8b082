//! Linear algebra, reductions and data movement over regions.
//!
//! Each kernel is one method of [`FunctionTranslator`]: it checks its regions (lengths agree
//! with the stated shapes, everything inside its buffer, destinations writable and disjoint
//! from the sources they are computed from) and emits loops whose trip counts are the shapes.
//! Matrices are row-major. Results are combined with [`Accumulate`]: `Overwrite` stores them,
//! `Add` adds them to what the destination holds (gradient fan-in).
//!
//! The loops are shaped for the hot paths of training:
//!
//! * folds (sum, max, min, dot, logsumexp) keep four `f64x2` accumulators, so four
//!   independent dependency chains hide the add/FMA latency, and combine them pairwise;
//! * `matvec` computes four rows at a time against one load of `x`, eight accumulators;
//! * `matvec_t` (`Aᵀ g`) and `outer` (`A += g xᵀ`) sweep rows of `A` contiguously, four rows
//!   per pass over the destination for `matvec_t`;
//! * `matmul` is register-blocked, in its own module ([`super::gemm`]).
//!
//! Summation order differs from a left-to-right loop, so results agree with one to rounding.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;

use super::emit::{Addr, FunctionTranslator, Region, Strided, Width};

/// Whether a kernel stores its result or adds it to the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accumulate {
    Overwrite,
    Add,
}

fn addr(r: Region) -> Addr {
    Addr::new(r.buf, r.offset, None)
}

fn disjoint(dst: Region, srcs: &[Region]) {
    for s in srcs {
        assert!(
            !dst.overlaps(*s),
            "JIT kernel destination {dst:?} overlaps its source {s:?}"
        );
    }
}

impl FunctionTranslator<'_> {
    /// Stores `v` at `a`, or adds it to what is there.
    pub(super) fn put(&mut self, w: Width, v: Value, a: Addr, acc: Accumulate) {
        let v = match acc {
            Accumulate::Overwrite => v,
            Accumulate::Add => {
                let old = self.load(w, a);
                self.b.ins().fadd(old, v)
            }
        };
        self.store(v, a);
    }

    pub(super) fn vars(&mut self, count: usize, init: Value, ty: types::Type) -> Vec<Variable> {
        (0..count)
            .map(|_| {
                let v = self.b.declare_var(ty);
                self.b.def_var(v, init);
                v
            })
            .collect()
    }

    /// Folds `n` elements into one scalar. `step(t, w, acc, dynamic, at)` folds the lane group
    /// at element `at` into `acc`; `combine` merges two partial results of the same width.
    fn fold(
        &mut self,
        n: usize,
        identity: f64,
        mut step: impl FnMut(&mut Self, Width, Value, Option<Value>, usize) -> Value,
        combine: impl Fn(&mut Self, Value, Value) -> Value,
    ) -> Value {
        const ACCS: usize = 4;
        let init = self.fconst(Width::X2, identity);
        let accs = self.vars(ACCS, init, types::F64X2);
        let trips = n / (2 * ACCS);
        self.counted_loop(trips, [16 * ACCS as i64], |t, [iv]| {
            for (u, &a) in accs.iter().enumerate() {
                let cur = t.b.use_var(a);
                let next = step(t, Width::X2, cur, Some(iv), 2 * u);
                t.b.def_var(a, next);
            }
        });
        let mut at = trips * 2 * ACCS;
        let mut u = 0;
        while at + 2 <= n {
            let cur = self.b.use_var(accs[u]);
            let next = step(self, Width::X2, cur, None, at);
            self.b.def_var(accs[u], next);
            at += 2;
            u += 1;
        }
        let mut s = if n >= 2 {
            let parts: Vec<Value> = accs.iter().map(|&a| self.b.use_var(a)).collect();
            let p01 = combine(self, parts[0], parts[1]);
            let p23 = combine(self, parts[2], parts[3]);
            let v = combine(self, p01, p23);
            self.hreduce(v, &combine)
        } else {
            self.fconst(Width::Scalar, identity)
        };
        if at < n {
            s = step(self, Width::Scalar, s, None, at);
        }
        s
    }

    fn fold_region(
        &mut self,
        dst: Region,
        src: Region,
        identity: f64,
        step: impl Fn(&mut Self, Value, Value) -> Value + Copy,
    ) {
        assert_eq!(dst.len, 1, "a reduction writes one element");
        self.check_read(src);
        self.check_write(dst);
        let s = self.fold(
            src.len,
            identity,
            |t, w, acc, d, at| {
                let x = t.load(w, Addr::new(src.buf, src.offset + at, d));
                step(t, acc, x)
            },
            step,
        );
        self.store(s, addr(dst));
    }

    /// `dst[0] = Σ src` (0 when empty).
    pub fn sum(&mut self, dst: Region, src: Region) {
        self.fold_region(dst, src, 0.0, |t, a, b| t.b.ins().fadd(a, b));
    }

    /// `dst[0] = max src` (−∞ when empty; NaN if any element is NaN).
    pub fn max(&mut self, dst: Region, src: Region) {
        self.fold_region(dst, src, f64::NEG_INFINITY, |t, a, b| t.b.ins().fmax(a, b));
    }

    /// `dst[0] = min src` (+∞ when empty; NaN if any element is NaN).
    pub fn min(&mut self, dst: Region, src: Region) {
        self.fold_region(dst, src, f64::INFINITY, |t, a, b| t.b.ins().fmin(a, b));
    }

    /// `dst[0] = a · b`.
    pub fn dot(&mut self, dst: Region, a: Region, b: Region) {
        assert_eq!(dst.len, 1, "a dot product writes one element");
        assert_eq!(a.len, b.len, "dot product lengths");
        self.check_read(a);
        self.check_read(b);
        self.check_write(dst);
        let s = self.fold(
            a.len,
            0.0,
            |t, w, acc, d, at| {
                let x = t.load(w, Addr::new(a.buf, a.offset + at, d));
                let y = t.load(w, Addr::new(b.buf, b.offset + at, d));
                t.fma(x, y, acc)
            },
            |t, p, q| t.b.ins().fadd(p, q),
        );
        self.store(s, addr(dst));
    }

    /// `dst[0] = log Σ exp(src)`, computed as `m + log Σ exp(src − m)` with `m = max src`,
    /// so it neither overflows nor underflows to `log 0`; −∞ when empty or all −∞, +∞ if any
    /// element is +∞.
    pub fn logsumexp(&mut self, dst: Region, src: Region) {
        assert_eq!(dst.len, 1, "logsumexp writes one element");
        self.check_read(src);
        self.check_write(dst);
        let m = self.fold(
            src.len,
            f64::NEG_INFINITY,
            |t, w, acc, d, at| {
                let x = t.load(w, Addr::new(src.buf, src.offset + at, d));
                t.b.ins().fmax(acc, x)
            },
            |t, a, b| t.b.ins().fmax(a, b),
        );
        // Shift by m only when it is finite: ±∞ − ±∞ would be NaN.
        let inf = self.fconst(Width::Scalar, f64::INFINITY);
        let am = self.b.ins().fabs(m);
        let finite = self.fcmp(FloatCC::LessThan, am, inf);
        let zero = self.fconst(Width::Scalar, 0.0);
        let shift = self.select(Width::Scalar, finite, m, zero);
        let shift2 = self.splat(Width::X2, shift);
        let s = self.fold(
            src.len,
            0.0,
            |t, w, acc, d, at| {
                let x = t.load(w, Addr::new(src.buf, src.offset + at, d));
                let sh = if w == Width::Scalar { shift } else { shift2 };
                let y = t.b.ins().fsub(x, sh);
                let e = t.exp(w, y);
                t.b.ins().fadd(acc, e)
            },
            |t, a, b| t.b.ins().fadd(a, b),
        );
        let l = self.log(Width::Scalar, s);
        let r = self.b.ins().fadd(shift, l);
        self.store(r, addr(dst));
    }

    /// `dst[i] = c`.
    pub fn fill(&mut self, dst: Region, c: f64) {
        self.check_write(dst);
        self.sweep(dst.len, 2, |t, w, d, at| {
            let v = t.fconst(w, c);
            t.store(v, Addr::new(dst.buf, dst.offset + at, d));
        });
    }

    /// `dst[i] = src[i]` (regions of equal length; identical regions are a no-op).
    pub fn copy(&mut self, dst: Region, src: Region) {
        assert_eq!(dst.len, src.len, "copy lengths");
        self.check_read(src);
        self.check_write(dst);
        if dst == src {
            return;
        }
        disjoint(dst, &[src]);
        self.sweep(dst.len, 2, |t, w, d, at| {
            let v = t.load(w, Addr::new(src.buf, src.offset + at, d));
            t.store(v, Addr::new(dst.buf, dst.offset + at, d));
        });
    }

    /// Dot products of `rows` consecutive rows of a row-major matrix with `x`: row `r`
    /// starts at `a.plus(r * stride)`. Returns one scalar per row.
    fn rows_dot(&mut self, rows: usize, n: usize, a: Addr, stride: usize, x: Addr) -> Vec<Value> {
        // Eight accumulators at most: with the loaded operands they must fit the sixteen
        // vector registers, or the loop spills.
        let unroll = if rows >= 4 { 1 } else { 4 };
        let zero = self.fconst(Width::X2, 0.0);
        let accs = self.vars(rows * unroll, zero, types::F64X2);
        let trips = n / (2 * unroll);
        self.counted_loop(trips, [16 * unroll as i64], |t, [j]| {
            let da = t.dyn_add(a.dynamic, Some(j));
            let dx = t.dyn_add(x.dynamic, Some(j));
            for u in 0..unroll {
                let xv = t.load(
                    Width::X2,
                    Addr {
                        dynamic: dx,
                        ..x.plus(2 * u)
                    },
                );
                for r in 0..rows {
                    let av = t.load(
                        Width::X2,
                        Addr {
                            dynamic: da,
                            ..a.plus(r * stride + 2 * u)
                        },
                    );
                    let acc = accs[r * unroll + u];
                    let cur = t.b.use_var(acc);
                    let next = t.fma(av, xv, cur);
                    t.b.def_var(acc, next);
                }
            }
        });
        let mut at = trips * 2 * unroll;
        let mut u = 0;
        while at + 2 <= n {
            let xv = self.load(Width::X2, x.plus(at));
            for r in 0..rows {
                let av = self.load(Width::X2, a.plus(r * stride + at));
                let acc = accs[r * unroll + u];
                let cur = self.b.use_var(acc);
                let next = self.fma(av, xv, cur);
                self.b.def_var(acc, next);
            }
            at += 2;
            u += 1;
        }
        (0..rows)
            .map(|r| {
                let mut v = self.b.use_var(accs[r * unroll]);
                for u in 1..unroll {
                    let w = self.b.use_var(accs[r * unroll + u]);
                    v = self.b.ins().fadd(v, w);
                }
                let mut s = self.hreduce(v, |t, p, q| t.b.ins().fadd(p, q));
                if at < n {
                    let xs = self.load(Width::Scalar, x.plus(at));
                    let as_ = self.load(Width::Scalar, a.plus(r * stride + at));
                    s = self.fma(as_, xs, s);
                }
                s
            })
            .collect()
    }

    /// `y (+)= A x` for row-major `A[m, n]`.
    pub fn matvec(&mut self, y: Region, a: Region, x: Region, m: usize, n: usize, acc: Accumulate) {
        assert_eq!((y.len, a.len, x.len), (m, m * n, n), "matvec shapes");
        self.check_read(a);
        self.check_read(x);
        self.check_write(y);
        disjoint(y, &[a, x]);
        const R: usize = 4;
        let blocks = m / R;
        self.counted_loop(blocks, [(8 * R * n) as i64, 8 * R as i64], |t, [ia, iy]| {
            let sums = t.rows_dot(R, n, Addr::new(a.buf, a.offset, Some(ia)), n, addr(x));
            for (r, s) in sums.into_iter().enumerate() {
                t.put(
                    Width::Scalar,
                    s,
                    Addr::new(y.buf, y.offset + r, Some(iy)),
                    acc,
                );
            }
        });
        let done = blocks * R;
        let a_rest = Addr::new(a.buf, a.offset + done * n, None);
        self.counted_loop(m - done, [(8 * n) as i64, 8], |t, [ia, iy]| {
            let sums = t.rows_dot(
                1,
                n,
                Addr {
                    dynamic: Some(ia),
                    ..a_rest
                },
                n,
                addr(x),
            );
            t.put(
                Width::Scalar,
                sums[0],
                Addr::new(y.buf, y.offset + done, Some(iy)),
                acc,
            );
        });
    }

    /// `z[j] += Σ_r g[r] A[r, j]` for `rows` consecutive rows starting at `a`.
    fn rows_axpy(&mut self, rows: usize, n: usize, a: Addr, g: Addr, z: Region) {
        let gs: Vec<(Value, Value)> = (0..rows)
            .map(|r| {
                let s = self.load(Width::Scalar, g.plus(r));
                let v = self.splat(Width::X2, s);
                (s, v)
            })
            .collect();
        self.sweep(n, 1, |t, w, d, at| {
            let za = Addr::new(z.buf, z.offset + at, d);
            let mut acc = t.load(w, za);
            let da = t.dyn_add(a.dynamic, d);
            for (r, &(s, v)) in gs.iter().enumerate() {
                let av = t.load(
                    w,
                    Addr {
                        dynamic: da,
                        ..a.plus(r * n + at)
                    },
                );
                let gv = if w == Width::Scalar { s } else { v };
                acc = t.fma(gv, av, acc);
            }
            t.store(acc, za);
        });
    }

    /// `z (+)= Aᵀ g` for row-major `A[m, n]`, `g[m]`, `z[n]`: the gradient of `A x` with
    /// respect to `x`.
    pub fn matvec_t(
        &mut self,
        z: Region,
        a: Region,
        g: Region,
        m: usize,
        n: usize,
        acc: Accumulate,
    ) {
        assert_eq!((z.len, a.len, g.len), (n, m * n, m), "matvec_t shapes");
        self.check_read(a);
        self.check_read(g);
        self.check_write(z);
        disjoint(z, &[a, g]);
        if acc == Accumulate::Overwrite {
            self.fill(z, 0.0);
        }
        const R: usize = 4;
        let blocks = m / R;
        self.counted_loop(blocks, [(8 * R * n) as i64, 8 * R as i64], |t, [ia, ig]| {
            t.rows_axpy(
                R,
                n,
                Addr::new(a.buf, a.offset, Some(ia)),
                Addr::new(g.buf, g.offset, Some(ig)),
                z,
            );
        });
        let done = blocks * R;
        self.counted_loop(m - done, [(8 * n) as i64, 8], |t, [ia, ig]| {
            t.rows_axpy(
                1,
                n,
                Addr::new(a.buf, a.offset + done * n, Some(ia)),
                Addr::new(g.buf, g.offset + done, Some(ig)),
                z,
            );
        });
    }

    /// `A (+)= g xᵀ` for row-major `A[m, n]`: the gradient of `A x` with respect to `A`.
    pub fn outer(&mut self, a: Region, g: Region, x: Region, m: usize, n: usize, acc: Accumulate) {
        assert_eq!((a.len, g.len, x.len), (m * n, m, n), "outer shapes");
        self.check_read(g);
        self.check_read(x);
        self.check_write(a);
        disjoint(a, &[g, x]);
        self.counted_loop(m, [(8 * n) as i64, 8], |t, [ia, ig]| {
            let gs = t.load(Width::Scalar, Addr::new(g.buf, g.offset, Some(ig)));
            let gv = t.splat(Width::X2, gs);
            t.sweep(n, 2, |t, w, d, at| {
                let xv = t.load(w, Addr::new(x.buf, x.offset + at, d));
                let da = t.dyn_add(Some(ia), d);
                let aa = Addr::new(a.buf, a.offset + at, da);
                let gw = if w == Width::Scalar { gs } else { gv };
                let v = match acc {
                    Accumulate::Overwrite => t.b.ins().fmul(gw, xv),
                    Accumulate::Add => {
                        let old = t.load(w, aa);
                        t.fma(gw, xv, old)
                    }
                };
                t.store(v, aa);
            });
        });
    }

    /// `dst[j, i] = src[i, j]` for row-major `src[rows, cols]`: 2×2 blocks — two `f64x2`
    /// loads from consecutive rows, their low and high halves interleaved
    /// (`punpcklqdq`/`punpckhqdq`), two stores into consecutive rows of `dst` — then the odd
    /// column and the odd row element by element. (Batched training transposes every
    /// activation and gradient between its matrix products.)
    pub fn transpose(&mut self, dst: Region, src: Region, rows: usize, cols: usize) {
        assert_eq!(
            (dst.len, src.len),
            (rows * cols, rows * cols),
            "transpose shapes"
        );
        self.check_read(src);
        self.check_write(dst);
        disjoint(dst, &[src]);
        let (r2, c2) = (rows / 2, cols / 2);
        let scalar = |t: &mut Self, ds: Value, dd: Value| {
            let v = t.load(Width::Scalar, Addr::new(src.buf, src.offset, Some(ds)));
            t.store(v, Addr::new(dst.buf, dst.offset, Some(dd)));
        };
        self.counted_loop(r2, [(16 * cols) as i64, 16], |t, [is, id]| {
            t.counted_loop(c2, [16, (16 * rows) as i64], |t, [js, jd]| {
                let ds = t.b.ins().iadd(is, js);
                let dd = t.b.ins().iadd(id, jd);
                let s0 = Addr::new(src.buf, src.offset, Some(ds));
                let top = t.load(Width::X2, s0);
                let bottom = t.load(Width::X2, s0.plus(cols));
                let (lo, hi) = t.interleave(top, bottom);
                let d0 = Addr::new(dst.buf, dst.offset, Some(dd));
                t.store(lo, d0);
                t.store(hi, d0.plus(rows));
            });
            if cols % 2 == 1 {
                let j = cols - 1;
                for r in 0..2 {
                    let ds = t.b.ins().iadd_imm_s(is, (8 * (r * cols + j)) as i64);
                    let dd = t.b.ins().iadd_imm_s(id, (8 * (j * rows + r)) as i64);
                    scalar(t, ds, dd);
                }
            }
        });
        if rows % 2 == 1 {
            let i = rows - 1;
            self.counted_loop(cols, [8, (8 * rows) as i64], |t, [js, jd]| {
                let ds = t.b.ins().iadd_imm_s(js, (8 * i * cols) as i64);
                let dd = t.b.ins().iadd_imm_s(jd, (8 * i) as i64);
                scalar(t, ds, dd);
            });
        }
    }

    /// `dst[idx] = src[idx]` (or `+=` with `Accumulate::Add`) over every index of two strided
    /// views of the same dimensions: slices, pads, transposes, broadcasts of copies, and
    /// their scatter-add transposes.
    pub fn copy_strided(&mut self, dst: &Strided, src: &Strided, acc: Accumulate) {
        let lens = |s: &Strided| s.dims.iter().map(|d| d.0).collect::<Vec<_>>();
        assert_eq!(lens(dst), lens(src), "strided copy dimensions");
        self.check_read(src.hull());
        self.check_write(dst.hull());
        disjoint(dst.hull(), &[src.hull()]);
        if dst.count() == 0 {
            return;
        }
        self.strided_level(dst, src, 0, None, None, acc);
    }

    fn strided_level(
        &mut self,
        dst: &Strided,
        src: &Strided,
        level: usize,
        dd: Option<Value>,
        ds: Option<Value>,
        acc: Accumulate,
    ) {
        let k = dst.dims.len();
        if k == 0 {
            let v = self.load(Width::Scalar, Addr::new(src.buf, src.offset, ds));
            self.put(Width::Scalar, v, Addr::new(dst.buf, dst.offset, dd), acc);
            return;
        }
        let (len, sd) = dst.dims[level];
        let ss = src.dims[level].1;
        if level + 1 < k {
            self.counted_loop(len, [(8 * sd) as i64, (8 * ss) as i64], |t, [id, is]| {
                let dd = t.dyn_add(dd, Some(id));
                let ds = t.dyn_add(ds, Some(is));
                t.strided_level(dst, src, level + 1, dd, ds, acc);
            });
        } else if sd == 1 && ss == 1 {
            self.sweep(len, 2, |t, w, d, at| {
                let ds = t.dyn_add(ds, d);
                let dd = t.dyn_add(dd, d);
                let v = t.load(w, Addr::new(src.buf, src.offset + at, ds));
                t.put(w, v, Addr::new(dst.buf, dst.offset + at, dd), acc);
            });
        } else {
            self.counted_loop(len, [(8 * sd) as i64, (8 * ss) as i64], |t, [id, is]| {
                let dd = t.dyn_add(dd, Some(id));
                let ds = t.dyn_add(ds, Some(is));
                let v = t.load(Width::Scalar, Addr::new(src.buf, src.offset, ds));
                t.put(Width::Scalar, v, Addr::new(dst.buf, dst.offset, dd), acc);
            });
        }
    }
}

/// Kernels for the IR translator: run-time indexed takes and one-hots along any axis, copies
/// from a loop-dependent source, and the strict (interpreter-order) contractions and folds.
impl FunctionTranslator<'_> {
    /// `dst[o, :] = src[o, index, :]` for `src` seen as `[outer, d, inner]`: the IR's `take`
    /// along a middle axis. The index is read at run time and checked to be in `0..d`.
    pub fn take_dynamic(
        &mut self,
        dst: Region,
        src: Region,
        (outer, d, inner): (usize, usize, usize),
        index: Region,
    ) {
        assert_eq!(
            (dst.len, src.len, index.len),
            (outer * inner, outer * d * inner, 1),
            "take shapes"
        );
        self.check_read(src);
        self.check_read(index);
        self.check_write(dst);
        disjoint(dst, &[src, index]);
        let off = self.runtime_index(addr(index), d, (8 * inner) as i64);
        self.counted_loop(
            outer,
            [(8 * d * inner) as i64, (8 * inner) as i64],
            |t, [is, id]| {
                let base = t.b.ins().iadd(is, off);
                t.sweep(inner, 2, |t, w, dyn_, at| {
                    let ds = t.dyn_add(Some(base), dyn_);
                    let dd = t.dyn_add(Some(id), dyn_);
                    let v = t.load(w, Addr::new(src.buf, src.offset + at, ds));
                    t.store(v, Addr::new(dst.buf, dst.offset + at, dd));
                });
            },
        );
    }

    /// `dst = 0; dst[o, index, :] = src[o, :]` for `dst` seen as `[outer, len, inner]`: the
    /// IR's `onehot`. The index is read at run time and checked to be in `0..len`.
    pub fn onehot_dynamic(
        &mut self,
        dst: Region,
        src: Region,
        (outer, len, inner): (usize, usize, usize),
        index: Region,
    ) {
        assert_eq!(
            (dst.len, src.len, index.len),
            (outer * len * inner, outer * inner, 1),
            "onehot shapes"
        );
        self.check_read(src);
        self.check_read(index);
        self.check_write(dst);
        disjoint(dst, &[src, index]);
        let off = self.runtime_index(addr(index), len, (8 * inner) as i64);
        self.fill(dst, 0.0);
        self.counted_loop(
            outer,
            [(8 * len * inner) as i64, (8 * inner) as i64],
            |t, [id, is]| {
                let base = t.b.ins().iadd(id, off);
                t.sweep(inner, 2, |t, w, dyn_, at| {
                    let dd = t.dyn_add(Some(base), dyn_);
                    let ds = t.dyn_add(Some(is), dyn_);
                    let v = t.load(w, Addr::new(src.buf, src.offset + at, ds));
                    t.store(v, Addr::new(dst.buf, dst.offset + at, dd));
                });
            },
        );
    }

    /// Strict mode's contraction, in the interpreter's order: for every index `o` of `dst`,
    /// `dst[o] = (((−0 + a[o,0]·b[o,0]) + a[o,1]·b[o,1]) + …)` with separate multiply and add
    /// (no FMA), or the plain left-to-right sum of `a[o, ·]` when `b` is `None`. `a` and `b`
    /// have `dst`'s dimensions plus one last, summed dimension. Covers dot, sum, matvec,
    /// vecmat and matmul (strides may be 0 for a broadcast operand).
    pub fn contract_seq(&mut self, dst: &Strided, a: &Strided, b: Option<&Strided>) {
        let k = dst.dims.len();
        assert_eq!(a.dims.len(), k + 1, "contraction rank");
        for s in std::iter::once(a).chain(b) {
            for (x, y) in s.dims.iter().zip(&dst.dims) {
                assert_eq!(x.0, y.0, "contraction dimensions");
            }
            assert_eq!(s.dims[k].0, a.dims[k].0, "contracted lengths");
            self.check_read(s.hull());
        }
        self.check_write(dst.hull());
        disjoint(dst.hull(), &[a.hull()]);
        if let Some(b) = b {
            disjoint(dst.hull(), &[b.hull()]);
        }
        if dst.count() == 0 {
            return;
        }
        self.contract_level(dst, a, b, 0, [None; 3]);
    }

    fn contract_level(
        &mut self,
        dst: &Strided,
        a: &Strided,
        b: Option<&Strided>,
        level: usize,
        dyns: [Option<Value>; 3],
    ) {
        let k = dst.dims.len();
        if level < k {
            let (len, sd) = dst.dims[level];
            let sa = a.dims[level].1;
            let sb = b.map_or(0, |b| b.dims[level].1);
            self.counted_loop(
                len,
                [(8 * sd) as i64, (8 * sa) as i64, (8 * sb) as i64],
                |t, ivs| {
                    let next: [Option<Value>; 3] =
                        std::array::from_fn(|i| t.dyn_add(dyns[i], Some(ivs[i])));
                    t.contract_level(dst, a, b, level + 1, next);
                },
            );
            return;
        }
        let (n, sa) = a.dims[k];
        let sb = b.map_or(0, |b| b.dims[k].1);
        let init = self.fconst(Width::Scalar, -0.0);
        let acc = self.b.declare_var(types::F64);
        self.b.def_var(acc, init);
        self.counted_loop(n, [(8 * sa) as i64, (8 * sb) as i64], |t, [ia, ib]| {
            let da = t.dyn_add(dyns[1], Some(ia));
            let x = t.load(Width::Scalar, Addr::new(a.buf, a.offset, da));
            let term = match b {
                Some(b) => {
                    let db = t.dyn_add(dyns[2], Some(ib));
                    let y = t.load(Width::Scalar, Addr::new(b.buf, b.offset, db));
                    t.b.ins().fmul(x, y)
                }
                None => x,
            };
            let cur = t.b.use_var(acc);
            let next = t.b.ins().fadd(cur, term);
            t.b.def_var(acc, next);
        });
        let s = self.b.use_var(acc);
        self.store(s, Addr::new(dst.buf, dst.offset, dyns[0]));
    }

    /// Strict mode's `max.all`/`min.all`: the interpreter's left fold from the first element
    /// with its NaN-propagating choice `acc` if `acc ≥ x` (`≤` for min) or `acc` is NaN,
    /// else `x`. `src` is not empty.
    pub fn extremum_seq(&mut self, dst: Region, src: Region, max: bool) {
        assert!(dst.len == 1 && src.len > 0, "extremum shapes");
        self.check_read(src);
        self.check_write(dst);
        let first = self.load(Width::Scalar, addr(src));
        let acc = self.b.declare_var(types::F64);
        self.b.def_var(acc, first);
        let rest = Region::new(src.buf, src.offset + 1, src.len - 1);
        self.counted_loop(rest.len, [8], |t, [i]| {
            let x = t.load(Width::Scalar, Addr::new(rest.buf, rest.offset, Some(i)));
            let cur = t.b.use_var(acc);
            let cc = if max {
                FloatCC::GreaterThanOrEqual
            } else {
                FloatCC::LessThanOrEqual
            };
            let keep = t.b.ins().fcmp(cc, cur, x);
            let nan = t.b.ins().fcmp(FloatCC::Unordered, cur, cur);
            let keep = t.b.ins().bor(keep, nan);
            let next = t.b.ins().select(keep, cur, x);
            t.b.def_var(acc, next);
        });
        let r = self.b.use_var(acc);
        self.store(r, addr(dst));
    }

    /// Strict mode's `logsumexp`, as the interpreter computes it: `m` is the largest non-NaN
    /// element (Rust's `f64::max` fold from −∞); NaN if any element is NaN, `m` if `m` is
    /// infinite, else `m + log Σ e^(x−m)` summed left to right from −0, through libm.
    pub fn logsumexp_seq(&mut self, dst: Region, src: Region) {
        assert_eq!(dst.len, 1, "logsumexp writes one element");
        self.check_read(src);
        self.check_write(dst);
        let ninf = self.fconst(Width::Scalar, f64::NEG_INFINITY);
        let m = self.b.declare_var(types::F64);
        self.b.def_var(m, ninf);
        let zero_i = self.b.ins().iconst(types::I8, 0);
        let nan = self.b.declare_var(types::I8);
        self.b.def_var(nan, zero_i);
        self.counted_loop(src.len, [8], |t, [i]| {
            let x = t.load(Width::Scalar, Addr::new(src.buf, src.offset, Some(i)));
            let cur = t.b.use_var(m);
            let gt = t.b.ins().fcmp(FloatCC::GreaterThan, x, cur);
            let next = t.b.ins().select(gt, x, cur);
            t.b.def_var(m, next);
            let isnan = t.b.ins().fcmp(FloatCC::Unordered, x, x);
            let old = t.b.use_var(nan);
            let any = t.b.ins().bor(old, isnan);
            t.b.def_var(nan, any);
        });
        let m = self.b.use_var(m);
        let init = self.fconst(Width::Scalar, -0.0);
        let acc = self.b.declare_var(types::F64);
        self.b.def_var(acc, init);
        self.counted_loop(src.len, [8], |t, [i]| {
            let x = t.load(Width::Scalar, Addr::new(src.buf, src.offset, Some(i)));
            let y = t.b.ins().fsub(x, m);
            let e = t.exp(Width::Scalar, y);
            let cur = t.b.use_var(acc);
            let next = t.b.ins().fadd(cur, e);
            t.b.def_var(acc, next);
        });
        let s = self.b.use_var(acc);
        let l = self.log(Width::Scalar, s);
        let r = self.b.ins().fadd(m, l);
        let am = self.b.ins().fabs(m);
        let inf = self.fconst(Width::Scalar, f64::INFINITY);
        let infinite = self.b.ins().fcmp(FloatCC::Equal, am, inf);
        let r = self.b.ins().select(infinite, m, r);
        let nan_v = self.fconst(Width::Scalar, f64::NAN);
        let any = self.b.use_var(nan);
        let r = self.b.ins().select(any, nan_v, r);
        self.store(r, addr(dst));
    }
}
