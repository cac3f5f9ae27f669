//! Merged mining: the AuxPoW proof an aux chain (Dogecoin, Namecoin) accepts in place of
//! its own proof of work, as Dogecoin and Namecoin serialize and check it.
//!
//! An AuxPoW is the parent chain's coinbase transaction (its scriptSig commits to the
//! root of a merkle tree of aux block hashes), the coinbase's merkle branch in the parent
//! block, the aux block's branch in that chain tree, and the parent's 80-byte header.
//! [`AuxPow::check`] is Dogecoin's `CAuxPow::check`, rule for rule and in its order; the
//! parent's proof of work (scrypt for a Litecoin parent) is checked apart, against the aux
//! block's own target. [`Commitment::build`] makes the coinbase commitment a pool puts in
//! its parent coinbase for one or more aux chains.
//!
//! Byte orders: hashes are kept as serialized (internal order). The chain root appears in
//! the coinbase script reversed, in display order, as `CAuxPow::check` expects it.

use super::merkle::{fold_branch_indexed, hash_pair};
use super::{Algorithm, CompactTarget, HEADER_SIZE, Hash256};
use crate::hash::sha256d;

/// The merged-mining header before the chain root in the parent coinbase (`fabe6d6d`).
pub const MERGED_MINING_HEADER: [u8; 4] = [0xfa, 0xbe, b'm', b'm'];
/// The block version bit that says an AuxPoW follows the header.
pub const VERSION_AUXPOW: i32 = 0x100;
/// The chain id is the version's top 16 bits (`nVersion >> 16`, as Dogecoin computes it).
pub const VERSION_CHAIN_SHIFT: u32 = 16;
/// The longest chain merkle branch `CAuxPow::check` takes.
pub const MAX_CHAIN_BRANCH: usize = 30;
/// How far into the scriptSig the chain root may start without the merged-mining header.
const ROOT_WITHIN_WITHOUT_HEADER: usize = 20;

/// Longest parent coinbase transaction parsed (a real one is a few hundred bytes).
pub const MAX_COINBASE_TX: usize = 100_000;
/// Most entries in either merkle branch parsed (at most 128 KiB; a check refuses a chain
/// branch past 30 with its reason).
pub const MAX_BRANCH_ENTRIES: usize = 4096;

/// Why bytes are not an AuxPoW.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes end inside a field.
    #[error("AuxPoW truncated: {0} missing")]
    Truncated(&'static str),
    /// Bytes left after the parent header.
    #[error("{0} bytes after the AuxPoW's parent header")]
    TrailingBytes(usize),
    /// A coinbase transaction without inputs (or in the segwit serialization, which an
    /// AuxPoW does not use).
    #[error("the parent coinbase has no input")]
    NoInput,
    /// A field past this parser's bounds.
    #[error("{what} too large: {got} (at most {max})")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its size or count.
        got: u64,
        /// The bound.
        max: u64,
    },
    /// A count written in more bytes than it needs (Bitcoin refuses it).
    #[error("{0}: a count in a non-canonical (longer than needed) encoding")]
    NonCanonical(&'static str),
    /// An aux block whose version does not have the AuxPoW flag.
    #[error("block version {0:#010x} has no AuxPoW flag (0x100)")]
    NoAuxPowFlag(u32),
}

/// Why `CAuxPow::check` refuses an AuxPoW, in the order it checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFailure {
    /// The coinbase's index in the parent block is not 0.
    NotGenerate,
    /// The parent block carries the aux chain's own chain id (strict chains).
    ParentHasOurChainId,
    /// The chain merkle branch is longer than 30.
    ChainBranchTooLong,
    /// The coinbase's branch does not lead to the parent header's merkle root.
    CoinbaseNotInParent,
    /// The merged-mining header appears twice in the coinbase script.
    MultipleMmHeaders,
    /// The merged-mining header is not just before the chain root.
    MmHeaderNotBeforeRoot,
    /// The chain root is not in the coinbase script.
    MissingChainRoot,
    /// Without the merged-mining header, the root starts past the script's first 20 bytes.
    RootNotInFirst20Bytes,
    /// Fewer than 8 bytes (tree size, nonce) after the root.
    MissingSizeNonce,
    /// The tree size in the script is not 2^(chain branch length).
    BranchSizeMismatch,
    /// The chain index is not the one the nonce and chain id give.
    WrongIndex,
}

