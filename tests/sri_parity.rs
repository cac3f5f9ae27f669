//! `check` against an independent pool-side validator: the Stratum V2 reference
//! implementation's server extended channel (`channels_sv2`, with rust-bitcoin's hashing),
//! given the bench's real 13-branch slush-pool job and its shares byte for byte
//! (src/bench/sri.rs). Both must compute the same header hash for every share, draw the
//! share target at the same place, and refuse a re-sent share.
//!
//! Built only with the feature that brings SRI in (CI runs it):
//!
//!     cargo test --release --features sri --test sri_parity
#![cfg(feature = "sri")]

use serde_json::Value;
use sharecheck::bench::ShareWorkload;
use sharecheck::bench::sri::{SriChannel, SriVerdict};
use sharecheck::stratum::Submit;
use sharecheck::validate::{Outcome, Reason};

const SHARES: usize = 512;

/// The bench job is the real slush-pool job of ESP-Miner's nonce test #2: that test's
/// share, with its known hash, anchors both sides' reading of the job to the chain (a
/// decoding error both shared would otherwise go unseen).
#[test]
fn the_real_share_of_the_bench_job_hashes_to_its_known_answer_on_both_sides() {
    let vectors: Value =
        serde_json::from_str(include_str!("data/vectors.json")).expect("vectors are JSON");
    let vector = vectors
        .as_array()
        .and_then(|all| {
            all.iter().find(|v| v["name"] == "ESP-Miner nonce diff check #2 (full job -> diff 683)")
        })
        .expect("the ESP-Miner vector");
    let inputs = &vector["inputs"];
    let text = |v: &Value| v.as_str().expect("a string").to_string();
    let mut expected: [u8; 32] =
        hex::decode(text(&vector["expected"]["hash_display"])).unwrap().try_into().unwrap();
    expected.reverse();

    let mut workload = ShareWorkload::sha256d_13_branch(1);
    assert_eq!(
        workload.notify().coinb1,
        hex::decode(text(&inputs["notify_params"][2])).unwrap(),
        "the bench job is the vector's job"
    );
    let extranonce1 = hex::decode(text(&inputs["extranonce1"])).unwrap();
    workload.session.set_extranonce(extranonce1, 4).expect("4 + 4 bytes");
    workload.submits = vec![Submit {
        worker: "esp".into(),
        job_id: "bench".into(),
        extranonce2: text(&inputs["extranonce2"]),
        ntime: text(&inputs["ntime"]),
        nonce: text(&inputs["nonce"]),
        version_bits: None,
    }];
    workload.refresh();
    let ours = workload.validator.check(&workload.session, &workload.submits[0]);
    assert_eq!(ours.pow_hash.map(|h| h.0), Some(expected), "ours: {:?}", ours.reason());
    let mut sri = SriChannel::for_workload(&workload, [0xff; 32]).expect("SRI takes the job");
    assert_eq!(sri.validate(0), SriVerdict::Accepted(expected), "SRI");
}

/// Every share of the bench job, and of the same job whose coinbase pays 60 more outputs
/// (its coinb2's end hashed from schedules made once per job), hashes to what SRI computes,
/// checked one at a time and in a batch.
#[test]
fn every_share_hashes_to_what_sri_computes() {
    for (name, workload) in [
        ("13-entry branch", ShareWorkload::sha256d_13_branch(SHARES)),
        ("60 more outputs", ShareWorkload::sha256d_many_outputs(SHARES)),
    ] {
        let mut sri = SriChannel::for_workload(&workload, [0xff; 32]).expect("SRI takes the job");
        assert_eq!(sri.len(), SHARES);
        let mut distinct = std::collections::HashSet::new();
        let mut theirs_all = Vec::with_capacity(SHARES);
        for (index, submit) in workload.submits.iter().enumerate() {
            let ours = workload.validator.check(&workload.session, submit);
            assert!(ours.is_valid(), "{name}, share {index}: {:?}", ours.reason());
            let ours = ours.pow_hash.expect("a valid share has its hash").0;
            let verdict = sri.validate(index);
            let SriVerdict::Accepted(theirs) = verdict else {
                panic!("{name}, share {index}: SRI refused it: {verdict:?}");
            };
            assert_eq!(ours, theirs, "{name}, share {index}: header hashes differ");
            distinct.insert(ours);
            theirs_all.push(theirs);
        }
        assert_eq!(distinct.len(), SHARES, "{name}: the shares are distinct work");
        workload.refresh();
        let batch = workload.validator.check_batch(&workload.batch());
        for (index, (ours, theirs)) in batch.iter().zip(&theirs_all).enumerate() {
            assert_eq!(ours.pow_hash.map(|h| h.0), Some(*theirs), "{name}, batch share {index}");
        }
    }
}

#[test]
fn both_draw_the_share_target_at_the_same_place() {
    let mut workload = ShareWorkload::sha256d_13_branch(SHARES);
    // Difficulty 65535 / 2^47 is the target 0xffff * 2^208 * 2^47 / 65535 = 2^255 exactly
    // (the f64 is exact): about half of the shares meet it.
    let difficulty = 65535.0 / (1u64 << 47) as f64;
    workload.validator.set_difficulty(&mut workload.session, difficulty).expect("positive");
    // A difficulty applies to the jobs notified after it (the stratum convention): the job
    // again.
    workload.refresh();
    let mut target_le = [0u8; 32];
    target_le[31] = 0x80;
    let mut sri = SriChannel::for_workload(&workload, target_le).expect("SRI takes the job");
    let (mut met, mut missed) = (0, 0);
    for (index, submit) in workload.submits.iter().enumerate() {
        let ours = workload.validator.check(&workload.session, submit);
        match sri.validate(index) {
            SriVerdict::Accepted(_) => {
                assert!(ours.is_valid(), "share {index}: SRI accepts, we say {:?}", ours.reason());
                met += 1;
            }
            SriVerdict::AboveTarget => {
                assert_eq!(ours.reason(), Some(Reason::LowDifficulty), "share {index}");
                missed += 1;
            }
            other => panic!("share {index}: {other:?}"),
        }
    }
    // 512 fair coin flips: each side has well over 150 (a 1e-20 chance otherwise).
    assert!(met > 150 && missed > 150, "met {met}, missed {missed}");
}

#[test]
fn both_refuse_a_share_sent_twice() {
    let workload = ShareWorkload::sha256d_13_branch(4);
    let mut sri = SriChannel::for_workload(&workload, [0xff; 32]).expect("SRI takes the job");
    let submit = &workload.submits[2];
    assert_eq!(workload.validator.check(&workload.session, submit).outcome, Outcome::Accepted);
    assert!(matches!(sri.validate(2), SriVerdict::Accepted(_)));
    assert_eq!(
        workload.validator.check(&workload.session, submit).reason(),
        Some(Reason::Duplicate)
    );
    assert!(matches!(sri.validate(2), SriVerdict::Refused(code) if code.contains("duplicate")));
    // After a refresh both take it again, as a new job's share.
    workload.refresh();
    sri.refresh().expect("refresh");
    assert!(workload.validator.check(&workload.session, submit).is_valid());
    assert!(matches!(sri.validate(2), SriVerdict::Accepted(_)));
}
