"""Peak memory of an out-of-core combine: a >= 4 GiB stack under memory_limit="512MB".

The stack (128 frames of 4096 x 4096 uint16 = 4 GiB) is written once as FITS files
(preallocated, raw big-endian writes) and once as a zarr array; a child process
combines each with ``memory_limit="512MB"`` and reports its peak RSS
(``VmHWM``; not ``ru_maxrss``, which Linux carries over from the forking parent),
which must stay under the limit.  Sampled row strips are checked
against the in-memory API.  Everything is deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

N, NY, NX = 128, 4096, 4096
LIMIT = 512 * 10**6  # "512MB" as dask.utils.parse_bytes reads it

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    import imcombiners.dask as imd

    kind, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
    if kind == "fits":
        inputs = json.load(open(src))
        method, kw = "mean", {"thresholds": (0, 49000), "diagnostics": ["nused"]}
    else:
        import zarr
        inputs = zarr.open_array(src, mode="r")
        method, kw = "mean", {"diagnostics": ["nused"]}
    t0 = time.perf_counter()
    lazy = imd.combine(inputs, method, memory_limit="512MB", **kw)
    if kind == "fits":
        res = lazy.compute()
        np.save(out, res.data)
    else:
        lazy.to_fits(out)
    dt = time.perf_counter() - t0
    # VmHWM (peak RSS of this address space): ru_maxrss would also count the pytest
    # parent's RSS at fork time, which Linux carries over exec into the child
    with open("/proc/self/status") as f:
        hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")]
    peak = hwm[0] * 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak": peak, "seconds": dt, "predicted": lazy.plan.predicted_peak,
                      "tiles": lazy.plan.ntiles, "tile": lazy.plan.tile,
                      "threads": lazy.plan.threads, "summary": lazy.plan.summary()}))
    """
)


def _frame(base: np.ndarray, i: int) -> np.ndarray:
    return base + np.uint16((i * 37) % 1000)


def _write_fits_stack(d, base):
    from imcombiners.io.fits import HduSpec, create_fits

    paths = []
    for i in range(N):
        p = str(d / f"raw{i:03d}.fits")
        target = create_fits(p, [HduSpec("PRIMARY", (NY, NX), np.uint16)])["PRIMARY"]
        stored = (_frame(base, i) ^ np.uint16(0x8000)).astype(">u2")  # BZERO = 32768
        with open(p, "r+b") as f:
            f.seek(target.offset)
            f.write(stored.tobytes())
        paths.append(p)
    return paths


def _write_zarr_stack(d, base):
    import zarr

    z = zarr.create_array(str(d / "stack.zarr"), shape=(N, NY, NX), chunks=(1, 16, NX),
                          dtype=np.uint16, compressors=None)
    for y in range(0, NY, 256):
        z[:, y : y + 256, :] = np.stack([_frame(base[y : y + 256], i) for i in range(N)])
    return str(d / "stack.zarr")


def _run_child(kind, src, out):
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="65536")
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, src, out], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_rows(result, rows, base, method):
    from imcombiners import Combiner
    sl = slice(*rows)
    stack = np.stack([_frame(base[sl], i) for i in range(N)])
    if method == "mean_thr":
        ref = Combiner(stack).combine("mean", thresholds=(0, 49000))
    else:
        ref = Combiner(stack).combine("mean")
    np.testing.assert_array_equal(result[sl], ref)


@pytest.mark.heavy
def test_4gib_stack_under_512mb(tmp_path_factory):
    d = tmp_path_factory.mktemp("heavy")
    try:
        base = np.random.default_rng(13).integers(0, 50000, (NY, NX)).astype(np.uint16)
        paths = _write_fits_stack(d, base)
        assert sum(os.path.getsize(p) for p in paths) >= 4 * 2**30
        with open(d / "inputs.json", "w") as f:
            json.dump(paths, f)
        fits_run = _run_child("fits", str(d / "inputs.json"), str(d / "fits_result.npy"))
        result = np.load(d / "fits_result.npy")
        for rows in [(0, 3), (2047, 2050), (4090, 4096)]:
            _check_rows(result, rows, base, "mean_thr")
        del result
        for p in paths:
            os.unlink(p)

        zpath = _write_zarr_stack(d, base)
        zarr_run = _run_child("zarr", zpath, str(d / "zarr_result.fits"))
        from astropy.io import fits

        with fits.open(d / "zarr_result.fits", memmap=True) as hdul:
            result = hdul[0].data
            for rows in [(0, 2), (1000, 1003), (4094, 4096)]:
                _check_rows(result, rows, base, "mean")
            del result

        for name, run in (("fits", fits_run), ("zarr", zarr_run)):
            gib_s = N * NY * NX * 2 / run["seconds"] / 2**30
            print(f"\n{name}: peak RSS {run['peak'] / 2**20:.0f} MiB (limit {LIMIT / 2**20:.0f} MiB, "
                  f"predicted {run['predicted'] / 2**20:.0f} MiB), {run['seconds']:.1f} s, "
                  f"{gib_s:.2f} GiB/s, {run['tiles']} tiles of {run['tile']} x {run['threads']} threads")
            assert run["predicted"] < LIMIT
            assert run["peak"] < LIMIT, run["summary"]
    finally:
        shutil.rmtree(d, ignore_errors=True)
