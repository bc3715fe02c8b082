//! Weights and point files: JSON objects from variable names to numbers or nested arrays.
//!
//! This module owns the file format in both directions; files are written through
//! [`crate::atomic::write`].
//!
//! Reading ([`read`], [`parse`]) checks the file against the variables the caller expects
//! (name → [`Ty`]) and gives back their values, flat and row-major, in the caller's order.
//! It accepts exactly what [`render`] writes and rejects everything else with an error naming
//! the file, the entry and what was expected:
//! * JSON syntax errors, a top level that is not an object, a name given twice (serde would
//!   silently keep the last one);
//! * an entry that no variable expects (with the expected names that are still missing, since
//!   that is usually a typo), and an expected variable that is missing;
//! * wrong nesting or lengths, judged against the shape dimension by dimension: `real` is a
//!   number, `real[n]` an array of `n` numbers, `real[m, n]` an array of `m` such arrays, …;
//! * non-numeric elements, non-finite ones (JSON has no NaN or infinity, so they arrive as
//!   strings such as `"NaN"` and get their own message), a `class[k]` value that is not an
//!   integer in `0..k`, a `sign` value that is not −1 or +1.
//!
//! Writing puts one entry per line group, innermost rows on one line so a matrix looks like
//! one; class values are integers and signs ±1. Reals use the shortest representation that
//! reads back to the same `f64`, so a weights file round-trips bit for bit.

use crate::types::Ty;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

/// A weights or point file that cannot be read or written, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsError {
    /// The file as the user named it.
    pub file: String,
    /// Boxed: the kind holds types (`Ty`), and errors travel in every `Result` of a read.
    pub kind: Box<WeightsErrorKind>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WeightsErrorKind {
    /// The operating system refused (missing file, permissions, full disk, …).
    Io(String),
    /// Not JSON, not an object, or a name given twice; line and column are 1-based.
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// An entry no expected variable has; `missing` are the expected names not yet given.
    Unknown {
        name: String,
        missing: Vec<String>,
    },
    Missing {
        name: String,
        ty: Ty,
    },
    /// Wrong nesting or length; `at` is the index path of the offending array (`[1]`), or empty.
    Shape {
        name: String,
        ty: Ty,
        at: String,
        found: String,
    },
    NotANumber {
        name: String,
        at: String,
        found: String,
    },
    NotFinite {
        name: String,
        at: String,
        found: String,
    },
    NotAClass {
        name: String,
        at: String,
        k: usize,
        found: String,
    },
    NotASign {
        name: String,
        at: String,
        found: String,
    },
    /// Writing: a value that the JSON form of its type cannot hold (NaN, 0.5 as a class, …).
    Unwritable {
        name: String,
        ty: Ty,
        index: usize,
        value: f64,
    },
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WeightsErrorKind::*;
        let file = &self.file;
        let at = |name: &str, at: &str| format!("\"{name}\"{at}");
        match &*self.kind {
            Io(e) => write!(f, "{file}: {e}"),
            Json { line, column, message } => write!(f, "{file}:{line}:{column}: {message}"),
            Unknown { name, missing } if missing.is_empty() => {
                write!(f, "{file}: \"{name}\" is not a variable of this model")
            }
            Unknown { name, missing } => write!(
                f,
                "{file}: \"{name}\" is not a variable of this model (not yet given: {})",
                missing.join(", ")
            ),
            Missing { name, ty } => write!(f, "{file}: \"{name}\" is missing: expected {}", describe(ty)),
            Shape { name, ty, at, found } if at.is_empty() => {
                write!(f, "{file}: \"{name}\": expected {}, found {found}", describe(ty))
            }
            Shape { name, ty, at, found } => {
                write!(f, "{file}: \"{name}\": expected {}, found {found} at {name}{at}", describe(ty))
            }
            NotANumber { name, at: a, found } => write!(f, "{file}: {}: expected a number, found {found}", at(name, a)),
            NotFinite { name, at: a, found } => {
                write!(f, "{file}: {}: expected a finite number, found {found}", at(name, a))
            }
            NotAClass { name, at: a, k, found } => write!(
                f,
                "{file}: {}: expected a class[{k}] value (an integer from 0 to {}), found {found}",
                at(name, a),
                k.saturating_sub(1)
            ),
            NotASign { name, at: a, found } => write!(f, "{file}: {}: expected a sign (-1 or 1), found {found}", at(name, a)),
            Unwritable { name, ty, index, value } => write!(
                f,
                "{file}: cannot write \"{name}\": element {index} is {value}, which is not a {ty} value"
            ),
        }
    }
}

