//! `sign[n]` tensors (spec section 13): a vector of ±1 spins as an output, enumerated,
//! loaded from data and reported.
//!
//! * inference by enumeration on a `sign[3]` output with fields and a pairwise coupling
//!   finds the lowest of the 8 energies computed here by brute force, natively and in the
//!   interpreter;
//! * a `sign[3]` binding of three columns reads 0/1 and −1/+1 labels per column, and a label
//!   that is neither is an error naming the column;
//! * `run` on data reports accuracy and writes one prediction column per element.

mod common;

use common::model_of;
use ebmc::check::{Column, Data, DataBinding, Role, Var, VarId};
use ebmc::runtime::data;
use ebmc::runtime::metrics::{OutputMetrics, Report};
use ebmc::runtime::run::{self, RunOptions};
use ebmc::span::Span;
use ebmc::types::{Shape, Ty};

const W: [[f64; 3]; 3] = [[0.8, -0.3, 0.1], [0.2, 0.5, -0.7], [-0.4, 0.1, 0.3]];
const J: [[f64; 3]; 3] = [[0.0, 0.9, -0.6], [0.9, 0.0, 0.4], [-0.6, 0.4, 0.0]];

fn spins_source() -> String {
    let rows = |m: &[[f64; 3]; 3]| {
        let r: Vec<String> = m
            .iter()
            .map(|r| format!("[{}, {}, {}]", r[0], r[1], r[2]))
            .collect();
        format!("[{}]", r.join(", "))
    };
    format!(
        "model spins {{
           input x : real[3]
           output y : sign[3]
           param W : real[3, 3] = {}
           param J : real[3, 3] = {}
           energy field = -dot(y, W @ x)
           energy pair = -0.5 * dot(y, J @ y)
           infer y by enumerate
         }}",
        rows(&W),
        rows(&J)
    )
}

/// The energy of the model above, by hand.
fn energy(x: &[f64; 3], y: &[f64; 3]) -> f64 {
    let mut e = 0.0;
    for i in 0..3 {
        let wx: f64 = (0..3).map(|j| W[i][j] * x[j]).sum();
        let jy: f64 = (0..3).map(|j| J[i][j] * y[j]).sum();
        e += -y[i] * wx - 0.5 * y[i] * jy;
    }
    e
}

/// The lowest-energy state of all 8, by brute force.
fn brute_force(x: &[f64; 3]) -> ([f64; 3], f64) {
    let mut best = ([0.0; 3], f64::INFINITY);
    for k in 0..8 {
        let y = [0, 1, 2].map(|j| if (k >> j) & 1 == 1 { 1.0 } else { -1.0 });
        let e = energy(x, &y);
        if e < best.1 {
            best = (y, e);
        }
    }
    best
}

#[test]
fn enumeration_of_a_sign_vector_finds_the_brute_force_minimum() {
    let model = model_of(&spins_source(), false);
    let xs = [
        [1.0, -1.0, 0.5],
        [-2.0, 0.3, 1.0],
        [0.3, -0.1, 0.2],
        [0.4, 2.0, -1.5],
        [-0.7, -0.2, -3.0],
    ];
    let x_id = VarId(0);
    let mut distinct = std::collections::HashSet::new();
    for x in &xs {
        let (want, want_e) = brute_force(x);
        distinct.insert(want.map(|v| v as i8));
        for interp in [false, true] {
            let opts = RunOptions {
                at: vec![(x_id, x.to_vec())],
                interp,
                ..RunOptions::default()
            };
            let outcome = run::run(&model, std::path::Path::new("."), &opts, &mut |_| {})
                .unwrap_or_else(|e| panic!("{e}"));
            let Report::Infer { values, energy } = outcome.report else {
                panic!("a model without data reports what it inferred");
            };
            let (_, ty, y) = &values[0];
            assert_eq!(ty, &Ty::Sign(Shape(vec![3])));
            assert_eq!(
                y.as_slice(),
                want.as_slice(),
                "x = {x:?}, interp = {interp}"
            );
            assert!((energy - want_e).abs() < 1e-12, "{energy} vs {want_e}");
        }
    }
    // The inputs were chosen so that the answers differ: the test can tell a wrong order of
    // the bits from a right one.
    assert!(distinct.len() >= 3, "{distinct:?}");
}

