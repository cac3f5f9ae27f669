//! A stratum test pool that judges shares with the independent builder (never the
//! engine), a test miner, and a proxy run on loopback: shared by the proxy's tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::miner::{TestJob, scrypt_pow, sha256d, target_for_easier_difficulty};
use num_bigint::BigUint;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::server::{ProxyConfig, UpstreamUrl, serve};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

pub const VERSION_MASK: u32 = 0x1fff_e000;

/// The pool's extranonce1 for every connection.
pub const EN1: &str = "f000000d";
/// Share target 0xffff·2^232 (about 256 hashes a share): SHA-256d difficulty 2^-24,
/// scrypt (pool convention, diff1 0xffff·2^224) difficulty 2^-8.
pub const LOG2_EASY: u32 = 24;

/// The PoW value of a header, as a number (little-endian reading of the hash).
pub fn pow(algorithm: Algorithm, header: &[u8; 80]) -> BigUint {
    BigUint::from_bytes_le(&match algorithm {
        Algorithm::Sha256d => sha256d(header),
        Algorithm::Scrypt => scrypt_pow(header),
    })
}

/// The share difficulty the pool sets for the target above.
pub fn difficulty(algorithm: Algorithm) -> f64 {
    difficulty_for(algorithm, LOG2_EASY)
}

/// The difficulty whose share target is `target_for_easier_difficulty(log2_easy)`: SHA-256d
/// 2^-log2, scrypt (diff1 2^16 times easier) 2^(16-log2).
pub fn difficulty_for(algorithm: Algorithm, log2_easy: u32) -> f64 {
    match algorithm {
        Algorithm::Sha256d => (-(log2_easy as f64)).exp2(),
        Algorithm::Scrypt => (16.0 - log2_easy as f64).exp2(),
    }
}

/// What the test pool received: (worker, extranonce2, nonce, accepted).
pub type Received = Arc<Mutex<Vec<(String, String, String, bool)>>>;

/// How the test pool answers submits.
#[derive(Clone, Copy)]
pub enum Answers {
    AtOnce,
    /// At once, then `client.reconnect` to another host.
    AtOnceThenReconnect,
    After(Duration),
    Never,
}

/// How a test pool behaves.
#[derive(Clone)]
pub struct PoolSpec {
    pub algorithm: Algorithm,
    pub job: TestJob,
    pub answers: Answers,
    /// The extranonce1 it gives every connection, and the extranonce2 size.
    pub en1: String,
    pub en2_size: usize,
    /// Its share target: `target_for_easier_difficulty(log2_easy)`.
    pub log2_easy: u32,
    /// Connections it accepted.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    /// Set to `true`: the pool goes down (stops listening, closes every connection).
    pub down: Arc<tokio::sync::watch::Sender<bool>>,
}

