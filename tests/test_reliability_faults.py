"""Fault injection: interrupted and killed runs never leave a complete-looking output.

Outputs are written under a hidden temporary name (``.<name>.<random>.part``) in the
destination directory and renamed when complete (``imcombiners.io.atomic``).  So:

* SIGKILL of the CLI mid-write: no file under the final name (a ``.part`` file may
  remain: hidden, never under the final name); if the run had already finished, the
  file is complete and equals the in-memory result.
* SIGINT (Ctrl-C): exit status 130, one line on stderr, no final file and no temporary.
* A killed Dask worker whose task is retried: complete, correct output — tested in
  ``tests/test_dask_distributed.py::test_killed_worker_result_complete`` (not repeated
  here).  A killed worker whose task may not be retried (``allowed-failures=0``): the
  run fails, and neither the final file nor a temporary is left (below).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tests.helpers.child import child_env, cli_command
from tests.helpers.twin import require_package

require_package()

import imcombiners as imc  # noqa: E402

N, NY, NX = 24, 1024, 1024


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """24 float32 frames of 1024 x 1024 (96 MiB): a CLI run takes about a second."""
    from imcombiners.io.fits import HduSpec, create_fits

    d = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(31)
    base = rng.normal(500, 10, (NY, NX)).astype(np.float32)
    paths = []
    for i in range(N):
        p = str(d / f"r{i:02d}.fits")
        target = create_fits(p, [HduSpec("PRIMARY", (NY, NX), np.float32)])["PRIMARY"]
        with open(p, "r+b") as f:
            f.seek(target.offset)
            f.write((base + np.float32(i)).astype(">f4").tobytes())
        paths.append(p)
    return d, paths


def _start(paths, out: Path) -> subprocess.Popen:
    # many small tiles (memory limit) and sigma clipping: the write phase lasts long enough
    args = ["combine", *paths, "-o", str(out), "--method", "median", "--reject", "sigclip",
            "--memory-limit", "120MB", "--workers", "1", "--quiet"]
    return subprocess.Popen(cli_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env())


def _wait_for_part(proc: subprocess.Popen, directory: Path, name: str, timeout: float = 90) -> bool:
    """Poll until the temporary output appears (True) or the process ends (False)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if any(p.startswith(f".{name}.") and p.endswith(".part") for p in os.listdir(directory)):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    proc.kill()
    raise AssertionError("the CLI neither wrote a temporary output nor finished")


def _expected(paths) -> np.ndarray:
    stack = np.stack([fits.getdata(p) for p in paths])
    return imc.Combiner(stack).combine("median", rejectors=imc.SigClip())


@pytest.mark.parametrize("delay", [0.0, 0.2])
def test_sigkill_mid_write_leaves_no_file_under_the_final_name(frames, tmp_path, delay):
    """Killed right after the temporary output appears (the write phase lasts ~0.5-1 s
    here): nothing under the final name.  Should a fast machine finish first, the file
    under the final name must be complete and correct."""
    d, paths = frames
    out = tmp_path / "out.fits"
    proc = _start(paths, out)
    assert _wait_for_part(proc, tmp_path, out.name), "finished before the output was started"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    if out.exists():  # the rename had happened before the kill
        np.testing.assert_array_equal(fits.getdata(out), _expected(paths))
    else:
        assert proc.returncode == -signal.SIGKILL
        leftovers = os.listdir(tmp_path)
        assert leftovers and all(p.startswith(".out.fits.") and p.endswith(".part") for p in leftovers), leftovers


def test_sigint_mid_write_exits_130_and_cleans_up(frames, tmp_path):
    d, paths = frames
    out = tmp_path / "out.fits"
    proc = _start(paths, out)
    assert _wait_for_part(proc, tmp_path, out.name), "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.strip().splitlines()[-1] == "imcombiners combine: interrupted", err
    assert os.listdir(tmp_path) == []  # neither the output nor its temporary


def test_completed_run_is_complete(frames, tmp_path):
    """The reference point of the kill tests: an uninterrupted run gives the full result."""
    d, paths = frames
    out = tmp_path / "out.fits"
    proc = _start(paths, out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    np.testing.assert_array_equal(fits.getdata(out), _expected(paths))
    assert os.listdir(tmp_path) == ["out.fits"]


def test_killed_worker_without_retries_leaves_no_output(tmp_path):
    """The run fails (KilledWorker); no final file and no temporary remain."""
    distributed = pytest.importorskip("distributed")
    import dask

    import imcombiners.dask as imd
    from imcombiners.dask.engine import _replace_kernels

    rng = np.random.default_rng(32)
    stack = rng.normal(100, 5, (6, 64, 32)).astype(np.float32)
    paths = []
    for i in range(6):
        p = tmp_path / f"w{i}.fits"
        fits.PrimaryHDU(stack[i]).writeto(p)
        paths.append(str(p))
    out = tmp_path / "out.fits"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           dashboard_address=None, memory_limit="1GiB")
        client = distributed.Client(cluster)
        try:
            with _replace_kernels(tile_fn=_slow_tile):
                lazy = imd.combine(paths, "mean", tile=(4, 32))
            pid = list(client.run(os.getpid).values())[0]

            def kill(done, total):
                if done == 2:
                    os.kill(pid, signal.SIGKILL)

            with pytest.raises(Exception) as info:
                lazy.to_fits(out, progress=kill)
            assert "KilledWorker" in type(info.value).__name__ or "killed" in str(info.value).lower()
        finally:
            client.close()
            cluster.close()
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def _slow_tile(frames, masks, job):
    from imcombiners.dask.engine import default_tile_function

    if np.asarray(frames[0]).size > 1:  # not the 1-pixel dtype probe
        time.sleep(0.2)
    return default_tile_function(frames, masks, job)


# worker processes cannot import this test module: ship its functions by value
try:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
except ImportError:  # pragma: no cover
    pass


def _fail_first_tile_slow_others(frames, masks, job):
    """Tile at row 0 fails at once; the others are still running when it does."""
    from imcombiners.dask.engine import default_tile_function

    f0 = np.asarray(frames[0])
    if f0.size > 1:  # not the 1-pixel dtype probe
        if f0.reshape(-1)[0] == 0.0:  # the first tile (the stack starts with a 0)
            raise RuntimeError("tile failed")
        time.sleep(0.4)
    return default_tile_function(frames, masks, job)


@pytest.mark.parametrize("sink", [
    "zarr",
    "fits",
])
def test_failed_run_leaves_no_temporary_even_with_tasks_in_flight(tmp_path, sink):
    """A failing tile aborts the run while other tiles are still being computed; those
    must not write into (and so re-create) the discarded temporary output."""
    pytest.importorskip("zarr")
    import imcombiners.dask as imd
    from imcombiners.dask.engine import _replace_kernels

    a = np.random.default_rng(12).normal(size=(3, 40, 8)).astype(np.float32)
    a[0, 0, 0] = 0.0
    with _replace_kernels(tile_fn=_fail_first_tile_slow_others):
        lazy = imd.combine(a, "mean", tile=(10, 8), threads=2)
    with pytest.raises(RuntimeError, match="tile failed"):
        if sink == "zarr":
            lazy.to_zarr(str(tmp_path / "x.zarr"))
        else:
            lazy.to_fits(tmp_path / "x.fits")
    time.sleep(1.0)  # let the tiles that were in flight finish
    assert sorted(p.name for p in tmp_path.iterdir()) == []
