//! Checking many submissions at once: shares fan out over cores with rayon, headers are
//! hashed in SIMD lanes, and the duplicate filter is applied in input order, so the
//! verdicts equal sequential checks.

use rayon::prelude::*;

use super::check::{Evaluated, Prepared, ReadyShare, Validator};
use super::session::Session;
use super::verdict::Verdict;
use crate::chain::{Algorithm, merkle};
use crate::hash::{self, Platform, sha256};
use crate::stratum::Submit;

/// Shares handed to one worker at a time: enough to fill the hash lanes twice.
const CHUNK: usize = 32;

impl Validator {
    /// Checks `shares` (each with its connection) and returns one verdict per share, in
    /// order: exactly what calling [`Validator::check`] on each in turn returns.
    pub fn check_batch(&self, shares: &[(&Session, &Submit)]) -> Vec<Verdict> {
        let evaluated: Vec<Evaluated> =
            shares.par_chunks(CHUNK).flat_map_iter(|chunk| self.evaluate_chunk(chunk)).collect();
        evaluated.into_iter().map(|e| self.commit(e)).collect()
    }

    /// Steps 1–7 for a chunk, hashing the prepared headers together.
    fn evaluate_chunk(&self, chunk: &[(&Session, &Submit)]) -> Vec<Evaluated> {
        let mut prepared: Vec<Prepared> =
            chunk.iter().map(|(s, sub)| self.prepare(s, sub)).collect();
        self.fold_merkle_branches(&mut prepared);
        let headers: Vec<[u8; 80]> = prepared
            .iter()
            .filter_map(|p| match p {
                Prepared::Ready(r) => Some(r.header),
                Prepared::Final(_) => None,
            })
            .collect();
        let mut hashes = vec![[0u8; 32]; headers.len()];
        match self.algorithm() {
            Algorithm::Scrypt => hash::scrypt_headers(&headers, &mut hashes),
            Algorithm::Sha256d => hash::sha256d_headers(&headers, &mut hashes),
        }
        let mut hashes = hashes.iter();
        prepared
            .into_iter()
            .zip(chunk)
            .map(|(p, (session, _))| match p {
                Prepared::Final(v) => Evaluated::Final(v),
                Prepared::Ready(r) => {
                    self.judge(session, r, hashes.next().expect("one hash per header"))
                }
            })
            .collect()
    }
}

impl Validator {
    /// Folds every ready share's merkle branch into its header, two shares at a time where
    /// the branches have equal length (shares of one job always do).
    fn fold_merkle_branches(&self, prepared: &mut [Prepared]) {
        let path = Platform::get().sha256;
        let ready = prepared.iter_mut().filter_map(|p| match p {
            Prepared::Ready(r) => Some(r),
            Prepared::Final(_) => None,
        });
        let mut waiting: Option<&mut ReadyShare> = None;
        for share in ready {
            match waiting.take() {
                Some(first) if first.entry.job.branch.len() == share.entry.job.branch.len() => {
                    let (r0, r1) = sha256::fold_branch_pair(
                        path,
                        &first.coinbase_txid,
                        &first.entry.job.branch,
                        &share.coinbase_txid,
                        &share.entry.job.branch,
                    );
                    first.complete_header(&r0);
                    share.complete_header(&r1);
                }
                Some(first) => {
                    fold_one(first);
                    waiting = Some(share);
                }
                None => waiting = Some(share),
            }
        }
        if let Some(last) = waiting {
            fold_one(last);
        }
    }
}

fn fold_one(share: &mut ReadyShare) {
    let root = merkle::fold_branch(&share.coinbase_txid, &share.entry.job.branch);
    share.complete_header(&root);
}
