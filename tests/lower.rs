//! Lowering checked models (built by hand until the checker lands): energies, elimination of
//! class latents, every loss of spec section 6 against a direct computation from per-answer
//! energies, their gradients against finite differences, numerical stability at |u| = 1000,
//! and the cheap-gradient principle.

use ebmc::check::*;
use ebmc::grad::{self, with_gradients};
use ebmc::interp;
use ebmc::ir::{self, Graph, InputKind};
use ebmc::span::Span;
use ebmc::testing::gradcheck::{check_vjp, Outcome};
use ebmc::testing::random_ir;
use ebmc::types::{Shape, Ty};
use std::collections::HashMap;

// ---- building checked models by hand ----

fn ex(kind: ExprKind, ty: Ty) -> Expr {
    Expr {
        kind,
        ty,
        span: Span::default(),
    }
}
fn real(dims: &[usize]) -> Ty {
    Ty::Real(Shape(dims.to_vec()))
}
fn num(v: f64) -> Expr {
    ex(ExprKind::Number(v), Ty::scalar())
}
fn shape(e: &Expr) -> Vec<usize> {
    e.ty.shape().map(|s| s.0.clone()).unwrap_or_default()
}
fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    let (sa, sb) = (shape(&a), shape(&b));
    let ty = match op {
        BinOp::MatMul if sb.len() == 1 => real(&sa[..1]),
        BinOp::MatMul => real(&[sa[0], sb[1]]),
        _ if sa.is_empty() => real(&sb),
        _ => real(&sa),
    };
    ex(ExprKind::Binary(op, Box::new(a), Box::new(b)), ty)
}
fn builtin(b: Builtin, args: Vec<Expr>) -> Expr {
    let ty = match b {
        Builtin::Sum
        | Builtin::Mean
        | Builtin::Max
        | Builtin::Min
        | Builtin::LogSumExp
        | Builtin::Dot
        | Builtin::SqNorm
        | Builtin::Norm
        | Builtin::Cosine
        | Builtin::L1 => Ty::scalar(),
        _ => args[0].ty.clone(),
    };
    ex(ExprKind::Builtin(b, args), ty)
}
fn index(base: Expr, idx: Vec<Index>) -> Expr {
    let mut dims = shape(&base);
    let mut axis = 0;
    for i in &idx {
        match i {
            Index::Slice { start, end } => {
                dims[axis] = end - start;
                axis += 1;
            }
            _ => {
                dims.remove(axis);
            }
        }
    }
    ex(ExprKind::Index(Box::new(base), idx), real(&dims))
}
fn dynamic(e: Expr) -> Index {
    Index::Dynamic(Box::new(e))
}

struct M {
    m: Model,
}

impl M {
    fn new(name: &str) -> M {
        M {
            m: Model {
                name: name.into(),
                span: Span::default(),
                consts: vec![],
                vars: vec![],
                fns: vec![],
                lets: vec![],
                energy: vec![],
                loss: None,
                infer: vec![],
                train: None,
                data: None,
                partition: None,
            },
        }
    }
    fn var(&mut self, name: &str, role: Role, ty: Ty) -> Expr {
        self.var_elim(name, role, ty, None)
    }
    fn var_elim(&mut self, name: &str, role: Role, ty: Ty, elim: Option<Elim>) -> Expr {
        self.m.vars.push(Var {
            name: name.into(),
            span: Span::default(),
            role,
            ty: ty.clone(),
            elim,
            init: None,
        });
        ex(ExprKind::Var(VarId(self.m.vars.len() as u32 - 1)), ty)
    }
    fn let_(&mut self, name: &str, value: Expr) -> Expr {
        let ty = value.ty.clone();
        self.m.lets.push(Let {
            name: name.into(),
            span: Span::default(),
            value,
        });
        ex(ExprKind::Let(LetId(self.m.lets.len() as u32 - 1)), ty)
    }
    fn energy(&mut self, name: &str, value: Expr) {
        self.m.energy.push(EnergyTerm {
            name: name.into(),
            span: Span::default(),
            value,
        });
    }
    fn with_loss(&self, kind: LossKind) -> Model {
        let mut m = self.m.clone();
        let negatives = (kind.needs_negative()
            && m.vars
                .iter()
                .any(|v| v.role == Role::Output && !v.ty.is_discrete()))
        .then_some(Negatives::Shuffle);
        m.loss = Some(Loss {
            kind,
            negatives,
            span: Span::default(),
        });
        m
    }
}

