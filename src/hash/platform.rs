//! Runtime CPU detection: one [`Platform`] value, detected once, naming the kernel each
//! hash uses. Every path can be forced (tests, benchmarks); the portable paths always exist.

use std::fmt;
use std::sync::OnceLock;

/// How SHA-256 compressions are computed.
///
/// A value is a proof that this CPU can run the path: the SIMD paths are obtainable only
/// from detection ([`Sha256Path::sha_ni`], [`Sha256Path::avx2_8way`],
/// [`Sha256Path::supported`]), so no safe code can send a SHA-NI instruction to a CPU
/// without it.
///
/// ```compile_fail
/// // The SHA-NI path cannot be named, only detected:
/// let p = sharecheck::hash::Sha256Path(sharecheck::hash::platform::Sha256Kernel::ShaNi);
/// ```
/// ```compile_fail
/// let p = sharecheck::hash::Sha256Path::ShaNi;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sha256Path(Sha256Kernel);

/// The SHA-256 kernels; a [`Sha256Path`] names one the CPU was seen to support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Sha256Kernel {
    /// Plain Rust, any CPU.
    Portable,
    /// Portable for one stream; batches 8 at a time in AVX2 lanes (CPUs without SHA-NI).
    Avx2x8,
    /// x86 SHA extensions (SHA-NI); batches as four interleaved streams (merkle folds,
    /// headers, coinbases).
    ShaNi,
}

/// How scrypt's ROMix (Salsa20/8) is computed. As for [`Sha256Path`], the SIMD paths are
/// obtainable only from detection.
///
/// ```compile_fail
/// let p = sharecheck::hash::ScryptPath::Avx2x8;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScryptPath(ScryptKernel);

/// The scrypt ROMix kernels; a [`ScryptPath`] names one the CPU was seen to support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ScryptKernel {
    /// Plain Rust, any CPU, one hash at a time.
    Portable,
    /// SSE2 (every x86-64 CPU): batches hashed 4 at a time, one hash per 32-bit lane; a
    /// single hash by the SSE2 one-hash ROMix.
    Sse2x4,
    /// AVX2: batches hashed 8 at a time, one hash per 32-bit lane; a single hash by the
    /// SSE2 one-hash ROMix.
    Avx2x8,
}

impl fmt::Display for Sha256Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Sha256Kernel::Portable => "portable",
            Sha256Kernel::Avx2x8 => "avx2-8way",
            Sha256Kernel::ShaNi => "sha-ni",
        })
    }
}

impl fmt::Display for ScryptPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            ScryptKernel::Portable => "portable",
            ScryptKernel::Sse2x4 => "sse2-4way",
            ScryptKernel::Avx2x8 => "avx2-8way",
        })
    }
}

impl Sha256Path {
    /// Plain Rust: correct on every CPU.
    pub const PORTABLE: Sha256Path = Sha256Path(Sha256Kernel::Portable);

    /// The SHA-NI path, if this CPU has the SHA extensions and SSE4.1.
    pub fn sha_ni() -> Option<Sha256Path> {
        cpu_has_sha_ni().then_some(Sha256Path(Sha256Kernel::ShaNi))
    }

    /// The AVX2 8-lane batch path, if this CPU has AVX2.
    pub fn avx2_8way() -> Option<Sha256Path> {
        cpu_has_avx2().then_some(Sha256Path(Sha256Kernel::Avx2x8))
    }

    /// Every SHA-256 path this CPU can run, slowest first (the last is the best).
    pub fn supported() -> Vec<Sha256Path> {
        [Some(Sha256Path::PORTABLE), Sha256Path::avx2_8way(), Sha256Path::sha_ni()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Independent merkle branches a batch kernel of this path folds together.
    pub fn batch_width(self) -> usize {
        match self.0 {
            Sha256Kernel::Portable => 1,
            Sha256Kernel::Avx2x8 => 8,
            Sha256Kernel::ShaNi => 4,
        }
    }

    /// The kernel to dispatch on.
    #[inline(always)]
    pub(crate) fn kernel(self) -> Sha256Kernel {
        self.0
    }
}

impl ScryptPath {
    /// Plain Rust, one hash at a time: correct on every CPU.
    pub const PORTABLE: ScryptPath = ScryptPath(ScryptKernel::Portable);

    /// The SSE2 path: batches in 4 lanes, single hashes by the SSE2 one-hash ROMix (every
    /// x86-64 CPU has SSE2).
    pub fn sse2_4way() -> Option<ScryptPath> {
        cfg!(target_arch = "x86_64").then_some(ScryptPath(ScryptKernel::Sse2x4))
    }

    /// The AVX2 8-lane batch path, if this CPU has AVX2.
    pub fn avx2_8way() -> Option<ScryptPath> {
        cpu_has_avx2().then_some(ScryptPath(ScryptKernel::Avx2x8))
    }

    /// Every scrypt path this CPU can run, slowest first (the last is the best).
    pub fn supported() -> Vec<ScryptPath> {
        [Some(ScryptPath::PORTABLE), ScryptPath::sse2_4way(), ScryptPath::avx2_8way()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// The kernel to dispatch on.
    #[inline(always)]
    pub(crate) fn kernel(self) -> ScryptKernel {
        self.0
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

/// The kernels in use: one per hash family. Built only from paths, which are built only
/// from detection, so every `Platform` value runs on this CPU.
///
/// ```compile_fail
/// use sharecheck::hash::{Platform, Sha256Path};
/// let p = Platform { sha256: Sha256Path::PORTABLE, scrypt: Platform::portable().scrypt() };
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
    sha256: Sha256Path,
    scrypt: ScryptPath,
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

    /// A platform of chosen (detected) paths: how tests and benchmarks force a kernel.
    pub const fn new(sha256: Sha256Path, scrypt: ScryptPath) -> Platform {
        Platform { sha256, scrypt }
    }

    /// The SHA-256 path.
    #[inline(always)]
    pub fn sha256(&self) -> Sha256Path {
        self.sha256
    }

    /// The scrypt path.
    #[inline(always)]
    pub fn scrypt(&self) -> ScryptPath {
        self.scrypt
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
        Platform { sha256: Sha256Path::PORTABLE, scrypt: ScryptPath::PORTABLE }
    }
}
