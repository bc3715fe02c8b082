//! The entry of the front end: limits on the raw source (size, UTF-8, bracket nesting), pest
//! over the grammar (whose `Rule` is generated here), then the lowering to the AST.
//!
//! A source the grammar rejects becomes one diagnostic ([`super::errors`]); one it accepts is
//! lowered by [`super::build`].

use super::ast::*;
use super::build::{pratt, Builder};
use super::errors::{syntax_error, too_deep};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
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

/// The byte-order mark some editors put at the start of a UTF-8 file.
const BOM: &str = "\u{feff}";

/// `bytes` without a leading UTF-8 byte-order mark. The mark is not part of the source: an
/// editor does not show it, so spans, lines and columns count from after it.
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM.as_bytes()).unwrap_or(bytes)
}

/// Parses raw bytes: non-UTF-8 input is an error, not a panic. A leading byte-order mark is
/// skipped ([`without_bom`]); spans index the bytes after it.
pub fn parse_bytes(bytes: &[u8]) -> Result<File, Vec<Diagnostic>> {
    let bytes = without_bom(bytes);
    // Size first: a reader that stops one byte past the limit may cut a character in two.
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(vec![too_large()]);
    }
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

/// The source is over [`MAX_SOURCE_BYTES`]. Its length is not given: readers stop one byte
/// past the limit rather than read a file (or `/dev/zero`) to its end.
fn too_large() -> Diagnostic {
    Diagnostic::new(
        Code::TooLarge,
        Span::new(0, 0),
        format!("expected at most {MAX_SOURCE_BYTES} bytes of source, found more"),
    )
    .help("split the file into several files")
}

/// Parses a source text into a file of models. A leading byte-order mark is skipped, as by
/// [`parse_bytes`].
pub fn parse(source: &str) -> Result<File, Vec<Diagnostic>> {
    let source = source.strip_prefix(BOM).unwrap_or(source);
    if source.len() > MAX_SOURCE_BYTES {
        return Err(vec![too_large()]);
    }
    scan_nesting(source)?;
    // Guard against pathological backtracking as well as deep recursion. A well-formed source
    // takes about 12 calls a byte (a 100,000-deep chain of `fn`s, 4.5 MB, needs 52 million),
    // so the budget grows with the source: a fixed one refused valid sources under the size
    // limit with a baffling syntax error.
    pest::set_call_limit(std::num::NonZeroUsize::new(call_limit(source.len())));
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
            if is_call_limit(&first) {
                return Err(vec![too_complex(source.len())]);
            }
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

/// The parser's budget of rule calls for a source of `len` bytes: 64 a byte, five times what
/// well-formed sources take, and at least 50 million.
fn call_limit(len: usize) -> usize {
    len.saturating_mul(64).max(50_000_000)
}

/// Whether pest gave up because the call budget ran out (its only error with this message).
fn is_call_limit(e: &pest::error::Error<Rule>) -> bool {
    matches!(&e.variant, pest::error::ErrorVariant::CustomError { message } if message == "call limit reached")
}

/// The source needed more parser steps than [`call_limit`] allows.
fn too_complex(len: usize) -> Diagnostic {
    Diagnostic::new(
        Code::TooLarge,
        Span::new(0, 0),
        format!(
            "expected a source that parses in at most {} steps, found one that needs more",
            call_limit(len)
        ),
    )
    .label("parsing stopped in this file")
    .help("split the file into smaller models")
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
pub(super) fn skip_comment_or_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
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
