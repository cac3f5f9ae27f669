//! Aggregated mode (`--aggregate`): every miner shares one upstream connection.
//!
//! The pool's extranonce space is split: miner `i` gets `extranonce1' = upstream
//! extranonce1 ‖ index_i` (2 bytes when the pool's extranonce2 has 4 or more, 1 byte when
//! it has 3, refused below: the miner keeps at least 2) and `extranonce2_size' = upstream
//! size − index bytes`; a forwarded share carries `extranonce2 = index_i ‖ miner
//! extranonce2`. The bytes hashed are the same on both sides, so the local verdict is the
//! pool's, and two miners can never do the same work.
//!
//! One task owns the upstream connection (the hub): it registers the pool's jobs in the
//! one shared `Validator`, relays them to the miners (a broadcast channel), forwards the
//! shares they send it and routes the pool's answers back. One task per miner owns its
//! `Session` and hands its shares to the checking thread (`checker.rs`: batches under
//! load); it answers everything but `mining.authorize` and `mining.submit` itself.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{broadcast, mpsc, watch};

use super::ProxyConfig;
use super::checker::Checker;
use super::difficulty::{MinerDifficulty, PoolTargets};
use super::lines::{Line, LineReader};
use super::miner::{
    Drain, End, MAX_AWAITED, MAX_MINER_LINE, MAX_UPSTREAM_LINE, MinerLink, UNAUTHORIZED,
    error_reply, send_line, write_all,
};
use super::record::RecordWriter;
use super::stats::{Stats, UpstreamAnswer};
use crate::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use crate::stratum::{
    ConfigureResult, Message, Notify, SetExtranonce, Submit, SubscribeResult, parse_line,
};
use crate::validate::{Reason, Session, Validator, ValidatorConfig, Verdict};

/// Jobs relayed to a miner that has not read them yet, at most; a miner further behind
/// is sent the newest job again.
const EVENTS_QUEUED: usize = 64;
/// Requests of all miners on their way to the hub, at most (then miners wait).
const HUB_QUEUE: usize = 16_384;
/// After a drain starts, how long submits already on their way are still read.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// The longest wait between two connection attempts when every pool is down.
const MAX_BACKOFF: Duration = Duration::from_secs(16);
/// How long a pool switch waits for the answers to shares sent to the old pool.
const SWITCH_GRACE: Duration = Duration::from_secs(2);
/// Requests written to the pool in one write, at most.
const FLUSH_EVERY: usize = 256;
/// Upstream request ids below this are the handshake's.
const FIRST_REQUEST_ID: u64 = 100;
/// Lines of one miner taken in one go, at most: those it sent together (already read),
/// their shares checked in one round and their answers written together.
const LINES_AT_ONCE: usize = 32;
/// Answers already waiting that are written with a step's own, at most.
const ANSWERS_AT_ONCE: usize = 256;

/// What the hub tells every miner, in the order it happened.
#[derive(Clone, Debug)]
pub(super) enum HubEvent {
    /// The pool's `mining.notify` line (already registered in the validator).
    Notify { generation: u64, line: Arc<str> },
    /// The pool's difficulty, for the jobs from `first_seq` on.
    Difficulty { generation: u64, difficulty: f64, first_seq: u64 },
}

/// The pool connection the miners work for.
#[derive(Clone)]
pub(super) struct PoolView {
    /// Counts connections: a new one is a new extranonce and new jobs.
    pub(super) generation: u64,
    pub(super) rank: usize,
    pub(super) validator: Arc<Validator>,
    pub(super) extranonce1: Vec<u8>,
    /// The pool's extranonce2 size.
    pub(super) extranonce2_size: usize,
    /// Bytes of extranonce2 the proxy takes for the miner's index.
    pub(super) index_bytes: usize,
    /// The pool's version-rolling mask (`None`: no rolling).
    pub(super) version_mask: Option<u32>,
}

impl PoolView {
    /// Indices this pool's extranonce space has room for.
    fn index_limit(&self) -> usize {
        1 << (8 * self.index_bytes)
    }

    /// The index whose miner extranonce1 is `hex` (a subscription id), if any.
    fn index_of(&self, hex: &str) -> Option<usize> {
        let bytes = hex::decode(hex).ok()?;
        let index = bytes.strip_prefix(self.extranonce1.as_slice())?;
        if index.len() != self.index_bytes {
            return None;
        }
        Some(index.iter().fold(0, |n, b| (n << 8) | usize::from(*b)))
    }

    /// The miner's extranonce1 for `index`.
    fn miner_extranonce1(&self, index: usize) -> Vec<u8> {
        let mut en1 = self.extranonce1.clone();
        en1.extend_from_slice(&index.to_be_bytes()[8 - self.index_bytes..]);
        en1
    }
}

/// The newest job and difficulty, for a miner that subscribes (or falls behind).
#[derive(Default)]
pub(super) struct Latest {
    pub(super) generation: u64,
    pub(super) notify: Option<Arc<str>>,
    /// The pool's difficulty and the first job it applies to.
    pub(super) difficulty: Option<(f64, u64)>,
}

/// Miner indices: fresh ones first, then the longest free, so an index is reused as late
/// as possible.
#[derive(Default)]
struct Indices {
    next_fresh: usize,
    free: VecDeque<usize>,
}

impl Indices {
    fn take(&mut self, limit: usize) -> Option<usize> {
        if self.next_fresh < limit {
            self.next_fresh += 1;
            return Some(self.next_fresh - 1);
        }
        let at = self.free.iter().position(|&i| i < limit)?;
        self.free.remove(at)
    }

    /// `index` again, if it is free (a miner resuming its session).
    fn take_again(&mut self, index: usize) -> Option<usize> {
        let at = self.free.iter().position(|&i| i == index)?;
        self.free.remove(at)
    }

    fn give_back(&mut self, index: usize) {
        self.free.push_back(index);
    }
}

/// A request of a miner to the hub.
pub(super) enum HubRequest {
    Authorize {
        name: String,
        password: Value,
        reply: Reply,
    },
    /// A valid share; `forward`: whatever its hash (at the pool's difficulty, or a block),
    /// else only if `pow_hash` meets the pool's target for the job.
    Submit {
        generation: u64,
        job_id: String,
        forward: bool,
        pow_hash: [u8; 32],
        worker: String,
        params: Value,
        reply: Reply,
    },
}

/// Where the hub answers a request: the miner's channel and the request's token.
pub(super) struct Reply {
    to: mpsc::Sender<HubAnswer>,
    token: u64,
}

impl Reply {
    /// A miner that cannot take it has stopped reading: it answers locally on its timer.
    pub(super) fn send(self, answer: Answer) {
        let _ = self.to.try_send(HubAnswer { token: self.token, answer });
    }
}

struct HubAnswer {
    token: u64,
    answer: Answer,
}

pub(super) enum Answer {
    /// The pool's answer.
    Pool { result: Value, error: Value },
    /// Not forwarded: the share is under the pool's target (downstream difficulty).
    NotForwarded,
    /// Not forwarded: no pool connection, or the share is for another pool's jobs.
    NoPool,
    /// Forwarded, but the pool connection ended before it answered.
    Lost,
}

/// What every miner task holds of the hub.
#[derive(Clone)]
pub(crate) struct Hub {
    requests: mpsc::Sender<HubRequest>,
    pool: watch::Receiver<Option<PoolView>>,
    events: broadcast::Sender<HubEvent>,
    latest: Arc<Mutex<Latest>>,
    indices: Arc<Mutex<Indices>>,
    /// Where miners' shares are checked (in batches under load).
    checker: Checker,
}

