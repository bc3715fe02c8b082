//! `ebmc._native`: the Python face of the ebmc library. The Python package `ebmc`
//! (python/ebmc/__init__.py) re-exports it; the stubs in `__init__.pyi` document it.
//!
//! Everything here goes through the same library functions as the `ebmc` command, so the
//! numbers are the command's:
//! * `energy` and `grad` run the energy and gradient entry points of the native code training
//!   runs (equal to `ebmc eval` to rounding), or with `compile(…, strict=True)` of the strict
//!   code `ebmc eval` runs ([`ebmc::runtime::eval`]): same energy, same gradients, bit for
//!   bit. Their kernels keep the params in their buffers between calls (copied again when
//!   they change), and a call light enough keeps the GIL, which costs less than releasing it;
//! * `fit` is `ebmc run`'s training ([`ebmc::runtime::train::train`]) on a session
//!   initialised with the same seed and the same data split ([`ebmc::runtime::data`]), so the
//!   weights equal `ebmc run --seed S --save` bit for bit;
//! * `infer` is `ebmc run --at`'s inference ([`ebmc::runtime::session::Session::infer`]),
//!   one row at a time with a generator seeded by the training seed, in the data's units
//!   when the model standardizes (statistics of the last `fit`).
//!
//! Invariants:
//! * arrays are `float64`, row-major; a leading axis beyond a variable's declared shape is
//!   a batch, and every batched argument of one call has the same length. A batch is one
//!   native call: the loop over its rows runs in Rust (with the GIL released unless the
//!   whole call is a few microseconds of work), reading a
//!   C-contiguous `float64` argument where it lies (no copy), so the caller must not write
//!   to it from another thread during the call (as with any numpy function that releases
//!   the GIL);
//! * every variable given is checked (name, shape, and its values: finite reals, `class[k]`
//!   and `sign` values) with a `ValueError` naming it — before any native code runs, except
//!   the rows of a batched `real` argument of `energy`/`grad`, checked as each is copied for
//!   its call (one pass over the batch, not two), the error naming the row;
//! * the source's diagnostics become `ebmc.EbmcError` carrying the code of the first error
//!   and the whole rendered report, without colour.

use ebmc::check::{Model, Role, Sampler, Var, VarId};
use ebmc::compile::{self, Backend, Compiled, Entry, Input, Kernel, Output};
use ebmc::diag::{self, Color};
use ebmc::driver;
use ebmc::rng::Rng;
use ebmc::runtime::data::{self, ColumnRef, Dataset, Loaded, Standardization, VarData};
use ebmc::runtime::session::{Point, RunError, Session};
use ebmc::runtime::{sample, train, weights};
use ebmc::types::Ty;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{AllowTypeChange, IntoPyArray, PyArrayLikeDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

pyo3::create_exception!(
    ebmc,
    EbmcError,
    PyException,
    "A diagnostic of the ebmc compiler or a failure of a run: `.code` is the error code (such as \"E0101\", or None for a run's failure) and `.rendered` the report as `ebmc check` prints it, without colour."
);

/// An `EbmcError` with its `code` and `rendered` attributes; `str()` is the rendered text.
fn ebmc_error(py: Python<'_>, code: Option<&str>, rendered: String) -> PyErr {
    let err = EbmcError::new_err(rendered.clone());
    let value = err.value(py);
    // Setting attributes on a fresh exception object cannot fail but for memory.
    let _ = value.setattr("code", code);
    let _ = value.setattr("rendered", rendered);
    err
}

fn run_error(py: Python<'_>, e: RunError) -> PyErr {
    ebmc_error(py, None, e.to_string())
}

fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// The declared dimensions of a variable (none for a scalar, `class[k]` or `sign`).
fn dims(ty: &Ty) -> &[usize] {
    ty.shape().map(|s| s.0.as_slice()).unwrap_or(&[])
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Input => "input",
        Role::Output => "output",
        Role::Latent => "latent",
        Role::Param => "param",
    }
}

/// A variable's values as given in one call: flat, row-major, `rows` × elements when batched.
/// Borrowed from the caller's array when it is a C-contiguous `float64` array — no copy —
/// and copied once otherwise (another dtype, which numpy converts, or a strided view).
struct Given<'a> {
    id: VarId,
    values: Cow<'a, [f64]>,
    rows: Option<usize>,
    /// Whether the values are still to be checked (`real` rows checked by the caller as it
    /// reads each row, while the row is in cache: [`read_vars`] with `rows_checked_later`).
    unchecked: bool,
}

impl Given<'_> {
    /// The elements of row `r` (the whole value when not batched).
    fn row(&self, r: usize, width: usize) -> &[f64] {
        match self.rows {
            Some(_) => &self.values[r * width..(r + 1) * width],
            None => &self.values,
        }
    }
}

/// The arrays of one call, held (and borrowed read-only from Rust) while native code reads
/// their values through [`Arrays::given`].
struct Arrays<'py> {
    list: Vec<Held<'py>>,
}

/// A variable given: its rows when batched, whether its values are still to be checked,
/// and its array.
type Held<'py> = (
    VarId,
    Option<usize>,
    bool,
    PyArrayLikeDyn<'py, f64, AllowTypeChange>,
);

impl Arrays<'_> {
    /// The values of each array, borrowed where they are contiguous.
    fn given(&self) -> Vec<Given<'_>> {
        self.list
            .iter()
            .map(|(id, rows, unchecked, array)| Given {
                id: *id,
                // `as_slice` also accepts a Fortran-ordered array, whose memory is not in
                // the row-major order read here.
                values: match array.as_slice() {
                    Ok(slice) if array.is_c_contiguous() => Cow::Borrowed(slice),
                    _ => Cow::Owned(array.as_array().iter().copied().collect()),
                },
                rows: *rows,
                unchecked: *unchecked,
            })
            .collect()
    }
}

/// The values of every input of `model` for `what` (`infer`, `sample`): only inputs are
/// accepted and none may be missing; with the batch size when they have a leading axis.
fn read_inputs<'py>(
    model: &Model,
    inputs: Option<&Bound<'py, PyDict>>,
    what: &str,
) -> PyResult<(Arrays<'py>, Option<usize>)> {
    let admit = |v: &Var| match v.role {
        Role::Input => Ok(()),
        r => Err(format!("{what} takes inputs; this is a {}", role_name(r))),
    };
    let (given, batch) = read_vars(model, inputs, &admit, false)?;
    if let Some((_, v)) = model
        .vars_of(Role::Input)
        .find(|(id, _)| !given.list.iter().any(|(g, ..)| g == id))
    {
        return Err(value_error(format!(
            "{what}: no value for the input `{}` ({})",
            v.name,
            weights::describe(&v.ty)
        )));
    }
    Ok((given, batch))
}

