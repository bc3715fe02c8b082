//! Deep programs through the command line: a chain of lets, and a chain of function calls,
//! each [`DEPTH`] long, through every command that compiles. Each must end with an exit code —
//! success here — never a signal: a recursion as deep as the program used to overflow the
//! 8 MiB stack of the binary's main thread at about 10,000 (lowering a let's value inside the
//! let that reads it, inlining a call inside its caller, pushing an index down a chain of
//! elementwise ops, building one fused loop of a chain).
//!
//! The binary runs in a child process, so its main thread has the stack it has for users.
//!
//! A long program is also compiled as several native functions, which the entry point calls in
//! turn (one function of thousands of kernels took Cranelift's register allocator time
//! quadratic in its length): the parts must compute what one function computes, and a bad
//! index in any part must still stop the call.

mod common;

use ebmc::driver;
use ebmc::grad::with_gradients;
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::jit::{self, JitOptions};
use std::path::Path;
use std::process::Command;

/// Deeper than any of the old recursions survived, small enough for a few seconds a command.
const DEPTH: usize = 20_000;

/// Rows of a three-class problem with two features, for `run` to train on.
fn data(dir: &Path) {
    let mut csv = String::from("a,b,label\n");
    for i in 0..30 {
        csv.push_str(&format!("{}.{},{}.5,{}\n", i % 7, i % 10, i % 4, i % 3));
    }
    std::fs::write(dir.join("d.csv"), csv).unwrap();
}

/// A classifier whose energy reads the end of a chain built by `body` (declarations ending in
/// a value `end` of type `real[3]`), with a loss that enumerates the answers and data to train.
fn classifier(body: &str, end: &str) -> String {
    format!(
        "model deep {{\n  input x : real[2]\n  output y : class[3]\n  param W : real[3, 2]\n\
         {body}  energy {end}[y]\n  loss nll(beta = 1)\n  infer y by enumerate\n\
         \x20 train by adam(rate = 0.05, epochs = 2, batch = 8, seed = 1)\n\
         \x20 data \"d.csv\" {{ x = a..b, y = label }} split 0.8\n}}\n"
    )
}

/// `let h{i} = h{i-1} * 0.9999 + 0.0001`, `n` deep.
fn let_chain(n: usize) -> String {
    let mut body = String::from("  let h0 = W @ x\n");
    for i in 1..=n {
        body.push_str(&format!("  let h{i} = h{} * 0.9999 + 0.0001\n", i - 1));
    }
    classifier(&body, &format!("h{n}"))
}

/// `fn f{i}(a) = f{i-1}(a) * 0.9 + 0.1`, `n` deep.
fn call_chain(n: usize) -> String {
    let mut body = String::from("  fn f0(a : real[3]) = a\n");
    for i in 1..=n {
        body.push_str(&format!(
            "  fn f{i}(a : real[3]) = f{}(a) * 0.9 + 0.1\n",
            i - 1
        ));
    }
    classifier(&body, &format!("f{n}(W @ x)"))
}

/// Runs every compiling command on `source`, asserting each exits 0.
fn every_command(name: &str, source: &str) {
    let dir = tempfile::tempdir().unwrap();
    data(dir.path());
    let file = dir.path().join(format!("{name}.ebm"));
    std::fs::write(&file, source).unwrap();
    let commands: &[&[&str]] = &[
        &["check"],
        &["emit", "ir"],
        &["emit", "grad", "--loss"],
        &["eval", "--random", "--seed", "1"],
        &["run", "--quiet"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .args(*args)
            .arg(&file)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code().is_some(),
            "`ebmc {}` on {name} died of a signal: {:?}\n{stderr}",
            args.join(" "),
            out.status
        );
        assert!(
            out.status.success(),
            "`ebmc {}` on {name}: {:?}\n{stderr}",
            args.join(" "),
            out.status
        );
    }
}

#[test]
fn a_deep_chain_of_lets_through_every_command() {
    every_command("lets", &let_chain(DEPTH));
}