/// The one validator every miner of a hub checks against: room for the farm's shares from
/// the start (the per-connection defaults of `ProxyConfig` are for passthrough).
pub(super) fn shared_validator(config: &ProxyConfig) -> Arc<Validator> {
    let validator_config = ValidatorConfig {
        reserve_shares_per_job: ValidatorConfig::default().reserve_shares_per_job,
        retired_jobs_kept: ValidatorConfig::default().retired_jobs_kept,
        ..config.validator.clone()
    };
    Arc::new(Validator::new(config.algorithm, validator_config))
}

/// The hub's ends of the channels every miner task holds.
pub(super) struct HubEnds {
    pub(super) requests: mpsc::Receiver<HubRequest>,
    pub(super) pool: watch::Sender<Option<PoolView>>,
    pub(super) events: broadcast::Sender<HubEvent>,
    pub(super) latest: Arc<Mutex<Latest>>,
}

impl Hub {
    /// A hub handle for miners of `algorithm`, and the ends its task serves them from.
    pub(super) fn new(
        algorithm: crate::chain::Algorithm,
        stats: Arc<Stats>,
    ) -> std::io::Result<(Hub, HubEnds)> {
        let (requests, requests_rx) = mpsc::channel(HUB_QUEUE);
        let (pool_tx, pool) = watch::channel(None);
        let (events, _) = broadcast::channel(EVENTS_QUEUED);
        let hub = Hub {
            requests,
            pool,
            events: events.clone(),
            latest: Arc::default(),
            indices: Arc::default(),
            checker: Checker::start(algorithm, stats)?,
        };
        let ends =
            HubEnds { requests: requests_rx, pool: pool_tx, events, latest: hub.latest.clone() };
        Ok((hub, ends))
    }
}

/// Starts the hub: the task owning the upstream connection. It ends once every [`Hub`]
/// handle is dropped.
pub(crate) fn start_hub(
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
) -> std::io::Result<(Hub, tokio::task::JoinHandle<()>)> {
    let (hub, ends) = Hub::new(config.algorithm, stats.clone())?;
    let task = HubTask {
        config,
        stats,
        requests: ends.requests,
        pool: ends.pool,
        events: ends.events,
        latest: ends.latest,
        generation: 0,
        known_workers: Vec::new(),
    };
    Ok((hub, tokio::spawn(task.run())))
}

/// The hub's state across pool connections.
struct HubTask {
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    requests: mpsc::Receiver<HubRequest>,
    pool: watch::Sender<Option<PoolView>>,
    events: broadcast::Sender<HubEvent>,
    latest: Arc<Mutex<Latest>>,
    generation: u64,
    /// Upstream names the pool accepted (and their passwords): authorized again on the
    /// next pool, so the miners that stay connected keep submitting.
    known_workers: Vec<(String, Value)>,
}

/// One pool connection after its handshake.
struct Connected {
    lines: LineReader<tokio::net::tcp::OwnedReadHalf>,
    write: OwnedWriteHalf,
    view: PoolView,
    /// Lines the pool sent during the handshake (its first difficulty and jobs).
    early: Vec<String>,
    /// Whether a job came in during the handshake.
    has_job: bool,
}

/// A request the hub sent upstream.
enum Sent {
    Authorize { name: String, password: Value, sent: Instant },
    Submit { worker: String, reply: Reply, sent: Instant },
}

/// Why a pool connection ended.
enum Left {
    /// Every miner is gone and the proxy stops.
    Stopped,
    /// The pool closed or failed; try again from the first.
    Lost,
    /// The pool asked to reconnect, or gave a new extranonce.
    Switch,
    /// A preferred pool is back: this connection to it has completed its handshake.
    SwitchTo(Box<Connected>),
}

