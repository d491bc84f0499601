//! `fastiter._native`: the compiler and runtime, seen from Python. Compiles pipeline text for
//! typed parameters (and an optional input buffer), runs kernels with the GIL released, and
//! turns results and errors into Python objects and exceptions.
#![deny(unsafe_op_in_unsafe_fn)]

mod arenas;
mod chain;
mod convert;
mod partials;
mod repl;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

use num_bigint::BigInt;
use num_traits::ToPrimitive;
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError, PyZeroDivisionError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyTuple,
};

use std::ffi::CStr;

use fastiter::errors::{ErrCode, PyExcType};
use fastiter::exec::{BufferArg, Inline, InlineValue};
use fastiter::ir::{self, BufferDecl, Dtype, ParamInfo, Type};
use fastiter::{CodegenOptions, Compiled, ErrorKind, ExecError, RunOptions, Value};

pyo3::create_exception!(
    _native,
    CompileError,
    pyo3::exceptions::PyException,
    "fastiter cannot compile this pipeline. Attributes: kind ('syntax', 'type', 'name' or \
     'unsupported'), message, line, column (1-based), rendered (the message with the source \
     line and a caret)."
);
pyo3::create_exception!(
    _native,
    Refused,
    pyo3::exceptions::PyException,
    "The compiled pipeline declined to produce a value CPython would give differently (a \
     complex number, a range too long, ...): run it as plain Python instead."
);

/// Inputs with at least this many elements run on a worker thread while the calling thread
/// watches for Ctrl-C; smaller ones run inline (a thread costs more than they do).
const WATCH_THRESHOLD: u64 = 1 << 18;

/// Slots kept on the stack by the lean path (parameters plus a range's start and step).
const LEAN_SLOTS: usize = 16;

/// A compiled pipeline.
#[pyclass(frozen, module = "fastiter._native")]
struct Kernel {
    compiled: Compiled,
    params: Vec<ParamInfo>,
    buffer: Option<BufferDecl>,
    /// How `call` runs a small range inline; None when the pipeline is not such a range.
    inline: Option<Inline>,
    /// The pipeline loops inside an element (`Pipeline::has_loops`): a short input may
    /// still run for long.
    loops: bool,
}

fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::Syntax => "syntax",
        ErrorKind::Type => "type",
        ErrorKind::Name => "name",
        ErrorKind::Unsupported => "unsupported",
    }
}

fn compile_error(py: Python<'_>, src: &str, e: fastiter::Error) -> PyErr {
    match e {
        fastiter::Error::Compile(c) => {
            let (line, col) = c.line_col(src);
            let rendered = c.render(src);
            let err = CompileError::new_err(rendered.clone());
            let v = err.value(py);
            let _ = v.setattr("kind", kind_name(c.kind));
            let _ = v.setattr("message", c.message.clone());
            let _ = v.setattr("line", line);
            let _ = v.setattr("column", col);
            let _ = v.setattr("rendered", rendered);
            let _ = v.setattr("help", c.help.clone());
            err
        }
        other => CompileError::new_err(other.to_string()),
    }
}

fn type_from_name(name: &str) -> PyResult<ir::Type> {
    match name {
        "int" => Ok(ir::Type::Int),
        "float" => Ok(ir::Type::Float),
        "bool" => Ok(ir::Type::Bool),
        other => Err(PyValueError::new_err(format!(
            "unknown parameter type {other:?}"
        ))),
    }
}

