//! What the server knows about one version of a document: its parse, its check (diagnostics
//! and the [`Typing`] of every model) and an index of every declared name and every use of it.
//!
//! The whole document is parsed and checked again after every change: the front end takes
//! about 17 ms on a 1,000-declaration file (median, `benches/lsp.rs`), inside the 50 ms a
//! keystroke may take, and a whole check is what `ebmc check` would say, with nothing stale.
//! Checking only the model that changed would be the next step if files grow further.
//!
//! Names are scoped per model; a function's parameters are in scope in its body only, where
//! they hide the model's names (as in the checker). Where a name is declared twice, uses go to
//! the first declaration, as the checker resolves them.

use crate::check::{self, Typing};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind, Expr, ExprKind, IndexArg, Role, TypeKind};
use crate::syntax::{self};
use std::collections::HashMap;

/// What a declared name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Const,
    Var(Role),
    Fn,
    /// A parameter of the function declared at `Decl::parent`.
    FnParam,
    Let,
    Energy,
}

impl Kind {
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Const => "const",
            Kind::Var(r) => r.keyword(),
            Kind::Fn => "fn",
            Kind::FnParam => "parameter",
            Kind::Let => "let",
            Kind::Energy => "energy",
        }
    }
}

/// One declared name.
#[derive(Clone, Debug)]
pub struct Decl {
    pub name: String,
    pub kind: Kind,
    /// The identifier that declares it.
    pub span: Span,
    /// The whole declaration.
    pub full: Span,
    /// For a function parameter, the index of its function in [`ModelIndex::decls`].
    pub parent: Option<usize>,
}

/// The names of one model.
#[derive(Clone, Debug)]
pub struct ModelIndex {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub decls: Vec<Decl>,
    /// Every use of a declared name: its span and the index of the declaration.
    pub uses: Vec<(Span, usize)>,
}

impl ModelIndex {
    /// The declaration a name at `offset` declares or uses (the cursor may sit just after it).
    pub fn at(&self, offset: usize) -> Option<(Span, usize)> {
        let hit = |s: &Span| s.start <= offset && offset <= s.end;
        self.decls
            .iter()
            .enumerate()
            .find(|(_, d)| hit(&d.span))
            .map(|(i, d)| (d.span, i))
            .or_else(|| self.uses.iter().find(|(s, _)| hit(s)).copied())
    }

    /// Every use of declaration `i`.
    pub fn uses_of(&self, i: usize) -> impl Iterator<Item = Span> + '_ {
        self.uses
            .iter()
            .filter(move |(_, d)| *d == i)
            .map(|(s, _)| *s)
    }

    /// The model-level declaration (first of its name) called `name`.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.decls
            .iter()
            .position(|d| d.kind != Kind::FnParam && d.name == name)
    }

    /// The declarations in scope at `offset`: the model's, and the parameters of the
    /// function whose declaration holds it.
    pub fn in_scope(&self, offset: usize) -> impl Iterator<Item = &Decl> + '_ {
        self.decls.iter().filter(move |d| match d.parent {
            None => true,
            Some(f) => {
                let full = self.decls[f].full;
                full.start <= offset && offset <= full.end
            }
        })
    }
}

/// One version of a document, analysed.
pub struct Analysis {
    /// `None` when the text does not parse.
    pub file: Option<ast::File>,
    pub diags: Vec<Diagnostic>,
    /// One per model of `file`, in order.
    pub typings: Vec<Typing>,
    pub models: Vec<ModelIndex>,
}

/// The byte-order mark: the parser skips it and counts spans after it, so it is handed three
/// spaces in its place and every span stays an offset into the editor's text.
const BOM: &str = "\u{feff}";

