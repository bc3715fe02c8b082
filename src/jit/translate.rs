//! The IR translator: [`ir::Graph`](crate::ir::Graph)s to native functions, one
//! `translate_<op>` per op.
//!
//! [`compile`] turns one graph into one function; [`compile_entries`] turns several graphs into
//! the functions of one module (one Cranelift `finish`), e.g. a model's energy, its gradients
//! and its batched loss gradient. Each function has the ABI of [`super`] and a [`Signature`]
//! saying where things live:
//!
//! * **inputs** are packed in one buffer, each graph input (in [`Graph::inputs`] order) at the
//!   offset its predecessors' sizes give; `class` and `sign` inputs are one `f64` each;
//! * **outputs** are packed in one buffer in [`Graph::outputs`] order — the runtime's layout;
//! * **intermediates** live in one scratch arena laid out at compile time.
//!
//! Translation is two passes. [`plan`] decides where every node's value lives, without
//! emitting anything: inputs stay in the input buffer; contiguous slices and constant-index
//! takes are *views* of their argument; a node that is an output is computed straight into
//! its output slot; an elementwise node (or broadcast) whose only consumer is one elementwise
//! node of the same length is *fused* — computed inside its consumer's loop, never stored;
//! scalar constants are immediates. Everything else gets a scratch slot, allocated first-fit
//! when the node is computed and released after the last node reading it (liveness over the
//! topological order, a view keeping its base alive), so the arena holds what is live at once,
//! not the whole graph. The emission pass then walks the nodes in order and emits one kernel
//! per materialized node: a fused elementwise tree becomes one [`Chain`], one loop.
//!
//! Invariants:
//! * every region handed to a kernel lies inside the function's [`Layout`] (the kernels check
//!   it again when they emit) and a node's destination never overlaps a value still to be read;
//! * code size depends on the graph, never on the tensor sizes: every op is a fixed number of
//!   counted loops;
//! * a run-time index (`take`/`onehot` by a class value) is checked by the generated code,
//!   which returns [`super::STATUS_INDEX_OUT_OF_RANGE`] instead of reading out of bounds;
//! * a function needing more than [`MAX_SCRATCH`] `f64`s of scratch is refused at compile
//!   time ([`JitError::TooLarge`]).
//!
//! With [`JitOptions::strict`], every op computes exactly what [`crate::interp`] computes (sums
//! left to right from −0, no FMA, libm transcendentals), so results agree bit for bit; without
//! it reductions use several SIMD accumulators and FMA and transcendentals are inline
//! polynomials (≤ 2 ulp), so results agree to rounding.
//!
//! A **batched** entry ([`Entry::batch`]) runs a graph over `B` examples in one call: the input
//! buffer holds the shared inputs (the params) once, then `B` blocks of the per-example inputs;
//! the outputs are summed over the examples. The body is one compiled loop over the examples
//! that copies the example's inputs to a staging area, runs the graph and adds its outputs in.

use std::collections::HashMap;

use crate::ir::{self, Graph, InputKind, NodeId, Op, Reduce};

use super::elementwise::{Binary, Chain, Unary, Val};
use super::emit::{Buf, FunctionTranslator, Region, Strided};
use super::kernels::Accumulate;
use super::module::{CompiledFn, FnId, Jit, JitError, JitOptions, Layout, Library, MAX_SCRATCH};

/// One function to compile from a graph.
#[derive(Clone, Debug)]
pub struct Entry<'g> {
    pub name: String,
    pub graph: &'g Graph,
    /// `Some(b)`: the batched form over `b` examples (params shared, outputs summed).
    pub batch: Option<usize>,
}

