//! One output element at a time: the element path (frame ids known, per-sample outputs)
//! and the column path (large N, values only), the reject chain both run, and the
//! AvSigClip pre-pass that gives every image line its sigma.

use rayon::prelude::*;

use super::scratch::{Scratch, ScratchPool};
use super::{block_len, with_threads, Ctx, Elem, Path, NETWORK_MAX_N};
use crate::network::LANES;
use crate::input::Input;
use crate::job::{Centre, Method};
use crate::propagate::{Acc, PlaneValues};
use crate::real::Real;
use crate::reduce;
use crate::reject::avsigclip;
use crate::reject::{oflag, sflag, Diag, Scratch as RejScratch, Win};
use crate::select;

/// What the reject chain leaves of one element: the sorted window `[lo, hi)`, the output
/// flags of the whole chain and the diagnostics of its last rejector.
pub(super) struct Survivors {
    pub lo: usize,
    pub hi: usize,
    pub flags: u8,
    pub diag: Diag,
}

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    /// The rejector chain on one element's sorted samples (`sorted`/`ids`: the valid
    /// samples sorted by (value, frame); `var`: the element's normalised variances by
    /// frame, for VarClip).
    #[inline]
    pub(super) fn reject_chain(&self, px: usize, sorted: &[f64], ids: Option<&[u32]>, var: Option<&[f64]>,
                               rs: &mut RejScratch) -> Survivors {
        let mut win = Win::new(sorted, ids);
        win.var = var;
        rs.restored.clear();
        let mut flags = 0;
        let mut last = Diag::default();
        for (k, prep) in self.prepared.iter().enumerate() {
            if let Some(t) = &self.line_sigma[k] {
                win.line_sigma = t[px / self.line];
            }
            last = prep.apply(&mut win, rs);
            flags |= last.flags;
        }
        Survivors { lo: win.lo, hi: win.hi, flags, diag: last }
    }

    /// AvSigClip pre-pass: the Poisson-scaled sigma of every image line from all the valid
    /// samples of its pixels.
    pub(super) fn line_sigmas(&self, upto: usize, cen: Centre, threads: usize) -> Vec<f64> {
        let n = self.n;
        let nlines = self.m / self.line;
        let planes = self.pctx.is_some();
        // Without frame ids (no per-image noise up to this rejector), the values sorted by
        // a network are the same sorted values: whole blocks of lanes at once.
        let by_network = !planes && !self.prepared[..=upto].iter().any(|p| p.needs_ids()) && n <= NETWORK_MAX_N;
        let (path, block) = if by_network { (Path::Vertical, LANES) } else { (Path::Element, block_len(n)) };
        let one = |s: &mut Scratch, l: usize| -> f64 {
            let (mut acc, mut count) = (0.0, 0usize);
            let (start, end) = (l * self.line, (l + 1) * self.line);
            let mut p0 = start;
            // `b`: the pixel's place in the block (its planes, when there are planes).
            let mut pixel = |s: &mut Scratch, px: usize, b: usize, with_ids: bool| {
                let ids = if with_ids { Some(&s.sorted_ids[..]) } else { None };
                let mut win = Win::new(&s.sorted, ids);
                win.var = planes.then(|| &s.pvar[b * n..(b + 1) * n]);
                for j in 0..upto {
                    if let Some(t) = &self.line_sigma[j] {
                        win.line_sigma = t[px / self.line];
                    }
                    self.prepared[j].apply(&mut win, &mut s.rs);
                }
                let (a, c) = avsigclip::line_terms(&win, &self.prepared[upto], cen);
                acc += a;
                count += c;
            };
            while p0 < end {
                let p1 = (p0 + block).min(end);
                if by_network {
                    self.load_sorted_block(s, false, p0, p1);
                    for b in 0..(p1 - p0) {
                        self.sorted_lane(s, b);
                        pixel(s, p0 + b, b, false);
                    }
                    p0 = p1;
                    continue;
                }
                self.gather(s, p0, p1);
                for b in 0..(p1 - p0) {
                    // Sorted by (value, frame) with ids, as on the element path, so a
                    // preceding id-aware rejector sees exactly what it sees there.
                    s.pairs.clear();
                    for i in 0..n {
                        if s.st[b * n + i] == 0 {
                            s.pairs.push((s.vals[b * n + i], i as u32));
                        }
                    }
                    s.pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    s.sorted.clear();
                    s.sorted_ids.clear();
                    s.sorted.extend(s.pairs.iter().map(|p| p.0));
                    s.sorted_ids.extend(s.pairs.iter().map(|p| p.1));
                    pixel(s, p0 + b, b, true);
                }
                p0 = p1;
            }
            avsigclip::line_sigma(acc, count)
        };
        let pool = ScratchPool::new(n, block, path, planes, threads);
        if threads == 1 || nlines <= 1 {
            let mut s = pool.lend();
            (0..nlines).map(|l| one(s.get(), l)).collect()
        } else {
            with_threads(threads, || (0..nlines).into_par_iter().map_init(|| pool.lend(), |s, l| one(s.get(), l)).collect())
        }
    }

    /// Gather samples of pixels [p0, p1) into pixel-major `vals`/`st` (and, with planes,
    /// `pvar`/`pw`/`pdq`).
    #[inline(always)]
    pub(super) fn gather(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        if let Some(pc) = &self.pctx {
            for i in 0..n {
                let f = &self.frames.data[i][p0..p1];
                let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
                for (b, &raw) in f.iter().enumerate() {
                    let (q, bad_dq) = pc.dq(i, p0 + b);
                    // A bad DQ bit stands for a mask; an unusable variance or weight for a
                    // non-finite sample (docs/design.md "Survey planes").
                    let (x, mut st) = self.sample(i, raw, mk.is_some_and(|mk| mk[b]) || bad_dq);
                    let k = b * n + i;
                    match pc.values(i, p0 + b, q) {
                        Ok(pv) => {
                            s.pvar[k] = pv.var;
                            s.pw[k] = pv.weight;
                            s.pdq[k] = pv.dq;
                        }
                        Err(flag) => st |= flag,
                    }
                    s.vals[k] = x;
                    s.st[k] = st;
                }
            }
            return;
        }
        for i in 0..n {
            let f = &self.frames.data[i][p0..p1];
            let mk = self.frames.masks.as_ref().map(|mk| &mk[i][p0..p1]);
            for (b, &raw) in f.iter().enumerate() {
                let bad = mk.is_some_and(|mk| mk[b]);
                let (x, st) = self.sample(i, raw, bad);
                s.vals[b * n + i] = x;
                s.st[b * n + i] = st;
            }
        }
    }

    /// General path: one element at a time, frame ids known.
    #[inline(always)]
    pub(super) fn element_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        let m = self.m;
        let job = self.job;
        let method = job.method;
        self.gather(s, p0, p1);
        s.rs.record_restored = self.ptrs.sflags.is_some();
        for b in 0..(p1 - p0) {
            let vals = &s.vals[b * n..(b + 1) * n];
            let st = &mut s.st[b * n..(b + 1) * n];
            s.pairs.clear();
            for i in 0..n {
                if st[i] == 0 {
                    s.pairs.push((vals[i], i as u32));
                }
            }
            let nvalid = s.pairs.len();
            s.pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            s.sorted.clear();
            s.sorted_ids.clear();
            s.sorted.extend(s.pairs.iter().map(|p| p.0));
            s.sorted_ids.extend(s.pairs.iter().map(|p| p.1));
            let var = self.pctx.is_some().then(|| &s.pvar[b * n..(b + 1) * n]);
            let Survivors { lo, hi, mut flags, diag } = self.reject_chain(p0 + b, &s.sorted, Some(&s.sorted_ids), var, &mut s.rs);
            if nvalid < n {
                flags |= oflag::PREMASKED;
            }
            for &id in s.sorted_ids[..lo].iter().chain(&s.sorted_ids[hi..]) {
                st[id as usize] = sflag::ALGORITHM;
            }
            s.fo.clear();
            s.fo_ids.clear();
            let nused = hi - lo;
            let mut from_planes = None;
            if let Some(pc) = &self.pctx {
                // The survivors in frame order through the one accumulator of every path.
                let mut acc = Acc::default();
                let want_var = job.want.variance;
                for i in 0..n {
                    if st[i] == 0 {
                        let k = b * n + i;
                        let pv = PlaneValues { var: s.pvar[k], weight: s.pw[k], dq: s.pdq[k] };
                        acc.add(vals[i], pv, pc.exptime(i), want_var);
                    }
                }
                let pr = acc.finish(method, job.weighting, job.nodata_bit);
                self.write_products(p0 + b, &pr);
                if matches!(method, Method::Mean | Method::WAvg | Method::Sum) {
                    from_planes = Some(pr.value);
                }
            }
            let v = match from_planes {
                Some(v) => v,
                None => {
                    if method.uses_frame_order() {
                        for i in 0..n {
                            if st[i] == 0 {
                                s.fo.push(vals[i]);
                                s.fo_ids.push(i as u32);
                            }
                        }
                    }
                    reduce::finish(method, &s.sorted[lo..hi], &s.fo, &s.fo_ids, job.weights.as_deref())
                }
            };
            self.write(p0 + b, &Elem { value: self.finish_value(v, nused), nused, flags, diag });
            // Samples a limited pass gave back keep their value but carry RESTORED_* bits.
            for &(a, z, bits) in &s.rs.restored {
                for &id in &s.sorted_ids[a..z] {
                    st[id as usize] |= bits;
                }
            }
        }
        let p = self.ptrs;
        let len = p1 - p0;
        if let Some(o) = p.mask {
            for i in 0..n {
                for b in 0..len {
                    unsafe { o.put(i * m + p0 + b, s.st[b * n + i] & !sflag::RESTORED != 0) };
                }
            }
        }
        if let Some(o) = p.sflags {
            for i in 0..n {
                for b in 0..len {
                    unsafe { o.put(i * m + p0 + b, s.st[b * n + i]) };
                }
            }
        }
    }

    /// Column path (large N, no per-sample outputs): each element's valid values only.
    #[inline(always)]
    pub(super) fn column_block(&self, s: &mut Scratch, p0: usize, p1: usize) {
        let n = self.n;
        let job = self.job;
        let method = job.method;
        self.gather(s, p0, p1);
        for b in 0..(p1 - p0) {
            let vals = &s.vals[b * n..(b + 1) * n];
            let st = &s.st[b * n..(b + 1) * n];
            s.sorted.clear();
            s.sorted.extend(vals.iter().zip(st).filter(|(_, &t)| t == 0).map(|(&x, _)| x));
            let c = s.sorted.len();
            let premasked = if c < n { oflag::PREMASKED } else { 0 };
            if self.prepared.is_empty() && !method.uses_frame_order() {
                // Selection, not a full sort (same expressions as on the sorted paths).
                let v = match method {
                    Method::Median => select::median(&mut s.sorted),
                    Method::LMedian => select::lmedian(&mut s.sorted),
                    Method::Min => s.sorted.iter().copied().fold(f64::NAN, |m, x| if m.is_nan() || x < m { x } else { m }),
                    Method::Max => s.sorted.iter().copied().fold(f64::NAN, |m, x| if m.is_nan() || x > m { x } else { m }),
                    _ => select::quantile(&mut s.sorted, match method { Method::Quantile { q } => q, _ => 0.5 }),
                };
                self.write(p0 + b, &Elem { value: self.finish_value(v, c), nused: c, flags: premasked, diag: Diag::default() });
                continue;
            }
            select::sort(&mut s.sorted);
            let Survivors { lo, hi, mut flags, diag } = self.reject_chain(p0 + b, &s.sorted, None, None, &mut s.rs);
            flags |= premasked;
            s.fo.clear();
            s.fo_ids.clear();
            if method.uses_frame_order() && hi > lo {
                frame_order_survivors(&s.sorted, lo, hi, n, |i| if st[i] == 0 { vals[i] } else { f64::NAN }, &mut s.fo, &mut s.fo_ids);
            }
            let nused = hi - lo;
            let v = reduce::finish(method, &s.sorted[lo..hi], &s.fo, &s.fo_ids, job.weights.as_deref());
            self.write(p0 + b, &Elem { value: self.finish_value(v, nused), nused, flags, diag });
        }
    }
}

