//! Every JIT building block against a plain Rust reference, the ulp sweeps of the inline
//! transcendentals against the host libm, and the safety checks of the call wrapper.

use ebmc::jit::{
    Accumulate, Binary, Buf, Chain, CompiledFn, FnId, FunctionTranslator, Jit, JitError,
    JitOptions, Layout, Region, Strided, Unary,
};

// ---- helpers ----------------------------------------------------------------------------

/// splitmix64: a small seeded generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform(-1.0, 1.0)).collect()
    }
}

fn options() -> JitOptions {
    JitOptions {
        verify: true,
        ..JitOptions::default()
    }
}

fn compile(layout: Layout, body: impl FnOnce(&mut FunctionTranslator)) -> CompiledFn {
    compile_with(options(), layout, body)
}

fn compile_with(
    opts: JitOptions,
    layout: Layout,
    body: impl FnOnce(&mut FunctionTranslator),
) -> CompiledFn {
    let mut jit = Jit::new(opts).expect("host supported");
    let f = jit.define("kernel", layout, body).expect("compiles");
    jit.finish().expect("links").get(f)
}

/// Runs `f` on `inputs` and returns the outputs (starting from `init`).
fn run(f: &CompiledFn, inputs: &[f64], init: &[f64]) -> Vec<f64> {
    let mut out = init.to_vec();
    let mut scratch = f.scratch();
    f.call(inputs, &mut out, &mut scratch)
        .expect("call succeeds");
    out
}

fn inp(offset: usize, len: usize) -> Region {
    Region::new(Buf::Input, offset, len)
}

fn out(offset: usize, len: usize) -> Region {
    Region::new(Buf::Output, offset, len)
}

/// Distance in units in the last place; 0 when both are NaN or the same infinity.
fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ord = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 {
            i64::MIN - b
        } else {
            b
        }
    };
    (ord(a) as i128 - ord(b) as i128).unsigned_abs() as u64
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()) || g == w,
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

type UnaryRef = fn(f64) -> f64;
type BinaryRef = fn(f64, f64) -> f64;

const SIZES: [usize; 9] = [0, 1, 2, 3, 4, 5, 8, 17, 1001];

// ---- elementwise ------------------------------------------------------------------------

fn map_unary(op: Unary, xs: &[f64]) -> Vec<f64> {
    let n = xs.len();
    let f = compile(Layout::new(n, n, 0), |t| {
        t.map_unary(out(0, n), op, inp(0, n))
    });
    run(&f, xs, &vec![0.0; n])
}

#[test]
fn unary_maps_match_rust() {
    let exact: [(Unary, UnaryRef); 9] = [
        (Unary::Neg, |x| -x),
        (Unary::Abs, f64::abs),
        (Unary::Sqrt, f64::sqrt),
        (Unary::Square, |x| x * x),
        (Unary::Recip, |x| 1.0 / x),
        (Unary::Relu, |x| x.max(0.0)),
        (Unary::Step, |x| if x > 0.0 { 1.0 } else { 0.0 }),
        (Unary::Sin, f64::sin),
        (Unary::Cos, f64::cos),
    ];
    let mut rng = Rng(1);
    for n in SIZES {
        let xs: Vec<f64> = (0..n).map(|_| rng.uniform(-3.0, 3.0)).collect();
        for (op, r) in exact {
            let got = map_unary(op, &xs);
            for (i, (&g, &x)) in got.iter().zip(&xs).enumerate() {
                let want = r(x);
                assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "{op:?}({x}) at {i} of {n}: got {g}, want {want}"
                );
            }
        }
    }
}

