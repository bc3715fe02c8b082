//! The reference interpreter: evaluates an [`ir::Graph`](crate::ir::Graph) in `f64`.
//!
//! It is the oracle that gradient checks and the JIT are tested against, so it favours being
//! obviously right over being fast: one forward sweep, every node's value kept as a flat
//! row-major `Vec<f64>`, each op written out in the plainest loop. It uses the same stable
//! scalar forms as the IR's definition ([`Unary::apply`]) and evaluates `logsumexp` as
//! `m + log Σ e^(v−m)`.
//!
//! Invariants it checks instead of trusting: every input is supplied with the right number
//! of elements, `class` inputs are integers in range and `sign` inputs are ±1, and every
//! `take`/`onehot` index is an integer in range. Each is an [`EvalError`], never a panic.
//!
//! It also records a *branch signature*: a hash of every discrete decision taken (each
//! comparison, `max`/`min` choice, sign, `max.all` position, index). Two evaluations with the
//! same signature ran the same smooth piece of the program, which is what lets a finite
//! difference check know it did not straddle a kink.

use crate::ir::{Binary, Graph, NodeId, Op, Reduce, Unary};
use crate::types::Ty;
use std::collections::HashMap;
use std::fmt;

/// Why an evaluation could not run.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    MissingInput(String),
    WrongLength {
        name: String,
        expected: usize,
        found: usize,
    },
    /// A `class` input that is not an integer in range, or a `sign` input that is not ±1.
    BadDiscrete {
        name: String,
        value: f64,
    },
    /// A dynamic index that is not an integer in `0..len`.
    BadIndex {
        node: NodeId,
        value: f64,
        len: usize,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::MissingInput(n) => write!(f, "no value for input `{n}`"),
            EvalError::WrongLength {
                name,
                expected,
                found,
            } => {
                write!(
                    f,
                    "input `{name}`: expected {expected} values, found {found}"
                )
            }
            EvalError::BadDiscrete { name, value } => {
                write!(f, "input `{name}`: {value} is not a value of its type")
            }
            EvalError::BadIndex { node, value, len } => {
                write!(f, "{node}: index {value} is not in 0..{len}")
            }
        }
    }
}

impl std::error::Error for EvalError {}

/// Every node's value after one evaluation.
#[derive(Clone, Debug)]
pub struct Values {
    values: Vec<Vec<f64>>,
    outputs: Vec<(String, NodeId)>,
    signature: u64,
}

impl Values {
    pub fn node(&self, n: NodeId) -> &[f64] {
        &self.values[n.index()]
    }
    /// The value of the named output.
    pub fn output(&self, name: &str) -> Option<&[f64]> {
        self.outputs
            .iter()
            .find(|(o, _)| o == name)
            .map(|&(_, n)| self.node(n))
    }
    /// A scalar output's value.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.output(name).and_then(|v| v.first().copied())
    }
    /// The hash of every discrete decision the evaluation took.
    pub fn branch_signature(&self) -> u64 {
        self.signature
    }
}

/// Evaluates `g` with inputs given by name (flat, row-major).
pub fn eval(g: &Graph, inputs: &HashMap<String, Vec<f64>>) -> Result<Values, EvalError> {
    let mut slots = Vec::with_capacity(g.inputs.len());
    for inp in &g.inputs {
        slots.push(
            inputs
                .get(&inp.name)
                .map(|v| v.as_slice())
                .ok_or_else(|| EvalError::MissingInput(inp.name.clone()))?,
        );
    }
    eval_slots(g, &slots)
}

