//! `--at NAME=VALUE` on the command line of `ebmc run` and `ebmc eval` (spec section 10): the
//! binary on models written to a scratch directory.
//!
//! * a model without data infers at the inputs `--at` gives: the answer, its energy, `--out`
//!   and `--metrics` in the form of spec section 10;
//! * a model with data infers at the given inputs instead of measuring its test set, with
//!   values in the data's units (a standardized input z-scored, a standardized output mapped
//!   back);
//! * `eval --at` replaces variables of the point;
//! * every mistake in a flag (unknown name, not an input, wrong shape, not a number, an input
//!   left out, a name given twice) is one line naming the flag and what was expected, exit 2,
//!   and no output; a model without data run without `--at` is told to give its inputs (exit 1,
//!   as before `--at` existed).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// No data: the answer is y = 2x + v[0] − v[1], with energy 0 there.
const NO_DATA: &str = "model m {
  input x : real
  input v : real[2]
  output y : real
  energy (y - 2 * x - v[0] + v[1])^2
  infer y by descent(steps = 200, rate = 0.2, init = 0)
}
";

/// Data where b = 2a + 1 exactly, both standardized: in z-scores the answer is y = x, which is
/// y = 2x + 1 in the data's units only when `--at` is z-scored and the answer mapped back.
const WITH_DATA: &str = "model m {
  input x : real
  output y : real
  energy (y - x)^2
  infer y by descent(steps = 200, rate = 0.2, init = 0)
  data \"d.csv\" { x = a, y = b } standardize x, y
}
";

fn scratch(model: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(dir.path().join("m.ebm"), model).unwrap();
    let mut csv = String::from("a,b\n");
    for a in 0..10 {
        csv.push_str(&format!("{a},{}\n", 2 * a + 1));
    }
    std::fs::write(dir.path().join("d.csv"), csv).unwrap();
    dir
}

fn ebmc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("ebmc runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn a_model_without_data_infers_at_the_given_inputs() {
    let dir = scratch(NO_DATA);
    let o = ebmc(
        dir.path(),
        &[
            "run",
            "m.ebm",
            "--at",
            "x=1.5",
            "--at",
            "v=[0.5, 2]",
            "--metrics",
            "m.json",
            "--out",
            "o.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let m = json(&dir.path().join("m.json"));
    let y = m["infer"]["y"].as_f64().unwrap();
    assert!(close(y, 3.0 + 0.5 - 2.0), "{m}");
    assert!(m["infer"]["energy"].as_f64().unwrap().abs() < 1e-9, "{m}");
    let out = std::fs::read_to_string(dir.path().join("o.csv")).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "y");
    assert!(close(lines[1].parse().unwrap(), 1.5), "{out}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("energy"), "{table}");
}

#[test]
fn a_model_with_data_infers_at_the_given_inputs_in_the_data_units() {
    let dir = scratch(WITH_DATA);
    let o = ebmc(
        dir.path(),
        &[
            "run",
            "m.ebm",
            "--at",
            "x=1.5",
            "--metrics",
            "m.json",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let m = json(&dir.path().join("m.json"));
    // One answer, not metrics of the training and test sets.
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["infer"]);
    let y = m["infer"]["y"].as_f64().unwrap();
    assert!(close(y, 2.0 * 1.5 + 1.0), "{m}");
    // Without --at the same model measures its data, as before.
    let o = ebmc(
        dir.path(),
        &["run", "m.ebm", "--metrics", "d.json", "--quiet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json(&dir.path().join("d.json")).get("train").is_some());
}

#[test]
fn eval_takes_variables_of_the_point_from_at() {
    let dir = scratch(NO_DATA);
    let at = [
        "eval",
        "m.ebm",
        "--random",
        "--at",
        "x=1.5",
        "--at",
        "v=[0.5, 2]",
        "--at",
        "y=1.5",
    ];
    let o = ebmc(dir.path(), &at);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["energy"].as_f64(), Some(0.0), "{v}");
    assert_eq!(v["grad"]["y"].as_f64(), Some(0.0), "{v}");
    // The random point alone is somewhere else.
    let o = ebmc(dir.path(), &at[..3]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(v["energy"].as_f64(), Some(0.0), "{v}");
}

/// Runs `args` in a scratch directory holding `model`; expects exit 2, nothing on standard
/// output and one line on standard error, which it returns.
fn usage_error(model: &str, args: &[&str]) -> String {
    let dir = scratch(model);
    let o = ebmc(dir.path(), args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?} printed a result");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    err.trim_end().to_string()
}

#[test]
fn mistakes_in_at_name_the_flag_and_what_was_expected() {
    let run = |model, at: &[&str]| {
        let mut args = vec!["run", "m.ebm"];
        for a in at {
            args.extend(["--at", a]);
        }
        usage_error(model, &args)
    };
    assert_eq!(
        run(WITH_DATA, &["q=1"]),
        "error: --at q=1: `m` has no variable `q`; its inputs are x"
    );
    assert_eq!(
        run(WITH_DATA, &["y=1"]),
        "error: --at y=1: `y` is an output, which `run` infers; --at gives inputs (x)"
    );
    assert_eq!(
        run(WITH_DATA, &["x=[1, 2]"]),
        "error: --at x=[1, 2]: `x` is real (a number), found 2 numbers"
    );
    assert_eq!(
        run(WITH_DATA, &["x=abc"]),
        "error: --at x=abc: expected real (a number) after `=`, as a number or a JSON array"
    );
    assert_eq!(
        run(WITH_DATA, &["x"]),
        "error: --at x: expected NAME=VALUE, such as x=1.5 or x=[0.1, 0.2]"
    );
    assert_eq!(
        run(WITH_DATA, &["x=1", "x=2"]),
        "error: --at x=2: `x` is given twice; give each variable once"
    );
    assert_eq!(
        run(NO_DATA, &["x=1", "v=[[1], [2]]"]),
        "error: --at v=[[1], [2]]: `v` is real[2] (a row of 2 numbers), found 2 numbers nested otherwise"
    );
    assert_eq!(
        run(NO_DATA, &["x=1"]),
        "error: --at: no value for the input `v`: the model has no `data` to read inputs from; give every input (x, v), as --at v=VALUE"
    );

    assert_eq!(
        run(WITH_DATA, &["x=1e999"]),
        "error: --at x=1e999: expected real (a number) after `=`, as a number or a JSON array"
    );
    assert_eq!(
        usage_error(NO_DATA, &["eval", "m.ebm", "--random", "--at", "w=1"]),
        "error: --at w=1: `m` has no variable `w`; its inputs are x, v"
    );
    assert_eq!(
        usage_error(NO_DATA, &["eval", "m.ebm", "--random", "--at", "y=\"one\""]),
        "error: --at y=\"one\": expected real (a number) after `=`, as a number or a JSON array"
    );
}

#[test]
fn a_model_without_data_run_without_at_is_told_how_to_give_its_inputs() {
    let dir = scratch(NO_DATA);
    let o = ebmc(dir.path(), &["run", "m.ebm"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: the model has the input `x` but no `data` clause to read it from; give it with --at x=VALUE, or add `data \"file.csv\" { x = … }`\n"
    );
}
