//! Syntax errors as diagnostics: a pest error, with the rules and tokens it expected, turned
//! into "expected X, found Y" with a hint; and the error for nesting past the limits.

use super::parser::Rule;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;

pub(super) fn too_deep(span: Span, what: &str, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::TooDeep,
        span,
        format!("expected at most {limit} levels of nested {what}, found more"),
    )
    .label("nesting goes past the limit here")
    .help("name a part of the expression with `let` to flatten it")
}

/// Turns a pest error into "expected X, found Y".
///
/// pest reports the rules that failed at the furthest position where a rule was tried, which
/// is often the start of a whole declaration; with error detail on it also reports the literal
/// tokens that failed at the furthest position reached. The error sits at the further of the
/// two, and lists closers and separators (`}`, `)`, `,`, `=`, `:`) before descriptions.
pub(super) fn syntax_error(source: &str, e: pest::error::Error<Rule>) -> Diagnostic {
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
        | "infer" | "train" | "data" | "partition" => "a declaration".into(),
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
        | kw_train | kw_data | partition_decl | kw_partition => "a declaration",
        elim | elim_min | elim_marginal | kw_min | kw_marginal => "`min by …` or `marginal(…)`",
        init_value | init_dist => "an initial value (`= …` or `~ …`)",
        negatives | kw_negatives => "`negatives`",
        method => "a method name",
        method_args | arg => "arguments in parentheses",
        binding => "a binding `name = column`",
        column | integer | string => "a column (name, index or \"string\")",
        split | kw_split => "`split`",
        test_file | kw_test => "`test \"file.csv\"`",
        standardize | kw_standardize => "`standardize`",
        kw_by => "`by`",
        fn_param => "a parameter `name : type`",
        kw_inf => "`inf`",
        _ => "something else",
    }
}
