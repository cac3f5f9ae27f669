//! A CPU miner held to a known hashrate, to try `sharecheck serve` (or any stratum
//! endpoint) without an ASIC: each worker hashes real headers on the jobs it is sent, at
//! the rate given, submits every share it finds (a chosen fraction replaced by a hash
//! that missed, as a failing hashboard sends), and prints at the end the hashrate it
//! actually achieved beside what the pool answered.
//!
//!     cargo run --release --example bench_miner -- --connect 127.0.0.1:3333 \
//!         [--algo sha256d|scrypt] [--seconds 60] --worker NAME:RATE[:BAD] [--worker ...]
//!
//! RATE is hashes a second with an SI prefix (`40k`, `2M`); BAD a ratio (`0.05`). One
//! thread per worker: scrypt manages about 10k hashes a second per core.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::chain::{Target, coinbase, merkle};
use sharecheck::server::estimate::{parse_rate, si};
use sharecheck::stratum::Notify;
use sharecheck::stratum::messages::set_difficulty_from_params;

struct WorkerSpec {
    name: String,
    hashrate: f64,
    bad: f64,
}

/// What the connection's reader has learnt.
#[derive(Default)]
struct Work {
    extranonce1: Option<(Vec<u8>, usize)>,
    target: Option<Target>,
    job: Option<Notify>,
}

#[derive(Default)]
struct Answers {
    accepted: AtomicU64,
    rejected: AtomicU64,
}

