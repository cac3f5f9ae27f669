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

/// Generates the bench's jobs: made-up blocks one height after another, or the block of a
/// `getblocktemplate` result.
#[derive(Clone, Debug)]
pub struct LocalJobs {
    algorithm: Algorithm,
    height: u32,
    /// Extranonce1 + extranonce2 bytes the coinbase leaves room for.
    extranonce_len: usize,
    prevhash: Hash256,
    version: u32,
    nbits: u32,
    coinbase_value: u64,
    /// The segwit commitment output's script, when the block has one.
    witness_commitment: Option<Vec<u8>>,
    /// The template's branch; `None`: made up for each block.
    template_branch: Option<Vec<Hash256>>,
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
        check_script_len(height, extranonce_len)?;
        let prevhash = Hash256(sha256d(&height.to_le_bytes()));
        let nbits = match algorithm {
            Algorithm::Sha256d => 0x1703_ffff,
            Algorithm::Scrypt => 0x1a00_ffff,
        };
        Ok(LocalJobs {
            algorithm,
            height,
            extranonce_len,
            prevhash,
            version: 0x2000_0000,
            nbits,
            coinbase_value: COINBASE_VALUE,
            witness_commitment: None,
            template_branch: None,
            next_id: 1,
        })
    }

    /// Jobs on the block of a `getblocktemplate` result: its height, previous hash,
    /// version, bits, coinbase value and segwit commitment, and the merkle branch of its
    /// transactions' txids. Every job is of this block (a template is one block).
    pub fn from_template(
        algorithm: Algorithm,
        template: &BlockTemplate,
        extranonce_len: usize,
    ) -> Result<LocalJobs, String> {
        check_script_len(template.height, extranonce_len)?;
        let mut txids = vec![Hash256([0; 32])]; // the coinbase's place
        txids.extend(template.txids.iter().copied());
        Ok(LocalJobs {
            algorithm,
            height: template.height,
            extranonce_len,
            prevhash: template.previous_block_hash,
            version: template.version,
            nbits: template.nbits,
            coinbase_value: template.coinbase_value,
            witness_commitment: template.witness_commitment.clone(),
            template_branch: Some(merkle::coinbase_branch(&txids)),
            next_id: 1,
        })
    }

    /// The network target's compact form. Made-up blocks: 0x3ffff·2^160, about 2^-78 of
    /// all hashes, for SHA-256d (a block a century at 100 TH/s) and 0xffff·2^184, 2^-56,
    /// for scrypt (years at 500 MH/s); a template's: its `bits`.
    pub fn nbits(&self) -> u32 {
        self.nbits
    }

    /// The algorithm the jobs are for.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The next job at `ntime`. `new_block`: the next height and a new previous hash, as
    /// when the chain moves (sent with `clean_jobs`; the first job is at the height given
    /// to [`LocalJobs::new`]; a template's block stays the same); otherwise the same block
    /// under a new job id.
    pub fn next(&mut self, ntime: u32, new_block: bool) -> Notify {
        if new_block && self.next_id > 1 && self.template_branch.is_none() {
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
            version: self.version,
            nbits: self.nbits,
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
        coinb2.push(1 + u8::from(self.witness_commitment.is_some())); // outputs
        coinb2.extend_from_slice(&self.coinbase_value.to_le_bytes());
        coinb2.push(22);
        coinb2.extend_from_slice(&[0x00, 0x14]); // witness v0, 20-byte program
        coinb2.extend_from_slice(&KEY_HASH);
        if let Some(script) = &self.witness_commitment {
            // The segwit commitment, worth nothing (at most 82 bytes: a one-byte length).
            coinb2.extend_from_slice(&0u64.to_le_bytes());
            coinb2.push(script.len() as u8);
            coinb2.extend_from_slice(script);
        }
        coinb2.extend_from_slice(&0u32.to_le_bytes()); // lock time
        (coinb1, coinb2)
    }

    /// The coinbase's branch over this block's transactions (the template's, or made up).
    fn branch(&self) -> Vec<Hash256> {
        if let Some(branch) = &self.template_branch {
            return branch.clone();
        }
        let mut txids = vec![Hash256([0; 32])]; // the coinbase's place
        for i in 0..TRANSACTIONS {
            let mut seed = self.prevhash.0.to_vec();
            seed.extend_from_slice(&i.to_le_bytes());
            txids.push(Hash256(sha256d(&seed)));
        }
        merkle::coinbase_branch(&txids)
    }
}

