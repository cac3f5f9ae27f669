//! Benchmark workloads shared by `sharecheck bench` and the criterion benches: realistic
//! jobs and streams of distinct valid submits.

#[cfg(feature = "sri")]
pub mod sri;

use crate::chain::Algorithm;
use crate::stratum::{Notify, Submit};
use crate::validate::{Session, Validator, ValidatorConfig};

/// A real slush-pool job with a 13-entry merkle branch and a segwit-era coinbase
/// (ESP-Miner's test vector, tests/data/vectors.json).
const SHA256D_JOB: &str = r#"["bench",
 "0c859545a3498373a57452fac22eb7113df2a465000543520000000000000000",
 "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4b0389130cfabe6d6d5cbab26a2599e92916edec5657a94a0708ddb970f5c45b5d12905085617eff8e",
 "31650707758de07b010000000000001cfd7038212f736c7573682f000000000379ad0c2a000000001976a9147c154ed1dc59609e3d26abb2df2ea3d587cd8c4188ac00000000000000002c6a4c2952534b424c4f434b3ae725d3994b811572c1f345deb98b56b465ef8e153ecbbd27fa37bf1b005161380000000000000000266a24aa21a9ed63b06a7946b190a3fda1d76165b25c9b883bcc6621b040773050ee2a1bb18f1800000000",
 ["2b77d9e413e8121cd7a17ff46029591051d0922bd90b2b2a38811af1cb57a2b2",
  "5c8874cef00f3a233939516950e160949ef327891c9090467cead995441d22c5",
  "2d91ff8e19ac5fa69a40081f26c5852d366d608b04d2efe0d5b65d111d0d8074",
  "0ae96f609ad2264112a0b2dfb65624bedbcea3b036a59c0173394bba3a74e887",
  "e62172e63973d69574a82828aeb5711fc5ff97946db10fc7ec32830b24df7bde",
  "adb49456453aab49549a9eb46bb26787fb538e0a5f656992275194c04651ec97",
  "a7bc56d04d2672a8683892d6c8d376c73d250a4871fdf6f57019bcc737d6d2c2",
  "d94eceb8182b4f418cd071e93ec2a8993a0898d4c93bc33d9302f60dbbd0ed10",
  "5ad7788b8c66f8f50d332b88a80077ce10e54281ca472b4ed9bbbbcb6cf99083",
  "9f9d784b33df1b3ed3edb4211afc0dc1909af9758c6f8267e469f5148ed04809",
  "48fd17affa76b23e6fb2257df30374da839d6cb264656a82e34b350722b05123",
  "c4f5ab01913fc186d550c1a28f3f3e9ffaca2016b961a6a751f8cca0089df924",
  "cff737e1d00176dd6bbfa73071adbb370f227cfb5fba186562e4060fcec877e1"],
 "20000004", "1705ae3a", "647025b5", true]"#;

/// The Litecoin-style job of the bundled scrypt session (examples/gen_scrypt_session.rs).
const SCRYPT_JOB: &str = r#"["bench",
 "358848beda7f007ac635924fa000475935e12be0698e3dda1bbdaec293819e80",
 "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1d03916f282f7368617265636865636b2d64656d6f2f",
 "ffffffff0200f2052a01000000160014b3cd14b7a45b7cb79a1d4ed8c310e1b6a9707b610000000000000000266a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf900000000", ["30e26b488d7b2893f53113729b9e9749d64328be47aff63e418c968e38273bea",
 "cec0bea19276a048a45153dfe7e3529791688cb893317538d0882f077ef761be",
 "4384e4b8f58458e672bee7f88f8a4b23ce41f4075371e5acc2d4c749c2140112"], "20000000",
 "1f0fffff",
 "6553f100", true]"#;

/// A validator with one job and one subscribed connection, and distinct submits for it
/// (extranonce2 counts up, 4 bytes). The share difficulty is tiny so every share passes
/// and goes through the duplicate filter, as a valid share does.
pub struct ShareWorkload {
    /// The validator.
    pub validator: Validator,
    /// The miner connection.
    pub session: Session,
    /// Distinct submits for the job.
    pub submits: Vec<Submit>,
    notify: Notify,
}

impl ShareWorkload {
    /// A SHA-256d job with a 13-entry branch.
    pub fn sha256d_13_branch(submits: usize) -> Self {
        Self::new(Algorithm::Sha256d, SHA256D_JOB, submits)
    }

