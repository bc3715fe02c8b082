//! "Never panics", for the whole pipeline: seeded random well-typed model sources
//! ([`ebmc::testing::fuzzing::source`]) through check → lowering → differentiation →
//! compilation (the interpreter, 400 models, and native code, 300) →
//! evaluation → inference → one training step. Each must come back as a value or an error;
//! the generator's models must check, and most must get through one training step.

use ebmc::compile::Backend;
use ebmc::testing::fuzzing::{self, Reached};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn run_seeds(backend: Backend, seeds: std::ops::Range<u64>) {
    let mut trained = 0;
    let total = seeds.end - seeds.start;
    for seed in seeds {
        let bytes = seed.to_le_bytes();
        let r = catch_unwind(AssertUnwindSafe(|| fuzzing::pipeline(&bytes, backend)));
        match r {
            Ok(Ok(Reached::Trained)) => trained += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("seed {seed}: {e}"),
            Err(_) => panic!(
                "seed {seed}: panicked (replay: fuzzing::pipeline(&{seed}u64.to_le_bytes(), …))"
            ),
        }
    }
    // NaNs stop some descents; most models train.
    assert!(
        trained * 10 >= total * 7,
        "only {trained} of {total} random models took a training step"
    );
}

#[test]
fn random_models_through_the_interpreter() {
    run_seeds(Backend::Interp, 0..400);
}

#[test]
fn random_models_through_native_code() {
    run_seeds(Backend::Jit, 1000..1300);
}
