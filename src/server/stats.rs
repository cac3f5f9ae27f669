//! What the proxy counts, per worker and in all: shares by result and reason, what went
//! upstream and how the pool answered, blocks, hashrate estimates from accepted difficulty
//! over 1 min / 15 min / 1 h, and the hardware-error ratio (shares whose hash misses the
//! share target, over all shares that could be hashed: what a repair team looks at).
//!
//! One mutex, held for a few field updates, never across an `.await`. The number of
//! worker series is capped; the rest are summed under [`OTHER_WORKERS`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::estimate::{Estimate, ShareClock};
use crate::chain::Algorithm;
use crate::validate::{Outcome, Reason, Verdict};

/// The label of the workers beyond the cap.
pub const OTHER_WORKERS: &str = "_other";
/// Longest worker name kept (longer ones are cut, on a character boundary).
pub const MAX_WORKER_NAME: usize = 64;

/// Distinct pool errors counted per worker; the rest are summed under [`OTHER_ERRORS`].
pub const MAX_UPSTREAM_ERRORS: usize = 8;
/// The key of the pool errors beyond [`MAX_UPSTREAM_ERRORS`].
pub const OTHER_ERRORS: &str = "other";
/// Longest pool error key kept.
const MAX_UPSTREAM_ERROR_KEY: usize = 56;

/// How the pool answered a forwarded share.
#[derive(Clone, Copy, Debug)]
pub enum UpstreamAnswer<'a> {
    /// `true`.
    Accepted,
    /// Refused, with the pool's `error` (`null` when it answered `false` without one).
    Rejected(&'a serde_json::Value),
    /// No answer in time, or the pool connection ended first.
    Unanswered,
}

/// Seconds per hashrate bucket, and buckets kept (one hour).
const BUCKET_SECONDS: u64 = 10;
const BUCKETS: usize = 360;
/// The hashrate windows, in seconds, and their names.
pub const WINDOWS: [(&str, u64); 3] = [("1m", 60), ("15m", 900), ("1h", 3600)];

/// Counts of one worker.
struct Worker {
    connections: u64,
    accepted: u64,
    blocks: u64,
    rejected: [u64; Reason::ALL.len()],
    forwarded: u64,
    upstream_accepted: u64,
    upstream_rejected: u64,
    /// The pool's rejections by its error (bounded: the rest under [`OTHER_ERRORS`]).
    upstream_errors: Vec<(String, u64)>,
    upstream_unanswered: u64,
    hashed: u64,
    missed: u64,
    last_share: Option<Instant>,
    /// Accepted difficulty per 10-second bucket, with the bucket's number.
    difficulty: Box<[(u64, f64); BUCKETS]>,
    /// The shares and exposure behind the bench's estimate with its interval.
    clock: ShareClock,
}

impl Worker {
    fn new(hashes_per_diff1: f64) -> Worker {
        Worker {
            clock: ShareClock::new(hashes_per_diff1),
            connections: 0,
            accepted: 0,
            blocks: 0,
            rejected: [0; Reason::ALL.len()],
            forwarded: 0,
            upstream_accepted: 0,
            upstream_rejected: 0,
            upstream_errors: Vec::new(),
            upstream_unanswered: 0,
            hashed: 0,
            missed: 0,
            last_share: None,
            difficulty: Box::new([(0, 0.0); BUCKETS]),
        }
    }

    fn credit(&mut self, bucket: u64, difficulty: f64) {
        let slot = &mut self.difficulty[(bucket % BUCKETS as u64) as usize];
        if slot.0 != bucket {
            *slot = (bucket, 0.0);
        }
        slot.1 += difficulty;
    }

    /// Accepted difficulty in the last `seconds` (whole buckets, the current one included).
    fn difficulty_within(&self, now_bucket: u64, seconds: u64) -> f64 {
        let n = (seconds / BUCKET_SECONDS).max(1);
        self.difficulty
            .iter()
            .filter(|(b, _)| *b <= now_bucket && now_bucket - *b < n)
            .fold(0.0, |sum, (_, d)| sum + d)
    }
}

