//! nBits and difficulty conversions: no panic, and the exactness properties hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sharecheck::{Algorithm, CompactTarget, Target};

fuzz_target!(|input: (u32, [u64; 4], f64, bool)| {
    let (bits, limbs, difficulty, negative) = input;
    let d = CompactTarget(bits).decode();
    let _ = CompactTarget(bits).network_difficulty();
    if !d.overflow {
        let canonical = CompactTarget::from_target(&d.target, d.negative);
        assert_eq!(canonical.decode().target, d.target);
    }
    let t = Target::from_limbs(limbs);
    let back = CompactTarget::from_target(&t, negative).decode();
    assert!(back.target <= t);
    for algo in Algorithm::ALL {
        match algo.target_for_difficulty(difficulty) {
            Ok(target) => {
                assert!(difficulty.is_finite() && difficulty > 0.0);
                // Twice the difficulty never gives an easier target.
                if let Ok(harder) = algo.target_for_difficulty(difficulty * 2.0) {
                    assert!(harder <= target);
                }
            }
            Err(_) => assert!(!(difficulty.is_finite() && difficulty > 0.0)),
        }
        let _ = algo.difficulty_of_target(&t);
        let _ = algo.share_difficulty(&t.to_le_bytes());
    }
});
