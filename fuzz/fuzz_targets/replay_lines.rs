//! Arbitrary transcript text through the line parser and the whole replay: every
//! `mining.submit` line within the line limit gets exactly one verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::Algorithm;
use sharecheck::replay::{MAX_LINE_BYTES, replay_lines};
use sharecheck::stratum::parse_line;
use sharecheck::validate::{Validator, ValidatorConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut submits = 0;
    for line in text.lines().filter(|l| l.len() <= MAX_LINE_BYTES) {
        if let Ok(Some(sharecheck::stratum::Message::Call { method, .. })) = parse_line(line)
            && method == "mining.submit"
        {
            submits += 1;
        }
    }
    let validator = Validator::new(Algorithm::Sha256d, ValidatorConfig::default());
    let report = replay_lines(&validator, text.lines());
    assert_eq!(report.submits.len(), submits);
});
