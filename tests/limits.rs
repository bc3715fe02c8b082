//! Resource limits: each is refused with a clear message before anything of its size is
//! allocated — source size and nesting (parse), a tensor's dims and element count, dims and
//! const arithmetic that overflow integers, all the variables of a model (check), and the
//! memory one evaluation of a compiled model needs (compile).

use ebmc::check::{MAX_ELEMENTS, MAX_MODEL_ELEMENTS};
use ebmc::compile::{Backend, MAX_VALUES};
use ebmc::driver;
use ebmc::runtime::session::Session;
use ebmc::syntax::{MAX_NESTING, MAX_SOURCE_BYTES};
use ebmc::types::Ty;
use std::process::Command;

/// The error messages of checking `source`, with their codes.
fn errors(source: &str) -> Vec<String> {
    let checked = driver::check(source.as_bytes());
    assert!(checked.models.is_empty(), "expected errors for:\n{source}");
    checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect()
}

fn model(body: &str) -> String {
    format!("model m {{\n  output y : real\n  {body}\n  energy y^2\n}}\n")
}

#[test]
fn source_larger_than_the_limit() {
    let mut s = model("");
    s.push_str(&"// padding\n".repeat(MAX_SOURCE_BYTES / 11 + 1));
    assert_eq!(
        errors(&s),
        [format!(
            "E0005 expected at most {MAX_SOURCE_BYTES} bytes of source, found more"
        )]
    );
}

#[test]
fn nesting_deeper_than_the_limit() {
    let deep = format!(
        "{}1{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    assert_eq!(
        errors(&model(&format!("let a = {deep}"))),
        [format!(
            "E0002 expected at most {MAX_NESTING} levels of nested brackets, found more"
        )]
    );
}

#[test]
fn a_dimension_over_the_element_limit() {
    assert_eq!(
        errors(&model("param W : real[100000000000]")),
        [format!(
            "E0207 expected a dimension of at most {MAX_ELEMENTS}, found 100000000000"
        )]
    );
}

#[test]
fn dims_that_overflow_32_bits() {
    // 2^32 does not fit a u32 index, and each dim alone is over the limit.
    assert_eq!(
        errors(&model("param W : real[4294967296, 4294967296]")),
        [
            format!("E0207 expected a dimension of at most {MAX_ELEMENTS}, found 4294967296"),
            format!("E0207 expected a dimension of at most {MAX_ELEMENTS}, found 4294967296"),
        ]
    );
}

#[test]
fn a_product_of_dims_over_the_limit() {
    assert_eq!(
        errors(&model("param W : real[100000, 100000]")),
        [format!(
            "E0207 expected at most {MAX_ELEMENTS} elements, found 10000000000 (100000 × 100000)"
        )]
    );
}

#[test]
fn a_product_of_dims_that_overflows_64_bits() {
    let d = "100000000";
    assert_eq!(
        errors(&model(&format!("param W : real[{d}, {d}, {d}, {d}, {d}]"))),
        [format!(
            "E0207 expected at most {MAX_ELEMENTS} elements, found more than 2^64 ({d} × {d} × {d} × {d} × {d})"
        )]
    );
}

#[test]
fn const_arithmetic_that_overflows() {
    // 10^400 is infinite in f64; 2^64 · 2^64 is finite but no integer type holds it.
    assert_eq!(
        errors(&model("const N = 10^400\n  param W : real[N]")),
        ["E0206 expected a positive integer dimension, found inf"]
    );
    assert_eq!(
        errors(&model("const N = 2^64 * 2^64\n  param W : real[N]")),
        [format!(
            "E0207 expected a dimension of at most {MAX_ELEMENTS}, found 340282366920938500000000000000000000000"
        )]
    );
    assert_eq!(
        errors(&model("const K = 2^63\n  input c : class[K]")),
        [format!(
            "E0206 expected the number of classes to be an integer in 1..={MAX_ELEMENTS}, found 9223372036854776000"
        )]
    );
    assert_eq!(
        errors(&model("const N = inf - inf\n  param W : real[N]")),
        ["E0308 expected a number, found a value that is not a number (NaN)"]
    );
}

#[test]
fn all_the_variables_of_a_model_over_the_limit() {
    // Five params of 2^26 elements each: each is under the per-tensor limit, together they
    // are 2.5 GiB.
    let body: String = (0..5)
        .map(|i| format!("param W{i} : real[8192, 8192]\n  "))
        .collect();
    let sums: Vec<String> = (0..5).map(|i| format!("sum(W{i})")).collect();
    let src = format!(
        "model m {{\n  output y : real\n  {body}energy y^2 + {}\n}}\n",
        sums.join(" + ")
    );
    assert_eq!(
        errors(&src),
        [format!(
            "E0207 expected at most {MAX_MODEL_ELEMENTS} elements in all the variables of model `m`, found 335544321"
        )]
    );
}