#[test]
fn binary_maps_match_rust() {
    let ops: [(Binary, BinaryRef); 13] = [
        (Binary::Add, |a, b| a + b),
        (Binary::Sub, |a, b| a - b),
        (Binary::Mul, |a, b| a * b),
        (Binary::Div, |a, b| a / b),
        (Binary::Min, f64::min),
        (Binary::Max, f64::max),
        (Binary::Pow, f64::powf),
        (Binary::Lt, |a, b| (a < b) as u8 as f64),
        (Binary::Le, |a, b| (a <= b) as u8 as f64),
        (Binary::Gt, |a, b| (a > b) as u8 as f64),
        (Binary::Ge, |a, b| (a >= b) as u8 as f64),
        (Binary::Eq, |a, b| (a == b) as u8 as f64),
        (Binary::Ne, |a, b| (a != b) as u8 as f64),
    ];
    let mut rng = Rng(2);
    for n in SIZES {
        // Small integers make the comparisons hit equality too.
        let a: Vec<f64> = (0..n).map(|_| rng.uniform(0.0, 4.0).floor()).collect();
        let b: Vec<f64> = (0..n).map(|_| rng.uniform(0.0, 4.0).floor()).collect();
        let ins: Vec<f64> = a.iter().chain(&b).copied().collect();
        for (op, r) in ops {
            let f = compile(Layout::new(2 * n, n, 0), |t| {
                t.map_binary(out(0, n), op, inp(0, n), inp(n, n))
            });
            let got = run(&f, &ins, &vec![0.0; n]);
            for i in 0..n {
                let want = r(a[i], b[i]);
                assert_eq!(
                    got[i].to_bits(),
                    want.to_bits(),
                    "{op:?}({}, {})",
                    a[i],
                    b[i]
                );
            }
        }
    }
}

#[test]
fn min_max_relu_propagate_nan() {
    let got = map_unary(Unary::Relu, &[f64::NAN, -1.0, 2.0]);
    assert!(got[0].is_nan());
    assert_eq!(&got[1..], &[0.0, 2.0]);
}

#[test]
fn fused_chain_with_broadcast_select_and_two_outputs() {
    // y = tanh(a * s + b); z = select(a > b, y, exp(b)) with s broadcast from inputs[2n].
    let mut rng = Rng(3);
    for n in SIZES {
        let mut ins = rng.vec(2 * n);
        ins.push(0.75);
        let f = compile(Layout::new(2 * n + 1, 2 * n, 0), |t| {
            let mut c = Chain::new();
            let a = c.load(inp(0, n));
            let b = c.load(inp(n, n));
            let s = c.broadcast(Region::at(Buf::Input, 2 * n));
            let _dead = c.unary(Unary::Log, a);
            let m = c.binary(Binary::Mul, a, s);
            let h = c.binary(Binary::Add, m, b);
            let y = c.unary(Unary::Tanh, h);
            let g = c.binary(Binary::Gt, a, b);
            let e = c.unary(Unary::Exp, b);
            let z = c.select(g, y, e);
            t.elementwise(n, &c, &[(out(0, n), y), (out(n, n), z)]);
        });
        let got = run(&f, &ins, &vec![0.0; 2 * n]);
        for i in 0..n {
            let (a, b) = (ins[i], ins[n + i]);
            let y = (a * 0.75 + b).tanh();
            let z = if a > b { y } else { b.exp() };
            assert!(ulps(got[i], y) <= 2, "y[{i}]");
            assert!(ulps(got[n + i], z) <= 2, "z[{i}]");
        }
    }
}

