//! Output buffers backed by transparent huge pages.
//!
//! A combine writes every output element once, into memory fresh from the kernel. With
//! 4 KiB pages, the first-touch faults of a 64 MB output cost ~30 ms on the machines we
//! measured (more than a 5-frame median itself); with 2 MiB pages ~7 ms. On Linux, large
//! outputs are therefore allocated untouched and marked `MADV_HUGEPAGE` before the kernels
//! fault them in (in parallel, from the worker threads). Elsewhere this is a plain `vec!`.
//!
//! With `defrag` set to `madvise` (a common default) a fault in such a region may compact
//! memory synchronously when no huge page is free; on a fragmented, memory-starved node
//! that can cost more than it saves. `IMCOMBINERS_HUGEPAGES=0` turns the advice off.

/// Outputs smaller than this keep ordinary pages (a huge page would be mostly unused).
const HUGE_MIN_BYTES: usize = 4 << 20;

/// `len` copies of `fill`. Zero fills stay untouched until the kernels write them (calloc
/// hands out fresh zero pages); other fills are written here, after the advice.
pub fn output_vec<X: Copy>(len: usize, fill: X) -> Vec<X> {
    let bytes = len.saturating_mul(std::mem::size_of::<X>());
    if bytes < HUGE_MIN_BYTES || !huge_pages_wanted() {
        return vec![fill; len];
    }
    if is_zero_bits(&fill) {
        // vec! of zero bits is calloc: no page is touched yet.
        let v = vec![fill; len];
        advise_huge(v.as_ptr() as *const u8, bytes);
        v
    } else {
        let mut v = Vec::with_capacity(len);
        advise_huge(v.as_ptr() as *const u8, bytes);
        v.resize(len, fill);
        v
    }
}

/// `len` slots of output memory left unwritten, for outputs whose every element the
/// kernel writes: no zeroing pass (`calloc` clears memory that `malloc` recycles, in the
/// calling thread, before any worker starts), and the pages that are fresh are faulted in
/// by the workers that write them. Turn it into the output with [`assume_init`].
pub fn output_uninit<X: Copy>(len: usize) -> Vec<std::mem::MaybeUninit<X>> {
    let mut v = Vec::with_capacity(len);
    // Safety: MaybeUninit needs no initialisation; the capacity is len.
    unsafe { v.set_len(len) };
    let bytes = len.saturating_mul(std::mem::size_of::<X>());
    if bytes >= HUGE_MIN_BYTES && huge_pages_wanted() {
        advise_huge(v.as_ptr() as *const u8, bytes);
    }
    v
}

/// The output of [`output_uninit`] once every element has been written.
///
/// # Safety
/// Every element of `v` must have been written.
pub unsafe fn assume_init<X>(v: Vec<std::mem::MaybeUninit<X>>) -> Vec<X> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // Safety: MaybeUninit<X> has X's layout; the caller says every element is initialised.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut X, v.len(), v.capacity()) }
}

/// An initialised slice seen as output slots, to be written like fresh output.
///
/// # Safety
/// The caller must only write values into the slots (never `MaybeUninit::uninit()`):
/// the slice is initialised again for the original borrow.
pub unsafe fn as_slots<X>(s: &mut [X]) -> &mut [std::mem::MaybeUninit<X>] {
    // Safety: same layout; the caller keeps every slot initialised.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut std::mem::MaybeUninit<X>, s.len()) }
}

/// [`stream_write`] into initialised memory.
#[inline]
pub fn stream_copy<X: Copy>(dst: &mut [X], src: &[X]) {
    // Safety: stream_write writes values only.
    stream_write(unsafe { as_slots(dst) }, src);
}

