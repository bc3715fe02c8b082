//! The clauses: loss, inference, training, data, and latent elimination (spec sections 3, 6–9).
//!
//! Every method takes named arguments from a table ([`ArgSpec`]): unknown names, duplicates,
//! missing required arguments and values out of range are reported here, and defaults are
//! filled in, so later stages read plain numbers.
//!
//! This file holds what the clauses share (the named-argument checker, and the diagnostics more
//! than one clause raises) and [`Checker::check_clauses`], which takes each clause at most once
//! and checks them in turn. Each clause has its own file: [`loss`], [`infer`], [`train`],
//! [`data`], and [`elim`] for a latent's `min by …` or `marginal(…)`.

mod data;
mod elim;
mod infer;
mod loss;
mod partition;
mod train;

use super::decls::fmt_num;
use super::*;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::syntax::ast::{self, DeclKind, Role};

/// What the clauses of a model resolve to.
pub(super) struct Clauses {
    pub loss: Option<Loss>,
    pub infer: Vec<Infer>,
    pub train: Option<Train>,
    pub data: Option<Data>,
    pub partition: Option<Partition>,
}

/// Where a method is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Clause {
    /// `loss NAME(…)`
    Loss,
    /// `negatives NAME(…)` after a loss
    Negatives,
    /// `infer v by NAME(…)`
    Infer,
    /// `train by NAME(…)`
    Train,
    /// A latent's `min by NAME(…)`
    Min,
    /// A latent's `marginal(…)`
    Marginal,
    /// `partition by NAME(…)`
    Partition,
}

impl Clause {
    pub fn keyword(self) -> &'static str {
        match self {
            Clause::Loss => "loss",
            Clause::Negatives => "negatives",
            Clause::Infer => "infer",
            Clause::Train => "train",
            Clause::Min => "min",
            Clause::Marginal => "marginal",
            Clause::Partition => "partition",
        }
    }
}

/// A method a clause may name, and its arguments: what editors offer and show. Read from the
/// very tables the checker checks arguments against, so the two cannot disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodInfo {
    pub clause: Clause,
    pub name: &'static str,
    /// Each argument with its default; `None` is a required argument.
    pub args: Vec<(&'static str, Option<f64>)>,
    /// Whether it also takes `init = value | distribution`.
    pub init: bool,
}

/// Every method of every clause, losses first, in the spec's order.
pub fn methods() -> Vec<MethodInfo> {
    let m = |clause, name, specs: &[ArgSpec], init| MethodInfo {
        clause,
        name,
        args: specs.iter().map(|s| (s.name, s.default)).collect(),
        init,
    };
    let mut all: Vec<MethodInfo> = loss::LOSSES
        .iter()
        .map(|&name| {
            let specs = match name {
                "hinge" => loss::HINGE,
                "lvq2" => loss::LVQ2,
                "square_square" => loss::SQUARE_SQUARE,
                "square_exp" => loss::SQUARE_EXP,
                "nll" | "mee" => loss::BETA,
                "cd" => loss::CD,
                "dsm" => loss::DSM,
                "nce" => loss::NCE,
                _ => &[],
            };
            m(Clause::Loss, name, specs, false)
        })
        .collect();
    all.extend([
        m(Clause::Negatives, "descent", loss::NEGATIVES_DESCENT, false),
        m(Clause::Negatives, "shuffle", &[], false),
        m(Clause::Infer, "descent", infer::DESCENT_INFER, true),
        m(Clause::Infer, "enumerate", infer::ENUMERATE_INFER, false),
        m(Clause::Infer, "langevin", infer::LANGEVIN, true),
        m(Clause::Infer, "hmc", infer::HMC, true),
        m(Clause::Infer, "gibbs", infer::GIBBS, false),
        m(Clause::Train, "sgd", train::SGD, false),
        m(Clause::Train, "adam", train::ADAM, false),
        m(Clause::Min, "descent", elim::DESCENT_ELIM, true),
        m(Clause::Min, "enumerate", &[], false),
        m(Clause::Marginal, "marginal", elim::MARGINAL, false),
        m(Clause::Partition, "enumerate", &[], false),
        m(Clause::Partition, "grid", partition::GRID, false),
        m(Clause::Partition, "ais", partition::AIS, false),
    ]);
    all
}

