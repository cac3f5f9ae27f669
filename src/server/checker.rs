//! Share checks in batches under load (aggregated mode). For scrypt every miner task
//! hands its share to one checking thread, which takes whatever has queued up since its
//! last round and checks it with [`Validator::check_batch`] (hashed 8 lanes at a time, the
//! work spread over the cores). A share that arrives alone is checked at once, alone:
//! batching adds no wait when the proxy is idle.
//!
//! SHA-256d shares are checked on the miner's own task, one at a time, in parallel on the
//! runtime's threads: a check takes a few microseconds, less than handing it to another
//! thread, and through the proxy batching measured a quarter slower (`examples/proxy_load`,
//! medians of 3: 42 k against 58 k shares/s).

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::chain::Algorithm;
use crate::stratum::Submit;
use crate::validate::{Session, Validator, Verdict};

/// Shares queued for the checking thread, at most; past it a share is checked on the
/// miner's task (the proxy is overloaded: no queue would help).
const QUEUED: usize = 4096;
/// Shares checked in one round, at most (a round answers nobody until it is done).
const MAX_BATCH: usize = 512;
/// Under load (the last round had company), a round waits for this many shares…
const GATHER_SHARES: usize = 16;
/// …or this long, whichever comes first: scrypt lanes are filled instead of padded.
const GATHER_WAIT: Duration = Duration::from_micros(500);

/// A share to check. The miner's session travels with it and comes back with the verdict:
/// the miner task waits for the verdict before it reads its next line anyway.
pub(crate) struct CheckRequest {
    validator: Arc<Validator>,
    session: Session,
    submit: Submit,
    reply: oneshot::Sender<(Session, Verdict)>,
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
    pub(crate) fn start(algorithm: Algorithm) -> std::io::Result<Checker> {
        if algorithm == Algorithm::Sha256d {
            return Ok(Checker::OneAtATime);
        }
        let (requests, queue) = mpsc::sync_channel(QUEUED);
        std::thread::Builder::new()
            .name("sharecheck-checker".into())
            .spawn(move || check_rounds(queue))?;
        Ok(Checker::Batched(requests))
    }

    /// Checks `submit` for `session` on `validator`. `None` only if the checking thread
    /// died (a bug, never bad input): the session is lost with it.
    pub(crate) async fn check(
        &self,
        validator: Arc<Validator>,
        session: Session,
        submit: Submit,
    ) -> Option<(Session, Verdict)> {
        let Checker::Batched(requests) = self else {
            let verdict = validator.check(&session, &submit);
            return Some((session, verdict));
        };
        let (reply, verdict) = oneshot::channel();
        let request = CheckRequest { validator, session, submit, reply };
        match requests.try_send(request) {
            Ok(()) => verdict.await.ok(),
            // A full queue, or no thread (never while a handle lives): checked here.
            Err(mpsc::TrySendError::Full(r) | mpsc::TrySendError::Disconnected(r)) => {
                let verdict = r.validator.check(&r.session, &r.submit);
                Some((r.session, verdict))
            }
        }
    }
}

/// The checking thread: one round per wake-up, as many shares as have queued.
fn check_rounds(queue: mpsc::Receiver<CheckRequest>) {
    let mut round: Vec<CheckRequest> = Vec::with_capacity(MAX_BATCH);
    let mut loaded = false;
    while let Ok(first) = queue.recv() {
        round.push(first);
        round.extend(queue.try_iter().take(MAX_BATCH - 1));
        if loaded {
            let deadline = Instant::now() + GATHER_WAIT;
            while round.len() < GATHER_SHARES {
                let left = deadline.saturating_duration_since(Instant::now());
                match queue.recv_timeout(left) {
                    Ok(next) => round.push(next),
                    Err(_) => break,
                }
            }
            round.extend(queue.try_iter().take(MAX_BATCH - round.len()));
        }
        // A share that came alone means the proxy is idle: the next one is not held.
        loaded = round.len() > 1;
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

fn check_group(validator: &Validator, group: Vec<CheckRequest>) {
    if let [_] = group.as_slice() {
        let r = group.into_iter().next().expect("one request");
        let verdict = r.validator.check(&r.session, &r.submit);
        let _ = r.reply.send((r.session, verdict));
        return;
    }
    let shares: Vec<(&Session, &Submit)> = group.iter().map(|r| (&r.session, &r.submit)).collect();
    let verdicts = validator.check_batch(&shares);
    drop(shares);
    for (r, verdict) in group.into_iter().zip(verdicts) {
        // A miner that disconnected meanwhile no longer wants its answer.
        let _ = r.reply.send((r.session, verdict));
    }
}
