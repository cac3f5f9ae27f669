//! Property tests: every kernel against an independent implementation (the `sha2` and
//! `scrypt` crates, `num-bigint`) on random inputs, on every CPU path this machine has.

use crate::common::miner;
use num_bigint::BigUint;
use proptest::prelude::*;
use sha2::Digest;
use sharecheck::chain::merkle;
use sharecheck::hash::sha256::{
    ResumeMessage, ScheduledEnd, sha256d_64_with, sha256d_header_with, sha256d_resume,
    sha256d_resume_many,
};
use sharecheck::hash::{Midstate, Platform, ScryptPath, ScryptScratch, Sha256, Sha256Path, scrypt};
use sharecheck::{Algorithm, CompactTarget, Target};

/// Two messages through `sha256d_resume_many` (hashed as a pair).
fn resume_two(a: ResumeMessage, b: ResumeMessage) -> ([u8; 32], [u8; 32]) {
    let mut out = [[0u8; 32]; 2];
    sha256d_resume_many(&[a, b], &mut out, &mut Default::default());
    (out[0], out[1])
}

fn sha2_twice(data: &[u8]) -> [u8; 32] {
    let first = sha2::Sha256::digest(data);
    sha2::Sha256::digest(first).into()
}

fn scrypt_crate(header: &[u8; 80]) -> [u8; 32] {
    let params = ::scrypt::Params::new(10, 1, 1).unwrap();
    let mut out = [0u8; 32];
    ::scrypt::scrypt(header, header, &params, &mut out).unwrap();
    out
}

