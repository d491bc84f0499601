//! Room for the Python objects of one large result.
//!
//! Building a list of millions of ints or floats is mostly page faults: CPython's small-object
//! allocator (pymalloc) takes memory from the system one arena (1 MiB, one `mmap`) at a time,
//! and the first write to each 4 KiB page of an arena traps into the kernel, which clears it.
//! On W5 (3.3 million ints) that was about half the time of the whole `collect()`, and it is
//! half the time of `list(range(...))` in CPython too. While `with_room` runs, pymalloc's
//! arenas are cut from one mapping that the kernel may back with 2 MiB pages
//! (`MADV_HUGEPAGE`): one fault per 512 pages. The objects stay ordinary pymalloc objects.
//!
//! Why this is sound:
//! - pymalloc asks its arena allocator for `size` bytes and later hands exactly that pointer
//!   and size to the same allocator's `free`. CPython's own allocator (the only one lent to,
//!   see `cpythons_own`) frees with `munmap(ptr, size)`, which Linux allows on any page-aligned
//!   part of a mapping; every piece lent out is such a part, so it is freed like any arena.
//! - The hook is installed only while the caller holds the GIL and runs no Python code, so no
//!   other thread of this interpreter allocates meanwhile. An interpreter with its own GIL
//!   (3.12+) may still call the hook: pieces are taken with a compare-and-swap, and a call
//!   that comes after the room was closed goes to the saved allocator.
//! - Pages nobody touched are never faulted in, so a generous estimate costs address space
//!   only; whatever is left is unmapped when the room closes.

use pyo3::Python;

/// Bytes of arena per item, for pymalloc's 16 KiB pools: 510 blocks of 32 bytes (an int of
/// up to 60 bits) or 680 of 24 (a float) per pool, rounded up. Larger ints simply take their
/// arenas from the usual allocator once the room runs out.
pub const INT_BYTES: usize = 33;
pub const FLOAT_BYTES: usize = 25;

/// Below this, a lent mapping saves less than its system calls cost.
const MIN_ROOM: usize = 4 << 20;

