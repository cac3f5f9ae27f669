//! SHA-256 compression with the x86 SHA extensions (SHA-NI).
//!
//! Every function here is `#[target_feature(enable = "sha,sse4.1")]` and not inlined into
//! AVX code: SHA-NI instructions are legacy-SSE encoded, and running them while the upper
//! halves of the 256-bit registers are dirty costs a state transition each time.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::{K, PADDING_64_SCHEDULE};

/// Builds for a CPU with AVX (`-C target-cpu=native`) may reach here with the upper halves
/// of the ymm registers dirty; legacy-SSE SHA instructions would then pay a state
/// transition on every switch (Intel). Clearing them first costs one instruction.
#[inline(always)]
fn clean_upper_state() {
    #[cfg(target_feature = "avx")]
    // SAFETY: compiled only where AVX is enabled for the whole build.
    unsafe {
        _mm256_zeroupper()
    };
}

/// State in the ABEF/CDGH register layout the SHA-NI round instruction wants.
#[derive(Clone, Copy)]
struct ShaState {
    abef: __m128i,
    cdgh: __m128i,
}

#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn load_state(state: &[u32; 8]) -> ShaState {
    // SAFETY: `state` is 32 readable bytes; unaligned loads have no alignment requirement.
    let (dcba, hgfe) = unsafe {
        let p = state.as_ptr().cast::<__m128i>();
        (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)))
    };
    let cdab = _mm_shuffle_epi32(dcba, 0xB1);
    let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    ShaState { abef: _mm_alignr_epi8(cdab, efgh, 8), cdgh: _mm_blend_epi16(efgh, cdab, 0xF0) }
}

/// The state as two vectors of words in order (a, b, c, d) and (e, f, g, h): the digest's
/// words, as the first half of a message block that starts with it.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn state_words(s: ShaState) -> [__m128i; 2] {
    let feba = _mm_shuffle_epi32(s.abef, 0x1B);
    let dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
    [_mm_blend_epi16(feba, dchg, 0xF0), _mm_alignr_epi8(dchg, feba, 8)]
}

#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn store_state(s: ShaState, state: &mut [u32; 8]) {
    let [dcba, hgef] = state_words(s);
    // SAFETY: `state` is 32 writable bytes; unaligned stores have no alignment requirement.
    unsafe {
        let p = state.as_mut_ptr().cast::<__m128i>();
        _mm_storeu_si128(p, dcba);
        _mm_storeu_si128(p.add(1), hgef);
    }
}

/// Adds the state saved before a block's rounds (the Davies–Meyer feed-forward).
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn add_saved(s: &mut ShaState, saved: ShaState) {
    s.abef = _mm_add_epi32(s.abef, saved.abef);
    s.cdgh = _mm_add_epi32(s.cdgh, saved.cdgh);
}

/// Four rounds with message words `w` (constants not yet added) for rounds 4i..4i+4.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn rounds4(s: &mut ShaState, w: __m128i, i: usize) {
    // SAFETY: i < 16, so K[4i..4i+4] is in bounds.
    let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * i).cast()) };
    rounds4_with_k(s, _mm_add_epi32(w, k));
}

#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn rounds4_with_k(s: &mut ShaState, wk: __m128i) {
    s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, wk);
    s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn next_words(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
    let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
    _mm_sha256msg2_epu32(t, w3)
}

/// One block whose 16 words are already in native (decoded big-endian) order.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn compress_vectors(s: &mut ShaState, mut w: [__m128i; 4]) {
    let saved = *s;
    for (i, &wi) in w.iter().enumerate() {
        rounds4(s, wi, i);
    }
    for i in 4..16 {
        let n = next_words(w[i % 4], w[(i + 1) % 4], w[(i + 2) % 4], w[(i + 3) % 4]);
        w[i % 4] = n;
        rounds4(s, n, i);
    }
    add_saved(s, saved);
}