impl<'g> Entry<'g> {
    pub fn new(name: impl Into<String>, graph: &'g Graph) -> Entry<'g> {
        Entry {
            name: name.into(),
            graph,
            batch: None,
        }
    }

    pub fn batched(name: impl Into<String>, graph: &'g Graph, examples: usize) -> Entry<'g> {
        Entry {
            name: name.into(),
            graph,
            batch: Some(examples),
        }
    }
}

/// Where a batched function finds its examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Examples per call.
    pub examples: usize,
    /// `f64`s of shared inputs at the start of the input buffer.
    pub shared: usize,
    /// `f64`s per example block after them.
    pub stride: usize,
}

/// The interface of one compiled function.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// `(offset, len)` of each graph input in the input buffer. For a batched function, a
    /// per-example input's offset is that of example 0; example `k` adds `k · stride`.
    pub inputs: Vec<(usize, usize)>,
    /// Whether each input is shared by all examples (params) in a batched function.
    pub shared: Vec<bool>,
    /// `(name, offset, len)` of each output in the output buffer.
    pub outputs: Vec<(String, usize, usize)>,
    pub batch: Option<Batch>,
}

/// One native function of a [`Compiled`] module.
#[derive(Clone)]
pub struct Function {
    pub signature: Signature,
    code: CompiledFn,
    id: FnId,
}

impl Function {
    pub fn name(&self) -> &str {
        self.code.name()
    }

    /// The buffer lengths.
    pub fn layout(&self) -> Layout {
        self.code.layout()
    }

    /// A zeroed scratch buffer of the right length (one per thread).
    pub fn scratch(&self) -> Vec<f64> {
        self.code.scratch()
    }

    /// Runs the function on packed buffers (see [`Signature`]).
    pub fn call(
        &self,
        inputs: &[f64],
        outputs: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<(), JitError> {
        self.code.call(inputs, outputs, scratch)
    }

    /// Packs one slice per graph input into `buf` (resized to the input length). Slices of
    /// the wrong length are an error naming the input's position.
    pub fn pack(&self, inputs: &[&[f64]], buf: &mut Vec<f64>) -> Result<(), String> {
        let sig = &self.signature;
        if inputs.len() != sig.inputs.len() {
            return Err(format!(
                "`{}` takes {} inputs, found {}",
                self.name(),
                sig.inputs.len(),
                inputs.len()
            ));
        }
        buf.resize(self.layout().inputs, 0.0);
        for (k, (&(o, l), x)) in sig.inputs.iter().zip(inputs).enumerate() {
            if x.len() != l {
                return Err(format!(
                    "`{}`: input {k} has {} values, expected {l}",
                    self.name(),
                    x.len()
                ));
            }
            buf[o..o + l].copy_from_slice(x);
        }
        Ok(())
    }
}

/// The functions of one module, callable from any thread (the code is shared, immutable).
#[derive(Clone)]
pub struct Compiled {
    functions: Vec<Function>,
    library: Library,
}

impl Compiled {
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name() == name)
    }

    /// The CLIF text of a function, when compiled with [`JitOptions::keep_clif`].
    pub fn clif(&self, f: &Function) -> Option<&str> {
        self.library.clif(f.id)
    }

    /// The assembly of a function, when compiled with [`JitOptions::keep_asm`].
    pub fn asm(&self, f: &Function) -> Option<&str> {
        self.library.asm(f.id)
    }

    /// Machine-code bytes of a function.
    pub fn code_size(&self, f: &Function) -> usize {
        self.library.code_size(f.id)
    }
}

/// Compiles one graph into one function named `main` with the default options.
pub fn compile(g: &Graph) -> Result<Compiled, JitError> {
    compile_entries(&[Entry::new("main", g)], JitOptions::default())
}

/// Compiles every entry into one module.
pub fn compile_entries(entries: &[Entry], options: JitOptions) -> Result<Compiled, JitError> {
    let strict = options.strict;
    let mut jit = Jit::new(options)?;
    let mut made = Vec::new();
    for e in entries {
        let (sig, layout, body) = prepare(e, strict)?;
        let id = jit.define(&e.name, layout, |t| body.emit(t))?;
        made.push((sig, id));
    }
    let library = jit.finish()?;
    let functions = made
        .into_iter()
        .map(|(signature, id)| Function {
            signature,
            code: library.get(id),
            id,
        })
        .collect();
    Ok(Compiled { functions, library })
}

