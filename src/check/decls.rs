//! The declarations and their compile-time values: consts, dims, types, variable declarations
//! and parameter inits.
//!
//! Constant expressions are numbers, consts, unary `-`, `+ - * / ^` and parentheses
//! (and, for a parameter's initial value, vector literals of those). Dims must be positive
//! integers whose product stays under [`MAX_ELEMENTS`](super::MAX_ELEMENTS).

use super::{Checker, Init, Sym, Var, MAX_ELEMENTS};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::{self, BinOp, DeclKind, ExprKind, Role, TypeKind};
use crate::types::{Shape, Ty};

impl<'a> Checker<'a> {
    pub(super) fn check_const(&mut self, i: usize) {
        let value = self.const_decls[i].1;
        self.const_vals[i] = self.const_eval(value);
    }

    /// Evaluates a scalar constant expression; reports and returns `None` otherwise.
    pub(super) fn const_eval(&mut self, e: &ast::Expr) -> Option<f64> {
        let v = match &e.kind {
            ExprKind::Number(v, _) => *v,
            ExprKind::Name(n) => match self.names.get(n.as_str()).copied() {
                Some((Sym::Const(i), _)) => self.const_vals[i]?,
                Some((sym, decl)) => {
                    let what = match sym {
                        Sym::Var(i) => match &self.var_decls[i].kind {
                            DeclKind::Var { role, .. } => role.keyword(),
                            _ => "variable",
                        },
                        Sym::Let(_) => "let",
                        Sym::Fn(_) => "function",
                        _ => "energy term",
                    };
                    self.error(
                        Diagnostic::new(
                            Code::NotConstant,
                            e.span,
                            format!("expected a constant, found `{n}`, which is not a const"),
                        )
                        .label("only known when the model runs")
                        .secondary(
                            decl,
                            format!(
                                "`{n}` is declared as {} {what} here",
                                if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                                    "an"
                                } else {
                                    "a"
                                }
                            ),
                        )
                        .help("only numbers and `const` names can be used here"),
                    );
                    return None;
                }
                None => {
                    let help = self
                        .suggest(n, &[])
                        .unwrap_or_else(|| "declare it with `const NAME = …`".into());
                    self.error(
                        Diagnostic::new(
                            Code::UnknownName,
                            e.span,
                            format!("expected a known name, found `{n}`"),
                        )
                        .label("not declared in this model")
                        .help(help),
                    );
                    return None;
                }
            },
            ExprKind::Neg(x) => -self.const_eval(x)?,
            ExprKind::Binary { op, lhs, rhs, .. } if *op != BinOp::MatMul => {
                let (a, b) = (self.const_eval(lhs), self.const_eval(rhs));
                let (a, b) = (a?, b?);
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    BinOp::Pow => a.powf(b),
                    BinOp::MatMul => unreachable!(),
                }
            }
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::NotConstant,
                        e.span,
                        format!("expected a constant expression, found {}", describe(e)),
                    )
                    .help("constants are built from numbers, consts and `+ - * / ^`"),
                );
                return None;
            }
        };
        if v.is_nan() {
            self.error(
                Diagnostic::new(
                    Code::ConstValue,
                    e.span,
                    "expected a number, found a value that is not a number (NaN)",
                )
                .help("check for 0/0 or inf - inf"),
            );
            return None;
        }
        Some(v)
    }

    /// A constant that must be an integer in `lo..=hi` (dims, indices, counts); `context` is a
    /// secondary label (e.g. the tensor a slice applies to).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn const_int(
        &mut self,
        e: &ast::Expr,
        what: &str,
        code: Code,
        lo: i64,
        hi: i64,
        help: &str,
        context: Option<(Span, String)>,
    ) -> Option<i64> {
        let v = self.const_eval(e)?;
        if v.fract() != 0.0 || !v.is_finite() || v < lo as f64 || v > hi as f64 {
            let expected = if hi == i64::MAX {
                format!("an integer ≥ {lo}")
            } else {
                format!("an integer in {lo}..={hi}")
            };
            let mut d = Diagnostic::new(
                code,
                e.span,
                format!("expected {what} to be {expected}, found {}", fmt_num(v)),
            )
            .label(format!("this is {}", fmt_num(v)))
            .help(help);
            if let Some((span, message)) = context {
                d = d.secondary(span, message);
            }
            self.error(d);
            return None;
        }
        Some(v as i64)
    }

    /// Resolves a written type; dims must be positive and the tensor under the element limit.
    pub(super) fn ty(&mut self, t: &ast::Type) -> Option<Ty> {
        match &t.kind {
            TypeKind::Sign(dims) => Some(Ty::Sign(self.dims(t.span, dims)?)),
            TypeKind::Class(k) => {
                let k = self.const_int(
                    k,
                    "the number of classes",
                    Code::BadDim,
                    1,
                    MAX_ELEMENTS as i64,
                    "`class[k]` holds the k values 0, 1, …, k - 1, so k is at least 1",
                    None,
                )?;
                Some(Ty::Class(k as usize))
            }
            TypeKind::Real(dims) => Some(Ty::Real(self.dims(t.span, dims)?)),
        }
    }

    /// The shape of `real[dims]` or `sign[dims]`: positive dims, under the element limit.
    fn dims(&mut self, span: Span, dims: &[ast::Expr]) -> Option<Shape> {
        let mut shape = Vec::new();
        let mut ok = true;
        for d in dims {
            match self.const_dim(d) {
                Some(n) => shape.push(n),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let total = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        match total {
            Some(n) if n <= MAX_ELEMENTS => Some(Shape(shape)),
            _ => {
                self.error(too_many(span, &shape));
                None
            }
        }
    }

    /// A dimension: a positive integer constant.
    fn const_dim(&mut self, e: &ast::Expr) -> Option<usize> {
        let v = self.const_eval(e)?;
        if v.fract() != 0.0 || v < 1.0 || !v.is_finite() {
            self.error(
                Diagnostic::new(
                    Code::BadDim,
                    e.span,
                    format!(
                        "expected a positive integer dimension, found {}",
                        fmt_num(v)
                    ),
                )
                .label(format!("this is {}", fmt_num(v)))
                .help("dimensions are positive integers, e.g. `real[4]` or `real[N, 2 * N]`"),
            );
            return None;
        }
        if v > MAX_ELEMENTS as f64 {
            self.error(
                Diagnostic::new(
                    Code::TooManyElements,
                    e.span,
                    format!(
                        "expected a dimension of at most {MAX_ELEMENTS}, found {}",
                        fmt_num(v)
                    ),
                )
                .help("ebmc keeps every tensor under 2^27 elements (1 GiB)"),
            );
            return None;
        }
        Some(v as usize)
    }

    /// A variable declaration: its type, and for latents and params their elimination and init.
    pub(super) fn check_var(&mut self, i: usize) -> Option<Var> {
        let DeclKind::Var {
            role,
            name,
            ty,
            elim,
            init,
        } = &self.var_decls[i].kind
        else {
            unreachable!()
        };
        let t = self.ty(ty)?;
        self.record(name.span, &t, false);
        if *role == Role::Param && t.is_discrete() {
            self.error(
                Diagnostic::new(
                    Code::ParamType,
                    ty.span,
                    format!("expected a real type for a param, found `{t}`"),
                )
                .help("parameters are trained by gradient descent, so they are real"),
            );
            return None;
        }
        let elim = match role {
            Role::Latent => Some(self.elim(elim.as_ref(), &t, name)?),
            _ => {
                if let Some(e) = elim {
                    let span = match e {
                        ast::Elim::Min(m) | ast::Elim::Marginal(m) => m.span,
                    };
                    self.error(
                        Diagnostic::new(
                            Code::Syntax,
                            span,
                            format!(
                                "expected an elimination only on a latent, found one on {} `{}`",
                                role.keyword(),
                                name.name
                            ),
                        )
                        .help(
                            "`min by …` and `marginal(…)` say how a latent variable is eliminated",
                        ),
                    );
                }
                None
            }
        };
        let init = match (role, init) {
            (Role::Param, Some(ast::Init::Value(e))) => Some(self.init_values(e, &t)?),
            (Role::Param, Some(ast::Init::Dist(e))) => Some(self.distribution(e)?),
            (Role::Param, None) => Some(default_init(t.shape().expect("params are real"))),
            (_, Some(ast::Init::Value(e) | ast::Init::Dist(e))) => {
                self.error(
                    Diagnostic::new(
                        Code::Syntax,
                        e.span,
                        format!(
                            "expected an initial value only on a param, found one on {} `{}`",
                            role.keyword(),
                            name.name
                        ),
                    )
                    .help("inputs and outputs come from data; latents from their elimination"),
                );
                None
            }
            _ => None,
        };
        Some(Var {
            name: name.name.clone(),
            span: name.span,
            role: *role,
            ty: t,
            elim,
            init,
        })
    }

    /// `= value`: a scalar (broadcast) or a nested vector literal of exactly the param's shape.
    fn init_values(&mut self, e: &ast::Expr, t: &Ty) -> Option<Init> {
        let shape = t.shape().expect("params are real").clone();
        let (got, values) = self.const_tensor(e)?;
        if got.is_empty() {
            return Some(Init::Values(vec![values[0]; shape.len()]));
        }
        if got != shape.0 {
            self.error(
                Diagnostic::new(Code::InitShape, e.span, format!("expected an initial value of shape `{shape}`, found `{}`", Shape(got)))
                    .help("give a scalar (used for every element) or a literal of exactly the declared shape"),
            );
            return None;
        }
        Some(Init::Values(values))
    }

    /// A constant tensor: a scalar expression or nested vector literals of them.
    fn const_tensor(&mut self, e: &ast::Expr) -> Option<(Vec<usize>, Vec<f64>)> {
        let ExprKind::Vector(items) = &e.kind else {
            return self.const_eval(e).map(|v| (Vec::new(), vec![v]));
        };
        let mut shape: Option<Vec<usize>> = None;
        let mut values = Vec::new();
        for item in items {
            let (s, v) = self.const_tensor(item)?;
            match &shape {
                None => shape = Some(s),
                Some(first) if *first != s => {
                    self.error(
                        Diagnostic::new(
                            Code::VectorLiteral,
                            item.span,
                            format!(
                                "expected an element of shape `{}`, found `{}`",
                                Shape(first.clone()),
                                Shape(s)
                            ),
                        )
                        .help("every element of a vector literal has the same shape"),
                    );
                    return None;
                }
                _ => {}
            }
            values.extend(v);
        }
        let mut shape = shape.unwrap_or_default();
        shape.insert(0, items.len());
        if items.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::VectorLiteral,
                    e.span,
                    "expected at least one element, found an empty vector literal",
                )
                .help("write `[a, b, …]` with one or more elements, or a scalar such as `= 0` for every element"),
            );
            return None;
        }
        Some((shape, values))
    }

    /// `~ normal(m, s)`, `~ uniform(lo, hi)`, `~ glorot`.
    pub(super) fn distribution(&mut self, e: &ast::Expr) -> Option<Init> {
        let (name, args, span): (&str, &[ast::Expr], Span) = match &e.kind {
            ExprKind::Call { func, args } => (&func.name, args, func.span),
            ExprKind::Name(n) => (n, &[], e.span),
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::UnknownMethod,
                        e.span,
                        format!("expected a distribution, found {}", describe(e)),
                    )
                    .help("distributions are `normal(mean, std)`, `uniform(lo, hi)` and `glorot`"),
                );
                return None;
            }
        };
        let arity = match name {
            "normal" | "uniform" => 2,
            "glorot" => 0,
            _ => {
                let help = crate::diag::did_you_mean(name, ["normal", "uniform", "glorot"])
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        "distributions are `normal(mean, std)`, `uniform(lo, hi)` and `glorot`"
                            .into()
                    });
                self.error(
                    Diagnostic::new(
                        Code::UnknownMethod,
                        span,
                        format!("expected a distribution, found `{name}`"),
                    )
                    .label("unknown distribution")
                    .help(help),
                );
                return None;
            }
        };
        if args.len() != arity {
            self.error(
                Diagnostic::new(
                    Code::Arity,
                    e.span,
                    format!(
                        "expected {arity} arguments to `{name}`, found {}",
                        args.len()
                    ),
                )
                .help("`normal(mean, std)`, `uniform(lo, hi)`, `glorot`"),
            );
            return None;
        }
        let vals: Vec<Option<f64>> = args.iter().map(|a| self.const_eval(a)).collect();
        let vals: Vec<f64> = vals.into_iter().collect::<Option<_>>()?;
        match name {
            "normal" => {
                if !(vals[1] > 0.0 && vals[1].is_finite() && vals[0].is_finite()) {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            args[1].span,
                            format!(
                                "expected a finite positive standard deviation, found {}",
                                fmt_num(vals[1])
                            ),
                        )
                        .help("write `= value` for a constant initialisation"),
                    );
                    return None;
                }
                Some(Init::Normal {
                    mean: vals[0],
                    std: vals[1],
                })
            }
            "uniform" => {
                if !(vals[0] < vals[1] && vals[0].is_finite() && vals[1].is_finite()) {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            e.span,
                            format!(
                                "expected finite bounds with lo < hi, found {} and {}",
                                fmt_num(vals[0]),
                                fmt_num(vals[1])
                            ),
                        )
                        .help("`uniform(lo, hi)` draws from lo to hi, e.g. `uniform(-0.1, 0.1)`"),
                    );
                    return None;
                }
                Some(Init::Uniform {
                    lo: vals[0],
                    hi: vals[1],
                })
            }
            _ => Some(Init::Glorot),
        }
    }
}

