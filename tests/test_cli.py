"""The console script, run as a user runs it (subprocess).

Golden outputs are checked against independent NumPy/astropy computations on the same
input files, never against this library's own results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

N, H, W = 7, 20, 24


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """``imcombiners ARGS`` (the installed script, else ``python -m imcombiners.cli``)."""
    exe = shutil.which("imcombiners")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "imcombiners.cli", *args]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """N float32 frames with planted outliers, and N uint16 (BZERO) frames."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(11)
    stack = rng.normal(1000.0, 10.0, (N, H, W)).astype(np.float32)
    hits = rng.random((N, H, W)) < 0.03
    stack[hits] += 5000.0  # cosmic rays: far outside 3 sigma
    ustack = rng.poisson(800.0, (N, H, W)).astype(np.uint16)
    for i in range(N):
        fits.PrimaryHDU(stack[i]).writeto(d / f"f{i}.fits")
        fits.PrimaryHDU(ustack[i]).writeto(d / f"u{i}.fits")
    (d / "f.lis").write_text("".join(f"f{i}.fits\n" for i in range(N)))
    return d, stack, ustack


def test_combine_median_with_products_and_preview(frames):
    d, stack, _ = frames
    proc = run("combine", "f*.fits", "-o", "med.fits", "--method", "median",
               "--diagnostics", "diag", "--products", "nrej,nused,flags", "--preview", "med.png",
               "--memory-limit", "2GB", cwd=d)
    assert "wrote med.fits" in proc.stdout
    out = fits.getdata(d / "med.fits")
    np.testing.assert_array_equal(out, np.median(stack, axis=0))  # odd N: exact
    hdr = fits.getheader(d / "med.fits")
    assert hdr["NCOMBINE"] == N and hdr["IMCMB001"] == "f0.fits" and hdr[f"IMCMB{N:03d}"] == f"f{N - 1}.fits"
    assert hdr["IMCMETH"] == "median" and "IMCVERS" in hdr and "IMCPARAM" in hdr
    assert out.dtype.newbyteorder("=") == np.float32 and out.shape == (H, W)
    # No rejection: every sample used.
    np.testing.assert_array_equal(fits.getdata(d / "diag" / "nrej.fits"), 0)
    np.testing.assert_array_equal(fits.getdata(d / "diag" / "nused.fits"), N)
    from PIL import Image

    with Image.open(d / "med.png") as im:
        assert im.format == "PNG" and im.size == (1500, 560)


def test_combine_sigclip_against_astropy(frames):
    from astropy.stats import sigma_clip

    d, stack, _ = frames
    run("combine", "@f.lis", "-o", "sc.fits", "--method", "mean", "--reject", "sigclip",
        "--lsigma", "3", "--hsigma", "3", "--maxiters", "5", "--diagnostics", "scdiag",
        "--products", "nrej,std", cwd=d)
    clipped = sigma_clip(stack.astype(np.float64), sigma=3, maxiters=5, cenfunc="median",
                         stdfunc="std", axis=0)
    expected = clipped.mean(axis=0).filled(np.nan)
    np.testing.assert_allclose(fits.getdata(d / "sc.fits"), expected, rtol=1e-6)
    np.testing.assert_array_equal(fits.getdata(d / "scdiag" / "nrej.fits"), clipped.mask.sum(axis=0))
    assert (d / "scdiag" / "std.fits").exists()


def _sigclip_mean_reference(stack: np.ndarray, k: float, ddof: int) -> np.ndarray:
    """Median-centred sigma clipping, spread sqrt(sum((x - median)^2) / (n - ddof)) about the
    median, until a pass rejects nothing; then the mean (the library's SigClip semantics)."""
    data = stack.astype(np.float64).reshape(stack.shape[0], -1)
    out = np.empty(data.shape[1])
    for j in range(data.shape[1]):
        x = np.sort(data[:, j])
        while x.size > ddof:
            c = np.median(x)
            s = np.sqrt(np.sum((x - c) ** 2) / (x.size - ddof))
            keep = (x >= c - k * s) & (x <= c + k * s)
            if keep.all():
                break
            x = x[keep]
        out[j] = x.mean()
    return out.reshape(stack.shape[1:])


@pytest.mark.parametrize("ddof", [0, 1])
def test_combine_sigclip_ddof(frames, ddof):
    d, _, ustack = frames
    out_name = f"ddof{ddof}.fits"
    run("combine", "u*.fits", "-o", out_name, "--method", "mean", "--reject", "sigclip",
        "--lsigma", "1.5", "--hsigma", "1.5", "--maxiters", "100", "--ddof", str(ddof), cwd=d)
    got = fits.getdata(d / out_name)
    np.testing.assert_allclose(got, _sigclip_mean_reference(ustack, 1.5, ddof), rtol=1e-6)
    # the two spreads must lead to different rejections somewhere, or this proves nothing
    other = _sigclip_mean_reference(ustack, 1.5, 1 - ddof)
    assert np.any(np.abs(got - other) > 1e-3)


