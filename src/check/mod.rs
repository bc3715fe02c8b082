//! The checker: AST → checked [`Model`]s, with every error and lint as a diagnostic.
//!
//! One model at a time, in four steps, none of which recurses deeper than the (bounded) AST:
//! 1. collect every declared name (duplicates are `E0102`);
//! 2. order consts, lets and functions by what they refer to, with an iterative depth-first
//!    search (a cycle is `E0105`), so that each is checked after everything it uses;
//! 3. type and shape every expression ([`expr`]), then the clauses — loss, inference,
//!    training, data ([`clauses`]);
//! 4. lints: unused declarations and the collapse lint ([`lint`]).
//!
//! Errors do not cascade: an expression that failed is `None`, and everything built on it is
//! skipped silently. A model is returned only when it has no error.

mod abstract_eval;
mod blocks;
mod clauses;
mod decls;
mod expr;
mod lint;
mod model;
mod positive;

pub use clauses::{methods, Clause, MethodInfo};
pub use decls::{data_width_meaning, DATA_WIDTHS};
pub use expr::BUILTINS;
pub use model::*;

use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind};
use crate::types::Ty;
use std::collections::HashMap;

/// Largest number of elements a tensor (declared or computed) may have: 2^27 (1 GiB of f64).
pub const MAX_ELEMENTS: usize = 1 << 27;

/// Largest number of elements all the variables of one model may hold together: 2^28 (2 GiB
/// of f64), the same budget as the scratch memory of one compiled function. Each variable is
/// allocated when a model runs, so a model of many tensors each under [`MAX_ELEMENTS`] is
/// refused here, before anything is allocated.
pub const MAX_MODEL_ELEMENTS: usize = 1 << 28;

/// The largest number of answers enumerated (every combination of values of the outputs, when
/// all are discrete), and of combinations of discrete latents' values eliminated in one free
/// energy: lowering builds one term per combination.
pub const MAX_ANSWERS: usize = 1 << 16;

/// Checks every model of a file. A model comes back only when it has no error and its name is
/// the first of its kind in the file.
pub fn check(file: &ast::File) -> (Vec<Model>, Vec<Diagnostic>) {
    let (models, diags, _) = check_models(file, false);
    (models, diags)
}

/// What the checker learned about the names and expressions of one model of the source, even
/// when the model has errors: everything that type-checked. Tools read it (the language
/// server's hover); no stage does. Spans are the source's byte spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Typing {
    /// The type of every expression that type-checked, by its span.
    pub exprs: HashMap<Span, Ty>,
    /// The type of every declared name that type-checked, by the span of the identifier that
    /// declares it: a variable's declared type, a let's value, a function's result, a function
    /// parameter's declared type.
    pub names: HashMap<Span, Ty>,
    /// The value of every const that evaluated, by the span of its name.
    pub consts: HashMap<Span, f64>,
}

/// [`check`], and the [`Typing`] of every model of the file, in the file's order. Recording
/// costs a map entry per expression, so [`check`] does not.
pub fn check_typed(file: &ast::File) -> (Vec<Model>, Vec<Diagnostic>, Vec<Typing>) {
    check_models(file, true)
}

fn check_models(file: &ast::File, record: bool) -> (Vec<Model>, Vec<Diagnostic>, Vec<Typing>) {
    let mut typings = Vec::new();
    let mut diags = Vec::new();
    let mut models = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for m in &file.models {
        let duplicate = seen.contains_key(m.name.name.as_str());
        if let Some(first) = seen.get(m.name.name.as_str()) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateModel,
                    m.name.span,
                    format!("expected a new model name, found `{}` again", m.name.name),
                )
                .label("declared again here")
                .secondary(*first, "first declared here")
                .help("give each model of a file its own name; `ebmc run --model NAME` picks one"),
            );
        } else {
            seen.insert(&m.name.name, m.name.span);
        }
        let mut checker = Checker::new(m);
        if record {
            checker.typing = Some(Typing::default());
        }
        let (model, d, typing) = checker.run();
        typings.extend(typing);
        // A model whose name is taken is still checked (its own errors are worth reporting)
        // but never returned: `--model NAME` must pick one model, not the first of two.
        if !duplicate && !d.iter().any(|d| d.is_error()) {
            models.extend(model);
        }
        diags.extend(d);
    }
    (models, diags, typings)
}

