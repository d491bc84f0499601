//! fastiter: a compiler from chained iterator pipelines (a Python-expression subset) to fused
//! native kernels, run in parallel chunks with CPython's exact semantics.
//!
//! The flow: `syntax::parse` (text → AST) → `ir::lower` (AST → typed IR) → `passes` →
//! `codegen` (IR → kernel) → `exec` (run chunks on the runtime, combine). See ARCHITECTURE.md.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod builtins;
pub mod cache;
pub mod codegen;
pub mod diagnostics;
pub mod errors;
pub mod exec;
pub mod interp;
pub mod ir;
pub mod passes;
pub mod pyops;
pub mod repl;
pub mod syntax;
pub mod value;

use std::time::{Duration, Instant};

pub use codegen::{CodegenOptions, Kernel};
pub use diagnostics::{CompileError, ErrorKind};
pub use exec::{ExecError, RunOptions, RunStats};
pub use value::Value;

/// A pipeline compiled for parameters of given types.
pub struct Compiled {
    pub source: String,
    /// The pipeline expression (the last part of the program).
    pub ast: syntax::ast::Expr,
    /// The program's `def`s, inlined where the pipeline calls them.
    pub defs: Vec<syntax::ast::FuncDef>,
    pub pipeline: ir::Pipeline,
    /// The pipeline as lowered, before passes (a pass may change how many elements the
    /// kernel iterates; users count the source's elements).
    pub lowered: ir::Pipeline,
    /// None when compiled for the interpreter only.
    pub kernel: Option<Kernel>,
    /// Text → machine code (or → optimised IR without a kernel).
    pub compile_time: Duration,
}

/// Why compiling failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Compile(#[from] CompileError),
    /// A compiler bug (the verifier or Cranelift rejected what lowering produced).
    #[error("internal compiler error: {0}")]
    Internal(String),
}

/// Compile `src` for runtime parameters with these names and types. `src` is a pipeline
/// expression, optionally preceded by top-level Python `def`s that the pipeline calls
/// (`map(f)`, `filter(pred)`, `reduce(0, op)`, or inside a lambda: `map(lambda x: f(x) + 1)`).
pub fn compile(
    src: &str,
    params: &[ir::ParamInfo],
    jit: bool,
    cg: CodegenOptions,
) -> Result<Compiled, Error> {
    compile_with(src, params, None, jit, cg)
}

/// Compile `src` whose source may be the input buffer `buffer`.
pub fn compile_with(
    src: &str,
    params: &[ir::ParamInfo],
    buffer: Option<&ir::BufferDecl>,
    jit: bool,
    cg: CodegenOptions,
) -> Result<Compiled, Error> {
    compile_for(src, params, buffer, jit, cg, ir::lower::NEWEST_PYTHON)
}

/// Compile `src` with the builtins of CPython `python` (major, minor): what a pipeline
/// calls must behave as that version's (`int.bit_count` is refused before 3.10, so the
/// Python fallback raises its AttributeError; `math.hypot` rounds as that version does).
pub fn compile_for(
    src: &str,
    params: &[ir::ParamInfo],
    buffer: Option<&ir::BufferDecl>,
    jit: bool,
    cg: CodegenOptions,
    python: (u8, u8),
) -> Result<Compiled, Error> {
    let t0 = Instant::now();
    let program = syntax::parse_program(src)?;
    let lowered = ir::lower::lower_program_for(&program, params, buffer, python)?;
    let syntax::ast::Program {
        defs,
        pipeline: ast,
    } = program;
    let pipeline = passes::optimize(lowered.clone()).map_err(Error::Internal)?;
    let kernel = if jit {
        Some(codegen::compile(&pipeline, cg).map_err(|e| Error::Internal(e.to_string()))?)
    } else {
        None
    };
    Ok(Compiled {
        source: src.to_string(),
        ast,
        defs,
        pipeline,
        lowered,
        kernel,
        compile_time: t0.elapsed(),
    })
}

impl Compiled {
    /// Run with parameter values in the order given to `compile`.
    pub fn run(&self, params: &[Value], opts: &RunOptions) -> Result<(Value, RunStats), ExecError> {
        self.run_with(params, None, opts)
    }