/// Compile `src` for parameters `[(name, 'int'|'float'|'bool'), ...]`, and optionally an input
/// buffer `(name, dtype)` with dtype one of i8 i16 i32 i64 u8 u16 u32 f32 f64 bool.
#[pyfunction]
#[pyo3(signature = (src, params, buffer=None))]
fn compile(
    py: Python<'_>,
    src: &str,
    params: Vec<(String, String)>,
    buffer: Option<Vec<String>>,
) -> PyResult<Kernel> {
    let params = params
        .into_iter()
        .map(|(name, ty)| {
            Ok(ParamInfo {
                name,
                ty: type_from_name(&ty)?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let dtype = |dt: &str| {
        Dtype::from_name(dt).ok_or_else(|| PyValueError::new_err(format!("unknown dtype {dt:?}")))
    };
    // `(name, dtype)`, or `(name, dtype, zipped name, zipped dtype)`.
    let buffer = match buffer.as_deref() {
        Some([name, dt]) => Some(BufferDecl {
            name: name.clone(),
            dtype: dtype(dt)?,
            zip: None,
        }),
        Some([name, dt, zname, zdt]) => Some(BufferDecl {
            name: name.clone(),
            dtype: dtype(dt)?,
            zip: Some((zname.clone(), dtype(zdt)?)),
        }),
        Some(_) => {
            return Err(PyValueError::new_err(
                "buffer is (name, dtype) or (name, dtype, zipped name, zipped dtype)",
            ))
        }
        None => None,
    };
    let src_owned = src.to_string();
    let (p2, b2) = (params.clone(), buffer.clone());
    let version = py.version_info();
    let python = (version.major, version.minor);
    let compiled = py
        .detach(move || {
            fastiter::compile_for(
                &src_owned,
                &p2,
                b2.as_ref(),
                true,
                CodegenOptions::default(),
                python,
            )
        })
        .map_err(|e| compile_error(py, src, e))?;
    let inline = match (&compiled.kernel, &buffer) {
        (Some(_), None) => Inline::new(&compiled.pipeline),
        _ => None,
    };
    let loops = compiled.pipeline.has_loops();
    Ok(Kernel {
        compiled,
        params,
        buffer,
        inline,
        loops,
    })
}

/// The dtype of a buffer's format, for the formats fastiter reads (native byte order).
fn buffer_dtype(buf: &PyUntypedBuffer) -> Option<Dtype> {
    let fmt = buf.format().to_str().ok()?;
    let code = fmt.trim_start_matches(['@', '=', '<']);
    if fmt.starts_with(['>', '!']) || code.len() != 1 {
        return None;
    }
    let size = buf.item_size();
    Some(match (code, size) {
        ("d", 8) => Dtype::F64,
        ("f", 4) => Dtype::F32,
        ("q" | "l" | "n", 8) => Dtype::I64,
        ("i" | "l", 4) => Dtype::I32,
        ("h", 2) => Dtype::I16,
        ("b", 1) => Dtype::I8,
        // Not "c": a memoryview of chars iterates as 1-byte `bytes`, not ints.
        ("B", 1) => Dtype::U8,
        ("H", 2) => Dtype::U16,
        ("I" | "L", 4) => Dtype::U32,
        ("?", 1) => Dtype::Bool,
        _ => return None,
    })
}

/// Whether `obj` is read in place: an exact `numpy.ndarray`, `array.array`, `memoryview`,
/// `bytes` or `bytearray` (or a converted list). Iterating one of these gives its buffer's
/// elements; a subclass or another exporter may iterate as something else (a masked array
/// gives `masked`, a 1xN `np.matrix` one row, an `__iter__` of its own anything), so it is
/// never read in place.
fn reads_in_place(obj: &Bound<'_, PyAny>) -> bool {
    if obj.is_exact_instance_of::<PyBytes>()
        || obj.is_exact_instance_of::<PyByteArray>()
        || obj.is_exact_instance_of::<PyMemoryView>()
        || obj.is_exact_instance_of::<convert::SeqBuffer>()
    {
        return true;
    }
    // By module and name: no import of numpy (or array) to find its type.
    let ty = obj.get_type();
    let (Ok(module), Ok(name)) = (ty.module(), ty.name()) else {
        return false;
    };
    matches!(
        (module.to_str(), name.to_str()),
        (Ok("numpy"), Ok("ndarray")) | (Ok("array"), Ok("array"))
    )
}

/// `obj`'s buffer, checked to be C-contiguous elements of `dtype` of a type read in place.
fn checked_buffer(obj: &Bound<'_, PyAny>, dtype: Dtype) -> PyResult<PyUntypedBuffer> {
    if !reads_in_place(obj) {
        return Err(PyTypeError::new_err(format!(
            "a {} is not read in place (only an exact numpy.ndarray, array.array, memoryview, \
             bytes or bytearray is): iterate it",
            obj.get_type().name()?
        )));
    }
    let buf = PyUntypedBuffer::get(obj)?;
    if buf.dimensions() != 1 {
        // Iterating a 2-D array gives its rows, a 0-D one raises: never its flat elements.
        return Err(PyTypeError::new_err(format!(
            "expected a one-dimensional buffer, got {} dimensions",
            buf.dimensions()
        )));
    }
    let dt = buffer_dtype(&buf);
    // Bytes of 0/1 read as bools. Tagged numbers come as pairs of int64 (`convert.rs`).
    let ok = dt == Some(dtype)
        || (dtype == Dtype::Bool && dt == Some(Dtype::U8))
        || (dtype == Dtype::Num && dt == Some(Dtype::I64) && buf.item_count() % 2 == 0);
    if !buf.is_c_contiguous() || !ok {
        return Err(PyTypeError::new_err(format!(
            "expected a C-contiguous buffer of {}",
            dtype.name()
        )));
    }
    Ok(buf)
}

/// How many elements of `dtype` a checked buffer holds.
fn items_of(buf: &PyUntypedBuffer, dtype: Dtype) -> usize {
    match dtype {
        Dtype::Num => buf.item_count() / 2,
        _ => buf.item_count(),
    }
}

/// The dtype name of an object's buffer, or None when fastiter cannot read it in place (not
/// a type read in place, no buffer protocol, not one-dimensional and C-contiguous, an
/// unsupported format).
#[pyfunction]
fn buffer_dtype_of(obj: &Bound<'_, PyAny>) -> Option<&'static str> {
    if !reads_in_place(obj) {
        return None;
    }
    let buf = PyUntypedBuffer::get(obj).ok()?;
    if !buf.is_c_contiguous() || buf.dimensions() != 1 {
        return None;
    }
    buffer_dtype(&buf).map(Dtype::name)
}

fn to_value(obj: &Bound<'_, PyAny>, ty: ir::Type) -> PyResult<Value> {
    Ok(match ty {
        ir::Type::Bool => Value::Bool(obj.cast::<PyBool>()?.is_true()),
        ir::Type::Int => Value::Int(obj.cast::<PyInt>()?.extract::<BigInt>()?),
        ir::Type::Float => Value::Float(obj.cast::<PyFloat>()?.value()),
        ir::Type::Num => return Err(PyTypeError::new_err("a parameter has one type")),
    })
}

fn to_py(py: Python<'_>, v: Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::None => py.None(),
        Value::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Value::Int(i) => match i.to_i64() {
            Some(small) => small.into_pyobject(py)?.into_any().unbind(),
            None => i.into_pyobject(py)?.into_any().unbind(),
        },
        Value::Float(f) => PyFloat::new(py, f).into_any().unbind(),
        Value::List(items) => {
            let objs = items
                .into_iter()
                .map(|v| to_py(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, objs)?.into_any().unbind()
        }
        Value::Packed(ty, slots) => packed_list(py, &slots, ty)?,
    })
}

/// A list of the items in `slots` (of type `ty`), straight from the kernel's slots to Python
/// objects: one `int`/`float` per item as CPython makes them (small ints and bools are shared),
/// set into a list made at its final size.
fn packed_list(py: Python<'_>, slots: &[u64], ty: Type) -> PyResult<Py<PyAny>> {
    use pyo3::ffi;
    let len = ffi::Py_ssize_t::try_from(slots.len())
        .map_err(|_| pyo3::exceptions::PyMemoryError::new_err(()))?;
    let per_item = match ty {
        Type::Int => arenas::INT_BYTES,
        Type::Float => arenas::FLOAT_BYTES,
        // `exec` never packs tagged numbers: they come back as a list of values.
        Type::Bool | Type::Num => 0,
    };
    arenas::with_room(py, slots.len().saturating_mul(per_item), || {
        // SAFETY: `PyList_New` returns a new list (owned by `list` from here) whose items are
        // NULL until set; each `PyList_SET_ITEM` fills one position below `len` exactly once
        // with a new reference it steals. On an error the list is dropped with some items
        // still NULL, which `list_dealloc` allows.
        unsafe {
            let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len))?;
            for (i, &s) in slots.iter().enumerate() {
                let item = match ty {
                    Type::Int | Type::Num => ffi::PyLong_FromLongLong(s as i64),
                    Type::Float => ffi::PyFloat_FromDouble(f64::from_bits(s)),
                    Type::Bool => {
                        // `Py_NewRef` is 3.10+; the list takes this new reference.
                        let b = if s & 0xff != 0 {
                            ffi::Py_True()
                        } else {
                            ffi::Py_False()
                        };
                        ffi::Py_IncRef(b);
                        b
                    }
                };
                if item.is_null() {
                    return Err(PyErr::fetch(py));
                }
                ffi::PyList_SET_ITEM(list.as_ptr(), i as ffi::Py_ssize_t, item);
            }
            Ok(list.into_any().unbind())
        }
    })
}

/// `exec::Inline`'s value as a Python object (`items`: a `collect`'s slots).
fn inline_to_py(py: Python<'_>, v: InlineValue, items: &[u64]) -> PyResult<Py<PyAny>> {
    Ok(match v {
        InlineValue::None => py.None(),
        InlineValue::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        InlineValue::Int(i) => match i64::try_from(i) {
            Ok(small) => PyInt::new(py, small).into_any().unbind(),
            Err(_) => i.into_pyobject(py)?.into_any().unbind(),
        },
        InlineValue::Float(f) => PyFloat::new(py, f).into_any().unbind(),
        InlineValue::Slot(bits, ty) => slot_to_py(py, bits, ty),
        InlineValue::Collected(ty) => packed_list(py, items, ty)?,
    })
}

/// A kernel slot of type `ty` as a Python object (as `Value::from_slot`, then `to_py`).
fn slot_to_py(py: Python<'_>, bits: u64, ty: ir::Type) -> Py<PyAny> {
    match ty {
        // `Inline` decodes a tagged number's type before it comes here.
        ir::Type::Int | ir::Type::Num => PyInt::new(py, bits as i64).into_any().unbind(),
        ir::Type::Float => PyFloat::new(py, f64::from_bits(bits)).into_any().unbind(),
        ir::Type::Bool => PyBool::new(py, bits & 0xff != 0)
            .to_owned()
            .into_any()
            .unbind(),
    }
}

/// Items of one machine type, packed in native byte order, with their `array`/`struct` code.
fn pack(items: &[Value]) -> Option<(Vec<u8>, &'static str)> {
    let mut out = Vec::with_capacity(items.len() * 8);
    let code = match items.first() {
        None | Some(Value::Int(_)) => {
            for v in items {
                let Value::Int(i) = v else { return None };
                out.extend_from_slice(&i.to_i64()?.to_ne_bytes());
            }
            "q"
        }
        Some(Value::Float(_)) => {
            for v in items {
                let Value::Float(f) = v else { return None };
                out.extend_from_slice(&f.to_ne_bytes());
            }
            "d"
        }
        Some(Value::Bool(_)) => {
            for v in items {
                let Value::Bool(b) = v else { return None };
                out.push(u8::from(*b));
            }
            "?"
        }
        Some(_) => return None,
    };
    Some((out, code))
}

/// An expression that makes CPython raise the error `code` stands for.
fn probe(code: ErrCode) -> Option<&'static CStr> {
    use ErrCode::*;
    Some(match code {
        IntFloorDivZero => c"1 // 0",
        IntModZero => c"1 % 0",
        IntTrueDivZero => c"1 / 0",
        FloatDivZero => c"1.0 / 0.0",
        FloatFloorDivZero => c"1.0 // 0.0",
        FloatModZero => c"1.0 % 0.0",
        ZeroToNegativePower => c"0.0 ** -1",
        MathDomain => c"math.sqrt(-1.0)",
        MathRange => c"math.exp(1000.0)",
        FloatInfToInt => c"int(math.inf)",
        FloatNanToInt => c"int(math.nan)",
        NegativeShift => c"1 << -1",
        FloatPowOverflow => c"10.0 ** 400",
        IntTooLargeForFloat => c"float(10 ** 400)",
        IntDivTooLargeForFloat => c"10 ** 400 / 1",
        RangeStepZero => c"range(0, 1, 0)",
        MinEmpty => c"min(())",
        MaxEmpty => c"max(())",
        FloatDivmodZero => c"divmod(1.0, 0.0)",
        PowModZero => c"pow(2, 3, 0)",
        PowNotInvertible => c"pow(2, -1, 4)",
        NegativeN => c"math.comb(-1, 2)",
        NegativeK => c"math.comb(3, -2)",
        FactorialNegative => c"math.factorial(-1)",
        IsqrtNegative => c"math.isqrt(-1)",
        NegativeTolerance => c"math.isclose(1.0, 2.0, rel_tol=-1.0)",
        RoundOverflow => c"round(1.7976931348623157e308, -308)",
        FactorialOverflow => c"math.factorial(2 ** 63)",
        PermOverflow => c"math.perm(2 ** 64, 2 ** 63)",
        CombOverflow => c"math.comb(2 ** 65, 2 ** 64)",
        ComplexResult | NegativeCount | StepByZero | ResultTooLarge | Interrupted => return None,
    })
}

/// The running CPython's own message for an error: messages change between versions (`1 % 0`
/// says "integer division or modulo by zero" up to 3.10 and "integer modulo by zero" from
/// 3.11; `1.0 % 0.0` gained "by zero" in 3.13), and a kernel's exception must read exactly as
/// the interpreter's would. Learnt once, by asking the interpreter.
fn message(py: Python<'_>, code: ErrCode) -> String {
    static MESSAGES: PyOnceLock<Vec<Option<String>>> = PyOnceLock::new();
    let table = MESSAGES.get_or_init(py, || {
        let globals = PyDict::new(py);
        if let Ok(math) = py.import("math") {
            let _ = globals.set_item("math", math);
        }
        ErrCode::ALL
            .iter()
            .map(|&c| {
                let err = py.eval(probe(c)?, Some(&globals), None).err()?;
                err.value(py).str().ok().map(|s| s.to_string())
            })
            .collect()
    });
    ErrCode::ALL
        .iter()
        .position(|&c| c == code)
        .and_then(|i| table[i].clone())
        .unwrap_or_else(|| code.message().to_string())
}

/// The message CPython gives for the call that raised: the function called again with the
/// same arguments in the running interpreter (CPython 3.14's `math` messages name the
/// argument and differ per function and argument type). None when it does not raise the
/// error's type (then the message learnt once serves).
fn call_message(py: Python<'_>, code: ErrCode, call: &fastiter::exec::ErrCall) -> Option<String> {
    let (module, name) = call.func.rsplit_once('.')?;
    let f = py.import(module).ok()?.getattr(name).ok()?;
    let args = call
        .args
        .iter()
        .map(|v| to_py(py, v.clone()))
        .collect::<PyResult<Vec<_>>>()
        .ok()?;
    let err = f.call1(PyTuple::new(py, args).ok()?).err()?;
    let want = match code.exc_type() {
        PyExcType::ZeroDivisionError => err.is_instance_of::<PyZeroDivisionError>(py),
        PyExcType::ValueError => err.is_instance_of::<PyValueError>(py),
        PyExcType::OverflowError => err.is_instance_of::<PyOverflowError>(py),
        PyExcType::TypeError => err.is_instance_of::<PyTypeError>(py),
        PyExcType::KeyboardInterrupt => return None,
    };
    want.then(|| err.value(py).str().ok().map(|s| s.to_string()))?
}

fn python_error(code: ErrCode, msg: String) -> PyErr {
    match code.exc_type() {
        PyExcType::ZeroDivisionError => PyZeroDivisionError::new_err(msg),
        PyExcType::ValueError => PyValueError::new_err(msg),
        PyExcType::OverflowError => PyOverflowError::new_err(msg),
        PyExcType::TypeError => PyTypeError::new_err(msg),
        PyExcType::KeyboardInterrupt => pyo3::exceptions::PyKeyboardInterrupt::new_err(()),
    }
}

fn exec_error(py: Python<'_>, e: ExecError) -> PyErr {
    match e {
        ExecError::Python(code) if code.is_refusal() => Refused::new_err(code.message()),
        ExecError::Python(code) => python_error(code, message(py, code)),
        ExecError::PythonCall(code, call) => {
            let msg = call_message(py, code, &call).unwrap_or_else(|| message(py, code));
            python_error(code, msg)
        }
        ExecError::Cancelled => pyo3::exceptions::PyKeyboardInterrupt::new_err(()),
        ExecError::Unsupported(m) => Refused::new_err(m),
    }
}

#[pymethods]
impl Kernel {
    /// The optimised IR, as `fastc --emit ir` prints it.
    #[getter]
    fn ir(&self) -> String {
        ir::display::pipeline(&self.compiled.pipeline)
    }

    /// Seconds from text to machine code.
    #[getter]
    fn compile_time(&self) -> f64 {
        self.compiled.compile_time.as_secs_f64()
    }

    /// Whether the machine code came from the on-disk kernel cache (no Cranelift compile).
    #[getter(from_cache)]
    fn cached(&self) -> bool {
        self.compiled.kernel.as_ref().is_some_and(|k| k.from_cache)
    }

    /// Parameter names and types, in the order `run` takes their values.
    #[getter]
    fn params(&self) -> Vec<(String, &'static str)> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.ty.name()))
            .collect()
    }

    /// Run with parameter values (in `params` order) over `buffer` (for a pipeline compiled
    /// with one). `threads=0` uses the configured number of threads; `jit=False` runs the
    /// exact reference interpreter. Releases the GIL; Ctrl-C cancels a long run.
    ///
    /// With `array=True`, a `collect` whose items are all ints that fit in 64 bits, all floats
    /// or all bools comes back as `(bytearray, typecode)` (`'q'`, `'d'` or `'?'`), the items
    /// packed in native byte order, without a Python object per item.
    #[pyo3(signature = (params, buffer=None, threads=0, jit=true, array=false))]
    fn run(
        &self,
        py: Python<'_>,
        params: Vec<Bound<'_, PyAny>>,
        buffer: Option<Bound<'_, PyAny>>,
        threads: usize,
        jit: bool,
        array: bool,
    ) -> PyResult<Py<PyAny>> {
        let values = self.values(&params)?;
        self.run_values(py, values, buffer, threads, jit, array)
    }

    /// Run with the parameter values `args` (a tuple, then the tuple `extra` when given), in
    /// `params` order, for a pipeline without a buffer: the per-call path of
    /// `@fastiter.compile`. Returns `NotImplemented` when the values are not exactly of the
    /// parameter types (`int`, `float`, `bool`, not subclasses) or their number differs, so
    /// that the caller can pick another kernel. Small ranges run inline with the GIL held
    /// (pipelines with `def`s release it: their loops may run long); anything else takes the
    /// path of `run`.
    #[pyo3(signature = (args, extra=None))]
    fn call(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        extra: Option<&Bound<'_, PyTuple>>,
    ) -> PyResult<Py<PyAny>> {
        match extra {
            Some(e) => self.call_with(py, args, &e.iter().collect::<Vec<_>>()),
            None => self.call_with(py, args, &[]),
        }
    }

    fn __repr__(&self) -> String {
        format!("<fastiter kernel {:?}>", self.compiled.source)
    }
}

impl Kernel {
    /// Parameter values, in `params` order, as the parameters' types.
    fn values(&self, params: &[Bound<'_, PyAny>]) -> PyResult<Vec<Value>> {
        if params.len() != self.params.len() {
            return Err(PyTypeError::new_err(format!(
                "expected {} parameter values, got {}",
                self.params.len(),
                params.len()
            )));
        }
        params
            .iter()
            .zip(&self.params)
            .map(|(o, p)| to_value(o, p.ty))
            .collect()
    }

    /// `call` with the values after `args` as a slice (`Caller` reads them at each call).
    fn call_with(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        extra: &[Bound<'_, PyAny>],
    ) -> PyResult<Py<PyAny>> {
        let objs = || {
            args.iter_borrowed()
                .chain(extra.iter().map(|e| e.as_borrowed()))
        };
        self.call_objs(py, args.len() + extra.len(), objs)
    }

    /// `call` with the `n` parameter values, in `params` order, that each iterator `objs`
    /// makes yields (twice at most: the general path reads them again).
    pub(crate) fn call_objs<'a, 'py: 'a, I>(
        &self,
        py: Python<'py>,
        n: usize,
        objs: impl Fn() -> I,
    ) -> PyResult<Py<PyAny>>
    where
        I: Iterator<Item = Borrowed<'a, 'py, PyAny>>,
    {
        if n != self.params.len() || self.buffer.is_some() {
            return Ok(py.NotImplemented());
        }
        let mut stack = [0u64; LEAN_SLOTS];
        let mut heap = Vec::new();
        let slots: &mut [u64] = if n + 2 <= LEAN_SLOTS {
            &mut stack[..n + 2]
        } else {
            heap.resize(n + 2, 0);
            &mut heap
        };
        let mut exact = true;
        for ((obj, p), slot) in objs().zip(&self.params).zip(slots.iter_mut()) {
            match p.ty {
                ir::Type::Int => {
                    if !obj.is_exact_instance_of::<PyInt>() {
                        return Ok(py.NotImplemented());
                    }
                    let mut overflow = 0;
                    // SAFETY: an int (checked above): no error, only an overflow flag.
                    let v = unsafe {
                        pyo3::ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow)
                    };
                    if overflow == 0 {
                        *slot = v as u64;
                    } else {
                        exact = false;
                    }
                }
                ir::Type::Float => {
                    if !obj.is_exact_instance_of::<PyFloat>() {
                        return Ok(py.NotImplemented());
                    }
                    *slot = obj.cast::<PyFloat>()?.value().to_bits();
                }
                ir::Type::Bool => {
                    if !obj.is_exact_instance_of::<PyBool>() {
                        return Ok(py.NotImplemented());
                    }
                    *slot = u64::from(obj.is(PyBool::new(py, true)));
                }
                // No parameter is a tagged number: each has the type of its value.
                ir::Type::Num => return Ok(py.NotImplemented()),
            }
        }
        if exact {
            if let Some(out) = self.lean(py, slots, n) {
                return out;
            }
        }
        // Ints past 64 bits, long ranges, inexact results: the general path, exact.
        let values = objs()
            .zip(&self.params)
            .map(|(o, p)| to_value(&o, p.ty))
            .collect::<PyResult<Vec<_>>>()?;
        self.run_values(py, values, None, 0, true, false)
    }

    fn run_values(
        &self,
        py: Python<'_>,
        values: Vec<Value>,
        buffer: Option<Bound<'_, PyAny>>,
        threads: usize,
        jit: bool,
        array: bool,
    ) -> PyResult<Py<PyAny>> {
        // A zipped pipeline takes `(buffer, second buffer)`.
        let (buffer, zip_obj) = match buffer {
            Some(b) if b.is_instance_of::<PyTuple>() => {
                let t = b.cast::<PyTuple>()?;
                if t.len() != 2 {
                    return Err(PyTypeError::new_err("expected (buffer, zipped buffer)"));
                }
                (Some(t.get_item(0)?), Some(t.get_item(1)?))
            }
            b => (b, None),
        };
        // The buffer views stay alive (and the exporters keep their memory) until this
        // function returns, after the run.
        let zview = match (self.buffer.as_ref().and_then(|d| d.zip.as_ref()), &zip_obj) {
            (Some((_, dt)), Some(obj)) => Some(checked_buffer(obj, *dt)?),
            (Some(_), None) => {
                return Err(PyTypeError::new_err(
                    "this pipeline zips two buffers: pass buffer=(first, second)",
                ))
            }
            (None, _) => None,
        };
        let view = match (&self.buffer, &buffer) {
            (Some(decl), Some(obj)) => Some(checked_buffer(obj, decl.dtype)?),
            (Some(_), None) => {
                return Err(PyTypeError::new_err(
                    "this pipeline reads a buffer: pass buffer=",
                ))
            }
            (None, _) => None,
        };
        let arg = match (&self.buffer, &view) {
            // SAFETY: the view is C-contiguous with `item_count` elements of the checked dtype,
            // and is held (so the exporter keeps the memory) until after the run; fastiter only
            // reads it. Python code could write to a writable buffer from another thread
            // meanwhile: the reads would see some mix of values, as a Python loop would.
            (Some(decl), Some(v)) => Some(unsafe {
                let n = items_of(v, decl.dtype);
                let arg = BufferArg::new(v.buf_ptr() as *const u8, n, decl.dtype);
                match (&zview, &decl.zip) {
                    (Some(z), Some((_, zdt))) => {
                        arg.with_zip(z.buf_ptr() as *const u8, items_of(z, *zdt), *zdt)
                    }
                    _ => arg,
                }
            }),
            _ => None,
        };
        let threads = if threads == 0 {
            fastiter_runtime::get_num_threads()
        } else {
            threads
        };
        let compiled = &self.compiled;
        let len = match arg {
            Some(b) => b.len() as u64,
            None => self.source_len(&values),
        };
        // A run goes to a watched worker thread when it may take long and not all of it runs
        // on this thread (only this thread's polls can check for signals, see
        // `with_signals`).
        let watched = len >= WATCH_THRESHOLD
            || (self.loops && threads > 1 && fastiter_runtime::num_chunks(len) > 1);
        let run = |cancel: Option<&AtomicBool>| {
            compiled.run_with(
                &values,
                arg,
                &RunOptions {
                    threads,
                    jit,
                    cancel,
                },
            )
        };
        let result = if watched {
            run_watched(py, |cancel| run(Some(cancel)))?
        } else {
            let (result, raised) = with_signals(|| py.detach(|| run(None)));
            if let Some(e) = raised {
                return Err(e);
            }
            result
        };
        drop(view);
        drop(zview);
        let (value, _) = result.map_err(|e| exec_error(py, e))?;
        if array {
            if let Value::Packed(ty, slots) = &value {
                let (width, code) = match ty {
                    Type::Int | Type::Num => (8, "q"),
                    Type::Float => (8, "d"),
                    Type::Bool => (1, "?"),
                };
                let packed = pyo3::types::PyByteArray::new_with(py, slots.len() * width, |buf| {
                    if width == 8 {
                        for (dst, s) in buf.chunks_exact_mut(8).zip(slots) {
                            dst.copy_from_slice(&s.to_ne_bytes());
                        }
                    } else {
                        for (dst, s) in buf.iter_mut().zip(slots) {
                            *dst = u8::from(s & 0xff != 0);
                        }
                    }
                    Ok(())
                })?;
                return Ok((packed, code).into_pyobject(py)?.into_any().unbind());
            }
            if let Value::List(items) = &value {
                if let Some((bytes, code)) = pack(items) {
                    let packed = pyo3::types::PyByteArray::new(py, &bytes);
                    return Ok((packed, code).into_pyobject(py)?.into_any().unbind());
                }
            }
        }
        to_py(py, value)
    }
    /// The lean path of `call`: a range that `exec::Inline` runs as one chunk on this
    /// thread. `slots` holds the `n` parameter slots and room for the range's start and step.
    /// None: take the general path (which then computes the exact value, or the error).
    fn lean(&self, py: Python<'_>, slots: &mut [u64], n: usize) -> Option<PyResult<Py<PyAny>>> {
        let inline = self.inline.as_ref()?;
        let kernel = self.compiled.kernel.as_ref()?;
        let (start, step, len) = inline.range(&slots[..n])?;
        slots[n] = start as u64;
        slots[n + 1] = step as u64;
        let env: &[u64] = slots;
        let mut items = Vec::new();
        let (out, raised) = with_signals(|| {
            if self.compiled.defs.is_empty() {
                inline.run(kernel, env, len, &mut items)
            } else {
                // Statements may loop for long: let other Python threads run meanwhile.
                py.detach(|| inline.run(kernel, env, len, &mut items))
            }
        });
        if let Some(e) = raised {
            return Some(Err(e));
        }
        Some(match out? {
            Ok(v) => inline_to_py(py, v, &items),
            Err(e) => Err(exec_error(py, e)),
        })
    }

    /// How many elements a source that is not a buffer has (0 when evaluating it fails: the
    /// run then raises at once).
    fn source_len(&self, values: &[Value]) -> u64 {
        fastiter::exec::eval_source(&self.compiled.pipeline, values, None).map_or(0, |s| s.len())
    }
}

/// Where a value is read at each call: `(dict, key)`, `(cell, None)` (its contents), `(tuple,
/// index)` or `(object, attribute name)`.
type Slot = (Py<PyAny>, Option<Py<PyAny>>);

/// A slot, sorted once by what its object is, so that each call reads it directly.
enum Place {
    Dict(Py<PyDict>, Py<PyAny>),
    Cell(Py<PyAny>),
    Tuple(Py<PyTuple>, usize),
    Attr(Py<PyAny>, Py<pyo3::types::PyString>),
    /// A key of no use for its object: never holds anything.
    Missing,
}

impl Place {
    fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        match self {
            Place::Dict(d, k) => {
                visit.call(d)?;
                visit.call(k)
            }
            Place::Cell(c) => visit.call(c),
            Place::Tuple(t, _) => visit.call(t),
            Place::Attr(o, n) => {
                visit.call(o)?;
                visit.call(n)
            }
            Place::Missing => Ok(()),
        }
    }

    fn new(py: Python<'_>, (obj, key): Slot) -> Place {
        let Some(key) = key else {
            return Place::Cell(obj);
        };
        let obj = obj.into_bound(py);
        let key = key.into_bound(py);
        if let Ok(d) = obj.cast::<PyDict>() {
            Place::Dict(d.clone().unbind(), key.unbind())
        } else if let Ok(t) = obj.cast::<PyTuple>() {
            match key.extract::<usize>() {
                Ok(i) => Place::Tuple(t.clone().unbind(), i),
                Err(_) => Place::Missing,
            }
        } else {
            match key.cast::<pyo3::types::PyString>() {
                Ok(name) => Place::Attr(obj.unbind(), name.clone().unbind()),
                Err(_) => Place::Missing,
            }
        }
    }

    /// The object the place holds now (a new reference), or None when it is missing (a
    /// deleted global, an empty cell).
    fn read<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        match self {
            Place::Dict(d, key) => {
                // SAFETY: both are live objects; the result is borrowed from the dict and
                // owned by us (a new reference) before anything else runs.
                let got = unsafe { pyo3::ffi::PyDict_GetItemWithError(d.as_ptr(), key.as_ptr()) };
                if got.is_null() {
                    // A key whose `__eq__` raised: as missing, like a failed lookup.
                    let _ = PyErr::take(py);
                    return None;
                }
                // SAFETY: `got` is a live object (borrowed, see above).
                Some(unsafe { Bound::from_borrowed_ptr(py, got) })
            }
            Place::Cell(c) => {
                // SAFETY: `c` is a live object; for a cell, `PyCell_Get` returns a new
                // reference, or NULL (no error) when the cell is empty.
                unsafe {
                    if pyo3::ffi::PyCell_Check(c.as_ptr()) != 0 {
                        Bound::from_owned_ptr_or_opt(py, pyo3::ffi::PyCell_Get(c.as_ptr()))
                    } else {
                        c.bind(py).getattr(pyo3::intern!(py, "cell_contents")).ok()
                    }
                }
            }
            Place::Tuple(t, i) => t.bind(py).get_item(*i).ok(),
            Place::Attr(obj, name) => obj.bind(py).getattr(name.bind(py)).ok(),
            Place::Missing => None,
        }
    }
}