/// Everything needed to emit one function's body.
struct Body<'g> {
    g: &'g Graph,
    plan: Plan,
    strict: bool,
    batch: Option<BatchBody>,
}

/// The extra pieces of a batched body.
struct BatchBody {
    batch: Batch,
    /// `(staging region, first example's region in the input buffer)` per example input.
    stage: Vec<(Region, Region)>,
    /// Per-example outputs in scratch, and the summed outputs.
    temp: Region,
    out: Region,
}

fn sizes(g: &Graph) -> Vec<usize> {
    g.inputs.iter().map(|i| i.shape().len()).collect()
}

fn prepare<'g>(e: &Entry<'g>, strict: bool) -> Result<(Signature, Layout, Body<'g>), JitError> {
    let g = e.graph;
    let out_lens: Vec<usize> = g.outputs.iter().map(|o| g.shape(o.1).len()).collect();
    let mut outputs = Vec::new();
    let mut at = 0;
    for ((name, _), &l) in g.outputs.iter().zip(&out_lens) {
        outputs.push((name.clone(), at, l));
        at += l;
    }
    let out_len = at;
    let lens = sizes(g);
    let too_large = |scratch: usize| JitError::TooLarge {
        function: e.name.clone(),
        scratch,
        limit: MAX_SCRATCH,
    };
    match e.batch {
        None => {
            let mut inputs = Vec::new();
            let mut at = 0;
            for &l in &lens {
                inputs.push((at, l));
                at += l;
            }
            let in_regions: Vec<Region> = inputs
                .iter()
                .map(|&(o, l)| Region::new(Buf::Input, o, l))
                .collect();
            let out_regions: Vec<Region> = outputs
                .iter()
                .map(|&(_, o, l)| Region::new(Buf::Output, o, l))
                .collect();
            let plan = plan(g, &in_regions, &out_regions, 0);
            if plan.scratch > MAX_SCRATCH {
                return Err(too_large(plan.scratch));
            }
            let layout = Layout::new(at, out_len, plan.scratch);
            let sig = Signature {
                shared: vec![false; inputs.len()],
                inputs,
                outputs,
                batch: None,
            };
            let body = Body {
                g,
                plan,
                strict,
                batch: None,
            };
            Ok((sig, layout, body))
        }
        Some(examples) => {
            let shared: Vec<bool> = g
                .inputs
                .iter()
                .map(|i| i.kind == InputKind::Param)
                .collect();
            let shared_len: usize = lens.iter().zip(&shared).filter(|p| *p.1).map(|p| p.0).sum();
            let stride: usize = lens
                .iter()
                .zip(&shared)
                .filter(|p| !*p.1)
                .map(|p| p.0)
                .sum();
            let (mut s_at, mut e_at) = (0, shared_len);
            let mut inputs = Vec::new();
            for (&l, &sh) in lens.iter().zip(&shared) {
                if sh {
                    inputs.push((s_at, l));
                    s_at += l;
                } else {
                    inputs.push((e_at, l));
                    e_at += l;
                }
            }
            // Scratch: the staging area for one example's inputs, then its outputs, then the
            // graph's arena.
            let mut stage = Vec::new();
            let mut in_regions = Vec::new();
            let mut scratch_at = 0;
            for (&(o, l), &sh) in inputs.iter().zip(&shared) {
                if sh {
                    in_regions.push(Region::new(Buf::Input, o, l));
                } else {
                    let r = Region::new(Buf::Scratch, scratch_at, l);
                    scratch_at += l;
                    stage.push((r, Region::new(Buf::Input, o, l)));
                    in_regions.push(r);
                }
            }
            let temp = Region::new(Buf::Scratch, scratch_at, out_len);
            scratch_at += out_len;
            let out_regions: Vec<Region> = outputs
                .iter()
                .map(|&(_, o, l)| Region::new(Buf::Scratch, temp.offset + o, l))
                .collect();
            let plan = plan(g, &in_regions, &out_regions, scratch_at);
            if plan.scratch > MAX_SCRATCH {
                return Err(too_large(plan.scratch));
            }
            let batch = Batch {
                examples,
                shared: shared_len,
                stride,
            };
            let layout = Layout::new(shared_len + examples * stride, out_len, plan.scratch);
            let sig = Signature {
                inputs,
                shared,
                outputs,
                batch: Some(batch),
            };
            let body = Body {
                g,
                plan,
                strict,
                batch: Some(BatchBody {
                    batch,
                    stage,
                    temp,
                    out: Region::new(Buf::Output, 0, out_len),
                }),
            };
            Ok((sig, layout, body))
        }
    }
}

