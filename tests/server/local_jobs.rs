//! The test bench's own jobs (`server::local_jobs`), held against an independent reading:
//! the coinbase is parsed here byte by byte, the BIP 34 height push is compared with real
//! coinbases, and a share mined with the independent builder (sha2, not the crate) on a
//! generated job is accepted by the engine.
#![cfg(feature = "server")]

use crate::common;

use crate::common::miner::{TestJob, target_for_easier_difficulty};
use num_bigint::BigUint;
use sharecheck::Algorithm;
use sharecheck::server::local_jobs::{BlockTemplate, LocalJobs, bip34_height};
use sharecheck::stratum::Notify;
use sharecheck::validate::{Outcome, Validator, ValidatorConfig};

#[test]
fn the_height_push_is_the_one_real_coinbases_carry() {
    // Bitcoin block 840 000's coinbase script begins 03 40 d1 0c.
    assert_eq!(bip34_height(840_000), [0x03, 0x40, 0xd1, 0x0c]);
    // The public-pool recording bundled in examples/sessions: height 2 442 185.
    assert_eq!(bip34_height(2_442_185), [0x03, 0xc9, 0x43, 0x25]);
    // Script numbers are signed: a top bit set takes one more byte.
    assert_eq!(bip34_height(128), [0x02, 0x80, 0x00]);
    assert_eq!(bip34_height(32_768), [0x03, 0x00, 0x80, 0x00]);
    assert_eq!(bip34_height(8_388_607), [0x03, 0xff, 0xff, 0x7f]);
    // Bitcoin Core's `CScript() << n`: small numbers are opcodes (regtest heights).
    assert_eq!(bip34_height(0), [0x00]);
    assert_eq!(bip34_height(1), [0x51]);
    assert_eq!(bip34_height(16), [0x60]);
    assert_eq!(bip34_height(17), [0x01, 0x11]);
}

#[test]
fn an_extranonce_too_long_for_a_coinbase_script_is_refused() {
    assert!(LocalJobs::new(Algorithm::Sha256d, 840_000, 8).is_ok());
    assert!(LocalJobs::new(Algorithm::Sha256d, 840_000, 90).is_err());
}

/// A coinbase transaction, field by field.
struct Coinbase {
    version: u32,
    script: Vec<u8>,
    sequence: u32,
    /// (value, script) of each output.
    outputs: Vec<(u64, Vec<u8>)>,
    lock_time: u32,
}

/// Reads a coinbase transaction, asserting it is exactly one input spending nothing.
fn parse_coinbase(tx: &[u8]) -> Coinbase {
    let mut at = 0;
    let mut take = |n: usize| {
        let part = tx[at..at + n].to_vec();
        at += n;
        part
    };
    let version = u32::from_le_bytes(take(4).try_into().unwrap());
    assert_eq!(take(1), [1], "one input");
    assert_eq!(take(32), [0; 32], "spending nothing");
    assert_eq!(take(4), [0xff; 4]);
    let script_len = take(1)[0] as usize;
    let script = take(script_len);
    let sequence = u32::from_le_bytes(take(4).try_into().unwrap());
    let outputs_n = take(1)[0];
    let mut outputs = Vec::new();
    for _ in 0..outputs_n {
        let value = u64::from_le_bytes(take(8).try_into().unwrap());
        let len = take(1)[0] as usize;
        outputs.push((value, take(len)));
    }
    let lock_time = u32::from_le_bytes(take(4).try_into().unwrap());
    assert_eq!(at, tx.len(), "nothing after the lock time");
    Coinbase { version, script, sequence, outputs, lock_time }
}

fn as_test_job(notify: &Notify) -> TestJob {
    TestJob::from_params(&notify.to_params())
}