/// The spec's default initialiser of a param, `normal(0, 1/sqrt(fan_in))`: the checker fills
/// it in, so every checked param has an init and the runtime only draws.
pub fn default_init(shape: &Shape) -> Init {
    let (fan_in, _) = shape.fan_in_out();
    Init::Normal {
        mean: 0.0,
        std: 1.0 / (fan_in as f64).sqrt(),
    }
}

pub(super) fn too_many(span: Span, shape: &[usize]) -> Diagnostic {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    Diagnostic::new(
        Code::TooManyElements,
        span,
        format!(
            "expected at most {MAX_ELEMENTS} elements, found {} ({})",
            count(shape),
            dims.join(" × ")
        ),
    )
    .help("ebmc keeps every tensor under 2^27 elements (1 GiB); use smaller dimensions")
}

fn count(shape: &[usize]) -> String {
    match shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
        Some(n) => n.to_string(),
        None => "more than 2^64".into(),
    }
}

pub(super) fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// "a call to `f`", "the variable `x`", … for messages.
pub(super) fn describe(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Number(v, _) => format!("the number {}", fmt_num(*v)),
        ExprKind::Name(n) => format!("`{n}`"),
        ExprKind::Vector(_) => "a vector literal".into(),
        ExprKind::Call { func, .. } => format!("a call to `{}`", func.name),
        ExprKind::Index { .. } => "an indexing expression".into(),
        ExprKind::Transpose(_) => "a transpose".into(),
        ExprKind::Neg(_) => "a negation".into(),
        ExprKind::Binary { op, .. } => format!("an expression with `{}`", op.symbol()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_init_is_normal_with_std_one_over_sqrt_fan_in() {
        let std_of = |dims: &[usize]| match default_init(&Shape(dims.to_vec())) {
            Init::Normal { mean: 0.0, std } => std,
            other => panic!("{other:?}"),
        };
        assert_eq!(std_of(&[3, 16]), 0.25);
        assert_eq!(std_of(&[4]), 0.5);
        assert_eq!(std_of(&[]), 1.0);
    }
}
