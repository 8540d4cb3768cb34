"""imcombiners 0.1.1-era usage: the calls, parameters and return shapes its README and API
describe, written as a user of that release would write them.

Code written for 0.1.1 must keep working (deprecated spellings may warn: that is what
this body checks, so DeprecationWarnings are silenced here; tests/test_compat_aliases.py
checks the warnings themselves). The assertions describe 0.1.1's documented behaviour;
where this release deliberately differs, the test says so and docs/migrating-from-0.1.md
lists the difference.

The file imports nothing from the test helpers, so it can also be run against the old
release itself (it passes there too, except for the marked differences).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import imcombiners as imc
import imcombiners.kernels as imck

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def stack():
    rng = np.random.default_rng(20250311)
    s = rng.normal(1000, 5, (15, 24, 20)).astype("float32")
    s[3, 5, 5] = 1500.0   # a cosmic ray
    s[7, 10, 10] = -200.0  # a dead sample
    return s


def small(n=9, shape=(4, 5), seed=1, dtype="float64"):
    rng = np.random.default_rng(seed)
    x = rng.normal(100.0, 2.0, (n, *shape))
    x[2, 1, 1] = 160.0
    x[5, 3, 4] = 40.0
    return x.astype(dtype)


# --------------------------------------------------------------------------- first look


def test_readme_first_look(stack):
    cmb = imc.Combiner(stack)
    out = cmb.combine(
        "median",
        thresholds=(0.0, 65000.0),
        zero=None,
        scale="median",
        rejectors=[imc.MinMaxClip(n_min=1, n_max=0.1), imc.SigClip(sigma=3.0, maxiters=5)],
        diagnostics=None,
    )
    assert isinstance(out, np.ndarray)
    assert out.shape == (24, 20) and out.dtype == np.float32
    assert abs(float(out[5, 5]) - 1000) < 10 and abs(float(out[10, 10]) - 1000) < 10
    assert np.isfinite(out).all()


def test_stack_from_a_list_of_images():
    images = [np.full((4, 6), v, dtype="float32") for v in (1.0, 2.0, 3.0, 10.0)]
    arr = np.array([image for image in images])
    assert np.array_equal(imc.Combiner(arr).combine("median"), np.full((4, 6), 2.5, "float32"))
    assert np.array_equal(imc.Combiner(np.stack(images, axis=0)).combine("mean"), np.full((4, 6), 4.0, "float32"))


@pytest.mark.parametrize("shape", [(6, 7), (6, 3, 4), (6, 2, 3, 4), (6, 2, 2, 2, 3)])
def test_any_number_of_spatial_axes(shape):
    x = np.random.default_rng(0).normal(10, 1, shape)
    for method in ("mean", "median", "lmedian", "sum", "min", "max", "variance"):
        assert imc.Combiner(x).combine(method).shape == shape[1:]
        assert imc.ndcombine(x, combine=method).shape == shape[1:]
    out = imc.Combiner(x).combine("mean", rejectors=imc.SigClip())
    assert out.shape == shape[1:]
    mask_rej, std, low, upp, nit, flags = imck.sigclip(x)
    assert mask_rej.shape == shape and std.shape == low.shape == upp.shape == nit.shape == flags.shape == shape[1:]


def test_one_image_stack_is_fine_and_fewer_dims_are_not():
    x = np.arange(12.0).reshape(1, 3, 4)
    assert np.array_equal(imc.Combiner(x).combine("mean"), x[0])
    with pytest.raises(ValueError):
        imc.Combiner(np.arange(5.0))
    with pytest.raises(ValueError):
        imc.Combiner(np.zeros((0, 3, 4)))


# --------------------------------------------------------------------------- combine methods


@pytest.mark.parametrize("method, ref", [
    ("mean", np.nanmean), ("average", np.nanmean), ("avg", np.nanmean),
    ("median", np.nanmedian), ("med", np.nanmedian),
    ("sum", np.nansum), ("min", np.nanmin), ("max", np.nanmax),
    ("variance", np.nanvar), ("var", np.nanvar),
])
def test_combine_methods_match_numpy(method, ref):
    x = small()
    x[0, 0, 0] = np.nan
    x[1, 0, 1] = np.inf
    got = imc.Combiner(x).combine(method)
    want = ref(np.where(np.isfinite(x), x, np.nan), axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_method_names_are_case_insensitive():
    x = small()
    np.testing.assert_array_equal(imc.Combiner(x).combine("MEDIAN"), imc.Combiner(x).combine("median"))
    np.testing.assert_array_equal(imc.ndcombine(x, combine="Mean"), imc.ndcombine(x, combine="mean"))


def test_lower_median():
    x = np.array([1.0, 2.0, 4.0, 8.0]).reshape(4, 1, 1)
    assert imc.Combiner(x).combine("lmedian").item() == 2.0
    assert imc.Combiner(x).combine("lmed").item() == 2.0
    assert imc.Combiner(x).combine("median").item() == 3.0
    assert imc.ndcombine(x, combine="lmedian").item() == 2.0


def test_sum_of_nothing_is_zero_and_other_methods_nan():
    x = np.full((3, 2, 2), np.nan)
    assert np.all(imc.Combiner(x).combine("sum") == 0.0)
    for method in ("mean", "median", "lmedian", "min", "max", "variance"):
        assert np.all(np.isnan(imc.Combiner(x).combine(method)))


def test_unknown_method_is_a_value_error():
    with pytest.raises(ValueError, match="mode"):
        imc.Combiner(small()).combine("mode")


def test_weighted_mean():
    x = small()
    w = np.linspace(1.0, 3.0, x.shape[0])
    got = imc.Combiner(x).combine("mean", weight=w)
    np.testing.assert_allclose(got, np.average(x, axis=0, weights=w), rtol=1e-12)
    got = imc.ndcombine(x, combine="mean", weight=w)
    np.testing.assert_allclose(got, np.average(x, axis=0, weights=w), rtol=1e-12)
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("median", weight=w)
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", weight=w[:-1])


def test_variance_api():
    x = small()
    cmb = imc.Combiner(x)
    np.testing.assert_allclose(cmb.variance(ddof=0), np.nanvar(x, axis=0, ddof=0), rtol=1e-12)
    np.testing.assert_allclose(cmb.variance(ddof=1), np.nanvar(x, axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(cmb.variance(), np.nanvar(x, axis=0, ddof=1), rtol=1e-12)  # default ddof 1
    var, mean = cmb.variance(ddof=1, return_mean=True)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cmb.combine("variance", ddof=2), np.nanvar(x, axis=0, ddof=2), rtol=1e-12)
    one = np.ones((1, 2, 2))
    assert np.all(np.isnan(imc.Combiner(one).variance()))  # n <= ddof


def test_variance_after_rejection_uses_the_final_valid_values():
    x = small()
    cmb = imc.Combiner(x).reject(imc.MinMaxClip(1, 1))
    kept = np.sort(x, axis=0)[1:-1]
    np.testing.assert_allclose(cmb.variance(ddof=1), np.var(kept, axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(cmb.variance(ddof=1)), np.std(kept, axis=0, ddof=1), rtol=1e-12)


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype, work", [("uint8", "float32"), ("uint16", "float32"), ("int16", "float32"),
                                         ("int32", "float64"), ("float32", "float32"), ("float64", "float64")])
def test_accepted_dtypes_and_workspace(dtype, work):
    x = (small() * (1 if dtype != "uint8" else 1)).clip(0, 250).astype(dtype)
    assert imc.Combiner(x).combine("mean", rejectors=imc.SigClip()).dtype == np.dtype(work)
    assert imc.Combiner(x).combine("median", thresholds=(0, 200)).dtype == np.dtype(work)
    assert imc.ndcombine(x, combine="mean", reject="sigclip").dtype == np.dtype(work)


@pytest.mark.parametrize("dtype", ["int64", "uint32", "float16", "bool", "complex64"])
def test_unsupported_dtypes_are_not_cast(dtype):
    x = np.ones((3, 2, 2), dtype=dtype)
    with pytest.raises(TypeError):
        imc.Combiner(x)
    with pytest.raises(TypeError):
        imc.ndcombine(x)
    with pytest.raises(TypeError):
        imck.sigclip(x)


def test_integer_order_statistics_keep_their_dtype():
    x = (np.arange(30).reshape(5, 2, 3) % 7).astype("uint16")
    assert imc.ndcombine(x, combine="lmedian").dtype == np.uint16
    assert imc.ndcombine(x, combine="min").dtype == np.uint16
    assert imc.ndcombine(x, combine="max").dtype == np.uint16
    assert imc.ndcombine(x.astype("int32"), combine="lmedian").dtype == np.int32
    # masking or rejection: the float workspace
    assert imc.ndcombine(x, combine="lmedian", mask=np.zeros(x.shape, bool)).dtype == np.float32
    assert imc.ndcombine(x, combine="lmedian", reject="minmax").dtype == np.float32


def test_int32_above_float32_precision_is_exact():
    big = np.int32(2**24 + 1)
    x = np.full((3, 2, 2), big, dtype="int32")
    assert imc.Combiner(x).combine("mean").dtype == np.float64
    assert np.all(imc.Combiner(x).combine("mean") == float(big))


def test_input_is_not_modified(stack):
    before = stack.copy()
    imc.Combiner(stack).combine("median", scale="median", rejectors=imc.SigClip(), thresholds=(0, 2000))
    imc.ndcombine(stack, reject="ccdclip", zero="mean", diagnostics="full")
    imck.sigclip(stack)
    assert np.array_equal(stack, before)


# --------------------------------------------------------------------------- masks and non-finite


def test_nan_and_inf_are_masked_everywhere():
    x = small()
    x[0, 2, 2] = np.nan
    x[1, 2, 2] = np.inf
    x[2, 2, 2] = -np.inf
    want = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
    np.testing.assert_allclose(imc.Combiner(x).combine("mean"), want, rtol=1e-12)
    mask_rej = imck.minmax(x, n_min=0, n_max=0)[0]
    assert mask_rej[0, 2, 2] and mask_rej[1, 2, 2] and mask_rej[2, 2, 2]


def test_input_mask():
    x = small()
    m = np.zeros(x.shape, bool)
    m[2, 1, 1] = True
    got = imc.Combiner(x, mask=m).combine("mean")
    np.testing.assert_allclose(got, np.nanmean(np.where(m, np.nan, x), axis=0), rtol=1e-12)
    got = imc.ndcombine(x, m, combine="mean")
    np.testing.assert_allclose(got, np.nanmean(np.where(m, np.nan, x), axis=0), rtol=1e-12)
    with pytest.raises(ValueError):
        imc.Combiner(x, mask=np.zeros((3, 3), bool))


# --------------------------------------------------------------------------- thresholds, zero, scale


def test_thresholds_are_inclusive_and_applied_to_raw_values():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(5, 1, 1)
    assert imc.Combiner(x).combine("mean", thresholds=(2.0, 4.0)).item() == 3.0
    assert imc.ndcombine(x, thresholds=(2.0, 4.0)).item() == 3.0
    assert imc.Combiner(x).combine("sum", thresholds=[(1.0, 4.0), (2.0, 5.0)]).item() == 9.0
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", thresholds=(4.0, 2.0))
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", thresholds=(np.nan, 2.0))
    assert imc.Combiner(x).combine("mean", thresholds=(-np.inf, 3.0)).item() == 2.0


def test_thresholds_come_before_the_zero_scale_statistics():
    x = np.ones((3, 4, 4)) * np.array([10.0, 20.0, 30.0])[:, None, None]
    x[1, 0, 0] = 1e6
    # without the threshold the mean of frame 1 would be dominated by the outlier
    out = imc.ndcombine(x, thresholds=(0, 1000), scale="mean", combine="mean")
    scale = np.array([10.0, 20.0, 30.0]) / 10.0
    want = np.mean(np.where(x > 1000, np.nan, x) / scale[:, None, None], axis=0, where=x <= 1000)
    np.testing.assert_allclose(out, want, rtol=1e-12)


@pytest.mark.parametrize("stat", ["mean", "average", "avg", "median", "med", "sum", "min", "max"])
def test_zero_and_scale_statistics(stat):
    x = small() + np.arange(9.0)[:, None, None] * 10
    fn = {"mean": np.mean, "average": np.mean, "avg": np.mean, "median": np.median, "med": np.median,
          "sum": np.sum, "min": np.min, "max": np.max}[stat]
    v = np.array([fn(f) for f in x])
    got = imc.Combiner(x).combine("mean", zero=stat)
    np.testing.assert_allclose(got, np.mean(x - (v - v[0])[:, None, None], axis=0), rtol=1e-10)
    got = imc.Combiner(x).combine("mean", scale=stat)
    np.testing.assert_allclose(got, np.mean(x / (v / v[0])[:, None, None], axis=0), rtol=1e-10)


def test_zero_scale_numbers_vectors_and_callables():
    x = small()
    z = np.linspace(-2.0, 2.0, x.shape[0])
    np.testing.assert_allclose(imc.Combiner(x).combine("mean", zero=z), np.mean(x - (z - z[0])[:, None, None], axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(imc.Combiner(x).combine("mean", zero=5.0), x.mean(axis=0) - 5.0, rtol=1e-12)
    np.testing.assert_allclose(imc.Combiner(x).combine("mean", scale=2.0), x.mean(axis=0) / 2.0, rtol=1e-12)
    np.testing.assert_allclose(imc.Combiner(x).combine("mean", zero=z, zero_to_0th=False),
                               np.mean(x - z[:, None, None], axis=0), rtol=1e-12)
    got = imc.Combiner(x).combine("mean", scale=lambda plane: float(np.nanmax(plane)))
    mx = x.reshape(len(x), -1).max(axis=1)
    np.testing.assert_allclose(got, np.mean(x / (mx / mx[0])[:, None, None], axis=0), rtol=1e-12)


def test_zero_and_scale_with_011_rebasing():
    """Both vectors together: 0.1.1 computed (x - (z - z0)) / (s / s0); its flags still do
    (the default follows IRAF: docs/migrating-from-0.1.md)."""
    x = small()
    z = np.linspace(-2.0, 2.0, 9)
    s = np.linspace(0.9, 1.2, 9)
    got = imc.Combiner(x).combine("mean", zero=z, scale=s, zero_to_0th=True, scale_to_0th=True)
    want = np.mean((x - (z - z[0])[:, None, None]) / (s / s[0])[:, None, None], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sigma_clipped_statistics_and_bad_values():
    x = small() * np.linspace(1, 2, 9)[:, None, None]
    for stat in ("sigclip_mean", "mean_sc", "sigclip_median", "median_sc", "med_sc"):
        out = imc.Combiner(x).combine("mean", scale=stat)
        assert np.all(np.isfinite(out))
    out = imc.Combiner(x).combine("mean", scale="sigclip_median",
                                  scale_sigclip_kwargs={"sigma": 2.0, "maxiters": 3, "cenfunc": "median", "ddof": 0})
    assert np.all(np.isfinite(out))
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", zero="mode2")
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", zero=[1.0, 2.0])
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", scale=[0.0] * 9)
    with pytest.raises(ValueError):
        imc.Combiner(x).combine("mean", zero=[np.nan] * 9)


def test_resolve_zero_scale_helper():
    x = small()
    v = imc.resolve_zero_scale("scale", "median", x, nonzero=True)
    assert v.shape == (9, 1, 1) and v.dtype == x.dtype
    np.testing.assert_allclose(v.ravel(), np.median(x.reshape(9, -1), axis=1), rtol=1e-12)
    v = imc.resolve_zero_scale("scale", "median", x, nonzero=True, to_0th=True)
    assert v.ravel()[0] == 1.0
    assert imc.resolve_zero_scale("zero", None, x) is None
    assert imc.resolve_zero_scale("zero", 2.0, x).shape == (1, 1, 1)


# --------------------------------------------------------------------------- rejectors


def test_rejector_dataclasses_and_defaults():
    s = imc.SigClip()
    assert tuple(s.sigma) == (3.0, 3.0) and s.maxiters == 5 and s.cenfunc == "median" and s.stdfunc == "std"
    assert s.ddof == 0 and s.nkeep == 1 and s.maxrej is None and s.revert_on_nkeep is True and s.grow is None
    c = imc.CcdClip()
    assert c.rdnoise == 0.0 and c.gain == 1.0 and c.snoise == 0.0 and c.maxiters == 5 and c.nkeep == 1
    lin = imc.LinearClip()
    assert (lin.low_scale, lin.low, lin.upp_scale, lin.upp, lin.maxiters) == (1.0, 0.0, 1.0, 0.0, 1)
    mm = imc.MinMaxClip()
    assert (mm.n_min, mm.n_max) == (1, 1)
    p = imc.PClip()
    assert p.frac == -0.5 and p.nkeep == 1
    for r in (s, c, lin, mm, p):
        assert isinstance(r, imc.Rejector)
        with pytest.raises(Exception):
            r.maxiters = 3  # frozen


def test_renamed_keywords_from_before_011_are_errors():
    for make in (lambda: imc.MinMaxClip(n_low=1), lambda: imc.MinMaxClip(n_high=1),
                 lambda: imc.SigClip(restore_nkeep=True), lambda: imc.SigClip(std_center="mean")):
        with pytest.raises(TypeError):
            make()


@pytest.mark.parametrize("cen", ["mean", "average", "avg", "median", "med", "lmedian", "lmed"])
def test_centre_names(cen):
    x = small()
    out = imc.Combiner(x).combine("mean", rejectors=imc.SigClip(sigma=2.5, cenfunc=cen))
    assert np.all(np.isfinite(out))
    with pytest.raises(ValueError):
        imc.SigClip(cenfunc="mode").apply(x)


def test_sigclip_rejects_outliers_and_keeps_the_rest():
    x = small(n=15)
    mask_rej, std, low, upp, nit, flags = imck.sigclip(x, sigma=3.0)
    assert mask_rej[2, 1, 1] and mask_rej[5, 3, 4]
    assert mask_rej.sum() <= 4
    assert np.all(low <= upp) and np.all(nit >= 1) and std.dtype == x.dtype
    good = np.where(mask_rej, np.nan, x)
    np.testing.assert_array_equal(low, np.nanmin(good, axis=0))
    np.testing.assert_array_equal(upp, np.nanmax(good, axis=0))


def test_asymmetric_sigma():
    x = np.array([0.0, 9, 10, 10, 10, 11, 20]).reshape(7, 1)
    both = imck.sigclip(x, sigma=(1.0, 100.0), nkeep=0, maxiters=1)[0]
    assert both[:, 0].tolist() == [True] + [False] * 6


def test_sigclip_mad_and_ddof():
    x = small(n=15)
    for stdfunc in ("std", "mad"):
        for ddof in (0, 1):
            mask_rej, std, *_ = imck.sigclip(x, stdfunc=stdfunc, ddof=ddof)
            assert mask_rej[2, 1, 1] and np.all(std > 0)
    with pytest.raises(ValueError):
        imck.sigclip(x, stdfunc="var")


def test_sigclip_std_is_about_the_clipping_centre():
    x = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 30]).reshape(10, 1)
    std = imck.sigclip(x, sigma=3.1, maxiters=1, nkeep=0)[1].item()
    assert math.isclose(std, math.sqrt(np.mean((x - 4.5) ** 2)))
    std = imck.sigclip(x, sigma=3.1, maxiters=1, nkeep=0, clip_cen="mean")[1].item()
    assert math.isclose(std, float(np.std(x)))


def test_ccdclip_noise_model_and_gain():
    x = np.array([98.0, 99, 100, 100, 101, 102, 130]).reshape(7, 1)
    mask_rej, std, *_ = imck.ccdclip(x, sigma=2.0, rdnoise=5.0, nkeep=0)
    assert mask_rej[:, 0].tolist() == [False] * 6 + [True]
    assert math.isclose(std.item(), math.sqrt(100.0 + 25.0), rel_tol=1e-12)  # gain 1
    with pytest.raises(ValueError):
        imck.ccdclip(x, gain=0.0)
    with pytest.raises(ValueError):
        imc.CcdClip(gain=-1.0).apply(x)


def test_linearclip_bounds_and_iterations():
    x = np.array([90.0, 99.0, 100.0, 110.0, 111.0]).reshape(5, 1)
    mask_rej, std, low, upp, nit, flags = imck.linearclip(x, low=10.0, upp_scale=1.1)
    assert mask_rej[:, 0].tolist() == [False, False, False, False, True]
    assert std is None and low.item() == 90.0 and math.isclose(upp.item(), 110.0)
    assert nit.item() == 1
    mask_rej, *_ = imck.linearclip(x)  # default bounds: a no-op
    assert not mask_rej.any()
    with pytest.raises(ValueError):
        imck.linearclip(x, low=-1.0)
    with pytest.raises(ValueError):
        imc.LinearClip(upp_scale=np.nan).apply(x)


def test_linearclip_in_a_combiner():
    x = small()
    out = imc.Combiner(x).combine("mean", rejectors=imc.LinearClip(low_scale=0.9, upp_scale=1.1))
    m = (x < 0.9 * np.median(x, axis=0)) | (x > 1.1 * np.median(x, axis=0))
    np.testing.assert_allclose(out, np.nanmean(np.where(m, np.nan, x), axis=0), rtol=1e-12)


def test_minmax_counts_and_fractions():
    x = small(n=10)
    mask_rej = imck.minmax(x, n_min=2, n_max=1)[0]
    assert np.all(mask_rej.sum(axis=0) == 3)
    mask_rej = imck.minmax(x, n_min=0.1, n_max=0.2)[0]  # int(10 * f + 0.001)
    assert np.all(mask_rej.sum(axis=0) == 3)
    out = imc.Combiner(x).combine("mean", rejectors=imc.MinMaxClip(1, 1))
    np.testing.assert_allclose(out, np.sort(x, axis=0)[1:-1].mean(axis=0), rtol=1e-12)
    low, upp = imck.minmax(x)[2:4]
    np.testing.assert_array_equal(low, np.sort(x, axis=0)[1])
    np.testing.assert_array_equal(upp, np.sort(x, axis=0)[-2])
    with pytest.raises(ValueError):
        imck.minmax(x, n_min=-1)


def test_minmax_count_shrinks_with_masked_samples():
    x = np.arange(5.0).reshape(5, 1)
    m = np.zeros(x.shape, bool)
    m[4] = True
    mask_rej = imck.minmax(x, mask=m, n_min=2, n_max=0)[0]
    assert mask_rej[:, 0].tolist() == [True, False, False, False, True]  # 1 of 4 rejected (+ the masked one)


def test_pclip_iraf_examples():
    x = np.array([970.0, 1002, 1003, 1004, 1005, 1006, 1012]).reshape(7, 1)
    mask_rej = imck.pclip(x, frac=0.25)[0]
    assert mask_rej[:, 0].tolist() == [True, False, False, False, False, False, True]
    assert not imck.pclip(np.arange(100.0).reshape(100, 1), frac=0.4)[0].any()
    assert not imck.pclip(np.arange(10.0).reshape(10, 1), frac=0.5)[0].any()
    with pytest.raises(ValueError):
        imck.pclip(x, frac=(0.1, 0.2))
    with pytest.raises(ValueError):
        imck.pclip(x, frac=0)


def test_grow():
    x = np.full((5, 7, 7), 100.0) + np.arange(5.0)[:, None, None] * 0.1
    x[2, 3, 3] = 1e4
    mask_rej = imck.sigclip(x, sigma=2.0, grow=1.0)[0]
    assert mask_rej[2, 3, 3] and mask_rej[2, 2, 3] and mask_rej[2, 4, 3] and mask_rej[2, 3, 2] and mask_rej[2, 3, 4]
    assert not mask_rej[2, 2, 2]
    m = np.zeros((2, 5, 5), bool)
    m[0, 2, 2] = True
    g = imck.grow_mask(m, 1.5)
    assert g[0].sum() == 9 and not g[1].any()
    assert imck.grow_mask(m, 0).sum() == 1
    with pytest.raises(ValueError):
        imck.grow_mask(m, -1)
    with pytest.raises(TypeError):
        imck.grow_mask(m.astype(float), 1)
    cmb = imc.Combiner(x).reject(imc.SigClip(sigma=2.0), grow=1.0)
    assert cmb.mask_rej[2, 2, 3]


def test_nkeep_revert_is_the_default_safety_mode():
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0]).reshape(5, 1)
    mask_rej, std, low, upp, nit, flags = imck.sigclip(x, sigma=0.5, nkeep=3)
    assert mask_rej[:, 0].tolist() == [False] * 4 + [True]  # the pass leaving 2 is undone
    assert flags.item() & imc.OutputFlags.NKEEP
    mask_rej = imck.sigclip(x, sigma=0.5, nkeep=0)[0]  # strict clipping
    assert mask_rej.sum() >= 3


def test_maxrej_limits_rejections():
    x = np.array([0.0, 10, 10, 10, 10, 10, 10, 10, 10, 25]).reshape(10, 1)
    mask_rej, *_, flags = imck.sigclip(x, sigma=1.0, nkeep=0, maxrej=1, maxiters=1)
    assert mask_rej.sum() <= 1 and flags.item() & imc.OutputFlags.MAXREJ


def test_maxiters_zero_rejects_nothing():
    mask_rej, std, low, upp, nit, flags = imck.sigclip(small(), maxiters=0)
    assert not mask_rej.any() and np.all(flags & imc.OutputFlags.MAXITERS) and np.all(nit == 1)


def test_default_nkeep_never_rejects_everything():
    x = np.array([1.0, 5.0]).reshape(2, 1)
    assert not imck.sigclip(x, sigma=0.0)[0].all()


# --------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("kind", ["sigclip", "ccdclip", "minmax", "pclip"])
def test_kernel_families(kind):
    x = small(n=11)
    stack = getattr(imck, kind)(x)
    assert len(stack) == 6
    mask_rej, std, low, upp, nit, flags = stack
    assert mask_rej.dtype == bool and mask_rej.shape == x.shape
    assert nit.dtype == np.uint8 and flags.dtype == np.uint8
    assert (std is None) == (kind in ("minmax", "pclip"))
    np.testing.assert_array_equal(getattr(imck, f"{kind}_mask")(x), mask_rej)
    for combine in ("mean", "median"):
        fused = getattr(imck, f"{kind}_combine")(x, combine=combine)
        ref = {"mean": np.nanmean, "median": np.nanmedian}[combine](np.where(mask_rej, np.nan, x), axis=0)
        np.testing.assert_allclose(fused, ref, rtol=1e-12)
    # the 1-D variants: one output element, NumPy scalars
    v = x[:, 0, 0]
    m1, s1, l1, u1, n1, f1 = getattr(imck, f"{kind}_1d")(v)
    np.testing.assert_array_equal(m1, mask_rej[:, 0, 0])
    assert np.ndim(l1) == 0 and l1 == low[0, 0] and n1 == nit[0, 0]
    np.testing.assert_array_equal(getattr(imck, f"{kind}_mask_1d")(v), mask_rej[:, 0, 0])
    c1 = getattr(imck, f"{kind}_combine_1d")(v, combine="mean")
    assert isinstance(c1, float) and math.isclose(c1, float(np.nanmean(np.where(mask_rej[:, 0, 0], np.nan, v))))


def test_linearclip_kernels():
    x = small(n=11)
    r = imck.linearclip(x, low_scale=0.95, upp_scale=1.05)
    assert len(r) == 6 and r[1] is None
    r1 = imck.linearclip_1d(x[:, 0, 0], low_scale=0.95, upp_scale=1.05)
    np.testing.assert_array_equal(r1[0], r[0][:, 0, 0])


def test_kernel_keywords_and_masks():
    x = small(n=11)
    m = np.zeros(x.shape, bool)
    m[0] = True
    r = imck.sigclip(x, mask=m, sigma=(2.0, 2.5), maxiters=3, ddof=1, nkeep=2, maxrej=3, cenfunc="mean",
                     clip_cen=None, stdfunc="std", revert_on_nkeep=True, grow=None, validate=True)
    assert r[0][0].all()  # the input mask is part of mask_rej
    assert np.all(r[5] & imc.OutputFlags.PREMASKED)
    r = imck.ccdclip(x, mask=m, sigma=3.0, maxiters=3, ddof=0, nkeep=1, maxrej=None, cenfunc="median",
                     clip_cen=None, revert_on_nkeep=True, rdnoise=3.0, gain=1.0, snoise=0.0, scale_ref=1.0,
                     zero_ref=0.0, grow=None, validate=True)
    assert r[0][0].all()
    imck.minmax(x, mask=m, n_min=1, n_max=1, grow=None, validate=True)
    imck.pclip(x, mask=m, frac=-0.5, sigma=3.0, nkeep=1, grow=None, validate=True)
    imck.linearclip(x, mask=m, low_scale=0.9, low=0.0, upp_scale=1.1, upp=0.0, maxiters=1, nkeep=1, maxrej=None,
                    cenfunc="median", revert_on_nkeep=True, grow=None, validate=True)


def test_nanaverage():
    x = small()
    x[0, 0, 0] = np.nan
    w = np.arange(1.0, 10.0)
    got = imck.nanaverage(x, w)
    ok = np.isfinite(x)
    want = np.where(ok, x * w[:, None, None], 0).sum(0) / np.where(ok, w[:, None, None], 0).sum(0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(imc.nanaverage(x, w), want, rtol=1e-12)
    with pytest.raises(ValueError):
        imck.nanaverage(x, w[:3])


def test_top_level_kernel_names():
    x = small()
    for name in ("sigclip", "ccdclip", "linearclip", "minmax", "pclip"):
        a, b = getattr(imc, name)(x), getattr(imck, name)(x)
        np.testing.assert_array_equal(a[0], b[0])
    m = x > 150
    np.testing.assert_array_equal(imc.grow_mask(m, 1), imck.grow_mask(m, 1))
    assert callable(imc.resolve_zero_scale) and callable(imc.nanaverage)
    for name in ("Combiner", "Rejector", "SigClip", "CcdClip", "LinearClip", "MinMaxClip", "PClip", "SampleFlags",
                 "OutputFlags", "kernels", "ndcombine", "place_into_padded"):
        assert name in imc.__all__
    assert isinstance(imc.__version__, str)


# --------------------------------------------------------------------------- diagnostics


def test_output_and_sample_flag_values():
    F, O = imc.SampleFlags, imc.OutputFlags
    assert (F.INPUT_MASK, F.NONFINITE, F.THRESHOLD, F.ALGORITHM, F.GROW, F.PREVIOUS) == (1, 2, 4, 8, 16, 32)
    assert (F.RESTORED_NKEEP, F.RESTORED_MAXREJ) == (64, 128)
    assert (O.PREMASKED, O.MAXITERS, O.NKEEP, O.MAXREJ, O.GROW) == (1, 2, 4, 8, 16)


def test_ndcombine_diagnostics_tuples():
    x = small()
    out = imc.ndcombine(x, reject="sigclip", diagnostics=None)
    assert isinstance(out, np.ndarray)
    res = imc.ndcombine(x, reject="sigclip", thresholds=(0, 150), diagnostics="simple")
    combined, mask_rej, mask_thresh, std, low, upp, nit, output_flags = res
    assert combined.shape == x.shape[1:] and mask_rej.shape == x.shape and mask_thresh.shape == x.shape
    assert mask_thresh[2, 1, 1] and mask_rej[2, 1, 1]
    for a in (std, low, upp, nit, output_flags):
        assert a.shape == x.shape[1:]
    res = imc.ndcombine(x, reject="minmax", diagnostics="full")
    assert len(res) == 9
    combined, mask_rej, mask_thresh, std, low, upp, nit, output_flags, sample_flags = res
    assert mask_thresh is None and std is None
    assert sample_flags.dtype == np.uint8 and sample_flags.shape == x.shape
    res = imc.ndcombine(x, reject="sigclip", full=True)
    assert len(res) == 8
    assert tuple(imc.ndcombine(x, diagnostics="simple"))[1:] == (None,) * 7
    with pytest.raises(ValueError):
        imc.ndcombine(x, diagnostics="everything")
    with pytest.raises(ValueError):
        imc.ndcombine(x, diagnostics="simple", full=True)


def test_pinned_sample_flags_example():
    x = np.array([np.nan, 1.0, -5.0, 2.0, 100.0]).reshape(5, 1)
    m = np.array([False, True, False, False, False]).reshape(5, 1)
    res = imc.ndcombine(x, m, thresholds=(0, np.inf), reject="minmax", n_minmax=(0, 3), diagnostics="full")
    assert res[-1][:, 0].tolist() == [2, 1, 4, 0, 8]
    assert res[0].item() == 2.0


def test_standard_combiner_does_not_change_state():
    x = small()
    cmb = imc.Combiner(x)
    cmb.combine("median", rejectors=[imc.SigClip()], thresholds=(0, 150))
    assert cmb.mask is None or not cmb.mask.any()
    assert cmb.n_rejected == 0 and cmb.last_reject is None and cmb.reject_history == []


# --------------------------------------------------------------------------- chained Combiner


def test_chained_combiner():
    x = small(n=11)
    m = np.zeros(x.shape, bool)
    m[0, 0, 0] = True
    cmb = imc.Combiner(x, mask=m)
    same = cmb.threshold(0, 150)
    assert same is cmb
    assert cmb.mask_thresh[2, 1, 1] and cmb.mask_thresh.sum() == 1
    cmb.zero_scale(scale="median")
    cmb.reject(imc.SigClip(sigma=3.0))
    assert cmb.last_reject is not None and len(cmb.last_reject) == 6
    mask_rej, std, low, upp, nit, flags = cmb.last_reject
    assert mask_rej.shape == x.shape and std.shape == low.shape == x.shape[1:]
    assert np.array_equal(cmb.mask_rej, mask_rej) and np.array_equal(cmb.nit, nit)
    cmb.reject(imc.MinMaxClip(0, 1), diagnostics="full")
    assert len(cmb.reject_history) == 2
    assert cmb.sample_flags.shape == x.shape and cmb.sample_flags.dtype == np.uint8
    assert cmb.std is None  # MinMaxClip has no spread
    assert cmb.n_rejected == int(cmb.mask.sum()) > 2
    out = cmb.combine("mean")
    assert out.shape == x.shape[1:]
    np.testing.assert_allclose(out, np.nanmean(np.where(cmb.mask, np.nan, cmb.arr), axis=0), rtol=1e-6)
    var = cmb.variance()
    assert var.shape == x.shape[1:]


def test_chained_equals_standard():
    x = small(n=11)
    kw = dict(thresholds=(0, 150), scale="median", rejectors=[imc.SigClip(sigma=2.5), imc.MinMaxClip(0, 1)])
    standard = imc.Combiner(x).combine("median", **kw)
    chained = (imc.Combiner(x).threshold(0, 150).zero_scale(scale="median")
               .reject(imc.SigClip(sigma=2.5)).reject(imc.MinMaxClip(0, 1)).combine("median"))
    np.testing.assert_allclose(standard, chained, rtol=1e-6)


def test_combine_with_diagnostics_keeps_them_on_the_combiner():
    x = small(n=11)
    cmb = imc.Combiner(x)
    cmb.combine("mean", rejectors=imc.SigClip(sigma=2.5), diagnostics="simple")
    assert cmb.mask_rej.shape == x.shape and cmb.nit.shape == x.shape[1:]
    cmb = imc.Combiner(x)
    out = cmb.combine("mean", rejectors=imc.SigClip(sigma=2.5), full=True)
    assert isinstance(out, np.ndarray) and cmb.last_reject is not None


def test_combiner_copy_and_repr():
    x = small()
    cmb = imc.Combiner(x).reject(imc.SigClip())
    cp = cmb.copy()
    cp.reject(imc.MinMaxClip(1, 1))
    assert len(cp.reject_history) == len(cmb.reject_history) + 1
    assert "Combiner(" in repr(cmb) and "N=9" in repr(cmb)


def test_reject_requires_a_rejector():
    with pytest.raises(TypeError):
        imc.Combiner(small()).reject("sigclip")
    with pytest.raises(TypeError):
        imc.Combiner(small()).combine("mean", rejectors=["sigclip"])


def test_combiner_keywords():
    x = small()
    a = imc.Combiner(x, None, copy=True, validate=True).combine("mean")
    b = imc.Combiner(x.astype("float64"), copy=False, validate=False).combine("mean")
    np.testing.assert_array_equal(a, b)


def test_custom_rejector_subclass():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Above(imc.Rejector):
        limit: float = 150.0

        def apply(self, arr, mask=None, *, validate=True):
            rej = np.asarray(arr) > self.limit
            if mask is not None:
                rej |= mask
            z = np.zeros(rej.shape[1:])
            return rej, None, z, z, z.astype(np.uint8), z.astype(np.uint8)

    x = small()
    cmb = imc.Combiner(x).reject(Above())
    assert cmb.mask_rej[2, 1, 1] and cmb.mask_rej.sum() == 1
    out = imc.Combiner(x).combine("mean", rejectors=Above())
    np.testing.assert_allclose(out, np.nanmean(np.where(x > 150, np.nan, x), axis=0), rtol=1e-12)


# --------------------------------------------------------------------------- ndcombine


def test_ndcombine_iraf_names():
    x = small(n=11)
    out = imc.ndcombine(x, combine="median", reject="sigclip", sigma=(3.0, 3.0), cenfunc="median", maxiters=5,
                        ddof=0, nkeep=1, maxrej=None, revert_on_nkeep=True, grow=None)
    ref = imc.Combiner(x).combine("median", rejectors=imc.SigClip(sigma=3.0))
    np.testing.assert_array_equal(out, ref)
    out = imc.ndcombine(x, reject="minmax", n_minmax=(1, 2))
    np.testing.assert_allclose(out, np.sort(x, axis=0)[1:-2].mean(axis=0), rtol=1e-12)
    out = imc.ndcombine(x, reject="ccdclip", rdnoise=5.0, gain=1.0, snoise=0.0)
    assert out.shape == x.shape[1:]
    out = imc.ndcombine(x, reject="pclip", pclip=-0.5)
    assert out.shape == x.shape[1:]
    out = imc.ndcombine(x, reject="SIGCLIP", clip_cen="mean", scale_ref=1.0, zero_ref=0.0, validate=True)
    assert out.shape == x.shape[1:]
    with pytest.raises(ValueError):
        imc.ndcombine(x, reject="foo")


def test_ndcombine_positional_parameters():
    x = small()
    a = imc.ndcombine(x, None, (0, 150), "median", "sigclip")
    b = imc.ndcombine(arr=x, thresholds=(0, 150), combine="median", reject="sigclip")
    np.testing.assert_array_equal(a, b)


def test_ndcombine_zero_scale_weight_and_grow():
    x = small(n=11) * np.linspace(1, 1.2, 11)[:, None, None]
    out = imc.ndcombine(x, combine="mean", scale="median", reject="sigclip", grow=1.0)
    assert out.shape == x.shape[1:] and np.all(np.isfinite(out))
    out = imc.ndcombine(x, combine="mean", zero="median", zero_to_0th=True, scale_to_0th=True,
                        zero_sigclip_kwargs=None, scale_sigclip_kwargs=None)
    assert out.shape == x.shape[1:]
    w = np.ones(11)
    np.testing.assert_allclose(imc.ndcombine(x, weight=w), x.mean(axis=0), rtol=1e-12)


# --------------------------------------------------------------------------- offsets


def test_place_into_padded():
    a = np.ones((2, 3), "float32")
    b = 2 * np.ones((3, 2), "float32")
    out = imc.place_into_padded([a, b], [(0, 0), (1, -1)])
    assert out.shape == (2, 4, 4) and out.dtype == np.float32
    assert np.isnan(out[0, 3, 0]) and out[0, 0, 1] == 1.0 and out[1, 1, 0] == 2.0
    # only differences matter
    np.testing.assert_array_equal(out, imc.place_into_padded([a, b], [(10, 20), (11, 19)]), strict=False)
    filled = imc.place_into_padded([a, b], [(0, 0), (1, -1)], fill=0.0, validate=True)
    assert filled[0, 3, 0] == 0.0
    one_d = imc.place_into_padded([np.ones(3), np.ones(2)], [[0], [2]])
    assert one_d.shape == (2, 4) and one_d.dtype == np.float64
    cube = imc.place_into_padded([np.ones((2, 2, 2))] * 2, [(0, 0, 0), (1, 1, 1)])
    assert cube.shape == (2, 3, 3, 3)
    u16 = imc.place_into_padded([np.ones((2, 2), "uint16")] * 2, [(0, 0), (0, 1)])
    assert u16.dtype == np.float32
    mixed = imc.place_into_padded([np.ones((2, 2), "int32"), a[:2, :2]], [(0, 0), (0, 0)])
    assert mixed.dtype == np.float64
    combined = imc.Combiner(out).combine("mean")
    assert combined.shape == (4, 4) and combined[0, 1] == 1.0
    with pytest.raises(ValueError):
        imc.place_into_padded([], np.zeros((0, 2), int))
    with pytest.raises(ValueError):
        imc.place_into_padded([a, b], [(0, 0)])
    with pytest.raises(TypeError):
        imc.place_into_padded([a, b], [(0, 0.5), (0, 0)])
    with pytest.raises(ValueError):
        imc.place_into_padded([a, np.ones(3)], [(0, 0), (0, 0)])
    with pytest.raises(TypeError):
        imc.place_into_padded([a.astype("int64")], [(0, 0)])


def test_place_into_padded_extreme_offsets():
    a = np.ones((2, 2))
    big = np.iinfo(np.int64).max
    with pytest.raises((OverflowError, ValueError)):
        imc.place_into_padded([a, a], np.array([[big, 0], [-big - 1, 0]]))


# --------------------------------------------------------------------------- more spellings


def test_callable_statistics_see_nan_at_excluded_pixels():
    x = small() + np.arange(9.0)[:, None, None]
    x[0, 0, 0] = 1e6  # outside the thresholds below
    got = imc.Combiner(x).combine("mean", thresholds=(0, 1000), scale=lambda p: float(np.nanmedian(p)))
    keep = x <= 1000
    med = np.array([np.median(f[k]) for f, k in zip(x, keep)])
    want = np.nanmean(np.where(keep, x, np.nan) / (med / med[0])[:, None, None], axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("cen", ["lower_median", "lower-median", "lower median"])
def test_long_lower_median_names(cen):
    x = np.array([1.0, 2.0, 4.0, 8.0, 100.0, 3.0]).reshape(6, 1)
    a = imck.sigclip(x, cenfunc=cen, sigma=2.0, nkeep=0)
    b = imck.sigclip(x, cenfunc="lmedian", sigma=2.0, nkeep=0)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("name, canonical", [("standard_deviation", "std"), ("standard-deviation", "std"),
                                             ("median_absolute_deviation", "mad"),
                                             ("median-absolute-deviation", "mad")])
def test_long_stdfunc_names(name, canonical):
    x = small(n=12)
    np.testing.assert_array_equal(imck.sigclip(x, stdfunc=name)[1], imck.sigclip(x, stdfunc=canonical)[1])


def test_weighted_average_spelled_wvg_style():
    x = small()
    w = np.linspace(1.0, 2.0, 9)
    np.testing.assert_allclose(imc.Combiner(x).combine("avg", weight=w), np.average(x, axis=0, weights=w),
                               rtol=1e-12)


def test_ccdclip_1d_with_gain_one_is_the_stack_kernel():
    v = np.array([98.0, 99, 100, 100, 101, 102, 130])
    m1 = imck.ccdclip_mask_1d(v, sigma=2.0, rdnoise=5.0, nkeep=0)
    np.testing.assert_array_equal(m1, imck.ccdclip_mask(v[:, None], sigma=2.0, rdnoise=5.0, nkeep=0)[:, 0])
    assert m1.tolist() == [False] * 6 + [True]


def test_grow_sizes():
    m = np.zeros((1, 7, 7), bool)
    m[0, 3, 3] = True
    assert imck.grow_mask(m, 1).sum() == 5
    assert imck.grow_mask(m, math.sqrt(2)).sum() == 9
    assert imck.grow_mask(m, 2).sum() == 13
    assert imck.grow_mask(m, 100).sum() == 49
    m3 = np.zeros((1, 3, 3, 3), bool)
    m3[0, 1, 1, 1] = True
    assert imck.grow_mask(m3, 1).sum() == 7


def test_all_masked_element():
    x = small()
    m = np.zeros(x.shape, bool)
    m[:, 0, 0] = True
    for method in ("mean", "median", "min", "max"):
        assert np.isnan(imc.Combiner(x, m).combine(method, rejectors=imc.SigClip())[0, 0])
    assert imc.Combiner(x, m).combine("sum")[0, 0] == 0.0
    r = imck.sigclip(x, mask=m)
    assert r[0][:, 0, 0].all() and np.isnan(r[1][0, 0]) and np.isnan(r[2][0, 0]) and r[4][0, 0] == 1


def test_single_frame_minmax_rejects_everything():
    x = np.ones((1, 2, 2))
    assert np.all(np.isnan(imc.Combiner(x).combine("mean", rejectors=imc.MinMaxClip(1, 1))))


def test_sample_flags_after_a_full_combine():
    x = small()
    cmb = imc.Combiner(x)
    out = cmb.combine("mean", rejectors=[imc.SigClip(sigma=2.5)], diagnostics="full")
    assert cmb.sample_flags.shape == x.shape and cmb.sample_flags.dtype == np.uint8
    assert cmb.sample_flags[2, 1, 1] & imc.SampleFlags.ALGORITHM
    assert np.asarray(out).shape == x.shape[1:]


def test_result_of_a_diagnostics_combine_is_the_image():
    x = small()
    cmb = imc.Combiner(x)
    out = cmb.combine("median", rejectors=imc.SigClip(sigma=2.5), diagnostics="simple")
    assert out.shape == x.shape[1:] and out.dtype == x.dtype
    assert abs(float(out.mean()) - 100.0) < 2.0
    assert np.all(np.abs(out - 100.0) < 10.0)
    np.testing.assert_allclose(out, imc.Combiner(x).combine("median", rejectors=imc.SigClip(sigma=2.5)))
