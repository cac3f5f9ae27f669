//! ROMix (N = 1024, r = 1) for several hashes at once in SIMD lanes, "vertical" layout:
//! vector register k holds word k of every hash, so Salsa20/8 runs with no shuffles (each
//! quarter-round is the scalar one, one lane per hash). The scratchpad keeps each hash's
//! 128-byte blocks contiguous (one row per lane), so the random reads of the second loop
//! touch 2 cache lines per hash; square transposes move blocks between the two layouts.
//!
//! One kernel body, generated for two widths: `avx2` (8 lanes of `__m256i`) and `sse2`
//! (4 lanes of `__m128i`, the x86-64 baseline).

/// Words of one ROMix block (128 bytes).
const WORDS: usize = 32;

macro_rules! vertical_romix {
    (
        $(#[$doc:meta])*
        mod $module:ident {
            feature: $feature:literal,
            lanes: $lanes:literal,
            vector: $v:ident,
            add: $add:ident, xor: $xor:ident, or: $or:ident,
            shl: $shl:ident, shr: $shr:ident,
            load: $load:ident, store: $store:ident, zero: $zero:ident,
            transpose: $transpose:item
        }
    ) => {
        $(#[$doc])*
        pub(crate) mod $module {
            use core::arch::x86_64::*;

            use super::WORDS;
            use crate::hash::scrypt::SCRYPT_N;
            use crate::hash::scrypt::salsa::salsa20_8_rounds;

            /// Hashes computed together.
            pub(crate) const LANES: usize = $lanes;

            /// The scratchpad: lane `l`'s block `i` is at `(l * N + i) * 32` words.
            pub(crate) const SCRATCH_WORDS: usize = LANES * SCRYPT_N * WORDS;

            /// Rotate left by `L` (`R` = 32 − `L`): no vector rotate here, so two shifts
            /// and an or.
            #[inline]
            #[target_feature(enable = $feature)]
            fn rotl<const L: i32, const R: i32>(x: $v) -> $v {
                $or($shl::<L>(x), $shr::<R>(x))
            }

            /// Salsa20/8 core on 16 vertical words: `b = b + rounds(b)`.
            #[inline]
            #[target_feature(enable = $feature)]
            fn salsa20_8(b: &mut [$v; 16]) {
                let mut x = *b;
                macro_rules! quarter {
                    ($a:expr, $b:expr, $c:expr, $d:expr) => {
                        x[$b] = $xor(x[$b], rotl::<7, 25>($add(x[$a], x[$d])));
                        x[$c] = $xor(x[$c], rotl::<9, 23>($add(x[$b], x[$a])));
                        x[$d] = $xor(x[$d], rotl::<13, 19>($add(x[$c], x[$b])));
                        x[$a] = $xor(x[$a], rotl::<18, 14>($add(x[$d], x[$c])));
                    };
                }
                salsa20_8_rounds!(quarter);
                for i in 0..16 {
                    b[i] = $add(b[i], x[i]);
                }
            }

            /// BlockMix (r = 1) on 32 vertical words.
            #[inline]
            #[target_feature(enable = $feature)]
            fn block_mix(x: &mut [$v; WORDS]) {
                let (lo, hi) = x.split_at_mut(16);
                let lo: &mut [$v; 16] = lo.try_into().unwrap(); // infallible: 16 of 32
                let hi: &mut [$v; 16] = hi.try_into().unwrap(); // infallible: 16 of 32
                for i in 0..16 {
                    lo[i] = $xor(lo[i], hi[i]);
                }
                salsa20_8(lo);
                for i in 0..16 {
                    hi[i] = $xor(hi[i], lo[i]);
                }
                salsa20_8(hi);
            }

            /// Square transpose of 32-bit words: row `i` becomes column `i`.
            #[inline]
            #[target_feature(enable = $feature)]
            $transpose

            /// Stores the vertical block `x` as block `i` of every lane's row.
            #[inline]
            #[target_feature(enable = $feature)]
            fn store_block(x: &[$v; WORDS], scratch: &mut [u32], i: usize) {
                let (groups, _) = x.as_chunks::<LANES>();
                for (g, group) in groups.iter().enumerate() {
                    for (lane, row) in transpose(*group).iter().enumerate() {
                        let at = (lane * SCRYPT_N + i) * WORDS + LANES * g;
                        let dst = &mut scratch[at..at + LANES];
                        // SAFETY: `dst` is LANES writable u32 (one vector); unaligned store.
                        unsafe { $store(dst.as_mut_ptr().cast(), *row) };
                    }
                }
            }

            /// XORs block `j[lane]` of each lane's row into the vertical block `x`.
            #[inline]
            #[target_feature(enable = $feature)]
            fn xor_blocks(x: &mut [$v; WORDS], scratch: &[u32], j: &[usize; LANES]) {
                let (groups, _) = x.as_chunks_mut::<LANES>();
                for (g, group) in groups.iter_mut().enumerate() {
                    let rows: [$v; LANES] = core::array::from_fn(|lane| {
                        let at = (lane * SCRYPT_N + j[lane]) * WORDS + LANES * g;
                        let src = &scratch[at..at + LANES];
                        // SAFETY: `src` is LANES readable u32 (one vector); unaligned load.
                        unsafe { $load(src.as_ptr().cast()) }
                    });
                    for (word, column) in group.iter_mut().zip(transpose(rows)) {
                        *word = $xor(*word, column);
                    }
                }
            }

            /// ROMix of `LANES` independent blocks (32 little-endian words each), in
            /// place, with `scratch` of `SCRATCH_WORDS` words.
            #[target_feature(enable = $feature)]
            pub(crate) fn romix(blocks: &mut [[u32; WORDS]; LANES], scratch: &mut [u32]) {
                assert_eq!(scratch.len(), SCRATCH_WORDS, "scratchpad of {LANES} lanes");
                let mut x = [$zero(); WORDS];
                {
                    let (groups, _) = x.as_chunks_mut::<LANES>();
                    for (g, group) in groups.iter_mut().enumerate() {
                        let rows: [$v; LANES] = core::array::from_fn(|lane| {
                            // SAFETY: blocks[lane][LANES·g..] holds at least LANES u32;
                            // unaligned load.
                            unsafe { $load(blocks[lane][LANES * g..].as_ptr().cast()) }
                        });
                        *group = transpose(rows);
                    }
                }
                for i in 0..SCRYPT_N {
                    store_block(&x, scratch, i);
                    block_mix(&mut x);
                }
                let mut word16 = [0u32; LANES];
                for _ in 0..SCRYPT_N {
                    // Integerify: word 16 of each lane, modulo N.
                    // SAFETY: `word16` is LANES writable u32 (one vector); unaligned store.
                    unsafe { $store(word16.as_mut_ptr().cast(), x[16]) };
                    let j: [usize; LANES] =
                        core::array::from_fn(|l| word16[l] as usize & (SCRYPT_N - 1));
                    xor_blocks(&mut x, scratch, &j);
                    block_mix(&mut x);
                }
                let (groups, _) = x.as_chunks::<LANES>();
                for (g, group) in groups.iter().enumerate() {
                    for (lane, row) in transpose(*group).iter().enumerate() {
                        // SAFETY: blocks[lane][LANES·g..] has room for LANES u32;
                        // unaligned store.
                        unsafe { $store(blocks[lane][LANES * g..].as_mut_ptr().cast(), *row) };
                    }
                }
            }
        }
    };
}

vertical_romix! {
    /// 8 hashes in AVX2 `__m256i` lanes.
    mod avx2 {
        feature: "avx2",
        lanes: 8,
        vector: __m256i,
        add: _mm256_add_epi32, xor: _mm256_xor_si256, or: _mm256_or_si256,
        shl: _mm256_slli_epi32, shr: _mm256_srli_epi32,
        load: _mm256_loadu_si256, store: _mm256_storeu_si256, zero: _mm256_setzero_si256,
        transpose: fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
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
    }
}

vertical_romix! {
    /// 4 hashes in SSE2 `__m128i` lanes (every x86-64 CPU).
    mod sse2 {
        feature: "sse2",
        lanes: 4,
        vector: __m128i,
        add: _mm_add_epi32, xor: _mm_xor_si128, or: _mm_or_si128,
        shl: _mm_slli_epi32, shr: _mm_srli_epi32,
        load: _mm_loadu_si128, store: _mm_storeu_si128, zero: _mm_setzero_si128,
        transpose: fn transpose(r: [__m128i; 4]) -> [__m128i; 4] {
            let t0 = _mm_unpacklo_epi32(r[0], r[1]);
            let t1 = _mm_unpackhi_epi32(r[0], r[1]);
            let t2 = _mm_unpacklo_epi32(r[2], r[3]);
            let t3 = _mm_unpackhi_epi32(r[2], r[3]);
            [
                _mm_unpacklo_epi64(t0, t2),
                _mm_unpackhi_epi64(t0, t2),
                _mm_unpacklo_epi64(t1, t3),
                _mm_unpackhi_epi64(t1, t3),
            ]
        }
    }
}
