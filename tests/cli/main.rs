//! The `sharecheck` program itself, run as a child process: one module a file.

#[path = "../common/mod.rs"]
mod common;

mod auxpow_cli;
mod cli;
mod replay_cli;
