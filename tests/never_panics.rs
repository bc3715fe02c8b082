//! "Never panics" is tested, not promised: random and mutated sources through parse + check.
//!
//! A seeded generator makes at least 10,000 inputs per run — byte flips, truncations, token
//! splices of the ok fixtures, random bytes, deep nesting — and every one must come back as a
//! checked model or diagnostics. Deep nesting must be a diagnostic, never a stack overflow.

use ebmc::diag::Code;
use ebmc::driver;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: a tiny seeded generator, so the test is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ebm");
    let mut out = Vec::new();
    for sub in ["ok", "err"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        out.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(out.len() >= 5, "fixtures missing");
    out
}

const TOKENS: &[&str] = &[
    "model",
    "m",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "~",
    "@",
    "^",
    "'",
    "-",
    "+",
    "*",
    "/",
    "..",
    "input",
    "output",
    "latent",
    "param",
    "const",
    "fn",
    "let",
    "energy",
    "loss",
    "infer",
    "train",
    "data",
    "by",
    "min",
    "marginal",
    "negatives",
    "split",
    "standardize",
    "real",
    "class",
    "sign",
    "x",
    "y",
    "z",
    "W",
    "inf",
    "0",
    "1",
    "3",
    "0.5",
    "1e-3",
    "1e999",
    "99999999999999999999",
    "\"f.csv\"",
    "descent",
    "enumerate",
    "sqnorm",
    "dot",
    "delta",
    "//c\n",
    "/*",
    "*/",
    "\n",
    " ",
    "é",
    "\u{0}",
];

fn mutate(rng: &mut Rng, sources: &[Vec<u8>]) -> Vec<u8> {
    let base = &sources[rng.below(sources.len())];
    match rng.below(7) {
        // Byte flips.
        0 => {
            let mut s = base.clone();
            for _ in 0..1 + rng.below(8) {
                if !s.is_empty() {
                    let i = rng.below(s.len());
                    s[i] = rng.next() as u8;
                }
            }
            s
        }
        // Truncation.
        1 => base[..rng.below(base.len() + 1)].to_vec(),
        // Token splice: a random range of one source replaced by a range of another.
        2 => {
            let other = &sources[rng.below(sources.len())];
            let (a, b) = (rng.below(base.len() + 1), rng.below(base.len() + 1));
            let (a, b) = (a.min(b), a.max(b));
            let (c, d) = (rng.below(other.len() + 1), rng.below(other.len() + 1));
            let (c, d) = (c.min(d), c.max(d));
            [&base[..a], &other[c..d], &base[b..]].concat()
        }
        // Grammar tokens inserted at random places.
        3 => {
            let mut s = base.clone();
            for _ in 0..1 + rng.below(6) {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let i = rng.below(s.len() + 1);
                s.splice(i..i, t.iter().copied());
            }
            s
        }
        // A model body of random tokens.
        4 => {
            let mut s = b"model m { ".to_vec();
            for _ in 0..rng.below(60) {
                s.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
                s.push(b' ');
            }
            s.extend_from_slice(b"}");
            s
        }
        // Random bytes.
        5 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        // Nesting of a random kind and depth inside an expression.
        _ => {
            let depth = rng.below(400);
            let (open, close) = [
                ("(", ")"),
                ("[", "]"),
                ("-", ""),
                ("2^", ""),
                ("f(", ")"),
                ("x[", "]"),
            ][rng.below(6)];
            format!(
                "model m {{ input x : real[2] output y : real energy {}y{} }}",
                open.repeat(depth),
                close.repeat(depth)
            )
            .into_bytes()
        }
    }
}

fn run(input: &[u8]) {
    let result = catch_unwind(AssertUnwindSafe(|| driver::check(input)));
    if result.is_err() {
        panic!(
            "parse + check panicked on input:\n{}",
            String::from_utf8_lossy(input)
        );
    }
    let checked = result.unwrap();
    // Either a model or at least one diagnostic, never nothing (an empty file is an error).
    assert!(
        !checked.models.is_empty() || !checked.diagnostics.is_empty(),
        "no result for {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn ten_thousand_random_and_mutated_sources() {
    let sources = fixtures();
    let mut rng = Rng(0x5eed_0eb0_1234_5678);
    for _ in 0..12_000 {
        let input = mutate(&mut rng, &sources);
        run(&input);
    }
}

fn codes(input: &[u8]) -> Vec<Code> {
    driver::check(input)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    // 100,000 nested parentheses in a 200 KB file.
    let src = format!(
        "model m {{ input x : real output y : real energy {}y{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(src.len() >= 200_000);
    assert_eq!(codes(src.as_bytes()), vec![Code::TooDeep]);
    for (open, close) in [
        ("-", ""),
        ("2^", ""),
        ("y + ", ""),
        ("[", "]"),
        ("sqnorm(", ")"),
    ] {
        let src = format!(
            "model m {{ input x : real output y : real energy {}y{} }}",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        assert_eq!(
            codes(src.as_bytes()),
            vec![Code::TooDeep],
            "nesting of {open:?}"
        );
    }
}

#[test]
fn non_utf8_and_empty_sources_get_diagnostics() {
    assert_eq!(codes(b"model m { \xff }"), vec![Code::NotUtf8]);
    assert_eq!(codes(b""), vec![Code::NoModel]);
    assert_eq!(codes(b"  // only a comment\n"), vec![Code::NoModel]);
}
