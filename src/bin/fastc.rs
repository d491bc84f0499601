//! `fastc`: compile and run one pipeline expression, or print what a compiler stage made of it.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use fastiter::ir::{self, ParamInfo};
use fastiter::{CodegenOptions, Compiled, EvalError, ExecError, RunOptions, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// The parsed syntax tree.
    Ast,
    /// The typed, optimised fastiter IR.
    Ir,
    /// The Cranelift IR of the kernel.
    Clif,
    /// The kernel's machine code.
    Asm,
}

/// Compile an iterator pipeline to a fused native kernel and run it, or open the REPL.
///
/// The result prints on stdout in Python's repr. Errors go to stderr: exit status 1 for an
/// exception while running (named by its Python type), 2 for a usage or compile error.
///
/// With no pipeline (or `fastc repl`), fastc opens a REPL: type a pipeline and see its value,
/// `let N = 10**7` binds a parameter, `:help` lists the commands (`:ast`, `:ir`, `:clif`,
/// `:asm`, `:time`, `:bench`, `:threads`, `:vars`, `:reset`, `:quit`). In a terminal it has line
/// editing and history ($XDG_STATE_HOME/fastiter/history, else ~/.fastc_history); Ctrl-C drops
/// the input line or cancels a running pipeline, Ctrl-D leaves. With input piped it prints only
/// results (errors on stderr) and exits 1 at the end of input if any entry failed, else 0:
/// `printf 'let N = 10\nrange(N).sum()\n' | fastc` prints 45. `-D`, `--threads`, `--time` and
/// `--no-jit` apply to the REPL too.
///
/// Compiled kernels are kept in a disk cache, so the next run of the same pipeline compiles
/// nothing: `fastc cache info` shows where and how large it is, `fastc cache clear` empties it.
/// FASTITER_CACHE_DIR moves it, FASTITER_CACHE=0 turns it off.
#[derive(Debug, Parser)]
#[command(
    name = "fastc",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  fastc 'range(0, N).filter(x % 2 == 0).map(x * x).sum()' -D N=100000000\n  fastc --time 'range(0, 10**8).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()'\n  fastc --emit ir 'range(10).map(x * 3).collect()'\n  fastc                                  (the REPL; also: fastc repl)\n  printf 'let N = 10\\nrange(N).sum()\\n' | fastc\n  fastc cache info                       (the kernel cache: where, how large; also: clear)\n\nSources: range(stop), range(start, stop[, step]), [list, of, numbers]\nStages: map(f), filter(f)   f is an expression over x, or lambda v: ...\nConsumers: sum() count() min() max() any([f]) all([f]) reduce(identity, lambda a, b: ...) collect()"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The pipeline, e.g. 'range(10).map(x * x).sum()'. None (or `repl`): open the REPL.
    #[arg(conflicts_with = "file")]
    expr: Option<String>,

    /// Read the pipeline from a file instead (`#` starts a comment).
    #[arg(short = 'f', long, value_name = "PATH")]
    file: Option<std::path::PathBuf>,

    /// Bind a parameter: NAME=VALUE, where VALUE is a number expression (10**8, -1.5, True).
    #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
    defines: Vec<String>,

    /// Print compile and run times on stderr.
    #[arg(long)]
    time: bool,

    /// Print a compiler stage instead of running.
    #[arg(long, value_enum)]
    emit: Option<Emit>,

    /// Worker threads (default: FASTITER_NUM_THREADS, else the number of CPUs).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Run on the exact reference interpreter instead of compiling.
    #[arg(long)]
    no_jit: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The on-disk kernel cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum CacheAction {
    /// Where the cache is, whether it is used, how many kernels it holds and their size.
    Info,
    /// Remove every cached kernel (nothing else in the directory is touched).
    Clear,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let repl = match cli.expr.as_deref() {
        None => cli.file.is_none(),
        Some(e) => e.trim() == "repl",
    };
    let result = match cli.command {
        Some(Command::Cache { action }) => cache(action),
        None if repl => run_repl(&cli),
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { message, code }) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    message: String,
    code: u8,
}

