//! `sharecheck serve`: an ASIC test bench. A repaired machine is pointed at it and, within
//! minutes, gets its hashrate with an exact 95% interval, its hardware-error ratio and a
//! verdict.
//!
//! The server is the proxy's own (the accept loop of `mod.rs`, the aggregated mode's miner
//! tasks of `aggregate.rs`), with the bench's hub (`local_hub.rs`) serving local jobs
//! (`local_jobs.rs`) in place of a pool. The statistics are the proxy's (`stats.rs`), the
//! estimate and the verdict `estimate.rs`'s. This file holds the bench's settings, the live
//! view and the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::TcpListener;

use super::difficulty::{DownstreamDifficulty, nice_difficulty};
use super::estimate::{Verdict, WARM_UP, judge, si};
use super::local_hub::{
    LocalWork, POOL_EXTRANONCE1_LEN, POOL_EXTRANONCE2_SIZE, network_difficulty, start_local_hub,
};
use super::local_jobs::LocalJobs;
use super::stats::Stats;
use super::{ProxyConfig, accept_miners};
use crate::chain::Algorithm;

/// Shares a minute the bench aims each machine at unless told otherwise: about 100 shares,
/// enough for a decisive interval, in 5 minutes.
pub const DEFAULT_SHARES_PER_MINUTE: f64 = 20.0;
/// The hardware-error ratio over which a machine fails, unless told otherwise.
pub const DEFAULT_MAX_HW_ERROR: f64 = 0.01;
/// Extranonce bytes (extranonce1 ‖ extranonce2) in the bench's coinbases.
pub const EXTRANONCE_LEN: usize = POOL_EXTRANONCE1_LEN + POOL_EXTRANONCE2_SIZE;

/// How the bench shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveView {
    /// A table redrawn in place on a terminal.
    Table,
    /// Plain lines, one per worker, every `refresh` (a log, a pipe).
    Lines,
    /// Nothing (the report only).
    Off,
}

/// Settings of a bench run.
pub struct BenchConfig {
    /// The PoW algorithm of the machines under test.
    pub algorithm: Algorithm,
    /// Each machine's difficulty: vardiff (default, [`DEFAULT_SHARES_PER_MINUTE`]) or fixed.
    pub difficulty: DownstreamDifficulty,
    /// Where vardiff starts for a machine that suggests no difficulty (see
    /// [`BenchConfig::vardiff_start_for`]).
    pub vardiff_start: f64,
    /// How long the bench runs (`None`: until it is stopped).
    pub duration: Option<Duration>,
    /// The hashrate the machines should have (H/s); without it, no hashrate can fail.
    pub expected_hashrate: Option<f64>,
    /// The hardware-error ratio over which a machine fails.
    pub max_hw_error: f64,
    /// The jobs.
    pub jobs: LocalJobs,
    /// A new job this often (default 30 s).
    pub job_interval: Duration,
    /// A new block (a clean job) every this many jobs (default 10: every 5 minutes).
    pub jobs_per_block: u32,
    /// The live view.
    pub live: LiveView,
    /// How often the live view is redrawn (the table) or written (the lines).
    pub refresh: Duration,
    /// Machine connections served at once (default 1000).
    pub max_connections: usize,
}

impl BenchConfig {
    /// A bench for `algorithm` with the defaults, on generated jobs.
    pub fn new(algorithm: Algorithm) -> BenchConfig {
        // Heights of the chains in 2026, for a realistic BIP 34 push.
        let height = match algorithm {
            Algorithm::Sha256d => 930_000,
            Algorithm::Scrypt => 3_000_000,
        };
        let jobs = match LocalJobs::new(algorithm, height, EXTRANONCE_LEN) {
            Ok(jobs) => jobs,
            // A fixed height and extranonce: the script is far under 100 bytes.
            Err(e) => unreachable!("the bench's own coinbase: {e}"),
        };
        BenchConfig {
            algorithm,
            difficulty: DownstreamDifficulty::Vardiff {
                shares_per_minute: DEFAULT_SHARES_PER_MINUTE,
            },
            vardiff_start: BenchConfig::vardiff_start_for(
                algorithm,
                None,
                DEFAULT_SHARES_PER_MINUTE,
            ),
            duration: None,
            expected_hashrate: None,
            max_hw_error: DEFAULT_MAX_HW_ERROR,
            jobs,
            job_interval: Duration::from_secs(30),
            jobs_per_block: 10,
            live: LiveView::Off,
            refresh: Duration::from_secs(1),
            max_connections: 1000,
        }
    }

