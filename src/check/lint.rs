//! Name references and lints: unused declarations (`W0001`, only in a model without errors),
//! energy without an output (`E0304`), the collapse lint (`W0002`) and, from
//! [`super::positive`], `lvq2` on an energy that may go negative (`W0004`).
//!
//! The collapse lint follows the seed (LeCun et al. 2006, section 2): `loss energy` only
//! pulls the energy of correct answers down, so it is safe only when the architecture
//! cannot make the energy flat in `y`. The test is a small abstract interpretation: set every
//! param to zero (a point training can reach) and see whether the energy still depends on
//! an output. If it does not, training can collapse the energy, and we suggest a contrastive loss.

use super::abstract_eval::{Domain, Walker};
use super::clauses::Clauses;
use super::positive::Sign;
use super::{Builtin, Checker, EnergyTerm, Expr, LossKind, Role, Sym};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::{self, BinOp, DeclKind, IndexArg, TypeKind};
use std::collections::HashSet;

/// Every name an expression refers to (values and called functions), except `bound` ones.
pub(super) fn names_in(e: &ast::Expr, bound: &[&str], out: &mut Vec<(String, Span)>) {
    use ast::ExprKind as A;
    match &e.kind {
        A::Number(..) => {}
        A::Name(n) => {
            if !bound.contains(&n.as_str()) {
                out.push((n.clone(), e.span));
            }
        }
        A::Vector(items) => items.iter().for_each(|i| names_in(i, bound, out)),
        A::Call { func, args } => {
            out.push((func.name.clone(), func.span));
            args.iter().for_each(|a| names_in(a, bound, out));
        }
        A::Index { base, args } => {
            names_in(base, bound, out);
            for a in args {
                match a {
                    IndexArg::At(i) => names_in(i, bound, out),
                    IndexArg::Slice { lo, hi, .. } => lo
                        .iter()
                        .chain(hi.iter())
                        .for_each(|x| names_in(x, bound, out)),
                }
            }
        }
        A::Transpose(x) | A::Neg(x) => names_in(x, bound, out),
        A::Binary { lhs, rhs, .. } => {
            names_in(lhs, bound, out);
            names_in(rhs, bound, out);
        }
    }
}

pub(super) fn names_in_type(t: &ast::Type, out: &mut Vec<(String, Span)>) {
    match &t.kind {
        TypeKind::Real(dims) => dims.iter().for_each(|d| names_in(d, &[], out)),
        TypeKind::Class(k) => names_in(k, &[], out),
        TypeKind::Sign(dims) => dims.iter().for_each(|d| names_in(d, &[], out)),
    }
}

/// What an expression depends on when every param is zero, from most to least known.
///
/// `Uniform` is what lets the lint see through functions: an elementwise function of a
/// tensor whose elements are all equal (`softplus(0)` everywhere) is again such a tensor, and
/// indexing it by the output gives the same value for every answer — as flat as indexing zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Dep {
    /// Identically zero.
    Zero,
    /// Independent of every output, and the same in every element.
    Uniform,
    /// Independent of every output.
    Free,
    /// Depends on an output.
    Output,
}

impl Dep {
    /// Elementwise combinations (`+`, `max2`…): an output anywhere wins; two tensors with
    /// equal elements give one.
    fn join(self, other: Dep) -> Dep {
        match (self, other) {
            (Dep::Output, _) | (_, Dep::Output) => Dep::Output,
            (Dep::Zero, Dep::Zero) => Dep::Zero,
            (Dep::Zero | Dep::Uniform, Dep::Zero | Dep::Uniform) => Dep::Uniform,
            _ => Dep::Free,
        }
    }
    /// Products: zero when either factor is.
    fn times(self, other: Dep) -> Dep {
        if self == Dep::Zero || other == Dep::Zero {
            Dep::Zero
        } else {
            self.join(other)
        }
    }
    /// Elementwise functions and reductions: those with f(0) = 0 keep zero; any function of
    /// equal elements gives equal elements (a constant).
    fn apply(self, keeps_zero: bool) -> Dep {
        match self {
            Dep::Zero if !keeps_zero => Dep::Uniform,
            d => d,
        }
    }
}

