"""The engine on dask.distributed: process workers, FITS in, zarr/FITS out, a killed worker."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

import imcombiners.dask as imd  # noqa: E402
from imcombiners import Combiner  # noqa: E402
from imcombiners._rejectors import SigClip  # noqa: E402
from imcombiners.dask.engine import _replace_kernels  # noqa: E402

# worker processes cannot import this test module: ship its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def slow_tile(frames, masks, job):
    """The library kernel, slowed down so a worker can be killed mid-run."""
    from imcombiners.dask.engine import default_tile_function

    if np.asarray(frames[0]).size > 1:  # not the 1-pixel dtype probe
        time.sleep(0.15)
    return default_tile_function(frames, masks, job)


@pytest.fixture(scope="module")
def fits_stack(tmp_path_factory):
    from astropy.io import fits

    d = tmp_path_factory.mktemp("dist")
    rng = np.random.default_rng(12)
    paths = []
    for i in range(7):
        frame = rng.normal(1000 + 10 * i, 15, (120, 64)).astype(np.float32)
        frame[rng.random(frame.shape) < 0.01] = 30000
        p = d / f"f{i}.fits"
        fits.PrimaryHDU(frame.astype(">f4")).writeto(p)
        paths.append(str(p))
    stack = np.stack([fits.getdata(p) for p in paths])
    return d, paths, stack


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, memory_limit="1GiB")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_fits_to_zarr_and_fits_on_process_workers(client, fits_stack):
    d, paths, stack = fits_stack
    kw = dict(rejectors=[SigClip(sigma=3.0)], scale="median", diagnostics="simple")
    ref = Combiner(stack).combine("median", **kw)
    lazy = imd.combine(paths, "median", tile=(16, 64), **kw)
    assert lazy.plan.ntiles == 8
    got = lazy.compute()
    np.testing.assert_array_equal(got.data, ref.data)
    np.testing.assert_array_equal(got.mask, ref.mask)
    np.testing.assert_array_equal(lazy.scale, ref.scale)
    g = lazy.to_zarr(str(d / "out.zarr"))
    np.testing.assert_array_equal(g["data"][...], ref.data)
    from astropy.io import fits

    out = lazy.to_fits(d / "out.fits")
    with fits.open(out) as hdul:  # astropy's own dask writer writes zeros here
        np.testing.assert_array_equal(hdul[0].data, ref.data)
        np.testing.assert_array_equal(hdul["MASK"].data.astype(bool), ref.mask)
    # dask arrays computed through the client also work (one kernel run per tile)
    import dask

    data, mask = dask.compute(lazy.data, lazy.mask)
    np.testing.assert_array_equal(data, ref.data)


def test_killed_worker_result_complete(client, fits_stack):
    d, paths, stack = fits_stack
    ref = Combiner(stack).combine("mean", rejectors=[SigClip(sigma=2.5)])
    with _replace_kernels(tile_fn=slow_tile):
        lazy = imd.combine(paths, "mean", rejectors=[SigClip(sigma=2.5)], tile=(4, 64))
    assert lazy.plan.ntiles == 30
    killed = []
    pids = client.run(os.getpid)

    def kill_one(done, total):
        if done == 4 and not killed:
            victim = sorted(pids)[0]
            killed.append(victim)
            # SIGKILL the worker process mid-run; its nanny starts a fresh one
            os.kill(pids[victim], signal.SIGKILL)

    out = d / "killed.fits"
    lazy.to_fits(out, progress=kill_one)
    assert killed
    from astropy.io import fits

    with fits.open(out) as hdul:
        np.testing.assert_array_equal(hdul[0].data, ref)
    # no temporary left behind
    assert not [p for p in os.listdir(d) if p.endswith(".part")]
    client.wait_for_workers(2, timeout=30)


def test_plan_without_connected_workers_says_so():
    """A client whose cluster has no worker yet (adapt(minimum=0)): the plan cannot read the
    workers' limits and says so instead of silently planning for the client machine."""
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster, \
            distributed.Client(cluster):
        plan = imd.plan(np.zeros((5, 32, 32), np.float32))
    assert plan.memory_limit is None
    assert any("no worker connected yet" in note for note in plan.notes)


def test_scheduler_workers_sees_every_worker_on_every_call(client):
    """The planner's view of the workers is fetched from the scheduler on each call.

    ``Client.scheduler_info()`` returns a cache that the client's periodic refresh
    replaces with a worker-less identity; when that refresh lands between the fetch and
    the return, the caller sees no workers (a SLURM test's progress callback once did).
    """
    from imcombiners.dask.scheduling import scheduler_workers, worker_resources

    # what the periodic refresh leaves in the cache: no per-worker details
    client.sync(client._update_scheduler_info)
    assert client._scheduler_identity.get("workers", {}) == {}
    deadline = time.monotonic() + 3.0  # spans the 2 s refresh period
    calls = 0
    while time.monotonic() < deadline:
        workers = scheduler_workers(client)
        assert len(workers) == 2
        assert all(w["nthreads"] == 1 and int(w["memory_limit"]) == 2**30 for w in workers.values())
        calls += 1
        time.sleep(0.005)
    assert calls > 50
    assert worker_resources(client)[:2] == (1, 2**30)


def _direct_descriptors() -> int:
    """Worker side: open O_DIRECT descriptors of input files (reads past the page cache)."""
    from imcombiners.io.fits.handles import CACHE

    return sum(1 for key, entry in CACHE._entries.items() if key[0] == "direct" and entry[0] is not None)


def test_reads_past_the_page_cache_on_process_workers(client, tmp_path, monkeypatch):
    """The client's choice travels in the graph: workers read uncached, same result."""
    from astropy.io import fits

    from imcombiners.io import page_cache
    from imcombiners.io.fits import direct

    if not direct.available():
        pytest.skip("no O_DIRECT on this platform")
    rng = np.random.default_rng(4)
    stack = rng.normal(200, 9, (5, 48, 4096)).astype(np.float32)  # rows of 16 KiB
    paths = []
    for i, frame in enumerate(stack):
        paths.append(str(tmp_path / f"w{i}.fits"))
        fits.PrimaryHDU(frame).writeto(paths[-1])
    ref = Combiner(stack).combine("median", rejectors=[SigClip(sigma=3.0)])
    monkeypatch.setenv(page_cache.ENV_VAR, "bypass")
    lazy = imd.combine(paths, "median", rejectors=[SigClip(sigma=3.0)], tile=(8, 4096))  # 128 KiB strips
    assert any("past the page cache" in note for note in lazy.plan.notes)
    np.testing.assert_array_equal(lazy.compute().data, ref.data)
    assert sum(client.run(_direct_descriptors).values()) > 0
