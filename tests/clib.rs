//! `ebmc build --lib` from C: every bundled model (examples/ and tests/ebm/ok/) is built into
//! a shared library, its generated example.c is compiled against the header and the library
//! with the system `cc`, and the energy and gradient it prints at random points are compared
//! bit for bit with `ebmc eval` at the same points. Beside that: the library's undefined
//! symbols are the C library's and libm's only (`nm -u`), a hand-written C program uses the
//! documented API (NULL gradients, inference against `ebmc eval`'s energies of every answer,
//! calls from several threads), and the errors say what went wrong.

use ebmc::check::Model;
use ebmc::rng::Rng;
use ebmc::types::Ty;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ebmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(args)
        .output()
        .expect("ebmc runs")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every model of every bundled `.ebm`: (file, model).
fn bundled() -> Vec<(PathBuf, Model)> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/ebm/ok"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .expect("bundled directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "ebm"))
            .collect();
        files.sort();
        for f in files {
            let checked = ebmc::driver::check(&std::fs::read(&f).expect("readable"));
            assert!(!checked.has_errors(), "{} checks", f.display());
            for m in checked.models {
                out.push((f.clone(), m));
            }
        }
    }
    out
}

/// Builds `model` of `file` into `dir`; panics with ebmc's output on failure.
fn build(file: &Path, model: &str, dir: &Path) {
    let o = ebmc(&[
        "build",
        "--lib",
        file.to_str().unwrap(),
        "--model",
        model,
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "build {model}: {}", text(&o));
}

/// Compiles C source `src` (a path) against the library of `model` in `dir` into `exe`.
fn cc(dir: &Path, src: &Path, exe: &Path, model: &str, extra: &[&str]) {
    let o = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-o"])
        .arg(exe)
        .arg(src)
        .arg("-I")
        .arg(dir)
        .arg("-L")
        .arg(dir)
        .arg(format!("-l{model}"))
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .args(extra)
        .arg("-lm")
        .output()
        .expect("cc runs");
    assert!(o.status.success(), "cc {}: {}", src.display(), text(&o));
}

/// A random point: every variable's values, flat, in declaration order.
fn random_point(model: &Model, rng: &mut Rng) -> Vec<Vec<f64>> {
    model
        .vars
        .iter()
        .map(|v| match &v.ty {
            Ty::Class(k) => vec![rng.below(*k as u64) as f64],
            Ty::Sign(s) => (0..s.len())
                .map(|_| if rng.below(2) == 0 { -1.0 } else { 1.0 })
                .collect(),
            Ty::Real(_) => (0..v.ty.elements()).map(|_| 0.5 * rng.normal()).collect(),
        })
        .collect()
}

/// The point as `ebmc eval --point` reads it: each variable nested as its shape.
fn point_json(model: &Model, values: &[Vec<f64>]) -> String {
    fn nest(dims: &[usize], xs: &[f64]) -> Value {
        match dims.split_first() {
            None => Value::from(xs[0]),
            Some((&d, rest)) => {
                let each = xs.len() / d.max(1);
                Value::Array(
                    (0..d)
                        .map(|i| nest(rest, &xs[i * each..(i + 1) * each]))
                        .collect(),
                )
            }
        }
    }
    let mut obj = serde_json::Map::new();
    for (v, xs) in model.vars.iter().zip(values) {
        let dims: &[usize] = v.ty.shape().map_or(&[], |s| &s.0);
        obj.insert(v.name.clone(), nest(dims, xs));
    }
    Value::Object(obj).to_string()
}

/// A number of `eval`'s JSON ("nan", "inf", "-inf" as strings).
fn json_number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn flatten(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(xs) => xs.iter().for_each(|x| flatten(x, out)),
        x => out.push(json_number(x)),
    }
}

/// A number as C's `printf("%.17g")` writes it (`nan`, `-nan`, `inf`, `-inf` included).
fn c_number(s: &str) -> f64 {
    match s {
        "nan" | "-nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
    }
}