impl<'a> Checker<'a> {
    pub(super) fn lint(&mut self, energy: &[EnergyTerm], clauses: Option<&Clauses>) {
        self.unused();
        if self.diags.iter().any(|d| d.is_error()) {
            return;
        }
        let Some(loss) = clauses.and_then(|c| c.loss.as_ref()) else {
            return;
        };
        if matches!(loss.kind, LossKind::Lvq2 { .. }) && self.energy_sign(energy) == Sign::Any {
            self.error(
                Diagnostic::new(Code::LvqSign, loss.span, "expected an energy that cannot go negative for `lvq2`, found one that may")
                    .label("divides by the energy of the wrong answer")
                    .help("lvq2 assumes positive energies: where the energy of ȳ is negative, the loss changes sign and training raises the energy of the correct answer; build the energy from non-negative terms (`sqnorm`, `square`, `softplus`, `relu`, `exp`) or use `hinge`, `log` or `mce`"),
            );
        }
        if loss.kind != LossKind::Energy {
            return;
        }
        let mut z = Walker::<Dep>::new(self);
        let dep = energy
            .iter()
            .fold(Dep::Zero, |acc, t| acc.join(z.expr(&t.value, &[])));
        if dep != Dep::Output {
            self.error(
                Diagnostic::new(Code::Collapse, loss.span, "expected a loss that pushes up wrong answers, found `loss energy` on an energy that can be made flat in the output")
                    .label("only pulls the energy of correct answers down")
                    .help("with every param at zero the energy no longer depends on the output, so training can collapse it; use a contrastive loss such as `hinge(margin = 1)` (with `negatives` for real outputs), `square_square`, or `nll` for class outputs"),
            );
        }
    }

    /// `W0001` for every const, variable, function and let the energy never reaches, and
    /// `E0304` when the energy reaches no output.
    fn unused(&mut self) {
        let mut reached: HashSet<Sym> = HashSet::new();
        let mut work: Vec<(String, Span)> = Vec::new();
        let mut const_refs: Vec<(String, Span)> = Vec::new();
        for d in &self.ast.decls {
            match &d.kind {
                DeclKind::Energy { value, .. } => names_in(value, &[], &mut work),
                DeclKind::Var { ty, init, .. } => {
                    names_in_type(ty, &mut const_refs);
                    if let Some(ast::Init::Value(e) | ast::Init::Dist(e)) = init {
                        names_in(e, &[], &mut const_refs);
                    }
                }
                DeclKind::Const { value, .. } => names_in(value, &[], &mut const_refs),
                DeclKind::Fn { params, .. } => params
                    .iter()
                    .for_each(|p| names_in_type(&p.ty, &mut const_refs)),
                DeclKind::Loss { method, negatives } => {
                    method_refs(method, &mut const_refs);
                    negatives
                        .iter()
                        .for_each(|n| method_refs(n, &mut const_refs));
                }
                DeclKind::Infer { method, .. }
                | DeclKind::Train { method }
                | DeclKind::Partition { method } => method_refs(method, &mut const_refs),
                DeclKind::Data(data) => data
                    .split
                    .iter()
                    .for_each(|e| names_in(e, &[], &mut const_refs)),
                DeclKind::Let { value, .. } => names_in(value, &[], &mut const_refs),
            }
        }
        // Reachability from the energy through lets and functions (iterative).
        while let Some((name, _)) = work.pop() {
            let Some(&(sym, _)) = self.names.get(name.as_str()) else {
                continue;
            };
            if !reached.insert(sym) {
                continue;
            }
            match sym {
                Sym::Let(i) => names_in(self.let_decls[i].1, &[], &mut work),
                Sym::Fn(i) => {
                    let (_, params, body) = self.fn_decls[i];
                    let bound: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
                    names_in(body, &bound, &mut work);
                }
                _ => {}
            }
        }
        for (name, _) in &const_refs {
            if let Some(&(sym @ Sym::Const(_), _)) = self.names.get(name.as_str()) {
                reached.insert(sym);
            }
        }
        let energy_count = self
            .ast
            .decls
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Energy { .. }))
            .count();
        let reaches_output = reached.iter().any(|s| matches!(s, Sym::Var(i) if matches!(&self.var_decls[*i].kind, DeclKind::Var { role: Role::Output, .. })));
        let has_output = self.var_decls.iter().any(|d| {
            matches!(
                &d.kind,
                DeclKind::Var {
                    role: Role::Output,
                    ..
                }
            )
        });
        // With a name declared twice, uses resolve to the first declaration and the second
        // looks unused: the duplicate is the error to fix, not the energy.
        let duplicates = self.diags.iter().any(|d| d.code == Code::Duplicate);
        if energy_count > 0 && has_output && !reaches_output && !duplicates {
            let span = self
                .ast
                .decls
                .iter()
                .find(|d| matches!(d.kind, DeclKind::Energy { .. }))
                .map(|d| d.span)
                .unwrap_or(self.ast.name.span);
            self.error(
                Diagnostic::new(Code::EnergyNoOutput, span, "expected an energy that depends on an output, found none that does")
                    .label("no term of the energy uses an output")
                    .help("inference minimises the energy over the outputs, so at least one term must use them"),
            );
        }
        // In a model with errors, a declaration often looks unused only because the expression
        // that used it failed, or because a misspelling stands in for it: warn once it checks.
        if self.diags.iter().any(|d| d.is_error()) {
            return;
        }
        let mut unused = Vec::new();
        for (name, &(sym, span)) in &self.names {
            if sym == Sym::Energy || reached.contains(&sym) {
                continue;
            }
            let what = match sym {
                Sym::Const(_) => "const".to_string(),
                Sym::Var(i) => match &self.var_decls[i].kind {
                    DeclKind::Var { role, .. } => role.keyword().to_string(),
                    _ => unreachable!(),
                },
                Sym::Fn(_) => "function".into(),
                Sym::Let(_) => "let".into(),
                Sym::Energy => unreachable!(),
            };
            unused.push((span, what, name.to_string()));
        }
        unused.sort();
        for (span, what, name) in unused {
            let help = match what.as_str() {
                "const" => "remove it, or use it".to_string(),
                _ => format!("remove it, or use `{name}` in an energy term"),
            };
            self.error(
                Diagnostic::new(
                    Code::Unused,
                    span,
                    format!("expected {what} `{name}` to be used, found no use"),
                )
                .label(format!("{what} `{name}` is never used by the energy"))
                .help(help),
            );
        }
    }
}

