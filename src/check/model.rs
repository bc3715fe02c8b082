//! The checked model: what every later stage consumes, without re-checking.
//!
//! Invariants the checker guarantees:
//! * every name is bound: variables, lets and functions are referred to by index;
//! * every expression carries its type ([`Ty`]), shapes fully known (dims are integers);
//! * `lets` are in dependency order: a let only refers to lets before it;
//! * functions are not recursive, so inlining them terminates;
//! * every argument of the loss, inference, training and elimination is within range,
//!   with the spec's defaults filled in;
//! * energy terms are real scalars and, together, depend on at least one output.

use crate::span::Span;
use crate::types::Ty;

pub use crate::syntax::ast::{BinOp, Role};

/// Index of a variable (input, output, latent or param) in [`Model::vars`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);
/// Index of a `let` in [`Model::lets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LetId(pub u32);
/// Index of a function in [`Model::fns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnId(pub u32);

/// A checked model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub span: Span,
    /// Named constants with their values, in declaration order.
    pub consts: Vec<(String, f64)>,
    pub vars: Vec<Var>,
    pub fns: Vec<Function>,
    pub lets: Vec<Let>,
    /// The energy is the sum of these terms.
    pub energy: Vec<EnergyTerm>,
    pub loss: Option<Loss>,
    /// Inference groups covering every output (and the latents named in `infer`).
    pub infer: Vec<Infer>,
    pub train: Option<Train>,
    pub data: Option<Data>,
    /// `partition by …`: how `log Z` of a density model is computed (spec section 13).
    pub partition: Option<Partition>,
}

/// The name of the trained scalar `log Z` that the checker adds as a param of a model trained
/// by `nce` (spec section 13), last among the variables, starting at 0. Weights files, `emit`
/// and the C library (`ebmc build --lib`) hold it under this name like any other param; a
/// model trained by `nce` may not declare a variable of this name (`E0102`).
pub const NCE_LOG_Z: &str = "nce_log_z";

impl Model {
    /// A density model: outputs and no inputs, `P(y) ∝ exp(−β E(y))` (spec section 13).
    pub fn is_density(&self) -> bool {
        self.vars_of(Role::Input).next().is_none()
    }

    pub fn var(&self, id: VarId) -> &Var {
        &self.vars[id.0 as usize]
    }
    /// The variables of one role, in declaration order.
    pub fn vars_of(&self, role: Role) -> impl Iterator<Item = (VarId, &Var)> {
        self.vars
            .iter()
            .enumerate()
            .filter(move |(_, v)| v.role == role)
            .map(|(i, v)| (VarId(i as u32), v))
    }
    pub fn var_named(&self, name: &str) -> Option<VarId> {
        self.vars
            .iter()
            .position(|v| v.name == name)
            .map(|i| VarId(i as u32))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub name: String,
    pub span: Span,
    pub role: Role,
    pub ty: Ty,
    /// For latents: how they are eliminated (defaults filled in).
    pub elim: Option<Elim>,
    /// For params: how they are initialised (default filled in).
    pub init: Option<Init>,
}

/// How a latent is eliminated from the energy.
#[derive(Clone, Debug, PartialEq)]
pub enum Elim {
    /// `min by descent(…)` for real latents.
    MinDescent(Descent),
    /// `min by enumerate` (or `marginal(beta = inf)`) for class latents.
    MinEnumerate,
    /// `marginal(beta)` with finite β, for class latents: `−1/β log Σ_z exp(−β E)`.
    Marginal { beta: f64 },
    /// `marginal(beta)` of a `sign` latent the energy is affine in (with every other latent in
    /// closed form, and no term coupling two of their coordinates): the same sum in closed
    /// form, `E₀ − 1/β Σ_j log 2cosh(β a_j)` (spec section 13), O(n) for any `n`; with
    /// `beta = inf` (`min by enumerate`), the minimum `E₀ − Σ_j |a_j|`.
    MarginalClosed { beta: f64 },
}

/// A parameter's initial value.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// Every element, row-major (a scalar initialiser is broadcast by the checker).
    Values(Vec<f64>),
    Normal {
        mean: f64,
        std: f64,
    },
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// Glorot (Xavier) uniform: `±sqrt(6 / (fan_in + fan_out))`.
    Glorot,
}