/// Reads keyword arguments as variables of `model`: each named variable must exist and pass
/// `admit`, have its declared shape with at most one leading batch axis, and hold values of
/// its type. Returns them with the batch length (`None` when nothing is batched).
/// With `rows_checked_later`, the values of batched `real` arguments are left for the caller
/// to check row by row ([`check_row`]) as it copies them: a pass over the whole batch here
/// would read it from memory once more.
fn read_vars<'py>(
    model: &Model,
    kwargs: Option<&Bound<'py, PyDict>>,
    admit: &dyn Fn(&Var) -> Result<(), String>,
    rows_checked_later: bool,
) -> PyResult<(Arrays<'py>, Option<usize>)> {
    let mut given = Arrays { list: Vec::new() };
    let mut batch: Option<(usize, String)> = None;
    let Some(kwargs) = kwargs else {
        return Ok((given, None));
    };
    for (key, value) in kwargs.iter() {
        let key = key.cast_into::<PyString>()?;
        let name = key.to_str()?;
        let id = model.var_named(name).ok_or_else(|| {
            let names: Vec<&str> = model.vars.iter().map(|v| v.name.as_str()).collect();
            value_error(format!(
                "model `{}` has no variable `{name}`; it has {}",
                model.name,
                names.join(", ")
            ))
        })?;
        let var = model.var(id);
        admit(var).map_err(|e| value_error(format!("`{name}`: {e}")))?;
        let array: PyArrayLikeDyn<'py, f64, AllowTypeChange> = value.extract().map_err(|_| {
            value_error(format!(
                "`{name}`: expected {} as a number or an array of numbers",
                weights::describe(&var.ty)
            ))
        })?;
        let shape = array.shape();
        let want = dims(&var.ty);
        let rows = if shape == want {
            None
        } else if shape.len() == want.len() + 1 && &shape[1..] == want {
            Some(shape[0])
        } else {
            let tuple = |d: &[usize]| match d {
                [n] => format!("({n},)"),
                d => format!(
                    "({})",
                    d.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let batched: Vec<usize> = std::iter::once(0).chain(want.iter().copied()).collect();
            return Err(value_error(format!(
                "`{name}` is {}: expected an array of shape {}, or {} for a batch of n, found shape {}",
                weights::describe(&var.ty),
                tuple(want),
                tuple(&batched).replacen('0', "n", 1),
                tuple(shape)
            )));
        };
        if let Some(n) = rows {
            match &batch {
                Some((m, other)) if *m != n => {
                    return Err(value_error(format!(
                        "`{name}` has a batch of {n} rows but `{other}` has {m}: every batched argument needs the same number"
                    )))
                }
                Some(_) => {}
                None => batch = Some((n, name.to_string())),
            }
        }
        let later = rows_checked_later && rows.is_some() && !var.ty.is_discrete();
        let admitted = later
            || match array.as_slice() {
                Ok(values) => var.ty.admits_all(values),
                Err(_) => array.as_array().iter().all(|&x| var.ty.admits(x)),
            };
        if !admitted {
            return Err(value_error(format!(
                "`{name}`: not a value of its type: expected {}",
                weights::describe(&var.ty)
            )));
        }
        given.list.push((id, rows, later, array));
    }
    Ok((given, batch.map(|(n, _)| n)))
}

/// Values as a numpy array of `dims` (with a leading axis of `rows` when batched), moved,
/// not copied; `class` and `sign` values as integers.
fn to_array<'py>(
    py: Python<'py>,
    ty: &Ty,
    rows: Option<usize>,
    values: Vec<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut shape: Vec<usize> = rows.into_iter().collect();
    shape.extend_from_slice(dims(ty));
    let bad = |e: numpy::ndarray::ShapeError| value_error(e.to_string());
    Ok(if ty.is_discrete() {
        let ints: Vec<i64> = values.iter().map(|x| *x as i64).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), ints)
            .map_err(bad)?
            .into_pyarray(py)
            .into_any()
    } else {
        ArrayD::from_shape_vec(IxDyn(&shape), values)
            .map_err(bad)?
            .into_pyarray(py)
            .into_any()
    })
}

/// A compiled model and its state. Behind the [`Model`]'s lock.
struct Inner {
    model: Arc<Model>,
    /// Where relative `data` paths start: the `.ebm` file's directory, or the working
    /// directory for source text.
    base_dir: PathBuf,
    /// The training seed: `train`'s, or the last `fit`'s.
    seed: u64,
    /// Native code as `ebmc run` compiles it, with the params (initialised from `seed`).
    session: Session,
    /// Strict native code as `ebmc eval` compiles it, made on first use.
    strict: Option<Arc<Compiled>>,
    /// Whether `energy` and `grad` run the strict code (`compile(…, strict=True)`) rather
    /// than the session's.
    eval_strict: bool,
    /// The energy and gradient entry points `energy` and `grad` call, bound on first use.
    energy_kernel: Option<PointKernel>,
    grad_kernel: Option<PointKernel>,
    /// The z-score maps of the last `fit` (the model's `standardize`).
    standardized: Vec<Standardization>,
}

/// Calls whose work (rows × the kernel's buffer elements) is at most this run without
/// releasing the GIL: a few microseconds of native code, less than releasing and taking the
/// GIL back costs, and too short for another thread to use.
const LIGHT_WORK: usize = 1 << 15;

