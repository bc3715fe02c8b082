//! The `train` clause: an optimizer (`sgd` or `adam`) with its arguments. Training needs a
//! `loss`; training without a `data` clause is only a warning.

use super::*;

pub(super) const SGD: &[ArgSpec] = &[
    arg("rate", Range::Positive, None),
    arg("epochs", Range::Int(1), None),
    arg("batch", Range::Int(1), Some(32.0)),
    arg("seed", Range::Int(0), Some(0.0)),
    arg("l2", Range::NonNegative, Some(0.0)),
    arg("momentum", Range::Unit, Some(0.0)),
];
pub(super) const ADAM: &[ArgSpec] = &[
    arg("rate", Range::Positive, None),
    arg("epochs", Range::Int(1), None),
    arg("batch", Range::Int(1), Some(32.0)),
    arg("seed", Range::Int(0), Some(0.0)),
    arg("l2", Range::NonNegative, Some(0.0)),
    arg("beta1", Range::Unit, Some(0.9)),
    arg("beta2", Range::Unit, Some(0.999)),
    arg("eps", Range::Positive, Some(1e-8)),
];

impl<'a> Checker<'a> {
    pub(super) fn train(&mut self, d: &ast::Decl, has_loss: bool, has_data: bool) -> Option<Train> {
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
            seed: a.exact[3].unwrap_or(a.values[3] as u64),
            l2: a.values[4],
            span: d.span,
        })
    }
}
