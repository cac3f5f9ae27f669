//! SHA-256 and SHA-256d: the compression function behind runtime dispatch, a streaming
//! hasher that never allocates, midstates, and the fixed-size shortcuts (80-byte header,
//! 64-byte merkle step) the share check lives on.

pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_avx2;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(crate) mod x86_shani;

use super::platform::{Platform, Sha256Kernel, Sha256Path};

/// The SHA-256 initial hash value (FIPS 180-4 §5.3.3).
pub(crate) const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The SHA-256 round constants (FIPS 180-4 §4.2.2).
#[rustfmt::skip]
pub(crate) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// The message schedule of a block given as 16 words, with the round constants added:
/// all a compression needs of a block that never changes, computed once.
pub(crate) const fn schedule_plus_k(words: &[u32; 16]) -> [u32; 64] {
    let mut w = [0u32; 64];
    let mut t = 0;
    while t < 16 {
        w[t] = words[t];
        t += 1;
    }
    while t < 64 {
        w[t] = portable::small_sigma1(w[t - 2])
            .wrapping_add(w[t - 7])
            .wrapping_add(portable::small_sigma0(w[t - 15]))
            .wrapping_add(w[t - 16]);
        t += 1;
    }
    let mut t = 0;
    while t < 64 {
        w[t] = w[t].wrapping_add(K[t]);
        t += 1;
    }
    w
}

/// Message schedule plus round constants of the block that pads a 64-byte message
/// (`0x80`, zeros, bit length 512). It never changes, so it is expanded at compile time.
pub(crate) const PADDING_64_SCHEDULE: [u32; 64] = {
    let mut words = [0u32; 16];
    words[0] = 0x8000_0000;
    words[15] = 512;
    schedule_plus_k(&words)
};

/// A 64-byte block as 16 big-endian words.
#[inline(always)]
fn block_words(block: &[u8; 64]) -> [u32; 16] {
    core::array::from_fn(|i| u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap())) // infallible: fixed-size range
}

/// The second block of an 80-byte header: its last 16 bytes, then padding for 640 bits.
#[inline(always)]
pub(crate) fn header_tail_words(header: &[u8; 80]) -> [u32; 16] {
    let mut w = [0u32; 16];
    for (i, word) in w.iter_mut().take(4).enumerate() {
        *word = u32::from_be_bytes(header[64 + 4 * i..68 + 4 * i].try_into().unwrap()); // infallible: fixed-size range
    }
    w[4] = 0x8000_0000;
    w[15] = 640;
    w
}

/// The single block holding a 32-byte digest as the end of a message that `preceding`
/// bytes (whole blocks) came before: the second half of SHA-256d (`preceding` = 0) or an
/// HMAC outer hash (`preceding` = 64).
#[inline(always)]
pub(crate) fn digest_block(digest: &[u32; 8], preceding: u32) -> [u32; 16] {
    let mut w = [0u32; 16];
    w[..8].copy_from_slice(digest);
    w[8] = 0x8000_0000;
    w[15] = (preceding + 32) * 8;
    w
}

/// Serializes a state as the big-endian digest bytes.
#[inline(always)]
pub(crate) fn state_to_bytes(state: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Compresses whole 64-byte blocks into `state` on the given path.
#[inline]
pub(crate) fn compress_blocks(path: Sha256Path, state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
        Sha256Kernel::ShaNi => unsafe { x86_shani::compress_blocks(state, blocks) },
        _ => portable::compress_blocks(state, blocks),
    }
}

/// Compresses one block given as 16 decoded words on the given path.
#[inline]
pub(crate) fn compress_words_on(path: Sha256Path, state: &mut [u32; 8], words: &[u32; 16]) {
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
        Sha256Kernel::ShaNi => unsafe { x86_shani::compress_words(state, words) },
        _ => portable::compress_words(state, words),
    }
}

