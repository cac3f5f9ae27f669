//! Every real-chain vector of the hashing and difficulty core, asserted one by one with
//! its name in the failure message. Source: shared/vectors (copied to tests/data/).

use crate::common::*;
use sharecheck::chain::{coinbase, merkle};
use sharecheck::hash::scrypt::reference::scrypt_kdf;
use sharecheck::hash::{Platform, ScryptPath, ScryptScratch, Sha256Path, scrypt};
use sharecheck::{Algorithm, BlockHeader, CompactTarget, Hash256, Target};

/// Every kernel combination this CPU supports, portable included.
fn platforms() -> Vec<Platform> {
    let mut out = Vec::new();
    for sha256 in Sha256Path::supported() {
        for scrypt in ScryptPath::supported() {
            out.push(Platform::new(sha256, scrypt));
        }
    }
    out
}

fn check_header(v: &serde_json::Value, algo: Algorithm) {
    let n = name(v);
    let bytes = hex80(s(v, &["inputs", "header_hex"]));
    let header = BlockHeader::from_bytes(&bytes);
    assert_eq!(header.to_bytes(), bytes, "{n}: round trip");
    let e = &v["expected"];
    assert_eq!(header.block_hash().to_display_hex(), s(e, &["block_hash"]), "{n}: block hash");
    assert_eq!(header.prev_blockhash.to_display_hex(), s(e, &["prev_block"]), "{n}: prev");
    assert_eq!(header.merkle_root.to_display_hex(), s(e, &["merkle_root"]), "{n}: merkle root");
    assert_eq!(header.bits.to_string(), s(e, &["bits_hex"]), "{n}: bits");
    assert_eq!(format!("{:08x}", header.version), s(e, &["version_hex"]), "{n}: version");
    assert_eq!(header.time as u64, e["time"].as_u64().unwrap(), "{n}: time");
    assert_eq!(header.nonce as u64, e["nonce"].as_u64().unwrap(), "{n}: nonce");
    assert_eq!(header.bits.decode().target.to_display_hex(), s(e, &["target"]), "{n}: target");
    let pow = header.pow_hash(algo);
    if let Some(expected_pow) = e["pow_hash"].as_str() {
        assert_eq!(pow.to_display_hex(), expected_pow, "{n}: pow hash");
    }
    assert_eq!(header.meets_own_target(algo), e["pow_valid"].as_bool().unwrap(), "{n}: pow valid");
    if let Some(internal) = e["sha256d_internal_hex"].as_str() {
        assert_eq!(hex::encode(sharecheck::hash::sha256d(&bytes)), internal, "{n}");
    }
    if let Some(cb) = v["inputs"]["coinbase_tx_hex"].as_str() {
        let txid = Hash256(sharecheck::hash::sha256d(&hex::decode(cb).unwrap()));
        assert_eq!(txid.to_display_hex(), s(e, &["coinbase_txid"]), "{n}: coinbase txid");
    }
    // Every kernel path gives the same hashes.
    for p in platforms() {
        let mut scratch = ScryptScratch::new();
        let got = match algo {
            Algorithm::Sha256d => sharecheck::hash::sha256::sha256d_header_with(p.sha256(), &bytes),
            Algorithm::Scrypt => scrypt::scrypt_header_on(p, &bytes, &mut scratch),
        };
        assert_eq!(got, pow.0, "{n}: path {p:?}");
    }
}

#[test]
fn header_sha256d_vectors() {
    for v in vectors("header_sha256d") {
        check_header(&v, Algorithm::Sha256d);
    }
}

#[test]
fn header_scrypt_vectors() {
    for v in vectors("header_scrypt") {
        check_header(&v, Algorithm::Scrypt);
    }
}

#[test]
fn scrypt_pow_vectors() {
    for v in vectors("scrypt_pow") {
        let n = name(&v);
        let input = hex80(s(&v, &["inputs", "input_hex"]));
        let internal = s(&v, &["expected", "pow_hash_internal"]);
        for p in platforms() {
            let got = scrypt::scrypt_header_on(p, &input, &mut ScryptScratch::new());
            assert_eq!(hex::encode(got), internal, "{n}: path {p:?}");
        }
        let got = Hash256(scrypt::scrypt_header(&input));
        assert_eq!(got.to_display_hex(), s(&v, &["expected", "pow_hash_display"]), "{n}");
    }
}

