//! The 80-byte block header.

use super::algorithm::Algorithm;
use super::compact::CompactTarget;
use super::hash256::Hash256;
use crate::error::{Error, decode_hex_array};
use crate::hash;

/// Size of a serialized header.
pub const HEADER_SIZE: usize = 80;

/// A block header: `LE32 version | prevhash | merkle_root | LE32 time | LE32 bits | LE32 nonce`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block version (with any BIP 310 rolled bits applied).
    pub version: u32,
    /// Previous block hash, internal order.
    pub prev_blockhash: Hash256,
    /// Merkle root, internal order.
    pub merkle_root: Hash256,
    /// Block time (Unix seconds).
    pub time: u32,
    /// Compact network target.
    pub bits: CompactTarget,
    /// Nonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// Parses the 80 serialized bytes.
    pub fn from_bytes(b: &[u8; HEADER_SIZE]) -> BlockHeader {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()); // infallible: fixed-size range
        BlockHeader {
            version: u32_at(0),
            prev_blockhash: Hash256(b[4..36].try_into().unwrap()), // infallible: fixed-size range
            merkle_root: Hash256(b[36..68].try_into().unwrap()),   // infallible: fixed-size range
            time: u32_at(68),
            bits: CompactTarget(u32_at(72)),
            nonce: u32_at(76),
        }
    }

    /// Parses 160 hex digits.
    pub fn from_hex(s: &str) -> Result<BlockHeader, Error> {
        Ok(Self::from_bytes(&decode_hex_array::<HEADER_SIZE>("header", s)?))
    }

    /// The 80 serialized bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..36].copy_from_slice(&self.prev_blockhash.0);
        b[36..68].copy_from_slice(&self.merkle_root.0);
        b[68..72].copy_from_slice(&self.time.to_le_bytes());
        b[72..76].copy_from_slice(&self.bits.0.to_le_bytes());
        b[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        b
    }

    /// The block hash (SHA-256d of the header, for every algorithm).
    pub fn block_hash(&self) -> Hash256 {
        Hash256(hash::sha256d_header(&self.to_bytes()))
    }

    /// The proof-of-work hash under `algorithm`.
    pub fn pow_hash(&self, algorithm: Algorithm) -> Hash256 {
        Hash256(algorithm.pow_hash(&self.to_bytes()))
    }

    /// Whether the PoW hash meets the header's own nBits (false if nBits is invalid).
    pub fn meets_own_target(&self, algorithm: Algorithm) -> bool {
        self.bits.to_pow_target().is_some_and(|t| t.is_met_by(&self.pow_hash(algorithm).0))
    }
}

/// Reads a `mining.notify` prevhash (internal bytes with each 4-byte word byte-reversed).
pub fn prevhash_from_stratum(s: &str) -> Result<Hash256, Error> {
    let mut b: [u8; 32] = decode_hex_array("prevhash", s)?;
    for word in b.chunks_exact_mut(4) {
        word.reverse();
    }
    Ok(Hash256(b))
}

/// Writes a prevhash the way `mining.notify` carries it.
pub fn prevhash_to_stratum(h: &Hash256) -> String {
    let mut b = h.0;
    for word in b.chunks_exact_mut(4) {
        word.reverse();
    }
    hex::encode(b)
}

/// BIP 310 version rolling: the job's version outside the mask, the miner's bits inside.
#[inline]
pub fn roll_version(job_version: u32, version_bits: u32, mask: u32) -> u32 {
    (job_version & !mask) | (version_bits & mask)
}
