//! `sharecheck bench`: capacity figures for operators, each kernel beside the crate a user
//! would otherwise pick, measured in the same run. Every figure is the median of several
//! rounds, and the rounds of all figures are interleaved so machine noise hits them alike.

use std::hint::black_box;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use sha2::Digest;

use super::{Failure, human_number};
use sharecheck::bench::{ShareWorkload, sample_header};
use sharecheck::hash::{self, Platform};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Worker threads for every figure (1..=256).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds the whole run takes, setup included (split over the figures and rounds).
    #[arg(long, default_value_t = 12.0)]
    seconds: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    threads: usize,
    rounds: usize,
    sha256_path: String,
    scrypt_path: String,
    scrypt_hashes_per_s: f64,
    scrypt_crate_hashes_per_s: f64,
    scrypt_speedup: f64,
    /// One header at a time (`scrypt_header`), on every thread.
    scrypt_single_hashes_per_s: f64,
    /// `scrypt_single_hashes_per_s` over the scrypt crate's figure.
    scrypt_single_speedup: f64,
    sha256d_headers_per_s: f64,
    sha2_crate_headers_per_s: f64,
    sha256d_speedup: f64,
    share_checks_per_s_sha256d: f64,
    share_checks_per_s_scrypt: f64,
    sequential_share_checks_per_s_sha256d: f64,
    /// `check` one scrypt share at a time, one thread.
    share_checks_per_s_scrypt_single: f64,
    /// The Stratum V2 reference implementation's pool-side check (`channels_sv2`
    /// `ExtendedChannel::validate_share`) on the same SHA-256d job and shares, one share at
    /// a time on one thread (a channel is checked by one thread). `null` in a build
    /// without the `sri` feature.
    sri_share_checks_per_s: Option<f64>,
    /// `sequential_share_checks_per_s_sha256d` over `sri_share_checks_per_s`.
    sri_speedup: Option<f64>,
    /// `share_checks_per_s_sha256d` per thread over `sri_share_checks_per_s`: ours in
    /// batches against theirs, thread for thread (core for core while `--threads` is at
    /// most the machine's cores).
    sri_batch_speedup_per_thread: Option<f64>,
}

/// Rounds at most; a round starts only while the run's time is not up.
const ROUNDS: usize = 5;
/// Figures measured: the SRI one only in a build with the `sri` feature.
const FIGURES: usize = 9 + cfg!(feature = "sri") as usize;
/// Most worker threads: more than the cores of the machines it is for, and each thread
/// holds its own scrypt scratchpads (about 1.1 MiB: 8 lanes of 128 KiB, and one more).
const MAX_THREADS: usize = 256;
/// SHA-256d share checks per thread in one `check_batch` call (the unit of work of that
/// figure): 16 of its 32-share chunks per thread.
const SHA256D_CHECKS_PER_THREAD: usize = 512;
/// scrypt share checks per thread in one `check_batch` call: one 32-share chunk each.
const SCRYPT_CHECKS_PER_THREAD: usize = 32;
/// Shares checked one at a time between two looks at the clock.
const SEQUENTIAL_CHECKS_PER_PASS: usize = 512;
/// scrypt shares checked one at a time between two looks at the clock.
const SEQUENTIAL_SCRYPT_CHECKS_PER_PASS: usize = 16;

