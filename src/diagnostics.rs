//! Spans and compile errors: every parse, type and unsupported-construct error carries the
//! span it is about, and renders (through miette) with line, column, the source line and an
//! underline under the span.

use std::fmt;

/// A byte range `[start, end)` in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `[start, end)`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// What kind of compile error: the CLI and the Python package map each to an exit code or
/// exception type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not in the language (Python's `SyntaxError`).
    Syntax,
    /// Operand types that Python would reject (`TypeError`).
    Type,
    /// A name that is not bound (`NameError`).
    Name,
    /// Valid Python that fastiter does not compile (yet): the Python package falls back.
    Unsupported,
}

/// An error that stops compilation, about one span of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Which family of error (decides the exit code or Python exception type).
    pub kind: ErrorKind,
    /// One line, no position: `render` adds it.
    pub message: String,
    /// The source text the error is about.
    pub span: Span,
    /// What to do instead, when there is something to say.
    pub help: Option<String>,
}

impl CompileError {
    /// An error of `kind` about `span`, without help.
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> CompileError {
        CompileError {
            kind,
            message: message.into(),
            span,
            help: None,
        }
    }

    /// The same error with a help line saying what to do instead.
    pub fn with_help(mut self, help: impl Into<String>) -> CompileError {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        line_col(src, self.span.start)
    }

    /// The full diagnostic, rendered by miette without colour so that it reads the same in a
    /// terminal, a log and a Python exception: `× MESSAGE at LINE:COL`, the source line(s),
    /// an underline under the span, and the help if any.
    ///
    /// Never panics: spans past the end of `src` are clamped to it, an empty span is marked
    /// one column wide, and a source with very long lines is shown as an excerpt of the
    /// span's line.
    pub fn render(&self, src: &str) -> String {
        let (line, col) = self.line_col(src);
        let header = format!("{} at {}:{}", self.message, line, col);
        let start = floor_char_boundary(src, self.span.start);
        let end = floor_char_boundary(src, self.span.end.max(start));
        let (text, start, mut end) = shown_source(src, start, end);
        // Lines end at '\n' (as for `line_col`): show a CRLF as a space and a '\n', and a lone
        // CR as a space, keeping every byte offset.
        let mut text = text.replace("\r\n", " \n").replace('\r', " ");
        if start == end {
            // An empty span (an end of input) gets a one-column mark: the character there,
            // or a space added at the end of the line to point at.
            match text[start..].chars().next() {
                Some(c) if c != '\n' && c != '\r' => end = start + c.len_utf8(),
                _ => {
                    text.insert(start, ' ');
                    end = start + 1;
                }
            }
        }
        let located = Located {
            error: self,
            header,
            src: text,
            span: miette::SourceSpan::new(start.into(), end - start),
        };
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(usize::MAX)
                .with_wrap_lines(false)
                .without_primary_span_start()
                .without_syntax_highlighting();
        let mut out = String::new();
        // miette is a third-party renderer: should it ever panic on odd input, fall back to
        // the header and help rather than take the caller down.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.render_report(&mut out, &located)
        }));
        if !matches!(rendered, Ok(Ok(()))) {
            let mut plain = format!("  × {}", located.header);
            if let Some(help) = &self.help {
                plain.push_str(&format!("\n  help: {help}"));
            }
            return plain;
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out
    }
}

/// Lines longer than this many bytes are not shown whole: the diagnostic shows an excerpt
/// of the span's line instead.
const MAX_SHOWN_LINE: usize = 160;

