//! The whole check, driven by an arbitrary script of stratum events on two connections:
//! jobs notified (new, re-notified identically, changed under a re-used id, cleaned),
//! difficulty changes, re-subscriptions and submits, for SHA-256d or scrypt, under small
//! limits (live jobs, shares per job, shares per connection). One validator checks each
//! submit as it comes; its twin checks the same runs of submits as batches. Never a panic,
//! one verdict per submit, the batches answer what the sequential checks answer, and a
//! block always carries its solution.
#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sharecheck::Algorithm;
use sharecheck::stratum::{Notify, Submit};
use sharecheck::validate::{Outcome, Session, Validator, ValidatorConfig, Verdict};

/// A field that is usually well-formed, sometimes arbitrary text.
#[derive(Arbitrary, Debug)]
enum Field {
    Word(u32),
    Text(String),
}

impl Field {
    fn render(&self) -> String {
        match self {
            Field::Word(w) => format!("{w:08x}"),
            Field::Text(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Share {
    connection: bool,
    job: u8,
    /// Rendered at the connection's extranonce2 size, unless `extranonce2_raw` is given.
    extranonce2: u64,
    extranonce2_raw: Option<Vec<u8>>,
    upper: bool,
    ntime_offset: Field,
    nonce: Field,
    version_bits: Option<Field>,
}

#[derive(Arbitrary, Debug)]
enum Event {
    /// Notify job `id % 4`; `variant` picks its coinbase (the same variant again is an
    /// identical re-notify).
    Notify { id: u8, variant: u8, clean: bool },
    SetDifficulty { connection: bool, difficulty: f64 },
    Subscribe { connection: bool, extranonce1: Vec<u8>, extranonce2_size: u8 },
    VersionMask { connection: bool, mask: Option<u32> },
    Submit(Share),
    /// Closes the current run of submits (the twin checks it as one batch).
    Flush,
}

#[derive(Arbitrary, Debug)]
struct Input {
    scrypt: bool,
    /// 0: the default limits; else small ones derived from it.
    limits: u8,
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
    branch: Vec<[u8; 32]>,
    version: u32,
    /// 0: arbitrary `nbits_raw`; else one of `KNOWN_NBITS`.
    nbits_kind: u8,
    nbits_raw: u32,
    ntime: u32,
    events: Vec<Event>,
}

/// nBits with their targets worked out by hand (mantissa · 256^(exponent − 3)), as
/// big-endian bytes: every hash is a block (regtest), 1 in 4 is, 1 in 2^16 is.
const KNOWN_NBITS: [(u32, [u8; 4], usize); 3] = [
    (0x207f_ffff, [0x7f, 0xff, 0xff, 0x00], 0),
    (0x2040_0000, [0x40, 0x00, 0x00, 0x00], 0),
    (0x1f00_ffff, [0x00, 0x00, 0xff, 0xff], 0),
];

/// The network target of a known nBits kind, big-endian (its top 4 bytes as listed, the
/// rest zero), or `None` for arbitrary nBits.
fn known_target(kind: u8) -> Option<[u8; 32]> {
    let (_, top, at) = KNOWN_NBITS.get((kind % 4).checked_sub(1)? as usize)?;
    let mut target = [0u8; 32];
    target[*at..*at + 4].copy_from_slice(top);
    Some(target)
}

/// The most submits checked per input (scrypt costs ~50 µs a hash, twice).
const MAX_SUBMITS: usize = 48;

fn config(limits: u8) -> ValidatorConfig {
    if limits == 0 {
        return ValidatorConfig::default();
    }
    ValidatorConfig {
        max_live_jobs: 1 + (limits % 3) as usize,
        max_stale_ids: (limits / 3 % 3) as usize,
        max_shares_per_job: 1 + (limits / 9 % 6) as usize,
        max_shares_per_connection: 1 + (limits / 54 % 5) as usize,
        retired_jobs_kept: (limits % 7 % 3) as usize,
        reserve_shares_per_job: 4,
        ..ValidatorConfig::default()
    }
}

/// One validator and its two connections.
struct Side {
    validator: Validator,
    connections: [Session; 2],
}

impl Side {
    /// Two connections, subscribed with extranonce1 0 and 1 (4 bytes of extranonce2):
    /// further `Subscribe` events change them.
    fn new(algorithm: Algorithm, config: ValidatorConfig) -> Side {
        let validator = Validator::new(algorithm, config);
        let mut connections = [validator.new_session(), validator.new_session()];
        for (i, c) in connections.iter_mut().enumerate() {
            c.set_extranonce(vec![0, 0, 0, i as u8], 4).expect("4 + 4 bytes are in bounds");
        }
        Side { validator, connections }
    }

    /// Applies a state-changing event (never a submit).
    fn apply(&mut self, event: &Event, input: &Input) {
        match event {
            Event::Notify { id, variant, clean } => {
                if let Ok(n) = Notify::from_params(&notify_params(input, *id, *variant, *clean)) {
                    let _ = self.validator.notify(n);
                }
            }
            Event::SetDifficulty { connection, difficulty } => {
                let session = &mut self.connections[*connection as usize];
                let _ = self.validator.set_difficulty(session, *difficulty);
            }
            Event::Subscribe { connection, extranonce1, extranonce2_size } => {
                let session = &mut self.connections[*connection as usize];
                let _ = session.set_extranonce(extranonce1.clone(), (extranonce2_size % 9) as usize);
            }
            Event::VersionMask { connection, mask } => {
                self.connections[*connection as usize].set_version_mask(*mask);
            }
            Event::Submit(_) | Event::Flush => {}
        }
    }
}

fn notify_params(input: &Input, id: u8, variant: u8, clean: bool) -> serde_json::Value {
    let branch: Vec<String> = input.branch.iter().take(6).map(|b| hex(b)).collect();
    let nbits = match (input.nbits_kind % 4).checked_sub(1) {
        None => input.nbits_raw,
        Some(k) => KNOWN_NBITS[k as usize].0,
    };
    let mut coinb2 = input.coinb2.clone();
    coinb2.push(variant % 3);
    json!([
        format!("job{}", id % 4),
        hex(&[0u8; 32]),
        hex(&input.coinb1),
        hex(&coinb2),
        branch,
        format!("{:08x}", input.version),
        format!("{nbits:08x}"),
        format!("{:08x}", input.ntime),
        clean
    ])
}

fn submit(input: &Input, s: &Share, extranonce2_size: usize) -> Submit {
    let mut extranonce2 = match &s.extranonce2_raw {
        Some(raw) => hex(raw),
        None => {
            let bytes = s.extranonce2.to_le_bytes();
            let mut e = hex(&bytes[..extranonce2_size.min(8)]);
            e.push_str(&"00".repeat(extranonce2_size.saturating_sub(8)));
            e
        }
    };
    if s.upper {
        extranonce2 = extranonce2.to_uppercase();
    }
    let ntime = match &s.ntime_offset {
        Field::Word(w) => format!("{:08x}", input.ntime.wrapping_add(w % 7200)),
        other => other.render(),
    };
    Submit {
        worker: "w".into(),
        job_id: format!("job{}", s.job % 5),
        extranonce2,
        ntime,
        nonce: s.nonce.render(),
        version_bits: s.version_bits.as_ref().map(Field::render),
    }
}

/// What any verdict must satisfy: a block carries its solution, and a hash that meets
/// the network target (worked out independently) is a block or a duplicate, whatever the
/// limits: a block is never refused.
fn check_verdict(v: &Verdict, target: Option<&[u8; 32]>, taken: &mut HashSet<[u8; 32]>) {
    assert_eq!(v.outcome == Outcome::Block, v.block.is_some(), "{v:?}");
    // A duplicate repeats a share taken before. (The same hash may be taken twice: under
    // two job ids with the same content, or a job replaced under its id.)
    if let Some(hash) = v.pow_hash {
        match v.outcome {
            Outcome::Accepted | Outcome::Block => {
                taken.insert(hash.0);
            }
            Outcome::Rejected(sharecheck::validate::Reason::Duplicate) => {
                assert!(taken.contains(&hash.0), "a duplicate of nothing taken: {v:?}")
            }
            _ => {}
        }
    }
    if let (Some(target), Some(hash)) = (target, v.pow_hash) {
        let mut value = hash.0;
        value.reverse(); // the PoW value, big-endian
        if value <= *target {
            let repeat = v.outcome == Outcome::Rejected(sharecheck::validate::Reason::Duplicate);
            assert!(v.outcome == Outcome::Block || repeat, "a block refused: {v:?}");
        }
    }
}

fuzz_target!(|input: Input| {
    let algorithm = if input.scrypt { Algorithm::Scrypt } else { Algorithm::Sha256d };
    let mut sequential = Side::new(algorithm, config(input.limits));
    let mut batched = Side::new(algorithm, config(input.limits));
    let mut answered = Vec::new();
    let mut taken = HashSet::new();
    let mut pending: Vec<(bool, Submit)> = Vec::new();
    let mut submits = 0;
    let flush = |batched: &Side, pending: &mut Vec<(bool, Submit)>| -> Vec<Verdict> {
        let items: Vec<(&Session, &Submit)> =
            pending.iter().map(|(c, s)| (&batched.connections[*c as usize], s)).collect();
        let verdicts = batched.validator.check_batch(&items);
        assert_eq!(verdicts.len(), items.len(), "one verdict per submit");
        pending.clear();
        verdicts
    };
    for event in input.events.iter().take(64) {
        match event {
            Event::Submit(share) => {
                if submits == MAX_SUBMITS {
                    continue;
                }
                submits += 1;
                let session = &sequential.connections[share.connection as usize];
                let s = submit(&input, share, session.extranonce2_size());
                let verdict = sequential.validator.check(session, &s);
                check_verdict(&verdict, known_target(input.nbits_kind).as_ref(), &mut taken);
                answered.push(verdict);
                pending.push((share.connection, s));
            }
            other => {
                let verdicts = flush(&batched, &mut pending);
                let start = answered.len() - verdicts.len();
                assert_eq!(verdicts, answered[start..], "batch == sequential");
                sequential.apply(other, &input);
                batched.apply(other, &input);
            }
        }
    }
    let verdicts = flush(&batched, &mut pending);
    let start = answered.len() - verdicts.len();
    assert_eq!(verdicts, answered[start..], "batch == sequential");
});

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