/// The largest integer a computed (not literal) integer argument may be: every integer up to
/// 2^53 is exact in an `f64`.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Allowed values of a numeric argument.
#[derive(Clone, Copy)]
enum Range {
    /// An integer ≥ n.
    Int(i64),
    /// A finite number > 0.
    Positive,
    /// A number > 0, `inf` allowed.
    PositiveOrInf,
    /// A finite number ≥ 0.
    NonNegative,
    /// A number in [0, 1).
    Unit,
    /// Any finite number.
    Any,
}

impl Range {
    fn accepts(self, v: f64) -> bool {
        match self {
            Range::Int(n) => v.fract() == 0.0 && v >= n as f64 && v <= MAX_EXACT,
            Range::Positive => v > 0.0 && v.is_finite(),
            Range::PositiveOrInf => v > 0.0,
            Range::NonNegative => v >= 0.0 && v.is_finite(),
            Range::Unit => (0.0..1.0).contains(&v),
            Range::Any => v.is_finite(),
        }
    }

    /// The help line of a value `v` out of this range for argument `name`: what it takes,
    /// and a value in range close to what was written.
    fn help(self, name: &str, v: f64) -> String {
        let near = |x: f64, fallback: f64| {
            if self.accepts(x) {
                fmt_num(x)
            } else {
                fmt_num(fallback)
            }
        };
        match self {
            Range::Int(_) if v.fract() == 0.0 && v > MAX_EXACT => {
                format!("above 2^53 a computed `{name}` is not exact: write it as a literal")
            }
            Range::Int(n) => format!(
                "`{name}` takes a whole number ≥ {n}, e.g. `{name} = {}`",
                near(v.abs().floor(), n as f64)
            ),
            Range::Positive => format!(
                "`{name}` takes a finite number > 0, e.g. `{name} = {}`",
                // A learning rate is small; other positive arguments (`beta`, `eps`'s
                // scale aside) are about one.
                near(v.abs(), if name == "rate" { 0.01 } else { 1.0 })
            ),
            Range::PositiveOrInf => format!(
                "`{name}` takes a number > 0 or `inf`, e.g. `{name} = {}`",
                near(v.abs(), 1.0)
            ),
            Range::NonNegative => format!(
                "`{name}` takes a finite number ≥ 0, e.g. `{name} = {}`",
                near(v.abs(), 0.0)
            ),
            Range::Unit => format!("`{name}` takes a fraction in [0, 1), e.g. `{name} = 0.9`"),
            Range::Any => format!("`{name}` takes a finite number, e.g. `{name} = 0`"),
        }
    }

    fn describe(self) -> String {
        match self {
            Range::Int(n) => format!("an integer ≥ {n}"),
            Range::Positive => "a finite number > 0".into(),
            Range::PositiveOrInf => "a number > 0 (or `inf`)".into(),
            Range::NonNegative => "a finite number ≥ 0".into(),
            Range::Unit => "a number in [0, 1)".into(),
            Range::Any => "a finite number".into(),
        }
    }
}

/// One named argument of a method: its range and default (`None` = required).
struct ArgSpec {
    name: &'static str,
    range: Range,
    default: Option<f64>,
}

const fn arg(name: &'static str, range: Range, default: Option<f64>) -> ArgSpec {
    ArgSpec {
        name,
        range,
        default,
    }
}

/// Resolved arguments, in spec order, plus a descent `init` when the method has one.
struct Args {
    values: Vec<f64>,
    /// The exact value of an integer argument written as a literal (a seed above 2^53 is not
    /// exact in `values`).
    exact: Vec<Option<u64>>,
    init: Option<Init>,
}