/// Gradient descent settings, for inference, elimination and negatives.
#[derive(Clone, Debug, PartialEq)]
pub struct Descent {
    pub steps: usize,
    pub rate: f64,
    /// Starting point; `Init::Values` holds one value broadcast to every element.
    pub init: Init,
    /// Stop when the squared gradient norm falls below this.
    pub tol: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    pub span: Span,
    pub params: Vec<(String, Ty)>,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Let {
    pub name: String,
    pub span: Span,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnergyTerm {
    /// `energy name = …`; unnamed terms are called `term0`, `term1`, … in order.
    pub name: String,
    pub span: Span,
    pub value: Expr,
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(f64),
    Var(VarId),
    Let(LetId),
    /// The i-th parameter of the enclosing function.
    Param(usize),
    /// Stacks equally shaped elements along a new leading dimension.
    Vector(Vec<Expr>),
    Call(FnId, Vec<Expr>),
    Builtin(Builtin, Vec<Expr>),
    /// One entry per leading dimension; missing trailing indices keep those dimensions.
    Index(Box<Expr>, Vec<Index>),
    Transpose(Box<Expr>),
    Neg(Box<Expr>),
    /// `+ - * / ^` elementwise with scalar broadcasting; `@` matrix × vector or matrix.
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Index {
    /// A fixed position.
    At(usize),
    /// The value of a `class` (0..k) or `sign` (−1 → 0, +1 → 1) expression.
    Dynamic(Box<Expr>),
    /// `start..end`, end exclusive, both known.
    Slice { start: usize, end: usize },
}

/// Built-in functions after overload resolution (`max(v)` vs `max(a, b)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Exp,
    Log,
    Tanh,
    Sigmoid,
    Softplus,
    Relu,
    Abs,
    Sqrt,
    Square,
    Sin,
    Cos,
    /// Whole-tensor reductions to a scalar.
    Sum,
    Mean,
    Max,
    Min,
    LogSumExp,
    Dot,
    SqNorm,
    Norm,
    Cosine,
    Softmax,
    L1,
    /// Elementwise two-argument forms with scalar broadcasting.
    Max2,
    Min2,
    Pow,
}

impl Builtin {
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Exp => "exp",
            Builtin::Log => "log",
            Builtin::Tanh => "tanh",
            Builtin::Sigmoid => "sigmoid",
            Builtin::Softplus => "softplus",
            Builtin::Relu => "relu",
            Builtin::Abs => "abs",
            Builtin::Sqrt => "sqrt",
            Builtin::Square => "square",
            Builtin::Sin => "sin",
            Builtin::Cos => "cos",
            Builtin::Sum => "sum",
            Builtin::Mean => "mean",
            Builtin::Max | Builtin::Max2 => "max",
            Builtin::Min | Builtin::Min2 => "min",
            Builtin::LogSumExp => "logsumexp",
            Builtin::Dot => "dot",
            Builtin::SqNorm => "sqnorm",
            Builtin::Norm => "norm",
            Builtin::Cosine => "cosine",
            Builtin::Softmax => "softmax",
            Builtin::L1 => "l1",
            Builtin::Pow => "pow",
        }
    }
}

/// The training loss (spec section 6), parameters filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    pub kind: LossKind,
    pub negatives: Option<Negatives>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossKind {
    Energy,
    Perceptron,
    Hinge {
        margin: f64,
    },
    Log,
    Lvq2 {
        delta: f64,
    },
    Mce,
    SquareSquare {
        margin: f64,
    },
    SquareExp {
        gamma: f64,
    },
    Nll {
        beta: f64,
    },
    Mee {
        beta: f64,
    },
    /// Contrastive divergence: `E_i − Ē_i + α (E_i² + Ē_i²)`, ȳ drawn by the model's sampler.
    Cd {
        alpha: f64,
    },
    /// Denoising score matching: `½ σ² ‖∇_y E(ỹ) − (ỹ − y_i)/σ²‖²`, ỹ = y_i + σ ε.
    Dsm {
        sigma: f64,
    },
    /// Noise-contrastive estimation against `noise`, `ratio` noise samples per data sample
    /// (see `ir::lower::loss` for the per-example form), `log Z` the param [`NCE_LOG_Z`].
    Nce {
        noise: Noise,
        ratio: f64,
    },
}

