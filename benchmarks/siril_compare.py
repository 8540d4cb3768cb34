"""Side-by-side runs of imcombiners and Siril on the same FITS frames.

    python benchmarks/siril_compare.py              # writes benchmarks/RESULTS-siril.md
    python benchmarks/siril_compare.py --quick      # smaller synthetic frames
    python benchmarks/siril_compare.py --no-install # do not apt-get install siril

For every data set (synthetic frames with cosmic rays, cold pixels and a satellite trail,
an outlier-free control set, and the real frames of ../shared/realdata when present) and
every rejection both programs have, both stack the same FITS files (average of the
survivors, no normalisation) and the outputs are compared pixel by pixel. Each pixel
that differs is then classified with :func:`_siril.siril_model`, a model of Siril's
loop reconstructed from its observed behaviour: "rule" when the model gives Siril's
value (the difference is one of the documented rule differences), "guard" when Siril's
value is ours with some of our rejections undone (Siril's guard stopped it), else
unexplained. For GESD the samples Siril dropped per pixel are counted too.

Siril is installed with apt-get when it is missing (Debian package `siril`); without it
the script says so and stops. Both programs get float32 frames scaled into [0, 1]
(Siril's native sample format) and, for the synthetic set, the same frames as uint16.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _common import BENCH_DIR, REPO_ROOT, machine_info, use_repo_package
from _siril import LETTERS, ensure_siril, run_siril, siril_model, siril_version

REALDATA = REPO_ROOT.parent / "shared" / "realdata"
MAD_TO_STD = 1.482602218505602  # astropy's mad_std factor, as SigClip(stdfunc="mad")

#: (algorithm, Siril parameters p1, p2): sigma limits, or GESD's outlier fraction and
#: significance. Linear fit twice: its scatter unit is the mean absolute residual, and at
#: 5 of them (our default) a 12-frame stack rejects nothing in either program.
ALGORITHMS = [
    ("sigma", 3.0, 3.0),
    ("mad", 3.0, 3.0),
    ("winsorized", 3.0, 3.0),
    ("linearfit", 2.5, 2.5),
    ("linearfit", 5.0, 5.0),
    ("gesd", 0.3, 0.05),
]
MODELLED = ("sigma", "mad", "winsorized", "linearfit", "gesd")


@dataclass
class DataSet:
    name: str
    frames: np.ndarray  # (N, H, W) as written to FITS
    unit: float  # ADU per stored unit (float sets are scaled into [0, 1])
    note: str


def synthetic(n: int, h: int, w: int, seed: int, outliers: bool = True) -> np.ndarray:
    """Sky 1000 ADU, noise 20 ADU; cosmic rays (2 %), cold pixels (1 %), one trail."""
    rng = np.random.default_rng(seed)
    data = rng.normal(1000.0, 20.0, (n, h, w))
    if outliers:
        hot = rng.random(data.shape) < 0.02
        data[hot] += rng.uniform(200.0, 5000.0, int(hot.sum()))
        cold = rng.random(data.shape) < 0.01
        data[cold] -= rng.uniform(100.0, 500.0, int(cold.sum()))
        yy, xx = np.mgrid[0:h, 0:w]
        trail = np.abs(yy - 0.4 * xx - h / 4) < 1.5
        data[n // 2][trail] += 800.0
    # no exact zeros: Siril treats them as "no data"
    return np.clip(np.rint(data), 1, 65535)


def datasets(quick: bool) -> list[DataSet]:
    size = 96 if quick else 256
    out = []
    raw = synthetic(12, size, size, 1)
    out.append(DataSet("synthetic-f32", (raw / 65535.0).astype(np.float32), 65535.0,
                       f"12 x {size}x{size}: cosmic rays, cold pixels, one trail; float32 / 65535"))
    out.append(DataSet("synthetic-u16", raw.astype(np.uint16), 1.0, "the same frames as uint16"))
    clean = synthetic(12, size, size, 2, outliers=False)
    out.append(DataSet("clean-f32", (clean / 65535.0).astype(np.float32), 65535.0,
                       f"12 x {size}x{size} Gaussian noise only (no outlier anywhere)"))
    for sub in ("zwo-asi178mc-bias", "zwo-asi178mc-dark100s", "not-alfosc-bias-1x1"):
        frames = _real_frames(REALDATA / sub, quick)
        if frames is not None:
            scale = float(frames.max())
            out.append(DataSet(sub, (frames / scale).astype(np.float32), scale,
                               f"{frames.shape[0]} x {frames.shape[1]}x{frames.shape[2]} real frames / {scale:g}"))
    return out


def _real_frames(directory: Path, quick: bool) -> np.ndarray | None:
    """The frames of one realdata set (first image HDU of each file), as float64."""
    if not directory.is_dir():
        return None
    from astropy.io import fits

    frames = []
    for path in sorted(directory.glob("*.fit*")):
        with fits.open(path) as hdul:
            hdu = next(h for h in hdul if h.data is not None and h.data.ndim == 2)
            frames.append(np.asarray(hdu.data, dtype=np.float64))
    if not frames:
        return None
    stack = np.stack(frames)
    if quick:
        stack = stack[:, :128, :128]
    return np.where(stack == 0, 1.0, stack)  # Siril: zero = no data


def ours(frames: np.ndarray, algorithm: str, p1: float, p2: float) -> tuple[np.ndarray, np.ndarray]:
    """imcombiners' average with the matching rejector (default limits) and its mask."""
    import imcombiners as imc

    rej = {
        # Siril's sigma: median centre, standard deviation about the mean with n - 1.
        "sigma": lambda: imc.SigClip(sigma=(p1, p2), maxiters=255, cenfunc="median", stdfunc="std",
                                     ddof=1, spread_centre="mean"),
        # Siril's k-MAD clips at k unscaled MADs: the same distance is k / 1.4826 of ours.
        "mad": lambda: imc.SigClip(sigma=(p1 / MAD_TO_STD, p2 / MAD_TO_STD), maxiters=255,
                                   cenfunc="median", stdfunc="mad"),
        "winsorized": lambda: imc.WinsorizedSigClip(sigma=(p1, p2)),
        "linearfit": lambda: imc.LinearFitClip(sigma=(p1, p2)),
        "gesd": lambda: imc.GESDClip(max_outliers=p1, significance=p2),
    }[algorithm]()
    res = imc.Combiner(frames).combine("mean", rejectors=[rej], diagnostics="simple")
    return np.asarray(res.data, dtype=np.float64), np.asarray(res.mask)


