//! Latent elimination: `min by descent(…)`, `min by enumerate` or `marginal(beta = …)` after
//! a latent's type, checked against the latent's type, with defaults when none is written.

use super::*;

pub(super) const DESCENT_ELIM: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(30.0)),
    arg("rate", Range::Positive, Some(0.1)),
    arg("tol", Range::NonNegative, Some(1e-8)),
];
pub(super) const MARGINAL: &[ArgSpec] = &[arg("beta", Range::PositiveOrInf, Some(1.0))];

impl<'a> Checker<'a> {
    /// A latent's elimination, defaults filled in.
    pub(in crate::check) fn elim(
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
}
