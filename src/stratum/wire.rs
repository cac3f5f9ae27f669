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
/// The 8 bytes are checked and decoded together in one 64-bit word.
pub fn parse_word(s: &str) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let digits: [u8; 8] = s.as_bytes().try_into().ok()?;
    // The first digit in the top byte.
    let x = u64::from_be_bytes(digits);
    if x & HIGH != 0 {
        return None;
    }
    // With every byte below 0x80, adding a per-byte constant below 0x80 carries into no
    // other byte: each byte's top bit then tells whether it is at least `lo`, or above `hi`.
    let in_range = |v: u64, lo: u8, hi: u8| {
        let at_least_lo = v + u64::from(0x80 - lo) * ONES;
        let above_hi = v + u64::from(0x7f - hi) * ONES;
        at_least_lo & !above_hi & HIGH
    };
    let digit = in_range(x, b'0', b'9');
    // Setting bit 5 folds 'A'..='F' onto 'a'..='f' and moves no other byte into that range.
    let letter = in_range(x | (0x20 * ONES), b'a', b'f');
    if digit | letter != HIGH {
        return None;
    }
    // A digit's value is its low nibble; a letter's ('a' is 0x61, 'A' 0x41) its low nibble
    // plus 9.
    let values = (x & (0x0f * ONES)) + (letter >> 7) * 9;
    // Pack the eight 4-bit values into 32 bits, pairs of bytes at a time.
    let bytes = (values >> 4 | values) & 0x00ff_00ff_00ff_00ff;
    let halves = (bytes >> 8 | bytes) & 0x0000_ffff_0000_ffff;
    Some((halves >> 16 | halves) as u32)
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

    /// Every ASCII character in every place of a valid word, and a two-byte character in
    /// every place, against std.
    #[test]
    fn every_character_in_every_place() {
        for place in 0..8 {
            for c in (0u8..0x80).map(char::from) {
                let mut s: Vec<char> = "09afAF5c".chars().collect();
                s[place] = c;
                let s: String = s.into_iter().collect();
                assert_eq!(parse_word(&s), std_word(&s), "{s:?}");
            }
        }
        for place in 0..7 {
            let s = format!("{}\u{e9}{}", &"0123456"[..place], &"0123456"[place..6]);
            assert_eq!(s.len(), 8);
            assert_eq!(parse_word(&s), None, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn words_parse_as_std_parses_them(s in "[0-9a-fA-FgG+ -]{6,10}") {
            prop_assert_eq!(parse_word(&s), std_word(&s));
        }

        /// Eight bytes, mostly hex digits, now and then a two-byte character.
        #[test]
        fn any_eight_bytes_parse_as_std_parses_them(
            ascii in prop::collection::vec(
                prop_oneof![
                    3 => prop::char::range('0', '9'),
                    2 => prop::char::range('a', 'f'),
                    2 => prop::char::range('A', 'F'),
                    1 => prop::char::range('\0', '\x7f'),
                ],
                8,
            ),
            wide in prop::option::of((0usize..7, prop::char::range('\u{80}', '\u{7ff}'))),
        ) {
            let mut chars = ascii;
            if let Some((place, c)) = wide {
                chars.splice(place..place + 2, [c]);
            }
            let s: String = chars.into_iter().collect();
            prop_assert_eq!(s.len(), 8);
            prop_assert_eq!(parse_word(&s), std_word(&s));
        }

        #[test]
        fn every_word_parses_from_its_hex(word in any::<u32>()) {
            prop_assert_eq!(parse_word(&format!("{word:08x}")), Some(word));
            prop_assert_eq!(parse_word(&format!("{word:08X}")), Some(word));
        }
    }
}
