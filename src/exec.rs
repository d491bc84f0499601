//! Running a compiled pipeline: evaluate the source and parameters into the kernel's
//! environment, run chunks through the runtime (kernel first, the exact interpreter where a
//! kernel reports an inexact operation), and combine the chunk results in order.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::codegen::Kernel;
use crate::errors::ErrCode;
use crate::interp::{compare_values, Interp};
use crate::ir::{Consumer, Dtype, Expr, Pipeline, Source, Type, ViewOp};
use crate::pyops;
use crate::value::Value;
use fastiter_runtime::abi::{self, Partial};

pub mod partials;

/// Why a run produced no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// The Python exception CPython raises for the same pipeline.
    #[error("{0}")]
    Python(ErrCode),
    #[error("cancelled")]
    Cancelled,
    /// Something fastiter declines to run (a range longer than 2**63 - 1 elements, ...).
    #[error("{0}")]
    Unsupported(String),
    /// As `Python`, with the call that raised: from CPython 3.14 a `math` domain error's
    /// message names the function's expectation and the argument ("expected a positive
    /// input, got -5.0"), so the message is the running CPython's for this very call.
    #[error("{0}")]
    PythonCall(ErrCode, Box<ErrCall>),
}

impl ExecError {
    /// The Python exception's code, with or without its call.
    pub fn python_code(&self) -> Option<ErrCode> {
        match self {
            ExecError::Python(c) | ExecError::PythonCall(c, _) => Some(*c),
            _ => None,
        }
    }

    /// The error of a code the interpreter returned (an interrupt is a cancellation).
    pub fn python(code: ErrCode) -> ExecError {
        ExecError::raised(code, None)
    }

    pub fn raised(code: ErrCode, call: Option<Box<ErrCall>>) -> ExecError {
        if code == ErrCode::Interrupted {
            return ExecError::Cancelled;
        }
        match call {
            Some(c) => ExecError::PythonCall(code, c),
            None => ExecError::Python(code),
        }
    }
}

/// A call that raised: the function as Python names it (`math.log`) and its arguments with
/// their Python types (`math.log(-5)` and `math.log(-5.0)` say different things on 3.14).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrCall {
    pub func: &'static str,
    pub args: Vec<Value>,
}

impl ErrCall {
    /// Whether an error's message may depend on the call's arguments, on some CPython: those
    /// errors are worth finding the call of when a kernel raises them.
    pub fn names_arguments(code: ErrCode) -> bool {
        code == ErrCode::MathDomain
    }
}

/// The evaluated source of one run.
#[derive(Debug, Clone)]
pub enum SourceData {
    /// Element `i` is `start + i * step`.
    Range {
        start: BigInt,
        step: BigInt,
        len: u64,
    },
    List(Vec<Value>),
    Buffer(BufferArg),
    /// A range, then another: `range(..).chain(range(..))`. Each part is (start, step, len).
    Chain([(BigInt, BigInt, u64); 2]),
}

/// An input buffer for one run: contiguous elements of `dtype` at `ptr`.
#[derive(Debug, Clone, Copy)]
pub struct BufferArg {
    ptr: *const u8,
    len: usize,
    dtype: Dtype,
    /// Elements from one position to the next (`step_by`); 1 as passed in.
    stride: usize,
    /// A second buffer this one is zipped with (`zip`): its address, length and dtype.
    zip: Option<(*const u8, usize, Dtype)>,
    /// A window ([`BufferArg::window`]): the position of the element at `ptr` in an input of
    /// `len` elements, of which only `held` from there are here. 0 and `len` otherwise.
    base: usize,
    held: usize,
}

// SAFETY: a BufferArg is only read, and `BufferArg::new`'s contract keeps the memory alive and
// unchanged for the run, on whichever thread reads it.
unsafe impl Send for BufferArg {}
// SAFETY: as above: shared reads only.
unsafe impl Sync for BufferArg {}

impl BufferArg {
    /// # Safety
    /// `ptr` points to `len` contiguous, initialised, properly aligned elements of `dtype`,
    /// which stay alive and are not written while any run using this `BufferArg` executes.
    pub unsafe fn new(ptr: *const u8, len: usize, dtype: Dtype) -> BufferArg {
        BufferArg {
            ptr,
            len,
            dtype,
            stride: 1,
            zip: None,
            base: 0,
            held: len,
        }
    }

    /// Part of a longer input, for running some of its chunks elsewhere than the rest (a
    /// cluster task holds one block of a distributed array): positions `[base, base + held)`
    /// of an input of `total` elements, the first of them at `ptr`. Chunks that read
    /// positions outside the part must not run (`exec::partials` checks), and views
    /// (`skip`, `step_by`, `zip`) are refused: they would move positions.
    ///
    /// # Safety
    /// As `new`, for `ptr`, `held` and `dtype`.
    pub unsafe fn window(
        ptr: *const u8,
        held: usize,
        dtype: Dtype,
        base: usize,
        total: usize,
    ) -> BufferArg {
        assert!(base + held <= total, "a window inside the input");
        BufferArg {
            len: total,
            base,
            held,
            // SAFETY: this function's contract is `new`'s.
            ..unsafe { BufferArg::new(ptr, held, dtype) }
        }
    }

    /// The positions this buffer holds (all of them, but for a window).
    pub fn held(&self) -> std::ops::Range<usize> {
        self.base..self.base + self.held
    }

    fn is_window(&self) -> bool {
        self.base != 0 || self.held != self.len
    }

    /// This buffer zipped with a second one (`.zip(...)` of two inputs).
    ///
    /// # Safety
    /// As `new`, for `ptr`, `len` and `dtype`.
    pub unsafe fn with_zip(self, ptr: *const u8, len: usize, dtype: Dtype) -> BufferArg {
        BufferArg {
            zip: Some((ptr, len, dtype)),
            ..self
        }
    }

    /// The buffer this one is zipped with, as a buffer of its own.
    pub fn zipped(&self) -> Option<BufferArg> {
        // SAFETY: `with_zip`'s contract.
        self.zip
            .map(|(ptr, len, dtype)| unsafe { BufferArg::new(ptr, len, dtype) })
    }

