//! `ebmc run` as a user meets it (spec sections 8–10): the binary on models and data written
//! to a scratch directory.
//!
//! * a missing or malformed data file: exit 1 and one line naming the file (as reachable from
//!   the working directory), the line and the column; several malformed cells, one line each;
//! * the NaN guard: a rate that makes the loss overflow stops training with exit 1, naming the
//!   epoch and step; `--save` still writes the weights of the last whole epoch: the bytes a
//!   run of exactly that many epochs saves;
//! * the same seed twice gives the same weights file, byte for byte; another `--seed` does not;
//! * `--weights` round trip: running with saved weights skips training and reproduces the
//!   metrics file of the run that saved them;
//! * `--out`: a header (`line`, then one column per output element) and one row per test
//!   example; for a model without data, the inferred values;
//! * `--metrics`: exactly the keys of spec section 10 for class and real outputs and for a
//!   model without data;
//! * `--model` picks a model of a file that holds several;
//! * inference whose descent diverges fails with the step and rate, not with NaN answers.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CLASSIFIER: &str = "model m {
  input x : real[2]  output y : class[2]
  param W : real[2, 2] ~ normal(0, 0.1)
  energy -(W @ x)[y]
  loss nll
  train by sgd(rate = 0.1, epochs = 5, batch = 4, seed = 3)
  data \"data/d.csv\" { x = a..b, y = c } split 0.75 standardize x
}
";

/// The classifier with a real output and a rate that makes its squared loss overflow.
const DIVERGING: &str = "model m {
  input x : real[2]  output y : real
  param w : real[2] = 0
  energy 0.5 * (dot(w, x) - y)^2
  loss energy
  train by sgd(rate = 1000, epochs = 50, batch = 4, seed = 3)
  data \"data/d.csv\" { x = a..b, y = c } split 0.75
}
";

/// 40 rows: a and b from fixed formulas, c = 1 when a + b > 10.
fn data_csv() -> String {
    let mut s = String::from("a,b,c\n");
    for i in 0..40 {
        let (a, b) = ((i * 7 % 13) as f64, (i * 5 % 11) as f64 + 0.5);
        s.push_str(&format!("{a},{b},{}\n", u8::from(a + b > 10.0)));
    }
    s
}

/// A scratch directory with `m.ebm` holding `model` and, when given, `data/d.csv`.
fn scratch(model: &str, data: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(dir.path().join("m.ebm"), model).unwrap();
    if let Some(d) = data {
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/d.csv"), d).unwrap();
    }
    dir
}

/// Runs `ebmc run ARGS…` in `dir`.
fn ebmc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .current_dir(dir)
        .arg("run")
        .args(args)
        .output()
        .expect("ebmc runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "ebmc failed: {}", stderr(o));
}

fn json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn a_missing_data_file_is_named_as_the_user_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/m.ebm"), CLASSIFIER).unwrap();
    let o = ebmc(dir.path(), &["sub/m.ebm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: sub/data/d.csv: cannot read the data file: no such file or directory\n"
    );
}

