//! What the check answers for each `mining.submit`.

use std::fmt;

use crate::chain::Hash256;

/// Why a share was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Wrong param count or types, or a field that is not hex.
    Malformed,
    /// A submit before `mining.subscribe` was answered.
    NotSubscribed,
    /// The job id is unknown.
    JobNotFound,
    /// The job was invalidated by `clean_jobs` (or retired).
    Stale,
    /// extranonce2 is not exactly the subscribed size.
    BadExtranonce2,
    /// ntime is not 8 hex digits or outside the job's window.
    BadNtime,
    /// The nonce is not 8 hex digits.
    BadNonce,
    /// Version bits malformed, outside the mask, or sent without negotiation.
    BadVersionBits,
    /// The hash does not meet the share target.
    LowDifficulty,
    /// The same header was already accepted for this job.
    Duplicate,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 10] = [
        Reason::Malformed,
        Reason::NotSubscribed,
        Reason::JobNotFound,
        Reason::Stale,
        Reason::BadExtranonce2,
        Reason::BadNtime,
        Reason::BadNonce,
        Reason::BadVersionBits,
        Reason::LowDifficulty,
        Reason::Duplicate,
    ];

    /// The spelling used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::NotSubscribed => "not_subscribed",
            Reason::JobNotFound => "job_not_found",
            Reason::Stale => "stale",
            Reason::BadExtranonce2 => "bad_extranonce2",
            Reason::BadNtime => "bad_ntime",
            Reason::BadNonce => "bad_nonce",
            Reason::BadVersionBits => "bad_version_bits",
            Reason::LowDifficulty => "low_difficulty",
            Reason::Duplicate => "duplicate",
        }
    }

    /// The Stratum V1 error code.
    pub fn code(self) -> i32 {
        match self {
            Reason::Malformed
            | Reason::BadExtranonce2
            | Reason::BadNtime
            | Reason::BadNonce
            | Reason::BadVersionBits => 20,
            Reason::JobNotFound | Reason::Stale => 21,
            Reason::Duplicate => 22,
            Reason::LowDifficulty => 23,
            Reason::NotSubscribed => 25,
        }
    }

    /// The error message sent to the miner.
    pub fn message(self) -> &'static str {
        match self {
            Reason::Malformed => "Malformed submit",
            Reason::NotSubscribed => "Not subscribed",
            Reason::JobNotFound => "Job not found",
            Reason::Stale => "Stale job",
            Reason::BadExtranonce2 => "Incorrect size of extranonce2",
            Reason::BadNtime => "ntime out of range",
            Reason::BadNonce => "Incorrect size of nonce",
            Reason::BadVersionBits => "Invalid version bits",
            Reason::LowDifficulty => "Low difficulty share",
            Reason::Duplicate => "Duplicate share",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result class of a share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A valid share: forward it.
    Accepted,
    /// A valid share that also meets the network target: submit the block at once.
    Block,
    /// Answer the miner with the reason's error.
    Rejected(Reason),
}

impl Outcome {
    /// `accepted`, `block` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Block => "block",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// What a block solution needs to be submitted: the header and the coinbase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSolution {
    /// The 80-byte header.
    pub header: [u8; 80],
    /// The coinbase transaction (non-witness serialization, as stratum assembles it).
    pub coinbase: Vec<u8>,
}

/// The verdict on one `mining.submit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Accepted, block, or rejected with a reason.
    pub outcome: Outcome,
    /// The PoW hash, whenever the header was hashed.
    pub pow_hash: Option<Hash256>,
    /// diff1 / hash, whenever the header was hashed.
    pub share_difficulty: Option<f64>,
    /// For a block: what the caller needs to submit it.
    pub block: Option<Box<BlockSolution>>,
    /// Aux chain blocks the share found (merged mining): whatever the share's own
    /// outcome, except duplicates (and shares refused before hashing).
    pub aux_blocks: Vec<super::aux_work::AuxBlockFound>,
}

impl Verdict {
    /// A rejection before any hashing.
    pub fn rejected(reason: Reason) -> Verdict {
        Verdict {
            outcome: Outcome::Rejected(reason),
            pow_hash: None,
            share_difficulty: None,
            block: None,
            aux_blocks: Vec::new(),
        }
    }

    /// The reason, if rejected.
    pub fn reason(&self) -> Option<Reason> {
        match self.outcome {
            Outcome::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the share goes upstream (accepted or block).
    pub fn is_valid(&self) -> bool {
        !matches!(self.outcome, Outcome::Rejected(_))
    }

    /// The Stratum V1 `error` value for the reply: `null` when valid, else
    /// `[code, message, null]`.
    pub fn stratum_error(&self) -> serde_json::Value {
        match self.reason() {
            None => serde_json::Value::Null,
            Some(r) => serde_json::json!([r.code(), r.message(), null]),
        }
    }

    /// The whole Stratum V1 reply to the submit with this `id`.
    pub fn stratum_reply(&self, id: &serde_json::Value) -> serde_json::Value {
        serde_json::json!({"id": id, "result": self.is_valid(), "error": self.stratum_error()})
    }
}