    /// Where vardiff starts: the difficulty at which a machine of the `expected` hashrate
    /// sends `shares_per_minute`; without one, 1024 for scrypt (an L3++ floods at it and is
    /// raised within seconds, a small machine is lowered in a few 30-second windows) and
    /// 65 536 for SHA-256d (the same for an S19 and a USB stick).
    pub fn vardiff_start_for(
        algorithm: Algorithm,
        expected: Option<f64>,
        shares_per_minute: f64,
    ) -> f64 {
        match expected {
            Some(h) if h > 0.0 && shares_per_minute > 0.0 => {
                let d = h * 60.0 / (shares_per_minute * algorithm.hashes_per_diff1_share());
                nice_difficulty(d.max(1.0 / 65536.0))
            }
            _ => match algorithm {
                Algorithm::Scrypt => 1024.0,
                Algorithm::Sha256d => 65536.0,
            },
        }
    }
}

/// The bench's report (`--report FILE`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BenchReport {
    /// `sha256d` or `scrypt`.
    pub algo: &'static str,
    /// Seconds the bench ran.
    pub duration_s: f64,
    /// One entry per worker name, sorted by name.
    pub workers: Vec<WorkerResult>,
}

/// One worker in the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkerResult {
    /// The worker name the machine authorized with.
    pub worker: String,
    /// Shares accepted.
    pub accepted: u64,
    /// Shares rejected, by reason (only reasons that occurred).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Shares whose hash missed the share target, over all shares that were hashed
    /// (`null` before the first).
    pub hw_error_ratio: Option<f64>,
    /// The hashrate estimate, hashes per second.
    pub hashrate_hs: f64,
    /// Its exact 95% interval (the upper end `null` when unbounded: no share counted and no
    /// time watched).
    pub hashrate_ci95: [Option<f64>; 2],
    /// The expected hashrate, if one was given.
    pub expected_hashrate_hs: Option<f64>,
    /// `pass`, `fail` or `inconclusive`.
    pub verdict: &'static str,
    /// Why, in words (for `inconclusive`, how many more shares and minutes).
    pub why: String,
    /// Shares the estimate counted (those that met the difficulty in force; the first one
    /// only starts the clock).
    pub shares_counted: u64,
    /// Seconds the estimate watched the machine.
    pub seconds_watched: f64,
    /// The difficulty the machine works at now.
    pub difficulty: Option<f64>,
}

