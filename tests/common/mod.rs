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

/// An independent share builder for tests (sha2 + num-bigint, not the crate): assembles
/// the header the DESIGN.md way and mines nonces into a chosen hash band.
pub mod miner {
    use num_bigint::BigUint;
    use sha2::Digest;

    pub fn sha256d(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(sha2::Sha256::digest(data)).into()
    }

    /// diff1 (SHA-256d) / difficulty for difficulty = 2^-log2_easier.
    pub fn target_for_easier_difficulty(log2_easier: u32) -> BigUint {
        (BigUint::from(0xffffu32) << 208usize) << log2_easier as usize
    }

    #[derive(Clone)]
    pub struct TestJob {
        pub id: String,
        pub prevhash_stratum: String,
        pub coinb1: String,
        pub coinb2: String,
        pub branch: Vec<String>,
        pub version: u32,
        pub nbits: u32,
        pub ntime: u32,
    }

    impl TestJob {
        pub fn new(id: &str) -> TestJob {
            TestJob {
                id: id.into(),
                prevhash_stratum: "171592f223740e92d223f6e68bff25279af7ac4f2246451e0000000200000000".into(),
                coinb1: "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1903c943255c7075626c69632d706f6f6c5c".into(),
                coinb2: "ffffffff037a90000000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc00000000".into(),
                branch: vec![
                    "175335649d5e8746982969ec88f52e85ac9917106fba5468e699c8879ab974a1".into(),
                    "d5644ab3e708c54cd68dc5aedc92b8d3037449687f92ec41ed6e37673d969d4a".into(),
                ],
                version: 0x2000_0000,
                nbits: 0x1924_95f8,
                ntime: 0x64b3_f3ec,
            }
        }

        pub fn notify(&self, clean: bool) -> String {
            serde_json::json!({"id": null, "method": "mining.notify", "params": [
                self.id, self.prevhash_stratum, self.coinb1, self.coinb2, self.branch,
                format!("{:08x}", self.version), format!("{:08x}", self.nbits),
                format!("{:08x}", self.ntime), clean]})
            .to_string()
        }

        pub fn header(
            &self,
            en1: &str,
            en2: &str,
            ntime: u32,
            nonce: u32,
            version: u32,
        ) -> [u8; 80] {
            let coinbase =
                hex::decode(format!("{}{}{}{}", self.coinb1, en1, en2, self.coinb2)).unwrap();
            let mut root = sha256d(&coinbase);
            for b in &self.branch {
                let mut m = root.to_vec();
                m.extend(hex::decode(b).unwrap());
                root = sha256d(&m);
            }
            let mut prev = hex::decode(&self.prevhash_stratum).unwrap();
            for w in prev.chunks_mut(4) {
                w.reverse();
            }
            let mut h = Vec::with_capacity(80);
            h.extend(version.to_le_bytes());
            h.extend(prev);
            h.extend(root);
            h.extend(ntime.to_le_bytes());
            h.extend(self.nbits.to_le_bytes());
            h.extend(nonce.to_le_bytes());
            h.try_into().unwrap()
        }

        /// First nonce whose sha256d (little-endian integer) is in (above, at_most].
        pub fn mine(
            &self,
            en1: &str,
            en2: &str,
            ntime: u32,
            version: u32,
            above: &BigUint,
            at_most: &BigUint,
        ) -> u32 {
            (0u32..)
                .find(|&n| {
                    let v =
                        BigUint::from_bytes_le(&sha256d(&self.header(en1, en2, ntime, n, version)));
                    &v > above && &v <= at_most
                })
                .unwrap()
        }
    }
}

/// Runs the built `sharecheck` with `args` and `stdin`, and returns what it left and how
/// long it took. A run past `limit` is killed and the test fails: a test stops by itself
/// whatever the binary does.
pub fn run_sharecheck_within(
    args: &[&str],
    stdin: Vec<u8>,
    limit: std::time::Duration,
) -> (std::process::Output, std::time::Duration) {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sharecheck"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().expect("piped stdin");
    // A write error only means the binary stopped reading (it exited, or was killed).
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sharecheck {args:?} still running after {limit:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    writer.join().expect("stdin writer");
    let output = std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    (output, elapsed)
}
