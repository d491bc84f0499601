//! The `fastc` REPL: type a pipeline and see its value, bind parameters with `let`, look at what
//! the compiler made of a pipeline (`:ast`, `:ir`, `:clif`, `:asm`), time it (`:time`) and compare
//! it with the reference interpreter and CPython (`:bench`).
//!
//! Two drivers share one [`Session`]:
//! - [`run_terminal`]: a real terminal, with rustyline line editing, persistent history, a
//!   continuation prompt while brackets are open, Ctrl-C to drop the input line or cancel a run,
//!   and Ctrl-D to leave.
//! - [`run_repl`]: any `BufRead` input and `Write` outputs (piped input, the Python package, tests).
//!   Without `interactive` it prints nothing but results on `out` and errors on `err`.
//!
//! Every entry is compiled and run on a worker thread, so that a run can be cancelled from the
//! prompt's thread (through [`ReplOptions::interrupt`]) even while the runtime is inside a long
//! chunk, and so that no entry can take the REPL down.

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::ir::{self, ParamInfo};
use crate::syntax::ast::{self, Expr, ExprKind};
use crate::{CodegenOptions, ExecError, RunOptions, RunStats, Value};

/// The first-line prompt.
pub const PROMPT: &str = "fastc> ";
/// The prompt for a line that continues an entry whose brackets are still open.
pub const CONTINUATION_PROMPT: &str = "  ...> ";

/// How long `:time` and `:bench` repeat a fast run (the best time is reported).
const BENCH_BUDGET: Duration = Duration::from_millis(250);
const BENCH_MAX_REPS: usize = 10;

/// The most worker threads `:threads` accepts.
const MAX_THREADS: usize = 1024;

/// The text of `:help`.
pub const HELP: &str = "\
Type a pipeline to run it; its value prints in Python's repr:
  range(0, N).filter(x % 2 == 0).map(x * x).sum()
An entry goes on over several lines while a bracket is open (or a line ends with \\).

  let NAME = VALUE   bind a parameter that every later pipeline sees; VALUE is a number
                     expression (10**7, -1.5, True) and may use earlier bindings
  NAME               show a binding's value (any constant expression prints its value)
  :ast EXPR          the parsed syntax tree
  :ir EXPR           the typed, optimised fastiter IR
  :clif EXPR         the Cranelift IR of the kernel
  :asm EXPR          the kernel's machine code
  :time EXPR         run it, with compile and run times, threads and elements per second
  :bench EXPR        compiled vs the reference interpreter vs CPython (python3 on the PATH)
  :threads [N]       show or set the number of worker threads
  def f(x): ...       define a function (its body indented, ended by a blank line) that
                     later pipelines use: range(10).map(f).sum()
  :vars              list the bindings and functions
  :reset             forget every binding and function; threads back to the default
  :help              this text
  :quit              leave (also Ctrl-D)

Sources: range(stop), range(start, stop[, step]), [list, of, numbers]
Stages: map(f), filter(f)   f is an expression over x, lambda v: ..., abs, math.sqrt, ...
Consumers: sum() count() min() max() any([f]) all([f]) reduce(identity, lambda a, b: ...) collect()

Ctrl-C drops the input line, or cancels the pipeline that is running; Ctrl-D leaves.
With input piped (stdin or stdout not a terminal) there is no prompt, banner or colour: results
go to stdout, errors to stderr, and at the end of input the exit status is 1 if any entry
failed, else 0. History is kept in $XDG_STATE_HOME/fastiter/history (else ~/.fastc_history).";

/// How a REPL runs.
#[derive(Debug, Clone)]
pub struct ReplOptions {
    /// Print a banner and prompts on `out` (and, for [`run_terminal`], edit lines with rustyline).
    /// When false, `out` gets results only.
    pub interactive: bool,
    /// Colour `error:` in red on `err`.
    pub color: bool,
    /// Worker threads (None: `FASTITER_NUM_THREADS`, else the number of CPUs).
    pub threads: Option<usize>,
    /// Run compiled kernels (false: the reference interpreter only).
    pub jit: bool,
    /// Print the compile and run times after every pipeline's value.
    pub time: bool,
    /// Set (for example by a SIGINT handler) to cancel the entry that is running. The REPL
    /// clears it before each entry.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// The CPython that `:bench` compares with (None: `python3` on the PATH).
    pub python: Option<PathBuf>,
    /// Parameters bound before the first entry (`fastc -D N=10`).
    pub bindings: Vec<(String, Value)>,
}

impl Default for ReplOptions {
    fn default() -> Self {
        ReplOptions {
            interactive: false,
            color: false,
            threads: None,
            jit: true,
            time: false,
            interrupt: None,
            python: None,
            bindings: Vec::new(),
        }
    }
}

/// How a REPL session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplSummary {
    /// Entries that printed an error (or were cancelled).
    pub failures: usize,
    /// Entries read (blank lines and comments not counted).
    pub entries: usize,
    /// Whether the session was interactive.
    pub interactive: bool,
}

impl ReplSummary {
    /// The process exit status `fastc` uses: 0, except 1 for a non-interactive session in
    /// which some entry failed (so that scripts notice).
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.interactive && self.failures > 0)
    }
}

/// Whether the session goes on after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Quit,
}