/// Runs the bench: machines connect on `listener` until the duration has passed or
/// `shutdown` completes; `/metrics` and `/workers` on `metrics` if given. Returns the report
/// once every connection has closed.
pub async fn run_bench(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    config: BenchConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<BenchReport> {
    let started = Instant::now();
    let ceiling = network_difficulty(config.algorithm, config.jobs.nbits());
    let asked = match config.difficulty {
        DownstreamDifficulty::Fixed(d) => d,
        _ => config.vardiff_start,
    };
    if asked > ceiling {
        // An easy template (a test network): every share would be a block.
        tracing::warn!(
            difficulty = asked,
            network = ceiling,
            "difficulty above the jobs' network difficulty: machines get the network's"
        );
    }
    let mut server = ProxyConfig::new(config.algorithm, Vec::new());
    server.aggregate = true;
    server.downstream_difficulty = match config.difficulty {
        DownstreamDifficulty::Upstream => {
            DownstreamDifficulty::Vardiff { shares_per_minute: DEFAULT_SHARES_PER_MINUTE }
        }
        other => other,
    };
    server.vardiff_start = Some(config.vardiff_start);
    server.max_connections = config.max_connections;
    // Nothing waits on a pool here: connections close quickly at the end.
    server.upstream_timeout = Duration::from_secs(2);
    let server = Arc::new(server);
    let stats = Arc::new(Stats::new(config.algorithm, &[], server.max_worker_series));
    let work = LocalWork {
        jobs: config.jobs.clone(),
        job_interval: config.job_interval,
        jobs_per_block: config.jobs_per_block,
    };
    let hub = start_local_hub(server.clone(), stats.clone(), work)?;
    let judging = Judging {
        algorithm: config.algorithm,
        expected: config.expected_hashrate,
        max_hw_error: config.max_hw_error,
    };
    let (stop_view, view_stopped) = tokio::sync::oneshot::channel::<()>();
    let view = tokio::spawn(live_view(
        stats.clone(),
        judging,
        config.live,
        config.refresh,
        started,
        view_stopped,
    ));
    let duration = config.duration;
    let end = async move {
        match duration {
            Some(d) => tokio::select! { _ = shutdown => {}, _ = tokio::time::sleep(d) => {} },
            None => shutdown.await,
        }
    };
    let served = accept_miners(listener, metrics, server, stats.clone(), Some(hub), end).await;
    let _ = stop_view.send(());
    let _ = view.await;
    served?;
    let report = judging.report(&stats, started.elapsed());
    if config.live != LiveView::Off {
        print!("{}", render(&report, config.live, started.elapsed()));
        let _ = std::io::stdout().flush();
    }
    Ok(report)
}

/// What a verdict is judged against.
#[derive(Clone, Copy, Debug)]
struct Judging {
    algorithm: Algorithm,
    expected: Option<f64>,
    max_hw_error: f64,
}

impl Judging {
    /// The report as of now.
    fn report(&self, stats: &Stats, elapsed: Duration) -> BenchReport {
        let estimates = stats.estimates();
        let workers = stats
            .workers()
            .into_iter()
            .map(|w| {
                let e = estimates.get(&w.worker);
                let estimate = e.map(|e| e.estimate).unwrap_or_else(|| {
                    super::estimate::Estimate::from_exposure(0, Default::default())
                });
                let hashed = e.map_or(0, |e| e.hashed);
                // A machine that has sent nothing is warming up; one that sends only bad
                // hashes is judged on them.
                let (verdict, why) = if e.is_some_and(|e| e.warming_up) && hashed == 0 {
                    let why = format!(
                        "waiting for its first share (a machine may take {} minutes to start)",
                        WARM_UP.as_secs() / 60
                    );
                    (Verdict::Inconclusive, why)
                } else {
                    judge(&estimate, self.expected, w.hw_error_ratio, hashed, self.max_hw_error)
                };
                let finite = |x: f64| x.is_finite().then_some(x);
                WorkerResult {
                    worker: w.worker,
                    accepted: w.accepted,
                    rejected: w.rejected,
                    hw_error_ratio: w.hw_error_ratio,
                    hashrate_hs: estimate.hashrate,
                    hashrate_ci95: [finite(estimate.ci95.0), finite(estimate.ci95.1)],
                    expected_hashrate_hs: self.expected,
                    verdict: verdict.as_str(),
                    why,
                    shares_counted: estimate.shares,
                    seconds_watched: estimate.seconds,
                    difficulty: e.and_then(|e| e.difficulty),
                }
            })
            .collect();
        BenchReport { algo: self.algorithm.name(), duration_s: elapsed.as_secs_f64(), workers }
    }
}

/// Redraws the table (or writes the lines) every `refresh` until stopped.
async fn live_view(
    stats: Arc<Stats>,
    judging: Judging,
    live: LiveView,
    refresh: Duration,
    started: Instant,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    if live == LiveView::Off {
        return;
    }
    let mut ticker = tokio::time::interval(refresh.max(Duration::from_millis(100)));
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = ticker.tick() => {}
        }
        let report = judging.report(&stats, started.elapsed());
        print!("{}", render(&report, live, started.elapsed()));
        let _ = std::io::stdout().flush();
    }
}

/// The live view's text: the whole table (cleared and redrawn from the top left), or one
/// line per worker.
pub fn render(report: &BenchReport, live: LiveView, elapsed: Duration) -> String {
    let mut out = String::new();
    let seconds = elapsed.as_secs();
    let clock = format!("{}:{:02}", seconds / 60, seconds % 60);
    match live {
        LiveView::Off => {}
        LiveView::Table => {
            out.push_str("\x1b[H\x1b[2J");
            let _ = writeln!(
                out,
                "sharecheck serve: {} bench, {clock} elapsed, {} worker(s)\n",
                report.algo,
                report.workers.len()
            );
            let _ = writeln!(
                out,
                "{:<20} {:>8} {:>8} {:>7} {:>10} {:>12}  {:<27} {:<12} why (rejected by reason)",
                "worker",
                "accepted",
                "rejected",
                "hw err",
                "difficulty",
                "hashrate",
                "95% interval",
                "verdict"
            );
            for w in &report.workers {
                let _ = writeln!(
                    out,
                    "{:<20} {:>8} {:>8} {:>7} {:>10} {:>12}  {:<27} {:<12} {}{}",
                    cut(&w.worker, 20),
                    w.accepted,
                    w.rejected.values().sum::<u64>(),
                    percent(w.hw_error_ratio),
                    w.difficulty.map_or("-".into(), short_number),
                    si(w.hashrate_hs),
                    interval(w.hashrate_ci95),
                    w.verdict,
                    w.why,
                    reasons(&w.rejected, " (", ")")
                );
            }
        }
        LiveView::Lines => {
            for w in &report.workers {
                let _ = writeln!(
                    out,
                    "[{clock}] {} accepted={} rejected={}{} hw_err={} hashrate={} ci95={} verdict={} ({})",
                    w.worker,
                    w.accepted,
                    w.rejected.values().sum::<u64>(),
                    reasons(&w.rejected, "(", ")").replace(' ', ""),
                    percent(w.hw_error_ratio),
                    si(w.hashrate_hs).replace(' ', ""),
                    interval(w.hashrate_ci95).replace(' ', ""),
                    w.verdict,
                    w.why
                );
            }
        }
    }
    out
}