/// Runs `work` on every thread of `pool` until `until`; `work` returns the items it did.
/// One call is made whatever the time, so every measurement has a figure; past `until`
/// a thread only finishes the call it is in.
fn rate(pool: &rayon::ThreadPool, until: Instant, work: &(dyn Fn() -> u64 + Sync)) -> f64 {
    let started = Instant::now();
    let items: u64 = pool
        .broadcast(|thread| {
            let mut done = if thread.index() == 0 { work() } else { 0 };
            while Instant::now() < until {
                done += work();
            }
            done
        })
        .into_iter()
        .sum();
    items as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The run's clock: every measurement gets a slice of the time left to the deadline,
/// shared evenly by the measurements not yet run (one that ran over shortens the ones
/// after it), and what each ran past its slice is added up per round.
struct MeasuringTime {
    deadline: Instant,
    measurements_left: u32,
    /// Time the measurements of the current round ran past their slices: the work a
    /// round does however short its slices (one call per thread and figure, at least).
    round_overrun: Duration,
}

impl MeasuringTime {
    /// Runs `measure` with the end of its slice and returns its figure.
    fn measure(&mut self, measure: impl FnOnce(Instant) -> f64) -> f64 {
        let now = Instant::now();
        let end =
            now + self.deadline.saturating_duration_since(now) / self.measurements_left.max(1);
        self.measurements_left = self.measurements_left.saturating_sub(1);
        let figure = measure(end);
        self.round_overrun += Instant::now().saturating_duration_since(end);
        figure
    }

    /// Whether another round fits before the deadline: the time left must cover what
    /// the last round ran over, however short its slices are made.
    fn another_round_fits(&mut self) -> bool {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let fits = !left.is_zero() && left >= self.round_overrun;
        self.round_overrun = Duration::ZERO;
        fits
    }
}

pub fn run(args: &BenchArgs) -> Result<i32, Failure> {
    let started = Instant::now();
    if args.threads == 0 || args.threads > MAX_THREADS {
        return Err(Failure::usage(format!("--threads must be 1..={MAX_THREADS}")));
    }
    if !args.seconds.is_finite() || args.seconds <= 0.0 || args.seconds > 86_400.0 {
        return Err(Failure::usage("--seconds must be a positive number of seconds"));
    }
    let threads = args.threads;
    let mut time = MeasuringTime {
        deadline: started + Duration::from_secs_f64(args.seconds),
        measurements_left: (ROUNDS * FIGURES) as u32,
        round_overrun: Duration::ZERO,
    };
    let platform = Platform::get();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Failure::usage(format!("cannot start {threads} threads: {e}")))?;

    let scrypt_headers: Vec<[u8; 80]> = (0..16).map(sample_header).collect();
    let sha_headers: Vec<[u8; 80]> = (0..64).map(sample_header).collect();
    let scrypt_params = scrypt::Params::new(10, 1, 1).expect("valid scrypt parameters"); // invariant: see message
    let sha_checks = ShareWorkload::sha256d_13_branch(SHA256D_CHECKS_PER_THREAD * threads);
    let scrypt_checks = ShareWorkload::scrypt(SCRYPT_CHECKS_PER_THREAD * threads);
    let sequential = ShareWorkload::sha256d_13_branch(SEQUENTIAL_CHECKS_PER_PASS);
    let sequential_scrypt = ShareWorkload::scrypt(SEQUENTIAL_SCRYPT_CHECKS_PER_PASS);
    // SRI gets the one-at-a-time workload's job and shares (its own copy of the workload,
    // so each validator has its own duplicate record).
    #[cfg(feature = "sri")]
    let mut sri = sharecheck::bench::sri::SriChannel::for_workload(
        &ShareWorkload::sha256d_13_branch(SEQUENTIAL_CHECKS_PER_PASS),
        [0xff; 32],
    )
    .map_err(|e| Failure { message: e.to_string(), status: 1 })?;

    let ours_scrypt = || {
        let mut out = [[0u8; 32]; 16];
        hash::scrypt_headers(black_box(&scrypt_headers), &mut out);
        black_box(out);
        16
    };
    let crate_scrypt = || {
        let mut out = [0u8; 32];
        let h = black_box(&scrypt_headers[0]);
        scrypt::scrypt(h, h, &scrypt_params, &mut out).expect("32-byte output"); // invariant: see message
        black_box(out);
        1
    };
    let ours_scrypt_single = || {
        black_box(hash::scrypt_header(black_box(&scrypt_headers[0])));
        1
    };
    let ours_sha = || {
        let mut out = [[0u8; 32]; 64];
        hash::sha256d_headers(black_box(&sha_headers), &mut out);
        black_box(out);
        64
    };
    let crate_sha = || {
        let first = sha2::Sha256::digest(black_box(&sha_headers[0]));
        black_box(sha2::Sha256::digest(first));
        1
    };

    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); FIGURES];
    // Every pool thread allocates its scrypt scratchpads before anything is measured.
    pool.broadcast(|_| ours_scrypt());
    // The one-at-a-time checks run on this thread: its scratchpad too.
    black_box(hash::scrypt_header(&scrypt_headers[0]));
    let mut rounds = 0;
    #[cfg(feature = "sri")]
    let mut sri_failure = None;
    // The first round runs whatever the time (every figure needs one); a later one only
    // if the time left covers what the last round ran over.
    while rounds < ROUNDS && (rounds == 0 || time.another_round_fits()) {
        figures[0].push(time.measure(|until| rate(&pool, until, &ours_scrypt)));
        figures[1].push(time.measure(|until| rate(&pool, until, &crate_scrypt)));
        figures[2].push(time.measure(|until| rate(&pool, until, &ours_sha)));
        figures[3].push(time.measure(|until| rate(&pool, until, &crate_sha)));
        figures[4].push(time.measure(|until| batch_rate(&pool, &sha_checks, until)));
        figures[5].push(time.measure(|until| batch_rate(&pool, &scrypt_checks, until)));
        figures[6].push(time.measure(|until| sequential_rate(&sequential, until)));
        figures[7].push(time.measure(|until| rate(&pool, until, &ours_scrypt_single)));
        figures[8].push(time.measure(|until| sequential_rate(&sequential_scrypt, until)));
        #[cfg(feature = "sri")]
        figures[9].push(time.measure(|until| match sri_rate(&mut sri, until) {
            Ok(rate) => rate,
            Err(failure) => {
                sri_failure = Some(failure);
                f64::NAN
            }
        }));
        rounds += 1;
    }
    #[cfg(feature = "sri")]
    if let Some(failure) = sri_failure {
        return Err(failure);
    }
    let m: Vec<f64> = figures.into_iter().map(median).collect();
    let sri_median = m.get(9).copied();
    let report = Report {
        threads,
        rounds,
        sha256_path: platform.sha256().to_string(),
        scrypt_path: platform.scrypt().to_string(),
        scrypt_hashes_per_s: m[0],
        scrypt_crate_hashes_per_s: m[1],
        scrypt_speedup: m[0] / m[1],
        scrypt_single_hashes_per_s: m[7],
        scrypt_single_speedup: m[7] / m[1],
        sha256d_headers_per_s: m[2],
        sha2_crate_headers_per_s: m[3],
        sha256d_speedup: m[2] / m[3],
        share_checks_per_s_sha256d: m[4],
        share_checks_per_s_scrypt: m[5],
        sequential_share_checks_per_s_sha256d: m[6],
        share_checks_per_s_scrypt_single: m[8],
        sri_share_checks_per_s: sri_median,
        sri_speedup: sri_median.map(|sri| m[6] / sri),
        sri_batch_speedup_per_thread: sri_median.map(|sri| m[4] / threads as f64 / sri),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("plain struct serializes")); // invariant: see message
    } else {
        let n = |x: f64| human_number(x.round());
        println!(
            "threads {}, medians of {} rounds; kernels: sha256 {}, scrypt {}",
            threads, rounds, report.sha256_path, report.scrypt_path
        );
        println!(
            "scrypt(1024,1,1) hashes/s     {:>12}   scrypt crate {:>10}   ({:.2}x)",
            n(report.scrypt_hashes_per_s),
            n(report.scrypt_crate_hashes_per_s),
            report.scrypt_speedup
        );
        println!(
            "scrypt, one header at a time  {:>12}   scrypt crate {:>10}   ({:.2}x)",
            n(report.scrypt_single_hashes_per_s),
            n(report.scrypt_crate_hashes_per_s),
            report.scrypt_single_speedup
        );
        println!(
            "SHA-256d headers/s            {:>12}   sha2 crate   {:>10}   ({:.2}x)",
            n(report.sha256d_headers_per_s),
            n(report.sha2_crate_headers_per_s),
            report.sha256d_speedup
        );
        println!(
            "share checks/s, SHA-256d      {:>12}   (13-entry branch, 4-byte extranonce2, batches)",
            n(report.share_checks_per_s_sha256d)
        );
        println!(
            "share checks/s, scrypt        {:>12}   (batches)",
            n(report.share_checks_per_s_scrypt)
        );
        println!(
            "share checks/s, SHA-256d      {:>12}   (one at a time, one thread)",
            n(report.sequential_share_checks_per_s_sha256d)
        );
        println!(
            "share checks/s, scrypt        {:>12}   (one at a time, one thread)",
            n(report.share_checks_per_s_scrypt_single)
        );
        match (
            report.sri_share_checks_per_s,
            report.sri_speedup,
            report.sri_batch_speedup_per_thread,
        ) {
            (Some(sri), Some(one), Some(batch)) => println!(
                "share checks/s, SHA-256d, SRI {:>12}   (channels_sv2 validate_share, one at a time, one thread; ours {:.2}x one at a time, {:.2}x in batches per thread)",
                n(sri),
                one,
                batch
            ),
            _ => println!(
                "share checks/s, SHA-256d, SRI          n/a   (build with --features sri to measure the SV2 reference validator)"
            ),
        }
    }
    Ok(0)
}

