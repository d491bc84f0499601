//! A kernel's run in parts, for running it on a cluster: `split` says how the input is
//! chunked, `run_chunks` computes some chunks (on a worker, over the block of the input it
//! holds) and returns their results as plain, picklable tuples, and `combine_chunks` turns
//! the results of all chunks, in order, into the value `Kernel.run` gives (see
//! `fastiter::exec::partials`).
//!
//! A chunk's result is one of
//! - `("d", acc)`: the chunk ran to its end; `acc` is `("int", n)`, `("mixed", n, None |
//!   (s, c))`, `("float", s, c, count)`, `("count", n)`, `("ext", value | None, nan_seen)`,
//!   `("none",)`, `("red", value)`, `("items", list)`, `("prod", n)` or `("extby", None |
//!   (value, key), nan_seen)`;
//! - `("f", index, value, before)`: an early exit (`any`, `all`, `find_*`, `position_*`);
//! - `("e", index, code, exception)`: an error at `index`, as the exception the worker's
//!   CPython made (a `Refused` one when the kernel declines to compute the value).

use std::sync::atomic::{AtomicBool, Ordering};

use num_bigint::BigInt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};

use fastiter::exec::{Acc, BufferArg, ChunkOut};
use fastiter::{ExecError, RunOptions, Value};

use crate::{checked_buffer, exec_error, items_of, run_watched_until, to_py, Kernel, Refused};

/// `(length, chunk_len, chunks)`: how many positions a run over these parameters (and a
/// buffer of `buffer_len` elements, for a pipeline that reads one) splits into chunks, and
/// how. Raises `Refused` when the run cannot be split (a `fold`, a buffer pipeline with
/// `skip`/`take`/`step_by`/`zip`, a range too long for a kernel).
#[pyfunction]
#[pyo3(signature = (kernel, params, buffer_len=None))]
pub(crate) fn split(
    py: Python<'_>,
    kernel: &Kernel,
    params: Vec<Bound<'_, PyAny>>,
    buffer_len: Option<usize>,
) -> PyResult<(u64, u64, usize)> {
    let values = kernel.values(&params)?;
    let c = &kernel.compiled;
    if c.pipeline.consumer.is_fold() {
        return Err(Refused::new_err("a fold runs as one sequential chunk"));
    }
    let buffer = match (&kernel.buffer, buffer_len) {
        (Some(decl), Some(n)) => {
            if decl.zip.is_some() {
                return Err(Refused::new_err("a zip of two buffers is not split"));
            }
            // A window holding nothing: enough to evaluate the source's length, and views
            // (which would move positions) are refused on it.
            static NOTHING: u64 = 0;
            // SAFETY: the window holds no element, so nothing is ever read through it.
            Some(unsafe {
                BufferArg::window(&NOTHING as *const u64 as *const u8, 0, decl.dtype, 0, n)
            })
        }
        (Some(_), None) => return Err(PyTypeError::new_err("this pipeline reads a buffer")),
        (None, _) => None,
    };
    let len = c
        .chunked_len(&values, buffer)
        .map_err(|e| exec_error(py, e))?;
    Ok((
        len,
        fastiter_runtime::chunk_len(len),
        fastiter_runtime::num_chunks(len),
    ))
}