impl std::error::Error for WeightsError {}

/// What a value of `ty` looks like in a file, for error messages.
pub fn describe(ty: &Ty) -> String {
    match ty {
        Ty::Real(s) => match s.0.as_slice() {
            [] => "real (a number)".to_string(),
            [n] => format!("{ty} (a row of {n} numbers)"),
            [m, n] => format!("{ty} ({m} rows of {n})"),
            dims => {
                let ds: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                format!("{ty} ({} nested arrays of numbers)", ds.join(" × "))
            }
        },
        Ty::Class(k) => format!("class[{k}] (an integer from 0 to {})", k.saturating_sub(1)),
        Ty::Sign(s) if s.is_scalar() => "sign (-1 or 1)".to_string(),
        Ty::Sign(s) => match s.0.as_slice() {
            [n] => format!("{ty} (a row of {n} values, each -1 or 1)"),
            dims => {
                let ds: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                format!(
                    "{ty} (nested arrays {}, each value -1 or 1)",
                    ds.join(" × ")
                )
            }
        },
    }
}

/// What was found instead, for error messages.
fn found(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!(
            "the string {}",
            serde_json::to_string(s).unwrap_or_default()
        ),
        Value::Object(_) => "an object".into(),
        Value::Array(a) if a.is_empty() => "an empty array".into(),
        Value::Array(a) if a.iter().all(Value::is_number) => match a.len() {
            1 => "a row of 1 number".into(),
            n => format!("a row of {n} numbers"),
        },
        Value::Array(a) if a.iter().all(Value::is_array) => match a.len() {
            1 => "1 row".into(),
            n => format!("{n} rows"),
        },
        Value::Array(a) => format!("an array of {} mixed items", a.len()),
    }
}

/// The entries of the top-level object in file order, refusing a name given twice.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object from variable names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(de::Error::custom(format!("\"{k}\" is given twice")));
                    }
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a weights or point file; see [`parse`].
pub fn read(path: &Path, expected: &[(&str, &Ty)]) -> Result<Vec<Vec<f64>>, WeightsError> {
    let file = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|e| WeightsError {
        file: file.clone(),
        kind: Box::new(WeightsErrorKind::Io(io_message(&e))),
    })?;
    parse(&text, &file, expected)
}

/// Checks `text` against the expected variables and returns their values, flat and row-major,
/// in the order of `expected`. `file` names the source in errors.
pub fn parse(
    text: &str,
    file: &str,
    expected: &[(&str, &Ty)],
) -> Result<Vec<Vec<f64>>, WeightsError> {
    let err = |kind| WeightsError {
        file: file.to_string(),
        kind: Box::new(kind),
    };
    let Entries(entries) = serde_json::from_str(text).map_err(|e| {
        // serde_json appends " at line L column C" to its messages; the position goes in front.
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        // serde_json says column 0 before the first character; editors count from 1.
        err(WeightsErrorKind::Json {
            line: e.line(),
            column: e.column().max(1),
            message,
        })
    })?;
    for (name, _) in &entries {
        if !expected.iter().any(|(n, _)| n == name) {
            let missing = expected
                .iter()
                .filter(|(n, _)| !entries.iter().any(|(m, _)| m == n))
                .map(|(n, _)| n.to_string())
                .collect();
            return Err(err(WeightsErrorKind::Unknown {
                name: name.clone(),
                missing,
            }));
        }
    }
    let mut out = Vec::with_capacity(expected.len());
    for &(name, ty) in expected {
        let Some((_, value)) = entries.iter().find(|(n, _)| n == name) else {
            return Err(err(WeightsErrorKind::Missing {
                name: name.to_string(),
                ty: ty.clone(),
            }));
        };
        let mut values = Vec::with_capacity(ty.elements());
        let dims: &[usize] = ty.shape().map_or(&[], |s| &s.0);
        let mut at = String::new();
        collect(value, dims, name, ty, &mut at, &mut values).map_err(err)?;
        out.push(values);
    }
    Ok(out)
}

