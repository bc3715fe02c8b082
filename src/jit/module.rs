//! The JIT module: host ISA, function definition, finalization, and the call into native code.
//!
//! [`Jit`] wraps one Cranelift [`JITModule`] for the host (ISA and CPU features from
//! `cranelift_native`, `opt_level = speed`, Cranelift's IR verifier on in debug builds) and
//! reuses one codegen [`Context`] and one [`FunctionBuilderContext`] for every function it
//! defines. [`Jit::finish`] links everything and turns it into a [`Library`]; the library frees
//! the executable memory when the last [`CompiledFn`] handle to it is dropped.
//!
//! The same [`Jit`] over an [`ObjectModule`] ([`Jit::object`]) defines the same functions,
//! through the same code, into a relocatable object file for `ebmc build --lib`
//! ([`Jit::finish_object`]): position-independent, and calling the C library's `sin`, `exp`, …
//! where the JIT calls its own shims of them (which are those functions, see [`Libm`]).
//!
//! This file holds **all the `unsafe` of the crate**, in three places, each with its argument:
//! turning a finalized code address into a typed function pointer, calling it, and freeing the
//! code. The safe surface is [`CompiledFn::call`], whose contract is:
//!
//! * the slices it receives have exactly the lengths of the function's [`Layout`], checked on
//!   every call — a mismatch is a [`JitError::BufferLength`], never a wild access;
//! * the generated code touches only those buffers and only in bounds, because every kernel
//!   checked its regions against the same layout when it was emitted (see
//!   [`super::emit`]);
//! * the code stays mapped while any `CompiledFn` exists, because each one holds an `Arc` to
//!   the [`Library`] that owns it. The code is immutable once finalized, so handles may be
//!   sent to and shared between threads (each caller brings its own scratch buffer).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, AbiParam, UserFuncName};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module, ModuleError, ModuleReloc};
use cranelift_object::{ObjectBuilder, ObjectModule};

use super::emit::{Buf, FunctionTranslator};
use super::gemm_avx2;
use super::map_avx2;

/// Returned by generated code when a run-time index was not an integer in range.
pub const STATUS_INDEX_OUT_OF_RANGE: u32 = 1;

/// The machine signature of every generated function; see the ABI in [`super`].
type RawFn = unsafe extern "C" fn(*const f64, *mut f64, *mut f64) -> u32;

/// How many `f64`s each of the three buffers of a function holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Layout {
    pub inputs: usize,
    pub outputs: usize,
    pub scratch: usize,
}

impl Layout {
    pub fn new(inputs: usize, outputs: usize, scratch: usize) -> Self {
        Layout {
            inputs,
            outputs,
            scratch,
        }
    }

    /// The length of `buf` in `f64`s.
    pub fn len(&self, buf: Buf) -> usize {
        match buf {
            Buf::Input => self.inputs,
            Buf::Output => self.outputs,
            Buf::Scratch => self.scratch,
        }
    }
}