/// Compresses blocks given by their precomputed schedules ([`schedule_plus_k`]).
#[inline]
fn compress_scheduled_on(path: Sha256Path, state: &mut [u32; 8], schedules: &[[u32; 64]]) {
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
        Sha256Kernel::ShaNi => unsafe { x86_shani::compress_scheduled_blocks(state, schedules) },
        _ => {
            for schedule in schedules {
                portable::compress_scheduled(state, schedule);
            }
        }
    }
}

/// A SHA-256 state after a whole number of 64-byte blocks: what stays constant when only
/// the tail of a message changes (coinb1‖extranonce1 per job, the first header block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Midstate {
    path: Sha256Path,
    state: [u32; 8],
    blocks: u64,
}

impl Midstate {
    /// Hashes the whole 64-byte blocks of `prefix` and returns the midstate with the
    /// number of bytes it consumed; the rest (`prefix.len() % 64` bytes) is left to the
    /// caller to pass on to [`Midstate::resume`].
    pub fn of_prefix(prefix: &[u8]) -> (Midstate, usize) {
        Self::of_prefix_with(Platform::get().sha256(), prefix)
    }

    /// [`Midstate::of_prefix`] on a chosen SHA-256 path.
    pub fn of_prefix_with(path: Sha256Path, prefix: &[u8]) -> (Midstate, usize) {
        let whole = prefix.len() / 64;
        let (blocks, _) = prefix[..whole * 64].as_chunks::<64>();
        let mut state = H0;
        compress_blocks(path, &mut state, blocks);
        (Midstate { path, state, blocks: whole as u64 }, whole * 64)
    }

    /// The raw state words.
    pub fn state(&self) -> [u32; 8] {
        self.state
    }

    /// How many bytes the midstate has consumed.
    pub fn bytes_consumed(&self) -> u64 {
        self.blocks * 64
    }

    /// A streaming hasher that continues from this midstate, on the path it was built on.
    pub fn resume(&self) -> Sha256 {
        Sha256 {
            path: self.path,
            state: self.state,
            buffer: [0; 64],
            buffered: 0,
            total: self.blocks * 64,
        }
    }
}

/// A streaming SHA-256 hasher on the stack (no heap allocation).
#[derive(Clone, Debug)]
pub struct Sha256 {
    path: Sha256Path,
    state: [u32; 8],
    buffer: [u8; 64],
    buffered: usize,
    total: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A new hasher on the detected best path.
    pub fn new() -> Self {
        Self::with_path(Platform::get().sha256())
    }

    /// A new hasher on a chosen path.
    pub fn with_path(path: Sha256Path) -> Self {
        Sha256 { path, state: H0, buffer: [0; 64], buffered: 0, total: 0 }
    }

    /// The path this hasher compresses on.
    pub fn path(&self) -> Sha256Path {
        self.path
    }

    /// Absorbs `data`.
    pub fn update(&mut self, mut data: &[u8]) -> &mut Self {
        self.total += data.len() as u64;
        if self.buffered > 0 {
            let take = (64 - self.buffered).min(data.len());
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            data = &data[take..];
            if self.buffered < 64 {
                return self;
            }
            compress_blocks(self.path, &mut self.state, &[self.buffer]);
            self.buffered = 0;
        }
        let (blocks, rest) = data.as_chunks::<64>();
        compress_blocks(self.path, &mut self.state, blocks);
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
        self
    }

    /// The state words after padding: the digest as big-endian words.
    pub(crate) fn finalize_state(&mut self) -> [u32; 8] {
        let bit_len = self.total.wrapping_mul(8);
        let mut block = [0u8; 64];
        block[..self.buffered].copy_from_slice(&self.buffer[..self.buffered]);
        block[self.buffered] = 0x80;
        if self.buffered >= 56 {
            compress_blocks(self.path, &mut self.state, &[block]);
            block = [0u8; 64];
        }
        block[56..].copy_from_slice(&bit_len.to_be_bytes());
        compress_blocks(self.path, &mut self.state, &[block]);
        self.state
    }

