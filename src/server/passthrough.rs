//! Passthrough mode: each miner connection gets its own upstream connection. Every
//! `mining.submit` is checked by the engine first; a rejected share is answered here with
//! its stratum error and never leaves, a valid one goes upstream and the pool's answer is
//! relayed back (the local verdict if the pool does not answer in time).
//!
//! One task per miner: it reads both sides' lines (bounded length) and owns the
//! connection's `Validator` (the upstream's jobs) and `Session`, so nothing is locked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use super::ProxyConfig;
use super::lines::{Line, LineReader};
use super::stats::Stats;
use super::upstream::{any_reachable, connect_first};
use crate::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use crate::stratum::{
    ConfigureResult, Message, Notify, SetExtranonce, SubscribeResult, parse_line,
};
use crate::validate::{Validator, Verdict};

/// Longest line a miner may send (bytes): a real one is a few hundred.
pub const MAX_MINER_LINE: usize = 16 * 1024;
/// Longest line an upstream may send: a notify with a large coinbase and branch.
pub const MAX_UPSTREAM_LINE: usize = 1024 * 1024;
/// Bad lines a miner may send before it is disconnected.
pub const MAX_BAD_LINES: u32 = 10;

/// What an upstream answer is awaited for.
enum Awaited {
    Subscribe { miner_id: Value },
    Configure { miner_id: Value },
    Submit { miner_id: Value, worker: String, verdict: Verdict, sent: Instant },
    Other { miner_id: Value },
}

/// Why a connection ended (for the log).
#[derive(Debug)]
enum End {
    MinerClosed,
    UpstreamClosed,
    Abuse,
    NoLogin,
    Idle,
    Shutdown,
    FailBack,
    Io(std::io::Error),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::MinerClosed => f.write_str("miner closed the connection"),
            End::UpstreamClosed => f.write_str("upstream closed the connection"),
            End::Abuse => write!(f, "more than {MAX_BAD_LINES} bad lines"),
            End::NoLogin => f.write_str("no subscribe and authorize in time"),
            End::Idle => f.write_str("idle for too long"),
            End::Shutdown => f.write_str("the proxy is shutting down"),
            End::FailBack => f.write_str("sent to a preferred pool that is back"),
            End::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl From<std::io::Error> for End {
    fn from(e: std::io::Error) -> End {
        End::Io(e)
    }
}

/// Serves one miner connection until either side closes, or `shutdown` turns true: then
/// no new line is read from the miner, and the connection closes once the shares it sent
/// have their answers (the pool's, or the local verdict after the upstream timeout).
pub async fn serve_miner(
    miner: TcpStream,
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let peer = miner.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = miner.set_nodelay(true);
    let (upstream, rank) = match connect_first(&config.upstreams, config.connect_timeout).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "no upstream: miner disconnected");
            return;
        }
    };
    tracing::info!(%peer, upstream = %config.upstreams[rank], "miner connected");
    stats.miner_connection(rank, true);
    let mut relay = Relay::new(config, stats.clone(), rank);
    let end = relay.run(miner, upstream, shutdown).await;
    stats.miner_connection(rank, false);
    if let Some(worker) = &relay.worker {
        stats.worker_connection(worker, false);
    }
    tracing::info!(%peer, %end, "miner disconnected");
}

/// The state of one miner ↔ upstream pair.
struct Relay {
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    /// The worker name the miner authorized with (the first one).
    worker: Option<String>,
    validator: Validator,
    session: crate::validate::Session,
    awaited: HashMap<u64, Awaited>,
    next_id: u64,
    bad_lines: u32,
    authorized: bool,
    /// The pool's place in `--upstream` order (0 = preferred).
    rank: usize,
    /// A running check of whether a preferred pool is reachable again.
    probe: Option<tokio::task::JoinHandle<bool>>,
    next_probe: Instant,
}

/// Why a connection stops reading from its miner and closes once its shares are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drain {
    Shutdown,
    FailBack,
}

impl Relay {
    /// Whether the miner subscribed (the pool answered) and authorized.
    fn logged_in(&self) -> bool {
        self.authorized && self.session.is_subscribed()
    }

