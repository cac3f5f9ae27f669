//! The duplicate filter's limits in the engine: a full job never loses a block, a
//! connection flooding a job spends only its own allowance, and a re-broadcast job keeps
//! the shares it has seen. Shares are mined with the independent builder (tests/common).

use crate::common::miner::{TestJob, target_for_easier_difficulty};
use num_bigint::BigUint;
use serde_json::Value;
use sharecheck::Algorithm;
use sharecheck::stratum::{Notify, Submit};
use sharecheck::validate::{Outcome, Reason, Session, Validator, ValidatorConfig, Verdict};

/// Share difficulty 2^-24: about 256 hashes a share.
const LOG2_EASY: u32 = 24;
/// nBits 0x1f00ffff: network target 0xffff·2^224, 2^-16 in SHA-256d difficulty, so a block
/// takes about 65 536 hashes and the shares between the two targets are not blocks.
const NBITS_EASY_BLOCKS: u32 = 0x1f00_ffff;
const LOG2_BLOCK: u32 = 16;

fn job() -> TestJob {
    let mut job = TestJob::new("j1");
    job.nbits = NBITS_EASY_BLOCKS;
    job
}

fn notify(validator: &Validator, job: &TestJob, clean: bool) {
    let notify: Value = serde_json::from_str(&job.notify(clean)).unwrap();
    validator.notify(Notify::from_params(&notify["params"]).unwrap()).unwrap();
}

fn connection(validator: &Validator, en1: &str) -> Session {
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(en1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, 1.0 / (1u64 << LOG2_EASY) as f64).unwrap();
    session
}

/// A share of `job` for `en1` whose hash lies in (above, at_most].
fn share(job: &TestJob, en1: &str, en2: u32, above: &BigUint, at_most: &BigUint) -> Submit {
    let en2_hex = format!("{en2:08x}");
    let nonce = job.mine(en1, &en2_hex, job.ntime, job.version, above, at_most);
    Submit::from_params(&job.submit_params(&en2_hex, nonce)).unwrap()
}

/// A share that is not a block (hash between the network and the share targets).
fn plain(job: &TestJob, en1: &str, en2: u32) -> Submit {
    let block_target = target_for_easier_difficulty(LOG2_BLOCK);
    share(job, en1, en2, &block_target, &target_for_easier_difficulty(LOG2_EASY))
}

/// A share that meets the network target.
fn block(job: &TestJob, en1: &str, en2: u32) -> Submit {
    share(job, en1, en2, &BigUint::from(0u8), &target_for_easier_difficulty(LOG2_BLOCK))
}

fn outcomes(verdicts: &[Verdict]) -> Vec<Outcome> {
    verdicts.iter().map(|v| v.outcome).collect()
}

const STALE: Outcome = Outcome::Rejected(Reason::Stale);
const DUPLICATE: Outcome = Outcome::Rejected(Reason::Duplicate);

#[test]
fn a_full_job_still_takes_blocks() {
    let job = job();
    let en1 = "0a0b0c0d";
    let config = ValidatorConfig { max_shares_per_job: 2, ..ValidatorConfig::default() };
    let validator = Validator::new(Algorithm::Sha256d, config);
    notify(&validator, &job, true);
    let miner = connection(&validator, en1);
    let shares = [
        plain(&job, en1, 1),
        plain(&job, en1, 2),
        plain(&job, en1, 3), // the filter is full: not remembered, so not acceptable
        block(&job, en1, 4), // a block passes every limit
        block(&job, en1, 4), // ... once
        plain(&job, en1, 5), // the job stays full
        plain(&job, en1, 1), // a share it remembers is still a duplicate
        block(&job, en1, 6), // and a second block is taken too
    ];
    let verdicts: Vec<Verdict> = shares.iter().map(|s| validator.check(&miner, s)).collect();
    assert_eq!(
        outcomes(&verdicts),
        [
            Outcome::Accepted,
            Outcome::Accepted,
            STALE,
            Outcome::Block,
            DUPLICATE,
            STALE,
            DUPLICATE,
            Outcome::Block
        ]
    );
    for i in [3, 7] {
        let solution = verdicts[i].block.as_ref().expect("a block carries its solution");
        let nonce = u32::from_str_radix(&shares[i].nonce, 16).unwrap();
        let en2 = &shares[i].extranonce2;
        assert_eq!(solution.header, job.header(en1, en2, job.ntime, nonce, job.version));
    }
    // The job is still live: the full filter is not a reason to retire it.
    assert!(matches!(validator.jobs().lookup("j1"), sharecheck::validate::JobLookup::Live(_)));
    // A batch answers the same, share for share.
    let validator_b = Validator::new(
        Algorithm::Sha256d,
        ValidatorConfig { max_shares_per_job: 2, ..ValidatorConfig::default() },
    );
    notify(&validator_b, &job, true);
    let miner_b = connection(&validator_b, en1);
    let items: Vec<(&Session, &Submit)> = shares.iter().map(|s| (&miner_b, s)).collect();
    assert_eq!(validator_b.check_batch(&items), verdicts);
}