/// The noise distribution of `nce`: independent in every element of the outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    Normal { mean: f64, std: f64 },
    Uniform { lo: f64, hi: f64 },
}

impl Noise {
    /// `log p_n(v)` of one element.
    pub fn log_density(self, v: f64) -> f64 {
        match self {
            Noise::Normal { mean, std } => {
                let z = (v - mean) / std;
                -0.5 * z * z - std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            }
            Noise::Uniform { lo, hi } => {
                if (lo..=hi).contains(&v) {
                    -(hi - lo).ln()
                } else {
                    f64::NEG_INFINITY
                }
            }
        }
    }
}

/// How `log Z = log ∫ exp(−β E(y)) dy` of a density model is computed for the `nll` metric.
#[derive(Clone, Debug, PartialEq)]
pub enum Partition {
    /// Every answer of discrete outputs, exactly (log-sum-exp).
    Enumerate,
    /// Midpoint quadrature on `points` cells per dimension of `[lo, hi]`, real outputs of at
    /// most [`MAX_GRID_DIMS`] elements in all, in the data's units.
    Grid { points: usize, lo: f64, hi: f64 },
    /// Annealed importance sampling (Neal 2001), `chains` runs of `steps` temperatures
    /// `β_t = t/steps`: from the uniform distribution over discrete outputs with one sweep of
    /// the model's `gibbs` at each, or from `N(0, I)` over real ones with one step of its
    /// `langevin`/`hmc`; an unbiased estimate of `Z`, with a standard error.
    Ais { chains: usize, steps: usize },
}

/// The most output elements `partition by grid` integrates over.
pub const MAX_GRID_DIMS: usize = 3;
/// The most grid cells `partition by grid` evaluates (`points^dims`).
pub const MAX_GRID_CELLS: usize = 1 << 24;

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Energy => "energy",
            LossKind::Perceptron => "perceptron",
            LossKind::Hinge { .. } => "hinge",
            LossKind::Log => "log",
            LossKind::Lvq2 { .. } => "lvq2",
            LossKind::Mce => "mce",
            LossKind::SquareSquare { .. } => "square_square",
            LossKind::SquareExp { .. } => "square_exp",
            LossKind::Nll { .. } => "nll",
            LossKind::Mee { .. } => "mee",
            LossKind::Cd { .. } => "cd",
            LossKind::Dsm { .. } => "dsm",
            LossKind::Nce { .. } => "nce",
        }
    }
    /// Whether the loss needs the most offending incorrect answer ȳ.
    pub fn needs_negative(self) -> bool {
        matches!(
            self,
            LossKind::Hinge { .. }
                | LossKind::Log
                | LossKind::Lvq2 { .. }
                | LossKind::Mce
                | LossKind::SquareSquare { .. }
                | LossKind::SquareExp { .. }
        )
    }
    /// Whether the runtime supplies a point ȳ beside the label (`neg.NAME` inputs of the
    /// loss graph) for real outputs: the most offending answer, a model sample (`cd`), the
    /// noisy label ỹ (`dsm`) or a noise sample (`nce`).
    pub fn uses_point(self) -> bool {
        self.needs_negative()
            || matches!(
                self,
                LossKind::Perceptron
                    | LossKind::Cd { .. }
                    | LossKind::Dsm { .. }
                    | LossKind::Nce { .. }
            )
    }
    /// The density-model losses of spec section 13: they need real outputs.
    pub fn is_density_loss(self) -> bool {
        matches!(
            self,
            LossKind::Cd { .. } | LossKind::Dsm { .. } | LossKind::Nce { .. }
        )
    }
    /// Whether the loss sums over every answer.
    pub fn sums_answers(self) -> bool {
        matches!(self, LossKind::Nll { .. } | LossKind::Mee { .. })
    }
}

