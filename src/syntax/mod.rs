//! The front end's first half: source bytes to an [`ast::File`].
//!
//! `parse` never panics and never recurses without bound: before pest runs, a scan rejects
//! bracket nesting deeper than [`MAX_NESTING`]; operator chains that would make the tree deeper
//! than [`MAX_EXPR_DEPTH`] are rejected while the tree is built. Both are `E0002` diagnostics.

pub mod ast;
mod build;
mod errors;
mod format;
mod parser;
mod print;

pub use build::RESERVED;
pub use format::{comments, format};
pub use parser::{parse, parse_bytes, without_bom, MAX_EXPR_DEPTH, MAX_NESTING, MAX_SOURCE_BYTES};
pub use print::print_file;
