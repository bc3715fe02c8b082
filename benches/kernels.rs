//! JIT kernels against straightforward hand-written Rust loops, measured in the same run.
//!
//! Run with `cargo bench --bench kernels`. Each line prints the median time per call of the
//! JIT kernel and of the Rust baseline over many timed repetitions after a warm-up, and their
//! ratio (JIT / Rust: below 1 means the JIT is faster). Also prints the time to compile one
//! function of twenty kernels and the per-element cost of tanh inline vs. through libm.

use std::hint::black_box;
use std::time::Instant;

use ebmc::jit::{
    Accumulate, Binary, Buf, Chain, CompiledFn, Jit, JitOptions, Layout, Region, Unary,
};

fn median_ns(reps: usize, inner: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..inner {
        f();
    }
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..inner {
                f();
            }
            t.elapsed().as_nanos() as f64 / inner as f64
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[reps / 2]
}

fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect()
}

fn inp(o: usize, n: usize) -> Region {
    Region::new(Buf::Input, o, n)
}
fn out(o: usize, n: usize) -> Region {
    Region::new(Buf::Output, o, n)
}

fn compile(
    opts: JitOptions,
    layout: Layout,
    body: impl FnOnce(&mut ebmc::jit::FunctionTranslator),
) -> CompiledFn {
    let mut jit = Jit::new(opts).unwrap();
    let f = jit.define("bench", layout, body).unwrap();
    jit.finish().unwrap().get(f)
}

/// `C = A B` for `A[m, n]`, `B[n, p]` at the start of the inputs, `C` the outputs.
fn matmul(opts: JitOptions, (m, n, p): (usize, usize, usize)) -> CompiledFn {
    compile(opts, Layout::new(m * n + n * p, m * p, 0), |t| {
        t.matmul(
            out(0, m * p),
            inp(0, m * n),
            inp(m * n, n * p),
            (m, n, p),
            Accumulate::Overwrite,
        )
    })
}

fn row(name: &str, jit: f64, rust: f64) {
    println!(
        "{name:<34} jit {jit:>10.1} ns   rust {rust:>10.1} ns   jit/rust {:.2}",
        jit / rust
    );
}

