//! Reads the text that `Display` on [`Graph`] prints back into a graph.
//!
//! The text is the IR's stable, reviewable form (Cranelift's textual IR is the model): the
//! simplifier's rules are tested as text in → text out, and snapshots hold it. Labels `%n` in
//! the text are names, not positions: they may have gaps, and two equal lines become one node
//! (the builder hash-conses). Blank lines and `//` comments are skipped. Only hash-consing is
//! applied — no rule — so what a test writes is what the pass under test sees.

use super::{Binary, Bits, Cmp, Graph, InputKind, NodeId, Op, Reduce, Unary};
use crate::types::{Shape, Ty};
use std::collections::HashMap;
use std::fmt;

/// A malformed line, 1-based.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses IR text into a graph.
pub fn parse(text: &str) -> Result<Graph, ParseError> {
    let mut g = Graph::new();
    let mut labels: HashMap<u32, NodeId> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("out ") {
            let (name, node) = rest
                .split_once('=')
                .ok_or_else(|| err("expected `out NAME = %n`".into()))?;
            let n = label(node.trim(), &labels).map_err(err)?;
            g.set_output(name.trim(), n);
            continue;
        }
        let (lhs, rhs) = line
            .split_once('=')
            .ok_or_else(|| err("expected `%n = op …`".into()))?;
        let id = lhs
            .trim()
            .strip_prefix('%')
            .and_then(|s| s.parse::<u32>().ok());
        let id = id.ok_or_else(|| err(format!("expected a label `%n`, found `{}`", lhs.trim())))?;
        let (body, ty) = rhs
            .rsplit_once(" : ")
            .ok_or_else(|| err("expected `: TYPE` at the end".into()))?;
        let shape = parse_shape(ty.trim()).map_err(err)?;
        let node = parse_node(&mut g, body.trim(), &shape, &labels).map_err(err)?;
        if g.shape(node) != &shape {
            return Err(err(format!(
                "the op gives {}, the line says {shape}",
                g.shape(node)
            )));
        }
        labels.insert(id, node);
    }
    Ok(g)
}

fn label(s: &str, labels: &HashMap<u32, NodeId>) -> Result<NodeId, String> {
    let n = s
        .strip_prefix('%')
        .and_then(|d| d.parse::<u32>().ok())
        .ok_or_else(|| format!("expected `%n`, found `{s}`"))?;
    labels
        .get(&n)
        .copied()
        .ok_or_else(|| format!("%{n} is not defined above"))
}

fn parse_shape(s: &str) -> Result<Shape, String> {
    if s == "real" {
        return Ok(Shape::scalar());
    }
    let dims = s
        .strip_prefix("real[")
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("expected a type `real` or `real[d, …]`, found `{s}`"))?;
    dims.split(',')
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad dimension `{d}`"))
        })
        .collect::<Result<_, _>>()
        .map(Shape)
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .map_err(|_| format!("expected a number, found `{s}`"))
}

/// `a..b` or `a`, as (start, end, keep).
fn range(s: &str) -> Result<(u32, u32, bool), String> {
    match s.split_once("..") {
        Some((a, b)) => Ok((number(a)?, number(b)?, true)),
        None => {
            let a: u32 = number(s)?;
            Ok((a, a + 1, false))
        }
    }
}

