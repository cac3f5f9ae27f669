//! Every bad input of the core yields its typed error.

use sharecheck::chain::header::prevhash_from_stratum;
use sharecheck::hash::scrypt::reference::scrypt_kdf;
use sharecheck::{Algorithm, BlockHeader, CompactTarget, Error, Hash256, Target};

#[test]
fn header_hex_errors() {
    assert!(matches!(BlockHeader::from_hex("zz"), Err(Error::InvalidHex { what: "header", .. })));
    assert!(matches!(BlockHeader::from_hex("abc"), Err(Error::InvalidHex { what: "header", .. })));
    assert_eq!(
        BlockHeader::from_hex(&"00".repeat(79)),
        Err(Error::WrongLength { what: "header", expected: 80, got: 79 })
    );
    assert_eq!(
        BlockHeader::from_hex(&"00".repeat(81)),
        Err(Error::WrongLength { what: "header", expected: 80, got: 81 })
    );
    // A non-hex digit in the right length is still a hex error.
    let mut s = "00".repeat(80);
    s.replace_range(10..11, "g");
    assert!(matches!(BlockHeader::from_hex(&s), Err(Error::InvalidHex { .. })));
}

#[test]
fn target_and_hash_hex_errors() {
    assert!(matches!(Target::from_display_hex("00"), Err(Error::WrongLength { expected: 32, .. })));
    assert!(matches!(Hash256::from_display_hex(&"x".repeat(64)), Err(Error::InvalidHex { .. })));
    assert!(matches!(Hash256::from_internal_hex(&"0".repeat(63)), Err(Error::InvalidHex { .. })));
    assert!(matches!(
        CompactTarget::from_hex("1d00ff"),
        Err(Error::WrongLength { expected: 4, .. })
    ));
    assert!(matches!(CompactTarget::from_hex("1d00ffg0"), Err(Error::InvalidHex { .. })));
    assert!(matches!(prevhash_from_stratum("00"), Err(Error::WrongLength { .. })));
}

#[test]
fn algorithm_and_difficulty_errors() {
    assert_eq!("x11".parse::<Algorithm>(), Err(Error::UnknownAlgorithm("x11".into())));
    assert_eq!("SCRYPT".parse::<Algorithm>(), Ok(Algorithm::Scrypt));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Algorithm::Sha256d.target_for_difficulty(bad),
            Err(Error::InvalidDifficulty(_))
        ));
    }
}

#[test]
fn invalid_nbits_never_meet_a_target() {
    // Negative, zero and overflowing nBits are refused as Core's CheckProofOfWork does.
    for bits in [0x0492_3456u32, 0, 0x0100_3456, 0xff12_3456] {
        assert_eq!(CompactTarget(bits).to_pow_target(), None, "{bits:08x}");
    }
    assert!(CompactTarget(0x1d00_ffff).to_pow_target().is_some());
}

#[test]
fn scrypt_reference_parameter_errors() {
    let mut out = [0u8; 32];
    for (log_n, r, p) in [(0u8, 1u32, 1u32), (32, 1, 1), (10, 0, 1), (10, 1, 0), (31, 8, 1)] {
        assert!(
            matches!(
                scrypt_kdf(b"", b"", log_n, r, p, &mut out),
                Err(Error::InvalidScryptParams(_))
            ),
            "{log_n} {r} {p}"
        );
    }
    assert!(matches!(scrypt_kdf(b"", b"", 4, 1, 1, &mut []), Err(Error::InvalidScryptParams(_))));
}

/// The CPU's feature flags as the kernel reports them (an independent source: not the
/// `is_x86_feature_detected!` the crate uses).
fn cpuinfo_flags() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| l.split_whitespace().skip(2).map(str::to_string).collect())
        .unwrap_or_default()
}

