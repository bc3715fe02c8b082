//! The session a figure is drawn from, and the command line's values read against the model.
//!
//! Weights, in order of preference: `--weights` (as `ebmc run --save` writes them); else
//! training, when the model has `train` and `data` — with the same seed, split and steps as
//! `ebmc run`, so the figure shows the weights `run --save` would save; else the declared
//! init with the seed. The data, when the model has a `data` clause, is loaded either way
//! (for the test example a landscape starts from, a surface's points and the units of
//! standardized variables).

use super::{PlotError, PlotOptions};
use crate::check::{Model, Role, VarId};
use crate::compile::Backend;
use crate::runtime::data::Loaded;
use crate::runtime::eval;
use crate::runtime::run::{self, Setup};
use crate::runtime::session::Session;
use crate::runtime::train;
use std::path::Path;

pub(crate) struct Prepared<'m> {
    pub model: &'m Model,
    pub session: Session,
    pub data: Option<Loaded>,
    pub seed: u64,
}

impl Prepared<'_> {
    /// A value `--at` gave for `id`, in the data's units, z-scored as the model sees it when
    /// the data standardizes `id`.
    pub fn standardize_at(&self, id: VarId, values: &mut [f64]) -> Result<(), PlotError> {
        if let Some(st) = self.data.as_ref().and_then(|d| d.standardization(id)) {
            st.apply(values).map_err(|element| {
                PlotError(format!(
                    "--at {}: element {element} is too far from the training mean to standardize (its z-score overflows)",
                    self.model.var(id).name
                ))
            })?;
        }
        Ok(())
    }

    /// `(scale, offset)` from model units to the data's units for one element of a variable.
    pub fn unit(&self, var: VarId, element: usize) -> (f64, f64) {
        match self.data.as_ref().and_then(|d| d.standardization(var)) {
            Some(st) => {
                let w = st.mean.len().max(1);
                (st.scale[element % w], st.mean[element % w])
            }
            None => (1.0, 0.0),
        }
    }
}

/// `ebmc run`'s setup ([`run::setup`]), then training when there are no weights to load.
pub(crate) fn prepare<'m>(
    model: &'m Model,
    base_dir: &Path,
    opts: &PlotOptions,
    say: &mut dyn FnMut(&str),
) -> Result<Prepared<'m>, PlotError> {
    let Setup {
        mut session,
        data,
        seed,
    } = run::setup(
        model,
        base_dir,
        &crate::compile::Options::new(Backend::Jit),
        opts.seed,
        opts.weights.as_deref(),
        &run::Memory {
            budget: crate::runtime::memory::machine_budget(),
            threads: train::default_threads(),
            keep_copy: false,
        },
    )
    .map_err(|e| PlotError(e.to_string()))?;
    match (&opts.weights, &model.train, &data) {
        (Some(_), ..) => {}
        (None, Some(t), Some(loaded)) => {
            say(&format!(
                "training `{}` first ({} epochs); pass --weights W.json from `ebmc run --save W.json` to skip this",
                model.name, t.epochs
            ));
            let mut t = t.clone();
            t.seed = seed;
            train::train(
                &mut session,
                &loaded.train,
                &t,
                train::default_threads(),
                &mut |_| {},
            )?;
        }
        (None, ..) if model.vars_of(Role::Param).next().is_some() => {
            say(&format!(
                "`{}` has no weights file and nothing to train on: plotting its declared init (seed {seed})",
                model.name
            ));
        }
        _ => {}
    }
    Ok(Prepared {
        model,
        session,
        data,
        seed,
    })
}

/// `--at NAME=VALUE` → the variable and its flat values, read as `run` and `eval` read them
/// ([`eval::parse_at`]); model units are applied by the caller. A landscape is drawn at given
/// inputs and outputs; params come from the weights.
pub(crate) fn parse_at(model: &Model, s: &str) -> Result<(VarId, Vec<f64>), PlotError> {
    let admit = |id: VarId| match model.var(id).role {
        Role::Param => Err(format!(
            "`{}` is a param; params come from --weights",
            model.var(id).name
        )),
        _ => Ok(()),
    };
    eval::parse_at(model, s, &admit).map_err(PlotError)
}

/// `LO:HI` with `LO < HI`.
fn parse_interval(what: &str, s: &str) -> Result<(f64, f64), PlotError> {
    let bad = || PlotError(format!("{what}: expected LO:HI with LO < HI, such as -3:3"));
    let (lo, hi) = s.split_once(':').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if !(lo < hi && lo.is_finite() && hi.is_finite()) {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// `--scale LO:HI`.
pub(crate) fn parse_scale(s: &str) -> Result<(f64, f64), PlotError> {
    parse_interval(&format!("--scale {s}"), s)
}

/// `--range NAME=LO:HI` → `(NAME, LO, HI)`.
pub(crate) fn parse_range(s: &str) -> Result<(String, (f64, f64)), PlotError> {
    let (name, interval) = s.split_once('=').ok_or_else(|| {
        PlotError(format!(
            "--range {s}: expected NAME=LO:HI, such as y=-3:3 or y[1]=0:2"
        ))
    })?;
    let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    Ok((name, parse_interval(&format!("--range {s}"), interval)?))
}

/// How a reader writes one element of a variable: `y`, `y[3]`, `W[1, 2]`.
pub(crate) fn label(model: &Model, var: VarId, element: usize) -> String {
    let v = model.var(var);
    let dims = v.ty.shape().map(|s| s.0.clone()).unwrap_or_default();
    if dims.is_empty() {
        return v.name.clone();
    }
    let mut idx = vec![0; dims.len()];
    let mut rest = element;
    for (k, d) in dims.iter().enumerate().rev() {
        idx[k] = rest % d;
        rest /= d;
    }
    let idx: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
    format!("{}[{}]", v.name, idx.join(", "))
}

/// `--axes`: coordinates separated by commas outside brackets; a bare name stands for every
/// element of its variable. Each must be one of `allowed`.
pub(crate) fn parse_axes(
    model: &Model,
    s: &str,
    allowed: &[(VarId, usize)],
) -> Result<Vec<(VarId, usize)>, PlotError> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&s[start..]);
    let allowed_text = || {
        let names: Vec<String> = allowed
            .iter()
            .take(6)
            .map(|&(v, e)| label(model, v, e))
            .collect();
        let more = if allowed.len() > 6 { ", …" } else { "" };
        format!("{}{more}", names.join(", "))
    };
    let mut out = Vec::new();
    for item in items {
        let item: String = item.chars().filter(|c| !c.is_whitespace()).collect();
        let found: Vec<(VarId, usize)> = allowed
            .iter()
            .copied()
            .filter(|&(v, e)| {
                let l: String = label(model, v, e)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                l == item || model.var(v).name == item
            })
            .collect();
        if found.is_empty() {
            return Err(PlotError(format!(
                "--axes {s}: `{item}` is not a coordinate to plot over; these are: {}",
                allowed_text()
            )));
        }
        out.extend(found);
    }
    if out.is_empty() || out.len() > 2 {
        return Err(PlotError(format!(
            "--axes {s}: names {} coordinates; a landscape has one or two",
            out.len()
        )));
    }
    Ok(out)
}
