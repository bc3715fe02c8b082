//! The command line's inputs other than sources (data, weights, `--at`, `--memory`, output
//! names): never a panic, and what is accepted is well formed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ebmc::testing::fuzzing::files(data) {
        panic!("{e}");
    }
});
