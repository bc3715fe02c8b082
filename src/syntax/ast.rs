//! The abstract syntax tree: what the source says, before any name is resolved.
//!
//! Every node carries the byte [`Span`] of the text it came from. The tree is bounded in
//! depth (the parser rejects deeper nesting), so recursive walks over it cannot overflow.

use crate::span::Span;

/// A whole source file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub models: Vec<Model>,
}

/// `model NAME { … }`
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: Ident,
    pub decls: Vec<Decl>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub kind: DeclKind,
    pub span: Span,
}

/// What a variable declaration declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Input,
    Output,
    Latent,
    Param,
}

impl Role {
    pub fn keyword(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Output => "output",
            Role::Latent => "latent",
            Role::Param => "param",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    Const {
        name: Ident,
        value: Expr,
    },
    Var {
        role: Role,
        name: Ident,
        ty: Type,
        elim: Option<Elim>,
        init: Option<Init>,
    },
    Fn {
        name: Ident,
        params: Vec<FnParam>,
        body: Expr,
    },
    Let {
        name: Ident,
        value: Expr,
    },
    Energy {
        name: Option<Ident>,
        value: Expr,
    },
    Loss {
        method: Method,
        negatives: Option<Method>,
    },
    Infer {
        vars: Vec<Ident>,
        method: Method,
    },
    Train {
        method: Method,
    },
    Data(Data),
    /// `partition by METHOD(args)`: how `log Z` of a density model is computed.
    Partition {
        method: Method,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnParam {
    pub name: Ident,
    pub ty: Type,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `real` (no dims) or `real[d, …]`.
    Real(Vec<Expr>),
    Class(Box<Expr>),
    /// `sign` (no dims) or `sign[d, …]`.
    Sign(Vec<Expr>),
}

/// How a latent variable is eliminated.
#[derive(Clone, Debug, PartialEq)]
pub enum Elim {
    /// `min by METHOD`
    Min(Method),
    /// `marginal(beta = …)`; the method's name is `marginal`.
    Marginal(Method),
}

/// A parameter's initialisation.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// `= expr`
    Value(Expr),
    /// `~ dist`
    Dist(Expr),
}

/// A named procedure with arguments: a loss, inference or elimination method, an optimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct Method {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// `name = value`, or a bare value.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    pub path: String,
    pub path_span: Span,
    pub bindings: Vec<Binding>,
    pub split: Option<Expr>,
    /// `test "file.csv"`: the test rows in a file of their own (its path as written).
    pub test: Option<String>,
    /// The span of the test file's string (empty without one).
    pub test_span: Span,
    pub standardize: Vec<Ident>,
}

/// `var = first..last` or `var = col`.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub var: Ident,
    pub first: Column,
    pub last: Option<Column>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub kind: ColumnKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Name(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    MatMul,
    Pow,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::MatMul => "@",
            BinOp::Pow => "^",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number literal, and its exact value when it is written as a whole number that fits
    /// in 64 bits: the `f64` rounds integers above 2^53, and a seed must not be rounded.
    Number(f64, Option<u64>),
    Name(String),
    /// `[a, b, c]`
    Vector(Vec<Expr>),
    Call {
        func: Ident,
        args: Vec<Expr>,
    },
    Index {
        base: Box<Expr>,
        args: Vec<IndexArg>,
    },
    Transpose(Box<Expr>),
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        /// The operator token, where a shape mismatch is reported.
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum IndexArg {
    At(Expr),
    Slice {
        lo: Option<Expr>,
        hi: Option<Expr>,
        span: Span,
    },
}
