//! Proof-of-work algorithms (each owns its PoW hash and its difficulty-1 target), pool
//! difficulty ↔ target conversion, and coin presets.

use std::fmt;
use std::str::FromStr;

use super::target::Target;
use crate::error::Error;
use crate::hash::{self, ScryptScratch};

/// A proof-of-work algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256 applied twice (Bitcoin and its family).
    Sha256d,
    /// scrypt N = 1024, r = 1, p = 1 (Litecoin, Dogecoin).
    Scrypt,
}

/// 0xFFFF · 2^208: Bitcoin's difficulty-1 target (`0x1d00ffff`).
const SHA256D_DIFF1: Target = Target::from_limbs([0, 0, 0, 0x0000_0000_ffff_0000]);

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256d, Algorithm::Scrypt];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256d => "sha256d",
            Algorithm::Scrypt => "scrypt",
        }
    }

    /// How much harder a share of pool difficulty 1 is than Bitcoin's difficulty 1: pools
    /// for scrypt coins (NOMP, Miningcore, every LTC pool) use 65536 times Bitcoin's
    /// difficulty-1 target.
    pub fn pool_diff1_multiplier_log2(self) -> u32 {
        match self {
            Algorithm::Sha256d => 0,
            Algorithm::Scrypt => 16,
        }
    }

    /// The target of a share of pool difficulty 1: 0xFFFF·2^208 for SHA-256d,
    /// 0xFFFF·2^224 for scrypt.
    pub fn diff1_target(self) -> Target {
        SHA256D_DIFF1.shl(self.pool_diff1_multiplier_log2())
    }

    /// Hashes a miner computes, on average, per share of difficulty 1: 2^256 / diff1
    /// target (≈ 2^32 for SHA-256d, ≈ 2^16 for scrypt's pool convention). A hashrate is
    /// accepted difficulty per second times this.
    pub fn hashes_per_diff1_share(self) -> f64 {
        2f64.powi(256) / self.diff1_target().to_f64()
    }

    /// The PoW hash of an 80-byte header, internal byte order. scrypt uses this thread's
    /// scratchpad.
    pub fn pow_hash(self, header: &[u8; 80]) -> [u8; 32] {
        match self {
            Algorithm::Sha256d => hash::sha256d_header(header),
            Algorithm::Scrypt => hash::scrypt_header(header),
        }
    }

    /// [`Algorithm::pow_hash`] with a caller-owned scrypt scratchpad.
    pub fn pow_hash_with_scratch(self, header: &[u8; 80], scratch: &mut ScryptScratch) -> [u8; 32] {
        match self {
            Algorithm::Sha256d => hash::sha256d_header(header),
            Algorithm::Scrypt => hash::scrypt_header_with_scratch(header, scratch),
        }
    }

    /// The share target of a pool difficulty: floor(diff1 / d), computed exactly from the
    /// binary value of `d` in 256-bit integers, so that a hash of exactly difficulty `d`
    /// meets it. A difficulty so small that the target passes 2^256 − 1 saturates there.
    pub fn target_for_difficulty(self, difficulty: f64) -> Result<Target, Error> {
        if !difficulty.is_finite() || difficulty <= 0.0 {
            return Err(Error::InvalidDifficulty(difficulty));
        }
        // difficulty = mantissa · 2^exponent exactly.
        let bits = difficulty.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1u64 << 52) - 1);
        let (mantissa, exponent) =
            if biased == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased - 1075) };
        let diff1 = self.diff1_target();
        Ok(if exponent >= 0 {
            diff1.shr(exponent as u32).shl_div_u64_saturating(0, mantissa)
        } else if exponent >= -256 {
            diff1.shl_div_u64_saturating((-exponent) as u32, mantissa)
        } else {
            // diff1 · 2^256 / 2^53 is already past 2^256.
            Target::MAX
        })
    }

    /// The pool difficulty a target stands for: diff1 / target (a float, for display).
    pub fn difficulty_of_target(self, target: &Target) -> f64 {
        self.diff1_target().to_f64() / target.to_f64()
    }

    /// The share difficulty of a PoW hash (internal byte order): diff1 / hash, a float for
    /// statistics. A zero hash has infinite difficulty.
    pub fn share_difficulty(self, pow_hash: &[u8; 32]) -> f64 {
        self.difficulty_of_target(&Target::from_le_bytes(pow_hash))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "sha256d" | "sha256" => Ok(Algorithm::Sha256d),
            "scrypt" => Ok(Algorithm::Scrypt),
            _ => Err(Error::UnknownAlgorithm(s.to_string())),
        }
    }
}

/// A chain preset: its PoW algorithm and its proof-of-work limit (`powLimit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coin {
    /// Lower-case coin name.
    pub name: &'static str,
    /// PoW algorithm.
    pub algorithm: Algorithm,
    /// The easiest target the chain allows.
    pub pow_limit: Target,
}

impl Coin {
    /// Bitcoin: SHA-256d, powLimit = 2^224 − 1 (`00000000ffff…`).
    pub const BITCOIN: Coin = Coin {
        name: "bitcoin",
        algorithm: Algorithm::Sha256d,
        pow_limit: Target::from_limbs([u64::MAX, u64::MAX, u64::MAX, 0x0000_0000_ffff_ffff]),
    };
    /// Litecoin: scrypt, powLimit = 2^236 − 1 (`00000fff…`).
    pub const LITECOIN: Coin = Coin {
        name: "litecoin",
        algorithm: Algorithm::Scrypt,
        pow_limit: Target::from_limbs([u64::MAX, u64::MAX, u64::MAX, 0x0000_0fff_ffff_ffff]),
    };
    /// Dogecoin: scrypt, powLimit = 2^236 − 1 (`00000fff…`), merge-mined with Litecoin.
    pub const DOGECOIN: Coin = Coin {
        name: "dogecoin",
        algorithm: Algorithm::Scrypt,
        pow_limit: Target::from_limbs([u64::MAX, u64::MAX, u64::MAX, 0x0000_0fff_ffff_ffff]),
    };

    /// Every preset.
    pub const ALL: [Coin; 3] = [Coin::BITCOIN, Coin::LITECOIN, Coin::DOGECOIN];

    /// A preset by name.
    pub fn by_name(name: &str) -> Option<Coin> {
        Coin::ALL.into_iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}
