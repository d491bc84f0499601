//! Stopping a running kernel from outside (Ctrl-C): what a kernel's loops poll.
//!
//! A kernel cannot take an argument for this without changing every kernel's ABI, and a loop
//! that tested a flag on every iteration would cost W2 a load and a branch per step. So
//! compiled loops count their back edges and, every [`POLL_EVERY`] of them, call [`poll`]
//! (the symbol [`POLL_SYMBOL`]), which looks at what this *thread* was told to watch:
//!
//! * a cancel flag ([`watching`]): set by a watcher on another thread (the Python binding's
//!   `run_watched`, the REPL's job runner) when the user interrupts; every thread that runs a
//!   chunk of that run watches the same flag;
//! * a hook ([`with_hook`]): for a run on the caller's own thread with nobody watching it (a
//!   `@fastiter.compile` call, a short chain), the hook itself asks whether to stop (the
//!   Python binding checks for signals there).
//!
//! A poll that says stop makes the kernel leave with `ErrCode::Interrupted`, and the exact
//! interpreter's loops poll the same way, so the run ends with "cancelled" whichever of them
//! was running.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Back edges between two polls. At a nanosecond or so per iteration of the tightest loop
/// this polls about every 65 µs; a loop whose body takes a microsecond still polls every
/// 65 ms, within the 100 ms a user may wait for Ctrl-C.
pub const POLL_EVERY: i64 = 1 << 16;

/// The name kernels import [`poll`] by.
pub const POLL_SYMBOL: &str = "fastiter_poll";

#[derive(Clone, Copy)]
enum Watch {
    Nothing,
    Flag(*const AtomicBool),
    /// Erased lifetime: [`with_hook`] restores the previous watch before the hook is dropped.
    Hook(*const (dyn Fn() -> bool + 'static)),
}

thread_local! {
    static WATCH: Cell<Watch> = const { Cell::new(Watch::Nothing) };
}

/// Restores the watch that was in place when it was made (also on a panic).
struct Restore(Watch);

impl Drop for Restore {
    fn drop(&mut self) {
        WATCH.with(|w| w.set(self.0));
    }
}

fn replace(new: Watch) -> Restore {
    Restore(WATCH.with(|w| w.replace(new)))
}

/// Run `f` with this thread's polls reading `flag` (nothing changes when it is None: the
/// thread keeps whatever it watched).
pub fn watching<T>(flag: Option<&AtomicBool>, f: impl FnOnce() -> T) -> T {
    let _restore = flag.map(|c| replace(Watch::Flag(c)));
    f()
}

/// Run `f` with this thread's polls calling `hook` (true: stop).
pub fn with_hook<T>(hook: &dyn Fn() -> bool, f: impl FnOnce() -> T) -> T {
    // SAFETY: only the lifetime is erased; `_restore` puts the previous watch back before
    // this function returns, so no poll can reach `hook` after it is gone.
    let hook: *const (dyn Fn() -> bool + 'static) = unsafe { std::mem::transmute(hook) };
    let _restore = replace(Watch::Hook(hook));
    f()
}

/// Whether the run on this thread should stop.
pub fn should_stop() -> bool {
    match WATCH.with(Cell::get) {
        Watch::Nothing => false,
        // SAFETY: `watching` keeps the flag borrowed while the watch is in place.
        Watch::Flag(c) => unsafe { (*c).load(Ordering::Relaxed) },
        // SAFETY: as above, for `with_hook`'s hook.
        Watch::Hook(h) => unsafe { (*h)() },
    }
}

/// What compiled loops call every [`POLL_EVERY`] back edges: 1 to stop, 0 to go on. It must
/// not unwind into kernel code, and a hook that panics is taken as "stop".
pub extern "C" fn poll() -> u32 {
    std::panic::catch_unwind(should_stop).map_or(1, u32::from)
}

/// A counter for loops outside kernel code (the interpreter's): true every [`POLL_EVERY`]
/// calls that [`should_stop`] says stop.
#[derive(Debug)]
pub struct Poller(i64);

impl Default for Poller {
    fn default() -> Self {
        Poller(POLL_EVERY)
    }
}

impl Poller {
    /// Count one back edge; true when the run should stop.
    #[inline]
    pub fn tick(&mut self) -> bool {
        self.0 -= 1;
        if self.0 > 0 {
            return false;
        }
        self.0 = POLL_EVERY;
        should_stop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_nest_and_restore() {
        assert!(!should_stop());
        let flag = AtomicBool::new(true);
        watching(Some(&flag), || {
            assert!(should_stop());
            with_hook(&|| false, || assert!(!should_stop()));
            assert!(should_stop());
            watching(None, || assert!(should_stop()));
        });
        assert!(!should_stop());
        assert_eq!(with_hook(&|| true, || poll()), 1);
        assert_eq!(poll(), 0);
    }

    #[test]
    fn a_panicking_hook_stops() {
        assert_eq!(with_hook(&|| panic!("hook"), || poll()), 1);
        assert!(!should_stop());
    }

    #[test]
    fn poller_polls_every_so_often() {
        let flag = AtomicBool::new(true);
        watching(Some(&flag), || {
            let mut p = Poller::default();
            let n = (1..=POLL_EVERY * 2).find(|_| p.tick());
            assert_eq!(n, Some(POLL_EVERY));
        });
    }
}
