//! `ebmc sample`: draws from `P(y|x)` (or `P(y)` for a model without inputs) with the model's
//! sampler, and writes one CSV row per chain's last state.
//!
//! Where the chains are:
//! * `--at` (every input) or a model without inputs: `--n` chains (default
//!   [`DEFAULT_CHAINS`]) at that one point;
//! * otherwise, with `data`: one chain per test row (per training row when there are none),
//!   each at its row's inputs.
//!
//! The params come from `--weights`, else training (a model with `train` and `data`), else
//! their declared init, as in `ebmc run`. Values are in the data's units: a standardized input
//! given with `--at` is z-scored with the training statistics, and a standardized output is
//! mapped back before it is written.
//!
//! A model whose `infer` samples (`langevin`, `hmc`, `gibbs`) draws with it; a model whose
//! outputs are all discrete and enumerated draws exactly from `softmax(−β E)` over every
//! answer (β = 1). Any other model is refused with the line to add.

use super::{Chains, Given, Start, Stats};
use crate::check::{InferMethod, Model, Role, VarId};
use crate::compile::{self, Backend};
use crate::rng::Rng;
use crate::runtime::data::Loaded;
use crate::runtime::run::{self as run_mod, Memory};
use crate::runtime::session::{Point, RunError, Session};
use crate::runtime::train::{self, load_row};
use std::path::{Path, PathBuf};

/// Chains at one point when `--n` is not given.
pub const DEFAULT_CHAINS: usize = 1000;

/// What the command line asks of `ebmc sample`.
#[derive(Clone, Debug, Default)]
pub struct SampleOptions {
    pub weights: Option<PathBuf>,
    /// Chains at the `--at` point (or of a model without inputs).
    pub n: Option<usize>,
    /// Every input's value, in the data's units ([`run_mod::inputs_at`]).
    pub at: Vec<(VarId, Vec<f64>)>,
    pub seed: Option<u64>,
    pub out: Option<PathBuf>,
    pub interp: bool,
}

/// What `ebmc sample` drew.
#[derive(Clone, Debug)]
pub struct SampleOutcome {
    /// `sampler(args)` as the model names it, or `exact` for enumerated answers.
    pub method: String,
    /// The column names, one per sampled coordinate.
    pub columns: Vec<String>,
    /// One row per chain, in the data's units.
    pub rows: Vec<Vec<f64>>,
    /// The data file's line of each chain's row, when there is one chain per row.
    pub lines: Option<Vec<usize>>,
    pub stats: Stats,
}

