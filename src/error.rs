//! The crate's error type: every malformed input maps to one of these, never a panic.

use std::fmt::Write;

use thiserror::Error;

/// Characters of an offending input an error message shows; a longer input is cut there
/// and only its length is given, so a message stays short whatever the input's size.
pub const MAX_QUOTED_CHARS: usize = 16;

/// An offending input as error messages show it, with no allocation proportional to it:
/// quoted and escaped like `{:?}`, and when it has more than [`MAX_QUOTED_CHARS`]
/// characters, its first ones and its length: `"0123456789abcdef…" (5000000 chars)`.
pub fn quote_input(input: &str) -> String {
    let mut quoted = String::from("\"");
    let mut chars = input.chars();
    for c in chars.by_ref().take(MAX_QUOTED_CHARS) {
        quoted.extend(c.escape_debug());
    }
    if chars.next().is_none() {
        quoted.push('"');
    } else {
        // Writing to a String cannot fail.
        let _ = write!(quoted, "…\" ({} chars)", input.chars().count());
    }
    quoted
}

/// What went wrong with an input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A string that should be hex is not (a non-hex digit or an odd number of digits).
    #[error("{what} is not valid hex: {reason}")]
    InvalidHex {
        /// Which field.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A byte string of the wrong size.
    #[error("{what} must be {expected} bytes, got {got}")]
    WrongLength {
        /// Which field.
        what: &'static str,
        /// Bytes required.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A difficulty that is zero, negative, NaN or infinite.
    #[error("difficulty must be a finite number greater than 0, got {0}")]
    InvalidDifficulty(f64),
    /// An algorithm name this crate does not know.
    #[error("unknown algorithm {} (expected sha256d or scrypt)", quote_input(.0))]
    UnknownAlgorithm(String),
    /// scrypt parameters outside what the reference implementation accepts.
    #[error("invalid scrypt parameters: {0}")]
    InvalidScryptParams(String),
    /// A stratum message that does not have the expected shape.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message or field.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A job the configured limits refuse (coinbase too large, branch too long, ...).
    #[error("job refused: {0}")]
    JobRefused(String),
}

/// Decodes hex into bytes, naming the field in the error.
pub fn decode_hex(what: &'static str, s: &str) -> Result<Vec<u8>, Error> {
    hex::decode(s).map_err(|e| Error::InvalidHex { what, reason: e.to_string() })
}

/// Decodes hex into exactly `N` bytes. A string that is not hex at all is reported as
/// such before its length is.
pub fn decode_hex_array<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], Error> {
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(Error::InvalidHex { what, reason: format!("invalid character {c:?} at {i}") });
    }
    if s.len() % 2 == 1 {
        return Err(Error::InvalidHex { what, reason: "odd number of digits".into() });
    }
    if s.len() != 2 * N {
        return Err(Error::WrongLength { what, expected: N, got: s.len() / 2 });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out)
        .map_err(|e| Error::InvalidHex { what, reason: e.to_string() })?;
    Ok(out)
}
