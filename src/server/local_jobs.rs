//! The test bench's own jobs (the job source of `sharecheck serve`): realistic work
//! without a pool. A coinbase as a pool builds it (BIP 34 height push, a tag, the
//! extranonce space, one P2WPKH output), a merkle branch of several entries (as if the
//! block carried transactions), a network target no bench machine will meet, and ntime of
//! now. Blocks are not the point: shares are.

use crate::chain::{Algorithm, Hash256, merkle};
use crate::hash::sha256d;
use crate::stratum::Notify;

/// Transactions beside the coinbase in every job (a branch of 4 entries).
const TRANSACTIONS: u32 = 11;
/// Bytes of the job's number in the coinbase script, after the tag.
const JOB_NUMBER_LEN: usize = 8;
/// The longest coinbase script consensus allows.
const MAX_SCRIPT: usize = 100;
/// The coinbase's tag, after the height.
const TAG: &[u8] = b"/sharecheck bench/";
/// The output's value: 3.125 BTC (the 2024 subsidy), in satoshis; any value does.
const COINBASE_VALUE: u64 = 312_500_000;
/// The output's witness program (P2WPKH), a fixed key hash.
const KEY_HASH: [u8; 20] = [0x5c; 20];

/// Generates the bench's jobs, one block height after another.
#[derive(Clone, Debug)]
pub struct LocalJobs {
    algorithm: Algorithm,
    height: u32,
    /// Extranonce1 + extranonce2 bytes the coinbase leaves room for.
    extranonce_len: usize,
    prevhash: Hash256,
    next_id: u64,
}

impl LocalJobs {
    /// Jobs for `algorithm` from block `height` on, with room for `extranonce_len` bytes of
    /// extranonce1 ‖ extranonce2 in the coinbase; refused if the coinbase script would pass
    /// the 100 bytes consensus allows.
    pub fn new(
        algorithm: Algorithm,
        height: u32,
        extranonce_len: usize,
    ) -> Result<LocalJobs, String> {
        let script_len = bip34_height(height).len() + TAG.len() + JOB_NUMBER_LEN + extranonce_len;
        if script_len > MAX_SCRIPT {
            return Err(format!(
                "a {extranonce_len}-byte extranonce makes a {script_len}-byte coinbase script (at most {MAX_SCRIPT})"
            ));
        }
        let prevhash = Hash256(sha256d(&height.to_le_bytes()));
        Ok(LocalJobs { algorithm, height, extranonce_len, prevhash, next_id: 1 })
    }

    /// The network target's compact form: 0x3ffff·2^160, about 2^-78 of all hashes, for
    /// SHA-256d (a block a century at 100 TH/s) and 0xffff·2^184, 2^-56, for scrypt
    /// (years at 500 MH/s).
    pub fn nbits(&self) -> u32 {
        match self.algorithm {
            Algorithm::Sha256d => 0x1703_ffff,
            Algorithm::Scrypt => 0x1a00_ffff,
        }
    }

    /// The next job at `ntime`. `new_block`: the next height and a new previous hash, as
    /// when the chain moves (sent with `clean_jobs`; the first job is at the height given
    /// to [`LocalJobs::new`]); otherwise the same block under a new job id.
    pub fn next(&mut self, ntime: u32, new_block: bool) -> Notify {
        if new_block && self.next_id > 1 {
            self.prevhash = Hash256(sha256d(&self.prevhash.0));
            self.height += 1;
        }
        let (coinb1, coinb2) = self.coinbase_parts(self.next_id);
        let job_id = format!("{:x}", self.next_id);
        self.next_id += 1;
        Notify {
            job_id,
            prevhash: self.prevhash,
            coinb1,
            coinb2,
            merkle_branch: self.branch().into_iter().map(|h| h.0).collect(),
            version: 0x2000_0000,
            nbits: self.nbits(),
            ntime,
            clean_jobs: new_block,
        }
    }

    /// The block height of the current jobs.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// `coinb1` (up to the extranonces) and `coinb2` (after them) of job `job`. The job's
    /// number is in the script, so no two jobs share a header (duplicates are per job).
    fn coinbase_parts(&self, job: u64) -> (Vec<u8>, Vec<u8>) {
        let height = bip34_height(self.height);
        let script_len = height.len() + TAG.len() + JOB_NUMBER_LEN + self.extranonce_len;
        let mut coinb1 = Vec::new();
        coinb1.extend_from_slice(&1u32.to_le_bytes()); // version
        coinb1.push(1); // one input
        coinb1.extend_from_slice(&[0; 32]); // no previous output
        coinb1.extend_from_slice(&u32::MAX.to_le_bytes());
        coinb1.push(script_len as u8); // at most 100 (checked in `new`): one byte
        coinb1.extend_from_slice(&height);
        coinb1.extend_from_slice(TAG);
        coinb1.extend_from_slice(&job.to_le_bytes());
        let mut coinb2 = Vec::new();
        coinb2.extend_from_slice(&u32::MAX.to_le_bytes()); // sequence
        coinb2.push(1); // one output
        coinb2.extend_from_slice(&COINBASE_VALUE.to_le_bytes());
        coinb2.push(22);
        coinb2.extend_from_slice(&[0x00, 0x14]); // witness v0, 20-byte program
        coinb2.extend_from_slice(&KEY_HASH);
        coinb2.extend_from_slice(&0u32.to_le_bytes()); // lock time
        (coinb1, coinb2)
    }

    /// The coinbase's branch over this block's (made-up) transactions.
    fn branch(&self) -> Vec<Hash256> {
        let mut txids = vec![Hash256([0; 32])]; // the coinbase's place
        for i in 0..TRANSACTIONS {
            let mut seed = self.prevhash.0.to_vec();
            seed.extend_from_slice(&i.to_le_bytes());
            txids.push(Hash256(sha256d(&seed)));
        }
        merkle::coinbase_branch(&txids)
    }
}

/// The BIP 34 height push, as Bitcoin Core writes `CScript() << height`: `OP_0` for 0,
/// `OP_1`…`OP_16` for 1 to 16, else the height as a minimal little-endian script number
/// after its length.
pub fn bip34_height(height: u32) -> Vec<u8> {
    match height {
        0 => return vec![0x00],
        1..=16 => return vec![0x50 + height as u8],
        _ => {}
    }
    let mut number: Vec<u8> = height.to_le_bytes().to_vec();
    while number.last() == Some(&0) {
        number.pop();
    }
    // A set top bit would read as negative: one more byte.
    if number.last().is_some_and(|b| b & 0x80 != 0) {
        number.push(0);
    }
    let mut push = vec![number.len() as u8];
    push.extend(number);
    push
}
