//! `Hash256`: a 32-byte hash kept in internal (serialized) byte order, shown to people
//! byte-reversed.

use std::fmt;

use super::target::Target;
use crate::error::{Error, decode_hex_array};

/// A 32-byte hash in internal byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash256(pub [u8; 32]);

impl Hash256 {
    /// Parses display-order hex (as block explorers and RPC show hashes and txids).
    pub fn from_display_hex(s: &str) -> Result<Hash256, Error> {
        let mut b: [u8; 32] = decode_hex_array("hash", s)?;
        b.reverse();
        Ok(Hash256(b))
    }

    /// Parses internal-order hex (as stratum sends merkle branch entries).
    pub fn from_internal_hex(s: &str) -> Result<Hash256, Error> {
        Ok(Hash256(decode_hex_array("hash", s)?))
    }

    /// Display-order hex.
    pub fn to_display_hex(&self) -> String {
        let mut b = self.0;
        b.reverse();
        hex::encode(b)
    }

    /// Internal-order hex.
    pub fn to_internal_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The hash read as a little-endian 256-bit integer (its PoW value).
    pub fn to_target_value(&self) -> Target {
        Target::from_le_bytes(&self.0)
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_display_hex())
    }
}
