//! `check` from many threads: the same share is accepted exactly once; batches answer
//! exactly what sequential checks answer (proptest).

use crate::common;

use std::sync::Barrier;

use crate::common::miner::{TestJob, target_for_easier_difficulty};
use num_bigint::BigUint;
use proptest::prelude::*;
use serde_json::Value;
use sharecheck::Algorithm;
use sharecheck::stratum::{Notify, Submit};
use sharecheck::validate::{Outcome, Reason, Session, Validator, ValidatorConfig};

const EN1: &str = "0a0b0c0d";
const LOG2_EASY: u32 = 24;

fn setup(job: &TestJob) -> (Validator, Session) {
    setup_with(job, ValidatorConfig::default())
}

fn setup_with(job: &TestJob, config: ValidatorConfig) -> (Validator, Session) {
    let validator = Validator::new(Algorithm::Sha256d, config);
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, 1.0 / (1u64 << LOG2_EASY) as f64).unwrap();
    let notify: Value = serde_json::from_str(&job.notify(true)).unwrap();
    validator.notify(Notify::from_params(&notify["params"]).unwrap()).unwrap();
    (validator, session)
}

/// Valid shares mined with the independent builder.
fn valid_shares(job: &TestJob, n: u32) -> Vec<Submit> {
    let target = target_for_easier_difficulty(LOG2_EASY);
    (0..n)
        .map(|en2| {
            let en2_hex = format!("{en2:08x}");
            let nonce =
                job.mine(EN1, &en2_hex, job.ntime, job.version, &BigUint::from(0u8), &target);
            Submit::from_params(&job.submit_params(&en2_hex, nonce)).unwrap()
        })
        .collect()
}

#[test]
fn same_share_from_many_threads_is_accepted_exactly_once() {
    let job = TestJob::new("j");
    let shares = valid_shares(&job, 8);
    let threads = 16;
    for round in 0..20 {
        let (validator, session) = setup(&job);
        let barrier = Barrier::new(threads);
        let verdicts: Vec<Vec<Outcome>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        shares
                            .iter()
                            .map(|s| validator.check(&session, s).outcome)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for i in 0..shares.len() {
            let accepted = verdicts.iter().filter(|v| v[i] == Outcome::Accepted).count();
            let duplicate =
                verdicts.iter().filter(|v| v[i] == Outcome::Rejected(Reason::Duplicate)).count();
            assert_eq!(accepted, 1, "round {round}, share {i}");
            assert_eq!(duplicate, threads - 1, "round {round}, share {i}");
        }
    }
}

fn shares_pool() -> &'static (TestJob, Vec<Submit>) {
    static POOL: std::sync::OnceLock<(TestJob, Vec<Submit>)> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let job = TestJob::new("j");
        let shares = valid_shares(&job, 6);
        (job, shares)
    })
}