/// Code generation options.
#[derive(Clone, Debug)]
pub struct JitOptions {
    /// Run Cranelift's IR verifier on every function (on by default in debug builds).
    pub verify: bool,
    /// Emit exp, log, log1p, tanh, sigmoid and softplus as inline polynomial code (the
    /// default). When false they call libm, one call per element: slower, and meant for
    /// comparison and debugging.
    pub inline_math: bool,
    /// Keep the CLIF text of every function, for `emit clif` and snapshots.
    pub keep_clif: bool,
    /// Keep the machine code of every function as assembly text.
    pub keep_asm: bool,
    /// Use AVX-512 when the host has it. Off by default: the kernels are 128-bit, gain nothing
    /// from it, and valgrind cannot run AVX-512 code.
    pub avx512: bool,
    /// Use fused multiply-add when the host has it (the default). Off, the code is what a
    /// host without FMA gets (`fmul` + `fadd`), so tests can check that path on any host.
    pub fma: bool,
    /// Compute exactly what the reference interpreter computes, bit for bit: transcendentals
    /// through libm (as with `inline_math` off), no fused multiply-add, and every sum in the
    /// interpreter's left-to-right order. Slower; used by `ebmc eval`, whose JSON must not
    /// depend on the backend, and by the bitwise tests.
    pub strict: bool,
    /// Threads that compile a module's functions at once; 0 for one per core.
    pub threads: usize,
    /// Matrix products call the 256-bit kernel ([`super::gemm_avx2`]), and maps of `exp`,
    /// `tanh` and `sigmoid` the 256-bit map ([`super::map_avx2`]), when the host has AVX2
    /// and FMA (the default): same bits, twice the width. Off, or on other hosts, they are
    /// the emitted 128-bit code. Never in strict mode or object files.
    pub wide_gemm: bool,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            verify: cfg!(debug_assertions),
            inline_math: true,
            keep_clif: false,
            keep_asm: false,
            avx512: false,
            fma: true,
            strict: false,
            threads: 0,
            wide_gemm: true,
        }
    }
}

/// Everything that can go wrong while compiling or calling.
#[derive(Debug, Clone, PartialEq)]
pub enum JitError {
    /// The host ISA is not supported or a flag was refused.
    Host(String),
    /// Cranelift rejected a function (verifier or code generation) or could not link.
    Codegen { function: String, message: String },
    /// A buffer given to [`CompiledFn::call`] does not have the compiled length.
    BufferLength {
        function: String,
        buffer: Buf,
        expected: usize,
        found: usize,
    },
    /// A run-time index read from the inputs was not an integer in range.
    IndexOutOfRange { function: String },
    /// A function needs more scratch memory than [`MAX_SCRATCH`] `f64`s.
    TooLarge {
        function: String,
        scratch: usize,
        limit: usize,
    },
}

/// The most scratch `f64`s one function may use (2 GiB): a graph needing more is refused at
/// compile time rather than failing to allocate, or thrashing, when it runs.
pub const MAX_SCRATCH: usize = 1 << 28;

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Host(m) => write!(f, "cannot generate code for this machine: {m}"),
            JitError::Codegen { function, message } => {
                write!(f, "code generation failed for `{function}`: {message}")
            }
            JitError::BufferLength {
                function,
                buffer,
                expected,
                found,
            } => write!(
                f,
                "`{function}`: expected {expected} f64s in the {buffer:?} buffer, found {found}"
            ),
            JitError::IndexOutOfRange { function } => {
                write!(
                    f,
                    "`{function}`: an index read from the inputs is out of range"
                )
            }
            JitError::TooLarge {
                function,
                scratch,
                limit,
            } => write!(
                f,
                "`{function}` needs {scratch} f64s of scratch memory, more than the limit of {limit}; \
                 reduce the tensor sizes of the model"
            ),
        }
    }
}

impl std::error::Error for JitError {}

/// Functions from the host's libm that generated code may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Libm {
    Sin,
    Cos,
    Exp,
    Log,
    Log1p,
    Tanh,
    Pow,
}

impl Libm {
    const ALL: [Libm; 7] = [
        Libm::Sin,
        Libm::Cos,
        Libm::Exp,
        Libm::Log,
        Libm::Log1p,
        Libm::Tanh,
        Libm::Pow,
    ];