/// Run a REPL over `input`, with results on `out` and errors on `err`, until the end of the
/// input or `:quit`. With `opts.interactive` it prints a banner and prompts on `out` (but edits
/// no lines: [`run_terminal`] does that). Returns an error only when writing to `out` fails.
pub fn run_repl<R: BufRead, W: Write, E: Write>(
    mut input: R,
    mut out: W,
    mut err: E,
    opts: ReplOptions,
) -> io::Result<ReplSummary> {
    let interactive = opts.interactive;
    let mut session = Session::new(opts);
    if interactive {
        writeln!(out, "{}", banner())?;
    }
    let mut text = String::new();
    let mut line = Vec::new();
    loop {
        if interactive {
            out.write_all(if text.is_empty() {
                PROMPT.as_bytes()
            } else {
                CONTINUATION_PROMPT.as_bytes()
            })?;
            out.flush()?;
        }
        line.clear();
        let n = match input.read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = writeln!(err, "error: cannot read the input: {e}");
                session.failures += 1;
                0
            }
        };
        if n == 0 {
            // End of input: an entry left open is run as it is (its error says what is missing).
            if !text.trim().is_empty() && session.entry(&text, &mut out, &mut err)? == Control::Quit
            {
                break;
            }
            if interactive {
                writeln!(out)?;
            }
            break;
        }
        let s = String::from_utf8_lossy(&line);
        let s = s.strip_suffix('\n').unwrap_or(&s);
        let s = s.strip_suffix('\r').unwrap_or(s);
        text.push_str(s);
        if needs_more_input(&text) {
            text.push('\n');
            continue;
        }
        let entry = std::mem::take(&mut text);
        if session.entry(&entry, &mut out, &mut err)? == Control::Quit {
            break;
        }
    }
    out.flush()?;
    Ok(session.summary())
}

/// Run the REPL on the terminal (stdin, stdout, stderr) with rustyline: line editing, history
/// kept in [`history_path`], a continuation prompt while brackets are open, Ctrl-C to drop the
/// input line, Ctrl-D to leave. Cancelling a *running* pipeline with Ctrl-C needs a SIGINT
/// handler that sets `opts.interrupt` (the terminal is in its ordinary mode while a pipeline
/// runs); `fastc` installs one. Falls back to [`run_repl`] when rustyline cannot start.
pub fn run_terminal(mut opts: ReplOptions) -> io::Result<ReplSummary> {
    use rustyline::error::ReadlineError;
    use rustyline::history::{FileHistory, History};
    use rustyline::{Config, Editor};

    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)
        .and_then(|c| c.max_history_size(10_000))
        .map(|c| c.build());
    let editor = config.and_then(Editor::<(), FileHistory>::with_config);
    let mut rl = match editor {
        Ok(rl) => rl,
        Err(_) => {
            opts.interactive = true;
            return run_repl(io::stdin().lock(), io::stdout(), io::stderr(), opts);
        }
    };
    let history = history_path();
    if let Some(p) = &history {
        if p.exists() {
            let _ = rl.load_history(p);
        }
    }
    let interrupt = opts.interrupt.clone();
    opts.interactive = true;
    let mut session = Session::new(opts);
    let mut out = io::stdout();
    let mut err = io::stderr();
    writeln!(out, "{}", banner())?;
    'session: loop {
        let mut text = String::new();
        loop {
            let prompt = if text.is_empty() {
                PROMPT
            } else {
                CONTINUATION_PROMPT
            };
            match rl.readline(prompt) {
                Ok(line) => {
                    text.push_str(&line);
                    if !needs_more_input(&text) {
                        break;
                    }
                    text.push('\n');
                }
                Err(ReadlineError::Interrupted) => {
                    // Ctrl-C: drop the input, a fresh prompt.
                    continue 'session;
                }
                Err(ReadlineError::Eof) => break 'session,
                Err(e) => {
                    writeln!(err, "error: cannot read the terminal: {e}")?;
                    break 'session;
                }
            }
        }
        if !text.trim().is_empty() && rl.history_mut().add(&text).unwrap_or(false) {
            if let Some(p) = &history {
                let _ = rl.append_history(p);
            }
        }
        if let Some(flag) = &interrupt {
            flag.store(false, Ordering::SeqCst);
        }
        if session.entry(&text, &mut out, &mut err)? == Control::Quit {
            break;
        }
    }
    Ok(session.summary())
}

/// Where the REPL keeps its history: `$XDG_STATE_HOME/fastiter/history` when `XDG_STATE_HOME` is
/// set (the folder is created), else `~/.fastc_history`. None when neither can be had; a history
/// file that cannot be written is ignored.
pub fn history_path() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(state) = non_empty("XDG_STATE_HOME") {
        let dir = Path::new(&state).join("fastiter");
        if dir.is_absolute() && std::fs::create_dir_all(&dir).is_ok() {
            return Some(dir.join("history"));
        }
    }
    non_empty("HOME").map(|h| Path::new(&h).join(".fastc_history"))
}

fn banner() -> String {
    format!(
        "fastiter {} · type a pipeline, :help for commands, Ctrl-D to leave",
        env!("CARGO_PKG_VERSION")
    )
}

/// Whether `text` is an entry still open: a bracket not closed yet (outside comments and
/// quotes), or a last line ending with a backslash.
pub fn needs_more_input(text: &str) -> bool {
    // A `def` block goes on until a blank line, as in Python's REPL.
    if starts_def(text.trim_start()) {
        let last = text.rsplit('\n').next().unwrap_or("");
        return text.contains('\n') && !last.trim().is_empty() || !text.contains('\n');
    }
    let mut depth: i64 = 0;
    let mut chars = text.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q || c == '\n' {
                quote = None;
            }
            continue;
        }
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth < 0 {
                    // A stray closer: nothing more can make this entry right.
                    return false;
                }
            }
            _ => {}
        }
    }
    let last = text.rsplit('\n').next().unwrap_or("");
    depth > 0 || (!last.contains('#') && last.trim_end().ends_with('\\'))
}

