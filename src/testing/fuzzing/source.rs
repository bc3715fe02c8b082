//! Random well-typed model *sources*, for fuzzing and never-panic tests of the whole pipeline.
//!
//! [`model`] writes one `model fz { … }` block from a [`Rng`]: an input, an output (real
//! vector or scalar, `class[k]` or `sign`), sometimes a latent (real, eliminated by a short
//! descent, or `class[2]` by enumeration or marginalisation), lets, and one to three energy
//! terms built by a typed expression generator over every builtin, `@`, `'`, indexing,
//! slicing and vector literals; then a loss the output admits and short inference. Params are
//! declared on demand when an expression needs a tensor of a shape nothing else has. One model
//! in [`DEEP_ONE_IN`] also has a deep term: a chain of thousands of lets or function calls, or
//! an expression at the parser's depth limits.
//!
//! The invariant is the checker's: every generated source checks without an error (warnings,
//! such as unused declarations or the collapse lint, are allowed). Values are not tamed —
//! `log` of a negative, `exp` overflow and division by zero all happen — because a NaN must
//! come back as a value or an error, never as a panic.

use crate::testing::random_ir::Rng;
use std::fmt::Write;

/// Dims of a generated tensor: small, so that evaluation is cheap.
type Shape = Vec<usize>;

fn ty(s: &[usize]) -> String {
    if s.is_empty() {
        "real".into()
    } else {
        let d: Vec<String> = s.iter().map(|d| d.to_string()).collect();
        format!("real[{}]", d.join(", "))
    }
}

/// The discrete or real output of the model.
#[derive(Clone, Debug, PartialEq)]
enum Output {
    Real(Shape),
    Class(usize),
    Sign,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    /// Declarations, in order.
    decls: Vec<String>,
    /// Real-valued names usable in expressions, with their shapes.
    vars: Vec<(String, Shape)>,
    params: usize,
    lets: usize,
}

const UNARY: &[&str] = &[
    "exp", "log", "tanh", "sigmoid", "softplus", "relu", "abs", "sqrt", "square", "sin", "cos",
];
const REDUCE: &[&str] = &[
    "sum",
    "mean",
    "max",
    "min",
    "logsumexp",
    "sqnorm",
    "norm",
    "l1",
];

/// One model in this many gets a deep term ([`Gen::deep`]).
const DEEP_ONE_IN: usize = 32;