/// Bit for bit, except that every NaN is the same NaN (C does not print a NaN's payload and
/// JSON has none).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The lines of example.c's output: label → numbers.
fn lines(stdout: &[u8]) -> Vec<(String, Vec<f64>)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let mut words: Vec<&str> = l.split(' ').collect();
            let label = if words[0] == "grad" || words[0] == "infer" {
                let w = words.drain(..2).collect::<Vec<_>>();
                w.join(" ")
            } else {
                words.remove(0).to_string()
            };
            (label, words.into_iter().map(c_number).collect())
        })
        .collect()
}

#[test]
fn every_bundled_model_matches_eval_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let models = bundled();
    assert!(models.len() >= 15, "{} models", models.len());
    let (mut compared, mut inferred) = (0, 0);
    for (k, (file, model)) in models.iter().enumerate() {
        let dir = tmp.path().join(format!("{k}-{}", model.name));
        build(file, &model.name, &dir);
        let exe = dir.join("example");
        cc(&dir, &dir.join("example.c"), &exe, &model.name, &[]);
        let mut rng = Rng::new(k as u64 + 1);
        for trial in 0..3 {
            let values = random_point(model, &mut rng);
            let point = dir.join(format!("point{trial}.json"));
            std::fs::write(&point, point_json(model, &values)).unwrap();
            let numbers = dir.join(format!("point{trial}.txt"));
            let flat: Vec<String> = values.iter().flatten().map(|x| format!("{x:e}")).collect();
            std::fs::write(&numbers, flat.join("\n")).unwrap();

            let eval = ebmc(&[
                "eval",
                file.to_str().unwrap(),
                "--model",
                &model.name,
                "--point",
                point.to_str().unwrap(),
            ]);
            // A non-finite result still prints the JSON (and fails): compared all the same.
            let json: Value = serde_json::from_slice(&eval.stdout)
                .unwrap_or_else(|_| panic!("{}: eval JSON: {}", model.name, text(&eval)));
            let run = Command::new(&exe).arg(&numbers).output().unwrap();
            assert!(run.status.success(), "{}: {}", model.name, text(&run));
            let got = lines(&run.stdout);
            let find = |label: &str| -> &Vec<f64> {
                &got.iter()
                    .find(|(l, _)| l == label)
                    .unwrap_or_else(|| panic!("{}: no `{label}` line: {got:?}", model.name))
                    .1
            };
            let e = json_number(&json["energy"]);
            for label in ["energy", "grad_energy"] {
                let c = find(label)[0];
                assert!(
                    same(c, e),
                    "{} at {}: C {label} {c:e} ({:#x}), eval {e:e} ({:#x})",
                    model.name,
                    point.display(),
                    c.to_bits(),
                    e.to_bits()
                );
            }
            let grads = json["grad"].as_object().unwrap();
            assert!(
                !grads.is_empty() || model.vars.iter().all(|v| v.ty.is_discrete()),
                "{}",
                model.name
            );
            for (name, g) in grads {
                let mut want = Vec::new();
                flatten(g, &mut want);
                let c = find(&format!("grad {name}"));
                assert_eq!(c.len(), want.len(), "{}: grad {name}", model.name);
                for (i, (a, b)) in c.iter().zip(&want).enumerate() {
                    assert!(
                        same(*a, *b),
                        "{}: grad {name}[{i}]: C {a:e} ({:#x}), eval {b:e} ({:#x})",
                        model.name,
                        a.to_bits(),
                        b.to_bits()
                    );
                }
                compared += want.len();
            }
            if trial == 0 {
                inferred += check_infer(file, model, &point, &got) as usize;
            }
        }
    }
    assert!(compared > 10_000, "{compared} gradient entries compared");
    assert!(
        inferred >= 8,
        "inference compared on {inferred} models only"
    );
}

