//! The command line as a user meets it: exit codes (0 success, 1 user error, 2 usage or
//! I/O), one-line messages for missing files, and crash-safe output files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ebmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(args)
        .output()
        .expect("ebmc runs")
}

fn root(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ebmc-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_exit_codes() {
    assert_eq!(
        ebmc(&["check", &root("examples/iris.ebm")]).status.code(),
        Some(0)
    );
    let warn = ebmc(&[
        "check",
        "--color",
        "never",
        &root("tests/ebm/err/w0001_unused_declarations.ebm"),
    ]);
    assert_eq!(
        warn.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&warn.stderr)
    );
    let err = ebmc(&[
        "check",
        "--color",
        "never",
        &root("tests/ebm/err/e0101_unknown_name.ebm"),
    ]);
    assert_eq!(err.status.code(), Some(1));
    let text = String::from_utf8_lossy(&err.stderr);
    assert!(
        text.contains("[E0101]") && !text.contains("\u{1b}["),
        "{text}"
    );
    let colored = ebmc(&[
        "check",
        "--color",
        "always",
        &root("tests/ebm/err/e0101_unknown_name.ebm"),
    ]);
    assert!(String::from_utf8_lossy(&colored.stderr).contains("\u{1b}["));
}

#[test]
fn missing_file_is_one_line_and_exit_2() {
    let out = ebmc(&["check", "/nonexistent/model.ebm"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("/nonexistent/model.ebm"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ebmc(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(ebmc(&["check"]).status.code(), Some(2));
    assert_eq!(
        ebmc(&["emit", "bytecode", &root("examples/iris.ebm")])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn emit_ast_prints_the_tree() {
    let out = ebmc(&["emit", "ast", &root("examples/iris.ebm")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("model iris @"), "{text}");
}

/// A training run whose weights file (about 2 MB) takes some writing.
fn big_model(dir: &Path) -> PathBuf {
    let mut csv = String::from("a,b\n");
    for i in 0..8 {
        csv.push_str(&format!("{},{}\n", i as f64 * 0.1, i as f64 * 0.2));
    }
    std::fs::write(dir.join("d.csv"), csv).unwrap();
    let model = "model big {\n  input x : real  output y : real\n  param W : real[300, 300] ~ normal(0, 0.001)\n  param w : real = 0\n  energy 0.5 * (w * x + 0.000001 * sum(W) - y)^2\n  loss energy\n  train by sgd(rate = 0.01, epochs = 1, batch = 8)\n  data \"d.csv\" { x = a, y = b }\n}\n";
    let path = dir.join("big.ebm");
    std::fs::write(&path, model).unwrap();
    path
}

/// SIGKILL inside the weights write of `run --save`: the weights file is still the previous
/// one, byte for byte. The kills are aimed, not hoped for: `EBMC_TEST_WRITE_PAUSE_MS` makes
/// every write pause halfway through its bytes, and each kill lands once the half-written
/// file is seen (a temporary file, or the target itself for a writer that truncates it in
/// place, which this test catches). The temporaries the kills leave are removed by the next
/// save of the same file.
#[cfg(unix)]
#[test]
fn killed_save_leaves_the_previous_weights_intact() {
    use std::time::{Duration, Instant};
    let dir = temp_dir("kill");
    let model = big_model(&dir);
    let weights = dir.join("w.json");
    let save = |seed: u32| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ebmc"));
        c.args(["run", "--quiet", model.to_str().unwrap(), "--save"])
            .arg(&weights)
            .args(["--seed", &seed.to_string()]);
        c
    };
    // The previous weights: a complete run.
    let first = save(0).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let previous = std::fs::read(&weights).unwrap();
    // What shows that a write is halfway: a temporary file of `w.json` with bytes in it that
    // no earlier kill left, or `w.json` itself changed (a writer truncating it in place).
    let half_written = |left: &[String]| -> Option<String> {
        if std::fs::read(&weights).unwrap() != previous {
            return Some("w.json".to_string());
        }
        std::fs::read_dir(&dir).unwrap().find_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with(".w.json.")
                && name.ends_with(".tmp")
                && !left.contains(&name)
                && e.metadata().is_ok_and(|m| m.len() > 0))
            .then_some(name)
        })
    };
    let mut left: Vec<String> = Vec::new();
    for seed in 1..=5u32 {
        let mut child = save(seed)
            .env("EBMC_TEST_WRITE_PAUSE_MS", "20000")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let seen = loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("ebmc ended ({status}) before the kill");
            }
            if let Some(seen) = half_written(&left) {
                break seen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the write was never seen"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        child.kill().unwrap();
        let _ = child.wait();
        assert!(
            std::fs::read(&weights).unwrap() == previous,
            "killed inside the write at seed {seed}, w.json is no longer the previous weights"
        );
        // Only the temporary of this kill is there: this save removed the one before.
        let temps: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert_eq!(temps, std::slice::from_ref(&seen));
        left.push(seen);
    }
    // A save that is not killed replaces the weights and removes the last temporary.
    let last = save(9).output().unwrap();
    assert_eq!(last.status.code(), Some(0));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&weights).unwrap()).expect("complete JSON");
    assert!(v.get("W").is_some() && v.get("w").is_some());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["big.ebm", "d.csv", "w.json"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGINT (Ctrl-C) and SIGTERM inside the weights write: ebmc dies of the signal as before,
/// the weights file is the previous one and no temporary file is left.
#[cfg(unix)]
#[test]
fn interrupted_save_removes_its_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};
    let dir = temp_dir("interrupt");
    let model = big_model(&dir);
    let weights = dir.join("w.json");
    std::fs::write(&weights, "previous").unwrap();
    for (name, number) in [("INT", 2), ("TERM", 15)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .args(["run", "--quiet", model.to_str().unwrap(), "--save"])
            .arg(&weights)
            .env("EBMC_TEST_WRITE_PAUSE_MS", "20000")
            .spawn()
            .unwrap();
        let start = Instant::now();
        // Halfway through the write: its temporary file holds bytes.
        while !std::fs::read_dir(&dir).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".tmp")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        }) {
            assert!(child.try_wait().unwrap().is_none(), "ebmc ended early");
            assert!(start.elapsed() < Duration::from_secs(20), "no write seen");
            std::thread::sleep(Duration::from_millis(2));
        }
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(number), "{status}");
        assert_eq!(std::fs::read_to_string(&weights).unwrap(), "previous");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["big.ebm", "d.csv", "w.json"], "after SIG{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--model X` reports the warnings of X only: the file's other models are not being run.
