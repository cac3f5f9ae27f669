//! The share check, in the normative order of DESIGN.md:
//! parse → session → job → sizes → ntime window → hash → difficulty → duplicate → verdict.
//!
//! [`Validator::check`] is `evaluate` (steps 1–7: pure, any thread, any order) followed by
//! `commit` (steps 8–9: the duplicate filter). Batches run `evaluate` in parallel and
//! `commit` in input order, so they answer exactly what sequential checks answer.
//!
//! Merged mining (`aux_work.rs`): on a job with aux work, a stale share (its job still
//! held) or one outside the ntime window is hashed anyway, for the aux blocks it may be;
//! without one it is answered as ever, unhashed.

use std::sync::Arc;

use super::aux_work;
use super::config::ValidatorConfig;
use super::duplicates::Remembered;
use super::job::{JobEntry, JobLookup, JobRegistry, PreparedJob};
use super::session::{DifficultyEpoch, Session, SessionJob};
use super::verdict::{BlockSolution, Outcome, Reason, Verdict};
use crate::chain::coinbase::CoinbasePrefix;
use crate::chain::header::roll_version;
use crate::chain::{Algorithm, Hash256, coinbase, merkle};
use crate::error::Error;
use crate::hash::sha256::{self, ResumeMessage};
use crate::stratum::wire::{MAX_EXTRANONCE_BYTES, is_hex, parse_word};
use crate::stratum::{Notify, Submit};

/// Longest extranonce2 accepted on the wire, in bytes (checked before decoding onto the
/// stack; `mining.subscribe` results are limited to the same).
const MAX_EXTRANONCE2: usize = MAX_EXTRANONCE_BYTES;

/// Validates shares for the jobs of one upstream: owns the job registry and the policy.
/// Every method takes `&self`; a `Validator` is shared by all the connections' threads.
pub struct Validator {
    algorithm: Algorithm,
    config: ValidatorConfig,
    jobs: JobRegistry,
}

/// Steps 1–7 done: either a final rejection, or a share that passed the difficulty check
/// and waits for the duplicate filter.
pub(crate) enum Evaluated {
    Final(Verdict),
    Passed { entry: Arc<JobEntry>, session_job: Arc<SessionJob>, verdict: Verdict },
}

impl Validator {
    /// A validator for `algorithm` with `config`.
    pub fn new(algorithm: Algorithm, config: ValidatorConfig) -> Validator {
        Validator { algorithm, config, jobs: JobRegistry::default() }
    }

    /// The PoW algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The configuration.
    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// The job registry.
    pub fn jobs(&self) -> &JobRegistry {
        &self.jobs
    }

    /// A new connection at the stratum default difficulty 1.
    pub fn new_session(&self) -> Session {
        let target = self.algorithm.diff1_target();
        let initial = DifficultyEpoch { from_seq: 0, difficulty: 1.0, target };
        // Room for the per-job state of every live job and a few just retired.
        let job_slots = self.config.max_live_jobs.saturating_add(4);
        Session::new(initial, job_slots, self.config.max_shares_per_connection)
    }

    /// `mining.notify`: registers the job (refused with an error past the limits).
    pub fn notify(&self, notify: Notify) -> Result<(), Error> {
        let clean = notify.clean_jobs;
        let job = PreparedJob::new(notify, &self.config)?;
        self.jobs.add(job, clean, &self.config);
        Ok(())
    }

    /// `mining.notify` for a job that carries aux chain work (merged mining): shares that
    /// meet an aux target report the aux block in their verdict. If the job's coinbase
    /// does not carry the aux work's commitment, the job is still registered (its parent
    /// shares are checked as ever) without the aux work, and the error says why.
    pub fn notify_with_aux(&self, notify: Notify, aux: &[super::AuxWork]) -> Result<(), Error> {
        let clean = notify.clean_jobs;
        let (job, aux) = PreparedJob::with_aux(notify, aux, &self.config)?;
        self.jobs.add(job, clean, &self.config);
        aux
    }

