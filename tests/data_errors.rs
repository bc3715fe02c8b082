//! Every way a data file can be wrong, each with the one-line message a user sees.
//!
//! Each test writes a small CSV into a fresh temporary directory and loads it through
//! `runtime::data::load` with a `check::Data` built by hand, as the checker would make it.

use ebmc::check::{Column, Data, DataBinding, Role, Var, VarId};
use ebmc::runtime::data::{self, DataErrorKind};
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

/// The model's variables: x : real[2] (0), y : class[3] (1), s : sign (2), r : real (3),
/// M : real[2, 2] (4).
fn vars() -> Vec<Var> {
    vec![
        var("x", Role::Input, Ty::Real(Shape(vec![2]))),
        var("y", Role::Output, Ty::Class(3)),
        var("s", Role::Output, Ty::sign()),
        var("r", Role::Output, Ty::scalar()),
        var("M", Role::Input, Ty::Real(Shape(vec![2, 2]))),
    ]
}

fn name(n: &str) -> Column {
    Column::Name(n.into())
}

fn bind(var: u32, first: Column, last: Option<Column>) -> DataBinding {
    DataBinding {
        var: VarId(var),
        first,
        last,
        span: Span::default(),
    }
}

/// `data "d.csv" { x = a..b, y = label, s = s, r = r }`.
fn standard() -> Data {
    Data {
        path: "d.csv".into(),
        path_span: Span::default(),
        bindings: vec![
            bind(0, name("a"), Some(name("b"))),
            bind(1, name("label"), None),
            bind(2, name("s"), None),
            bind(3, name("r"), None),
        ],
        split: None,
        test: None,
        standardize: vec![],
    }
}

const HEADER: &str = "a,b,label,s,r\n";

/// Loads `contents` as `d.csv` with `data` and returns the error message.
fn error_with(contents: &[u8], data: &Data) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), contents).unwrap();
    match data::load(data, &vars(), dir.path(), 0) {
        Ok(l) => panic!("loaded {} rows, expected an error", l.train.rows()),
        Err(e) => e.to_string(),
    }
}

fn error(contents: &str) -> String {
    error_with(contents.as_bytes(), &standard())
}

/// The standard data with one binding replaced.
fn rebind(i: usize, b: DataBinding) -> Data {
    let mut d = standard();
    d.bindings[i] = b;
    d
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = data::load(&standard(), &vars(), dir.path(), 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.csv: cannot read the data file: no such file or directory"
    );
    assert_eq!(e.line, None);
}

#[test]
fn empty_file() {
    assert_eq!(
        error(""),
        "d.csv: the file is empty: expected a header line naming the columns"
    );
    assert_eq!(
        error("\n\n"),
        "d.csv: the file is empty: expected a header line naming the columns"
    );
}

#[test]
fn header_only() {
    assert_eq!(
        error("a,b,label,s,r\n"),
        "d.csv:1: the file has a header line but no rows of data"
    );
    assert_eq!(
        error("a,b,label,s,r"),
        "d.csv:1: the file has a header line but no rows of data"
    );
    assert_eq!(
        error("a,b,label,s,r\n\n\n"),
        "d.csv:1: the file has a header line but no rows of data"
    );
}

#[test]
fn short_row() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n1,2,0,1\n")),
        "d.csv:3: expected 5 cells as in the header, found 4"
    );
}

#[test]
fn long_row() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n1,2,0,1,5\n1,2,0,1,5,6\n")),
        "d.csv:4: expected 5 cells as in the header, found 6"
    );
}

#[test]
fn malformed_number() {
    let e = error(&format!("{HEADER}1,2,0,1,5\n1,abc,0,1,5\n"));
    assert_eq!(
        e,
        "d.csv:3: column index 1 (\"b\"): expected a number, found \"abc\""
    );
    // A decimal comma is the usual culprit; its cells split, so the row is long.
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n1,2,0,1,5,5\n")),
        "d.csv:3: expected 5 cells as in the header, found 6"
    );
    // Quoted, it stays one cell and is not a number.
    assert_eq!(
        error(&format!("{HEADER}1,\"2,5\",0,1,5\n")),
        "d.csv:2: column index 1 (\"b\"): expected a number, found \"2,5\""
    );
}

#[test]
fn empty_cell() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n,2,0,1,5\n")),
        "d.csv:3: column index 0 (\"a\"): expected a number, found an empty cell"
    );
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,  \n")),
        "d.csv:2: column index 4 (\"r\"): expected a number, found an empty cell"
    );
}

#[test]
fn nan_and_infinite_cells() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,nan\n")),
        "d.csv:2: column index 4 (\"r\"): expected a finite number, found \"nan\""
    );
    assert_eq!(
        error(&format!("{HEADER}1,-inf,0,1,5\n")),
        "d.csv:2: column index 1 (\"b\"): expected a finite number, found \"-inf\""
    );
    assert_eq!(
        error(&format!("{HEADER}1e400,2,0,1,5\n")),
        "d.csv:2: column index 0 (\"a\"): expected a finite number, found \"1e400\""
    );
}

