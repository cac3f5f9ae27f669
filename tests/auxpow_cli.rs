//! `sharecheck auxpow verify|commit` as operators and explorers run it, on the real-chain
//! vectors: JSON fields, exit status (0 valid, 1 not, 2 bad input).

mod common;

use common::{s, vectors};
use serde_json::Value;
use std::process::{Command, Output};

fn sharecheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sharecheck")).args(args).output().expect("binary runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn verify_reads_the_first_auxpow_block_of_dogecoin() {
    let v = &vectors("auxpow_block")[0];
    let e = &v["expected"];
    let block = s(v, &["inputs", "block_hex"]);
    let out = sharecheck(&[
        "auxpow",
        "verify",
        "--parent-algo",
        "scrypt",
        "--chain-id",
        "98",
        block,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    assert_eq!(r["valid"], true);
    assert_eq!(r["reason"], Value::Null);
    assert_eq!(r["pow_valid"], true);
    assert_eq!(r["aux_block_hash"], e["block_hash"]);
    assert_eq!(r["parent_block_hash"], e["parent_block_hash"]);
    assert_eq!(r["parent_pow_hash"], e["parent_pow_hash"]);
    assert_eq!(r["coinbase_txid"], e["coinbase_txid"]);
    assert_eq!(r["chain_index"], e["chain_index"]);
    // Text by default.
    let out =
        sharecheck(&["auxpow", "verify", "--parent-algo", "scrypt", "--chain-id", "98", block]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("valid             yes"));
}

#[test]
fn verify_gives_the_reason_and_the_pow_of_standalone_auxpows() {
    for v in vectors("auxpow_standalone") {
        let i = &v["inputs"];
        let args = [
            "auxpow",
            "verify",
            "--parent-algo",
            "scrypt",
            "--chain-id",
            &i["chain_id"].to_string(),
            "--aux-hash",
            s(&v, &["inputs", "aux_block_hash"]),
            "--bits",
            s(&v, &["inputs", "aux_bits"]),
            "--auxpow",
            s(&v, &["inputs", "auxpow_hex"]),
            "--json",
        ];
        let out = sharecheck(&args);
        let r = json(&out);
        let e = &v["expected"];
        let ok = e["check_ok"].as_bool().unwrap();
        assert_eq!(r["valid"], ok, "{}", common::name(&v));
        if !ok {
            // Dogecoin's message in the vector, the code here.
            let code = match e["reason"].as_str().unwrap() {
                "AuxPow is not a generate" => "not_generate",
                "Aux POW parent has our chain ID" => "parent_has_our_chain_id",
                "Aux POW chain merkle branch too long" => "chain_branch_too_long",
                "Aux POW merkle root incorrect" => "coinbase_not_in_parent",
                "Multiple merged mining headers in coinbase" => "multiple_mm_headers",
                "Merged mining header is not just before chain merkle root" => {
                    "mm_header_not_before_root"
                }
                "Aux POW missing chain merkle root in parent coinbase" => "missing_chain_root",
                "Aux POW chain merkle root must start in the first 20 bytes of the parent coinbase" => {
                    "root_not_in_first_20_bytes"
                }
                "Aux POW missing chain merkle tree size and nonce in parent coinbase" => {
                    "missing_size_nonce"
                }
                "Aux POW merkle branch size does not match parent coinbase" => {
                    "branch_size_mismatch"
                }
                "Aux POW wrong index" => "wrong_index",
                other => panic!("unknown reason {other}"),
            };
            assert_eq!(r["reason"], code, "{}", common::name(&v));
        }
        if let Some(pow) = e.get("parent_pow_valid") {
            assert_eq!(&r["pow_valid"], pow, "{}", common::name(&v));
        }
        let expected_status = if ok && r["pow_valid"] == true { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected_status), "{}", common::name(&v));
    }
}

#[test]
fn commit_builds_a_commitment_that_carries_each_chain() {
    let hash = "0c836b86991631d34a8a68054e2f62db919b39d1ee43c27ab3344d6aa82fa609";
    let out = sharecheck(&["auxpow", "commit", "--chain", &format!("98:{hash}"), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let r = json(&out);
    // One chain: the root is the aux block hash itself, after the merged-mining magic,
    // then size 1 and nonce 0, little-endian.
    assert_eq!(r["root"], hash);
    assert_eq!(r["script_hex"], format!("fabe6d6d{hash}0100000000000000"));
    assert_eq!((r["merkle_size"].as_u64(), r["merkle_nonce"].as_u64()), (Some(1), Some(0)));
    assert_eq!(r["chains"][0], serde_json::json!({"chain_id": 98, "index": 0, "branch": []}));
    let out = sharecheck(&[
        "auxpow",
        "commit",
        "--chain",
        &format!("98:{hash}"),
        "--chain",
        &format!("1:{}", "11".repeat(32)),
        "--json",
    ]);
    let r = json(&out);
    assert_eq!(r["chains"].as_array().unwrap().len(), 2);
    assert_ne!(r["chains"][0]["index"], r["chains"][1]["index"]);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        vec!["auxpow", "verify", "--parent-algo", "scrypt", "--chain-id", "98", "zz"],
        vec!["auxpow", "verify", "--parent-algo", "x11", "--chain-id", "98", "00"],
        vec!["auxpow", "verify", "--parent-algo", "scrypt", "--chain-id", "98", "00112233"],
        vec![
            "auxpow",
            "verify",
            "--parent-algo",
            "scrypt",
            "--chain-id",
            "98",
            "--aux-hash",
            "00",
            "--bits",
            "1b06f8f0",
            "--auxpow",
            "00",
        ],
        vec!["auxpow", "commit", "--chain", "98"],
        vec!["auxpow", "commit", "--chain", "x:00"],
        vec!["auxpow", "commit", "--chain", "98:00", "--chain", "98:00"],
        vec!["auxpow", "commit"],
    ] {
        let out = sharecheck(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    // A sign is not a hex digit, though Rust's integer parser takes it.
    let v = &vectors("auxpow_standalone")[0];
    let args = [
        "auxpow",
        "verify",
        "--parent-algo",
        "scrypt",
        "--chain-id",
        "98",
        "--aux-hash",
        s(v, &["inputs", "aux_block_hash"]),
        "--bits",
        "+1b06f8f",
        "--auxpow",
        s(v, &["inputs", "auxpow_hex"]),
    ];
    let out = sharecheck(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bits"));
}