impl Inner {
    /// Strict native code as `ebmc eval` compiles it, compiled on first use.
    fn strict_code(&mut self) -> Result<Arc<Compiled>, RunError> {
        if let Some(c) = &self.strict {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(compile::compile(
            &self.model,
            &compile::Options::new(Backend::JitStrict),
        )?);
        self.strict = Some(Arc::clone(&c));
        Ok(c)
    }

    fn point_kernel(&mut self, with_grads: bool) -> &mut Option<PointKernel> {
        match with_grads {
            true => &mut self.grad_kernel,
            false => &mut self.energy_kernel,
        }
    }

    /// Whether a call of `rows` rows is light enough to run holding the GIL (its kernel
    /// bound already).
    fn is_light(&mut self, rows: usize, with_grads: bool) -> bool {
        self.point_kernel(with_grads)
            .as_ref()
            .is_some_and(|k| rows.saturating_mul(k.work()) <= LIGHT_WORK)
    }

    /// The energy (and, `with_grads`, the gradients) of every row of `given`, on the
    /// session's code or, with `strict`, on `ebmc eval`'s.
    fn eval_rows(
        &mut self,
        given: &[Given],
        rows: usize,
        with_grads: bool,
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), EvalError> {
        if self.point_kernel(with_grads).is_none() {
            let code = match self.eval_strict {
                true => self.strict_code()?,
                false => Arc::clone(&self.session.code),
            };
            let entry = if with_grads {
                Entry::Grad
            } else {
                Entry::Energy
            };
            *self.point_kernel(with_grads) = Some(PointKernel::new(&code, entry)?);
        }
        let kernel = match with_grads {
            true => self.grad_kernel.as_mut(),
            false => self.energy_kernel.as_mut(),
        }
        .expect("bound above");
        kernel.eval_rows(&self.session, given, rows, with_grads)
    }
}

/// A compiled model: `energy`, `grad`, `infer`, `fit`, `weights`, `save`, `load`.
#[pyclass(module = "ebmc", name = "Model")]
struct PyModel {
    inner: Mutex<Inner>,
    model: Arc<Model>,
}

impl PyModel {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic inside a native call poisons the lock; the state is still whole (every
        // update is a whole assignment), so the next call may go on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn params(&self) -> Vec<(VarId, &Var)> {
        self.model.vars_of(Role::Param).collect()
    }
}

/// Why `energy` or `grad` failed: the run (an `EbmcError`), or a value given (a
/// `ValueError`, made with the GIL held).
enum EvalError {
    Run(RunError),
    Value(String),
}

impl From<RunError> for EvalError {
    fn from(e: RunError) -> EvalError {
        EvalError::Run(e)
    }
}

/// The error of row `r` of a batched argument of `var` holding a value not of its type.
fn row_error(var: &Var, r: usize) -> EvalError {
    EvalError::Value(format!(
        "`{}`, row {r}: not a value of its type: expected {}",
        var.name,
        weights::describe(&var.ty)
    ))
}

/// Where an input port of a [`PointKernel`] takes its values from.
#[derive(Clone, Copy)]
enum PortSource {
    /// A param: the session's unless the call gives it.
    Param(VarId),
    /// An input, output or latent: always given.
    Given(VarId),
}

/// The `energy` or `grad` entry point bound for calls at points: its buffers are kept
/// between calls, and the session's params are copied into them only when they changed
/// (their version), so a call at one point copies the point's values and nothing else.
struct PointKernel {
    kernel: Kernel,
    /// Per input port.
    ports: Vec<PortSource>,
    /// The output port of the energy.
    energy: Option<usize>,
    /// The output port of each variable's gradient, indexed by `VarId`.
    grads: Vec<Option<usize>>,
    /// The version of the session's params in the input buffer, if they are there whole.
    loaded: Option<u64>,
}

impl PointKernel {
    fn new(code: &Arc<Compiled>, entry: Entry) -> Result<PointKernel, RunError> {
        let kernel = code.kernel(entry).ok_or_else(|| {
            RunError::Compile(format!("the model has no `{}` kernel", entry.name()))
        })?;
        let model = &code.model;
        let ports = kernel
            .entry()
            .inputs
            .iter()
            .map(|p| match p.what {
                Input::Value(v) if model.var(v).role == Role::Param => Ok(PortSource::Param(v)),
                Input::Value(v) => Ok(PortSource::Given(v)),
                Input::Negative(_) | Input::Stage(_) => Err(RunError::Compile(format!(
                    "the `{}` kernel takes values besides the variables",
                    entry.name()
                ))),
            })
            .collect::<Result<_, _>>()?;
        let outputs = &kernel.entry().outputs;
        let energy = outputs.iter().position(|p| p.what == Output::Energy);
        let grads = (0..model.vars.len())
            .map(|i| {
                let id = VarId(i as u32);
                outputs.iter().position(|p| p.what == Output::Grad(id))
            })
            .collect();
        Ok(PointKernel {
            kernel,
            ports,
            energy,
            grads,
            loaded: None,
        })
    }

    /// Roughly the work of one call, in buffer elements: what decides whether a call is
    /// long enough to release the GIL for.
    fn work(&self) -> usize {
        let e = self.kernel.entry();
        e.input_len + e.output_len + e.scratch_len()
    }