/// Copy `src` into `dst`, part of a large output that is written once and not read back
/// by the kernel: on x86-64 with non-temporal stores (SSE2, every level), so the output's
/// cache lines are not first read for ownership (half the memory traffic of a plain copy
/// into memory that is not cached; the N-byte rejection mask per pixel is the case) and
/// do not evict the line's working set. Fenced before returning.
#[inline]
pub fn stream_write<X: Copy>(dst: &mut [std::mem::MaybeUninit<X>], src: &[X]) {
    assert_eq!(dst.len(), src.len(), "stream_write: lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        let bytes = std::mem::size_of_val(dst);
        let d = dst.as_mut_ptr() as *mut u8;
        let s = src.as_ptr() as *const u8;
        // Safety: [d, d + bytes) and [s, s + bytes) are the two slices (distinct: one is
        // borrowed mutably); the streamed stores are 16-byte aligned; SSE2 is part of
        // x86-64.
        unsafe {
            let head = d.align_offset(16).min(bytes);
            std::ptr::copy_nonoverlapping(s, d, head);
            let n = (bytes - head) / 16;
            for i in 0..n {
                let v = _mm_loadu_si128(s.add(head + 16 * i) as *const __m128i);
                _mm_stream_si128(d.add(head + 16 * i) as *mut __m128i, v);
            }
            let t = head + 16 * n;
            std::ptr::copy_nonoverlapping(s.add(t), d.add(t), bytes - t);
            _mm_sfence();
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (d, &x) in dst.iter_mut().zip(src) {
        d.write(x);
    }
}

/// False when the environment says `IMCOMBINERS_HUGEPAGES=0` (read once).
fn huge_pages_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var("IMCOMBINERS_HUGEPAGES").map_or(true, |v| v.trim() != "0"))
}

fn is_zero_bits<X>(x: &X) -> bool {
    // Safety: reads the bytes of a Copy value.
    let b = unsafe { std::slice::from_raw_parts(x as *const X as *const u8, std::mem::size_of::<X>()) };
    b.iter().all(|&v| v == 0)
}

