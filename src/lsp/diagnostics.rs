//! The checker's diagnostics as the protocol's: the code (`E0203`), the primary span as the
//! range, every secondary label as related information in the same document, and the help
//! line appended to the message after a blank line — editors show the message whole, while
//! related information is often folded away, and the help is what the user acts on.

use super::documents::{Document, Encoding};
use crate::diag::{self, Severity};
use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri,
};

/// Most diagnostics published for one document (as `ebmc check` renders at most so many).
const MAX_PUBLISHED: usize = diag::MAX_RENDERED;

pub fn to_lsp(
    uri: &Uri,
    doc: &Document,
    diags: &[diag::Diagnostic],
    enc: Encoding,
) -> Vec<Diagnostic> {
    diags
        .iter()
        .take(MAX_PUBLISHED)
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str("\n\nhelp: ");
                message.push_str(h);
            }
            let related: Vec<DiagnosticRelatedInformation> = d
                .secondary
                .iter()
                .map(|l| DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), doc.range(l.span, enc)),
                    message: l.message.clone(),
                })
                .collect();
            Diagnostic {
                range: doc.range(d.primary.span, enc),
                severity: Some(match d.severity() {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.as_str().to_string())),
                code_description: None,
                source: Some("ebmc".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                tags: (d.code == diag::Code::Unused)
                    .then(|| vec![lsp_types::DiagnosticTag::UNNECESSARY]),
                data: None,
            }
        })
        .collect()
}
