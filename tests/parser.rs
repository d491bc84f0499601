//! Parser fixtures, in the style of ruff's parser tests: every `tests/data/parse/valid/*.py`
//! parses and its AST rendering is snapshotted; every `tests/data/parse/invalid/*.py` fails
//! and its rendered diagnostic is snapshotted (`tests/snapshots/`, insta). Plus a garbage
//! feed (no input panics) and deep nesting (no input overflows the stack).
//!
//! Update snapshots with `cargo insta test --test parser` (or `INSTA_UPDATE=always`) and read
//! every changed `.snap` before accepting it.

use std::fs;
use std::path::{Path, PathBuf};

use fastiter::diagnostics::{CompileError, ErrorKind, Span};
use fastiter::syntax::ast::{Expr, ExprKind, Program, Stmt, StmtKind};
use fastiter::syntax::{parse, parse_program, render_ast, render_program};

/// The fixture files of one directory, sorted by name.
fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/parse")
        .join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "py"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", root.display());
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Snapshot `value` under `name`, with the fixture's source as the snapshot's description.
fn snapshot(name: &str, path: &Path, src: &str, value: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(true);
    settings.set_input_file(path);
    settings.set_description(src);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, value));
}

#[test]
fn valid_fixtures_parse() {
    for path in fixtures("valid") {
        let src = fs::read_to_string(&path).expect("fixture is UTF-8");
        let ast = match parse(&src) {
            Ok(ast) => ast,
            Err(e) => panic!("{} should parse:\n{}", path.display(), e.render(&src)),
        };
        check_spans(&src, &ast);
        snapshot(
            &format!("valid__{}", stem(&path)),
            &path,
            &src,
            &render_ast(&ast),
        );
    }
}

#[test]
fn invalid_fixtures_fail() {
    for path in fixtures("invalid") {
        let src = fs::read_to_string(&path).expect("fixture is UTF-8");
        let err = match parse(&src) {
            Ok(ast) => panic!(
                "{} should fail, parsed as {}",
                path.display(),
                render_ast(&ast)
            ),
            Err(e) => e,
        };
        check_error_span(&src, &err);
        let rendered = format!("{:?}\n{}", err.kind, err.render(&src));
        snapshot(&format!("invalid__{}", stem(&path)), &path, &src, &rendered);
    }
}