impl Analysis {
    /// The analysis of `text`; with the directory of its file, consts bound to the data
    /// (`const D = features`) read their values from the model's `data` clause, as `ebmc
    /// check` reads them.
    pub fn new(text: &str, dir: Option<&std::path::Path>) -> Analysis {
        let owned;
        let source = match text.strip_prefix(BOM) {
            Some(rest) => {
                owned = format!("   {rest}");
                owned.as_str()
            }
            None => text,
        };
        match syntax::parse(source) {
            Err(diags) => Analysis {
                file: None,
                diags,
                typings: Vec::new(),
                models: Vec::new(),
            },
            Ok(mut file) => {
                let mut reasons = Vec::new();
                if let Some(dir) = dir {
                    for model in &mut file.models {
                        reasons.extend(crate::runtime::widths::bind_into(model, dir));
                    }
                }
                let (_, mut diags, typings) = check::check_typed(&file);
                crate::runtime::widths::explain(&mut diags, &reasons);
                let models = file.models.iter().map(index_model).collect();
                Analysis {
                    file: Some(file),
                    diags,
                    typings,
                    models,
                }
            }
        }
    }

    /// The model whose text holds `offset`, with its index.
    pub fn model_at(&self, offset: usize) -> Option<usize> {
        self.models
            .iter()
            .position(|m| m.span.start <= offset && offset <= m.span.end)
    }
}

fn index_model(m: &ast::Model) -> ModelIndex {
    let mut ix = ModelIndex {
        name: m.name.name.clone(),
        name_span: m.name.span,
        span: m.span,
        decls: Vec::new(),
        uses: Vec::new(),
    };
    for d in &m.decls {
        let (name, kind) = match &d.kind {
            DeclKind::Const { name, .. } => (name.clone(), Kind::Const),
            DeclKind::Var { role, name, .. } => (name.clone(), Kind::Var(*role)),
            DeclKind::Fn { name, .. } => (name.clone(), Kind::Fn),
            DeclKind::Let { name, .. } => (name.clone(), Kind::Let),
            DeclKind::Energy { name: Some(n), .. } => (n.clone(), Kind::Energy),
            _ => continue,
        };
        ix.decls.push(Decl {
            name: name.name,
            kind,
            span: name.span,
            full: d.span,
            parent: None,
        });
    }
    // Function parameters after the model's names, so that `lookup` finds a model-level
    // declaration first and indices of the model's names do not move.
    let mut model_names: HashMap<String, usize> = HashMap::new();
    for (i, d) in ix.decls.iter().enumerate() {
        model_names.entry(d.name.clone()).or_insert(i);
    }
    let mut walker = Walker {
        names: &model_names,
        params: Vec::new(),
        uses: Vec::new(),
    };
    for d in &m.decls {
        match &d.kind {
            DeclKind::Const { value, .. } => walker.expr(value),
            DeclKind::Var { ty, elim, init, .. } => {
                walker.ty(ty);
                if let Some(ast::Elim::Min(me) | ast::Elim::Marginal(me)) = elim {
                    walker.method(me);
                }
                if let Some(ast::Init::Value(e) | ast::Init::Dist(e)) = init {
                    walker.expr(e);
                }
            }
            DeclKind::Fn { name, params, body } => {
                let f = ix
                    .decls
                    .iter()
                    .position(|x| x.span == name.span)
                    .unwrap_or(0);
                let mut scope = Vec::new();
                for p in params {
                    walker.ty(&p.ty);
                    let i = ix.decls.len();
                    ix.decls.push(Decl {
                        name: p.name.name.clone(),
                        kind: Kind::FnParam,
                        span: p.name.span,
                        full: p.name.span.to(p.ty.span),
                        parent: Some(f),
                    });
                    if !scope
                        .iter()
                        .any(|(n, _): &(String, usize)| *n == p.name.name)
                    {
                        scope.push((p.name.name.clone(), i));
                    }
                }
                walker.params = scope;
                walker.expr(body);
                walker.params.clear();
            }
            DeclKind::Let { value, .. } | DeclKind::Energy { value, .. } => walker.expr(value),
            DeclKind::Loss { method, negatives } => {
                walker.method(method);
                if let Some(n) = negatives {
                    walker.method(n);
                }
            }
            DeclKind::Infer { vars, method } => {
                vars.iter().for_each(|v| walker.ident(v));
                walker.method(method);
            }
            DeclKind::Train { method } | DeclKind::Partition { method } => walker.method(method),
            DeclKind::Data(data) => {
                data.bindings.iter().for_each(|b| walker.ident(&b.var));
                if let Some(s) = &data.split {
                    walker.expr(s);
                }
                data.standardize.iter().for_each(|v| walker.ident(v));
            }
        }
    }
    ix.uses = walker.uses;
    ix
}

