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
    for (name, n) in &g.outputs {
        if n.index() >= g.len() {
            return fail(None, format!("output `{name}` is {n}, beyond the graph"));
        }
        if g.outputs.iter().filter(|(m, _)| m == name).count() > 1 {
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