// ---- planning ---------------------------------------------------------------------------

/// Where a node's value lives.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Loc {
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
struct Plan {
    loc: Vec<Loc>,
    /// Whether the node's value is computed by its own kernel (not an input, view or const).
    computed: Vec<bool>,
    /// Constants some kernel reads from memory, stored once at entry.
    consts: Vec<(Region, f64)>,
    /// Output slots filled at the end from where their node lives.
    copies: Vec<(Region, NodeId)>,
    /// Scratch `f64`s used, from 0 (including any prefix the caller reserved).
    scratch: usize,
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

fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(..) | Op::Binary(..) | Op::Cmp(..) | Op::Select(..)
    )
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

/// A constant index valid for a length, if `n` is one.
fn const_index(g: &Graph, n: NodeId, len: usize) -> Option<usize> {
    let x = g.as_const(n)?;
    (x >= 0.0 && x < len as f64 && x.fract() == 0.0).then_some(x as usize)
}

/// Decides where every node lives; see the module documentation. `inputs` and `outputs`
/// give the regions of the graph's inputs and outputs; scratch starts at `base`.
fn plan(g: &Graph, inputs: &[Region], outputs: &[Region], base: usize) -> Plan {
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
    for x in g.ids().rev() {
        let i = x.index();
        if !live[i] || first_output[i].is_some() || len(x) <= 1 {
            continue;
        }
        let op = g.op(x);
        let candidate = is_elementwise(op) || matches!(op, Op::Broadcast(..));
        let consumers_ok = !users[i].is_empty()
            && users[i]
                .iter()
                .all(|&u| is_elementwise(g.op(u)) && len(u) == len(x));
        let single = users[i].len() == 1 || matches!(op, Op::Broadcast(..));
        fused[i] = candidate && consumers_ok && single;
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

// ---- emission ---------------------------------------------------------------------------

impl Body<'_> {
    fn emit(&self, t: &mut FunctionTranslator) {
        match &self.batch {
            None => self.emit_graph(t),
            Some(b) => {
                t.fill(b.out, 0.0);
                let stride = b.batch.stride;
                t.counted_loop(b.batch.examples, [(8 * stride) as i64], |t, [iv]| {
                    for &(dst, src) in &b.stage {
                        t.copy_block(dst, src, (b.batch.examples, stride), iv);
                    }
                    self.emit_graph(t);
                    let mut c = Chain::new();
                    let sum = c.load(b.out);
                    let x = c.load(b.temp);
                    let s = c.binary(Binary::Add, sum, x);
                    t.elementwise(b.out.len, &c, &[(b.out, s)]);
                });
            }
        }
    }

    fn emit_graph(&self, t: &mut FunctionTranslator) {
        for &(r, v) in &self.plan.consts {
            t.fill(r, v);
        }
        let mut tr = Translator {
            g: self.g,
            plan: &self.plan,
            strict: self.strict,
            t,
        };
        for n in self.g.ids() {
            if self.plan.computed[n.index()] {
                tr.translate(n);
            }
        }
        for &(dst, n) in &self.plan.copies {
            tr.place(dst, n);
        }
    }
}

/// Emits the kernels of one graph: one `translate_<op>` per op.
struct Translator<'p, 't, 'a> {
    g: &'p Graph,
    plan: &'p Plan,
    strict: bool,
    t: &'t mut FunctionTranslator<'a>,
}

