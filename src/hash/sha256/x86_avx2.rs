//! SHA-256 on 8 independent messages at once with AVX2 ("multi-buffer"): ymm register k
//! holds word k of all 8 states or message blocks. For CPUs without SHA-NI, where it
//! hashes a batch several times faster than one stream at a time; with SHA-NI the
//! interleaved SHA-NI path measures faster and is chosen.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::{H0, K, PADDING_64_SCHEDULE};

/// Messages hashed together.
pub(crate) const LANES: usize = 8;

#[inline]
#[target_feature(enable = "avx2")]
fn rotr<const R: i32, const L: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_srli_epi32::<R>(x), _mm256_slli_epi32::<L>(x))
}

#[inline]
#[target_feature(enable = "avx2")]
fn add(a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi32(a, b)
}

#[inline]
#[target_feature(enable = "avx2")]
fn xor3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
    _mm256_xor_si256(_mm256_xor_si256(a, b), c)
}

#[inline]
#[target_feature(enable = "avx2")]
fn small_sigma0(x: __m256i) -> __m256i {
    xor3(rotr::<7, 25>(x), rotr::<18, 14>(x), _mm256_srli_epi32::<3>(x))
}

#[inline]
#[target_feature(enable = "avx2")]
fn small_sigma1(x: __m256i) -> __m256i {
    xor3(rotr::<17, 15>(x), rotr::<19, 13>(x), _mm256_srli_epi32::<10>(x))
}

/// The 64 rounds over 8 states; `wk(t)` yields round t's message word plus constant.
#[inline]
#[target_feature(enable = "avx2")]
fn rounds(state: &mut [__m256i; 8], mut wk: impl FnMut(usize) -> __m256i) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for t in 0..64 {
        let s1 = xor3(rotr::<6, 26>(e), rotr::<11, 21>(e), rotr::<25, 7>(e));
        let ch = _mm256_xor_si256(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
        let t1 = add(add(h, s1), add(ch, wk(t)));
        let s0 = xor3(rotr::<2, 30>(a), rotr::<13, 19>(a), rotr::<22, 10>(a));
        let maj =
            _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_or_si256(a, b)));
        let t2 = add(s0, maj);
        h = g;
        g = f;
        f = e;
        e = add(d, t1);
        d = c;
        c = b;
        b = a;
        a = add(t1, t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = add(*s, v);
    }
}

/// One compression of a block given as 16 vertical words.
#[inline]
#[target_feature(enable = "avx2")]
fn compress(state: &mut [__m256i; 8], block: [__m256i; 16]) {
    let mut w = block;
    rounds(state, |t| {
        let word = if t < 16 {
            w[t]
        } else {
            let next = add(
                add(small_sigma1(w[(t - 2) % 16]), w[(t - 7) % 16]),
                add(small_sigma0(w[(t - 15) % 16]), w[t % 16]),
            );
            w[t % 16] = next;
            next
        };
        add(word, _mm256_set1_epi32(K[t] as i32))
    });
}

#[inline]
#[target_feature(enable = "avx2")]
fn initial_state() -> [__m256i; 8] {
    core::array::from_fn(|i| _mm256_set1_epi32(H0[i] as i32))
}

/// Vertical word from one `u32` per lane.
#[inline]
#[target_feature(enable = "avx2")]
fn gather(words: [u32; LANES]) -> __m256i {
    // SAFETY: `words` is 8 readable u32; unaligned load.
    unsafe { _mm256_loadu_si256(words.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn scatter(v: __m256i) -> [u32; LANES] {
    let mut out = [0u32; LANES];
    // SAFETY: `out` is 8 writable u32; unaligned store.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
    out
}

/// The second SHA-256 of a SHA-256d: hashes 8 vertical digests.
#[inline]
#[target_feature(enable = "avx2")]
fn hash_digests(digest: &[__m256i; 8]) -> [__m256i; 8] {
    let mut block = [_mm256_setzero_si256(); 16];
    block[..8].copy_from_slice(digest);
    block[8] = _mm256_set1_epi32(0x8000_0000u32 as i32);
    block[15] = _mm256_set1_epi32(256);
    let mut state = initial_state();
    compress(&mut state, block);
    state
}

/// Digest bytes of each lane.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes_to_bytes(state: &[__m256i; 8]) -> [[u8; 32]; LANES] {
    let words: [[u32; LANES]; 8] = core::array::from_fn(|i| scatter(state[i]));
    core::array::from_fn(|l| {
        let mut out = [0u8; 32];
        for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&words[i][l].to_be_bytes());
        }
        out
    })
}

/// Vertical big-endian words `first..first + n` of 8 byte strings.
#[inline]
#[target_feature(enable = "avx2")]
fn words_of(bytes: [&[u8]; LANES], word: usize) -> __m256i {
    gather(core::array::from_fn(|l| {
        u32::from_be_bytes(bytes[l][4 * word..4 * word + 4].try_into().unwrap()) // infallible: fixed-size range
    }))
}

/// SHA-256d of 8 headers.
#[target_feature(enable = "avx2")]
pub(crate) fn sha256d_headers_x8(headers: [&[u8; 80]; LANES]) -> [[u8; 32]; LANES] {
    let bytes: [&[u8]; LANES] = headers.map(|h| &h[..]);
    let mut state = initial_state();
    compress(&mut state, core::array::from_fn(|k| words_of(bytes, k)));
    let mut tail = [_mm256_setzero_si256(); 16];
    for (k, slot) in tail.iter_mut().take(4).enumerate() {
        *slot = words_of(bytes, 16 + k);
    }
    tail[4] = _mm256_set1_epi32(0x8000_0000u32 as i32);
    tail[15] = _mm256_set1_epi32(640);
    compress(&mut state, tail);
    lanes_to_bytes(&hash_digests(&state))
}

/// Folds 8 stratum merkle branches of equal length (`root = sha256d(root ‖ b)`); the
/// running roots stay in vertical form from step to step.
#[target_feature(enable = "avx2")]
pub(crate) fn fold_branches_x8(
    leaves: [&[u8; 32]; LANES],
    branches: [&[[u8; 32]]; LANES],
) -> [[u8; 32]; LANES] {
    let leaf_bytes: [&[u8]; LANES] = leaves.map(|l| &l[..]);
    let mut root: [__m256i; 8] = core::array::from_fn(|k| words_of(leaf_bytes, k));
    let depth = branches[0].len();
    let mut steps = branches.map(|b| b.iter());
    for _ in 0..depth {
        // The next entry of every lane's branch (all branches have equal length).
        let entries: [&[u8]; LANES] =
            steps.each_mut().map(|it| it.next().expect("branches of equal length").as_slice()); // invariant: see message
        let mut block = [_mm256_setzero_si256(); 16];
        block[..8].copy_from_slice(&root);
        for (k, slot) in block[8..].iter_mut().enumerate() {
            *slot = words_of(entries, k);
        }
        let mut state = initial_state();
        compress(&mut state, block);
        // The padding block of a 64-byte message: its schedule is a constant.
        rounds(&mut state, |t| _mm256_set1_epi32(PADDING_64_SCHEDULE[t] as i32));
        root = hash_digests(&state);
    }
    lanes_to_bytes(&root)
}
