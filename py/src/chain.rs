//! The chain API's per-call path: `ChainBase` (`ParallelIterator` itself, its Python methods
//! attached by `_pipeline`), a native `par_range` for exact ints, and the table of compiled
//! chains a consumer looks up before any Python code runs.
//!
//! A hit reads the range, checks every guard the Python side recorded when it compiled the
//! chain (the type of each number a stage reads, the identity of each function, module or
//! builtin it calls) on the stage functions of this very call, and runs the kernel inline.
//! Anything else (no entry, a guard that fails, `explain`, a non-range source) goes to the
//! Python path, `ParallelIterator._consume_slow`, which compiles and records the entry.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt, PyList, PyModule, PyRange, PyString, PyTuple, PyType};

use crate::{Kernel, Refused};

/// What the Python package lends the native path, set once by `_pipeline` at import.
struct Hooks {
    /// `_Source`, called as `_Source("range", range(...))` when Python code reads `_src`.
    source: Py<PyAny>,
    /// The Python `par_range`: anything but one to three exact ints within 64 bits.
    par_range: Py<PyAny>,
    /// `_callable(f, method)`: the check and `@fastiter.compile`'s unwrapping, for anything
    /// but a plain function.
    callable: Py<PyAny>,
    /// `_python_run(chain, consumer, carg)`: what a refused kernel falls back to.
    python_run: Py<PyAny>,
    /// The `_explaining` context variable: while it holds a list, consumers record instead.
    explaining: Py<PyAny>,
}

static HOOKS: PyOnceLock<Hooks> = PyOnceLock::new();

/// Lend the native path what it needs from `fastiter._pipeline` (once).
#[pyfunction]
pub(crate) fn chain_setup(
    py: Python<'_>,
    source: Py<PyAny>,
    par_range: Py<PyAny>,
    callable: Py<PyAny>,
    python_run: Py<PyAny>,
    explaining: Py<PyAny>,
) -> PyResult<()> {
    HOOKS
        .set(
            py,
            Hooks {
                source,
                par_range,
                callable,
                python_run,
                explaining,
            },
        )
        .map_err(|_| PyRuntimeError::new_err("fastiter._pipeline is set up once"))
}

fn hooks(py: Python<'_>) -> PyResult<&Hooks> {
    HOOKS
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("fastiter._pipeline is not imported"))
}

/// The source of `par_range` with exact int bounds within 64 bits: the fast path reads the
/// bounds without a Python object; the `_Source` Python code sees is made when first asked.
#[pyclass(frozen, module = "fastiter._native")]
pub(crate) struct Span {
    start: i64,
    stop: i64,
    step: i64,
    made: PyOnceLock<Py<PyAny>>,
}

impl Span {
    fn source<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let src = self.made.get_or_try_init(py, || {
            let range = PyRange::new_with_step(
                py,
                self.start as isize,
                self.stop as isize,
                self.step as isize,
            )?;
            hooks(py)?
                .source
                .call1(py, (pyo3::intern!(py, "range"), range))
        })?;
        Ok(src.bind(py).clone())
    }
}

/// A parallel ``range(start, stop, step)`` (``par_range(stop)`` counts from 0).
#[pyfunction]
#[pyo3(signature = (*args, **kwargs), text_signature = "(start, stop=None, step=1)")]
pub(crate) fn par_range(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let h = hooks(py)?;
    if kwargs.is_none_or(|k| k.is_empty()) {
        if let Some((start, stop, step)) = exact_bounds(args) {
            let span = Span {
                start,
                stop,
                step,
                made: PyOnceLock::new(),
            };
            let chain = ChainBase {
                src: Bound::new(py, span)?.into_any().unbind(),
                stages: PyTuple::empty(py).unbind(),
            };
            return Ok(Bound::new(py, chain)?.into_any().unbind());
        }
    }
    // Other types (`operator.index`), keywords, a zero step, ints past 64 bits: Python's
    // own checks and messages.
    Ok(h.par_range.bind(py).call(args, kwargs)?.unbind())
}