impl CheckFailure {
    /// The reason code: `not_generate`, `parent_has_our_chain_id`, ...
    pub fn code(self) -> &'static str {
        match self {
            CheckFailure::NotGenerate => "not_generate",
            CheckFailure::ParentHasOurChainId => "parent_has_our_chain_id",
            CheckFailure::ChainBranchTooLong => "chain_branch_too_long",
            CheckFailure::CoinbaseNotInParent => "coinbase_not_in_parent",
            CheckFailure::MultipleMmHeaders => "multiple_mm_headers",
            CheckFailure::MmHeaderNotBeforeRoot => "mm_header_not_before_root",
            CheckFailure::MissingChainRoot => "missing_chain_root",
            CheckFailure::RootNotInFirst20Bytes => "root_not_in_first_20_bytes",
            CheckFailure::MissingSizeNonce => "missing_size_nonce",
            CheckFailure::BranchSizeMismatch => "branch_size_mismatch",
            CheckFailure::WrongIndex => "wrong_index",
        }
    }

    /// Dogecoin's error message for it.
    pub fn message(self) -> &'static str {
        match self {
            CheckFailure::NotGenerate => "AuxPow is not a generate",
            CheckFailure::ParentHasOurChainId => "Aux POW parent has our chain ID",
            CheckFailure::ChainBranchTooLong => "Aux POW chain merkle branch too long",
            CheckFailure::CoinbaseNotInParent => "Aux POW merkle root incorrect",
            CheckFailure::MultipleMmHeaders => "Multiple merged mining headers in coinbase",
            CheckFailure::MmHeaderNotBeforeRoot => {
                "Merged mining header is not just before chain merkle root"
            }
            CheckFailure::MissingChainRoot => {
                "Aux POW missing chain merkle root in parent coinbase"
            }
            CheckFailure::RootNotInFirst20Bytes => {
                "Aux POW chain merkle root must start in the first 20 bytes of the parent coinbase"
            }
            CheckFailure::MissingSizeNonce => {
                "Aux POW missing chain merkle tree size and nonce in parent coinbase"
            }
            CheckFailure::BranchSizeMismatch => {
                "Aux POW merkle branch size does not match parent coinbase"
            }
            CheckFailure::WrongIndex => "Aux POW wrong index",
        }
    }
}

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// An AuxPoW, as Dogecoin and Namecoin serialize it (`CMerkleTx` of the parent coinbase,
/// then the chain branch and index, then the parent header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxPow {
    /// The parent coinbase transaction, serialized (legacy format).
    pub coinbase_tx: Vec<u8>,
    /// `hashBlock`: the parent block hash as the miner stated it. Not trusted: the parent
    /// hash is computed from [`AuxPow::parent_header`].
    pub hash_block: [u8; 32],
    /// The coinbase's merkle branch in the parent block (internal order).
    pub coinbase_branch: Vec<[u8; 32]>,
    /// The coinbase's index in the parent block (`nIndex`; 0 for a coinbase).
    pub coinbase_index: i32,
    /// The aux block's branch in the chain merkle tree (internal order).
    pub chain_branch: Vec<[u8; 32]>,
    /// The aux block's index in the chain merkle tree (`nChainIndex`).
    pub chain_index: i32,
    /// The parent block's header.
    pub parent_header: [u8; HEADER_SIZE],
    /// Where the first input's scriptSig lies in `coinbase_tx`.
    script: std::ops::Range<usize>,
}

/// Reads serialized fields in order.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(ParseError::Truncated(what))?;
        let part = &self.bytes[self.at..end];
        self.at = end;
        Ok(part)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, ParseError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    /// Bitcoin's CompactSize; a non-minimal encoding is refused, as `ReadCompactSize`
    /// refuses it (so a parsed AuxPoW serializes back to its bytes).
    fn compact_size(&mut self, what: &'static str) -> Result<u64, ParseError> {
        let first = self.take(1, what)?[0];
        let (n, least) = match first {
            0xfd => (u64::from(u16::from_le_bytes(self.array(what)?)), 0xfd),
            0xfe => (u64::from(u32::from_le_bytes(self.array(what)?)), 0x1_0000),
            0xff => (u64::from_le_bytes(self.array(what)?), 0x1_0000_0000),
            n => (u64::from(n), 0),
        };
        if n < least {
            return Err(ParseError::NonCanonical(what));
        }
        Ok(n)
    }

    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, ParseError> {
        let n = self.compact_size(what)?;
        if n > max as u64 {
            return Err(ParseError::TooLarge { what, got: n, max: max as u64 });
        }
        Ok(n as usize)
    }

    fn branch(&mut self, what: &'static str) -> Result<Vec<[u8; 32]>, ParseError> {
        let n = self.count(what, MAX_BRANCH_ENTRIES)?;
        (0..n).map(|_| self.array(what)).collect()
    }
}