    /// Positions `off, off + mul, ...` (`len` of them) of this buffer's positions.
    fn view(self, off: usize, mul: usize, len: usize) -> BufferArg {
        debug_assert!(len == 0 || off + (len - 1) * mul < self.len);
        BufferArg {
            // SAFETY: `off` is a position of the buffer when any remain (and 0 otherwise).
            ptr: unsafe {
                self.ptr.add(if len == 0 {
                    0
                } else {
                    off * self.stride * self.dtype.size()
                })
            },
            len,
            dtype: self.dtype,
            stride: self.stride * mul,
            zip: self.zip,
            base: 0,
            held: len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Element `i` as a Python value.
    pub fn get(&self, i: usize) -> Value {
        assert!(
            self.held().contains(&i),
            "buffer index {i} out of bounds ({:?} of {})",
            self.held(),
            self.len
        );
        // SAFETY: `i` is held, and `new`'s contract makes `ptr[..held]` valid, aligned elements
        // of `dtype`; a view's positions are positions of the buffer passed in.
        let i = (i - self.base) * self.stride;
        unsafe {
            let p = self.ptr;
            match self.dtype {
                Dtype::I8 => Value::int((p as *const i8).add(i).read() as i64),
                Dtype::I16 => Value::int((p as *const i16).add(i).read() as i64),
                Dtype::I32 => Value::int((p as *const i32).add(i).read() as i64),
                Dtype::I64 => Value::int((p as *const i64).add(i).read()),
                Dtype::U8 => Value::int(p.add(i).read() as i64),
                Dtype::U16 => Value::int((p as *const u16).add(i).read() as i64),
                Dtype::U32 => Value::int((p as *const u32).add(i).read() as i64),
                Dtype::F32 => Value::Float((p as *const f32).add(i).read() as f64),
                Dtype::F64 => Value::Float((p as *const f64).add(i).read()),
                Dtype::Bool => Value::Bool(p.add(i).read() != 0),
                Dtype::Num => {
                    let q = (p as *const u64).add(2 * i);
                    Value::from_tagged(q.read(), q.add(1).read())
                }
            }
        }
    }
}

impl SourceData {
    pub fn len(&self) -> u64 {
        match self {
            SourceData::Range { len, .. } => *len,
            SourceData::Chain([a, b]) => a.2 + b.2,
            SourceData::List(items) => items.len() as u64,
            SourceData::Buffer(b) => b.len as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: i64) -> Value {
        match self {
            SourceData::Range { start, step, .. } => Value::Int(start + step * BigInt::from(i)),
            SourceData::Chain([a, b]) => {
                let (part, j) = if (i as u64) < a.2 {
                    (a, i)
                } else {
                    (b, i - a.2 as i64)
                };
                Value::Int(&part.0 + &part.1 * BigInt::from(j))
            }
            SourceData::List(items) => items[i as usize].clone(),
            SourceData::Buffer(b) => b.get(i as usize),
        }
    }
}

/// A chunk's accumulated result, exact.
#[derive(Debug, Clone, PartialEq)]
pub enum Acc {
    IntSum(BigInt),
    /// A sum of tagged numbers: the exact sum of the ints (and bools) before the chunk's
    /// first float, and the compensated sum `(s, c)` of the elements from that float on
    /// (ints converted one by one), if a float came.
    MixedSum {
        pre: BigInt,
        float: Option<(f64, f64)>,
    },
    /// Neumaier sum and compensation, and how many elements were added (an empty float sum
    /// is the int 0, as in Python).
    FloatSum {
        s: f64,
        c: f64,
        n: u64,
    },
    Count(u64),
    Extreme {
        value: Option<Value>,
        nan_seen: bool,
    },
    /// `any`/`all` went through the chunk without deciding.
    NotFound,
    Reduce(Value),
    Items(Vec<Value>),
    /// A kernel's collected items, as slots of the element type: `count` of them written at
    /// position `lo` of the run's output buffer.
    Slots {
        lo: usize,
        count: usize,
    },
    Product(BigInt),
    /// `min_by_key`/`max_by_key`: the best element so far and its key.
    ExtremeBy {
        best: Option<(Value, Value)>,
        nan_seen: bool,
    },
}

/// What one chunk produced.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkOut {
    Done(Acc),
    Error {
        index: i64,
        code: ErrCode,
        /// The call that raised, when the interpreter ran it (see [`ErrCall`]).
        call: Option<Box<ErrCall>>,
    },
    /// An early-exit consumer decided at this element. `find_*`: `value` is the element and
    /// `before` how many elements reached the consumer earlier in the chunk.
    Found {
        index: i64,
        value: Value,
        before: u64,
    },
}

impl ChunkOut {
    pub fn decisive(&self) -> bool {
        !matches!(self, ChunkOut::Done(_))
    }
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    pub threads: usize,
    /// Use the compiled kernel (false: the reference interpreter only, `--no-jit`).
    pub jit: bool,
    pub cancel: Option<&'a AtomicBool>,
}

/// What a run did, for `--time`.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub elements: u64,
    pub threads: usize,
    pub run_time: Duration,
    /// Chunks (or whole runs) the exact interpreter computed.
    pub interp_chunks: usize,
    pub jit: bool,
}

/// Evaluate the source expressions (over parameters only).
pub fn eval_source(
    p: &Pipeline,
    params: &[Value],
    buffer: Option<BufferArg>,
) -> Result<SourceData, ExecError> {
    let src = eval_plain_source(p, params, buffer)?;
    if p.view.is_empty() {
        return Ok(src);
    }
    if buffer.is_some_and(|b| b.is_window()) {
        return Err(ExecError::Unsupported(
            "part of a buffer cannot run a pipeline that moves positions (skip, take, \
             step_by, zip)"
                .into(),
        ));
    }
    if let (
        [ViewOp::Chain { start, stop, step }],
        SourceData::Range {
            start: a0,
            step: a1,
            len: la,
        },
    ) = (p.view.as_slice(), &src)
    {
        let (b0, b1, lb) = eval_range(&mut Interp::new(p, params), start, stop, step)?;
        let lb = lb
            .to_u64()
            .filter(|l| l.checked_add(*la).is_some_and(|t| t <= i64::MAX as u64))
            .ok_or_else(|| ExecError::Unsupported("the chained ranges are too long".into()))?;
        return Ok(SourceData::Chain([
            (a0.clone(), a1.clone(), *la),
            (b0, b1, lb),
        ]));
    }
    // Positions off, off + mul, ... (len of them) of the source as written.
    let (mut off, mut mul, mut len) = (BigInt::zero(), BigInt::from(1), BigInt::from(src.len()));
    let mut it = Interp::new(p, params);
    let mut int = |e: &Expr| eval_int(&mut it, e);
    for op in &p.view {
        match op {
            ViewOp::Skip(n) | ViewOp::Take(n) => {
                let n = int(n)?;
                if n.is_negative() {
                    return Err(ExecError::Python(ErrCode::NegativeCount));
                }
                if matches!(op, ViewOp::Skip(_)) {
                    let k = n.min(len.clone());
                    off += &k * &mul;
                    len -= k;
                } else {
                    len = len.min(n);
                }
            }
            ViewOp::StepBy(k) => {
                let k = int(k)?;
                if k < BigInt::from(1) {
                    return Err(ExecError::Python(ErrCode::StepByZero));
                }
                len = (len + &k - 1) / &k;
                mul *= k;
            }
            ViewOp::Chain { .. } => unreachable!("lowering puts chain alone on a range"),
            ViewOp::ZipRange { start, stop, step } => {
                len = len.min(eval_range(&mut Interp::new(p, params), start, stop, step)?.2);
            }
            ViewOp::ZipBuffer(_) => {
                let other = match &src {
                    SourceData::Buffer(b) => b.zipped(),
                    _ => None,
                };
                let other = other.ok_or_else(|| {
                    ExecError::Unsupported("the pipeline zips a second buffer: pass it".into())
                })?;
                len = len.min(BigInt::from(other.len()));
            }
        }
    }
    let small = |v: &BigInt| v.to_u64().filter(|v| *v <= i64::MAX as u64);
    Ok(match src {
        SourceData::Range { start, step, .. } => SourceData::Range {
            start: start + &off * &step,
            // One element: any step (the product might not fit a slot).
            step: if len <= BigInt::from(1) {
                step
            } else {
                step * mul
            },
            len: small(&len).expect("at most the source's length"),
        },
        SourceData::Chain(_) => unreachable!("chain is never combined with other views"),
        SourceData::List(items) => {
            let (off, len) = (small(&off), small(&len).expect("bounded"));
            let mul = small(&mul).unwrap_or(u64::MAX) as usize;
            SourceData::List(
                items
                    .into_iter()
                    .skip(off.map_or(usize::MAX, |o| o as usize))
                    .step_by(mul.max(1))
                    .take(len as usize)
                    .collect(),
            )
        }
        SourceData::Buffer(b) => {
            let len = small(&len).expect("bounded") as usize;
            if len == 0 {
                SourceData::Buffer(b.view(0, 1, 0))
            } else {
                // Every remaining position is inside the buffer, so these fit.
                let off = small(&off).expect("inside the buffer") as usize;
                let mul = if len == 1 {
                    1
                } else {
                    small(&mul).expect("inside") as usize
                };
                SourceData::Buffer(b.view(off, mul, len))
            }
        }
    })
}

/// An int expression over parameters (range bounds, view counts).
fn eval_int(it: &mut Interp, e: &Expr) -> Result<BigInt, ExecError> {
    match it.eval(e).map_err(ExecError::python)? {
        Value::Int(v) => Ok(v),
        _ => unreachable!("verified IR: an int expression"),
    }
}

/// `range(start, stop, step)`'s bounds, evaluated in order: its start, step and length
/// (ValueError on a zero step, as `range()` raises).
fn eval_range(
    it: &mut Interp,
    start: &Expr,
    stop: &Expr,
    step: &Expr,
) -> Result<(BigInt, BigInt, BigInt), ExecError> {
    let (start, stop, step) = (
        eval_int(it, start)?,
        eval_int(it, stop)?,
        eval_int(it, step)?,
    );
    if step.is_zero() {
        return Err(ExecError::Python(ErrCode::RangeStepZero));
    }
    let len = pyops::range_len(&start, &stop, &step);
    Ok((start, step, len))
}

fn eval_plain_source(
    p: &Pipeline,
    params: &[Value],
    buffer: Option<BufferArg>,
) -> Result<SourceData, ExecError> {
    let mut it = Interp::new(p, params);
    match &p.source {
        Source::Buffer { name, dtype } => match buffer {
            Some(b) if b.dtype == *dtype => Ok(SourceData::Buffer(b)),
            Some(b) => Err(ExecError::Unsupported(format!(
                "buffer `{name}` was compiled for {} elements but {} were given",
                dtype.name(),
                b.dtype.name()
            ))),
            None => Err(ExecError::Unsupported(format!(
                "no buffer given for `{name}`"
            ))),
        },
        Source::Range { start, stop, step } => {
            let (start, step, len) = eval_range(&mut it, start, stop, step)?;
            let len = len
                .to_u64()
                .filter(|l| *l <= i64::MAX as u64)
                .ok_or_else(|| {
                    ExecError::Unsupported(format!("range of {len} elements is too long"))
                })?;
            Ok(SourceData::Range { start, step, len })
        }
        Source::List { items, .. } => {
            let mut out = Vec::with_capacity(items.len());
            for e in items {
                out.push(it.eval(e).map_err(ExecError::python)?);
            }
            Ok(SourceData::List(out))
        }
    }
}

/// The kernel environment: parameter slots, then the source's slots (range: start, step;
/// list: a pointer to the items). None when a value does not fit a slot (an int outside
/// i64): such a run goes to the interpreter.
struct Env {
    slots: Vec<u64>,
    _items: Vec<u64>,
}

fn build_env(params: &[Value], src: &SourceData, tagged: bool) -> Option<Env> {
    let mut slots = Vec::with_capacity(params.len() + 2);
    for v in params {
        slots.push(v.to_slot()?);
    }
    let mut items = Vec::new();
    match src {
        SourceData::Range { start, step, len } => {
            // The kernel computes elements in i64: the first and the last must fit.
            let last = start + step * BigInt::from(len.saturating_sub(1));
            last.to_i64()?;
            slots.push(start.to_i64()? as u64);
            slots.push(step.to_i64()? as u64);
        }
        SourceData::List(values) => {
            for v in values {
                // A list of tagged numbers (items of several types) has two slots an item.
                if tagged {
                    let (lo, hi) = v.to_tagged()?;
                    items.extend([lo, hi]);
                } else {
                    items.push(v.to_slot()?);
                }
            }
            slots.push(items.as_ptr() as u64);
        }
        SourceData::Buffer(b) => {
            // A window's element `i` is at `ptr + (i - base) * size`: the kernel adds
            // `i * size` to this address, which is never read itself.
            slots.push((b.ptr as u64).wrapping_sub((b.base * b.dtype.size()) as u64));
            slots.push((b.stride * b.dtype.size()) as u64);
            // The zipped buffer's address (0 when none), read at the element's position.
            slots.push(b.zip.map_or(0, |z| z.0 as u64));
        }
        SourceData::Chain(parts) => {
            for (start, step, len) in parts {
                let last = start + step * BigInt::from(len.saturating_sub(1));
                last.to_i64()?;
                slots.push(start.to_i64()? as u64);
                slots.push(step.to_i64()? as u64);
            }
            slots.push(parts[0].2);
        }
    }
    Some(Env {
        slots,
        _items: items,
    })
}

/// What every chunk of one run shares: the evaluated source, the kernel's environment, and
/// how a chunk is computed (the kernel, the interpreter where the kernel cannot be exact).
pub(crate) struct Chunks<'a> {
    pub(crate) p: &'a Pipeline,
    kernel: Option<&'a Kernel>,
    params: &'a [Value],
    pub(crate) src: SourceData,
    env: Option<Env>,
    elem_ty: Type,
    cancel: Option<&'a AtomicBool>,
    interp_chunks: std::sync::atomic::AtomicUsize,
}