fn check_kdf(v: &serde_json::Value) {
    let n = name(v);
    let i = &v["inputs"];
    let log_n = i["N"].as_u64().unwrap().trailing_zeros() as u8;
    let mut out = vec![0u8; i["dklen"].as_u64().unwrap() as usize];
    scrypt_kdf(
        s(v, &["inputs", "password"]).as_bytes(),
        s(v, &["inputs", "salt"]).as_bytes(),
        log_n,
        i["r"].as_u64().unwrap() as u32,
        i["p"].as_u64().unwrap() as u32,
        &mut out,
    )
    .unwrap();
    assert_eq!(hex::encode(out), s(v, &["expected", "dk_hex"]), "{n}");
}

#[test]
fn scrypt_kdf_rfc7914_vectors_1_to_3() {
    let all = vectors("scrypt_kdf");
    for v in all.iter().filter(|v| v["inputs"]["N"].as_u64().unwrap() <= 16384) {
        check_kdf(v);
    }
}

#[test]
#[ignore = "RFC 7914 vector 4 needs 1 GiB and minutes: cargo test -- --ignored"]
fn scrypt_kdf_rfc7914_vector_4() {
    for v in vectors("scrypt_kdf").iter().filter(|v| v["inputs"]["N"].as_u64().unwrap() > 16384) {
        check_kdf(v);
    }
}

#[test]
fn compact_set_vectors() {
    for v in vectors("compact_set") {
        let n = name(&v);
        let compact = CompactTarget::from_hex(s(&v, &["inputs", "compact"])).unwrap();
        let d = compact.decode();
        let e = &v["expected"];
        assert_eq!(d.negative, e["negative"].as_bool().unwrap(), "{n}: negative");
        assert_eq!(d.overflow, e["overflow"].as_bool().unwrap(), "{n}: overflow");
        if let Some(t) = e["target"].as_str() {
            assert_eq!(d.target.to_display_hex(), t, "{n}: target");
        }
        if let Some(get) = e["get_compact"].as_str() {
            let negative = v["inputs"]["get_compact_negative"].as_bool().unwrap_or(false);
            let back = CompactTarget::from_target(&d.target, negative);
            assert_eq!(back.to_string(), get, "{n}: GetCompact");
        }
    }
}

#[test]
fn compact_get_vectors() {
    for v in vectors("compact_get") {
        let n = name(&v);
        let t = Target::from_display_hex(s(&v, &["inputs", "target"])).unwrap();
        let negative = v["inputs"]["negative"].as_bool().unwrap();
        let got = CompactTarget::from_target(&t, negative);
        assert_eq!(got.to_string(), s(&v, &["expected", "compact"]), "{n}");
    }
}

