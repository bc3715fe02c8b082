//! `ebmc run`: compile, train (when the model has `train` and `data`), infer, report.
//!
//! The steps, in order: build the session (params from their declared init, seeded); load
//! weights instead of training when asked; load and split the data; train; evaluate on the
//! training and test rows (loss, and accuracy or RMSE and R² of the inferred outputs, in the
//! data's own units); write what was asked for. A model without data performs its `infer`
//! once, at the inputs `--at NAME=VALUE` gives (none for a model without inputs).
//!
//! `--at` on a model with data asks one question instead of measuring the test set: training
//! (or `--weights`) as usual, then one inference at the given inputs, reported as a model
//! without data reports it — the inferred variables and the energy, `--out` one CSV row,
//! `--metrics` `{"infer": …}`. Values are in the data's units: a standardized input is
//! z-scored with the training statistics and a standardized output mapped back, as
//! predictions are. `--at` names inputs only, every one of them ([`inputs_at`]): outputs and
//! latents are what inference answers.
//!
//! Before any of that, every output path is checked ([`check_outputs`]): its directory exists
//! and takes a file, and no two outputs, nor an output and `--weights`, name one file, so
//! that a typo costs a second rather than a training run.
//!
//! When training stops on a numeric failure, `--save` gets the weights after the last whole
//! epoch (the initial ones if none finished), the error says so, and a run with that many
//! epochs saves the same file. The session's own params at the failing step are not saved:
//! they may be the ones whose loss overflowed.

use super::data::{self, Dataset, Loaded};
use super::history::{self, History};
use super::memory::{self, Budget};
use super::metrics::{self as m, Calibration, Evaluation, OutputMetrics, Report};
use super::session::{Point, RunError, Session};
use super::train::{self, load_row, EpochStats};
use super::weights;
use crate::atomic;
use crate::check::{Model, Role, VarId};
use crate::compile::{self, Backend, Compiled};
use crate::rng::Rng;
use crate::types::Ty;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the command line asks of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the training seed (data split, init, shuffling, negatives).
    pub seed: Option<u64>,
    /// Load these weights and skip training.
    pub weights: Option<PathBuf>,
    pub save: Option<PathBuf>,
    /// Predictions, one CSV row per test example (per training example when there are no
    /// test rows; the inferred values for a model without data).
    pub out: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
    pub interp: bool,
    /// Threads for training and for inference over a data set's rows; `None` uses every core.
    pub threads: Option<usize>,
    /// The memory a run may use, in bytes; `None` takes the machine's ([`memory`]).
    pub memory: Option<u64>,
    /// Write the per-epoch history here (implies `track_test`).
    pub history: Option<PathBuf>,
    /// Measure the test set after every epoch, into [`RunOutcome::epochs`]; costs an
    /// inference per test row per epoch, so off unless asked for.
    pub track_test: bool,
    /// Compile without staging inference (tests compare staged with unstaged runs).
    pub unstaged: bool,
    /// `--at`: every input's value, in the data's units ([`inputs_at`]). When given, a model
    /// with data infers at them instead of measuring its training and test sets.
    pub at: Vec<(VarId, Vec<f64>)>,
}