fn parse_node(
    g: &mut Graph,
    body: &str,
    shape: &Shape,
    labels: &HashMap<u32, NodeId>,
) -> Result<NodeId, String> {
    let (name, rest) = body.split_once(' ').unwrap_or((body, ""));
    let parts: Vec<&str> = if rest.trim().is_empty() {
        Vec::new()
    } else {
        rest.split(',').map(str::trim).collect()
    };
    let arity = |n: usize| -> Result<(), String> {
        if parts.len() == n {
            Ok(())
        } else {
            Err(format!(
                "`{name}` takes {n} operands, found {}",
                parts.len()
            ))
        }
    };
    let arg = |i: usize| label(parts[i], labels);
    let kind = match name {
        "param" => Some(InputKind::Param),
        "input" => Some(InputKind::Input),
        "output" => Some(InputKind::Output),
        "latent" => Some(InputKind::Latent),
        "extra" => Some(InputKind::Extra),
        _ => None,
    };
    if let Some(kind) = kind {
        let mut words = rest.split_whitespace();
        let iname = words.next().ok_or("an input needs a name")?;
        let ty = match words.next() {
            None => Ty::Real(shape.clone()),
            Some("sign") => Ty::Sign(shape.clone()),
            Some(c) => {
                let k = c
                    .strip_prefix("class[")
                    .and_then(|r| r.strip_suffix(']'))
                    .ok_or_else(|| format!("bad input type `{c}`"))?;
                Ty::Class(number(k)?)
            }
        };
        return Ok(g.input(iname, kind, ty));
    }
    let op = if let Some(u) = Unary::ALL.iter().find(|u| u.name() == name) {
        arity(1)?;
        Op::Unary(*u, arg(0)?)
    } else if let Some(b) = Binary::ALL.iter().find(|b| b.name() == name) {
        arity(2)?;
        Op::Binary(*b, arg(0)?, arg(1)?)
    } else if let Some(c) = Cmp::ALL.iter().find(|c| c.name() == name) {
        arity(2)?;
        Op::Cmp(*c, arg(0)?, arg(1)?)
    } else if let Some(r) = Reduce::ALL.iter().find(|r| r.name() == name) {
        arity(1)?;
        Op::Reduce(*r, arg(0)?)
    } else {
        match name {
            "const" => Op::Const(Bits::new(number::<f64>(rest)?)),
            "select" => {
                arity(3)?;
                Op::Select(arg(0)?, arg(1)?, arg(2)?)
            }
            "matvec" | "vecmat" | "matmul" | "dot" | "outer" => {
                arity(2)?;
                let (a, b) = (arg(0)?, arg(1)?);
                match name {
                    "matvec" => Op::MatVec(a, b),
                    "vecmat" => Op::VecMat(a, b),
                    "matmul" => Op::MatMul(a, b),
                    "dot" => Op::Dot(a, b),
                    _ => Op::Outer(a, b),
                }
            }
            "transpose" => {
                arity(1)?;
                Op::Transpose(arg(0)?)
            }
            "broadcast" => {
                arity(1)?;
                Op::Broadcast(arg(0)?, shape.clone())
            }
            "slice" => {
                arity(3)?;
                let (start, end, keep) = range(parts[2])?;
                Op::Slice {
                    arg: arg(0)?,
                    axis: number(parts[1])?,
                    start,
                    end,
                    keep,
                }
            }
            "pad" => {
                arity(3)?;
                let axis: u32 = number(parts[1])?;
                let (start, _, keep) = range(parts[2])?;
                let len = *shape
                    .0
                    .get(axis as usize)
                    .ok_or("pad axis beyond the result's rank")? as u32;
                Op::Pad {
                    arg: arg(0)?,
                    axis,
                    start,
                    len,
                    keep,
                }
            }
            "take" => {
                arity(3)?;
                Op::Take {
                    arg: arg(0)?,
                    index: arg(1)?,
                    axis: number(parts[2])?,
                }
            }
            "onehot" => {
                arity(3)?;
                let axis: u32 = number(parts[2])?;
                let len = *shape
                    .0
                    .get(axis as usize)
                    .ok_or("onehot axis beyond the result's rank")?
                    as u32;
                Op::OneHot {
                    arg: arg(0)?,
                    index: arg(1)?,
                    axis,
                    len,
                }
            }
            "stack" => Op::Stack(
                parts
                    .iter()
                    .map(|p| label(p, labels))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(format!("unknown op `{name}`")),
        }
    };
    let node = g.try_add(op)?;
    // A `pad` written `a..b` must cover exactly its argument.
    if let (
        Op::Pad {
            arg,
            axis,
            start,
            keep: true,
            ..
        },
        Some((_, r)),
    ) = (
        g.op(node).clone(),
        parts.get(2).and_then(|p| p.split_once("..")),
    ) {
        let end: usize = number(r)?;
        if end != start as usize + g.shape(arg).0[axis as usize] {
            return Err(format!(
                "pad range ends at {end}, the argument ends at {}",
                start as usize + g.shape(arg).0[axis as usize]
            ));
        }
    }
    Ok(node)
}
