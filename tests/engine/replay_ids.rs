//! `--compare` pairs each pool answer with the right request when miners reuse ids (cgminer
//! after a restart, firmware that sends id 4 for every submit): stratum answers in order on
//! one connection, so the first answer with id X belongs to the oldest unanswered request
//! with id X. Built on the real public-pool Bitaxe recording: its share is valid the first
//! time and a duplicate every time after.

use sharecheck::Algorithm;
use sharecheck::replay::{Disagreement, MAX_UNANSWERED_REQUESTS, ReplayReport, Replayer};
use sharecheck::validate::{Validator, ValidatorConfig};

const BITAXE: &str = include_str!("../../examples/sessions/public-pool-bitaxe-sha256d.jsonl");

/// The recorded share (the pool's submit id replaced).
const SHARE: &str = r#"["tb1qumezefzdeqqwn5zfvgdrhxjzc5ylr39uhuxcz4.bitaxe3", "1", "c7080000", "64b3f3ec", "ed460d91", "00002000"]"#;

const DUPLICATE_ERROR: &str = r#"[22, "Duplicate share", null]"#;

fn submit(id: &str) -> String {
    format!(r#"{{"id": {id}, "method": "mining.submit", "params": {SHARE}}}"#)
}

fn pool_accepts(id: &str) -> String {
    format!(r#"{{"id": {id}, "result": true, "error": null}}"#)
}

fn pool_rejects_duplicate(id: &str) -> String {
    format!(r#"{{"id": {id}, "result": null, "error": {DUPLICATE_ERROR}}}"#)
}

/// Lines 1–11 of the recording: subscribe, configure, authorize, difficulty, notify.
fn recorded_setup() -> Vec<String> {
    BITAXE.lines().take(11).map(str::to_string).collect()
}

fn replay(lines: &[String]) -> ReplayReport {
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut replayer = Replayer::new(&validator);
    for (i, line) in lines.iter().enumerate() {
        replayer.feed(i + 1, line);
    }
    let report = replayer.finish();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    report
}

fn results(report: &ReplayReport) -> Vec<(usize, &str, Option<&str>)> {
    report.submits.iter().map(|s| (s.line, s.result, s.reason)).collect()
}

/// (submit line, response line, pool accepted, ours) of each disagreement.
fn pairs(report: &ReplayReport) -> Vec<(usize, usize, bool, &str)> {
    report
        .disagreements
        .iter()
        .map(|d: &Disagreement| (d.submit_line, d.response_line, d.pool_accepted, d.ours.as_str()))
        .collect()
}

#[test]
fn two_submits_in_flight_with_one_id_are_answered_in_order() {
    let mut lines = recorded_setup();
    lines.push(submit("7")); // line 12: valid
    lines.push(submit("7")); // line 13: the same share again, a duplicate
    lines.push(pool_accepts("7")); // line 14: answers line 12
    lines.push(pool_rejects_duplicate("7")); // line 15: answers line 13
    let report = replay(&lines);
    assert_eq!(results(&report), [(12, "accepted", None), (13, "rejected", Some("duplicate"))]);
    assert_eq!(pairs(&report), [], "the pool agrees with every verdict");
}

#[test]
fn answers_in_the_wrong_order_disagree_on_both_submits() {
    let mut lines = recorded_setup();
    lines.push(submit("7")); // line 12: valid
    lines.push(submit("7")); // line 13: duplicate
    lines.push(pool_rejects_duplicate("7")); // line 14: answers line 12
    lines.push(pool_accepts("7")); // line 15: answers line 13
    let report = replay(&lines);
    assert_eq!(
        pairs(&report),
        [(12, 14, false, "accepted"), (13, 15, true, "rejected (duplicate)")]
    );
    assert_eq!(
        report.disagreements[0].pool_error,
        serde_json::json!([22, "Duplicate share", null])
    );
}

#[test]
fn interleaved_ids_pair_per_id() {
    let mut lines = recorded_setup();
    lines.push(submit("7")); // line 12: valid
    lines.push(submit("8")); // line 13: duplicate
    lines.push(submit("7")); // line 14: duplicate
    lines.push(submit("\"7\"")); // line 15: duplicate, and the string "7" is another id
    lines.push(pool_rejects_duplicate("8")); // answers line 13
    lines.push(pool_rejects_duplicate("\"7\"")); // answers line 15
    lines.push(pool_accepts("7")); // answers line 12
    lines.push(pool_accepts("7")); // line 19 answers line 14: the pool is wrong there
    lines.push(pool_accepts("7")); // nothing left to answer with id 7: ignored
    let report = replay(&lines);
    assert_eq!(results(&report).len(), 4);
    assert_eq!(pairs(&report), [(14, 19, true, "rejected (duplicate)")]);
}

#[test]
fn subscribe_and_configure_with_one_id() {
    // Both requests sent before either answer, with the same id: the first answer is the
    // configure result, the second the subscribe result.
    let setup = recorded_setup();
    let mut lines = vec![
        setup[5].replace(r#""id": 2"#, r#""id": 1"#), // mining.configure, id 1
        setup[3].clone(),                             // mining.subscribe, id 1
        setup[6].replace(r#""id": 2"#, r#""id": 1"#), // its result: version rolling
        setup[4].clone(),                             // the subscribe result: extranonce1
    ];
    lines.extend(setup[7..11].iter().cloned()); // authorize, difficulty, notify
    lines.push(submit("1")); // line 9: the share needs both answers to be valid
    lines.push(pool_accepts("1"));
    let report = replay(&lines);
    assert_eq!(results(&report), [(9, "accepted", None)]);
    assert_eq!(pairs(&report), []);
}

#[test]
fn the_oldest_unanswered_request_is_forgotten_past_the_bound() {
    let mut lines = recorded_setup();
    lines.push(submit("1")); // line 12: valid, never answered
    // As many submits as the bound, all with one id: duplicates, all awaiting an answer.
    for _ in 0..MAX_UNANSWERED_REQUESTS {
        lines.push(submit("4"));
    }
    // Line 12 was forgotten: an answer with its id pairs with nothing.
    lines.push(pool_rejects_duplicate("1"));
    // The oldest remembered id-4 submit (line 13) gets the first id-4 answer.
    lines.push(pool_accepts("4"));
    let response_line = lines.len();
    let report = replay(&lines);
    assert_eq!(report.submits.len(), MAX_UNANSWERED_REQUESTS + 1);
    assert_eq!(pairs(&report), [(13, response_line, true, "rejected (duplicate)")]);
}

#[test]
fn unanswered_requests_stay_bounded_and_answered_ones_are_forgotten() {
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut replayer = Replayer::new(&validator);
    let mut line = 0;
    let mut feed = |replayer: &mut Replayer, text: &str| {
        line += 1;
        replayer.feed(line, text);
    };
    for text in recorded_setup() {
        feed(&mut replayer, &text);
    }
    // subscribe and configure were answered; authorize (not awaited) was too.
    assert_eq!(replayer.unanswered_requests(), 0);
    for i in 0..MAX_UNANSWERED_REQUESTS + 100 {
        feed(&mut replayer, &submit(&(i % 3).to_string()));
    }
    replayer.flush();
    assert_eq!(replayer.unanswered_requests(), MAX_UNANSWERED_REQUESTS);
    for _ in 0..10 {
        feed(&mut replayer, &pool_rejects_duplicate("2"));
    }
    assert_eq!(replayer.unanswered_requests(), MAX_UNANSWERED_REQUESTS - 10);
    let report = replayer.finish();
    assert_eq!(report.submits.len(), MAX_UNANSWERED_REQUESTS + 100);
    assert_eq!(report.disagreements, []);
}

#[test]
fn an_authorize_answer_does_not_pair_with_a_submit_of_the_same_id() {
    let mut lines = recorded_setup();
    lines.push(submit("4")); // line 12: valid
    lines.push(r#"{"id": 4, "method": "mining.authorize", "params": ["w", "x"]}"#.into()); // 13
    lines.push(submit("4")); // line 14: a duplicate
    lines.push(pool_accepts("4")); // 15: the first submit's answer
    lines.push(pool_accepts("4")); // 16: the authorize's answer
    lines.push(pool_rejects_duplicate("4")); // 17: the second submit's answer
    let report = replay(&lines);
    assert_eq!(results(&report), [(12, "accepted", None), (14, "rejected", Some("duplicate"))]);
    assert_eq!(pairs(&report), [], "each answer pairs with its own request");
}

#[test]
fn a_structured_id_is_kept_as_text_and_still_pairs() {
    let mut lines = recorded_setup();
    lines.push(submit("[1, 2, 3]")); // line 12: valid
    lines
        .push(r#"{"id": [1, 2, 3], "result": null, "error": [23, "Low difficulty", null]}"#.into());
    let report = replay(&lines);
    assert_eq!(report.submits[0].id, serde_json::json!("[1,2,3]"));
    assert_eq!(pairs(&report), [(12, 13, false, "accepted")]);
}
