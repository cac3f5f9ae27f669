//! The proxy under bad conditions, in both modes: a shutdown with shares in flight loses
//! none of them; malformed traffic (oversized lines, binary garbage, half lines then
//! silence) and a crowd of connections that never log in cost a bounded amount of memory,
//! never a panic, and leave a working miner unaffected.
#![cfg(feature = "server")]

mod common;

use std::time::Duration;

use common::miner::{TestJob, target_for_easier_difficulty};
use common::proxy::*;
use num_bigint::BigUint;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Logs in as `worker`: the miner's extranonce1 and extranonce2 size.
async fn login(miner: &mut TestMiner, worker: &str) -> (String, usize) {
    let subscribed = miner.call("mining.subscribe", json!(["bmminer/2.0.0"])).await;
    let en1 = subscribed["result"][1].as_str().expect("an extranonce1").to_string();
    let size = subscribed["result"][2].as_u64().expect("a size") as usize;
    miner.notified().await;
    assert_eq!(miner.call("mining.authorize", json!([worker, "x"])).await["result"], true);
    (en1, size)
}

fn valid_share(job: &TestJob, en1: &str, size: usize, en2: usize, worker: &str) -> Value {
    let easy = target_for_easier_difficulty(LOG2_EASY);
    let en2 = format!("{en2:0width$x}", width = 2 * size);
    let mut share = mine_share(Algorithm::Sha256d, job, en1, &en2, &BigUint::from(0u8), &easy);
    share[0] = json!(worker);
    share
}

/// Resident memory of this process (the proxy runs in it), KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_loses_no_share_in_flight_passthrough() {
    shutdown_loses_no_share_in_flight(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_loses_no_share_in_flight_aggregated() {
    shutdown_loses_no_share_in_flight(true).await;
}

/// Two miners with three shares each on their way to a slow pool when the proxy is told
/// to stop: every share reaches the pool, every miner gets the pool's answer to each,
/// then its connection closes and the proxy exits.
async fn shutdown_loses_no_share_in_flight(aggregate: bool) {
    within(60, async {
        let job = TestJob::new("j1");
        let (pool, received) =
            start_pool(Algorithm::Sha256d, &job, Answers::After(Duration::from_millis(150))).await;
        let proxy =
            RunningProxy::start(Algorithm::Sha256d, &[pool], |c| c.aggregate = aggregate).await;
        let proxy_addr = proxy.addr;
        let mut miners = Vec::new();
        for worker in ["rig1", "rig2"] {
            let mut miner = TestMiner::connect(proxy.addr).await;
            let (en1, size) = login(&mut miner, worker).await;
            let mut lines = String::new();
            for n in 1..=3 {
                let share = valid_share(&job, &en1, size, n, worker);
                let call = json!({"id": 100 + n, "method": "mining.submit", "params": share});
                lines.push_str(&format!("{call}\n"));
            }
            miner.write.write_all(lines.as_bytes()).await.unwrap();
            miners.push(miner);
        }
        // The first share reaches the pool (the others are on their way), then: stop.
        let start = std::time::Instant::now();
        while received.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(10), "shares reach the pool");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopping = tokio::spawn(proxy.stop());
        for miner in &mut miners {
            for n in 1..=3 {
                let answer = miner.answer_to(&json!(100 + n)).await;
                assert_eq!(answer["error"][1], "late answer from the test pool", "{answer}");
            }
            assert!(miner.lines.next_line().await.unwrap().is_none(), "closed after the answers");
        }
        stopping.await.unwrap();
        assert_eq!(received.lock().unwrap().len(), 6, "every share reached the pool once");
        assert!(received.lock().unwrap().iter().all(|s| s.3), "and was good there");
        assert!(TcpStream::connect(proxy_addr).await.is_err(), "no longer accepting");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_traffic_and_a_crowd_of_silent_connections_passthrough() {
    malformed_traffic_and_a_crowd_of_silent_connections(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_traffic_and_a_crowd_of_silent_connections_aggregated() {
    malformed_traffic_and_a_crowd_of_silent_connections(true).await;
}

/// Connections that never log in (thousands).
const CROWD: usize = 2000;

async fn malformed_traffic_and_a_crowd_of_silent_connections(aggregate: bool) {
    within(90, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Sha256d, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], |c| {
            c.aggregate = aggregate;
            c.login_timeout = Duration::from_secs(3);
        })
        .await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        let (en1, size) = login(&mut miner, "rig1").await;
        let before = rss_kib();

        // The crowd: half never send a byte, half send half a line and go silent.
        let mut crowd = Vec::with_capacity(CROWD);
        for i in 0..CROWD {
            let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
            if i % 2 == 1 {
                stream.write_all(b"{\"id\": 1, \"method\": \"mining.subsc").await.unwrap();
            }
            crowd.push(stream);
        }
        // Abuse on other connections: a line past 16 KiB with no end, binary garbage.
        let mut long = TcpStream::connect(proxy.addr).await.unwrap();
        let _ = long.write_all(&vec![b'x'; 200_000]).await;
        let mut garbage = TestMiner::connect(proxy.addr).await;
        let noise: Vec<u8> =
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        // The proxy may close it for abuse while it is still being written: writes may fail.
        let _ = garbage.write.write_all(&noise).await;
        let _ = garbage.write.write_all(b"\n\x00\x01\x02\n{\"id\":\n").await;

        // The working miner is unaffected meanwhile: its shares are checked and forwarded.
        for n in 1..=3 {
            let share = valid_share(&job, &en1, size, n, "rig1");
            assert_eq!(miner.call("mining.submit", share).await["result"], true);
        }
        let grown = rss_kib().saturating_sub(before);
        eprintln!("{CROWD} silent connections: {grown} KiB more resident memory (both ends)");
        // Both ends of every connection live in this process: still well under 32 KiB each.
        assert!(grown < (CROWD as u64) * 32, "{grown} KiB for {CROWD} silent connections");

        // The garbage got error answers (never a panic), and repeated abuse closes it.
        let mut answers = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            for _ in 0..64 {
                if garbage.write.write_all(b"\x00garbage\n").await.is_err() {
                    break;
                }
            }
            while let Ok(Some(line)) = garbage.lines.next_line().await {
                answers.push(line);
            }
        })
        .await;
        assert!(closed.is_ok(), "repeated abuse closes the connection");
        let first: Value = serde_json::from_str(answers.first().expect("an answer")).unwrap();
        assert_eq!(code(&first), Some(20), "{answers:?}");
        // The endless line (never ended, so never answered) was not held whole, and its
        // connection is closed by the login limit like the silent ones.
        {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 256];
            let closed = tokio::time::timeout(Duration::from_secs(20), async {
                while let Ok(n) = long.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "the endless line's connection is closed");
        }
        // Every silent connection is closed by the login limit.
        for stream in &mut crowd {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 64];
            let closed = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {} // an error answer to the half line's end, if any
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "a silent connection is closed after the login limit");
        }
        // And the miner still works (it logged in, so the limit is not its).
        let share = valid_share(&job, &en1, size, 4, "rig1");
        assert_eq!(miner.call("mining.submit", share).await["result"], true);
        assert_eq!(received.lock().unwrap().len(), 4);
        let metrics = http_get(proxy.metrics, "/metrics").await.1;
        assert!(metrics.lines().any(|l| l == "sharecheck_blocks_total 0"), "{metrics}");
        proxy.stop().await;
    })
    .await;
}
