//! Prints the CLIF and the machine code of one JIT kernel: `cargo run --example jit_asm -- exp`.
//! Kernels: exp, tanh, matvec, dot.

use ebmc::jit::{Accumulate, Buf, Jit, JitOptions, Layout, Region, Unary};

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "exp".into());
    let mut jit = Jit::new(JitOptions {
        keep_clif: true,
        keep_asm: true,
        ..JitOptions::default()
    })
    .expect("host supported");
    let (i, o) = (
        |k, n| Region::new(Buf::Input, k, n),
        |k, n| Region::new(Buf::Output, k, n),
    );
    let id = jit
        .define(&which, Layout::new(64 * 64 + 64, 64, 0), |t| {
            match which.as_str() {
                "exp" => t.map_unary(o(0, 64), Unary::Exp, i(0, 64)),
                "tanh" => t.map_unary(o(0, 64), Unary::Tanh, i(0, 64)),
                "matvec" => t.matvec(
                    o(0, 64),
                    i(0, 4096),
                    i(4096, 64),
                    64,
                    64,
                    Accumulate::Overwrite,
                ),
                "dot" => t.dot(o(0, 1), i(0, 64), i(64, 64)),
                other => panic!("unknown kernel {other}"),
            }
        })
        .expect("compiles");
    let lib = jit.finish().expect("links");
    println!("{}", lib.clif(id).unwrap_or_default());
    println!("{}", lib.asm(id).unwrap_or_default());
}
