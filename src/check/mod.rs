//! The checker: AST → checked [`Model`]s, with every error and lint as a diagnostic.

mod model;

pub use model::*;

use crate::diag::Diagnostic;
use crate::syntax::ast;

/// Checks every model of a file. Models come back only when there is no error.
pub fn check(_file: &ast::File) -> (Vec<Model>, Vec<Diagnostic>) {
    (Vec::new(), Vec::new())
}
