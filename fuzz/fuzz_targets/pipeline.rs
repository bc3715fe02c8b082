//! Random well-typed model sources through check, lowering, differentiation, evaluation,
//! inference and one training step: results or errors, never a panic.
#![no_main]
use ebmc::runtime::kernel::Backend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ebmc::fuzzing::pipeline(data, Backend::Interp) {
        panic!("{e}");
    }
});
