//! `ebmc eval`: the energy, its named terms and its gradient at one point, as JSON
//! (spec section 10): `{"energy": e, "terms": {…}, "grad": {name: array, …}}` with a
//! gradient for every param and every real output and latent.
//!
//! The point is either a JSON file naming every variable (inputs, outputs, latents, params;
//! a missing, extra, mis-shaped or non-finite entry is an error naming it) or random: params
//! from their declared initialisation, real variables standard normal, discrete ones uniform,
//! all from one seed. `--at NAME=VALUE` then replaces any variable of it ([`eval`]'s `at`):
//! the point file must still name every variable, so that a typo in it is not hidden by a flag.
//!
//! [`parse_at`] reads one `--at NAME=VALUE` of the command line for `eval`, `run` and `plot`:
//! VALUE is JSON, a number or an array of numbers — nested as the variable's shape, or flat in
//! row-major order — and must be a value of the variable's type. Which variables a command
//! takes is the command's to check.
//!
//! JSON has no NaN or infinity: a non-finite energy, term or gradient entry is written as the
//! string `"nan"`, `"inf"` or `"-inf"` in its place, so every array keeps its shape, and
//! [`Evaluation::non_finite`] names each one (the command then fails).

use super::session::RunError;
use super::weights;
use crate::check::{Init, Model, Role, VarId};
use crate::compile::{Compiled, Entry, Input, Output};
use crate::rng::{self, Rng};
use crate::types::Ty;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// Where the point comes from.
pub enum PointSource<'p> {
    File(&'p Path),
    Random(u64),
}

/// Values of every variable, in declaration order.
pub fn point(model: &Model, source: &PointSource) -> Result<Vec<Vec<f64>>, RunError> {
    match source {
        PointSource::File(path) => {
            let expected: Vec<(&str, &Ty)> = model
                .vars
                .iter()
                .map(|v| (v.name.as_str(), &v.ty))
                .collect();
            weights::read(path, &expected).map_err(|e| RunError::User(e.to_string()))
        }
        PointSource::Random(seed) => {
            let mut rng = Rng::new(*seed);
            let mut values = Vec::new();
            for v in &model.vars {
                values.push(match (&v.role, &v.ty) {
                    (_, Ty::Class(k)) => vec![rng.below(*k as u64) as f64],
                    (_, Ty::Sign(s)) => (0..s.len())
                        .map(|_| if rng.below(2) == 0 { -1.0 } else { 1.0 })
                        .collect(),
                    (Role::Param, Ty::Real(shape)) => {
                        rng::init_values(super::session::param_init(v)?, shape, &mut rng)
                            .map_err(|e| RunError::User(e.to_string()))?
                    }
                    (_, Ty::Real(shape)) => {
                        let init = Init::Normal {
                            mean: 0.0,
                            std: 1.0,
                        };
                        rng::init_values(&init, shape, &mut rng)
                            .map_err(|e| RunError::User(e.to_string()))?
                    }
                });
            }
            Ok(values)
        }
    }
}

/// Which variables a command takes with `--at`: `Err` says why not this one (the text after
/// `--at NAME=VALUE: `).
pub type Admit<'a> = &'a dyn Fn(VarId) -> Result<(), String>;

/// One `--at NAME=VALUE`: the variable and its values, flat and row-major, checked against its
/// type. `admit` judges the variable before its value is read, so that a misplaced name is
/// heard about before its value's shape. Errors quote the flag as given and say what was
/// expected.
pub fn parse_at(model: &Model, s: &str, admit: Admit) -> Result<(VarId, Vec<f64>), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("--at {s}: expected NAME=VALUE, such as x=1.5 or x=[0.1, 0.2]"))?;
    let name = name.trim();
    let id = model.var_named(name).ok_or_else(|| {
        let inputs: Vec<&str> = model
            .vars_of(Role::Input)
            .map(|(_, v)| v.name.as_str())
            .collect();
        let has = match inputs.as_slice() {
            [] => String::new(),
            names => format!("; its inputs are {}", names.join(", ")),
        };
        format!("--at {s}: `{}` has no variable `{name}`{has}", model.name)
    })?;
    admit(id).map_err(|e| format!("--at {s}: {e}"))?;
    let var = model.var(id);
    let expected = weights::describe(&var.ty);
    let json: Value = serde_json::from_str(value.trim()).map_err(|_| {
        format!("--at {s}: expected {expected} after `=`, as a number or a JSON array")
    })?;
    let mut flat = Vec::new();
    fn walk(v: &Value, out: &mut Vec<f64>) -> bool {
        match v {
            Value::Number(n) => n.as_f64().map(|x| out.push(x)).is_some(),
            Value::Array(items) => items.iter().all(|i| walk(i, out)),
            _ => false,
        }
    }
    if !walk(&json, &mut flat) {
        return Err(format!(
            "--at {s}: expected {expected} after `=`, as a number or a JSON array"
        ));
    }
    let n = var.ty.elements();
    let dims: &[usize] = var.ty.shape().map(|sh| sh.0.as_slice()).unwrap_or(&[]);
    // Flat (a list of every element, row-major), or nested exactly as the shape: a nesting
    // that only adds up to the right count is a mistake worth hearing about.
    fn nested_as(v: &Value, dims: &[usize]) -> bool {
        match (v, dims.split_first()) {
            (Value::Number(_), None) => true,
            (Value::Array(items), Some((&d, rest))) => {
                items.len() == d && items.iter().all(|i| nested_as(i, rest))
            }
            _ => false,
        }
    }
    let is_flat = match &json {
        Value::Array(items) => items.iter().all(Value::is_number),
        _ => true,
    };
    if flat.len() != n || !(is_flat || nested_as(&json, dims)) {
        let found = match flat.len() {
            1 => "1 number".to_string(),
            k => format!("{k} numbers"),
        };
        let nesting = if is_flat { "" } else { " nested otherwise" };
        return Err(format!(
            "--at {s}: `{name}` is {expected}, found {found}{nesting}"
        ));
    }
    if !var.ty.admits_all(&flat) {
        return Err(format!(
            "--at {s}: not a value of `{name}`'s type: expected {expected}"
        ));
    }
    Ok((id, flat))
}

