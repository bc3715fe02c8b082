//! Probabilities of discrete answers (spec section 13): `infer y by enumerate(beta = β)`
//! reports `P(y|x) = exp(−β E(x, y)) / Σ_y' exp(−β E(x, y'))` of every answer.
//!
//! Models with fixed parameters run on a small CSV; the test computes every energy by hand,
//! the softmax of −βE from them, and compares with the `p_<answer>` columns `run --out` writes
//! (each row sums to 1), and `log_loss` and `ece` of the metrics with their definitions.

mod common;

use common::model_of;
use ebmc::runtime::metrics::{OutputMetrics, Report};
use ebmc::runtime::run::{self, RunOptions};

/// Rows of (x0, x1, label).
const ROWS: [(f64, f64, i32); 8] = [
    (0.5, -1.0, 0),
    (1.5, 0.2, 2),
    (-0.3, 0.8, 1),
    (2.0, -2.0, 0),
    (-1.0, -1.0, 1),
    (0.1, 0.1, 2),
    (3.0, 1.0, 2),
    (-2.5, 0.4, 1),
];

const W: [[f64; 2]; 3] = [[0.7, -0.4], [-1.1, 0.3], [0.2, 0.9]];
const B: [f64; 3] = [0.1, -0.2, 0.05];

/// Writes the data, runs `source` on it; the `--out` CSV as header and rows, and the test
/// set's metrics.
fn run_on_rows(source: &str, csv: &str) -> (Vec<String>, Vec<Vec<f64>>, OutputMetrics) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), csv).unwrap();
    let model = model_of(source, false);
    let out = dir.path().join("out.csv");
    let opts = RunOptions {
        out: Some(out.clone()),
        ..RunOptions::default()
    };
    let outcome =
        run::run(&model, dir.path(), &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    let Report::Data { train, test: None } = outcome.report else {
        panic!("split 1: training rows only");
    };
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    (header, rows, train.outputs[0].1)
}

fn class_csv() -> String {
    let mut s = String::from("a,b,label\n");
    for (a, b, l) in ROWS {
        s.push_str(&format!("{a},{b},{l}\n"));
    }
    s
}

fn class_model(infer: &str, loss: &str) -> String {
    format!(
        "model m {{
           input x : real[2]
           output y : class[3]
           param W : real[3, 2] = [[{}, {}], [{}, {}], [{}, {}]]
           param b : real[3] = [{}, {}, {}]
           energy (W @ x + b)[y]
           {loss}
           {infer}
           data \"d.csv\" {{ x = a..b, y = label }} split 1
         }}",
        W[0][0], W[0][1], W[1][0], W[1][1], W[2][0], W[2][1], B[0], B[1], B[2]
    )
}

