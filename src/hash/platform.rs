//! Runtime CPU detection: one [`Platform`] value, detected once, naming the kernel each
//! hash uses. Every path can be forced (tests, benchmarks); the portable paths always exist.

use std::fmt;
use std::sync::OnceLock;

/// How SHA-256 compressions are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sha256Path {
    /// Plain Rust, any CPU.
    Portable,
    /// Portable for one stream; batches 8 at a time in AVX2 lanes (CPUs without SHA-NI).
    Avx2x8,
    /// x86 SHA extensions (SHA-NI); batches as two interleaved streams.
    ShaNi,
}

/// How scrypt's ROMix (Salsa20/8) is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScryptPath {
    /// Plain Rust, any CPU, one hash at a time.
    Portable,
    /// SSE2 (every x86-64 CPU): batches hashed 4 at a time, one hash per 32-bit lane.
    Sse2x4,
    /// AVX2: batches hashed 8 at a time, one hash per 32-bit lane.
    Avx2x8,
}

impl fmt::Display for Sha256Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sha256Path::Portable => "portable",
            Sha256Path::Avx2x8 => "avx2-8way",
            Sha256Path::ShaNi => "sha-ni",
        })
    }
}

impl fmt::Display for ScryptPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScryptPath::Portable => "portable",
            ScryptPath::Sse2x4 => "sse2-4way",
            ScryptPath::Avx2x8 => "avx2-8way",
        })
    }
}

impl Sha256Path {
    /// Every SHA-256 path this CPU can run, slowest first (the last is the best).
    pub fn supported() -> Vec<Sha256Path> {
        [Sha256Path::Portable, Sha256Path::Avx2x8, Sha256Path::ShaNi]
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            Sha256Path::Portable => true,
            Sha256Path::Avx2x8 => cpu_has_avx2(),
            Sha256Path::ShaNi => cpu_has_sha_ni(),
        }
    }

    /// Independent messages a batch kernel of this path hashes together.
    pub fn batch_width(self) -> usize {
        match self {
            Sha256Path::Portable => 1,
            Sha256Path::Avx2x8 => 8,
            Sha256Path::ShaNi => 2,
        }
    }
}

impl ScryptPath {
    /// Every scrypt path this CPU can run, slowest first (the last is the best).
    pub fn supported() -> Vec<ScryptPath> {
        [ScryptPath::Portable, ScryptPath::Sse2x4, ScryptPath::Avx2x8]
            .into_iter()
            .filter(|p| p.is_supported())
            .collect()
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            ScryptPath::Portable => true,
            ScryptPath::Sse2x4 => cfg!(target_arch = "x86_64"),
            ScryptPath::Avx2x8 => cpu_has_avx2(),
        }
    }
}

fn cpu_has_sha_ni() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The kernels in use: one per hash family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
    /// SHA-256 compression path.
    pub sha256: Sha256Path,
    /// scrypt ROMix path.
    pub scrypt: ScryptPath,
}

static DETECTED: OnceLock<Platform> = OnceLock::new();

impl Platform {
    /// The kernels in use: the best this CPU supports, detected on first use and then
    /// cached, unless the environment forces one:
    /// - `SHARECHECK_FORCE_PORTABLE=1`: the portable kernels (to test the fallback on a
    ///   machine that has the extensions);
    /// - `SHARECHECK_SHA256=portable|avx2-8way|sha-ni`, `SHARECHECK_SCRYPT=portable|sse2-4way|avx2-8way`: one
    ///   path each. A path this CPU cannot run is ignored (the detected one is used).
    #[inline]
    pub fn get() -> Platform {
        *DETECTED.get_or_init(|| {
            let env = |name| std::env::var(name).ok();
            Platform::from_overrides(
                env("SHARECHECK_FORCE_PORTABLE").as_deref(),
                env("SHARECHECK_SHA256").as_deref(),
                env("SHARECHECK_SCRYPT").as_deref(),
            )
        })
    }

    /// The detected platform with the overrides [`Platform::get`] reads applied.
    pub fn from_overrides(
        force_portable: Option<&str>,
        sha256: Option<&str>,
        scrypt: Option<&str>,
    ) -> Platform {
        if force_portable == Some("1") {
            return Platform::portable();
        }
        let mut p = Platform::detect();
        if let Some(path) =
            Sha256Path::supported().into_iter().find(|x| Some(x.to_string().as_str()) == sha256)
        {
            p.sha256 = path;
        }
        if let Some(path) =
            ScryptPath::supported().into_iter().find(|x| Some(x.to_string().as_str()) == scrypt)
        {
            p.scrypt = path;
        }
        p
    }

    /// Detects the best kernels now (uncached).
    pub fn detect() -> Platform {
        Platform {
            sha256: *Sha256Path::supported().last().unwrap(), // infallible: portable is always supported
            scrypt: *ScryptPath::supported().last().unwrap(), // infallible: portable is always supported
        }
    }

    /// The portable kernels: correct on every CPU.
    pub const fn portable() -> Platform {
        Platform { sha256: Sha256Path::Portable, scrypt: ScryptPath::Portable }
    }
}
