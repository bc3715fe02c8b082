//! What a landscape or surface shows: the point, the inference, the grid and its range.
//!
//! A landscape's input comes from `--at`, else from the first test example of the data (the
//! first training example when there are no test rows), which also gives the correct answer.
//! Inference runs once from there with the session recording its descent; the grid's base is
//! the inferred point, so coordinates off the axes sit at `y*`. Each axis spans the marks
//! (`y_i`, `y*`, the path) with room around them — at least 1.5 units of the model on either
//! side — unless `--range` says otherwise.

use super::grid::{Axis, Grid};
use super::setup::{self, Prepared};
use super::{Answers, FigureData, Landscape, PlotError, PlotOptions, Surface};
use crate::check::{Elim, Role, VarId};
use crate::rng::Rng;
use crate::runtime::session::Point;
use crate::runtime::train::load_row;
use crate::types::Ty;

/// Samples per axis by default: a line is cheap, a heat map has n² points.
const LINE_SAMPLES: usize = 400;
/// Samples per axis of a heat map.
pub(crate) const MAP_SAMPLES: usize = 200;

pub(crate) fn landscape(pr: &mut Prepared, opts: &PlotOptions) -> Result<FigureData, PlotError> {
    let model = pr.model;
    let mut p = Point::zeros(model);
    let mut given = vec![false; model.vars.len()];
    let at: Vec<(VarId, Vec<f64>)> = opts
        .at
        .iter()
        .map(|s| setup::parse_at(model, s))
        .collect::<Result<_, _>>()?;
    let inputs_given = model
        .vars_of(Role::Input)
        .all(|(id, _)| at.iter().any(|(v, _)| *v == id));
    let mut truth_known = false;
    if !inputs_given {
        if let Some(loaded) = &pr.data {
            let set = loaded.test_or_train();
            if !set.is_empty() {
                load_row(set, 0, &mut p);
                for v in &set.vars {
                    given[v.var.0 as usize] = true;
                }
                truth_known = model
                    .vars_of(Role::Output)
                    .all(|(id, _)| given[id.0 as usize]);
            }
        }
    }
    for (id, values) in at {
        let mut values = values;
        pr.standardize_at(id, &mut values)?;
        p.values[id.0 as usize] = values;
        given[id.0 as usize] = true;
        if model.var(id).role == Role::Output {
            truth_known = model
                .vars_of(Role::Output)
                .all(|(o, _)| given[o.0 as usize]);
        }
    }
    if let Some((_, x)) = model
        .vars_of(Role::Input)
        .find(|(id, _)| !given[id.0 as usize])
    {
        return Err(PlotError(format!(
            "the input `{}` has no value: give it with --at {}=… (`{}` has no data to take a test example from)",
            x.name, x.name, model.name
        )));
    }
    let truth = truth_known.then(|| p.clone());
    // Infer from the input alone, as `ebmc run` does: real outputs start from zero.
    let mut q = p.clone();
    for (id, v) in model.vars_of(Role::Output) {
        if !v.ty.is_discrete() {
            q.values[id.0 as usize].iter_mut().for_each(|x| *x = 0.0);
        }
    }
    let mut rng = Rng::new(pr.seed);
    pr.session.record_path(true);
    let inferred_energy = pr.session.infer(&mut q, &mut rng)?;
    let path = pr.session.take_path();
    pr.session.record_path(false);

    if model.vars_of(Role::Output).all(|(_, v)| v.ty.is_discrete()) {
        return answers(pr, q, truth.as_ref());
    }

    let candidates = coordinates(pr);
    let picked = match &opts.axes {
        Some(s) => setup::parse_axes(model, s, &candidates)?,
        None => candidates.iter().copied().take(2).collect(),
    };
    let n = opts.grid.unwrap_or(if picked.len() == 1 {
        LINE_SAMPLES
    } else {
        MAP_SAMPLES
    });
    let ranges: Vec<(String, (f64, f64))> = opts
        .ranges
        .iter()
        .map(|s| setup::parse_range(s))
        .collect::<Result<_, _>>()?;
    let mut axes = Vec::new();
    for &(var, element) in &picked {
        let label = setup::label(model, var, element);
        let unit = pr.unit(var, element);
        let mut marks: Vec<f64> = vec![q.values[var.0 as usize][element]];
        if let Some(t) = &truth {
            marks.push(t.values[var.0 as usize][element]);
        }
        marks.extend(path.iter().map(|s| s.values[var.0 as usize][element]));
        let range = given_range(&ranges, &label, &model.var(var).name, unit)?
            .unwrap_or_else(|| around(&marks));
        axes.push(Axis::linspace(var, element, label, range, n, unit));
    }
    check_ranges_used(&ranges, &axes)?;
    let grid = Grid::evaluate(&pr.session, q.clone(), axes)?;
    let mut path_energies = Vec::with_capacity(path.len());
    for s in &path {
        path_energies.push(pr.session.energy(&mut s.clone())?);
    }
    Ok(FigureData::Landscape(Landscape {
        grid,
        truth,
        inferred: q,
        inferred_energy,
        path,
        path_energies,
    }))
}

