//! IR → Cranelift IR for one pipeline: the loop skeleton, the consumer's accumulators, and
//! expressions with their checks. Failed checks branch to two cold exits: `error(code,
//! index)` and `inexact(index)`.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Block, BlockArg, FuncRef, InstBuilder, MemFlagsData, StackSlotData,
    StackSlotKind, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use num_traits::ToPrimitive;

use super::helpers;
use super::CodegenError;
use crate::errors::ErrCode;
use crate::ir::*;
use crate::pyops::MathFn;
use fastiter_runtime::abi::{self, Partial};
use fastiter_runtime::interrupt;

mod builtins;

fn clif_type(t: Type) -> types::Type {
    match t {
        Type::Int => types::I64,
        Type::Float => types::F64,
        Type::Bool => types::I8,
        // The payload's slot in the low half, the tag in the high half (`ir::TAG_*`).
        Type::Num => types::I128,
    }
}

fn mem() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// 2**63 as a float: the first float past i64.
const TWO63: f64 = 9_223_372_036_854_775_808.0;

struct Gen<'a, 'f> {
    b: FunctionBuilder<'f>,
    p: &'a Pipeline,
    /// One Cranelift variable per IR variable (statements reassign them in loops).
    vars: Vec<Variable>,
    /// Innermost last: where `break` and `continue` go.
    loops: Vec<(Block, Block)>,
    /// Innermost last: the exit block of each inlined function body (one parameter: the
    /// returned value).
    rets: Vec<Block>,
    params: Vec<Value>,
    /// The element index errors are reported at.
    idx: Value,
    err_block: Block,
    inexact_block: Block,
    math1: FuncRef,
    fbin: FuncRef,
    /// `fastiter_builtin`: the builtin table's operations (`lower::builtins`).
    builtin: FuncRef,
    /// `fastiter_poll`: whether the run was interrupted (`fastiter_runtime::interrupt`).
    poll: FuncRef,
    /// Loop back edges left until the next poll.
    budget: Variable,
    /// Address of an 8-byte stack slot for helper results.
    slot: Value,
    /// The batched loop's lanes: each interleaved element's own set of `vars` (lane 0's is
    /// the set the single-element loop uses) and its index.
    lanes: Vec<Vec<Variable>>,
    lane_idx: Vec<Value>,
    /// In the batched loop, a failed check cannot tell which lane failed first in element
    /// order, so every failure leaves through the inexact exit and the interpreter redoes
    /// the chunk in order.
    batched: bool,
    /// Values known to lie in [-ROOT, ROOT] (their square cannot overflow).
    small: Vec<Value>,
    /// Int values known to be non-negative.
    nonneg: Vec<Value>,
    /// The host has fused multiply-add (the exact inline float `%` needs it).
    fma: bool,
    /// Values of loop-invariant expressions, computed once before the loop, by the address
    /// of the expression in the pipeline (which stays borrowed, so addresses are stable).
    hoisted: std::collections::HashMap<usize, Value>,
    /// Address of the buffer a buffer source is zipped with (`ExprKind::ZipItem`).
    zip_items: Option<Value>,
}

/// The most expression nodes the batched loop's lanes may copy in all.
const MAX_BATCH_NODES: usize = 1600;

/// isqrt(2**63 - 1): the largest magnitude whose square fits in i64.
const ROOT: i64 = 3_037_000_499;

/// The registers of the source, loaded once per chunk.
#[derive(Clone, Copy)]
struct Src {
    /// Range: first element and step.
    start: Option<Value>,
    step: Option<Value>,
    /// List or buffer: address of the items.
    items: Option<Value>,
    /// A chained range's start, step and the first range's length.
    chain: Option<(Value, Value, Value)>,
    /// Bytes from one buffer position to the next, when `step_by` makes it vary.
    stride: Option<Value>,
}

pub fn build(
    mut b: FunctionBuilder,
    p: &Pipeline,
    module: &mut JITModule,
) -> Result<(), CodegenError> {
    let ptr = types::I64;
    let import = |module: &mut JITModule, b: &mut FunctionBuilder, name: &str, floats: usize| {
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(types::I32));
        for _ in 0..floats {
            sig.params.push(AbiParam::new(types::F64));
        }
        sig.params.push(AbiParam::new(ptr));
        sig.returns.push(AbiParam::new(types::I32));
        let id = module
            .declare_function(name, Linkage::Import, &sig)
            .map_err(|e| CodegenError(e.to_string()))?;
        Ok::<FuncRef, CodegenError>(module.declare_func_in_func(id, b.func))
    };
    let math1 = import(module, &mut b, helpers::MATH1, 1)?;
    let fbin = import(module, &mut b, helpers::FBIN, 2)?;
    let builtin = {
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(types::I32));
        sig.params.push(AbiParam::new(types::I32));
        sig.params.push(AbiParam::new(ptr));
        sig.returns.push(AbiParam::new(types::I32));
        let id = module
            .declare_function(helpers::BUILTIN, Linkage::Import, &sig)
            .map_err(|e| CodegenError(e.to_string()))?;
        module.declare_func_in_func(id, b.func)
    };
    let poll = {
        let mut sig = module.make_signature();
        let name = if interrupt::PRESERVING {
            sig.call_conv = cranelift_codegen::isa::CallConv::PreserveAll;
            sig.params.push(AbiParam::new(ptr));
            interrupt::POLL_PRESERVING_SYMBOL
        } else {
            sig.returns.push(AbiParam::new(types::I32));
            interrupt::POLL_SYMBOL
        };
        let id = module
            .declare_function(name, Linkage::Import, &sig)
            .map_err(|e| CodegenError(e.to_string()))?;
        module.declare_func_in_func(id, b.func)
    };

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let (env, lo, hi, out) = {
        let ps = b.block_params(entry);
        (ps[0], ps[1], ps[2], ps[3])
    };
    let ss = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
    let slot = b.ins().stack_addr(ptr, ss, 0);

    let err_block = b.create_block();
    b.append_block_param(err_block, types::I32);
    b.append_block_param(err_block, types::I64);
    b.set_cold_block(err_block);
    let inexact_block = b.create_block();
    b.append_block_param(inexact_block, types::I64);
    b.set_cold_block(inexact_block);

    let mut params = Vec::new();
    for (i, q) in p.params.iter().enumerate() {
        params.push(b.ins().load(clif_type(q.ty), mem(), env, (i * 8) as i32));
    }
    let src_off = (p.params.len() * 8) as i32;

    let vars: Vec<Variable> = p
        .vars
        .iter()
        .map(|v| b.declare_var(clif_type(v.ty)))
        .collect();
    let budget = b.declare_var(types::I64);
    let every = b.ins().iconst(types::I64, interrupt::POLL_EVERY);
    b.def_var(budget, every);
    let fma = module
        .isa()
        .isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.as_bool() == Some(true));
    let mut g = Gen {
        lanes: vec![vars.clone()],
        lane_idx: vec![lo],
        batched: false,
        small: Vec::new(),
        nonneg: Vec::new(),
        fma,
        hoisted: std::collections::HashMap::new(),
        zip_items: None,
        b,
        p,
        vars,
        loops: Vec::new(),
        rets: Vec::new(),
        params,
        idx: lo,
        err_block,
        inexact_block,
        math1,
        fbin,
        builtin,
        poll,
        budget,
        slot,
    };
    g.body(env, src_off, lo, hi, out)?;

    // The cold exits.
    let b = &mut g.b;
    b.switch_to_block(err_block);
    let (code, index) = (b.block_params(err_block)[0], b.block_params(err_block)[1]);
    b.ins().store(mem(), index, out, Partial::OFFSET_INDEX);
    b.ins().store(mem(), code, out, Partial::OFFSET_CODE);
    let st = b.ins().iconst(types::I32, abi::STATUS_ERROR as i64);
    b.ins().return_(&[st]);
    b.switch_to_block(inexact_block);
    let index = b.block_params(inexact_block)[0];
    b.ins().store(mem(), index, out, Partial::OFFSET_INDEX);
    let st = b.ins().iconst(types::I32, abi::STATUS_INEXACT as i64);
    b.ins().return_(&[st]);

    g.b.seal_all_blocks();
    let cfg = module.isa().frontend_config();
    g.b.finalize(cfg);
    Ok(())
}

/// The consumer's state, as SSA variables.
struct Accs {
    /// Sum (i128 or f64), min/max value, reduce accumulator.
    acc: Option<Variable>,
    /// Float sum compensation.
    comp: Option<Variable>,
    /// Count, collected items, min/max "seen" flag, float-sum element count.
    count: Option<Variable>,
    flags: Option<Variable>,
    out_ptr: Option<Value>,
    /// `min_by_key`/`max_by_key`: the best element's key.
    key: Option<Variable>,
    /// A sum of tagged numbers: the compensated float sum from the chunk's first float on
    /// (`acc` holds the exact int sum before it, `flags` whether a float came).
    fsum: Option<(Variable, Variable)>,
}

