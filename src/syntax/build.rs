//! The lowering of pest's pairs into the AST, with a Pratt parser for operator precedence
//! (registered lowest to highest: `+ -`, `* / @`, prefix `-`, `^` right associative, postfix
//! `[…]` and `'`). Expression trees deeper than [`MAX_EXPR_DEPTH`] are cut, with an error.

use super::ast::*;
use super::errors::too_deep;
use super::parser::{skip_comment_or_string, Rule, MAX_EXPR_DEPTH};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::cell::RefCell;

pub(super) fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::matmul, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::infix(Rule::pow, Assoc::Right))
        .op(Op::postfix(Rule::index) | Op::postfix(Rule::transpose))
}

/// A pair's span without the whitespace and comments pest lets a rule swallow at its end.
fn span(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.start() + significant_len(s.as_str()))
}

/// Length of `text` up to the end of its last byte outside whitespace and comments.
fn significant_len(text: &str) -> usize {
    if !text.contains('/') {
        return text.trim_end_matches([' ', '\t', '\r', '\n']).len();
    }
    let b = text.as_bytes();
    let (mut i, mut end) = (0, 0);
    while i < b.len() {
        if let Some((next, string)) = skip_comment_or_string(b, i) {
            if string {
                end = next;
            }
            i = next;
            continue;
        }
        i += 1;
        if !matches!(b[i - 1], b' ' | b'\t' | b'\r' | b'\n') {
            end = i;
        }
    }
    end
}

fn is_keyword(r: Rule) -> bool {
    use Rule::*;
    matches!(
        r,
        kw_model
            | kw_const
            | kw_input
            | kw_output
            | kw_latent
            | kw_param
            | kw_fn
            | kw_let
            | kw_energy
            | kw_partition
            | kw_loss
            | kw_infer
            | kw_train
            | kw_data
            | kw_by
            | kw_min
            | kw_marginal
            | kw_negatives
            | kw_split
            | kw_test
            | kw_standardize
            | kw_real
            | kw_class
            | kw_sign
            | kw_inf
            | EOI
    )
}

/// Words that cannot name a declared thing (models, losses and methods may use them).
pub const RESERVED: &[&str] = &[
    "model", "const", "input", "output", "latent", "param", "fn", "let", "energy", "loss", "infer",
    "train", "data", "inf",
];

/// The children of a pair without keyword tokens.
fn children(p: Pair<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    p.into_inner().filter(|c| !is_keyword(c.as_rule()))
}

pub(super) struct Builder {
    pub(super) errors: RefCell<Vec<Diagnostic>>,
    pub(super) pratt: PrattParser<Rule>,
}

impl Builder {
    fn error(&self, d: Diagnostic) {
        self.errors.borrow_mut().push(d);
    }

    pub(super) fn file(&self, p: Pair<Rule>) -> File {
        File {
            models: children(p).map(|m| self.model(m)).collect(),
        }
    }

    /// A declared name: reserved words are rejected here.
    fn ident(&self, p: Pair<Rule>) -> Ident {
        let id = ident(p);
        if RESERVED.contains(&id.name.as_str()) {
            self.error(
                Diagnostic::new(
                    Code::Syntax,
                    id.span,
                    format!("expected a name, found the keyword `{}`", id.name),
                )
                .label("reserved word")
                .help(
                    "this keyword cannot be used as a name; pick another, e.g. `{}_`"
                        .replace("{}", &id.name),
                ),
            );
        }
        id
    }

    fn model(&self, p: Pair<Rule>) -> Model {
        let sp = span(&p);
        let mut it = children(p);
        let name = ident(it.next().expect("model name"));
        Model {
            name,
            decls: it.map(|d| self.decl(d)).collect(),
            span: sp,
        }
    }

