//! Abstract evaluation of checked expressions, for the lints that reason about what an energy
//! *can* be: the collapse lint (does the energy still depend on an output with every param at
//! zero?) and the `lvq2` lint (can the energy go negative?).
//!
//! A lint supplies a [`Domain`] — what one abstract value is and how each operation acts on
//! it — and [`Walker`] does the rest: it walks the expression, evaluates each `let` once and
//! each function once per tuple of abstract arguments.

use super::{Builtin, Checker, Expr, ExprKind, FnId, Index, Role, VarId};
use crate::syntax::ast::BinOp;
use std::collections::HashMap;
use std::hash::Hash;

/// Abstract values and the abstract meaning of each operation on them.
pub(super) trait Domain: Copy + Eq + Hash {
    fn number(v: f64) -> Self;
    /// A variable of the model (`None` for a name that did not check).
    fn var(role: Option<Role>) -> Self;
    /// Variable `id` of the model: [`Domain::var`] unless the domain tells variables apart.
    fn var_at(id: VarId, role: Option<Role>) -> Self {
        let _ = id;
        Self::var(role)
    }
    /// A function parameter the call did not supply (never, in a checked call).
    fn unknown() -> Self;
    /// What holds of every element of a vector literal.
    fn vector(items: impl Iterator<Item = Self>) -> Self;
    /// A builtin of the given abstract arguments (`exprs` are the arguments themselves).
    fn builtin(b: Builtin, args: &[Self], exprs: &[Expr]) -> Self;
    /// Indexing `base` with these abstract dynamic indices (static ones carry nothing).
    fn index(base: Self, dynamic: &[Self]) -> Self;
    fn transpose(x: Self) -> Self;
    fn neg(x: Self) -> Self;
    /// `a op b`; `rhs` is `b`'s expression (a literal exponent can matter).
    fn binary(op: BinOp, a: Self, b: Self, rhs: &Expr) -> Self;
}

/// Walks checked expressions of one model in a [`Domain`].
pub(super) struct Walker<'c, 'a, D> {
    c: &'c Checker<'a>,
    /// The values of lets `0..lets.len()` (always a prefix, see `ExprKind::Let`).
    lets: Vec<D>,
    calls: HashMap<(FnId, Vec<D>), D>,
}

impl<'c, 'a, D: Domain> Walker<'c, 'a, D> {
    pub(super) fn new(c: &'c Checker<'a>) -> Self {
        Walker {
            c,
            lets: Vec::new(),
            calls: HashMap::new(),
        }
    }

    /// The abstract value of `e`, inside a function whose parameters are `params`.
    pub(super) fn expr(&mut self, e: &Expr, params: &[D]) -> D {
        match &e.kind {
            ExprKind::Number(v) => D::number(*v),
            ExprKind::Var(VarId(i)) => {
                D::var_at(VarId(*i), self.c.vars[*i as usize].as_ref().map(|v| v.role))
            }
            ExprKind::Let(id) => {
                // Lets are numbered in dependency order: evaluating every let up to this one,
                // in order, finds each one's own lets done, so a chain of 100,000 lets
                // recurses one level rather than 100,000.
                while self.lets.len() <= id.0 as usize {
                    let next = &self.c.lets[self.lets.len()].value;
                    let d = self.expr(next, &[]);
                    self.lets.push(d);
                }
                self.lets[id.0 as usize]
            }
            ExprKind::Param(i) => params.get(*i).copied().unwrap_or_else(D::unknown),
            ExprKind::Vector(items) => {
                let values: Vec<D> = items.iter().map(|x| self.expr(x, params)).collect();
                D::vector(values.into_iter())
            }
            ExprKind::Call(id, args) => {
                let values: Vec<D> = args.iter().map(|a| self.expr(a, params)).collect();
                if let Some(d) = self.calls.get(&(*id, values.clone())) {
                    return *d;
                }
                // A chain of calls is as deep here as in the source (only its size bounds
                // it): the body is walked on a stack that grows on the heap when it runs low.
                let body = &self.c.checked_fns[id.0 as usize].body;
                let d = stacker::maybe_grow(64 << 10, 1 << 20, || self.expr(body, &values));
                self.calls.insert((*id, values), d);
                d
            }
            ExprKind::Builtin(b, args) => {
                let values: Vec<D> = args.iter().map(|a| self.expr(a, params)).collect();
                D::builtin(*b, &values, args)
            }
            ExprKind::Index(base, ix) => {
                let base = self.expr(base, params);
                let dynamic: Vec<D> = ix
                    .iter()
                    .filter_map(|i| match i {
                        Index::Dynamic(x) => Some(self.expr(x, params)),
                        _ => None,
                    })
                    .collect();
                D::index(base, &dynamic)
            }
            ExprKind::Transpose(x) => D::transpose(self.expr(x, params)),
            ExprKind::Neg(x) => D::neg(self.expr(x, params)),
            ExprKind::Binary(op, l, r) => {
                let (a, b) = (self.expr(l, params), self.expr(r, params));
                D::binary(*op, a, b, r)
            }
        }
    }
}
