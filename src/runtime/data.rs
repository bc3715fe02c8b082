//! Data sets: the CSV file of a `data` declaration, checked cell by cell, split and
//! standardized (spec section 9).
//!
//! [`load`] reads the file, binds columns to variables, and returns a [`Loaded`]: training and
//! test [`Dataset`]s and the statistics of every standardized variable. A dataset holds, per
//! bound variable, one contiguous row-major matrix (rows × elements), so that a minibatch is a
//! gather of row slices ([`Dataset::select`]) and a whole-set evaluation is one slice.
//!
//! What a file must be, and what is reported otherwise (nothing is skipped or repaired). Every
//! error names the file and the 1-based line as an editor shows it; a cell's column is named
//! by its 0-based index — the number a binding writes (`x = 2`, `x = 0..3`) — and its header
//! name, as `column index 2 ("petal_len")`: lines count as editors count them, columns as
//! bindings do, and the word "index" says which. Every malformed cell and row of the file is
//! reported, not only the first: one is an error of its own; several are listed one per line
//! in the order of the file, the first [`SHOWN`] of them, with a count of the rest. Errors about
//! the file as a whole (missing, empty, a binding the header cannot satisfy) stop at once.
//! * a header line naming the columns, then at least one row; a UTF-8 byte-order mark is
//!   allowed, cells are trimmed, quoting is CSV's; empty lines at the very end are allowed,
//!   anywhere else they are errors (a blank line in the middle usually means a broken export);
//! * every row has exactly as many cells as the header;
//! * a binding names columns by header name (which must be unique in the header), by 0-based
//!   index, or as an inclusive range `first..last` of either; a `real[…]` variable takes
//!   exactly as many columns as it has elements (row-major), `real`, `class[k]` and `sign` one;
//! * only bound cells are read, and they must be finite numbers; a `class[k]` cell is an
//!   integer in `0..k` (`2.0` is accepted as 2); a `sign` cell is −1/+1 or 0/1 (0 is read as
//!   −1), and one column may not mix the two conventions.
//!
//! Splitting (`split f`): the row indices are shuffled by [`Rng::new`]`(seed)` — a generator of
//! its own, so the split does not depend on how many weights the model draws — and the first
//! ⌊f·N⌋ go to training, the rest to testing. The product is taken with a tolerance of 1e-9 so
//! that `split 0.29` of 100 rows gives the 29 a person expects although 0.29·100 is
//! 28.999… in binary. A split that leaves no training row is an error; one that leaves no test
//! row (`split 1`) gives an empty test set. Each side keeps the file's order (the shuffle
//! decides membership only): training shuffles its own minibatches, and predictions for the
//! test set then read in the order of the file. Without `split`, both sets are every row.
//!
//! Standardizing (`standardize v`): each element of `v` is z-scored with the mean and the
//! population standard deviation (as scikit-learn's `StandardScaler`) of the training rows,
//! and the test rows get the same map. A column whose training values are all equal is centred
//! but not scaled (its deviation is zero, and dividing would make NaNs or blow up rounding
//! noise). The [`Standardization`] is kept so that predictions of a standardized output are
//! mapped back to the data's units ([`Standardization::restore`]).

use crate::check::{Column, Data, Var, VarId};
use crate::rng::Rng;
use crate::types::Ty;
use std::fmt;
use std::path::{Path, PathBuf};

/// A column of the file: its 0-based position and its header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnRef {
    pub index: usize,
    pub name: String,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column index {} ({})", self.index, quote(&self.name))
    }
}

