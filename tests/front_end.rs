//! Front-end snapshots: `tests/ebm/ok/*.ebm` → AST, `tests/ebm/err/*.ebm` → rendered diagnostics.
//!
//! Every ok fixture must check without errors; every err fixture must produce at least one
//! error, and its first line names the code it is about (`// E0101: …`), which must appear.

use ebmc::diag::{self, Color};
use ebmc::driver;

#[test]
fn ok_fixtures_parse_and_check_clean() {
    insta::glob!("ebm/ok/*.ebm", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let checked = driver::check(source.as_bytes());
        let rendered = diag::render(&checked.diagnostics, "input.ebm", &source, Color::Never);
        assert!(
            !checked.has_errors(),
            "{} has errors:\n{rendered}",
            path.display()
        );
        let ast = driver::emit_ast(source.as_bytes()).unwrap();
        insta::assert_snapshot!("ast", ast);
        if !checked.diagnostics.is_empty() {
            insta::assert_snapshot!("warnings", rendered);
        }
    });
}

#[test]
fn err_fixtures_report_their_code() {
    insta::glob!("ebm/err/*.ebm", |path| {
        let bytes = std::fs::read(path).unwrap();
        let source = String::from_utf8_lossy(&bytes).into_owned();
        let expected = expected_code(&source)
            .unwrap_or_else(|| panic!("{}: first line must be `// CODE: …`", path.display()));
        let checked = driver::check(&bytes);
        let rendered = match std::str::from_utf8(&bytes) {
            Ok(s) => diag::render(&checked.diagnostics, "input.ebm", s, Color::Never),
            Err(_) => checked
                .diagnostics
                .iter()
                .map(|d| diag::render_plain(d, "input.ebm"))
                .collect(),
        };
        assert!(
            checked
                .diagnostics
                .iter()
                .any(|d| d.code.as_str() == expected),
            "{}: expected {expected} among:\n{rendered}",
            path.display()
        );
        if expected.starts_with('E') {
            assert!(checked.has_errors(), "{}: no error", path.display());
            assert!(checked.models.is_empty() || checked.models.len() < count_models(&source));
        }
        insta::assert_snapshot!(rendered);
    });
}

/// Codes shown by a test in this file instead of a fixture, each with its reason. Keep this
/// list minimal: a fixture shows the user what they will see, a test does not.
const COVERED_BY_TEST: &[(&str, &str)] = &[(
    "E0005",
    "a fixture over the 8 MiB source limit would be absurd; see `source_over_the_limit_is_e0005`",
)];

/// Every code in the table has at least one fixture (or is listed in `COVERED_BY_TEST`).
#[test]
fn every_code_has_a_fixture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ebm/err");
    let mut seen = std::collections::HashSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Some(code) = expected_code(&String::from_utf8_lossy(&bytes)) {
            seen.insert(code);
        }
    }
    let missing: Vec<&str> = diag::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !seen.contains(*c))
        .filter(|c| !COVERED_BY_TEST.iter().any(|(t, _)| t == c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without an error fixture: {missing:?}"
    );
    assert!(seen.len() >= 40 || diag::Code::ALL.len() < 40);
}

/// `E0005`: a source one byte over the limit is rejected before it is parsed, with a help.
#[test]
fn source_over_the_limit_is_e0005() {
    let model = "model m { input x : real output y : real energy (y - x)^2 }\n";
    let limit = ebmc::syntax::MAX_SOURCE_BYTES;
    let mut src = String::with_capacity(limit + 1);
    src.push_str(model);
    src.push_str(&" ".repeat(limit + 1 - model.len()));
    assert_eq!(src.len(), limit + 1);
    let checked = driver::check(src.as_bytes());
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["E0005"]);
    assert!(checked.diagnostics[0].help.is_some());
    // Exactly at the limit is accepted.
    src.pop();
    assert!(!driver::check(src.as_bytes()).has_errors());
}

fn expected_code(source: &str) -> Option<String> {
    let first = source.lines().next()?.trim().strip_prefix("//")?.trim();
    let code = first.split(':').next()?.trim();
    (code.len() == 5 && (code.starts_with('E') || code.starts_with('W'))).then(|| code.to_string())
}

fn count_models(source: &str) -> usize {
    source.matches("model ").count()
}

