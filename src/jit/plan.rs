//! The scratch plan: where every node of a graph lives, decided before anything is emitted.
//!
//! Inputs stay in the input buffer; contiguous slices and constant-index takes are *views* of
//! their argument; a node that is an output is computed straight into its output slot; an
//! elementwise node (or broadcast) whose only consumer is one elementwise node of the same
//! length is *fused* — computed inside its consumer's loop, never stored (up to [`MAX_FUSED`]
//! ops a loop); so is a vector spread along a new axis by an outer product with ones (a bias
//! spread over a batch: [`repeat_of`]), which the loop reads in place; scalar constants
//! are immediates. Everything else gets a scratch slot, allocated first-fit when the node is
//! computed and released after the last node reading it (liveness over the topological order,
//! a view keeping its base alive), so the arena holds what is live at once, not the whole
//! graph.
//!
//! Invariant: a node's destination never overlaps a value still to be read.

use std::collections::HashMap;

use crate::ir::{Graph, NodeId, Op};

use super::emit::{Buf, Region};

/// Where a node's value lives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Loc {
    /// Not needed by any output.
    Dead,
    /// A scalar constant, emitted as an immediate.
    Const(f64),
    /// Computed inside its one consumer's elementwise loop.
    Fused,
    /// In memory.
    Mem(Region),
}

/// What [`plan`] decided for one function.
pub(super) struct Plan {
    pub(super) loc: Vec<Loc>,
    /// Whether the node's value is computed by its own kernel (not an input, view or const).
    pub(super) computed: Vec<bool>,
    /// Constants some kernel reads from memory, stored once at entry.
    pub(super) consts: Vec<(Region, f64)>,
    /// Output slots filled at the end from where their node lives.
    pub(super) copies: Vec<(Region, NodeId)>,
    /// Scratch `f64`s used, from 0 (including any prefix the caller reserved).
    pub(super) scratch: usize,
}

/// First-fit allocator over the scratch arena; remembers its high-water mark.
struct Arena {
    /// Free `(offset, len)` blocks, sorted, coalesced.
    free: Vec<(usize, usize)>,
    top: usize,
    peak: usize,
}

impl Arena {
    fn new(base: usize) -> Arena {
        Arena {
            free: Vec::new(),
            top: base,
            peak: base,
        }
    }

    fn alloc(&mut self, len: usize) -> usize {
        if let Some(i) = self.free.iter().position(|&(_, l)| l >= len) {
            let (o, l) = self.free[i];
            if l == len {
                self.free.remove(i);
            } else {
                self.free[i] = (o + len, l - len);
            }
            return o;
        }
        // Grow the last free block if it ends at the top, else the top.
        let o = match self.free.last() {
            Some(&(o, l)) if o + l == self.top => {
                self.free.pop();
                o
            }
            _ => self.top,
        };
        self.top = o + len;
        self.peak = self.peak.max(self.top);
        o
    }

    fn release(&mut self, o: usize, len: usize) {
        if len == 0 {
            return;
        }
        let i = self.free.partition_point(|&(fo, _)| fo < o);
        self.free.insert(i, (o, len));
        // Coalesce with the neighbours.
        if i + 1 < self.free.len() && self.free[i].0 + self.free[i].1 == self.free[i + 1].0 {
            self.free[i].1 += self.free[i + 1].1;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == self.free[i].0 {
            self.free[i - 1].1 += self.free[i].1;
            self.free.remove(i);
        }
    }
}

pub(super) fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(..) | Op::Binary(..) | Op::Cmp(..) | Op::Select(..)
    )
}

/// How a fused outer product with ones reads its vector: see [`repeat_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Repeat {
    /// `ones ⊗ v`: every row is `v`.
    Cycle,
    /// `v ⊗ ones`: row `r` is `v[r]` throughout.
    Spread,
}

/// `Outer(ones, v)` or `Outer(v, ones)` — `v` repeated along a new axis, which the batching
/// rules write for a shared vector added to every example and for one scalar per example
/// spread along a vector — as `(v, how, p)`, `p` the row length of the `[rows, p]` result.
/// `1 · v[j]` is `v[j]` bit for bit (signed zeros and NaNs included), so reading `v` in place is
/// the same value as the product.
pub(super) fn repeat_of(g: &Graph, x: NodeId) -> Option<(NodeId, Repeat, usize)> {
    let Op::Outer(a, b) = g.op(x) else {
        return None;
    };
    let ones = |n: NodeId| matches!(g.op(n), Op::Broadcast(..)) && g.as_splat(n) == Some(1.0);
    let p = g.shape(*b).len();
    if ones(*a) {
        Some((*b, Repeat::Cycle, p))
    } else if ones(*b) {
        Some((*a, Repeat::Spread, p))
    } else {
        None
    }
}

