//! Deterministic chunking: how an index range `0..len` is split into chunks. The split depends
//! only on `len`, never on the thread count, so per-chunk results (and float sums combined from
//! them in chunk order) are bit-identical at any number of threads.

/// The smallest chunk, in elements: below this a chunk costs more to schedule than to run.
pub const MIN_CHUNK: u64 = 16384;

/// The most chunks any length is split into (long inputs get longer chunks instead). Chunks
/// are also where a run notices cancellation (Ctrl-C), so they must stay short: at this bound
/// a 10^12-element input has chunks of ~1.5 * 10^7 elements, tens of milliseconds each.
pub const MAX_CHUNKS: u64 = 65536;

/// The length of every chunk of an input of `len` elements except possibly the last, which is
/// shorter: `max(MIN_CHUNK, ceil(len / MAX_CHUNKS))`. `chunk_len(0)` is `MIN_CHUNK`.
pub fn chunk_len(len: u64) -> u64 {
    len.div_ceil(MAX_CHUNKS).max(MIN_CHUNK)
}

/// How many chunks `0..len` is split into: `ceil(len / chunk_len(len))`, at most `MAX_CHUNKS`,
/// and 0 for an empty input.
pub fn num_chunks(len: u64) -> usize {
    // At most MAX_CHUNKS, so the conversion cannot truncate.
    len.div_ceil(chunk_len(len)) as usize
}

/// The index range `[lo, hi)` of chunk `idx` of an input of `len` elements. The chunks
/// `0..num_chunks(len)` cover `0..len` exactly, in order, without overlap; all have length
/// `chunk_len(len)` except the last, which may be shorter.
///
/// Callers guarantee `len <= i64::MAX as u64` and `idx < num_chunks(len)`; both are checked
/// only in debug builds.
pub fn chunk_bounds(len: u64, idx: usize) -> (i64, i64) {
    debug_assert!(
        len <= i64::MAX as u64,
        "input length {len} exceeds i64::MAX"
    );
    debug_assert!(
        idx < num_chunks(len),
        "chunk {idx} out of range for length {len}"
    );
    let step = chunk_len(len);
    // idx * step <= len - 1 for a valid idx, and len + step cannot overflow u64 because
    // len <= i64::MAX and step <= i64::MAX / MAX_CHUNKS + 1.
    let lo = idx as u64 * step;
    let hi = (lo + step).min(len);
    (lo as i64, hi as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks every chunk of `len` and checks that they tile `0..len` in order.
    fn check_cover(len: u64) {
        let n = num_chunks(len);
        assert!(n as u64 <= MAX_CHUNKS, "len {len}: {n} chunks");
        if len == 0 {
            assert_eq!(n, 0);
            return;
        }
        let step = chunk_len(len) as i64;
        let mut next = 0i64;
        for idx in 0..n {
            let (lo, hi) = chunk_bounds(len, idx);
            assert_eq!(lo, next, "len {len}, chunk {idx}: gap or overlap");
            assert!(hi > lo, "len {len}, chunk {idx}: empty chunk");
            if idx + 1 < n {
                assert_eq!(
                    hi - lo,
                    step,
                    "len {len}, chunk {idx}: short chunk before the last"
                );
            } else {
                assert!(hi - lo <= step, "len {len}: last chunk too long");
            }
            next = hi;
        }
        assert_eq!(next as u64, len, "len {len}: chunks do not reach the end");
    }

    #[test]
    fn chunk_len_formula() {
        assert_eq!(chunk_len(0), MIN_CHUNK);
        assert_eq!(chunk_len(1), MIN_CHUNK);
        assert_eq!(chunk_len(MIN_CHUNK * MAX_CHUNKS), MIN_CHUNK);
        assert_eq!(chunk_len(MIN_CHUNK * MAX_CHUNKS + 1), MIN_CHUNK + 1);
        assert_eq!(chunk_len(100_000_000), MIN_CHUNK);
        assert_eq!(chunk_len(1_000_000_000_000), 15_258_790);
        assert_eq!(chunk_len(i64::MAX as u64), 1 << 47);
    }

    #[test]
    fn num_chunks_values() {
        assert_eq!(num_chunks(0), 0);
        assert_eq!(num_chunks(1), 1);
        assert_eq!(num_chunks(MIN_CHUNK - 1), 1);
        assert_eq!(num_chunks(MIN_CHUNK), 1);
        assert_eq!(num_chunks(MIN_CHUNK + 1), 2);
        assert_eq!(num_chunks(MIN_CHUNK * MAX_CHUNKS), MAX_CHUNKS as usize);
        assert!(num_chunks(MIN_CHUNK * MAX_CHUNKS + 1) <= MAX_CHUNKS as usize);
        assert_eq!(num_chunks(100_000_000), 6104);
        assert!(
            (MAX_CHUNKS as usize - 8..=MAX_CHUNKS as usize).contains(&num_chunks(i64::MAX as u64))
        );
    }

    #[test]
    fn bounds_cover_exactly() {
        let lens = [
            0,
            1,
            2,
            MIN_CHUNK - 1,
            MIN_CHUNK,
            MIN_CHUNK + 1,
            2 * MIN_CHUNK,
            2 * MIN_CHUNK + 1,
            MIN_CHUNK * MAX_CHUNKS - 1,
            MIN_CHUNK * MAX_CHUNKS,
            MIN_CHUNK * MAX_CHUNKS + 1,
            1_000_000,
            100_000_000,
            100_000_001,
            u32::MAX as u64,
            i64::MAX as u64 - 1,
            i64::MAX as u64,
        ];
        for len in lens {
            check_cover(len);
        }
        // Every length in a small window around each chunk-count boundary.
        for len in (MIN_CHUNK * MAX_CHUNKS - 3000)..(MIN_CHUNK * MAX_CHUNKS + 3000) {
            check_cover(len);
        }
    }

    #[test]
    fn bounds_of_largest_input() {
        let len = i64::MAX as u64;
        let last = num_chunks(len) - 1;
        let (lo, hi) = chunk_bounds(len, last);
        assert_eq!(hi, i64::MAX);
        assert!(lo < hi);
        assert_eq!(chunk_bounds(len, 0), (0, 1 << 47));
    }
}
