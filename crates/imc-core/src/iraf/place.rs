//! Frames on the output canvas (IRAF offsets), mask codes and IRAF's per-frame line
//! flags: the general gather (`ic_gdata`), and the "negative n" of masktype=novalue.
//!
//! Frame `i` covers the canvas rectangle given by its [`Placement`]; on canvas line `y`
//! it contributes the columns it covers. IRAF keeps one flag per frame and line
//! (`lflag`): no data (the frame does not reach the line, or every covered pixel is
//! masked), all (it covers the whole line and its mask line is empty) or mixed. The line
//! is `DFlag::All` only when every frame is "all" and no threshold excluded anything;
//! that flag decides, e.g., whether a weighted average is divided by the sum of weights.
//!
//! Mask codes (one byte per pixel, laid out as the frame): [`GOOD`], [`BAD`], [`BADVAL`]
//! (bad but holding a value, masktype=novalue), [`GOODSET`] (good although the mask
//! value is nonzero: IRAF then counts the mask line as not empty). Plain bool masks
//! (true = bad) are valid codes.

use super::gather::Stack;
use super::ctx::{Ctx, IntPath, Reject};
use super::line::{DFlag, LineBuf};
use super::sort::sort2;
use super::work::Work;
use crate::input::Input;

/// A good pixel (mask value 0).
pub const GOOD: u8 = 0;
/// A bad pixel (or "no value" with masktype=novalue).
pub const BAD: u8 = 1;
/// masktype=novalue: a bad pixel that still holds a usable value.
pub const BADVAL: u8 = 2;
/// A good pixel whose mask value is nonzero.
pub const GOODSET: u8 = 4;

/// Most axes above the line axis (`y`) a placed frame may have: IRAF images have at most
/// seven axes.
pub const MAX_OUTER: usize = 5;

/// Where a frame's pixels lie on the canvas: its `h` lines of `w` pixels start at canvas
/// line `oy`, column `ox` (either may be negative; parts outside the canvas are unused).
/// Images of more than two axes also give, for each axis above `y` (outermost first,
/// NumPy order, as many as the canvas has), the canvas offset and the frame's length
/// along it in `outer`; unused entries are `(0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub oy: i64,
    pub ox: i64,
    pub h: usize,
    pub w: usize,
    pub outer: [(i64, usize); MAX_OUTER],
}

impl Placement {
    /// A frame of one plane (1-D or 2-D images).
    pub fn plane(oy: i64, ox: i64, h: usize, w: usize) -> Self {
        Placement { oy, ox, h, w, outer: [(0, 1); MAX_OUTER] }
    }

    /// Pixels the frame holds (`outer` lengths times `h * w`).
    pub fn pixels(&self) -> usize {
        self.outer.iter().map(|&(_, n)| n).product::<usize>() * self.h * self.w
    }

    /// The frame's own line (0-based, C order) at canvas line `y`, or None when the frame
    /// does not reach it. `h` is the canvas's lines per plane, `outer` its axes above `y`.
    pub fn frame_line(&self, y: usize, h: usize, outer: &[usize]) -> Option<usize> {
        let fy = (y % h) as i64 - self.oy;
        if fy < 0 || fy >= self.h as i64 {
            return None;
        }
        let mut plane = y / h;
        let mut fplane = 0usize;
        let mut stride = 1usize;
        for a in (0..outer.len()).rev() {
            let c = (plane % outer[a]) as i64;
            plane /= outer[a];
            let (o, n) = self.outer[a];
            let fc = c - o;
            if fc < 0 || fc >= n as i64 {
                return None;
            }
            fplane += fc as usize * stride;
            stride *= n;
        }
        Some(fplane * self.h + fy as usize)
    }
}

/// One frame's contribution to a canvas line.
struct Row<'a, P> {
    /// The frame's whole line (and its mask codes).
    data: &'a [P],
    mask: Option<&'a [u8]>,
    /// Canvas column of `data[0]`.
    ox: i64,
    /// Covered canvas columns `x0..x1` (non-empty).
    x0: usize,
    x1: usize,
}

