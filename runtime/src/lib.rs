//! fastiter-runtime: the executor. Deterministic chunking, Rayon scheduling, early exit,
//! cancellation, and the kernel ABI. No Cranelift and no parsing in here.
//!
//! # How a run works
//!
//! **What splits.** A pipeline over `len` elements is split into chunks by [`chunks`]: every
//! chunk has `chunk_len(len) = max(MIN_CHUNK, ceil(len / MAX_CHUNKS))` elements except the
//! last, which is shorter. The split is a function of `len` alone; the thread count never
//! changes it. That is what makes float results bit-identical at 1, 2 or 64 threads: each chunk
//! computes the same partial whoever runs it, and partials are combined in chunk order.
//!
//! **What runs.** [`execute()`] calls a per-chunk closure `run_chunk(idx, lo, hi)` for chunk
//! `idx` covering `[lo, hi)`; in practice it calls a compiled [`abi::KernelFn`] that writes an
//! [`abi::Partial`]. With one thread, or one chunk, everything runs inline on the caller's
//! thread, in order. Otherwise up to `threads` workers run on a cached Rayon pool of exactly
//! that many threads ([`pool`]; never Rayon's global pool) and claim chunk indices from a
//! shared counter in increasing order, so faster workers take more chunks.
//!
//! **What is returned.** The chunks' partials, in chunk order, truncated right after the first
//! *decisive* chunk (an error, or an early-exit hit of `any`/`all`/`find`). The caller (the
//! compiler's `exec` module) combines them, left to right.
//!
//! **Which ordering is guaranteed.** Results are in chunk order regardless of which thread ran
//! which chunk or when it finished. Every chunk before the first decisive one has run and is
//! present; chunks after it may have run (they were already in flight) but are dropped, and
//! workers stop claiming new ones once a lower-index chunk is decisive. So the earliest error
//! in input order wins, as sequential Python would report it. `run_chunk` calls themselves may
//! happen in any order and concurrently, so it must not rely on side-effect order. A set cancel
//! flag stops new chunks from starting, running kernels stop at their next loop poll
//! ([`interrupt`]), and the run yields [`Cancelled`]; a panic
//! in a chunk propagates to the caller.

pub mod abi;
pub mod chunks;
pub mod execute;
pub mod interrupt;
pub mod pool;

pub use chunks::{chunk_bounds, chunk_len, num_chunks, MAX_CHUNKS, MIN_CHUNK};
pub use execute::{execute, execute_chunks, Cancelled};
pub use pool::{
    default_threads, get_num_threads, parse_num_threads, set_num_threads, with_pool,
    ThreadCountError, NUM_THREADS_ENV,
};