fn usage(message: &str) -> ! {
    eprintln!(
        "{message}\nusage: bench_miner --connect HOST:PORT [--algo sha256d|scrypt] [--seconds S] --worker NAME:RATE[:BAD] ..."
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut connect, mut algorithm, mut seconds, mut workers) =
        (None, Algorithm::Sha256d, 60.0, Vec::new());
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_else(|| usage("a value is missing"));
        match pair[0].as_str() {
            "--connect" => connect = Some(value.to_string()),
            "--algo" => {
                algorithm =
                    value.parse().unwrap_or_else(|e: sharecheck::Error| usage(&e.to_string()))
            }
            "--seconds" => seconds = value.parse().unwrap_or_else(|_| usage("--seconds")),
            "--worker" => {
                let parts: Vec<&str> = value.split(':').collect();
                let hashrate = parts
                    .get(1)
                    .and_then(|r| parse_rate(r).ok())
                    .unwrap_or_else(|| usage("--worker NAME:RATE[:BAD]"));
                let bad = parts.get(2).map_or(0.0, |b| b.parse().unwrap_or_else(|_| usage("BAD")));
                workers.push(WorkerSpec { name: parts[0].to_string(), hashrate, bad });
            }
            other => usage(&format!("unknown option {other}")),
        }
    }
    let connect = connect.unwrap_or_else(|| usage("--connect is required"));
    if workers.is_empty() {
        usage("at least one --worker");
    }
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let threads: Vec<_> = workers
        .into_iter()
        .map(|spec| {
            let connect = connect.clone();
            std::thread::spawn(move || mine(&connect, algorithm, &spec, until))
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

fn mine(connect: &str, algorithm: Algorithm, spec: &WorkerSpec, until: Instant) {
    let stream = TcpStream::connect(connect).unwrap_or_else(|e| usage(&format!("{connect}: {e}")));
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("a second handle on the socket");
    let work = Arc::new(Mutex::new(Work::default()));
    let answers = Arc::new(Answers::default());
    {
        let (work, answers) = (work.clone(), answers.clone());
        std::thread::spawn(move || read_answers(stream, algorithm, &work, &answers));
    }
    let login = [
        json!({"id": 1, "method": "mining.subscribe", "params": ["bench_miner/1.0"]}),
        json!({"id": 2, "method": "mining.authorize", "params": [spec.name, "x"]}),
    ];
    for line in login {
        let _ = writeln!(writer, "{line}");
    }
    let started = Instant::now();
    let (mut hashes, mut found, mut bad_sent, mut next_id, mut extranonce2) =
        (0u64, 0u64, 0u64, 10u64, 0u64);
    let mut header = [0u8; 80];
    let mut header_job = String::new();
    let mut nonce = 0u32;
    while Instant::now() < until {
        let (job, target, (en1, en2_size)) = {
            let w = work.lock().unwrap_or_else(|p| p.into_inner());
            match (&w.job, w.target, &w.extranonce1) {
                (Some(job), Some(target), Some(en1)) => (job.clone(), target, en1.clone()),
                _ => {
                    drop(w);
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        };
        // A new job, or the nonce space spent: a new extranonce2, a new header.
        if header_job != job.job_id || nonce == u32::MAX {
            extranonce2 += 1;
            let en2 = &extranonce2.to_be_bytes()[8 - en2_size.min(8)..];
            let txid = coinbase::txid(&job.coinb1, &en1, en2, &job.coinb2);
            let root = merkle::fold_branch(&txid, &job.merkle_branch);
            header[..4].copy_from_slice(&job.version.to_le_bytes());
            header[4..36].copy_from_slice(&job.prevhash.0);
            header[36..68].copy_from_slice(&root);
            header[68..72].copy_from_slice(&job.ntime.to_le_bytes());
            header[72..76].copy_from_slice(&job.nbits.to_le_bytes());
            header_job = job.job_id.clone();
            nonce = 0;
        }
        // Held to the rate: ahead of it, wait.
        let due = started.elapsed().as_secs_f64() * spec.hashrate;
        if hashes as f64 >= due {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        header[76..].copy_from_slice(&nonce.to_le_bytes());
        let hash = algorithm.pow_hash(&header);
        hashes += 1;
        nonce += 1;
        if !target.is_met_by(&hash) {
            continue;
        }
        found += 1;
        // Every 1/BAD-th share goes out as the nonce before it: a hash that (almost
        // surely) missed the target, as a failing chip reports.
        let bad = spec.bad > 0.0
            && (found as f64 * spec.bad).floor() > ((found - 1) as f64 * spec.bad).floor();
        let submitted = if bad { nonce.wrapping_sub(2) } else { nonce - 1 };
        bad_sent += u64::from(bad);
        let en2 = &extranonce2.to_be_bytes()[8 - en2_size.min(8)..];
        let params = json!([
            spec.name,
            job.job_id,
            hex::encode(en2),
            format!("{:08x}", job.ntime),
            format!("{submitted:08x}")
        ]);
        let line = json!({"id": next_id, "method": "mining.submit", "params": params});
        next_id += 1;
        if writeln!(writer, "{line}").is_err() {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500)); // the last answers
    println!(
        "{}: hashed {} ({hashes} hashes in {elapsed:.1} s), {found} shares found, {bad_sent} sent bad; answered: {} accepted, {} rejected",
        spec.name,
        si(hashes as f64 / elapsed),
        answers.accepted.load(Ordering::Relaxed),
        answers.rejected.load(Ordering::Relaxed),
    );
}

fn read_answers(stream: TcpStream, algorithm: Algorithm, work: &Mutex<Work>, answers: &Answers) {
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let Ok(m) = serde_json::from_str::<Value>(&line) else { continue };
        let mut w = work.lock().unwrap_or_else(|p| p.into_inner());
        match (m["id"].as_u64(), m["method"].as_str()) {
            (Some(1), _) => {
                let en1 = m["result"][1].as_str().and_then(|h| hex::decode(h).ok());
                let size = m["result"][2].as_u64();
                if let (Some(en1), Some(size)) = (en1, size) {
                    w.extranonce1 = Some((en1, size as usize));
                }
            }
            (_, Some("mining.set_difficulty")) => {
                let target = set_difficulty_from_params(&m["params"])
                    .ok()
                    .and_then(|d| algorithm.target_for_difficulty(d).ok());
                w.target = target.or(w.target);
            }
            (_, Some("mining.notify")) => {
                if let Ok(job) = Notify::from_params(&m["params"]) {
                    w.job = Some(job);
                }
            }
            (Some(id), None) if id >= 10 => {
                let counter =
                    if m["result"] == true { &answers.accepted } else { &answers.rejected };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}
