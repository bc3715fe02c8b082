//! The training history: what `ebmc run --history H.json` writes and `ebmc plot training`
//! reads — one entry per epoch with the training loss and, when the data has test rows, the
//! test set's loss and output metrics measured after that epoch.
//!
//! The file is a JSON object, each `test` shaped like a `--metrics` block (a single output's
//! metrics flat, several outputs' nested by name):
//!
//! ```json
//! {"model": "iris", "epochs": [
//!   {"epoch": 1, "train": {"loss": 0.93}, "test": {"loss": 0.88, "accuracy": 0.8}},
//!   …]}
//! ```
//!
//! Invariants: epochs are 1-based and in order; the training loss is the mean minibatch loss
//! *while* the epoch ran (what the progress bar shows), the test figures are measured with the
//! weights at the epoch's end; non-finite numbers are written as `null` and read back as NaN.
//! Measuring the test set every epoch costs an inference per test row, so a run only does it
//! when asked (`RunOptions::history` or `RunOptions::track_test`).

use super::metrics::{Calibration, Evaluation, OutputMetrics};
use super::weights;
use serde_json::{Map, Number, Value};
use std::path::Path;

/// One epoch of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// The test set after the epoch; `None` without test rows.
    pub test: Option<Evaluation>,
}

/// Every epoch of one run of one model.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub model: String,
    pub epochs: Vec<Epoch>,
}

fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The metrics file's form of one output's metrics ([`OutputMetrics::insert_into`]), so
/// that a history reads back what `--metrics` writes.
fn metrics_into(m: &OutputMetrics, map: &mut Map<String, Value>) {
    m.insert_into(map);
}

fn metrics_from(map: &Map<String, Value>) -> Option<OutputMetrics> {
    let get = |k: &str| map.get(k).map(|v| v.as_f64().unwrap_or(f64::NAN));
    if let Some(accuracy) = get("accuracy") {
        let calibration = match (get("log_loss"), get("ece")) {
            (Some(log_loss), Some(ece)) => Some(Calibration { log_loss, ece }),
            _ => None,
        };
        return Some(OutputMetrics::Discrete {
            accuracy,
            calibration,
        });
    }
    if let Some(energy) = get("energy") {
        return Some(OutputMetrics::Density {
            energy,
            nll: get("nll"),
            nll_se: get("nll_se"),
            pll: get("pll"),
        });
    }
    // `r2` is `null` where it is undefined (the targets did not vary).
    match (get("rmse"), map.get("r2")) {
        (Some(rmse), Some(r2)) => Some(OutputMetrics::Real {
            rmse,
            r2: r2.as_f64(),
        }),
        _ => None,
    }
}

impl History {
    pub fn to_json(&self) -> Value {
        let epochs = self
            .epochs
            .iter()
            .map(|e| {
                let mut entry = Map::new();
                entry.insert("epoch".into(), Value::from(e.epoch));
                let mut train = Map::new();
                train.insert("loss".into(), number(e.train_loss));
                entry.insert("train".into(), Value::Object(train));
                if let Some(t) = &e.test {
                    let mut test = Map::new();
                    if let Some(l) = t.loss {
                        test.insert("loss".into(), number(l));
                    }
                    match t.outputs.as_slice() {
                        [(_, only)] => metrics_into(only, &mut test),
                        many => {
                            for (name, m) in many {
                                let mut sub = Map::new();
                                metrics_into(m, &mut sub);
                                test.insert(name.clone(), Value::Object(sub));
                            }
                        }
                    }
                    entry.insert("test".into(), Value::Object(test));
                }
                Value::Object(entry)
            })
            .collect();
        let mut map = Map::new();
        map.insert("model".into(), Value::from(self.model.clone()));
        map.insert("epochs".into(), Value::Array(epochs));
        Value::Object(map)
    }