#[test]
fn unknown_column_name_with_and_without_a_suggestion() {
    let d = rebind(1, bind(1, name("lable"), None));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: no column named \"lable\" (bound to y); did you mean \"label\"?"
    );
    let d = rebind(1, bind(1, name("species"), None));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: no column named \"species\" (bound to y) in the header"
    );
}

#[test]
fn column_index_out_of_range() {
    let d = rebind(3, bind(3, Column::Index(5), None));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: column index 5 (bound to r) is out of range: the header has 5 columns, indices 0 to 4"
    );
    let d = rebind(0, bind(0, Column::Index(4), Some(Column::Index(5))));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: column index 5 (bound to x) is out of range: the header has 5 columns, indices 0 to 4"
    );
}

#[test]
fn range_of_the_wrong_length() {
    let d = rebind(0, bind(0, name("a"), Some(name("label"))));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: x : real[2] needs 2 columns, found 3 columns: column index 0 (\"a\") to column index 2 (\"label\")"
    );
    let d = rebind(0, bind(0, name("a"), None));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: x : real[2] needs 2 columns, found 1 column: column index 0 (\"a\")"
    );
    let d = rebind(1, bind(1, Column::Index(2), Some(Column::Index(3))));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: y : class[3] needs 1 column, found 2 columns: column index 2 (\"label\") to column index 3 (\"s\")"
    );
}

#[test]
fn range_running_backwards() {
    let d = rebind(0, bind(0, name("b"), Some(name("a"))));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: the columns bound to x run backwards: from column index 1 (\"b\") to column index 0 (\"a\")"
    );
}

#[test]
fn ambiguous_header_name() {
    assert_eq!(
        error("a,b,label,s,r,label\n1,2,0,1,5,0\n"),
        "d.csv:1: column name \"label\" (bound to y) is ambiguous: column indices 2 and 5 are both called that; use an index"
    );
}

#[test]
fn class_label_out_of_range() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n1,2,3,1,5\n")),
        "d.csv:3: column index 2 (\"label\"): expected a class label for y : class[3] (an integer from 0 to 2), found \"3\""
    );
    assert_eq!(
        error(&format!("{HEADER}1,2,-1,1,5\n")),
        "d.csv:2: column index 2 (\"label\"): expected a class label for y : class[3] (an integer from 0 to 2), found \"-1\""
    );
}

#[test]
fn class_label_not_an_integer() {
    let e = error(&format!("{HEADER}1,2,1.5,1,5\n"));
    assert_eq!(
        e,
        "d.csv:2: column index 2 (\"label\"): expected a class label for y : class[3] (an integer from 0 to 2), found \"1.5\""
    );
    assert_eq!(
        error(&format!("{HEADER}1,2,setosa,1,5\n")),
        "d.csv:2: column index 2 (\"label\"): expected a number, found \"setosa\""
    );
}

#[test]
fn class_error_kinds_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    std::fs::write(&path, format!("{HEADER}1,2,1.5,1,5\n")).unwrap();
    let e = data::load(&standard(), &vars(), dir.path(), 0).unwrap_err();
    assert!(
        matches!(*e.kind, DataErrorKind::NotAnInteger { k: 3, .. }),
        "{e:?}"
    );
    std::fs::write(&path, format!("{HEADER}1,2,7,1,5\n")).unwrap();
    let e = data::load(&standard(), &vars(), dir.path(), 0).unwrap_err();
    assert!(
        matches!(*e.kind, DataErrorKind::ClassOutOfRange { k: 3, .. }),
        "{e:?}"
    );
}

#[test]
fn bad_sign_label() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,2,5\n")),
        "d.csv:2: column index 3 (\"s\"): expected a sign label for s (-1 or 1, or 0 or 1), found \"2\""
    );
    assert_eq!(
        error(&format!("{HEADER}1,2,0,0.5,5\n")),
        "d.csv:2: column index 3 (\"s\"): expected a sign label for s (-1 or 1, or 0 or 1), found \"0.5\""
    );
}

#[test]
fn sign_column_mixing_conventions() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n1,2,0,0,5\n1,2,0,1,5\n1,2,0,-1,5\n")),
        "d.csv:5: column index 3 (\"s\"): found \"-1\" but line 3 has \"0\": a sign column uses either -1/1 or 0/1"
    );
}

#[test]
fn empty_line_between_rows() {
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n\n1,2,0,1,5\n")),
        "d.csv:3: empty line: expected 5 cells as in the header"
    );
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,5\n1,2,0,1,5\n   \n1,2,0,1,5\n")),
        "d.csv:4: empty line: expected 5 cells as in the header"
    );
    assert_eq!(
        error("a,b,label,s,r\r\n1,2,0,1,5\r\n\r\n\r\n1,2,0,1,5\r\n"),
        "d.csv:3: empty line: expected 5 cells as in the header"
    );
}

