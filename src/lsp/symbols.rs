//! Document symbols: each model, with its declarations as children — consts, variables,
//! functions, lets, energy terms (unnamed ones as `term0`, `term1`, … as the checker names
//! them) and the clauses.

use super::analysis::Analysis;
use super::documents::{Document, Encoding};
use crate::syntax::ast::{DeclKind, Role};
use lsp_types::{DocumentSymbol, SymbolKind};

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written, though deprecated.
pub fn symbols(a: &Analysis, doc: &Document, enc: Encoding) -> Vec<DocumentSymbol> {
    let Some(file) = &a.file else {
        return Vec::new();
    };
    let sym = |name: String, detail: Option<String>, kind, full, at, children| DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: doc.range(full, enc),
        selection_range: doc.range(at, enc),
        children,
    };
    file.models
        .iter()
        .enumerate()
        .map(|(mi, m)| {
            let typing = a.typings.get(mi);
            let ty = |s| typing.and_then(|t| t.names.get(&s)).map(|t| t.to_string());
            let mut term = 0;
            let children: Vec<DocumentSymbol> = m
                .decls
                .iter()
                .map(|d| {
                    let (name, detail, kind, at) = match &d.kind {
                        DeclKind::Const { name, .. } => (
                            name.name.clone(),
                            Some("const".into()),
                            SymbolKind::CONSTANT,
                            name.span,
                        ),
                        DeclKind::Var { role, name, .. } => (
                            name.name.clone(),
                            Some(match ty(name.span) {
                                Some(t) => format!("{} : {t}", role.keyword()),
                                None => role.keyword().to_string(),
                            }),
                            if *role == Role::Param {
                                SymbolKind::FIELD
                            } else {
                                SymbolKind::VARIABLE
                            },
                            name.span,
                        ),
                        DeclKind::Fn { name, .. } => (
                            name.name.clone(),
                            Some("fn".into()),
                            SymbolKind::FUNCTION,
                            name.span,
                        ),
                        DeclKind::Let { name, .. } => (
                            name.name.clone(),
                            Some(ty(name.span).map_or("let".into(), |t| format!("let : {t}"))),
                            SymbolKind::VARIABLE,
                            name.span,
                        ),
                        DeclKind::Energy { name, .. } => {
                            term += 1;
                            match name {
                                Some(n) => (
                                    n.name.clone(),
                                    Some("energy".into()),
                                    SymbolKind::PROPERTY,
                                    n.span,
                                ),
                                None => (
                                    format!("term{}", term - 1),
                                    Some("energy".into()),
                                    SymbolKind::PROPERTY,
                                    d.span,
                                ),
                            }
                        }
                        DeclKind::Loss { method, .. } => (
                            format!("loss {}", method.name.name),
                            None,
                            SymbolKind::EVENT,
                            method.name.span,
                        ),
                        DeclKind::Infer { method, .. } => (
                            format!("infer by {}", method.name.name),
                            None,
                            SymbolKind::EVENT,
                            method.name.span,
                        ),
                        DeclKind::Train { method } => (
                            format!("train by {}", method.name.name),
                            None,
                            SymbolKind::EVENT,
                            method.name.span,
                        ),
                        DeclKind::Partition { method } => (
                            format!("partition by {}", method.name.name),
                            None,
                            SymbolKind::EVENT,
                            method.name.span,
                        ),
                        DeclKind::Data(data) => (
                            format!("data \"{}\"", data.path),
                            None,
                            SymbolKind::FILE,
                            data.path_span,
                        ),
                    };
                    sym(name, detail, kind, d.span, at, None)
                })
                .collect();
            sym(
                m.name.name.clone(),
                Some("model".into()),
                SymbolKind::MODULE,
                m.span,
                m.name.span,
                Some(children),
            )
        })
        .collect()
}