impl Gen<'_, '_> {
    fn body(
        &mut self,
        env: Value,
        src_off: i32,
        lo: Value,
        hi: Value,
        out: Value,
    ) -> Result<(), CodegenError> {
        let p = self.p;
        let elem_ty = p.elem_type();
        let src = self.source_regs(env, src_off);
        // Accumulators.
        let mut accs = Accs {
            acc: None,
            comp: None,
            count: None,
            flags: None,
            out_ptr: None,
            key: None,
            fsum: None,
        };
        let zero64 = self.b.ins().iconst(types::I64, 0);
        let new_var = |g: &mut Self, ty: types::Type, init: Value| {
            let v = g.b.declare_var(ty);
            g.b.def_var(v, init);
            v
        };
        match &p.consumer {
            Consumer::Sum if elem_ty == Type::Float => {
                let z = self.b.ins().f64const(0.0);
                accs.acc = Some(new_var(self, types::F64, z));
                accs.comp = Some(new_var(self, types::F64, z));
                accs.count = Some(new_var(self, types::I64, zero64));
            }
            Consumer::Sum if elem_ty == Type::Num => {
                let z = self.b.ins().uextend(types::I128, zero64);
                accs.acc = Some(new_var(self, types::I128, z));
                let f = self.b.ins().f64const(0.0);
                accs.fsum = Some((new_var(self, types::F64, f), new_var(self, types::F64, f)));
                accs.flags = Some(new_var(self, types::I64, zero64));
            }
            Consumer::Sum => {
                let z = self.b.ins().uextend(types::I128, zero64);
                accs.acc = Some(new_var(self, types::I128, z));
            }
            Consumer::Count => accs.count = Some(new_var(self, types::I64, zero64)),
            Consumer::Min | Consumer::Max => {
                let z = self.zero(elem_ty);
                accs.acc = Some(new_var(self, clif_type(elem_ty), z));
                accs.count = Some(new_var(self, types::I64, zero64));
                accs.flags = Some(new_var(self, types::I64, zero64));
            }
            Consumer::Any(_) | Consumer::All(_) => {}
            Consumer::Reduce { identity, .. } => {
                self.idx = lo;
                let v = self.expr(identity);
                accs.acc = Some(new_var(self, clif_type(identity.ty), v));
            }
            Consumer::Product => {
                let one = self.b.ins().iconst(types::I64, 1);
                accs.acc = Some(new_var(self, types::I64, one));
            }
            Consumer::Find { .. } => accs.count = Some(new_var(self, types::I64, zero64)),
            Consumer::ExtremeBy { key, .. } => {
                let z = self.zero(elem_ty);
                accs.acc = Some(new_var(self, clif_type(elem_ty), z));
                let zk = self.zero(key.body.ty);
                accs.key = Some(new_var(self, clif_type(key.body.ty), zk));
                accs.count = Some(new_var(self, types::I64, zero64));
                accs.flags = Some(new_var(self, types::I64, zero64));
            }
            Consumer::Collect => {
                accs.count = Some(new_var(self, types::I64, zero64));
                accs.out_ptr = Some(
                    self.b
                        .ins()
                        .load(types::I64, mem(), out, Partial::OFFSET_OUT),
                );
            }
        }

        self.hoist_invariants(lo);
        let i_var = self.b.declare_var(types::I64);
        self.b.def_var(i_var, lo);
        // A range's element is carried from one iteration to the next (x += step, wrapping:
        // every element of the range fits in i64, intermediate steps past the end are unused).
        let x_var = match (src.start, src.step) {
            (Some(start), Some(step)) => {
                let off = self.b.ins().imul(lo, step);
                let x0 = self.b.ins().iadd(start, off);
                let v = self.b.declare_var(types::I64);
                self.b.def_var(v, x0);
                Some(v)
            }
            _ => None,
        };
        // The chunk runs in segments, with a poll for an interrupt between two: no element
        // pays for it. Elements that loop get shorter segments (see `for_range`).
        let seg_len = if p.has_loops() {
            interrupt::POLL_EVERY / SHORT_LOOP as i64
        } else {
            interrupt::POLL_EVERY
        };
        let seg_head = self.b.create_block();
        self.b.ins().jump(seg_head, &[]);
        self.b.switch_to_block(seg_head);
        let i_seg = self.b.use_var(i_var);
        let room = self.b.ins().isub(hi, i_seg);
        let short = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedLessThanOrEqual, room, seg_len);
        // Wraps only where `short` picks `hi` instead.
        let seg_end = self.b.ins().iadd_imm_s(i_seg, seg_len);
        let hi_all = hi;
        let hi = self.b.ins().select(short, hi_all, seg_end);

        let width = self.batch_width();
        if width > 1 {
            self.batched_loops(width, &src, hi, i_var, x_var, &accs, out);
        }

        let body = self.b.create_block();
        let latch = self.b.create_block();
        let seg_exit = self.b.create_block();
        let exit = self.b.create_block();
        let i0 = self.b.use_var(i_var);
        let nonempty = self.b.ins().icmp(IntCC::SignedLessThan, i0, hi);
        self.b.ins().brif(nonempty, body, &[], seg_exit, &[]);

        // The loop body: one element.
        self.b.switch_to_block(body);
        let i = self.b.use_var(i_var);
        self.idx = i;
        let xr = x_var.map(|v| self.b.use_var(v));
        let mut x = self.source_elem(&src, i, xr);
        for s in &p.stages {
            match s {
                Stage::Let { var, value } => {
                    let v = self.expr(value);
                    self.set_var(*var, v);
                }
                Stage::Map { var, body } => {
                    self.set_var(*var, x);
                    x = self.expr(body);
                }
                Stage::Filter { var, pred } => {
                    self.set_var(*var, x);
                    let keep = self.expr(pred);
                    let next = self.b.create_block();
                    self.b.ins().brif(keep, next, &[], latch, &[]);
                    self.b.switch_to_block(next);
                }
            }
        }
        self.consume(x, elem_ty, &accs, out);
        self.b.ins().jump(latch, &[]);

