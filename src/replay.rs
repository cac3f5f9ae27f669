//! Replaying a Stratum V1 transcript (one JSON message a line, as a proxy sees one miner
//! connection) through a [`Validator`]: exactly one verdict per `mining.submit` line that
//! is understood (valid UTF-8 JSON within the line limit), in order.
//!
//! Consecutive submits are checked as a batch (in parallel, with sequential semantics);
//! any other message first flushes the pending batch, so state changes apply in order.
//! Results can be drained as they are ready, so a live stream is answered as it goes and
//! memory does not grow with the transcript.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use crate::stratum::{
    ConfigureResult, Message, Notify, SetExtranonce, Submit, SubscribeResult, parse_line,
};
use crate::validate::{AuxWork, JobLookup, Outcome, Session, Validator, Verdict};

/// One `mining.submit` and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubmitRecord {
    /// 1-based line number.
    pub line: usize,
    /// The request id.
    pub id: Value,
    /// Worker name, if the params had one.
    pub worker: Option<String>,
    /// Job id, if the params had one.
    pub job_id: Option<String>,
    /// `accepted`, `block` or `rejected`.
    pub result: &'static str,
    /// Reject reason.
    pub reason: Option<&'static str>,
    /// Stratum error code.
    pub code: Option<i32>,
    /// PoW hash, display order, whenever the header was hashed.
    pub hash: Option<String>,
    /// Share difficulty, whenever the header was hashed.
    pub share_difficulty: Option<f64>,
    /// Aux chain blocks the share found (merged mining; the field is left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aux_blocks: Vec<AuxBlockRecord>,
    /// The full verdict (not serialized).
    #[serde(skip)]
    pub verdict: Verdict,
}

/// An aux block in a replay line: what `submitauxblock` takes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuxBlockRecord {
    /// The aux chain's id.
    pub chain_id: i32,
    /// The aux block's hash, display order (as `createauxblock` gives it).
    pub aux_block_hash: String,
    /// The AuxPoW, hex.
    pub auxpow_hex: String,
}

/// The annotation line that gives a job's aux work (merged mining): aux work never crosses
/// the miner connection, so a transcript carries it on a line of its own, before the job's
/// `mining.notify`: `{"id": null, "method": "sharecheck.aux_work", "params": [JOB_ID,
/// [[CHAIN_ID, AUX_BLOCK_HASH, BITS], ...]]}` (hash in display order, bits as 8 hex digits).
pub const AUX_WORK_METHOD: &str = "sharecheck.aux_work";
/// Jobs whose aux work is kept, at most (the oldest is dropped).
const PENDING_AUX_WORK: usize = 16;

/// A line that could not be understood.
#[derive(Clone, Debug, PartialEq)]
pub struct LineProblem {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub error: Error,
}

/// A submit where the pool's recorded answer and the verdict differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    /// Line of the submit.
    pub submit_line: usize,
    /// Line of the pool's response.
    pub response_line: usize,
    /// Whether the pool accepted it.
    pub pool_accepted: bool,
    /// The pool's error value.
    pub pool_error: Value,
    /// The verdict's outcome, as text.
    pub ours: String,
}

/// Everything a replay produced.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// One record per submit, in transcript order.
    pub submits: Vec<SubmitRecord>,
    /// Lines that could not be understood.
    pub problems: Vec<LineProblem>,
    /// Notifies refused by the validator's limits (line, error).
    pub refused_jobs: Vec<LineProblem>,
    /// Submits whose recorded pool answer differs from the verdict.
    pub disagreements: Vec<Disagreement>,
}

/// Longest transcript line understood, in bytes, its newline excluded (1 MiB). A real
/// stratum line is a few KB; a notify with a large coinbase stays under 250 KB of hex. A
/// longer line is a line not understood: it is reported and skipped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Bytes of submit lines queued at most before their batch is checked (16 MiB): the batch
/// closes at [`MAX_BATCH`] submits or at this size, whichever comes first. A queued submit
/// keeps its strings once, so the queue holds about this much at most however long the
/// worker names are (each line is at most [`MAX_LINE_BYTES`]).
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

/// Submits checked together at most (a longer run of submits is split).
pub const MAX_BATCH: usize = 256;

