//! Heap allocations on the hot path, counted by a global allocator. One test in this
//! binary, so no other test thread allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sharecheck::bench::ShareWorkload;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn hot_path_allocations() {
    // Sequential check: zero allocations per share, accepted shares included (the job's
    // duplicate filter has its reserve), for SHA-256d and scrypt.
    let sha = ShareWorkload::sha256d_13_branch(3000);
    // Warm up: the connection's coinbase midstate and the thread's state are built once.
    let _ = sha.validator.check(&sha.session, &sha.submits[0]);
    let n = allocations_during(|| {
        for s in &sha.submits[1..] {
            assert!(sha.validator.check(&sha.session, s).is_valid());
        }
    });
    assert_eq!(n, 0, "allocations while checking {} SHA-256d shares", sha.submits.len() - 1);

    let scrypt = ShareWorkload::scrypt(40);
    let _ = scrypt.validator.check(&scrypt.session, &scrypt.submits[0]);
    let n = allocations_during(|| {
        for s in &scrypt.submits[1..] {
            assert!(scrypt.validator.check(&scrypt.session, s).is_valid());
        }
    });
    assert_eq!(n, 0, "allocations while checking scrypt shares");

    // Batches: a fixed number per call (the result vectors and rayon's bookkeeping),
    // not per share.
    let batch_workload = ShareWorkload::sha256d_13_branch(4000);
    let items = batch_workload.batch();
    let _ = batch_workload.validator.check_batch(&items[..64]);
    batch_workload.refresh();
    let small = allocations_during(|| {
        let _ = batch_workload.validator.check_batch(&items[..256]);
    });
    batch_workload.refresh();
    let large = allocations_during(|| {
        let _ = batch_workload.validator.check_batch(&items);
    });
    println!("check_batch allocations: {small} for 256 shares, {large} for {} shares", items.len());
    assert!(large <= 16, "{large} allocations for one batch of {} shares", items.len());
    assert!(large <= small + 2, "allocations grow with the batch: {small} -> {large}");
}
