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
//!
//! The same analysis decides which `sign` latents `marginal(beta)` sums out in closed form
//! ([`Checker::closed_marginals`]): an affine latent whose coordinates no term couples with
//! each other or with another closed latent. There indexing by the latent counts as not
//! linear, since lowering takes the coefficients from the IR's linear ops
//! ([`crate::ir::coefficients`]) and an index is not one.

use super::abstract_eval::{Domain, Walker};
use super::clauses::Clauses;
use super::{
    Builtin, Checker, Elim, EnergyTerm, Expr, ExprKind, Index, InferMethod, Role, Sampler, VarId,
    MAX_ANSWERS,
};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::BinOp;
use crate::types::Ty;

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
        let mut w = Walker::<Degree>::new(self);
        let d = energy
            .iter()
            .fold(Degree::default(), |acc, t| acc.join(w.expr(&t.value, &[])));
        let affine = |v: VarId| v.0 < 128 && d.high & (1u128 << v.0) == 0;
        // `cd`'s negatives draw the outputs with the same blocks (no warning: the `infer`
        // line, or its absence, is where one is given).
        let outputs: Vec<VarId> = self
            .vars
            .iter()
            .enumerate()
            .filter(|(_, v)| v.as_ref().is_some_and(|v| v.role == Role::Output))
            .map(|(i, _)| VarId(i as u32))
            .collect();
        if let Some(crate::check::Negatives::Sample {
            sampler: Sampler::Gibbs { blocks, .. },
            ..
        }) = clauses.loss.as_mut().and_then(|l| l.negatives.as_mut())
        {
            *blocks = outputs.iter().copied().filter(|&v| affine(v)).collect();
        }
        let Some(group) = clauses
            .infer
            .iter_mut()
            .find(|g| matches!(g.method, InferMethod::Sample(Sampler::Gibbs { .. })))
        else {
            return;
        };
        let mut blocks = Vec::new();
        let mut site = Vec::new();
        for &v in &group.vars {
            if affine(v) {
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

/// [`Degree`] where indexing by a variable is not linear in it: what lowering can take the
/// coefficients of (`w[z]` of a sign `z` is affine in `z`, but as an IR `take` at a moving
/// index it is not a linear op).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
struct Strict(Degree);

impl Domain for Strict {
    fn number(v: f64) -> Strict {
        Strict(Degree::number(v))
    }
    fn var(role: Option<Role>) -> Strict {
        Strict(Degree::var(role))
    }
    fn var_at(id: VarId, role: Option<Role>) -> Strict {
        Strict(Degree::var_at(id, role))
    }
    fn unknown() -> Strict {
        Strict(Degree::unknown())
    }
    fn vector(items: impl Iterator<Item = Strict>) -> Strict {
        Strict(Degree::vector(items.map(|s| s.0)))
    }
    fn builtin(b: Builtin, ds: &[Strict], exprs: &[Expr]) -> Strict {
        let ds: Vec<Degree> = ds.iter().map(|s| s.0).collect();
        Strict(Degree::builtin(b, &ds, exprs))
    }
    fn index(base: Strict, dynamic: &[Strict]) -> Strict {
        Strict(dynamic.iter().fold(base.0, |a, d| a.join(d.0.curved())))
    }
    fn transpose(x: Strict) -> Strict {
        x
    }
    fn neg(x: Strict) -> Strict {
        x
    }
    fn binary(op: BinOp, a: Strict, b: Strict, rhs: &Expr) -> Strict {
        Strict(Degree::binary(op, a.0, b.0, rhs))
    }
}

/// Why a `sign` latent's marginal is not taken in closed form, and where.
struct NotClosed {
    latent: VarId,
    at: Span,
    why: String,
}

impl<'a> Checker<'a> {
    /// Marks each `sign` latent `marginal(beta)` can sum out in closed form
    /// ([`Elim::MarginalClosed`]) and, for one it cannot whose values are too many to
    /// enumerate, says why (`E0445`) at the term that stands in the way.
    ///
    /// A latent `z` is closed when the energy is affine in it ([`Strict`]), when no summand
    /// of a term (splitting at `+`, `-`) is linear in `z` and in another closed latent at once
    /// (their product would couple them), and when no discrete latent declared after it is
    /// eliminated by `min` (lowering sums the closed latents out innermost, which changes
    /// nothing among sums but would swap a `min` and a sum).
    pub(super) fn closed_marginals(&mut self, energy: &[EnergyTerm]) {
        let candidates: Vec<(VarId, f64)> = self
            .vars
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = v.as_ref()?;
                match (&v.ty, &v.elim, v.role) {
                    (Ty::Sign(_), Some(Elim::Marginal { beta }), Role::Latent) => {
                        Some((VarId(i as u32), *beta))
                    }
                    // `min by enumerate` (or `marginal(beta = inf)`): `E₀ − Σ_j |a_j|`.
                    (Ty::Sign(_), Some(Elim::MinEnumerate), Role::Latent) => {
                        Some((VarId(i as u32), f64::INFINITY))
                    }
                    _ => None,
                }
            })
            .collect();
        if candidates.is_empty() || self.diags.iter().any(|d| d.is_error()) {
            return;
        }
        let mut refused: Vec<NotClosed> = Vec::new();
        let mut closed: Vec<(VarId, f64)> = Vec::new();
        {
            let mut w = Walker::<Strict>::new(self);
            for &(z, beta) in &candidates {
                let bit = if z.0 < 128 { 1u128 << z.0 } else { 0 };
                if bit == 0 {
                    refused.push(NotClosed {
                        latent: z,
                        at: self.var_span(z),
                        why:
                            "declared after the first 128 variables, which the analysis tells apart"
                                .into(),
                    });
                    continue;
                }
                if let Some(t) = energy
                    .iter()
                    .find(|t| w.expr(&t.value, &[]).0.high & bit != 0)
                {
                    let (at, what) = culprit(&mut w, &t.value, bit);
                    refused.push(NotClosed {
                        latent: z,
                        at,
                        why: what,
                    });
                    continue;
                }
                // Closed latents go innermost: a later latent eliminated the other way (a
                // `min` after a sum, or a sum after a `min`) would trade places with it.
                let minimised = |e: &Option<Elim>| matches!(e, Some(Elim::MinEnumerate));
                let z_min = beta.is_infinite();
                let later = self
                    .vars
                    .iter()
                    .enumerate()
                    .skip(z.0 as usize + 1)
                    .find_map(|(i, v)| {
                        let v = v.as_ref()?;
                        (v.role == Role::Latent
                            && v.ty.is_discrete()
                            && minimised(&v.elim) != z_min)
                            .then_some((i, v.span))
                    });
                if let Some((_, span)) = later {
                    let why = if z_min {
                        "a latent declared after it is summed out, and the closed form minimises this one first"
                    } else {
                        "a latent declared after it is minimised, and the closed form sums this one out first"
                    };
                    refused.push(NotClosed {
                        latent: z,
                        at: span,
                        why: why.into(),
                    });
                    continue;
                }
                // A summand linear in `z` and in a latent already closed couples the two.
                let coupled = closed.iter().find_map(|&(o, _)| {
                    let both = bit | (1u128 << o.0);
                    energy.iter().find_map(|t| {
                        summands(&t.value)
                            .into_iter()
                            .find(|s| w.expr(s, &[]).0.lin & both == both)
                            .map(|s| (o, s.span))
                    })
                });
                if let Some((o, at)) = coupled {
                    let other = self.var_name(o);
                    refused.push(NotClosed {
                        latent: z,
                        at,
                        why: format!("this term multiplies it with `{other}`, also summed out in closed form"),
                    });
                    continue;
                }
                closed.push((z, beta));
            }
        }
        for &(z, beta) in &closed {
            if let Some(v) = self.vars[z.0 as usize].as_mut() {
                v.elim = Some(Elim::MarginalClosed { beta });
            }
        }
        // What is left is enumerated; refuse only what enumeration cannot take.
        let enumerated = self
            .vars
            .iter()
            .flatten()
            .filter(|v| {
                v.role == Role::Latent
                    && v.ty.is_discrete()
                    && !matches!(v.elim, Some(Elim::MarginalClosed { .. }))
            })
            .try_fold(1usize, |acc, v| acc.checked_mul(v.ty.states()?));
        if enumerated.is_some_and(|c| c <= MAX_ANSWERS) {
            return;
        }
        for r in refused {
            let name = self.var_name(r.latent);
            let (ty, decl) = match self.vars[r.latent.0 as usize].as_ref() {
                Some(v) => (v.ty.clone(), v.span),
                None => continue,
            };
            self.error(
                Diagnostic::new(
                    Code::LatentNotFactorised,
                    r.at,
                    format!("expected an energy linear in the sign latent `{name}` to sum it out in closed form, found one that is not"),
                )
                .label(r.why)
                .secondary(decl, format!("`{name}` : {ty} has too many values to enumerate"))
                .help(format!(
                    "`marginal` of a `sign[n]` latent is exact in closed form when every term is linear in it with no product of two of its coordinates (an RBM's `-dot(c, {name}) - dot(v, W @ {name})`); otherwise its 2^n values are enumerated, so n is at most 16"
                )),
            );
        }
    }

    fn var_span(&self, v: VarId) -> Span {
        self.vars[v.0 as usize]
            .as_ref()
            .map_or(Span::new(0, 0), |x| x.span)
    }

    fn var_name(&self, v: VarId) -> String {
        self.vars[v.0 as usize]
            .as_ref()
            .map_or_else(String::new, |x| x.name.clone())
    }
}