#[test]
fn repeated_reads_by_rows() {
    // y[r, j] = a[r, j] + v[j] · u[r] and z = sigmoid(y), v cycled over the rows and u spread
    // along them, at row lengths that leave a remainder pair and a scalar: every element is
    // read from where it lies, in place of the outer products with ones it stands for.
    let mut rng = Rng(5);
    for rows in [1, 2, 3, 7] {
        for p in [1, 2, 3, 5, 8, 33] {
            let n = rows * p;
            let ins = rng.vec(n + p + rows);
            let f = compile(Layout::new(n + p + rows, 2 * n, 0), |t| {
                let mut c = Chain::new();
                let a = c.load(inp(0, n));
                let v = c.cycle(inp(n, p));
                let u = c.spread(inp(n + p, rows), p);
                let vu = c.binary(Binary::Mul, v, u);
                let y = c.binary(Binary::Add, a, vu);
                let z = c.unary(Unary::Sigmoid, y);
                t.elementwise(n, &c, &[(out(0, n), y), (out(n, n), z)]);
            });
            let got = run(&f, &ins, &vec![0.0; 2 * n]);
            for r in 0..rows {
                for j in 0..p {
                    let i = r * p + j;
                    let y = ins[i] + ins[n + j] * ins[n + p + r];
                    assert_eq!(got[i], y, "y[{r}, {j}] of {rows} × {p}");
                    let z = 1.0 / (1.0 + (-y).exp());
                    assert!(ulps(got[n + i], z) <= 2, "z[{r}, {j}] of {rows} × {p}");
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "repeated reads of periods")]
fn repeated_reads_of_two_periods_are_refused() {
    compile(Layout::new(12, 12, 0), |t| {
        let mut c = Chain::new();
        let a = c.cycle(inp(0, 4));
        let b = c.cycle(inp(4, 6));
        let s = c.binary(Binary::Add, a, b);
        t.elementwise(12, &c, &[(out(0, 12), s)]);
    });
}

#[test]
fn in_place_update() {
    // w = w - 0.1 * g, in the output buffer, as an optimizer step does.
    let mut rng = Rng(4);
    for n in SIZES {
        let g = rng.vec(n);
        let w0 = rng.vec(n);
        let f = compile(Layout::new(n, n, 0), |t| {
            let mut c = Chain::new();
            let w = c.load(out(0, n));
            let g = c.load(inp(0, n));
            let r = c.constant(0.1);
            let s = c.binary(Binary::Mul, r, g);
            let v = c.binary(Binary::Sub, w, s);
            t.elementwise(n, &c, &[(out(0, n), v)]);
        });
        let got = run(&f, &g, &w0);
        let want: Vec<f64> = w0.iter().zip(&g).map(|(w, g)| w - 0.1 * g).collect();
        assert_eq!(got, want);
    }
}

#[test]
#[should_panic(expected = "partially overlaps")]
fn shifted_in_place_update_is_refused() {
    compile(Layout::new(0, 9, 0), |t| {
        let mut c = Chain::new();
        let x = c.load(out(1, 8));
        t.elementwise(8, &c, &[(out(0, 8), x)]);
    });
}

#[test]
#[should_panic(expected = "exceeds the Input buffer")]
fn out_of_bounds_region_is_refused_at_compile_time() {
    compile(Layout::new(4, 4, 0), |t| {
        t.map_unary(out(0, 4), Unary::Neg, inp(1, 4))
    });
}

#[test]
#[should_panic(expected = "writes to the input buffer")]
fn writing_inputs_is_refused() {
    compile(Layout::new(4, 4, 0), |t| t.fill(inp(0, 4), 0.0));
}

// ---- ulp sweeps -------------------------------------------------------------------------

/// Random and special arguments for a function whose interesting range is `lo..hi`.
fn sweep_values(seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1e-310,
        -1e-310,
        1e-300,
        -1e-300,
        1e-20,
        -1e-20,
        1e-8,
        -1e-8,
        0.5,
        -0.5,
        1.0,
        -1.0,
        1.0 + f64::EPSILON,
        1.0 - f64::EPSILON / 2.0,
        std::f64::consts::LN_2 / 2.0,
        std::f64::consts::SQRT_2,
        std::f64::consts::FRAC_1_SQRT_2,
        0.625,
        0.625 - 1e-16,
        19.06,
        20.0,
        36.8,
        -36.8,
        700.0,
        -700.0,
        709.782712893384,
        709.7827128933841,
        -708.3964185322641,
        -708.4,
        -745.1332191019411,
        -745.1332191019412,
        -744.5,
        710.0,
        -746.0,
        1e10,
        -1e10,
        1e300,
        -1e300,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut rng = Rng(seed);
    for _ in 0..(1 << 18) {
        v.push(rng.uniform(lo, hi));
        v.push(rng.uniform(-1.0, 1.0));
        // Every magnitude and sign, uniformly over the bit patterns of finite doubles.
        let bits = rng.next_u64();
        let x = f64::from_bits(bits);
        v.push(if x.is_finite() {
            x
        } else {
            rng.uniform(-2.0, 2.0)
        });
        // Near 0 in relative terms: log-uniform in [1e-12, 1].
        let s = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        v.push(s * 10f64.powf(rng.uniform(-12.0, 0.0)));
    }
    v
}

/// Max ulp error of the JIT's `op` against `reference` over the sweep; reports the worst.
fn max_ulp(op: Unary, lo: f64, hi: f64, reference: fn(f64) -> f64) -> (u64, f64) {
    let xs = sweep_values(op as u64 + 11, lo, hi);
    let got = map_unary(op, &xs);
    let mut worst = (0, 0.0);
    for (&x, &g) in xs.iter().zip(&got) {
        let e = ulps(g, reference(x));
        if e > worst.0 {
            worst = (e, x);
        }
    }
    eprintln!("{op:?}: max {} ulp (at x = {:e})", worst.0, worst.1);
    worst
}

fn check_ulp(op: Unary, lo: f64, hi: f64, reference: fn(f64) -> f64) {
    let (e, x) = max_ulp(op, lo, hi, reference);
    assert!(e <= 2, "{op:?}: {e} ulp at x = {x:e} ({x:?})");
}

#[test]
fn exp_within_2_ulp() {
    check_ulp(Unary::Exp, -746.0, 710.0, f64::exp);
}

#[test]
fn log_within_2_ulp() {
    check_ulp(Unary::Log, 0.0, 1e6, f64::ln);
}

#[test]
fn log1p_within_2_ulp() {
    check_ulp(Unary::Log1p, -1.0, 100.0, f64::ln_1p);
}

#[test]
fn tanh_within_2_ulp() {
    check_ulp(Unary::Tanh, -25.0, 25.0, f64::tanh);
}

/// `num / (hi + lo)` with the divisor in double-double, rounded once.
fn div_dd(num: f64, hi: f64, lo: f64) -> f64 {
    let q = num / hi;
    let r = (-q).mul_add(hi, num) - q * lo;
    q + r / hi
}

/// Logistic function from libm's exp with the sum `1 + e` kept exact (TwoSum), so the
/// reference carries only exp's own rounding.
fn sigmoid_ref(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    let s = 1.0 + e;
    let lo = e - (s - 1.0);
    let num = if x >= 0.0 { 1.0 } else { e };
    if x.is_nan() {
        return x;
    }
    div_dd(num, s, lo)
}

fn softplus_ref(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[test]
fn sigmoid_within_2_ulp() {
    check_ulp(Unary::Sigmoid, -750.0, 750.0, sigmoid_ref);
}

#[test]
fn softplus_within_2_ulp() {
    check_ulp(Unary::Softplus, -750.0, 750.0, softplus_ref);
}

#[test]
fn special_values_exactly() {
    let inf = f64::INFINITY;
    let cases: [(Unary, f64, f64); 22] = [
        (Unary::Exp, 0.0, 1.0),
        (Unary::Exp, inf, inf),
        (Unary::Exp, -inf, 0.0),
        (Unary::Exp, 710.0, inf),
        (Unary::Exp, -746.0, 0.0),
        (Unary::Exp, -745.0, 5e-324),
        (Unary::Log, 1.0, 0.0),
        (Unary::Log, 0.0, -inf),
        (Unary::Log, -0.0, -inf),
        (Unary::Log, inf, inf),
        (Unary::Log, 5e-324, -744.4400719213812),
        (Unary::Log1p, -1.0, -inf),
        (Unary::Log1p, 0.0, 0.0),
        (Unary::Log1p, inf, inf),
        (Unary::Log1p, 1e-300, 1e-300),
        (Unary::Tanh, inf, 1.0),
        (Unary::Tanh, -inf, -1.0),
        (Unary::Tanh, 1e-300, 1e-300),
        (Unary::Sigmoid, inf, 1.0),
        (Unary::Sigmoid, -inf, 0.0),
        (Unary::Softplus, -inf, 0.0),
        (Unary::Softplus, inf, inf),
    ];
    for (op, x, want) in cases {
        let got = map_unary(op, &[x])[0];
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{op:?}({x}) = {got}, want {want}"
        );
    }
    for (op, x) in [
        (Unary::Log, -1.0),
        (Unary::Log1p, -2.0),
        (Unary::Log, f64::NAN),
    ] {
        assert!(map_unary(op, &[x])[0].is_nan(), "{op:?}({x}) should be NaN");
    }
    assert_eq!(
        map_unary(Unary::Tanh, &[-0.0])[0].to_bits(),
        (-0.0f64).to_bits()
    );
    for op in [
        Unary::Exp,
        Unary::Tanh,
        Unary::Sigmoid,
        Unary::Softplus,
        Unary::Log1p,
    ] {
        assert!(map_unary(op, &[f64::NAN])[0].is_nan(), "{op:?}(NaN)");
    }
}

#[test]
fn libm_mode_calls_libm() {
    let xs = [0.3, -2.0, 5.5];
    let opts = JitOptions {
        inline_math: false,
        ..options()
    };
    let f = compile_with(opts, Layout::new(3, 3, 0), |t| {
        t.map_unary(out(0, 3), Unary::Tanh, inp(0, 3))
    });
    let got = run(&f, &xs, &[0.0; 3]);
    let want: Vec<f64> = xs.iter().map(|x| x.tanh()).collect();
    assert_eq!(got, want);
}

// ---- reductions ---------------------------------------------------------------------------

#[test]
fn reductions_match_rust() {
    let mut rng = Rng(5);
    for n in SIZES {
        let xs = rng.vec(n);
        let ys = rng.vec(n);
        let ins: Vec<f64> = xs.iter().chain(&ys).copied().collect();
        let f = compile(Layout::new(2 * n, 5, 0), |t| {
            t.sum(out(0, 1), inp(0, n));
            t.max(out(1, 1), inp(0, n));
            t.min(out(2, 1), inp(0, n));
            t.dot(out(3, 1), inp(0, n), inp(n, n));
            t.logsumexp(out(4, 1), inp(0, n));
        });
        let got = run(&f, &ins, &[9.0; 5]);
        let sum: f64 = xs.iter().sum();
        let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let dot: f64 = xs.iter().zip(&ys).map(|(a, b)| a * b).sum();
        let lse = if n == 0 {
            f64::NEG_INFINITY
        } else {
            max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
        };
        let tol = 1e-13 * (n as f64 + 1.0);
        assert_close(
            &got,
            &[sum, max, min, dot, lse],
            tol,
            &format!("reductions n={n}"),
        );
        assert_eq!(got[1], max, "max is exact");
        assert_eq!(got[2], min, "min is exact");
    }
}

#[test]
fn logsumexp_is_stable() {
    let cases: [(&[f64], f64); 5] = [
        (&[1000.0, 1000.0], 1000.0 + std::f64::consts::LN_2),
        (&[-1000.0, -1000.0, -1000.0], -1000.0 + 3f64.ln()),
        (&[f64::NEG_INFINITY, f64::NEG_INFINITY], f64::NEG_INFINITY),
        (&[f64::INFINITY, 0.0, 1.0], f64::INFINITY),
        (&[f64::NEG_INFINITY, 0.0], 0.0),
    ];
    for (xs, want) in cases {
        let n = xs.len();
        let f = compile(Layout::new(n, 1, 0), |t| t.logsumexp(out(0, 1), inp(0, n)));
        let got = run(&f, xs, &[0.0])[0];
        assert!(
            ulps(got, want) <= 1,
            "logsumexp({xs:?}) = {got}, want {want}"
        );
    }
}

// ---- linear algebra ---------------------------------------------------------------------

const SHAPES: [(usize, usize); 10] = [
    (0, 3),
    (3, 0),
    (1, 1),
    (1, 7),
    (3, 5),
    (4, 4),
    (5, 3),
    (7, 9),
    (9, 8),
    (256, 784),
];

#[test]
fn matvec_and_transpose_match_rust() {
    let mut rng = Rng(6);
    for (m, n) in SHAPES {
        let a = rng.vec(m * n);
        let x = rng.vec(n);
        let g = rng.vec(m);
        let ins: Vec<f64> = a.iter().chain(&x).chain(&g).copied().collect();
        for acc in [Accumulate::Overwrite, Accumulate::Add] {
            let f = compile(Layout::new(ins.len(), m + n, 0), |t| {
                t.matvec(out(0, m), inp(0, m * n), inp(m * n, n), m, n, acc);
                t.matvec_t(out(m, n), inp(0, m * n), inp(m * n + n, m), m, n, acc);
            });
            let init = rng.vec(m + n);
            let got = run(&f, &ins, &init);
            let base = |k: usize| if acc == Accumulate::Add { init[k] } else { 0.0 };
            let mut want = vec![0.0; m + n];
            for i in 0..m {
                want[i] = base(i) + (0..n).map(|j| a[i * n + j] * x[j]).sum::<f64>();
            }
            for j in 0..n {
                want[m + j] = base(m + j) + (0..m).map(|i| a[i * n + j] * g[i]).sum::<f64>();
            }
            assert_close(&got, &want, 1e-12, &format!("matvec {m}x{n} {acc:?}"));
        }
    }
}

#[test]
fn outer_matches_rust() {
    let mut rng = Rng(7);
    for (m, n) in SHAPES {
        let g = rng.vec(m);
        let x = rng.vec(n);
        let ins: Vec<f64> = g.iter().chain(&x).copied().collect();
        for acc in [Accumulate::Overwrite, Accumulate::Add] {
            let f = compile(Layout::new(m + n, m * n, 0), |t| {
                t.outer(out(0, m * n), inp(0, m), inp(m, n), m, n, acc)
            });
            let init = rng.vec(m * n);
            let got = run(&f, &ins, &init);
            let mut want = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    let b = if acc == Accumulate::Add {
                        init[i * n + j]
                    } else {
                        0.0
                    };
                    want[i * n + j] = b + g[i] * x[j];
                }
            }
            assert_close(&got, &want, 1e-15, &format!("outer {m}x{n} {acc:?}"));
        }
    }
}

#[test]
fn matmul_matches_rust() {
    let mut rng = Rng(8);
    let shapes = [
        (0, 2, 3),
        (2, 0, 3),
        (2, 3, 0),
        (1, 1, 1),
        (1, 5, 1),
        (3, 5, 7),
        (4, 4, 4),
        (5, 1, 6),
        (9, 7, 13),
        (17, 33, 10),
        (32, 784, 64),
    ];
    for (m, n, p) in shapes {
        let a = rng.vec(m * n);
        let b = rng.vec(n * p);
        let ins: Vec<f64> = a.iter().chain(&b).copied().collect();
        for acc in [Accumulate::Overwrite, Accumulate::Add] {
            let f = compile(Layout::new(ins.len(), m * p, 0), |t| {
                t.matmul(
                    out(0, m * p),
                    inp(0, m * n),
                    inp(m * n, n * p),
                    (m, n, p),
                    acc,
                )
            });
            let init = rng.vec(m * p);
            let got = run(&f, &ins, &init);
            let mut want = vec![0.0; m * p];
            for i in 0..m {
                for j in 0..p {
                    let s: f64 = (0..n).map(|k| a[i * n + k] * b[k * p + j]).sum();
                    let base = if acc == Accumulate::Add {
                        init[i * p + j]
                    } else {
                        0.0
                    };
                    want[i * p + j] = base + s;
                }
            }
            assert_close(&got, &want, 1e-12, &format!("matmul {m}x{n}x{p} {acc:?}"));
        }
    }
}

// ---- data movement ----------------------------------------------------------------------

#[test]
fn copy_fill_transpose() {
    let mut rng = Rng(9);
    for (r, c) in SHAPES {
        let n = r * c;
        let xs = rng.vec(n);
        let f = compile(Layout::new(n, 3 * n + 3, n), |t| {
            t.copy(Region::new(Buf::Scratch, 0, n), inp(0, n));
            t.copy(out(0, n), Region::new(Buf::Scratch, 0, n));
            t.fill(out(n, 3), 2.5);
            t.transpose(out(n + 3, n), inp(0, n), r, c);
            t.fill(out(2 * n + 3, n), -1.0);
        });
        let got = run(&f, &xs, &vec![0.0; 3 * n + 3]);
        assert_eq!(&got[..n], &xs[..]);
        assert_eq!(&got[n..n + 3], &[2.5; 3]);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(got[n + 3 + j * r + i], xs[i * c + j]);
            }
        }
        assert!(got[2 * n + 3..].iter().all(|&v| v == -1.0));
    }
}