    fn decl(&self, p: Pair<Rule>) -> Decl {
        let sp = span(&p);
        let rule = p.as_rule();
        let mut it = children(p).peekable();
        let kind = match rule {
            Rule::const_decl => DeclKind::Const {
                name: self.ident(it.next().unwrap()),
                value: self.expr(it.next().unwrap()),
            },
            Rule::input_decl | Rule::output_decl | Rule::latent_decl | Rule::param_decl => {
                let role = match rule {
                    Rule::input_decl => Role::Input,
                    Rule::output_decl => Role::Output,
                    Rule::latent_decl => Role::Latent,
                    _ => Role::Param,
                };
                let name = self.ident(it.next().unwrap());
                let ty = self.ty(it.next().unwrap());
                let (mut elim, mut init) = (None, None);
                for extra in it {
                    match extra.as_rule() {
                        Rule::elim => elim = Some(self.elim(extra)),
                        Rule::init_value => {
                            init = Some(Init::Value(self.expr(children(extra).next().unwrap())))
                        }
                        _ => init = Some(Init::Dist(self.expr(children(extra).next().unwrap()))),
                    }
                }
                DeclKind::Var {
                    role,
                    name,
                    ty,
                    elim,
                    init,
                }
            }
            Rule::fn_decl => {
                let name = self.ident(it.next().unwrap());
                let mut params = Vec::new();
                while it.peek().map(|p| p.as_rule()) == Some(Rule::fn_param) {
                    let mut fp = children(it.next().unwrap());
                    params.push(FnParam {
                        name: self.ident(fp.next().unwrap()),
                        ty: self.ty(fp.next().unwrap()),
                    });
                }
                DeclKind::Fn {
                    name,
                    params,
                    body: self.expr(it.next().unwrap()),
                }
            }
            Rule::let_decl => DeclKind::Let {
                name: self.ident(it.next().unwrap()),
                value: self.expr(it.next().unwrap()),
            },
            Rule::energy_decl => {
                let first = it.next().unwrap();
                if first.as_rule() == Rule::ident {
                    DeclKind::Energy {
                        name: Some(self.ident(first)),
                        value: self.expr(it.next().unwrap()),
                    }
                } else {
                    DeclKind::Energy {
                        name: None,
                        value: self.expr(first),
                    }
                }
            }
            Rule::loss_decl => {
                let name = ident(it.next().unwrap());
                let mut method = Method {
                    span: name.span,
                    name,
                    args: Vec::new(),
                };
                let mut negatives = None;
                for extra in it {
                    match extra.as_rule() {
                        Rule::method_args => {
                            method.span = method.span.to(span(&extra));
                            method.args = self.args(extra);
                        }
                        _ => negatives = Some(self.method(children(extra).next().unwrap())),
                    }
                }
                DeclKind::Loss { method, negatives }
            }
            Rule::infer_decl => {
                let mut vars = Vec::new();
                let mut method = None;
                for c in it {
                    match c.as_rule() {
                        Rule::ident => vars.push(ident(c)),
                        _ => method = Some(self.method(c)),
                    }
                }
                DeclKind::Infer {
                    vars,
                    method: method.unwrap(),
                }
            }
            Rule::train_decl => DeclKind::Train {
                method: self.method(it.next().unwrap()),
            },
            Rule::data_decl => DeclKind::Data(self.data(it)),
            Rule::partition_decl => DeclKind::Partition {
                method: self.method(it.next().unwrap()),
            },
            r => unreachable!("not a declaration: {r:?}"),
        };
        Decl { kind, span: sp }
    }