#[test]
fn line_numbers_count_crlf_and_quoted_line_breaks() {
    // Line 3 holds a quoted cell spanning two lines in an unbound column; the bad row is on line 5.
    let text =
        "a,b,label,s,r,note\r\n1,2,0,1,5,ok\r\n1,2,0,1,5,\"two\r\nlines\"\r\n1,2,0,1,x,bad\r\n";
    let mut d = standard();
    d.path = "d.csv".into();
    assert_eq!(
        error_with(text.as_bytes(), &d),
        "d.csv:5: column index 4 (\"r\"): expected a number, found \"x\""
    );
}

#[test]
fn a_bad_cell_after_a_byte_order_mark_and_invalid_utf8() {
    let mut bytes = b"\xef\xbb\xbfa,b,label,s,r\n1,2,0,1,5\n".to_vec();
    bytes.extend_from_slice(b"1,\xff\xfe,0,1,5\n");
    assert_eq!(
        error_with(&bytes, &standard()),
        "d.csv:3: column index 1 (\"b\"): expected a number, found \"\u{fffd}\u{fffd}\""
    );
}

#[test]
fn standardizing_what_cannot_be() {
    let mut d = standard();
    d.standardize = vec![VarId(1)];
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv: standardize names y : class[3]; only real variables can be standardized"
    );
    d.standardize = vec![VarId(4)];
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv: standardize names M, but no column is bound to it"
    );
}

#[test]
fn a_variable_bound_twice() {
    let mut d = standard();
    d.bindings.push(bind(3, name("a"), None));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n").as_bytes(), &d),
        "d.csv:1: r is bound to columns twice"
    );
}

#[test]
fn a_split_that_keeps_no_training_row() {
    let mut d = standard();
    d.split = Some(0.1);
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,5\n1,2,0,1,5\n").as_bytes(), &d),
        "d.csv: split 0.1 keeps no training rows out of 2"
    );
}

#[test]
fn a_cell_is_cut_in_the_message_when_long() {
    let long = "y".repeat(60);
    assert_eq!(
        error(&format!("{HEADER}1,2,0,1,{long}\n")),
        format!(
            "d.csv:2: column index 4 (\"r\"): expected a number, found \"{}\"…",
            "y".repeat(40)
        )
    );
}

#[test]
fn every_malformed_cell_and_row_is_reported_in_file_order() {
    let text = format!(
        "{HEADER}1,2,0,1,5\n1,x,0,1,5\n1,2,0,1\n1,2,7,0,nan\n1,2,0,-1,5\n1,2,0,1,5,6\n\n1,2,0,1,5\n"
    );
    assert_eq!(
        error(&text),
        "d.csv: 7 malformed cells or rows:
d.csv:3: column index 1 (\"b\"): expected a number, found \"x\"
d.csv:4: expected 5 cells as in the header, found 4
d.csv:5: column index 2 (\"label\"): expected a class label for y : class[3] (an integer from 0 to 2), found \"7\"
d.csv:5: column index 4 (\"r\"): expected a finite number, found \"nan\"
d.csv:6: column index 3 (\"s\"): found \"-1\" but line 5 has \"0\": a sign column uses either -1/1 or 0/1
d.csv:7: expected 5 cells as in the header, found 6
d.csv:8: empty line: expected 5 cells as in the header"
    );
}

#[test]
fn a_long_list_of_malformed_cells_is_cut_and_counted() {
    let mut text = HEADER.to_string();
    for i in 0..(data::SHOWN + 10) {
        text.push_str(&format!("1,b{i},0,1,5\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.csv"), &text).unwrap();
    let e = data::load(&standard(), &vars(), dir.path(), 0).unwrap_err();
    let DataErrorKind::Malformed { first, total } = &*e.kind else {
        panic!("{e:?}");
    };
    assert_eq!(*total, data::SHOWN + 10);
    let lines: Vec<usize> = first.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, (2..2 + data::SHOWN).collect::<Vec<_>>());
    let message = e.to_string();
    let shown: Vec<&str> = message.lines().collect();
    assert_eq!(shown.len(), data::SHOWN + 2, "{message}");
    assert_eq!(shown[0], "d.csv: 30 malformed cells or rows; the first 20:");
    assert_eq!(
        shown[20],
        "d.csv:21: column index 1 (\"b\"): expected a number, found \"b19\""
    );
    assert_eq!(shown[21], "d.csv: and 10 more malformed cells or rows");
}

#[test]
fn a_cell_is_named_by_the_index_its_binding_writes() {
    // `r = 4`: the error names column index 4, the number in the binding, and its header name.
    let d = rebind(3, bind(3, Column::Index(4), None));
    assert_eq!(
        error_with(format!("{HEADER}1,2,0,1,five\n").as_bytes(), &d),
        "d.csv:2: column index 4 (\"r\"): expected a number, found \"five\""
    );
}