impl Gen<'_> {
    /// A scalar term at the end of something deep, with its declarations: a chain of lets or of
    /// function calls 400 to 1,200 long, an expression with a chain of 100 to 240 operators, or
    /// calls nested 40 to 60 brackets deep (the parser's limits are 256 and 64). Longer chains
    /// are `tests/deep.rs`'s: here a deep input must run, JIT and interpreter both, well under
    /// the campaigns' one-second hang limit. Each step keeps values bounded (`0.999 v + 0.001`,
    /// `0.5 v`, now and then `tanh`: its inline code is long, and a chain of it would spend the
    /// fuzzer's time in Cranelift), so the depth, not the numbers, is what is tested.
    fn deep(&mut self) -> String {
        let s = self.shape();
        let start = self.expr(&s, 2);
        let kind = self.rng.below(4);
        let n = 400 + self.rng.below(800);
        match kind {
            0 => {
                self.decls.push(format!("let dl0 = {start}"));
                for i in 1..=n {
                    let step = match self.rng.below(8) {
                        0 => format!("tanh(dl{})", i - 1),
                        1..=3 => format!("0.5 * dl{}", i - 1),
                        _ => format!("dl{} * 0.999 + 0.001", i - 1),
                    };
                    self.decls.push(format!("let dl{i} = {step}"));
                }
                format!("sum(dl{n})")
            }
            1 => {
                let t = ty(&s);
                self.decls.push(format!("fn df0(a : {t}) = a"));
                for i in 1..=n {
                    let step = if self.rng.below(8) == 0 {
                        format!("tanh(df{}(a))", i - 1)
                    } else {
                        format!("df{}(a) * 0.9 + 0.1", i - 1)
                    };
                    self.decls.push(format!("fn df{i}(a : {t}) = {step}"));
                }
                format!("sum(df{n}({start}))")
            }
            2 => {
                self.decls.push(format!("let dn0 = {start}"));
                let ops = 100 + self.rng.below(141);
                let mut e = String::from("dn0");
                for k in 0..ops {
                    e.push_str(if k % 2 == 0 {
                        " * 0.999 + 0.001"
                    } else {
                        " - dn0 * 0.001"
                    });
                }
                self.decls.push(format!("let dn1 = {e}"));
                "sum(dn1)".into()
            }
            _ => {
                let depth = 40 + self.rng.below(21);
                format!("sum({}{start}{})", "tanh(".repeat(depth), ")".repeat(depth))
            }
        }
    }

    fn dim(&mut self) -> usize {
        1 + self.rng.below(3)
    }

    fn shape(&mut self) -> Shape {
        match self.rng.below(4) {
            0 => vec![],
            1 | 2 => vec![self.dim()],
            _ => vec![self.dim(), self.dim()],
        }
    }

    fn param(&mut self, s: &[usize]) -> String {
        self.params += 1;
        let name = format!("W{}", self.params);
        let init = match self.rng.below(5) {
            0 => " = 0".to_string(),
            1 => " ~ normal(0, 0.5)".to_string(),
            2 => " ~ uniform(-1, 1)".to_string(),
            3 if s.len() == 2 => " ~ glorot".to_string(),
            _ => String::new(),
        };
        self.decls.push(format!("param {name} : {}{init}", ty(s)));
        self.vars.push((name.clone(), s.to_vec()));
        name
    }

    fn number(&mut self) -> String {
        (*self
            .rng
            .pick(&["0", "1", "2", "0.5", "-1", "1e-3", "3.25", "100"]))
        .to_string()
    }

    /// A name of shape `s`, or a new param.
    fn leaf(&mut self, s: &[usize]) -> String {
        let have: Vec<String> = self
            .vars
            .iter()
            .filter(|(_, t)| t == s)
            .map(|(n, _)| n.clone())
            .collect();
        if s.is_empty() && self.rng.below(4) == 0 {
            return self.number();
        }
        if !have.is_empty() && self.rng.below(4) != 0 {
            return self.rng.pick(&have).clone();
        }
        self.param(s)
    }

    /// An expression of shape `s`.
    fn expr(&mut self, s: &[usize], depth: usize) -> String {
        if depth == 0 || self.rng.below(5) == 0 {
            return self.leaf(s);
        }
        let d = depth - 1;
        match self.rng.below(if s.is_empty() { 14 } else { 9 }) {
            0 => {
                let f = *self.rng.pick(UNARY);
                format!("{f}({})", self.expr(s, d))
            }
            1 => {
                let op = *self.rng.pick(&["+", "-", "*", "/"]);
                let a = self.expr(s, d);
                // Scalar broadcasting on either side, now and then.
                let b = if !s.is_empty() && self.rng.below(4) == 0 {
                    self.expr(&[], d)
                } else {
                    self.expr(s, d)
                };
                if self.rng.below(2) == 0 {
                    format!("({a} {op} {b})")
                } else {
                    format!("({b} {op} {a})")
                }
            }
            2 => {
                let f = *self.rng.pick(&["max", "min", "pow"]);
                let a = self.expr(s, d);
                let b = if f == "pow" {
                    self.number()
                } else {
                    self.expr(s, d)
                };
                format!("{f}({a}, {b})")
            }
            3 => format!("-{}", self.expr(s, d)),
            4 if s.len() == 1 => {
                // Matrix times vector.
                let k = self.dim();
                let m = self.expr(&[s[0], k], d);
                let v = self.expr(&[k], d);
                format!("({m} @ {v})")
            }
            4 if s.len() == 2 => {
                let k = self.dim();
                let a = self.expr(&[s[0], k], d);
                let b = self.expr(&[k, s[1]], d);
                format!("({a} @ {b})")
            }
            5 if s.len() == 1 => {
                let extra = self.rng.below(3);
                let v = self.expr(&[s[0] + extra], d);
                let start = self.rng.below(extra + 1);
                format!("{v}[{start}:{}]", start + s[0])
            }
            5 if s.len() == 2 => format!("{}'", self.expr(&[s[1], s[0]], d)),
            6 if s.len() == 1 => {
                let xs: Vec<String> = (0..s[0]).map(|_| self.expr(&[], d)).collect();
                format!("[{}]", xs.join(", "))
            }
            6 if s.len() == 2 => {
                // Row `i` of a rank-3 tensor.
                let r = self.dim();
                let i = self.rng.below(r);
                format!("{}[{i}]", self.expr(&[r, s[0], s[1]], d))
            }
            7 if s.len() == 1 => format!("softmax({})", self.expr(s, d)),
            7 if s.len() == 2 => {
                let r = self.dim();
                let i = self.rng.below(r);
                format!("{}[{i}]", self.expr(&[r, s[0], s[1]], d))
            }
            9 => {
                let f = *self.rng.pick(REDUCE);
                let t = self.shape();
                format!("{f}({})", self.expr(&t, d))
            }
            10 => {
                let f = *self.rng.pick(&["dot", "cosine"]);
                let t = self.shape();
                let a = self.expr(&t, d);
                let b = self.expr(&t, d);
                format!("{f}({a}, {b})")
            }
            11 => {
                let n = self.dim();
                let i = self.rng.below(n);
                format!("{}[{i}]", self.expr(&[n], d))
            }
            12 => {
                let (n, m) = (self.dim(), self.dim());
                let (i, j) = (self.rng.below(n), self.rng.below(m));
                format!("{}[{i}, {j}]", self.expr(&[n, m], d))
            }
            13 => format!("{}^2", self.leaf(&[])),
            _ => self.leaf(s),
        }
    }
}

