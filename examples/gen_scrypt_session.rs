//! Generates `examples/sessions/litecoin-scrypt.jsonl`: a Litecoin-style stratum session
//! (scrypt, pool difficulty 0.001) whose shares are really mined here, with one submit of
//! every kind a proxy must answer: valid shares, a block, and every reject reason.
//!
//! Each submit is followed by the answer a correct pool gives — what the share was built
//! to be — so `sharecheck replay --compare` checks the validator against the construction.
//!
//!     cargo run --release --example gen_scrypt_session > examples/sessions/litecoin-scrypt.jsonl
//!
//! Deterministic: nonces are searched upward from fixed starting points.

use serde_json::{Value, json};
use sharecheck::chain::header::prevhash_to_stratum;
use sharecheck::chain::{coinbase, merkle};
use sharecheck::{Algorithm, BlockHeader, CompactTarget, Hash256, Target};

const EXTRANONCE1: &str = "f8002c90";
const JOB_NTIME: u32 = 1_700_000_000;
const NBITS: u32 = 0x1f0f_ffff; // network target ≈ 2^244: about one share in 64 is a block
const WORKER: &str = "ltc1qk0x3fdaytd7t0xdpfmvcxyrsm2ts8kmzf7e9dv.l7-rack3";

struct Job {
    id: &'static str,
    prevhash: Hash256,
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
    branch: Vec<[u8; 32]>,
    version: u32,
}

impl Job {
    fn new(id: &'static str, height: u32) -> Job {
        // A segwit-era Litecoin coinbase: BIP 34 height, pool tag, the extranonces, one
        // P2WPKH payout and the witness commitment output.
        let mut coinb1 = hex::decode(
            "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff",
        )
        .unwrap();
        let tag = b"/sharecheck-demo/";
        let script_len = 4 + tag.len() + 8; // height push, tag, extranonce1 + extranonce2
        coinb1.push(script_len as u8);
        coinb1.push(0x03);
        coinb1.extend_from_slice(&height.to_le_bytes()[..3]);
        coinb1.extend_from_slice(tag);
        let coinb2 = hex::decode(concat!(
            "ffffffff02",
            "00f2052a01000000160014b3cd14b7a45b7cb79a1d4ed8c310e1b6a9707b61",
            "0000000000000000266a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9",
            "00000000"
        ))
        .unwrap();
        // Litecoin block 900000's prevhash and coinbase branch (tests/data/vectors.json).
        let prevhash = Hash256::from_display_hex(
            "93819e801bbdaec2698e3dda35e12be0a0004759c635924fda7f007a358848be",
        )
        .unwrap();
        let branch = [
            "30e26b488d7b2893f53113729b9e9749d64328be47aff63e418c968e38273bea",
            "cec0bea19276a048a45153dfe7e3529791688cb893317538d0882f077ef761be",
            "4384e4b8f58458e672bee7f88f8a4b23ce41f4075371e5acc2d4c749c2140112",
        ]
        .iter()
        .map(|h| Hash256::from_internal_hex(h).unwrap().0)
        .collect();
        Job { id, prevhash, coinb1, coinb2, branch, version: 0x2000_0000 }
    }

    fn notify(&self, clean: bool) -> Value {
        json!({"id": null, "method": "mining.notify", "params": [
            self.id,
            prevhash_to_stratum(&self.prevhash),
            hex::encode(&self.coinb1),
            hex::encode(&self.coinb2),
            self.branch.iter().map(hex::encode).collect::<Vec<_>>(),
            format!("{:08x}", self.version),
            format!("{NBITS:08x}"),
            format!("{JOB_NTIME:08x}"),
            clean,
        ]})
    }

    fn header(&self, en2: u32, ntime: u32, nonce: u32) -> [u8; 80] {
        let en1 = hex::decode(EXTRANONCE1).unwrap();
        let txid = coinbase::txid(&self.coinb1, &en1, &en2.to_be_bytes(), &self.coinb2);
        BlockHeader {
            version: self.version,
            prev_blockhash: self.prevhash,
            merkle_root: Hash256(merkle::fold_branch(&txid, &self.branch)),
            time: ntime,
            bits: CompactTarget(NBITS),
            nonce,
        }
        .to_bytes()
    }