    /// Whether a pool ranked before this connection's is reachable again (checked every
    /// `failback_interval`, in the background).
    async fn preferred_pool_is_back(&mut self) -> bool {
        if self.rank == 0 {
            return false;
        }
        if let Some(probe) = self.probe.take_if(|p| p.is_finished()) {
            // A finished task's result is ready: this does not wait.
            if probe.await.unwrap_or(false) {
                return true;
            }
        }
        if self.probe.is_none() && Instant::now() >= self.next_probe {
            self.next_probe = Instant::now() + self.config.failback_interval;
            let preferred = self.config.upstreams[..self.rank].to_vec();
            let timeout = self.config.connect_timeout;
            self.probe =
                Some(tokio::spawn(async move { any_reachable(&preferred, timeout).await }));
        }
        false
    }

    /// Tells the miner to connect again (to this proxy, which then picks the preferred
    /// pool). cgminer and bmminer take the host and the port as strings, and only a host
    /// in the domain they reached: the proxy's own address as the miner reached it.
    async fn send_reconnect(
        &mut self,
        miner: &mut OwnedWriteHalf,
        proxy_addr: Option<std::net::SocketAddr>,
    ) -> Result<(), End> {
        let Some(addr) = proxy_addr else { return Ok(()) };
        let host = addr.ip().to_string();
        let reconnect = json!({"id": null, "method": "client.reconnect", "params": [host, addr.port().to_string(), 0]});
        tracing::info!(%addr, "preferred pool is back: miner sent to reconnect");
        send(miner, &reconnect).await
    }

    /// Whether shares sent upstream still wait for their answers.
    fn awaits_submits(&self) -> bool {
        self.awaited.values().any(|a| matches!(a, Awaited::Submit { .. }))
    }

    fn new(config: Arc<ProxyConfig>, stats: Arc<Stats>, rank: usize) -> Relay {
        let next_probe = Instant::now() + config.failback_interval;
        let validator = Validator::new(config.algorithm, config.validator.clone());
        let session = validator.new_session();
        Relay {
            config,
            stats,
            worker: None,
            validator,
            session,
            awaited: HashMap::new(),
            next_id: 1,
            bad_lines: 0,
            authorized: false,
            rank,
            probe: None,
            next_probe,
        }
    }

    async fn run(
        &mut self,
        miner: TcpStream,
        upstream: TcpStream,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> End {
        // The proxy's own address as this miner reached it: what `client.reconnect` names.
        let proxy_addr = miner.local_addr().ok();
        let (miner_read, mut miner_write) = miner.into_split();
        let (upstream_read, mut upstream_write) = upstream.into_split();
        let mut miner_lines = LineReader::new(miner_read, MAX_MINER_LINE);
        let mut upstream_lines = LineReader::new(upstream_read, MAX_UPSTREAM_LINE);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let connected = Instant::now();
        let mut last_line = Instant::now();
        let mut draining: Option<Drain> = None;
        loop {
            let step = tokio::select! {
                line = miner_lines.next(), if draining.is_none() => match line {
                    Ok(None) => Err(End::MinerClosed),
                    Err(e) => Err(End::Io(e)),
                    Ok(Some(line)) => {
                        last_line = Instant::now();
                        self.on_miner_line(line, &mut miner_write, &mut upstream_write).await
                    }
                },
                changed = shutdown.changed(), if draining.is_none() => {
                    if changed.is_err() || *shutdown.borrow() {
                        draining = Some(Drain::Shutdown);
                    }
                    Ok(())
                }
                line = upstream_lines.next() => match line {
                    Ok(None) | Err(_) => Err(End::UpstreamClosed),
                    Ok(Some(Line::Text(text))) => self.on_upstream_line(&text, &mut miner_write).await,
                    Ok(Some(bad)) => {
                        tracing::warn!(?bad, "upstream line skipped");
                        Ok(())
                    }
                },
                _ = tick.tick() => {
                    let limits = self.config.clone();
                    if let Some(drain) = draining.filter(|_| !self.awaits_submits()) {
                        Err(match drain {
                            Drain::Shutdown => End::Shutdown,
                            Drain::FailBack => End::FailBack,
                        })
                    } else if draining.is_none() && self.preferred_pool_is_back().await {
                        draining = Some(Drain::FailBack);
                        self.send_reconnect(&mut miner_write, proxy_addr).await
                    } else if draining.is_none() && !self.logged_in() && connected.elapsed() >= limits.login_timeout {
                        Err(End::NoLogin)
                    } else if draining.is_none() && last_line.elapsed() >= limits.idle_timeout {
                        Err(End::Idle)
                    } else {
                        self.answer_overdue(&mut miner_write).await
                    }
                }
            };
            if let Err(end) = step {
                // The miner keeps its verdicts: shares still awaiting the pool get the
                // local one.
                self.answer_all_awaited(&mut miner_write).await;
                return end;
            }
        }
    }

    async fn on_miner_line(
        &mut self,
        line: Line,
        miner: &mut OwnedWriteHalf,
        upstream: &mut OwnedWriteHalf,
    ) -> Result<(), End> {
        let text = match line {
            Line::Text(text) => text,
            Line::TooLong => {
                let why = format!("line longer than {MAX_MINER_LINE} bytes");
                return self.bad_line(miner, &Value::Null, &why).await;
            }
            Line::NotUtf8 => return self.bad_line(miner, &Value::Null, "not UTF-8").await,
        };
        let message = match parse_line(&text) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => return self.bad_line(miner, &Value::Null, &e.to_string()).await,
        };
        match message {
            Message::Call { id, method, params } => match method.as_str() {
                "mining.submit" => self.on_submit(id, params, miner, upstream).await,
                "mining.authorize" => {
                    // Counted as logged in once asked: the pool's answer is relayed as it is.
                    self.authorized = true;
                    if self.worker.is_none() {
                        let name = params.get(0).and_then(Value::as_str).unwrap_or_default();
                        self.stats.worker_connection(name, true);
                        self.worker = Some(name.to_string());
                    }
                    let params = self.upstream_authorize(&params);
                    self.forward(
                        upstream,
                        Awaited::Other { miner_id: id },
                        "mining.authorize",
                        params,
                    )
                    .await
                }
                "mining.subscribe" => {
                    self.forward(upstream, Awaited::Subscribe { miner_id: id }, &method, params)
                        .await
                }
                "mining.configure" => {
                    self.forward(upstream, Awaited::Configure { miner_id: id }, &method, params)
                        .await
                }
                _ if id.is_null() => {
                    send(upstream, &json!({"id": null, "method": method, "params": params})).await
                }
                _ => self.forward(upstream, Awaited::Other { miner_id: id }, &method, params).await,
            },
            // The miner answers a request of the pool (`client.get_version`, …).
            Message::Response { id, result, error } => {
                send(upstream, &json!({"id": id, "result": result, "error": error})).await
            }
        }
    }

