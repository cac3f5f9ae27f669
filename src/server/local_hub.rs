//! The test bench's hub (`sharecheck serve`): the aggregated proxy's hub with local jobs in
//! place of a pool connection. Miners are served by the very same miner tasks as behind
//! the proxy (`aggregate.rs`): subscribe, authorize, configure, extranonce subscribe,
//! suggest_difficulty, every share checked by the engine at the miner's own difficulty.
//!
//! The hub makes a job from [`LocalJobs`] every `job_interval` (a new block, sent with
//! `clean_jobs`, every `jobs_per_block` jobs), authorizes any name, and answers every
//! share itself. Its "pool difficulty" (the ceiling of the miners' difficulty) is the
//! network target's, so only a block would be forwarded, and a block is only logged.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::ProxyConfig;
use super::aggregate::{Answer, Hub, HubEnds, HubEvent, HubRequest, PoolView, shared_validator};
use super::local_jobs::LocalJobs;
use super::stats::Stats;
use crate::chain::{Algorithm, CompactTarget};
use crate::hash::sha256d;

/// The extranonce1 the bench plays the pool with (each miner's adds 2 index bytes).
pub const POOL_EXTRANONCE1_LEN: usize = 4;
/// The extranonce2 size the bench plays the pool with: 2 bytes for the miner's index, 4
/// for the miner (what most pools give ASICs).
pub const POOL_EXTRANONCE2_SIZE: usize = 6;
/// The version-rolling mask miners get (BIP 320's bits, as pools offer them).
pub const VERSION_MASK: u32 = 0x1fff_e000;

/// Where the bench's jobs come from, and how often.
pub struct LocalWork {
    /// The job builder (room for [`POOL_EXTRANONCE1_LEN`] + [`POOL_EXTRANONCE2_SIZE`]
    /// extranonce bytes).
    pub jobs: LocalJobs,
    /// A new job this often (30 s).
    pub job_interval: Duration,
    /// Every this many jobs, a new block (`clean_jobs`).
    pub jobs_per_block: u32,
}

/// Starts the bench's hub. It ends once every [`Hub`] handle is dropped.
pub(crate) fn start_local_hub(
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    work: LocalWork,
) -> std::io::Result<(Hub, tokio::task::JoinHandle<()>)> {
    let (hub, ends) = Hub::new(config.algorithm, stats)?;
    let view = PoolView {
        generation: 1,
        rank: 0,
        validator: shared_validator(&config),
        extranonce1: session_extranonce1(),
        extranonce2_size: POOL_EXTRANONCE2_SIZE,
        index_bytes: 2,
        version_mask: Some(VERSION_MASK),
    };
    Ok((hub, tokio::spawn(serve_local(ends, config.algorithm, view, work))))
}

/// A different extranonce1 every run, so no two bench runs hand out the same work.
fn session_extranonce1() -> Vec<u8> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seed = [nanos.to_le_bytes().as_slice(), &std::process::id().to_le_bytes()].concat();
    sha256d(&seed)[..POOL_EXTRANONCE1_LEN].to_vec()
}

/// Seconds since 1970 as a header's ntime.
fn ntime_now() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as u32
}

/// The network difficulty of `nbits` in the algorithm's pool units: the miners' ceiling.
pub(crate) fn network_difficulty(algorithm: Algorithm, nbits: u32) -> f64 {
    CompactTarget(nbits)
        .to_pow_target()
        .map_or(f64::MAX, |target| algorithm.difficulty_of_target(&target))
}

async fn serve_local(mut ends: HubEnds, algorithm: Algorithm, view: PoolView, mut work: LocalWork) {
    let generation = view.generation;
    let ceiling = network_difficulty(algorithm, work.jobs.nbits());
    {
        let mut latest = ends.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.generation = generation;
        latest.difficulty = Some((ceiling, 0));
    }
    let publish = |jobs: &mut LocalJobs, new_block: bool| {
        let notify = jobs.next(ntime_now(), new_block);
        let line: Arc<str> = Arc::from(
            json!({"id": null, "method": "mining.notify", "params": notify.to_params()})
                .to_string(),
        );
        if let Err(e) = view.validator.notify(notify) {
            // The builder's own jobs: a bug, not input.
            tracing::error!(error = %e, "local job refused");
            return;
        }
        ends.latest.lock().unwrap_or_else(|p| p.into_inner()).notify = Some(line.clone());
        let _ = ends.events.send(HubEvent::Notify { generation, line });
    };
    publish(&mut work.jobs, true);
    ends.pool.send_replace(Some(view.clone()));
    let interval = work.job_interval.max(Duration::from_millis(100));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut jobs_made: u32 = 1;
    loop {
        tokio::select! {
            request = ends.requests.recv() => match request {
                None => return, // every miner and the server are gone
                Some(HubRequest::Authorize { reply, .. }) => {
                    reply.send(Answer::Pool { result: Value::Bool(true), error: Value::Null });
                }
                Some(HubRequest::Submit { forward, reply, .. }) => {
                    // A block (the miner task has logged it) is the only share sent here;
                    // the rest were answered by the miner task at the miner's difficulty.
                    let answer = match forward {
                        true => Answer::Pool { result: Value::Bool(true), error: Value::Null },
                        false => Answer::NotForwarded,
                    };
                    reply.send(answer);
                }
            },
            _ = ticker.tick() => {
                let new_block = jobs_made.is_multiple_of(work.jobs_per_block.max(1));
                publish(&mut work.jobs, new_block);
                jobs_made = jobs_made.wrapping_add(1);
            }
        }
    }
}
