//! pest parser and the lowering of its pairs into the AST, with a Pratt parser for
//! operator precedence (registered lowest to highest: `+ -`, `* / @`, prefix `-`, `^` right
//! associative, postfix `[…]` and `'`).

use super::ast::*;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::cell::RefCell;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/ebm.pest"]
struct EbmParser;

/// Deepest bracket nesting (`(`, `[`, `{` together) the parser accepts.
pub const MAX_NESTING: usize = 64;
/// Deepest expression tree (operators and brackets) the parser builds.
pub const MAX_EXPR_DEPTH: usize = 256;
/// Largest source text accepted.
pub const MAX_SOURCE_BYTES: usize = 8 << 20;

/// Parses raw bytes: non-UTF-8 input is an error, not a panic.
pub fn parse_bytes(bytes: &[u8]) -> Result<File, Vec<Diagnostic>> {
    match std::str::from_utf8(bytes) {
        Ok(s) => parse(s),
        Err(e) => {
            let at = e.valid_up_to();
            Err(vec![Diagnostic::new(
                Code::NotUtf8,
                Span::new(at, at + 1),
                format!(
                    "expected UTF-8 text, found the byte 0x{:02x} at offset {at}",
                    bytes[at]
                ),
            )
            .help("save the file as UTF-8")])
        }
    }
}

/// Parses a source text into a file of models.
pub fn parse(source: &str) -> Result<File, Vec<Diagnostic>> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(vec![Diagnostic::new(
            Code::TooLarge,
            Span::new(0, 0),
            format!(
                "expected at most {MAX_SOURCE_BYTES} bytes of source, found {}",
                source.len()
            ),
        )
        .help("split the file into several files")]);
    }
    scan_nesting(source)?;
    // Guard against pathological backtracking as well as deep recursion.
    pest::set_call_limit(std::num::NonZeroUsize::new(50_000_000));
    // Well-formed sources take the fast path. Only on a syntax error is the source parsed
    // again with literal tokens tracked (`=`, `:`, `,`, `)`): rule attempts alone place the
    // error at the start of the declaration that failed, not at the token that was missing,
    // and tracking them on every parse costs a third of parse time.
    pest::set_error_detail(false);
    let mut pairs = match EbmParser::parse(Rule::file, source) {
        Ok(pairs) => pairs,
        Err(first) => {
            pest::set_error_detail(true);
            let detailed = EbmParser::parse(Rule::file, source).err();
            pest::set_error_detail(false);
            return Err(vec![syntax_error(source, detailed.unwrap_or(first))]);
        }
    };
    let builder = Builder {
        errors: RefCell::new(Vec::new()),
        pratt: pratt(),
    };
    let file = builder.file(pairs.next().expect("pest returns the file rule"));
    let errors = builder.errors.into_inner();
    if !errors.is_empty() {
        return Err(errors);
    }
    if file.models.is_empty() {
        let end = source.len();
        return Err(vec![Diagnostic::new(
            Code::NoModel,
            Span::new(end, end),
            "expected a model, found none",
        )
        .help("a file holds one or more `model NAME { … }` blocks")]);
    }
    Ok(file)
}

/// Rejects bracket nesting deeper than `MAX_NESTING`, skipping comments and strings.
fn scan_nesting(source: &str) -> Result<(), Vec<Diagnostic>> {
    let b = source.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        if let Some((next, _)) = skip_comment_or_string(b, i) {
            i = next;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(vec![too_deep(Span::new(i, i + 1), "brackets", MAX_NESTING)]);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// When a comment or a string starts at `i`: the index just past it (a line comment stops
/// before its newline; an unclosed one runs to the end), and whether it was a string.
fn skip_comment_or_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let end_of = |mut j: usize, stop: &dyn Fn(usize) -> bool| {
        while j < b.len() && !stop(j) {
            j += 1;
        }
        j
    };
    match (b[i], b.get(i + 1)) {
        (b'/', Some(b'/')) => Some((end_of(i, &|j| b[j] == b'\n'), false)),
        (b'/', Some(b'*')) => {
            let j = end_of(i + 2, &|j| b[j] == b'*' && b.get(j + 1) == Some(&b'/'));
            Some(((j + 2).min(b.len()), false))
        }
        (b'"', _) => {
            let j = end_of(i + 1, &|j| b[j] == b'"' || b[j] == b'\n');
            Some(((j + 1).min(b.len()), true))
        }
        _ => None,
    }
}

fn too_deep(span: Span, what: &str, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::TooDeep,
        span,
        format!("expected at most {limit} levels of nested {what}, found more"),
    )
    .label("nesting goes past the limit here")
    .help("name a part of the expression with `let` to flatten it")
}

fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::matmul, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::infix(Rule::pow, Assoc::Right))
        .op(Op::postfix(Rule::index) | Op::postfix(Rule::transpose))
}

/// Turns a pest error into "expected X, found Y".
///
/// pest reports the rules that failed at the furthest position where a rule was tried, which
/// is often the start of a whole declaration; with error detail on it also reports the literal
/// tokens that failed at the furthest position reached. The error sits at the further of the
/// two, and lists closers and separators (`}`, `)`, `,`, `=`, `:`) before descriptions.
fn syntax_error(source: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let mut pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut rules: Vec<Rule> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let mut tokens: Vec<String> = Vec::new();
    if let Some(a) = e.parse_attempts() {
        let literal: Vec<String> = a
            .expected_tokens()
            .into_iter()
            .map(|t| t.to_string())
            .filter(|t| !is_trivia(t))
            .collect();
        if a.max_position > pos && !literal.is_empty() {
            pos = a.max_position;
            rules.clear();
            tokens = literal;
        } else if a.max_position == pos {
            tokens = literal;
        }
    }
    let found = found_at(source, pos);
    let mut span = Span::new(pos, pos + found.len().max(usize::from(pos < source.len())));
    // What is missing at the end of a line is shown there, not at the start of the next one.
    let before = source[..pos].trim_end_matches([' ', '\t', '\r', '\n']);
    if source[before.len()..pos].contains('\n') && !before.trim_end().ends_with("*/") {
        span = Span::new(before.len(), before.len());
    }
    let expected = describe_expected(&rules, &tokens);
    let found_text = if found.is_empty() {
        "end of file".to_string()
    } else {
        format!("`{found}`")
    };
    let mut d = Diagnostic::new(
        Code::Syntax,
        span,
        format!("expected {expected}, found {found_text}"),
    )
    .label(format!("expected {expected} here"));
    if let Some(h) = syntax_hint(&found, &expected) {
        d = d.help(h);
    }
    d
}

/// Tokens never worth listing: whitespace and comment openers (always acceptable), and the
/// characters, classes and case-insensitive letters inside names and numbers, which pest
/// displays as `a..z` and `E` (its token type is not exported, so its `Display` is matched).
fn is_trivia(token: &str) -> bool {
    matches!(
        token,
        " " | "\t" | "\r" | "\n" | "//" | "/*" | "*/" | "E" | "_" | "BUILTIN_RULE"
    ) || (token.chars().count() == 4 && token.contains(".."))
}

/// A hint for the likeliest mistake, given what was found and what was expected.
fn syntax_hint(found: &str, expected: &str) -> Option<&'static str> {
    const KEYWORDS: &[&str] = &[
        "model", "const", "input", "output", "latent", "param", "fn", "let", "energy", "loss",
        "infer", "train", "data", "inf",
    ];
    let expects = |what: &str| expected.contains(what);
    Some(match found {
        "" => "a bracket or block may be unclosed",
        _ if expected == "`:`" => "a variable's type follows a colon: `output y : real`",
        "=" if expects("`:`") => "a variable's type follows a colon: `input x : real[4]`",
        ":" if expects("`=`") => "consts and lets are defined with `=`: `const N = 4`",
        "=" => "only a param takes an initial value (`param W : real[2] = 0`); comparison is not an operator",
        ";" => "declarations end where the next one begins; no `;` is needed",
        "min" | "marginal" => "`min by …` and `marginal(…)` only follow the type of a latent",
        "}" | ")" | "]" if expects("an expression") => {
            "the expression ends with an operator; complete it or remove the operator"
        }
        _ if expects("`)`") && !expects("`,`") => "a `(` may be unclosed",
        _ if expects("`,`") => "separate arguments with `,`",
        w if KEYWORDS.contains(&w) && expects("a name") => "this keyword cannot be used as a name",
        _ => return None,
    })
}

