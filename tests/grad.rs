//! Gradient checks: every op's derivative rule and hundreds of seeded random programs against
//! Richardson-refined central differences in a random direction (relative error ≤ 1e-6).

use ebmc::grad::{self, with_gradients};
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::testing::gradcheck::{check_vjp, Outcome};
use ebmc::testing::random_ir;
use std::collections::BTreeSet;

const TOL: f64 = 1e-6;
const EPS: f64 = 1e-4;

/// Checks the gradient of `f` at up to `tries` random points; returns whether a point away
/// from every kink was found. Panics with the program on a mismatch.
fn check_program(g: &Graph, rng: &mut random_ir::Rng, label: &str, tries: usize) -> bool {
    ir::verify(g).unwrap_or_else(|e| panic!("{label}: {e}\n{g}"));
    let grads = with_gradients(g, "f", &[InputKind::Param]);
    ir::verify(&grads).unwrap_or_else(|e| panic!("{label}: {e}\n{grads}"));
    let forward = ir::simplify(g);
    for _ in 0..tries {
        let point = random_ir::inputs(g, rng);
        let dir = random_ir::param_direction(g, rng);
        // Simplification keeps values.
        let slots: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
        let a = interp::eval_slots(g, &slots).unwrap().scalar("f").unwrap();
        let b = interp::eval_slots(&forward, &slots)
            .unwrap()
            .scalar("f")
            .unwrap();
        assert!(
            (a - b).abs() <= 1e-12 * (1.0 + a.abs()),
            "{label}: simplify changed f from {a} to {b}\n{g}\n{forward}"
        );
        match check_vjp(g, &grads, "f", &point, &dir, EPS).unwrap() {
            Outcome::Kink => continue,
            Outcome::Checked(c) => {
                assert!(c.value.is_finite(), "{label}: f = {}\n{g}", c.value);
                assert!(
                    c.relative_error() <= TOL,
                    "{label}: analytic {} vs numeric {} (relative error {:e})\n{g}\ngradient:\n{grads}",
                    c.analytic,
                    c.numeric,
                    c.relative_error()
                );
                return true;
            }
        }
    }
    false
}

/// At least 500 random programs over the whole op set per run, every op among them.
#[test]
fn random_programs_have_correct_gradients() {
    let mut seen = BTreeSet::new();
    let mut checked = 0;
    let total = 600;
    for seed in 0..total {
        let mut rng = random_ir::Rng::new(seed);
        let steps = 4 + rng.below(14);
        let g = random_ir::program(&mut rng, steps);
        for n in g.ids() {
            seen.insert(g.op(n).name());
        }
        if check_program(&g, &mut rng, &format!("seed {seed}"), 8) {
            checked += 1;
        }
    }
    // Kinks are rare: almost every program finds a smooth point.
    assert!(checked >= 500, "only {checked} of {total} programs checked");
    for op in random_ir::op_names() {
        assert!(seen.contains(op), "no random program used `{op}`");
    }
}

/// Each op's rule, in programs made of that op only (over random arguments).
#[test]
fn every_op_rule_matches_finite_differences() {
    for op in random_ir::op_names() {
        if op == "const" || op == "input" {
            continue;
        }
        let mut checked = 0;
        for seed in 0..25 {
            let mut rng = random_ir::Rng::new(1000 + seed);
            let g = random_ir::program_with(&mut rng, 3, op);
            assert!(
                g.ids().any(|n| g.op(n).name() == op),
                "`{op}` program without `{op}`:\n{g}"
            );
            if check_program(&g, &mut rng, &format!("op {op} seed {seed}"), 8) {
                checked += 1;
            }
        }
        assert!(
            checked >= 20,
            "`{op}`: only {checked} of 25 programs checked"
        );
    }
}

/// The interpreter and vjp agree with a hand-computed gradient (guards the checker itself).
#[test]
fn hand_computed_gradient() {
    // f = sum(tanh(W x)) ⇒ ∇W = (1 − tanh²(Wx)) xᵀ
    let g = ir::parse(
        "%0 = param W : real[2, 2]
         %1 = param x : real[2]
         %2 = matvec %0, %1 : real[2]
         %3 = tanh %2 : real[2]
         %4 = sum %3 : real
         out f = %4",
    )
    .unwrap();
    let grads = with_gradients(&g, "f", &[InputKind::Param]);
    let v = interp::eval_slots(&grads, &[&[1.0, 2.0, -0.5, 0.25], &[0.3, -0.7]]).unwrap();
    let (u0, u1) = (0.3f64 - 1.4, -0.15f64 - 0.175);
    let (d0, d1) = (1.0 - u0.tanh().powi(2), 1.0 - u1.tanh().powi(2));
    let expect = [d0 * 0.3, d0 * -0.7, d1 * 0.3, d1 * -0.7];
    let got = v.output("grad.W").unwrap();
    for (a, b) in got.iter().zip(expect) {
        assert!((a - b).abs() < 1e-14, "{got:?} vs {expect:?}");
    }
    let gx = v.output("grad.x").unwrap();
    let ex = [d0 * 1.0 + d1 * -0.5, d0 * 2.0 + d1 * 0.25];
    for (a, b) in gx.iter().zip(ex) {
        assert!((a - b).abs() < 1e-14, "{gx:?} vs {ex:?}");
    }
}

/// Fan-out accumulates, and an input the output ignores gets zeros.
#[test]
fn fan_out_and_unused_inputs() {
    let g = ir::parse(
        "%0 = param a : real[3]
         %1 = param unused : real[2]
         %2 = mul %0, %0 : real[3]
         %3 = sin %0 : real[3]
         %4 = add %2, %3 : real[3]
         %5 = sum %4 : real
         out f = %5",
    )
    .unwrap();
    let grads = with_gradients(&g, "f", &[InputKind::Param]);
    let v = interp::eval_slots(&grads, &[&[0.1, -0.2, 0.3], &[5.0, 6.0]]).unwrap();
    let ga = v.output("grad.a").unwrap();
    for (i, a) in [0.1f64, -0.2, 0.3].iter().enumerate() {
        assert!((ga[i] - (2.0 * a + a.cos())).abs() < 1e-15);
    }
    assert_eq!(v.output("grad.unused").unwrap(), &[0.0, 0.0]);
}

/// `emit grad` ends with the op counts.
#[test]
fn emit_text_ends_with_costs() {
    let g = ir::parse(
        "%0 = param A : real[4, 3]
         %1 = input x : real[3]
         %2 = matvec %0, %1 : real[4]
         %3 = sum %2 : real
         out energy = %3",
    )
    .unwrap();
    let grads = grad::energy_gradient(&g);
    let text = grad::emit_text(&grads, "energy");
    let last = text.lines().last().unwrap();
    // energy: matvec 12 + sum 4; gradient: broadcast 4 + outer 12.
    assert_eq!(
        last,
        "// cost: energy 16, energy and gradient 32 (2.00x), 7 nodes"
    );
    assert!(text.contains("out grad.A = "), "{text}");
    assert!(!text.contains("grad.x"), "inputs get no gradient:\n{text}");
}
