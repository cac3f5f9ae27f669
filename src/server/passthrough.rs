//! Passthrough mode: each miner connection gets its own upstream connection. Every
//! `mining.submit` is checked by the engine first; a rejected share is answered here with
//! its stratum error and never leaves, a valid one goes upstream and the pool's answer is
//! relayed back (the local verdict if the pool does not answer in time).
//!
//! One task per miner: it reads both sides' lines (bounded length) and owns the
//! connection's `Validator` (the upstream's jobs) and `Session`, so nothing is locked.
//! The pool is connected to only once the miner has said something.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::ProxyConfig;
use super::difficulty::{MinerDifficulty, PoolTargets};
use super::lines::{Line, LineReader};
use super::miner::{
    Drain, End, MAX_AWAITED, MAX_MINER_LINE, MAX_UPSTREAM_LINE, MinerLink, UNAUTHORIZED,
    error_reply, send_line,
};
use super::record::RecordWriter;
use super::stats::{Stats, UpstreamAnswer};
use super::upstream::{any_reachable, connect_first};
use crate::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use crate::stratum::{
    ConfigureResult, Message, Notify, SetExtranonce, SubscribeResult, parse_line,
};
use crate::validate::{Session, Validator, Verdict};

/// After a drain starts, how long submits already on their way are still read and checked.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// A request sent upstream, awaiting its answer.
struct Awaited {
    miner_id: Value,
    sent: Instant,
    kind: Kind,
}

enum Kind {
    Subscribe,
    Configure,
    Authorize {
        worker: String,
    },
    /// `relay`: the pool's answer is the miner's (at the pool's difficulty); otherwise the
    /// miner already has its answer and the pool's is only counted.
    Submit {
        worker: String,
        verdict: Verdict,
        relay: bool,
    },
    Other,
}

/// Serves one miner connection until either side closes, or `shutdown` turns true: then
/// the connection closes once the shares the miner has sent are answered (the pool's
/// answer, or the local verdict after the upstream timeout).
pub async fn serve_miner(
    miner: TcpStream,
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    recording: Option<Arc<RecordWriter>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let peer = miner.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = miner.set_nodelay(true);
    // The proxy's own address as this miner reached it: what `client.reconnect` names.
    let proxy_addr = miner.local_addr().ok();
    let (miner_read, miner_write) = miner.into_split();
    let mut miner_lines = LineReader::new(miner_read, MAX_MINER_LINE);
    // No pool connection for a port scan or a health check: wait for the first line.
    let first = match tokio::time::timeout(config.login_timeout, miner_lines.next()).await {
        Ok(Ok(Some(line))) => line,
        _ => return,
    };
    let (upstream, rank) = match connect_first(&config.upstreams, config.connect_timeout).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "no upstream: miner disconnected");
            return;
        }
    };
    tracing::info!(%peer, upstream = %config.upstreams[rank], "miner connected");
    stats.miner_connection(Some(rank), true);
    let recorder = recording.map(|w| w.recorder(&peer));
    let link = MinerLink::new(miner_write, proxy_addr, recorder);
    let mut relay = Relay::new(config, stats.clone(), rank, link);
    let (upstream_read, mut upstream_write) = upstream.into_split();
    let upstream_lines = LineReader::new(upstream_read, MAX_UPSTREAM_LINE);
    let end =
        relay.run(first, &mut miner_lines, upstream_lines, &mut upstream_write, shutdown).await;
    let Relay { link, worker, .. } = relay;
    link.close(&mut miner_lines).await;
    stats.miner_connection(Some(rank), false);
    if let Some(worker) = &worker {
        stats.worker_connection(worker, false);
    }
    tracing::info!(%peer, %end, "miner disconnected");
}

/// The state of one miner ↔ upstream pair.
struct Relay {
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    /// The worker name the pool accepted in `mining.authorize` (the first one).
    worker: Option<String>,
    validator: Validator,
    session: Session,
    awaited: HashMap<u64, Awaited>,
    next_id: u64,
    /// The pool's place in `--upstream` order (0 = preferred).
    rank: usize,
    /// A running check of whether a preferred pool is reachable again.
    probe: Option<tokio::task::JoinHandle<bool>>,
    next_probe: Instant,
    /// Writing to the miner.
    link: MinerLink,
    /// The miner's own difficulty (the pool's, fixed, or vardiff).
    difficulty: MinerDifficulty,
    /// The pool's difficulty now (1 until it sets one).
    pool_difficulty: f64,
    /// The pool's share target for each job: what a share at the miner's difficulty must
    /// meet to be forwarded.
    pool_targets: PoolTargets,
}