#[test]
fn a_flooding_connection_spends_only_its_own_allowance() {
    let job = job();
    let (en1_a, en1_b) = ("0a0b0c0d", "0a0b0c0e");
    let config = ValidatorConfig {
        max_shares_per_job: 4,
        max_shares_per_connection: 2,
        ..ValidatorConfig::default()
    };
    let validator = Validator::new(Algorithm::Sha256d, config);
    notify(&validator, &job, true);
    let flooder = connection(&validator, en1_a);
    let honest = connection(&validator, en1_b);
    let flood: Vec<Verdict> =
        (1..=4).map(|en2| validator.check(&flooder, &plain(&job, en1_a, en2))).collect();
    assert_eq!(outcomes(&flood), [Outcome::Accepted, Outcome::Accepted, STALE, STALE]);
    // The other miner's shares of the same job are unaffected.
    let fair: Vec<Verdict> =
        (1..=2).map(|en2| validator.check(&honest, &plain(&job, en1_b, en2))).collect();
    assert_eq!(outcomes(&fair), [Outcome::Accepted, Outcome::Accepted]);
    // Past its allowance the flooder's block is still taken.
    assert_eq!(validator.check(&flooder, &block(&job, en1_a, 9)).outcome, Outcome::Block);
}

#[test]
fn a_rebroadcast_job_keeps_its_shares() {
    let job = job();
    let en1 = "0a0b0c0d";
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    notify(&validator, &job, true);
    let miner = connection(&validator, en1);
    let s = plain(&job, en1, 1);
    let first = validator.check(&miner, &s);
    assert_eq!(first.outcome, Outcome::Accepted);
    // The pool sends the identical job again (as some do on reconnect): the share it has
    // taken is still a duplicate, with or without clean_jobs.
    notify(&validator, &job, false);
    assert_eq!(validator.check(&miner, &s).outcome, DUPLICATE);
    notify(&validator, &job, true);
    assert_eq!(validator.check(&miner, &s).outcome, DUPLICATE);
    // Retired by a newer job, then notified again: it comes back with its shares.
    let mut newer = job.clone();
    newer.id = "j2".into();
    notify(&validator, &newer, true);
    assert_eq!(validator.check(&miner, &s).outcome, STALE);
    notify(&validator, &job, true);
    assert_eq!(validator.check(&miner, &s).outcome, DUPLICATE);
    // A different job under the same id is a new job with a new filter, even where the
    // same fields hash to the same header (here only the job's own ntime moved back).
    let mut changed = job.clone();
    changed.ntime -= 1;
    notify(&validator, &changed, true);
    let again = validator.check(&miner, &s);
    assert_eq!(again.outcome, Outcome::Accepted);
    assert_eq!(again.pow_hash, first.pow_hash, "the same header");
}

#[test]
fn a_live_jobs_allowance_survives_many_newer_jobs() {
    let job_a = job();
    let en1 = "0a0b0c0d";
    let config = ValidatorConfig {
        max_live_jobs: 2,
        max_shares_per_connection: 1,
        ..ValidatorConfig::default()
    };
    let validator = Validator::new(Algorithm::Sha256d, config);
    notify(&validator, &job_a, true);
    let miner = connection(&validator, en1);
    assert_eq!(validator.check(&miner, &plain(&job_a, en1, 1)).outcome, Outcome::Accepted);
    // Job "b" re-notified with a different coinbase 10 times: a shares each version, so
    // the connection's per-job cache (live jobs + 4 slots) fills with b's versions.
    for version in 0..10u8 {
        let mut b = job();
        b.id = "b".into();
        b.coinb2 = format!("{}{:02x}", b.coinb2, version);
        notify(&validator, &b, false);
        assert_eq!(validator.check(&miner, &plain(&b, en1, 1)).outcome, Outcome::Accepted);
    }
    // Job a is still live; its allowance of one share is still spent.
    assert_eq!(validator.check(&miner, &plain(&job_a, en1, 2)).outcome, STALE);
}

