//! The JIT's interface to the tensor IR: which graphs become which native functions, and
//! where each function finds its inputs and puts its outputs.
//!
//! [`compile`] turns one graph into one function; [`compile_entries`] turns several graphs into
//! the functions of one module (one Cranelift `finish`), e.g. a model's energy, its gradients
//! and its batched loss gradient (batched in the IR, by [`crate::ir::batch`], not here). Each
//! function has the ABI of [`super`] and a [`Signature`] saying where things live:
//!
//! * **inputs** are packed in one buffer, each graph input (in [`Graph::inputs`] order) at the
//!   offset its predecessors' sizes give; `class` and `sign` inputs are one `f64` each;
//! * **outputs** are packed in one buffer in [`Graph::outputs`] order;
//! * **intermediates** live in one scratch arena laid out at compile time by [`super::plan`].
//!
//! A function needing more than [`MAX_SCRATCH`] `f64`s of scratch is refused at compile time
//! ([`JitError::TooLarge`]).
//!
//! [`compile_object`] defines the same functions, through the same [`define`], into an object
//! file instead ([`Jit::object`]), each entry under its own symbol, for `ebmc build --lib`.

use crate::ir::Graph;
use cranelift_module::{Linkage, Module};

use super::emit::{Buf, Region};
use super::module::{CompiledFn, FnId, Jit, JitError, JitOptions, Layout, Library, MAX_SCRATCH};
use super::plan::plan;
use super::translate::Body;

/// One function to compile from a graph.
#[derive(Clone, Debug)]
pub struct Entry<'g> {
    pub name: String,
    pub graph: &'g Graph,
}

impl<'g> Entry<'g> {
    pub fn new(name: impl Into<String>, graph: &'g Graph) -> Entry<'g> {
        Entry {
            name: name.into(),
            graph,
        }
    }
}

/// The interface of one compiled function.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// `(offset, len)` of each graph input in the input buffer.
    pub inputs: Vec<(usize, usize)>,
    /// `(name, offset, len)` of each output in the output buffer.
    pub outputs: Vec<(String, usize, usize)>,
}

impl Signature {
    /// The signature of a graph's function: every input packed in graph order, every output
    /// packed in graph order. The one layout: the compiled function and the interpreter
    /// backend of [`crate::compile`] both read it.
    pub fn of(g: &Graph) -> Signature {
        let mut inputs = Vec::with_capacity(g.inputs.len());
        let mut at = 0;
        for i in &g.inputs {
            let l = i.shape().len();
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
        Signature { inputs, outputs }
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

    /// The address of the native code: the identity of the function.
    pub fn address(&self) -> usize {
        self.code.address()
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
        let id = define(&mut jit, &e.name, layout, &body)?;
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

/// Instructions after which a generated function takes no further kernel. Cranelift's
/// register allocator takes time that grows faster than the size of the function it allocates
/// (a 1,000-layer network as one function: 20 s and 1.7 GB; a chain of 2,500 `tanh`s, fused
/// and inlined: 12 s), so a longer body is split into functions of about this size, called in
/// turn by the entry point; each then costs about the same, and the whole grows linearly.
const INSTS_PER_FUNCTION: usize = 10_000;

/// Defines the function of one entry: its body as one function, or, past
/// [`INSTS_PER_FUNCTION`], as parts (symbols `NAME.0`, `NAME.1`, …) and an entry point calling
/// them in turn.
fn define<M: Module>(
    jit: &mut Jit<M>,
    name: &str,
    layout: Layout,
    body: &Body,
) -> Result<FnId, JitError> {
    let kernels = body.kernels();
    let mut parts = Vec::new();
    let mut next = 0;
    loop {
        let start = next;
        let part = format!("{name}.{}", parts.len());
        parts.push(jit.define(&part, layout, |t| {
            next = body.emit_until(t, &kernels, start, INSTS_PER_FUNCTION);
        })?);
        if next == kernels.len() {
            break;
        }
    }
    if let [whole] = parts[..] {
        jit.rename(whole, name);
        return Ok(whole);
    }
    jit.define_calls(name, layout, &parts)
}

/// One function of an [`Object`]: its symbol, where its buffers hold what, and their lengths.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectFunction {
    pub symbol: String,
    pub signature: Signature,
    pub layout: Layout,
}

/// A relocatable object file holding one function per entry.
pub struct Object {
    /// The file's bytes (ELF on Linux).
    pub bytes: Vec<u8>,
    /// In the order of the entries.
    pub functions: Vec<ObjectFunction>,
}

/// Compiles every entry into one object file, for the host machine: each entry's function
/// under the symbol `ENTRY.name` with hidden visibility (seen by whatever is linked with the
/// object into one library, not outside it), its parts local. The code is what
/// [`compile_entries`] gives the JIT for the same options, but position-independent and
/// calling the C library's libm.
pub fn compile_object(
    entries: &[Entry],
    options: JitOptions,
    name: &str,
) -> Result<Object, JitError> {
    let strict = options.strict;
    let mut jit = Jit::object(options, name)?;
    let mut functions = Vec::new();
    for e in entries {
        let (signature, layout, body) = prepare(e, strict)?;
        // The body as the JIT has it, under `NAME.part` (or as parts `NAME.part.0`, … and
        // their caller), then `NAME`, the symbol seen outside, which calls it: whether or not
        // the body was split, the symbol is defined with the linkage the library needs. One
        // call more than the JIT makes, nothing beside the body's work.
        let part = format!("{}.part", e.name);
        let whole = define(&mut jit, &part, layout, &body)?;
        jit.define_calls_linked(&e.name, Linkage::Hidden, layout, &[whole])?;
        functions.push(ObjectFunction {
            symbol: e.name.clone(),
            signature,
            layout,
        });
    }
    let bytes = jit.finish_object()?;
    Ok(Object { bytes, functions })
}

/// The signature, buffer lengths and body of one entry's function.
fn prepare<'g>(e: &Entry<'g>, strict: bool) -> Result<(Signature, Layout, Body<'g>), JitError> {
    let g = e.graph;
    let sig = Signature::of(g);
    let inputs: Vec<Region> = sig
        .inputs
        .iter()
        .map(|&(o, l)| Region::new(Buf::Input, o, l))
        .collect();
    let outputs: Vec<Region> = sig
        .outputs
        .iter()
        .map(|&(_, o, l)| Region::new(Buf::Output, o, l))
        .collect();
    let plan = plan(g, &inputs, &outputs, 0);
    if plan.scratch > MAX_SCRATCH {
        return Err(JitError::TooLarge {
            function: e.name.clone(),
            scratch: plan.scratch,
            limit: MAX_SCRATCH,
        });
    }
    let layout = Layout::new(sig.input_len(), sig.output_len(), plan.scratch);
    Ok((sig, layout, Body { g, plan, strict }))
}
