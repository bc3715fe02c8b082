//! Staging: a graph split into the part that depends only on values fixed for a while (params
//! and inputs, while a descent or a sampler moves the outputs and latents) and the part that
//! moves.
//!
//! `prepare` computes, from the fixed inputs, every *stage value*: a node that does not depend
//! on the moving inputs but is read by one that does (or is an output). `step` takes the moving
//! inputs and the stage values (inputs of kind [`InputKind::Extra`] named `stage.K`) and
//! computes the original outputs. Running `prepare` once and `step` at every iteration gives
//! the original graph's values at every iteration — the same ops on the same values, so the
//! same bits — while an iteration costs only what depends on what moves. For an MLP energy
//! `½‖W₂ tanh(W₁x + b₁) + b₂ − y‖²` descended in `y`, the whole network is staged and a step
//! is a subtraction.
//!
//! Constants (and broadcasts of them) are copied into `step` rather than staged, and a fixed
//! input the step reads as it is (a weight matrix, an input vector) is an input of `step`.

use super::{Graph, InputKind, NodeId, Op};
use crate::types::Ty;

/// The name of stage value `k`: an output of `prepare`, an input of `step`.
pub fn stage_name(k: usize) -> String {
    format!("stage.{k}")
}

/// A graph split by [`stage`].
#[derive(Clone, Debug)]
pub struct Staged {
    /// Fixed inputs → outputs `stage.0`, `stage.1`, …
    pub prepare: Graph,
    /// Moving inputs and `stage.K` inputs → the original outputs.
    pub step: Graph,
}

/// Splits `g` for iterations over the inputs of the kinds `moving`; `None` when nothing that
/// costs anything is fixed (staging would only add a call).
pub fn stage(g: &Graph, moving: &[InputKind]) -> Option<Staged> {
    let roots: Vec<NodeId> = g.outputs.iter().map(|o| o.1).collect();
    let live = g.reachable(&roots);
    let n = g.len();
    let mut varies = vec![false; n];
    let mut cheap = vec![false; n];
    for id in g.ids() {
        let op = g.op(id);
        varies[id.index()] = match op {
            Op::Input(i) => moving.contains(&g.inputs[*i as usize].kind),
            _ => op.args().iter().any(|a| varies[a.index()]),
        };
        cheap[id.index()] = match op {
            Op::Const(_) => true,
            Op::Broadcast(a, _) => cheap[a.index()],
            _ => false,
        };
    }
    // Stage values: fixed, not cheap, and read by a moving node or an output.
    let mut staged = vec![false; n];
    for id in g.ids() {
        if live[id.index()] && varies[id.index()] {
            for a in g.op(id).args() {
                staged[a.index()] = !varies[a.index()] && !cheap[a.index()];
            }
        }
    }
    for &r in &roots {
        staged[r.index()] = !varies[r.index()] && !cheap[r.index()];
    }
    // A fixed input read by the step as it is (a param, an input) is an input of the step,
    // not a stage value: nothing to compute, and `prepare` would only copy it (a weight
    // matrix per row), where the step's caller binds it once.
    let passed: Vec<NodeId> = g
        .ids()
        .filter(|id| staged[id.index()] && matches!(g.op(*id), Op::Input(_)))
        .collect();
    for id in &passed {
        staged[id.index()] = false;
    }
    let stages: Vec<NodeId> = g.ids().filter(|id| staged[id.index()]).collect();
    if stages.is_empty() {
        return None;
    }

    // prepare: the fixed inputs the stage values read, then the nodes between.
    let needed = g.reachable(&stages);
    let mut prepare = Graph::new();
    let mut map = vec![None; n];
    for id in g.ids() {
        if !needed[id.index()] {
            continue;
        }
        prepare.set_span(g.span(id));
        let node = match g.op(id) {
            Op::Input(i) => {
                let info = &g.inputs[*i as usize];
                prepare.input(info.name.clone(), info.kind, info.ty.clone())
            }
            op => prepare.add(op.map_args(|a| map[a.index()].expect("topological order"))),
        };
        map[id.index()] = Some(node);
    }
    for (k, s) in stages.iter().enumerate() {
        prepare.set_output(stage_name(k), map[s.index()].expect("needed"));
    }

    // step: the moving inputs and the fixed ones it reads as they are, the stage values, then
    // the moving nodes and constants.
    let mut step = Graph::new();
    let mut map = vec![None; n];
    for info in g.inputs.iter() {
        let Some(id) = g.input_named(&info.name).filter(|id| live[id.index()]) else {
            continue;
        };
        if moving.contains(&info.kind) || passed.contains(&id) {
            step.set_span(g.span(id));
            map[id.index()] = Some(step.input(info.name.clone(), info.kind, info.ty.clone()));
        }
    }
    for (k, s) in stages.iter().enumerate() {
        step.set_span(g.span(*s));
        let ty = Ty::Real(g.shape(*s).clone());
        map[s.index()] = Some(step.input(stage_name(k), InputKind::Extra, ty));
    }
    for id in g.ids() {
        let i = id.index();
        if !live[i] || map[i].is_some() || !(varies[i] || cheap[i]) {
            continue;
        }
        step.set_span(g.span(id));
        let op = g
            .op(id)
            .map_args(|a| map[a.index()].expect("staged or moving"));
        map[i] = Some(step.add(op));
    }
    for (name, r) in &g.outputs {
        step.set_output(
            name.clone(),
            map[r.index()].expect("every output is mapped"),
        );
    }
    Some(Staged {
        prepare: prepare.prune(),
        step: step.prune(),
    })
}
