//! Shared test helpers: the real-chain vectors copied from shared/vectors.
#![allow(dead_code)]

use serde_json::Value;

/// All vectors of one kind, with their names.
pub fn vectors(kind: &str) -> Vec<Value> {
    let text = include_str!("../data/vectors.json");
    let all: Vec<Value> = serde_json::from_str(text).expect("tests/data/vectors.json parses");
    let of_kind: Vec<Value> = all.into_iter().filter(|v| v["kind"] == kind).collect();
    assert!(!of_kind.is_empty(), "no vectors of kind {kind}");
    of_kind
}

pub fn name(v: &Value) -> String {
    v["name"].as_str().unwrap_or("?").to_string()
}

pub fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_else(|| panic!("{}: {:?} is not a string", name(v), path))
}

pub fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

pub fn hex80(s: &str) -> [u8; 80] {
    hex::decode(s).unwrap().try_into().unwrap()
}

pub fn reversed(mut b: [u8; 32]) -> [u8; 32] {
    b.reverse();
    b
}