impl Relay {
    fn new(config: Arc<ProxyConfig>, stats: Arc<Stats>, rank: usize, link: MinerLink) -> Relay {
        let validator = Validator::new(config.algorithm, config.validator.clone());
        let difficulty = MinerDifficulty::new(config.downstream_difficulty)
            .with_vardiff_start(config.vardiff_start);
        let pool_targets = PoolTargets::new(config.algorithm);
        let session = validator.new_session();
        let next_probe = Instant::now() + config.failback_interval;
        Relay {
            config,
            stats,
            worker: None,
            validator,
            session,
            awaited: HashMap::new(),
            next_id: 1,
            rank,
            probe: None,
            next_probe,
            link,
            difficulty,
            pool_difficulty: 1.0,
            pool_targets,
        }
    }

    /// Whether the miner subscribed and authorized (both answered by the pool).
    fn logged_in(&self) -> bool {
        self.worker.is_some() && self.session.is_subscribed()
    }

    /// Whether shares sent upstream still wait for their answers.
    fn awaits_submits(&self) -> bool {
        self.awaited.values().any(|a| matches!(a.kind, Kind::Submit { .. }))
    }

    async fn run(
        &mut self,
        first: Line,
        miner_lines: &mut LineReader<OwnedReadHalf>,
        mut upstream_lines: LineReader<OwnedReadHalf>,
        upstream: &mut OwnedWriteHalf,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> End {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let connected = Instant::now();
        let mut last_line = Instant::now();
        // Why and since when the connection is draining.
        let mut draining: Option<(Drain, Instant)> = None;
        let mut step = self.on_miner_line(first, upstream).await;
        loop {
            if let Err(end) = step {
                // The miner keeps its verdicts: shares still awaiting the pool get the
                // local one.
                self.answer_all_awaited().await;
                return end;
            }
            // Submits already sent are still read for a short grace after a drain starts.
            let reading = draining.is_none_or(|(_, since)| since.elapsed() < DRAIN_GRACE);
            step = tokio::select! {
                line = miner_lines.next(), if reading => match line {
                    Ok(None) => Err(End::MinerClosed),
                    Err(e) => Err(End::Io(e)),
                    Ok(Some(line)) => {
                        last_line = Instant::now();
                        self.on_miner_line(line, upstream).await
                    }
                },
                changed = shutdown.changed(), if draining.is_none() => {
                    if changed.is_err() || *shutdown.borrow() {
                        draining = Some((Drain::Shutdown, Instant::now()));
                    }
                    Ok(())
                }
                line = upstream_lines.next() => match line {
                    Ok(None) | Err(_) => Err(End::UpstreamClosed),
                    Ok(Some(Line::Text(text))) => {
                        match self.on_upstream_line(&text).await {
                            Ok(Some(drain)) => {
                                draining = draining.or(Some((drain, Instant::now())));
                                Ok(())
                            }
                            Ok(None) => Ok(()),
                            Err(end) => Err(end),
                        }
                    }
                    Ok(Some(bad)) => {
                        tracing::warn!(?bad, "upstream line skipped");
                        Ok(())
                    }
                },
                _ = tick.tick() => {
                    let limits = self.config.clone();
                    match draining {
                        Some((drain, since))
                            if since.elapsed() >= DRAIN_GRACE && !self.awaits_submits() =>
                        {
                            Err(End::Drained(drain))
                        }
                        Some(_) => self.answer_overdue().await,
                        None if !self.logged_in() && connected.elapsed() >= limits.login_timeout => {
                            Err(End::NoLogin)
                        }
                        None if last_line.elapsed() >= limits.idle_timeout => Err(End::Idle),
                        None if self.preferred_pool_is_back().await => {
                            tracing::info!("preferred pool is back: miner sent to reconnect");
                            draining = Some((Drain::Reconnect, Instant::now()));
                            self.link.send_reconnect().await
                        }
                        None => match self.answer_overdue().await {
                            Ok(()) => self.retarget(None).await,
                            Err(end) => Err(end),
                        },
                    }
                }
            };
        }
    }

    async fn on_miner_line(
        &mut self,
        line: Line,
        upstream: &mut OwnedWriteHalf,
    ) -> Result<(), End> {
        let text = match line {
            Line::Text(text) => {
                self.link.record_received(&text);
                text
            }
            Line::TooLong => {
                let why = format!("line longer than {MAX_MINER_LINE} bytes");
                return self.link.bad_line(&why).await;
            }
            Line::NotUtf8 => return self.link.bad_line("not UTF-8").await,
        };
        let message = match parse_line(&text) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => return self.link.bad_line(&e.to_string()).await,
        };
        match message {
            Message::Call { id, method, params } => match method.as_str() {
                "mining.submit" => self.on_submit(id, params, upstream).await,
                "mining.authorize" => {
                    let worker = params.get(0).and_then(Value::as_str).unwrap_or_default();
                    let kind = Kind::Authorize { worker: worker.to_string() };
                    let params = self.upstream_authorize(&params);
                    self.forward(upstream, id, kind, "mining.authorize", params).await
                }
                "mining.subscribe" => {
                    self.forward(upstream, id, Kind::Subscribe, &method, params).await
                }
                "mining.configure" => {
                    self.forward(upstream, id, Kind::Configure, &method, params).await
                }
                // At a downstream difficulty the suggestion is the proxy's to take (the
                // start for vardiff), not the pool's.
                "mining.suggest_difficulty" if !self.difficulty.is_pools() => {
                    let (pool, now) = (self.pool_difficulty, Instant::now());
                    let restart = params
                        .get(0)
                        .and_then(Value::as_f64)
                        .and_then(|d| self.difficulty.suggest(d, pool, now));
                    if !id.is_null() {
                        let reply = json!({"id": id, "result": true, "error": null});
                        self.link.reply(&id, reply).await?;
                    }
                    match restart {
                        Some(d) if self.session.is_subscribed() => {
                            self.set_miner_difficulty(d).await
                        }
                        _ => Ok(()),
                    }
                }
                _ if id.is_null() => {
                    send(upstream, &json!({"id": null, "method": method, "params": params})).await
                }
                _ => self.forward(upstream, id, Kind::Other, &method, params).await,
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
        upstream: &mut OwnedWriteHalf,
    ) -> Result<(), End> {
        let verdict = self.validator.check_params(&self.session, &params);
        // Counted under the name the pool accepted: a miner cannot make up series.
        let worker = self.worker.clone().unwrap_or_else(|| UNAUTHORIZED.to_string());
        self.stats.share(&worker, &verdict, self.session.difficulty());
        if !verdict.is_valid() {
            let reply = verdict.stratum_reply(&id);
            return self.link.reply(&id, reply).await;
        }
        if let Some(block) = &verdict.block {
            tracing::warn!(
                header = %hex::encode(block.header),
                coinbase = %hex::encode(&block.coinbase),
                "block candidate: forwarded at once"
            );
        }
        let mut params = params;
        if let Some(name) = params.get_mut(0)
            && let Some(text) = name.as_str()
        {
            *name = Value::String(self.upstream_worker(text));
        }
        if self.difficulty.is_pools() {
            let kind = Kind::Submit { worker, verdict, relay: true };
            return self.forward(upstream, id, kind, "mining.submit", params).await;
        }
        // At the miner's own difficulty the proxy answers; the share goes on only if it
        // meets the pool's target for its job (a block always does), and before the miner
        // is written to, so a slow or gone miner never holds it back.
        let reply = verdict.stratum_reply(&id);
        let share_difficulty = verdict.share_difficulty.unwrap_or(0.0);
        let job_id = params.get(1).and_then(Value::as_str).unwrap_or_default();
        let meets_pool =
            verdict.pow_hash.is_some_and(|h| self.pool_targets.for_job(job_id).is_met_by(&h.0));
        let forwarded = if verdict.block.is_some() || meets_pool {
            let kind = Kind::Submit { worker, verdict, relay: false };
            self.forward(upstream, id.clone(), kind, "mining.submit", params).await
        } else {
            Ok(())
        };
        // The miner gets its answer even if the pool connection just failed.
        self.link.reply(&id, reply).await?;
        forwarded?;
        self.retarget(Some((Instant::now(), share_difficulty))).await
    }

    /// Vardiff: a new difficulty for the miner when its share rate calls for one
    /// (`share`: an accepted share just now, with its hash's difficulty; `None`: a look at
    /// a quiet miner).
    async fn retarget(&mut self, share: Option<(Instant, f64)>) -> Result<(), End> {
        let Some(next) = self.difficulty.retarget(share, self.pool_difficulty) else {
            return Ok(());
        };
        self.set_miner_difficulty(next).await
    }

    /// Puts the miner at difficulty `d` (checked from now on) and tells it.
    async fn set_miner_difficulty(&mut self, d: f64) -> Result<(), End> {
        if let Err(e) = self.validator.set_difficulty(&mut self.session, d) {
            tracing::warn!(error = %e, "difficulty refused");
            return Ok(());
        }
        self.link.send(&json!({"id": null, "method": "mining.set_difficulty", "params": [d]})).await
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

    /// Sends a request upstream under a proxy id, remembering what it answers; past
    /// [`MAX_AWAITED`] requests in flight the miner is answered with an error instead (a
    /// submit gets its local verdict).
    async fn forward(
        &mut self,
        upstream: &mut OwnedWriteHalf,
        miner_id: Value,
        kind: Kind,
        method: &str,
        params: Value,
    ) -> Result<(), End> {
        if self.awaited.len() >= MAX_AWAITED {
            let reply = match &kind {
                // Still sent, its answer not awaited (the pool still credits it); the miner
                // gets the local verdict.
                Kind::Submit { relay, verdict, worker } => {
                    self.stats.forwarded(worker);
                    let id = self.next_id;
                    self.next_id += 1;
                    send(upstream, &json!({"id": id, "method": method, "params": params})).await?;
                    if !relay {
                        return Ok(());
                    }
                    verdict.stratum_reply(&miner_id)
                }
                _ => error_reply(&miner_id, 20, "too many requests in flight"),
            };
            return self.link.reply(&miner_id, reply).await;
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Kind::Submit { worker, .. } = &kind {
            self.stats.forwarded(worker);
        }
        if !matches!(kind, Kind::Submit { relay: false, .. }) {
            self.link.owe(&miner_id, id);
        }
        self.awaited.insert(id, Awaited { miner_id, sent: Instant::now(), kind });
        send(upstream, &json!({"id": id, "method": method, "params": params})).await
    }

    /// Handles a line of the pool; `Some` when the connection must drain (the pool asked
    /// the miner to reconnect).
    async fn on_upstream_line(&mut self, text: &str) -> Result<Option<Drain>, End> {
        let message = match parse_line(text) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "upstream sent a line that is not stratum");
                return Ok(None);
            }
        };
        match message {
            Message::Call { method, .. } if method == "client.reconnect" => {
                // Relayed as sent, it would take the miner to the pool directly, past the
                // check: the miner is sent back to the proxy, which connects anew.
                self.link.send_reconnect().await?;
                Ok(Some(Drain::Reconnect))
            }
            Message::Call { method, params, .. } if method == "mining.set_difficulty" => {
                match self.on_pool_difficulty(&params) {
                    Err(e) => {
                        tracing::warn!(%method, error = %e, "upstream message refused");
                        Ok(None)
                    }
                    // At the pool's difficulty: relayed as sent.
                    Ok(_) if self.difficulty.is_pools() => {
                        self.link.send_line(text).await.map(|()| None)
                    }
                    Ok(Some(mine)) => self.set_miner_difficulty(mine).await.map(|()| None),
                    Ok(None) => Ok(None),
                }
            }
            Message::Call { method, params, .. } => {
                if let Err(e) = self.apply_upstream_call(&method, &params) {
                    tracing::warn!(%method, error = %e, "upstream message refused");
                }
                // Relayed as sent: the miner works on exactly the pool's jobs.
                self.link.send_line(text).await.map(|()| None)
            }
            Message::Response { id, result, error } => {
                let Some((up_id, awaited)) =
                    id.as_u64().and_then(|id| self.awaited.remove(&id).map(|a| (id, a)))
                else {
                    return Ok(None); // answered locally already (timeout), or not ours
                };
                let ok = error.is_null() && !result.is_null() && result != Value::Bool(false);
                match awaited.kind {
                    Kind::Subscribe if ok => {
                        match SubscribeResult::from_result(&result) {
                            Ok(s) => {
                                if let Err(e) =
                                    self.session.set_extranonce(s.extranonce1, s.extranonce2_size)
                                {
                                    tracing::warn!(error = %e, "upstream extranonce refused");
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "upstream subscribe result refused")
                            }
                        }
                        // The miner's own difficulty from the start, even if the pool never
                        // sets one (after the subscribe answer, as a pool sends it).
                        if !self.difficulty.is_pools() {
                            let relayed =
                                json!({"id": awaited.miner_id, "result": result, "error": error});
                            self.link.settle(&awaited.miner_id, up_id, relayed).await?;
                            let mine = if self.pool_targets.is_set() {
                                self.difficulty.on_pool(self.pool_difficulty, Instant::now())
                            } else {
                                self.difficulty.start_provisional(Instant::now())
                            };
                            if mine != self.session.difficulty() {
                                self.set_miner_difficulty(mine).await?;
                            }
                            return Ok(None);
                        }
                    }
                    Kind::Configure if ok => {
                        if let Ok(c) = ConfigureResult::from_result(&result) {
                            self.session.set_version_mask(c.version_mask);
                        }
                    }
                    Kind::Authorize { worker } if ok && self.worker.is_none() => {
                        self.stats.worker_connection(&worker, true);
                        self.worker = Some(worker);
                    }
                    Kind::Submit { worker, verdict, relay } => {
                        let accepted = result == Value::Bool(true) && error.is_null();
                        let answer = if accepted {
                            UpstreamAnswer::Accepted
                        } else {
                            UpstreamAnswer::Rejected(&error)
                        };
                        self.stats.upstream_answer(&worker, answer);
                        if !accepted {
                            let ours = verdict.outcome.as_str();
                            tracing::info!(?error, ours, "pool rejected a share");
                        }
                        if !relay {
                            return Ok(None); // the miner has its answer
                        }
                    }
                    _ => {}
                }
                let reply = json!({"id": awaited.miner_id, "result": result, "error": error});
                self.link.settle(&awaited.miner_id, up_id, reply).await.map(|()| None)
            }
        }
    }

    /// Applies what a pool's notification changes for the share check.
    fn apply_upstream_call(&mut self, method: &str, params: &Value) -> Result<(), crate::Error> {
        match method {
            "mining.notify" => {
                let notify = Notify::from_params(params)?;
                let job_id = notify.job_id.clone();
                self.validator.notify(notify)?;
                self.pool_targets.notified(job_id);
                Ok(())
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

    /// The pool's `mining.set_difficulty`: the miner's difficulty under it, `None` if
    /// unchanged. At the pool's difficulty the session takes it here.
    fn on_pool_difficulty(&mut self, params: &Value) -> Result<Option<f64>, crate::Error> {
        let d = set_difficulty_from_params(params)?;
        let target = self.config.algorithm.target_for_difficulty(d)?;
        self.pool_difficulty = d;
        self.pool_targets.set(target);
        let mine = self.difficulty.on_pool(d, Instant::now());
        if self.difficulty.is_pools() {
            self.validator.set_difficulty(&mut self.session, mine)?;
            return Ok(Some(mine));
        }
        Ok((mine != self.session.difficulty()).then_some(mine))
    }

    /// Requests the pool has not answered within the timeout: a submit gets its local
    /// verdict, any other request an error.
    async fn answer_overdue(&mut self) -> Result<(), End> {
        let timeout = self.config.upstream_timeout;
        let overdue: Vec<u64> = self
            .awaited
            .iter()
            .filter(|(_, a)| a.sent.elapsed() >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some(awaited) = self.awaited.remove(&id) {
                tracing::warn!("upstream did not answer in time: answered by the proxy");
                self.answer_locally(id, awaited).await?;
            }
        }
        Ok(())
    }

    async fn answer_locally(&mut self, up_id: u64, awaited: Awaited) -> Result<(), End> {
        let reply = match awaited.kind {
            Kind::Submit { worker, verdict, relay } => {
                self.stats.upstream_answer(&worker, UpstreamAnswer::Unanswered);
                if !relay {
                    return Ok(()); // the miner has its answer
                }
                verdict.stratum_reply(&awaited.miner_id)
            }
            _ => error_reply(&awaited.miner_id, 20, "no answer from the pool"),
        };
        self.link.settle(&awaited.miner_id, up_id, reply).await
    }

    /// On the way out: every request still awaited is answered by the proxy (in the
    /// order of the miner's requests, per id).
    async fn answer_all_awaited(&mut self) {
        let mut awaited: Vec<(u64, Awaited)> = self.awaited.drain().collect();
        awaited.sort_by_key(|(id, _)| *id);
        for (id, a) in awaited {
            if self.answer_locally(id, a).await.is_err() {
                return;
            }
        }
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
}

async fn send(to: &mut OwnedWriteHalf, message: &Value) -> Result<(), End> {
    send_line(to, &message.to_string()).await
}
