//! Gradient checking against finite differences in a random direction (JAX's `check_vjp`).
//!
//! For a scalar output `f` and a direction `t` over the differentiated inputs, the analytic
//! side is `⟨t, ∇f⟩` from the gradient program and the numeric side is the central
//! difference `(f(x+εt) − f(x−εt)) / 2ε`, refined by one Richardson step
//! (`(4·D(ε/2) − D(ε)) / 3`, error `O(ε⁴)`), so a tight relative tolerance is meaningful.
//! A check whose five samples do not share the interpreter's branch signature straddled a
//! kink (of `abs`, `max`, a comparison, …) and is reported as such rather than failed.
//! Used by the gradient, lowering and model tests and by the `ir_program` fuzz target.

use crate::grad;
use crate::interp::{self, EvalError};
use crate::ir::Graph;

/// The two sides of one check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VjpCheck {
    /// `f(x)`.
    pub value: f64,
    /// `⟨t, ∇f⟩` from the gradient program.
    pub analytic: f64,
    /// The Richardson-refined central difference.
    pub numeric: f64,
}

impl VjpCheck {
    /// `|a − n| / max(|a|, |n|, 1e-4·(1 + |f|))`: relative, except that a directional
    /// derivative far smaller than `f` is compared absolutely, at 10⁻⁴ of `f`'s size — the
    /// rounding error of a difference of values of size `|f|` is about `10⁻¹²·|f|` here.
    pub fn relative_error(&self) -> f64 {
        let scale = self
            .analytic
            .abs()
            .max(self.numeric.abs())
            .max(1e-4 * (1.0 + self.value.abs()));
        (self.analytic - self.numeric).abs() / scale
    }
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    Checked(VjpCheck),
    /// A discrete decision changed between the samples: the point is too close to a kink.
    Kink,
}

/// Checks the gradients of output `of` of `grads` (a graph with `grad.NAME` outputs, such as
/// [`with_gradients`](crate::grad::with_gradients) makes) at `point` along `dir`, both given per
/// input in [`Graph::inputs`] order; inputs without a `grad.NAME` output must have a zero
/// direction. `f` itself is evaluated on `forward`, which must have the same inputs.
pub fn check_vjp(
    forward: &Graph,
    grads: &Graph,
    of: &str,
    point: &[Vec<f64>],
    dir: &[Vec<f64>],
    eps: f64,
) -> Result<Outcome, EvalError> {
    assert_eq!(
        forward.inputs, grads.inputs,
        "forward and gradient graphs read different inputs"
    );
    let slots: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
    let at_x = interp::eval_slots(grads, &slots)?;
    let mut analytic = 0.0;
    for (i, inp) in grads.inputs.iter().enumerate() {
        match at_x.output(&grad::grad_name(&inp.name)) {
            Some(gr) => analytic += gr.iter().zip(&dir[i]).map(|(a, b)| a * b).sum::<f64>(),
            None => assert!(
                dir[i].iter().all(|&d| d == 0.0),
                "direction along `{}`, which has no gradient",
                inp.name
            ),
        }
    }
    let value = at_x.scalar(of).expect("the output to check");
    let base = interp::eval_slots(forward, &slots)?;
    let sample = |h: f64| -> Result<(f64, u64), EvalError> {
        let moved: Vec<Vec<f64>> = point
            .iter()
            .zip(dir)
            .map(|(p, t)| p.iter().zip(t).map(|(a, b)| a + h * b).collect())
            .collect();
        let slots: Vec<&[f64]> = moved.iter().map(|v| v.as_slice()).collect();
        let v = interp::eval_slots(forward, &slots)?;
        Ok((
            v.scalar(of).expect("the output to check"),
            v.branch_signature(),
        ))
    };
    let mut f = [0.0; 4];
    for (slot, h) in f.iter_mut().zip([eps, -eps, eps / 2.0, -eps / 2.0]) {
        let (v, sig) = sample(h)?;
        if sig != base.branch_signature() {
            return Ok(Outcome::Kink);
        }
        *slot = v;
    }
    let d1 = (f[0] - f[1]) / (2.0 * eps);
    let d2 = (f[2] - f[3]) / eps;
    let numeric = (4.0 * d2 - d1) / 3.0;
    Ok(Outcome::Checked(VjpCheck {
        value,
        analytic,
        numeric,
    }))
}
