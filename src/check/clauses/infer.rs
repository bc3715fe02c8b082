//! The `infer` clause: the outputs and latents it names, by a method that suits their types;
//! every output it leaves out gets a default group (enumerate if discrete, else descent).

use super::*;

pub(super) const DESCENT_INFER: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(100.0)),
    arg("rate", Range::Positive, Some(0.1)),
    arg("tol", Range::NonNegative, Some(1e-8)),
];
/// `enumerate(beta = 1)`: the β of the probabilities reported beside the answer.
pub(super) const ENUMERATE_INFER: &[ArgSpec] = &[arg("beta", Range::Positive, Some(1.0))];

pub(super) const LANGEVIN: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(100.0)),
    arg("rate", Range::Positive, Some(0.01)),
    arg("beta", Range::Positive, Some(1.0)),
];

pub(super) const HMC: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(100.0)),
    arg("leapfrog", Range::Int(1), Some(10.0)),
    arg("rate", Range::Positive, Some(0.05)),
    arg("beta", Range::Positive, Some(1.0)),
];

pub(super) const GIBBS: &[ArgSpec] = &[
    arg("sweeps", Range::Int(1), Some(10.0)),
    arg("beta", Range::Positive, Some(1.0)),
];

/// The methods of `infer`, for "did you mean" and the list in a help line.
const INFER_METHODS: &[&str] = &["descent", "enumerate", "langevin", "hmc", "gibbs"];