#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn load_block_bytes(block: &[u8; 64]) -> [__m128i; 4] {
    let bswap = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0B, 0x0405_0607_0001_0203);
    let p = block.as_ptr().cast::<__m128i>();
    // SAFETY: `block` is 64 readable bytes: four unaligned 16-byte loads.
    core::array::from_fn(|i| _mm_shuffle_epi8(unsafe { _mm_loadu_si128(p.add(i)) }, bswap))
}

#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn load_block_words(words: &[u32; 16]) -> [__m128i; 4] {
    let p = words.as_ptr().cast::<__m128i>();
    // SAFETY: `words` is 64 readable bytes: four unaligned 16-byte loads.
    core::array::from_fn(|i| unsafe { _mm_loadu_si128(p.add(i)) })
}

/// Compresses whole 64-byte blocks.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn compress_blocks(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    clean_upper_state();
    let mut s = load_state(state);
    for block in blocks {
        compress_vectors(&mut s, load_block_bytes(block));
    }
    store_state(s, state);
}

/// Compresses one block given as 16 decoded words.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn compress_words(state: &mut [u32; 8], words: &[u32; 16]) {
    clean_upper_state();
    let mut s = load_state(state);
    compress_vectors(&mut s, load_block_words(words));
    store_state(s, state);
}

/// Second SHA-256 of a SHA-256d: hashes a 32-byte digest state from the initial state.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn hash_digest(digest: &[u32; 8]) -> [u32; 8] {
    let mut s = load_state(&super::H0);
    compress_vectors(&mut s, load_block_words(&super::digest_block(digest, 0)));
    let mut out = [0u32; 8];
    store_state(s, &mut out);
    out
}

/// SHA-256d of a 64-byte message (a merkle step): three compressions in one call.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn sha256d_64(message: &[u8; 64]) -> [u32; 8] {
    clean_upper_state();
    let mut s = load_state(&super::H0);
    compress_vectors(&mut s, load_block_bytes(message));
    let mut one = [s];
    compress_padding_64_n(&mut one);
    let [s] = one;
    let mut first = [0u32; 8];
    store_state(s, &mut first);
    hash_digest(&first)
}

/// SHA-256d of an 80-byte header: three compressions in one call.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn sha256d_header(header: &[u8; 80]) -> [u32; 8] {
    clean_upper_state();
    let mut s = load_state(&super::H0);
    let first: &[u8; 64] = header[..64].try_into().unwrap(); // infallible: fixed-size range
    compress_vectors(&mut s, load_block_bytes(first));
    let last = super::header_tail_words(header);
    compress_vectors(&mut s, load_block_words(&last));
    let mut digest = [0u32; 8];
    store_state(s, &mut digest);
    hash_digest(&digest)
}

/// One block for each of `N` streams in step, given by its precomputed schedule (message
/// words plus round constants): the rounds alone, no message expansion.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn compress_scheduled_n<const N: usize>(s: &mut [ShaState; N], schedules: [&[u32; 64]; N]) {
    let saved = *s;
    for i in 0..16 {
        for (state, schedule) in s.iter_mut().zip(schedules) {
            // SAFETY: i < 16, so the 4 words at 4i are inside the 64-word schedule.
            let wk = unsafe { _mm_loadu_si128(schedule.as_ptr().add(4 * i).cast()) };
            rounds4_with_k(state, wk);
        }
    }
    for (state, saved) in s.iter_mut().zip(saved) {
        add_saved(state, saved);
    }
}

/// The constant padding block of a 64-byte message for `N` streams in step.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn compress_padding_64_n<const N: usize>(s: &mut [ShaState; N]) {
    compress_scheduled_n(s, [&PADDING_64_SCHEDULE; N]);
}

/// Compresses blocks given by their precomputed schedules (message words plus round
/// constants), one after the other.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn compress_scheduled_blocks(state: &mut [u32; 8], schedules: &[[u32; 64]]) {
    clean_upper_state();
    let mut s = [load_state(state)];
    for schedule in schedules {
        compress_scheduled_n(&mut s, [schedule]);
    }
    store_state(s[0], state);
}

