"""Per-frame statistics, statsec parsing and zero/scale/weights resolution."""

from __future__ import annotations

import numpy as np
import pytest

import imcombiners as imc
from imcombiners import _stats
from imcombiners._stats import frame_statistic, parse_statsec, resolve_normalisation


# --------------------------------------------------------------------------- statsec


def test_iraf_sections_are_one_based_inclusive_and_x_first():
    assert parse_statsec("[2:5,10:20]", (30, 40)) == (slice(9, 20, 1), slice(1, 5, 1))
    assert parse_statsec("[*,3]", (30, 40)) == (slice(2, 3, 1), slice(None))
    assert parse_statsec("[5:2]", (10,)) == (slice(1, 5, 1),)  # flipped: same pixels
    assert parse_statsec("[1:10:2, 1:4]", (4, 10)) == (slice(0, 4, 1), slice(0, 10, 2))
    frame = np.arange(12 * 20).reshape(12, 20)
    sec = parse_statsec("[3:7,2:4]", frame.shape)
    np.testing.assert_array_equal(frame[sec], frame[1:4, 2:7])


def test_numpy_statsec_and_errors():
    assert parse_statsec((slice(1, 3),), (5, 6)) == (slice(1, 3), slice(None))
    assert parse_statsec(None, (5, 6)) is None
    with pytest.raises(ValueError, match="outside 1..40"):
        parse_statsec("[0:5,1:2]", (30, 40))
    with pytest.raises(ValueError, match="2 axes but a frame has 1"):
        parse_statsec("[1:2,1:2]", (30,))
    with pytest.raises(ValueError, match="IRAF section"):
        parse_statsec("1:2,1:2", (30, 40))
    with pytest.raises(ValueError, match="selects no pixel"):
        parse_statsec((slice(5, 5),), (30, 40))
    with pytest.raises(TypeError, match="statsec must be"):
        parse_statsec(3, (30, 40))


# --------------------------------------------------------------------------- statistics