fn usage(message: String) -> Failure {
    Failure { message, code: 2 }
}

fn eval_error(src: &str, e: EvalError) -> Failure {
    match e {
        EvalError::Compile(c) => compile_failure(src, c),
        EvalError::Exec(e) => exec_failure(e),
    }
}

fn compile_failure(src: &str, e: fastiter::Error) -> Failure {
    match e {
        fastiter::Error::Compile(c) => usage(c.render(src)),
        other => usage(other.to_string()),
    }
}

fn exec_failure(e: ExecError) -> Failure {
    Failure {
        message: e.to_string(),
        code: if e.python_code().is_some() { 1 } else { 2 },
    }
}

/// `-D NAME=VALUE` parameters, in order.
fn defines(cli: &Cli) -> Result<(Vec<String>, Vec<Value>), Failure> {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for d in &cli.defines {
        let Some((name, value)) = d.split_once('=') else {
            return Err(usage(format!("-D expects NAME=VALUE, got '{d}'")));
        };
        let name = name.trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(usage(format!("-D: '{name}' is not a valid parameter name")));
        }
        let v = fastiter::eval_constant(value).map_err(|e| {
            let f = eval_error(value, e);
            usage(format!("in the value of -D {name}: {}", f.message))
        })?;
        if v.ty().is_none() {
            return Err(usage(format!(
                "-D {name}: the value must be an int, float or bool, not {v}"
            )));
        }
        names.push(name.to_string());
        values.push(v);
    }
    Ok((names, values))
}

/// `--threads`, checked.
fn threads(cli: &Cli) -> Result<Option<usize>, Failure> {
    match cli.threads {
        Some(0) => Err(usage("--threads must be at least 1".into())),
        n => Ok(n),
    }
}

/// The REPL: on the terminal when stdin and stdout are both terminals, else over the pipe.
fn run_repl(cli: &Cli) -> Result<(), Failure> {
    use fastiter::repl::{self, ReplOptions};
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    if cli.emit.is_some() {
        return Err(usage(
            "--emit needs a pipeline; in the REPL, :ast, :ir, :clif and :asm show the stages"
                .into(),
        ));
    }
    let (names, values) = defines(cli)?;
    let threads = threads(cli)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let interrupt = if interactive {
        // While a pipeline runs the terminal is in its ordinary mode, so Ctrl-C is a SIGINT:
        // it sets the flag, which cancels the run, and the REPL carries on. (While a line is
        // edited, rustyline reads Ctrl-C as a key.)
        let flag = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&flag);
        ctrlc::set_handler(move || f.store(true, Ordering::SeqCst))
            .ok()
            .map(|_| flag)
    } else {
        None
    };
    let opts = ReplOptions {
        interactive,
        color: interactive
            && std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        threads,
        jit: !cli.no_jit,
        time: cli.time,
        interrupt,
        python: None,
        bindings: names.into_iter().zip(values).collect(),
    };
    let summary = if interactive {
        repl::run_terminal(opts)
    } else {
        repl::run_repl(
            std::io::stdin().lock(),
            std::io::stdout().lock(),
            std::io::stderr().lock(),
            opts,
        )
    };
    match summary {
        Ok(s) if s.exit_code() == 0 => Ok(()),
        // Every failure was reported as it happened: exit 1 with no further message.
        Ok(_) => std::process::exit(1),
        // `fastc < script | head -1`: the reader left; nothing more to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure {
            message: format!("cannot write the output: {e}"),
            code: 1,
        }),
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let (names, values) = defines(cli)?;
    let params: Vec<ParamInfo> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| ParamInfo {
            name: n.clone(),
            ty: v.ty().unwrap_or(ir::Type::Int),
        })
        .collect();
    let threads = threads(cli)?.unwrap_or_else(fastiter_runtime::get_num_threads);
    let text = match (&cli.expr, &cli.file) {
        (Some(e), _) => e.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?,
        (None, None) => return Err(usage("no pipeline given (see --help)".into())),
    };
    let src = text.as_str();

    if let Some(Emit::Ast) = cli.emit {
        let program = fastiter::syntax::parse_program(src).map_err(|e| usage(e.render(src)))?;
        emit(&format!("{}\n", fastiter::syntax::render_program(&program)));
        return Ok(());
    }
    let cg = CodegenOptions {
        clif: cli.emit == Some(Emit::Clif),
        asm: cli.emit == Some(Emit::Asm),
        ..CodegenOptions::default()
    };
    let jit = !cli.no_jit || matches!(cli.emit, Some(Emit::Clif | Emit::Asm));
    let compiled: Compiled =
        fastiter::compile(src, &params, jit, cg).map_err(|e| compile_failure(src, e))?;
    match cli.emit {
        Some(Emit::Ir) => {
            emit(&ir::display::pipeline(&compiled.pipeline));
            return Ok(());
        }
        Some(Emit::Clif) => {
            emit(
                &compiled
                    .kernel
                    .as_ref()
                    .and_then(|k| k.clif.clone())
                    .unwrap_or_default(),
            );
            return Ok(());
        }
        Some(Emit::Asm) => {
            emit(
                &compiled
                    .kernel
                    .as_ref()
                    .and_then(|k| k.asm.clone())
                    .unwrap_or_default(),
            );
            return Ok(());
        }
        _ => {}
    }
    let opts = RunOptions {
        threads,
        jit: !cli.no_jit,
        cancel: None,
    };
    let (value, stats) = compiled.run(&values, &opts).map_err(exec_failure)?;
    print_value(&value);
    if cli.time {
        let cached = compiled.kernel.as_ref().is_some_and(|k| k.from_cache);
        let line = fastiter::repl::time_line(compiled.compile_time, cached, &stats);
        eprintln!("{line}");
    }
    Ok(())
}