/// Whether an entry starts a function definition.
fn starts_def(text: &str) -> bool {
    text.strip_prefix("def")
        .is_some_and(|r| r.starts_with(|c: char| c.is_whitespace()))
}

/// Whether `text` holds nothing but blanks and comments.
fn is_blank(text: &str) -> bool {
    text.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

/// Why an entry printed no value.
enum Fail {
    /// Printed as `error: MESSAGE`.
    Error(String),
    /// Ctrl-C.
    Interrupted,
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Error(s)
    }
}

fn compile_fail(src: &str, e: crate::Error) -> Fail {
    match e {
        crate::Error::Compile(c) => Fail::Error(c.render(src)),
        other => Fail::Error(other.to_string()),
    }
}

fn exec_fail(e: ExecError) -> Fail {
    match e {
        ExecError::Cancelled => Fail::Interrupted,
        other => Fail::Error(other.to_string()),
    }
}

/// The state of one REPL: bindings, thread count, options, and the count of failed entries.
pub struct Session {
    bindings: Vec<(String, Value)>,
    /// Functions defined so far (`def f(x): ...`), by name, with their source; every later
    /// pipeline is compiled with them in front.
    defs: Vec<(String, String)>,
    threads: usize,
    default_threads: usize,
    jit: bool,
    time: bool,
    color: bool,
    interactive: bool,
    interrupt: Option<Arc<AtomicBool>>,
    python: Option<PathBuf>,
    /// Cancelled runs still finishing their current chunk.
    background: Vec<JoinHandle<()>>,
    failures: usize,
    entries: usize,
}

impl Session {
    pub fn new(opts: ReplOptions) -> Session {
        let default_threads = opts
            .threads
            .filter(|n| *n > 0)
            .unwrap_or_else(fastiter_runtime::get_num_threads)
            .max(1);
        Session {
            bindings: opts.bindings,
            defs: Vec::new(),
            threads: default_threads,
            default_threads,
            jit: opts.jit,
            time: opts.time,
            color: opts.color,
            interactive: opts.interactive,
            interrupt: opts.interrupt,
            python: opts.python,
            background: Vec::new(),
            failures: 0,
            entries: 0,
        }
    }

    pub fn summary(&self) -> ReplSummary {
        ReplSummary {
            failures: self.failures,
            entries: self.entries,
            interactive: self.interactive,
        }
    }

    /// The bindings, in the order they were first made.
    pub fn bindings(&self) -> &[(String, Value)] {
        &self.bindings
    }