/// The `lvq2` lint (`W0004`) proves the usual non-negative energies so, and warns on others.
#[test]
fn lvq2_lint_warns_only_where_the_energy_may_go_negative() {
    let cases = [
        ("(y - w * x)^2", false),
        ("0.5 * sqnorm([y] - [w * x])", false),
        ("softplus(w * x - y)", false),
        ("abs(y - w * x) + exp(w)", false),
        ("relu(y) * 2 + max(square(y), w)", false),
        ("w * x - y", true),
        ("log(square(y - w * x))", true),
        ("(y - w * x)^3", true),
        ("square(y) - w", true),
    ];
    for (energy, warns) in cases {
        let source = format!(
            "model m {{\n  input x : real\n  output y : real\n  param w : real\n  \
             energy {energy}\n  loss lvq2(delta = 0.1)\n  negatives descent\n}}\n"
        );
        let checked = driver::check(source.as_bytes());
        assert!(!checked.has_errors(), "{energy}: {:?}", checked.diagnostics);
        let warned = checked
            .diagnostics
            .iter()
            .any(|d| d.code.as_str() == "W0004");
        assert_eq!(warned, warns, "{energy}");
    }
}

/// The collapse lint (`W0002`) sees through functions of a tensor whose elements are all
/// equal when the params are zero (`softplus(0)` indexed by the answer is the same for every
/// answer), and stays quiet where the energy keeps depending on the output.
#[test]
fn collapse_lint_sees_through_functions_of_flat_scores() {
    let cases = [
        ("(W @ x + b)[y]", true),
        ("square(W @ x + b)[y]", true),
        ("softplus(W @ x + b)[y]", true),
        ("exp(-(W @ x + b))[y]", true),
        ("sigmoid(W @ x + b)[y] + log(2)", true),
        ("softmax(W @ x + b)[y]", true),
        ("softplus(W @ x + b + [0, 1, 2])[y]", false),
        ("softplus(W @ x + x[0])[y]", false),
    ];
    for (energy, warns) in cases {
        let source = format!(
            "model m {{\n  input x : real[4]\n  output y : class[3]\n  param W : real[3, 4]\n  \
             param b : real[3]\n  energy {energy}\n  loss energy\n}}\n"
        );
        let checked = driver::check(source.as_bytes());
        assert!(!checked.has_errors(), "{energy}: {:?}", checked.diagnostics);
        let warned = checked
            .diagnostics
            .iter()
            .any(|d| d.code.as_str() == "W0002");
        assert_eq!(warned, warns, "{energy}");
    }
}

/// Every error of every err fixture ends with a help line: how to fix it, not only what is
/// wrong (STYLE.md habit 9).
#[test]
fn every_error_has_a_help() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ebm/err");
    let mut missing = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ebm"))
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        for d in driver::check(&bytes).diagnostics {
            if d.is_error() && d.help.as_deref().is_none_or(str::is_empty) {
                missing.push(format!(
                    "{}: {} {}",
                    path.file_name().unwrap().to_string_lossy(),
                    d.code,
                    d.message
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "errors without a help:\n{}",
        missing.join("\n")
    );
    // E0408's help says what the argument takes and a value in range near the one written.
    let bytes = std::fs::read(dir.join("e0408_fractional_steps.ebm")).unwrap();
    let d = &driver::check(&bytes).diagnostics[0];
    assert_eq!(d.code.as_str(), "E0408");
    assert_eq!(
        d.help.as_deref(),
        Some("`steps` takes a whole number ≥ 1, e.g. `steps = 2`")
    );
}

/// An integer argument written as a literal is exact up to 2^64 − 1: the seeds 2^53 and
/// 2^53 + 1 differ (through an f64 they were the same), and a seed over 64 bits is E0408.
#[test]
fn seeds_are_exact_integers() {
    let source = |seed: &str| {
        format!(
            "model m {{\n  input x : real\n  output y : real\n  param w : real\n  energy (w * x - y)^2\n  loss energy\n  train by sgd(rate = 0.1, epochs = 1, seed = {seed})\n  data \"d.csv\" {{ x = 0, y = 1 }}\n}}\n"
        )
    };
    for seed in [
        "9007199254740992",
        "9007199254740993",
        "18446744073709551615",
        "0",
    ] {
        let checked = driver::check(source(seed).as_bytes());
        assert!(!checked.has_errors(), "{seed}: {:?}", checked.diagnostics);
        let train = checked.models[0].train.as_ref().unwrap();
        assert_eq!(train.seed.to_string(), seed);
    }
    let checked = driver::check(source("18446744073709551616").as_bytes());
    let d = &checked.diagnostics[0];
    assert_eq!(d.code.as_str(), "E0408");
    assert_eq!(
        d.message,
        "expected `seed` to be an integer ≥ 0 that fits in 64 bits, found a larger one"
    );
}