impl HubTask {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(250);
        let config = self.config.clone();
        let mut ready: Option<Connected> = None;
        loop {
            let connected = match ready.take() {
                Some(connected) => Some(connected),
                None => tokio::select! {
                    c = connect_any(&config, config.upstreams.len()) => c,
                    stopped = self.refuse_while_down() => { if stopped { return; } continue; }
                },
            };
            let Some(connected) = connected else {
                tracing::warn!(?backoff, "no pool reachable: trying again");
                if self.wait_while_down(backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            };
            let rank = connected.view.rank;
            self.stats.pool_connection(rank, true);
            let since = Instant::now();
            let left = self.serve_pool(connected).await;
            self.stats.pool_connection(rank, false);
            self.pool.send_replace(None);
            match left {
                Left::Stopped => return,
                Left::SwitchTo(connected) => {
                    // Straight to the preferred pool, already shaken hands with.
                    ready = Some(*connected);
                    continue;
                }
                Left::Lost | Left::Switch => {}
            }
            if since.elapsed() >= Duration::from_secs(30) {
                backoff = Duration::from_millis(250);
            } else {
                // A pool that drops (or is left) soon after the handshake: wait before the
                // next attempt, as when none is reachable, so it is not hammered.
                if self.wait_while_down(backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// Waits `backoff` before the next connection attempt, answering requests "no
    /// pool" meanwhile; `true` if every miner left (the proxy stops).
    async fn wait_while_down(&mut self, backoff: Duration) -> bool {
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => return false,
                stopped = self.refuse_while_down() => if stopped { return true; },
            }
        }
    }

    /// While no pool is connected: requests are answered "no pool". `true` once every
    /// miner is gone (the proxy stops). Never returns otherwise.
    async fn refuse_while_down(&mut self) -> bool {
        loop {
            match self.requests.recv().await {
                None => return true,
                Some(HubRequest::Submit { reply, .. }) => reply.send(Answer::NoPool),
                Some(HubRequest::Authorize { reply, .. }) => reply.send(Answer::NoPool),
            }
        }
    }

    /// Serves one pool connection until it ends.
    async fn serve_pool(&mut self, connected: Connected) -> Left {
        let Connected { mut lines, mut write, mut view, early, .. } = connected;
        self.generation += 1;
        view.generation = self.generation;
        tracing::info!(upstream = %self.config.upstreams[view.rank], generation = view.generation,
            index_bytes = view.index_bytes, "pool connected (aggregated)");
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) =
            Latest { generation: view.generation, notify: None, difficulty: None };
        let mut pool = PoolState {
            view,
            sent: HashMap::new(),
            next_id: FIRST_REQUEST_ID,
            authorized: HashSet::new(),
            authorizing: HashMap::new(),
            targets: PoolTargets::new(self.config.algorithm),
            out: String::new(),
        };
        // The pool's first difficulty and jobs are in place before miners see the pool.
        for line in early {
            if let Some(left) = self.on_pool_line(&mut pool, &line) {
                return self.leave(pool, left);
            }
        }
        self.pool.send_replace(Some(pool.view.clone()));
        for (name, password) in self.known_workers.clone() {
            pool.authorize(name, password, None);
        }
        if pool.flush(&mut write).await.is_err() {
            return self.leave(pool, Left::Lost);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut next_probe = Instant::now() + self.config.failback_interval;
        let mut probe: Option<AbortOnDrop<Option<Connected>>> = None;
        let mut switching: Option<(Instant, Box<Connected>)> = None;
        let left = loop {
            tokio::select! {
                line = lines.next() => match line {
                    Ok(Some(Line::Text(text))) => {
                        if let Some(left) = self.on_pool_line(&mut pool, &text) {
                            break left;
                        }
                    }
                    Ok(Some(bad)) => tracing::warn!(?bad, "upstream line skipped"),
                    Ok(None) | Err(_) => {
                        tracing::warn!("pool connection lost");
                        break Left::Lost;
                    }
                },
                request = self.requests.recv() => {
                    let Some(request) = request else { break Left::Stopped };
                    pool.on_request(request, &self.stats);
                    // What other miners queued meanwhile goes out in the same write.
                    for _ in 0..FLUSH_EVERY {
                        match self.requests.try_recv() {
                            Ok(request) => pool.on_request(request, &self.stats),
                            Err(_) => break,
                        }
                    }
                    if pool.flush(&mut write).await.is_err() {
                        tracing::warn!("pool connection lost (write)");
                        break Left::Lost;
                    }
                }
                _ = tick.tick() => {
                    pool.answer_overdue(self.config.upstream_timeout, &self.stats);
                    if let Some((since, _)) = &switching {
                        let waiting = pool.sent.values().any(|s| matches!(s, Sent::Submit { .. }));
                        if !waiting || since.elapsed() >= SWITCH_GRACE {
                            break Left::Switch;
                        }
                    } else if pool.view.rank > 0 {
                        if let Some(p) = probe.take_if(|p| p.0.is_finished())
                            && let Ok(Some(connected)) = p.join().await
                        {
                            tracing::info!("preferred pool is back: switching");
                            switching = Some((Instant::now(), Box::new(connected)));
                        } else if probe.is_none() && Instant::now() >= next_probe {
                            next_probe = Instant::now() + self.config.failback_interval;
                            // Only a pool that completes its handshake (subscribed, first job
                            // in) is worth moving every miner for.
                            let (config, rank) = (self.config.clone(), pool.view.rank);
                            let task = async move { connect_any_ready(&config, rank).await };
                            probe = Some(AbortOnDrop(tokio::spawn(task)));
                        }
                    }
                }
            }
        };
        // A preferred pool already shaken hands with is where the miners go next, however
        // this connection ended (unless the proxy stops).
        let left = match (left, switching) {
            (Left::Stopped, _) => Left::Stopped,
            (_, Some((_, connected))) => Left::SwitchTo(connected),
            (left, None) => left,
        };
        self.leave(pool, left)
    }

    /// Ends a pool connection: shares awaiting its answers get the local verdict.
    fn leave(&mut self, pool: PoolState, left: Left) -> Left {
        for (_, sent) in pool.sent {
            if let Sent::Submit { worker, reply, .. } = sent {
                self.stats.upstream_answer(&worker, UpstreamAnswer::Unanswered);
                reply.send(Answer::Lost);
            }
        }
        for (_, waiting) in pool.authorizing {
            for reply in waiting {
                reply.send(Answer::NoPool);
            }
        }
        left
    }

    /// Handles a line of the pool; `Some` when the connection must end.
    fn on_pool_line(&mut self, pool: &mut PoolState, text: &str) -> Option<Left> {
        let message = match parse_line(text) {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "upstream sent a line that is not stratum");
                return None;
            }
        };
        let generation = pool.view.generation;
        match message {
            Message::Call { method, params, .. } => match method.as_str() {
                "mining.notify" => {
                    let notify = match Notify::from_params(&params) {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::warn!(error = %e, "upstream job refused");
                            return None;
                        }
                    };
                    let job_id = notify.job_id.clone();
                    if let Err(e) = pool.view.validator.notify(notify) {
                        tracing::warn!(error = %e, "upstream job refused");
                        return None;
                    }
                    pool.targets.notified(job_id);
                    let line: Arc<str> = Arc::from(text);
                    self.latest.lock().unwrap_or_else(|p| p.into_inner()).notify =
                        Some(line.clone());
                    let _ = self.events.send(HubEvent::Notify { generation, line });
                    None
                }
                "mining.set_difficulty" => {
                    let difficulty = match set_difficulty_from_params(&params) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(error = %e, "upstream difficulty refused");
                            return None;
                        }
                    };
                    let Ok(target) = self.config.algorithm.target_for_difficulty(difficulty) else {
                        tracing::warn!(difficulty, "upstream difficulty refused");
                        return None;
                    };
                    let first_seq = pool.view.validator.jobs().next_seq();
                    pool.targets.set(target);
                    self.latest.lock().unwrap_or_else(|p| p.into_inner()).difficulty =
                        Some((difficulty, first_seq));
                    let _ = self.events.send(HubEvent::Difficulty {
                        generation,
                        difficulty,
                        first_seq,
                    });
                    None
                }
                "mining.set_extranonce" => {
                    // New extranonce space: the miners move over as on a new pool.
                    match SetExtranonce::from_params(&params) {
                        Ok(_) => Some(Left::Switch),
                        Err(e) => {
                            tracing::warn!(error = %e, "upstream extranonce refused");
                            None
                        }
                    }
                }
                "mining.set_version_mask" => {
                    if let Ok(mask) = set_version_mask_from_params(&params) {
                        pool.view.version_mask = Some(mask);
                        self.pool.send_replace(Some(pool.view.clone()));
                    }
                    None
                }
                // Relayed, it would take the miners past the check: the hub reconnects.
                "client.reconnect" => Some(Left::Switch),
                _ => None,
            },
            Message::Response { id, result, error } => {
                let sent = id.as_u64().and_then(|id| pool.sent.remove(&id));
                match sent {
                    Some(Sent::Submit { worker, reply, .. }) => {
                        let accepted = result == Value::Bool(true) && error.is_null();
                        let answer = if accepted {
                            UpstreamAnswer::Accepted
                        } else {
                            UpstreamAnswer::Rejected(&error)
                        };
                        self.stats.upstream_answer(&worker, answer);
                        if !accepted {
                            tracing::info!(?error, %worker, "pool rejected a share");
                        }
                        reply.send(Answer::Pool { result, error });
                    }
                    Some(Sent::Authorize { name, password, .. }) => {
                        let ok = result == Value::Bool(true) && error.is_null();
                        if ok {
                            pool.authorized.insert(name.clone());
                            if !self.known_workers.iter().any(|(n, _)| *n == name) {
                                self.known_workers.push((name.clone(), password));
                            }
                        }
                        for reply in pool.authorizing.remove(&name).unwrap_or_default() {
                            let (result, error) = (result.clone(), error.clone());
                            reply.send(Answer::Pool { result, error });
                        }
                    }
                    None => {}
                }
                None
            }
        }
    }
}

/// One pool connection's bookkeeping.
struct PoolState {
    view: PoolView,
    sent: HashMap<u64, Sent>,
    next_id: u64,
    authorized: HashSet<String>,
    /// Authorizations sent and not answered yet, with the miners waiting for them.
    authorizing: HashMap<String, Vec<Reply>>,
    /// The pool's share target for each job.
    targets: PoolTargets,
    /// Requests queued for the pool, not written yet.
    out: String,
}

impl PoolState {
    /// Queues a request for the pool (written by [`PoolState::flush`]).
    fn send(&mut self, method: &str, params: Value, sent: Sent) {
        let id = self.next_id;
        self.next_id += 1;
        self.sent.insert(id, sent);
        let line = json!({"id": id, "method": method, "params": params});
        let _ = writeln!(self.out, "{line}");
    }

