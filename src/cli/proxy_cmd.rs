//! `sharecheck proxy`: a validating Stratum V1 proxy in front of a pool. Settings come from
//! the flags and from `--config FILE` (TOML, the same names); a flag overrides the file.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::Failure;
use sharecheck::Algorithm;
use sharecheck::server::record::RecordConfig;
use sharecheck::server::{DownstreamDifficulty, ProxyConfig, UpstreamUrl, serve};

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// PoW algorithm of the pool's chain: sha256d or scrypt.
    #[arg(long)]
    algo: Option<String>,
    /// Address the miners connect to, HOST:PORT.
    #[arg(long)]
    listen: Option<String>,
    /// Pool, stratum+tcp://HOST:PORT; repeat for more, in priority order.
    #[arg(long = "upstream")]
    upstreams: Vec<String>,
    /// Pool account: the pool sees USER.WORKER (default: the miner's own worker name).
    #[arg(long)]
    user: Option<String>,
    /// Password sent to the pool (default: the miner's own).
    #[arg(long)]
    password: Option<String>,
    /// Every miner on one pool connection, the pool's extranonce space split between
    /// them (default: one pool connection per miner).
    #[arg(long)]
    aggregate: bool,
    /// Miners work at this fixed difficulty (at most the pool's); only shares that meet
    /// the pool's target are forwarded (and answered by the proxy).
    #[arg(long, conflicts_with = "vardiff")]
    downstream_difficulty: Option<f64>,
    /// Each miner's difficulty set for about this many shares a minute (at most the
    /// pool's); only shares that meet the pool's target are forwarded.
    #[arg(long)]
    vardiff: Option<f64>,
    /// Seconds a valid share waits for the pool's answer before the miner gets the local
    /// verdict (default 10).
    #[arg(long)]
    upstream_timeout: Option<f64>,
    /// Serve GET /metrics (Prometheus) and GET /workers (JSON) on HOST:PORT.
    #[arg(long)]
    metrics: Option<String>,
    /// Record one transcript per miner connection in DIR (replayable with `sharecheck
    /// replay --compare`), at most 16 MiB each, the newest 1000 kept.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Worker series kept in the metrics; the rest are summed under `_other` (default 1000).
    #[arg(long)]
    max_worker_series: Option<usize>,
    /// TOML file with any of the settings above (`algo`, `listen`, `upstreams` = [...],
    /// `user`, `password`, `aggregate`, `downstream_difficulty`, `vardiff`,
    /// `upstream_timeout`, `metrics`, `record`, `max_worker_series`).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The settings, as the config file spells them; every one optional.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Settings {
    algo: Option<String>,
    listen: Option<String>,
    #[serde(default)]
    upstreams: Vec<String>,
    user: Option<String>,
    password: Option<String>,
    aggregate: Option<bool>,
    downstream_difficulty: Option<f64>,
    vardiff: Option<f64>,
    upstream_timeout: Option<f64>,
    metrics: Option<String>,
    record: Option<PathBuf>,
    max_worker_series: Option<usize>,
}

impl Settings {
    /// The flags given, over the file's settings.
    fn merge(file: Settings, args: &ProxyArgs) -> Settings {
        Settings {
            algo: args.algo.clone().or(file.algo),
            listen: args.listen.clone().or(file.listen),
            upstreams: if args.upstreams.is_empty() {
                file.upstreams
            } else {
                args.upstreams.clone()
            },
            user: args.user.clone().or(file.user),
            password: args.password.clone().or(file.password),
            aggregate: if args.aggregate { Some(true) } else { file.aggregate },
            // One difficulty setting: a flag replaces the file's, whichever it is.
            downstream_difficulty: match (args.downstream_difficulty, args.vardiff) {
                (None, None) => file.downstream_difficulty,
                (d, _) => d,
            },
            vardiff: match (args.downstream_difficulty, args.vardiff) {
                (None, None) => file.vardiff,
                (_, v) => v,
            },
            upstream_timeout: args.upstream_timeout.or(file.upstream_timeout),
            metrics: args.metrics.clone().or(file.metrics),
            record: args.record.clone().or(file.record),
            max_worker_series: args.max_worker_series.or(file.max_worker_series),
        }
    }

    /// The proxy's configuration and its listen address, or what is missing or wrong.
    fn into_config(self) -> Result<(ProxyConfig, String), Failure> {
        let algo = self
            .algo
            .ok_or_else(|| Failure::usage("--algo (or `algo` in the config) is required"))?;
        let algorithm: Algorithm = algo.parse().map_err(Failure::usage)?;
        let listen = self
            .listen
            .ok_or_else(|| Failure::usage("--listen (or `listen` in the config) is required"))?;
        if self.upstreams.is_empty() {
            return Err(Failure::usage(
                "at least one --upstream (or `upstreams` in the config) is required",
            ));
        }
        let upstreams = self
            .upstreams
            .iter()
            .map(|u| UpstreamUrl::parse(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::usage)?;
        let mut config = ProxyConfig::new(algorithm, upstreams);
        if let Some(timeout) = self.upstream_timeout {
            if !(timeout.is_finite() && timeout > 0.0) {
                return Err(Failure::usage(
                    "upstream timeout must be a positive number of seconds",
                ));
            }
            config.upstream_timeout = Duration::from_secs_f64(timeout.min(3600.0));
        }
        config.user = self.user;
        config.password = self.password;
        config.aggregate = self.aggregate.unwrap_or(false);
        config.downstream_difficulty = match (self.downstream_difficulty, self.vardiff) {
            (None, None) => DownstreamDifficulty::Upstream,
            (Some(_), Some(_)) => {
                return Err(Failure::usage("give downstream_difficulty or vardiff, not both"));
            }
            (Some(d), None) if d.is_finite() && d > 0.0 => DownstreamDifficulty::Fixed(d),
            (None, Some(n)) if n.is_finite() && n > 0.0 => {
                DownstreamDifficulty::Vardiff { shares_per_minute: n }
            }
            _ => return Err(Failure::usage("difficulty and vardiff must be positive numbers")),
        };
        config.max_worker_series = self.max_worker_series.unwrap_or(config.max_worker_series);
        config.record = self.record.map(RecordConfig::new);
        Ok((config, listen))
    }
}

fn read_settings(path: &PathBuf) -> Result<Settings, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        Failure::usage(format!("{}: {first}", path.display()))
    })
}