    /// The symbol generated code imports: in the JIT, a shim of this module; in an object
    /// file ([`Jit::object`]), the C library's function itself.
    fn symbol(self, c: bool) -> &'static str {
        if c {
            return match self {
                Libm::Sin => "sin",
                Libm::Cos => "cos",
                Libm::Exp => "exp",
                Libm::Log => "log",
                Libm::Log1p => "log1p",
                Libm::Tanh => "tanh",
                Libm::Pow => "pow",
            };
        }
        match self {
            Libm::Sin => "ebmc_sin",
            Libm::Cos => "ebmc_cos",
            Libm::Exp => "ebmc_exp",
            Libm::Log => "ebmc_log",
            Libm::Log1p => "ebmc_log1p",
            Libm::Tanh => "ebmc_tanh",
            Libm::Pow => "ebmc_pow",
        }
    }

    pub(super) fn arity(self) -> usize {
        if self == Libm::Pow {
            2
        } else {
            1
        }
    }

    /// The address registered with the JIT. Rust's `f64` methods are the host libm (or
    /// compiler intrinsics for it), so these shims are what `f64::sin` etc. compute — and what
    /// the C library's `sin` etc. compute, which an object file calls instead.
    fn address(self) -> *const u8 {
        extern "C" fn sin(x: f64) -> f64 {
            x.sin()
        }
        extern "C" fn cos(x: f64) -> f64 {
            x.cos()
        }
        extern "C" fn exp(x: f64) -> f64 {
            x.exp()
        }
        extern "C" fn log(x: f64) -> f64 {
            x.ln()
        }
        extern "C" fn log1p(x: f64) -> f64 {
            x.ln_1p()
        }
        extern "C" fn tanh(x: f64) -> f64 {
            x.tanh()
        }
        extern "C" fn pow(x: f64, y: f64) -> f64 {
            x.powf(y)
        }
        match self {
            Libm::Sin => sin as *const u8,
            Libm::Cos => cos as *const u8,
            Libm::Exp => exp as *const u8,
            Libm::Log => log as *const u8,
            Libm::Log1p => log1p as *const u8,
            Libm::Tanh => tanh as *const u8,
            Libm::Pow => pow as *const u8,
        }
    }
}

/// Handle of a function defined in a [`Jit`], valid for the [`Library`] it finishes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FnId(usize);

struct Defined {
    name: String,
    id: FuncId,
    layout: Layout,
    code_size: usize,
    clif: Option<String>,
    asm: Option<String>,
}

/// What the translator needs from the module while a function body is being built.
pub(super) struct Host<'m> {
    pub module: &'m mut dyn Module,
    pub imports: &'m mut HashMap<Libm, FuncId>,
    pub options: &'m JitOptions,
    pub has_fma: bool,
    /// Import libm under its C names ([`Libm::symbol`]).
    pub c_libm: bool,
    /// Matrix products call [`super::gemm_avx2`] (see [`Jit::wide_gemm`]).
    pub wide_gemm: bool,
    /// The module-level id of that import, declared on first use.
    pub gemm: &'m mut Option<FuncId>,
    /// The same for [`super::map_avx2`], which the same hosts call.
    pub map: &'m mut Option<FuncId>,
}

impl Host<'_> {
    /// The module-level id of a libm import, declared on first use.
    pub fn libm(&mut self, f: Libm) -> FuncId {
        if let Some(id) = self.imports.get(&f) {
            return *id;
        }
        let mut sig = self.module.make_signature();
        for _ in 0..f.arity() {
            sig.params.push(AbiParam::new(ir::types::F64));
        }
        sig.returns.push(AbiParam::new(ir::types::F64));
        let id = self
            .module
            .declare_function(f.symbol(self.c_libm), Linkage::Import, &sig)
            .expect("libm shims have fixed, distinct signatures");
        self.imports.insert(f, id);
        id
    }

    /// The module-level id of the 256-bit matrix product `fn(a, b, c, m, n, p, add: u32)`,
    /// declared on first use.
    pub fn wide_gemm(&mut self) -> FuncId {
        let slot = &mut *self.gemm;
        declare_wide(&mut *self.module, slot, gemm_avx2::SYMBOL, 6)
    }

    /// The module-level id of the 256-bit map `fn(src, dst, n, op: u32)`, declared on first
    /// use.
    pub fn wide_map(&mut self) -> FuncId {
        let slot = &mut *self.map;
        declare_wide(&mut *self.module, slot, map_avx2::SYMBOL, 3)
    }
}

