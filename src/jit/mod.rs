//! # Native code for tensor programs, through Cranelift
//!
//! This module owns everything between "a straight-line program over flat `f64` buffers" and
//! "a function pointer the runtime can call". It is independent of the tensor IR: the IR
//! translator (one `translate_<op>` per op) sits on top of the building blocks here, each of
//! which is a whole kernel — a map, a dot product, a matrix–vector product, a reduction.
//!
//! * [`module`] owns the Cranelift [`JITModule`](cranelift_jit::JITModule): host ISA, flags,
//!   the libm symbols, defining and finalizing functions, freeing the code, and the one safe
//!   typed wrapper [`CompiledFn`] around the call into generated code. **All `unsafe` of the
//!   crate lives there**, and in `gemm_avx2`'s intrinsics. The same definitions can go to an
//!   [`ObjectModule`](cranelift_object::ObjectModule) instead ([`compile_object`]): an object
//!   file for `ebmc build --lib`, never loaded by ebmc itself.
//! * [`emit`] is the [`FunctionTranslator`]: buffers, regions, loads and stores, counted loops
//!   and lane-generic helpers (`f64` or `f64x2`).
//! * [`elementwise`] compiles fused elementwise [`Chain`]s: one loop, many ops per element,
//!   SIMD body plus scalar tail.
//! * [`kernels`] holds the linear algebra, reductions and data movement; [`gemm`] the
//!   register-blocked matrix–matrix product, and `gemm_avx2` the same product in 256-bit
//!   vectors, compiled by rustc, which generated code calls on hosts with AVX2 and FMA
//!   (Cranelift 0.135 emits vectors of at most 128 bits).
//! * [`api`] is the interface to the tensor IR: [`compile`] and [`compile_entries`] turn
//!   [`crate::ir::Graph`]s into the functions of one module, each with its [`Signature`]. A
//!   body past 10,000 instructions is emitted as several functions of that size, which the
//!   entry point calls in turn: Cranelift's register allocator is superlinear in a function's
//!   size, so this keeps compile time linear in the program's.
//! * [`plan`] decides where every node lives (views, fusion, the scratch arena);
//!   [`translate`] emits each node as one of the kernels below, one `translate_<op>` per op.
//! * [`math`] emits exp, log, log1p, tanh, sigmoid and softplus inline as branch-free
//!   polynomial code; sin, cos and pow call libm.
//!
//! ## The ABI
//!
//! Every generated function has the C signature
//!
//! ```text
//! extern "C" fn(inputs: *const f64, outputs: *mut f64, scratch: *mut f64) -> u32
//! ```
//!
//! and a [`Layout`] fixed at compile time: how many `f64`s each buffer holds. The return value
//! is `0` on success and [`STATUS_INDEX_OUT_OF_RANGE`] when a run-time index (a class value
//! read from the inputs) was not a valid index; outputs are then unspecified.
//!
//! ## Invariants
//!
//! * Every memory access the emitter produces lies inside the buffer lengths of the function's
//!   [`Layout`]: kernels take [`Region`]s whose bounds are checked against the layout when the
//!   kernel is emitted, and run-time indices are checked by generated code before use. Hence
//!   [`CompiledFn::call`], which checks the slices it is given against the same layout, cannot
//!   cause an out-of-bounds access.
//! * Nothing is ever stored through the `inputs` pointer.
//! * Trip counts are compile-time constants, so code size depends on the program, never on the
//!   sizes of the tensors: loops are loops, remainders are bounded.

pub mod api;
pub mod elementwise;
pub mod emit;
pub mod gemm;
mod gemm_avx2;
pub mod kernels;
pub mod map_avx2;
pub mod math;
pub mod module;
mod plan;
mod translate;

pub use api::{
    compile, compile_entries, compile_object, Compiled, Entry, Function, Object, ObjectFunction,
    Signature,
};
pub use elementwise::{Binary, Chain, Unary, Val};
pub use emit::{Buf, FunctionTranslator, Region, Strided, Width};
pub use kernels::Accumulate;
pub use module::{
    CompiledFn, FnId, Jit, JitError, JitOptions, Layout, Library, MAX_SCRATCH,
    STATUS_INDEX_OUT_OF_RANGE,
};