#[test]
fn a_chosen_model_reports_only_its_own_warnings() {
    let dir = temp_dir("own-warnings");
    let file = dir.join("two.ebm");
    let model = |name: &str, out: &str| {
        format!(
            "model {name} {{\n  output {out} : real\n  let unused_in_{name} = 1\n  energy {out}^2\n  infer {out} by descent(steps = 10, rate = 0.1)\n}}\n"
        )
    };
    std::fs::write(&file, model("a", "y") + &model("b", "z")).unwrap();
    let file = file.display().to_string();
    for (args, own, other) in [
        (["run", "--model", "b"], "unused_in_b", "unused_in_a"),
        (["run", "--model", "a"], "unused_in_a", "unused_in_b"),
        (["emit", "ir", "--model"], "unused_in_a", "unused_in_b"),
    ] {
        let mut args = args.to_vec();
        if args[0] == "emit" {
            args.push("a");
        }
        let out = ebmc(&[&args[..], &["--color", "never", &file]].concat());
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
        assert!(
            text.starts_with(&format!(
                "[W0001] Warning: expected let `{own}` to be used, found no use\n"
            )),
            "{args:?}: {text}"
        );
        assert_eq!(text.matches("[W0001]").count(), 1, "{args:?}: {text}");
        assert!(!text.contains(other), "{args:?}: {text}");
    }
    // `check` still reports every model's.
    let out = ebmc(&["check", "--color", "never", &file]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("[W0001]")
            .count(),
        2
    );
}

/// A gradient with one non-finite entry keeps its shape, that entry written as `"inf"` (JSON
/// has no infinity), and `eval` fails naming it — on native code and on the interpreter.
#[test]
fn eval_encodes_a_non_finite_gradient_entry_and_fails() {
    let dir = temp_dir("eval-non-finite");
    let model = dir.join("m.ebm");
    std::fs::write(
        &model,
        "model m {\n  output y : real\n  param w : real[2, 2]\n  energy y^2 + sum(sqrt(w))\n}\n",
    )
    .unwrap();
    let point = dir.join("p.json");
    std::fs::write(&point, r#"{"y": 1, "w": [[1, 0], [4, 9]]}"#).unwrap();
    let (model, point) = (model.display().to_string(), point.display().to_string());
    for extra in [&[][..], &["--interp"][..]] {
        let out = ebmc(&[&["eval", &model, "--point", &point][..], extra].concat());
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "error: not finite at this point: grad.w[0, 1] = inf\n"
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json["grad"]["w"],
            serde_json::json!([[0.5, "inf"], [0.25, 1.0 / 6.0]])
        );
        assert_eq!(json["energy"], serde_json::json!(7.0));
    }
}
