//! The line loop: gather (`super::gather`), reject, combine, outputs; IRAF's second pass
//! for `grow`. Lines run in parallel (rayon); each line's
//! result depends only on that line (and, with grow, on the first-pass marks), never on
//! the thread count.

use rayon::prelude::*;

use super::combine::{average, median, sigma};
use super::gather::{gather, Stack};
use super::ctx::{Combine, Ctx};
use super::line::{DFlag, LineBuf};
use super::reject::reject_line;
use super::work::Work;
use crate::grow::{Ball, Grid, Span};
use crate::input::Input;
use crate::simd::{self, Isa, Kernel};

/// What the caller wants computed besides the combined image.
#[derive(Clone, Copy, Debug, Default)]
pub struct Want {
    pub sigma: bool,
    pub rejmask: bool,
    pub nrej: bool,
    pub expmask: bool,
}

/// Raw engine results (frame-major rejection mask).
pub struct EngineOut<T> {
    pub output: Vec<T>,
    pub sigma: Option<Vec<T>>,
    /// `(N, M)` frame-major, true = not used.
    pub rejmask: Option<Vec<bool>>,
    pub nrej: Option<Vec<i32>>,
    pub expmask: Option<Vec<i32>>,
}

fn do_combine<T: Work>(b: &mut LineBuf<T>, c: &Ctx, doblank: bool) {
    match c.combine {
        Combine::Average | Combine::Sum => average(b, c, doblank),
        Combine::Median | Combine::LMedian => median(b, c, doblank, c.mclip),
    }
}

/// Per-line outputs, written into line-major slices.
struct LineOut<'a, T> {
    out: &'a mut [T],
    sig: Option<&'a mut [T]>,
    /// `(N, w)` for this line, true = used.
    used: Option<&'a mut [bool]>,
    nrej: Option<&'a mut [i32]>,
    exp: Option<&'a mut [i32]>,
}

fn write_outputs<T: Work>(b: &LineBuf<T>, c: &Ctx, o: LineOut<T>) {
    let nimg = b.nimg;
    let w = b.w;
    o.out.copy_from_slice(&b.avg);
    if let Some(s) = o.sig {
        sigma(b, c, s);
    }
    if let Some(u) = o.used {
        // pixels that kept all N values use every image; the others are set from their ids
        for row in u.chunks_exact_mut(w) {
            for (q, &k) in row.iter_mut().zip(&b.n) {
                *q = k == nimg;
            }
        }
        for x in 0..w {
            if b.n[x] == nimg {
                continue;
            }
            for k in 0..nimg {
                u[k * w + x] = false;
            }
            for j in 0..b.n[x] {
                let k = b.id[x * nimg + j] as usize;
                if k > 0 {
                    u[(k - 1) * w + x] = true;
                }
            }
        }
    }
    if let Some(r) = o.nrej {
        for x in 0..w {
            r[x] = (nimg - b.n[x]) as i32;
        }
    }
    if let Some(e) = o.exp {
        for x in 0..w {
            let mut exp = 0.0f32;
            for j in 0..b.n[x] {
                let k = b.id[x * nimg + j] as usize - 1;
                if c.wts[k] > 0.0 {
                    exp += c.exps[k];
                }
            }
            e[x] = nint((exp - c.ezero) / c.escale);
        }
    }
}

/// Fortran NINT (round half away from zero).
#[inline]
fn nint(x: f32) -> i32 {
    x.round() as i32
}

/// One image line of the first pass: gather, reject (a whole-line fast path or IRAF's
/// per-pixel routines) and combine. The unit of work compiled once per SIMD level (the
/// gather and the fast paths are `#[inline(always)]` into [`simd::dispatch`]'s functions;
/// IRAF's per-pixel routines are shared, compiled at the baseline).
struct LineWork<'a, 'b, P: Input, T: Work> {
    b: &'a mut LineBuf<T>,
    c: &'a Ctx,
    st: &'a Stack<'b, P>,
    y: usize,
}

impl<P: Input, T: Work> Kernel for LineWork<'_, '_, P, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let LineWork { b, c, st, y } = self;
        gather(b, c, st, y);
        let fast_here = b.sm_only || (b.sm_sorted && matches!(c.fast, Some(f) if f.sorted()) && b.dflag == DFlag::All);
        if fast_here {
            super::fastline::run(b, c);
        } else {
            reject_line(b, c);
        }
    }
}

