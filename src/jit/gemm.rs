//! Register-blocked matrix–matrix products: `C (+)= A B` for row-major `A[m, n]`, `B[n, p]`,
//! `C[m, p]` — the kernel batched training spends its time in (the forward `W Xᵀ` and the
//! weight gradient `Gᵀ X` of every dense layer).
//!
//! # What the hardware allows
//!
//! Cranelift's x86-64 backend has no 256-bit vector registers (its register classes stop at
//! 128 bits, `rc_for_type` in `cranelift-codegen`), so on an AVX2 host the widest value is an
//! `f64x2` in an `xmm` register: half the host's peak. Its fused multiply-add is the
//! three-operand `vfmadd213`/`vfmadd132`, which overwrites a *multiplicand* — never the
//! addend, so an FMA into an accumulator needs a fresh copy of the operand it destroys. The
//! kernel is shaped by both facts.
//!
//! On a host with AVX2 and FMA, a product of at least [`WIDE_MIN`] multiply-adds is instead a
//! call to [`super::gemm_avx2`], the same tiles and the same order of summation in `f64x4`
//! (same bits, twice the width); this module's kernel serves the other hosts, the small
//! products, and [`crate::jit::JitOptions::wide_gemm`] off.
//!
//! # The micro-kernel
//!
//! A register tile is [`MR`] rows × `2·`[`NRV`] columns of `C` held in `MR·NRV` `f64x2`
//! accumulators (twelve of the sixteen `xmm` registers) while `k` runs innermost. Each `k`
//! step loads the tile's row of `B` once (`NRV` vectors, kept in registers) and, for every
//! row, `A[i, k]` broadcast to both lanes; the FMA overwrites the broadcast (a register copy
//! for all but its last use, which the CPU renames away). Twelve independent accumulators
//! cover the FMA latency (four cycles, two pipes).
//!
//! The loads of the `k` loop are marked as movable
//! ([`FunctionTranslator::load_in_loop`]): Cranelift otherwise keeps every load where it was
//! emitted and places the arithmetic after all of them, so the tile's loads and its twelve
//! accumulators were live at once and the accumulators spilled to the stack. [`KU`] = 1 for
//! the same reason: two `k` steps per iteration hold two rows of `B` and spill again. The
//! measured alternatives (4 or 5 rows; a multiply and an add instead of the FMA, which keeps
//! the accumulator in place) were within the noise of this one.
//!
//! Edge tiles are the same code with fewer rows, fewer vectors and one scalar column, so any
//! shape — 1×n, n×1, k = 1, sizes that are no multiple of the tile — goes through it.
//!
//! # Blocking
//!
//! `k` is cut into passes of at most [`KC`] so that one tile row-panel of `A` (`MR × KC`) and
//! the pass's rows of `B` stay in L1/L2 while the passes sweep them; the first pass stores
//! (or adds, with [`Accumulate::Add`]) and the later ones add. Within a pass, row panels are
//! the outer loop and column tiles the inner one: a panel of `A` is read from memory once and
//! reused from L1 by every column tile, while `B`'s pass rows stay in L2. (For `W Xᵀ` with a
//! 256×784 `W`, the older column-outer order streamed all of `W` once per four columns.)
//!
//! # Order of summation
//!
//! Element `C[i, j]` is `Σ_pass (Σ_{k in pass} A[i,k] B[k,j])`, each inner sum an FMA chain
//! from +0 in increasing `k`, the passes added in increasing order. The cut depends only on
//! `n` — never on the thread count, the data or the host — so results are reproducible; they
//! agree with a left-to-right loop to rounding (`k·ε·Σ|a||b|`). Strict mode never comes
//! here: it uses [`FunctionTranslator::contract_seq`], the interpreter's order.

use cranelift_codegen::ir::{types, Value};
use cranelift_frontend::Variable;

use super::emit::{Addr, FunctionTranslator, Region, Width};
use super::kernels::Accumulate;

/// Rows of `C` per register tile.
pub const MR: usize = 6;
/// `f64x2` vectors of `C` per tile row (the tile is `2·NRV` columns wide).
pub const NRV: usize = 2;
/// Most `k` per pass over `C`: a 6 × 256 panel of `A` is 12 KiB, which with a column strip of
/// 256 rows of `B` (16 KiB of cache lines) fits a 32 KiB L1.
pub const KC: usize = 256;
/// Unrolling of the `k` loop (see the module documentation for why it is 1).
pub const KU: usize = 1;
/// Fewest multiply-adds (`m·n·p`) for which a product calls the 256-bit kernel
/// ([`super::gemm_avx2`]) on a host that has it; smaller ones stay inline.
pub const WIDE_MIN: usize = 512;

