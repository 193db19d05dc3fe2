//! Diagnostics: a problem in a graph file with its file, line:column, node id, message and advice,
//! rendered rustc-style with the offending source line underlined (by `annotate-snippets`, rustc's own
//! renderer: display widths of wide characters, colour on a terminal).

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// One problem found in a graph, located in its file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The graph file (as given by the user), or `--set` for command-line overrides.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// How many characters to underline (at least one).
    pub width: usize,
    /// The node the problem is in, if any.
    pub node: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    /// The source line, for the snippet.
    pub source_line: String,
}

impl Diagnostic {
    /// A diagnostic at byte range `span` of `source` (a range inside a multi-byte character widens
    /// to the character).
    pub fn at(file: &Path, source: &str, span: (usize, usize), message: impl Into<String>) -> Self {
        let floor = |mut i: usize| {
            while !source.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = floor(span.0.min(source.len()));
        let end = floor(span.1.clamp(start, source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let width = source[start..end.min(line_end)].chars().count().max(1);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            width,
            node: None,
            message: message.into(),
            help: None,
            source_line: source[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
        }
    }

    /// Names the node the problem is in.
    pub fn in_node(&mut self, node: &str) -> &mut Self {
        self.node = Some(node.to_string());
        self
    }

    /// Adds advice.
    pub fn with_help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }
}

/// `text` with every control character but newline and tab replaced by U+FFFD, so that text from a
/// file (a graph, a PNG someone shared) cannot send escape sequences to the terminal. One character
/// becomes one character, so column markers stay aligned.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_unprintable) {
        text.chars()
            .map(|c| if is_unprintable(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn is_unprintable(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

impl Diagnostic {
    /// The diagnostic through `renderer`; everything from the file is made printable first.
    fn render(&self, renderer: &Renderer) -> String {
        let line = printable(&self.source_line);
        let byte = |chars: usize| {
            line.char_indices()
                .nth(chars)
                .map_or(line.len(), |(i, _)| i)
        };
        let start = byte(self.column - 1);
        let end = byte(self.column - 1 + self.width);
        let title = match &self.node {
            Some(node) => format!("node \"{}\": {}", printable(node), printable(&self.message)),
            None => printable(&self.message).into_owned(),
        };
        let path = printable(&self.file.display().to_string()).into_owned();
        let mut group: Group<'_> = Level::ERROR.primary_title(title).element(
            Snippet::source(line.as_ref())
                .line_start(self.line)
                .path(path)
                .annotation(AnnotationKind::Primary.span(start..end)),
        );
        let help = self.help.as_deref().map(printable);
        if let Some(help) = help {
            group = group.element(Level::HELP.message(help));
        }
        renderer.render(&[group])
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Renderer::plain()))
    }
}

/// Every problem found in one graph, in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Diagnostics {
    /// Every problem and the count, through `renderer`.
    fn render(&self, renderer: &Renderer) -> String {
        let mut text = String::new();
        for d in &self.0 {
            text += &d.render(renderer);
            text += "\n\n";
        }
        let n = self.0.len();
        text + &format!("{n} error{}", if n == 1 { "" } else { "s" })
    }

    /// The problems for standard error: in colour when it is a terminal and `NO_COLOR` is not set.
    pub fn for_stderr(&self) -> String {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        self.render(&if colour {
            Renderer::styled()
        } else {
            Renderer::plain()
        })
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Renderer::plain()))
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_and_underlines() {
        let src = "Graph(\n  version: 2,\n)";
        let at = src.find('2').unwrap();
        let mut d = Diagnostic::at(Path::new("g.ron"), src, (at, at + 1), "unknown version 2");
        d.with_help("use version: 1");
        assert_eq!((d.line, d.column, d.width), (2, 12, 1));
        assert_eq!(
            d.to_string(),
            "error: unknown version 2\n --> g.ron:2:12\n  |\n2 |   version: 2,\n  |            ^\n  |\n  = help: use version: 1"
        );
    }

    #[test]
    fn spans_inside_a_character_are_widened_to_it() {
        let source = "a: \"é€\",";
        // Byte 5 is inside é (bytes 4..6); byte 7 inside € (bytes 6..9).
        let d = Diagnostic::at(Path::new("g.ron"), source, (5, 7), "bad");
        assert_eq!((d.line, d.column), (1, 5));
        assert_eq!(d.width, 1);
        let _ = d.to_string();
    }

    #[test]
    fn wide_characters_are_underlined_by_their_display_width() {
        let source = "\"名前\": Map(),";
        let d = Diagnostic::at(Path::new("g.ron"), source, (0, 8), "bad id");
        assert!(
            d.to_string().ends_with("1 | \"名前\": Map(),\n  | ^^^^^^"),
            "{d}"
        );
    }

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        assert_eq!(printable("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            printable("\u{1b}]0;title\u{7}x"),
            "\u{FFFD}]0;title\u{FFFD}x"
        );
        let source = "    \"a\u{1b}[2J\": Map(z: \"b\"),";
        let d = Diagnostic::at(Path::new("g.ron"), source, (5, 8), "bad");
        let shown = d.to_string();
        assert!(!shown.contains('\u{1b}'), "{shown}");
    }
}