    async fn on_submit(
        &mut self,
        id: Value,
        params: Value,
        miner: &mut OwnedWriteHalf,
        upstream: &mut OwnedWriteHalf,
    ) -> Result<(), End> {
        let verdict = self.validator.check_params(&self.session, &params);
        let worker = params
            .get(0)
            .and_then(Value::as_str)
            .or(self.worker.as_deref())
            .unwrap_or_default()
            .to_string();
        self.stats.share(&worker, &verdict, self.session.difficulty());
        if !verdict.is_valid() {
            return send(miner, &verdict.stratum_reply(&id)).await;
        }
        if let Some(block) = &verdict.block {
            tracing::warn!(
                header = %hex::encode(block.header),
                coinbase = %hex::encode(&block.coinbase),
                "block candidate: forwarded at once"
            );
        }
        let mut params = params;
        if let Some(worker) = params.get_mut(0)
            && let Some(name) = worker.as_str()
        {
            *worker = Value::String(self.upstream_worker(name));
        }
        self.stats.forwarded(&worker);
        let awaited = Awaited::Submit { miner_id: id, worker, verdict, sent: Instant::now() };
        self.forward(upstream, awaited, "mining.submit", params).await
    }

    /// The worker name the pool sees: the miner's own, or `--user` then `.` and the
    /// miner's when a user is configured.
    fn upstream_worker(&self, miner_worker: &str) -> String {
        match &self.config.user {
            Some(user) => format!("{user}.{miner_worker}"),
            None => miner_worker.to_string(),
        }
    }

    fn upstream_authorize(&self, params: &Value) -> Value {
        let worker = params.get(0).and_then(Value::as_str).unwrap_or_default();
        let password = match &self.config.password {
            Some(p) => Value::String(p.clone()),
            None => params.get(1).cloned().unwrap_or(Value::String("x".into())),
        };
        json!([self.upstream_worker(worker), password])
    }

    async fn forward(
        &mut self,
        upstream: &mut OwnedWriteHalf,
        awaited: Awaited,
        method: &str,
        params: Value,
    ) -> Result<(), End> {
        let id = self.next_id;
        self.next_id += 1;
        self.awaited.insert(id, awaited);
        send(upstream, &json!({"id": id, "method": method, "params": params})).await
    }