/// The results of chunks `first..stop` (see `split`), in order, stopping after the first
/// decisive one. `buffer` holds positions `base..base + len(buffer)` of an input of `total`
/// elements (the whole input when `total` is None). Releases the GIL. `until`, when given,
/// is called every few milliseconds: once it returns true the run stops and the result is
/// `None` (the caller no longer needs it: an earlier part decided).
#[pyfunction]
#[pyo3(signature = (kernel, params, first, stop, buffer=None, base=0, total=None, threads=0, until=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_chunks(
    py: Python<'_>,
    kernel: &Kernel,
    params: Vec<Bound<'_, PyAny>>,
    first: usize,
    stop: usize,
    buffer: Option<Bound<'_, PyAny>>,
    base: usize,
    total: Option<usize>,
    threads: usize,
    until: Option<Bound<'_, PyAny>>,
) -> PyResult<Option<Py<PyList>>> {
    let values = kernel.values(&params)?;
    let view = match (&kernel.buffer, &buffer) {
        (Some(decl), _) if decl.zip.is_some() => {
            return Err(Refused::new_err("a zip of two buffers is not split"))
        }
        (Some(decl), Some(obj)) => Some(checked_buffer(obj, decl.dtype)?),
        (Some(_), None) => return Err(PyTypeError::new_err("this pipeline reads a buffer")),
        (None, _) => None,
    };
    let arg = match (&kernel.buffer, &view) {
        (Some(decl), Some(v)) => {
            let n = items_of(v, decl.dtype);
            let total = total.unwrap_or(base + n);
            if base + n > total {
                return Err(PyTypeError::new_err(format!(
                    "a buffer of {n} elements from position {base} is not inside {total}"
                )));
            }
            // SAFETY: as in `Kernel::run_values`: a checked, C-contiguous view of `n`
            // elements, held until after the run.
            Some(unsafe { BufferArg::window(v.buf_ptr() as *const u8, n, decl.dtype, base, total) })
        }
        _ => None,
    };
    let threads = if threads == 0 {
        fastiter_runtime::get_num_threads()
    } else {
        threads
    };
    let compiled = &kernel.compiled;
    let stopped = AtomicBool::new(false);
    let until = until.map(Bound::unbind);
    let should_stop = |py: Python<'_>| -> PyResult<bool> {
        let yes = match &until {
            Some(f) => f.bind(py).call0()?.is_truthy()?,
            None => false,
        };
        if yes {
            stopped.store(true, Ordering::Relaxed);
        }
        Ok(yes)
    };
    let outs = run_watched_until(py, should_stop, |cancel| {
        compiled.run_chunks(
            &values,
            arg,
            first..stop,
            &RunOptions {
                threads,
                jit: true,
                cancel: Some(cancel),
            },
        )
    })?;
    drop(view);
    let outs = match outs {
        Err(ExecError::Cancelled) if stopped.load(Ordering::Relaxed) => return Ok(None),
        outs => outs.map_err(|e| exec_error(py, e))?,
    };
    let items = outs
        .into_iter()
        .map(|o| chunk_to_py(py, o))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Some(PyList::new(py, items)?.unbind()))
}

/// The value of the run from the results of all its chunks in order (`run_chunks`' lists,
/// concatenated); `NotImplemented` when the run must scan the whole input in one sequential
/// chunk instead (a float `min`/`max` that met a NaN, a mixed sum past what a float holds).
/// Raises the first error in element order.
#[pyfunction]
pub(crate) fn combine_chunks(
    py: Python<'_>,
    kernel: &Kernel,
    params: Vec<Bound<'_, PyAny>>,
    parts: Vec<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let values = kernel.values(&params)?;
    let mut outs = Vec::with_capacity(parts.len());
    let mut raised = None;
    for part in &parts {
        let t = part.cast::<PyTuple>()?;
        match t.get_item(0)?.extract::<String>()?.as_str() {
            "e" => {
                // The chunks before it may raise first (a mixed sum's ints past a float).
                raised = Some(t.get_item(3)?);
                break;
            }
            _ => outs.push(chunk_from_py(t)?),
        }
    }
    let compiled = &kernel.compiled;
    let got = compiled.combine_chunks(&values, outs);
    match (got, raised) {
        (Err(e), _) => Err(exec_error(py, e)),
        (Ok(_), Some(exc)) => Err(PyErr::from_value(exc)),
        (Ok(None), None) => Ok(py.NotImplemented()),
        (Ok(Some(v)), None) => to_py(py, v),
    }
}

fn tuple<'py>(py: Python<'py>, items: Vec<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

fn opt_py(py: Python<'_>, v: Option<Value>) -> PyResult<Py<PyAny>> {
    v.map_or_else(|| Ok(py.None()), |v| to_py(py, v))
}