    /// Run one complete entry (a pipeline, a constant, `let`, or a `:command`). Errors go to
    /// `err` and the session carries on; only a failed write to `out` is returned as an error.
    pub fn entry(
        &mut self,
        text: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<Control> {
        if is_blank(text) {
            return Ok(Control::Continue);
        }
        self.entries += 1;
        self.background.retain(|h| !h.is_finished());
        let trimmed = text.trim();
        let result = if let Some(cmd) = trimmed.strip_prefix(':') {
            self.command(cmd, out, err)
        } else if starts_def(trimmed) {
            self.define(text, err).map(|_| Control::Continue)
        } else if let Some(binding) = split_let(trimmed) {
            match binding {
                Ok((name, value)) => self.let_binding(name, value, out, err),
                Err(m) => self.error(err, &m).map(|_| Control::Continue),
            }
        } else if matches!(trimmed, "quit" | "exit") && self.lookup(trimmed).is_none() {
            return Ok(Control::Quit);
        } else if trimmed == "help" && self.lookup(trimmed).is_none() {
            writeln!(out, "{HELP}").map(|_| Control::Continue)
        } else {
            self.evaluate(text, false, out, err)
                .map(|_| Control::Continue)
        };
        out.flush()?;
        result
    }

    /// `def NAME(...): ...` (the whole block): checked by the parser, then kept for every later
    /// pipeline. A new definition of a name replaces the old one.
    fn define(&mut self, text: &str, err: &mut dyn Write) -> io::Result<()> {
        let text = text.trim_end().to_string();
        let probe = format!("{text}\nrange(0).count()");
        match crate::syntax::parse_program(&probe) {
            Ok(p) if !p.defs.is_empty() => {
                let name = p.defs[0].name.name.clone();
                self.defs.retain(|(n, _)| *n != name);
                self.defs.push((name, text));
                Ok(())
            }
            Ok(_) => self.error(err, "expected `def NAME(PARAMS):` and an indented body"),
            Err(e) => self.error(err, &e.render(&probe)),
        }
    }

    /// The text the compiler sees for `src`: the session's functions, then the pipeline.
    fn program(&self, src: &str) -> String {
        let mut text = String::new();
        for (_, d) in &self.defs {
            text.push_str(d);
            text.push('\n');
        }
        text.push_str(src);
        text
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn params(&self) -> (Vec<ParamInfo>, Vec<Value>) {
        let infos = self
            .bindings
            .iter()
            .map(|(n, v)| ParamInfo {
                name: n.clone(),
                ty: v.ty().unwrap_or(ir::Type::Int),
            })
            .collect();
        let values = self.bindings.iter().map(|(_, v)| v.clone()).collect();
        (infos, values)
    }

    fn error(&mut self, err: &mut dyn Write, message: &str) -> io::Result<()> {
        self.failures += 1;
        if self.color {
            writeln!(err, "\x1b[1;31merror:\x1b[0m {message}")
        } else {
            writeln!(err, "error: {message}")
        }
    }

    fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// Run `f` on a worker thread, cancellable: when the interrupt flag is set, `f`'s cancel flag
    /// is set and, if `f` does not return promptly (a chunk runs to its end before the runtime
    /// looks at the flag), it is left to finish in the background. Prints the failure, if any.
    fn job<T: Send + 'static>(
        &mut self,
        err: &mut dyn Write,
        f: impl FnOnce(&AtomicBool) -> Result<T, Fail> + Send + 'static,
    ) -> io::Result<Option<T>> {
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = Arc::clone(&cancel);
        let spawned = std::thread::Builder::new()
            .name("fastc-run".into())
            .stack_size(64 << 20)
            .spawn(move || {
                let _ = tx.send(f(&flag));
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                self.error(err, &format!("cannot start a thread: {e}"))?;
                return Ok(None);
            }
        };
        let result = loop {
            match rx.recv_timeout(Duration::from_millis(10)) {
                Ok(r) => break Some(r),
                Err(mpsc::RecvTimeoutError::Disconnected) => break None,
                Err(mpsc::RecvTimeoutError::Timeout) if self.interrupted() => {
                    cancel.store(true, Ordering::SeqCst);
                    if let Err(mpsc::RecvTimeoutError::Timeout) =
                        rx.recv_timeout(Duration::from_millis(300))
                    {
                        self.background.push(handle);
                        self.failures += 1;
                        writeln!(
                            err,
                            "KeyboardInterrupt (the run stops at the end of its current chunk)"
                        )?;
                        return Ok(None);
                    }
                    break Some(Err(Fail::Interrupted));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        };
        // The thread has sent its result (or panicked): it is ending.
        let _ = handle.join();
        match result {
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(Fail::Error(m))) => {
                self.error(err, &m)?;
                Ok(None)
            }
            Some(Err(Fail::Interrupted)) => {
                self.failures += 1;
                writeln!(err, "KeyboardInterrupt")?;
                Ok(None)
            }
            None => {
                self.error(err, "internal error: the compiler panicked on this entry")?;
                Ok(None)
            }
        }
    }

    fn command(
        &mut self,
        cmd: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<Control> {
        let (name, rest) = match cmd.find(char::is_whitespace) {
            Some(i) => (&cmd[..i], cmd[i..].trim()),
            None => (cmd, ""),
        };
        let needs_expr = matches!(
            name,
            "ast" | "ir" | "clif" | "asm" | "time" | "bench" | "t" | "b"
        );
        if needs_expr && rest.is_empty() {
            self.error(
                err,
                &format!(":{name} needs a pipeline, e.g. :{name} range(10).map(x * x).sum()"),
            )?;
            return Ok(Control::Continue);
        }
        let takes_nothing = matches!(
            name,
            "help" | "h" | "?" | "vars" | "reset" | "quit" | "q" | "exit"
        );
        if takes_nothing && !rest.is_empty() {
            self.error(err, &format!(":{name} takes no argument"))?;
            return Ok(Control::Continue);
        }
        match name {
            "help" | "h" | "?" => writeln!(out, "{HELP}")?,
            "quit" | "q" | "exit" => return Ok(Control::Quit),
            "vars" => {
                if self.bindings.is_empty() && self.interactive {
                    writeln!(out, "(no bindings: `let N = 10**7` makes one)")?;
                }
                for (n, v) in &self.bindings {
                    writeln!(out, "{n} = {v}")?;
                }
                for (_, d) in &self.defs {
                    writeln!(out, "{}", d.lines().next().unwrap_or_default().trim_end())?;
                }
            }
            "reset" => {
                self.bindings.clear();
                self.defs.clear();
                self.threads = self.default_threads;
                if self.interactive {
                    writeln!(
                        out,
                        "bindings cleared; {} thread{}",
                        self.threads,
                        plural(self.threads)
                    )?;
                }
            }
            "threads" => {
                if rest.is_empty() {
                    writeln!(out, "{}", self.threads)?;
                } else {
                    match rest.parse::<usize>() {
                        Ok(n) if (1..=MAX_THREADS).contains(&n) => {
                            self.threads = n;
                            if self.interactive {
                                writeln!(out, "{n} thread{}", plural(n))?;
                            }
                        }
                        _ => self.error(
                            err,
                            &format!(
                                ":threads expects a whole number from 1 to {MAX_THREADS}, got '{rest}'"
                            ),
                        )?,
                    }
                }
            }
            "ast" => self.show_ast(rest, out, err)?,
            "ir" | "clif" | "asm" => self.show_stage(name, rest, out, err)?,
            "time" | "t" => self.evaluate(rest, true, out, err)?,
            "bench" | "b" => self.bench(rest, out, err)?,
            "" => self.error(err, "a command name must follow ':' (:help lists them)")?,
            other => {
                let msg = match closest_command(other) {
                    Some(c) => format!(
                        "unknown command ':{other}'; did you mean :{c}? (:help lists the commands)"
                    ),
                    None => format!("unknown command ':{other}' (:help lists the commands)"),
                };
                self.error(err, &msg)?;
            }
        }
        Ok(Control::Continue)
    }

    fn let_binding(
        &mut self,
        name: &str,
        value: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<Control> {
        if let Some(problem) = bad_name(name) {
            self.error(err, &problem)?;
            return Ok(Control::Continue);
        }
        if value.trim().is_empty() {
            self.error(
                err,
                &format!("let {name} = ... needs a value, e.g. let {name} = 10**7"),
            )?;
            return Ok(Control::Continue);
        }
        let Some(v) = self.constant(value, err)? else {
            return Ok(Control::Continue);
        };
        if v.ty().is_none() {
            self.error(
                err,
                &format!("{name} must be an int, float or bool to be a parameter, not {v}"),
            )?;
            return Ok(Control::Continue);
        }
        match self.bindings.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v.clone(),
            None => self.bindings.push((name.to_string(), v.clone())),
        }
        if self.interactive {
            writeln!(out, "{name} = {v}")?;
        }
        Ok(Control::Continue)
    }

    /// Evaluate a constant expression over the bindings (`10**7`, `N * 2`, `math.pi`).
    fn constant(&mut self, src: &str, err: &mut dyn Write) -> io::Result<Option<Value>> {
        let (infos, values) = self.params();
        let src = src.to_string();
        self.job(err, move |cancel| {
            eval_constant_with(&src, &infos, &values, cancel)
        })
    }

    /// Run a pipeline (or show a constant's value), printing its value, and its times when
    /// `timed` (or `--time`).
    fn evaluate(
        &mut self,
        src: &str,
        timed: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let ast = match crate::syntax::parse(src) {
            Ok(a) => a,
            Err(e) => return self.error(err, &e.render(src)),
        };
        if !is_pipeline(&ast) {
            if let Some(v) = self.constant(src, err)? {
                writeln!(out, "{v}")?;
            }
            return Ok(());
        }
        let (infos, values) = self.params();
        let (threads, jit) = (self.threads, self.jit);
        let text = self.program(src);
        let report = self.job(err, move |cancel| {
            let c = crate::compile(&text, &infos, jit, CodegenOptions::default())
                .map_err(|e| compile_fail(&text, e))?;
            let opts = RunOptions {
                threads,
                jit,
                cancel: Some(cancel),
            };
            let (value, stats) = c.run(&values, &opts).map_err(exec_fail)?;
            let cached = c.kernel.as_ref().is_some_and(|k| k.from_cache);
            Ok((value, stats, c.compile_time, cached))
        })?;
        if let Some((value, stats, compile_time, cached)) = report {
            writeln!(out, "{value}")?;
            if timed || self.time {
                writeln!(out, "{}", time_line(compile_time, cached, &stats))?;
            }
        }
        Ok(())
    }

    fn show_ast(&mut self, src: &str, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        let text = src.to_string();
        let shown = self.job(err, move |_| {
            crate::syntax::parse(&text)
                .map(|a| crate::syntax::render_ast(&a))
                .map_err(|e| Fail::Error(e.render(&text)))
        })?;
        if let Some(s) = shown {
            writeln!(out, "{}", s.trim_end())?;
        }
        Ok(())
    }

    fn show_stage(
        &mut self,
        stage: &str,
        src: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let (infos, _) = self.params();
        let text = self.program(src);
        let stage = stage.to_string();
        let shown = self.job(err, move |_| {
            let cg = CodegenOptions {
                clif: stage == "clif",
                asm: stage == "asm",
                ..CodegenOptions::default()
            };
            let c = crate::compile(&text, &infos, stage != "ir", cg)
                .map_err(|e| compile_fail(&text, e))?;
            let k = c.kernel.as_ref();
            Ok(match stage.as_str() {
                "ir" => ir::display::pipeline(&c.pipeline),
                "clif" => k.and_then(|k| k.clif.clone()).unwrap_or_default(),
                _ => k.and_then(|k| k.asm.clone()).unwrap_or_default(),
            })
        })?;
        if let Some(s) = shown {
            writeln!(out, "{}", s.trim_end())?;
        }
        Ok(())
    }

    fn bench(&mut self, src: &str, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        let ast = match crate::syntax::parse(src) {
            Ok(a) => a,
            Err(e) => return self.error(err, &e.render(src)),
        };
        if !is_pipeline(&ast) {
            return self.error(
                err,
                ":bench needs a pipeline, e.g. :bench range(10**6).sum()",
            );
        }
        let (infos, values) = self.params();
        let threads = self.threads;

        // The compiled kernel.
        let (text, i2, v2) = (self.program(src), infos.clone(), values.clone());
        let Some((value, compiled, stats, reps, compile_time)) = self.job(err, move |cancel| {
            let c = crate::compile(&text, &i2, true, CodegenOptions::default())
                .map_err(|e| compile_fail(&text, e))?;
            let opts = RunOptions {
                threads,
                jit: true,
                cancel: Some(cancel),
            };
            let (value, best, stats, reps) = best_of(|| c.run(&v2, &opts))?;
            Ok((value, best, stats, reps, c.compile_time))
        })?
        else {
            return Ok(());
        };
        writeln!(out, "value        {}", truncated(&value.to_string(), 100))?;
        let mut line = format!(
            "compiled     {:>10}  best of {reps}, {} thread{}, compile {}",
            fmt_duration(compiled),
            stats.threads,
            plural(stats.threads),
            fmt_duration(compile_time)
        );
        if stats.elements > 0 && compiled.as_secs_f64() > 0.0 {
            line.push_str(&format!(
                ", {:.3e} elements/s",
                stats.elements as f64 / compiled.as_secs_f64()
            ));
        }
        if stats.interp_chunks > 0 {
            line.push_str(&format!(
                ", {} chunk(s) recomputed exactly",
                stats.interp_chunks
            ));
        }
        writeln!(out, "{line}")?;
        out.flush()?;

        // The reference interpreter.
        let (text, i2, v2) = (src.to_string(), infos, values);
        let Some((ivalue, interp, reps)) = self.job(err, move |cancel| {
            let c = crate::compile(&text, &i2, false, CodegenOptions::default())
                .map_err(|e| compile_fail(&text, e))?;
            let opts = RunOptions {
                threads,
                jit: false,
                cancel: Some(cancel),
            };
            let (value, best, _, reps) = best_of(|| c.run(&v2, &opts))?;
            Ok((value, best, reps))
        })?
        else {
            return Ok(());
        };
        writeln!(
            out,
            "interpreter  {:>10}  best of {reps}, {}{}",
            fmt_duration(interp),
            ratio(interp, compiled),
            if ivalue == value {
                String::new()
            } else {
                format!(", but its value is {}", truncated(&ivalue.to_string(), 60))
            }
        )?;
        out.flush()?;

        // CPython.
        let script = match to_python(src, &ast, &self.bindings) {
            Ok(s) => s,
            Err(why) => {
                writeln!(out, "CPython      cannot translate this pipeline: {why}")?;
                return Ok(());
            }
        };
        let python = self
            .python
            .clone()
            .unwrap_or_else(|| PathBuf::from("python3"));
        match self.run_python(&python, &script) {
            PyOutcome::Ran { best, reps, repr } => {
                let agree = repr == value.to_string();
                writeln!(
                    out,
                    "CPython      {:>10}  best of {reps}, {}{}",
                    fmt_duration(best),
                    ratio(best, compiled),
                    if agree {
                        ", same value".to_string()
                    } else {
                        format!(", but it gives {}", truncated(&repr, 60))
                    }
                )?;
            }
            PyOutcome::Raised(e) => writeln!(out, "CPython      raised {e}")?,
            PyOutcome::NotFound => writeln!(
                out,
                "CPython      skipped: {} is not on the PATH",
                python.display()
            )?,
            PyOutcome::Interrupted => {
                self.failures += 1;
                writeln!(err, "KeyboardInterrupt")?;
            }
            PyOutcome::Failed(e) => writeln!(out, "CPython      failed: {e}")?,
        }
        Ok(())
    }

    /// Run `python -c script`, killing it on an interrupt.
    fn run_python(&self, python: &Path, script: &str) -> PyOutcome {
        let child = Command::new(python)
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return PyOutcome::NotFound,
            Err(e) => return PyOutcome::Failed(e.to_string()),
        };
        let reader = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let stdout = reader(
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let stderr = reader(
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Ok(s),
                Ok(None) if self.interrupted() => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return PyOutcome::Failed(e.to_string()),
            }
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        let Ok(status) = status else {
            return PyOutcome::Interrupted;
        };
        if !status.success() && self.interrupted() {
            // Ctrl-C reached python3 too (it is in the terminal's process group) and stopped it.
            return PyOutcome::Interrupted;
        }
        if !status.success() {
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            return match last {
                Some(l) if l.contains("Error") || l.contains("Exception") => {
                    PyOutcome::Raised(l.trim().to_string())
                }
                Some(l) => PyOutcome::Failed(l.trim().to_string()),
                None => PyOutcome::Failed(format!("exit status {status}")),
            };
        }
        let mut lines = stdout.splitn(3, '\n');
        let best = lines.next().and_then(|l| l.trim().parse::<f64>().ok());
        let reps = lines.next().and_then(|l| l.trim().parse::<usize>().ok());
        let repr = lines.next().map(|l| l.trim_end().to_string());
        match (best, reps, repr) {
            (Some(b), Some(reps), Some(repr)) if b.is_finite() && b >= 0.0 => PyOutcome::Ran {
                best: Duration::from_secs_f64(b),
                reps,
                repr,
            },
            _ => PyOutcome::Failed("unexpected output".into()),
        }
    }
}

enum PyOutcome {
    Ran {
        best: Duration,
        reps: usize,
        repr: String,
    },
    Raised(String),
    NotFound,
    Interrupted,
    Failed(String),
}

/// Run `run` at least once and, while the total stays under the budget, up to
/// `BENCH_MAX_REPS` times; returns the value, the best run time, its stats and the count.
fn best_of(
    mut run: impl FnMut() -> Result<(Value, RunStats), ExecError>,
) -> Result<(Value, Duration, RunStats, usize), Fail> {
    let (value, stats) = run().map_err(exec_fail)?;
    let mut best = stats.run_time;
    let mut total = stats.run_time;
    let mut reps = 1;
    while total < BENCH_BUDGET && reps < BENCH_MAX_REPS {
        let (_, s) = run().map_err(exec_fail)?;
        best = best.min(s.run_time);
        total += s.run_time;
        reps += 1;
    }
    Ok((value, best, stats, reps))
}

/// The `--time` line: compile and run times (the compile marked when the kernel came from the
/// disk cache), threads, elements and elements per second.
pub fn time_line(compile_time: Duration, cached: bool, stats: &RunStats) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut line = format!(
        "compile {:.2} ms{} · run {:.2} ms · {} thread{} · {} elements",
        ms(compile_time),
        if cached { " (cached)" } else { "" },
        ms(stats.run_time),
        stats.threads,
        plural(stats.threads),
        stats.elements
    );
    if stats.run_time.as_secs_f64() > 0.0 && stats.elements > 0 {
        line.push_str(&format!(
            " · {:.3e} elements/s",
            stats.elements as f64 / stats.run_time.as_secs_f64()
        ));
    }
    if !stats.jit {
        line.push_str(" · interpreted");
    } else if stats.interp_chunks > 0 {
        line.push_str(&format!(
            " · {} chunk(s) recomputed exactly",
            stats.interp_chunks
        ));
    }
    line
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{} ns", d.as_nanos())
    }
}

/// `slow` compared with `fast`: "12.3x slower than compiled" (or faster).
fn ratio(slow: Duration, fast: Duration) -> String {
    let (a, b) = (slow.as_secs_f64(), fast.as_secs_f64());
    if b <= 0.0 || a <= 0.0 {
        return "no ratio (too fast to time)".into();
    }
    if a >= b {
        format!("{:.1}x slower than compiled", a / b)
    } else {
        format!("{:.1}x faster than compiled", b / a)
    }
}

fn truncated(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}... ({} characters)", s.chars().count())
    }
}