    /// The energy (and, `with_grads`, the gradients) of every row of `given`; params not
    /// given come from `session`.
    fn eval_rows(
        &mut self,
        session: &Session,
        given: &[Given],
        rows: usize,
        with_grads: bool,
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), EvalError> {
        let model = &session.code.model;
        self.kernel.ready().map_err(RunError::from)?;
        // Each port's values: what is the same for every row is written once, here; the
        // rows of batched arguments are written per row below.
        let fresh = self.loaded.take() == Some(session.params.version());
        let mut per_row: Vec<(usize, &Given, usize)> = Vec::new();
        let mut gives_params = false;
        for (k, &source) in self.ports.iter().enumerate() {
            let (id, param) = match source {
                PortSource::Param(v) => (v, true),
                PortSource::Given(v) => (v, false),
            };
            let width = model.var(id).ty.elements();
            match given.iter().find(|g| g.id == id) {
                Some(g) => {
                    gives_params |= param;
                    match g.rows {
                        Some(_) => per_row.push((k, g, width)),
                        None => self.kernel.input_mut(k).copy_from_slice(&g.values),
                    }
                }
                None if param => {
                    if !fresh {
                        self.kernel.input_mut(k).copy_from_slice(session.param(id));
                    }
                }
                None => {
                    return Err(EvalError::Run(RunError::Compile(format!(
                        "no value for `{}`",
                        model.var(id).name
                    ))))
                }
            }
        }
        // A param given in the call takes the place of the session's in the buffer.
        self.loaded = (!gives_params).then(|| session.params.version());
        let mut energies = Vec::with_capacity(rows);
        let mut grads: Vec<Vec<f64>> = vec![Vec::new(); model.vars.len()];
        for r in 0..rows {
            for &(k, g, width) in &per_row {
                let (dst, src) = (self.kernel.input_mut(k), g.row(r, width));
                if !g.unchecked {
                    dst.copy_from_slice(src);
                } else if !ebmc::types::copy_finite(dst, src) {
                    return Err(row_error(model.var(g.id), r));
                }
            }
            self.kernel.call().map_err(RunError::from)?;
            energies.push(self.energy.map_or(f64::NAN, |k| self.kernel.output(k)[0]));
            if !with_grads {
                continue;
            }
            for (i, v) in model.vars.iter().enumerate() {
                if v.role == Role::Input || v.ty.is_discrete() {
                    continue;
                }
                match self.grads[i] {
                    Some(k) => grads[i].extend_from_slice(self.kernel.output(k)),
                    None => grads[i].extend(std::iter::repeat_n(0.0, v.ty.elements())),
                }
            }
        }
        Ok((energies, grads))
    }
}

/// Draws `n` samples of the outputs and latents from the Gibbs distribution
/// p(v | x) ∝ exp(−E(x, v)) at each row of inputs, on the strict gradient kernel. Every
/// sampled variable discrete: exactly, from the energies of every answer. Every one real:
/// `n` independent chains of unadjusted Langevin dynamics from standard normal starts,
/// v ← v − step·∇E + √(2·step)·ξ for `steps` steps. Returns per sampled variable (in
/// `sampled` order) rows × n × elements values.
#[allow(clippy::too_many_arguments)]
fn sample_rows(
    code: &Arc<Compiled>,
    session: &Session,
    given: &[Given],
    sampled: &[VarId],
    rows: usize,
    n: usize,
    steps: usize,
    step: f64,
    rng: &mut Rng,
) -> Result<Vec<Vec<f64>>, RunError> {
    let model = &code.model;
    let discrete = sampled
        .iter()
        .filter(|id| model.var(**id).ty.is_discrete())
        .count();
    if discrete != 0 && discrete != sampled.len() {
        return Err(RunError::User(
            "sample: a model with both discrete and real outputs or latents is not supported yet"
                .into(),
        ));
    }
    let mut kernel = code
        .kernel(Entry::Grad)
        .ok_or_else(|| RunError::Compile("the model has no gradient kernel".into()))?;
    let ports = kernel.entry().outputs.clone();
    let energy_port = ports
        .iter()
        .position(|p| p.what == Output::Energy)
        .ok_or_else(|| RunError::Compile("the gradient kernel has no energy".into()))?;
    let grad_ports: Vec<Option<usize>> = sampled
        .iter()
        .map(|id| ports.iter().position(|p| p.what == Output::Grad(*id)))
        .collect();
    // One evaluation at row `r` with the sampled variables at `current`: the energy, and the
    // gradient of each sampled variable into `grads` (when asked for).
    let mut call = |r: usize,
                    current: &[Vec<f64>],
                    grads: Option<&mut Vec<Vec<f64>>>|
     -> Result<f64, RunError> {
        for k in 0..kernel.entry().inputs.len() {
            let v = match kernel.entry().inputs[k].what {
                Input::Value(v) | Input::Negative(v) => v,
                Input::Stage(_) => {
                    return Err(RunError::Compile(
                        "the gradient kernel takes no stage values".into(),
                    ))
                }
            };
            let width = model.var(v).ty.elements();
            let values = match sampled.iter().position(|s| *s == v) {
                Some(j) => &current[j][..],
                None => match given.iter().find(|g| g.id == v) {
                    Some(g) => g.row(r, width),
                    None => session.param(v),
                },
            };
            kernel.input_mut(k).copy_from_slice(values);
        }
        kernel.call()?;
        if let Some(grads) = grads {
            for (j, port) in grad_ports.iter().enumerate() {
                match port {
                    Some(k) => grads[j].copy_from_slice(kernel.output(*k)),
                    None => grads[j].iter_mut().for_each(|g| *g = 0.0),
                }
            }
        }
        Ok(kernel.output(energy_port)[0])
    };
    let widths: Vec<usize> = sampled
        .iter()
        .map(|id| model.var(*id).ty.elements())
        .collect();
    let mut current: Vec<Vec<f64>> = widths.iter().map(|w| vec![0.0; *w]).collect();
    let mut out: Vec<Vec<f64>> = widths
        .iter()
        .map(|w| Vec::with_capacity(rows * n * w))
        .collect();
    if discrete > 0 {
        // Every answer, in mixed radix over the sampled variables.
        let sizes: Vec<usize> = sampled
            .iter()
            .map(|id| model.var(*id).ty.states().unwrap_or(usize::MAX))
            .collect();
        let total = sizes
            .iter()
            .try_fold(1usize, |a, s| a.checked_mul(*s))
            .filter(|t| *t <= 1 << 20)
            .ok_or_else(|| RunError::User("sample: more than 2^20 answers to enumerate".into()))?;
        let set = |mut a: usize, current: &mut [Vec<f64>]| {
            for (j, id) in sampled.iter().enumerate() {
                let i = a % sizes[j];
                a /= sizes[j];
                current[j] = model.var(*id).ty.answer(i);
            }
        };
        let mut weights = vec![0.0; total];
        for r in 0..rows {
            for (a, w) in weights.iter_mut().enumerate() {
                set(a, &mut current);
                *w = call(r, &current, None)?;
            }
            let least = weights.iter().copied().fold(f64::INFINITY, f64::min);
            if !least.is_finite() {
                return Err(RunError::User(format!(
                    "sample: the energy is {least} at row {r}: no distribution to draw from"
                )));
            }
            let mut sum = 0.0;
            for w in weights.iter_mut() {
                *w = (-(*w - least)).exp();
                sum += *w;
            }
            for _ in 0..n {
                let mut u = rng.uniform() * sum;
                let mut a = 0;
                while a + 1 < total && u >= weights[a] {
                    u -= weights[a];
                    a += 1;
                }
                set(a, &mut current);
                for (j, c) in current.iter().enumerate() {
                    out[j].extend_from_slice(c);
                }
            }
        }
        return Ok(out);
    }
    let mut grads: Vec<Vec<f64>> = widths.iter().map(|w| vec![0.0; *w]).collect();
    let noise = (2.0 * step).sqrt();
    for r in 0..rows {
        for _ in 0..n {
            for c in current.iter_mut() {
                c.iter_mut().for_each(|x| *x = rng.normal());
            }
            for s in 0..steps {
                call(r, &current, Some(&mut grads))?;
                for (c, g) in current.iter_mut().zip(&grads) {
                    for (x, d) in c.iter_mut().zip(g) {
                        *x += -step * d + noise * rng.normal();
                    }
                }
                if current.iter().flatten().any(|x| !x.is_finite()) {
                    return Err(RunError::User(format!(
                        "sample: Langevin dynamics diverged at step {} of {steps} (row {r}); take a smaller step",
                        s + 1
                    )));
                }
            }
            for (j, c) in current.iter().enumerate() {
                out[j].extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// The model's own sampler with `steps` (sweeps for `gibbs`) and `step` (the rate of
/// `langevin` and `hmc`) replaced when given.
fn with_overrides(sampler: Sampler, steps: Option<usize>, step: Option<f64>) -> PyResult<Sampler> {
    Ok(match sampler {
        Sampler::Langevin {
            steps: s,
            rate,
            beta,
            init,
        } => Sampler::Langevin {
            steps: steps.unwrap_or(s),
            rate: step.unwrap_or(rate),
            beta,
            init,
        },
        Sampler::Hmc {
            steps: s,
            leapfrog,
            rate,
            beta,
            init,
        } => Sampler::Hmc {
            steps: steps.unwrap_or(s),
            leapfrog,
            rate: step.unwrap_or(rate),
            beta,
            init,
        },
        Sampler::Gibbs {
            sweeps,
            beta,
            blocks,
        } => {
            if step.is_some() {
                return Err(value_error(
                    "sample: the model samples by gibbs, which has no step size; give steps (its sweeps) only",
                ));
            }
            Sampler::Gibbs {
                sweeps: steps.unwrap_or(sweeps),
                beta,
                blocks,
            }
        }
    })
}

/// Draws `n` chains per row of inputs with the model's own sampler (`infer … by langevin |
/// hmc | gibbs`), compiled as `ebmc sample` runs it ([`sample::Chains`]): row `r`'s chains
/// all start at that row's inputs, and the generator is `ebmc sample`'s for the same seed,
/// so one row equals `ebmc sample --at … --n N --seed S` (in the model's units). Returns per
/// sampled variable rows × n × elements values.
fn sample_chains(
    inner: &mut Inner,
    given: &[Given],
    vars: &[VarId],
    sampler: &Sampler,
    rows: usize,
    n: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>, RunError> {
    let model = Arc::clone(&inner.model);
    let mut chains = sample::Chains::new(&inner.session, vars)?;
    let width = chains.width();
    let mut out: Vec<Vec<f64>> = vars
        .iter()
        .map(|v| Vec::with_capacity(rows * n * model.var(*v).ty.elements()))
        .collect();
    let mut rng = Rng::new(seed ^ sample::SEED_SALT);
    let mut state = vec![0.0; n * width];
    for r in 0..rows {
        let mut point = Point::zeros(&model);
        for g in given {
            let w = model.var(g.id).ty.elements();
            point.values[g.id.0 as usize] = g.row(r, w).to_vec();
        }
        chains.run(
            &mut inner.session,
            sampler,
            sample::Given::Same(&point),
            &mut state,
            sample::Start::Init,
            &mut rng,
        )?;
        for row in state.chunks(width.max(1)) {
            for (j, &(_, o, len)) in chains.layout().iter().enumerate() {
                out[j].extend_from_slice(&row[o..o + len]);
            }
        }
    }
    Ok(out)
}

/// Outputs, then the latents named in an `infer` group: what inference answers.
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

/// The batch length (`None` for one point), the energy of every row and, per variable (by
/// `VarId`), the gradient of every row.
type Evaluated = (Option<usize>, Vec<f64>, Vec<Vec<f64>>);

impl PyModel {
    /// Checks that every non-param variable the energy reads is given.
    fn require_point(&self, given: &[Given], what: &str) -> PyResult<()> {
        for v in &self.model.vars {
            if v.role == Role::Param {
                continue;
            }
            let id = self.model.var_named(&v.name).expect("its own variable");
            if !given.iter().any(|g| g.id == id) {
                return Err(value_error(format!(
                    "{what} needs every variable of the energy: no value for the {} `{}` ({})",
                    role_name(v.role),
                    v.name,
                    weights::describe(&v.ty)
                )));
            }
        }
        Ok(())
    }

    fn evaluate(
        &self,
        py: Python<'_>,
        vars: Option<&Bound<'_, PyDict>>,
        what: &str,
    ) -> PyResult<Evaluated> {
        let (arrays, batch) = read_vars(&self.model, vars, &|_| Ok(()), true)?;
        let given = arrays.given();
        self.require_point(&given, what)?;
        let rows = batch.unwrap_or(1);
        let with_grads = what == "grad";
        // A light call runs holding the GIL; a long one, or one that would wait for the
        // lock, releases it.
        let inline = match self.inner.try_lock() {
            Ok(mut inner) => inner
                .is_light(rows, with_grads)
                .then(|| inner.eval_rows(&given, rows, with_grads)),
            Err(TryLockError::Poisoned(e)) => {
                let mut inner = e.into_inner();
                inner
                    .is_light(rows, with_grads)
                    .then(|| inner.eval_rows(&given, rows, with_grads))
            }
            Err(TryLockError::WouldBlock) => None,
        };
        let result = match inline {
            Some(r) => r,
            None => py.detach(|| self.lock().eval_rows(&given, rows, with_grads)),
        };
        let (energies, grads) = result.map_err(|e| match e {
            EvalError::Run(e) => run_error(py, e),
            EvalError::Value(message) => value_error(message),
        })?;
        Ok((batch, energies, grads))
    }

    /// The rows of a training set made from arrays: every variable the model's `data` binds
    /// (inputs and outputs without one), each with the same number of rows.
    fn dataset_of(&self, given: Vec<Given>, rows: Option<usize>) -> PyResult<Dataset> {
        let model = &self.model;
        let needed: Vec<VarId> = match &model.data {
            Some(d) => d.bindings.iter().map(|b| b.var).collect(),
            None => model
                .vars
                .iter()
                .enumerate()
                .filter(|(_, v)| matches!(v.role, Role::Input | Role::Output))
                .map(|(i, _)| VarId(i as u32))
                .collect(),
        };
        let n = rows.ok_or_else(|| {
            value_error("fit: give the training rows as arrays with a leading axis of rows")
        })?;
        for id in &needed {
            if !given.iter().any(|g| g.id == *id) {
                let v = model.var(*id);
                return Err(value_error(format!(
                    "fit: no rows for the {} `{}` ({}); give {}=array of shape (n, …)",
                    role_name(v.role),
                    v.name,
                    weights::describe(&v.ty),
                    v.name
                )));
            }
        }
        let mut vars = Vec::new();
        for g in given {
            let v = model.var(g.id);
            if g.rows.is_none() {
                return Err(value_error(format!(
                    "fit: `{}` has no leading axis of rows; every array of fit is a batch of rows",
                    v.name
                )));
            }
            let width = v.ty.elements();
            vars.push(VarData {
                var: g.id,
                name: v.name.clone(),
                ty: v.ty.clone(),
                width,
                values: g.values.into_owned(),
                columns: (0..width)
                    .map(|i| ColumnRef {
                        index: i,
                        name: format!("{}[{i}]", v.name),
                    })
                    .collect(),
            });
        }
        // Rows are numbered as lines of a file with a header would be.
        Ok(Dataset {
            lines: (0..n).map(|r| r + 2).collect(),
            vars,
        })
    }
}

#[pymethods]
impl PyModel {
    /// The model's name.
    #[getter]
    fn name(&self) -> String {
        self.model.name.clone()
    }

    /// Every variable: name → (role, type), in declaration order.
    #[getter]
    fn variables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for v in &self.model.vars {
            d.set_item(&v.name, (role_name(v.role), v.ty.to_string()))?;
        }
        Ok(d)
    }

    /// The training seed in use: the `train` clause's, or the last `fit`'s.
    #[getter]
    fn seed(&self) -> u64 {
        self.lock().seed
    }

    /// The energy at a point (a float), or at each row of a batch (an array).
    #[pyo3(signature = (**vars))]
    fn energy<'py>(
        &self,
        py: Python<'py>,
        vars: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (batch, energies, _) = self.evaluate(py, vars, "energy")?;
        match batch {
            None => Ok(energies[0].into_pyobject(py)?.into_any()),
            Some(n) => Ok(ArrayD::from_shape_vec(IxDyn(&[n]), energies)
                .map_err(|e| value_error(e.to_string()))?
                .into_pyarray(py)
                .into_any()),
        }
    }

    /// The gradient of the energy with respect to every param and every real output and
    /// latent, as `ebmc eval` reports it: name → array (batched when the point is).
    #[pyo3(signature = (**vars))]
    fn grad<'py>(
        &self,
        py: Python<'py>,
        vars: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (batch, _, grads) = self.evaluate(py, vars, "grad")?;
        let d = PyDict::new(py);
        for (v, g) in self.model.vars.iter().zip(grads) {
            if v.role == Role::Input || v.ty.is_discrete() {
                continue;
            }
            d.set_item(&v.name, to_array(py, &v.ty, batch, g)?)?;
        }
        Ok(d)
    }

    /// The model's inference at the given inputs (every input; a batch when they have a
    /// leading axis): name → inferred value, for every output and every latent named in an
    /// `infer` group, in the data's units.
    #[pyo3(signature = (**inputs))]
    fn infer<'py>(
        &self,
        py: Python<'py>,
        inputs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let model = Arc::clone(&self.model);
        let (arrays, batch) = read_inputs(&model, inputs, "infer")?;
        let given = arrays.given();
        let rows = batch.unwrap_or(1);
        let answer = inferred(&model);
        let result = py.detach(|| -> Result<Vec<Vec<f64>>, RunError> {
            let mut inner = self.lock();
            let inner = &mut *inner;
            let mut out: Vec<Vec<f64>> = vec![Vec::new(); answer.len()];
            // The inputs as rows of a dataset, in the units the model was trained in, so that
            // what does not depend on the answer is prepared for a batch of rows in one call,
            // as `ebmc run` prepares its test rows (the same bits as its predictions).
            let mut set = Dataset {
                lines: (0..rows).collect(),
                vars: Vec::new(),
            };
            for g in &given {
                let v = model.var(g.id);
                let width = v.ty.elements();
                let mut values = match g.rows {
                    Some(_) => g.values.to_vec(),
                    None => g.values.repeat(rows),
                };
                if let Some(st) = inner.standardized.iter().find(|s| s.var == g.id) {
                    st.apply(&mut values).map_err(|e| {
                        RunError::User(format!(
                            "`{}`: element {e} is too far from the training mean to standardize",
                            v.name
                        ))
                    })?;
                }
                set.vars.push(VarData {
                    var: g.id,
                    name: v.name.clone(),
                    ty: v.ty.clone(),
                    width,
                    values,
                    columns: Vec::new(),
                });
            }
            let all: Vec<usize> = (0..rows).collect();
            let mut p = Point::zeros(&model);
            let zeros = Point::zeros(&model);
            for chunk in all.chunks(compile::BATCH) {
                let prepared = inner.session.prepare_rows(&set, chunk)?;
                for (k, &row) in chunk.iter().enumerate() {
                    p.copy_from(&zeros);
                    train::load_row(&set, row, &mut p);
                    if prepared {
                        inner.session.use_prepared_row(k, &p);
                    }
                    let mut rng = Rng::new(inner.seed);
                    inner.session.infer(&mut p, &mut rng)?;
                    for (k, id) in answer.iter().enumerate() {
                        let mut values = p.values[id.0 as usize].clone();
                        if let Some(st) = inner.standardized.iter().find(|s| s.var == *id) {
                            st.restore(&mut values);
                        }
                        out[k].extend_from_slice(&values);
                    }
                }
            }
            Ok(out)
        });
        let out = result.map_err(|e| run_error(py, e))?;
        let d = PyDict::new(py);
        for (id, values) in answer.iter().zip(out) {
            let v = model.var(*id);
            d.set_item(&v.name, to_array(py, &v.ty, batch, values)?)?;
        }
        Ok(d)
    }

    /// Samples from the Gibbs distribution p ∝ exp(−βE) at the given inputs (every input; a
    /// batch when they have a leading axis): name → array of shape (n, …), or (rows, n, …)
    /// for a batch. A model whose `infer` samples (`langevin`, `hmc`, `gibbs`) draws the
    /// variables of that group with its compiled sampler, as `ebmc sample` does (`steps` and
    /// `step` override its steps or sweeps and its rate). Any other model draws every output
    /// and latent: discrete ones exactly over every answer, real ones by `steps` (1000) steps
    /// of Langevin dynamics of size `step` (0.01) from standard normal starts (a model with
    /// both is not supported). `seed` defaults to the training seed.
    #[pyo3(signature = (n, *, steps=None, step=None, seed=None, **inputs))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        steps: Option<usize>,
        step: Option<f64>,
        seed: Option<u64>,
        inputs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let model = Arc::clone(&self.model);
        if let Some(step) = step {
            if !(step.is_finite() && step > 0.0) {
                return Err(value_error(format!(
                    "sample: step must be positive, found {step}"
                )));
            }
        }
        let (arrays, batch) = read_inputs(&model, inputs, "sample")?;
        let given = arrays.given();
        let own = match sample::model_sampler(&model) {
            Some((vars, sampler)) => Some((vars, with_overrides(sampler, steps, step)?)),
            None => None,
        };
        let sampled: Vec<VarId> = match &own {
            Some((vars, _)) => vars.clone(),
            None => model
                .vars
                .iter()
                .enumerate()
                .filter(|(_, v)| matches!(v.role, Role::Output | Role::Latent))
                .map(|(i, _)| VarId(i as u32))
                .collect(),
        };
        let rows = batch.unwrap_or(1);
        let result = py.detach(|| {
            let mut inner = self.lock();
            let seed = seed.unwrap_or(inner.seed);
            if let Some((vars, sampler)) = &own {
                return sample_chains(&mut inner, &given, vars, sampler, rows, n, seed);
            }
            let code = inner.strict_code()?;
            let mut rng = Rng::new(seed ^ sample::SEED_SALT);
            sample_rows(
                &code,
                &inner.session,
                &given,
                &sampled,
                rows,
                n,
                steps.unwrap_or(1000),
                step.unwrap_or(0.01),
                &mut rng,
            )
        });
        let out = result.map_err(|e| run_error(py, e))?;
        let d = PyDict::new(py);
        for (id, values) in sampled.iter().zip(out) {
            let v = model.var(*id);
            let mut shape: Vec<usize> = batch.into_iter().collect();
            shape.push(n);
            shape.extend_from_slice(dims(&v.ty));
            let array = if v.ty.is_discrete() {
                let ints: Vec<i64> = values.iter().map(|x| *x as i64).collect();
                ArrayD::from_shape_vec(IxDyn(&shape), ints)
                    .map_err(|e| value_error(e.to_string()))?
                    .into_pyarray(py)
                    .into_any()
            } else {
                ArrayD::from_shape_vec(IxDyn(&shape), values)
                    .map_err(|e| value_error(e.to_string()))?
                    .into_pyarray(py)
                    .into_any()
            };
            d.set_item(&v.name, array)?;
        }
        Ok(d)
    }

    /// Trains from fresh params, as `ebmc run` does: on the model's `data` (or the CSV file
    /// `data` names instead, with the declaration's columns, split and standardization), or
    /// on arrays given by variable name (every row trains; standardized as declared).
    /// `epochs` and `seed` override the `train` clause's. Returns each epoch's mean loss.
    #[pyo3(signature = (data=None, *, epochs=None, seed=None, **arrays))]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        data: Option<PathBuf>,
        epochs: Option<usize>,
        seed: Option<u64>,
        arrays: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let model = Arc::clone(&self.model);
        let Some(train_decl) = model.train.clone() else {
            return Err(value_error(format!(
                "model `{}` has no `train` clause to fit with",
                model.name
            )));
        };
        let admit = |v: &Var| match v.role {
            Role::Param => Err("fit takes data, not params; set `weights` instead".into()),
            _ => Ok(()),
        };
        let (held, rows) = read_vars(&model, arrays, &admit, false)?;
        let given = held.given();
        let from_arrays = !given.is_empty();
        if from_arrays && data.is_some() {
            return Err(value_error("fit: give a data file or arrays, not both"));
        }
        let rows_set = if from_arrays {
            Some(self.dataset_of(given, rows)?)
        } else {
            None
        };
        if !from_arrays && model.data.is_none() && data.is_none() {
            return Err(value_error(format!(
                "model `{}` has no `data` clause: give the training rows as arrays (fit(x=…, y=…))",
                model.name
            )));
        }
        let seed = seed.unwrap_or(train_decl.seed);
        let mut t = train_decl;
        t.seed = seed;
        if let Some(e) = epochs {
            t.epochs = e;
        }
        let result = py.detach(|| -> Result<Vec<f64>, RunError> {
            let mut inner = self.lock();
            let inner = &mut *inner;
            let user = |e: data::DataError| RunError::User(e.to_string());
            let loaded: Loaded = match (rows_set, &model.data, data) {
                (Some(all), decl, _) => {
                    let decl = match decl {
                        Some(d) => ebmc::check::Data {
                            split: None,
                            test: None,
                            ..d.clone()
                        },
                        None => ebmc::check::Data {
                            path: "<arrays>".into(),
                            path_span: model.span,
                            bindings: Vec::new(),
                            split: None,
                            test: None,
                            standardize: Vec::new(),
                        },
                    };
                    data::from_rows(all, &decl, &model.vars, seed).map_err(user)?
                }
                (None, Some(decl), Some(file)) => {
                    // Every row of the file given trains (its test rows are the model's
                        // business only in `ebmc run`).
                    let decl = ebmc::check::Data {
                        path: file.display().to_string(),
                        test: None,
                        ..decl.clone()
                    };
                    data::load(&decl, &model.vars, Path::new("."), seed).map_err(user)?
                }
                (None, Some(decl), None) => {
                    data::load(decl, &model.vars, &inner.base_dir, seed).map_err(|mut e| {
                        e.file = inner.base_dir.join(&e.file).display().to_string();
                        RunError::User(e.to_string())
                    })?
                }
                (None, None, _) => {
                    return Err(RunError::User(
                        "a data file needs the model's `data` clause to say which columns bind which variables".into(),
                    ))
                }
            };
            // Fresh params from the seed, as `ebmc run --seed` starts.
            let mut session = Session::new(&inner.session.code, seed)?;
            let history = train::train(
                &mut session,
                &loaded.train,
                &t,
                train::default_threads(),
                &mut |_| {},
            )?;
            inner.session = session;
            inner.seed = seed;
            inner.standardized = loaded.standardized;
            Ok(history.iter().map(|e| e.loss).collect())
        });
        let losses = result.map_err(|e| run_error(py, e))?;
        PyList::new(py, losses)
    }