#[test]
fn strided_copy_and_accumulate() {
    // Slice rows 1..4, columns 2..7 of a 5x9 matrix into a 3x5 output, then add it back
    // (doubled) into a zeroed 5x9 and a transposed view.
    let (r, c) = (5, 9);
    let xs: Vec<f64> = (0..r * c).map(|v| v as f64).collect();
    let slice = Strided {
        buf: Buf::Input,
        offset: 9 + 2,
        dims: vec![(3, 9), (5, 1)],
    };
    let dst = Strided::row_major(out(0, 15), &[3, 5]);
    let back = Strided {
        buf: Buf::Output,
        offset: 15 + 11,
        dims: vec![(3, 9), (5, 1)],
    };
    let src_view = Strided::row_major(inp(0, 45), &[5, 9]);
    let transposed = Strided {
        buf: Buf::Output,
        offset: 60,
        dims: vec![(5, 1), (9, 5)],
    };
    let f = compile(Layout::new(45, 105, 0), |t| {
        t.copy_strided(&dst, &slice, Accumulate::Overwrite);
        t.copy_strided(&back, &slice, Accumulate::Add);
        t.copy_strided(&back, &slice, Accumulate::Add);
        t.copy_strided(&transposed, &src_view, Accumulate::Overwrite);
    });
    let got = run(&f, &xs, &vec![0.0; 105]);
    for i in 0..3 {
        for j in 0..5 {
            let v = xs[(i + 1) * 9 + j + 2];
            assert_eq!(got[i * 5 + j], v);
            assert_eq!(got[15 + (i + 1) * 9 + j + 2], 2.0 * v);
        }
    }
    let touched: usize = got[15..60].iter().filter(|&&v| v != 0.0).count();
    assert_eq!(touched, 15);
    for i in 0..5 {
        for j in 0..9 {
            assert_eq!(got[60 + j * 5 + i], xs[i * 9 + j]);
        }
    }
}

