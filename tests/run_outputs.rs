//! Where `ebmc run` writes (spec section 10, README "Reliability of output files"), through the binary:
//!
//! * a device (`/dev/null`) or FIFO is written in place, `-` is standard output, a symbolic
//!   link is followed and kept, an existing file keeps its mode;
//! * a 250-byte file name is a legal output;
//! * a save removes the temporary files a killed save of the same target left;
//! * two outputs on one file, an output on the `--weights` file, and an output in a missing
//!   directory are refused before any work (here: before the data file, which is missing,
//!   is even read);
//! * a numeric failure saves the weights after the last whole epoch, and says so;
//! * `split 1`: `--out` holds the predictions of the training rows.

use std::path::Path;
use std::process::{Command, Output};

/// Converges: y = 0.5 a + 0.25 b learned by least squares.
fn model(rate: &str, epochs: u32, split: &str) -> String {
    format!(
        "model m {{
  input x : real[2]  output y : real
  param w : real[2] = 0
  energy 0.5 * (dot(w, x) - y)^2
  loss energy
  train by sgd(rate = {rate}, epochs = {epochs}, batch = 4, seed = 3)
  data \"data/d.csv\" {{ x = a..b, y = c }} split {split}
}}
"
    )
}

/// 40 rows: a and b from fixed formulas, c = 1 when a + b > 10.
fn data_csv() -> String {
    let mut s = String::from("a,b,c\n");
    for i in 0..40 {
        let (a, b) = ((i * 7 % 13) as f64, (i * 5 % 11) as f64 + 0.5);
        s.push_str(&format!("{a},{b},{}\n", u8::from(a + b > 10.0)));
    }
    s
}

/// A scratch directory with `m.ebm` holding `model` and, when `data`, `data/d.csv`.
fn scratch(model: &str, data: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    std::fs::write(dir.path().join("m.ebm"), model).unwrap();
    if data {
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/d.csv"), data_csv()).unwrap();
    }
    dir
}

/// Runs `ebmc run m.ebm --quiet ARGS…` in `dir`.
fn ebmc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .current_dir(dir)
        .args(["run", "m.ebm", "--quiet"])
        .args(args)
        .output()
        .expect("ebmc runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    assert_eq!(stderr(o), "");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn a_device_is_written_in_place_and_dash_is_standard_output() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch(&model("0.02", 3, "0.75"), true);
    // A null device of the test's own (mknod needs root), so that a regression replaces that
    // one rather than the system's; a user cannot replace /dev/null anyway.
    let own = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&own)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status();
    let device = if made.is_ok_and(|s| s.success()) {
        "null"
    } else {
        "/dev/null"
    };
    let o = ebmc(dir.path(), &["--metrics", device, "--out", device]);
    ok(&o);
    let path = dir.path().join(device);
    assert!(std::fs::metadata(path)
        .unwrap()
        .file_type()
        .is_char_device());
    let o = ebmc(dir.path(), &["--metrics", "-"]);
    ok(&o);
    let metrics: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert!(metrics["train"]["rmse"].is_number(), "{metrics}");
    assert!(!dir.path().join("-").exists(), "a file named - was written");
}

