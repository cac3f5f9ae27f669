//! Merged mining (`chain::auxpow`) against the real-chain vectors: Dogecoin block 371 337
//! (the first AuxPoW block, a Litecoin parent), the AuxPoW of Dogecoin block 403 931 and
//! libdohj's 12 negative cases built from it (each refused for its exact reason), and
//! `getExpectedIndex` on real chain data. Run on every kernel path by CI's environment
//! overrides (the parent's scrypt hash).

mod common;

use common::{name, reversed, s, vectors};
use serde_json::Value;
use sharecheck::chain::auxpow::{AuxBlock, AuxPow, CheckFailure, expected_index};
use sharecheck::{Algorithm, Hash256};

/// A hash given in display order, in internal order.
fn internal(display: &str) -> Hash256 {
    Hash256(reversed(common::hex32(display)))
}

fn display(hash: &Hash256) -> String {
    hex::encode(reversed(hash.0))
}

/// The reason code for each of Dogecoin's messages (the vectors carry the messages).
fn failure_of(message: &str) -> CheckFailure {
    let all = [
        CheckFailure::NotGenerate,
        CheckFailure::ParentHasOurChainId,
        CheckFailure::ChainBranchTooLong,
        CheckFailure::CoinbaseNotInParent,
        CheckFailure::MultipleMmHeaders,
        CheckFailure::MmHeaderNotBeforeRoot,
        CheckFailure::MissingChainRoot,
        CheckFailure::RootNotInFirst20Bytes,
        CheckFailure::MissingSizeNonce,
        CheckFailure::BranchSizeMismatch,
        CheckFailure::WrongIndex,
    ];
    *all.iter().find(|f| f.message() == message).unwrap_or_else(|| panic!("unknown: {message}"))
}

#[test]
fn every_standalone_auxpow_checks_as_dogecoin_checks_it() {
    let all = vectors("auxpow_standalone");
    assert_eq!(all.len(), 14);
    let mut negatives = 0;
    for v in &all {
        let n = name(v);
        let bytes = hex::decode(s(v, &["inputs", "auxpow_hex"])).unwrap();
        let auxpow = AuxPow::from_bytes(&bytes).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(auxpow.to_bytes(), bytes, "{n}: byte-for-byte round trip");
        let aux_hash = internal(s(v, &["inputs", "aux_block_hash"]));
        let chain_id = v["inputs"]["chain_id"].as_i64().unwrap() as i32;
        let expected = &v["expected"];
        let result = auxpow.check(&aux_hash, chain_id, true);
        match expected["check_ok"].as_bool().unwrap() {
            true => assert_eq!(result, Ok(()), "{n}"),
            false => {
                negatives += 1;
                let reason = failure_of(expected["reason"].as_str().unwrap());
                assert_eq!(result, Err(reason), "{n}: {}", reason.code());
            }
        }
        if let Some(txid) = expected.get("coinbase_txid").and_then(Value::as_str) {
            assert_eq!(display(&auxpow.coinbase_txid()), txid, "{n}");
        }
        if let Some(hash) = expected.get("parent_block_hash").and_then(Value::as_str) {
            assert_eq!(display(&auxpow.parent_block_hash()), hash, "{n}");
        }
        if let Some(root) = expected.get("parent_merkle_root").and_then(Value::as_str) {
            assert_eq!(
                hex::encode(reversed(auxpow.parent_header[36..68].try_into().unwrap())),
                root
            );
        }
        if let Some(len) = expected.get("coinbase_branch_len").and_then(Value::as_u64) {
            assert_eq!(auxpow.coinbase_branch.len() as u64, len, "{n}");
        }
        if let Some(len) = expected.get("blockchain_branch_len").and_then(Value::as_u64) {
            assert_eq!(auxpow.chain_branch.len() as u64, len, "{n}");
        }
        if let Some(index) = expected.get("chain_index").and_then(Value::as_i64) {
            assert_eq!(i64::from(auxpow.chain_index), index, "{n}");
        }
        if let Some(pow) = expected.get("parent_pow_hash").and_then(Value::as_str) {
            assert_eq!(display(&auxpow.parent_pow_hash(Algorithm::Scrypt)), pow, "{n}");
        }
        if let Some(valid) = expected.get("parent_pow_valid").and_then(Value::as_bool) {
            let bits = u32::from_str_radix(s(v, &["inputs", "aux_bits"]), 16).unwrap();
            assert_eq!(auxpow.parent_pow_meets(Algorithm::Scrypt, bits), valid, "{n}");
        }
    }
    assert_eq!(negatives, 11, "each of the 11 refusal reasons comes from a real vector");
}