/// `(start, stop, step)` when `args` is one to three exact ints within 64 bits, step not 0.
fn exact_bounds(args: &Bound<'_, PyTuple>) -> Option<(i64, i64, i64)> {
    let int = |i: usize| -> Option<i64> {
        let o = args.get_borrowed_item(i).ok()?;
        if !o.is_exact_instance_of::<PyInt>() {
            return None;
        }
        o.extract::<i64>().ok()
    };
    let (start, stop, step) = match args.len() {
        1 => (0, int(0)?, 1),
        2 => (int(0)?, int(1)?, 1),
        3 => (int(0)?, int(1)?, int(2)?),
        _ => return None,
    };
    (step != 0).then_some((start, stop, step))
}

/// A chain of stages over a source, run when a consumer (``sum``, ``collect``, ...) is called.
///
/// Stages written as lambdas (or functions returning one expression) over numbers compile into
/// one native loop that runs in parallel with the GIL released; anything else runs as plain
/// Python with CPython's semantics. ``fastiter.explain(it)`` says which, and why.
//
// `ParallelIterator` itself: the source and the stages (a tuple of `(op, function, extra)`),
// and the stages and consumers that take the per-call fast path. `fastiter._pipeline` attaches
// the rest of its methods, written in Python, to this class when it is imported: a chain made
// here is then one allocation, where an instance of a Python subclass costs a type call.
#[pyclass(
    subclass,
    frozen,
    name = "ParallelIterator",
    module = "fastiter._pipeline"
)]
pub(crate) struct ChainBase {
    /// A `Span`, or the Python `_Source`.
    src: Py<PyAny>,
    stages: Py<PyTuple>,
}

#[pymethods]
impl ChainBase {
    #[new]
    #[pyo3(signature = (src, stages=None))]
    fn new(py: Python<'_>, src: Py<PyAny>, stages: Option<Py<PyTuple>>) -> Self {
        ChainBase {
            src,
            stages: stages.unwrap_or_else(|| PyTuple::empty(py).unbind()),
        }
    }

