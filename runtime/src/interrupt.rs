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

/// The name kernels import [`poll`] by where it preserves every register
/// ([`PRESERVING`]).
pub const POLL_PRESERVING_SYMBOL: &str = "fastiter_poll_preserving";

/// Whether kernels call [`poll`] through a trampoline that saves every register (Cranelift's
/// `preserve_all` convention: it takes the address to write the answer to, 4 bytes, and
/// returns nothing). A plain call in a kernel's chunk loop makes every value live across it
/// leave the caller-saved registers, and W1's loop then reloads its step from the stack
/// (17% slower); the trampoline leaves the register allocation as it was.
pub const PRESERVING: bool = cfg!(all(target_arch = "x86_64", target_os = "linux"));

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
extern "C" {
    fn fastiter_poll_preserving();
}

/// The trampoline's address, where there is one ([`PRESERVING`]).
pub fn poll_preserving() -> Option<*const u8> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    return Some(fastiter_poll_preserving as *const u8);
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    return None;
}

// Saves what the System V ABI lets `poll` clobber (the general caller-saved registers and
// xmm0-15; kernels use no wider vectors), calls it with the stack aligned, writes its answer
// through the pointer in rdi, and restores everything.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
std::arch::global_asm!(
    ".pushsection .text.fastiter_poll_preserving,\"ax\",@progbits",
    ".globl fastiter_poll_preserving",
    ".hidden fastiter_poll_preserving",
    ".type fastiter_poll_preserving,@function",
    ".p2align 4",
    "fastiter_poll_preserving:",
    "push rbp",
    "mov rbp, rsp",
    "push rax",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "sub rsp, 264",
    "movdqu [rsp + 0], xmm0",
    "movdqu [rsp + 16], xmm1",
    "movdqu [rsp + 32], xmm2",
    "movdqu [rsp + 48], xmm3",
    "movdqu [rsp + 64], xmm4",
    "movdqu [rsp + 80], xmm5",
    "movdqu [rsp + 96], xmm6",
    "movdqu [rsp + 112], xmm7",
    "movdqu [rsp + 128], xmm8",
    "movdqu [rsp + 144], xmm9",
    "movdqu [rsp + 160], xmm10",
    "movdqu [rsp + 176], xmm11",
    "movdqu [rsp + 192], xmm12",
    "movdqu [rsp + 208], xmm13",
    "movdqu [rsp + 224], xmm14",
    "movdqu [rsp + 240], xmm15",
    "call {poll}",
    "mov rdi, [rbp - 40]",
    "mov dword ptr [rdi], eax",
    "movdqu xmm0, [rsp + 0]",
    "movdqu xmm1, [rsp + 16]",
    "movdqu xmm2, [rsp + 32]",
    "movdqu xmm3, [rsp + 48]",
    "movdqu xmm4, [rsp + 64]",
    "movdqu xmm5, [rsp + 80]",
    "movdqu xmm6, [rsp + 96]",
    "movdqu xmm7, [rsp + 112]",
    "movdqu xmm8, [rsp + 128]",
    "movdqu xmm9, [rsp + 144]",
    "movdqu xmm10, [rsp + 160]",
    "movdqu xmm11, [rsp + 176]",
    "movdqu xmm12, [rsp + 192]",
    "movdqu xmm13, [rsp + 208]",
    "movdqu xmm14, [rsp + 224]",
    "movdqu xmm15, [rsp + 240]",
    "add rsp, 264",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rax",
    "pop rbp",
    "ret",
    ".size fastiter_poll_preserving, .-fastiter_poll_preserving",
    ".popsection",
    poll = sym poll,
);

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
