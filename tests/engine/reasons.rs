//! One test per reject reason (and the accepting edges), each from a transcript a real
//! miner could send. Shares are mined with an independent builder (`sha2`, `num-bigint`;
//! tests/common) so the expected verdict comes from construction, not from the crate.

use crate::common::miner::{TestJob, sha256d, target_for_easier_difficulty};
use num_bigint::BigUint;
use serde_json::json;
use sharecheck::Algorithm;
use sharecheck::replay::{SubmitRecord, replay_lines};
use sharecheck::validate::{Validator, ValidatorConfig};

const EN1: &str = "57a6f098";
const WORKER: &str = "bc1qtest.s19-07";

/// Difficulty 2^-24 (target 0xffff·2^232): about 256 hashes per share.
const LOG2_EASY: u32 = 24;

struct Session {
    lines: Vec<String>,
    next_id: u64,
}

impl Session {
    fn new() -> Session {
        Session { lines: Vec::new(), next_id: 100 }
    }
    fn line(&mut self, v: serde_json::Value) -> &mut Self {
        self.lines.push(v.to_string());
        self
    }
    fn subscribe(&mut self) -> &mut Self {
        self.line(json!({"id": 1, "method": "mining.subscribe", "params": ["bmminer/2.0.0"]}));
        self.line(json!({"id": 1, "result": [[["mining.notify", "1"]], EN1, 4], "error": null}))
    }
    fn configure(&mut self, mask: &str) -> &mut Self {
        self.line(json!({"id": 2, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]}));
        self.line(json!({"id": 2, "result": {"version-rolling": true, "version-rolling.mask": mask}, "error": null}))
    }
    fn difficulty_log2_easier(&mut self, log2: u32) -> &mut Self {
        self.line(json!({"id": null, "method": "mining.set_difficulty", "params": [1.0 / (1u64 << log2) as f64]}))
    }
    fn notify(&mut self, job: &TestJob, clean: bool) -> &mut Self {
        self.lines.push(job.notify(clean));
        self
    }
    fn submit(&mut self, params: serde_json::Value) -> &mut Self {
        let id = self.next_id;
        self.next_id += 1;
        self.line(json!({"id": id, "method": "mining.submit", "params": params}))
    }
    fn replay(&self, config: ValidatorConfig) -> Vec<SubmitRecord> {
        let v = Validator::new(Algorithm::Sha256d, config);
        let report = replay_lines(&v, self.lines.iter().map(String::as_str));
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        report.submits
    }
    fn run(&self) -> Vec<SubmitRecord> {
        self.replay(ValidatorConfig::default())
    }
}

fn hex8(x: u32) -> String {
    format!("{x:08x}")
}

fn t(log2: u32) -> BigUint {
    target_for_easier_difficulty(log2)
}

fn zero() -> BigUint {
    BigUint::from(0u8)
}

fn max() -> BigUint {
    (BigUint::from(1u8) << 256usize) - 1u8
}

/// A share of `job` whose hash lies in (above, at_most].
fn share(
    job: &TestJob,
    en2: u32,
    ntime: u32,
    above: &BigUint,
    at_most: &BigUint,
) -> serde_json::Value {
    let nonce = job.mine(EN1, &hex8(en2), ntime, job.version, above, at_most);
    json!([WORKER, job.id, hex8(en2), hex8(ntime), hex8(nonce)])
}

fn outcome(r: &SubmitRecord) -> (&str, Option<&str>, Option<i32>) {
    (r.result, r.reason, r.code)
}

const ACCEPTED: (&str, Option<&str>, Option<i32>) = ("accepted", None, None);

fn rejected(reason: &'static str, code: i32) -> (&'static str, Option<&'static str>, Option<i32>) {
    ("rejected", Some(reason), Some(code))
}

fn base(job: &TestJob) -> Session {
    let mut s = Session::new();
    s.subscribe().difficulty_log2_easier(LOG2_EASY).notify(job, true);
    s
}

