//! What a remembered share costs in the duplicate filter, and its bound.

use sharecheck::validate::{DuplicateFilter, Remembered};

fn pseudo_hash(i: u64) -> [u8; 32] {
    // SplitMix64 stream: uniformly spread keys, as PoW hashes are.
    let mut out = [0u8; 32];
    let mut z = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in out.chunks_mut(8) {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(x ^ (x >> 31)).to_le_bytes());
    }
    out
}

#[test]
fn bytes_per_remembered_share() {
    let n = 200_000u64;
    let filter = DuplicateFilter::new(1 << 20);
    for i in 0..n {
        assert_eq!(filter.remember(&pseudo_hash(i)), Remembered::New);
    }
    for i in (0..n).step_by(1000) {
        assert_eq!(filter.remember(&pseudo_hash(i)), Remembered::Duplicate);
    }
    let per_share = filter.heap_bytes() as f64 / n as f64;
    println!("duplicate filter: {per_share:.1} bytes per remembered share at {n} shares");
    // 32-byte key + 1 control byte at a load factor between 7/16 and 7/8.
    assert!((33.0..=80.0).contains(&per_share), "{per_share}");
}

#[test]
fn filter_is_bounded() {
    let filter = DuplicateFilter::new(100);
    for i in 0..100 {
        assert_eq!(filter.remember(&pseudo_hash(i)), Remembered::New);
    }
    assert_eq!(filter.remember(&pseudo_hash(1000)), Remembered::Full);
    assert_eq!(filter.remember(&pseudo_hash(5)), Remembered::Duplicate);
    assert_eq!(filter.len(), 100);
}
