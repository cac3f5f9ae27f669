//! `sharecheck serve`, the test bench, over loopback with simulated machines of known
//! hashrate. Each machine draws its share arrivals from a seeded Poisson process of rate
//! λ = H / (D · hashes per difficulty-1 share) and, at each arrival, mines a real share at
//! the bench's difficulty D with the independent builder (sha2 / the scrypt crate, never
//! the engine): the bench sees what a machine hashing at H would send. D is tiny (a few
//! hashes a share), so hundreds of machines run in one test.
#![cfg(feature = "server")]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::miner::{TestJob, share_target};
use common::proxy::{difficulty_for, http_get, pow, within};
use num_bigint::BigUint;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::server::DownstreamDifficulty;
use sharecheck::server::test_bench::{BenchConfig, BenchReport, run_bench};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The bench's fixed difficulty is 2^-30 of SHA-256d's (target 0xffff·2^238): about 4
/// hashes a share.
const LOG2_EASY: u32 = 30;

/// Hashes per difficulty-1 share, from the pool conventions' diff1 targets: SHA-256d
/// 0xffff·2^208, scrypt 0xffff·2^224.
fn hashes_per_diff1(algorithm: Algorithm) -> f64 {
    match algorithm {
        Algorithm::Sha256d => 2f64.powi(48) / 65535.0,
        Algorithm::Scrypt => 2f64.powi(32) / 65535.0,
    }
}

/// The pool conventions' difficulty-1 targets: SHA-256d 0xffff·2^208, scrypt 0xffff·2^224.
fn diff1_target(algorithm: Algorithm) -> BigUint {
    let shift = match algorithm {
        Algorithm::Sha256d => 208usize,
        Algorithm::Scrypt => 224,
    };
    BigUint::from(0xffffu32) << shift
}

/// A seeded generator (SplitMix64): the same arrivals every run.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64 // in (0, 1)
    }

    /// An exponential wait of rate `rate` per second.
    fn wait(&mut self, rate: f64) -> Duration {
        Duration::from_secs_f64(-self.next_f64().ln() / rate)
    }
}

/// A simulated machine.
#[derive(Clone)]
struct Machine {
    worker: String,
    /// Hashes a second: shares come at H / (D · h₁) a second at the difficulty D in force.
    hashrate: f64,
    /// Every n-th share is a bad hash (misses the share target): a failing hashboard.
    bad_every: Option<u64>,
    /// Valid shares sent again once each (a firmware resubmitting): answered duplicate.
    resubmit: u64,
    /// Connects this long after the bench starts.
    start_after: Duration,
    /// Stops submitting this long after connecting (keeps reading until the bench closes);
    /// `None`: submits until the end.
    send_for: Option<Duration>,
    /// Applies a new difficulty at the next job, as some firmware does (else at once).
    difficulty_at_next_job: bool,
    /// Logs in as an S19 does: `mining.configure` for version rolling, then
    /// `mining.extranonce.subscribe` and `mining.suggest_difficulty`, and rolls version bits.
    rolls_versions: bool,
    seed: u64,
}

impl Machine {
    fn new(worker: &str, hashrate: f64, seed: u64) -> Machine {
        Machine {
            worker: worker.into(),
            hashrate,
            bad_every: None,
            resubmit: 0,
            start_after: Duration::ZERO,
            send_for: None,
            difficulty_at_next_job: false,
            rolls_versions: false,
            seed,
        }
    }
}

/// What a machine was answered: accepted, and rejections by stratum error code.
#[derive(Debug, Default, Clone, PartialEq)]
struct Tally {
    accepted: u64,
    rejected: BTreeMap<i64, u64>,
    /// Submits written to the bench.
    sent: u64,
    bad_sent: u64,
    /// The version-rolling mask the bench granted.
    mask: Option<u32>,
    /// The difficulties the bench set after the first.
    difficulties: Vec<f64>,
}

fn job_from(params: &Value) -> TestJob {
    TestJob::from_params(params)
}

