//! The `lvq2` positivity lint (`W0004`).
//!
//! `lvq2` is `min(1, max(0, (E_i − Ē_i) / (δ · Ē_i)))`: it assumes energies are positive
//! (LeCun et al. 2006 use it with distances). On an energy that can go negative, the division
//! by `Ē_i` flips the sign of the loss, and training pushes the correct answer's energy *up*.
//! The lint proves `E ≥ 0` by a small abstract interpretation over signs — `sqnorm`, `square`,
//! `softplus`, sums and products of non-negative things — and warns when it cannot.

use super::abstract_eval::{Domain, Walker};
use super::{Builtin, Checker, EnergyTerm, Expr, ExprKind, Role};
use crate::syntax::ast::BinOp;

/// What is known of the sign of every element of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Sign {
    /// Nothing.
    Any,
    /// `≥ 0`.
    NonNeg,
    /// `> 0`.
    Pos,
}

impl Sign {
    /// What holds of both of two values (the elements of a vector, `min`, a product).
    fn weakest(self, other: Sign) -> Sign {
        self.min(other)
    }
    fn plus(self, other: Sign) -> Sign {
        match (self, other) {
            (Sign::Any, _) | (_, Sign::Any) => Sign::Any,
            (Sign::Pos, _) | (_, Sign::Pos) => Sign::Pos,
            _ => Sign::NonNeg,
        }
    }
    /// `a · b`, and the sums of products of matrix products.
    fn times(self, other: Sign) -> Sign {
        self.weakest(other)
    }
    /// At least non-negative, whatever the argument (`abs`, `square`, norms).
    fn non_neg(self) -> Sign {
        self.max(Sign::NonNeg)
    }
}

impl Checker<'_> {
    /// The sign of the whole energy: the sum of its terms.
    pub(super) fn energy_sign(&self, energy: &[EnergyTerm]) -> Sign {
        let mut w = Walker::<Sign>::new(self);
        energy
            .iter()
            .fold(Sign::NonNeg, |acc, t| acc.plus(w.expr(&t.value, &[])))
    }
}

impl Domain for Sign {
    fn number(v: f64) -> Sign {
        if v > 0.0 {
            Sign::Pos
        } else if v == 0.0 {
            Sign::NonNeg
        } else {
            Sign::Any
        }
    }
    /// Trainable, given or inferred reals: any sign.
    fn var(_: Option<Role>) -> Sign {
        Sign::Any
    }
    fn unknown() -> Sign {
        Sign::Any
    }
    fn vector(items: impl Iterator<Item = Sign>) -> Sign {
        items.fold(Sign::Pos, Sign::weakest)
    }
    fn builtin(b: Builtin, s: &[Sign], args: &[Expr]) -> Sign {
        use Builtin::*;
        match b {
            Exp | Sigmoid | Softplus | Softmax => Sign::Pos,
            Relu | Abs | Square | SqNorm | Norm | L1 | Sqrt => s[0].non_neg(),
            // Order-preserving through zero: the argument's sign.
            Tanh | Sum | Mean | Max | Min => s[0],
            Log | Sin | Cos | LogSumExp | Cosine => Sign::Any,
            Dot => s[0].times(s[1]),
            Max2 => s[0].max(s[1]),
            Min2 => s[0].min(s[1]),
            Pow => pow(s[0], &args[1]),
        }
    }
    fn index(base: Sign, _: &[Sign]) -> Sign {
        base
    }
    fn transpose(x: Sign) -> Sign {
        x
    }
    fn neg(_: Sign) -> Sign {
        Sign::Any
    }
    fn binary(op: BinOp, a: Sign, b: Sign, rhs: &Expr) -> Sign {
        match op {
            BinOp::Add => a.plus(b),
            BinOp::Sub => Sign::Any,
            BinOp::Mul | BinOp::MatMul => a.times(b),
            BinOp::Div if b == Sign::Pos => a,
            // `a / 0` is ±∞ or NaN, never below zero when `a` is not.
            BinOp::Div if b == Sign::NonNeg => a.weakest(Sign::NonNeg),
            BinOp::Div => Sign::Any,
            BinOp::Pow => pow(a, rhs),
        }
    }
}

/// `base ^ p`: positive bases stay positive and zero stays `≥ 0` (0, 1 or ∞) for any `p`;
/// an even integer `p` makes any base `≥ 0` (`(y − f(x))^2`).
fn pow(base: Sign, p: &Expr) -> Sign {
    match p.kind {
        ExprKind::Number(v) if v.fract() == 0.0 && (v / 2.0).fract() == 0.0 => base.non_neg(),
        _ => base,
    }
}