    /// `mining.set_difficulty` for one connection: in force now, and for jobs notified
    /// from now on.
    pub fn set_difficulty(&self, session: &mut Session, difficulty: f64) -> Result<(), Error> {
        let target = self.algorithm.target_for_difficulty(difficulty)?;
        let epoch = DifficultyEpoch { from_seq: self.jobs.next_seq(), difficulty, target };
        session.push_difficulty(epoch, self.jobs.oldest_live_seq());
        Ok(())
    }

    /// `mining.set_difficulty` for one connection, in force now and for the jobs from
    /// sequence number `first_seq` on: for a server that registers the pool's jobs on one
    /// task and applies the change to each connection on another, `first_seq` is
    /// [`JobRegistry::next_seq`] read when the change arrived (in order with the notifies),
    /// so a job notified right after the change is checked at the new difficulty however
    /// late the connection applies it.
    pub fn set_difficulty_from(
        &self,
        session: &mut Session,
        difficulty: f64,
        first_seq: u64,
    ) -> Result<(), Error> {
        let target = self.algorithm.target_for_difficulty(difficulty)?;
        let epoch = DifficultyEpoch { from_seq: first_seq, difficulty, target };
        session.push_difficulty(epoch, self.jobs.oldest_live_seq());
        Ok(())
    }

    /// Checks one `mining.submit` given as its JSON params: a malformed one is a
    /// `malformed` verdict, never an error.
    pub fn check_params(&self, session: &Session, params: &serde_json::Value) -> Verdict {
        match Submit::from_params(params) {
            Ok(submit) => self.check(session, &submit),
            Err(_) => Verdict::rejected(Reason::Malformed),
        }
    }

    /// Checks one share. Exactly one verdict, whatever the input.
    pub fn check(&self, session: &Session, submit: &Submit) -> Verdict {
        self.commit(self.evaluate(session, submit))
    }

    /// Steps 8–9: the duplicate filter, then accepted or block.
    pub(crate) fn commit(&self, evaluated: Evaluated) -> Verdict {
        match evaluated {
            Evaluated::Final(v) => v,
            Evaluated::Passed { entry, session_job, mut verdict } => {
                let key = verdict.pow_hash.expect("a passed share was hashed").0; // invariant: see message
                let allowance = &session_job.allowance;
                let remembered =
                    if verdict.outcome == Outcome::Block || !verdict.aux_blocks.is_empty() {
                        // A block (of the parent chain or an aux chain) is never refused: it passes
                        // every limit, and the same work sent again is a duplicate.
                        entry.duplicates.remember_block(&key, Some(allowance))
                    } else {
                        entry.duplicates.remember_share(&key, allowance)
                    };
                match remembered {
                    Remembered::New => verdict,
                    Remembered::Duplicate => {
                        verdict.outcome = Outcome::Rejected(Reason::Duplicate);
                        verdict.block = None;
                        verdict.aux_blocks.clear();
                        verdict
                    }
                    Remembered::Full | Remembered::AllowanceSpent
                        if matches!(verdict.outcome, Outcome::Rejected(_)) =>
                    {
                        // An aux block in a share the parent pool refuses (low difficulty,
                        // stale, bad ntime): the refusal and the aux block both stand.
                        verdict
                    }
                    Remembered::Full | Remembered::AllowanceSpent => {
                        // The job (or this connection's allowance on it) holds its limit
                        // of shares: an unremembered share cannot be accepted, so the
                        // miner is told to move on to newer work. The job stays live, and
                        // blocks are still taken.
                        verdict.outcome = Outcome::Rejected(Reason::Stale);
                        verdict.block = None;
                        verdict
                    }
                }
            }
        }
    }

    /// Steps 1–7 for one share.
    pub(crate) fn evaluate(&self, session: &Session, submit: &Submit) -> Evaluated {
        match self.prepare(session, submit) {
            Prepared::Final(v) => Evaluated::Final(v),
            Prepared::Ready(mut share) => {
                let root = merkle::fold_branch(&share.coinbase_txid, &share.entry.job.branch);
                share.complete_header(&root);
                let pow = self.algorithm.pow_hash(&share.header);
                self.judge(session, share, &pow)
            }
        }
    }