/// Requests remembered while they await their answer, in all; past it the oldest is
/// forgotten (an answer to it then pairs with nothing).
pub const MAX_UNANSWERED_REQUESTS: usize = 65_536;

/// A request whose answer matters to the replay.
enum AwaitedAnswer {
    /// `mining.subscribe`: its result sets the extranonce.
    Subscribe,
    /// `mining.configure`: its result sets the version-rolling mask.
    Configure,
    /// A checked submit: its line and its verdict's outcome, to compare with the pool's.
    Submit { line: usize, outcome: Outcome },
    /// Any other request with an id (`mining.authorize`, `mining.suggest_difficulty`, …):
    /// remembered only so its answer is not paired with a submit of the same id.
    Other,
}

/// A request id as the pool echoes it: the first 16 bytes of the SHA-256 of its JSON text,
/// so a key is small whatever the id (`7`, `"7"` and `7.0` are different ids).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct RequestIdKey([u8; 16]);

impl RequestIdKey {
    fn of(id: &Value) -> Self {
        let digest = crate::hash::sha256(id.to_string().as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        RequestIdKey(key)
    }
}

/// The requests sent and not answered yet. Stratum answers in order on one connection, so
/// the first answer with id X belongs to the oldest unanswered request with id X (miners
/// do reuse ids: cgminer after a restart, firmware that sends id 4 for every submit).
/// At most [`MAX_UNANSWERED_REQUESTS`]; the oldest of all is forgotten first.
#[derive(Default)]
struct UnansweredRequests {
    /// Every unanswered request by its sequence number, so the oldest comes first.
    by_age: BTreeMap<u64, (RequestIdKey, AwaitedAnswer)>,
    /// The sequence numbers of the unanswered requests of each id, oldest first (never an
    /// empty queue: an id whose requests are all answered or forgotten is removed).
    by_id: HashMap<RequestIdKey, VecDeque<u64>>,
    next_sequence: u64,
}

impl UnansweredRequests {
    /// Remembers a request until its answer arrives.
    fn push(&mut self, id: &Value, awaited: AwaitedAnswer) {
        self.push_key(RequestIdKey::of(id), awaited);
    }

    /// [`UnansweredRequests::push`] for an id already reduced to its key.
    fn push_key(&mut self, key: RequestIdKey, awaited: AwaitedAnswer) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.by_id.entry(key).or_default().push_back(sequence);
        self.by_age.insert(sequence, (key, awaited));
        if self.by_age.len() > MAX_UNANSWERED_REQUESTS
            && let Some((oldest, (key, _))) = self.by_age.pop_first()
        {
            // The oldest request of all is the oldest of its id: the front of its queue.
            self.remove_from_queue(key, oldest);
        }
    }

    /// The oldest unanswered request with `id`, now answered; `None` if there is none.
    fn answer(&mut self, id: &Value) -> Option<AwaitedAnswer> {
        let key = RequestIdKey::of(id);
        let sequence = *self.by_id.get(&key)?.front()?;
        self.remove_from_queue(key, sequence);
        self.by_age.remove(&sequence).map(|(_, awaited)| awaited)
    }

    /// Removes `sequence`, the front of the queue of `key`, and the queue once empty.
    fn remove_from_queue(&mut self, key: RequestIdKey, sequence: u64) {
        if let Some(queue) = self.by_id.get_mut(&key) {
            debug_assert_eq!(queue.front(), Some(&sequence));
            queue.pop_front();
            if queue.is_empty() {
                self.by_id.remove(&key);
            }
        }
    }

    /// How many requests await their answer.
    fn len(&self) -> usize {
        self.by_age.len()
    }
}

/// A request id as a queued submit keeps it: a string, number or null as it is; anything
/// else (JSON-RPC does not allow it) as its compact JSON text, which the line length bounds
/// (a parsed array or object can take many times its text).
fn scalar_id(id: &Value) -> Value {
    match id {
        Value::Array(_) | Value::Object(_) | Value::Bool(_) => Value::String(id.to_string()),
        scalar => scalar.clone(),
    }
}