/// Survivors of a window `[lo, hi)` of the sorted samples `a`, in frame order.
///
/// `x_of(i)` is frame i's normalised sample (NaN when invalid). Values strictly inside the
/// window edges survive; among values equal to an edge, the (value, frame) order decides:
/// at the low edge the first `dl` occurrences in frame order are rejected, at the high edge
/// only the first `kh` are kept — the same frames the element path rejects.
pub(super) fn frame_order_survivors(a: &[f64], lo: usize, hi: usize, n: usize, x_of: impl Fn(usize) -> f64, fo: &mut Vec<f64>, fo_ids: &mut Vec<u32>) {
    let (vlo, vhi) = (a[lo], a[hi - 1]);
    let dl = a[..lo].iter().rev().take_while(|&&x| x == vlo).count();
    let kh = a[lo..hi].iter().rev().take_while(|&&x| x == vhi).count();
    let (mut seen_lo, mut seen_hi) = (0usize, 0usize);
    for i in 0..n {
        let x = x_of(i);
        if !(x >= vlo && x <= vhi) {
            continue;
        }
        let keep = if x == vlo && x == vhi {
            let j = seen_lo;
            seen_lo += 1;
            j >= dl && j < dl + kh
        } else if x == vlo {
            let j = seen_lo;
            seen_lo += 1;
            j >= dl
        } else if x == vhi {
            let j = seen_hi;
            seen_hi += 1;
            j < kh
        } else {
            true
        };
        if keep {
            fo.push(x);
            fo_ids.push(i as u32);
        }
    }
}