fn big(t: &Target) -> BigUint {
    BigUint::from_bytes_le(&t.to_le_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn scrypt_matches_scrypt_crate(header in prop::array::uniform32(any::<u8>()).prop_flat_map(|a| {
        prop::array::uniform32(any::<u8>()).prop_flat_map(move |b| {
            prop::array::uniform16(any::<u8>()).prop_map(move |c| {
                let mut h = [0u8; 80];
                h[..32].copy_from_slice(&a);
                h[32..64].copy_from_slice(&b);
                h[64..].copy_from_slice(&c);
                h
            })
        })
    })) {
        let expected = scrypt_crate(&header);
        let mut scratch = ScryptScratch::new();
        for sha256 in Sha256Path::supported() {
            for path in ScryptPath::supported() {
                let p = Platform::new(sha256, path);
                prop_assert_eq!(scrypt::scrypt_header_on(p, &header, &mut scratch), expected, "{:?}", p);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sha256d_matches_sha2_twice(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let expected = sha2_twice(&data);
        prop_assert_eq!(sharecheck::hash::sha256d(&data), expected);
        for path in Sha256Path::supported() {
            let mut h = Sha256::with_path(path);
            // Feed in uneven pieces to exercise the buffer.
            for piece in data.chunks(37) {
                h.update(piece);
            }
            prop_assert_eq!(h.finalize_double(), expected, "{}", path);
            let single: [u8; 32] = sha2::Sha256::digest(&data).into();
            let mut h = Sha256::with_path(path);
            h.update(&data);
            prop_assert_eq!(h.finalize(), single, "{}", path);
        }
    }

    #[test]
    fn fixed_size_sha256d_matches_sha2(bytes in prop::collection::vec(any::<u8>(), 80)) {
        let header: [u8; 80] = bytes.clone().try_into().unwrap();
        let message: [u8; 64] = bytes[..64].try_into().unwrap();
        for path in Sha256Path::supported() {
            prop_assert_eq!(sha256d_header_with(path, &header), sha2_twice(&header), "{}", path);
            prop_assert_eq!(sha256d_64_with(path, &message), sha2_twice(&message), "{}", path);
        }
    }

    #[test]
    fn midstate_resume_matches_whole(prefix in prop::collection::vec(any::<u8>(), 0..200),
                                     tail in prop::collection::vec(any::<u8>(), 0..100)) {
        for path in Sha256Path::supported() {
            let (mid, used) = Midstate::of_prefix_with(path, &prefix);
            prop_assert_eq!(used, prefix.len() / 64 * 64);
            prop_assert_eq!(mid.bytes_consumed() as usize, used);
            let mut h = mid.resume();
            prop_assert_eq!(h.path(), path, "a midstate resumes on the path it was built on");
            h.update(&prefix[used..]).update(&tail);
            let whole = [prefix.as_slice(), tail.as_slice()].concat();
            prop_assert_eq!(h.finalize_double(), sha2_twice(&whole), "{}", path);
        }
    }

    #[test]
    fn merkle_fold_matches_pairwise_sha2(leaf in any::<[u8; 32]>(),
                                         branch in prop::collection::vec(any::<[u8; 32]>(), 0..14)) {
        let mut acc = leaf;
        for b in &branch {
            acc = sha2_twice(&[acc.as_slice(), b.as_slice()].concat());
        }
        prop_assert_eq!(merkle::fold_branch(&leaf, &branch), acc);
    }

    /// encode(decode(x)) is canonical: decoding it gives the same value, and encoding
    /// again is a fixed point.
    #[test]
    fn compact_round_trip_is_canonical(size in 0u32..=34, mantissa in 0u32..1 << 24) {
        let d = CompactTarget(size << 24 | mantissa).decode();
        prop_assume!(!d.overflow);
        let canonical = CompactTarget::from_target(&d.target, d.negative);
        let again = canonical.decode();
        prop_assert_eq!(again.target, d.target);
        prop_assert_eq!(CompactTarget::from_target(&again.target, again.negative), canonical);
    }

    /// decode(encode(t)) <= t: the compact form only ever rounds down.
    #[test]
    fn compact_encoding_rounds_down(limbs in any::<[u64; 4]>(), shift in 0u32..256) {
        let t = Target::from_limbs(limbs).shr(shift);
        let back = CompactTarget::from_target(&t, false).decode();
        prop_assert!(!back.negative && !back.overflow);
        prop_assert!(back.target <= t);
        // ... and loses only what the 23-bit mantissa cannot hold.
        prop_assert!(big(&t) - big(&back.target) < BigUint::from(1u8) << t.bits().saturating_sub(15));
    }

    #[test]
    fn hash_meets_target_is_integer_order(hash in any::<[u8; 32]>(), target in any::<[u64; 4]>()) {
        let t = Target::from_limbs(target);
        let h = BigUint::from_bytes_le(&hash);
        prop_assert_eq!(t.is_met_by(&hash), h <= big(&t));
        prop_assert_eq!(Target::from_le_bytes(&hash).cmp(&t), h.cmp(&big(&t)));
    }

    #[test]
    fn target_from_difficulty_is_exact_floor(d in prop_oneof![
        1e-12f64..1.0, 1.0f64..1e6, 1e6f64..1e15, (1u64..1 << 40).prop_map(|n| n as f64),
        // Subnormal (the target saturates) and huge (the target is 0) difficulties.
        (1u64..1 << 52).prop_map(f64::from_bits), 1e15f64..1e300
    ]) {
        for algo in Algorithm::ALL {
            let got = algo.target_for_difficulty(d).unwrap();
            // Independent: floor(diff1 / d) in exact rationals (num-rational), with d's
            // binary value; diff1 = 0xFFFF · 2^208 · 2^(16 for scrypt's pool convention).
            let pool_shift: usize = if algo == Algorithm::Scrypt { 16 } else { 0 };
            let diff1 = BigUint::from(0xffffu32) << (208 + pool_shift);
            prop_assert_eq!(big(&algo.diff1_target()), diff1.clone());
            let expected = miner::div_floor_by_float(&diff1, d);
            let max = (BigUint::from(1u8) << 256usize) - 1u8;
            prop_assert_eq!(big(&got), expected.min(max));
        }
    }

    #[test]
    fn target_from_difficulty_is_monotonic(a in 1e-9f64..1e12, b in 1e-9f64..1e12) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        for algo in Algorithm::ALL {
            prop_assert!(algo.target_for_difficulty(lo).unwrap() >= algo.target_for_difficulty(hi).unwrap());
        }
    }

    /// A hash of exactly the requested difficulty meets the share target.
    #[test]
    fn share_at_exact_difficulty_is_accepted(divisor in 1u64..1 << 50) {
        for algo in Algorithm::ALL {
            let diff1 = algo.diff1_target();
            let exact = diff1.shl_div_for_test(divisor);
            let target = algo.target_for_difficulty(divisor as f64).unwrap();
            prop_assert!(target.is_met_by(&exact.to_le_bytes()));
        }
    }
}

trait ShlDivForTest {
    fn shl_div_for_test(&self, divisor: u64) -> Target;
}

impl ShlDivForTest for Target {
    /// floor(self / divisor) through num-bigint.
    fn shl_div_for_test(&self, divisor: u64) -> Target {
        let q = big(self) / BigUint::from(divisor);
        let mut bytes = q.to_bytes_le();
        bytes.resize(32, 0);
        Target::from_le_bytes(&bytes.try_into().unwrap())
    }
}

#[test]
fn tiny_difficulty_saturates_and_bad_difficulty_is_refused() {
    for algo in Algorithm::ALL {
        assert_eq!(algo.target_for_difficulty(1e-300).unwrap(), Target::MAX);
        assert_eq!(algo.target_for_difficulty(f64::MIN_POSITIVE / 4.0).unwrap(), Target::MAX);
        assert_eq!(algo.target_for_difficulty(1.0).unwrap(), algo.diff1_target());
        for bad in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                algo.target_for_difficulty(bad),
                Err(sharecheck::Error::InvalidDifficulty(_))
            ));
        }
    }
    // Scrypt pool difficulty 65536 is Bitcoin's difficulty 1: the pool diff1 is 65536x easier.
    assert_eq!(
        Algorithm::Scrypt.target_for_difficulty(65536.0).unwrap(),
        Algorithm::Sha256d.diff1_target()
    );
}

