"""Hundreds of frames (N up to 1000) against the twin and across the kernel's paths.

At large N the kernel sorts whole blocks of pixels with networks of up to 2048 rows and
selects order statistics without rejection by bisection on integer keys
(crates/imc-core/src/driver/lane_select.rs); the per-element path (taken whenever the
per-sample mask is wanted) sorts each element by (value, frame).  Here, with ties, NaN,
infinities and masks:

* order statistics without rejection equal the twin's bit for bit (no summation is
  involved, so nothing is fragile);
* every rejector equals the twin (masks, flags and counts exactly; data within rounding
  on the non-fragile elements, as in test_twin_reject.py);
* the fused call (no per-sample output) equals the per-element path bit for bit.

Examples are few (each one runs the slow twin over up to 1000 samples per element):
the CI time of this module stays within seconds.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as h

h.require_package()

#: Around the kernel's switches: selection from 128 frames, the network's powers of two.
LARGE_N = st.sampled_from([128, 129, 255, 256, 257, 300, 513, 700, 1000])
DTYPES = ("float32", "float32", "uint16", "int16", "float64")
KINDS = ("outliers", "ties", "ccd", "constant", "normal")
#: Few examples in CI; LARGE_N_EXAMPLES=200 for a longer local run.
FEW = settings(max_examples=int(os.environ.get("LARGE_N_EXAMPLES", "8")), deadline=None)


@st.composite
def large_stacks(draw, elements: int = 3):
    n = draw(LARGE_N)
    params = draw(sts.stack_params(dtypes=DTYPES, min_n=n, max_n=n, budget=elements * n, kinds=KINDS,
                                   layouts=("c", "big")))
    return sts.make_stack(params)


def _bits(a) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@FEW
@given(case=large_stacks(), method=st.sampled_from(["median", "lmedian", "quantile"]),
       q=st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]))
def test_order_statistics_equal_the_twin_bit_for_bit(case, method, q):
    q = q if method == "quantile" else None
    got = h.run_pkg(case.data, case.mask, method=method, q=q, want=("nused",))
    tw = ref.combine(case.data, case.mask, method=method, q=q)
    want = tw.data.astype(got["data"].dtype)
    assert _bits(got["data"]) == _bits(want), (got["data"], want)
    assert np.array_equal(got["nused"], tw.nused)


@FEW
@given(case=large_stacks(), rej=sts.any_rejector(),
       method=st.sampled_from(["mean", "median", "lmedian", "sum"]))
def test_rejectors_match_the_twin(case, rej, method):
    got = h.run_pkg(case.data, case.mask, method=method, rejectors=[rej])
    tw = ref.combine(case.data, case.mask, method=method, rejectors=[rej])
    h.compare_to_twin(got, tw, method=method, err=f"N={case.n} {rej}")


@FEW
@given(case=large_stacks(elements=5), chain=sts.chains(min_size=0, max_size=2, grow=False),
       method=st.sampled_from(["mean", "median", "quantile", "variance"]))
def test_fused_path_equals_per_element_path(case, chain, method):
    q = 0.3 if method == "quantile" else None
    fused = h.run_pkg(case.data, case.mask, method=method, q=q, rejectors=chain, want=("nused",))
    element = h.run_pkg(case.data, case.mask, method=method, q=q, rejectors=chain,
                        want=("mask", "nused"))
    assert _bits(fused["data"]) == _bits(element["data"])
    assert np.array_equal(fused["nused"], element["nused"])


@FEW
@given(n=st.sampled_from([100, 257, 1000]), width=st.integers(50, 150), rows=st.integers(1, 10),
       seed=st.integers(0, 2**31), masked=st.booleans(), dtype=st.sampled_from(["float32", "uint16", "float64"]),
       rej=sts.avsigclips(), before=st.one_of(st.none(), sts.minmaxclips()),
       method=st.sampled_from(["mean", "median", "sum"]))
def test_avsigclip_whole_lines_equal_the_element_path(n, width, rows, seed, masked, dtype, rej, before, method):
    # AvSigClip without per-sample outputs sorts each pixel once and clips the blocks its
    # line-sigma pass sorted (crates/imc-core/src/driver/avsig_store.rs); lines end inside
    # blocks of 64 pixels here; from 8 rows on, each of the two workers runs whole chunks
    # of lines with a store of its own. The per-element path sorts again: same bits, and
    # the twin.
    rng = np.random.default_rng(seed)
    data = rng.normal(1000, 30, (n, rows, width))
    data[rng.random(data.shape) < 0.02] += 900  # cosmic rays
    data = np.round(data / 4) * 4  # ties
    if dtype == "uint16":
        data = data.astype(np.uint16)
    else:
        data = data.astype(dtype)
        data[rng.random(data.shape) < 0.01] = np.nan
    mask = rng.random(data.shape) < 0.03 if masked else None
    chain = [r for r in (before, rej) if r is not None]
    fused = h.run_pkg(data, mask, method=method, rejectors=chain, want=("nused", "std"), threads=2)
    element = h.run_pkg(data, mask, method=method, rejectors=chain)  # every output: the element path
    assert _bits(fused["data"]) == _bits(element["data"])
    assert _bits(fused["std"]) == _bits(element["std"])
    assert np.array_equal(fused["nused"], element["nused"])
    tw = ref.combine(data, mask, method=method, rejectors=chain)
    h.compare_to_twin(element, tw, method=method, err=f"N={n} {chain}")


def test_order_statistics_around_zero_at_every_level():
    """Selection compares keys (AVX2, AVX-512) or, at the x86-64 baseline, f32 values
    whose thresholds are derived from keys: samples that straddle zero (+-0.0, the
    smallest subnormals, NaN) put midpoints on -0.0's key and its neighbours. Every level
    gives the twin's bits."""
    from imcombiners._config import forced_simd_level, simd_config

    tiny = np.float32(1e-45)
    pool = np.array([-2.0, -tiny, -0.0, 0.0, tiny, 3 * tiny, 2.0, np.nan], np.float32)
    rng = np.random.default_rng(20)
    for n in (150, 301):
        data = rng.choice(pool, size=(n, 3, 70), p=[0.1, 0.2, 0.15, 0.15, 0.2, 0.1, 0.05, 0.05])
        for method, q in (("median", None), ("lmedian", None), ("quantile", 0.3)):
            want = ref.combine(data, None, method=method, q=q).data.astype(np.float32)
            for level in simd_config()["available"]:
                with forced_simd_level(level):
                    got = h.run_pkg(data, None, method=method, q=q, want=())["data"]
                assert _bits(got) == _bits(want), (n, method, level)