impl<'a> Checker<'a> {
    /// The inference groups: the `infer` clause, then defaults for outputs it does not name.
    pub(super) fn infer(
        &mut self,
        decl: Option<&ast::Decl>,
        outputs: &[usize],
    ) -> Option<Vec<Infer>> {
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
            let mut beta = None;
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
                    let a = self.args(method, ENUMERATE_INFER, false)?;
                    // Probabilities only when asked for: the default β is for editors.
                    if method
                        .args
                        .iter()
                        .any(|a| a.name.as_ref().is_some_and(|n| n.name == "beta"))
                    {
                        beta = Some(a.values[0]);
                    }
                    InferMethod::Enumerate
                }
                "langevin" | "hmc" | "gibbs" => {
                    InferMethod::Sample(self.sampler(method, &ids, Clause::Infer)?)
                }
                _ => {
                    self.unknown_method(method, "inference", INFER_METHODS);
                    return None;
                }
            };
            groups.push(Infer {
                vars: ids.iter().map(|&i| VarId(i as u32)).collect(),
                method: m,
                beta,
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
                beta: None,
                span: None,
            });
        }
        if let (Some(sampled), Some(d)) = (
            groups
                .iter()
                .find(|g| matches!(g.method, InferMethod::Sample(_))),
            decl,
        ) {
            // A sampler draws from the joint distribution of what it names: an output it
            // leaves to another method, or a latent minimised inside every evaluation, would
            // make its draws those of another distribution.
            let left = rest_names(self, outputs, &sampled.vars);
            let inner = self
                .vars
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_ref().map(|v| (i, v)))
                .find(|(i, v)| {
                    matches!(v.elim, Some(Elim::MinDescent(_)))
                        && !sampled.vars.contains(&VarId(*i as u32))
                });
            let DeclKind::Infer { method, .. } = &d.kind else {
                unreachable!()
            };
            let name = method.name.name.clone();
            if let Some(first) = left.first() {
                self.error(
                    Diagnostic::new(
                        Code::SamplerScope,
                        method.name.span,
                        format!("expected `{name}` to draw every output, found `{first}` left out"),
                    )
                    .label(format!("`{name}` draws only the variables it names"))
                    .help(format!(
                        "a sample is of every output together: name {} in this `infer`",
                        left.iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                return None;
            }
            if let Some((_, v)) = inner {
                let (vn, vs) = (v.name.clone(), v.span);
                self.error(
                    Diagnostic::new(
                        Code::SamplerScope,
                        method.name.span,
                        format!(
                            "expected `{name}` to sample the latents, found `{vn}` minimised by descent"
                        ),
                    )
                    .label(format!("`{name}` would draw from `min_{vn} E`"))
                    .secondary(vs, format!("`{vn}` is eliminated by `min by descent`"))
                    .help(format!(
                        "sample `{vn}` with the outputs (`infer …, {vn} by {name}`), or eliminate it in closed form"
                    )),
                );
                return None;
            }
            return Some(groups);
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
                beta: None,
                span: None,
            });
        }
        Some(groups)
    }

    /// A sampler's arguments, for the variables `ids` it draws: `langevin` and `hmc` move real
    /// variables by the gradient, `gibbs` redraws discrete ones from their conditionals.
    pub(super) fn sampler(
        &mut self,
        method: &ast::Method,
        ids: &[usize],
        clause: Clause,
    ) -> Option<Sampler> {
        let name = method.name.name.as_str();
        let gradient = name != "gibbs";
        if let Some(&i) = ids
            .iter()
            .find(|&&i| self.var(i).ty.is_discrete() == gradient)
        {
            let v = self.var(i);
            let (n, t, s) = (v.name.clone(), v.ty.clone(), v.span);
            let d = if gradient {
                Diagnostic::new(
                    Code::SamplerDiscrete,
                    method.name.span,
                    format!("expected real variables for `{name}`, found `{n}` of type `{t}`"),
                )
                .label(format!("`{name}` follows the gradient, which `{t}` has not"))
                .help(format!(
                    "discrete variables are sampled from their exact conditionals: `{} {n} by gibbs(sweeps = 10)`",
                    clause.keyword()
                ))
            } else {
                Diagnostic::new(
                    Code::GibbsReal,
                    method.name.span,
                    format!("expected `sign` or `class` variables for `gibbs`, found `{n}` of type `{t}`"),
                )
                .label("`gibbs` enumerates each coordinate's values")
                .help(format!(
                    "a real variable is sampled along the gradient: `{} {n} by langevin(steps = 100, rate = 0.01)`",
                    clause.keyword()
                ))
            };
            self.error(d.secondary(s, format!("`{n}` is `{t}`")));
            return None;
        }
        match name {
            "langevin" => {
                let a = self.args(method, LANGEVIN, true)?;
                Some(Sampler::Langevin {
                    steps: a.values[0] as usize,
                    rate: a.values[1],
                    beta: a.values[2],
                    init: a.init.unwrap_or(STANDARD_NORMAL),
                })
            }
            "hmc" => {
                let a = self.args(method, HMC, true)?;
                Some(Sampler::Hmc {
                    steps: a.values[0] as usize,
                    leapfrog: a.values[1] as usize,
                    rate: a.values[2],
                    beta: a.values[3],
                    init: a.init.unwrap_or(STANDARD_NORMAL),
                })
            }
            _ => {
                // `init = uniform` (the only start a discrete chain has) is accepted as written;
                // everything else goes through the argument table.
                let mut m = method.clone();
                let mut bad = None;
                m.args.retain(|a| match &a.name {
                    Some(n) if n.name == "init" => {
                        if !matches!(&a.value.kind, ast::ExprKind::Name(u) if u == "uniform") {
                            bad = Some(a.value.span);
                        }
                        false
                    }
                    _ => true,
                });
                if let Some(span) = bad {
                    self.error(
                        Diagnostic::new(
                            Code::ArgumentRange,
                            span,
                            "expected `init = uniform` for `gibbs`, found another start",
                        )
                        .label("a discrete chain starts uniformly at random")
                        .help("write `init = uniform`, or leave `init` out"),
                    );
                    return None;
                }
                let a = self.args(&m, GIBBS, false)?;
                Some(Sampler::Gibbs {
                    sweeps: a.values[0] as usize,
                    beta: a.values[1],
                    blocks: Vec::new(),
                })
            }
        }
    }
}

/// `normal(0, 1)`: where `langevin` and `hmc` chains start by default.
const STANDARD_NORMAL: Init = Init::Normal {
    mean: 0.0,
    std: 1.0,
};

/// The names of the outputs not in `vars`.
fn rest_names(c: &Checker, outputs: &[usize], vars: &[VarId]) -> Vec<String> {
    outputs
        .iter()
        .filter(|&&i| !vars.contains(&VarId(i as u32)))
        .map(|&i| c.var(i).name.clone())
        .collect()
}
