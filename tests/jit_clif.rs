//! `ebmc emit clif` snapshots: the Cranelift IR of every entry point of the small `ok`
//! fixtures (energy, gradients, loss gradient, batched loss gradient). The text is
//! deterministic — functions, blocks and values are numbered in emission order — but depends
//! on whether the host has FMA (`fma` or `fmul` + `fadd`); the snapshots were taken on an
//! x86-64 host with FMA, and the test is skipped on hosts without it.

use ebmc::driver;
use ebmc::jit::{Jit, JitOptions};

/// Fixtures whose CLIF is short enough to review.
const SMALL: [&str; 4] = ["binary.ebm", "iris.ebm", "latent.ebm", "regression.ebm"];

#[test]
fn emit_clif_of_small_fixtures() {
    if !Jit::new(JitOptions::default()).unwrap().has_fma() {
        eprintln!("skipped: the snapshots assume a host with FMA");
        return;
    }
    insta::glob!("ebm/ok/*.ebm", |path| {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if !SMALL.contains(&file.as_str()) {
            return;
        }
        let checked = driver::check(&std::fs::read(path).unwrap());
        assert!(!checked.has_errors());
        let text = driver::emit_clif(&checked.models[0]).unwrap();
        insta::assert_snapshot!("clif", text);
    });
}