impl PoolSpec {
    pub fn new(algorithm: Algorithm, job: &TestJob, answers: Answers) -> PoolSpec {
        PoolSpec {
            algorithm,
            job: job.clone(),
            answers,
            en1: EN1.into(),
            en2_size: 4,
            log2_easy: LOG2_EASY,
            connections: Arc::default(),
            down: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

/// A pool that hands out one job and judges submits with the independent builder.
pub async fn test_pool(listener: TcpListener, spec: PoolSpec, received: Received) {
    let mut down = spec.down.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = down.wait_for(|d| *d) => return,
        };
        let Ok((stream, _)) = accepted else { return };
        spec.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (spec, received) = (spec.clone(), received.clone());
        tokio::spawn(async move {
            let PoolSpec { algorithm, job, answers, en1, en2_size, log2_easy, down, .. } = spec;
            let mut down = down.subscribe();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let target = target_for_easier_difficulty(log2_easy);
            loop {
                let line = tokio::select! {
                    line = lines.next_line() => line,
                    _ = down.wait_for(|d| *d) => return,
                };
                let Ok(Some(line)) = line else { return };
                let m: Value = serde_json::from_str(&line).expect("the proxy sends JSON");
                let id = m["id"].clone();
                let reply = match m["method"].as_str().unwrap_or_default() {
                    "mining.subscribe" => {
                        let r = json!({"id": id, "result": [[["mining.notify", "1"]], en1, en2_size], "error": null});
                        let d = json!({"id": null, "method": "mining.set_difficulty", "params": [difficulty_for(algorithm, log2_easy)]});
                        format!("{r}\n{d}\n{}", job.notify(true))
                    }
                    "mining.authorize" => {
                        json!({"id": id, "result": true, "error": null}).to_string()
                    }
                    "mining.configure" => {
                        let mask = format!("{VERSION_MASK:08x}");
                        let result = json!({"version-rolling": true, "version-rolling.mask": mask});
                        json!({"id": id, "result": result, "error": null}).to_string()
                    }
                    "mining.submit" => {
                        let p = &m["params"];
                        let s = |i: usize| p[i].as_str().unwrap().to_string();
                        let (ntime, nonce) = (
                            u32::from_str_radix(&s(3), 16).unwrap(),
                            u32::from_str_radix(&s(4), 16).unwrap(),
                        );
                        // BIP 310: the rolled bits replace the job's under the mask.
                        let version = match p.get(5).and_then(Value::as_str) {
                            Some(bits) => {
                                let bits = u32::from_str_radix(bits, 16).unwrap();
                                (job.version & !VERSION_MASK) | (bits & VERSION_MASK)
                            }
                            None => job.version,
                        };
                        let header = job.header(&en1, &s(2), ntime, nonce, version);
                        let good = s(1) == job.id && pow(algorithm, &header) <= target;
                        received.lock().unwrap().push((s(0), s(2), s(4), good));
                        let mut error =
                            if good { Value::Null } else { json!([23, "Low difficulty", null]) };
                        let mut after = String::new();
                        match answers {
                            Answers::AtOnce => {}
                            Answers::AtOnceThenReconnect => {
                                let params = json!(["elsewhere.example", "3333", 0]);
                                let r = json!({"id": null, "method": "client.reconnect", "params": params});
                                after = format!("\n{r}");
                            }
                            Answers::After(delay) => {
                                tokio::time::sleep(delay).await;
                                // Marked, so a test can tell the pool's answer from the proxy's.
                                error = json!([20, "late answer from the test pool", null]);
                            }
                            Answers::Never => continue,
                        }
                        format!("{}{after}", json!({"id": id, "result": good, "error": error}))
                    }
                    _ => json!({"id": id, "result": null, "error": [20, "unknown", null]})
                        .to_string(),
                };
                if write.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

pub struct TestMiner {
    pub lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    pub write: OwnedWriteHalf,
    pub next_id: u64,
}

impl TestMiner {
    pub async fn connect(addr: SocketAddr) -> TestMiner {
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        TestMiner { lines: BufReader::new(read).lines(), write, next_id: 1 }
    }

    pub async fn send_line(&mut self, line: &str) {
        self.write.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }

    /// Sends a request and returns its answer (notifications in between are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send_line(&json!({"id": id, "method": method, "params": params}).to_string()).await;
        self.answer_to(&json!(id)).await
    }

    pub async fn answer_to(&mut self, id: &Value) -> Value {
        loop {
            let line = self.lines.next_line().await.unwrap().expect("the proxy answers");
            let m: Value = serde_json::from_str(&line).unwrap();
            if m.get("method").is_none() && m["id"] == *id {
                return m;
            }
        }
    }

    /// Subscribes (as bmminer does), waits for the job, and authorizes as `rig1`.
    pub async fn login(&mut self) {
        self.call("mining.subscribe", json!(["bmminer/2.0.0"])).await;
        self.notified().await;
        assert_eq!(self.call("mining.authorize", json!(["rig1", "x"])).await["result"], true);
    }

    /// Waits for the first `mining.notify`.
    pub async fn notified(&mut self) {
        loop {
            let line = self.lines.next_line().await.unwrap().expect("the proxy relays the job");
            if line.contains("mining.notify") {
                return;
            }
        }
    }
}

/// A share whose PoW value lies in (above, at_most], on the pool's extranonce1.
pub fn share(
    algorithm: Algorithm,
    job: &TestJob,
    en2: u32,
    above: &BigUint,
    at_most: &BigUint,
) -> Value {
    mine_share(algorithm, job, EN1, &format!("{en2:08x}"), above, at_most)
}

/// A share of `rig1` on extranonce1 `en1` and extranonce2 `en2_hex`, its PoW value in
/// (above, at_most].
pub fn mine_share(
    algorithm: Algorithm,
    job: &TestJob,
    en1: &str,
    en2_hex: &str,
    above: &BigUint,
    at_most: &BigUint,
) -> Value {
    let mut header = job.header(en1, en2_hex, job.ntime, 0, job.version);
    let nonce = (0u32..)
        .find(|n| {
            header[76..].copy_from_slice(&n.to_le_bytes());
            let v = pow(algorithm, &header);
            &v > above && &v <= at_most
        })
        .unwrap();
    json!(["rig1", job.id, en2_hex, format!("{:08x}", job.ntime), format!("{nonce:08x}")])
}

/// A GET over a plain TCP connection: the status line and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

pub fn code(answer: &Value) -> Option<i64> {
    answer["error"].get(0).and_then(Value::as_i64)
}

/// A test pool listening on loopback: its address and what it receives.
pub async fn start_pool(
    algorithm: Algorithm,
    job: &TestJob,
    answers: Answers,
) -> (SocketAddr, Received) {
    start_pool_with(PoolSpec::new(algorithm, job, answers)).await
}

/// Listens again on `addr`, an address a test reserved and freed (a pool coming back).
pub fn listen_again(addr: SocketAddr) -> TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(16).unwrap()
}

/// A test pool as `spec` says, listening on loopback: its address and what it receives.
pub async fn start_pool_with(spec: PoolSpec) -> (SocketAddr, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    tokio::spawn(test_pool(listener, spec, received.clone()));
    (addr, received)
}

/// A proxy serving on loopback, with its metrics endpoint.
pub struct RunningProxy {
    pub addr: SocketAddr,
    pub metrics: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningProxy {
    pub async fn start(
        algorithm: Algorithm,
        pools: &[SocketAddr],
        configure: impl FnOnce(&mut ProxyConfig),
    ) -> RunningProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (addr, metrics_addr) = (listener.local_addr().unwrap(), metrics.local_addr().unwrap());
        let urls = pools.iter().map(|a| UpstreamUrl::parse(&format!("stratum+tcp://{a}")).unwrap());
        let mut config = ProxyConfig::new(algorithm, urls.collect());
        configure(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, Some(metrics), config, async move {
            let _ = stopped.await;
        }));
        RunningProxy { addr, metrics: metrics_addr, stop, task }
    }

    /// Stops it, and waits until it has.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// Runs a test body within a bound, so a hang fails instead of stalling CI.
pub async fn within(seconds: u64, body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(seconds), body)
        .await
        .expect("the test finishes within its bound");
}