def test_combine_minmax_uint16_to_zarr(frames):
    import zarr

    d, _, ustack = frames
    run("combine", ",".join(f"u{i}.fits" for i in range(N)), "-o", "mm.zarr", "--method", "mean",
        "--reject", "minmax", "--nlow", "1", "--nhigh", "2", cwd=d)
    group = zarr.open_group(str(d / "mm.zarr"), mode="r")
    expected = np.sort(ustack.astype(np.float64), axis=0)[1:-2].mean(axis=0)
    np.testing.assert_allclose(np.asarray(group["data"]), expected, rtol=1e-6)


def test_combine_scale_and_thresholds(frames):
    d, stack, _ = frames
    run("combine", "f*.fits", "-o", "scaled.fits", "--method", "mean", "--scale", "1,2,1,1,1,1,4",
        "--lthreshold", "0", "--hthreshold", "3000", "--dtype", "float64", cwd=d)
    scale = np.array([1, 2, 1, 1, 1, 1, 4], np.float64)[:, None, None]
    data = stack.astype(np.float64)
    keep = (data >= 0) & (data <= 3000)
    expected = np.nanmean(np.where(keep, data / scale, np.nan), axis=0)
    out = fits.getdata(d / "scaled.fits")
    assert out.dtype == np.dtype(">f8")
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_imcombine_iraf_form(frames):
    d, stack, _ = frames
    proc = run("imcombine", "@f.lis", "iraf.fits", "combine=average", "reject=minmax",
               "nlow=1", "nhigh=1", "nrejmasks=nrej.fits", "sigmas=sig.fits", cwd=d)
    assert "IMCOMBINE" in proc.stdout and "Output image = iraf.fits" in proc.stdout
    expected = np.sort(stack.astype(np.float64), axis=0)[1:-1].mean(axis=0)
    np.testing.assert_allclose(fits.getdata(d / "iraf.fits"), expected, rtol=1e-6)
    np.testing.assert_array_equal(fits.getdata(d / "nrej.fits"), 2)
    sig = fits.getdata(d / "sig.fits")
    assert sig.shape == (H, W) and np.all(np.isfinite(sig))
    assert fits.getheader(d / "iraf.fits")["NCOMBINE"] == N


def test_plan_is_a_dry_run(frames):
    d, _, _ = frames
    before = set(os.listdir(d))
    proc = run("plan", "f*.fits", "--reject", "sigclip", "--memory-limit", "1GB", cwd=d)
    for word in ("tiles", "memory", "predicted peak", "time"):
        assert word in proc.stdout
    assert set(os.listdir(d)) == before


@pytest.mark.parametrize(
    "args, message",
    [(["combine", "f0.fits", "nope.fits", "-o", "x.fits"], "input file not found: 'nope.fits'"),
     (["combine", "f0.fits", "small.fits", "-o", "x.fits"], "has shape (4, 4), expected (20, 24)"),
     (["combine", "f0.fits", "i64.fits", "-o", "x.fits"], "unsupported pixel type int64"),
     (["imcombine", "f*.fits", "x.fits", "lsigmaa=3"], "unknown parameter 'lsigmaa'"),
     (["combine", "f*.fits", "-o", "x.fits", "--reject", "sigclip", "--lsigma", "-2"], "sigma")],
)
def test_bad_input_exits_2_with_one_line(frames, args, message):
    d, _, _ = frames
    if not (d / "small.fits").exists():
        fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(d / "small.fits")
        fits.PrimaryHDU(np.zeros((H, W), np.int64)).writeto(d / "i64.fits")
    proc = run(*args, cwd=d, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (d / "x.fits").exists()


def test_version_and_help(tmp_path):
    proc = run("--version", cwd=tmp_path)
    assert proc.stdout.startswith("imcombiners ")
    proc = run("combine", "--help", cwd=tmp_path)
    assert "SYNOPSIS" in proc.stdout and "EXAMPLES" in proc.stdout


def test_demo_leaves_fits_and_png(tmp_path):
    from PIL import Image

    proc = run("demo", "--dir", "out", "--frames", "8", "--size", "96x128", cwd=tmp_path)
    out = tmp_path / "out"
    for name in ("master.fits", "nrej.fits", "quicklook.png"):
        assert (out / name).exists() and name in proc.stdout
    assert len(list((out / "raw").glob("*.fits"))) == 8
    assert "total time" in proc.stdout
    master = fits.getdata(out / "master.fits")
    assert master.shape == (96, 128) and np.isfinite(master).all()
    with Image.open(out / "quicklook.png") as im:
        assert im.format == "PNG" and im.size == (1500, 560)
