//! The register-blocked matrix–matrix product (`src/jit/gemm.rs`) against a plain triple loop,
//! over shapes chosen to hit every edge of the blocking: 1×n, n×1, k = 1, row counts around
//! the tile height (6), column counts around the tile width (4) and odd ones (a scalar
//! column), and `k` around the pass length (256): one pass, two equal passes, a loop of
//! passes plus a shorter last one. Each with FMA (when the host has it) and without, storing
//! and adding into the destination; and the 256-bit kernel of AVX2 hosts
//! (`src/jit/gemm_avx2.rs`, 6 × 8 tiles) against the emitted one, bit for bit.
//!
//! Tolerance. The kernel and the loop each compute `c + Σ_k a_k b_k` with `n + 1` roundings
//! in some order; each is within `γ(n+1) · (|c| + Σ|a_k||b_k|)` of the exact value, with
//! `γ(j) = j·u / (1 − j·u)` and `u = 2⁻⁵³` (Higham, *Accuracy and Stability*, §3.1; an FMA
//! only removes roundings). So they differ by at most twice that, per element. A wrong index
//! or a dropped term is off by about `|a||b|`, far beyond it.

use ebmc::jit::{
    Accumulate, Binary, Buf, Chain, CompiledFn, Jit, JitOptions, Layout, Region, Unary,
};

/// splitmix64, seeded, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn gamma(j: usize) -> f64 {
    let u = f64::EPSILON / 2.0;
    j as f64 * u / (1.0 - j as f64 * u)
}

fn compile(opts: JitOptions, shape: (usize, usize, usize), acc: Accumulate) -> CompiledFn {
    compile_with_clif(opts, shape, acc).0
}

/// The product's function and its CLIF (empty unless `opts.keep_clif`).
fn compile_with_clif(
    opts: JitOptions,
    (m, n, p): (usize, usize, usize),
    acc: Accumulate,
) -> (CompiledFn, String) {
    let mut jit = Jit::new(opts).expect("host supported");
    let layout = Layout::new(m * n + n * p, m * p, 0);
    let f = jit
        .define("gemm", layout, |t| {
            t.matmul(
                Region::new(Buf::Output, 0, m * p),
                Region::new(Buf::Input, 0, m * n),
                Region::new(Buf::Input, m * n, n * p),
                (m, n, p),
                acc,
            )
        })
        .expect("compiles");
    let lib = jit.finish().expect("links");
    let clif = lib.clif(f).unwrap_or_default().to_string();
    (lib.get(f), clif)
}

/// Checks one shape under `opts`; returns the largest error as a fraction of its bound.
/// Options with the 256-bit kernels on (verified, with the CLIF kept when `clif`) and the
/// same with them off; `None`, said on stderr, on a host without AVX2 and FMA, where the
/// emitted code is all there is to run.
fn wide_and_narrow(clif: bool) -> Option<(JitOptions, JitOptions)> {
    let wide = JitOptions {
        verify: true,
        keep_clif: clif,
        ..JitOptions::default()
    };
    if !Jit::new(wide.clone()).unwrap().wide_gemm() {
        eprintln!("NOT RUN: this host has no AVX2 and FMA; the emitted code is all it runs");
        return None;
    }
    let narrow = JitOptions {
        wide_gemm: false,
        ..wide.clone()
    };
    Some((wide, narrow))
}

