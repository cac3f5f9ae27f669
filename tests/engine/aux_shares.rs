//! Merged mining in the share check: a Litecoin-style job carrying Dogecoin aux work. Shares
//! are mined with the independent builder (sha2 and the scrypt crate); an aux block's
//! AuxPoW is read back and checked as Dogecoin checks it.

use crate::common;

use crate::common::miner::{TestJob, scrypt_pow};
use num_bigint::BigUint;
use sharecheck::chain::auxpow::{AuxPow, Commitment};
use sharecheck::validate::{AuxWork, Outcome, Reason, Validator, ValidatorConfig};
use sharecheck::{Algorithm, Hash256, Target};

const EN1: &str = "f000000d";

fn target_from(value: &BigUint) -> Target {
    let mut le = value.to_bytes_le();
    le.resize(32, 0);
    Target::from_le_bytes(&le.try_into().unwrap())
}

/// A job whose scriptSig carries `commitment` before the extranonces (4 + 4 bytes).
fn job_with(commitment: &[u8]) -> TestJob {
    let mut script = vec![0x03, 0xef, 0xaf, 0x22];
    script.extend_from_slice(commitment);
    let script_len = script.len() + 8;
    let mut coinb1 = 1u32.to_le_bytes().to_vec();
    coinb1.push(1);
    coinb1.extend_from_slice(&[0; 32]);
    coinb1.extend_from_slice(&u32::MAX.to_le_bytes());
    coinb1.push(script_len as u8);
    coinb1.extend_from_slice(&script);
    let mut coinb2 = u32::MAX.to_le_bytes().to_vec();
    coinb2.push(1);
    coinb2.extend_from_slice(&1_250_000_000u64.to_le_bytes());
    coinb2.extend_from_slice(&[0x16, 0x00, 0x14]);
    coinb2.extend_from_slice(&[0x5c; 20]);
    coinb2.extend_from_slice(&0u32.to_le_bytes());
    let mut job = TestJob::new("aux1");
    job.coinb1 = hex::encode(coinb1);
    job.coinb2 = hex::encode(coinb2);
    job.nbits = 0x1a00_ffff; // no share is a Litecoin block
    job
}

fn notify(job: &TestJob) -> sharecheck::stratum::Notify {
    let line: serde_json::Value = serde_json::from_str(&job.notify(true)).unwrap();
    sharecheck::stratum::Notify::from_params(&line["params"]).unwrap()
}

/// The first extranonce2 ≥ `from` and nonce whose scrypt PoW value is in (above, at_most].
fn mine(job: &TestJob, from: u32, above: &BigUint, at_most: &BigUint) -> (String, u32) {
    for en2 in from.. {
        let en2 = format!("{en2:08x}");
        let mut header = job.header(EN1, &en2, job.ntime, 0, job.version);
        for nonce in 0..64u32 {
            header[76..].copy_from_slice(&nonce.to_le_bytes());
            let v = BigUint::from_bytes_le(&scrypt_pow(&header));
            if &v > above && &v <= at_most {
                return (en2, nonce);
            }
        }
    }
    unreachable!()
}

