//! Completion: what may be written at the cursor.
//!
//! After `loss`, the losses; after `negatives`, their methods; after `by` (or a latent's
//! `min by`), the methods of that clause (optimizers after `train by`); each with its
//! arguments and their defaults. Elsewhere: the names in scope in the cursor's model (a
//! function's parameters inside it), the builtins and the keywords. Names come from the last
//! version of the document that parsed, so completion works while a line is half-typed.

use super::analysis::{Analysis, Kind};
use super::hover::{fmt_num, method_signature, BUILTIN_SIGNATURES};
use crate::check::{self, Clause};
use lsp_types::{CompletionItem, CompletionItemKind, InsertTextFormat};

const KEYWORDS: &[&str] = &[
    "model",
    "const",
    "input",
    "output",
    "latent",
    "param",
    "fn",
    "let",
    "energy",
    "loss",
    "infer",
    "train",
    "data",
    "by",
    "min",
    "marginal",
    "negatives",
    "split",
    "test",
    "standardize",
    "real",
    "class",
    "sign",
    "inf",
];

/// The completions at byte `offset` of `text`; `snippets` when the client takes them.
pub fn complete(
    a: Option<&Analysis>,
    text: &str,
    offset: usize,
    snippets: bool,
) -> Vec<CompletionItem> {
    // The words before the one being typed, on the cursor's line.
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let before = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let words: Vec<&str> = before
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let clause = match words.as_slice() {
        [.., "loss"] => Some(Clause::Loss),
        [.., "negatives"] => Some(Clause::Negatives),
        [.., "min", "by"] => Some(Clause::Min),
        [.., "train", "by"] => Some(Clause::Train),
        [.., "partition", "by"] => Some(Clause::Partition),
        [.., "by"] => Some(Clause::Infer),
        _ => None,
    };
    if let Some(clause) = clause {
        return check::methods()
            .iter()
            .filter(|m| m.clause == clause)
            .map(|m| {
                let sig = method_signature(m);
                let (insert, format) = method_insert(m, snippets);
                CompletionItem {
                    label: m.name.to_string(),
                    kind: Some(CompletionItemKind::METHOD),
                    detail: Some(format!("{} {sig}", clause.keyword())),
                    insert_text: Some(insert),
                    insert_text_format: Some(format),
                    ..Default::default()
                }
            })
            .collect();
    }
    let mut items = Vec::new();
    if let Some(a) = a {
        if let Some(mi) = a.model_at(offset) {
            let ix = &a.models[mi];
            let typing = a.typings.get(mi);
            for d in ix.in_scope(offset) {
                if d.kind == Kind::Energy {
                    continue;
                }
                let ty = typing
                    .and_then(|t| t.names.get(&d.span))
                    .map(|t| format!(" : {t}"))
                    .unwrap_or_default();
                items.push(CompletionItem {
                    label: d.name.clone(),
                    kind: Some(match d.kind {
                        Kind::Const => CompletionItemKind::CONSTANT,
                        Kind::Fn => CompletionItemKind::FUNCTION,
                        Kind::Var(crate::syntax::ast::Role::Param) => CompletionItemKind::FIELD,
                        _ => CompletionItemKind::VARIABLE,
                    }),
                    detail: Some(format!("{} {}{ty}", d.kind.keyword(), d.name)),
                    ..Default::default()
                });
            }
        }
    }
    for (name, sig, what) in BUILTIN_SIGNATURES {
        let (insert, format) = if snippets && *name != "glorot" {
            (format!("{name}($1)"), InsertTextFormat::SNIPPET)
        } else {
            (name.to_string(), InsertTextFormat::PLAIN_TEXT)
        };
        items.push(CompletionItem {
            label: name.to_string(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: Some(sig.replace('\n', "  |  ")),
            documentation: Some(lsp_types::Documentation::String(what.to_string())),
            insert_text: Some(insert),
            insert_text_format: Some(format),
            ..Default::default()
        });
    }
    for k in KEYWORDS {
        items.push(CompletionItem {
            label: k.to_string(),
            kind: Some(CompletionItemKind::KEYWORD),
            ..Default::default()
        });
    }
    items
}

/// What a method's completion inserts: its name, and its arguments with their defaults as
/// tab stops when the client takes snippets.
fn method_insert(m: &check::MethodInfo, snippets: bool) -> (String, InsertTextFormat) {
    if m.args.is_empty() {
        return (m.name.to_string(), InsertTextFormat::PLAIN_TEXT);
    }
    if !snippets {
        return (method_signature(m), InsertTextFormat::PLAIN_TEXT);
    }
    let args: Vec<String> = m
        .args
        .iter()
        .enumerate()
        .map(|(i, (n, d))| {
            let value = d.map_or(String::new(), fmt_num);
            format!("{n} = ${{{}:{value}}}", i + 1)
        })
        .collect();
    (
        format!("{}({})", m.name, args.join(", ")),
        InsertTextFormat::SNIPPET,
    )
}