    async fn bad_line(
        &mut self,
        miner: &mut OwnedWriteHalf,
        id: &Value,
        why: &str,
    ) -> Result<(), End> {
        self.bad_lines += 1;
        let reply =
            json!({"id": id, "result": null, "error": [20, format!("malformed: {why}"), null]});
        send(miner, &reply).await?;
        if self.bad_lines > MAX_BAD_LINES {
            return Err(End::Abuse);
        }
        Ok(())
    }

    async fn on_upstream_line(
        &mut self,
        text: &str,
        miner: &mut OwnedWriteHalf,
    ) -> Result<(), End> {
        let message = match parse_line(text) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "upstream sent a line that is not stratum");
                return Ok(());
            }
        };
        match message {
            Message::Call { method, params, .. } => {
                if let Err(e) = self.apply_upstream_call(&method, &params) {
                    tracing::warn!(%method, error = %e, "upstream message refused");
                }
                // Relayed as sent: the miner works on exactly the pool's jobs.
                send_line(miner, text).await
            }
            Message::Response { id, result, error } => {
                let Some(awaited) = id.as_u64().and_then(|id| self.awaited.remove(&id)) else {
                    return Ok(()); // answered locally already (timeout), or not ours
                };
                let miner_id = match awaited {
                    Awaited::Subscribe { miner_id } => {
                        if error.is_null()
                            && let Ok(s) = SubscribeResult::from_result(&result)
                            && let Err(e) =
                                self.session.set_extranonce(s.extranonce1, s.extranonce2_size)
                        {
                            tracing::warn!(error = %e, "upstream extranonce refused");
                        }
                        miner_id
                    }
                    Awaited::Configure { miner_id } => {
                        if error.is_null()
                            && let Ok(c) = ConfigureResult::from_result(&result)
                        {
                            self.session.set_version_mask(c.version_mask);
                        }
                        miner_id
                    }
                    Awaited::Submit { miner_id, worker, verdict, .. } => {
                        let accepted = result == Value::Bool(true) && error.is_null();
                        self.stats.upstream_answer(&worker, Some(accepted));
                        if !accepted {
                            tracing::info!(
                                ?error,
                                ours = verdict.outcome.as_str(),
                                "pool rejected a share"
                            );
                        }
                        miner_id
                    }
                    Awaited::Other { miner_id } => miner_id,
                };
                send(miner, &json!({"id": miner_id, "result": result, "error": error})).await
            }
        }
    }

    /// Applies what a pool's notification changes for the share check.
    fn apply_upstream_call(&mut self, method: &str, params: &Value) -> Result<(), crate::Error> {
        match method {
            "mining.notify" => self.validator.notify(Notify::from_params(params)?),
            "mining.set_difficulty" => {
                let d = set_difficulty_from_params(params)?;
                self.validator.set_difficulty(&mut self.session, d)
            }
            "mining.set_extranonce" => {
                let s = SetExtranonce::from_params(params)?;
                self.session.set_extranonce(s.extranonce1, s.extranonce2_size)
            }
            "mining.set_version_mask" => {
                self.session.set_version_mask(Some(set_version_mask_from_params(params)?));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Submits the pool has not answered within the timeout get the local verdict.
    async fn answer_overdue(&mut self, miner: &mut OwnedWriteHalf) -> Result<(), End> {
        let timeout = self.config.upstream_timeout;
        let overdue: Vec<u64> = self
            .awaited
            .iter()
            .filter(|(_, a)| matches!(a, Awaited::Submit { sent, .. } if sent.elapsed() >= timeout))
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some(Awaited::Submit { miner_id, worker, verdict, .. }) =
                self.awaited.remove(&id)
            {
                self.stats.upstream_answer(&worker, None);
                tracing::warn!("upstream did not answer a share in time: local verdict sent");
                send(miner, &verdict.stratum_reply(&miner_id)).await?;
            }
        }
        Ok(())
    }

    /// On the way out: every submit still awaited gets its local verdict.
    async fn answer_all_awaited(&mut self, miner: &mut OwnedWriteHalf) {
        for (_, awaited) in self.awaited.drain() {
            if let Awaited::Submit { miner_id, worker, verdict, .. } = awaited {
                self.stats.upstream_answer(&worker, None);
                let _ = send(miner, &verdict.stratum_reply(&miner_id)).await;
            }
        }
    }
}

async fn send(to: &mut OwnedWriteHalf, message: &Value) -> Result<(), End> {
    send_line(to, &message.to_string()).await
}

async fn send_line(to: &mut OwnedWriteHalf, line: &str) -> Result<(), End> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    to.write_all(&bytes).await?;
    Ok(())
}