/// A data file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct DataError {
    /// The file as the `data` declaration names it.
    pub file: String,
    /// 1-based line; `None` when the problem is not on one line (a missing file, a split).
    pub line: Option<usize>,
    /// Boxed: errors are rare, and a small `Result` keeps the per-cell path lean.
    pub kind: Box<DataErrorKind>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DataErrorKind {
    /// The file cannot be read.
    Io(String),
    /// The CSV reader gave up.
    Csv(String),
    /// Not even a header line.
    Empty,
    /// A header and nothing else.
    HeaderOnly,
    /// An empty line before more rows.
    EmptyLine {
        expected: usize,
    },
    ShortRow {
        expected: usize,
        found: usize,
    },
    LongRow {
        expected: usize,
        found: usize,
    },
    /// A binding names a column the header does not have.
    UnknownColumn {
        var: String,
        name: String,
        suggestion: Option<String>,
    },
    /// A binding names a column that the header has more than once.
    AmbiguousColumn {
        var: String,
        name: String,
        first: usize,
        second: usize,
    },
    ColumnOutOfRange {
        var: String,
        index: usize,
        columns: usize,
    },
    BackwardsRange {
        var: String,
        first: ColumnRef,
        last: ColumnRef,
    },
    /// A binding's columns do not match the variable's number of elements.
    WrongWidth {
        var: String,
        ty: Ty,
        first: ColumnRef,
        last: ColumnRef,
    },
    BoundTwice {
        var: String,
    },
    /// `standardize` names a variable no column is bound to.
    StandardizeUnbound {
        var: String,
    },
    /// `standardize` names a `class` or `sign` variable.
    StandardizeDiscrete {
        var: String,
        ty: Ty,
    },
    /// A z-score that no `f64` holds: a value astronomically far from the training mean,
    /// in units of the training deviation (element `element` of `var`).
    StandardizeOverflow {
        var: String,
        element: usize,
    },
    NotANumber {
        column: ColumnRef,
        found: String,
    },
    NotFinite {
        column: ColumnRef,
        found: String,
    },
    NotAnInteger {
        column: ColumnRef,
        var: String,
        k: usize,
        found: String,
    },
    ClassOutOfRange {
        column: ColumnRef,
        var: String,
        k: usize,
        found: String,
    },
    NotASign {
        column: ColumnRef,
        var: String,
        found: String,
    },
    /// A sign column that uses both 0 and −1.
    MixedSigns {
        column: ColumnRef,
        found: String,
        other: String,
        other_line: usize,
    },
    NoTrainingRows {
        split: f64,
        rows: usize,
    },
    /// More than one malformed cell or row: the first [`SHOWN`] in the order of the file, each
    /// with its line and as it would be reported alone, and how many there are in all.
    Malformed {
        first: Vec<(usize, DataErrorKind)>,
        total: usize,
    },
}

