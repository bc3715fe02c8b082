//! Optimizers over one flat parameter vector: SGD with momentum and Adam, with optional L2.
//!
//! The training loop concatenates every param into one `Vec<f64>` and its gradient into
//! another; an [`Optim`] owns the per-element state (velocity, or Adam's two moments) for that
//! vector and updates it in place, one minibatch step at a time.
//!
//! Conventions (those of PyTorch's `SGD` and `Adam`, which users will compare against):
//! * L2 adds `l2 · w` to the gradient before anything else, for every element given
//!   (classic coupled L2, not AdamW's decoupled decay; the spec says `l2 · w` is added);
//! * SGD: `v ← μ·v + g`, `w ← w − rate·v`; with μ = 0 this is plain SGD;
//! * Adam (Kingma & Ba, algorithm 1): `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
//!   `w ← w − rate · m̂ / (√v̂ + ε)` with `m̂ = m / (1−β1ᵗ)`, `v̂ = v / (1−β2ᵗ)`.
//!
//! Determinism: each step is a fixed sequence of IEEE operations per element, in index order;
//! the bias corrections keep running products `β1ᵗ`, `β2ᵗ` (multiplications only) rather than
//! calling `powf`, whose last bit may differ between math libraries.

use super::session::RunError;
use crate::check::{Optimizer, Train};

/// An optimizer and its state for one parameter vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Optim {
    optimizer: Optimizer,
    rate: f64,
    l2: f64,
    /// The parameter vector's length.
    len: usize,
    /// SGD's velocity, or Adam's first moment.
    m: Vec<f64>,
    /// Adam's second moment (empty for SGD).
    v: Vec<f64>,
    /// Steps taken.
    t: u64,
    /// `β1ᵗ` and `β2ᵗ` for Adam's bias correction.
    beta1_t: f64,
    beta2_t: f64,
}

impl Optim {
    /// An optimizer for a parameter vector of `len` elements.
    pub fn new(optimizer: Optimizer, rate: f64, l2: f64, len: usize) -> Optim {
        let state = |n: usize| Ok::<_, RunError>(vec![0.0; n]);
        Optim::with_state(optimizer, rate, l2, len, state).unwrap_or_else(|_| unreachable!())
    }

    /// The optimizer a `train` declaration asks for; an error when its state does not fit in
    /// memory.
    pub fn for_train(train: &Train, len: usize) -> Result<Optim, RunError> {
        let state = |n| super::memory::zeros(n, "the optimizer's state");
        Optim::with_state(train.optimizer, train.rate, train.l2, len, state)
    }

    /// The parameter-length vectors of state `optimizer` keeps: Adam two moments, SGD with
    /// momentum a velocity, plain SGD none (the memory estimate counts them too).
    pub fn state_vectors(optimizer: Optimizer) -> usize {
        match optimizer {
            Optimizer::Adam { .. } => 2,
            Optimizer::Sgd { momentum } if momentum != 0.0 => 1,
            Optimizer::Sgd { .. } => 0,
        }
    }