#[test]
fn runtime_index_take_and_range_check() {
    let (rows, width) = (4, 3);
    let f = compile(Layout::new(rows * width + 1, width, 0), |t| {
        let table = inp(0, rows * width);
        let idx = Region::at(Buf::Input, rows * width);
        t.take_dynamic(out(0, width), table, (1, rows, width), idx);
    });
    let mut ins: Vec<f64> = (0..rows * width).map(|v| v as f64).collect();
    for k in 0..rows {
        ins.push(k as f64);
        let got = run(&f, &ins, &vec![0.0; width]);
        assert_eq!(&got[..], &ins[k * width..(k + 1) * width]);
        ins.pop();
    }
    for bad in [-1.0, 4.0, 1.5, f64::NAN, 1e300] {
        ins.push(bad);
        let mut o = vec![0.0; width];
        let err = f.call(&ins, &mut o, &mut []).unwrap_err();
        assert!(
            matches!(err, JitError::IndexOutOfRange { .. }),
            "{bad}: {err}"
        );
        ins.pop();
    }
}

// ---- the call wrapper -------------------------------------------------------------------

#[test]
fn wrong_buffer_lengths_are_errors() {
    let f = compile(Layout::new(3, 2, 1), |t| {
        t.sum(Region::at(Buf::Scratch, 0), inp(0, 3));
        t.copy(out(0, 1), Region::at(Buf::Scratch, 0));
        t.fill(out(1, 1), 7.0);
    });
    let (mut o, mut s) = (vec![0.0; 2], vec![0.0; 1]);
    f.call(&[1.0, 2.0, 3.0], &mut o, &mut s).unwrap();
    assert_eq!(o, [6.0, 7.0]);
    let cases: [(usize, usize, usize, Buf); 4] = [
        (2, 2, 1, Buf::Input),
        (4, 2, 1, Buf::Input),
        (3, 1, 1, Buf::Output),
        (3, 2, 0, Buf::Scratch),
    ];
    for (i, o, s, which) in cases {
        let err = f
            .call(&vec![0.0; i], &mut vec![0.0; o], &mut vec![0.0; s])
            .unwrap_err();
        match err {
            JitError::BufferLength { buffer, .. } => assert_eq!(buffer, which),
            other => panic!("expected a length error, got {other}"),
        }
    }
}

