//! The AuxPoW parser, serializer and check: no panic on any bytes, a parsed AuxPoW
//! serializes back to exactly the bytes it was read from, and the check and the
//! commitment builder take whatever the bytes say.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::Hash256;
use sharecheck::chain::auxpow::{AuxBlock, AuxPow, Commitment, expected_index};

fuzz_target!(|data: &[u8]| {
    if let Ok(auxpow) = AuxPow::from_bytes(data) {
        assert_eq!(auxpow.to_bytes(), data);
        // The aux block hash and chain id from the bytes themselves, both ways of strict.
        let hash = Hash256(auxpow.hash_block);
        let chain_id = auxpow.chain_index.wrapping_mul(31);
        let _ = auxpow.check(&hash, chain_id, true);
        let _ = auxpow.check(&hash, chain_id, false);
        let _ = auxpow.parent_pow_meets(sharecheck::Algorithm::Sha256d, 0x1d00_ffff);
    }
    let _ = AuxBlock::parse(data);
    // Commitments for up to 8 chains read from the input: each chain's slot is its own.
    let chains: Vec<(i32, Hash256)> = data
        .chunks_exact(4)
        .take(8)
        .map(|c| (i32::from_le_bytes([c[0], c[1], c[2], c[3]]) & 0xffff, Hash256([c[0]; 32])))
        .collect();
    if let Ok(commitment) = Commitment::build(&chains) {
        let height = commitment.merkle_size.trailing_zeros();
        for slot in &commitment.chains {
            assert_eq!(expected_index(commitment.merkle_nonce, slot.chain_id, height), slot.index);
        }
    }
});
