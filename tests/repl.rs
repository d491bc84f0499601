//! The `fastc` REPL: scripted sessions through a pipe (every command, errors and recovery, `let`,
//! multi-line input, garbage), the library entry point `fastiter::repl::run_repl`, and one real
//! terminal session driven through a pseudo-terminal (rexpect): the prompt, history kept across
//! sessions, Ctrl-C on an input line and on a running pipeline, Ctrl-D.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastiter::repl::{run_repl, ReplOptions};
use fastiter::Value;

/// A fresh, empty folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastc-repl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Run `fastc ARGS` with `input` on its stdin (a pipe), stdout and stderr captured.
fn piped_with(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
    let state = temp_dir("piped");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fastc"));
    cmd.args(args)
        .env("XDG_STATE_HOME", &state)
        .env("HOME", &state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("fastc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("fastc runs");
    writer.join().expect("writer");
    out
}

fn piped(input: &str) -> Output {
    piped_with(&[], input.as_bytes(), &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn piped_let_and_pipeline_print_only_the_value() {
    let o = piped("let N = 10\nrange(N).sum()\n");
    assert_eq!(stdout(&o), "45\n");
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
    // `fastc repl` is the same REPL, and -D binds before the first entry.
    let o = piped_with(
        &["repl", "-D", "M=4"],
        b"range(M).map(x * x).collect()\n",
        &[],
    );
    assert_eq!(stdout(&o), "[0, 1, 4, 9]\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    // No trailing newline, CRLF line ends, blank lines and comments.
    let o = piped("# a comment\n\nlet N = 3\r\n   \nrange(N).sum()  # two lines\r\nN");
    assert_eq!(stdout(&o), "3\n3\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    // Empty input: nothing at all.
    let o = piped("");
    assert_eq!((stdout(&o), stderr(&o)), (String::new(), String::new()));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn let_binds_parameters_that_later_entries_see() {
    let o = piped(
        "let N = 10**7\nN\nlet M = N // 2 + 1\nM\nrange(M).count()\n\
         K = 2.5\nK * 2\nlet B = True\nrange(10).filter(B).count()\n\
         let N = 5\nrange(N).sum()\nN == 5\nN >= 6\nmath.sqrt(N)\n-N\n10**30\n:vars\n",
    );
    assert_eq!(
        stdout(&o),
        "10000000\n5000001\n5000001\n5.0\n10\n10\nTrue\nFalse\n2.23606797749979\n-5\n\
         1000000000000000000000000000000\nN = 5\nM = 5000001\nK = 2.5\nB = True\n",
        "{}",
        stderr(&o)
    );
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn bad_bindings_are_errors_and_the_session_goes_on() {
    for (line, want) in [
        ("let", "expected let NAME = VALUE"),
        ("let N", "expected let NAME = VALUE"),
        ("let x == 3", "expected let NAME = VALUE"),
        ("let =", "let needs a name"),
        ("let 1N = 2", "not a valid parameter name"),
        ("let lambda = 2", "is a keyword"),
        ("let math = 2", "math module"),
        ("let N =", "needs a value"),
        ("let N = [1, 2]", "only supported as a pipeline source"),
        ("let N = 1 +", "expected an expression"),
        ("let N = Q + 1", "name 'Q' is not defined"),
        ("let N = 1 // 0", "ZeroDivisionError"),
        ("let N = 10**10**10", "too large"),
    ] {
        let o = piped(&format!("{line}\nlet Z = 7\nZ\n"));
        assert_eq!(stdout(&o), "7\n", "{line}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.starts_with("error: ") && e.contains(want), "{line}: {e}");
        assert_eq!(o.status.code(), Some(1), "{line}");
    }
}

#[test]
fn errors_print_with_a_caret_and_the_session_goes_on() {
    let o = piped(
        "range(10).map(x *).sum()\nrange(3).sum()\nrange(10).map(x // 0).sum()\n\
         range(4).sum()\nrange(10).map(y * 2).sum()\nrange(10)\nrange(5).sum()\n",
    );
    assert_eq!(stdout(&o), "3\n6\n10\n", "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("error:   × expected an expression at 1:18"),
        "{e}"
    );
    assert!(e.contains(" 1 │ range(10).map(x *).sum()"), "{e}");
    assert!(e.contains("   ·                  ─\n"), "the caret: {e}");
    assert!(
        e.contains("error: ZeroDivisionError: integer division or modulo by zero\n"),
        "{e}"
    );
    assert!(e.contains("name 'y' is not defined at 1:15"), "{e}");
    assert!(e.contains("the pipeline has no consumer"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    // Piped mode: some entry failed, so the exit status is 1.
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn multi_line_entries_continue_while_brackets_are_open() {
    let o = piped(
        "range(\n  10\n).map(\n  lambda v: v * 2  # doubled\n).collect()\n\
         [1, 2,\n\n 3].map(x + 1).sum()\n\
         range(5) \\\n  .sum()\n\
         :time range(\n3).sum()\n",
    );
    let out = stdout(&o);
    assert!(
        out.starts_with("[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]\n9\n10\n3\ncompile "),
        "{out}\n{}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A caret on the second line of a multi-line entry.
    let o = piped("(range(10)\n  .map(x *)\n  .sum())\n");
    let e = stderr(&o);
    assert!(
        e.contains("at 2:11") && e.contains(" 2 │   .map(x *)"),
        "{e}"
    );
    // An entry still open at the end of the input is run as it is: its error says so.
    let o = piped("range(3).sum()\nrange(10).map(x\n");
    assert_eq!(stdout(&o), "3\n");
    assert!(stderr(&o).contains("error:"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn every_command() {
    let o = piped(
        ":help\n:ast range(3).map(x * 2).sum()\n:ir range(10).map(x * 3).collect()\n\
         :clif range(10).map(x * 3).collect()\n:asm range(10).map(x * 3).collect()\n\
         :time range(0, 10**6).map(x * x).sum()\n:threads 3\n:threads\n\
         :time range(10**5).sum()\nlet N = 4\n:vars\n:reset\n:vars\n:threads\n\
         :ir range(N).sum()\n:quit\nrange(99).sum()\n",
    );
    let out = stdout(&o);
    let e = stderr(&o);
    // :help lists every command and says what the exit status is.
    for c in [
        ":ast",
        ":ir",
        ":clif",
        ":asm",
        ":time",
        ":bench",
        ":threads",
        ":vars",
        ":reset",
        ":help",
        ":quit",
        "let NAME",
        "exit status is 1",
    ] {
        assert!(out.contains(c), ":help lacks {c}: {out}");
    }
    assert!(
        out.contains("(call (attr (call (attr (call (name range)"),
        "{out}"
    );
    assert!(out.contains("map x.0: int -> (imul x.0 3) : int"), "{out}");
    assert!(out.contains("smul_overflow"), "clif: {out}");
    // :asm: the kernel's machine code, ending in a return (x86-64 `retq`, AArch64 `ret`).
    assert!(
        out.lines().any(|l| matches!(l.trim(), "ret" | "retq")),
        "asm: {out}"
    );
    assert!(out.contains("333332833333500000\ncompile "), "{out}");
    assert!(
        out.contains(" ms · run ")
            && out.contains("1000000 elements")
            && out.contains("elements/s"),
        "{out}"
    );
    assert!(out.contains("\n3\n4999950000\ncompile "), ":threads: {out}");
    assert!(out.contains("3 threads · 100000 elements"), "{out}");
    // :vars lists N before :reset, and nothing after it.
    assert_eq!(out.matches("N = 4\n").count(), 1, ":vars: {out}");
    // Piped: no prompt, no banner, no colour.
    for text in [&out, &e] {
        assert!(!text.contains("fastc>") && !text.contains("...>"), "{text}");
        assert!(!text.contains('\x1b'), "colour when piped: {text}");
        assert!(!text.contains("fastiter 0."), "a banner when piped: {text}");
    }
    // After :reset, N is gone (the :ir that uses it fails) and :vars prints nothing.
    assert!(e.contains("name 'N' is not defined"), "{e}");
    // :quit stops reading: range(99).sum() never runs.
    assert!(!out.contains("4851"), "{out}");
    assert_eq!(o.status.code(), Some(1), "the :ir after :reset failed: {e}");
}

#[test]
fn bench_compares_with_the_interpreter_and_cpython() {
    let o = piped("let N = 10**4\n:bench range(N).filter(x % 3 == 0).map(x * x).sum()\n");
    let out = stdout(&o);
    assert!(out.contains("value        111127776111\n"), "{out}");
    assert!(
        out.contains("compiled  ") && out.contains("best of"),
        "{out}"
    );
    assert!(
        out.contains("interpreter") && out.contains("than compiled"),
        "{out}"
    );
    let have_python = Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .is_ok_and(|s| s.success());
    if have_python {
        assert!(
            out.contains("CPython  ") && out.contains("same value"),
            "{out}"
        );
    } else {
        eprintln!("python3 not found: the CPython half of :bench is not checked");
    }
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Every consumer translates to Python and agrees with it.
    if have_python {
        for src in [
            "range(10, 0, -3).map(lambda v: v * 2).collect()",
            "[1.5, -2.0, 4.0].map(abs).max()",
            "range(100).map(math.sqrt).min()",
            "range(100).count()",
            "range(100).any(x > 98)",
            "range(100).all()",
            "range(1, 10).reduce(lambda: 1, lambda a, b: a * b)",
            "range(0).max()",
        ] {
            let o = piped(&format!(":bench {src}\n"));
            assert!(
                stdout(&o).contains("same value"),
                "{src}: {}{}",
                stdout(&o),
                stderr(&o)
            );
        }
    }
    // Without python3 on the PATH, :bench says so and still reports the rest.
    let o = piped_with(&[], b":bench range(100).sum()\n", &[("PATH", "")]);
    let out = stdout(&o);
    assert!(
        out.contains("interpreter") && out.contains("skipped"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(0));
    // An exception stops :bench before anything is timed.
    let o = piped(":bench range(10).map(x // 0).sum()\n");
    assert!(stderr(&o).contains("ZeroDivisionError"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn command_errors_are_helpful() {
    for (line, want) in [
        (":foo", "unknown command ':foo' (:help lists the commands)"),
        (":tiem range(3).sum()", "did you mean :time?"),
        (":bnech", "did you mean :bench?"),
        (":", "a command name must follow ':'"),
        (":ast", ":ast needs a pipeline"),
        (":time", ":time needs a pipeline"),
        (":bench 1 + 2", ":bench needs a pipeline"),
        (":threads 0", ":threads expects a whole number from 1"),
        (":threads lots", ":threads expects a whole number from 1"),
        (":threads 99999999999999999999999", ":threads expects"),
        (":vars x", ":vars takes no argument"),
        (":ast range(3))", "unmatched ')'"),
        (
            ":ir range(3).map(x << 1.5).sum()",
            "unsupported operand type(s) for <<",
        ),
        (":clif [1, 2.0].sum(1)", "takes no arguments"),
    ] {
        let o = piped(&format!("{line}\nrange(3).sum()\n"));
        assert_eq!(stdout(&o), "3\n", "{line}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{line}: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{line}");
    }
    // --emit belongs to one-shot use.
    let o = piped_with(&["--emit", "ir"], b"range(3).sum()\n", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(":ast, :ir, :clif and :asm"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cli_options_apply_to_the_repl() {
    let o = piped_with(
        &["--no-jit", "--time", "--threads", "2"],
        b"range(10**5).map(x * 2).sum()\n",
        &[],
    );
    let out = stdout(&o);
    assert!(out.starts_with("9999900000\ncompile "), "{out}");
    assert!(
        out.contains("2 threads") && out.contains("interpreted"),
        "{out}"
    );
    let o = piped_with(&["--threads", "0"], b"", &[]);
    assert_eq!(o.status.code(), Some(2));
    let help = Command::new(env!("CARGO_BIN_EXE_fastc"))
        .arg("--help")
        .output()
        .expect("fastc --help");
    let h = stdout(&help);
    assert!(
        h.contains("REPL") && h.contains("fastc repl") && h.contains(":bench"),
        "{h}"
    );
    assert!(h.contains("exits 1 at the end of input"), "{h}");
}

#[test]
fn no_input_makes_the_repl_panic() {
    let mut input: Vec<u8> = Vec::new();
    for line in [
        "",
        " ",
        "(",
        ")",
        ")))",
        "]",
        "range(",
        "range(10).",
        "range(10).sum()()",
        "lambda: 0",
        "1 +* 2",
        "'str'",
        "\"unterminated",
        "'(' ",
        "range(10).map(x ** x).sum()",
        "range(10, 0, 0).sum()",
        "range(10**30).sum()",
        "[1, 2.0].sum()",
        "[].sum()",
        "[[1]].sum()",
        "range(10).reduce(0).sum()",
        "range(10).foo()",
        "x",
        "None",
        "[]",
        "((((((((((1))))))))))",
        "range(10).map(math).sum()",
        "\u{7f}é∑",
        "\u{0}",
        "\t",
        "range(10).filter().sum()",
        ":",
        "::",
        ":::ast",
        ": help",
        ":help me",
        ":quit now",
        ":threads",
        ":threads -1",
        ":threads 1.5",
        ":ast \u{0}",
        ":ir x",
        ":clif 1",
        ":asm",
        ":time 1 + 1",
        ":bench (",
        ":bench [1, 2].foo()",
        "let",
        "let =",
        "let ==",
        "let = 3",
        "= 3",
        "==",
        "let N = = 3",
        "let N = N",
        "N",
        "let é = 1",
        "é",
        "let N = 1e400",
        "let N = -0.0",
        "N",
        "let N = math.nan",
        "range(3).map(x * N).collect()",
        "let N = math.inf",
        ":bench [1.0].map(x * N).sum()",
        "exit()",
        "help()",
        "quit()",
        "range(2**63 - 1, 2**63 + 2).sum()",
        "range(-10**30, 10**30).count()",
        "\\",
        "range(3) \\",
        ".sum()",
        "# only a comment",
        "#",
        "range(3).sum() # ok (",
    ] {
        // Each garbage line is followed by a closer, so that one left open ends there and
        // the next one starts a fresh entry.
        input.extend_from_slice(line.as_bytes());
        input.extend_from_slice(b"\n]\n");
    }
    input.extend_from_slice(b"\xff\xfe invalid utf-8 \xc3\x28\n");
    input.extend_from_slice(&"(".repeat(50_000).into_bytes());
    input.extend_from_slice(&")".repeat(50_000).into_bytes());
    input.push(b'\n');
    input.extend_from_slice(&"1 + ".repeat(20_000).into_bytes());
    input.extend_from_slice(b"1\n");
    input.extend_from_slice(b"]\nrange(7).sum()\n");
    let o = piped_with(&[], &input, &[]);
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "{e}");
    assert!(!e.contains("internal error"), "{e}");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).ends_with("\n21\n"), "{}", stdout(&o));
}

#[test]
fn run_repl_takes_any_reader_and_writers() {
    // Interactive: a banner and prompts (continuation prompts too) on `out`.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let opts = ReplOptions {
        interactive: true,
        bindings: vec![("N".into(), Value::int(10))],
        threads: Some(1),
        ..ReplOptions::default()
    };
    let input = &b"range(N).sum()\nrange(\n3).sum()\n:threads\nrange(10).map(x *).sum()\n"[..];
    let summary = run_repl(input, &mut out, &mut err, opts).expect("runs");
    let out = String::from_utf8(out).expect("utf-8");
    let err = String::from_utf8(err).expect("utf-8");
    assert!(out.starts_with("fastiter "), "{out}");
    assert!(
        out.contains("fastc> 45\nfastc>   ...> 3\nfastc> 1\nfastc> fastc> \n"),
        "{out:?}"
    );
    assert!(err.contains("expected an expression"), "{err}");
    assert_eq!((summary.entries, summary.failures), (4, 1));
    assert_eq!(summary.exit_code(), 0, "an interactive session exits 0");

    // Not interactive: results only; a failure makes the exit code 1.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let summary = run_repl(
        &b"let N = 3\nrange(N).sum()\n1 // 0\n"[..],
        &mut out,
        &mut err,
        ReplOptions::default(),
    )
    .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out), "3\n");
    assert!(String::from_utf8_lossy(&err).contains("ZeroDivisionError"));
    assert_eq!(summary.exit_code(), 1);
}

/// An interrupt flag, and the thread that sets it after `delay`.
fn set_after(delay: Duration) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = {
        let flag = Arc::clone(&flag);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            flag.store(true, Ordering::SeqCst);
        })
    };
    (flag, setter)
}

#[test]
fn the_interrupt_flag_cancels_a_long_run_and_the_session_goes_on() {
    let (flag, setter) = set_after(Duration::from_millis(500));
    let opts = ReplOptions {
        interrupt: Some(Arc::clone(&flag)),
        threads: Some(2),
        ..ReplOptions::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let t0 = Instant::now();
    let summary = run_repl(
        &b"range(0, 10**12).map(x * x % 7).sum()\n"[..],
        &mut out,
        &mut err,
        opts.clone(),
    )
    .expect("runs");
    setter.join().expect("setter");
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_eq!(String::from_utf8_lossy(&out), "");
    assert!(
        String::from_utf8_lossy(&err).starts_with("KeyboardInterrupt"),
        "{}",
        String::from_utf8_lossy(&err)
    );
    assert_eq!(summary.failures, 1);
    // The flag is the caller's to clear; once clear, the next entries run.
    flag.store(false, Ordering::SeqCst);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_repl(&b"range(5).sum()\n"[..], &mut out, &mut err, opts).expect("runs");
    assert_eq!(String::from_utf8_lossy(&out), "10\n");
}

#[test]
fn the_interrupt_flag_stops_a_loop_inside_one_element() {
    // Four elements, each a nested loop of 10**15 steps: no chunk boundary comes in time; the
    // kernel's own loop polls the flag.
    let (flag, setter) = set_after(Duration::from_millis(300));
    let opts = ReplOptions {
        interrupt: Some(Arc::clone(&flag)),
        threads: Some(2),
        ..ReplOptions::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let t0 = Instant::now();
    let summary = run_repl(
        &b"range(0, 4).map(lambda k: range(0, 10**15).filter(lambda j: j * j % 1000003 == 1000004 + k).count()).sum()\n"[..],
        &mut out,
        &mut err,
        opts,
    )
    .expect("runs");
    setter.join().expect("setter");
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert!(
        String::from_utf8_lossy(&err).starts_with("KeyboardInterrupt"),
        "{}",
        String::from_utf8_lossy(&err)
    );
    assert_eq!(summary.failures, 1);
}

/// `fastc` running in a pseudo-terminal of its own (rexpect), with everything it wrote kept and
/// rendered as the lines a terminal would show (carriage returns, cursor moves and line clears
/// applied), so that each wait looks at the whole session rather than sleeping. The process is
/// killed on drop.
#[cfg(unix)]
struct Term {
    session: rexpect::session::PtySession,
    /// Every byte `fastc` wrote, escape sequences included.
    raw: Vec<u8>,
}

#[cfg(unix)]
impl Term {
    /// How long any one wait may take: generous, for a slow, loaded machine.
    const WAIT: Duration = Duration::from_secs(120);

    fn start(state: &Path) -> Term {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fastc"));
        cmd.env("XDG_STATE_HOME", state)
            .env("HOME", state)
            .env("TERM", "xterm")
            .env("FASTITER_NUM_THREADS", "2")
            .env_remove("NO_COLOR");
        let opts = rexpect::reader::Options::new().timeout_ms(Some(Self::WAIT.as_millis() as u64));
        let session = rexpect::spawn_with_options(cmd, opts).expect("fastc starts in a pty");
        Term {
            session,
            raw: Vec::new(),
        }
    }

    /// Take in whatever `fastc` has written so far.
    fn pump(&mut self) {
        // The reader hands bytes over one at a time, each as a char.
        while let Some(c) = self.session.try_read() {
            self.raw.push(c as u32 as u8);
        }
    }

    /// Type `text` (no Enter).
    fn send(&mut self, text: &str) {
        self.session.send(text).expect("write to the pty");
        self.session.flush().expect("flush the pty");
    }

    /// Type `text`, then Enter.
    fn line(&mut self, text: &str) {
        self.send(text);
        self.send("\r");
    }

    /// The terminal's lines so far, from the first, without trailing blanks.
    fn screen(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let mut lines = Vec::new();
        let mut cur: Vec<char> = Vec::new();
        let mut col = 0usize;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => col = 0,
                '\n' => {
                    lines.push(cur.iter().collect::<String>().trim_end().to_string());
                    cur.clear();
                    col = 0;
                }
                '\x08' => col = col.saturating_sub(1),
                '\x1b' => {
                    // CSI: ESC [ parameters final-byte; other escapes are two bytes.
                    if chars.peek() != Some(&'[') {
                        chars.next();
                        continue;
                    }
                    chars.next();
                    let mut params = String::new();
                    let mut fin = None;
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            fin = Some(c);
                            break;
                        }
                        params.push(c);
                    }
                    let n = params.parse::<usize>().unwrap_or(1).max(1);
                    match fin {
                        Some('C') => col += n,
                        Some('D') => col = col.saturating_sub(n),
                        Some('G') => col = n - 1,
                        Some('K') if params.is_empty() || params == "0" => cur.truncate(col),
                        _ => {}
                    }
                }
                c if c.is_control() => {}
                c => {
                    if cur.len() < col {
                        cur.resize(col, ' ');
                    }
                    if col < cur.len() {
                        cur[col] = c;
                    } else {
                        cur.push(c);
                    }
                    col += 1;
                }
            }
        }
        lines.push(cur.iter().collect::<String>().trim_end().to_string());
        lines
    }

    /// Wait until `ok(screen)`, or fail showing the screen.
    fn wait_for(&mut self, what: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            self.pump();
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if t0.elapsed() > Self::WAIT {
                panic!(
                    "timed out waiting for {what}; the screen:\n{}",
                    s.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the process to exit; its exit code.
    fn wait_exit(&mut self) -> i32 {
        use rexpect::process::WaitStatus;
        let t0 = Instant::now();
        loop {
            self.pump();
            match self.session.process().status() {
                Some(WaitStatus::Exited(_, code)) => return code,
                Some(WaitStatus::StillAlive) if t0.elapsed() < Self::WAIT => {}
                other => panic!(
                    "fastc did not exit ({other:?}); the screen:\n{}",
                    self.screen().join("\n")
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines that start with the prompt.
    fn prompts(s: &[String]) -> usize {
        s.iter().filter(|l| l.starts_with("fastc>")).count()
    }

    fn count(s: &[String], line: &str) -> usize {
        s.iter().filter(|l| *l == line).count()
    }

    fn has_line(s: &[String], line: &str) -> bool {
        Self::count(s, line) > 0
    }

    /// Whether the cursor is at a fresh, empty prompt (nothing typed on the last line).
    fn at_prompt(s: &[String]) -> bool {
        s.last().is_some_and(|l| l == "fastc>")
    }
}

#[cfg(unix)]
#[test]
fn terminal_session_prompt_history_and_ctrl_c() {
    let state = temp_dir("pty");
    let mut t = Term::start(&state);
    let s = t.wait_for("the banner and the prompt", |s| {
        Term::prompts(s) == 1 && Term::at_prompt(s)
    });
    assert!(
        s[0].starts_with("fastiter ") && s[0].contains(":help"),
        "the banner: {s:?}"
    );
    assert_eq!(s.len(), 2, "the banner, then the prompt: {s:?}");

    // `let` shows the binding; a pipeline shows its value.
    t.line("let N = 10");
    t.wait_for("the binding", |s| Term::has_line(s, "N = 10"));
    t.line("range(N).map(x * 3).sum()");
    let s = t.wait_for("the value", |s| {
        Term::has_line(s, "135") && Term::prompts(s) == 3 && Term::at_prompt(s)
    });
    assert!(
        Term::has_line(&s, "fastc> range(N).map(x * 3).sum()"),
        "{s:?}"
    );

    // Up recalls the previous line; Enter runs it again.
    t.send("\x1b[A");
    t.wait_for("the recalled line", |s| {
        s.last()
            .is_some_and(|l| l == "fastc> range(N).map(x * 3).sum()")
    });
    t.send("\r");
    t.wait_for("the value again", |s| {
        Term::count(s, "135") == 2 && Term::at_prompt(s)
    });

    // An open bracket continues on the next line, with its own prompt.
    t.line("range(");
    t.wait_for("the continuation prompt", |s| {
        s.last().is_some_and(|l| l == "...>") || s.last().is_some_and(|l| l == "  ...>")
    });
    t.line("4).sum()");
    t.wait_for("the multi-line value", |s| {
        Term::has_line(s, "6") && Term::at_prompt(s)
    });

    // Ctrl-C drops the line being typed: no value, a fresh prompt.
    let before = Term::prompts(&t.screen());
    t.send("range(1000).sum()");
    t.wait_for("the typed line", |s| {
        s.last().is_some_and(|l| l == "fastc> range(1000).sum()")
    });
    t.send("\x03");
    let s = t.wait_for("a fresh prompt after Ctrl-C", |s| {
        Term::prompts(s) == before + 1 && Term::at_prompt(s)
    });
    assert!(!Term::has_line(&s, "499500"), "the line ran: {s:?}");

    // Ctrl-C cancels a long run and returns to the prompt. The line is sent, and once the
    // terminal shows it ended (fastc left line editing, so Ctrl-C is a signal again) Ctrl-C is
    // pressed, again every few seconds until fastc reports the interrupt: a Ctrl-C that arrives
    // just before line editing ended is read as a key and only cancels the next prompt's line.
    let long = "range(0, 10**12).map(x * x).sum()";
    t.line(long);
    let entered = format!("fastc> {long}");
    t.wait_for("the long entry to start", |s| {
        s.len() >= 2 && s[s.len() - 2] == entered
    });
    let t0 = Instant::now();
    loop {
        t.send("\x03");
        let tick = Instant::now();
        let mut seen = false;
        while tick.elapsed() < Duration::from_secs(5) {
            t.pump();
            if String::from_utf8_lossy(&t.raw).contains("KeyboardInterrupt") {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if seen {
            break;
        }
        assert!(
            t0.elapsed() < Term::WAIT,
            "Ctrl-C did not cancel the run; the screen:\n{}",
            t.screen().join("\n")
        );
    }
    let s = t.wait_for("a prompt after the interrupt", Term::at_prompt);
    assert!(
        s.iter().any(|l| l.starts_with("KeyboardInterrupt")),
        "{s:?}"
    );
    // The REPL is still there and runs the next entry.
    t.line("range(7).map(x * 11).sum()");
    t.wait_for("the REPL still running", |s| {
        Term::has_line(s, "231") && Term::at_prompt(s)
    });

    // An error shows its caret (and, on a terminal, a red `error:`); the session goes on.
    t.line("range(10).map(x *).sum()");
    let s = t.wait_for("the caret", |s| {
        s.iter()
            .any(|l| l.ends_with("expected an expression at 1:18"))
            && Term::at_prompt(s)
    });
    assert!(
        Term::has_line(&s, "   ·                  ─"),
        "the caret: {s:?}"
    );
    assert!(
        String::from_utf8_lossy(&t.raw).contains("\x1b[1;31merror:\x1b[0m"),
        "error: in red on a terminal"
    );
    // Commands work on the terminal too.
    t.line(":vars");
    t.wait_for(":vars", |s| {
        Term::count(s, "N = 10") == 2 && Term::at_prompt(s)
    });

    // Ctrl-D leaves, with status 0 (an interactive session exits 0 even after errors).
    t.send("\x04");
    assert_eq!(t.wait_exit(), 0);
    drop(t);

    // The history persisted, without the line Ctrl-C dropped.
    let hist = std::fs::read_to_string(state.join("fastiter").join("history")).expect("history");
    assert!(
        hist.contains("let N = 10") && hist.contains("range(N).map(x * 3).sum()"),
        "{hist}"
    );
    assert!(
        !hist.contains("range(1000).sum()"),
        "a cancelled line is not history: {hist}"
    );
    // A new session recalls the entries of the previous one with Up, most recent first, and
    // runs a recalled one; `N` was not kept, only the history.
    let mut t = Term::start(&state);
    t.wait_for("the prompt", Term::at_prompt);
    t.send("\x1b[A");
    t.wait_for("the last entry of the previous session", |s| {
        s.last().is_some_and(|l| l == "fastc> :vars")
    });
    t.send("\x1b[A");
    t.wait_for("the entry before it", |s| {
        s.last()
            .is_some_and(|l| l == "fastc> range(10).map(x *).sum()")
    });
    t.send("\x1b[A");
    t.wait_for("the entry before that", |s| {
        s.last()
            .is_some_and(|l| l == "fastc> range(7).map(x * 11).sum()")
    });
    t.send("\r");
    t.wait_for("the recalled entry's value", |s| {
        Term::has_line(s, "231") && Term::at_prompt(s)
    });
    t.line(":quit");
    assert_eq!(t.wait_exit(), 0);
    drop(t);
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn def_blocks_define_functions_for_later_pipelines() {
    let script =
        "def f(x):\n    r = x\n    for _ in range(3):\n        r = r * 2 + 1\n    return r\n\n\
                  range(5).map(f).collect()\n\
                  let K = 3\n\
                  range(5).map(lambda x: f(x) + K).sum()\n\
                  def f(x):\n    return -x\n\n\
                  range(5).map(f).sum()\n\
                  :vars\n";
    let o = piped(script);
    assert_eq!(
        stdout(&o),
        "[7, 15, 23, 31, 39]\n130\n-10\nK = 3\ndef f(x):\n",
        "{}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A bad block is an error with a caret; :reset forgets functions.
    let o = piped(
        "def g(x)\n    return x\n\ndef h(x):\n    return x\n\n:reset\nrange(3).map(h).sum()\n",
    );
    let err = stderr(&o);
    assert!(
        err.contains("error:") && err.contains('^') || err.contains('─'),
        "{err}"
    );
    assert!(err.contains("name 'h' is not defined"), "{err}");
    assert_eq!(o.status.code(), Some(1));
}
