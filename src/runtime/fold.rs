//! How one chunk's parameter gradient joins a training step's mean gradient.
//!
//! A step's gradient is the sum of its chunks' gradients (in chunk order) divided by the
//! batch size. Written plainly that is a zeroing pass, one adding pass per chunk, a dividing
//! pass and a pass looking for a non-finite element — five passes over every parameter for a
//! two-chunk step, each the size of the model. [`Fold`] does the same operations in the same
//! order in one pass per chunk: the first chunk's pass stores `0 + g` (the zeroed sum plus its
//! term: `+0` for a `−0` term, as before), the last one stores `(sum + g) / n` and checks what
//! it stored. The bits are those of the plain passes, so one thread and several agree.

/// What one chunk's pass does to the sum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fold {
    /// `sum ← 0 + g`: the first of several chunks.
    First,
    /// `sum ← sum + g`.
    Add,
    /// `sum ← (sum + g) / n`: the last of several chunks, `n` the batch size.
    Last(f64),
    /// `sum ← (0 + g) / n`: the only chunk.
    Only(f64),
}

impl Fold {
    /// The fold of chunk `c` of `chunks` in a step of `n` examples.
    pub fn of(c: usize, chunks: usize, n: usize) -> Fold {
        match (c == 0, c + 1 == chunks) {
            (true, true) => Fold::Only(n as f64),
            (true, false) => Fold::First,
            (false, true) => Fold::Last(n as f64),
            (false, false) => Fold::Add,
        }
    }

    /// Folds `g` into `sum` (of the same length); for [`Fold::Last`] and [`Fold::Only`],
    /// whether every stored value is finite (else `true`).
    pub fn apply(self, sum: &mut [f64], g: &[f64]) -> bool {
        assert_eq!(sum.len(), g.len(), "Fold::apply: lengths differ");
        match self {
            Fold::First => each(sum, g, false, |_, x| 0.0 + x),
            Fold::Add => each(sum, g, false, |s, x| s + x),
            Fold::Last(n) => each(sum, g, true, |s, x| (s + x) / n),
            Fold::Only(n) => each(sum, g, true, |_, x| (0.0 + x) / n),
        }
    }

    /// The fold of elements no chunk has a term for (a param the loss does not reach): as
    /// if zeroed and never added to.
    pub fn gap(self, sum: &mut [f64]) -> bool {
        match self {
            Fold::First | Fold::Only(_) => sum.iter_mut().for_each(|s| *s = 0.0),
            Fold::Add => {}
            Fold::Last(n) => {
                sum.iter_mut().for_each(|s| *s /= n);
                return crate::types::all_finite(sum);
            }
        }
        true
    }
}

/// `sum[i] ← f(sum[i], g[i])`; with `check`, whether every result is finite, found in the same
/// pass without an early exit (x − x is +0 for a finite x, NaN otherwise; eight lanes, so the
/// compiler vectorizes it).
#[allow(clippy::eq_op)] // x − x is the test, not a slip
fn each(sum: &mut [f64], g: &[f64], check: bool, f: impl Fn(f64, f64) -> f64) -> bool {
    if !check {
        sum.iter_mut().zip(g).for_each(|(s, &x)| *s = f(*s, x));
        return true;
    }
    let mut lanes = [0.0f64; 8];
    let whole = sum.len() / 8 * 8;
    let (head, tail) = sum.split_at_mut(whole);
    for (s8, g8) in head.chunks_exact_mut(8).zip(g[..whole].chunks_exact(8)) {
        for ((s, &x), lane) in s8.iter_mut().zip(g8).zip(lanes.iter_mut()) {
            *s = f(*s, x);
            *lane += *s - *s;
        }
    }
    let mut total: f64 = lanes.iter().sum();
    for (s, &x) in tail.iter_mut().zip(&g[whole..]) {
        *s = f(*s, x);
        total += *s - *s;
    }
    total == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folds give the bits of zeroing, adding chunk by chunk and dividing, and report a
    /// non-finite element wherever it is (in the vectorized body or the tail).
    #[test]
    fn folds_give_the_plain_passes_bits() {
        let chunks: Vec<Vec<f64>> = (0..3)
            .map(|c| {
                (0..21)
                    .map(|i| ((i * 7 + c * 3) as f64 * 0.37).sin() * 1e3)
                    .chain([-0.0])
                    .collect()
            })
            .collect();
        for count in 1..=3 {
            let n = 32;
            let mut plain = vec![0.0; 22];
            for g in &chunks[..count] {
                plain.iter_mut().zip(g).for_each(|(s, x)| *s += x);
            }
            plain.iter_mut().for_each(|s| *s /= n as f64);
            let mut folded = vec![f64::NAN; 22];
            let mut finite = true;
            for (c, g) in chunks[..count].iter().enumerate() {
                finite &= Fold::of(c, count, n).apply(&mut folded, g);
            }
            assert!(finite);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&folded), bits(&plain), "{count} chunks");
        }
        for at in [3, 20] {
            let mut g = chunks[0].clone();
            g[at] = f64::INFINITY;
            let mut sum = vec![0.0; 22];
            assert!(!Fold::Only(4.0).apply(&mut sum, &g), "infinity at {at}");
            let mut sum = chunks[1].clone();
            assert!(!Fold::Last(4.0).apply(&mut sum, &g), "infinity at {at}");
            assert!(Fold::Add.apply(&mut sum, &g), "Add does not check");
        }
        let mut gap = vec![f64::NAN; 5];
        assert!(Fold::Only(2.0).gap(&mut gap));
        assert_eq!(gap, vec![0.0; 5]);
    }
}