impl SampleOutcome {
    /// The CSV `--out` writes: a header of column names, then one row per chain.
    pub fn csv(&self) -> String {
        let mut header = Vec::new();
        if self.lines.is_some() {
            header.push("line".to_string());
        }
        header.extend(self.columns.iter().cloned());
        let mut text = header.join(",") + "\n";
        for (k, row) in self.rows.iter().enumerate() {
            let mut cells: Vec<String> = Vec::with_capacity(row.len() + 1);
            if let Some(lines) = &self.lines {
                cells.push(lines[k].to_string());
            }
            cells.extend(row.iter().map(|x| format!("{x}")));
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text
    }

    /// Per column: mean and standard deviation over the chains.
    pub fn summary(&self) -> Vec<(String, f64, f64)> {
        let n = self.rows.len().max(1) as f64;
        (0..self.columns.len())
            .map(|j| {
                let mean = self.rows.iter().map(|r| r[j]).sum::<f64>() / n;
                let var = self.rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
                (self.columns[j].clone(), mean, var.sqrt())
            })
            .collect()
    }
}

/// Runs `ebmc sample` on a checked model; `base_dir` is the directory of its `.ebm` file.
pub fn sample(
    model: &Model,
    base_dir: &Path,
    opts: &SampleOptions,
) -> Result<SampleOutcome, RunError> {
    if let Some(out) = &opts.out {
        crate::atomic::check(out).map_err(|e| {
            RunError::User(format!(
                "--out {}: {}",
                out.display(),
                crate::runtime::weights::io_message(&e)
            ))
        })?;
    }
    let method = method_of(model)?;
    let has_inputs = model.vars_of(Role::Input).next().is_some();
    if has_inputs && opts.at.is_empty() && model.data.is_none() {
        let x = model
            .vars_of(Role::Input)
            .next()
            .map(|(_, v)| v.name.clone());
        let x = x.unwrap_or_default();
        return Err(RunError::User(format!(
            "the model has the input `{x}` but no `data` clause to read it from; give it with --at {x}=VALUE"
        )));
    }
    let backend = if opts.interp {
        Backend::Interp
    } else {
        Backend::Jit
    };
    let setup = run_mod::setup(
        model,
        base_dir,
        &compile::Options::new(backend),
        opts.seed,
        opts.weights.as_deref(),
        &Memory::default(),
    )?;
    let (mut s, data, seed) = (setup.session, setup.data, setup.seed);
    if let (Some(t), Some(loaded), None) = (&model.train, &data, &opts.weights) {
        let mut t = t.clone();
        t.seed = seed;
        train::train_observed(&mut s, &loaded.train, &t, 1, &mut |_, _| Ok(()))?;
    }
    // The chains' points: one point `n` times, or one per row.
    let mut base = Point::zeros(model);
    let (points, lines, n): (Vec<Point>, Option<Vec<usize>>, usize) = if !opts.at.is_empty()
        || !has_inputs
    {
        for (id, values) in &opts.at {
            let mut values = values.clone();
            if let Some(st) = data.as_ref().and_then(|l| l.standardization(*id)) {
                st.apply(&mut values).map_err(|element| {
                        RunError::User(format!(
                            "--at {}: element {element} is too far from the training mean to standardize",
                            model.var(*id).name
                        ))
                    })?;
            }
            base.values[id.0 as usize] = values;
        }
        (Vec::new(), None, opts.n.unwrap_or(DEFAULT_CHAINS))
    } else {
        let loaded = data
            .as_ref()
            .expect("a model with inputs and no --at has data");
        let set = loaded.test_or_train();
        let points: Vec<Point> = (0..set.rows())
            .map(|r| {
                let mut p = Point::zeros(model);
                load_row(set, r, &mut p);
                p
            })
            .collect();
        let lines = (0..set.rows())
            .map(|r| set.lines.get(r).copied().unwrap_or(r + 2))
            .collect();
        let n = points.len();
        (points, Some(lines), n)
    };
    let given = if points.is_empty() {
        Given::Same(&base)
    } else {
        Given::Each(&points)
    };
    let mut rng = Rng::new(seed ^ super::SEED_SALT);
    let (vars, values, stats) = match super::model_sampler(model) {
        Some((vars, sampler)) => {
            let mut chains = Chains::new(&s, &vars)?;
            let mut state = vec![0.0; n * chains.width()];
            let stats = chains.run(&mut s, &sampler, given, &mut state, Start::Init, &mut rng)?;
            (vars, state, stats)
        }
        None => exact(&mut s, given, n, &mut rng)?,
    };
    let width = values.len() / n.max(1);
    let mut rows: Vec<Vec<f64>> = values.chunks(width.max(1)).map(|r| r.to_vec()).collect();
    rows.truncate(n);
    let mut columns = Vec::new();
    let mut at = 0;
    for &v in &vars {
        let var = model.var(v);
        let len = var.ty.elements();
        columns.extend(run_mod::column_names(&var.name, &var.ty));
        if let Some(st) = data.as_ref().and_then(|l: &Loaded| l.standardization(v)) {
            for row in &mut rows {
                st.restore(&mut row[at..at + len]);
            }
        }
        at += len;
    }
    let outcome = SampleOutcome {
        method,
        columns,
        rows,
        lines,
        stats,
    };
    if let Some(path) = &opts.out {
        crate::atomic::write(path, outcome.csv().as_bytes()).map_err(|e| {
            RunError::User(format!("{}: cannot write the samples: {e}", path.display()))
        })?;
    }
    Ok(outcome)
}

/// The sampler as the model writes it, or why the model cannot be sampled.
fn method_of(model: &Model) -> Result<String, RunError> {
    if let Some((_, s)) = super::model_sampler(model) {
        return Ok(describe(&s));
    }
    let outputs: Vec<(VarId, &crate::check::Var)> = model.vars_of(Role::Output).collect();
    let enumerated = model
        .infer
        .iter()
        .all(|g| matches!(g.method, InferMethod::Enumerate));
    let inner = model
        .vars
        .iter()
        .any(|v| matches!(v.elim, Some(crate::check::Elim::MinDescent(_))));
    if outputs.iter().all(|(_, v)| v.ty.is_discrete()) && enumerated && !inner {
        return Ok("exact".into());
    }
    let y = outputs
        .iter()
        .find(|(_, v)| !v.ty.is_discrete())
        .map_or("y", |(_, v)| v.name.as_str());
    Err(RunError::User(format!(
        "`{}` has no sampler: its `infer` finds the minimum of the energy; to draw from P({y}|x), write `infer {y} by langevin(steps = 100, rate = 0.01)` or `hmc(steps = 100, leapfrog = 10, rate = 0.05)`",
        model.name
    )))
}

/// A sampler as the source would write it, every argument shown.
pub fn describe(s: &crate::check::Sampler) -> String {
    use crate::check::Sampler::*;
    match s {
        Langevin {
            steps, rate, beta, ..
        } => format!("langevin(steps = {steps}, rate = {rate}, beta = {beta})"),
        Hmc {
            steps,
            leapfrog,
            rate,
            beta,
            ..
        } => format!("hmc(steps = {steps}, leapfrog = {leapfrog}, rate = {rate}, beta = {beta})"),
        Gibbs { sweeps, beta, .. } => format!("gibbs(sweeps = {sweeps}, beta = {beta})"),
    }
}

/// Exact draws from `P(y|x) = softmax(−E)` over every answer of a model whose outputs are all
/// discrete: the answers' energies in one call per chain (per point, for chains at one point).
fn exact(
    s: &mut Session,
    given: Given,
    n: usize,
    rng: &mut Rng,
) -> Result<(Vec<VarId>, Vec<f64>, Stats), RunError> {
    let code = std::sync::Arc::clone(&s.code);
    let model = &code.model;
    let vars: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    let width: usize = vars.iter().map(|v| model.var(*v).ty.elements()).sum();
    let mut out = vec![0.0; n * width];
    let mut stats = Stats {
        energies: vec![0.0; n],
        ..Stats::default()
    };
    let mut energies: Vec<f64> = Vec::new();
    let mut weights = Vec::new();
    let mut p = Point::zeros(model);
    let beta = model.infer.iter().find_map(|g| g.beta).unwrap_or(1.0);
    for k in 0..n {
        if k == 0 || !matches!(given, Given::Same(_)) {
            p.copy_from(given.point(k));
            energies = answer_energies(s, &vars, &mut p)?;
        }
        let pick = super::gibbs::draw_index(&energies, beta, rng, &mut weights)
            .ok_or_else(|| RunError::User("every answer has a NaN or infinite energy".into()))?;
        stats.energies[k] = energies[pick];
        decode(model, &vars, pick, &mut out[k * width..(k + 1) * width]);
    }
    Ok((vars, out, stats))
}

/// Writes answer number `k` (row-major over `vars` in order, each as [`crate::types::Ty::answer`]
/// numbers its values) into `out`, the variables' values one after another.
fn decode(model: &crate::check::Model, vars: &[VarId], mut k: usize, out: &mut [f64]) {
    let mut end = out.len();
    for v in vars.iter().rev() {
        let ty = &model.var(*v).ty;
        let count = ty.states().unwrap_or(1);
        let values = ty.answer(k % count);
        k /= count;
        out[end - values.len()..end].copy_from_slice(&values);
        end -= values.len();
    }
}

/// The energy of every answer at `p`'s inputs, in answer order.
fn answer_energies(s: &mut Session, vars: &[VarId], p: &mut Point) -> Result<Vec<f64>, RunError> {
    if let Some(a) = s.answers.as_mut() {
        a.call(&s.params, p)?;
        return Ok(a.values().to_vec());
    }
    let model = s.model().clone();
    let count = vars
        .iter()
        .try_fold(1usize, |acc, v| acc.checked_mul(model.var(*v).ty.states()?))
        .filter(|c| *c <= 1 << 20)
        .ok_or_else(|| RunError::User("more than 2^20 answers to enumerate".into()))?;
    let width: usize = vars.iter().map(|v| model.var(*v).ty.elements()).sum();
    let mut row = vec![0.0; width];
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        decode(&model, vars, k, &mut row);
        let mut at = 0;
        for v in vars {
            let len = model.var(*v).ty.elements();
            p.values[v.0 as usize].clear();
            p.values[v.0 as usize].extend_from_slice(&row[at..at + len]);
            at += len;
        }
        out.push(s.energy(p)?);
    }
    Ok(out)
}
