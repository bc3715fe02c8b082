//! Replays every fuzz target's committed corpus and every crash it ever found
//! (`fuzz/corpus/<target>/*`, `fuzz/artifacts/<target>/*`) through the same library function
//! the target calls, on the stable toolchain, as part of `cargo test`. A crash input stays in
//! `fuzz/artifacts/` after its fix, so the bug cannot come back unnoticed.

use ebmc::compile::Backend;
use ebmc::testing::fuzzing;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if p.is_file() && !hidden {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs `f` on every input of `target`; fails naming every input that erred or panicked.
fn replay(target: &str, at_least: usize, f: impl Fn(&[u8]) -> Result<(), String>) {
    let files = inputs(target);
    assert!(
        files.len() >= at_least,
        "fuzz/corpus/{target} holds {} inputs, expected at least {at_least}",
        files.len()
    );
    let mut failures = Vec::new();
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        match catch_unwind(AssertUnwindSafe(|| f(&bytes))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{}: {e}", p.display())),
            Err(_) => failures.push(format!("{}: panicked", p.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn parse_check_corpus() {
    replay("parse_check", 20, fuzzing::parse_check);
}

#[test]
fn ir_program_corpus() {
    replay("ir_program", 20, fuzzing::ir_program);
}

#[test]
fn pipeline_corpus() {
    replay("pipeline", 20, |b| {
        for backend in [Backend::Jit, Backend::Interp] {
            fuzzing::pipeline(b, backend).map_err(|e| format!("{backend:?}: {e}"))?;
        }
        Ok(())
    });
}

#[test]
fn files_corpus() {
    replay("files", 20, fuzzing::files);
}