fn frame_row<'a, P: Input>(st: &'a Stack<'a, P>, i: usize, y: usize) -> Option<Row<'a, P>> {
    let w = st.w;
    let mask_of = |off: usize, len: usize| st.masks.and_then(|m| m[i]).map(|m| &m[off..off + len]);
    match st.place {
        None => {
            let off = y * w;
            Some(Row { data: &st.frames[i][off..off + w], mask: mask_of(off, w), ox: 0, x0: 0, x1: w })
        }
        Some(pl) => {
            let p = pl[i];
            if p.w == 0 {
                return None;
            }
            let fy = p.frame_line(y, st.h, st.outer)?;
            let x0 = p.ox.max(0);
            let x1 = (p.ox + p.w as i64).min(w as i64);
            if x1 <= x0 {
                return None;
            }
            let off = fy * p.w;
            Some(Row {
                data: &st.frames[i][off..off + p.w],
                mask: mask_of(off, p.w),
                ox: p.ox,
                x0: x0 as usize,
                x1: x1 as usize,
            })
        }
    }
}

/// A raw value transformed as IRAF's scaling step does (`v / scale - zero`; on the
/// integer paths stored back truncated).
#[inline(always)]
fn scaled<T: Work>(c: &Ctx, i: usize, raw: f64) -> T {
    if !c.doscale {
        return T::from_f64(raw);
    }
    if c.int_path != IntPath::Real {
        return T::from_f32(c.int_path.store((raw as f32) / c.scales[i] + -c.zeros[i]));
    }
    T::from_f64(raw) / T::from_f32(c.scales[i]) + T::from_f32(-c.zeros[i])
}

/// General gather: offsets, masks, thresholds, non-finite values, compaction (IRAF
/// `ic_mget` + `ic_gdata`), and with masktype=novalue the bad values of pixels that have
/// no good value (see [`novalue_after_reject`]).
pub(super) fn gather_general<P: Input, T: Work>(b: &mut LineBuf<T>, c: &Ctx, st: &Stack<P>, y: usize) {
    b.ids_valid = false;
    let nimg = b.nimg;
    let w = b.w;
    b.n.iter_mut().for_each(|k| *k = 0);

    // per-frame line flags: coverage, then the mask line
    for i in 0..nimg {
        b.lflag[i] = match frame_row(st, i, y) {
            None => DFlag::None,
            Some(r) => {
                let mut f = if r.x0 == 0 && r.x1 == w { DFlag::All } else { DFlag::Mix };
                if let Some(m) = r.mask {
                    if m.iter().any(|&q| q != GOOD) {
                        let s = (r.x0 as i64 - r.ox) as usize;
                        let e = (r.x1 as i64 - r.ox) as usize;
                        f = if m[s..e].iter().all(|&q| q == BAD) { DFlag::None } else { DFlag::Mix };
                    }
                }
                f
            }
        };
    }
    let first = b.lflag[0];
    let mut dflag = if b.lflag.iter().all(|&f| f == first) { first } else { DFlag::Mix };
    if dflag == DFlag::None {
        b.dflag = DFlag::None;
        b.id.iter_mut().for_each(|q| *q = 0);
        return;
    }

    let maxp = c.int_path.max_pixel();
    let mut excluded = false;
    for i in 0..nimg {
        if b.lflag[i] == DFlag::None {
            continue;
        }
        let r = frame_row(st, i, y).expect("covered frame");
        let code = |k: usize| r.mask.map_or(GOOD, |m| m[k]);
        if let Some((lo, hi)) = c.thresh {
            // IRAF drops a frame whose covered part has no good value left
            let mut any = false;
            for x in r.x0..r.x1 {
                let k = (x as i64 - r.ox) as usize;
                let p = r.data[k];
                if code(k) & 3 == 0 && p.finite() {
                    let a = p.to_f64() as f32;
                    if !(a < lo || a > hi) {
                        any = true;
                        break;
                    }
                }
            }
            if !any {
                excluded = true;
                b.lflag[i] = DFlag::None;
                continue;
            }
        }
        let idn = (i + 1) as u16;
        for x in r.x0..r.x1 {
            let k = (x as i64 - r.ox) as usize;
            let p = r.data[k];
            let q = code(k);
            let finite = p.finite();
            let mut good = q & 3 == 0 && finite;
            let mut hasval = c.novalue && q == BADVAL && finite;
            if good {
                if let Some((lo, hi)) = c.thresh {
                    let a = p.to_f64() as f32;
                    if a < lo || a > hi {
                        good = false;
                        hasval = c.novalue;
                    }
                }
            }
            if !good {
                excluded = true;
            }
            let s = x * nimg;
            if good {
                let j = b.n[x];
                b.v[s + j] = scaled(c, i, p.to_f64());
                b.id[s + j] = idn;
                b.n[x] = j + 1;
            } else if hasval {
                let val: T = scaled(c, i, p.to_f64());
                if val.to_f64() < maxp {
                    // kept at the back of the pixel's slots until we know n stays 0
                    let j = nimg - 1 - b.neg[x];
                    b.v[s + j] = val;
                    b.id[s + j] = idn;
                    b.neg[x] += 1;
                }
            }
        }
    }
    if dflag == DFlag::All && excluded {
        dflag = DFlag::Mix;
    }
    if dflag != DFlag::All && b.lflag.iter().all(|&f| f == DFlag::None) {
        dflag = DFlag::None;
    }
    b.dflag = dflag;
    for x in 0..w {
        let n1 = b.n[x];
        let s = x * nimg;
        if c.novalue && b.neg[x] > 0 {
            if n1 > 0 {
                b.neg[x] = 0;
            } else {
                // IRAF's negative n: the bad values, in frame order, in slots 1..k
                let k = b.neg[x];
                b.v[s + nimg - k..s + nimg].reverse();
                b.id[s + nimg - k..s + nimg].reverse();
                b.v.copy_within(s + nimg - k..s + nimg, s);
                b.id.copy_within(s + nimg - k..s + nimg, s);
                b.id[s + k..s + nimg].iter_mut().for_each(|q| *q = 0);
                continue;
            }
        }
        b.id[s + n1..s + nimg].iter_mut().for_each(|q| *q = 0);
        if c.mclip && n1 > 1 {
            sort2(&mut b.v[s..s + n1], &mut b.id[s..s + n1]);
        }
    }
}