    /// The file's text: one epoch per line.
    pub fn render(&self) -> String {
        let Value::Object(map) = self.to_json() else {
            unreachable!("to_json builds an object")
        };
        let mut out = format!("{{\"model\": {}, \"epochs\": [\n", map["model"]);
        let epochs = map["epochs"].as_array().cloned().unwrap_or_default();
        for (i, e) in epochs.iter().enumerate() {
            out.push_str("  ");
            out.push_str(&e.to_string());
            out.push_str(if i + 1 < epochs.len() { ",\n" } else { "\n" });
        }
        out.push_str("]}\n");
        out
    }

    /// Writes the file atomically (see [`crate::atomic::write`]).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        crate::atomic::write(path, self.render().as_bytes()).map_err(|e| {
            format!(
                "{}: cannot write the history: {}",
                path.display(),
                weights::io_message(&e)
            )
        })
    }

    /// Reads a file written by [`History::write`]; the error is one line naming the file.
    pub fn read(path: &Path) -> Result<History, String> {
        let what = |m: String| format!("{}: {m}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| what(format!("cannot read: {}", weights::io_message(&e))))?;
        History::parse(&text).map_err(what)
    }

    /// Parses the text of a history file.
    pub fn parse(text: &str) -> Result<History, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "line {}, column {}: not a history file: {e}",
                e.line(),
                e.column()
            )
        })?;
        let model = v
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let entries = v
            .get("epochs")
            .and_then(Value::as_array)
            .ok_or("expected an object with an `epochs` array, as `ebmc run --history` writes")?;
        let mut epochs = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let bad = || format!("epoch entry {}: expected `epoch` and `train.loss`", i + 1);
            let epoch = e.get("epoch").and_then(Value::as_u64).ok_or_else(bad)? as usize;
            let train_loss = e
                .get("train")
                .and_then(|t| t.get("loss"))
                .ok_or_else(bad)?
                .as_f64()
                .unwrap_or(f64::NAN);
            let test = match e.get("test").and_then(Value::as_object) {
                None => None,
                Some(t) => {
                    let loss = t.get("loss").map(|l| l.as_f64().unwrap_or(f64::NAN));
                    let outputs = match metrics_from(t) {
                        Some(m) => vec![(String::new(), m)],
                        None => t
                            .iter()
                            .filter_map(|(k, v)| {
                                v.as_object().and_then(metrics_from).map(|m| (k.clone(), m))
                            })
                            .collect(),
                    };
                    Some(Evaluation { loss, outputs })
                }
            };
            epochs.push(Epoch {
                epoch,
                train_loss,
                test,
            });
        }
        Ok(History { model, epochs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_one_and_several_outputs() {
        let one = Evaluation {
            loss: Some(0.5),
            outputs: vec![(
                String::new(),
                OutputMetrics::Discrete {
                    accuracy: 0.75,
                    calibration: Some(Calibration {
                        log_loss: 0.5,
                        ece: 0.125,
                    }),
                },
            )],
        };
        let two = Evaluation {
            loss: None,
            outputs: vec![
                (
                    "a".into(),
                    OutputMetrics::Real {
                        rmse: 1.5,
                        r2: Some(0.25),
                    },
                ),
                (
                    "b".into(),
                    OutputMetrics::Discrete {
                        accuracy: 1.0,
                        calibration: None,
                    },
                ),
            ],
        };
        let h = History {
            model: "m".into(),
            epochs: vec![
                Epoch {
                    epoch: 1,
                    train_loss: 2.0,
                    test: Some(one),
                },
                Epoch {
                    epoch: 2,
                    train_loss: 1.0,
                    test: Some(two),
                },
                Epoch {
                    epoch: 3,
                    train_loss: 0.5,
                    test: None,
                },
            ],
        };
        assert_eq!(History::parse(&h.render()).unwrap(), h);
    }

    #[test]
    fn rejects_what_is_not_a_history() {
        assert!(History::parse("[1, 2]").unwrap_err().contains("epochs"));
        assert!(History::parse("{\"epochs\": [{}]}")
            .unwrap_err()
            .contains("epoch entry 1"));
        assert!(History::parse("{").unwrap_err().contains("line 1"));
    }
}