/// Finds every use of a declared name in expressions, types and clauses.
struct Walker<'n> {
    names: &'n HashMap<String, usize>,
    /// The parameters of the function whose body is being walked.
    params: Vec<(String, usize)>,
    uses: Vec<(Span, usize)>,
}

impl Walker<'_> {
    fn resolve(&mut self, name: &str, span: Span) {
        let param = self.params.iter().find(|(n, _)| n == name).map(|p| p.1);
        if let Some(i) = param.or_else(|| self.names.get(name).copied()) {
            self.uses.push((span, i));
        }
    }

    fn ident(&mut self, id: &ast::Ident) {
        self.resolve(&id.name, id.span);
    }

    fn method(&mut self, m: &ast::Method) {
        for a in &m.args {
            self.expr(&a.value);
        }
    }

    fn ty(&mut self, t: &ast::Type) {
        match &t.kind {
            TypeKind::Real(dims) => dims.iter().for_each(|d| self.expr(d)),
            TypeKind::Class(k) => self.expr(k),
            TypeKind::Sign(dims) => dims.iter().for_each(|d| self.expr(d)),
        }
    }

    /// The AST is bounded in depth by the parser, so this recursion is too.
    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Number(..) => {}
            ExprKind::Name(n) => self.resolve(n, e.span),
            ExprKind::Vector(items) => items.iter().for_each(|x| self.expr(x)),
            ExprKind::Call { func, args } => {
                // A call names a model's function (never a parameter, as in the checker), or
                // else a builtin or a distribution.
                if let Some(&i) = self.names.get(&func.name) {
                    self.uses.push((func.span, i));
                }
                args.iter().for_each(|x| self.expr(x));
            }
            ExprKind::Index { base, args } => {
                self.expr(base);
                for a in args {
                    match a {
                        IndexArg::At(x) => self.expr(x),
                        IndexArg::Slice { lo, hi, .. } => {
                            lo.iter().chain(hi.iter()).for_each(|x| self.expr(x))
                        }
                    }
                }
            }
            ExprKind::Transpose(x) | ExprKind::Neg(x) => self.expr(x),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
        }
    }
}

/// The expressions of a model whose span holds `offset`, outermost first: hover's "smallest
/// expression here" is the last that type-checked.
pub fn exprs_at<'m>(m: &'m ast::Model, offset: usize, out: &mut Vec<&'m Expr>) {
    fn walk<'m>(e: &'m Expr, offset: usize, out: &mut Vec<&'m Expr>) {
        // Half-open: at the boundary of `f(x)[i]`, the `[` belongs to the indexing, not to
        // the call before it.
        if !(e.span.start <= offset && offset < e.span.end) {
            return;
        }
        out.push(e);
        match &e.kind {
            ExprKind::Number(..) | ExprKind::Name(_) => {}
            ExprKind::Vector(items) | ExprKind::Call { args: items, .. } => {
                items.iter().for_each(|x| walk(x, offset, out))
            }
            ExprKind::Index { base, args } => {
                walk(base, offset, out);
                for a in args {
                    match a {
                        IndexArg::At(x) => walk(x, offset, out),
                        IndexArg::Slice { lo, hi, .. } => lo
                            .iter()
                            .chain(hi.iter())
                            .for_each(|x| walk(x, offset, out)),
                    }
                }
            }
            ExprKind::Transpose(x) | ExprKind::Neg(x) => walk(x, offset, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                walk(lhs, offset, out);
                walk(rhs, offset, out);
            }
        }
    }
    for d in &m.decls {
        if !(d.span.start <= offset && offset <= d.span.end) {
            continue;
        }
        match &d.kind {
            DeclKind::Const { value, .. }
            | DeclKind::Let { value, .. }
            | DeclKind::Energy { value, .. } => walk(value, offset, out),
            DeclKind::Fn { body, .. } => walk(body, offset, out),
            DeclKind::Var {
                init: Some(ast::Init::Value(e) | ast::Init::Dist(e)),
                ..
            } => walk(e, offset, out),
            _ => {}
        }
    }
}
