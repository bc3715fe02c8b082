//! What a run reports: loss, accuracy, RMSE and R², and the metrics JSON of spec section 10.
//!
//! The functions take predictions and truths as flat buffers (rows × elements, as
//! [`super::data`] stores them) and return `None` for an empty set rather than a NaN that would
//! look like a result. Predictions of a standardized output must be mapped back to data units
//! (with the truths) before they get here, so that RMSE is in the data's units.
//!
//! The JSON ([`Report`]):
//! * with data: `{"train": {"loss": …, "accuracy": …}, "test": {…}}`, `rmse` and `r2` instead
//!   of `accuracy` for a real output. `test` is left out when the test set is empty (`split 1`)
//!   and `loss` when the model has no loss. A model with several outputs reports each under
//!   its name: `{"train": {"loss": …, "y": {"accuracy": …}, "z": {"rmse": …, "r2": …}}}`;
//! * without data: `{"infer": {"y": …, "energy": …}}` with every inferred variable, nested by
//!   shape as in weights files;
//! * JSON has no NaN or infinity: a non-finite number (a diverged loss) is written as `null`
//!   so that the file of a failed run can still be read.
//!
//! The file is written with [`crate::atomic::write`].

use crate::types::Ty;
use serde_json::{Map, Number, Value};
use std::fmt;
use std::path::Path;

/// The mean of `xs`; `None` when empty.
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The Gibbs distribution over answers of free energies `energies` at inverse temperature
/// `beta`, as log-probabilities: `log P_k = −β E_k − log Σ_j exp(−β E_j)`, the sum taken as
/// a log-sum-exp from the largest term, so that no energy overflows or underflows it. An
/// answer of infinite energy has probability 0 (log −inf); `NaN` when every energy is
/// infinite or one is NaN.
pub fn log_probabilities(energies: &[f64], beta: f64) -> Vec<f64> {
    let scaled: Vec<f64> = energies.iter().map(|e| -beta * e).collect();
    let lse = log_sum_exp(&scaled);
    scaled.iter().map(|s| s - lse).collect()
}

/// `log Σ exp(x)` from the largest term; −inf for an empty or all −inf `xs`.
fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY || m.is_nan() {
        return if xs.iter().any(|x| x.is_nan()) {
            f64::NAN
        } else {
            m
        };
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// The log-probabilities of one output's values from those of the joint answers of several
/// outputs, `joint` row-major over outputs of `radices` answers each: the others summed out
/// (in log space). For one output, `joint` itself.
pub fn marginal_log_probabilities(joint: &[f64], radices: &[usize], which: usize) -> Vec<f64> {
    if radices.len() == 1 {
        return joint.to_vec();
    }
    let inner: usize = radices[which + 1..].iter().product();
    let n = radices[which];
    (0..n)
        .map(|v| {
            let terms: Vec<f64> = joint
                .iter()
                .enumerate()
                .filter(|(k, _)| (k / inner) % n == v)
                .map(|(_, &l)| l)
                .collect();
            log_sum_exp(&terms)
        })
        .collect()
}

/// Equal-width bins of the top answer's probability for [`Calibration::ece`].
pub const ECE_BINS: usize = 15;

/// How well a discrete output's probabilities match its outcomes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// The mean of `−log P(y_i | x_i)` over the examples (natural log).
    pub log_loss: f64,
    /// Expected calibration error of the top answer: the examples put in [`ECE_BINS`]
    /// equal-width bins of the top answer's probability `p̂`, and
    /// `Σ_bins (n_b / N) · |accuracy_b − mean p̂_b|`.
    pub ece: f64,
}