/// The summands of `e`: its operands at `+`, `-` and negation, recursively.
fn summands(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Binary(BinOp::Add | BinOp::Sub, l, r) => {
            let mut v = summands(l);
            v.extend(summands(r));
            v
        }
        ExprKind::Neg(x) => summands(x),
        _ => vec![e],
    }
}

/// The smallest part of `e` (high in `bit`) whose operands are not: where the energy stops
/// being linear in the latent, with what it does there.
fn culprit(w: &mut Walker<Strict>, e: &Expr, bit: u128) -> (Span, String) {
    let high = |w: &mut Walker<Strict>, x: &Expr| w.expr(x, &[]).0.high & bit != 0;
    let children: Vec<&Expr> = match &e.kind {
        ExprKind::Vector(xs) | ExprKind::Builtin(_, xs) => xs.iter().collect(),
        ExprKind::Index(b, ix) => {
            let mut v = vec![&**b];
            v.extend(ix.iter().filter_map(|i| match i {
                Index::Dynamic(x) => Some(&**x),
                _ => None,
            }));
            v
        }
        ExprKind::Transpose(x) | ExprKind::Neg(x) => vec![&**x],
        ExprKind::Binary(_, l, r) => vec![&**l, &**r],
        _ => Vec::new(),
    };
    for c in children {
        if high(w, c) {
            return culprit(w, c, bit);
        }
    }
    let what = match &e.kind {
        ExprKind::Binary(BinOp::Mul | BinOp::MatMul, ..)
        | ExprKind::Builtin(Builtin::Dot | Builtin::SqNorm | Builtin::Square, _) => {
            "a product of two of its coordinates"
        }
        ExprKind::Index(..) => "an index that moves with it (not a linear operation)",
        ExprKind::Binary(BinOp::Div, ..) => "a division by it",
        ExprKind::Binary(BinOp::Pow, ..) => "a power of it",
        ExprKind::Builtin(..) => "a function of it that is not linear",
        ExprKind::Call(..) => "a call whose result is not linear in it",
        _ => "not linear in it",
    };
    (e.span, what.to_string())
}