/// model iris: E = (W @ x + b)[y]
fn iris() -> M {
    let mut m = M::new("iris");
    let x = m.var("x", Role::Input, real(&[4]));
    let y = m.var("y", Role::Output, Ty::Class(3));
    let w = m.var("W", Role::Param, real(&[3, 4]));
    let b = m.var("b", Role::Param, real(&[3]));
    let scores = m.let_("scores", bin(BinOp::Add, bin(BinOp::MatMul, w, x), b));
    m.energy("term0", index(scores, vec![dynamic(y)]));
    m
}

/// model binary: E = −y · (dot(w, x) + b)
fn binary() -> M {
    let mut m = M::new("binary");
    let x = m.var("x", Role::Input, real(&[5]));
    let y = m.var("y", Role::Output, Ty::sign());
    let w = m.var("w", Role::Param, real(&[5]));
    let b = m.var("b", Role::Param, Ty::scalar());
    let s = bin(BinOp::Add, builtin(Builtin::Dot, vec![w, x]), b);
    m.energy(
        "term0",
        ex(ExprKind::Neg(Box::new(bin(BinOp::Mul, y, s))), Ty::scalar()),
    );
    m
}

/// model implicit: E = ½‖tanh(A [x] + a) − tanh(B [y] + c)‖², with a function.
fn implicit() -> M {
    let mut m = M::new("implicit");
    let x = m.var("x", Role::Input, Ty::scalar());
    let y = m.var("y", Role::Output, Ty::scalar());
    let a_ = m.var("A", Role::Param, real(&[4, 1]));
    let a = m.var("a", Role::Param, real(&[4]));
    let b_ = m.var("B", Role::Param, real(&[4, 1]));
    let c = m.var("c", Role::Param, real(&[4]));
    let v = ex(ExprKind::Param(0), Ty::scalar());
    let body = |mat: Expr, off: Expr| {
        builtin(
            Builtin::Tanh,
            vec![bin(
                BinOp::Add,
                bin(
                    BinOp::MatMul,
                    mat,
                    ex(ExprKind::Vector(vec![v.clone()]), real(&[1])),
                ),
                off,
            )],
        )
    };
    m.m.fns.push(Function {
        name: "gx".into(),
        span: Span::default(),
        params: vec![("v".into(), Ty::scalar())],
        body: body(a_, a),
    });
    m.m.fns.push(Function {
        name: "gy".into(),
        span: Span::default(),
        params: vec![("v".into(), Ty::scalar())],
        body: body(b_, c),
    });
    let gx = ex(ExprKind::Call(FnId(0), vec![x]), real(&[4]));
    let gy = ex(ExprKind::Call(FnId(1), vec![y]), real(&[4]));
    m.energy(
        "term0",
        bin(
            BinOp::Mul,
            num(0.5),
            builtin(Builtin::SqNorm, vec![bin(BinOp::Sub, gx, gy)]),
        ),
    );
    m
}

/// A class output and a class latent: E = T[y, z] + dot(U[z], x) + 0.1 · sqnorm(softmax(U @ x)).
fn class_latent(elim: Elim) -> M {
    let mut m = M::new("class_latent");
    let x = m.var("x", Role::Input, real(&[3]));
    let y = m.var("y", Role::Output, Ty::Class(2));
    let z = m.var_elim("z", Role::Latent, Ty::Class(3), Some(elim));
    let t = m.var("T", Role::Param, real(&[2, 3]));
    let u = m.var("U", Role::Param, real(&[3, 3]));
    m.energy("fit", index(t, vec![dynamic(y), dynamic(z.clone())]));
    let uz = index(u.clone(), vec![dynamic(z)]);
    m.energy("pull", builtin(Builtin::Dot, vec![uz, x.clone()]));
    let sm = builtin(Builtin::Softmax, vec![bin(BinOp::MatMul, u, x)]);
    m.energy(
        "reg",
        bin(BinOp::Mul, num(0.1), builtin(Builtin::SqNorm, vec![sm])),
    );
    m
}