impl<'a> Chunks<'a> {
    pub(crate) fn new(
        p: &'a Pipeline,
        kernel: Option<&'a Kernel>,
        params: &'a [Value],
        buffer: Option<BufferArg>,
        opts: &RunOptions<'a>,
    ) -> Result<Chunks<'a>, ExecError> {
        let src = eval_source(p, params, buffer)?;
        let env = if opts.jit {
            build_env(params, &src, p.source.elem_type() == Type::Num)
        } else {
            None
        };
        Ok(Chunks {
            p,
            kernel: kernel.filter(|_| env.is_some()),
            params,
            src,
            env,
            elem_ty: p.elem_type(),
            cancel: opts.cancel,
            interp_chunks: Default::default(),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.src.len()
    }

    /// Slots a collected item takes.
    pub(crate) fn per_item(&self) -> usize {
        slots_per(self.elem_ty)
    }

    /// Whether `collect` chunks write their items as slots (from `out`) rather than values.
    pub(crate) fn writes_slots(&self) -> bool {
        self.kernel.is_some() && matches!(self.p.consumer, Consumer::Collect)
    }

    /// Chunk `[lo, hi)`; a compiled `collect` writes its items from `out` (room for
    /// `hi - lo` items). Polls the run's cancel flag in its loops.
    pub(crate) fn run(&self, lo: i64, hi: i64, out: *mut u64) -> ChunkOut {
        fastiter_runtime::interrupt::watching(self.cancel, || self.compute(lo, hi, out))
    }

    fn compute(&self, lo: i64, hi: i64, out: *mut u64) -> ChunkOut {
        let p = self.p;
        if let (Some(k), Some(env)) = (self.kernel, self.env.as_ref()) {
            if let Some(out) = run_kernel(p, k, &env.slots, lo, hi, self.elem_ty, out) {
                return match out {
                    ChunkOut::Error { index, code, .. } if ErrCall::names_arguments(code) => {
                        // The kernel knows only the error's kind: the interpreter runs the
                        // chunk up to that element again to find the call (a reduce's
                        // accumulator needs the elements before it; a stage, only its own).
                        let from = if matches!(p.consumer, Consumer::Reduce { .. }) {
                            lo
                        } else {
                            index
                        };
                        match Interp::new(p, self.params).run_chunk(&self.src, from, index + 1) {
                            e @ ChunkOut::Error {
                                index: i, code: c, ..
                            } if i == index && c == code => e,
                            _ => ChunkOut::Error {
                                index,
                                code,
                                call: None,
                            },
                        }
                    }
                    out => out,
                };
            }
        }
        self.interp_chunks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Interp::new(p, self.params).run_chunk(&self.src, lo, hi)
    }

    /// Whether combining these chunks needs one sequential scan of the whole input instead
    /// (a NaN met by a float `min`/`max`, a mixed sum whose later ints cannot be converted).
    pub(crate) fn needs_rescan(outs: &[ChunkOut]) -> bool {
        let nan_seen = outs.iter().any(|o| {
            matches!(
                o,
                ChunkOut::Done(
                    Acc::Extreme { nan_seen: true, .. } | Acc::ExtremeBy { nan_seen: true, .. }
                )
            )
        });
        (nan_seen || mixed_sum_needs_scan(outs)) && outs.len() > 1
    }
}

/// Run a pipeline. `kernel` is None when only the interpreter is to be used.
pub fn run(
    p: &Pipeline,
    kernel: Option<&Kernel>,
    params: &[Value],
    buffer: Option<BufferArg>,
    opts: &RunOptions,
) -> Result<(Value, RunStats), ExecError> {
    let t0 = Instant::now();
    let chunks = Chunks::new(p, kernel, params, buffer, opts)?;
    let len = chunks.len();
    // `collect`: chunk [lo, hi) writes its items from position lo of one buffer (pages that
    // no chunk fills are never touched); combining moves them together in order.
    let mut collected: Vec<u64> = Vec::new();
    let per = chunks.per_item();
    if chunks.writes_slots() {
        collected.reserve_exact(len as usize * per);
    }
    let out_base = OutPtr(collected.as_mut_ptr());
    // The buffer has room for `len` items and chunks are disjoint ranges of positions, so
    // each kernel writes only its own `[lo, hi)` (other consumers ignore `out`).
    let run_range =
        |lo: i64, hi: i64| chunks.run(lo, hi, out_base.get().wrapping_add(lo as usize * per));

    let outs = if p.consumer.is_fold() {
        // A fold is sequential: its operator never combines two partial results.
        vec![run_range(0, len as i64)]
    } else {
        fastiter_runtime::execute(len, opts.threads.max(1), opts.cancel, |_, lo, hi| {
            let out = run_range(lo, hi);
            let decisive = out.decisive();
            (out, decisive)
        })
        .map_err(|_| ExecError::Cancelled)?
    };

    let outs = if Chunks::needs_rescan(&outs) {
        // With a NaN, a float min/max depends on the exact sequence of comparisons: redo it
        // as one sequential scan.
        vec![run_range(0, len as i64)]
    } else {
        outs
    };
    let value = combine(p, params, outs, collected)?;
    let stats = RunStats {
        elements: len,
        threads: opts.threads.max(1),
        run_time: t0.elapsed(),
        interp_chunks: chunks.interp_chunks.into_inner(),
        jit: chunks.kernel.is_some(),
    };
    Ok((value, stats))
}

/// Call the kernel on `[lo, hi)`; None when it reports an inexact operation.
fn run_kernel(
    p: &Pipeline,
    k: &Kernel,
    env: &[u64],
    lo: i64,
    hi: i64,
    elem_ty: Type,
    out: *mut u64,
) -> Option<ChunkOut> {
    let mut part = Partial::new(out);
    let status = k.call(env, lo, hi, &mut part);
    match status {
        abi::STATUS_OK => {}
        abi::STATUS_ERROR => {
            let code = ErrCode::from_u32(part.code)?;
            return Some(ChunkOut::Error {
                index: part.index,
                code,
                call: None,
            });
        }
        abi::STATUS_FOUND => {
            let value = match &p.consumer {
                Consumer::Find { .. } => slot_value(part.acc0, part.acc1, elem_ty),
                _ => Value::None,
            };
            return Some(ChunkOut::Found {
                index: part.index,
                value,
                before: part.count as u64,
            });
        }
        _ => return None,
    }
    let acc = match &p.consumer {
        Consumer::Sum if elem_ty == Type::Float => Acc::FloatSum {
            s: f64::from_bits(part.acc0),
            c: f64::from_bits(part.acc1),
            n: part.count as u64,
        },
        Consumer::Sum if elem_ty == Type::Num => Acc::MixedSum {
            pre: BigInt::from(int_sum(&part)),
            float: (part.flags & abi::FLAG_FLOAT_SEEN != 0)
                .then(|| (f64::from_bits(part.acc2), f64::from_bits(part.acc3))),
        },
        Consumer::Sum => Acc::IntSum(BigInt::from(int_sum(&part))),
        Consumer::Count => Acc::Count(part.count as u64),
        Consumer::Min | Consumer::Max => Acc::Extreme {
            value: (part.count > 0).then(|| slot_value(part.acc0, part.acc1, elem_ty)),
            nan_seen: part.flags & abi::FLAG_NAN_SEEN != 0,
        },
        Consumer::Any(_) | Consumer::All(_) => Acc::NotFound,
        Consumer::Reduce { acc, .. } => {
            Acc::Reduce(slot_value(part.acc0, part.acc1, p.vars[acc.0 as usize].ty))
        }
        Consumer::Product => Acc::Product(BigInt::from(part.acc0 as i64)),
        Consumer::Find { .. } => Acc::Count(part.count as u64),
        Consumer::ExtremeBy { key, .. } => Acc::ExtremeBy {
            best: (part.count > 0).then(|| {
                (
                    slot_value(part.acc0, part.acc1, elem_ty),
                    slot_value(part.acc2, part.acc3, key.body.ty),
                )
            }),
            nan_seen: part.flags & abi::FLAG_NAN_SEEN != 0,
        },
        Consumer::Collect => Acc::Slots {
            lo: lo as usize,
            count: part.count as usize,
        },
    };
    Some(ChunkOut::Done(acc))
}

/// Combine chunk results in order into the pipeline's value.
/// The run's `collect` buffer, shared by the chunks (each writes its own positions).
#[derive(Clone, Copy)]
struct OutPtr(*mut u64);
// SAFETY: chunks write disjoint positions; the buffer outlives the run.
unsafe impl Send for OutPtr {}
// SAFETY: as above.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    fn get(self) -> *mut u64 {
        self.0
    }
}