/// Bitcoin's CompactSize.
fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Reads one legacy-format transaction; returns where its first input's scriptSig lies.
fn read_transaction(r: &mut Reader<'_>) -> Result<std::ops::Range<usize>, ParseError> {
    let start = r.at;
    r.take(4, "transaction version")?;
    let inputs = r.count("transaction inputs", MAX_COINBASE_TX)?;
    if inputs == 0 {
        return Err(ParseError::NoInput);
    }
    let mut script = 0..0;
    for i in 0..inputs {
        r.take(36, "input outpoint")?;
        let len = r.count("input script", MAX_COINBASE_TX)?;
        let at = r.at;
        r.take(len, "input script")?;
        if i == 0 {
            script = at - start..at - start + len;
        }
        r.take(4, "input sequence")?;
    }
    let outputs = r.count("transaction outputs", MAX_COINBASE_TX)?;
    for _ in 0..outputs {
        r.take(8, "output value")?;
        let len = r.count("output script", MAX_COINBASE_TX)?;
        r.take(len, "output script")?;
    }
    r.take(4, "transaction lock time")?;
    if r.at - start > MAX_COINBASE_TX {
        let got = (r.at - start) as u64;
        return Err(ParseError::TooLarge {
            what: "coinbase transaction",
            got,
            max: MAX_COINBASE_TX as u64,
        });
    }
    Ok(script)
}

/// `CAuxPow::CheckMerkleBranch`: the root a branch leads to from `hash` at `index`
/// (`-1`: the zero hash). The C++ shifts a signed int; for the first 31 levels its low bit
/// is the unsigned one's, and `check` never folds a longer branch (the chain branch is at
/// most 30, the coinbase index 0), so the indexed fold is the same.
pub fn check_merkle_branch(hash: &[u8; 32], branch: &[[u8; 32]], index: i32) -> [u8; 32] {
    if index == -1 {
        return [0; 32];
    }
    fold_branch_indexed(hash, branch, index as u32)
}

/// `CAuxPow::getExpectedIndex`: the chain tree slot of chain `chain_id` for `nonce` in a
/// tree of height `height`, in 32-bit unsigned arithmetic as the C++ computes it.
pub fn expected_index(nonce: u32, chain_id: i32, height: u32) -> u32 {
    let mut rand = nonce;
    rand = rand.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    rand = rand.wrapping_add(chain_id as u32);
    rand = rand.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    // `rand % (1 << h)` with h < 32 (the branch is at most 30 long).
    rand % (1u32 << height.min(31))
}

/// The chain id of a block version: its top 16 bits, `nVersion >> 16` (an arithmetic
/// shift: a negative version has a negative chain id).
pub fn chain_id_of(version: i32) -> i32 {
    version >> VERSION_CHAIN_SHIFT
}

/// Finds `needle` in `haystack` from `from` on (`std::search`).
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

impl AuxPow {
    /// Reads an AuxPoW from the front of `bytes`; returns it and the bytes it took (an
    /// aux block's transactions follow it).
    pub fn parse_prefix(bytes: &[u8]) -> Result<(AuxPow, usize), ParseError> {
        let mut r = Reader { bytes, at: 0 };
        let tx_start = r.at;
        let script = read_transaction(&mut r)?;
        let coinbase_tx = bytes[tx_start..r.at].to_vec();
        let hash_block = r.array("hashBlock")?;
        let coinbase_branch = r.branch("coinbase merkle branch")?;
        let coinbase_index = r.i32("coinbase index")?;
        let chain_branch = r.branch("chain merkle branch")?;
        let chain_index = r.i32("chain index")?;
        let parent_header = r.array("parent header")?;
        let auxpow = AuxPow {
            coinbase_tx,
            hash_block,
            coinbase_branch,
            coinbase_index,
            chain_branch,
            chain_index,
            parent_header,
            script,
        };
        Ok((auxpow, r.at))
    }