/// model latent (spec 11): a real latent eliminated by descent stays an input.
fn real_latent() -> M {
    let mut m = M::new("latent");
    let x = m.var("x", Role::Input, real(&[8]));
    let y = m.var("y", Role::Output, real(&[4]));
    let d = Descent {
        steps: 30,
        rate: 0.1,
        init: Init::Values(vec![0.0]),
        tol: 1e-8,
    };
    let z = m.var_elim("z", Role::Latent, real(&[2]), Some(Elim::MinDescent(d)));
    let w = m.var("W", Role::Param, real(&[4, 8]));
    let v = m.var("V", Role::Param, real(&[4, 2]));
    let pred = bin(
        BinOp::Add,
        bin(BinOp::MatMul, w, x),
        bin(BinOp::MatMul, v, z.clone()),
    );
    m.energy(
        "fit",
        bin(
            BinOp::Mul,
            num(0.5),
            builtin(Builtin::SqNorm, vec![bin(BinOp::Sub, y, pred)]),
        ),
    );
    m.energy(
        "prior",
        bin(BinOp::Mul, num(0.05), builtin(Builtin::SqNorm, vec![z])),
    );
    m
}

/// model contrastive: E = 1 − cosine(F x, G y), with every other builtin in a small term.
fn contrastive() -> M {
    let mut m = M::new("contrastive");
    let x = m.var("x", Role::Input, real(&[6]));
    let y = m.var("y", Role::Output, real(&[6]));
    let f = m.var("F", Role::Param, real(&[3, 6]));
    let g = m.var("G", Role::Param, real(&[3, 6]));
    let fx = m.let_("fx", bin(BinOp::MatMul, f, x));
    let gy = bin(BinOp::MatMul, g, y.clone());
    m.energy(
        "sim",
        bin(
            BinOp::Sub,
            num(1.0),
            builtin(Builtin::Cosine, vec![fx.clone(), gy]),
        ),
    );
    // Every remaining builtin, lightly weighted.
    let mut extra = Vec::new();
    for b in [
        Builtin::Sigmoid,
        Builtin::Softplus,
        Builtin::Relu,
        Builtin::Abs,
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Exp,
        Builtin::Square,
    ] {
        extra.push(builtin(Builtin::Sum, vec![builtin(b, vec![fx.clone()])]));
    }
    let pos = builtin(Builtin::Softplus, vec![fx.clone()]);
    extra.push(builtin(
        Builtin::Mean,
        vec![builtin(Builtin::Log, vec![pos.clone()])],
    ));
    extra.push(builtin(
        Builtin::Max,
        vec![builtin(Builtin::Sqrt, vec![pos.clone()])],
    ));
    extra.push(builtin(Builtin::Min, vec![fx.clone()]));
    extra.push(builtin(Builtin::LogSumExp, vec![fx.clone()]));
    extra.push(builtin(Builtin::Norm, vec![y.clone()]));
    extra.push(builtin(
        Builtin::L1,
        vec![index(fx.clone(), vec![Index::Slice { start: 1, end: 3 }])],
    ));
    extra.push(builtin(
        Builtin::Sum,
        vec![builtin(Builtin::Max2, vec![fx.clone(), num(0.1)])],
    ));
    extra.push(builtin(
        Builtin::Sum,
        vec![builtin(Builtin::Min2, vec![fx.clone(), num(0.1)])],
    ));
    extra.push(builtin(
        Builtin::Sum,
        vec![builtin(Builtin::Pow, vec![pos, num(1.5)])],
    ));
    extra.push(index(y, vec![Index::At(2)]));
    let mut total = extra.pop().unwrap();
    for e in extra {
        total = bin(BinOp::Add, total, e);
    }
    m.energy("extra", bin(BinOp::Mul, num(0.01), total));
    m
}

