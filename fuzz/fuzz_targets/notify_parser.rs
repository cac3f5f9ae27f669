//! `mining.notify` params and the other pool messages: a typed error or a value, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::stratum::messages::{set_difficulty_from_params, set_version_mask_from_params};
use sharecheck::stratum::{ConfigureResult, Notify, SetExtranonce, SubscribeResult};
use sharecheck::validate::{PreparedJob, ValidatorConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(n) = Notify::from_params(&value) {
        let _ = PreparedJob::new(n, &ValidatorConfig::default());
    }
    let _ = set_difficulty_from_params(&value);
    let _ = set_version_mask_from_params(&value);
    let _ = SetExtranonce::from_params(&value);
    let _ = SubscribeResult::from_result(&value);
    let _ = ConfigureResult::from_result(&value);
});
