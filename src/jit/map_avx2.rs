//! `exp`, `tanh` and `sigmoid` over a vector in 256-bit lanes, for hosts with AVX2 and FMA: the
//! same functions as the inline ones of [`super::math`], operation for operation, at twice the
//! width.
//!
//! # Why generated code calls this
//!
//! A layer's `tanh` or `sigmoid` over a batch is a loop whose time is the latency of one
//! element's chain (a polynomial, then a division), and Cranelift 0.135 holds two lanes of it
//! per vector at most. On the density MLP's Langevin step, two sigmoid loops over 16 × 128
//! values were most of the kernel's own time. On a host with AVX2 and FMA — the host that gets
//! [`super::gemm_avx2`] — a loop that is exactly `dst[i] = f(src[i])` for one of these functions
//! (and long enough: [`MIN_LEN`]) is instead a call to [`map_f64x4`], compiled by rustc for that
//! feature set.
//!
//! # Same bits as the inline functions
//!
//! Each lane is the inline function's chain, step for step: the same clamps (compare and
//! blend, ordered compares, so NaN passes through), the same Cody–Waite reduction, the same
//! Estrin evaluation of the same coefficients with the same fused multiply-adds, the same
//! `2^k` split, division and sign handling. Every operation is an IEEE operation rounded once
//! whatever the width, so the results are the same bits; `tests/jit_kernels.rs` compares both
//! paths on random and special inputs at every remainder length.
//!
//! Strict mode, `inline_math` off and object files never call it.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use super::math::{
    EXP_BIAS, EXP_CLAMP_HI, EXP_CLAMP_LO, EXP_P, LN2_HI, LN2_LO, LOG2_E, MAGIC, TANH_CLAMP,
    TANH_SMALL, TANH_T,
};

/// The symbol generated code imports.
pub const SYMBOL: &str = "ebmc_map_f64x4";

/// Fewest elements for which a map calls [`map_f64x4`]: shorter loops stay inline.
pub const MIN_LEN: usize = 16;

/// The functions [`map_f64x4`] evaluates, by the code generated code passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MapOp {
    Exp = 0,
    Tanh = 1,
    Sigmoid = 2,
}

/// The address registered with the JIT under [`SYMBOL`], on a host where
/// [`super::gemm_avx2::available`].
pub fn address() -> *const u8 {
    map_f64x4 as *const u8
}

/// `dst[i] = f(src[i])` for `i < n`, `f` given by `op` (a [`MapOp`]); `dst` may be `src`.
///
/// # Safety
///
/// Only generated code calls this, and only on a host with AVX2 and FMA (the [`super::Jit`]
/// registers the symbol nowhere else), with `src` and `dst` pointing at `n` `f64`s of the
/// function's buffers — regions [`super::FunctionTranslator::elementwise`] has checked against
/// the buffer lengths, equal or disjoint.
unsafe extern "C" fn map_f64x4(src: *const f64, dst: *mut f64, n: usize, op: u32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller's contract above.
    unsafe {
        match op {
            0 => map::<0>(src, dst, n),
            1 => map::<1>(src, dst, n),
            _ => map::<2>(src, dst, n),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, dst, n, op);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn map<const OP: u32>(src: *const f64, dst: *mut f64, n: usize) {
    let f = |x: __m256d| match OP {
        0 => exp(x, false),
        1 => tanh(x),
        _ => sigmoid(x),
    };
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: `i + 4 ≤ n`, within both regions; each vector is loaded before it is stored.
        unsafe { _mm256_storeu_pd(dst.add(i), f(_mm256_loadu_pd(src.add(i)))) };
        i += 4;
    }
    if i < n {
        // The last one to three elements through a padded vector: lanes are independent.
        let mut lanes = [0.0; 4];
        // SAFETY: `n − i < 4` elements of each region, copied to and from a local array.
        unsafe {
            std::ptr::copy_nonoverlapping(src.add(i), lanes.as_mut_ptr(), n - i);
            _mm256_storeu_pd(lanes.as_mut_ptr(), f(_mm256_loadu_pd(lanes.as_ptr())));
            std::ptr::copy_nonoverlapping(lanes.as_ptr(), dst.add(i), n - i);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn splat(c: f64) -> __m256d {
    _mm256_set1_pd(c)
}

/// Lane-wise `if m { a } else { b }`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn select(m: __m256d, a: __m256d, b: __m256d) -> __m256d {
    _mm256_blendv_pd(b, a, m)
}

/// [`super::math`]'s `clamp`: above `hi` → `hi`, then below `lo` → `lo`, NaN kept.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn clamp(x: __m256d, lo: f64, hi: f64) -> __m256d {
    let (lo, hi) = (splat(lo), splat(hi));
    let x = select(_mm256_cmp_pd::<_CMP_GT_OQ>(x, hi), hi, x);
    select(_mm256_cmp_pd::<_CMP_LT_OQ>(x, lo), lo, x)
}

/// [`super::emit`]'s `poly`: Estrin's scheme, pairs first.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn poly(x: __m256d, c: &[f64]) -> __m256d {
    let mut terms = [_mm256_setzero_pd(); 8];
    let mut len = 0;
    for pair in c.chunks(2) {
        terms[len] = match pair {
            [c0, c1] => _mm256_fmadd_pd(splat(*c1), x, splat(*c0)),
            [c0] => splat(*c0),
            _ => unreachable!("chunks of two"),
        };
        len += 1;
    }
    let mut power = x;
    while len > 1 {
        power = _mm256_mul_pd(power, power);
        let mut next = 0;
        for k in (0..len).step_by(2) {
            terms[next] = if k + 1 < len {
                _mm256_fmadd_pd(terms[k + 1], power, terms[k])
            } else {
                terms[k]
            };
            next += 1;
        }
        len = next;
    }
    terms[0]
}

/// `2^k` for an integer-valued `k`, built in the bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pow2(k: __m256d) -> __m256d {
    let biased = _mm256_add_pd(k, splat(MAGIC + EXP_BIAS as f64));
    _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_castpd_si256(biased)))
}

