//! Open documents: their text as the editor has it, edits applied to it, and the conversion
//! between the byte offsets of every span and the protocol's line/character positions.
//!
//! Invariants:
//! * a document's text is always valid UTF-8 and every offset this module hands out lies on
//!   a character boundary inside it;
//! * positions from the client are never trusted: a line past the end is the end of the text,
//!   a character past the end of its line is the line's end, and a character in the middle of
//!   a UTF-8 sequence or of a UTF-16 surrogate pair is the start of that character;
//! * a character counts in the encoding negotiated at `initialize`: UTF-16 code units (the
//!   protocol's default) or bytes (UTF-8, when the client offers it).

use super::analysis::Analysis;
use crate::span::Span;
use lsp_types::{Position, Range, TextDocumentContentChangeEvent};
use std::sync::Arc;

/// How the protocol counts the `character` of a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// The byte offset at which each line starts. Lines end at `\n`; a `\r` before it belongs to
/// the line break, not to the line.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// The byte range of line `line`'s content, without its line break; `None` past the end.
    fn line(&self, text: &str, line: usize) -> Option<(usize, usize)> {
        let start = *self.starts.get(line)?;
        let mut end = match self.starts.get(line + 1) {
            Some(next) => next - 1,
            None => text.len(),
        };
        if end > start && text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        Some((start, end))
    }

    /// The byte offset of `pos`, clamped as the module's invariants say.
    pub fn offset(&self, text: &str, pos: Position, enc: Encoding) -> usize {
        let Some((start, end)) = self.line(text, pos.line as usize) else {
            return text.len();
        };
        let want = pos.character as usize;
        let line = &text[start..end];
        match enc {
            Encoding::Utf8 => {
                let mut at = want.min(line.len());
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                start + at
            }
            Encoding::Utf16 => {
                let mut units = 0;
                for (i, c) in line.char_indices() {
                    units += c.len_utf16();
                    if units > want {
                        return start + i;
                    }
                }
                end
            }
        }
    }

    /// Whether `pos` names a place inside the text (its line exists); requests about a place
    /// outside get an empty answer.
    pub fn contains(&self, pos: Position) -> bool {
        (pos.line as usize) < self.starts.len()
    }

    /// The position of byte `offset` (clamped into the text, moved back onto a character).
    pub fn position(&self, text: &str, offset: usize, enc: Encoding) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character = match enc {
            Encoding::Utf8 => offset - start,
            Encoding::Utf16 => text[start..offset].encode_utf16().count(),
        };
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, text: &str, span: Span, enc: Encoding) -> Range {
        Range::new(
            self.position(text, span.start, enc),
            self.position(text, span.end, enc),
        )
    }
}

/// One open document.
pub struct Document {
    pub text: String,
    pub version: i32,
    pub lines: LineIndex,
    /// The analysis of the current text, computed when first asked for.
    analysis: Option<Arc<Analysis>>,
    /// The last analysis whose text parsed: completion still knows the model's names while
    /// the line being typed does not parse.
    last_parsed: Option<Arc<Analysis>>,
    /// The directory of the document's file (a `file:` URI), where its `data` path starts.
    pub dir: Option<std::path::PathBuf>,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        Document {
            lines: LineIndex::new(&text),
            text,
            version,
            analysis: None,
            last_parsed: None,
            dir: None,
        }
    }

    /// Applies the editor's changes in order: each with a range replaces that range (clamped
    /// into the text), each without one replaces the whole text.
    pub fn apply(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        enc: Encoding,
    ) {
        for c in changes {
            match c.range {
                Some(r) => {
                    let start = self.lines.offset(&self.text, r.start, enc);
                    let end = self.lines.offset(&self.text, r.end, enc).max(start);
                    self.text.replace_range(start..end, &c.text);
                }
                None => self.text = c.text,
            }
            self.lines = LineIndex::new(&self.text);
        }
        self.version = version;
        self.analysis = None;
    }

    /// The analysis of the current text.
    pub fn analysis(&mut self) -> Arc<Analysis> {
        if let Some(a) = &self.analysis {
            return a.clone();
        }
        let a = Arc::new(Analysis::new(&self.text, self.dir.as_deref()));
        if a.file.is_some() {
            self.last_parsed = Some(a.clone());
        }
        self.analysis = Some(a.clone());
        a
    }

    /// The latest analysis of a text that parsed (perhaps an earlier version of this one).
    pub fn last_parsed(&mut self) -> Option<Arc<Analysis>> {
        self.analysis();
        self.last_parsed.clone()
    }

    pub fn offset(&self, pos: Position, enc: Encoding) -> usize {
        self.lines.offset(&self.text, pos, enc)
    }

    pub fn range(&self, span: Span, enc: Encoding) -> Range {
        self.lines.range(&self.text, span, enc)
    }
}

/// The directory of the file a `file:` URI names (percent escapes decoded); `None` for other
/// schemes and for URIs that do not decode.
pub fn file_dir(uri: &str) -> Option<std::path::PathBuf> {
    let path = uri.strip_prefix("file://")?;
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = std::path::PathBuf::from(String::from_utf8(out).ok()?);
    path.parent().map(|p| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_and_utf8_positions_round_trip_and_clamp() {
        // `é` is 2 bytes, 1 UTF-16 unit; `𝔼` is 4 bytes, 2 UTF-16 units.
        let text = "aé𝔼b\r\nxy\n";
        let l = LineIndex::new(text);
        let b = text.find('b').unwrap();
        assert_eq!(l.position(text, b, Encoding::Utf16), Position::new(0, 4));
        assert_eq!(l.position(text, b, Encoding::Utf8), Position::new(0, 7));
        assert_eq!(l.offset(text, Position::new(0, 4), Encoding::Utf16), b);
        assert_eq!(l.offset(text, Position::new(0, 7), Encoding::Utf8), b);
        // Inside the surrogate pair, or inside the UTF-8 sequence: the character's start.
        assert_eq!(l.offset(text, Position::new(0, 3), Encoding::Utf16), 3);
        assert_eq!(l.offset(text, Position::new(0, 5), Encoding::Utf8), 3);
        // Past the line's end (before `\r`), past the last line.
        assert_eq!(l.offset(text, Position::new(0, 99), Encoding::Utf16), 8);
        assert_eq!(
            l.offset(text, Position::new(9, 0), Encoding::Utf16),
            text.len()
        );
        assert_eq!(l.offset(text, Position::new(1, 1), Encoding::Utf16), 11);
    }

    #[test]
    fn edits_apply_in_order_and_out_of_range_edits_clamp() {
        let mut d = Document::new("ab\ncd".into(), 0);
        let edit = |l1, c1, l2, c2, t: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(l1, c1), Position::new(l2, c2))),
            range_length: None,
            text: t.into(),
        };
        d.apply(
            vec![edit(0, 1, 0, 2, "X"), edit(1, 0, 1, 0, "Y")],
            1,
            Encoding::Utf16,
        );
        assert_eq!(d.text, "aX\nYcd");
        d.apply(vec![edit(7, 0, 3, 9, "!")], 2, Encoding::Utf16);
        assert_eq!(d.text, "aX\nYcd!");
        d.apply(vec![edit(1, 3, 0, 0, "")], 3, Encoding::Utf16);
        assert_eq!(d.text, "aX\nYcd!");
    }
}