fn var(name: &str, role: Role, ty: Ty) -> Var {
    Var {
        name: name.into(),
        span: Span::default(),
        role,
        ty,
        elim: None,
        init: None,
    }
}

fn load(contents: &str) -> Result<Vec<f64>, String> {
    let vars = vec![
        var("x", Role::Input, Ty::scalar()),
        var("y", Role::Output, Ty::Sign(Shape(vec![3]))),
    ];
    let binding = |v: u32, first: &str, last: Option<&str>| DataBinding {
        var: VarId(v),
        first: Column::Name(first.into()),
        last: last.map(|l| Column::Name(l.into())),
        span: Span::default(),
    };
    let decl = Data {
        path: "d.csv".into(),
        path_span: Span::default(),
        bindings: vec![binding(0, "a", None), binding(1, "s0", Some("s2"))],
        split: Some(1.0),
        test: None,
        standardize: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), contents).unwrap();
    let loaded = data::load(&decl, &vars, dir.path(), 0).map_err(|e| e.to_string())?;
    Ok(loaded.train.var(VarId(1)).expect("bound").values.clone())
}

#[test]
fn a_sign_vector_reads_zero_one_and_minus_one_plus_one_per_column() {
    // Column s0 in 0/1, s1 in −1/+1, s2 in 0/1: each column keeps its own convention.
    let got = load("a,s0,s1,s2\n1,0,-1,1\n2,1,1,0\n3,1,-1,1\n").unwrap();
    assert_eq!(
        got,
        [-1.0, -1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0],
        "rows of three spins"
    );
    let err = load("a,s0,s1,s2\n1,0,-1,1\n2,1,2,0\n").unwrap_err();
    assert!(err.contains("s1") && err.contains('2'), "{err}");
    // Mixing 0 and −1 in one column is ambiguous.
    let err = load("a,s0,s1,s2\n1,0,-1,1\n2,-1,1,0\n").unwrap_err();
    assert!(err.contains("s0"), "{err}");
}

#[test]
fn run_on_sign_vector_data_reports_accuracy_and_writes_a_column_per_element() {
    let dir = tempfile::tempdir().unwrap();
    // y_j = sign of x_j: learnable exactly from the fields.
    let mut csv = String::from("a,b,c,s0,s1,s2\n");
    let mut rng = ebmc::rng::Rng::new(7);
    for _ in 0..120 {
        let x: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
        let s: Vec<String> = x.iter().map(|v| u8::from(*v > 0.0).to_string()).collect();
        csv.push_str(&format!(
            "{:.5},{:.5},{:.5},{}\n",
            x[0],
            x[1],
            x[2],
            s.join(",")
        ));
    }
    std::fs::write(dir.path().join("spins.csv"), csv).unwrap();
    let model = model_of(
        "model spins {
           input x : real[3]
           output y : sign[3]
           param W : real[3, 3] = 0
           energy -dot(y, W @ x)
           loss nll
           infer y by enumerate
           train by adam(rate = 0.1, epochs = 40, seed = 1)
           data \"spins.csv\" { x = a..c, y = s0..s2 } split 0.75
         }",
        false,
    );
    let out = dir.path().join("out.csv");
    let opts = RunOptions {
        out: Some(out.clone()),
        ..RunOptions::default()
    };
    let outcome = run::run(&model, dir.path(), &opts, &mut |_| {}).unwrap();
    let Report::Data {
        test: Some(test), ..
    } = outcome.report
    else {
        panic!("a test set");
    };
    let OutputMetrics::Discrete { accuracy, .. } = test.outputs[0].1 else {
        panic!("discrete metrics");
    };
    assert!(accuracy > 0.9, "test accuracy {accuracy}");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,y[0],y[1],y[2]"));
    assert_eq!(lines.count(), 30);
}
