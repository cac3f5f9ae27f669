//! Heap allocations on the hot path, counted by a global allocator. One test in this
//! binary, so no other test thread allocates while it counts.
//!
//! The SHA-256d shares are mined (independent builder, tests/common) to meet a share
//! target whose top byte is zero, as every real share's hash is: keys shaped like real
//! ones, so a filter that spreads them badly over its shards shows up here.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::miner::{TestJob, target_for_easier_difficulty};
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::bench::ShareWorkload;
use sharecheck::stratum::{Notify, Submit};
use sharecheck::validate::{Session, Validator, ValidatorConfig};

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

/// Difficulty 2^-24 (target 0xffff·2^232): every share's hash has a zero top byte.
const LOG2_EASY: u32 = 24;
const EN1: &str = "f8002c90";

/// A validator with the default limits (2048 shares reserved per job), one connection,
/// and `count` distinct valid shares of one job, mined independently.
fn mined_workload(count: u32) -> (Validator, Session, TestJob, Vec<Submit>) {
    let job = TestJob::new("j");
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, 1.0 / (1u64 << LOG2_EASY) as f64).unwrap();
    notify(&validator, &job);
    let target = target_for_easier_difficulty(LOG2_EASY);
    let submits = (0..count)
        .map(|i| {
            let en2 = format!("{i:08x}");
            let nonce = job.mine_at_most(EN1, &en2, job.ntime, job.version, &target);
            let params =
                json!(["w", "j", en2, format!("{:08x}", job.ntime), format!("{nonce:08x}")]);
            Submit::from_params(&params).unwrap()
        })
        .collect();
    (validator, session, job, submits)
}

fn notify(validator: &Validator, job: &TestJob) {
    let notify: Value = serde_json::from_str(&job.notify(true)).unwrap();
    validator.notify(Notify::from_params(&notify["params"]).unwrap()).unwrap();
}

/// Makes the job new again (a fresh duplicate filter): a different job under its id, which
/// differs only in the job's own ntime (moved back `step` seconds), so the same submits make
/// the same headers.
fn renew(validator: &Validator, job: &TestJob, step: u32) {
    notify(validator, &TestJob { ntime: job.ntime - step, ..job.clone() });
}

#[test]
fn hot_path_allocations() {
    // Sequential check: zero allocations per share, accepted shares included, while the
    // job is within its reserve (2048 shares), for SHA-256d and scrypt.
    let (validator, session, job, submits) = mined_workload(2000);
    // Warm up: the connection's coinbase midstate and the thread's state are built once.
    let _ = validator.check(&session, &submits[0]);
    let n = allocations_during(|| {
        for s in &submits[1..] {
            assert!(validator.check(&session, s).is_valid());
        }
    });
    assert_eq!(n, 0, "allocations while checking {} SHA-256d shares", submits.len() - 1);

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
    let items: Vec<(&Session, &Submit)> = submits.iter().map(|s| (&session, s)).collect();
    renew(&validator, &job, 1);
    let _ = validator.check_batch(&items[..64]);
    renew(&validator, &job, 2);
    let small = allocations_during(|| {
        assert!(validator.check_batch(&items[..256]).iter().all(|v| v.is_valid()));
    });
    renew(&validator, &job, 3);
    let large = allocations_during(|| {
        assert!(validator.check_batch(&items).iter().all(|v| v.is_valid()));
    });
    println!("check_batch allocations: {small} for 256 shares, {large} for {} shares", items.len());
    assert!(large <= 16, "{large} allocations for one batch of {} shares", items.len());
    assert!(large <= small + 2, "allocations grow with the batch: {small} -> {large}");
}