/// How many malformed cells and rows an error lists; the rest are counted. A file exported
/// with the wrong separator has a bad cell on every line, and a screenful says as much as a
/// million lines would.
pub const SHOWN: usize = 20;

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataErrorKind::*;
        match self.line {
            Some(line) => write!(f, "{}:{line}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        let class_range = |k: &usize| format!("an integer from 0 to {}", k.saturating_sub(1));
        match &*self.kind {
            Io(e) => write!(f, "cannot read the data file: {e}"),
            Csv(e) => write!(f, "not a CSV file: {e}"),
            Empty => f.write_str("the file is empty: expected a header line naming the columns"),
            HeaderOnly => f.write_str("the file has a header line but no rows of data"),
            EmptyLine { expected } => write!(f, "empty line: expected {expected} cells as in the header"),
            ShortRow { expected, found } | LongRow { expected, found } => {
                write!(f, "expected {expected} cells as in the header, found {found}")
            }
            UnknownColumn { var, name, suggestion: Some(s) } => {
                write!(f, "no column named \"{name}\" (bound to {var}); did you mean \"{s}\"?")
            }
            UnknownColumn { var, name, suggestion: None } => {
                write!(f, "no column named \"{name}\" (bound to {var}) in the header")
            }
            AmbiguousColumn { var, name, first, second } => write!(
                f,
                "column name \"{name}\" (bound to {var}) is ambiguous: column indices {first} and {second} are both called that; use an index"
            ),
            ColumnOutOfRange { var, index, columns } => write!(
                f,
                "column index {index} (bound to {var}) is out of range: the header has {columns} columns, indices 0 to {}",
                columns.saturating_sub(1)
            ),
            BackwardsRange { var, first, last } => {
                write!(f, "the columns bound to {var} run backwards: from {first} to {last}")
            }
            WrongWidth { var, ty, first, last } => {
                let columns = |n: usize| match n {
                    1 => "1 column".to_string(),
                    n => format!("{n} columns"),
                };
                let (needs, found) = (columns(ty.elements()), columns(last.index + 1 - first.index));
                write!(f, "{var} : {ty} needs {needs}, found {found}: {first}")?;
                if first != last {
                    write!(f, " to {last}")?;
                }
                Ok(())
            }
            BoundTwice { var } => write!(f, "{var} is bound to columns twice"),
            StandardizeUnbound { var } => write!(f, "standardize names {var}, but no column is bound to it"),
            StandardizeDiscrete { var, ty } => {
                write!(f, "standardize names {var} : {ty}; only real variables can be standardized")
            }
            StandardizeOverflow { var, element } => write!(
                f,
                "standardize {var}: element {element} has a value too far from the training mean, in training deviations, for a number to hold (its z-score overflows); rescale that column or leave {var} unstandardized"
            ),
            NotANumber { column, found } => write!(f, "{column}: expected a number, found {found}"),
            NotFinite { column, found } => write!(f, "{column}: expected a finite number, found {found}"),
            NotAnInteger { column, var, k, found } | ClassOutOfRange { column, var, k, found } => write!(
                f,
                "{column}: expected a class label for {var} : class[{k}] ({}), found {found}",
                class_range(k)
            ),
            NotASign { column, var, found } => {
                write!(f, "{column}: expected a sign label for {var} (-1 or 1, or 0 or 1), found {found}")
            }
            MixedSigns { column, found, other, other_line } => write!(
                f,
                "{column}: found {found} but line {other_line} has {other}: a sign column uses either -1/1 or 0/1"
            ),
            NoTrainingRows { split, rows } => write!(f, "split {split} keeps no training rows out of {rows}"),
            Malformed { first, total } => {
                // One line per cell, each starting `FILE:LINE:` as a compiler's would, so that
                // editors and `grep` find them.
                write!(f, "{total} malformed cells or rows")?;
                if first.len() < *total {
                    write!(f, "; the first {}", first.len())?;
                }
                f.write_str(":")?;
                for (line, kind) in first {
                    let one = DataError {
                        file: self.file.clone(),
                        line: Some(*line),
                        kind: Box::new(kind.clone()),
                    };
                    write!(f, "\n{one}")?;
                }
                if first.len() < *total {
                    write!(f, "\n{}: and {} more malformed cells or rows", self.file, total - first.len())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DataError {}

/// One bound variable's values for every row of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct VarData {
    pub var: VarId,
    pub name: String,
    pub ty: Ty,
    /// Elements per row: `ty.elements()`.
    pub width: usize,
    /// rows × width, row-major. Class values are indices, sign values ±1.
    pub values: Vec<f64>,
    /// The source columns, one per element.
    pub columns: Vec<ColumnRef>,
}

impl VarData {
    /// The elements of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// Rows of a data file, one matrix per bound variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The 1-based line of each row in the file, so that a prediction can name its row.
    pub lines: Vec<usize>,
    /// In the order of the `data` bindings.
    pub vars: Vec<VarData>,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    /// The values of a bound variable.
    pub fn var(&self, id: VarId) -> Option<&VarData> {
        self.vars.iter().find(|v| v.var == id)
    }
    /// The dataset of the given rows, in that order.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let vars = self
            .vars
            .iter()
            .map(|v| {
                let mut values = Vec::new();
                for &r in rows {
                    values.extend_from_slice(v.row(r));
                }
                VarData {
                    values,
                    ..v.clone_header()
                }
            })
            .collect();
        Dataset {
            lines: rows.iter().map(|&r| self.lines[r]).collect(),
            vars,
        }
    }
}

impl VarData {
    fn clone_header(&self) -> VarData {
        VarData {
            var: self.var,
            name: self.name.clone(),
            ty: self.ty.clone(),
            width: self.width,
            values: Vec::new(),
            columns: self.columns.clone(),
        }
    }
}

/// The z-score map of one standardized variable, per element.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardization {
    pub var: VarId,
    pub mean: Vec<f64>,
    /// The training standard deviation, or 1 for a column whose training values are all equal.
    pub scale: Vec<f64>,
}

impl Standardization {
    /// Maps data units to z-scores, in place; `values` is rows × width. `Err` names the
    /// element (within a row) of a value whose z-score no `f64` holds; a difference that
    /// only overflows on the way (`1e308 − (−1e308)`) is taken in two parts instead.
    pub fn apply(&self, values: &mut [f64]) -> Result<(), usize> {
        let w = self.mean.len();
        for (i, x) in values.iter_mut().enumerate() {
            let (m, s) = (self.mean[i % w], self.scale[i % w]);
            let mut z = (*x - m) / s;
            if !z.is_finite() {
                z = *x / s - m / s;
            }
            if !z.is_finite() {
                return Err(i % w);
            }
            *x = z;
        }
        Ok(())
    }
    /// Maps z-scores back to data units, in place; `values` is rows × width.
    pub fn restore(&self, values: &mut [f64]) {
        let w = self.mean.len();
        for (i, x) in values.iter_mut().enumerate() {
            *x = *x * self.scale[i % w] + self.mean[i % w];
        }
    }
}

/// A loaded `data` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The file read (the declaration's path joined to the model's directory).
    pub path: PathBuf,
    pub train: Dataset,
    /// Every row when the declaration has neither `split` nor `test`; possibly empty after
    /// `split 1`; the `test` file's rows when it names one.
    pub test: Dataset,
    /// One per standardized variable, in the order of the declaration.
    pub standardized: Vec<Standardization>,
}

impl Loaded {
    /// The rows a model is shown on: the test rows, or the training rows when the split
    /// leaves no test rows (`split 1`).
    pub fn test_or_train(&self) -> &Dataset {
        if self.test.is_empty() {
            &self.train
        } else {
            &self.test
        }
    }

    pub fn standardization(&self, id: VarId) -> Option<&Standardization> {
        self.standardized.iter().find(|s| s.var == id)
    }
}

/// Reads the file of `data` (its path relative to `base_dir`, the `.ebm` file's directory),
/// binds it to `vars` (the model's variables, indexed by [`VarId`]), splits it with `seed` and
/// standardizes it. With `test "file.csv"`, every row of the first file trains and the test
/// rows are the second file's, read with the same bindings (its errors name it); the
/// standardization statistics are the training rows' as always.
pub fn load(data: &Data, vars: &[Var], base_dir: &Path, seed: u64) -> Result<Loaded, DataError> {
    let read = |file: &str| {
        std::fs::read(base_dir.join(file)).map_err(|e| DataError {
            file: file.to_string(),
            line: None,
            kind: Box::new(DataErrorKind::Io(super::weights::io_message(&e))),
        })
    };
    let bytes = read(&data.path)?;
    let mut loaded = match &data.test {
        None => from_bytes(&bytes, data, vars, seed)?,
        Some(test) => {
            let train = parse(&bytes, data, vars)?;
            let test_decl = Data {
                path: test.clone(),
                ..data.clone()
            };
            let test = parse(&read(test)?, &test_decl, vars)?;
            standardize(data, vars, train, test)?
        }
    };
    loaded.path = base_dir.join(&data.path);
    Ok(loaded)
}

/// [`load`] on the bytes of the file; errors name `data.path`.
pub fn from_bytes(bytes: &[u8], data: &Data, vars: &[Var], seed: u64) -> Result<Loaded, DataError> {
    let all = parse(bytes, data, vars)?;
    from_rows(all, data, vars, seed)
}

/// [`from_bytes`] after the file is read: rows already bound to their variables (the Python
/// package's `fit(x=…, y=…)` makes them from arrays) are split with `seed` and standardized
/// as `data` declares. Errors name `data.path`.
pub fn from_rows(all: Dataset, data: &Data, vars: &[Var], seed: u64) -> Result<Loaded, DataError> {
    let n = all.rows();
    let (train, test) = match data.split {
        None => (all.clone(), all),
        Some(f) => {
            let n_train = ((f * n as f64) + 1e-9).floor().min(n as f64) as usize;
            if n_train == 0 {
                return Err(DataError {
                    file: data.path.clone(),
                    line: None,
                    kind: Box::new(DataErrorKind::NoTrainingRows { split: f, rows: n }),
                });
            }
            let mut order: Vec<usize> = (0..n).collect();
            Rng::new(seed).shuffle(&mut order);
            let (mut tr, mut te) = (order[..n_train].to_vec(), order[n_train..].to_vec());
            tr.sort_unstable();
            te.sort_unstable();
            (all.select(&tr), all.select(&te))
        }
    };
    standardize(data, vars, train, test)
}

/// Computes the training statistics of every standardized variable and applies them.
fn standardize(
    data: &Data,
    vars: &[Var],
    mut train: Dataset,
    mut test: Dataset,
) -> Result<Loaded, DataError> {
    let mut standardized = Vec::new();
    for &id in &data.standardize {
        let var = &vars[id.0 as usize];
        let err = |kind| DataError {
            file: data.path.clone(),
            line: None,
            kind: Box::new(kind),
        };
        let Some(pos) = train.vars.iter().position(|v| v.var == id) else {
            return Err(err(DataErrorKind::StandardizeUnbound {
                var: var.name.clone(),
            }));
        };
        if var.ty.is_discrete() {
            return Err(err(DataErrorKind::StandardizeDiscrete {
                var: var.name.clone(),
                ty: var.ty.clone(),
            }));
        }
        if standardized.iter().any(|s: &Standardization| s.var == id) {
            continue;
        }
        let v = &train.vars[pos];
        let rows = train.rows() as f64;
        let mut mean = vec![0.0; v.width];
        let mut scale = vec![1.0; v.width];
        for j in 0..v.width {
            let col = || (0..train.rows()).map(|i| v.values[i * v.width + j]);
            // Values near the largest f64 overflow a plain sum or square: then the same
            // statistics are taken in units of the column's largest magnitude (the plain
            // form first, so ordinary data keeps its exact bits).
            let big = col().fold(0.0, |a: f64, x| a.max(x.abs()));
            mean[j] = col().sum::<f64>() / rows;
            if !mean[j].is_finite() {
                mean[j] = col().map(|x| x / big).sum::<f64>() / rows * big;
            }
            let (lo, hi) = col().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
            if lo < hi {
                scale[j] = (col().map(|x| (x - mean[j]).powi(2)).sum::<f64>() / rows).sqrt();
                if !scale[j].is_finite() {
                    let m = mean[j] / big;
                    let var = col().map(|x| (x / big - m).powi(2)).sum::<f64>() / rows;
                    scale[j] = var.sqrt() * big;
                }
            }
        }
        let s = Standardization {
            var: id,
            mean,
            scale,
        };
        for set in [&mut train, &mut test] {
            s.apply(&mut set.vars[pos].values).map_err(|element| {
                err(DataErrorKind::StandardizeOverflow {
                    var: var.name.clone(),
                    element,
                })
            })?;
        }
        standardized.push(s);
    }
    Ok(Loaded {
        path: PathBuf::from(&data.path),
        train,
        test,
        standardized,
    })
}

/// How one bound variable reads its cells.
struct Binding {
    columns: Vec<ColumnRef>,
    /// For sign columns: the convention seen first (`true` for 0/1) with its line and text.
    sign_seen: Vec<Option<(bool, usize, String)>>,
}

/// The malformed cells and rows of a file, as the rows are read: the first [`SHOWN`] kept,
/// every one counted.
#[derive(Default)]
struct Malformed {
    first: Vec<(usize, DataErrorKind)>,
    total: usize,
}

impl Malformed {
    /// Out of line and cold: the per-cell loop only pays for a branch.
    #[cold]
    #[inline(never)]
    fn push(&mut self, line: usize, kind: DataErrorKind) {
        self.total += 1;
        if self.first.len() < SHOWN {
            self.first.push((line, kind));
        }
    }

    /// One malformed cell or row is reported as itself; several as a list.
    fn into_error(mut self, file: &str) -> Option<DataError> {
        let (line, kind) = match self.total {
            0 => return None,
            1 => {
                let (line, kind) = self.first.pop()?;
                (Some(line), kind)
            }
            total => (
                None,
                DataErrorKind::Malformed {
                    first: self.first,
                    total,
                },
            ),
        };
        Some(DataError {
            file: file.to_string(),
            line,
            kind: Box::new(kind),
        })
    }
}

/// Every row of the file, unsplit and unscaled.
fn parse(bytes: &[u8], data: &Data, vars: &[Var]) -> Result<Dataset, DataError> {
    let file = data.path.as_str();
    let err = |line: Option<usize>, kind| DataError {
        file: file.to_string(),
        line,
        kind: Box::new(kind),
    };
    // Spreadsheets like to start UTF-8 files with a byte-order mark; it is not part of a name.
    let src = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(src);
    let mut record = csv::ByteRecord::new();
    let mut read = |record: &mut csv::ByteRecord| -> Result<bool, DataError> {
        reader.read_byte_record(record).map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            err(line, DataErrorKind::Csv(e.to_string()))
        })
    };

    let mut lines = Lines::new(src);
    if !read(&mut record)? || is_blank(&record) {
        return Err(err(None, DataErrorKind::Empty));
    }
    // The header must be the first line: empty lines before it are reported, not skipped.
    if let (_, 1..) = lines.locate(record.position().map_or(0, |p| p.byte() as usize)) {
        let expected = record.len();
        return Err(err(Some(1), DataErrorKind::EmptyLine { expected }));
    }
    let header: Vec<String> = record
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let width = header.len();
    let column = |index: usize| ColumnRef {
        index,
        name: header[index].clone(),
    };

    // Resolve the bindings against the header.
    let mut out = Dataset {
        lines: Vec::new(),
        vars: Vec::new(),
    };
    let mut bindings = Vec::new();
    for b in &data.bindings {
        let var = &vars[b.var.0 as usize];
        let name = var.name.clone();
        let at_header = |kind| err(Some(1), kind);
        if out.vars.iter().any(|v: &VarData| v.var == b.var) {
            return Err(at_header(DataErrorKind::BoundTwice { var: name }));
        }
        let resolve = |c: &Column| -> Result<usize, DataError> {
            match c {
                Column::Index(i) if *i < width => Ok(*i),
                Column::Index(i) => Err(at_header(DataErrorKind::ColumnOutOfRange {
                    var: name.clone(),
                    index: *i,
                    columns: width,
                })),
                Column::Name(n) => {
                    let mut hits = header
                        .iter()
                        .enumerate()
                        .filter(|(_, h)| *h == n)
                        .map(|(i, _)| i);
                    match (hits.next(), hits.next()) {
                        (Some(i), None) => Ok(i),
                        (Some(first), Some(second)) => {
                            Err(at_header(DataErrorKind::AmbiguousColumn {
                                var: name.clone(),
                                name: n.clone(),
                                first,
                                second,
                            }))
                        }
                        (None, _) => Err(at_header(DataErrorKind::UnknownColumn {
                            var: name.clone(),
                            name: n.clone(),
                            suggestion: suggest(n, &header),
                        })),
                    }
                }
            }
        };
        let first = resolve(&b.first)?;
        let last = match &b.last {
            Some(c) => resolve(c)?,
            None => first,
        };
        if last < first {
            return Err(at_header(DataErrorKind::BackwardsRange {
                var: name,
                first: column(first),
                last: column(last),
            }));
        }
        if last + 1 - first != var.ty.elements() {
            return Err(at_header(DataErrorKind::WrongWidth {
                var: name,
                ty: var.ty.clone(),
                first: column(first),
                last: column(last),
            }));
        }
        let columns: Vec<ColumnRef> = (first..=last).map(column).collect();
        bindings.push(Binding {
            sign_seen: vec![None; columns.len()],
            columns: columns.clone(),
        });
        out.vars.push(VarData {
            var: b.var,
            name,
            ty: var.ty.clone(),
            width: var.ty.elements(),
            values: Vec::new(),
            columns,
        });
    }

    // The rows. An empty line is only an error when a row follows it. A malformed cell or
    // row is noted and reading goes on, so that one run reports all of them; a row of the
    // wrong length is not read further, as its cells cannot be told apart.
    let mut malformed = Malformed::default();
    let mut pending_empty: Option<usize> = None;
    while read(&mut record)? {
        let pos = record.position().expect("the reader records positions");
        let (line, skipped) = lines.locate(pos.byte() as usize);
        if let Some(l) = pending_empty.or((skipped > 0).then(|| line - skipped)) {
            if !is_blank(&record) || width == 1 {
                malformed.push(l, DataErrorKind::EmptyLine { expected: width });
                pending_empty = None;
            }
        }
        // A line of spaces reads as one empty cell; with one column that is an empty cell.
        if is_blank(&record) && width > 1 {
            pending_empty = pending_empty.or(Some(line));
            continue;
        }
        if record.len() != width {
            let (expected, found) = (width, record.len());
            let kind = if found < width {
                DataErrorKind::ShortRow { expected, found }
            } else {
                DataErrorKind::LongRow { expected, found }
            };
            malformed.push(line, kind);
            continue;
        }
        for (b, v) in bindings.iter_mut().zip(&mut out.vars) {
            for (j, c) in b.columns.iter().enumerate() {
                match cell(&record[c.index], c, v, line, &mut b.sign_seen[j]) {
                    Ok(x) => v.values.push(x),
                    // The value is never used: the file is refused at the end.
                    Err(k) => {
                        malformed.push(line, k);
                        v.values.push(f64::NAN);
                    }
                }
            }
        }
        out.lines.push(line);
    }
    if let Some(e) = malformed.into_error(file) {
        return Err(e);
    }
    if out.lines.is_empty() {
        return Err(err(Some(1), DataErrorKind::HeaderOnly));
    }
    Ok(out)
}

