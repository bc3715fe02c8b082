//! # ebmc — a compiler for energy-based models
//!
//! A `.ebm` file declares inputs `x`, outputs `y`, latents `z`, trainable parameters `W`, an
//! energy `E_W(x, y, z)` as a sum of named terms, a training loss and how to infer and train.
//! `ebmc` carries it through these stages, each in its own module with one entry function:
//!
//! 1. [`syntax::parse`]: source text → [`syntax::ast::File`], every node with its byte span;
//! 2. [`check::check`]: AST → [`check::Model`]s, names resolved, every expression's shape
//!    known, errors and lints as [`diag::Diagnostic`]s;
//! 3. [`ir::build`]: checked model → tensor [`ir::Graph`]s (energy, free energy, answers,
//!    loss), hash-consed, simplified and verified;
//! 4. [`grad::vjp`]: reverse-mode gradients as more nodes of the same graph;
//! 5. [`interp::eval`]: the reference interpreter, the oracle for gradients and the JIT.
//!
//! 6. [`jit`]: Cranelift kernels over flat `f64` buffers (the only `unsafe`), and
//!    [`jit::compile_entries`], which lowers graphs onto them, every entry point into one
//!    module;
//! 7. [`compile::compile`]: checked model → the [`compile::Compiled`] artifact, every entry
//!    point the model needs with typed ports, that everything after it runs;
//! 8. [`runtime`]: inference, losses, training, data, weights and metrics, reaching native
//!    code only through [`compile::Kernel`]s;
//! 9. [`plot`]: a model's energy and training drawn as SVG;
//! 10. [`clib`]: one model's energy, gradient and inference as a C shared library
//!     (`ebmc build --lib`), through the same code generator.
//!
//! Each stage imports only the stages before it and the leaves: [`span`], [`diag`], [`types`]
//! (a tensor [`types::Shape`] and a value's [`types::Ty`]), [`atomic`] (every file written)
//! and [`rng`].
//!
//! [`driver`] chains the stages; only `main.rs` knows about the terminal. [`lsp`] is the
//! language server of `ebmc lsp`: it reads the front end's answers (parse, check and the
//! checker's [`check::Typing`]) and no stage uses it. [`testing`] holds
//! what the tests, benches and fuzz targets of `fuzz/` share (random IR programs, gradient
//! checking, the entry points of the fuzz targets, so that `cargo test` replays their corpora);
//! no stage uses it.

pub mod atomic;
pub mod check;
pub mod clib;
pub mod compile;
pub mod diag;
pub mod driver;
pub mod grad;
pub mod interp;
pub mod ir;
pub mod jit;
pub mod lsp;
pub mod plot;
pub mod rng;
pub mod runtime;
pub mod span;
pub mod syntax;
pub mod testing;
pub mod types;