/// Appends the elements of `v`, which must have the shape `dims`, checking each against `ty`.
fn collect(
    v: &Value,
    dims: &[usize],
    name: &str,
    ty: &Ty,
    at: &mut String,
    out: &mut Vec<f64>,
) -> Result<(), WeightsErrorKind> {
    let Some((&n, rest)) = dims.split_first() else {
        return element(v, name, ty, at).map(|x| out.push(x));
    };
    match v {
        Value::Array(items) if items.len() == n => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{i}]"));
                collect(item, rest, name, ty, at, out)?;
                at.truncate(len);
            }
            Ok(())
        }
        // Anything else where an array belongs is a shape error, even a string: the reader
        // needs to hear that a matrix was expected, not that a number was.
        _ => Err(WeightsErrorKind::Shape {
            name: name.into(),
            ty: ty.clone(),
            at: at.clone(),
            found: found(v),
        }),
    }
}

/// One element, which must be a number fit for `ty`.
fn element(v: &Value, name: &str, ty: &Ty, at: &str) -> Result<f64, WeightsErrorKind> {
    let (name, at) = (name.to_string(), at.to_string());
    let x = match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().parse::<f64>().is_ok_and(|x| !x.is_finite()) => {
            return Err(WeightsErrorKind::NotFinite {
                name,
                at,
                found: found(v),
            })
        }
        Value::Array(_) => {
            return Err(WeightsErrorKind::Shape {
                name,
                ty: ty.clone(),
                at,
                found: found(v),
            });
        }
        _ => {
            return Err(WeightsErrorKind::NotANumber {
                name,
                at,
                found: found(v),
            })
        }
    };
    if !x.is_finite() {
        return Err(WeightsErrorKind::NotFinite {
            name,
            at,
            found: found(v),
        });
    }
    match ty {
        Ty::Real(_) => Ok(x),
        Ty::Class(k) if x.fract() == 0.0 && x >= 0.0 && x < *k as f64 => Ok(x),
        Ty::Class(k) => Err(WeightsErrorKind::NotAClass {
            name,
            at,
            k: *k,
            found: found(v),
        }),
        Ty::Sign(_) if x == 1.0 || x == -1.0 => Ok(x),
        Ty::Sign(_) => Err(WeightsErrorKind::NotASign {
            name,
            at,
            found: found(v),
        }),
    }
}

/// The JSON value of one variable: a number, or arrays nested by its shape. The error is the
/// first element (row-major index) that its type cannot hold, such as NaN.
pub fn to_json(ty: &Ty, values: &[f64]) -> Result<Value, usize> {
    fn nest(dims: &[usize], values: &[f64], ty: &Ty, offset: usize) -> Result<Value, usize> {
        match dims.split_first() {
            None => scalar(ty, values[0]).ok_or(offset),
            Some((&n, rest)) => {
                let stride: usize = rest.iter().product();
                let items: Result<Vec<Value>, usize> = (0..n)
                    .map(|i| {
                        nest(
                            rest,
                            &values[i * stride..(i + 1) * stride],
                            ty,
                            offset + i * stride,
                        )
                    })
                    .collect();
                items.map(Value::Array)
            }
        }
    }
    let dims: &[usize] = ty.shape().map_or(&[], |s| &s.0);
    assert_eq!(
        values.len(),
        ty.elements(),
        "to_json: {} values for a {ty}",
        values.len()
    );
    nest(dims, values, ty, 0)
}