/// A record that is one empty cell: what the reader makes of a line of spaces.
fn is_blank(r: &csv::ByteRecord) -> bool {
    r.is_empty() || (r.len() == 1 && r[0].is_empty())
}

/// Line numbers as an editor shows them. The reader's own record positions are taken before
/// it skips empty lines and before the `\n` of a CRLF ending, so its line numbers drift on
/// CRLF files and empty lines pass unseen; this recounts from byte offsets instead, counting
/// `\n`, `\r\n` and a lone `\r` as one line ending each (quoted line breaks included).
struct Lines<'a> {
    src: &'a [u8],
    /// A record start already located, and its line.
    offset: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(src: &'a [u8]) -> Lines<'a> {
        Lines {
            src,
            offset: 0,
            line: 1,
        }
    }

    /// For a record the reader placed at byte `pos`: the line where its first cell really
    /// starts, and how many empty lines come just before that line.
    fn locate(&mut self, pos: usize) -> (usize, usize) {
        let src = self.src;
        let is_end = |b: &u8| matches!(b, b'\r' | b'\n');
        let start = pos + src[pos..].iter().take_while(|b| is_end(b)).count();
        self.line += endings(&src[self.offset..start]);
        self.offset = start;
        // The line endings right before the record: the first closes the line before (unless
        // the file starts here); every other one closes an empty line.
        let run_start = src[..start]
            .iter()
            .rposition(|b| !is_end(b))
            .map_or(0, |i| i + 1);
        let run = endings(&src[run_start..start]);
        let empty = if run_start == 0 {
            run
        } else {
            run.saturating_sub(1)
        };
        (self.line, empty)
    }
}