    /// The params: name → array. Assigning a dict replaces the params it names (each of its
    /// declared shape); the others keep their values.
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.lock();
        let d = PyDict::new(py);
        for (id, v) in self.params() {
            d.set_item(
                &v.name,
                to_array(py, &v.ty, None, inner.session.param(id).to_vec())?,
            )?;
        }
        Ok(d)
    }

    #[setter]
    fn set_weights(&self, value: &Bound<'_, PyDict>) -> PyResult<()> {
        let admit = |v: &Var| match v.role {
            Role::Param => Ok(()),
            r => Err(format!("weights are params; this is a {}", role_name(r))),
        };
        let (arrays, batch) = read_vars(&self.model, Some(value), &admit, false)?;
        let given = arrays.given();
        if batch.is_some() {
            let g = given
                .iter()
                .find(|g| g.rows.is_some())
                .expect("a batched one");
            let v = self.model.var(g.id);
            return Err(value_error(format!(
                "`{}` is {}: expected an array of shape {:?}",
                v.name,
                weights::describe(&v.ty),
                dims(&v.ty)
            )));
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut params = inner.session.params.to_vec();
        for g in given {
            let (o, l) = inner.session.param_slices[g.id.0 as usize].expect("a param");
            params[o..o + l].copy_from_slice(&g.values);
        }
        inner.session.params.set(params);
        Ok(())
    }

    /// Writes the params as `ebmc run --save` does (JSON, name → nested array).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let inner = self.lock();
        let entries: Vec<(&str, &Ty, &[f64])> = self
            .params()
            .into_iter()
            .map(|(id, v)| (v.name.as_str(), &v.ty, inner.session.param(id)))
            .collect();
        weights::write(&path, &entries).map_err(|e| ebmc_error(py, None, e.to_string()))
    }

    /// Reads params written by `save` or `ebmc run --save`: every param, nothing else.
    fn load(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let names: Vec<(&str, &Ty)> = self
            .params()
            .into_iter()
            .map(|(_, v)| (v.name.as_str(), &v.ty))
            .collect();
        let values =
            weights::read(&path, &names).map_err(|e| ebmc_error(py, None, e.to_string()))?;
        self.lock().session.params.set(values.concat());
        Ok(())
    }

    fn __repr__(&self) -> String {
        let vars: Vec<String> = self
            .model
            .vars
            .iter()
            .map(|v| format!("{} {}: {}", role_name(v.role), v.name, v.ty))
            .collect();
        format!("<ebmc.Model {} ({})>", self.model.name, vars.join(", "))
    }
}

