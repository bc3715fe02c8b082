//! Consts bound from the data: `const D = features` (the width of the model's input),
//! `targets` (the width of its output) and `classes` (one more than the largest label of its
//! output), read from the model's `data` clause before the model is checked, so that one
//! source serves data of any width.
//!
//! This works on the syntax tree, as the checker needs the values: a binding's columns
//! (`x = 0..63`, or header names) give a width, reading only the header when they are names;
//! `classes` reads the label column. Whatever cannot be read is a reason, which the driver
//! puts on the checker's diagnostic for the unbound const.

use crate::check::DATA_WIDTHS;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::{self, ColumnKind, DeclKind, Role};
use std::path::Path;

/// One const of a model bound to the data: its name, the span of its value, and the value
/// read from the data or why it could not be.
#[derive(Clone, Debug, PartialEq)]
pub struct DataConst {
    pub name: String,
    pub span: Span,
    pub value: Result<u64, String>,
}

/// The consts of `model` written `const NAME = features|targets|classes`, where that name is
/// not declared by the model itself.
pub fn data_bound(model: &ast::Model) -> Vec<(&ast::Ident, &ast::Expr, &'static str)> {
    let declared = |n: &str| {
        model.decls.iter().any(|d| match &d.kind {
            DeclKind::Const { name, .. }
            | DeclKind::Var { name, .. }
            | DeclKind::Fn { name, .. }
            | DeclKind::Let { name, .. } => name.name == n,
            DeclKind::Energy { name, .. } => name.as_ref().is_some_and(|i| i.name == n),
            _ => false,
        })
    };
    model
        .decls
        .iter()
        .filter_map(|d| match &d.kind {
            DeclKind::Const { name, value } => match &value.kind {
                ast::ExprKind::Name(n) if !declared(n) => DATA_WIDTHS
                    .iter()
                    .find(|w| **w == n.as_str())
                    .map(|w| (name, value, *w)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The values of the data-bound consts of `model` from its `data` clause, the file read
/// relative to `base_dir`. Empty when the model has no such const or no `data` clause (the
/// checker then says nothing bound them).
pub fn bind(model: &ast::Model, base_dir: &Path) -> Vec<DataConst> {
    let consts = data_bound(model);
    let Some(data) = model.decls.iter().find_map(|d| match &d.kind {
        DeclKind::Data(data) => Some(data),
        _ => None,
    }) else {
        return Vec::new();
    };
    let mut file = DataFile {
        path: base_dir.join(&data.path),
        shown: data.path.clone(),
        header: None,
    };
    consts
        .into_iter()
        .map(|(name, value, width)| DataConst {
            name: name.name.clone(),
            span: value.span,
            value: value_of(model, data, width, &mut file),
        })
        .collect()
}

/// The data file, its header read once when a binding names columns.
struct DataFile {
    path: std::path::PathBuf,
    shown: String,
    header: Option<Vec<String>>,
}

impl DataFile {
    fn reader(&self) -> Result<csv::Reader<std::fs::File>, String> {
        let f = std::fs::File::open(&self.path).map_err(|e| {
            format!(
                "cannot read the data file {}: {}",
                self.shown,
                super::weights::io_message(&e)
            )
        })?;
        Ok(csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(f))
    }

    fn header(&mut self) -> Result<&[String], String> {
        if self.header.is_none() {
            let mut record = csv::StringRecord::new();
            let mut reader = self.reader()?;
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => return Err(format!("the data file {} is empty", self.shown)),
                Err(e) => return Err(format!("the data file {}: {e}", self.shown)),
            }
            let names = record
                .iter()
                .map(|c| c.trim_start_matches('\u{feff}').to_string())
                .collect();
            self.header = Some(names);
        }
        Ok(self.header.as_deref().unwrap_or_default())
    }

    /// The 0-based index of a column.
    fn index(&mut self, column: &ast::Column) -> Result<usize, String> {
        match &column.kind {
            ColumnKind::Index(i) => Ok(*i),
            ColumnKind::Name(n) => {
                let shown = self.shown.clone();
                self.header()?
                    .iter()
                    .position(|h| h == n)
                    .ok_or_else(|| format!("the data file {shown} has no column \"{n}\""))
            }
        }
    }
}

/// The value of one data width of `model`: from the binding of its one input (`features`)
/// or its one output (`targets`, `classes`).
fn value_of(
    model: &ast::Model,
    data: &ast::Data,
    width: &str,
    file: &mut DataFile,
) -> Result<u64, String> {
    let role = if width == "features" {
        Role::Input
    } else {
        Role::Output
    };
    let vars: Vec<&str> = model
        .decls
        .iter()
        .filter_map(|d| match &d.kind {
            DeclKind::Var { role: r, name, .. } if *r == role => Some(name.name.as_str()),
            _ => None,
        })
        .collect();
    let kind = role.keyword();
    let var = match vars.as_slice() {
        [one] => *one,
        [] => return Err(format!("`{width}` is a width of the {kind}, and the model has no {kind}")),
        many => {
            return Err(format!(
                "`{width}` is a width of the {kind}, and the model has {} ({}): bind the const from outside",
                many.len(),
                many.join(", ")
            ))
        }
    };
    let binding = data
        .bindings
        .iter()
        .find(|b| b.var.name == var)
        .ok_or_else(|| format!("the `data` clause binds no columns to the {kind} `{var}`"))?;
    let first = file.index(&binding.first)?;
    let last = match &binding.last {
        Some(c) => file.index(c)?,
        None => first,
    };
    if last < first {
        return Err(format!(
            "the columns of `{var}` run backwards ({first}..{last})"
        ));
    }
    if width != "classes" {
        return Ok((last - first + 1) as u64);
    }
    if last != first {
        return Err(format!(
            "`classes` counts the labels of one column, and `{var}` is bound to {} columns",
            last - first + 1
        ));
    }
    largest_label(file, first).map(|k| k + 1)
}

/// The largest label of column `index` (whole numbers from 0), the header skipped.
fn largest_label(file: &mut DataFile, index: usize) -> Result<u64, String> {
    let mut reader = file.reader()?;
    let mut record = csv::ByteRecord::new();
    let mut largest: Option<u64> = None;
    let mut line = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(format!("the data file {}: {e}", file.shown)),
        }
        line += 1;
        if line == 1 || record.iter().all(|c| c.is_empty()) {
            continue;
        }
        let Some(cell) = record.get(index) else {
            continue;
        };
        let text = String::from_utf8_lossy(cell);
        let label = text
            .parse::<f64>()
            .ok()
            .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 2f64.powi(31))
            .ok_or_else(|| {
                format!(
                    "{}: row {line}: a class label is a whole number from 0, found \"{text}\"",
                    file.shown
                )
            })?;
        largest = Some(largest.map_or(label as u64, |l: u64| l.max(label as u64)));
    }
    largest.ok_or_else(|| {
        format!(
            "the data file {} has no rows to count classes in",
            file.shown
        )
    })
}

/// Binds the data-bound consts of `model` that can be read ([`bind`]), in place of their
/// expressions (spans kept); returns, for the others, the span of the value and why not.
pub fn bind_into(model: &mut ast::Model, base_dir: &Path) -> Vec<(Span, String)> {
    let mut reasons = Vec::new();
    for bound in bind(model, base_dir) {
        match bound.value {
            Ok(v) => set_const(model, &bound.name, v),
            Err(why) => reasons.push((bound.span, why)),
        }
    }
    reasons
}

/// Gives `const name` of `model` the value `v` in place of its expression, keeping its span.
pub fn set_const(model: &mut ast::Model, name: &str, v: u64) {
    for decl in &mut model.decls {
        if let DeclKind::Const { name: n, value } = &mut decl.kind {
            if n.name == name {
                value.kind = ast::ExprKind::Number(v as f64, Some(v));
            }
        }
    }
}

/// Puts the reasons of [`bind_into`] on the checker's diagnostics for the consts left unbound.
pub fn explain(diagnostics: &mut [Diagnostic], reasons: &[(Span, String)]) {
    for d in diagnostics {
        let why = reasons.iter().find(|(s, _)| *s == d.primary.span);
        if let (Some((_, why)), Code::UnboundDataConst) = (why, d.code) {
            d.primary.message = why.clone();
        }
    }
}