    /// Searches nonces upward from `start` for a PoW hash inside `(above, at_most]`.
    fn mine(&self, en2: u32, ntime: u32, start: u32, above: Target, at_most: Target) -> u32 {
        (start..)
            .find(|&nonce| {
                let pow = Target::from_le_bytes(
                    &Algorithm::Scrypt.pow_hash(&self.header(en2, ntime, nonce)),
                );
                pow > above && pow <= at_most
            })
            .expect("a nonce exists")
    }
}

struct Transcript {
    lines: Vec<String>,
    next_id: u64,
}

impl Transcript {
    fn comment(&mut self, text: &str) {
        self.lines.push(format!("# {text}"));
    }
    fn push(&mut self, v: Value) {
        self.lines.push(v.to_string());
    }
    /// A submit and the answer a correct pool gives it (`None` = accepted).
    fn submit(&mut self, params: Value, rejected: Option<(i32, &str)>) {
        let id = self.next_id;
        self.next_id += 1;
        self.push(json!({"id": id, "method": "mining.submit", "params": params}));
        match rejected {
            None => self.push(json!({"id": id, "result": true, "error": null})),
            Some((code, msg)) => {
                self.push(json!({"id": id, "result": null, "error": [code, msg, null]}))
            }
        }
    }
}

fn share(job: &Job, en2: u32, ntime: u32, nonce: u32) -> Value {
    json!([WORKER, job.id, format!("{en2:08x}"), format!("{ntime:08x}"), format!("{nonce:08x}")])
}