fn row_major(r: Region, dims: &[(usize, usize)]) -> Strided {
    Strided {
        buf: r.buf,
        offset: r.offset,
        dims: dims.to_vec(),
    }
}

impl Translator<'_, '_, '_> {
    /// The memory holding `n` (constants a kernel reads have a slot; fused nodes have none).
    fn region(&self, n: NodeId) -> Region {
        match self.plan.loc[n.index()] {
            Loc::Mem(r) => r,
            Loc::Const(c) => self
                .plan
                .consts
                .iter()
                .find(|p| p.1.to_bits() == c.to_bits())
                .map(|p| p.0)
                .expect("constants read by kernels have a slot"),
            other => panic!("{} has no memory: {other:?}", self.g.node_text(n)),
        }
    }

    fn dims(&self, n: NodeId) -> &[usize] {
        &self.g.shape(n).0
    }

    /// Writes `n`'s value into `dst` (an output slot or a stack row).
    fn place(&mut self, dst: Region, n: NodeId) {
        match self.plan.loc[n.index()] {
            Loc::Const(c) => self.t.fill(dst, c),
            Loc::Mem(r) => self.t.copy(dst, r),
            other => panic!("cannot place {}: {other:?}", self.g.node_text(n)),
        }
    }

    fn translate(&mut self, n: NodeId) {
        let dst = self.region(n);
        match self.g.op(n) {
            Op::Const(_) | Op::Input(_) => unreachable!("not computed by a kernel"),
            Op::Unary(..) | Op::Binary(..) | Op::Cmp(..) | Op::Select(..) => {
                self.translate_elementwise(n, dst)
            }
            Op::MatVec(a, x) => self.translate_matvec(dst, *a, *x),
            Op::VecMat(x, a) => self.translate_vecmat(dst, *x, *a),
            Op::MatMul(a, b) => self.translate_matmul(dst, *a, *b),
            Op::Dot(a, b) => self.translate_dot(dst, *a, *b),
            Op::Outer(a, b) => self.translate_outer(dst, *a, *b),
            Op::Transpose(a) => self.translate_transpose(dst, *a),
            Op::Reduce(r, a) => self.translate_reduce(dst, *r, *a),
            Op::Broadcast(..) => self.translate_elementwise(n, dst),
            Op::Slice {
                arg,
                axis,
                start,
                end,
                ..
            } => self.translate_slice(dst, *arg, *axis, *start, *end),
            Op::Pad {
                arg,
                axis,
                start,
                len,
                keep,
            } => self.translate_pad(dst, *arg, *axis, *start, *len, *keep),
            Op::Take { arg, index, axis } => self.translate_take(dst, *arg, *index, *axis),
            Op::OneHot {
                arg,
                index,
                axis,
                len,
            } => self.translate_onehot(dst, *arg, *index, *axis, *len),
            Op::Stack(xs) => self.translate_stack(dst, xs),
        }
    }

    // ---- elementwise: one fused loop per materialized tree ----------------------------

    fn translate_elementwise(&mut self, n: NodeId, dst: Region) {
        let mut c = Chain::new();
        let mut memo = HashMap::new();
        let v = self.chain_op(n, dst.len, &mut c, &mut memo);
        self.t.elementwise(dst.len, &c, &[(dst, v)]);
    }

    /// The chain value of `n` as an operand of a loop over `len` elements.
    fn chain_val(
        &self,
        n: NodeId,
        len: usize,
        c: &mut Chain,
        memo: &mut HashMap<NodeId, Val>,
    ) -> Val {
        if let Some(v) = memo.get(&n) {
            return *v;
        }
        let v = match self.plan.loc[n.index()] {
            Loc::Const(x) => c.constant(x),
            Loc::Fused => self.chain_op(n, len, c, memo),
            Loc::Mem(r) if r.len == len => c.load(r),
            Loc::Mem(r) => c.broadcast(r),
            Loc::Dead => unreachable!("operands are live"),
        };
        memo.insert(n, v);
        v
    }

    /// The chain computing `n`'s op from its operands.
    fn chain_op(
        &self,
        n: NodeId,
        len: usize,
        c: &mut Chain,
        memo: &mut HashMap<NodeId, Val>,
    ) -> Val {
        let mut arg = |a: NodeId, c: &mut Chain| self.chain_val(a, len, c, memo);
        match self.g.op(n) {
            Op::Unary(u, a) => {
                let x = arg(*a, c);
                translate_unary(c, *u, x)
            }
            Op::Binary(b, a, d) => {
                let (x, y) = (arg(*a, c), arg(*d, c));
                translate_binary(c, *b, x, y)
            }
            Op::Cmp(cmp, a, d) => {
                let (x, y) = (arg(*a, c), arg(*d, c));
                let op = match cmp {
                    ir::Cmp::Lt => Binary::Lt,
                    ir::Cmp::Le => Binary::Le,
                    ir::Cmp::Eq => Binary::Eq,
                };
                c.binary(op, x, y)
            }
            Op::Select(k, a, d) => {
                let (kv, x, y) = (arg(*k, c), arg(*a, c), arg(*d, c));
                c.select(kv, x, y)
            }
            Op::Broadcast(a, _) => arg(*a, c),
            other => unreachable!("{} is not elementwise", other.name()),
        }
    }

    // ---- linear algebra -----------------------------------------------------------------

    fn translate_matvec(&mut self, dst: Region, a: NodeId, x: NodeId) {
        let (m, k) = (self.dims(a)[0], self.dims(a)[1]);
        let (ra, rx) = (self.region(a), self.region(x));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[(m, 1)]),
                &row_major(ra, &[(m, k), (k, 1)]),
                Some(&row_major(rx, &[(m, 0), (k, 1)])),
            );
        } else {
            self.t.matvec(dst, ra, rx, m, k, Accumulate::Overwrite);
        }
    }

    fn translate_vecmat(&mut self, dst: Region, x: NodeId, a: NodeId) {
        let (m, k) = (self.dims(a)[0], self.dims(a)[1]);
        let (ra, rx) = (self.region(a), self.region(x));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[(k, 1)]),
                &row_major(rx, &[(k, 0), (m, 1)]),
                Some(&row_major(ra, &[(k, 1), (m, k)])),
            );
        } else {
            self.t.matvec_t(dst, ra, rx, m, k, Accumulate::Overwrite);
        }
    }

    fn translate_matmul(&mut self, dst: Region, a: NodeId, b: NodeId) {
        let (m, k, p) = (self.dims(a)[0], self.dims(a)[1], self.dims(b)[1]);
        let (ra, rb) = (self.region(a), self.region(b));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[(m, p), (p, 1)]),
                &row_major(ra, &[(m, k), (p, 0), (k, 1)]),
                Some(&row_major(rb, &[(m, 0), (p, 1), (k, p)])),
            );
        } else {
            self.t.matmul(dst, ra, rb, (m, k, p), Accumulate::Overwrite);
        }
    }

    fn translate_dot(&mut self, dst: Region, a: NodeId, b: NodeId) {
        let (ra, rb) = (self.region(a), self.region(b));
        if self.strict {
            self.t.contract_seq(
                &row_major(dst, &[]),
                &row_major(ra, &[(ra.len, 1)]),
                Some(&row_major(rb, &[(rb.len, 1)])),
            );
        } else {
            self.t.dot(dst, ra, rb);
        }
    }

    fn translate_outer(&mut self, dst: Region, a: NodeId, b: NodeId) {
        let (ra, rb) = (self.region(a), self.region(b));
        self.t
            .outer(dst, ra, rb, ra.len, rb.len, Accumulate::Overwrite);
    }

    fn translate_transpose(&mut self, dst: Region, a: NodeId) {
        let (m, k) = (self.dims(a)[0], self.dims(a)[1]);
        let ra = self.region(a);
        self.t.transpose(dst, ra, m, k);
    }

    fn translate_reduce(&mut self, dst: Region, r: Reduce, a: NodeId) {
        let ra = self.region(a);
        match (r, self.strict) {
            (Reduce::Sum, false) => self.t.sum(dst, ra),
            (Reduce::Sum, true) => {
                self.t
                    .contract_seq(&row_major(dst, &[]), &row_major(ra, &[(ra.len, 1)]), None)
            }
            (Reduce::Max, false) => self.t.max(dst, ra),
            (Reduce::Min, false) => self.t.min(dst, ra),
            (Reduce::Max, true) => self.t.extremum_seq(dst, ra, true),
            (Reduce::Min, true) => self.t.extremum_seq(dst, ra, false),
            (Reduce::LogSumExp, false) => self.t.logsumexp(dst, ra),
            (Reduce::LogSumExp, true) => self.t.logsumexp_seq(dst, ra),
        }
    }

    // ---- data movement ------------------------------------------------------------------

    fn translate_slice(&mut self, dst: Region, arg: NodeId, axis: u32, start: u32, end: u32) {
        let (outer, d, inner) = split(self.dims(arg), axis as usize);
        let ra = self.region(arg);
        let w = (end - start) as usize * inner;
        let src = Strided {
            buf: ra.buf,
            offset: ra.offset + start as usize * inner,
            dims: vec![(outer, d * inner), (w, 1)],
        };
        self.t.copy_strided(
            &row_major(dst, &[(outer, w), (w, 1)]),
            &src,
            Accumulate::Overwrite,
        );
    }

    fn translate_pad(
        &mut self,
        dst: Region,
        arg: NodeId,
        axis: u32,
        start: u32,
        len: u32,
        keep: bool,
    ) {
        let (outer, w, inner) = if keep {
            split(self.dims(arg), axis as usize)
        } else {
            split_new(self.dims(arg), axis as usize)
        };
        let ra = self.region(arg);
        self.pad_into(
            dst,
            ra,
            (outer, w * inner),
            start as usize * inner,
            len as usize * inner,
        );
    }

    /// `dst = 0` then row `o` of `src` (`[outer, w]`) at `at` of row `o` of `dst` (`row` wide).
    fn pad_into(
        &mut self,
        dst: Region,
        src: Region,
        (outer, w): (usize, usize),
        at: usize,
        row: usize,
    ) {
        self.t.fill(dst, 0.0);
        let to = Strided {
            buf: dst.buf,
            offset: dst.offset + at,
            dims: vec![(outer, row), (w, 1)],
        };
        self.t.copy_strided(
            &to,
            &row_major(src, &[(outer, w), (w, 1)]),
            Accumulate::Overwrite,
        );
    }

    fn translate_take(&mut self, dst: Region, arg: NodeId, index: NodeId, axis: u32) {
        let (outer, d, inner) = split(self.dims(arg), axis as usize);
        let ra = self.region(arg);
        match const_index(self.g, index, d) {
            Some(k) => {
                let src = Strided {
                    buf: ra.buf,
                    offset: ra.offset + k * inner,
                    dims: vec![(outer, d * inner), (inner, 1)],
                };
                self.t.copy_strided(
                    &row_major(dst, &[(outer, inner), (inner, 1)]),
                    &src,
                    Accumulate::Overwrite,
                );
            }
            None => {
                let ri = self.region(index);
                self.t.take_dynamic(dst, ra, (outer, d, inner), ri);
            }
        }
    }

    fn translate_onehot(&mut self, dst: Region, arg: NodeId, index: NodeId, axis: u32, len: u32) {
        let (outer, _, inner) = split_new(self.dims(arg), axis as usize);
        let len = len as usize;
        let ra = self.region(arg);
        match const_index(self.g, index, len) {
            Some(k) => self.pad_into(dst, ra, (outer, inner), k * inner, len * inner),
            None => {
                let ri = self.region(index);
                self.t.onehot_dynamic(dst, ra, (outer, len, inner), ri);
            }
        }
    }

    fn translate_stack(&mut self, dst: Region, xs: &[NodeId]) {
        let each = dst.len / xs.len();
        for (k, &x) in xs.iter().enumerate() {
            self.place(dst.sub(k * each, each), x);
        }
    }
}

