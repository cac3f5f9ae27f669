//! `sharecheck proxy --aggregate`, over loopback: every miner on one pool connection, the
//! pool's extranonce space split between them. The test pool judges with the independent
//! builder on its own extranonce1 and the extranonce2 it receives, so a share it accepts
//! proves the proxy's split hashes the same bytes as the pool.
#![cfg(feature = "server")]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::miner::{TestJob, target_for_easier_difficulty};
use crate::common::proxy::*;
use num_bigint::BigUint;
use serde_json::{Value, json};
use sharecheck::Algorithm;
use sharecheck::server::ProxyConfig;
use sharecheck::server::record::RecordConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

fn aggregate(c: &mut ProxyConfig) {
    c.aggregate = true;
}

/// Subscribes (as cgminer does), takes the job and authorizes as `worker`: the miner's
/// extranonce1 and extranonce2 size.
async fn login(miner: &mut TestMiner, worker: &str) -> (String, usize) {
    let subscribed = miner.call("mining.subscribe", json!(["cgminer/4.11.1", null])).await;
    let en1 = subscribed["result"][1].as_str().expect("an extranonce1").to_string();
    let size = subscribed["result"][2].as_u64().expect("an extranonce2 size") as usize;
    miner.notified().await;
    let authorized = miner.call("mining.authorize", json!([worker, "x"])).await;
    assert_eq!(authorized["result"], true, "{authorized}");
    (en1, size)
}