    /// Steps 1–6 up to the coinbase txid: the merkle fold, header and hash remain.
    pub(crate) fn prepare(&self, session: &Session, submit: &Submit) -> Prepared {
        let mut prepared =
            self.prepare_before_coinbase_hash(session, submit, &mut LookupMemo::one_share());
        if let Prepared::Ready(share) = &mut prepared {
            share.coinbase_txid = sha256::sha256d_resume(&share.coinbase_message(session));
        }
        prepared
    }

    /// Steps 1–6 but the coinbase hash: a ready share's `coinbase_txid` is left zero, for
    /// the caller to fill (a batch hashes the coinbases of four shares in step). `memo`
    /// carries the job and connection state found for the share before, in a batch.
    pub(crate) fn prepare_before_coinbase_hash<'a>(
        &self,
        session: &'a Session,
        submit: &'a Submit,
        memo: &mut LookupMemo<'a>,
    ) -> Prepared {
        use Prepared::Final;
        let reject = |r| Final(Verdict::rejected(r));

        // 1. Parse: every hex field is hex. The words of 8 digits are decoded in the same
        // pass, extranonce2 onto the stack when it fits (its size is judged at step 4).
        let ntime = HexWord::read(&submit.ntime);
        let nonce = HexWord::read(&submit.nonce);
        let version_bits = submit.version_bits.as_deref().map(HexWord::read);
        let mut extranonce2 = [0u8; MAX_EXTRANONCE2];
        let en2_hex = submit.extranonce2.as_str();
        let en2_is_hex = if en2_hex.len() <= 2 * MAX_EXTRANONCE2 {
            // Odd lengths and non-digits are errors.
            hex::decode_to_slice(en2_hex, &mut extranonce2[..en2_hex.len() / 2]).is_ok()
        } else {
            is_hex(en2_hex)
        };
        if !en2_is_hex || [Some(ntime), Some(nonce), version_bits].contains(&Some(HexWord::NotHex))
        {
            return reject(Reason::Malformed);
        }
        // 2. Session state.
        if session.extranonce1.is_none() {
            return reject(Reason::NotSubscribed);
        }
        // 3. Job. A rejection a share could still carry an aux block past (stale, a bad
        // ntime) is held back while the job has aux work: the share is hashed for it.
        let mut held_back = None;
        let entry = match memo.lookup(&self.jobs, &submit.job_id) {
            JobLookup::Live(e) => e,
            JobLookup::Stale => match self.jobs.held(&submit.job_id) {
                Some(e) if !e.job.aux.is_empty() => {
                    held_back = Some(Reason::Stale);
                    e
                }
                _ => return reject(Reason::Stale),
            },
            JobLookup::NotFound => return reject(Reason::JobNotFound),
        };
        let job = &entry.job;
        // 4. Sizes.
        let en2_len = submit.extranonce2.len() / 2;
        if en2_len != session.extranonce2_size || en2_len > MAX_EXTRANONCE2 {
            return reject(Reason::BadExtranonce2);
        }
        let HexWord::Word(ntime) = ntime else {
            return reject(Reason::BadNtime);
        };
        let HexWord::Word(nonce) = nonce else {
            return reject(Reason::BadNonce);
        };
        let version = match version_bits {
            None => job.version,
            Some(bits) => {
                let HexWord::Word(bits) = bits else {
                    return reject(Reason::BadVersionBits);
                };
                match session.version_mask {
                    None if bits != 0 => return reject(Reason::BadVersionBits),
                    None => job.version,
                    Some(mask) if bits & !mask != 0 => return reject(Reason::BadVersionBits),
                    Some(mask) => roll_version(job.version, bits, mask),
                }
            }
        };
        // 5. ntime window.
        if ntime < job.ntime || ntime as u64 > job.ntime as u64 + self.config.ntime_window as u64 {
            if job.aux.is_empty() {
                return reject(Reason::BadNtime);
            }
            held_back = held_back.or(Some(Reason::BadNtime));
        }
        // 6. Coinbase (the header follows once the merkle branch is folded): extranonce2 was
        // decoded at step 1.
        let session_job = memo.job_state(session, &entry);
        let mut header = [0u8; 80];
        header[0..4].copy_from_slice(&version.to_le_bytes());
        header[4..36].copy_from_slice(&job.prevhash.0);
        header[68..72].copy_from_slice(&ntime.to_le_bytes());
        header[72..76].copy_from_slice(&job.nbits.0.to_le_bytes());
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        Prepared::Ready(ReadyShare {
            entry,
            session_job,
            coinbase_txid: [0; 32],
            header,
            extranonce2,
            extranonce2_len: en2_len,
            held_back,
        })
    }

    /// Step 7, given the PoW hash of the prepared header.
    pub(crate) fn judge(&self, session: &Session, share: ReadyShare, pow: &[u8; 32]) -> Evaluated {
        let ReadyShare {
            entry, session_job, header, extranonce2, extranonce2_len, held_back, ..
        } = share;
        let job = &entry.job;
        let share_difficulty = self.algorithm.share_difficulty(pow);
        // The easier of the difficulty at notify and now; a block is never refused for
        // low share difficulty.
        let at_notify = session.epoch_at(entry.seq);
        let now = session.current_epoch();
        let share_target = at_notify.target.max(now.target);
        let is_block = job.network_target.is_some_and(|t| t.is_met_by(pow));
        let extranonce1 = session.extranonce1.as_deref().unwrap_or_default();
        let extranonce2 = &extranonce2[..extranonce2_len];
        // An aux block is reported whatever the share's own difficulty.
        let aux_blocks = aux_work::found(
            &job.aux,
            pow,
            &header,
            (&job.coinb1, extranonce1, extranonce2, &job.coinb2),
            &job.branch,
        );
        let mut verdict = Verdict {
            outcome: Outcome::Accepted,
            pow_hash: Some(Hash256(*pow)),
            share_difficulty: Some(share_difficulty),
            block: None,
            aux_blocks,
        };
        if let Some(reason) = held_back {
            // Rejected before hashing but for its aux blocks: without one, the rejection
            // as ever; with one, rejected and remembered (sent again, a duplicate).
            if verdict.aux_blocks.is_empty() {
                return Evaluated::Final(Verdict::rejected(reason));
            }
            verdict.outcome = Outcome::Rejected(reason);
            return Evaluated::Passed { entry, session_job, verdict };
        }
        if !share_target.is_met_by(pow) && !is_block {
            verdict.outcome = Outcome::Rejected(Reason::LowDifficulty);
            if !verdict.aux_blocks.is_empty() {
                // Not the parent pool's share, but an aux block: remembered, so that the
                // same work sent again is a duplicate and reports nothing.
                return Evaluated::Passed { entry, session_job, verdict };
            }
            return Evaluated::Final(verdict);
        }
        // 9 (prepared). A block carries what is needed to submit it.
        if is_block {
            verdict.outcome = Outcome::Block;
            verdict.block = Some(Box::new(BlockSolution {
                header,
                coinbase: coinbase::assemble(&job.coinb1, extranonce1, extranonce2, &job.coinb2),
            }));
        }
        Evaluated::Passed { entry, session_job, verdict }
    }
}

