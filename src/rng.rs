//! The runtime's one source of randomness: a hand-written xoshiro256** generator seeded through
//! splitmix64, and what the runtime draws from it (uniforms, normals, shuffles, initial weights).
//!
//! It is written out here rather than taken from a crate so that a seed means the same weights
//! forever: `rand` and its friends are free to change their algorithms, their seeding or the
//! way they turn bits into floats between releases (and have), which would silently change
//! every "deterministic" training run after a `cargo update`. Both algorithms are public
//! domain (Blackman & Vigna, <https://prng.di.unimi.it/>), and the tests pin their published
//! outputs.
//!
//! Invariants:
//! * the sequence of every draw depends only on the seed and on the order of the calls;
//! * uniforms are multiples of 2⁻⁵³ in `[0, 1)`, built from the top 53 bits, so they are
//!   exact and identical on every platform;
//! * normals use Marsaglia's polar method, which needs `ln` and `sqrt` only (no `sin`/`cos`);
//!   `sqrt` is correctly rounded by IEEE 754, so normals are bit-for-bit repeatable wherever
//!   the platform's `ln` is — true of every libm we build on, but not promised by the standard;
//! * integers below `n` are unbiased (rejection sampling), so shuffles are uniform.

use crate::check::Init;
use crate::types::Shape;
use std::fmt;

/// xoshiro256** with a cached second normal deviate.
#[derive(Clone, Debug, PartialEq)]
pub struct Rng {
    s: [u64; 4],
    /// The polar method makes normals in pairs; the second waits here.
    spare_normal: Option<f64>,
}