#[test]
fn a_share_meeting_an_aux_target_carries_the_auxpow_dogecoin_accepts() {
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let other = Hash256(common::miner::sha256d(b"another aux chain"));
    let one = BigUint::from(1u8);
    let doge_target = (&one << 254usize) - 1u8; // a quarter of all hashes
    // The parent pool's share target at difficulty 2^-8: 0xffff·2^224 · 2^8.
    let share_target = BigUint::from(0xffffu32) << 232usize;
    let aux = vec![
        AuxWork {
            chain_id: 98,
            aux_block_hash: doge,
            target: target_from(&doge_target),
            chain_merkle: None,
        },
        AuxWork {
            chain_id: 1,
            aux_block_hash: other,
            target: target_from(&one),
            chain_merkle: None,
        }, // never met
    ];
    let commitment = Commitment::build(&[(98, doge), (1, other)]).unwrap();
    let job = job_with(&commitment.script);
    let validator = Validator::new(Algorithm::Scrypt, ValidatorConfig::default());
    validator.notify_with_aux(notify(&job), &aux).unwrap();
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, (-8f64).exp2()).unwrap();

    // A share under the pool's share target that also meets Dogecoin's: accepted, and a
    // Dogecoin block.
    let (en2, nonce) = mine(&job, 0, &BigUint::ZERO, &share_target);
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Accepted);
    assert_eq!(verdict.aux_blocks.len(), 1, "Dogecoin only");
    let found = &verdict.aux_blocks[0];
    assert_eq!((found.chain_id, found.aux_block_hash), (98, doge));
    let auxpow = AuxPow::from_bytes(&found.auxpow).unwrap();
    assert_eq!(auxpow.parent_header, job.header(EN1, &en2, job.ntime, nonce, job.version));
    assert_eq!(auxpow.check(&doge, 98, true), Ok(()));
    assert!(auxpow.parent_pow_meets(Algorithm::Scrypt, 0x2100_4000), "under 2^254");

    // Sent again: a duplicate, and no aux block reported twice.
    let again = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(again.outcome, Outcome::Rejected(Reason::Duplicate));
    assert!(again.aux_blocks.is_empty());

    // Too weak for the pool, strong enough for Dogecoin: low difficulty, and still the
    // Dogecoin block (an aux block is never refused for the share's difficulty).
    let (en2, nonce) = mine(&job, 1000, &share_target, &doge_target);
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Rejected(Reason::LowDifficulty));
    assert_eq!(verdict.aux_blocks.len(), 1);
    let auxpow = AuxPow::from_bytes(&verdict.aux_blocks[0].auxpow).unwrap();
    assert_eq!(auxpow.check(&doge, 98, true), Ok(()));

    // Neither: nothing.
    let (en2, nonce) = mine(&job, 2000, &doge_target, &((&one << 256usize) - 1u8));
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Rejected(Reason::LowDifficulty));
    assert!(verdict.aux_blocks.is_empty());
}

#[test]
fn a_job_whose_coinbase_lacks_the_commitment_is_refused_with_its_aux_work() {
    let doge = Hash256([7; 32]);
    let aux = [AuxWork {
        chain_id: 98,
        aux_block_hash: doge,
        target: target_from(&BigUint::from(1u8)),
        chain_merkle: None,
    }];
    let commitment = Commitment::build(&[(98, Hash256([8; 32]))]).unwrap(); // another block's
    let job = job_with(&commitment.script);
    let validator = Validator::new(Algorithm::Scrypt, ValidatorConfig::default());
    let e = validator.notify_with_aux(notify(&job), &aux).unwrap_err();
    assert!(e.to_string().contains("commitment"), "{e}");
    // The job itself is registered: its parent shares are checked as ever.
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, (-8f64).exp2()).unwrap();
    let share_target = BigUint::from(0xffffu32) << 232usize;
    let (en2, nonce) = mine(&job, 0, &BigUint::ZERO, &share_target);
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Accepted);
    assert!(verdict.aux_blocks.is_empty());
}