    /// State only where the update reads it ([`Optim::state_vectors`]).
    fn with_state(
        optimizer: Optimizer,
        rate: f64,
        l2: f64,
        len: usize,
        zeros: impl Fn(usize) -> Result<Vec<f64>, RunError>,
    ) -> Result<Optim, RunError> {
        let n = Optim::state_vectors(optimizer);
        let m = if n >= 1 { zeros(len)? } else { Vec::new() };
        let v = if n >= 2 { zeros(len)? } else { Vec::new() };
        Ok(Optim {
            optimizer,
            rate,
            l2,
            len,
            m,
            v,
            t: 0,
            beta1_t: 1.0,
            beta2_t: 1.0,
        })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of `w` from its gradient `g` (same length as at construction).
    pub fn step(&mut self, w: &mut [f64], g: &[f64]) {
        self.checked_lengths(w, g);
        self.t += 1;
        self.update(w, g, true);
    }

    /// [`Optim::step`], unless it would make a parameter non-finite: then nothing changes
    /// (neither `w` nor the optimizer's state) and the error is the first such index. Two
    /// passes over the same arithmetic — the first only looks — so that keeping the last good
    /// weights costs no copy of them.
    pub fn try_step(&mut self, w: &mut [f64], g: &[f64]) -> Result<(), usize> {
        self.checked_lengths(w, g);
        if let Some(i) = self.update(w, g, false) {
            return Err(i);
        }
        self.t += 1;
        self.update(w, g, true);
        Ok(())
    }

    fn checked_lengths(&self, w: &[f64], g: &[f64]) {
        assert_eq!(
            w.len(),
            self.len,
            "Optim::step: parameter vector changed length"
        );
        assert_eq!(
            g.len(),
            w.len(),
            "Optim::step: gradient and parameters differ in length"
        );
    }

    /// The update of every element; written back only when `write` (else the first index
    /// whose new value is not finite).
    fn update(&mut self, w: &mut [f64], g: &[f64], write: bool) -> Option<usize> {
        let found = self.pieces().update(w, g, &mut self.m, &mut self.v, write);
        if write {
            self.advance();
        }
        found
    }

    /// [`Optim::try_step`] with the elements split into one contiguous range per thread of
    /// `pool`, each updated on its own thread: the same operations on every element, so the
    /// same bits as one thread, and the same first failing index (ranges are searched in
    /// order).
    pub fn try_step_split(
        &mut self,
        w: &mut [f64],
        g: &[f64],
        pool: &rayon::ThreadPool,
    ) -> Result<(), usize> {
        self.checked_lengths(w, g);
        let parts = pool.current_num_threads();
        if parts <= 1 || w.len() < 2 * parts {
            return self.try_step(w, g);
        }
        let per = w.len().div_ceil(parts);
        let u = self.pieces();
        let run = |m: &mut Vec<f64>, v: &mut Vec<f64>, w: &mut [f64], write: bool| {
            let mut found: Vec<Option<usize>> = vec![None; parts];
            let (mut ms, mut vs) = (m.chunks_mut(per), v.chunks_mut(per));
            pool.scope(|scope| {
                let ranges = w.chunks_mut(per).zip(g.chunks(per)).zip(&mut found);
                for (k, ((w, g), f)) in ranges.enumerate() {
                    let (m, v) = (ms.next().unwrap_or(&mut []), vs.next().unwrap_or(&mut []));
                    scope.spawn(move |_| *f = u.update(w, g, m, v, write).map(|i| k * per + i));
                }
            });
            found.into_iter().flatten().next()
        };
        if let Some(i) = run(&mut self.m, &mut self.v, w, false) {
            return Err(i);
        }
        self.t += 1;
        run(&mut self.m, &mut self.v, w, true);
        self.advance();
        Ok(())
    }

    /// What an update of any range of elements reads.
    fn pieces(&self) -> Update {
        Update {
            optimizer: self.optimizer,
            rate: self.rate,
            l2: self.l2,
            plain: self.m.is_empty(),
            beta1_t: self.beta1_t,
            beta2_t: self.beta2_t,
        }
    }

    /// After the write pass of a step: Adam's running products of β1 and β2.
    fn advance(&mut self) {
        if let Optimizer::Adam { beta1, beta2, .. } = self.optimizer {
            (self.beta1_t, self.beta2_t) = (self.beta1_t * beta1, self.beta2_t * beta2);
        }
    }
}

/// The constants of one step's update, for any range of the elements.
#[derive(Clone, Copy)]
struct Update {
    optimizer: Optimizer,
    rate: f64,
    l2: f64,
    /// Plain SGD: no velocity.
    plain: bool,
    beta1_t: f64,
    beta2_t: f64,
}

/// Elements checked at a time before any is written: a block whose new values are all finite
/// is passed in one vectorized sweep; only a block with a non-finite one is searched element
/// by element for the first.
const BLOCK: usize = 1024;

impl Update {
    /// The update of elements `w` (gradient `g`, state `m`, `v` of the same range, empty when
    /// the optimizer keeps none); written back only when `write` (else the first index, in
    /// the range, whose new value is not finite). Both passes compute each element by the
    /// same closure ([`Update::sgd`], [`Update::momentum`], [`Update::adam`]).
    fn update(
        self,
        w: &mut [f64],
        g: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        write: bool,
    ) -> Option<usize> {
        match self.optimizer {
            Optimizer::Sgd { .. } if self.plain => {
                let f = self.sgd();
                if write {
                    w.iter_mut().zip(g).for_each(|(w, &g)| *w = f(*w, g));
                    return None;
                }
                first_bad(w, g, w, w, |w, g, _, _| f(w, g))
            }
            Optimizer::Sgd { momentum } => {
                let f = self.momentum(momentum);
                if write {
                    for ((w, &g), vel) in w.iter_mut().zip(g).zip(m) {
                        (*w, *vel) = f(*w, g, *vel);
                    }
                    return None;
                }
                first_bad(w, g, m, m, |w, g, vel, _| f(w, g, vel).0)
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let f = self.adam(beta1, beta2, eps);
                if write {
                    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                        (*w, *m, *v) = f(*w, g, *m, *v);
                    }
                    return None;
                }
                first_bad(w, g, m, v, |w, g, m, v| f(w, g, m, v).0)
            }
        }
    }

