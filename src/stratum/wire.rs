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

/// 8 hex digits of a big-endian u32, else `None` (no allocation: the share check's form,
/// one pass over the digits).
pub fn parse_word(s: &str) -> Option<u32> {
    let digits: &[u8; 8] = s.as_bytes().try_into().ok()?;
    digits.iter().try_fold(0u32, |word, &digit| Some(word << 4 | hex_digit_value(digit)?))
}

/// The value of one hex digit, either case.
fn hex_digit_value(digit: u8) -> Option<u32> {
    let value = match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => return None,
    };
    Some(u32::from(value))
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

#[cfg(test)]
mod tests {
    use super::parse_word;
    use proptest::prelude::*;

    /// std's parser, behind the same 8-hex-digit rule (it alone also takes a `+` sign).
    fn std_word(s: &str) -> Option<u32> {
        let eight_hex_digits = s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if eight_hex_digits { u32::from_str_radix(s, 16).ok() } else { None }
    }

    #[test]
    fn words_at_the_edges() {
        assert_eq!(parse_word("00000000"), Some(0));
        assert_eq!(parse_word("ffffffff"), Some(u32::MAX));
        assert_eq!(parse_word("FFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_word("1a2B3c4D"), Some(0x1a2b_3c4d));
        for refused in
            ["", "0000000", "000000000", "+0000000", "0000000g", "0000 000", "00000\u{e9}0"]
        {
            assert_eq!(parse_word(refused), None, "{refused:?}");
        }
    }

    proptest! {
        #[test]
        fn words_parse_as_std_parses_them(s in "[0-9a-fA-FgG+ -]{6,10}") {
            prop_assert_eq!(parse_word(&s), std_word(&s));
        }

        #[test]
        fn every_word_parses_from_its_hex(word in any::<u32>()) {
            prop_assert_eq!(parse_word(&format!("{word:08x}")), Some(word));
            prop_assert_eq!(parse_word(&format!("{word:08X}")), Some(word));
        }
    }
}