#[test]
fn merkle_root_vectors() {
    for v in vectors("merkle_root") {
        let n = name(&v);
        let txids: Vec<Hash256> = v["inputs"]["txids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| Hash256::from_display_hex(t.as_str().unwrap()).unwrap())
            .collect();
        let root = merkle::merkle_root(&txids).unwrap();
        assert_eq!(root.to_display_hex(), s(&v, &["expected", "merkle_root"]), "{n}: root");
        let branch: Vec<String> =
            merkle::coinbase_branch(&txids).iter().map(|h| h.to_internal_hex()).collect();
        let expected: Vec<&str> = v["expected"]["coinbase_branch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        assert_eq!(branch, expected, "{n}: coinbase branch");
        // Folding the branch from the coinbase txid gives the root back.
        let raw: Vec<[u8; 32]> = merkle::coinbase_branch(&txids).iter().map(|h| h.0).collect();
        assert_eq!(merkle::fold_branch(&txids[0].0, &raw), root.0, "{n}: fold");
    }
}

#[test]
fn merkle_branch_indexed_vectors() {
    for v in vectors("merkle_branch_indexed") {
        let n = name(&v);
        let leaf = Hash256::from_display_hex(s(&v, &["inputs", "leaf"])).unwrap();
        let branch: Vec<[u8; 32]> = v["inputs"]["branch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| Hash256::from_display_hex(b.as_str().unwrap()).unwrap().0)
            .collect();
        let index = v["inputs"]["index"].as_u64().unwrap() as u32;
        let root = Hash256(merkle::fold_branch_indexed(&leaf.0, &branch, index));
        assert_eq!(root.to_display_hex(), s(&v, &["expected", "root"]), "{n}");
    }
}

#[test]
fn stratum_coinbase_vectors() {
    for v in vectors("stratum_coinbase") {
        let n = name(&v);
        let part = |k: &str| hex::decode(s(&v, &["inputs", k])).unwrap();
        let (c1, e1, e2, c2) =
            (part("coinb1"), part("extranonce1"), part("extranonce2"), part("coinb2"));
        let e = &v["expected"];
        if let Some(cb) = e["coinbase_hex"].as_str() {
            assert_eq!(hex::encode(coinbase::assemble(&c1, &e1, &e2, &c2)), cb, "{n}: coinbase");
        }
        let txid = coinbase::txid(&c1, &e1, &e2, &c2);
        assert_eq!(hex::encode(txid), s(e, &["coinbase_hash_internal"]), "{n}: txid");
        let prefix = coinbase::CoinbasePrefix::new(&c1, &e1);
        assert_eq!(prefix.txid(&e2, &c2), txid, "{n}: midstate txid");
        if let Some(root) = e["merkle_root_internal"].as_str() {
            let branch: Vec<[u8; 32]> = v["inputs"]["merkle_branch"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| hex32(b.as_str().unwrap()))
                .collect();
            assert_eq!(hex::encode(merkle::fold_branch(&txid, &branch)), root, "{n}: root");
        }
    }
}

#[test]
fn stratum_prevhash_vectors() {
    for v in vectors("stratum_prevhash") {
        let n = name(&v);
        let display = Hash256::from_display_hex(s(&v, &["inputs", "prev_block_display"])).unwrap();
        assert_eq!(hex::encode(display.0), s(&v, &["expected", "header_bytes_hex"]), "{n}");
        let stratum = s(&v, &["expected", "stratum_prevhash"]);
        let words = sharecheck::chain::header::prevhash_from_stratum(stratum).unwrap();
        assert_eq!(words, display, "{n}: from stratum");
        assert_eq!(sharecheck::chain::header::prevhash_to_stratum(&display), stratum, "{n}: to");
    }
}

#[test]
fn version_rolling_vectors() {
    for v in vectors("version_rolling") {
        let n = name(&v);
        let word = |k: &str| u32::from_str_radix(s(&v, &["inputs", k]), 16).unwrap();
        let got = sharecheck::chain::header::roll_version(
            word("job_version"),
            word("version_bits"),
            word("mask"),
        );
        assert_eq!(format!("{got:08x}"), s(&v, &["expected", "version"]), "{n}");
    }
}

#[test]
fn difficulty_one_targets_match_notes() {
    for v in vectors("note") {
        let e = &v["expected"];
        if let Some(t) = e["sha256d_diff1_target"].as_str() {
            assert_eq!(Algorithm::Sha256d.diff1_target().to_display_hex(), t, "{}", name(&v));
        }
        if let Some(t) = e["scrypt_pool_diff1_target_nomp"].as_str() {
            assert_eq!(Algorithm::Scrypt.diff1_target().to_display_hex(), t, "{}", name(&v));
        }
    }
}

#[test]
fn network_difficulty_of_diff1_nbits_is_one() {
    // Bitcoin Core's GetDifficulty of the genesis nBits is exactly 1.
    assert_eq!(CompactTarget(0x1d00ffff).network_difficulty(), 1.0);
}

/// Every real scrypt header (Litecoin, Dogecoin, scrypt_tests.cpp) through the batch
/// kernels of every path, in one batch and each padded into a lane group of its own.
#[test]
fn scrypt_vectors_through_every_lane_kernel() {
    use sharecheck::hash::scrypt::{ScryptBatchScratch, scrypt_headers_on};
    let mut headers = Vec::new();
    let mut expected = Vec::new();
    for v in vectors("header_scrypt") {
        headers.push(hex80(s(&v, &["inputs", "header_hex"])));
        expected.push(s(&v, &["expected", "pow_hash"]).to_string());
    }
    for v in vectors("scrypt_pow") {
        headers.push(hex80(s(&v, &["inputs", "input_hex"])));
        expected.push(s(&v, &["expected", "pow_hash_display"]).to_string());
    }
    for p in platforms() {
        let mut scratch = ScryptBatchScratch::new();
        let mut out = vec![[0u8; 32]; headers.len()];
        scrypt_headers_on(p, &headers, &mut out, &mut scratch);
        for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
            assert_eq!(Hash256(*got).to_display_hex(), *want, "vector {i}, path {p:?}");
        }
        for (h, want) in headers.iter().zip(&expected) {
            let pair = [*h, *h];
            let mut out = [[0u8; 32]; 2];
            scrypt_headers_on(p, &pair, &mut out, &mut scratch);
            assert_eq!(Hash256(out[1]).to_display_hex(), *want, "path {p:?}");
        }
    }
}

/// Every real SHA-256d header through the batch kernels of every path.
#[test]
fn sha256d_vectors_through_every_batch_kernel() {
    use sharecheck::hash::sha256::sha256d_headers_with;
    let mut headers = Vec::new();
    let mut expected = Vec::new();
    for v in vectors("header_sha256d") {
        headers.push(hex80(s(&v, &["inputs", "header_hex"])));
        expected.push(s(&v, &["expected", "block_hash"]).to_string());
    }
    // Repeat to fill lane groups of 8.
    let headers: Vec<[u8; 80]> =
        headers.iter().cycle().take(3 * headers.len() + 1).copied().collect();
    for path in Sha256Path::supported() {
        let mut out = vec![[0u8; 32]; headers.len()];
        sha256d_headers_with(path, &headers, &mut out);
        for (i, got) in out.iter().enumerate() {
            assert_eq!(Hash256(*got).to_display_hex(), expected[i % expected.len()], "{path}");
        }
    }
}

/// Coin presets: each powLimit is the chain's own (the compact_get vectors take them from
/// bitcoin's and litecoin's chainparams.cpp; Dogecoin shares Litecoin's), and each
/// algorithm hashes the chain's real headers, with a caller-owned scratchpad too.
#[test]
fn coin_presets_match_their_chains() {
    use sharecheck::Coin;
    let limits: Vec<serde_json::Value> =
        vectors("compact_get").into_iter().filter(|v| name(v).contains("powLimit")).collect();
    let limit_of = |part: &str| {
        let v = limits.iter().find(|v| name(v).contains(part)).unwrap();
        Target::from_display_hex(s(v, &["inputs", "target"])).unwrap()
    };
    assert_eq!(Coin::BITCOIN.pow_limit, limit_of("bitcoin powLimit"));
    assert_eq!(Coin::LITECOIN.pow_limit, limit_of("litecoin/dogecoin"));
    assert_eq!(Coin::DOGECOIN.pow_limit, limit_of("litecoin/dogecoin"));
    assert_eq!(Coin::by_name("Dogecoin"), Some(Coin::DOGECOIN));
    assert_eq!(Coin::by_name("monero"), None);
    let mut scratch = ScryptScratch::new();
    for (coin, kind, part) in [
        (Coin::BITCOIN, "header_sha256d", "bitcoin"),
        (Coin::LITECOIN, "header_scrypt", "litecoin mainnet block"),
        (Coin::DOGECOIN, "header_scrypt", "dogecoin"),
    ] {
        for v in vectors(kind).iter().filter(|v| name(v).contains(part)) {
            let header = hex80(s(v, &["inputs", "header_hex"]));
            let pow = coin.algorithm.pow_hash_with_scratch(&header, &mut scratch);
            assert_eq!(pow, coin.algorithm.pow_hash(&header), "{}", name(v));
            // A real block's PoW meets its nBits, which never exceeds the chain's powLimit.
            let target = BlockHeader::from_bytes(&header).bits.to_pow_target().unwrap();
            assert!(target <= coin.pow_limit && target.is_met_by(&pow), "{}", name(v));
        }
    }
}