/// `fastc cache info|clear`. A disabled cache still has a directory to show and clear (the
/// one it would use), so that `FASTITER_CACHE=0 fastc cache clear` works.
fn cache(action: CacheAction) -> Result<(), Failure> {
    use fastiter::cache::{self, Store};
    let (store, disabled) = match cache::configured() {
        Ok(s) => (Some(s), None),
        Err(why) => (cache::directory().map(Store::new), Some(why)),
    };
    let mut out = String::new();
    match action {
        CacheAction::Info => {
            let dir = store
                .as_ref()
                .map_or("none".into(), |s| s.dir().display().to_string());
            out.push_str(&format!("directory: {dir}\n"));
            match &disabled {
                None => out.push_str("status:    enabled\n"),
                Some(why) => out.push_str(&format!("status:    disabled ({why})\n")),
            }
            if let Some(s) = &store {
                let u = s.usage();
                let l = s.limits();
                out.push_str(&format!(
                    "entries:   {} ({})\nlimit:     {} entries, {} (least recently used go first)\n",
                    u.entries,
                    size(u.bytes),
                    l.entries,
                    size(l.bytes)
                ));
            }
        }
        CacheAction::Clear => {
            let Some(s) = store else {
                return Err(usage("no cache directory to clear".into()));
            };
            let removed = s.clear().map_err(|e| Failure {
                message: format!("cannot clear {}: {e}", s.dir().display()),
                code: 1,
            })?;
            out.push_str(&format!(
                "removed {} cached kernel{} ({}) from {}\n",
                removed.entries,
                if removed.entries == 1 { "" } else { "s" },
                size(removed.bytes),
                s.dir().display()
            ));
        }
    }
    emit(&out);
    Ok(())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    }
}

fn print_value(v: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`fastc ... | head`) is not an error worth a panic.
    let _ = writeln!(out, "{v}");
}

/// Write `text` to stdout. A reader that went away (`fastc --emit asm ... | head`) ends the
/// output quietly, as it would for any Unix tool, instead of a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}