#[test]
fn compiled_fn_outlives_jit_and_library() {
    let f = {
        let mut jit = Jit::new(options()).unwrap();
        let id = jit
            .define("double", Layout::new(2, 2, 0), |t| {
                t.map_binary(out(0, 2), Binary::Add, inp(0, 2), inp(0, 2))
            })
            .unwrap();
        jit.finish().unwrap().get(id)
    };
    assert_eq!(run(&f, &[1.5, -2.0], &[0.0; 2]), [3.0, -4.0]);
}

/// A function of `n`-element loops of three kinds (a map, a matrix–vector product, a
/// reduction), inputs `[n × n matrix, n vector]`, outputs `n + 1`.
fn define_mixed(jit: &mut Jit, name: &str, n: usize) -> FnId {
    jit.define(name, Layout::new(n * n + n, n + 1, 0), |t| {
        t.map_unary(out(0, n), Unary::Tanh, inp(0, n));
        t.matvec(
            out(0, n),
            inp(0, n * n),
            inp(n * n, n),
            n,
            n,
            Accumulate::Add,
        );
        t.logsumexp(out(n, 1), inp(0, n));
    })
    .unwrap()
}

#[test]
fn code_size_does_not_grow_with_trip_count() {
    let size = |n: usize| {
        let mut jit = Jit::new(options()).unwrap();
        let id = define_mixed(&mut jit, "k", n);
        jit.code_size(id).unwrap()
    };
    // A heavy loop of at least 2,048 elements takes two lane pairs per iteration, shorter
    // ones one: the size is constant on each side of that length.
    // (Sizes ≡ 1 mod 8: the remainders after the unrolled loops are part of the code.)
    for (small, large) in [(size(1001), size(1993)), (size(3001), size(9001))] {
        assert!(small > 0);
        assert!(large.abs_diff(small) <= 16, "{small} vs {large} bytes");
    }
}