/// Evaluates `g` with inputs given in [`Graph::inputs`] order.
pub fn eval_slots(g: &Graph, inputs: &[&[f64]]) -> Result<Values, EvalError> {
    let mut values: Vec<Vec<f64>> = Vec::with_capacity(g.len());
    let mut sig = Signature(0xcbf2_9ce4_8422_2325);
    for n in g.ids() {
        let shape = g.shape(n);
        let v = |a: &NodeId| -> &[f64] { &values[a.index()] };
        let out: Vec<f64> = match g.op(n) {
            Op::Const(c) => vec![c.value()],
            Op::Input(i) => {
                let inp = &g.inputs[*i as usize];
                let given = inputs
                    .get(*i as usize)
                    .copied()
                    .ok_or_else(|| EvalError::MissingInput(inp.name.clone()))?;
                if given.len() != shape.len() {
                    return Err(EvalError::WrongLength {
                        name: inp.name.clone(),
                        expected: shape.len(),
                        found: given.len(),
                    });
                }
                let ok = match inp.ty {
                    Ty::Real(_) => true,
                    Ty::Class(k) => {
                        given[0] >= 0.0 && given[0] < k as f64 && given[0].fract() == 0.0
                    }
                    Ty::Sign(_) => given.iter().all(|&x| x == 1.0 || x == -1.0),
                };
                if !ok {
                    return Err(EvalError::BadDiscrete {
                        name: inp.name.clone(),
                        value: given[0],
                    });
                }
                given.to_vec()
            }
            Op::Unary(u, a) => {
                let out: Vec<f64> = v(a).iter().map(|&x| u.apply(x)).collect();
                if matches!(u, Unary::Abs | Unary::Sign) {
                    v(a).iter()
                        .for_each(|&x| sig.add(x.partial_cmp(&0.0).map_or(3, |o| o as u64)));
                }
                out
            }
            Op::Binary(b, x, y) => {
                let (x, y) = (v(x), v(y));
                let out = zip(shape.len(), x, y, |p, q| b.apply(p, q));
                if matches!(b, Binary::Max | Binary::Min) {
                    zip(shape.len(), x, y, |p, q| (p >= q) as u8 as f64)
                        .iter()
                        .for_each(|&d| sig.add(d as u64));
                }
                out
            }
            Op::Cmp(c, x, y) => {
                let out = zip(shape.len(), v(x), v(y), |p, q| c.apply(p, q));
                out.iter().for_each(|&d| sig.add(d as u64));
                out
            }
            Op::Select(c, x, y) => {
                let (c, x, y) = (v(c), v(x), v(y));
                let at = |s: &[f64], i: usize| if s.len() == 1 { s[0] } else { s[i] };
                (0..shape.len())
                    .map(|i| {
                        let t = at(c, i) != 0.0;
                        sig.add(t as u64);
                        if t {
                            at(x, i)
                        } else {
                            at(y, i)
                        }
                    })
                    .collect()
            }
            Op::MatVec(a, x) => {
                let (m, k) = (g.shape(*a).0[0], g.shape(*a).0[1]);
                let (a, x) = (v(a), v(x));
                (0..m)
                    .map(|i| (0..k).map(|j| a[i * k + j] * x[j]).sum())
                    .collect()
            }
            Op::VecMat(x, a) => {
                let (m, k) = (g.shape(*a).0[0], g.shape(*a).0[1]);
                let (a, x) = (v(a), v(x));
                (0..k)
                    .map(|j| (0..m).map(|i| x[i] * a[i * k + j]).sum())
                    .collect()
            }
            Op::MatMul(a, b) => {
                let (m, k, p) = (g.shape(*a).0[0], g.shape(*a).0[1], g.shape(*b).0[1]);
                let (a, b) = (v(a), v(b));
                let mut out = vec![0.0; m * p];
                for i in 0..m {
                    for j in 0..p {
                        out[i * p + j] = (0..k).map(|l| a[i * k + l] * b[l * p + j]).sum();
                    }
                }
                out
            }
            Op::Dot(a, b) => vec![v(a).iter().zip(v(b)).map(|(p, q)| p * q).sum()],
            Op::Outer(a, b) => {
                let (a, b) = (v(a), v(b));
                a.iter()
                    .flat_map(|&p| b.iter().map(move |&q| p * q))
                    .collect()
            }
            Op::Transpose(a) => {
                let (m, k) = (g.shape(*a).0[0], g.shape(*a).0[1]);
                let a = v(a);
                (0..k)
                    .flat_map(|j| (0..m).map(move |i| a[i * k + j]))
                    .collect()
            }
            Op::Reduce(r, a) => {
                let a = v(a);
                vec![match r {
                    Reduce::Sum => a.iter().sum(),
                    Reduce::Max | Reduce::Min => {
                        let b = if *r == Reduce::Max {
                            Binary::Max
                        } else {
                            Binary::Min
                        };
                        let best = a
                            .iter()
                            .copied()
                            .reduce(|p, q| b.apply(p, q))
                            .unwrap_or(f64::NAN);
                        sig.add(a.iter().position(|&x| x == best).unwrap_or(usize::MAX) as u64);
                        best
                    }
                    Reduce::LogSumExp => logsumexp(a),
                }]
            }
            Op::Broadcast(a, _) => vec![v(a)[0]; shape.len()],
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep: _,
            } => {
                let (outer, d, inner) = split(g.shape(*arg).0.as_slice(), *axis as usize);
                let a = v(arg);
                let (s, e) = (*start as usize, *end as usize);
                let mut out = Vec::with_capacity(shape.len());
                for o in 0..outer {
                    out.extend_from_slice(&a[(o * d + s) * inner..(o * d + e) * inner]);
                }
                out
            }
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => {
                let ash = g.shape(*arg).0.as_slice();
                let (outer, w, inner) = if *keep {
                    split(ash, *axis as usize)
                } else {
                    split_new(ash, *axis as usize)
                };
                let (s, len) = (*start as usize, *len as usize);
                let a = v(arg);
                let mut out = vec![0.0; shape.len()];
                for o in 0..outer {
                    out[(o * len + s) * inner..(o * len + s + w) * inner]
                        .copy_from_slice(&a[o * w * inner..(o + 1) * w * inner]);
                }
                out
            }
            Op::Take { arg, index, axis } => {
                let (outer, d, inner) = split(g.shape(*arg).0.as_slice(), *axis as usize);
                let k = index_value(n, v(index)[0], d)?;
                sig.add(k as u64);
                let a = v(arg);
                let mut out = Vec::with_capacity(shape.len());
                for o in 0..outer {
                    out.extend_from_slice(&a[(o * d + k) * inner..(o * d + k + 1) * inner]);
                }
                out
            }
            Op::OneHot {
                arg,
                index,
                axis,
                len,
            } => {
                let (outer, _, inner) = split_new(g.shape(*arg).0.as_slice(), *axis as usize);
                let len = *len as usize;
                let k = index_value(n, v(index)[0], len)?;
                sig.add(k as u64);
                let a = v(arg);
                let mut out = vec![0.0; shape.len()];
                for o in 0..outer {
                    out[(o * len + k) * inner..(o * len + k + 1) * inner]
                        .copy_from_slice(&a[o * inner..(o + 1) * inner]);
                }
                out
            }
            Op::Stack(xs) => xs.iter().flat_map(|x| v(x).iter().copied()).collect(),
        };
        debug_assert_eq!(out.len(), shape.len(), "{}", g.node_text(n));
        values.push(out);
    }
    Ok(Values {
        values,
        outputs: g.outputs.clone(),
        signature: sig.0,
    })
}