#[cfg(target_os = "linux")]
fn advise_huge(ptr: *const u8, bytes: usize) {
    // madvise needs a page-aligned start; the partial first page keeps its default.
    let page = 4096usize;
    let start = (ptr as usize).div_ceil(page) * page;
    let end = ptr as usize + bytes;
    if end > start {
        // Safety: [start, end) lies inside the allocation; MADV_HUGEPAGE is only advice and
        // changes no content. A failure (THP disabled) is harmless and ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_ptr: *const u8, _bytes: usize) {}

/// A global allocator for programs that return large outputs (the Python extension
/// registers it). Blocks of [`HUGE_MIN_BYTES`] or more are mapped on 2 MiB boundaries,
/// so that the huge-page advice of [`output_vec`] and [`output_uninit`] covers every
/// page of them: with the C allocator's 16-byte alignment a 16 MB output starts and ends
/// inside huge pages it shares with its neighbours, faulted in 4 KiB at a time (~500
/// faults per fresh 16 MB output instead of 8, measured on the IRAF products; a fault
/// costs 1-8 us in our VMs).
///
/// Freed large blocks are unmapped at once, never kept for reuse: the memory planner
/// measures the process's resident memory as its baseline, and kept blocks would count
/// there (a demo run's baseline grew by 19 MiB past its memory limit when up to 64 MiB
/// were kept). Zeroed blocks are fresh mappings (zero pages; nothing is written until
/// the kernels write). Smaller blocks, and every block off Linux, are the system
/// allocator's.
pub struct HugeAlignedAlloc;

unsafe impl std::alloc::GlobalAlloc for HugeAlignedAlloc {
    #[inline]
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        // Safety: big::layout keeps the size and only raises the alignment.
        unsafe { big_or(l, |sl| std::alloc::System.alloc(sl)) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        // fresh mappings are zero pages; System zeroes what it returns
        // Safety: as alloc.
        unsafe { big_or(l, |sl| std::alloc::System.alloc_zeroed(sl)) }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // Safety: p was returned by alloc / alloc_zeroed with l: either a mapping of
        // big::take (given back here) or System's with big::layout(l).
        unsafe {
            if big::is_big(l) && big::give_back(p) {
                return;
            }
            std::alloc::System.dealloc(p, big::layout(l))
        }
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // Safety: the caller guarantees a valid layout for new_size with l's alignment.
        let nl = unsafe { std::alloc::Layout::from_size_align_unchecked(new_size, l.align()) };
        if !big::is_big(l) && !big::is_big(nl) {
            // Safety: both layouts are System's own (big::layout leaves them unchanged).
            return unsafe { std::alloc::System.realloc(p, l, new_size) };
        }
        // a block that is or becomes large moves between the two kinds of memory
        // Safety: p is valid for l.size() bytes, q for new_size; distinct blocks.
        unsafe {
            let q = self.alloc(nl);
            if !q.is_null() {
                std::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                self.dealloc(p, l);
            }
            q
        }
    }
}

/// A fresh huge-page-aligned mapping for a large block, else `system` with the layout
/// [`big::layout`] gives (the one `dealloc` frees with).
#[inline(always)]
fn big_or(l: std::alloc::Layout, system: impl FnOnce(std::alloc::Layout) -> *mut u8) -> *mut u8 {
    if big::is_big(l) {
        if let Some(p) = big::take(l.size()) {
            return p;
        }
    }
    system(big::layout(l))
}

/// The large blocks of [`HugeAlignedAlloc`].
mod big {
    use std::alloc::Layout;

    /// The huge-page size the large blocks are aligned to.
    const HUGE_PAGE: usize = 2 << 20;

    #[inline]
    pub(super) fn is_big(l: Layout) -> bool {
        cfg!(target_os = "linux") && l.size() >= super::HUGE_MIN_BYTES && l.align() <= HUGE_PAGE
    }

    /// The layout asked of the system allocator when no mapping is made (large blocks
    /// aligned to a huge page still).
    #[inline]
    pub(super) fn layout(l: Layout) -> Layout {
        if is_big(l) {
            Layout::from_size_align(l.size(), HUGE_PAGE).unwrap_or(l)
        } else {
            l
        }
    }

    #[cfg(target_os = "linux")]
    pub(super) use linux::{give_back, take};

    #[cfg(not(target_os = "linux"))]
    pub(super) fn take(_size: usize) -> Option<*mut u8> {
        None
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) unsafe fn give_back(_p: *mut u8) -> bool {
        false
    }

    #[cfg(target_os = "linux")]
    mod linux {
        use super::HUGE_PAGE;
        use std::sync::atomic::{AtomicUsize, Ordering};

        /// A live mapping handed out by `take` (address 0 = free slot).
        struct Slot {
            addr: AtomicUsize,
            len: AtomicUsize,
        }

        /// Live mappings at most (further large blocks are the system allocator's).
        const SLOTS: usize = 64;
        static LIVE: [Slot; SLOTS] = [const { Slot { addr: AtomicUsize::new(0), len: AtomicUsize::new(0) } }; SLOTS];

        fn page() -> usize {
            // Safety: sysconf has no preconditions.
            (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(4096) as usize
        }

        /// A fresh block of at least `size` bytes (zero pages) on a huge-page boundary.
        /// None when no mapping can be made or recorded.
        pub(in super::super) fn take(size: usize) -> Option<*mut u8> {
            let len = size.checked_next_multiple_of(page())?;
            let (addr, cap) = (map_fresh(len)?, len);
            for slot in &LIVE {
                if slot.addr.compare_exchange(0, addr, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    slot.len.store(cap, Ordering::Release);
                    return Some(addr as *mut u8);
                }
            }
            // Safety: the mapping is ours and handed to no one.
            unsafe { libc::munmap(addr as *mut libc::c_void, cap) };
            None
        }

        /// `len` (a multiple of the page size) bytes of fresh zero pages starting on a
        /// huge-page boundary.
        fn map_fresh(len: usize) -> Option<usize> {
            let span = len.checked_add(HUGE_PAGE)?;
            // Safety: an anonymous private mapping at an address the kernel chooses; the
            // parts trimmed off lie inside it and are not used.
            unsafe {
                let base = libc::mmap(
                    std::ptr::null_mut(),
                    span,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if base == libc::MAP_FAILED {
                    return None;
                }
                let base = base as usize;
                let start = base.next_multiple_of(HUGE_PAGE);
                if start > base {
                    libc::munmap(base as *mut libc::c_void, start - base);
                }
                let tail = base + span - (start + len);
                if tail > 0 {
                    libc::munmap((start + len) as *mut libc::c_void, tail);
                }
                Some(start)
            }
        }

        /// Unmap `p` if `take` handed it out (false otherwise).
        ///
        /// # Safety
        /// `p` must be a live block of the allocator, freed here for the last time.
        pub(in super::super) unsafe fn give_back(p: *mut u8) -> bool {
            let Some(slot) = LIVE.iter().find(|s| s.addr.load(Ordering::Acquire) == p as usize) else {
                return false;
            };
            let cap = slot.len.load(Ordering::Acquire);
            slot.addr.store(0, Ordering::Release);
            // Safety: a mapping of map_fresh no longer handed out.
            unsafe { libc::munmap(p as *mut libc::c_void, cap) };
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_copy_copies_every_alignment_and_length() {
        let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for off in 0..17 {
            for len in [0, 1, 15, 16, 17, 31, 33, 64, 100, 255] {
                let mut dst = vec![0xAAu8; 300];
                stream_copy(&mut dst[off..off + len], &src[5..5 + len]);
                assert_eq!(&dst[off..off + len], &src[5..5 + len]);
                assert!(dst[..off].iter().chain(&dst[off + len..]).all(|&v| v == 0xAA));
            }
        }
        let wide: Vec<i32> = (0..77).map(|i| i * 1000 - 7).collect();
        let mut out = vec![0i32; 78];
        stream_copy(&mut out[1..], &wide);
        assert_eq!(&out[1..], &wide[..]);
    }

    #[test]
    fn contents_match_vec_macro() {
        for len in [0, 10, (8 << 20) / 4 + 3] {
            assert_eq!(output_vec(len, 0.0f32), vec![0.0f32; len]);
            assert!(output_vec(len, f64::NAN).iter().all(|x| x.is_nan()));
            assert_eq!(output_vec(len, 0u8).len(), len);
            assert_eq!(output_vec(len, false), vec![false; len]);
            assert_eq!(output_vec(len, 7i32), vec![7i32; len]);
        }
    }

    #[test]
    fn huge_aligned_alloc_aligns_large_blocks_and_keeps_contents_on_realloc() {
        use std::alloc::{GlobalAlloc, Layout};
        let a = HugeAlignedAlloc;
        let big = Layout::array::<f32>((16 << 20) / 4 + 3).unwrap();
        let small = Layout::array::<f32>(1000).unwrap();
        // Safety: each block is used within its layout and freed once with it.
        unsafe {
            for zeroed in [false, true] {
                let p = if zeroed { a.alloc_zeroed(big) } else { a.alloc(big) };
                assert!(!p.is_null());
                if cfg!(target_os = "linux") {
                    assert_eq!(p as usize % (2 << 20), 0);
                }
                let v = std::slice::from_raw_parts_mut(p as *mut f32, big.size() / 4);
                if zeroed {
                    assert!(v.iter().all(|&x| x == 0.0));
                }
                for (i, x) in v.iter_mut().enumerate() {
                    *x = i as f32;
                }
                // shrink below the threshold, grow back: the contents move with the block
                let q = a.realloc(p, big, small.size());
                let w = std::slice::from_raw_parts(q as *const f32, 1000);
                assert!(w.iter().enumerate().all(|(i, &x)| x == i as f32));
                let r = a.realloc(q, small, big.size());
                let w = std::slice::from_raw_parts(r as *const f32, 1000);
                assert!(w.iter().enumerate().all(|(i, &x)| x == i as f32));
                a.dealloc(r, big);
            }
            // every large block is fresh: zero although the freed blocks were written
            for _ in 0..2 {
                let q = a.alloc_zeroed(big);
                assert!(std::slice::from_raw_parts(q, big.size()).iter().all(|&x| x == 0));
                a.dealloc(q, big);
            }
            let p = a.alloc(small);
            assert!(!p.is_null());
            a.dealloc(p, small);
        }
    }
}