/// When the library has `infer` and the model has one output and no latent (so its free
/// energy is its energy), the answer and energy example.c printed are the lowest of `ebmc
/// eval`'s energies at every answer: the first lowest, a NaN never. Returns whether it checked.
fn check_infer(file: &Path, model: &Model, point: &Path, got: &[(String, Vec<f64>)]) -> bool {
    let outputs: Vec<&ebmc::check::Var> = model
        .vars
        .iter()
        .filter(|v| v.role == ebmc::syntax::ast::Role::Output)
        .collect();
    let latents = model
        .vars
        .iter()
        .any(|v| v.role == ebmc::syntax::ast::Role::Latent);
    let Some((_, energy)) = got.iter().find(|(l, _)| l == "infer_energy") else {
        return false;
    };
    let [out] = outputs[..] else { return false };
    if latents {
        return false;
    }
    if !out.ty.is_discrete() {
        return check_descent(model, point, got);
    }
    // Every answer, numbered as the library numbers them (a sign tensor's first element the
    // most significant bit).
    let answers: Vec<Vec<f64>> = (0..out.ty.states().unwrap())
        .map(|k| out.ty.answer(k))
        .collect();
    let energies: Vec<f64> = answers
        .iter()
        .map(|a| {
            let items: Vec<String> = a.iter().map(|x| x.to_string()).collect();
            let at = format!("{}=[{}]", out.name, items.join(","));
            let o = ebmc(&[
                "eval",
                file.to_str().unwrap(),
                "--model",
                &model.name,
                "--point",
                point.to_str().unwrap(),
                "--at",
                &at,
            ]);
            let json: Value = serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|_| panic!("{}: eval JSON: {}", model.name, text(&o)));
            json_number(&json["energy"])
        })
        .collect();
    let mut best = (0, f64::INFINITY);
    for (i, &e) in energies.iter().enumerate() {
        if e < best.1 {
            best = (i, e);
        }
    }
    if best.1 == f64::INFINITY {
        best = (0, energies[0]);
    }
    let y = &got
        .iter()
        .find(|(l, _)| *l == format!("infer {}", out.name))
        .unwrap()
        .1;
    assert_eq!(y, &answers[best.0], "{}: energies {energies:?}", model.name);
    assert!(
        same(energy[0], best.1),
        "{}: infer energy {} vs {}",
        model.name,
        energy[0],
        best.1
    );
    true
}

/// A library inferring by descent: its answer and energy are the runtime's on strict,
/// unstaged code (the library's), bit for bit, from the same params and inputs.
fn check_descent(model: &Model, point: &Path, got: &[(String, Vec<f64>)]) -> bool {
    use ebmc::compile::{self, Backend};
    use ebmc::runtime::session::{Point, Session};
    let json: Value = serde_json::from_str(&std::fs::read_to_string(point).unwrap()).unwrap();
    let options = compile::Options {
        stage: false,
        ..compile::Options::new(Backend::JitStrict)
    };
    let code = std::sync::Arc::new(compile::compile(model, &options).unwrap());
    let mut s = Session::new(&code, 0).unwrap();
    let mut p = Point::zeros(model);
    let mut params = Vec::new();
    for (i, v) in model.vars.iter().enumerate() {
        let mut values = Vec::new();
        flatten(&json[v.name.as_str()], &mut values);
        if v.role == ebmc::syntax::ast::Role::Param {
            params.extend_from_slice(&values);
        }
        p.values[i] = values;
    }
    s.params.set(params);
    let energy = s.infer(&mut p, &mut Rng::new(0));
    let status = got.iter().find(|(l, _)| l == "infer_status");
    match energy {
        Ok(e) => {
            let c = &got.iter().find(|(l, _)| l == "infer_energy").unwrap().1;
            assert!(
                same(c[0], e),
                "{}: infer energy C {} vs runtime {e}",
                model.name,
                c[0]
            );
            for (i, v) in model.vars.iter().enumerate() {
                if v.role != ebmc::syntax::ast::Role::Output {
                    continue;
                }
                let c = &got
                    .iter()
                    .find(|(l, _)| *l == format!("infer {}", v.name))
                    .unwrap()
                    .1;
                assert_eq!(c.len(), p.values[i].len(), "{}", model.name);
                for (a, b) in c.iter().zip(&p.values[i]) {
                    assert!(
                        same(*a, *b),
                        "{}: infer {}: C {a:e} vs runtime {b:e}",
                        model.name,
                        v.name
                    );
                }
            }
        }
        // The runtime's descent failed: the library's must have said so.
        Err(e) => assert!(
            status.is_some(),
            "{}: runtime failed ({e}), C did not: {got:?}",
            model.name
        ),
    }
    true
}