/// A submit waiting for its batch: what its check and its record need, each field once.
struct QueuedSubmit {
    line: usize,
    id: Value,
    /// The key of the id as sent (a structured id is kept as text in `id`).
    id_key: RequestIdKey,
    params: QueuedParams,
}

/// The params of a queued submit.
enum QueuedParams {
    /// Params that parsed: the check reads them, the record takes worker and job id.
    Parsed(Submit),
    /// Params that did not (a `malformed` verdict): what identifies them, if anything.
    Unparsed { worker: Option<String>, job_id: Option<String> },
}

/// Drives a validator and one session from transcript lines.
pub struct Replayer<'v> {
    validator: &'v Validator,
    session: Session,
    unanswered: UnansweredRequests,
    queue: Vec<QueuedSubmit>,
    /// Bytes of the lines of the queued submits.
    queued_bytes: usize,
    /// Aux work given for the most recent jobs, by job id.
    pending_aux: Vec<(String, Vec<AuxWork>)>,
    report: ReplayReport,
}

impl<'v> Replayer<'v> {
    /// A replayer for one connection.
    pub fn new(validator: &'v Validator) -> Self {
        Replayer {
            validator,
            session: validator.new_session(),
            unanswered: UnansweredRequests::default(),
            queue: Vec::new(),
            queued_bytes: 0,
            pending_aux: Vec::new(),
            report: ReplayReport::default(),
        }
    }

