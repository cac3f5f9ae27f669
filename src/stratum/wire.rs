//! Field-level decoding shared by the messages: hex, big-endian u32 words, and the typed
//! errors they produce.

use serde_json::Value;

use crate::error::{Error, decode_hex, quote_input};

/// Longest extranonce1 or extranonce2 accepted, in bytes. Pools use 2–16; the bound keeps
/// what one `mining.subscribe` or `mining.submit` can make the proxy hold or hash small.
pub const MAX_EXTRANONCE_BYTES: usize = 32;

/// Whether `s` is hex: only hex digits, and an even number of them.
pub fn is_hex(s: &str) -> bool {
    s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A u32 sent as 8 hex digits of its big-endian bytes (version, nbits, ntime, nonce).
pub fn parse_u32_be(what: &'static str, s: &str) -> Result<u32, Error> {
    parse_word(s).ok_or_else(|| Error::Malformed {
        what,
        reason: format!("expected 8 hex digits, got {}", quote_input(s)),
    })
}

/// 8 hex digits of a big-endian u32, else `None` (no allocation: the share check's form).
pub fn parse_word(s: &str) -> Option<u32> {
    if s.len() != 8 || !is_hex(s) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Hex bytes of any length.
pub fn parse_hex(what: &'static str, s: &str) -> Result<Vec<u8>, Error> {
    decode_hex(what, s)
}

/// The string at `params[i]`.
pub fn str_param<'a>(what: &'static str, params: &'a [Value], i: usize) -> Result<&'a str, Error> {
    params
        .get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Malformed { what, reason: format!("parameter {i} must be a string") })
}

/// A number sent as a JSON integer, float, or (by some pools) a numeric string.
pub fn number(what: &'static str, v: &Value) -> Result<f64, Error> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| Error::Malformed {
        what,
        reason: format!("expected a number, got {}", describe(v)),
    })
}

/// A JSON value as an error message shows it: strings through [`quote_input`], arrays and
/// objects by their size only, so the message stays short whatever the value.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => quote_input(s),
        Value::Array(a) => format!("an array of {} entries", a.len()),
        Value::Object(o) => format!("an object of {} fields", o.len()),
        // Null, a bool or a number: a few characters.
        other => other.to_string(),
    }
}

/// The JSON params array of a request or notification.
pub fn params_array<'a>(what: &'static str, params: &'a Value) -> Result<&'a [Value], Error> {
    params
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| Error::Malformed { what, reason: "params must be an array".into() })
}
