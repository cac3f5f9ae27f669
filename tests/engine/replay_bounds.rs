//! What one replay holds is bounded whatever the transcript: lines are at most
//! `MAX_LINE_BYTES`, and queued submits close their batch by count and by size. Every
//! submit that is understood still gets exactly one verdict.

use sharecheck::Algorithm;
use sharecheck::replay::{MAX_LINE_BYTES, Replayer};
use sharecheck::validate::{Validator, ValidatorConfig};

const BITAXE: &str = include_str!("../../examples/sessions/public-pool-bitaxe-sha256d.jsonl");

/// A submit of the recorded share (valid once, a duplicate after) from `worker`.
fn recorded_share_line(id: u32, worker: &str) -> String {
    format!(
        r#"{{"id": {id}, "method": "mining.submit", "params": ["{worker}", "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"]}}"#
    )
}

/// The recorded share, `bytes` long: the worker name takes up the rest.
fn recorded_share_line_of(id: u32, bytes: usize) -> String {
    let line = recorded_share_line(id, &"w".repeat(bytes - recorded_share_line(id, "").len()));
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

#[test]
fn huge_worker_names_close_the_batch_by_size_with_one_verdict_each() {
    use sharecheck::replay::MAX_QUEUED_BYTES;
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut replayer = after_recorded_setup(&validator);
    replayer.drain();
    // Submits of 1 MiB lines (the worker name is nearly all of it): far fewer than a batch
    // by count, but the queued bytes reach the bound after this many.
    let closes_after = MAX_QUEUED_BYTES.div_ceil(MAX_LINE_BYTES);
    let submits = closes_after + 4;
    let mut ready_after_each = Vec::new();
    let mut records = Vec::new();
    for i in 0..submits {
        replayer.feed(12 + i, &recorded_share_line_of(i as u32, MAX_LINE_BYTES));
        let ready = replayer.drain().submits;
        ready_after_each.push(ready.len());
        records.extend(ready);
    }
    // No state change, no end of input: the batch closed by its size alone.
    let mut expected = vec![0; submits];
    expected[closes_after - 1] = closes_after;
    assert_eq!(ready_after_each, expected);
    records.extend(replayer.finish().submits);
    assert_eq!(records.len(), submits, "one verdict per submit");
    for (i, r) in records.iter().enumerate() {
        let worker_len = MAX_LINE_BYTES - recorded_share_line(i as u32, "").len();
        assert_eq!(r.line, 12 + i);
        assert_eq!(r.id, serde_json::json!(i));
        assert_eq!(r.result, if i == 0 { "accepted" } else { "rejected" }, "line {}", r.line);
        assert_eq!(r.worker.as_ref().map(String::len), Some(worker_len), "the worker echoed whole");
        assert_eq!(r.job_id.as_deref(), Some("1"));
    }
}
