"""Identity rules of design.md: every path, layout and thread count gives the same bits.

* fused path (``diagnostics=None``) == mask path (``diagnostics="simple"`` data) ==
  chained Combiner, bit for bit; and the mask path's own mask, fed back as an input mask
  without rejectors, reproduces its data;
* ``imcombiners._core.run`` with threads=1, 2 and the default pool give identical bits;
* the input is never modified; a list of frames == the stacked array; big-endian ==
  native; non-contiguous == contiguous.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import reference as ref
from tests.helpers import strategies as sts
from tests.helpers import twin as h

h.require_package()

METHODS = st.sampled_from(["mean", "median", "lmedian", "sum", "min", "max", "variance"])


def same_bits(a, b, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    if a.tobytes() != b.tobytes():
        with np.errstate(invalid="ignore"):
            diff = a != b  # NaN positions show up here too
        raise AssertionError(f"{what}: bits differ at {np.argwhere(diff)[:5].tolist()}: "
                             f"{a[diff][:5]} vs {b[diff][:5]}")


def _digest(*arrays) -> str:
    hs = hashlib.sha256()
    for a in arrays:
        if a is None:
            continue
        a = np.asarray(a)
        hs.update(str((a.dtype.str, a.shape, a.strides)).encode())
        hs.update(np.ascontiguousarray(a).tobytes())
    return hs.hexdigest()


@h.more_examples(3)
@given(case=sts.stacks(budget=2000), chain=sts.chains(min_size=0, max_size=2), method=METHODS,
       data=st.data())
def test_fused_mask_and_chained_paths_agree(case, chain, method, data):
    thresholds = data.draw(sts.thresholds_for(case), label="thresholds")
    zero, scale = data.draw(sts.normalisations(case.n), label="zero, scale")
    kw = dict(method=method, thresholds=thresholds, zero=zero, scale=scale, rejectors=chain)
    fused = h.combiner_combine(case.data, case.mask, **kw)
    simple = h.combiner_combine(case.data, case.mask, diagnostics="simple", **kw)
    full = h.combiner_combine(case.data, case.mask, diagnostics="full", **kw)
    same_bits(fused, simple.data, "fused vs simple")
    same_bits(fused, full.data, "fused vs full")
    same_bits(simple.mask, full.mask, "simple vs full mask")

    Combiner = h.combiner_class()
    c = Combiner(case.data, case.mask)
    if thresholds is not None:
        c = c.threshold(*thresholds)
    if zero is not None or scale is not None:
        c = c.zero_scale(zero=zero, scale=scale, relative=False)
    for r in chain:
        c = c.reject(h.pkg_rejector(r))
    chained = c.combine(method)
    same_bits(fused, chained, "fused vs chained")
    chained_full = c.combine(method, diagnostics="simple")
    same_bits(simple.mask, chained_full.mask, "one-call vs chained mask")

    # the mask path's mask alone reproduces its data (design: sequential frame-order sums)
    replay = h.combiner_combine(case.data, simple.mask, method=method, zero=zero, scale=scale)
    if fused.dtype.kind in "iu":  # integer kept only without a mask (documented dtype rule)
        fused = fused.astype(replay.dtype)
    same_bits(fused, replay, "mask replay")


@given(case=sts.stacks(budget=2000), rej=sts.any_rejector(), method=METHODS)
def test_public_paths_match_twin(case, rej, method):
    """Combiner(...).combine(diagnostics="full") is the same as the twin (not only run_job)."""
    res = h.combiner_combine(case.data, case.mask, method=method, rejectors=[rej], diagnostics="full")
    tw = ref.combine(case.data, case.mask, method=method, rejectors=[rej])
    got = {"data": res.data, "mask": res.mask, "nused": res.nused, "output_flags": res.output_flags,
           "sample_flags": res.sample_flags}
    h.compare_to_twin(got, tw, method=method, err=f"{rej}")


def _kernel_call(stack, mask, rejectors, method="mean", thresholds=None, q=None, zero=None,
                 scale=None):
    from imcombiners._job import Job

    job = Job(method, rejectors=tuple(h.pkg_rejector(r) for r in rejectors), thresholds=thresholds,
              q=q, zero=zero, scale=scale, want=h.ALL_WANT)
    d = job.kernel_dict(rejectors=job.rejectors, thresholds=thresholds, want=job.want,
                        line=stack.shape[-1], final=True)
    frames = [stack[i].reshape(-1) for i in range(stack.shape[0])]
    masks = None if mask is None else [mask[i].reshape(-1) for i in range(stack.shape[0])]
    return frames, masks, d


@pytest.mark.parametrize("n,shape", [(5, (120, 100)), (40, (50, 60)), (3, (7001,))])
@pytest.mark.parametrize("rej", [
    None,
    ref.SigClip(sigma=2.0, cenfunc="mean", nkeep=2, revert_on_nkeep=False),
    ref.CcdClip(sigma=2.5, rdnoise=5, gain=1.5, snoise=0.01),
    ref.PClip(),
    ref.MinMaxClip(1, 1),
    ref.LinearClip(low_scale=0.9, upp_scale=1.1, maxiters=3),
    ref.AvSigClip(sigma=2.5, nkeep=2),
])
def test_thread_count_invariance(n, shape, rej):
    from imcombiners import _core

    rng = np.random.default_rng(7)
    stack = rng.normal(1000, 40, (n,) + shape).astype(np.float32)
    stack[rng.random(stack.shape) < 0.01] = np.nan
    stack[rng.random(stack.shape) < 0.02] += 3000
    mask = np.ascontiguousarray(rng.random(stack.shape) < 0.05)
    outs = []
    for method, q in (("mean", None), ("median", None), ("quantile", 0.3)):
        frames, masks, d = _kernel_call(stack, mask, [] if rej is None else [rej], method, q=q)
        runs = [_core.run(frames, masks, d, t) for t in (1, 2, 0)]
        for other in runs[1:]:
            assert runs[0].keys() == other.keys()
            for k in runs[0]:
                same_bits(runs[0][k], other[k], f"{method} {k}")
        outs.append(runs[0])
    assert outs[0]["data"].shape == (stack[0].size,)


def test_thread_invariance_avsigclip_chain_with_scales():
    """AvSigClip's line-sigma pre-pass (parallel over lines, replaying the rejectors before
    it) with per-frame Poisson levels: thread count and path do not change the bits."""
    from imcombiners import _core

    rng = np.random.default_rng(5)
    S = np.resize([1.0, 0.5, 2.0, 1.4], 9)
    Z = np.resize([0.0, 20.0, -10.0], 9)
    stack = (S[:, None, None] * rng.normal(1000, 30, (9, 60, 70)) + Z[:, None, None])
    stack[rng.random(stack.shape) < 0.02] += 2000
    chain = [ref.SigClip(sigma=3.0, stdfunc="mad"), ref.MinMaxClip(1, 0),
             ref.AvSigClip(sigma=2.5, nkeep=2, sigscale=0.1)]
    frames, masks, d = _kernel_call(stack, None, chain, "median", zero=Z, scale=S)
    runs = [_core.run(frames, masks, d, t) for t in (1, 2, 0)]
    for other in runs[1:]:
        for k in runs[0]:
            same_bits(runs[0][k], other[k], k)
    got = h.run_pkg(stack, None, method="median", zero=Z, scale=S, rejectors=chain)
    same_bits(got["data"].reshape(-1), runs[0]["data"], "run_job vs _core.run")


def test_thread_invariance_with_grow():
    rng = np.random.default_rng(3)
    stack = rng.normal(100, 5, (9, 90, 80))
    stack[rng.random(stack.shape) < 0.01] = 1e4
    job_kw = dict(rejectors=[ref.SigClip(sigma=3, grow=1.5), ref.MinMaxClip(1, 0)], method="median")
    a = h.run_pkg(stack, None, threads=1, **job_kw)
    b = h.run_pkg(stack, None, threads=2, **job_kw)
    for k in a:
        same_bits(a[k], b[k], k)


@given(case=sts.stacks(budget=1500), chain=sts.chains(max_size=2), method=METHODS)
def test_input_never_modified(case, chain, method):
    before = _digest(case.data, case.mask)
    h.combiner_combine(case.data, case.mask, method=method, rejectors=chain, diagnostics="full",
                       zero=np.arange(case.n, dtype=float), scale=np.full(case.n, 2.0))
    h.combiner_combine(case.data, case.mask, method=method, rejectors=chain)
    c = h.combiner_class()(case.data, case.mask).threshold(-1e30, 1e30)
    for r in chain:
        c = c.reject(h.pkg_rejector(r), diagnostics="full")
    c.combine(method)
    assert _digest(case.data, case.mask) == before


@given(case=sts.stacks(budget=1500), rej=sts.any_rejector(grow=True), method=METHODS)
def test_layouts_and_lists_agree(case, rej, method):
    """Big-endian, Fortran-ordered, strided and list-of-frames input == C-contiguous native."""
    kw = dict(method=method, rejectors=[rej], diagnostics="full")
    native = h.combiner_combine(case.native(), None if case.mask is None else np.ascontiguousarray(case.mask), **kw)
    as_is = h.combiner_combine(case.data, case.mask, **kw)
    frames = [case.data[i] for i in range(case.n)]
    masks = None if case.mask is None else [case.mask[i] for i in range(case.n)]
    listed = h.combiner_combine(frames, masks, **kw)
    for other, what in ((as_is, case.params["layout"]), (listed, "list")):
        for name in ("data", "mask", "sample_flags", "output_flags", "nused", "nit", "low", "upp", "std"):
            a, b = getattr(native, name), getattr(other, name)
            if a is None or b is None:
                assert a is None and b is None, f"{what} {name}"
                continue
            same_bits(a, b, f"{what} {name}")


def test_big_endian_kernel_inputs(rng):
    """A '>f4' stack and a '>i2' stack give what their native twins give."""
    for dt in ("float32", "int16", "uint16", "float64", "int32"):
        x = (rng.normal(500, 50, (6, 7, 5))).astype(dt)
        a = h.combiner_combine(x, method="median", rejectors=[ref.SigClip()])
        b = h.combiner_combine(x.astype(x.dtype.newbyteorder(">")), method="median",
                               rejectors=[ref.SigClip()])
        same_bits(a, b, dt)


@pytest.mark.heavy
def test_heavy_large_stack_paths_threads_and_twin():
    """N=300 frames of 160x160 float32 (~30 MB): threads, paths and a twin spot check."""
    from imcombiners import _core

    rng = np.random.default_rng(11)
    stack = rng.normal(1000, 30, (300, 160, 160)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.01] += 5000
    mask = rng.random(stack.shape) < 0.02
    rejs = [ref.SigClip(sigma=3.0, stdfunc="mad", nkeep=3), ref.MinMaxClip(2, 2)]
    frames, masks, d = _kernel_call(stack, mask, rejs, "median")
    a, b = _core.run(frames, masks, d, 1), _core.run(frames, masks, d, 0)
    for k in a:
        same_bits(a[k], b[k], k)
    fused = h.combiner_combine(stack, mask, method="median", rejectors=rejs)
    same_bits(fused, a["data"].reshape(160, 160), "fused vs _core.run")
    sub = (slice(None), slice(40, 46), slice(70, 75))  # the slow twin on a few elements
    tw = ref.combine(stack[sub], mask[sub], method="median", rejectors=rejs)
    got = h.run_pkg(np.ascontiguousarray(stack[sub]), np.ascontiguousarray(mask[sub]),
                    method="median", rejectors=rejs)
    h.compare_to_twin(got, tw, method="median", err="heavy spot check")


# Whole-block fast paths (streaming mean and MinMaxClip, lane shortcuts of SigClip and
# PClip) only engage on images large enough for several blocks: check them there, against
# the mask path, with complete and incomplete blocks side by side. (Float32 results can
# hide a last-bit difference of the f64 sums; the Rust tests compare those sums in f64.)
LARGE_CHAINS = {
    "mean": ([], "mean"),
    "minmax11-mean": ([ref.MinMaxClip(1, 1)], "mean"),
    "minmax01-sum": ([ref.MinMaxClip(0, 1)], "sum"),
    "pclip-median": ([ref.PClip()], "median"),
    "pclip-mean": ([ref.PClip(frac=0.3, sigma=(1.0, 2.0))], "mean"),
    "sigclip-mean": ([ref.SigClip(sigma=3.0, maxiters=5, cenfunc="median")], "mean"),
    "sigclip-lmedian": ([ref.SigClip(sigma=2.0, maxiters=2, cenfunc="median")], "lmedian"),
}


@h.more_examples(1)
@given(which=st.sampled_from(sorted(LARGE_CHAINS)),
       dtype=st.sampled_from(["float32", "float64", "uint16", "int16"]),
       n=st.sampled_from([3, 4, 7, 20]),
       kind=st.sampled_from(["sky", "bias", "wide", "ties"]),
       nan_rows=st.sampled_from([0, 3]),
       seed=st.integers(0, 2**31))
def test_block_fast_paths_on_large_images(which, dtype, n, kind, nan_rows, seed):
    rng = np.random.default_rng(seed)
    shape = (n, 61, 307)  # 18 727 pixels: several blocks of every path
    if kind == "sky":
        v = rng.normal(3000, 40, shape) + (rng.random(shape) < 0.005) * 4000
    elif kind == "bias":  # around zero: sums are not exact, the slow sum pass runs
        v = rng.normal(0, 3, shape)
    elif kind == "wide":
        v = rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(-3, 4, shape)
    else:
        v = rng.integers(0, 5, shape) * 7.0 + 100
    if dtype in ("uint16", "int16"):
        lo, hi = (0, 65535) if dtype == "uint16" else (-32768, 32767)
        v = np.clip(np.rint(v), lo, hi)
    data = v.astype(dtype)
    if nan_rows and data.dtype.kind == "f":
        # NaNs in a few rows only: blocks with and without incomplete pixels
        data[rng.integers(0, n, nan_rows), rng.integers(0, shape[1], nan_rows), :] = np.nan
    chain, method = LARGE_CHAINS[which]
    fused = h.combiner_combine(data, None, method=method, rejectors=chain)
    slow = h.combiner_combine(data, None, method=method, rejectors=chain, diagnostics="simple")
    same_bits(fused, slow.data, f"{which} {dtype} n={n} {kind}")