/// Line endings in `bytes`, which never splits a `\r\n`.
fn endings(bytes: &[u8]) -> usize {
    let lf = bytes.iter().filter(|&&b| b == b'\n').count();
    // Counted over every record of a file: the common case, no `\r`, in one vectorised pass.
    if !bytes.contains(&b'\r') {
        return lf;
    }
    let lone_cr = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
        .count();
    lf + lone_cr
}

/// The value of a cell that is an ordinary decimal number (only digits, signs, a point and
/// an exponent), by the fast parser; `None` for anything else, which [`cell`] reads with
/// `str::parse` (the same value where both accept: both round correctly).
fn plain_number(bytes: &[u8]) -> Option<f64> {
    let plain = |b: &u8| matches!(b, b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E');
    if bytes.is_empty() || !bytes.iter().all(plain) {
        return None;
    }
    fast_float2::parse::<f64, _>(bytes).ok()
}

/// The value of one cell for variable `v`.
fn cell(
    bytes: &[u8],
    column: &ColumnRef,
    v: &VarData,
    line: usize,
    sign_seen: &mut Option<(bool, usize, String)>,
) -> Result<f64, DataErrorKind> {
    // The common case: a finite real number, parsed straight from the bytes.
    if let (Ty::Real(_), Some(x)) = (&v.ty, plain_number(bytes)) {
        if x.is_finite() {
            return Ok(x);
        }
    }
    // Valid UTF-8 (every number) is checked by the fast validator; only a bad cell pays for
    // the lossy copy its message quotes.
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let found = || quote(&text);
    let column = || column.clone();
    if text.is_empty() {
        return Err(DataErrorKind::NotANumber {
            column: column(),
            found: "an empty cell".into(),
        });
    }
    let x: f64 = match text.parse() {
        Ok(x) => x,
        Err(_) => {
            return Err(DataErrorKind::NotANumber {
                column: column(),
                found: found(),
            })
        }
    };
    if !x.is_finite() {
        return Err(DataErrorKind::NotFinite {
            column: column(),
            found: found(),
        });
    }
    match v.ty {
        Ty::Real(_) => Ok(x),
        Ty::Class(k) => {
            let (var, found) = (v.name.clone(), found());
            if x.fract() != 0.0 {
                Err(DataErrorKind::NotAnInteger {
                    column: column(),
                    var,
                    k,
                    found,
                })
            } else if x < 0.0 || x >= k as f64 {
                Err(DataErrorKind::ClassOutOfRange {
                    column: column(),
                    var,
                    k,
                    found,
                })
            } else {
                Ok(x)
            }
        }
        Ty::Sign(_) => {
            let zero_one = match x {
                1.0 => return Ok(1.0),
                0.0 => true,
                -1.0 => false,
                _ => {
                    return Err(DataErrorKind::NotASign {
                        column: column(),
                        var: v.name.clone(),
                        found: found(),
                    })
                }
            };
            match sign_seen {
                Some((z, l, t)) if *z != zero_one => Err(DataErrorKind::MixedSigns {
                    column: column(),
                    found: found(),
                    other: quote(t),
                    other_line: *l,
                }),
                Some(_) => Ok(-1.0),
                None => {
                    *sign_seen = Some((zero_one, line, text.into_owned()));
                    Ok(-1.0)
                }
            }
        }
    }
}

/// A cell's text for a message: quoted, escaped, and cut if long.
fn quote(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{:?}…", cut)
    } else {
        format!("{text:?}")
    }
}

