//! `sharecheck proxy`: a validating Stratum V1 proxy in front of a pool.

use std::time::Duration;

use clap::Args;

use super::Failure;
use super::hash_cmd::parse_algorithm;
use sharecheck::Algorithm;
use sharecheck::server::{ProxyConfig, UpstreamUrl, serve};

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// PoW algorithm of the pool's chain: sha256d or scrypt.
    #[arg(long, value_parser = parse_algorithm)]
    algo: Algorithm,
    /// Address the miners connect to, HOST:PORT.
    #[arg(long)]
    listen: String,
    /// Pool, stratum+tcp://HOST:PORT; repeat for more, in priority order.
    #[arg(long = "upstream", required = true)]
    upstreams: Vec<String>,
    /// Pool account: the pool sees USER.WORKER (default: the miner's own worker name).
    #[arg(long)]
    user: Option<String>,
    /// Password sent to the pool (default: the miner's own).
    #[arg(long)]
    password: Option<String>,
    /// Seconds a valid share waits for the pool's answer before the miner gets the local
    /// verdict.
    #[arg(long, default_value_t = 10.0)]
    upstream_timeout: f64,
    /// Serve GET /metrics (Prometheus) and GET /workers (JSON) on HOST:PORT.
    #[arg(long)]
    metrics: Option<String>,
    /// Record one transcript per miner connection in DIR (replayable with `sharecheck
    /// replay --compare`), at most 16 MiB each, the newest 1000 kept.
    #[arg(long)]
    record: Option<std::path::PathBuf>,
    /// Worker series kept in the metrics; the rest are summed under `_other`.
    #[arg(long, default_value_t = 1000)]
    max_worker_series: usize,
}

pub fn run(args: &ProxyArgs) -> Result<i32, Failure> {
    let upstreams = args
        .upstreams
        .iter()
        .map(|u| UpstreamUrl::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    if !(args.upstream_timeout.is_finite() && args.upstream_timeout > 0.0) {
        return Err(Failure::usage("--upstream-timeout must be a positive number of seconds"));
    }
    let mut config = ProxyConfig::new(args.algo, upstreams);
    config.user = args.user.clone();
    config.password = args.password.clone();
    config.upstream_timeout = Duration::from_secs_f64(args.upstream_timeout.min(3600.0));
    config.max_worker_series = args.max_worker_series;
    config.record = args.record.clone().map(sharecheck::server::record::RecordConfig::new);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {}: {e}", args.listen)))?;
        let metrics = match &args.metrics {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Failure::usage(format!("cannot serve metrics on {addr}: {e}")))?,
            ),
            None => None,
        };
        tracing::warn!(listen = %args.listen, "proxy listening");
        serve(listener, metrics, config, shutdown_signal())
            .await
            .map_err(|e| Failure::usage(format!("proxy stopped: {e}")))?;
        Ok(0)
    })
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
