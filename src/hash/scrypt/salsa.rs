//! Portable Salsa20/8 core and the r = 1 BlockMix (RFC 7914 §3–4), and the round
//! schedule every Salsa20/8 kernel here expands.

/// Expands `$quarter!(a, b, c, d)` over the 8 rounds of Salsa20/8: columns, then rows,
/// each quarter-round listed with its diagonal word first (RFC 7914 §3). The portable and
/// lane kernels use this one schedule; the one-hash SSE2 kernel (`x86_single`) runs four
/// quarter-rounds per vector step instead.
macro_rules! salsa20_8_rounds {
    ($quarter:ident) => {
        for _ in 0..4 {
            $quarter!(0, 4, 8, 12);
            $quarter!(5, 9, 13, 1);
            $quarter!(10, 14, 2, 6);
            $quarter!(15, 3, 7, 11);
            $quarter!(0, 1, 2, 3);
            $quarter!(5, 6, 7, 4);
            $quarter!(10, 11, 8, 9);
            $quarter!(15, 12, 13, 14);
        }
    };
}
pub(crate) use salsa20_8_rounds;

/// Salsa20/8 core: `block = block + salsa_rounds_8(block)` word-wise.
#[inline(always)]
pub(crate) fn salsa20_8(block: &mut [u32; 16]) {
    let mut x = *block;
    macro_rules! quarter {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            x[$b] ^= x[$a].wrapping_add(x[$d]).rotate_left(7);
            x[$c] ^= x[$b].wrapping_add(x[$a]).rotate_left(9);
            x[$d] ^= x[$c].wrapping_add(x[$b]).rotate_left(13);
            x[$a] ^= x[$d].wrapping_add(x[$c]).rotate_left(18);
        };
    }
    salsa20_8_rounds!(quarter);
    for (b, x) in block.iter_mut().zip(x) {
        *b = b.wrapping_add(x);
    }
}

/// BlockMix for r = 1 on 32 words `[X0 | X1]`, in place.
#[inline(always)]
pub(crate) fn block_mix_r1(b: &mut [u32; 32]) {
    let (x0, x1) = b.split_at_mut(16);
    let x0: &mut [u32; 16] = x0.try_into().unwrap(); // infallible: fixed-size range
    let x1: &mut [u32; 16] = x1.try_into().unwrap(); // infallible: fixed-size range
    for (a, c) in x0.iter_mut().zip(x1.iter()) {
        *a ^= *c;
    }
    salsa20_8(x0);
    for (c, a) in x1.iter_mut().zip(x0.iter()) {
        *c ^= *a;
    }
    salsa20_8(x1);
}
