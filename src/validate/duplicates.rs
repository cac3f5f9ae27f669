//! The duplicate filter of one job: the PoW hashes of the shares that passed the
//! difficulty check, so a re-sent share (even with different hex case) is caught.
//!
//! Cost: a remembered share is its 32-byte hash in a `HashSet` slot plus one control
//! byte, at the table's load factor (7/8 at most, 7/16 just after a resize): 37.7–75
//! bytes; 43.3 measured at 200 000 shares (`tests/duplicates_memory.rs`).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
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
}

/// Keys are PoW hashes, already uniformly distributed (a miner cannot choose them without
/// grinding SHA-256d or scrypt): their first 8 bytes are a good table hash as they are.
#[derive(Clone, Copy, Default)]
pub struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_usize(&mut self, _length_prefix: usize) {
        // Every key is 32 bytes: the slice length prefix carries nothing.
    }
    fn write(&mut self, bytes: &[u8]) {
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

type Shard = HashSet<[u8; 32], PrehashedKeyBuilder>;

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
    /// of them allocated up front (spread over the shards, with slack for uneven fill).
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

    /// Remembers `hash` unless already present: atomic, so of N threads inserting the
    /// same hash exactly one sees [`Remembered::New`].
    pub fn remember(&self, hash: &[u8; 32]) -> Remembered {
        // Shard on a byte the table hash does not use.
        let shard = &self.shards[hash[31] as usize % SHARDS];
        let mut set = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if set.contains(hash) {
            return Remembered::Duplicate;
        }
        // Reserve a slot in the global count before inserting.
        if self.count.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Remembered::Full;
        }
        set.insert(*hash);
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