fn check(opts: &JitOptions, rng: &mut Rng, (m, n, p): (usize, usize, usize)) -> f64 {
    let a = rng.vec(m * n);
    let b = rng.vec(n * p);
    let ins: Vec<f64> = a.iter().chain(&b).copied().collect();
    let mut worst: f64 = 0.0;
    for acc in [Accumulate::Overwrite, Accumulate::Add] {
        let f = compile(opts.clone(), (m, n, p), acc);
        let init = rng.vec(m * p);
        let mut got = init.clone();
        f.call(&ins, &mut got, &mut []).expect("runs");
        for i in 0..m {
            for j in 0..p {
                let c0 = if acc == Accumulate::Add {
                    init[i * p + j]
                } else {
                    0.0
                };
                let mut want = c0;
                let mut mag = c0.abs();
                for k in 0..n {
                    want += a[i * n + k] * b[k * p + j];
                    mag += (a[i * n + k] * b[k * p + j]).abs();
                }
                let bound = 2.0 * gamma(n + 1) * mag;
                let err = (got[i * p + j] - want).abs();
                assert!(
                    err <= bound,
                    "matmul {m}x{n}x{p} {acc:?}: C[{i},{j}] = {}, loop gives {want}, \
                     |diff| {err:e} > bound {bound:e}",
                    got[i * p + j]
                );
                if bound > 0.0 {
                    worst = worst.max(err / bound);
                }
            }
        }
    }
    worst
}

const SHAPES: &[(usize, usize, usize)] = &[
    // degenerate
    (0, 3, 4),
    (3, 0, 4),
    (3, 4, 0),
    (1, 1, 1),
    // 1×n, n×1, k = 1
    (1, 9, 13),
    (1, 300, 1),
    (13, 9, 1),
    (7, 1, 9),
    (6, 1, 4),
    // around the tile: rows 5, 6, 7, 12, 13; columns 1 … 9
    (5, 3, 2),
    (6, 4, 4),
    (7, 5, 3),
    (12, 8, 8),
    (13, 11, 9),
    (6, 2, 5),
    (11, 3, 7),
    // the 256-bit kernel's edges (6 × 8 tiles, then 4 columns, then single ones), each
    // large enough to call it: rows 1 … 5 and column counts 1, 7, 12, 15, 20
    (1, 600, 1),
    (2, 64, 12),
    (3, 40, 15),
    (4, 33, 20),
    (5, 50, 7),
    // around the pass length 256: one pass, one pass exactly, two equal passes,
    // three equal passes, a loop of passes then a shorter one
    (7, 255, 5),
    (6, 256, 4),
    (7, 257, 6),
    (5, 512, 3),
    (3, 768, 5),
    (4, 520, 7),
    // the shapes of a batched dense layer (16 examples, 784 → 256 → 10): W Xᵀ, Gᵀ X
    (256, 784, 16),
    (256, 16, 784),
    (10, 256, 16),
    (10, 16, 256),
];

#[test]
fn matmul_agrees_with_a_plain_loop_with_fma() {
    let opts = JitOptions {
        verify: true,
        ..JitOptions::default()
    };
    let mut rng = Rng(21);
    for &s in SHAPES {
        check(&opts, &mut rng, s);
    }
}

/// The emitted 128-bit kernel, which hosts without AVX2 run and small products run everywhere.
#[test]
fn emitted_matmul_agrees_with_a_plain_loop_with_fma() {
    let opts = JitOptions {
        verify: true,
        wide_gemm: false,
        ..JitOptions::default()
    };
    let mut rng = Rng(25);
    for &s in SHAPES {
        check(&opts, &mut rng, s);
    }
}

/// The 256-bit kernel (`src/jit/gemm_avx2.rs`) and the emitted one give the same bits on
/// every shape, storing and adding: the same passes and the same fused multiply-add chains,
/// only wider. The wide one must really be called: every product at or above the threshold
/// is a call in the CLIF, none below it.
#[test]
fn wide_matmul_gives_the_emitted_bits() {
    let Some((wide, narrow)) = wide_and_narrow(true) else {
        return;
    };
    let mut rng = Rng(26);
    for &(m, n, p) in SHAPES {
        let a = rng.vec(m * n);
        let b = rng.vec(n * p);
        let ins: Vec<f64> = a.iter().chain(&b).copied().collect();
        for acc in [Accumulate::Overwrite, Accumulate::Add] {
            let init = rng.vec(m * p);
            let run = |opts: &JitOptions| {
                let (f, clif) = compile_with_clif(opts.clone(), (m, n, p), acc);
                let mut out = init.clone();
                f.call(&ins, &mut out, &mut []).expect("runs");
                (out, clif)
            };
            let (got, clif) = run(&wide);
            let (want, _) = run(&narrow);
            let calls = clif.contains("call ");
            let big = m * n * p >= ebmc::jit::gemm::WIDE_MIN;
            assert_eq!(
                calls, big,
                "{m}x{n}x{p}: a call iff the product is large:\n{clif}"
            );
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "{m}x{n}x{p} {acc:?}: element {i} is {g} wide, {w} emitted"
                );
            }
        }
    }
}

