//! The proxy and the test bench over loopback (feature `server`): one module a file.

#[path = "../common/mod.rs"]
mod common;

mod local_jobs;
mod proxy_aggregate;
mod proxy_difficulty;
mod proxy_passthrough;
mod proxy_robustness;
mod serve;
