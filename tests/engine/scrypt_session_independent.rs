//! The bundled Litecoin-style scrypt session (`examples/sessions/litecoin-scrypt.jsonl`)
//! checked against an independent share builder.
//!
//! The session was written by `examples/gen_scrypt_session.rs` with the crate's own
//! coinbase, merkle, prevhash, difficulty and scrypt code, so agreeing with the answers it
//! recorded proves little. Here the stratum messages are replayed by this file alone: the
//! subscribe result, version-rolling negotiation, difficulty changes and jobs are tracked
//! the DESIGN.md way, and every well-formed submit on a live job is rebuilt (coinbase,
//! merkle root, header) with `sha2`, hashed with the `scrypt` crate, and judged with
//! `num-bigint`/`num-rational` targets. Then `sharecheck replay` must print the same PoW
//! hash and the same verdict for each of them.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use crate::common::miner::{
    build_header, merkle_root, nbits_target, scrypt_pool_diff1, scrypt_pow, share_target,
};
use num_bigint::BigUint;
use serde_json::Value;

const SESSION: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sessions/litecoin-scrypt.jsonl");

/// DESIGN.md: a share's ntime may run this many seconds ahead of its job's (the default).
const NTIME_WINDOW: u32 = 7000;

/// What a correct validator answers to a share that could be hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Block,
    Accepted,
    Duplicate,
    LowDifficulty,
}

/// One submit this file rebuilt and judged.
#[derive(Debug)]
struct Verified {
    /// PoW hash, display order (byte-reversed internal), hex.
    hash: String,
    expected: Expected,
}

struct Job {
    prevhash: String,
    coinb1: String,
    coinb2: String,
    branch: Vec<String>,
    version: u32,
    nbits: u32,
    ntime: u32,
    /// The difficulty in force when the job was notified.
    difficulty_at_notify: Option<f64>,
    /// Invalidated by a later `clean_jobs = true` notify.
    stale: bool,
    /// PoW hashes of the shares that passed the difficulty check.
    seen: HashSet<[u8; 32]>,
}

enum Pending {
    Subscribe,
    Configure,
}

/// One miner connection as this file understands it.
#[derive(Default)]
struct Connection {
    extranonce: Option<(Vec<u8>, usize)>,
    /// The negotiated version-rolling mask (`None`: rolling never negotiated).
    version_mask: Option<u32>,
    difficulty: Option<f64>,
    jobs: HashMap<String, Job>,
    pending: HashMap<String, Pending>,
}

/// A string of hex digits (even count) as bytes.
fn hex_bytes(v: &Value) -> Option<Vec<u8>> {
    hex::decode(v.as_str()?).ok()
}

/// Exactly 8 hex digits, read as a big-endian u32 (how stratum sends ntime, nonce,
/// version, nbits and version bits).
fn be_u32(v: &Value) -> Option<u32> {
    let s = v.as_str()?;
    if s.len() != 8 {
        return None;
    }
    let bytes: [u8; 4] = hex::decode(s).ok()?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

impl Connection {
    fn call(&mut self, id: &Value, method: &str, params: &Value) {
        match method {
            "mining.subscribe" => {
                self.pending.insert(id.to_string(), Pending::Subscribe);
            }
            "mining.configure" => {
                self.pending.insert(id.to_string(), Pending::Configure);
            }
            "mining.set_difficulty" => {
                self.difficulty = Some(params[0].as_f64().expect("set_difficulty number"));
            }
            "mining.set_version_mask" => {
                self.version_mask = Some(be_u32(&params[0]).expect("set_version_mask hex"));
            }
            "mining.set_extranonce" => {
                let en1 = hex_bytes(&params[0]).expect("set_extranonce extranonce1");
                let size = params[1].as_u64().expect("set_extranonce size") as usize;
                self.extranonce = Some((en1, size));
            }
            "mining.notify" => {
                let p = params.as_array().expect("notify params");
                let text = |i: usize| p[i].as_str().expect("notify string").to_string();
                if p[8].as_bool().expect("clean_jobs") {
                    for job in self.jobs.values_mut() {
                        job.stale = true;
                        job.seen.clear();
                    }
                }
                let job = Job {
                    prevhash: text(1),
                    coinb1: text(2),
                    coinb2: text(3),
                    branch: p[4]
                        .as_array()
                        .expect("branch")
                        .iter()
                        .map(|b| b.as_str().unwrap().to_string())
                        .collect(),
                    version: be_u32(&p[5]).expect("version"),
                    nbits: be_u32(&p[6]).expect("nbits"),
                    ntime: be_u32(&p[7]).expect("ntime"),
                    difficulty_at_notify: self.difficulty,
                    stale: false,
                    seen: HashSet::new(),
                };
                self.jobs.insert(text(0), job);
            }
            _ => {}
        }
    }

    fn response(&mut self, id: &Value, result: &Value, error: &Value) {
        let pending = self.pending.remove(&id.to_string());
        if !error.is_null() || result.is_null() {
            return;
        }
        match pending {
            // [[subscriptions...], extranonce1, extranonce2_size]
            Some(Pending::Subscribe) => {
                let en1 = hex_bytes(&result[1]).expect("subscribe extranonce1");
                let size = result[2].as_u64().expect("subscribe extranonce2 size") as usize;
                self.extranonce = Some((en1, size));
            }
            // BIP 310: {"version-rolling": bool, "version-rolling.mask": "hex"}
            Some(Pending::Configure) => {
                self.version_mask = if result["version-rolling"] == Value::Bool(true) {
                    Some(be_u32(&result["version-rolling.mask"]).expect("mask"))
                } else {
                    None
                };
            }
            None => {}
        }
    }

    /// Rebuilds and judges a submit if it is well-formed, from a subscribed miner, on a
    /// live job, with sizes, version bits and ntime all right; `None` otherwise (those
    /// are rejected for other reasons, which this file does not judge).
    fn submit(&mut self, params: &Value) -> Option<Verified> {
        let p = params.as_array()?;
        if !(5..=6).contains(&p.len()) || !p.iter().all(Value::is_string) {
            return None;
        }
        let en2 = hex_bytes(&p[2])?;
        let (ntime, nonce) = (be_u32(&p[3]), be_u32(&p[4]));
        let version_bits = match p.get(5) {
            None => None,
            Some(v) => Some(be_u32(v)?),
        };
        let (en1, en2_size) = self.extranonce.clone()?;
        let job = self.jobs.get_mut(p[1].as_str()?)?;
        if job.stale || en2.len() != en2_size {
            return None;
        }
        let (ntime, nonce) = (ntime?, nonce?);
        let version = match (version_bits, self.version_mask) {
            (None, _) | (Some(0), None) => job.version,
            (Some(bits), Some(mask)) if bits & !mask == 0 => (job.version & !mask) | (bits & mask),
            _ => return None,
        };
        if ntime < job.ntime || u64::from(ntime) > u64::from(job.ntime) + u64::from(NTIME_WINDOW) {
            return None;
        }

        let coinbase =
            [hex::decode(&job.coinb1).unwrap(), en1, en2, hex::decode(&job.coinb2).unwrap()]
                .concat();
        let root = merkle_root(&coinbase, &job.branch);
        let header = build_header(version, &job.prevhash, &root, ntime, job.nbits, nonce);
        let pow = scrypt_pow(&header);
        let value = BigUint::from_bytes_le(&pow);

        // The easier (larger) of the targets at notify and now.
        let diff1 = scrypt_pool_diff1();
        let now = self.difficulty?;
        let at_notify = job.difficulty_at_notify?;
        let share = share_target(&diff1, now).max(share_target(&diff1, at_notify));
        let is_block = nbits_target(job.nbits).is_some_and(|network| value <= network);
        let expected = if is_block || value <= share {
            if job.seen.insert(pow) {
                if is_block { Expected::Block } else { Expected::Accepted }
            } else {
                Expected::Duplicate
            }
        } else {
            Expected::LowDifficulty
        };
        let mut display = pow;
        display.reverse();
        Some(Verified { hash: hex::encode(display), expected })
    }
}

/// The submits of the session this file could rebuild, by 1-based line number.
fn independent_verdicts(text: &str) -> HashMap<usize, Verified> {
    let mut conn = Connection::default();
    let mut verified = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let msg: Value = serde_json::from_str(trimmed).expect("session lines are JSON");
        let id = &msg["id"];
        match msg["method"].as_str() {
            Some("mining.submit") => {
                if let Some(v) = conn.submit(&msg["params"]) {
                    verified.insert(line_no, v);
                }
            }
            Some(method) => conn.call(id, method, &msg["params"]),
            None => conn.response(id, &msg["result"], &msg["error"]),
        }
    }
    verified
}

