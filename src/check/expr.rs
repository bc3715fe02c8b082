//! Typing and shaping of expressions: AST expressions → typed [`Expr`]s.
//!
//! Rules (spec section 4): `+ - * / ^` are elementwise with scalar broadcasting, shapes
//! otherwise equal; `@` is matrix × vector, vector × matrix or matrix × matrix; a `sign` is a
//! real scalar in arithmetic; a `class` value may only index (or appear in `delta(y - k)`,
//! sugar for indexing a one-hot constant). Every result stays under the element limit.

use super::decls::{fmt_num, too_many};
use super::{BinOp, Builtin, Checker, Expr, ExprKind, Index, LetId, Sym, VarId, MAX_ELEMENTS};
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast;
use crate::types::{Shape, Ty};

/// Names in scope besides the model's: the parameters of the function being checked.
#[derive(Default)]
pub(super) struct Env<'e> {
    pub params: Option<&'e [(String, Ty)]>,
}

/// Built-in function names, for "did you mean" and for editors' completion.
pub const BUILTINS: &[&str] = &[
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "softplus",
    "relu",
    "abs",
    "sqrt",
    "square",
    "sin",
    "cos",
    "sum",
    "mean",
    "max",
    "min",
    "logsumexp",
    "dot",
    "sqnorm",
    "norm",
    "cosine",
    "softmax",
    "l1",
    "pow",
    "transpose",
    "delta",
];

impl<'a> Checker<'a> {
    pub(super) fn expr(&mut self, e: &ast::Expr, env: &Env) -> Option<Expr> {
        let x = self.expr_untracked(e, env)?;
        self.record(x.span, &x.ty, true);
        Some(x)
    }