/// `let NAME = VALUE` or `NAME = VALUE` (not `==`): Some(Ok((name, value text))) for a
/// binding, Some(Err(message)) for a malformed `let`, None for anything else.
fn split_let(text: &str) -> Option<Result<(&str, &str), String>> {
    let (body, explicit) = match text.strip_prefix("let") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => (rest, true),
        _ => (text, false),
    };
    let malformed = || "expected let NAME = VALUE, e.g. let N = 10**7".to_string();
    let Some(eq) = body.find('=') else {
        return explicit.then(|| Err(malformed()));
    };
    let name = body[..eq].trim();
    let value = body[eq + 1..].trim();
    if value.starts_with('=') || body[..eq].ends_with(['<', '>', '!']) {
        // `==`, `<=`, `>=`, `!=`: a comparison, not a binding.
        return explicit.then(|| Err(malformed()));
    }
    if !explicit && !is_identifier(name) {
        return None;
    }
    Some(Ok((name, value)))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Why `name` cannot be bound, if it cannot.
fn bad_name(name: &str) -> Option<String> {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "let", "nonlocal", "not", "or", "pass", "raise",
        "return", "try", "while", "with", "yield",
    ];
    if name.is_empty() {
        Some("let needs a name: let N = 10**7".into())
    } else if !is_identifier(name) {
        Some(format!(
            "'{}' is not a valid parameter name (letters, digits and _, not starting with a digit)",
            truncated(name, 40)
        ))
    } else if KEYWORDS.contains(&name) {
        Some(format!("'{name}' is a keyword and cannot be a parameter"))
    } else if name == "math" {
        Some("'math' names the math module and cannot be a parameter".into())
    } else if !matches!(crate::syntax::parse(name), Ok(Expr { kind: ExprKind::Name(n), .. }) if n == name)
    {
        Some(format!("'{name}' is not a valid parameter name"))
    } else {
        None
    }
}