#[test]
fn replay_reads_aux_work_from_its_annotation_line_and_reports_the_aux_block() {
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let commitment = Commitment::build(&[(98, doge)]).unwrap();
    let job = job_with(&commitment.script);
    let share_target = BigUint::from(0xffffu32) << 232usize; // difficulty 2^-8
    let doge_target = BigUint::from(1u8) << 254usize; // bits 20400000
    let (en2, nonce) = mine(&job, 0, &BigUint::ZERO, &share_target.clone().min(doge_target));
    let mut doge_display = doge.0;
    doge_display.reverse();
    let doge_display = hex::encode(doge_display);
    let transcript = [
        r#"{"id":1,"method":"mining.subscribe","params":["cpuminer"]}"#.to_string(),
        format!(r#"{{"id":1,"result":[[["mining.notify","x"]],"{EN1}",4],"error":null}}"#),
        r#"{"id":null,"method":"mining.set_difficulty","params":[0.00390625]}"#.to_string(),
        format!(
            r#"{{"id":null,"method":"sharecheck.aux_work","params":["aux1",[[98,"{doge_display}","20400000"]]]}}"#
        ),
        job.notify(true),
        serde_json::json!({"id": 2, "method": "mining.submit", "params": job.submit_params(&en2, nonce)})
            .to_string(),
    ]
    .join("\n");
    let (out, _) = common::run_sharecheck_within(
        &["replay", "--algo", "scrypt", "-"],
        transcript.into_bytes(),
        std::time::Duration::from_secs(30),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["result"], "accepted", "{stdout}");
    let found = &line["aux_blocks"][0];
    assert_eq!(found["chain_id"], 98);
    assert_eq!(found["aux_block_hash"], doge_display.as_str());
    let auxpow =
        AuxPow::from_bytes(&hex::decode(found["auxpow_hex"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(auxpow.check(&doge, 98, true), Ok(()));
}

#[test]
fn a_pools_own_commitment_is_taken_with_the_slot_and_branch_it_gives() {
    // The pool committed to three chains in its own tree; the proxy is told only of
    // Dogecoin's, with its slot and branch (as the pool knows them), after the extranonces.
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let chains = [(98, doge), (7, Hash256([7; 32])), (4, Hash256([4; 32]))];
    let commitment = Commitment::build(&chains).unwrap();
    let slot = commitment.chains[0].clone();
    let mut job = job_with(&[]);
    // coinb2 starts with the rest of the scriptSig: the commitment after the extranonces.
    let coinb1 = hex::decode(&job.coinb1).unwrap();
    let script_len_at = coinb1.len() - 5; // the length byte before the 4-byte height push
    let mut coinb1 = coinb1;
    coinb1[script_len_at] += commitment.script.len() as u8;
    job.coinb1 = hex::encode(coinb1);
    job.coinb2 = format!("{}{}", hex::encode(&commitment.script), job.coinb2);
    let one = BigUint::from(1u8);
    let aux = [AuxWork {
        chain_id: 98,
        aux_block_hash: doge,
        target: target_from(&(&one << 255usize)),
        chain_merkle: Some((slot.index, slot.branch.clone())),
    }];
    let validator = Validator::new(Algorithm::Scrypt, ValidatorConfig::default());
    validator.notify_with_aux(notify(&job), &aux).unwrap();
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, (-8f64).exp2()).unwrap();
    let (en2, nonce) = mine(&job, 0, &BigUint::ZERO, &(&one << 255usize));
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.aux_blocks.len(), 1, "{verdict:?}");
    let auxpow = AuxPow::from_bytes(&verdict.aux_blocks[0].auxpow).unwrap();
    assert_eq!(auxpow.check(&doge, 98, true), Ok(()));
    assert_eq!(auxpow.chain_branch, slot.branch);
}

#[test]
fn a_share_can_be_a_litecoin_block_and_a_dogecoin_block_at_once() {
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let commitment = Commitment::build(&[(98, doge)]).unwrap();
    let mut job = job_with(&commitment.script);
    job.nbits = 0x2100_8000; // the network target 2^255: half of all hashes are blocks
    let one = BigUint::from(1u8);
    let aux = [AuxWork {
        chain_id: 98,
        aux_block_hash: doge,
        target: target_from(&(&one << 254usize)),
        chain_merkle: None,
    }];
    let validator = Validator::new(Algorithm::Scrypt, ValidatorConfig::default());
    validator.notify_with_aux(notify(&job), &aux).unwrap();
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, 1.0).unwrap(); // share target 0xffff·2^224
    // Under 2^254: a block of both chains, though far from the pool's share target.
    let (en2, nonce) = mine(&job, 0, &BigUint::ZERO, &(&one << 254usize));
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Block);
    let block = verdict.block.as_ref().unwrap();
    assert_eq!(block.header, job.header(EN1, &en2, job.ntime, nonce, job.version));
    assert_eq!(verdict.aux_blocks.len(), 1);
    let auxpow = AuxPow::from_bytes(&verdict.aux_blocks[0].auxpow).unwrap();
    assert_eq!(auxpow.parent_header, block.header);
    assert_eq!(auxpow.coinbase_tx, block.coinbase);
    assert_eq!(auxpow.check(&doge, 98, true), Ok(()));
}

