//! `ebmc fmt`: one canonical layout for a source, with every comment kept.
//!
//! The formatter prints the AST again, taking from the source only what the AST does not
//! hold: the spelling of numbers (`1e-3` stays `1e-3`), of the data path and of columns, the
//! parentheses the user wrote, which declarations share a line, blank lines and comments.
//! The layout:
//!
//! * two spaces of indentation inside `model NAME {` (the spec and every example use two);
//!   `model NAME {` and `}` on lines of their own; one blank line between models; no blank line
//!   after `{` or before `}`; elsewhere one blank line where the source had one or more.
//! * one declaration per line, except that declarations the source wrote on one line stay on
//!   one line (the spec groups `input x : real   output y : real` on purpose), three spaces
//!   apart.
//! * spaces around `=`, `~`, `:` of declarations and around `+ - * / @`; none around `^` and
//!   none around the operators of slice bounds (`y[0:N-1]^2`, as the examples write them);
//!   `-x`, `A'`, `f(a, b)`, `W[i, j]`, `[a, b]`, `descent(steps = 20)`,
//!   `data "f.csv" { x = a..d, y = label } split 0.8 standardize x, y`. Empty argument lists
//!   `()` and a trailing comma in a data block are dropped (the AST does not hold them).
//! * alignment: in a run of consecutive lines that each hold one variable declaration
//!   (`input output latent param`), the keywords are padded to the widest so that names align,
//!   and the names so that the `:` align; likewise the `=` of a run of named `energy` lines.
//!   A blank line, a comment line or any other line ends a run.
//! * parentheses: the user's are kept (the AST records them in the span of the expression
//!   they wrap; `((x))` keeps one pair), and those precedence needs are added.
//! * comments: an own-line comment stays on its own line before what followed it; a trailing
//!   comment stays at the end of its line, two spaces after the code; a comment between
//!   declarations of one line stays between them. A declaration (or a model header) with a
//!   comment inside is kept as written, so that no comment is lost or moved into another
//!   construct.
//! * no line wrapping: a long line stays long (wrapping expressions would need comments and
//!   breaking rules the language does not have yet).
//! * output is UTF-8 with `\n` line ends and no byte-order mark, whatever the input had;
//!   trailing spaces are removed, and the file ends with one newline.
//!
//! The formatter is idempotent and keeps the AST (up to spans) and the sequence of comment
//! texts: `tests/fmt.rs` and the `parse_check` fuzz target check both.

use super::ast::*;
use super::parser::{parse, skip_comment_or_string};
use crate::diag::Diagnostic;

/// Indentation of a declaration inside a model.
const INDENT: &str = "  ";
/// Between declarations that share a line.
const GROUP_GAP: &str = "   ";
/// Before a trailing comment.
const COMMENT_GAP: &str = "  ";

/// Formats a source text; a source that does not parse gives the parser's diagnostics.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let file = parse(source)?;
    let mut f = Formatter {
        src: source,
        comments: comments(source),
        next: 0,
        lines: Vec::new(),
    };
    f.file(&file);
    Ok(render(f.lines))
}

/// The byte ranges of every comment of `source`, in order (strings are skipped).
pub fn comments(source: &str) -> Vec<(usize, usize)> {
    let b = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match skip_comment_or_string(b, i) {
            Some((next, is_string)) => {
                if !is_string {
                    out.push((i, next));
                }
                i = next;
            }
            None => i += 1,
        }
    }
    out
}

/// What a line aligns with its neighbours: a keyword, a name, and the rest from `:` or `=`.
struct Align {
    class: u8,
    kw: &'static str,
    name: String,
    rest: String,
}

/// An output line before alignment.
enum Line {
    Blank,
    /// Own-line comments, a model header or `}`: `indent` then `text`.
    Text {
        indent: &'static str,
        text: String,
    },
    /// A line of declarations, with its trailing comments.
    Code {
        align: Option<Align>,
        text: String,
        trailing: String,
    },
}