    // A stage's closure may hold the chain itself: the collector must see these references
    // (it breaks such a cycle by clearing the function or the cell).
    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.src)?;
        visit.call(&self.stages)
    }

    /// The source (`_Source`).
    #[getter]
    fn _src<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.src.bind(py).cast::<Span>() {
            Ok(span) => span.get().source(py),
            Err(_) => Ok(self.src.bind(py).clone()),
        }
    }

    /// The stages, as `(op, function, extra)` tuples.
    #[getter]
    fn _stages(&self, py: Python<'_>) -> Py<PyTuple> {
        self.stages.clone_ref(py)
    }

    /// Apply ``func`` to each element.
    fn map(slf: &Bound<'_, Self>, func: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        then(slf, pyo3::intern!(slf.py(), "map"), "map", func)
    }

    /// Keep the elements for which ``predicate`` is true.
    fn filter(slf: &Bound<'_, Self>, predicate: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        then(slf, pyo3::intern!(slf.py(), "filter"), "filter", predicate)
    }

    /// The sum of the elements (0 when empty).
    fn sum(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        consume(slf, "sum", None)
    }

    /// The number of elements.
    fn count(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        consume(slf, "count", None)
    }

    /// The smallest element (the first of equal ones), or None when empty.
    #[pyo3(signature = (key=None))]
    fn min(slf: &Bound<'_, Self>, key: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let carg = key.map(|k| callable(slf.py(), k, "min")).transpose()?;
        consume(slf, "min", carg)
    }

    /// The largest element (the first of equal ones), or None when empty.
    #[pyo3(signature = (key=None))]
    fn max(slf: &Bound<'_, Self>, key: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let carg = key.map(|k| callable(slf.py(), k, "max")).transpose()?;
        consume(slf, "max", carg)
    }

    /// Whether some element satisfies ``predicate`` (or is true); stops early.
    #[pyo3(signature = (predicate=None))]
    fn any(slf: &Bound<'_, Self>, predicate: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let carg = predicate
            .map(|p| callable(slf.py(), p, "any"))
            .transpose()?;
        consume(slf, "any", carg)
    }

    /// Whether every element satisfies ``predicate`` (or is true); stops early.
    #[pyo3(signature = (predicate=None))]
    fn all(slf: &Bound<'_, Self>, predicate: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let carg = predicate
            .map(|p| callable(slf.py(), p, "all"))
            .transpose()?;
        consume(slf, "all", carg)
    }

    /// The elements, in order, as a list.
    fn collect(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        consume(slf, "collect", None)
    }

    /// The consumer's value from the table of compiled chains, or `NotImplemented` when
    /// this chain has no entry there that still applies.
    #[pyo3(signature = (consumer, carg=None))]
    fn _fast(
        slf: &Bound<'_, Self>,
        consumer: &str,
        carg: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        Ok(fast(slf, consumer, carg.as_ref())?.unwrap_or_else(|| slf.py().NotImplemented()))
    }

    /// Record a compiled chain for the fast path: `getters` says, per free name of a stage
    /// function (`(index, name, cell, want, is_param)`), where it is read and what it must be
    /// (a number of the type `want`, or `want` itself); `program`, when given, is the plan
    /// whose `extra_values(functions)` reads and checks what the stages' defs depend on.
    #[allow(clippy::type_complexity)]
    fn _fast_store(
        slf: &Bound<'_, Self>,
        consumer: &str,
        carg: Option<Bound<'_, PyAny>>,
        kernel: Py<Kernel>,
        getters: Vec<(usize, Py<PyString>, Option<usize>, Py<PyAny>, bool)>,
        program: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let Some((_, step1)) = range_of(slf)? else {
            return Ok(());
        };
        let stages = slf.get().stages.bind(py);
        let mut holds = Vec::new();
        let Some(key) = key_of(stages, step1, consumer, carg.as_ref(), Some(&mut holds)) else {
            return Ok(());
        };
        let mut out = Vec::with_capacity(getters.len());
        for (index, name, cell, want, is_param) in getters {
            if index > stages.len() || (index == stages.len() && carg.is_none()) {
                return Ok(());
            }
            let read = match cell {
                Some(c) => Read::Cell(c),
                None => Read::Global(name),
            };
            let want = if is_param {
                match want.bind(py).cast::<PyType>() {
                    Ok(t) => Want::Type(t.clone().unbind()),
                    Err(_) => return Ok(()),
                }
            } else {
                Want::Is(want)
            };
            out.push(Getter { index, read, want });
        }
        let entry = Arc::new(Entry {
            _holds: holds.into_iter().map(Bound::unbind).collect(),
            kernel,
            getters: out,
            program,
        });
        let old = {
            let mut table = TABLE.lock().map_err(|_| poisoned())?;
            let old = if table.len() >= MAX_ENTRIES {
                std::mem::take(&mut *table)
            } else {
                Table::default()
            };
            table.insert(key, entry);
            old
        };
        // Dropped after the lock is released: a kernel's drop frees its machine code.
        drop(old);
        Ok(())
    }
}

fn poisoned() -> PyErr {
    PyRuntimeError::new_err("fastiter's table of compiled chains is poisoned")
}

/// `self` plus one stage, as an object of `self`'s class.
fn then(
    slf: &Bound<'_, ChainBase>,
    op: &Bound<'_, PyString>,
    method: &str,
    func: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let f = callable(py, func, method)?;
    let stage = PyTuple::new(py, [op.as_any(), &f, &py.None().into_bound(py)])?;
    let this = slf.get();
    let old = this.stages.bind(py);
    let mut items = Vec::with_capacity(old.len() + 1);
    items.extend(old.iter());
    items.push(stage.into_any());
    let stages = PyTuple::new(py, items)?;
    let ty = slf.get_type();
    if ty.is(py.get_type::<ChainBase>()) {
        let chain = ChainBase {
            src: this.src.clone_ref(py),
            stages: stages.unbind(),
        };
        return Ok(Bound::new(py, chain)?.into_any().unbind());
    }
    Ok(ty.call1((this.src.clone_ref(py), stages))?.unbind())
}

