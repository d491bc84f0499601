//! Lists and tuples of numbers as typed buffers, converted in one pass over the items.
//!
//! `_pipeline._sequence_buffer` hands an exact `list` or `tuple` here. One loop reads each
//! item's type (exact `int`, `float`, `bool`: subclasses are other types, as
//! `set(map(type, data))` sees them), decides the element type as it goes and writes the slot:
//! - only ints (or nothing): `i64`, one `int64` per item;
//! - only floats: `f64`;
//! - only bools: `bool`, one byte 0/1 per item;
//! - a mix of the three: `num`, per item its 8-byte slot (the int, the float's bits, 0/1) then
//!   its tag (0 int, 1 float, 2 bool), as two `int64`.
//!
//! It starts in the type of the first item (tagged at once when the first 64 items mix); at the
//! first item of another number type it rewrites the items done so far as tagged numbers and
//! goes on tagged. Ints past 64 bits and
//! other types are refusals, with the reasons the Python conversion gave.
//!
//! **Why the items are read without a reference of their own.** The loop runs inside a
//! critical section on the list (`with_critical_section`: the list's own lock on free-threaded
//! builds, where another thread may otherwise resize the list under us; nothing with the GIL,
//! which the caller holds throughout). Every list mutation takes that lock, and the loop never
//! does anything that would suspend it (it runs no Python code, takes no other lock, and
//! `PyLong_AsLongLongAndOverflow` on an exact `int` calls nothing), so the item array and the
//! items it holds stay as they are until the loop ends: the result is the list as it was at
//! one instant, as `list.copy()` would see it. A copy (`PySequence_Fast`, a slice) would give
//! the same guarantee at the price of one reference count change per item, an atomic one on
//! free-threaded builds. Tuples cannot change.

use std::ffi::{c_int, CStr};
use std::ptr;

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::critical_section::with_critical_section;
use pyo3::types::{PyList, PyString, PyTuple, PyType};

/// Tags of the `num` layout (the kernel ABI's, `Dtype::Num`).
const TAG_INT: u64 = 0;
const TAG_FLOAT: u64 = 1;
const TAG_BOOL: u64 = 2;

/// A converted list: read-only, exported through the buffer protocol in the layout its dtype
/// names, for `Kernel.run`.
#[pyclass(frozen, module = "fastiter._native")]
pub struct SeqBuffer {
    data: Data,
    /// The `struct` format of one exported element.
    format: &'static CStr,
    itemsize: ffi::Py_ssize_t,
    /// The one dimension, kept here because the exported view points at it.
    shape: [ffi::Py_ssize_t; 1],
}

/// The converted items: int64 or float64 slots (also tagged pairs), or bool bytes.
enum Data {
    Words(Box<[u64]>),
    Bytes(Box<[u8]>),
}

impl Data {
    fn as_ptr(&self) -> *const u8 {
        match self {
            Data::Words(w) => w.as_ptr().cast(),
            Data::Bytes(b) => b.as_ptr(),
        }
    }

    fn len_bytes(&self) -> usize {
        match self {
            Data::Words(w) => 8 * w.len(),
            Data::Bytes(b) => b.len(),
        }
    }
}

impl SeqBuffer {
    fn new(data: Data, format: &'static CStr, itemsize: usize) -> Self {
        let n = data.len_bytes() / itemsize;
        SeqBuffer {
            data,
            format,
            itemsize: itemsize as ffi::Py_ssize_t,
            shape: [n as ffi::Py_ssize_t],
        }
    }
}