    /// Plain SGD: `w − rate (g + l2 w)`.
    fn sgd(self) -> impl Fn(f64, f64) -> f64 {
        let (rate, l2) = (self.rate, self.l2);
        move |w, g| w - rate * (g + l2 * w)
    }

    /// SGD with momentum: the new weight and velocity.
    fn momentum(self, momentum: f64) -> impl Fn(f64, f64, f64) -> (f64, f64) {
        let (rate, l2) = (self.rate, self.l2);
        move |w, g, vel| {
            let g = g + l2 * w;
            let new_vel = momentum * vel + g;
            (w - rate * new_vel, new_vel)
        }
    }

    /// Adam: the new weight and moments.
    fn adam(
        self,
        beta1: f64,
        beta2: f64,
        eps: f64,
    ) -> impl Fn(f64, f64, f64, f64) -> (f64, f64, f64) {
        let (rate, l2) = (self.rate, self.l2);
        let (b1t, b2t) = (self.beta1_t * beta1, self.beta2_t * beta2);
        let (c1, c2) = (1.0 - b1t, 1.0 - b2t);
        move |w, g, m, v| {
            let g = g + l2 * w;
            let new_m = beta1 * m + (1.0 - beta1) * g;
            let new_v = beta2 * v + (1.0 - beta2) * g * g;
            let (m_hat, v_hat) = (new_m / c1, new_v / c2);
            (w - rate * m_hat / (v_hat.sqrt() + eps), new_m, new_v)
        }
    }
}

