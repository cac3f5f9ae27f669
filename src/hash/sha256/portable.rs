//! Portable SHA-256 compression (FIPS 180-4), the reference every SIMD path is held against.

use super::{K, PADDING_64_SCHEDULE};

#[inline(always)]
fn big_sigma0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
#[inline(always)]
fn big_sigma1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}
#[inline(always)]
pub(crate) const fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
#[inline(always)]
pub(crate) const fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

/// Expands 16 message words into the 64-word schedule.
#[inline(always)]
pub(crate) fn expand_schedule(words: &[u32; 16]) -> [u32; 64] {
    let mut w = [0u32; 64];
    w[..16].copy_from_slice(words);
    for t in 16..64 {
        w[t] = small_sigma1(w[t - 2])
            .wrapping_add(w[t - 7])
            .wrapping_add(small_sigma0(w[t - 15]))
            .wrapping_add(w[t - 16]);
    }
    w
}

/// Runs the 64 rounds on a schedule that already has the round constants added.
#[inline(always)]
fn rounds(state: &mut [u32; 8], schedule_plus_k: &[u32; 64]) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for &wk in schedule_plus_k {
        let t1 = h.wrapping_add(big_sigma1(e)).wrapping_add((e & f) ^ (!e & g)).wrapping_add(wk);
        let t2 = big_sigma0(a).wrapping_add((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// Compresses one block given as 16 big-endian-decoded words.
#[inline]
pub(crate) fn compress_words(state: &mut [u32; 8], words: &[u32; 16]) {
    let mut w = expand_schedule(words);
    for (w, k) in w.iter_mut().zip(K) {
        *w = w.wrapping_add(k);
    }
    rounds(state, &w);
}

/// Compresses whole 64-byte blocks into `state`.
pub(crate) fn compress_blocks(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    for block in blocks {
        let words: [u32; 16] = core::array::from_fn(|i| {
            u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap()) // infallible: fixed-size range
        });
        compress_words(state, &words);
    }
}

/// Compresses a block given by its precomputed schedule (round constants added).
#[inline]
pub(crate) fn compress_scheduled(state: &mut [u32; 8], schedule_plus_k: &[u32; 64]) {
    rounds(state, schedule_plus_k);
}

/// Compresses the constant padding block that follows a 64-byte message.
#[inline]
pub(crate) fn compress_padding_64(state: &mut [u32; 8]) {
    rounds(state, &PADDING_64_SCHEDULE);
}