/// What a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Sym {
    Const(usize),
    Var(usize),
    Fn(usize),
    Let(usize),
    Energy,
}

/// An item ordered by dependency: consts, lets and functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Item {
    Const(usize),
    Let(usize),
    Fn(usize),
}

struct Checker<'a> {
    ast: &'a ast::Model,
    diags: Vec<Diagnostic>,
    names: HashMap<&'a str, (Sym, Span)>,
    const_decls: Vec<(&'a ast::Ident, &'a ast::Expr)>,
    const_vals: Vec<Option<f64>>,
    var_decls: Vec<&'a ast::Decl>,
    vars: Vec<Option<Var>>,
    fn_decls: Vec<(&'a ast::Ident, &'a [ast::FnParam], &'a ast::Expr)>,
    /// Checked functions by declaration index; `None` until checked or when erroneous.
    fns: Vec<Option<Function>>,
    /// Result type of each function, once checked.
    fn_tys: Vec<Option<Ty>>,
    /// The `FnId` each declared function got (functions are numbered in check order).
    fn_ids: Vec<Option<FnId>>,
    let_decls: Vec<(&'a ast::Ident, &'a ast::Expr)>,
    /// Checked lets in dependency order.
    lets: Vec<Let>,
    /// `LetId` of each declared let, once checked.
    let_ids: Vec<Option<LetId>>,
    checked_fns: Vec<Function>,
    /// What type-checked, when asked for ([`check_typed`]).
    typing: Option<Typing>,
}