/// A body past the JIT's instructions per function is split into parts that the entry point
/// calls in turn; in the library too, and it still computes what `eval` computes.
#[test]
fn a_body_split_into_parts_matches_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut src = String::from(
        "model deep {\n  input x : real[4]\n  output y : real\n  param W : real[4, 4]\n  let h0 = tanh(W @ x)\n",
    );
    for i in 1..400 {
        src += &format!("  let h{i} = tanh(W @ h{} + h{})\n", i - 1, i - 1);
    }
    src += "  energy square(sum(h399) - y)\n}\n";
    let file = dir.join("deep.ebm");
    std::fs::write(&file, src).unwrap();
    let model = ebmc::driver::check(std::fs::read(&file).unwrap().as_slice())
        .models
        .remove(0);
    let out = dir.join("lib");
    build(&file, "deep", &out);
    let nm = Command::new("nm")
        .arg(out.join("libdeep.so"))
        .output()
        .unwrap();
    let parts = String::from_utf8_lossy(&nm.stdout)
        .matches(".part.")
        .count();
    assert!(parts >= 4, "{parts} parts");
    let exe = out.join("example");
    cc(&out, &out.join("example.c"), &exe, "deep", &[]);
    let values = random_point(&model, &mut Rng::new(7));
    let point = dir.join("p.json");
    std::fs::write(&point, point_json(&model, &values)).unwrap();
    let numbers = dir.join("p.txt");
    let flat: Vec<String> = values.iter().flatten().map(|x| format!("{x:e}")).collect();
    std::fs::write(&numbers, flat.join(" ")).unwrap();
    let run = Command::new(&exe).arg(&numbers).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let got = lines(&run.stdout);
    let o = ebmc(&[
        "eval",
        file.to_str().unwrap(),
        "--point",
        point.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(same(got[0].1[0], json_number(&json["energy"])), "{got:?}");
    let mut want = Vec::new();
    flatten(&json["grad"]["W"], &mut want);
    let c = &got.iter().find(|(l, _)| l == "grad W").unwrap().1;
    assert_eq!(c.len(), want.len());
    for (a, b) in c.iter().zip(&want) {
        assert!(same(*a, *b), "grad W: C {a:e}, eval {b:e}");
    }
}

/// Undefined symbols of a shared library that the C library and libm provide (and the weak
/// references every `cc -shared` output carries).
const ALLOWED: &[&str] = &[
    "memcpy",
    "memset",
    "sin",
    "cos",
    "exp",
    "log",
    "log1p",
    "tanh",
    "pow",
    // The descent of `<model>_infer` stops on the gradient's norm, as the runtime does.
    "sqrt",
    "__cxa_finalize",
    "__gmon_start__",
    "_ITM_deregisterTMCloneTable",
    "_ITM_registerTMCloneTable",
];

fn undefined_symbols(lib: &Path) -> Vec<String> {
    let o = Command::new("nm")
        .arg("-u")
        .arg(lib)
        .output()
        .expect("nm runs");
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap().to_string())
        .collect()
}

#[test]
fn libraries_need_nothing_but_libc_and_libm() {
    let tmp = tempfile::tempdir().unwrap();
    let mut libm_seen = false;
    for (k, (file, model)) in bundled().iter().enumerate() {
        let dir = tmp.path().join(format!("{k}"));
        build(file, &model.name, &dir);
        let undefined = undefined_symbols(&dir.join(format!("lib{}.so", model.name)));
        for s in &undefined {
            assert!(
                ALLOWED.contains(&s.as_str()),
                "{}: undefined symbol `{s}` (all: {undefined:?})",
                model.name
            );
        }
        libm_seen |= undefined.iter().any(|s| s == "exp" || s == "log");
        // The entry points and the wrappers' exports only: the native functions are hidden.
        let o = Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(dir.join(format!("lib{}.so", model.name)))
            .output()
            .unwrap();
        let defined = String::from_utf8_lossy(&o.stdout);
        assert!(
            defined.contains(&format!(" T {}_grad\n", model.name)),
            "{defined}"
        );
        assert!(!defined.contains("ebmc_"), "{}: {defined}", model.name);
    }
    // Strict code calls libm for its transcendentals: the check above saw some.
    assert!(
        libm_seen,
        "no library calls libm: the allow-list is untested"
    );
}

