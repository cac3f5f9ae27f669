//! `sharecheck`: block-header hashing (SHA-256d, scrypt), exact difficulty and target
//! arithmetic, and Stratum V1 share validation for mining proxies.
//!
//! Layers, each depending only on those above it:
//! - [`hash`]: SHA-256 / SHA-256d / scrypt kernels and runtime CPU dispatch;
//! - [`chain`]: headers, targets, nBits, difficulty, merkle, coinbase;
//! - [`stratum`]: Stratum V1 wire types;
//! - [`validate`]: jobs, sessions, the share check, duplicates, verdicts, batches;
//! - [`replay`]: transcripts through a validator (what `sharecheck replay` runs);
//! - `server` (cargo feature `server`, default): the stratum proxy (`sharecheck proxy`).
//!
//! Checking a share as a proxy does (the real public-pool Bitaxe share, testnet3):
//!
//! ```
//! use serde_json::json;
//! use sharecheck::Algorithm;
//! use sharecheck::stratum::Notify;
//! use sharecheck::validate::{Outcome, Validator, ValidatorConfig};
//!
//! let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
//! let mut miner = validator.new_session();
//! miner.set_extranonce(hex::decode("57a6f098")?, 4)?; // mining.subscribe result
//! miner.set_version_mask(Some(0x1fffe000)); // mining.configure result
//! validator.set_difficulty(&mut miner, 512.0)?;
//! validator.notify(Notify::from_params(&json!(["1",
//!     "171592f223740e92d223f6e68bff25279af7ac4f2246451e0000000200000000",
//!     "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1903c943255c7075626c69632d706f6f6c5c",
//!     "ffffffff037a90000000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc3b0f250000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc0000000000000000266a24aa21a9edbd3d1d916aa0b57326a2d88ebe1b68a1d7c48585f26d8335fe6a94b62755f64c00000000",
//!     ["175335649d5e8746982969ec88f52e85ac9917106fba5468e699c8879ab974a1",
//!      "d5644ab3e708c54cd68dc5aedc92b8d3037449687f92ec41ed6e37673d969d4a",
//!      "5c9ec187517edc0698556cca5ce27e54c96acb014770599ed9df4d4937fbf2b0"],
//!     "20000000", "192495f8", "64b3f3ec", false]))?)?;
//!
//! let submit = json!(["tb1q….bitaxe3", "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"]);
//! let verdict = validator.check_params(&miner, &submit);
//! assert_eq!(verdict.outcome, Outcome::Accepted);
//! assert_eq!(verdict.pow_hash.map(|h| h.to_display_hex()).as_deref(),
//!            Some("000000000061d52983863e5c424c00d9e0981874fddf6a8493433e73928a3e4e"));
//! // Sent again (any hex case): a duplicate, answered with stratum error 22.
//! let again = validator.check_params(&miner, &submit);
//! assert_eq!(again.stratum_error(), json!([22, "Duplicate share", null]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod bench;
pub mod chain;
pub mod error;
pub mod hash;
pub mod replay;
#[cfg(feature = "server")]
pub mod server;
pub mod stratum;
pub mod validate;

pub use chain::{Algorithm, BlockHeader, Coin, CompactTarget, Hash256, Target};
pub use error::Error;