#[test]
fn subscribing_again_keeps_the_allowance() {
    let job = job();
    let en1 = "0a0b0c0d";
    let config = ValidatorConfig { max_shares_per_connection: 1, ..ValidatorConfig::default() };
    let validator = Validator::new(Algorithm::Sha256d, config);
    notify(&validator, &job, true);
    let mut miner = connection(&validator, en1);
    assert_eq!(validator.check(&miner, &plain(&job, en1, 1)).outcome, Outcome::Accepted);
    miner.set_extranonce(hex::decode(en1).unwrap(), 4).unwrap();
    assert_eq!(validator.check(&miner, &plain(&job, en1, 2)).outcome, STALE);
    // A new extranonce1 is new work on the same job, under the same allowance.
    let en1_new = "0a0b0c0e";
    miner.set_extranonce(hex::decode(en1_new).unwrap(), 4).unwrap();
    assert_eq!(validator.check(&miner, &plain(&job, en1_new, 3)).outcome, STALE);
    // ... and its midstate is the new one: a block mined for it is found.
    let b = block(&job, en1_new, 4);
    let verdict = validator.check(&miner, &b);
    assert_eq!(verdict.outcome, Outcome::Block);
    let nonce = u32::from_str_radix(&b.nonce, 16).unwrap();
    let header = job.header(en1_new, &b.extranonce2, job.ntime, nonce, job.version);
    assert_eq!(verdict.block.unwrap().header, header);
}

#[test]
fn extranonces_beyond_32_bytes_are_refused() {
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut miner = validator.new_session();
    assert!(miner.set_extranonce(vec![0; 33], 4).is_err());
    assert!(miner.set_extranonce(vec![0; 4], 33).is_err());
    assert!(!miner.is_subscribed(), "a refused subscription leaves the session as it was");
    assert!(miner.set_extranonce(vec![0; 32], 32).is_ok());
}

/// `job` under another id, `i`: different work (its coinbase differs).
fn other_job(i: u8) -> TestJob {
    let mut other = job();
    other.id = format!("other{i}");
    other.coinb2 = format!("{}{i:02x}", other.coinb2);
    other
}

#[test]
fn the_last_retired_jobs_keep_their_filters_and_no_more() {
    for (kept, retired_since, duplicate) in [(8, 8, true), (8, 9, false), (0, 1, false)] {
        let job = job();
        let en1 = "0a0b0c0d";
        let config = ValidatorConfig { retired_jobs_kept: kept, ..ValidatorConfig::default() };
        let validator = Validator::new(Algorithm::Sha256d, config);
        notify(&validator, &job, true);
        let miner = connection(&validator, en1);
        let s = plain(&job, en1, 1);
        assert_eq!(validator.check(&miner, &s).outcome, Outcome::Accepted);
        // `retired_since - 1` more jobs retire after it.
        for i in 0..retired_since {
            notify(&validator, &other_job(i as u8), true);
        }
        notify(&validator, &job, true);
        let expected = if duplicate { DUPLICATE } else { Outcome::Accepted };
        assert_eq!(
            validator.check(&miner, &s).outcome,
            expected,
            "kept {kept}, retired since {retired_since}"
        );
    }
}

#[test]
fn a_job_retired_by_the_live_limit_comes_back_with_its_filter() {
    let job = job();
    let en1 = "0a0b0c0d";
    let config = ValidatorConfig { max_live_jobs: 2, ..ValidatorConfig::default() };
    let validator = Validator::new(Algorithm::Sha256d, config);
    notify(&validator, &job, false);
    let miner = connection(&validator, en1);
    let s = plain(&job, en1, 1);
    assert_eq!(validator.check(&miner, &s).outcome, Outcome::Accepted);
    notify(&validator, &other_job(0), false);
    notify(&validator, &other_job(1), false); // the live limit retires `job`
    assert_eq!(validator.check(&miner, &s).outcome, STALE);
    notify(&validator, &job, false); // the pool re-broadcasts it
    assert_eq!(validator.check(&miner, &s).outcome, DUPLICATE);
}

#[test]
fn an_identical_renotify_counts_as_the_newest_job_for_the_live_limit() {
    let job = job();
    let config = ValidatorConfig { max_live_jobs: 2, ..ValidatorConfig::default() };
    let validator = Validator::new(Algorithm::Sha256d, config);
    notify(&validator, &job, false);
    notify(&validator, &other_job(0), false);
    notify(&validator, &job, false); // re-broadcast: now the newest
    notify(&validator, &other_job(1), false); // retires other0, the oldest
    use sharecheck::validate::JobLookup;
    assert!(matches!(validator.jobs().lookup("j1"), JobLookup::Live(_)));
    assert!(matches!(validator.jobs().lookup("other0"), JobLookup::Stale));
}
