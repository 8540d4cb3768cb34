//! IRAF's per-pixel quicksort (imcombine `ic_2sort`): values with their image ids.
//!
//! Reproduced step by step because the order it leaves *equal* values in decides which
//! of two identical inputs a later rejection flags (and the last bit of sorted sums).

use super::work::Work;

/// Sort `v` ascending, moving `id` along, exactly as IRAF's `ic_2sort` does.
pub fn sort2<T: Work>(v: &mut [T], id: &mut [u16]) {
    let npix = v.len();
    if npix <= 1 {
        return;
    }
    if npix <= 3 {
        let pivot = v[0];
        let temp = v[1];
        if npix == 2 {
            if temp < pivot {
                v[0] = temp;
                v[1] = pivot;
                id.swap(0, 1);
            }
            return;
        }
        let temp3 = v[2];
        if temp < pivot {
            if temp < temp3 {
                v[0] = temp;
                if pivot < temp3 {
                    // bac
                    v[1] = pivot;
                    id.swap(0, 1);
                } else {
                    // bca
                    v[1] = temp3;
                    v[2] = pivot;
                    let (a, b, c) = (id[0], id[1], id[2]);
                    id[0] = b;
                    id[1] = c;
                    id[2] = a;
                }
            } else {
                // cba
                v[0] = temp3;
                v[2] = pivot;
                id.swap(0, 2);
            }
        } else if temp3 < temp {
            v[2] = temp;
            if pivot < temp3 {
                // acb
                v[1] = temp3;
                id.swap(1, 2);
            } else {
                // cab
                v[0] = temp3;
                v[1] = pivot;
                let (a, b, c) = (id[0], id[1], id[2]);
                id[0] = c;
                id[1] = a;
                id[2] = b;
            }
        }
        return;
    }

    // Fast path: without equal values the sorted order is unique, so any correct sort
    // gives IRAF's result. Insertion sort on a copy; fall back to IRAF's quicksort when
    // two values compare equal (their order, i.e. which id goes first, is IRAF's).
    if npix <= 32 {
        let mut tv = [T::ZERO; 32];
        let mut ti = [0u16; 32];
        tv[..npix].copy_from_slice(v);
        ti[..npix].copy_from_slice(id);
        let mut tie = false;
        for i in 1..npix {
            let x = tv[i];
            let xi = ti[i];
            let mut j = i;
            while j > 0 && x < tv[j - 1] {
                tv[j] = tv[j - 1];
                ti[j] = ti[j - 1];
                j -= 1;
            }
            if j > 0 && !(tv[j - 1] < x) {
                tie = true;
            }
            tv[j] = x;
            ti[j] = xi;
        }
        if !tie {
            v.copy_from_slice(&tv[..npix]);
            id.copy_from_slice(&ti[..npix]);
            return;
        }
    }

    // General case: 1-based indices as in the original, explicit stack.
    let mut lv = [0usize; 64];
    let mut uv = [0usize; 64];
    lv[1] = 1;
    uv[1] = npix;
    let mut p: usize = 1;
    while p > 0 {
        if lv[p] >= uv[p] {
            p -= 1;
            continue;
        }
        let mut i = lv[p] - 1;
        let mut j = uv[p];
        let k = (lv[p] + uv[p]) / 2;
        v.swap(j - 1, k - 1);
        id.swap(j - 1, k - 1);
        let pivot = v[j - 1];
        while i < j {
            i += 1;
            while v[i - 1] < pivot {
                i += 1;
            }
            j -= 1;
            while j > i {
                if v[j - 1] <= pivot {
                    break;
                }
                j -= 1;
            }
            if i < j {
                v.swap(i - 1, j - 1);
                id.swap(i - 1, j - 1);
            }
        }
        j = uv[p];
        v.swap(i - 1, j - 1);
        id.swap(i - 1, j - 1);
        if i - lv[p] < uv[p] - i {
            lv[p + 1] = lv[p];
            uv[p + 1] = i - 1;
            lv[p] = i + 1;
        } else {
            lv[p + 1] = i + 1;
            uv[p + 1] = uv[p];
            uv[p] = i - 1;
        }
        p += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_carries_ids() {
        let mut v = vec![5.0f32, 1.0, 4.0, 1.0, 3.0, 9.0, 0.0, 2.0];
        let mut id: Vec<u16> = (0..8).collect();
        let orig = v.clone();
        sort2(&mut v, &mut id);
        for w in v.windows(2) {
            assert!(w[0] <= w[1]);
        }
        for (k, &i) in id.iter().enumerate() {
            assert_eq!(orig[i as usize], v[k]);
        }
    }

    #[test]
    fn small_cases() {
        for perm in [[1.0f32, 2.0, 3.0], [1.0, 3.0, 2.0], [2.0, 1.0, 3.0], [2.0, 3.0, 1.0],
                     [3.0, 1.0, 2.0], [3.0, 2.0, 1.0], [2.0, 2.0, 1.0], [1.0, 1.0, 1.0]] {
            let mut v = perm.to_vec();
            let mut id = vec![0u16, 1, 2];
            sort2(&mut v, &mut id);
            assert!(v[0] <= v[1] && v[1] <= v[2], "{perm:?} -> {v:?}");
            for k in 0..3 {
                assert_eq!(perm[id[k] as usize], v[k]);
            }
        }
    }

    #[test]
    fn fast_path_equals_quicksort_without_ties() {
        let mut seed = 7u64;
        for n in 4..=40usize {
            for _ in 0..50 {
                // distinct values: a random permutation of 0..n
                let mut v: Vec<f32> = (0..n).map(|k| k as f32).collect();
                for k in (1..n).rev() {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    v.swap(k, ((seed >> 33) as usize) % (k + 1));
                }
                let mut id: Vec<u16> = (0..n as u16).collect();
                let (mut v2, mut id2) = (v.clone(), id.clone());
                sort2(&mut v, &mut id);
                quicksort_only(&mut v2, &mut id2);
                assert_eq!(v, v2);
                assert_eq!(id, id2, "n={n}");
            }
        }
    }

    /// The IRAF quicksort alone (fast path disabled by a 33+ element detour).
    fn quicksort_only(v: &mut [f32], id: &mut [u16]) {
        // pad to 33 distinct elements so the fast path is skipped, then strip
        let n = v.len();
        let mut pv = v.to_vec();
        let mut pi = id.to_vec();
        while pv.len() < 33 {
            pv.push(1e6 + pv.len() as f32);
            pi.push(u16::MAX);
        }
        sort2(&mut pv, &mut pi);
        v.copy_from_slice(&pv[..n]);
        id.copy_from_slice(&pi[..n]);
    }

    #[test]
    fn ties_are_not_stable() {
        // IRAF's partition moves equal keys: with the pivot taken from the middle,
        // the two 7s end up in swapped order (what real IRAF does on such data).
        let mut v = vec![7.0f32, 1.0, 7.0, 0.0];
        let mut id = vec![0u16, 1, 2, 3];
        sort2(&mut v, &mut id);
        assert_eq!(v, vec![0.0, 1.0, 7.0, 7.0]);
        assert_eq!(id, vec![3, 1, 2, 0]);
    }
}
