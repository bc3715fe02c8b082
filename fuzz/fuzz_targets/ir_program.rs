//! Random well-typed IR programs, their choices read from the bytes: verify, differentiate,
//! simplify, evaluate; gradients against finite differences, native code against the
//! interpreter.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ebmc::testing::fuzzing::ir_program(data) {
        panic!("{e}");
    }
});