#[test]
fn matmul_agrees_with_a_plain_loop_without_fma() {
    let opts = JitOptions {
        verify: true,
        fma: false,
        ..JitOptions::default()
    };
    let mut rng = Rng(22);
    for &s in SHAPES {
        check(&opts, &mut rng, s);
    }
}

/// Random shapes at random offsets in their buffers (so no region starts where the others
/// do, nor at a 16- or 32-byte boundary by design), each large enough to call the 256-bit
/// kernel: the same bits as the emitted one, storing and adding, and the elements around `C`
/// untouched.
#[test]
fn wide_matmul_at_random_offsets_gives_the_emitted_bits() {
    let Some((wide, narrow)) = wide_and_narrow(false) else {
        return;
    };
    let mut rng = Rng(27);
    let mut pick =
        |lo: usize, hi: usize| lo + ((rng.next() + 1.0) / 2.0 * (hi - lo) as f64) as usize;
    let mut tried = 0;
    while tried < 60 {
        let (m, n, p) = (pick(1, 20), pick(1, 600), pick(1, 20));
        if m * n * p < ebmc::jit::gemm::WIDE_MIN {
            continue;
        }
        tried += 1;
        let (oa, ob, oc) = (pick(0, 5), pick(0, 5), pick(0, 5));
        let acc = if tried % 2 == 0 {
            Accumulate::Add
        } else {
            Accumulate::Overwrite
        };
        let ins_len = oa + m * n + ob + n * p;
        let out_len = oc + m * p + 3;
        let layout = Layout::new(ins_len, out_len, 0);
        let mut data = Rng(1000 + tried as u64);
        let ins = data.vec(ins_len);
        let init = data.vec(out_len);
        let run = |opts: &JitOptions| {
            let mut jit = Jit::new(opts.clone()).expect("host supported");
            let f = jit
                .define("gemm", layout, |t| {
                    t.matmul(
                        Region::new(Buf::Output, oc, m * p),
                        Region::new(Buf::Input, oa, m * n),
                        Region::new(Buf::Input, oa + m * n + ob, n * p),
                        (m, n, p),
                        acc,
                    )
                })
                .expect("compiles");
            let f = jit.finish().expect("links").get(f);
            let mut out = init.clone();
            f.call(&ins, &mut out, &mut []).expect("runs");
            out
        };
        let (got, want) = (run(&wide), run(&narrow));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{m}x{n}x{p} {acc:?} at offsets {oa}, {ob}, {oc}: output {i} is {g} wide, {w} emitted"
            );
        }
        for i in (0..oc).chain(oc + m * p..out_len) {
            assert_eq!(
                got[i].to_bits(),
                init[i].to_bits(),
                "{m}x{n}x{p}: output {i} outside C"
            );
        }
    }
}

/// The bound is not vacuous: with FMA off both sides round every product, and over long sums
/// the observed error reaches a visible fraction of it.
#[test]
fn tolerance_is_within_sight_of_the_errors() {
    let opts = JitOptions {
        verify: true,
        fma: false,
        ..JitOptions::default()
    };
    let mut rng = Rng(23);
    let worst = check(&opts, &mut rng, (6, 784, 8));
    assert!(worst > 1e-4, "largest error only {worst} of its bound");
}

