//! Any bytes through parse and check (and lowering, for clean models; formatting, for sources
//! that parse: idempotent, the same AST and comments): never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ebmc::testing::fuzzing::parse_check(data) {
        panic!("{e}");
    }
});