/// Batches of every awkward size (1, lanes − 1, lanes, lanes + 1, ...) on every scrypt
/// path this CPU has: each output equals the `scrypt` crate's hash of its header.
#[test]
fn scrypt_batches_match_scrypt_crate_on_every_path() {
    use sharecheck::hash::scrypt::{ScryptBatchScratch, scrypt_headers_on};
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let headers: Vec<[u8; 80]> = (0..17)
        .map(|_| {
            core::array::from_fn(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
        })
        .collect();
    let expected: Vec<[u8; 32]> = headers.iter().map(scrypt_crate).collect();
    for sha256 in Sha256Path::supported() {
        for path in ScryptPath::supported() {
            let p = Platform::new(sha256, path);
            let mut scratch = ScryptBatchScratch::new();
            for n in [0usize, 1, 2, 7, 8, 9, 15, 16, 17] {
                let mut out = vec![[0u8; 32]; n];
                scrypt_headers_on(p, &headers[..n], &mut out, &mut scratch);
                assert_eq!(out, expected[..n], "{p:?}, batch of {n}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two coinbases resumed from their midstates and hashed in step, against sha2: random
    /// tails of equal and of different block counts (hashed one stream each), and longer
    /// than the paired buffer (16 blocks). Every tail length is in
    /// `paired_coinbase_hashes_at_every_tail_length`.
    #[test]
    fn paired_coinbase_hashes_match_sha2(
        prefixes in any::<([u8; 200], [u8; 200])>(),
        prefix_lens in (0usize..200, 0usize..200),
        tails in (
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(any::<u8>(), 0..200),
            prop_oneof![Just(0usize), 0usize..130, 900usize..1100],
        ),
        extranonce2 in prop::collection::vec(any::<u8>(), 0..9),
    ) {
        let (tail0, tail1, long) = tails;
        // The second one's coinb2 is its tail plus `long` more bytes: equal, near and far
        // lengths.
        let coinb2_1: Vec<u8> = tail1.iter().copied().chain((0..long).map(|i| i as u8)).collect();
        let prefix0 = &prefixes.0[..prefix_lens.0];
        let prefix1 = &prefixes.1[..prefix_lens.1];
        let whole0 = [prefix0, extranonce2.as_slice(), tail0.as_slice()].concat();
        let whole1 = [prefix1, extranonce2.as_slice(), coinb2_1.as_slice()].concat();
        for path in Sha256Path::supported() {
            let (mid0, used0) = Midstate::of_prefix_with(path, prefix0);
            let (mid1, used1) = Midstate::of_prefix_with(path, prefix1);
            let (h0, h1) = resume_two(
                ResumeMessage::new(&mid0, [&prefix0[used0..], &extranonce2, &tail0]),
                ResumeMessage::new(&mid1, [&prefix1[used1..], &extranonce2, &coinb2_1]),
            );
            prop_assert_eq!(h0, sha2_twice(&whole0), "{}", path);
            prop_assert_eq!(h1, sha2_twice(&whole1), "{}", path);
            // The same message twice: equal block counts whatever the lengths.
            let (a, b) = resume_two(
                ResumeMessage::new(&mid1, [&prefix1[used1..], &extranonce2, &coinb2_1]),
                ResumeMessage::new(&mid1, [&prefix1[used1..], &extranonce2, &coinb2_1]),
            );
            prop_assert_eq!(a, sha2_twice(&whole1), "{}", path);
            prop_assert_eq!(b, sha2_twice(&whole1), "{}", path);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Interleaved (2- and 4-stream) kernels against sha2, every path, odd counts included.
    #[test]
    fn paired_sha256d_kernels_match_sha2(
        headers in prop::collection::vec(prop::collection::vec(any::<u8>(), 80), 0..20),
        leaves in any::<([u8; 32], [u8; 32])>(),
        branch in prop::collection::vec(any::<([u8; 32], [u8; 32])>(), 0..14),
    ) {
        use sharecheck::hash::sha256::{fold_branch_pair, sha256d_headers_with};
        let headers: Vec<[u8; 80]> = headers.into_iter().map(|h| h.try_into().unwrap()).collect();
        let expected: Vec<[u8; 32]> = headers.iter().map(|h| sha2_twice(h)).collect();
        let (b0, b1): (Vec<[u8; 32]>, Vec<[u8; 32]>) = branch.into_iter().unzip();
        let fold = |leaf: &[u8; 32], b: &[[u8; 32]]| {
            b.iter().fold(*leaf, |acc, x| sha2_twice(&[acc.as_slice(), x.as_slice()].concat()))
        };
        for path in Sha256Path::supported() {
            let mut out = vec![[0u8; 32]; headers.len()];
            sha256d_headers_with(path, &headers, &mut out);
            prop_assert_eq!(&out, &expected, "{}", path);
            let (r0, r1) = fold_branch_pair(path, &leaves.0, &b0, &leaves.1, &b1);
            prop_assert_eq!(r0, fold(&leaves.0, &b0), "{}", path);
            prop_assert_eq!(r1, fold(&leaves.1, &b1), "{}", path);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Groups of shares folded together (8 AVX2 lanes, SHA-NI pairs, portable) equal
    /// a fold through sha2, for every group size up to past one lane group.
    #[test]
    fn grouped_branch_folds_match_sha2(
        leaves in prop::collection::vec(any::<[u8; 32]>(), 0..11),
        branches in prop::collection::vec(prop::collection::vec(any::<[u8; 32]>(), 13), 11),
        depth in prop_oneof![Just(13usize), 0usize..13],
    ) {
        let branches: Vec<Vec<[u8; 32]>> =
            branches.into_iter().map(|b| b[..depth].to_vec()).collect();
        use sharecheck::hash::sha256::fold_branch_group;
        let fold = |leaf: &[u8; 32], b: &[[u8; 32]]| {
            b.iter().fold(*leaf, |acc, x| sha2_twice(&[acc.as_slice(), x.as_slice()].concat()))
        };
        let expected: Vec<[u8; 32]> = leaves.iter().zip(&branches).map(|(l, b)| fold(l, b)).collect();
        for path in Sha256Path::supported() {
            let mut items: Vec<([u8; 32], &[[u8; 32]])> =
                leaves.iter().zip(&branches).map(|(l, b)| (*l, b.as_slice())).collect();
            fold_branch_group(path, &mut items);
            let roots: Vec<[u8; 32]> = items.iter().map(|(r, _)| *r).collect();
            prop_assert_eq!(&roots, &expected, "{}", path);
        }
    }
}

/// Every tail length from 0 to past the paired buffer (1015 bytes), so every padding edge
/// (55, 56, 63, 64 bytes in the last block) and the buffer's limit: two different messages
/// of equal block counts whose midstates cover 1 and 2 blocks, hashed in step, against
/// sha2; and with the second midstate on another path (hashed one stream each).
#[test]
fn paired_coinbase_hashes_at_every_tail_length() {
    let prefix0 = [0x11u8; 64];
    let prefix1 = [0x22u8; 128];
    for len in 0..=1030usize {
        let tail0: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let tail1: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(3)).collect();
        let parts = |t: &[u8]| -> [Vec<u8>; 3] {
            [t[..len / 3].to_vec(), t[len / 3..len / 2].to_vec(), t[len / 2..].to_vec()]
        };
        let (p0, p1) = (parts(&tail0), parts(&tail1));
        let expected0 = sha2_twice(&[prefix0.as_slice(), &tail0].concat());
        let expected1 = sha2_twice(&[prefix1.as_slice(), &tail1].concat());
        for path in Sha256Path::supported() {
            for other in [path, Sha256Path::PORTABLE] {
                let (mid0, _) = Midstate::of_prefix_with(path, &prefix0);
                let (mid1, _) = Midstate::of_prefix_with(other, &prefix1);
                let (h0, h1) = resume_two(
                    ResumeMessage::new(&mid0, [&p0[0], &p0[1], &p0[2]]),
                    ResumeMessage::new(&mid1, [&p1[0], &p1[1], &p1[2]]),
                );
                assert_eq!(h0, expected0, "{path}/{other}, tail of {len}");
                assert_eq!(h1, expected1, "{path}/{other}, tail of {len}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Up to nine coinbases resumed from their midstates and hashed four in step, against
    /// sha2: most share a prefix and a coinb2 length, as a batch's shares of one job and
    /// connection do (in step), some have another length, one past the in-step buffer or
    /// a midstate on the portable path (the group is hashed in pairs or alone).
    #[test]
    fn grouped_coinbase_hashes_match_sha2(
        messages in prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 150),
                prop_oneof![6 => Just(None), 1 => (0usize..300).prop_map(Some), 1 => (990usize..1030).prop_map(Some)],
                prop::bool::weighted(0.1),
            ),
            0..10,
        ),
        prefix_len in 0usize..150,
        coinb2_len in 0usize..300,
        extranonce2 in prop::collection::vec(any::<u8>(), 0..9),
    ) {
        let prefixes: Vec<&[u8]> = messages.iter().map(|(p, _, _)| &p[..prefix_len]).collect();
        let coinb2: Vec<Vec<u8>> = messages
            .iter()
            .enumerate()
            .map(|(i, (_, len, _))| {
                let len = len.unwrap_or(coinb2_len);
                (0..len).map(|b| (b as u8).wrapping_mul(i as u8 + 3)).collect()
            })
            .collect();
        let expected: Vec<[u8; 32]> = prefixes
            .iter()
            .zip(&coinb2)
            .map(|(prefix, c2)| sha2_twice(&[prefix, extranonce2.as_slice(), c2].concat()))
            .collect();
        for path in Sha256Path::supported() {
            let midstates: Vec<(Midstate, usize)> = prefixes
                .iter()
                .zip(&messages)
                .map(|(prefix, (_, _, portable))| {
                    Midstate::of_prefix_with(if *portable { Sha256Path::PORTABLE } else { path }, prefix)
                })
                .collect();
            let inputs: Vec<ResumeMessage> = prefixes
                .iter()
                .zip(&midstates)
                .zip(&coinb2)
                .map(|((prefix, (mid, used)), c2)| {
                    ResumeMessage::new(mid, [&prefix[*used..], extranonce2.as_slice(), c2.as_slice()])
                })
                .collect();
            let mut out = vec![[0u8; 32]; inputs.len()];
            sha256d_resume_many(&inputs, &mut out, &mut Default::default());
            prop_assert_eq!(&out, &expected, "{}", path);
        }
    }
}

/// Four coinbases of equal length at every tail length from 0 to past the in-step buffer
/// (1015 bytes), hashed in step, against sha2: every padding edge, and the buffer's limit.
#[test]
fn grouped_coinbase_hashes_at_every_tail_length() {
    let prefixes = [[0x11u8; 64], [0x22; 64], [0x33; 64], [0x44; 64]];
    for len in 0..=1030usize {
        let tails: Vec<Vec<u8>> = (0..4u8)
            .map(|m| (0..len).map(|i| (i as u8).wrapping_mul(2 * m + 1).wrapping_add(m)).collect())
            .collect();
        let expected: Vec<[u8; 32]> = prefixes
            .iter()
            .zip(&tails)
            .map(|(p, t)| sha2_twice(&[p.as_slice(), t].concat()))
            .collect();
        for path in Sha256Path::supported() {
            let midstates: Vec<Midstate> =
                prefixes.iter().map(|p| Midstate::of_prefix_with(path, p).0).collect();
            let inputs: Vec<ResumeMessage> = midstates
                .iter()
                .zip(&tails)
                .map(|(m, t)| {
                    ResumeMessage::new(m, [&t[..len / 3], &t[len / 3..len / 2], &t[len / 2..]])
                })
                .collect();
            let mut out = [[0u8; 32]; 4];
            sha256d_resume_many(&inputs, &mut out, &mut Default::default());
            assert_eq!(out.as_slice(), expected.as_slice(), "{path}, tail of {len}");
        }
    }
}

/// A message's prefix, body and end bytes, and the end scheduled.
type ScheduledMessage = (Vec<u8>, Vec<u8>, Vec<u8>, ScheduledEnd);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Messages with a scheduled end, against sha2 of the whole message, every path, four
    /// in step, in pairs and alone: ends made for the bytes before them (their schedules
    /// used), for other counts (their bytes hashed as ever), of every padding edge, and
    /// groups whose parts or ends differ in block count.
    #[test]
    fn scheduled_ends_match_sha2(
        messages in prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 200),
                prop_oneof![6 => Just(None), 1 => (0usize..200).prop_map(Some)],
                prop_oneof![6 => Just(None), 1 => (0usize..200).prop_map(Some)],
                prop::bool::weighted(0.15),
            ),
            0..10,
        ),
        prefix_len in 0usize..130,
        body_blocks in 0usize..3,
        end_len in 0usize..200,
    ) {
        // Each message: prefix (its midstate covers the whole blocks) ‖ body ‖ end. Most
        // share the lengths; `Some` gives one its own, `true` an end made for another count.
        let built: Vec<ScheduledMessage> = messages
            .iter()
            .map(|(bytes, own_prefix, own_end, mismatched)| {
                let p = own_prefix.unwrap_or(prefix_len);
                let body = (p.next_multiple_of(64) - p) + 64 * body_blocks;
                let e = own_end.unwrap_or(end_len);
                let prefix = bytes[..p].to_vec();
                let body: Vec<u8> = (0..body).map(|i| bytes[i % 200] ^ 0x5a).collect();
                let end: Vec<u8> = (0..e).map(|i| bytes[(7 * i) % 200].wrapping_add(i as u8)).collect();
                let preceding = (p + body.len()) as u64 + if *mismatched { 64 } else { 0 };
                let scheduled = ScheduledEnd::new(&end, preceding).unwrap();
                (prefix, body, end, scheduled)
            })
            .collect();
        let expected: Vec<[u8; 32]> = built
            .iter()
            .map(|(p, b, e, _)| sha2_twice(&[p.as_slice(), b, e].concat()))
            .collect();
        for path in Sha256Path::supported() {
            let midstates: Vec<(Midstate, usize)> =
                built.iter().map(|(p, ..)| Midstate::of_prefix_with(path, p)).collect();
            let inputs: Vec<ResumeMessage> = built
                .iter()
                .zip(&midstates)
                .map(|((p, b, _, end), (mid, used))| {
                    let body = b.as_slice();
                    ResumeMessage { midstate: mid, parts: [&p[*used..], &body[..body.len() / 2], &body[body.len() / 2..]], end: Some(end) }
                })
                .collect();
            let mut out = vec![[0u8; 32]; inputs.len()];
            sha256d_resume_many(&inputs, &mut out, &mut Default::default());
            prop_assert_eq!(&out, &expected, "{}", path);
            for (input, expected) in inputs.iter().zip(&expected) {
                prop_assert_eq!(&sha256d_resume(input), expected, "{}", path);
            }
        }
    }
}

/// A coinbase with its job's end of coinb2 scheduled, against sha2 of the assembled
/// coinbase, for every place the extranonce2 block can end (coinb1 of 0 to 130 bytes),
/// coinb2 ending before, in and past that block, on every path; and with an end made for
/// another extranonce size (then hashed as ever).
#[test]
fn coinbase_with_scheduled_end_matches_sha2() {
    use sharecheck::chain::coinbase::{CoinbaseEnd, CoinbasePrefix};
    let extranonce1 = [0xf8, 0x00, 0x2c, 0x90];
    for coinb1_len in 0..=130usize {
        let coinb1: Vec<u8> = (0..coinb1_len).map(|i| (i as u8).wrapping_mul(13)).collect();
        for coinb2_len in [0usize, 1, 5, 30, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 170, 400]
        {
            let coinb2: Vec<u8> = (0..coinb2_len).map(|i| (i as u8) ^ 0xa5).collect();
            for extranonce2 in [&[][..], &[1, 2, 3, 4], &[9; 8]] {
                let expected =
                    sha2_twice(&[coinb1.as_slice(), &extranonce1, extranonce2, &coinb2].concat());
                let before = (coinb1_len + extranonce1.len() + extranonce2.len()) as u64;
                for path in Sha256Path::supported() {
                    let prefix = CoinbasePrefix::with_path(path, &coinb1, &extranonce1);
                    for end_before in [before, before + 4] {
                        let end = CoinbaseEnd::new(&coinb2, end_before);
                        let message = prefix.message(extranonce2, &coinb2, end.as_ref());
                        let scheduled = message.end.is_some();
                        assert_eq!(
                            sha256d_resume(&message),
                            expected,
                            "{path}: coinb1 {coinb1_len}, coinb2 {coinb2_len}, extranonce2 {}, \
                             end for {end_before} before coinb2 (used: {scheduled})",
                            extranonce2.len()
                        );
                        // The end is used exactly when made for this coinbase.
                        assert_eq!(scheduled, end.is_some() && end_before == before);
                    }
                }
            }
        }
    }
}

/// Four coinbases of one job (extranonce2s differ) with the job's scheduled end of coinb2,
/// through `sha256d_resume_many` as four (in step), two and one, against sha2 of each
/// assembled coinbase: coinb2 of every length to past 16 blocks (the in-step buffer's size,
/// which a scheduled end does not need), and the end's limit of 128 scheduled blocks
/// (8 183 bytes scheduled, 8 184 hashed as ever).
#[test]
fn coinbases_of_one_job_with_their_scheduled_end_in_step() {
    use sharecheck::chain::coinbase::{CoinbaseEnd, CoinbasePrefix};
    let coinb1: Vec<u8> = (0..50u8).collect();
    let extranonce1 = [0xf8, 0x00, 0x2c, 0x90];
    let extranonce2s: [[u8; 4]; 4] = [[0, 0, 0, 1], [0, 0, 0, 2], [7, 7, 7, 7], [0xff; 4]];
    // coinb1, extranonce1 and extranonce2 are 58 bytes: the end starts 6 bytes into coinb2.
    let lengths = (0..=1100).step_by(3).chain([6 + 8182, 6 + 8183, 6 + 8184]);
    for coinb2_len in lengths {
        let coinb2: Vec<u8> = (0..coinb2_len).map(|i| (i as u8).wrapping_mul(31) ^ 0x3c).collect();
        let expected: Vec<[u8; 32]> = extranonce2s
            .iter()
            .map(|en2| sha2_twice(&[coinb1.as_slice(), &extranonce1, en2, &coinb2].concat()))
            .collect();
        let end = CoinbaseEnd::new(&coinb2, 58);
        assert_eq!(end.is_some(), (6..=6 + 8183).contains(&coinb2_len), "coinb2 of {coinb2_len}");
        for path in Sha256Path::supported() {
            let prefix = CoinbasePrefix::with_path(path, &coinb1, &extranonce1);
            let messages: Vec<ResumeMessage> =
                extranonce2s.iter().map(|en2| prefix.message(en2, &coinb2, end.as_ref())).collect();
            assert!(messages.iter().all(|m| m.end.is_some() == end.is_some()));
            for count in [4, 2, 1] {
                let mut out = vec![[0u8; 32]; count];
                sha256d_resume_many(&messages[..count], &mut out, &mut Default::default());
                assert_eq!(
                    out,
                    expected[..count],
                    "{path}: coinb2 of {coinb2_len}, {count} at once"
                );
            }
        }
    }
}

/// An end made from another coinb2 of the same length, for the same count of bytes before
/// it, does not stand for this coinb2: the coinbase is hashed as ever, and right.
#[test]
fn a_coinbase_end_of_another_coinb2_is_not_used() {
    use sharecheck::chain::coinbase::{CoinbaseEnd, CoinbasePrefix};
    let (coinb1, extranonce1, extranonce2) = ([7u8; 60], [1u8, 2, 3, 4], [5u8, 6, 7, 8]);
    let coinb2: Vec<u8> = (0..300).map(|i| i as u8).collect();
    let mut other = coinb2.clone();
    *other.last_mut().unwrap() ^= 1;
    let expected = sha2_twice(&[&coinb1[..], &extranonce1, &extranonce2, &coinb2].concat());
    for path in Sha256Path::supported() {
        let prefix = CoinbasePrefix::with_path(path, &coinb1, &extranonce1);
        let own = CoinbaseEnd::new(&coinb2, 68).unwrap();
        let foreign = CoinbaseEnd::new(&other, 68).unwrap();
        assert!(prefix.message(&extranonce2, &coinb2, Some(&own)).end.is_some(), "{path}");
        let message = prefix.message(&extranonce2, &coinb2, Some(&foreign));
        assert!(message.end.is_none(), "{path}");
        assert_eq!(sha256d_resume(&message), expected, "{path}");
    }
}
