//! `sharecheck auxpow`: merged mining for operators and explorers. `verify` checks an
//! AuxPoW as Dogecoin does (and the parent's proof of work against the aux target);
//! `commit` builds the merged-mining commitment for a parent coinbase.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::Failure;
use super::hash_cmd::parse_algorithm;
use sharecheck::chain::auxpow::{AuxBlock, AuxPow, Commitment};
use sharecheck::{Algorithm, Hash256};

#[derive(Args, Debug)]
pub struct AuxpowArgs {
    #[command(subcommand)]
    command: AuxpowCommand,
}

#[derive(Subcommand, Debug)]
enum AuxpowCommand {
    /// Check an aux block's AuxPoW (BLOCK_HEX), or an AuxPoW for a given aux block hash
    /// and nBits (--aux-hash, --bits, --auxpow).
    Verify(VerifyArgs),
    /// The merged-mining commitment for one or more aux chains.
    Commit(CommitArgs),
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The parent chain's PoW algorithm: scrypt (Litecoin) or sha256d (Bitcoin).
    #[arg(long, value_parser = parse_algorithm)]
    parent_algo: Algorithm,
    /// The aux chain's id (Dogecoin: 98).
    #[arg(long, allow_negative_numbers = true)]
    chain_id: i32,
    /// An aux block as its node serializes it (header, AuxPoW, transactions), hex.
    #[arg(conflicts_with_all = ["aux_hash", "bits", "auxpow"], required_unless_present = "auxpow")]
    block_hex: Option<String>,
    /// The aux block hash, display order (with --auxpow).
    #[arg(long, requires_all = ["bits", "auxpow"])]
    aux_hash: Option<String>,
    /// The aux block's nBits, 8 hex digits (with --auxpow).
    #[arg(long, requires_all = ["aux_hash", "auxpow"])]
    bits: Option<String>,
    /// The AuxPoW, hex, as `submitauxblock` takes it.
    #[arg(long, requires_all = ["aux_hash", "bits"])]
    auxpow: Option<String>,
    /// Accept a parent carrying the aux chain's own chain id (test networks; Dogecoin
    /// mainnet refuses it).
    #[arg(long)]
    no_strict_chain_id: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct CommitArgs {
    /// An aux chain and its block to commit to, CHAIN_ID:HASH (hash in display order, as
    /// `createauxblock` gives it); repeat for more chains.
    #[arg(long = "chain", required = true)]
    chains: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct VerifyReport {
    valid: bool,
    reason: Option<&'static str>,
    aux_block_hash: String,
    parent_block_hash: String,
    parent_pow_hash: String,
    pow_valid: bool,
    coinbase_txid: String,
    chain_index: i32,
}

#[derive(Serialize)]
struct ChainReport {
    chain_id: i32,
    index: u32,
    branch: Vec<String>,
}

#[derive(Serialize)]
struct CommitReport {
    script_hex: String,
    root: String,
    merkle_size: u32,
    merkle_nonce: u32,
    chains: Vec<ChainReport>,
}

fn decode_hex(what: &str, text: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(text.trim()).map_err(|e| Failure::usage(format!("{what} is not valid hex: {e}")))
}

fn display_hash(what: &str, text: &str) -> Result<Hash256, Failure> {
    Hash256::from_display_hex(text.trim()).map_err(|e| Failure::usage(format!("{what}: {e}")))
}

pub fn run(args: &AuxpowArgs) -> Result<i32, Failure> {
    match &args.command {
        AuxpowCommand::Verify(a) => verify(a),
        AuxpowCommand::Commit(a) => commit(a),
    }
}

fn verify(args: &VerifyArgs) -> Result<i32, Failure> {
    let (auxpow, aux_hash, bits) = match (&args.block_hex, &args.aux_hash, &args.bits, &args.auxpow)
    {
        (Some(block), _, _, _) => {
            let bytes = decode_hex("BLOCK_HEX", block)?;
            let block = AuxBlock::parse(&bytes).map_err(Failure::usage)?;
            let (hash, bits) = (block.hash(), block.bits());
            (block.auxpow, hash, bits)
        }
        (None, Some(hash), Some(bits), Some(auxpow)) => {
            let bytes = decode_hex("--auxpow", auxpow)?;
            let auxpow = AuxPow::from_bytes(&bytes).map_err(Failure::usage)?;
            let bits = sharecheck::stratum::wire::parse_word(bits.trim())
                .ok_or_else(|| Failure::usage("--bits must be 8 hex digits"))?;
            (auxpow, display_hash("--aux-hash", hash)?, bits)
        }
        _ => return Err(Failure::usage("give BLOCK_HEX, or --aux-hash, --bits and --auxpow")),
    };
    let check = auxpow.check(&aux_hash, args.chain_id, !args.no_strict_chain_id);
    let report = VerifyReport {
        valid: check.is_ok(),
        reason: check.err().map(|f| f.code()),
        aux_block_hash: aux_hash.to_display_hex(),
        parent_block_hash: auxpow.parent_block_hash().to_display_hex(),
        parent_pow_hash: auxpow.parent_pow_hash(args.parent_algo).to_display_hex(),
        pow_valid: auxpow.parent_pow_meets(args.parent_algo, bits),
        coinbase_txid: auxpow.coinbase_txid().to_display_hex(),
        chain_index: auxpow.chain_index,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        let reason = check.err().map(|f| format!(" ({}: {f})", f.code())).unwrap_or_default();
        println!("valid             {}{reason}", if report.valid { "yes" } else { "no" });
        println!("aux block hash    {}", report.aux_block_hash);
        println!("parent block hash {}", report.parent_block_hash);
        println!("parent pow hash   {}", report.parent_pow_hash);
        println!(
            "pow valid         {} (nBits {bits:08x})",
            if report.pow_valid { "yes" } else { "no" }
        );
        println!("coinbase txid     {}", report.coinbase_txid);
        println!("chain index       {}", report.chain_index);
    }
    Ok(if report.valid && report.pow_valid { 0 } else { 1 })
}

fn commit(args: &CommitArgs) -> Result<i32, Failure> {
    let chains = args
        .chains
        .iter()
        .map(|c| {
            let (id, hash) = c
                .split_once(':')
                .ok_or_else(|| Failure::usage(format!("--chain {c}: expected CHAIN_ID:HASH")))?;
            let id: i32 = id.trim().parse().map_err(|_| {
                Failure::usage(format!("--chain {c}: the chain id is not a number"))
            })?;
            Ok((id, display_hash("--chain", hash)?))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let commitment = Commitment::build(&chains).map_err(Failure::usage)?;
    let display = |h: &[u8; 32]| {
        let mut b = *h;
        b.reverse();
        hex::encode(b)
    };
    let report = CommitReport {
        script_hex: hex::encode(&commitment.script),
        root: display(&commitment.root),
        merkle_size: commitment.merkle_size,
        merkle_nonce: commitment.merkle_nonce,
        chains: commitment
            .chains
            .iter()
            .map(|c| ChainReport {
                chain_id: c.chain_id,
                index: c.index,
                branch: c.branch.iter().map(display).collect(),
            })
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!("script      {}", report.script_hex);
        println!("root        {}", report.root);
        println!("merkle size {} (nonce {})", report.merkle_size, report.merkle_nonce);
        for c in &report.chains {
            println!(
                "chain {:<5} index {:<5} branch [{}]",
                c.chain_id,
                c.index,
                c.branch.join(", ")
            );
        }
    }
    Ok(0)
}
