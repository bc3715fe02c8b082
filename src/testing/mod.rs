//! What the tests, the benches and the fuzz targets share: helpers that exist only to check
//! the compiler, kept out of the stages so that no stage carries code its pipeline never runs.
//! Nothing under `src/` outside this module uses it; it is public because `tests/`, `benches/`
//! and `fuzz/` are separate crates.
//!
//! * [`random_ir`]: seeded (or fuzzer-driven) random well-typed IR programs and points to
//!   evaluate them at;
//! * [`gradcheck`]: a gradient against finite differences in a random direction;
//! * [`rounding`]: where default native code may decide a comparison differently from the
//!   interpreter, so that tests compare the two only where rounding cannot flip a decision;
//! * [`sources`]: large generated model sources for the front-end and language-server benches;
//! * [`fuzzing`]: what each fuzz target of `fuzz/` runs, so that `cargo test` replays their
//!   corpora.

pub mod fuzzing;
pub mod gradcheck;
pub mod random_ir;
pub mod rounding;
pub mod sources;
