//! Run-time SIMD levels: the vector loops of both engines are compiled once per level and
//! the level is chosen when a combine starts, from what the CPU has.
//!
//! Levels: x86-64 `baseline` (SSE2), `avx2` (AVX2 + FMA + BMI1/2, LZCNT, POPCNT: x86-64-v3)
//! and `avx512` (AVX-512 F/BW/CD/DQ/VL on top of avx2: x86-64-v4). On aarch64 the baseline
//! is NEON (always present), the only level. The best level the CPU has is used unless
//! `IMCOMBINERS_SIMD=baseline|avx2|avx512` asks for another one; a level the CPU lacks (or
//! an unknown name) falls back to the best one with a note ([`Selection::note`]; the Python
//! bindings turn it into a `RuntimeWarning`). [`set_global`] and [`with_level`] override the
//! choice at run time (tests and benchmarks).
//!
//! How a kernel uses it: the work of one block (library engine) or one image line (IRAF
//! engine) is a [`Kernel`]; [`dispatch`] runs it inside a function compiled with the
//! level's target features. `Kernel::run` and the hot loops it calls are
//! `#[inline(always)]`, so they are compiled into that function with those features; the
//! scalar per-element code they call out of line is compiled once, at the baseline.
//!
//! Same bits at every level: the source is the same; Rust neither contracts a * b + c into
//! an FMA nor reorders floating-point reductions, so a vectorised loop computes each lane
//! exactly as the scalar loop does. Explicit intrinsics are used only for exact operations
//! (min/max of non-NaN values, loads, stores, shuffles), never `mul_add`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The environment variable that asks for a level.
pub const ENV_VAR: &str = "IMCOMBINERS_SIMD";

/// A SIMD level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// x86-64: SSE2; aarch64: NEON.
    Baseline,
    /// AVX2 + FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F/BW/CD/DQ/VL (x86-64-v4).
    Avx512,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

    /// The name used by `IMCOMBINERS_SIMD` and `show_config`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Parse a level name (case-insensitive; `neon` is the aarch64 baseline's other name).
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "baseline" | "sse2" | "neon" => Some(Level::Baseline),
            "avx2" => Some(Level::Avx2),
            "avx512" => Some(Level::Avx512),
            _ => None,
        }
    }

    /// The CPU features this level compiles for (as `is_x86_feature_detected!` names them).
    pub fn features(self) -> &'static [&'static str] {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Level::Baseline => &["sse2"],
                Level::Avx2 => &AVX2_FEATURES,
                Level::Avx512 => &AVX512_FEATURES,
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            match self {
                Level::Baseline => &["neon"],
                _ => &[],
            }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            &[]
        }
    }

    /// Features of this level that the CPU lacks (every one for a level of another
    /// architecture).
    pub fn missing(self) -> Vec<&'static str> {
        if self == Level::Baseline {
            return vec![];
        }
        if !cfg!(target_arch = "x86_64") {
            return vec![std::env::consts::ARCH];
        }
        self.features().iter().copied().filter(|f| !detected(f)).collect()
    }

    /// This level as an [`Isa`] when the CPU runs it.
    pub fn verified(self) -> Option<Isa> {
        self.missing().is_empty().then_some(Isa { level: self })
    }

    /// The highest level the CPU runs.
    pub fn best() -> Level {
        *Level::ALL.iter().rev().find(|l| l.verified().is_some()).unwrap_or(&Level::Baseline)
    }

    /// Every level the CPU runs, lowest first.
    pub fn available() -> Vec<Level> {
        Level::ALL.into_iter().filter(|l| l.verified().is_some()).collect()
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(target_arch = "x86_64")]
const AVX2_FEATURES: [&str; 6] = ["avx2", "fma", "bmi1", "bmi2", "lzcnt", "popcnt"];
#[cfg(target_arch = "x86_64")]
const AVX512_FEATURES: [&str; 11] =
    ["avx2", "fma", "bmi1", "bmi2", "lzcnt", "popcnt", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];

