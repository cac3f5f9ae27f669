//! `CompactTarget` (nBits): Bitcoin Core's `SetCompact` / `GetCompact`, bit for bit.

use std::fmt;

use super::target::Target;
use crate::error::{Error, decode_hex_array};

/// A 32-bit compact target as stored in a header's nBits field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CompactTarget(pub u32);

/// What `SetCompact` yields: the value and its two flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DecodedCompact {
    /// The magnitude, truncated to 256 bits as Core does.
    pub target: Target,
    /// The sign bit (0x00800000) was set on a non-zero mantissa.
    pub negative: bool,
    /// The value does not fit in 256 bits.
    pub overflow: bool,
}

impl fmt::Display for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl CompactTarget {
    /// Parses 8 hex digits of the big-endian u32 (as RPC and stratum show nBits).
    pub fn from_hex(s: &str) -> Result<CompactTarget, Error> {
        Ok(CompactTarget(u32::from_be_bytes(decode_hex_array("nbits", s)?)))
    }

    /// `arith_uint256::SetCompact`.
    pub fn decode(self) -> DecodedCompact {
        let n = self.0;
        let size = n >> 24;
        let mut word = n & 0x007f_ffff;
        let target = if size <= 3 {
            word >>= 8 * (3 - size);
            Target::from_u64(word as u64)
        } else {
            Target::from_u64(word as u64).shl(8 * (size - 3))
        };
        let negative = word != 0 && (n & 0x0080_0000) != 0;
        let overflow =
            word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
        DecodedCompact { target, negative, overflow }
    }

    /// The target a block hash must meet, or `None` where Core's `CheckProofOfWork` refuses
    /// the nBits outright (negative, zero or overflowing).
    pub fn to_pow_target(self) -> Option<Target> {
        let d = self.decode();
        (!d.negative && !d.overflow && !d.target.is_zero()).then_some(d.target)
    }

    /// `arith_uint256::GetCompact(negative)`: the canonical (lossy) encoding.
    pub fn from_target(target: &Target, negative: bool) -> CompactTarget {
        let mut size = target.bits().div_ceil(8);
        let mut compact: u32 = if size <= 3 {
            (target.low_u64() << (8 * (3 - size))) as u32
        } else {
            target.shr(8 * (size - 3)).low_u64() as u32
        };
        // The 0x00800000 bit is the sign: a mantissa that would set it moves up a byte.
        if compact & 0x0080_0000 != 0 {
            compact >>= 8;
            size += 1;
        }
        compact |= size << 24;
        if negative && (compact & 0x007f_ffff) != 0 {
            compact |= 0x0080_0000;
        }
        CompactTarget(compact)
    }

    /// Network difficulty as Bitcoin Core's `GetDifficulty` computes it (also what
    /// Litecoin and Dogecoin report): 0xFFFF·2^208 / target, in floating point.
    pub fn network_difficulty(self) -> f64 {
        let mut shift = (self.0 >> 24) & 0xff;
        let mut diff = 65535.0 / (self.0 & 0x00ff_ffff) as f64;
        while shift < 29 {
            diff *= 256.0;
            shift += 1;
        }
        while shift > 29 {
            diff /= 256.0;
            shift -= 1;
        }
        diff
    }
}