/// The id in `slot`, or `symbol` declared there as an import `fn(pointers…, u32)` with
/// `pointers` pointer-sized arguments: the 256-bit kernels' one shape of signature.
fn declare_wide(
    module: &mut dyn Module,
    slot: &mut Option<FuncId>,
    symbol: &str,
    pointers: usize,
) -> FuncId {
    if let Some(id) = *slot {
        return id;
    }
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    for _ in 0..pointers {
        sig.params.push(AbiParam::new(ptr));
    }
    sig.params.push(AbiParam::new(ir::types::I32));
    let id = module
        .declare_function(symbol, Linkage::Import, &sig)
        .expect("each 256-bit kernel has one fixed signature");
    *slot = Some(id);
    id
}

/// A module being filled with functions: a [`JITModule`] (the default) or an
/// [`ObjectModule`]. Defining a function is the same code for both.
pub struct Jit<M: Module = JITModule> {
    module: M,
    ctx: Context,
    fctx: FunctionBuilderContext,
    options: JitOptions,
    has_fma: bool,
    /// Import libm under its C names (an object file) rather than the JIT's shims.
    c_libm: bool,
    imports: HashMap<Libm, FuncId>,
    /// Whether matrix products call [`super::gemm_avx2`], and its import once declared.
    wide_gemm: bool,
    gemm: Option<FuncId>,
    map: Option<FuncId>,
    defined: Vec<Defined>,
    /// Functions built but not yet compiled: their index in `defined`, and their body.
    pending: Vec<(usize, ir::Function)>,
}

/// The host's ISA with the flags of `options`, position-independent or not, and whether it
/// has fused multiply-add.
fn host_isa(options: &JitOptions, pic: bool) -> Result<(OwnedTargetIsa, bool), JitError> {
    let host = |e: &dyn fmt::Display| JitError::Host(e.to_string());
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| host(&e))?;
    let verify = if options.verify { "true" } else { "false" };
    flags.set("enable_verifier", verify).map_err(|e| host(&e))?;
    // cranelift-jit requires absolute relocations, no PIC; a shared library requires PIC.
    flags
        .set("use_colocated_libcalls", "false")
        .map_err(|e| host(&e))?;
    flags
        .set("is_pic", if pic { "true" } else { "false" })
        .map_err(|e| host(&e))?;
    let mut isa_builder = cranelift_native::builder().map_err(|e| host(&e))?;
    if !options.avx512 && cfg!(target_arch = "x86_64") {
        for flag in [
            "has_avx512bitalg",
            "has_avx512dq",
            "has_avx512vl",
            "has_avx512vbmi",
            "has_avx512f",
            "has_avx512vnni",
        ] {
            isa_builder.set(flag, "false").map_err(|e| host(&e))?;
        }
    }
    if !options.fma && cfg!(target_arch = "x86_64") {
        isa_builder.set("has_fma", "false").map_err(|e| host(&e))?;
    }
    let isa = isa_builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| host(&e))?;
    // Fused multiply-add is one instruction with FMA3 (x86-64) and always on aarch64;
    // without it Cranelift would call libm's `fma` per element, so the emitter falls
    // back to a multiply and an add instead.
    let has_fma = options.fma && cfg!(target_arch = "aarch64")
        || isa
            .isa_flags()
            .iter()
            .any(|v| v.name == "has_fma" && v.as_bool() == Some(true));
    Ok((isa, has_fma))
}

impl Jit<JITModule> {
    /// A module for the host machine.
    pub fn new(options: JitOptions) -> Result<Jit, JitError> {
        let (isa, has_fma) = host_isa(&options, false)?;
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        for f in Libm::ALL {
            builder.symbol(f.symbol(false), f.address());
        }
        let wide_gemm = gemm_avx2::available();
        if wide_gemm {
            builder.symbol(gemm_avx2::SYMBOL, gemm_avx2::address());
            builder.symbol(map_avx2::SYMBOL, map_avx2::address());
        }
        let mut jit = Jit::with_module(JITModule::new(builder), options, has_fma, false);
        jit.wide_gemm = wide_gemm && jit.options.wide_gemm && !jit.options.strict && has_fma;
        Ok(jit)
    }

