//! Command-line front end: argument parsing and the subcommands.

mod auxpow_cmd;
mod bench_cmd;
mod hash_cmd;
#[cfg(feature = "server")]
mod proxy_cmd;
mod replay_cmd;
#[cfg(feature = "server")]
mod serve_cmd;
mod target_cmd;

use clap::{Parser, Subcommand};

/// Exit status for usage errors and bad arguments.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "sharecheck",
    version,
    about = "Proof-of-work share validation for mining proxies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hash an 80-byte block header and check it against its own nBits.
    Hash(hash_cmd::HashArgs),
    /// Show the target of an nBits value or of a pool difficulty.
    Target(target_cmd::TargetArgs),
    /// Check every mining.submit of a recorded stratum transcript (one JSON line each).
    Replay(replay_cmd::ReplayArgs),
    /// Measure hashing and share-checking capacity beside the sha2 and scrypt crates.
    Bench(bench_cmd::BenchArgs),
    /// Merged mining: check an AuxPoW, or build the commitment for a parent coinbase.
    Auxpow(auxpow_cmd::AuxpowArgs),
    /// Run a validating stratum proxy: miners connect here, valid shares go to the pool.
    #[cfg(feature = "server")]
    Proxy(Box<proxy_cmd::ProxyArgs>),
    /// Run an ASIC test bench: machines connect here and get their hashrate with a 95%
    /// interval, their hardware-error ratio and a pass/fail.
    #[cfg(feature = "server")]
    Serve(Box<serve_cmd::ServeArgs>),
}

/// A failed command: the one line printed on stderr and the exit status.
pub struct Failure {
    pub message: String,
    pub status: i32,
}

impl Failure {
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Failure { message: message.to_string(), status: EXIT_USAGE }
    }
}

/// Parses the arguments, runs the command, and returns the exit status.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return 0;
            }
            // One clear line: clap's first line of the error, without the usage block.
            let rendered = e.render().to_string();
            let first_paragraph: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            eprintln!("{}", first_paragraph.join(" "));
            return EXIT_USAGE;
        }
    };
    let result = match cli.command {
        Command::Hash(args) => hash_cmd::run(&args),
        Command::Target(args) => target_cmd::run(&args),
        Command::Replay(args) => replay_cmd::run(&args),
        Command::Bench(args) => bench_cmd::run(&args),
        Command::Auxpow(args) => auxpow_cmd::run(&args),
        #[cfg(feature = "server")]
        Command::Proxy(args) => proxy_cmd::run(&args),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve_cmd::run(&args),
    };
    match result {
        Ok(status) => status,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.status
        }
    }
}

/// Formats a float for people: plain decimals for ordinary magnitudes.
pub fn human_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x != 0.0 && (x.abs() >= 1e15 || x.abs() < 1e-6) {
        format!("{x:e}")
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
