//! Kernels: one graph made callable, by the reference interpreter or by native code.
//!
//! The runtime never looks inside a graph: it fills the graph's inputs (in
//! [`Graph::inputs`] order) and reads named outputs from one flat buffer laid out by
//! [`Layout`]. Two backends implement [`Kernel`]; the runtime's results must not depend on
//! which one runs (the JIT is tested against the interpreter).
//!
//! The native kernel ([`Native`]) packs the input slices into its own input buffer, calls the
//! compiled function with its own scratch, and writes straight into `out` (the JIT's output
//! buffer is laid out exactly like [`Layout`]). Forks share the code and get fresh buffers.
//! Errors are reported in the interpreter's words: discrete inputs are checked before the
//! call, and when native code reports a bad run-time index the interpreter re-runs the call to
//! name it, so a message never depends on the backend.

use crate::interp;
use crate::ir::{Graph, InputInfo, Ty};
use crate::jit;
use std::fmt;
use std::sync::Arc;

/// Where each output of a kernel lives in its flat output buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub inputs: Vec<InputInfo>,
    /// `(name, offset, len)` in output order.
    pub outputs: Vec<(String, usize, usize)>,
    /// Length of the whole output buffer.
    pub len: usize,
}

impl Layout {
    pub fn of(g: &Graph) -> Layout {
        let mut outputs = Vec::new();
        let mut len = 0;
        for (name, n) in &g.outputs {
            let l = g.shape(*n).len();
            outputs.push((name.clone(), len, l));
            len += l;
        }
        Layout {
            inputs: g.inputs.clone(),
            outputs,
            len,
        }
    }

    /// The `(offset, len)` of an output.
    pub fn output(&self, name: &str) -> Option<(usize, usize)> {
        self.outputs
            .iter()
            .find(|(n, ..)| n == name)
            .map(|&(_, o, l)| (o, l))
    }
}

/// Why a kernel call failed: wrong input lengths or a discrete value out of range.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelError(pub String);

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KernelError {}

/// A callable graph. `call` takes one slice per input (in layout order) and writes every
/// output into `out` (`layout().len` values).
pub trait Kernel: Send {
    fn layout(&self) -> &Layout;
    fn call(&mut self, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), KernelError>;
    /// An independent copy for another thread (sharing compiled code, not scratch memory).
    fn fork(&self) -> Box<dyn Kernel>;
}

/// The reference interpreter as a kernel.
pub struct Interp {
    graph: Arc<Graph>,
    layout: Arc<Layout>,
}

impl Interp {
    pub fn new(g: &Graph) -> Interp {
        Interp {
            layout: Arc::new(Layout::of(g)),
            graph: Arc::new(g.clone()),
        }
    }
}

impl Kernel for Interp {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn call(&mut self, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), KernelError> {
        let values =
            interp::eval_slots(&self.graph, inputs).map_err(|e| KernelError(e.to_string()))?;
        if out.len() != self.layout.len {
            return Err(KernelError(format!(
                "output buffer of {} values, expected {}",
                out.len(),
                self.layout.len
            )));
        }
        for ((_, node), (_, off, len)) in self.graph.outputs.iter().zip(&self.layout.outputs) {
            out[*off..off + len].copy_from_slice(values.node(*node));
        }
        Ok(())
    }

    fn fork(&self) -> Box<dyn Kernel> {
        Box::new(Interp {
            graph: self.graph.clone(),
            layout: self.layout.clone(),
        })
    }
}

/// Native code from [`jit::compile`] as a kernel.
pub struct Native {
    graph: Arc<Graph>,
    layout: Arc<Layout>,
    code: Arc<jit::Compiled>,
    inputs: Vec<f64>,
    scratch: Vec<f64>,
}

impl Native {
    pub fn new(g: &Graph, options: jit::JitOptions) -> Result<Native, KernelError> {
        let code = jit::compile_entries(&[jit::Entry::new("kernel", g)], options)
            .map_err(|e| KernelError(e.to_string()))?;
        let f = &code.functions()[0];
        Ok(Native {
            inputs: vec![0.0; f.layout().inputs],
            scratch: f.scratch(),
            layout: Arc::new(Layout::of(g)),
            graph: Arc::new(g.clone()),
            code: Arc::new(code),
        })
    }