/// Run the whole combine, its vector loops compiled for `isa`.
pub fn run<P: Input, T: Work>(st: &Stack<P>, c: &Ctx, want: Want, isa: Isa) -> EngineOut<T> {
    let nimg = c.nimg;
    let w = st.w;
    let m = st.lines * w;
    // Large outputs on huge pages (see crate::alloc): first-touch faults otherwise cost
    // a large share of a fast combine.
    let mut output = crate::alloc::output_vec(m, T::ZERO);
    let mut sig = if want.sigma { Some(crate::alloc::output_vec(m, T::ZERO)) } else { None };
    // line-major (lines, N, w) used-mask, transposed to frame-major at the end
    let mut used = if want.rejmask { Some(crate::alloc::output_vec(m * nimg, false)) } else { None };
    let mut nrej = if want.nrej { Some(vec![0i32; m]) } else { None };
    let mut exp = if want.expmask { Some(vec![0i32; m]) } else { None };
    let grow = c.grow >= 1.0;

    // First pass. With grow we also collect the rejected (image, x) of every line.
    let mut rejected: Vec<Vec<Rejected>> = if grow { vec![Vec::new(); st.lines] } else { Vec::new() };
    // With grow: did the rejection routine itself write the output line (IRAF then
    // writes it even when the combine step is skipped)?
    let mut routine_wrote: Vec<bool> = if grow { vec![false; st.lines] } else { Vec::new() };
    {
        let out_it = output.par_chunks_mut(w);
        let sig_it = opt_chunks(&mut sig, w, st.lines);
        let used_it = opt_chunks(&mut used, w * nimg, st.lines);
        let nrej_it = opt_chunks(&mut nrej, w, st.lines);
        let exp_it = opt_chunks(&mut exp, w, st.lines);
        let rej_it = if grow {
            rejected.iter_mut().zip(routine_wrote.iter_mut()).map(Some).collect::<Vec<_>>()
        } else {
            (0..st.lines).map(|_| None).collect()
        };
        out_it
            .zip(sig_it)
            .zip(used_it)
            .zip(nrej_it)
            .zip(exp_it)
            .zip(rej_it)
            .enumerate()
            .for_each_init(
                || LineBuf::<T>::new(nimg, w),
                |b, (y, (((((out, sg), us), nr), ex), mut rj))| {
                    simd::dispatch(isa, LineWork { b, c, st, y });
                    if let Some((_, wrote)) = rj.as_mut() {
                        **wrote = !b.docombine;
                    }
                    if b.docombine {
                        do_combine(b, c, true);
                    }
                    if let Some((list, _)) = rj {
                        for x in 0..w {
                            for j in b.n[x]..nimg {
                                let k = b.id[x * nimg + j];
                                if k > 0 {
                                    list.push(Rejected { image: k, x: x as u32 });
                                }
                            }
                        }
                    }
                    write_outputs(b, c, LineOut { out, sig: sg, used: us, nrej: nr, exp: ex });
                },
            );
    }

    if grow && rejected.iter().any(|r| !r.is_empty()) {
        let marks = grow_marks(&rejected, c, st);
        let pass1 = output.clone();
        // IRAF's output line buffer at the end of the first pass: the last line it wrote.
        // Once a line has grown rejections, later first-pass lines are combined only when
        // nkeep > 0 (the rejection routine may still have written its own output).
        let mut last_written = 0usize;
        let mut pms_set = false;
        for y in 0..st.lines {
            if routine_wrote[y] || !pms_set || c.nkeep > 0 {
                last_written = y;
            }
            pms_set |= !rejected[y].is_empty();
        }
        let mut unwritten = vec![false; m];
        let out_it = output.par_chunks_mut(w);
        let sig_it = opt_chunks(&mut sig, w, st.lines);
        let used_it = opt_chunks(&mut used, w * nimg, st.lines);
        let nrej_it = opt_chunks(&mut nrej, w, st.lines);
        let exp_it = opt_chunks(&mut exp, w, st.lines);
        out_it
            .zip(sig_it)
            .zip(used_it)
            .zip(nrej_it)
            .zip(exp_it)
            .zip(unwritten.par_chunks_mut(w))
            .enumerate()
            .for_each_init(
                || LineBuf::<T>::new(nimg, w),
                |b, (y, (((((out, sg), us), nr), ex), unw))| {
                    gather(b, c, st, y);
                    // remove every marked value (the last slot fills the hole)
                    for k in 0..nimg {
                        let mrow = &marks[(k * st.lines + y) * w..(k * st.lines + y + 1) * w];
                        for x in 0..w {
                            if !mrow[x] {
                                continue;
                            }
                            let s = x * nimg;
                            let n1 = b.n[x];
                            for j in 0..n1 {
                                if b.id[s + j] as usize == k + 1 {
                                    if j + 1 < n1 {
                                        b.v[s + j] = b.v[s + n1 - 1];
                                        b.id[s + j] = b.id[s + n1 - 1];
                                    }
                                    b.n[x] = n1 - 1;
                                    b.dflag = DFlag::Mix;
                                    break;
                                }
                            }
                        }
                    }
                    let keep_pass1 = c.nkeep > 0 && b.n.iter().any(|&k| (k as i64) < c.nkeep as i64);
                    if keep_pass1 {
                        b.avg.copy_from_slice(&pass1[y * w..(y + 1) * w]);
                    } else {
                        // Pixels left without a value keep what IRAF's output buffer held
                        // (filled in sequentially below).
                        for x in 0..w {
                            unw[x] = b.dflag == DFlag::None || b.n[x] == 0;
                        }
                    }
                    do_combine(b, c, false);
                    write_outputs(b, c, LineOut { out, sig: sg, used: us, nrej: nr, exp: ex });
                },
            );
        let mut carry: Vec<T> = pass1[last_written * w..(last_written + 1) * w].to_vec();
        for y in 0..st.lines {
            let row = &mut output[y * w..(y + 1) * w];
            let unw = &unwritten[y * w..(y + 1) * w];
            for x in 0..w {
                if unw[x] {
                    row[x] = carry[x];
                } else {
                    carry[x] = row[x];
                }
            }
        }
    }

    // (lines, N, w) -> (N, lines*w), true = rejected
    let rejmask = used.map(|u| {
        let mut r = vec![false; nimg * m];
        r.par_chunks_mut(m).enumerate().for_each(|(k, plane)| {
            for y in 0..st.lines {
                let src = &u[(y * nimg + k) * w..(y * nimg + k + 1) * w];
                let dst = &mut plane[y * w..(y + 1) * w];
                for x in 0..w {
                    dst[x] = !src[x];
                }
            }
        });
        r
    });
    EngineOut { output, sigma: sig, rejmask, nrej, expmask: exp }
}