/// The 2×2-blocked transpose moves every element exactly once to its place, for even and odd
/// row and column counts (the odd column and the odd row take the element-by-element path).
#[test]
fn transpose_moves_every_element() {
    let mut rng = Rng(24);
    for (rows, cols) in [
        (1, 1),
        (1, 5),
        (5, 1),
        (2, 2),
        (2, 3),
        (3, 2),
        (5, 7),
        (16, 784),
        (7, 16),
    ] {
        let src = rng.vec(rows * cols);
        let mut jit = Jit::new(JitOptions::default()).expect("host supported");
        let f = jit
            .define("t", Layout::new(rows * cols, rows * cols, 0), |t| {
                t.transpose(
                    Region::new(Buf::Output, 0, rows * cols),
                    Region::new(Buf::Input, 0, rows * cols),
                    rows,
                    cols,
                )
            })
            .expect("compiles");
        let f = jit.finish().expect("links").get(f);
        let mut got = vec![f64::NAN; rows * cols];
        f.call(&src, &mut got, &mut []).expect("runs");
        for i in 0..rows {
            for j in 0..cols {
                assert_eq!(
                    got[j * rows + i].to_bits(),
                    src[i * cols + j].to_bits(),
                    "transpose {rows}x{cols} at ({i}, {j})"
                );
            }
        }
    }
}

/// Inputs for the maps: random values from 10⁻³ to 10³ of both signs, then every special and
/// threshold of `exp`, `tanh` and `sigmoid`.
fn map_inputs(rng: &mut Rng, n: usize) -> Vec<f64> {
    const SPECIAL: [f64; 22] = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-310,
        -1e-310,
        709.78,
        710.0,
        711.0,
        -745.1,
        -746.0,
        -800.0,
        0.625,
        -0.625,
        0.6249999999999999,
        20.0,
        -20.5,
        1e300,
        -1e300,
        f64::MIN_POSITIVE,
        0.3465735902799726,
    ];
    (0..n)
        .map(|i| match SPECIAL.get(i % 40) {
            Some(&s) => s,
            None => rng.next() * 10f64.powi((i % 7) as i32 - 3),
        })
        .collect()
}

#[test]
fn wide_maps_give_the_emitted_bits() {
    let Some((wide, narrow)) = wide_and_narrow(true) else {
        return;
    };
    let mut rng = Rng(27);
    // A plain map, and the map of a computed argument (a bias cycled over rows of 4, added
    // first), which becomes a loop storing the argument and the map in place.
    for (op, biased) in [Unary::Exp, Unary::Tanh, Unary::Sigmoid]
        .into_iter()
        .flat_map(|op| [(op, false), (op, true)])
    {
        for n in (14..=23)
            .chain([400, 1001])
            .filter(|n| !biased || n % 4 == 0)
        {
            let mut ins = map_inputs(&mut rng, n);
            ins.extend([0.5, -1.25, 3.0, -0.0]);
            let run = |opts: &JitOptions| {
                let mut jit = Jit::new(opts.clone()).expect("host supported");
                let f = jit
                    .define("map", Layout::new(n + 4, n, 0), |t| {
                        let (dst, src) = (
                            Region::new(Buf::Output, 0, n),
                            Region::new(Buf::Input, 0, n),
                        );
                        if biased {
                            let mut c = Chain::new();
                            let x = c.load(src);
                            let b = c.cycle(Region::new(Buf::Input, n, 4));
                            let a = c.binary(Binary::Add, x, b);
                            let y = c.unary(op, a);
                            t.elementwise(n, &c, &[(dst, y)]);
                        } else {
                            t.map_unary(dst, op, src)
                        }
                    })
                    .expect("compiles");
                let lib = jit.finish().expect("links");
                let clif = lib.clif(f).unwrap_or_default().to_string();
                let mut out = vec![0.0; n];
                lib.get(f).call(&ins, &mut out, &mut []).expect("runs");
                (out, clif)
            };
            let (got, clif) = run(&wide);
            let (want, _) = run(&narrow);
            assert_eq!(
                clif.contains("call "),
                n >= ebmc::jit::map_avx2::MIN_LEN,
                "{op:?} of {n} (bias: {biased}): a call iff the map is long:\n{clif}"
            );
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{op:?} of {n} (bias: {biased}): element {i} (x = {:e}) is {g:e} wide, {w:e} emitted",
                    ins[i]
                );
            }
        }
    }
}