/// Every node's span lies in the source, inside its parent's, and names read back as
/// themselves.
fn check_spans(src: &str, e: &Expr) {
    let text = |s: Span| {
        assert!(
            s.start <= s.end && s.end <= src.len(),
            "span {s:?} outside the source"
        );
        &src[s.start..s.end]
    };
    let inside = |child: &Expr| {
        assert!(
            e.span.start <= child.span.start && child.span.end <= e.span.end,
            "child {:?} {:?} outside parent {:?} {:?}",
            text(child.span),
            child.span,
            text(e.span),
            e.span,
        );
        check_spans(src, child);
    };
    let span_text = text(e.span);
    assert_eq!(
        span_text,
        span_text.trim(),
        "span {:?} has surrounding whitespace",
        e.span
    );
    match &e.kind {
        ExprKind::Name(n) => assert_eq!(span_text, n),
        ExprKind::Int(_) | ExprKind::Float(_) => {
            assert!(span_text.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
        }
        ExprKind::Bool(b) => assert_eq!(span_text, if *b { "True" } else { "False" }),
        ExprKind::None => assert_eq!(span_text, "None"),
        ExprKind::Attribute { value, attr } => {
            inside(value);
            assert_eq!(text(attr.span), attr.name);
            assert!(span_text.ends_with(&attr.name));
        }
        ExprKind::Call { func, args, kwargs } => {
            inside(func);
            args.iter().for_each(inside);
            for (k, v) in kwargs {
                assert_eq!(text(k.span), k.name);
                inside(v);
            }
            assert!(
                span_text.ends_with(')'),
                "call span {span_text:?} ends before ')'"
            );
        }
        ExprKind::Subscript { value, index } => {
            inside(value);
            inside(index);
            assert!(span_text.ends_with(']'));
        }
        ExprKind::Unary { operand, .. } => inside(operand),
        ExprKind::Binary { left, right, .. } => {
            inside(left);
            inside(right);
            assert!(e.span.start <= left.span.start && right.span.end <= e.span.end);
        }
        ExprKind::BoolOp { values, .. } => values.iter().for_each(inside),
        ExprKind::Compare { left, ops } => {
            inside(left);
            ops.iter().for_each(|(_, r)| inside(r));
        }
        ExprKind::IfExp { test, body, orelse } => {
            inside(test);
            inside(body);
            inside(orelse);
        }
        ExprKind::Lambda { params, body } => {
            assert!(span_text.starts_with("lambda"));
            for p in params {
                assert_eq!(text(p.span), p.name);
            }
            inside(body);
        }
        ExprKind::List(items) | ExprKind::Tuple(items) => items.iter().for_each(inside),
        ExprKind::Comprehension { elt, clauses, .. } => {
            inside(elt);
            for c in clauses {
                assert_eq!(text(c.target.span), c.target.name);
                inside(&c.iter);
                c.ifs.iter().for_each(inside);
            }
        }
        ExprKind::NamedExpr { target, value } => {
            assert_eq!(text(target.span), target.name);
            inside(value);
        }
    }
}

fn check_error_span(src: &str, err: &CompileError) {
    assert!(
        err.span.start <= err.span.end && err.span.end <= src.len(),
        "error span {:?} outside the source ({} bytes): {}",
        err.span,
        src.len(),
        err.message
    );
    assert!(
        !err.message.contains("Rule::") && !err.message.contains("internal"),
        "{}",
        err.message
    );
}

/// A deterministic xorshift generator, so the garbage is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "range",
    "par_range",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    "map",
    "filter",
    "sum",
    "lambda",
    "x",
    "y",
    ":",
    "if",
    "else",
    "not",
    "and",
    "or",
    "in",
    "is",
    "for",
    "True",
    "None",
    "+",
    "-",
    "*",
    "**",
    "/",
    "//",
    "%",
    "@",
    "<",
    "<=",
    "==",
    "!=",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "~",
    "=",
    ":=",
    "0",
    "7",
    "1_000",
    "0x1f",
    "0b2",
    "1.5",
    "1e",
    ".5",
    "5.",
    "1j",
    "'",
    "\"",
    "\"\"\"",
    "'a'",
    "#",
    "\n",
    "\r\n",
    " ",
    "\t",
    "\\",
    "é",
    "→",
    "\u{0}",
    "\u{7f}",
    "...",
    "_",
    "key",
];

/// Garbage built from pipeline tokens and single characters: `parse` returns, never panics,
/// and whatever it returns is well-formed (spans in the source, renderable).
#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let chars: Vec<char> = "()[]{},.:;=+-*/%@<>&|^~!#'\"\\ \n\t0123456789xyz_éλ→\u{0}"
        .chars()
        .collect();
    let mut ok = 0;
    for case in 0..5000 {
        let len = 1 + rng.below(24);
        let mut src = String::new();
        for _ in 0..len {
            if case % 4 == 3 {
                src.push(chars[rng.below(chars.len())]);
            } else {
                src.push_str(PIECES[rng.below(PIECES.len())]);
                if rng.below(3) == 0 {
                    src.push(' ');
                }
            }
        }
        check_any(&src, &mut ok);
    }
    assert!(ok > 0, "no garbage case parsed: the generator is too noisy");
}