impl Calibration {
    /// From rows × `k` log-probabilities and each row's true answer (`truth[r] < k`); `None`
    /// for no rows. The top answer of a row is its most probable (the first on ties).
    pub fn of(log_p: &[f64], k: usize, truth: &[usize]) -> Option<Calibration> {
        assert_eq!(log_p.len(), truth.len() * k, "calibration: rows × answers");
        let rows = truth.len();
        if rows == 0 || k == 0 {
            return None;
        }
        let mut loss = 0.0;
        let mut count = [0usize; ECE_BINS];
        let mut hits = [0.0f64; ECE_BINS];
        let mut confidence = [0.0f64; ECE_BINS];
        for (r, &t) in truth.iter().enumerate() {
            let row = &log_p[r * k..(r + 1) * k];
            loss -= row[t];
            let (top, lp) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (i, &x)| if x > b.1 { (i, x) } else { b },
                );
            let p = lp.exp();
            let bin = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
            count[bin] += 1;
            hits[bin] += f64::from(u8::from(top == t));
            confidence[bin] += p;
        }
        let ece = (0..ECE_BINS)
            .map(|b| (hits[b] - confidence[b]).abs())
            .sum::<f64>()
            / rows as f64;
        Some(Calibration {
            log_loss: loss / rows as f64,
            ece,
        })
    }
}

/// The fraction of predictions equal to the truth (class indices or signs).
pub fn accuracy(predicted: &[f64], truth: &[f64]) -> Option<f64> {
    assert_eq!(
        predicted.len(),
        truth.len(),
        "accuracy: predictions and truths differ in length"
    );
    let hits = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    (!truth.is_empty()).then(|| hits as f64 / truth.len() as f64)
}

/// Root mean squared error over every element.
pub fn rmse(predicted: &[f64], truth: &[f64]) -> Option<f64> {
    assert_eq!(
        predicted.len(),
        truth.len(),
        "rmse: predictions and truths differ in length"
    );
    let sq: Vec<f64> = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).powi(2))
        .collect();
    mean(&sq).map(f64::sqrt)
}

/// The coefficient of determination `1 − SS_res / SS_tot` of rows × `width` buffers.
///
/// For a vector output, `SS_tot` sums each element's squared deviations from that element's
/// own mean, and both sums run over all elements: scikit-learn's `r2_score` with
/// `multioutput="variance_weighted"`.
///
/// `None` for an empty set, and when the truths do not vary: R² is then undefined. "Do not
/// vary" allows for rounding: truths mapped back from standardized units, or a constant whose
/// mean is not exact in binary (0.1), leave an `SS_tot` of a few ulps², and dividing by it
/// reported R² = −10¹⁵ for a constant target. (scikit-learn's convention of 1 or 0 there
/// would hide that the question has no answer.)
pub fn r2(predicted: &[f64], truth: &[f64], width: usize) -> Option<f64> {
    assert_eq!(
        predicted.len(),
        truth.len(),
        "r2: predictions and truths differ in length"
    );
    assert!(
        width > 0 && truth.len().is_multiple_of(width),
        "r2: {} values are not rows of {width}",
        truth.len()
    );
    let rows = truth.len() / width;
    if rows == 0 {
        return None;
    }
    let mut means = vec![0.0; width];
    for (i, t) in truth.iter().enumerate() {
        means[i % width] += t / rows as f64;
    }
    let ss_res: f64 = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (t - p).powi(2))
        .sum();
    let ss_tot: f64 = truth
        .iter()
        .enumerate()
        .map(|(i, t)| (t - means[i % width]).powi(2))
        .sum();
    // Rounding leaves each deviation from the mean at most a few ulps of the largest truth.
    let scale = truth.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let rounding = truth.len() as f64 * (64.0 * f64::EPSILON * scale).powi(2);
    if ss_tot.is_nan() || ss_tot <= rounding {
        return None;
    }
    Some(1.0 - ss_res / ss_tot)
}

