//! The `loss` clause: a known loss with its arguments, suited to the model's outputs, and a
//! `negatives` clause exactly when the loss needs ȳ and cannot enumerate it.

use super::*;

pub(super) const HINGE: &[ArgSpec] = &[arg("margin", Range::NonNegative, Some(1.0))];
pub(super) const LVQ2: &[ArgSpec] = &[arg("delta", Range::Positive, Some(0.1))];
pub(super) const SQUARE_SQUARE: &[ArgSpec] = &[arg("margin", Range::NonNegative, Some(1.0))];
pub(super) const SQUARE_EXP: &[ArgSpec] = &[arg("gamma", Range::Positive, Some(1.0))];
pub(super) const BETA: &[ArgSpec] = &[arg("beta", Range::Positive, Some(1.0))];
pub(super) const NEGATIVES_DESCENT: &[ArgSpec] = &[
    arg("steps", Range::Int(1), Some(20.0)),
    arg("rate", Range::Positive, Some(0.1)),
    arg("radius", Range::NonNegative, Some(0.5)),
];
pub(super) const CD: &[ArgSpec] = &[arg("alpha", Range::NonNegative, Some(0.0))];
pub(super) const DSM: &[ArgSpec] = &[arg("sigma", Range::Positive, Some(0.1))];
pub(super) const NCE: &[ArgSpec] = &[arg("ratio", Range::Positive, Some(1.0))];
pub(super) const LOSSES: &[&str] = &[
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
    "cd",
    "dsm",
    "nce",
];
/// The chain-buffer arguments `negatives langevin(…)` takes for `cd`, beside the sampler's.
pub(super) const CHAINS: &[ArgSpec] = &[
    arg("persistent", Range::Int(1), None),
    arg("reinit", Range::Unit, Some(0.05)),
];

