//! The on-disk kernel cache's files: where the directory is, how an entry is written
//! (atomically) and read back (never trusted), how the directory stays bounded, `fastc cache`'s
//! `info` and `clear`. What goes into an entry is codegen's business (`codegen::cache`); this
//! module stores a key text and an opaque payload.
//!
//! An entry is one file, `<xxh3-128 of the key, hex>.kernel`:
//!
//! ```text
//! MAGIC (8 bytes) · key length (u32 LE) · key text · payload length (u64 LE) · payload
//! · xxh3-128 of everything before it (16 bytes LE)
//! ```
//!
//! A file is used only when its magic, its lengths, its full key text and its checksum all
//! match; anything else (truncated, garbage, another key's file under this name, a flipped
//! byte) is a miss, and the caller compiles and writes the entry again.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use xxhash_rust::xxh3::xxh3_128;

/// Set to move the cache directory.
pub const DIR_VAR: &str = "FASTITER_CACHE_DIR";
/// Set to `0` (or `false`, `off`, `no`) to turn the cache off.
pub const SWITCH_VAR: &str = "FASTITER_CACHE";

/// The entry format; a change makes every older file unreadable, hence a miss.
const MAGIC: &[u8; 8] = b"fitkrn\x00\x01";
const EXT: &str = "kernel";
const TMP_PREFIX: &str = ".tmp-";
/// No kernel comes near this; a file this large is not ours, and is not read.
const MAX_FILE: u64 = 64 << 20;

/// How large the directory may grow: past either bound, the least recently used entries go
/// until it is back under nine tenths of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub entries: usize,
    pub bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 4096,
            bytes: 256 << 20,
        }
    }
}

/// Why the cache is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disabled {
    #[error("turned off by {SWITCH_VAR}={0}")]
    Switch(String),
    #[error("no cache directory (set {DIR_VAR}, or HOME)")]
    NoDirectory,
}

/// The cache as the environment configures it, read at each call so that a test or a script
/// can move or disable it at any time: `FASTITER_CACHE=0` turns it off; otherwise it is in
/// `directory()`.
pub fn configured() -> Result<Store, Disabled> {
    if let Some(v) = std::env::var_os(SWITCH_VAR) {
        let v = v.to_string_lossy().trim().to_ascii_lowercase();
        if matches!(v.as_str(), "0" | "false" | "off" | "no") {
            return Err(Disabled::Switch(v));
        }
    }
    directory().map(Store::new).ok_or(Disabled::NoDirectory)
}

/// The cache directory, whether or not the cache is on: `FASTITER_CACHE_DIR`, else `fastiter`
/// in the user's cache directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux,
/// `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows).
pub fn directory() -> Option<PathBuf> {
    match std::env::var_os(DIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => dirs::cache_dir().map(|d| d.join("fastiter")),
    }
}

/// A cache directory. Every operation is best effort: a directory that is missing, read-only
/// or cannot be created makes reads miss and writes do nothing, and nothing is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    dir: PathBuf,
    limits: Limits,
}

