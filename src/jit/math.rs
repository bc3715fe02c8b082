//! Transcendental functions emitted inline, for `f64` and `f64x2` alike.
//!
//! Every function here is branch-free straight-line code — special inputs are handled by
//! lane-wise selects, not jumps — so the same emission serves a scalar and both lanes of a
//! vector, and a map over a tensor is one loop without control flow inside. The polynomial
//! coefficients come from `tools/jit_coeffs.py` (Chebyshev fits at 60 digits); accuracy is
//! established by the ulp sweeps in `tests/jit_kernels.rs`, which compare against the host
//! libm over random and special inputs (zero, ±tiny, subnormals, huge, ±inf, NaN, the
//! overflow and underflow thresholds).
//!
//! * `exp`: `x = k ln2 + r`, `|r| ≤ ln2/2`, with Cody–Waite's two-constant ln2 (`k·LN2_HI` is
//!   exact, so `x − k·LN2_HI` is too); `e^r = 1 + r + r² P(r)` with the low part of the
//!   reduction folded in last; `2^k` is built in the exponent bits as `2^k₁ · 2^k₂`, so that
//!   results near overflow and in the subnormal range are rounded once, correctly.
//! * `log`: `x = 2^k m`, `m ∈ [√2/2, √2)` from the bits (subnormals pre-scaled by 2^54);
//!   with `f = m − 1`, `s = f/(2+f)`: `log(1+f) = f − f²/2 + s(f²/2 + R(s²))` (fdlibm's
//!   arrangement, which keeps the large terms exact).
//! * `log1p`: `u = 1 + x` and its exact rounding error `e` (Knuth's TwoSum), then
//!   `log(u) + e/u` through the same core.
//! * `tanh`: `x + x³ T(x²)` for `|x| < 0.625` (no cancellation near 0), else
//!   `1 − 2/(e^{2|x|} + 1)`, sign restored from `x`.
//! * `sigmoid`: `1/(1 + e^{−x})` for `x ≥ 0`, `e^{x}/(1 + e^{x})` below, so neither
//!   overflows nor loses the subnormal tail.
//! * `softplus`: `max(x, 0) + log1p(e^{−|x|})`.
//!
//! With [`super::JitOptions::inline_math`] off, exp/log/log1p/tanh call libm instead (and
//! sigmoid and softplus are composed from those calls).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::emit::{FunctionTranslator, Width};
use super::module::Libm;

/// ln 2 rounded to 32 significant bits: `k · LN2_HI` is exact for `|k| < 2^21`.
pub(super) const LN2_HI: f64 = 0.6931471803691238; // 0x3fe62e42fee00000
/// `ln 2 − LN2_HI`, rounded.
pub(super) const LN2_LO: f64 = 1.9082149292705877e-10;
pub(super) const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// `1.5 · 2^52`: adding it to a small integer-valued float puts the integer in the low bits.
pub(super) const MAGIC: f64 = 6755399441055744.0;
pub(super) const EXP_BIAS: i64 = 1023;
/// `|x| ≥` this: `e^x` is ∞ or 0 after rounding; clamping here keeps `2^k` in range.
pub(super) const EXP_CLAMP_HI: f64 = 710.0;
pub(super) const EXP_CLAMP_LO: f64 = -746.0;
const SIGN_BIT: i64 = i64::MIN;
const MANTISSA: i64 = 0x000f_ffff_ffff_ffff;
/// Bits of √2/2: subtracting moves the mantissa of `m` into `[√2/2, √2)`.
const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;
/// `|x|` below this takes tanh's odd polynomial; the fit interval of `TANH_T`.
pub(super) const TANH_SMALL: f64 = 0.625;
/// `tanh(20) = 1 − 8.5e−18` rounds to 1; clamping keeps `e^{2|x|}` finite.
pub(super) const TANH_CLAMP: f64 = 20.0;

