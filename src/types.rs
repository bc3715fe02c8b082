//! The types of values, shared by every stage from the checker on: a tensor [`Shape`] and a
//! variable's or expression's [`Ty`].
//!
//! A leaf module: it imports nothing from the stages, so the checker, the IR, the JIT and the
//! runtime all name the same types without any of them reaching into another. `Display` here is
//! the spelling of the language (`real[3, 4]`, `class[10]`, `sign`), which diagnostics and the
//! `emit ir` text both print.

use std::fmt;

/// A tensor shape: empty for a scalar; row-major.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// `(fan_in, fan_out)` of a parameter of this shape, as read by initialisers.
    ///
    /// A matrix `real[m, n]` maps `n` inputs to `m` outputs (it is used as `W @ x`), and a higher
    /// rank tensor is read as the matrix `[d0, d1·d2·…]`: fan_in is the product of every dim but
    /// the first, fan_out the first. A vector `real[n]` is a weight vector of `dot(w, x)` or a
    /// bias: fan_in `n`, fan_out 1. A scalar has fan_in = fan_out = 1. Empty dims (which the
    /// checker rejects) count as 1 so that no initialiser divides by zero.
    pub fn fan_in_out(&self) -> (usize, usize) {
        match self.0.as_slice() {
            [] => (1, 1),
            [n] => ((*n).max(1), 1),
            [first, rest @ ..] => (rest.iter().product::<usize>().max(1), (*first).max(1)),
        }
    }

    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }
    /// Number of elements (1 for a scalar); the checker keeps this under the element limit.
    pub fn len(&self) -> usize {
        self.0.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("real");
        }
        let dims: Vec<String> = self.0.iter().map(|d| d.to_string()).collect();
        write!(f, "real[{}]", dims.join(", "))
    }
}

/// The type of a variable or expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Real(Shape),
    /// An integer in `0..k`.
    Class(usize),
    /// A tensor of −1/+1 values (`sign` is the scalar, `sign[n, …]` a tensor); a real tensor
    /// of the same shape in arithmetic.
    Sign(Shape),
}

impl Ty {
    pub fn scalar() -> Ty {
        Ty::Real(Shape::scalar())
    }
    /// Whether `x` is a value of this type (one entry of it): a finite real, a class index
    /// `0..k` written as an integral number, or ±1 for a sign.
    pub fn admits(&self, x: f64) -> bool {
        match self {
            Ty::Real(_) => x.is_finite(),
            Ty::Class(k) => x.fract() == 0.0 && x >= 0.0 && x < *k as f64,
            Ty::Sign(_) => x == 1.0 || x == -1.0,
        }
    }
    /// Whether every one of `xs` is a value of this type ([`Ty::admits`]); for `real`, at a
    /// few instructions per value ([`copy_finite`]'s test, without the copy).
    pub fn admits_all(&self, xs: &[f64]) -> bool {
        match self {
            Ty::Real(_) => all_finite(xs),
            _ => xs.iter().all(|&x| self.admits(x)),
        }
    }

    /// The scalar `sign`.
    pub fn sign() -> Ty {
        Ty::Sign(Shape::scalar())
    }
    /// Whether this is the scalar `sign` (not a `sign[n, …]` tensor).
    pub fn is_scalar_sign(&self) -> bool {
        matches!(self, Ty::Sign(s) if s.is_scalar())
    }
    /// The shape this value has in arithmetic (a `sign[n]` is a real vector; `class` has none).
    pub fn shape(&self) -> Option<&Shape> {
        match self {
            Ty::Real(s) | Ty::Sign(s) => Some(s),
            Ty::Class(_) => None,
        }
    }
    /// Elements a variable of this type occupies (1 for a class).
    pub fn elements(&self) -> usize {
        match self {
            Ty::Real(s) | Ty::Sign(s) => s.len(),
            Ty::Class(_) => 1,
        }
    }
    /// How many values a discrete variable of this type takes (`k` for `class[k]`, `2^n` for a
    /// `sign` of n elements); `None` for a real one or when the count overflows `usize`.
    pub fn states(&self) -> Option<usize> {
        match self {
            Ty::Real(_) => None,
            Ty::Class(k) => Some(*k),
            Ty::Sign(s) => u32::try_from(s.len())
                .ok()
                .and_then(|n| 1usize.checked_shl(n))
                .filter(|_| s.len() < usize::BITS as usize),
        }
    }
    /// The values of discrete answer number `k` (`k < states()`), as an input holds them: a
    /// class index, or ±1 per element of a sign, the first element the most significant bit
    /// (so answers run row-major as if each element were a scalar `sign`; −1 before +1).
    pub fn answer(&self, k: usize) -> Vec<f64> {
        match self {
            Ty::Real(s) => vec![0.0; s.len()],
            Ty::Class(_) => vec![k as f64],
            Ty::Sign(s) => {
                let n = s.len();
                (0..n)
                    .map(|j| {
                        if (k >> (n - 1 - j)) & 1 == 1 {
                            1.0
                        } else {
                            -1.0
                        }
                    })
                    .collect()
            }
        }
    }
    /// The name of discrete answer number `k`, as `run --out` heads its probability column
    /// (`p_<name>`): the class index; `-1` or `1` for a scalar sign; one `+` or `-` per element
    /// of a sign tensor, row-major (`+-+` is `[1, -1, 1]`).
    pub fn answer_name(&self, k: usize) -> String {
        match self {
            Ty::Sign(s) if !s.is_scalar() => self
                .answer(k)
                .iter()
                .map(|&v| if v > 0.0 { '+' } else { '-' })
                .collect(),
            Ty::Sign(_) => if k == 0 { "-1" } else { "1" }.to_string(),
            _ => k.to_string(),
        }
    }
    /// The answer number of discrete `values` (the inverse of [`Ty::answer`]).
    pub fn answer_index(&self, values: &[f64]) -> usize {
        match self {
            Ty::Real(_) => 0,
            Ty::Class(_) => values.first().map_or(0, |&v| v as usize),
            Ty::Sign(_) => values
                .iter()
                .fold(0, |acc, &v| (acc << 1) | usize::from(v > 0.0)),
        }
    }
    pub fn is_discrete(&self) -> bool {
        !matches!(self, Ty::Real(_))
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Real(s) => write!(f, "{s}"),
            Ty::Class(k) => write!(f, "class[{k}]"),
            Ty::Sign(s) if s.is_scalar() => f.write_str("sign"),
            Ty::Sign(s) => {
                let dims: Vec<String> = s.0.iter().map(|d| d.to_string()).collect();
                write!(f, "sign[{}]", dims.join(", "))
            }
        }
    }
}