/// The quality of one output's predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutputMetrics {
    /// `class` and `sign` outputs. The accuracy counts an answer right when all of it is
    /// (every element of a `sign[n]`); the calibration is there when the model's answers have
    /// probabilities (every output discrete).
    Discrete {
        accuracy: f64,
        calibration: Option<Calibration>,
    },
    Real {
        rmse: f64,
        /// `None` when the truths do not vary ([`r2`]): `null` in JSON, `undefined` in the table.
        r2: Option<f64>,
    },
    /// A density model's rows, all outputs together (spec section 13): the mean energy and,
    /// with `partition by`, the mean `−log P(y_i)` in nats ([`super::density`]); when every
    /// output is a `sign`, the pseudo-log-likelihood in nats per row
    /// ([`super::density::pseudo_log_likelihood`]).
    Density {
        energy: f64,
        nll: Option<f64>,
        /// The standard error of `nll` when `log Z` is an estimate (`partition by ais`).
        nll_se: Option<f64>,
        pll: Option<f64>,
    },
}

impl OutputMetrics {
    /// The metrics of predictions of an output of type `ty` (rows × `ty.elements()`); `None` for an
    /// empty set.
    pub fn of(ty: &Ty, predicted: &[f64], truth: &[f64]) -> Option<OutputMetrics> {
        match ty {
            Ty::Class(_) | Ty::Sign(_) => {
                // A row is right when all of its elements are.
                let w = ty.elements().max(1);
                let right: Vec<f64> = predicted
                    .chunks(w)
                    .zip(truth.chunks(w))
                    .map(|(p, t)| f64::from(u8::from(p == t)))
                    .collect();
                mean(&right).map(|accuracy| OutputMetrics::Discrete {
                    accuracy,
                    calibration: None,
                })
            }
            Ty::Real(_) => Some(OutputMetrics::Real {
                rmse: rmse(predicted, truth)?,
                r2: r2(predicted, truth, ty.elements()),
            }),
        }
    }

    /// Writes these metrics into a JSON object, by name (`--metrics`, and each epoch of
    /// `--history`).
    pub(super) fn insert_into(&self, map: &mut Map<String, Value>) {
        match *self {
            OutputMetrics::Discrete {
                accuracy,
                calibration,
            } => {
                map.insert("accuracy".into(), number(accuracy));
                if let Some(c) = calibration {
                    map.insert("log_loss".into(), number(c.log_loss));
                    map.insert("ece".into(), number(c.ece));
                }
            }
            OutputMetrics::Real { rmse, r2 } => {
                map.insert("rmse".into(), number(rmse));
                map.insert("r2".into(), r2.map_or(Value::Null, number));
            }
            OutputMetrics::Density {
                energy,
                nll,
                nll_se,
                pll,
            } => {
                map.insert("energy".into(), number(energy));
                if let Some(nll) = nll {
                    map.insert("nll".into(), number(nll));
                }
                if let Some(se) = nll_se {
                    map.insert("nll_se".into(), number(se));
                }
                if let Some(pll) = pll {
                    map.insert("pll".into(), number(pll));
                }
            }
        }
    }
}

/// The metrics of one set of examples (training or test).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean loss; `None` for a model without a loss.
    pub loss: Option<f64>,
    /// Per output, by name, in declaration order.
    pub outputs: Vec<(String, OutputMetrics)>,
}

impl Evaluation {
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(loss) = self.loss {
            map.insert("loss".into(), number(loss));
        }
        match self.outputs.as_slice() {
            [(_, only)] => only.insert_into(&mut map),
            outputs => {
                for (name, m) in outputs {
                    let mut sub = Map::new();
                    m.insert_into(&mut sub);
                    map.insert(name.clone(), Value::Object(sub));
                }
            }
        }
        Value::Object(map)
    }
}

/// What `ebmc run --metrics` writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// A model with data; `test` is `None` when the test set is empty.
    Data {
        train: Evaluation,
        test: Option<Evaluation>,
    },
    /// A model without data: every inferred variable `(name, type, values)` and the energy there.
    Infer {
        values: Vec<(String, Ty, Vec<f64>)>,
        energy: f64,
    },
}

/// A metrics file that could not be written.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsError {
    pub file: String,
    pub reason: String,
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot write the metrics: {}",
            self.file, self.reason
        )
    }
}

impl std::error::Error for MetricsError {}