#[test]
fn valid_share_hash_matches_independent_sha256d() {
    let job = TestJob::new("j1");
    let params = share(&job, 1, job.ntime, &zero(), &t(LOG2_EASY));
    let r = base(&job).submit(params.clone()).run();
    assert_eq!(outcome(&r[0]), ACCEPTED);
    let nonce = u32::from_str_radix(params[4].as_str().unwrap(), 16).unwrap();
    let mut h = sha256d(&job.header(EN1, &hex8(1), job.ntime, nonce, job.version));
    h.reverse();
    assert_eq!(r[0].hash.as_deref(), Some(hex::encode(h).as_str()));
}

#[test]
fn malformed() {
    let job = TestJob::new("j1");
    let nt = hex8(job.ntime);
    let r = base(&job)
        .submit(json!([WORKER, "j1", "zz000001", nt, "00000001"]))
        .submit(json!([WORKER, "j1", "00000001", nt, "0000001"]))
        .submit(json!([WORKER, "j1", "00000001", nt]))
        .submit(json!([WORKER, "j1", "00000001", nt, "00000001", "00000000", "extra"]))
        .submit(json!([WORKER, "j1", 1, nt, "00000001"]))
        .submit(json!({"worker": WORKER}))
        .submit(json!(null))
        .run();
    assert_eq!(r.len(), 7);
    for rec in &r {
        assert_eq!(outcome(rec), rejected("malformed", 20), "line {}", rec.line);
        assert_eq!(rec.hash, None);
    }
}

/// Step 1 before the rest (DESIGN.md): a field that is not hex (a non-digit, an odd count)
/// is `malformed` whatever else is wrong, even for an unknown job; a hex field of the wrong
/// size gets its own reason at step 4, after the job.
#[test]
fn malformed_before_sizes_and_sizes_after_the_job() {
    let job = TestJob::new("j1");
    let nt = hex8(job.ntime);
    let long_en2 = "00".repeat(35);
    let cases = [
        // (extranonce2, ntime, nonce, version bits, job, expected)
        ("0000001", nt.as_str(), "00000001", None, "j1", "malformed"),
        (&long_en2[..65], &nt, "00000001", None, "j1", "malformed"),
        (&long_en2[..], &nt, "00000001", None, "j1", "bad_extranonce2"),
        ("", &nt, "00000001", None, "j1", "bad_extranonce2"),
        ("0000000g", &nt, "00000001", None, "j1", "malformed"),
        ("00000001", "0000000z", "00000001", None, "j1", "malformed"),
        ("00000001", "000000", "00000001", None, "j1", "bad_ntime"),
        ("00000001", &nt, "+0000001", None, "j1", "malformed"),
        ("00000001", &nt, "0000000001", None, "j1", "bad_nonce"),
        ("00000001", &nt, "00000001", Some("zzzzzzzz"), "j1", "malformed"),
        ("00000001", &nt, "00000001", Some("0000"), "j1", "bad_version_bits"),
        ("00000001", &nt, "0000000Z", None, "gone", "malformed"),
        ("00000001", &nt, "000001", None, "gone", "job_not_found"),
        ("000001", "0000000", "00000001", None, "gone", "malformed"),
    ];
    let mut s = base(&job);
    for (extranonce2, ntime, nonce, version_bits, job_id, _) in &cases {
        let mut params = json!([WORKER, job_id, extranonce2, ntime, nonce]);
        if let Some(bits) = version_bits {
            params.as_array_mut().unwrap().push(json!(bits));
        }
        s.submit(params);
    }
    let r = s.run();
    assert_eq!(r.len(), cases.len());
    for (rec, case) in r.iter().zip(&cases) {
        let code = if case.5 == "job_not_found" { 21 } else { 20 };
        assert_eq!(outcome(rec), rejected(case.5, code), "{case:?}");
    }
}

#[test]
fn not_subscribed() {
    let job = TestJob::new("j1");
    let params = share(&job, 1, job.ntime, &zero(), &t(LOG2_EASY));
    let mut s = Session::new();
    s.line(json!({"id": 1, "method": "mining.subscribe", "params": []}))
        .difficulty_log2_easier(LOG2_EASY)
        .notify(&job, true)
        // The subscribe response has not arrived yet.
        .submit(params.clone())
        .line(json!({"id": 1, "result": [[], EN1, 4], "error": null}))
        .submit(params);
    let r = s.run();
    assert_eq!(outcome(&r[0]), rejected("not_subscribed", 25));
    assert_eq!(outcome(&r[1]), ACCEPTED);
}