/// Runs `machine` against the bench at `addr` until the bench closes the connection.
async fn run_machine(algorithm: Algorithm, addr: SocketAddr, machine: Machine) -> Tally {
    tokio::time::sleep(machine.start_after).await;
    let mut attempts = 0;
    let stream = loop {
        // A bench run as its own process may still be starting: a few tries.
        match TcpStream::connect(addr).await {
            Ok(stream) => break stream,
            Err(e) if attempts < 100 => {
                attempts += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the bench at {addr} does not answer: {e}"),
        }
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let send = |id: u64, method: &str, params: Value| {
        format!("{}\n", json!({"id": id, "method": method, "params": params}))
    };
    let mut out = String::new();
    if machine.rolls_versions {
        let asked = json!([["version-rolling"], {"version-rolling.mask": "ffffffff"}]);
        out += &send(3, "mining.configure", asked);
    }
    out += &send(1, "mining.subscribe", json!(["cpuminer/2.5.1"]));
    out += &send(2, "mining.authorize", json!([machine.worker, "x"]));
    if machine.rolls_versions {
        out += &send(4, "mining.extranonce.subscribe", json!([]));
        out += &send(5, "mining.suggest_difficulty", json!([1024]));
    }
    write.write_all(out.as_bytes()).await.unwrap();
    let (mut en1, mut job, mut authorized, mut difficulty) = (None, None, false, None);
    let mut tally = Tally::default();
    let mut extras = if machine.rolls_versions { 3 } else { 0 };
    while en1.is_none() || job.is_none() || !authorized || extras > 0 {
        let m: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        match (m["id"].as_u64(), m["method"].as_str()) {
            (Some(1), _) => en1 = Some(m["result"][1].as_str().unwrap().to_string()),
            (Some(2), _) => authorized = m["result"] == true,
            (Some(3), _) => {
                assert_eq!(m["result"]["version-rolling"], true, "{m}");
                let mask = m["result"]["version-rolling.mask"].as_str().unwrap();
                tally.mask = Some(u32::from_str_radix(mask, 16).unwrap());
                extras -= 1;
            }
            (Some(4 | 5), _) => {
                assert_eq!(m["result"], true, "{m}");
                extras -= 1;
            }
            (_, Some("mining.notify")) => job = Some(job_from(&m["params"])),
            (_, Some("mining.set_difficulty")) => difficulty = m["params"][0].as_f64(),
            _ => {}
        }
    }
    let (en1, mut job) = (en1.unwrap(), job.unwrap());
    let diff1 = diff1_target(algorithm);
    let mut d = difficulty.expect("a difficulty before the job");
    let mut target = share_target(&diff1, d);
    let rate = |d: f64| machine.hashrate / (d * hashes_per_diff1(algorithm));
    let mut random = SplitMix(machine.seed);
    let connected = tokio::time::Instant::now();
    // A difficulty sent, waiting for the next job (firmware that applies it there).
    let mut pending_difficulty = None;
    let mut next_at = tokio::time::Instant::now() + random.wait(rate(d));
    let (mut sent, mut next_id) = (0u64, 10u64);
    let mut resubmits = Vec::new();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { return tally }; // the bench has ended
                let m: Value = serde_json::from_str(&line).unwrap();
                let mut new_difficulty = None;
                if m["method"] == "mining.notify" {
                    job = job_from(&m["params"]);
                    new_difficulty = pending_difficulty.take();
                } else if m["method"] == "mining.set_difficulty" {
                    let sent_d = m["params"][0].as_f64().unwrap();
                    tally.difficulties.push(sent_d);
                    match machine.difficulty_at_next_job {
                        true => pending_difficulty = Some(sent_d),
                        false => new_difficulty = Some(sent_d), // at once, as cgminer
                    }
                } else if m["id"].as_u64().is_some_and(|id| id >= 10) {
                    match m["error"][0].as_i64() {
                        None if m["result"] == true => tally.accepted += 1,
                        Some(code) => *tally.rejected.entry(code).or_default() += 1,
                        None => panic!("an answer neither true nor an error: {m}"),
                    }
                }
                if let Some(new) = new_difficulty {
                    // The next arrival drawn afresh at the new rate (memoryless).
                    d = new;
                    target = share_target(&diff1, d);
                    next_at = tokio::time::Instant::now() + random.wait(rate(d));
                }
            }
            _ = tokio::time::sleep_until(next_at),
                if machine.send_for.is_none_or(|s| connected.elapsed() < s) => {
                // Arrivals on an absolute timeline: a late wake-up sends at once.
                next_at += random.wait(rate(d));
                sent += 1;
                let en2 = format!("{sent:08x}");
                let bad = machine.bad_every.is_some_and(|n| sent % n == 0);
                // An S19 rolls the version bits it was granted (BIP 310).
                let bits = match tally.mask {
                    Some(mask) => (sent as u32).wrapping_mul(0x2000) & mask,
                    None => 0,
                };
                let version = job.version | bits;
                let mut header = job.header(&en1, &en2, job.ntime, 0, version);
                let nonce = (0u32..)
                    .find(|n| {
                        header[76..].copy_from_slice(&n.to_le_bytes());
                        (pow(algorithm, &header) <= target) != bad
                    })
                    .unwrap();
                tally.bad_sent += u64::from(bad);
                let mut params = json!([machine.worker, job.id, en2,
                    format!("{:08x}", job.ntime), format!("{nonce:08x}")]);
                if tally.mask.is_some() {
                    params.as_array_mut().unwrap().push(json!(format!("{bits:08x}")));
                }
                let mut out = send(next_id, "mining.submit", params.clone());
                next_id += 1;
                tally.sent += 1;
                if !bad && (resubmits.len() as u64) < machine.resubmit {
                    resubmits.push(params.clone());
                    out += &send(next_id, "mining.submit", params);
                    next_id += 1;
                    tally.sent += 1;
                }
                if write.write_all(out.as_bytes()).await.is_err() {
                    return tally;
                }
            }
        }
    }
}