/// A hex field that should hold a 32-bit word, as step 1 reads it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HexWord {
    /// 8 hex digits: the word.
    Word(u32),
    /// Hex, but not 8 digits: refused at step 4 with the field's own reason.
    OtherHex,
    /// Not hex: malformed.
    NotHex,
}

impl HexWord {
    fn read(s: &str) -> HexWord {
        match parse_word(s) {
            Some(word) => HexWord::Word(word),
            None if is_hex(s) => HexWord::OtherHex,
            None => HexWord::NotHex,
        }
    }
}

/// A share that passed steps 1–6: its header (`LE32 version | prevhash | merkle_root |
/// LE32 ntime | LE32 nbits | LE32 nonce`) waits for the merkle root, then the PoW hash.
pub(crate) struct ReadyShare {
    pub(crate) entry: Arc<JobEntry>,
    session_job: Arc<SessionJob>,
    /// Set by `prepare`, or by the batch after `prepare_before_coinbase_hash`.
    pub(crate) coinbase_txid: [u8; 32],
    pub(crate) header: [u8; 80],
    extranonce2: [u8; MAX_EXTRANONCE2],
    extranonce2_len: usize,
    /// A rejection held back for the share's aux blocks (its job carries aux work).
    held_back: Option<Reason>,
}

impl ReadyShare {
    /// The share's coinbase as a message to hash: from the midstate of its job and
    /// connection (computed once per both), with the end of coinb2 scheduled once per job.
    #[inline]
    pub(crate) fn coinbase_message<'s>(&'s self, session: &'s Session) -> ResumeMessage<'s> {
        let job = &self.entry.job;
        let extranonce1 = session.extranonce1.as_deref().unwrap_or_default();
        let prefix: &CoinbasePrefix = self.session_job.prefix(&job.coinb1, extranonce1);
        let extranonce2 = self.extranonce2();
        let end = self.entry.coinbase_end(prefix.extranonce2_offset() + extranonce2.len() as u64);
        prefix.message(extranonce2, &job.coinb2, end)
    }

