//! The tile driver: blocks of output elements -> gather -> reject chain -> combine -> outputs.
//!
//! A block is a run of consecutive pixels. Its samples are gathered frame by frame
//! (contiguous reads from every frame) into a pixel-major scratch buffer, so each output
//! element then works on its N samples in cache. Blocks run in parallel with rayon; the
//! result of an element depends only on its own samples, never on the block size or the
//! number of threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::frames::Frames;
use crate::job::{Job, Method};
use crate::real::{Input, Real};
use crate::reduce;
use crate::reject::{oflag, sflag, Diag, Prepared, Work};

/// Everything one run produces; optional outputs are `Some` when the job asked for them.
pub struct Outputs<O> {
    pub data: Vec<O>,
    /// (N * M) frame-major: every excluded sample.
    pub mask: Option<Vec<bool>>,
    pub sample_flags: Option<Vec<u8>>,
    pub std: Option<Vec<O>>,
    pub low: Option<Vec<O>>,
    pub upp: Option<Vec<O>>,
    pub nit: Option<Vec<u8>>,
    pub output_flags: Option<Vec<u8>>,
    pub nused: Option<Vec<i32>>,
}

/// A raw pointer that blocks write through at disjoint indices.
#[derive(Clone, Copy)]
struct Out<T>(*mut T);
unsafe impl<T> Send for Out<T> {}
unsafe impl<T> Sync for Out<T> {}
impl<T> Out<T> {
    fn of(v: &mut Option<Vec<T>>) -> Option<Out<T>> {
        v.as_mut().map(|v| Out(v.as_mut_ptr()))
    }
    /// Safety: `i` is in bounds and written by exactly one block.
    #[inline(always)]
    unsafe fn put(self, i: usize, x: T) {
        *self.0.add(i) = x;
    }
}

struct Ptrs<O> {
    data: Out<O>,
    mask: Option<Out<bool>>,
    sflags: Option<Out<u8>>,
    std: Option<Out<O>>,
    low: Option<Out<O>>,
    upp: Option<Out<O>>,
    nit: Option<Out<u8>>,
    oflags: Option<Out<u8>>,
    nused: Option<Out<i32>>,
}

/// Per-thread scratch.
struct Scratch {
    vals: Vec<f64>,
    st: Vec<u8>,
    work: Work,
    sorted: Vec<f64>,
    acc: Vec<f64>,
    cnt: Vec<u32>,
}

impl Scratch {
    fn new(n: usize, block: usize) -> Self {
        Scratch {
            vals: vec![0.0; n * block],
            st: vec![0; n * block],
            work: Work::with_capacity(n),
            sorted: Vec::with_capacity(n),
            acc: vec![0.0; block],
            cnt: vec![0; block],
        }
    }
}

/// Pixels per block: keep the gathered samples near 64 KiB.
fn block_len(n: usize) -> usize {
    (8192 / n.max(1)).clamp(16, 2048)
}

/// Run `f` on a rayon pool with `threads` threads (0 = the global pool).
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads == 0 {
        return f();
    }
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pool = {
        let mut pools = POOLS.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(threads)
            .or_insert_with(|| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(|i| format!("imc-{i}"))
                        .build()
                        .expect("rayon pool"),
                )
            })
            .clone()
    };
    pool.install(f)
}

