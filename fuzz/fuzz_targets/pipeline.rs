//! Random well-typed model sources through check, lowering, differentiation, evaluation,
//! inference and one training step, on native code and on the interpreter: results or
//! errors, never a panic.
#![no_main]
use ebmc::compile::Backend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for backend in [Backend::Jit, Backend::Interp] {
        if let Err(e) = ebmc::testing::fuzzing::pipeline(data, backend) {
            panic!("{backend:?}: {e}");
        }
    }
});