    /// The share's extranonce2 bytes.
    #[inline]
    pub(crate) fn extranonce2(&self) -> &[u8] {
        &self.extranonce2[..self.extranonce2_len]
    }

    /// Puts the folded merkle root into the header.
    #[inline]
    pub(crate) fn complete_header(&mut self, merkle_root: &[u8; 32]) {
        self.header[36..68].copy_from_slice(merkle_root);
    }
}

/// What the share before in a batch chunk found: the job it named and its connection's
/// state for that job. The next share of the same job and connection (most of a proxy's
/// round) takes them from here instead of the registry's lock and map and the connection's
/// lock. Each reuse reads the job's staleness again (one atomic load): a clean notify, a
/// replacement under the same id and the live-job limit all mark a job stale as they take
/// it out of the registry, so the next share looks it up afresh, as a sequential check
/// would.
pub(crate) struct LookupMemo<'a> {
    /// Off for a share checked alone: keeping what it found would cost two `Arc` clones.
    keep: bool,
    job: Option<(&'a str, Arc<JobEntry>)>,
    job_state: Option<(&'a Session, Arc<SessionJob>)>,
}

impl<'a> LookupMemo<'a> {
    /// For the shares of a batch chunk, in order.
    pub(crate) fn for_chunk() -> Self {
        LookupMemo { keep: true, job: None, job_state: None }
    }

    /// For one share checked alone: looks everything up.
    pub(crate) fn one_share() -> Self {
        LookupMemo { keep: false, job: None, job_state: None }
    }

    /// [`JobRegistry::lookup`], from the memo when the share before named the same live job.
    fn lookup(&mut self, jobs: &JobRegistry, id: &'a str) -> JobLookup {
        if let Some((last_id, entry)) = &self.job
            && *last_id == id
            && !entry.is_stale()
        {
            return JobLookup::Live(entry.clone());
        }
        let found = jobs.lookup(id);
        self.job = match &found {
            JobLookup::Live(entry) if self.keep => Some((id, entry.clone())),
            _ => None,
        };
        found
    }

    /// [`Session::job_state`], from the memo when the share before was of the same
    /// connection and job.
    fn job_state(&mut self, session: &'a Session, entry: &Arc<JobEntry>) -> Arc<SessionJob> {
        if let Some((last_session, state)) = &self.job_state
            && std::ptr::eq(*last_session, session)
            && state.is_for(entry)
        {
            return state.clone();
        }
        let state = session.job_state(entry);
        self.job_state = self.keep.then(|| (session, state.clone()));
        state
    }
}

/// Steps 1–6 done.
pub(crate) enum Prepared {
    Final(Verdict),
    Ready(ReadyShare),
}