    /// Run over an input buffer (for a pipeline compiled with a `BufferDecl`).
    pub fn run_with(
        &self,
        params: &[Value],
        buffer: Option<exec::BufferArg>,
        opts: &RunOptions,
    ) -> Result<(Value, RunStats), ExecError> {
        let kernel = self.kernel.as_ref().filter(|_| opts.jit);
        let (value, mut stats) = exec::run(&self.pipeline, kernel, params, buffer, opts)?;
        if let Ok(src) = exec::eval_source(&self.lowered, params, buffer) {
            stats.elements = src.len();
        }
        Ok((value, stats))
    }
}

impl Compiled {
    /// How many positions a run's chunks split (the source after views and passes: a
    /// strided range has half the elements of `range(0, N).filter(x % 2 == 0)`'s).
    pub fn chunked_len(
        &self,
        params: &[Value],
        buffer: Option<exec::BufferArg>,
    ) -> Result<u64, ExecError> {
        exec::eval_source(&self.pipeline, params, buffer).map(|s| s.len())
    }

    /// Chunks `which` of a run over `buffer` (or the pipeline's range), as a part of a run
    /// computed elsewhere: see [`exec::partials`].
    pub fn run_chunks(
        &self,
        params: &[Value],
        buffer: Option<exec::BufferArg>,
        which: std::ops::Range<usize>,
        opts: &RunOptions,
    ) -> Result<Vec<exec::ChunkOut>, ExecError> {
        let kernel = self.kernel.as_ref().filter(|_| opts.jit);
        exec::partials::run_chunks(&self.pipeline, kernel, params, buffer, which, opts)
    }

    /// The value of a run from all its chunks' results, in order (`None`: run it whole, see
    /// [`exec::partials::combine_chunks`]).
    pub fn combine_chunks(
        &self,
        params: &[Value],
        outs: Vec<exec::ChunkOut>,
    ) -> Result<Option<Value>, ExecError> {
        exec::partials::combine_chunks(&self.pipeline, params, outs)
    }
}

/// Compile and run in one step, with named parameter values.
pub fn eval(src: &str, params: &[(String, Value)], opts: &RunOptions) -> Result<Value, EvalError> {
    let infos: Vec<ir::ParamInfo> = params
        .iter()
        .map(|(n, v)| ir::ParamInfo {
            name: n.clone(),
            ty: v.ty().unwrap_or(ir::Type::Int),
        })
        .collect();
    let c = compile(src, &infos, opts.jit, CodegenOptions::default())?;
    let values: Vec<Value> = params.iter().map(|(_, v)| v.clone()).collect();
    Ok(c.run(&values, opts)?.0)
}

/// Compiling or running failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Compile(#[from] Error),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// Evaluate a constant expression (a `-D NAME=VALUE` value such as `10**8`, `-1.5`, `True`)
/// with the interpreter.
pub fn eval_constant(src: &str) -> Result<Value, EvalError> {
    use syntax::ast::{Expr, ExprKind, Ident};
    let value = syntax::parse(src).map_err(Error::from)?;
    let span = value.span;
    let list = Expr {
        kind: ExprKind::List(vec![value]),
        span,
    };
    let attr = Expr {
        kind: ExprKind::Attribute {
            value: Box::new(list),
            attr: Ident {
                name: "collect".into(),
                span,
            },
        },
        span,
    };
    let call = Expr {
        kind: ExprKind::Call {
            func: Box::new(attr),
            args: vec![],
            kwargs: vec![],
        },
        span,
    };
    let p = ir::lower::lower_pipeline(&call, &[]).map_err(Error::from)?;
    let opts = RunOptions {
        threads: 1,
        jit: false,
        cancel: None,
    };
    match exec::run(&p, None, &[], None, &opts)?.0.into_items() {
        Some(mut items) if items.len() == 1 => Ok(items.remove(0)),
        _ => Err(EvalError::Exec(ExecError::Unsupported(
            "not a constant".to_string(),
        ))),
    }
}
