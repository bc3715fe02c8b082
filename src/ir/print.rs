//! The text of `ebmc emit ir` and `emit grad`, which the snapshots hold: one node per line,
//! `%7 = matvec %2, %5 : real[16]`, then one `out NAME = %n` per output. Deterministic (nodes
//! in their topological order) and read back by [`super::parse`].

use super::{Graph, NodeId, Op};
use crate::types::Ty;
use std::fmt;

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

impl Graph {
    /// The line of `emit ir` for one node, without a newline.
    pub fn node_text(&self, n: NodeId) -> String {
        let mut s = format!("{n} = ");
        let op = self.op(n);
        match op {
            Op::Const(c) => s += &format!("const {:?}", c.value()),
            Op::Input(i) => {
                let inp = &self.inputs[*i as usize];
                s += &format!("{} {}", inp.kind.keyword(), inp.name);
                match &inp.ty {
                    // The node's shape annotation carries a sign tensor's dims.
                    Ty::Sign(_) => s += " sign",
                    Ty::Class(_) => s += &format!(" {}", inp.ty),
                    Ty::Real(_) => {}
                }
            }
            Op::Broadcast(a, _) => s += &format!("broadcast {a}"),
            Op::Slice {
                arg,
                axis,
                start,
                end,
                keep,
            } => {
                s += &format!("slice {arg}, {axis}, ");
                s += &if *keep {
                    format!("{start}..{end}")
                } else {
                    format!("{start}")
                };
            }
            Op::Pad {
                arg,
                axis,
                start,
                len: _,
                keep,
            } => {
                s += &format!("pad {arg}, {axis}, ");
                let n = if *keep {
                    self.shape(*arg).0[*axis as usize]
                } else {
                    1
                };
                s += &if *keep {
                    format!("{start}..{}", *start as usize + n)
                } else {
                    format!("{start}")
                };
            }
            Op::Take { arg, index, axis } => s += &format!("take {arg}, {index}, {axis}"),
            Op::OneHot {
                arg,
                index,
                axis,
                len: _,
            } => s += &format!("onehot {arg}, {index}, {axis}"),
            _ => {
                s += op.name();
                let args: Vec<String> = op.args().iter().map(|a| a.to_string()).collect();
                if !args.is_empty() {
                    s += " ";
                    s += &args.join(", ");
                }
            }
        }
        s += &format!(" : {}", self.shape(n));
        s
    }
}

impl fmt::Display for Graph {
    /// The text of `ebmc emit ir`: one node per line, then one `out NAME = %n` per output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in self.ids() {
            writeln!(f, "{}", self.node_text(n))?;
        }
        for (name, n) in &self.outputs {
            writeln!(f, "out {name} = {n}")?;
        }
        Ok(())
    }
}
