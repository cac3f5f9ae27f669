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
    /// Worker threads for every figure.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Total measuring time in seconds (split over the figures and rounds).
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
    sha256d_headers_per_s: f64,
    sha2_crate_headers_per_s: f64,
    sha256d_speedup: f64,
    share_checks_per_s_sha256d: f64,
    share_checks_per_s_scrypt: f64,
    sequential_share_checks_per_s_sha256d: f64,
}

const ROUNDS: usize = 5;
const FIGURES: usize = 7;

/// Runs `work` on `threads` threads for `duration`; `work` returns the items it did.
fn rate(threads: usize, duration: Duration, work: &(dyn Fn() -> u64 + Sync)) -> f64 {
    let started = Instant::now();
    let items: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0;
                    while started.elapsed() < duration {
                        done += work();
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("bench thread")).sum() // invariant: see message
    });
    items as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(args: &BenchArgs) -> Result<i32, Failure> {
    if args.threads == 0 || args.threads > 1024 {
        return Err(Failure::usage("--threads must be 1..=1024"));
    }
    if !args.seconds.is_finite() || args.seconds <= 0.0 || args.seconds > 86_400.0 {
        return Err(Failure::usage("--seconds must be a positive number of seconds"));
    }
    let threads = args.threads;
    let slice = Duration::from_secs_f64(args.seconds / (ROUNDS * FIGURES) as f64);
    let platform = Platform::get();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Failure::usage(format!("cannot start {threads} threads: {e}")))?;

    let scrypt_headers: Vec<[u8; 80]> = (0..16).map(sample_header).collect();
    let sha_headers: Vec<[u8; 80]> = (0..64).map(sample_header).collect();
    let scrypt_params = scrypt::Params::new(10, 1, 1).expect("valid scrypt parameters"); // invariant: see message
    let sha_checks = ShareWorkload::sha256d_13_branch(2048 * threads);
    let scrypt_checks = ShareWorkload::scrypt(32 * threads);
    let sequential = ShareWorkload::sha256d_13_branch(4096);

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
    for _ in 0..ROUNDS {
        figures[0].push(rate(threads, slice, &ours_scrypt));
        figures[1].push(rate(threads, slice, &crate_scrypt));
        figures[2].push(rate(threads, slice, &ours_sha));
        figures[3].push(rate(threads, slice, &crate_sha));
        figures[4].push(batch_rate(&pool, &sha_checks, slice));
        figures[5].push(batch_rate(&pool, &scrypt_checks, slice));
        figures[6].push(sequential_rate(&sequential, slice));
    }
    let m: Vec<f64> = figures.into_iter().map(median).collect();
    let report = Report {
        threads,
        rounds: ROUNDS,
        sha256_path: platform.sha256().to_string(),
        scrypt_path: platform.scrypt().to_string(),
        scrypt_hashes_per_s: m[0],
        scrypt_crate_hashes_per_s: m[1],
        scrypt_speedup: m[0] / m[1],
        sha256d_headers_per_s: m[2],
        sha2_crate_headers_per_s: m[3],
        sha256d_speedup: m[2] / m[3],
        share_checks_per_s_sha256d: m[4],
        share_checks_per_s_scrypt: m[5],
        sequential_share_checks_per_s_sha256d: m[6],
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("plain struct serializes")); // invariant: see message
    } else {
        let n = |x: f64| human_number(x.round());
        println!(
            "threads {}, medians of {} rounds; kernels: sha256 {}, scrypt {}",
            threads, ROUNDS, report.sha256_path, report.scrypt_path
        );
        println!(
            "scrypt(1024,1,1) hashes/s     {:>12}   scrypt crate {:>10}   ({:.2}x)",
            n(report.scrypt_hashes_per_s),
            n(report.scrypt_crate_hashes_per_s),
            report.scrypt_speedup
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
    }
    Ok(0)
}

/// Batch checks on the pool; every pass over the submits refreshes the job so each share
/// is fresh (checked through the duplicate filter like any valid share).
fn batch_rate(pool: &rayon::ThreadPool, workload: &ShareWorkload, duration: Duration) -> f64 {
    let batch = workload.batch();
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < duration {
        workload.refresh();
        let verdicts = pool.install(|| workload.validator.check_batch(&batch));
        debug_assert!(verdicts.iter().all(|v| v.is_valid()));
        done += verdicts.len() as u64;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// `check` one share at a time on this thread.
fn sequential_rate(workload: &ShareWorkload, duration: Duration) -> f64 {
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < duration {
        workload.refresh();
        for s in &workload.submits {
            black_box(workload.validator.check(&workload.session, s));
        }
        done += workload.submits.len() as u64;
    }
    done as f64 / started.elapsed().as_secs_f64()
}
