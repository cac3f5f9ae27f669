//! `sharecheck proxy` in passthrough mode, over loopback: a test pool that validates with
//! the independent builder (tests/common: sha2, the scrypt crate, num-bigint; not the
//! engine), the proxy in between, and a test miner that mines real SHA-256d and scrypt
//! shares. Every valid share reaches
//! the pool exactly once and is accepted there; every invalid one is answered by the proxy
//! with its stratum code and never reaches the pool.
#![cfg(feature = "server")]

use std::sync::Arc;
use std::time::Duration;

use crate::common::miner::{TestJob, target_for_easier_difficulty};
use crate::common::proxy::*;
use num_bigint::BigUint;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::server::ProxyConfig;
use sharecheck::server::record::RecordConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_sha256d() {
    passthrough_forwards_valid_shares_and_answers_bad_ones_itself(Algorithm::Sha256d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_scrypt() {
    passthrough_forwards_valid_shares_and_answers_bad_ones_itself(Algorithm::Scrypt).await;
}

async fn passthrough_forwards_valid_shares_and_answers_bad_ones_itself(algorithm: Algorithm) {
    within(60, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(algorithm, &job, Answers::AtOnce).await;
        let record_dir = std::env::temp_dir()
            .join(format!("sharecheck-record-{}-{algorithm}", std::process::id()));
        let _ = std::fs::remove_dir_all(&record_dir);
        let proxy = RunningProxy::start(algorithm, &[pool], |c| {
            c.user = Some("farm".into());
            c.record = Some(RecordConfig::new(&record_dir));
        })
        .await;
        let metrics_addr = proxy.metrics;

        let mut miner = TestMiner::connect(proxy.addr).await;
        let subscribed = miner.call("mining.subscribe", json!(["cgminer/4.11.1", null])).await;
        assert_eq!(subscribed["result"][1], EN1, "the pool's subscription, relayed");
        miner.notified().await;
        let authorized = miner.call("mining.authorize", json!(["rig1", "x"])).await;
        assert_eq!(authorized["result"], true);

        let zero = BigUint::from(0u8);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        let valid = [
            share(algorithm, &job, 1, &zero, &easy),
            share(algorithm, &job, 2, &zero, &easy),
            share(algorithm, &job, 3, &zero, &easy),
        ];
        let low = share(algorithm, &job, 4, &easy, &max);
        let mut unknown_job = valid[0].clone();
        unknown_job[1] = json!("gone");
        let mut bad_nonce = valid[0].clone();
        bad_nonce[4] = json!("zz");

        let answer = miner.call("mining.submit", valid[0].clone()).await;
        assert_eq!((answer["result"].clone(), code(&answer)), (json!(true), None), "{answer}");
        let answer = miner.call("mining.submit", valid[0].clone()).await;
        assert_eq!(code(&answer), Some(22), "duplicate, answered by the proxy: {answer}");
        let answer = miner.call("mining.submit", low).await;
        assert_eq!(code(&answer), Some(23), "{answer}");
        let answer = miner.call("mining.submit", unknown_job).await;
        assert_eq!(code(&answer), Some(21), "{answer}");
        let answer = miner.call("mining.submit", bad_nonce).await;
        assert_eq!(code(&answer), Some(20), "{answer}");
        let answer = miner.call("mining.submit", valid[1].clone()).await;
        assert_eq!(answer["result"], true, "{answer}");
        // A line that is not JSON gets an error answer; the connection stays.
        miner.send_line("this is not json").await;
        let answer = miner.answer_to(&Value::Null).await;
        assert_eq!(code(&answer), Some(20), "{answer}");
        let answer = miner.call("mining.submit", valid[2].clone()).await;
        assert_eq!(answer["result"], true, "{answer}");

        // The pool saw exactly the valid shares, each once, under the farm's account.
        let seen = received.lock().unwrap().clone();
        let expected: Vec<(String, String, String, bool)> = valid
            .iter()
            .map(|v| {
                (
                    "farm.rig1".into(),
                    v[2].as_str().unwrap().into(),
                    v[4].as_str().unwrap().into(),
                    true,
                )
            })
            .collect();
        assert_eq!(seen, expected);

        // The statistics count exactly what was sent.
        let (status, body) = http_get(metrics_addr, "/workers").await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let workers: Value = serde_json::from_str(&body).unwrap();
        let rig = &workers[0];
        assert_eq!(workers.as_array().unwrap().len(), 1, "{workers}");
        assert_eq!(rig["worker"], "rig1");
        assert_eq!(rig["connected"], 1);
        assert_eq!(rig["accepted"], 3);
        let rejected =
            json!({"duplicate": 1, "low_difficulty": 1, "job_not_found": 1, "malformed": 1});
        assert_eq!(rig["rejected"], rejected);
        assert_eq!(
            (rig["forwarded"].clone(), rig["upstream_accepted"].clone()),
            (json!(3), json!(3))
        );
        assert_eq!(rig["upstream_rejected"], 0);
        assert_eq!(rig["blocks"], 0);
        // Hashed: 3 valid, the duplicate and the weak one; missed the target: the weak one.
        assert_eq!(rig["hw_error_ratio"], 0.2);
        assert!(rig["hashrate"]["1m"].as_f64().unwrap() > 0.0, "{rig}");
        let (status, body) = http_get(metrics_addr, "/metrics").await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        for line in [
            r#"sharecheck_shares_total{worker="rig1",result="accepted",reason=""} 3"#,
            r#"sharecheck_shares_total{worker="rig1",result="rejected",reason="duplicate"} 1"#,
            r#"sharecheck_upstream_shares_total{result="accepted"} 3"#,
            "sharecheck_miners_connected 1",
            "sharecheck_blocks_total 0",
        ] {
            assert!(body.lines().any(|l| l == line), "{line} in:\n{body}");
        }
        assert!(http_get(metrics_addr, "/nope").await.0.starts_with("HTTP/1.1 404"));
        proxy.stop().await;

        // The connection's transcript replays with the proxy's answers as the pool's.
        let files: Vec<_> =
            std::fs::read_dir(&record_dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "one transcript per connection: {files:?}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sharecheck"))
            .args(["replay", "--algo", &algorithm.to_string(), "--compare"])
            .arg(&files[0])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("0 disagreements with the pool"), "{stderr}");
        let verdicts = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(verdicts, 7, "one verdict per submit sent: {stderr}");
        std::fs::remove_dir_all(&record_dir).unwrap();
    })
    .await;
}

