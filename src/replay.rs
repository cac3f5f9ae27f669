//! Replaying a Stratum V1 transcript (one JSON message a line, as a proxy sees one miner
//! connection) through a [`Validator`]: exactly one verdict per `mining.submit`, in order.
//!
//! Consecutive submits are checked as a batch (in parallel, with sequential semantics);
//! any other message first flushes the pending batch, so state changes apply in order.
//! Results can be drained as they are ready, so a live stream is answered as it goes and
//! memory does not grow with the transcript.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use crate::stratum::{
    ConfigureResult, Message, Notify, SetExtranonce, Submit, SubscribeResult, parse_line,
};
use crate::validate::{Session, Validator, Verdict};

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
    /// The full verdict (not serialized).
    #[serde(skip)]
    pub verdict: Verdict,
}

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

/// Submits checked together at most (a longer run of submits is split).
pub const MAX_BATCH: usize = 256;

/// Requests remembered while waiting for their responses; older ones are forgotten.
const MAX_PENDING: usize = 65_536;

enum Pending {
    Subscribe,
    Configure,
    /// A checked submit: its line, whether it was valid, and the verdict as text.
    Submit {
        line: usize,
        valid: bool,
        ours: String,
    },
}

struct QueuedSubmit {
    line: usize,
    id: Value,
    worker: Option<String>,
    job_id: Option<String>,
    parsed: Option<Submit>,
}

/// Drives a validator and one session from transcript lines.
pub struct Replayer<'v> {
    validator: &'v Validator,
    session: Session,
    pending: HashMap<String, Pending>,
    pending_order: VecDeque<String>,
    queue: Vec<QueuedSubmit>,
    report: ReplayReport,
}

fn id_key(id: &Value) -> String {
    id.to_string()
}

impl<'v> Replayer<'v> {
    /// A replayer for one connection.
    pub fn new(validator: &'v Validator) -> Self {
        Replayer {
            validator,
            session: validator.new_session(),
            pending: HashMap::new(),
            pending_order: VecDeque::new(),
            queue: Vec::new(),
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

    /// Feeds one line (1-based number `line`).
    pub fn feed(&mut self, line: usize, text: &str) {
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
            let (worker, job_id) = Submit::identify(params);
            let parsed = Submit::from_params(params).ok();
            self.queue.push(QueuedSubmit { line, id: id.clone(), worker, job_id, parsed });
            if self.queue.len() >= MAX_BATCH {
                self.flush();
            }
            return;
        }
        self.flush();
        if let Err(error) = self.apply(line, message) {
            self.report.problems.push(LineProblem { line, error });
        }
    }

    /// Remembers a request until its response arrives (bounded: the oldest go first).
    fn expect_response(&mut self, id: &Value, what: Pending) {
        let key = id_key(id);
        if self.pending.insert(key.clone(), what).is_none() {
            self.pending_order.push_back(key);
        }
        while self.pending_order.len() > MAX_PENDING {
            if let Some(old) = self.pending_order.pop_front() {
                self.pending.remove(&old);
            }
        }
    }

    /// Checks the submits queued so far (their records become ready to drain).
    pub fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let queue = std::mem::take(&mut self.queue);
        let shares: Vec<(&Session, &Submit)> =
            queue.iter().filter_map(|q| q.parsed.as_ref()).map(|s| (&self.session, s)).collect();
        let mut checked = self.validator.check_batch(&shares).into_iter();
        for q in queue {
            let verdict = if q.parsed.is_some() {
                checked.next().expect("one verdict per parsed submit") // invariant: see message
            } else {
                Verdict::rejected(crate::validate::Reason::Malformed)
            };
            if !q.id.is_null() {
                let ours = match verdict.reason() {
                    Some(r) => format!("rejected ({r})"),
                    None => verdict.outcome.as_str().to_string(),
                };
                let pending = Pending::Submit { line: q.line, valid: verdict.is_valid(), ours };
                self.expect_response(&q.id, pending);
            }
            self.report.submits.push(SubmitRecord {
                line: q.line,
                id: q.id,
                worker: q.worker,
                job_id: q.job_id,
                result: verdict.outcome.as_str(),
                reason: verdict.reason().map(|r| r.as_str()),
                code: verdict.reason().map(|r| r.code()),
                hash: verdict.pow_hash.map(|h| h.to_display_hex()),
                share_difficulty: verdict.share_difficulty,
                verdict,
            });
        }
    }

    fn apply(&mut self, line: usize, message: Message) -> Result<(), Error> {
        match message {
            Message::Call { id, method, params } => match method.as_str() {
                "mining.notify" => {
                    if let Err(e) = self.validator.notify(Notify::from_params(&params)?) {
                        self.report.refused_jobs.push(LineProblem { line, error: e });
                    }
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
                "mining.subscribe" => self.expect_response(&id, Pending::Subscribe),
                "mining.configure" => self.expect_response(&id, Pending::Configure),
                // Requests that do not change what a share must satisfy.
                _ => {}
            },
            Message::Response { id, result, error } => match self.pending.remove(&id_key(&id)) {
                Some(Pending::Subscribe) if error.is_null() && !result.is_null() => {
                    let s = SubscribeResult::from_result(&result)?;
                    self.session.set_extranonce(s.extranonce1, s.extranonce2_size)?;
                }
                Some(Pending::Configure) if error.is_null() && !result.is_null() => {
                    let c = ConfigureResult::from_result(&result)?;
                    self.session.set_version_mask(c.version_mask);
                }
                Some(Pending::Submit { line: submit_line, valid, ours }) => {
                    let pool_accepted = result == Value::Bool(true) && error.is_null();
                    if pool_accepted != valid {
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

/// Replays a whole transcript.
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