/// The text to show for a span of `src` (char boundaries, `start <= end`) and the span in
/// it: `src` itself, or, when a line is too long to show, an excerpt of the span's line
/// (`…` marking the cuts) with the span clipped to it.
fn shown_source(src: &str, start: usize, end: usize) -> (String, usize, usize) {
    if src.split(['\n', '\r']).all(|l| l.len() <= MAX_SHOWN_LINE) {
        return (src.to_string(), start, end);
    }
    let line_start = src[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let line_end = src[start..]
        .find(['\n', '\r'])
        .map_or(src.len(), |i| start + i);
    let left = floor_char_boundary(
        src,
        start.saturating_sub(MAX_SHOWN_LINE / 3).max(line_start),
    );
    let right = floor_char_boundary(src, (start + MAX_SHOWN_LINE / 2).min(line_end));
    let prefix = if left > line_start { "…" } else { "" };
    let suffix = if right < line_end { "…" } else { "" };
    let text = format!("{prefix}{}{suffix}", &src[left..right]);
    let shift = |offset: usize| prefix.len() + offset.min(right) - left;
    (text, shift(start), shift(end))
}

/// The largest char boundary of `src` at or before `offset`, clamped to its length.
fn floor_char_boundary(src: &str, offset: usize) -> usize {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A [`CompileError`] with its source, as miette renders it: the header adds the position.
struct Located<'a> {
    error: &'a CompileError,
    header: String,
    src: String,
    span: miette::SourceSpan,
}

impl fmt::Debug for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.error, f)
    }
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl std::error::Error for Located<'_> {}

impl miette::Diagnostic for Located<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        miette::Diagnostic::help(self.error)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(miette::LabeledSpan::underline(
            self.span,
        ))))
    }
}

/// A `CompileError` is a miette diagnostic: its span is the label and its help the help, so
/// the CLI can attach the source (`miette::Report::new(e).with_source_code(src)`) and print
/// it with any miette handler.
impl miette::Diagnostic for CompileError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = miette::SourceSpan::new(
            self.span.start.into(),
            self.span.end.saturating_sub(self.span.start),
        );
        Some(Box::new(std::iter::once(miette::LabeledSpan::underline(
            span,
        ))))
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}

/// 1-based (line, column) of a byte offset; columns count characters, not bytes.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The result of a compile step.
pub type CResult<T> = Result<T, CompileError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let src = "range(10).map(x *).sum()";
        let e = CompileError::new(
            ErrorKind::Syntax,
            Span::new(17, 18),
            "expected an expression",
        );
        assert_eq!(
            e.render(src),
            "  × expected an expression at 1:18\n   ╭────\n 1 │ range(10).map(x *).sum()\n   ·                  ─\n   ╰────"
        );
    }

    #[test]
    fn renders_help_and_the_line_of_a_multi_line_source() {
        let src = "range(10)\n  .map(lambda x: 'x')\n  .sum()";
        let e = CompileError::new(
            ErrorKind::Unsupported,
            Span::new(27, 30),
            "string literals are not supported",
        )
        .with_help("fastiter pipelines compute on numbers");
        let out = e.render(src);
        assert!(
            out.starts_with("  × string literals are not supported at 2:18\n"),
            "{out}"
        );
        assert!(
            out.contains(" 2 │   .map(lambda x: 'x')\n   ·                  ───\n"),
            "{out}"
        );
        assert!(
            out.ends_with("help: fastiter pipelines compute on numbers"),
            "{out}"
        );
    }

    #[test]
    fn render_clamps_spans_past_the_end() {
        let src = "x +";
        for span in [
            Span::new(3, 3),
            Span::new(3, 10),
            Span::new(50, 60),
            Span::new(2, 1),
        ] {
            let out = CompileError::new(ErrorKind::Syntax, span, "oops").render(src);
            assert!(out.contains(" 1 │ x +"), "{out}");
        }
        let e = CompileError::new(
            ErrorKind::Syntax,
            Span::new(3, 3),
            "unexpected end of input",
        );
        assert!(e.render(src).contains("·    ─"), "{}", e.render(src));
        // Offsets inside a multi-byte character, and an empty source.
        let e = CompileError::new(ErrorKind::Syntax, Span::new(1, 2), "bad");
        assert!(e.render("é").starts_with("  × bad at 1:1"));
        assert!(e.render("").starts_with("  × bad at 1:1"));
    }

    #[test]
    fn line_col_counts_lines_and_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