/// `log Σ e^v`, stable: `m + log Σ e^(v−m)`; `−inf` for an empty or all `−inf` tensor.
pub fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() || v.iter().any(|x| x.is_nan()) {
        return if v.iter().any(|x| x.is_nan()) {
            f64::NAN
        } else {
            m
        };
    }
    m + v.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
}

/// Elementwise over two arguments, each of length `n` or a broadcast scalar.
fn zip(n: usize, x: &[f64], y: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let at = |s: &[f64], i: usize| if s.len() == 1 { s[0] } else { s[i] };
    (0..n).map(|i| f(at(x, i), at(y, i))).collect()
}

/// A shape seen around `axis`: (elements before it, its length, elements after it).
fn split(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        dims[..axis].iter().product(),
        dims[axis],
        dims[axis + 1..].iter().product(),
    )
}

/// As [`split`] for a new axis of length 1 inserted at `axis`.
fn split_new(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        dims[..axis].iter().product(),
        1,
        dims[axis..].iter().product(),
    )
}

fn index_value(node: NodeId, x: f64, len: usize) -> Result<usize, EvalError> {
    if x >= 0.0 && x < len as f64 && x.fract() == 0.0 {
        Ok(x as usize)
    } else {
        Err(EvalError::BadIndex {
            node,
            value: x,
            len,
        })
    }
}