/// Real coordinates a landscape can vary: outputs, then latents named in an `infer` group
/// (a latent eliminated by descent is minimised at every point, so it is not a coordinate).
fn coordinates(pr: &Prepared) -> Vec<(VarId, usize)> {
    let model = pr.model;
    let named = |id: VarId| model.infer.iter().any(|g| g.vars.contains(&id));
    let mut out = Vec::new();
    for role in [Role::Output, Role::Latent] {
        for (id, v) in model.vars_of(role) {
            let inner = matches!(v.elim, Some(Elim::MinDescent(_))) && !named(id);
            if v.ty.is_discrete() || (role == Role::Latent && inner) {
                continue;
            }
            out.extend((0..v.ty.elements()).map(|e| (id, e)));
        }
    }
    out
}

/// A range around the marks: their span plus half of it, at least 1.5 either side.
fn around(marks: &[f64]) -> (f64, f64) {
    let finite = marks.iter().copied().filter(|x| x.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (-3.0, 3.0);
    }
    let pad = (0.5 * (hi - lo)).max(1.5);
    (lo - pad, hi + pad)
}

/// The `--range` for an axis labelled `label` (or named by its variable `name`), in model units.
pub(crate) fn given_range(
    ranges: &[(String, (f64, f64))],
    label: &str,
    name: &str,
    unit: (f64, f64),
) -> Result<Option<(f64, f64)>, PlotError> {
    let label: String = label.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(ranges
        .iter()
        .find(|(n, _)| *n == label || n == name)
        .map(|(_, (lo, hi))| ((lo - unit.1) / unit.0, (hi - unit.1) / unit.0)))
}

/// Every `--range` must name an axis: a typo would otherwise be ignored silently.
fn check_ranges_used(ranges: &[(String, (f64, f64))], axes: &[Axis]) -> Result<(), PlotError> {
    for (name, _) in ranges {
        let used = axes.iter().any(|a| {
            let l: String = a.label.chars().filter(|c| !c.is_whitespace()).collect();
            l == *name || a.label.split('[').next() == Some(name.as_str())
        });
        if !used {
            let labels: Vec<&str> = axes.iter().map(|a| a.label.as_str()).collect();
            return Err(PlotError(format!(
                "--range {name}=…: the figure's axes are {}",
                labels.join(" and ")
            )));
        }
    }
    Ok(())
}

/// Discrete outputs: the energy of every combination of their values.
fn answers(pr: &mut Prepared, q: Point, truth: Option<&Point>) -> Result<FigureData, PlotError> {
    let model = pr.model;
    let outputs: Vec<(VarId, &Ty)> = model
        .vars_of(Role::Output)
        .map(|(id, v)| (id, &v.ty))
        .collect();
    let sizes: Vec<usize> = outputs
        .iter()
        .map(|(_, t)| t.states().unwrap_or(usize::MAX))
        .collect();
    let count: usize = sizes
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .unwrap_or(usize::MAX);
    if count > 1000 {
        return Err(PlotError(format!(
            "`{}` has {count} answers; a bar for each would not be readable",
            model.name
        )));
    }
    let index_of = |p: &Point| -> usize {
        let mut k = 0;
        for ((id, ty), n) in outputs.iter().zip(&sizes) {
            k = k * n + ty.answer_index(&p.values[id.0 as usize]);
        }
        k
    };
    let mut labels = Vec::with_capacity(count);
    let mut energies = Vec::with_capacity(count);
    for k in 0..count {
        let mut r = q.clone();
        let mut rest = k;
        let mut parts = Vec::new();
        for ((id, ty), n) in outputs.iter().zip(&sizes).rev() {
            let i = rest % n;
            rest /= n;
            r.values[id.0 as usize] = ty.answer(i);
            parts.push(match ty {
                Ty::Sign(s) if s.is_scalar() && i == 1 => "+1".to_string(),
                Ty::Sign(s) if s.is_scalar() => "−1".to_string(),
                _ => ty.answer_name(i),
            });
        }
        parts.reverse();
        labels.push(parts.join(","));
        energies.push(pr.session.energy(&mut r)?);
    }
    let truth = truth.map(index_of);
    let offending = truth.and_then(|t| {
        (0..count)
            .filter(|&k| k != t && !energies[k].is_nan())
            .min_by(|&a, &b| energies[a].total_cmp(&energies[b]))
    });
    Ok(FigureData::Answers(Answers {
        labels,
        energies,
        inferred: index_of(&q),
        point: q,
        truth,
        offending,
    }))
}

