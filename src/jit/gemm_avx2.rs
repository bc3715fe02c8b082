//! The matrix–matrix product in 256-bit vectors, for hosts with AVX2 and FMA: `C (+)= A B`
//! for row-major `A[m, n]`, `B[n, p]`, `C[m, p]`, the same product as [`super::gemm`] in the
//! same order of summation, at twice the width.
//!
//! # Why generated code calls this
//!
//! Cranelift 0.135's x86-64 backend has no 256-bit vectors, so the product it emits
//! ([`super::gemm`]) holds `f64x2` and reaches at most half of an AVX2 core's f64 peak. On a
//! host with AVX2 and FMA — checked once, when the [`super::Jit`] is made — generated code
//! instead calls [`gemm_f64x4`], compiled by rustc for exactly that feature set: a 6 × 8 tile
//! of `C` in twelve `f64x4` accumulators (the register file holds sixteen), `k` innermost,
//! one broadcast of `A[i, k]` and one fused multiply-add per accumulator per `k`.
//!
//! # Same bits as the emitted product
//!
//! Each element of `C` is an independent chain: lanes never meet. The chain is the emitted
//! product's, step for step — `k` cut into the same passes ([`super::gemm::KC`], equal
//! lengths, the last one possibly shorter), each pass a fused multiply-add chain from `+0` in
//! increasing `k`, the first pass stored (or added to `C` with [`Accumulate::Add`]) and later
//! ones added. A fused multiply-add rounds once whatever the vector width, so the result is
//! the same bits on either path; a test compares them on every edge shape. Neither the tile
//! shape nor the host decides a result, only `n`.
//!
//! Strict mode and object files (`ebmc build --lib`) never call it: the first must be the
//! interpreter's order, the second must not depend on this process.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256d, _mm256_add_pd, _mm256_broadcast_sd, _mm256_fmadd_pd, _mm256_loadu_pd,
    _mm256_setzero_pd, _mm256_storeu_pd,
};

use super::gemm::KC;
use super::kernels::Accumulate;

/// The symbol generated code imports.
pub const SYMBOL: &str = "ebmc_gemm_f64x4";

/// Rows of `C` per register tile.
const MR: usize = 6;

/// Whether this host can run [`gemm_f64x4`].
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The address registered with the JIT under [`SYMBOL`], on a host where [`available`].
pub fn address() -> *const u8 {
    gemm_f64x4 as *const u8
}

/// `C (+)= A B` (`add` non-zero: add into `C`), `A[m, n]`, `B[n, p]`, `C[m, p]` row-major.
///
/// # Safety
///
/// Only generated code calls this, and only on a host where [`available`] (the [`super::Jit`]
/// registers the symbol nowhere else), with `a`, `b`, `c` pointing at `m·n`, `n·p` and `m·p`
/// `f64`s of the function's buffers — regions [`super::FunctionTranslator::matmul`] has checked
/// against the buffer lengths, `c` disjoint from both sources.
unsafe extern "C" fn gemm_f64x4(
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    m: usize,
    n: usize,
    p: usize,
    add: u32,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller's contract above; the features were detected before registration.
    unsafe {
        let acc = if add != 0 {
            Accumulate::Add
        } else {
            Accumulate::Overwrite
        };
        product(a, b, c, (m, n, p), acc);
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, b, c, m, n, p, add);
        unreachable!("registered on x86-64 hosts only");
    }
}

/// The passes over `k`, as in [`super::gemm`]: equal lengths, the last possibly shorter.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn product(
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    (m, n, p): (usize, usize, usize),
    acc: Accumulate,
) {
    if m == 0 || p == 0 {
        return;
    }
    if n == 0 {
        if acc == Accumulate::Overwrite {
            // SAFETY: `c` holds `m·p` elements.
            unsafe { std::ptr::write_bytes(c, 0, m * p) };
        }
        return;
    }
    let passes = n.div_ceil(KC);
    let kc = n.div_ceil(passes);
    let mut k0 = 0;
    let mut add = acc == Accumulate::Add;
    while k0 < n {
        let len = kc.min(n - k0);
        let mut i = 0;
        // SAFETY: every pointer below stays inside its matrix: rows `i .. i + rows` of `A`
        // and `C`, rows `k0 .. k0 + len` of `B`.
        unsafe {
            while i + MR <= m {
                panel::<MR>(
                    a.add(i * n + k0),
                    b.add(k0 * p),
                    c.add(i * p),
                    (n, p),
                    len,
                    add,
                );
                i += MR;
            }
            let (a, c) = (a.add(i * n + k0), c.add(i * p));
            let b = b.add(k0 * p);
            match m - i {
                0 => {}
                1 => panel::<1>(a, b, c, (n, p), len, add),
                2 => panel::<2>(a, b, c, (n, p), len, add),
                3 => panel::<3>(a, b, c, (n, p), len, add),
                4 => panel::<4>(a, b, c, (n, p), len, add),
                _ => panel::<5>(a, b, c, (n, p), len, add),
            }
        }
        k0 += len;
        add = true;
    }
}

/// `R` rows of one pass, every column: tiles of 8 columns, then one of 4, then single columns.
/// `lda` = `n`, `ldb` = `ldc` = `p`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn panel<const R: usize>(
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    (lda, p): (usize, usize),
    kc: usize,
    add: bool,
) {
    let mut j = 0;
    // SAFETY: columns `j .. j + width ≤ p` of rows the caller owns.
    unsafe {
        while j + 8 <= p {
            tile::<R, 2>(a, b.add(j), c.add(j), (lda, p), kc, add);
            j += 8;
        }
        if j + 4 <= p {
            tile::<R, 1>(a, b.add(j), c.add(j), (lda, p), kc, add);
            j += 4;
        }
        while j < p {
            column::<R>(a, b.add(j), c.add(j), (lda, p), kc, add);
            j += 1;
        }
    }
}

/// One register tile: `R` rows × `4·V` columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const V: usize>(
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    (lda, ld): (usize, usize),
    kc: usize,
    add: bool,
) {
    let mut acc: [[__m256d; V]; R] = [[_mm256_setzero_pd(); V]; R];
    // SAFETY: `k < kc` rows of `B` and columns of `A`, `R` rows, `4·V` columns.
    unsafe {
        for k in 0..kc {
            let row = b.add(k * ld);
            let mut bv: [__m256d; V] = [_mm256_setzero_pd(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm256_loadu_pd(row.add(4 * v));
            }
            for (r, accs) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_sd(&*a.add(r * lda + k));
                for (s, &y) in accs.iter_mut().zip(&bv) {
                    *s = _mm256_fmadd_pd(x, y, *s);
                }
            }
        }
        for (r, accs) in acc.iter().enumerate() {
            for (v, &s) in accs.iter().enumerate() {
                let at = c.add(r * ld + 4 * v);
                let s = if add {
                    _mm256_add_pd(_mm256_loadu_pd(at), s)
                } else {
                    s
                };
                _mm256_storeu_pd(at, s);
            }
        }
    }
}

/// One column of `R` rows, in scalars.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn column<const R: usize>(
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    (lda, ld): (usize, usize),
    kc: usize,
    add: bool,
) {
    let mut acc = [0.0f64; R];
    // SAFETY: as for `tile`, one column.
    unsafe {
        for k in 0..kc {
            let y = *b.add(k * ld);
            for (r, s) in acc.iter_mut().enumerate() {
                *s = (*a.add(r * lda + k)).mul_add(y, *s);
            }
        }
        for (r, &s) in acc.iter().enumerate() {
            let at = c.add(r * ld);
            *at = if add { *at + s } else { s };
        }
    }
}