/// The shape of one register tile: `rows` rows, `vcols` vectors and, if `scol`, one scalar
/// column after them.
#[derive(Clone, Copy, Debug)]
struct Tile {
    rows: usize,
    vcols: usize,
    scol: bool,
}

/// The addresses and shape of one pass over `C`.
#[derive(Clone, Copy)]
struct Pass {
    /// `A[0, k0]`, `B[k0, 0]`, `C[0, 0]`.
    a: Addr,
    b: Addr,
    c: Addr,
    /// `k` steps in this pass.
    kc: usize,
    m: usize,
    n: usize,
    p: usize,
    acc: Accumulate,
}

impl FunctionTranslator<'_> {
    /// `C (+)= A B` for row-major `A[m, n]`, `B[n, p]`, `C[m, p]`; see the module
    /// documentation for the blocking and the order of summation.
    pub fn matmul(
        &mut self,
        c: Region,
        a: Region,
        b: Region,
        (m, n, p): (usize, usize, usize),
        acc: Accumulate,
    ) {
        assert_eq!(
            (c.len, a.len, b.len),
            (m * p, m * n, n * p),
            "matmul shapes"
        );
        self.check_read(a);
        self.check_read(b);
        self.check_write(c);
        for s in [a, b] {
            assert!(
                !c.overlaps(s),
                "JIT kernel destination {c:?} overlaps its source {s:?}"
            );
        }
        if m == 0 || p == 0 {
            return;
        }
        if n == 0 {
            if acc == Accumulate::Overwrite {
                self.fill(c, 0.0);
            }
            return;
        }
        if self.wide_gemm() && m * n * p >= WIDE_MIN {
            let add = acc == Accumulate::Add;
            self.call_wide_gemm([c, a, b], (m, n, p), add);
            return;
        }
        // Passes of equal length `kc` (the last one possibly shorter).
        let passes = n.div_ceil(KC);
        let kc = n.div_ceil(passes);
        let last = n - (passes - 1) * kc;
        let at = |r: Region, elem: usize| Addr::new(r.buf, r.offset + elem, None);
        let pass = |k0: usize, kc: usize, acc: Accumulate| Pass {
            a: at(a, k0),
            b: at(b, k0 * p),
            c: at(c, 0),
            kc,
            m,
            n,
            p,
            acc,
        };
        self.gemm_pass(pass(0, kc, acc), None, None);
        // The middle passes of full length, as a loop over `k0`.
        let full = if last == kc { passes - 1 } else { passes - 2 };
        if passes > 1 && full > 0 {
            let mid = pass(kc, kc, Accumulate::Add);
            self.counted_loop(
                full,
                [(8 * kc) as i64, (8 * kc * p) as i64],
                |t, [ka, kb]| t.gemm_pass(mid, Some(ka), Some(kb)),
            );
        }
        if passes > 1 && last != kc {
            self.gemm_pass(pass(n - last, last, Accumulate::Add), None, None);
        }
    }

    /// One pass over all of `C` with `k` in `k0 .. k0 + kc`; `ka`, `kb` are the dynamic
    /// byte offsets of `k0` in `A` and `B` when the pass is inside a loop.
    fn gemm_pass(&mut self, s: Pass, ka: Option<Value>, kb: Option<Value>) {
        let panels = s.m / MR;
        let rows_done = panels * MR;
        let a = Addr {
            dynamic: self.dyn_add(s.a.dynamic, ka),
            ..s.a
        };
        let b = Addr {
            dynamic: self.dyn_add(s.b.dynamic, kb),
            ..s.b
        };
        self.counted_loop(
            panels,
            [(8 * MR * s.n) as i64, (8 * MR * s.p) as i64],
            |t, [ia, ic]| {
                let a = Addr {
                    dynamic: t.dyn_add(a.dynamic, Some(ia)),
                    ..a
                };
                let c = Addr {
                    dynamic: t.dyn_add(s.c.dynamic, Some(ic)),
                    ..s.c
                };
                t.gemm_panel(MR, s, a, b, c);
            },
        );
        if rows_done < s.m {
            let (a, c) = (a.plus(rows_done * s.n), s.c.plus(rows_done * s.p));
            self.gemm_panel(s.m - rows_done, s, a, b, c);
        }
    }

    /// Rows `a`, `c` (`rows ≤ MR` of them) of one pass, every column tile.
    fn gemm_panel(&mut self, rows: usize, s: Pass, a: Addr, b: Addr, c: Addr) {
        const NR: usize = 2 * NRV;
        let tiles = s.p / NR;
        let cols_done = tiles * NR;
        let full = Tile {
            rows,
            vcols: NRV,
            scol: false,
        };
        // B and C advance by the same number of bytes per column tile: one induction variable.
        self.counted_loop(tiles, [(8 * NR) as i64], |t, [j]| {
            let b = Addr {
                dynamic: t.dyn_add(b.dynamic, Some(j)),
                ..b
            };
            let c = Addr {
                dynamic: t.dyn_add(c.dynamic, Some(j)),
                ..c
            };
            t.gemm_tile(full, s, a, b, c);
        });
        let left = s.p - cols_done;
        if left > 0 {
            let edge = Tile {
                rows,
                vcols: left / 2,
                scol: left % 2 == 1,
            };
            self.gemm_tile(edge, s, a, b.plus(cols_done), c.plus(cols_done));
        }
    }

    /// One register tile: `C[i.., j..] (+)= Σ_k A[i.., k] B[k, j..]` over the pass's `kc`
    /// steps, `a` at `A[i, k0]`, `b` at `B[k0, j]`, `c` at `C[i, j]`.
    fn gemm_tile(&mut self, tile: Tile, s: Pass, a: Addr, b: Addr, c: Addr) {
        let Tile { rows, vcols, scol } = tile;
        let zv = self.fconst(Width::X2, 0.0);
        let zs = self.fconst(Width::Scalar, 0.0);
        let vaccs = self.vars(rows * vcols, zv, types::F64X2);
        let saccs = self.vars(if scol { rows } else { 0 }, zs, types::F64);
        let unroll = KU.min(s.kc);
        let trips = s.kc / unroll;
        let step = |t: &mut Self, da: Option<Value>, db: Option<Value>, k: usize, looped| {
            t.gemm_step(tile, s, (&vaccs, &saccs), (a, da), (b, db), (k, looped));
        };
        self.counted_loop(
            trips,
            [(8 * unroll) as i64, (8 * unroll * s.p) as i64],
            |t, [ka, kb]| {
                let da = t.dyn_add(a.dynamic, Some(ka));
                let db = t.dyn_add(b.dynamic, Some(kb));
                for u in 0..unroll {
                    step(t, da, db, u, trips > 1);
                }
            },
        );
        for k in trips * unroll..s.kc {
            step(self, a.dynamic, b.dynamic, k, false);
        }
        let acc = s.acc;
        for r in 0..rows {
            for cv in 0..vcols {
                let v = self.b.use_var(vaccs[r * vcols + cv]);
                self.put(Width::X2, v, c.plus(r * s.p + 2 * cv), acc);
            }
            if scol {
                let v = self.b.use_var(saccs[r]);
                self.put(Width::Scalar, v, c.plus(r * s.p + 2 * vcols), acc);
            }
        }
    }

    /// Step `k` (relative to the dynamic offsets `da`, `db`) of a tile; `looped` when inside
    /// the `k` loop.
    fn gemm_step(
        &mut self,
        tile: Tile,
        s: Pass,
        (vaccs, saccs): (&[Variable], &[Variable]),
        (a, da): (Addr, Option<Value>),
        (b, db): (Addr, Option<Value>),
        (k, looped): (usize, bool),
    ) {
        // Inside the `k` loop (more than one trip), every address moves with its induction
        // variable: loads may be placed at their use (see `load_in_loop`).
        let load = |t: &mut Self, w: Width, at: Addr| {
            if looped {
                t.load_in_loop(w, at)
            } else {
                t.load(w, at)
            }
        };
        let Tile { rows, vcols, scol } = tile;
        let brow = Addr {
            dynamic: db,
            ..b.plus(k * s.p)
        };
        let bv: Vec<Value> = (0..vcols)
            .map(|cv| load(self, Width::X2, brow.plus(2 * cv)))
            .collect();
        let bs = scol.then(|| load(self, Width::Scalar, brow.plus(2 * vcols)));
        for r in 0..rows {
            let ar = Addr {
                dynamic: da,
                ..a.plus(r * s.n + k)
            };
            for (cv, &bvc) in bv.iter().enumerate() {
                let x = load(self, Width::Scalar, ar);
                let av = self.splat(Width::X2, x);
                let v = vaccs[r * vcols + cv];
                let cur = self.b.use_var(v);
                let next = self.fma(av, bvc, cur);
                self.b.def_var(v, next);
            }
            if let Some(bs) = bs {
                let x = load(self, Width::Scalar, ar);
                let cur = self.b.use_var(saccs[r]);
                let next = self.fma(x, bs, cur);
                self.b.def_var(saccs[r], next);
            }
        }
    }
}