/// Hashrate per window, hashes per second.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Hashrates {
    /// Over the last minute.
    #[serde(rename = "1m")]
    pub one_minute: f64,
    /// Over the last 15 minutes.
    #[serde(rename = "15m")]
    pub fifteen_minutes: f64,
    /// Over the last hour.
    #[serde(rename = "1h")]
    pub one_hour: f64,
}

/// One worker as `GET /workers` shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkerReport {
    /// Worker name (as the miner authorized).
    pub worker: String,
    /// Open connections authorized as this worker.
    pub connected: u64,
    /// Shares accepted (blocks included).
    pub accepted: u64,
    /// Shares rejected, by reason (only reasons that occurred).
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    /// Shares sent to the pool.
    pub forwarded: u64,
    /// Shares the pool accepted.
    pub upstream_accepted: u64,
    /// Shares the pool rejected.
    pub upstream_rejected: u64,
    /// The pool's rejections by its error (`"code message"`, as the pool sent it).
    pub upstream_errors: std::collections::BTreeMap<String, u64>,
    /// Shares the pool did not answer in time (or whose pool connection ended first).
    pub upstream_unanswered: u64,
    /// Blocks found.
    pub blocks: u64,
    /// Hashrate estimates from accepted difficulty, hashes per second.
    pub hashrate: Hashrates,
    /// Shares whose hash missed the share target, over all shares that were hashed
    /// (`null` before the first).
    pub hw_error_ratio: Option<f64>,
    /// Seconds since the last share (`null` before the first).
    pub last_share_age_s: Option<f64>,
}

/// One worker's hashrate estimate, as the test bench judges it.
#[derive(Clone, Copy, Debug)]
pub struct WorkerEstimate {
    /// The estimate with its exact 95% interval.
    pub estimate: Estimate,
    /// The difficulty the worker works at now (`None` before it is known).
    pub difficulty: Option<f64>,
    /// Shares that were hashed (the hardware-error ratio's denominator).
    pub hashed: u64,
    /// Whether the worker has not sent its first share yet and connected less than
    /// [`super::estimate::WARM_UP`] ago.
    pub warming_up: bool,
}

/// The proxy's statistics.
pub struct Stats {
    algorithm: Algorithm,
    started: Instant,
    max_workers: usize,
    workers: Mutex<HashMap<String, Worker>>,
    totals: Mutex<Totals>,
}

#[derive(Default)]
struct Totals {
    miners_connected: u64,
    upstream_connected: Vec<(String, u64)>,
    upstream_accepted: u64,
    upstream_rejected: u64,
    upstream_unanswered: u64,
    blocks: u64,
    /// Rounds of the batch checker, and the shares checked in rounds of two or more.
    check_rounds: u64,
    batched_shares: u64,
}

/// A gauge up or down by one.
fn step(n: &mut u64, up: bool) {
    *n = if up { *n + 1 } else { n.saturating_sub(1) };
}

impl Stats {
    /// Statistics for a proxy of `algorithm` and its pools, keeping at most
    /// `max_workers` worker series.
    pub fn new(algorithm: Algorithm, upstreams: &[String], max_workers: usize) -> Stats {
        let totals = Totals {
            upstream_connected: upstreams.iter().map(|u| (u.clone(), 0)).collect(),
            ..Totals::default()
        };
        Stats {
            algorithm,
            started: Instant::now(),
            max_workers: max_workers.max(1),
            workers: Mutex::new(HashMap::new()),
            totals: Mutex::new(totals),
        }
    }

    fn with_worker(&self, name: &str, f: impl FnOnce(&mut Worker)) {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        let name = bounded_name(name);
        let key = if workers.contains_key(name) || workers.len() < self.max_workers {
            name
        } else {
            OTHER_WORKERS
        };
        if !workers.contains_key(key) {
            let per_diff1 = self.algorithm.hashes_per_diff1_share();
            workers.insert(key.to_string(), Worker::new(per_diff1));
        }
        if let Some(w) = workers.get_mut(key) {
            f(w);
        }
    }

