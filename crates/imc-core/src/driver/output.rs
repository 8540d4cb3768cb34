//! Writing results: every block owns its pixels of every output and writes them through
//! raw pointers (the output vectors are allocated once, up front, on huge pages).

use super::Ctx;
use crate::input::Input;
use crate::job::Method;
use crate::propagate::Products;
use crate::real::Real;
use crate::reject::Diag;

/// A raw pointer that blocks write through at disjoint indices.
#[derive(Clone, Copy)]
pub(super) struct Out<T>(pub(super) *mut T);
unsafe impl<T> Send for Out<T> {}
unsafe impl<T> Sync for Out<T> {}
impl<T> Out<T> {
    pub(super) fn of(v: &mut Option<Vec<T>>) -> Option<Out<T>> {
        v.as_mut().map(|v| Out(v.as_mut_ptr()))
    }
    /// Safety: `i` is in bounds and written by exactly one block.
    #[inline(always)]
    pub(super) unsafe fn put(self, i: usize, x: T) {
        *self.0.add(i) = x;
    }
    /// The block's part `[start, start + len)` as a slice (vectorisable loops).
    /// Safety: in bounds and owned by the calling block alone, used while no other
    /// reference to it exists.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn slice<'a>(self, start: usize, len: usize) -> &'a mut [T] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

pub(super) struct Ptrs<O> {
    pub(super) data: Out<O>,
    pub(super) mask: Option<Out<bool>>,
    pub(super) sflags: Option<Out<u8>>,
    pub(super) std: Option<Out<O>>,
    pub(super) low: Option<Out<O>>,
    pub(super) upp: Option<Out<O>>,
    pub(super) nit: Option<Out<u8>>,
    pub(super) oflags: Option<Out<u8>>,
    pub(super) nused: Option<Out<i32>>,
    pub(super) clip_low: Option<Out<O>>,
    pub(super) clip_upp: Option<Out<O>>,
    pub(super) variance: Option<Out<O>>,
    pub(super) weight: Option<Out<O>>,
    pub(super) exposure: Option<Out<O>>,
    pub(super) dq: Option<Out<u32>>,
}

/// Per-element results the block writers store.
pub(super) struct Elem {
    pub(super) value: f64,
    pub(super) nused: usize,
    pub(super) flags: u8,
    pub(super) diag: Diag,
}

// Safety of the raw writes below: block b owns pixels [p0, p1) of every output, and
// per-sample index i * m + p for those pixels; blocks are disjoint.

impl<T: Input, O: Real> Ctx<'_, '_, T, O> {
    #[inline(always)]
    pub(super) fn write(&self, px: usize, e: &Elem) {
        let p = self.ptrs;
        // Safety: see the note above.
        unsafe {
            p.data.put(px, O::from_f64(e.value));
            if let Some(o) = p.std {
                o.put(px, O::from_f64(e.diag.std));
            }
            if let Some(o) = p.low {
                o.put(px, O::from_f64(e.diag.low));
            }
            if let Some(o) = p.upp {
                o.put(px, O::from_f64(e.diag.upp));
            }
            if let Some(o) = p.nit {
                o.put(px, e.diag.nit);
            }
            if let Some(o) = p.oflags {
                o.put(px, e.flags);
            }
            if let Some(o) = p.nused {
                o.put(px, e.nused as i32);
            }
            if let Some(o) = p.clip_low {
                o.put(px, O::from_f64(e.diag.clip_low));
            }
            if let Some(o) = p.clip_upp {
                o.put(px, O::from_f64(e.diag.clip_upp));
            }
        }
    }

    /// The survey products of one element (those the job asked for).
    #[inline(always)]
    pub(super) fn write_products(&self, px: usize, pr: &Products) {
        let p = self.ptrs;
        // Safety: see the note above.
        unsafe {
            if let Some(o) = p.variance {
                o.put(px, O::from_f64(pr.variance));
            }
            if let Some(o) = p.weight {
                o.put(px, O::from_f64(pr.weight));
            }
            if let Some(o) = p.exposure {
                o.put(px, O::from_f64(pr.exposure));
            }
            if let Some(o) = p.dq {
                o.put(px, pr.dq);
            }
        }
    }

    /// Mean or sum of every pixel of a block from its sums and counts, when only the
    /// combined image is wanted: one vectorisable loop, no per-pixel bookkeeping.
    #[inline(always)]
    pub(super) fn write_sums(&self, p0: usize, acc: &[f64], cnt: &[u32]) {
        let sum = self.job.method == Method::Sum;
        let blank = self.job.blank;
        // Safety: see the note above the impl.
        let out = unsafe { self.ptrs.data.slice(p0, acc.len()) };
        // Same values as finish_value for an empty pixel: blank, else NaN (mean) or 0 (sum).
        let empty = blank.unwrap_or(if sum { 0.0 } else { f64::NAN });
        // Branch-free selects and a signed count conversion (SSE2 converts only signed
        // integers; counts are far below 2^31), so that the baseline build vectorises.
        if sum {
            for (o, (&a, &c)) in out.iter_mut().zip(acc.iter().zip(cnt)) {
                *o = O::from_f64(if c == 0 { empty } else { a });
            }
        } else {
            for (o, (&a, &c)) in out.iter_mut().zip(acc.iter().zip(cnt)) {
                let v = a / c as i32 as f64;
                *o = O::from_f64(if c == 0 { empty } else { v });
            }
        }
    }
}
