//! Running chunks: calls a per-chunk closure over the chunks of `0..len` (inline, or on a pool
//! with dynamic load balancing), handles early exit and cancellation, and returns the partial
//! results in chunk order.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::chunks::{chunk_bounds, num_chunks};
use crate::pool::with_pool;

/// Returned by [`execute`] when its cancel flag was set before every needed chunk had run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Runs `run_chunk(idx, lo, hi)` for the chunks of `0..len` (split by [`crate::chunks`], so
/// independently of `threads`) and returns their partials in chunk order.
///
/// `run_chunk` returns a partial and a *decisive* flag (an error, or an early-exit hit of
/// `any`/`all`/`find`). The result is truncated right after the first (lowest-index) decisive
/// chunk: every chunk before it has been run and is present, chunks after it may or may not
/// have been run and are dropped. With no decisive chunk, every chunk is present.
///
/// * `len == 0`: returns `Ok(vec![])` without calling `run_chunk`.
/// * `threads <= 1` or a single chunk: runs inline on the calling thread, in order, stopping
///   after the first decisive chunk; no pool is involved.
/// * Otherwise: runs on the cached pool of `threads` threads ([`with_pool`]); workers claim
///   chunk indices in increasing order and stop claiming once a lower-index chunk was decisive.
///   A run of at most `PROBE_CHUNKS` chunks first runs chunk 0 on the calling thread, and the
///   rest there too when they would take less than `INLINE_BELOW` (waking the pool costs
///   more than that saves).
///
/// `cancel` is checked before each chunk starts; once it reads `true` no further chunks start
/// and, if a chunk the result needs was not run, `Err(Cancelled)` is returned. Chunks already
/// running are not interrupted. A panic in `run_chunk` propagates to the caller once the
/// workers have stopped (they stop taking chunks as soon as one panics).
///
/// Callers guarantee `len <= i64::MAX as u64` (checked in debug builds).
/// Runs of at most this many chunks try the first one on the calling thread.
const PROBE_CHUNKS: usize = 16;
/// ... and finish there when the rest would take less than this.
const INLINE_BELOW: Duration = Duration::from_micros(100);

pub fn execute<P, F>(
    len: u64,
    threads: usize,
    cancel: Option<&AtomicBool>,
    run_chunk: F,
) -> Result<Vec<P>, Cancelled>
where
    P: Send,
    F: Fn(usize, i64, i64) -> (P, bool) + Sync,
{
    execute_chunks(len, 0..num_chunks(len), threads, cancel, run_chunk)
}

/// [`execute`] for the chunks `which` of `0..len` only (a part of a run whose other chunks
/// run elsewhere, such as another machine): the same split, the same order, the same
/// truncation after the first decisive chunk among them. `run_chunk` gets each chunk's index
/// in the whole split. Callers guarantee `which.end <= num_chunks(len)`.
pub fn execute_chunks<P, F>(
    len: u64,
    which: std::ops::Range<usize>,
    threads: usize,
    cancel: Option<&AtomicBool>,
    run_chunk: F,
) -> Result<Vec<P>, Cancelled>
where
    P: Send,
    F: Fn(usize, i64, i64) -> (P, bool) + Sync,
{
    debug_assert!(
        len <= i64::MAX as u64,
        "input length {len} exceeds i64::MAX"
    );
    debug_assert!(which.end <= num_chunks(len), "chunks {which:?} of {len}");
    let base = which.start;
    let n = which.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    // Chunk `idx` of these is chunk `base + idx` of the whole split.
    let run_chunk = |idx: usize| {
        let (lo, hi) = chunk_bounds(len, base + idx);
        run_chunk(base + idx, lo, hi)
    };
    let is_cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));

    // Chunks `from..n` in order on the calling thread, after `out`'s.
    let run_inline = |from: usize, mut out: Vec<P>| {
        for idx in from..n {
            if is_cancelled() {
                return Err(Cancelled);
            }
            let (partial, decisive) = run_chunk(idx);
            out.push(partial);
            if decisive {
                break;
            }
        }
        Ok(out)
    };
    if threads <= 1 || n == 1 {
        return run_inline(0, Vec::with_capacity(n));
    }
    // A short run is cheaper here than waking the pool (tens of microseconds, more on a VM):
    // the first chunk, run on the calling thread, tells how long the others would take.
    let mut first = None;
    if n <= PROBE_CHUNKS {
        if is_cancelled() {
            return Err(Cancelled);
        }
        let t0 = Instant::now();
        let (partial, decisive) = run_chunk(0);
        let mut out = Vec::with_capacity(n);
        if decisive {
            out.push(partial);
            return Ok(out);
        }
        if t0.elapsed() * (n as u32 - 1) < INLINE_BELOW {
            out.push(partial);
            return run_inline(1, out);
        }
        first = Some(partial);
    }

    let start = usize::from(first.is_some());
    let slots: Vec<Mutex<Option<P>>> = (0..n).map(|_| Mutex::new(None)).collect();
    if let Some(p0) = first {
        *slots[0].lock().unwrap_or_else(PoisonError::into_inner) = Some(p0);
    }
    // Next chunk index to claim; lowest decisive index so far (usize::MAX: none yet);
    // set when a run_chunk panics, so the other workers stop early.
    let next = AtomicUsize::new(start);
    let first_decisive = AtomicUsize::new(usize::MAX);
    let panicked = AtomicBool::new(false);

    let worker = || {
        let _guard = StopOnPanic(&panicked);
        loop {
            // Indices are claimed in increasing order, so once one is past the end or past a
            // decisive chunk, every later claim would be too.
            let idx = next.fetch_add(1, Ordering::Relaxed);
            if idx >= n
                || idx > first_decisive.load(Ordering::Relaxed)
                || panicked.load(Ordering::Relaxed)
                || is_cancelled()
            {
                break;
            }
            let (partial, decisive) = run_chunk(idx);
            *slots[idx].lock().unwrap_or_else(PoisonError::into_inner) = Some(partial);
            if decisive {
                first_decisive.fetch_min(idx, Ordering::Relaxed);
            }
        }
    };
    let workers = threads.min(n);
    with_pool(threads, || {
        rayon::scope(|s| {
            for _ in 1..workers {
                s.spawn(|_| worker());
            }
            worker();
        })
    });

    // The scope has joined every worker, so all stores are visible here.
    let end = first_decisive.into_inner().min(n - 1) + 1;
    let mut out = Vec::with_capacity(end);
    for slot in slots.into_iter().take(end) {
        // Chunks only go missing when a worker saw the cancel flag before running them
        // (a panic would have propagated out of the scope above).
        match slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(partial) => out.push(partial),
            None => return Err(Cancelled),
        }
    }
    Ok(out)
}

