//! `sharecheck hash`: PoW hash, block hash and target check of one header.

use clap::Args;
use serde::Serialize;

use super::{Failure, human_number};
use sharecheck::{Algorithm, BlockHeader};

#[derive(Args, Debug)]
pub struct HashArgs {
    /// PoW algorithm: sha256d or scrypt.
    #[arg(long, value_parser = parse_algorithm)]
    algo: Algorithm,
    /// The 80-byte header as 160 hex digits.
    header_hex: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    s.parse::<Algorithm>().map_err(|e| e.to_string())
}

#[derive(Serialize)]
struct HashReport {
    algo: &'static str,
    pow_hash: String,
    block_hash: String,
    target: String,
    meets_target: bool,
    share_difficulty: f64,
}

pub fn run(args: &HashArgs) -> Result<i32, Failure> {
    let header = BlockHeader::from_hex(args.header_hex.trim()).map_err(Failure::usage)?;
    let pow = header.pow_hash(args.algo);
    let report = HashReport {
        algo: args.algo.name(),
        pow_hash: pow.to_display_hex(),
        block_hash: header.block_hash().to_display_hex(),
        target: header.bits.decode().target.to_display_hex(),
        meets_target: header.bits.to_pow_target().is_some_and(|t| t.is_met_by(&pow.0)),
        share_difficulty: args.algo.share_difficulty(&pow.0),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("plain struct serializes")); // invariant: see message
    } else {
        println!("algo              {}", report.algo);
        println!("pow hash          {}", report.pow_hash);
        println!("block hash        {}", report.block_hash);
        println!("target (nBits {})  {}", header.bits, report.target);
        println!("meets target      {}", if report.meets_target { "yes" } else { "no" });
        println!("share difficulty  {}", human_number(report.share_difficulty));
    }
    Ok(0)
}
