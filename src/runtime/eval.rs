//! `ebmc eval`: the energy, its named terms and its gradient at one point, as JSON
//! (spec section 10): `{"energy": e, "terms": {…}, "grad": {name: array, …}}` with a
//! gradient for every param and every real output and latent.
//!
//! The point is either a JSON file naming every variable (inputs, outputs, latents, params;
//! a missing, extra, mis-shaped or non-finite entry is an error naming it) or random: params
//! from their declared initialisation, real variables standard normal, discrete ones uniform,
//! all from one seed.

use super::kernel::{compile, Backend};
use super::session::RunError;
use super::weights;
use crate::check::{Init, Model, Role, Ty};
use crate::grad;
use crate::ir::{self, InputKind};
use crate::rng::{self, Rng};
use serde_json::{Map, Value};
use std::path::Path;

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
                    (_, Ty::Sign) => vec![if rng.below(2) == 0 { -1.0 } else { 1.0 }],
                    (Role::Param, Ty::Real(shape)) => {
                        let init = v.init.clone().unwrap_or_else(|| rng::default_init(shape));
                        rng::init_values(&init, shape, &mut rng)
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

/// Evaluates the energy, its terms and its gradient at the point, as the JSON `eval` prints.
pub fn eval(model: &Model, source: &PointSource, backend: Backend) -> Result<Value, RunError> {
    // Compiled before the point is read or drawn: a model over a memory limit is refused
    // before any of its values are allocated.
    let program = ir::build(model).map_err(|e| RunError::Compile(e.message))?;
    let g = grad::with_gradients(
        &program.energy,
        "energy",
        &[InputKind::Param, InputKind::Output, InputKind::Latent],
    );
    let mut kernel = compile(&g, backend)?;
    let values = point(model, source)?;
    let layout = kernel.layout().clone();
    let slices: Vec<&[f64]> = layout
        .inputs
        .iter()
        .map(|i| {
            let id = model
                .var_named(&i.name)
                .expect("energy inputs are the model's variables");
            values[id.0 as usize].as_slice()
        })
        .collect();
    let mut out = vec![0.0; layout.len];
    kernel.call(&slices, &mut out)?;
    let get = |name: &str| layout.output(name).map(|(o, l)| &out[o..o + l]);
    let number = |x: f64| {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    };
    let mut terms = Map::new();
    for t in &model.energy {
        if let Some(v) = get(&t.name) {
            terms.insert(t.name.clone(), number(v[0]));
        }
    }
    let mut grads = Map::new();
    for v in &model.vars {
        if v.role == Role::Input || v.ty.is_discrete() {
            continue;
        }
        let g = get(&grad::grad_name(&v.name))
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; v.ty.elements()]);
        grads.insert(
            v.name.clone(),
            weights::to_json(&v.ty, &g).unwrap_or(Value::Null),
        );
    }
    let mut top = Map::new();
    top.insert(
        "energy".into(),
        number(get("energy").map(|e| e[0]).unwrap_or(f64::NAN)),
    );
    top.insert("terms".into(), Value::Object(terms));
    top.insert("grad".into(), Value::Object(grads));
    Ok(Value::Object(top))
}