fn chunk_to_py(py: Python<'_>, o: ChunkOut) -> PyResult<Py<PyAny>> {
    let s = |t: &str| t.into_pyobject(py).map(|o| o.into_any().unbind());
    let b = |v: bool| PyBool::new(py, v).to_owned().into_any().unbind();
    let f = |v: f64| PyFloat::new(py, v).into_any().unbind();
    let int = |v: BigInt| to_py(py, Value::Int(v));
    Ok(match o {
        ChunkOut::Done(acc) => {
            let acc = match acc {
                Acc::IntSum(n) => tuple(py, vec![s("int")?, int(n)?])?,
                Acc::MixedSum { pre, float } => {
                    let fl = match float {
                        Some((a, c)) => tuple(py, vec![f(a), f(c)])?,
                        None => py.None(),
                    };
                    tuple(py, vec![s("mixed")?, int(pre)?, fl])?
                }
                Acc::FloatSum { s: a, c, n } => {
                    tuple(py, vec![s("float")?, f(a), f(c), int(n.into())?])?
                }
                Acc::Count(n) => tuple(py, vec![s("count")?, int(n.into())?])?,
                Acc::Extreme { value, nan_seen } => {
                    tuple(py, vec![s("ext")?, opt_py(py, value)?, b(nan_seen)])?
                }
                Acc::NotFound => tuple(py, vec![s("none")?])?,
                Acc::Reduce(v) => tuple(py, vec![s("red")?, to_py(py, v)?])?,
                Acc::Items(items) => tuple(py, vec![s("items")?, to_py(py, Value::List(items))?])?,
                Acc::Product(n) => tuple(py, vec![s("prod")?, int(n)?])?,
                Acc::ExtremeBy { best, nan_seen } => {
                    let best = match best {
                        Some((v, k)) => tuple(py, vec![to_py(py, v)?, to_py(py, k)?])?,
                        None => py.None(),
                    };
                    tuple(py, vec![s("extby")?, best, b(nan_seen)])?
                }
                Acc::Slots { .. } => unreachable!("run_chunks gives a collect's items as values"),
            };
            tuple(py, vec![s("d")?, acc])?
        }
        ChunkOut::Found {
            index,
            value,
            before,
        } => tuple(
            py,
            vec![
                s("f")?,
                int(index.into())?,
                to_py(py, value)?,
                int(before.into())?,
            ],
        )?,
        ChunkOut::Error { index, code, call } => {
            let exc = exec_error(py, ExecError::raised(code, call));
            tuple(
                py,
                vec![
                    s("e")?,
                    int(index.into())?,
                    int((code as u32).into())?,
                    exc.into_value(py).into_any(),
                ],
            )?
        }
    })
}

/// A number, bool, None or list as the value it is.
fn any_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    Ok(if obj.is_none() {
        Value::None
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        Value::Bool(b.is_true())
    } else if let Ok(i) = obj.cast_exact::<PyInt>() {
        Value::Int(i.extract::<BigInt>()?)
    } else if let Ok(x) = obj.cast_exact::<PyFloat>() {
        Value::Float(x.value())
    } else if let Ok(l) = obj.cast_exact::<PyList>() {
        Value::List(l.iter().map(|o| any_value(&o)).collect::<PyResult<_>>()?)
    } else {
        return Err(PyTypeError::new_err(format!(
            "not a chunk result value: {}",
            obj.get_type().name()?
        )));
    })
}

fn opt_value(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    Ok(if obj.is_none() {
        None
    } else {
        Some(any_value(obj)?)
    })
}

fn chunk_from_py(t: &Bound<'_, PyTuple>) -> PyResult<ChunkOut> {
    let bad = || PyTypeError::new_err("not a chunk result of fastiter._native.run_chunks");
    Ok(match t.get_item(0)?.extract::<String>()?.as_str() {
        "f" => ChunkOut::Found {
            index: t.get_item(1)?.extract()?,
            value: any_value(&t.get_item(2)?)?,
            before: t.get_item(3)?.extract()?,
        },
        "d" => {
            let a = t.get_item(1)?;
            let a = a.cast::<PyTuple>()?;
            let item = |i: usize| a.get_item(i);
            ChunkOut::Done(match item(0)?.extract::<String>()?.as_str() {
                "int" => Acc::IntSum(item(1)?.extract()?),
                "mixed" => Acc::MixedSum {
                    pre: item(1)?.extract()?,
                    float: item(2)?.extract()?,
                },
                "float" => Acc::FloatSum {
                    s: item(1)?.extract()?,
                    c: item(2)?.extract()?,
                    n: item(3)?.extract()?,
                },
                "count" => Acc::Count(item(1)?.extract()?),
                "ext" => Acc::Extreme {
                    value: opt_value(&item(1)?)?,
                    nan_seen: item(2)?.extract()?,
                },
                "none" => Acc::NotFound,
                "red" => Acc::Reduce(any_value(&item(1)?)?),
                "items" => match any_value(&item(1)?)? {
                    Value::List(items) => Acc::Items(items),
                    _ => return Err(bad()),
                },
                "prod" => Acc::Product(item(1)?.extract()?),
                "extby" => {
                    let best = item(1)?;
                    Acc::ExtremeBy {
                        best: if best.is_none() {
                            None
                        } else {
                            let p = best.cast::<PyTuple>()?;
                            Some((any_value(&p.get_item(0)?)?, any_value(&p.get_item(1)?)?))
                        },
                        nan_seen: item(2)?.extract()?,
                    }
                }
                _ => return Err(bad()),
            })
        }
        _ => return Err(bad()),
    })
}