/// SHA-256d of two 64-byte messages at once.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn sha256d_64_x2(m0: &[u8; 64], m1: &[u8; 64]) -> [[u32; 8]; 2] {
    clean_upper_state();
    let mut s = [load_state(&super::H0); 2];
    compress_vectors_n(&mut s, [load_block_bytes(m0), load_block_bytes(m1)]);
    compress_padding_64_n(&mut s);
    finish_double_n(s)
}

/// The second SHA-256 of `N` SHA-256d computations in step, from their first-hash states:
/// each digest is the first half of a block whose second half is constant padding.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn finish_double_n<const N: usize>(first: [ShaState; N]) -> [[u32; 8]; N] {
    // The second hash's block after the 32-byte digest: 0x80, zeros, bit length 256.
    let padding = [_mm_set_epi32(0, 0, 0, 0x8000_0000u32 as i32), _mm_set_epi32(256, 0, 0, 0)];
    let mut second = [load_state(&super::H0); N];
    compress_vectors_n(
        &mut second,
        first.map(|s| {
            let [d0, d1] = state_words(s);
            [d0, d1, padding[0], padding[1]]
        }),
    );
    second.map(|s| {
        let mut out = [0u32; 8];
        store_state(s, &mut out);
        out
    })
}

/// SHA-256d of `N` messages at once, each resumed from its midstate over its last
/// blocks, the streams in step: `blocks` (as bytes), then `schedules` (blocks given by
/// their precomputed schedules; empty if none), padding included in whichever is last.
/// All have as many of each (the caller checks; stream 0 sets the counts).
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn sha256d_resume_n<const N: usize>(
    states: [&[u32; 8]; N],
    blocks: [&[[u8; 64]]; N],
    schedules: [&[[u32; 64]]; N],
) -> [[u32; 8]; N] {
    debug_assert!(blocks.iter().all(|b| b.len() == blocks[0].len()), "equal block counts");
    debug_assert!(schedules.iter().all(|s| s.len() == schedules[0].len()), "equal counts");
    clean_upper_state();
    let mut s = states.map(|state| load_state(state));
    for i in 0..blocks[0].len() {
        compress_vectors_n(&mut s, blocks.map(|b| load_block_bytes(&b[i])));
    }
    for i in 0..schedules[0].len() {
        compress_scheduled_n(&mut s, schedules.map(|b| &b[i]));
    }
    finish_double_n(s)
}

/// SHA-256d of `N` 80-byte headers at once, the streams in step.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn sha256d_header_n<const N: usize>(headers: [&[u8; 80]; N]) -> [[u32; 8]; N] {
    clean_upper_state();
    let mut s = [load_state(&super::H0); N];
    compress_vectors_n(
        &mut s,
        headers.map(|h| {
            let first: &[u8; 64] = h[..64].try_into().unwrap(); // infallible: fixed-size range
            load_block_bytes(first)
        }),
    );
    compress_vectors_n(&mut s, headers.map(|h| load_block_words(&super::header_tail_words(h))));
    finish_double_n(s)
}

/// `N` independent blocks in step. Two streams leave the round unit idle part of the
/// time on Zen 3: in a scratch micro-benchmark (not kept; each stream's next block depends on its
/// last state) one compression took about 62 ns of one stream's time alone, 38 ns per
/// stream with two in step, 31–32 ns with three or four. Four streams keep about 32
/// vectors live against sixteen xmm registers: some spill to the stack, off the rounds'
/// dependency chain.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn compress_vectors_n<const N: usize>(s: &mut [ShaState; N], mut w: [[__m128i; 4]; N]) {
    let saved = *s;
    for i in 0..4 {
        for (state, words) in s.iter_mut().zip(&w) {
            rounds4(state, words[i], i);
        }
    }
    for i in 4..16 {
        for (state, words) in s.iter_mut().zip(w.iter_mut()) {
            let n = next_words(
                words[i % 4],
                words[(i + 1) % 4],
                words[(i + 2) % 4],
                words[(i + 3) % 4],
            );
            words[i % 4] = n;
            rounds4(state, n, i);
        }
    }
    for (state, saved) in s.iter_mut().zip(saved) {
        add_saved(state, saved);
    }
}