// tools/jit_coeffs.py exp=10 tanh=11 log=7
// EXP_P: degree 10 on [-0.34657359, 0.34657359], fit error 1.4e-18
pub(super) const EXP_P: [f64; 11] = [
    0.5,
    0.1666666666666667,
    0.04166666666666667,
    0.008333333333326141,
    0.0013888888888883752,
    0.00019841269874800493,
    2.4801587325533363e-05,
    2.7557255425746435e-06,
    2.7557273661348637e-07,
    2.510520637395701e-08,
    2.0914679376583935e-09,
];
// TANH_T: degree 11 on [0.0, 0.390625], fit error 3.94e-18
pub(super) const TANH_T: [f64; 12] = [
    -0.3333333333333333,
    0.13333333333333042,
    -0.05396825396789699,
    0.021869488519008305,
    -0.008863235103240878,
    0.0035921217511549622,
    -0.0014557754120478055,
    0.0005896606577757043,
    -0.0002375906496055562,
    9.257116129556769e-05,
    -3.12011014257974e-05,
    6.485163482793113e-06,
];
// LOG_Q: degree 7 on [0.0, 0.029437252], fit error 2.07e-18
const LOG_Q: [f64; 8] = [
    0.6666666666666666,
    0.4000000000000088,
    0.28571428570803614,
    0.22222222391713917,
    0.18181795640132906,
    0.15386239702814658,
    0.13268773138656886,
    0.13086626147840102,
];

