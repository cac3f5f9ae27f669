//! `sharecheck serve`: the ASIC test bench. A machine pointed at it gets its hashrate with
//! an exact 95% interval, its hardware-error ratio and a pass/fail.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Failure;
use super::proxy_cmd::{server_runtime, shutdown_signal};
use sharecheck::Algorithm;
use sharecheck::server::DownstreamDifficulty;
use sharecheck::server::estimate::parse_rate;
use sharecheck::server::local_jobs::{BlockTemplate, LocalJobs};
use sharecheck::server::test_bench::{
    BenchConfig, DEFAULT_SHARES_PER_MINUTE, EXTRANONCE_LEN, LiveView, exit_status, run_bench,
};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// PoW algorithm of the machines under test: sha256d or scrypt.
    #[arg(long)]
    algo: String,
    /// Address the machines connect to, HOST:PORT (e.g. 0.0.0.0:3333).
    #[arg(long)]
    listen: String,
    /// Every machine works at this fixed difficulty.
    #[arg(long, conflicts_with = "vardiff")]
    difficulty: Option<f64>,
    /// Each machine's difficulty set for about this many shares a minute (default 20).
    #[arg(long)]
    vardiff: Option<f64>,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Write the report (JSON) to FILE at the end.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The hashrate each machine should have, with an SI prefix: 504M, 95T, 1.5G.
    #[arg(long)]
    expect_hashrate: Option<String>,
    /// Hardware-error ratio over which a machine fails: 0.01 or 1% (default 1%).
    #[arg(long)]
    max_hw_error: Option<String>,
    /// Build the jobs from a getblocktemplate result (JSON) instead of made-up blocks.
    #[arg(long)]
    template: Option<PathBuf>,
    /// Serve GET /metrics (Prometheus) and GET /workers (JSON) on HOST:PORT.
    #[arg(long)]
    metrics: Option<String>,
}

/// A ratio as `0.01` or `1%`.
fn parse_ratio(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (text.trim(), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|r| r * scale)
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("not a ratio between 0 and 1 (or 0% and 100%): {text}"))
}

