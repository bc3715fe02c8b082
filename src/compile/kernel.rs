//! A kernel: one entry point of a [`Compiled`] model made callable, with its own buffers.
//!
//! The caller writes each input port's values into [`Kernel::input_mut`], calls, and reads
//! the output ports from [`Kernel::output`]. The buffers are the function's own: nothing is
//! packed, looked up by name or allocated per call on the native backend. One validation per
//! call: every `class` value must be an integer in range and every `sign` value ±1 (native
//! code guards the indices it reads, but the runtime wants the interpreter's words for the
//! error); the buffer lengths are the function's by construction.
//!
//! Errors are reported in the interpreter's words whatever the backend: when a discrete
//! value is out of range, or native code reports a bad run-time index, the interpreter re-runs
//! the call to name it, so a message never depends on the backend. Forks share the code and
//! get fresh buffers (one per thread).

use super::{Compiled, EntryPoint};
use crate::interp;
use crate::types::Ty;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why a kernel call failed: a discrete value out of range, or a limit.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelError(pub String);

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KernelError {}

/// One entry point with its input, output and scratch buffers.
pub struct Kernel {
    code: Arc<Compiled>,
    index: usize,
    input: Vec<f64>,
    output: Vec<f64>,
    scratch: Vec<f64>,
    /// Calls made by this kernel and every kernel forked from it (shared, so that a test can
    /// see what the worker threads of a training run called).
    calls: Arc<AtomicU64>,
}

impl Kernel {
    pub(super) fn new(code: Arc<Compiled>, index: usize) -> Kernel {
        Kernel::with_calls(code, index, Arc::default())
    }

    /// The buffers are allocated by the first [`Kernel::ready`] (or write, or call): a session
    /// binds every entry point its model has, and a training thread's copy calls only the
    /// loss gradient, so the buffers of the others would be memory held for nothing — each
    /// holds a copy of the params.
    fn with_calls(code: Arc<Compiled>, index: usize, calls: Arc<AtomicU64>) -> Kernel {
        Kernel {
            input: Vec::new(),
            output: Vec::new(),
            scratch: Vec::new(),
            calls,
            code,
            index,
        }
    }

    /// Allocates the buffers if they are not yet: an error, not an abort, when the memory is
    /// not there.
    pub fn ready(&mut self) -> Result<(), KernelError> {
        let e = &self.code.entries[self.index];
        let lens = [e.input_len, e.output_len, e.scratch_len()];
        let bufs = [&mut self.input, &mut self.output, &mut self.scratch];
        for (buf, len) in bufs.into_iter().zip(lens) {
            if buf.len() != len {
                buf.try_reserve_exact(len).map_err(|_| {
                    KernelError(format!(
                        "cannot allocate the {} MB of the buffers of `{}`: out of memory",
                        ((e.input_len + e.output_len + e.scratch_len()) * 8) >> 20,
                        e.entry.name()
                    ))
                })?;
                buf.resize(len, 0.0);
            }
        }
        Ok(())
    }

    /// [`Kernel::ready`] where a failure cannot be returned: the allocation then aborts, as
    /// any other would.
    fn allocated(&mut self) {
        if self.input.len() != self.entry().input_len
            || self.output.len() != self.entry().output_len
        {
            let e = &self.code.entries[self.index];
            let (i, o, s) = (e.input_len, e.output_len, e.scratch_len());
            self.input.resize(i, 0.0);
            self.output.resize(o, 0.0);
            self.scratch.resize(s, 0.0);
        }
    }

    pub fn entry(&self) -> &EntryPoint {
        &self.code.entries[self.index]
    }

    /// The values of input port `port` (all rows of a batched input), to be written.
    pub fn input_mut(&mut self, port: usize) -> &mut [f64] {
        self.allocated();
        let p = &self.code.entries[self.index].inputs[port];
        &mut self.input[p.offset..p.offset + p.len]
    }

    /// The values of output port `port` after a call.
    pub fn output(&self, port: usize) -> &[f64] {
        let p = &self.code.entries[self.index].outputs[port];
        &self.output[p.offset..p.offset + p.len]
    }

    /// Input port `input` to write and output port `output` of the last call, together: a
    /// descent updates its point in place from the gradient.
    pub fn input_and_output(&mut self, input: usize, output: usize) -> (&mut [f64], &[f64]) {
        self.allocated();
        let e = &self.code.entries[self.index];
        let (i, o) = (&e.inputs[input], &e.outputs[output]);
        (
            &mut self.input[i.offset..i.offset + i.len],
            &self.output[o.offset..o.offset + o.len],
        )
    }

    /// How many calls this kernel and its forks have made (tests: which kernel a loop really
    /// ran).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Runs the entry point on the input buffer into the output buffer.
    pub fn call(&mut self) -> Result<(), KernelError> {
        self.ready()?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let e = &self.code.entries[self.index];
        let discrete_ok = e.inputs.iter().zip(&e.types).all(|(p, ty)| {
            let xs = &self.input[p.offset..p.offset + p.len];
            match ty {
                Ty::Real(_) => true,
                Ty::Class(k) => xs
                    .iter()
                    .all(|&x| x >= 0.0 && x < *k as f64 && x.fract() == 0.0),
                Ty::Sign(_) => xs.iter().all(|&x| x == 1.0 || x == -1.0),
            }
        });
        match &e.native {
            Some(f) if discrete_ok => {
                if let Err(err) = f.call(&self.input, &mut self.output, &mut self.scratch) {
                    return Err(self.explain(err.to_string()));
                }
                Ok(())
            }
            Some(_) => Err(self.explain("bad kernel inputs".into())),
            None => self.interpret(),
        }
    }

    /// The reference interpreter on the input buffer, its outputs copied into place.
    fn interpret(&mut self) -> Result<(), KernelError> {
        let values = self
            .run_interpreter()
            .map_err(|err| KernelError(err.to_string()))?;
        let e = &self.code.entries[self.index];
        for ((_, node), p) in e.graph.outputs.iter().zip(&e.outputs) {
            self.output[p.offset..p.offset + p.len].copy_from_slice(values.node(*node));
        }
        Ok(())
    }

    /// The interpreter's error for this call (it fails where native code failed).
    fn explain(&self, native: String) -> KernelError {
        match self.run_interpreter() {
            Err(err) => KernelError(err.to_string()),
            Ok(_) => KernelError(native),
        }
    }

    /// The entry point's graph evaluated by the interpreter on the input buffer.
    fn run_interpreter(&self) -> Result<interp::Values, interp::EvalError> {
        let e = &self.code.entries[self.index];
        let slices: Vec<&[f64]> = e
            .inputs
            .iter()
            .map(|p| &self.input[p.offset..p.offset + p.len])
            .collect();
        interp::eval_slots(&e.graph, &slices)
    }

    /// A copy for another thread: the same code and call count, fresh buffers.
    pub fn fork(&self) -> Kernel {
        Kernel::with_calls(Arc::clone(&self.code), self.index, Arc::clone(&self.calls))
    }
}