    /// Reads an AuxPoW that is all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<AuxPow, ParseError> {
        let (auxpow, used) = AuxPow::parse_prefix(bytes)?;
        match bytes.len() - used {
            0 => Ok(auxpow),
            left => Err(ParseError::TrailingBytes(left)),
        }
    }

    /// Serialized, as `submitauxblock` takes it (hex-encode it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.coinbase_tx.len() + 200);
        out.extend_from_slice(&self.coinbase_tx);
        out.extend_from_slice(&self.hash_block);
        write_compact_size(&mut out, self.coinbase_branch.len() as u64);
        for b in &self.coinbase_branch {
            out.extend_from_slice(b);
        }
        out.extend_from_slice(&self.coinbase_index.to_le_bytes());
        write_compact_size(&mut out, self.chain_branch.len() as u64);
        for b in &self.chain_branch {
            out.extend_from_slice(b);
        }
        out.extend_from_slice(&self.chain_index.to_le_bytes());
        out.extend_from_slice(&self.parent_header);
        out
    }

    /// An AuxPoW from its parts (the coinbase parsed to find its scriptSig).
    pub fn new(
        coinbase_tx: Vec<u8>,
        coinbase_branch: Vec<[u8; 32]>,
        chain_branch: Vec<[u8; 32]>,
        chain_index: i32,
        parent_header: [u8; HEADER_SIZE],
    ) -> Result<AuxPow, ParseError> {
        let mut r = Reader { bytes: &coinbase_tx, at: 0 };
        let script = read_transaction(&mut r)?;
        if r.at != coinbase_tx.len() {
            return Err(ParseError::TrailingBytes(coinbase_tx.len() - r.at));
        }
        Ok(AuxPow {
            hash_block: sha256d(&parent_header),
            coinbase_tx,
            coinbase_branch,
            coinbase_index: 0,
            chain_branch,
            chain_index,
            parent_header,
            script,
        })
    }

    /// The parent coinbase's scriptSig (first input).
    pub fn coinbase_script(&self) -> &[u8] {
        &self.coinbase_tx[self.script.clone()]
    }

    /// The parent coinbase's txid (internal order).
    pub fn coinbase_txid(&self) -> Hash256 {
        Hash256(sha256d(&self.coinbase_tx))
    }

    /// The parent block's hash, from its header (internal order).
    pub fn parent_block_hash(&self) -> Hash256 {
        Hash256(sha256d(&self.parent_header))
    }

    /// The parent header's version.
    pub fn parent_version(&self) -> i32 {
        i32::from_le_bytes([
            self.parent_header[0],
            self.parent_header[1],
            self.parent_header[2],
            self.parent_header[3],
        ])
    }

    /// The parent block's proof-of-work hash under `algorithm` (scrypt for a Litecoin
    /// parent, SHA-256d for a Bitcoin one), internal order.
    pub fn parent_pow_hash(&self, algorithm: Algorithm) -> Hash256 {
        Hash256(algorithm.pow_hash(&self.parent_header))
    }

    /// Whether the parent's proof of work meets the aux block's target `aux_bits` (a zero,
    /// negative or overflowing target is met by nothing).
    pub fn parent_pow_meets(&self, algorithm: Algorithm, aux_bits: u32) -> bool {
        CompactTarget(aux_bits)
            .to_pow_target()
            .is_some_and(|target| target.is_met_by(&self.parent_pow_hash(algorithm).0))
    }

    /// Dogecoin's `CAuxPow::check(hashAuxBlock, nChainId, params)`: every rule, in its
    /// order. `aux_block_hash` in internal order; `strict_chain_id`: the chain refuses a
    /// parent with its own chain id (Dogecoin mainnet does). The parent's proof of work is
    /// not part of it ([`AuxPow::parent_pow_meets`]).
    pub fn check(
        &self,
        aux_block_hash: &Hash256,
        chain_id: i32,
        strict_chain_id: bool,
    ) -> Result<(), CheckFailure> {
        if self.coinbase_index != 0 {
            return Err(CheckFailure::NotGenerate);
        }
        if strict_chain_id && chain_id_of(self.parent_version()) == chain_id {
            return Err(CheckFailure::ParentHasOurChainId);
        }
        if self.chain_branch.len() > MAX_CHAIN_BRANCH {
            return Err(CheckFailure::ChainBranchTooLong);
        }
        let root = check_merkle_branch(&aux_block_hash.0, &self.chain_branch, self.chain_index);
        let mut root_in_script = root;
        root_in_script.reverse(); // the script holds it in display order
        let txid = self.coinbase_txid();
        let parent_root: [u8; 32] = self.parent_header[36..68].try_into().unwrap_or([0; 32]);
        if check_merkle_branch(&txid.0, &self.coinbase_branch, self.coinbase_index) != parent_root {
            return Err(CheckFailure::CoinbaseNotInParent);
        }
        let script = self.coinbase_script();
        let head = find(script, &MERGED_MINING_HEADER, 0);
        let Some(at) = find(script, &root_in_script, 0) else {
            return Err(CheckFailure::MissingChainRoot);
        };
        match head {
            Some(head) => {
                if find(script, &MERGED_MINING_HEADER, head + 1).is_some() {
                    return Err(CheckFailure::MultipleMmHeaders);
                }
                if head + MERGED_MINING_HEADER.len() != at {
                    return Err(CheckFailure::MmHeaderNotBeforeRoot);
                }
            }
            None if at > ROOT_WITHIN_WITHOUT_HEADER => {
                return Err(CheckFailure::RootNotInFirst20Bytes);
            }
            None => {}
        }
        let after = &script[at + 32..];
        if after.len() < 8 {
            return Err(CheckFailure::MissingSizeNonce);
        }
        let size = i32::from_le_bytes([after[0], after[1], after[2], after[3]]);
        let height = self.chain_branch.len() as u32; // at most 30: the shift fits
        if size != 1i32 << height {
            return Err(CheckFailure::BranchSizeMismatch);
        }
        let nonce = u32::from_le_bytes([after[4], after[5], after[6], after[7]]);
        // nChainIndex (int) against the unsigned expected index, compared as the C++
        // compares an int with an int.
        if i64::from(self.chain_index) != i64::from(expected_index(nonce, chain_id, height)) {
            return Err(CheckFailure::WrongIndex);
        }
        Ok(())
    }
}

