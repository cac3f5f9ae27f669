//! Merged mining in the share check: a job may carry aux chain work (Dogecoin on a
//! Litecoin parent). A share whose parent PoW hash meets an aux chain's target is an aux
//! block: its verdict carries the AuxPoW that `submitauxblock` takes.
//!
//! Each chain's place in the pool's commitment (its slot and branch) comes with its work,
//! or, when the pool used [`Commitment::build`], is computed here. Either way the root it
//! leads to must be in the job's coinbase after the merged-mining header (before or after
//! the extranonces), or the job is registered without that aux work.

use crate::chain::auxpow::{AuxPow, Commitment, MERGED_MINING_HEADER, check_merkle_branch};
use crate::chain::{Hash256, Target, coinbase};
use crate::error::Error;

/// Aux chain work for a job: what `createauxblock` gives a pool, and where the pool put
/// the chain in its commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxWork {
    /// The aux chain's id (Dogecoin: 98).
    pub chain_id: i32,
    /// The aux block's hash (internal order).
    pub aux_block_hash: Hash256,
    /// The aux block's target.
    pub target: Target,
    /// The chain's slot and branch in the pool's commitment (branch in internal order);
    /// `None`: the commitment [`Commitment::build`] makes for the job's aux work.
    pub chain_merkle: Option<(u32, Vec<[u8; 32]>)>,
}

/// An aux block found by a share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxBlockFound {
    /// The aux chain's id.
    pub chain_id: i32,
    /// The aux block's hash (internal order).
    pub aux_block_hash: Hash256,
    /// The serialized AuxPoW: `submitauxblock <hash> <hex of this>`.
    pub auxpow: Vec<u8>,
}

/// One chain's work in a registered job, with its place in the commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuxSlot {
    work: AuxWork,
    index: u32,
    branch: Vec<[u8; 32]>,
}

/// Aux chains a job may carry, at most.
pub const MAX_AUX_CHAINS: usize = 16;

/// The slots of `work` for a job whose coinbase (`coinb1`, the extranonces, `coinb2`)
/// carries their commitment.
pub(crate) fn prepare(
    job_id: &str,
    coinb1: &[u8],
    coinb2: &[u8],
    work: &[AuxWork],
) -> Result<Vec<AuxSlot>, Error> {
    if work.is_empty() {
        return Ok(Vec::new());
    }
    let refuse = |why: String| {
        Error::JobRefused(format!("job {}: {why}", crate::error::quote_input(job_id)))
    };
    if work.len() > MAX_AUX_CHAINS {
        return Err(refuse(format!("{} aux chains, limit {MAX_AUX_CHAINS}", work.len())));
    }
    let built = match work.iter().any(|w| w.chain_merkle.is_none()) {
        true => {
            let chains: Vec<(i32, Hash256)> =
                work.iter().map(|w| (w.chain_id, w.aux_block_hash)).collect();
            Some(Commitment::build(&chains).map_err(|e| refuse(e.to_string()))?)
        }
        false => None,
    };
    work.iter()
        .enumerate()
        .map(|(i, w)| {
            let (index, branch) = match (&w.chain_merkle, &built) {
                (Some((index, branch)), _) => (*index, branch.clone()),
                (None, Some(c)) => (c.chains[i].index, c.chains[i].branch.clone()),
                (None, None) => unreachable!("built whenever a chain has no place given"),
            };
            // The merged-mining header, then the root in display order, as the check
            // looks for it.
            let mut root = check_merkle_branch(&w.aux_block_hash.0, &branch, index as i32);
            root.reverse();
            let needle = [&MERGED_MINING_HEADER[..], &root].concat();
            let carried = |part: &[u8]| part.windows(needle.len()).any(|p| p == needle.as_slice());
            if !carried(coinb1) && !carried(coinb2) {
                return Err(refuse(format!(
                    "the coinbase does not carry the merged-mining commitment of chain {} ({})",
                    w.chain_id,
                    hex::encode(&needle)
                )));
            }
            Ok(AuxSlot { work: w.clone(), index, branch })
        })
        .collect()
}

/// The aux blocks a share with PoW hash `pow` finds, given its header and coinbase parts.
pub(crate) fn found(
    slots: &[AuxSlot],
    pow: &[u8; 32],
    header: &[u8; 80],
    coinbase_parts: (&[u8], &[u8], &[u8], &[u8]),
    branch: &[[u8; 32]],
) -> Vec<AuxBlockFound> {
    let met: Vec<&AuxSlot> = slots.iter().filter(|s| s.work.target.is_met_by(pow)).collect();
    if met.is_empty() {
        return Vec::new();
    }
    let (coinb1, extranonce1, extranonce2, coinb2) = coinbase_parts;
    let coinbase = coinbase::assemble(coinb1, extranonce1, extranonce2, coinb2);
    met.into_iter()
        .filter_map(|slot| {
            let auxpow = AuxPow::new(
                coinbase.clone(),
                branch.to_vec(),
                slot.branch.clone(),
                slot.index as i32,
                *header,
            )
            .ok()?;
            // Only what Dogecoin accepts is reported: an extranonce2 that happens to hold
            // a second merged-mining header, say, makes no aux block.
            auxpow.check(&slot.work.aux_block_hash, slot.work.chain_id, true).ok()?;
            Some(AuxBlockFound {
                chain_id: slot.work.chain_id,
                aux_block_hash: slot.work.aux_block_hash,
                auxpow: auxpow.to_bytes(),
            })
        })
        .collect()
}
