//! Load generator for `sharecheck proxy --aggregate`: a local pool (answers every share
//! `true` at once), the proxy as its own process in between, and simulated miners, all on
//! this machine. Reports the proxy's memory per connected miner, the sustained shares/s
//! end to end, and submit → answer latency at half that load, through the proxy and
//! straight to the pool.
//!
//!     cargo build --release && cargo run --release --example proxy_load -- \
//!         [--algo sha256d|scrypt] [--miners 10000] [--active 100] [--in-flight 16]
//!         [--paced SHARES_PER_S] [--seconds 10]
//!
//! Every share is a real one the proxy hashes and checks in full (a 13-entry merkle
//! branch, as on Bitcoin); the pool's difficulty is low enough that nearly all are valid.
//! For scrypt, compare the shares/s with `sharecheck bench --threads 2`'s
//! `share_checks_per_s_scrypt` (the proxy's batch check, on the same 2 cores).
//! Not a test: figures depend on the machine, and the generator shares its cores.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The pool's extranonce2 size: the proxy keeps 2 bytes, the miners get 6.
const POOL_EN2_SIZE: usize = 8;

struct Options {
    algo: String,
    miners: usize,
    active: usize,
    /// Submits each active miner keeps in flight while measuring throughput.
    in_flight: usize,
    /// The paced load latency is measured at (shares/s); default: half the saturated rate.
    paced: Option<f64>,
    seconds: u64,
}

fn options() -> Options {
    let mut o = Options {
        algo: "sha256d".into(),
        miners: 10_000,
        active: 100,
        in_flight: 16,
        paced: None,
        seconds: 10,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = |what: &str| -> u64 {
            pair.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                eprintln!("{what} needs a number");
                std::process::exit(2)
            })
        };
        match pair[0].as_str() {
            "--algo" if matches!(pair.get(1).map(String::as_str), Some("sha256d" | "scrypt")) => {
                o.algo = pair[1].clone()
            }
            "--miners" => o.miners = value("--miners") as usize,
            "--active" => o.active = value("--active") as usize,
            "--in-flight" => o.in_flight = value("--in-flight").clamp(1, 1024) as usize,
            "--paced" => o.paced = Some(value("--paced").max(1) as f64),
            "--seconds" => o.seconds = value("--seconds").clamp(1, 600),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2)
            }
        }
    }
    o.active = o.active.clamp(1, o.miners.max(1));
    o
}

/// A job with a 13-entry branch (about 8 000 transactions), as a Bitcoin pool sends.
fn notify_line(job: u64) -> String {
    let branch: Vec<String> = (0..13u8).map(|i| hex::encode([i.wrapping_mul(37); 32])).collect();
    json!({"id": null, "method": "mining.notify", "params": [
        format!("j{job}"),
        "171592f223740e92d223f6e68bff25279af7ac4f2246451e0000000200000000",
        "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1903c943255c7075626c69632d706f6f6c5c",
        "ffffffff037a90000000000000160014e6f22ca44dc800e9d049621a3b9a42c509f1c4bc00000000",
        branch, "20000000", "192495f8", "64b3f3ec", job == 1]})
    .to_string()
}

/// Shares per job: the pool sends a new one after this many. A proxy remembers at most
/// 2^20 shares of one job (its duplicate filter's bound); at 15 000 shares/s a job lasts
/// half a minute, as on a real pool.
const SHARES_PER_JOB: u64 = 500_000;

/// The pool: every submit answered `true` at once; difficulty 2^-32 (nearly every hash
/// is a share); a new job every [`SHARES_PER_JOB`] shares (not clean: shares of the last
/// one still count).
async fn pool(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut out = Vec::new();
            let (mut job, mut shares) = (1, 0);
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(m) = serde_json::from_str::<Value>(&line) else { continue };
                let id = &m["id"];
                let method = m["method"].as_str().unwrap_or_default();
                let answer = match method {
                    "mining.subscribe" => {
                        let r = json!({"id": id, "result": [[["mining.notify", "1"]], "f000000d", POOL_EN2_SIZE], "error": null});
                        let d = json!({"id": null, "method": "mining.set_difficulty", "params": [(-32f64).exp2()]});
                        format!("{r}\n{d}\n{}\n", notify_line(job))
                    }
                    "mining.configure" => format!(
                        "{}\n",
                        json!({"id": id, "result": {"version-rolling": true, "version-rolling.mask": "1fffe000"}, "error": null})
                    ),
                    _ => {
                        let mut answer =
                            format!("{}\n", json!({"id": id, "result": true, "error": null}));
                        shares += 1;
                        if shares % SHARES_PER_JOB == 0 {
                            job += 1;
                            answer.push_str(&format!("{}\n", notify_line(job)));
                        }
                        answer
                    }
                };
                out.extend_from_slice(answer.as_bytes());
                // Answers to what has arrived go out together.
                if lines.get_ref().buffer().is_empty() {
                    if write.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            }
        });
    }
}

