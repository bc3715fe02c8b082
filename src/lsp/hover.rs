//! Hover: what the thing under the cursor is.
//!
//! In order of precedence: a loss, method or optimizer name (its formula or its arguments with
//! their defaults) or the name of one of its arguments (its default); a declared name or a use of one (its kind, type and shape, as the checker
//! inferred them); a model's name; a builtin function or distribution (its signature); else
//! the smallest expression holding the cursor that type-checked (its type and shape).

use super::analysis::{exprs_at, Analysis, Kind};
use crate::check::{self, Clause, MethodInfo};
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind};

/// The spec's section 6: each loss's per-example formula and what it needs.
pub const LOSS_FORMULAS: &[(&str, &str, &str)] = &[
    ("energy", "E_i", "—"),
    (
        "perceptron",
        "E_i − min_y E(x_i, y)",
        "enumeration, or the `infer` procedure for real outputs",
    ),
    ("hinge", "max(0, m + E_i − Ē_i)", "ȳ"),
    ("log", "log(1 + exp(E_i − Ē_i))", "ȳ"),
    ("lvq2", "min(1, max(0, (E_i − Ē_i) / (δ · Ē_i)))", "ȳ"),
    ("mce", "σ(E_i − Ē_i), σ logistic", "ȳ"),
    ("square_square", "E_i² + (max(0, m − Ē_i))²", "ȳ"),
    ("square_exp", "E_i² + γ exp(−Ē_i)", "ȳ"),
    (
        "nll",
        "E_i + 1/β · log Σ_y exp(−β E(x_i, y))",
        "all answers",
    ),
    (
        "mee",
        "1 − exp(−β E_i) / Σ_y exp(−β E(x_i, y))",
        "all answers",
    ),
];

/// The spec's section 4 (and the distributions of section 3): signature and meaning.
pub const BUILTIN_SIGNATURES: &[(&str, &str, &str)] = &[
    ("exp", "exp(x : real[…]) : real[…]", "elementwise eˣ"),
    ("log", "log(x : real[…]) : real[…]", "elementwise natural logarithm"),
    ("tanh", "tanh(x : real[…]) : real[…]", "elementwise hyperbolic tangent"),
    ("sigmoid", "sigmoid(x : real[…]) : real[…]", "elementwise 1 / (1 + e⁻ˣ)"),
    ("softplus", "softplus(x : real[…]) : real[…]", "elementwise log(1 + eˣ), computed stably"),
    ("relu", "relu(x : real[…]) : real[…]", "elementwise max(0, x)"),
    ("abs", "abs(x : real[…]) : real[…]", "elementwise |x|"),
    ("sqrt", "sqrt(x : real[…]) : real[…]", "elementwise square root"),
    ("square", "square(x : real[…]) : real[…]", "elementwise x²"),
    ("sin", "sin(x : real[…]) : real[…]", "elementwise sine"),
    ("cos", "cos(x : real[…]) : real[…]", "elementwise cosine"),
    ("sum", "sum(v : real[…]) : real", "sum of every element"),
    ("mean", "mean(v : real[…]) : real", "mean of every element"),
    ("max", "max(v : real[…]) : real\nmax(a : real[…], b : real[…]) : real[…]", "largest element; with two arguments, elementwise maximum"),
    ("min", "min(v : real[…]) : real\nmin(a : real[…], b : real[…]) : real[…]", "smallest element; with two arguments, elementwise minimum"),
    ("logsumexp", "logsumexp(v : real[…]) : real", "log Σ exp(vᵢ), computed stably"),
    ("dot", "dot(a : real[n], b : real[n]) : real", "Σ aᵢ bᵢ"),
    ("sqnorm", "sqnorm(v : real[…]) : real", "Σ vᵢ²"),
    ("norm", "norm(v : real[…]) : real", "‖v‖ = sqrt(Σ vᵢ²)"),
    ("cosine", "cosine(a : real[n], b : real[n]) : real", "a·b / max(‖a‖‖b‖, 1e-8), finite at 0"),
    ("softmax", "softmax(v : real[…]) : real[…]", "exp(vᵢ) / Σ exp(vⱼ)"),
    ("l1", "l1(v : real[…]) : real", "Σ |vᵢ|"),
    ("pow", "pow(a : real[…], p : real[…]) : real[…]", "elementwise aᵖ, scalars broadcast"),
    ("transpose", "transpose(A : real[m, n]) : real[n, m]", "the transpose, also written A'"),
    ("delta", "delta(y - k) : real", "1 where the class or sign value y equals k, else 0 (sugar for indexing a one-hot constant)"),
    ("normal", "normal(mean, std)", "initialise from a normal distribution"),
    ("uniform", "uniform(lo, hi)", "initialise from a uniform distribution"),
    ("glorot", "glorot", "Glorot (Xavier) uniform: ±sqrt(6 / (fan_in + fan_out))"),
];

