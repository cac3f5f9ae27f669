//! Coinbase assembly from the stratum parts: `coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2`.

use crate::hash::sha256::{ResumeMessage, ScheduledEnd, sha256d_resume};
use crate::hash::{Midstate, Platform, Sha256, Sha256Path};

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
        Self::with_path(Platform::get().sha256(), coinb1, extranonce1)
    }

    /// [`CoinbasePrefix::new`] on a chosen SHA-256 path.
    pub fn with_path(path: Sha256Path, coinb1: &[u8], extranonce1: &[u8]) -> Self {
        let prefix = [coinb1, extranonce1].concat();
        let (midstate, used) = Midstate::of_prefix_with(path, &prefix);
        CoinbasePrefix { midstate, tail: prefix[used..].to_vec() }
    }

    /// The txid of `prefix ‖ extranonce2 ‖ coinb2`.
    #[inline]
    pub fn txid(&self, extranonce2: &[u8], coinb2: &[u8]) -> [u8; 32] {
        sha256d_resume(&self.message(extranonce2, coinb2, None))
    }

    /// Bytes of `coinb1 ‖ extranonce1`: where extranonce2 starts.
    pub fn extranonce2_offset(&self) -> u64 {
        self.midstate.bytes_consumed() + self.tail.len() as u64
    }

    /// `prefix ‖ extranonce2 ‖ coinb2` as a message to hash from the midstate. `end` (its
    /// job's) stands for coinb2's last bytes, whose schedules it holds, if it was made
    /// for as many bytes before coinb2 as this coinbase has and from the same bytes.
    #[inline]
    pub fn message<'a>(
        &'a self,
        extranonce2: &'a [u8],
        coinb2: &'a [u8],
        end: Option<&'a CoinbaseEnd>,
    ) -> ResumeMessage<'a> {
        let before_coinb2 = self.extranonce2_offset() + extranonce2.len() as u64;
        match end {
            // The end's bytes are compared too: an end of another coinb2 of the same
            // length must not stand for this one (one pass over at most 8 KB, a fraction
            // of the rounds the schedules leave).
            Some(end)
                if end.before_coinb2 == before_coinb2
                    && coinb2.get(end.split..) == Some(end.scheduled.bytes()) =>
            {
                ResumeMessage {
                    midstate: &self.midstate,
                    parts: [&self.tail, extranonce2, &coinb2[..end.split]],
                    end: Some(&end.scheduled),
                }
            }
            _ => ResumeMessage::new(&self.midstate, [&self.tail, extranonce2, coinb2]),
        }
    }
}

/// The end of a job's coinb2 that follows the block its coinbases' extranonce2 ends in:
/// the same bytes in the same place in every coinbase of the job with as many bytes before
/// coinb2, so their blocks' schedules are computed once per job ([`ScheduledEnd`]).
#[derive(Clone, Debug)]
pub struct CoinbaseEnd {
    before_coinb2: u64,
    split: usize,
    scheduled: ScheduledEnd,
}

impl CoinbaseEnd {
    /// Blocks scheduled at most (32 KiB of schedules, for a coinb2 of about 8 KB); a
    /// longer end is hashed as ever.
    const MAX_BLOCKS: usize = 128;

    /// The end of `coinb2` for coinbases with `before_coinb2` bytes before it (`coinb1`,
    /// both extranonces); `None` if coinb2 ends in the extranonce2 block or the end is
    /// longer than 128 blocks.
    pub fn new(coinb2: &[u8], before_coinb2: u64) -> Option<CoinbaseEnd> {
        let split = (before_coinb2.next_multiple_of(64) - before_coinb2) as usize;
        let end = coinb2.get(split..)?;
        if (end.len() + 9).div_ceil(64) > Self::MAX_BLOCKS {
            return None;
        }
        let scheduled = ScheduledEnd::new(end, before_coinb2 + split as u64)?;
        Some(CoinbaseEnd { before_coinb2, split, scheduled })
    }

    /// The bytes before coinb2 in the coinbases it was made for.
    pub fn before_coinb2(&self) -> u64 {
        self.before_coinb2
    }
}