/// [`super::math`]'s `exp_of`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp(x: __m256d, nonpositive: bool) -> __m256d {
    let x = if nonpositive {
        let lo = splat(EXP_CLAMP_LO);
        select(_mm256_cmp_pd::<_CMP_LT_OQ>(x, lo), lo, x)
    } else {
        clamp(x, EXP_CLAMP_LO, EXP_CLAMP_HI)
    };
    let t = _mm256_mul_pd(x, splat(LOG2_E));
    let k = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t);
    let hi = _mm256_fmadd_pd(k, splat(-LN2_HI), x);
    let lo = _mm256_mul_pd(k, splat(LN2_LO));
    let r = _mm256_sub_pd(hi, lo);
    let p = poly(r, &EXP_P);
    let r2 = _mm256_mul_pd(r, r);
    let q = _mm256_mul_pd(r2, p);
    let q = _mm256_sub_pd(q, lo);
    let s = _mm256_add_pd(hi, q);
    let y = _mm256_add_pd(splat(1.0), s);
    let kh = _mm256_mul_pd(k, splat(0.5));
    let k1 = _mm256_floor_pd(kh);
    let k2 = _mm256_sub_pd(k, k1);
    let y = _mm256_mul_pd(y, pow2(k1));
    _mm256_mul_pd(y, pow2(k2))
}

/// The sign bit of every lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sign() -> __m256d {
    splat(-0.0)
}

/// [`super::math`]'s `tanh`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn tanh(x: __m256d) -> __m256d {
    let y = _mm256_andnot_pd(sign(), x);
    let u = _mm256_mul_pd(y, y);
    let t = poly(u, &TANH_T);
    let yu = _mm256_mul_pd(y, u);
    let small = _mm256_fmadd_pd(yu, t, y);
    let yc = clamp(y, 0.0, TANH_CLAMP);
    let y2 = _mm256_add_pd(yc, yc);
    let e = exp(y2, false);
    let one = splat(1.0);
    let d = _mm256_add_pd(e, one);
    let q = _mm256_div_pd(splat(2.0), d);
    let large = _mm256_sub_pd(one, q);
    let is_small = _mm256_cmp_pd::<_CMP_LT_OQ>(y, splat(TANH_SMALL));
    let t = select(is_small, small, large);
    _mm256_or_pd(t, _mm256_and_pd(x, sign()))
}

/// [`super::math`]'s `sigmoid`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sigmoid(x: __m256d) -> __m256d {
    let y = _mm256_andnot_pd(sign(), x);
    let ny = _mm256_xor_pd(y, sign());
    let e = exp(ny, true);
    let one = splat(1.0);
    let d = _mm256_add_pd(one, e);
    let nonneg = _mm256_cmp_pd::<_CMP_GE_OQ>(x, _mm256_setzero_pd());
    let num = select(nonneg, one, e);
    _mm256_div_pd(num, d)
}
