//! Front-end speed: parse + check of a generated 1,000-declaration model.
//!
//! Run with `cargo bench --bench front_end`. Prints the median of repeated runs and, as a
//! baseline measured in the same run, the time to merely copy the source text into a
//! `String` and count its lines, so the ratio is meaningful on a noisy machine.

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let src = ebmc::testing::sources::many_declarations(1000);
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