impl<'a> Checker<'a> {
    fn new(ast: &'a ast::Model) -> Checker<'a> {
        Checker {
            ast,
            diags: Vec::new(),
            names: HashMap::new(),
            const_decls: Vec::new(),
            const_vals: Vec::new(),
            var_decls: Vec::new(),
            vars: Vec::new(),
            fn_decls: Vec::new(),
            fns: Vec::new(),
            fn_tys: Vec::new(),
            fn_ids: Vec::new(),
            let_decls: Vec::new(),
            lets: Vec::new(),
            let_ids: Vec::new(),
            checked_fns: Vec::new(),
            typing: None,
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Notes the type of a declared name or (with `expr`) of an expression, when recording.
    fn record(&mut self, span: Span, ty: &Ty, expr: bool) {
        if let Some(t) = &mut self.typing {
            let map = if expr { &mut t.exprs } else { &mut t.names };
            map.insert(span, ty.clone());
        }
    }

    fn run(mut self) -> (Option<Model>, Vec<Diagnostic>, Option<Typing>) {
        self.collect();
        let order = self.order();
        // Consts first: types depend on them and they depend on nothing else.
        for item in &order {
            if let Item::Const(i) = item {
                self.check_const(*i);
            }
        }
        for i in 0..self.var_decls.len() {
            let v = self.check_var(i);
            self.vars.push(v);
        }
        for item in &order {
            match *item {
                Item::Let(i) => self.check_let(i),
                Item::Fn(i) => self.check_fn(i),
                Item::Const(_) => {}
            }
        }
        let energy = self.check_energy();
        self.closed_marginals(&energy);
        let mut clauses = self.check_clauses();
        if let Some(c) = &mut clauses {
            self.gibbs_blocks(&energy, c);
        }
        self.lint(&energy, clauses.as_ref());
        let model = self.finish(energy, clauses);
        if let Some(t) = &mut self.typing {
            for ((name, _), v) in self.const_decls.iter().zip(&self.const_vals) {
                if let Some(v) = v {
                    t.consts.insert(name.span, *v);
                }
            }
        }
        (model, self.diags, self.typing)
    }

    /// Step 1: every declared name, once.
    fn collect(&mut self) {
        for d in &self.ast.decls {
            let (name, sym) = match &d.kind {
                DeclKind::Const { name, value } => {
                    self.const_decls.push((name, value));
                    self.const_vals.push(None);
                    (name, Sym::Const(self.const_decls.len() - 1))
                }
                DeclKind::Var { name, .. } => {
                    self.var_decls.push(d);
                    (name, Sym::Var(self.var_decls.len() - 1))
                }
                DeclKind::Fn { name, params, body } => {
                    self.fn_decls.push((name, params, body));
                    self.fns.push(None);
                    self.fn_tys.push(None);
                    self.fn_ids.push(None);
                    (name, Sym::Fn(self.fn_decls.len() - 1))
                }
                DeclKind::Let { name, value } => {
                    self.let_decls.push((name, value));
                    self.let_ids.push(None);
                    (name, Sym::Let(self.let_decls.len() - 1))
                }
                DeclKind::Energy {
                    name: Some(name), ..
                } => (name, Sym::Energy),
                DeclKind::Energy { name: None, .. } => {
                    continue;
                }
                _ => continue,
            };
            if let Some((_, first)) = self.names.get(name.name.as_str()) {
                let first = *first;
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        name.span,
                        format!("expected a new name, found `{}` declared again", name.name),
                    )
                    .label("declared again here")
                    .secondary(first, "first declared here")
                    .help("a name is declared once per model; rename one of them"),
                );
            } else {
                self.names.insert(&name.name, (sym, name.span));
            }
        }
    }

    /// Step 2: consts, lets and functions in dependency order; cycles reported once.
    fn order(&mut self) -> Vec<Item> {
        let items: Vec<Item> = (0..self.const_decls.len())
            .map(Item::Const)
            .chain((0..self.let_decls.len()).map(Item::Let))
            .chain((0..self.fn_decls.len()).map(Item::Fn))
            .collect();
        let deps: HashMap<Item, Vec<(Item, Span)>> =
            items.iter().map(|&it| (it, self.item_deps(it))).collect();
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            White,
            Gray,
            Black,
        }
        let mut mark: HashMap<Item, Mark> = items.iter().map(|&i| (i, Mark::White)).collect();
        let mut order = Vec::new();
        let mut in_cycle: Vec<Item> = Vec::new();
        for &root in &items {
            if mark[&root] != Mark::White {
                continue;
            }
            // Iterative DFS: (item, next dependency to visit).
            let mut stack: Vec<(Item, usize)> = vec![(root, 0)];
            mark.insert(root, Mark::Gray);
            while let Some(&mut (item, ref mut next)) = stack.last_mut() {
                let ds = &deps[&item];
                if *next < ds.len() {
                    let (dep, at) = ds[*next];
                    *next += 1;
                    match mark[&dep] {
                        Mark::White => {
                            mark.insert(dep, Mark::Gray);
                            stack.push((dep, 0));
                        }
                        Mark::Gray => {
                            let start = stack.iter().position(|(i, _)| *i == dep).unwrap_or(0);
                            let cycle: Vec<Item> = stack[start..].iter().map(|(i, _)| *i).collect();
                            self.report_cycle(&cycle, at);
                            in_cycle.extend(cycle);
                        }
                        Mark::Black => {}
                    }
                } else {
                    mark.insert(item, Mark::Black);
                    order.push(item);
                    stack.pop();
                }
            }
        }
        order.retain(|i| !in_cycle.contains(i));
        order
    }