    /// Links every defined function and makes the code executable.
    pub fn finish(mut self) -> Result<Library, JitError> {
        self.flush()?;
        self.module
            .finalize_definitions()
            .map_err(|e| JitError::Codegen {
                function: "<module>".to_string(),
                message: e.to_string(),
            })?;
        let functions = self
            .defined
            .into_iter()
            .map(|d| {
                let address = self.module.get_finalized_function(d.id);
                (d, address)
            })
            .collect();
        Ok(Library {
            inner: Arc::new(Code {
                module: Some(self.module),
                functions,
            }),
        })
    }
}

impl Jit<ObjectModule> {
    /// A module for the host machine whose functions go to a position-independent object
    /// file named `name`, importing libm by its C names.
    pub fn object(options: JitOptions, name: &str) -> Result<Jit<ObjectModule>, JitError> {
        let (isa, has_fma) = host_isa(&options, true)?;
        let builder = ObjectBuilder::new(isa, name, default_libcall_names())
            .map_err(|e| JitError::Host(e.to_string()))?;
        Ok(Jit::with_module(
            ObjectModule::new(builder),
            options,
            has_fma,
            true,
        ))
    }

    /// The bytes of the object file holding every defined function.
    pub fn finish_object(mut self) -> Result<Vec<u8>, JitError> {
        self.flush()?;
        self.module.finish().emit().map_err(|e| JitError::Codegen {
            function: "<object>".to_string(),
            message: e.to_string(),
        })
    }
}

impl<M: Module> Jit<M> {
    fn with_module(module: M, options: JitOptions, has_fma: bool, c_libm: bool) -> Jit<M> {
        Jit {
            ctx: module.make_context(),
            module,
            fctx: FunctionBuilderContext::new(),
            options,
            has_fma,
            c_libm,
            imports: HashMap::new(),
            wide_gemm: false,
            gemm: None,
            map: None,
            defined: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Whether the emitter uses one fused multiply-add instruction for `a * b + c`.
    pub fn has_fma(&self) -> bool {
        self.has_fma
    }

    /// Whether matrix products call the 256-bit kernel of [`super::gemm_avx2`]: a JIT module
    /// (never an object file) on a host with AVX2 and FMA, [`JitOptions::wide_gemm`] on, not
    /// strict.
    pub fn wide_gemm(&self) -> bool {
        self.wide_gemm
    }

    /// Defines a function with the given buffer layout; `body` emits its kernels in order.
    pub fn define(
        &mut self,
        name: &str,
        layout: Layout,
        body: impl FnOnce(&mut FunctionTranslator),
    ) -> Result<FnId, JitError> {
        self.define_linked(name, Linkage::Local, layout, body)
    }

    /// [`Jit::define`] with the symbol's linkage (an object file's entry points are seen by
    /// the code linked with it).
    pub fn define_linked(
        &mut self,
        name: &str,
        linkage: Linkage,
        layout: Layout,
        body: impl FnOnce(&mut FunctionTranslator),
    ) -> Result<FnId, JitError> {
        let codegen = |message: String| JitError::Codegen {
            function: name.to_string(),
            message,
        };
        let mut sig = self.module.make_signature();
        let ptr = self.module.target_config().pointer_type();
        for _ in 0..3 {
            sig.params.push(AbiParam::new(ptr));
        }
        sig.returns.push(AbiParam::new(ir::types::I32));
        let id = self
            .module
            .declare_function(name, linkage, &sig)
            .map_err(|e| codegen(e.to_string()))?;

        // The module would refuse a second body only when given it, at the flush.
        if self.defined.iter().any(|d| d.id == id) {
            let duplicate = ModuleError::DuplicateDefinition(name.to_string());
            return Err(codegen(format!("{duplicate:?}")));
        }
        self.module.clear_context(&mut self.ctx);
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        let frontend = self.module.target_config();
        {
            let builder = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let host = Host {
                module: &mut self.module,
                imports: &mut self.imports,
                options: &self.options,
                has_fma: self.has_fma,
                c_libm: self.c_libm,
                wide_gemm: self.wide_gemm,
                gemm: &mut self.gemm,
                map: &mut self.map,
            };
            let mut t = FunctionTranslator::new(builder, host, layout);
            body(&mut t);
            t.finish().finalize(frontend);
        }
        let clif = self.options.keep_clif.then(|| self.ctx.func.to_string());
        // Compiled later, with the others, in parallel ([`Jit::flush`]).
        let func = std::mem::replace(&mut self.ctx.func, ir::Function::new());
        self.pending.push((self.defined.len(), func));
        self.defined.push(Defined {
            name: name.to_string(),
            id,
            layout,
            code_size: 0,
            clif,
            asm: None,
        });
        Ok(FnId(self.defined.len() - 1))
    }

    /// Compiles every function defined since the last flush — on as many threads as the
    /// machine has cores, each compilation independent of the others (Cranelift's time is
    /// most of a model's compile time) — and gives their machine code to the module in the
    /// order they were defined, so the result does not depend on the threads.
    fn flush(&mut self) -> Result<(), JitError> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(());
        }
        let (ats, jobs): (Vec<usize>, Vec<(FuncId, ir::Function)>) = pending
            .into_iter()
            .map(|(at, f)| (at, (self.defined[at].id, f)))
            .unzip();
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let compiled = compile_all(self.module.isa(), jobs, self.options.keep_asm, threads);
        for (at, machine) in ats.into_iter().zip(compiled) {
            let d = &mut self.defined[at];
            let codegen = |message: String| JitError::Codegen {
                function: d.name.clone(),
                message,
            };
            let m = machine.map_err(codegen)?;
            self.module
                .define_function_bytes(d.id, m.alignment, &m.bytes, &m.relocs)
                .map_err(|e| codegen(format!("{e:?}")))?;
            (d.code_size, d.asm) = (m.size, m.asm);
        }
        Ok(())
    }

