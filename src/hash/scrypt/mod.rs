//! scrypt with N = 1024, r = 1, p = 1 over an 80-byte header (Litecoin, Dogecoin PoW).
//!
//! The 128 KiB table ROMix needs lives in a [`ScryptScratch`] the caller owns and reuses;
//! [`scrypt_header`] keeps one per thread. Nothing is allocated per hash.

mod pbkdf2;
pub mod reference;
mod romix;
mod salsa;
#[cfg(target_arch = "x86_64")]
mod x86_lanes;
#[cfg(target_arch = "x86_64")]
mod x86_single;

use std::cell::RefCell;

use super::platform::{Platform, ScryptKernel};
use pbkdf2::HeaderHmac;

/// N of Litecoin's scrypt.
pub const SCRYPT_N: usize = 1024;

/// The ROMix table for one hash: N blocks of 128 bytes (128 KiB). Allocate once, reuse.
pub struct ScryptScratch {
    table: Box<[[u32; 32]]>,
}

impl Default for ScryptScratch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ScryptScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScryptScratch").field("bytes", &(self.table.len() * 128)).finish()
    }
}

impl ScryptScratch {
    /// A new 128 KiB scratchpad.
    pub fn new() -> Self {
        ScryptScratch { table: vec![[0u32; 32]; SCRYPT_N].into_boxed_slice() }
    }

    pub(crate) fn table_mut(&mut self) -> &mut [[u32; 32]] {
        &mut self.table
    }
}

/// scrypt(P = header, S = header, N = 1024, r = 1, p = 1, dkLen = 32): the PoW hash in
/// internal byte order, computed with a caller-owned scratchpad on the detected path.
pub fn scrypt_header_with_scratch(header: &[u8; 80], scratch: &mut ScryptScratch) -> [u8; 32] {
    scrypt_header_on(Platform::get(), header, scratch)
}

/// [`scrypt_header_with_scratch`] on chosen kernels.
pub fn scrypt_header_on(
    platform: Platform,
    header: &[u8; 80],
    scratch: &mut ScryptScratch,
) -> [u8; 32] {
    let hmac = HeaderHmac::new(platform.sha256(), header);
    let mut x = hmac.derive_romix_input();
    // Lane kernels pay off on batches only (`scrypt_headers_on`); one hash on a SIMD path
    // runs the SSE2 single-hash ROMix, on the portable path the portable one.
    match platform.scrypt().kernel() {
        #[cfg(target_arch = "x86_64")]
        ScryptKernel::Sse2x4 | ScryptKernel::Avx2x8 => {
            // SAFETY: SSE2 is part of x86-64, so every x86-64 CPU runs this kernel.
            unsafe { x86_single::romix_1024_r1(&mut x, scratch.table_mut()) }
        }
        _ => romix::romix_1024_r1(&mut x, scratch),
    }
    hmac.derive_output(&x)
}

/// scrypt PoW hash of a header using this thread's scratchpad (allocated on the
/// thread's first call, then reused; the same one batches use).
pub fn scrypt_header(header: &[u8; 80]) -> [u8; 32] {
    with_thread_scratch(|scratch| scrypt_header_with_scratch(header, &mut scratch.single))
}

/// Scratchpads for batch hashing: one 128 KiB table, and the 1 MiB table of the 8-lane
/// kernel (allocated on first batch use). Allocate once, reuse.
#[derive(Debug, Default)]
pub struct ScryptBatchScratch {
    single: ScryptScratch,
    lanes: Vec<u32>,
}

