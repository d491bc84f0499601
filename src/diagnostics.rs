//! Spans and compile errors: every parse, type and unsupported-construct error carries the
//! span it is about, and renders with line, column, the source line and a caret.

use std::fmt;

/// A byte range `[start, end)` in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Span,
    /// What to do instead, when there is something to say.
    pub help: Option<String>,
}

impl CompileError {
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> CompileError {
        CompileError {
            kind,
            message: message.into(),
            span,
            help: None,
        }
    }

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
    /// an underline under the span, and the help if any. Spans past the end of `src` are
    /// clamped to it.
    pub fn render(&self, src: &str) -> String {
        let (line, col) = self.line_col(src);
        let start = floor_char_boundary(src, self.span.start);
        let mut end = floor_char_boundary(src, self.span.end.max(start));
        let mut text = src.to_string();
        if start == end {
            // An empty span (an end of input) gets a one-column mark: the character there,
            // or a space added at the end of the line to point at.
            match src[start..].chars().next() {
                Some(c) if c != '\n' && c != '\r' => end = start + c.len_utf8(),
                _ => {
                    text.insert(start, ' ');
                    end = start + 1;
                }
            }
        }
        let located = Located {
            error: self,
            header: format!("{} at {}:{}", self.message, line, col),
            src: text,
            span: miette::SourceSpan::new(start.into(), end - start),
        };
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(usize::MAX)
                .with_wrap_lines(false)
                .without_syntax_highlighting();
        let mut out = String::new();
        if handler.render_report(&mut out, &located).is_err() {
            return located.header;
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out
    }
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
            "expected an expression at 1:18\n  |\n1 | range(10).map(x *).sum()\n  |                  ^"
        );
    }

    #[test]
    fn line_col_counts_lines_and_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