/// A kernel bound to where its parameters beyond the call's arguments come from, and to the
/// bindings its text depends on: the per-call entry of `@fastiter.compile`.
#[pyclass(frozen, module = "fastiter._native")]
struct Caller {
    kernel: Py<Kernel>,
    /// The parameters after the arguments, read at every call (globals, closure cells,
    /// default values): a changed value is never stale.
    sources: Vec<Place>,
    /// `(slot, object)`: the slot must hold exactly this object (None: must be missing), or
    /// the text no longer describes the function (a global function rebound, ...).
    guards: Vec<(Place, Option<Py<PyAny>>)>,
}

#[pymethods]
impl Caller {
    // A caller holds its function's module dict (a global it reads), which holds the
    // function, which holds the caller: the collector must see these references, or every
    // compiled function of a module that goes away is kept for good (found by the soak:
    // 20 KB a function).
    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.kernel)?;
        for place in &self.sources {
            place.traverse(&visit)?;
        }
        for (place, want) in &self.guards {
            place.traverse(&visit)?;
            if let Some(w) = want {
                visit.call(w)?;
            }
        }
        Ok(())
    }

    #[new]
    fn new(
        py: Python<'_>,
        kernel: Py<Kernel>,
        sources: Vec<Slot>,
        guards: Vec<(Slot, Option<Py<PyAny>>)>,
    ) -> Self {
        Caller {
            kernel,
            sources: sources.into_iter().map(|s| Place::new(py, s)).collect(),
            guards: guards
                .into_iter()
                .map(|(s, want)| (Place::new(py, s), want))
                .collect(),
        }
    }

    /// The kernel's value for the arguments `args` (a tuple), or `NotImplemented` when this
    /// entry does not apply (argument or parameter types, a guard): see `Kernel.call`.
    fn call(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        for (slot, want) in &self.guards {
            let ok = match (slot.read(py), want) {
                (None, None) => true,
                (Some(got), Some(want)) => got.is(want.bind(py)),
                _ => false,
            };
            if !ok {
                return Ok(py.NotImplemented());
            }
        }
        let kernel = self.kernel.get();
        if self.sources.is_empty() {
            return kernel.call_with(py, args, &[]);
        }
        let mut extra = Vec::with_capacity(self.sources.len());
        for slot in &self.sources {
            match slot.read(py) {
                Some(v) => extra.push(v),
                None => return Ok(py.NotImplemented()),
            }
        }
        kernel.call_with(py, args, &extra)
    }

    #[getter]
    fn kernel(&self, py: Python<'_>) -> Py<Kernel> {
        self.kernel.clone_ref(py)
    }
}