    fn data<'i>(&self, it: impl Iterator<Item = Pair<'i, Rule>>) -> Data {
        let mut data = Data {
            path: String::new(),
            path_span: Span::default(),
            bindings: vec![],
            split: None,
            test: None,
            test_span: Span::default(),
            standardize: vec![],
        };
        for c in it {
            match c.as_rule() {
                Rule::string => {
                    data.path_span = span(&c);
                    let s = c.as_str();
                    data.path = s[1..s.len() - 1].to_string();
                }
                Rule::binding => {
                    let sp = span(&c);
                    let mut b = children(c);
                    let var = ident(b.next().unwrap());
                    let mut cols = children(b.next().unwrap());
                    let first = self.column(cols.next().unwrap());
                    let last = cols.next().map(|c| self.column(c));
                    data.bindings.push(Binding {
                        var,
                        first,
                        last,
                        span: sp,
                    });
                }
                Rule::split => data.split = Some(self.expr(children(c).next().unwrap())),
                Rule::test_file => {
                    let path = children(c).next().unwrap();
                    let s = path.as_str();
                    data.test = Some(s[1..s.len() - 1].to_string());
                    data.test_span = span(&path);
                }
                Rule::standardize => data.standardize = children(c).map(ident).collect(),
                r => unreachable!("not in data: {r:?}"),
            }
        }
        data
    }

    fn column(&self, p: Pair<Rule>) -> Column {
        let inner = children(p).next().unwrap();
        let sp = span(&inner);
        let text = inner.as_str();
        let kind = match inner.as_rule() {
            Rule::integer => match text.parse::<usize>() {
                Ok(i) => ColumnKind::Index(i),
                Err(_) => {
                    self.error(
                        Diagnostic::new(
                            Code::BadNumber,
                            sp,
                            format!("expected a column index, found `{text}`"),
                        )
                        .help("column indices are 0-based and fit in 64 bits"),
                    );
                    ColumnKind::Index(0)
                }
            },
            Rule::string => ColumnKind::Name(text[1..text.len() - 1].to_string()),
            _ => ColumnKind::Name(text.to_string()),
        };
        Column { kind, span: sp }
    }

    fn elim(&self, p: Pair<Rule>) -> Elim {
        let inner = children(p).next().unwrap();
        match inner.as_rule() {
            Rule::elim_min => Elim::Min(self.method(children(inner).next().unwrap())),
            _ => {
                // `marginal` is a keyword token; name the method after it.
                let sp = span(&inner);
                let args = children(inner)
                    .next()
                    .map(|a| self.args(a))
                    .unwrap_or_default();
                let name = Ident {
                    name: "marginal".into(),
                    span: Span::new(sp.start, sp.start + "marginal".len()),
                };
                Elim::Marginal(Method {
                    name,
                    args,
                    span: sp,
                })
            }
        }
    }

    fn method(&self, p: Pair<Rule>) -> Method {
        let sp = span(&p);
        let mut it = children(p);
        let name = ident(it.next().unwrap());
        let args = it.next().map(|a| self.args(a)).unwrap_or_default();
        Method {
            name,
            args,
            span: sp,
        }
    }

    fn args(&self, p: Pair<Rule>) -> Vec<Arg> {
        children(p)
            .map(|a| {
                let sp = span(&a);
                let mut it = children(a);
                let first = it.next().unwrap();
                match it.next() {
                    Some(value) => Arg {
                        name: Some(ident(first)),
                        value: self.expr(value),
                        span: sp,
                    },
                    None => Arg {
                        name: None,
                        value: self.expr(first),
                        span: sp,
                    },
                }
            })
            .collect()
    }

    fn ty(&self, p: Pair<Rule>) -> Type {
        let inner = children(p).next().unwrap();
        let sp = span(&inner);
        let kind = match inner.as_rule() {
            Rule::ty_real => TypeKind::Real(children(inner).map(|e| self.expr(e)).collect()),
            Rule::ty_class => TypeKind::Class(Box::new(self.expr(children(inner).next().unwrap()))),
            _ => TypeKind::Sign(children(inner).map(|e| self.expr(e)).collect()),
        };
        Type { kind, span: sp }
    }

    /// Lowers a flat `expr` pair through the Pratt parser.
    fn expr(&self, p: Pair<Rule>) -> Expr {
        let sp = span(&p);
        let pairs = p.into_inner();
        // Prefix and `^` chains recurse in the Pratt parser: bound them before it runs.
        let (mut run, mut pows) = (0usize, 0usize);
        for q in pairs.clone() {
            match q.as_rule() {
                Rule::neg => run += 1,
                Rule::pow => pows += 1,
                _ => run = 0,
            }
            if run > MAX_EXPR_DEPTH || pows > MAX_EXPR_DEPTH {
                self.error(too_deep(span(&q), "operators", MAX_EXPR_DEPTH));
                return Expr {
                    kind: ExprKind::Number(0.0, Some(0)),
                    span: sp,
                };
            }
        }
        let (e, _) = self.pratt_expr(pairs);
        e
    }

    /// Returns the expression and its depth; a tree deeper than the limit is cut at the
    /// offending node (with an error) so that walks over the AST stay bounded.
    fn pratt_expr(&self, pairs: Pairs<Rule>) -> (Expr, usize) {
        self.pratt
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, (rhs, d)| {
                let sp = span(&op).to(rhs.span);
                self.limit_depth(
                    Expr {
                        kind: ExprKind::Neg(Box::new(rhs)),
                        span: sp,
                    },
                    d + 1,
                )
            })
            .map_postfix(|(lhs, d), op| {
                let sp = lhs.span.to(span(&op));
                match op.as_rule() {
                    Rule::transpose => self.limit_depth(
                        Expr {
                            kind: ExprKind::Transpose(Box::new(lhs)),
                            span: sp,
                        },
                        d + 1,
                    ),
                    _ => {
                        let mut depth = d;
                        let args = children(op)
                            .map(|a| {
                                let (arg, ad) = self.index_arg(a);
                                depth = depth.max(ad);
                                arg
                            })
                            .collect();
                        self.limit_depth(
                            Expr {
                                kind: ExprKind::Index {
                                    base: Box::new(lhs),
                                    args,
                                },
                                span: sp,
                            },
                            depth + 1,
                        )
                    }
                }
            })
            .map_infix(|(lhs, ld), op, (rhs, rd)| {
                let op_span = span(&op);
                let op = match op.as_rule() {
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    Rule::matmul => BinOp::MatMul,
                    _ => BinOp::Pow,
                };
                let sp = lhs.span.to(rhs.span);
                self.limit_depth(
                    Expr {
                        kind: ExprKind::Binary {
                            op,
                            op_span,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        span: sp,
                    },
                    ld.max(rd) + 1,
                )
            })
            .parse(pairs)
    }

    fn limit_depth(&self, e: Expr, depth: usize) -> (Expr, usize) {
        if depth > MAX_EXPR_DEPTH {
            if depth == MAX_EXPR_DEPTH + 1 {
                self.error(too_deep(e.span, "operators", MAX_EXPR_DEPTH));
            }
            (
                Expr {
                    kind: ExprKind::Number(0.0, Some(0)),
                    span: e.span,
                },
                MAX_EXPR_DEPTH + 2,
            )
        } else {
            (e, depth)
        }
    }

    fn index_arg(&self, p: Pair<Rule>) -> (IndexArg, usize) {
        let sp = span(&p);
        let mut lo = None;
        let mut hi = None;
        let mut colon = false;
        let mut depth = 0;
        for c in children(p) {
            match c.as_rule() {
                Rule::colon => colon = true,
                _ => {
                    let (e, d) = self.sub_expr(c);
                    depth = depth.max(d);
                    if colon {
                        hi = Some(e)
                    } else {
                        lo = Some(e)
                    }
                }
            }
        }
        let arg = match (colon, lo) {
            (false, Some(e)) => IndexArg::At(e),
            (_, lo) => IndexArg::Slice { lo, hi, span: sp },
        };
        (arg, depth)
    }

    /// An expression nested inside another, with its depth.
    fn sub_expr(&self, p: Pair<Rule>) -> (Expr, usize) {
        let e = self.expr(p);
        let d = depth(&e);
        (e, d)
    }

    fn primary(&self, p: Pair<Rule>) -> (Expr, usize) {
        let sp = span(&p);
        match p.as_rule() {
            Rule::number => {
                let text = p.as_str();
                let v = if text == "inf" {
                    f64::INFINITY
                } else {
                    text.parse::<f64>().unwrap_or(f64::NAN)
                };
                let exact = text
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| text.parse::<u64>().ok())
                    .flatten();
                if !v.is_finite() && text != "inf" {
                    self.error(
                        Diagnostic::new(
                            Code::BadNumber,
                            sp,
                            format!("expected a finite number, found `{text}`"),
                        )
                        .help("write `inf` for infinity; numbers must fit in a 64-bit float"),
                    );
                }
                (
                    Expr {
                        kind: ExprKind::Number(v, exact),
                        span: sp,
                    },
                    1,
                )
            }
            Rule::ident => (
                Expr {
                    kind: ExprKind::Name(p.as_str().to_string()),
                    span: sp,
                },
                1,
            ),
            Rule::paren => {
                let (e, d) = self.sub_expr(children(p).next().unwrap());
                // Parentheses keep their own span so that labels cover them.
                (
                    Expr {
                        kind: e.kind,
                        span: sp,
                    },
                    d,
                )
            }
            Rule::vector => {
                let mut depth = 0;
                let items = children(p)
                    .map(|c| {
                        let (e, d) = self.sub_expr(c);
                        depth = depth.max(d);
                        e
                    })
                    .collect();
                (
                    Expr {
                        kind: ExprKind::Vector(items),
                        span: sp,
                    },
                    depth + 1,
                )
            }
            Rule::call => {
                let mut it = children(p);
                let func = ident(it.next().unwrap());
                let mut depth = 0;
                let args = it
                    .map(|c| {
                        let (e, d) = self.sub_expr(c);
                        depth = depth.max(d);
                        e
                    })
                    .collect();
                (
                    Expr {
                        kind: ExprKind::Call { func, args },
                        span: sp,
                    },
                    depth + 1,
                )
            }
            r => unreachable!("not a primary: {r:?}"),
        }
    }
}

fn ident(p: Pair<Rule>) -> Ident {
    Ident {
        name: p.as_str().to_string(),
        span: span(&p),
    }
}

/// Depth of an expression tree already built (bounded by construction).
fn depth(e: &Expr) -> usize {
    1 + match &e.kind {
        ExprKind::Number(..) | ExprKind::Name(_) => 0,
        ExprKind::Vector(items) | ExprKind::Call { args: items, .. } => {
            items.iter().map(depth).max().unwrap_or(0)
        }
        ExprKind::Index { base, args } => args
            .iter()
            .map(|a| match a {
                IndexArg::At(e) => depth(e),
                IndexArg::Slice { lo, hi, .. } => {
                    lo.iter().chain(hi.iter()).map(depth).max().unwrap_or(0)
                }
            })
            .max()
            .unwrap_or(0)
            .max(depth(base)),
        ExprKind::Transpose(e) | ExprKind::Neg(e) => depth(e),
        ExprKind::Binary { lhs, rhs, .. } => depth(lhs).max(depth(rhs)),
    }
}