/// A submit drawn from: a valid share, the same upper-cased, a corrupted nonce (almost
/// surely low difficulty), a wrong size, an unknown job, non-hex.
fn arb_submit() -> impl Strategy<Value = Submit> {
    (0usize..6, 0u8..6).prop_map(|(i, kind)| {
        let mut s = shares_pool().1[i].clone();
        match kind {
            0 | 1 => {}
            2 => s.nonce = s.nonce.to_uppercase(),
            3 => {
                s.nonce =
                    format!("{:08x}", u32::from_str_radix(&s.nonce, 16).unwrap() ^ 0x8000_0000)
            }
            4 => s.extranonce2.push_str("00"),
            _ => s.job_id = "unknown".into(),
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Small filters and allowances fill within a batch: the shares after the one that
    /// fills them must still get what sequential checks give. Two connections share the
    /// job (their own allowances, one filter).
    #[test]
    fn batch_equals_sequential(
        submits in prop::collection::vec((arb_submit(), any::<bool>()), 0..40),
        max_shares_per_job in prop_oneof![Just(1usize << 20), 1usize..8],
        max_shares_per_connection in prop_oneof![Just(1usize << 14), 1usize..6],
    ) {
        let job = &shares_pool().0;
        let config = ValidatorConfig {
            max_shares_per_job,
            max_shares_per_connection,
            ..ValidatorConfig::default()
        };
        let connections = |validator: &Validator, first: Session| {
            let mut second = validator.new_session();
            second.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
            validator.set_difficulty(&mut second, 1.0 / (1u64 << LOG2_EASY) as f64).unwrap();
            [first, second]
        };
        let (sequential_validator, first) = setup_with(job, config.clone());
        let seq_sessions = connections(&sequential_validator, first);
        let sequential: Vec<_> = submits
            .iter()
            .map(|(s, second)| sequential_validator.check(&seq_sessions[*second as usize], s))
            .collect();
        let (batch_validator, first) = setup_with(job, config);
        let batch_sessions = connections(&batch_validator, first);
        let items: Vec<(&Session, &Submit)> =
            submits.iter().map(|(s, second)| (&batch_sessions[*second as usize], s)).collect();
        let batch = batch_validator.check_batch(&items);
        prop_assert_eq!(batch, sequential);
    }
}

/// The scrypt batch path (lanes) answers what sequential checks answer, duplicates and
/// all, on every share of a real-shaped Litecoin job.
#[test]
fn scrypt_batch_equals_sequential() {
    let workload = sharecheck::bench::ShareWorkload::scrypt(21);
    let mut submits = workload.submits.clone();
    submits.push(submits[3].clone());
    let mut upper = submits[5].clone();
    upper.nonce = upper.nonce.to_uppercase();
    submits.push(upper);
    submits.push(Submit { job_id: "gone".into(), ..submits[0].clone() });
    let sequential: Vec<_> =
        submits.iter().map(|s| workload.validator.check(&workload.session, s)).collect();
    workload.refresh();
    let items: Vec<(&Session, &Submit)> = submits.iter().map(|s| (&workload.session, s)).collect();
    let batch = workload.validator.check_batch(&items);
    assert_eq!(batch, sequential);
    assert_eq!(batch[21].reason(), Some(Reason::Duplicate));
    assert_eq!(batch[22].reason(), Some(Reason::Duplicate));
    assert_eq!(batch[23].reason(), Some(Reason::JobNotFound));
    assert!(batch[..21].iter().all(|v| v.is_valid()));
}

/// A batch mixing two jobs (a real 13-entry branch, and a 2-entry one whose coinbase
/// needs fewer blocks) and two connections with extranonce1 of 4 and 8 bytes,
/// interleaved, with refused shares among them: every share's hash is what the
/// independent builder (sha2) computes, and the batch answers what sequential checks do.
/// The jobs come alternately, then in runs of 4 with the connection changing within a
/// run: the paired coinbase hashing meets pairs of unequal block counts, the branch folds
/// change depth within a chunk, and a chunk's memo of the job and connection state found
/// for the share before is both reused and replaced (same job, other connection; same
/// connection, other job; a refused share between two of one job). Each job's end of
/// coinb2 is scheduled for the extranonce sizes of the connection whose share asks first
/// (which one depends on the order the batch's parts run), so the other connection's
/// coinbases are hashed without it. Last, runs of 8 on the one connection: coinbases go
/// four in step with their scheduled ends.
#[test]
fn a_batch_of_mixed_jobs_and_connections_hashes_every_share_right() {
    for (job_run, both_connections) in [(1, true), (4, true), (8, false)] {
        mixed_batch_hashes_every_share_right(job_run, both_connections);
    }
}

fn mixed_batch_hashes_every_share_right(job_run: u32, both_connections: bool) {
    let vector = common::vectors("stratum_share")
        .into_iter()
        .find(|v| common::name(v).starts_with("ESP-Miner nonce diff check #2"))
        .expect("the ESP-Miner vector");
    let mut long = TestJob::from_params(&vector["inputs"]["notify_params"]);
    long.id = "long".into();
    let short = TestJob::new("short");
    let extranonces = ["0a0b0c0d", "0102030405060708"];
    let build = || {
        let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
        let sessions = extranonces.map(|en1| {
            let mut session = validator.new_session();
            session.set_extranonce(hex::decode(en1).unwrap(), 4).unwrap();
            validator.set_difficulty(&mut session, 1e-30).unwrap();
            session
        });
        for job in [&long, &short] {
            let notify: Value = serde_json::from_str(&job.notify(false)).unwrap();
            validator.notify(Notify::from_params(&notify["params"]).unwrap()).unwrap();
        }
        (validator, sessions)
    };
    // (job, connection, submit); every 7th malformed, every 11th for a job long gone.
    let shares: Vec<(&TestJob, usize, Submit)> = (0..75u32)
        .map(|i| {
            let job = if (i / job_run).is_multiple_of(2) { &long } else { &short };
            let connection = usize::from(i % 3 == 0 || !both_connections);
            let nonce = i.wrapping_mul(0x9e37_79b9);
            let mut submit =
                Submit::from_params(&job.submit_params(&format!("{i:08x}"), nonce)).unwrap();
            if i % 7 == 6 {
                submit.nonce = "zz".into();
            } else if i % 11 == 10 {
                submit.job_id = "gone".into();
            }
            (job, connection, submit)
        })
        .collect();

    let (validator, sessions) = build();
    let items: Vec<(&Session, &Submit)> =
        shares.iter().map(|(_, c, submit)| (&sessions[*c], submit)).collect();
    let batch = validator.check_batch(&items);
    let mut hashed = 0;
    for (i, ((job, connection, submit), verdict)) in shares.iter().zip(&batch).enumerate() {
        if submit.nonce == "zz" {
            assert_eq!(verdict.reason(), Some(Reason::Malformed), "run {job_run}, share {i}");
        } else if submit.job_id == "gone" {
            assert_eq!(verdict.reason(), Some(Reason::JobNotFound), "run {job_run}, share {i}");
        } else {
            let nonce = u32::from_str_radix(&submit.nonce, 16).unwrap();
            let header = job.header(
                extranonces[*connection],
                &submit.extranonce2,
                job.ntime,
                nonce,
                job.version,
            );
            let expected = common::miner::sha256d(&header);
            assert!(verdict.is_valid(), "run {job_run}, share {i}: {:?}", verdict.reason());
            assert_eq!(verdict.pow_hash.map(|h| h.0), Some(expected), "run {job_run}, share {i}");
            hashed += 1;
        }
    }
    assert!(hashed > 50, "run {job_run}: {hashed} shares hashed");

    let (validator, sessions) = build();
    let sequential: Vec<_> =
        shares.iter().map(|(_, c, submit)| validator.check(&sessions[*c], submit)).collect();
    assert_eq!(batch, sequential);
}

/// The bench job whose coinbase pays 60 more outputs (a coinb2 of 2 030 bytes: 32 blocks
/// after the extranonce2, hashed from their schedules, four coinbases in step): every
/// share of a batch and of one-at-a-time checks hashes to what sha2 computes of the
/// assembled coinbase, merkle root and header.
#[test]
fn a_coinbase_of_many_outputs_hashes_right_in_batches_and_alone() {
    use common::miner;
    let workload = sharecheck::bench::ShareWorkload::sha256d_many_outputs(70);
    let job = workload.notify();
    assert_eq!(job.coinb2.len(), 2030);
    let extranonce1 = workload.session.extranonce1().unwrap();
    let branch: Vec<String> = job.merkle_branch.iter().map(hex::encode).collect();
    let expected: Vec<[u8; 32]> = workload
        .submits
        .iter()
        .map(|submit| {
            let extranonce2 = hex::decode(&submit.extranonce2).unwrap();
            let coinbase = [job.coinb1.as_slice(), extranonce1, &extranonce2, &job.coinb2].concat();
            let root = miner::merkle_root(&coinbase, &branch);
            let mut header = Vec::with_capacity(80);
            header.extend(job.version.to_le_bytes());
            header.extend(job.prevhash.0);
            header.extend(root);
            header.extend(u32::from_str_radix(&submit.ntime, 16).unwrap().to_le_bytes());
            header.extend(job.nbits.to_le_bytes());
            header.extend(u32::from_str_radix(&submit.nonce, 16).unwrap().to_le_bytes());
            miner::sha256d(&header)
        })
        .collect();
    let batch = workload.validator.check_batch(&workload.batch());
    for (i, (verdict, expected)) in batch.iter().zip(&expected).enumerate() {
        assert!(verdict.is_valid(), "share {i}: {:?}", verdict.reason());
        assert_eq!(verdict.pow_hash.map(|h| h.0), Some(*expected), "batch, share {i}");
    }
    workload.refresh();
    for (i, (submit, expected)) in workload.submits.iter().zip(&expected).enumerate() {
        let verdict = workload.validator.check(&workload.session, submit);
        assert_eq!(verdict.pow_hash.map(|h| h.0), Some(*expected), "alone, share {i}");
    }
}