/// Compiles a model from source text or from a `.ebm` file (`path`, given instead of
/// `source`). `model` chooses one model of a file that has several;
/// `consts` are values of consts in place of their expressions in the source, and consts
/// bound to the data (`const D = features`) left are read from the model's `data` clause
/// ([`driver::check_with_consts`]).
#[pyfunction]
#[pyo3(signature = (source=None, path=None, model=None, consts=None, strict=false))]
fn compile_model(
    py: Python<'_>,
    source: Option<String>,
    path: Option<PathBuf>,
    model: Option<String>,
    consts: Option<Vec<(String, u64)>>,
    strict: bool,
) -> PyResult<PyModel> {
    let (bytes, name, base_dir) = match (source, path) {
        (Some(s), None) => (s.into_bytes(), "<source>".to_string(), PathBuf::from(".")),
        (None, Some(p)) => {
            let bytes = std::fs::read(&p).map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!("cannot read {}: {e}", p.display()))
            })?;
            let bom = bytes.len() - ebmc::syntax::without_bom(&bytes).len();
            let dir = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            (bytes[bom..].to_vec(), p.display().to_string(), dir)
        }
        _ => return Err(value_error("give exactly one of source and path")),
    };
    let checked = driver::check_with_consts(&bytes, &consts.unwrap_or_default(), Some(&base_dir))
        .map_err(|e| value_error(format!("{name}: {e}")))?;
    if checked.has_errors() {
        let text = String::from_utf8_lossy(&bytes);
        let rendered = diag::render(&checked.diagnostics, &name, &text, Color::Never);
        let code = checked
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map(|d| d.code.as_str());
        return Err(ebmc_error(py, code, rendered));
    }
    let names: Vec<String> = checked.models.iter().map(|m| m.name.clone()).collect();
    let index = match &model {
        Some(n) => names.iter().position(|m| m == n).ok_or_else(|| {
            value_error(format!(
                "{name} has no model `{n}`; it has {}",
                names.join(", ")
            ))
        })?,
        None if names.len() == 1 => 0,
        None => {
            return Err(value_error(format!(
                "{name} holds several models ({}); choose one with model=NAME",
                names.join(", ")
            )))
        }
    };
    let chosen = checked
        .models
        .into_iter()
        .nth(index)
        .expect("index found above");
    let model = Arc::new(chosen);
    let seed = model.train.as_ref().map(|t| t.seed).unwrap_or(0);
    let session = py
        .detach(|| -> Result<Session, RunError> {
            let code = Arc::new(compile::compile(
                &model,
                &compile::Options::new(Backend::Jit),
            )?);
            Session::new(&code, seed)
        })
        .map_err(|e| run_error(py, e))?;
    Ok(PyModel {
        inner: Mutex::new(Inner {
            model: Arc::clone(&model),
            base_dir,
            seed,
            session,
            strict: None,
            eval_strict: strict,
            energy_kernel: None,
            grad_kernel: None,
            standardized: Vec::new(),
        }),
        model,
    })
}

/// The consts of a source bound to the data (`const D = features`), as (name, what) pairs:
/// what the estimators bind at `fit` ([`driver::data_consts`]).
#[pyfunction]
fn data_consts(source: &str) -> Vec<(String, String)> {
    driver::data_consts(source.as_bytes())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(compile_model, m)?)?;
    m.add_function(wrap_pyfunction!(data_consts, m)?)?;
    m.add("EbmcError", m.py().get_type::<EbmcError>())?;
    Ok(())
}