#[test]
fn the_first_auxpow_block_of_dogecoin_reads_as_its_node_and_libdohj_read_it() {
    let v = &vectors("auxpow_block")[0];
    let e = &v["expected"];
    let bytes = hex::decode(s(v, &["inputs", "block_hex"])).unwrap();
    let block = AuxBlock::parse(&bytes).unwrap();
    assert_eq!(display(&block.hash()), s(v, &["expected", "block_hash"]));
    assert_eq!(hex::encode(block.header), s(v, &["expected", "header_hex"]));
    assert_eq!(hex::encode(block.auxpow.to_bytes()), s(v, &["expected", "auxpow_hex"]));
    assert_eq!(
        hex::encode(&block.auxpow.coinbase_tx),
        s(v, &["expected", "parent_coinbase_tx_hex"])
    );
    assert_eq!(i64::from(block.chain_id()), e["chain_id"].as_i64().unwrap());
    assert_eq!(format!("{:08x}", block.bits()), s(v, &["expected", "bits_hex"]));
    assert_eq!(display(&block.auxpow.coinbase_txid()), s(v, &["expected", "coinbase_txid"]));
    let branch =
        |b: &[[u8; 32]]| -> Vec<String> { b.iter().map(|h| hex::encode(reversed(*h))).collect() };
    let listed = |key: &str| -> Vec<String> {
        e[key].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    // libdohj lists both branches in display order.
    assert_eq!(branch(&block.auxpow.coinbase_branch), listed("coinbase_branch"));
    assert_eq!(branch(&block.auxpow.chain_branch), listed("blockchain_branch"));
    assert_eq!(i64::from(block.auxpow.chain_index), e["chain_index"].as_i64().unwrap());
    assert_eq!(
        display(&block.auxpow.parent_block_hash()),
        s(v, &["expected", "parent_block_hash"])
    );
    assert_eq!(hex::encode(block.auxpow.hash_block), s(v, &["expected", "hashBlock_field_hex"]));
    assert_eq!(
        hex::encode(block.auxpow.coinbase_script()),
        s(v, &["expected", "parent_coinbase_scriptSig_hex"])
    );
    assert_eq!(
        display(&block.auxpow.parent_pow_hash(Algorithm::Scrypt)),
        s(v, &["expected", "parent_pow_hash"])
    );
    let chain_id = v["inputs"]["our_chain_id"].as_i64().unwrap() as i32;
    assert_eq!(block.auxpow.check(&block.hash(), chain_id, true), Ok(()));
    assert!(block.auxpow.parent_pow_meets(Algorithm::Scrypt, block.bits()), "it is a real block");
    let parent_bits = u32::from_str_radix(s(v, &["expected", "parent_bits_hex"]), 16).unwrap();
    assert_eq!(
        block.auxpow.parent_pow_meets(Algorithm::Scrypt, parent_bits),
        e["parent_pow_meets_parent_chain_target"].as_bool().unwrap(),
        "not a Litecoin block itself"
    );
    // Under another chain id the index no longer matches.
    assert_eq!(block.auxpow.check(&block.hash(), 99, true), Err(CheckFailure::WrongIndex));
}

#[test]
fn expected_index_matches_the_chain_data() {
    for v in vectors("auxpow_expected_index") {
        let i = &v["inputs"];
        let got = expected_index(
            i["nonce"].as_u64().unwrap() as u32,
            i["chain_id"].as_i64().unwrap() as i32,
            i["merkle_height"].as_u64().unwrap() as u32,
        );
        assert_eq!(u64::from(got), v["expected"]["index"].as_u64().unwrap(), "{}", name(&v));
    }
}

#[test]
fn malformed_auxpows_are_refused_with_a_reason_never_a_panic() {
    let v = &vectors("auxpow_standalone")[0];
    let bytes = hex::decode(s(v, &["inputs", "auxpow_hex"])).unwrap();
    for cut in 0..bytes.len() {
        assert!(AuxPow::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(AuxPow::from_bytes(&longer).unwrap_err().to_string().contains("1 bytes after"));
    // A branch count past the bound is refused before anything is allocated for it.
    let auxpow = AuxPow::from_bytes(&bytes).unwrap();
    let at = auxpow.coinbase_tx.len() + 32;
    let mut huge = bytes.clone();
    huge[at] = 0xff;
    assert!(AuxPow::from_bytes(&huge).unwrap_err().to_string().contains("too large"));
}
