//! The thread count and the Rayon pools: the process-global number of threads
//! (`FASTITER_NUM_THREADS`, `set_num_threads`) and one cached `ThreadPool` per thread count.
//! Rayon's global pool is never used, so fastiter never competes with (or configures) the
//! host program's own Rayon work.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

/// The environment variable that sets the default number of threads.
pub const NUM_THREADS_ENV: &str = "FASTITER_NUM_THREADS";

/// Returned by [`set_num_threads`] for a thread count of 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCountError;

impl fmt::Display for ThreadCountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("number of threads must be at least 1")
    }
}

impl std::error::Error for ThreadCountError {}

/// Reads a value of `FASTITER_NUM_THREADS`: `Some(n)` for a positive integer (surrounding
/// whitespace allowed), `None` for an unset, empty, zero, negative or non-numeric value.
pub fn parse_num_threads(value: Option<&str>) -> Option<usize> {
    value?.trim().parse::<usize>().ok().filter(|&n| n >= 1)
}

/// The default number of threads: `FASTITER_NUM_THREADS` if it is set to a positive integer,
/// otherwise `std::thread::available_parallelism()` (1 if that is unknown).
pub fn default_threads() -> usize {
    let env = std::env::var(NUM_THREADS_ENV).ok();
    parse_num_threads(env.as_deref())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// The process-global thread count; 0 means "not yet initialised".
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the process-global number of threads used by later runs. Fails for 0.
pub fn set_num_threads(n: usize) -> Result<(), ThreadCountError> {
    if n == 0 {
        return Err(ThreadCountError);
    }
    NUM_THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

/// The process-global number of threads: the last value given to [`set_num_threads`], or
/// [`default_threads`] (read once, on first use) if it was never called. Always at least 1.
pub fn get_num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = default_threads();
            // A concurrent set_num_threads wins over the default.
            match NUM_THREADS.compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => n,
                Err(current) => current,
            }
        }
        n => n,
    }
}

/// One pool per thread count, built on first use and kept for the life of the process.
fn pool(threads: usize) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Default::default);
    // No user code runs under this lock, so a poisoned map is still consistent.
    let mut pools = pools.lock().unwrap_or_else(PoisonError::into_inner);
    pools
        .entry(threads)
        .or_insert_with(|| {
            let pool = ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("fastiter-{i}"))
                .build()
                .unwrap_or_else(|e| panic!("cannot start a pool of {threads} threads: {e}"));
            Arc::new(pool)
        })
        .clone()
}

/// Runs `f` inside a Rayon pool of exactly `threads` threads (`ThreadPool::install`), so that
/// Rayon calls made by `f` use that pool. Pools are built once per thread count and cached;
/// a `threads` of 0 is treated as 1. A panic in `f` propagates to the caller.
pub fn with_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    pool(threads.max(1)).install(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_env_values() {
        assert_eq!(parse_num_threads(None), None);
        assert_eq!(parse_num_threads(Some("")), None);
        assert_eq!(parse_num_threads(Some("0")), None);
        assert_eq!(parse_num_threads(Some("-3")), None);
        assert_eq!(parse_num_threads(Some("four")), None);
        assert_eq!(parse_num_threads(Some("2.5")), None);
        assert_eq!(parse_num_threads(Some("1")), Some(1));
        assert_eq!(parse_num_threads(Some("8")), Some(8));
        assert_eq!(parse_num_threads(Some(" 16\n")), Some(16));
    }

    #[test]
    fn default_is_positive() {
        assert!(default_threads() >= 1);
    }

    // The only test that touches the process-global setting.
    #[test]
    fn set_and_get_num_threads() {
        assert!(get_num_threads() >= 1);
        let err = set_num_threads(0).unwrap_err();
        assert_eq!(err, ThreadCountError);
        assert_eq!(err.to_string(), "number of threads must be at least 1");
        assert!(get_num_threads() >= 1);
        set_num_threads(3).unwrap();
        assert_eq!(get_num_threads(), 3);
        set_num_threads(1).unwrap();
        assert_eq!(get_num_threads(), 1);
    }

    #[test]
    fn pool_has_requested_size_and_names() {
        for threads in [1, 2, 5] {
            let (n, name) = with_pool(threads, || {
                (
                    rayon::current_num_threads(),
                    std::thread::current().name().map(str::to_owned),
                )
            });
            assert_eq!(n, threads);
            assert!(name.is_some_and(|s| s.starts_with("fastiter-")));
        }
        // 0 is treated as 1.
        assert_eq!(with_pool(0, rayon::current_num_threads), 1);
    }

    #[test]
    fn pools_are_cached() {
        assert!(Arc::ptr_eq(&pool(3), &pool(3)));
        assert!(!Arc::ptr_eq(&pool(3), &pool(4)));
    }
}
