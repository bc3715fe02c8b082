//! The **density** figure: `E(y)` over two output coordinates — the landscape of `P(y) ∝
//! exp(−E(y))` — with the data and samples of the model on it (spec section 13).
//!
//! For a model without inputs (a density model) the data are its rows' outputs, training rows
//! filled and test rows hollow; for a conditional model the figure is `P(y | x)` at the inputs
//! `--at` gives (or the first test example's), and shows no data (the rows have other inputs).
//! Samples come from a CSV file with a column per coordinate (`--samples S.csv`, as `ebmc
//! sample --out` writes it: header names such as `y[0]`, values in the data's units).
//!
//! Invariants: the grid is evaluated through the session like every other figure
//! ([`Grid::evaluate`]), so each drawn energy is one the session computes; the other
//! coordinates of the outputs stay at their values of the base point (zero, or `--at`).

use super::grid::{Axis, Grid};
use super::landscape::{given_range, span};
use super::setup::{self, label, Prepared};
use super::{FigureData, PlotError, PlotOptions, MAP_SAMPLES};
use crate::check::{Model, Role, VarId};
use crate::runtime::session::Point;
use crate::runtime::train::load_row;
use crate::types::Ty;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct Density {
    /// Two output coordinates.
    pub grid: Grid,
    /// The data on the two coordinates, in the data's units: training rows, then test rows.
    pub points: Vec<(f64, f64)>,
    pub test_from: usize,
    /// The samples read from `--samples`, in the data's units.
    pub samples: Vec<(f64, f64)>,
}

/// The density figure of `pr`'s model.
pub(crate) fn density(pr: &mut Prepared, opts: &PlotOptions) -> Result<FigureData, PlotError> {
    let model = pr.model;
    let [a, b] = axes(model, opts)?;
    let conditional = model.vars_of(Role::Input).next().is_some();
    let mut base = Point::zeros(model);
    if conditional {
        let at: Vec<(VarId, Vec<f64>)> = opts
            .at
            .iter()
            .map(|s| setup::parse_at(model, s))
            .collect::<Result<_, _>>()?;
        if let Some(loaded) = &pr.data {
            let set = loaded.test_or_train();
            if !set.is_empty() {
                load_row(set, 0, &mut base);
            }
        }
        for (id, mut values) in at {
            pr.standardize_at(id, &mut values)?;
            base.values[id.0 as usize] = values;
        }
        if let Some((_, x)) = model
            .vars_of(Role::Input)
            .find(|(id, v)| base.values[id.0 as usize].len() != v.ty.elements())
        {
            return Err(PlotError(format!(
                "the input `{}` has no value: give it with --at {}=… (a density of a conditional model is drawn at one input)",
                x.name, x.name
            )));
        }
    }
    let (ua, ub) = (pr.unit(a.0, a.1), pr.unit(b.0, b.1));
    let mut points = Vec::new();
    let mut test_from = 0;
    if let (false, Some(loaded)) = (conditional, &pr.data) {
        for (k, set) in [&loaded.train, &loaded.test].into_iter().enumerate() {
            if k == 1 {
                test_from = points.len();
            }
            if let (Some(va), Some(vb)) = (set.var(a.0), set.var(b.0)) {
                for r in 0..set.rows() {
                    let (x, y) = (va.row(r)[a.1], vb.row(r)[b.1]);
                    points.push((x * ua.0 + ua.1, y * ub.0 + ub.1));
                }
            }
        }
    }
    let samples = match &opts.samples {
        Some(path) => read_samples(
            path,
            &[
                column_names(
                    &model.var(a.0).name,
                    &model.var(a.0).ty,
                    a.1,
                    &label(model, a.0, a.1),
                ),
                column_names(
                    &model.var(b.0).name,
                    &model.var(b.0).ty,
                    b.1,
                    &label(model, b.0, b.1),
                ),
            ],
        )?,
        None => Vec::new(),
    };
    let ranges: Vec<(String, (f64, f64))> = opts
        .ranges
        .iter()
        .map(|s| setup::parse_range(s))
        .collect::<Result<_, _>>()?;
    let n = opts.grid.unwrap_or(MAP_SAMPLES);
    let mut axes = Vec::new();
    for (k, ((var, element), unit)) in [(a, ua), (b, ub)].into_iter().enumerate() {
        let name = label(model, var, element);
        let shown: Vec<f64> = points
            .iter()
            .chain(&samples)
            .map(|p| if k == 0 { p.0 } else { p.1 })
            .collect();
        let range = match given_range(&ranges, &name, &model.var(var).name, unit)? {
            Some(r) => r,
            None => {
                let (lo, hi) = span(&shown).unwrap_or((-3.0, 3.0));
                let pad = 0.1 * (hi - lo).max(1e-9);
                ((lo - pad - unit.1) / unit.0, (hi + pad - unit.1) / unit.0)
            }
        };
        axes.push(Axis::linspace(var, element, name, range, n, unit));
    }
    let grid = Grid::evaluate(&pr.session, base, axes)?;
    Ok(FigureData::Density(Density {
        grid,
        points,
        test_from,
        samples,
    }))
}

