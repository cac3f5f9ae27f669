//! `sharecheck replay` on the bundled sessions and on bad input.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sharecheck"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn sharecheck(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = spawn(args);
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn records(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect()
}

const SCRYPT_SESSION: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sessions/litecoin-scrypt.jsonl");
const BITAXE_SESSION: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sessions/public-pool-bitaxe-sha256d.jsonl");

#[test]
fn bundled_scrypt_session_matches_its_construction() {
    let out = sharecheck(&["replay", "--algo", "scrypt", "--compare", SCRYPT_SESSION], None);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(stderr.contains("0 disagreements with the pool"), "{stderr}");
    // Every submit's code equals the code of the answer the generator wrote for it.
    let text = std::fs::read_to_string(SCRYPT_SESSION).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let recs = records(&out);
    let submits = lines.iter().filter(|l| l.contains("\"mining.submit\"")).count();
    assert_eq!(recs.len(), submits, "one verdict per submit");
    let mut reasons = std::collections::BTreeSet::new();
    for r in &recs {
        let line = r["line"].as_u64().unwrap() as usize;
        let answer: Value = serde_json::from_str(lines[line]).unwrap(); // the next line
        assert_eq!(answer["id"], r["id"]);
        let expected_code = answer["error"].get(0).cloned().unwrap_or(Value::Null);
        assert_eq!(r["code"], expected_code, "line {line}");
        if let Some(reason) = r["reason"].as_str() {
            reasons.insert(reason.to_string());
        }
        assert_eq!(r["hash"].is_null(), r["share_difficulty"].is_null());
    }
    assert_eq!(reasons.len(), 10, "every reason occurs: {reasons:?}");
    assert!(recs.iter().any(|r| r["result"] == "block"));
}

#[test]
fn bundled_bitaxe_session_from_file_and_stdin() {
    let out = sharecheck(&["replay", "--algo", "sha256d", "--compare", BITAXE_SESSION], None);
    assert_eq!(out.status.code(), Some(0));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["result"], "accepted");
    assert_eq!(recs[0]["hash"], "000000000061d52983863e5c424c00d9e0981874fddf6a8493433e73928a3e4e");
    assert_eq!(recs[0]["id"], 5);
    assert_eq!(recs[0]["line"], 12);
    let text = std::fs::read_to_string(BITAXE_SESSION).unwrap();
    let out_stdin = sharecheck(&["replay", "--algo", "sha256d", "-"], Some(&text));
    assert_eq!(records(&out_stdin), recs);
}

#[test]
fn compare_reports_disagreement_with_the_pool() {
    // The recorded share, with the pool's answer flipped to a rejection.
    let text = std::fs::read_to_string(BITAXE_SESSION).unwrap().replace(
        r#"{"id": 5, "error": null, "result": true}"#,
        r#"{"id": 5, "error": [23, "Low difficulty", null], "result": null}"#,
    );
    let out = sharecheck(&["replay", "--algo", "sha256d", "--compare", "-"], Some(&text));
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("compare: submit on line 12"), "{stderr}");
    assert!(stderr.contains("1 disagreements"), "{stderr}");
}

