//! The IR verifier, run after every pass in tests and debug builds.
//!
//! It checks, for every node `n` of a [`Graph`]:
//! * **topological order**: every argument is a node `< n`;
//! * **arity and shapes**: the shape stored for `n` is the one its op gives for its
//!   arguments' shapes (this also checks rank and size conditions of each op);
//! * **inputs**: `Op::Input(i)` names an existing input, and each input is read by one node;
//! * **hash-consing**: no other node has the same op and arguments;
//! * **outputs**: every named output is a node of the graph, and no name is used twice.

use super::{FxMap, Graph, NodeId, Op};
use std::fmt;

/// The first broken invariant found.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    pub node: Option<NodeId>,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(n) => write!(f, "IR verifier: {n}: {}", self.message),
            None => write!(f, "IR verifier: {}", self.message),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks every invariant listed in the module documentation.
pub fn verify(g: &Graph) -> Result<(), VerifyError> {
    let fail = |node: Option<NodeId>, message: String| Err(VerifyError { node, message });
    let mut seen: FxMap<&Op, NodeId> = FxMap::default();
    for n in g.ids() {
        let op = g.op(n);
        let mut late = None;
        op.for_each_arg(|a| {
            if a >= n {
                late = Some(a);
            }
        });
        if let Some(a) = late {
            return fail(
                Some(n),
                format!("argument {a} does not come before the node"),
            );
        }
        // Checked against the nodes before `n` only: a shape computed by the builder.
        match g.shape_of_op(op) {
            Ok(s) if &s == g.shape(n) => {}
            Ok(s) => {
                return fail(
                    Some(n),
                    format!("stored shape {} but the op gives {s}", g.shape(n)),
                )
            }
            Err(e) => return fail(Some(n), e),
        }
        if let Some(prev) = seen.insert(op, n) {
            return fail(
                Some(n),
                format!("duplicate of {prev} (hash-consing broken)"),
            );
        }
    }
    let mut names = std::collections::HashSet::new();
    for (name, n) in &g.outputs {
        if n.index() >= g.len() {
            return fail(None, format!("output `{name}` is {n}, beyond the graph"));
        }
        if !names.insert(name.as_str()) {
            return fail(None, format!("output `{name}` named twice"));
        }
    }
    Ok(())
}

/// Verifies in tests and debug builds; a failure is a compiler bug, so it panics with the text.
pub fn debug_verify(g: &Graph, pass: &str) {
    if cfg!(debug_assertions) {
        if let Err(e) = verify(g) {
            panic!("after {pass}: {e}\n{g}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{parse, Bits};
    use crate::types::Shape;

    fn base() -> Graph {
        parse(
            "%0 = param A : real[2, 3]
             %1 = param x : real[3]
             %2 = matvec %0, %1 : real[2]
             out f = %2",
        )
        .unwrap()
    }

    #[test]
    fn accepts_a_well_formed_graph() {
        verify(&base()).unwrap();
    }

    #[test]
    fn rejects_an_argument_that_comes_later() {
        let mut g = base();
        g.ops[2] = Op::MatVec(NodeId(0), NodeId(2));
        let e = verify(&g).unwrap_err();
        assert_eq!(e.node, Some(NodeId(2)));
        assert!(e.message.contains("does not come before"), "{e}");
    }

    #[test]
    fn rejects_a_wrong_shape() {
        let mut g = base();
        g.shapes[2] = Shape(vec![3]);
        assert!(verify(&g).unwrap_err().message.contains("stored shape"));
    }

    #[test]
    fn rejects_ill_shaped_arguments() {
        let mut g = base();
        g.ops[2] = Op::MatVec(NodeId(1), NodeId(0));
        assert!(verify(&g).unwrap_err().message.contains("expected rank 2"));
    }

    #[test]
    fn rejects_a_duplicate_node() {
        let mut g = base();
        g.ops.push(g.ops[2].clone());
        g.shapes.push(g.shapes[2].clone());
        g.spans.push(g.spans[2]);
        assert!(verify(&g).unwrap_err().message.contains("duplicate of %2"));
    }

    #[test]
    fn rejects_bad_outputs() {
        let mut g = base();
        g.outputs.push(("f".into(), NodeId(1)));
        assert!(verify(&g).unwrap_err().message.contains("named twice"));
        let mut g = base();
        g.outputs[0].1 = NodeId(9);
        assert!(verify(&g).unwrap_err().message.contains("beyond the graph"));
    }

    #[test]
    fn rejects_a_missing_input() {
        let mut g = base();
        g.ops.push(Op::Input(7));
        g.shapes.push(Shape::scalar());
        g.spans.push(Default::default());
        assert!(verify(&g).unwrap_err().message.contains("no input 7"));
        let mut g = base();
        g.ops[2] = Op::Const(Bits::new(1.0));
        assert!(verify(&g).unwrap_err().message.contains("stored shape"));
    }
}