    /// Defines a function that calls `parts` — functions of the same layout defined before —
    /// in order, returning the first non-zero status. Its CLIF and assembly text are the parts'
    /// followed by its own, and its code size counts theirs, so `emit clif` and `bench` show
    /// all the code an entry point runs.
    pub fn define_calls(
        &mut self,
        name: &str,
        layout: Layout,
        parts: &[FnId],
    ) -> Result<FnId, JitError> {
        self.define_calls_linked(name, Linkage::Local, layout, parts)
    }

    /// [`Jit::define_calls`] with the symbol's linkage.
    pub fn define_calls_linked(
        &mut self,
        name: &str,
        linkage: Linkage,
        layout: Layout,
        parts: &[FnId],
    ) -> Result<FnId, JitError> {
        let ids: Vec<FuncId> = parts.iter().map(|p| self.defined[p.0].id).collect();
        let f = self.define_linked(name, linkage, layout, |t| {
            for &id in &ids {
                t.call_part(id);
            }
        })?;
        // The texts and sizes below are the compiled parts'.
        self.flush()?;
        let join = |texts: Vec<Option<&String>>| -> Option<String> {
            texts
                .into_iter()
                .collect::<Option<Vec<&String>>>()
                .map(|t| t.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"))
        };
        let all: Vec<&Defined> = parts
            .iter()
            .chain(std::iter::once(&f))
            .map(|p| &self.defined[p.0])
            .collect();
        let clif = join(all.iter().map(|d| d.clif.as_ref()).collect());
        let asm = join(all.iter().map(|d| d.asm.as_ref()).collect());
        let code_size = all.iter().map(|d| d.code_size).sum();
        let d = &mut self.defined[f.0];
        (d.clif, d.asm, d.code_size) = (clif, asm, code_size);
        Ok(f)
    }

    /// Gives a defined function the name its [`CompiledFn`] reports (the module's symbol stays).
    pub fn rename(&mut self, f: FnId, name: &str) {
        self.defined[f.0].name = name.to_string();
    }

    /// Machine-code bytes of a defined function (compiling what waits to be).
    pub fn code_size(&mut self, f: FnId) -> Result<usize, JitError> {
        self.flush()?;
        Ok(self.defined[f.0].code_size)
    }
}

/// One function compiled to machine code, for [`Module::define_function_bytes`].
struct Machine {
    bytes: Vec<u8>,
    /// Code and constants, as Cranelift counts them.
    size: usize,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
    asm: Option<String>,
}

/// Compiles one function for `isa`: what `Module::define_function` does before it hands the
/// bytes to the module.
fn compile_one(
    isa: &dyn TargetIsa,
    id: FuncId,
    func: ir::Function,
    keep_asm: bool,
) -> Result<Machine, String> {
    let mut ctx = Context::for_function(func);
    ctx.set_disasm(keep_asm);
    let alignment = match ctx.compile(isa, &mut ControlPlane::default()) {
        Ok(code) => code.buffer.alignment as u64,
        Err(e) => return Err(format!("{:?}", ModuleError::Compilation(e.inner))),
    };
    let code = ctx.compiled_code().expect("compiled just above");
    let relocs = code
        .buffer
        .relocs()
        .iter()
        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
        .collect();
    Ok(Machine {
        bytes: code.code_buffer().to_vec(),
        size: code.code_info().total_size as usize,
        alignment,
        relocs,
        asm: code.vcode.clone().filter(|_| keep_asm),
    })
}

/// [`compile_one`] of every job, in their order, on up to `threads` threads: the largest
/// functions first, each thread taking the next job when it is free.
fn compile_all(
    isa: &dyn TargetIsa,
    jobs: Vec<(FuncId, ir::Function)>,
    keep_asm: bool,
    threads: usize,
) -> Vec<Result<Machine, String>> {
    let threads = threads.min(jobs.len());
    if threads <= 1 {
        return jobs
            .into_iter()
            .map(|(id, f)| compile_one(isa, id, f, keep_asm))
            .collect();
    }
    let n = jobs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(jobs[k].1.dfg.num_insts()));
    let queue: Vec<std::sync::Mutex<Option<(FuncId, ir::Function)>>> = jobs
        .into_iter()
        .map(|j| std::sync::Mutex::new(Some(j)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Machine, String>>> = (0..n).map(|_| None).collect();
    // Each worker takes the next job until none is left; the calling thread is one of them,
    // so a thread the system refuses to start only means fewer workers.
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&k) = order.get(i) else {
                break;
            };
            let job = queue[k].lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some((id, f)) = job {
                done.push((k, compile_one(isa, id, f, keep_asm)));
            }
        }
        done
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (1..threads)
            .map_while(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut all = work();
        for w in workers {
            // A panic in Cranelift on a worker is a panic here, as it would be inline.
            all.extend(w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        for (k, r) in all {
            results[k] = Some(r);
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not compiled".to_string())))
        .collect()
}

/// Owns the executable memory; frees it on drop.
struct Code {
    module: Option<JITModule>,
    functions: Vec<(Defined, *const u8)>,
}

// SAFETY: after `Jit::finish`, a `Code` is never mutated: the `JITModule` is touched again only
// by `Drop`, which runs once, when the last `Arc` goes; the addresses are plain data pointing at
// finalized, read-only executable memory, and the generated functions keep no state between
// calls (everything they write goes to the caller's buffers). So moving a `Code` to another
// thread, or calling its functions from several threads at once, races on nothing.
unsafe impl Send for Code {}
// SAFETY: as above — shared access only reads immutable data.
unsafe impl Sync for Code {}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: `Code` is dropped only when the last `Library` and `CompiledFn` holding
            // its `Arc` are gone, so no pointer into this module's code can be called any more,
            // and generated functions never return pointers to themselves.
            unsafe { module.free_memory() };
        }
    }
}

/// Finalized native code: the functions of one [`Jit`].
#[derive(Clone)]
pub struct Library {
    inner: Arc<Code>,
}

impl Library {
    /// The callable function `f`.
    pub fn get(&self, f: FnId) -> CompiledFn {
        let (d, address) = &self.inner.functions[f.0];
        // SAFETY: `address` is the finalized entry of a function declared in `Jit::define`
        // with exactly the signature `RawFn` spells (three pointer parameters, an i32 result,
        // the host's default C calling convention) — `make_signature` gives the system ABI.
        let raw = unsafe { std::mem::transmute::<*const u8, RawFn>(*address) };
        CompiledFn {
            raw,
            name: d.name.clone(),
            layout: d.layout,
            _code: Arc::clone(&self.inner),
        }
    }

