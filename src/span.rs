//! Byte spans into one source text.
//!
//! Every AST node, checked expression and IR node carries a `Span`: a half-open byte range
//! `start..end` into the source it came from. Byte offsets (not characters) are used everywhere
//! so that a non-ASCII comment never shifts a label; `diag.rs` renders them with ariadne's
//! byte index type.

use std::fmt;
use std::ops::Range;

/// A half-open byte range `start..end` into a source text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    /// The text this span covers (empty when it lies outside `source`).
    pub fn text(self, source: &str) -> &str {
        source.get(self.range()).unwrap_or("")
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(s: pest::Span<'_>) -> Span {
        Span::new(s.start(), s.end())
    }
}