fn method_refs(m: &ast::Method, out: &mut Vec<(String, Span)>) {
    for a in &m.args {
        names_in(&a.value, &[], out);
    }
}

/// The abstract interpretation behind the collapse lint.
impl Domain for Dep {
    fn number(v: f64) -> Dep {
        if v == 0.0 {
            Dep::Zero
        } else {
            Dep::Uniform
        }
    }
    fn var(role: Option<Role>) -> Dep {
        match role {
            Some(Role::Param) => Dep::Zero,
            Some(Role::Output) => Dep::Output,
            _ => Dep::Free,
        }
    }
    fn unknown() -> Dep {
        Dep::Free
    }
    /// Elements that are each constant may still differ from one another: `[1, 2]` is free.
    fn vector(items: impl Iterator<Item = Dep>) -> Dep {
        match items.fold(Dep::Zero, Dep::join) {
            Dep::Uniform => Dep::Free,
            d => d,
        }
    }
    fn builtin(b: Builtin, ds: &[Dep], _: &[Expr]) -> Dep {
        use Builtin::*;
        match b {
            Tanh | Relu | Abs | Sqrt | Square | Sin | Sum | Mean | Max | Min | SqNorm | Norm
            | L1 => ds[0].apply(true),
            Exp | Log | Sigmoid | Softplus | Cos | LogSumExp | Softmax => ds[0].apply(false),
            Dot => ds[0].times(ds[1]),
            Cosine => ds[0].join(ds[1]).apply(false),
            Max2 | Min2 => ds[0].join(ds[1]),
            Pow => ds[0].join(ds[1]).apply(ds[1] != Dep::Zero),
        }
    }
    /// Indexing zero gives zero, and a tensor of equal elements that one value, whatever
    /// the index.
    fn index(base: Dep, dynamic: &[Dep]) -> Dep {
        match base {
            Dep::Zero | Dep::Uniform => base,
            _ => dynamic.iter().fold(base, |d, x| d.join(*x)),
        }
    }
    fn transpose(x: Dep) -> Dep {
        x
    }
    fn neg(x: Dep) -> Dep {
        x
    }
    fn binary(op: BinOp, a: Dep, b: Dep, _: &Expr) -> Dep {
        match op {
            BinOp::Add | BinOp::Sub => a.join(b),
            BinOp::Mul => a.times(b),
            // A product of matrices mixes elements: equal elements in, unequal ones out
            // (`A @ U` varies with the rows of `A`).
            BinOp::MatMul => match a.times(b) {
                Dep::Uniform => Dep::Free,
                d => d,
            },
            BinOp::Div if a == Dep::Zero => Dep::Zero,
            BinOp::Div => a.join(b),
            BinOp::Pow => a.join(b).apply(b != Dep::Zero),
        }
    }
}
