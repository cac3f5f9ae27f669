//! ROMix (N = 1024, r = 1) for one hash in SSE2, "diagonal" layout: the four quarter-rounds
//! of a Salsa20/8 column or row step run side by side in one vector, and a word rotation of
//! three rows between steps turns columns into rows and back.
//!
//! Row `k` of a 64-byte half holds words `DIAGONAL[4k..4k + 4]`: `(0, 5, 10, 15)`,
//! `(4, 9, 14, 3)`, `(8, 13, 2, 7)`, `(12, 1, 6, 11)`. Lane `i` of the four rows is then
//! column quarter-round `i` in RFC 7914's order (`a, b, c, d` = rows 0, 1, 2, 3), and after
//! rotating rows 1–3 by 3, 2 and 1 words, row quarter-round `i` (`a, d, c, b`). Additions
//! and XORs are word-wise, so the whole ROMix (its table included) stays in this layout;
//! only its input and output are permuted. Word 0 of a half stays in lane 0 of row 0:
//! Integerify reads it there.
//!
//! One hash is a single dependency chain (each step needs the last), so the vector form
//! saves instructions but not latency: 1.2–1.4× the portable ROMix here, and level with the
//! `scrypt` crate, whose BlockMix is this same design (`sharecheck bench`'s
//! `scrypt_single_hashes_per_s`). Batches use the lane kernels.

use core::arch::x86_64::*;

use super::SCRYPT_N;

/// The word of a 16-word half held by each lane of the four rows, in order.
const DIAGONAL: [usize; 16] = [0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11];

/// A 128-byte ROMix block in the diagonal layout: rows 0–3 of the first half, then of
/// the second.
type Block = [__m128i; 8];

/// Rotate left by `L` (`R` = 32 − `L`): SSE2 has no vector rotate.
#[inline]
#[target_feature(enable = "sse2")]
fn rotl<const L: i32, const R: i32>(x: __m128i) -> __m128i {
    _mm_or_si128(_mm_slli_epi32::<L>(x), _mm_srli_epi32::<R>(x))
}

/// `x ^= rotl(a + b, L)`, one quarter-round step in four lanes.
#[inline]
#[target_feature(enable = "sse2")]
fn step<const L: i32, const R: i32>(x: __m128i, a: __m128i, b: __m128i) -> __m128i {
    _mm_xor_si128(x, rotl::<L, R>(_mm_add_epi32(a, b)))
}

/// Salsa20/8 core on one half in the diagonal layout: `half = half + rounds(half)`.
#[inline]
#[target_feature(enable = "sse2")]
fn salsa20_8(half: &mut [__m128i; 4]) {
    let [mut a, mut b, mut c, mut d] = *half;
    for _ in 0..4 {
        // Columns: lane i is quarter-round (a, b, c, d) of column i.
        b = step::<7, 25>(b, a, d);
        c = step::<9, 23>(c, b, a);
        d = step::<13, 19>(d, c, b);
        a = step::<18, 14>(a, d, c);
        // Rows: d, c, b rotated so that lane i holds row i's quarter-round (a, d, c, b).
        b = _mm_shuffle_epi32::<0x93>(b);
        c = _mm_shuffle_epi32::<0x4e>(c);
        d = _mm_shuffle_epi32::<0x39>(d);
        d = step::<7, 25>(d, a, b);
        c = step::<9, 23>(c, d, a);
        b = step::<13, 19>(b, c, d);
        a = step::<18, 14>(a, b, c);
        b = _mm_shuffle_epi32::<0x39>(b);
        c = _mm_shuffle_epi32::<0x4e>(c);
        d = _mm_shuffle_epi32::<0x93>(d);
    }
    half[0] = _mm_add_epi32(half[0], a);
    half[1] = _mm_add_epi32(half[1], b);
    half[2] = _mm_add_epi32(half[2], c);
    half[3] = _mm_add_epi32(half[3], d);
}

