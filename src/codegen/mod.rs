//! Code generation: IR → Cranelift IR → machine code. One function per pipeline, a single
//! fused, bottom-tested loop over `[lo, hi)`. This module owns the JIT memory: a `Kernel`
//! owns its module and frees it on drop. No parsing, typing or threading in here.

pub mod cache;
mod helpers;
mod lower;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cranelift_codegen::ir::{types, AbiParam, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module, ModuleReloc};

use crate::cache::Store;
use crate::ir::Pipeline;
use cache::{Entry, KeyParts};
use fastiter_runtime::abi::{KernelFn, Partial};

/// What to keep besides the machine code, and whether the disk cache may provide it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodegenOptions {
    /// Keep the Cranelift IR text (`--emit clif`).
    pub clif: bool,
    /// Keep the disassembly (`--emit asm`).
    pub asm: bool,
    /// Compile with Cranelift even when the kernel is in the disk cache, and write nothing
    /// there (benchmarks of the compiler).
    pub no_cache: bool,
}

/// A compiled pipeline kernel. Owns the JIT memory holding its code.
pub struct Kernel {
    module: Option<JITModule>,
    func: KernelFn,
    pub clif: Option<String>,
    pub asm: Option<String>,
    /// IR → machine code (Cranelift, or loading the code from the disk cache).
    pub codegen_time: Duration,
    /// The machine code came from the disk cache: no Cranelift compile ran.
    pub from_cache: bool,
}

// SAFETY: after `finalize_definitions` the module is never touched again until drop; the
// kernel is a pure function of its arguments (it writes only through `out`), and calling it
// from several threads at once was checked safe (see STACK.md).
unsafe impl Send for Kernel {}
// SAFETY: as above: `call` takes `&self` and only reads the function pointer.
unsafe impl Sync for Kernel {}

impl Kernel {
    /// Run the kernel on elements `[lo, hi)`.
    pub fn call(&self, env: &[u64], lo: i64, hi: i64, out: &mut Partial) -> u32 {
        // SAFETY: the kernel was generated for this pipeline's environment layout, which
        // `exec` builds (`env` holds every slot the kernel reads, and list sources point to
        // live buffers of at least `hi` items); `out.out`, when read, has room for `hi - lo`
        // items (exec's contract for `collect`).
        unsafe { (self.func)(env.as_ptr(), lo, hi, out) }
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: the only pointer into this module's memory is `self.func`, which dies
            // with `self`; no call can be running, since `call` borrows `self`.
            unsafe { m.free_memory() };
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("code generation failed: {0}")]
pub struct CodegenError(pub String);

fn isa() -> Result<OwnedTargetIsa, CodegenError> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    ISA.get_or_init(|| {
        let mut flags = settings::builder();
        let set =
            |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(|e| e.to_string());
        set(&mut flags, "opt_level", "speed")?;
        set(&mut flags, "is_pic", "false")?;
        set(
            &mut flags,
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )?;
        let isa_builder = cranelift_native::builder().map_err(|e| e.to_string())?;
        isa_builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(CodegenError)
}

/// The key parts of kernels compiled for this host by this build.
pub fn host_key_parts() -> Result<&'static KeyParts, CodegenError> {
    static PARTS: OnceLock<Result<KeyParts, CodegenError>> = OnceLock::new();
    PARTS
        .get_or_init(|| Ok(KeyParts::for_isa(&*isa()?)))
        .as_ref()
        .map_err(Clone::clone)
}

/// Compile a (verified, optimised) pipeline to a kernel, through the disk cache the
/// environment configures (`crate::cache::configured`).
pub fn compile(p: &Pipeline, opts: CodegenOptions) -> Result<Kernel, CodegenError> {
    let store = if opts.no_cache {
        None
    } else {
        crate::cache::configured().ok()
    };
    compile_cached(p, opts, store.as_ref(), host_key_parts()?)
}

/// Compile with an explicit cache (None, or `opts.no_cache`: no cache) and key parts. A kernel whose entry is in
/// `store` is loaded without compiling; a miss compiles and writes the entry. An entry that
/// fails any check is a miss, and is written again. `--emit clif`/`asm` need the Cranelift
/// function, so they always compile.
pub fn compile_cached(
    p: &Pipeline,
    opts: CodegenOptions,
    store: Option<&Store>,
    parts: &KeyParts,
) -> Result<Kernel, CodegenError> {
    let t0 = Instant::now();
    let Some(store) = store.filter(|_| !opts.no_cache) else {
        return compile_fresh(p, opts, t0).map(|(k, _)| k);
    };
    let key = cache::key(parts, p);
    if !opts.clif && !opts.asm {
        let hit = store.get(&key).and_then(|bytes| Entry::decode(&bytes));
        if let Some(kernel) = hit.and_then(|e| load(&e, t0).ok()) {
            return Ok(kernel);
        }
    }
    let (kernel, entry) = compile_fresh(p, opts, t0)?;
    if let Some(e) = entry {
        store.put(&key, &e.encode());
    }
    Ok(kernel)
}

/// A fresh JIT module with the helpers kernels call, and `kernel` declared in it.
fn new_module() -> Result<(JITModule, FuncId, cranelift_codegen::Context), CodegenError> {
    let isa: Arc<dyn cranelift_codegen::isa::TargetIsa> = isa()?;
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    helpers::register(&mut jb);
    let mut module = JITModule::new(jb);

    let ptr = module.target_config().pointer_type();
    let mut ctx = module.make_context();
    let sig = &mut ctx.func.signature;
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I32));
    let id = module
        .declare_function("kernel", Linkage::Export, &ctx.func.signature.clone())
        .map_err(|e| CodegenError(e.to_string()))?;
    Ok((module, id, ctx))
}