fn opt_chunks<'a, U: Send + 'a>(v: &'a mut Option<Vec<U>>, size: usize, lines: usize) -> Vec<Option<&'a mut [U]>> {
    match v {
        Some(v) => v.chunks_mut(size).map(Some).collect(),
        None => (0..lines).map(|_| None).collect(),
    }
}

/// A value the first pass rejected: its image (1-based) and pixel of the line.
#[derive(Clone, Copy, Debug)]
struct Rejected {
    image: u16,
    x: u32,
}

/// IRAF `ic_grow`'s disc: offsets (dy, dx) with dx² <= grow² - dy² in float32, within
/// the plane (the leading offset is always 0).
fn grow_disc(grow: f32) -> Ball {
    let igrow = grow as usize;
    let grow2 = grow * grow;
    let mut spans = Vec::new();
    for l in -(igrow as i64)..=igrow as i64 {
        let i2 = grow2 - (l * l) as f32;
        if let Some(half) = (0..=igrow).rev().find(|&dx| ((dx * dx) as f32) <= i2) {
            spans.push(Span { lead: vec![0, l], half: half as i64 });
        }
    }
    Ball::from_spans(spans)
}

/// IRAF `ic_grow`: mark, in the same image, every pixel within `grow` (a disc of
/// dx² + dy² <= grow², same plane) of a rejected value. Layout `(N, lines, w)`.
fn grow_marks<P: Input>(rejected: &[Vec<Rejected>], c: &Ctx, st: &Stack<P>) -> Vec<bool> {
    let m = st.lines * st.w;
    let grid = Grid::new(&[st.lines / st.h, st.h, st.w]);
    let disc = grow_disc(c.grow);
    let mut marks = vec![false; c.nimg * m];
    for (y, list) in rejected.iter().enumerate() {
        let centre = [(y / st.h) as i64, (y % st.h) as i64, 0];
        for r in list {
            let frame = &mut marks[(r.image as usize - 1) * m..r.image as usize * m];
            disc.stamp(frame, &grid, &[centre[0], centre[1], r.x as i64]);
        }
    }
    marks
}
