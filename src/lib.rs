//! `sharecheck`: block-header hashing (SHA-256d, scrypt), exact difficulty and target
//! arithmetic, and Stratum V1 share validation for mining proxies.
//!
//! Layers, each depending only on those above it:
//! - [`hash`]: SHA-256 / SHA-256d / scrypt kernels and runtime CPU dispatch;
//! - [`chain`]: headers, targets, nBits, difficulty, merkle, coinbase.
#![warn(missing_docs)]

pub mod bench;
pub mod chain;
pub mod error;
pub mod hash;
pub mod replay;
pub mod stratum;
pub mod validate;

pub use chain::{Algorithm, BlockHeader, Coin, CompactTarget, Hash256, Target};
pub use error::Error;
