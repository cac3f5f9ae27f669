//! Coinbase assembly from the stratum parts: `coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2`.

use crate::hash::{Midstate, Sha256};

/// Concatenates the four parts of a stratum coinbase.
pub fn assemble(coinb1: &[u8], extranonce1: &[u8], extranonce2: &[u8], coinb2: &[u8]) -> Vec<u8> {
    [coinb1, extranonce1, extranonce2, coinb2].concat()
}

/// The coinbase's txid (SHA-256d, internal order) without concatenating it.
pub fn txid(coinb1: &[u8], extranonce1: &[u8], extranonce2: &[u8], coinb2: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(coinb1).update(extranonce1).update(extranonce2).update(coinb2);
    h.finalize_double()
}

/// The per-job, per-connection precomputation of a coinbase: the SHA-256 midstate of
/// `coinb1 ‖ extranonce1` up to its last whole 64-byte block, and the bytes left over.
/// Finishing it costs only the blocks that extranonce2 and coinb2 touch.
#[derive(Clone, Debug)]
pub struct CoinbasePrefix {
    midstate: Midstate,
    tail: Vec<u8>,
}

impl CoinbasePrefix {
    /// Precomputes over `coinb1 ‖ extranonce1`.
    pub fn new(coinb1: &[u8], extranonce1: &[u8]) -> Self {
        let prefix = [coinb1, extranonce1].concat();
        let (midstate, used) = Midstate::of_prefix(&prefix);
        CoinbasePrefix { midstate, tail: prefix[used..].to_vec() }
    }

    /// The txid of `prefix ‖ extranonce2 ‖ coinb2`.
    #[inline]
    pub fn txid(&self, extranonce2: &[u8], coinb2: &[u8]) -> [u8; 32] {
        let mut h = self.midstate.resume();
        h.update(&self.tail).update(extranonce2).update(coinb2);
        h.finalize_double()
    }

    /// The midstate and the parts after it of `prefix ‖ extranonce2 ‖ coinb2`: a message
    /// for [`crate::hash::sha256::sha256d_resume_many`], which hashes the coinbases of a
    /// batch several in step.
    #[inline]
    pub fn resume_parts<'a>(
        &'a self,
        extranonce2: &'a [u8],
        coinb2: &'a [u8],
    ) -> (&'a Midstate, [&'a [u8]; 3]) {
        (&self.midstate, [&self.tail, extranonce2, coinb2])
    }
}