def _frame(seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(50.0, 3.0, (40, 50))
    f[3, 4] = np.inf      # the 0.1.1 statistics did not skip inf
    f[5, 6] = -np.inf
    f[7, 8] = np.nan
    f[10, 10] = 1e5
    return f


@pytest.mark.parametrize("name, ref", [
    ("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max), ("sum", np.sum),
])
def test_plain_statistics_skip_masked_nonfinite_and_thresholded(name, ref):
    f = _frame()
    mask = np.zeros(f.shape, bool)
    mask[20:25] = True
    valid = np.isfinite(f) & ~mask & (f <= 1000)
    got = frame_statistic(f, mask, name, thresholds=(-np.inf, 1000))
    assert got == pytest.approx(ref(f[valid]), rel=1e-12)
    sec = (slice(0, 15), slice(2, 30))
    got = frame_statistic(f, mask, name, statsec=sec)
    v = f[sec][np.isfinite(f[sec]) & ~mask[sec]]
    assert got == pytest.approx(ref(v), rel=1e-12)


def test_integer_and_bigendian_frames():
    f = np.arange(100, dtype=">u2").reshape(10, 10)
    assert frame_statistic(f, None, "median") == 49.5
    assert frame_statistic(f.astype(np.int32), None, "mean") == 49.5


def test_sigclip_statistics_match_astropy():
    from astropy.stats import sigma_clipped_stats

    f = _frame(1)
    valid = np.isfinite(f)
    mean, median, _ = sigma_clipped_stats(f[valid], sigma=3, maxiters=5, cenfunc="median", stdfunc="std")
    assert frame_statistic(f, None, "sigclip_mean") == pytest.approx(mean, rel=1e-12)
    assert frame_statistic(f, None, "sigclip_median") == pytest.approx(median, rel=1e-12)


def test_mode_finds_the_peak_and_agrees_with_the_numpy_fallback():
    rng = np.random.default_rng(4)
    # sky at 300 plus a long tail of sources: the mode sits at the sky, below the mean
    f = np.concatenate([rng.normal(300, 2, 5000), rng.exponential(200, 2000) + 300])
    got = frame_statistic(f.reshape(70, 100), None, "mode")
    assert abs(got - 300) < 2 and got < np.mean(f) - 30
    assert got in f  # IRAF's mode is always a data value
    for seed in range(5):
        v = np.random.default_rng(seed).gamma(3.0, 10.0, 999)
        assert frame_statistic(v.reshape(27, 37), None, "mode") == _stats._numpy_statistic(v, "mode", 3, 3, 5)
    assert frame_statistic(np.array([[1.0, 2.0, 3.0, 4.0]]), None, "mode") == 2.0  # n < 10: sorted[n//2 - 1]


def test_numpy_fallback_matches_core_for_every_statistic():
    f = _frame(2)
    mask = np.zeros(f.shape, bool)
    mask[::7] = True
    valid = np.isfinite(f) & ~mask
    for name in _stats.STATISTICS:
        core = frame_statistic(f, mask, name)
        fallback = _stats._numpy_statistic(f[valid], name, 3.0, 3.0, 5)
        assert core == pytest.approx(fallback, rel=1e-12), name


def test_callable_gets_a_masked_frame():
    f = _frame()
    mask = np.zeros(f.shape, bool)
    mask[0] = True
    seen = {}

    def stat(ma):
        seen["ma"] = ma
        return np.ma.median(ma)

    got = frame_statistic(f, mask, stat, thresholds=(0, 1000))
    ma = seen["ma"]
    assert isinstance(ma, np.ma.MaskedArray)
    assert ma.mask[0].all() and ma.mask[3, 4] and ma.mask[7, 8] and ma.mask[10, 10]
    valid = np.isfinite(f) & ~mask & (f <= 1000) & (f >= 0)
    assert got == pytest.approx(np.median(f[valid]))
    assert np.isnan(frame_statistic(f, np.ones(f.shape, bool), lambda ma: ma.mean()))


def test_empty_frame_gives_nan():
    f = np.full((4, 4), np.nan)
    assert np.isnan(frame_statistic(f, None, "median"))


# --------------------------------------------------------------------------- normalisation


def _stat_table(table):
    return lambda i, spec: table[spec][i]


def test_relative_zero_and_scale():
    stats = {"median": [100.0, 300.0, 200.0], "mean": [2.0, 4.0, 1.0]}
    z, s, w = resolve_normalisation(3, "median", "mean", None, stat_of=_stat_table(stats))
    np.testing.assert_allclose(s, [1.0, 2.0, 0.5])
    # zero such that (zero_i - z_i) / s_i == zero_0 / s_0 for every frame
    np.testing.assert_allclose(z, [0.0, 300.0 - 100.0 * 2.0, 200.0 - 100.0 * 0.5])
    assert w is None
    z, s, _ = resolve_normalisation(3, "median", None, None, stat_of=_stat_table(stats))
    np.testing.assert_allclose(z, [0.0, 200.0, 100.0])
    assert s is None
    z, s, _ = resolve_normalisation(3, "median", "mean", None, stat_of=_stat_table(stats), relative=False)
    np.testing.assert_allclose(z, [100.0, 300.0, 200.0])
    np.testing.assert_allclose(s, [2.0, 4.0, 1.0])


def test_scalars_sequences_callables_and_weights():
    stat_of = lambda i, spec: float(spec(np.ma.MaskedArray([i + 1.0]))) if callable(spec) else 7.0  # noqa: E731
    z, s, w = resolve_normalisation(3, 5.0, [2, 4, 8], "mean", stat_of=stat_of)
    np.testing.assert_allclose(z, [5.0, 5.0, 5.0])          # scalar: as given
    np.testing.assert_allclose(s, [1.0, 2.0, 4.0])          # sequence: relative
    np.testing.assert_allclose(w, [7.0, 7.0, 7.0])          # weights: never rebased
    z, _, _ = resolve_normalisation(3, lambda ma: ma.sum() * 10, None, None, stat_of=stat_of)
    np.testing.assert_allclose(z, [0.0, 10.0, 20.0])
    with pytest.raises(ValueError, match="weights must not all be zero"):
        resolve_normalisation(3, None, None, [0, 0, 0], stat_of=stat_of)
    with pytest.raises(TypeError, match="must return a number"):
        frame_statistic(np.ones((3, 3)), None, lambda ma: "x")


def test_combiner_uses_statsec_for_scale():
    rng = np.random.default_rng(3)
    s = rng.normal(100, 1, (4, 30, 30)) * np.array([1, 2, 3, 4.0])[:, None, None]
    s[:, :10] = 1e4  # garbage outside the statistics region
    res = imc.Combiner(s).combine("mean", scale="median", statsec="[1:30,11:30]", diagnostics="simple")
    np.testing.assert_allclose(res.scale, [1, 2, 3, 4], rtol=0.01)