    fn report_cycle(&mut self, cycle: &[Item], at: Span) {
        let first = cycle[0];
        let (what, name) = self.item_name(first);
        let mut d = if cycle.len() == 1 {
            Diagnostic::new(Code::Recursive, at, format!("expected a definition that does not use itself, found {what} `{name}` referring to itself"))
                .label(format!("`{name}` used inside its own definition"))
        } else {
            let path: Vec<String> = cycle
                .iter()
                .map(|i| format!("`{}`", self.item_name(*i).1))
                .collect();
            Diagnostic::new(
                Code::Recursive,
                at,
                format!(
                    "expected definitions without cycles, found {}",
                    path.join(" → ") + &format!(" → `{name}`")
                ),
            )
            .label(format!("`{name}` used here, closing the cycle"))
        };
        let decl_span = self.item_span(first);
        d = d.secondary(decl_span, format!("{what} `{name}` declared here"));
        d = d.help(if matches!(first, Item::Fn(_)) {
            "functions are inlined, so they cannot call themselves; unroll the recursion by hand"
        } else {
            "each definition must be computable from the ones before it"
        });
        self.error(d);
    }

    fn item_name(&self, it: Item) -> (&'static str, String) {
        match it {
            Item::Const(i) => ("const", self.const_decls[i].0.name.clone()),
            Item::Let(i) => ("let", self.let_decls[i].0.name.clone()),
            Item::Fn(i) => ("function", self.fn_decls[i].0.name.clone()),
        }
    }

    fn item_span(&self, it: Item) -> Span {
        match it {
            Item::Const(i) => self.const_decls[i].0.span,
            Item::Let(i) => self.let_decls[i].0.span,
            Item::Fn(i) => self.fn_decls[i].0.span,
        }
    }

    /// The items an item refers to, syntactically, with the span of each reference.
    fn item_deps(&self, it: Item) -> Vec<(Item, Span)> {
        let mut refs = Vec::new();
        match it {
            Item::Const(i) => lint::names_in(self.const_decls[i].1, &[], &mut refs),
            Item::Let(i) => lint::names_in(self.let_decls[i].1, &[], &mut refs),
            Item::Fn(i) => {
                let (_, params, body) = self.fn_decls[i];
                let bound: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
                for p in params {
                    lint::names_in_type(&p.ty, &mut refs);
                }
                lint::names_in(body, &bound, &mut refs);
            }
        }
        refs.into_iter()
            .filter_map(|(name, span)| {
                let item = match self.names.get(name.as_str())?.0 {
                    Sym::Const(i) => Item::Const(i),
                    Sym::Let(i) => Item::Let(i),
                    Sym::Fn(i) => Item::Fn(i),
                    _ => return None,
                };
                Some((item, span))
            })
            .collect()
    }

    fn check_let(&mut self, i: usize) {
        let (name, value) = self.let_decls[i];
        if let Some(e) = self.expr(value, &expr::Env::default()) {
            self.record(name.span, &e.ty, false);
            let id = LetId(self.lets.len() as u32);
            self.lets.push(Let {
                name: name.name.clone(),
                span: name.span,
                value: e,
            });
            self.let_ids[i] = Some(id);
        }
    }

