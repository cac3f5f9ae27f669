//! The duplicate filter under every interleaving of concurrent `remember` calls, explored
//! exhaustively by loom (a model checker for Rust concurrency): the check-then-insert of
//! a share is atomic, so of two threads sending the same share exactly one is told `New`;
//! and a filter with room for one more share takes exactly one of two.
//!
//! Runs only with loom's synchronisation compiled in (CI does this):
//!
//!     cargo test --release --features loom --test loom_duplicates
#![cfg(feature = "loom")]

use loom::sync::Arc;
use loom::thread;
use sharecheck::validate::{Allowance, DuplicateFilter, Remembered};

/// A key shaped like a real share's hash: uniform low bytes, zero high bytes.
fn share_hash(low: u8) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[0] = low;
    h[8] = low.wrapping_mul(31);
    h
}

fn both(a: Remembered, b: Remembered) -> [Remembered; 2] {
    let mut v = [a, b];
    v.sort_by_key(|r| *r as u8);
    v
}

#[test]
fn the_same_share_from_two_threads_is_new_exactly_once() {
    loom::model(|| {
        let filter = Arc::new(DuplicateFilter::new(8));
        let other = filter.clone();
        let t = thread::spawn(move || other.remember(&share_hash(7)));
        let here = filter.remember(&share_hash(7));
        let there = t.join().unwrap();
        assert_eq!(both(here, there), [Remembered::New, Remembered::Duplicate]);
        assert_eq!(filter.len(), 1);
    });
}

#[test]
fn the_last_slot_goes_to_exactly_one_share() {
    loom::model(|| {
        // Two different shares (different shards) race for the last slot.
        let filter = Arc::new(DuplicateFilter::new(1));
        let other = filter.clone();
        let t = thread::spawn(move || other.remember(&share_hash(1)));
        let here = filter.remember(&share_hash(2));
        let there = t.join().unwrap();
        assert_eq!(both(here, there), [Remembered::New, Remembered::Full]);
        assert_eq!(filter.len(), 1);
    });
}

#[test]
fn a_connection_allowance_is_never_overspent() {
    loom::model(|| {
        let filter = Arc::new(DuplicateFilter::new(8));
        let allowance = Arc::new(Allowance::new(1));
        let (f, a) = (filter.clone(), allowance.clone());
        let t = thread::spawn(move || f.remember_share(&share_hash(1), &a));
        let here = filter.remember_share(&share_hash(2), &allowance);
        let there = t.join().unwrap();
        assert_eq!(both(here, there), [Remembered::New, Remembered::AllowanceSpent]);
        assert_eq!(allowance.used(), 1);
    });
}