/// Swaps the bytes of each 32-bit word: big-endian bytes to words and back.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn swap_word_bytes(v: __m128i) -> __m128i {
    _mm_shuffle_epi8(v, _mm_set_epi64x(0x0C0D_0E0F_0809_0A0B, 0x0405_0607_0001_0203))
}

/// 32 bytes as two vectors of big-endian words.
#[inline]
#[target_feature(enable = "sha,sse4.1")]
fn load_words_32(bytes: &[u8; 32]) -> [__m128i; 2] {
    let p = bytes.as_ptr().cast::<__m128i>();
    // SAFETY: `bytes` is 32 readable bytes: two unaligned 16-byte loads.
    unsafe { [swap_word_bytes(_mm_loadu_si128(p)), swap_word_bytes(_mm_loadu_si128(p.add(1)))] }
}

/// Folds four stratum merkle branches of equal length at once (`root = sha256d(root ‖ b)`
/// for each entry), the four streams in step. The running roots stay in registers as
/// message words from one step to the next.
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn fold_branch_x4(leaves: [&[u8; 32]; 4], branches: [&[[u8; 32]]; 4]) -> [[u8; 32]; 4] {
    clean_upper_state();
    // The second hash's block after the 32-byte digest: 0x80, zeros, bit length 256.
    let digest_padding =
        [_mm_set_epi32(0, 0, 0, 0x8000_0000u32 as i32), _mm_set_epi32(256, 0, 0, 0)];
    let initial = load_state(&super::H0);
    let mut roots: [[__m128i; 2]; 4] = core::array::from_fn(|l| load_words_32(leaves[l]));
    let depth = branches[0].len();
    debug_assert!(branches.iter().all(|b| b.len() == depth), "branches of equal length");
    for entries in (0..depth).map(|step| branches.map(|branch| &branch[step])) {
        // First hash: root ‖ branch entry, then the constant padding block.
        let mut s = [initial; 4];
        compress_vectors_n(
            &mut s,
            core::array::from_fn(|l| {
                let [b0, b1] = load_words_32(entries[l]);
                [roots[l][0], roots[l][1], b0, b1]
            }),
        );
        compress_padding_64_n(&mut s);
        // Second hash: the digest, padded.
        let mut second = [initial; 4];
        compress_vectors_n(
            &mut second,
            core::array::from_fn(|l| {
                let [d0, d1] = state_words(s[l]);
                [d0, d1, digest_padding[0], digest_padding[1]]
            }),
        );
        roots = core::array::from_fn(|l| state_words(second[l]));
    }
    core::array::from_fn(|l| {
        let mut out = [0u8; 32];
        let p = out.as_mut_ptr().cast::<__m128i>();
        // SAFETY: `out` is 32 writable bytes: two unaligned 16-byte stores.
        unsafe {
            _mm_storeu_si128(p, swap_word_bytes(roots[l][0]));
            _mm_storeu_si128(p.add(1), swap_word_bytes(roots[l][1]));
        }
        out
    })
}

/// Folds two stratum merkle branches of equal length at once (`root = sha256d(root ‖ b)`).
#[inline(never)]
#[target_feature(enable = "sha,sse4.1")]
pub(crate) fn fold_branch_x2(
    leaf0: &[u8; 32],
    branch0: &[[u8; 32]],
    leaf1: &[u8; 32],
    branch1: &[[u8; 32]],
) -> ([u8; 32], [u8; 32]) {
    clean_upper_state();
    let (mut m0, mut m1) = ([0u8; 64], [0u8; 64]);
    m0[..32].copy_from_slice(leaf0);
    m1[..32].copy_from_slice(leaf1);
    for (b0, b1) in branch0.iter().zip(branch1) {
        m0[32..].copy_from_slice(b0);
        m1[32..].copy_from_slice(b1);
        let [d0, d1] = sha256d_64_x2(&m0, &m1);
        m0[..32].copy_from_slice(&super::state_to_bytes(&d0));
        m1[..32].copy_from_slice(&super::state_to_bytes(&d1));
    }
    (m0[..32].try_into().unwrap(), m1[..32].try_into().unwrap()) // infallible: fixed-size range
}
