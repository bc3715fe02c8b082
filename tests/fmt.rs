//! `ebmc fmt`: the formatter's promises (idempotent, the same AST up to spans, the same
//! comments) on every source the repository holds and thousands of generated ones; its layout
//! on hand-written messy sources (snapshots); the command line; and that every example and
//! fixture is already formatted.

use ebmc::syntax::format;
use ebmc::testing::fuzzing::{self, fmt_properties};
use ebmc::testing::random_ir::Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.ebm` file under the repository's source folders (not `target/`).
fn ebm_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "ebm") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["examples", "tests", "benches", "docs"] {
        walk(&root().join(dir), &mut out);
    }
    out.sort();
    assert!(out.len() > 100, "found only {} .ebm files", out.len());
    out
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Checks the properties on each source, and that enough of them parsed to mean something.
fn properties(what: &str, sources: impl IntoIterator<Item = String>, at_least_parsed: usize) {
    let mut failures = Vec::new();
    let mut parsed = 0;
    for s in sources {
        parsed += usize::from(ebmc::syntax::parse(&s).is_ok());
        if let Err(e) = fmt_properties(&s) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{what}:\n{}", failures.join("\n\n"));
    assert!(
        parsed >= at_least_parsed,
        "{what}: only {parsed} sources parse, expected at least {at_least_parsed}"
    );
}

#[test]
fn properties_hold_on_every_repository_source() {
    let sources = ebm_files()
        .into_iter()
        .filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok());
    properties("repository sources", sources, 40);
}

#[test]
fn properties_hold_on_the_parse_check_corpus() {
    let sources = corpus("parse_check")
        .into_iter()
        .filter_map(|b| String::from_utf8(b).ok());
    properties("fuzz/corpus/parse_check", sources, 100);
}

#[test]
fn properties_hold_on_generated_sources() {
    let from_corpus = corpus("pipeline")
        .into_iter()
        .map(|b| fuzzing::source::model(&mut Rng::from_bytes(&b)));
    properties("fuzz/corpus/pipeline", from_corpus, 100);
    let seeded = (0..500u64).map(|seed| fuzzing::source::model(&mut Rng::new(seed)));
    properties("generated from seeds 0..500", seeded, 500);
}

/// Comments and line breaks put anywhere between the tokens of every repository source that
/// parses: the formatter must neither lose nor reorder one, wherever it lands.
#[test]
fn properties_hold_with_comments_and_breaks_anywhere() {
    const INSERTS: &[&str] = &[
        "/* c */",
        " /* c */ ",
        "// c\n",
        "\n// c\n",
        "\n\n",
        "\n",
        "/* a\n  b */",
        "\r\n",
    ];
    let sources: Vec<String> = ebm_files()
        .into_iter()
        .filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok())
        .filter(|s| ebmc::syntax::parse(s).is_ok())
        .collect();
    let mut rng = Rng::new(16);
    let mut mutated = Vec::new();
    for s in &sources {
        for _ in 0..20 {
            let mut t = s.clone();
            for _ in 0..1 + rng.below(4) {
                // Between tokens: at a space or a bracket, so no token is split.
                let spots: Vec<usize> = t
                    .char_indices()
                    .filter(|&(_, c)| " \n([{,}])".contains(c))
                    .map(|(i, _)| i)
                    .collect();
                let at = *rng.pick(&spots);
                let insert = *rng.pick(INSERTS);
                t.insert_str(at, insert);
            }
            mutated.push(t);
        }
    }
    properties("repository sources with comments inserted", mutated, 500);
}

/// Formats `source`, checks the properties, and returns the text for a snapshot.
fn formatted(source: &str) -> String {
    fmt_properties(source).unwrap();
    format(source).unwrap()
}

#[test]
fn spacing_and_parentheses() {
    let source = "model   spacing{input x:real[ 4 ]  output y:real
param W:real[4,4]~normal( 0,0.1 )
param b:real[4]=0
let h=-W@x+b*2-(x)-(-x)^2+x^-1+(x+b)'@W'
let s=h[0:4-1]+h[ 1 : ]+h[:2*2][0]+W[1,2]+((b[0]))
energy  fit=0.5*sqnorm(h-y)^2+1e-3*sum(W)+ 1.50 * ((y))[0]
energy reg =   (1 - 2) - (3 - 4) + 2 * (3 * 4) + 2 / (3 / 4) + 2^3^4 + (2^3)^4 + -(1+2)
loss hinge( margin=1 )negatives descent ( steps=20,rate=.1 )
infer y by descent()
train by adam(rate=0.01,epochs=3)
data \"d.csv\"{x=a..d,y=\"col 5\",}split 0.8 standardize x,y}";
    insta::assert_snapshot!(formatted(source));
}

#[test]
fn comments_everywhere() {
    let source = "// file header

// about the model
model /* a */ commented // the header
{ // after the brace
  // before x

  input x : real // trailing x
  output y : real /* between */ param w : real
  /* own */ /* line */
  energy (w * x /* inside */ - y)^2 // after
  loss energy
  // last in the body

} // after the model
/* between models */
model second {
  input x : real   output y : sign   param w : real
  energy -y * w
    * x
  energy  - y
  // the end of second
}
// the end of the file";
    insta::assert_snapshot!(formatted(source));
}

#[test]
fn blank_lines_and_alignment() {
    let source = "\u{feff}model aligned {\r\n\r\n\r\n  const D = 4\r\n  input x : real[D]\r\n  output label : class[3]\r\n  latent z : real[2] min by descent(steps = 30)\r\n  param Weights : real[3, D] ~ glorot\r\n\r\n\r\n\r\n  param b : real[3] = 0\r\n  energy fit = (Weights @ x + b)[label]\r\n  energy prior = sqnorm(z)\r\n  energy sum(z)\r\n  energy x_part = sum(x)\r\n\r\n}\r\nmodel next { input x : real output y : real energy (x - y)^2 }\r\n";
    insta::assert_snapshot!(formatted(source));
}

fn ebmc(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ebmc runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ebmc-fmt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const MESSY: &str = "model m{input x:real output y:real // keep me\nenergy(x-y)^2}";
const TIDY: &str =
    "model m {\n  input x : real   output y : real  // keep me\n  energy (x - y)^2\n}\n";

#[test]
fn cli_check_lists_unformatted_files_and_exits_1() {
    let dir = temp_dir("check");
    let (messy, tidy) = (dir.join("messy.ebm"), dir.join("tidy.ebm"));
    std::fs::write(&messy, MESSY).unwrap();
    std::fs::write(&tidy, TIDY).unwrap();
    let (m, t) = (messy.to_str().unwrap(), tidy.to_str().unwrap());
    let out = ebmc(&["fmt", "--check", m, t], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{m}\n"));
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        MESSY,
        "--check changes nothing"
    );
    let out = ebmc(&["fmt", "--check", t], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_rewrites_in_place_only_what_changes() {
    let dir = temp_dir("rewrite");
    let (messy, tidy) = (dir.join("messy.ebm"), dir.join("tidy.ebm"));
    std::fs::write(&messy, MESSY).unwrap();
    std::fs::write(&tidy, TIDY).unwrap();
    let before = std::fs::metadata(&tidy).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = ebmc(
        &["fmt", messy.to_str().unwrap(), tidy.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), TIDY);
    let after = std::fs::metadata(&tidy).unwrap().modified().unwrap();
    assert_eq!(before, after, "a formatted file is not written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_dash_formats_standard_input_to_standard_output() {
    let out = ebmc(&["fmt", "-"], MESSY.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), TIDY);
    let out = ebmc(&["fmt", "--check", "-"], MESSY.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "-\n");
}

#[test]
fn cli_parse_error_is_reported_and_the_file_left_alone() {
    let dir = temp_dir("error");
    let bad = dir.join("bad.ebm");
    let text = "model m {\n  input x real\n}\n";
    std::fs::write(&bad, text).unwrap();
    let out = ebmc(&["fmt", "--color", "never", bad.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("E0001"), "{stderr}");
    assert!(stderr.contains("bad.ebm:2:"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), text);
    let out = ebmc(&["fmt", "-"], b"\xff model");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// An empty source is `E0004`, not a crash (rendering it once underflowed a line count).
#[test]
fn cli_empty_source_is_a_diagnostic() {
    for args in [
        &["fmt", "--color", "never", "-"][..],
        &["check", "--color", "never", "/dev/stdin"],
    ] {
        let out = ebmc(args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("E0004"), "{args:?}: {stderr}");
    }
}

/// Fixtures whose layout is their point, with the reason; every other `.ebm` file of the
/// repository that parses must be formatted.
const KEEP_LAYOUT: &[(&str, &str)] = &[(
    "tests/ebm/ok/forms.ebm",
    "the parser's test of free layout: declarations on the model's line, `^` with spaces",
)];

#[test]
fn every_example_and_fixture_is_formatted() {
    let mut unformatted = Vec::new();
    for path in ebm_files() {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if KEEP_LAYOUT.iter().any(|(p, _)| *p == rel) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Ok(source) = std::str::from_utf8(&bytes) else {
            continue;
        };
        // A fixture that does not parse (a syntax error is its point) is not formatted.
        if let Ok(text) = format(source) {
            if text != source {
                unformatted.push(rel);
            }
        }
    }
    assert!(
        unformatted.is_empty(),
        "not formatted (run `ebmc fmt` on them): {unformatted:?}"
    );
}