/// Finalise `module` and wrap its `kernel` function.
fn finish(
    mut module: JITModule,
    id: FuncId,
    clif: Option<String>,
    asm: Option<String>,
    t0: Instant,
    from_cache: bool,
) -> Result<Kernel, CodegenError> {
    module
        .finalize_definitions()
        .map_err(|e| CodegenError(e.to_string()))?;
    let code = module.get_finalized_function(id);
    // SAFETY: `code` is the entry of the function defined as `kernel` in `new_module`, with
    // exactly the `KernelFn` signature declared there (env ptr, lo, hi, out ptr) -> i32
    // status, System V ABI: compiled from that signature just now, or loaded from a cache
    // entry whose key (this build, this CPU's features, this pipeline) and checksum matched
    // those of such a compile. This is the one place a code pointer becomes a typed function.
    let func: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(code) };
    Ok(Kernel {
        module: Some(module),
        func,
        clif,
        asm,
        codegen_time: t0.elapsed(),
        from_cache,
    })
}

/// Define `kernel` from a cache entry's bytes: no Cranelift IR, no compile, only the
/// relocations applied. The imports are declared by name, so the new module resolves them
/// to this process's helpers; the JIT links by name only, so their signature is not needed.
fn load(e: &Entry, t0: Instant) -> Result<Kernel, CodegenError> {
    let err = |e: cranelift_module::ModuleError| CodegenError(e.to_string());
    let (mut module, id, _) = new_module()?;
    let blank = module.make_signature();
    let ids = e
        .imports
        .iter()
        .map(|name| {
            module
                .declare_function(name, Linkage::Import, &blank)
                .map_err(err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let relocs = e
        .module_relocs(&ids, id)
        .ok_or_else(|| CodegenError("cache entry names a missing import".into()))?;
    module
        .define_function_bytes(id, e.alignment, &e.code, &relocs)
        .map_err(err)?;
    finish(module, id, None, None, t0, true)
}

/// Compile with Cranelift; also the cache entry of the result, when it can have one.
fn compile_fresh(
    p: &Pipeline,
    opts: CodegenOptions,
    t0: Instant,
) -> Result<(Kernel, Option<Entry>), CodegenError> {
    let (mut module, id, mut ctx) = new_module()?;
    ctx.func.name = UserFuncName::user(0, id.as_u32());

    let mut fctx = FunctionBuilderContext::new();
    {
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        lower::build(b, p, &mut module)?;
    }
    let clif = opts.clif.then(|| ctx.func.display().to_string());
    ctx.set_disasm(opts.asm);
    module
        .define_function(id, &mut ctx)
        .map_err(|e| CodegenError(format!("{e:?}")))?;
    let compiled = ctx.compiled_code();
    let asm = if opts.asm {
        compiled.and_then(|c| c.vcode.clone())
    } else {
        None
    };
    let entry = compiled.and_then(|c| {
        let relocs: Vec<ModuleReloc> = c
            .buffer
            .relocs()
            .iter()
            .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
            .collect();
        Entry::capture(
            u64::from(c.buffer.alignment),
            c.code_buffer(),
            &relocs,
            id,
            module.declarations(),
        )
    });
    module.clear_context(&mut ctx);
    let kernel = finish(module, id, clif, asm, t0, false)?;
    Ok((kernel, entry))
}