fn closest_command(name: &str) -> Option<&'static str> {
    const COMMANDS: &[&str] = &[
        "help", "ast", "ir", "clif", "asm", "time", "bench", "threads", "vars", "reset", "quit",
    ];
    let name = name.to_lowercase();
    COMMANDS
        .iter()
        .map(|c| (edit_distance(&name, c), *c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
        .or_else(|| {
            COMMANDS
                .iter()
                .find(|c| !name.is_empty() && c.starts_with(name.as_str()))
                .copied()
        })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// One `.name(args)` of a method chain, with the byte offset of its name.
type Link<'a> = (&'a ast::Ident, &'a [Expr], usize);

/// The links of a method chain `root.a(...).b(...)`, outermost last, and the root.
fn chain(e: &Expr) -> (&Expr, Vec<Link<'_>>) {
    let mut links = Vec::new();
    let mut cur = e;
    while let ExprKind::Call { func, args, kwargs } = &cur.kind {
        match &func.kind {
            ExprKind::Attribute { value, attr } => {
                links.push((attr, args.as_slice(), kwargs.len()));
                cur = value;
            }
            _ => break,
        }
    }
    links.reverse();
    (cur, links)
}

/// Whether `e` is meant as a pipeline (a method chain on a source, or a bare source) rather than
/// a constant expression such as `N * 2` or `math.sqrt(2)`.
fn is_pipeline(e: &Expr) -> bool {
    let (root, links) = chain(e);
    let source_call = matches!(&root.kind, ExprKind::Call { func, .. }
        if matches!(&func.kind, ExprKind::Name(n) if matches!(n.as_str(), "range" | "par_range" | "into_par_iter")));
    let module = matches!(&root.kind, ExprKind::Name(n) if n == "math");
    source_call || (!links.is_empty() && !module)
}

/// Evaluate `src` as a constant over the given parameters with the interpreter: the value of
/// `[src].collect()`.
fn eval_constant_with(
    src: &str,
    infos: &[ParamInfo],
    values: &[Value],
    cancel: &AtomicBool,
) -> Result<Value, Fail> {
    let value = crate::syntax::parse(src).map_err(|e| Fail::Error(e.render(src)))?;
    let span = value.span;
    let mk = |kind| Expr { kind, span };
    let call = mk(ExprKind::Call {
        func: Box::new(mk(ExprKind::Attribute {
            value: Box::new(mk(ExprKind::List(vec![value]))),
            attr: ast::Ident {
                name: "collect".into(),
                span,
            },
        })),
        args: vec![],
        kwargs: vec![],
    });
    let p = ir::lower::lower_pipeline(&call, infos).map_err(|e| Fail::Error(e.render(src)))?;
    let opts = RunOptions {
        threads: 1,
        jit: false,
        cancel: Some(cancel),
    };
    match crate::exec::run(&p, None, values, None, &opts)
        .map_err(exec_fail)?
        .0
        .into_items()
    {
        Some(mut items) if items.len() == 1 => Ok(items.remove(0)),
        _ => Err(Fail::Error("not a constant".to_string())),
    }
}

/// A Python literal for a parameter value.
fn py_literal(v: &Value) -> String {
    match v {
        Value::Float(f) if f.is_nan() => "float('nan')".into(),
        Value::Float(f) if f.is_infinite() && *f > 0.0 => "float('inf')".into(),
        Value::Float(f) if f.is_infinite() => "float('-inf')".into(),
        other => other.to_string(),
    }
}

/// Translate a pipeline into a CPython script that times it as a generator pipeline and prints
/// the best time (s), the repetitions and the value's repr, one a line.
fn to_python(src: &str, e: &Expr, bindings: &[(String, Value)]) -> Result<String, String> {
    let text = |e: &Expr| -> Result<String, String> {
        src.get(e.span.start..e.span.end)
            .map(|s| format!("({})", s.replace('\n', " ")))
            .ok_or_else(|| "a span outside the source".to_string())
    };
    // A stage function: (loop variable, body over it).
    let func = |f: &Expr| -> Result<(String, String), String> {
        match &f.kind {
            ExprKind::Lambda { params, body } => match params.as_slice() {
                [p] => Ok((p.name.clone(), text(body)?)),
                _ => Err("a stage lambda must take one argument".into()),
            },
            ExprKind::Name(n)
                if matches!(n.as_str(), "abs" | "int" | "float" | "bool" | "round")
                    && !bindings.iter().any(|(b, _)| b == n) =>
            {
                Ok(("x".into(), format!("{n}(x)")))
            }
            ExprKind::Attribute { value, attr } if matches!(&value.kind, ExprKind::Name(m) if m == "math") => {
                Ok(("x".into(), format!("math.{}(x)", attr.name)))
            }
            _ => Ok(("x".into(), text(f)?)),
        }
    };
    let (root, links) = chain(e);
    let mut it = python_source(root, &text)?;
    let mut result = None;
    for (name, args, kwargs) in links {
        if result.is_some() {
            return Err(format!("`.{}()` follows the consumer", name.name));
        }
        if kwargs > 0 {
            return Err("keyword arguments".into());
        }
        let n = name.name.as_str();
        match (n, args) {
            ("map", [f]) => {
                let (v, body) = func(f)?;
                it = format!("({body} for {v} in {it})");
            }
            ("filter", [f]) => {
                let (v, body) = func(f)?;
                it = format!("({v} for {v} in {it} if {body})");
            }
            ("sum", []) => result = Some(format!("sum({it})")),
            ("count", []) => result = Some(format!("sum(1 for _ in {it})")),
            ("min" | "max", []) => result = Some(format!("{n}({it}, default=None)")),
            ("any" | "all", []) => result = Some(format!("{n}({it})")),
            ("any" | "all", [f]) => {
                let (v, body) = func(f)?;
                result = Some(format!("{n}({body} for {v} in {it})"));
            }
            ("collect", []) => result = Some(format!("list({it})")),
            ("reduce", [ident, op]) => {
                let ident = match &ident.kind {
                    ExprKind::Lambda { params, body } if params.is_empty() => text(body)?,
                    _ => text(ident)?,
                };
                let ExprKind::Lambda { params, body } = &op.kind else {
                    return Err("the reduce operator is not a lambda".into());
                };
                let [a, b] = params.as_slice() else {
                    return Err("the reduce operator takes two arguments".into());
                };
                result = Some(format!(
                    "_functools.reduce(lambda {}, {}: {}, {it}, {ident})",
                    a.name,
                    b.name,
                    text(body)?
                ));
            }
            _ => return Err(format!("`.{n}()` with {} argument(s)", args.len())),
        }
    }
    let result = result.ok_or("the pipeline has no consumer")?;
    let params: Vec<String> = bindings
        .iter()
        .map(|(n, v)| format!("{n}={}", py_literal(v)))
        .collect();
    Ok(format!(
        "import math, functools as _functools, time as _time\n\
         def _run({params}):\n    return {result}\n\
         _best, _n, _total = None, 0, 0.0\n\
         while True:\n    _t0 = _time.perf_counter()\n    _r = _run()\n    \
         _dt = _time.perf_counter() - _t0\n    _n += 1\n    _total += _dt\n    \
         _best = _dt if _best is None else min(_best, _dt)\n    \
         if _total >= {budget} or _n >= {reps}:\n        break\n\
         print(repr(_best))\nprint(_n)\nprint(repr(_r))\n",
        params = params.join(", "),
        budget = BENCH_BUDGET.as_secs_f64(),
        reps = BENCH_MAX_REPS,
    ))
}

fn python_source(
    root: &Expr,
    text: &dyn Fn(&Expr) -> Result<String, String>,
) -> Result<String, String> {
    match &root.kind {
        ExprKind::Call { func, args, kwargs } if kwargs.is_empty() => match &func.kind {
            ExprKind::Name(n) if n == "range" || n == "par_range" => {
                let args: Result<Vec<String>, String> = args.iter().map(text).collect();
                Ok(format!("range({})", args?.join(", ")))
            }
            ExprKind::Name(n) if n == "into_par_iter" && args.len() == 1 => {
                python_source(&args[0], text)
            }
            _ => Err("the source is not range(...) or a list".into()),
        },
        ExprKind::List(items) | ExprKind::Tuple(items) => {
            let items: Result<Vec<String>, String> = items.iter().map(text).collect();
            Ok(format!("[{}]", items?.join(", ")))
        }
        _ => Err("the source is not range(...) or a list".into()),
    }
}