/// A program written by hand against iris.h: what the header promises, used as a C user
/// would (NULL gradients, inference, one `work` per thread).
const IRIS_TEST: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "iris.h"

static const double x[IRIS_x_LEN] = {0.3, -1.2, 0.8, 2.0};
static const double W[IRIS_W_DIM0][IRIS_W_DIM1] = {
    {0.1, -0.2, 0.3, 0.05}, {-0.4, 0.25, 0.1, -0.3}, {0.2, 0.2, -0.1, 0.15}};
static const double b[IRIS_b_LEN] = {0.01, -0.02, 0.03};

static void *worker(void *arg) {
    double work[IRIS_WORK_LEN], gW[IRIS_W_LEN], gb[IRIS_b_LEN], e;
    double *sum = arg;
    *sum = 0;
    for (int i = 0; i < 20000; i++) {
        double y = i % IRIS_y_CLASSES;
        if (iris_grad(x, &y, &W[0][0], b, &e, gW, gb, work) != IRIS_OK) return NULL;
        *sum += e + gW[i % IRIS_W_LEN] + gb[i % IRIS_b_LEN];
    }
    return arg;
}

int main(void) {
    double work[IRIS_WORK_LEN];
    double e, e2, y = 2, gb[IRIS_b_LEN];
    if (iris_work_len() != IRIS_WORK_LEN) return 10;
    if (iris_energy(x, &y, &W[0][0], b, &e, work) != IRIS_OK) return 11;
    /* NULL skips a gradient. */
    if (iris_grad(x, &y, &W[0][0], b, &e2, NULL, gb, work) != IRIS_OK) return 12;
    if (memcmp(&e, &e2, sizeof e) != 0) return 13;
    printf("energy %.17g\n", e);
    printf("grad b %.17g %.17g %.17g\n", gb[0], gb[1], gb[2]);
    /* A class value out of range is a status, not a wild read. */
    double bad = 3;
    if (iris_energy(x, &bad, &W[0][0], b, &e, work) != IRIS_INDEX_OUT_OF_RANGE) return 14;
    double best;
    if (iris_infer(x, &W[0][0], b, &best, &e, work) != IRIS_OK) return 15;
    printf("infer y %.17g\ninfer_energy %.17g\n", best, e);
    /* Four threads, each with its own work, agree with one thread. */
    double sums[5];
    pthread_t t[4];
    worker(&sums[4]);
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, &sums[i]);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        if (r == NULL || memcmp(&sums[i], &sums[4], sizeof sums[4]) != 0) return 16;
    }
    printf("threads 4\n");
    return 0;
}
"#;

#[test]
fn a_c_program_uses_the_documented_api() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let iris = root().join("examples/iris.ebm");
    build(&iris, "iris", dir);
    let src = dir.join("iris_test.c");
    std::fs::write(&src, IRIS_TEST).unwrap();
    let exe = dir.join("iris_test");
    cc(dir, &src, &exe, "iris", &["-pthread"]);
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let got = lines(&run.stdout);
    let get = |label: &str| got.iter().find(|(l, _)| l == label).unwrap().1.clone();
    assert_eq!(get("threads"), vec![4.0]);

    // The same point through `ebmc eval`, at every answer.
    let at = [
        "x=[0.3, -1.2, 0.8, 2.0]",
        "W=[[0.1, -0.2, 0.3, 0.05], [-0.4, 0.25, 0.1, -0.3], [0.2, 0.2, -0.1, 0.15]]",
        "b=[0.01, -0.02, 0.03]",
    ];
    let eval_at = |y: usize| -> Value {
        let y = format!("y={y}");
        let iris = iris.to_str().unwrap();
        let mut args = vec!["eval", iris, "--random"];
        for a in at.iter().chain([&y.as_str()]) {
            args.extend(["--at", a]);
        }
        let o = ebmc(&args);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let at2 = eval_at(2);
    assert!(same(get("energy")[0], json_number(&at2["energy"])));
    let mut gb = Vec::new();
    flatten(&at2["grad"]["b"], &mut gb);
    for (c, e) in get("grad b").iter().zip(&gb) {
        assert!(same(*c, *e), "grad b: C {c}, eval {e}");
    }
    // Inference: the lowest of the three energies (iris has no latent: energy = free energy).
    let energies: Vec<f64> = (0..3).map(|y| json_number(&eval_at(y)["energy"])).collect();
    let best = (0..3)
        .min_by(|&a, &b| energies[a].total_cmp(&energies[b]))
        .unwrap();
    assert_eq!(get("infer y"), vec![best as f64], "energies {energies:?}");
    assert!(same(get("infer_energy")[0], energies[best]));
}