/// FNV-style running hash of decisions.
struct Signature(u64);

impl Signature {
    fn add(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x100_0000_01b3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::parse;

    fn graph() -> Graph {
        parse(
            "%0 = param M : real[3, 2]
             %1 = output y class[3] : real
             %2 = take %0, %1, 0 : real[2]
             %3 = transpose %0 : real[2, 3]
             %4 = pad %2, 1, 1 : real[2, 3]
             %5 = add %3, %4 : real[2, 3]
             %6 = slice %5, 1, 1..3 : real[2, 2]
             %7 = logsumexp %6 : real
             out f = %7
             out s = %6",
        )
        .unwrap()
    }

    fn inputs(m: Vec<f64>, y: f64) -> HashMap<String, Vec<f64>> {
        [("M".to_string(), m), ("y".to_string(), vec![y])]
            .into_iter()
            .collect()
    }

    #[test]
    fn evaluates_shape_ops_row_major() {
        let v = eval(&graph(), &inputs(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2.0)).unwrap();
        // Mᵀ = [[1 3 5] [2 4 6]]; row y=2 of M is [5 6], padded to column 1: [[0 5 0] [0 6 0]].
        assert_eq!(v.output("s").unwrap(), &[8.0, 5.0, 10.0, 6.0]);
        let want = super::logsumexp(&[8.0, 5.0, 10.0, 6.0]);
        assert_eq!(v.scalar("f").unwrap(), want);
        assert!((want - (8f64.exp() + 5f64.exp() + 10f64.exp() + 6f64.exp()).ln()).abs() < 1e-12);
    }

    #[test]
    fn reports_bad_inputs() {
        let g = graph();
        let m = vec![0.0; 6];
        assert_eq!(
            eval(&g, &HashMap::new()).unwrap_err(),
            EvalError::MissingInput("M".into())
        );
        assert!(matches!(
            eval(&g, &inputs(vec![0.0; 5], 0.0)),
            Err(EvalError::WrongLength {
                expected: 6,
                found: 5,
                ..
            })
        ));
        assert!(matches!(
            eval(&g, &inputs(m.clone(), 3.0)),
            Err(EvalError::BadDiscrete { .. })
        ));
        assert!(matches!(
            eval(&g, &inputs(m, 0.5)),
            Err(EvalError::BadDiscrete { .. })
        ));
    }

    #[test]
    fn reports_a_bad_dynamic_index() {
        let g = parse(
            "%0 = param v : real[2]
             %1 = param i : real
             %2 = take %0, %1, 0 : real
             out f = %2",
        )
        .unwrap();
        let e = eval_slots(&g, &[&[1.0, 2.0], &[2.0]]).unwrap_err();
        assert_eq!(
            e,
            EvalError::BadIndex {
                node: NodeId(2),
                value: 2.0,
                len: 2
            }
        );
    }

    #[test]
    fn logsumexp_is_stable() {
        assert_eq!(logsumexp(&[1000.0, 1000.0]), 1000.0 + 2f64.ln());
        assert_eq!(logsumexp(&[-1000.0, f64::NEG_INFINITY]), -1000.0);
        assert_eq!(logsumexp(&[f64::NEG_INFINITY; 2]), f64::NEG_INFINITY);
        assert_eq!(logsumexp(&[f64::INFINITY, 0.0]), f64::INFINITY);
    }
}