/// The `--at NAME=VALUE` flags of `ebmc run` read against the model: inputs only, each once,
/// and all of them when any is given. Errors are the command line's (the caller's exit code
/// for usage). No flag at all is not one: a model with data reads its inputs from there, and
/// one without data and with inputs is refused by [`run`] (after `--weights` is read, whose
/// errors come first).
pub fn inputs_at(model: &Model, at: &[String]) -> Result<Vec<(VarId, Vec<f64>)>, String> {
    let inputs: Vec<(VarId, &str)> = model
        .vars_of(Role::Input)
        .map(|(id, v)| (id, v.name.as_str()))
        .collect();
    let names = || {
        let n: Vec<&str> = inputs.iter().map(|(_, n)| *n).collect();
        n.join(", ")
    };
    let admit = |id: VarId| {
        let v = model.var(id);
        let role = match v.role {
            Role::Input => return Ok(()),
            Role::Output => "an output, which `run` infers",
            Role::Latent => "a latent, which inference eliminates",
            Role::Param => "a param, which comes from training or --weights",
        };
        let takes = match inputs.len() {
            0 => format!("`{}` has no inputs to give", model.name),
            _ => format!("--at gives inputs ({})", names()),
        };
        Err(format!("`{}` is {role}; {takes}", v.name))
    };
    let values = super::eval::parse_ats(model, at, &admit)?;
    if values.is_empty() {
        return Ok(values);
    }
    if let Some((_, missing)) = inputs
        .iter()
        .find(|(id, _)| !values.iter().any(|(v, _)| v == id))
    {
        let why = if model.data.is_some() {
            "to infer at one point, give every input"
        } else {
            "the model has no `data` to read inputs from; give every input"
        };
        return Err(format!(
            "--at: no value for the input `{missing}`: {why} ({}), as --at {missing}=VALUE",
            names()
        ));
    }
    Ok(values)
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub report: Report,
    /// The acceptance rate of `hmc` inference, when the model infers by it.
    pub acceptance: Option<f64>,
    pub history: Vec<EpochStats>,
    pub trained: bool,
    /// Per-epoch test figures, when `track_test` or `history` asked for them.
    pub epochs: Vec<history::Epoch>,
}

/// What `run` and `plot` start from: the compiled model bound in a session (params from
/// `--weights` or the declared init), its data when it has a `data` clause, and the seed.
pub struct Setup {
    pub session: Session,
    pub data: Option<Loaded>,
    pub seed: u64,
}

/// What [`setup`] checks a run's memory against ([`memory`]).
#[derive(Clone, Debug, Default)]
pub struct Memory {
    /// `None`: no check.
    pub budget: Option<Budget>,
    /// The threads training is asked to use.
    pub threads: usize,
    /// `--save` keeps a copy of the weights of the last whole epoch.
    pub keep_copy: bool,
}

/// Compiles `model` with `options`, initialises or loads its params and loads its data: the
/// one setup path of `ebmc run` and `ebmc plot`. `seed` overrides the training seed.
pub fn setup(
    model: &Model,
    base_dir: &Path,
    options: &compile::Options,
    seed: Option<u64>,
    weights_file: Option<&Path>,
    memory: &Memory,
) -> Result<Setup, RunError> {
    let seed = seed.or(model.train.as_ref().map(|t| t.seed)).unwrap_or(0);
    let code: Arc<Compiled> = Arc::new(compile::compile(model, options)?);
    // Before the large buffers are allocated: a run that cannot fit is refused with figures,
    // where allocating would abort the process.
    if let Some(budget) = &memory.budget {
        let train = match (&model.train, &model.data, weights_file) {
            (Some(t), Some(_), None) => Some(t),
            _ => None,
        };
        let params = model
            .vars_of(Role::Param)
            .map(|(_, v)| v.ty.elements())
            .sum();
        let threads = train.map_or(0, |t| train::threads_for(params, t.batch, memory.threads));
        let need = memory::estimate(&code, train, threads, memory.keep_copy && train.is_some());
        memory::check(&need, budget).map_err(RunError::User)?;
    }
    let mut session = Session::new(&code, seed)?;
    if let Some(w) = weights_file {
        let names: Vec<(&str, &Ty)> = model
            .vars_of(Role::Param)
            .map(|(_, v)| (v.name.as_str(), &v.ty))
            .collect();
        let values = weights::read(w, &names).map_err(|e| RunError::User(e.to_string()))?;
        session.params.set(values.concat());
    }
    let data = match &model.data {
        Some(decl) => Some(
            data::load(decl, &model.vars, base_dir, seed).map_err(|mut e| {
                // The path as the user can open it: `data` paths are relative to the `.ebm` file,
                // which is rarely the working directory (`ebmc run examples/digits.ebm`).
                e.file = base_dir.join(&e.file).display().to_string();
                RunError::User(e.to_string())
            })?,
        ),
        None => None,
    };
    Ok(Setup {
        session,
        data,
        seed,
    })
}