/// Every valid fixture with one byte range deleted or one piece inserted.
#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(12345);
    let mut ok = 0;
    for path in fixtures("valid") {
        let src = fs::read_to_string(&path).expect("fixture is UTF-8");
        for _ in 0..60 {
            let mut s = src.clone();
            let at = floor_boundary(&s, rng.below(s.len() + 1));
            if rng.below(2) == 0 {
                let end = floor_boundary(&s, (at + 1 + rng.below(4)).min(s.len()));
                s.replace_range(at..end.max(at), "");
            } else {
                s.insert_str(at, PIECES[rng.below(PIECES.len())]);
            }
            check_any(&s, &mut ok);
        }
    }
    assert!(ok > 0);
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn check_any(src: &str, ok: &mut usize) {
    match parse(src) {
        Ok(ast) => {
            check_spans(src, &ast);
            let _ = render_ast(&ast);
            *ok += 1;
        }
        Err(err) => {
            check_error_span(src, &err);
            let rendered = err.render(src);
            assert!(
                rendered.contains(&err.message),
                "rendering of {src:?} lacks its message:\n{rendered}"
            );
        }
    }
}

/// Nesting and chains far beyond any real pipeline: an error, not a stack overflow.
#[test]
fn deep_nesting_is_an_error() {
    let n = 10_000;
    // Chains are slower to parse (in debug builds) than brackets are to refuse.
    let m = 2_000;
    let cases = [
        "(".repeat(n),
        format!("{}x{}", "(".repeat(n), ")".repeat(n)),
        format!("{}x{}", "[".repeat(n), "]".repeat(n)),
        format!("{}x{}", "f(".repeat(n), ")".repeat(n)),
        format!("x{}", "[0".repeat(n)),
        format!("{}0{}", "{".repeat(n), "}".repeat(n)),
        format!("{}x", "-".repeat(m)),
        format!("{}x", "not ".repeat(m)),
        format!("{}x", "lambda: ".repeat(m)),
        format!("{}1{}", "lambda x=".repeat(m), ": x".repeat(m)),
        format!("{}x", "y if z else ".repeat(m)),
        format!("2{}", " ** 2".repeat(m)),
        format!("1{}", " + 1".repeat(m)),
        format!("x{}", ".a".repeat(m)),
        format!("x{}", "(0)".repeat(m)),
    ];
    for src in &cases {
        let err = match parse(src) {
            Ok(_) => panic!("{}... parsed", &src[..40]),
            Err(e) => e,
        };
        check_error_span(src, &err);
        assert!(
            err.message.contains("nested too deeply")
                || err.message.contains("default values")
                || err.kind == ErrorKind::Syntax,
            "{}...: {}",
            &src[..40],
            err.message
        );
        let _ = err.render(src);
    }
    // Moderate nesting still parses.
    let ok = format!("{}x{}", "(".repeat(50), ")".repeat(50));
    assert!(parse(&ok).is_ok());
    let ok = format!("{}x", "-".repeat(150));
    assert!(parse(&ok).is_ok());
}

/// The error the CLI documents: `expected an expression`, at the `)` after `*`.
#[test]
fn cli_example() {
    let src = "range(10).map(x *).sum()";
    let err = parse(src).expect_err("missing operand");
    assert_eq!(err.kind, ErrorKind::Syntax);
    assert_eq!(err.message, "expected an expression");
    assert_eq!(err.line_col(src), (1, 18));
    assert!(err
        .render(src)
        .lines()
        .next()
        .is_some_and(|l| l.ends_with("expected an expression at 1:18")));
}

// ---------------------------------------------------------------------------------------------
// Programs: `def`s, then the pipeline (`tests/data/parse/program_{valid,invalid}`)
// ---------------------------------------------------------------------------------------------