    /// The SHA-256 digest.
    pub fn finalize(mut self) -> [u8; 32] {
        state_to_bytes(&self.finalize_state())
    }

    /// SHA-256 of the SHA-256 digest of everything absorbed.
    pub fn finalize_double(mut self) -> [u8; 32] {
        let first = self.finalize_state();
        state_to_bytes(&hash_digest_words(self.path, &first))
    }
}

/// SHA-256 of a 32-byte digest given as words (the second half of SHA-256d).
#[inline]
fn hash_digest_words(path: Sha256Path, digest: &[u32; 8]) -> [u32; 8] {
    let mut state = H0;
    compress_words_on(path, &mut state, &digest_block(digest, 0));
    state
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize()
}

/// SHA-256d (SHA-256 applied twice) of any byte string, in internal byte order.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize_double()
}

/// SHA-256d of an 80-byte block header, in internal byte order.
#[inline]
pub fn sha256d_header(header: &[u8; 80]) -> [u8; 32] {
    sha256d_header_with(Platform::get().sha256(), header)
}

/// [`sha256d_header`] on a chosen path.
pub fn sha256d_header_with(path: Sha256Path, header: &[u8; 80]) -> [u8; 32] {
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
        Sha256Kernel::ShaNi => state_to_bytes(&unsafe { x86_shani::sha256d_header(header) }),
        _ => {
            let mut state = H0;
            portable::compress_blocks(&mut state, &[header[..64].try_into().unwrap()]); // infallible: fixed-size range
            portable::compress_words(&mut state, &header_tail_words(header));
            state_to_bytes(&hash_digest_words(Sha256Path::PORTABLE, &state))
        }
    }
}

/// SHA-256d of a 64-byte message (one merkle step: `left ‖ right`), internal byte order.
#[inline]
pub fn sha256d_64(message: &[u8; 64]) -> [u8; 32] {
    sha256d_64_with(Platform::get().sha256(), message)
}

/// [`sha256d_64`] on a chosen path.
pub fn sha256d_64_with(path: Sha256Path, message: &[u8; 64]) -> [u8; 32] {
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
        Sha256Kernel::ShaNi => state_to_bytes(&unsafe { x86_shani::sha256d_64(message) }),
        _ => {
            let mut state = H0;
            portable::compress_blocks(&mut state, &[*message]);
            portable::compress_padding_64(&mut state);
            state_to_bytes(&hash_digest_words(Sha256Path::PORTABLE, &state))
        }
    }
}

/// SHA-256d of many 80-byte headers: `out[i]` for `headers[i]`.
pub fn sha256d_headers(headers: &[[u8; 80]], out: &mut [[u8; 32]]) {
    sha256d_headers_with(Platform::get().sha256(), headers, out)
}

/// [`sha256d_headers`] on a chosen path.
pub fn sha256d_headers_with(path: Sha256Path, headers: &[[u8; 80]], out: &mut [[u8; 32]]) {
    assert_eq!(headers.len(), out.len(), "one output per header");
    #[cfg(target_arch = "x86_64")]
    if path.kernel() == Sha256Kernel::Avx2x8 {
        let (groups, rest) = headers.as_chunks::<8>();
        let (out_groups, out_rest) = out.as_chunks_mut::<8>();
        for (group, outs) in groups.iter().zip(out_groups.iter_mut()) {
            // SAFETY: `Avx2x8` paths come only from `Sha256Path::avx2_8way` (the CPU has AVX2).
            *outs = unsafe { x86_avx2::sha256d_headers_x8(group.each_ref()) };
        }
        for (h, o) in rest.iter().zip(out_rest.iter_mut()) {
            *o = sha256d_header_with(Sha256Path::PORTABLE, h);
        }
        return;
    }
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    let (headers, out) = if path.kernel() == Sha256Kernel::ShaNi {
        // Four streams in step keep the round unit busy (two leave it idle part of the
        // time); the rest go in a pair and one alone.
        let (quads, rest) = headers.as_chunks::<4>();
        let (out_quads, out_rest) = out.as_chunks_mut::<4>();
        for (quad, outs) in quads.iter().zip(out_quads.iter_mut()) {
            // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
            let states = unsafe { x86_shani::sha256d_header_n(quad.each_ref()) };
            *outs = states.map(|s| state_to_bytes(&s));
        }
        (rest, out_rest)
    } else {
        (headers, out)
    };
    let (pairs, rest) = headers.as_chunks::<2>();
    let (out_pairs, out_rest) = out.as_chunks_mut::<2>();
    for ([h0, h1], [o0, o1]) in pairs.iter().zip(out_pairs.iter_mut()) {
        (*o0, *o1) = sha256d_header_pair(path, h0, h1);
    }
    for (h, o) in rest.iter().zip(out_rest.iter_mut()) {
        *o = sha256d_header_with(path, h);
    }
}

