//! `sharecheck replay`: one JSON verdict line per `mining.submit` of a transcript.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::time::Instant;

use clap::Args;

use super::Failure;
use super::hash_cmd::parse_algorithm;
use sharecheck::Algorithm;
use sharecheck::replay::replay_lines;
use sharecheck::validate::{Validator, ValidatorConfig};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// PoW algorithm of the session: sha256d or scrypt.
    #[arg(long, value_parser = parse_algorithm)]
    algo: Algorithm,
    /// Seconds a share's ntime may run ahead of its job's (default 7000).
    #[arg(long, default_value_t = ValidatorConfig::default().ntime_window)]
    ntime_window: u32,
    /// Report every submit where the pool's recorded answer and ours differ.
    #[arg(long)]
    compare: bool,
    /// Transcript file, or - for standard input.
    file: String,
}

fn read_input(path: &str) -> Result<String, Failure> {
    let mut text = String::new();
    let result = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)).map(|_| ())
    };
    result.map_err(|e| Failure::usage(format!("cannot read {path}: {e}")))?;
    Ok(text)
}

pub fn run(args: &ReplayArgs) -> Result<i32, Failure> {
    let text = read_input(&args.file)?;
    let config = ValidatorConfig { ntime_window: args.ntime_window, ..ValidatorConfig::default() };
    let validator = Validator::new(args.algo, config);
    let started = Instant::now();
    let report = replay_lines(&validator, text.lines());
    let elapsed = started.elapsed().as_secs_f64();

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for record in &report.submits {
        let line = serde_json::to_string(record).expect("record serializes");
        if writeln!(out, "{line}").is_err() {
            return Err(Failure::usage("cannot write to stdout"));
        }
    }
    out.flush().map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))?;

    for p in &report.problems {
        eprintln!("line {}: not understood: {}", p.line, p.error);
    }
    for p in &report.refused_jobs {
        eprintln!("line {}: {}", p.line, p.error);
    }
    if args.compare {
        for d in &report.disagreements {
            eprintln!(
                "compare: submit on line {} — pool {} (line {}{}), sharecheck {}",
                d.submit_line,
                if d.pool_accepted { "accepted" } else { "rejected" },
                d.response_line,
                if d.pool_error.is_null() {
                    String::new()
                } else {
                    format!(", error {}", d.pool_error)
                },
                d.ours
            );
        }
    }
    let mut by_result: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &report.submits {
        *by_result.entry(r.result).or_default() += 1;
        if let Some(reason) = r.reason {
            *by_reason.entry(reason).or_default() += 1;
        }
    }
    let list = |m: &BTreeMap<&str, usize>| {
        m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    };
    eprintln!(
        "summary: {} submits ({}); reasons: {}",
        report.submits.len(),
        if by_result.is_empty() { "none".to_string() } else { list(&by_result) },
        if by_reason.is_empty() { "none".to_string() } else { list(&by_reason) },
    );
    let rate = if elapsed > 0.0 { report.submits.len() as f64 / elapsed } else { 0.0 };
    eprintln!(
        "summary: {} lines not understood, {} jobs refused{}; {:.0} shares checked/s ({} algorithm)",
        report.problems.len(),
        report.refused_jobs.len(),
        if args.compare {
            format!(", {} disagreements with the pool", report.disagreements.len())
        } else {
            String::new()
        },
        rate,
        args.algo
    );
    Ok(if report.problems.is_empty() { 0 } else { 1 })
}
