//! Merged mining (`chain::auxpow`) against the real-chain vectors: Dogecoin block 371 337
//! (the first AuxPoW block, a Litecoin parent), the AuxPoW of Dogecoin block 403 931 and
//! libdohj's 12 negative cases built from it (each refused for its exact reason), and
//! `getExpectedIndex` on real chain data. Run on every kernel path by CI's environment
//! overrides (the parent's scrypt hash).

use crate::common;

use crate::common::{name, reversed, s, vectors};
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
fn a_negative_version_has_a_negative_chain_id_as_dogecoin_shifts_it() {
    use sharecheck::chain::auxpow::chain_id_of;
    assert_eq!(chain_id_of(0x0062_0102), 98);
    assert_eq!(chain_id_of(0xffff_0001u32 as i32), -1, "an arithmetic shift, not a division");
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
    // A count in a longer encoding than it needs is refused, as Bitcoin refuses it: the
    // coinbase branch's 3 written as fd 03 00.
    assert_eq!(bytes[at], 3);
    let longer = [&bytes[..at], &[0xfd, 0x03, 0x00], &bytes[at + 1..]].concat();
    assert!(AuxPow::from_bytes(&longer).unwrap_err().to_string().contains("non-canonical"));
}

/// A parent coinbase (legacy serialization) whose scriptSig is a height push, `commitment`
/// and an 8-byte extranonce, paying one output.
fn parent_coinbase(commitment: &[u8], extranonce: u64) -> Vec<u8> {
    let mut script = vec![0x03, 0xef, 0xaf, 0x22]; // height 2 273 263
    script.extend_from_slice(commitment);
    script.extend_from_slice(&extranonce.to_le_bytes());
    let mut tx = 1u32.to_le_bytes().to_vec();
    tx.push(1);
    tx.extend_from_slice(&[0; 32]);
    tx.extend_from_slice(&u32::MAX.to_le_bytes());
    tx.push(script.len() as u8);
    tx.extend_from_slice(&script);
    tx.extend_from_slice(&u32::MAX.to_le_bytes());
    tx.push(1);
    tx.extend_from_slice(&1_250_000_000u64.to_le_bytes());
    tx.extend_from_slice(&[0x16, 0x00, 0x14]);
    tx.extend_from_slice(&[0x5c; 20]);
    tx.extend_from_slice(&0u32.to_le_bytes());
    tx
}

/// The parent block built around `coinbase` with three other transactions, mined (with the
/// independent scrypt) until its PoW hash is at most 2^255: its header and the coinbase's
/// branch.
fn mine_parent(coinbase: &[u8]) -> ([u8; 80], Vec<[u8; 32]>) {
    use crate::common::miner::{branch_of_first, merkle_root, scrypt_pow, sha256d};
    let mut leaves = vec![sha256d(coinbase)];
    leaves.extend((1u8..=3).map(|i| sha256d(&[i; 7])));
    let branch = branch_of_first(leaves);
    let branch_hex: Vec<String> = branch.iter().map(hex::encode).collect();
    let mut header = [0u8; 80];
    header[..4].copy_from_slice(&0x2000_0000u32.to_le_bytes());
    header[4..36].copy_from_slice(&[0x11; 32]);
    header[36..68].copy_from_slice(&merkle_root(coinbase, &branch_hex));
    header[68..72].copy_from_slice(&1_648_489_088u32.to_le_bytes());
    header[72..76].copy_from_slice(&0x1e0f_fff0u32.to_le_bytes());
    let nonce = (0u32..)
        .find(|n| {
            header[76..].copy_from_slice(&n.to_le_bytes());
            scrypt_pow(&header)[31] < 0x80 // little-endian: the top byte under 0x80
        })
        .unwrap();
    header[76..].copy_from_slice(&nonce.to_le_bytes());
    (header, branch)
}

#[test]
fn a_commitment_in_a_mined_parent_gives_an_auxpow_every_chain_accepts() {
    let chains: Vec<(i32, Hash256)> = [98, 1, 2, 6, 7]
        .iter()
        .map(|&id| (id, Hash256(common::miner::sha256d(&[id as u8; 5]))))
        .collect();
    let commitment = sharecheck::chain::auxpow::Commitment::build(&chains).unwrap();
    // A chain's slot modulo 2^h depends only on its id modulo 2^h (the LCG is affine and
    // odd-multiplied): 98 and 2 share every slot up to 32, so the smallest tree is 64.
    assert_eq!(commitment.merkle_size, 64);
    let slots: Vec<u32> = commitment.chains.iter().map(|c| c.index).collect();
    assert!(slots.iter().enumerate().all(|(i, s)| !slots[..i].contains(s)), "{slots:?}");
    assert_eq!(&commitment.script[..4], &[0xfa, 0xbe, 0x6d, 0x6d]);
    let coinbase = parent_coinbase(&commitment.script, 7);
    let (header, coinbase_branch) = mine_parent(&coinbase);
    for slot in &commitment.chains {
        let auxpow = AuxPow::new(
            coinbase.clone(),
            coinbase_branch.clone(),
            slot.branch.clone(),
            slot.index as i32,
            header,
        )
        .unwrap();
        assert_eq!(
            auxpow.check(&slot.aux_block_hash, slot.chain_id, true),
            Ok(()),
            "{}",
            slot.chain_id
        );
        // What submitauxblock takes reads back as the same AuxPoW.
        assert_eq!(AuxPow::from_bytes(&auxpow.to_bytes()).unwrap(), auxpow);
        assert!(auxpow.parent_pow_meets(Algorithm::Scrypt, 0x2100_8000), "mined to 2^255");
        // A chain not in the tree (or another block of this one) is refused.
        assert!(auxpow.check(&slot.aux_block_hash, 3, true).is_err());
        let other = Hash256([0x42; 32]);
        assert_eq!(auxpow.check(&other, slot.chain_id, true), Err(CheckFailure::MissingChainRoot));
    }
}