/// Whether the CPU (and the OS, for the wide registers) supports feature `name`.
pub fn detected(name: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match name {
            "sse2" => is_x86_feature_detected!("sse2"),
            "sse4.1" => is_x86_feature_detected!("sse4.1"),
            "sse4.2" => is_x86_feature_detected!("sse4.2"),
            "avx" => is_x86_feature_detected!("avx"),
            "avx2" => is_x86_feature_detected!("avx2"),
            "fma" => is_x86_feature_detected!("fma"),
            "bmi1" => is_x86_feature_detected!("bmi1"),
            "bmi2" => is_x86_feature_detected!("bmi2"),
            "lzcnt" => is_x86_feature_detected!("lzcnt"),
            "popcnt" => is_x86_feature_detected!("popcnt"),
            "avx512f" => is_x86_feature_detected!("avx512f"),
            "avx512bw" => is_x86_feature_detected!("avx512bw"),
            "avx512cd" => is_x86_feature_detected!("avx512cd"),
            "avx512dq" => is_x86_feature_detected!("avx512dq"),
            "avx512vl" => is_x86_feature_detected!("avx512vl"),
            _ => false,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match name {
            "neon" => std::arch::is_aarch64_feature_detected!("neon"),
            "sve" => std::arch::is_aarch64_feature_detected!("sve"),
            _ => false,
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = name;
        false
    }
}

/// The CPU features worth reporting on this architecture, with whether each is present.
pub fn cpu_features() -> Vec<(&'static str, bool)> {
    let names: &[&'static str] = if cfg!(target_arch = "x86_64") {
        &["sse2", "sse4.1", "sse4.2", "avx", "avx2", "fma", "bmi1", "bmi2", "lzcnt", "popcnt", "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
    } else if cfg!(target_arch = "aarch64") {
        &["neon", "sve"]
    } else {
        &[]
    };
    names.iter().map(|&n| (n, detected(n))).collect()
}

/// The levels this build holds kernels for (on other architectures only the baseline).
pub fn compiled() -> Vec<Level> {
    if cfg!(target_arch = "x86_64") {
        Level::ALL.to_vec()
    } else {
        vec![Level::Baseline]
    }
}

/// A level the CPU is known to run: the only way to reach [`dispatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isa {
    level: Level,
}

impl Isa {
    /// The baseline, which every CPU of the architecture runs.
    pub const BASELINE: Isa = Isa { level: Level::Baseline };

    pub fn level(self) -> Level {
        self.level
    }

    /// This level, or `cap` when that is lower. Sound: every level's features include
    /// those of the levels below it, so a CPU that runs `self` runs `cap`.
    pub fn at_most(self, cap: Level) -> Isa {
        if self.level > cap { Isa { level: cap } } else { self }
    }
}

/// How the level at start-up was chosen.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The level used.
    pub level: Level,
    /// The `IMCOMBINERS_SIMD` value, when set and not empty.
    pub requested: Option<String>,
    /// Why the request was not followed (unknown name, level the CPU lacks).
    pub note: Option<String>,
}

/// Choose the level for a request (`None`, empty or `auto`: the best the CPU runs).
pub fn select(request: Option<&str>) -> Selection {
    select_among(request, &Level::available())
}

/// [`select`] on a CPU that runs the levels `available` (the baseline always).
fn select_among(request: Option<&str>, available: &[Level]) -> Selection {
    let best = available.iter().copied().max().unwrap_or(Level::Baseline);
    let requested = request.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let Some(req) = requested.clone() else {
        return Selection { level: best, requested, note: None };
    };
    if req.eq_ignore_ascii_case("auto") {
        return Selection { level: best, requested, note: None };
    }
    let note = match Level::parse(&req) {
        None => format!("{ENV_VAR}={req:?} is not a SIMD level (use auto, baseline, avx2 or avx512); using {best}"),
        Some(level) if available.contains(&level) => return Selection { level, requested, note: None },
        Some(level) => {
            let missing = level.missing();
            let what = if !cfg!(target_arch = "x86_64") {
                format!("{level} is an x86-64 level and this CPU is {}", std::env::consts::ARCH)
            } else if missing.is_empty() {
                format!("this CPU does not run {level}")
            } else {
                format!("this CPU lacks {}", missing.join(", "))
            };
            format!("{ENV_VAR}={req} cannot be used: {what}; using {best}")
        }
    };
    Selection { level: best, requested, note: Some(note) }
}

/// The start-up selection, from `IMCOMBINERS_SIMD` (read once).
pub fn startup() -> &'static Selection {
    static SELECTION: OnceLock<Selection> = OnceLock::new();
    SELECTION.get_or_init(|| select(std::env::var(ENV_VAR).ok().as_deref()))
}

/// Process-wide override ([`set_global`]); `NONE` = use the start-up selection.
static GLOBAL: AtomicU8 = AtomicU8::new(NONE);
const NONE: u8 = u8::MAX;

thread_local! {
    /// Override of the calling thread ([`with_level`]).
    static LOCAL: Cell<Option<Level>> = const { Cell::new(None) };
}

fn level_of(code: u8) -> Option<Level> {
    Level::ALL.get(code as usize).copied()
}

/// The level a combine started now on this thread uses: the thread's override, else the
/// process-wide one, else the start-up selection.
pub fn active() -> Isa {
    let level = LOCAL.with(Cell::get).or_else(|| level_of(GLOBAL.load(Ordering::Relaxed))).unwrap_or(startup().level);
    // Overrides are verified when set; the check is cheap and keeps `dispatch` sound.
    level.verified().unwrap_or(Isa::BASELINE)
}

