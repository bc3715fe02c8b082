//! Generated model sources of a given size, for the benches that time the front end and the
//! language server on the same large file.

/// A model with `n` declarations (`n` ≥ 7): params, lets chained through them, energy terms.
pub fn many_declarations(n: usize) -> String {
    let mut s =
        String::from("model big {\n  const D = 16\n  input x : real[D]\n  output y : real[D]\n");
    let per = n / 3;
    for i in 0..per {
        s.push_str(&format!("  param W{i} : real[D, D] ~ normal(0, 0.1)\n"));
    }
    s.push_str("  let h0 = x\n");
    for i in 1..per {
        s.push_str(&format!("  let h{i} = tanh(W{i} @ h{} + x) * 0.5\n", i - 1));
    }
    for i in 0..n - 2 * per - 4 {
        s.push_str(&format!(
            "  energy e{i} = 0.001 * sqnorm(h{} - y)\n",
            i % per
        ));
    }
    s.push_str("  energy 0.5 * sqnorm(W0 @ x - y)\n  loss energy\n}\n");
    s
}
