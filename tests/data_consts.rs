//! Consts bound from the data (`const D = features`, `targets`, `classes`): one source serves
//! data of any width. `ebmc check`/`run` read the values from the model's `data` clause; a
//! const that nothing binds is E0108 with the reason; values given from outside win.

use ebmc::check::Model;
use ebmc::diag::Code;
use ebmc::driver;
use ebmc::types::Ty;
use std::path::Path;
use std::process::Command;

/// Iris's header: four features by name, then the species.
const IRIS: &str = "model iris {
  const D = features
  const C = classes
  input  x : real[D]
  output y : class[C]
  param  W : real[C, D] ~ normal(0, 0.1)
  param  b : real[C] = 0
  energy (W @ x + b)[y]
  loss nll(beta = 1)
  train by adam(rate = 0.05, epochs = 30, batch = 16, seed = 1)
  data \"iris.csv\" { x = sepal_length..petal_width, y = species } split 0.8 standardize x
}
";

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ebmc-data-consts-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn with_iris(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/iris.csv");
    std::fs::copy(iris, dir.join("iris.csv")).unwrap();
    dir
}

fn var_ty(m: &Model, name: &str) -> Ty {
    m.var(m.var_named(name).unwrap()).ty.clone()
}

fn errors(checked: &driver::Checked) -> Vec<(Code, String)> {
    checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.code, d.primary.message.clone()))
        .collect()
}

#[test]
fn features_and_classes_are_read_from_the_data_clause() {
    let dir = with_iris("named");
    let checked = driver::check_at(IRIS.as_bytes(), &dir);
    assert_eq!(errors(&checked), vec![]);
    let m = &checked.models[0];
    assert_eq!(var_ty(m, "x").elements(), 4, "four named feature columns");
    assert_eq!(var_ty(m, "y"), Ty::Class(3), "labels 0, 1, 2");
}

#[test]
fn column_indices_give_the_width_and_targets_the_output_width() {
    let dir = scratch("indices");
    std::fs::write(dir.join("d.csv"), "a,b,c,d,e\n1,2,3,4,5\n2,3,4,5,6\n").unwrap();
    let src = "model m {
  const D = features
  const K = targets
  input x : real[D]
  output y : real[K]
  param W : real[K, D]
  energy sqnorm(W @ x - y)
  data \"d.csv\" { x = 0..2, y = 3..4 }
}";
    let checked = driver::check_at(src.as_bytes(), &dir);
    assert_eq!(errors(&checked), vec![]);
    assert_eq!(var_ty(&checked.models[0], "x").elements(), 3);
    assert_eq!(var_ty(&checked.models[0], "y").elements(), 2);
}

#[test]
fn a_const_nothing_binds_is_e0108_with_the_reason() {
    // No data clause: the checker's own message and help.
    let src = "model m {
  const D = features
  input x : real[D]
  output y : real
  energy (y - sum(x))^2
}";
    let checked = driver::check_at(src.as_bytes(), Path::new("."));
    let errs = errors(&checked);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, Code::UnboundDataConst);
    let d = &checked.diagnostics[0];
    assert!(d.message.contains("`D`"), "{}", d.message);
    assert!(d.help.as_deref().unwrap().contains("data"), "{:?}", d.help);
    // The span is the value `features`.
    assert_eq!(&src[d.primary.span.start..d.primary.span.end], "features");

    // A data file that is not there: the reason is the label.
    let missing = IRIS.replace("iris.csv", "no-such.csv");
    let checked = driver::check_at(missing.as_bytes(), &scratch("missing"));
    let errs = errors(&checked);
    assert!(!errs.is_empty());
    assert!(
        errs.iter().all(|(c, m)| *c == Code::UnboundDataConst
            && m.contains("cannot read the data file no-such.csv")),
        "{errs:?}"
    );

    // A column name the header does not have, and labels that are not classes.
    let dir = scratch("bad");
    std::fs::write(dir.join("iris.csv"), "a,b,c,d,species\n1,2,3,4,0.5\n").unwrap();
    let checked = driver::check_at(IRIS.as_bytes(), &dir);
    let errs = errors(&checked);
    assert!(
        errs.iter()
            .any(|(_, m)| m.contains("no column \"sepal_length\"")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, m)| m.contains("a class label is a whole number from 0, found \"0.5\"")),
        "{errs:?}"
    );
}

#[test]
fn values_from_outside_win_and_the_consts_are_listed() {
    assert_eq!(
        driver::data_consts(IRIS.as_bytes()),
        vec![
            ("D".to_string(), "features".to_string()),
            ("C".to_string(), "classes".to_string())
        ]
    );
    let consts = [("D".to_string(), 7), ("C".to_string(), 5)];
    let checked = driver::check_with_consts(IRIS.as_bytes(), &consts, None).unwrap();
    // The binding width no longer matches the 4 named columns: that is the data's business,
    // not the checker's, so the model checks with the given values.
    assert_eq!(errors(&checked), vec![]);
    assert_eq!(var_ty(&checked.models[0], "x").elements(), 7);
    assert_eq!(var_ty(&checked.models[0], "y"), Ty::Class(5));
}

#[test]
fn a_model_that_declares_the_name_uses_its_own() {
    let src = "model m {
  const features = 3
  const D = features
  input x : real[D]
  output y : real
  energy (y - sum(x))^2
}";
    let checked = driver::check_at(src.as_bytes(), Path::new("."));
    assert_eq!(errors(&checked), vec![]);
    assert_eq!(var_ty(&checked.models[0], "x").elements(), 3);
}

#[test]
fn ebmc_run_trains_a_model_whose_widths_come_from_the_data() {
    let dir = with_iris("run");
    std::fs::write(dir.join("iris.ebm"), IRIS).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(["run", "--quiet", "--metrics"])
        .arg(dir.join("m.json"))
        .arg(dir.join("iris.ebm"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("m.json")).unwrap()).unwrap();
    let acc = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "held-out accuracy {acc}");

    // `ebmc check` in another working directory still finds the data beside the source.
    let out = Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .current_dir(std::env::temp_dir())
        .arg("check")
        .arg(dir.join("iris.ebm"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