/// Whether every one of `xs` is finite, at a few instructions per value ([`copy_finite`]'s
/// test, without the copy).
pub fn all_finite(xs: &[f64]) -> bool {
    finite_pass::<false>(xs, &mut [])
}

/// Copies `src` into `dst` (of the same length, else a panic, as `copy_from_slice`) and says
/// whether every value is finite, in one pass: a batch of rows from Python is checked as each
/// row is copied for its call, while the row is in cache.
pub fn copy_finite(dst: &mut [f64], src: &[f64]) -> bool {
    assert_eq!(dst.len(), src.len(), "copy_finite: lengths differ");
    finite_pass::<true>(src, dst)
}

/// Whether every value of `src` is finite, with no early exit and in a form the compiler
/// vectorizes: x − x is +0 for a finite x and NaN for ±∞ and NaN, and a sum that takes in a
/// NaN stays NaN. With `COPY`, `src` is copied into `dst` on the way.
#[allow(clippy::eq_op)] // x − x is the test, not a slip
fn finite_pass<const COPY: bool>(src: &[f64], dst: &mut [f64]) -> bool {
    let mut lanes = [0.0f64; 8];
    let whole = src.len() / 8 * 8;
    for (i, chunk) in src[..whole].chunks_exact(8).enumerate() {
        if COPY {
            dst[i * 8..i * 8 + 8].copy_from_slice(chunk);
        }
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x - x;
        }
    }
    let mut tail = 0.0;
    for (k, x) in src[whole..].iter().enumerate() {
        if COPY {
            dst[whole + k] = *x;
        }
        tail += x - x;
    }
    lanes.iter().sum::<f64>() + tail == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_in_out_by_rank() {
        assert_eq!(Shape(vec![]).fan_in_out(), (1, 1));
        assert_eq!(Shape(vec![5]).fan_in_out(), (5, 1));
        assert_eq!(Shape(vec![3, 4]).fan_in_out(), (4, 3));
        assert_eq!(Shape(vec![2, 3, 4]).fan_in_out(), (12, 2));
    }

    #[test]
    fn sign_answers_run_row_major_and_invert() {
        let t = Ty::Sign(Shape(vec![3]));
        assert_eq!(t.states(), Some(8));
        assert_eq!(t.answer(0), vec![-1.0, -1.0, -1.0]);
        assert_eq!(t.answer(1), vec![-1.0, -1.0, 1.0]);
        assert_eq!(t.answer(6), vec![1.0, 1.0, -1.0]);
        for k in 0..8 {
            assert_eq!(t.answer_index(&t.answer(k)), k);
        }
        assert_eq!(Ty::sign().states(), Some(2));
        assert_eq!(Ty::sign().answer(0), vec![-1.0]);
        assert_eq!(Ty::Sign(Shape(vec![2, 2])).to_string(), "sign[2, 2]");
        assert_eq!(Ty::sign().to_string(), "sign");
        assert_eq!(Ty::Sign(Shape(vec![64])).states(), None);
        assert_eq!(t.answer_name(5), "+-+");
        assert_eq!(Ty::sign().answer_name(0), "-1");
        assert_eq!(Ty::Class(4).answer_name(3), "3");
    }

    #[test]
    fn admits_all_agrees_with_admits_value_by_value() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.5,
            3.0,
            f64::MIN_POSITIVE / 4.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        for ty in [Ty::Real(Shape::scalar()), Ty::Class(4), Ty::sign()] {
            assert!(ty.admits_all(&[]));
            for &bad in &specials {
                // Alone, and hidden among admitted values at every position of a long slice
                // (the vectorized loop's body and its tail).
                assert_eq!(ty.admits_all(&[bad]), ty.admits(bad), "{ty} {bad}");
                for at in [0, 7, 16, 33] {
                    let mut xs = vec![1.0; 34];
                    xs[at] = bad;
                    assert_eq!(ty.admits_all(&xs), ty.admits(bad), "{ty} {bad} at {at}");
                    if ty.is_discrete() {
                        continue;
                    }
                    let mut copy = vec![0.0; xs.len()];
                    assert_eq!(copy_finite(&mut copy, &xs), ty.admits(bad), "{bad} at {at}");
                    assert_eq!(
                        copy.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                        xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}
