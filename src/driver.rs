//! Chains the stages. One function per `emit` stage; nothing here prints.

use crate::check::{self, Model};
use crate::diag::Diagnostic;
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