/// The 784 → 256 → 10 MLP classifier: E = (W2 relu(W1 x + b1) + b2)[y].
fn mlp() -> M {
    let mut m = M::new("mlp");
    let x = m.var("x", Role::Input, real(&[784]));
    let y = m.var("y", Role::Output, Ty::Class(10));
    let w1 = m.var("W1", Role::Param, real(&[256, 784]));
    let b1 = m.var("b1", Role::Param, real(&[256]));
    let w2 = m.var("W2", Role::Param, real(&[10, 256]));
    let b2 = m.var("b2", Role::Param, real(&[10]));
    let h = m.let_(
        "h",
        builtin(
            Builtin::Relu,
            vec![bin(BinOp::Add, bin(BinOp::MatMul, w1, x), b1)],
        ),
    );
    let s = m.let_("s", bin(BinOp::Add, bin(BinOp::MatMul, w2, h), b2));
    m.energy("term0", index(s, vec![dynamic(y)]));
    m
}

/// Many answers that do not simplify to one vector: E = (W x)[y] · c[y], y : class[500].
fn wide() -> M {
    let mut m = M::new("wide");
    let x = m.var("x", Role::Input, real(&[4]));
    let y = m.var("y", Role::Output, Ty::Class(500));
    let w = m.var("W", Role::Param, real(&[500, 4]));
    let c = m.var("c", Role::Param, real(&[500]));
    let s = index(bin(BinOp::MatMul, w, x), vec![dynamic(y.clone())]);
    m.energy("term0", bin(BinOp::Mul, s, index(c, vec![dynamic(y)])));
    m
}

const LOSSES: [LossKind; 10] = [
    LossKind::Energy,
    LossKind::Perceptron,
    LossKind::Hinge { margin: 1.0 },
    LossKind::Log,
    LossKind::Lvq2 { delta: 0.1 },
    LossKind::Mce,
    LossKind::SquareSquare { margin: 1.0 },
    LossKind::SquareExp { gamma: 1.0 },
    LossKind::Nll { beta: 1.0 },
    LossKind::Mee { beta: 2.0 },
];

// ---- evaluation helpers ----

fn named(g: &Graph, values: &[Vec<f64>]) -> HashMap<String, Vec<f64>> {
    g.inputs
        .iter()
        .zip(values)
        .map(|(i, v)| (i.name.clone(), v.clone()))
        .collect()
}

fn eval_scalar(g: &Graph, out: &str, inputs: &HashMap<String, Vec<f64>>) -> f64 {
    interp::eval(g, inputs)
        .unwrap_or_else(|e| panic!("{e}\n{g}"))
        .scalar(out)
        .unwrap()
}

/// The per-example loss from `E_i`, `Ē_i` and the energies of every answer, written
/// directly from the table of spec section 6.
fn reference_loss(kind: LossKind, e: f64, neg: f64, all: &[f64]) -> f64 {
    let sig = |u: f64| 1.0 / (1.0 + (-u).exp());
    match kind {
        LossKind::Energy => e,
        LossKind::Perceptron => e - all.iter().copied().fold(f64::INFINITY, f64::min),
        LossKind::Hinge { margin } => (margin + e - neg).max(0.0),
        LossKind::Log => (1.0 + (e - neg).exp()).ln(),
        LossKind::Lvq2 { delta } => ((e - neg) / (delta * neg)).clamp(0.0, 1.0),
        LossKind::Mce => sig(e - neg),
        LossKind::SquareSquare { margin } => e * e + (margin - neg).max(0.0).powi(2),
        LossKind::SquareExp { gamma } => e * e + gamma * (-neg).exp(),
        LossKind::Nll { beta } => {
            e + all.iter().map(|a| (-beta * a).exp()).sum::<f64>().ln() / beta
        }
        LossKind::Mee { beta } => {
            1.0 - (-beta * e).exp() / all.iter().map(|a| (-beta * a).exp()).sum::<f64>()
        }
        LossKind::Cd { alpha } => e - neg + alpha * (e * e + neg * neg),
        // Their closed forms need the points themselves: tests/density.rs.
        LossKind::Dsm { .. } | LossKind::Nce { .. } => unreachable!("not in this table"),
    }
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-10 * (1.0 + a.abs().max(b.abs())),
        "{what}: {a} vs {b}"
    );
}