/// softmax(−β E) of the energies by hand, directly (no overflow at these sizes).
fn softmax(energies: &[f64], beta: f64) -> Vec<f64> {
    let w: Vec<f64> = energies.iter().map(|e| (-beta * e).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

fn class_probabilities(beta: f64) -> Vec<Vec<f64>> {
    ROWS.iter()
        .map(|&(a, b, _)| {
            let e: Vec<f64> = (0..3).map(|k| W[k][0] * a + W[k][1] * b + B[k]).collect();
            softmax(&e, beta)
        })
        .collect()
}

/// Log loss and ECE (15 equal-width bins of the top probability) by their definitions.
fn calibration(p: &[Vec<f64>], truth: &[usize]) -> (f64, f64) {
    let n = p.len() as f64;
    let log_loss = -p.iter().zip(truth).map(|(r, &t)| r[t].ln()).sum::<f64>() / n;
    let mut bins = vec![(0.0, 0.0); 15];
    for (r, &t) in p.iter().zip(truth) {
        let top = (0..r.len())
            .reduce(|a, b| if r[b] > r[a] { b } else { a })
            .unwrap();
        let bin = ((r[top] * 15.0).floor() as usize).min(14);
        bins[bin].0 += f64::from(u8::from(top == t));
        bins[bin].1 += r[top];
    }
    let ece = bins.iter().map(|(h, c)| (h - c).abs()).sum::<f64>() / n;
    (log_loss, ece)
}

#[test]
fn class_probabilities_are_the_softmax_of_minus_beta_e() {
    let beta = 0.5;
    let (header, rows, metrics) = run_on_rows(
        &class_model("infer y by enumerate(beta = 0.5)", ""),
        &class_csv(),
    );
    assert_eq!(header, ["line", "y", "p_0", "p_1", "p_2"]);
    let want = class_probabilities(beta);
    for (r, (row, w)) in rows.iter().zip(&want).enumerate() {
        let p = &row[2..];
        let total: f64 = p.iter().sum();
        assert!((total - 1.0).abs() < 1e-12, "row {r}: sum {total}");
        for k in 0..3 {
            assert!((p[k] - w[k]).abs() < 1e-12, "row {r}: {p:?} vs {w:?}");
        }
        // The answer is the most probable one (the lowest energy).
        let top = (0..3)
            .reduce(|a, b| if w[b] > w[a] { b } else { a })
            .unwrap();
        assert_eq!(row[1], top as f64, "row {r}");
    }
    let truth: Vec<usize> = ROWS.iter().map(|r| r.2 as usize).collect();
    let (log_loss, ece) = calibration(&want, &truth);
    let OutputMetrics::Discrete {
        calibration: Some(c),
        ..
    } = metrics
    else {
        panic!("{metrics:?}");
    };
    assert!((c.log_loss - log_loss).abs() < 1e-12, "{c:?} vs {log_loss}");
    assert!((c.ece - ece).abs() < 1e-12, "{c:?} vs {ece}");
}

/// Without `beta` on the `infer` line, no probability columns are written and the metrics
/// take the β of an `nll` loss.
#[test]
fn without_beta_the_metrics_use_the_loss_beta() {
    let (header, _, metrics) = run_on_rows(
        &class_model("infer y by enumerate", "loss nll(beta = 2)"),
        &class_csv(),
    );
    assert_eq!(header, ["line", "y"]);
    let truth: Vec<usize> = ROWS.iter().map(|r| r.2 as usize).collect();
    let (log_loss, ece) = calibration(&class_probabilities(2.0), &truth);
    let OutputMetrics::Discrete {
        calibration: Some(c),
        ..
    } = metrics
    else {
        panic!("{metrics:?}");
    };
    assert!((c.log_loss - log_loss).abs() < 1e-12, "{c:?} vs {log_loss}");
    assert!((c.ece - ece).abs() < 1e-12, "{c:?} vs {ece}");
}

/// A `sign[2]` output: four answers named by their signs, the first element first.
#[test]
fn sign_vector_probabilities_are_named_by_their_signs() {
    let beta = 1.5;
    let mut csv = String::from("a,b,s0,s1\n");
    for (a, b, l) in ROWS {
        csv.push_str(&format!("{a},{b},{},{}\n", l % 2, (l / 2) % 2));
    }
    let source = "model m {
           input x : real[2]
           output y : sign[2]
           param W : real[2, 2] = [[0.7, -0.4], [-1.1, 0.3]]
           energy -dot(y, W @ x) - 0.6 * y[0] * y[1]
           infer y by enumerate(beta = 1.5)
           data \"d.csv\" { x = a..b, y = s0..s1 } split 1
         }";
    let (header, rows, _) = run_on_rows(source, &csv);
    assert_eq!(
        header,
        ["line", "y[0]", "y[1]", "p_--", "p_-+", "p_+-", "p_++"]
    );
    for (r, ((a, b, _), row)) in ROWS.iter().zip(&rows).enumerate() {
        let h = [0.7 * a - 0.4 * b, -1.1 * a + 0.3 * b];
        let answers = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]];
        let e: Vec<f64> = answers
            .iter()
            .map(|y| -(y[0] * h[0] + y[1] * h[1]) - 0.6 * y[0] * y[1])
            .collect();
        let want = softmax(&e, beta);
        let p = &row[3..];
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for k in 0..4 {
            assert!((p[k] - want[k]).abs() < 1e-12, "row {r}: {p:?} vs {want:?}");
        }
    }
}

/// A model without data, asked at one point (`--at`): the same columns after the answer.
#[test]
fn one_question_writes_the_probabilities_too() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_of(
        "model m {
           input s : sign[3]
           output y : class[2]
           param W : real[2, 3] = [[1, 0, 0], [0, 1, 1]]
           energy (W @ s)[y]
           infer y by enumerate(beta = 2)
         }",
        false,
    );
    let out = dir.path().join("out.csv");
    let opts = RunOptions {
        out: Some(out.clone()),
        at: vec![(ebmc::check::VarId(0), vec![1.0, -1.0, 1.0])],
        ..RunOptions::default()
    };
    run::run(&model, dir.path(), &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("y,p_0,p_1"));
    let row: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    // Energies W @ s = [1, 0]: P = softmax(−2 · [1, 0]).
    let want = softmax(&[1.0, 0.0], 2.0);
    assert_eq!(row[0], 1.0);
    assert!(
        (row[1] - want[0]).abs() < 1e-12 && (row[2] - want[1]).abs() < 1e-12,
        "{row:?}"
    );
}
