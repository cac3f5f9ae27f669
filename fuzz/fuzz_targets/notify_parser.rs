//! `mining.notify` params and the other pool messages: a typed error or a value, never a
//! panic; an accepted extranonce1 within its bound; an error message short whatever the
//! input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use sharecheck::stratum::wire::MAX_EXTRANONCE_BYTES;
use sharecheck::stratum::{ConfigureResult, Notify, SetExtranonce, SubscribeResult};
use sharecheck::validate::{PreparedJob, ValidatorConfig};

/// Longest message a parser's error may have (a quoted field shows at most 16 characters).
const MAX_MESSAGE: usize = 512;

fn short<T>(result: Result<T, sharecheck::Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            assert!(e.to_string().len() <= MAX_MESSAGE, "{}", e.to_string().len());
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Some(n) = short(Notify::from_params(&value)) {
        let _ = PreparedJob::new(n, &ValidatorConfig::default());
    }
    short(set_difficulty_from_params(&value));
    short(set_version_mask_from_params(&value));
    if let Some(s) = short(SetExtranonce::from_params(&value)) {
        assert!(s.extranonce1.len() <= MAX_EXTRANONCE_BYTES);
    }
    if let Some(s) = short(SubscribeResult::from_result(&value)) {
        assert!(s.extranonce1.len() <= MAX_EXTRANONCE_BYTES);
    }
    short(ConfigureResult::from_result(&value));
});
