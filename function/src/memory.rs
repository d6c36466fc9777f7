//! Process-wide memory settings, applied once at start.

/// Size from which glibc serves an allocation with its own `mmap`, returned to the kernel on
/// `free`. Only events of large images (over ~1.5 MB) reach it.
pub const MMAP_THRESHOLD: usize = 2 << 20;

/// Makes allocations of [`MMAP_THRESHOLD`] and more bypass the heap.
///
/// Why: glibc's default threshold rises to the size of the largest buffer freed (up to 32 MiB),
/// after which a 5 MB event lands in the heap. Small allocations made while it is free then
/// split its space, the next event no longer fits there, and the heap grows by another event:
/// measured, 16 MiB grew to 21 MiB over 25 requests of 4 MB photos. A fixed threshold keeps
/// the peak at one event above the baseline, and gives the memory back after each request. The
/// price is the page faults of a fresh mapping, about 0.3 ms per MB of event, paid only by
/// events over the threshold (BENCHMARKS.md).
pub fn return_large_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` only changes malloc's tunables and is safe to call at any time; it is
    // called once, first thing in `main`, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}
