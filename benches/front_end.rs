//! Front-end speed: parse + check of a generated 1,000-declaration model.
//!
//! Run with `cargo bench --bench front_end`. Prints the median of repeated runs and, as a
//! baseline measured in the same run, the time to merely copy the source text into a
//! `String` and count its lines, so the ratio is meaningful on a noisy machine.

use std::time::Instant;

/// A model with `n` declarations: params, lets chained through them, energy terms.
fn generate(n: usize) -> String {
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let src = generate(1000);
    let decls = src.lines().count() - 2;
    let runs = 50;
    let mut check = Vec::new();
    let mut base = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let checked = ebmc::driver::check(src.as_bytes());
        check.push(t.elapsed().as_secs_f64());
        assert!(!checked.has_errors());
        let t = Instant::now();
        let copy = String::from(std::hint::black_box(src.as_str()));
        std::hint::black_box(copy.lines().count());
        base.push(t.elapsed().as_secs_f64());
    }
    let mut parse = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(ebmc::driver::parse(src.as_bytes()).is_ok());
        parse.push(t.elapsed().as_secs_f64());
    }
    println!("  parse only   median {:8.3} ms", median(parse) * 1e3);
    let (c, b) = (median(check), median(base));
    println!(
        "front_end: parse + check of {decls} declarations ({} bytes)",
        src.len()
    );
    println!("  parse+check  median {:8.3} ms", c * 1e3);
    println!("  copy+lines   median {:8.3} ms   (baseline)", b * 1e3);
    println!("  ratio        {:8.1}x", c / b);
}
