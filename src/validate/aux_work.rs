//! Merged mining in the share check: a job may carry aux chain work (Dogecoin on a
//! Litecoin parent). A share whose parent PoW hash meets an aux chain's target is an aux
//! block: its verdict carries the AuxPoW that `submitauxblock` takes.
//!
//! The job's coinbase must carry the commitment [`Commitment::build`] makes for the job's
//! aux work (the engine finds each chain's slot and branch from it); a job whose coinbase
//! does not is refused at notify time.

use crate::chain::auxpow::{AuxPow, Commitment};
use crate::chain::{Hash256, Target, coinbase};
use crate::error::Error;

/// Aux chain work for a job: what `createauxblock` gives a pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxWork {
    /// The aux chain's id (Dogecoin: 98).
    pub chain_id: i32,
    /// The aux block's hash (internal order).
    pub aux_block_hash: Hash256,
    /// The aux block's target.
    pub target: Target,
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

/// The slots of `work` for the job whose `coinb1` carries its commitment.
pub(crate) fn prepare(
    job_id: &str,
    coinb1: &[u8],
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
    let chains: Vec<(i32, Hash256)> = work.iter().map(|w| (w.chain_id, w.aux_block_hash)).collect();
    let commitment = Commitment::build(&chains).map_err(|e| refuse(e.to_string()))?;
    // The commitment sits in the scriptSig, before the extranonces: in coinb1.
    if !coinb1.windows(commitment.script.len()).any(|w| w == commitment.script.as_slice()) {
        return Err(refuse(format!(
            "the coinbase does not carry the merged-mining commitment of its aux work ({})",
            hex::encode(&commitment.script)
        )));
    }
    Ok(work
        .iter()
        .zip(commitment.chains)
        .map(|(w, slot)| AuxSlot { work: w.clone(), index: slot.index, branch: slot.branch })
        .collect())
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
            Some(AuxBlockFound {
                chain_id: slot.work.chain_id,
                aux_block_hash: slot.work.aux_block_hash,
                auxpow: auxpow.to_bytes(),
            })
        })
        .collect()
}