    fn with_totals(&self, f: impl FnOnce(&mut Totals)) {
        f(&mut self.totals.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn bucket(&self, at: Instant) -> u64 {
        at.duration_since(self.started).as_secs() / BUCKET_SECONDS
    }

    /// A miner connected (`true`) or left (`false`), and the pool it was served by
    /// through a connection of its own (passthrough mode).
    pub fn miner_connection(&self, upstream_rank: Option<usize>, open: bool) {
        self.with_totals(|t| {
            step(&mut t.miners_connected, open);
            if let Some((_, n)) = upstream_rank.and_then(|r| t.upstream_connected.get_mut(r)) {
                step(n, open);
            }
        });
    }

    /// A connection to the pool of rank `upstream_rank` opened or closed (aggregated mode).
    pub fn pool_connection(&self, upstream_rank: usize, open: bool) {
        self.with_totals(|t| {
            if let Some((_, n)) = t.upstream_connected.get_mut(upstream_rank) {
                step(n, open);
            }
        });
    }

    /// A connection authorized as `worker` (`true`), or closed after that (`false`).
    pub fn worker_connection(&self, worker: &str, open: bool) {
        self.with_worker(worker, |w| {
            w.connections = if open { w.connections + 1 } else { w.connections.saturating_sub(1) };
        });
    }

    /// Connection `connection`, authorized as `worker`, works at share difficulty
    /// `difficulty` from now on (for the hashrate interval).
    pub fn worker_difficulty(&self, worker: &str, connection: u64, difficulty: f64) {
        let now = Instant::now();
        self.with_worker(worker, |w| w.clock.set_difficulty(connection, difficulty, now));
    }

    /// Connection `connection` of `worker` closed (for the hashrate interval).
    pub fn worker_connection_closed(&self, worker: &str, connection: u64) {
        let now = Instant::now();
        self.with_worker(worker, |w| w.clock.closed(connection, now));
    }

    /// Every worker's share clock and hashed shares, by name (the estimates are computed
    /// from them outside the lock).
    pub fn estimates(&self) -> HashMap<String, WorkerEstimate> {
        let now = Instant::now();
        let clocks: Vec<(String, ShareClock, u64)> = {
            let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            workers.iter().map(|(name, w)| (name.clone(), w.clock.clone(), w.hashed)).collect()
        };
        clocks
            .into_iter()
            .map(|(name, clock, hashed)| {
                let estimate = WorkerEstimate {
                    estimate: clock.estimate(now),
                    difficulty: clock.difficulty(),
                    hashed,
                    warming_up: clock.warming_up(now),
                };
                (name, estimate)
            })
            .collect()
    }

    /// The local verdict on a share of `worker`, checked at share difficulty `difficulty`.
    pub fn share(&self, worker: &str, verdict: &Verdict, difficulty: f64) {
        self.share_at(worker, None, verdict, difficulty, Instant::now());
    }

    /// [`Stats::share`] from connection `connection`, whose difficulties the hashrate
    /// interval follows ([`Stats::worker_difficulty`]).
    pub fn share_on(&self, worker: &str, connection: u64, verdict: &Verdict, difficulty: f64) {
        self.share_at(worker, Some(connection), verdict, difficulty, Instant::now());
    }

    fn share_at(
        &self,
        worker: &str,
        connection: Option<u64>,
        verdict: &Verdict,
        difficulty: f64,
        now: Instant,
    ) {
        let bucket = self.bucket(now);
        self.with_worker(worker, |w| {
            w.last_share = Some(now);
            if verdict.pow_hash.is_some() {
                w.hashed += 1;
            }
            match verdict.outcome {
                Outcome::Accepted | Outcome::Block => {
                    w.accepted += 1;
                    if let Some(id) = connection {
                        w.clock.share(id, verdict.share_difficulty.unwrap_or(0.0), now);
                    }
                    w.credit(bucket, difficulty);
                    if verdict.outcome == Outcome::Block {
                        w.blocks += 1;
                    }
                }
                Outcome::Rejected(reason) => {
                    w.rejected[reason_index(reason)] += 1;
                    if reason == Reason::LowDifficulty {
                        w.missed += 1;
                    }
                }
            }
        });
        if verdict.outcome == Outcome::Block {
            self.with_totals(|t| t.blocks += 1);
        }
    }

    /// A share of `worker` sent to the pool.
    pub fn forwarded(&self, worker: &str) {
        self.with_worker(worker, |w| w.forwarded += 1);
    }

    /// The pool's answer to a forwarded share.
    pub fn upstream_answer(&self, worker: &str, answer: UpstreamAnswer<'_>) {
        self.with_worker(worker, |w| match answer {
            UpstreamAnswer::Accepted => w.upstream_accepted += 1,
            UpstreamAnswer::Rejected(error) => {
                w.upstream_rejected += 1;
                let key = upstream_error_key(error);
                // A new error past the named slots goes to the catch-all (the last slot).
                let known = w.upstream_errors.iter().any(|(k, _)| *k == key);
                let named = w.upstream_errors.iter().filter(|(k, _)| k != OTHER_ERRORS).count();
                let key = if known || named < MAX_UPSTREAM_ERRORS - 1 {
                    key
                } else {
                    OTHER_ERRORS.to_string()
                };
                let at = match w.upstream_errors.iter().position(|(k, _)| *k == key) {
                    Some(at) => at,
                    None => {
                        w.upstream_errors.push((key, 0));
                        w.upstream_errors.len() - 1
                    }
                };
                w.upstream_errors[at].1 += 1;
            }
            UpstreamAnswer::Unanswered => w.upstream_unanswered += 1,
        });
        self.with_totals(|t| match answer {
            UpstreamAnswer::Accepted => t.upstream_accepted += 1,
            UpstreamAnswer::Rejected(_) => t.upstream_rejected += 1,
            UpstreamAnswer::Unanswered => t.upstream_unanswered += 1,
        });
    }

    /// Every worker, sorted by name.
    pub fn workers(&self) -> Vec<WorkerReport> {
        self.workers_at(Instant::now())
    }

    fn workers_at(&self, now: Instant) -> Vec<WorkerReport> {
        let bucket = self.bucket(now);
        let per_diff1 = self.algorithm.hashes_per_diff1_share();
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        let mut reports: Vec<WorkerReport> = workers
            .iter()
            .map(|(name, w)| {
                let rate = |seconds: u64| {
                    // A window longer than the proxy has run is measured over its run.
                    let elapsed = now.duration_since(self.started).as_secs_f64().max(1.0);
                    let span = (seconds as f64).min(elapsed);
                    w.difficulty_within(bucket, seconds) * per_diff1 / span
                };
                WorkerReport {
                    worker: name.clone(),
                    connected: w.connections,
                    accepted: w.accepted,
                    rejected: Reason::ALL
                        .iter()
                        .zip(w.rejected)
                        .filter(|(_, n)| *n > 0)
                        .map(|(r, n)| (r.as_str(), n))
                        .collect(),
                    forwarded: w.forwarded,
                    upstream_accepted: w.upstream_accepted,
                    upstream_rejected: w.upstream_rejected,
                    upstream_errors: w.upstream_errors.iter().cloned().collect(),
                    upstream_unanswered: w.upstream_unanswered,
                    blocks: w.blocks,
                    hashrate: Hashrates {
                        one_minute: rate(WINDOWS[0].1),
                        fifteen_minutes: rate(WINDOWS[1].1),
                        one_hour: rate(WINDOWS[2].1),
                    },
                    hw_error_ratio: (w.hashed > 0).then(|| w.missed as f64 / w.hashed as f64),
                    last_share_age_s: w.last_share.map(|t| now.duration_since(t).as_secs_f64()),
                }
            })
            .collect();
        reports.sort_by(|a, b| a.worker.cmp(&b.worker));
        reports
    }

    /// `GET /metrics`: the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let workers = self.workers();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family("sharecheck_shares_total", "counter", "Shares checked by the proxy.");
        let mut lines = String::new();
        for w in &workers {
            let worker = escape_label(&w.worker);
            let accepted_only = w.accepted - w.blocks;
            let _ = writeln!(
                lines,
                "sharecheck_shares_total{{worker=\"{worker}\",result=\"accepted\",reason=\"\"}} {accepted_only}"
            );
            let _ = writeln!(
                lines,
                "sharecheck_shares_total{{worker=\"{worker}\",result=\"block\",reason=\"\"}} {}",
                w.blocks
            );
            for (reason, n) in &w.rejected {
                let _ = writeln!(
                    lines,
                    "sharecheck_shares_total{{worker=\"{worker}\",result=\"rejected\",reason=\"{reason}\"}} {n}"
                );
            }
        }
        out.push_str(&lines);
        let totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP sharecheck_upstream_shares_total Shares sent upstream, by the pool's answer.\n\
             # TYPE sharecheck_upstream_shares_total counter\n\
             sharecheck_upstream_shares_total{{result=\"accepted\"}} {}\n\
             sharecheck_upstream_shares_total{{result=\"rejected\"}} {}\n\
             sharecheck_upstream_shares_total{{result=\"unanswered\"}} {}",
            totals.upstream_accepted, totals.upstream_rejected, totals.upstream_unanswered
        );
        let _ = writeln!(
            out,
            "# HELP sharecheck_worker_hashrate Hashes per second from accepted difficulty.\n# TYPE sharecheck_worker_hashrate gauge"
        );
        for w in &workers {
            let worker = escape_label(&w.worker);
            let h = &w.hashrate;
            for (window, value) in
                [("1m", h.one_minute), ("15m", h.fifteen_minutes), ("1h", h.one_hour)]
            {
                let _ = writeln!(
                    out,
                    "sharecheck_worker_hashrate{{worker=\"{worker}\",window=\"{window}\"}} {value}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP sharecheck_miners_connected Miner connections open.\n\
             # TYPE sharecheck_miners_connected gauge\n\
             sharecheck_miners_connected {}",
            totals.miners_connected
        );
        let _ = writeln!(
            out,
            "# HELP sharecheck_upstream_connected Connections open to each pool.\n# TYPE sharecheck_upstream_connected gauge"
        );
        for (url, n) in &totals.upstream_connected {
            let _ =
                writeln!(out, "sharecheck_upstream_connected{{url=\"{}\"}} {n}", escape_label(url));
        }
        let _ = writeln!(
            out,
            "# HELP sharecheck_blocks_total Block candidates found.\n\
             # TYPE sharecheck_blocks_total counter\n\
             sharecheck_blocks_total {}",
            totals.blocks
        );
        let _ = writeln!(
            out,
            "# HELP sharecheck_check_rounds_total Rounds of the batch checker (scrypt, aggregated mode).\n\
             # TYPE sharecheck_check_rounds_total counter\n\
             sharecheck_check_rounds_total {}\n\
             # HELP sharecheck_batched_shares_total Shares checked in a round of two or more.\n\
             # TYPE sharecheck_batched_shares_total counter\n\
             sharecheck_batched_shares_total {}",
            totals.check_rounds, totals.batched_shares
        );
        out
    }

    /// A round of the batch checker over `shares` shares.
    pub fn check_round(&self, shares: usize) {
        self.with_totals(|t| {
            t.check_rounds += 1;
            if shares > 1 {
                t.batched_shares += shares as u64;
            }
        });
    }
}

/// A pool's error as a statistics key: `"code message"`, or the JSON as sent when it is
/// not the usual `[code, message, …]`; cut to [`MAX_UPSTREAM_ERROR_KEY`] characters.
fn upstream_error_key(error: &serde_json::Value) -> String {
    let key = match (error.get(0).and_then(|c| c.as_i64()), error.get(1).and_then(|m| m.as_str())) {
        (Some(code), Some(message)) => format!("{code} {message}"),
        _ if error.is_null() => "false".to_string(),
        _ => error.to_string(),
    };
    match key.char_indices().nth(MAX_UPSTREAM_ERROR_KEY) {
        Some((cut, _)) => key[..cut].to_string(),
        None => key,
    }
}

fn reason_index(reason: Reason) -> usize {
    Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0)
}

fn bounded_name(name: &str) -> &str {
    match name.char_indices().nth(MAX_WORKER_NAME) {
        Some((cut, _)) => &name[..cut],
        None => name,
    }
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{
        MAX_UPSTREAM_ERRORS, OTHER_ERRORS, OTHER_WORKERS, Stats, UpstreamAnswer, escape_label,
    };
    use crate::chain::Algorithm;
    use crate::validate::{Outcome, Reason, Verdict};

    fn accepted() -> Verdict {
        Verdict { outcome: Outcome::Accepted, ..Verdict::rejected(Reason::Malformed) }
    }

    #[test]
    fn pool_rejections_are_counted_by_the_pools_error_and_bounded() {
        let stats = Stats::new(Algorithm::Sha256d, &[], 10);
        let low = serde_json::json!([23, "Low difficulty share", null]);
        stats.upstream_answer("rig", UpstreamAnswer::Rejected(&low));
        stats.upstream_answer("rig", UpstreamAnswer::Rejected(&low));
        stats.upstream_answer("rig", UpstreamAnswer::Rejected(&serde_json::Value::Null));
        stats.upstream_answer("rig", UpstreamAnswer::Accepted);
        stats.upstream_answer("rig", UpstreamAnswer::Unanswered);
        let rig = &stats.workers()[0];
        assert_eq!(
            (rig.upstream_accepted, rig.upstream_rejected, rig.upstream_unanswered),
            (1, 3, 1)
        );
        let errors: Vec<(&str, u64)> =
            rig.upstream_errors.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(errors, [("23 Low difficulty share", 2), ("false", 1)]);
        // A pool that puts something new in every error cannot grow the table.
        for i in 0..100 {
            let error = serde_json::json!([20, format!("job {i} not found"), null]);
            stats.upstream_answer("rig", UpstreamAnswer::Rejected(&error));
        }
        let rig = &stats.workers()[0];
        assert_eq!(rig.upstream_errors.len(), MAX_UPSTREAM_ERRORS);
        assert_eq!(rig.upstream_errors.values().sum::<u64>(), 103);
        // Jobs 0 to 4 keep their keys; 5 to 99 are summed under the catch-all.
        assert_eq!(rig.upstream_errors[OTHER_ERRORS], 95);
        // A known error is still counted under its own key once the table is full.
        stats.upstream_answer("rig", UpstreamAnswer::Rejected(&low));
        assert_eq!(stats.workers()[0].upstream_errors["23 Low difficulty share"], 3);
    }

    #[test]
    fn worker_series_are_capped() {
        let stats = Stats::new(Algorithm::Sha256d, &[], 2);
        for w in ["a", "b", "c", "d", "a"] {
            stats.share(w, &accepted(), 1.0);
        }
        let names: Vec<String> = stats.workers().into_iter().map(|w| w.worker).collect();
        assert_eq!(names, ["_other", "a", "b"].map(String::from));
        let other = stats.workers().into_iter().find(|w| w.worker == OTHER_WORKERS).unwrap();
        assert_eq!(other.accepted, 2, "c and d summed");
    }

    #[test]
    fn hashrate_is_accepted_difficulty_times_hashes_per_diff1_share() {
        // 2^256 / (0xffff · 2^208) = 2^48 / 65535 hashes per SHA-256d difficulty-1 share.
        let per_share = 2f64.powi(48) / 65535.0;
        assert_eq!(Algorithm::Sha256d.hashes_per_diff1_share(), per_share);
        assert_eq!(Algorithm::Scrypt.hashes_per_diff1_share(), 2f64.powi(32) / 65535.0);
        let stats = Stats::new(Algorithm::Sha256d, &[], 10);
        let at = |s: u64| stats.started + Duration::from_secs(s);
        stats.share_at("rig", None, &accepted(), 2.0, at(1));
        stats.share_at("rig", None, &accepted(), 2.0, at(55));
        stats.share_at("rig", None, &Verdict::rejected(Reason::LowDifficulty), 2.0, at(56));
        // 30 s in: one share, over the 30 s the proxy has run (every window).
        let rig = &stats.workers_at(at(30))[0];
        assert_eq!(rig.hashrate.one_minute, 2.0 * per_share / 30.0);
        assert_eq!(rig.hashrate.one_hour, 2.0 * per_share / 30.0);
        // 100 s in: the first share is out of the last minute (whole 10 s buckets), both
        // are in the hour.
        let rig = &stats.workers_at(at(100))[0];
        assert_eq!(rig.hashrate.one_minute, 2.0 * per_share / 60.0);
        assert_eq!(rig.hashrate.one_hour, 4.0 * per_share / 100.0);
        // The rejected share was not hashed (a verdict without a hash): no ratio change.
        assert_eq!(rig.hw_error_ratio, None);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