/// Batch checks on the pool until `until` (one call at least): each call checks the whole
/// workload (its size sets the unit of work) after refreshing the job, so each share is
/// fresh (checked through the duplicate filter like any valid share).
fn batch_rate(pool: &rayon::ThreadPool, workload: &ShareWorkload, until: Instant) -> f64 {
    let batch = workload.batch();
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        workload.refresh();
        let verdicts = pool.install(|| workload.validator.check_batch(&batch));
        debug_assert!(verdicts.iter().all(|v| v.is_valid()));
        done += verdicts.len() as u64;
        if Instant::now() >= until {
            break;
        }
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// `check` one share at a time on this thread until `until` (one pass at least).
fn sequential_rate(workload: &ShareWorkload, until: Instant) -> f64 {
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        workload.refresh();
        for s in &workload.submits {
            black_box(workload.validator.check(&workload.session, s));
        }
        done += workload.submits.len() as u64;
        if Instant::now() >= until {
            break;
        }
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// SRI's `validate_share` one share at a time on this thread until `until` (one pass at
/// least), refreshed before each pass as `sequential_rate` refreshes ours.
#[cfg(feature = "sri")]
fn sri_rate(
    channel: &mut sharecheck::bench::sri::SriChannel,
    until: Instant,
) -> Result<f64, Failure> {
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        channel.refresh().map_err(|e| Failure { message: e.to_string(), status: 1 })?;
        // Every share must be accepted: a refusal returns early and would flatter SRI.
        let accepted = black_box(channel.validate_all());
        if accepted != channel.len() {
            let message = format!("SRI refused {} of the bench's shares", channel.len() - accepted);
            return Err(Failure { message, status: 1 });
        }
        done += channel.len() as u64;
        if Instant::now() >= until {
            break;
        }
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
