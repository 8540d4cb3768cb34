"""Live parity with real IRAF 2.17 for the output geometry IRAF allows beyond equal frames.

Random (seeded) draws run the real ``imcombine`` through ``irafcl`` next to ours on the
same FITS files, for:

* images of **different sizes** (the output covers every image at its offset; with
  ``offsets="none"`` all start at the first pixel), 2-D, with offsets files, grids,
  ``outlimits``, masks named by each image's BPM keyword, rejection and scaling;
* **three-axis images** placed at offsets (one offset per axis), sizes differing too;
* ``project=yes``: each input cube combined along its highest axis, one output per input
  (IRAF's output lists), with per-plane offsets, the cube's mask (3-D, or 2-D for every
  plane) and header-driven factors.

The output and every product (sigma, nrejmask, expmask, bpmask) must equal IRAF's bit for
bit, and the output header's axis lengths, LTV shift and NCOMBINE must be IRAF's. The
out-of-core engine (strips of one or two lines) must equal the in-memory result bit for
bit. Skipped when IRAF is not installed (``apt-get install iraf iraf-noao``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

import imcombiners as imc
import imcombiners.dask as imd
from benchmarks._iraf import available
from tests.helpers.iraf_live import run_iraf

pytestmark = [
    pytest.mark.iraf,
    pytest.mark.skipif(not available(), reason="IRAF not installed (apt-get install iraf iraf-noao)"),
]

PRODUCTS = ["sigma", "nrejmask", "expmask", "bpmask"]
_MASKTYPES = [("goodvalue", 0), ("badvalue", 1), ("goodbits", 12), ("badbits", 5), ("goodvalue", "<4")]


def _params(rng: np.random.Generator, stats_ok: bool = True) -> dict:
    """Rejection, combine and factor parameters (IRAF's names)."""
    reject = str(rng.choice(["none", "minmax", "sigclip", "avsigclip", "ccdclip", "crreject", "pclip"]))
    stats = stats_ok and rng.random() < 0.5
    return {
        "combine": str(rng.choice(["average", "median", "lmedian", "sum"])),
        "reject": reject,
        "mclip": bool(rng.random() < 0.6),
        "lsigma": float(rng.choice([2.0, 3.0])),
        "hsigma": float(rng.choice([2.0, 3.0])),
        "nkeep": int(rng.choice([1, 0, -1, 2])),
        "rdnoise": float(rng.choice([3.0, 8.0])),
        "gain": float(rng.choice([1.0, 2.5])),
        "scale": str(rng.choice(["mode", "median", "mean"])) if stats else "none",
        "zero": str(rng.choice(["none", "median"])) if stats else "none",
        "weight": str(rng.choice(["none", "exposure"])),
        "expname": "EXPTIME",
        "blank": -1.0,
        "grow": float(rng.choice([0.0, 0.0, 0.0, 1.0])),
    }


def _frame(rng: np.random.Generator, shape: tuple[int, ...], level: float) -> np.ndarray:
    data = rng.normal(level * rng.uniform(0.9, 1.1), np.sqrt(level) + 3, shape)
    hits = rng.random(shape) < 0.03
    data[hits] += rng.uniform(10, 60, hits.sum()) * np.sqrt(level)
    return data.astype(np.float32)


def _write(tmp_path, images, masks=None, headers=None, prefix="f") -> tuple[list[str], dict]:
    """FITS files of the images (with EXPTIME and, for masks, a BPM keyword)."""
    files, extra = [], {}
    for i, img in enumerate(images):
        h = fits.Header()
        h["EXPTIME"] = float(10 * (i % 3 + 1))
        for k, v in (headers[i] if headers else {}).items():
            h[k] = v
        if masks is not None and masks[i] is not None:
            name = f"{prefix}m{i:03d}.fits"
            fits.PrimaryHDU(np.asarray(masks[i]).astype(np.int32)).writeto(tmp_path / name)
            extra[name] = str(tmp_path / name)
            h["BPM"] = name
        p = tmp_path / f"{prefix}{i:03d}.fits"
        fits.PrimaryHDU(img, header=h).writeto(p)
        files.append(str(p))
    return files, extra


def _offsets_file(tmp_path, rows: np.ndarray, absolute: bool, extra: dict) -> str:
    text = ("# Absolute\n" if absolute else "") + "".join(" ".join(str(int(v)) for v in r) + "\n" for r in rows)
    (tmp_path / "offsets.txt").write_text(text)
    extra["offsets.txt"] = str(tmp_path / "offsets.txt")
    return "offsets.txt"


def _ours_kwargs(params: dict, tmp_path) -> dict:
    kw = dict(params)
    if kw.get("offsets") == "offsets.txt":
        kw["offsets"] = str(tmp_path / "offsets.txt")
    return kw


def _assert_same(expected: dict, ours, what: str) -> None:
    assert ours.output.shape == expected["output"].shape, (what, ours.output.shape, expected["output"].shape)
    for name in ["output", *PRODUCTS]:
        got, exp = getattr(ours, name), expected[name]
        same = np.array_equal(got, exp) if name != "sigma" else np.array_equal(got.view(np.int32),
                                                                                 exp.view(np.int32))
        if name == "output":
            same = np.array_equal(got.view(np.int32), exp.view(np.int32))
        assert same, f"{name}: {np.sum(got != exp)} of {got.size} pixels differ from IRAF for {what}"
    header = expected["header"]
    for key in [k for k in header if k.startswith(("NAXIS", "LTV", "NCOMBINE"))]:
        assert ours.header.get(key) == header[key], (key, ours.header.get(key), header[key], what)
    assert sum(k.startswith("IMCMB") for k in ours.header) == sum(k.startswith("IMCMB") for k in header)


def _assert_out_of_core(files: list[str], kw: dict, ours, tiles) -> None:
    for tile in tiles:
        lazy = imd.imcombine(files, products=PRODUCTS, outtype="real", tile=tile, **kw)
        results = lazy if isinstance(lazy, list) else [lazy]
        mine = ours if isinstance(ours, list) else [ours]
        for lz, mem in zip(results, mine):
            got = lz.compute()
            for name in ["output", *PRODUCTS]:
                assert np.array_equal(getattr(got, name), getattr(mem, name)), (name, tile, kw)
            assert got.header == mem.header


# ----------------------------------------------------------------------------- sizes


def _draw_sizes(seed: int, tmp_path):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 8))
    shapes = [(int(rng.integers(8, 20)), int(rng.integers(8, 20))) for _ in range(n)]
    level = float(rng.uniform(300, 3000))
    images = [_frame(rng, s, level) for s in shapes]
    masks = None
    params = _params(rng)
    if rng.random() < 0.4:
        params["masktype"], mv = _MASKTYPES[int(rng.integers(len(_MASKTYPES)))]
        params["maskvalue"] = str(mv)
        masks = [np.where(rng.random(s) < 0.08, rng.integers(1, 16, s), 0) for s in shapes]
    files, extra = _write(tmp_path, images, masks)
    kind = str(rng.choice(["none", "none", "file", "absolute", "grid"]))
    if kind in ("file", "absolute"):
        rows = rng.integers(-5, 6, (n, 2)) + (6 if kind == "absolute" else 0)
        params["offsets"] = _offsets_file(tmp_path, rows, kind == "absolute", extra)
    elif kind == "grid":
        params["offsets"] = f"grid 2 {int(rng.integers(6, 20))} 3 {int(rng.integers(6, 20))}"
    if kind != "none" and rng.random() < 0.3 and masks is None:
        params["outlimits"] = f"{int(rng.integers(1, 5))} {int(rng.integers(12, 25))}"
    if params["grow"] and params["nkeep"] <= 0:
        params["nkeep"] = 1  # the stale-buffer rows of docs/iraf-differences.md
    return files, extra, params


