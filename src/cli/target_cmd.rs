//! `sharecheck target`: decode nBits, or turn a pool difficulty into a share target.

use clap::Args;
use serde::Serialize;

use super::hash_cmd::parse_algorithm;
use super::{Failure, human_number};
use sharecheck::{Algorithm, CompactTarget};

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["nbits", "difficulty"])))]
pub struct TargetArgs {
    /// Compact target as 8 hex digits (e.g. 1d00ffff).
    #[arg(long)]
    nbits: Option<String>,
    /// Pool difficulty (fractions allowed, e.g. 0.001).
    #[arg(long, allow_negative_numbers = true, requires = "algo")]
    difficulty: Option<String>,
    /// Algorithm whose difficulty-1 target applies (with --difficulty).
    #[arg(long, value_parser = parse_algorithm)]
    algo: Option<Algorithm>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct NbitsReport {
    nbits: String,
    target: String,
    negative: bool,
    overflow: bool,
    difficulty: f64,
}

#[derive(Serialize)]
struct DifficultyReport {
    algo: &'static str,
    difficulty: f64,
    target: String,
}

pub fn run(args: &TargetArgs) -> Result<i32, Failure> {
    if let Some(nbits) = &args.nbits {
        let compact = CompactTarget::from_hex(nbits.trim()).map_err(Failure::usage)?;
        let decoded = compact.decode();
        let report = NbitsReport {
            nbits: compact.to_string(),
            target: decoded.target.to_display_hex(),
            negative: decoded.negative,
            overflow: decoded.overflow,
            difficulty: compact.network_difficulty(),
        };
        if args.json {
            println!("{}", serde_json::to_string(&report).expect("plain struct serializes")); // invariant: see message
        } else {
            println!("nbits       {}", report.nbits);
            println!("target      {}", report.target);
            println!("negative    {}", report.negative);
            println!("overflow    {}", report.overflow);
            println!("difficulty  {}", human_number(report.difficulty));
        }
        return Ok(0);
    }
    let text = args.difficulty.as_deref().unwrap_or_default();
    let algo = args.algo.ok_or_else(|| Failure::usage("--difficulty needs --algo"))?;
    let difficulty: f64 = text
        .trim()
        .parse()
        .map_err(|_| Failure::usage(format!("difficulty {text:?} is not a number")))?;
    let target = algo.target_for_difficulty(difficulty).map_err(Failure::usage)?;
    let report =
        DifficultyReport { algo: algo.name(), difficulty, target: target.to_display_hex() };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("plain struct serializes")); // invariant: see message
    } else {
        println!("algo        {}", report.algo);
        println!("difficulty  {}", human_number(report.difficulty));
        println!("target      {}", report.target);
    }
    Ok(0)
}
