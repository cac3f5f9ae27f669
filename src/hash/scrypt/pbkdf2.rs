//! The two PBKDF2-HMAC-SHA256 ends of scrypt, specialised for an 80-byte header as both
//! password and salt, one iteration, r = 1, p = 1: the HMAC keys are derived once per
//! header and every block is built directly as words (no buffers, no allocation).

use crate::hash::platform::Sha256Path;
use crate::hash::sha256::{self, H0, Sha256};

/// HMAC-SHA256 states keyed by one header.
pub(crate) struct HeaderHmac {
    path: Sha256Path,
    /// Inner state after the ipad block.
    inner: [u32; 8],
    /// Outer state after the opad block.
    outer: [u32; 8],
    /// Inner state after ipad and the header's first 64 bytes (the salt's first block).
    inner_salt_head: [u32; 8],
    /// The header's last 16 bytes as big-endian words.
    salt_tail: [u32; 4],
}

impl HeaderHmac {
    pub(crate) fn new(path: Sha256Path, header: &[u8; 80]) -> Self {
        let head: [u32; 16] = core::array::from_fn(|i| {
            u32::from_be_bytes(header[4 * i..4 * i + 4].try_into().unwrap()) // infallible: fixed-size range
        });
        let tail = sha256::header_tail_words(header);
        // An HMAC key longer than the 64-byte block is replaced by its SHA-256.
        let mut key = H0;
        compress(path, &mut key, &head);
        compress(path, &mut key, &tail);
        let mut ipad = [0x3636_3636u32; 16];
        let mut opad = [0x5c5c_5c5cu32; 16];
        for i in 0..8 {
            ipad[i] ^= key[i];
            opad[i] ^= key[i];
        }
        let mut inner = H0;
        compress(path, &mut inner, &ipad);
        let mut outer = H0;
        compress(path, &mut outer, &opad);
        let mut inner_salt_head = inner;
        compress(path, &mut inner_salt_head, &head);
        let salt_tail = [tail[0], tail[1], tail[2], tail[3]];
        HeaderHmac { path, inner, outer, inner_salt_head, salt_tail }
    }

    /// Outer hash of an inner digest: the HMAC output as big-endian words.
    #[inline(always)]
    fn outer_finish(&self, inner_digest: &[u32; 8]) -> [u32; 8] {
        let mut s = self.outer;
        compress(self.path, &mut s, &sha256::digest_block(inner_digest, 64));
        s
    }

    /// PBKDF2(P = header, S = header, c = 1, dkLen = 128) as 32 little-endian words:
    /// the block ROMix starts from.
    pub(crate) fn derive_romix_input(&self) -> [u32; 32] {
        let mut b = [0u32; 32];
        for i in 0..4u32 {
            let mut w = [0u32; 16];
            w[..4].copy_from_slice(&self.salt_tail);
            w[4] = i + 1;
            w[5] = 0x8000_0000;
            w[15] = (64 + 84) * 8;
            let mut s = self.inner_salt_head;
            compress(self.path, &mut s, &w);
            let t = self.outer_finish(&s);
            for (j, word) in t.iter().enumerate() {
                // Big-endian digest bytes reread as little-endian words.
                b[8 * i as usize + j] = word.swap_bytes();
            }
        }
        b
    }

    /// PBKDF2(P = header, S = ROMix output, c = 1, dkLen = 32): the PoW hash bytes.
    pub(crate) fn derive_output(&self, x: &[u32; 32]) -> [u8; 32] {
        let mut s = self.inner;
        let first: [u32; 16] = core::array::from_fn(|i| x[i].swap_bytes());
        let second: [u32; 16] = core::array::from_fn(|i| x[16 + i].swap_bytes());
        compress(self.path, &mut s, &first);
        compress(self.path, &mut s, &second);
        let mut last = [0u32; 16];
        last[0] = 1;
        last[1] = 0x8000_0000;
        last[15] = (64 + 132) * 8;
        compress(self.path, &mut s, &last);
        sha256::state_to_bytes(&self.outer_finish(&s))
    }
}

#[inline(always)]
fn compress(path: Sha256Path, state: &mut [u32; 8], words: &[u32; 16]) {
    sha256::compress_words_on(path, state, words);
}

/// Generic PBKDF2-HMAC-SHA256 (any password, salt, iteration count, output length).
pub(crate) fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    let mut key = [0u8; 64];
    if password.len() > 64 {
        key[..32].copy_from_slice(&sha256::sha256(password));
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let ipad: [u8; 64] = core::array::from_fn(|i| key[i] ^ 0x36);
    let opad: [u8; 64] = core::array::from_fn(|i| key[i] ^ 0x5c);
    let hmac = |parts: &[&[u8]]| {
        let mut inner = Sha256::new();
        inner.update(&ipad);
        for p in parts {
            inner.update(p);
        }
        let mut outer = Sha256::new();
        outer.update(&opad);
        outer.update(&inner.finalize());
        outer.finalize()
    };
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let index = (i as u32 + 1).to_be_bytes();
        let mut u = hmac(&[salt, &index]);
        let mut t = u;
        for _ in 1..rounds {
            u = hmac(&[&u]);
            for (t, u) in t.iter_mut().zip(u) {
                *t ^= u;
            }
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}