/// `_callable(f, method)`: a plain function is itself unless it wraps another
/// (`@fastiter.compile` sets `_fi_function`); anything else asks the Python function.
fn callable<'py>(
    py: Python<'py>,
    f: &Bound<'py, PyAny>,
    method: &str,
) -> PyResult<Bound<'py, PyAny>> {
    if is_function(f) {
        if let Some(inner) = function_attr(f, pyo3::intern!(py, "_fi_function")) {
            return Ok(inner);
        }
        return Ok(f.clone());
    }
    hooks(py)?.callable.bind(py).call1((f, method))
}

fn is_function(f: &Bound<'_, PyAny>) -> bool {
    // SAFETY: a type check of a live object.
    unsafe { ffi::PyFunction_Check(f.as_ptr()) != 0 }
}

/// The attribute `name` of a plain function when its `__dict__` holds it (nothing else can:
/// the function type defines no such name), without making the `__dict__`.
fn function_attr<'py>(
    f: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> Option<Bound<'py, PyAny>> {
    // SAFETY: `f` is a function (checked by the caller), so it has the layout of
    // `PyFunctionObject` for this interpreter (this module is built per version, not for
    // the stable ABI); `func_dict` is NULL or a dict it owns. `PyDict_GetItemWithError`
    // returns a borrowed reference, made owned before anything else runs.
    unsafe {
        let d = (*(f.as_ptr() as *mut ffi::PyFunctionObject)).func_dict;
        if d.is_null() {
            return None;
        }
        let got = ffi::PyDict_GetItemWithError(d, name.as_ptr());
        if got.is_null() {
            let _ = PyErr::take(f.py());
            return None;
        }
        Some(Bound::from_borrowed_ptr(f.py(), got))
    }
}

/// A consumer: the fast path's value, else the Python path.
fn consume(
    slf: &Bound<'_, ChainBase>,
    consumer: &'static str,
    carg: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    if let Some(v) = fast(slf, consumer, carg.as_ref())? {
        return Ok(v);
    }
    Ok(slf
        .call_method1(pyo3::intern!(slf.py(), "_consume_slow"), (consumer, carg))?
        .unbind())
}

/// The range's bounds as Python ints and whether its step is 1; None for another source.
#[allow(clippy::type_complexity)]
fn range_of<'py>(slf: &Bound<'py, ChainBase>) -> PyResult<Option<([Bound<'py, PyAny>; 3], bool)>> {
    let py = slf.py();
    let src = slf.get().src.bind(py);
    if let Ok(span) = src.cast::<Span>() {
        let s = span.get();
        let int = |v: i64| PyInt::new(py, v).into_any();
        // A step of 1 is no parameter: its object (the shared small int) costs nothing.
        return Ok(Some((
            [int(s.start), int(s.stop), int(s.step)],
            s.step == 1,
        )));
    }
    if !src.getattr(pyo3::intern!(py, "kind"))?.eq("range")? {
        return Ok(None);
    }
    let r = src.getattr(pyo3::intern!(py, "data"))?;
    let step = r.getattr(pyo3::intern!(py, "step"))?;
    let step1 = step.eq(1)?;
    Ok(Some((
        [
            r.getattr(pyo3::intern!(py, "start"))?,
            r.getattr(pyo3::intern!(py, "stop"))?,
            step,
        ],
        step1,
    )))
}

/// The key of a chain in the table: the step-1 flag, the consumer, and per stage (then the
/// consumer's function) its operation and the identity of its function's code object (of
/// the object itself for anything but a plain function).
#[derive(PartialEq, Eq, Hash)]
struct Key {
    step1: bool,
    consumer: u8,
    parts: Parts,
}

/// A key's parts, kept without an allocation for chains of up to `INLINE_PARTS` functions.
#[derive(Clone)]
enum Parts {
    Inline([(u8, usize); INLINE_PARTS], usize),
    Heap(Vec<(u8, usize)>),
}

const INLINE_PARTS: usize = 6;

impl Parts {
    fn with_capacity(n: usize) -> Parts {
        if n <= INLINE_PARTS {
            Parts::Inline([(0, 0); INLINE_PARTS], 0)
        } else {
            Parts::Heap(Vec::with_capacity(n))
        }
    }

    fn push(&mut self, part: (u8, usize)) {
        match self {
            Parts::Inline(a, n) if *n < INLINE_PARTS => {
                a[*n] = part;
                *n += 1;
            }
            Parts::Inline(a, n) => {
                let mut v = a[..*n].to_vec();
                v.push(part);
                *self = Parts::Heap(v);
            }
            Parts::Heap(v) => v.push(part),
        }
    }

    fn as_slice(&self) -> &[(u8, usize)] {
        match self {
            Parts::Inline(a, n) => &a[..*n],
            Parts::Heap(v) => v,
        }
    }
}

impl PartialEq for Parts {
    fn eq(&self, other: &Parts) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Parts {}

impl Hash for Parts {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

const OP_MAP: u8 = 0;
const OP_FILTER: u8 = 1;
const OP_CONSUMER: u8 = 2;
/// Or'ed into a part's operation when the identity is a code object's.
const BY_CODE: u8 = 0x10;

fn consumer_code(consumer: &str, carg: bool) -> Option<u8> {
    Some(match (consumer, carg) {
        ("any", _) => 0,
        ("all", _) => 1,
        (_, true) => return None,
        ("sum", _) => 2,
        ("count", _) => 3,
        ("min", _) => 4,
        ("max", _) => 5,
        ("collect", _) => 6,
        ("product", _) => 7,
        _ => return None,
    })
}

/// The function of stage `i` (of the consumer, for `i` = the number of stages).
fn fn_at<'py>(
    stages: &Bound<'py, PyTuple>,
    carg: Option<&Bound<'py, PyAny>>,
    i: usize,
) -> Option<Bound<'py, PyAny>> {
    if i == stages.len() {
        return carg.cloned();
    }
    let stage = stages.get_borrowed_item(i).ok()?;
    stage.cast::<PyTuple>().ok()?.get_item(1).ok()
}

/// The identity a key holds for the function `f`: its code object's for a plain function.
fn identity_of<'py>(f: &Bound<'py, PyAny>) -> (u8, Bound<'py, PyAny>) {
    if is_function(f) {
        // SAFETY: `f` is a function: its code is a live object (borrowed, made owned).
        let code = unsafe { Bound::from_borrowed_ptr(f.py(), ffi::PyFunction_GetCode(f.as_ptr())) };
        (BY_CODE, code)
    } else {
        (0, f.clone())
    }
}

