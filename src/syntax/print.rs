//! The text of `ebmc emit ast`: one node per line, indented by depth, each with its byte span.

use super::ast::*;
use std::fmt::Write;

/// Prints a whole file.
pub fn print_file(file: &File) -> String {
    let mut p = Printer { out: String::new() };
    for m in &file.models {
        p.line(0, &format!("model {}", m.name.name), m.span);
        for d in &m.decls {
            p.decl(d);
        }
    }
    p.out
}

struct Printer {
    out: String,
}

impl Printer {
    fn line(&mut self, indent: usize, text: &str, span: crate::span::Span) {
        let _ = writeln!(
            self.out,
            "{:indent$}{text} @{span:?}",
            "",
            indent = indent * 2
        );
    }

    fn decl(&mut self, d: &Decl) {
        match &d.kind {
            DeclKind::Const { name, value } => {
                self.line(1, &format!("const {}", name.name), d.span);
                self.expr(2, value);
            }
            DeclKind::Var {
                role,
                name,
                ty,
                elim,
                init,
            } => {
                self.line(1, &format!("{} {}", role.keyword(), name.name), d.span);
                self.ty(2, ty);
                match elim {
                    Some(Elim::Min(m)) => self.method(2, "elim min by", m),
                    Some(Elim::Marginal(m)) => self.method(2, "elim", m),
                    None => {}
                }
                match init {
                    Some(Init::Value(e)) => {
                        self.line(2, "init =", e.span);
                        self.expr(3, e);
                    }
                    Some(Init::Dist(e)) => {
                        self.line(2, "init ~", e.span);
                        self.expr(3, e);
                    }
                    None => {}
                }
            }
            DeclKind::Fn { name, params, body } => {
                self.line(1, &format!("fn {}", name.name), d.span);
                for p in params {
                    self.line(2, &format!("param {}", p.name.name), p.name.span);
                    self.ty(3, &p.ty);
                }
                self.expr(2, body);
            }
            DeclKind::Let { name, value } => {
                self.line(1, &format!("let {}", name.name), d.span);
                self.expr(2, value);
            }
            DeclKind::Energy { name, value } => {
                let title = match name {
                    Some(n) => format!("energy {}", n.name),
                    None => "energy".to_string(),
                };
                self.line(1, &title, d.span);
                self.expr(2, value);
            }
            DeclKind::Loss { method, negatives } => {
                self.method(1, "loss", method);
                if let Some(n) = negatives {
                    self.method(2, "negatives", n);
                }
            }
            DeclKind::Infer { vars, method } => {
                let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                self.line(1, &format!("infer {}", names.join(", ")), d.span);
                self.method(2, "by", method);
            }
            DeclKind::Train { method } => self.method(1, "train by", method),
            DeclKind::Partition { method } => self.method(1, "partition by", method),
            DeclKind::Data(data) => {
                self.line(1, &format!("data {:?}", data.path), d.span);
                for b in &data.bindings {
                    let cols = match &b.last {
                        Some(l) => format!("{}..{}", column(&b.first), column(l)),
                        None => column(&b.first),
                    };
                    self.line(2, &format!("bind {} = {cols}", b.var.name), b.span);
                }
                if let Some(s) = &data.split {
                    self.line(2, "split", s.span);
                    self.expr(3, s);
                }
                if let Some(path) = &data.test {
                    self.line(2, &format!("test {path:?}"), data.test_span);
                }
                for s in &data.standardize {
                    self.line(2, &format!("standardize {}", s.name), s.span);
                }
            }
        }
    }

    fn method(&mut self, indent: usize, what: &str, m: &Method) {
        self.line(indent, &format!("{what} {}", m.name.name), m.span);
        for a in &m.args {
            let title = match &a.name {
                Some(n) => format!("arg {}", n.name),
                None => "arg".to_string(),
            };
            self.line(indent + 1, &title, a.span);
            self.expr(indent + 2, &a.value);
        }
    }

    fn ty(&mut self, indent: usize, t: &Type) {
        match &t.kind {
            TypeKind::Real(dims) => {
                self.line(indent, "type real", t.span);
                for d in dims {
                    self.expr(indent + 1, d);
                }
            }
            TypeKind::Class(k) => {
                self.line(indent, "type class", t.span);
                self.expr(indent + 1, k);
            }
            TypeKind::Sign(dims) => {
                self.line(indent, "type sign", t.span);
                for d in dims {
                    self.expr(indent + 1, d);
                }
            }
        }
    }

    fn expr(&mut self, indent: usize, e: &Expr) {
        match &e.kind {
            ExprKind::Number(v, _) => self.line(indent, &format!("number {v:?}"), e.span),
            ExprKind::Name(n) => self.line(indent, &format!("name {n}"), e.span),
            ExprKind::Vector(items) => {
                self.line(indent, "vector", e.span);
                for i in items {
                    self.expr(indent + 1, i);
                }
            }
            ExprKind::Call { func, args } => {
                self.line(indent, &format!("call {}", func.name), e.span);
                for a in args {
                    self.expr(indent + 1, a);
                }
            }
            ExprKind::Index { base, args } => {
                self.line(indent, "index", e.span);
                self.expr(indent + 1, base);
                for a in args {
                    match a {
                        IndexArg::At(i) => self.expr(indent + 1, i),
                        IndexArg::Slice { lo, hi, span } => {
                            self.line(indent + 1, "slice", *span);
                            match lo {
                                Some(lo) => self.expr(indent + 2, lo),
                                None => self.line(indent + 2, "start", *span),
                            }
                            match hi {
                                Some(hi) => self.expr(indent + 2, hi),
                                None => self.line(indent + 2, "end", *span),
                            }
                        }
                    }
                }
            }
            ExprKind::Transpose(x) => {
                self.line(indent, "transpose", e.span);
                self.expr(indent + 1, x);
            }
            ExprKind::Neg(x) => {
                self.line(indent, "neg", e.span);
                self.expr(indent + 1, x);
            }
            ExprKind::Binary { op, lhs, rhs, .. } => {
                self.line(indent, &format!("binary {}", op.symbol()), e.span);
                self.expr(indent + 1, lhs);
                self.expr(indent + 1, rhs);
            }
        }
    }
}

fn column(c: &Column) -> String {
    match &c.kind {
        ColumnKind::Name(n) => n.clone(),
        ColumnKind::Index(i) => i.to_string(),
    }
}