    /// Feeds one line given as raw bytes: text that is not UTF-8 is a line not understood.
    pub fn feed_bytes(&mut self, line: usize, bytes: &[u8]) {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.feed(line, text),
            Err(e) => self.report.problems.push(LineProblem {
                line,
                error: Error::Malformed {
                    what: "transcript line",
                    reason: format!("not UTF-8: {e}"),
                },
            }),
        }
    }

    /// Reports line `line`, of `length` bytes, as not understood because it is longer than
    /// [`MAX_LINE_BYTES`]: for a reader that skips such a line without keeping it.
    pub fn report_overlong_line(&mut self, line: usize, length: u64) {
        self.report.problems.push(LineProblem {
            line,
            error: Error::Malformed {
                what: "transcript line",
                reason: format!("{length} bytes, longer than the limit of {MAX_LINE_BYTES}"),
            },
        });
    }

    /// Feeds one line (1-based number `line`); a line longer than [`MAX_LINE_BYTES`] is
    /// not understood.
    pub fn feed(&mut self, line: usize, text: &str) {
        let content = text.strip_suffix('\n').unwrap_or(text);
        if content.len() > MAX_LINE_BYTES {
            self.report_overlong_line(line, content.len() as u64);
            return;
        }
        let message = match parse_line(text) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(error) => {
                self.report.problems.push(LineProblem { line, error });
                return;
            }
        };
        if let Message::Call { id, method, params } = &message
            && method == "mining.submit"
        {
            let params = match Submit::from_params(params) {
                Ok(submit) => QueuedParams::Parsed(submit),
                Err(_) => {
                    let (worker, job_id) = Submit::identify(params);
                    QueuedParams::Unparsed { worker, job_id }
                }
            };
            let id_key = RequestIdKey::of(id);
            self.queue.push(QueuedSubmit { line, id: scalar_id(id), id_key, params });
            self.queued_bytes += text.len();
            if self.queue.len() >= MAX_BATCH || self.queued_bytes >= MAX_QUEUED_BYTES {
                self.flush();
            }
            return;
        }
        self.flush();
        if let Err(error) = self.apply(line, message) {
            self.report.problems.push(LineProblem { line, error });
        }
    }

    /// How many requests (subscribe, configure, submits with an id) await their answer:
    /// at most [`MAX_UNANSWERED_REQUESTS`].
    pub fn unanswered_requests(&self) -> usize {
        self.unanswered.len()
    }

    /// Checks the submits queued so far (their records become ready to drain).
    pub fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let queue = std::mem::take(&mut self.queue);
        self.queued_bytes = 0;
        let shares: Vec<(&Session, &Submit)> = queue
            .iter()
            .filter_map(|q| match &q.params {
                QueuedParams::Parsed(submit) => Some((&self.session, submit)),
                QueuedParams::Unparsed { .. } => None,
            })
            .collect();
        let mut checked = self.validator.check_batch(&shares).into_iter();
        drop(shares);
        for q in queue {
            let (verdict, worker, job_id) = match q.params {
                QueuedParams::Parsed(submit) => {
                    let verdict = checked.next().expect("one verdict per parsed submit"); // invariant: see message
                    (verdict, Some(submit.worker), Some(submit.job_id))
                }
                QueuedParams::Unparsed { worker, job_id } => {
                    (Verdict::rejected(crate::validate::Reason::Malformed), worker, job_id)
                }
            };
            if !q.id.is_null() {
                let awaited = AwaitedAnswer::Submit { line: q.line, outcome: verdict.outcome };
                self.unanswered.push_key(q.id_key, awaited);
            }
            self.report.submits.push(SubmitRecord {
                line: q.line,
                id: q.id,
                worker,
                job_id,
                result: verdict.outcome.as_str(),
                reason: verdict.reason().map(|r| r.as_str()),
                code: verdict.reason().map(|r| r.code()),
                hash: verdict.pow_hash.map(|h| h.to_display_hex()),
                share_difficulty: verdict.share_difficulty,
                aux_blocks: verdict
                    .aux_blocks
                    .iter()
                    .map(|a| AuxBlockRecord {
                        chain_id: a.chain_id,
                        aux_block_hash: a.aux_block_hash.to_display_hex(),
                        auxpow_hex: hex::encode(&a.auxpow),
                    })
                    .collect(),
                verdict,
            });
        }
    }

    fn apply(&mut self, line: usize, message: Message) -> Result<(), Error> {
        match message {
            Message::Call { id, method, params } => match method.as_str() {
                "mining.notify" => {
                    let notify = Notify::from_params(&params)?;
                    // Kept for the job's later notifies too (a pool re-sends its jobs).
                    let aux = self
                        .pending_aux
                        .iter()
                        .find(|(j, _)| *j == notify.job_id)
                        .map(|(_, aux)| aux.clone())
                        .unwrap_or_default();
                    let registered = match aux.is_empty() {
                        true => self.validator.notify(notify),
                        false => self.validator.notify_with_aux(notify, &aux),
                    };
                    if let Err(e) = registered {
                        self.report.refused_jobs.push(LineProblem { line, error: e });
                    }
                }
                AUX_WORK_METHOD => {
                    let (job_id, aux) = aux_work_from_params(&params)?;
                    if !matches!(self.validator.jobs().lookup(&job_id), JobLookup::NotFound) {
                        return Err(Error::Malformed {
                            what: "aux work",
                            reason: "it comes after its job's notify: it must come before".into(),
                        });
                    }
                    self.pending_aux.retain(|(j, _)| *j != job_id);
                    if self.pending_aux.len() >= PENDING_AUX_WORK {
                        self.pending_aux.remove(0);
                    }
                    self.pending_aux.push((job_id, aux));
                }
                "mining.set_difficulty" => {
                    let d = set_difficulty_from_params(&params)?;
                    self.validator.set_difficulty(&mut self.session, d)?;
                }
                "mining.set_extranonce" => {
                    let s = SetExtranonce::from_params(&params)?;
                    self.session.set_extranonce(s.extranonce1, s.extranonce2_size)?;
                }
                "mining.set_version_mask" => {
                    self.session.set_version_mask(Some(set_version_mask_from_params(&params)?));
                }
                // A null id is a notification: no answer comes.
                _ if id.is_null() => {}
                "mining.subscribe" => self.unanswered.push(&id, AwaitedAnswer::Subscribe),
                "mining.configure" => self.unanswered.push(&id, AwaitedAnswer::Configure),
                // Requests that do not change what a share must satisfy.
                _ => self.unanswered.push(&id, AwaitedAnswer::Other),
            },
            Message::Response { id, result, error } => match self.unanswered.answer(&id) {
                Some(AwaitedAnswer::Subscribe) if error.is_null() && !result.is_null() => {
                    let s = SubscribeResult::from_result(&result)?;
                    self.session.set_extranonce(s.extranonce1, s.extranonce2_size)?;
                }
                Some(AwaitedAnswer::Configure) if error.is_null() && !result.is_null() => {
                    let c = ConfigureResult::from_result(&result)?;
                    self.session.set_version_mask(c.version_mask);
                }
                Some(AwaitedAnswer::Submit { line: submit_line, outcome }) => {
                    let pool_accepted = result == Value::Bool(true) && error.is_null();
                    let valid = !matches!(outcome, Outcome::Rejected(_));
                    if pool_accepted != valid {
                        let ours = match outcome {
                            Outcome::Rejected(reason) => format!("rejected ({reason})"),
                            valid => valid.as_str().to_string(),
                        };
                        self.report.disagreements.push(Disagreement {
                            submit_line,
                            response_line: line,
                            pool_accepted,
                            pool_error: error,
                            ours,
                        });
                    }
                }
                _ => {}
            },
        }
        Ok(())
    }

    /// Takes what is ready so far (checked submits, problems, refused jobs,
    /// disagreements); queued submits stay queued.
    pub fn drain(&mut self) -> ReplayReport {
        std::mem::take(&mut self.report)
    }

    /// Flushes and returns everything not drained yet.
    pub fn finish(mut self) -> ReplayReport {
        self.flush();
        self.report
    }
}