/// The token at `pos`: a word, or one character; empty at the end.
fn found_at(source: &str, pos: usize) -> String {
    let rest = source.get(pos..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !word.is_empty() {
        return word;
    }
    rest.chars().next().map(String::from).unwrap_or_default()
}

/// "`}`, `,`, an expression or a declaration": expected tokens first, then rule descriptions.
fn describe_expected(rules: &[Rule], tokens: &[String]) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if !names.contains(&n) {
            names.push(n);
        }
    };
    // Closers and separators are the likeliest fixes, so they come first.
    let rank = |t: &str| match t {
        "}" | ")" | "]" => 0,
        "," | "=" | ":" | ".." => 1,
        _ => 2,
    };
    let mut tokens: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect();
    tokens.sort_by_key(|t| rank(t));
    for t in tokens {
        push(describe_token(t).to_string());
    }
    for r in rules {
        push(describe(*r).to_string());
    }
    let has = |names: &[String], n: &str| names.iter().any(|x| x == n);
    // A name, `(`, `[` and prefix `-` all begin an expression.
    if has(&names, "an expression") {
        names.retain(|n| !matches!(n.as_str(), "a name" | "`(`" | "an operator"));
        names.push("an expression".into());
        names.dedup();
    }
    if has(&names, "arguments in parentheses") {
        names.retain(|n| n != "`(`");
    }
    // An elimination or an initial value may follow a type, but after a complete declaration
    // the next declaration (or `}`) is what is meant.
    if has(&names, "a declaration") {
        names.retain(|n| {
            !matches!(
                n.as_str(),
                "`=`" | "`~`" | "`min by …` or `marginal(…)`" | "an initial value (`= …` or `~ …`)"
            )
        });
    }
    match names.len() {
        0 => "something else".into(),
        1 => names[0].clone(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

fn describe_token(t: &str) -> String {
    match t {
        "+" | "-" | "*" | "/" | "@" | "^" | "'" | "[" => "an operator".into(),
        "const" | "input" | "output" | "latent" | "param" | "fn" | "let" | "energy" | "loss"
        | "infer" | "train" | "data" => "a declaration".into(),
        "inf" | "." => "an expression".into(),
        "min" | "marginal" => "`min by …` or `marginal(…)`".into(),
        _ => format!("`{t}`"),
    }
}

fn describe(r: Rule) -> &'static str {
    use Rule::*;
    match r {
        model | kw_model => "`model`",
        EOI => "end of file",
        ident | name => "a name",
        expr | number | vector | call | paren | neg => "an expression",
        add | sub | mul | div | matmul | pow | index | transpose => "an operator",
        index_arg => "an index",
        colon => "`:`",
        ty | ty_real | ty_class | ty_sign | kw_real | kw_class | kw_sign => {
            "a type (`real`, `class[k]`, `sign`)"
        }
        const_decl | input_decl | output_decl | latent_decl | param_decl | fn_decl | let_decl
        | energy_decl | loss_decl | infer_decl | train_decl | data_decl | kw_const | kw_input
        | kw_output | kw_latent | kw_param | kw_fn | kw_let | kw_energy | kw_loss | kw_infer
        | kw_train | kw_data => "a declaration",
        elim | elim_min | elim_marginal | kw_min | kw_marginal => "`min by …` or `marginal(…)`",
        init_value | init_dist => "an initial value (`= …` or `~ …`)",
        negatives | kw_negatives => "`negatives`",
        method => "a method name",
        method_args | arg => "arguments in parentheses",
        binding => "a binding `name = column`",
        column | integer | string => "a column (name, index or \"string\")",
        split | kw_split => "`split`",
        standardize | kw_standardize => "`standardize`",
        kw_by => "`by`",
        fn_param => "a parameter `name : type`",
        kw_inf => "`inf`",
        _ => "something else",
    }
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
            | kw_loss
            | kw_infer
            | kw_train
            | kw_data
            | kw_by
            | kw_min
            | kw_marginal
            | kw_negatives
            | kw_split
            | kw_standardize
            | kw_real
            | kw_class
            | kw_sign
            | kw_inf
            | EOI
    )
}

/// Words that cannot name a declared thing (models, losses and methods may use them).
const RESERVED: &[&str] = &[
    "model", "const", "input", "output", "latent", "param", "fn", "let", "energy", "loss", "infer",
    "train", "data", "inf",
];

/// The children of a pair without keyword tokens.
fn children(p: Pair<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    p.into_inner().filter(|c| !is_keyword(c.as_rule()))
}

struct Builder {
    errors: RefCell<Vec<Diagnostic>>,
    pratt: PrattParser<Rule>,
}

impl Builder {
    fn error(&self, d: Diagnostic) {
        self.errors.borrow_mut().push(d);
    }

    fn file(&self, p: Pair<Rule>) -> File {
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
            _ => TypeKind::Sign,
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
                    kind: ExprKind::Number(0.0),
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
                    kind: ExprKind::Number(0.0),
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
                        kind: ExprKind::Number(v),
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
        ExprKind::Number(_) | ExprKind::Name(_) => 0,
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