/// `name(arg = default, …)` of a method, as written in a source.
pub fn method_signature(m: &MethodInfo) -> String {
    let mut args: Vec<String> = m
        .args
        .iter()
        .map(|(n, d)| match d {
            Some(v) => format!("{n} = {}", fmt_num(*v)),
            None => n.to_string(),
        })
        .collect();
    if m.init {
        args.push("init = 0".into());
    }
    if args.is_empty() {
        m.name.to_string()
    } else {
        format!("{}({})", m.name, args.join(", "))
    }
}

/// A number as a source would write it: `32`, `0.9`.
pub(super) fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The hover text of a method of `clause` named `name`.
fn method_hover(clause: Clause, name: &str) -> Option<String> {
    let all = check::methods();
    let m = all.iter().find(|m| m.clause == clause && m.name == name)?;
    let mut s = format!(
        "```ebm\n{} {}\n```",
        clause_prefix(clause),
        method_signature(m)
    );
    if clause == Clause::Loss {
        if let Some((_, f, needs)) = LOSS_FORMULAS.iter().find(|(n, ..)| *n == name) {
            s.push_str(&format!(
                "\n\nper-example loss: `{f}` (averaged over the batch); needs: {needs}\n\n`E_i = E(x_i, y_i)`, `Ē_i = E(x_i, ȳ_i)`"
            ));
        }
    }
    if m.args.iter().any(|(_, d)| d.is_none()) {
        s.push_str("\n\narguments without a default are required");
    }
    Some(s)
}

fn clause_prefix(c: Clause) -> &'static str {
    match c {
        Clause::Loss => "loss",
        Clause::Negatives => "negatives",
        Clause::Infer => "infer … by",
        Clause::Train => "train by",
        Clause::Partition => "partition by",
        Clause::Min => "min by",
        Clause::Marginal => "latent …",
    }
}

