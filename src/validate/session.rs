//! One miner connection: its extranonce1 and extranonce2 size, the negotiated version
//! mask, the history of its share difficulty, and its per-job coinbase midstates.

use std::sync::{Arc, Mutex};

use crate::chain::Target;
use crate::chain::coinbase::CoinbasePrefix;

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
    /// Coinbase midstates over `coinb1 ‖ extranonce1`, by job sequence number.
    prefixes: Mutex<Vec<(u64, Arc<CoinbasePrefix>)>>,
    prefix_slots: usize,
}

impl Session {
    pub(crate) fn new(initial: DifficultyEpoch, prefix_slots: usize) -> Session {
        Session {
            extranonce1: None,
            extranonce2_size: 0,
            version_mask: None,
            difficulty: vec![initial],
            prefixes: Mutex::new(Vec::new()),
            prefix_slots: prefix_slots.max(1),
        }
    }

    /// Records the `mining.subscribe` result (or a `mining.set_extranonce`).
    pub fn set_extranonce(&mut self, extranonce1: Vec<u8>, extranonce2_size: usize) {
        self.extranonce1 = Some(extranonce1);
        self.extranonce2_size = extranonce2_size;
        self.prefixes.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
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

    /// The coinbase midstate for a job, computed on first use by this connection.
    pub(crate) fn coinbase_prefix(
        &self,
        seq: u64,
        coinb1: &[u8],
        extranonce1: &[u8],
    ) -> Arc<CoinbasePrefix> {
        let mut cache = self.prefixes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, p)) = cache.iter().find(|(s, _)| *s == seq) {
            return p.clone();
        }
        let prefix = Arc::new(CoinbasePrefix::new(coinb1, extranonce1));
        if cache.len() >= self.prefix_slots {
            // Jobs come in order: the smallest sequence number is the oldest job.
            let oldest = cache.iter().enumerate().min_by_key(|(_, (s, _))| *s).map(|(i, _)| i);
            if let Some(i) = oldest {
                cache.swap_remove(i);
            }
        }
        cache.push((seq, prefix.clone()));
        prefix
    }
}
