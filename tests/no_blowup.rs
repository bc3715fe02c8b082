//! No blow-ups: checking, lowering and differentiation stay linear in the source for chains of
//! definitions that each use the previous one several times (a tree of uses that would be
//! exponential if anything were expanded instead of shared).

use ebmc::{driver, grad, ir};

fn let_chain(n: usize) -> String {
    let mut s =
        String::from("model chain {\n  input x : real[8]\n  output y : real[8]\n  let h0 = x\n");
    for i in 1..=n {
        s.push_str(&format!(
            "  let h{i} = tanh(h{p}) + 0.5 * h{p}\n",
            p = i - 1
        ));
    }
    s.push_str(&format!("  energy 0.5 * sqnorm(h{n} - y)\n}}\n"));
    s
}

fn fn_chain(n: usize) -> String {
    let mut s = String::from("model chain {\n  input x : real[8]\n  output y : real[8]\n  fn f0(v : real[8]) = tanh(v)\n");
    for i in 1..=n {
        s.push_str(&format!(
            "  fn f{i}(v : real[8]) = f{p}(v) + 0.5 * f{p}(v)\n",
            p = i - 1
        ));
    }
    s.push_str(&format!("  energy 0.5 * sqnorm(f{n}(x) - y)\n}}\n"));
    s
}

/// Nodes of the energy graph and of its gradient program.
fn sizes(source: &str) -> (usize, usize) {
    let checked = driver::check(source.as_bytes());
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first());
    let program = ir::build(&checked.models[0]).unwrap();
    let g = grad::energy_gradient(&program.energy);
    (program.energy.len(), g.len())
}

#[test]
fn a_chain_of_1000_lets_each_used_twice_is_linear() {
    let (e500, g500) = sizes(&let_chain(500));
    let (e1000, g1000) = sizes(&let_chain(1000));
    assert!(
        e1000 <= 2 * e500 + 16,
        "energy graph grows faster than the source: {e500} → {e1000}"
    );
    assert!(
        g1000 <= 2 * g500 + 16,
        "gradient program grows faster than the source: {g500} → {g1000}"
    );
    assert!(e1000 <= 5 * 1000, "{e1000} nodes for 1000 lets");
}

#[test]
fn a_chain_of_functions_each_calling_the_previous_twice_is_linear() {
    let (e100, g100) = sizes(&fn_chain(100));
    let (e200, g200) = sizes(&fn_chain(200));
    assert!(e200 <= 2 * e100 + 16, "{e100} → {e200}");
    assert!(g200 <= 2 * g100 + 16, "{g100} → {g200}");
}
