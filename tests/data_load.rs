//! What the data loader gives back for good files: values per variable, the split and the
//! standardization.

use ebmc::check::{Column, Data, DataBinding, Role, Var, VarId};
use ebmc::runtime::data::{self, Loaded};
use ebmc::span::Span;
use ebmc::types::{Shape, Ty};

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

/// x : real[2] (0), y : class[3] (1), s : sign (2), r : real (3), M : real[2, 2] (4).
fn vars() -> Vec<Var> {
    vec![
        var("x", Role::Input, Ty::Real(Shape(vec![2]))),
        var("y", Role::Output, Ty::Class(3)),
        var("s", Role::Output, Ty::sign()),
        var("r", Role::Output, Ty::scalar()),
        var("M", Role::Input, Ty::Real(Shape(vec![2, 2]))),
    ]
}

fn bind(var: u32, first: Column, last: Option<Column>) -> DataBinding {
    DataBinding {
        var: VarId(var),
        first,
        last,
        span: Span::default(),
    }
}

fn name(n: &str) -> Column {
    Column::Name(n.into())
}

fn data(bindings: Vec<DataBinding>, split: Option<f64>, standardize: Vec<u32>) -> Data {
    Data {
        path: "d.csv".into(),
        path_span: Span::default(),
        bindings,
        split,
        test: None,
        standardize: standardize.into_iter().map(VarId).collect(),
    }
}

fn load(contents: &[u8], data: &Data, seed: u64) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), contents).unwrap();
    let loaded = data::load(data, &vars(), dir.path(), seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.path, dir.path().join("d.csv"));
    loaded
}

/// `n` rows: a = i, b = 10·i, label = i mod 3, s = 0/1 alternating, r = i², note text.
fn rows(n: usize) -> String {
    let mut s = String::from("a,b,label,s,r,note\n");
    for i in 0..n {
        s.push_str(&format!(
            "{i},{},{},{},{},row {i}\n",
            10 * i,
            i % 3,
            i % 2,
            i * i
        ));
    }
    s
}

fn all_bindings() -> Vec<DataBinding> {
    vec![
        bind(0, name("a"), Some(name("b"))),
        bind(1, name("label"), None),
        bind(2, Column::Index(3), None),
        bind(3, Column::Index(4), None),
    ]
}

#[test]
fn values_per_variable_row_major() {
    let l = load(rows(4).as_bytes(), &data(all_bindings(), None, vec![]), 0);
    let t = &l.train;
    assert_eq!(t.rows(), 4);
    assert_eq!(t.lines, [2, 3, 4, 5]);
    let x = t.var(VarId(0)).unwrap();
    assert_eq!((x.name.as_str(), x.width), ("x", 2));
    assert_eq!(x.values, [0.0, 0.0, 1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    assert_eq!(x.row(2), [2.0, 20.0]);
    assert_eq!(
        x.columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        ["column index 0 (\"a\")", "column index 1 (\"b\")"]
    );
    assert_eq!(t.var(VarId(1)).unwrap().values, [0.0, 1.0, 2.0, 0.0]);
    // 0/1 signs read as −1/+1.
    assert_eq!(t.var(VarId(2)).unwrap().values, [-1.0, 1.0, -1.0, 1.0]);
    assert_eq!(t.var(VarId(3)).unwrap().values, [0.0, 1.0, 4.0, 9.0]);
    // The unbound text column is never read; without a split, test is every row too.
    assert_eq!(l.test, l.train);
    assert!(l.standardized.is_empty());
}

#[test]
fn a_matrix_variable_takes_its_columns_row_major() {
    let d = data(
        vec![bind(4, Column::Index(0), Some(Column::Index(3)))],
        None,
        vec![],
    );
    let l = load(b"p,q,r,s\n1,2,3,4\n5,6,7,8\n", &d, 0);
    assert_eq!(
        l.train.var(VarId(4)).unwrap().values,
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    );
}

#[test]
fn signs_as_minus_one_and_one_and_integral_class_labels() {
    let d = data(
        vec![bind(2, name("s"), None), bind(1, name("y"), None)],
        None,
        vec![],
    );
    let l = load(b"s,y\n-1,2.0\n1,0\n+1,1e0\n", &d, 0);
    assert_eq!(l.train.var(VarId(2)).unwrap().values, [-1.0, 1.0, 1.0]);
    assert_eq!(l.train.var(VarId(1)).unwrap().values, [2.0, 0.0, 1.0]);
}

#[test]
fn crlf_bom_quotes_spaces_and_trailing_empty_lines_are_fine() {
    let text = b"\xef\xbb\xbf a , b ,label,s,r\r\n\"1\", 2 ,0,1,5\r\n 3,4,1,-1,6\r\n\r\n\r\n";
    let d = data(all_bindings(), None, vec![]);
    let l = load(text, &d, 0);
    assert_eq!(l.train.var(VarId(0)).unwrap().values, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(l.train.lines, [2, 3]);
}

#[test]
fn an_empty_line_before_the_header_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), "\na,b,label,s,r\n1,2,0,1,5\n").unwrap();
    let e = data::load(&data(all_bindings(), None, vec![]), &vars(), dir.path(), 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.csv:1: empty line: expected 5 cells as in the header"
    );
}

