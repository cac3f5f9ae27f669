//! Merkle trees as Bitcoin builds them: folding a stratum branch into a root, the root of
//! a transaction list (odd levels duplicate their last hash), the coinbase branch a job
//! builder sends, and indexed branches (AuxPoW chain merkle trees).

use super::hash256::Hash256;
use crate::hash::{Platform, sha256, sha256d_64};

/// sha256d(left ‖ right).
#[inline]
pub fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut m = [0u8; 64];
    m[..32].copy_from_slice(left);
    m[32..].copy_from_slice(right);
    sha256d_64(&m)
}

/// Folds a stratum branch: `root = sha256d(root ‖ b)` for each entry (the leaf is the
/// leftmost, as the coinbase always is).
pub fn fold_branch(leaf: &[u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    sha256::fold_branch_with(Platform::get().sha256(), leaf, branch)
}

/// Folds a branch for the leaf at `index`: at each level the index's low bit says whether
/// the running hash is the right (1) or left (0) child.
pub fn fold_branch_indexed(leaf: &[u8; 32], branch: &[[u8; 32]], mut index: u32) -> [u8; 32] {
    let mut acc = *leaf;
    for b in branch {
        acc = if index & 1 == 1 { hash_pair(b, &acc) } else { hash_pair(&acc, b) };
        index >>= 1;
    }
    acc
}

/// One level up: pairs hashed, the last duplicated when the count is odd.
fn next_level(level: &[Hash256]) -> Vec<Hash256> {
    level
        .chunks(2)
        .map(|pair| {
            let right = pair.get(1).unwrap_or(&pair[0]);
            Hash256(hash_pair(&pair[0].0, &right.0))
        })
        .collect()
}

/// The merkle root of a transaction id list (internal order); `None` for an empty list.
pub fn merkle_root(txids: &[Hash256]) -> Option<Hash256> {
    let mut level = txids.to_vec();
    if level.is_empty() {
        return None;
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    Some(level[0])
}

/// The branch of the first transaction (the coinbase): what `mining.notify` carries.
/// The coinbase's own id does not enter the branch, so any placeholder may stand there.
pub fn coinbase_branch(txids: &[Hash256]) -> Vec<Hash256> {
    let mut branch = Vec::new();
    let mut level = txids.to_vec();
    while level.len() > 1 {
        branch.push(level[1]);
        level = next_level(&level);
    }
    branch
}
