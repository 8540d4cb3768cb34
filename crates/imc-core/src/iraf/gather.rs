//! Reading one image line into IRAF's working layout (IRAF `ic_gdata`): masks,
//! thresholds on raw values, scaling, compaction, and the sort of the median-centred
//! clips (a network over the whole line where the ids allow it, IRAF's quicksort where
//! equal values make their order matter).

use super::ctx::{Ctx, IntPath};
use super::line::{DFlag, LineBuf};
use super::sort::sort2;
use super::work::Work;
use crate::input::Input;
use crate::network::LANES;

/// Borrowed input stack: N frames (+ optional per-frame mask codes, see
/// [`super::place`]) on an output canvas of `lines` lines of `w` pixels.
pub struct Stack<'a, P: Input> {
    pub frames: &'a [&'a [P]],
    /// Per frame: mask codes laid out as the frame (0 good, 1 bad, 2 bad with a value
    /// under novalue, 4 good with a nonzero mask value), or None (all good).
    pub masks: Option<&'a [Option<&'a [u8]>]>,
    /// Per frame: where its pixels lie on the canvas (None: every frame is the canvas).
    pub place: Option<&'a [super::place::Placement]>,
    /// Pixels per line (last spatial axis).
    pub w: usize,
    /// Lines per plane (second-to-last spatial axis; 1 for 1-D data).
    pub h: usize,
    /// The canvas's axes above the line axis (empty for 1-D and 2-D data).
    pub outer: &'a [usize],
    /// Number of lines in total (planes * h).
    pub lines: usize,
}

/// Read line `y` into the buffer (IRAF `ic_gdata`).
#[inline(always)]
pub(super) fn gather<P: Input, T: Work>(b: &mut LineBuf<T>, c: &Ctx, st: &Stack<P>, y: usize) {
    b.sm_only = false;
    b.sm_sorted = false;
    b.ranges = false;
    b.rows_ready = false;
    b.sig_ready = false;
    b.first_set = false;
    if c.novalue {
        b.neg.iter_mut().for_each(|k| *k = 0);
    }
    if st.masks.is_none() && st.place.is_none() && c.thresh.is_none() && gather_full(b, c, st, y) {
        return;
    }
    super::place::gather_general(b, c, st, y);
}

/// Fast gather for the common case without masks and thresholds: convert and scale each
/// frame's row into the slot-major scratch (contiguous, vectorised), sort there with the
/// line network when the ids are not needed, then lay the slots out pixel-major. Gives the
/// same buffer contents as [`gather_general`] would; returns false (nothing usable done)
/// when some value is not finite, so that the general path handles the line.
#[inline(always)]
fn gather_full<P: Input, T: Work>(b: &mut LineBuf<T>, c: &Ctx, st: &Stack<P>, y: usize) -> bool {
    let nimg = b.nimg;
    let w = b.w;
    let off = y * w;
    if b.sm.len() != nimg * w {
        b.sm = vec![T::ZERO; nimg * w];
    }
    // a frame-ordered copy of the line for the masks of sorted lines (Ctx::lazy_ids,
    // Ctx::pos_ids), taken row by row while each row is in cache
    let keep_fo = c.lazy_ids || c.pos_ids;
    if keep_fo && b.fo.len() != nimg * w {
        b.fo = vec![T::ZERO; nimg * w];
    }
    let mut negzero = false;
    for (i, frame) in st.frames.iter().enumerate() {
        let row = &frame[off..off + w];
        let dst = &mut b.sm[i * w..(i + 1) * w];
        let mut bad = false;
        if c.doscale && c.int_path != IntPath::Real {
            // IRAF's integer paths store the scaled value back as an integer
            let (sc, zr) = (c.scales[i], -c.zeros[i]);
            for (d, &p) in dst.iter_mut().zip(row) {
                bad |= !p.finite();
                let val = T::from_f32(c.int_path.store((p.to_f64() as f32) / sc + zr));
                negzero |= val.is_neg_zero();
                *d = val;
            }
        } else if c.doscale {
            let (sc, zr) = (T::from_f32(c.scales[i]), T::from_f32(-c.zeros[i]));
            for (d, &p) in dst.iter_mut().zip(row) {
                bad |= !p.finite();
                let val = T::from_f64(p.to_f64()) / sc + zr;
                negzero |= val.is_neg_zero();
                *d = val;
            }
        } else {
            for (d, &p) in dst.iter_mut().zip(row) {
                bad |= !p.finite();
                let val = T::from_f64(p.to_f64());
                negzero |= val.is_neg_zero();
                *d = val;
            }
        }
        if bad {
            return false;
        }
        if keep_fo {
            b.fo[i * w..(i + 1) * w].copy_from_slice(dst);
        }
    }
    b.dflag = DFlag::All;
    b.n.iter_mut().for_each(|k| *k = nimg);
    if let (Some(f), true) = (c.fast, c.fast_lazy) {
        // the ids are not needed (see fastline::choose); -0.0 next to +0.0 would make
        // the network's order of equal values matter, so such lines take the usual path
        if !(f.sorted() && negzero) {
            if f.sorted() && nimg > 1 {
                crate::network::sort_columns(&mut b.sm, w, &c.network);
            }
            // pixels handed to the per-pixel routines may look up per-image constants
            // (all equal here) by id, so every id slot must name some image
            if !b.ids_valid {
                fill_ids(b);
            }
            b.sm_only = true;
            return true;
        }
    }
    let network = c.mclip && nimg > 1 && !c.needids && !negzero;
    if network {
        crate::network::sort_columns(&mut b.sm, w, &c.network);
    }
    if c.mclip && nimg > 1 && c.needids && T::HAS_KEY32 && !c.network.is_empty() {
        sort_with_ids(b, c);
        b.sm_sorted = true;
        return true;
    }
    b.sm_sorted = network;
    // slot-major -> pixel-major, in blocks of pixels that stay in cache
    let mut x0 = 0;
    while x0 < w {
        let x1 = (x0 + LANES).min(w);
        for j in 0..nimg {
            let src = &b.sm[j * w + x0..j * w + x1];
            for (k, &q) in src.iter().enumerate() {
                b.v[(x0 + k) * nimg + j] = q;
            }
        }
        x0 = x1;
    }
    // (sorted positions as ids with Ctx::pos_ids, renewed every line: the rejection
    // moves them)
    if c.needids || c.pos_ids || !b.ids_valid {
        fill_ids(b);
    }
    if c.mclip && nimg > 1 && !network {
        for x in 0..w {
            let s = x * nimg;
            sort2(&mut b.v[s..s + nimg], &mut b.id[s..s + nimg]);
        }
    }
    true
}