    fn expr_untracked(&mut self, e: &ast::Expr, env: &Env) -> Option<Expr> {
        use ast::ExprKind as A;
        let span = e.span;
        let typed = |kind, ty| Some(Expr { kind, ty, span });
        match &e.kind {
            A::Number(v, _) => typed(ExprKind::Number(*v), Ty::scalar()),
            A::Name(n) => self.name(n, span, env),
            A::Vector(items) => self.vector(items, span, env),
            A::Call { func, args } => self.call(func, args, span, env),
            A::Index { base, args } => self.index(base, args, span, env),
            A::Transpose(x) => self.transpose(x, span, env),
            A::Neg(x) => {
                let x = self.real(x, env)?;
                let ty = Ty::Real(real_shape(&x));
                typed(ExprKind::Neg(Box::new(x)), ty)
            }
            A::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                let (l, r) = (self.real(lhs, env), self.real(rhs, env));
                let (l, r) = (l?, r?);
                let shape = if *op == BinOp::MatMul {
                    self.matmul_shape(&l, &r, *op_span, span)?
                } else {
                    self.broadcast(&l, &r, op.symbol(), *op_span)?
                };
                typed(
                    ExprKind::Binary(*op, Box::new(l), Box::new(r)),
                    Ty::Real(shape),
                )
            }
        }
    }

    /// `A'` or `transpose(A)`.
    fn transpose(&mut self, x: &ast::Expr, span: Span, env: &Env) -> Option<Expr> {
        let x = self.real(x, env)?;
        let s = real_shape(&x);
        if s.rank() != 2 {
            self.error(
                Diagnostic::new(
                    Code::ArgShape,
                    x.span,
                    format!("expected a matrix to transpose, found `{}`", x.ty),
                )
                .label(format!("this is `{}`", x.ty))
                .help("only matrices have a transpose; use `dot(a, b)` for two vectors"),
            );
            return None;
        }
        let t = Shape(vec![s.0[1], s.0[0]]);
        Some(Expr {
            kind: ExprKind::Transpose(Box::new(x)),
            ty: Ty::Real(t),
            span,
        })
    }

    /// Every expression used in arithmetic, each checked (so all their errors are reported);
    /// `None` when any failed.
    fn reals(&mut self, items: &[ast::Expr], env: &Env) -> Option<Vec<Expr>> {
        let typed: Vec<Option<Expr>> = items.iter().map(|e| self.real(e, env)).collect();
        typed.into_iter().collect()
    }

    /// An expression used in arithmetic: real or sign, never class.
    fn real(&mut self, e: &ast::Expr, env: &Env) -> Option<Expr> {
        let x = self.expr(e, env)?;
        if let Ty::Class(k) = x.ty {
            self.error(
                Diagnostic::new(Code::ClassArithmetic, x.span, format!("expected a real value, found `class[{k}]`"))
                    .label("a class value used in arithmetic")
                    .help("a class value can only index a tensor, e.g. `scores[y]`, or be compared with `delta(y - k)`"),
            );
            return None;
        }
        Some(x)
    }

    fn name(&mut self, n: &str, span: Span, env: &Env) -> Option<Expr> {
        if let Some(params) = env.params {
            if let Some(i) = params.iter().position(|(p, _)| p == n) {
                return Some(Expr {
                    kind: ExprKind::Param(i),
                    ty: params[i].1.clone(),
                    span,
                });
            }
        }
        let Some(&(sym, decl)) = self.names.get(n) else {
            let mut extra: Vec<&str> = Vec::new();
            if let Some(params) = env.params {
                extra.extend(params.iter().map(|(p, _)| p.as_str()));
            }
            let help = self
                .suggest(n, &extra)
                .unwrap_or_else(|| "declare it, e.g. `input x : real[4]` or `let h = …`".into());
            self.error(
                Diagnostic::new(
                    Code::UnknownName,
                    span,
                    format!("expected a known name, found `{n}`"),
                )
                .label("not declared in this model")
                .help(help),
            );
            return None;
        };
        match sym {
            Sym::Const(i) => Some(Expr {
                kind: ExprKind::Number(self.const_vals[i]?),
                ty: Ty::scalar(),
                span,
            }),
            Sym::Var(i) => {
                let v = self.vars.get(i)?.as_ref()?;
                Some(Expr {
                    kind: ExprKind::Var(VarId(i as u32)),
                    ty: v.ty.clone(),
                    span,
                })
            }
            Sym::Let(i) => {
                let id: LetId = self.let_ids[i]?;
                Some(Expr {
                    kind: ExprKind::Let(id),
                    ty: self.lets[id.0 as usize].value.ty.clone(),
                    span,
                })
            }
            Sym::Fn(_) => {
                self.error(
                    Diagnostic::new(
                        Code::ConstValue,
                        span,
                        format!("expected a value, found the function `{n}`"),
                    )
                    .secondary(decl, "declared here")
                    .help(format!("call it: `{n}(…)`")),
                );
                None
            }
            Sym::Energy => {
                self.error(
                    Diagnostic::new(Code::ConstValue, span, format!("expected a value, found the energy term `{n}`"))
                        .secondary(decl, "energy term declared here")
                        .help("energy terms cannot be referred to; compute the value with `let` and use it in both places"),
                );
                None
            }
        }
    }

    fn vector(&mut self, items: &[ast::Expr], span: Span, env: &Env) -> Option<Expr> {
        if items.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::VectorLiteral,
                    span,
                    "expected at least one element, found an empty vector literal",
                )
                .help("write `[a, b, …]` with one or more elements"),
            );
            return None;
        }
        let typed = self.reals(items, env)?;
        let first = real_shape(&typed[0]);
        for x in &typed[1..] {
            let s = real_shape(x);
            if s != first {
                self.error(
                    Diagnostic::new(
                        Code::VectorLiteral,
                        x.span,
                        format!("expected an element of shape `{first}`, found `{s}`"),
                    )
                    .label(format!("this is `{s}`"))
                    .secondary(typed[0].span, format!("the first element is `{first}`"))
                    .help("every element of a vector literal has the same shape"),
                );
                return None;
            }
        }
        let mut shape = first.0;
        shape.insert(0, typed.len());
        let shape = self.limit(shape, span)?;
        Some(Expr {
            kind: ExprKind::Vector(typed),
            ty: Ty::Real(shape),
            span,
        })
    }

    /// Checks a result shape against the element limit.
    fn limit(&mut self, shape: Vec<usize>, span: Span) -> Option<Shape> {
        match shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
            Some(n) if n <= MAX_ELEMENTS => Some(Shape(shape)),
            _ => {
                self.error(too_many(span, &shape));
                None
            }
        }
    }

    /// Shape of an elementwise operation: equal shapes, or one side a scalar. A mismatch is
    /// reported at `span`, the operator or the function name.
    fn broadcast(&mut self, l: &Expr, r: &Expr, op: &str, span: Span) -> Option<Shape> {
        let (ls, rs) = (real_shape(l), real_shape(r));
        if ls == rs || rs.is_scalar() {
            return Some(ls);
        }
        if ls.is_scalar() {
            return Some(rs);
        }
        let help = if ls.rank() == 2 && rs.rank() == 1 && op == "*" {
            "`*` is elementwise; for a matrix-vector product write `A @ v`".to_string()
        } else {
            "elementwise operations need equal shapes, or a scalar on one side".to_string()
        };
        self.error(
            Diagnostic::new(
                Code::ShapeMismatch,
                span,
                format!("expected operands of the same shape for `{op}`, found `{ls}` and `{rs}`"),
            )
            .label(format!("`{op}` of mismatched shapes"))
            .secondary(l.span, format!("this is `{ls}`"))
            .secondary(r.span, format!("this is `{rs}`"))
            .help(help),
        );
        None
    }

    /// Shape of `l @ r`; a mismatch is reported at the operator `at`, the element limit over
    /// the whole product `span`.
    fn matmul_shape(&mut self, l: &Expr, r: &Expr, at: Span, span: Span) -> Option<Shape> {
        let (ls, rs) = (real_shape(l), real_shape(r));
        let shape = match (ls.0.as_slice(), rs.0.as_slice()) {
            ([m, n], [k]) if n == k => vec![*m],
            ([k], [n, p]) if n == k => vec![*p],
            ([m, n], [k, p]) if n == k => vec![*m, *p],
            _ => {
                let help = match (ls.rank(), rs.rank()) {
                    (1, 1) => "for two vectors use `dot(a, b)`".to_string(),
                    (0, _) | (_, 0) => "to scale by a scalar use `*`".to_string(),
                    (2, 1) => format!(
                        "the matrix has {} columns but the vector has {} elements",
                        ls.0[1], rs.0[0]
                    ),
                    (2, 2) => format!(
                        "the left matrix has {} columns but the right one has {} rows",
                        ls.0[1], rs.0[0]
                    ),
                    _ => "`@` multiplies a matrix by a vector or a matrix".to_string(),
                };
                self.error(
                    Diagnostic::new(
                        Code::MatmulShape,
                        at,
                        format!("expected shapes that `@` can multiply, found `{ls}` @ `{rs}`"),
                    )
                    .label("incompatible matrix product")
                    .secondary(l.span, format!("this is `{ls}`"))
                    .secondary(r.span, format!("this is `{rs}`"))
                    .help(help),
                );
                return None;
            }
        };
        self.limit(shape, span)
    }

    fn call(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
        env: &Env,
    ) -> Option<Expr> {
        if let Some(&(Sym::Fn(i), decl)) = self.names.get(func.name.as_str()) {
            return self.user_call(i, decl, func, args, span, env);
        }
        if func.name == "delta" {
            return self.delta(args, span, env);
        }
        if func.name == "transpose" && args.len() == 1 {
            return self.transpose(&args[0], span, env);
        }
        let Some(b) = builtin(&func.name, args.len()) else {
            if BUILTINS.contains(&func.name.as_str()) {
                let name = func.name.as_str();
                let (expected, usage) = match name {
                    "max" | "min" => (
                        "1 or 2 arguments",
                        format!("`{name}(v)` reduces a tensor; `{name}(a, b)` is elementwise"),
                    ),
                    "dot" | "cosine" => (
                        "2 arguments",
                        format!("`{name}(a, b)` takes two tensors of one shape"),
                    ),
                    "pow" => (
                        "2 arguments",
                        "`pow(a, p)` raises `a` to the power `p`".into(),
                    ),
                    "transpose" => (
                        "1 argument",
                        "`transpose(A)` or `A'` transposes a matrix".into(),
                    ),
                    "delta" => (
                        "1 argument",
                        "write `delta(y - k)` with `y` a class or sign value".into(),
                    ),
                    _ => ("1 argument", format!("`{name}(v)` takes one tensor")),
                };
                self.error(
                    Diagnostic::new(
                        Code::Arity,
                        span,
                        format!("expected {expected} to `{name}`, found {}", args.len()),
                    )
                    .label(format!(
                        "`{name}` called with {}",
                        plural(args.len(), "argument")
                    ))
                    .help(usage),
                );
                return None;
            }
            let fns: Vec<&str> = self.fn_decls.iter().map(|f| f.0.name.as_str()).collect();
            let help = did_you_mean(&func.name, BUILTINS.iter().copied().chain(fns))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "declare it with `fn NAME(arg : real[n]) = …`".into());
            self.error(
                Diagnostic::new(
                    Code::UnknownFunction,
                    func.span,
                    format!("expected a known function, found `{}`", func.name),
                )
                .label("unknown function")
                .help(help),
            );
            return None;
        };
        let typed = self.reals(args, env)?;
        let shapes: Vec<Shape> = typed.iter().map(real_shape).collect();
        use Builtin::*;
        let shape = match b {
            Exp | Log | Tanh | Sigmoid | Softplus | Relu | Abs | Sqrt | Square | Sin | Cos => {
                shapes[0].clone()
            }
            Sum | Mean | Max | Min | LogSumExp | SqNorm | Norm | L1 => Shape::scalar(),
            Softmax => {
                if shapes[0].is_scalar() {
                    self.error(
                        Diagnostic::new(
                            Code::ArgShape,
                            typed[0].span,
                            "expected a tensor for `softmax`, found `real`",
                        )
                        .help("softmax normalises over the elements of a tensor"),
                    );
                    return None;
                }
                shapes[0].clone()
            }
            Dot | Cosine => {
                if shapes[0] != shapes[1] {
                    self.error(
                        Diagnostic::new(Code::ShapeMismatch, func.span, format!("expected arguments of the same shape for `{}`, found `{}` and `{}`", b.name(), shapes[0], shapes[1]))
                            .label(format!("`{}` of mismatched shapes", b.name()))
                            .secondary(typed[0].span, format!("this is `{}`", shapes[0]))
                            .secondary(typed[1].span, format!("this is `{}`", shapes[1]))
                            .help(format!("`{}(a, b)` takes two tensors of one shape", b.name())),
                    );
                    return None;
                }
                Shape::scalar()
            }
            Max2 | Min2 | Pow => self.broadcast(&typed[0], &typed[1], b.name(), func.span)?,
        };
        Some(Expr {
            kind: ExprKind::Builtin(b, typed),
            ty: Ty::Real(shape),
            span,
        })
    }

    fn user_call(
        &mut self,
        i: usize,
        decl: Span,
        func: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
        env: &Env,
    ) -> Option<Expr> {
        let (_, params, _) = self.fn_decls[i];
        if args.len() != params.len() {
            let signature: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
            self.error(
                Diagnostic::new(
                    Code::Arity,
                    span,
                    format!(
                        "expected {} to `{}`, found {}",
                        plural(params.len(), "argument"),
                        func.name,
                        args.len()
                    ),
                )
                .label(format!("called with {}", plural(args.len(), "argument")))
                .secondary(
                    decl,
                    format!(
                        "`{}` declared here with {}",
                        func.name,
                        plural(params.len(), "parameter")
                    ),
                )
                .help(format!(
                    "call it as `{}({})`",
                    func.name,
                    signature.join(", ")
                )),
            );
            return None;
        }
        // The function failed to check (already reported), or lies on a cycle: check the
        // arguments for their own errors only, since the parameter types are unknown.
        let Some((id, ret)) = self.fn_ids[i].zip(self.fn_tys[i].clone()) else {
            for a in args {
                self.expr(a, env);
            }
            return None;
        };
        let typed = self.reals(args, env)?;
        let mut ok = true;
        let param_tys: Vec<Ty> = self.checked_fns[id.0 as usize]
            .params
            .iter()
            .map(|p| p.1.clone())
            .collect();
        for ((x, want), p) in typed.iter().zip(&param_tys).zip(params) {
            let got = Ty::Real(real_shape(x));
            if &got != want {
                self.error(
                    Diagnostic::new(
                        Code::ArgShape,
                        x.span,
                        format!(
                            "expected an argument of type `{want}` for `{}`, found `{got}`",
                            p.name.name
                        ),
                    )
                    .label(format!("this is `{got}`"))
                    .secondary(
                        p.ty.span,
                        format!("parameter `{}` of `{}` is `{want}`", p.name.name, func.name),
                    )
                    .help("arguments must have exactly the declared shape"),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Some(Expr {
            kind: ExprKind::Call(id, typed),
            ty: ret,
            span,
        })
    }

    /// `delta(y - k)`: 1 where the class value `y` equals the constant `k`, else 0 — indexing
    /// a one-hot constant vector with `y`.
    fn delta(&mut self, args: &[ast::Expr], span: Span, env: &Env) -> Option<Expr> {
        let usage = "write `delta(y - k)` with `y` a class or sign value and `k` a constant";
        if args.len() != 1 {
            self.error(
                Diagnostic::new(
                    Code::Arity,
                    span,
                    format!("expected 1 argument to `delta`, found {}", args.len()),
                )
                .help(usage),
            );
            return None;
        }
        let (y, k) = match &args[0].kind {
            ast::ExprKind::Binary {
                op: BinOp::Sub,
                lhs,
                rhs,
                ..
            } => (lhs.as_ref(), Some(rhs.as_ref())),
            _ => (&args[0], None),
        };
        let yv = self.expr(y, env)?;
        let (n, label_of): (usize, Box<dyn Fn(i64) -> Option<usize>>) = match yv.ty {
            Ty::Class(n) => (
                n,
                Box::new(move |k: i64| (0..n as i64).contains(&k).then_some(k as usize)),
            ),
            Ty::Sign(ref s) if s.is_scalar() => (
                2,
                Box::new(|k: i64| match k {
                    -1 => Some(0),
                    1 => Some(1),
                    _ => None,
                }),
            ),
            Ty::Real(_) | Ty::Sign(_) => {
                self.error(
                    Diagnostic::new(
                        Code::ArgShape,
                        yv.span,
                        format!(
                            "expected a class or scalar sign value in `delta`, found `{}`",
                            yv.ty
                        ),
                    )
                    .label(format!("this is `{}`", yv.ty))
                    .help(usage),
                );
                return None;
            }
        };
        let k = match k {
            Some(k) => {
                let v = self.const_eval(k)?;
                if v.fract() != 0.0 || !v.is_finite() {
                    self.error(
                        Diagnostic::new(
                            Code::RealIndex,
                            k.span,
                            format!("expected an integer class, found {}", fmt_num(v)),
                        )
                        .help(usage),
                    );
                    return None;
                }
                v as i64
            }
            None => 0,
        };
        let Some(hot) = label_of(k) else {
            self.error(
                Diagnostic::new(
                    Code::IndexRange,
                    args[0].span,
                    format!("expected a value `{}` can take, found {k}", yv.ty),
                )
                .label(format!("`{}` never equals {k}", yv.ty))
                .help(match yv.ty {
                    Ty::Sign(_) => "a `sign` is -1 or 1".to_string(),
                    _ => format!("a `{}` takes 0 to {}", yv.ty, n.saturating_sub(1)),
                }),
            );
            return None;
        };
        let items = (0..n)
            .map(|i| Expr {
                kind: ExprKind::Number(if i == hot { 1.0 } else { 0.0 }),
                ty: Ty::scalar(),
                span,
            })
            .collect();
        let onehot = Expr {
            kind: ExprKind::Vector(items),
            ty: Ty::Real(Shape(vec![n])),
            span,
        };
        Some(Expr {
            kind: ExprKind::Index(Box::new(onehot), vec![Index::Dynamic(Box::new(yv))]),
            ty: Ty::scalar(),
            span,
        })
    }

    fn index(
        &mut self,
        base: &ast::Expr,
        args: &[ast::IndexArg],
        span: Span,
        env: &Env,
    ) -> Option<Expr> {
        let b = self.real(base, env)?;
        let shape = real_shape(&b);
        // The brackets, `[i, j]`: where a wrong number of indices is reported.
        let brackets = Span::new(b.span.end, span.end);
        if shape.is_scalar() {
            self.error(
                Diagnostic::new(
                    Code::TooManyIndices,
                    brackets,
                    "expected a tensor to index, found the scalar `real`",
                )
                .label("indexed here")
                .secondary(b.span, "this is `real`")
                .help("a scalar has no positions; use it directly"),
            );
            return None;
        }
        if args.len() > shape.rank() {
            self.error(
                Diagnostic::new(
                    Code::TooManyIndices,
                    brackets,
                    format!(
                        "expected at most {} indices into `{}`, found {}",
                        shape.rank(),
                        shape,
                        args.len()
                    ),
                )
                .label(format!(
                    "{} for {}",
                    plural(args.len(), "index"),
                    plural(shape.rank(), "dimension")
                ))
                .secondary(b.span, format!("this is `{shape}`"))
                .help("give one index per dimension, or fewer to take a sub-tensor"),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut result = Vec::new();
        let mut ok = true;
        let context = || Some((b.span, format!("this is `{shape}`")));
        for (arg, &dim) in args.iter().zip(&shape.0) {
            let slice_help = format!(
                "a slice `a:b` of a dimension of {dim} keeps positions a ≤ i < b, with 0 ≤ a < b ≤ {dim}"
            );
            match arg {
                ast::IndexArg::At(e) => match self.index_value(e, dim, env, context()) {
                    Some(ix) => out.push(ix),
                    None => ok = false,
                },
                ast::IndexArg::Slice { lo, hi, span } => {
                    let start = match lo {
                        Some(lo) => self.const_int(
                            lo,
                            "a slice start",
                            Code::SliceRange,
                            0,
                            dim as i64 - 1,
                            &slice_help,
                            context(),
                        ),
                        None => Some(0),
                    };
                    let end = match hi {
                        Some(hi) => self.const_int(
                            hi,
                            "a slice end",
                            Code::SliceRange,
                            1,
                            dim as i64,
                            &slice_help,
                            context(),
                        ),
                        None => Some(dim as i64),
                    };
                    match (start, end) {
                        (Some(s), Some(e)) if s < e => {
                            out.push(Index::Slice {
                                start: s as usize,
                                end: e as usize,
                            });
                            result.push((e - s) as usize);
                        }
                        (Some(s), Some(e)) => {
                            self.error(
                                Diagnostic::new(
                                    Code::SliceRange,
                                    *span,
                                    format!("expected a non-empty slice, found {s}:{e}"),
                                )
                                .label(format!("keeps no position: {s} is not below {e}"))
                                .help("a slice `a:b` keeps positions a ≤ i < b, so it needs a < b"),
                            );
                            ok = false;
                        }
                        _ => ok = false,
                    }
                }
            }
        }
        if !ok {
            return None;
        }
        result.extend_from_slice(&shape.0[args.len()..]);
        // Elements and slices of a sign tensor are signs: `y[0]` can index or go in `delta`.
        let ty = match b.ty {
            Ty::Sign(_) => Ty::Sign(Shape(result)),
            _ => Ty::Real(Shape(result)),
        };
        Some(Expr {
            kind: ExprKind::Index(Box::new(b), out),
            ty,
            span,
        })
    }

    /// One index: a class or sign value (dynamic), or an integer constant in `0..dim`.
    fn index_value(
        &mut self,
        e: &ast::Expr,
        dim: usize,
        env: &Env,
        context: Option<(Span, String)>,
    ) -> Option<Index> {
        if is_constant_syntax(e, self) {
            let v = self.const_eval(e)?;
            if v.fract() != 0.0 {
                self.error(
                    Diagnostic::new(
                        Code::RealIndex,
                        e.span,
                        format!("expected an integer index, found {}", fmt_num(v)),
                    )
                    .help("indices are integers: constants or class values"),
                );
                return None;
            }
            if v < 0.0 || v >= dim as f64 {
                let help = if v < 0.0 {
                    format!(
                        "indices start at 0 and do not count from the end; the last position is {}",
                        dim - 1
                    )
                } else {
                    format!(
                        "indices start at 0; the last position of a dimension of {dim} is {}",
                        dim - 1
                    )
                };
                let mut d = Diagnostic::new(
                    Code::IndexRange,
                    e.span,
                    format!("expected an index in 0..{dim}, found {}", fmt_num(v)),
                )
                .label(format!("out of range for a dimension of {dim}"))
                .help(help);
                if let Some((span, message)) = context {
                    d = d.secondary(span, message);
                }
                self.error(d);
                return None;
            }
            return Some(Index::At(v as usize));
        }
        let x = self.expr(e, env)?;
        match x.ty {
            Ty::Class(k) if k <= dim => Some(Index::Dynamic(Box::new(x))),
            Ty::Sign(ref s) if s.is_scalar() && dim >= 2 => Some(Index::Dynamic(Box::new(x))),
            Ty::Sign(ref s) if !s.is_scalar() => {
                self.error(
                    Diagnostic::new(
                        Code::RealIndex,
                        x.span,
                        format!(
                            "expected a scalar index (a constant, a class or a `sign`), found `{}`",
                            x.ty
                        ),
                    )
                    .label(format!("this is `{}`, a tensor", x.ty))
                    .help(
                        "index with one element of it, e.g. `v[s[0]]`, or with a `class[k]` value",
                    ),
                );
                None
            }
            Ty::Class(_) | Ty::Sign(_) => {
                let k = match x.ty {
                    Ty::Class(k) => k,
                    _ => 2,
                };
                self.error(
                    Diagnostic::new(Code::IndexRange, x.span, format!("expected a class with at most {dim} values to index a dimension of {dim}, found `{}`", x.ty))
                        .label(format!("takes {k} values"))
                        .help("the dimension indexed must have at least as many positions as the class has values"),
                );
                None
            }
            Ty::Real(_) => {
                self.error(
                    Diagnostic::new(
                        Code::RealIndex,
                        x.span,
                        format!(
                            "expected an integer index (a constant or a class value), found `{}`",
                            x.ty
                        ),
                    )
                    .label(format!("this is `{}`", x.ty))
                    .help("declare the variable as `class[k]` to index with it"),
                );
                None
            }
        }
    }
}

/// "1 argument", "2 arguments".
pub(super) fn plural(n: usize, word: &str) -> String {
    match (n, word) {
        (1, _) => format!("1 {word}"),
        (_, "index") => format!("{n} indices"),
        _ => format!("{n} {word}s"),
    }
}

/// Whether an expression only uses numbers and consts (so it is evaluated at check time).
fn is_constant_syntax(e: &ast::Expr, c: &Checker) -> bool {
    use ast::ExprKind as A;
    match &e.kind {
        A::Number(..) => true,
        A::Name(n) => matches!(c.names.get(n.as_str()), Some((Sym::Const(_), _))),
        A::Neg(x) => is_constant_syntax(x, c),
        A::Binary { op, lhs, rhs, .. } => {
            *op != BinOp::MatMul && is_constant_syntax(lhs, c) && is_constant_syntax(rhs, c)
        }
        _ => false,
    }
}

/// The arithmetic shape of a real or sign expression.
fn real_shape(e: &Expr) -> Shape {
    e.ty.shape().cloned().unwrap_or_default()
}

/// Resolves a builtin name and arity to its overload.
fn builtin(name: &str, arity: usize) -> Option<Builtin> {
    use Builtin::*;
    let b = match (name, arity) {
        ("exp", 1) => Exp,
        ("log", 1) => Log,
        ("tanh", 1) => Tanh,
        ("sigmoid", 1) => Sigmoid,
        ("softplus", 1) => Softplus,
        ("relu", 1) => Relu,
        ("abs", 1) => Abs,
        ("sqrt", 1) => Sqrt,
        ("square", 1) => Square,
        ("sin", 1) => Sin,
        ("cos", 1) => Cos,
        ("sum", 1) => Sum,
        ("mean", 1) => Mean,
        ("max", 1) => Max,
        ("min", 1) => Min,
        ("logsumexp", 1) => LogSumExp,
        ("sqnorm", 1) => SqNorm,
        ("norm", 1) => Norm,
        ("l1", 1) => L1,
        ("softmax", 1) => Softmax,
        ("dot", 2) => Dot,
        ("cosine", 2) => Cosine,
        ("max", 2) => Max2,
        ("min", 2) => Min2,
        ("pow", 2) => Pow,
        _ => return None,
    };
    Some(b)
}