/// One step of splitmix64: the recommended way to spread a 64-bit seed over xoshiro's state,
/// so that nearby seeds (0, 1, 2 …) give unrelated streams and the state is never all zero.
/// Also the whole stream of [`crate::testing::random_ir::Rng`].
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole future is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng {
            s,
            spare_normal: None,
        }
    }

    /// The next 64 random bits (xoshiro256**).
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform number in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform number in `[lo, hi)` (or `lo` when the interval is empty).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A uniform integer in `0..n`, without modulo bias. `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): empty range");
        // Reject the top sliver of 2⁶⁴ that does not divide evenly into n buckets.
        let zone = u64::MAX - (u64::MAX - n + 1) % n;
        loop {
            let x = self.next_u64();
            if x <= zone {
                return x % n;
            }
        }
    }

    /// A standard normal deviate (mean 0, standard deviation 1).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let k = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * k);
                return u * k;
            }
        }
    }

    /// Permutes `xs` uniformly at random (Fisher–Yates, from the back).
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
}

/// The initialiser's values do not fit the shape: the checker should have caught it.
#[derive(Clone, Debug, PartialEq)]
pub struct InitError {
    pub shape: Shape,
    pub found: usize,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an initial value for {} needs {} numbers (or one to repeat), found {}",
            self.shape,
            self.shape.len(),
            self.found
        )
    }
}

impl std::error::Error for InitError {}

/// The initial values of a parameter (or a descent starting point) of `shape`, row-major.
///
/// `Init::Values` holds either every element or one value repeated (as descent starting
/// points store it). Draws happen in row-major order, one per element, so a parameter's
/// values depend only on the generator's state when it is reached.
pub fn init_values(init: &Init, shape: &Shape, rng: &mut Rng) -> Result<Vec<f64>, InitError> {
    let mut out = vec![0.0; shape.len()];
    init_into(init, shape, rng, &mut out)?;
    Ok(out)
}

/// [`init_values`] into `out` (of `shape.len()` values), without allocating: descents
/// restart from their init at every evaluation.
pub fn init_into(
    init: &Init,
    shape: &Shape,
    rng: &mut Rng,
    out: &mut [f64],
) -> Result<(), InitError> {
    let n = shape.len();
    let wrong = |found| InitError {
        shape: shape.clone(),
        found,
    };
    if out.len() != n {
        return Err(wrong(out.len()));
    }
    match init {
        Init::Values(v) if v.len() == n => out.copy_from_slice(v),
        Init::Values(v) if v.len() == 1 => out.fill(v[0]),
        Init::Values(v) => return Err(wrong(v.len())),
        Init::Normal { mean, std } => out.iter_mut().for_each(|x| *x = mean + std * rng.normal()),
        Init::Uniform { lo, hi } => out.iter_mut().for_each(|x| *x = rng.uniform_in(*lo, *hi)),
        Init::Glorot => {
            let (fan_in, fan_out) = shape.fan_in_out();
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
            out.iter_mut().for_each(|x| *x = rng.uniform_in(-a, a));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference() {
        // First outputs of the reference splitmix64.c from state 0.
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut s), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(splitmix64(&mut s), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn xoshiro_matches_reference() {
        // xoshiro256** from state [1, 2, 3, 4]; the first output is rotl(2·5, 7)·9 = 11520 by hand.
        let mut r = Rng {
            s: [1, 2, 3, 4],
            spare_normal: None,
        };
        let got: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(got, [11520, 0, 1509978240, 1215971899390074240]);
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::new(8);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn uniform_is_in_unit_interval_with_mean_one_half() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            sum += u;
        }
        assert!(
            (sum / n as f64 - 0.5).abs() < 0.005,
            "mean {}",
            sum / n as f64
        );
    }

    #[test]
    fn normal_has_mean_zero_and_unit_variance() {
        let mut r = Rng::new(2);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        // Tails: about 4.55 % of a normal lies beyond two standard deviations.
        let tail = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / n as f64;
        assert!((tail - 0.0455).abs() < 0.003, "tail {tail}");
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut r = Rng::new(3);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[r.below(7) as usize] += 1;
        }
        for (i, &c) in seen.iter().enumerate() {
            assert!(
                (800..1200).contains(&c),
                "value {i} drawn {c} times of 7000"
            );
        }
    }

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_the_seed() {
        let mut xs: Vec<usize> = (0..50).collect();
        Rng::new(4).shuffle(&mut xs);
        let mut sorted = xs.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(xs, sorted, "50 elements left in order");
        let mut ys: Vec<usize> = (0..50).collect();
        Rng::new(4).shuffle(&mut ys);
        assert_eq!(xs, ys);
        let mut zs: Vec<usize> = (0..50).collect();
        Rng::new(5).shuffle(&mut zs);
        assert_ne!(xs, zs);
    }

    #[test]
    fn shuffle_puts_each_element_everywhere_equally_often() {
        // Position of element 0 after shuffling 4 elements 8000 times: each about 2000.
        let mut r = Rng::new(6);
        let mut count = [0usize; 4];
        for _ in 0..8000 {
            let mut xs = [0, 1, 2, 3];
            r.shuffle(&mut xs);
            count[xs.iter().position(|&x| x == 0).unwrap()] += 1;
        }
        for c in count {
            assert!((1800..2200).contains(&c), "{count:?}");
        }
    }

    #[test]
    fn init_values_copies_or_repeats_and_rejects_a_wrong_count() {
        let mut r = Rng::new(0);
        let s = Shape(vec![2, 2]);
        assert_eq!(
            init_values(&Init::Values(vec![1.0, 2.0, 3.0, 4.0]), &s, &mut r).unwrap(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            init_values(&Init::Values(vec![0.5]), &s, &mut r).unwrap(),
            [0.5; 4]
        );
        let e = init_values(&Init::Values(vec![1.0, 2.0]), &s, &mut r).unwrap_err();
        assert_eq!(
            e.to_string(),
            "an initial value for real[2, 2] needs 4 numbers (or one to repeat), found 2"
        );
        // Constant initialisers draw nothing.
        assert_eq!(r, Rng::new(0));
    }

    #[test]
    fn normal_init_has_the_asked_mean_and_std() {
        let mut r = Rng::new(9);
        let v = init_values(
            &Init::Normal {
                mean: 3.0,
                std: 0.5,
            },
            &Shape(vec![100, 100]),
            &mut r,
        )
        .unwrap();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!((mean - 3.0).abs() < 0.02, "mean {mean}");
        assert!((std - 0.5).abs() < 0.01, "std {std}");
    }

    #[test]
    fn uniform_and_glorot_stay_in_bounds_and_fill_them() {
        let mut r = Rng::new(10);
        let v = init_values(
            &Init::Uniform { lo: -2.0, hi: 1.0 },
            &Shape(vec![1000]),
            &mut r,
        )
        .unwrap();
        assert!(v.iter().all(|x| (-2.0..1.0).contains(x)));
        assert!(v.iter().any(|&x| x < -1.9) && v.iter().any(|&x| x > 0.9));

        // real[30, 20]: fan_in 20, fan_out 30, bound sqrt(6 / 50).
        let a = (6.0f64 / 50.0).sqrt();
        let g = init_values(&Init::Glorot, &Shape(vec![30, 20]), &mut r).unwrap();
        assert_eq!(g.len(), 600);
        assert!(g.iter().all(|x| x.abs() < a));
        assert!(g.iter().any(|&x| x > 0.95 * a) && g.iter().any(|&x| x < -0.95 * a));
    }

    #[test]
    fn initial_weights_are_pinned() {
        // A change here changes every trained model of every user: do it on purpose only.
        let mut r = Rng::new(1);
        let v = init_values(
            &Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            &Shape(vec![3]),
            &mut r,
        )
        .unwrap();
        let u = init_values(&Init::Uniform { lo: 0.0, hi: 1.0 }, &Shape(vec![2]), &mut r).unwrap();
        let bits: Vec<u64> = v.iter().chain(&u).map(|x| x.to_bits()).collect();
        assert_eq!(bits, PINNED);
    }

    /// Computed independently by a Python transcription of splitmix64, xoshiro256** and the
    /// polar method (normals 1.8843961047879770, 0.18978089448693036, 1.302090250702661;
    /// uniforms 0.6971784165599615, 0.1435720367444362).
    const PINNED: [u64; 5] = [
        0x3ffe267c87ac62eb,
        0x3fc84abd879d0e18,
        0x3ff4d55c9633557c,
        0x3fe64f491c534466,
        0x3fc260918937fed0,
    ];
}