/// Sort every pixel's values with their ids (float32): the network sorts (value key, id)
/// pairs, which is IRAF's quicksort order whenever the pixel has no two equal values
/// (the sorted order is then unique). Pixels with equal values are sorted again from
/// frame order by IRAF's quicksort, whose placement of equal values decides the ids.
#[inline(always)]
fn sort_with_ids<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    let nimg = b.nimg;
    let w = b.w;
    if b.keys.len() != nimg * w {
        b.keys = vec![0; nimg * w];
    }
    for j in 0..nimg {
        let src = &b.sm[j * w..(j + 1) * w];
        let tag = (j + 1) as u64;
        for (k, &v) in b.keys[j * w..(j + 1) * w].iter_mut().zip(src) {
            *k = ((v.key32() as u64) << 32) | tag;
        }
    }
    crate::network::sort_columns(&mut b.keys, w, &c.network);
    let mut tie = [false; LANES];
    let mut prev = [0u32; LANES];
    let mut x0 = 0;
    while x0 < w {
        let len = LANES.min(w - x0);
        tie.iter_mut().for_each(|t| *t = false);
        for j in 0..nimg {
            let keys = &b.keys[j * w + x0..j * w + x0 + len];
            for (k, &key) in keys.iter().enumerate() {
                let hi = (key >> 32) as u32;
                let v = T::from_key32(hi);
                // equal values: equal keys, or -0.0 (key 0x7fffffff) next to +0.0 (0x80000000)
                tie[k] |= j > 0 && (hi == prev[k] || (prev[k] == 0x7fff_ffff && hi == 0x8000_0000));
                prev[k] = hi;
                let s = (x0 + k) * nimg + j;
                b.v[s] = v;
                b.id[s] = key as u16;
            }
        }

        for k in 0..len {
            if tie[k] {
                let x = x0 + k;
                let s = x * nimg;
                for j in 0..nimg {
                    b.v[s + j] = b.sm[j * w + x];
                    b.id[s + j] = (j + 1) as u16;
                }
                sort2(&mut b.v[s..s + nimg], &mut b.id[s..s + nimg]);
            }
        }
        // the sorted values slot-major too (fastline reads them); after the tie lanes
        // above, which needed the frame-ordered values still there
        for j in 0..nimg {
            let keys = &b.keys[j * w + x0..j * w + x0 + len];
            let dst = &mut b.sm[j * w + x0..j * w + x0 + len];
            for (k, (d, &key)) in dst.iter_mut().zip(keys).enumerate() {
                *d = if tie[k] { b.v[(x0 + k) * nimg + j] } else { T::from_key32((key >> 32) as u32) };
            }
        }
        x0 += len;
    }
    b.ids_valid = true;
}

/// Ids in frame order (1..=N) in every pixel's slots.
fn fill_ids<T: Work>(b: &mut LineBuf<T>) {
    let nimg = b.nimg;
    for x in 0..b.w {
        for (j, q) in b.id[x * nimg..(x + 1) * nimg].iter_mut().enumerate() {
            *q = (j + 1) as u16;
        }
    }
    b.ids_valid = true;
}