        // The latch: bottom-tested.
        self.b.switch_to_block(latch);
        let i = self.b.use_var(i_var);
        let i1 = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(i_var, i1);
        if let (Some(v), Some(step)) = (x_var, src.step) {
            let x = self.b.use_var(v);
            let x1 = self.b.ins().iadd(x, step);
            self.b.def_var(v, x1);
        }
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i1, hi);
        self.b.ins().brif(more, body, &[], seg_exit, &[]);

        // The segment's end: poll, then the next segment, or the chunk's end.
        self.b.switch_to_block(seg_exit);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, hi, hi_all);
        let poll_b = self.b.create_block();
        self.b.set_cold_block(poll_b);
        self.b.ins().brif(more, poll_b, &[], exit, &[]);
        self.b.switch_to_block(poll_b);
        self.poll_then(hi, seg_head);

        // Exit: store the partial.
        self.b.switch_to_block(exit);
        if let Some(v) = accs.acc {
            let a = self.b.use_var(v);
            let ty = self.b.func.dfg.value_type(a);
            if ty == types::I128 {
                let (l, h) = self.b.ins().isplit(a);
                self.b.ins().store(mem(), l, out, Partial::OFFSET_ACC0);
                self.b.ins().store(mem(), h, out, Partial::OFFSET_ACC1);
            } else {
                let w = self.widen(a, ty);
                self.b.ins().store(mem(), w, out, Partial::OFFSET_ACC0);
            }
        }
        if let Some(v) = accs.comp {
            let c = self.b.use_var(v);
            self.b.ins().store(mem(), c, out, Partial::OFFSET_ACC1);
        }
        if let Some(v) = accs.key {
            let k = self.b.use_var(v);
            let ty = self.b.func.dfg.value_type(k);
            if ty == types::I128 {
                let (l, h) = self.b.ins().isplit(k);
                self.b.ins().store(mem(), l, out, Partial::OFFSET_ACC2);
                self.b.ins().store(mem(), h, out, Partial::OFFSET_ACC3);
            } else {
                let w = self.widen(k, ty);
                self.b.ins().store(mem(), w, out, Partial::OFFSET_ACC2);
            }
        }
        if let Some((sv, cv)) = accs.fsum {
            let s = self.b.use_var(sv);
            self.b.ins().store(mem(), s, out, Partial::OFFSET_ACC2);
            let c = self.b.use_var(cv);
            self.b.ins().store(mem(), c, out, Partial::OFFSET_ACC3);
        }
        if let Some(v) = accs.count {
            let c = self.b.use_var(v);
            self.b.ins().store(mem(), c, out, Partial::OFFSET_COUNT);
        }
        if let Some(v) = accs.flags {
            let c = self.b.use_var(v);
            self.b.ins().store(mem(), c, out, Partial::OFFSET_FLAGS);
        }
        let ok = self.b.ins().iconst(types::I32, abi::STATUS_OK as i64);
        self.b.ins().return_(&[ok]);
        Ok(())
    }

    /// Load the source's registers from the environment.
    fn source_regs(&mut self, env: Value, src_off: i32) -> Src {
        let p = self.p;
        let l = |g: &mut Self, k: i32| g.b.ins().load(types::I64, mem(), env, src_off + k);
        let mut src = Src {
            start: None,
            step: None,
            items: None,
            chain: None,
            stride: None,
        };
        match &p.source {
            Source::Range { .. } => {
                src.start = Some(l(self, 0));
                src.step = Some(l(self, 8));
            }
            Source::List { .. } | Source::Buffer { .. } => src.items = Some(l(self, 0)),
        }
        if p.chained() {
            src.chain = Some((l(self, 16), l(self, 24), l(self, 32)));
        }
        if matches!(p.source, Source::Buffer { .. }) && p.strided() {
            src.stride = Some(l(self, 8));
        }
        if p.view.iter().any(|v| matches!(v, ViewOp::ZipBuffer(_))) {
            self.zip_items = Some(l(self, 16));
        }
        src
    }

    /// The source's element at position `i`; `x` is a range's element there.
    fn source_elem(&mut self, src: &Src, i: Value, x: Option<Value>) -> Value {
        match &self.p.source {
            Source::Range { .. } => {
                let x = x.expect("range element");
                match src.chain {
                    // Past the first range, the carried element is unused (and may have
                    // wrapped): compute the second range's element from the position.
                    Some((start2, step2, len1)) => {
                        let j = self.b.ins().isub(i, len1);
                        let off = self.b.ins().imul(j, step2);
                        let y = self.b.ins().iadd(start2, off);
                        let first = self.b.ins().icmp(IntCC::SignedLessThan, i, len1);
                        self.b.ins().select(first, x, y)
                    }
                    None => x,
                }
            }
            Source::List { ty, .. } => {
                let shift = if *ty == Type::Num { 4 } else { 3 };
                let off = self.b.ins().ishl_imm_s(i, shift);
                let addr = self.b.ins().iadd(src.items.expect("list items"), off);
                self.b.ins().load(clif_type(*ty), mem(), addr, 0)
            }
            Source::Buffer { dtype, .. } => {
                let off = match src.stride {
                    Some(s) => self.b.ins().imul(i, s),
                    None => self.b.ins().imul_imm_s(i, dtype.size() as i64),
                };
                let addr = self.b.ins().iadd(src.items.expect("buffer"), off);
                self.load_elem(*dtype, addr)
            }
        }
    }

    /// How many elements an iteration of the batched loop interleaves; 0 for none. The
    /// batched loop runs the stages of several elements side by side, so that their
    /// latencies overlap (loops of inlined bodies run once for all of them), then hands the
    /// results to the consumer in order. It needs stages that run for every element: maps
    /// and lets, and at most one filter, last (the consumer alone depends on it).
    fn batch_width(&self) -> usize {
        let p = self.p;
        let consumer = matches!(
            p.consumer,
            Consumer::Sum
                | Consumer::Count
                | Consumer::Min
                | Consumer::Max
                | Consumer::Collect
                | Consumer::Any(_)
                | Consumer::All(_)
        );
        let n = p.stages.len();
        let filters = p
            .stages
            .iter()
            .enumerate()
            .all(|(k, s)| !matches!(s, Stage::Filter { .. }) || k + 1 == n);
        if p.chained() || !consumer || !filters {
            return 0;
        }
        let has_loop = |e: &Expr| {
            e.any(&|e| {
                matches!(&e.kind, ExprKind::Block(ss)
                    if ss.iter().any(|s| matches!(s, Stmt::While { .. } | Stmt::ForRange { .. })))
            })
        };
        let loops = p.stages.iter().any(|s| has_loop(s.expr()));
        // Eight elements cover the latency of a float step (multiply, add, `%`) in a loop;
        // straight-line bodies need fewer to keep the core busy. Every lane is a copy of the
        // stages' code, so large stages get fewer lanes: compile time stays near linear in
        // the program's size.
        let nodes = std::cell::Cell::new(0usize);
        for s in &p.stages {
            s.expr().any(&|_| {
                nodes.set(nodes.get() + 1);
                false
            });
        }
        let mut width = if loops { 8 } else { 4 };
        while width > 1 && width * nodes.get() > MAX_BATCH_NODES {
            width /= 2;
        }
        if width > 1 {
            width
        } else {
            0
        }
    }

    /// Whether the first stage squares a range's element: then a chunk whose ends are small
    /// gets a loop without the square's overflow test.
    fn squares_source(&self) -> bool {
        let Some(Stage::Map { var, body }) = self.p.stages.first() else {
            return false;
        };
        let v = *var;
        body.any(&|e| {
            matches!(&e.kind, ExprKind::Binary(BinOp::IMul, a, b)
                if a.kind == ExprKind::Var(v) && b.kind == ExprKind::Var(v))
        })
    }

    /// The batched loop over `[i, hi)` while `w` elements remain; the single-element loop
    /// finishes the rest.
    #[allow(clippy::too_many_arguments)]
    fn batched_loops(
        &mut self,
        w: usize,
        src: &Src,
        hi: Value,
        i_var: Variable,
        x_var: Option<Variable>,
        accs: &Accs,
        out: Value,
    ) {
        while self.lanes.len() < w {
            let vs = self
                .p
                .vars
                .iter()
                .map(|v| self.b.declare_var(clif_type(v.ty)))
                .collect();
            self.lanes.push(vs);
        }
        let last = self.b.ins().iadd_imm_s(hi, -(w as i64));
        let exit = self.b.create_block();
        match (x_var, src.step) {
            (Some(xv), Some(step)) if src.chain.is_none() && self.squares_source() => {
                // A range is monotone: when its first and last elements in the chunk are
                // small, so is every element between them.
                let i = self.b.use_var(i_var);
                let x = self.b.use_var(xv);
                let n = self.b.ins().isub(hi, i);
                let n1 = self.b.ins().iadd_imm_s(n, -1);
                let off = self.b.ins().imul(n1, step);
                let xl = self.b.ins().iadd(x, off);
                let a = self.beyond_root(x);
                let b = self.beyond_root(xl);
                let either = self.b.ins().bor(a, b);
                // Otherwise some square overflows or is not taken: rare enough for the
                // single-element loop, and one batched copy less to compile.
                let fast = self.b.create_block();
                self.b.ins().brif(either, exit, &[], fast, &[]);
                self.b.switch_to_block(fast);
                self.batched_loop(w, src, last, i_var, x_var, accs, out, true, exit);
            }
            _ => self.batched_loop(w, src, last, i_var, x_var, accs, out, false, exit),
        }
        self.b.switch_to_block(exit);
    }

    /// One batched loop, ending in a jump to `exit`. `small`: the range's elements are known
    /// to be small.
    #[allow(clippy::too_many_arguments)]
    fn batched_loop(
        &mut self,
        w: usize,
        src: &Src,
        last: Value,
        i_var: Variable,
        x_var: Option<Variable>,
        accs: &Accs,
        out: Value,
        small: bool,
        exit: Block,
    ) {
        let p = self.p;
        let elem_ty = p.elem_type();
        // Each lane's offset from the batch's first element, and the batch's stride.
        let offs: Vec<Value> = match src.step {
            Some(step) => (0..=w)
                .map(|j| self.b.ins().imul_imm_s(step, j as i64))
                .collect(),
            None => Vec::new(),
        };
        let body = self.b.create_block();
        let i = self.b.use_var(i_var);
        let enter = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, i, last);
        self.b.ins().brif(enter, body, &[], exit, &[]);

        self.b.switch_to_block(body);
        let i = self.b.use_var(i_var);
        let x = x_var.map(|v| self.b.use_var(v));
        let mut xs = Vec::with_capacity(w);
        self.lane_idx.clear();
        for j in 0..w {
            let ij = if j == 0 {
                i
            } else {
                self.b.ins().iadd_imm_s(i, j as i64)
            };
            let xj = match (x, offs.get(j)) {
                (Some(x), Some(&off)) if j > 0 => Some(self.b.ins().iadd(x, off)),
                (x, _) => x,
            };
            let e = self.source_elem(src, ij, xj);
            if small {
                self.small.push(e);
            }
            self.lane_idx.push(ij);
            xs.push(e);
        }
        self.batched = true;
        let mut keep = None;
        for s in &p.stages {
            match s {
                Stage::Let { var, value } => {
                    let vs = self.jam_expr(value);
                    self.set_lanes(*var, &vs);
                }
                Stage::Map { var, body } => {
                    self.set_lanes(*var, &xs);
                    xs = self.jam_expr(body);
                }
                Stage::Filter { var, pred } => {
                    self.set_lanes(*var, &xs);
                    keep = Some(self.each_lane(|g| g.expr(pred)));
                }
            }
        }
        for (j, &xj) in xs.iter().enumerate() {
            self.enter_lane(j);
            let skip = keep.as_ref().map(|k| {
                let take = self.b.create_block();
                let skip = self.b.create_block();
                self.b.ins().brif(k[j], take, &[], skip, &[]);
                self.b.switch_to_block(take);
                skip
            });
            self.consume(xj, elem_ty, accs, out);
            if let Some(skip) = skip {
                self.b.ins().jump(skip, &[]);
                self.b.switch_to_block(skip);
            }
        }
        self.enter_lane(0);
        self.batched = false;

        let i = self.b.use_var(i_var);
        let i1 = self.b.ins().iadd_imm_s(i, w as i64);
        self.b.def_var(i_var, i1);
        if let Some(v) = x_var {
            let x = self.b.use_var(v);
            let x1 = self.b.ins().iadd(x, offs[w]);
            self.b.def_var(v, x1);
        }
        let more = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, i1, last);
        self.b.ins().brif(more, body, &[], exit, &[]);
    }

    /// Make lane `j` current: its variables and its element's index.
    fn enter_lane(&mut self, j: usize) {
        self.vars.clone_from(&self.lanes[j]);
        self.idx = self.lane_idx[j];
    }

    /// `f` evaluated in every lane, in lane order.
    fn each_lane(&mut self, f: impl Fn(&mut Self) -> Value) -> Vec<Value> {
        let mut vals = Vec::with_capacity(self.lane_idx.len());
        for j in 0..self.lane_idx.len() {
            self.enter_lane(j);
            vals.push(f(self));
        }
        self.enter_lane(0);
        vals
    }

    /// Store each lane's value into its copy of `v`.
    fn set_lanes(&mut self, v: VarId, vals: &[Value]) {
        for (j, &x) in vals.iter().enumerate() {
            self.enter_lane(j);
            self.set_var(v, x);
        }
        self.enter_lane(0);
    }

    /// `e` in every lane. Inside inlined bodies the lanes advance statement by statement,
    /// and a `for` over bounds that are the same in every lane runs once for all of them.
    fn jam_expr(&mut self, e: &Expr) -> Vec<Value> {
        if let Some(&v) = self.hoisted.get(&(e as *const Expr as usize)) {
            return vec![v; self.lane_idx.len()];
        }
        match &e.kind {
            ExprKind::Block(stmts) => match stmts.split_last() {
                Some((Stmt::Return(r), body)) if !body.iter().any(returns) => {
                    self.jam_stmts(body);
                    self.each_lane(|g| g.expr(r))
                }
                _ => self.each_lane(|g| g.expr(e)),
            },
            ExprKind::Let(v, value, body) => {
                let vs = self.jam_expr(value);
                self.set_lanes(*v, &vs);
                self.jam_expr(body)
            }
            ExprKind::Cast(c, a) => {
                let vs = self.jam_expr(a);
                let mut out = Vec::with_capacity(vs.len());
                for (j, x) in vs.into_iter().enumerate() {
                    self.enter_lane(j);
                    out.push(self.cast(*c, x));
                }
                self.enter_lane(0);
                out
            }
            _ => self.each_lane(|g| g.expr(e)),
        }
    }

    fn jam_stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match s {
                Stmt::Assign(v, e) => {
                    let vs = self.jam_expr(e);
                    self.set_lanes(*v, &vs);
                }
                Stmt::ForRange {
                    var,
                    start,
                    stop,
                    step,
                    first,
                    body,
                } if [start, stop, step].iter().all(|e| lane_invariant(e))
                    && !escapes(body)
                    && !first.as_deref().is_some_and(escapes) =>
                {
                    self.for_range(*var, [start, stop, step], first.as_deref(), body, true)
                }
                _ => {
                    for j in 0..self.lane_idx.len() {
                        self.enter_lane(j);
                        self.stmt(s);
                    }
                    self.enter_lane(0);
                }
            }
        }
    }

    /// Compute the parameter-only parts of the stages and the consumer once, before the
    /// loop (`n - 1` in `any(lambda x: x == n - 1)`). Only operations that can do nothing
    /// worse than overflow are moved; an overflow there leaves through the inexact exit, and
    /// the interpreter redoes the chunk in order, so a value that the loop would never have
    /// computed changes nothing but speed.
    fn hoist_invariants(&mut self, lo: Value) {
        let p = self.p;
        let mut found: Vec<&Expr> = Vec::new();
        for s in &p.stages {
            invariant_parts(s.expr(), &mut found);
        }
        match &p.consumer {
            Consumer::Any(Some(l))
            | Consumer::All(Some(l))
            | Consumer::Find { pred: l, .. }
            | Consumer::ExtremeBy { key: l, .. } => invariant_parts(&l.body, &mut found),
            Consumer::Reduce { op, .. } => invariant_parts(op, &mut found),
            _ => {}
        }
        if found.is_empty() {
            return;
        }
        self.idx = lo;
        self.batched = true;
        for e in found {
            let v = self.expr(e);
            self.hoisted.insert(e as *const Expr as usize, v);
        }
        self.batched = false;
    }

    /// Load one buffer element as its pipeline type.
    fn load_elem(&mut self, dtype: Dtype, addr: Value) -> Value {
        let ins = self.b.ins();
        match dtype {
            Dtype::I8 => ins.sload8(types::I64, mem(), addr, 0),
            Dtype::I16 => ins.sload16(types::I64, mem(), addr, 0),
            Dtype::I32 => ins.sload32(mem(), addr, 0),
            Dtype::I64 => ins.load(types::I64, mem(), addr, 0),
            Dtype::U8 => ins.uload8(types::I64, mem(), addr, 0),
            Dtype::U16 => ins.uload16(types::I64, mem(), addr, 0),
            Dtype::U32 => ins.uload32(mem(), addr, 0),
            Dtype::F32 => {
                let f = ins.load(types::F32, mem(), addr, 0);
                self.b.ins().fpromote(types::F64, f)
            }
            Dtype::F64 => ins.load(types::F64, mem(), addr, 0),
            Dtype::Num => ins.load(types::I128, mem(), addr, 0),
            Dtype::Bool => {
                let v = ins.load(types::I8, mem(), addr, 0);
                self.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0)
            }
        }
    }

    /// Widen a scalar to the 8 bytes of a slot (bool: 0/1, float: its bits).
    fn widen(&mut self, v: Value, ty: types::Type) -> Value {
        if ty == types::I8 {
            self.b.ins().uextend(types::I64, v)
        } else {
            v
        }
    }

    fn zero(&mut self, t: Type) -> Value {
        match t {
            Type::Int => self.b.ins().iconst(types::I64, 0),
            Type::Float => self.b.ins().f64const(0.0),
            Type::Bool => self.b.ins().iconst(types::I8, 0),
            Type::Num => {
                let z = self.b.ins().iconst(types::I64, 0);
                self.b.ins().uextend(types::I128, z)
            }
        }
    }

    fn consume(&mut self, x: Value, elem_ty: Type, accs: &Accs, out: Value) {
        let p = self.p;
        match &p.consumer {
            Consumer::Sum if elem_ty == Type::Float => {
                let (sv, cv, nv) = (
                    accs.acc.expect("sum"),
                    accs.comp.expect("comp"),
                    accs.count.expect("n"),
                );
                self.neumaier(sv, cv, x);
                let n = self.b.use_var(nv);
                let n1 = self.b.ins().iadd_imm_s(n, 1);
                self.b.def_var(nv, n1);
            }
            Consumer::Sum if elem_ty == Type::Num => {
                // As CPython's sum(): ints add exactly until the first float; from there on
                // every element is added as a float (an int correctly rounded first).
                let (av, (sv, cv), fv) = (
                    accs.acc.expect("sum"),
                    accs.fsum.expect("fsum"),
                    accs.flags.expect("flags"),
                );
                let (lo, hi) = self.b.ins().isplit(x);
                let is_float = self.b.ins().icmp_imm_s(IntCC::Equal, hi, TAG_FLOAT as i64);
                let seen = self.b.use_var(fv);
                let seen = self.b.ins().icmp_imm_s(IntCC::NotEqual, seen, 0);
                let to_float = self.b.ins().bor(is_float, seen);
                let int_b = self.b.create_block();
                let float_b = self.b.create_block();
                let join = self.b.create_block();
                self.b.ins().brif(to_float, float_b, &[], int_b, &[]);
                self.b.switch_to_block(int_b);
                let a = self.b.use_var(av);
                let w = self.b.ins().sextend(types::I128, lo);
                let a1 = self.b.ins().iadd(a, w);
                self.b.def_var(av, a1);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(float_b);
                let f = self.b.ins().bitcast(types::F64, MemFlagsData::new(), lo);
                let fi = self.b.ins().fcvt_from_sint(types::F64, lo);
                let f = self.b.ins().select(is_float, f, fi);
                self.neumaier(sv, cv, f);
                let one = self.b.ins().iconst(types::I64, abi::FLAG_FLOAT_SEEN as i64);
                self.b.def_var(fv, one);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(join);
            }
            Consumer::Sum => {
                let v = accs.acc.expect("sum");
                let a = self.b.use_var(v);
                let w = if elem_ty == Type::Bool || self.nonneg.contains(&x) {
                    self.b.ins().uextend(types::I128, x)
                } else {
                    self.b.ins().sextend(types::I128, x)
                };
                let s = self.b.ins().iadd(a, w);
                self.b.def_var(v, s);
            }
            Consumer::Count => {
                let v = accs.count.expect("count");
                let n = self.b.use_var(v);
                let n1 = self.b.ins().iadd_imm_s(n, 1);
                self.b.def_var(v, n1);
            }
            Consumer::Min | Consumer::Max => {
                let (av, nv, fv) = (
                    accs.acc.expect("acc"),
                    accs.count.expect("seen"),
                    accs.flags.expect("flags"),
                );
                let cur = self.b.use_var(av);
                let seen = self.b.use_var(nv);
                let better = self.beats(elem_ty, matches!(p.consumer, Consumer::Max), x, cur);
                let first = self.b.ins().icmp_imm_s(IntCC::Equal, seen, 0);
                let take = self.b.ins().bor(first, better);
                let new = self.b.ins().select(take, x, cur);
                self.b.def_var(av, new);
                let one = self.b.ins().iconst(types::I64, 1);
                self.b.def_var(nv, one);
                self.note_nan(fv, x, elem_ty);
            }
            Consumer::Any(pred) | Consumer::All(pred) => {
                let c = match pred {
                    Some(l) => {
                        self.set_var(l.var, x);
                        self.expr(&l.body)
                    }
                    None => self.truth(x, elem_ty),
                };
                let found = self.b.create_block();
                let next = self.b.create_block();
                self.b.set_cold_block(found);
                if matches!(p.consumer, Consumer::Any(_)) {
                    self.b.ins().brif(c, found, &[], next, &[]);
                } else {
                    self.b.ins().brif(c, next, &[], found, &[]);
                }
                self.b.switch_to_block(found);
                self.b
                    .ins()
                    .store(mem(), self.idx, out, Partial::OFFSET_INDEX);
                let st = self.b.ins().iconst(types::I32, abi::STATUS_FOUND as i64);
                self.b.ins().return_(&[st]);
                self.b.switch_to_block(next);
            }
            Consumer::Reduce { acc, item, op, .. } => {
                let v = accs.acc.expect("acc");
                let a = self.b.use_var(v);
                self.set_var(*acc, a);
                let x = self.tag_as(x, elem_ty, self.p.vars[item.0 as usize].ty);
                self.set_var(*item, x);
                let r = self.expr(op);
                self.b.def_var(v, r);
            }
            Consumer::Product => {
                let v = accs.acc.expect("product");
                let a = self.b.use_var(v);
                let x = self.widen(x, clif_type(elem_ty));
                let r = self.binary(BinOp::IMul, a, x, Type::Int);
                self.b.def_var(v, r);
            }
            Consumer::Find { pred, .. } => {
                let nv = accs.count.expect("count");
                self.set_var(pred.var, x);
                let c = self.expr(&pred.body);
                let found = self.b.create_block();
                let next = self.b.create_block();
                self.b.set_cold_block(found);
                self.b.ins().brif(c, found, &[], next, &[]);
                self.b.switch_to_block(found);
                self.b
                    .ins()
                    .store(mem(), self.idx, out, Partial::OFFSET_INDEX);
                let n = self.b.use_var(nv);
                self.b.ins().store(mem(), n, out, Partial::OFFSET_COUNT);
                let w = self.widen(x, clif_type(elem_ty));
                if elem_ty == Type::Num {
                    let (l, h) = self.b.ins().isplit(w);
                    self.b.ins().store(mem(), l, out, Partial::OFFSET_ACC0);
                    self.b.ins().store(mem(), h, out, Partial::OFFSET_ACC1);
                } else {
                    self.b.ins().store(mem(), w, out, Partial::OFFSET_ACC0);
                }
                let st = self.b.ins().iconst(types::I32, abi::STATUS_FOUND as i64);
                self.b.ins().return_(&[st]);
                self.b.switch_to_block(next);
                let n = self.b.use_var(nv);
                let n1 = self.b.ins().iadd_imm_s(n, 1);
                self.b.def_var(nv, n1);
            }
            Consumer::ExtremeBy { key, max } => {
                let (av, kv, nv, fv) = (
                    accs.acc.expect("acc"),
                    accs.key.expect("key"),
                    accs.count.expect("seen"),
                    accs.flags.expect("flags"),
                );
                self.set_var(key.var, x);
                let k = self.expr(&key.body);
                let cur = self.b.use_var(av);
                let curk = self.b.use_var(kv);
                let seen = self.b.use_var(nv);
                let better = self.beats(key.body.ty, *max, k, curk);
                let first = self.b.ins().icmp_imm_s(IntCC::Equal, seen, 0);
                let take = self.b.ins().bor(first, better);
                let new = self.b.ins().select(take, x, cur);
                self.b.def_var(av, new);
                let newk = self.b.ins().select(take, k, curk);
                self.b.def_var(kv, newk);
                let one = self.b.ins().iconst(types::I64, 1);
                self.b.def_var(nv, one);
                self.note_nan(fv, k, key.body.ty);
            }
            Consumer::Collect => {
                let v = accs.count.expect("count");
                let n = self.b.use_var(v);
                let shift = if elem_ty == Type::Num { 4 } else { 3 };
                let off = self.b.ins().ishl_imm_s(n, shift);
                let addr = self.b.ins().iadd(accs.out_ptr.expect("out"), off);
                let w = self.widen(x, clif_type(elem_ty));
                self.b.ins().store(mem(), w, addr, 0);
                let n1 = self.b.ins().iadd_imm_s(n, 1);
                self.b.def_var(v, n1);
            }
        }
    }

    /// Neumaier's step: the compensation collects the low-order bits each add loses.
    fn neumaier(&mut self, sv: Variable, cv: Variable, x: Value) {
        let s = self.b.use_var(sv);
        let c = self.b.use_var(cv);
        let t = self.b.ins().fadd(s, x);
        let abs_s = self.b.ins().fabs(s);
        let abs_x = self.b.ins().fabs(x);
        let s_big = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, abs_s, abs_x);
        let d1 = self.b.ins().fsub(s, t);
        let d1 = self.b.ins().fadd(d1, x);
        let d2 = self.b.ins().fsub(x, t);
        let d2 = self.b.ins().fadd(d2, s);
        let d = self.b.ins().select(s_big, d1, d2);
        let c1 = self.b.ins().fadd(c, d);
        self.b.def_var(cv, c1);
        self.b.def_var(sv, t);
    }

    /// Set `FLAG_NAN_SEEN` in `fv` when `x` (of type `ty`) is a float NaN.
    fn note_nan(&mut self, fv: Variable, x: Value, ty: Type) {
        let nan = match ty {
            Type::Float => self.b.ins().fcmp(FloatCC::Unordered, x, x),
            Type::Num => {
                let (lo, hi) = self.b.ins().isplit(x);
                let f = self.b.ins().bitcast(types::F64, MemFlagsData::new(), lo);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, f, f);
                let is_float = self.b.ins().icmp_imm_s(IntCC::Equal, hi, TAG_FLOAT as i64);
                self.b.ins().band(nan, is_float)
            }
            Type::Int | Type::Bool => return,
        };
        let nan = self.b.ins().uextend(types::I64, nan);
        let f = self.b.use_var(fv);
        let f1 = self.b.ins().bor(f, nan);
        self.b.def_var(fv, f1);
    }

    /// Python's `x < cur` (`max`: `x > cur`) for tagged numbers: ints and bools compare as
    /// ints, floats as floats, an int with a float exactly.
    fn num_beats(&mut self, max: bool, x: Value, cur: Value) -> Value {
        let op = if max { CmpOp::Gt } else { CmpOp::Lt };
        let (xl, xh) = self.b.ins().isplit(x);
        let (cl, ch) = self.b.ins().isplit(cur);
        let xf = self.b.ins().icmp_imm_s(IntCC::Equal, xh, TAG_FLOAT as i64);
        let cf = self.b.ins().icmp_imm_s(IntCC::Equal, ch, TAG_FLOAT as i64);
        let xd = self.b.ins().bitcast(types::F64, MemFlagsData::new(), xl);
        let cd = self.b.ins().bitcast(types::F64, MemFlagsData::new(), cl);
        let ii = self.b.ins().icmp(int_cc(op), xl, cl);
        let ff = self.b.ins().fcmp(float_cc(op), xd, cd);
        let i_f = self.cmp_int_float(op, xl, cd);
        let f_i = self.cmp_int_float(op.swapped(), cl, xd);
        let x_int = self.b.ins().select(cf, i_f, ii);
        let x_float = self.b.ins().select(cf, ff, f_i);
        self.b.ins().select(xf, x_float, x_int)
    }

    /// Whether `x` replaces `cur` as the minimum (`max`: the maximum): Python's strict `<`
    /// (`>`), so the first of equal values stays and a NaN never replaces.
    fn beats(&mut self, ty: Type, max: bool, x: Value, cur: Value) -> Value {
        if ty == Type::Num {
            return self.num_beats(max, x, cur);
        }
        let ins = self.b.ins();
        match (ty, max) {
            (Type::Float, false) => ins.fcmp(FloatCC::LessThan, x, cur),
            (Type::Float, true) => ins.fcmp(FloatCC::GreaterThan, x, cur),
            (Type::Int, false) => ins.icmp(IntCC::SignedLessThan, x, cur),
            (Type::Int, true) => ins.icmp(IntCC::SignedGreaterThan, x, cur),
            (Type::Bool, false) => ins.icmp(IntCC::UnsignedLessThan, x, cur),
            (Type::Bool, true) => ins.icmp(IntCC::UnsignedGreaterThan, x, cur),
            (Type::Num, _) => unreachable!("handled above"),
        }
    }

    /// Leave for the error exit with `code` when `cond` holds.
    fn error_if(&mut self, cond: Value, code: ErrCode) {
        let c = self.b.ins().iconst(types::I32, code as i64);
        self.error_if_code(cond, c);
    }

    fn error_if_code(&mut self, cond: Value, code: Value) {
        if self.batched {
            self.inexact_if(cond);
            return;
        }
        let cont = self.b.create_block();
        let args = [BlockArg::Value(code), BlockArg::Value(self.idx)];
        self.b.ins().brif(cond, self.err_block, &args, cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Poll: leave with `Interrupted` (at element `index`) if the run was interrupted, else
    /// go on to `go`.
    fn poll_then(&mut self, index: Value, go: Block) {
        let stop = self.poll();
        let code = self.b.ins().iconst(types::I32, ErrCode::Interrupted as i64);
        let args = [BlockArg::Value(code), BlockArg::Value(index)];
        self.b.ins().brif(stop, self.err_block, &args, go, &[]);
    }

    /// Ask whether the run was interrupted (nonzero: stop).
    fn poll(&mut self) -> Value {
        if interrupt::PRESERVING {
            self.b.ins().call(self.poll, &[self.slot]);
            self.b.ins().load(types::I32, mem(), self.slot, 0)
        } else {
            let call = self.b.ins().call(self.poll, &[]);
            self.b.inst_results(call)[0]
        }
    }

    /// A loop's back edge: every `POLL_EVERY` of them (in all the kernel's loops), ask
    /// whether the run was interrupted, and leave with `Interrupted` if so. Even in the
    /// batched loop: it is no element's error, and the run ends with it.
    fn back_edge(&mut self) {
        let left = self.b.use_var(self.budget);
        let left = self.b.ins().iadd_imm_s(left, -1);
        self.b.def_var(self.budget, left);
        let poll_b = self.b.create_block();
        self.b.set_cold_block(poll_b);
        let go = self.b.create_block();
        self.b.ins().brif(left, go, &[], poll_b, &[]);
        self.b.switch_to_block(poll_b);
        let every = self.b.ins().iconst(types::I64, interrupt::POLL_EVERY);
        self.b.def_var(self.budget, every);
        self.poll_then(self.idx, go);
        self.b.switch_to_block(go);
    }

    /// Leave for the inexact exit when `cond` holds (the chunk is recomputed exactly).
    fn inexact_if(&mut self, cond: Value) {
        let cont = self.b.create_block();
        let args = [BlockArg::Value(self.idx)];
        self.b
            .ins()
            .brif(cond, self.inexact_block, &args, cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn truth(&mut self, v: Value, t: Type) -> Value {
        match t {
            Type::Bool => v,
            Type::Int => self.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0),
            Type::Float => {
                let z = self.b.ins().f64const(0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, v, z)
            }
            Type::Num => {
                // A float is false only as +-0.0: its bits without the sign are zero.
                let (lo, hi) = self.b.ins().isplit(v);
                let is_float = self.b.ins().icmp_imm_s(IntCC::Equal, hi, TAG_FLOAT as i64);
                let mag = self.b.ins().ishl_imm_s(lo, 1);
                let bits = self.b.ins().select(is_float, mag, lo);
                self.b.ins().icmp_imm_s(IntCC::NotEqual, bits, 0)
            }
        }
    }

    fn expr(&mut self, e: &Expr) -> Value {
        if let Some(&v) = self.hoisted.get(&(e as *const Expr as usize)) {
            return v;
        }
        match &e.kind {
            ExprKind::Index => self.idx,
            ExprKind::ZipItem(d) => {
                let base = self
                    .zip_items
                    .expect("a zipped pipeline loads its second buffer");
                let off = self.b.ins().imul_imm_s(self.idx, d.size() as i64);
                let addr = self.b.ins().iadd(base, off);
                self.load_elem(*d, addr)
            }
            ExprKind::ConstInt(v) => match v.to_i64() {
                Some(v) => self.b.ins().iconst(types::I64, v),
                None => {
                    // No i64 holds it: the exact interpreter takes this chunk.
                    let args = [BlockArg::Value(self.idx)];
                    self.b.ins().jump(self.inexact_block, &args);
                    let dead = self.b.create_block();
                    self.b.switch_to_block(dead);
                    self.b.ins().iconst(types::I64, 0)
                }
            },
            ExprKind::ConstFloat(v) => self.b.ins().f64const(*v),
            ExprKind::ConstBool(v) => self.b.ins().iconst(types::I8, *v as i64),
            ExprKind::Var(v) => self.b.use_var(self.vars[v.0 as usize]),
            ExprKind::Param(i) => self.params[*i as usize],
            ExprKind::Unary(op, a) => {
                let x = self.expr(a);
                match op {
                    UnOp::INeg => {
                        let z = self.b.ins().iconst(types::I64, 0);
                        let (r, of) = self.b.ins().ssub_overflow(z, x);
                        self.inexact_if(of);
                        r
                    }
                    UnOp::FNeg => self.b.ins().fneg(x),
                    UnOp::IInvert => self.b.ins().bnot(x),
                    UnOp::BNot => self.b.ins().bxor_imm_s(x, 1),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(a);
                if *op == BinOp::IPow {
                    let k = match &b.kind {
                        ExprKind::ConstInt(k) => k.to_u32().unwrap_or(0),
                        _ => unreachable!("verified: constant exponent"),
                    };
                    return self.ipow(x, k);
                }
                if let (BinOp::FMod, ExprKind::ConstFloat(c)) = (op, &b.kind) {
                    if self.fma && (2f64.powi(-1000)..=2f64.powi(1000)).contains(c) {
                        return self.fmod_const(x, *c);
                    }
                }
                let y = self.expr(b);
                self.binary(*op, x, y, e.ty)
            }
            ExprKind::Compare(op, kind, a, b) => {
                let x = self.expr(a);
                let y = self.expr(b);
                match kind {
                    CmpKind::Int => self.b.ins().icmp(int_cc(*op), x, y),
                    CmpKind::Float => self.b.ins().fcmp(float_cc(*op), x, y),
                    CmpKind::IntFloat => self.cmp_int_float(*op, x, y),
                    CmpKind::FloatInt => self.cmp_int_float(op.swapped(), y, x),
                }
            }
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let is_and = matches!(e.kind, ExprKind::And(..));
                let x = self.expr(a);
                let t = self.truth(x, a.ty);
                let rhs = self.b.create_block();
                let join = self.b.create_block();
                let res = self.b.append_block_param(join, clif_type(e.ty));
                let args = [BlockArg::Value(x)];
                if is_and {
                    self.b.ins().brif(t, rhs, &[], join, &args);
                } else {
                    self.b.ins().brif(t, join, &args, rhs, &[]);
                }
                self.b.switch_to_block(rhs);
                let y = self.expr(b);
                self.b.ins().jump(join, &[BlockArg::Value(y)]);
                self.b.switch_to_block(join);
                res
            }
            ExprKind::If(c, a, b) if speculatable(a) && speculatable(b) => {
                // Both arms are cheap and cannot fail: a select, so that data-dependent
                // conditions (`v if v > 0 else 0`) cost no mispredicted branch.
                let cv = self.expr(c);
                let x = self.expr(a);
                let y = self.expr(b);
                self.b.ins().select(cv, x, y)
            }
            ExprKind::If(c, a, b) => {
                let cv = self.expr(c);
                let then_b = self.b.create_block();
                let else_b = self.b.create_block();
                let join = self.b.create_block();
                let res = self.b.append_block_param(join, clif_type(e.ty));
                self.b.ins().brif(cv, then_b, &[], else_b, &[]);
                self.b.switch_to_block(then_b);
                let x = self.expr(a);
                self.b.ins().jump(join, &[BlockArg::Value(x)]);
                self.b.switch_to_block(else_b);
                let y = self.expr(b);
                self.b.ins().jump(join, &[BlockArg::Value(y)]);
                self.b.switch_to_block(join);
                res
            }
            ExprKind::Let(v, value, body) => {
                let x = self.expr(value);
                self.set_var(*v, x);
                self.expr(body)
            }
            ExprKind::Cast(c, a) => {
                let x = self.expr(a);
                self.cast(*c, x)
            }
            ExprKind::Tag(a) => {
                let x = self.expr(a);
                self.tag(x, a.ty)
            }
            ExprKind::Case(a, arms) => {
                let n = self.expr(a);
                let (lo, hi) = self.b.ins().isplit(n);
                let blocks = [
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                ];
                let other = self.b.create_block();
                let join = self.b.create_block();
                let res = self.b.append_block_param(join, clif_type(e.ty));
                let is_float = self.b.ins().icmp_imm_s(IntCC::Equal, hi, TAG_FLOAT as i64);
                self.b.ins().brif(is_float, blocks[1], &[], other, &[]);
                self.b.switch_to_block(other);
                let is_bool = self.b.ins().icmp_imm_s(IntCC::Equal, hi, TAG_BOOL as i64);
                self.b.ins().brif(is_bool, blocks[2], &[], blocks[0], &[]);
                for ((k, (var, body)), t) in arms.iter().enumerate().zip(Type::TAGGED) {
                    self.b.switch_to_block(blocks[k]);
                    let payload = self.untag(lo, t);
                    self.set_var(*var, payload);
                    let r = self.expr(body);
                    self.b.ins().jump(join, &[BlockArg::Value(r)]);
                }
                self.b.switch_to_block(join);
                res
            }
            ExprKind::Block(stmts) => {
                let ret = self.b.create_block();
                let res = self.b.append_block_param(ret, clif_type(e.ty));
                self.rets.push(ret);
                self.stmts(stmts);
                self.rets.pop();
                // Lowering ends every path with a return: this jump is never taken.
                let z = self.zero(e.ty);
                self.b.ins().jump(ret, &[BlockArg::Value(z)]);
                self.b.switch_to_block(ret);
                res
            }
            ExprKind::Call(bi, args) => {
                let vals: Vec<Value> = args.iter().map(|a| self.expr(a)).collect();
                match bi {
                    Builtin::IAbs => {
                        let x = vals[0];
                        let z = self.b.ins().iconst(types::I64, 0);
                        let (neg, of) = self.b.ins().ssub_overflow(z, x);
                        self.inexact_if(of);
                        let is_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                        self.b.ins().select(is_neg, neg, x)
                    }
                    Builtin::Math(MathFn::Fabs) => self.b.ins().fabs(vals[0]),
                    Builtin::Math(MathFn::Sqrt) => {
                        let z = self.b.ins().f64const(0.0);
                        let neg = self.b.ins().fcmp(FloatCC::LessThan, vals[0], z);
                        self.error_if(neg, ErrCode::MathDomain);
                        self.b.ins().sqrt(vals[0])
                    }
                    Builtin::MathInt(f) => {
                        // An i64 converts to a float exactly as CPython's log helper does.
                        let x = self.b.ins().fcvt_from_sint(types::F64, vals[0]);
                        let code = self.b.ins().iconst(types::I32, helpers::math_index(*f));
                        let call = self.b.ins().call(self.math1, &[code, x, self.slot]);
                        self.helper_result(call)
                    }
                    Builtin::Math(f) => {
                        let code = self.b.ins().iconst(types::I32, helpers::math_index(*f));
                        let call = self.b.ins().call(self.math1, &[code, vals[0], self.slot]);
                        self.helper_result(call)
                    }
                    Builtin::Fn(f) => self.table_op(*f, &vals),
                }
            }
        }
    }

    /// A typed value as a `Num`: its slot and its tag.
    fn tag(&mut self, x: Value, ty: Type) -> Value {
        let payload = match ty {
            Type::Int => x,
            Type::Float => self.b.ins().bitcast(types::I64, MemFlagsData::new(), x),
            Type::Bool => self.b.ins().uextend(types::I64, x),
            Type::Num => return x,
        };
        let t = self.b.ins().iconst(types::I64, ty.tag() as i64);
        self.b.ins().iconcat(payload, t)
    }

    /// `x` of type `from` as a value of type `to` (itself, or a `Num`).
    fn tag_as(&mut self, x: Value, from: Type, to: Type) -> Value {
        if to == Type::Num {
            self.tag(x, from)
        } else {
            x
        }
    }

    /// The payload of a `Num` whose tag is `ty`'s, from its low half.
    fn untag(&mut self, lo: Value, ty: Type) -> Value {
        match ty {
            Type::Float => self.b.ins().bitcast(types::F64, MemFlagsData::new(), lo),
            Type::Bool => self.b.ins().ireduce(types::I8, lo),
            Type::Int | Type::Num => lo,
        }
    }

    fn set_var(&mut self, v: VarId, x: Value) {
        self.b.def_var(self.vars[v.0 as usize], x);
    }

    /// Continue in a fresh block after a jump (code there is unreachable).
    fn dead(&mut self) {
        let d = self.b.create_block();
        self.b.switch_to_block(d);
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    /// Run `body` as a loop body: `break` goes to `brk`, `continue` to `cont`.
    fn loop_body(&mut self, body: &[Stmt], brk: Block, cont: Block) {
        self.loops.push((brk, cont));
        self.stmts(body);
        self.loops.pop();
        self.b.ins().jump(cont, &[]);
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Raise(code) => {
                // In the batched loop the interpreter redoes the chunk, in order.
                if self.batched {
                    let args = [BlockArg::Value(self.idx)];
                    self.b.ins().jump(self.inexact_block, &args);
                } else {
                    let c = self.b.ins().iconst(types::I32, *code as i64);
                    let args = [BlockArg::Value(c), BlockArg::Value(self.idx)];
                    self.b.ins().jump(self.err_block, &args);
                }
                self.dead();
            }
            Stmt::Assign(v, e) => {
                let x = self.expr(e);
                self.set_var(*v, x);
            }
            Stmt::Eval(e) => {
                self.expr(e);
            }
            Stmt::If(c, a, b) => {
                let cv = self.expr(c);
                let then_b = self.b.create_block();
                let else_b = self.b.create_block();
                let join = self.b.create_block();
                self.b.ins().brif(cv, then_b, &[], else_b, &[]);
                self.b.switch_to_block(then_b);
                self.stmts(a);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(else_b);
                self.stmts(b);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(join);
            }
            Stmt::While { first, cond, body } => {
                let head = self.b.create_block();
                let exit = self.b.create_block();
                if let Some((c0, b0)) = first {
                    let cv = self.expr(c0);
                    let fb = self.b.create_block();
                    self.b.ins().brif(cv, fb, &[], exit, &[]);
                    self.b.switch_to_block(fb);
                    self.loop_body(b0, exit, head);
                } else {
                    self.b.ins().jump(head, &[]);
                }
                self.b.switch_to_block(head);
                self.back_edge();
                let cv = self.expr(cond);
                let bb = self.b.create_block();
                self.b.ins().brif(cv, bb, &[], exit, &[]);
                self.b.switch_to_block(bb);
                self.loop_body(body, exit, head);
                self.b.switch_to_block(exit);
            }
            Stmt::ForRange {
                var,
                start,
                stop,
                step,
                first,
                body,
            } => self.for_range(*var, [start, stop, step], first.as_deref(), body, false),
            Stmt::Break | Stmt::Continue => {
                let (brk, cont) = *self.loops.last().expect("verified: a loop encloses it");
                let to = if matches!(s, Stmt::Break) { brk } else { cont };
                self.b.ins().jump(to, &[]);
                self.dead();
            }
            Stmt::Return(e) => {
                let x = self.expr(e);
                let ret = *self.rets.last().expect("verified: a block encloses it");
                self.b.ins().jump(ret, &[BlockArg::Value(x)]);
                self.dead();
            }
        }
    }

    /// `for var in range(start, stop, step)`. `jam`: in the batched loop, with bounds that
    /// are the same in every lane: one loop runs the body of every lane.
    fn for_range(
        &mut self,
        var: VarId,
        bounds: [&Expr; 3],
        first: Option<&[Stmt]>,
        body: &[Stmt],
        jam: bool,
    ) {
        let [start, stop, step] = bounds;
        // A short loop of straight-line code (`for _ in range(20)`) polls nothing: its work
        // is bounded, and the element loop around it polls often enough for both.
        let polls = short_trip(bounds).is_none_or(|n| n > SHORT_LOOP)
            || loops_in(body)
            || first.is_some_and(loops_in);
        let a = self.expr(start);
        let z = self.expr(stop);
        let st = self.expr(step);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, st, 0);
        self.error_if(zero, ErrCode::RangeStepZero);
        let up = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, st, 0);
        let cursor = self.b.declare_var(types::I64);
        self.b.def_var(cursor, a);
        let head = self.b.create_block();
        let latch = self.b.create_block();
        let exit = self.b.create_block();
        let in_range = |g: &mut Self| {
            let i = g.b.use_var(cursor);
            let lt = g.b.ins().icmp(IntCC::SignedLessThan, i, z);
            let gt = g.b.ins().icmp(IntCC::SignedGreaterThan, i, z);
            (i, g.b.ins().select(up, lt, gt))
        };
        if let Some(b0) = first {
            let (i, ok) = in_range(self);
            let fb = self.b.create_block();
            self.b.ins().brif(ok, fb, &[], exit, &[]);
            self.b.switch_to_block(fb);
            self.set_loop_var(var, i, jam);
            self.run_body(b0, exit, latch, jam);
        } else {
            self.b.ins().jump(head, &[]);
        }
        self.b.switch_to_block(head);
        let (i, ok) = in_range(self);
        let bb = self.b.create_block();
        self.b.ins().brif(ok, bb, &[], exit, &[]);
        self.b.switch_to_block(bb);
        self.set_loop_var(var, i, jam);
        self.run_body(body, exit, latch, jam);
        // The next element; an overflowing step is past `stop`, so the loop ends.
        self.b.switch_to_block(latch);
        if polls {
            self.back_edge();
        }
        let i = self.b.use_var(cursor);
        let (n, of) = self.b.ins().sadd_overflow(i, st);
        let nb = self.b.create_block();
        self.b.ins().brif(of, exit, &[], nb, &[]);
        self.b.switch_to_block(nb);
        self.b.def_var(cursor, n);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(exit);
    }

    fn set_loop_var(&mut self, var: VarId, i: Value, jam: bool) {
        if jam {
            let all = vec![i; self.lane_idx.len()];
            self.set_lanes(var, &all);
        } else {
            self.set_var(var, i);
        }
    }

    /// `loop_body`, with every lane's statements when `jam`.
    fn run_body(&mut self, body: &[Stmt], brk: Block, cont: Block, jam: bool) {
        if jam {
            self.loops.push((brk, cont));
            self.jam_stmts(body);
            self.loops.pop();
            self.b.ins().jump(cont, &[]);
        } else {
            self.loop_body(body, brk, cont);
        }
    }

    /// Check a helper's returned error code, then load its result from the slot.
    fn helper_result(&mut self, call: cranelift_codegen::ir::Inst) -> Value {
        let code = self.b.inst_results(call)[0];
        let failed = self.b.ins().icmp_imm_s(IntCC::NotEqual, code, 0);
        self.error_if_code(failed, code);
        self.b.ins().load(types::F64, mem(), self.slot, 0)
    }

    fn fbin(&mut self, op: i64, x: Value, y: Value) -> Value {
        let code = self.b.ins().iconst(types::I32, op);
        let call = self.b.ins().call(self.fbin, &[code, x, y, self.slot]);
        self.helper_result(call)
    }

    fn binary(&mut self, op: BinOp, x: Value, y: Value, ty: Type) -> Value {
        use BinOp::*;
        match op {
            IAdd => {
                let (r, of) = self.b.ins().sadd_overflow(x, y);
                self.inexact_if(of);
                r
            }
            ISub => {
                let (r, of) = self.b.ins().ssub_overflow(x, y);
                self.inexact_if(of);
                r
            }
            IMul if x == y => {
                // A square overflows i64 exactly when |x| > ROOT; that test needs no flags, so
                // the plain two-operand multiply is enough and the loop keeps its registers
                // (the flag-setting form clobbers rdx on x86-64).
                let r = self.b.ins().imul(x, x);
                if !self.small.contains(&x) {
                    let of = self.beyond_root(x);
                    self.inexact_if(of);
                }
                self.nonneg.push(r);
                r
            }
            IMul => {
                let (r, of) = self.b.ins().smul_overflow(x, y);
                self.inexact_if(of);
                r
            }
            IFloorDiv | IMod => self.floor_divmod(op, x, y),
            IPow => unreachable!("handled with its constant exponent"),
            ITrueDiv => {
                let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                self.error_if(zero, ErrCode::IntTrueDivZero);
                // Exactly representable operands give a correctly rounded quotient; past
                // 2**53 the exact interpreter divides.
                let big = |g: &mut Self, v: Value| {
                    let s = g.b.ins().iadd_imm_s(v, 1 << 53);
                    g.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, s, 1 << 54)
                };
                let bx = big(self, x);
                let by = big(self, y);
                let any = self.b.ins().bor(bx, by);
                self.inexact_if(any);
                let fx = self.b.ins().fcvt_from_sint(types::F64, x);
                let fy = self.b.ins().fcvt_from_sint(types::F64, y);
                self.b.ins().fdiv(fx, fy)
            }
            IBitAnd => self.b.ins().band(x, y),
            IBitOr => self.b.ins().bor(x, y),
            IBitXor => self.b.ins().bxor(x, y),
            BBitAnd => self.b.ins().band(x, y),
            BBitOr => self.b.ins().bor(x, y),
            BBitXor => self.b.ins().bxor(x, y),
            IShl => {
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, y, 0);
                self.error_if(neg, ErrCode::NegativeShift);
                let far = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, y, 63);
                self.inexact_if(far);
                let r = self.b.ins().ishl(x, y);
                let back = self.b.ins().sshr(r, y);
                let lost = self.b.ins().icmp(IntCC::NotEqual, back, x);
                self.inexact_if(lost);
                r
            }
            IShr => {
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, y, 0);
                self.error_if(neg, ErrCode::NegativeShift);
                let far = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, y, 63);
                let max = self.b.ins().iconst(types::I64, 63);
                let n = self.b.ins().select(far, max, y);
                self.b.ins().sshr(x, n)
            }
            IPowVar => self.ipow_var(x, y),
            FAdd => self.b.ins().fadd(x, y),
            FSub => self.b.ins().fsub(x, y),
            FMul => self.b.ins().fmul(x, y),
            FDiv => {
                let z = self.b.ins().f64const(0.0);
                let zero = self.b.ins().fcmp(FloatCC::Equal, y, z);
                self.error_if(zero, ErrCode::FloatDivZero);
                self.b.ins().fdiv(x, y)
            }
            FFloorDiv => self.fbin(helpers::FBIN_FLOORDIV, x, y),
            FMod => self.fbin(helpers::FBIN_MOD, x, y),
            FPow => self.fbin(helpers::FBIN_POW, x, y),
            Min | Max => {
                // Python: min(a, b) is b only if b < a (the first of equals wins).
                let better = match (ty, op == Min) {
                    (Type::Float, true) => self.b.ins().fcmp(FloatCC::LessThan, y, x),
                    (Type::Float, false) => self.b.ins().fcmp(FloatCC::GreaterThan, y, x),
                    (Type::Int, true) => self.b.ins().icmp(IntCC::SignedLessThan, y, x),
                    (Type::Int, false) => self.b.ins().icmp(IntCC::SignedGreaterThan, y, x),
                    (Type::Bool, true) => self.b.ins().icmp(IntCC::UnsignedLessThan, y, x),
                    (Type::Bool, false) => self.b.ins().icmp(IntCC::UnsignedGreaterThan, y, x),
                    (Type::Num, min) => self.num_beats(!min, y, x),
                };
                self.b.ins().select(better, y, x)
            }
        }
    }

    /// Python's `x % c` for a constant `c > 0`. The usual case, `0 <= x < c * 2**52`, is
    /// one integer test of `x`'s bits (it excludes -0.0, negatives, infinities and NaN) and
    /// `rem_small`. Negative `x` of the same size, and NaN (which gives NaN), are inline in a
    /// cold block. Larger `|x|` and infinities take the helper (libm `fmod` and CPython's
    /// sign rule); in the batched loop they leave for the interpreter instead, because a call
    /// in that loop, even a cold one, makes every lane's value live in memory across it.
    fn fmod_const(&mut self, x: Value, c: f64) -> Value {
        let lim_f = c * 2f64.powi(52);
        let bits = self.b.ins().bitcast(types::I64, MemFlagsData::new(), x);
        let usual = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThan, bits, lim_f.to_bits() as i64);
        let usual_b = self.b.create_block();
        let other_b = self.b.create_block();
        let join = self.b.create_block();
        let res = self.b.append_block_param(join, types::F64);
        self.b.set_cold_block(other_b);
        self.b.ins().brif(usual, usual_b, &[], other_b, &[]);
        self.b.switch_to_block(usual_b);
        let r = self.rem_small(x, c);
        self.b.ins().jump(join, &[BlockArg::Value(r)]);

        self.b.switch_to_block(other_b);
        let lim = self.b.ins().f64const(lim_f);
        let a = self.b.ins().fabs(x);
        if self.batched {
            let huge = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, a, lim);
            self.inexact_if(huge);
            let r = self.fmod_small(x, a, c);
            self.b.ins().jump(join, &[BlockArg::Value(r)]);
        } else {
            let small = self.b.ins().fcmp(FloatCC::LessThan, a, lim);
            let small_b = self.b.create_block();
            let slow_b = self.b.create_block();
            self.b.ins().brif(small, small_b, &[], slow_b, &[]);
            self.b.switch_to_block(small_b);
            let r = self.fmod_small(x, a, c);
            self.b.ins().jump(join, &[BlockArg::Value(r)]);
            self.b.switch_to_block(slow_b);
            let y = self.b.ins().f64const(c);
            let r = self.fbin(helpers::FBIN_MOD, x, y);
            self.b.ins().jump(join, &[BlockArg::Value(r)]);
        }
        self.b.switch_to_block(join);
        res
    }

    /// `x % c` for `a = |x| < c * 2**52` (or NaN): the remainder of `a`, then for `x < 0`
    /// Python's sign rule: `fmod(x, c)` is minus that remainder, and Python adds `c`
    /// (rounded) unless it is zero.
    fn fmod_small(&mut self, x: Value, a: Value, c: f64) -> Value {
        let r = self.rem_small(a, c);
        let zero = self.b.ins().f64const(0.0);
        let cy = self.b.ins().f64const(c);
        let neg = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
        let is_zero = self.b.ins().fcmp(FloatCC::Equal, r, zero);
        let flipped = self.b.ins().fsub(cy, r);
        let rn = self.b.ins().select(is_zero, zero, flipped);
        self.b.ins().select(neg, rn, r)
    }

    /// The remainder of `0 <= a < c * 2**52` by `c`. The quotient `a / c` is then an integer
    /// below 2**52, and `trunc(a * (1/c))` is it or one off either way. The remainder
    /// `fma(-q, c, a)` is exact when `q` is right or one too big (it is then the true
    /// remainder, or that minus `c`: both representable), and rounds to at least `c` when
    /// `q` is one too small, which a second `fma` corrects. The corrections are rare: they
    /// are in a cold block, so the usual path is a multiply, a truncation, one `fma` and two
    /// tests.
    fn rem_small(&mut self, a: Value, c: f64) -> Value {
        let zero = self.b.ins().f64const(0.0);
        let inv = self.b.ins().f64const(1.0 / c);
        let cy = self.b.ins().f64const(c);
        let qa = self.b.ins().fmul(a, inv);
        let q = self.b.ins().trunc(qa);
        let nq = self.b.ins().fneg(q);
        let r0 = self.b.ins().fma(nq, cy, a);
        let fix = self.b.create_block();
        let ok = self.b.create_block();
        let r = self.b.append_block_param(ok, types::F64);
        self.b.set_cold_block(fix);
        let too_big = self.b.ins().fcmp(FloatCC::LessThan, r0, zero);
        let next = self.b.create_block();
        self.b.ins().brif(too_big, fix, &[], next, &[]);
        self.b.switch_to_block(next);
        let too_small = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, r0, cy);
        self.b
            .ins()
            .brif(too_small, fix, &[], ok, &[BlockArg::Value(r0)]);

        self.b.switch_to_block(fix);
        let one = self.b.ins().f64const(1.0);
        let q1 = self.b.ins().fadd(q, one);
        let nq1 = self.b.ins().fneg(q1);
        let r_small_q = self.b.ins().fma(nq1, cy, a);
        let r_big_q = self.b.ins().fadd(r0, cy);
        let too_small = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, r0, cy);
        let fixed = self.b.ins().select(too_small, r_small_q, r_big_q);
        self.b.ins().jump(ok, &[BlockArg::Value(fixed)]);
        self.b.switch_to_block(ok);
        r
    }

    /// Whether `|v| > ROOT`: its square would overflow i64 (one unsigned test, no flags).
    fn beyond_root(&mut self, v: Value) -> Value {
        let shifted = self.b.ins().iadd_imm_s(v, ROOT);
        self.b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThan, shifted, 2 * ROOT)
    }

    /// Python's floor division / modulo on i64: ZeroDivisionError on 0; `MIN // -1` is the
    /// one overflow.
    fn floor_divmod(&mut self, op: BinOp, x: Value, y: Value) -> Value {
        let code = if op == BinOp::IFloorDiv {
            ErrCode::IntFloorDivZero
        } else {
            ErrCode::IntModZero
        };
        self.floor_divmod_code(op, x, y, code)
    }

    /// [`Gen::floor_divmod`] raising `code` on a zero divisor (`divmod` has its own).
    fn floor_divmod_code(&mut self, op: BinOp, x: Value, y: Value, code: ErrCode) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.error_if(zero, code);
        // Divide by 1 instead of -1 so the machine division never traps.
        let m1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
        let one = self.b.ins().iconst(types::I64, 1);
        let d = self.b.ins().select(m1, one, y);
        let q = self.b.ins().sdiv(x, d);
        let r = self.b.ins().srem(x, d);
        let rnz = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
        let sx = self.b.ins().bxor(r, y);
        let sign = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, sx, 0);
        let adj = self.b.ins().band(rnz, sign);
        if op == BinOp::IMod {
            let z = self.b.ins().iconst(types::I64, 0);
            let add = self.b.ins().select(adj, y, z);
            self.b.ins().iadd(r, add)
        } else {
            let adj64 = self.b.ins().uextend(types::I64, adj);
            let qf = self.b.ins().isub(q, adj64);
            let z = self.b.ins().iconst(types::I64, 0);
            let (neg, of) = self.b.ins().ssub_overflow(z, x);
            let bad = self.b.ins().band(m1, of);
            self.inexact_if(bad);
            self.b.ins().select(m1, neg, qf)
        }
    }

    /// `x ** k` by left-to-right binary exponentiation; every intermediate is a power of `x`
    /// no larger than the result, so a check fires only if the result overflows.
    fn ipow(&mut self, x: Value, k: u32) -> Value {
        if k == 0 {
            return self.b.ins().iconst(types::I64, 1);
        }
        let mut r = x;
        for bit in (0..(31 - k.leading_zeros())).rev() {
            let (sq, of) = self.b.ins().smul_overflow(r, r);
            self.inexact_if(of);
            r = sq;
            if k >> bit & 1 == 1 {
                let (m, of) = self.b.ins().smul_overflow(r, x);
                self.inexact_if(of);
                r = m;
            }
        }
        r
    }

    /// `x ** e` for an exponent `e >= 0` known only at run time: squaring, with every
    /// product checked (a square that overflows is needed later, so the result would too).
    fn ipow_var(&mut self, x: Value, e: Value) -> Value {
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, e, 0);
        self.inexact_if(neg);
        let head = self.b.create_block();
        let body = self.b.create_block();
        let square = self.b.create_block();
        let done = self.b.create_block();
        for _ in 0..3 {
            self.b.append_block_param(head, types::I64);
        }
        let res = self.b.append_block_param(done, types::I64);
        let one = self.b.ins().iconst(types::I64, 1);
        let args = [one, x, e].map(BlockArg::Value);
        self.b.ins().jump(head, &args);
        self.b.switch_to_block(head);
        let (r, base, k) = {
            let ps = self.b.block_params(head);
            (ps[0], ps[1], ps[2])
        };
        let finished = self.b.ins().icmp_imm_s(IntCC::Equal, k, 0);
        self.b
            .ins()
            .brif(finished, done, &[BlockArg::Value(r)], body, &[]);
        self.b.switch_to_block(body);
        let odd = self.b.ins().band_imm_s(k, 1);
        let odd = self.b.ins().icmp_imm_s(IntCC::NotEqual, odd, 0);
        let (m, of) = self.b.ins().smul_overflow(r, base);
        let of = self.b.ins().band(of, odd);
        self.inexact_if(of);
        let r2 = self.b.ins().select(odd, m, r);
        let k2 = self.b.ins().sshr_imm_s(k, 1);
        let last = self.b.ins().icmp_imm_s(IntCC::Equal, k2, 0);
        self.b
            .ins()
            .brif(last, done, &[BlockArg::Value(r2)], square, &[]);
        self.b.switch_to_block(square);
        let (sq, of) = self.b.ins().smul_overflow(base, base);
        self.inexact_if(of);
        let args = [r2, sq, k2].map(BlockArg::Value);
        self.b.ins().jump(head, &args);
        self.b.switch_to_block(done);
        res
    }

    /// An exact comparison of an i64 with an f64, as CPython compares int and float.
    fn cmp_int_float(&mut self, op: CmpOp, x: Value, y: Value) -> Value {
        // Rounding is monotone: if float(x) != y, comparing float(x) with y gives the exact
        // answer. If they are equal, y is integral: compare in ints (2**63 is above every i64).
        let fx = self.b.ins().fcvt_from_sint(types::F64, x);
        let res_f = self.b.ins().fcmp(float_cc(op), fx, y);
        let eq = self.b.ins().fcmp(FloatCC::Equal, fx, y);
        let two63 = self.b.ins().f64const(TWO63);
        let big = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, y, two63);
        let yi = self.b.ins().fcvt_to_sint_sat(types::I64, y);
        let res_i = self.b.ins().icmp(int_cc(op), x, yi);
        let res_big = self.b.ins().iconst(
            types::I8,
            matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Ne) as i64,
        );
        let exact = self.b.ins().select(big, res_big, res_i);
        self.b.ins().select(eq, exact, res_f)
    }

    fn cast(&mut self, c: Cast, x: Value) -> Value {
        match c {
            Cast::BoolToInt => self.b.ins().uextend(types::I64, x),
            Cast::BoolToFloat => {
                let w = self.b.ins().uextend(types::I64, x);
                self.b.ins().fcvt_from_sint(types::F64, w)
            }
            Cast::IntToFloat => self.b.ins().fcvt_from_sint(types::F64, x),
            Cast::IntTruth => self.truth(x, Type::Int),
            Cast::FloatTruth => self.truth(x, Type::Float),
            Cast::NumTruth => self.truth(x, Type::Num),
            Cast::FloatToInt | Cast::FloatRound | Cast::FloatFloor | Cast::FloatCeil => {
                let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                self.error_if(nan, ErrCode::FloatNanToInt);
                let ax = self.b.ins().fabs(x);
                let inf = self.b.ins().f64const(f64::INFINITY);
                let is_inf = self.b.ins().fcmp(FloatCC::Equal, ax, inf);
                self.error_if(is_inf, ErrCode::FloatInfToInt);
                let t = match c {
                    Cast::FloatToInt => self.b.ins().trunc(x),
                    Cast::FloatRound => self.b.ins().nearest(x),
                    Cast::FloatFloor => self.b.ins().floor(x),
                    _ => self.b.ins().ceil(x),
                };
                let lo = self.b.ins().f64const(-TWO63);
                let hi = self.b.ins().f64const(TWO63);
                let below = self.b.ins().fcmp(FloatCC::LessThan, t, lo);
                let above = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, t, hi);
                let out = self.b.ins().bor(below, above);
                self.inexact_if(out);
                self.b.ins().fcvt_to_sint_sat(types::I64, t)
            }
        }
    }
}