/// The first index whose new value `f(w, g, m, v)` is not finite, block by block ([`BLOCK`]):
/// each block is first swept without an early exit, in a form the compiler vectorizes
/// (x − x is +0 for a finite x and NaN otherwise, and a sum that takes in a NaN stays NaN).
/// `m` and `v` are as long as `w` (callers pass `w` again for state they do not have).
#[allow(clippy::eq_op)] // x − x is the test, not a slip
fn first_bad(
    w: &[f64],
    g: &[f64],
    m: &[f64],
    v: &[f64],
    f: impl Fn(f64, f64, f64, f64) -> f64,
) -> Option<usize> {
    let blocks = w
        .chunks(BLOCK)
        .zip(g.chunks(BLOCK))
        .zip(m.chunks(BLOCK).zip(v.chunks(BLOCK)));
    for (b, ((w, g), (m, v))) in blocks.enumerate() {
        let mut lanes = [0.0f64; 8];
        // Slices of exactly eight: no bounds checks, so the lanes vectorize.
        let eights = w
            .chunks_exact(8)
            .zip(g.chunks_exact(8))
            .zip(m.chunks_exact(8).zip(v.chunks_exact(8)));
        for ((w, g), (m, v)) in eights {
            for (l, lane) in lanes.iter_mut().enumerate() {
                let x = f(w[l], g[l], m[l], v[l]);
                *lane += x - x;
            }
        }
        let mut sum: f64 = lanes.iter().sum();
        for i in w.len() / 8 * 8..w.len() {
            let x = f(w[i], g[i], m[i], v[i]);
            sum += x - x;
        }
        if sum != 0.0 {
            let at = (0..w.len()).find(|&i| !f(w[i], g[i], m[i], v[i]).is_finite());
            return at.map(|i| b * BLOCK + i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADAM: Optimizer = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };

    /// f(w) = ½ Σ aᵢ (wᵢ − cᵢ)², badly conditioned (a from 0.5 to 10).
    const A: [f64; 3] = [1.0, 10.0, 0.5];
    const C: [f64; 3] = [3.0, -2.0, 0.5];

    fn grad(w: &[f64]) -> Vec<f64> {
        w.iter()
            .zip(A)
            .zip(C)
            .map(|((w, a), c)| a * (w - c))
            .collect()
    }

    fn minimise(mut opt: Optim, steps: usize) -> Vec<f64> {
        let mut w = vec![0.0, 0.0, 5.0];
        for _ in 0..steps {
            let g = grad(&w);
            opt.step(&mut w, &g);
        }
        w
    }

    fn distance(w: &[f64], c: &[f64]) -> f64 {
        w.iter()
            .zip(c)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn sgd_with_momentum_converges_on_a_quadratic() {
        let w = minimise(
            Optim::new(Optimizer::Sgd { momentum: 0.9 }, 0.05, 0.0, 3),
            600,
        );
        assert!(distance(&w, &C) < 1e-6, "{w:?}");
    }

    #[test]
    fn plain_sgd_converges_on_a_quadratic() {
        let w = minimise(
            Optim::new(Optimizer::Sgd { momentum: 0.0 }, 0.15, 0.0, 3),
            600,
        );
        assert!(distance(&w, &C) < 1e-6, "{w:?}");
    }

    #[test]
    fn adam_converges_on_a_quadratic() {
        let w = minimise(Optim::new(ADAM, 0.05, 0.0, 3), 3000);
        assert!(distance(&w, &C) < 1e-4, "{w:?}");
    }

    #[test]
    fn l2_moves_the_minimum_towards_zero() {
        // With L2 λ the minimum of ½a(w − c)² + ½λw² is a·c / (a + λ).
        let l2 = 0.5;
        let expected: Vec<f64> = A.iter().zip(C).map(|(a, c)| a * c / (a + l2)).collect();
        let w = minimise(
            Optim::new(Optimizer::Sgd { momentum: 0.9 }, 0.05, l2, 3),
            800,
        );
        assert!(distance(&w, &expected) < 1e-6, "{w:?} vs {expected:?}");
        let w = minimise(Optim::new(ADAM, 0.05, l2, 3), 3000);
        assert!(distance(&w, &expected) < 1e-4, "{w:?} vs {expected:?}");
    }

    /// The look-only pass finds the first non-finite new value wherever it is — in the first
    /// block, a later block's vectorized body, or the last block's tail — and changes nothing.
    #[test]
    fn try_step_finds_the_first_bad_element_in_any_block() {
        let len = 2997; // three blocks, the last ending in a tail of five
        for optimizer in [
            Optimizer::Sgd { momentum: 0.0 },
            Optimizer::Sgd { momentum: 0.5 },
            ADAM,
        ] {
            for bad in [0, 7, 1024, 2500, 2993, 2996] {
                let mut opt = Optim::new(optimizer, 0.1, 0.0, len);
                let mut w: Vec<f64> = (0..len).map(|i| i as f64 * 1e-3).collect();
                let mut g = vec![0.25; len];
                g[bad] = f64::INFINITY;
                if bad > 0 {
                    g[bad - 1] = f64::MAX; // finite, and its new value too
                }
                let before = w.clone();
                assert_eq!(opt.try_step(&mut w, &g), Err(bad), "{optimizer:?}");
                assert_eq!(w, before, "{optimizer:?}: nothing written");
                assert_eq!(opt.steps(), 0);
            }
        }
    }

    #[test]
    fn sgd_steps_by_hand() {
        let mut opt = Optim::new(Optimizer::Sgd { momentum: 0.9 }, 0.1, 0.0, 1);
        let mut w = [1.0];
        opt.step(&mut w, &[2.0]); // v = 2, w = 1 − 0.2
        assert_eq!(w, [0.8]);
        opt.step(&mut w, &[1.0]); // v = 0.9·2 + 1 = 2.8, w = 0.8 − 0.28
        assert!((w[0] - 0.52).abs() < 1e-15, "{w:?}");

        let mut opt = Optim::new(Optimizer::Sgd { momentum: 0.0 }, 0.1, 0.5, 1);
        let mut w = [2.0];
        opt.step(&mut w, &[0.0]); // g = 0 + 0.5·2 = 1, w = 2 − 0.1
        assert_eq!(w, [1.9]);
        assert_eq!(opt.steps(), 1);
    }

    #[test]
    fn adam_steps_by_hand() {
        let mut opt = Optim::new(ADAM, 0.1, 0.0, 2);
        let mut w = [1.0, -2.0];
        // Step 1: m̂ = g and v̂ = g², so each element moves by rate·g / (|g| + ε).
        opt.step(&mut w, &[0.5, -0.1]);
        let expected = [
            1.0 - 0.1 * 0.5 / (0.5 + 1e-8),
            -2.0 + 0.1 * 0.1 / (0.1 + 1e-8),
        ];
        assert!(
            (w[0] - expected[0]).abs() < 1e-15 && (w[1] - expected[1]).abs() < 1e-15,
            "{w:?}"
        );
        assert!((w[0] - 0.900000002).abs() < 1e-12);
        // Step 2, element 0, with g = 0.25:
        //   m = 0.9·0.05 + 0.1·0.25 = 0.07,  v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
        //   m̂ = 0.07 / (1 − 0.81) = 0.3684210526315791,
        //   v̂ = 0.00031225 / (1 − 0.998001) = 0.15620310155077752,
        //   w ← 0.900000002 − 0.1 · 0.3684210526315791 / (0.39522538070166685 + 1e-8).
        let before = w[0];
        opt.step(&mut w, &[0.25, 0.0]);
        let step = 0.1 * 0.3684210526315791 / (0.39522538070166685 + 1e-8);
        assert!(
            (w[0] - (before - step)).abs() < 1e-12,
            "{} vs {}",
            w[0],
            before - step
        );
        assert!((step - 0.09321796152).abs() < 1e-10, "{step}");
    }

    #[test]
    fn for_train_takes_the_declared_settings() {
        let train = Train {
            optimizer: Optimizer::Sgd { momentum: 0.0 },
            rate: 0.5,
            epochs: 1,
            batch: 1,
            seed: 0,
            l2: 0.0,
            span: crate::span::Span::default(),
        };
        let mut opt = Optim::for_train(&train, 1).unwrap();
        let mut w = [1.0];
        opt.step(&mut w, &[1.0]);
        assert_eq!(w, [0.5]);
    }

    /// A step that would overflow changes nothing — weights, moments, step count — so the
    /// next good step is exactly what it would have been without the bad one.
    #[test]
    fn a_step_that_would_overflow_changes_nothing() {
        for optimizer in [
            ADAM,
            Optimizer::Sgd { momentum: 0.9 },
            Optimizer::Sgd { momentum: 0.0 },
        ] {
            let mut opt = Optim::new(optimizer, 1e300, 0.0, 2);
            let mut fresh = opt.clone();
            let mut w = [1.0, 2.0];
            assert_eq!(
                opt.try_step(&mut w, &[0.5, f64::MAX]),
                Err(1),
                "{optimizer:?}"
            );
            assert_eq!(w, [1.0, 2.0]);
            assert_eq!(opt, fresh, "{optimizer:?}");
            let mut v = w;
            opt.try_step(&mut w, &[1e-310, 0.0]).unwrap();
            fresh.step(&mut v, &[1e-310, 0.0]);
            assert_eq!(w, v, "{optimizer:?}");
        }
    }

    /// Split over threads, a step gives the same bits (weights and state) as one thread, and
    /// the same first failing index, whichever range it falls in.
    #[test]
    fn a_split_step_is_the_same_step() {
        let mut rng = crate::rng::Rng::new(3);
        let n = 101;
        for optimizer in [
            ADAM,
            Optimizer::Sgd { momentum: 0.9 },
            Optimizer::Sgd { momentum: 0.0 },
        ] {
            for parts in [2, 3, 7] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(parts)
                    .build()
                    .unwrap();
                let (mut one, mut split) = (
                    Optim::new(optimizer, 0.01, 1e-3, n),
                    Optim::new(optimizer, 0.01, 1e-3, n),
                );
                let mut w: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
                let mut w2 = w.clone();
                for _ in 0..5 {
                    let g: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
                    one.try_step(&mut w, &g).unwrap();
                    split.try_step_split(&mut w2, &g, &pool).unwrap();
                    assert_eq!(w, w2, "{optimizer:?} on {parts}");
                    assert_eq!(one, split, "{optimizer:?} on {parts}");
                }
                // Two bad elements: the first is the one named; nothing changes.
                let mut g = vec![0.0; n];
                (g[60], g[90]) = (f64::NAN, f64::INFINITY);
                assert_eq!(split.try_step_split(&mut w2, &g, &pool), Err(60));
                assert_eq!(one.try_step(&mut w, &g), Err(60));
                assert_eq!((&w, &one), (&w2, &split));
            }
        }
    }
}