def _guard_subset(values: np.ndarray, rejected: np.ndarray, target: float, tol: float) -> bool:
    """Whether Siril's value is ours with some (not all) of our rejected samples kept: Siril
    stopped early (its 4-sample guard, testing in an order of its own)."""
    from itertools import combinations

    kept, gone = values[~rejected], values[rejected]
    for k in range(1, len(gone)):
        for back in combinations(range(len(gone)), k):
            if abs(np.concatenate([kept, gone[list(back)]]).mean() - target) <= tol:
                return True
    return False


def _siril_counts(frames: np.ndarray, siril_img: np.ndarray, unit: float, limit: int = 3) -> np.ndarray:
    """How many samples Siril dropped at each pixel: the smallest k for which some set of
    k samples leaves Siril's mean (exhaustive over k <= limit, on a sample of pixels)."""
    from itertools import combinations

    x = frames.astype(np.float64)
    n = x.shape[0]
    flat, target = x.reshape(n, -1), siril_img.reshape(-1)
    rng = np.random.default_rng(0)
    picks = rng.choice(flat.shape[1], size=min(400, flat.shape[1]), replace=False)
    counts = []
    for p in picks:
        v = flat[:, p]
        tol = 1e-5 * max(abs(target[p]), 1e-30)
        found = -1
        for k in range(limit + 1):
            if any(abs(np.delete(v, list(c)).mean() - target[p]) <= tol for c in combinations(range(n), k)):
                found = k
                break
        counts.append(found)
    return np.asarray(counts)


def compare(ds: DataSet, theirs: np.ndarray, algorithm: str, p1: float, p2: float) -> dict:
    """One data set and algorithm: both results, pixel by pixel, and why they differ."""
    mine, mask = ours(ds.frames, algorithm, p1, p2)
    tol = 1e-5 * float(np.nanmedian(np.abs(theirs)))  # 0.01 ADU at 1000 ADU
    diff = np.abs(mine - theirs)
    bad = np.argwhere(diff > tol)
    row = {"dataset": ds.name, "algorithm": algorithm, "params": f"{p1:g}, {p2:g}",
           "pixels": diff.size, "same": int(diff.size - len(bad)), "max_diff": float(diff.max()) * ds.unit,
           "rejected_ours": float(mask.sum(axis=0).mean())}
    if algorithm in MODELLED:
        rule = guard = 0
        integer = ds.frames.dtype == np.uint16
        for y, x in bad:
            v = ds.frames[:, y, x].astype(np.float64)
            if abs(siril_model(v, algorithm, p1, p2, integer) - theirs[y, x]) <= tol:
                rule += 1
            elif algorithm != "gesd" and _guard_subset(v, mask[:, y, x], theirs[y, x], tol):
                guard += 1
        row["explained"] = rule + guard
        row["rule"], row["guard"] = rule, guard
    if algorithm == "gesd":
        counts = _siril_counts(ds.frames, theirs, ds.unit)
        row["siril_rejections"] = {int(k): int((counts == k).sum()) for k in np.unique(counts)}
    return row


