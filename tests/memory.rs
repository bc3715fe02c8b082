//! A run that cannot fit in memory is refused before it allocates, with figures, never
//! aborted by a failed allocation (runtime/memory.rs):
//!
//! * `--memory SIZE` below the estimate: exit 1, one line with the estimate part by part;
//! * an address-space limit (`prlimit --as`, what `ulimit -v` sets) is the default budget:
//!   the same refusal, naming the limit;
//! * with the budget lifted (`--memory 100G`) under that limit, the allocation that fails is
//!   an error (exit 1), not SIGABRT.
//!
//! The model has one 2000 × 2000 matrix (31 MB, in powers of 1024) trained by Adam on one
//! thread; the estimate is about nine times that.

use std::path::Path;
use std::process::{Command, Output};

const N: usize = 2000;

fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let model = format!(
        "model big {{
  input x : real[{N}]  output y : real[{N}]
  param W : real[{N}, {N}] ~ normal(0, 0.01)
  energy 0.5 * sqnorm(W @ x - y)
  loss energy
  train by adam(rate = 0.001, epochs = 1, batch = 32, seed = 1)
  data \"d.csv\" {{ x = 0..{}, y = {N}..{} }} split 0.5
}}
",
        N - 1,
        2 * N - 1
    );
    std::fs::write(dir.path().join("m.ebm"), model).unwrap();
    let mut csv: Vec<String> = vec![(0..2 * N)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",")];
    for r in 0..8 {
        csv.push(
            (0..2 * N)
                .map(|i| format!("{}", ((r * 31 + i * 7) % 17) as f64 / 17.0))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    std::fs::write(dir.path().join("d.csv"), csv.join("\n") + "\n").unwrap();
    dir
}

fn run(dir: &Path, limit: Option<&str>, args: &[&str]) -> Output {
    let ebmc = env!("CARGO_BIN_EXE_ebmc");
    let mut cmd = match limit {
        Some(bytes) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--as={bytes}")).arg(ebmc);
            c
        }
        None => Command::new(ebmc),
    };
    cmd.current_dir(dir)
        .args(["run", "m.ebm", "--quiet", "--threads", "1"])
        .args(args)
        .output()
        .expect("ebmc (and prlimit, from util-linux) run")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_memory_budget_below_the_estimate_refuses_the_run_with_figures() {
    let dir = scratch();
    let o = run(dir.path(), None, &["--memory", "100M"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "error: this run needs about 276 MB while training (31 MB params, 154 MB the params and kernel buffers of 1 training thread, 31 MB the gradient of a step, 61 MB the optimizer's state) but may use 100 MB, the --memory budget; use fewer threads (`--threads 1`), smaller tensors, or another budget with `--memory SIZE`\n"
    );
    // A budget above the estimate runs.
    let o = run(dir.path(), None, &["--memory", "1G"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn an_address_space_limit_is_the_default_budget() {
    let dir = scratch();
    let o = run(dir.path(), Some("200000000"), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: this run needs about 276 MB while training")
            && err.contains("what is left of the address-space limit of 191 MB (ulimit -v)"),
        "{err}"
    );
}

#[test]
fn an_allocation_that_fails_is_an_error_not_an_abort() {
    let dir = scratch();
    let o = run(dir.path(), Some("200000000"), &["--memory", "100G"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err} ({:?})", o.status);
    assert!(
        err.starts_with("error: ") && err.contains("out of memory"),
        "{err}"
    );
}
