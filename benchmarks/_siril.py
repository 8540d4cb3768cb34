"""Siril as a peer: install it, stack FITS frames with `siril-cli`, and model its loop.

Siril (Debian package `siril`, version 1.0.6 in bookworm) stacks a *sequence*: the
frames are linked into one with `link`, then `stack <seq> rej <letter> <p1> <p2>` runs
the average with rejection. `-nonorm` turns normalisation off, so both programs see the
same numbers. Siril computes in float32; 16-bit inputs are read as value / 65535 and the
result is written as [0, 1]-scaled float32 (multiply by 65535 to get ADU back).

:func:`siril_model` is a slow per-pixel model of Siril 1.0.6's rejection for every
algorithm compared, written from Siril's *observed output* on designed and random
stacks (each rule below was kept only when it reproduced Siril's values) and from its
documentation. It exists only to explain, pixel by pixel, why Siril and imcombiners
differ (which rule of Siril's made the difference), never as a reference for
imcombiners itself. The rules:

* per pass, every sample is tested in frame order; a running count ``r`` of the
  rejections *of all passes so far* stops testing as soon as ``n_current - r <= 4``
  (so at most about n0/2 - 2 samples go, and fewer than imcombiners' nkeep allows);
* passes repeat while a pass rejected something and more than 3 samples remain;
* sigma: median centre, standard deviation about the mean with n - 1;
* MAD ("k-MAD"): median centre, spread = the *unscaled* MAD (no 1.4826), measured about
  the previous pass's median (the first pass: the current one);
* winsorized: clamp to median -/+ 1.5 s, s <- 1.134 std(clamped), repeated until the
  relative change is at most 5e-4 (imcombiners uses the exact limit); for 16-bit
  input the clamped values are rounded to integers (Siril keeps them in a 16-bit
  buffer);
* linear fit: a line fitted to the sorted values against their rank, scatter =
  mean |residual|, a sample of any rank whose residual exceeds the limit is rejected
  (imcombiners walks in from the two ends of the sorted window and stops at the first
  kept sample). The first pass is the least-squares line; after a rejection Siril keeps
  the rank centre (N0 - 1)/2 and the rank variance of the *full* stack of N0 frames, so
  later passes fit a line that is not the least-squares line of the survivors
  (imcombiners renumbers the survivors and refits);
* GESD: r = trunc(f N) candidates set aside as in Rosner's procedure (the farthest from
  the mean, low end on a tie); Siril 1.0.6 rejects the first min(r, 2) candidates
  whatever their statistic (measured on outlier-free stacks of 6, 8 and 12 frames with
  r = 1..6: 1 or 2 samples dropped at 90-100 % of the pixels), the later ones by Rosner's
  rule, and a high candidate set aside after c low ones is recorded c ranks too low (the
  sample below it goes instead);
* exact zeros are "no data" and never enter (the synthetic data avoid them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

#: Siril's rejection letters for the algorithms compared.
LETTERS = {"sigma": "s", "mad": "a", "winsorized": "w", "linearfit": "l", "gesd": "g"}


def ensure_siril(install: bool = True) -> str | None:
    """Path of `siril-cli`, installing the Debian package when missing (root + apt)."""
    path = shutil.which("siril-cli")
    if path or not install:
        return path
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "siril"], check=False, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return shutil.which("siril-cli")


def siril_version(cli: str) -> str:
    out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60)
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[-1] if text else "?"


def write_frames(directory: Path, frames: np.ndarray) -> None:
    """One single-HDU FITS file per frame (astropy, native FITS conventions)."""
    from astropy.io import fits

    directory.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        fits.PrimaryHDU(np.ascontiguousarray(f)).writeto(directory / f"in{i:03d}.fits", overwrite=True)


def run_siril(cli: str, frames: np.ndarray, jobs: dict[str, tuple[str, float, float]],
              timeout: float = 1800) -> dict[str, np.ndarray]:
    """Stack `frames` with Siril for each job ``name -> (letter, p1, p2)``.

    Returns ``name -> image`` in the units of the input (16-bit input: x 65535).
    """
    from astropy.io import fits

    with tempfile.TemporaryDirectory(prefix="imc-siril-") as tmp:
        d = Path(tmp)
        write_frames(d, frames)
        lines = ["requires 1.0.0", "link fr"]
        for name, (letter, p1, p2) in jobs.items():
            lines.append(f"stack fr_ rej {letter} {p1:g} {p2:g} -nonorm -out=res_{name}")
        (d / "run.ssf").write_text("\n".join(lines) + "\n")
        env = dict(os.environ, HOME=tmp)  # a private config: no user preferences apply
        proc = subprocess.run([cli, "-d", tmp, "-s", str(d / "run.ssf")], capture_output=True,
                              text=True, timeout=timeout, env=env)
        out = {}
        for name in jobs:
            path = d / f"res_{name}.fit"
            if not path.exists():
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
                raise RuntimeError(f"siril produced no result for {name}:\n{tail}")
            img = fits.getdata(path).astype(np.float64)
            if frames.dtype == np.uint16:
                img *= 65535.0
            out[name] = img
        return out


# ----------------------------------------------------------------------------- the model


def _winsorized_sigma(v: np.ndarray, integer: bool) -> float:
    med = float(np.median(v))
    s = float(np.std(v, ddof=1))
    w = v.copy()
    for _ in range(100_000):
        w = np.clip(w, med - 1.5 * s, med + 1.5 * s)
        if integer:
            w = np.round(w)
        s0, s = s, 1.134 * float(np.std(w, ddof=1))
        if not abs(s - s0) > s0 * 0.0005:
            break
    return s


def _esd_lambda(m: int, alpha: float) -> float:
    from scipy import stats

    t = float(stats.t.isf(alpha / (2 * m), m - 2))
    return (m - 1) * t / np.sqrt(m * (m - 2 + t * t))


def _gesd_siril(values: np.ndarray, frac: float, alpha: float) -> float:
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = len(v)
    r = int(n * frac)
    w, recorded, cold, drop = list(v), [], 0, min(r, 2)
    for i in range(1, r + 1):
        a = np.asarray(w)
        mean, s = a.mean(), a.std(ddof=1)
        high = a[-1] - mean > mean - a[0]
        k = len(w) - 1 if high else 0
        stat = (a[-1] - mean if high else mean - a[0]) / s
        if i > 2 and stat > _esd_lambda(len(w), alpha):
            drop = i  # Rosner's rule from the third candidate on
        recorded.append(k if high else cold)  # Siril's rank bookkeeping
        cold += not high
        del w[k]
    gone = set(recorded[:drop])
    return float(np.mean([x for i, x in enumerate(v) if i not in gone]))


def siril_model(values: np.ndarray, algorithm: str, lo: float, hi: float, integer: bool = False) -> float:
    """Siril 1.0.6's average with rejection of one pixel stack (frame order), as observed."""
    v = [float(x) for x in values if x != 0]
    if algorithm == "gesd":
        return _gesd_siril(np.asarray(v), lo, hi)
    n0 = len(v)
    r = 0  # rejections of all passes so far (Siril's running counter)
    prev_median = None
    while True:
        n = len(v)
        if algorithm == "linearfit":
            v.sort()
            y = np.asarray(v)
            k = np.arange(n, dtype=float)
            kc = (n0 - 1) * 0.5  # the full stack's rank centre and variance, every pass
            var_k = float(np.mean((np.arange(n0) - kc) ** 2))
            slope = float(np.mean((k - kc) * (y - y.mean()))) / var_k
            icpt = float(y.mean()) - kc * slope
            scatter = float(np.mean(np.abs(y - (slope * k + icpt))))

            def test(x: float, i: int) -> bool:
                fit = slope * i + icpt
                return fit - x > scatter * lo or x - fit > scatter * hi
        else:
            arr = np.asarray(v)
            med = float(np.median(arr))
            if algorithm == "sigma":
                s = float(np.std(arr, ddof=1))
            elif algorithm == "mad":
                about = med if prev_median is None else prev_median
                s = float(np.median(np.abs(arr - about)))
                prev_median = med
            else:
                s = _winsorized_sigma(arr, integer)

            def test(x: float, i: int) -> bool:
                return med - x > s * lo or x - med > s * hi
        keep = []
        for i, x in enumerate(v):
            if n - r <= 4:
                keep.append(x)
            elif test(x, i):
                r += 1
            else:
                keep.append(x)
        changed = len(keep) != n
        v = keep
        if not (changed and len(v) > 3):
            return float(np.mean(v))