#[pymethods]
impl SeqBuffer {
    /// # Safety
    /// `view` is a `Py_buffer` CPython hands to `bf_getbuffer`.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("no view to fill"));
        }
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err("a converted list is read-only"));
        }
        let me = slf.get();
        // SAFETY: `view` is CPython's, valid for writes. Every pointer stored in it points into
        // `me` (the boxed data, the static format, `shape`, `itemsize`), which lives at least as
        // long as the view: the view owns a strong reference to `slf`, released with it. The
        // object is frozen, so none of those fields ever moves or changes.
        unsafe {
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).buf = me.data.as_ptr() as *mut _;
            (*view).len = me.data.len_bytes() as ffi::Py_ssize_t;
            (*view).readonly = 1;
            (*view).itemsize = me.itemsize;
            (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT {
                me.format.as_ptr() as *mut _
            } else {
                ptr::null_mut()
            };
            (*view).ndim = 1;
            (*view).shape = if flags & ffi::PyBUF_ND == ffi::PyBUF_ND {
                me.shape.as_ptr() as *mut _
            } else {
                ptr::null_mut()
            };
            (*view).strides = if flags & ffi::PyBUF_STRIDES == ffi::PyBUF_STRIDES {
                &me.itemsize as *const _ as *mut _
            } else {
                ptr::null_mut()
            };
            (*view).suboffsets = ptr::null_mut();
            (*view).internal = ptr::null_mut();
        }
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.shape[0] as usize
    }
}

/// Why a sequence does not convert.
enum Refusal {
    /// An int outside int64 (only when every item is an int, float or bool).
    TooBig,
    /// An item of another type (subclasses included).
    Other,
}

/// The element type so far, in the order of the tags.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
}

impl Kind {
    fn tag(self) -> u64 {
        match self {
            Kind::Int => TAG_INT,
            Kind::Float => TAG_FLOAT,
            Kind::Bool => TAG_BOOL,
        }
    }
}

/// The three exact types, compared by address.
struct Types {
    int: *mut ffi::PyTypeObject,
    float: *mut ffi::PyTypeObject,
    bool: *mut ffi::PyTypeObject,
}

impl Types {
    fn get() -> Self {
        Types {
            int: ptr::addr_of_mut!(ffi::PyLong_Type),
            float: ptr::addr_of_mut!(ffi::PyFloat_Type),
            bool: ptr::addr_of_mut!(ffi::PyBool_Type),
        }
    }

    /// The kind of an item, None for any other type.
    ///
    /// # Safety
    /// `p` is a live object.
    #[inline(always)]
    unsafe fn kind(&self, p: *mut ffi::PyObject) -> Option<Kind> {
        // SAFETY: `p` is live (the caller's promise).
        let t = unsafe { ffi::Py_TYPE(p) };
        if t == self.int {
            Some(Kind::Int)
        } else if t == self.float {
            Some(Kind::Float)
        } else if t == self.bool {
            Some(Kind::Bool)
        } else {
            None
        }
    }

    /// The slot of an item of kind `k`; None for an int outside int64.
    ///
    /// # Safety
    /// `p` is a live object of exactly the type of `k`.
    #[inline(always)]
    unsafe fn slot(&self, p: *mut ffi::PyObject, k: Kind) -> Option<u64> {
        // SAFETY: `p` is live and of exactly the type `k` names (the caller's promise): a float
        // has its value at `ob_fval`, and for an exact int `PyLong_AsLongLongAndOverflow`
        // calls no Python code and sets no error, it reports overflow in its flag.
        unsafe {
            match k {
                Kind::Int => {
                    let mut overflow: c_int = 0;
                    let v = ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow);
                    (overflow == 0).then_some(v as u64)
                }
                Kind::Float => Some(ffi::PyFloat_AS_DOUBLE(p).to_bits()),
                Kind::Bool => Some((p == ffi::Py_True()) as u64),
            }
        }
    }
}