/// The chain's key, and (with `hold`) the objects whose identities it holds, which an entry
/// keeps alive so that no other object can take their addresses. None when the chain has a
/// stage other than `map`/`filter` or a consumer the table does not hold (the Python path
/// runs those).
fn key_of<'py>(
    stages: &Bound<'py, PyTuple>,
    step1: bool,
    consumer: &str,
    carg: Option<&Bound<'py, PyAny>>,
    mut hold: Option<&mut Vec<Bound<'py, PyAny>>>,
) -> Option<Key> {
    let py = stages.py();
    let consumer = consumer_code(consumer, carg.is_some())?;
    let mut parts = Parts::with_capacity(stages.len() + usize::from(carg.is_some()));
    let (map, filter) = (pyo3::intern!(py, "map"), pyo3::intern!(py, "filter"));
    for stage in stages.iter_borrowed() {
        let stage = stage.cast::<PyTuple>().ok()?;
        if stage.len() != 3 {
            return None;
        }
        let op = stage.get_borrowed_item(0).ok()?;
        // Interned names are the same objects; another str of equal text is the same op.
        let op = if op.is(map) {
            OP_MAP
        } else if op.is(filter) {
            OP_FILTER
        } else if op.eq(map).ok()? {
            OP_MAP
        } else if op.eq(filter).ok()? {
            OP_FILTER
        } else {
            return None;
        };
        let (tag, held) = identity_of(&stage.get_borrowed_item(1).ok()?.to_owned());
        parts.push((op | tag, held.as_ptr() as usize));
        if let Some(h) = hold.as_mut() {
            h.push(held);
        }
    }
    if let Some(c) = carg {
        let (tag, held) = identity_of(c);
        parts.push((OP_CONSUMER | tag, held.as_ptr() as usize));
        if let Some(h) = hold.as_mut() {
            h.push(held);
        }
    }
    Some(Key {
        step1,
        consumer,
        parts,
    })
}

