//! Every simplifier rule, text in → text out, and the values before and after agree.

use ebmc::interp;
use ebmc::ir::{self, simplify_with_stats, RULES};
use ebmc::testing::random_ir;
use std::collections::BTreeSet;

/// (rule, input, expected output)
const CASES: &[(&str, &str, &str)] = &[
    (
        "const-fold",
        "%0 = const 2.0 : real
         %1 = const 3.0 : real
         %2 = mul %0, %1 : real
         %3 = exp %2 : real
         out f = %3",
        "%0 = const 403.4287934927351 : real
         out f = %0",
    ),
    (
        "add-zero",
        "%0 = param x : real[3]
         %1 = const 0.0 : real
         %2 = add %1, %0 : real[3]
         out f = %2",
        "%0 = param x : real[3]
         out f = %0",
    ),
    (
        "sub-zero",
        "%0 = param x : real[3]
         %1 = const 0.0 : real
         %2 = broadcast %1 : real[3]
         %3 = sub %0, %2 : real[3]
         out f = %3",
        "%0 = param x : real[3]
         out f = %0",
    ),
    (
        "zero-sub",
        "%0 = param x : real[3]
         %1 = const 0.0 : real
         %2 = sub %1, %0 : real[3]
         out f = %2",
        "%0 = param x : real[3]
         %1 = neg %0 : real[3]
         out f = %1",
    ),
    (
        "mul-zero",
        "%0 = param x : real[3]
         %1 = const 0.0 : real
         %2 = mul %0, %1 : real[3]
         out f = %2",
        "%0 = param x : real[3]
         %1 = const 0.0 : real
         %2 = broadcast %1 : real[3]
         out f = %2",
    ),
    (
        "mul-one",
        "%0 = param x : real
         %1 = param y : real[2]
         %2 = const 1.0 : real
         %3 = mul %0, %2 : real
         %4 = mul %2, %1 : real[2]
         %5 = mul %3, %4 : real[2]
         out f = %5",
        "%0 = param x : real
         %1 = param y : real[2]
         %2 = mul %0, %1 : real[2]
         out f = %2",
    ),
    (
        "mul-neg-one",
        "%0 = param x : real[2]
         %1 = const -1.0 : real
         %2 = mul %1, %0 : real[2]
         out f = %2",
        "%0 = param x : real[2]
         %1 = neg %0 : real[2]
         out f = %1",
    ),
    (
        "div-one",
        "%0 = param x : real[2]
         %1 = const 1.0 : real
         %2 = div %0, %1 : real[2]
         out f = %2",
        "%0 = param x : real[2]
         out f = %0",
    ),
    (
        "neg-neg",
        "%0 = param x : real[2]
         %1 = neg %0 : real[2]
         %2 = neg %1 : real[2]
         out f = %2",
        "%0 = param x : real[2]
         out f = %0",
    ),
    (
        "add-neg",
        "%0 = param x : real[2]
         %1 = param y : real[2]
         %2 = neg %1 : real[2]
         %3 = add %0, %2 : real[2]
         out f = %3",
        "%0 = param x : real[2]
         %1 = param y : real[2]
         %2 = sub %0, %1 : real[2]
         out f = %2",
    ),
    (
        "sub-neg",
        "%0 = param x : real[2]
         %1 = param y : real
         %2 = neg %1 : real
         %3 = sub %0, %2 : real[2]
         out f = %3",
        "%0 = param x : real[2]
         %1 = param y : real
         %2 = add %0, %1 : real[2]
         out f = %2",
    ),
    (
        "pow-const",
        "%0 = param x : real[2]
         %1 = const 2.0 : real
         %2 = pow %0, %1 : real[2]
         out f = %2",
        "%0 = param x : real[2]
         %1 = square %0 : real[2]
         out f = %1",
    ),
    (
        "log-exp",
        "%0 = param x : real[2]
         %1 = exp %0 : real[2]
         %2 = log %1 : real[2]
         out f = %2",
        "%0 = param x : real[2]
         out f = %0",
    ),
    (
        "log-one-plus-exp",
        "%0 = param u : real[2]
         %1 = exp %0 : real[2]
         %2 = const 1.0 : real
         %3 = add %2, %1 : real[2]
         %4 = log %3 : real[2]
         out f = %4",
        "%0 = param u : real[2]
         %1 = softplus %0 : real[2]
         out f = %1",
    ),
    (
        "select-same",
        "%0 = param x : real[2]
         %1 = param y : real[2]
         %2 = lt %0, %1 : real[2]
         %3 = select %2, %1, %1 : real[2]
         out f = %3",
        "%0 = param x : real[2]
         %1 = param y : real[2]
         out f = %1",
    ),
    (
        "select-const",
        "%0 = param x : real[2]
         %1 = param y : real[2]
         %2 = const 0.0 : real
         %3 = select %2, %0, %1 : real[2]
         out f = %3",
        "%0 = param x : real[2]
         %1 = param y : real[2]
         out f = %1",
    ),
    (
        "elementwise-of-broadcast",
        "%0 = param x : real[3]
         %1 = param s : real
         %2 = broadcast %1 : real[3]
         %3 = mul %0, %2 : real[3]
         out f = %3",
        "%0 = param x : real[3]
         %1 = param s : real
         %2 = mul %0, %1 : real[3]
         out f = %2",
    ),
    (
        "reduce-scalar",
        "%0 = param s : real
         %1 = sum %0 : real
         %2 = max.all %1 : real
         out f = %2",
        "%0 = param s : real
         out f = %0",
    ),
    (
        "sum-of-broadcast",
        "%0 = param s : real
         %1 = broadcast %0 : real[2, 3]
         %2 = sum %1 : real
         out f = %2",
        "%0 = param s : real
         %1 = const 6.0 : real
         %2 = mul %1, %0 : real
         out f = %2",
    ),
    (
        "transpose-transpose",
        "%0 = param A : real[2, 3]
         %1 = transpose %0 : real[3, 2]
         %2 = transpose %1 : real[2, 3]
         out f = %2",
        "%0 = param A : real[2, 3]
         out f = %0",
    ),
    (
        "slice-of-pad",
        "%0 = param x : real[2]
         %1 = pad %0, 0, 1..3 : real[5]
         %2 = slice %1, 0, 1..3 : real[2]
         %3 = slice %1, 0, 3..5 : real[2]
         %4 = mul %2, %3 : real[2]
         out f = %4
         out g = %2",
        "%0 = param x : real[2]
         %1 = const 0.0 : real
         %2 = broadcast %1 : real[2]
         out f = %2
         out g = %0",
    ),
    (
        "take-const",
        "%0 = param M : real[3, 2]
         %1 = const 2.0 : real
         %2 = take %0, %1, 0 : real[2]
         out f = %2",
        "%0 = param M : real[3, 2]
         %1 = slice %0, 0, 2 : real[2]
         out f = %1",
    ),
    (
        "onehot-const",
        "%0 = param v : real[2]
         %1 = const 1.0 : real
         %2 = onehot %0, %1, 1 : real[2, 3]
         out f = %2",
        "%0 = param v : real[2]
         %1 = pad %0, 1, 1 : real[2, 3]
         out f = %1",
    ),
    (
        "take-of-elementwise",
        "%0 = param v : real[3]
         %1 = param b : real[3]
         %2 = output y class[3] : real
         %3 = add %0, %1 : real[3]
         %4 = take %3, %2, 0 : real
         out f = %4",
        "%0 = param v : real[3]
         %1 = param b : real[3]
         %2 = output y class[3] : real
         %3 = take %0, %2, 0 : real
         %4 = take %1, %2, 0 : real
         %5 = add %3, %4 : real
         out f = %5",
    ),
    (
        "take-of-matvec",
        "%0 = param W : real[3, 2]
         %1 = input x : real[2]
         %2 = output y class[3] : real
         %3 = matvec %0, %1 : real[3]
         %4 = take %3, %2, 0 : real
         out f = %4",
        "%0 = param W : real[3, 2]
         %1 = input x : real[2]
         %2 = output y class[3] : real
         %3 = take %0, %2, 0 : real[2]
         %4 = dot %3, %1 : real
         out f = %4",
    ),
    (
        "stack-of-slices",
        "%0 = param v : real[3, 2]
         %1 = slice %0, 0, 0 : real[2]
         %2 = slice %0, 0, 1 : real[2]
         %3 = slice %0, 0, 2 : real[2]
         %4 = stack %1, %2, %3 : real[3, 2]
         %5 = stack %1, %2 : real[2, 2]
         out f = %4
         out g = %5",
        "%0 = param v : real[3, 2]
         %1 = slice %0, 0, 0 : real[2]
         %2 = slice %0, 0, 1 : real[2]
         %3 = stack %1, %2 : real[2, 2]
         out f = %0
         out g = %3",
    ),
    (
        "zero-linear",
        "%0 = param A : real[2, 3]
         %1 = const 0.0 : real
         %2 = broadcast %1 : real[3]
         %3 = matvec %0, %2 : real[2]
         out f = %3",
        "%0 = param A : real[2, 3]
         %1 = const 0.0 : real
         %2 = broadcast %1 : real[2]
         out f = %2",
    ),
];