/// The bench's settings from the arguments (`live`: how to show progress).
fn bench_config(args: &ServeArgs, live: LiveView) -> Result<BenchConfig, Failure> {
    let algorithm: Algorithm = args.algo.parse().map_err(Failure::usage)?;
    let mut config = BenchConfig::new(algorithm);
    let expected = match &args.expect_hashrate {
        Some(rate) => {
            Some(parse_rate(rate).map_err(|e| Failure::usage(format!("--expect-hashrate: {e}")))?)
        }
        None => None,
    };
    config.expected_hashrate = expected;
    let shares_per_minute = match (args.difficulty, args.vardiff) {
        (Some(d), _) if d.is_finite() && d > 0.0 => {
            config.difficulty = DownstreamDifficulty::Fixed(d);
            None
        }
        (None, Some(n)) if n.is_finite() && n > 0.0 => Some(n),
        (None, None) => Some(DEFAULT_SHARES_PER_MINUTE),
        _ => return Err(Failure::usage("--difficulty and --vardiff must be positive numbers")),
    };
    if let Some(n) = shares_per_minute {
        config.difficulty = DownstreamDifficulty::Vardiff { shares_per_minute: n };
        config.vardiff_start = BenchConfig::vardiff_start_for(algorithm, expected, n);
    }
    if let Some(s) = args.duration {
        if !(s.is_finite() && s > 0.0) {
            return Err(Failure::usage("--duration must be a positive number of seconds"));
        }
        config.duration = Some(Duration::from_secs_f64(s.min(30.0 * 86_400.0)));
    }
    if let Some(ratio) = &args.max_hw_error {
        config.max_hw_error =
            parse_ratio(ratio).map_err(|e| Failure::usage(format!("--max-hw-error: {e}")))?;
    }
    if let Some(path) = &args.template {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        let template = BlockTemplate::from_json(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        config.jobs = LocalJobs::from_template(algorithm, &template, EXTRANONCE_LEN)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    }
    config.live = live;
    config.refresh = match live {
        LiveView::Table => Duration::from_secs(1),
        _ => Duration::from_secs(10),
    };
    Ok(config)
}

/// Exit status when the bench itself fails while running (not a verdict, not usage).
const EXIT_RUNTIME: i32 = 4;

pub fn run(args: &ServeArgs) -> Result<i32, Failure> {
    let live = if std::io::stdout().is_terminal() { LiveView::Table } else { LiveView::Lines };
    let config = bench_config(args, live)?;
    // Checked now, without emptying a report already there: a report that cannot be
    // written is found before the run, not after it.
    if let Some(path) = &args.report {
        std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(|e| {
            Failure::usage(format!("cannot write the report to {}: {e}", path.display()))
        })?;
    }
    let runtime = server_runtime()?;
    let report = runtime.block_on(async {
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
        tracing::info!(listen = %args.listen, "bench listening");
        run_bench(listener, metrics, config, shutdown_signal())
            .await
            .map_err(|e| Failure { message: format!("bench stopped: {e}"), status: EXIT_RUNTIME })
    })?;
    if let Some(path) = &args.report {
        let mut json = serde_json::to_string_pretty(&report).unwrap_or_default();
        json.push('\n');
        if let Err(e) = std::fs::write(path, &json) {
            // The run is not lost: the report goes to stdout instead.
            print!("{json}");
            return Err(Failure {
                message: format!("cannot write the report to {}: {e}", path.display()),
                status: EXIT_RUNTIME,
            });
        }
    }
    Ok(exit_status(&report))
}

#[cfg(test)]
mod tests {
    use super::{LiveView, ServeArgs, bench_config, parse_ratio};
    use clap::Parser;
    use sharecheck::server::DownstreamDifficulty;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn config(args: &[&str]) -> Result<sharecheck::server::test_bench::BenchConfig, String> {
        let cli = Cli::try_parse_from([&["x", "--listen", "127.0.0.1:0"], args].concat())
            .map_err(|e| e.to_string())?;
        bench_config(&cli.args, LiveView::Off).map_err(|f| f.message)
    }

    #[test]
    fn ratios_and_rates_as_operators_write_them() {
        assert_eq!(parse_ratio("1%"), Ok(0.01));
        assert_eq!(parse_ratio("0.05"), Ok(0.05));
        assert!(parse_ratio("150%").is_err() && parse_ratio("x").is_err());
        let c = config(&["--algo", "scrypt", "--expect-hashrate", "504M"]).unwrap();
        assert_eq!(c.expected_hashrate, Some(504e6));
        // Vardiff by default, started where a 504 MH/s machine sends 20 shares a minute:
        // 504e6 · 3 s / (2^32 / 65535) hashes per difficulty-1 share.
        assert_eq!(c.difficulty, DownstreamDifficulty::Vardiff { shares_per_minute: 20.0 });
        assert_eq!(c.vardiff_start, (504e6 * 3.0 * 65535.0 / 4_294_967_296.0f64).floor());
    }

    #[test]
    fn settings_that_cannot_be_run_are_refused() {
        assert!(config(&["--algo", "x11"]).is_err());
        assert!(config(&["--algo", "scrypt", "--difficulty", "0"]).is_err());
        assert!(config(&["--algo", "scrypt", "--difficulty", "8", "--vardiff", "20"]).is_err());
        assert!(config(&["--algo", "scrypt", "--expect-hashrate", "fast"]).is_err());
        assert!(config(&["--algo", "scrypt", "--duration", "-1"]).is_err());
        assert!(config(&["--algo", "scrypt", "--template", "/nonexistent.json"]).is_err());
        let c = config(&["--algo", "sha256d", "--difficulty", "1024", "--max-hw-error", "2%"]);
        let c = c.unwrap();
        assert_eq!(c.difficulty, DownstreamDifficulty::Fixed(1024.0));
        assert_eq!(c.max_hw_error, 0.02);
    }
}