/// Where a free name of a stage function is read at each call.
enum Read {
    Cell(usize),
    Global(Py<PyString>),
}

/// What the name must hold for the entry to apply.
enum Want {
    /// A number of exactly this type: its value becomes the next parameter.
    Type(Py<PyType>),
    /// This very object (a function, `math`, a builtin), as `_source.resolve` gives it.
    Is(Py<PyAny>),
}

struct Getter {
    index: usize,
    read: Read,
    want: Want,
}

struct Entry {
    _holds: Vec<Py<PyAny>>,
    kernel: Py<Kernel>,
    getters: Vec<Getter>,
    program: Option<Py<PyAny>>,
}

/// As many entries as `_pipeline` keeps plans: the table is emptied when full.
const MAX_ENTRIES: usize = 256;

/// A hasher for keys of a few words, most of them addresses: SipHash's resistance to chosen
/// keys buys nothing here (addresses are not chosen by callers) and costs a third of a lookup.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        // FxHash's step: rotate, mix in, multiply by a large odd constant.
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Table = HashMap<Key, Arc<Entry>, BuildHasherDefault<WordHasher>>;

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| Mutex::new(Table::default()));

/// While a `fastiter.cluster` block is active anywhere, ranges of at least this many elements
/// take the Python path, which runs them on the cluster when the block is this thread's
/// (`u64::MAX`: no block is active).
static CLUSTER_MIN: AtomicU64 = AtomicU64::new(u64::MAX);