/// A bench on loopback for `algorithm` at the tiny difficulty, expecting `expected` H/s,
/// with any other settings `configure` makes.
async fn start_bench(
    algorithm: Algorithm,
    expected: f64,
    seconds: f64,
    configure: impl FnOnce(&mut BenchConfig),
) -> (SocketAddr, SocketAddr, tokio::task::JoinHandle<BenchReport>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, metrics_addr) = (listener.local_addr().unwrap(), metrics.local_addr().unwrap());
    let mut config = BenchConfig::new(algorithm);
    config.difficulty = DownstreamDifficulty::Fixed(difficulty_for(algorithm, LOG2_EASY));
    config.expected_hashrate = Some(expected);
    config.duration = Some(Duration::from_secs_f64(seconds));
    config.job_interval = Duration::from_secs(60);
    configure(&mut config);
    let bench = tokio::spawn(async move {
        run_bench(listener, Some(metrics), config, std::future::pending()).await.unwrap()
    });
    (addr, metrics_addr, bench)
}

fn reason_code(reason: &str) -> i64 {
    match reason {
        "duplicate" => 22,
        "low_difficulty" => 23,
        "stale" | "unknown_job" => 21,
        other => panic!("unexpected reason {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashrate_intervals_cover_the_true_rate_and_every_verdict_is_reached() {
    within(60, async {
        let algorithm = Algorithm::Sha256d;
        let d = difficulty_for(algorithm, LOG2_EASY);
        let rate = 25.0; // shares a second
        let true_hashrate = rate * d * hashes_per_diff1(algorithm);
        let (addr, metrics, bench) = start_bench(algorithm, true_hashrate, 6.0, |_| {}).await;

        let machine =
            |worker: String, hashrate: f64, seed: u64| Machine::new(&worker, hashrate, seed);
        // These stop submitting 4 s after their login (2 s before the end), so every share
        // they sent is in the report.
        let send_for = Some(Duration::from_secs(4));
        let mut machines: Vec<Machine> =
            (0..200).map(|i| machine(format!("healthy-{i:03}"), true_hashrate, 1000 + i)).collect();
        // Half the hashrate they should have: a dead hashboard.
        machines
            .extend((0..10).map(|i| machine(format!("half-{i}"), true_hashrate / 2.0, 5000 + i)));
        // Faster than expected, but connected for the last 1.5 s only: too few shares to
        // tell (and so fast that the expected rate is never above its interval).
        let late = Duration::from_millis(4500);
        let fast = machine("late".into(), 1.5 * true_hashrate, 7);
        machines.push(Machine { start_after: late, ..fast });
        // One share in 20 a bad hash: 5% hardware errors.
        let errors = machine("errors".into(), true_hashrate, 8);
        machines.push(Machine { bad_every: Some(20), send_for, ..errors });
        // Three valid shares sent twice.
        let resubmits = machine("resubmits".into(), true_hashrate, 9);
        machines.push(Machine { resubmit: 3, send_for, ..resubmits });
        // An S19's login: version rolling, extranonce subscribe, a suggested difficulty.
        let s19 = machine("s19".into(), true_hashrate, 10);
        machines.push(Machine { rolls_versions: true, send_for, ..s19 });
        let runs: Vec<_> = machines
            .iter()
            .map(|m| tokio::spawn(run_machine(algorithm, addr, m.clone())))
            .collect();
        // The statistics while it runs: the metrics endpoint sees the machines.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (status, body) = http_get(metrics, "/workers").await;
        assert!(status.contains("200"), "{status}");
        let workers: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(workers.as_array().unwrap().len(), machines.len() - 1, "all but the late one");

        let mut tallies = BTreeMap::new();
        for (m, run) in machines.iter().zip(runs) {
            tallies.insert(m.worker.clone(), run.await.unwrap());
        }
        let report = bench.await.unwrap();
        assert_eq!(report.algo, "sha256d");
        assert!((6.0..15.0).contains(&report.duration_s), "{}", report.duration_s);
        assert_eq!(report.workers.len(), machines.len());

        // The report's counts are what each machine was answered.
        for w in &report.workers {
            let tally = &tallies[&w.worker];
            assert_eq!(w.accepted, tally.accepted, "{}", w.worker);
            let rejected: BTreeMap<i64, u64> =
                w.rejected.iter().map(|(r, n)| (reason_code(r), *n)).collect();
            assert_eq!(rejected, tally.rejected, "{}", w.worker);
        }
        // Those that stopped before the end: every share sent is in the report.
        for name in ["errors", "resubmits", "s19"] {
            let w = report.workers.iter().find(|w| w.worker == name).unwrap();
            let counted = w.accepted + w.rejected.values().sum::<u64>();
            assert_eq!(counted, tallies[name].sent, "{name}");
        }
        let s19 = &tallies["s19"];
        assert_eq!(s19.mask, Some(0x1fff_e000), "the bench's mask");
        assert!(s19.accepted > 50 && s19.rejected.is_empty(), "{s19:?}");

        let by_name = |name: &str| report.workers.iter().find(|w| w.worker == name).unwrap();
        // Coverage: the exact 95% interval holds the true rate for at least 90% of the
        // healthy machines (each its own seeded run).
        let healthy: Vec<_> =
            report.workers.iter().filter(|w| w.worker.starts_with("healthy")).collect();
        let covered = healthy
            .iter()
            .filter(|w| {
                let [lo, hi] = w.hashrate_ci95;
                lo.unwrap() <= true_hashrate && true_hashrate <= hi.unwrap()
            })
            .count();
        assert!(covered >= 180, "the interval covered the true rate {covered} times in 200");
        let passed = healthy.iter().filter(|w| w.verdict == "pass").count();
        assert!(passed >= 180, "{passed} healthy machines of 200 passed");
        for w in report.workers.iter().filter(|w| w.worker.starts_with("half")) {
            assert_eq!(w.verdict, "fail", "{}: {}", w.worker, w.why);
            assert!(w.why.contains("above the 95% interval"), "{}", w.why);
        }
        let late = by_name("late");
        assert_eq!(late.verdict, "inconclusive", "{}", late.why);
        assert!(late.why.contains("more minutes"), "{}", late.why);

        // 5% bad hashes: the ratio is exactly what was sent, and the machine fails on it.
        let errors = by_name("errors");
        let tally = &tallies["errors"];
        let hashed = tally.accepted + tally.bad_sent;
        assert_eq!(tally.rejected.get(&23), Some(&tally.bad_sent));
        let ratio = errors.hw_error_ratio.unwrap();
        assert!((ratio - tally.bad_sent as f64 / hashed as f64).abs() < 1e-12, "{ratio}");
        assert!((0.04..=0.06).contains(&ratio), "{ratio}");
        assert_eq!(errors.verdict, "fail", "{}", errors.why);
        assert!(errors.why.contains("hardware errors"), "{}", errors.why);

        let resubmits = by_name("resubmits");
        assert_eq!(resubmits.rejected.get("duplicate"), Some(&3));
        assert_eq!(resubmits.hw_error_ratio, Some(0.0));
        // (No verdict asserted: it stopped sending a second before the end, which reads as
        // a second of lost hashrate.)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vardiff_brings_each_machine_to_its_share_rate_and_the_interval_still_covers() {
    within(60, async {
        // 10 shares a second wanted; machines that send that at 2^-26 start at 2^-30 (16
        // times too many shares) and are raised by one step of ×16 within the first second,
        // also those that apply a new difficulty only at their next job (their shares at
        // the old one do not count for vardiff).
        let algorithm = Algorithm::Sha256d;
        let hashrate = 10.0 * (-26f64).exp2() * hashes_per_diff1(algorithm);
        let (addr, _, bench) = start_bench(algorithm, hashrate, 6.0, |c| {
            c.difficulty = DownstreamDifficulty::Vardiff { shares_per_minute: 600.0 };
            c.vardiff_start = (-30f64).exp2();
            // A job a second, for the machines that apply a difficulty at their next job.
            c.job_interval = Duration::from_secs(1);
        })
        .await;
        let machines: Vec<Machine> = (0..20)
            .map(|i| Machine {
                // Half apply a new difficulty at once, half at their next job.
                difficulty_at_next_job: i % 2 == 1,
                ..Machine::new(&format!("vardiff-{i}"), hashrate, 300 + i)
            })
            .collect();
        let runs: Vec<_> = machines
            .iter()
            .map(|m| tokio::spawn(run_machine(algorithm, addr, m.clone())))
            .collect();
        let mut tallies = BTreeMap::new();
        for (m, run) in machines.iter().zip(runs) {
            tallies.insert(m.worker.clone(), run.await.unwrap());
        }
        let report = bench.await.unwrap();
        assert_eq!(report.workers.len(), machines.len());
        let mut covered = 0;
        for w in &report.workers {
            let tally = &tallies[&w.worker];
            // Raised, to within one step of the share rate asked for.
            let last = *tally.difficulties.last().expect("vardiff raised the difficulty");
            assert!((-27f64).exp2() <= last && last <= (-25f64).exp2(), "{}: {last}", w.worker);
            assert_eq!(w.difficulty, Some(last), "{}", w.worker);
            assert_eq!(w.accepted, tally.accepted, "{}", w.worker);
            assert!(w.shares_counted >= 20, "{}: {} counted", w.worker, w.shares_counted);
            let [lo, hi] = w.hashrate_ci95;
            covered += usize::from(lo.unwrap() <= hashrate && hashrate <= hi.unwrap());
        }
        assert!(covered >= 16, "the interval covered the true rate for {covered} of 20");
    })
    .await;
}

/// A free loopback port (taken and released: the bench binds it next).
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_runs_for_its_duration_writes_the_report_and_exits_by_itself() {
    within(60, async {
        let algorithm = Algorithm::Scrypt;
        let d = difficulty_for(algorithm, LOG2_EASY);
        let hashrate = 8.0 * d * hashes_per_diff1(algorithm); // 8 shares a second
        let addr = free_port();
        let report_path =
            std::env::temp_dir().join(format!("sharecheck-serve-{}.json", addr.port()));
        let args: Vec<String> = [
            "serve",
            "--algo",
            "scrypt",
            "--listen",
            &addr.to_string(),
            "--duration",
            "4",
            "--difficulty",
            &d.to_string(),
            "--expect-hashrate",
            &hashrate.to_string(),
            "--report",
            report_path.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let bench = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::run_sharecheck_within(&args, Vec::new(), Duration::from_secs(30))
        });
        let machine = Machine { resubmit: 2, ..Machine::new("l3-bench", hashrate, 11) };
        let tally = run_machine(algorithm, addr, machine).await;
        let (output, elapsed) = bench.await.unwrap();
        assert!(elapsed < Duration::from_secs(10), "stopped after {elapsed:?}");
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
        let _ = std::fs::remove_file(&report_path);
        assert_eq!(report["algo"], "scrypt");
        let w = &report["workers"][0];
        assert_eq!(report["workers"].as_array().unwrap().len(), 1);
        assert_eq!(w["worker"], "l3-bench");
        assert_eq!(w["accepted"], tally.accepted);
        assert!(tally.accepted >= 10, "{tally:?}");
        assert_eq!(w["rejected"], json!({"duplicate": 2}));
        assert_eq!(w["hw_error_ratio"], 0.0);
        assert_eq!(w["expected_hashrate_hs"], hashrate);
        assert_eq!(w["difficulty"], d);
        let [lo, hi] =
            [w["hashrate_ci95"][0].as_f64().unwrap(), w["hashrate_ci95"][1].as_f64().unwrap()];
        assert!(lo < hi && w["hashrate_hs"].as_f64().unwrap() > 0.0, "{w}");
        // The verdict and the exit status agree: 0 pass, 1 fail, 3 inconclusive.
        let status = output.status.code().unwrap();
        let verdict = w["verdict"].as_str().unwrap();
        assert_eq!(
            status,
            match verdict {
                "pass" => 0,
                "fail" => 1,
                _ => 3,
            },
            "{verdict}"
        );
        // Not a terminal: plain lines, one per worker, the last at the end.
        let stdout = String::from_utf8(output.stdout).unwrap();
        let last = stdout.lines().last().unwrap();
        assert!(
            last.contains("l3-bench accepted=") && last.contains(&format!("verdict={verdict}")),
            "{stdout}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_the_bench_with_its_report_within_seconds() {
    within(60, async {
        let algorithm = Algorithm::Sha256d;
        let d = difficulty_for(algorithm, LOG2_EASY);
        let addr = free_port();
        let report_path =
            std::env::temp_dir().join(format!("sharecheck-serve-{}.json", addr.port()));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sharecheck"))
            .args(["serve", "--algo", "sha256d", "--listen", &addr.to_string()])
            .args(["--difficulty", &d.to_string(), "--report", report_path.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let machine = Machine::new("s19", 20.0 * d * hashes_per_diff1(algorithm), 12);
        let run = tokio::spawn(run_machine(algorithm, addr, machine));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let interrupted = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(interrupted.success());
        let sent_at = std::time::Instant::now();
        let tally = run.await.unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(sent_at.elapsed() < Duration::from_secs(10), "still running after Ctrl-C");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(sent_at.elapsed() < Duration::from_secs(5), "{:?}", sent_at.elapsed());
        assert!(matches!(status.code(), Some(0 | 1 | 3)), "{status:?}");
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
        let _ = std::fs::remove_file(&report_path);
        assert_eq!(report["workers"][0]["accepted"], tally.accepted);
        assert!(tally.accepted > 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_gives_the_jobs_its_branch_coinbase_value_and_commitment() {
    within(60, async {
        let algorithm = Algorithm::Sha256d;
        let d = difficulty_for(algorithm, LOG2_EASY);
        let addr = free_port();
        let path =
            format!("{}/tests/data/gbt/btc-testnet3-2442185.json", env!("CARGO_MANIFEST_DIR"));
        let gbt: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let args: Vec<String> = [
            "serve",
            "--algo",
            "sha256d",
            "--listen",
            &addr.to_string(),
            "--duration",
            "3",
            "--difficulty",
            &d.to_string(),
            "--template",
            &path,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let bench = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::run_sharecheck_within(&args, Vec::new(), Duration::from_secs(30))
        });
        // A machine mines on the template's jobs (the engine accepts its shares)...
        let machine = Machine::new("bitaxe", 10.0 * d * hashes_per_diff1(algorithm), 13);
        let mining = tokio::spawn(run_machine(algorithm, addr, machine));
        // ...and the job reads as the template's block, checked here independently.
        let mut attempts = 0;
        let stream = loop {
            match TcpStream::connect(addr).await {
                Ok(s) => break s,
                Err(_) if attempts < 100 => attempts += 1,
                Err(e) => panic!("{e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (read, mut write) = stream.into_split();
        write
            .write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n")
            .await
            .unwrap();
        let mut lines = BufReader::new(read).lines();
        let notify = loop {
            let m: Value =
                serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            if m["method"] == "mining.notify" {
                break m["params"].clone();
            }
        };
        drop(write);
        let txids: Vec<&str> = gbt["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["txid"].as_str().unwrap())
            .collect();
        let branch: Vec<String> =
            common::miner::coinbase_branch(&txids).iter().map(hex::encode).collect();
        assert_eq!(notify[4], json!(branch));
        let job = job_from(&notify);
        assert_eq!(format!("{:08x}", job.nbits), gbt["bits"].as_str().unwrap());
        assert_eq!(u64::from(job.version), gbt["version"].as_u64().unwrap());
        // The stratum prevhash: the header's bytes, each 4-byte word reversed.
        let mut prev = hex::decode(gbt["previousblockhash"].as_str().unwrap()).unwrap();
        prev.reverse();
        let words: Vec<u8> = prev.chunks(4).flat_map(|w| w.iter().rev().copied()).collect();
        assert_eq!(job.prevhash_stratum, hex::encode(words));
        let value = gbt["coinbasevalue"].as_u64().unwrap().to_le_bytes();
        assert!(job.coinb2.contains(&hex::encode(value)), "the template's coinbase value");
        let commitment = gbt["default_witness_commitment"].as_str().unwrap();
        assert!(
            job.coinb2
                .contains(&format!("0000000000000000{:02x}{commitment}", commitment.len() / 2))
        );
        let tally = mining.await.unwrap();
        assert!(tally.accepted > 0 && tally.rejected.is_empty(), "{tally:?}");
        let (output, _) = bench.await.unwrap();
        assert!(matches!(output.status.code(), Some(0 | 1 | 3)), "{output:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_come_on_schedule_with_a_clean_one_for_each_new_block_and_ntime_of_now() {
    within(30, async {
        let (addr, _, bench) = start_bench(Algorithm::Scrypt, 1.0, 2.2, |c| {
            c.job_interval = Duration::from_millis(300);
            c.jobs_per_block = 3;
        })
        .await;
        let (read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
        write
            .write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n")
            .await
            .unwrap();
        let mut lines = BufReader::new(read).lines();
        let mut jobs = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let m: Value = serde_json::from_str(&line).unwrap();
            if m["method"] == "mining.notify" {
                jobs.push(m["params"].clone());
            }
        }
        bench.await.unwrap();
        // The first at subscribe, then one every 300 ms for about 2.2 s (and the half
        // second the connection drains), each once.
        assert!((6..=11).contains(&jobs.len()), "{} jobs", jobs.len());
        let ids: std::collections::HashSet<&str> =
            jobs.iter().map(|j| j[0].as_str().unwrap()).collect();
        assert_eq!(ids.len(), jobs.len());
        // Jobs are numbered from 1; every third (1, 4, 7, ...) is a new block, clean.
        for job in &jobs {
            let number = u64::from_str_radix(job[0].as_str().unwrap(), 16).unwrap();
            assert_eq!(job[8].as_bool().unwrap(), number % 3 == 1, "job {number}");
        }
        // A new block moves the previous hash; jobs of one block share it.
        for pair in jobs.windows(2) {
            let second = u64::from_str_radix(pair[1][0].as_str().unwrap(), 16).unwrap();
            assert_eq!(pair[0][1] == pair[1][1], second % 3 != 1, "job {second}");
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        for job in &jobs {
            let ntime = u64::from_str_radix(job[7].as_str().unwrap(), 16).unwrap();
            assert!(now.as_secs().abs_diff(ntime) <= 5, "ntime {ntime}");
            assert_eq!(job[6], "1a00ffff", "scrypt's bench network target");
        }
    })
    .await;
}