#[test]
fn bundled_scrypt_session_agrees_with_an_independent_share_builder() {
    let text = std::fs::read_to_string(SESSION).unwrap();
    let verified = independent_verdicts(&text);

    let out = Command::new(env!("CARGO_BIN_EXE_sharecheck"))
        .args(["replay", "--algo", "scrypt", SESSION])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect();
    let by_line: HashMap<usize, &Value> =
        records.iter().map(|r| (r["line"].as_u64().unwrap() as usize, r)).collect();
    assert_eq!(by_line.len(), records.len(), "one record per line");

    // Each share rebuilt here: same PoW hash, same verdict.
    let mut lines: Vec<&usize> = verified.keys().collect();
    lines.sort();
    for line in lines {
        let v = &verified[line];
        let r = by_line.get(line).unwrap_or_else(|| panic!("no verdict for line {line}"));
        assert_eq!(r["hash"].as_str(), Some(v.hash.as_str()), "PoW hash of line {line}");
        let (result, reason) = match v.expected {
            Expected::Block => ("block", None),
            Expected::Accepted => ("accepted", None),
            Expected::Duplicate => ("rejected", Some("duplicate")),
            Expected::LowDifficulty => ("rejected", Some("low_difficulty")),
        };
        assert_eq!(r["result"], result, "line {line}: {r}");
        assert_eq!(r["reason"].as_str(), reason, "line {line}: {r}");
    }

    // Every verdict that rests on the hash was rebuilt here: nothing was accepted,
    // flagged as a block, or judged by its difficulty that this file could not check.
    let hash_verdicts: Vec<usize> = records
        .iter()
        .filter(|r| {
            matches!(r["result"].as_str(), Some("accepted" | "block"))
                || matches!(r["reason"].as_str(), Some("low_difficulty" | "duplicate"))
        })
        .map(|r| r["line"].as_u64().unwrap() as usize)
        .collect();
    for line in &hash_verdicts {
        assert!(verified.contains_key(line), "line {line} was judged on a hash not rebuilt here");
    }
    assert!(verified.len() >= hash_verdicts.len());
    // The session is built to hold every kind: many valid shares, a block, a duplicate,
    // low-difficulty shares (one only under the easier-of-two-difficulties rule).
    let count = |e: Expected| verified.values().filter(|v| v.expected == e).count();
    assert!(verified.len() >= 40, "only {} submits rebuilt", verified.len());
    assert!(count(Expected::Accepted) >= 30, "{}", count(Expected::Accepted));
    assert!(count(Expected::Block) >= 1);
    assert!(count(Expected::Duplicate) >= 1);
    assert!(count(Expected::LowDifficulty) >= 2);
}
