"""Synthetic raw frames and the ``imcombiners demo`` job.

The frames imitate a night of dithered sky flats from a CCD, with the defects
a real combine has to survive, so the demo shows what rejection is for:

* bias level with a faint column pattern, Gaussian read noise (in electrons),
* a flat-field pattern (vignetting, 1 % pixel-to-pixel response, dust donuts),
* Poisson sky whose level changes from frame to frame (a per-frame scale),
* stars that move between frames (dithering), so a median/clipped combine removes them,
* cosmic-ray hits (short tracks), hot columns and hot pixels (present in every frame,
  so *not* rejected: the master keeps them, as it should),
* a satellite streak in one frame,
* bad frames: one with a shutter failure (part of the frame underexposed) and one with
  a band of dead rows.

Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = [
    "SimulatedFrames",
    "simulate_frames",
    "write_raw_frames",
    "DemoResult",
    "run_demo",
    "DEFAULT_SEED",
]

DEFAULT_SEED = 20250311

# Detector model (values typical of a scientific CCD).
_BIAS = 1000.0  # ADU
_GAIN = 1.6  # e-/ADU
_RDNOISE = 4.5  # e-
_SATURATION = 65535.0  # uint16 full scale


@dataclass
class SimulatedFrames:
    """A synthetic raw-frame set and the truth behind it.

    Attributes
    ----------
    data : ndarray, shape (N, H, W)
        The raw frames (``uint16`` like a real CCD, or ``float32``).
    flat : ndarray, shape (H, W), float32
        The true flat-field pattern (mean 1 over the illuminated field).
    sky : ndarray, shape (N,)
        Sky level of each frame in ADU (before the flat); its ratio to ``sky[0]`` is
        the per-frame scale a combine with ``scale="median"`` should find.
    bias : float
        Bias level in ADU.
    gain, rdnoise : float
        Gain (e-/ADU) and read noise (e-), for ``ccdclip``.
    hot_columns : list of int
        Columns with extra dark current in every frame.
    streak_frame : int
        Index of the frame with a satellite streak.
    bad_frames : dict
        ``{index: description}`` of the deliberately bad frames.
    cosmic_rays : ndarray of bool, shape (N, H, W)
        Where cosmic rays hit.
    """

    data: np.ndarray
    flat: np.ndarray
    sky: np.ndarray
    bias: float = _BIAS
    gain: float = _GAIN
    rdnoise: float = _RDNOISE
    hot_columns: list[int] = field(default_factory=list)
    streak_frame: int = -1
    bad_frames: dict[int, str] = field(default_factory=dict)
    cosmic_rays: np.ndarray | None = None


def _flat_pattern(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / max(h, w)
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / max(h, w)
    r2 = y[:, None] ** 2 + x[None, :] ** 2
    flat = 1.0 - 0.6 * r2  # vignetting: about -15 % in the corners
    flat *= 1.0 + 0.01 * rng.standard_normal(shape, dtype=np.float32)  # pixel response
    for _ in range(max(1, (h * w) // 200_000)):  # dust donuts
        cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
        rad = rng.uniform(0.02, 0.05) * min(h, w)
        d = np.hypot(np.arange(h)[:, None] - cy, np.arange(w)[None, :] - cx)
        flat *= 1.0 - 0.04 * np.exp(-0.5 * ((d - rad) / (0.25 * rad)) ** 2).astype(np.float32)
    return (flat / flat.mean()).astype(np.float32)


def _add_stars(img: np.ndarray, stars: np.ndarray, shift: tuple[float, float]) -> None:
    # Gaussian PSF stamps (sigma 1.5 px); cheap because each stamp is 15x15.
    h, w = img.shape
    half = 7
    oy, ox = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    for sy, sx, flux in stars:
        cy, cx = sy + shift[0], sx + shift[1]
        iy, ix = int(round(cy)), int(round(cx))
        if not (half <= iy < h - half and half <= ix < w - half):
            continue
        dy, dx = cy - iy, cx - ix
        psf = np.exp(-((oy - dy) ** 2 + (ox - dx) ** 2) / (2 * 1.5**2))
        img[iy - half : iy + half + 1, ix - half : ix + half + 1] += flux / (2 * np.pi * 1.5**2) * psf


def _add_cosmic_rays(rng: np.random.Generator, img: np.ndarray, hits: np.ndarray, n: int) -> None:
    h, w = img.shape
    ys = rng.integers(0, h, n)
    xs = rng.integers(0, w, n)
    lengths = rng.integers(1, 5, n)
    dirs = rng.integers(0, 4, n)
    amps = rng.uniform(300, 15000, n).astype(np.float32)
    steps = np.array([(0, 1), (1, 0), (1, 1), (1, -1)])
    for y, x, length, d, a in zip(ys, xs, lengths, dirs, amps):
        for k in range(length):
            yy, xx = y + k * steps[d][0], x + k * steps[d][1]
            if 0 <= yy < h and 0 <= xx < w:
                img[yy, xx] += a * (0.6 ** k)
                hits[yy, xx] = True


def simulate_frames(
    n_frames: int = 24,
    shape: tuple[int, int] = (1024, 1024),
    *,
    dtype: str = "uint16",
    seed: int = DEFAULT_SEED,
    sky_range: tuple[float, float] = (4000.0, 12000.0),
    n_stars: int | None = None,
    cosmic_rate: float = 2.5e-4,
    bad_frames: bool = True,
) -> SimulatedFrames:
    """Make a realistic set of raw CCD frames in memory.

    Parameters
    ----------
    n_frames : int
        Number of frames N (at least 3; the bad frames need N >= 6).
    shape : (int, int)
        Frame shape (H, W).
    dtype : {"uint16", "float32"}
        ``uint16`` behaves like a real CCD (saturates at 65535, FITS stores it as
        BITPIX=16 with BZERO=32768); ``float32`` keeps the values unrounded.
    seed : int
        Seed of the random generator; the same seed gives the same frames.
    sky_range : (float, float)
        Range of sky levels in ADU drawn for the frames (the per-frame scale).
    n_stars : int, optional
        Stars per frame (default: one per 6000 pixels).
    cosmic_rate : float
        Cosmic-ray hits per pixel per frame.
    bad_frames : bool
        Include the shutter-failure and dead-rows frames.

    Returns
    -------
    SimulatedFrames
    """
    if n_frames < 3:
        raise ValueError(f"n_frames must be at least 3, got {n_frames}")
    if dtype not in ("uint16", "float32"):
        raise ValueError(f"dtype must be 'uint16' or 'float32', got {dtype!r}")
    h, w = (int(s) for s in shape)
    if h < 16 or w < 16:
        raise ValueError(f"shape must be at least (16, 16), got {shape}")
    rng = np.random.default_rng(seed)
    flat = _flat_pattern(rng, (h, w))
    bias_cols = (_BIAS + 2.0 * np.sin(np.arange(w) / 37.0)).astype(np.float32)
    hot_columns = sorted(rng.choice(w, size=min(3, w // 8), replace=False).tolist())
    hot_pixels = (rng.integers(0, h, h * w // 20000 + 1), rng.integers(0, w, h * w // 20000 + 1))
    n_stars = (h * w) // 6000 if n_stars is None else n_stars
    stars = np.column_stack(
        [rng.uniform(0, h, n_stars), rng.uniform(0, w, n_stars), rng.lognormal(9.0, 1.0, n_stars)]
    )
    sky = rng.uniform(*sky_range, n_frames)
    streak_frame = n_frames // 3
    bad: dict[int, str] = {}
    if bad_frames and n_frames >= 6:
        bad[n_frames // 2] = "shutter failure: top third of the frame underexposed"
        bad[n_frames - 2] = "readout fault: a band of dead rows at bias level"

    out = np.empty((n_frames, h, w), dtype=np.uint16 if dtype == "uint16" else np.float32)
    hits = np.zeros((n_frames, h, w), dtype=bool)
    dither = max(4.0, 0.02 * min(h, w))
    for i in range(n_frames):
        illum = np.full((h, w), sky[i], dtype=np.float32)
        _add_stars(illum, stars, (rng.uniform(-dither, dither), rng.uniform(-dither, dither)))
        if i in bad and "shutter" in bad[i]:
            illum[2 * h // 3 :] *= 0.55
        signal_e = illum * flat * _GAIN
        electrons = rng.poisson(signal_e).astype(np.float32)
        adu = electrons / _GAIN
        adu += bias_cols[None, :] + rng.normal(0.0, 0.8)  # per-frame bias offset
        adu += rng.standard_normal((h, w), dtype=np.float32) * (_RDNOISE / _GAIN)
        adu[:, hot_columns] += 350.0
        adu[hot_pixels] += 2500.0
        _add_cosmic_rays(rng, adu, hits[i], int(cosmic_rate * h * w))
        if i == streak_frame:
            # A satellite: a straight 3-pixel-wide trail across the frame.
            xs = np.arange(w)
            ys = (0.15 * h + 0.55 * h * xs / w).astype(int)
            for off, amp in ((-1, 900.0), (0, 2500.0), (1, 900.0)):
                yy = np.clip(ys + off, 0, h - 1)
                adu[yy, xs] += amp
        if i in bad and "dead rows" in bad[i]:
            r0 = h // 2 - h // 16
            adu[r0 : r0 + h // 32] = bias_cols[None, :]
        if dtype == "uint16":
            np.clip(np.rint(adu), 0, _SATURATION, out=adu)
        out[i] = adu
    return SimulatedFrames(
        data=out,
        flat=flat,
        sky=sky,
        hot_columns=hot_columns,
        streak_frame=streak_frame,
        bad_frames=bad,
        cosmic_rays=hits,
    )


def write_raw_frames(frames: SimulatedFrames, directory: str | os.PathLike, *, prefix: str = "raw") -> list[str]:
    """Write simulated frames as FITS files ``<prefix>_000.fits``, ... in ``directory``.

    ``uint16`` frames are written the way CCD cameras write them: BITPIX=16 with
    BZERO=32768. Headers carry the detector model (GAIN, RDNOISE, BIASLEV), the frame
    index and a mock exposure time.

    Returns
    -------
    list of str
        The file paths, in frame order.
    """
    from astropy.io import fits

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames.data):
        hdr = fits.Header()
        hdr["OBJECT"] = ("sky flat (synthetic)", "imcombiners demo")
        hdr["IMAGETYP"] = "flat"
        hdr["EXPTIME"] = (10.0, "[s] exposure time")
        hdr["GAIN"] = (frames.gain, "[e-/ADU]")
        hdr["RDNOISE"] = (frames.rdnoise, "[e-] read noise")
        hdr["BIASLEV"] = (frames.bias, "[ADU] bias level")
        hdr["FRAMENUM"] = i
        if i == frames.streak_frame:
            hdr["COMMENT"] = "this frame has a satellite streak"
        if i in frames.bad_frames:
            hdr["COMMENT"] = f"bad frame: {frames.bad_frames[i]}"
        path = directory / f"{prefix}_{i:03d}.fits"
        # astropy stores uint16 as BITPIX=16 + BZERO=32768 (the camera convention).
        fits.PrimaryHDU(frame, header=hdr).writeto(path, overwrite=True)
        paths.append(str(path))
    return paths


@dataclass
class DemoResult:
    """Where ``run_demo`` left its products and how long each step took (seconds)."""

    directory: str
    raw_frames: list[str]
    master: str
    nrej: str
    preview: str
    timings: dict[str, float]
    plan: object = None


def run_demo(
    directory: str | os.PathLike = "imcombiners-demo",
    *,
    n_frames: int = 24,
    shape: tuple[int, int] = (1024, 1024),
    dtype: str = "uint16",
    memory_limit: str | int | None = None,
    seed: int = DEFAULT_SEED,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Make raw frames on disk, combine them out of core, write master, map and preview.

    The combine is ``median`` with ``scale="median"`` and sigma clipping (3, 3),
    run by :func:`imcombiners.dask.combine` straight from the FITS files with a
    memory limit smaller than the stack, so the engine must work tile by tile.

    Parameters
    ----------
    directory : path
        Output directory (created). Raw frames go to ``<directory>/raw/``.
    n_frames, shape, dtype, seed
        Passed to :func:`simulate_frames`.
    memory_limit : int, optional
        Engine memory limit in bytes for the whole process; default: the process's
        current size plus a quarter of the raw stack (at least 16 MiB) for tiles.
    progress : bool
        Show a progress bar while combining.
    log : callable, optional
        Called with one line of text per step (the CLI passes ``print``).

    Returns
    -------
    DemoResult
    """
    from .quicklook import quicklook

    say = log or (lambda _msg: None)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    frames = simulate_frames(n_frames, shape, dtype=dtype, seed=seed)
    paths = write_raw_frames(frames, directory / "raw")
    timings["simulate+write"] = time.perf_counter() - t0
    stack_bytes = frames.data.nbytes
    say(f"wrote {len(paths)} raw frames {shape[0]}x{shape[1]} {dtype} to {directory / 'raw'} "
        f"({stack_bytes / 2**20:.0f} MiB) in {timings['simulate+write']:.1f} s")
    del frames  # the combine below reads the files, not this array

    import imcombiners.dask as imd

    from .cli._engine import combine_to_files  # thin adapter over imcombiners.dask
    from .dask.planner import process_baseline

    imd.plan(paths, streaming=True)  # headers only; loads what the engine needs first

    # memory_limit counts the whole process (interpreter, numpy, dask, astropy: the
    # "baseline"); what is left over is the room for tiles. Give the tiles a quarter of
    # the stack, so the engine has to work tile by tile.
    baseline = process_baseline()
    tile_room = max(16 * 2**20, stack_bytes // 4)
    if memory_limit is None:
        memory_limit = baseline + tile_room
    else:
        tile_room = int(memory_limit) - baseline

    t0 = time.perf_counter()
    master = directory / "master.fits"
    nrej = directory / "nrej.fits"
    outcome = combine_to_files(
        paths,
        master,
        method="median",
        reject="sigclip",
        params={"lsigma": 3.0, "hsigma": 3.0},
        scale="median",
        memory_limit=memory_limit,
        diagnostics={"nrej": nrej},
        progress=progress,
        overwrite=True,
    )
    timings["combine"] = time.perf_counter() - t0
    say(f"combined out of core in {timings['combine']:.1f} s: median, scale=median, sigclip 3/3; "
        f"memory limit {_fmt_bytes(memory_limit)} = process {_fmt_bytes(baseline)} + "
        f"{_fmt_bytes(max(tile_room, 0))} for tiles (the stack is {_fmt_bytes(stack_bytes)})")
    if outcome.plan is not None:
        say(f"  plan: {outcome.plan_summary}")

    t0 = time.perf_counter()
    preview = directory / "quicklook.png"
    from astropy.io import fits

    with fits.open(paths[n_frames // 3]) as hdul:  # the frame with the satellite
        raw = hdul[0].data.astype(np.float32)
    quicklook(
        [raw, fits.getdata(master), fits.getdata(nrej)],
        preview,
        titles=[f"raw frame {n_frames // 3} (streak, cosmics)", "master (median + sigclip)",
                "rejected samples per pixel"],
    )
    timings["preview"] = time.perf_counter() - t0
    say(f"wrote the quick-look {preview} in {timings['preview']:.1f} s")
    return DemoResult(str(directory), paths, str(master), str(nrej), str(preview), timings, outcome.plan)


def _fmt_bytes(n: int | str) -> str:
    if isinstance(n, str):
        return n
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"