#[test]
fn job_not_found() {
    let job = TestJob::new("j1");
    let r = base(&job).submit(json!([WORKER, "j2", "00000001", hex8(job.ntime), "00000001"])).run();
    assert_eq!(outcome(&r[0]), rejected("job_not_found", 21));
}

#[test]
fn stale_after_clean_jobs() {
    let a = TestJob::new("a");
    let mut b = TestJob::new("b");
    b.ntime += 30;
    let before = share(&a, 1, a.ntime, &zero(), &t(LOG2_EASY));
    let after = share(&a, 2, a.ntime, &zero(), &t(LOG2_EASY));
    let on_b = share(&b, 1, b.ntime, &zero(), &t(LOG2_EASY));
    let mut s = base(&a);
    s.submit(before).notify(&b, true).submit(after.clone()).submit(on_b);
    // A second job without clean_jobs leaves earlier jobs live.
    let mut c = TestJob::new("c");
    c.ntime += 60;
    let on_b_again = share(&b, 2, b.ntime, &zero(), &t(LOG2_EASY));
    s.notify(&c, false).submit(on_b_again);
    let r = s.run();
    assert_eq!(outcome(&r[0]), ACCEPTED);
    assert_eq!(outcome(&r[1]), rejected("stale", 21));
    assert_eq!(outcome(&r[2]), ACCEPTED);
    assert_eq!(outcome(&r[3]), ACCEPTED);
}

#[test]
fn bad_extranonce2_one_byte_short_and_long() {
    let job = TestJob::new("j1");
    let nt = hex8(job.ntime);
    let r = base(&job)
        .submit(json!([WORKER, "j1", "000001", nt, "00000001"]))
        .submit(json!([WORKER, "j1", "0000000001", nt, "00000001"]))
        .run();
    assert_eq!(outcome(&r[0]), rejected("bad_extranonce2", 20));
    assert_eq!(outcome(&r[1]), rejected("bad_extranonce2", 20));
}

#[test]
fn ntime_window_edges() {
    let job = TestJob::new("j1");
    let at_start = share(&job, 1, job.ntime, &zero(), &t(LOG2_EASY));
    let at_end = share(&job, 2, job.ntime + 7000, &zero(), &t(LOG2_EASY));
    let before = share(&job, 3, job.ntime - 1, &zero(), &t(LOG2_EASY));
    let after = share(&job, 4, job.ntime + 7001, &zero(), &t(LOG2_EASY));
    let r = base(&job).submit(at_start).submit(at_end).submit(before).submit(after).run();
    assert_eq!(outcome(&r[0]), ACCEPTED);
    assert_eq!(outcome(&r[1]), ACCEPTED);
    assert_eq!(outcome(&r[2]), rejected("bad_ntime", 20));
    assert_eq!(outcome(&r[3]), rejected("bad_ntime", 20));
    // A configured window moves the upper edge.
    let inside = share(&job, 5, job.ntime + 600, &zero(), &t(LOG2_EASY));
    let outside = share(&job, 6, job.ntime + 601, &zero(), &t(LOG2_EASY));
    let r = base(&job)
        .submit(inside)
        .submit(outside)
        .replay(ValidatorConfig { ntime_window: 600, ..ValidatorConfig::default() });
    assert_eq!(outcome(&r[0]), ACCEPTED);
    assert_eq!(outcome(&r[1]), rejected("bad_ntime", 20));
    // Not 8 digits.
    let r = base(&job).submit(json!([WORKER, "j1", "00000001", "64b3f3ec00", "00000001"])).run();
    assert_eq!(outcome(&r[0]), rejected("bad_ntime", 20));
}