/// Whether a `return` is among the statements (at any depth of statements).
/// The most iterations of a loop of straight-line code that runs without polling.
const SHORT_LOOP: u64 = 64;

/// The trip count of a `for` over a range of constants.
fn short_trip([start, stop, step]: [&Expr; 3]) -> Option<u64> {
    fn c(e: &Expr) -> Option<&num_bigint::BigInt> {
        match &e.kind {
            ExprKind::ConstInt(v) => Some(v),
            _ => None,
        }
    }
    let (a, z, s) = (c(start)?, c(stop)?, c(step)?);
    if s.sign() == num_bigint::Sign::NoSign {
        return None;
    }
    crate::pyops::range_len(a, z, s).to_u64()
}

/// Whether statements loop (a `while`, a `for`, or an expression holding one).
fn loops_in(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::While { .. } | Stmt::ForRange { .. } => true,
        s => {
            let mut es = Vec::new();
            s.exprs(&mut es);
            es.iter()
                .any(|e| e.any(&|e| matches!(&e.kind, ExprKind::Block(ss) if loops_in(ss))))
        }
    })
}

fn returns(s: &Stmt) -> bool {
    match s {
        // Raising leaves like a return does.
        Stmt::Return(_) | Stmt::Raise(_) => true,
        Stmt::If(_, a, b) => a.iter().any(returns) || b.iter().any(returns),
        Stmt::While { first, body, .. } => {
            first.as_ref().is_some_and(|(_, b)| b.iter().any(returns)) || body.iter().any(returns)
        }
        Stmt::ForRange { first, body, .. } => {
            first.as_deref().is_some_and(|b| b.iter().any(returns)) || body.iter().any(returns)
        }
        Stmt::Assign(..) | Stmt::Eval(_) | Stmt::Break | Stmt::Continue => false,
    }
}

