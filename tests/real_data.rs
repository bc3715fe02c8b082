//! The real data sets of `examples/data/` load through the runtime's loader, bound as the
//! examples bind them, with the row and column counts of their provenance table.

use ebmc::check::{Column, Data, DataBinding, Role, Var, VarId};
use ebmc::runtime::data::{self, Loaded};
use ebmc::span::Span;
use ebmc::types::{Shape, Ty};
use std::path::Path;

/// Loads `examples/data/{file}` with x : real[features] bound to `x` and y : `label_ty` to
/// `label`, split and standardized as the examples are.
fn load(file: &str, features: usize, x: (Column, Column), label: &str, label_ty: Ty) -> Loaded {
    let vars = vec![
        Var {
            name: "x".into(),
            span: Span::default(),
            role: Role::Input,
            ty: Ty::Real(Shape(vec![features])),
            elim: None,
            init: None,
        },
        Var {
            name: "y".into(),
            span: Span::default(),
            role: Role::Output,
            ty: label_ty,
            elim: None,
            init: None,
        },
    ];
    let data = Data {
        path: format!("data/{file}"),
        path_span: Span::default(),
        bindings: vec![
            DataBinding {
                var: VarId(0),
                first: x.0,
                last: Some(x.1),
                span: Span::default(),
            },
            DataBinding {
                var: VarId(1),
                first: Column::Name(label.into()),
                last: None,
                span: Span::default(),
            },
        ],
        split: Some(0.8),
        test: None,
        standardize: vec![VarId(0)],
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    data::load(&data, &vars, &examples, 1).unwrap_or_else(|e| panic!("{e}"))
}

fn name(n: &str) -> Column {
    Column::Name(n.into())
}

/// Row and column counts, and that every label is one the type allows.
fn check(l: &Loaded, rows: usize, features: usize, labels: &[f64]) {
    assert_eq!(l.train.rows() + l.test.rows(), rows);
    assert_eq!(l.train.rows(), (rows as f64 * 0.8 + 1e-9).floor() as usize);
    for set in [&l.train, &l.test] {
        let x = set.var(VarId(0)).unwrap();
        assert_eq!(x.width, features);
        assert_eq!(x.values.len(), set.rows() * features);
        assert!(x.values.iter().all(|v| v.is_finite()));
        let y = set.var(VarId(1)).unwrap();
        assert_eq!(y.values.len(), set.rows());
        if !labels.is_empty() {
            assert!(
                y.values.iter().all(|v| labels.contains(v)),
                "{:?}",
                y.values
            );
        }
    }
    // Every label value occurs in training (the shuffle mixes the sorted classes).
    for c in labels {
        assert!(
            l.train.var(VarId(1)).unwrap().values.contains(c),
            "label {c} missing from training"
        );
    }
}

#[test]
fn iris() {
    let l = load(
        "iris.csv",
        4,
        (name("sepal_length"), name("petal_width")),
        "species",
        Ty::Class(3),
    );
    check(&l, 150, 4, &[0.0, 1.0, 2.0]);
    assert_eq!(
        l.train.var(VarId(0)).unwrap().columns[3].name,
        "petal_width"
    );
}

#[test]
fn wine() {
    let l = load(
        "wine.csv",
        13,
        (name("alcohol"), name("proline")),
        "cultivar",
        Ty::Class(3),
    );
    check(&l, 178, 13, &[0.0, 1.0, 2.0]);
}

#[test]
fn breast_cancer_as_signs() {
    let l = load(
        "breast_cancer.csv",
        30,
        (Column::Index(0), Column::Index(29)),
        "benign",
        Ty::sign(),
    );
    check(&l, 569, 30, &[-1.0, 1.0]);
}

#[test]
fn digits() {
    let l = load(
        "digits.csv",
        64,
        (name("p0"), name("p63")),
        "digit",
        Ty::Class(10),
    );
    check(
        &l,
        1797,
        64,
        &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    );
}

#[test]
fn diabetes() {
    let l = load(
        "diabetes.csv",
        10,
        (name("age"), name("s6")),
        "progression",
        Ty::scalar(),
    );
    check(&l, 442, 10, &[]);
    // Progression is left in its own units: the published range is 25 to 346.
    let y = &l.train.var(VarId(1)).unwrap().values;
    let (lo, hi) = y
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(lo >= 25.0 && hi <= 346.0, "{lo}..{hi}");
}