/// The base of `fastiter.compile`'s `CompiledFunction`: a call goes straight to the native
/// entry last used (`_hot`, a `Caller`) when it applies, else to the Python method
/// `_call(args, kwargs)`; a `Refused` result runs `_python(args, kwargs)`, the function itself.
#[pyclass(subclass, dict, module = "fastiter._native")]
struct CompiledBase {
    #[pyo3(get, set)]
    _hot: Option<Py<Caller>>,
}

#[pymethods]
impl CompiledBase {
    // `_hot` reaches the function's module dict (see `Caller::__traverse__`).
    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(hot) = &self._hot {
            visit.call(hot)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self._hot = None;
    }

    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        CompiledBase { _hot: None }
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let plain = kwargs.is_none_or(|k| k.is_empty());
        if plain {
            // A failed borrow (another thread setting `_hot`, free-threaded) takes the slow path.
            let hot = slf
                .try_borrow()
                .ok()
                .and_then(|b| b._hot.as_ref().map(|c| c.clone_ref(py)));
            if let Some(caller) = hot {
                match caller.get().call(py, args) {
                    Ok(r) if !r.bind(py).is(py.NotImplemented()) => return Ok(r),
                    Ok(_) => {}
                    Err(e) if e.is_instance_of::<Refused>(py) => {
                        let kw = PyDict::new(py);
                        return Ok(slf.call_method1("_python", (args, kw))?.unbind());
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let kw = match kwargs {
            Some(k) => k.clone(),
            None => PyDict::new(py),
        };
        Ok(slf.call_method1("_call", (args, kw))?.unbind())
    }
}

/// The interpreter's main thread, the only one whose signal checks run handlers.
static MAIN_THREAD: std::sync::OnceLock<std::ffi::c_ulong> = std::sync::OnceLock::new();

/// How often a run on the main thread checks for signals (each check takes the GIL, which
/// another Python thread may hold for up to its switch interval, 5 ms).
const SIGNAL_EVERY: Duration = Duration::from_millis(40);

/// Run `f` on this thread with its loops' polls (`fastiter_runtime::interrupt`) checking for
/// signals, at most every `SIGNAL_EVERY`: a run that nobody watches (a `@fastiter.compile`
/// call, a short input) still stops on Ctrl-C. Returns `f`'s result and the exception a
/// signal handler raised, if one did (then the run was stopped). Off the main thread signals
/// are never handled, and nothing is checked.
fn with_signals<T>(f: impl FnOnce() -> T) -> (T, Option<PyErr>) {
    // SAFETY: no preconditions; it reads the OS thread's identity.
    let this = unsafe { pyo3::ffi::PyThread_get_thread_ident() };
    if MAIN_THREAD.get() != Some(&this) {
        return (f(), None);
    }
    let raised: std::cell::RefCell<Option<PyErr>> = std::cell::RefCell::new(None);
    let last = std::cell::Cell::new(std::time::Instant::now());
    let hook = || {
        if raised.borrow().is_some() {
            return true; // the interpreter's rerun of a stopped chunk stops too
        }
        if last.get().elapsed() < SIGNAL_EVERY {
            return false;
        }
        let checked = Python::attach(|py| py.check_signals());
        last.set(std::time::Instant::now());
        match checked {
            Ok(()) => false,
            Err(e) => {
                *raised.borrow_mut() = Some(e);
                true
            }
        }
    };
    let out = fastiter_runtime::interrupt::with_hook(&hook, f);
    (out, raised.into_inner())
}

/// Run `f` on a worker thread with the GIL released, checking for signals (Ctrl-C) every few
/// milliseconds; on a signal, cancel the run, wait for it to stop, and raise.
fn run_watched<T: Send>(py: Python<'_>, f: impl FnOnce(&AtomicBool) -> T + Send) -> PyResult<T> {
    run_watched_until(py, |_| Ok(false), f)
}

/// `run_watched`, also cancelling the run (and returning what it then returns) once
/// `stop` says so; `stop` is called with the GIL every few milliseconds.
fn run_watched_until<T: Send>(
    py: Python<'_>,
    stop: impl Fn(Python<'_>) -> PyResult<bool> + Sync,
    f: impl FnOnce(&AtomicBool) -> T + Send,
) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel();
            let cancel_ref = &cancel;
            s.spawn(move || {
                let _ = tx.send(f(cancel_ref));
            });
            let mut pending: Option<PyErr> = None;
            loop {
                match rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(v) => return pending.map_or(Ok(v), Err),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if pending.is_none() {
                            let checked = Python::attach(|py| {
                                py.check_signals()?;
                                stop(py)
                            });
                            match checked {
                                Ok(false) => {}
                                Ok(true) => {
                                    cancel.store(true, std::sync::atomic::Ordering::Relaxed)
                                }
                                Err(e) => {
                                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                                    pending = Some(e);
                                }
                            }
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(pending.unwrap_or_else(|| {
                            pyo3::exceptions::PyRuntimeError::new_err(
                                "fastiter worker stopped unexpectedly",
                            )
                        }))
                    }
                }
            }
        })
    })
}