@pytest.mark.parametrize("seed", range(24))
def test_images_of_different_sizes_match_real_iraf(seed, tmp_path):
    files, extra, params = _draw_sizes(7000 + seed, tmp_path)
    expected = run_iraf(files, params, products=PRODUCTS, extra=extra)
    kw = _ours_kwargs(params, tmp_path)
    if expected is None:  # IRAF refused (e.g. no valid pixel for the statistics): so must we
        with pytest.raises(ValueError):
            imc.imcombine(files, **kw)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = imc.imcombine(files, products=PRODUCTS, outtype="real", **kw)
        _assert_same(expected[0], ours, f"seed {seed} {params} shapes {[fits.getdata(f).shape for f in files]}")
        _assert_out_of_core(files, kw, ours, [(1, 200), (2, 200)])


# ----------------------------------------------------------------------------- 3-D offsets


@pytest.mark.parametrize("seed", range(12))
def test_offsets_of_three_axis_images_match_real_iraf(seed, tmp_path):
    rng = np.random.default_rng(8000 + seed)
    n = int(rng.integers(3, 7))
    same = rng.random() < 0.4
    base = (int(rng.integers(2, 5)), int(rng.integers(5, 12)), int(rng.integers(5, 12)))
    shapes = [base if same else (int(rng.integers(2, 5)), int(rng.integers(5, 12)), int(rng.integers(5, 12)))
              for _ in range(n)]
    images = [_frame(rng, s, 1000.0) for s in shapes]
    params = _params(rng)
    params["grow"] = 0.0  # grow is checked in 2-D (IRAF grows within a plane)
    files, extra = _write(tmp_path, images)
    kind = str(rng.choice(["file", "file", "grid", "none"]))
    if kind == "file":
        rows = rng.integers(-3, 4, (n, 3))
        params["offsets"] = _offsets_file(tmp_path, rows, False, extra)
    elif kind == "grid":
        params["offsets"] = f"grid 2 {int(rng.integers(3, 12))} 1 0 2 {int(rng.integers(1, 4))}"
    if kind != "none" and rng.random() < 0.3:
        params["outlimits"] = f"2 {int(rng.integers(6, 15))} 1 {int(rng.integers(4, 12))} 2 {int(rng.integers(2, 6))}"
    expected = run_iraf(files, params, products=PRODUCTS, extra=extra)
    kw = _ours_kwargs(params, tmp_path)
    assert expected is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = imc.imcombine(files, products=PRODUCTS, outtype="real", **kw)
        _assert_same(expected[0], ours, f"seed {seed} {params} shapes {shapes}")
        _assert_out_of_core(files, kw, ours, [(1, 1, 200), (1, 3, 200)])


