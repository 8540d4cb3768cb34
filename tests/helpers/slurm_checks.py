"""Data, reference checks and fault helpers shared by the SLURM tests.

The repository is on the SLURM workers' PYTHONPATH (see ``tests.helpers.slurm.jobqueue_cluster``),
so :func:`slow_tile` is imported there by name.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

#: seconds to wait for workers: a job starts and its worker connects in 3-5 s on the test node
WORKER_TIMEOUT = 120


def slow_tile(frames, masks, job, delay=0.3):
    """The library kernel, slowed down so a job can be cancelled with tiles in flight."""
    from imcombiners.dask.engine import default_tile_function

    if np.asarray(frames[0]).size > 1:  # not the 1-pixel dtype probe
        time.sleep(delay)
    return default_tile_function(frames, masks, job)


def make_frames(rng: np.random.Generator, n: int, shape: tuple[int, int]) -> np.ndarray:
    """Bias-like float32 frames: per-frame level, noise, cosmic rays, a few NaN pixels."""
    stack = rng.normal(1000.0, 12.0, (n, *shape)).astype(np.float32)
    stack += (np.arange(n, dtype=np.float32) * 0.5)[:, None, None]
    hits = rng.random(stack.shape) < 0.002
    stack[hits] = rng.uniform(3e3, 6e4, hits.sum()).astype(np.float32)
    stack[rng.random(stack.shape) < 0.0005] = np.nan
    return stack


def write_fits(d: Path, stack: np.ndarray) -> list[str]:
    """One big-endian float32 FITS file per frame; returns the sorted paths."""
    from astropy.io import fits

    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(stack):
        p = d / f"frame{i:03d}.fits"
        fits.PrimaryHDU(frame.astype(">f4")).writeto(p)
        paths.append(str(p))
    return paths


def same_bits(got, ref, name: str) -> None:
    """``got`` holds exactly ``ref`` (bools compared as bools, everything else byte for byte)."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != {ref.shape}"
    if ref.dtype == bool:
        np.testing.assert_array_equal(got.astype(bool), ref, err_msg=name)
        return
    native = ref.dtype.newbyteorder("=")  # FITS data are big-endian
    got, ref = got.astype(native, copy=False), ref.astype(native, copy=False)
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(ref).tobytes(), \
        f"{name}: not the same bits"


def check_fits(path, ref, outputs, n: int) -> None:
    """The multi-extension FITS written by ``to_fits`` equals the in-memory result."""
    from astropy.io import fits

    from imcombiners.dask.sinks import EXTNAMES

    with fits.open(path) as hdul:
        same_bits(hdul[0].data, ref.data, "data")
        assert hdul[0].header["NCOMBINE"] == n
        for name in outputs:
            if name != "data":
                same_bits(hdul[EXTNAMES[name]].data, getattr(ref, name), name)


def check_zarr(path, ref, outputs) -> None:
    """The zarr group written by ``to_zarr`` equals the in-memory result."""
    import zarr

    g = zarr.open_group(str(path), mode="r")
    for name in outputs:
        same_bits(g[name][...], getattr(ref, name), name)


def job_of_worker(client) -> dict[str, str]:
    """Worker address -> SLURM job id, read inside each worker process."""
    return client.run(lambda: os.environ.get("SLURM_JOB_ID", ""))


def busy_worker(client) -> tuple[str, list] | None:
    """A worker computing tiles of a combine right now, and those tiles."""
    for addr, keys in client.processing().items():
        tiles = [k for k in keys if "imc-" in str(k)]
        if tiles:
            return addr, tiles
    return None


def peak_rss() -> int:
    """Peak resident set size of the calling process (bytes), as the kernel counts it."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def wait_workers(client, slurm, n: int, timeout: float = WORKER_TIMEOUT) -> None:
    """Wait for ``n`` workers; on time-out fail with the queue and the daemons' logs."""
    import pytest

    try:
        client.wait_for_workers(n, timeout=timeout)
    except TimeoutError:
        pytest.fail(f"{n} workers did not connect in {timeout:.0f} s; queue: {slurm.jobs()}\n"
                    f"{slurm.logs()}\n{slurm.job_logs()}")


def leftovers(d: Path, *keep: str) -> list[str]:
    """Names in ``d`` other than ``keep`` (temporary outputs left behind)."""
    return sorted(p.name for p in Path(d).iterdir() if p.name not in keep)
