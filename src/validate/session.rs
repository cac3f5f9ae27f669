//! One miner connection: its extranonce1 and extranonce2 size, the negotiated version
//! mask, the history of its share difficulty, and what it keeps per job (the coinbase
//! midstate, its allowance of remembered shares).

use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::duplicates::Allowance;
use super::job::JobEntry;
use crate::chain::Target;
use crate::chain::coinbase::CoinbasePrefix;
use crate::error::Error;
use crate::stratum::wire::MAX_EXTRANONCE_BYTES;

/// A share difficulty and the first job (by sequence number) it applies to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DifficultyEpoch {
    pub(crate) from_seq: u64,
    pub(crate) difficulty: f64,
    pub(crate) target: Target,
}

/// The state of one miner connection. Mutated in message order by its owner
/// (`&mut self`); read by any number of checking threads (`&self`).
#[derive(Debug)]
pub struct Session {
    pub(crate) extranonce1: Option<Vec<u8>>,
    pub(crate) extranonce2_size: usize,
    pub(crate) version_mask: Option<u32>,
    /// Oldest first; never empty.
    pub(crate) difficulty: Vec<DifficultyEpoch>,
    /// What the connection keeps per job, by job sequence number.
    jobs: Mutex<Vec<Arc<SessionJob>>>,
    job_slots: usize,
    shares_per_job: usize,
}

/// One connection's state for one job.
#[derive(Debug)]
pub(crate) struct SessionJob {
    seq: u64,
    /// The job (not kept alive by the connection): a retired or dropped job's state is
    /// the first to be evicted.
    job: Weak<JobEntry>,
    /// The coinbase midstate over `coinb1 ‖ extranonce1`, made on first use.
    prefix: OnceLock<CoinbasePrefix>,
    /// Shares of this connection the job's duplicate filter may remember.
    pub(crate) allowance: Allowance,
}

impl SessionJob {
    /// The coinbase midstate, computed by the first check that needs it.
    pub(crate) fn prefix(&self, coinb1: &[u8], extranonce1: &[u8]) -> &CoinbasePrefix {
        self.prefix.get_or_init(|| CoinbasePrefix::new(coinb1, extranonce1))
    }

    /// Whether this is the state for `entry` (by identity, not by sequence number alone:
    /// a session used with another validator never takes another pool's midstate).
    pub(crate) fn is_for(&self, entry: &Arc<JobEntry>) -> bool {
        Weak::as_ptr(&self.job) == Arc::as_ptr(entry)
    }

    /// Whether the job is retired (or gone): its state is no longer needed.
    fn is_retired(&self) -> bool {
        self.job.upgrade().is_none_or(|job| job.is_stale())
    }

    /// The same job and allowance (its count kept) for a new extranonce1: no midstate.
    fn for_new_extranonce(&self) -> SessionJob {
        SessionJob {
            seq: self.seq,
            job: self.job.clone(),
            prefix: OnceLock::new(),
            allowance: self.allowance.copied(),
        }
    }
}

impl Session {
    /// A connection remembering per-job state for `job_slots` jobs, and at most
    /// `shares_per_job` of its shares in each job's duplicate filter.
    pub(crate) fn new(
        initial: DifficultyEpoch,
        job_slots: usize,
        shares_per_job: usize,
    ) -> Session {
        Session {
            extranonce1: None,
            extranonce2_size: 0,
            version_mask: None,
            difficulty: vec![initial],
            jobs: Mutex::new(Vec::new()),
            job_slots: job_slots.max(1),
            shares_per_job,
        }
    }