/// Gradient of `loss` w.r.t. every param at a few random points, against finite differences.
fn check_loss_gradient(g: &Graph, label: &str, seed: u64) {
    let grads = with_gradients(g, "loss", &[InputKind::Param]);
    ir::verify(&grads).unwrap();
    let mut rng = random_ir::Rng::new(seed);
    let mut checked = 0;
    for _ in 0..12 {
        let point = random_ir::inputs(g, &mut rng);
        let dir: Vec<Vec<f64>> = g
            .inputs
            .iter()
            .map(|i| {
                (0..i.shape().len())
                    .map(|_| {
                        if i.kind == InputKind::Param {
                            rng.normal()
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        match check_vjp(g, &grads, "loss", &point, &dir, 1e-4).unwrap() {
            Outcome::Kink => continue,
            Outcome::Checked(c) => {
                assert!(
                    c.relative_error() <= 1e-6,
                    "{label}: {c:?} (error {:e})\n{g}\n{grads}",
                    c.relative_error()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{label}: only {checked} smooth points");
}

// ---- tests ----

#[test]
fn iris_energy_text() {
    let g = ir::energy(&iris().m);
    ir::verify(&g).unwrap();
    let expected = "\
%0 = input x : real[4]
%1 = output y class[3] : real
%2 = param W : real[3, 4]
%3 = param b : real[3]
%4 = take %2, %1, 0 : real[4]
%5 = dot %4, %0 : real
%6 = take %3, %1, 0 : real
%7 = add %5, %6 : real
out term0 = %7
out energy = %7
";
    // `(W x + b)[y]` reads one row of `W` (take-of-elementwise, take-of-matvec).
    assert_eq!(g.to_string(), expected);
    // The text reads back to the same graph.
    assert_eq!(ir::parse(expected).unwrap().to_string(), expected);
}

#[test]
fn random_programs_print_and_parse_back() {
    for seed in 0..500 {
        let mut rng = random_ir::Rng::new(90_000 + seed);
        let g = random_ir::program(&mut rng, 15);
        let text = g.to_string();
        let back = ir::parse(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(back.to_string(), text, "seed {seed}");
    }
}

#[test]
fn parse_rejects_bad_text() {
    for (text, what) in [
        (
            "%0 = param x : real[2]\n%1 = matvec %0, %0 : real[2]",
            "rank",
        ),
        (
            "%0 = param x : real[2]\n%1 = exp %0 : real[3]",
            "the op gives",
        ),
        ("%1 = exp %0 : real", "not defined"),
        ("%0 = frobnicate : real", "unknown op"),
        (
            "%0 = param x : real[2]\n%1 = exp %0, %0 : real[2]",
            "operands",
        ),
    ] {
        let e = ir::parse(text).unwrap_err();
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn enumeration_shares_everything_but_the_answer() {
    // nll over 10 classes: the MLP is built once, and the answers' energies (static slices
    // of its scores, stacked) are the score vector itself.
    let g = ir::loss(&mlp().with_loss(LossKind::Nll { beta: 1.0 }))
        .unwrap()
        .unwrap();
    ir::verify(&g).unwrap();
    let count = |g: &Graph, name: &str| g.ids().filter(|&n| g.op(n).name() == name).count();
    assert_eq!(count(&g, "matvec"), 2, "{g}");
    assert_eq!(count(&g, "slice") + count(&g, "stack"), 0, "{g}");
    assert!(g.len() < 25, "graph size must not grow with dims:\n{g}");
    // Where the answers do not simplify away, the gradient gathers the K padded adjoints
    // into one stack rather than K padded adds.
    let g = ir::loss(&wide().with_loss(LossKind::Nll { beta: 1.0 }))
        .unwrap()
        .unwrap();
    let d = with_gradients(&g, "loss", &[InputKind::Param]);
    assert_eq!(count(&d, "pad"), 0, "{d}");
    assert!(count(&d, "add") < 10, "{d}");
}

#[test]
fn every_loss_matches_its_definition_on_discrete_outputs() {
    for (model, seed) in [
        (iris(), 1),
        (binary(), 2),
        (class_latent(Elim::Marginal { beta: 2.0 }), 3),
        (class_latent(Elim::MinEnumerate), 4),
    ] {
        let name = model.m.name.clone();
        let out = model
            .m
            .vars
            .iter()
            .position(|v| v.role == Role::Output)
            .unwrap();
        let answers: Vec<f64> = match model.m.vars[out].ty {
            Ty::Sign(_) => vec![-1.0, 1.0],
            Ty::Class(k) => (0..k).map(|i| i as f64).collect(),
            Ty::Real(_) => unreachable!(),
        };
        let free = ir::free_energy(&model.m).unwrap();
        for kind in LOSSES {
            let m = model.with_loss(kind);
            let g = ir::loss(&m).unwrap().unwrap();
            ir::verify(&g).unwrap();
            let mut rng = random_ir::Rng::new(seed);
            for _ in 0..5 {
                let point = named(&g, &random_ir::inputs(&g, &mut rng));
                let label = point[&m.vars[out].name][0];
                let energies: Vec<f64> = answers
                    .iter()
                    .map(|&k| {
                        let mut p = point.clone();
                        p.insert(m.vars[out].name.clone(), vec![k]);
                        eval_scalar(&free, "energy", &p)
                    })
                    .collect();
                let at = answers.iter().position(|&k| k == label).unwrap();
                let e = energies[at];
                let neg = energies
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != at)
                    .map(|(_, &v)| v)
                    .fold(f64::INFINITY, f64::min);
                let want = reference_loss(kind, e, neg, &energies);
                assert_close(
                    eval_scalar(&g, "loss", &point),
                    want,
                    &format!("{name} {}", kind.name()),
                );
                assert_close(
                    eval_scalar(&g, "energy", &point),
                    e,
                    &format!("{name} {} E_i", kind.name()),
                );
            }
            check_loss_gradient(&g, &format!("{name} {}", kind.name()), seed + 100);
        }
    }
}

#[test]
fn class_latents_are_eliminated_as_declared() {
    for elim in [Elim::Marginal { beta: 2.0 }, Elim::MinEnumerate] {
        let m = class_latent(elim.clone()).m;
        let e = ir::energy(&m);
        let f = ir::free_energy(&m).unwrap();
        assert!(
            f.inputs.iter().all(|i| i.name != "z"),
            "z is eliminated:\n{f}"
        );
        let mut rng = random_ir::Rng::new(5);
        for _ in 0..5 {
            let point = named(&e, &random_ir::inputs(&e, &mut rng));
            let ez: Vec<f64> = (0..3)
                .map(|z| {
                    let mut p = point.clone();
                    p.insert("z".into(), vec![z as f64]);
                    eval_scalar(&e, "energy", &p)
                })
                .collect();
            let want = match elim {
                Elim::Marginal { beta } => {
                    -ez.iter().map(|v| (-beta * v).exp()).sum::<f64>().ln() / beta
                }
                _ => ez.iter().copied().fold(f64::INFINITY, f64::min),
            };
            assert_close(eval_scalar(&f, "energy", &point), want, "free energy");
        }
    }
}

#[test]
fn real_outputs_take_negatives_from_extra_inputs() {
    for (model, seed) in [(implicit(), 11), (contrastive(), 12), (real_latent(), 13)] {
        let name = model.m.name.clone();
        let e = ir::energy(&model.m);
        for kind in LOSSES {
            if kind.sums_answers() {
                assert!(
                    ir::loss(&model.with_loss(kind)).is_err(),
                    "{name}: {} needs enumeration",
                    kind.name()
                );
                continue;
            }
            let m = model.with_loss(kind);
            let g = ir::loss(&m).unwrap().unwrap();
            ir::verify(&g).unwrap();
            let needs_neg = kind.needs_negative() || kind == LossKind::Perceptron;
            assert_eq!(
                g.inputs.iter().any(|i| i.kind == InputKind::Extra),
                needs_neg,
                "{name} {}:\n{g}",
                kind.name()
            );
            let mut rng = random_ir::Rng::new(seed);
            let point = named(&g, &random_ir::inputs(&g, &mut rng));
            let energy_at = |prefix: &str| {
                let p: HashMap<String, Vec<f64>> = e
                    .inputs
                    .iter()
                    .map(|i| {
                        let from = if matches!(i.kind, InputKind::Output | InputKind::Latent) {
                            format!("{prefix}{}", i.name)
                        } else {
                            i.name.clone()
                        };
                        (i.name.clone(), point[&from].clone())
                    })
                    .collect();
                eval_scalar(&e, "energy", &p)
            };
            let pos = energy_at("");
            let neg = if needs_neg {
                energy_at("neg.")
            } else {
                f64::NAN
            };
            // For perceptron the extra answer stands for argmin_y E.
            let want = match kind {
                LossKind::Perceptron => pos - neg,
                _ => reference_loss(kind, pos, neg, &[]),
            };
            assert_close(
                eval_scalar(&g, "loss", &point),
                want,
                &format!("{name} {}", kind.name()),
            );
            check_loss_gradient(&g, &format!("{name} {}", kind.name()), seed + 200);
        }
    }
}

#[test]
fn energy_gradients_of_every_model() {
    for (model, seed) in [
        (iris(), 21),
        (binary(), 22),
        (implicit(), 23),
        (class_latent(Elim::MinEnumerate), 24),
        (real_latent(), 25),
        (contrastive(), 26),
    ] {
        let e = ir::energy(&model.m);
        let g = grad::energy_gradient(&e);
        ir::verify(&g).unwrap();
        // Every real param, output and latent has a gradient; discrete ones do not.
        for i in &e.inputs {
            let has = g.output(&grad::grad_name(&i.name)).is_some();
            let want = matches!(
                i.kind,
                InputKind::Param | InputKind::Output | InputKind::Latent
            ) && !i.ty.is_discrete();
            assert_eq!(has, want, "{}: grad of {}", model.m.name, i.name);
        }
        let mut rng = random_ir::Rng::new(seed);
        let mut checked = 0;
        for _ in 0..10 {
            let point = random_ir::inputs(&e, &mut rng);
            let dir: Vec<Vec<f64>> = e
                .inputs
                .iter()
                .map(|i| {
                    let on = g.output(&grad::grad_name(&i.name)).is_some();
                    (0..i.shape().len())
                        .map(|_| if on { rng.normal() } else { 0.0 })
                        .collect()
                })
                .collect();
            if let Outcome::Checked(c) = check_vjp(&e, &g, "energy", &point, &dir, 1e-4).unwrap() {
                assert!(c.relative_error() <= 1e-6, "{}: {c:?}\n{g}", model.m.name);
                checked += 1;
            }
        }
        assert!(checked >= 5, "{}", model.m.name);
    }
}

/// The gradient program costs at most 4× the function plus a small constant.
#[test]
fn cheap_gradient_principle() {
    let models = [
        iris(),
        binary(),
        implicit(),
        class_latent(Elim::Marginal { beta: 1.0 }),
        real_latent(),
        contrastive(),
        mlp(),
        wide(),
    ];
    for model in &models {
        let e = ir::energy(&model.m);
        let g = grad::energy_gradient(&e);
        let c = grad::GradCost::of(&g, "energy");
        assert!(
            c.total <= 4 * c.function + 64,
            "{}: energy {} vs with gradient {}\n{}",
            model.m.name,
            c.function,
            c.total,
            grad::emit_text(&g, "energy")
        );
        for kind in LOSSES {
            let Ok(Some(l)) = ir::loss(&model.with_loss(kind)) else {
                continue;
            };
            let g = with_gradients(&l, "loss", &[InputKind::Param]);
            let c = grad::GradCost::of(&g, "loss");
            assert!(
                c.total <= 4 * c.function + 64,
                "{} {}: loss {} vs with gradient {}\n{}",
                model.m.name,
                kind.name(),
                c.function,
                c.total,
                grad::emit_text(&g, "loss")
            );
        }
    }
}

#[test]
fn stable_forms_at_large_arguments() {
    let g = ir::parse(
        "%0 = param u : real
         %1 = softplus %0 : real
         %2 = sigmoid %0 : real
         %3 = neg %0 : real
         %4 = stack %0, %3 : real[2]
         %5 = logsumexp %4 : real
         %6 = exp %0 : real
         %7 = const 1.0 : real
         %8 = add %7, %6 : real
         %9 = log %8 : real
         %10 = add %1, %2 : real
         %11 = add %10, %5 : real
         %12 = add %11, %9 : real
         out f = %12",
    )
    .unwrap();
    let grads = with_gradients(&g, "f", &[InputKind::Param]);
    for u in [1000.0, -1000.0] {
        let v = interp::eval_slots(&grads, &[&[u]]).unwrap();
        let (f, d) = (v.scalar("f").unwrap(), v.scalar("grad.u").unwrap());
        // softplus + sigmoid + logsumexp(u, −u) + log(1 + e^u) at ±1000.
        let want = if u > 0.0 {
            1000.0 + 1.0 + 1000.0 + 1000.0
        } else {
            0.0 + 0.0 + 1000.0 + 0.0
        };
        let dwant = if u > 0.0 { 3.0 } else { -1.0 };
        assert_close(f, want, "value");
        assert_close(d, dwant, "derivative");
    }
    // Losses with energies of ±1000 (binary model: E = −y (w·x + b)).
    let model = binary();
    for kind in [
        LossKind::Log,
        LossKind::Mce,
        LossKind::Nll { beta: 1.0 },
        LossKind::Mee { beta: 1.0 },
        LossKind::Hinge { margin: 1.0 },
        LossKind::Perceptron,
        LossKind::SquareExp { gamma: 1.0 },
    ] {
        let l = ir::loss(&model.with_loss(kind)).unwrap().unwrap();
        let g = with_gradients(&l, "loss", &[InputKind::Param]);
        for (b, y) in [
            (1000.0, 1.0),
            (1000.0, -1.0),
            (-1000.0, 1.0),
            (-1000.0, -1.0),
        ] {
            if matches!(kind, LossKind::SquareExp { .. }) && b * y < 0.0 {
                // Ē = −ȳ·b = y·b: Ē = +1000 is fine; Ē = −1000 makes γ·e^1000 overflow, as the math says.
                continue;
            }
            let p: HashMap<String, Vec<f64>> = [
                ("x", vec![0.0; 5]),
                ("y", vec![y]),
                ("w", vec![0.0; 5]),
                ("b", vec![b]),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let v = interp::eval(&g, &p).unwrap();
            assert!(
                v.scalar("loss").unwrap().is_finite(),
                "{} at b={b}, y={y}: {:?}",
                kind.name(),
                v.scalar("loss")
            );
            for o in ["grad.w", "grad.b"] {
                assert!(
                    v.output(o).unwrap().iter().all(|d| d.is_finite()),
                    "{} {o} at b={b}, y={y}",
                    kind.name()
                );
            }
        }
    }
}

#[test]
fn spans_are_inherited() {
    let mut m = iris();
    m.m.energy[0].value.span = Span::new(100, 110);
    let e = ir::energy(&m.m);
    let take = e.ids().find(|&n| e.op(n).name() == "take").unwrap();
    assert_eq!(e.span(take), Span::new(100, 110));
    let g = grad::energy_gradient(&e);
    let onehot = g.ids().find(|&n| g.op(n).name() == "onehot").unwrap();
    assert_eq!(
        g.span(onehot),
        Span::new(100, 110),
        "the adjoint of `take` comes from its span"
    );
}