/// An aux chain block as its node serializes it: the 80-byte header, then (with the AuxPoW
/// version flag) the AuxPoW, then the transactions (not read here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxBlock {
    /// The aux block's header.
    pub header: [u8; HEADER_SIZE],
    /// Its AuxPoW.
    pub auxpow: AuxPow,
}

impl AuxBlock {
    /// Reads the header and AuxPoW at the front of a serialized aux block.
    pub fn parse(bytes: &[u8]) -> Result<AuxBlock, ParseError> {
        let mut r = Reader { bytes, at: 0 };
        let header: [u8; HEADER_SIZE] = r.array("block header")?;
        let version = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        if version & VERSION_AUXPOW as u32 == 0 {
            return Err(ParseError::NoAuxPowFlag(version));
        }
        let (auxpow, _) = AuxPow::parse_prefix(&bytes[HEADER_SIZE..])?;
        Ok(AuxBlock { header, auxpow })
    }

    /// The aux block's hash (SHA-256d of its header, as Dogecoin hashes it), internal order.
    pub fn hash(&self) -> Hash256 {
        Hash256(sha256d(&self.header))
    }

    /// The aux block's version.
    pub fn version(&self) -> i32 {
        i32::from_le_bytes([self.header[0], self.header[1], self.header[2], self.header[3]])
    }

    /// Its chain id (version / 2^16).
    pub fn chain_id(&self) -> i32 {
        chain_id_of(self.version())
    }

    /// Its nBits.
    pub fn bits(&self) -> u32 {
        u32::from_le_bytes([self.header[72], self.header[73], self.header[74], self.header[75]])
    }
}

/// The tallest tree a commitment builds: the longest chain branch a check takes (chain ids
/// are 16 bits, so 16 always suffices for real ones; the sparse tree makes taller ones cheap).
const MAX_COMMITMENT_HEIGHT: u32 = MAX_CHAIN_BRANCH as u32;

/// Why no commitment can be built for a set of chains.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    /// No chain given.
    #[error("no aux chain given")]
    NoChains,
    /// The same chain id twice (one block per chain and parent share).
    #[error("chain id {0} given twice")]
    DuplicateChainId(i32),
    /// No tree up to 2^30 slots puts every chain in its own slot.
    #[error("no tree of up to 2^30 slots gives each of the {0} chains its own slot")]
    NoSlotLayout(usize),
}

