//! Code generation: IR → Cranelift IR → machine code. One function per pipeline, a single
//! fused, bottom-tested loop over `[lo, hi)`. This module owns the JIT memory: a `Kernel`
//! owns its module and frees it on drop. No parsing, typing or threading in here.

mod helpers;
mod lower;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cranelift_codegen::ir::{types, AbiParam, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

use crate::ir::Pipeline;
use fastiter_runtime::abi::{KernelFn, Partial};

/// What to keep besides the machine code.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodegenOptions {
    /// Keep the Cranelift IR text (`--emit clif`).
    pub clif: bool,
    /// Keep the disassembly (`--emit asm`).
    pub asm: bool,
}

/// A compiled pipeline kernel. Owns the JIT memory holding its code.
pub struct Kernel {
    module: Option<JITModule>,
    func: KernelFn,
    pub clif: Option<String>,
    pub asm: Option<String>,
    /// IR → machine code (Cranelift only).
    pub codegen_time: Duration,
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

/// Compile a (verified, optimised) pipeline to a kernel.
pub fn compile(p: &Pipeline, opts: CodegenOptions) -> Result<Kernel, CodegenError> {
    let t0 = Instant::now();
    let isa: Arc<dyn cranelift_codegen::isa::TargetIsa> = isa()?;
    let mut jb = JITBuilder::with_isa(isa.clone(), default_libcall_names());
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
    let asm = if opts.asm {
        ctx.compiled_code().and_then(|c| c.vcode.clone())
    } else {
        None
    };
    module.clear_context(&mut ctx);
    module
        .finalize_definitions()
        .map_err(|e| CodegenError(e.to_string()))?;
    let code = module.get_finalized_function(id);
    // SAFETY: `code` is the entry of the function just compiled with exactly the `KernelFn`
    // signature declared above (env ptr, lo, hi, out ptr) -> i32 status, System V ABI. This is
    // the one place a code pointer becomes a typed function.
    let func: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(code) };
    Ok(Kernel {
        module: Some(module),
        func,
        clif,
        asm,
        codegen_time: t0.elapsed(),
    })
}
