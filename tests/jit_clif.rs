//! `ebmc emit clif` snapshots: the Cranelift IR of every entry point of the small `ok`
//! fixtures (energy, gradients, loss gradient, batched loss gradient). The text is
//! deterministic — functions, blocks and values are numbered in emission order — but depends
//! on whether the host has FMA (`fma` or `fmul` + `fadd`). The code a host without FMA gets is
//! snapshot on every host (FMA turned off in the JIT, as such a host has it); the FMA code only
//! where the host has FMA and AVX2 (the snapshots were taken on an x86-64 host with both: there
//! a large matrix product is a call of the 256-bit kernel, `src/jit/gemm_avx2.rs`), and that
//! test says plainly that it did not run elsewhere.

use ebmc::compile::{Backend, Options};
use ebmc::driver;
use ebmc::jit::{Jit, JitOptions};

/// Fixtures whose CLIF is short enough to review.
const SMALL: [&str; 4] = ["binary.ebm", "iris.ebm", "latent.ebm", "regression.ebm"];

#[test]
fn emit_clif_of_small_fixtures() {
    let jit = Jit::new(JitOptions::default()).unwrap();
    if !jit.has_fma() || !jit.wide_gemm() {
        eprintln!("NOT RUN: this host lacks FMA or AVX2; emit_clif_without_fma covers its code");
        return;
    }
    snapshots("clif", true);
}

#[test]
fn emit_clif_without_fma() {
    let no_fma = JitOptions {
        fma: false,
        ..JitOptions::default()
    };
    assert!(!Jit::new(no_fma).unwrap().has_fma(), "FMA turned off");
    snapshots("clif_no_fma", false);
}

fn snapshots(name: &str, fma: bool) {
    insta::glob!("ebm/ok/*.ebm", |path| {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if !SMALL.contains(&file.as_str()) {
            return;
        }
        let checked = driver::check(&std::fs::read(path).unwrap());
        assert!(!checked.has_errors());
        let options = Options {
            fma,
            ..Options::new(Backend::Jit)
        };
        let text = driver::emit_clif_with(&checked.models[0], options).unwrap();
        insta::assert_snapshot!(name, text);
    });
}