/// The end of a message whose blocks never change, once what comes before it is a whole
/// number of blocks of known length (the end of a job's coinb2, after the block an
/// extranonce2 falls in): its padded blocks' schedules, computed once for every message
/// that ends with it, so hashing it costs only the rounds.
#[derive(Clone, Debug)]
pub struct ScheduledEnd {
    bytes: Vec<u8>,
    preceding: u64,
    schedules: Vec<[u32; 64]>,
}

impl ScheduledEnd {
    /// The end `bytes` of messages with `preceding` bytes before them; `None` unless
    /// `preceding` is a whole number of 64-byte blocks.
    pub fn new(bytes: &[u8], preceding: u64) -> Option<ScheduledEnd> {
        if !preceding.is_multiple_of(64) {
            return None;
        }
        let blocks = (bytes.len() + 9).div_ceil(64);
        let mut padded = vec![0u8; blocks * 64];
        padded[..bytes.len()].copy_from_slice(bytes);
        padded[bytes.len()] = 0x80;
        let bit_len = (preceding + bytes.len() as u64).wrapping_mul(8);
        padded[blocks * 64 - 8..].copy_from_slice(&bit_len.to_be_bytes());
        let (padded_blocks, _) = padded.as_chunks::<64>();
        let schedules = padded_blocks.iter().map(|b| schedule_plus_k(&block_words(b))).collect();
        Some(ScheduledEnd { bytes: bytes.to_vec(), preceding, schedules })
    }

    /// The end's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes come before the end in the messages it was made for.
    pub fn preceding(&self) -> u64 {
        self.preceding
    }
}

/// A message to hash from a midstate: the midstate's bytes, then `parts`, then the end's
/// bytes if it has one. The end's schedules are used where the midstate and `parts` are
/// exactly the `preceding` bytes it was made for; otherwise its bytes are hashed as ever.
#[derive(Clone, Copy, Debug)]
pub struct ResumeMessage<'a> {
    /// The state after the message's first whole blocks.
    pub midstate: &'a Midstate,
    /// The bytes after the midstate, concatenated.
    pub parts: [&'a [u8]; 3],
    /// The message's constant end, after `parts`.
    pub end: Option<&'a ScheduledEnd>,
}

impl<'a> ResumeMessage<'a> {
    /// The message `midstate ‖ parts`, without a constant end.
    pub fn new(midstate: &'a Midstate, parts: [&'a [u8]; 3]) -> Self {
        ResumeMessage { midstate, parts, end: None }
    }

    fn parts_len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// Everything after the midstate, in order.
    fn pieces(&self) -> impl Iterator<Item = &'a [u8]> {
        self.parts.into_iter().chain(self.end.map(ScheduledEnd::bytes))
    }

    /// The end, if its schedules apply: it was made for as many bytes before it as the
    /// midstate and `parts` hold (a whole number of blocks, then).
    fn scheduled_end(&self) -> Option<&'a ScheduledEnd> {
        self.end.filter(|e| self.midstate.bytes_consumed() + self.parts_len() as u64 == e.preceding)
    }
}