    /// The CLIF text of `f`, when compiled with [`JitOptions::keep_clif`].
    pub fn clif(&self, f: FnId) -> Option<&str> {
        self.inner.functions[f.0].0.clif.as_deref()
    }

    /// The assembly of `f`, when compiled with [`JitOptions::keep_asm`].
    pub fn asm(&self, f: FnId) -> Option<&str> {
        self.inner.functions[f.0].0.asm.as_deref()
    }

    /// Machine-code bytes of `f`.
    pub fn code_size(&self, f: FnId) -> usize {
        self.inner.functions[f.0].0.code_size
    }
}

/// A compiled function, callable from safe code.
///
/// # Safety
///
/// The call into native code is sound because of three facts, each established elsewhere and
/// checked here where it can be:
///
/// 1. *Signature.* The code was compiled with the signature of `RawFn` (see [`Library::get`]).
/// 2. *Bounds.* The code reads at most `layout.inputs` `f64`s from `inputs`, writes at most
///    `layout.outputs` to `outputs` and reads and writes at most `layout.scratch` in
///    `scratch` — the emitter checks every kernel's regions against the layout and guards
///    every run-time index. [`CompiledFn::call`] checks that the slices have exactly those
///    lengths before calling, so every access is inside a live Rust allocation; the three
///    slices come from distinct borrows, so the `*mut` buffers alias nothing.
/// 3. *Lifetime.* The code memory is owned by an `Arc` that this value holds.
///
/// Generated code has no other effects: it does not allocate, unwind or keep pointers, and
/// it calls only the pure libm shims of this module.
#[derive(Clone)]
pub struct CompiledFn {
    raw: RawFn,
    name: String,
    layout: Layout,
    _code: Arc<Code>,
}

impl CompiledFn {
    /// Runs the function. Each slice must have exactly the length of [`Self::layout`].
    pub fn call(
        &self,
        inputs: &[f64],
        outputs: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<(), JitError> {
        for (buffer, found) in [
            (Buf::Input, inputs.len()),
            (Buf::Output, outputs.len()),
            (Buf::Scratch, scratch.len()),
        ] {
            let expected = self.layout.len(buffer);
            if found != expected {
                return Err(JitError::BufferLength {
                    function: self.name.clone(),
                    buffer,
                    expected,
                    found,
                });
            }
        }
        // SAFETY: see the type's `# Safety` section; the lengths were checked just above.
        let status =
            unsafe { (self.raw)(inputs.as_ptr(), outputs.as_mut_ptr(), scratch.as_mut_ptr()) };
        match status {
            0 => Ok(()),
            _ => Err(JitError::IndexOutOfRange {
                function: self.name.clone(),
            }),
        }
    }

    /// The buffer lengths this function was compiled for.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address of the generated code: two values with the same address run the same code.
    pub fn address(&self) -> usize {
        self.raw as usize
    }

    /// A zeroed scratch buffer of the right length.
    pub fn scratch(&self) -> Vec<f64> {
        vec![0.0; self.layout.scratch]
    }
}