/// One aux chain's place in a commitment: what its AuxPoW carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSlot {
    /// The chain id.
    pub chain_id: i32,
    /// The aux block hash committed to (internal order).
    pub aux_block_hash: Hash256,
    /// Its slot (`nChainIndex`).
    pub index: u32,
    /// Its branch to the root (`vChainMerkleBranch`, internal order).
    pub branch: Vec<[u8; 32]>,
}

/// The merged-mining commitment a pool puts in its parent coinbase script for one or more
/// aux chains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    /// `fabe6d6d ‖ root ‖ tree size LE32 ‖ nonce LE32`, the root in the byte order
    /// `CAuxPow::check` looks for (display order).
    pub script: Vec<u8>,
    /// The chain tree's root (internal order, as the branches fold to it).
    pub root: [u8; 32],
    /// Slots in the tree (2^height).
    pub merkle_size: u32,
    /// The nonce that, with each chain id, gives each chain its slot.
    pub merkle_nonce: u32,
    /// Each chain's slot and branch, in the order given.
    pub chains: Vec<ChainSlot>,
}

impl Commitment {
    /// The commitment for `chains` (chain id, aux block hash): the smallest tree, and the
    /// smallest nonce at that size, for which every chain's expected slot is its own.
    /// Empty slots hold zero hashes.
    ///
    /// The nonce is always 0: modulo 2^h the slot is `a·(r(nonce) + id) + c` with `a` odd,
    /// a bijection of `id mod 2^h` whatever the nonce, so the chains get distinct slots at
    /// height h exactly when their ids differ modulo 2^h, and no nonce changes that.
    pub fn build(chains: &[(i32, Hash256)]) -> Result<Commitment, CommitmentError> {
        if chains.is_empty() {
            return Err(CommitmentError::NoChains);
        }
        for (i, (id, _)) in chains.iter().enumerate() {
            if chains[..i].iter().any(|(other, _)| other == id) {
                return Err(CommitmentError::DuplicateChainId(*id));
            }
        }
        let least = usize::BITS - (chains.len() - 1).leading_zeros(); // ceil(log2 n)
        let nonce = 0;
        for height in least..=MAX_COMMITMENT_HEIGHT {
            let slots: Vec<u32> =
                chains.iter().map(|(id, _)| expected_index(nonce, *id, height)).collect();
            let distinct = slots.iter().enumerate().all(|(i, s)| !slots[..i].contains(s));
            if distinct {
                return Ok(Commitment::with_slots(chains, height, nonce, &slots));
            }
        }
        Err(CommitmentError::NoSlotLayout(chains.len()))
    }

    fn with_slots(chains: &[(i32, Hash256)], height: u32, nonce: u32, slots: &[u32]) -> Commitment {
        // Only the nodes above a chain are kept; an empty subtree of height k hashes to
        // `empty`, built up from a zero leaf.
        let mut level: std::collections::BTreeMap<u32, [u8; 32]> =
            chains.iter().zip(slots).map(|((_, hash), &slot)| (slot, hash.0)).collect();
        let mut empty = [0u8; 32];
        let mut branches: Vec<Vec<[u8; 32]>> = vec![Vec::new(); chains.len()];
        let mut positions: Vec<u32> = slots.to_vec();
        for _ in 0..height {
            for (branch, position) in branches.iter_mut().zip(&mut positions) {
                branch.push(level.get(&(*position ^ 1)).copied().unwrap_or(empty));
                *position >>= 1;
            }
            let parents: std::collections::BTreeSet<u32> = level.keys().map(|k| k >> 1).collect();
            level = parents
                .into_iter()
                .map(|p| {
                    let left = level.get(&(2 * p)).copied().unwrap_or(empty);
                    let right = level.get(&(2 * p + 1)).copied().unwrap_or(empty);
                    (p, hash_pair(&left, &right))
                })
                .collect();
            empty = hash_pair(&empty, &empty);
        }
        let root = level.get(&0).copied().unwrap_or(empty);
        let mut script = MERGED_MINING_HEADER.to_vec();
        script.extend(root.iter().rev());
        script.extend_from_slice(&(1u32 << height).to_le_bytes());
        script.extend_from_slice(&nonce.to_le_bytes());
        let chains = chains
            .iter()
            .zip(slots)
            .zip(branches)
            .map(|(((chain_id, hash), &index), branch)| ChainSlot {
                chain_id: *chain_id,
                aux_block_hash: *hash,
                index,
                branch,
            })
            .collect();
        Commitment { script, root, merkle_size: 1 << height, merkle_nonce: nonce, chains }
    }
}
