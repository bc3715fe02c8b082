//! The clauses: loss, inference, training, data, and latent elimination (spec sections 3, 6–9).
//!
//! Every method takes named arguments from a table ([`ArgSpec`]): unknown names, duplicates,
//! missing required arguments and values out of range are reported here, and defaults are
//! filled in, so later stages read plain numbers.

use super::consts::fmt_num;
use super::*;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::syntax::ast::{self, DeclKind, Role};

/// What the clauses of a model resolve to.
pub(super) struct Clauses {
    pub loss: Option<Loss>,
    pub infer: Vec<Infer>,
    pub train: Option<Train>,
    pub data: Option<Data>,
}

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
}

impl Range {
    fn accepts(self, v: f64) -> bool {
        match self {
            Range::Int(n) => v.fract() == 0.0 && v >= n as f64 && v <= 9_007_199_254_740_992.0,
            Range::Positive => v > 0.0 && v.is_finite(),
            Range::PositiveOrInf => v > 0.0,
            Range::NonNegative => v >= 0.0 && v.is_finite(),
            Range::Unit => (0.0..1.0).contains(&v),
        }
    }

    fn describe(self) -> String {
        match self {
            Range::Int(n) => format!("an integer ≥ {n}"),
            Range::Positive => "a finite number > 0".into(),
            Range::PositiveOrInf => "a number > 0 (or `inf`)".into(),
            Range::NonNegative => "a finite number ≥ 0".into(),
            Range::Unit => "a number in [0, 1)".into(),
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
    init: Option<Init>,
}

const DESCENT_INFER: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(100.0)),
    arg("rate", Range::Positive, Some(0.1)),
    arg("tol", Range::NonNegative, Some(1e-8)),
];
const DESCENT_ELIM: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(30.0)),
    arg("rate", Range::Positive, Some(0.1)),
    arg("tol", Range::NonNegative, Some(1e-8)),
];
const NEGATIVES_DESCENT: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(20.0)),
    arg("rate", Range::Positive, Some(0.1)),
    arg("radius", Range::NonNegative, Some(0.5)),
];
const MARGINAL: &[ArgSpec] = &[arg("beta", Range::PositiveOrInf, Some(1.0))];
const SGD: &[ArgSpec] = &[
    arg("rate", Range::Positive, None),
    arg("epochs", Range::Int(1), None),
    arg("batch", Range::Int(1), Some(32.0)),
    arg("seed", Range::Int(0), Some(0.0)),
    arg("l2", Range::NonNegative, Some(0.0)),
    arg("momentum", Range::Unit, Some(0.0)),
];
const ADAM: &[ArgSpec] = &[
    arg("rate", Range::Positive, None),
    arg("epochs", Range::Int(1), None),
    arg("batch", Range::Int(1), Some(32.0)),
    arg("seed", Range::Int(0), Some(0.0)),
    arg("l2", Range::NonNegative, Some(0.0)),
    arg("beta1", Range::Unit, Some(0.9)),
    arg("beta2", Range::Unit, Some(0.999)),
    arg("eps", Range::Positive, Some(1e-8)),
];
const LOSSES: &[&str] = &[
    "energy",
    "perceptron",
    "hinge",
    "log",
    "lvq2",
    "mce",
    "square_square",
    "square_exp",
    "nll",
    "mee",
];

