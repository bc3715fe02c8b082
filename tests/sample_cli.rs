//! `ebmc sample` on the command line (spec section 10): the binary on models written to a
//! scratch directory.
//!
//! * `--out` is a CSV file with a header of one column per coordinate (`y[0]`, `y[1]`, as
//!   `ebmc plot density --samples` reads it) and one row per chain, in the data's units;
//! * a model without inputs draws `--n` chains; `--at` puts every chain at the given inputs;
//!   a model with data and no `--at` runs one chain per test row, with its line;
//! * the same seed gives the same file; `hmc` reports its acceptance rate;
//! * a mistake in a flag is one line and exit 2, before anything runs; a model that cannot be
//!   sampled is told which line to write (exit 1).

use std::path::Path;
use std::process::{Command, Output};

const DENSITY: &str = "model d {
  output y : real[2]
  energy 0.5 * sqnorm(y - [1, 2])
  infer y by langevin(steps = 200, rate = 0.05)
}
";

const CONDITIONAL: &str = "model c {
  input x : real
  output y : real
  energy 0.5 * (y - 3 * x)^2
  infer y by hmc(steps = 50, leapfrog = 5, rate = 0.2)
  data \"d.csv\" { x = a, y = b } split 0.5 standardize y
}
";

fn scratch(model: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.ebm"), model).unwrap();
    let mut csv = String::from("a,b\n");
    for a in 0..20 {
        csv.push_str(&format!("{},{}\n", a as f64 / 10.0, 100 + 3 * a));
    }
    std::fs::write(dir.path().join("d.csv"), csv).unwrap();
    dir
}

fn ebmc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .current_dir(dir)
        .arg("sample")
        .arg("m.ebm")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

#[test]
fn out_has_a_column_per_coordinate_and_a_row_per_chain() {
    let dir = scratch(DENSITY);
    let o = ebmc(dir.path(), &["--n", "500", "--seed", "3", "--out", "s.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (header, rows) = read_csv(&dir.path().join("s.csv"));
    assert_eq!(header, ["y[0]", "y[1]"]);
    assert_eq!(rows.len(), 500);
    // N([1, 2], I): the mean within 5 standard errors (1/√500) of the centre.
    for (j, centre) in [1.0, 2.0].into_iter().enumerate() {
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / 500.0;
        assert!((mean - centre).abs() < 5.0 / 500f64.sqrt(), "mean {mean}");
    }
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("500 samples of `d` by langevin"),
        "{summary}"
    );
    // The same seed, the same samples; another seed, others.
    let again = ebmc(dir.path(), &["--n", "500", "--seed", "3", "--out", "t.csv"]);
    assert!(again.status.success());
    let a = std::fs::read(dir.path().join("s.csv")).unwrap();
    assert_eq!(a, std::fs::read(dir.path().join("t.csv")).unwrap());
    let other = ebmc(dir.path(), &["--n", "500", "--seed", "4", "--out", "t.csv"]);
    assert!(other.status.success());
    assert_ne!(a, std::fs::read(dir.path().join("t.csv")).unwrap());
}

#[test]
fn one_chain_per_test_row_in_the_datas_units() {
    let dir = scratch(CONDITIONAL);
    let o = ebmc(dir.path(), &["--weights", "none.json", "--out", "s.csv"]);
    // No such weights file: an error, exit 1, and nothing written.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!dir.path().join("s.csv").exists());
    let o = ebmc(dir.path(), &["--out", "s.csv", "--seed", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (header, rows) = read_csv(&dir.path().join("s.csv"));
    assert_eq!(header, ["line", "y"]);
    assert_eq!(rows.len(), 10, "split 0.5 of 20 rows");
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("acceptance"), "{summary}");
    // `y` is standardized: the samples are mapped back to the data's units (around 100–160),
    // not left as z-scores.
    assert!(rows.iter().all(|r| r[1] > 50.0), "{rows:?}");
}

#[test]
fn at_puts_every_chain_at_the_given_inputs() {
    let dir = scratch(CONDITIONAL);
    let o = ebmc(dir.path(), &["--at", "x=1", "--n", "300", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("y"));
    assert_eq!(lines.count(), 300);
    // The summary goes to standard error when the samples take standard output.
    assert!(stderr(&o).contains("300 samples"));
}

#[test]
fn mistakes_in_flags_are_one_line_and_exit_2() {
    let dir = scratch(CONDITIONAL);
    for (args, expected) in [
        (&["--at", "z=1"][..], "`z`"),
        (&["--at", "y=1"][..], "`y` is an output"),
        (&["--at", "x=[1, 2]"][..], "x"),
        (&["--n", "10"][..], "--n needs --at"),
        (&["--at", "x=1", "--n", "0"][..], "--n 0"),
    ] {
        let o = ebmc(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let o = ebmc(dir.path(), &["--n", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_model_without_a_sampler_is_told_what_to_write() {
    let dir = scratch(
        "model m {
  output y : real
  energy (y - 1)^2
}
",
    );
    let o = ebmc(dir.path(), &["--n", "5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("infer y by langevin"), "{}", stderr(&o));
}

#[test]
fn discrete_outputs_are_drawn_exactly() {
    // P(y = k) ∝ exp(−E_k) with energies 0, 1, 2: 0.665, 0.245, 0.090.
    let dir = scratch(
        "model m {
  output y : class[3]
  param e : real[3] = [0, 1, 2]
  energy e[y]
}
",
    );
    let n = 4000;
    let o = ebmc(dir.path(), &["--n", &n.to_string(), "--out", "s.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, rows) = read_csv(&dir.path().join("s.csv"));
    let z: f64 = (0..3).map(|k| (-(k as f64)).exp()).sum();
    for k in 0..3 {
        let p = (-(k as f64)).exp() / z;
        let f = rows.iter().filter(|r| r[0] == k as f64).count() as f64 / n as f64;
        // 5 binomial standard errors.
        assert!(
            (f - p).abs() < 5.0 * (p * (1.0 - p) / n as f64).sqrt(),
            "{k}: {f} vs {p}"
        );
    }
}
