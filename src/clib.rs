//! # `ebmc build --lib`: one model as a C shared library
//!
//! [`build`] compiles a model's energy, its gradient and (for enumerated outputs) its
//! inference ahead of time and writes into a directory:
//!
//! * `lib<model>.so`: the native functions, defined by [`crate::jit`] into an object file
//!   ([`compile::compile_object`], strict code: bit for bit what `ebmc eval` computes), linked
//!   by the system C compiler with a few C wrappers, generated here, that give every variable
//!   its own pointer (they copy the caller's arrays into the packed buffers of the ABI of
//!   [`crate::jit`] and the results back out, nothing else);
//! * `<model>.h`: the prototypes and the layout of every variable (`#define`s of its
//!   dimensions and length, row-major), with comments;
//! * `example.c`: a program calling the energy and the gradient, compiled with one `cc` line
//!   printed in the header; given a file of numbers it evaluates there (the tests' C side).
//!
//! With a weights file (`--weights W.json`, as `ebmc run --save` writes it), the library also
//! holds those params as read-only arrays, `<model>_default_<param>`, to pass to its functions.
//!
//! Invariants of the library:
//! * no global state and no allocation: every function works in a `work` array the caller
//!   owns (`<MODEL>_WORK_LEN` doubles), so calls on distinct `work` arrays may run in parallel;
//! * the only undefined symbols are the C library's (`memcpy`, `memset`) and libm's (`exp`,
//!   `log`, … as strict code calls them);
//! * the shared library, the header and the example are each replaced whole (written beside
//!   their path, then renamed), so a failed build leaves the previous files.
//!
//! `<model>_infer` is in the library for one `infer` group over every output: by enumeration
//! (every output discrete: one call of the answers' entry point and an argmin, as
//! [`crate::runtime`] does), or by descent (every output real: the runtime's descent loop,
//! generated in C around the free energy's gradient, the same operations in the same order).
//! A descent from a random `init` takes a generator the caller owns, `<model>_rng`: ebmc's
//! own ([`crate::rng::Rng`] — xoshiro256** seeded by splitmix64, normal deviates by the polar
//! method with its spare), written in C, so a generator seeded as `ebmc run` seeds its draws
//! the same start. Other models (a latent descended inside every evaluation; mixed groups)
//! get energy and gradient, and [`Built::notes`] says why inference was left out.

use crate::atomic;
use crate::check::{Descent, Elim, Infer, InferMethod, Init, Model, Role, VarId};
use crate::compile::{self, Entry, EntryPoint, Input, Output};
use crate::jit::ObjectFunction;
use crate::runtime::weights;
use crate::types::Ty;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why no library was built: the model or the command (the user's to fix), or the machine
/// (no C compiler, a directory that cannot be written).
#[derive(Clone, Debug, PartialEq)]
pub enum BuildError {
    User(String),
    Io(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::User(m) | BuildError::Io(m) => f.write_str(m),
        }
    }
}

/// What [`build`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    pub library: PathBuf,
    pub header: PathBuf,
    pub example: PathBuf,
    /// Whether the library has `<model>_infer`.
    pub infer: bool,
    /// What the user should know (what was left out, and why).
    pub notes: Vec<String>,
}

/// `<model>_infer`'s status when its descent diverged (the values became infinite or NaN).
const DIVERGED: u32 = 2;
/// `<model>_infer`'s status when its descent made no progress (it oscillates).
const NO_PROGRESS: u32 = 3;
/// How often (in steps) the library's descent checks its progress: the runtime's period.
const STALL_CHECK: usize = 1000;

/// C keywords and the names the generated functions give their own parameters: a variable
/// with one of these names gets a `_` after it in C.
const RESERVED: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "energy_out",
    "work",
    "in",
    "out",
    "scratch",
    "status",
    "bool",
    "true",
    "false",
    "es",
    "best",
    "best_e",
    "i",
    "NULL",
    "size_t",
    "memcpy",
    "memset",
    "INFINITY",
];

