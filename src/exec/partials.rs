//! A run in parts: some of a pipeline's chunks computed in one place ([`run_chunks`], what a
//! cluster task does), and chunk results gathered from anywhere combined in order
//! ([`combine_chunks`], what the client does). The chunks are the ones `run` would make for
//! the whole input, whichever part computes them, and they are combined by `run`'s own
//! `combine`: so a run split into parts gives `run`'s value, bit for bit (float sums
//! included), and the earliest error in element order wins.

use std::ops::Range;

use super::{combine, slot_value, Acc, BufferArg, ChunkOut, Chunks, ExecError, RunOptions};
use crate::codegen::Kernel;
use crate::ir::Pipeline;
use crate::value::Value;

/// How many chunks a run over `len` elements is made of (what [`run_chunks`] numbers).
pub fn num_chunks(len: u64) -> usize {
    fastiter_runtime::num_chunks(len)
}

/// The element positions `[lo, hi)` of chunk `idx` of an input of `len` elements.
pub fn chunk_bounds(len: u64, idx: usize) -> (i64, i64) {
    fastiter_runtime::chunk_bounds(len, idx)
}

/// The results of chunks `which` of the pipeline's input, in order, stopping after the first
/// decisive one (an error, or an early exit of `any`/`all`/`find_*`): the later ones cannot
/// change the value. A `collect`'s items come back as values (`Acc::Items`), not slots.
///
/// `buffer` may be a window ([`BufferArg::window`]): the chunks must then lie inside the
/// positions it holds. A sequential `fold` has no chunks to split: it is refused, as is a
/// rescan (see [`combine_chunks`]), which the caller runs whole.
pub fn run_chunks(
    p: &Pipeline,
    kernel: Option<&Kernel>,
    params: &[Value],
    buffer: Option<BufferArg>,
    which: Range<usize>,
    opts: &RunOptions,
) -> Result<Vec<ChunkOut>, ExecError> {
    if p.consumer.is_fold() {
        return Err(ExecError::Unsupported(
            "a fold runs as one sequential chunk: it cannot be split".into(),
        ));
    }
    let chunks = Chunks::new(p, kernel, params, buffer, opts)?;
    let len = chunks.len();
    let n = num_chunks(len);
    if which.start > which.end || which.end > n {
        return Err(ExecError::Unsupported(format!(
            "chunks {}..{} of an input split into {n}",
            which.start, which.end
        )));
    }
    if let (Some(b), false) = (buffer, which.is_empty()) {
        let (lo, _) = chunk_bounds(len, which.start);
        let (_, hi) = chunk_bounds(len, which.end - 1);
        let held = b.held();
        if (lo as usize) < held.start || hi as usize > held.end {
            return Err(ExecError::Unsupported(format!(
                "chunks {}..{} read positions {lo}..{hi}, the buffer holds {}..{}",
                which.start, which.end, held.start, held.end
            )));
        }
    }
    let per = chunks.per_item();
    let slots = chunks.writes_slots();
    fastiter_runtime::execute_chunks(len, which, opts.threads.max(1), opts.cancel, |_, lo, hi| {
        let out = if slots {
            // A chunk of its own for the kernel's items, turned into values: a part's items
            // travel to another process.
            let mut buf: Vec<u64> = Vec::with_capacity((hi - lo) as usize * per);
            match chunks.run(lo, hi, buf.as_mut_ptr()) {
                ChunkOut::Done(Acc::Slots { count, .. }) => {
                    // SAFETY: the kernel initialised `count` items (`per` slots each) from
                    // the start of `buf`, which has room for `hi - lo` of them.
                    unsafe { buf.set_len(count * per) };
                    let ty = chunks.p.elem_type();
                    ChunkOut::Done(Acc::Items(
                        buf.chunks_exact(per)
                            .map(|h| slot_value(h[0], h[per - 1], ty))
                            .collect(),
                    ))
                }
                out => out,
            }
        } else {
            chunks.run(lo, hi, std::ptr::null_mut())
        };
        let decisive = out.decisive();
        (out, decisive)
    })
    .map_err(|_| ExecError::Cancelled)
}

/// The pipeline's value from the results of all its chunks in order (as [`run_chunks`] gives
/// them, concatenated), stopping at the first decisive one; `None` when `run` would scan the
/// whole input again in one sequential chunk (a float `min`/`max` that met a NaN, a mixed sum
/// whose later ints cannot be converted): the caller then runs it whole.
pub fn combine_chunks(
    p: &Pipeline,
    params: &[Value],
    outs: Vec<ChunkOut>,
) -> Result<Option<Value>, ExecError> {
    if p.consumer.is_fold() {
        return Err(ExecError::Unsupported(
            "a fold runs as one sequential chunk: it cannot be split".into(),
        ));
    }
    // Only what `run` would have kept: up to the first decisive chunk.
    let end = outs
        .iter()
        .position(ChunkOut::decisive)
        .map_or(outs.len(), |i| i + 1);
    let mut outs = outs;
    outs.truncate(end);
    if Chunks::needs_rescan(&outs) {
        return Ok(None);
    }
    combine(p, params, outs, Vec::new()).map(Some)
}