    fn check_fn(&mut self, i: usize) {
        let (name, params, body) = self.fn_decls[i];
        let mut ok = true;
        let mut typed = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in params {
            if let Some(first) = seen.insert(&p.name.name, p.name.span) {
                self.error(
                    Diagnostic::new(
                        Code::Duplicate,
                        p.name.span,
                        format!(
                            "expected a new parameter name, found `{}` again",
                            p.name.name
                        ),
                    )
                    .label("declared again here")
                    .secondary(first, "first declared here")
                    .help("rename one of the parameters"),
                );
                ok = false;
            }
            match self.ty(&p.ty) {
                Some(Ty::Real(s)) => {
                    self.record(p.name.span, &Ty::Real(s.clone()), false);
                    typed.push((p.name.name.clone(), Ty::Real(s)))
                }
                Some(other) => {
                    self.error(
                        Diagnostic::new(Code::ParamType, p.ty.span, format!("expected a real type for a function parameter, found `{other}`"))
                            .help("functions take real tensors; index with a class value outside the function"),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if !ok {
            return;
        }
        let env = expr::Env {
            params: Some(&typed),
        };
        if let Some(e) = self.expr(body, &env) {
            self.record(name.span, &e.ty, false);
            let id = FnId(self.checked_fns.len() as u32);
            self.fn_tys[i] = Some(e.ty.clone());
            self.fn_ids[i] = Some(id);
            self.checked_fns.push(Function {
                name: name.name.clone(),
                span: name.span,
                params: typed,
                body: e,
            });
        }
    }

    /// Energy terms: real scalars.
    fn check_energy(&mut self) -> Vec<EnergyTerm> {
        let mut terms = Vec::new();
        let mut index = 0;
        for d in &self.ast.decls {
            let DeclKind::Energy { name, value } = &d.kind else {
                continue;
            };
            let term_name = name
                .as_ref()
                .map(|n| n.name.clone())
                .unwrap_or_else(|| format!("term{index}"));
            index += 1;
            let Some(e) = self.expr(value, &expr::Env::default()) else {
                continue;
            };
            match &e.ty {
                Ty::Real(s) if s.is_scalar() => {}
                Ty::Sign(s) if s.is_scalar() => {}
                other => {
                    let help = match other {
                        Ty::Real(_) | Ty::Sign(_) => {
                            "reduce it to a scalar, e.g. with `sum(…)` or `sqnorm(…)`"
                        }
                        _ => "a class value can only index a tensor, e.g. `scores[y]`",
                    };
                    self.error(
                        Diagnostic::new(
                            Code::EnergyNotScalar,
                            e.span,
                            format!("expected a real scalar energy, found `{other}`"),
                        )
                        .label(format!("this is `{other}`"))
                        .help(help),
                    );
                    continue;
                }
            }
            let ty = Ty::scalar();
            terms.push(EnergyTerm {
                name: term_name,
                span: d.span,
                value: Expr { ty, ..e },
            });
        }
        if index == 0 {
            self.error(
                Diagnostic::new(
                    Code::NoEnergy,
                    self.ast.name.span,
                    format!(
                        "expected an energy in model `{}`, found none",
                        self.ast.name.name
                    ),
                )
                .help("add a term such as `energy 0.5 * sqnorm(y - W @ x)`"),
            );
        }
        terms
    }

    fn finish(
        &mut self,
        energy: Vec<EnergyTerm>,
        clauses: Option<clauses::Clauses>,
    ) -> Option<Model> {
        if self.diags.iter().any(|d| d.is_error()) {
            return None;
        }
        let clauses = clauses?;
        let mut vars: Vec<Var> = std::mem::take(&mut self.vars)
            .into_iter()
            .collect::<Option<_>>()?;
        // `nce` trains `log Z` as one more param, last, starting at 0 (spec section 13).
        if let Some(taken) = vars.iter().find(|v| v.name == NCE_LOG_Z).filter(|_| {
            clauses
                .loss
                .as_ref()
                .is_some_and(|l| matches!(l.kind, LossKind::Nce { .. }))
        }) {
            let d = Diagnostic::new(
                Code::Duplicate,
                taken.span,
                format!("expected no variable named `{NCE_LOG_Z}` in a model trained by `nce`, found one"),
            )
            .label("declared here")
            .help(format!("`nce` trains log Z as the param `{NCE_LOG_Z}`: rename this variable"));
            self.error(d);
            return None;
        }
        if let Some(loss) = clauses
            .loss
            .as_ref()
            .filter(|l| matches!(l.kind, LossKind::Nce { .. }))
        {
            vars.push(Var {
                name: NCE_LOG_Z.to_string(),
                span: loss.span,
                role: Role::Param,
                ty: Ty::scalar(),
                elim: None,
                init: Some(Init::Values(vec![0.0])),
            });
        }
        let total: usize = vars.iter().map(|v| v.ty.elements()).sum();
        if total > MAX_MODEL_ELEMENTS {
            let largest = vars
                .iter()
                .max_by_key(|v| v.ty.elements())
                .expect("a model over the limit has variables");
            self.error(
                Diagnostic::new(
                    Code::TooManyElements,
                    self.ast.name.span,
                    format!(
                        "expected at most {MAX_MODEL_ELEMENTS} elements in all the variables of model `{}`, found {total}",
                        self.ast.name.name
                    ),
                )
                .secondary(
                    largest.span,
                    format!("`{}` alone holds {}", largest.name, largest.ty.elements()),
                )
                .help("ebmc keeps a model's variables under 2^28 elements (2 GiB); use smaller dimensions"),
            );
            return None;
        }
        if !self.enumerable(&vars, &clauses) {
            return None;
        }
        let consts = self
            .const_decls
            .iter()
            .zip(&self.const_vals)
            .map(|((n, _), v)| (n.name.clone(), v.unwrap_or(f64::NAN)))
            .collect();
        Some(Model {
            name: self.ast.name.name.clone(),
            span: self.ast.span,
            consts,
            vars,
            fns: std::mem::take(&mut self.checked_fns),
            lets: std::mem::take(&mut self.lets),
            energy,
            loss: clauses.loss,
            infer: clauses.infer,
            train: clauses.train,
            data: clauses.data,
            partition: clauses.partition,
        })
    }

    /// Whether lowering can enumerate what it must: every answer when all outputs are
    /// discrete, and every combination of the class and sign latents it eliminates. Each is at
    /// most [`MAX_ANSWERS`]; otherwise `E0211` at the first variable, the others beside it.
    ///
    /// Discrete outputs are not enumerated when nothing asks for their answers: a `gibbs`
    /// sampler draws them, the loss is `cd` (its ȳ a sample) or none, and the partition is
    /// not by enumeration (an RBM's `sign[64]` visible layer).
    fn enumerable(&mut self, vars: &[Var], clauses: &clauses::Clauses) -> bool {
        let sampled = clauses
            .infer
            .iter()
            .any(|g| matches!(g.method, InferMethod::Sample(Sampler::Gibbs { .. })))
            && clauses
                .loss
                .as_ref()
                .is_none_or(|l| matches!(l.kind, LossKind::Cd { .. }))
            && !matches!(clauses.partition, Some(Partition::Enumerate));
        let outputs: Vec<&Var> = vars
            .iter()
            .filter(|v| v.role == Role::Output && !sampled)
            .collect();
        let latents: Vec<&Var> = vars
            .iter()
            .filter(|v| {
                v.role == Role::Latent
                    && v.ty.is_discrete()
                    && !matches!(v.elim, Some(Elim::MarginalClosed { .. }))
            })
            .collect();
        let enumerated = if outputs.iter().all(|v| v.ty.is_discrete()) {
            outputs
        } else {
            Vec::new()
        };
        let mut ok = true;
        for (group, what, help) in [
            (enumerated, "answers to enumerate", "every combination of the outputs' values is an answer; a loss or `infer … by enumerate` over them is one term each: use fewer or smaller class outputs, or a real output with `descent`"),
            (latents, "combinations of class and sign latent values to eliminate", "eliminating discrete latents sums (or minimises) over every combination of their values: use fewer or smaller class latents, or a real latent eliminated by `descent`"),
        ] {
            let Some(first) = group.first() else {
                continue;
            };
            let count = group
                .iter()
                .try_fold(1usize, |acc, v| acc.checked_mul(v.ty.states()?));
            if count.is_some_and(|c| c <= MAX_ANSWERS) {
                continue;
            }
            // log2 of the count, to name one too large for a `usize` (a `sign[100]`).
            let bits: f64 = group
                .iter()
                .map(|v| match &v.ty {
                    Ty::Sign(s) => s.len() as f64,
                    Ty::Class(k) => (*k as f64).log2(),
                    Ty::Real(_) => 0.0,
                })
                .sum();
            let found = count.map_or(format!("about 2^{bits:.0}"), |c| c.to_string());
            let tensor = group
                .iter()
                .any(|v| matches!(&v.ty, Ty::Sign(s) if !s.is_scalar()));
            let help = if tensor {
                format!("{help}; a `sign[n]` takes 2^n values, so n is at most 16 to be enumerated")
            } else {
                help.to_string()
            };
            let mut d = Diagnostic::new(
                Code::TooManyAnswers,
                first.span,
                format!("expected at most {MAX_ANSWERS} {what}, found {found}"),
            )
            .label(format!("`{}` : {}", first.name, first.ty));
            for v in &group[1..] {
                d = d.secondary(v.span, format!("`{}` : {}", v.name, v.ty));
            }
            self.error(d.help(help));
            ok = false;
        }
        ok
    }

    /// Suggestion for an unknown name among the names in scope.
    fn suggest(&self, name: &str, extra: &[&str]) -> Option<String> {
        let candidates = self.names.keys().copied().chain(extra.iter().copied());
        did_you_mean(name, candidates).map(|s| format!("did you mean `{s}`?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    #[test]
    fn check_typed_records_what_checked_even_beside_an_error() {
        let src = "model m {\n  input x : real[4]\n  output y : real\n  param W : real[3, 4]\n  let h = W @ x\n  energy (sum(h) - y)^2 + q\n}\n";
        let file = parse(src).expect("parses");
        let (models, diags, typings) = check_typed(&file);
        assert_eq!((models, diags.clone()), check(&file));
        assert!(diags.iter().any(|d| d.code == Code::UnknownName));
        let t = &typings[0];
        let at = |s: &str| {
            let start = src.find(s).expect("in the source");
            Span::new(start, start + s.len())
        };
        assert_eq!(
            t.exprs[&at("W @ x")],
            Ty::Real(crate::types::Shape(vec![3]))
        );
        assert_eq!(t.exprs[&at("sum(h)")], Ty::scalar());
        assert_eq!(t.names[&at("h")], Ty::Real(crate::types::Shape(vec![3])));
        assert_eq!(t.names[&at("W")], Ty::Real(crate::types::Shape(vec![3, 4])));
        assert!(!t.exprs.contains_key(&at("q")));
    }

    /// Every method `methods()` lists, written with every argument it lists, is one the checker
    /// accepts in its clause.
    #[test]
    fn every_listed_method_and_argument_is_accepted() {
        let refused = [
            Code::UnknownLoss,
            Code::UnknownMethod,
            Code::UnknownArgument,
            Code::MissingArgument,
            Code::ArgumentRange,
        ];
        for m in methods() {
            let mut args: Vec<String> = m
                .args
                .iter()
                .map(|(n, d)| format!("{n} = {}", d.unwrap_or(1.0)))
                .collect();
            if m.init {
                args.push("init = 0".into());
            }
            let call = format!("{}({})", m.name, args.join(", "));
            let (class, real) = (
                "input x : real[2] output y : class[2] param W : real[2, 2] energy (W @ x)[y]",
                "input x : real output y : real param w : real energy (w * x - y)^2",
            );
            let body = match (m.clause, m.name) {
                (Clause::Loss, _) => format!("{class} loss {call}"),
                (Clause::Negatives, _) => format!("{real} loss hinge negatives {call}"),
                (Clause::Infer, "enumerate") => format!("{class} infer y by {call}"),
                (Clause::Infer, _) => format!("{real} infer y by {call}"),
                (Clause::Train, _) => format!("{class} loss nll train by {call}"),
                (Clause::Min, "enumerate") => {
                    format!("{class} latent z : class[2] min by {call} energy W[z, 0]")
                }
                (Clause::Min, _) => format!("{real} latent z : real min by {call} energy z^2"),
                (Clause::Marginal, _) => {
                    format!("{class} latent z : class[2] {call} energy W[z, 0]")
                }
                (Clause::Partition, "enumerate") => {
                    format!("output y : class[2] param v : real[2] energy v[y] partition by {call}")
                }
                (Clause::Partition, _) => {
                    format!("output y : real param w : real energy (y - w)^2 partition by {call}")
                }
            };
            let src = format!("model m {{ {body} }}");
            let file = parse(&src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            let (_, diags) = check(&file);
            let bad: Vec<_> = diags.iter().filter(|d| refused.contains(&d.code)).collect();
            assert!(bad.is_empty(), "{src}: {bad:?}");
        }
    }
}