impl Report {
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        match self {
            Report::Data { train, test } => {
                map.insert("train".into(), train.to_json());
                if let Some(test) = test {
                    map.insert("test".into(), test.to_json());
                }
            }
            Report::Infer { values, energy } => {
                let mut inner = Map::new();
                for (name, ty, v) in values {
                    inner.insert(name.clone(), nested(ty, v));
                }
                inner.insert("energy".into(), number(*energy));
                map.insert("infer".into(), Value::Object(inner));
            }
        }
        Value::Object(map)
    }

    /// The metrics block `ebmc run` ends with: a table of the loss and each output's
    /// metrics on the training and test sets, or the inferred values and their energy.
    pub fn table(&self) -> String {
        let fmt = |x: f64| {
            if x.is_finite() {
                format!("{x:.4}")
            } else {
                format!("{x}")
            }
        };
        match self {
            Report::Data { train, test } => {
                let mut header = Vec::new();
                if train.loss.is_some() {
                    header.push("loss".to_string());
                }
                let several = train.outputs.len() > 1;
                for (name, m) in &train.outputs {
                    let prefix = if several {
                        format!("{name} ")
                    } else {
                        String::new()
                    };
                    match m {
                        OutputMetrics::Discrete { calibration, .. } => {
                            header.push(format!("{prefix}accuracy"));
                            if calibration.is_some() {
                                header.push(format!("{prefix}log_loss"));
                                header.push(format!("{prefix}ece"));
                            }
                        }
                        OutputMetrics::Real { .. } => {
                            header.push(format!("{prefix}rmse"));
                            header.push(format!("{prefix}r2"));
                        }
                        OutputMetrics::Density {
                            nll, nll_se, pll, ..
                        } => {
                            header.push("energy".into());
                            if nll.is_some() {
                                header.push("nll".into());
                            }
                            if nll_se.is_some() {
                                header.push("nll_se".into());
                            }
                            if pll.is_some() {
                                header.push("pll".into());
                            }
                        }
                    }
                }
                let row = |e: &Evaluation| -> Vec<String> {
                    let mut cells: Vec<String> = e.loss.map(fmt).into_iter().collect();
                    for (_, m) in &e.outputs {
                        match *m {
                            OutputMetrics::Discrete {
                                accuracy,
                                calibration,
                            } => {
                                cells.push(fmt(accuracy));
                                if let Some(c) = calibration {
                                    cells.push(fmt(c.log_loss));
                                    cells.push(fmt(c.ece));
                                }
                            }
                            OutputMetrics::Real { rmse, r2 } => {
                                cells.push(fmt(rmse));
                                cells.push(r2.map_or_else(|| "undefined".to_string(), fmt));
                            }
                            OutputMetrics::Density {
                                energy,
                                nll,
                                nll_se,
                                pll,
                            } => {
                                cells.push(fmt(energy));
                                cells.extend(nll.map(fmt));
                                cells.extend(nll_se.map(fmt));
                                cells.extend(pll.map(fmt));
                            }
                        }
                    }
                    cells
                };
                let mut rows = vec![("train", row(train))];
                if let Some(t) = test {
                    rows.push(("test", row(t)));
                }
                let width = |i: usize| {
                    rows.iter()
                        .map(|(_, r)| r[i].len())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                };
                let mut out = format!("{:<6}", "");
                for (i, h) in header.iter().enumerate() {
                    out.push_str(&format!("  {:>w$}", h, w = width(i)));
                }
                out.push('\n');
                for (name, cells) in &rows {
                    out.push_str(&format!("{name:<6}"));
                    for (i, c) in cells.iter().enumerate() {
                        out.push_str(&format!("  {:>w$}", c, w = width(i)));
                    }
                    out.push('\n');
                }
                let sets = [("train", Some(train)), ("test", test.as_ref())];
                for (set, e) in sets.into_iter().filter_map(|(s, e)| Some((s, e?))) {
                    for (name, m) in &e.outputs {
                        if let OutputMetrics::Real { r2: None, .. } = m {
                            let which = if several {
                                format!(" of `{name}`")
                            } else {
                                String::new()
                            };
                            out.push_str(&format!(
                                "note: r2{which} on {set} is undefined: its targets do not vary\n"
                            ));
                        }
                    }
                }
                out
            }
            Report::Infer { values, energy } => {
                let width = values
                    .iter()
                    .map(|(n, ..)| n.len())
                    .chain(["energy".len()])
                    .max()
                    .unwrap_or(0);
                let mut out = String::new();
                for (name, ty, v) in values {
                    let text = match ty {
                        Ty::Real(s) if !s.is_scalar() => format!(
                            "[{}]",
                            v.iter()
                                .map(|x| format!("{x:.6}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Ty::Real(_) => format!("{:.6}", v[0]),
                        Ty::Sign(s) if !s.is_scalar() => format!(
                            "[{}]",
                            v.iter()
                                .map(|x| format!("{x}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => format!("{}", v[0]),
                    };
                    out.push_str(&format!("{name:<width$} = {text}\n"));
                }
                out.push_str(&format!("{:<width$} = {:.6}\n", "energy", energy));
                out
            }
        }
    }

    /// The file's text: pretty, innermost arrays on one line, with a final newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        super::weights::pretty(&self.to_json(), 0, &mut out);
        out.push('\n');
        out
    }

    /// Writes the metrics file atomically.
    pub fn write(&self, path: &Path) -> Result<(), MetricsError> {
        crate::atomic::write(path, self.render().as_bytes()).map_err(|e| MetricsError {
            file: path.display().to_string(),
            reason: super::weights::io_message(&e),
        })
    }
}

/// A number, or `null` for NaN and infinities.
fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// A variable's value nested by shape, as in weights files; elements that the weights writer
/// refuses (NaN, a class index that is not one) become numbers or `null` instead.
fn nested(ty: &Ty, values: &[f64]) -> Value {
    super::weights::to_json(ty, values).unwrap_or_else(|_| {
        let dims: &[usize] = ty.shape().map_or(&[], |s| &s.0);
        nest(dims, values, &number)
    })
}

/// Row-major `values` as JSON arrays nested by `dims`, each number written by `leaf`.
pub(super) fn nest(dims: &[usize], values: &[f64], leaf: &dyn Fn(f64) -> Value) -> Value {
    match dims.split_first() {
        None => leaf(values[0]),
        Some((&n, rest)) => {
            let stride: usize = rest.iter().product();
            Value::Array(
                (0..n)
                    .map(|i| nest(rest, &values[i * stride..(i + 1) * stride], leaf))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Shape;

    /// The Gibbs probabilities against exp(−βE)/Σ computed directly on energies where that
    /// does not overflow, and finite where it would (energies of ±1000 at β = 2).
    #[test]
    fn log_probabilities_are_a_stable_softmax_of_minus_beta_e() {
        let e = [0.3, -1.2, 2.0, 0.0];
        let beta = 0.7;
        let z: f64 = e.iter().map(|x: &f64| (-beta * x).exp()).sum();
        let lp = log_probabilities(&e, beta);
        for (l, x) in lp.iter().zip(e) {
            assert!((l.exp() - (-beta * x).exp() / z).abs() < 1e-15);
        }
        let total: f64 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-15);
        let far = log_probabilities(&[1000.0, -1000.0, -999.0], 2.0);
        assert!(far.iter().all(|l| !l.is_nan()), "{far:?}");
        // exp(−2·(−1000)) and exp(−2·(−999)) overflow; their ratio is e², the first ~0.
        let p1 = 1.0 / (1.0 + (-2.0f64).exp());
        // Rounding of terms near 2000 (ulp 2.3e-13) bounds the error, not that of 1.
        assert!((far[1].exp() - p1).abs() < 1e-12, "{far:?}");
        assert_eq!(far[0].exp(), 0.0);
        assert_eq!(
            log_probabilities(&[f64::INFINITY, 0.0], 1.0),
            [f64::NEG_INFINITY, 0.0]
        );
    }

    #[test]
    fn marginals_sum_the_other_outputs_out() {
        // Two outputs of 2 and 3 answers; joint P(a, b) row-major over (a, b).
        let p = [0.1, 0.2, 0.05, 0.3, 0.15, 0.2];
        let joint: Vec<f64> = p.iter().map(|x: &f64| x.ln()).collect();
        let a = marginal_log_probabilities(&joint, &[2, 3], 0);
        let b = marginal_log_probabilities(&joint, &[2, 3], 1);
        let close = |l: &[f64], want: &[f64]| {
            for (x, w) in l.iter().zip(want) {
                assert!((x.exp() - w).abs() < 1e-15, "{l:?} vs {want:?}");
            }
        };
        close(&a, &[0.35, 0.65]);
        close(&b, &[0.4, 0.35, 0.25]);
    }

    /// Log loss and ECE by hand on six examples of two answers.
    #[test]
    fn calibration_by_hand() {
        // Probabilities of answer 0 and 1, and the truth.
        let rows = [
            ([0.9, 0.1], 0),   // top 0 (0.9, bin 13), right
            ([0.8, 0.2], 1),   // top 0 (0.8, bin 12), wrong
            ([0.3, 0.7], 1),   // top 1 (0.7, bin 10), right
            ([0.55, 0.45], 0), // top 0 (0.55, bin 8), right
            ([0.92, 0.08], 1), // top 0 (0.92, bin 13), wrong
            ([0.62, 0.38], 1), // top 0 (0.62, bin 9), wrong
        ];
        let log_p: Vec<f64> = rows.iter().flat_map(|(p, _)| p.map(f64::ln)).collect();
        let truth: Vec<usize> = rows.iter().map(|r| r.1).collect();
        let c = Calibration::of(&log_p, 2, &truth).unwrap();
        let log_loss =
            -(0.9f64.ln() + 0.2f64.ln() + 0.7f64.ln() + 0.55f64.ln() + 0.08f64.ln() + 0.38f64.ln())
                / 6.0;
        assert!((c.log_loss - log_loss).abs() < 1e-15, "{c:?}");
        // Bin 13 holds 0.9 (right) and 0.92 (wrong): |1 − 1.82|; bins 12, 10, 9, 8 one each:
        // |0 − 0.8|, |1 − 0.7|, |0 − 0.62|, |1 − 0.55|. Divided by the 6 examples.
        let ece = (0.82 + 0.8 + 0.3 + 0.62 + 0.45) / 6.0;
        assert!((c.ece - ece).abs() < 1e-15, "{c:?} vs {ece}");
        assert_eq!(Calibration::of(&[], 2, &[]), None);
        // A confidence of exactly 1 falls in the last bin, not past it.
        let sure = Calibration::of(&[0.0, f64::NEG_INFINITY], 2, &[0]).unwrap();
        assert_eq!((sure.log_loss, sure.ece), (0.0, 0.0));
    }

    #[test]
    fn a_sign_vector_is_right_only_when_all_of_it_is() {
        let ty = Ty::Sign(Shape(vec![2]));
        let m = OutputMetrics::of(&ty, &[1.0, 1.0, -1.0, 1.0], &[1.0, 1.0, -1.0, -1.0]);
        assert_eq!(
            m,
            Some(OutputMetrics::Discrete {
                accuracy: 0.5,
                calibration: None
            })
        );
    }

    #[test]
    fn mean_and_accuracy() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
        assert_eq!(
            accuracy(&[0.0, 1.0, 2.0, 2.0], &[0.0, 1.0, 1.0, 2.0]),
            Some(0.75)
        );
        assert_eq!(accuracy(&[1.0, -1.0], &[-1.0, -1.0]), Some(0.5));
        assert_eq!(accuracy(&[], &[]), None);
    }

    #[test]
    fn rmse_by_hand() {
        // Errors 1, −1, 2, 0: mean square 6/4.
        assert_eq!(
            rmse(&[1.0, 1.0, 5.0, 4.0], &[0.0, 2.0, 3.0, 4.0]),
            Some(1.5f64.sqrt())
        );
        assert_eq!(rmse(&[], &[]), None);
    }

    #[test]
    fn r2_by_hand() {
        // Truth 1, 2, 3, 4 (mean 2.5, SS_tot 5); predictions off by 0.5, −0.5, 0, 1 (SS_res 1.5).
        let r = r2(&[1.5, 1.5, 3.0, 5.0], &[1.0, 2.0, 3.0, 4.0], 1).unwrap();
        assert!((r - 0.7).abs() < 1e-15, "{r}");
        // Predicting the mean gives 0, a perfect prediction 1, worse than the mean below 0.
        assert_eq!(r2(&[2.5; 4], &[1.0, 2.0, 3.0, 4.0], 1), Some(0.0));
        assert_eq!(
            r2(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0], 1),
            Some(1.0)
        );
        assert!(r2(&[4.0, 3.0, 2.0, 1.0], &[1.0, 2.0, 3.0, 4.0], 1).unwrap() < 0.0);
        assert_eq!(r2(&[], &[], 1), None);
    }

    /// Truths that do not vary leave R² undefined, also when rounding leaves an `SS_tot` of a
    /// few ulps²: ten truths of 0.1 have a computed mean of 0.09999999999999999, and dividing
    /// by that `SS_tot` reported about −10¹⁵.
    #[test]
    fn r2_of_a_constant_target_is_undefined() {
        assert_eq!(r2(&[2.0, 2.0], &[2.0, 2.0], 1), None);
        assert_eq!(r2(&[2.0, 3.0], &[2.0, 2.0], 1), None);
        assert_eq!(r2(&[0.0; 3], &[0.0; 3], 1), None);
        let predicted: Vec<f64> = (0..10).map(|i| 0.1 + 1e-9 * i as f64).collect();
        assert_eq!(r2(&predicted, &[0.1; 10], 1), None);
        // A target that varies by little, but by more than rounding, still has an R².
        let truth: Vec<f64> = (0..10).map(|i| 0.1 + 1e-9 * i as f64).collect();
        assert_eq!(r2(&truth, &truth, 1), Some(1.0));
        let m = OutputMetrics::of(&Ty::scalar(), &predicted, &[0.1; 10]).unwrap();
        assert!(matches!(m, OutputMetrics::Real { r2: None, .. }), "{m:?}");
        let report = Report::Data {
            train: Evaluation {
                loss: None,
                outputs: vec![("y".into(), m)],
            },
            test: None,
        };
        let json = serde_json::to_string(&report.to_json()).unwrap();
        assert!(json.contains(r#""r2":null"#), "{json}");
        let table = report.table();
        assert!(table.lines().next().unwrap().ends_with("  r2"), "{table}");
        assert!(
            table.lines().nth(1).unwrap().ends_with("  undefined"),
            "{table}"
        );
        assert_eq!(
            table.lines().nth(2),
            Some("note: r2 on train is undefined: its targets do not vary"),
            "{table}"
        );
    }

    #[test]
    fn r2_of_a_vector_output_uses_each_elements_own_mean() {
        // Two rows of [a, b]: a = 0, 2 (mean 1, SS 2); b = 100, 104 (mean 102, SS 8). SS_tot 10.
        // Predicting each element's mean exactly gives 0 (a pooled mean of 51.5 would not).
        let truth = [0.0, 100.0, 2.0, 104.0];
        assert_eq!(r2(&[1.0, 102.0, 1.0, 102.0], &truth, 2), Some(0.0));
        // Errors 1 and 2 in one row: SS_res 5, R² 0.5.
        assert_eq!(r2(&[1.0, 102.0, 2.0, 104.0], &truth, 2), Some(0.5));
    }

    #[test]
    fn output_metrics_by_type() {
        assert_eq!(
            OutputMetrics::of(&Ty::Class(3), &[0.0, 2.0], &[0.0, 1.0]),
            Some(OutputMetrics::Discrete {
                accuracy: 0.5,
                calibration: None
            })
        );
        assert_eq!(
            OutputMetrics::of(&Ty::scalar(), &[1.0, 3.0], &[1.0, 2.0]),
            Some(OutputMetrics::Real {
                rmse: 0.5f64.sqrt(),
                r2: Some(-1.0)
            })
        );
        assert_eq!(OutputMetrics::of(&Ty::sign(), &[], &[]), None);
    }

    #[test]
    fn data_report_json() {
        let train = Evaluation {
            loss: Some(0.25),
            outputs: vec![(
                "y".into(),
                OutputMetrics::Discrete {
                    accuracy: 0.75,
                    calibration: None,
                },
            )],
        };
        let test = Evaluation {
            loss: Some(0.5),
            outputs: vec![(
                "y".into(),
                OutputMetrics::Discrete {
                    accuracy: 0.5,
                    calibration: None,
                },
            )],
        };
        let r = Report::Data {
            train,
            test: Some(test),
        };
        assert_eq!(
            r.render(),
            "{\n  \"train\": {\n    \"loss\": 0.25,\n    \"accuracy\": 0.75\n  },\n  \"test\": {\n    \"loss\": 0.5,\n    \"accuracy\": 0.5\n  }\n}\n"
        );
    }

    #[test]
    fn regression_report_without_test_set_and_with_a_diverged_loss() {
        let train = Evaluation {
            loss: Some(f64::NAN),
            outputs: vec![(
                "y".into(),
                OutputMetrics::Real {
                    rmse: 2.0,
                    r2: Some(0.5),
                },
            )],
        };
        let r = Report::Data { train, test: None };
        assert_eq!(
            r.to_json().to_string(),
            r#"{"train":{"loss":null,"rmse":2.0,"r2":0.5}}"#
        );
    }

    #[test]
    fn several_outputs_report_under_their_names() {
        let e = Evaluation {
            loss: None,
            outputs: vec![
                (
                    "y".into(),
                    OutputMetrics::Discrete {
                        accuracy: 1.0,
                        calibration: None,
                    },
                ),
                (
                    "z".into(),
                    OutputMetrics::Real {
                        rmse: 0.0,
                        r2: Some(1.0),
                    },
                ),
            ],
        };
        let r = Report::Data {
            train: e.clone(),
            test: Some(e),
        };
        assert_eq!(
            r.to_json().to_string(),
            r#"{"train":{"y":{"accuracy":1.0},"z":{"rmse":0.0,"r2":1.0}},"test":{"y":{"accuracy":1.0},"z":{"rmse":0.0,"r2":1.0}}}"#
        );
    }

    #[test]
    fn infer_report_nests_values_by_shape() {
        let r = Report::Infer {
            values: vec![
                (
                    "y".into(),
                    Ty::Real(Shape(vec![2, 2])),
                    vec![1.0, 2.0, 3.0, 4.0],
                ),
                ("c".into(), Ty::Class(3), vec![2.0]),
                (
                    "z".into(),
                    Ty::Real(Shape(vec![2])),
                    vec![0.5, f64::INFINITY],
                ),
            ],
            energy: -1.5,
        };
        assert_eq!(
            r.render(),
            "{\n  \"infer\": {\n    \"y\": [\n      [1.0, 2.0],\n      [3.0, 4.0]\n    ],\n    \"c\": 2,\n    \"z\": [0.5, null],\n    \"energy\": -1.5\n  }\n}\n"
        );
    }

    #[test]
    fn write_is_atomic_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let r = Report::Infer {
            values: vec![],
            energy: 0.0,
        };
        r.write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"infer\": {\n    \"energy\": 0.0\n  }\n}\n"
        );
        let bad = dir.path().join("missing/m.json");
        let e = r.write(&bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: cannot write the metrics: no such file or directory",
                bad.display()
            )
        );
    }
}