#[test]
fn a_generated_job_is_a_well_formed_block_template_the_engine_checks() {
    let mut jobs = LocalJobs::new(Algorithm::Sha256d, 840_000, 8).unwrap();
    let notify = jobs.next(1_733_200_000, true);
    assert_eq!(Notify::from_params(&notify.to_params()).unwrap(), notify, "round trip");
    assert!(notify.clean_jobs);
    assert_eq!(notify.merkle_branch.len(), 4, "12 transactions: a branch of 4");

    // The coinbase with an 8-byte extranonce in its place reads as a real one.
    let (en1, en2) = ("f000000d", "00000001");
    let coinbase = [
        notify.coinb1.clone(),
        hex::decode(en1).unwrap(),
        hex::decode(en2).unwrap(),
        notify.coinb2.clone(),
    ]
    .concat();
    let Coinbase { version, script, sequence, outputs, lock_time } = parse_coinbase(&coinbase);
    assert_eq!((version, sequence, lock_time), (1, u32::MAX, 0));
    assert!(script.starts_with(&[0x03, 0x40, 0xd1, 0x0c]), "BIP 34 height first");
    assert!(script.ends_with(&hex::decode(format!("{en1}{en2}")).unwrap()), "the extranonce last");
    assert!((2..=100).contains(&script.len()), "consensus bounds on a coinbase script");
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].1.len(), 22);
    assert_eq!(outputs[0].1[..2], [0x00, 0x14], "P2WPKH");

    // The network target, decoded here from nbits: at most 2^-77 of all hashes.
    let (exponent, mantissa) = (notify.nbits >> 24, notify.nbits & 0x00ff_ffff);
    let target = BigUint::from(mantissa) << (8 * (exponent as usize - 3));
    assert!(target < BigUint::from(1u8) << 179usize, "{target:x}");

    // A share mined on it with the independent builder passes the engine's check.
    let job = as_test_job(&notify);
    let easy = target_for_easier_difficulty(24);
    let nonce = job.mine(en1, en2, job.ntime, job.version, &BigUint::from(0u8), &easy);
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    validator.notify(notify.clone()).unwrap();
    let mut session = validator.new_session();
    session.set_extranonce(hex::decode(en1).unwrap(), 4).unwrap();
    validator.set_difficulty(&mut session, (-24f64).exp2()).unwrap();
    let verdict = validator.check_params(&session, &job.submit_params(en2, nonce));
    assert_eq!(verdict.outcome, Outcome::Accepted, "{verdict:?}");
}

#[test]
fn jobs_move_on_with_the_chain() {
    let mut jobs = LocalJobs::new(Algorithm::Scrypt, 3_000_000, 8).unwrap();
    let first = jobs.next(100, true);
    let same_block = jobs.next(130, false);
    assert_ne!(first.job_id, same_block.job_id);
    assert_eq!(first.prevhash, same_block.prevhash);
    assert_eq!(first.coinb2, same_block.coinb2);
    // The job's number is in the coinbase: the same nonce never makes the same header twice.
    assert_ne!(first.coinb1, same_block.coinb1);
    assert!(!same_block.clean_jobs);
    let next_block = jobs.next(400, true);
    assert_ne!(next_block.prevhash, first.prevhash);
    assert_eq!(jobs.height(), 3_000_001);
    assert!(next_block.clean_jobs);
    assert_eq!(next_block.nbits, 0x1a00_ffff, "scrypt: 0xffff · 2^184");
}