/// Whether control can leave a loop body other than by finishing it: a `return`, or a
/// `break`/`continue` of this loop (those of loops inside it stay inside).
fn escapes(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Break | Stmt::Continue => true,
        Stmt::If(_, a, b) => escapes(a) || escapes(b),
        s => returns(s),
    })
}

/// The largest parts of `e` that read parameters, no element or variable, and raise nothing
/// (at worst they overflow, which is inexact).
fn invariant_parts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    if harmless_invariant(e) {
        let trivial = matches!(
            e.kind,
            ExprKind::Param(_)
                | ExprKind::ConstInt(_)
                | ExprKind::ConstFloat(_)
                | ExprKind::ConstBool(_)
        );
        if !trivial && e.any(&|e| matches!(e.kind, ExprKind::Param(_))) {
            out.push(e);
        }
        return;
    }
    let mut kids: Vec<&'e Expr> = Vec::new();
    e.children(&mut kids);
    for k in kids {
        invariant_parts(k, out);
    }
}

fn harmless_invariant(e: &Expr) -> bool {
    use BinOp::*;
    let ok = match &e.kind {
        ExprKind::ConstInt(_)
        | ExprKind::ConstFloat(_)
        | ExprKind::ConstBool(_)
        | ExprKind::Param(_)
        | ExprKind::Compare(..)
        | ExprKind::And(..)
        | ExprKind::Or(..)
        | ExprKind::If(..)
        | ExprKind::Unary(..) => true,
        ExprKind::Binary(op, ..) => matches!(
            op,
            IAdd | ISub
                | IMul
                | IBitAnd
                | IBitOr
                | IBitXor
                | BBitAnd
                | BBitOr
                | BBitXor
                | FAdd
                | FSub
                | FMul
                | Min
                | Max
        ),
        ExprKind::Cast(c, _) => matches!(
            c,
            Cast::BoolToInt
                | Cast::BoolToFloat
                | Cast::IntToFloat
                | Cast::IntTruth
                | Cast::FloatTruth
        ),
        ExprKind::Var(_)
        | ExprKind::Index
        | ExprKind::ZipItem(_)
        | ExprKind::Let(..)
        | ExprKind::Call(..)
        | ExprKind::Block(_)
        | ExprKind::Tag(_)
        | ExprKind::Case(..) => false,
    };
    if !ok {
        return false;
    }
    let mut kids = Vec::new();
    e.children(&mut kids);
    kids.into_iter().all(harmless_invariant)
}