/// Whether IRAF's rejection leaves a negative n (novalue pixels without good values) as
/// it is, so the combine uses the bad values; otherwise the routine sets n to 0.
fn keeps_negative(c: &Ctx) -> bool {
    let skipped = |minclip: usize| c.nimg < minclip.max(c.maxkeep(c.nimg) + 1);
    match c.reject {
        Reject::None | Reject::AvSigClip | Reject::PClip => true,
        Reject::MinMax => false,
        Reject::SigClip => !c.mclip || skipped(3),
        Reject::CcdClip | Reject::CrReject => !c.mclip || skipped(2),
    }
}

/// After the rejection of a line: pixels whose n IRAF leaves negative combine their bad
/// values (`n` = their count, `neg[x]` stays set for the products); for the others IRAF
/// reset n to 0 and they are blank.
pub(super) fn novalue_after_reject<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    if b.dflag == DFlag::None || !b.neg.iter().any(|&k| k > 0) {
        return;
    }
    let keep = keeps_negative(c);
    for x in 0..b.w {
        let k = b.neg[x];
        if k == 0 {
            continue;
        }
        if keep {
            b.n[x] = k;
        } else {
            b.neg[x] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Placement;

    #[test]
    fn frame_line_follows_every_axis() {
        // canvas (planes 4, lines 5, w); frame of 2 planes x 3 lines at plane 1, line 2
        let mut p = Placement::plane(2, 0, 3, 4);
        p.outer[0] = (1, 2);
        let outer = [4usize];
        let h = 5;
        let line = |z: usize, y: usize| p.frame_line(z * h + y, h, &outer);
        assert_eq!(line(0, 2), None); // plane before the frame
        assert_eq!(line(1, 1), None); // line before the frame
        assert_eq!(line(1, 2), Some(0));
        assert_eq!(line(1, 4), Some(2));
        assert_eq!(line(2, 2), Some(3));
        assert_eq!(line(2, 4), Some(5));
        assert_eq!(line(3, 3), None); // plane after the frame
        // four axes: outer (2, 3), frame (1 x 2) at (1, 1)
        let mut q = Placement::plane(0, 0, 1, 1);
        q.outer[0] = (1, 1);
        q.outer[1] = (1, 2);
        let outer = [2usize, 3];
        let at = |a: usize, b: usize| q.frame_line(a * 3 + b, 1, &outer);
        assert_eq!(at(0, 1), None);
        assert_eq!(at(1, 0), None);
        assert_eq!(at(1, 1), Some(0));
        assert_eq!(at(1, 2), Some(1));
        assert_eq!(q.pixels(), 2);
    }
}