/// A shape seen around `axis`: (elements before it, its length, elements after it).
pub(super) fn split(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        dims[..axis].iter().product(),
        dims[axis],
        dims[axis + 1..].iter().product(),
    )
}

/// As [`split`] for a new axis of length 1 inserted at `axis`.
pub(super) fn split_new(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        dims[..axis].iter().product(),
        1,
        dims[axis..].iter().product(),
    )
}

/// A constant index valid for a length, if `n` is one.
pub(super) fn const_index(g: &Graph, n: NodeId, len: usize) -> Option<usize> {
    let x = g.as_const(n)?;
    (x >= 0.0 && x < len as f64 && x.fract() == 0.0).then_some(x as usize)
}

/// Decides where every node lives; see the module documentation. `inputs` and `outputs`
/// give the regions of the graph's inputs and outputs; scratch starts at `base`.
/// Most ops one fused loop computes. A chain of elementwise ops is as long as the program
/// makes it (`let h2 = tanh(h1)`, 3,000 times), and one loop body of thousands of ops took
/// Cranelift's register allocator seconds (time superlinear in the body's size); cut every
/// this many ops, a chain costs one store and one load per cut and compiles in linear time.
const MAX_FUSED: usize = 64;

pub(super) fn plan(g: &Graph, inputs: &[Region], outputs: &[Region], base: usize) -> Plan {
    let n = g.len();
    let roots: Vec<NodeId> = g.outputs.iter().map(|o| o.1).collect();
    let live = g.reachable(&roots);
    let len = |x: NodeId| g.shape(x).len();

    let mut users: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for x in g.ids().filter(|x| live[x.index()]) {
        g.op(x).for_each_arg(|a| {
            if users[a.index()].last() != Some(&x) {
                users[a.index()].push(x);
            }
        });
    }
    let mut first_output: Vec<Option<usize>> = vec![None; n];
    for (k, (_, o)) in g.outputs.iter().enumerate() {
        first_output[o.index()].get_or_insert(k);
    }

    // Fusion, decided from the consumers: in reverse order, so a node knows whether its
    // consumer is itself fused (the tree then keeps growing) or a chain root.
    let mut fused = vec![false; n];
    // The root of the tree each node is fused into (itself when not fused), and how many ops
    // each root's loop computes: past [`MAX_FUSED`], the tree is cut and a new one starts.
    let mut tree: Vec<usize> = (0..n).collect();
    let mut size = vec![1usize; n];
    // The row length of each root's repeated reads (one per loop).
    let mut period: Vec<Option<usize>> = vec![None; n];
    for x in g.ids().rev() {
        let i = x.index();
        if !live[i] || first_output[i].is_some() || len(x) <= 1 {
            continue;
        }
        let op = g.op(x);
        let repeat = repeat_of(g, x);
        let consumers_ok = !users[i].is_empty()
            && users[i]
                .iter()
                .all(|&u| is_elementwise(g.op(u)) && len(u) == len(x));
        if let Some((_, _, p)) = repeat {
            // Fused into every consumer's loop, like a broadcast, when those loops have no
            // other row length; rows shorter than a vector pair stay a product.
            let roots = || users[i].iter().map(|u| tree[u.index()]);
            if consumers_ok && p >= 4 && roots().all(|r| period[r].is_none_or(|q| q == p)) {
                for r in roots().collect::<Vec<_>>() {
                    period[r] = Some(p);
                }
                fused[i] = true;
            }
            continue;
        }
        if matches!(op, Op::Broadcast(..))
            && users[i]
                .iter()
                .all(|&u| fused[u.index()] && repeat_of(g, u).is_some_and(|r| r.0 != x))
        {
            // The ones of fused repeats: never read.
            fused[i] = true;
            continue;
        }
        let candidate = is_elementwise(op) || matches!(op, Op::Broadcast(..));
        let single = users[i].len() == 1 || matches!(op, Op::Broadcast(..));
        let mut fuse = candidate && consumers_ok && single;
        if fuse && users[i].len() == 1 {
            let root = tree[users[i][0].index()];
            if size[root] < MAX_FUSED {
                size[root] += 1;
                tree[i] = root;
            } else {
                fuse = false;
            }
        }
        fused[i] = fuse;
    }

    // Where each node's value is computed: its own position, or its chain root's.
    let mut at: Vec<usize> = (0..n).collect();
    for x in g.ids().rev() {
        if fused[x.index()] {
            let root = users[x.index()]
                .iter()
                .map(|u| at[u.index()])
                .max()
                .expect("fused nodes have consumers");
            at[x.index()] = root;
        }
    }

    let mut loc = vec![Loc::Dead; n];
    let mut computed = vec![false; n];
    // The scratch block a node's value occupies (its own or, for a view, its base's).
    let mut owner: Vec<Option<NodeId>> = vec![None; n];
    let mut end = vec![0usize; n];
    for x in g.ids().filter(|x| live[x.index()]) {
        for &u in &users[x.index()] {
            end[x.index()] = end[x.index()].max(at[u.index()]);
        }
    }
    // Outputs are read at the very end (by the copies into their slots, when they need one).
    for (_, o) in &g.outputs {
        end[o.index()] = n;
    }
    let mut consts = Vec::new();
    let mut const_slots: HashMap<u64, Region> = HashMap::new();
    let mut arena = Arena::new(base);
    let mut frees: Vec<Vec<NodeId>> = vec![Vec::new(); n + 1];
    let mut copies = Vec::new();

    // Constants some kernel reads from memory (stack, take, dot, …; chains inline them) get
    // slots below everything else: they are stored once at entry and must never be reused.
    for x in g.ids() {
        let i = x.index();
        if let (true, Op::Const(c)) = (live[i], g.op(x)) {
            let needs_memory = users[i]
                .iter()
                .any(|&u| !is_elementwise(g.op(u)) && !matches!(g.op(u), Op::Broadcast(..)));
            if needs_memory && !const_slots.contains_key(&c.value().to_bits()) {
                let r = Region::new(Buf::Scratch, arena.alloc(1), 1);
                consts.push((r, c.value()));
                const_slots.insert(c.value().to_bits(), r);
            }
        }
    }
    for x in g.ids() {
        let i = x.index();
        if !live[i] {
            continue;
        }
        let op = g.op(x);
        loc[i] = match op {
            Op::Const(c) => {
                let v = c.value();
                Loc::Const(v)
            }
            Op::Input(k) => Loc::Mem(inputs[*k as usize]),
            _ if fused[i] => Loc::Fused,
            Op::Slice {
                arg,
                axis,
                start,
                end: stop,
                ..
            } => {
                let (outer, _, inner) = split(&g.shape(*arg).0, *axis as usize);
                match loc[arg.index()] {
                    Loc::Mem(r) if outer == 1 => {
                        owner[i] = owner[arg.index()];
                        Loc::Mem(r.sub(*start as usize * inner, (stop - start) as usize * inner))
                    }
                    _ => Loc::Dead,
                }
            }
            Op::Take { arg, index, axis } => {
                let (outer, d, inner) = split(&g.shape(*arg).0, *axis as usize);
                match (loc[arg.index()], const_index(g, *index, d)) {
                    (Loc::Mem(r), Some(k)) if outer == 1 => {
                        owner[i] = owner[arg.index()];
                        Loc::Mem(r.sub(k * inner, inner))
                    }
                    _ => Loc::Dead,
                }
            }
            _ => Loc::Dead,
        };
        if loc[i] == Loc::Dead {
            // Computed by its own kernel: into its output slot, or a scratch slot.
            computed[i] = true;
            let r = match first_output[i] {
                Some(k) => outputs[k],
                None => {
                    owner[i] = Some(x);
                    Region::new(Buf::Scratch, arena.alloc(len(x)), len(x))
                }
            };
            loc[i] = Loc::Mem(r);
        }
        if let Some(o) = owner[i] {
            // A view keeps its base alive as long as it is read.
            let e = end[i];
            end[o.index()] = end[o.index()].max(e);
        }
        // Release what this node was the last to read.
        for v in std::mem::take(&mut frees[i]) {
            if end[v.index()] == i {
                if let Loc::Mem(r) = loc[v.index()] {
                    arena.release(r.offset, r.len);
                }
            } else {
                frees[end[v.index()]].push(v);
            }
        }
        if owner[i] == Some(x) {
            let e = end[i].max(i);
            if e == i {
                // Read by nobody (cannot happen for live non-outputs): release now.
                if let Loc::Mem(r) = loc[i] {
                    arena.release(r.offset, r.len);
                }
            } else {
                frees[e.min(n)].push(x);
            }
        }
    }
    for (k, (_, o)) in g.outputs.iter().enumerate() {
        let target = outputs[k];
        if loc[o.index()] != Loc::Mem(target) {
            copies.push((target, *o));
        }
    }
    Plan {
        loc,
        computed,
        consts,
        copies,
        scratch: arena.peak,
    }
}