pub(crate) fn combine(
    p: &Pipeline,
    params: &[Value],
    outs: Vec<ChunkOut>,
    mut collected: Vec<u64>,
) -> Result<Value, ExecError> {
    let mut accs = Vec::with_capacity(outs.len());
    // Elements that reached the consumer in the chunks before (for `position_*`).
    let mut seen = 0u64;
    for o in outs {
        match o {
            ChunkOut::Done(a) => {
                if let Acc::Count(n) = a {
                    seen += n;
                }
                accs.push(a)
            }
            ChunkOut::Error { code, call, .. } => {
                if matches!(p.consumer, Consumer::Sum) && p.elem_type() == Type::Num {
                    // Adding the ints before the first float to it may have raised earlier.
                    mixed_sum(std::mem::take(&mut accs))?;
                }
                return Err(ExecError::raised(code, call));
            }
            ChunkOut::Found { value, before, .. } => {
                return Ok(match &p.consumer {
                    Consumer::Find {
                        position: false, ..
                    } => value,
                    Consumer::Find { position: true, .. } => Value::Int((seen + before).into()),
                    c => Value::Bool(matches!(c, Consumer::Any(_))),
                })
            }
        }
    }
    Ok(match &p.consumer {
        Consumer::Sum if p.elem_type() == Type::Num => mixed_sum(accs)?,
        Consumer::Sum => {
            let (mut total, mut fs, mut fc, mut n, mut float) =
                (BigInt::zero(), 0.0, 0.0, 0u64, false);
            for a in accs {
                match a {
                    Acc::IntSum(v) => total += v,
                    Acc::FloatSum { s, c, n: k } => {
                        float = true;
                        pyops::neumaier_add(&mut fs, &mut fc, s);
                        fc += c;
                        n += k;
                    }
                    _ => unreachable!(),
                }
            }
            if float && n > 0 {
                Value::Float(pyops::neumaier_result(fs, fc))
            } else {
                Value::Int(total)
            }
        }
        Consumer::Count => Value::Int(
            accs.iter()
                .map(|a| if let Acc::Count(n) = a { *n } else { 0 })
                .sum::<u64>()
                .into(),
        ),
        Consumer::Min | Consumer::Max => {
            let want = if matches!(p.consumer, Consumer::Min) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
            let mut best: Option<Value> = None;
            for a in accs {
                if let Acc::Extreme { value: Some(v), .. } = a {
                    let take = match &best {
                        None => true,
                        Some(b) => compare_values(&v, b) == Some(want),
                    };
                    if take {
                        best = Some(v);
                    }
                }
            }
            best.unwrap_or(Value::None)
        }
        Consumer::Any(_) => Value::Bool(false),
        Consumer::All(_) => Value::Bool(true),
        Consumer::Reduce {
            identity,
            acc,
            item,
            op,
            fold,
        } => {
            let mut it = Interp::new(p, params);
            let mut parts = accs.into_iter().map(|a| match a {
                Acc::Reduce(v) => v,
                _ => unreachable!(),
            });
            if let Some(then) = fold {
                // One sequential chunk (`run`): its accumulator is the fold's one result.
                let v = match parts.next() {
                    Some(v) => v,
                    None => it.eval(identity).map_err(ExecError::python)?,
                };
                return Ok(fold_then(*then, v));
            }
            match parts.next() {
                None => it.eval(identity).map_err(ExecError::python)?,
                Some(first) => {
                    let mut total = first;
                    for v in parts {
                        total = it
                            .apply2(*acc, *item, op, total, v)
                            .map_err(ExecError::python)?;
                    }
                    total
                }
            }
        }
        Consumer::Product => {
            let mut total = BigInt::from(1);
            for a in accs {
                if let Acc::Product(v) = a {
                    total *= v;
                }
            }
            Value::Int(total)
        }
        Consumer::Find { .. } => Value::None,
        Consumer::ExtremeBy { max, .. } => {
            let want = if *max {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Less
            };
            let mut best: Option<(Value, Value)> = None;
            for a in accs {
                if let Acc::ExtremeBy {
                    best: Some((v, k)), ..
                } = a
                {
                    let take = match &best {
                        None => true,
                        Some((_, bk)) => compare_values(&k, bk) == Some(want),
                    };
                    if take {
                        best = Some((v, k));
                    }
                }
            }
            best.map_or(Value::None, |(v, _)| v)
        }
        Consumer::Collect => {
            let ty = p.elem_type();
            let per = slots_per(ty);
            // SAFETY: each chunk's kernel initialised `count` items (`per` slots each) from
            // position `lo`.
            let chunk = |lo: usize, count: usize| unsafe {
                std::slice::from_raw_parts(collected.as_ptr().add(per * lo), per * count)
            };
            // Tagged numbers come back as values: a packed list has one type.
            if ty != Type::Num && accs.iter().all(|a| matches!(a, Acc::Slots { .. })) {
                let mut end = 0;
                for a in &accs {
                    if let Acc::Slots { lo, count } = *a {
                        // SAFETY: `lo >= end` (chunks come in order and a chunk writes at most
                        // as many items as it has positions), both ranges are in the buffer,
                        // and `[lo, lo + count)` is initialised.
                        unsafe {
                            let base = collected.as_mut_ptr();
                            std::ptr::copy(base.add(lo), base.add(end), count);
                        }
                        end += count;
                    }
                }
                // SAFETY: `[0, end)` now holds the chunks' items, in order.
                unsafe { collected.set_len(end) };
                return Ok(Value::Packed(ty, collected));
            }
            let mut items = Vec::new();
            for a in accs {
                match a {
                    Acc::Items(v) => items.extend(v),
                    Acc::Slots { lo, count } => items.extend(
                        chunk(lo, count)
                            .chunks_exact(per)
                            .map(|h| slot_value(h[0], h[per - 1], ty)),
                    ),
                    _ => {}
                }
            }
            Value::List(items)
        }
    })
}