    /// Writes what was queued for the pool, in one write.
    async fn flush(&mut self, write: &mut OwnedWriteHalf) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        write_all(write, out.as_bytes()).await
    }

    fn authorize(&mut self, name: String, password: Value, reply: Option<Reply>) {
        if self.authorized.contains(&name) {
            if let Some(reply) = reply {
                reply.send(Answer::Pool { result: Value::Bool(true), error: Value::Null });
            }
            return;
        }
        let waiting = self.authorizing.entry(name.clone()).or_default();
        let first = waiting.is_empty();
        waiting.extend(reply);
        if !first {
            return;
        }
        let params = json!([name, password]);
        let sent = Sent::Authorize { name, password, sent: Instant::now() };
        self.send("mining.authorize", params, sent);
    }

    fn on_request(&mut self, request: HubRequest, stats: &Stats) {
        match request {
            HubRequest::Authorize { name, password, reply } => {
                self.authorize(name, password, Some(reply))
            }
            HubRequest::Submit { generation, job_id, forward, pow_hash, worker, params, reply } => {
                // While switching the old pool still takes its own jobs' shares.
                if generation != self.view.generation {
                    reply.send(Answer::NoPool);
                    return;
                }
                // A share at a downstream difficulty goes on only if it meets the pool's.
                if !forward && !self.targets.for_job(&job_id).is_met_by(&pow_hash) {
                    reply.send(Answer::NotForwarded);
                    return;
                }
                stats.forwarded(&worker);
                let sent = Sent::Submit { worker, reply, sent: Instant::now() };
                self.send("mining.submit", params, sent);
            }
        }
    }

    /// Requests the pool has not answered in time: the miners already have their local
    /// answers (their own timers); forgotten here, and an authorization may be asked again.
    fn answer_overdue(&mut self, timeout: Duration, stats: &Stats) {
        let overdue: Vec<u64> = self
            .sent
            .iter()
            .filter(|(_, s)| match s {
                Sent::Submit { sent, .. } | Sent::Authorize { sent, .. } => {
                    sent.elapsed() >= timeout
                }
            })
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            match self.sent.remove(&id) {
                Some(Sent::Submit { worker, reply, .. }) => {
                    stats.upstream_answer(&worker, UpstreamAnswer::Unanswered);
                    reply.send(Answer::Lost);
                }
                Some(Sent::Authorize { name, .. }) => {
                    for reply in self.authorizing.remove(&name).unwrap_or_default() {
                        reply.send(Answer::NoPool);
                    }
                }
                None => {}
            }
        }
    }
}

/// A task aborted when its handle is dropped (a fail-back probe outlives no connection).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Like [`connect_any`], but only a pool whose first job came in during the handshake.
async fn connect_any_ready(config: &ProxyConfig, before: usize) -> Option<Connected> {
    let connected = connect_any(config, before).await?;
    if connected.has_job {
        Some(connected)
    } else {
        tracing::warn!(upstream = %config.upstreams[connected.view.rank],
            "preferred pool sent no job in time: staying");
        None
    }
}