fn check_program_spans(src: &str, p: &Program) {
    fn stmts(src: &str, body: &[Stmt]) {
        for s in body {
            assert!(
                s.span.start <= s.span.end && s.span.end <= src.len(),
                "{s:?}"
            );
            match &s.kind {
                StmtKind::Assign { value, .. }
                | StmtKind::AugAssign { value, .. }
                | StmtKind::Expr(value)
                | StmtKind::Return(Some(value)) => check_spans(src, value),
                StmtKind::If { test, body, orelse } => {
                    check_spans(src, test);
                    stmts(src, body);
                    stmts(src, orelse);
                }
                StmtKind::For { iter, body, .. } => {
                    check_spans(src, iter);
                    stmts(src, body);
                }
                StmtKind::While { test, body } => {
                    check_spans(src, test);
                    stmts(src, body);
                }
                _ => {}
            }
        }
    }
    for d in &p.defs {
        assert_eq!(&src[d.name.span.start..d.name.span.end], d.name.name);
        stmts(src, &d.body);
    }
    check_spans(src, &p.pipeline);
}

#[test]
fn program_fixtures_parse() {
    for path in fixtures("program_valid") {
        let src = fs::read_to_string(&path).expect("fixture is UTF-8");
        let p = match parse_program(&src) {
            Ok(p) => p,
            Err(e) => panic!("{} should parse:\n{}", path.display(), e.render(&src)),
        };
        check_program_spans(&src, &p);
        snapshot(
            &format!("program_valid__{}", stem(&path)),
            &path,
            &src,
            &render_program(&p),
        );
    }
}

#[test]
fn program_invalid_fixtures_fail() {
    for path in fixtures("program_invalid") {
        let src = fs::read_to_string(&path).expect("fixture is UTF-8");
        let err = match parse_program(&src) {
            Ok(p) => panic!(
                "{} should fail, parsed as {}",
                path.display(),
                render_program(&p)
            ),
            Err(e) => e,
        };
        check_error_span(&src, &err);
        let rendered = format!("{:?}\n{}", err.kind, err.render(&src));
        snapshot(
            &format!("program_invalid__{}", stem(&path)),
            &path,
            &src,
            &rendered,
        );
    }
}

const PROGRAM_PIECES: &[&str] = &[
    "def f(x):",
    "def g(a, b):",
    "\n",
    "\n    ",
    "\n        ",
    "\n\t",
    "    ",
    "return x",
    "return",
    "if x:",
    "elif y:",
    "else:",
    "for i in range(3):",
    "while x > 0:",
    "break",
    "continue",
    "pass",
    "x = 1",
    "x += 2",
    "a, b = b, a",
    ";",
    "(",
    ")",
    "\\\n",
    "\"\"\"doc",
    "\"\"\"",
    "# c",
    "range(3).map(f).sum()",
    "x",
    ":",
    "=",
];

/// Programs built from statement pieces and indentation: `parse_program` returns, never
/// panics, and what it returns has spans inside the source.
#[test]
fn program_garbage_never_panics() {
    let mut rng = Rng(0xDEAD_BEEF_1234_5678);
    let mut ok = 0;
    for case in 0..3000 {
        let len = 1 + rng.below(30);
        let mut src = String::from(if case % 2 == 0 { "def f(x):\n    " } else { "" });
        for _ in 0..len {
            if case % 5 == 4 {
                src.push_str(PIECES[rng.below(PIECES.len())]);
            } else {
                src.push_str(PROGRAM_PIECES[rng.below(PROGRAM_PIECES.len())]);
            }
        }
        match parse_program(&src) {
            Ok(p) => {
                check_program_spans(&src, &p);
                let _ = render_program(&p);
                ok += 1;
            }
            Err(err) => {
                check_error_span(&src, &err);
                let _ = err.render(&src);
            }
        }
    }
    assert!(ok > 0, "no program garbage parsed");
}

/// Blocks nested far deeper than any real function: an error, not a stack overflow.
#[test]
fn deep_blocks_are_an_error() {
    let mut src = String::from("def f(x):\n");
    for i in 1..400 {
        src.push_str(&" ".repeat(i));
        src.push_str("if x:\n");
    }
    src.push_str(&" ".repeat(400));
    src.push_str("return 1\nrange(3).map(f).sum()\n");
    let err = parse_program(&src).expect_err("too deep");
    assert!(err.message.contains("nested too deeply"), "{}", err.message);
    check_error_span(&src, &err);
}
