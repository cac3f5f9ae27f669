//! What a remembered share costs in the duplicate filter, and its bound. Bytes are
//! measured by a global allocator that keeps, per thread, the bytes live on that thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sharecheck::validate::{DuplicateFilter, Remembered};

struct Measuring;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = LIVE_BYTES.try_with(|b| b.set(b.get() + delta));
}

// SAFETY: defers to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Measuring = Measuring;

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

/// A key shaped like a real share's PoW hash (internal order = little-endian integer):
/// uniform low bytes, the top 8 bytes zero (difficulty ~2^32 in SHA-256d terms, as pool
/// shares are; any share that meets a realistic target has zero high bytes).
fn share_hash(i: u64) -> [u8; 32] {
    let mut h = pseudo_hash(i);
    h[24..].fill(0);
    h
}

fn pseudo_hash(i: u64) -> [u8; 32] {
    // SplitMix64 stream: uniformly spread bytes.
    let mut out = [0u8; 32];
    let mut z = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in out.chunks_mut(8) {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(x ^ (x >> 31)).to_le_bytes());
    }
    out
}

#[test]
fn bytes_per_remembered_share() {
    let n = 200_000u64;
    let before = live_bytes();
    let filter = DuplicateFilter::new(1 << 20);
    for i in 0..n {
        assert_eq!(filter.remember(&share_hash(i)), Remembered::New);
    }
    for i in (0..n).step_by(1000) {
        assert_eq!(filter.remember(&share_hash(i)), Remembered::Duplicate);
    }
    let measured = (live_bytes() - before) as f64;
    let per_share = measured / n as f64;
    println!(
        "duplicate filter: {per_share:.1} bytes per remembered share at {n} shares (measured)"
    );
    // 32-byte key + 1 control byte at a load factor between 7/16 and 7/8.
    assert!((33.0..=80.0).contains(&per_share), "{per_share}");
    // The filter's own estimate agrees with the allocator within 1%.
    let estimate = filter.heap_bytes() as f64;
    assert!((estimate / measured - 1.0).abs() < 0.01, "estimate {estimate}, measured {measured}");
}

#[test]
fn reserved_room_per_job() {
    let before = live_bytes();
    let filter = DuplicateFilter::with_reserve(1 << 20, 2048);
    let reserved = live_bytes() - before;
    println!("duplicate filter: {reserved} bytes reserved for 2048 shares (measured)");
    assert!((120_000..=140_000).contains(&reserved), "{reserved}");
    // Within the reserve, remembering allocates nothing.
    let after_reserve = live_bytes();
    for i in 0..2048 {
        filter.remember(&share_hash(i));
    }
    assert_eq!(live_bytes(), after_reserve);
}

#[test]
fn filter_is_bounded() {
    let filter = DuplicateFilter::new(100);
    for i in 0..100 {
        assert_eq!(filter.remember(&share_hash(i)), Remembered::New);
    }
    assert_eq!(filter.remember(&share_hash(1000)), Remembered::Full);
    assert_eq!(filter.remember(&share_hash(5)), Remembered::Duplicate);
    assert_eq!(filter.len(), 100);
}