/// Runs a checked model; `base_dir` is the directory of its `.ebm` file.
pub fn run(
    model: &Model,
    base_dir: &Path,
    opts: &RunOptions,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<RunOutcome, RunError> {
    check_outputs(opts)?;
    let threads = opts.threads.unwrap_or_else(train::default_threads);
    let backend = if opts.interp {
        Backend::Interp
    } else {
        Backend::Jit
    };
    let Setup {
        session: mut s,
        data,
        seed,
    } = setup(
        model,
        base_dir,
        &compile::Options {
            stage: !opts.unstaged,
            ..compile::Options::new(backend)
        },
        opts.seed,
        opts.weights.as_deref(),
        &Memory {
            budget: match opts.memory {
                Some(bytes) => Some(Budget {
                    bytes,
                    source: "the --memory budget".into(),
                }),
                None => memory::machine_budget(),
            },
            threads,
            keep_copy: opts.save.is_some(),
        },
    )?;
    let Some(loaded) = data else {
        if let Some(path) = &opts.save {
            save_weights(&s, path)?;
        }
        return infer_once(&mut s, opts, seed, None);
    };
    let mut history = Vec::new();
    let mut trained = false;
    let track = opts.track_test || opts.history.is_some();
    let mut epochs = Vec::new();
    // The weights after the last whole epoch, for `--save` when training fails.
    let mut last_whole = match &opts.save {
        Some(_) => {
            let mut w = memory::zeros(s.params.len(), "the weights kept for --save")?;
            w.copy_from_slice(&s.params);
            Some((0, w))
        }
        None => None,
    };
    if let (Some(t), None) = (&model.train, &opts.weights) {
        let mut t = t.clone();
        t.seed = seed;
        let result = train::train_observed(&mut s, &loaded.train, &t, threads, &mut |e, s| {
            on_epoch(e);
            if let Some((n, w)) = &mut last_whole {
                *n = e.epoch;
                w.copy_from_slice(&s.params);
            }
            if track {
                let test = if loaded.test.is_empty() {
                    None
                } else {
                    Some(evaluate(s, &loaded.test, &loaded, seed, threads)?.0)
                };
                epochs.push(history::Epoch {
                    epoch: e.epoch,
                    train_loss: e.loss,
                    test,
                });
            }
            Ok(())
        });
        if let Some(path) = &opts.history {
            // Also after a numeric failure: the epochs before it show how it came about.
            let h = History {
                model: model.name.clone(),
                epochs: epochs.clone(),
            };
            h.write(path).map_err(RunError::User)?;
        }
        match result {
            Ok(h) => {
                history = h;
                trained = true;
            }
            Err(e) => {
                let (
                    RunError::Numeric {
                        epoch,
                        step,
                        steps,
                        what,
                    },
                    Some(path),
                    Some((whole, good)),
                ) = (&e, &opts.save, last_whole)
                else {
                    return Err(e);
                };
                s.params.set(good);
                save_weights(&s, path)?;
                let saved = if whole == 0 {
                    "the initial weights (no epoch finished)".to_string()
                } else {
                    format!("the weights after epoch {whole}, the last whole one,")
                };
                return Err(RunError::User(format!(
                    "training stopped at epoch {epoch}, step {step} of {steps}: {what}; saved {saved} to {}",
                    path.display()
                )));
            }
        }
    }
    if let Some(path) = &opts.save {
        save_weights(&s, path)?;
    }
    if !opts.at.is_empty() {
        return infer_once(&mut s, opts, seed, Some(&loaded)).map(|o| RunOutcome {
            history,
            trained,
            epochs,
            ..o
        });
    }
    let (train_eval, train_predictions) = evaluate(&mut s, &loaded.train, &loaded, seed, threads)?;
    let test_eval = if loaded.test.is_empty() {
        // `split 1`: no test rows. The predictions the user asked for are those of the rows
        // there are; the `line` column says which.
        if let Some(path) = &opts.out {
            write_predictions(model, path, &train_predictions)?;
        }
        None
    } else {
        let (e, predictions) = evaluate(&mut s, &loaded.test, &loaded, seed, threads)?;
        if let Some(path) = &opts.out {
            write_predictions(model, path, &predictions)?;
        }
        Some(e)
    };
    let report = Report::Data {
        train: train_eval,
        test: test_eval,
    };
    if let Some(path) = &opts.metrics {
        report
            .write(path)
            .map_err(|e| RunError::User(e.to_string()))?;
    }
    Ok(RunOutcome {
        report,
        acceptance: s.acceptance,
        history,
        trained,
        epochs,
    })
}

/// Refuses outputs that [`atomic::write`] could not write later (a missing directory, a
/// directory where a file should be, a directory without write access), two outputs on one
/// file, and an output on the `--weights` file read.
fn check_outputs(opts: &RunOptions) -> Result<(), RunError> {
    let outputs: Vec<(&str, &Path)> = [
        ("--save", &opts.save),
        ("--metrics", &opts.metrics),
        ("--out", &opts.out),
        ("--history", &opts.history),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_deref().map(|p| (flag, p)))
    .collect();
    for (flag, path) in &outputs {
        atomic::check(path).map_err(|e| {
            RunError::User(format!(
                "{flag} {}: {}",
                path.display(),
                weights::io_message(&e)
            ))
        })?;
    }
    let files: Vec<Option<PathBuf>> = outputs.iter().map(|(_, p)| same_file_key(p)).collect();
    for (i, (flag, path)) in outputs.iter().enumerate() {
        if let Some(j) = (0..i).find(|&j| files[j].is_some() && files[j] == files[i]) {
            return Err(RunError::User(format!(
                "{} and {flag} both write {}; give each output its own file",
                outputs[j].0,
                path.display()
            )));
        }
    }
    if let Some(input) = &opts.weights {
        let key = same_file_key(input);
        if let Some(k) = (0..outputs.len()).find(|&k| key.is_some() && files[k] == key) {
            return Err(RunError::User(format!(
                "{} {} would overwrite the --weights file it reads; write to another file",
                outputs[k].0,
                outputs[k].1.display()
            )));
        }
    }
    Ok(())
}

/// What two paths must share to name one file: `-`, or the file a path finally names with its
/// directory made absolute (it may not exist yet). `None` for a device or FIFO, which
/// several outputs may share (`/dev/null`).
fn same_file_key(path: &Path) -> Option<PathBuf> {
    if path == Path::new("-") {
        return Some(path.to_path_buf());
    }
    let target = atomic::resolve(path).ok()?;
    if fs::metadata(&target).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return None;
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(fs::canonicalize(dir).ok()?.join(target.file_name()?))
}

fn save_weights(s: &Session, path: &Path) -> Result<(), RunError> {
    let entries: Vec<(&str, &Ty, &[f64])> = s
        .model()
        .vars_of(Role::Param)
        .map(|(id, v)| (v.name.as_str(), &v.ty, s.param(id)))
        .collect();
    weights::write(path, &entries).map_err(|e| RunError::User(e.to_string()))
}

/// A model without data: infer once from the declared starting points.
/// An error when inference ended on a non-finite energy or answer: naming what went
/// non-finite (`what` says for which row), never reported as a result.
fn not_finite_answer(model: &Model, p: &Point, energy: f64, what: &str) -> Result<(), RunError> {
    for id in inferred(model) {
        let v = model.var(id);
        if let Some(x) = p.values[id.0 as usize].iter().find(|x| !x.is_finite()) {
            return Err(RunError::User(format!(
                "inference{what} ended with `{}` = {x}: the energy or its gradient is not finite there",
                v.name
            )));
        }
    }
    if !energy.is_finite() {
        return Err(RunError::User(format!(
            "inference{what} ended with the energy = {energy}: check the energy's domain (log, sqrt, division) at the answer"
        )));
    }
    Ok(())
}

/// One inference at the inputs of `--at` (none, for a model without inputs), from the
/// declared starting points; `loaded` gives the units of standardized variables. Writes
/// `--out` and `--metrics` in the form of a model without data.
fn infer_once(
    s: &mut Session,
    opts: &RunOptions,
    seed: u64,
    loaded: Option<&Loaded>,
) -> Result<RunOutcome, RunError> {
    let code = Arc::clone(&s.code);
    let model = &code.model;
    let mut p = Point::zeros(model);
    for (id, values) in &opts.at {
        let mut values = values.clone();
        if let Some(st) = loaded.and_then(|l| l.standardization(*id)) {
            st.apply(&mut values).map_err(|element| {
                RunError::User(format!(
                    "--at {}: element {element} is too far from the training mean to standardize (its z-score overflows)",
                    model.var(*id).name
                ))
            })?;
        }
        p.values[id.0 as usize] = values;
    }
    if let Some((_, x)) = model
        .vars_of(Role::Input)
        .find(|(id, _)| !opts.at.iter().any(|(v, _)| v == id))
    {
        return Err(RunError::User(format!(
            "the model has the input `{}` but no `data` clause to read it from; give it with --at {}=VALUE, or add `data \"file.csv\" {{ {} = … }}`",
            x.name, x.name, x.name
        )));
    }
    let mut rng = Rng::new(seed);
    let energy = s.infer(&mut p, &mut rng)?;
    not_finite_answer(model, &p, energy, "")?;
    let values: Vec<(String, Ty, Vec<f64>)> = inferred(model)
        .into_iter()
        .map(|id| {
            let v = model.var(id);
            let mut values = p.values[id.0 as usize].clone();
            if let Some(st) = loaded.and_then(|l| l.standardization(id)) {
                st.restore(&mut values);
            }
            (v.name.clone(), v.ty.clone(), values)
        })
        .collect();
    if let Some(path) = &opts.out {
        let mut header: Vec<String> = values
            .iter()
            .flat_map(|(n, t, _)| column_names(n, t))
            .collect();
        let mut row: Vec<String> = values
            .iter()
            .flat_map(|(_, _, v)| v.iter().map(|x| format!("{x}")))
            .collect();
        // `enumerate(beta = β)`: the probability of every answer after the answer.
        if let Some((beta, true)) = probability_beta(model) {
            if let Some(es) = s.answer_energies(&mut p)? {
                let outs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
                header.extend(probability_columns(model, &outs));
                row.extend(
                    m::log_probabilities(&es, beta)
                        .iter()
                        .map(|l| format!("{}", l.exp())),
                );
            }
        }
        let text = format!("{}\n{}\n", header.join(","), row.join(","));
        crate::atomic::write(path, text.as_bytes())
            .map_err(|e| RunError::User(format!("{}: cannot write: {e}", path.display())))?;
    }
    let report = Report::Infer { values, energy };
    if let Some(path) = &opts.metrics {
        report
            .write(path)
            .map_err(|e| RunError::User(e.to_string()))?;
    }
    Ok(RunOutcome {
        report,
        acceptance: s.acceptance,
        history: Vec::new(),
        trained: false,
        epochs: Vec::new(),
    })
}

/// Outputs, then the latents named in an `infer` group.
fn inferred(model: &Model) -> Vec<VarId> {
    let mut ids: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    for g in &model.infer {
        for v in &g.vars {
            if !ids.contains(v) {
                ids.push(*v);
            }
        }
    }
    ids
}

/// Predictions of every row: per output, rows × elements, in the data's units.
struct Predictions {
    outputs: Vec<(VarId, Vec<f64>)>,
    /// With `infer … by enumerate(beta = β)`: the column names (`p_<answer>`) and rows ×
    /// answers probabilities of the joint answers of the outputs.
    probabilities: Option<(Vec<String>, Vec<f64>)>,
    lines: Vec<usize>,
}

/// The β of the probabilities of a model whose outputs are all discrete, and whether the
/// `infer` line asked for them: `enumerate(beta = β)` on a group naming an output; else the
/// β of an `nll` or `mee` loss (the distribution it trains); else 1. `None` when some output
/// is real (its answers are not enumerated).
pub fn probability_beta(model: &Model) -> Option<(f64, bool)> {
    let outs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    if outs.is_empty() || outs.iter().any(|o| !model.var(*o).ty.is_discrete()) {
        return None;
    }
    if let Some(b) = model
        .infer
        .iter()
        .filter(|g| g.vars.iter().any(|v| outs.contains(v)))
        .find_map(|g| g.beta)
    {
        return Some((b, true));
    }
    let from_loss = match model.loss.as_ref().map(|l| l.kind) {
        Some(crate::check::LossKind::Nll { beta } | crate::check::LossKind::Mee { beta }) => beta,
        _ => 1.0,
    };
    Some((from_loss, false))
}

/// The probability column names of the joint answers of `outs`: `p_` and each output's
/// answer name ([`Ty::answer_name`]), joined by `_` when there are several outputs.
fn probability_columns(model: &Model, outs: &[VarId]) -> Vec<String> {
    let mut names = vec![String::new()];
    for (i, o) in outs.iter().enumerate() {
        let ty = &model.var(*o).ty;
        let n = ty.states().unwrap_or(0);
        names = names
            .iter()
            .flat_map(|prefix| {
                (0..n).map(move |k| {
                    let sep = if i == 0 { "" } else { "_" };
                    format!("{prefix}{sep}{}", ty.answer_name(k))
                })
            })
            .collect();
    }
    names.into_iter().map(|n| format!("p_{n}")).collect()
}

/// Loss and output metrics of a dataset, and the predictions made.
fn evaluate(
    s: &mut Session,
    set: &Dataset,
    loaded: &Loaded,
    seed: u64,
    threads: usize,
) -> Result<(Evaluation, Predictions), RunError> {
    let code = Arc::clone(&s.code);
    let model = &code.model;
    let outputs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    let mut rng = Rng::new(seed ^ 0xe7a1);
    let density = model.is_density();
    let mut p = Point::zeros(model);
    let mut loss_sum = 0.0;
    let mut predicted: Vec<Vec<f64>> = vec![Vec::new(); outputs.len()];
    // Rows × joint answers log-probabilities, when every output is discrete.
    let beta = probability_beta(model);
    let mut log_p: Vec<f64> = Vec::new();
    let batch_outputs: Vec<Vec<Vec<f64>>> = if matches!(
        model.loss.as_ref().and_then(|l| l.negatives.as_ref()),
        Some(crate::check::Negatives::Shuffle)
    ) {
        (0..set.rows().min(32))
            .map(|r| {
                outputs
                    .iter()
                    .map(|o| set.var(*o).map(|v| v.row(r).to_vec()).unwrap_or_default())
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    // A sampler draws every row's answer at once, one chain per row (its last state is the
    // answer: a draw from P(y|x), spec section 7). A density model predicts nothing (its
    // sampler is for `ebmc sample`): no chains.
    let sampler = match density {
        true => None,
        false => super::sample::Chains::of_model(s)?,
    };
    let sampled = match sampler {
        Some((mut chains, sampler)) => {
            let points: Vec<Point> = (0..set.rows())
                .map(|r| {
                    let mut q = Point::zeros(model);
                    load_row(set, r, &mut q);
                    q
                })
                .collect();
            let mut state = vec![0.0; set.rows() * chains.width()];
            let stats = chains.run(
                s,
                &sampler,
                super::sample::Given::Each(&points),
                &mut state,
                super::sample::Start::Init,
                &mut rng,
            )?;
            if let Some(a) = stats.acceptance() {
                s.acceptance = Some(a);
            }
            Some((chains, state))
        }
        None => None,
    };
    // Rows go by batches: the batched loss and inference's prepare (what does not depend on
    // the answer) run once per batch of rows; the rest, row by row.
    let all: Vec<usize> = (0..set.rows()).collect();
    // The density losses' points (ỹ, noise, CD-k samples) for a chunk of rows at once.
    let mut points = super::train::StepNegatives::for_metrics(s)?;
    let mut given = Point::zeros(model);
    let (mut row_points, mut row_energies) = (Vec::new(), Vec::new());
    let zero_outputs = |p: &mut Point| {
        for o in &outputs {
            if !model.var(*o).ty.is_discrete() {
                p.values[o.0 as usize].iter_mut().for_each(|x| *x = 0.0);
            }
        }
    };
    // The loss `energy` of a batch of rows inferred together comes from the energies at the
    // rows' labels, which the batched descent step computes from the stage values it has
    // anyway (no second pass of the network: `Session::infer_rows`).
    let labels = s.loss_is_label_energy();
    // With several threads, every whole batch of rows is inferred first, batches spread over
    // the threads (the same answers as one thread: `infer_all_rows` says when it applies).
    let answers = match (&sampled, density) {
        (None, false) => {
            let ready = |r: usize, q: &mut Point| {
                load_row(set, r, q);
                if !labels {
                    zero_outputs(q);
                }
            };
            super::infer::infer_all_rows(s, set, threads, labels, &ready)?
        }
        _ => None,
    };
    for rows in all.chunks(crate::compile::BATCH) {
        if let Some(n) = &mut points {
            n.draw(s, set, rows, seed, 0, &mut rng)?;
            loss_sum += s.loss_rows_given(set, rows, &n.rows(0, rows.len()), &mut given)?;
        }
        let batched_loss = points.is_some() || s.loss_batches(rows.len());
        let per_row_loss = s.has_loss() && !batched_loss;
        // The rows infer together when they can ([`Session::infer_rows`]): nothing may draw
        // from `rng` between rows then (no per-row loss, no sampler, no density).
        let answered = answers.as_ref().is_some_and(|a| a.covers(rows[0]));
        let mut label_loss = answers.as_ref().and_then(|a| a.labels(rows[0]));
        let mut inferred = false;
        if !answered && sampled.is_none() && !density && !per_row_loss {
            row_points.resize_with(rows.len(), || Point::zeros(model));
            row_energies.resize(rows.len(), 0.0);
            for (q, &row) in row_points.iter_mut().zip(rows) {
                load_row(set, row, q);
                if !labels {
                    zero_outputs(q);
                }
            }
            let (points, energies) = (&mut row_points[..rows.len()], &mut row_energies[..]);
            let mut sum = 0.0;
            let at_labels = labels.then_some(&mut sum);
            let energies = &mut energies[..rows.len()];
            inferred = s.infer_rows(set, rows, points, energies, at_labels, &mut rng)?;
            if inferred && labels {
                label_loss = Some(sum);
            }
        }
        if points.is_none() && batched_loss {
            match label_loss {
                Some(l) => loss_sum += l,
                None => {
                    if let Some(loss) = s.loss_batch(set, rows) {
                        loss_sum += loss?;
                    }
                }
            }
        }
        // The per-row path prepares its rows by batch, unless nothing of it runs: the rows
        // were inferred (here or by `infer_all_rows`) and no per-row loss needs them.
        let per_row_work = !inferred && (!answered || per_row_loss);
        let prepared = per_row_work && s.prepare_rows(set, rows)?;
        for (k, &row) in rows.iter().enumerate() {
            let energy = if inferred {
                p.copy_from(&row_points[k]);
                row_energies[k]
            } else {
                load_row(set, row, &mut p);
                // The row's stage values first: the loss's own evaluations (latents,
                // negatives) use them too.
                if prepared {
                    s.use_prepared_row(k, &p);
                }
                if per_row_loss {
                    loss_sum += s.loss(&mut p, &batch_outputs, &mut rng)?;
                }
                if density {
                    // Nothing to predict: a density model is judged by the energy and the NLL
                    // of its rows (below).
                    continue;
                }
                zero_outputs(&mut p);
                let given = answers.as_ref().and_then(|a| a.answer(row, &mut p));
                match (&sampled, given) {
                    (Some((chains, state)), _) => {
                        let w = chains.width();
                        let at = &state[row * w..(row + 1) * w];
                        super::sample::write_values(chains, at, &mut p);
                        s.energy(&mut p)?
                    }
                    (None, Some(energy)) => energy,
                    (None, None) => s.infer(&mut p, &mut rng)?,
                }
            };
            let line = set.lines.get(row).copied().unwrap_or(row + 2);
            not_finite_answer(model, &p, energy, &format!(" for the row on line {line}"))?;
            if let Some((b, _)) = beta {
                // The rows enumerated together have every answer's energy already.
                match inferred.then(|| s.batch_answer_energies(k)).flatten() {
                    Some(es) => log_p.extend(m::log_probabilities(es, b)),
                    None => {
                        if let Some(es) = s.answer_energies(&mut p)? {
                            log_p.extend(m::log_probabilities(&es, b));
                        }
                    }
                }
            }
            for (k, o) in outputs.iter().enumerate() {
                predicted[k].extend_from_slice(&p.values[o.0 as usize]);
            }
        }
    }
    let mut metrics = Vec::new();
    let mut kept = Vec::new();
    if density {
        let energy = super::density::mean_energy(s, set)?;
        let (nll, nll_se) = match &model.partition {
            Some(part) if set.rows() > 0 => {
                let (log_z, se) = super::density::log_partition_se(s, part, Some(loaded))?;
                (Some(energy + log_z), se)
            }
            _ => (None, None),
        };
        let signs = outputs
            .iter()
            .all(|o| matches!(model.var(*o).ty, Ty::Sign(_)));
        let pll = if signs && set.rows() > 0 {
            Some(super::density::pseudo_log_likelihood(
                s,
                set,
                &mut Rng::new(seed ^ 0x911),
            )?)
        } else {
            None
        };
        if set.rows() > 0 {
            metrics.push((
                "density".to_string(),
                OutputMetrics::Density {
                    energy,
                    nll,
                    nll_se,
                    pll,
                },
            ));
        }
    }
    let radices: Vec<usize> = outputs
        .iter()
        .map(|o| model.var(*o).ty.states().unwrap_or(1))
        .collect();
    let joint: usize = radices.iter().product();
    let rows = set.rows();
    let have_p = beta.is_some() && rows > 0 && log_p.len() == rows * joint;
    for (k, o) in outputs.iter().enumerate().filter(|_| !density) {
        let v = model.var(*o);
        let mut truth = set.var(*o).map(|d| d.values.clone()).unwrap_or_default();
        let mut pred = std::mem::take(&mut predicted[k]);
        if let Some(st) = loaded.standardization(*o) {
            st.restore(&mut pred);
            st.restore(&mut truth);
        }
        if let Some(mut met) = OutputMetrics::of(&v.ty, &pred, &truth) {
            if let (OutputMetrics::Discrete { calibration, .. }, true) = (&mut met, have_p) {
                let w = v.ty.elements().max(1);
                let labels: Vec<usize> = truth.chunks(w).map(|t| v.ty.answer_index(t)).collect();
                let marginal: Vec<f64> = log_p
                    .chunks(joint)
                    .flat_map(|row| m::marginal_log_probabilities(row, &radices, k))
                    .collect();
                *calibration = Calibration::of(&marginal, radices[k], &labels);
            }
            metrics.push((v.name.clone(), met));
        }
        kept.push((*o, pred));
    }
    let probabilities = match beta {
        Some((_, true)) if have_p => Some((
            probability_columns(model, &outputs),
            log_p.iter().map(|l| l.exp()).collect(),
        )),
        _ => None,
    };
    let loss = s.has_loss().then(|| loss_sum / set.rows().max(1) as f64);
    Ok((
        Evaluation {
            loss,
            outputs: metrics,
        },
        Predictions {
            outputs: kept,
            probabilities,
            lines: set.lines.clone(),
        },
    ))
}

/// The CSV column names of a variable: its name for a scalar, `name[i]` per element else.
pub fn column_names(name: &str, ty: &Ty) -> Vec<String> {
    match ty {
        Ty::Real(s) | Ty::Sign(s) if !s.is_scalar() => {
            (0..s.len()).map(|i| format!("{name}[{i}]")).collect()
        }
        _ => vec![name.to_string()],
    }
}

/// One CSV row per example: its line in the data file, then the predicted outputs.
fn write_predictions(model: &Model, path: &Path, p: &Predictions) -> Result<(), RunError> {
    let mut header = vec!["line".to_string()];
    for (id, _) in &p.outputs {
        let v = model.var(*id);
        header.extend(column_names(&v.name, &v.ty));
    }
    if let Some((names, _)) = &p.probabilities {
        header.extend(names.iter().cloned());
    }
    let mut text = header.join(",") + "\n";
    for (r, line) in p.lines.iter().enumerate() {
        let mut row = vec![line.to_string()];
        for (id, values) in &p.outputs {
            let w = model.var(*id).ty.elements();
            row.extend(values[r * w..(r + 1) * w].iter().map(|x| format!("{x}")));
        }
        if let Some((names, probs)) = &p.probabilities {
            let k = names.len();
            row.extend(probs[r * k..(r + 1) * k].iter().map(|x| format!("{x}")));
        }
        text.push_str(&row.join(","));
        text.push('\n');
    }
    crate::atomic::write(path, text.as_bytes()).map_err(|e| {
        RunError::User(format!(
            "{}: cannot write the predictions: {e}",
            path.display()
        ))
    })
}