#[test]
fn split_keeps_the_floor_of_f_n_rows_and_partitions_them() {
    let d = data(all_bindings(), Some(0.8), vec![]);
    let l = load(rows(21).as_bytes(), &d, 7);
    // ⌊0.8 · 21⌋ = 16.
    assert_eq!((l.train.rows(), l.test.rows()), (16, 5));
    let mut all: Vec<usize> = l.train.lines.iter().chain(&l.test.lines).copied().collect();
    all.sort();
    assert_eq!(all, (2..23).collect::<Vec<_>>());
    // Each side keeps the file's order, and the values follow their lines.
    assert!(l.train.lines.windows(2).all(|w| w[0] < w[1]));
    assert!(l.test.lines.windows(2).all(|w| w[0] < w[1]));
    let r = l.test.var(VarId(3)).unwrap();
    for (i, &line) in l.test.lines.iter().enumerate() {
        let k = (line - 2) as f64;
        assert_eq!(r.row(i), [k * k]);
    }
}

#[test]
fn split_of_decimal_fractions_gives_the_expected_count() {
    // 0.29 · 100 is 28.999… in binary; a person expects 29.
    let l = load(
        rows(100).as_bytes(),
        &data(all_bindings(), Some(0.29), vec![]),
        0,
    );
    assert_eq!(l.train.rows(), 29);
    let l = load(
        rows(150).as_bytes(),
        &data(all_bindings(), Some(0.7), vec![]),
        0,
    );
    assert_eq!(l.train.rows(), 105);
}

#[test]
fn split_is_a_function_of_the_seed() {
    let d = data(all_bindings(), Some(0.5), vec![]);
    let a = load(rows(40).as_bytes(), &d, 1);
    let b = load(rows(40).as_bytes(), &d, 1);
    let c = load(rows(40).as_bytes(), &d, 2);
    assert_eq!((&a.train, &a.test), (&b.train, &b.test));
    assert_ne!(a.train.lines, c.train.lines);
    // And it is a shuffle, not the first half of the file.
    assert_ne!(a.train.lines, (2..22).collect::<Vec<_>>());
}

#[test]
fn split_one_leaves_an_empty_test_set() {
    let l = load(
        rows(5).as_bytes(),
        &data(all_bindings(), Some(1.0), vec![]),
        0,
    );
    assert_eq!((l.train.rows(), l.test.rows()), (5, 0));
    assert!(l.test.is_empty());
    assert!(l.test.var(VarId(0)).unwrap().values.is_empty());
}

#[test]
fn standardize_uses_training_statistics_and_maps_back() {
    let d = data(all_bindings(), Some(0.6), vec![0, 3]);
    let l = load(rows(30).as_bytes(), &d, 3);
    for id in [VarId(0), VarId(3)] {
        let v = l.train.var(id).unwrap();
        for j in 0..v.width {
            let col: Vec<f64> = (0..l.train.rows()).map(|i| v.row(i)[j]).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!(mean.abs() < 1e-12, "{} element {j}: mean {mean}", v.name);
            assert!(
                (var - 1.0).abs() < 1e-12,
                "{} element {j}: variance {var}",
                v.name
            );
        }
    }
    // Test rows get the training map: restoring gives back the file's values.
    let s = l.standardization(VarId(3)).unwrap();
    let mut r = l.test.var(VarId(3)).unwrap().values.clone();
    s.restore(&mut r);
    for (i, &line) in l.test.lines.iter().enumerate() {
        let k = (line - 2) as f64;
        assert!(
            (r[i] - k * k).abs() < 1e-9,
            "line {line}: {} vs {}",
            r[i],
            k * k
        );
    }
    // The statistics are the training rows' own (population standard deviation).
    let train_r: Vec<f64> = l
        .train
        .lines
        .iter()
        .map(|&line| ((line - 2) * (line - 2)) as f64)
        .collect();
    let mean = train_r.iter().sum::<f64>() / train_r.len() as f64;
    assert!((s.mean[0] - mean).abs() < 1e-9);
    // Class and sign columns are untouched.
    assert!(l
        .train
        .var(VarId(1))
        .unwrap()
        .values
        .iter()
        .all(|y| [0.0, 1.0, 2.0].contains(y)));
}

#[test]
fn a_constant_column_is_centred_but_not_scaled() {
    let d = data(vec![bind(0, name("a"), Some(name("b")))], None, vec![0]);
    let l = load(b"a,b\n0.1,1\n0.1,2\n0.1,3\n", &d, 0);
    let s = l.standardization(VarId(0)).unwrap();
    assert_eq!(s.scale[0], 1.0);
    let x = &l.train.var(VarId(0)).unwrap().values;
    assert!(
        x.iter()
            .step_by(2)
            .all(|v| v.abs() < 1e-15 && v.is_finite()),
        "{x:?}"
    );
    // The other element is a proper z-score: 1, 2, 3 → −√1.5, 0, √1.5.
    assert!((x[5] - 1.5f64.sqrt()).abs() < 1e-12, "{x:?}");
}