/// A template fixture (real node output, see tests/data/gbt/SOURCES.md).
fn template_text(name: &str) -> String {
    let path = format!("{}/tests/data/gbt/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_template_gives_its_block_coinbase_value_commitment_and_branch() {
    for (name, algorithm) in
        [("btc-testnet3-2442185", Algorithm::Sha256d), ("ltc-testnet4-2273263", Algorithm::Scrypt)]
    {
        let text = template_text(name);
        let gbt: serde_json::Value = serde_json::from_str(&text).unwrap();
        let template = BlockTemplate::from_json(&text).unwrap();
        let mut jobs = LocalJobs::from_template(algorithm, &template, 10).unwrap();
        let notify = jobs.next(gbt["curtime"].as_u64().unwrap() as u32, true);

        let txids: Vec<&str> = gbt["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["txid"].as_str().unwrap())
            .collect();
        let expected = common::miner::coinbase_branch(&txids);
        assert!(!expected.is_empty());
        assert_eq!(notify.merkle_branch, expected, "{name}: branch");
        let mut prev = notify.prevhash.0;
        prev.reverse();
        assert_eq!(hex::encode(prev), gbt["previousblockhash"].as_str().unwrap(), "{name}");
        assert_eq!(format!("{:08x}", notify.nbits), gbt["bits"].as_str().unwrap(), "{name}");
        assert_eq!(u64::from(notify.version), gbt["version"].as_u64().unwrap(), "{name}");

        let coinbase = [notify.coinb1.clone(), vec![0xab; 10], notify.coinb2.clone()].concat();
        let Coinbase { script, outputs, .. } = parse_coinbase(&coinbase);
        let height = gbt["height"].as_u64().unwrap() as u32;
        assert!(script.starts_with(&bip34_height(height)), "{name}: the template's height");
        assert_eq!(outputs[0].0, gbt["coinbasevalue"].as_u64().unwrap(), "{name}: value");
        let commitment = hex::decode(gbt["default_witness_commitment"].as_str().unwrap()).unwrap();
        assert_eq!(outputs[1], (0, commitment), "{name}: the segwit commitment");

        // Every job of the template is of its block, clean or not.
        let later = jobs.next(gbt["curtime"].as_u64().unwrap() as u32 + 300, true);
        assert_eq!((later.prevhash, later.merkle_branch), (notify.prevhash, notify.merkle_branch));
    }
}

#[test]
fn the_templates_branch_rebuilds_the_merkle_root_of_the_block_solved_from_it() {
    // Litecoin testnet4 block 2 273 263, solved from the fixture's template: its own
    // coinbase's txid under the branch built from the template gives its header's root.
    let path =
        format!("{}/tests/data/gbt/ltc-testnet4-2273263.block.hex", env!("CARGO_MANIFEST_DIR"));
    let block = hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap();
    let header = &block[..80];
    // The coinbase (segwit serialization) without its marker, flag and witness: the txid's
    // bytes. One input, two outputs, one 32-byte witness item.
    let tx = &block[81..];
    assert_eq!(tx[4..6], [0x00, 0x01], "segwit marker and flag");
    let mut at = 6 + 1 + 36;
    at += 1 + tx[at] as usize + 4; // script, sequence
    let outputs = tx[at];
    at += 1;
    for _ in 0..outputs {
        at += 8;
        at += 1 + tx[at] as usize;
    }
    let witness_len = 1 + 1 + tx[at + 1] as usize;
    let stripped = [&tx[..4], &tx[6..at], &tx[at + witness_len..at + witness_len + 4]].concat();

    let template = BlockTemplate::from_json(&template_text("ltc-testnet4-2273263")).unwrap();
    let mut jobs = LocalJobs::from_template(Algorithm::Scrypt, &template, 10).unwrap();
    let notify = jobs.next(1_648_489_088, true);
    let branch: Vec<String> = notify.merkle_branch.iter().map(hex::encode).collect();
    assert_eq!(common::miner::merkle_root(&stripped, &branch), header[36..68]);
    assert_eq!(notify.prevhash.0, header[4..36], "the previous hash, header byte order");
    assert_eq!(notify.nbits.to_le_bytes(), header[72..76]);
}

#[test]
fn a_template_answer_in_its_rpc_envelope_is_read_and_bad_ones_are_refused_with_the_reason() {
    let text = template_text("btc-testnet3-2442185");
    let bare = BlockTemplate::from_json(&text).unwrap();
    let wrapped = format!("{{\"result\": {text}, \"error\": null, \"id\": 1}}");
    assert_eq!(BlockTemplate::from_json(&wrapped).unwrap(), bare);
    assert_eq!(bare.height, 2_442_185);
    assert_eq!(bare.txids.len(), 5);

    let mut gbt: serde_json::Value = serde_json::from_str(&text).unwrap();
    gbt["bits"] = "1d00ff".into();
    let e = BlockTemplate::from_json(&gbt.to_string()).unwrap_err();
    assert!(e.contains("bits"), "{e}");
    gbt.as_object_mut().unwrap().remove("height");
    let e = BlockTemplate::from_json(&gbt.to_string()).unwrap_err();
    assert!(e.contains("height"), "{e}");
    let e = BlockTemplate::from_json("{\"transactions\": 5").unwrap_err();
    assert!(e.contains("not JSON"), "{e}");
}