/// One IR unary op as chain nodes.
fn translate_unary(c: &mut Chain, u: ir::Unary, x: Val) -> Val {
    let direct = |op: Unary, c: &mut Chain| c.unary(op, x);
    match u {
        ir::Unary::Neg => direct(Unary::Neg, c),
        ir::Unary::Exp => direct(Unary::Exp, c),
        ir::Unary::Log => direct(Unary::Log, c),
        ir::Unary::Tanh => direct(Unary::Tanh, c),
        ir::Unary::Sigmoid => direct(Unary::Sigmoid, c),
        ir::Unary::Softplus => direct(Unary::Softplus, c),
        ir::Unary::Abs => direct(Unary::Abs, c),
        ir::Unary::Sqrt => direct(Unary::Sqrt, c),
        ir::Unary::Square => direct(Unary::Square, c),
        ir::Unary::Sin => direct(Unary::Sin, c),
        ir::Unary::Cos => direct(Unary::Cos, c),
        // ±1 off zero; 0, −0 and NaN pass through, as in `Unary::apply`.
        ir::Unary::Sign => {
            let zero = c.constant(0.0);
            let one = c.constant(1.0);
            let minus = c.constant(-1.0);
            let pos = c.binary(Binary::Gt, x, zero);
            let neg = c.binary(Binary::Lt, x, zero);
            let rest = c.select(neg, minus, x);
            c.select(pos, one, rest)
        }
    }
}

