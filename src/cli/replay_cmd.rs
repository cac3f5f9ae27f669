//! `sharecheck replay`: one JSON verdict line per `mining.submit` of a transcript.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::time::Instant;

use clap::Args;

use super::Failure;
use super::hash_cmd::parse_algorithm;
use sharecheck::Algorithm;
use sharecheck::replay::{MAX_LINE_BYTES, ReplayReport, Replayer};
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
        let read = read_line_within(&mut reader, &mut line, MAX_LINE_BYTES)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file)))?;
        number += 1;
        match read {
            LineRead::End => break,
            LineRead::Line => replayer.feed_bytes(number, &line),
            LineRead::Overlong { length } => replayer.report_overlong_line(number, length),
        }
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

/// What [`read_line_within`] found.
#[derive(Debug, PartialEq)]
enum LineRead {
    /// The input has ended.
    End,
    /// A line, now in the buffer (without its newline).
    Line,
    /// A line longer than the limit, consumed up to its newline and not kept.
    Overlong {
        /// Its length in bytes, newline excluded.
        length: u64,
    },
}

/// Reads the next line into `line` (cleared first; newline excluded), keeping at most
/// `limit` bytes: a longer line is read through to its newline without being held, so
/// memory stays bounded whatever the input. The last line may lack its newline.
fn read_line_within(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<LineRead> {
    line.clear();
    let mut length = 0u64;
    let mut overlong = false;
    let mut read_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            if !read_any {
                return Ok(LineRead::End);
            }
            break;
        }
        read_any = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        length += part.len() as u64;
        if !overlong && line.len() + part.len() > limit {
            overlong = true;
            line.clear();
        }
        if !overlong {
            line.extend_from_slice(part);
        }
        let consumed = part.len() + usize::from(newline.is_some());
        reader.consume(consumed);
        if newline.is_some() {
            break;
        }
    }
    Ok(if overlong { LineRead::Overlong { length } } else { LineRead::Line })
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