struct Formatter<'s> {
    src: &'s str,
    comments: Vec<(usize, usize)>,
    /// The first comment not yet emitted.
    next: usize,
    lines: Vec<Line>,
}

impl<'s> Formatter<'s> {
    fn text(&self, start: usize, end: usize) -> String {
        self.src[start..end].replace("\r\n", "\n")
    }

    fn has_newline(&self, start: usize, end: usize) -> bool {
        start < end && self.src[start..end].contains('\n')
    }

    fn blank_between(&self, start: usize, end: usize) -> bool {
        start < end && self.src[start..end].matches('\n').count() >= 2
    }

    /// Whether a comment starts in `start..end`. Every comment before `start` has been
    /// emitted, so only the next one can (a scan of all of them would be quadratic).
    fn contains_comment(&self, start: usize, end: usize) -> bool {
        self.comments
            .get(self.next)
            .is_some_and(|&(s, _)| s >= start && s < end)
    }

    /// Takes every comment that starts before `limit` and on the same line as `pos` (the chain
    /// continues after each one), joined by spaces.
    fn same_line(&mut self, mut pos: usize, limit: usize) -> (String, usize) {
        let mut parts = Vec::new();
        while let Some(&(s, e)) = self.comments.get(self.next) {
            if s >= limit || self.has_newline(pos, s) {
                break;
            }
            parts.push(self.text(s, e));
            self.next += 1;
            pos = e;
        }
        (parts.join(" "), pos)
    }

    /// Emits the comments before `limit` on lines of their own; `pos` is where the previous
    /// item ended and `blank_ok` whether a blank line may open the run. Returns the new `pos`.
    fn own_lines(
        &mut self,
        mut pos: usize,
        limit: usize,
        indent: &'static str,
        blank_ok: bool,
    ) -> usize {
        let mut first = true;
        while let Some(&(s, _)) = self.comments.get(self.next) {
            if s >= limit {
                break;
            }
            if (blank_ok || !first) && self.blank_between(pos, s) {
                self.lines.push(Line::Blank);
            }
            let (text, end) = self.same_line(s, limit);
            self.lines.push(Line::Text { indent, text });
            pos = end;
            first = false;
        }
        pos
    }

    fn file(&mut self, file: &File) {
        let mut pos = 0;
        for (i, m) in file.models.iter().enumerate() {
            if i > 0 {
                self.lines.push(Line::Blank);
            }
            let had = self.next;
            pos = self.own_lines(pos, m.span.start, "", false);
            if self.next != had && self.blank_between(pos, m.span.start) {
                self.lines.push(Line::Blank);
            }
            let next = file
                .models
                .get(i + 1)
                .map_or(self.src.len(), |n| n.span.start);
            pos = self.model(m, next);
        }
        let end = self.src.len();
        self.own_lines(pos, end, "", true);
    }

