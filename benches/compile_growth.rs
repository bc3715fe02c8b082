//! How compile time and memory grow with a program's size: `cargo bench --bench compile_growth`.
//!
//! Two families of generated models, each compiled by `ebmc bench FILE` (which reports its
//! compile time) in a child process, under `/usr/bin/time` for the peak resident memory when
//! that is installed:
//!
//! * **layers** — `n` stacked 16×16 layers, `let h{i} = tanh(W{i} @ h{i-1} + b{i})`, with a
//!   real output (compile: energy, gradients, inference entry points);
//! * **classes** — a linear classifier over `k` classes with `nll`, which enumerates every
//!   answer in the loss and in `infer y by enumerate`.
//!
//! A column `x` is the ratio to the previous row's time over the ratio of sizes: about 1 when
//! growth is linear. `EBMC=path/to/ebmc` measures another build (the README's "before" column
//! came from the commit before these fixes); `GROWTH_MAX=N` stops each family at size N.

use std::path::{Path, PathBuf};
use std::process::Command;

fn layers(n: usize) -> String {
    let mut s = String::from("model m {\n  input x : real[16]\n  output y : real\n  let h0 = x\n");
    for i in 1..=n {
        s.push_str(&format!(
            "  param W{i} : real[16, 16]\n  param b{i} : real[16]\n  let h{i} = tanh(W{i} @ h{} + b{i})\n",
            i - 1
        ));
    }
    s.push_str(&format!(
        "  energy (sum(h{n}) - y)^2\n  infer y by descent(steps = 5, rate = 0.1)\n}}\n"
    ));
    s
}

fn classes(k: usize) -> String {
    format!(
        "model m {{\n  input x : real[4]\n  output y : class[{k}]\n  param W : real[{k}, 4]\n\
         \x20 param b : real[{k}]\n  energy (W @ x + b)[y]\n  loss nll(beta = 1)\n\
         \x20 infer y by enumerate\n}}\n"
    )
}

/// Compile milliseconds (from `ebmc bench`) and peak RSS in MB (when `/usr/bin/time` exists).
fn measure(ebmc: &Path, file: &Path) -> (f64, Option<f64>) {
    let time = Path::new("/usr/bin/time");
    let out = if time.exists() {
        Command::new(time)
            .args(["-f", "peak-rss-kb %M"])
            .arg(ebmc)
            .arg("bench")
            .arg(file)
            .output()
    } else {
        Command::new(ebmc).arg("bench").arg(file).output()
    }
    .expect("ebmc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ebmc bench {}: {stderr}",
        file.display()
    );
    let ms = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"compile_ms\": "))
        .and_then(|v| v.trim_end_matches(',').parse().ok())
        .expect("compile_ms in the JSON");
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kb "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    (ms, rss)
}

fn family(ebmc: &Path, dir: &Path, name: &str, sizes: &[usize], source: fn(usize) -> String) {
    let max: usize = std::env::var("GROWTH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    println!("| {name} | compile ms | peak RSS MB | x |");
    println!("|---:|---:|---:|---:|");
    let mut prev: Option<(usize, f64)> = None;
    for &n in sizes.iter().filter(|&&n| n <= max) {
        let file = dir.join(format!("{name}{n}.ebm"));
        std::fs::write(&file, source(n)).unwrap();
        let (ms, rss) = measure(ebmc, &file);
        let ratio = prev.map_or(String::from("–"), |(pn, pms)| {
            format!("{:.2}", (ms / pms) / (n as f64 / pn as f64))
        });
        let rss = rss.map_or(String::from("–"), |r| format!("{r:.0}"));
        println!("| {n} | {ms:.0} | {rss} | {ratio} |");
        prev = Some((n, ms));
    }
    println!();
}

fn main() {
    let ebmc = std::env::var_os("EBMC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ebmc")));
    let dir = std::env::temp_dir().join(format!("ebmc-compile-growth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("ebmc: {}\n", ebmc.display());
    family(&ebmc, &dir, "layers", &[10, 100, 300, 1000, 2000], layers);
    family(&ebmc, &dir, "classes", &[1000, 4000, 16000, 65536], classes);
    std::fs::remove_dir_all(&dir).ok();
}