/// A logged-in miner: its connection and extranonce2 size.
struct Miner {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
    en2_size: usize,
    next_en2: u64,
    /// The newest job's id.
    job: String,
}

impl Miner {
    async fn connect(addr: SocketAddr, name: &str) -> std::io::Result<Miner> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let login = format!(
            "{}\n{}\n",
            json!({"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}),
            json!({"id": 2, "method": "mining.authorize", "params": [name, "x"]})
        );
        write.write_all(login.as_bytes()).await?;
        let mut en2_size = 0;
        let mut authorized = false;
        while en2_size == 0 || !authorized {
            let line = lines.next_line().await?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
            let m: Value = serde_json::from_str(&line).unwrap_or_default();
            match m["id"].as_u64() {
                Some(1) => en2_size = m["result"][2].as_u64().unwrap_or(0) as usize,
                Some(2) => authorized = m["result"] == true,
                _ => {}
            }
        }
        Ok(Miner { lines, write, en2_size, next_en2: 0, job: "j1".into() })
    }

    /// A new share (its own extranonce2), under request id `id`.
    fn submit(&mut self, id: u64) -> String {
        self.next_en2 += 1;
        let en2 = format!("{:0width$x}", self.next_en2, width = self.en2_size * 2);
        let params = json!(["w", self.job, en2, "64b3f3ec", "00000000"]);
        format!("{}\n", json!({"id": id, "method": "mining.submit", "params": params}))
    }

    /// Submits for `seconds`: `in_flight` at a time, or one every `pace` if given. The
    /// latency of each answer (µs) and the answers that were not `true`.
    async fn run(
        &mut self,
        until: Instant,
        in_flight: usize,
        pace: Option<Duration>,
        answered: &AtomicU64,
    ) -> (Vec<u32>, u64) {
        let mut sent: std::collections::HashMap<u64, Instant> = Default::default();
        let mut latencies = Vec::new();
        let mut refused = 0;
        let mut id = 100u64;
        let mut ticker = pace.map(tokio::time::interval);
        loop {
            let open = Instant::now() < until;
            // Refilled once the answers that came together are read (one write, not one
            // per answer), as a miner's submit thread drains its queue.
            let answers_pending = !self.lines.get_ref().buffer().is_empty();
            if open && ticker.is_none() && !answers_pending {
                let mut batch = String::new();
                while sent.len() < in_flight {
                    id += 1;
                    batch.push_str(&self.submit(id));
                    sent.insert(id, Instant::now());
                }
                if !batch.is_empty() && self.write.write_all(batch.as_bytes()).await.is_err() {
                    break;
                }
            }
            if !open && sent.is_empty() {
                break;
            }
            tokio::select! {
                _ = async { ticker.as_mut().unwrap().tick().await }, if open && ticker.is_some() => {
                    id += 1;
                    let line = self.submit(id);
                    sent.insert(id, Instant::now());
                    if self.write.write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                }
                line = self.lines.next_line() => {
                    let Ok(Some(line)) = line else { break };
                    let Ok(m) = serde_json::from_str::<Value>(&line) else { continue };
                    if m["method"] == "mining.notify"
                        && let Some(job) = m["params"][0].as_str()
                    {
                        self.job = job.to_string();
                    }
                    if let Some(at) = m["id"].as_u64().and_then(|i| sent.remove(&i)) {
                        latencies.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        answered.fetch_add(1, Ordering::Relaxed);
                        if m["result"] != true {
                            if refused < 3 {
                                eprintln!("not accepted: {line}");
                            }
                            refused += 1;
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_secs(15)) => break,
            }
        }
        (latencies, refused)
    }
}

/// The proxy's resident memory (KiB), from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time (seconds) of a process, and of its threads whose name starts with `prefix`.
fn cpu_seconds(pid: u32, prefix: &str) -> (f64, f64) {
    let ticks = |stat: &str| -> f64 {
        // Fields after the parenthesised name: utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        field(11) + field(12)
    };
    let hz = 100.0; // USER_HZ on Linux
    let all = ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default());
    let mut named = 0.0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            named += ticks(&std::fs::read_to_string(task.path().join("stat")).unwrap_or_default());
        }
    }
    (all / hz, named / hz)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Every miner runs at once; the miners back, shares/s, refused, latencies sorted.
async fn measure(
    miners: Vec<Miner>,
    seconds: u64,
    in_flight: usize,
    pace: Option<Duration>,
) -> (Vec<Miner>, f64, u64, Vec<u32>) {
    let until = Instant::now() + Duration::from_secs(seconds);
    let answered = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = miners
        .into_iter()
        .map(|mut m| {
            let answered = answered.clone();
            tokio::spawn(async move {
                let r = m.run(until, in_flight, pace, &answered).await;
                (m, r)
            })
        })
        .collect();
    let (mut back, mut latencies, mut refused) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        let (m, (l, r)) = task.await.expect("a miner task");
        back.push(m);
        latencies.extend(l);
        refused += r;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (back, answered.load(Ordering::Relaxed) as f64 / elapsed, refused, latencies)
}

fn start_proxy(pool: SocketAddr, algo: &str) -> (Child, SocketAddr) {
    let exe = std::env::current_exe().expect("own path");
    let bin =
        exe.parent().and_then(|d| d.parent()).map(|d| d.join("sharecheck")).expect("target dir");
    assert!(bin.exists(), "build the binary first: cargo build --release ({})", bin.display());
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let child = Command::new(&bin)
        .args(["proxy", "--algo", algo, "--aggregate", "--listen", &addr.to_string()])
        .args(["--upstream", &format!("stratum+tcp://{pool}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the proxy starts");
    (child, addr)
}

async fn connect_all(addr: SocketAddr, n: usize, prefix: &str) -> Vec<Miner> {
    let mut miners = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|i| {
                let name = format!("{prefix}{i}");
                tokio::spawn(async move { Miner::connect(addr, &name).await })
            })
            .collect();
        for t in tasks {
            miners.push(t.await.expect("task").expect("a miner logs in"));
        }
    }
    miners
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    let pool_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pool_addr = pool_listener.local_addr().unwrap();
    tokio::spawn(pool(pool_listener));
    let (mut proxy, proxy_addr) = start_proxy(pool_addr, &o.algo);
    let started = Instant::now();
    while TcpStream::connect(proxy_addr).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "the proxy listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Memory: the proxy before and after every miner has logged in.
    let before = rss_kib(proxy.id());
    let mut miners = connect_all(proxy_addr, o.miners, "rig").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(proxy.id());
    let per_miner = (after.saturating_sub(before)) as f64 * 1024.0 / o.miners as f64;
    eprintln!(
        "{} miners logged in: proxy RSS {before} KiB -> {after} KiB, {per_miner:.0} B each",
        o.miners
    );

    // Throughput: `active` miners, each with submits in flight.
    let idle = miners.split_off(o.active);
    let (proxy_cpu0, checker_cpu0) = cpu_seconds(proxy.id(), "sharecheck-chec");
    let (own_cpu0, _) = cpu_seconds(std::process::id(), "");
    let start = Instant::now();
    let (active, rate, refused, lat) = measure(miners, o.seconds, o.in_flight, None).await;
    let wall = start.elapsed().as_secs_f64();
    let (proxy_cpu1, checker_cpu1) = cpu_seconds(proxy.id(), "sharecheck-chec");
    let (own_cpu1, _) = cpu_seconds(std::process::id(), "");
    let proxy_cores = (proxy_cpu1 - proxy_cpu0) / wall;
    let checker_cores = (checker_cpu1 - checker_cpu0) / wall;
    let generator_cores = (own_cpu1 - own_cpu0) / wall;
    eprintln!(
        "saturated: {rate:.0} shares/s through the proxy ({refused} not accepted), latency p50 {:.2} ms p99 {:.2} ms; \
         cores used: proxy {proxy_cores:.2} (checking thread and its pool {checker_cores:.2}), generator and pool {generator_cores:.2}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    // Latency at half that rate (or the rate asked for), through the proxy and straight to
    // the pool.
    let per_miner_rate = (o.paced.unwrap_or(rate / 2.0) / o.active as f64).max(0.1);
    let pace = Duration::from_secs_f64(1.0 / per_miner_rate);
    let (active, half, _, lat_proxy) = measure(active, o.seconds, usize::MAX, Some(pace)).await;
    drop((active, idle));
    let direct = connect_all(pool_addr, o.active, "direct").await;
    let (_, _, _, lat_direct) = measure(direct, o.seconds, usize::MAX, Some(pace)).await;
    eprintln!(
        "paced load ({half:.0} shares/s): through the proxy p50 {:.2} ms p99 {:.2} ms; straight to the pool p50 {:.2} ms p99 {:.2} ms",
        percentile(&lat_proxy, 0.5),
        percentile(&lat_proxy, 0.99),
        percentile(&lat_direct, 0.5),
        percentile(&lat_direct, 0.99)
    );
    let report = json!({
        "algo": o.algo,
        "miners": o.miners,
        "proxy_rss_bytes_per_miner": per_miner.round(),
        "active_miners": o.active,
        "in_flight": o.in_flight,
        "shares_per_s": rate.round(),
        "refused": refused,
        "proxy_cores": (proxy_cores * 100.0).round() / 100.0,
        "checking_cores": (checker_cores * 100.0).round() / 100.0,
        "generator_cores": (generator_cores * 100.0).round() / 100.0,
        "half_load_shares_per_s": half.round(),
        "latency_ms_p50": percentile(&lat_proxy, 0.5),
        "latency_ms_p99": percentile(&lat_proxy, 0.99),
        "direct_latency_ms_p50": percentile(&lat_direct, 0.5),
        "direct_latency_ms_p99": percentile(&lat_direct, 0.99),
    });
    println!("{report}");
    let _ = proxy.kill();
    let _ = proxy.wait();
}