/// One IR binary op as chain nodes.
fn translate_binary(c: &mut Chain, b: ir::Binary, x: Val, y: Val) -> Val {
    match b {
        ir::Binary::Add => c.binary(Binary::Add, x, y),
        ir::Binary::Sub => c.binary(Binary::Sub, x, y),
        ir::Binary::Mul => c.binary(Binary::Mul, x, y),
        ir::Binary::Div => c.binary(Binary::Div, x, y),
        ir::Binary::Pow => c.binary(Binary::Pow, x, y),
        // The IR's choice exactly: `x` if `x ≥ y` (`≤` for min) or `x` is NaN, else `y` —
        // NaN from either side, and the first argument on ties (so `max(−0, 0)` is −0).
        ir::Binary::Max | ir::Binary::Min => {
            let cmp = if b == ir::Binary::Max {
                Binary::Ge
            } else {
                Binary::Le
            };
            let keep = c.binary(cmp, x, y);
            let nan = c.binary(Binary::Ne, x, x);
            let pick = c.select(keep, x, y);
            c.select(nan, x, pick)
        }
    }
}

impl Signature {
    /// The signature of a graph's unbatched function: every input packed in graph order,
    /// every output packed in graph order. The one layout: the compiled function and the
    /// interpreter backend of [`crate::compile`] both read it.
    pub fn of(g: &Graph) -> Signature {
        let mut inputs = Vec::with_capacity(g.inputs.len());
        let mut at = 0;
        for l in sizes(g) {
            inputs.push((at, l));
            at += l;
        }
        let mut outputs = Vec::with_capacity(g.outputs.len());
        let mut at = 0;
        for (name, n) in &g.outputs {
            let l = g.shape(*n).len();
            outputs.push((name.clone(), at, l));
            at += l;
        }
        Signature {
            shared: vec![false; inputs.len()],
            inputs,
            outputs,
            batch: None,
        }
    }

    /// `f64`s in the input buffer.
    pub fn input_len(&self) -> usize {
        self.inputs.last().map_or(0, |&(o, l)| o + l)
    }

    /// `f64`s in the output buffer.
    pub fn output_len(&self) -> usize {
        self.outputs.last().map_or(0, |&(_, o, l)| o + l)
    }
}

impl Function {
    /// The address of the native code: the identity of the function.
    pub fn address(&self) -> usize {
        self.code.address()
    }
}