/// Set the number of worker threads (at least 1).
#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n)
        .map_err(|_| PyValueError::new_err("number of threads must be at least 1"))?;
    fastiter_runtime::set_num_threads(n).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The number of worker threads.
#[pyfunction]
fn get_num_threads() -> usize {
    fastiter_runtime::get_num_threads()
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let main = m.py().import("threading")?.call_method0("main_thread")?;
    if let Ok(ident) = main.getattr("ident")?.extract::<std::ffi::c_ulong>() {
        let _ = MAIN_THREAD.set(ident);
    }
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(buffer_dtype_of, m)?)?;
    m.add_function(wrap_pyfunction!(convert::sequence_buffer, m)?)?;
    m.add_class::<convert::SeqBuffer>()?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(partials::split, m)?)?;
    m.add_function(wrap_pyfunction!(partials::run_chunks, m)?)?;
    m.add_function(wrap_pyfunction!(partials::combine_chunks, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_class::<Kernel>()?;
    m.add_class::<Caller>()?;
    m.add_class::<CompiledBase>()?;
    m.add_class::<chain::ChainBase>()?;
    m.add_class::<chain::Span>()?;
    m.add_function(wrap_pyfunction!(chain::par_range, m)?)?;
    m.add_function(wrap_pyfunction!(chain::chain_setup, m)?)?;
    m.add_function(wrap_pyfunction!(chain::set_cluster_min, m)?)?;
    repl::register(m)?;
    m.add("CompileError", m.py().get_type::<CompileError>())?;
    m.add("Refused", m.py().get_type::<Refused>())?;
    Ok(())
}
