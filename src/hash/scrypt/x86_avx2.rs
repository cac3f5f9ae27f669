//! ROMix (N = 1024, r = 1) for 8 hashes at once with AVX2, "vertical" layout: ymm register
//! k holds word k of all 8 hashes, so Salsa20/8 runs with no shuffles at all (every
//! quarter-round is the scalar one, 8 lanes wide). The scratchpad keeps each hash's
//! 128-byte blocks contiguous (one row per lane), so the random reads of the second loop
//! touch 2 cache lines per hash; 8×8 transposes move blocks between the two layouts.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::SCRYPT_N;
use super::salsa::salsa20_8_rounds;

/// Hashes computed together.
pub(crate) const LANES: usize = 8;

/// Words of one ROMix block (128 bytes).
const WORDS: usize = 32;

/// The scratchpad of 8 hashes: lane `l`'s block `i` is at `(l * N + i) * 32` words.
pub(crate) const SCRATCH_WORDS: usize = LANES * SCRYPT_N * WORDS;

/// Rotate left by `L` (`R` = 32 − `L`): AVX2 has no vector rotate, so two shifts and an or.
#[inline]
#[target_feature(enable = "avx2")]
fn rotl<const L: i32, const R: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi32::<L>(x), _mm256_srli_epi32::<R>(x))
}

/// Salsa20/8 core on 16 vertical words: `b = b + rounds(b)`.
#[inline]
#[target_feature(enable = "avx2")]
fn salsa20_8(b: &mut [__m256i; 16]) {
    let mut x = *b;
    macro_rules! quarter {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            x[$b] = _mm256_xor_si256(x[$b], rotl::<7, 25>(_mm256_add_epi32(x[$a], x[$d])));
            x[$c] = _mm256_xor_si256(x[$c], rotl::<9, 23>(_mm256_add_epi32(x[$b], x[$a])));
            x[$d] = _mm256_xor_si256(x[$d], rotl::<13, 19>(_mm256_add_epi32(x[$c], x[$b])));
            x[$a] = _mm256_xor_si256(x[$a], rotl::<18, 14>(_mm256_add_epi32(x[$d], x[$c])));
        };
    }
    salsa20_8_rounds!(quarter);
    for i in 0..16 {
        b[i] = _mm256_add_epi32(b[i], x[i]);
    }
}

/// BlockMix (r = 1) on 32 vertical words.
#[inline]
#[target_feature(enable = "avx2")]
fn block_mix(x: &mut [__m256i; WORDS]) {
    let (lo, hi) = x.split_at_mut(16);
    let lo: &mut [__m256i; 16] = lo.try_into().unwrap(); // infallible: fixed-size range
    let hi: &mut [__m256i; 16] = hi.try_into().unwrap(); // infallible: fixed-size range
    for i in 0..16 {
        lo[i] = _mm256_xor_si256(lo[i], hi[i]);
    }
    salsa20_8(lo);
    for i in 0..16 {
        hi[i] = _mm256_xor_si256(hi[i], lo[i]);
    }
    salsa20_8(hi);
}

/// 8×8 transpose of 32-bit words: row `i` of the input becomes column `i` of the output.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose8(r: [__m256i; 8]) -> [__m256i; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256(u0, u4, 0x20),
        _mm256_permute2x128_si256(u1, u5, 0x20),
        _mm256_permute2x128_si256(u2, u6, 0x20),
        _mm256_permute2x128_si256(u3, u7, 0x20),
        _mm256_permute2x128_si256(u0, u4, 0x31),
        _mm256_permute2x128_si256(u1, u5, 0x31),
        _mm256_permute2x128_si256(u2, u6, 0x31),
        _mm256_permute2x128_si256(u3, u7, 0x31),
    ]
}

/// Stores the vertical block `x` as block `i` of every lane's row.
#[inline]
#[target_feature(enable = "avx2")]
fn store_block(x: &[__m256i; WORDS], scratch: &mut [u32], i: usize) {
    for g in 0..4 {
        let rows = transpose8(x[8 * g..8 * g + 8].try_into().unwrap()); // infallible: fixed-size range
        for (lane, row) in rows.iter().enumerate() {
            let at = (lane * SCRYPT_N + i) * WORDS + 8 * g;
            let dst = &mut scratch[at..at + 8];
            // SAFETY: `dst` is 8 writable u32 (32 bytes); unaligned store.
            unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), *row) };
        }
    }
}

/// XORs block `j[lane]` of each lane's row into the vertical block `x`.
#[inline]
#[target_feature(enable = "avx2")]
fn xor_blocks(x: &mut [__m256i; WORDS], scratch: &[u32], j: &[usize; LANES]) {
    for g in 0..4 {
        let rows: [__m256i; 8] = core::array::from_fn(|lane| {
            let at = (lane * SCRYPT_N + j[lane]) * WORDS + 8 * g;
            let src = &scratch[at..at + 8];
            // SAFETY: `src` is 8 readable u32 (32 bytes); unaligned load.
            unsafe { _mm256_loadu_si256(src.as_ptr().cast()) }
        });
        let cols = transpose8(rows);
        for k in 0..8 {
            x[8 * g + k] = _mm256_xor_si256(x[8 * g + k], cols[k]);
        }
    }
}

/// ROMix of 8 independent blocks (`blocks[lane]`, 32 little-endian words each), in place.
#[target_feature(enable = "avx2")]
pub(crate) fn romix_x8(blocks: &mut [[u32; WORDS]; LANES], scratch: &mut [u32]) {
    assert_eq!(scratch.len(), SCRATCH_WORDS, "scratchpad of 8 lanes");
    // Into the vertical layout.
    let mut x = [_mm256_setzero_si256(); WORDS];
    for g in 0..4 {
        let rows: [__m256i; 8] = core::array::from_fn(|lane| {
            // SAFETY: blocks[lane][8g..8g+8] is 8 readable u32; unaligned load.
            unsafe { _mm256_loadu_si256(blocks[lane][8 * g..].as_ptr().cast()) }
        });
        x[8 * g..8 * g + 8].copy_from_slice(&transpose8(rows));
    }
    for i in 0..SCRYPT_N {
        store_block(&x, scratch, i);
        block_mix(&mut x);
    }
    let mut lanes16 = [0u32; LANES];
    for _ in 0..SCRYPT_N {
        // Integerify: word 16 of each lane, modulo N.
        // SAFETY: `lanes16` is 8 writable u32; unaligned store.
        unsafe { _mm256_storeu_si256(lanes16.as_mut_ptr().cast(), x[16]) };
        let j: [usize; LANES] = core::array::from_fn(|l| lanes16[l] as usize & (SCRYPT_N - 1));
        xor_blocks(&mut x, scratch, &j);
        block_mix(&mut x);
    }
    // Back to one block per lane.
    for g in 0..4 {
        let rows = transpose8(x[8 * g..8 * g + 8].try_into().unwrap()); // infallible: fixed-size range
        for (lane, row) in rows.iter().enumerate() {
            // SAFETY: blocks[lane][8g..8g+8] is 8 writable u32; unaligned store.
            unsafe { _mm256_storeu_si256(blocks[lane][8 * g..].as_mut_ptr().cast(), *row) };
        }
    }
}
