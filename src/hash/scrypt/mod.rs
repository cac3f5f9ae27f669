//! scrypt with N = 1024, r = 1, p = 1 over an 80-byte header (Litecoin, Dogecoin PoW).
//!
//! The 128 KiB table ROMix needs lives in a [`ScryptScratch`] the caller owns and reuses;
//! [`scrypt_header`] keeps one per thread. Nothing is allocated per hash.

mod pbkdf2;
pub mod reference;
mod romix;
mod salsa;

use std::cell::RefCell;

use super::platform::{Platform, ScryptPath};
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
    let hmac = HeaderHmac::new(platform.sha256, header);
    let mut x = hmac.derive_romix_input();
    match platform.scrypt {
        ScryptPath::Portable => romix::romix_1024_r1(&mut x, scratch),
    }
    hmac.derive_output(&x)
}

thread_local! {
    static THREAD_SCRATCH: RefCell<Option<ScryptScratch>> = const { RefCell::new(None) };
}

/// scrypt PoW hash of a header using this thread's scratchpad (allocated on the
/// thread's first call, then reused).
pub fn scrypt_header(header: &[u8; 80]) -> [u8; 32] {
    THREAD_SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        let scratch = slot.get_or_insert_with(ScryptScratch::new);
        scrypt_header_with_scratch(header, scratch)
    })
}
