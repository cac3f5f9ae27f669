//! The job registry: limits refuse a notify with an error, old jobs retire to `stale`.

use std::sync::Arc;

use serde_json::json;
use sharecheck::stratum::Notify;
use sharecheck::validate::{JobLookup, Validator, ValidatorConfig};
use sharecheck::{Algorithm, Error};

fn notify(id: &str, coinb2_bytes: usize, branch_len: usize, clean: bool) -> Notify {
    let params = json!([
        id,
        "00".repeat(32),
        "01000000",
        "00".repeat(coinb2_bytes),
        vec!["11".repeat(32); branch_len],
        "20000000",
        "1d00ffff",
        "64b3f3ec",
        clean
    ]);
    Notify::from_params(&params).unwrap()
}

#[test]
fn notify_beyond_limits_is_refused() {
    let config =
        ValidatorConfig { max_coinbase_bytes: 1000, max_branch_len: 4, ..Default::default() };
    let v = Validator::new(Algorithm::Sha256d, config);
    assert!(matches!(v.notify(notify("big", 2000, 1, false)), Err(Error::JobRefused(_))));
    assert!(matches!(v.notify(notify("deep", 10, 5, false)), Err(Error::JobRefused(_))));
    assert!(v.notify(notify("ok", 10, 4, false)).is_ok());
    assert!(matches!(v.jobs().lookup("big"), JobLookup::NotFound));
    assert!(matches!(v.jobs().lookup("ok"), JobLookup::Live(_)));
}

#[test]
fn live_jobs_are_bounded_and_retired_jobs_are_stale() {
    let config = ValidatorConfig { max_live_jobs: 3, max_stale_ids: 2, ..Default::default() };
    let v = Validator::new(Algorithm::Sha256d, config);
    for i in 0..6 {
        v.notify(notify(&format!("j{i}"), 10, 1, false)).unwrap();
    }
    assert_eq!(v.jobs().live_count(), 3);
    assert!(matches!(v.jobs().lookup("j5"), JobLookup::Live(_)));
    assert!(matches!(v.jobs().lookup("j2"), JobLookup::Stale));
    // Only the last two retired ids are remembered.
    assert!(matches!(v.jobs().lookup("j0"), JobLookup::NotFound));
    // clean_jobs retires everything before.
    v.notify(notify("k", 10, 1, true)).unwrap();
    assert_eq!(v.jobs().live_count(), 1);
    assert!(matches!(v.jobs().lookup("j5"), JobLookup::Stale));
    // A re-used id is a new live job.
    v.notify(notify("j5", 10, 1, false)).unwrap();
    assert!(matches!(v.jobs().lookup("j5"), JobLookup::Live(_)));
}

#[test]
fn malformed_notify_is_a_typed_error() {
    let bad = [
        json!([]),
        json!(["id", "zz", "", "", [], "20000000", "1d00ffff", "64b3f3ec", true]),
        json!(["id", "00".repeat(32), "0", "", [], "20000000", "1d00ffff", "64b3f3ec", true]),
        json!(["id", "00".repeat(32), "", "", ["00"], "20000000", "1d00ffff", "64b3f3ec", true]),
        json!(["id", "00".repeat(32), "", "", [], "2000000", "1d00ffff", "64b3f3ec", true]),
        json!(["id", "00".repeat(32), "", "", [], "20000000", "1d00ffff", "64b3f3ec", "yes"]),
        json!({"job": "id"}),
    ];
    for params in bad {
        assert!(Notify::from_params(&params).is_err(), "{params}");
    }
}

#[test]
fn identical_renotify_keeps_the_job_and_its_filter() {
    let v = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    v.notify(notify("j", 10, 1, false)).unwrap();
    v.notify(notify("other", 10, 1, false)).unwrap();
    let JobLookup::Live(first) = v.jobs().lookup("j") else { panic!("j is live") };
    // The pool re-broadcasts the same job: the same entry (sequence number, filter).
    v.notify(notify("j", 10, 1, false)).unwrap();
    let JobLookup::Live(again) = v.jobs().lookup("j") else { panic!("j is live") };
    assert!(Arc::ptr_eq(&first, &again), "an identical re-notify keeps the job");
    assert_eq!(v.jobs().next_seq(), 2, "no new sequence number");
    // Identical, with clean_jobs: every other job retires, this one stays as it was.
    v.notify(notify("j", 10, 1, true)).unwrap();
    let JobLookup::Live(cleaned) = v.jobs().lookup("j") else { panic!("j stays live") };
    assert!(Arc::ptr_eq(&first, &cleaned));
    assert!(!first.is_stale());
    assert!(matches!(v.jobs().lookup("other"), JobLookup::Stale));
    assert_eq!(v.jobs().live_count(), 1);
}

#[test]
fn a_different_job_under_a_reused_id_replaces_it() {
    let v = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    v.notify(notify("j", 10, 1, false)).unwrap();
    let JobLookup::Live(old) = v.jobs().lookup("j") else { panic!("j is live") };
    // Same id, another coinbase: a new job.
    v.notify(notify("j", 11, 1, false)).unwrap();
    let JobLookup::Live(new) = v.jobs().lookup("j") else { panic!("the new j is live") };
    assert!(!Arc::ptr_eq(&old, &new));
    assert!(old.is_stale());
    assert_eq!((old.seq, new.seq), (0, 1));
    assert_eq!(v.jobs().live_count(), 1);
}

#[test]
fn extranonces_count_toward_the_coinbase_limit() {
    // 1000 bytes allowed: coinb1 (4) + coinb2 + 2 × 32 bytes of extranonces.
    let config = ValidatorConfig { max_coinbase_bytes: 1000, ..Default::default() };
    let v = Validator::new(Algorithm::Sha256d, config);
    assert!(v.notify(notify("fits", 1000 - 4 - 64, 1, false)).is_ok());
    assert!(matches!(v.notify(notify("over", 1000 - 4 - 63, 1, false)), Err(Error::JobRefused(_))));
}

#[test]
fn a_refused_job_names_a_huge_id_briefly() {
    let config = ValidatorConfig { max_branch_len: 0, ..Default::default() };
    let v = Validator::new(Algorithm::Sha256d, config);
    let huge_id = "j".repeat(1 << 20);
    let Err(Error::JobRefused(message)) = v.notify(notify(&huge_id, 10, 1, false)) else {
        panic!("a branch over the limit is refused")
    };
    assert!(message.len() < 200, "{} bytes: {}", message.len(), &message[..200]);
    assert!(message.contains("(1048576 chars)"), "{message}");
}
