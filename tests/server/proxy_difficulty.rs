//! Downstream difficulty through the proxy, in both modes: miners work at their own
//! (lower) difficulty, the proxy answers their shares, and only those that meet the pool's
//! target for their job (and every block) reach the pool, which judges them with the
//! independent builder. Vardiff raises a miner that sends shares too fast.
#![cfg(feature = "server")]

use std::time::Duration;

use crate::common::miner::{TestJob, target_for_easier_difficulty};
use crate::common::proxy::*;
use num_bigint::BigUint;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::server::{DownstreamDifficulty, ProxyConfig};

/// The next `mining.set_difficulty` the miner is sent.
async fn next_difficulty(miner: &mut TestMiner) -> f64 {
    loop {
        let line = miner.lines.next_line().await.unwrap().expect("a set_difficulty");
        let m: Value = serde_json::from_str(&line).unwrap();
        if m["method"] == "mining.set_difficulty" {
            return m["params"][0].as_f64().expect("a number");
        }
    }
}

/// Waits until the pool has received `n` shares, and returns them.
async fn pool_received(received: &Received, n: usize) -> Vec<(String, String, String, bool)> {
    let start = std::time::Instant::now();
    while received.lock().unwrap().len() < n {
        assert!(start.elapsed() < Duration::from_secs(10), "forwarded shares reach the pool");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    received.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_downstream_difficulty_forwards_only_what_meets_the_pools_passthrough() {
    lower_downstream_difficulty(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_downstream_difficulty_forwards_only_what_meets_the_pools_aggregated() {
    lower_downstream_difficulty(true).await;
}

async fn lower_downstream_difficulty(aggregate: bool) {
    within(60, async {
        let mut job = TestJob::new("j1");
        // Network target 0xffff·2^224: a block takes about 65 536 hashes.
        job.nbits = 0x1f00_ffff;
        // The pool asks for 2^-20 (about 4096 hashes a share), the miner works at 2^-24.
        let mut spec = PoolSpec::new(Algorithm::Sha256d, &job, Answers::AtOnce);
        spec.log2_easy = 20;
        let (pool, received) = start_pool_with(spec).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], |c| {
            c.aggregate = aggregate;
            c.downstream_difficulty = DownstreamDifficulty::Fixed(difficulty(Algorithm::Sha256d));
        })
        .await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        let subscribed = miner.call("mining.subscribe", json!(["bmminer/2.0.0"])).await;
        let en1 = subscribed["result"][1].as_str().unwrap().to_string();
        let width = 2 * subscribed["result"][2].as_u64().unwrap() as usize;
        // The proxy's difficulty, not the pool's.
        assert_eq!(next_difficulty(&mut miner).await, difficulty(Algorithm::Sha256d));
        assert_eq!(miner.call("mining.authorize", json!(["rig1", "x"])).await["result"], true);

        let zero = BigUint::from(0u8);
        let miner_target = target_for_easier_difficulty(LOG2_EASY);
        let pool_target = target_for_easier_difficulty(20);
        let block_target = target_for_easier_difficulty(16);
        let mut forwarded = Vec::new();
        for (i, (above, at_most, reaches_pool)) in [
            (&pool_target, &miner_target, false),
            (&block_target, &pool_target, true),
            (&pool_target, &miner_target, false),
            (&zero, &block_target, true),
        ]
        .into_iter()
        .enumerate()
        {
            let en2 = format!("{:0width$x}", i + 1);
            let share = mine_share(Algorithm::Sha256d, &job, &en1, &en2, above, at_most);
            let answer = miner.call("mining.submit", share).await;
            assert_eq!((answer["result"].clone(), code(&answer)), (json!(true), None), "{answer}");
            if reaches_pool {
                // Aggregated: the proxy's index bytes come first.
                forwarded.push(format!("{}{en2}", &en1[EN1.len()..]));
            }
        }
        // The pool's answers come after the miner's: wait for the forwarded ones to land.
        let seen = pool_received(&received, forwarded.len()).await;
        let en2s: Vec<String> = seen.iter().map(|s| s.1.clone()).collect();
        assert_eq!(en2s, forwarded);
        assert!(seen.iter().all(|s| s.3), "the pool accepted each: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(received.lock().unwrap().len(), 2, "nothing else reached the pool");
        let workers: Value =
            serde_json::from_str(&http_get(proxy.metrics, "/workers").await.1).unwrap();
        assert_eq!(workers[0]["accepted"], 4, "{workers}");
        assert_eq!(workers[0]["forwarded"], 2, "{workers}");
        assert_eq!(workers[0]["upstream_accepted"], 2, "{workers}");
        assert_eq!(workers[0]["blocks"], 1, "{workers}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vardiff_raises_a_fast_miner_passthrough() {
    vardiff_raises_a_fast_miner(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vardiff_raises_a_fast_miner_aggregated() {
    vardiff_raises_a_fast_miner(true).await;
}

/// A scrypt miner that suggests difficulty 2^-8 after it has logged in (as ESP-Miner does),
/// then sends 16 shares at once, aiming at 1 share a minute: it starts at the pool's
/// 2^-2, moves to its suggestion, and is then raised by the largest step (16×), never above
/// the pool's. Only shares that meet the pool's target reach the pool.
async fn vardiff_raises_a_fast_miner(aggregate: bool) {
    within(60, async {
        let algorithm = Algorithm::Scrypt;
        let job = TestJob::new("j1");
        let mut spec = PoolSpec::new(algorithm, &job, Answers::AtOnce);
        spec.log2_easy = 18;
        let pool_difficulty = difficulty_for(algorithm, 18);
        let (pool, received) = start_pool_with(spec).await;
        let configure = |c: &mut ProxyConfig| {
            c.aggregate = aggregate;
            c.downstream_difficulty = DownstreamDifficulty::Vardiff { shares_per_minute: 1.0 };
        };
        let proxy = RunningProxy::start(algorithm, &[pool], configure).await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        let subscribed = miner.call("mining.subscribe", json!(["esp-miner/2.4.0"])).await;
        let en1 = subscribed["result"][1].as_str().unwrap().to_string();
        let width = 2 * subscribed["result"][2].as_u64().unwrap() as usize;
        assert_eq!(next_difficulty(&mut miner).await, pool_difficulty, "no suggestion yet");
        assert_eq!(miner.call("mining.authorize", json!(["rig1", "x"])).await["result"], true);
        let suggested = difficulty(algorithm);
        let answer = miner.call("mining.suggest_difficulty", json!([suggested])).await;
        assert_eq!(answer["result"], true, "{answer}");
        let start = next_difficulty(&mut miner).await;
        // The suggestion, rounded down to three significant digits for firmware.
        assert!(start <= suggested && start > suggested * 0.99, "{start}");

        let zero = BigUint::from(0u8);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let pool_target = target_for_easier_difficulty(18);
        let mut to_pool = 0;
        for i in 0..16u32 {
            let en2 = format!("{:0width$x}", i + 1);
            let share = mine_share(algorithm, &job, &en1, &en2, &zero, &easy);
            let answer = miner.call("mining.submit", share.clone()).await;
            assert_eq!(answer["result"], true, "{answer}");
            let mut header = job.header(&en1, &en2, job.ntime, 0, job.version);
            let nonce = u32::from_str_radix(share[4].as_str().unwrap(), 16).unwrap();
            header[76..].copy_from_slice(&nonce.to_le_bytes());
            to_pool += usize::from(pow(algorithm, &header) <= pool_target);
        }
        let raised = next_difficulty(&mut miner).await;
        assert!(raised > 15.0 * start && raised <= 16.0 * start, "{raised} after {start}");
        assert!(raised <= pool_difficulty);
        // Only the shares that met the pool's target went on.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(received.lock().unwrap().len(), to_pool);
        proxy.stop().await;
    })
    .await;
}