pub fn run(args: &ProxyArgs) -> Result<i32, Failure> {
    let file = match &args.config {
        Some(path) => read_settings(path)?,
        None => Settings::default(),
    };
    let settings = Settings::merge(file, args);
    let metrics_addr = settings.metrics.clone();
    let (config, listen) = settings.into_config()?;
    let runtime = server_runtime()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {listen}: {e}")))?;
        let metrics = match &metrics_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Failure::usage(format!("cannot serve metrics on {addr}: {e}")))?,
            ),
            None => None,
        };
        tracing::warn!(%listen, "proxy listening");
        serve(listener, metrics, config, shutdown_signal())
            .await
            .map_err(|e| Failure::usage(format!("proxy stopped: {e}")))?;
        Ok(0)
    })
}

/// Logs on stderr (quiet by default: `RUST_LOG` says more) and the runtime, for the
/// commands that run a server (`proxy`, `serve`).
pub fn server_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    tokio::runtime::Runtime::new()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::{DownstreamDifficulty, ProxyArgs, Settings};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProxyArgs,
    }

    const FILE: &str = r#"
        algo = "scrypt"
        listen = "0.0.0.0:3333"
        upstreams = ["stratum+tcp://ltc.pool.example:3333", "stratum+tcp://backup.example:3333"]
        user = "farm"
        upstream_timeout = 5.0
        metrics = "127.0.0.1:9100"
        max_worker_series = 50
    "#;

    #[test]
    fn flags_override_the_file() {
        let file: Settings = toml::from_str(FILE).unwrap();
        let cli = Cli::parse_from(["x", "--user", "site7", "--upstream", "stratum+tcp://other:1"]);
        let merged = Settings::merge(file, &cli.args);
        assert_eq!(merged.user.as_deref(), Some("site7"));
        assert_eq!(merged.upstreams, ["stratum+tcp://other:1"]);
        assert_eq!(merged.algo.as_deref(), Some("scrypt"));
        let (config, listen) = merged.into_config().ok().unwrap();
        assert_eq!(listen, "0.0.0.0:3333");
        assert_eq!(config.upstreams.len(), 1);
        assert_eq!(config.upstream_timeout.as_secs_f64(), 5.0);
        assert_eq!(config.max_worker_series, 50);
        assert_eq!(config.user.as_deref(), Some("site7"));
        assert!(!config.aggregate);
    }

    #[test]
    fn aggregate_and_difficulty_settings() {
        let file: Settings =
            toml::from_str(&format!("{FILE}\naggregate = true\nvardiff = 20.0")).unwrap();
        let cli = Cli::parse_from(["x"]);
        let (config, _) = Settings::merge(file, &cli.args).into_config().ok().unwrap();
        assert!(config.aggregate);
        let vardiff = DownstreamDifficulty::Vardiff { shares_per_minute: 20.0 };
        assert_eq!(config.downstream_difficulty, vardiff);
        // A flag replaces the file's difficulty setting, whichever kind it is.
        let file: Settings =
            toml::from_str(&format!("{FILE}\naggregate = true\nvardiff = 20.0")).unwrap();
        let cli = Cli::parse_from(["x", "--downstream-difficulty", "512"]);
        let (config, _) = Settings::merge(file, &cli.args).into_config().ok().unwrap();
        assert_eq!(config.downstream_difficulty, DownstreamDifficulty::Fixed(512.0));
        // In passthrough mode too; not positive: refused.
        let file: Settings = toml::from_str(FILE).unwrap();
        let cli = Cli::parse_from(["x", "--vardiff", "20"]);
        let (config, _) = Settings::merge(file, &cli.args).into_config().ok().unwrap();
        assert!(!config.aggregate);
        assert_eq!(config.downstream_difficulty, vardiff);
        let file: Settings = toml::from_str(FILE).unwrap();
        let cli = Cli::parse_from(["x", "--aggregate", "--downstream-difficulty=-1"]);
        assert!(Settings::merge(file, &cli.args).into_config().is_err());
    }

    #[test]
    fn unknown_keys_and_missing_settings_are_refused() {
        assert!(toml::from_str::<Settings>("algo = \"scrypt\"\nlisen = \"x\"").is_err());
        let cli = Cli::parse_from(["x", "--algo", "scrypt"]);
        let merged = Settings::merge(Settings::default(), &cli.args);
        let message = merged.into_config().err().unwrap().message;
        assert!(message.contains("--listen"), "{message}");
        let cli = Cli::parse_from(["x", "--algo", "x11", "--listen", "a:1", "--upstream", "b:2"]);
        assert!(Settings::merge(Settings::default(), &cli.args).into_config().is_err());
    }
}
