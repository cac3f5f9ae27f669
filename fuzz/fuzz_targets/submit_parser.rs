//! `mining.submit` params: parsed or a typed error with a short message; a parsed
//! submit's hex fields are hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::stratum::Submit;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match Submit::from_params(&value) {
        Ok(s) => assert!(s.check_hex().is_ok()),
        // A quoted field shows at most 16 characters, whatever the input.
        Err(e) => assert!(e.to_string().len() <= 512, "{}", e.to_string().len()),
    }
    let _ = Submit::identify(&value);
});