/// The buffer of `items` and its dtype name, or why there is none.
///
/// # Safety
/// Every pointer in `items` is a live object that stays alive and in place while this runs.
unsafe fn convert(items: &[*mut ffi::PyObject]) -> Result<(SeqBuffer, &'static str), Refusal> {
    let types = Types::get();
    let Some(&first) = items.first() else {
        return Ok((SeqBuffer::new(Data::Words(Box::new([])), c"q", 8), "i64"));
    };
    // SAFETY (here and below): the items are live (the caller's promise), and `slot` is only
    // called on an item of the kind `kind` just returned for it.
    let Some(kind) = (unsafe { types.kind(first) }) else {
        return Err(Refusal::Other);
    };
    // A list that mixes types in its first items goes straight to tagged numbers, without
    // preparing a buffer of one type first.
    let mixed_early = items
        .iter()
        .take(MIXED_PROBE)
        .any(|&p| matches!(unsafe { types.kind(p) }, Some(k) if k != kind));
    let mut too_big = false;
    let (mut slots, mut split) = if mixed_early {
        (Vec::new(), 0)
    } else {
        (slot_vec(items.len()), items.len())
    };
    for (i, &p) in items[..split].iter().enumerate() {
        match unsafe { types.kind(p) } {
            Some(k) if k == kind => match unsafe { types.slot(p, k) } {
                Some(v) => slots.push(v),
                None => {
                    // The rest is only looked at for another type, whose refusal comes first.
                    too_big = true;
                    slots.push(0);
                }
            },
            Some(_) => {
                split = i;
                break;
            }
            None => return Err(Refusal::Other),
        }
    }
    if split == items.len() {
        if too_big {
            return Err(Refusal::TooBig);
        }
        return Ok(match kind {
            Kind::Int => (
                SeqBuffer::new(Data::Words(slots.into_boxed_slice()), c"q", 8),
                "i64",
            ),
            Kind::Float => (
                SeqBuffer::new(Data::Words(slots.into_boxed_slice()), c"d", 8),
                "f64",
            ),
            Kind::Bool => {
                let bytes: Vec<u8> = slots.iter().map(|&b| b as u8).collect();
                (
                    SeqBuffer::new(Data::Bytes(bytes.into_boxed_slice()), c"?", 1),
                    "bool",
                )
            }
        });
    }
    // Mixed: the items so far as tagged numbers, then the rest.
    let mut tagged = slot_vec(2 * items.len());
    for &v in &slots {
        tagged.push(v);
        tagged.push(kind.tag());
    }
    drop(slots);
    for &p in &items[split..] {
        let Some(k) = (unsafe { types.kind(p) }) else {
            return Err(Refusal::Other);
        };
        match unsafe { types.slot(p, k) } {
            Some(v) => tagged.push(v),
            None => {
                too_big = true;
                tagged.push(0);
            }
        }
        tagged.push(k.tag());
    }
    if too_big {
        return Err(Refusal::TooBig);
    }
    Ok((
        SeqBuffer::new(Data::Words(tagged.into_boxed_slice()), c"q", 8),
        "num",
    ))
}

/// How many of the first items are looked at for a second number type.
const MIXED_PROBE: usize = 64;

/// Outputs of at least this many bytes are faulted in with one system call.
const POPULATE_MIN: usize = 4 << 20;

/// An empty vector with room for `n` slots. A large one has its pages faulted in at once
/// (`MADV_POPULATE_WRITE`, Linux 5.14+; older kernels refuse it and the pages fault one by
/// one): writing 80 MB of fresh 4 KiB pages trapped 20,000 times, about half the time of
/// converting 10^7 floats (75 ms, 60 ms populated). 2 MiB pages (`MADV_HUGEPAGE`) did better
/// (35 ms) but now and then stalled a call for 0.5-1 s while the kernel compacted memory to
/// find them.
fn slot_vec(n: usize) -> Vec<u64> {
    let v = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    if n * 8 >= POPULATE_MIN {
        const PAGE: usize = 4096;
        let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
        let end = (v.as_ptr() as usize + n * 8) & !(PAGE - 1);
        if end > start {
            // SAFETY: [start, end) lies inside the vector's own allocation and is page-aligned;
            // populating writes no data (the pages come zeroed or keep what they hold), and a
            // refusal (an error return) leaves the pages to fault as usual.
            unsafe {
                libc::madvise(
                    start as *mut std::ffi::c_void,
                    end - start,
                    libc::MADV_POPULATE_WRITE,
                )
            };
        }
    }
    v
}

