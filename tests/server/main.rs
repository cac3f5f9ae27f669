//! The proxy over loopback and the test bench's own jobs (feature `server`): one module a
//! file.

#[path = "../common/mod.rs"]
mod common;

mod local_jobs;
mod proxy_aggregate;
mod proxy_difficulty;
mod proxy_passthrough;
