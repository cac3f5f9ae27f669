//! Hash kernels: SHA-256 / SHA-256d with midstates, scrypt(1024, 1, 1), and the runtime
//! CPU dispatch that picks the implementation. Knows nothing of headers or stratum.

pub mod platform;
pub mod scrypt;
pub mod sha256;

pub use platform::{Platform, ScryptPath, Sha256Path};
pub use scrypt::{
    ScryptBatchScratch, ScryptScratch, scrypt_header, scrypt_header_with_scratch, scrypt_headers,
};
pub use sha256::{Midstate, Sha256, sha256, sha256d, sha256d_64, sha256d_header, sha256d_headers};