fn main() {
    let opts = JitOptions::default();

    // dot, n = 784
    let n = 784;
    let ins = data(2 * n, 1);
    let f = compile(opts.clone(), Layout::new(2 * n, 1, 0), |t| {
        t.dot(out(0, 1), inp(0, n), inp(n, n))
    });
    let mut o = [0.0];
    let jit = median_ns(51, 2000, || {
        f.call(black_box(&ins), &mut o, &mut []).unwrap()
    });
    let (a, b) = ins.split_at(n);
    let rust = median_ns(51, 2000, || {
        let s: f64 = black_box(a)
            .iter()
            .zip(black_box(b))
            .map(|(x, y)| x * y)
            .sum();
        black_box(s);
    });
    row("dot 784", jit, rust);

    // matvec 256 x 784
    let (m, n) = (256, 784);
    let ins = data(m * n + n, 2);
    let f = compile(opts.clone(), Layout::new(m * n + n, m, 0), |t| {
        t.matvec(
            out(0, m),
            inp(0, m * n),
            inp(m * n, n),
            m,
            n,
            Accumulate::Overwrite,
        )
    });
    let mut y = vec![0.0; m];
    let jit = median_ns(31, 100, || {
        f.call(black_box(&ins), &mut y, &mut []).unwrap()
    });
    let (a, x) = ins.split_at(m * n);
    let mut yr = vec![0.0; m];
    let rust = median_ns(31, 100, || {
        for (i, yi) in yr.iter_mut().enumerate() {
            *yi = black_box(&a[i * n..(i + 1) * n])
                .iter()
                .zip(x)
                .map(|(p, q)| p * q)
                .sum();
        }
        black_box(&yr);
    });
    row("matvec 256x784", jit, rust);

    // matvec_t 256 x 784 (Aᵀ g)
    let ins = data(m * n + m, 3);
    let f = compile(opts.clone(), Layout::new(m * n + m, n, 0), |t| {
        t.matvec_t(
            out(0, n),
            inp(0, m * n),
            inp(m * n, m),
            m,
            n,
            Accumulate::Overwrite,
        )
    });
    let mut z = vec![0.0; n];
    let jit = median_ns(31, 100, || {
        f.call(black_box(&ins), &mut z, &mut []).unwrap()
    });
    let (a, g) = ins.split_at(m * n);
    let mut zr = vec![0.0; n];
    let rust = median_ns(31, 100, || {
        zr.iter_mut().for_each(|v| *v = 0.0);
        for (i, gi) in black_box(g).iter().enumerate() {
            for (zj, aij) in zr.iter_mut().zip(&a[i * n..(i + 1) * n]) {
                *zj += gi * aij;
            }
        }
        black_box(&zr);
    });
    row("matvec_t 256x784", jit, rust);

    // matmul 32 x 784 x 64
    let (mm, nn, pp) = (32, 784, 64);
    let ins = data(mm * nn + nn * pp, 4);
    let f = matmul(opts.clone(), (mm, nn, pp));
    let mut c = vec![0.0; mm * pp];
    let jit = median_ns(21, 20, || f.call(black_box(&ins), &mut c, &mut []).unwrap());
    let (a, b) = ins.split_at(mm * nn);
    let mut cr = vec![0.0; mm * pp];
    let rust = median_ns(21, 20, || {
        cr.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..mm {
            for k in 0..nn {
                let aik = a[i * nn + k];
                for j in 0..pp {
                    cr[i * pp + j] += aik * b[k * pp + j];
                }
            }
        }
        black_box(&cr);
    });
    row("matmul 32x784x64 (i-k-j)", jit, rust);

    // The matrix–matrix products of batched training (16 examples) of M2, 784 → 256 → 10:
    // the forward W1 Xᵀ and W2 Hᵀ, the weight gradients G1ᵀ X and G2ᵀ H. GFLOP/s counts a
    // multiply-add as two; "of peak" is against one core's f64 FMA peak with 256-bit vectors
    // (PEAK_GFLOPS), which Cranelift cannot emit (128-bit vectors only: half of it at most);
    // on an AVX2 host the JIT calls the 256-bit kernel of src/jit/gemm_avx2.rs instead, and
    // each shape is also timed with the emitted 128-bit one.
    const PEAK_GFLOPS: f64 = 50.0;
    let default_kernel = if Jit::new(opts.clone()).unwrap().wide_gemm() {
        "256-bit, called"
    } else {
        "128-bit, emitted"
    };
    for (mm, nn, pp) in [(256, 784, 16), (256, 16, 784), (10, 256, 16), (10, 16, 256)] {
        let ins = data(mm * nn + nn * pp, 6);
        let f = matmul(opts.clone(), (mm, nn, pp));
        let mut c = vec![0.0; mm * pp];
        let flops = 2.0 * (mm * nn * pp) as f64;
        let reps = (2e8 / flops).ceil() as usize;
        let jit = median_ns(21, reps, || {
            f.call(black_box(&ins), &mut c, &mut []).unwrap()
        });
        let (a, b) = ins.split_at(mm * nn);
        let mut cr = vec![0.0; mm * pp];
        let rust = median_ns(21, reps, || {
            cr.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..mm {
                for k in 0..nn {
                    let aik = a[i * nn + k];
                    for j in 0..pp {
                        cr[i * pp + j] += aik * b[k * pp + j];
                    }
                }
            }
            black_box(&cr);
        });
        row(&format!("matmul {mm}x{nn}x{pp} (i-k-j)"), jit, rust);
        // On a shared machine the median includes time the thread was not running; the
        // fastest of many single calls is the kernel's own speed.
        let best = |f: &CompiledFn, c: &mut Vec<f64>| {
            (0..200)
                .map(|_| {
                    let t = Instant::now();
                    f.call(black_box(&ins), c, &mut []).unwrap();
                    t.elapsed().as_nanos() as f64
                })
                .fold(f64::INFINITY, f64::min)
        };
        // The same product from the emitted 128-bit kernel (what hosts without AVX2 run).
        let wide_off = JitOptions {
            wide_gemm: false,
            ..opts.clone()
        };
        let narrow = matmul(wide_off, (mm, nn, pp));
        let narrow_median = median_ns(21, reps, || {
            narrow.call(black_box(&ins), &mut c, &mut []).unwrap()
        });
        let kernels = [
            (default_kernel, jit, best(&f, &mut c)),
            ("128-bit, emitted", narrow_median, best(&narrow, &mut c)),
        ];
        for (kernel, median, fastest) in kernels {
            for (what, ns) in [("median", median), ("fastest call", fastest)] {
                let gflops = flops / ns;
                println!(
                    "{:<34} {gflops:>6.1} GFLOP/s = {:>4.1} % of {PEAK_GFLOPS} GFLOP/s peak ({kernel}, {what})",
                    "",
                    100.0 * gflops / PEAK_GFLOPS
                );
            }
        }
    }

    // tanh map, per element
    let n = 4096;
    let ins = data(n, 5);
    let map = |o: JitOptions| {
        compile(o, Layout::new(n, n, 0), |t| {
            t.map_unary(out(0, n), Unary::Tanh, inp(0, n))
        })
    };
    let inline = map(opts.clone());
    let libm = map(JitOptions {
        inline_math: false,
        ..opts.clone()
    });
    let mut o = vec![0.0; n];
    let jit = median_ns(31, 50, || {
        inline.call(black_box(&ins), &mut o, &mut []).unwrap()
    });
    let via_libm = median_ns(31, 50, || {
        libm.call(black_box(&ins), &mut o, &mut []).unwrap()
    });
    let mut or = vec![0.0; n];
    let rust = median_ns(31, 50, || {
        for (y, x) in or.iter_mut().zip(black_box(&ins)) {
            *y = x.tanh();
        }
        black_box(&or);
    });
    let per = |t: f64| t / n as f64;
    row("tanh per element (inline)", per(jit), per(rust));
    row("tanh per element (JIT libm call)", per(via_libm), per(rust));

    // exp map, per element
    let f = compile(opts.clone(), Layout::new(n, n, 0), |t| {
        t.map_unary(out(0, n), Unary::Exp, inp(0, n))
    });
    let jit = median_ns(31, 50, || f.call(black_box(&ins), &mut o, &mut []).unwrap());
    let rust = median_ns(31, 50, || {
        for (y, x) in or.iter_mut().zip(black_box(&ins)) {
            *y = x.exp();
        }
        black_box(&or);
    });
    row("exp per element (inline)", per(jit), per(rust));

    // Compile time of one function with twenty kernels (an MLP layer's forward and backward
    // pieces), median of repeated full compiles including module creation and linking.
    let (m, n) = (64, 784);
    let layout = Layout::new(m * n + n + m, m * n + n + 4 * m + 8, 4 * m);
    let compile_ms = median_ns(11, 1, || {
        let mut jit = Jit::new(opts.clone()).unwrap();
        let id = jit
            .define("twenty", layout, |t| {
                let (w, x, b) = (inp(0, m * n), inp(m * n, n), inp(m * n + n, m));
                let s = |k: usize| Region::new(Buf::Scratch, k * m, m);
                let o = |k: usize| out(m * n + n + k * m, m);
                t.matvec(s(0), w, x, m, n, Accumulate::Overwrite); // 1
                t.map_binary(s(1), Binary::Add, s(0), b); // 2
                t.map_unary(s(2), Unary::Tanh, s(1)); // 3
                t.map_unary(s(3), Unary::Sigmoid, s(1)); // 4
                t.sum(out(m * n + n + 4 * m, 1), s(2)); // 5
                t.logsumexp(out(m * n + n + 4 * m + 1, 1), s(1)); // 6
                t.max(out(m * n + n + 4 * m + 2, 1), s(1)); // 7
                t.dot(out(m * n + n + 4 * m + 3, 1), s(2), s(3)); // 8
                let mut c = Chain::new(); // 9: fused tanh gradient
                let h = c.load(s(2));
                let sq = c.unary(Unary::Square, h);
                let one = c.constant(1.0);
                let d = c.binary(Binary::Sub, one, sq);
                t.elementwise(m, &c, &[(o(0), d)]);
                t.map_unary(o(1), Unary::Exp, s(1)); // 10
                t.map_unary(o(2), Unary::Log1p, s(3)); // 11
                t.map_unary(o(3), Unary::Softplus, s(1)); // 12
                t.outer(out(0, m * n), o(0), x, m, n, Accumulate::Overwrite); // 13
                t.matvec_t(out(m * n, n), w, o(0), m, n, Accumulate::Overwrite); // 14
                t.min(out(m * n + n + 4 * m + 4, 1), s(1)); // 15
                t.map_binary(s(0), Binary::Mul, s(2), s(3)); // 16
                t.map_unary(s(1), Unary::Relu, s(0)); // 17
                t.sum(out(m * n + n + 4 * m + 5, 1), s(1)); // 18
                t.map_unary(s(2), Unary::Log, s(3)); // 19
                t.sum(out(m * n + n + 4 * m + 6, 1), s(2)); // 20
            })
            .unwrap();
        black_box(jit.finish().unwrap().get(id));
    }) / 1e6;
    println!("compile one function of 20 kernels: {compile_ms:.2} ms");
}