/// A plain range pipeline prepared for runs of one chunk on the calling thread: the per-call
/// path of `@fastiter.compile` and of small ranges from Python. No Rayon, no allocation (but
/// a `collect`'s items), and the value `run` would give: the range is at most one chunk long
/// (`fastiter_runtime::MIN_CHUNK`), so `run` would decode and combine exactly this one chunk.
#[derive(Debug, Clone)]
pub struct Inline {
    start: Bound,
    stop: Bound,
    step: Bound,
    consumer: InlineConsumer,
    elem_ty: Type,
}

/// A range bound: most are a constant or a parameter; anything else is evaluated from the
/// parameter slots (`bound_value`).
#[derive(Debug, Clone)]
enum Bound {
    Const(i64),
    Param(usize),
    Expr(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum InlineConsumer {
    Sum,
    Count,
    Extreme,
    Any,
    All,
    Reduce,
    Collect,
    Product,
    Find { position: bool },
    ExtremeBy,
}

/// A pipeline's value from `Inline::run`, as plain data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InlineValue {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// An element of this type, as a kernel slot (see `Value::from_slot`).
    Slot(u64, Type),
    /// `collect`: the items are the slots in the `out` buffer given to `run`, of this type.
    Collected(Type),
}

impl Inline {
    /// None when `p` is not a range, without views, into a consumer this path decodes.
    pub fn new(p: &Pipeline) -> Option<Inline> {
        let Source::Range { start, stop, step } = &p.source else {
            return None;
        };
        if !p.view.is_empty() {
            return None;
        }
        let bound = |e: &Expr| match &e.kind {
            crate::ir::ExprKind::ConstInt(v) => v.to_i64().map(Bound::Const),
            crate::ir::ExprKind::Param(i) => Some(Bound::Param(*i as usize)),
            _ => Some(Bound::Expr(e.clone())),
        };
        let consumer = match &p.consumer {
            Consumer::Sum => InlineConsumer::Sum,
            Consumer::Count => InlineConsumer::Count,
            Consumer::Min | Consumer::Max => InlineConsumer::Extreme,
            Consumer::Any(_) => InlineConsumer::Any,
            Consumer::All(_) => InlineConsumer::All,
            Consumer::Reduce { .. } => InlineConsumer::Reduce,
            Consumer::Collect => InlineConsumer::Collect,
            Consumer::Product => InlineConsumer::Product,
            Consumer::Find { position, .. } => InlineConsumer::Find {
                position: *position,
            },
            Consumer::ExtremeBy { .. } => InlineConsumer::ExtremeBy,
        };
        // Tagged numbers: one decoding is enough for `@fastiter.compile`'s `min()` of one
        // element; the other consumers of them take `run`.
        let tagged = p.elem_type() == Type::Num
            || matches!(&p.consumer, Consumer::Reduce { acc, .. } if p.vars[acc.0 as usize].ty == Type::Num);
        if tagged && consumer != InlineConsumer::Extreme || p.consumer.is_fold() {
            return None;
        }
        Some(Inline {
            start: bound(start)?,
            stop: bound(stop)?,
            step: bound(step)?,
            consumer,
            elem_ty: p.elem_type(),
        })
    }