/// A pool answering as told, a proxy in front of it (with `configure` applied), and a
/// miner logged in through it.
async fn setup(
    answers: Answers,
    configure: impl FnOnce(&mut ProxyConfig),
) -> (TestMiner, RunningProxy, Received, TestJob) {
    let job = TestJob::new("j1");
    let (pool, received) = start_pool(Algorithm::Sha256d, &job, answers).await;
    let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], configure).await;
    let mut miner = TestMiner::connect(proxy.addr).await;
    miner.login().await;
    (miner, proxy, received, job)
}

fn valid_share(job: &TestJob, en2: u32) -> Value {
    let easy = target_for_easier_difficulty(LOG2_EASY);
    share(Algorithm::Sha256d, job, en2, &BigUint::from(0u8), &easy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_pool_leaves_the_miner_with_the_local_verdict() {
    within(30, async {
        let (mut miner, proxy, received, job) =
            setup(Answers::Never, |c| c.upstream_timeout = Duration::from_millis(300)).await;
        let answer = miner.call("mining.submit", valid_share(&job, 1)).await;
        assert_eq!((answer["result"].clone(), code(&answer)), (json!(true), None), "{answer}");
        assert_eq!(received.lock().unwrap().len(), 1, "the share went to the pool");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_shares_in_flight() {
    within(30, async {
        let (mut miner, proxy, received, job) =
            setup(Answers::After(Duration::from_millis(500)), |_| {}).await;
        let proxy_addr = proxy.addr;
        let share = valid_share(&job, 1);
        miner
            .send_line(&json!({"id": 77, "method": "mining.submit", "params": share}).to_string())
            .await;
        // The share reaches the pool, then the proxy is told to stop.
        let start = std::time::Instant::now();
        while received.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(10), "the share reached the pool");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopping = tokio::spawn(proxy.stop());
        // The pool's answer still reaches the miner, then the connection closes.
        let answer = miner.answer_to(&json!(77)).await;
        assert_eq!(answer["error"][1], "late answer from the test pool", "the pool's: {answer}");
        assert!(miner.lines.next_line().await.unwrap().is_none(), "closed after the answer");
        stopping.await.unwrap();
        assert!(TcpStream::connect(proxy_addr).await.is_err(), "no longer accepting");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_answered_and_silent_connections_closed() {
    within(30, async {
        let (mut miner, proxy, received, job) =
            setup(Answers::AtOnce, |c| c.login_timeout = Duration::from_secs(2)).await;
        // Over 16 KiB: error 20, and the connection goes on.
        miner.send_line(&"x".repeat(20_000)).await;
        assert_eq!(code(&miner.answer_to(&Value::Null).await), Some(20));
        miner.write.write_all(b"\xff\xfe\n").await.unwrap();
        assert_eq!(code(&miner.answer_to(&Value::Null).await), Some(20));
        assert_eq!(miner.call("mining.submit", valid_share(&job, 1)).await["result"], true);
        assert_eq!(received.lock().unwrap().len(), 1);
        // A connection that never says anything is closed after the login timeout (and
        // never costs a pool connection).
        let mut silent = TestMiner::connect(proxy.addr).await;
        assert!(silent.lines.next_line().await.unwrap_or(None).is_none(), "closed");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_the_second_pool_and_back() {
    within(60, async {
        let job = TestJob::new("j1");
        // The preferred pool's address, down for now.
        let reserved = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let first_addr = reserved.local_addr().unwrap();
        drop(reserved);
        let first_received: Received = Arc::default();
        let (second_addr, second_received) =
            start_pool(Algorithm::Sha256d, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[first_addr, second_addr], |c| {
            c.failback_interval = Duration::from_millis(200)
        })
        .await;
        let proxy_addr = proxy.addr;

        // The first pool is down: the miner works through the second.
        let mut miner = TestMiner::connect(proxy_addr).await;
        miner.login().await;
        assert_eq!(miner.call("mining.submit", valid_share(&job, 1)).await["result"], true);

        // The first pool comes back: the miner is told to reconnect to the proxy.
        let first = listen_again(first_addr);
        let spec = PoolSpec::new(Algorithm::Sha256d, &job, Answers::AtOnce);
        let pool = test_pool(first, spec, first_received.clone());
        tokio::spawn(pool);
        let reconnect = loop {
            let line = miner.lines.next_line().await.unwrap().expect("a reconnect before closing");
            let m: Value = serde_json::from_str(&line).unwrap();
            if m["method"] == "client.reconnect" {
                break m;
            }
        };
        let (host, port) = (reconnect["params"][0].clone(), reconnect["params"][1].clone());
        assert_eq!(host, json!(proxy_addr.ip().to_string()), "{reconnect}");
        assert_eq!(port, json!(proxy_addr.port().to_string()), "{reconnect}");
        assert!(miner.lines.next_line().await.unwrap_or(None).is_none(), "then it closes");

        // Reconnected, the miner works through the first pool again.
        let mut miner = TestMiner::connect(proxy_addr).await;
        miner.login().await;
        assert_eq!(miner.call("mining.submit", valid_share(&job, 2)).await["result"], true);

        // Each share went to the pool the miner was working for, and only there.
        let en2s = |r: &Received| r.lock().unwrap().iter().map(|s| s.1.clone()).collect::<Vec<_>>();
        assert_eq!(en2s(&second_received), ["00000001"]);
        assert_eq!(en2s(&first_received), ["00000002"]);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_rolling_and_blocks_go_through() {
    within(60, async {
        let mut job = TestJob::new("j1");
        // Network target 0xffff·2^224: a block takes about 65 536 hashes.
        job.nbits = 0x1f00_ffff;
        let (pool, received) = start_pool(Algorithm::Sha256d, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], |_| {}).await;
        let metrics_addr = proxy.metrics;

        let mut miner = TestMiner::connect(proxy.addr).await;
        let configure = json!([["version-rolling"], {"version-rolling.mask": "ffffffff"}]);
        let configured = miner.call("mining.configure", configure).await;
        assert_eq!(configured["result"]["version-rolling.mask"], "1fffe000");
        miner.call("mining.subscribe", json!(["bmminer/2.0.0"])).await;
        miner.notified().await;
        miner.call("mining.authorize", json!(["rig1", "x"])).await;

        // A share mined on rolled version bits, its hash in (above, at_most].
        let rolled = |en2: u32, bits: u32, above: &BigUint, at_most: &BigUint| {
            let en2_hex = format!("{en2:08x}");
            let version = (job.version & !VERSION_MASK) | (bits & VERSION_MASK);
            let mut header = job.header(EN1, &en2_hex, job.ntime, 0, version);
            let nonce = (0u32..)
                .find(|n| {
                    header[76..].copy_from_slice(&n.to_le_bytes());
                    let v = pow(Algorithm::Sha256d, &header);
                    &v > above && &v <= at_most
                })
                .unwrap();
            let ntime = format!("{:08x}", job.ntime);
            json!(["rig1", "j1", en2_hex, ntime, format!("{nonce:08x}"), format!("{bits:08x}")])
        };
        let zero = BigUint::from(0u8);
        let block_target = target_for_easier_difficulty(16);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let share = rolled(1, 0x0000_6000, &block_target, &easy);
        assert_eq!(miner.call("mining.submit", share.clone()).await["result"], true);
        // Bits outside the mask: answered by the proxy, never forwarded.
        let mut outside = share.clone();
        outside[5] = json!("00000001");
        assert_eq!(code(&miner.call("mining.submit", outside).await), Some(20));
        let block = rolled(2, 0x0001_e000, &zero, &block_target);
        assert_eq!(miner.call("mining.submit", block.clone()).await["result"], true);

        let en2s: Vec<String> = received.lock().unwrap().iter().map(|r| r.1.clone()).collect();
        assert_eq!(en2s, ["00000001", "00000002"]);
        assert!(received.lock().unwrap().iter().all(|r| r.3), "the pool accepted both");
        let workers = http_get(metrics_addr, "/workers").await.1;
        let workers: Value = serde_json::from_str(&workers).unwrap();
        assert_eq!(workers[0]["blocks"], 1, "{workers}");
        assert_eq!(workers[0]["rejected"], json!({"bad_version_bits": 1}));
        let metrics = http_get(metrics_addr, "/metrics").await.1;
        assert!(metrics.lines().any(|l| l == "sharecheck_blocks_total 1"), "{metrics}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_reconnect_sends_the_miner_back_to_the_proxy_not_past_it() {
    within(30, async {
        let (mut miner, proxy, received, job) = setup(Answers::AtOnceThenReconnect, |_| {}).await;
        assert_eq!(miner.call("mining.submit", valid_share(&job, 1)).await["result"], true);
        let reconnect = loop {
            let line = miner.lines.next_line().await.unwrap().expect("a reconnect");
            let m: Value = serde_json::from_str(&line).unwrap();
            if m["method"] == "client.reconnect" {
                break m;
            }
        };
        let expected = json!([proxy.addr.ip().to_string(), proxy.addr.port().to_string(), 0]);
        assert_eq!(reconnect["params"], expected, "the proxy, not elsewhere.example");
        assert!(miner.lines.next_line().await.unwrap_or(None).is_none(), "then it closes");
        assert_eq!(received.lock().unwrap().len(), 1);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_to_a_reused_id_keep_the_order_of_the_requests() {
    within(30, async {
        let record_dir =
            std::env::temp_dir().join(format!("sharecheck-record-ids-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&record_dir);
        let dir = record_dir.clone();
        let (mut miner, proxy, received, job) =
            setup(Answers::After(Duration::from_millis(300)), move |c| {
                c.record = Some(RecordConfig::new(&dir))
            })
            .await;
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        let valid = valid_share(&job, 1);
        let low = share(Algorithm::Sha256d, &job, 2, &easy, &max);
        // Firmware that sends id 4 for every submit: a valid share (the pool answers it
        // late), then a weak one (the proxy could answer it at once).
        for params in [valid, low] {
            let line = json!({"id": 4, "method": "mining.submit", "params": params});
            miner.send_line(&line.to_string()).await;
        }
        let first = miner.answer_to(&json!(4)).await;
        let second = miner.answer_to(&json!(4)).await;
        assert_eq!(first["error"][1], "late answer from the test pool", "{first}");
        assert_eq!(code(&second), Some(23), "{second}");
        assert_eq!(received.lock().unwrap().len(), 1);
        drop(miner);
        proxy.stop().await;
        // The transcript pairs each answer with its own submit.
        let files: Vec<_> =
            std::fs::read_dir(&record_dir).unwrap().map(|e| e.unwrap().path()).collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sharecheck"))
            .args(["replay", "--algo", "sha256d", "--compare"])
            .arg(&files[0])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The pool's late (marked) answer is the one paired with the valid share: the only
        // disagreement, and with that answer's error.
        assert!(stderr.contains("1 disagreements with the pool"), "{stderr}");
        assert!(stderr.contains("late answer from the test pool"), "{stderr}");
        std::fs::remove_dir_all(&record_dir).unwrap();
    })
    .await;
}
