//! `mining.submit` params: parsed or a typed error; a parsed submit's hex fields are hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::stratum::Submit;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(s) = Submit::from_params(&value) {
        assert!(s.check_hex().is_ok());
    }
    let _ = Submit::identify(&value);
});
