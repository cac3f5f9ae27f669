//! Checking many submissions at once: shares fan out over cores with rayon, headers are
//! hashed in SIMD lanes, and the duplicate filter is applied in input order, so the
//! verdicts equal sequential checks.

use rayon::prelude::*;

use super::check::{Evaluated, LookupMemo, Prepared, ReadyShare, Validator};
use super::session::Session;
use super::verdict::Verdict;
use crate::chain::Algorithm;
use crate::hash::sha256::{ResumeBuffers, ResumeMessage};
use crate::hash::{self, Midstate, Platform, Sha256Path, sha256};
use crate::stratum::Submit;

/// Shares handed to one worker at a time, at most: enough to fill the hash lanes twice.
const CHUNK: usize = 32;
/// Lanes of the widest kernels (8-way): a part is whole groups of them.
const LANE_GROUP: usize = 8;
/// Shares per thread up to which a batch is cut in one part per thread.
const SMALL_PART: usize = 4 * CHUNK;

impl Validator {
    /// Checks `shares` (each with its connection) and returns one verdict per share, in
    /// order: exactly what calling [`Validator::check`] on each in turn returns.
    pub fn check_batch(&self, shares: &[(&Session, &Submit)]) -> Vec<Verdict> {
        // A small batch (a proxy's round) is cut in one part per thread, in whole lane
        // groups, each part in chunks of at most `CHUNK`: 200 shares on 2 threads go
        // (32, 32, 32, 8) + (32, 32, 32), not 6 × 32 + 8 with 4 chunks on one thread. A
        // large one goes by `CHUNK`s. Each chunk writes its results in place.
        let n = shares.len();
        let threads = rayon::current_num_threads().max(1);
        let per_thread = n.div_ceil(threads).next_multiple_of(LANE_GROUP);
        let part = if per_thread <= SMALL_PART { per_thread.max(LANE_GROUP) } else { CHUNK };
        let mut evaluated: Vec<Option<Evaluated>> =
            std::iter::repeat_with(|| None).take(n).collect();
        shares.par_chunks(part).zip(evaluated.par_chunks_mut(part)).for_each(|(shares, out)| {
            for (chunk, out) in shares.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
                self.evaluate_chunk(chunk, out);
            }
        });
        let mut verdicts = Vec::with_capacity(n);
        verdicts.extend(evaluated.into_iter().flatten().map(|e| self.commit(e)));
        debug_assert_eq!(verdicts.len(), n, "one verdict per share");
        verdicts
    }

    /// Steps 1–7 for a chunk (at most `CHUNK` shares), hashing the prepared headers
    /// together, into `out` (one slot per share). No allocation per share.
    fn evaluate_chunk(&self, chunk: &[(&Session, &Submit)], out: &mut [Option<Evaluated>]) {
        debug_assert!(chunk.len() <= CHUNK && out.len() == chunk.len());
        let mut prepared: [Option<Prepared>; CHUNK] = std::array::from_fn(|_| None);
        let mut memo = LookupMemo::for_chunk();
        for (slot, (session, submit)) in prepared.iter_mut().zip(chunk) {
            *slot = Some(self.prepare_before_coinbase_hash(session, submit, &mut memo));
        }
        hash_coinbases(&mut prepared, chunk);
        self.fold_merkle_branches(prepared.iter_mut().flatten());
        let mut headers = [[0u8; 80]; CHUNK];
        let mut ready = 0;
        for p in prepared.iter().flatten() {
            if let Prepared::Ready(r) = p {
                headers[ready] = r.header;
                ready += 1;
            }
        }
        let mut hashes = [[0u8; 32]; CHUNK];
        match self.algorithm() {
            Algorithm::Scrypt => hash::scrypt_headers(&headers[..ready], &mut hashes[..ready]),
            Algorithm::Sha256d => hash::sha256d_headers(&headers[..ready], &mut hashes[..ready]),
        }
        let mut next_hash = 0;
        for ((slot, p), (session, _)) in out.iter_mut().zip(prepared).zip(chunk) {
            *slot = p.map(|p| match p {
                Prepared::Final(v) => Evaluated::Final(v),
                Prepared::Ready(r) => {
                    next_hash += 1;
                    self.judge(session, r, &hashes[next_hash - 1])
                }
            });
        }
    }

    /// Folds every ready share's merkle branch into its header, as many shares at a
    /// time as the SHA-256 path has lanes, grouping shares with equal branch lengths
    /// (shares of one job always are). No allocation: groups live on the stack.
    fn fold_merkle_branches<'p>(&self, prepared: impl Iterator<Item = &'p mut Prepared>) {
        let path = Platform::get().sha256();
        let width = path.batch_width().clamp(1, GROUP);
        let mut group: [Option<&mut ReadyShare>; GROUP] = Default::default();
        let mut len = 0;
        for p in prepared {
            let Prepared::Ready(share) = p else { continue };
            let depth = share.entry.job.branch.len();
            if len > 0 && group[0].as_ref().is_some_and(|g| g.entry.job.branch.len() != depth) {
                fold_group(path, &mut group[..len]);
                len = 0;
            }
            group[len] = Some(share);
            len += 1;
            if len == width {
                fold_group(path, &mut group[..len]);
                len = 0;
            }
        }
        fold_group(path, &mut group[..len]);
    }
}