/// Where ȳ comes from for real outputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Negatives {
    /// Descent from a random start, at least `radius` from `y_i`.
    Descent {
        steps: usize,
        rate: f64,
        radius: f64,
    },
    /// The lowest-energy `y_j` (j ≠ i) of the batch.
    Shuffle,
    /// A sample of the model (`cd`): chains of `sampler` started at `y_i` (CD-k) or, with
    /// `persistent = N`, a buffer of `N` chains kept across steps of which a fraction
    /// `reinit` restarts from the sampler's `init` every step (persistent CD).
    Sample {
        sampler: Sampler,
        persistent: Option<usize>,
        reinit: f64,
    },
}

/// One inference procedure over a group of variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Infer {
    pub vars: Vec<VarId>,
    pub method: InferMethod,
    /// `enumerate(beta = β)`: the β of the Gibbs probabilities `P(y|x) ∝ exp(−β F(x, y))`
    /// reported beside the answer (spec section 13); `None` when not written.
    pub beta: Option<f64>,
    /// The `infer` declaration, or `None` for a default.
    pub span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum InferMethod {
    Descent(Descent),
    Enumerate,
    /// Draws from the Gibbs distribution `exp(−β E)` instead of finding its minimum.
    Sample(Sampler),
}

/// A sampler of the Gibbs distribution `P(y|x) ∝ exp(−β E(x, y))` (spec section 13): what
/// `infer … by langevin | hmc | gibbs` names, and what a loss's `negatives` may name.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Unadjusted Langevin: `y ← y − rate · ∇_y E + sqrt(2 · rate / β) · ε`.
    Langevin {
        steps: usize,
        rate: f64,
        beta: f64,
        init: Init,
    },
    /// Hamiltonian Monte Carlo: `leapfrog` steps of size `rate` per proposal, then a
    /// Metropolis correction.
    Hmc {
        steps: usize,
        leapfrog: usize,
        rate: f64,
        beta: f64,
        init: Init,
    },
    /// Gibbs sampling of `sign`/`class` variables from a uniform start: every coordinate
    /// redrawn from its exact conditional, `sweeps` times; a variable the energy is affine in
    /// (no interaction inside it) is redrawn as one block.
    Gibbs {
        sweeps: usize,
        beta: f64,
        /// The variables redrawn as one block (the energy is affine in each).
        blocks: Vec<VarId>,
    },
}

impl Sampler {
    pub fn beta(&self) -> f64 {
        match self {
            Sampler::Langevin { beta, .. }
            | Sampler::Hmc { beta, .. }
            | Sampler::Gibbs { beta, .. } => *beta,
        }
    }

    /// The method's name in the language.
    pub fn name(&self) -> &'static str {
        match self {
            Sampler::Langevin { .. } => "langevin",
            Sampler::Hmc { .. } => "hmc",
            Sampler::Gibbs { .. } => "gibbs",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Train {
    pub optimizer: Optimizer,
    pub rate: f64,
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
    pub l2: f64,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd { momentum: f64 },
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// As written, relative to the `.ebm` file.
    pub path: String,
    pub path_span: Span,
    pub bindings: Vec<DataBinding>,
    /// Fraction kept for training, in (0, 1]; `None` trains and tests on everything (or on
    /// the rows of `test`).
    pub split: Option<f64>,
    /// `test "file.csv"`: the test rows are that file's (as written, relative to the `.ebm`
    /// file; read with the same bindings), and every row of `path` trains. Never with `split`.
    pub test: Option<String>,
    pub standardize: Vec<VarId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DataBinding {
    pub var: VarId,
    pub first: Column,
    /// Inclusive end of a range.
    pub last: Option<Column>,
    pub span: Span,
}

/// A CSV column by header name or 0-based index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Index(usize),
}