#[cfg(unix)]
#[test]
fn a_symlinked_output_keeps_its_link_and_a_file_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch(&model("0.02", 3, "0.75"), true);
    std::fs::create_dir(dir.path().join("keep")).unwrap();
    let real = dir.path().join("keep/w.json");
    std::fs::write(&real, "old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("keep/w.json", dir.path().join("w.json")).unwrap();
    ok(&ebmc(dir.path(), &["--save", "w.json"]));
    let link = std::fs::symlink_metadata(dir.path().join("w.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&real).unwrap()).expect("weights");
    assert!(saved["w"].is_array(), "{saved}");
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(names(&dir.path().join("keep")), ["w.json"]);
}

#[test]
fn a_250_byte_output_name_is_written() {
    let dir = scratch(&model("0.02", 3, "0.75"), true);
    let name = "w".repeat(245) + ".json";
    assert_eq!(name.len(), 250);
    ok(&ebmc(dir.path(), &["--save", &name]));
    assert!(dir.path().join(&name).is_file());
}

#[cfg(target_os = "linux")]
#[test]
fn a_save_removes_what_a_killed_save_left() {
    let dir = scratch(&model("0.02", 3, "0.75"), true);
    // A process id above the kernel's limit (2^22): its process is certainly gone.
    let stale = format!(".w.json.{}.0.tmp", (1 << 22) + 5);
    std::fs::write(dir.path().join(&stale), "half a weights fi").unwrap();
    ok(&ebmc(dir.path(), &["--save", "w.json"]));
    assert_eq!(names(dir.path()), ["data", "m.ebm", "w.json"]);
}

#[test]
fn bad_outputs_are_refused_before_any_work() {
    // No data file: an output error shows the outputs were checked before the data is read.
    let dir = scratch(&model("0.02", 3, "0.75"), false);
    std::fs::write(dir.path().join("w.json"), "{}").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--save", "x.json", "--metrics", "./x.json", "--out", "x.json"],
            "error: --save and --metrics both write ./x.json; give each output its own file\n",
        ),
        (
            &["--metrics", "m.json", "--history", "sub/../m.json"],
            "error: --history sub/../m.json: the directory sub/.. does not exist\n",
        ),
        (
            &["--out", "-", "--metrics", "-"],
            "error: --metrics and --out both write -; give each output its own file\n",
        ),
        (
            &["--weights", "w.json", "--save", "./w.json"],
            "error: --save ./w.json would overwrite the --weights file it reads; write to another file\n",
        ),
        (
            &["--metrics", "no/such/dir/m.json"],
            "error: --metrics no/such/dir/m.json: the directory no/such/dir does not exist\n",
        ),
        (
            &["--save", "m.ebm/w.json"],
            "error: --save m.ebm/w.json: m.ebm is not a directory\n",
        ),
    ];
    for (args, message) in cases {
        let o = ebmc(dir.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&o), message, "{args:?}");
    }
    assert_eq!(names(dir.path()), ["m.ebm", "w.json"]);
}

#[test]
fn a_numeric_failure_saves_the_weights_of_the_last_whole_epoch() {
    let dir = scratch(&model("1000", 50, "0.75"), true);
    let o = ebmc(dir.path(), &["--save", "w.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: training stopped at epoch 5, step 2 of 8: the loss is inf; saved the weights after epoch 4, the last whole one, to w.json\n"
    );
    // The same model trained for those 4 epochs saves the same file, byte for byte.
    std::fs::write(dir.path().join("m.ebm"), model("1000", 4, "0.75")).unwrap();
    ok(&ebmc(dir.path(), &["--save", "w4.json"]));
    let failed = std::fs::read(dir.path().join("w.json")).unwrap();
    assert_eq!(failed, std::fs::read(dir.path().join("w4.json")).unwrap());
    // Failing in the first epoch saves the initial weights.
    std::fs::write(dir.path().join("m.ebm"), model("1e200", 50, "0.75")).unwrap();
    let o = ebmc(dir.path(), &["--save", "w0.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: training stopped at epoch 1, step 2 of 8: the loss is inf; saved the initial weights (no epoch finished) to w0.json\n"
    );
    let w0: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("w0.json")).unwrap()).unwrap();
    assert_eq!(w0["w"], serde_json::json!([0.0, 0.0]));
}

#[test]
fn with_no_test_rows_out_holds_the_training_rows() {
    let dir = scratch(&model("0.02", 3, "1"), true);
    ok(&ebmc(dir.path(), &["--out", "p.csv"]));
    let text = std::fs::read_to_string(dir.path().join("p.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,y"));
    let mut rows: Vec<usize> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    rows.sort();
    assert_eq!(rows, (2..=41).collect::<Vec<_>>(), "one row per data line");
}