#[test]
fn a_stale_or_bad_ntime_share_still_reports_its_aux_block() {
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let commitment = Commitment::build(&[(98, doge)]).unwrap();
    let job = job_with(&commitment.script);
    let one = BigUint::from(1u8);
    let doge_target = &one << 254usize;
    let aux = [AuxWork {
        chain_id: 98,
        aux_block_hash: doge,
        target: target_from(&doge_target),
        chain_merkle: None,
    }];
    let validator = Validator::new(Algorithm::Scrypt, ValidatorConfig::default());
    validator.notify_with_aux(notify(&job), &aux).unwrap();
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, (-8f64).exp2()).unwrap();

    // ntime before the job's: bad_ntime for the pool, still a Dogecoin block.
    let mut early = job.clone();
    early.ntime -= 1;
    let (en2, nonce) = mine(&early, 0, &BigUint::ZERO, &doge_target);
    let verdict = validator.check_params(&session, &early.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Rejected(Reason::BadNtime));
    assert_eq!(verdict.aux_blocks.len(), 1);
    let auxpow = AuxPow::from_bytes(&verdict.aux_blocks[0].auxpow).unwrap();
    assert_eq!(auxpow.check(&doge, 98, true), Ok(()));

    // A new block on the parent chain makes the job stale; a share on it found meanwhile
    // is still a Dogecoin block (the aux chain does not look at the parent's prevhash).
    let mut next = job_with(&commitment.script);
    next.id = "aux2".into();
    next.prevhash_stratum = "00".repeat(32);
    validator.notify_with_aux(notify(&next), &aux).unwrap();
    let (en2, nonce) = mine(&job, 100, &BigUint::ZERO, &doge_target);
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Rejected(Reason::Stale));
    assert_eq!(verdict.aux_blocks.len(), 1);
    // Sent again: a duplicate, reporting nothing.
    let again = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(again.outcome, Outcome::Rejected(Reason::Duplicate));
    assert!(again.aux_blocks.is_empty());
    // A stale share that is no aux block: stale, as ever, not even hashed.
    let (en2, nonce) = mine(&job, 200, &doge_target, &((&one << 256usize) - 1u8));
    let verdict = validator.check_params(&session, &job.submit_params(&en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Rejected(Reason::Stale));
    assert!(verdict.aux_blocks.is_empty() && verdict.pow_hash.is_none());
}

#[test]
fn a_litecoin_session_with_an_aux_only_share_and_a_share_that_is_both_replays_end_to_end() {
    // Litecoin target 2^254 (bits 20400000), Dogecoin's 2^255 (bits 21008000), the pool's
    // share target 0xffff·2^239 (difficulty 2^-15): share A lies in (2^254, 2^255]: a
    // Dogecoin block, not a Litecoin one; share B is under 2^254: both.
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let commitment = Commitment::build(&[(98, doge)]).unwrap();
    let mut job = job_with(&commitment.script);
    job.nbits = 0x2040_0000;
    let one = BigUint::from(1u8);
    let share_target = BigUint::from(0xffffu32) << 239usize;
    let (en2_a, nonce_a) = mine(&job, 0, &(&one << 254usize), &share_target);
    let (en2_b, nonce_b) = mine(&job, 500, &BigUint::ZERO, &(&one << 254usize));
    let mut doge_display = doge.0;
    doge_display.reverse();
    let doge_display = hex::encode(doge_display);
    let submit = |id: u64, en2: &str, nonce: u32| {
        serde_json::json!({"id": id, "method": "mining.submit", "params": job.submit_params(en2, nonce)})
            .to_string()
    };
    let transcript = [
        r#"{"id":1,"method":"mining.subscribe","params":["bmminer/2.0.0"]}"#.to_string(),
        format!(r#"{{"id":1,"result":[[["mining.notify","x"]],"{EN1}",4],"error":null}}"#),
        r#"{"id":null,"method":"mining.set_difficulty","params":[0.000030517578125]}"#.to_string(),
        format!(
            r#"{{"id":null,"method":"sharecheck.aux_work","params":["aux1",[[98,"{doge_display}","21008000"]]]}}"#
        ),
        job.notify(true),
        submit(2, &en2_a, nonce_a),
        r#"{"id":2,"result":true,"error":null}"#.to_string(),
        submit(3, &en2_b, nonce_b),
        r#"{"id":3,"result":true,"error":null}"#.to_string(),
    ]
    .join("\n");
    let (out, _) = common::run_sharecheck_within(
        &["replay", "--algo", "scrypt", "--compare", "-"],
        transcript.into_bytes(),
        std::time::Duration::from_secs(30),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l.get("result").is_some())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["result"], "accepted", "A: not a Litecoin block");
    assert_eq!(lines[1]["result"], "block", "B: a Litecoin block");
    for line in &lines {
        let found = &line["aux_blocks"][0];
        assert_eq!(found["chain_id"], 98, "{line}");
        let bytes = hex::decode(found["auxpow_hex"].as_str().unwrap()).unwrap();
        let auxpow = AuxPow::from_bytes(&bytes).unwrap();
        assert_eq!(auxpow.check(&doge, 98, true), Ok(()));
        assert!(auxpow.parent_pow_meets(Algorithm::Scrypt, 0x2100_8000));
    }
    assert_eq!(out.status.code(), Some(0), "no disagreement with the recorded answers: {stdout}");
}

