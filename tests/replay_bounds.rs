//! What one replay holds is bounded whatever the transcript: lines are at most
//! `MAX_LINE_BYTES`, and queued submits close their batch by count and by size. Every
//! submit that is understood still gets exactly one verdict.

use sharecheck::Algorithm;
use sharecheck::replay::{MAX_LINE_BYTES, Replayer};
use sharecheck::validate::{Validator, ValidatorConfig};

const BITAXE: &str = include_str!("../examples/sessions/public-pool-bitaxe-sha256d.jsonl");

/// A submit of the recorded share (valid once, a duplicate after), `bytes` long: the worker
/// name takes up the rest.
fn recorded_share_line_of(id: u32, bytes: usize) -> String {
    let line = |worker: &str| {
        format!(
            r#"{{"id": {id}, "method": "mining.submit", "params": ["{worker}", "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"]}}"#
        )
    };
    let line = line(&"w".repeat(bytes - line("").len()));
    assert_eq!(line.len(), bytes);
    line
}

/// A replayer fed lines 1–11 of the recording (subscribe … notify).
fn after_recorded_setup(validator: &Validator) -> Replayer<'_> {
    let mut replayer = Replayer::new(validator);
    for (i, line) in BITAXE.lines().take(11).enumerate() {
        replayer.feed(i + 1, line);
    }
    replayer
}

#[test]
fn a_line_longer_than_the_limit_is_not_understood() {
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut replayer = after_recorded_setup(&validator);
    replayer.feed(12, &recorded_share_line_of(1, MAX_LINE_BYTES));
    replayer.feed(13, &format!("{}\n", recorded_share_line_of(2, MAX_LINE_BYTES))); // newline not counted
    replayer.feed(14, &recorded_share_line_of(3, MAX_LINE_BYTES + 1));
    let report = replayer.finish();
    let verdicts: Vec<_> = report.submits.iter().map(|s| (s.line, s.result)).collect();
    assert_eq!(verdicts, [(12, "accepted"), (13, "rejected")]);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].line, 14);
    assert_eq!(
        report.problems[0].error.to_string(),
        format!(
            "malformed transcript line: {} bytes, longer than the limit of {MAX_LINE_BYTES}",
            MAX_LINE_BYTES + 1
        )
    );
}