/// The C name of a variable's parameter.
fn c_name(name: &str) -> String {
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// How `<model>_infer` finds its answer.
enum LibInfer {
    /// Every output discrete, enumerated together: one call of the answers' entry point.
    Enumerate,
    /// Every output real, descended together from its `init` (a constant, or drawn from the
    /// caller's generator): the runtime's descent loop, written in C around the free
    /// energy's gradient.
    Descent(Descent),
}

/// Whether `<model>_infer` can be generated, and how: one inference group over every output,
/// either enumerated (every output discrete) or descended (every output real), with no
/// latent left for an inner descent.
fn infer_support(model: &Model) -> Result<LibInfer, String> {
    let outputs: Vec<VarId> = model.vars_of(Role::Output).map(|(id, _)| id).collect();
    if let Some(v) = model
        .vars
        .iter()
        .find(|v| matches!(v.elim, Some(Elim::MinDescent(_))))
    {
        return Err(format!(
            "latent `{}` is eliminated by descent inside every evaluation, which the library does not have yet",
            v.name
        ));
    }
    let discrete = outputs.iter().filter(|v| model.var(**v).ty.is_discrete());
    let all_discrete = discrete.count() == outputs.len();
    match model.infer.as_slice() {
        [g] if g.vars == outputs && g.method == InferMethod::Enumerate && all_discrete => {
            Ok(LibInfer::Enumerate)
        }
        [Infer {
            vars,
            method: InferMethod::Descent(d),
            ..
        }] if *vars == outputs && !outputs.iter().any(|v| model.var(*v).ty.is_discrete()) => {
            Ok(LibInfer::Descent(d.clone()))
        }
        _ => Err("the library infers by one `infer … by enumerate` over every output (all discrete) or one `infer … by descent` over every output (all real)".into()),
    }
}

/// Builds the library of `model` into `dir` (created if missing), with the C compiler `cc`
/// (the `CC` environment variable's, or `cc`); with `weights`, a weights file whose params
/// the library holds.
pub fn build(model: &Model, dir: &Path, weights: Option<&Path>) -> Result<Built, BuildError> {
    let user = BuildError::User;
    let io = BuildError::Io;
    if !is_c_identifier(&model.name) {
        return Err(user(format!(
            "the model's name `{}` is not a C identifier",
            model.name
        )));
    }
    let defaults = match weights {
        Some(path) => {
            let params: Vec<(&str, &Ty)> = model
                .vars_of(Role::Param)
                .map(|(_, v)| (v.name.as_str(), &v.ty))
                .collect();
            Some(weights::read(path, &params).map_err(|e| user(e.to_string()))?)
        }
        None => None,
    };
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    std::fs::create_dir_all(dir)
        .map_err(|e| io(format!("cannot create {}: {e}", dir.display())))?;
    let mut notes = Vec::new();
    let mut wanted = vec![Entry::Energy, Entry::Grad];
    let how = match infer_support(model) {
        Ok(how) => {
            wanted.push(match how {
                LibInfer::Enumerate => Entry::Answers,
                LibInfer::Descent(_) => Entry::InferGrad,
            });
            Some(how)
        }
        Err(why) => {
            notes.push(format!("no `{}_infer` in the library: {why}", model.name));
            None
        }
    };
    let infer = how.is_some();
    let prefix = format!("ebmc_{}_", model.name);
    let code = compile::compile_object(model, &wanted, &prefix)
        .map_err(|e| user(format!("cannot compile `{}`: {e}", model.name)))?;
    let mut api = Api::new(model, &code)?;
    api.defaults = defaults;
    if let Some(LibInfer::Descent(d)) = how {
        api.descent = Some(d);
    }
    let header = api.header();
    let wrappers = api.wrappers();
    let example = api.example();

    // Scratch files in a directory of their own inside `dir` (the same file system, so the
    // library is renamed into place), removed however the build ends.
    let tmp = dir.join(format!(".ebmc-build-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)
        .map_err(|e| io(format!("cannot write in {}: {e}", dir.display())))?;
    let _cleanup = RemoveDir(tmp.clone());
    let name = &model.name;
    let object = tmp.join(format!("{name}.o"));
    let source = tmp.join(format!("{name}_api.c"));
    let header_path = dir.join(format!("{name}.h"));
    let library = dir.join(format!("lib{name}.so"));
    let example_path = dir.join("example.c");
    let write = |p: &Path, bytes: &[u8]| {
        std::fs::write(p, bytes).map_err(|e| io(format!("cannot write {}: {e}", p.display())))
    };
    write(&object, &code.object.bytes)?;
    write(&source, wrappers.as_bytes())?;
    // The wrappers include the header: a copy beside them, so the one in `dir` is replaced
    // only once everything has compiled.
    write(&tmp.join(format!("{name}.h")), header.as_bytes())?;
    let linked = tmp.join(format!("lib{name}.so"));
    let output = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-std=c99", "-ffp-contract=off", "-Wall", "-Werror"])
        .arg("-o")
        .arg(&linked)
        .arg(&source)
        .arg(&object)
        // Cranelift's object says its stack is not executable; say it again for linkers that
        // ask every input.
        .args(["-Wl,-z,noexecstack", "-Wl,--no-undefined", "-lm"])
        .output()
        .map_err(|e| {
            io(format!(
                "cannot run the C compiler `{cc}`: {e}; `ebmc build --lib` links with the system C compiler (install gcc or clang, or set CC)"
            ))
        })?;
    if !output.status.success() {
        return Err(io(format!(
            "the C compiler `{cc}` failed to link lib{name}.so:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    std::fs::rename(&linked, &library)
        .map_err(|e| io(format!("cannot write {}: {e}", library.display())))?;
    atomic::write(&header_path, header.as_bytes())
        .map_err(|e| io(format!("cannot write {}: {e}", header_path.display())))?;
    atomic::write(&example_path, example.as_bytes())
        .map_err(|e| io(format!("cannot write {}: {e}", example_path.display())))?;
    Ok(Built {
        library,
        header: header_path,
        example: example_path,
        infer,
        notes,
    })
}

/// `lo + (hi - lo) * u`, u uniform in [0, 1): [`crate::rng::Rng::uniform_in`].
fn uniform_draw(name: &str, lo: f64, hi: f64) -> String {
    format!("{lo:e} + ({hi:e} - {lo:e}) * {name}_uniform(rng)")
}

/// An init as the source writes it, for the header's comments.
fn init_text(init: &Init) -> String {
    match init {
        Init::Values(v) => format!("{v:?}"),
        Init::Normal { mean, std } => format!("normal({mean}, {std})"),
        Init::Uniform { lo, hi } => format!("uniform({lo}, {hi})"),
        Init::Glorot => "glorot".into(),
    }
}

/// [`crate::rng::Rng`] in C: `<model>_rng_seed` ([`Rng::new`](crate::rng::Rng::new)), and
/// the library's own (static) `next`, `uniform` and `normal`, the same operations in the same
/// order, so the same seed draws the same doubles bit for bit (the library is compiled with
/// `-ffp-contract=off`: no multiply–add is fused that Rust computes in two roundings).
fn rng_functions(name: &str) -> String {
    format!(
        "\nstatic uint64_t {name}_splitmix(uint64_t *state) {{\n\
         \x20   uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);\n\
         \x20   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;\n\
         \x20   z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;\n\
         \x20   return z ^ (z >> 31);\n\
         }}\n\
         \nvoid {name}_rng_seed({name}_rng *rng, uint64_t seed) {{\n\
         \x20   for (int i = 0; i < 4; i++) rng->s[i] = {name}_splitmix(&seed);\n\
         \x20   rng->has_spare = 0;\n\
         \x20   rng->spare = 0.0;\n\
         }}\n\
         \nstatic inline uint64_t {name}_rotl(uint64_t x, int k) {{\n\
         \x20   return (x << k) | (x >> (64 - k));\n\
         }}\n\
         \nstatic inline uint64_t {name}_next({name}_rng *rng) {{\n\
         \x20   uint64_t *s = rng->s;\n\
         \x20   uint64_t result = {name}_rotl(s[1] * 5, 7) * 9;\n\
         \x20   uint64_t t = s[1] << 17;\n\
         \x20   s[2] ^= s[0];\n\
         \x20   s[3] ^= s[1];\n\
         \x20   s[1] ^= s[2];\n\
         \x20   s[0] ^= s[3];\n\
         \x20   s[2] ^= t;\n\
         \x20   s[3] = {name}_rotl(s[3], 45);\n\
         \x20   return result;\n\
         }}\n\
         \nstatic inline double {name}_uniform({name}_rng *rng) {{\n\
         \x20   return (double)({name}_next(rng) >> 11) * (1.0 / 9007199254740992.0);\n\
         }}\n\
         \nstatic inline double {name}_normal({name}_rng *rng) {{\n\
         \x20   if (rng->has_spare) {{\n\
         \x20       rng->has_spare = 0;\n\
         \x20       return rng->spare;\n\
         \x20   }}\n\
         \x20   for (;;) {{\n\
         \x20       double u = 2.0 * {name}_uniform(rng) - 1.0;\n\
         \x20       double v = 2.0 * {name}_uniform(rng) - 1.0;\n\
         \x20       double s = u * u + v * v;\n\
         \x20       if (s > 0.0 && s < 1.0) {{\n\
         \x20           double k = sqrt(-2.0 * log(s) / s);\n\
         \x20           rng->spare = v * k;\n\
         \x20           rng->has_spare = 1;\n\
         \x20           return u * k;\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n"
    )
}

/// Removes a directory and what it holds when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn is_c_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&s)
}

/// One generated C function: the entry point it wraps and its object function.
struct Wrapped<'c> {
    entry: &'c EntryPoint,
    function: &'c ObjectFunction,
}

/// Everything the C text is generated from.
struct Api<'m> {
    model: &'m Model,
    /// Upper-case model name, the prefix of every `#define`.
    upper: String,
    energy: Wrapped<'m>,
    grad: Wrapped<'m>,
    answers: Option<Wrapped<'m>>,
    /// The free energy and its gradient with respect to the outputs, for a descent.
    infer_grad: Option<Wrapped<'m>>,
    /// The descent `<model>_infer` runs, when it descends.
    descent: Option<Descent>,
    /// Doubles of the `work` array: the largest of the functions' three buffers together.
    work: usize,
    /// The values of every param, in declaration order, to hold in the library.
    defaults: Option<Vec<Vec<f64>>>,
}

impl<'m> Api<'m> {
    fn new(model: &'m Model, code: &'m compile::ObjectCode) -> Result<Api<'m>, BuildError> {
        for v in &model.vars {
            if !is_c_identifier(&v.name) && !RESERVED.contains(&v.name.as_str()) {
                return Err(BuildError::User(format!(
                    "variable `{}` has no C name",
                    v.name
                )));
            }
        }
        // `grad_NAME` of one variable must not be the name of another.
        for v in &model.vars {
            if let Some(other) = v.name.strip_prefix("grad_") {
                let graded = |id| {
                    let o = model.var(id);
                    o.role != Role::Input && !o.ty.is_discrete()
                };
                if model.var_named(other).is_some_and(graded) {
                    return Err(BuildError::User(format!(
                        "variables `{other}` and `{}` would both be the C parameter `{}` of `{}_grad`; rename one",
                        v.name, v.name, model.name
                    )));
                }
            }
        }
        let find = |e: Entry| {
            code.entries
                .iter()
                .zip(&code.object.functions)
                .find(|(p, _)| p.entry == e)
                .map(|(entry, function)| Wrapped { entry, function })
        };
        let missing = |e: Entry| {
            BuildError::User(format!(
                "model `{}` has no `{}` entry point",
                model.name,
                e.name()
            ))
        };
        let energy = find(Entry::Energy).ok_or_else(|| missing(Entry::Energy))?;
        let grad = find(Entry::Grad).ok_or_else(|| missing(Entry::Grad))?;
        let answers = find(Entry::Answers);
        let infer_grad = find(Entry::InferGrad);
        let work = code
            .object
            .functions
            .iter()
            .map(|f| f.layout.inputs + f.layout.outputs + f.layout.scratch)
            .max()
            .unwrap_or(0);
        Ok(Api {
            model,
            upper: model.name.to_uppercase(),
            energy,
            grad,
            answers,
            infer_grad,
            descent: None,
            work,
            defaults: None,
        })
    }

    fn name(&self) -> &str {
        &self.model.name
    }

    /// Whether `<model>_infer` descends from a random `init`: it then takes a generator.
    fn random_start(&self) -> bool {
        self.descent
            .as_ref()
            .is_some_and(|d| !matches!(d.init, Init::Values(_)))
    }

    /// The variables the gradient is reported for, as `ebmc eval` does: every real param,
    /// output and latent, in declaration order.
    fn graded(&self) -> impl Iterator<Item = (VarId, &crate::check::Var)> {
        self.model
            .vars
            .iter()
            .enumerate()
            .filter(|(_, v)| v.role != Role::Input && !v.ty.is_discrete())
            .map(|(i, v)| (VarId(i as u32), v))
    }

    /// The variables inference takes: params and inputs, in declaration order.
    fn given(&self) -> impl Iterator<Item = (VarId, &crate::check::Var)> {
        self.model
            .vars
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v.role, Role::Param | Role::Input))
            .map(|(i, v)| (VarId(i as u32), v))
    }

    fn energy_params(&self) -> String {
        let vars: Vec<String> = self
            .model
            .vars
            .iter()
            .map(|v| format!("const double *{}", c_name(&v.name)))
            .collect();
        vars.join(", ")
    }

    fn grad_params(&self) -> String {
        let mut ps = vec![self.energy_params(), "double *energy_out".to_string()];
        for (_, v) in self.graded() {
            ps.push(format!("double *grad_{}", v.name));
        }
        ps.push("double *work".into());
        ps.join(", ")
    }

    fn infer_params(&self) -> String {
        let mut ps: Vec<String> = self
            .given()
            .map(|(_, v)| format!("const double *{}", c_name(&v.name)))
            .collect();
        for (_, v) in self.model.vars_of(Role::Output) {
            ps.push(format!("double *{}", c_name(&v.name)));
        }
        ps.push("double *energy_out".into());
        if self.random_start() {
            ps.push(format!("{}_rng *rng", self.name()));
        }
        ps.push("double *work".into());
        ps.join(", ")
    }

    fn header(&self) -> String {
        let (name, up) = (self.name(), &self.upper);
        let mut h = String::new();
        let guard = format!("EBMC_{up}_H");
        let _ = writeln!(
            h,
            "/* {name}.h: the C interface of lib{name}.so, generated by `ebmc build --lib`.\n\
             \x20*\n\
             \x20* Every variable is an array of doubles in row-major order (a scalar is an array\n\
             \x20* of one); a class value is an integral double in 0..k-1, a sign value -1.0 or 1.0.\n\
             \x20* Its length is NAME_LEN below, its dimensions NAME_DIM0, NAME_DIM1, ...\n\
             \x20*\n\
             \x20* Every function returns {up}_OK (0), or {up}_INDEX_OUT_OF_RANGE when a class\n\
             \x20* or sign value is not one (outputs are then unspecified). It computes exactly\n\
             \x20* what `ebmc eval` computes, bit for bit, on this machine's C library.\n\
             \x20*\n\
             \x20* No global state, no allocation: each function works in `work`, an array of\n\
             \x20* {up}_WORK_LEN doubles that the caller owns (its contents on entry do not\n\
             \x20* matter). Calls on distinct `work` arrays may run on several threads at once.\n\
             \x20* The native code is built for the CPU of the machine that ran ebmc.\n\
             \x20*\n\
             \x20* Compile and link:  cc -o prog prog.c -I DIR -L DIR -l{name} -Wl,-rpath,DIR -lm\n\
             \x20*/"
        );
        let _ = writeln!(h, "#ifndef {guard}\n#define {guard}\n");
        let _ = writeln!(h, "#include <stddef.h>\n#include <stdint.h>\n");
        let _ = writeln!(h, "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n");
        let _ = writeln!(h, "#define {up}_OK 0");
        let _ = writeln!(
            h,
            "#define {up}_INDEX_OUT_OF_RANGE {}",
            crate::jit::STATUS_INDEX_OUT_OF_RANGE
        );
        if self.descent.is_some() {
            let _ = writeln!(
                h,
                "/* {name}_infer's descent: the values became infinite or NaN (lower the rate) */\n\
                 #define {up}_DIVERGED {DIVERGED}\n\
                 /* {name}_infer's descent: the energy is no lower than where it started after a\n\
                 \x20* thousand steps or at the end, though its first step promised a decrease:\n\
                 \x20* the steps overshoot and oscillate (lower the rate) */\n\
                 #define {up}_NO_PROGRESS {NO_PROGRESS}"
            );
        }
        let _ = writeln!(
            h,
            "/* Doubles of the `work` array every function takes. */\n#define {up}_WORK_LEN {}\n",
            self.work
        );
        let _ = writeln!(h, "/* The variables, in declaration order. */");
        for v in &self.model.vars {
            let role = v.role.keyword();
            let _ = writeln!(h, "/* {role} {} : {} */", v.name, v.ty);
            let vn = &v.name;
            match &v.ty {
                Ty::Real(shape) | Ty::Sign(shape) => {
                    for (k, d) in shape.0.iter().enumerate() {
                        let _ = writeln!(h, "#define {up}_{vn}_DIM{k} {d}");
                    }
                }
                Ty::Class(k) => {
                    let _ = writeln!(h, "#define {up}_{vn}_CLASSES {k}");
                }
            }
            let _ = writeln!(h, "#define {up}_{vn}_LEN {}", v.ty.elements());
        }
        let _ = writeln!(
            h,
            "\n/* The energy E at the given value of every variable, in *energy_out. */\n\
             int {name}_energy({}, double *energy_out, double *work);\n",
            self.energy_params()
        );
        let graded: Vec<&str> = self.graded().map(|(_, v)| v.name.as_str()).collect();
        let _ = writeln!(
            h,
            "/* The energy, and its gradient with respect to every real param, output and\n\
             \x20* latent ({}) in grad_NAME, an array of NAME_LEN doubles;\n\
             \x20* a NULL grad_NAME skips that gradient. */\n\
             int {name}_grad({});\n",
            if graded.is_empty() {
                "none here".to_string()
            } else {
                graded.join(", ")
            },
            self.grad_params()
        );
        if self.answers.is_some() {
            let outs: Vec<&str> = self
                .model
                .vars_of(Role::Output)
                .map(|(_, v)| v.name.as_str())
                .collect();
            let _ = writeln!(
                h,
                "/* Inference by enumeration: the answer ({}) of lowest free energy given the\n\
             \x20* params and inputs, written to the output arrays, and that free energy in\n\
             \x20* *energy_out (the first answer on ties; a NaN energy never wins). */\n\
             int {name}_infer({});\n",
                outs.join(", "),
                self.infer_params()
            );
        }
        if let Some(d) = &self.descent {
            let outs: Vec<&str> = self
                .model
                .vars_of(Role::Output)
                .map(|(_, v)| v.name.as_str())
                .collect();
            if self.random_start() {
                let _ = writeln!(
                    h,
                    "/* The generator {name}_infer draws its random start from (`init = {}`): ebmc's own\n\
                 \x20* (xoshiro256** seeded by splitmix64; normal deviates by the polar method, which\n\
                 \x20* keeps a spare), so a generator seeded with S draws what `ebmc run`'s seeded\n\
                 \x20* with S draws: `ebmc run --at` infers with the run's seed (its `train` seed, or\n\
                 \x20* --seed). The caller owns it; each call advances it; one per thread. */\n\
                 typedef struct {{ uint64_t s[4]; int has_spare; double spare; }} {name}_rng;\n\
                 void {name}_rng_seed({name}_rng *rng, uint64_t seed);\n",
                    init_text(&d.init)
                );
            }
            let _ = writeln!(
                h,
                "/* Inference by gradient descent, as `ebmc run` infers: {} from their `init`,\n\
             \x20* at most {} steps of rate {:e}, stopping early when the gradient's norm is below\n\
             \x20* {:e}; the answer in the output arrays and its free energy in *energy_out.\n\
             \x20* Returns {up}_DIVERGED or {up}_NO_PROGRESS when the descent fails as `ebmc run`'s\n\
             \x20* would (the outputs then hold the last iterate). */\n\
             int {name}_infer({});\n",
                outs.join(", "),
                d.steps,
                d.rate,
                d.tol,
                self.infer_params()
            );
        }
        let _ = writeln!(
            h,
            "/* {up}_WORK_LEN, for callers that link without this header's macros. */\n\
             size_t {name}_work_len(void);\n"
        );
        if self.defaults.is_some() {
            let _ = writeln!(
                h,
                "/* The params of the weights file the library was built with (read-only). */\n\
                 #define {up}_HAS_DEFAULTS 1"
            );
            for (_, v) in self.model.vars_of(Role::Param) {
                let _ = writeln!(
                    h,
                    "extern const double {name}_default_{}[{up}_{}_LEN];",
                    v.name, v.name
                );
            }
            h.push('\n');
        }
        let _ = writeln!(h, "#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */");
        h
    }

    /// `memcpy`s of every variable into the function's packed inputs.
    fn pack(&self, w: &Wrapped, s: &mut String) {
        for port in &w.entry.inputs {
            let Input::Value(v) = port.what else {
                unreachable!("the library's entry points take values only")
            };
            let _ = writeln!(
                s,
                "    memcpy(in + {}, {}, {} * sizeof(double));",
                port.offset,
                c_name(&self.model.var(v).name),
                port.len
            );
        }
    }

    /// The body of a wrapper: pack, call, return a failure at once.
    fn call(&self, w: &Wrapped, s: &mut String) {
        let l = w.function.layout;
        let _ = writeln!(
            s,
            "    double *in = work, *out = work + {}, *scratch = work + {};\n    (void)out; (void)scratch;",
            l.inputs,
            l.inputs + l.outputs
        );
        self.pack(w, s);
        let _ = writeln!(
            s,
            "    int status = (int){}(in, out, scratch);\n    if (status != 0) return status;",
            w.function.symbol
        );
    }

    fn output_offset(w: &Wrapped, what: Output) -> Option<(usize, usize)> {
        w.entry.output(what).map(|p| (p.offset, p.len))
    }

    fn wrappers(&self) -> String {
        let name = self.name();
        let mut s = format!(
            "/* lib{name}.so's C wrappers, generated by `ebmc build --lib`: they copy each\n\
             \x20* variable into the packed buffers of the native functions and the results back. */\n\
             #include <math.h>\n#include <string.h>\n#include \"{name}.h\"\n\n"
        );
        let mut all = vec![&self.energy, &self.grad];
        all.extend(&self.answers);
        all.extend(&self.infer_grad);
        for w in &all {
            let _ = writeln!(
                s,
                "__attribute__((visibility(\"hidden\"))) unsigned int {}(const double *, double *, double *);",
                w.function.symbol
            );
        }
        let energy_at = |w: &Wrapped| Self::output_offset(w, Output::Energy).map_or(0, |(o, _)| o);
        // energy
        let _ = writeln!(
            s,
            "\nint {name}_energy({}, double *energy_out, double *work) {{",
            self.energy_params()
        );
        self.call(&self.energy, &mut s);
        let _ = writeln!(
            s,
            "    *energy_out = out[{}];\n    return 0;\n}}",
            energy_at(&self.energy)
        );
        // grad
        let _ = writeln!(s, "\nint {name}_grad({}) {{", self.grad_params());
        self.call(&self.grad, &mut s);
        let _ = writeln!(s, "    *energy_out = out[{}];", energy_at(&self.grad));
        for (id, v) in self.graded() {
            let g = format!("grad_{}", v.name);
            let _ = match Self::output_offset(&self.grad, Output::Grad(id)) {
                Some((o, l)) => writeln!(
                    s,
                    "    if ({g} != NULL) memcpy({g}, out + {o}, {l} * sizeof(double));"
                ),
                // The energy does not depend on it: its gradient is zero, as `eval` says.
                None => writeln!(
                    s,
                    "    if ({g} != NULL) memset({g}, 0, {} * sizeof(double));",
                    v.ty.elements()
                ),
            };
        }
        let _ = writeln!(s, "    return 0;\n}}");
        // infer
        if let Some(w) = &self.answers {
            let _ = writeln!(s, "\nint {name}_infer({}) {{", self.infer_params());
            self.call(w, &mut s);
            let (at, count) = Self::output_offset(w, Output::Energies)
                .expect("the answers' entry point has the energies");
            // Exactly the runtime's argmin: the first smallest; NaN never wins; when nothing
            // is below infinity, the first answer.
            let _ = writeln!(
                s,
                "    const double *es = out + {at};\n    size_t best = 0;\n    double best_e = INFINITY;\n\
                 \x20   for (size_t i = 0; i < {count}; i++) {{\n        if (es[i] < best_e) {{ best = i; best_e = es[i]; }}\n    }}\n\
                 \x20   if (best_e == INFINITY) {{ best = 0; best_e = es[0]; }}\n    *energy_out = best_e;"
            );
            // Decode answer `best`: row-major over the outputs in order, a sign's -1 first
            // (the first element of a sign tensor the most significant bit: `Ty::answer`).
            let outs: Vec<&crate::check::Var> =
                self.model.vars_of(Role::Output).map(|(_, v)| v).collect();
            for v in outs.iter().rev() {
                let n = v.ty.states().expect("the checker bounds the answers");
                let name = c_name(&v.name);
                match &v.ty {
                    Ty::Sign(shape) => {
                        let len = shape.len();
                        for j in 0..len {
                            let bit = len - 1 - j;
                            let _ = writeln!(
                                s,
                                "    {name}[{j}] = ((best / {}) % 2 == 0) ? -1.0 : 1.0;",
                                1usize << bit
                            );
                        }
                    }
                    _ => {
                        let _ = writeln!(s, "    {name}[0] = (double)(best % {n});");
                    }
                }
                let _ = writeln!(s, "    best /= {n};");
            }
            let _ = writeln!(s, "    return 0;\n}}");
        }
        if let (Some(w), Some(d)) = (&self.infer_grad, &self.descent) {
            if self.random_start() {
                s.push_str(&rng_functions(name));
            }
            self.descent_wrapper(w, d, &mut s);
        }
        let _ = writeln!(
            s,
            "\nsize_t {name}_work_len(void) {{\n    return {};\n}}",
            self.work
        );
        if let Some(values) = &self.defaults {
            let up = &self.upper;
            for ((_, v), xs) in self.model.vars_of(Role::Param).zip(values) {
                // Rust's shortest round-trip form, which a C compiler reads back exactly.
                let items: Vec<String> = xs.iter().map(|x| format!("{x:e}")).collect();
                let _ = writeln!(
                    s,
                    "\nconst double {name}_default_{}[{up}_{}_LEN] = {{\n    {}\n}};",
                    v.name,
                    v.name,
                    items.join(",\n    ")
                );
            }
        }
        s
    }

    /// `<model>_infer` by descent: [`crate::runtime`]'s descent loop step for step (the
    /// same operations in the same order, so strict code gives the runtime's answer bit for
    /// bit): start at `init`; each step, the free energy and its gradient at the current
    /// point, a stall check every [`STALL_CHECK`] steps, `y -= rate * g` variable by variable
    /// with the squared norm summed the same way, a non-finite value ends it, and a norm
    /// below `tol` stops it early; at the end, the energy there and a last stall check.
    fn descent_wrapper(&self, w: &Wrapped, d: &Descent, s: &mut String) {
        let name = self.name();
        let l = w.function.layout;
        let outs: Vec<(VarId, &crate::check::Var)> = self.model.vars_of(Role::Output).collect();
        let _ = writeln!(s, "\nint {name}_infer({}) {{", self.infer_params());
        let _ = writeln!(
            s,
            "    double *in = work, *out = work + {}, *scratch = work + {};",
            l.inputs,
            l.inputs + l.outputs
        );
        for (_, v) in &outs {
            let n = v.ty.elements();
            let y = c_name(&v.name);
            // Drawn as [`crate::rng::init_into`] draws: element by element, row-major, one
            // variable after another, the same arithmetic in the same order.
            let draw = match &d.init {
                Init::Values(_) => None,
                Init::Normal { mean, std } => {
                    Some(format!("{mean:e} + {std:e} * {name}_normal(rng)"))
                }
                Init::Uniform { lo, hi } => Some(uniform_draw(name, *lo, *hi)),
                Init::Glorot => {
                    let shape = match &v.ty {
                        Ty::Real(shape) => shape.clone(),
                        _ => crate::types::Shape::default(),
                    };
                    let (fan_in, fan_out) = shape.fan_in_out();
                    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
                    Some(uniform_draw(name, -a, a))
                }
            };
            if let Some(draw) = draw {
                let _ = writeln!(s, "    for (size_t i = 0; i < {n}; i++) {y}[i] = {draw};");
                continue;
            }
            let Init::Values(init) = &d.init else {
                unreachable!("a random init is drawn above")
            };
            if init.len() == n {
                let items: Vec<String> = init.iter().map(|x| format!("{x:e}")).collect();
                let _ = writeln!(
                    s,
                    "    {{\n        static const double start[{n}] = {{ {} }};\n        memcpy({y}, start, {n} * sizeof(double));\n    }}",
                    items.join(", ")
                );
            } else {
                let _ = writeln!(
                    s,
                    "    for (size_t i = 0; i < {n}; i++) {y}[i] = {:e};",
                    init[0]
                );
            }
        }
        let energy_at = Self::output_offset(w, Output::Energy).map_or(0, |(o, _)| o);
        // One evaluation at the current point: the body of a step and of the final energy.
        let mut eval = String::new();
        self.pack(w, &mut eval);
        let _ = writeln!(
            eval,
            "    {{\n        int status = (int){}(in, out, scratch);\n        if (status != 0) return status;\n    }}",
            w.function.symbol
        );
        // The runtime's check_progress: no lower than the start, though the first step
        // promised a noticeable decrease.
        let stalled = "started && promised > 1e-9 * (fabs(first) + 1.0) && !(energy < first)";
        let _ = writeln!(
            s,
            "    double first = 0.0, promised = 0.0, energy;\n    int started = 0, early = 0;\n    for (size_t step = 1; step <= {steps}; step++) {{",
            steps = d.steps
        );
        for line in eval.lines() {
            let _ = writeln!(s, "    {line}");
        }
        let _ = writeln!(
            s,
            "        energy = out[{energy_at}];\n        if (step > 1 && step % {STALL_CHECK} == 0 && {stalled}) return {NO_PROGRESS};\n        double norm = 0.0;\n        int finite = 1;"
        );
        for (id, v) in &outs {
            let y = c_name(&v.name);
            let n = v.ty.elements();
            let _ = match Self::output_offset(w, Output::Grad(*id)) {
                Some((o, _)) => writeln!(
                    s,
                    "        {{\n            const double *g = out + {o};\n            double sq = 0.0;\n            for (size_t i = 0; i < {n}; i++) sq += g[i] * g[i];\n            norm += sq;\n            for (size_t i = 0; i < {n}; i++) {y}[i] -= {rate:e} * g[i];\n        }}",
                    rate = d.rate
                ),
                // The energy does not depend on it: a zero gradient moves nothing.
                None => writeln!(s, "        norm += 0.0;"),
            };
        }
        for (_, v) in &outs {
            let _ = writeln!(
                s,
                "        for (size_t i = 0; i < {}; i++) finite = finite && isfinite({}[i]);",
                v.ty.elements(),
                c_name(&v.name)
            );
        }
        let _ = writeln!(
            s,
            "        if (!isfinite(norm) || !finite) return {DIVERGED};\n        if (!started) {{ first = energy; promised = {rate:e} * norm; started = 1; }}\n        if (sqrt(norm) < {tol:e}) {{ early = 1; break; }}\n    }}",
            rate = d.rate,
            tol = d.tol
        );
        s.push_str(&eval);
        let _ = writeln!(
            s,
            "    energy = out[{energy_at}];\n    *energy_out = energy;\n    /* A descent stopped early by a small gradient is not judged, as in the runtime. */\n    if (!early && {stalled}) return {NO_PROGRESS};\n    return 0;\n}}"
        );
    }

    fn example(&self) -> String {
        let (name, up) = (self.name(), &self.upper);
        let mut s = format!(
            "/* example.c: calls lib{name}.so, generated by `ebmc build --lib`.\n\
             \x20*\n\
             \x20* Build and run (in this directory):\n\
             \x20*   cc -o example example.c -I. -L. -l{name} -Wl,-rpath,. -lm && ./example\n\
             \x20*\n\
             \x20* With no argument it evaluates at a point of its own (every real value 0.5, every\n\
             \x20* class 0, every sign 1); given a file of numbers (every variable in declaration\n\
             \x20* order, each row-major) it evaluates there. It prints the energy and each\n\
             \x20* gradient, one line each, with 17 significant digits. */\n\
             #include <stdio.h>\n#include <stdlib.h>\n#include \"{name}.h\"\n\n"
        );
        let vars = &self.model.vars;
        for v in vars {
            let _ = writeln!(s, "static double v_{}[{up}_{}_LEN];", v.name, v.name);
        }
        for (_, v) in self.graded() {
            let _ = writeln!(s, "static double g_{}[{up}_{}_LEN];", v.name, v.name);
        }
        let _ = writeln!(s, "static double work[{up}_WORK_LEN + 1];\n");
        let _ = writeln!(
            s,
            "static void fill(double *v, size_t n, double x) {{\n    for (size_t i = 0; i < n; i++) v[i] = x;\n}}\n"
        );
        let _ = writeln!(
            s,
            "static int read_values(FILE *f, double *v, size_t n) {{\n    for (size_t i = 0; i < n; i++)\n        if (fscanf(f, \"%lf\", &v[i]) != 1) return 0;\n    return 1;\n}}\n"
        );
        let _ = writeln!(
            s,
            "static void show(const char *what, const double *v, size_t n) {{\n    printf(\"%s\", what);\n    for (size_t i = 0; i < n; i++) printf(\" %.17g\", v[i]);\n    printf(\"\\n\");\n}}\n"
        );
        let _ = writeln!(s, "int main(int argc, char **argv) {{");
        for v in vars {
            let x = match v.ty {
                Ty::Real(_) => "0.5",
                Ty::Class(_) => "0.0",
                Ty::Sign(_) => "1.0",
            };
            let _ = writeln!(s, "    fill(v_{}, {up}_{}_LEN, {x});", v.name, v.name);
        }
        let _ = writeln!(
            s,
            "    if (argc > 1) {{\n        FILE *f = fopen(argv[1], \"r\");\n        if (f == NULL) {{ perror(argv[1]); return 2; }}\n        int ok = 1;"
        );
        for v in vars {
            let _ = writeln!(
                s,
                "        ok = ok && read_values(f, v_{}, {up}_{}_LEN);",
                v.name, v.name
            );
        }
        let _ = writeln!(
            s,
            "        fclose(f);\n        if (!ok) {{ fprintf(stderr, \"%s: too few numbers\\n\", argv[1]); return 2; }}\n    }}"
        );
        let args: Vec<String> = vars.iter().map(|v| format!("v_{}", v.name)).collect();
        let args = args.join(", ");
        let _ = writeln!(
            s,
            "    double e;\n    int status = {name}_energy({args}, &e, work);\n    if (status != {up}_OK) {{ fprintf(stderr, \"{name}_energy: status %d\\n\", status); return 1; }}\n    show(\"energy\", &e, 1);"
        );
        let grads: Vec<String> = self
            .graded()
            .map(|(_, v)| format!("g_{}", v.name))
            .collect();
        let mut gargs = vec![args.clone(), "&e".into()];
        gargs.extend(grads);
        gargs.push("work".into());
        let _ = writeln!(
            s,
            "    status = {name}_grad({});\n    if (status != {up}_OK) {{ fprintf(stderr, \"{name}_grad: status %d\\n\", status); return 1; }}\n    show(\"grad_energy\", &e, 1);",
            gargs.join(", ")
        );
        for (_, v) in self.graded() {
            let _ = writeln!(
                s,
                "    show(\"grad {}\", g_{}, {up}_{}_LEN);",
                v.name, v.name, v.name
            );
        }
        if self.answers.is_some() || self.descent.is_some() {
            let mut iargs: Vec<String> =
                self.given().map(|(_, v)| format!("v_{}", v.name)).collect();
            iargs.extend(
                self.model
                    .vars_of(Role::Output)
                    .map(|(_, v)| format!("v_{}", v.name)),
            );
            iargs.push("&e".into());
            if self.random_start() {
                // Seeded 0: the start `ebmc run --at` draws with `--seed 0`.
                let _ = writeln!(s, "    {name}_rng rng;\n    {name}_rng_seed(&rng, 0);");
                iargs.push("&rng".into());
            }
            iargs.push("work".into());
            let _ = writeln!(s, "    status = {name}_infer({});", iargs.join(", "));
            if self.descent.is_some() {
                // A descent that fails is an answer of its own: say which failure.
                let _ = writeln!(
                    s,
                    "    if (status == {up}_DIVERGED || status == {up}_NO_PROGRESS) {{ printf(\"infer_status %d\\n\", status); return 0; }}"
                );
            }
            let _ = writeln!(
                s,
                "    if (status != {up}_OK) {{ fprintf(stderr, \"{name}_infer: status %d\\n\", status); return 1; }}\n    show(\"infer_energy\", &e, 1);"
            );
            for (_, v) in self.model.vars_of(Role::Output) {
                let _ = writeln!(
                    s,
                    "    show(\"infer {}\", v_{}, {up}_{}_LEN);",
                    v.name, v.name, v.name
                );
            }
        }
        let _ = writeln!(s, "    return 0;\n}}");
        s
    }
}