    /// Records the `mining.subscribe` result (or a `mining.set_extranonce`). Both sizes
    /// are bounded by [`MAX_EXTRANONCE_BYTES`]. The coinbase midstates are recomputed for
    /// the new extranonce1; the share allowances carry over (a miner that subscribes
    /// again does not get a fresh allowance on the same jobs).
    pub fn set_extranonce(
        &mut self,
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
    ) -> Result<(), Error> {
        if extranonce1.len() > MAX_EXTRANONCE_BYTES || extranonce2_size > MAX_EXTRANONCE_BYTES {
            return Err(Error::Malformed {
                what: "extranonce",
                reason: format!(
                    "extranonce1 of {} bytes, extranonce2 of {extranonce2_size}: at most \
                     {MAX_EXTRANONCE_BYTES} each",
                    extranonce1.len()
                ),
            });
        }
        self.extranonce1 = Some(extranonce1);
        self.extranonce2_size = extranonce2_size;
        let jobs = self.jobs.get_mut().unwrap_or_else(|p| p.into_inner());
        jobs.retain(|j| !j.is_retired());
        for j in jobs.iter_mut() {
            *j = Arc::new(j.for_new_extranonce());
        }
        Ok(())
    }

    /// Records the version-rolling mask (`mining.configure` result or
    /// `mining.set_version_mask`); `None` if rolling was refused.
    pub fn set_version_mask(&mut self, mask: Option<u32>) {
        self.version_mask = mask;
    }

    /// Whether `mining.subscribe` was answered.
    pub fn is_subscribed(&self) -> bool {
        self.extranonce1.is_some()
    }

    /// The extranonce1, once subscribed.
    pub fn extranonce1(&self) -> Option<&[u8]> {
        self.extranonce1.as_deref()
    }

    /// Bytes of extranonce2 the miner must send.
    pub fn extranonce2_size(&self) -> usize {
        self.extranonce2_size
    }

    /// The negotiated version-rolling mask.
    pub fn version_mask(&self) -> Option<u32> {
        self.version_mask
    }

    /// The share difficulty in force now.
    pub fn difficulty(&self) -> f64 {
        self.current_epoch().difficulty
    }

    pub(crate) fn current_epoch(&self) -> &DifficultyEpoch {
        self.difficulty.last().expect("difficulty history is never empty") // invariant: see message
    }

    /// The difficulty in force when the job with sequence number `seq` was notified.
    pub(crate) fn epoch_at(&self, seq: u64) -> &DifficultyEpoch {
        self.difficulty.iter().rev().find(|e| e.from_seq <= seq).unwrap_or(&self.difficulty[0])
    }

    /// Appends a difficulty change, forgetting epochs no live job can refer to.
    pub(crate) fn push_difficulty(&mut self, epoch: DifficultyEpoch, oldest_live_seq: u64) {
        // Keep the last epoch at or before the oldest live job, and everything after it.
        let keep_from =
            self.difficulty.iter().rposition(|e| e.from_seq <= oldest_live_seq).unwrap_or(0);
        self.difficulty.drain(..keep_from);
        if self.difficulty.last().is_some_and(|e| e.from_seq == epoch.from_seq) {
            // Several changes before the next job: only the last one was ever in force.
            self.difficulty.pop();
        }
        self.difficulty.push(epoch);
    }

    /// This connection's state for a live job (its coinbase midstate, its share
    /// allowance), made on first use. A full cache evicts a retired job's state, so a live
    /// job's allowance is never reset (the cache has room for every live job and more).
    pub(crate) fn job_state(&self, entry: &Arc<JobEntry>) -> Arc<SessionJob> {
        let mut cache = self.lock_jobs();
        if let Some(found) = cache.iter().find(|j| j.is_for(entry)) {
            return found.clone();
        }
        if cache.len() >= self.job_slots {
            let victim = cache
                .iter()
                .position(|j| j.is_retired())
                // Only when the caller keeps more live jobs than the cache has slots.
                .or_else(|| cache.iter().enumerate().min_by_key(|(_, j)| j.seq).map(|(i, _)| i));
            if let Some(i) = victim {
                cache.swap_remove(i);
            }
        }
        let made = Arc::new(SessionJob {
            seq: entry.seq,
            job: Arc::downgrade(entry),
            prefix: OnceLock::new(),
            allowance: Allowance::new(self.shares_per_job),
        });
        cache.push(made.clone());
        made
    }

    fn lock_jobs(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SessionJob>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }
}
