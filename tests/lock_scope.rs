//! Slow work happens outside the locks other checks need: a notify's duplicate-filter
//! reserve is allocated before the registry's write lock is taken, and a connection's
//! coinbase midstate is computed outside its session lock. Proven deterministically: an
//! allocator holds the slow thread inside its large allocation, and the test checks that
//! other work completes meanwhile (it would wait forever if the lock were held; a bounded
//! wait turns that into a failure).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::miner::TestJob;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::stratum::{Notify, Submit};
use sharecheck::validate::{JobLookup, Validator, ValidatorConfig};

/// Allocations of at least this many bytes pause a thread that opted in.
const LARGE: usize = 4096;

static RELEASED: AtomicBool = AtomicBool::new(false);
static PAUSED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static PAUSE_ON_LARGE: Cell<bool> = const { Cell::new(false) };
}

struct Gate;

// SAFETY: defers to the system allocator; may only delay a call.
unsafe impl GlobalAlloc for Gate {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let opted_in = PAUSE_ON_LARGE.try_with(Cell::get).unwrap_or(false);
        if opted_in && layout.size() >= LARGE {
            PAUSED.store(true, Ordering::SeqCst);
            // Bounded: the test releases the gate, or 30 s pass.
            let start = Instant::now();
            while !RELEASED.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(30) {
                std::thread::yield_now();
            }
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Gate = Gate;

/// Runs `slow` on a thread paused at its first large allocation, then `other` on another
/// thread; returns whether `other` finished while `slow` was still paused.
fn completes_meanwhile(slow: impl FnOnce() + Send, other: impl FnOnce() + Send) -> bool {
    // One gate for the binary: its tests take turns.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    RELEASED.store(false, Ordering::SeqCst);
    PAUSED.store(false, Ordering::SeqCst);
    std::thread::scope(|scope| {
        let slow_thread = scope.spawn(move || {
            PAUSE_ON_LARGE.with(|p| p.set(true));
            slow();
            PAUSE_ON_LARGE.with(|p| p.set(false));
        });
        let start = Instant::now();
        while !PAUSED.load(Ordering::SeqCst) {
            assert!(start.elapsed() < Duration::from_secs(10), "the slow work never allocated");
            std::thread::yield_now();
        }
        let (done_tx, done_rx) = mpsc::channel();
        scope.spawn(move || {
            other();
            let _ = done_tx.send(());
        });
        let finished = done_rx.recv_timeout(Duration::from_secs(10)).is_ok();
        RELEASED.store(true, Ordering::SeqCst);
        slow_thread.join().unwrap();
        finished
    })
}

fn notify(validator: &Validator, job: &TestJob, clean: bool) {
    let params: Value = serde_json::from_str(&job.notify(clean)).unwrap();
    validator.notify(Notify::from_params(&params["params"]).unwrap()).unwrap();
}

#[test]
fn a_notify_allocates_its_filter_outside_the_registry_lock() {
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let first = TestJob::new("first");
    notify(&validator, &first, true);
    let second = TestJob::new("second");
    let looked_up = completes_meanwhile(
        || notify(&validator, &second, false),
        || assert!(matches!(validator.jobs().lookup("first"), JobLookup::Live(_))),
    );
    assert!(looked_up, "a lookup waited for a notify's allocation");
    assert!(matches!(validator.jobs().lookup("second"), JobLookup::Live(_)));
}

#[test]
fn a_midstate_is_computed_outside_the_session_lock() {
    let config = ValidatorConfig { max_coinbase_bytes: 1 << 20, ..ValidatorConfig::default() };
    let validator = Validator::new(Algorithm::Sha256d, config);
    let mut session = validator.new_session();
    session.set_extranonce(vec![1, 2, 3, 4], 4).unwrap();
    // Job "big": a 64 KB coinb1, so its midstate's buffer is a large allocation.
    let mut big = TestJob::new("big");
    big.coinb1.push_str(&"00".repeat(64 * 1024));
    notify(&validator, &big, true);
    let small = TestJob::new("small");
    notify(&validator, &small, false);
    let submit = |job: &str| {
        Submit::from_params(&json!(["w", job, "00000001", "64b3f3ec", "00000000"])).unwrap()
    };
    let (big_share, small_share) = (submit("big"), submit("small"));
    let checked = completes_meanwhile(
        || {
            let _ = validator.check(&session, &big_share);
        },
        || assert!(validator.check(&session, &small_share).pow_hash.is_some()),
    );
    assert!(checked, "a check of another job waited for this connection's midstate");
}