impl<'a> Checker<'a> {
    pub(super) fn loss(&mut self, d: &ast::Decl, outputs: &[usize]) -> Option<Loss> {
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
            "hinge" => self.args(m, HINGE, false).map(|a| LossKind::Hinge {
                margin: a.values[0],
            }),
            "lvq2" => self
                .args(m, LVQ2, false)
                .map(|a| LossKind::Lvq2 { delta: a.values[0] }),
            "square_square" => self
                .args(m, SQUARE_SQUARE, false)
                .map(|a| LossKind::SquareSquare {
                    margin: a.values[0],
                }),
            "square_exp" => self
                .args(m, SQUARE_EXP, false)
                .map(|a| LossKind::SquareExp { gamma: a.values[0] }),
            "nll" => self
                .args(m, BETA, false)
                .map(|a| LossKind::Nll { beta: a.values[0] }),
            "mee" => self
                .args(m, BETA, false)
                .map(|a| LossKind::Mee { beta: a.values[0] }),
            "cd" => self
                .args(m, CD, false)
                .map(|a| LossKind::Cd { alpha: a.values[0] }),
            "dsm" => self
                .args(m, DSM, false)
                .map(|a| LossKind::Dsm { sigma: a.values[0] }),
            "nce" => self.args_with(m, NCE, Some("noise")).and_then(|a| {
                let noise = match a.init {
                    None => Noise::Normal {
                        mean: 0.0,
                        std: 1.0,
                    },
                    Some(Init::Normal { mean, std }) => Noise::Normal { mean, std },
                    Some(Init::Uniform { lo, hi }) => Noise::Uniform { lo, hi },
                    Some(_) => {
                        let at = m
                            .args
                            .iter()
                            .find(|a| a.name.as_ref().is_some_and(|n| n.name == "noise"))
                            .map_or(m.span, |a| a.value.span);
                        self.error(
                            Diagnostic::new(
                                Code::ArgumentRange,
                                at,
                                "expected a noise distribution with a density, found another value".to_string(),
                            )
                            .label("not a distribution nce can sample and evaluate")
                            .help("`noise` takes `normal(mean, std)` or `uniform(lo, hi)`, e.g. `noise = normal(0, 1)`"),
                        );
                        return None;
                    }
                };
                Some(LossKind::Nce {
                    noise,
                    ratio: a.values[0],
                })
            }),
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
        if !self.density_loss_fits(kind, m, outputs, &real, negatives.as_ref()) {
            return None;
        }
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
        if let LossKind::Cd { .. } = kind {
            let Some(n) = negatives else {
                let v = self.var(real[0]);
                self.error(
                    Diagnostic::new(Code::LossNeedsNegatives, m.span, format!("expected a `negatives` sampler for `cd` on the real output `{}`, found none", v.name))
                        .label("`cd` pushes up samples of the model")
                        .secondary(v.span, format!("`{}` is `{}`", v.name, v.ty))
                        .help("add `negatives langevin(steps = 10, rate = 0.01)`, with `persistent = 10000` for persistent chains"),
                );
                return None;
            };
            let negatives = self.sample_negatives(n, outputs)?;
            return Some(Loss {
                kind,
                negatives: Some(negatives),
                span: d.span,
            });
        }
        let negatives = match negatives {
            None if kind.is_density_loss() => None,
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
                let why = if kind.is_density_loss() {
                    "this loss draws its own points (ỹ for `dsm`, noise for `nce`)"
                } else if real.is_empty() {
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
}

impl<'a> Checker<'a> {
    /// The density-model rules of spec section 13: `dsm` and `nce` need real outputs and no
    /// real latent eliminated by descent; `nce`'s one trained `log Z` needs a density model;
    /// and on a density model the losses that compare `y_i` with another answer for the same
    /// input (margin losses, `perceptron`) have no input to condition on.
    fn density_loss_fits(
        &mut self,
        kind: LossKind,
        m: &ast::Method,
        outputs: &[usize],
        real: &[usize],
        negatives: Option<&ast::Method>,
    ) -> bool {
        let inputs = self.var_indices(Role::Input);
        let density = inputs.is_empty();
        // `cd` draws discrete outputs by `gibbs` (an RBM's CD-k); the other density losses
        // move or perturb real ones.
        let gibbs = negatives.is_some_and(|n| n.name.name == "gibbs");
        if kind.is_density_loss() && !(gibbs && matches!(kind, LossKind::Cd { .. })) {
            if let Some(&i) = outputs.iter().find(|&&i| self.var(i).ty.is_discrete()) {
                let v = self.var(i);
                self.error(
                    Diagnostic::new(
                        Code::LossNeedsReal,
                        m.span,
                        format!(
                            "expected real outputs for `{}`, found `{}` of type `{}`",
                            kind.name(),
                            v.name,
                            v.ty
                        ),
                    )
                    .label(format!("`{}` moves or perturbs real outputs", kind.name()))
                    .secondary(v.span, format!("`{}` is discrete", v.name))
                    .help("train discrete outputs by `nll` (exact: every answer is enumerated), or by `cd` with `negatives gibbs(sweeps = 1)`"),
                );
                return false;
            }
            let descended = self
                .var_indices(Role::Latent)
                .into_iter()
                .find(|&i| matches!(self.var(i).elim, Some(Elim::MinDescent(_))));
            if let Some(z) = descended {
                let v = self.var(z);
                self.error(
                    Diagnostic::new(
                        Code::LossRealLatent,
                        m.span,
                        format!(
                            "expected no real latent minimised by descent for `{}`, found `{}`",
                            kind.name(),
                            v.name
                        ),
                    )
                    .label(format!(
                        "`{}` differentiates the free energy in closed form",
                        kind.name()
                    ))
                    .secondary(
                        v.span,
                        format!("`{}` is found by descent at run time", v.name),
                    )
                    .help("make the latent discrete (`class[k]`, eliminated exactly)"),
                );
                return false;
            }
        }
        if let (LossKind::Nce { .. }, Some(&x)) = (kind, inputs.first()) {
            let v = self.var(x);
            self.error(
                Diagnostic::new(
                    Code::LossNeedsDensity,
                    m.span,
                    "expected a density model (no `input`) for `nce`, found a model with inputs"
                        .to_string(),
                )
                .label("`nce` trains one scalar `log Z`")
                .secondary(
                    v.span,
                    format!("`{}` is an input: Z(x) depends on it", v.name),
                )
                .help("train a conditional model with `dsm(sigma = 0.1)` or a contrastive loss"),
            );
            return false;
        }
        let compares = kind.needs_negative() || kind == LossKind::Perceptron;
        if density && compares && !real.is_empty() {
            let what = match negatives.map(|n| n.name.name.as_str()) {
                Some("shuffle") => "`negatives shuffle` takes other rows' answers, which in a density model are data too",
                _ => "the most offending answer of a density model is another mode of the data",
            };
            self.error(
                Diagnostic::new(
                    Code::LossNeedsInputs,
                    m.span,
                    format!(
                        "expected a model with inputs for `{}`, found a density model (outputs only)",
                        kind.name()
                    ),
                )
                .label(format!("`{}` pushes up a wrong answer for the same input", kind.name()))
                .help(format!(
                    "{what}: train a density model with `dsm(sigma = 0.1)` or `nce(noise = normal(0, 1))`"
                )),
            );
            return false;
        }
        true
    }
}

impl<'a> Checker<'a> {
    /// `negatives langevin(…) | hmc(…)` of `cd`: the sampler's own arguments, and
    /// `persistent = N`, `reinit = 0.05` for a persistent buffer of chains.
    fn sample_negatives(&mut self, n: &ast::Method, outputs: &[usize]) -> Option<Negatives> {
        if !matches!(n.name.name.as_str(), "langevin" | "hmc" | "gibbs") {
            self.unknown_method(n, "sampler for `cd`", &["langevin", "hmc", "gibbs"]);
            return None;
        }
        let is_chain_arg = |a: &ast::Arg| {
            a.name
                .as_ref()
                .is_some_and(|x| matches!(x.name.as_str(), "persistent" | "reinit"))
        };
        let mut sampler_method = n.clone();
        sampler_method.args.retain(|a| !is_chain_arg(a));
        let mut chain_method = n.clone();
        chain_method.args.retain(is_chain_arg);
        let sampler = self.sampler(&sampler_method, outputs, Clause::Negatives)?;
        let persistent = chain_method
            .args
            .iter()
            .any(|a| a.name.as_ref().is_some_and(|x| x.name == "persistent"));
        let a = if persistent {
            self.args(&chain_method, CHAINS, false)?
        } else {
            // `reinit` without `persistent`: every CD-k chain starts at its label anyway.
            if let Some(r) = chain_method.args.first() {
                self.error(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        r.span,
                        "expected `reinit` only with `persistent = N`, found it alone".to_string(),
                    )
                    .label("no persistent chains to restart")
                    .help("add `persistent = 10000` (a buffer of chains kept across steps), or remove `reinit`"),
                );
                return None;
            }
            Args {
                values: vec![0.0, 0.0],
                exact: vec![None, None],
                init: None,
            }
        };
        Some(Negatives::Sample {
            sampler,
            persistent: persistent.then_some(a.values[0] as usize),
            reinit: a.values[1],
        })
    }
}