fn check_script_len(height: u32, extranonce_len: usize) -> Result<(), String> {
    let script_len = bip34_height(height).len() + TAG.len() + JOB_NUMBER_LEN + extranonce_len;
    if script_len > MAX_SCRIPT {
        return Err(format!(
            "a {extranonce_len}-byte extranonce makes a {script_len}-byte coinbase script (at most {MAX_SCRIPT})"
        ));
    }
    Ok(())
}

/// What the bench takes from a `getblocktemplate` result (BIP 22/23, as Bitcoin Core and
/// Litecoin Core return it).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockTemplate {
    /// The block version.
    pub version: u32,
    /// `previousblockhash`, in the header's byte order.
    pub previous_block_hash: Hash256,
    /// The transactions' `txid`s in block order, in the header's byte order.
    pub txids: Vec<Hash256>,
    /// `coinbasevalue`: subsidy and fees, in satoshis.
    pub coinbase_value: u64,
    /// `bits`.
    pub nbits: u32,
    /// `height`.
    pub height: u32,
    /// `default_witness_commitment`: the coinbase output script committing to the
    /// transactions' witnesses, when the block has segwit transactions.
    pub witness_commitment: Option<Vec<u8>>,
}

/// Longest segwit commitment script taken (a real one is 38 bytes).
const MAX_COMMITMENT_SCRIPT: usize = 82;
/// Most transactions taken from a template (a 4 MWU block holds fewer than 25 000).
const MAX_TEMPLATE_TRANSACTIONS: usize = 100_000;

impl BlockTemplate {
    /// Reads a `getblocktemplate` result: the bare result (`bitcoin-cli getblocktemplate`)
    /// or the whole JSON-RPC answer (`{"result": ..., "error": null, "id": ...}`).
    pub fn from_json(text: &str) -> Result<BlockTemplate, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let t = match value.get("result") {
            Some(result) if result.is_object() => result,
            _ => &value,
        };
        let field = |name: &str| t.get(name).ok_or_else(|| format!("no \"{name}\" field"));
        let uint = |name: &str, max: u64| -> Result<u64, String> {
            field(name)?
                .as_u64()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("\"{name}\" is not a whole number up to {max}"))
        };
        let hash = |text: &str, what: &str| -> Result<Hash256, String> {
            Hash256::from_display_hex(text).map_err(|e| format!("{what}: {e}"))
        };
        let version = uint("version", u64::from(u32::MAX))? as u32;
        let height = uint("height", u64::from(u32::MAX))? as u32;
        let coinbase_value = uint("coinbasevalue", 21_000_000 * 100_000_000 * 4)?;
        let previous =
            field("previousblockhash")?.as_str().ok_or("\"previousblockhash\" is not a string")?;
        let previous_block_hash = hash(previous, "previousblockhash")?;
        let bits = field("bits")?.as_str().ok_or("\"bits\" is not a string")?;
        let nbits = crate::stratum::wire::parse_word(bits).ok_or_else(|| {
            format!("\"bits\" is not 8 hex digits: {}", crate::error::quote_input(bits))
        })?;
        let transactions =
            field("transactions")?.as_array().ok_or("\"transactions\" is not an array")?;
        if transactions.len() > MAX_TEMPLATE_TRANSACTIONS {
            return Err(format!("more than {MAX_TEMPLATE_TRANSACTIONS} transactions"));
        }
        let txids = transactions
            .iter()
            .enumerate()
            .map(|(i, tx)| {
                // Before segwit, `hash` was the txid and there was no `txid` field.
                let id = tx.get("txid").or_else(|| tx.get("hash")).and_then(|v| v.as_str());
                let id = id.ok_or_else(|| format!("transaction {i} has no txid"))?;
                hash(id, &format!("transaction {i}'s txid"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let witness_commitment = match t.get("default_witness_commitment") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => {
                let script = v
                    .as_str()
                    .and_then(|s| hex::decode(s).ok())
                    .ok_or("\"default_witness_commitment\" is not hex")?;
                if script.len() > MAX_COMMITMENT_SCRIPT {
                    return Err(format!(
                        "\"default_witness_commitment\" is longer than {MAX_COMMITMENT_SCRIPT} bytes"
                    ));
                }
                Some(script)
            }
        };
        Ok(BlockTemplate {
            version,
            previous_block_hash,
            txids,
            coinbase_value,
            nbits,
            height,
            witness_commitment,
        })
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