/// The header name closest to a misspelt `name`, if one is close: equal ignoring case, or
/// within an edit distance of a third of its length (at least 1).
fn suggest(name: &str, header: &[String]) -> Option<String> {
    let lower = name.to_lowercase();
    if let Some(h) = header.iter().find(|h| h.to_lowercase() == lower) {
        return Some(h.clone());
    }
    let limit = (name.chars().count() / 3).max(1);
    header
        .iter()
        .map(|h| (edit_distance(&lower, &h.to_lowercase()), h))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h.clone())
}

/// Edit distance over characters where a swap of two neighbours counts as one edit
/// (optimal string alignment), since `lable` for `label` is the commonest typo of all.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast parser gives `str::parse`'s value, bit for bit, on every cell it takes, and
    /// takes no cell that `str::parse` refuses: ordinary numbers written every usual way,
    /// edge cases of the grammar, subnormals and overflow.
    #[test]
    fn plain_numbers_parse_as_str_parse_does() {
        let mut cells: Vec<String> = [
            "0",
            "-0",
            "+0",
            "1.",
            ".5",
            "-.5",
            "+.5e3",
            "1e",
            "1e+",
            "e5",
            ".",
            "-",
            "+-1",
            "1..2",
            "1e5e5",
            "1.5E-7",
            "1e308",
            "1e309",
            "-1e400",
            "4.9e-324",
            "2e-324",
            "1e-400",
            "0000012.500",
            "9007199254740993",
            "179769313486231580793728971405301e276",
            "2.2250738585072011e-308",
            "123456789012345678901234567890",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rng = crate::rng::Rng::new(5);
        for _ in 0..20_000 {
            let x = rng.normal() * 10f64.powi((rng.uniform_in(-30.0, 30.0)) as i32);
            cells.push(format!("{x}"));
            cells.push(format!("{x:e}"));
            cells.push(format!("{x:.6}"));
            cells.push(format!("{:.3E}", x));
        }
        let mut fast = 0;
        for c in &cells {
            let slow = c.parse::<f64>();
            match plain_number(c.as_bytes()) {
                Some(x) => {
                    fast += 1;
                    let y = slow.unwrap_or_else(|_| panic!("`{c}`: fast {x}, str::parse refuses"));
                    assert_eq!(x.to_bits(), y.to_bits(), "`{c}`: {x} vs {y}");
                }
                None => assert!(slow.is_err(), "`{c}`: refused, str::parse reads {slow:?}"),
            }
        }
        assert!(fast > 70_000, "only {fast} cells took the fast path");
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions() {
        assert_eq!(edit_distance("petal_length", "petal_length"), 0);
        assert_eq!(edit_distance("petal_lenght", "petal_length"), 1);
        assert_eq!(edit_distance("lable", "label"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_are_close_or_nothing() {
        let header: Vec<String> = ["sepal_length", "petal_length", "Species"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            suggest("petal_lenght", &header).as_deref(),
            Some("petal_length")
        );
        assert_eq!(suggest("species", &header).as_deref(), Some("Species"));
        assert_eq!(suggest("colour", &header), None);
    }

    #[test]
    fn lines_are_counted_from_bytes_for_lf_crlf_cr_and_empty_lines() {
        // Positions as the reader reports them: after the previous record's first ending byte.
        let src = b"a,b\n1,2\n\n3,4\n";
        let mut l = Lines::new(src);
        assert_eq!(l.locate(0), (1, 0));
        assert_eq!(l.locate(4), (2, 0));
        assert_eq!(l.locate(8), (4, 1));
        let src = b"a,b\r\n1,2\r\n\r\n\r\n3,4\r\n";
        let mut l = Lines::new(src);
        assert_eq!(l.locate(0), (1, 0));
        assert_eq!(l.locate(4), (2, 0));
        assert_eq!(l.locate(9), (5, 2));
        let src = b"\n\na\rb\r\"x\ny\"\rc";
        let mut l = Lines::new(src);
        assert_eq!(l.locate(0), (3, 2));
        assert_eq!(l.locate(3), (4, 0));
        assert_eq!(l.locate(5), (5, 0));
        assert_eq!(l.locate(11), (7, 0));
    }

    #[test]
    fn long_cells_are_cut_in_messages() {
        let long = "x".repeat(100);
        assert_eq!(quote(&long), format!("\"{}\"…", "x".repeat(40)));
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }
}