/// Set by `fastiter._cluster` when cluster blocks start and end: the smallest `min_elements`
/// of the active ones, None when none is.
#[pyfunction]
pub(crate) fn set_cluster_min(n: Option<u64>) {
    CLUSTER_MIN.store(n.unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Whether `explain` is recording (the `_explaining` context variable holds a value).
fn explaining(py: Python<'_>, h: &Hooks) -> PyResult<bool> {
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: `explaining` is a ContextVar; on success `value` is a new reference (or NULL
    // when the variable has no value and no default), owned below.
    let rc =
        unsafe { ffi::PyContextVar_Get(h.explaining.as_ptr(), std::ptr::null_mut(), &mut value) };
    if rc != 0 {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: see above.
    let value = unsafe { Bound::from_owned_ptr_or_opt(py, value) };
    Ok(value.is_some_and(|v| !v.is_none()))
}

/// The consumer's value through the table, or None (take the Python path).
fn fast<'py>(
    slf: &Bound<'py, ChainBase>,
    consumer: &str,
    carg: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<Py<PyAny>>> {
    let py = slf.py();
    let h = hooks(py)?;
    if explaining(py, h)? {
        return Ok(None);
    }
    let Some(([start, stop, step], step1)) = range_of(slf)? else {
        return Ok(None);
    };
    let min = CLUSTER_MIN.load(Ordering::Relaxed);
    if min != u64::MAX {
        let len = fastiter::pyops::range_len(&start.extract()?, &stop.extract()?, &step.extract()?);
        if len >= num_bigint::BigInt::from(min) {
            return Ok(None); // `_consume_slow` sends it to the cluster
        }
    }
    let stages = slf.get().stages.bind(py);
    let Some(key) = key_of(stages, step1, consumer, carg, None) else {
        return Ok(None);
    };
    let entry = TABLE.lock().map_err(|_| poisoned())?.get(&key).cloned();
    let Some(entry) = entry else {
        return Ok(None);
    };
    let mut objs: Vec<Bound<'py, PyAny>> = Vec::with_capacity(3 + entry.getters.len());
    objs.push(start);
    objs.push(stop);
    if !step1 {
        objs.push(step);
    }
    for g in &entry.getters {
        let Some(f) = fn_at(stages, carg, g.index) else {
            return Ok(None);
        };
        let Some(v) = read_free(&f, &g.read)? else {
            return Ok(None);
        };
        match &g.want {
            Want::Type(t) => {
                if !v.get_type().is(t.bind(py)) {
                    return Ok(None);
                }
                objs.push(v);
            }
            Want::Is(want) => {
                if !resolves_to(&v, want.bind(py))? {
                    return Ok(None);
                }
            }
        }
    }
    if let Some(plan) = &entry.program {
        let fns = (0..stages.len() + usize::from(carg.is_some()))
            .map(|i| fn_at(stages, carg, i).ok_or_else(poisoned))
            .collect::<PyResult<Vec<_>>>()?;
        let fns = PyList::new(py, fns)?;
        let extra = plan
            .bind(py)
            .call_method1(pyo3::intern!(py, "extra_values"), (fns,))?;
        if extra.is_none() {
            return Ok(None);
        }
        for v in extra.try_iter()? {
            objs.push(v?);
        }
    }
    let kernel = entry.kernel.get();
    match kernel.call_objs(py, objs.len(), || objs.iter().map(|o| o.as_borrowed())) {
        Ok(r) if r.is(py.NotImplemented()) => Ok(None),
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_instance_of::<Refused>(py) => {
            let run = h.python_run.bind(py);
            Ok(Some(run.call1((slf, consumer, carg))?.unbind()))
        }
        Err(e) => Err(e),
    }
}

/// The object a free name of `f` is bound to now (`_source.resolve_raw`), or None when it is
/// unbound (or `f` is not a plain function).
fn read_free<'py>(f: &Bound<'py, PyAny>, read: &Read) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = f.py();
    if !is_function(f) {
        return Ok(None);
    }
    match read {
        Read::Cell(i) => {
            // SAFETY: `f` is a function; its closure is NULL or a tuple it owns (borrowed
            // here, and not released while we read it: no Python code runs in between).
            // `PyCell_Get` returns a new reference, or NULL without an error for an empty cell.
            unsafe {
                let closure = ffi::PyFunction_GetClosure(f.as_ptr());
                if closure.is_null() || ffi::PyTuple_Check(closure) == 0 {
                    return Ok(None);
                }
                if *i >= ffi::PyTuple_GET_SIZE(closure) as usize {
                    return Ok(None);
                }
                let cell = ffi::PyTuple_GET_ITEM(closure, *i as ffi::Py_ssize_t);
                if ffi::PyCell_Check(cell) == 0 {
                    return Ok(None);
                }
                Ok(Bound::from_owned_ptr_or_opt(py, ffi::PyCell_Get(cell)))
            }
        }
        Read::Global(name) => {
            // SAFETY: `f` is a function; its globals are a dict it owns, alive while `f` is.
            let globals =
                unsafe { Bound::from_borrowed_ptr(py, ffi::PyFunction_GetGlobals(f.as_ptr())) };
            let Ok(globals) = globals.cast_into::<PyDict>() else {
                return Ok(None);
            };
            let name = name.bind(py);
            if let Some(v) = globals.get_item(name)? {
                return Ok(Some(v));
            }
            // `fn.__globals__.get("__builtins__", builtins)`, a dict or a module.
            let b = match globals.get_item(pyo3::intern!(py, "__builtins__"))? {
                Some(b) => b,
                None => PyModule::import(py, "builtins")?.into_any(),
            };
            if let Ok(d) = b.cast::<PyDict>() {
                return d.get_item(name);
            }
            b.getattr_opt(name)
        }
    }
}

/// Whether `_source.resolve` gives `want` for the raw binding `v`: `v` itself unless it has
/// an `_fi_function` (a `@fastiter.compile` wrapper stands for the function it wraps).
fn resolves_to(v: &Bound<'_, PyAny>, want: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = v.py();
    let name = pyo3::intern!(py, "_fi_function");
    let inner = if is_function(v) {
        function_attr(v, name)
    } else if v.is_exact_instance_of::<pyo3::types::PyCFunction>() {
        // A builtin function has no `__dict__`, and its type no such name.
        None
    } else if let Ok(m) = v.cast_exact::<PyModule>() {
        // A module's attributes are its dict's, then its `__getattr__`'s: without one, the
        // dict says (and `math` is read at every call of a stage that uses it).
        let d = m.dict();
        if d.contains(pyo3::intern!(py, "__getattr__"))? {
            v.getattr_opt(name)?
        } else {
            d.get_item(name)?
        }
    } else {
        v.getattr_opt(name)?
    };
    Ok(inner.as_ref().unwrap_or(v).is(want))
}