/// A model that checks (one 2^26-element param) but whose energy and gradient need more than
/// 2^28 values for one evaluation.
const SCRATCH_HEAVY: &str = "model m {
  output y : real
  param W : real[8192, 8192]
  energy y^2 + sum(exp(W)) + sum(sin(W)) + sum(tanh(W)) + sum(sqrt(square(W) + 1))
}
";

/// The message of `Session::new` on `backend` for `SCRATCH_HEAVY`.
fn refused(backend: Backend) -> String {
    let checked = driver::check(SCRATCH_HEAVY.as_bytes());
    assert!(!checked.has_errors());
    match Session::compile(&checked.models[0], backend, 0) {
        Ok(_) => panic!("a session over the memory limit compiled on {backend:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn memory_of_one_evaluation_over_the_limit() {
    let e = refused(Backend::Interp);
    assert!(
        e.starts_with("the model needs ")
            && e.ends_with(&format!(
                "values of memory for one evaluation, more than the limit of {MAX_VALUES} (2 GiB); use smaller dimensions"
            )),
        "{e}"
    );
    // Native code fuses this energy into loops that keep almost nothing alive, so it runs
    // there; the JIT's own scratch limit (`jit::MAX_SCRATCH`) is tested in tests/jit.rs.
}

/// On the interpreter, as `--interp` runs it.
#[test]
fn the_cli_refuses_it_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("heavy.ebm");
    std::fs::write(&f, SCRATCH_HEAVY).unwrap();
    for args in [
        vec!["eval", f.to_str().unwrap(), "--random", "--interp"],
        vec!["run", f.to_str().unwrap(), "--quiet", "--interp"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ebmc"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ")
                && err.contains(&format!("more than the limit of {MAX_VALUES}"))
                && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

/// The error codes and messages of `src`'s errors.
fn errors_of(src: &str) -> Vec<String> {
    driver::check(src.as_bytes())
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect()
}

#[test]
fn too_many_answers_to_enumerate() {
    let src = "model m {
  input x : real[2]
  output a : class[300]
  output b : class[300]
  param W : real[300, 2]
  energy (W @ x)[a] + (W @ x)[b]
  loss nll
}
";
    assert_eq!(
        errors_of(src),
        ["E0211 expected at most 65536 answers to enumerate, found 90000"]
    );
    // Lowering refuses it too, for a model that did not come through the checker.
    let checked = driver::check(src.replace("class[300]", "class[3]").as_bytes());
    let mut model = checked.models[0].clone();
    for v in &mut model.vars {
        if v.ty == Ty::Class(3) {
            v.ty = Ty::Class(300);
        }
    }
    let e = match Session::compile(&model, Backend::Interp, 0) {
        Ok(_) => panic!("90,000 answers enumerated"),
        Err(e) => e.to_string(),
    };
    assert_eq!(e, "the outputs have more than 65536 answers to enumerate");
}

#[test]
fn a_source_under_the_size_limit_is_within_the_parser_budget() {
    // A chain of 100,000 functions is 4.5 MB; it took 52 million parser calls, past the old
    // fixed budget of 50 million, which turned it into "expected something else, found `0`".
    let mut s =
        String::from("model m {\n  input x : real\n  output y : real\n  fn f0(a : real) = a\n");
    for i in 1..=100_000 {
        s.push_str(&format!(
            "  fn f{i}(a : real) = f{}(a) * 0.9 + 0.1\n",
            i - 1
        ));
    }
    s.push_str("  energy (f100000(x) - y)^2\n}\n");
    assert!(s.len() < MAX_SOURCE_BYTES);
    let checked = driver::check(s.as_bytes());
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(checked.models.len(), 1);
}

#[test]
fn too_many_latent_combinations_to_eliminate() {
    // 2^30 copies of the energy: the command used to run until memory ran out; the checker
    // refuses it (lowering also would, see above).
    let mut src = String::from("model m {\n  input x : real\n  output y : real\n");
    for i in 0..30 {
        src.push_str(&format!("  latent c{i} : class[2] min by enumerate\n"));
    }
    let terms: Vec<String> = (0..30).map(|i| format!("[0, 1][c{i}]")).collect();
    src.push_str(&format!(
        "  energy (y - x)^2 + {}\n  infer y by descent(steps = 3, rate = 0.1)\n}}\n",
        terms.join(" + ")
    ));
    assert_eq!(
        errors_of(&src),
        ["E0211 expected at most 65536 combinations of class and sign latent values to eliminate, found 1073741824"]
    );
}