    /// Emits one model, before the next one at `next`; returns the source position after it
    /// and its trailing comments.
    fn model(&mut self, m: &Model, next: usize) -> usize {
        let brace = self.open_brace(m);
        let header = if self.contains_comment(m.span.start, brace) {
            let text = self.text(m.span.start, brace);
            // The comments inside are emitted with the header.
            while self
                .comments
                .get(self.next)
                .is_some_and(|&(s, _)| s < brace)
            {
                self.next += 1;
            }
            text
        } else {
            format!("model {} {{", m.name.name)
        };
        let close = m.span.end - 1;
        let first_decl = m.decls.first().map_or(close, |d| d.span.start);
        let (trailing, mut pos) = self.same_line(brace, first_decl);
        self.lines.push(Line::Text {
            indent: "",
            text: join_trailing(header, &trailing),
        });
        let mut first = true;
        let mut i = 0;
        while i < m.decls.len() {
            let had = self.next;
            pos = self.own_lines(pos, m.decls[i].span.start, INDENT, !first);
            first &= self.next == had;
            if !first && self.blank_between(pos, m.decls[i].span.start) {
                self.lines.push(Line::Blank);
            }
            first = false;
            // The declarations that share this line, with the comments between them.
            let mut text = String::new();
            let mut count = 0;
            let mut align;
            loop {
                let d = &m.decls[i];
                let (t, a) = self.decl(d);
                text.push_str(&t);
                align = a;
                count += 1;
                pos = d.span.end;
                i += 1;
                match m.decls.get(i) {
                    Some(n) if !self.has_newline(pos, n.span.start) => {
                        let (between, _) = self.same_line(pos, n.span.start);
                        if between.is_empty() {
                            text.push_str(GROUP_GAP);
                        } else {
                            text.push(' ');
                            text.push_str(&between);
                            text.push(' ');
                        }
                    }
                    _ => break,
                }
            }
            let limit = m.decls.get(i).map_or(close, |d| d.span.start);
            let (trailing, end) = self.same_line(pos, limit);
            pos = end;
            self.lines.push(Line::Code {
                align: if count == 1 { align } else { None },
                text,
                trailing,
            });
        }
        self.own_lines(pos, close, INDENT, !first);
        let (trailing, end) = self.same_line(m.span.end, next);
        self.lines.push(Line::Text {
            indent: "",
            text: join_trailing("}".to_string(), &trailing),
        });
        end
    }

    /// The position just after the `{` that opens a model's body.
    fn open_brace(&self, m: &Model) -> usize {
        let b = self.src.as_bytes();
        let mut i = m.name.span.end;
        while i < b.len() {
            if let Some((next, _)) = skip_comment_or_string(b, i) {
                i = next;
                continue;
            }
            if b[i] == b'{' {
                return i + 1;
            }
            i += 1;
        }
        i
    }

    /// One declaration's text and what it aligns. A declaration with a comment inside is kept
    /// as written.
    fn decl(&mut self, d: &Decl) -> (String, Option<Align>) {
        if self.contains_comment(d.span.start, d.span.end) {
            while self
                .comments
                .get(self.next)
                .is_some_and(|&(s, _)| s < d.span.end)
            {
                self.next += 1;
            }
            return (self.text(d.span.start, d.span.end), None);
        }
        let p = Printer { src: self.src };
        let aligned = |class, kw, name: &Ident, rest: String| {
            let text = format!("{kw} {} {rest}", name.name);
            let align = Align {
                class,
                kw,
                name: name.name.clone(),
                rest,
            };
            (text, Some(align))
        };
        match &d.kind {
            DeclKind::Const { name, value } => {
                (format!("const {} = {}", name.name, p.expr(value)), None)
            }
            DeclKind::Var {
                role,
                name,
                ty,
                elim,
                init,
            } => {
                let mut rest = format!(": {}", p.ty(ty));
                match elim {
                    Some(Elim::Min(m)) => rest += &format!(" min by {}", p.method(m)),
                    Some(Elim::Marginal(m)) => rest += &format!(" {}", p.method(m)),
                    None => {}
                }
                match init {
                    Some(Init::Value(e)) => rest += &format!(" = {}", p.expr(e)),
                    Some(Init::Dist(e)) => rest += &format!(" ~ {}", p.expr(e)),
                    None => {}
                }
                aligned(0, role.keyword(), name, rest)
            }
            DeclKind::Fn { name, params, body } => {
                let params: Vec<String> = params
                    .iter()
                    .map(|q| format!("{} : {}", q.name.name, p.ty(&q.ty)))
                    .collect();
                let text = format!("fn {}({}) = {}", name.name, params.join(", "), p.expr(body));
                (text, None)
            }
            DeclKind::Let { name, value } => {
                (format!("let {} = {}", name.name, p.expr(value)), None)
            }
            DeclKind::Energy {
                name: Some(name),
                value,
            } => aligned(1, "energy", name, format!("= {}", p.expr(value))),
            DeclKind::Energy { name: None, value } => (format!("energy {}", p.expr(value)), None),
            DeclKind::Loss { method, negatives } => {
                let mut text = format!("loss {}", p.method(method));
                if let Some(n) = negatives {
                    text += &format!(" negatives {}", p.method(n));
                }
                (text, None)
            }
            DeclKind::Infer { vars, method } => {
                let vars: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                (
                    format!("infer {} by {}", vars.join(", "), p.method(method)),
                    None,
                )
            }
            DeclKind::Train { method } => (format!("train by {}", p.method(method)), None),
            DeclKind::Partition { method } => (format!("partition by {}", p.method(method)), None),
            DeclKind::Data(data) => {
                let bindings: Vec<String> = data
                    .bindings
                    .iter()
                    .map(|b| {
                        let mut s = format!("{} = {}", b.var.name, b.first.span.text(self.src));
                        if let Some(l) = &b.last {
                            s += &format!("..{}", l.span.text(self.src));
                        }
                        s
                    })
                    .collect();
                let mut text = format!("data {} ", data.path_span.text(self.src));
                if bindings.is_empty() {
                    text += "{}";
                } else {
                    text += &format!("{{ {} }}", bindings.join(", "));
                }
                if let Some(s) = &data.split {
                    text += &format!(" split {}", p.expr(s));
                }
                if data.test.is_some() {
                    text += &format!(" test {}", data.test_span.text(self.src));
                }
                if !data.standardize.is_empty() {
                    let names: Vec<&str> =
                        data.standardize.iter().map(|s| s.name.as_str()).collect();
                    text += &format!(" standardize {}", names.join(", "));
                }
                (text, None)
            }
        }
    }
}