#[test]
fn lines_not_understood_exit_1_and_usage_errors_exit_2() {
    let text = "{\"id\":1,\"method\":\"mining.submit\",\"params\":[\"w\",\"j\",\"00\",\"00\",\"00\"]}\nnot json\n";
    let out = sharecheck(&["replay", "--algo", "sha256d", "-"], Some(text));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(records(&out).len(), 1);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 2: not understood"), "{stderr}");

    let out = sharecheck(&["replay", "--algo", "sha256d", "/nonexistent/transcript"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = sharecheck(&["replay", "--algo", "md5", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = sharecheck(&["replay", "--algo", "sha256d", "--ntime-window", "-5", "-"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_live_stream_is_answered_before_it_ends() {
    use std::io::{BufRead, BufReader};
    let text = std::fs::read_to_string(BITAXE_SESSION).unwrap();
    let upto_submit: String = text.lines().take(12).map(|l| format!("{l}\n")).collect();
    let mut child = spawn(&["replay", "--algo", "sha256d", "-"]);
    let mut input = child.stdin.take().unwrap();
    input.write_all(upto_submit.as_bytes()).unwrap();
    input.flush().unwrap();
    // The verdict arrives while stdin is still open.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let record: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(record["result"], "accepted");
    drop(input);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn long_runs_of_submits_and_invalid_utf8() {
    // 600 submits in a row (more than one batch), then a line that is not UTF-8.
    let mut text = std::fs::read_to_string(BITAXE_SESSION).unwrap();
    let submit = r#"{"id": 9, "method": "mining.submit", "params": ["w", "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"]}"#;
    for _ in 0..600 {
        text.push_str(submit);
        text.push('\n');
    }
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not utf-8\n");
    let mut child = spawn(&["replay", "--algo", "sha256d", "-"]);
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || input.write_all(&bytes).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "the non-UTF-8 line is not understood");
    let recs = records(&out);
    assert_eq!(recs.len(), 601);
    assert_eq!(recs[0]["result"], "accepted");
    assert!(recs[1..].iter().all(|r| r["reason"] == "duplicate"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 614: not understood"), "{stderr}");
}

/// A bound only to stop a test whose binary hangs; these runs take well under a second.
const REPLAY_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn compare_pairs_answers_with_reused_ids_in_order() {
    // Two submits in flight with id 7: the recorded share (valid), then the same share (a
    // duplicate). The pool's answers come in the wrong order: both disagree, each with the
    // submit it answers.
    let recorded = std::fs::read_to_string(BITAXE_SESSION).unwrap();
    let mut text: String = recorded.lines().take(11).map(|l| format!("{l}\n")).collect();
    let submit = r#"{"id": 7, "method": "mining.submit", "params": ["w", "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"]}"#;
    text.push_str(&format!("{submit}\n{submit}\n"));
    text.push_str("{\"id\": 7, \"result\": null, \"error\": [22, \"Duplicate share\", null]}\n");
    text.push_str("{\"id\": 7, \"result\": true, \"error\": null}\n");
    let args = ["replay", "--algo", "sha256d", "--compare", "-"];
    let (out, _) = common::run_sharecheck_within(&args, text.into_bytes(), REPLAY_LIMIT);
    assert_eq!(out.status.code(), Some(0));
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!((&recs[0]["result"], &recs[1]["reason"]), (&"accepted".into(), &"duplicate".into()));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let compare: Vec<&str> = stderr.lines().filter(|l| l.starts_with("compare:")).collect();
    assert_eq!(
        compare,
        [
            "compare: submit on line 12 — pool rejected (line 14, error [22,\"Duplicate share\",null]), sharecheck accepted",
            "compare: submit on line 13 — pool accepted (line 15), sharecheck rejected (duplicate)",
        ],
        "{stderr}"
    );
    assert!(stderr.contains(", 2 disagreements with the pool"), "{stderr}");
}

/// A submit of the recorded share (valid once, a duplicate after) whose line, newline
/// excluded, is exactly `bytes` long: the worker name takes up the rest.
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

#[test]
fn a_line_past_the_length_limit_is_skipped_and_the_stream_goes_on() {
    use sharecheck::replay::MAX_LINE_BYTES;
    let recorded = std::fs::read_to_string(BITAXE_SESSION).unwrap();
    let mut text: String = recorded.lines().take(11).map(|l| format!("{l}\n")).collect();
    text.push_str(&recorded_share_line_of(20, MAX_LINE_BYTES)); // line 12: at the limit
    text.push('\n');
    text.push_str(&recorded_share_line_of(21, MAX_LINE_BYTES + 1)); // line 13: one byte over
    text.push('\n');
    text.push_str(&recorded_share_line_of(22, 200)); // line 14
    text.push('\n');
    text.push_str(&recorded_share_line_of(23, 200)); // line 15, without a newline at the end
    let (out, _) = common::run_sharecheck_within(
        &["replay", "--algo", "sha256d", "-"],
        text.into_bytes(),
        REPLAY_LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "a line not understood");
    let recs = records(&out);
    let lines: Vec<_> =
        recs.iter().map(|r| (r["line"].as_u64().unwrap(), r["id"].clone())).collect();
    assert_eq!(lines, [(12, 20.into()), (14, 22.into()), (15, 23.into())]);
    assert_eq!(recs[0]["result"], "accepted");
    assert_eq!(recs[1]["reason"], "duplicate");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = format!(
        "line 13: not understood: malformed transcript line: {} bytes, longer than the limit of {MAX_LINE_BYTES}",
        MAX_LINE_BYTES + 1
    );
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    assert!(stderr.contains("1 lines not understood"), "{stderr}");
}

/// Peak resident memory of a running process, in bytes (Linux: VmHWM).
fn peak_resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    Some(kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok()? * 1024)
}

#[test]
fn a_long_line_is_skipped_as_it_is_read_in_bounded_memory() {
    // 64 MiB in one line (standing in for the 1 GiB once read whole into memory), then a
    // submit, with stdin left open: the submit is answered live, and while the replay
    // waits for more input its peak memory shows the long line was never held.
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    const LONG: usize = 64 << 20;
    let mut input = vec![b'x'; LONG];
    input.push(b'\n');
    input.extend_from_slice(recorded_share_line_of(1, 200).as_bytes());
    input.push(b'\n');
    let started = std::time::Instant::now();
    let mut child = spawn(&["replay", "--algo", "sha256d", "-"]);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let (close_stdin, closed) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        let _ = stdin.flush();
        let _ = closed.recv_timeout(REPLAY_LIMIT); // stdin stays open until then
    });
    let stdout = child.stdout.take().unwrap();
    let (verdict_line, verdict) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = verdict_line.send(first);
    });
    let first = verdict.recv_timeout(REPLAY_LIMIT);
    let peak = peak_resident_bytes(pid);
    close_stdin.send(()).unwrap();
    writer.join().unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > REPLAY_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("replay still running after {REPLAY_LIMIT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();

    let first = first.expect("the submit after the long line is answered while stdin is open");
    let record: Value = serde_json::from_str(&first).unwrap();
    assert_eq!((&record["line"], &record["result"]), (&2.into(), &"rejected".into()));
    if let Some(peak) = peak {
        assert!(peak < 32 << 20, "peak resident memory {peak} bytes for a {LONG}-byte line");
    }
    assert_eq!(status.code(), Some(1), "{stderr}");
    let expected = format!("line 1: not understood: malformed transcript line: {LONG} bytes");
    assert!(stderr.contains(&expected), "{stderr}");
}