fn scalar(ty: &Ty, x: f64) -> Option<Value> {
    if !ty.admits(x) {
        return None;
    }
    Some(match ty {
        Ty::Real(_) => Value::Number(serde_json::Number::from_f64(x)?),
        Ty::Class(_) => Value::from(x as u64),
        Ty::Sign(_) => Value::from(x as i64),
    })
}

/// Pretty JSON for the entries `(name, type, values)`, in the given order: two-space indent,
/// innermost arrays on one line.
pub fn render(file: &str, entries: &[(&str, &Ty, &[f64])]) -> Result<String, WeightsError> {
    let mut out = String::from("{");
    for (i, &(name, ty, values)) in entries.iter().enumerate() {
        let v = to_json(ty, values).map_err(|index| WeightsError {
            file: file.to_string(),
            kind: Box::new(WeightsErrorKind::Unwritable {
                name: name.to_string(),
                ty: ty.clone(),
                index,
                value: values[index],
            }),
        })?;
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        out.push_str(&serde_json::to_string(name).expect("a string always serializes"));
        out.push_str(": ");
        pretty(&v, 1, &mut out);
    }
    out.push_str(if entries.is_empty() { "}\n" } else { "\n}\n" });
    Ok(out)
}

/// Writes `v` at nesting `depth`: arrays of scalars on one line, arrays of arrays one per line,
/// objects one entry per line.
pub(crate) fn pretty(v: &Value, depth: usize, out: &mut String) {
    let indent = |d: usize| "  ".repeat(d);
    match v {
        Value::Array(items) if items.iter().any(|x| x.is_array() || x.is_object()) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&indent(depth + 1));
                pretty(item, depth + 1, out);
            }
            out.push('\n');
            out.push_str(&indent(depth));
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&indent(depth + 1));
                out.push_str(&serde_json::to_string(k).expect("a string always serializes"));
                out.push_str(": ");
                pretty(item, depth + 1, out);
            }
            out.push('\n');
            out.push_str(&indent(depth));
            out.push('}');
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(Value::to_string).collect();
            out.push('[');
            out.push_str(&parts.join(", "));
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Writes a weights (or point) file atomically; see [`render`] and [`crate::atomic::write`].
pub fn write(path: &Path, entries: &[(&str, &Ty, &[f64])]) -> Result<(), WeightsError> {
    let file = path.display().to_string();
    let text = render(&file, entries)?;
    crate::atomic::write(path, text.as_bytes()).map_err(|e| WeightsError {
        file,
        kind: Box::new(WeightsErrorKind::Io(io_message(&e))),
    })
}