/// `code` followed by its trailing comments.
fn join_trailing(code: String, trailing: &str) -> String {
    if trailing.is_empty() {
        code
    } else {
        format!("{code}{COMMENT_GAP}{trailing}")
    }
}

/// Lays the lines out: aligns runs, indents, drops trailing spaces, ends with one newline.
fn render(lines: Vec<Line>) -> String {
    // The widths of each line's run of aligned declarations.
    let mut widths = vec![(0, 0); lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let class = match &lines[i] {
            Line::Code { align: Some(a), .. } => a.class,
            _ => {
                i += 1;
                continue;
            }
        };
        let mut j = i;
        let (mut kw, mut name) = (0, 0);
        while let Some(Line::Code { align: Some(a), .. }) = lines.get(j) {
            if a.class != class {
                break;
            }
            kw = kw.max(a.kw.len());
            name = name.max(a.name.len());
            j += 1;
        }
        for w in &mut widths[i..j] {
            *w = (kw, name);
        }
        i = j;
    }
    let mut out = String::new();
    for (line, (kw, name)) in lines.into_iter().zip(widths) {
        let text = match line {
            Line::Blank => String::new(),
            Line::Text { indent, text } => format!("{indent}{text}"),
            Line::Code {
                align,
                text,
                trailing,
            } => {
                let code = match align {
                    Some(a) => format!("{:kw$} {:name$} {}", a.kw, a.name, a.rest),
                    None => text,
                };
                format!("{INDENT}{}", join_trailing(code, &trailing))
            }
        };
        for l in text.split('\n') {
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Prints expressions, types and methods of a source whose spans it reads.
struct Printer<'s> {
    src: &'s str,
}

/// Binding strength, weakest first: `+ -`, `* / @`, prefix `-`, `^`, postfix, atoms.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => match op {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div | BinOp::MatMul => 2,
            BinOp::Pow => 4,
        },
        ExprKind::Neg(_) => 3,
        ExprKind::Index { .. } | ExprKind::Transpose(_) => 5,
        _ => 6,
    }
}

