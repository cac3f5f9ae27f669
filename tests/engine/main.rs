//! The share engine, the chain code and the replay, through the library's public API: one
//! module a file, each of which was a test crate of its own before (one binary builds and
//! links in a fraction of the time a dozen take).

#[path = "../common/mod.rs"]
mod common;

mod aux_shares;
mod auxpow;
mod concurrency;
mod errors;
mod jobs;
mod limits;
mod properties;
mod reasons;
mod replay_bounds;
mod replay_ids;
mod scrypt_session_independent;
mod shares;
mod vectors;