/// The OS message without Rust's " (os error 2)" suffix, lower-cased like the rest of ours.
pub(crate) fn io_message(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Shape;

    fn real(dims: &[usize]) -> Ty {
        Ty::Real(Shape(dims.to_vec()))
    }

    /// The model of most tests: W : real[3, 4], b : real[3], c : real, y : class[3], s : sign.
    fn vars() -> Vec<(&'static str, Ty)> {
        vec![
            ("W", real(&[3, 4])),
            ("b", real(&[3])),
            ("c", real(&[])),
            ("y", Ty::Class(3)),
            ("s", Ty::sign()),
        ]
    }

    const GOOD: &str = r#"{
        "W": [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12.5]],
        "b": [0.5, -0.5, 1e-3],
        "c": -2,
        "y": 2,
        "s": -1
    }"#;

    /// Parses `text` against [`vars`] and returns the error message.
    fn error(text: &str) -> String {
        let v = vars();
        let expected: Vec<(&str, &Ty)> = v.iter().map(|(n, t)| (*n, t)).collect();
        parse(text, "weights.json", &expected)
            .unwrap_err()
            .to_string()
    }

    /// [`GOOD`] with one entry's value replaced.
    fn with(name: &str, value: &str) -> String {
        let mut s = String::from("{");
        for (n, v) in [
            ("W", "[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]"),
            ("b", "[0, 0, 0]"),
            ("c", "1"),
            ("y", "0"),
            ("s", "1"),
        ] {
            let v = if n == name { value } else { v };
            s.push_str(&format!("\"{n}\": {v},"));
        }
        s.pop();
        s.push('}');
        s
    }

    #[test]
    fn reads_every_type_in_the_callers_order() {
        let v = vars();
        let mut expected: Vec<(&str, &Ty)> = v.iter().map(|(n, t)| (*n, t)).collect();
        expected.reverse();
        let got = parse(GOOD, "weights.json", &expected).unwrap();
        assert_eq!(got[0], [-1.0]);
        assert_eq!(got[1], [2.0]);
        assert_eq!(got[2], [-2.0]);
        assert_eq!(got[3], [0.5, -0.5, 1e-3]);
        assert_eq!(
            got[4],
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.5]
        );
    }

    #[test]
    fn a_row_of_the_wrong_length() {
        assert_eq!(
            error(&with("W", "[[1, 2, 3, 4], [1, 2, 3, 4, 5], [1, 2, 3, 4]]")),
            "weights.json: \"W\": expected real[3, 4] (3 rows of 4), found a row of 5 numbers at W[1]"
        );
    }

    #[test]
    fn too_few_rows_and_flat_instead_of_nested() {
        assert_eq!(
            error(&with("W", "[[1, 2, 3, 4], [1, 2, 3, 4]]")),
            "weights.json: \"W\": expected real[3, 4] (3 rows of 4), found 2 rows"
        );
        assert_eq!(
            error(&with("W", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]")),
            "weights.json: \"W\": expected real[3, 4] (3 rows of 4), found a row of 12 numbers"
        );
    }

    #[test]
    fn nested_where_a_vector_belongs_and_a_number_for_a_vector() {
        assert_eq!(
            error(&with("b", "[[0], [0], [0]]")),
            "weights.json: \"b\": expected real[3] (a row of 3 numbers), found a row of 1 number at b[0]"
        );
        assert_eq!(
            error(&with("b", "0")),
            "weights.json: \"b\": expected real[3] (a row of 3 numbers), found the number 0"
        );
        assert_eq!(
            error(&with("c", "[1]")),
            "weights.json: \"c\": expected real (a number), found a row of 1 number"
        );
    }

    #[test]
    fn a_missing_entry() {
        assert_eq!(
            error(r#"{"W": [[1,2,3,4],[1,2,3,4],[1,2,3,4]], "b": [0,0,0], "y": 0, "s": 1}"#),
            "weights.json: \"c\" is missing: expected real (a number)"
        );
    }

    #[test]
    fn an_extra_entry_names_what_is_still_missing() {
        assert_eq!(
            error(
                r#"{"W": [[1,2,3,4],[1,2,3,4],[1,2,3,4]], "B": [0,0,0], "c": 1, "y": 0, "s": 1}"#
            ),
            "weights.json: \"B\" is not a variable of this model (not yet given: b)"
        );
        let mut extra = with("c", "1");
        extra.insert_str(1, "\"d\": 4, ");
        assert_eq!(
            error(&extra),
            "weights.json: \"d\" is not a variable of this model"
        );
    }

    #[test]
    fn non_numeric_elements() {
        assert_eq!(
            error(&with("b", r#"[0, "x", 0]"#)),
            "weights.json: \"b\"[1]: expected a number, found the string \"x\""
        );
        assert_eq!(
            error(&with("c", "null")),
            "weights.json: \"c\": expected a number, found null"
        );
        assert_eq!(
            error(&with("c", "true")),
            "weights.json: \"c\": expected a number, found true"
        );
        assert_eq!(
            error(&with("W", r#"{"a": 1}"#)),
            "weights.json: \"W\": expected real[3, 4] (3 rows of 4), found an object"
        );
        assert_eq!(error(&with("b", r#""0,0,0""#)), "weights.json: \"b\": expected real[3] (a row of 3 numbers), found the string \"0,0,0\"");
    }

    #[test]
    fn non_finite_elements() {
        assert_eq!(
            error(&with(
                "W",
                r#"[[1, 2, 3, 4], [1, 2, "NaN", 4], [1, 2, 3, 4]]"#
            )),
            "weights.json: \"W\"[1][2]: expected a finite number, found the string \"NaN\""
        );
        assert_eq!(
            error(&with("c", r#""-inf""#)),
            "weights.json: \"c\": expected a finite number, found the string \"-inf\""
        );
        // A literal too large for f64 is a JSON error, with its position.
        assert_eq!(
            error(r#"{"c": 1e400}"#),
            "weights.json:1:11: number out of range"
        );
    }

    #[test]
    fn class_and_sign_values() {
        assert_eq!(error(&with("y", "3")), "weights.json: \"y\": expected a class[3] value (an integer from 0 to 2), found the number 3");
        assert_eq!(error(&with("y", "1.5")), "weights.json: \"y\": expected a class[3] value (an integer from 0 to 2), found the number 1.5");
        assert_eq!(error(&with("y", "-1")), "weights.json: \"y\": expected a class[3] value (an integer from 0 to 2), found the number -1");
        assert_eq!(
            error(&with("s", "0")),
            "weights.json: \"s\": expected a sign (-1 or 1), found the number 0"
        );
    }

    #[test]
    fn json_syntax_top_level_and_duplicates() {
        assert_eq!(
            error("{\"c\": 1,\n \"y\" 2}"),
            "weights.json:2:6: expected `:`"
        );
        assert_eq!(error("[1, 2]"), "weights.json:1:1: invalid type: sequence, expected an object from variable names to values");
        assert_eq!(
            error(r#"{"c": 1, "c": 2}"#),
            "weights.json:1:16: \"c\" is given twice"
        );
        assert_eq!(error(""), "weights.json:1:1: EOF while parsing a value");
    }

    #[test]
    fn a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.json");
        let e = read(&path, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: no such file or directory", path.display())
        );
    }

    #[test]
    fn render_nests_by_shape_and_writes_integers_for_discrete_types() {
        let w = [1.0, 2.5, -3.0, 4.0, 5.0, 6.0];
        let text = render(
            "w.json",
            &[
                ("W", &real(&[2, 3]), &w),
                ("b", &real(&[2]), &[0.1, 0.2]),
                ("c", &real(&[]), &[7.0]),
                ("y", &Ty::Class(4), &[3.0]),
                ("s", &Ty::sign(), &[-1.0]),
                ("T", &real(&[2, 1, 2]), &[1.0, 2.0, 3.0, 4.0]),
            ],
        )
        .unwrap();
        let expected = r#"{
  "W": [
    [1.0, 2.5, -3.0],
    [4.0, 5.0, 6.0]
  ],
  "b": [0.1, 0.2],
  "c": 7.0,
  "y": 3,
  "s": -1,
  "T": [
    [
      [1.0, 2.0]
    ],
    [
      [3.0, 4.0]
    ]
  ]
}
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn render_refuses_values_the_type_cannot_hold() {
        let e = render("w.json", &[("b", &real(&[3]), &[0.0, f64::NAN, 1.0])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.json: cannot write \"b\": element 1 is NaN, which is not a real[3] value"
        );
        let e = render("w.json", &[("y", &Ty::Class(2), &[2.0])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.json: cannot write \"y\": element 0 is 2, which is not a class[2] value"
        );
    }

    #[test]
    fn write_then_read_round_trips_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let w: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin() / 3.0).collect();
        let v = vars();
        let values: Vec<Vec<f64>> = vec![
            w,
            vec![0.1, 1e-300, -7.25],
            vec![std::f64::consts::PI],
            vec![1.0],
            vec![1.0],
        ];
        let entries: Vec<(&str, &Ty, &[f64])> = v
            .iter()
            .zip(&values)
            .map(|((n, t), x)| (*n, t, x.as_slice()))
            .collect();
        write(&path, &entries).unwrap();
        let expected: Vec<(&str, &Ty)> = v.iter().map(|(n, t)| (*n, t)).collect();
        let back = read(&path, &expected).unwrap();
        for (a, b) in values.iter().zip(&back) {
            let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b));
        }
    }
}