# ----------------------------------------------------------------------------- project=yes


@pytest.mark.parametrize("seed", range(12))
def test_project_matches_real_iraf(seed, tmp_path):
    rng = np.random.default_rng(9000 + seed)
    ninputs = int(rng.integers(1, 3))
    shapes = [(int(rng.integers(3, 7)), int(rng.integers(6, 14)), int(rng.integers(6, 14))) for _ in range(ninputs)]
    cubes = [np.stack([_frame(rng, s[1:], 800.0) for _ in range(s[0])]) for s in shapes]
    params = _params(rng)
    params["project"] = True
    params["weight"] = "none"  # every plane has the image's exposure
    masks = None
    if rng.random() < 0.5:
        params["masktype"], mv = _MASKTYPES[int(rng.integers(len(_MASKTYPES)))]
        params["maskvalue"] = str(mv)
        masks = [np.where(rng.random(s if rng.random() < 0.5 else s[1:]) < 0.1, rng.integers(1, 16), 0)
                 for s in shapes]
        for m in masks:
            if m.ndim == 3:  # IRAF: "all 0 = no mask" is judged on the whole mask, not per plane
                m[int(rng.integers(m.shape[0]))] = 0
        if params["grow"]:
            params["nkeep"] = max(1, params["nkeep"])
    headers = [{"NCOMBINE": int(rng.integers(1, 5))} for _ in range(ninputs)]
    files, extra = _write(tmp_path, cubes, masks, headers)
    if rng.random() < 0.5:
        rows = rng.integers(-3, 4, (max(s[0] for s in shapes), 2))
        params["offsets"] = _offsets_file(tmp_path, rows, False, extra)
    expected = run_iraf(files, params, outputs=ninputs, products=PRODUCTS, extra=extra)
    assert expected is not None
    kw = _ours_kwargs(params, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = imc.imcombine(files, products=PRODUCTS, outtype="real", **kw)
        assert isinstance(ours, list) and len(ours) == ninputs
        for k in range(ninputs):
            _assert_same(expected[k], ours[k], f"seed {seed} input {k} {params} shapes {shapes}")
        _assert_out_of_core(files, kw, ours, [(1, 200)])
