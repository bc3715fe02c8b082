//! Go to definition, find references and rename, for every declared name of a model: consts,
//! variables, functions and their parameters, lets and named energy terms.
//!
//! A rename is refused, with a message, when the new name is not an identifier, is a reserved
//! word, is already declared where the name is in scope, or would be captured: a model's name
//! renamed to a parameter of a function that uses it, a parameter renamed to a model name its
//! function uses, or a function renamed to a builtin (a declared function hides the builtin).

use super::analysis::{Analysis, Kind, ModelIndex};
use crate::check::BUILTINS;
use crate::span::Span;
use crate::syntax::RESERVED;

/// The declaration of the name at `offset`.
pub fn definition(a: &Analysis, offset: usize) -> Option<Span> {
    let ix = &a.models[a.model_at(offset)?];
    let (_, i) = ix.at(offset)?;
    Some(ix.decls[i].span)
}

/// Every use of the name at `offset`, in source order, with its declaration when asked.
pub fn references(a: &Analysis, offset: usize, declaration: bool) -> Option<Vec<Span>> {
    let ix = &a.models[a.model_at(offset)?];
    let (_, i) = ix.at(offset)?;
    let mut spans: Vec<Span> = ix.uses_of(i).collect();
    if declaration {
        spans.push(ix.decls[i].span);
    }
    spans.sort();
    spans.dedup();
    Some(spans)
}

/// The name at `offset` and the span to rename, when there is one.
pub fn prepare_rename(a: &Analysis, offset: usize) -> Option<Span> {
    let ix = &a.models[a.model_at(offset)?];
    Some(ix.at(offset)?.0)
}

/// Every span to replace by `new`, or why not.
pub fn rename(a: &Analysis, offset: usize, new: &str) -> Result<Vec<Span>, String> {
    let Some(ix) = a.model_at(offset).map(|m| &a.models[m]) else {
        return Err("there is no declared name here to rename".into());
    };
    let Some((_, i)) = ix.at(offset) else {
        return Err("there is no declared name here to rename".into());
    };
    let d = &ix.decls[i];
    if !is_identifier(new) {
        return Err(format!(
            "`{new}` is not a name: a name is a letter or `_` followed by letters, digits and `_`"
        ));
    }
    if RESERVED.contains(&new) {
        return Err(format!(
            "`{new}` is a reserved word and cannot name a declaration"
        ));
    }
    if new != d.name {
        clash(ix, i, new)?;
    }
    let mut spans: Vec<Span> = ix.uses_of(i).chain([d.span]).collect();
    spans.sort();
    spans.dedup();
    Ok(spans)
}

fn clash(ix: &ModelIndex, i: usize, new: &str) -> Result<(), String> {
    let d = &ix.decls[i];
    let inside = |f: usize, s: Span| {
        let full = ix.decls[f].full;
        full.start <= s.start && s.end <= full.end
    };
    match d.parent {
        Some(f) => {
            if ix
                .decls
                .iter()
                .any(|p| p.parent == Some(f) && p.name == new)
            {
                return Err(format!(
                    "`{}` already has a parameter named `{new}`",
                    ix.decls[f].name
                ));
            }
            // A model name used in the function's body would be hidden by the parameter.
            let captured = ix.uses.iter().any(|&(s, j)| {
                ix.decls[j].parent.is_none() && ix.decls[j].name == new && inside(f, s)
            });
            if captured {
                return Err(format!(
                    "`{}` uses the model's `{new}`, which a parameter named `{new}` would hide",
                    ix.decls[f].name
                ));
            }
        }
        None => {
            if let Some(other) = ix
                .decls
                .iter()
                .find(|o| o.parent.is_none() && o.name == new)
            {
                return Err(format!(
                    "`{new}` is already declared in model `{}` ({} `{new}`)",
                    ix.name,
                    other.kind.keyword()
                ));
            }
            if d.kind == Kind::Fn && BUILTINS.contains(&new) {
                return Err(format!(
                    "`{new}` is a builtin function, which a function named `{new}` would hide"
                ));
            }
            if d.kind != Kind::Fn {
                // A use inside a function with a parameter of the new name would be captured.
                for s in ix.uses_of(i) {
                    if let Some(p) = ix
                        .decls
                        .iter()
                        .find(|p| p.name == new && p.parent.is_some_and(|f| inside(f, s)))
                    {
                        let f = &ix.decls[p.parent.unwrap_or(0)].name;
                        return Err(format!(
                            "`{}` is used in `{f}`, whose parameter `{new}` would hide it",
                            d.name
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