/// Fills in the coinbase txid of every ready share, four shares in step where the SHA-256
/// path interleaves streams and their tails have as many blocks (shares of one job and
/// connection do), the rest in pairs or alone.
fn hash_coinbases(prepared: &mut [Option<Prepared>], chunk: &[(&Session, &Submit)]) {
    debug_assert!(prepared.len() <= CHUNK && chunk.len() <= CHUNK);
    let mut txids = [[0u8; 32]; CHUNK];
    let mut slots = [0usize; CHUNK];
    let mut count = 0;
    {
        // Fills the slots past `count`, which are never hashed.
        let (unused, _) = Midstate::of_prefix_with(Sha256Path::PORTABLE, &[]);
        let mut messages = [ResumeMessage::new(&unused, [&[]; 3]); CHUNK];
        for (i, (slot, (session, _))) in prepared.iter().zip(chunk).enumerate() {
            let Some(Prepared::Ready(share)) = slot else { continue };
            messages[count] = share.coinbase_message(session);
            slots[count] = i;
            count += 1;
        }
        sha256::sha256d_resume_many(
            &messages[..count],
            &mut txids[..count],
            &mut ResumeBuffers::default(),
        );
    }
    for (&slot, txid) in slots[..count].iter().zip(txids) {
        if let Some(Some(Prepared::Ready(share))) = prepared.get_mut(slot) {
            share.coinbase_txid = txid;
        }
    }
}

/// Shares folded together at most.
const GROUP: usize = 8;

/// Folds a group of shares whose branches have equal length, and clears the group.
fn fold_group(path: Sha256Path, group: &mut [Option<&mut ReadyShare>]) {
    let mut roots = [[0u8; 32]; GROUP];
    {
        let mut items: [([u8; 32], &[[u8; 32]]); GROUP] = [([0u8; 32], &[]); GROUP];
        for (item, share) in items.iter_mut().zip(group.iter().flatten()) {
            // Filled by `hash_coinbases` (a zero txid is one chance in 2^256).
            debug_assert_ne!(share.coinbase_txid, [0; 32], "coinbase hashed before the fold");
            *item = (share.coinbase_txid, &share.entry.job.branch);
        }
        sha256::fold_branch_group(path, &mut items[..group.len()]);
        for (root, (folded, _)) in roots.iter_mut().zip(items) {
            *root = folded;
        }
    }
    for (slot, root) in group.iter_mut().zip(roots) {
        if let Some(share) = slot.take() {
            share.complete_header(&root);
        }
    }
}
