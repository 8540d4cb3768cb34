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

#[cfg(test)]
mod tests {
    use super::*;

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
}
