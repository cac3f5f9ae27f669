//! Chain primitives: headers, 256-bit targets, nBits, difficulty per algorithm, merkle
//! trees, coinbase assembly and merged mining (AuxPoW). Knows nothing of stratum or JSON.

pub mod algorithm;
pub mod auxpow;
pub mod coinbase;
pub mod compact;
pub mod hash256;
pub mod header;
pub mod merkle;
pub mod target;

pub use algorithm::{Algorithm, Coin};
pub use compact::{CompactTarget, DecodedCompact};
pub use hash256::Hash256;
pub use header::{BlockHeader, HEADER_SIZE};
pub use target::Target;