impl ScryptBatchScratch {
    /// New scratchpads.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Below this many headers a lane batch costs more than hashing them one by one.
#[cfg(target_arch = "x86_64")]
const MIN_LANE_BATCH: usize = 2;

/// scrypt PoW hashes of many headers: `out[i]` is the hash of `headers[i]`. Fills the
/// SIMD lanes of the chosen path; the last partial group is padded (or, below
/// `MIN_LANE_BATCH`, hashed one by one).
pub fn scrypt_headers_on(
    platform: Platform,
    headers: &[[u8; 80]],
    out: &mut [[u8; 32]],
    scratch: &mut ScryptBatchScratch,
) {
    assert_eq!(headers.len(), out.len(), "one output per header");
    match platform.scrypt().kernel() {
        // SAFETY (both arms): a lane path comes only from detection (`ScryptPath::avx2_8way`
        // after the CPU reported AVX2; SSE2 is part of x86-64).
        #[cfg(target_arch = "x86_64")]
        ScryptKernel::Avx2x8 => {
            use x86_lanes::avx2::{LANES, SCRATCH_WORDS, romix};
            let kernel: unsafe fn(&mut [[u32; 32]; LANES], &mut [u32]) = romix;
            hash_in_lanes::<LANES>(platform, headers, out, scratch, SCRATCH_WORDS, kernel);
        }
        #[cfg(target_arch = "x86_64")]
        ScryptKernel::Sse2x4 => {
            use x86_lanes::sse2::{LANES, SCRATCH_WORDS, romix};
            let kernel: unsafe fn(&mut [[u32; 32]; LANES], &mut [u32]) = romix;
            hash_in_lanes::<LANES>(platform, headers, out, scratch, SCRATCH_WORDS, kernel);
        }
        _ => {
            for (h, o) in headers.iter().zip(out.iter_mut()) {
                *o = scrypt_header_on(platform, h, &mut scratch.single);
            }
        }
    }
}

/// Hashes `headers` in groups of `L` with a lane kernel; a partial last group is padded
/// with copies of its last header, or hashed one by one below `MIN_LANE_BATCH`.
#[cfg(target_arch = "x86_64")]
fn hash_in_lanes<const L: usize>(
    platform: Platform,
    headers: &[[u8; 80]],
    out: &mut [[u8; 32]],
    scratch: &mut ScryptBatchScratch,
    scratch_words: usize,
    kernel: unsafe fn(&mut [[u32; 32]; L], &mut [u32]),
) {
    if scratch.lanes.len() != scratch_words {
        scratch.lanes = vec![0u32; scratch_words];
    }
    for (group, outs) in headers.chunks(L).zip(out.chunks_mut(L)) {
        if group.len() < MIN_LANE_BATCH {
            for (h, o) in group.iter().zip(outs.iter_mut()) {
                *o = scrypt_header_on(platform, h, &mut scratch.single);
            }
            continue;
        }
        let last = group.len() - 1;
        let hmacs: [HeaderHmac; L] =
            core::array::from_fn(|l| HeaderHmac::new(platform.sha256(), &group[l.min(last)]));
        let mut blocks: [[u32; 32]; L] = core::array::from_fn(|l| hmacs[l].derive_romix_input());
        // SAFETY: the caller passes the kernel of a path this CPU supports.
        unsafe { kernel(&mut blocks, &mut scratch.lanes) };
        for (l, o) in outs.iter_mut().enumerate() {
            *o = hmacs[l].derive_output(&blocks[l]);
        }
    }
}

thread_local! {
    /// One set of scratchpads per thread, for single hashes and batches alike.
    static THREAD_SCRATCH: RefCell<Option<ScryptBatchScratch>> = const { RefCell::new(None) };
}

fn with_thread_scratch<T>(f: impl FnOnce(&mut ScryptBatchScratch) -> T) -> T {
    THREAD_SCRATCH.with(|cell| f(cell.borrow_mut().get_or_insert_with(ScryptBatchScratch::new)))
}

/// [`scrypt_headers_on`] on the detected path with this thread's scratchpads.
pub fn scrypt_headers(headers: &[[u8; 80]], out: &mut [[u8; 32]]) {
    with_thread_scratch(|scratch| scrypt_headers_on(Platform::get(), headers, out, scratch))
}