impl<'a> Checker<'a> {
    /// Checks the named arguments of `m` against `specs`; `with_init` also accepts `init`.
    fn args(&mut self, m: &ast::Method, specs: &[ArgSpec], with_init: bool) -> Option<Args> {
        let mut values: Vec<Option<f64>> = specs.iter().map(|s| s.default).collect();
        let mut given: Vec<Option<Span>> = vec![None; specs.len()];
        let mut init = None;
        let mut init_span: Option<Span> = None;
        let mut ok = true;
        // After an unknown or unnamed argument, a "missing" one is most likely that argument
        // misspelt: report the misspelling only.
        let mut unnamed_or_unknown = false;
        let names: Vec<&str> = specs
            .iter()
            .map(|s| s.name)
            .chain(with_init.then_some("init"))
            .collect();
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
                            super::consts::describe(&a.value)
                        ),
                    )
                    .help(help),
                );
                ok = false;
                unnamed_or_unknown = true;
                continue;
            };
            if with_init && name.name == "init" {
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
                    .label(format!("`{}` = {}", name.name, fmt_num(v))),
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

    /// A latent's elimination, defaults filled in.
    pub(super) fn elim(
        &mut self,
        elim: Option<&ast::Elim>,
        t: &Ty,
        name: &ast::Ident,
    ) -> Option<Elim> {
        let discrete = t.is_discrete();
        let default = || -> Elim {
            if discrete {
                Elim::MinEnumerate
            } else {
                Elim::MinDescent(Descent {
                    steps: 30,
                    rate: 0.1,
                    init: Init::Values(vec![0.0]),
                    tol: 1e-8,
                })
            }
        };
        match elim {
            None => Some(default()),
            Some(ast::Elim::Min(m)) => match m.name.name.as_str() {
                "descent" if !discrete => Some(Elim::MinDescent(self.descent(m, DESCENT_ELIM)?)),
                "descent" => {
                    self.error(
                        descent_discrete(m.name.span, &name.name, t)
                            .secondary(name.span, format!("`{}` is `{t}`", name.name))
                            .help("a class latent is eliminated exactly: write `min by enumerate` or `marginal(beta = 1)`, or leave the elimination out"),
                    );
                    None
                }
                "enumerate" if discrete => {
                    self.no_args(m)?;
                    Some(Elim::MinEnumerate)
                }
                "enumerate" => {
                    self.error(
                        enumerate_real(m.name.span, &name.name, t, "latent")
                            .secondary(name.span, format!("`{}` is `{t}`", name.name))
                            .help("a real latent is eliminated by descent: write `min by descent(steps = 30, rate = 0.1)`, or leave the elimination out"),
                    );
                    None
                }
                _ => {
                    self.unknown_method(m, "elimination", &["descent", "enumerate"]);
                    None
                }
            },
            Some(ast::Elim::Marginal(m)) => {
                let beta = self.args(m, MARGINAL, false)?.values[0];
                if beta.is_infinite() {
                    return Some(default());
                }
                if !discrete {
                    self.error(
                        Diagnostic::new(Code::MarginalReal, m.span, format!("expected `beta = inf` on the real latent `{}`, found beta = {}", name.name, fmt_num(beta)))
                            .label("no estimator for a finite β over a real latent")
                            .secondary(name.span, format!("`{}` is `{t}`", name.name))
                            .help("use `min by descent(…)` (β = ∞), or make the latent `class[k]` for an exact marginal"),
                    );
                    return None;
                }
                Some(Elim::Marginal { beta })
            }
        }
    }

    /// Loss, inference, training and data, each at most once.
    pub(super) fn check_clauses(&mut self) -> Option<Clauses> {
        let mut firsts: [Option<Span>; 4] = [None; 4];
        let mut ok = true;
        let (mut loss_decl, mut infer_decl, mut train_decl, mut data_decl) =
            (None, None, None, None);
        for d in &self.ast.decls {
            let (slot, what) = match &d.kind {
                DeclKind::Loss { .. } => (0, "loss"),
                DeclKind::Infer { .. } => (1, "infer"),
                DeclKind::Train { .. } => (2, "train"),
                DeclKind::Data(_) => (3, "data"),
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
                _ => data_decl = Some(d),
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
        ok.then_some(Clauses {
            loss,
            infer: infer?,
            train,
            data,
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

    fn loss(&mut self, d: &ast::Decl, outputs: &[usize]) -> Option<Loss> {
        let DeclKind::Loss {
            method: m,
            negatives,
        } = &d.kind
        else {
            unreachable!()
        };
        let kind = match m.name.name.as_str() {
            "energy" => self.no_args(m).map(|_| LossKind::Energy),
            "perceptron" => self.no_args(m).map(|_| LossKind::Perceptron),
            "log" => self.no_args(m).map(|_| LossKind::Log),
            "mce" => self.no_args(m).map(|_| LossKind::Mce),
            "hinge" => self
                .args(m, &[arg("margin", Range::NonNegative, Some(1.0))], false)
                .map(|a| LossKind::Hinge {
                    margin: a.values[0],
                }),
            "lvq2" => self
                .args(m, &[arg("delta", Range::Positive, Some(0.1))], false)
                .map(|a| LossKind::Lvq2 { delta: a.values[0] }),
            "square_square" => self
                .args(m, &[arg("margin", Range::NonNegative, Some(1.0))], false)
                .map(|a| LossKind::SquareSquare {
                    margin: a.values[0],
                }),
            "square_exp" => self
                .args(m, &[arg("gamma", Range::Positive, Some(1.0))], false)
                .map(|a| LossKind::SquareExp { gamma: a.values[0] }),
            "nll" => self
                .args(m, &[arg("beta", Range::Positive, Some(1.0))], false)
                .map(|a| LossKind::Nll { beta: a.values[0] }),
            "mee" => self
                .args(m, &[arg("beta", Range::Positive, Some(1.0))], false)
                .map(|a| LossKind::Mee { beta: a.values[0] }),
            other => {
                let help = match did_you_mean(other, LOSSES.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "losses are {}",
                        LOSSES
                            .iter()
                            .map(|l| format!("`{l}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.error(
                    Diagnostic::new(
                        Code::UnknownLoss,
                        m.name.span,
                        format!("expected a loss, found `{other}`"),
                    )
                    .label("unknown loss")
                    .help(help),
                );
                None
            }
        }?;
        let real: Vec<usize> = outputs
            .iter()
            .copied()
            .filter(|&i| !self.var(i).ty.is_discrete())
            .collect();
        let discrete = outputs.len() - real.len();
        if (kind.needs_negative() || kind.sums_answers()) && !real.is_empty() && discrete > 0 {
            let r = self.var(real[0]).name.clone();
            self.error(
                Diagnostic::new(Code::MixedOutputs, m.span, format!("expected outputs of one kind for `{}`, found real and discrete outputs together", kind.name()))
                    .secondary(self.var(real[0]).span, format!("`{r}` is real"))
                    .help("split the model, or make every output real or every output discrete"),
            );
            return None;
        }
        if kind.sums_answers() && !real.is_empty() {
            let v = self.var(real[0]);
            self.error(
                Diagnostic::new(Code::LossSumsReal, m.span, format!("expected a class or sign output for `{}`, found `{}` of type `{}`", kind.name(), v.name, v.ty))
                    .label(format!("`{}` sums over every answer", kind.name()))
                    .secondary(v.span, format!("`{}` has infinitely many answers", v.name))
                    .help("use a contrastive loss such as `hinge(margin = 1) negatives descent(…)`, or `energy`"),
            );
            return None;
        }
        let negatives = match negatives {
            None if kind.needs_negative() && !real.is_empty() => {
                let v = self.var(real[0]);
                self.error(
                    Diagnostic::new(Code::LossNeedsNegatives, m.span, format!("expected a `negatives` clause for `{}` on the real output `{}`, found none", kind.name(), v.name))
                        .label(format!("`{}` needs the most offending answer ȳ", kind.name()))
                        .secondary(v.span, format!("`{}` is `{}`", v.name, v.ty))
                        .help("add `negatives descent(steps = 20, rate = 0.1, radius = 0.5)` or `negatives shuffle`"),
                );
                return None;
            }
            None => None,
            Some(n) if !kind.needs_negative() || real.is_empty() => {
                let why = if real.is_empty() {
                    "ȳ is found exactly by enumerating the outputs"
                } else {
                    "this loss does not use ȳ"
                };
                self.error(
                    Diagnostic::new(
                        Code::NegativesUnused,
                        n.span,
                        format!(
                            "expected no `negatives` clause for `{}` here, found one",
                            kind.name()
                        ),
                    )
                    .label("not used")
                    .help(format!("remove it: {why}")),
                );
                return None;
            }
            Some(n) => match n.name.name.as_str() {
                "descent" => {
                    let a = self.args(n, NEGATIVES_DESCENT, false)?;
                    Some(Negatives::Descent {
                        steps: a.values[0] as usize,
                        rate: a.values[1],
                        radius: a.values[2],
                    })
                }
                "shuffle" => {
                    self.no_args(n)?;
                    Some(Negatives::Shuffle)
                }
                _ => {
                    self.unknown_method(n, "negatives", &["descent", "shuffle"]);
                    return None;
                }
            },
        };
        Some(Loss {
            kind,
            negatives,
            span: d.span,
        })
    }

    /// The inference groups: the `infer` clause, then defaults for outputs it does not name.
    fn infer(&mut self, decl: Option<&ast::Decl>, outputs: &[usize]) -> Option<Vec<Infer>> {
        let mut groups = Vec::new();
        let mut covered: Vec<usize> = Vec::new();
        if let Some(d) = decl {
            let DeclKind::Infer { vars, method } = &d.kind else {
                unreachable!()
            };
            let mut ids = Vec::new();
            let mut ok = true;
            for v in vars {
                match self.names.get(v.name.as_str()).copied() {
                    Some((Sym::Var(i), _)) if matches!(self.vars.get(i), Some(Some(x)) if matches!(x.role, Role::Output | Role::Latent)) =>
                    {
                        if covered.contains(&i) {
                            self.error(duplicate_arg(&v.name, v.span, v.span));
                            ok = false;
                        }
                        covered.push(i);
                        ids.push(i);
                    }
                    Some((Sym::Var(i), _)) if self.vars.get(i).is_some_and(|x| x.is_none()) => {
                        ok = false
                    }
                    Some((_, decl_span)) => {
                        self.error(
                            Diagnostic::new(Code::InferTarget, v.span, format!("expected an output or latent to infer, found `{}`", v.name))
                                .label(format!("`{}` is not inferred", v.name))
                                .secondary(decl_span, format!("`{}` declared here", v.name))
                                .help("inference finds outputs (and latents); inputs are given and params are trained"),
                        );
                        ok = false;
                    }
                    None => {
                        let help = self
                            .suggest(&v.name, &[])
                            .unwrap_or_else(|| "name an output or latent".into());
                        self.error(
                            Diagnostic::new(
                                Code::UnknownName,
                                v.span,
                                format!("expected a known name, found `{}`", v.name),
                            )
                            .label("not declared in this model")
                            .help(help),
                        );
                        ok = false;
                    }
                }
            }
            if !ok {
                return None;
            }
            let m = match method.name.name.as_str() {
                "descent" => {
                    if let Some(&i) = ids.iter().find(|&&i| self.var(i).ty.is_discrete()) {
                        let v = self.var(i);
                        let (n, t, s) = (v.name.clone(), v.ty.clone(), v.span);
                        self.error(
                            descent_discrete(method.name.span, &n, &t)
                                .secondary(s, format!("`{n}` is `{t}`"))
                                .help(format!("discrete variables are found exactly: write `infer {n} by enumerate`, or leave `{n}` out (it is enumerated by default)")),
                        );
                        return None;
                    }
                    InferMethod::Descent(self.descent(method, DESCENT_INFER)?)
                }
                "enumerate" => {
                    if let Some(&i) = ids.iter().find(|&&i| !self.var(i).ty.is_discrete()) {
                        let v = self.var(i);
                        let (n, t, s) = (v.name.clone(), v.ty.clone(), v.span);
                        self.error(
                            enumerate_real(method.name.span, &n, &t, "variable")
                                .secondary(s, format!("`{n}` is `{t}`"))
                                .help("use `descent(steps = 100, rate = 0.1)` for real variables"),
                        );
                        return None;
                    }
                    self.no_args(method)?;
                    InferMethod::Enumerate
                }
                _ => {
                    self.unknown_method(method, "inference", &["descent", "enumerate"]);
                    return None;
                }
            };
            groups.push(Infer {
                vars: ids.iter().map(|&i| VarId(i as u32)).collect(),
                method: m,
                span: Some(d.span),
            });
        }
        let rest: Vec<usize> = outputs
            .iter()
            .copied()
            .filter(|i| !covered.contains(i))
            .collect();
        let (discrete, real): (Vec<usize>, Vec<usize>) = rest
            .into_iter()
            .partition(|&i| self.var(i).ty.is_discrete());
        if !discrete.is_empty() {
            groups.push(Infer {
                vars: discrete.iter().map(|&i| VarId(i as u32)).collect(),
                method: InferMethod::Enumerate,
                span: None,
            });
        }
        if !real.is_empty() {
            let d = Descent {
                steps: 100,
                rate: 0.1,
                init: Init::Values(vec![0.0]),
                tol: 1e-8,
            };
            groups.push(Infer {
                vars: real.iter().map(|&i| VarId(i as u32)).collect(),
                method: InferMethod::Descent(d),
                span: None,
            });
        }
        Some(groups)
    }

    fn train(&mut self, d: &ast::Decl, has_loss: bool, has_data: bool) -> Option<Train> {
        let DeclKind::Train { method: m } = &d.kind else {
            unreachable!()
        };
        let (optimizer, a) = match m.name.name.as_str() {
            "sgd" => {
                let a = self.args(m, SGD, false)?;
                (
                    Optimizer::Sgd {
                        momentum: a.values[5],
                    },
                    a,
                )
            }
            "adam" => {
                let a = self.args(m, ADAM, false)?;
                (
                    Optimizer::Adam {
                        beta1: a.values[5],
                        beta2: a.values[6],
                        eps: a.values[7],
                    },
                    a,
                )
            }
            _ => {
                self.unknown_method(m, "training", &["sgd", "adam"]);
                return None;
            }
        };
        if !has_loss {
            self.error(
                Diagnostic::new(
                    Code::TrainNeedsLoss,
                    d.span,
                    "expected a `loss` to train with, found none",
                )
                .help("add a loss, e.g. `loss energy` or `loss nll(beta = 1)`"),
            );
            return None;
        }
        if !has_data {
            self.error(
                Diagnostic::new(
                    Code::TrainWithoutData,
                    d.span,
                    "expected a `data` clause to train on, found none",
                )
                .help("training runs only with data; add `data \"file.csv\" { … }`"),
            );
        }
        Some(Train {
            optimizer,
            rate: a.values[0],
            epochs: a.values[1] as usize,
            batch: a.values[2] as usize,
            seed: a.values[3] as u64,
            l2: a.values[4],
            span: d.span,
        })
    }

    fn data(&mut self, data: &ast::Data) -> Option<Data> {
        let mut ok = true;
        let mut bindings: Vec<DataBinding> = Vec::new();
        let mut bound: Vec<(usize, Span)> = Vec::new();
        for b in &data.bindings {
            let candidates: Vec<String> = self
                .var_decls
                .iter()
                .filter_map(|d| match &d.kind {
                    DeclKind::Var {
                        role: Role::Input | Role::Output,
                        name,
                        ..
                    } => Some(name.name.clone()),
                    _ => None,
                })
                .collect();
            let i = match self.names.get(b.var.name.as_str()).copied() {
                Some((Sym::Var(i), _))
                    if matches!(
                        &self.var_decls[i].kind,
                        DeclKind::Var {
                            role: Role::Input | Role::Output,
                            ..
                        }
                    ) =>
                {
                    i
                }
                found => {
                    let what = match found {
                        Some((Sym::Var(i), _)) => match &self.var_decls[i].kind {
                            DeclKind::Var { role, .. } => {
                                format!("the {} `{}`", role.keyword(), b.var.name)
                            }
                            _ => unreachable!(),
                        },
                        Some(_) => format!("`{}`, which is not a variable", b.var.name),
                        None => format!("`{}`, which is not declared", b.var.name),
                    };
                    let help = did_you_mean(&b.var.name, candidates.iter().map(|s| s.as_str()))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "data columns bind inputs and outputs; params are trained, latents inferred".into());
                    let mut d = Diagnostic::new(
                        Code::DataBinding,
                        b.var.span,
                        format!("expected an input or output to bind, found {what}"),
                    )
                    .help(help);
                    if let Some((_, decl)) = found {
                        d = d.secondary(decl, "declared here");
                    }
                    self.error(d);
                    ok = false;
                    continue;
                }
            };
            if let Some((_, first)) = bound.iter().find(|(j, _)| *j == i) {
                self.error(duplicate_arg(&b.var.name, b.span, *first));
                ok = false;
                continue;
            }
            bound.push((i, b.span));
            let col = |c: &ast::Column| match &c.kind {
                ast::ColumnKind::Name(n) => Column::Name(n.clone()),
                ast::ColumnKind::Index(k) => Column::Index(*k),
            };
            bindings.push(DataBinding {
                var: VarId(i as u32),
                first: col(&b.first),
                last: b.last.as_ref().map(col),
                span: b.span,
            });
        }
        for i in self
            .var_indices(Role::Input)
            .into_iter()
            .chain(self.var_indices(Role::Output))
        {
            if !bound.iter().any(|(j, _)| *j == i) && ok {
                let v = self.var(i);
                let (name, vspan, role) = (v.name.clone(), v.span, v.role);
                self.error(
                    Diagnostic::new(Code::DataMissing, data.path_span, format!("expected a column for the {} `{name}`, found none", role.keyword()))
                        .label(format!("no binding for `{name}`"))
                        .secondary(vspan, "declared here")
                        .help(format!("add `{name} = column` (a header name, a 0-based index, or a range `first..last`)")),
                );
                ok = false;
            }
        }
        let split = match &data.split {
            Some(e) => match self.const_eval(e) {
                Some(f) if f > 0.0 && f <= 1.0 => Some(f),
                Some(f) => {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            e.span,
                            format!(
                                "expected a training fraction in (0, 1], found {}",
                                fmt_num(f)
                            ),
                        )
                        .help("`split 0.8` trains on 80 % of the rows and tests on the rest"),
                    );
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let mut standardize = Vec::new();
        for s in &data.standardize {
            let found = bound
                .iter()
                .find(|(j, _)| self.vars[*j].as_ref().is_some_and(|v| v.name == s.name))
                .map(|(j, _)| *j);
            match found {
                Some(i) if !self.var(i).ty.is_discrete() => {
                    if standardize.contains(&VarId(i as u32)) {
                        self.error(duplicate_arg(&s.name, s.span, s.span));
                        ok = false;
                    }
                    standardize.push(VarId(i as u32));
                }
                Some(i) => {
                    let t = self.var(i).ty.clone();
                    self.error(
                        Diagnostic::new(
                            Code::Standardize,
                            s.span,
                            format!(
                                "expected a real variable to standardize, found `{}` of type `{t}`",
                                s.name
                            ),
                        )
                        .help("class and sign values are labels; only real columns are z-scored"),
                    );
                    ok = false;
                }
                None => {
                    self.error(
                        Diagnostic::new(
                            Code::Standardize,
                            s.span,
                            format!(
                                "expected a variable bound in this `data` clause, found `{}`",
                                s.name
                            ),
                        )
                        .help("standardize names inputs or outputs bound to columns above"),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| Data {
            path: data.path.clone(),
            path_span: data.path_span,
            bindings,
            split,
            standardize,
        })
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
}

fn enumerate_real(span: Span, name: &str, t: &Ty, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::EnumerateReal,
        span,
        format!("expected a class or sign {what} to enumerate, found `{name}` of type `{t}`"),
    )
    .label("a real variable has infinitely many values")
}