/// Sets its flag if dropped during a panic, i.e. when `run_chunk` unwinds through a worker.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::MIN_CHUNK;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::Duration;

    const THREADS: [usize; 5] = [1, 2, 3, 4, 8];

    /// Per-chunk plain sums of values that make float addition order visible.
    fn chunk_sum(lo: i64, hi: i64) -> f64 {
        (lo..hi)
            .map(|i| 1.0 / (i as f64 + 1.0) * if i % 3 == 0 { -1e3 } else { 1.0 })
            .sum()
    }

    #[test]
    fn empty_input_runs_nothing() {
        let calls = AtomicUsize::new(0);
        for threads in THREADS {
            let out = execute(0, threads, None, |_, _, _| {
                calls.fetch_add(1, Ordering::Relaxed);
                ((), false)
            })
            .unwrap();
            assert!(out.is_empty());
        }
        assert_eq!(calls.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn partials_in_chunk_order_cover_input() {
        for len in [
            1,
            MIN_CHUNK - 1,
            MIN_CHUNK,
            MIN_CHUNK + 1,
            37 * MIN_CHUNK + 5,
            20_000_000,
        ] {
            for threads in THREADS {
                let out =
                    execute(len, threads, None, |idx, lo, hi| ((idx, lo, hi), false)).unwrap();
                assert_eq!(out.len(), num_chunks(len));
                for (i, &(idx, lo, hi)) in out.iter().enumerate() {
                    assert_eq!(idx, i);
                    assert_eq!((lo, hi), chunk_bounds(len, i));
                }
            }
        }
    }

    #[test]
    fn float_sums_independent_of_thread_count() {
        let len = 10_000_000;
        let reference = execute(len, 1, None, |_, lo, hi| {
            (chunk_sum(lo, hi).to_bits(), false)
        })
        .unwrap();
        assert_eq!(reference.len(), num_chunks(len));
        let total = |v: &[u64]| v.iter().map(|&b| f64::from_bits(b)).sum::<f64>().to_bits();
        for threads in THREADS {
            let out = execute(len, threads, None, |_, lo, hi| {
                (chunk_sum(lo, hi).to_bits(), false)
            })
            .unwrap();
            assert_eq!(out, reference, "{threads} threads");
            assert_eq!(total(&out), total(&reference), "{threads} threads");
        }
    }

    #[test]
    fn early_exit_truncates_after_first_decisive() {
        let len = 1000 * MIN_CHUNK;
        for threads in THREADS {
            for k in [0, 1, 5, 150, 999] {
                let calls = AtomicUsize::new(0);
                let out = execute(len, threads, None, |idx, _, _| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    if k < 100 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    (idx, idx == k)
                })
                .unwrap();
                assert_eq!(
                    out,
                    (0..=k).collect::<Vec<_>>(),
                    "{threads} threads, k = {k}"
                );
                let calls = calls.load(Ordering::Relaxed);
                // Every chunk up to k ran; at most a few in flight past it.
                assert!(calls > k, "{threads} threads, k = {k}: {calls} calls");
                if k < 100 {
                    assert!(
                        calls <= k + 1 + 10 * threads,
                        "{threads} threads, k = {k}: {calls} calls"
                    );
                }
                if threads == 1 {
                    assert_eq!(calls, k + 1);
                }
            }
        }
    }

    #[test]
    fn lowest_decisive_chunk_wins() {
        // Chunk 10 is decisive and fast; chunk 3 is decisive but slow, so it finishes later.
        let len = 64 * MIN_CHUNK;
        for threads in THREADS {
            let out = execute(len, threads, None, |idx, _, _| {
                if idx == 3 {
                    std::thread::sleep(Duration::from_millis(50));
                }
                (idx, idx == 3 || idx == 10)
            })
            .unwrap();
            assert_eq!(out, vec![0, 1, 2, 3], "{threads} threads");
        }
    }

    #[test]
    fn cancel_flag_stops_work() {
        let len = 200 * MIN_CHUNK;
        for threads in THREADS {
            let cancel = AtomicBool::new(false);
            let calls = AtomicUsize::new(0);
            let result = execute(len, threads, Some(&cancel), |idx, _, _| {
                if calls.fetch_add(1, Ordering::Relaxed) + 1 == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(1));
                (idx, false)
            });
            assert_eq!(result, Err(Cancelled), "{threads} threads");
            let calls = calls.load(Ordering::Relaxed);
            assert!(calls <= 3 + threads, "{threads} threads: {calls} calls");
            if threads == 1 {
                assert_eq!(calls, 3);
            }
        }
    }

    #[test]
    fn cancel_flag_set_beforehand() {
        let cancel = AtomicBool::new(true);
        for threads in THREADS {
            let calls = AtomicUsize::new(0);
            let result = execute(10 * MIN_CHUNK, threads, Some(&cancel), |_, _, _| {
                calls.fetch_add(1, Ordering::Relaxed);
                ((), false)
            });
            assert_eq!(result, Err(Cancelled));
            assert_eq!(calls.load(Ordering::Relaxed), 0);
        }
        // An unset flag changes nothing.
        let cancel = AtomicBool::new(false);
        let out = execute(10 * MIN_CHUNK, 4, Some(&cancel), |idx, _, _| (idx, false)).unwrap();
        assert_eq!(out, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn cancel_after_decisive_chunk_is_not_an_error() {
        // Inline: the decisive chunk ends the run before the flag is looked at again.
        let cancel = AtomicBool::new(false);
        let out = execute(10 * MIN_CHUNK, 1, Some(&cancel), |idx, _, _| {
            if idx == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
            (idx, idx == 2)
        })
        .unwrap();
        assert_eq!(out, vec![0, 1, 2]);
    }

    #[test]
    fn panic_propagates_without_deadlock() {
        for threads in THREADS {
            let result = catch_unwind(AssertUnwindSafe(|| {
                execute(100 * MIN_CHUNK, threads, None, |idx, _, _| {
                    if idx == 7 {
                        panic!("boom in chunk 7");
                    }
                    (idx, false)
                })
            }));
            let payload = result.unwrap_err();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert!(msg.contains("boom"), "{threads} threads: {msg:?}");
            // The pool is still usable afterwards.
            let out = execute(4 * MIN_CHUNK, threads, None, |idx, _, _| (idx, false)).unwrap();
            assert_eq!(out, vec![0, 1, 2, 3]);
        }
    }

    #[test]
    fn pooled_run_uses_pool_threads() {
        let names = execute(64 * MIN_CHUNK, 4, None, |_, _, _| {
            let name = std::thread::current().name().map(str::to_owned);
            (name, false)
        })
        .unwrap();
        assert!(names
            .iter()
            .all(|n| n.as_deref().is_some_and(|n| n.starts_with("fastiter-"))));
        // Inline runs stay on the calling thread.
        let caller = std::thread::current().id();
        let ids = execute(64 * MIN_CHUNK, 1, None, |_, _, _| {
            (std::thread::current().id(), false)
        })
        .unwrap();
        assert!(ids.iter().all(|&id| id == caller));
    }

    #[test]
    fn short_runs_stay_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let ids = execute(4 * MIN_CHUNK, 4, None, |_, _, _| {
            (std::thread::current().id(), false)
        })
        .unwrap();
        assert_eq!(ids.len(), 4);
        assert!(ids.iter().all(|&id| id == caller));
        // Slow chunks: the first runs here, the others on the pool.
        let names = execute(4 * MIN_CHUNK, 4, None, |_, _, _| {
            std::thread::sleep(Duration::from_millis(2));
            (std::thread::current().name().map(str::to_owned), false)
        })
        .unwrap();
        assert_eq!(names.len(), 4);
        assert!(names[1..]
            .iter()
            .all(|n| n.as_deref().is_some_and(|n| n.starts_with("fastiter-"))));
        // A decisive first chunk ends the run.
        let out = execute(4 * MIN_CHUNK, 4, None, |idx, _, _| (idx, true)).unwrap();
        assert_eq!(out, vec![0]);
    }

    #[test]
    fn nested_execute_does_not_deadlock() {
        let out = execute(8 * MIN_CHUNK, 4, None, |idx, _, _| {
            let inner = execute(8 * MIN_CHUNK, 4, None, |j, _, _| (j, false)).unwrap();
            (idx + inner.len(), false)
        })
        .unwrap();
        assert_eq!(out, (8..16).collect::<Vec<_>>());
    }
}