impl Printer<'_> {
    fn expr(&self, e: &Expr) -> String {
        self.wrapped(e, false, false)
    }

    /// Whether the user wrote parentheses around `e`: its span then starts before its first
    /// operand's, or (for a node that starts with its own token) at a `(`.
    fn parenthesized(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Binary { lhs, .. } => e.span.start < lhs.span.start,
            ExprKind::Index { base, .. } | ExprKind::Transpose(base) => {
                e.span.start < base.span.start
            }
            _ => e.span.text(self.src).starts_with('('),
        }
    }

    /// `e`, in parentheses when the user wrote them or when `needed`.
    fn wrapped(&self, e: &Expr, needed: bool, compact: bool) -> String {
        let bare = self.bare(e, compact);
        if needed || self.parenthesized(e) {
            format!("({bare})")
        } else {
            bare
        }
    }

    fn bare(&self, e: &Expr, compact: bool) -> String {
        match &e.kind {
            ExprKind::Number(..) => {
                let text = e.span.text(self.src);
                text.trim_start_matches(|c: char| c == '(' || c.is_whitespace())
                    .trim_end_matches(|c: char| c == ')' || c.is_whitespace())
                    .to_string()
            }
            ExprKind::Name(n) => n.clone(),
            ExprKind::Vector(items) => format!("[{}]", self.list(items)),
            ExprKind::Call { func, args } => format!("{}({})", func.name, self.list(args)),
            ExprKind::Index { base, args } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match a {
                        IndexArg::At(i) => self.expr(i),
                        IndexArg::Slice { lo, hi, .. } => {
                            let end = |b: &Option<Expr>| {
                                b.as_ref()
                                    .map(|b| self.wrapped(b, false, true))
                                    .unwrap_or_default()
                            };
                            format!("{}:{}", end(lo), end(hi))
                        }
                    })
                    .collect();
                format!(
                    "{}[{}]",
                    self.wrapped(base, prec(base) < 5, compact),
                    args.join(", ")
                )
            }
            ExprKind::Transpose(x) => format!("{}'", self.wrapped(x, prec(x) < 5, compact)),
            ExprKind::Neg(x) => format!("-{}", self.wrapped(x, prec(x) < 3, compact)),
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let p = prec(e);
                let (l, r) = if *op == BinOp::Pow {
                    // Right associative: `(a^b)^c` and `(-a)^b` need their parentheses.
                    (
                        prec(lhs) <= p,
                        prec(rhs) < p && !matches!(rhs.kind, ExprKind::Neg(_)),
                    )
                } else {
                    (
                        prec(lhs) < p,
                        prec(rhs) <= p && !matches!(rhs.kind, ExprKind::Neg(_)),
                    )
                };
                let l = self.wrapped(lhs, l, compact);
                let r = self.wrapped(rhs, r, compact);
                if compact || *op == BinOp::Pow {
                    format!("{l}{}{r}", op.symbol())
                } else {
                    format!("{l} {} {r}", op.symbol())
                }
            }
        }
    }

    fn list(&self, items: &[Expr]) -> String {
        let items: Vec<String> = items.iter().map(|i| self.expr(i)).collect();
        items.join(", ")
    }

    fn ty(&self, t: &Type) -> String {
        match &t.kind {
            TypeKind::Real(dims) if dims.is_empty() => "real".to_string(),
            TypeKind::Real(dims) => format!("real[{}]", self.list(dims)),
            TypeKind::Class(k) => format!("class[{}]", self.expr(k)),
            TypeKind::Sign(dims) if dims.is_empty() => "sign".to_string(),
            TypeKind::Sign(dims) => format!("sign[{}]", self.list(dims)),
        }
    }

    fn method(&self, m: &Method) -> String {
        if m.args.is_empty() {
            return m.name.name.clone();
        }
        let args: Vec<String> = m
            .args
            .iter()
            .map(|a| match &a.name {
                Some(n) => format!("{} = {}", n.name, self.expr(&a.value)),
                None => self.expr(&a.value),
            })
            .collect();
        format!("{}({})", m.name.name, args.join(", "))
    }
}