/// The most blocks (padding included) a message may have after its midstate for
/// [`sha256d_resume_many`] to hash it in step with others, not counting a scheduled end:
/// 16 (up to 1015 bytes). Longer ones are hashed one stream each.
const RESUME_IN_STEP_BLOCKS: usize = 16;

/// Messages hashed in step at most.
const RESUME_STREAMS: usize = 4;

/// How many blocks of a message after its midstate go through the in-step buffer: its
/// `parts` before a scheduled end (`scheduled`; they fill whole blocks), or everything
/// after the midstate, padded. `None` if they are not whole blocks or need more than the
/// buffer holds.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn buffered_blocks(message: &ResumeMessage, scheduled: bool) -> Option<usize> {
    let blocks = if scheduled {
        let len = message.parts_len();
        len.is_multiple_of(64).then_some(len / 64)
    } else {
        Some((message.pieces().map(<[u8]>::len).sum::<usize>() + 9).div_ceil(64))
    };
    blocks.filter(|&b| b <= RESUME_IN_STEP_BLOCKS)
}

/// Copies into `buffer` the `blocks` that [`buffered_blocks`] counted: the parts alone
/// (`scheduled`), or every piece then the padding (`0x80`, zeros, the bit length of the
/// whole message).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn fill_buffer(
    message: &ResumeMessage,
    scheduled: bool,
    blocks: usize,
    buffer: &mut [[u8; 64]; RESUME_IN_STEP_BLOCKS],
) {
    let bytes = buffer[..blocks].as_flattened_mut();
    let mut at = 0;
    for piece in message.pieces().take(if scheduled { 3 } else { 4 }) {
        bytes[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    }
    if !scheduled {
        bytes[at] = 0x80;
        bytes[at + 1..blocks * 64 - 8].fill(0);
        let bit_len = (message.midstate.bytes_consumed() + at as u64).wrapping_mul(8);
        bytes[blocks * 64 - 8..].copy_from_slice(&bit_len.to_be_bytes());
    }
}

/// Room for the last blocks of the messages [`sha256d_resume_many`] hashes in step (4 KiB):
/// made once for many groups, so no group pays for zeroing it.
pub struct ResumeBuffers([[[u8; 64]; RESUME_IN_STEP_BLOCKS]; RESUME_STREAMS]);

impl Default for ResumeBuffers {
    fn default() -> Self {
        ResumeBuffers([[[0; 64]; RESUME_IN_STEP_BLOCKS]; RESUME_STREAMS])
    }
}

/// SHA-256d (internal byte order) of one message resumed from a midstate, one stream: a
/// scheduled end costs only its rounds.
pub fn sha256d_resume(message: &ResumeMessage) -> [u8; 32] {
    let path = message.midstate.path;
    let mut h = message.midstate.resume();
    match message.scheduled_end() {
        Some(end) => {
            for part in message.parts {
                h.update(part);
            }
            // The parts end on a block boundary: nothing is left in the buffer.
            debug_assert_eq!(h.buffered, 0, "parts of whole blocks");
            compress_scheduled_on(path, &mut h.state, &end.schedules);
            state_to_bytes(&hash_digest_words(path, &h.state))
        }
        None => {
            for piece in message.pieces() {
                h.update(piece);
            }
            h.finalize_double()
        }
    }
}

/// `N` messages in step on SHA-NI, into `out`: all with scheduled ends whose `parts` and
/// ends have as many blocks, or all padded whole with as many blocks (at most 16).
/// `false` (nothing written) if they are not so, or the path is not SHA-NI.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn resume_in_step<const N: usize>(
    group: &[ResumeMessage; N],
    out: &mut [[u8; 32]; N],
    buffers: &mut ResumeBuffers,
) -> bool {
    let path = group[0].midstate.path;
    if path.kernel() != Sha256Kernel::ShaNi || group.iter().any(|m| m.midstate.path != path) {
        return false;
    }
    let Some(buffers) = buffers.0.first_chunk_mut::<N>() else { return false };
    let ends = group.each_ref().map(ResumeMessage::scheduled_end);
    let scheduled = ends.iter().all(Option::is_some);
    // Block counts from the lengths first: a group that cannot go in step copies nothing.
    let counts = group.each_ref().map(|m| buffered_blocks(m, scheduled));
    let Some(n) = counts[0].filter(|&n| counts.iter().all(|&c| c == Some(n))) else {
        return false;
    };
    // Padded whole, the ends' bytes are in the buffers: no schedules then.
    let schedules: [&[[u32; 64]]; N] = match scheduled {
        true => ends.map(|e| e.map_or(&[][..], |e| e.schedules.as_slice())),
        false => [&[][..]; N],
    };
    if schedules.iter().any(|s| s.len() != schedules[0].len()) {
        return false;
    }
    for (message, buffer) in group.iter().zip(buffers.iter_mut()) {
        fill_buffer(message, scheduled, n, buffer);
    }
    let blocks: [&[[u8; 64]]; N] = core::array::from_fn(|i| &buffers[i][..n]);
    // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
    let states = unsafe {
        x86_shani::sha256d_resume_n(group.each_ref().map(|m| &m.midstate.state), blocks, schedules)
    };
    *out = states.map(|s| state_to_bytes(&s));
    true
}