#[test]
fn a_deep_chain_of_calls_through_every_command() {
    every_command("calls", &call_chain(DEPTH));
}

/// The checker's lints walk lets and calls too (`loss energy` runs the collapse lint through
/// the whole chain): `check` of 100,000-deep chains exits 0 (the let chain overflowed the
/// stack there, exit 134, before the lints took lets in index order).
#[test]
fn the_lints_walk_100000_deep_chains() {
    let n = 100_000;
    let mut lets = String::from(
        "model m {\n  input x : real  output y : real  param w : real\n  let h0 = w * x\n",
    );
    let mut calls = String::from(
        "model m {\n  input x : real  output y : real  param w : real\n  fn f0(a : real) = a * w\n",
    );
    for i in 1..n {
        lets.push_str(&format!("  let h{i} = h{} * 0.9999 + 0.0001\n", i - 1));
        calls.push_str(&format!(
            "  fn f{i}(a : real) = f{}(a) * 0.9999 + 0.0001\n",
            i - 1
        ));
    }
    lets.push_str(&format!("  energy (h{} - y)^2\n  loss energy\n}}\n", n - 1));
    calls.push_str(&format!(
        "  energy (f{}(x) - y)^2\n  loss energy\n}}\n",
        n - 1
    ));
    let dir = tempfile::tempdir().unwrap();
    for (name, source) in [("lets", lets), ("calls", calls)] {
        let file = dir.path().join(format!("{name}.ebm"));
        std::fs::write(&file, source).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `layers` layers of `h = tanh(W h + b)` on 4 features; the energy reads class `y` of the end.
fn layers(n: usize) -> String {
    let mut s =
        String::from("model layers {\n  input x : real[4]\n  output y : class[4]\n  let h0 = x\n");
    for i in 1..=n {
        s.push_str(&format!(
            "  param W{i} : real[4, 4]\n  param b{i} : real[4]\n  let h{i} = tanh(W{i} @ h{} + b{i})\n",
            i - 1
        ));
    }
    s.push_str(&format!("  energy h{n}[y]\n}}\n"));
    s
}

/// The energy and every gradient of a 200-layer network (far more kernels than one native
/// function holds), with each input a seeded ramp.
fn deep_graph() -> (Graph, Vec<Vec<f64>>) {
    let checked = driver::check(layers(200).as_bytes());
    assert!(checked.diagnostics.iter().all(|d| !d.is_error()));
    let model = &checked.models[0];
    let g = with_gradients(&ir::energy(model), "energy", &[InputKind::Param]);
    let point: Vec<Vec<f64>> = g
        .inputs
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let len = i.shape().len();
            (0..len)
                .map(|j| ((k * 7 + j * 3) % 11) as f64 / 11.0 - 0.4)
                .collect()
        })
        .collect();
    let y = g.inputs.iter().position(|i| i.name == "y").unwrap();
    let mut point = point;
    point[y] = vec![2.0];
    (g, point)
}

fn native(g: &Graph, point: &[Vec<f64>]) -> Result<Vec<f64>, jit::JitError> {
    let opts = JitOptions {
        strict: true,
        verify: true,
        ..JitOptions::default()
    };
    common::run_native(g, opts, point)
}

#[test]
fn a_program_split_into_functions_computes_what_the_interpreter_does() {
    let (g, point) = deep_graph();
    let slices: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
    let v = interp::eval_slots(&g, &slices).unwrap();
    let expected: Vec<f64> = g
        .outputs
        .iter()
        .flat_map(|(_, n)| v.node(*n).to_vec())
        .collect();
    let got = native(&g, &point).unwrap();
    assert_eq!(got.len(), expected.len());
    for (k, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert!(
            a.to_bits() == b.to_bits(),
            "output {k}: native {a}, interpreter {b}"
        );
    }
}

#[test]
fn a_bad_index_in_a_split_program_is_an_error() {
    let (g, mut point) = deep_graph();
    let y = g.inputs.iter().position(|i| i.name == "y").unwrap();
    point[y] = vec![7.0];
    assert!(native(&g, &point).is_err());
}
