//! One image line in IRAF's working layout.
//!
//! Pixel-major slots: pixel `x` owns `v[x*N .. x*N+N]` and `id[x*N ..]`; its first `n[x]`
//! slots hold the values still in play (IRAF's `d[1..n]`), in the order IRAF's data
//! movement leaves them. Ids are 1-based image numbers (0 = no image), as IRAF keeps them.

use super::work::Work;

/// IRAF's line data flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DFlag {
    /// No value of the line was excluded (every pixel has N values).
    All,
    /// Nothing is left anywhere in the line.
    None,
    /// Anything else.
    Mix,
}

/// Working buffers of one line (reused across lines by one thread).
pub struct LineBuf<T: Work> {
    pub nimg: usize,
    pub w: usize,
    pub v: Vec<T>,
    pub id: Vec<u16>,
    pub n: Vec<usize>,
    pub avg: Vec<T>,
    pub dflag: DFlag,
    pub docombine: bool,
    /// Per-pixel scratch, 1-based (len N + 2).
    pub resid: Vec<f32>,
    pub wbuf: Vec<f32>,
    pub wbuf_t: Vec<T>,
    /// Per-pixel scratch of the line (avsigclip centres / sums).
    pub line_a: Vec<T>,
    pub line_s: Vec<T>,
    /// Slot-major scratch of the line (`sm[j*w + x]`, slot j of pixel x) for the fast gather.
    pub sm: Vec<T>,
    /// Every id slot holds a valid image number (1..=N).
    pub ids_valid: bool,
    /// Slot-major (value key << 32 | id) scratch for sorting values with their ids.
    pub keys: Vec<u64>,
    /// The line is only in `sm` (sorted, slot-major) for a `fastline` routine; the
    /// pixel-major slots `v` are stale.
    pub sm_only: bool,
    /// `sm` holds each pixel's sorted values, the same as the pixel-major slots `v`.
    pub sm_sorted: bool,
    /// Frame-ordered copy of `sm` before the lazy sort (only with `Ctx::lazy_ids`).
    pub fo: Vec<T>,
    /// masktype = novalue: pixels with no good value but `neg[x]` bad values (IRAF's
    /// negative n). The values sit in slots 1..neg[x] while `n[x]` is 0.
    pub neg: Vec<usize>,
    /// Per-frame line flags of the gather (IRAF `lflag`).
    pub lflag: Vec<DFlag>,
    /// The line's rejection mask, image-major with rows `products::REJ_PAD` apart
    /// (scratch of the masks, or the mask itself when `rows_ready`).
    pub rejline: Vec<bool>,
    /// `rejline` holds this line's rejection mask (true = not used), set by a fast line
    /// that knows which images each pixel dropped (see `products`).
    pub rows_ready: bool,
    /// `sig_line` holds this line's sigma image, set by a fast line that computed it.
    pub sig_ready: bool,
    pub sig_line: Vec<T>,
    /// Per-pixel id scratch (N).
    pub id_scratch: Vec<u16>,
    /// A lazy fast line whose masks come from value ranges (see `fastline::mclip`): the
    /// images used at pixel x are those whose frame-ordered value `fo` lies in
    /// [lo[x], hi[x]], except at the pixels listed in `exact`, whose ids are exact.
    pub ranges: bool,
    pub lo: Vec<T>,
    pub hi: Vec<T>,
    pub exact: Vec<usize>,
    /// Per-pixel exposure sums (scratch of the exposure mask).
    pub expacc: Vec<f32>,
    /// Line scratch of the integer products (nrejmask, bpmask, expmask codes).
    pub iline: Vec<i32>,
    /// `first_set`: a median-centred clip of a network-sorted line (`sm_sorted`) kept
    /// each pixel's survivors as the sorted rows `first[x] .. first[x] + n[x]` of `sm`
    /// and compacted them IRAF's way (see `combine::sigma_first_rows`).
    pub first: Vec<u32>,
    pub first_set: bool,
}

impl<T: Work> LineBuf<T> {
    pub fn new(nimg: usize, w: usize) -> Self {
        LineBuf {
            nimg,
            w,
            v: vec![T::ZERO; nimg * w],
            id: vec![0; nimg * w],
            n: vec![0; w],
            avg: vec![T::ZERO; w],
            dflag: DFlag::All,
            docombine: true,
            resid: vec![0.0; nimg + 2],
            wbuf: vec![0.0; nimg + 2],
            wbuf_t: vec![T::ZERO; nimg + 2],
            line_a: vec![T::ZERO; w],
            line_s: vec![T::ZERO; w],
            sm: Vec::new(),
            ids_valid: false,
            keys: Vec::new(),
            sm_only: false,
            sm_sorted: false,
            fo: Vec::new(),
            neg: vec![0; w],
            lflag: vec![DFlag::All; nimg],
            rejline: Vec::new(),
            rows_ready: false,
            sig_ready: false,
            sig_line: Vec::new(),
            id_scratch: Vec::new(),
            ranges: false,
            lo: Vec::new(),
            hi: Vec::new(),
            exact: Vec::new(),
            expacc: Vec::new(),
            iline: Vec::new(),
            first: Vec::new(),
            first_set: false,
        }
    }

    /// The slots of pixel `x` (all N of them).
    #[inline]
    pub fn pix(&mut self, x: usize) -> (&mut [T], &mut [u16]) {
        let s = x * self.nimg;
        let e = s + self.nimg;
        (&mut self.v[s..e], &mut self.id[s..e])
    }

    /// IRAF: a D_ALL line becomes D_MIX once any pixel lost a value.
    pub fn finish_flag(&mut self, nin: usize) {
        if self.dflag == DFlag::All && self.n.iter().any(|&k| k != nin) {
            self.dflag = DFlag::Mix;
        }
    }
}