fn main() {
    let target = |d: f64| Algorithm::Scrypt.target_for_difficulty(d).unwrap();
    let network = CompactTarget(NBITS).to_pow_target().unwrap();
    let (d1, d2, d_half) = (0.001, 0.002, 0.0005);
    let mut t = Transcript { lines: Vec::new(), next_id: 10 };
    let job1 = Job::new("6a1", 2_650_001);
    let job2 = Job::new("6a2", 2_650_001);
    let job3 = Job::new("6a3", 2_650_002);
    let any_share = |job: &Job, en2, ntime, start| job.mine(en2, ntime, start, network, target(d1));

    t.comment("Litecoin-style scrypt session generated by examples/gen_scrypt_session.rs");
    t.comment("(pool difficulty 0.001, nbits 1f0fffff). Each submit is followed by the");
    t.comment("answer a correct pool gives it. Regenerate: see the example's header.");
    t.comment("A share before subscribe: not_subscribed.");
    t.submit(share(&job1, 1, JOB_NTIME, 0), Some((25, "Not subscribed")));
    t.push(json!({"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}));
    t.push(json!({"id": 1, "result": [[["mining.set_difficulty", "1"], ["mining.notify", "1"]], EXTRANONCE1, 4], "error": null}));
    t.push(json!({"id": 2, "method": "mining.authorize", "params": [WORKER, "x"]}));
    t.push(json!({"id": 2, "result": true, "error": null}));
    t.push(json!({"id": null, "method": "mining.set_difficulty", "params": [d1]}));
    t.push(job1.notify(true));

    t.comment("Valid shares, extranonce2 rolling.");
    for en2 in 1..=24u32 {
        let nonce = any_share(&job1, en2, JOB_NTIME + en2, 0);
        t.submit(share(&job1, en2, JOB_NTIME + en2, nonce), None);
    }
    t.comment("ntime exactly at both window edges: accepted; one second outside: bad_ntime.");
    let n = any_share(&job1, 100, JOB_NTIME, 0);
    t.submit(share(&job1, 100, JOB_NTIME, n), None);
    let n = any_share(&job1, 101, JOB_NTIME + 7000, 0);
    t.submit(share(&job1, 101, JOB_NTIME + 7000, n), None);
    t.submit(share(&job1, 102, JOB_NTIME - 1, 7), Some((20, "ntime out of range")));
    t.submit(share(&job1, 103, JOB_NTIME + 7001, 7), Some((20, "ntime out of range")));

    t.comment("A duplicate re-sent with upper-case hex.");
    let n = any_share(&job1, 200, JOB_NTIME + 5, 0);
    t.submit(share(&job1, 200, JOB_NTIME + 5, n), None);
    let upper =
        json!([WORKER, job1.id, "000000C8", format!("{:08X}", JOB_NTIME + 5), format!("{n:08X}")]);
    t.submit(upper, Some((22, "Duplicate share")));

    t.comment("A share that misses the pool target: low_difficulty.");
    let n = job1.mine(201, JOB_NTIME + 6, 0, target(d1), Target::MAX);
    t.submit(share(&job1, 201, JOB_NTIME + 6, n), Some((23, "Low difficulty share")));

    t.comment("A block solution (meets nbits).");
    let n = job1.mine(202, JOB_NTIME + 7, 0, Target::ZERO, network);
    t.submit(share(&job1, 202, JOB_NTIME + 7, n), None);

    t.comment("Sizes: extranonce2 one byte short and one long; nonce not 8 digits.");
    let sizes = [
        ("0000d3", "00000001", "Incorrect size of extranonce2"),
        ("00000000d4", "00000001", "Incorrect size of extranonce2"),
        ("000000d5", "000001", "Incorrect size of nonce"),
        ("000000d6", "0000000001", "Incorrect size of nonce"),
    ];
    for (en2, nonce, message) in sizes {
        t.submit(
            json!([WORKER, job1.id, en2, format!("{JOB_NTIME:08x}"), nonce]),
            Some((20, message)),
        );
    }

    t.comment("Version bits although rolling was never negotiated; zero bits are harmless.");
    let n = any_share(&job1, 220, JOB_NTIME + 9, 0);
    t.submit(
        json!([
            WORKER,
            job1.id,
            "000000dc",
            format!("{:08x}", JOB_NTIME + 9),
            format!("{n:08x}"),
            "00002000"
        ]),
        Some((20, "Invalid version bits")),
    );
    t.submit(
        json!([
            WORKER,
            job1.id,
            "000000dc",
            format!("{:08x}", JOB_NTIME + 9),
            format!("{n:08x}"),
            "00000000"
        ]),
        None,
    );

    t.comment("Malformed: non-hex extranonce2, odd-length ntime, four params, a number as nonce.");
    t.submit(
        json!([WORKER, job1.id, "zz0000e6", format!("{JOB_NTIME:08x}"), "00000001"]),
        Some((20, "Malformed submit")),
    );
    t.submit(
        json!([WORKER, job1.id, "000000e7", "6553f10", "00000001"]),
        Some((20, "Malformed submit")),
    );
    t.submit(
        json!([WORKER, job1.id, "000000e8", format!("{JOB_NTIME:08x}")]),
        Some((20, "Malformed submit")),
    );
    t.submit(
        json!([WORKER, job1.id, "000000e9", format!("{JOB_NTIME:08x}"), 1]),
        Some((20, "Malformed submit")),
    );

    t.comment("Unknown job.");
    t.submit(
        json!([WORKER, "ffff", "000000f0", format!("{JOB_NTIME:08x}"), "00000001"]),
        Some((21, "Job not found")),
    );

    t.comment("Difficulty raised to 0.002: a share of job 6a1 (notified at 0.001) that meets");
    t.comment("0.001 but not 0.002 is accepted: the easier of the two applies.");
    t.push(json!({"id": null, "method": "mining.set_difficulty", "params": [d2]}));
    let n = job1.mine(300, JOB_NTIME + 10, 0, target(d2), target(d1));
    t.submit(share(&job1, 300, JOB_NTIME + 10, n), None);
    t.comment("Job 6a2 is notified at 0.002: the same kind of share is low_difficulty there.");
    t.push(job2.notify(false));
    let n = job2.mine(301, JOB_NTIME + 10, 0, target(d2).max(network), target(d1));
    t.submit(share(&job2, 301, JOB_NTIME + 10, n), Some((23, "Low difficulty share")));
    t.comment("Difficulty lowered to 0.0005: now the easier one, for every job.");
    t.push(json!({"id": null, "method": "mining.set_difficulty", "params": [d_half]}));
    let n = job2.mine(302, JOB_NTIME + 11, 0, target(d1).max(network), target(d_half));
    t.submit(share(&job2, 302, JOB_NTIME + 11, n), None);

    t.comment("clean_jobs: 6a1 and 6a2 become stale.");
    t.push(job3.notify(true));
    let n = any_share(&job1, 400, JOB_NTIME + 12, 0);
    t.submit(share(&job1, 400, JOB_NTIME + 12, n), Some((21, "Stale job")));
    for en2 in 401..=408u32 {
        let nonce = job3.mine(en2, JOB_NTIME + 20, 0, network, target(d_half));
        t.submit(share(&job3, en2, JOB_NTIME + 20, nonce), None);
    }
    for line in t.lines {
        println!("{line}");
    }
}