fn normalize(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn every_rule_text_in_text_out() {
    let mut covered = BTreeSet::new();
    for &(rule, input, expected) in CASES {
        let g = ir::parse(input).unwrap_or_else(|e| panic!("{rule}: {e}"));
        ir::verify(&g).unwrap();
        let (s, stats) = simplify_with_stats(&g);
        ir::verify(&s).unwrap();
        assert!(stats.count(rule) > 0, "rule `{rule}` did not fire:\n{s}");
        assert_eq!(s.to_string(), normalize(expected), "rule `{rule}`");
        // The values agree wherever both are defined.
        let mut rng = random_ir::Rng::new(7);
        let point = random_ir::inputs(&g, &mut rng);
        let slots: Vec<&[f64]> = point.iter().map(|v| v.as_slice()).collect();
        let (a, b) = (
            interp::eval_slots(&g, &slots).unwrap(),
            interp::eval_slots(&s, &slots).unwrap(),
        );
        for (name, _) in &g.outputs {
            let (x, y) = (a.output(name).unwrap(), b.output(name).unwrap());
            assert_eq!(x.len(), y.len());
            for (p, q) in x.iter().zip(y) {
                assert!(
                    (p - q).abs() <= 1e-12 * (1.0 + p.abs()),
                    "rule `{rule}` changed `{name}`: {x:?} vs {y:?}"
                );
            }
        }
        covered.insert(rule);
    }
    for r in RULES {
        assert!(
            covered.contains(r.name),
            "rule `{}` has no text test",
            r.name
        );
    }
}

#[test]
fn simplify_is_idempotent_on_random_programs() {
    for seed in 0..200 {
        let mut rng = random_ir::Rng::new(50_000 + seed);
        let g = random_ir::program(&mut rng, 12);
        let once = ir::simplify(&g);
        let twice = ir::simplify(&once);
        assert_eq!(once.to_string(), twice.to_string(), "seed {seed}");
    }
}
