//! Shared test helpers: the real-chain vectors copied from shared/vectors.
#![allow(dead_code)]

use serde_json::Value;

#[cfg(feature = "server")]
pub mod proxy;

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

/// An independent share builder for tests (sha2, scrypt, num-bigint and num-rational, not
/// the crate): assembles the header the DESIGN.md way, hashes it, computes targets, and
/// mines nonces into a chosen hash band.
pub mod miner {
    use num_bigint::BigUint;
    use sha2::Digest;

    pub fn sha256d(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(sha2::Sha256::digest(data)).into()
    }

    /// Litecoin's PoW hash through the `scrypt` crate: scrypt(N = 1024, r = 1, p = 1) of
    /// the 80-byte header salted with itself, 32 bytes, internal order.
    pub fn scrypt_pow(header: &[u8; 80]) -> [u8; 32] {
        let params = scrypt::Params::new(10, 1, 1).unwrap();
        let mut out = [0u8; 32];
        scrypt::scrypt(header, header, &params, &mut out).unwrap();
        out
    }

    /// A scrypt pool's difficulty-1 target, 0xFFFF · 2^224 (NOMP, Miningcore, every LTC
    /// pool: 65536 times Bitcoin's 0xFFFF · 2^208).
    pub fn scrypt_pool_diff1() -> BigUint {
        BigUint::from(0xffffu32) << 224usize
    }

    /// The network target of nBits as Bitcoin Core's `SetCompact` decodes it,
    /// mantissa · 256^(exponent − 3), or `None` where `CheckProofOfWork` refuses it
    /// (negative, zero, or 2^256 and above).
    pub fn nbits_target(nbits: u32) -> Option<BigUint> {
        let exponent = nbits >> 24;
        let mantissa = nbits & 0x007f_ffff;
        let value = if exponent <= 3 {
            BigUint::from(mantissa >> (8 * (3 - exponent)))
        } else {
            BigUint::from(mantissa) << (8 * (exponent - 3) as usize)
        };
        let negative = nbits & 0x0080_0000 != 0;
        (value != BigUint::ZERO && !negative && value.bits() <= 256).then_some(value)
    }

    /// sha256d(coinbase), then `root = sha256d(root | b)` for each branch entry `b`
    /// (hex, internal order, used as sent).
    pub fn merkle_root(coinbase: &[u8], branch: &[String]) -> [u8; 32] {
        let mut root = sha256d(coinbase);
        for b in branch {
            let mut m = root.to_vec();
            m.extend(hex::decode(b).unwrap());
            root = sha256d(&m);
        }
        root
    }

    /// The coinbase's merkle branch over `txids` (display hex), built here from sha2: the
    /// sibling of the coinbase's node on each level, odd levels padded with their last node.
    pub fn coinbase_branch(txids: &[&str]) -> Vec<[u8; 32]> {
        let mut level: Vec<[u8; 32]> = vec![[0; 32]]; // the coinbase's place; never a sibling
        for id in txids {
            let mut b: [u8; 32] = hex::decode(id).unwrap().try_into().unwrap();
            b.reverse();
            level.push(b);
        }
        branch_of_first(level)
    }

    /// The branch of the first of `level`'s leaves (internal order).
    pub fn branch_of_first(mut level: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
        let mut branch = Vec::new();
        while level.len() > 1 {
            branch.push(level[1]);
            if level.len() % 2 == 1 {
                level.push(*level.last().unwrap());
            }
            level = level.chunks(2).map(|p| sha256d(&[p[0], p[1]].concat())).collect();
        }
        branch
    }

    /// `LE32 version | prevhash | merkle_root | LE32 ntime | LE32 nbits | LE32 nonce`, with
    /// the stratum prevhash's 4-byte words byte-reversed back to internal order.
    pub fn build_header(
        version: u32,
        prevhash_stratum: &str,
        merkle_root: &[u8; 32],
        ntime: u32,
        nbits: u32,
        nonce: u32,
    ) -> [u8; 80] {
        let mut prev = hex::decode(prevhash_stratum).unwrap();
        assert_eq!(prev.len(), 32, "prevhash {prevhash_stratum}");
        for w in prev.chunks_mut(4) {
            w.reverse();
        }
        let mut h = Vec::with_capacity(80);
        h.extend(version.to_le_bytes());
        h.extend(prev);
        h.extend(merkle_root);
        h.extend(ntime.to_le_bytes());
        h.extend(nbits.to_le_bytes());
        h.extend(nonce.to_le_bytes());
        h.try_into().unwrap()
    }

    /// floor(dividend / d), exact, with `d`'s binary value taken by num-rational's
    /// `BigRational::from_float` (not the crate's float decomposition). num-rational 0.4 is
    /// built on num-bigint 0.4: the values cross over as decimal text. `d` must be finite
    /// and positive.
    pub fn div_floor_by_float(dividend: &BigUint, d: f64) -> BigUint {
        use num_rational::BigRational;
        assert!(d.is_finite() && d > 0.0, "{d}");
        let exact_d = BigRational::from_float(d).unwrap();
        let dividend: BigRational = dividend.to_string().parse().unwrap();
        let quotient = (dividend / exact_d).floor().to_integer();
        quotient.to_string().parse().unwrap()
    }

    /// A pool's share target: floor(diff1 / difficulty), exact for fractional difficulty.
    pub fn share_target(diff1: &BigUint, difficulty: f64) -> BigUint {
        div_floor_by_float(diff1, difficulty)
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

        /// The job of a `mining.notify`'s params.
        pub fn from_params(params: &serde_json::Value) -> TestJob {
            let s = |i: usize| params[i].as_str().unwrap().to_string();
            let word = |i: usize| u32::from_str_radix(&s(i), 16).unwrap();
            TestJob {
                id: s(0),
                prevhash_stratum: s(1),
                coinb1: s(2),
                coinb2: s(3),
                branch: params[4]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_str().unwrap().to_string())
                    .collect(),
                version: word(5),
                nbits: word(6),
                ntime: word(7),
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
            let root = merkle_root(&coinbase, &self.branch);
            build_header(version, &self.prevhash_stratum, &root, ntime, self.nbits, nonce)
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

        /// The `mining.submit` params of worker `w` for this job at its own ntime.
        pub fn submit_params(&self, en2_hex: &str, nonce: u32) -> serde_json::Value {
            serde_json::json!([
                "w",
                self.id,
                en2_hex,
                format!("{:08x}", self.ntime),
                format!("{nonce:08x}")
            ])
        }

        /// First nonce whose sha256d is at most `at_most`: the header is built once and only
        /// its nonce varies (fast enough for thousands of shares).
        pub fn mine_at_most(
            &self,
            en1: &str,
            en2: &str,
            ntime: u32,
            version: u32,
            at_most: &BigUint,
        ) -> u32 {
            let mut limit = at_most.to_bytes_be();
            assert!(limit.len() <= 32);
            while limit.len() < 32 {
                limit.insert(0, 0);
            }
            let mut header = self.header(en1, en2, ntime, 0, version);
            (0u32..)
                .find(|&n| {
                    header[76..].copy_from_slice(&n.to_le_bytes());
                    let mut hash = sha256d(&header);
                    hash.reverse(); // big-endian, to compare with the limit's bytes
                    hash.as_slice() <= limit.as_slice()
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