#[test]
fn commitments_refuse_what_cannot_be_committed() {
    use sharecheck::chain::auxpow::{Commitment, CommitmentError};
    assert_eq!(Commitment::build(&[]), Err(CommitmentError::NoChains));
    let h = Hash256([1; 32]);
    assert_eq!(Commitment::build(&[(98, h), (98, h)]), Err(CommitmentError::DuplicateChainId(98)));
    // One chain: a one-slot tree whose root is the aux block hash itself.
    let one = Commitment::build(&[(98, h)]).unwrap();
    assert_eq!((one.merkle_size, one.merkle_nonce, one.root), (1, 0, h.0));
    assert!(one.chains[0].branch.is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use sharecheck::chain::auxpow::Commitment;

    /// `getExpectedIndex` computed apart: in u64 with every step reduced modulo 2^32 (the
    /// C++ `uint32_t` arithmetic), the chain id taken modulo 2^32 as C converts an int.
    fn get_expected_index_cpp(n_nonce: u32, n_chain_id: i32, h: u32) -> u32 {
        const M: u64 = 1 << 32;
        let mut rand = u64::from(n_nonce);
        rand = (rand * 1103515245 + 12345) % M;
        rand = (rand + (i64::from(n_chain_id).rem_euclid(M as i64) as u64)) % M;
        rand = (rand * 1103515245 + 12345) % M;
        (rand % (1u64 << h)) as u32
    }

    fn coinbase_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(any::<u8>(), 0..120),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..4),
        )
            .prop_map(|(script, outputs)| {
                let mut tx = 2u32.to_le_bytes().to_vec();
                tx.push(1);
                tx.extend_from_slice(&[0; 32]);
                tx.extend_from_slice(&u32::MAX.to_le_bytes());
                tx.push(script.len() as u8);
                tx.extend_from_slice(&script);
                tx.extend_from_slice(&0u32.to_le_bytes());
                tx.push(outputs.len() as u8);
                for out in outputs {
                    tx.extend_from_slice(&50u64.to_le_bytes());
                    tx.push(out.len() as u8);
                    tx.extend_from_slice(&out);
                }
                tx.extend_from_slice(&0u32.to_le_bytes());
                tx
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn serialize_of_parse_is_the_bytes(
            coinbase in coinbase_strategy(),
            hash_block in any::<[u8; 32]>(),
            coinbase_branch in proptest::collection::vec(any::<[u8; 32]>(), 0..12),
            index in any::<i32>(),
            chain_branch in proptest::collection::vec(any::<[u8; 32]>(), 0..31),
            chain_index in any::<i32>(),
            header in proptest::collection::vec(any::<u8>(), 80),
        ) {
            let mut bytes = coinbase.clone();
            bytes.extend_from_slice(&hash_block);
            bytes.push(coinbase_branch.len() as u8);
            bytes.extend(coinbase_branch.iter().flatten());
            bytes.extend_from_slice(&index.to_le_bytes());
            bytes.push(chain_branch.len() as u8);
            bytes.extend(chain_branch.iter().flatten());
            bytes.extend_from_slice(&chain_index.to_le_bytes());
            bytes.extend_from_slice(&header);
            let auxpow = AuxPow::from_bytes(&bytes).unwrap();
            prop_assert_eq!(auxpow.to_bytes(), bytes);
            prop_assert_eq!(&auxpow.coinbase_tx, &coinbase);
            prop_assert_eq!((auxpow.coinbase_index, auxpow.chain_index), (index, chain_index));
        }

        #[test]
        fn a_commitment_checks_for_every_chain_in_it(
            ids in proptest::collection::btree_set(-1000i32..1000, 1..=8),
            seed in any::<u8>(),
        ) {
            let chains: Vec<(i32, Hash256)> = ids
                .iter()
                .map(|&id| (id, Hash256(common::miner::sha256d(&[&id.to_le_bytes()[..], &[seed]].concat()))))
                .collect();
            let commitment = Commitment::build(&chains).unwrap();
            let coinbase = parent_coinbase(&commitment.script, u64::from(seed));
            // A parent whose merkle root is the coinbase's txid (a one-transaction block).
            let mut header = [0u8; 80];
            header[..4].copy_from_slice(&0x2000_0000u32.to_le_bytes()); // chain id 8192
            header[36..68].copy_from_slice(&common::miner::sha256d(&coinbase));
            for slot in &commitment.chains {
                let auxpow = AuxPow::new(coinbase.clone(), Vec::new(), slot.branch.clone(), slot.index as i32, header).unwrap();
                prop_assert_eq!(auxpow.check(&slot.aux_block_hash, slot.chain_id, true), Ok(()));
            }
            let absent = (1000..).find(|id| !ids.contains(id)).unwrap();
            let first = &commitment.chains[0];
            let auxpow = AuxPow::new(coinbase.clone(), Vec::new(), first.branch.clone(), first.index as i32, header).unwrap();
            // Another chain id may share the first's slot by chance; it is refused unless it does.
            let same_slot = sharecheck::chain::auxpow::expected_index(commitment.merkle_nonce, absent, first.branch.len() as u32) == first.index;
            prop_assert_eq!(auxpow.check(&first.aux_block_hash, absent, true).is_ok(), same_slot);
        }

        #[test]
        fn expected_index_is_the_cpp_expression(nonce in any::<u32>(), id in any::<i32>(), h in 0u32..31) {
            prop_assert_eq!(expected_index(nonce, id, h), get_expected_index_cpp(nonce, id, h));
        }
    }
}