fn verify(level: Level) -> Result<Isa> {
    level.verified().ok_or_else(|| {
        Error::param("simd", format!("level {level} cannot run on this CPU (missing {}); available: {}", level.missing().join(", "), names(&Level::available())))
    })
}

fn names(levels: &[Level]) -> String {
    levels.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
}

/// Set the level of every later combine in the process (`None`: back to the start-up
/// selection). Errors when the CPU lacks the level.
pub fn set_global(level: Option<Level>) -> Result<()> {
    let code = match level {
        Some(l) => verify(l)?.level as u8,
        None => NONE,
    };
    GLOBAL.store(code, Ordering::Relaxed);
    Ok(())
}

/// Run `f` with combines started on this thread at `level` (they read the level when they
/// start; their worker threads follow it). Errors when the CPU lacks the level.
pub fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> Result<R> {
    verify(level)?;
    struct Restore(Option<Level>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LOCAL.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(LOCAL.with(|c| c.replace(Some(level))));
    Ok(f())
}

/// A piece of vector work compiled once per level: `run` must be `#[inline(always)]`, and
/// so must the hot loops it calls, for them to be compiled with the level's features.
pub trait Kernel {
    type Output;
    fn run(self) -> Self::Output;
}

thread_local! {
    /// The level of the [`dispatch`] running on this thread (the baseline outside one).
    static RUNNING: Cell<Level> = const { Cell::new(Level::Baseline) };
}

/// The level the code running on this thread was compiled for (inside [`dispatch`]; the
/// baseline elsewhere). For the few loops whose best form differs between levels
/// although the source is shared (`network::sort_columns`): both forms give the same bits,
/// so a wrong answer here could only cost speed.
#[inline(always)]
pub fn running() -> Level {
    RUNNING.with(Cell::get)
}

/// Run `k` compiled for `isa`.
#[inline(always)]
pub fn dispatch<K: Kernel>(isa: Isa, k: K) -> K::Output {
    struct Restore(Level);
    impl Drop for Restore {
        fn drop(&mut self) {
            RUNNING.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(RUNNING.with(|c| c.replace(isa.level)));
    match isa.level {
        // Safety: an `Isa` above the baseline exists only when the CPU runs its features.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { x86::avx512(k) },
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { x86::avx2(k) },
        _ => k.run(),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Kernel;

    #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
    pub(super) unsafe fn avx2<K: Kernel>(k: K) -> K::Output {
        k.run()
    }

    #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt,avx512f,avx512bw,avx512cd,avx512dq,avx512vl")]
    pub(super) unsafe fn avx512<K: Kernel>(k: K) -> K::Output {
        k.run()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_requests_fall_back() {
        for l in Level::ALL {
            assert_eq!(Level::parse(l.name()), Some(l));
            assert_eq!(Level::parse(&l.name().to_uppercase()), Some(l));
        }
        assert_eq!(Level::parse("sse4"), None);
        let best = Level::best();
        assert!(Level::available().contains(&Level::Baseline) && Level::available().last() == Some(&best));
        for req in [None, Some(""), Some("auto"), Some(" AUTO ")] {
            let s = select(req);
            assert_eq!((s.level, s.note.is_none()), (best, true), "{req:?}");
        }
        let bad = select(Some("avx3"));
        assert_eq!(bad.level, best);
        assert!(bad.note.unwrap().contains("not a SIMD level"));
        for l in Level::ALL {
            let s = select(Some(l.name()));
            if l.verified().is_some() {
                assert_eq!((s.level, s.note), (l, None));
            } else {
                assert_eq!(s.level, best);
                assert!(s.note.unwrap().contains("cannot be used"), "{l}");
            }
        }
        // A CPU with AVX2 but no AVX-512 (whatever this one has).
        let avx2_only = [Level::Baseline, Level::Avx2];
        let s = select_among(Some("avx512"), &avx2_only);
        assert_eq!(s.level, Level::Avx2);
        assert!(s.note.unwrap().starts_with("IMCOMBINERS_SIMD=avx512 cannot be used"));
        assert_eq!(select_among(Some("baseline"), &avx2_only).level, Level::Baseline);
        assert_eq!(select_among(None, &avx2_only).level, Level::Avx2);
        assert_eq!(select_among(Some("avx2"), &[Level::Baseline]).level, Level::Baseline);
    }

    #[test]
    fn overrides_nest_and_refuse_missing_levels() {
        for l in Level::available() {
            let got = with_level(l, || with_level(Level::Baseline, || active().level()).unwrap()).unwrap();
            assert_eq!(got, Level::Baseline);
            assert_eq!(with_level(l, || active().level()).unwrap(), l);
        }
        for l in Level::ALL.into_iter().filter(|l| l.verified().is_none()) {
            let err = with_level(l, || ()).unwrap_err().to_string();
            assert!(err.contains("cannot run on this CPU"), "{err}");
        }
    }
}
