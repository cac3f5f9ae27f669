//! The whole check on an arbitrary job, session and submits: one verdict each, never a
//! panic, and the batch answers what sequential checks answer.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sharecheck::Algorithm;
use sharecheck::stratum::{Notify, Submit};
use sharecheck::validate::{Session, Validator, ValidatorConfig};

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
    job: bool,
    extranonce2: Vec<u8>,
    upper: bool,
    ntime_offset: Field,
    nonce: Field,
    version_bits: Option<Field>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    extranonce1: Vec<u8>,
    extranonce2_size: u8,
    version_mask: Option<u32>,
    difficulty: f64,
    coinb1: Vec<u8>,
    coinb2: Vec<u8>,
    branch: Vec<[u8; 32]>,
    version: u32,
    nbits: u32,
    ntime: u32,
    subscribed: bool,
    shares: Vec<Share>,
}

fuzz_target!(|input: Input| {
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let branch: Vec<String> = input.branch.iter().take(8).map(|b| hex(b)).collect();
    let notify = json!(["job", hex(&[0u8; 32]), hex(&input.coinb1), hex(&input.coinb2), branch,
        format!("{:08x}", input.version), format!("{:08x}", input.nbits), format!("{:08x}", input.ntime), true]);
    let Ok(n) = Notify::from_params(&notify) else { return };
    let _ = validator.notify(n);
    let mut session = validator.new_session();
    if input.subscribed {
        session.set_extranonce(input.extranonce1.clone(), (input.extranonce2_size % 9) as usize);
    }
    session.set_version_mask(input.version_mask);
    let _ = validator.set_difficulty(&mut session, input.difficulty);
    let submits: Vec<Submit> = input
        .shares
        .iter()
        .take(16)
        .map(|s| {
            let mut en2 = hex(&s.extranonce2);
            if s.upper {
                en2 = en2.to_uppercase();
            }
            let ntime = match &s.ntime_offset {
                Field::Word(w) => format!("{:08x}", input.ntime.wrapping_add(w % 8000)),
                other => other.render(),
            };
            Submit {
                worker: "w".into(),
                job_id: if s.job { "job".into() } else { "other".into() },
                extranonce2: en2,
                ntime,
                nonce: s.nonce.render(),
                version_bits: s.version_bits.as_ref().map(Field::render),
            }
        })
        .collect();
    let sequential: Vec<_> = submits.iter().map(|s| validator.check(&session, s)).collect();
    // A second validator in the same state, checked as one batch.
    let twin = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let _ = twin.notify(Notify::from_params(&notify).unwrap());
    let mut twin_session = twin.new_session();
    if input.subscribed {
        twin_session.set_extranonce(input.extranonce1.clone(), (input.extranonce2_size % 9) as usize);
    }
    twin_session.set_version_mask(input.version_mask);
    let _ = twin.set_difficulty(&mut twin_session, input.difficulty);
    let items: Vec<(&Session, &Submit)> = submits.iter().map(|s| (&twin_session, s)).collect();
    assert_eq!(twin.check_batch(&items), sequential);
});

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