#[test]
fn several_functions_in_one_module() {
    let mut jit = Jit::new(options()).unwrap();
    let a = jit
        .define("neg", Layout::new(1, 1, 0), |t| {
            t.map_unary(out(0, 1), Unary::Neg, inp(0, 1))
        })
        .unwrap();
    let b = jit
        .define("sq", Layout::new(1, 1, 0), |t| {
            t.map_unary(out(0, 1), Unary::Square, inp(0, 1))
        })
        .unwrap();
    let lib = jit.finish().unwrap();
    assert_eq!(run(&lib.get(a), &[3.0], &[0.0]), [-3.0]);
    assert_eq!(run(&lib.get(b), &[3.0], &[0.0]), [9.0]);
    assert_eq!(lib.get(b).name(), "sq");
}

#[test]
fn duplicate_names_are_errors() {
    let mut jit = Jit::new(options()).unwrap();
    jit.define("f", Layout::default(), |_| {}).unwrap();
    let err = jit.define("f", Layout::default(), |_| {}).unwrap_err();
    assert!(matches!(err, JitError::Codegen { .. }), "{err}");
}

/// A module's functions compiled on several threads at once are the machine code one thread
/// makes, given to the module in the order they were defined: the same assembly, the same
/// sizes, the same results — however the threads happen to take the jobs.
#[test]
fn functions_compiled_on_several_threads_are_those_of_one() {
    let module = |threads: usize| {
        let opts = JitOptions {
            keep_asm: true,
            threads,
            ..options()
        };
        let mut jit = Jit::new(opts).unwrap();
        let mut ids = Vec::new();
        for (k, n) in [3usize, 40, 7, 64, 1, 17].into_iter().enumerate() {
            let id = define_mixed(&mut jit, &format!("f{k}"), n);
            ids.push((n, id));
        }
        let lib = jit.finish().unwrap();
        let mut rng = Rng(7);
        ids.into_iter()
            .map(|(n, id)| {
                let f = lib.get(id);
                let x = rng.vec(n * n + n);
                let asm = lib.asm(id).expect("kept").to_string();
                (asm, lib.code_size(id), run(&f, &x, &vec![0.0; n + 1]))
            })
            .collect::<Vec<_>>()
    };
    let one = module(1);
    for threads in [2, 3, 6] {
        let several = module(threads);
        for (k, (a, b)) in one.iter().zip(&several).enumerate() {
            assert_eq!(a.0, b.0, "f{k} on {threads} threads: other machine code");
            assert_eq!(a.1, b.1, "f{k} on {threads} threads: other size");
            assert_eq!(a.2, b.2, "f{k} on {threads} threads: other results");
        }
    }
}