/// Run `f`, which builds Python objects of about `bytes` bytes in all, with pymalloc's new
/// arenas taken from a mapping the kernel may back with huge pages (Linux only; elsewhere, or
/// when anything is unusual, `f` simply runs). `f` must not run Python code or release the GIL.
pub fn with_room<T>(_py: Python<'_>, bytes: usize, f: impl FnOnce() -> T) -> T {
    #[cfg(target_os = "linux")]
    let _room = if bytes >= MIN_ROOM {
        imp::Room::open(bytes)
    } else {
        None
    };
    f()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use pyo3::ffi;

    const HUGE_PAGE: usize = 2 << 20;

    /// The allocator a room replaced: arenas past the room, and calls after it closed, go
    /// there. Kept after closing for such late calls (another interpreter's thread).
    struct Saved(ffi::PyObjectArenaAllocator);
    // SAFETY: the allocator's `ctx` is CPython's (null for its own allocator); pymalloc calls
    // it from whichever thread allocates, as this module does.
    unsafe impl Send for Saved {}

    static SAVED: Mutex<Option<Saved>> = Mutex::new(None);
    /// One room at a time, process-wide (the arena allocator is process-wide).
    static OPEN: AtomicBool = AtomicBool::new(false);
    /// The next unlent byte of the room, 0 when no room is open; `END` is its end.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static END: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn alloc(_ctx: *mut c_void, size: usize) -> *mut c_void {
        let mut cur = NEXT.load(Ordering::Acquire);
        while cur != 0 && size <= END.load(Ordering::Acquire).saturating_sub(cur) {
            match NEXT.compare_exchange_weak(cur, cur + size, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return cur as *mut c_void,
                Err(now) => cur = now,
            }
        }
        let saved = SAVED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| (s.0.ctx, s.0.alloc));
        match saved {
            // The allocator CPython had installed, called as CPython calls it.
            Some((ctx, Some(f))) => f(ctx, size),
            _ => std::ptr::null_mut(),
        }
    }

    /// The base address of the loaded module holding `addr`.
    fn module_of(addr: *const c_void) -> Option<usize> {
        // SAFETY: `dladdr` only reads the loader's tables and fills `info`.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        let found = unsafe { libc::dladdr(addr, &mut info) } != 0;
        (found && !info.dli_fbase.is_null()).then_some(info.dli_fbase as usize)
    }

    /// Whether `a` is CPython's own arena allocator (the mmap/munmap pair in obmalloc.c, which
    /// has no context and lives beside `PyObject_Malloc`): only its `free` is known to free a
    /// lent piece correctly. One installed by an extension lives in another module.
    fn cpythons_own(a: &ffi::PyObjectArenaAllocator) -> bool {
        let (Some(al), Some(fr)) = (a.alloc, a.free) else {
            return false;
        };
        let python = module_of(ffi::PyObject_Malloc as *const c_void);
        a.ctx.is_null()
            && python.is_some()
            && module_of(al as *const c_void) == python
            && module_of(fr as *const c_void) == python
    }

    /// An open room: the hook is installed until it drops.
    pub struct Room {
        saved: ffi::PyObjectArenaAllocator,
        end: usize,
    }

    impl Room {
        pub fn open(bytes: usize) -> Option<Room> {
            if OPEN.swap(true, Ordering::AcqRel) {
                return None;
            }
            let room = Room::map(bytes);
            if room.is_none() {
                OPEN.store(false, Ordering::Release);
            }
            room
        }

        fn map(bytes: usize) -> Option<Room> {
            // SAFETY: reads the installed allocator into a zeroed struct of its type.
            let mut cur: ffi::PyObjectArenaAllocator = unsafe { std::mem::zeroed() };
            unsafe { ffi::PyObject_GetArenaAllocator(&mut cur) };
            if !cpythons_own(&cur) {
                return None;
            }
            let size = bytes.checked_next_multiple_of(HUGE_PAGE)?;
            let raw_len = size.checked_add(HUGE_PAGE)?;
            // SAFETY: a fresh private anonymous mapping; only this module and pymalloc use it.
            let raw = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    raw_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if raw == libc::MAP_FAILED {
                return None;
            }
            // Huge pages need 2 MiB alignment: keep the aligned part, give back the rest.
            let raw = raw as usize;
            let base = raw.next_multiple_of(HUGE_PAGE);
            let end = base + size;
            // SAFETY: both parts lie in the mapping just made, outside [base, end).
            unsafe {
                if base > raw {
                    libc::munmap(raw as *mut c_void, base - raw);
                }
                if raw + raw_len > end {
                    libc::munmap(end as *mut c_void, raw + raw_len - end);
                }
                // Advice only: without huge pages the room still works, with small pages.
                libc::madvise(base as *mut c_void, size, libc::MADV_HUGEPAGE);
            }
            *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Saved(cur));
            END.store(end, Ordering::Release);
            NEXT.store(base, Ordering::Release);
            let mut hook = ffi::PyObjectArenaAllocator {
                ctx: std::ptr::null_mut(),
                alloc: Some(alloc),
                free: cur.free,
            };
            // SAFETY: the caller holds the GIL; CPython copies the struct.
            unsafe { ffi::PyObject_SetArenaAllocator(&mut hook) };
            Some(Room { saved: cur, end })
        }
    }

    impl Drop for Room {
        fn drop(&mut self) {
            // SAFETY: still under the GIL of `open`'s caller; restores what was installed.
            unsafe { ffi::PyObject_SetArenaAllocator(&mut self.saved) };
            let unlent = NEXT.swap(0, Ordering::AcqRel);
            if unlent < self.end {
                // SAFETY: no piece at or past `unlent` was lent (the swap closed the room
                // for every later call), so nothing there is in use.
                unsafe { libc::munmap(unlent as *mut c_void, self.end - unlent) };
            }
            OPEN.store(false, Ordering::Release);
        }
    }
}