/// Rejections by reason, `low_difficulty 12, duplicate 2`, between `open` and `close`
/// (nothing when there are none).
fn reasons(rejected: &BTreeMap<&'static str, u64>, open: &str, close: &str) -> String {
    if rejected.is_empty() {
        return String::new();
    }
    let list: Vec<String> = rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
    format!("{open}{}{close}", list.join(", "))
}

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or("-".into(), |r| format!("{:.2}%", r * 100.0))
}

/// A difficulty in a table cell: whole numbers as they are, very large or small ones in
/// exponent form, others to 4 significant digits.
fn short_number(x: f64) -> String {
    if x >= 1e9 || (x > 0.0 && x < 1e-3) {
        format!("{x:.3e}")
    } else if x >= 1.0 && x.fract() == 0.0 {
        format!("{x}")
    } else {
        format!("{x:.4}")
    }
}

fn interval(ci: [Option<f64>; 2]) -> String {
    let end = |x: Option<f64>| x.map_or("unbounded".to_string(), si);
    format!("[{}, {}]", end(ci[0]), end(ci[1]))
}

/// The exit status for a report: 0 when every machine passed, 1 when one failed, 3 when
/// none failed but one is inconclusive (or no machine connected). (2 is bad arguments and
/// 4 a bench that failed while running, in the command.)
pub fn exit_status(report: &BenchReport) -> i32 {
    // Shares of connections that never authorized judge no machine (machines past the
    // statistics' cap, summed under `_other`, still do).
    let machines = report.workers.iter().filter(|w| w.worker != super::miner::UNAUTHORIZED);
    let verdicts: Vec<&str> = machines.map(|w| w.verdict).collect();
    if verdicts.contains(&Verdict::Fail.as_str()) {
        1
    } else if verdicts.is_empty() || verdicts.contains(&Verdict::Inconclusive.as_str()) {
        3
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(name: &str, verdict: &'static str) -> WorkerResult {
        WorkerResult {
            worker: name.into(),
            accepted: 258,
            rejected: BTreeMap::from([("low_difficulty", 12)]),
            hw_error_ratio: Some(12.0 / 270.0),
            hashrate_hs: 504e6,
            hashrate_ci95: [Some(450e6), None],
            expected_hashrate_hs: Some(504e6),
            verdict,
            why: "because".into(),
            shares_counted: 257,
            seconds_watched: 600.0,
            difficulty: Some(1.52e-5),
        }
    }

    #[test]
    fn the_views_show_every_worker_and_the_exit_status_follows_the_verdicts() {
        let mut report = BenchReport {
            algo: "scrypt",
            duration_s: 600.0,
            workers: vec![worker("l3-rack1", "pass")],
        };
        let table = render(&report, LiveView::Table, Duration::from_secs(605));
        assert!(table.starts_with("\x1b[H\x1b[2J"), "redrawn from the top left");
        assert!(table.contains("10:05 elapsed"), "{table}");
        let row = table.lines().find(|l| l.starts_with("l3-rack1")).unwrap();
        for cell in ["258", "12", "4.44%", "1.520e-5", "504.0 MH/s", "[450.0 MH/s, unbounded]"] {
            assert!(row.contains(cell), "{cell} in {row}");
        }
        assert!(row.ends_with("because (low_difficulty 12)"), "{row}");
        let lines = render(&report, LiveView::Lines, Duration::from_secs(5));
        assert_eq!(
            lines,
            "[0:05] l3-rack1 accepted=258 rejected=12(low_difficulty12) hw_err=4.44% \
             hashrate=504.0MH/s ci95=[450.0MH/s,unbounded] verdict=pass (because)\n"
        );
        assert_eq!(render(&report, LiveView::Off, Duration::ZERO), "");
        assert_eq!(exit_status(&report), 0);
        report.workers.push(worker("l3-rack2", "inconclusive"));
        assert_eq!(exit_status(&report), 3);
        report.workers.push(worker("l3-rack3", "fail"));
        assert_eq!(exit_status(&report), 1);
        report.workers = vec![worker("l3-rack1", "pass"), worker("_unauthorized", "fail")];
        assert_eq!(exit_status(&report), 0, "shares without a login are no machine's verdict");
        report.workers = vec![worker("l3-rack1", "pass"), worker("_other", "fail")];
        assert_eq!(exit_status(&report), 1, "machines past the cap still count");
        report.workers.clear();
        assert_eq!(exit_status(&report), 3, "no machine connected: nothing passed");
    }
}