/// Where streams cannot be interleaved, nothing is hashed in step.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn resume_in_step<const N: usize>(
    _group: &[ResumeMessage; N],
    _out: &mut [[u8; 32]; N],
    _buffers: &mut ResumeBuffers,
) -> bool {
    false
}

/// SHA-256d (internal byte order) of many messages, each resumed from a midstate:
/// `out[i]` for `messages[i]` (the coinbases of a batch chunk). Where the path interleaves
/// streams, each run of four that can go in step (on the path, tails of as many blocks:
/// shares of one job and connection) is hashed so; a message that cannot is paired with
/// the next such one, in step if the two can be, and a last one left over goes alone. A
/// scheduled end costs only its rounds.
pub fn sha256d_resume_many(
    messages: &[ResumeMessage],
    out: &mut [[u8; 32]],
    buffers: &mut ResumeBuffers,
) {
    assert_eq!(messages.len(), out.len(), "one output per message");
    let mut waiting: Option<usize> = None;
    let mut i = 0;
    while i < messages.len() {
        if let (Some(quad), Some(outs)) =
            (messages[i..].first_chunk::<4>(), out[i..].first_chunk_mut::<4>())
            && resume_in_step(quad, outs, buffers)
        {
            i += 4;
            continue;
        }
        match waiting.take() {
            None => waiting = Some(i),
            Some(first) => {
                let pair = [messages[first], messages[i]];
                let mut outs = [[0u8; 32]; 2];
                if !resume_in_step(&pair, &mut outs, buffers) {
                    outs = pair.each_ref().map(sha256d_resume);
                }
                [out[first], out[i]] = outs;
            }
        }
        i += 1;
    }
    if let Some(last) = waiting {
        out[last] = sha256d_resume(&messages[last]);
    }
}

/// Hashes two headers at once where the path interleaves streams.
#[inline]
fn sha256d_header_pair(path: Sha256Path, h0: &[u8; 80], h1: &[u8; 80]) -> ([u8; 32], [u8; 32]) {
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Sha256Kernel::ShaNi => {
            // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
            let [a, b] = unsafe { x86_shani::sha256d_header_n([h0, h1]) };
            (state_to_bytes(&a), state_to_bytes(&b))
        }
        _ => (sha256d_header_with(path, h0), sha256d_header_with(path, h1)),
    }
}

