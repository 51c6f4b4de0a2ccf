//! The one place that asks the CPU what it can do. Every SIMD kernel of the crate (the vector
//! kernels of [`crate::kernels`], k-means' nearest-centroid search, GloVe's AdaGrad step) runs
//! its AVX2/FMA code only when [`avx2_fma`] says so (the int8 screen its AVX-512 VNNI code when
//! [`avx512_vnni`] does), and its portable code otherwise; setting
//! `EMBERS_NO_SIMD` (any value) before the first call forces the portable code everywhere.
//! `EMBERS_NO_AVX512` keeps the AVX2 code where AVX-512 would run.

use std::sync::OnceLock;

/// The instruction set the kernels use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    /// Portable Rust (also the oracle the SIMD kernels are tested against).
    Scalar,
    /// x86_64 with AVX2 and FMA (detected at run time).
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

/// The level in use, detected once.
#[inline]
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("EMBERS_NO_SIMD").is_none()
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                return Level::Avx2Fma;
            }
        }
        Level::Scalar
    })
}

/// True when AVX2 and FMA kernels may run (detected, and not forbidden by `EMBERS_NO_SIMD`).
#[inline]
pub fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        level() == Level::Avx2Fma
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when, on top of [`avx2_fma`], the CPU converts half precision (F16C).
#[inline]
pub fn f16c() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static F16C: OnceLock<bool> = OnceLock::new();
        avx2_fma() && *F16C.get_or_init(|| is_x86_feature_detected!("f16c"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when, on top of [`avx2_fma`], the CPU has AVX-512 F, BW and VNNI (the int8 screen's
/// 64-products-an-instruction kernel), unless `EMBERS_NO_AVX512` is set (to measure or test the
/// AVX2 path on such a CPU).
#[inline]
pub fn avx512_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static VNNI: OnceLock<bool> = OnceLock::new();
        avx2_fma()
            && *VNNI.get_or_init(|| {
                std::env::var_os("EMBERS_NO_AVX512").is_none()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
            })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Name of the kernel set in use (`avx2+fma` or `scalar`), for reports.
pub fn active() -> &'static str {
    match level() {
        Level::Scalar => "scalar",
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma if avx512_vnni() => "avx2+fma+avx512vnni",
        Level::Avx2Fma => "avx2+fma",
    }
}
