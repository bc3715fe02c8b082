//! Diagnostics: errors and warnings as data, rendered with ariadne only at the edge.
//!
//! Every stage returns `Vec<Diagnostic>`; nothing prints until the driver renders them. A
//! diagnostic has a stable [`Code`] (`E0xxx` errors, `W0xxx` warnings), a message of the form
//! "expected X, found Y", one primary label, secondary labels where another place is involved
//! (the earlier declaration of a duplicate, the other operand of `@`), and an optional help line.
//! This is the only module that knows ariadne. Spans are byte offsets.

use crate::span::Span;
use std::fmt;

/// How bad a diagnostic is: an error stops compilation, a warning does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $summary:literal;)*) => {
        /// The table of diagnostic codes. A code is stable: tools and users may match on it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($name),* }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            /// The code as printed, e.g. `E0101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code),* }
            }

            /// One line saying what the code is about.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$name => $summary),* }
            }
        }
    };
}

codes! {
    // Source text and syntax.
    Syntax = "E0001", "syntax error";
    TooDeep = "E0002", "nesting deeper than the limit";
    NotUtf8 = "E0003", "source is not UTF-8";
    NoModel = "E0004", "source holds no model";
    TooLarge = "E0005", "source larger than the limit";
    BadNumber = "E0006", "malformed number";
    // Names.
    UnknownName = "E0101", "unknown name";
    Duplicate = "E0102", "duplicate declaration";
    UnknownFunction = "E0103", "unknown function";
    Arity = "E0104", "wrong number of arguments";
    Recursive = "E0105", "recursive function";
    NotConstant = "E0106", "not a compile-time constant";
    DuplicateModel = "E0107", "duplicate model name";
    UnboundDataConst = "E0108", "const bound from the data with no data to bind it";
    // Shapes.
    ShapeMismatch = "E0201", "operand shapes do not match";
    MatmulShape = "E0202", "matrix product of incompatible shapes";
    IndexRange = "E0203", "index out of range";
    SliceRange = "E0204", "slice out of range or empty";
    TooManyIndices = "E0205", "more indices than the tensor has dimensions";
    BadDim = "E0206", "dimension is not a positive integer";
    TooManyElements = "E0207", "tensor over the element limit";
    InitShape = "E0208", "initial value of the wrong shape";
    ArgShape = "E0209", "argument of the wrong shape";
    VectorLiteral = "E0210", "vector literal elements of different shapes";
    TooManyAnswers = "E0211", "more answers or latent values than can be enumerated";
    // Types.
    ClassArithmetic = "E0301", "class value used in arithmetic";
    RealIndex = "E0302", "index is not an integer";
    EnergyNotScalar = "E0303", "energy is not a scalar";
    EnergyNoOutput = "E0304", "energy does not depend on any output";
    NoEnergy = "E0305", "model has no energy";
    NoOutput = "E0306", "model has no output";
    ParamType = "E0307", "parameter or function argument of a discrete type";
    ConstValue = "E0308", "value of the wrong kind";
    // Losses, inference, training, data.
    MarginalReal = "E0401", "finite beta on a real latent";
    EnumerateReal = "E0402", "enumeration of a real variable";
    LossSumsReal = "E0403", "loss sums over every answer of a real output";
    LossNeedsNegatives = "E0404", "loss needs a negatives clause";
    UnknownLoss = "E0405", "unknown loss";
    UnknownMethod = "E0406", "unknown method";
    UnknownArgument = "E0407", "unknown argument name";
    ArgumentRange = "E0408", "argument out of range";
    MissingArgument = "E0409", "required argument missing";
    DuplicateArgument = "E0410", "argument given twice";
    InferTarget = "E0411", "inference of a variable that is not an output or latent";
    DuplicateClause = "E0412", "clause given twice";
    DataBinding = "E0413", "data binding to a name that is not an input or output";
    DataMissing = "E0414", "input or output without a data column";
    TrainNeedsLoss = "E0415", "training without a loss";
    Standardize = "E0416", "standardize of a name that cannot be standardized";
    DescentDiscrete = "E0417", "descent over a discrete variable";
    NegativesUnused = "E0418", "negatives clause where no negatives are used";
    MixedOutputs = "E0419", "loss over outputs of mixed kinds";
    SamplerDiscrete = "E0430", "langevin or hmc over a discrete variable";
    GibbsReal = "E0431", "gibbs over a real variable";
    SamplerScope = "E0432", "sampler that cannot draw every output together";
    LossNeedsInputs = "E0440", "loss that needs inputs on a density model";
    LossNeedsReal = "E0441", "density loss on discrete outputs";
    LossNeedsDensity = "E0442", "loss that needs a density model";
    Partition = "E0443", "partition a model cannot take";
    LossRealLatent = "E0444", "loss that cannot eliminate a real latent";
    LatentNotFactorised = "E0445", "sign latent that neither factorises nor can be enumerated";
    // Warnings.
    Unused = "W0001", "unused declaration";
    Collapse = "W0002", "loss can collapse the energy";
    TrainWithoutData = "W0003", "training without data";
    LvqSign = "W0004", "lvq2 on an energy that may be negative";
    GibbsSiteBySite = "W0010", "gibbs redraws a variable one coordinate at a time";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Code {
    pub fn severity(self) -> Severity {
        if self.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

/// A span with a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One error or warning, as data.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic whose primary label sits at `span`.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The text of the primary label (by default the message itself).
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Whether rendered diagnostics carry ANSI colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Always,
    Never,
}

/// Most diagnostics [`render`] shows for one file; the rest are counted in one closing line.
/// A source with thousands of errors gains nothing from the thousandth, and each costs time.
pub const MAX_RENDERED: usize = 100;

/// Longest source line a rendered diagnostic shows whole, in bytes. A longer line (minified
/// or generated source, or `/dev/zero`) is shown as windows of [`EXCERPT_CONTEXT`] bytes
/// either side of each label's ends, joined by `…`.
pub const MAX_LINE: usize = 200;
/// Bytes shown either side of a label's start and end on a line longer than [`MAX_LINE`].
pub const EXCERPT_CONTEXT: usize = 60;

/// Renders diagnostics for one source file, in order, as ariadne reports: at most
/// [`MAX_RENDERED`] of them, each from an excerpt of the lines its labels touch (long lines
/// cut to windows around the labels), so the time and the text are bounded by the labels and
/// not by the length of the file or of its lines. Line and column numbers are the source's.
pub fn render(diags: &[Diagnostic], file: &str, source: &str, color: Color) -> String {
    use ariadne::{Config, IndexType, Label as ALabel, Report, ReportKind, Source};
    let mut out = Vec::new();
    let lines = LineStarts::new(source);
    let file = file.to_string();
    for d in diags.iter().take(MAX_RENDERED) {
        let kind = match d.severity() {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let config = Config::default()
            .with_color(color == Color::Always)
            .with_index_type(IndexType::Byte);
        let primary_text = if d.primary.message.is_empty() {
            d.message.clone()
        } else {
            d.primary.message.clone()
        };
        // Labels go in source order: ariadne starts a new snippet whenever a label lies on an
        // earlier line than the one before it, and heads that snippet with the primary's
        // line and column, so a secondary label above the primary would be shown under the
        // wrong location.
        let mut labels: Vec<(Span, &str)> = vec![(d.primary.span, primary_text.as_str())];
        labels.extend(d.secondary.iter().map(|l| (l.span, l.message.as_str())));
        labels.sort_by_key(|(s, _)| (s.start, s.end));
        let spans: Vec<Span> = labels.iter().map(|(s, _)| *s).collect();
        let excerpt = Excerpt::new(source, &lines, &spans);
        let primary = excerpt.map(d.primary.span);
        let mut report = Report::build(kind, (file.clone(), primary.range()))
            .with_config(config)
            .with_code(d.code)
            .with_message(&d.message);
        for (i, (span, message)) in labels.into_iter().enumerate() {
            report = report.with_label(
                ALabel::new((file.clone(), excerpt.map(span).range()))
                    .with_message(message)
                    .with_order(i as i32),
            );
        }
        if let Some(h) = &d.help {
            report = report.with_help(h);
        }
        let snippet = Source::from(excerpt.text.as_str());
        let mut one = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = report.finish().write((file.clone(), snippet), &mut one);
        let mut one = String::from_utf8_lossy(&one).into_owned();
        // ariadne counts the column of the location in its header within the excerpt; where
        // the excerpt cut the start of the primary's line, put back the column in the source.
        let (line, column) = lines.line_column(source_clamp(d.primary.span, source).start);
        let (shown, real) = (
            format!(
                "{file}:{}:{} ",
                line + 1,
                excerpt.primary_column(primary.start)
            ),
            format!("{file}:{}:{} ", line + 1, column),
        );
        if shown != real {
            one = one.replacen(&shown, &real, 1);
        }
        out.extend_from_slice(one.as_bytes());
    }
    let rest = &diags[diags.len().min(MAX_RENDERED)..];
    if !rest.is_empty() {
        out.extend_from_slice(suppressed(rest).as_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The closing line for the diagnostics [`render`] left out.
fn suppressed(rest: &[Diagnostic]) -> String {
    let errors = rest.iter().filter(|d| d.is_error()).count();
    let warnings = rest.len() - errors;
    let count = |n: usize, what: &str| format!("{n} more {what}{}", if n == 1 { "" } else { "s" });
    let what = match (errors, warnings) {
        (e, 0) => count(e, "error"),
        (0, w) => count(w, "warning"),
        (e, w) => format!("{} and {}", count(e, "error"), count(w, "warning")),
    };
    format!("note: {what} suppressed (only the first {MAX_RENDERED} are shown)\n")
}

/// `span` inside `source`, its ends moved back onto character boundaries.
fn source_clamp(span: Span, source: &str) -> Span {
    let floor = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    Span::new(start, floor(span.end).max(start))
}

/// The byte offset where each line of a source starts, as ariadne counts lines: a final
/// newline ends the last line rather than starting an empty one.
struct LineStarts<'s> {
    source: &'s str,
    starts: Vec<usize>,
}

impl<'s> LineStarts<'s> {
    fn new(source: &'s str) -> LineStarts<'s> {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            // A line starts after each newline but one at the very end; line 0 always exists,
            // even in an empty source (`line_of` subtracts one from a count of starts).
            .filter(|&start| start == 0 || start < source.len())
            .collect();
        LineStarts { source, starts }
    }

    /// The 0-based line holding byte `at`.
    fn line_of(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s <= at) - 1
    }

    /// The byte range of line `line`, without its newline.
    fn range(&self, line: usize) -> (usize, usize) {
        let start = self.starts[line];
        let end = match self.starts.get(line + 1) {
            Some(next) => next - 1,
            None if self.source.ends_with('\n') => self.source.len() - 1,
            None => self.source.len(),
        };
        (start, end.max(start))
    }

    /// The 0-based line and 1-based column (in characters) of byte `at`, as ariadne counts.
    fn line_column(&self, at: usize) -> (usize, usize) {
        let line = self.line_of(at);
        let (start, end) = self.range(line);
        let column = self.source[start..at.min(end)].chars().count() + 1;
        (line, column)
    }
}

/// The lines a diagnostic's labels touch, each longer than [`MAX_LINE`] cut to windows around
/// the labels' ends, and where every kept byte of the source lies in it. The lines before
/// them are left empty, so that ariadne numbers the lines as the source does (its
/// `with_display_line_offset` renumbers the header but not the margin).
struct Excerpt {
    text: String,
    /// Kept stretches of the source: `(source start, source end, excerpt start)`, in order.
    kept: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    fn new(source: &str, lines: &LineStarts, spans: &[Span]) -> Excerpt {
        let spans: Vec<Span> = spans.iter().map(|&s| source_clamp(s, source)).collect();
        let first = spans.iter().map(|s| s.start).min().unwrap_or(0);
        let last = spans.iter().map(|s| s.end).max().unwrap_or(0);
        let (first_line, last_line) = (lines.line_of(first), lines.line_of(last));
        let mut points: Vec<usize> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
        points.sort_unstable();
        let mut e = Excerpt {
            text: "\n".repeat(first_line),
            kept: Vec::new(),
        };
        for line in first_line..=last_line {
            let (start, end) = lines.range(line);
            // The newline is kept with its line: ariadne places an offset at the very end
            // of a text on its last character, but one at a newline after it.
            let newline = end + usize::from(source[end..].starts_with('\n'));
            if end - start <= MAX_LINE {
                e.keep(source, start, newline);
                continue;
            }
            // Windows around the label ends on this line, merged where they overlap.
            let mut windows: Vec<(usize, usize)> = Vec::new();
            for p in points
                .iter()
                .filter(|&&p| p >= start && lines.line_of(p) == line)
            {
                let p = (*p).min(end);
                let lo = source_clamp(
                    Span::new(p.saturating_sub(EXCERPT_CONTEXT).max(start), 0),
                    source,
                )
                .start;
                let hi = source_clamp(Span::new(lo, (p + EXCERPT_CONTEXT).min(end)), source).end;
                match windows.last_mut() {
                    Some(w) if lo <= w.1 => w.1 = w.1.max(hi),
                    _ => windows.push((lo, hi)),
                }
            }
            if windows.is_empty() {
                // A line in the middle of a label that spans lines: its start stands for it.
                windows.push((
                    start,
                    source_clamp(Span::new(start, start + EXCERPT_CONTEXT), source).end,
                ));
            }
            let mut at = start;
            for (lo, hi) in windows {
                if lo > at {
                    e.text.push('…');
                }
                e.keep(source, lo, hi);
                at = hi;
            }
            if at < end {
                e.text.push('…');
            }
            e.keep(source, end, newline);
        }
        e
    }

    fn keep(&mut self, source: &str, start: usize, end: usize) {
        self.kept.push((start, end, self.text.len()));
        self.text.push_str(&source[start..end]);
    }

    /// Where a byte of the source lies in the excerpt (every label end is kept).
    fn at(&self, offset: usize) -> usize {
        let i = self.kept.partition_point(|&(_, end, _)| end < offset);
        match self.kept.get(i) {
            Some(&(start, _, to)) => to + offset.saturating_sub(start),
            None => self.text.len(),
        }
    }

    fn map(&self, span: Span) -> Span {
        Span::new(
            self.at(span.start),
            self.at(span.end).max(self.at(span.start)),
        )
    }

    /// The 1-based column, in characters, ariadne reports for excerpt byte `at`.
    fn primary_column(&self, at: usize) -> usize {
        let line_start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        self.text[line_start..at].chars().count() + 1
    }
}

/// Renders a diagnostic that has no source text to point into (I/O, non-UTF-8 input).
pub fn render_plain(d: &Diagnostic, file: &str) -> String {
    let kind = match d.severity() {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut s = format!("{kind}[{}]: {}: {}\n", d.code, file, d.message);
    if let Some(h) = &d.help {
        s.push_str(&format!("  help: {h}\n"));
    }
    s
}

/// Edit distance for "did you mean" help lines: insertions, deletions, substitutions and
/// swaps of two neighbouring characters (`bais` → `bias`) each count one (optimal string
/// alignment distance).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back (for swaps), one back, and the current one.
    let mut two: Vec<usize> = vec![0; b.len() + 1];
    let mut one: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (one[j - 1] + cost).min(one[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut two, &mut one);
        std::mem::swap(&mut one, &mut cur);
    }
    one[b.len()]
}

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit && *d < name.chars().count())
        .min()
        .map(|(_, c)| c)
}
