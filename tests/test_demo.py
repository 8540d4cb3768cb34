"""The synthetic frame generator, the PNG quick-look and the demo job."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from imcombiners.demo import simulate_frames, write_raw_frames
from imcombiners.quicklook import quicklook, zscale_limits


@pytest.fixture(scope="module")
def sim():
    return simulate_frames(n_frames=8, shape=(96, 128), seed=7)


def test_simulation_is_deterministic_and_typed(sim):
    again = simulate_frames(n_frames=8, shape=(96, 128), seed=7)
    assert np.array_equal(sim.data, again.data)
    assert sim.data.shape == (8, 96, 128) and sim.data.dtype == np.uint16
    other = simulate_frames(n_frames=8, shape=(96, 128), seed=8)
    assert not np.array_equal(sim.data, other.data)
    f32 = simulate_frames(n_frames=6, shape=(32, 32), dtype="float32", seed=7)
    assert f32.data.dtype == np.float32


def test_simulation_has_the_advertised_defects(sim):
    data = sim.data.astype(np.float64)
    # Per-frame sky levels: the frame medians above bias follow the drawn sky ratios.
    good = [i for i in range(8) if i not in sim.bad_frames]
    levels = np.median(data - sim.bias, axis=(1, 2))
    ratio = levels[good] / levels[good[0]]
    assert np.allclose(ratio, sim.sky[good] / sim.sky[good[0]], rtol=0.02)
    # Read noise + Poisson: the difference of two normalised frames (the flat cancels)
    # scatters as the CCD noise model says.
    a, b = good[0], good[1]
    diff = (data[a] - sim.bias) / sim.sky[a] - (data[b] - sim.bias) / sim.sky[b]
    var = [(sim.sky[k] * sim.gain + sim.rdnoise**2) / sim.gain**2 / sim.sky[k] ** 2 for k in (a, b)]
    robust = 1.4826 * np.median(np.abs(diff - np.median(diff)))
    assert robust == pytest.approx(np.sqrt(sum(var)), rel=0.1)
    # Hot columns stand out in every frame.
    for col in sim.hot_columns:
        left, right = max(col - 2, 0), min(col + 2, data.shape[2] - 1)
        excess = data[:, :, col] - 0.5 * (data[:, :, left] + data[:, :, right])
        assert np.all(np.median(excess, axis=1) > 250)
    # Cosmic rays, a streak frame and two bad frames exist.
    assert sim.cosmic_rays.any() and sim.cosmic_rays.shape == sim.data.shape
    assert len(sim.bad_frames) == 2 and 0 <= sim.streak_frame < 8
    dead = [k for k, v in sim.bad_frames.items() if "dead rows" in v][0]
    assert np.min(np.median(data[dead], axis=1)) < sim.bias + 10  # rows at bias level
    # The flat is normalised.
    assert abs(float(sim.flat.mean()) - 1.0) < 1e-5


def test_raw_frames_are_uint16_with_bzero(sim, tmp_path):
    paths = write_raw_frames(sim, tmp_path)
    assert len(paths) == 8
    with fits.open(paths[0]) as hdul:
        raw_header = hdul[0]._header if hasattr(hdul[0], "_header") else hdul[0].header
        assert raw_header["BITPIX"] == 16 and raw_header["BZERO"] == 32768
        assert hdul[0].header["GAIN"] == sim.gain
        np.testing.assert_array_equal(hdul[0].data, sim.data[0])


def test_quicklook_png_is_a_real_image(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    img = rng.normal(100, 5, (200, 300)).astype(np.float32)
    counts = rng.integers(0, 4, (200, 300)).astype(np.int16)
    path = quicklook([img, img * 2, counts], tmp_path / "q.png", titles=["a", "b", "c"],
                     panel_size=4.0, dpi=50)
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (3 * 4 * 50, int(round((4.0 + 0.6) * 50)))
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 10  # not a blank canvas


def test_zscale_limits_bracket_the_bulk():
    rng = np.random.default_rng(1)
    img = rng.normal(1000, 10, (100, 100))
    img[0, 0] = 1e6  # a hot pixel must not stretch the display
    lo, hi = zscale_limits(img)
    assert 900 < lo < 1000 < hi < 1100
    assert zscale_limits(np.full((4, 4), np.nan)) == (0.0, 1.0)


def test_quicklook_rejects_bad_panels(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        quicklook([np.zeros((2, 2, 2))], tmp_path / "x.png")
    with pytest.raises(ValueError, match="titles"):
        quicklook([np.zeros((4, 4))], tmp_path / "x.png", titles=["a", "b"])


def test_run_demo_small(tmp_path):
    from PIL import Image

    from imcombiners.demo import run_demo

    lines = []
    # 12 frames: with the spread about the median (0.1.1, IRAF), one outlier among n samples
    # is at most sqrt(n) sigma out, so 3-sigma clipping needs n > 9 to reject anything.
    res = run_demo(tmp_path / "demo", n_frames=12, shape=(64, 96), log=lines.append)
    assert len(res.raw_frames) == 12
    master = fits.getdata(res.master)
    nrej = fits.getdata(res.nrej)
    assert master.shape == nrej.shape == (64, 96)
    hdr = fits.getheader(res.master)
    assert hdr["NCOMBINE"] == 12 and "IMCMB001" in hdr
    # Independent check of the master: NumPy median of the frames scaled by their medians.
    stack = np.stack([fits.getdata(p).astype(np.float64) for p in res.raw_frames])
    med = np.median(stack, axis=(1, 2))
    ref = np.median(stack / (med / med[0])[:, None, None], axis=0)
    assert np.nanmedian(np.abs(master - ref) / ref) < 0.01
    # Rejections happened (cosmic rays, streak, bad frames) but are a small fraction.
    assert 0 < nrej.sum() < 0.25 * stack.size
    with Image.open(res.preview) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] > 100
    assert any("combined out of core" in line for line in lines)