/// Whether evaluating `e` when Python would not is harmless and cheap: no exception, no
/// inexact exit, no call, a few instructions.
fn speculatable(e: &Expr) -> bool {
    let ok = match &e.kind {
        ExprKind::Var(_)
        | ExprKind::Param(_)
        | ExprKind::ConstFloat(_)
        | ExprKind::ConstBool(_)
        | ExprKind::Index
        | ExprKind::Tag(_) => true,
        ExprKind::ConstInt(v) => v.to_i64().is_some(),
        ExprKind::Unary(op, _) => matches!(op, UnOp::FNeg | UnOp::BNot),
        ExprKind::Binary(op, ..) => matches!(op, BinOp::FAdd | BinOp::FSub | BinOp::FMul),
        ExprKind::Cast(c, _) => matches!(
            c,
            Cast::IntToFloat
                | Cast::BoolToInt
                | Cast::BoolToFloat
                | Cast::IntTruth
                | Cast::FloatTruth
                | Cast::NumTruth
        ),
        ExprKind::Compare(_, k, ..) => matches!(k, CmpKind::Int | CmpKind::Float),
        _ => false,
    };
    ok && {
        let mut kids = Vec::new();
        e.children(&mut kids);
        kids.into_iter().all(speculatable)
    }
}

/// Whether an expression has the same value in every lane: no element, variable or index.
fn lane_invariant(e: &Expr) -> bool {
    !e.any(&|e| {
        matches!(
            e.kind,
            ExprKind::Var(_) | ExprKind::Index | ExprKind::ZipItem(_) | ExprKind::Block(_)
        )
    })
}

fn int_cc(op: CmpOp) -> IntCC {
    match op {
        CmpOp::Eq => IntCC::Equal,
        CmpOp::Ne => IntCC::NotEqual,
        CmpOp::Lt => IntCC::SignedLessThan,
        CmpOp::Le => IntCC::SignedLessThanOrEqual,
        CmpOp::Gt => IntCC::SignedGreaterThan,
        CmpOp::Ge => IntCC::SignedGreaterThanOrEqual,
    }
}

/// Python's float comparisons: false with a NaN, except `!=`.
fn float_cc(op: CmpOp) -> FloatCC {
    match op {
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
    }
}
