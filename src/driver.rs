//! Chains the stages. One function per `emit` stage; nothing here prints.

use crate::check::{self, Model};
use crate::diag::Diagnostic;
use crate::grad;
use crate::ir::{self, InputKind};
use crate::syntax::{self, ast};

/// The result of the front end on one source: models when clean, and every diagnostic.
pub struct Checked {
    pub models: Vec<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Parses source bytes.
pub fn parse(bytes: &[u8]) -> Result<ast::File, Vec<Diagnostic>> {
    syntax::parse_bytes(bytes)
}

/// Parses and checks source bytes.
pub fn check(bytes: &[u8]) -> Checked {
    match parse(bytes) {
        Ok(file) => {
            let (models, diagnostics) = check::check(&file);
            Checked {
                models,
                diagnostics,
            }
        }
        Err(diagnostics) => Checked {
            models: Vec::new(),
            diagnostics,
        },
    }
}

/// The text of `ebmc emit ast`.
pub fn emit_ast(bytes: &[u8]) -> Result<String, Vec<Diagnostic>> {
    parse(bytes).map(|f| syntax::print_file(&f))
}

/// The text of `ebmc emit ir`: the energy graph with its named terms.
pub fn emit_ir(model: &Model) -> Result<String, String> {
    let program = ir::build(model).map_err(|e| e.message)?;
    Ok(program.energy.to_string())
}

/// The text of `ebmc emit grad`: the energy and its gradient with respect to every real
/// param, output and latent (or the variables named in `wrt`); with `loss`, the training
/// loss and its parameter gradient.
pub fn emit_grad(model: &Model, wrt: Option<&[String]>, loss: bool) -> Result<String, String> {
    let program = ir::build(model).map_err(|e| e.message)?;
    if loss {
        let g = program
            .loss
            .ok_or_else(|| format!("model `{}` has no `loss`", model.name))?;
        let g = grad::with_gradients(&g, "loss", &[InputKind::Param]);
        return Ok(grad::emit_text(&g, "loss"));
    }
    let g = match wrt {
        None => grad::energy_gradient(&program.energy),
        Some(names) => gradient_of(&program.energy, "energy", names)?,
    };
    Ok(grad::emit_text(&g, "energy"))
}

/// `g` with `grad.NAME` outputs for the named real inputs only.
fn gradient_of(g: &ir::Graph, of: &str, names: &[String]) -> Result<ir::Graph, String> {
    let mut g = ir::simplify(g);
    let mut wrt = Vec::new();
    for name in names {
        let input = g.inputs.iter().find(|i| &i.name == name);
        match input {
            Some(i) if i.ty.is_discrete() => {
                return Err(format!(
                    "`{name}` is `{}`: only real variables have a gradient",
                    i.ty
                ))
            }
            Some(_) => wrt.push(g.input_named(name).expect("declared input has a node")),
            None => {
                let known: Vec<&str> = g
                    .inputs
                    .iter()
                    .filter(|i| !i.ty.is_discrete())
                    .map(|i| i.name.as_str())
                    .collect();
                return Err(format!(
                    "--wrt: the energy has no variable `{name}`; it has {}",
                    known.join(", ")
                ));
            }
        }
    }
    let out = g
        .output(of)
        .expect("the energy graph has an `energy` output");
    let grads = grad::vjp(&mut g, out, &wrt);
    for (name, d) in names.iter().zip(grads) {
        g.set_output(grad::grad_name(name), d);
    }
    Ok(ir::simplify(&g))
}