impl<'a> Checker<'a> {
    /// Checks the named arguments of `m` against `specs`; `with_init` also accepts `init`.
    fn args(&mut self, m: &ast::Method, specs: &[ArgSpec], with_init: bool) -> Option<Args> {
        self.args_with(m, specs, with_init.then_some("init"))
    }

    /// [`Checker::args`] with `dist` (when given) the name of the one argument that takes a
    /// value or a distribution (`init` of a descent, `noise` of `nce`), returned in `init`.
    fn args_with(
        &mut self,
        m: &ast::Method,
        specs: &[ArgSpec],
        dist: Option<&'static str>,
    ) -> Option<Args> {
        let with_init = dist.is_some();
        let dist_name = dist.unwrap_or("init");
        let mut values: Vec<Option<f64>> = specs.iter().map(|s| s.default).collect();
        let mut exact: Vec<Option<u64>> = vec![None; specs.len()];
        let mut given: Vec<Option<Span>> = vec![None; specs.len()];
        let mut init = None;
        let mut init_span: Option<Span> = None;
        let mut ok = true;
        // After an unknown or unnamed argument, a "missing" one is most likely that argument
        // misspelt: report the misspelling only.
        let mut unnamed_or_unknown = false;
        let names: Vec<&str> = specs.iter().map(|s| s.name).chain(dist).collect();
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        for a in &m.args {
            let Some(name) = &a.name else {
                let help = if names.is_empty() {
                    format!("`{}` takes no arguments", m.name.name)
                } else {
                    format!("name it: {}", list)
                };
                self.error(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        a.span,
                        format!(
                            "expected a named argument `name = value`, found {}",
                            super::decls::describe(&a.value)
                        ),
                    )
                    .help(help),
                );
                ok = false;
                unnamed_or_unknown = true;
                continue;
            };
            if with_init && name.name == dist_name {
                if let Some(first) = init_span.replace(a.span) {
                    self.error(duplicate_arg(&name.name, a.span, first));
                    ok = false;
                    continue;
                }
                init = match &a.value.kind {
                    ast::ExprKind::Call { .. } | ast::ExprKind::Name(_)
                        if !self.is_const_name(&a.value) =>
                    {
                        self.distribution(&a.value)
                    }
                    _ => self.const_eval(&a.value).map(|v| Init::Values(vec![v])),
                };
                ok &= init.is_some();
                continue;
            }
            let Some(i) = specs.iter().position(|s| s.name == name.name) else {
                let help = match did_you_mean(&name.name, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => format!("`{}` takes no arguments", m.name.name),
                    None => format!("`{}` takes {}", m.name.name, list),
                };
                self.error(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        name.span,
                        format!(
                            "expected an argument of `{}`, found `{}`",
                            m.name.name, name.name
                        ),
                    )
                    .label("unknown argument")
                    .help(help),
                );
                ok = false;
                unnamed_or_unknown = true;
                continue;
            };
            if let Some(first) = given[i].replace(a.span) {
                self.error(duplicate_arg(&name.name, a.span, first));
                ok = false;
                continue;
            }
            // An integer literal is taken exactly, up to 2^64 − 1: through the f64, the seeds
            // 2^53 and 2^53 + 1 would be the same.
            if let (Range::Int(min), ast::ExprKind::Number(v, Some(n))) =
                (specs[i].range, &a.value.kind)
            {
                if i64::try_from(*n).map_or(true, |n| n >= min) {
                    values[i] = Some(*v);
                    exact[i] = Some(*n);
                    continue;
                }
            }
            // A literal past 64 bits: its f64 would print rounded, so say what it is instead.
            if let (Range::Int(min), ast::ExprKind::Number(v, None)) =
                (specs[i].range, &a.value.kind)
            {
                if *v >= u64::MAX as f64 {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            a.value.span,
                            format!(
                                "expected `{}` to be an integer ≥ {min} that fits in 64 bits, \
                                 found a larger one",
                                name.name
                            ),
                        )
                        .label(format!("`{}` over {}", name.name, u64::MAX))
                        .help(format!(
                            "`{}` takes a whole number from {min} to {}",
                            name.name,
                            u64::MAX
                        )),
                    );
                    ok = false;
                    continue;
                }
            }
            let Some(v) = self.const_eval(&a.value) else {
                ok = false;
                continue;
            };
            if !specs[i].range.accepts(v) {
                self.error(
                    Diagnostic::new(
                        Code::ArgumentRange,
                        a.value.span,
                        format!(
                            "expected `{}` to be {}, found {}",
                            name.name,
                            specs[i].range.describe(),
                            fmt_num(v)
                        ),
                    )
                    .label(format!("`{}` = {}", name.name, fmt_num(v)))
                    .help(specs[i].range.help(&name.name, v)),
                );
                ok = false;
                continue;
            }
            values[i] = Some(v);
        }
        for ((s, v), given) in specs.iter().zip(&values).zip(&given) {
            // A value given but out of range, or bad, has been reported already.
            if v.is_none() && given.is_none() && !unnamed_or_unknown {
                self.error(
                    Diagnostic::new(
                        Code::MissingArgument,
                        m.span,
                        format!(
                            "expected an argument `{}` for `{}`, found none",
                            s.name, m.name.name
                        ),
                    )
                    .label(format!("`{}` needs `{}`", m.name.name, s.name))
                    .help(format!(
                        "add `{} = …` ({})",
                        s.name,
                        s.range.describe()
                    )),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Some(Args {
            values: values.into_iter().map(|v| v.unwrap_or_default()).collect(),
            exact,
            init,
        })
    }

    fn is_const_name(&self, e: &ast::Expr) -> bool {
        matches!(&e.kind, ast::ExprKind::Name(n) if matches!(self.names.get(n.as_str()), Some((Sym::Const(_), _))))
    }

    fn no_args(&mut self, m: &ast::Method) -> Option<()> {
        self.args(m, &[], false).map(|_| ())
    }

    fn descent(&mut self, m: &ast::Method, specs: &[ArgSpec]) -> Option<Descent> {
        let a = self.args(m, specs, true)?;
        Some(Descent {
            steps: a.values[0] as usize,
            rate: a.values[1],
            init: a.init.unwrap_or(Init::Values(vec![0.0])),
            tol: a.values[2],
        })
    }

    fn unknown_method(&mut self, m: &ast::Method, what: &str, known: &[&str]) {
        let help = match did_you_mean(&m.name.name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "{what} methods are {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(
            Diagnostic::new(
                Code::UnknownMethod,
                m.name.span,
                format!(
                    "expected {} {what} method, found `{}`",
                    article(what),
                    m.name.name
                ),
            )
            .label(format!("unknown {what} method"))
            .help(help),
        );
    }

    /// Loss, inference, training and data, each at most once.
    pub(super) fn check_clauses(&mut self) -> Option<Clauses> {
        let mut firsts: [Option<Span>; 5] = [None; 5];
        let mut ok = true;
        let (mut loss_decl, mut infer_decl, mut train_decl, mut data_decl, mut partition_decl) =
            (None, None, None, None, None);
        for d in &self.ast.decls {
            let (slot, what) = match &d.kind {
                DeclKind::Loss { .. } => (0, "loss"),
                DeclKind::Infer { .. } => (1, "infer"),
                DeclKind::Train { .. } => (2, "train"),
                DeclKind::Data(_) => (3, "data"),
                DeclKind::Partition { .. } => (4, "partition"),
                _ => continue,
            };
            if let Some(first) = firsts[slot] {
                self.error(
                    Diagnostic::new(
                        Code::DuplicateClause,
                        d.span,
                        format!("expected one `{what}` clause, found a second"),
                    )
                    .label("second clause")
                    .secondary(first, "first clause here")
                    .help(format!("a model has at most one `{what}`; remove one")),
                );
                ok = false;
                continue;
            }
            firsts[slot] = Some(d.span);
            match slot {
                0 => loss_decl = Some(d),
                1 => infer_decl = Some(d),
                2 => train_decl = Some(d),
                3 => data_decl = Some(d),
                _ => partition_decl = Some(d),
            }
        }
        let outputs: Vec<usize> = self.var_indices(Role::Output);
        // An output whose type failed to check is declared all the same: its error is enough.
        let declared = self.var_decls.iter().any(|d| {
            matches!(
                &d.kind,
                DeclKind::Var {
                    role: Role::Output,
                    ..
                }
            )
        });
        if outputs.is_empty() && declared {
            ok = false;
        } else if outputs.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::NoOutput,
                    self.ast.name.span,
                    format!(
                        "expected an output in model `{}`, found none",
                        self.ast.name.name
                    ),
                )
                .help("declare what the model predicts, e.g. `output y : real`"),
            );
            ok = false;
        }
        let loss = match loss_decl {
            Some(d) => {
                let l = self.loss(d, &outputs);
                ok &= l.is_some();
                l
            }
            None => None,
        };
        let infer = self.infer(infer_decl, &outputs);
        ok &= infer.is_some();
        let train = match train_decl {
            Some(d) => {
                let t = self.train(d, loss_decl.is_some(), data_decl.is_some());
                ok &= t.is_some();
                t
            }
            None => None,
        };
        let data = match data_decl {
            Some(d) => {
                let DeclKind::Data(data) = &d.kind else {
                    unreachable!()
                };
                let x = self.data(data);
                ok &= x.is_some();
                x
            }
            None => None,
        };
        let partition = match partition_decl {
            Some(d) => {
                let sampler = infer.as_ref().and_then(|g| {
                    g.iter().find_map(|g| match &g.method {
                        InferMethod::Sample(s) => Some(s.name()),
                        _ => None,
                    })
                });
                let p = self.partition(d, &outputs, sampler);
                ok &= p.is_some();
                p
            }
            None => None,
        };
        ok.then_some(Clauses {
            loss,
            infer: infer?,
            train,
            data,
            partition,
        })
    }

    /// Declaration indices of the variables with a role whose types checked.
    fn var_indices(&self, role: Role) -> Vec<usize> {
        self.var_decls
            .iter()
            .enumerate()
            .filter(|(i, d)| {
                matches!(&d.kind, DeclKind::Var { role: r, .. } if *r == role)
                    && self.vars.get(*i).is_some_and(|v| v.is_some())
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn var(&self, i: usize) -> &Var {
        self.vars[i].as_ref().expect("checked variable")
    }
}

/// "a" or "an" before a word.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn duplicate_arg(name: &str, span: Span, first: Span) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::DuplicateArgument,
        span,
        format!("expected `{name}` once, found it again"),
    )
    .label("given again here");
    if first != span {
        d = d.secondary(first, "first given here");
    }
    d.help("remove one of them")
}

fn descent_discrete(span: Span, name: &str, t: &Ty) -> Diagnostic {
    Diagnostic::new(
        Code::DescentDiscrete,
        span,
        format!("expected a real variable for descent, found `{name}` of type `{t}`"),
    )
    .label("gradient descent needs a real variable")
    .help(format!(
        "a discrete variable is solved by trying every value: use `enumerate` for `{name}`"
    ))
}

fn enumerate_real(span: Span, name: &str, t: &Ty, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::EnumerateReal,
        span,
        format!("expected a class or sign {what} to enumerate, found `{name}` of type `{t}`"),
    )
    .label("a real variable has infinitely many values")
    .help(format!(
        "a real variable is solved by gradient descent: use `descent(steps = 100, rate = 0.1)` for `{name}`"
    ))
}