#[test]
fn bad_nonce() {
    let job = TestJob::new("j1");
    let nt = hex8(job.ntime);
    let r = base(&job)
        .submit(json!([WORKER, "j1", "00000001", nt, "000001"]))
        .submit(json!([WORKER, "j1", "00000001", nt, "0000000001"]))
        .run();
    assert_eq!(outcome(&r[0]), rejected("bad_nonce", 20));
    assert_eq!(outcome(&r[1]), rejected("bad_nonce", 20));
}

#[test]
fn version_bits_outside_mask_and_without_negotiation() {
    let job = TestJob::new("j1");
    let mask = 0x1fff_e000u32;
    let bits = 0x0000_2000u32;
    let rolled = (job.version & !mask) | (bits & mask);
    let nonce = job.mine(EN1, &hex8(1), job.ntime, rolled, &zero(), &t(LOG2_EASY));
    let rolled_share = json!([WORKER, "j1", hex8(1), hex8(job.ntime), hex8(nonce), hex8(bits)]);
    let outside = json!([WORKER, "j1", hex8(1), hex8(job.ntime), hex8(nonce), "20002000"]);
    let short_bits = json!([WORKER, "j1", hex8(1), hex8(job.ntime), hex8(nonce), "2000"]);
    let mut s = Session::new();
    s.subscribe().configure("1fffe000").difficulty_log2_easier(LOG2_EASY).notify(&job, true);
    let r = s.submit(outside.clone()).submit(short_bits).submit(rolled_share.clone()).run();
    assert_eq!(outcome(&r[0]), rejected("bad_version_bits", 20));
    assert_eq!(outcome(&r[1]), rejected("bad_version_bits", 20));
    assert_eq!(outcome(&r[2]), ACCEPTED);
    // Never negotiated: any non-zero bits are refused, zero bits are harmless.
    let plain_nonce = job.mine(EN1, &hex8(2), job.ntime, job.version, &zero(), &t(LOG2_EASY));
    let zero_bits = json!([WORKER, "j1", hex8(2), hex8(job.ntime), hex8(plain_nonce), "00000000"]);
    let r = base(&job).submit(rolled_share).submit(zero_bits).run();
    assert_eq!(outcome(&r[0]), rejected("bad_version_bits", 20));
    assert_eq!(outcome(&r[1]), ACCEPTED);
    // mining.set_version_mask narrows the mask mid-session.
    let mut s = Session::new();
    s.subscribe().configure("1fffe000").difficulty_log2_easier(LOG2_EASY).notify(&job, true);
    s.line(json!({"id": null, "method": "mining.set_version_mask", "params": ["1fff0000"]}));
    let r =
        s.submit(json!([WORKER, "j1", hex8(1), hex8(job.ntime), hex8(nonce), hex8(bits)])).run();
    assert_eq!(outcome(&r[0]), rejected("bad_version_bits", 20));
}

#[test]
fn low_difficulty() {
    let job = TestJob::new("j1");
    let weak = share(&job, 1, job.ntime, &t(LOG2_EASY), &max());
    let r = base(&job).submit(weak.clone()).submit(weak).run();
    assert_eq!(outcome(&r[0]), rejected("low_difficulty", 23));
    assert!(r[0].hash.is_some() && r[0].share_difficulty.is_some());
    // A low-difficulty share is not remembered: re-sent, it is low_difficulty again.
    assert_eq!(outcome(&r[1]), rejected("low_difficulty", 23));
}

#[test]
fn duplicate_resent_with_upper_case_hex() {
    let job = TestJob::new("j1");
    let p = share(&job, 0xabcd, job.ntime + 0xa, &zero(), &t(LOG2_EASY));
    let upper: Vec<serde_json::Value> = p
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| if i >= 2 { json!(v.as_str().unwrap().to_uppercase()) } else { v.clone() })
        .collect();
    assert_ne!(json!(upper), p, "the re-sent strings differ");
    let r = base(&job).submit(p.clone()).submit(json!(upper)).submit(p).run();
    assert_eq!(outcome(&r[0]), ACCEPTED);
    assert_eq!(outcome(&r[1]), rejected("duplicate", 22));
    assert_eq!(outcome(&r[2]), rejected("duplicate", 22));
    assert_eq!(r[1].hash, r[0].hash, "a duplicate carries its hash");
}