/// A huge p is refused before anything is allocated (issue 7, item 7): RFC 7914 §2 bounds
/// p by ((2^32 − 1) · 32) / (128 · r), and the p · 128 · r bytes of B are bounded by
/// `MAX_REFERENCE_MEMORY` like the N · 128 · r bytes of V.
#[test]
fn scrypt_reference_refuses_huge_p_without_allocating() {
    use sharecheck::hash::scrypt::reference::MAX_REFERENCE_MEMORY;
    let mut out = [0u8; 32];
    // RFC 7914's bound for r = 1 is ((2^32 - 1) * 32) / 128 = 2^30 - 1; for r = 8 it is
    // 2^27 - 1. The memory bound for r = 1 is 2^30 / 128 = 2^23.
    let rfc_max_r1 = ((u64::from(u32::MAX) * 32) / 128) as u32;
    assert_eq!(rfc_max_r1, (1 << 30) - 1);
    let memory_max_r1 = (MAX_REFERENCE_MEMORY / 128) as u32;
    for (log_n, r, p) in [
        (1u8, 8u32, u32::MAX),
        (1, 1, u32::MAX),
        (1, u32::MAX / 128, u32::MAX),
        (4, 8, 1 << 27),
        (1, 1, rfc_max_r1 + 1),
        (1, 1, rfc_max_r1),
        (1, 1, memory_max_r1 + 1),
    ] {
        assert!(
            matches!(
                scrypt_kdf(b"password", b"salt", log_n, r, p, &mut out),
                Err(Error::InvalidScryptParams(_))
            ),
            "log2(N) = {log_n}, r = {r}, p = {p}"
        );
    }
    // Small p stays valid: RFC 7914 section 12, vector 2 has p = 16; here p = 2 with a
    // tiny N only checks that the bound does not refuse a legal value.
    assert!(scrypt_kdf(b"password", b"NaCl", 1, 1, 2, &mut out).is_ok());
}

#[test]
fn kernel_overrides() {
    use sharecheck::hash::{Platform, ScryptPath, Sha256Path};
    assert_eq!(Platform::from_overrides(Some("1"), Some("sha-ni"), None), Platform::portable());
    let p = Platform::from_overrides(None, Some("portable"), Some("portable"));
    assert_eq!(p, Platform::portable());
    assert_eq!(p.sha256(), Sha256Path::PORTABLE);
    assert_eq!(p.scrypt(), ScryptPath::PORTABLE);
    // Unknown names are ignored: the detected best stays.
    assert_eq!(Platform::from_overrides(None, Some("sha-512"), Some("gpu")), Platform::detect());
}

#[test]
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detection_matches_the_cpu_flags() {
    use sharecheck::hash::{Platform, ScryptPath, Sha256Path};
    let flags = cpuinfo_flags();
    assert!(!flags.is_empty(), "/proc/cpuinfo lists the CPU's flags");
    let has = |f: &str| flags.iter().any(|x| x == f);
    let sha_ni = has("sha_ni") && has("sse4_1");
    assert_eq!(Sha256Path::sha_ni().is_some(), sha_ni);
    assert_eq!(Sha256Path::avx2_8way().is_some(), has("avx2"));
    assert_eq!(ScryptPath::avx2_8way().is_some(), has("avx2"));
    assert!(ScryptPath::sse2_4way().is_some(), "every x86-64 CPU has SSE2");
    let best_sha256 = if sha_ni {
        "sha-ni"
    } else if has("avx2") {
        "avx2-8way"
    } else {
        "portable"
    };
    let best_scrypt = if has("avx2") { "avx2-8way" } else { "sse2-4way" };
    assert_eq!(Platform::detect().sha256().to_string(), best_sha256);
    assert_eq!(Platform::detect().scrypt().to_string(), best_scrypt);
    // A path this CPU lacks cannot be forced: the override is ignored.
    if !sha_ni {
        let p = Platform::from_overrides(None, Some("sha-ni"), None);
        assert_ne!(p.sha256().to_string(), "sha-ni");
    }
}