/// Combine `frames` as `job` says. `threads`: 0 = all cores (rayon's global pool),
/// 1 = run on the calling thread (what a Dask task wants), k = a pool of k threads.
pub fn run<T: Input, O: Real>(frames: &Frames<'_, T>, job: &Job, threads: usize) -> Result<Outputs<O>> {
    let n = frames.n();
    let m = frames.len;
    job.validate(n)?;
    if n > u32::MAX as usize {
        return Err(Error::param("frames", "too many frames"));
    }
    let prepared: Vec<Prepared> =
        job.rejectors.iter().map(|r| Prepared::new(r, n, job.zero.as_deref(), job.scale.as_deref())).collect();
    let w = job.want;
    let per_sample = n.checked_mul(m).ok_or_else(|| Error::Shape("stack too large".into()))?;
    let mut out = Outputs {
        data: vec![O::default(); m],
        mask: w.mask.then(|| vec![false; per_sample]),
        sample_flags: w.sample_flags.then(|| vec![0u8; per_sample]),
        std: w.std.then(|| vec![O::NAN; m]),
        low: w.low.then(|| vec![O::NAN; m]),
        upp: w.upp.then(|| vec![O::NAN; m]),
        nit: w.nit.then(|| vec![0u8; m]),
        output_flags: w.output_flags.then(|| vec![0u8; m]),
        nused: w.nused.then(|| vec![0i32; m]),
    };
    let ptrs = Ptrs {
        data: Out(out.data.as_mut_ptr()),
        mask: Out::of(&mut out.mask),
        sflags: Out::of(&mut out.sample_flags),
        std: Out::of(&mut out.std),
        low: Out::of(&mut out.low),
        upp: Out::of(&mut out.upp),
        nit: Out::of(&mut out.nit),
        oflags: Out::of(&mut out.output_flags),
        nused: Out::of(&mut out.nused),
    };
    let block = block_len(n);
    let nblocks = m.div_ceil(block);
    let streaming = job.rejectors.is_empty()
        && !w.mask
        && !w.sample_flags
        && matches!(job.method, Method::Mean | Method::Sum | Method::WAvg | Method::Min | Method::Max);
    let ctx = Ctx { frames, job, prepared: &prepared, ptrs: &ptrs, n, m };
    let body = |s: &mut Scratch, b: usize| {
        let p0 = b * block;
        let p1 = (p0 + block).min(m);
        if streaming {
            ctx.stream_block(s, p0, p1)
        } else {
            ctx.element_block(s, p0, p1)
        }
    };
    if threads == 1 || nblocks <= 1 {
        let mut s = Scratch::new(n, block);
        for b in 0..nblocks {
            body(&mut s, b);
        }
    } else {
        with_threads(threads, || {
            (0..nblocks).into_par_iter().for_each_init(|| Scratch::new(n, block), |s, b| body(s, b));
        });
    }
    Ok(out)
}

struct Ctx<'a, 'f, T, O> {
    frames: &'a Frames<'f, T>,
    job: &'a Job,
    prepared: &'a [Prepared],
    ptrs: &'a Ptrs<O>,
    n: usize,
    m: usize,
}

