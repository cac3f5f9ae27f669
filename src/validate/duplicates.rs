//! The duplicate filter of one job: the PoW hashes of the shares that passed the
//! difficulty check, so a re-sent share (even with different hex case) is caught.
//!
//! Cost: a remembered share is its 32-byte hash in a `HashSet` slot plus one control
//! byte, at the table's load factor (7/8 at most, 7/16 just after a resize): 37.7–75
//! bytes; 43.3 measured at 200 000 shares (`tests/duplicates_memory.rs`).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};

// With the `loom` feature the filter's synchronisation is loom's, so `tests/loom_duplicates.rs`
// can explore every interleaving of concurrent `remember` calls.
#[cfg(feature = "loom")]
use loom::sync::Mutex;
#[cfg(feature = "loom")]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(feature = "loom"))]
use std::sync::Mutex;
#[cfg(not(feature = "loom"))]
use std::sync::atomic::{AtomicUsize, Ordering};

/// Independent shards, so threads checking shares of one job rarely wait on each other.
const SHARDS: usize = 16;

/// The outcome of remembering a share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remembered {
    /// First time this hash is seen.
    New,
    /// Seen before.
    Duplicate,
    /// The filter is at capacity; the share was not remembered.
    Full,
    /// The connection has used its allowance of shares on this job; the share was not
    /// remembered.
    AllowanceSpent,
}

/// How many shares one connection may have remembered in one job's filter: a miner
/// flooding a job at a very low difficulty exhausts its own allowance, not the job.
#[derive(Debug)]
pub struct Allowance {
    used: AtomicUsize,
    limit: usize,
}

impl Allowance {
    /// An unused allowance of `limit` shares.
    pub fn new(limit: usize) -> Allowance {
        Allowance { used: AtomicUsize::new(0), limit }
    }

    /// Shares counted against it so far (blocks included).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The most shares it admits.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// An allowance with the same limit and count (taken now).
    pub fn copied(&self) -> Allowance {
        Allowance { used: AtomicUsize::new(self.used()), limit: self.limit }
    }
}

/// A table key: a PoW hash (internal byte order, i.e. the little-endian integer).
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShareKey([u8; 32]);

impl ShareKey {
    /// The shard: the least significant byte of the PoW value. A share meets its target
    /// through its high bytes being zero; its low bytes stay uniform at any difficulty.
    fn shard(&self) -> usize {
        self.0[0] as usize % SHARDS
    }
}

impl Hash for ShareKey {
    /// Bytes 8..16 of the PoW value: uniform at any realistic difficulty (a miner cannot
    /// choose them without grinding the PoW), and independent of the shard byte.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.0[8..16]);
        state.write_u64(u64::from_le_bytes(low));
    }
}

/// The table hasher: passes on the u64 a [`ShareKey`] gives it.
#[derive(Clone, Copy, Default)]
pub struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = word;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `ShareKey`; any other input is folded in 8 bytes at a time.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}

/// Builds [`PrehashedKey`] hashers.
#[derive(Clone, Copy, Default)]
pub struct PrehashedKeyBuilder;

impl BuildHasher for PrehashedKeyBuilder {
    type Hasher = PrehashedKey;
    fn build_hasher(&self) -> PrehashedKey {
        PrehashedKey(0)
    }
}

type Shard = HashSet<ShareKey, PrehashedKeyBuilder>;

/// A bounded, thread-safe set of share hashes.
pub struct DuplicateFilter {
    shards: [Mutex<Shard>; SHARDS],
    count: AtomicUsize,
    capacity: usize,
}

impl std::fmt::Debug for DuplicateFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplicateFilter")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl DuplicateFilter {
    /// An empty filter remembering at most `capacity` shares.
    pub fn new(capacity: usize) -> Self {
        Self::with_reserve(capacity, 0)
    }

    /// An empty filter remembering at most `capacity` shares, with room for `reserve`
    /// of them allocated up front (spread over the shards, with slack for uneven fill:
    /// 2048 shares put at most ~170 in one shard in practice; each shard asks for 176,
    /// which the table rounds up to 224).
    pub fn with_reserve(capacity: usize, reserve: usize) -> Self {
        let per_shard =
            if reserve == 0 { 0 } else { reserve / SHARDS + reserve / (4 * SHARDS) + 16 };
        DuplicateFilter {
            shards: std::array::from_fn(|_| {
                Mutex::new(HashSet::with_capacity_and_hasher(per_shard, PrehashedKeyBuilder))
            }),
            count: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Remembers `hash` unless already present, within the filter's capacity: atomic,
    /// so of N threads inserting the same hash exactly one sees [`Remembered::New`].
    pub fn remember(&self, hash: &[u8; 32]) -> Remembered {
        self.insert(hash, None, false)
    }

    /// [`DuplicateFilter::remember`] for a share of one connection, counted against its
    /// `allowance` on this job as well as the filter's capacity.
    pub fn remember_share(&self, hash: &[u8; 32], allowance: &Allowance) -> Remembered {
        self.insert(hash, Some(allowance), false)
    }

    /// Remembers a block solution whatever the limits (a block is never refused): the
    /// answer is [`Remembered::New`] or [`Remembered::Duplicate`]. It still counts toward
    /// the capacity and the allowance, if one is given.
    pub fn remember_block(&self, hash: &[u8; 32], allowance: Option<&Allowance>) -> Remembered {
        self.insert(hash, allowance, true)
    }

    fn insert(&self, hash: &[u8; 32], allowance: Option<&Allowance>, always: bool) -> Remembered {
        let key = ShareKey(*hash);
        let shard = &self.shards[key.shard()];
        let mut set = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if set.contains(&key) {
            return Remembered::Duplicate;
        }
        // Take a slot in the counts before inserting (under the shard lock, so a repeat
        // of this hash waits and then sees it).
        if let Some(a) = allowance
            && a.used.fetch_add(1, Ordering::Relaxed) >= a.limit
            && !always
        {
            a.used.fetch_sub(1, Ordering::Relaxed);
            return Remembered::AllowanceSpent;
        }
        if self.count.fetch_add(1, Ordering::Relaxed) >= self.capacity && !always {
            self.count.fetch_sub(1, Ordering::Relaxed);
            if let Some(a) = allowance {
                a.used.fetch_sub(1, Ordering::Relaxed);
            }
            return Remembered::Full;
        }
        set.insert(key);
        Remembered::New
    }

    /// Shares remembered.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most shares remembered before [`Remembered::Full`] (blocks go beyond it).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of table memory held now (slots and control bytes of every shard).
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let cap = s.lock().unwrap_or_else(|p| p.into_inner()).capacity();
                if cap == 0 {
                    return 0;
                }
                // hashbrown: buckets = next power of two of cap·8/7; 32 + 1 bytes each.
                let buckets = (cap * 8 / 7).next_power_of_two().max(4);
                buckets * 33 + 16
            })
            .sum()
    }
}