/// With `--weights`, the params of the file are in the library, exactly, and evaluate as
/// `ebmc eval` does with them.
#[test]
fn weights_are_held_in_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let iris = root().join("examples/iris.ebm");
    // Values whose shortest decimal form is long, and a negative zero.
    let w: Vec<Vec<f64>> = (0..3)
        .map(|i| (0..4).map(|j| (i * 4 + j) as f64 / 7.0 - 0.9).collect())
        .collect();
    let b = [0.1 + 0.2, -0.0, 1e-300];
    let weights = dir.join("w.json");
    std::fs::write(&weights, serde_json::json!({ "W": w, "b": b }).to_string()).unwrap();
    let out = dir.join("lib");
    let o = ebmc(&[
        "build",
        "--lib",
        iris.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let src = dir.join("defaults.c");
    std::fs::write(
        &src,
        r#"
#include <stdio.h>
#include "iris.h"
int main(void) {
    double work[IRIS_WORK_LEN], x[IRIS_x_LEN] = {1, 2, 3, 4}, y = 1, e;
    if (!IRIS_HAS_DEFAULTS) return 1;
    for (int i = 0; i < IRIS_W_LEN; i++) printf("W %.17g\n", iris_default_W[i]);
    for (int i = 0; i < IRIS_b_LEN; i++) printf("b %.17g\n", iris_default_b[i]);
    if (iris_energy(x, &y, iris_default_W, iris_default_b, &e, work) != IRIS_OK) return 2;
    printf("energy %.17g\n", e);
    return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("defaults");
    cc(&out, &src, &exe, "iris", &[]);
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let got = lines(&run.stdout);
    let held: Vec<f64> = got
        .iter()
        .filter(|(l, _)| l == "W" || l == "b")
        .map(|(_, v)| v[0])
        .collect();
    let want: Vec<f64> = w.iter().flatten().chain(&b).copied().collect();
    assert_eq!(held.len(), want.len());
    for (h, w) in held.iter().zip(&want) {
        assert_eq!(h.to_bits(), w.to_bits(), "held {h:e}, file {w:e}");
    }
    let point = dir.join("point.json");
    std::fs::write(
        &point,
        serde_json::json!({ "W": w, "b": b, "x": [1, 2, 3, 4], "y": 1 }).to_string(),
    )
    .unwrap();
    let o = ebmc(&[
        "eval",
        iris.to_str().unwrap(),
        "--point",
        point.to_str().unwrap(),
    ]);
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let energy = got.iter().find(|(l, _)| l == "energy").unwrap().1[0];
    assert!(same(energy, json_number(&json["energy"])));

    // A weights file that does not fit the model is refused, naming what is wrong.
    std::fs::write(&weights, r#"{"W": [1, 2]}"#).unwrap();
    let o = ebmc(&[
        "build",
        "--lib",
        iris.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("w.json"), "{}", text(&o));
}

/// Variables named like C keywords or like the wrappers' own names get a `_` in C; the
/// library, its example and a caller still compile and agree with `ebmc eval`.
#[test]
fn c_keywords_and_wrapper_names_are_renamed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("names.ebm");
    std::fs::write(
        &file,
        "model names {\n  input int : real[2]\n  output work : class[3]\n  param best : real[3, 2]\n  \
         param i : real[3] = 0\n  energy (best @ int + i)[work]\n  loss nll\n}\n",
    )
    .unwrap();
    let out = dir.join("lib");
    build(&file, "names", &out);
    let header = std::fs::read_to_string(out.join("names.h")).unwrap();
    assert!(
        header.contains("int names_energy(const double *int_, const double *work_, const double *best_, const double *i_,"),
        "{header}"
    );
    let exe = out.join("example");
    cc(&out, &out.join("example.c"), &exe, "names", &[]);
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let point = dir.join("p.json");
    std::fs::write(
        &point,
        r#"{"int": [0.5, 0.5], "work": 0, "best": [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], "i": [0.5, 0.5, 0.5]}"#,
    )
    .unwrap();
    let o = ebmc(&[
        "eval",
        file.to_str().unwrap(),
        "--point",
        point.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    let got = lines(&run.stdout);
    assert!(same(got[0].1[0], json_number(&json["energy"])), "{got:?}");
}

#[test]
fn a_descent_from_a_random_start_draws_it_from_the_callers_generator() {
    // contrastive.ebm descends from `init = normal(0, 1)`: its `_infer` takes the generator
    // (every bundled model's answer is compared with the runtime's, bit for bit, above: the
    // example seeds it with 0, as the runtime's `Rng::new(0)`). Here: the same seed, the
    // same answer; another seed, another start.
    let tmp = tempfile::tempdir().unwrap();
    let file = root().join("examples/contrastive.ebm");
    let o = ebmc(&[
        "build",
        "--lib",
        file.to_str().unwrap(),
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("no `contrastive_infer`"), "{}", text(&o));
    let header = std::fs::read_to_string(tmp.path().join("contrastive.h")).unwrap();
    assert!(header.contains("} contrastive_rng;"), "{header}");
    assert!(
        header.contains("double *energy_out, contrastive_rng *rng, double *work);"),
        "{header}"
    );
    let src = tmp.path().join("seeds.c");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include "contrastive.h"
static double work[CONTRASTIVE_WORK_LEN];
static double x[CONTRASTIVE_x_LEN], F[CONTRASTIVE_F_LEN], G[CONTRASTIVE_G_LEN], y[CONTRASTIVE_y_LEN];
int main(void) {
    for (int i = 0; i < CONTRASTIVE_x_LEN; i++) x[i] = 0.01 * i;
    for (int i = 0; i < CONTRASTIVE_F_LEN; i++) F[i] = 0.001 * (i % 7);
    for (int i = 0; i < CONTRASTIVE_G_LEN; i++) G[i] = 0.002 * (i % 5) - 0.004;
    for (unsigned long long seed = 0; seed < 3; seed++) {
        contrastive_rng rng;
        contrastive_rng_seed(&rng, seed % 2);
        double e;
        int status = contrastive_infer(x, F, G, y, &e, &rng, work);
        printf("%d %.17g %.17g\n", status, e, y[0]);
    }
    return 0;
}
"#,
    )
    .unwrap();
    let exe = tmp.path().join("seeds");
    cc(tmp.path(), &src, &exe, "contrastive", &[]);
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(rows[0], rows[2], "seed 0 twice: {out}");
    assert_ne!(rows[0], rows[1], "seeds 0 and 1: {out}");
}

#[test]
fn errors_say_what_went_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let iris = root().join("examples/iris.ebm");
    let iris = iris.to_str().unwrap();

    let o = ebmc(&["build", "--lib", iris, "--model", "nope", "-o", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("has no model `nope`; it has iris"),
        "{}",
        text(&o)
    );

    // An output directory under a regular file cannot be created.
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    let under = file.join("lib");
    let o = ebmc(&["build", "--lib", iris, "-o", under.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("error: cannot create"), "{}", text(&o));

    // No C compiler: a clear error, and nothing left behind.
    let dir = tmp.path().join("nocc");
    let o = Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(["build", "--lib", iris, "-o", dir.to_str().unwrap()])
        .env("CC", "/nonexistent/cc")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot run the C compiler `/nonexistent/cc`"),
        "{}",
        text(&o)
    );
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // Two variables that would be one C parameter.
    let clash = tmp.path().join("clash.ebm");
    std::fs::write(
        &clash,
        "model clash {\n  input grad_x : real[2]\n  output y : real\n  param x : real[2]\n  \
         energy square(dot(x, grad_x) - y)\n}\n",
    )
    .unwrap();
    let o = ebmc(&[
        "build",
        "--lib",
        clash.to_str().unwrap(),
        "-o",
        tmp.path().join("clash").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("variables `x` and `grad_x` would both be the C parameter `grad_x`"),
        "{}",
        text(&o)
    );

    // --lib is required (the only kind of build so far).
    let o = ebmc(&["build", iris, "-o", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
