//! Jobs: the per-job precomputation done once at notify time, and the registry that keeps
//! a bounded number of live jobs, retires them on `clean_jobs`, and remembers the ids of
//! retired ones so their shares are answered `stale`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::config::ValidatorConfig;
use super::duplicates::DuplicateFilter;
use crate::chain::coinbase::CoinbaseEnd;
use crate::chain::{CompactTarget, Hash256, Target};
use crate::error::{Error, quote_input};
use crate::stratum::Notify;
use crate::stratum::wire::MAX_EXTRANONCE_BYTES;

/// A job as the check needs it: everything that does not depend on the miner's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedJob {
    /// Job id.
    pub id: String,
    /// Previous block hash, internal order.
    pub prevhash: Hash256,
    /// Coinbase part before the extranonces.
    pub coinb1: Vec<u8>,
    /// Coinbase part after the extranonces.
    pub coinb2: Vec<u8>,
    /// Merkle branch, internal order.
    pub branch: Vec<[u8; 32]>,
    /// Block version before rolling.
    pub version: u32,
    /// Network nBits.
    pub nbits: CompactTarget,
    /// The network target, `None` if nBits is invalid (then no share is a block).
    pub network_target: Option<Target>,
    /// Job ntime.
    pub ntime: u32,
    /// Aux chain work (merged mining), with each chain's place in the commitment.
    pub(crate) aux: Vec<super::aux_work::AuxSlot>,
}

impl PreparedJob {
    /// Checks a notify against the limits and precomputes what it can.
    pub fn new(notify: Notify, config: &ValidatorConfig) -> Result<PreparedJob, Error> {
        // The extranonces a connection adds count too: a whole coinbase stays in bounds.
        let coinbase = notify.coinb1.len() + notify.coinb2.len() + 2 * MAX_EXTRANONCE_BYTES;
        if coinbase > config.max_coinbase_bytes {
            return Err(Error::JobRefused(format!(
                "job {}: coinbase of up to {coinbase} bytes (coinb1, coinb2 and \
                 {MAX_EXTRANONCE_BYTES} bytes for each extranonce), limit {}",
                quote_input(&notify.job_id),
                config.max_coinbase_bytes
            )));
        }
        if notify.merkle_branch.len() > config.max_branch_len {
            return Err(Error::JobRefused(format!(
                "job {}: merkle branch has {} entries, limit {}",
                quote_input(&notify.job_id),
                notify.merkle_branch.len(),
                config.max_branch_len
            )));
        }
        let nbits = CompactTarget(notify.nbits);
        Ok(PreparedJob {
            id: notify.job_id,
            prevhash: notify.prevhash,
            coinb1: notify.coinb1,
            coinb2: notify.coinb2,
            branch: notify.merkle_branch,
            version: notify.version,
            nbits,
            network_target: nbits.to_pow_target(),
            ntime: notify.ntime,
            aux: Vec::new(),
        })
    }

    /// [`PreparedJob::new`] with aux chain work. The job, and the aux work if its
    /// commitment is in the coinbase (else why not).
    pub fn with_aux(
        notify: Notify,
        aux: &[super::aux_work::AuxWork],
        config: &ValidatorConfig,
    ) -> Result<(PreparedJob, Result<(), Error>), Error> {
        let slots = super::aux_work::prepare(&notify.job_id, &notify.coinb1, &notify.coinb2, aux);
        let mut job = PreparedJob::new(notify, config)?;
        let aux = match slots {
            Ok(slots) => {
                job.aux = slots;
                Ok(())
            }
            Err(e) => Err(e),
        };
        Ok((job, aux))
    }
}

/// A live job with its sequence number, staleness and duplicate filter.
#[derive(Debug)]
pub struct JobEntry {
    /// The prepared job.
    pub job: PreparedJob,
    /// Order of notification (0, 1, 2, ...), shared by the whole registry.
    pub seq: u64,
    stale: AtomicBool,
    /// Shared with the entry of the identical job if it is notified again after being
    /// retired (see [`JobRegistry::add`]).
    pub(crate) duplicates: Arc<DuplicateFilter>,
    /// The scheduled end of coinb2, made for the first connection's extranonce sizes.
    coinbase_end: OnceLock<Option<CoinbaseEnd>>,
}

impl JobEntry {
    /// The end of this job's coinb2 with its blocks' schedules, for coinbases with
    /// `before_coinb2` bytes before coinb2: made once, for the first such count asked (a
    /// proxy's connections all have the same extranonce sizes); `None` for another count.
    pub(crate) fn coinbase_end(&self, before_coinb2: u64) -> Option<&CoinbaseEnd> {
        self.coinbase_end
            .get_or_init(|| CoinbaseEnd::new(&self.job.coinb2, before_coinb2))
            .as_ref()
            .filter(|end| end.before_coinb2() == before_coinb2)
    }

    /// Whether the job was made stale.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    pub(crate) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }
}

/// What a job id refers to.
#[derive(Clone, Debug)]
pub enum JobLookup {
    /// A live job.
    Live(Arc<JobEntry>),
    /// A job made stale or retired.
    Stale,
    /// Never seen (or forgotten long ago).
    NotFound,
}

#[derive(Default)]
struct Jobs {
    live: HashMap<String, Arc<JobEntry>>,
    order: VecDeque<String>,
    stale_ids: VecDeque<String>,
    /// The most recently retired or replaced entries, newest last, so the identical job
    /// notified again finds the shares it has seen.
    retired: VecDeque<Arc<JobEntry>>,
    /// Entries to drop once the lock is released (freeing a filter takes time).
    dropped: Vec<Arc<JobEntry>>,
}

