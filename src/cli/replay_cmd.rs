//! `sharecheck replay`: one JSON verdict line per `mining.submit` of a transcript.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::time::Instant;

use clap::Args;

use super::Failure;
use super::hash_cmd::parse_algorithm;
use sharecheck::Algorithm;
use sharecheck::replay::{ReplayReport, Replayer};
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

/// Statistics over the whole replay.
#[derive(Default)]
struct Totals {
    submits: usize,
    by_result: BTreeMap<&'static str, usize>,
    by_reason: BTreeMap<&'static str, usize>,
    problems: usize,
    refused: usize,
    disagreements: usize,
}

pub fn run(args: &ReplayArgs) -> Result<i32, Failure> {
    let input: BufReader<Box<dyn Read>> = if args.file == "-" {
        BufReader::with_capacity(1 << 16, Box::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file)))?;
        BufReader::with_capacity(1 << 16, Box::new(file))
    };
    let config = ValidatorConfig { ntime_window: args.ntime_window, ..ValidatorConfig::default() };
    let validator = Validator::new(args.algo, config);
    let mut replayer = Replayer::new(&validator);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    let started = Instant::now();
    let mut reader = input;
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file)))?;
        if read == 0 {
            break;
        }
        number += 1;
        replayer.feed_bytes(number, &line);
        // Nothing more waiting in the input: answer what is queued now (a live stream is
        // answered line by line; a file is checked in large batches).
        // (`buffer()` looks without reading: a read would block on a quiet stream.)
        let idle = reader.buffer().is_empty();
        if idle {
            replayer.flush();
        }
        emit(&mut out, replayer.drain(), &mut totals, args.compare)?;
        if idle {
            out.flush().map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))?;
        }
    }
    emit(&mut out, replayer.finish(), &mut totals, args.compare)?;
    out.flush().map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))?;
    let elapsed = started.elapsed().as_secs_f64();

    let list = |m: &BTreeMap<&str, usize>| {
        if m.is_empty() {
            return "none".to_string();
        }
        m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    };
    eprintln!(
        "summary: {} submits ({}); reasons: {}",
        totals.submits,
        list(&totals.by_result),
        list(&totals.by_reason),
    );
    let rate = if elapsed > 0.0 { totals.submits as f64 / elapsed } else { 0.0 };
    eprintln!(
        "summary: {} lines not understood, {} jobs refused{}; {:.0} shares checked/s ({} algorithm)",
        totals.problems,
        totals.refused,
        if args.compare {
            format!(", {} disagreements with the pool", totals.disagreements)
        } else {
            String::new()
        },
        rate,
        args.algo
    );
    Ok(if totals.problems == 0 { 0 } else { 1 })
}

/// Prints ready verdicts on stdout and problems on stderr, and counts them.
fn emit(
    out: &mut impl Write,
    report: ReplayReport,
    totals: &mut Totals,
    compare: bool,
) -> Result<(), Failure> {
    for record in &report.submits {
        let line = serde_json::to_string(record).expect("record serializes"); // invariant: see message
        writeln!(out, "{line}")
            .map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))?;
        totals.submits += 1;
        *totals.by_result.entry(record.result).or_default() += 1;
        if let Some(reason) = record.reason {
            *totals.by_reason.entry(reason).or_default() += 1;
        }
    }
    for p in &report.problems {
        eprintln!("line {}: not understood: {}", p.line, p.error);
    }
    for p in &report.refused_jobs {
        eprintln!("line {}: {}", p.line, p.error);
    }
    totals.problems += report.problems.len();
    totals.refused += report.refused_jobs.len();
    totals.disagreements += report.disagreements.len();
    if compare {
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
    Ok(())
}
