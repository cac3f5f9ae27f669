//! Generic scrypt (RFC 7914) for any N, r, p: a plain reference used to prove the
//! specialised header kernel and to check the RFC's own vectors. Not a hot path.

use super::pbkdf2::pbkdf2_hmac_sha256;
use super::salsa::salsa20_8;
use crate::error::Error;

/// Largest scratch memory the reference accepts, 1 GiB (RFC 7914's largest vector): a
/// bound on both V (N · r · 128 bytes) and B (p · r · 128 bytes).
pub const MAX_REFERENCE_MEMORY: usize = 1 << 30;

/// scrypt(password, salt, N = 2^log_n, r, p) into `out`.
pub fn scrypt_kdf(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
    out: &mut [u8],
) -> Result<(), Error> {
    let invalid = |why: &str| Error::InvalidScryptParams(why.to_string());
    if log_n == 0 || log_n >= 32 {
        return Err(invalid("log2(N) must be in 1..=31"));
    }
    if r == 0 || p == 0 {
        return Err(invalid("r and p must be positive"));
    }
    if out.is_empty() {
        return Err(invalid("output length must be positive"));
    }
    // RFC 7914 §2: p ≤ ((2^32 − 1) · hLen) / MFLen with hLen = 32 and MFLen = 128·r, so
    // that PBKDF2 never needs more than 2^32 − 1 output blocks. In u64: no overflow.
    if u64::from(p) > (u64::from(u32::MAX) * 32) / (128 * u64::from(r)) {
        return Err(invalid("p exceeds ((2^32 - 1)·32)/(128·r) (RFC 7914)"));
    }
    let n = 1usize << log_n;
    let block_bytes = (r as usize).checked_mul(128);
    let memory = block_bytes.and_then(|b| b.checked_mul(n)).filter(|&m| m <= MAX_REFERENCE_MEMORY);
    if memory.is_none() {
        return Err(invalid("N·r·128 exceeds the reference limit"));
    }
    // B holds p blocks: bounded like V before it is allocated.
    let b_len =
        block_bytes.and_then(|b| b.checked_mul(p as usize)).filter(|&m| m <= MAX_REFERENCE_MEMORY);
    let Some(b_len) = b_len else {
        return Err(invalid("p·r·128 exceeds the reference limit"));
    };
    let words = 32 * r as usize; // one ROMix block: 128·r bytes, bounded above
    let mut b = vec![0u8; b_len];
    pbkdf2_hmac_sha256(password, salt, 1, &mut b);
    let mut v = vec![0u32; n * words];
    for chunk in b.chunks_mut(words * 4) {
        let mut x: Vec<u32> =
            chunk.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect(); // infallible: fixed-size range
        romix(&mut x, &mut v, n, r as usize);
        for (c, w) in chunk.chunks_exact_mut(4).zip(&x) {
            c.copy_from_slice(&w.to_le_bytes());
        }
    }
    pbkdf2_hmac_sha256(password, &b, 1, out);
    Ok(())
}

fn romix(x: &mut [u32], v: &mut [u32], n: usize, r: usize) {
    let words = 32 * r;
    let mut y = vec![0u32; words];
    for i in 0..n {
        v[i * words..(i + 1) * words].copy_from_slice(x);
        block_mix(x, &mut y, r);
    }
    for _ in 0..n {
        let j = (x[(2 * r - 1) * 16] as usize) & (n - 1);
        for (a, b) in x.iter_mut().zip(&v[j * words..(j + 1) * words]) {
            *a ^= *b;
        }
        block_mix(x, &mut y, r);
    }
}

/// BlockMix_{Salsa20/8, r}: outputs the even blocks first, then the odd ones.
fn block_mix(b: &mut [u32], y: &mut [u32], r: usize) {
    let mut x: [u32; 16] = b[(2 * r - 1) * 16..].try_into().unwrap(); // infallible: fixed-size range
    for i in 0..2 * r {
        for (a, c) in x.iter_mut().zip(&b[i * 16..(i + 1) * 16]) {
            *a ^= *c;
        }
        salsa20_8(&mut x);
        let dest = if i % 2 == 0 { i / 2 } else { r + i / 2 };
        y[dest * 16..(dest + 1) * 16].copy_from_slice(&x);
    }
    b.copy_from_slice(y);
}