    /// The range's start, step and length for the parameter slots `params`, when it is one
    /// chunk whose elements all fit in i64. None otherwise (a bound that is not a plain i64
    /// computation, a zero step, a longer range): `run` then decides, exactly.
    pub fn range(&self, params: &[u64]) -> Option<(i64, i64, u64)> {
        let (start, stop, step) = (
            bound_value(&self.start, params)?,
            bound_value(&self.stop, params)?,
            bound_value(&self.step, params)?,
        );
        // Python's range length, in i128 so that no difference overflows (step 1 without
        // the i128 division).
        let (lo, hi, by) = (i128::from(start), i128::from(stop), i128::from(step));
        let len = match by {
            1 => (hi - lo).max(0),
            0 => return None,
            _ => crate::pyops::range_len_of(lo, hi, by),
        };
        if len > i128::from(fastiter_runtime::MIN_CHUNK) {
            return None;
        }
        // The kernel computes every element in i64: the last must fit (the first does).
        i64::try_from(lo + by * (len - 1).max(0)).ok()?;
        Some((start, step, len as u64))
    }

    /// Run `[0, len)` as one chunk: `env` holds the parameter slots, then the range's start
    /// and step (from `range`). A `collect` writes its items into `out` (cleared first).
    /// None: the kernel reported an inexact operation (or a code this build does not know):
    /// take `run`, which recomputes the chunk exactly.
    pub fn run(
        &self,
        k: &Kernel,
        env: &[u64],
        len: u64,
        out: &mut Vec<u64>,
    ) -> Option<Result<InlineValue, ExecError>> {
        use InlineConsumer as C;
        out.clear();
        if len == 0 {
            // No chunk: what `combine` gives for none.
            return Some(Ok(match self.consumer {
                C::Sum | C::Count => InlineValue::Int(0),
                C::Product => InlineValue::Int(1),
                C::Extreme | C::Find { .. } | C::ExtremeBy => InlineValue::None,
                C::Any => InlineValue::Bool(false),
                C::All => InlineValue::Bool(true),
                C::Collect => InlineValue::Collected(self.elem_ty),
                // The identity is an expression: the interpreter evaluates it.
                C::Reduce => return None,
            }));
        }
        let len = usize::try_from(len).ok()?;
        if self.consumer == C::Collect {
            out.reserve(len);
        }
        let mut part = Partial::new(out.as_mut_ptr());
        let status = k.call(env, 0, len as i64, &mut part);
        // A value's slot; a tagged number's type is in the high half (`acc1`).
        let slot = |lo: u64, hi: u64| {
            let ty = match self.elem_ty {
                Type::Num => Value::from_tagged(lo, hi).ty().unwrap_or(Type::Int),
                ty => ty,
            };
            InlineValue::Slot(lo, ty)
        };
        match status {
            abi::STATUS_OK => {}
            abi::STATUS_ERROR => {
                let code = ErrCode::from_u32(part.code)?;
                if ErrCall::names_arguments(code) {
                    return None; // `run` finds the call that raised
                }
                return Some(Err(ExecError::raised(code, None)));
            }
            // As `run_kernel`'s `Found`, then `combine` with no chunk before.
            abi::STATUS_FOUND => {
                return Some(Ok(match self.consumer {
                    C::Find { position: false } => slot(part.acc0, part.acc1),
                    C::Find { position: true } => InlineValue::Int(i128::from(part.count)),
                    c => InlineValue::Bool(c == C::Any),
                }))
            }
            _ => return None,
        }
        // As `run_kernel`'s `Done`, then `combine` of this one chunk.
        Some(Ok(match self.consumer {
            C::Sum if self.elem_ty == Type::Float => {
                if part.count == 0 {
                    InlineValue::Int(0)
                } else {
                    let (mut s, mut c) = (0.0, 0.0);
                    pyops::neumaier_add(&mut s, &mut c, f64::from_bits(part.acc0));
                    c += f64::from_bits(part.acc1);
                    InlineValue::Float(pyops::neumaier_result(s, c))
                }
            }
            C::Sum => InlineValue::Int(int_sum(&part)),
            C::Count => InlineValue::Int(i128::from(part.count)),
            C::Extreme | C::ExtremeBy if part.count > 0 => slot(part.acc0, part.acc1),
            C::Extreme | C::ExtremeBy | C::Find { .. } => InlineValue::None,
            C::Any => InlineValue::Bool(false),
            C::All => InlineValue::Bool(true),
            C::Reduce => slot(part.acc0, part.acc1),
            C::Product => InlineValue::Int(i128::from(part.acc0 as i64)),
            C::Collect => {
                let count = usize::try_from(part.count).ok().filter(|c| *c <= len)?;
                // SAFETY: the kernel wrote `count` (at most `len`, within the capacity)
                // initialised slots from the start of `out`'s buffer.
                unsafe { out.set_len(count) };
                InlineValue::Collected(self.elem_ty)
            }
        }))
    }
}

/// A range bound from parameter slots: constants, int parameters and checked `+ - *`; None
/// for anything else, or an overflow.
fn bound_value(b: &Bound, params: &[u64]) -> Option<i64> {
    match b {
        Bound::Const(v) => Some(*v),
        Bound::Param(i) => params.get(*i).map(|s| *s as i64),
        Bound::Expr(e) => expr_value(e, params),
    }
}

fn expr_value(e: &Expr, params: &[u64]) -> Option<i64> {
    use crate::ir::{BinOp, ExprKind};
    match &e.kind {
        ExprKind::ConstInt(v) => v.to_i64(),
        ExprKind::Param(i) => params.get(*i as usize).map(|s| *s as i64),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (expr_value(a, params)?, expr_value(b, params)?);
            match op {
                BinOp::IAdd => a.checked_add(b),
                BinOp::ISub => a.checked_sub(b),
                BinOp::IMul => a.checked_mul(b),
                // The optimiser turns `filter(x % k == r)` over a range into a stepped range
                // whose start is `s + ((r - s) & m)` or `s + (r - s) % k`: without these the
                // common filter would leave the inline path.
                BinOp::IBitAnd => Some(a & b),
                BinOp::IBitOr => Some(a | b),
                BinOp::IBitXor => Some(a ^ b),
                // Python's floor division and modulo (the result takes the divisor's sign).
                BinOp::IFloorDiv if b != 0 => {
                    let q = a.checked_div(b)?;
                    Some(if (a % b != 0) && ((a < 0) != (b < 0)) {
                        q - 1
                    } else {
                        q
                    })
                }
                BinOp::IMod if b != 0 => {
                    // `i64::MIN % -1` is 0 (only the quotient overflows).
                    let r = a.checked_rem(b).unwrap_or(0);
                    Some(if r != 0 && ((r < 0) != (b < 0)) {
                        r + b
                    } else {
                        r
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// An int sum's i128 accumulator, from a kernel's partial.
/// A sum of tagged numbers from its chunks' results, as CPython's `sum()` computes it: ints
/// add exactly until the first float, which the int sum so far is added to (correctly rounded;
/// `OverflowError` when it does not fit a float, as in CPython); from there on every element is
/// added as a float, compensated (Neumaier) as float sums are. A later chunk's ints arrive as
/// their exact sum, converted once (`run` rescans in one chunk when that would overflow).
fn mixed_sum(accs: Vec<Acc>) -> Result<Value, ExecError> {
    let to_float = |v: &BigInt| pyops::int_to_float(v).map_err(ExecError::python);
    let mut pre = BigInt::zero();
    let mut float: Option<(f64, f64)> = None;
    for a in accs {
        let Acc::MixedSum { pre: p, float: f } = a else {
            unreachable!("a mixed sum's chunks")
        };
        match &mut float {
            None => {
                pre += p;
                if let Some((s, c)) = f {
                    let (mut fs, mut fc) = (0.0, 0.0);
                    pyops::neumaier_add(&mut fs, &mut fc, to_float(&pre)?);
                    pyops::neumaier_add(&mut fs, &mut fc, s);
                    float = Some((fs, fc + c));
                }
            }
            Some((fs, fc)) => {
                if !p.is_zero() {
                    pyops::neumaier_add(fs, fc, to_float(&p)?);
                }
                if let Some((s, c)) = f {
                    pyops::neumaier_add(fs, fc, s);
                    *fc += c;
                }
            }
        }
    }
    Ok(match float {
        None => Value::Int(pre),
        Some((s, c)) => Value::Float(pyops::neumaier_result(s, c)),
    })
}

/// Whether a sum of tagged numbers must be recomputed as one sequential chunk: a chunk after
/// the first float has ints whose exact sum is past the float range, where CPython, adding
/// them one at a time, might reach an infinity or raise on one of them.
fn mixed_sum_needs_scan(outs: &[ChunkOut]) -> bool {
    let mut seen = false;
    for o in outs {
        if let ChunkOut::Done(Acc::MixedSum { pre, float }) = o {
            if seen && pyops::int_to_float(pre).is_err() {
                return true;
            }
            seen |= float.is_some();
        }
    }
    false
}

/// What the consumer after `fold` gives for the fold's one result `v`, as Python's
/// `sum([v])`, `min([v])`, `[v]`, `any([v])` ... do.
fn fold_then(then: crate::ir::FoldThen, v: Value) -> Value {
    use crate::ir::FoldThen as T;
    match then {
        // `0 + v`: a bool counts as an int, and `0 + -0.0` is `0.0`.
        T::Sum => match v {
            Value::Bool(b) => Value::int(i64::from(b)),
            Value::Float(f) => Value::Float(0.0 + f),
            v => v,
        },
        T::Count => Value::int(1),
        T::Min | T::Max => v,
        T::Collect => Value::List(vec![v]),
        T::Any | T::All => Value::Bool(crate::interp::truthy(&v)),
    }
}

/// A value from its slot (a tagged number: its two halves).
fn slot_value(lo: u64, hi: u64, ty: Type) -> Value {
    if ty == Type::Num {
        Value::from_tagged(lo, hi)
    } else {
        Value::from_slot(lo, ty)
    }
}

/// How many 8-byte slots an element of `ty` takes in a `collect` buffer.
fn slots_per(ty: Type) -> usize {
    if ty == Type::Num {
        2
    } else {
        1
    }
}

fn int_sum(part: &Partial) -> i128 {
    ((part.acc1 as u128) << 64 | part.acc0 as u128) as i128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinOp, ExprKind};

    fn bin(op: BinOp, a: i64, b: i64) -> Option<i64> {
        let leaf = |v: i64| Expr {
            kind: ExprKind::ConstInt(BigInt::from(v)),
            ty: Type::Int,
            span: Default::default(),
        };
        let e = Expr {
            kind: ExprKind::Binary(op, Box::new(leaf(a)), Box::new(leaf(b))),
            ty: Type::Int,
            span: Default::default(),
        };
        expr_value(&e, &[])
    }

    /// An inline range bound is Python's value of its expression, or None (then `run` decides).
    #[test]
    fn inline_bounds_follow_python() {
        let vals = [-7i64, -3, -2, -1, 0, 1, 2, 3, 7, i64::MIN, i64::MAX];
        for &a in &vals {
            for &b in &vals {
                let (x, y) = (BigInt::from(a), BigInt::from(b));
                let want = |r: Result<BigInt, ErrCode>| r.ok().and_then(|v| v.to_i64());
                assert_eq!(
                    bin(BinOp::IFloorDiv, a, b),
                    want(pyops::int_floordiv(&x, &y)),
                    "{a} // {b}"
                );
                assert_eq!(
                    bin(BinOp::IMod, a, b),
                    want(pyops::int_mod(&x, &y)),
                    "{a} % {b}"
                );
                assert_eq!(bin(BinOp::IBitAnd, a, b), Some(a & b));
            }
        }
    }
}