/// BlockMix for r = 1 (RFC 7914 §4) in place.
#[inline]
#[target_feature(enable = "sse2")]
fn block_mix_r1(x: &mut Block) {
    let (first, second) = x.split_at_mut(4);
    let first: &mut [__m128i; 4] = first.try_into().expect("4 rows"); // infallible: fixed split
    let second: &mut [__m128i; 4] = second.try_into().expect("4 rows"); // infallible: fixed split
    for (f, s) in first.iter_mut().zip(second.iter()) {
        *f = _mm_xor_si128(*f, *s);
    }
    salsa20_8(first);
    for (s, f) in second.iter_mut().zip(first.iter()) {
        *s = _mm_xor_si128(*s, *f);
    }
    salsa20_8(second);
}

/// The block `x` (words in order) in the diagonal layout.
#[inline]
#[target_feature(enable = "sse2")]
fn to_diagonal(x: &[u32; 32]) -> Block {
    core::array::from_fn(|row| {
        let half = &x[(row / 4) * 16..][..16];
        let word = |lane: usize| half[DIAGONAL[(row % 4) * 4 + lane]] as i32;
        _mm_set_epi32(word(3), word(2), word(1), word(0))
    })
}

/// The words of one vector, lane 0 first.
#[inline]
#[target_feature(enable = "sse2")]
fn lanes(v: __m128i) -> [u32; 4] {
    [
        _mm_cvtsi128_si32(v) as u32,
        _mm_cvtsi128_si32(_mm_shuffle_epi32::<0x55>(v)) as u32,
        _mm_cvtsi128_si32(_mm_shuffle_epi32::<0xaa>(v)) as u32,
        _mm_cvtsi128_si32(_mm_shuffle_epi32::<0xff>(v)) as u32,
    ]
}

/// ROMix(N = 1024, r = 1) of `x` in place, with `table` (N blocks) as V. The table holds
/// the blocks in the diagonal layout; it is scratch, so its layout is this kernel's own.
#[target_feature(enable = "sse2")]
pub(crate) fn romix_1024_r1(x: &mut [u32; 32], table: &mut [[u32; 32]]) {
    assert_eq!(table.len(), SCRYPT_N, "a table of N blocks");
    let mut block = to_diagonal(x);
    for slot in table.iter_mut() {
        for (row, v) in block.iter().enumerate() {
            // SAFETY: row < 8, so words 4·row .. 4·row + 4 are inside the 32-word slot;
            // the store is unaligned.
            unsafe { _mm_storeu_si128(slot.as_mut_ptr().add(4 * row).cast(), *v) };
        }
        block_mix_r1(&mut block);
    }
    for _ in 0..SCRYPT_N {
        // Integerify: word 0 of the second half, lane 0 of its row 0.
        let j = (_mm_cvtsi128_si32(block[4]) as u32 as usize) & (SCRYPT_N - 1);
        let slot = &table[j];
        for (row, v) in block.iter_mut().enumerate() {
            // SAFETY: as for the store above (row < 8, inside the 32-word slot).
            let stored = unsafe { _mm_loadu_si128(slot.as_ptr().add(4 * row).cast()) };
            *v = _mm_xor_si128(*v, stored);
        }
        block_mix_r1(&mut block);
    }
    for (row, v) in block.iter().enumerate() {
        let half = &mut x[(row / 4) * 16..][..16];
        for (lane, word) in lanes(*v).into_iter().enumerate() {
            half[DIAGONAL[(row % 4) * 4 + lane]] = word;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ScryptScratch, romix};

    /// The SSE2 ROMix against the portable one on blocks of every kind of word.
    #[test]
    fn equals_the_portable_romix() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut word = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (state >> 32) as u32
        };
        let (mut a, mut b) = (ScryptScratch::new(), ScryptScratch::new());
        for case in 0..4 {
            let x: [u32; 32] = match case {
                0 => [0; 32],
                1 => [u32::MAX; 32],
                _ => core::array::from_fn(|_| word()),
            };
            let (mut portable, mut sse2) = (x, x);
            romix::romix_1024_r1(&mut portable, &mut a);
            // SAFETY: SSE2 is part of x86-64.
            unsafe { super::romix_1024_r1(&mut sse2, b.table_mut()) };
            assert_eq!(sse2, portable, "case {case}");
        }
    }
}