impl FunctionTranslator<'_> {
    /// `x` limited to `[lo, hi]`, NaN kept. Two compares and blends: x86's `minpd`/`maxpd`
    /// are not IEEE min/max, so Cranelift's NaN-exact `fmin`/`fmax` cost four times as much.
    fn clamp(&mut self, w: Width, x: Value, lo: f64, hi: f64) -> Value {
        let hi_v = self.fconst(w, hi);
        let lo_v = self.fconst(w, lo);
        let above = self.fcmp(FloatCC::GreaterThan, x, hi_v);
        let x = self.select(w, above, hi_v, x);
        let below = self.fcmp(FloatCC::LessThan, x, lo_v);
        self.select(w, below, lo_v, x)
    }

    /// `2^k` for an integer-valued float `k` with `k + 1023 ∈ [1, 2046]`, built in the bits.
    fn pow2(&mut self, w: Width, k: Value) -> Value {
        let magic = self.fconst(w, MAGIC + EXP_BIAS as f64);
        let biased = self.b.ins().fadd(k, magic);
        let bits = self.bits_of(w, biased);
        let shift = self.b.ins().iconst(types::I64, 52);
        let bits = self.b.ins().ishl(bits, shift);
        self.float_of(w, bits)
    }

    /// `e^x`.
    pub fn exp(&mut self, w: Width, x: Value) -> Value {
        self.exp_of(w, x, false)
    }

    /// `e^x` for `x ≤ 0` or NaN (sigmoid's and softplus's `e^{−|x|}`): no upper clamp.
    fn exp_nonpositive(&mut self, w: Width, x: Value) -> Value {
        self.exp_of(w, x, true)
    }

    fn exp_of(&mut self, w: Width, x: Value, nonpositive: bool) -> Value {
        if !self.inline_math() {
            return self.call_libm(w, Libm::Exp, &[x]);
        }
        let x = if nonpositive {
            let lo = self.fconst(w, EXP_CLAMP_LO);
            let below = self.fcmp(FloatCC::LessThan, x, lo);
            self.select(w, below, lo, x)
        } else {
            self.clamp(w, x, EXP_CLAMP_LO, EXP_CLAMP_HI)
        };
        let log2e = self.fconst(w, LOG2_E);
        let t = self.b.ins().fmul(x, log2e);
        let k = self.b.ins().nearest(t);
        let ln2_lo = self.fconst(w, LN2_LO);
        // x − k·LN2_HI: the product is exact, and so is the difference, fused or not.
        let minus_ln2_hi = self.fconst(w, -LN2_HI);
        let hi = self.fma(k, minus_ln2_hi, x);
        let lo = self.b.ins().fmul(k, ln2_lo);
        let r = self.b.ins().fsub(hi, lo);
        let p = self.poly(w, r, &EXP_P);
        let r2 = self.b.ins().fmul(r, r);
        let q = self.b.ins().fmul(r2, p);
        // e^r − 1 = (hi − lo) + q, summed so the exact `hi` is added last.
        let q = self.b.ins().fsub(q, lo);
        let s = self.b.ins().fadd(hi, q);
        let one = self.fconst(w, 1.0);
        let y = self.b.ins().fadd(one, s);
        // 2^k = 2^k1 · 2^k2 with k1 = ⌊k/2⌋: y·2^k1 is exact, the second product rounds once.
        let half = self.fconst(w, 0.5);
        let kh = self.b.ins().fmul(k, half);
        let k1 = self.b.ins().floor(kh);
        let k2 = self.b.ins().fsub(k, k1);
        let s1 = self.pow2(w, k1);
        let s2 = self.pow2(w, k2);
        let y = self.b.ins().fmul(y, s1);
        self.b.ins().fmul(y, s2)
    }

    /// `log` of a positive normal or subnormal `x`, plus `corr` (a correction of order
    /// ulp(x)/x, used by log1p). Zero, negative, infinite and NaN inputs give garbage that
    /// the callers replace.
    fn log_core(&mut self, w: Width, x: Value, corr: Option<Value>) -> Value {
        let tiny = self.fcmp_const(w, FloatCC::LessThan, x, f64::MIN_POSITIVE);
        let scale = self.fconst(w, 18014398509481984.0); // 2^54
        let scaled = self.b.ins().fmul(x, scale);
        let x = self.select(w, tiny, scaled, x);
        let minus54 = self.fconst(w, -54.0);
        let zero = self.fconst(w, 0.0);
        let kadj = self.select(w, tiny, minus54, zero);

        let ix = self.bits_of(w, x);
        let shift_m = self.iconst(w, 0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
        let ix = self.b.ins().iadd(ix, shift_m);
        let shift = self.b.ins().iconst(types::I64, 52);
        let e = self.b.ins().ushr(ix, shift);
        // float(e) by the 2^52 trick: e < 2^11 becomes the low mantissa bits of 2^52.
        let two52_bits = self.iconst(w, 0x4330_0000_0000_0000);
        let e = self.b.ins().bor(e, two52_bits);
        let e = self.float_of(w, e);
        let bias = self.fconst(w, 4503599627370496.0 + EXP_BIAS as f64);
        let k = self.b.ins().fsub(e, bias);
        let k = self.b.ins().fadd(k, kadj);
        let mant = self.iconst(w, MANTISSA);
        let m = self.b.ins().band(ix, mant);
        let sqrt_half = self.iconst(w, SQRT_HALF_BITS);
        let m = self.b.ins().iadd(m, sqrt_half);
        let m = self.float_of(w, m);

        let one = self.fconst(w, 1.0);
        let two = self.fconst(w, 2.0);
        let half = self.fconst(w, 0.5);
        let f = self.b.ins().fsub(m, one); // exact: m ∈ [√2/2, √2)
        let hf = self.b.ins().fmul(half, f);
        let hfsq = self.b.ins().fmul(hf, f);
        let d = self.b.ins().fadd(two, f);
        let s = self.b.ins().fdiv(f, d);
        let z = self.b.ins().fmul(s, s);
        let q = self.poly(w, z, &LOG_Q);
        let r = self.b.ins().fmul(z, q);
        // k·ln2_hi − ((hfsq − (s·(hfsq + R) + (k·ln2_lo + corr))) − f)
        let ln2_lo = self.fconst(w, LN2_LO);
        let mut c = self.b.ins().fmul(k, ln2_lo);
        if let Some(corr) = corr {
            c = self.b.ins().fadd(c, corr);
        }
        let hr = self.b.ins().fadd(hfsq, r);
        let shr = self.fma(s, hr, c);
        let t = self.b.ins().fsub(hfsq, shr);
        let t = self.b.ins().fsub(t, f);
        let ln2_hi = self.fconst(w, LN2_HI);
        let khi = self.b.ins().fmul(k, ln2_hi); // exact
        self.b.ins().fsub(khi, t)
    }

    /// Replaces the results for special inputs: `x == at_inf_in → +∞`, `x == pole → −∞`,
    /// `x < pole` or NaN `→ NaN`.
    fn log_specials(&mut self, w: Width, x: Value, res: Value, pole: f64) -> Value {
        let inf = self.fconst(w, f64::INFINITY);
        let ninf = self.fconst(w, f64::NEG_INFINITY);
        let nan = self.fconst(w, f64::NAN);
        let is_inf = self.fcmp(FloatCC::Equal, x, inf);
        let res = self.select(w, is_inf, inf, res);
        let is_pole = self.fcmp_const(w, FloatCC::Equal, x, pole);
        let res = self.select(w, is_pole, ninf, res);
        let bad = self.fcmp_const(w, FloatCC::UnorderedOrLessThan, x, pole);
        self.select(w, bad, nan, res)
    }

    /// Natural logarithm.
    pub fn log(&mut self, w: Width, x: Value) -> Value {
        if !self.inline_math() {
            return self.call_libm(w, Libm::Log, &[x]);
        }
        let res = self.log_core(w, x, None);
        self.log_specials(w, x, res, 0.0)
    }

    /// `log(1 + x)`, accurate near 0.
    pub fn log1p(&mut self, w: Width, x: Value) -> Value {
        if !self.inline_math() {
            return self.call_libm(w, Libm::Log1p, &[x]);
        }
        let one = self.fconst(w, 1.0);
        // TwoSum: u + e == 1 + x exactly.
        let u = self.b.ins().fadd(one, x);
        let bb = self.b.ins().fsub(u, one);
        let ub = self.b.ins().fsub(u, bb);
        let ea = self.b.ins().fsub(one, ub);
        let eb = self.b.ins().fsub(x, bb);
        let e = self.b.ins().fadd(ea, eb);
        let corr = self.b.ins().fdiv(e, u);
        let res = self.log_core(w, u, Some(corr));
        self.log_specials(w, x, res, -1.0)
    }

    /// Hyperbolic tangent.
    pub fn tanh(&mut self, w: Width, x: Value) -> Value {
        if !self.inline_math() {
            return self.call_libm(w, Libm::Tanh, &[x]);
        }
        let y = self.b.ins().fabs(x);
        // Small |x|: odd polynomial, x + x³ T(x²).
        let u = self.b.ins().fmul(y, y);
        let t = self.poly(w, u, &TANH_T);
        let yu = self.b.ins().fmul(y, u);
        let small = self.fma(yu, t, y);
        // Large |x|: 1 − 2/(e^{2|x|} + 1).
        let yc = self.clamp(w, y, 0.0, TANH_CLAMP);
        let y2 = self.b.ins().fadd(yc, yc);
        let e = self.exp(w, y2);
        let one = self.fconst(w, 1.0);
        let two = self.fconst(w, 2.0);
        let d = self.b.ins().fadd(e, one);
        let q = self.b.ins().fdiv(two, d);
        let large = self.b.ins().fsub(one, q);
        let is_small = self.fcmp_const(w, FloatCC::LessThan, y, TANH_SMALL);
        let t = self.select(w, is_small, small, large);
        self.copy_sign_of(w, t, x)
    }

    /// `t` (non-negative or NaN) with the sign bit of `x`.
    fn copy_sign_of(&mut self, w: Width, t: Value, x: Value) -> Value {
        let sign = self.iconst(w, SIGN_BIT);
        let xb = self.bits_of(w, x);
        let xs = self.b.ins().band(xb, sign);
        let tb = self.bits_of(w, t);
        let r = self.b.ins().bor(tb, xs);
        self.float_of(w, r)
    }

    /// The logistic function `1 / (1 + e^{−x})`.
    pub fn sigmoid(&mut self, w: Width, x: Value) -> Value {
        let y = self.b.ins().fabs(x);
        let ny = self.b.ins().fneg(y);
        let e = self.exp_nonpositive(w, ny);
        let one = self.fconst(w, 1.0);
        let d = self.b.ins().fadd(one, e);
        let nonneg = self.fcmp_const(w, FloatCC::GreaterThanOrEqual, x, 0.0);
        let num = self.select(w, nonneg, one, e);
        self.b.ins().fdiv(num, d)
    }

    /// `log(1 + e^x)`.
    pub fn softplus(&mut self, w: Width, x: Value) -> Value {
        let y = self.b.ins().fabs(x);
        let ny = self.b.ins().fneg(y);
        let e = self.exp_nonpositive(w, ny);
        let l = self.log1p(w, e);
        let zero = self.fconst(w, 0.0);
        let pos = self.b.ins().fmax(x, zero);
        self.b.ins().fadd(pos, l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cody_waite_constants_split_ln2() {
        // k · LN2_HI is exact for |k| < 2^21: the low 21 mantissa bits are zero.
        assert_eq!(LN2_HI.to_bits() & ((1 << 21) - 1), 0);
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
        assert!(LN2_LO.abs() < 1e-9);
    }

    #[test]
    fn polynomials_start_at_their_taylor_terms() {
        assert_eq!(EXP_P[0], 0.5);
        assert!((EXP_P[1] - 1.0 / 6.0).abs() < 1e-15);
        assert!((TANH_T[0] + 1.0 / 3.0).abs() < 1e-15);
        assert!((LOG_Q[0] - 2.0 / 3.0).abs() < 1e-15);
        // The tanh polynomial covers exactly the small-argument branch.
        assert_eq!(TANH_SMALL * TANH_SMALL, 0.390625);
    }
}