/// Replays a whole transcript (lines longer than [`MAX_LINE_BYTES`] are not understood).
pub fn replay_lines<'a>(
    validator: &Validator,
    lines: impl IntoIterator<Item = &'a str>,
) -> ReplayReport {
    let mut r = Replayer::new(validator);
    for (i, line) in lines.into_iter().enumerate() {
        r.feed(i + 1, line);
    }
    r.finish()
}

/// The params of an aux work annotation ([`AUX_WORK_METHOD`]).
fn aux_work_from_params(params: &Value) -> Result<(String, Vec<AuxWork>), Error> {
    let malformed = |reason: &str| Error::Malformed { what: "aux work", reason: reason.into() };
    let job_id = params.get(0).and_then(Value::as_str).ok_or_else(|| malformed("no job id"))?;
    let chains = params.get(1).and_then(Value::as_array).ok_or_else(|| malformed("no chains"))?;
    if chains.len() > crate::validate::aux_work::MAX_AUX_CHAINS {
        return Err(malformed("too many chains"));
    }
    let aux = chains
        .iter()
        .map(|c| {
            let chain_id = c.get(0).and_then(Value::as_i64).and_then(|i| i32::try_from(i).ok());
            let chain_id =
                chain_id.ok_or_else(|| malformed("a chain id is not a 32-bit number"))?;
            let hash = c.get(1).and_then(Value::as_str).ok_or_else(|| malformed("no aux hash"))?;
            let aux_block_hash = crate::chain::Hash256::from_display_hex(hash)?;
            let bits = c.get(2).and_then(Value::as_str).ok_or_else(|| malformed("no bits"))?;
            let bits = crate::stratum::wire::parse_word(bits)
                .ok_or_else(|| malformed("bits are not 8 hex digits"))?;
            let target = crate::chain::CompactTarget(bits)
                .to_pow_target()
                .ok_or_else(|| malformed("bits give no target"))?;
            // The chain's place in the pool's commitment, if given: slot, then branch.
            let chain_merkle = match (c.get(3), c.get(4)) {
                (None, None) => None,
                (Some(index), Some(Value::Array(branch)))
                    if branch.len() <= crate::chain::auxpow::MAX_CHAIN_BRANCH =>
                {
                    let index = index
                        .as_u64()
                        .and_then(|i| u32::try_from(i).ok())
                        .ok_or_else(|| malformed("a slot is not a 32-bit number"))?;
                    let branch = branch
                        .iter()
                        .map(|h| {
                            let h = h
                                .as_str()
                                .ok_or_else(|| malformed("a branch entry is not a string"))?;
                            Ok(crate::chain::Hash256::from_display_hex(h)?.0)
                        })
                        .collect::<Result<Vec<_>, Error>>()?;
                    Some((index, branch))
                }
                _ => return Err(malformed("a slot needs its branch (at most 30 entries)")),
            };
            Ok(AuxWork { chain_id, aux_block_hash, target, chain_merkle })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((job_id.to_string(), aux))
}
