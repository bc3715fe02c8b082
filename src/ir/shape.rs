//! Shape rules: the shape of each op's result from its arguments' shapes, or why they do not
//! fit. [`Graph::try_add`] runs these once per new node and stores the result beside it, so no
//! pass recomputes a shape; [`super::verify`] runs them again to check a graph it did not build.

use super::{Graph, NodeId, Op};
use crate::types::Shape;

impl Graph {
    /// The shape of `op`'s result, or why its arguments do not fit it.
    pub fn shape_of_op(&self, op: &Op) -> Result<Shape, String> {
        let mut bad = None;
        op.for_each_arg(|a| {
            if a.index() >= self.ops.len() && bad.is_none() {
                bad = Some(format!("argument {a} is not an earlier node"));
            }
        });
        if let Some(b) = bad {
            return Err(b);
        }
        let sh = |n: NodeId| &self.shapes[n.index()];
        let elementwise = |args: &[NodeId]| -> Result<Shape, String> {
            let mut out = Shape::scalar();
            for &a in args {
                let s = sh(a);
                if s.is_scalar() {
                    continue;
                }
                if out.is_scalar() {
                    out = s.clone();
                } else if &out != s {
                    return Err(format!("shapes {out} and {s} do not broadcast"));
                }
            }
            Ok(out)
        };
        let rank = |n: NodeId, r: usize, what: &str| -> Result<(), String> {
            if sh(n).rank() == r {
                Ok(())
            } else {
                Err(format!("{what}: expected rank {r}, found {}", sh(n)))
            }
        };
        match op {
            Op::Const(_) => Ok(Shape::scalar()),
            Op::Input(i) => match self.inputs.get(*i as usize) {
                Some(inp) => Ok(inp.shape()),
                None => Err(format!("no input {i}")),
            },
            Op::Unary(_, a) => Ok(sh(*a).clone()),
            Op::Binary(_, a, b) | Op::Cmp(_, a, b) => elementwise(&[*a, *b]),
            Op::Select(c, a, b) => elementwise(&[*c, *a, *b]),
            Op::MatVec(a, x) => {
                rank(*a, 2, "matvec matrix")?;
                rank(*x, 1, "matvec vector")?;
                if sh(*a).0[1] != sh(*x).0[0] {
                    return Err(format!("matvec of {} and {}", sh(*a), sh(*x)));
                }
                Ok(Shape(vec![sh(*a).0[0]]))
            }
            Op::VecMat(x, a) => {
                rank(*x, 1, "vecmat vector")?;
                rank(*a, 2, "vecmat matrix")?;
                if sh(*a).0[0] != sh(*x).0[0] {
                    return Err(format!("vecmat of {} and {}", sh(*x), sh(*a)));
                }
                Ok(Shape(vec![sh(*a).0[1]]))
            }
            Op::MatMul(a, b) => {
                rank(*a, 2, "matmul left")?;
                rank(*b, 2, "matmul right")?;
                if sh(*a).0[1] != sh(*b).0[0] {
                    return Err(format!("matmul of {} and {}", sh(*a), sh(*b)));
                }
                Ok(Shape(vec![sh(*a).0[0], sh(*b).0[1]]))
            }
            Op::Dot(a, b) => {
                if sh(*a) != sh(*b) {
                    return Err(format!("dot of {} and {}", sh(*a), sh(*b)));
                }
                Ok(Shape::scalar())
            }
            Op::Outer(a, b) => {
                rank(*a, 1, "outer left")?;
                rank(*b, 1, "outer right")?;
                Ok(Shape(vec![sh(*a).0[0], sh(*b).0[0]]))
            }
            Op::Transpose(a) => {
                rank(*a, 2, "transpose")?;
                Ok(Shape(vec![sh(*a).0[1], sh(*a).0[0]]))
            }
            Op::Reduce(_, _) => Ok(Shape::scalar()),
            Op::Broadcast(a, s) => {
                rank(*a, 0, "broadcast")?;
                Ok(s.clone())
            }
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep,
            } => {
                let s = sh(*arg);
                let (axis, start, end) = (*axis as usize, *start as usize, *end as usize);
                if axis >= s.rank()
                    || start >= end
                    || end > s.0[axis]
                    || (!keep && end - start != 1)
                {
                    return Err(format!("slice {start}..{end} of axis {axis} of {s}"));
                }
                let mut d = s.0.clone();
                if *keep {
                    d[axis] = end - start;
                } else {
                    d.remove(axis);
                }
                Ok(Shape(d))
            }
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => {
                let s = sh(*arg);
                let (axis, start, len) = (*axis as usize, *start as usize, *len as usize);
                let mut d = s.0.clone();
                if *keep {
                    if axis >= s.rank() || start + s.0[axis] > len {
                        return Err(format!("pad of {s} at {start} of axis {axis} to {len}"));
                    }
                    d[axis] = len;
                } else {
                    if axis > s.rank() || start >= len {
                        return Err(format!("pad of {s} at {start} of new axis {axis} to {len}"));
                    }
                    d.insert(axis, len);
                }
                Ok(Shape(d))
            }
            Op::Take { arg, index, axis } => {
                rank(*index, 0, "take index")?;
                let s = sh(*arg);
                if *axis as usize >= s.rank() {
                    return Err(format!("take along axis {axis} of {s}"));
                }
                let mut d = s.0.clone();
                d.remove(*axis as usize);
                Ok(Shape(d))
            }
            Op::OneHot {
                arg,
                index,
                axis,
                len,
            } => {
                rank(*index, 0, "onehot index")?;
                let s = sh(*arg);
                if *axis as usize > s.rank() || *len == 0 {
                    return Err(format!("onehot along new axis {axis} of {s}"));
                }
                let mut d = s.0.clone();
                d.insert(*axis as usize, *len as usize);
                Ok(Shape(d))
            }
            Op::Stack(xs) => {
                let Some(first) = xs.first() else {
                    return Err("stack of nothing".into());
                };
                let s = sh(*first);
                if let Some(o) = xs.iter().find(|&&x| sh(x) != s) {
                    return Err(format!("stack of {s} and {}", sh(*o)));
                }
                let mut d = vec![xs.len()];
                d.extend_from_slice(&s.0);
                Ok(Shape(d))
            }
        }
    }
}
