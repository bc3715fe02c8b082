//! Standard output that cannot be written: a reader that closed the pipe early (`| head -1`)
//! ends the output quietly with success, as command-line tools do; a full disk (`> /dev/full`)
//! is an I/O error (exit 2) with one message. Every command that prints is tried both ways.
//! Standard error that cannot be written loses its messages but keeps the exit code.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn root(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

/// The commands that write to standard output, each on a model it succeeds on.
fn commands() -> Vec<Vec<String>> {
    let iris = root("examples/iris.ebm");
    let rosenbrock = root("examples/rosenbrock.ebm");
    [
        vec!["emit", "ast", &iris],
        vec!["emit", "ir", &iris],
        vec!["emit", "grad", &iris],
        vec!["emit", "clif", &iris],
        vec!["eval", &iris, "--random"],
        vec!["run", &rosenbrock],
        vec!["bench", &rosenbrock],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect()
}

fn ebmc(args: &[String], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("ebmc runs")
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    for args in commands() {
        // The reading end is closed before ebmc starts, so its first write meets EPIPE
        // whatever the timing: no pipe buffer can absorb it.
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = ebmc(&args, writer.into());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn a_full_disk_is_an_io_error_with_one_message() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    for args in commands() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let out = ebmc(&args, full.into());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            "error: cannot write to standard output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

/// Standard error that cannot be written (closed, or `2> /dev/full`) loses the messages but
/// not the outcome: each command exits as it would with a terminal (1 for an error in the
/// model, 0 for a run that only prints progress notes), never 101 from a panic.
#[test]
fn a_closed_or_full_standard_error_keeps_the_exit_code() {
    let bad = root("tests/ebm/err/e0101_unknown_name.ebm");
    let rosenbrock = root("examples/rosenbrock.ebm");
    let cases: [(&[&str], i32); 4] = [
        (&["check", &bad], 1),
        (&["emit", "ir", &bad], 1),
        (&["run", &bad], 1),
        (&["run", &rosenbrock, "--weights", "/nonexistent/w.json"], 1),
    ];
    for (args, code) in cases {
        for full in [false, true] {
            let stderr: Stdio = if full {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("/dev/full opens")
                    .into()
            } else {
                let (reader, writer) = std::io::pipe().expect("a pipe");
                drop(reader);
                writer.into()
            };
            let out = Command::new(env!("CARGO_BIN_EXE_ebmc"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(stderr)
                .output()
                .expect("ebmc runs");
            assert_eq!(out.status.code(), Some(code), "{args:?} (full: {full})");
        }
    }
}