/// The hover at byte `offset`: markdown and the span it is about.
pub fn hover(a: &Analysis, text: &str, offset: usize) -> Option<(String, Span)> {
    let file = a.file.as_ref()?;
    let mi = a.model_at(offset)?;
    let (model, ix, typing) = (&file.models[mi], &a.models[mi], a.typings.get(mi)?);
    let hit = |s: Span| s.start <= offset && offset <= s.end;

    // Method names.
    for d in &model.decls {
        let mut methods: Vec<(Clause, &ast::Method)> = Vec::new();
        match &d.kind {
            DeclKind::Loss { method, negatives } => {
                methods.push((Clause::Loss, method));
                methods.extend(negatives.iter().map(|n| (Clause::Negatives, n)));
            }
            DeclKind::Infer { method, .. } => methods.push((Clause::Infer, method)),
            DeclKind::Train { method } => methods.push((Clause::Train, method)),
            DeclKind::Partition { method } => methods.push((Clause::Partition, method)),
            DeclKind::Var {
                elim: Some(ast::Elim::Min(m)),
                ..
            } => methods.push((Clause::Min, m)),
            DeclKind::Var {
                elim: Some(ast::Elim::Marginal(m)),
                ..
            } => methods.push((Clause::Marginal, m)),
            _ => {}
        }
        for (clause, m) in methods {
            for a in &m.args {
                let Some(name) = a.name.as_ref().filter(|n| hit(n.span)) else {
                    continue;
                };
                let all = check::methods();
                let info = all
                    .iter()
                    .find(|i| i.clause == clause && i.name == m.name.name);
                let arg = info.and_then(|i| i.args.iter().find(|(n, _)| *n == name.name));
                let text = match arg {
                    Some((n, Some(d))) => format!("`{n}` of `{}`: default `{}`", m.name.name, fmt_num(*d)),
                    Some((n, None)) => format!("`{n}` of `{}`: required", m.name.name),
                    None if info.is_some_and(|i| i.init) && name.name == "init" => format!(
                        "`init` of `{}`: the starting point, a number or a distribution; default `0`",
                        m.name.name
                    ),
                    None => continue,
                };
                return Some((text, name.span));
            }
            if hit(m.name.span) {
                let text = method_hover(clause, &m.name.name).unwrap_or_else(|| {
                    format!("unknown {} method `{}`", clause.keyword(), m.name.name)
                });
                return Some((text, m.name.span));
            }
        }
    }

    // Declared names and their uses.
    if let Some((span, i)) = ix.at(offset) {
        let d = &ix.decls[i];
        let ty = |s: Span| typing.names.get(&s).map(|t| t.to_string());
        let unknown = || "?".to_string();
        let code = match d.kind {
            Kind::Const => match typing.consts.get(&d.span) {
                Some(v) => format!("const {} = {}", d.name, fmt_num(*v)),
                None => format!("const {}", d.name),
            },
            Kind::Var(_) | Kind::Let => format!(
                "{} {} : {}",
                d.kind.keyword(),
                d.name,
                ty(d.span).unwrap_or_else(unknown)
            ),
            Kind::Fn => {
                let params: Vec<String> = ix
                    .decls
                    .iter()
                    .filter(|p| p.parent == Some(i))
                    .map(|p| format!("{} : {}", p.name, ty(p.span).unwrap_or_else(unknown)))
                    .collect();
                format!(
                    "fn {}({}) : {}",
                    d.name,
                    params.join(", "),
                    ty(d.span).unwrap_or_else(unknown)
                )
            }
            Kind::FnParam => format!("{} : {}", d.name, ty(d.span).unwrap_or_else(unknown)),
            Kind::Energy => format!("energy {} : real", d.name),
        };
        let mut s = format!("```ebm\n{code}\n```");
        match d.kind {
            Kind::FnParam => {
                let f = d.parent.map(|f| ix.decls[f].name.as_str()).unwrap_or("?");
                s.push_str(&format!("\n\nparameter of `{f}`"));
            }
            Kind::Energy => s.push_str("\n\na term of the model's energy"),
            _ => {}
        }
        return Some((s, span));
    }

    if hit(ix.name_span) {
        let count = |k: fn(&Kind) -> bool| ix.decls.iter().filter(|d| k(&d.kind)).count();
        return Some((
            format!(
                "```ebm\nmodel {}\n```\n\n{} params, {} inputs, {} outputs, {} latents",
                ix.name,
                count(|k| *k == Kind::Var(ast::Role::Param)),
                count(|k| *k == Kind::Var(ast::Role::Input)),
                count(|k| *k == Kind::Var(ast::Role::Output)),
                count(|k| *k == Kind::Var(ast::Role::Latent)),
            ),
            ix.name_span,
        ));
    }

    // Expressions: a builtin's name, else the smallest typed expression.
    let mut exprs = Vec::new();
    exprs_at(model, offset, &mut exprs);
    for e in exprs.iter().rev() {
        if let ast::ExprKind::Call { func, .. } = &e.kind {
            if hit(func.span) {
                let (_, sig, what) = BUILTIN_SIGNATURES.iter().find(|(n, ..)| *n == func.name)?;
                return Some((format!("```ebm\n{sig}\n```\n\n{what}"), func.span));
            }
        }
        if let ast::ExprKind::Name(n) = &e.kind {
            if n == "glorot" {
                return Some((
                    format!("```ebm\nglorot\n```\n\n{}", BUILTIN_SIGNATURES.last()?.2),
                    e.span,
                ));
            }
        }
    }
    exprs
        .iter()
        .rev()
        .find_map(|e| typing.exprs.get(&e.span).map(|t| (e, t)))
        .map(|(e, t)| {
            let shown = abbreviate(e.span.text(text));
            (format!("```ebm\n{shown} : {t}\n```"), e.span)
        })
}

/// An expression's text on one line, cut to a readable length.
fn abbreviate(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 60 {
        format!("{}…", one.chars().take(60).collect::<String>())
    } else {
        one
    }
}