/// Folds a stratum merkle branch: `root = sha256d(root ‖ b)` for each entry, from the leaf
/// (the coinbase txid, always the leftmost).
pub fn fold_branch_with(path: Sha256Path, leaf: &[u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    let mut m = [0u8; 64];
    m[..32].copy_from_slice(leaf);
    for b in branch {
        m[32..].copy_from_slice(b);
        let root = sha256d_64_with(path, &m);
        m[..32].copy_from_slice(&root);
    }
    m[..32].try_into().unwrap() // infallible: fixed-size range
}

/// Folds two stratum merkle branches (`root = sha256d(root ‖ b)`) of equal length
/// together, interleaving the two streams where the path can.
pub fn fold_branch_pair(
    path: Sha256Path,
    leaf0: &[u8; 32],
    branch0: &[[u8; 32]],
    leaf1: &[u8; 32],
    branch1: &[[u8; 32]],
) -> ([u8; 32], [u8; 32]) {
    assert_eq!(branch0.len(), branch1.len(), "branches of equal length");
    match path.kernel() {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
        Sha256Kernel::ShaNi => unsafe { x86_shani::fold_branch_x2(leaf0, branch0, leaf1, branch1) },
        _ => (fold_branch_with(path, leaf0, branch0), fold_branch_with(path, leaf1, branch1)),
    }
}

/// Folds the stratum merkle branches of a group of shares, replacing each leaf (the
/// coinbase txid) by its root. The branches must have equal length (shares of one job
/// do); the group is hashed in the path's lanes (8 AVX2 lanes, 4 or 2 SHA-NI streams).
pub fn fold_branch_group(path: Sha256Path, items: &mut [([u8; 32], &[[u8; 32]])]) {
    let Some(depth) = items.first().map(|(_, b)| b.len()) else { return };
    assert!(items.iter().all(|(_, b)| b.len() == depth), "branches of equal length");
    match path.kernel() {
        #[cfg(target_arch = "x86_64")]
        Sha256Kernel::Avx2x8 if items.len() > 1 => {
            for group in items.chunks_mut(8) {
                // A partial group is padded with its last share.
                let last = group.len() - 1;
                let leaves: [&[u8; 32]; 8] = core::array::from_fn(|l| &group[l.min(last)].0);
                let branches: [&[[u8; 32]]; 8] = core::array::from_fn(|l| group[l.min(last)].1);
                // SAFETY: `Avx2x8` paths come only from `Sha256Path::avx2_8way` (the CPU has AVX2).
                let roots = unsafe { x86_avx2::fold_branches_x8(leaves, branches) };
                for (item, root) in group.iter_mut().zip(roots) {
                    item.0 = root;
                }
            }
        }
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Sha256Kernel::ShaNi if items.len() >= 4 => {
            let mut quads = items.chunks_exact_mut(4);
            for quad in &mut quads {
                let leaves = [&quad[0].0, &quad[1].0, &quad[2].0, &quad[3].0];
                let branches = [quad[0].1, quad[1].1, quad[2].1, quad[3].1];
                // SAFETY: `ShaNi` paths come only from `Sha256Path::sha_ni` (the CPU has SHA, SSE4.1).
                let roots = unsafe { x86_shani::fold_branch_x4(leaves, branches) };
                for (item, root) in quad.iter_mut().zip(roots) {
                    item.0 = root;
                }
            }
            fold_branch_group(path, quads.into_remainder());
        }
        _ => {
            let mut pairs = items.chunks_exact_mut(2);
            for pair in &mut pairs {
                let (r0, r1) = fold_branch_pair(path, &pair[0].0, pair[0].1, &pair[1].0, pair[1].1);
                pair[0].0 = r0;
                pair[1].0 = r1;
            }
            for (leaf, branch) in pairs.into_remainder() {
                *leaf = fold_branch_with(path, leaf, branch);
            }
        }
    }
}