fn with_worker(mut share: Value, worker: &str) -> Value {
    share[0] = json!(worker);
    share
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_sha256d() {
    two_miners_share_one_pool_connection(Algorithm::Sha256d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_scrypt() {
    two_miners_share_one_pool_connection(Algorithm::Scrypt).await;
}

async fn two_miners_share_one_pool_connection(algorithm: Algorithm) {
    within(90, async {
        let job = TestJob::new("j1");
        let spec = PoolSpec::new(algorithm, &job, Answers::AtOnce);
        let connections = spec.connections.clone();
        let (pool, received) = start_pool_with(spec).await;
        let proxy = RunningProxy::start(algorithm, &[pool], |c| {
            aggregate(c);
            c.user = Some("farm".into());
        })
        .await;

        let mut a = TestMiner::connect(proxy.addr).await;
        let mut b = TestMiner::connect(proxy.addr).await;
        let (en1_a, size_a) = login(&mut a, "rig1").await;
        let (en1_b, size_b) = login(&mut b, "rig2").await;
        // The pool's extranonce1 and its 4-byte extranonce2 split: a 2-byte index each.
        assert_eq!((size_a, size_b), (2, 2));
        assert!(en1_a.starts_with(EN1) && en1_b.starts_with(EN1), "{en1_a} {en1_b}");
        assert_eq!((en1_a.len(), en1_b.len()), (EN1.len() + 4, EN1.len() + 4));
        assert_ne!(en1_a, en1_b, "two miners never do the same work");

        let zero = BigUint::from(0u8);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        // Both miners roll the same extranonce2 values: the proxy's index keeps them apart.
        let mut valid = Vec::new();
        for en2 in ["0001", "0002"] {
            valid.push(("rig1", mine_share(algorithm, &job, &en1_a, en2, &zero, &easy)));
            let share = mine_share(algorithm, &job, &en1_b, en2, &zero, &easy);
            valid.push(("rig2", with_worker(share, "rig2")));
        }
        for (worker, share) in &valid {
            let miner = if *worker == "rig1" { &mut a } else { &mut b };
            let answer = miner.call("mining.submit", share.clone()).await;
            assert_eq!((answer["result"].clone(), code(&answer)), (json!(true), None), "{answer}");
        }

        // Every reject reason, answered by the proxy with its code.
        let first = valid[0].1.clone();
        let edit = |i: usize, v: Value| {
            let mut s = first.clone();
            s[i] = v;
            s
        };
        let mut rolled = first.clone();
        rolled.as_array_mut().unwrap().push(json!("00002000"));
        let low = mine_share(algorithm, &job, &en1_a, "0003", &easy, &max);
        let cases = [
            ("duplicate", first.clone(), 22),
            ("low difficulty", low, 23),
            ("unknown job", edit(1, json!("gone")), 21),
            ("not hex", edit(4, json!("zz")), 20),
            ("pool-size extranonce2", edit(2, json!("00000001")), 20),
            ("ntime before the job", edit(3, json!(format!("{:08x}", job.ntime - 1))), 20),
            ("short nonce", edit(4, json!("0001")), 20),
            ("version bits never negotiated", rolled, 20),
        ];
        for (what, share, expected) in cases {
            let answer = a.call("mining.submit", share).await;
            assert_eq!(code(&answer), Some(expected), "{what}: {answer}");
        }
        let mut c = TestMiner::connect(proxy.addr).await;
        let answer = c.call("mining.submit", first.clone()).await;
        assert_eq!(code(&answer), Some(25), "before subscribe: {answer}");
        // An unknown method gets an error, and the connection stays.
        assert_eq!(code(&c.call("mining.capabilities", json!([])).await), Some(20));
        assert_eq!(c.call("mining.extranonce.subscribe", json!([])).await["result"], true);
        // Subscribed but never authorized: a valid share is refused (24), never forwarded.
        let subscribed = c.call("mining.subscribe", json!(["cgminer/4.11.1"])).await;
        let en1_c = subscribed["result"][1].as_str().unwrap().to_string();
        let share = mine_share(algorithm, &job, &en1_c, "0001", &zero, &easy);
        assert_eq!(code(&c.call("mining.submit", share).await), Some(24));

        // One pool connection; it saw the valid shares only, each once, each accepted,
        // under the farm's account, with pairwise distinct extranonce2.
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        let seen = received.lock().unwrap().clone();
        assert_eq!(seen.len(), valid.len(), "{seen:?}");
        assert!(seen.iter().all(|s| s.3), "the pool accepted every one: {seen:?}");
        let workers: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(workers, ["farm.rig1", "farm.rig2", "farm.rig1", "farm.rig2"]);
        let en2s: HashSet<&str> = seen.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(en2s.len(), valid.len(), "distinct upstream extranonce2: {seen:?}");
        for (sent, (_, share)) in seen.iter().zip(&valid) {
            let en1 = if sent.0 == "farm.rig1" { &en1_a } else { &en1_b };
            // index ‖ miner extranonce2
            let expected = format!("{}{}", &en1[EN1.len()..], share[2].as_str().unwrap());
            assert_eq!(sent.1, expected);
        }

        let workers: Value =
            serde_json::from_str(&http_get(proxy.metrics, "/workers").await.1).unwrap();
        let rig1 = workers.as_array().unwrap().iter().find(|w| w["worker"] == "rig1").unwrap();
        assert_eq!(rig1["accepted"], 2, "{rig1}");
        assert_eq!(
            (rig1["forwarded"].clone(), rig1["upstream_accepted"].clone()),
            (json!(2), json!(2))
        );
        let rejected = json!({"duplicate": 1, "low_difficulty": 1, "job_not_found": 1,
            "malformed": 1, "bad_extranonce2": 1, "bad_ntime": 1, "bad_nonce": 1,
            "bad_version_bits": 1});
        assert_eq!(rig1["rejected"], rejected);
        let metrics = http_get(proxy.metrics, "/metrics").await.1;
        assert!(metrics.lines().any(|l| l == "sharecheck_miners_connected 3"), "{metrics}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_rolling_gets_the_miners_mask_and_the_pools() {
    within(30, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Sha256d, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], aggregate).await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        // The miner asks for 0x1fffe000 | 0x0000_1000; the pool grants 0x1fffe000.
        let ask = json!([["version-rolling"], {"version-rolling.mask": "1ffff000"}]);
        let configured = miner.call("mining.configure", ask).await;
        assert_eq!(configured["result"]["version-rolling"], true, "{configured}");
        assert_eq!(configured["result"]["version-rolling.mask"], "1fffe000");
        let (en1, _) = login(&mut miner, "rig1").await;
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let bits = 0x0000_6000u32;
        let version = (job.version & !VERSION_MASK) | bits;
        let en2 = "0001";
        let mut header = job.header(&en1, en2, job.ntime, 0, version);
        let nonce = (0u32..)
            .find(|n| {
                header[76..].copy_from_slice(&n.to_le_bytes());
                pow(Algorithm::Sha256d, &header) <= easy
            })
            .unwrap();
        let ntime = format!("{:08x}", job.ntime);
        let share =
            json!(["rig1", "j1", en2, ntime, format!("{nonce:08x}"), format!("{bits:08x}")]);
        assert_eq!(miner.call("mining.submit", share.clone()).await["result"], true);
        let mut outside = share;
        outside[5] = json!("00001000");
        assert_eq!(code(&miner.call("mining.submit", outside).await), Some(20));
        let seen = received.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].3, "the pool accepted the rolled share");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_extranonce_subscribers_and_reconnects_the_others() {
    within(60, async {
        let job = TestJob::new("j1");
        // The preferred pool's address, down for now.
        let reserved = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let first_addr = reserved.local_addr().unwrap();
        drop(reserved);
        let mut second = PoolSpec::new(Algorithm::Sha256d, &job, Answers::AtOnce);
        second.en1 = "5ec0d000".into();
        let second_en1 = second.en1.clone();
        let (second_addr, second_received) = start_pool_with(second).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[first_addr, second_addr], |c| {
            aggregate(c);
            c.failback_interval = Duration::from_millis(200);
        })
        .await;

        let mut keeps = TestMiner::connect(proxy.addr).await;
        assert_eq!(keeps.call("mining.extranonce.subscribe", json!([])).await["result"], true);
        let (en1, _) = login(&mut keeps, "rig1").await;
        assert!(en1.starts_with(&second_en1), "on the second pool: {en1}");
        let mut leaves = TestMiner::connect(proxy.addr).await;
        login(&mut leaves, "rig2").await;
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let zero = BigUint::from(0u8);
        let old = mine_share(Algorithm::Sha256d, &job, &en1, "0001", &zero, &easy);
        assert_eq!(keeps.call("mining.submit", old.clone()).await["result"], true);

        // The first pool comes back.
        let first_received: Received = Arc::default();
        let spec = PoolSpec::new(Algorithm::Sha256d, &job, Answers::AtOnce);
        tokio::spawn(test_pool(listen_again(first_addr), spec, first_received.clone()));

        // The extranonce subscriber is told its new extranonce1 and keeps working.
        let set = loop {
            let line = keeps.lines.next_line().await.unwrap().expect("a set_extranonce");
            let m: Value = serde_json::from_str(&line).unwrap();
            if m["method"] == "mining.set_extranonce" {
                break m;
            }
        };
        let new_en1 = set["params"][0].as_str().unwrap().to_string();
        assert!(new_en1.starts_with(EN1), "the first pool's extranonce1: {set}");
        assert_eq!(set["params"][1], 2);
        keeps.notified().await;
        // The other is sent back to the proxy, and closed.
        let reconnect = loop {
            let line = leaves.lines.next_line().await.unwrap().expect("a reconnect");
            let m: Value = serde_json::from_str(&line).unwrap();
            if m["method"] == "client.reconnect" {
                break m;
            }
        };
        assert_eq!(reconnect["params"][1], json!(proxy.addr.port().to_string()));
        assert!(leaves.lines.next_line().await.unwrap_or(None).is_none(), "then it closes");

        // A share on the old pool's extranonce is not sent anywhere; a new one goes to
        // the first pool.
        let stale = mine_share(Algorithm::Sha256d, &job, &en1, "0002", &zero, &easy);
        assert_ne!(keeps.call("mining.submit", stale).await["result"], true);
        let new = mine_share(Algorithm::Sha256d, &job, &new_en1, "0003", &zero, &easy);
        assert_eq!(keeps.call("mining.submit", new).await["result"], true);

        let en2s = |r: &Received| r.lock().unwrap().iter().map(|s| s.1.clone()).collect::<Vec<_>>();
        assert_eq!(en2s(&second_received), [format!("{}0001", &en1[8..])]);
        assert_eq!(en2s(&first_received), [format!("{}0003", &new_en1[8..])]);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_that_names_its_session_gets_its_extranonce_back() {
    within(30, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Sha256d, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], aggregate).await;
        let subscribe = |session: Value| async move {
            let mut miner = TestMiner::connect(proxy.addr).await;
            let answer = miner.call("mining.subscribe", json!(["cgminer/4.11.1", session])).await;
            let en1 = answer["result"][1].as_str().expect("an extranonce1").to_string();
            // The subscription id is the extranonce1, for the next time.
            assert_eq!(answer["result"][0][1][1], json!(en1), "{answer}");
            (miner, en1)
        };
        let (first, en1) = subscribe(Value::Null).await;
        drop(first);
        let (_second, other) = subscribe(Value::Null).await;
        assert_ne!(other, en1, "a fresh extranonce1 while unused ones remain");
        // The first miner comes back: its extranonce1 again, once the proxy has seen it go.
        let start = std::time::Instant::now();
        let (mut back, resumed) = loop {
            let (miner, got) = subscribe(json!(en1)).await;
            if got == en1 || start.elapsed() > Duration::from_secs(5) {
                break (miner, got);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(resumed, en1);
        // Work found on that extranonce1 before the reconnect is still good.
        back.notified().await;
        assert_eq!(back.call("mining.authorize", json!(["rig1", "x"])).await["result"], true);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let share = mine_share(Algorithm::Sha256d, &job, &en1, "0001", &BigUint::from(0u8), &easy);
        assert_eq!(back.call("mining.submit", share).await["result"], true);
        assert_eq!(received.lock().unwrap()[0].1, format!("{}0001", &en1[EN1.len()..]));
        // Held: someone else naming it gets another; an id that is not ours, a fresh one.
        let (_copy, taken) = subscribe(json!(en1)).await;
        assert_ne!(taken, en1);
        let (_stranger, fresh) = subscribe(json!("not-a-session")).await;
        assert!(![&en1, &other, &taken].contains(&&fresh), "{fresh}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_aggregated_session_replays_with_no_disagreement() {
    within(60, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Scrypt, &job, Answers::AtOnce).await;
        let record_dir = std::env::temp_dir()
            .join(format!("sharecheck-record-aggregated-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&record_dir);
        let dir = record_dir.clone();
        let proxy = RunningProxy::start(Algorithm::Scrypt, &[pool], move |c| {
            aggregate(c);
            c.record = Some(RecordConfig::new(&dir));
        })
        .await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        let (en1, _) = login(&mut miner, "rig1").await;
        let zero = BigUint::from(0u8);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        let valid = mine_share(Algorithm::Scrypt, &job, &en1, "0001", &zero, &easy);
        let low = mine_share(Algorithm::Scrypt, &job, &en1, "0002", &easy, &max);
        let mut short = valid.clone();
        short[2] = json!("01");
        let mut sent = 0;
        for (share, expected) in
            [(&valid, None), (&valid, Some(22)), (&low, Some(23)), (&short, Some(20))]
        {
            let answer = miner.call("mining.submit", share.clone()).await;
            assert_eq!(code(&answer), expected, "{answer}");
            sent += 1;
        }
        assert_eq!(received.lock().unwrap().len(), 1);
        drop(miner);
        proxy.stop().await;

        let files: Vec<_> =
            std::fs::read_dir(&record_dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "one transcript per connection: {files:?}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sharecheck"))
            .args(["replay", "--algo", "scrypt", "--compare"])
            .arg(&files[0])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("0 disagreements with the pool"), "{stderr}");
        let verdicts = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(verdicts, sent, "one verdict per submit sent: {stderr}");
        std::fs::remove_dir_all(&record_dir).unwrap();
    })
    .await;
}

/// Reads the miner's lines until a call of `method`; `None` if none comes within `wait`.
async fn next_call(miner: &mut TestMiner, method: &str, wait: Duration) -> Option<Value> {
    tokio::time::timeout(wait, async {
        loop {
            let line = miner.lines.next_line().await.ok()??;
            let m: Value = serde_json::from_str(&line).ok()?;
            if m["method"] == method {
                return Some(m);
            }
        }
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_pool_moves_the_miners_on_and_a_mute_one_is_not_failed_back_to() {
    within(60, async {
        let job = TestJob::new("j1");
        let first = PoolSpec::new(Algorithm::Sha256d, &job, Answers::AtOnce);
        let first_down = first.down.clone();
        let (first_addr, first_received) = start_pool_with(first).await;
        let job2 = TestJob::new("j2");
        let mut second = PoolSpec::new(Algorithm::Sha256d, &job2, Answers::AtOnce);
        second.en1 = "5ec0d000".into();
        let second_connections = second.connections.clone();
        let (second_addr, second_received) = start_pool_with(second).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[first_addr, second_addr], |c| {
            aggregate(c);
            c.failback_interval = Duration::from_millis(200);
            c.connect_timeout = Duration::from_millis(500);
        })
        .await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        assert_eq!(miner.call("mining.extranonce.subscribe", json!([])).await["result"], true);
        let (en1, _) = login(&mut miner, "rig1").await;
        assert!(en1.starts_with(EN1), "on the first pool: {en1}");
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let zero = BigUint::from(0u8);
        let share = mine_share(Algorithm::Sha256d, &job, &en1, "0001", &zero, &easy);
        assert_eq!(miner.call("mining.submit", share).await["result"], true);

        // The first pool dies mid-session: the miner is moved to the second.
        first_down.send_replace(true);
        let moved = next_call(&mut miner, "mining.set_extranonce", Duration::from_secs(10))
            .await
            .expect("a new extranonce on the second pool");
        let new_en1 = moved["params"][0].as_str().unwrap().to_string();
        assert!(new_en1.starts_with("5ec0d000"), "{moved}");
        miner.notified().await;
        // The lost pool's jobs are stale, and their shares go nowhere; new work goes to the
        // second pool.
        let old = mine_share(Algorithm::Sha256d, &job, &en1, "0002", &zero, &easy);
        assert_eq!(code(&miner.call("mining.submit", old).await), Some(21));
        let new = mine_share(Algorithm::Sha256d, &job2, &new_en1, "0003", &zero, &easy);
        assert_eq!(miner.call("mining.submit", new).await["result"], true);

        // Something comes back at the first pool's address that accepts connections and
        // never answers: the proxy's handshake fails there, so nobody is moved.
        let mute = listen_again(first_addr);
        let mute_accepts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = mute_accepts.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = mute.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(stream); // open, silent
            }
        });
        let not_moved =
            next_call(&mut miner, "mining.set_extranonce", Duration::from_secs(2)).await;
        assert!(not_moved.is_none(), "moved to a pool that never answered: {not_moved:?}");
        assert!(mute_accepts.load(Ordering::SeqCst) >= 1, "the proxy tried it");
        assert_eq!(second_connections.load(Ordering::SeqCst), 1, "the second pool never left");
        let again = mine_share(Algorithm::Sha256d, &job2, &new_en1, "0004", &zero, &easy);
        assert_eq!(miner.call("mining.submit", again).await["result"], true);

        let en2s = |r: &Received| r.lock().unwrap().iter().map(|s| s.1.clone()).collect::<Vec<_>>();
        assert_eq!(en2s(&first_received), [format!("{}0001", &en1[8..])]);
        assert_eq!(
            en2s(&second_received),
            [format!("{}0003", &new_en1[8..]), format!("{}0004", &new_en1[8..])]
        );
        proxy.stop().await;
    })
    .await;
}

/// Scrypt shares of several miners arriving together are checked in rounds (the batch
/// path): each miner pipelines its shares, and every answer is still its own share's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrypt_shares_of_many_miners_checked_together_keep_their_own_answers() {
    within(90, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Scrypt, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Scrypt, &[pool], aggregate).await;
        let zero = BigUint::from(0u8);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        let mut miners = Vec::new();
        for m in 0..6 {
            let mut miner = TestMiner::connect(proxy.addr).await;
            let worker = format!("rig{m}");
            let (en1, _) = login(&mut miner, &worker).await;
            // Per miner: three valid shares, one repeated, one under the target.
            let mut calls = Vec::new();
            for n in 1..=3u32 {
                let share =
                    mine_share(Algorithm::Scrypt, &job, &en1, &format!("{n:04x}"), &zero, &easy);
                calls.push((with_worker(share, &worker), None));
            }
            calls.push((calls[0].0.clone(), Some(22)));
            let low = mine_share(Algorithm::Scrypt, &job, &en1, "0009", &easy, &max);
            calls.push((with_worker(low, &worker), Some(23)));
            miners.push((miner, calls));
        }
        // Every miner sends all its shares at once; then every answer is read.
        for (miner, calls) in &mut miners {
            let mut lines = String::new();
            for (i, (share, _)) in calls.iter().enumerate() {
                let call = json!({"id": 1000 + i, "method": "mining.submit", "params": share});
                lines.push_str(&format!("{call}\n"));
            }
            miner.write.write_all(lines.as_bytes()).await.unwrap();
        }
        for (miner, calls) in &mut miners {
            // The proxy's own answers may come before the pool's: gathered by id.
            let mut answers = std::collections::HashMap::new();
            while answers.len() < calls.len() {
                let line = miner.lines.next_line().await.unwrap().expect("the proxy answers");
                let m: Value = serde_json::from_str(&line).unwrap();
                if m.get("method").is_none() {
                    assert!(
                        answers.insert(m["id"].clone(), m.clone()).is_none(),
                        "one answer: {m}"
                    );
                }
            }
            for (i, (_, expected)) in calls.iter().enumerate() {
                let answer = &answers[&json!(1000 + i)];
                assert_eq!(code(answer), *expected, "share {i}: {answer}");
            }
        }
        let seen = received.lock().unwrap().clone();
        assert_eq!(seen.len(), 18, "each valid share reached the pool once: {seen:?}");
        assert!(seen.iter().all(|s| s.3), "and was good there");
        let distinct: HashSet<&String> = seen.iter().map(|s| &s.1).collect();
        assert_eq!(distinct.len(), 18, "no two miners did the same work");
        // Checked in rounds: fewer rounds than shares, some of them together.
        let metrics = http_get(proxy.metrics, "/metrics").await.1;
        let counter = |name: &str| -> u64 {
            let line = metrics.lines().find(|l| l.starts_with(name)).expect(name);
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let (rounds, batched) =
            (counter("sharecheck_check_rounds_total"), counter("sharecheck_batched_shares_total"));
        assert!(rounds < 30 && batched >= 2, "30 shares in {rounds} rounds, {batched} batched");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_pool_leaves_aggregated_miners_with_the_local_verdict() {
    within(30, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Sha256d, &job, Answers::Never).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], |c| {
            aggregate(c);
            c.upstream_timeout = Duration::from_millis(300);
        })
        .await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        let (en1, _) = login(&mut miner, "rig1").await;
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let share = mine_share(Algorithm::Sha256d, &job, &en1, "0001", &BigUint::from(0u8), &easy);
        let started = std::time::Instant::now();
        let answer = miner.call("mining.submit", share).await;
        assert_eq!((answer["result"].clone(), code(&answer)), (json!(true), None), "{answer}");
        assert!(started.elapsed() >= Duration::from_millis(250), "after the upstream timeout");
        assert_eq!(received.lock().unwrap().len(), 1, "the share went to the pool");
        // The hub counts it unanswered on its own (1 s) timer.
        let counted = std::time::Instant::now();
        loop {
            let workers: Value =
                serde_json::from_str(&http_get(proxy.metrics, "/workers").await.1).unwrap();
            if workers[0]["upstream_unanswered"] == 1 {
                break;
            }
            assert!(counted.elapsed() < Duration::from_secs(5), "{workers}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        proxy.stop().await;
    })
    .await;
}

/// A miner that sends shares, other requests and a garbage line in one write: every
/// request gets exactly one answer, the right one, the garbage one error, and the shares
/// before and after it are each checked once (the repeat of a share sent in the same write
/// is the duplicate, never its first sending).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_sent_together_are_each_answered_once() {
    within(60, async {
        let job = TestJob::new("j1");
        let (pool, received) = start_pool(Algorithm::Sha256d, &job, Answers::AtOnce).await;
        let proxy = RunningProxy::start(Algorithm::Sha256d, &[pool], aggregate).await;
        let mut miner = TestMiner::connect(proxy.addr).await;
        let (en1, _) = login(&mut miner, "rig1").await;
        let zero = BigUint::from(0u8);
        let easy = target_for_easier_difficulty(LOG2_EASY);
        let max = (BigUint::from(1u8) << 256usize) - 1u8;
        let a =
            with_worker(mine_share(Algorithm::Sha256d, &job, &en1, "0001", &zero, &easy), "rig1");
        let b =
            with_worker(mine_share(Algorithm::Sha256d, &job, &en1, "0002", &zero, &easy), "rig1");
        let low =
            with_worker(mine_share(Algorithm::Sha256d, &job, &en1, "0003", &easy, &max), "rig1");
        let submit = |id: u64, share: &Value| {
            json!({"id": id, "method": "mining.submit", "params": share}).to_string()
        };
        let lines = [
            submit(10, &a),
            "\u{1}not json".to_string(),
            submit(11, &b),
            json!({"id": 12, "method": "client.get_version", "params": []}).to_string(),
            submit(13, &a),
            submit(14, &low),
            json!({"id": 15, "method": "mining.no_such_method", "params": []}).to_string(),
            submit(16, &json!(["rig1", "j1"])),
        ];
        miner.write.write_all(format!("{}\n", lines.join("\n")).as_bytes()).await.unwrap();

        let mut answers = std::collections::HashMap::new();
        let mut null_errors = 0;
        while answers.len() < 7 {
            let line = tokio::time::timeout(Duration::from_secs(10), miner.lines.next_line())
                .await
                .expect("answered in time")
                .unwrap()
                .expect("the proxy answers");
            let m: Value = serde_json::from_str(&line).unwrap();
            if m.get("method").is_some() {
                continue;
            }
            if m["id"].is_null() {
                null_errors += 1;
                continue;
            }
            assert!(answers.insert(m["id"].as_u64().unwrap(), m.clone()).is_none(), "once: {m}");
        }
        assert_eq!(null_errors, 1, "the garbage line, answered once");
        assert_eq!(answers[&10]["result"], true, "{}", answers[&10]);
        assert_eq!(answers[&11]["result"], true, "{}", answers[&11]);
        assert!(answers[&12]["result"].as_str().unwrap().starts_with("sharecheck/"));
        assert_eq!(code(&answers[&13]), Some(22), "the repeat: {}", answers[&13]);
        assert_eq!(code(&answers[&14]), Some(23), "{}", answers[&14]);
        assert_eq!(code(&answers[&15]), Some(20), "{}", answers[&15]);
        assert_eq!(code(&answers[&16]), Some(20), "malformed: {}", answers[&16]);
        // Nothing more is owed: a later call is answered next.
        let version = miner.call("client.get_version", json!([])).await;
        assert!(version["result"].is_string(), "{version}");
        let en2s: Vec<String> = received.lock().unwrap().iter().map(|s| s.1.clone()).collect();
        assert_eq!(en2s.len(), 2, "the two good shares reached the pool, once each: {en2s:?}");
        proxy.stop().await;
    })
    .await;
}