#[test]
fn a_malformed_cell_is_reported_with_file_line_and_column() {
    let dir = scratch(CLASSIFIER, Some("a,b,c\n1,2,0\n3,x,1\n1,1,1\n"));
    let o = ebmc(dir.path(), &["m.ebm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: data/d.csv:3: column index 1 (\"b\"): expected a number, found \"x\"\n"
    );
}

#[test]
fn a_short_row_and_a_bad_label_are_reported_with_their_line() {
    let dir = scratch(CLASSIFIER, Some("a,b,c\n1,2,0\n3,4\n"));
    let o = ebmc(dir.path(), &["m.ebm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: data/d.csv:3: expected 3 cells as in the header, found 2\n"
    );
    let dir = scratch(CLASSIFIER, Some("a,b,c\n1,2,0\n3,4,5\n"));
    let o = ebmc(dir.path(), &["m.ebm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: data/d.csv:3: column index 2 (\"c\"): expected a class label for y : class[2] (an integer from 0 to 1), found \"5\"\n"
    );
}

#[test]
fn an_overflowing_loss_stops_training_and_keeps_the_last_good_weights() {
    let dir = scratch(DIVERGING, Some(&data_csv()));
    let o = ebmc(
        dir.path(),
        &["m.ebm", "--save", "w.json", "--metrics", "m.json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: training stopped at epoch ")
            && err.contains(", step ")
            && err.ends_with(", the last whole one, to w.json\n"),
        "{err}"
    );
    assert!(
        !dir.path().join("m.json").exists(),
        "no metrics for a failed run"
    );
    // The saved weights are those of the last whole epoch: the same model trained for
    // exactly that many epochs (same seed) saves the same bytes.
    let whole: usize = err
        .split("saved the weights after epoch ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("no whole epoch named in {err}"));
    assert!(whole >= 1, "{err}");
    let shorter = DIVERGING.replace("epochs = 50", &format!("epochs = {whole}"));
    std::fs::write(dir.path().join("short.ebm"), shorter).unwrap();
    let o = ebmc(dir.path(), &["short.ebm", "--save", "w_short.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let saved = std::fs::read(dir.path().join("w.json")).unwrap();
    let expected = std::fs::read(dir.path().join("w_short.json")).unwrap();
    assert!(
        saved == expected,
        "saved {} but epoch {whole} ends at {}",
        String::from_utf8_lossy(&saved),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn the_same_seed_gives_the_same_weights_bit_for_bit() {
    let dir = scratch(CLASSIFIER, Some(&data_csv()));
    for (args, file) in [
        (["--save", "a.json"], "a.json"),
        (["--save", "b.json"], "b.json"),
    ] {
        ok(&ebmc(dir.path(), &["m.ebm", "--quiet", args[0], args[1]]));
        assert!(dir.path().join(file).exists());
    }
    ok(&ebmc(
        dir.path(),
        &["m.ebm", "--quiet", "--seed", "4", "--save", "c.json"],
    ));
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    assert_eq!(read("a.json"), read("b.json"));
    assert_ne!(read("a.json"), read("c.json"), "--seed changes the run");
}

#[test]
fn saved_weights_reproduce_the_metrics_without_training() {
    let dir = scratch(CLASSIFIER, Some(&data_csv()));
    ok(&ebmc(
        dir.path(),
        &[
            "m.ebm",
            "--quiet",
            "--save",
            "w.json",
            "--metrics",
            "a.json",
        ],
    ));
    // A rate that would diverge proves training is skipped.
    std::fs::write(
        dir.path().join("m.ebm"),
        CLASSIFIER.replace("rate = 0.1", "rate = 1e300"),
    )
    .unwrap();
    ok(&ebmc(
        dir.path(),
        &[
            "m.ebm",
            "--quiet",
            "--weights",
            "w.json",
            "--metrics",
            "b.json",
        ],
    ));
    assert_eq!(
        json(dir.path().join("a.json")),
        json(dir.path().join("b.json"))
    );
}

#[test]
fn predictions_have_one_row_per_test_example() {
    let dir = scratch(CLASSIFIER, Some(&data_csv()));
    ok(&ebmc(dir.path(), &["m.ebm", "--quiet", "--out", "p.csv"]));
    let text = std::fs::read_to_string(dir.path().join("p.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,y"));
    let rows: Vec<(usize, f64)> = lines
        .map(|l| {
            let (line, y) = l.split_once(',').expect("two cells");
            (line.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    // split 0.75 of 40 rows keeps 10 for testing, in file order, on data lines 2..=41.
    assert_eq!(rows.len(), 10);
    assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(rows
        .iter()
        .all(|&(l, y)| (2..=41).contains(&l) && (y == 0.0 || y == 1.0)));
}

#[test]
fn metrics_json_has_the_keys_of_the_spec() {
    let dir = scratch(CLASSIFIER, Some(&data_csv()));
    ok(&ebmc(
        dir.path(),
        &["m.ebm", "--quiet", "--metrics", "m.json"],
    ));
    let m = json(dir.path().join("m.json"));
    assert_eq!(keys(&m), ["train", "test"]);
    for set in ["train", "test"] {
        assert_eq!(keys(&m[set]), ["loss", "accuracy", "log_loss", "ece"]);
        let acc = m[set]["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }

    let real = DIVERGING.replace("rate = 1000", "rate = 0.01");
    let dir = scratch(&real, Some(&data_csv()));
    ok(&ebmc(
        dir.path(),
        &["m.ebm", "--quiet", "--metrics", "m.json"],
    ));
    let m = json(dir.path().join("m.json"));
    assert_eq!(keys(&m), ["train", "test"]);
    for set in ["train", "test"] {
        assert_eq!(keys(&m[set]), ["loss", "rmse", "r2"]);
    }
}

#[test]
fn a_model_without_data_reports_and_writes_what_it_inferred() {
    let dir = scratch(
        "model bowl {
           output y : real[2]
           energy sqnorm(y - [1, -2])
           infer y by descent(steps = 200, rate = 0.25)
         }",
        None,
    );
    let o = ebmc(
        dir.path(),
        &["m.ebm", "--metrics", "m.json", "--out", "p.csv"],
    );
    ok(&o);
    let m = json(dir.path().join("m.json"));
    assert_eq!(keys(&m), ["infer"]);
    assert_eq!(keys(&m["infer"]), ["y", "energy"]);
    let y: Vec<f64> = m["infer"]["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (y[0] - 1.0).abs() < 1e-6 && (y[1] + 2.0).abs() < 1e-6,
        "{y:?}"
    );
    // The metrics block on stdout shows what the metrics file holds.
    let block = String::from_utf8_lossy(&o.stdout);
    assert!(
        block.contains("y      = [1.000000, -2.000000]")
            || block.contains("y = [1.000000, -2.000000]"),
        "{block}"
    );
    assert!(block.contains("energy = "), "{block}");
    let text = std::fs::read_to_string(dir.path().join("p.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], "y[0],y[1]");
}

#[test]
fn model_picks_one_of_several() {
    let two = format!(
        "{CLASSIFIER}\nmodel other {{ output y : real  energy (y - 3)^2  infer y by descent(steps = 100, rate = 0.25) }}\n"
    );
    let dir = scratch(&two, Some(&data_csv()));
    let o = ebmc(dir.path(), &["m.ebm"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("holds several models (m, other); choose one with --model NAME"));
    let o = ebmc(
        dir.path(),
        &["m.ebm", "--model", "other", "--metrics", "o.json"],
    );
    ok(&o);
    let y = json(dir.path().join("o.json"))["infer"]["y"]
        .as_f64()
        .unwrap();
    assert!((y - 3.0).abs() < 1e-6, "{y}");
    let o = ebmc(dir.path(), &["m.ebm", "--model", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has no model `nope`; it has m, other"));
}

/// Descent with a rate too large for the curvature overshoots further at every step; the
/// run fails naming the step and the rate instead of reporting NaN as the answer.
#[test]
fn diverging_inference_is_an_error_not_a_nan_answer() {
    let dir = scratch(
        "model bowl {
           output y : real
           energy y^2
           infer y by descent(steps = 1000, rate = 10, init = 1)
         }",
        None,
    );
    let o = ebmc(dir.path(), &["m.ebm", "--metrics", "m.json"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: descent on `y` diverged at step ")
            && err.ends_with(" of 1000: the values became infinite or NaN; lower its rate (10) or start closer (init)\n"),
        "{err}"
    );
}

#[test]
fn every_malformed_cell_is_reported_one_per_line() {
    let dir = scratch(CLASSIFIER, Some("a,b,c\n1,2,0\n3,x,1\n1,1\n1,1,7\n"));
    let o = ebmc(dir.path(), &["m.ebm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: data/d.csv: 3 malformed cells or rows:
data/d.csv:3: column index 1 (\"b\"): expected a number, found \"x\"
data/d.csv:4: expected 3 cells as in the header, found 2
data/d.csv:5: column index 2 (\"c\"): expected a class label for y : class[2] (an integer from 0 to 1), found \"7\"
"
    );
}