#[test]
fn job_that_preceded_a_difficulty_change() {
    let a = TestJob::new("a");
    let mut b = TestJob::new("b");
    b.ntime += 30;
    // Hashes between the 2^-20 and 2^-24 targets: good enough for the old difficulty only.
    let band_a = share(&a, 1, a.ntime, &t(LOG2_EASY - 4), &t(LOG2_EASY));
    let band_b = share(&b, 1, b.ntime, &t(LOG2_EASY - 4), &t(LOG2_EASY));
    let easier_b = share(&b, 2, b.ntime, &t(LOG2_EASY), &t(LOG2_EASY + 4));
    let mut s = base(&a);
    s.difficulty_log2_easier(LOG2_EASY - 4) // harder from now on
        .submit(band_a) // job a was notified at the easier difficulty: accepted
        .notify(&b, false)
        .submit(band_b) // job b was notified at the harder difficulty: low
        .difficulty_log2_easier(LOG2_EASY + 4) // easier now, for every job
        .submit(easier_b);
    let r = s.run();
    assert_eq!(outcome(&r[0]), ACCEPTED);
    assert_eq!(outcome(&r[1]), rejected("low_difficulty", 23));
    assert_eq!(outcome(&r[2]), ACCEPTED);
}

#[test]
fn block_meets_network_target_even_below_share_difficulty() {
    let mut job = TestJob::new("j1");
    // nBits 0x2000ffff: target 0xffff·2^232, the same as the share difficulty 2^-24.
    job.nbits = 0x2000_ffff;
    let p = share(&job, 1, job.ntime, &zero(), &t(LOG2_EASY));
    // Share difficulty far above any hash: only the network target can accept it.
    let mut s = Session::new();
    s.subscribe().difficulty_log2_easier(0).notify(&job, true).submit(p.clone());
    let v = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let mut r = sharecheck::replay::Replayer::new(&v);
    for (i, l) in s.lines.iter().enumerate() {
        r.feed(i + 1, l);
    }
    let report = r.finish();
    let rec = &report.submits[0];
    assert_eq!(rec.result, "block");
    let block = rec.verdict.block.as_ref().expect("a block carries its solution");
    let nonce = u32::from_str_radix(p[4].as_str().unwrap(), 16).unwrap();
    assert_eq!(block.header, job.header(EN1, &hex8(1), job.ntime, nonce, job.version));
    assert_eq!(
        hex::encode(&block.coinbase),
        format!("{}{}{}{}", job.coinb1, EN1, hex8(1), job.coinb2)
    );
}

#[test]
fn every_submit_gets_exactly_one_verdict_even_among_bad_lines() {
    let job = TestJob::new("j1");
    let mut s = base(&job);
    s.lines.push("this is not json".into());
    s.submit(json!([WORKER, "j1"]));
    s.lines.push("[1,2,3]".into());
    s.lines.push("".into());
    s.lines.push("# a comment".into());
    s.submit(json!([WORKER, "nope", "00000001", "00000000", "00000000"]));
    let v = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let report = replay_lines(&v, s.lines.iter().map(String::as_str));
    assert_eq!(report.submits.len(), 2);
    assert_eq!(report.problems.iter().map(|p| p.line).collect::<Vec<_>>(), vec![5, 7]);
}

#[test]
fn a_share_beyond_a_full_duplicate_filter_is_stale() {
    let job = TestJob::new("j1");
    let shares: Vec<_> =
        (1..=3).map(|en2| share(&job, en2, job.ntime, &zero(), &t(LOG2_EASY))).collect();
    let mut s = base(&job);
    for p in &shares {
        s.submit(p.clone());
    }
    let config = ValidatorConfig { max_shares_per_job: 2, ..ValidatorConfig::default() };
    let r = s.replay(config);
    assert_eq!(outcome(&r[0]), ACCEPTED);
    assert_eq!(outcome(&r[1]), ACCEPTED);
    // The third distinct share does not fit: it cannot be remembered, so it cannot be
    // accepted; `stale` tells the miner to move on to newer work.
    assert_eq!(outcome(&r[2]), rejected("stale", 21));
    assert!(r[2].hash.is_some());
}

