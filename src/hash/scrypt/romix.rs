//! Portable ROMix for N = 1024, r = 1: the reference the SIMD kernels are held against.

use super::salsa::block_mix_r1;
use super::{SCRYPT_N, ScryptScratch};

/// ROMix(N = 1024, r = 1) of `x` in place, using `scratch` as the 128 KiB table V.
pub(crate) fn romix_1024_r1(x: &mut [u32; 32], scratch: &mut ScryptScratch) {
    let v = scratch.table_mut();
    for slot in v.iter_mut() {
        *slot = *x;
        block_mix_r1(x);
    }
    for _ in 0..SCRYPT_N {
        // Integerify: the first word of the last 64-byte block, modulo N.
        let j = (x[16] as usize) & (SCRYPT_N - 1);
        for (a, b) in x.iter_mut().zip(v[j].iter()) {
            *a ^= *b;
        }
        block_mix_r1(x);
    }
}