/// The energy over the plane of a model's one real input and one real output.
pub(crate) fn surface(pr: &mut Prepared, opts: &PlotOptions) -> Result<FigureData, PlotError> {
    let model = pr.model;
    let inputs: Vec<_> = model.vars_of(Role::Input).collect();
    let outputs: Vec<_> = model.vars_of(Role::Output).collect();
    let scalar = |t: &Ty| matches!(t, Ty::Real(s) if s.len() == 1);
    let (x, y) = match (inputs.as_slice(), outputs.as_slice()) {
        ([(x, xv)], [(y, yv)]) if scalar(&xv.ty) && scalar(&yv.ty) => (*x, *y),
        _ => {
            return Err(PlotError(format!(
                "a surface is drawn over one real input and one real output; `{}` has {} input(s) and {} output(s) — try `ebmc plot landscape`",
                model.name,
                inputs.len(),
                outputs.len()
            )))
        }
    };
    if let Some((_, z)) = model.vars_of(Role::Latent).find(|(id, v)| {
        model.infer.iter().any(|g| g.vars.contains(id)) || v.ty.is_discrete() && v.elim.is_none()
    }) {
        return Err(PlotError(format!(
            "the latent `{}` is inferred with the output, so E(x, y) alone is not defined; a surface needs latents eliminated (`min`, `marginal`)",
            z.name
        )));
    }
    let (ux, uy) = (pr.unit(x, 0), pr.unit(y, 0));
    let mut points = Vec::new();
    let mut test_from = 0;
    if let Some(loaded) = &pr.data {
        for (k, set) in [&loaded.train, &loaded.test].into_iter().enumerate() {
            if k == 1 {
                test_from = points.len();
            }
            if let (Some(xs), Some(ys)) = (set.var(x), set.var(y)) {
                for (a, b) in xs.values.iter().zip(&ys.values) {
                    points.push((a * ux.0 + ux.1, b * uy.0 + uy.1));
                }
            }
        }
    }
    let ranges: Vec<(String, (f64, f64))> = opts
        .ranges
        .iter()
        .map(|s| setup::parse_range(s))
        .collect::<Result<_, _>>()?;
    let n = opts.grid.unwrap_or(MAP_SAMPLES);
    let mut axes = Vec::new();
    for (k, (var, unit)) in [(x, ux), (y, uy)].into_iter().enumerate() {
        let name = model.var(var).name.clone();
        let shown: Vec<f64> = points
            .iter()
            .map(|p| if k == 0 { p.0 } else { p.1 })
            .collect();
        let range = match given_range(&ranges, &name, &name, unit)? {
            Some(r) => r,
            None => {
                let (lo, hi) = span(&shown).unwrap_or((-2.0, 2.0));
                let pad = 0.1 * (hi - lo).max(1e-9);
                ((lo - pad - unit.1) / unit.0, (hi + pad - unit.1) / unit.0)
            }
        };
        axes.push(Axis::linspace(var, 0, name, range, n, unit));
    }
    check_ranges_used(&ranges, &axes)?;
    let grid = Grid::evaluate(&pr.session, Point::zeros(model), axes)?;
    Ok(FigureData::Surface(Surface {
        grid,
        points,
        test_from,
    }))
}

pub(crate) fn span(xs: &[f64]) -> Option<(f64, f64)> {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
}