    /// The SHA-256d job with a 13-entry branch, its coinbase paying 60 more outputs
    /// (P2WPKH, 31 bytes each) before the original three, as a pool that pays its miners
    /// in the coinbase sends: a coinb2 of 2 030 bytes, 32 blocks of it after the
    /// extranonce2. The payees are made up; the rest is the real job's.
    pub fn sha256d_many_outputs(submits: usize) -> Self {
        let mut notify = parse_notify(SHA256D_JOB);
        // coinb2: 27 bytes of the coinbase script and its sequence (31), the output count
        // (1), the outputs, the lock time (4).
        let (head, rest) = notify.coinb2.split_at(31);
        let (outputs, lock_time) = rest[1..].split_at(rest.len() - 5);
        let mut coinb2 = head.to_vec();
        coinb2.push(rest[0] + 60);
        for i in 0..60u32 {
            coinb2.extend_from_slice(&(50_000 + u64::from(i) * 1_000).to_le_bytes());
            coinb2.extend_from_slice(&[0x16, 0x00, 0x14]);
            coinb2.extend_from_slice(&crate::hash::sha256(&i.to_le_bytes())[..20]);
        }
        coinb2.extend_from_slice(outputs);
        coinb2.extend_from_slice(lock_time);
        notify.coinb2 = coinb2;
        Self::from_notify(Algorithm::Sha256d, notify, submits)
    }

    /// A scrypt job with a 3-entry branch.
    pub fn scrypt(submits: usize) -> Self {
        Self::new(Algorithm::Scrypt, SCRYPT_JOB, submits)
    }

    fn new(algorithm: Algorithm, job: &str, count: usize) -> Self {
        Self::from_notify(algorithm, parse_notify(job), count)
    }

    fn from_notify(algorithm: Algorithm, notify: Notify, count: usize) -> Self {
        // The job is refreshed after each pass over the submits: reserve room for them all.
        let config = ValidatorConfig {
            max_shares_per_job: usize::MAX,
            max_shares_per_connection: usize::MAX,
            // `refresh` retires the job and notifies it again: with a fresh filter.
            retired_jobs_kept: 0,
            reserve_shares_per_job: count,
            ..ValidatorConfig::default()
        };
        let validator = Validator::new(algorithm, config);
        let mut session = validator.new_session();
        session.set_extranonce(vec![0xf8, 0x00, 0x2c, 0x90], 4).expect("4 + 4 bytes are in bounds"); // invariant: see message
        validator.set_difficulty(&mut session, 1e-30).expect("positive difficulty"); // invariant: see message
        validator.notify(notify.clone()).expect("bench job fits the limits"); // invariant: see message
        let ntime = format!("{:08x}", notify.ntime);
        let submits = (0..count as u32)
            .map(|i| Submit {
                worker: "bench.worker".into(),
                job_id: "bench".into(),
                extranonce2: format!("{i:08x}"),
                ntime: ntime.clone(),
                nonce: format!("{:08x}", i.wrapping_mul(0x9e37_79b9)),
                version_bits: None,
            })
            .collect();
        ShareWorkload { validator, session, submits, notify }
    }

    /// Makes the job new again, so the same submits are fresh shares: another job with
    /// `clean_jobs` retires it, then it is notified again (an identical re-notify of a
    /// live job keeps its duplicate filter; of a retired one too, unless the workload keeps
    /// no retired filters, as it does).
    pub fn refresh(&self) {
        let other = Notify { job_id: "bench-interlude".into(), ..self.notify.clone() };
        self.validator.notify(other).expect("bench job fits the limits"); // invariant: see message
        self.validator.notify(self.notify.clone()).expect("bench job fits the limits"); // invariant: see message
    }

    /// The job the submits are for.
    pub fn notify(&self) -> &Notify {
        &self.notify
    }

    /// The submits paired with the session, as `check_batch` takes them.
    pub fn batch(&self) -> Vec<(&Session, &Submit)> {
        self.submits.iter().map(|s| (&self.session, s)).collect()
    }
}

/// A bench job's notify.
fn parse_notify(job: &str) -> Notify {
    let params: serde_json::Value = serde_json::from_str(job).expect("bench job is JSON"); // invariant: see message
    Notify::from_params(&params).expect("bench job is a valid notify") // invariant: see message
}

/// A fixed header for kernel benchmarks (Litecoin's scrypt_tests.cpp header #0).
pub fn sample_header(i: u32) -> [u8; 80] {
    let mut h = [0u8; 80];
    hex::decode_to_slice(
        "020000004c1271c211717198227392b029a64a7971931d351b387bb80db027f270411e398a07046f7d4a08dd815412a8712f874a7ebf0507e3878bd24e20a3b73fd750a667d2f451eac7471b00de6659",
        &mut h,
    )
    .expect("literal hex"); // invariant: see message
    h[76..80].copy_from_slice(&i.to_le_bytes());
    h
}