/// Every `--at` of a command, in order; a variable given twice is an error (which one was
/// meant?).
pub fn parse_ats(
    model: &Model,
    given: &[String],
    admit: Admit,
) -> Result<Vec<(VarId, Vec<f64>)>, String> {
    let mut out: Vec<(VarId, Vec<f64>)> = Vec::with_capacity(given.len());
    for s in given {
        let (id, values) = parse_at(model, s, admit)?;
        if out.iter().any(|(v, _)| *v == id) {
            return Err(format!(
                "--at {s}: `{}` is given twice; give each variable once",
                model.var(id).name
            ));
        }
        out.push((id, values));
    }
    Ok(out)
}

/// What `ebmc eval` prints, and the entries of it that were not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub json: Value,
    /// `energy`, `terms.NAME`, `grad.NAME[i, j]` with their value, in the order printed.
    pub non_finite: Vec<String>,
}

/// One number as `eval` writes it: non-finite ones as the strings `"nan"`, `"inf"`, `"-inf"`.
fn encode(x: f64) -> Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => "nan".into(),
        None if x > 0.0 => "inf".into(),
        None => "-inf".into(),
    }
}

/// `values` nested by `dims` (row-major), each number [`encode`]d; records the non-finite
/// ones under `name` with their index.
fn nested(name: &str, dims: &[usize], values: &[f64], non_finite: &mut Vec<String>) -> Value {
    for (flat, x) in values.iter().enumerate().filter(|(_, x)| !x.is_finite()) {
        let mut index = Vec::with_capacity(dims.len());
        let mut rest = flat;
        for d in dims.iter().rev() {
            index.push(rest % d);
            rest /= d;
        }
        index.reverse();
        let at = if dims.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = index.iter().map(|i| i.to_string()).collect();
            format!("[{}]", parts.join(", "))
        };
        non_finite.push(format!(
            "{name}{at} = {}",
            encode(*x).as_str().unwrap_or("")
        ));
    }
    super::metrics::nest(dims, values, &encode)
}

/// Evaluates the energy, its terms and its gradient at the point, as the JSON `eval` prints,
/// with the compiled model's [`Entry::Grad`]; `at` replaces variables of the point
/// ([`parse_ats`]).
pub fn eval(
    code: &Arc<Compiled>,
    source: &PointSource,
    at: &[(VarId, Vec<f64>)],
) -> Result<Evaluation, RunError> {
    let model = &code.model;
    let mut kernel = code
        .kernel(Entry::Grad)
        .ok_or_else(|| RunError::Compile("the model has no gradient kernel".into()))?;
    let mut values = point(model, source)?;
    for (id, given) in at {
        values[id.0 as usize].clone_from(given);
    }
    for k in 0..kernel.entry().inputs.len() {
        let v = match kernel.entry().inputs[k].what {
            Input::Value(v) | Input::Negative(v) => v,
            Input::Stage(_) => {
                return Err(RunError::Compile(
                    "the gradient kernel takes no stage values".into(),
                ))
            }
        };
        kernel.input_mut(k).copy_from_slice(&values[v.0 as usize]);
    }
    kernel.call()?;
    let out = |what: Output| -> Option<&[f64]> {
        let k = kernel.entry().outputs.iter().position(|p| p.what == what)?;
        Some(kernel.output(k))
    };
    let mut non_finite = Vec::new();
    let energy = out(Output::Energy).map(|e| e[0]).unwrap_or(f64::NAN);
    let energy = nested("energy", &[], &[energy], &mut non_finite);
    let mut terms = Map::new();
    for (k, t) in model.energy.iter().enumerate() {
        if let Some(v) = out(Output::Term(k)) {
            let name = format!("terms.{}", t.name);
            terms.insert(t.name.clone(), nested(&name, &[], &v[..1], &mut non_finite));
        }
    }
    let mut grads = Map::new();
    for (i, v) in model.vars.iter().enumerate() {
        if v.role == Role::Input || v.ty.is_discrete() {
            continue;
        }
        let g = out(Output::Grad(VarId(i as u32)))
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; v.ty.elements()]);
        let dims: &[usize] = match &v.ty {
            Ty::Real(shape) => &shape.0,
            _ => &[],
        };
        let name = format!("grad.{}", v.name);
        grads.insert(v.name.clone(), nested(&name, dims, &g, &mut non_finite));
    }
    let mut top = Map::new();
    top.insert("energy".into(), energy);
    top.insert("terms".into(), Value::Object(terms));
    top.insert("grad".into(), Value::Object(grads));
    Ok(Evaluation {
        json: Value::Object(top),
        non_finite,
    })
}
