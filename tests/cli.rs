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

/// A training run whose weights file is large enough that writing it takes a while.
fn big_model(dir: &Path) -> PathBuf {
    let mut csv = String::from("a,b\n");
    for i in 0..8 {
        csv.push_str(&format!("{},{}\n", i as f64 * 0.1, i as f64 * 0.2));
    }
    std::fs::write(dir.join("d.csv"), csv).unwrap();
    let model = "model big {\n  input x : real  output y : real\n  param W : real[1200, 1200] ~ normal(0, 0.001)\n  param w : real = 0\n  energy 0.5 * (w * x + 0.000001 * sum(W) - y)^2\n  loss energy\n  train by sgd(rate = 0.01, epochs = 1, batch = 8)\n  data \"d.csv\" { x = a, y = b }\n}\n";
    let path = dir.join("big.ebm");
    std::fs::write(&path, model).unwrap();
    path
}

/// SIGKILL at many points of `run --save`: the weights file is always the previous one or
/// a complete new one, never a torn write.
#[cfg(unix)]
#[test]
fn killed_save_leaves_the_previous_weights_intact() {
    use std::time::Instant;
    let dir = temp_dir("kill");
    let model = big_model(&dir);
    let weights = dir.join("w.json");
    let save = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--quiet",
            model.to_str().unwrap(),
            "--save",
            weights.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    // The previous weights: a complete run.
    let first = Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(save(&[]))
        .output()
        .unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let previous = std::fs::read(&weights).unwrap();
    // How long a whole run takes, to spread the kills over it.
    let t = Instant::now();
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(save(&["--seed", "1"]))
        .output()
        .unwrap();
    let whole = t.elapsed();
    std::fs::write(&weights, &previous).unwrap();
    let mut torn_checks = 0;
    for k in 1..=12u32 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .args(save(&["--seed", "1"]))
            .spawn()
            .unwrap();
        // Spread over the second half of the run, where the weights are written.
        std::thread::sleep(whole.mul_f64(0.5 + 0.5 * f64::from(k) / 13.0));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(&weights).unwrap();
        if now != previous {
            // A new file must be complete: it parses and has every entry.
            let v: serde_json::Value = serde_json::from_slice(&now).expect("a complete JSON file");
            assert!(v.get("W").is_some() && v.get("w").is_some());
            std::fs::write(&weights, &previous).unwrap();
        }
        torn_checks += 1;
        // No temporary files are left where the user would see them as weights.
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".json") || name == "w.json" || name.starts_with('.'),
                "stray file {name}"
            );
        }
    }
    assert_eq!(torn_checks, 12);
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
