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
    /// −1 or +1; a real scalar in arithmetic.
    Sign,
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
            Ty::Sign => x == 1.0 || x == -1.0,
        }
    }
    /// The shape this value has in arithmetic (`sign` is a scalar; `class` has none).
    pub fn shape(&self) -> Option<&Shape> {
        static SCALAR: Shape = Shape(Vec::new());
        match self {
            Ty::Real(s) => Some(s),
            Ty::Sign => Some(&SCALAR),
            Ty::Class(_) => None,
        }
    }
    /// Elements a variable of this type occupies (1 for class and sign).
    pub fn elements(&self) -> usize {
        match self {
            Ty::Real(s) => s.len(),
            _ => 1,
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
            Ty::Sign => f.write_str("sign"),
        }
    }
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
}