/// A batch of runs of a stale aux job's shares (aux blocks, and shares that are not) and a
/// live job's: each share gets what it was mined to be, and what sequential `check` gives
/// on a twin validator. The batch reuses a job looked up for the share before: the stale
/// job, held back for its aux blocks, must never be taken for a live one.
#[test]
fn a_batch_of_stale_aux_shares_and_live_ones_answers_as_mined() {
    let doge = Hash256(common::miner::sha256d(b"dogecoin block"));
    let commitment = Commitment::build(&[(98, doge)]).unwrap();
    let stale = job_with(&commitment.script);
    let mut live = job_with(&commitment.script);
    live.id = "aux2".into();
    live.prevhash_stratum = "00".repeat(32);
    let one = BigUint::from(1u8);
    let doge_target = &one << 254usize;
    // The share target at difficulty 2^-8: scrypt's diff1 0xFFFF·2^224, times 2^8.
    let share_target = BigUint::from(0xFFFFu32) << 232usize;
    let aux = [AuxWork {
        chain_id: 98,
        aux_block_hash: doge,
        target: target_from(&doge_target),
        chain_merkle: None,
    }];
    let build = || {
        let validator = Validator::new(Algorithm::Scrypt, ValidatorConfig::default());
        validator.notify_with_aux(notify(&stale), &aux).unwrap();
        // A new block on the parent chain: `stale` is stale, its aux work still held.
        validator.notify_with_aux(notify(&live), &aux).unwrap();
        let mut session = validator.new_session();
        session.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
        validator.set_difficulty(&mut session, (-8f64).exp2()).unwrap();
        (validator, session)
    };
    // Runs of 3: live shares meeting the share target (so the aux target too), stale
    // shares alternately aux blocks and not.
    let mut shares = Vec::new();
    let mut from = 0;
    for i in 0..18u32 {
        let (job, above, at_most) = match (i / 3 % 2, i % 2) {
            (0, _) => (&live, BigUint::ZERO, share_target.clone()),
            (_, 0) => (&stale, BigUint::ZERO, doge_target.clone()),
            _ => (&stale, doge_target.clone(), (&one << 256usize) - 1u8),
        };
        let (en2, nonce) = mine(job, from, &above, &at_most);
        from = u32::from_str_radix(&en2, 16).unwrap() + 1;
        let aux_block = at_most <= doge_target;
        let pow = scrypt_pow(&job.header(EN1, &en2, job.ntime, nonce, job.version));
        let submit = sharecheck::stratum::Submit::from_params(&job.submit_params(&en2, nonce));
        shares.push((job.id.clone(), aux_block, pow, submit.unwrap()));
    }

    let (validator, session) = build();
    let items: Vec<_> = shares.iter().map(|(_, _, _, submit)| (&session, submit)).collect();
    let batch = validator.check_batch(&items);
    for (i, ((job, aux_block, pow, _), verdict)) in shares.iter().zip(&batch).enumerate() {
        let aux_blocks = usize::from(*aux_block);
        assert_eq!(verdict.aux_blocks.len(), aux_blocks, "share {i} of {job}");
        if let Some(found) = verdict.aux_blocks.first() {
            let auxpow = AuxPow::from_bytes(&found.auxpow).unwrap();
            assert_eq!(auxpow.check(&doge, 98, true), Ok(()), "share {i}");
        }
        if let Some(hash) = verdict.pow_hash {
            assert_eq!(hash.0, *pow, "share {i}");
        }
        if job == "aux2" {
            assert_eq!(verdict.outcome, Outcome::Accepted, "share {i}");
        } else {
            assert_eq!(verdict.outcome, Outcome::Rejected(Reason::Stale), "share {i}");
            // A stale share that is no aux block is answered as ever: stale, no hash.
            assert_eq!(verdict.pow_hash.is_some(), *aux_block, "share {i}");
        }
    }
    let (validator, session) = build();
    let sequential: Vec<_> =
        shares.iter().map(|(_, _, _, submit)| validator.check(&session, submit)).collect();
    assert_eq!(batch, sequential);
}
