//! The runtime: everything between a compiled model ([`crate::compile::Compiled`]) and the
//! files a user gets back — data in, weights and metrics out, inference, losses and the
//! optimizers in between.
//!
//! The pieces are independent of the compiler's insides: they see the checked model's
//! declarations ([`crate::check::Data`], [`crate::check::Train`], [`crate::types::Ty`], …),
//! flat `f64` buffers and the typed entry points of the compiled model, never the IR or the
//! JIT. [`session`] binds the entry points to a model's values; [`infer`] and [`losses`] run
//! inference and the training loss on a session; [`train`] is the loop.
//!
//! * [`data`] reads the CSV file a `data` declaration names, checks every cell, splits it
//!   into training and test rows with the training seed and z-scores what `standardize`
//!   names. Each bound variable becomes one contiguous row-major matrix (rows × elements), so
//!   a minibatch is a gather of row slices;
//! * [`weights`] reads and writes weights and point files (JSON), checking every entry
//!   against the expected variables;
//! * [`fold`] sums a training step's chunk gradients into its mean, one pass per chunk;
//! * [`optim`] updates a flat parameter vector from its gradient: SGD with momentum, Adam,
//!   optional L2;
//! * [`metrics`] computes loss, accuracy, RMSE and R², and writes the metrics JSON;
//! * [`history`] is the per-epoch record of a run (`ebmc run --history`);
//! * [`memory`] estimates a run's large buffers before they are allocated and refuses a run
//!   that exceeds the memory budget (`--memory`, else the machine's).
//!
//! Shared invariants:
//! * values are `f64`, row-major, flat; a `class[k]` value is its index as an integer-valued
//!   float and a `sign` value is −1.0 or +1.0, in buffers and in arithmetic alike;
//! * nothing here draws randomness except through [`crate::rng::Rng`] with a seed it is given,
//!   so a run is a function of its inputs and seeds;
//! * errors are typed values whose `Display` is one line naming the file (and the line, column
//!   or entry) and what was expected; nothing is skipped or repaired silently;
//! * every file written goes through [`crate::atomic::write`]: a crash leaves the old file or
//!   the new one, never half of one.

pub mod data;
pub mod density;
pub mod eval;
pub mod fold;
pub mod history;
pub mod infer;
pub mod losses;
pub mod memory;
pub mod metrics;
pub mod optim;
pub mod run;
pub mod sample;
pub mod session;
pub mod train;
pub mod weights;
pub mod widths;
