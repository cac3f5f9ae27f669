//! The network layer (cargo feature `server`, on by default): `sharecheck proxy`, a
//! validating Stratum V1 proxy between miners and a pool. Knows the engine only through
//! `validate`; a proxy author who links the core with `default-features = false` compiles
//! none of this (no tokio).
//!
//! Two modes: passthrough (one upstream connection per miner, [`passthrough`]) and
//! aggregated (one upstream connection for every miner, the pool's extranonce space split
//! between them, [`aggregate`]). In both, every submit is checked before it goes upstream.

mod aggregate;
mod checker;
pub mod difficulty;
pub mod estimate;
pub mod lines;
pub mod local_hub;
pub mod local_jobs;
pub mod metrics;
mod miner;
pub mod passthrough;
pub mod record;
pub mod stats;
pub mod test_bench;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use difficulty::DownstreamDifficulty;
pub use upstream::UpstreamUrl;

use crate::chain::Algorithm;
use crate::validate::ValidatorConfig;

/// Settings of a proxy.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// PoW algorithm of the pool's chain.
    pub algorithm: Algorithm,
    /// Pools in priority order (the first that accepts a connection is used).
    pub upstreams: Vec<UpstreamUrl>,
    /// Pool account: the pool sees `user.worker` (the miner's worker name after a dot);
    /// `None`: the miner's own worker name.
    pub user: Option<String>,
    /// Password sent to the pool; `None`: the miner's own.
    pub password: Option<String>,
    /// Every miner on one upstream connection, its extranonce space split between them
    /// (`--aggregate`); otherwise one upstream connection per miner.
    pub aggregate: bool,
    /// The difficulty miners work at: the pool's (default), a fixed
    /// lower one, or vardiff; shares under the pool's target are not forwarded.
    pub downstream_difficulty: DownstreamDifficulty,
    /// Where vardiff starts for a miner that suggests no difficulty (`None`, the default:
    /// at the pool's).
    pub vardiff_start: Option<f64>,
    /// The share check's limits and policy.
    pub validator: ValidatorConfig,
    /// How long a valid share waits for the pool's answer before the miner gets the local
    /// verdict (default 10 s).
    pub upstream_timeout: Duration,
    /// How long connecting to one pool may take (default 5 s).
    pub connect_timeout: Duration,
    /// Miner connections served at once (default 10 000); more wait to be accepted.
    pub max_connections: usize,
    /// A miner that has not subscribed and authorized this long after connecting is
    /// disconnected (default 30 s).
    pub login_timeout: Duration,
    /// A miner that sends nothing for this long is disconnected (default 10 min).
    pub idle_timeout: Duration,
    /// Transcripts of the miner connections (`--record DIR`), if wanted.
    pub record: Option<record::RecordConfig>,
    /// Worker series kept in the statistics (default 1000); the rest are summed under
    /// `_other`, so the metrics' cardinality stays bounded.
    pub max_worker_series: usize,
    /// How often a connection on a fallback pool checks whether a preferred one is back
    /// (default 10 s); when it is, the miner is sent `client.reconnect` naming the proxy,
    /// and the connection closes once its shares are answered.
    pub failback_interval: Duration,
}

impl ProxyConfig {
    /// A proxy for `algorithm` in front of `upstreams`, with the defaults.
    pub fn new(algorithm: Algorithm, upstreams: Vec<UpstreamUrl>) -> ProxyConfig {
        ProxyConfig {
            algorithm,
            upstreams,
            user: None,
            password: None,
            aggregate: false,
            downstream_difficulty: DownstreamDifficulty::Upstream,
            vardiff_start: None,
            // A validator per miner connection: filters that grow with the shares they
            // hold (a connection sends a few per job) instead of reserving room for 2048
            // each (~135 KB a job), and fewer retired ones kept.
            validator: ValidatorConfig {
                reserve_shares_per_job: 0,
                retired_jobs_kept: 2,
                ..ValidatorConfig::default()
            },
            upstream_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_connections: 10_000,
            login_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            failback_interval: Duration::from_secs(10),
            max_worker_series: 1000,
            record: None,
        }
    }
}

/// Accepts miners on `listener` until `shutdown` completes, each served by its own task,
/// and serves `/metrics` and `/workers` on `metrics` if given. Then it stops accepting,
/// lets every connection answer the shares it has in flight (at most the upstream
/// timeout), and returns once all have closed.
pub async fn serve(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let urls: Vec<String> = config.upstreams.iter().map(ToString::to_string).collect();
    let stats = Arc::new(stats::Stats::new(config.algorithm, &urls, config.max_worker_series));
    let config = Arc::new(config);
    let hub = match config.aggregate {
        true => Some(aggregate::start_hub(config.clone(), stats.clone())?),
        false => None,
    };
    accept_miners(listener, metrics, config, stats, hub, shutdown).await
}

/// The accept loop of [`serve`] and of the test bench: miners served by the hub's miner
/// tasks when there is a hub (aggregated mode, the bench), else each through its own pool
/// connection.
pub(crate) async fn accept_miners(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    config: Arc<ProxyConfig>,
    stats: Arc<stats::Stats>,
    hub: Option<(aggregate::Hub, tokio::task::JoinHandle<()>)>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let recording = match &config.record {
        Some(r) => Some(Arc::new(record::RecordWriter::start(r.clone())?)),
        None => None,
    };
    if let Some(metrics) = metrics {
        tokio::spawn(metrics::serve_metrics(metrics, stats.clone(), stopping.clone()));
    }
    tokio::pin!(shutdown);
    loop {
        // Finished connections are reaped as we go, so the set stays small.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (config, stats, stopping) = (config.clone(), stats.clone(), stopping.clone());
        let recording = recording.clone();
        let hub = hub.as_ref().map(|(hub, _)| hub.clone());
        connections.spawn(async move {
            match hub {
                Some(hub) => {
                    aggregate::serve_miner(stream, config, stats, recording, stopping, hub).await
                }
                None => passthrough::serve_miner(stream, config, stats, recording, stopping).await,
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Each connection ends within the upstream timeout (and its last writes).
    let grace = config.upstream_timeout + Duration::from_secs(2);
    if tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period: closed");
    }
    // Every miner is gone: the hub closes the pool connection.
    if let Some((hub, task)) = hub {
        drop(hub);
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    // Every transcript written and closed before returning.
    if let Some(writer) = recording.and_then(|w| Arc::try_unwrap(w).ok()) {
        let _ = tokio::task::spawn_blocking(move || writer.finish()).await;
    }
    Ok(())
}