/// Connects to the first pool, in priority order and ranked before `before`, that accepts
/// and completes the handshake (its extranonce leaving the miners at least 2 bytes).
/// `None` if none does.
async fn connect_any(config: &ProxyConfig, before: usize) -> Option<Connected> {
    for (rank, url) in config.upstreams.iter().enumerate().take(before) {
        let connect = TcpStream::connect((url.host.as_str(), url.port));
        let stream = match tokio::time::timeout(config.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::warn!(%url, error = %e, "pool unreachable");
                continue;
            }
            Err(_) => {
                tracing::warn!(%url, "pool did not accept in time");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match handshake(stream, rank, config).await {
            Ok(connected) => return Some(connected),
            Err(why) => tracing::error!(%url, %why, "pool refused"),
        }
    }
    None
}

/// `mining.configure` (version rolling) and `mining.subscribe` on a new pool connection,
/// then its first job. (No `mining.extranonce.subscribe`: a pool's new extranonce would
/// move every miner.)
async fn handshake(
    stream: TcpStream,
    rank: usize,
    config: &ProxyConfig,
) -> Result<Connected, String> {
    let (read, mut write) = stream.into_split();
    let mut lines = LineReader::new(read, MAX_UPSTREAM_LINE);
    let agent = concat!("sharecheck/", env!("CARGO_PKG_VERSION"));
    let configure = json!([["version-rolling"], {"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2}]);
    for (id, method, params) in
        [(1, "mining.configure", configure), (2, "mining.subscribe", json!([agent]))]
    {
        let line = json!({"id": id, "method": method, "params": params}).to_string();
        send_line(&mut write, &line).await.map_err(|e| e.to_string())?;
    }
    let mut subscribed: Option<SubscribeResult> = None;
    let mut mask: Option<Option<u32>> = None;
    let mut early = Vec::new();
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let mut has_job = false;
    // Miners see the pool once its first difficulty and job are in.
    while subscribed.is_none() || mask.is_none() || !has_job {
        let line = match tokio::time::timeout_at(deadline, lines.next()).await {
            // Configure never answered (no rolling), or no job yet: miners wait for it.
            Err(_) if subscribed.is_some() => break,
            Err(_) => return Err("no answer to mining.subscribe in time".into()),
            Ok(Ok(Some(Line::Text(text)))) => text,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return Err("closed during the handshake".into()),
        };
        match parse_line(&line) {
            Ok(Some(Message::Response { id, result, error })) => match id.as_u64() {
                Some(1) => {
                    let ok = error.is_null();
                    mask = Some(if ok {
                        ConfigureResult::from_result(&result).ok().and_then(|c| c.version_mask)
                    } else {
                        None
                    });
                }
                Some(2) => {
                    if !error.is_null() {
                        return Err(format!("mining.subscribe refused: {error}"));
                    }
                    let s = SubscribeResult::from_result(&result).map_err(|e| e.to_string())?;
                    subscribed = Some(s);
                }
                _ => {}
            },
            Ok(Some(Message::Call { method, .. })) => {
                has_job |= method == "mining.notify";
                early.push(line);
            }
            _ => {}
        }
    }
    let subscribed = subscribed.ok_or("no subscribe result")?;
    let index_bytes = match subscribed.extranonce2_size {
        n if n >= 4 => 2,
        3 => 1,
        n => {
            return Err(format!(
                "extranonce2_size {n} cannot be split (the miners need at least 2 bytes and \
                 the proxy 1): use passthrough mode for this pool"
            ));
        }
    };
    let view = PoolView {
        generation: 0,
        rank,
        validator: shared_validator(config),
        extranonce1: subscribed.extranonce1,
        extranonce2_size: subscribed.extranonce2_size,
        index_bytes,
        version_mask: mask.flatten(),
    };
    Ok(Connected { lines, write, view, early, has_job })
}

// ---------------------------------------------------------------------------------------
// The miner side.

/// A miner's request awaiting the hub.
struct Awaited {
    miner_id: Value,
    sent: Instant,
    kind: Kind,
}

enum Kind {
    Authorize {
        worker: String,
    },
    /// A share at the pool's difficulty: the pool's answer is the miner's (the local
    /// verdict if it has none in time).
    Submit {
        verdict: Verdict,
    },
}

/// Serves one miner in aggregated mode.
pub(crate) async fn serve_miner(
    miner: TcpStream,
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    recording: Option<Arc<RecordWriter>>,
    shutdown: watch::Receiver<bool>,
    hub: Hub,
) {
    let peer = miner.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = miner.set_nodelay(true);
    let proxy_addr = miner.local_addr().ok();
    let (read, write) = miner.into_split();
    let mut lines = LineReader::new(read, MAX_MINER_LINE);
    let recorder = recording.map(|w| w.recorder(&peer));
    let (answers_tx, answers) = mpsc::channel(MAX_AWAITED + 16);
    let mut link = MinerLink::new(write, proxy_addr, recorder);
    link.cork(); // written once per step of `run`
    let mut m = AggregatedMiner {
        difficulty: MinerDifficulty::new(config.downstream_difficulty)
            .with_vardiff_start(config.vardiff_start),
        config,
        stats: stats.clone(),
        hub,
        link,
        answers_tx,
        view: None,
        events: None,
        session: None,
        index: None,
        extranonce_subscribed: false,
        requested_mask: None,
        worker: None,
        awaited: HashMap::new(),
        next_token: 1,
        draining: None,
        connection_id: CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    };
    stats.miner_connection(None, true);
    tracing::info!(%peer, "miner connected (aggregated)");
    let end = m.run(&mut lines, answers, shutdown).await;
    stats.miner_connection(None, false);
    if let Some(worker) = &m.worker {
        stats.worker_connection(worker, false);
        stats.worker_connection_closed(worker, m.connection_id);
    }
    if let Some(index) = m.index {
        m.hub.indices.lock().unwrap_or_else(|p| p.into_inner()).give_back(index);
    }
    m.link.close(&mut lines).await;
    tracing::info!(%peer, %end, "miner disconnected");
}

struct AggregatedMiner {
    config: Arc<ProxyConfig>,
    stats: Arc<Stats>,
    hub: Hub,
    link: MinerLink,
    answers_tx: mpsc::Sender<HubAnswer>,
    /// The pool this miner works for (set at subscribe).
    view: Option<PoolView>,
    events: Option<broadcast::Receiver<HubEvent>>,
    session: Option<Session>,
    index: Option<usize>,
    extranonce_subscribed: bool,
    /// The mask the miner asked for in `mining.configure`.
    requested_mask: Option<u32>,
    worker: Option<String>,
    /// The miner's own difficulty (vardiff included).
    difficulty: MinerDifficulty,
    awaited: HashMap<u64, Awaited>,
    next_token: u64,
    draining: Option<(Drain, Instant)>,
    /// This connection's number, unique in the process (the statistics tell connections
    /// of one worker name apart by it).
    connection_id: u64,
}

/// Numbers miner connections.
static CONNECTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl AggregatedMiner {
    async fn run(
        &mut self,
        lines: &mut LineReader<tokio::net::tcp::OwnedReadHalf>,
        mut answers: mpsc::Receiver<HubAnswer>,
        mut shutdown: watch::Receiver<bool>,
    ) -> End {
        let connected = Instant::now();
        let mut last_line = Instant::now();
        let mut pool = self.hub.pool.clone();
        let end = loop {
            let reading = self.draining.is_none_or(|(_, since)| since.elapsed() < DRAIN_GRACE);
            let wake = tokio::time::Instant::from_std(self.next_deadline(connected, last_line));
            let mut step = tokio::select! {
                line = lines.next(), if reading => match line {
                    Ok(None) => Err(End::MinerClosed),
                    Err(e) => Err(End::Io(e)),
                    Ok(Some(line)) => {
                        last_line = Instant::now();
                        self.on_lines(line, lines).await
                    }
                },
                Some(answer) = answers.recv() => self.on_answer(answer).await,
                event = recv_event(&mut self.events) => self.on_event(event).await,
                changed = pool.changed(), if self.view.is_some() => {
                    if changed.is_err() {
                        Err(End::UpstreamClosed)
                    } else {
                        let next = pool.borrow_and_update().clone();
                        self.on_pool(next).await
                    }
                }
                changed = shutdown.changed(), if self.draining.is_none() => {
                    if changed.is_err() || *shutdown.borrow() {
                        self.draining = Some((Drain::Shutdown, Instant::now()));
                    }
                    Ok(())
                }
                _ = tokio::time::sleep_until(wake) => self.on_timer(connected, last_line).await,
            };
            // Answers already here leave in the same write as the step's own.
            for _ in 0..ANSWERS_AT_ONCE {
                let Ok(()) = step else { break };
                let Ok(answer) = answers.try_recv() else { break };
                step = self.on_answer(answer).await;
            }
            if step.is_ok() {
                step = self.link.flush().await;
            }
            if let Err(end) = step {
                break end;
            }
        };
        // Requests still awaited get the local answer.
        let mut left: Vec<(u64, Awaited)> = self.awaited.drain().collect();
        left.sort_by_key(|(token, _)| *token);
        for (token, awaited) in left {
            if self.answer_locally(token, awaited).await.is_err() {
                break;
            }
        }
        end
    }

    /// When the timer must next look: the oldest awaited request's timeout, the drain, the
    /// login and idle limits.
    fn next_deadline(&self, connected: Instant, last_line: Instant) -> Instant {
        // The login and idle limits are not enforced while draining: not woken for them.
        let mut at = match self.draining {
            None if !self.logged_in() => {
                (last_line + self.config.idle_timeout).min(connected + self.config.login_timeout)
            }
            None => last_line + self.config.idle_timeout,
            Some(_) => Instant::now() + self.config.idle_timeout,
        };
        // The drain's end, while the grace runs, and after it whenever nothing is awaited:
        // a wake-up for a job just at the grace's end must not skip the check that ends
        // the connection. (Past the grace with shares awaited, their answers wake it.)
        if let Some((_, since)) = self.draining
            && (since + DRAIN_GRACE > Instant::now() || !self.awaits_submits())
        {
            at = at.min(since + DRAIN_GRACE);
        }
        if let Some(oldest) = self.awaited.values().map(|a| a.sent).min() {
            at = at.min(oldest + self.config.upstream_timeout);
        }
        if let Some(look) = self.difficulty.next_look() {
            at = at.min(look);
        }
        at.max(Instant::now() + Duration::from_millis(1))
    }

    async fn on_timer(&mut self, connected: Instant, last_line: Instant) -> Result<(), End> {
        let timeout = self.config.upstream_timeout;
        let overdue: Vec<u64> = self
            .awaited
            .iter()
            .filter(|(_, a)| a.sent.elapsed() >= timeout)
            .map(|(t, _)| *t)
            .collect();
        for token in overdue {
            if let Some(awaited) = self.awaited.remove(&token) {
                self.answer_locally(token, awaited).await?;
            }
        }
        if let Some((drain, since)) = self.draining
            && since.elapsed() >= DRAIN_GRACE
            && !self.awaits_submits()
        {
            return Err(End::Drained(drain));
        }
        if self.draining.is_none() {
            if !self.logged_in() && connected.elapsed() >= self.config.login_timeout {
                return Err(End::NoLogin);
            }
            if last_line.elapsed() >= self.config.idle_timeout {
                return Err(End::Idle);
            }
        }
        self.retarget(None).await
    }

    fn logged_in(&self) -> bool {
        self.worker.is_some() && self.session.is_some()
    }

    fn awaits_submits(&self) -> bool {
        self.awaited.values().any(|a| matches!(a.kind, Kind::Submit { .. }))
    }

    /// `first` and the lines the miner sent with it (already read), in order; the shares
    /// among them checked together.
    async fn on_lines(
        &mut self,
        first: Line,
        lines: &mut LineReader<tokio::net::tcp::OwnedReadHalf>,
    ) -> Result<(), End> {
        let mut submits: Vec<(Value, Value)> = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(line) = next.take() {
            taken += 1;
            let call = match line {
                Line::Text(text) => {
                    self.link.record_received(&text);
                    parse_line(&text).map_err(|e| e.to_string())
                }
                Line::TooLong => Err(format!("line longer than {MAX_MINER_LINE} bytes")),
                Line::NotUtf8 => Err("not UTF-8".to_string()),
            };
            match call {
                Ok(Some(Message::Call { id, method, params })) if method == "mining.submit" => {
                    submits.push((id, params));
                }
                // Anything else is answered after the shares before it.
                Ok(Some(Message::Call { id, method, params })) => {
                    self.on_submits(std::mem::take(&mut submits)).await?;
                    self.on_call(id, &method, params).await?;
                }
                Ok(Some(Message::Response { .. })) | Ok(None) => {}
                Err(why) => {
                    self.on_submits(std::mem::take(&mut submits)).await?;
                    self.link.bad_line(&why).await?;
                }
            }
            if taken < LINES_AT_ONCE {
                next = lines.buffered();
            }
        }
        self.on_submits(submits).await
    }

    /// A request other than `mining.submit`.
    async fn on_call(&mut self, id: Value, method: &str, params: Value) -> Result<(), End> {
        match method {
            "mining.subscribe" => self.on_subscribe(id, params).await,
            "mining.authorize" => self.on_authorize(id, params).await,
            "mining.configure" => self.on_configure(id, params).await,
            "mining.extranonce.subscribe" => {
                self.extranonce_subscribed = true;
                self.link.reply(&id, json!({"id": id, "result": true, "error": null})).await
            }
            "mining.suggest_difficulty" => {
                let pool = self.pool_difficulty();
                let restart = params
                    .get(0)
                    .and_then(Value::as_f64)
                    .and_then(|d| self.difficulty.suggest(d, pool, Instant::now()));
                self.link.reply(&id, json!({"id": id, "result": true, "error": null})).await?;
                match restart {
                    Some(d) => self.set_miner_difficulty(d).await,
                    None => Ok(()),
                }
            }
            "client.get_version" => {
                let version = concat!("sharecheck/", env!("CARGO_PKG_VERSION"));
                self.link.reply(&id, json!({"id": id, "result": version, "error": null})).await
            }
            _ if id.is_null() => Ok(()),
            _ => {
                let message = format!("unknown method {}", crate::error::quote_input(method));
                self.link.reply(&id, error_reply(&id, 20, &message)).await
            }
        }
    }

    /// `mining.subscribe`, answered by the proxy: the miner's share of the pool's
    /// extranonce space, then the difficulty and the newest job. In any of its forms: `[]`, `[agent]`, `[agent, null]`, `[agent,
    /// session]`. The subscription id is the miner's extranonce1 in hex: a miner that
    /// reconnects and names it gets the same extranonce1 back if no one holds it (its
    /// work in progress stays valid), else a new one.
    async fn on_subscribe(&mut self, id: Value, params: Value) -> Result<(), End> {
        if self.view.is_none() {
            let Some(view) = self.wait_for_pool().await? else {
                return self.link.reply(&id, error_reply(&id, 20, "no pool connection")).await;
            };
            let resumed = params.get(1).and_then(Value::as_str).and_then(|s| view.index_of(s));
            let index = {
                let mut indices = self.hub.indices.lock().unwrap_or_else(|p| p.into_inner());
                resumed
                    .and_then(|i| indices.take_again(i))
                    .or_else(|| indices.take(view.index_limit()))
            };
            let Some(index) = index else {
                return self
                    .link
                    .reply(&id, error_reply(&id, 20, "proxy full: no extranonce left"))
                    .await;
            };
            self.index = Some(index);
            self.events = Some(self.hub.events.subscribe());
            self.start_session(view)?;
        }
        let (Some(view), Some(session), Some(index)) = (&self.view, &self.session, self.index)
        else {
            return Ok(());
        };
        let en1 = hex::encode(view.miner_extranonce1(index));
        let size = session.extranonce2_size();
        let subscription = en1.clone();
        let result = json!([
            [["mining.set_difficulty", subscription], ["mining.notify", subscription]],
            en1,
            size
        ]);
        self.link.reply(&id, json!({"id": id, "result": result, "error": null})).await?;
        self.send_difficulty().await?;
        self.send_newest_job(false).await
    }

    /// The pool, waited for within the login limit (a miner cannot work without one).
    async fn wait_for_pool(&mut self) -> Result<Option<PoolView>, End> {
        // What this step answered so far does not wait for the pool.
        self.link.flush().await?;
        let mut pool = self.hub.pool.clone();
        let wait = async { pool.wait_for(Option::is_some).await.ok().and_then(|v| v.clone()) };
        Ok(tokio::time::timeout(self.config.login_timeout, wait).await.ok().flatten())
    }

    /// A new session on `view`'s jobs, at this miner's index.
    fn start_session(&mut self, view: PoolView) -> Result<(), End> {
        let Some(index) = self.index else { return Ok(()) };
        let mut session = view.validator.new_session();
        let size = view.extranonce2_size - view.index_bytes;
        if let Err(e) = session.set_extranonce(view.miner_extranonce1(index), size) {
            tracing::warn!(error = %e, "extranonce refused");
        }
        session.set_version_mask(self.negotiated_mask(&view));
        let latest = self.hub.latest.lock().unwrap_or_else(|p| p.into_inner()).difficulty;
        let upstream = latest.map_or(1.0, |(d, _)| d);
        let start = self.difficulty.start(upstream, Instant::now());
        // In force for every job the miner can see: what the pool asked before the newest
        // job is not known to this new session.
        if let Err(e) = view.validator.set_difficulty_from(&mut session, start, 0) {
            tracing::warn!(error = %e, "difficulty refused");
        }
        self.session = Some(session);
        self.view = Some(view);
        Ok(())
    }

    fn negotiated_mask(&self, view: &PoolView) -> Option<u32> {
        match (self.requested_mask, view.version_mask) {
            (Some(miner), Some(pool)) => Some(miner & pool),
            _ => None,
        }
    }

    /// Tells the statistics the difficulty the miner works at (its hashrate interval).
    fn note_difficulty(&self) {
        if let (Some(worker), Some(session)) = (&self.worker, &self.session) {
            self.stats.worker_difficulty(worker, self.connection_id, session.difficulty());
        }
    }

    async fn send_difficulty(&mut self) -> Result<(), End> {
        self.note_difficulty();
        let Some(session) = &self.session else { return Ok(()) };
        let d = session.difficulty();
        self.link.send(&json!({"id": null, "method": "mining.set_difficulty", "params": [d]})).await
    }

    /// The newest job; `clean`: marked `clean_jobs` (after a pool switch, so firmware
    /// drops the old pool's work).
    async fn send_newest_job(&mut self, clean: bool) -> Result<(), End> {
        let Some(view) = &self.view else { return Ok(()) };
        let line = {
            let latest = self.hub.latest.lock().unwrap_or_else(|p| p.into_inner());
            latest.notify.clone().filter(|_| latest.generation == view.generation)
        };
        let Some(line) = line else { return Ok(()) };
        if clean
            && let Ok(mut notify) = serde_json::from_str::<Value>(&line)
            && let Some(flag) = notify.get_mut("params").and_then(|p| p.get_mut(8))
        {
            *flag = Value::Bool(true);
            return self.link.send(&notify).await;
        }
        self.link.send_line(&line).await
    }

    async fn on_authorize(&mut self, id: Value, params: Value) -> Result<(), End> {
        let worker = params.get(0).and_then(Value::as_str).unwrap_or_default().to_string();
        let name = match &self.config.user {
            Some(user) => format!("{user}.{worker}"),
            None => worker.clone(),
        };
        let password = match &self.config.password {
            Some(p) => Value::String(p.clone()),
            None => params.get(1).cloned().unwrap_or(Value::String("x".into())),
        };
        let Some(token) = self.await_hub(&id, Kind::Authorize { worker }) else {
            return self.link.reply(&id, error_reply(&id, 20, "too many requests in flight")).await;
        };
        let reply = Reply { to: self.answers_tx.clone(), token };
        self.send_to_hub(HubRequest::Authorize { name, password, reply }).await
    }

    /// `mining.configure`, answered by the proxy: version rolling under the miner's mask
    /// AND the pool's; other extensions declined.
    async fn on_configure(&mut self, id: Value, params: Value) -> Result<(), End> {
        let extensions: Vec<&str> = params
            .get(0)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut result = serde_json::Map::new();
        for extension in extensions {
            if extension == "version-rolling" {
                let asked = params
                    .get(1)
                    .and_then(|o| o.get("version-rolling.mask"))
                    .and_then(Value::as_str)
                    .and_then(|m| u32::from_str_radix(m, 16).ok())
                    .unwrap_or(u32::MAX);
                self.requested_mask = Some(asked);
                // Firmware configures first thing: the pool's mask is known once it is up.
                let pool_mask = self.wait_for_pool().await?.and_then(|v| v.version_mask);
                match pool_mask {
                    Some(pool) => {
                        result.insert("version-rolling".into(), Value::Bool(true));
                        result.insert(
                            "version-rolling.mask".into(),
                            json!(format!("{:08x}", asked & pool)),
                        );
                    }
                    None => {
                        result.insert("version-rolling".into(), Value::Bool(false));
                    }
                }
                let mask = pool_mask.map(|p| asked & p);
                if let Some(session) = &mut self.session {
                    session.set_version_mask(mask);
                }
            } else {
                result.insert(extension.to_string(), Value::Bool(false));
            }
        }
        self.link.reply(&id, json!({"id": id, "result": result, "error": null})).await
    }

    /// Shares the miner sent together: checked in one go, then each answered (or
    /// forwarded) in order.
    async fn on_submits(&mut self, submits: Vec<(Value, Value)>) -> Result<(), End> {
        if submits.is_empty() {
            return Ok(());
        }
        let current = self.hub.pool.borrow().as_ref().map(|v| v.generation);
        let (verdicts, difficulty) = match (&self.view, self.session.take()) {
            (Some(view), Some(session)) => {
                let mut well_formed = Vec::with_capacity(submits.len());
                let parsed: Vec<bool> = submits
                    .iter()
                    .map(|(_, params)| match Submit::from_params(params) {
                        Ok(submit) => {
                            well_formed.push(submit);
                            true
                        }
                        Err(_) => false,
                    })
                    .collect();
                let validator = view.validator.clone();
                let Some((session, checked)) =
                    self.hub.checker.check(validator, session, well_formed).await
                else {
                    tracing::error!("the share checking thread stopped");
                    for (id, _) in &submits {
                        self.link.reply(id, error_reply(id, 20, "share check failed")).await?;
                    }
                    return Err(End::Io(std::io::Error::other("share checker stopped")));
                };
                self.session = Some(session);
                let mut checked = checked.into_iter();
                let verdicts: Vec<Verdict> = parsed
                    .iter()
                    .map(|&well_formed| match well_formed {
                        true => {
                            checked.next().unwrap_or_else(|| Verdict::rejected(Reason::Malformed))
                        }
                        false => Verdict::rejected(Reason::Malformed),
                    })
                    .map(|mut verdict| {
                        if let Some(block) = &verdict.block {
                            // Logged whatever happens next: the header and coinbase are the
                            // block.
                            tracing::warn!(
                                header = %hex::encode(block.header),
                                coinbase = %hex::encode(&block.coinbase),
                                "block candidate"
                            );
                        }
                        if current != Some(view.generation) && verdict.is_valid() {
                            // The pool these jobs came from is gone: never forwarded
                            // elsewhere.
                            verdict = Verdict::rejected(Reason::Stale);
                        }
                        verdict
                    })
                    .collect();
                (verdicts, self.session.as_ref().map_or(0.0, Session::difficulty))
            }
            (_, session) => {
                self.session = session;
                (vec![Verdict::rejected(Reason::NotSubscribed); submits.len()], 0.0)
            }
        };
        for ((id, params), verdict) in submits.into_iter().zip(verdicts) {
            self.on_verdict(id, params, verdict, difficulty).await?;
        }
        Ok(())
    }

    /// One share's verdict: counted, then answered here or sent on to the pool.
    async fn on_verdict(
        &mut self,
        id: Value,
        params: Value,
        verdict: Verdict,
        difficulty: f64,
    ) -> Result<(), End> {
        let Some(worker) = self.worker.clone() else {
            // On the shared connection a share goes out only under a name the pool
            // accepted for this miner.
            self.stats.share(UNAUTHORIZED, &verdict, difficulty);
            let reply = if verdict.pow_hash.is_some() || verdict.is_valid() {
                error_reply(&id, 24, "Unauthorized worker")
            } else {
                verdict.stratum_reply(&id)
            };
            return self.link.reply(&id, reply).await;
        };
        self.stats.share_on(&worker, self.connection_id, &verdict, difficulty);
        if !verdict.is_valid() {
            return self.link.reply(&id, verdict.stratum_reply(&id)).await;
        }
        let (Some(view), Some(index)) = (&self.view, self.index) else { return Ok(()) };
        let upstream_params = self.upstream_submit(view, index, &params);
        let pow_hash = verdict.pow_hash.map(|h| h.0).unwrap_or_default();
        let share_difficulty = verdict.share_difficulty.unwrap_or(0.0);
        let generation = view.generation;
        let job_id = params.get(1).and_then(Value::as_str).unwrap_or_default().to_string();
        // At the pool's difficulty the pool's answer is the miner's; at the miner's own,
        // the miner gets its answer here and the share goes on only if it meets the pool's.
        let at_pool_difficulty = self.difficulty.is_pools();
        let forward = at_pool_difficulty || verdict.block.is_some();
        let local_reply = verdict.stratum_reply(&id);
        let token = if at_pool_difficulty {
            let kind = Kind::Submit { verdict };
            // Past the limit of requests in flight: the local verdict now, and the share
            // still goes to the pool (its answer is not awaited).
            self.await_hub(&id, kind)
        } else {
            None // the pool's answer is counted by the hub, not awaited here
        };
        let reply = Reply { to: self.answers_tx.clone(), token: token.unwrap_or(0) };
        let request = HubRequest::Submit {
            generation,
            job_id,
            forward,
            pow_hash,
            worker,
            params: upstream_params,
            reply,
        };
        // On its way to the pool before the miner is written to: a slow or gone miner
        // never holds back a block.
        self.send_to_hub(request).await?;
        if token.is_none() {
            self.link.reply(&id, local_reply).await?;
        }
        if !at_pool_difficulty {
            self.retarget(Some((Instant::now(), share_difficulty))).await?;
        }
        Ok(())
    }

    /// The submit as the pool takes it: its worker name and `index ‖ extranonce2`.
    fn upstream_submit(&self, view: &PoolView, index: usize, params: &Value) -> Value {
        let mut out = params.as_array().cloned().unwrap_or_default();
        out.truncate(6);
        if let Some(Value::String(name)) = out.first_mut()
            && let Some(worker) = &self.worker
        {
            *name = match &self.config.user {
                Some(user) => format!("{user}.{worker}"),
                None => worker.clone(),
            };
        }
        if let Some(Value::String(en2)) = out.get_mut(2) {
            let index_hex = hex::encode(&index.to_be_bytes()[8 - view.index_bytes..]);
            *en2 = format!("{index_hex}{}", en2.to_ascii_lowercase());
        }
        Value::Array(out)
    }

    /// Hands `request` to the hub. If its queue is full, what this step already answered
    /// is written meanwhile (never after: a slow miner must not hold back a block).
    async fn send_to_hub(&mut self, request: HubRequest) -> Result<(), End> {
        match self.hub.requests.try_send(request) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Full(request)) => {
                let (sent, flushed) =
                    tokio::join!(self.hub.requests.send(request), self.link.flush());
                let _ = sent; // a hub that is gone answers nothing: the timers answer
                flushed
            }
        }
    }

    /// Remembers a request sent to the hub; `None` past [`MAX_AWAITED`].
    fn await_hub(&mut self, miner_id: &Value, kind: Kind) -> Option<u64> {
        if self.awaited.len() >= MAX_AWAITED {
            return None;
        }
        let token = self.next_token;
        self.next_token += 1;
        self.link.owe(miner_id, token);
        self.awaited
            .insert(token, Awaited { miner_id: miner_id.clone(), sent: Instant::now(), kind });
        Some(token)
    }

    async fn on_answer(&mut self, answer: HubAnswer) -> Result<(), End> {
        self.answer(answer).await?;
        match self.draining {
            Some((drain, since)) if since.elapsed() >= DRAIN_GRACE && !self.awaits_submits() => {
                Err(End::Drained(drain))
            }
            _ => Ok(()),
        }
    }

    async fn answer(&mut self, answer: HubAnswer) -> Result<(), End> {
        let Some(awaited) = self.awaited.remove(&answer.token) else { return Ok(()) };
        let id = awaited.miner_id.clone();
        match (awaited.kind, answer.answer) {
            (Kind::Authorize { worker }, Answer::Pool { result, error }) => {
                let ok = error.is_null() && result == Value::Bool(true);
                if ok && self.worker.is_none() {
                    self.stats.worker_connection(&worker, true);
                    self.worker = Some(worker);
                    self.note_difficulty();
                }
                let reply = json!({"id": id, "result": result, "error": error});
                self.link.settle(&id, answer.token, reply).await
            }
            (Kind::Authorize { .. }, _) => {
                self.link
                    .settle(&id, answer.token, error_reply(&id, 20, "no pool connection"))
                    .await
            }
            (Kind::Submit { .. }, Answer::Pool { result, error }) => {
                let reply = json!({"id": id, "result": result, "error": error});
                self.link.settle(&id, answer.token, reply).await
            }
            (Kind::Submit { verdict, .. }, Answer::NoPool) => {
                // Not sent: the pool it was for is gone.
                let stale = if verdict.block.is_some() {
                    verdict
                } else {
                    Verdict::rejected(Reason::Stale)
                };
                self.link.settle(&id, answer.token, stale.stratum_reply(&id)).await
            }
            (Kind::Submit { verdict, .. }, Answer::NotForwarded | Answer::Lost) => {
                self.link.settle(&id, answer.token, verdict.stratum_reply(&id)).await
            }
        }
    }

    /// A request the hub did not answer in time, or left when the connection ends.
    async fn answer_locally(&mut self, token: u64, awaited: Awaited) -> Result<(), End> {
        let id = awaited.miner_id;
        let reply = match awaited.kind {
            Kind::Submit { verdict } => verdict.stratum_reply(&id),
            Kind::Authorize { .. } => error_reply(&id, 20, "no answer from the pool"),
        };
        self.link.settle(&id, token, reply).await
    }

    async fn on_event(&mut self, event: Option<HubEvent>) -> Result<(), End> {
        let Some(view) = &self.view else { return Ok(()) };
        let mine = view.generation;
        match event {
            None => {
                // Fell behind: the difficulty and the newest job again.
                self.send_difficulty().await?;
                self.send_newest_job(false).await
            }
            Some(HubEvent::Notify { generation, line }) if generation == mine => {
                self.link.send_line(&line).await
            }
            Some(HubEvent::Difficulty { generation, difficulty, first_seq })
                if generation == mine =>
            {
                self.on_pool_difficulty(difficulty, first_seq).await
            }
            Some(_) => Ok(()),
        }
    }

    async fn on_pool_difficulty(&mut self, upstream: f64, first_seq: u64) -> Result<(), End> {
        let (Some(view), Some(session)) = (&self.view, &mut self.session) else { return Ok(()) };
        let mine = self.difficulty.on_pool(upstream, Instant::now());
        if mine == session.difficulty() {
            return Ok(());
        }
        if let Err(e) = view.validator.set_difficulty_from(session, mine, first_seq) {
            tracing::warn!(error = %e, "difficulty refused");
            return Ok(());
        }
        self.send_difficulty().await
    }

    /// Vardiff: a new difficulty when the miner's share rate calls for it (`share`: an
    /// accepted share just now).
    async fn retarget(&mut self, share: Option<(Instant, f64)>) -> Result<(), End> {
        if self.session.is_none() {
            return Ok(());
        }
        let upstream = self.pool_difficulty();
        match self.difficulty.retarget(share, upstream) {
            Some(next) => self.set_miner_difficulty(next).await,
            None => Ok(()),
        }
    }

    /// The pool's difficulty now (1 until it sets one).
    fn pool_difficulty(&self) -> f64 {
        let latest = self.hub.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.difficulty.map_or(1.0, |(d, _)| d)
    }

    /// Puts a subscribed miner at difficulty `d` (checked from now on) and tells it.
    async fn set_miner_difficulty(&mut self, d: f64) -> Result<(), End> {
        let (Some(view), Some(session)) = (&self.view, &mut self.session) else { return Ok(()) };
        if let Err(e) = view.validator.set_difficulty(session, d) {
            tracing::warn!(error = %e, "difficulty refused");
            return Ok(());
        }
        self.send_difficulty().await
    }

    /// The hub moved to another pool connection (or lost it).
    async fn on_pool(&mut self, next: Option<PoolView>) -> Result<(), End> {
        let Some(next) = next else { return Ok(()) }; // down: shares answer stale meanwhile
        let Some(view) = &self.view else { return Ok(()) };
        if next.generation == view.generation {
            // The same pool narrowed (or widened) its version mask.
            let mask = self.negotiated_mask(&next);
            let Some(session) = &mut self.session else { return Ok(()) };
            if mask == session.version_mask() {
                return Ok(());
            }
            session.set_version_mask(mask);
            self.view = Some(next);
            let bits = format!("{:08x}", mask.unwrap_or(0));
            let message =
                json!({"id": null, "method": "mining.set_version_mask", "params": [bits]});
            return self.link.send(&message).await;
        }
        let same_space = next.extranonce1 == view.extranonce1
            && next.extranonce2_size == view.extranonce2_size
            && next.index_bytes == view.index_bytes;
        let fits = self.index.is_some_and(|i| i < next.index_limit());
        if !fits || (!same_space && !self.extranonce_subscribed) {
            // The miner cannot be told of a new extranonce: back to the proxy, anew.
            if self.draining.is_none() {
                self.draining = Some((Drain::Reconnect, Instant::now()));
                return self.link.send_reconnect().await;
            }
            return Ok(());
        }
        let old_mask = self.session.as_ref().and_then(Session::version_mask);
        self.start_session(next)?;
        if !same_space
            && let (Some(view), Some(session), Some(index)) =
                (&self.view, &self.session, self.index)
        {
            let en1 = hex::encode(view.miner_extranonce1(index));
            let size = session.extranonce2_size();
            let message =
                json!({"id": null, "method": "mining.set_extranonce", "params": [en1, size]});
            self.link.send(&message).await?;
        }
        let new_mask = self.session.as_ref().and_then(Session::version_mask);
        if new_mask != old_mask {
            // No rolling on the new pool: mask 0, so an AsicBoost miner stops rolling.
            let bits = format!("{:08x}", new_mask.unwrap_or(0));
            let message =
                json!({"id": null, "method": "mining.set_version_mask", "params": [bits]});
            self.link.send(&message).await?;
        }
        self.send_difficulty().await?;
        self.send_newest_job(true).await
    }
}

/// The next event for a subscribed miner (`None`: it fell behind); pending forever before
/// subscribe.
async fn recv_event(events: &mut Option<broadcast::Receiver<HubEvent>>) -> Option<HubEvent> {
    let Some(events) = events else { return std::future::pending().await };
    match events.recv().await {
        Ok(event) => Some(event),
        Err(broadcast::error::RecvError::Lagged(_)) => None,
        // The hub is gone: the proxy is stopping.
        Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
}