/// One model source from `rng`; it checks without errors.
pub fn model(rng: &mut Rng) -> String {
    let mut g = Gen {
        rng,
        decls: Vec::new(),
        vars: Vec::new(),
        params: 0,
        lets: 0,
    };
    let xs = g.shape();
    g.decls.push(format!("input x : {}", ty(&xs)));
    g.vars.push(("x".into(), xs));
    let output = match g.rng.below(5) {
        0 => Output::Class(2 + g.rng.below(3)),
        1 => Output::Sign,
        2 => Output::Real(vec![]),
        _ => Output::Real(vec![g.dim()]),
    };
    match &output {
        Output::Real(s) => {
            g.decls.push(format!("output y : {}", ty(s)));
            g.vars.push(("y".into(), s.clone()));
        }
        Output::Class(k) => g.decls.push(format!("output y : class[{k}]")),
        Output::Sign => g.decls.push("output y : sign".into()),
    }
    let latent = g.rng.below(4);
    match latent {
        1 => {
            let s = vec![g.dim()];
            g.decls.push(format!(
                "latent z : {} min by descent(steps = 3, rate = 0.1)",
                ty(&s)
            ));
            g.vars.push(("z".into(), s));
        }
        2 => {
            let elim = *g.rng.pick(&[
                "",
                " min by enumerate",
                " marginal(beta = 1)",
                " marginal(beta = inf)",
            ]);
            g.decls.push(format!("latent c : class[2]{elim}"));
        }
        _ => {}
    }
    for _ in 0..g.rng.below(3) {
        let s = g.shape();
        let e = g.expr(&s, 3);
        g.lets += 1;
        let name = format!("h{}", g.lets);
        g.decls.push(format!("let {name} = {e}"));
        g.vars.push((name, s));
    }
    // A term that reads the output, one that reads the class latent, and maybe one more.
    let mut terms = Vec::new();
    terms.push(match &output {
        Output::Real(s) => {
            let s = s.clone();
            let e = g.expr(&s, 3);
            match g.rng.below(3) {
                0 => format!("0.5 * sqnorm({e} - y)"),
                1 if s.is_empty() => format!("(y - {e})^2"),
                _ => format!("dot(y, {e}) + 0.5 * sqnorm(y)"),
            }
        }
        Output::Class(k) => {
            let k = *k;
            let e = g.expr(&[k], 3);
            if g.rng.below(3) == 0 {
                let m = g.expr(&[k, 2], 2);
                format!("sum({m}[y]) + {e}[y]")
            } else {
                format!("{e}[y]")
            }
        }
        Output::Sign => format!("-y * {}", g.expr(&[], 3)),
    });
    if latent == 2 {
        let e = g.expr(&[2], 2);
        terms.push(format!("{e}[c]"));
    }
    if latent == 1 {
        let s = g.vars.iter().find(|v| v.0 == "z").map(|v| v.1.clone());
        if let Some(s) = s {
            let e = g.expr(&s, 2);
            terms.push(format!("0.5 * sqnorm(z - {e})"));
        }
    }
    if g.rng.below(2) == 0 {
        terms.push(g.expr(&[], 3));
    }
    // Chosen last, so that the choices before it — and the committed corpus they steer —
    // make the same model as before it existed.
    if g.rng.below(DEEP_ONE_IN) == 0 {
        let t = g.deep();
        terms.push(t);
    }
    let discrete = !matches!(output, Output::Real(_));
    let loss = if discrete {
        *g.rng.pick(&[
            "energy",
            "perceptron",
            "hinge(margin = 1)",
            "log",
            "lvq2(delta = 0.1)",
            "mce",
            "square_square(margin = 1)",
            "square_exp(gamma = 1)",
            "nll(beta = 1)",
            "mee(beta = 2)",
        ])
    } else {
        *g.rng.pick(&[
            "energy",
            "perceptron",
            "hinge(margin = 0.5) negatives descent(steps = 3, rate = 0.1, radius = 0.5)",
            "log negatives shuffle",
            "square_square(margin = 1) negatives shuffle",
            "mce negatives descent(steps = 2, rate = 0.2, radius = 0.1)",
        ])
    };
    let mut out = String::from("model fz {\n");
    for d in &g.decls {
        let _ = writeln!(out, "  {d}");
    }
    for (i, t) in terms.iter().enumerate() {
        let _ = writeln!(out, "  energy e{i} = {t}");
    }
    let _ = writeln!(out, "  loss {loss}");
    if discrete {
        let _ = writeln!(out, "  infer y by enumerate");
    } else if latent == 1 && g.rng.below(2) == 0 {
        let _ = writeln!(out, "  infer y, z by descent(steps = 4, rate = 0.1)");
    } else {
        let init = *g.rng.pick(&["0", "normal(0, 1)"]);
        let _ = writeln!(
            out,
            "  infer y by descent(steps = 4, rate = 0.1, init = {init})"
        );
    }
    out.push_str("}\n");
    out
}