    /// The interpreter's error for this call (it fails where native code failed).
    fn explain(&self, inputs: &[&[f64]], native: String) -> KernelError {
        match interp::eval_slots(&self.graph, inputs) {
            Err(e) => KernelError(e.to_string()),
            Ok(_) => KernelError(native),
        }
    }
}

impl Kernel for Native {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn call(&mut self, inputs: &[&[f64]], out: &mut [f64]) -> Result<(), KernelError> {
        let f = &self.code.functions()[0];
        let discrete_ok = inputs.len() == self.layout.inputs.len()
            && self
                .layout
                .inputs
                .iter()
                .zip(inputs)
                .all(|(i, x)| match i.ty {
                    Ty::Real(_) => true,
                    Ty::Class(k) => {
                        x.len() == 1 && x[0] >= 0.0 && x[0] < k as f64 && x[0].fract() == 0.0
                    }
                    Ty::Sign => x.len() == 1 && (x[0] == 1.0 || x[0] == -1.0),
                });
        if !discrete_ok || f.pack(inputs, &mut self.inputs).is_err() {
            return Err(self.explain(inputs, "bad kernel inputs".into()));
        }
        if out.len() != self.layout.len {
            return Err(KernelError(format!(
                "output buffer of {} values, expected {}",
                out.len(),
                self.layout.len
            )));
        }
        if let Err(e) = f.call(&self.inputs, out, &mut self.scratch) {
            return Err(self.explain(inputs, e.to_string()));
        }
        Ok(())
    }

    fn fork(&self) -> Box<dyn Kernel> {
        Box::new(Native {
            graph: self.graph.clone(),
            layout: self.layout.clone(),
            code: self.code.clone(),
            inputs: vec![0.0; self.inputs.len()],
            scratch: vec![0.0; self.scratch.len()],
        })
    }
}

/// Which backend runs the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Interp,
    /// Native code (SIMD sums, FMA, inline transcendentals): agrees with the interpreter to
    /// rounding.
    Jit,
    /// Native code that computes exactly what the interpreter computes, bit for bit
    /// ([`jit::JitOptions::strict`]); `ebmc eval` uses it so its JSON does not depend on the
    /// backend.
    JitStrict,
}

/// Largest number of `f64`s one call of the interpreter may hold in its intermediate values:
/// 2^28 (2 GiB), the JIT's [`jit::MAX_SCRATCH`]. The interpreter keeps the value of every node
/// of the graph, so the sum over its nodes is what one call allocates; a graph above it is
/// refused when it is compiled, before any of it is allocated. (Native code reuses scratch by
/// liveness, and [`jit::compile`] applies the same limit to what it plans.)
pub const MAX_VALUES: usize = jit::MAX_SCRATCH;

/// Makes a graph callable on a backend; refuses a graph whose evaluation needs more than
/// [`MAX_VALUES`] values of memory.
pub fn compile(g: &Graph, backend: Backend) -> Result<Box<dyn Kernel>, KernelError> {
    if backend == Backend::Interp {
        let values = g
            .ids()
            .try_fold(0usize, |acc, n| acc.checked_add(g.shape(n).len()));
        if values.is_none_or(|v| v > MAX_VALUES) {
            return Err(KernelError(format!(
                "the model needs {} values of memory for one evaluation, more than the limit of {MAX_VALUES} (2 GiB); use smaller dimensions",
                values.map_or("more than 2^64".into(), |v| v.to_string())
            )));
        }
    }
    match backend {
        Backend::Interp => Ok(Box::new(Interp::new(g))),
        Backend::Jit => Ok(Box::new(Native::new(g, jit::JitOptions::default())?)),
        Backend::JitStrict => Ok(Box::new(Native::new(
            g,
            jit::JitOptions {
                strict: true,
                ..jit::JitOptions::default()
            },
        )?)),
    }
}
