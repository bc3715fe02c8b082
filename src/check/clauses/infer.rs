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
                _ => {
                    self.unknown_method(method, "inference", &["descent", "enumerate"]);
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
}