def report(rows: list[dict], info: dict, version: str, elapsed: float) -> str:
    out = ["# imcombiners vs Siril", "",
           f"Generated by `python benchmarks/siril_compare.py` on {time.strftime('%Y-%m-%d %H:%M')} "
           f"({elapsed:.0f} s). Siril: `{version}` (Debian package). CPU: {info.get('cpu_model', '?')}.", "",
           "Both programs stack the same FITS frames: average of the survivors, no normalisation "
           "(`-nonorm`), library defaults otherwise. A pixel counts as the same when the two "
           "results differ by at most 1e-5 of the typical level (0.01 ADU at 1000 ADU). "
           "MAD: ours is `SigClip(cenfunc='median', stdfunc='mad')` at k / 1.4826 so that both "
           "clip at k unscaled MADs, as Siril's k-MAD does. "
           "Differing pixels are explained in two ways: 'rule' = the model of Siril 1.0.6's loop "
           "(benchmarks/_siril.py: its 4-sample guard in frame order, its winsorization "
           "tolerance and 16-bit rounding, its MAD about the previous median, its linear fit "
           "with the full stack's rank centre after a rejection, its GESD that drops the first "
           "two candidates untested) reproduces Siril's value; 'guard' = Siril's value is ours with "
           "some of the samples we reject kept, i.e. Siril's guard stopped it (it tests the "
           "samples in an order of its own after an in-place median selection, which the model "
           "does not follow). See docs/rejection.md, 'imcombiners and Siril'.", "",
           "| data | algorithm | Siril params | pixels | same | differ | explained (rule + guard) | max diff (ADU) | ours: rejected/pixel |",
           "|---|---|---|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        differ = r["pixels"] - r["same"]
        expl = r.get("explained")
        expl_txt = "-" if expl is None else f"{expl} of {differ} ({r['rule']} + {r['guard']})"
        out.append(f"| {r['dataset']} | {r['algorithm']} | {r['params']} | {r['pixels']} | {r['same']} | "
                   f"{differ} | {expl_txt} | {r['max_diff']:.3g} | {r['rejected_ours']:.3f} |")
    gesd = [r for r in rows if "siril_rejections" in r]
    if gesd:
        out += ["", "Samples Siril dropped per pixel (400 random pixels; -1 = not found with <= 3):", "",
                "| data | algorithm | Siril: pixels by number of samples dropped | ours: mean rejected/pixel |",
                "|---|---|---|--:|"]
        for r in gesd:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(r["siril_rejections"].items()))
            out.append(f"| {r['dataset']} | {r['algorithm']} | {counts} | {r['rejected_ours']:.3f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small synthetic frames and real-frame crops")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install siril")
    ap.add_argument("--out", default=str(BENCH_DIR / "RESULTS-siril.md"))
    args = ap.parse_args(argv)
    use_repo_package()
    cli = ensure_siril(install=not args.no_install)
    if cli is None:
        print("siril-cli not found (apt-get install siril); nothing compared")
        return 1
    t0 = time.perf_counter()
    rows = []
    for ds in datasets(args.quick):
        jobs = {f"{alg}{k}": (LETTERS[alg], p1, p2) for k, (alg, p1, p2) in enumerate(ALGORITHMS)}
        siril = run_siril(cli, ds.frames, jobs)
        for k, (alg, p1, p2) in enumerate(ALGORITHMS):
            row = compare(ds, siril[f"{alg}{k}"], alg, p1, p2)
            rows.append(row)
            print(f"{ds.name:24s} {alg:11s} same {row['same']}/{row['pixels']}"
                  + (f", explained {row['explained']}" if "explained" in row else ""), flush=True)
    text = report(rows, machine_info(), siril_version(cli), time.perf_counter() - t0)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