/// The distinct types of `items`, sorted by name as the refusal names them.
///
/// # Safety
/// As for `convert`.
unsafe fn type_names<'py>(
    py: Python<'py>,
    items: &[*mut ffi::PyObject],
) -> Vec<Bound<'py, PyType>> {
    let mut seen: Vec<*mut ffi::PyTypeObject> = Vec::new();
    let mut out = Vec::new();
    for &p in items {
        // SAFETY: `p` is live (the caller's promise); its type is live while `p` is, and the
        // strong reference taken here keeps it after the critical section ends.
        let t = unsafe { ffi::Py_TYPE(p) };
        if !seen.contains(&t) {
            seen.push(t);
            out.push(unsafe { Bound::from_borrowed_ptr(py, t.cast()).cast_into_unchecked() });
        }
    }
    out
}

/// `seq` (an exact list or tuple) as `(buffer, dtype)`, the buffer exporting int64 (`i64`,
/// and `num` as pairs), float64 (`f64`) or bool (`bool`) items; or, when it does not
/// convert, the reason as a string.
#[pyfunction]
pub fn sequence_buffer<'py>(seq: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = seq.py();
    let run = |items: &[*mut ffi::PyObject]| {
        // SAFETY: `items` is the item array of a tuple, or of a list inside a critical section
        // on it (see the module comment): the objects stay alive and in place meanwhile.
        match unsafe { convert(items) } {
            Ok(done) => Ok(done),
            Err(Refusal::TooBig) => Err(None),
            // SAFETY: as above.
            Err(Refusal::Other) => Err(Some(unsafe { type_names(py, items) })),
        }
    };
    let got = if let Ok(list) = seq.cast_exact::<PyList>() {
        with_critical_section(list.as_any(), || {
            // SAFETY: an exact list, locked: `ob_item` holds `ob_size` live items (or is null
            // when empty) and neither changes until the critical section ends.
            let items = unsafe {
                let raw = list.as_ptr().cast::<ffi::PyListObject>();
                let n = ffi::PyList_GET_SIZE(list.as_ptr()) as usize;
                if n == 0 {
                    &[][..]
                } else {
                    std::slice::from_raw_parts((*raw).ob_item, n)
                }
            };
            run(items)
        })
    } else if let Ok(tuple) = seq.cast_exact::<PyTuple>() {
        // SAFETY: an exact tuple holds `ob_size` live items from `ob_item` on, for its whole
        // life, and `tuple` keeps it alive.
        let items = unsafe {
            let n = ffi::PyTuple_GET_SIZE(tuple.as_ptr()) as usize;
            let first = ptr::addr_of!((*tuple.as_ptr().cast::<ffi::PyTupleObject>()).ob_item);
            std::slice::from_raw_parts(first.cast::<*mut ffi::PyObject>(), n)
        };
        run(items)
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "sequence_buffer takes an exact list or tuple",
        ));
    };
    match got {
        Ok((buf, dtype)) => Ok((Bound::new(py, buf)?, dtype).into_pyobject(py)?.into_any()),
        Err(None) => Ok(PyString::new(py, "the list holds ints beyond 64 bits").into_any()),
        Err(Some(types)) => {
            let mut names = types
                .iter()
                .map(|t| t.name().map(|n| n.to_string()))
                .collect::<PyResult<Vec<_>>>()?;
            names.sort();
            let msg = format!(
                "the input holds {} values (compiled inputs hold one of int, float, bool)",
                names.join(", ")
            );
            Ok(PyString::new(py, &msg).into_any())
        }
    }
}