/// What `fastc cache info` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub entries: usize,
    pub bytes: u64,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store {
            dir,
            limits: Limits::default(),
        }
    }

    pub fn with_limits(self, limits: Limits) -> Store {
        Store { limits, ..self }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The file that holds the entry for `key` (whether or not it exists).
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!("{:032x}.{EXT}", xxh3_128(key.as_bytes())))
    }

    /// The payload stored under exactly `key`, or None: no file, or a file that fails any
    /// check.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut f = fs::File::open(self.path_for(key)).ok()?;
        let meta = f.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut bytes).ok()?;
        let payload = decode(&bytes, key)?;
        // Reads refresh the modification time that eviction goes by (least recently used
        // first), at most once an hour per entry so that a hit rarely writes.
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|age| age > Duration::from_secs(3600));
        if stale {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(payload.to_vec())
    }

    /// Store `payload` under `key`: written to a temporary file in the directory, then renamed
    /// over the entry, so a reader sees the old file, the new one or none, and two writers of
    /// one entry both succeed (the last rename wins; both wrote the same thing). Failures are
    /// ignored: the cache is an optimisation.
    pub fn put(&self, key: &str, payload: &[u8]) {
        let _ = self.try_put(key, payload);
        // A scan of the directory costs more than a compile when it is full, so only about one
        // write in 32 pays for it (chosen by the key, so no state is shared between processes).
        if xxh3_128(key.as_bytes()) & 31 == 0 {
            let _ = self.evict();
        }
    }

    fn try_put(&self, key: &str, payload: &[u8]) -> io::Result<()> {
        create_private_dir(&self.dir)?;
        let tmp = self.dir.join(temp_name());
        let written = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(&encode(key, payload))?;
            fs::rename(&tmp, self.path_for(key))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// The entries now in the directory (none when it does not exist).
    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        for e in self.entries() {
            u.entries += 1;
            u.bytes += e.bytes;
        }
        u
    }

    /// Remove every entry (and any temporary file a writer left behind); nothing else in the
    /// directory is touched, since `FASTITER_CACHE_DIR` may name a directory shared with other
    /// files. Returns what was removed.
    pub fn clear(&self) -> io::Result<Usage> {
        let mut removed = Usage::default();
        let listing = match fs::read_dir(&self.dir) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        let mut first_error = None;
        for e in listing.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if !(is_entry_name(&name) || name.starts_with(TMP_PREFIX)) {
                continue;
            }
            let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(e.path()) {
                Ok(()) if is_entry_name(&name) => {
                    removed.entries += 1;
                    removed.bytes += bytes;
                }
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Bring the directory back under its limits, least recently used entries first, and
    /// remove temporary files older than an hour (a writer that died).
    pub fn evict(&self) -> io::Result<()> {
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for e in fs::read_dir(&self.dir)?.flatten() {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX)
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < hour_ago)
            {
                let _ = fs::remove_file(e.path());
            }
        }
        let mut entries = self.entries();
        let total: u64 = entries.iter().map(|e| e.bytes).sum();
        if entries.len() <= self.limits.entries && total <= self.limits.bytes {
            return Ok(());
        }
        entries.sort_by_key(|e| e.modified);
        let keep_n = self.limits.entries.saturating_mul(9) / 10;
        let keep_bytes = self.limits.bytes.saturating_mul(9) / 10;
        let (mut n, mut bytes) = (entries.len(), total);
        for e in entries {
            if n <= keep_n && bytes <= keep_bytes {
                break;
            }
            if fs::remove_file(&e.path).is_ok() {
                n -= 1;
                bytes = bytes.saturating_sub(e.bytes);
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<Entry> {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        listing
            .flatten()
            .filter(|e| is_entry_name(&e.file_name().to_string_lossy()))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some(Entry {
                    path: e.path(),
                    bytes: m.len(),
                    modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                })
            })
            .collect()
    }
}

struct Entry {
    path: PathBuf,
    bytes: u64,
    modified: SystemTime,
}

fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(EXT)
        .and_then(|s| s.strip_suffix('.'))
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A name no other writer, in this process or another, uses at the same time.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{TMP_PREFIX}{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The directory holds machine code that this process will run: only its owner may write
/// there (as for any program the user installs).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn encode(key: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 4 + key.len() + 8 + payload.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let sum = xxh3_128(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The payload of a file's bytes if every check passes.
fn decode<'a>(bytes: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let body_len = bytes.len().checked_sub(16)?;
    let (body, sum) = bytes.split_at(body_len);
    let rest = body.strip_prefix(MAGIC.as_slice())?;
    let (key_len, rest) = rest.split_first_chunk::<4>()?;
    let (stored_key, rest) = rest.split_at_checked(u32::from_le_bytes(*key_len) as usize)?;
    if stored_key != key.as_bytes() {
        return None;
    }
    let (payload_len, payload) = rest.split_first_chunk::<8>()?;
    if u64::from_le_bytes(*payload_len) != payload.len() as u64 {
        return None;
    }
    (xxh3_128(body).to_le_bytes() == sum).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_accepts_only_the_exact_encoding() {
        let e = encode("k", b"payload");
        assert_eq!(decode(&e, "k"), Some(&b"payload"[..]));
        assert_eq!(decode(&e, "other"), None);
        for n in 0..e.len() {
            assert_eq!(decode(&e[..n], "k"), None, "truncated to {n}");
        }
        for i in 0..e.len() {
            let mut bad = e.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad, "k"), None, "byte {i} flipped");
        }
        let mut longer = e.clone();
        longer.push(0);
        assert_eq!(decode(&longer, "k"), None);
    }

    #[test]
    fn entry_names() {
        assert!(is_entry_name(&format!("{}.kernel", "a".repeat(32))));
        assert!(!is_entry_name(&format!("{}.kernel", "g".repeat(32))));
        assert!(!is_entry_name("notes.txt"));
        assert!(!is_entry_name(".kernel"));
    }
}