/// Values near the largest f64 standardize to their z-scores instead of overflowing in the
/// sum, the squares or the difference (found by the `files` fuzz target: −1e308 − 1e308).
#[test]
fn huge_values_standardize_without_overflow() {
    let d = data(vec![bind(0, name("a"), Some(name("b")))], None, vec![0]);
    let l = load(
        b"a,b\n1e308,1e200\n-1e308,-1e200\n1e308,1e200\n-1e308,-1e200\n",
        &d,
        0,
    );
    let x = &l.train.var(VarId(0)).unwrap().values;
    assert_eq!(x, &[1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0]);
}

/// A test value whose z-score no f64 holds is an error naming the variable, not an infinity
/// handed to the model: nine training rows a hair apart, and 1e308 among the rows — the seeds
/// that put it in the test set fail, the others standardize it as an outlier.
#[test]
fn a_z_score_that_overflows_is_an_error() {
    let d = data(
        vec![bind(0, name("a"), Some(name("b")))],
        Some(0.9),
        vec![0],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b\n");
    for i in 0..9 {
        csv += &format!("1,1.{i}\n");
    }
    csv += "1,1e308\n";
    std::fs::write(dir.path().join("d.csv"), csv).unwrap();
    let mut failed = 0;
    for seed in 0..20 {
        match data::load(&d, &vars(), dir.path(), seed) {
            Ok(l) => assert!(l.test.lines != [11], "seed {seed}"),
            Err(err) => {
                failed += 1;
                assert_eq!(
                    err.to_string(),
                    "d.csv: standardize x: element 1 has a value too far from the training mean, in training deviations, for a number to hold (its z-score overflows); rescale that column or leave x unstandardized"
                );
            }
        }
    }
    assert!(failed > 0, "no seed put the huge row in the test set");
}

#[test]
fn select_makes_a_minibatch() {
    let l = load(rows(6).as_bytes(), &data(all_bindings(), None, vec![]), 0);
    let batch = l.train.select(&[4, 1, 4]);
    let x = batch.var(VarId(0)).unwrap();
    let picked: Vec<f64> = (0..3).flat_map(|r| x.row(r).to_vec()).collect();
    assert_eq!(picked, [4.0, 40.0, 1.0, 10.0, 4.0, 40.0]);
    let sub = l.train.select(&[5, 0]);
    assert_eq!(sub.lines, [7, 2]);
    assert_eq!(sub.var(VarId(3)).unwrap().values, [25.0, 0.0]);
}

#[test]
fn a_test_file_holds_the_test_rows_and_every_row_of_the_first_trains() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), rows(10)).unwrap();
    // The test file's rows: a = 100 + i, `label` moved to the front (bound by name; s and
    // r are bound by index, 3 and 4, as in the first file).
    let mut t = String::from("label,a,b,s,r,note\n");
    for i in 0..4 {
        t.push_str(&format!(
            "{},{},{},{},{},t{i}\n",
            i % 3,
            100 + i,
            10 * i,
            i % 2,
            i * i
        ));
    }
    std::fs::write(dir.path().join("t.csv"), &t).unwrap();
    let mut d = data(all_bindings(), None, vec![0]);
    d.test = Some("t.csv".into());
    let l = data::load(&d, &vars(), dir.path(), 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.train.rows(), 10);
    assert_eq!(l.test.rows(), 4);
    assert_eq!(l.test.lines, vec![2, 3, 4, 5]);
    // x is standardized with the statistics of the training file alone: a = 0..9 has mean 4.5.
    let st = l.standardization(VarId(0)).unwrap();
    assert!((st.mean[0] - 4.5).abs() < 1e-12, "{:?}", st.mean);
    let mut x = l.test.var(VarId(0)).unwrap().values.clone();
    st.restore(&mut x);
    assert!(
        (x[0] - 100.0).abs() < 1e-9 && (x[1] - 0.0).abs() < 1e-9,
        "{x:?}"
    );
    assert_eq!(
        l.test.var(VarId(1)).unwrap().values,
        vec![0.0, 1.0, 2.0, 0.0]
    );

    // A bad cell of the test file is reported against that file, with its line and column.
    std::fs::write(
        dir.path().join("t.csv"),
        "a,b,label,s,r\n1,2,0,1,1\n1,2,x,1,1\n",
    )
    .unwrap();
    let e = data::load(&d, &vars(), dir.path(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.csv:3:"), "{e}");
    // A missing test file names it.
    d.test = Some("nowhere.csv".into());
    let e = data::load(&d, &vars(), dir.path(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nowhere.csv"), "{e}");
}