/// The two output coordinates to draw over: `--axes`, else the first two real ones. Checked
/// before any training, so that a model that cannot be drawn is not trained first.
pub(crate) fn axes(model: &Model, opts: &PlotOptions) -> Result<[(VarId, usize); 2], PlotError> {
    let coordinates: Vec<(VarId, usize)> = model
        .vars_of(Role::Output)
        .filter(|(_, v)| matches!(v.ty, Ty::Real(_)))
        .flat_map(|(id, v)| (0..v.ty.elements()).map(move |e| (id, e)))
        .collect();
    let chosen = match &opts.axes {
        Some(s) => setup::parse_axes(model, s, &coordinates)?,
        None => coordinates.iter().copied().take(2).collect(),
    };
    match chosen[..] {
        [a, b] => Ok([a, b]),
        _ => Err(PlotError(format!(
            "a density is drawn over two real output coordinates; `{}` has {}{}",
            model.name,
            coordinates.len(),
            if opts.axes.is_some() {
                " (--axes names one: name two, as `y[0],y[1]`)"
            } else {
                " — try `ebmc plot landscape`"
            }
        ))),
    }
}

/// The header names a coordinate may have in a samples file: its label (`y[0, 1]`), its flat
/// column name as `ebmc run --out` and `ebmc sample --out` write it (`y[1]`), or the bare
/// name of a scalar.
fn column_names(name: &str, ty: &Ty, element: usize, label: &str) -> Vec<String> {
    let mut names = vec![label.replace(' ', "")];
    match ty {
        Ty::Real(s) if !s.is_scalar() => names.push(format!("{name}[{element}]")),
        _ => names.push(name.to_string()),
    }
    names
}

/// The two coordinates of every row of a samples CSV file.
fn read_samples(path: &Path, wanted: &[Vec<String>; 2]) -> Result<Vec<(f64, f64)>, PlotError> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| PlotError(format!("--samples {shown}: {e}")))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| PlotError(format!("--samples {shown}: {e}")))?
        .iter()
        .map(|h| h.trim().replace(' ', ""))
        .collect();
    let mut columns = [0usize; 2];
    for (k, names) in wanted.iter().enumerate() {
        columns[k] = header
            .iter()
            .position(|h| names.contains(h))
            .ok_or_else(|| {
                PlotError(format!(
                    "--samples {shown}: no column `{}` in the header (it has: {})",
                    names[0],
                    header.join(", ")
                ))
            })?;
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| PlotError(format!("--samples {shown}: {e}")))?;
        let line = record.position().map_or(i + 2, |p| p.line() as usize);
        let mut xy = [0.0; 2];
        for (k, &c) in columns.iter().enumerate() {
            let cell = record.get(c).unwrap_or("").trim();
            xy[k] = cell.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                PlotError(format!(
                    "--samples {shown}: line {line}, column {} (`{}`): expected a finite number, found `{cell}`",
                    c + 1,
                    header[c]
                ))
            })?;
        }
        out.push((xy[0], xy[1]));
    }
    Ok(out)
}