/// The validator's own step 1, for submits built directly (a submit parsed from JSON has
/// its hex checked by `Submit::from_params` before the validator sees it): a field that is
/// not hex, non-ASCII or of odd length is `malformed` before `not_subscribed`,
/// `job_not_found` and `stale`; hex of the wrong size gets its own reason after the job.
/// `check` and `check_batch` answer alike.
#[test]
fn the_validator_finds_malformed_fields_before_session_job_and_sizes() {
    use sharecheck::stratum::{Notify, Submit};
    use sharecheck::validate::Reason;
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let notify = |job: &TestJob, clean: bool| {
        let v: serde_json::Value = serde_json::from_str(&job.notify(clean)).unwrap();
        validator.notify(Notify::from_params(&v["params"]).unwrap()).unwrap();
    };
    let (old, live) = (TestJob::new("old"), TestJob::new("live"));
    notify(&old, true);
    notify(&live, true); // clean: "old" is stale now
    let mut subscribed = validator.new_session();
    subscribed.set_extranonce(hex::decode(EN1).unwrap(), 4).unwrap();
    let unsubscribed = validator.new_session();
    let nt = format!("{:08x}", live.ntime);
    let submit =
        |job: &str, extranonce2: &str, ntime: &str, nonce: &str, bits: Option<&str>| Submit {
            worker: WORKER.into(),
            job_id: job.into(),
            extranonce2: extranonce2.into(),
            ntime: ntime.into(),
            nonce: nonce.into(),
            version_bits: bits.map(Into::into),
        };
    let zz66 = "zz".repeat(33);
    let hex66 = "00".repeat(33);
    use Reason::*;
    let cases = [
        (&subscribed, submit("live", "0000000g", &nt, "00000001", None), Malformed),
        (&subscribed, submit("live", "\u{e9}000000", &nt, "00000001", None), Malformed),
        (&subscribed, submit("live", "0000001", &nt, "00000001", None), Malformed),
        (&subscribed, submit("live", &zz66, &nt, "00000001", None), Malformed),
        (&subscribed, submit("live", &hex66, &nt, "00000001", None), BadExtranonce2),
        (&subscribed, submit("live", "", &nt, "00000001", None), BadExtranonce2),
        (&subscribed, submit("live", "00000001", "0000000z", "00000001", None), Malformed),
        (&subscribed, submit("live", "00000001", "00000000000", "00000001", None), Malformed),
        (&subscribed, submit("live", "00000001", "0000000000", "00000001", None), BadNtime),
        (&subscribed, submit("live", "00000001", &nt, "+0000001", None), Malformed),
        (&subscribed, submit("live", "00000001", &nt, "0000000001", None), BadNonce),
        (&subscribed, submit("live", "00000001", &nt, "00000001", Some("zzzzzzzz")), Malformed),
        (&subscribed, submit("live", "00000001", &nt, "00000001", Some("0000")), BadVersionBits),
        (&subscribed, submit("gone", "00000001", &nt, "0000000Z", None), Malformed),
        (&subscribed, submit("gone", "00000001", &nt, "000001", None), JobNotFound),
        (&subscribed, submit("old", "00000001", "0000000z", "00000001", None), Malformed),
        (&subscribed, submit("old", "00000001", "000000", "00000001", None), Stale),
        (&unsubscribed, submit("live", "00000001", &nt, "zz", None), Malformed),
        (&unsubscribed, submit("live", "00000001", &nt, "00000001", None), NotSubscribed),
    ];
    for (session, submit, expected) in &cases {
        assert_eq!(validator.check(session, submit).reason(), Some(*expected), "{submit:?}");
    }
    let items: Vec<_> = cases.iter().map(|(session, submit, _)| (*session, submit)).collect();
    let batch = validator.check_batch(&items);
    for (verdict, (_, submit, expected)) in batch.iter().zip(&cases) {
        assert_eq!(verdict.reason(), Some(*expected), "batch: {submit:?}");
    }
}
