//! Share checks in batches under load (aggregated mode). For scrypt every miner task
//! hands its shares (those the miner sent in one go) to one checking thread, which takes
//! whatever has queued up since its last round and checks it with
//! [`Validator::check_batch`] (hashed 8 lanes at a time, the round split over the cores in
//! whole lane groups). A share that arrives alone is checked at once, alone: batching adds
//! no wait when the proxy is idle.
//!
//! SHA-256d shares are checked on the miner's own task, one at a time, in parallel on the
//! runtime's threads: a check takes a few microseconds, less than handing it to another
//! thread, and through the proxy batching measured a quarter slower (`examples/proxy_load`,
//! medians of 3: 42 k against 58 k shares/s).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::stats::Stats;
use crate::chain::Algorithm;
use crate::stratum::Submit;
use crate::validate::{Reason, Session, Validator, Verdict};

/// Shares queued for the checking thread, at most; past it a share is checked on the
/// miner's task (the proxy is overloaded: no queue would help).
const QUEUED: usize = 4096;
/// Shares checked in one round, at most (a round answers nobody until it is done).
const MAX_BATCH: usize = 512;
/// Under load, how long a round waits for the miners of the last one to come back.
const GATHER_WAIT: Duration = Duration::from_micros(500);

/// A miner's shares to check. The miner's session travels with them and comes back with
/// the verdicts: the miner task waits for them before it reads its next lines anyway.
pub(crate) struct CheckRequest {
    validator: Arc<Validator>,
    session: Session,
    submits: Vec<Submit>,
    reply: oneshot::Sender<(Session, Vec<Verdict>)>,
}

/// The handle miner tasks check through; a checking thread stops when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) enum Checker {
    /// On the caller's task (SHA-256d).
    OneAtATime,
    /// In rounds on the checking thread (scrypt).
    Batched(mpsc::SyncSender<CheckRequest>),
}

impl Checker {
    /// The checker for `algorithm` (for scrypt, the checking thread is started).
    pub(crate) fn start(algorithm: Algorithm, stats: Arc<Stats>) -> std::io::Result<Checker> {
        if algorithm == Algorithm::Sha256d {
            return Ok(Checker::OneAtATime);
        }
        let (requests, queue) = mpsc::sync_channel(QUEUED);
        std::thread::Builder::new()
            .name("sharecheck-checker".into())
            .spawn(move || check_rounds(queue, &stats))?;
        Ok(Checker::Batched(requests))
    }

    /// Checks `submits`, in order, for `session` on `validator`: exactly what checking
    /// each in turn gives. `None` only if the checking thread died (a bug, never bad
    /// input): the session is lost with it.
    pub(crate) async fn check(
        &self,
        validator: Arc<Validator>,
        session: Session,
        submits: Vec<Submit>,
    ) -> Option<(Session, Vec<Verdict>)> {
        let one_by_one = |validator: &Validator, session: &Session, submits: &[Submit]| {
            submits.iter().map(|submit| validator.check(session, submit)).collect()
        };
        let Checker::Batched(requests) = self else {
            let verdicts = one_by_one(&validator, &session, &submits);
            return Some((session, verdicts));
        };
        if submits.is_empty() {
            return Some((session, Vec::new()));
        }
        let (reply, verdicts) = oneshot::channel();
        let request = CheckRequest { validator, session, submits, reply };
        match requests.try_send(request) {
            Ok(()) => verdicts.await.ok(),
            // A full queue, or no thread (never while a handle lives): checked here.
            Err(mpsc::TrySendError::Full(r) | mpsc::TrySendError::Disconnected(r)) => {
                let verdicts = one_by_one(&r.validator, &r.session, &r.submits);
                Some((r.session, verdicts))
            }
        }
    }
}

/// The checking thread: one round per wake-up, as many shares as have queued.
fn check_rounds(queue: mpsc::Receiver<CheckRequest>, stats: &Stats) {
    let mut round: Vec<CheckRequest> = Vec::with_capacity(MAX_BATCH);
    // Shares in the last round: under load its miners come back one by one as their
    // answers reach them, and the next round waits for them briefly (lanes filled rather
    // than padded). After a share that came alone, nothing is waited for.
    let mut last_round = 1;
    while let Ok(first) = queue.recv() {
        let mut shares = first.submits.len();
        round.push(first);
        while shares < MAX_BATCH {
            let Ok(next) = queue.try_recv() else { break };
            shares += next.submits.len();
            round.push(next);
        }
        let deadline = Instant::now() + GATHER_WAIT;
        while round.len() < last_round && shares < MAX_BATCH {
            match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(next) => {
                    shares += next.submits.len();
                    round.push(next);
                }
                Err(_) => break,
            }
        }
        last_round = round.len();
        stats.check_round(shares);
        // Usually one validator (one pool connection); during a pool switch, two.
        while !round.is_empty() {
            let validator = round[0].validator.clone();
            let (same, rest): (Vec<_>, Vec<_>) =
                round.drain(..).partition(|r| Arc::ptr_eq(&r.validator, &validator));
            round = rest;
            check_group(&validator, same);
        }
    }
}

/// Checks one validator's shares and sends each miner its verdicts with its session.
fn check_group(validator: &Validator, group: Vec<CheckRequest>) {
    let mut verdicts = {
        let shares: Vec<(&Session, &Submit)> = group
            .iter()
            .flat_map(|r| r.submits.iter().map(move |submit| (&r.session, submit)))
            .collect();
        check_spread(validator, &shares).into_iter()
    };
    for r in group {
        let mine: Vec<Verdict> = verdicts.by_ref().take(r.submits.len()).collect();
        // A miner that disconnected meanwhile no longer wants its answer.
        let _ = r.reply.send((r.session, mine));
    }
}

/// The round's verdicts, in order (`check_batch` spreads the round over the cores, in
/// whole lane groups, and applies the duplicate filter in order: a miner's repeated share
/// is the duplicate, never its first sending).
fn check_spread(validator: &Validator, shares: &[(&Session, &Submit)]) -> Vec<Verdict> {
    if let [(session, submit)] = shares {
        return vec![check_one(validator, session, submit)];
    }
    std::panic::catch_unwind(AssertUnwindSafe(|| validator.check_batch(shares))).unwrap_or_else(
        |_| {
            // A panic is a bug, never bad input. The round is checked again, one share at a
            // time (a share it had already remembered answers duplicate): the sessions
            // still go back and every share gets a verdict.
            tracing::error!("a batch check panicked: checking its shares one by one");
            shares.iter().map(|(session, submit)| check_one(validator, session, submit)).collect()
        },
    )
}

/// One share, a panic answered as malformed (and logged) rather than losing the session.
fn check_one(validator: &Validator, session: &Session, submit: &Submit) -> Verdict {
    std::panic::catch_unwind(AssertUnwindSafe(|| validator.check(session, submit))).unwrap_or_else(
        |_| {
            tracing::error!("a share check panicked");
            Verdict::rejected(Reason::Malformed)
        },
    )
}
