//! Which variables `gibbs` may redraw as one block (spec section 13), and the warning
//! (`W0010`) for a tensor variable it must redraw one coordinate at a time.
//!
//! A block is a variable the energy is affine in: `E = E₀ + Σ_j a_j v_j` with `E₀` and every
//! `a_j = ∂E/∂v_j` free of `v` (an RBM's visible layer given the hidden one). Its coordinates
//! are then independent given everything else, so every coordinate's conditional can be taken
//! at one state and all coordinates drawn together. The checker shows affinity by the degree
//! of the energy as a polynomial in each variable, an abstract interpretation: sums and
//! `sum`/`mean` keep degrees, products (`*`, `@`, `dot`, indexing by a variable) add them, and
//! any other function of a variable is not a polynomial in it. It is sound (an energy it calls
//! affine is affine) and conservative (`v * v` of a sign, which is 1, is degree 2 to it).

use super::abstract_eval::{Domain, Walker};
use super::clauses::Clauses;
use super::{Builtin, Checker, EnergyTerm, Expr, ExprKind, InferMethod, Role, Sampler, VarId};
use crate::diag::{Code, Diagnostic};
use crate::syntax::ast::BinOp;

/// Per variable (bit `i` for variable `i`, the first 128): whether the value may depend on it
/// at degree 1 (`lin`) or beyond, or not polynomially (`high`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub(super) struct Degree {
    lin: u128,
    high: u128,
}

impl Degree {
    fn any(self) -> u128 {
        self.lin | self.high
    }
    fn join(self, o: Degree) -> Degree {
        Degree {
            lin: self.lin | o.lin,
            high: self.high | o.high,
        }
    }
    fn times(self, o: Degree) -> Degree {
        Degree {
            lin: self.lin | o.lin,
            high: self.high | o.high | (self.lin & o.lin),
        }
    }
    /// A function that is not a polynomial: whatever it depends on, it depends on beyond
    /// degree 1.
    fn curved(self) -> Degree {
        Degree {
            lin: 0,
            high: self.any(),
        }
    }
}

impl Domain for Degree {
    fn number(_: f64) -> Degree {
        Degree::default()
    }
    fn var(_: Option<Role>) -> Degree {
        Degree::default()
    }
    fn var_at(id: VarId, role: Option<Role>) -> Degree {
        match role {
            Some(Role::Output | Role::Latent) if id.0 < 128 => Degree {
                lin: 1u128 << id.0,
                high: 0,
            },
            _ => Degree::default(),
        }
    }
    fn unknown() -> Degree {
        Degree {
            lin: 0,
            high: u128::MAX,
        }
    }
    fn vector(items: impl Iterator<Item = Degree>) -> Degree {
        items.fold(Degree::default(), Degree::join)
    }
    fn builtin(b: Builtin, ds: &[Degree], _: &[Expr]) -> Degree {
        use Builtin::*;
        match b {
            Sum | Mean => ds[0],
            Dot => ds[0].times(ds[1]),
            SqNorm | Square => ds[0].times(ds[0]),
            _ => ds
                .iter()
                .fold(Degree::default(), |a, d| a.join(*d))
                .curved(),
        }
    }
    fn index(base: Degree, dynamic: &[Degree]) -> Degree {
        dynamic.iter().fold(base, |a, d| a.times(*d))
    }
    fn transpose(x: Degree) -> Degree {
        x
    }
    fn neg(x: Degree) -> Degree {
        x
    }
    fn binary(op: BinOp, a: Degree, b: Degree, rhs: &Expr) -> Degree {
        match op {
            BinOp::Add | BinOp::Sub => a.join(b),
            BinOp::Mul | BinOp::MatMul => a.times(b),
            BinOp::Div if b.any() == 0 => a,
            BinOp::Div => a.join(b).curved(),
            BinOp::Pow => match rhs.kind {
                ExprKind::Number(1.0) => a,
                ExprKind::Number(0.0) => Degree::default(),
                _ => a.join(b).curved(),
            },
        }
    }
}

impl<'a> Checker<'a> {
    /// Fills in the blocks of a `gibbs` inference, and warns for each tensor variable it
    /// samples coordinate by coordinate.
    pub(super) fn gibbs_blocks(&mut self, energy: &[EnergyTerm], clauses: &mut Clauses) {
        let Some(group) = clauses
            .infer
            .iter_mut()
            .find(|g| matches!(g.method, InferMethod::Sample(Sampler::Gibbs { .. })))
        else {
            return;
        };
        let mut w = Walker::<Degree>::new(self);
        let d = energy
            .iter()
            .fold(Degree::default(), |acc, t| acc.join(w.expr(&t.value, &[])));
        let mut blocks = Vec::new();
        let mut site = Vec::new();
        for &v in &group.vars {
            let affine = v.0 < 128 && d.high & (1u128 << v.0) == 0;
            if affine {
                blocks.push(v);
            } else if self.vars[v.0 as usize]
                .as_ref()
                .is_some_and(|x| x.ty.elements() > 1)
            {
                site.push(v);
            }
        }
        if let InferMethod::Sample(Sampler::Gibbs { blocks: b, .. }) = &mut group.method {
            *b = blocks;
        }
        let span = group.span;
        for v in site {
            let Some(var) = self.vars[v.0 as usize].as_ref() else {
                continue;
            };
            let (name, vspan) = (var.name.clone(), var.span);
            let at = span.unwrap_or(vspan);
            self.error(
                Diagnostic::new(
                    Code::GibbsSiteBySite,
                    at,
                    format!("expected an energy linear in `{name}` to redraw it as a block, found terms that couple its coordinates (or are not linear in it)"),
                )
                .label(format!("`gibbs` redraws `{name}` one coordinate at a time"))
                .secondary(vspan, format!("`{name}` declared here"))
                .help(format!(
                    "this is correct but slower; an energy like `-dot(a, {name}) - dot({name}, W @ h)` (no product of two of its coordinates) is redrawn whole"
                )),
            );
        }
    }
}