// Safety of the raw writes below: block b owns pixels [p0, p1) of every output, and
// per-sample index i * m + p for those pixels; blocks are disjoint.

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// Read one raw sample, classify it, and normalise it.
    #[inline(always)]
    fn sample(&self, i: usize, raw: T, masked: bool) -> (f64, u8) {
        if masked {
            return (f64::NAN, sflag::INPUT_MASK);
        }
        let v = raw.to_f64();
        if T::IS_FLOAT && !v.is_finite() {
            return (v, sflag::NONFINITE);
        }
        if let Some((lo, hi)) = self.job.thresholds {
            if v < lo || v > hi {
                return (v, sflag::THRESHOLD);
            }
        }
        let mut x = v;
        if let Some(z) = &self.job.zero {
            x -= z[i];
        }
        if let Some(s) = &self.job.scale {
            x /= s[i];
        }
        if !x.is_finite() {
            return (x, sflag::NONFINITE);
        }
        (x, 0)
    }

    /// Gather samples of pixels [p0, p1) into pixel-major `vals`/`st`.
    fn gather(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        for i in 0..n {
            let f = &self.frames.data[i][p0..p1];
            match &self.frames.masks {
                Some(mk) => {
                    let mk = &mk[i][p0..p1];
                    for (b, (&raw, &bad)) in f.iter().zip(mk).enumerate() {
                        let (x, st) = self.sample(i, raw, bad);
                        s.vals[b * n + i] = x;
                        s.st[b * n + i] = st;
                    }
                }
                None => {
                    for (b, &raw) in f.iter().enumerate() {
                        let (x, st) = self.sample(i, raw, false);
                        s.vals[b * n + i] = x;
                        s.st[b * n + i] = st;
                    }
                }
            }
        }
    }

    /// General path: every element runs the rejector chain on its own samples.
    fn element_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        let m = self.m;
        let job = self.job;
        self.gather(s, p0, p1);
        let p = self.ptrs;
        for b in 0..(p1 - p0) {
            let px = p0 + b;
            let vals = &s.vals[b * n..(b + 1) * n];
            let st = &mut s.st[b * n..(b + 1) * n];
            let w = &mut s.work;
            w.clear();
            for i in 0..n {
                if st[i] == 0 {
                    w.xs.push(vals[i]);
                    w.ids.push(i as u32);
                }
            }
            let mut flags = if w.n() < n { oflag::PREMASKED } else { 0 };
            let mut last = Diag::default();
            for prep in self.prepared {
                last = prep.apply(w);
                flags |= last.flags;
            }
            for &id in &w.rejected {
                st[id as usize] = sflag::ALGORITHM;
            }
            let nused = w.n();
            let mut value = reduce::combine(job.method, &w.xs, &w.ids, job.weights.as_deref(), &mut s.sorted);
            if nused == 0 {
                if let Some(blank) = job.blank {
                    value = blank;
                }
            }
            // Safety: see the note on Ctx.
            unsafe {
                p.data.put(px, O::from_f64(value));
                if let Some(o) = p.std {
                    o.put(px, O::from_f64(last.std));
                }
                if let Some(o) = p.low {
                    o.put(px, O::from_f64(last.low));
                }
                if let Some(o) = p.upp {
                    o.put(px, O::from_f64(last.upp));
                }
                if let Some(o) = p.nit {
                    o.put(px, last.nit);
                }
                if let Some(o) = p.oflags {
                    o.put(px, flags);
                }
                if let Some(o) = p.nused {
                    o.put(px, nused as i32);
                }
            }
        }
        if let Some(o) = p.mask {
            for i in 0..n {
                for b in 0..(p1 - p0) {
                    unsafe { o.put(i * m + p0 + b, s.st[b * n + i] != 0) };
                }
            }
        }
        if let Some(o) = p.sflags {
            for i in 0..n {
                for b in 0..(p1 - p0) {
                    unsafe { o.put(i * m + p0 + b, s.st[b * n + i]) };
                }
            }
        }
    }

    /// Reductions that need no per-element buffer (no rejection): accumulate frame by frame.
    /// Same f64 operations in the same (frame) order as the general path, so same bits.
    fn stream_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let len = p1 - p0;
        let job = self.job;
        let method = job.method;
        let init = match method {
            Method::Min => f64::INFINITY,
            Method::Max => f64::NEG_INFINITY,
            _ => 0.0,
        };
        let acc = &mut s.acc[..len];
        let cnt = &mut s.cnt[..len];
        acc.fill(init);
        cnt.fill(0);
        let mut wsum = vec![0.0; if method == Method::WAvg { len } else { 0 }];
        for i in 0..self.n {
            let f = &self.frames.data[i][p0..p1];
            let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
            let wi = job.weights.as_ref().map(|w| w[i]).unwrap_or(1.0);
            for b in 0..len {
                let bad = mk.map(|mk| mk[b]).unwrap_or(false);
                let (x, st) = self.sample(i, f[b], bad);
                if st != 0 {
                    continue;
                }
                cnt[b] += 1;
                match method {
                    Method::Mean | Method::Sum => acc[b] += x,
                    Method::WAvg => {
                        acc[b] += wi * x;
                        wsum[b] += wi;
                    }
                    Method::Min => acc[b] = acc[b].min(x),
                    Method::Max => acc[b] = acc[b].max(x),
                    _ => {}
                }
            }
        }
        let p = self.ptrs;
        for b in 0..len {
            let c = cnt[b];
            let mut value = match method {
                Method::Mean => acc[b] / c as f64,
                Method::WAvg => {
                    if wsum[b] == 0.0 { f64::NAN } else { acc[b] / wsum[b] }
                }
                Method::Sum => acc[b],
                _ => {
                    if c == 0 { f64::NAN } else { acc[b] }
                }
            };
            if c == 0 {
                value = job.blank.unwrap_or(if method == Method::Sum { 0.0 } else { f64::NAN });
            }
            let px = p0 + b;
            unsafe {
                p.data.put(px, O::from_f64(value));
                if let Some(o) = p.nused {
                    o.put(px, c as i32);
                }
                if let Some(o) = p.oflags {
                    o.put(px, if (c as usize) < self.n { oflag::PREMASKED } else { 0 });
                }
                if let Some(o) = p.nit {
                    o.put(px, 0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Centre, Limits, Rejector, Spread, Want};

    fn stack(n: usize, m: usize) -> Vec<Vec<f32>> {
        // Deterministic pseudo-random values with a few outliers.
        let mut s = 12345u64;
        (0..n)
            .map(|_| {
                (0..m)
                    .map(|_| {
                        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let u = (s >> 33) as f32 / (1u64 << 31) as f32;
                        if u > 0.995 { 1e4 } else { 1000.0 + 10.0 * u }
                    })
                    .collect()
            })
            .collect()
    }

    fn sig() -> Rejector {
        Rejector::SigClip {
            sigma_lo: 3.0,
            sigma_hi: 3.0,
            maxiters: 5,
            cen: Centre::Median,
            spread: Spread::Std,
            ddof: 0,
            limits: Limits { nkeep: 1, maxrej: None, revert: true },
        }
    }

    #[test]
    fn thread_count_does_not_change_bits() {
        let data = stack(15, 5000);
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        let mut job = Job::simple(Method::Mean);
        job.rejectors.push(sig());
        job.want = Want { mask: true, std: true, ..Want::default() };
        let a: Outputs<f32> = run(&fr, &job, 1).unwrap();
        let b: Outputs<f32> = run(&fr, &job, 2).unwrap();
        let c: Outputs<f32> = run(&fr, &job, 0).unwrap();
        assert_eq!(a.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(a.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), c.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(a.mask, b.mask);
    }

    #[test]
    fn streaming_equals_general_path() {
        let data = stack(7, 3000);
        let fr = Frames::new(data.iter().map(|v| v.as_slice()).collect(), None).unwrap();
        for method in [Method::Mean, Method::Sum, Method::Min, Method::Max] {
            let job = Job::simple(method);
            let fast: Outputs<f64> = run(&fr, &job, 1).unwrap();
            let mut slow_job = Job::simple(method);
            slow_job.want.mask = true; // forces the per-element path
            let slow: Outputs<f64> = run(&fr, &slow_job, 1).unwrap();
            assert_eq!(fast.data, slow.data, "{method:?}");
        }
    }

    #[test]
    fn masks_thresholds_and_blank() {
        let f0 = [1.0f64, f64::NAN, 5.0];
        let f1 = [3.0f64, f64::NAN, 100.0];
        let m0 = [false, false, true];
        let m1 = [false, false, false];
        let fr = Frames::new(vec![&f0[..], &f1[..]], Some(vec![&m0[..], &m1[..]])).unwrap();
        let mut job = Job::simple(Method::Mean);
        job.thresholds = Some((0.0, 50.0));
        job.blank = Some(-1.0);
        job.want = Want { sample_flags: true, nused: true, ..Want::default() };
        let o: Outputs<f64> = run(&fr, &job, 1).unwrap();
        assert_eq!(o.data, vec![2.0, -1.0, -1.0]);
        assert_eq!(o.nused.unwrap(), vec![2, 0, 0]);
        assert_eq!(o.sample_flags.unwrap(), vec![0, 2, 1, 0, 2, 4]);
    }

    #[test]
    fn zero_scale_on_gather() {
        let f0 = [10.0f32, 20.0];
        let f1 = [21.0f32, 41.0];
        let fr = Frames::new(vec![&f0[..], &f1[..]], None).unwrap();
        let mut job = Job::simple(Method::Mean);
        job.zero = Some(vec![0.0, 1.0]);
        job.scale = Some(vec![1.0, 2.0]);
        let o: Outputs<f32> = run(&fr, &job, 1).unwrap();
        assert_eq!(o.data, vec![10.0, 20.0]);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let f0 = [1.0f32];
        let fr = Frames::new(vec![&f0[..]], None).unwrap();
        let mut job = Job::simple(Method::Mean);
        job.zero = Some(vec![0.0, 1.0]);
        assert!(run::<f32, f32>(&fr, &job, 1).is_err());
        let mut job = Job::simple(Method::WAvg);
        assert!(run::<f32, f32>(&fr, &job, 1).is_err());
        job.weights = Some(vec![f64::NAN]);
        assert!(run::<f32, f32>(&fr, &job, 1).is_err());
    }
}
