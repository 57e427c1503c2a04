//! How Candor asks glibc's malloc to keep its memory small (issue 19;
//! README, "Memory"): set once at start, and free memory handed back to the
//! system every second. Elsewhere (another C library, another system) both
//! do nothing.

use std::time::Duration;

/// How often free memory goes back to the system.
pub const GIVE_BACK_EVERY: Duration = Duration::from_secs(1);

/// Call first thing in `main`, before any other thread exists.
///
/// - Two arenas, not eight per core: each thread that allocates (tokio's
///   workers, its blocking threads, a thread per SQLite connection) kept
///   free memory of its own (about 1 MB less at peak under
///   `benches/http.sh`, throughput unchanged).
/// - Blocks of 128 KiB or more always mapped apart and unmapped when freed,
///   and free memory above 128 KiB at the top of the heap given back: by
///   default glibc raises both thresholds after the first large block is
///   freed, and from then on a page's compression buffers (over 1 MB while
///   a page is built) grew the heap for good, each time beside different
///   connections' buffers. Serving the page at 256 connections for 10 s:
///   peak RSS 17.8 -> 16.9 MB (medians of 6), the worst run 20.6 -> 19.2 MB,
///   requests a second the same (`benches/page_memory.sh`).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc parameters; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Every [`GIVE_BACK_EVERY`], the free pages inside the heap go back to the
/// system (`malloc_trim`), not only those at its top: after a wave of
/// connections their buffers are free but stay resident between blocks
/// still in use, and the next wave's land elsewhere.
pub fn give_back_free_memory() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut every = tokio::time::interval(GIVE_BACK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            trim();
        }
    })
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes each arena's lock itself; it only returns
    // free pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