impl Jobs {
    fn retire(&mut self, id: &str, config: &ValidatorConfig) {
        if let Some(entry) = self.live.remove(id) {
            self.order.retain(|o| o != id);
            self.stale_ids.push_back(id.to_string());
            while self.stale_ids.len() > config.max_stale_ids {
                self.stale_ids.pop_front();
            }
            self.keep_retired(entry, config);
        }
    }

    fn keep_retired(&mut self, entry: Arc<JobEntry>, config: &ValidatorConfig) {
        entry.mark_stale();
        self.retired.push_back(entry);
        while self.retired.len() > config.retired_jobs_kept {
            if let Some(old) = self.retired.pop_front() {
                self.dropped.push(old);
            }
        }
    }
}

/// The registry of jobs notified by one upstream.
pub struct JobRegistry {
    jobs: RwLock<Jobs>,
    next_seq: AtomicU64,
}

impl Default for JobRegistry {
    fn default() -> Self {
        JobRegistry { jobs: RwLock::new(Jobs::default()), next_seq: AtomicU64::new(0) }
    }
}

impl JobRegistry {
    /// The sequence number the next notified job will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.load(Ordering::Acquire)
    }

    /// The sequence number of the oldest live job (or `next_seq` if none).
    pub fn oldest_live_seq(&self) -> u64 {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        jobs.live.values().map(|e| e.seq).min().unwrap_or_else(|| self.next_seq())
    }

    /// Adds a job. `clean_jobs` retires every earlier job; past the live limit the oldest
    /// retires. A re-used id with a different job replaces its predecessor. The identical
    /// job notified again (pools re-broadcast on reconnect or periodically) keeps what it
    /// has seen: a live one keeps its entry (same sequence number, same duplicate filter);
    /// one retired not long ago (among the last `retired_jobs_kept`) comes back live with
    /// a new sequence number and its old duplicate filter.
    pub fn add(
        &self,
        job: PreparedJob,
        clean_jobs: bool,
        config: &ValidatorConfig,
    ) -> Arc<JobEntry> {
        // The filter's reserve (~135 KB) is allocated before the lock is taken.
        let fresh = Arc::new(DuplicateFilter::with_reserve(
            config.max_shares_per_job,
            config.reserve_shares_per_job.min(config.max_shares_per_job),
        ));
        let mut jobs = self.jobs.write().unwrap_or_else(|p| p.into_inner());
        let same = jobs.live.get(&job.id).filter(|e| e.job == job).cloned();
        // Looked up before `clean_jobs` fills the ring with the jobs it retires.
        let seen = match same {
            Some(_) => None,
            None => jobs.retired.iter().position(|e| e.job == job),
        };
        let revived = seen.and_then(|i| jobs.retired.remove(i));
        if clean_jobs {
            let ids: Vec<String> = jobs.order.iter().filter(|id| **id != job.id).cloned().collect();
            for id in ids {
                jobs.retire(&id, config);
            }
        }
        let entry = match same {
            Some(entry) => {
                // Notified again: the newest job as far as the live-job limit goes.
                jobs.order.retain(|o| *o != entry.job.id);
                jobs.order.push_back(entry.job.id.clone());
                entry
            }
            None => {
                if let Some(old) = jobs.live.remove(&job.id) {
                    jobs.order.retain(|o| *o != job.id);
                    jobs.keep_retired(old, config);
                }
                jobs.stale_ids.retain(|s| *s != job.id);
                let duplicates = match revived {
                    Some(retired) => retired.duplicates.clone(),
                    None => fresh,
                };
                let seq = self.next_seq.fetch_add(1, Ordering::AcqRel);
                let entry = Arc::new(JobEntry {
                    seq,
                    stale: AtomicBool::new(false),
                    duplicates,
                    coinbase_end: OnceLock::new(),
                    job,
                });
                jobs.order.push_back(entry.job.id.clone());
                jobs.live.insert(entry.job.id.clone(), entry.clone());
                while jobs.live.len() > config.max_live_jobs.max(1) {
                    let oldest = jobs.order.front().cloned().expect("order tracks live"); // invariant: see message
                    jobs.retire(&oldest, config);
                }
                entry
            }
        };
        let dropped = std::mem::take(&mut jobs.dropped);
        drop(jobs);
        drop(dropped);
        entry
    }

    /// Finds a job by id.
    pub fn lookup(&self, id: &str) -> JobLookup {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = jobs.live.get(id) {
            if e.is_stale() {
                return JobLookup::Stale;
            }
            return JobLookup::Live(e.clone());
        }
        if jobs.stale_ids.iter().any(|s| s == id) {
            return JobLookup::Stale;
        }
        JobLookup::NotFound
    }

    /// A job still held, stale or not (a stale job carrying aux work can still make aux
    /// blocks: the aux chain does not look at the parent's previous hash).
    pub(crate) fn held(&self, id: &str) -> Option<Arc<JobEntry>> {
        let jobs = self.jobs.read().unwrap_or_else(|p| p.into_inner());
        // Live (made stale by a clean job), or among the retired ones kept, newest first.
        jobs.live.get(id).or_else(|| jobs.retired.iter().rev().find(|e| e.job.id == id)).cloned()
    }

    /// Number of live jobs.
    pub fn live_count(&self) -> usize {
        self.jobs.read().unwrap_or_else(|p| p.into_inner()).live.len()
    }
}
