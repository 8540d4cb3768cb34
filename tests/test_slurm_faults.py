"""Faults and memory on a real SLURM cluster: scancel mid-combine, adapt(), worker limits.

Every test starts its own ``SLURMCluster`` (jobs are cancelled, limits differ) on the
session's single-node SLURM and checks at the end that none of its jobs is left.
The reference is the in-memory API, bit for bit.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

distributed = pytest.importorskip("distributed")

import imcombiners.dask as imd  # noqa: E402
from imcombiners.dask.engine import _replace_kernels  # noqa: E402
from imcombiners.dask.scheduling import scheduler_workers  # noqa: E402
from imcombiners import Combiner  # noqa: E402
from imcombiners._rejectors import SigClip  # noqa: E402
from tests.helpers.slurm_checks import (  # noqa: E402
    busy_worker, check_fits, check_zarr, job_of_worker, leftovers, make_frames, peak_rss, slow_tile,
    wait_workers, write_fits,
)
from tests.helpers.slurm import jobqueue_cluster  # noqa: E402


def test_scancel_of_a_worker_job_mid_combine(local_slurm, slurm_stack, tmp_path):
    """A worker's job is cancelled while it computes tiles: same bits, no partial output."""
    paths, _, ref, kw = slurm_stack
    n = len(paths)
    name = "imc-fault"
    cluster = jobqueue_cluster(local_slurm, name)
    with cluster, distributed.Client(cluster) as client:
        cluster.scale(jobs=2)
        wait_workers(client, local_slurm, 2)
        job_of = job_of_worker(client)
        with _replace_kernels(tile_fn=slow_tile):
            lazy = imd.combine(paths, "median", tile=(4, 64), **kw)
        outputs = list(lazy.out_dtypes)

        t0 = time.monotonic()
        lazy.to_fits(tmp_path / "clean.fits")
        clean_s = time.monotonic() - t0
        check_fits(tmp_path / "clean.fits", ref, outputs, n)

        final = tmp_path / "fault.fits"
        seen: dict = {"final_existed": False}

        def progress(done, total):
            seen["final_existed"] |= final.exists()
            if "job" not in seen and done >= 3:
                busy = busy_worker(client)
                if busy is not None:
                    seen.update(job=job_of[busy[0]], tiles=busy[1], t=time.monotonic())
                    local_slurm.scancel(seen["job"])

        t0 = time.monotonic()
        lazy.to_fits(final, progress=progress)
        t_end = time.monotonic()
        assert "job" in seen, "no worker was busy: the job was never cancelled"
        assert not seen["final_existed"], "the output appeared under its final name before the end"
        check_fits(final, ref, outputs, n)
        assert seen["job"] not in local_slurm.running_jobs(name)
        assert len(scheduler_workers(client)) == 1  # the cancelled worker is gone
        print(f"\nscancel fault (FITS -> FITS, {lazy.plan.ntiles} tiles of 0.3 s): clean run "
              f"{clean_s:.1f} s, faulted run {t_end - t0:.1f} s, {t_end - seen['t']:.1f} s from "
              f"scancel to the end")
        assert leftovers(tmp_path, "clean.fits", "fault.fits") == []
    assert local_slurm.wait_no_jobs(name, timeout=60), local_slurm.jobs(name)


def test_adapt_scales_up_survives_scancel_and_scales_down(local_slurm, slurm_stack, tmp_path):
    """adapt(): a job is added for the queued tiles and one is cancelled mid-run (zarr in,
    zarr out); then a second run (FITS in, FITS out) scales up again and the cluster
    shrinks back to its minimum afterwards.  Both results are exact."""
    paths, zstack, ref, kw = slurm_stack
    # per-sample diagnostics are left to the equality test: thousands of chunk files
    kw = dict(kw, diagnostics=["nused", "std", "output_flags"])
    name = "imc-adapt"
    cluster = jobqueue_cluster(local_slurm, name)
    with cluster, distributed.Client(cluster) as client:
        cluster.adapt(minimum_jobs=1, maximum_jobs=2, interval="500ms", wait_count=2,
                      target_duration="2s")
        wait_workers(client, local_slurm, 1)

        def run(inputs, final, write, kill: bool) -> dict:
            with _replace_kernels(tile_fn=functools.partial(slow_tile, delay=0.6)):
                lazy = imd.combine(inputs, "median", tile=(4, 64), **kw)
            seen: dict = {"final_existed": False, "max_workers": 0, "outputs": list(lazy.out_dtypes)}

            def progress(done, total):
                seen["final_existed"] |= final.exists()
                workers = scheduler_workers(client)
                seen["max_workers"] = max(seen["max_workers"], len(workers))
                if kill and "job" not in seen and len(workers) >= 2:
                    busy = busy_worker(client)
                    if busy is not None:
                        seen.update(job=job_of_worker(client)[busy[0]], t=time.monotonic())
                        local_slurm.scancel(seen["job"])

            t0 = time.monotonic()
            write(lazy, final, progress)
            seen["t0"], seen["t_end"] = t0, time.monotonic()
            assert seen["max_workers"] >= 2, "adapt() never added a job"
            assert not seen["final_existed"], "the output appeared under its final name before the end"
            return seen

        a = run(zstack, tmp_path / "a.zarr", lambda lz, f, p: lz.to_zarr(str(f), progress=p), kill=True)
        assert "job" in a, "the job was never cancelled"
        check_zarr(tmp_path / "a.zarr", ref, a["outputs"])

        # dask-jobqueue does not resubmit a job cancelled behind its back; once idle,
        # adapt drops it from its plan and a new run scales up again
        b = run(paths, tmp_path / "b.fits", lambda lz, f, p: lz.to_fits(f, progress=p), kill=False)
        check_fits(tmp_path / "b.fits", ref, b["outputs"], len(paths))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(local_slurm.jobs(name)) > 1:
            time.sleep(0.5)
        down_s = time.monotonic() - b["t_end"]
        assert len(local_slurm.jobs(name)) == 1, local_slurm.jobs(name)
        assert len(local_slurm.running_jobs(name)) == 1
        print(f"\nadapt (16 tiles of 0.6 s): run with scancel {a['t_end'] - a['t0']:.1f} s "
              f"({a['t_end'] - a['t']:.1f} s after scancel); second run {b['t_end'] - b['t0']:.1f} s "
              f"with up to {b['max_workers']} workers, back to 1 job {down_s:.1f} s after its end")
        assert leftovers(tmp_path, "a.zarr", "b.fits") == []
    assert local_slurm.wait_no_jobs(name, timeout=60), local_slurm.jobs(name)


def test_worker_memory_limit_from_the_job_is_honoured(local_slurm, tmp_path):
    """memory= of the jobqueue config sets the workers' memory_limit; the planner tiles
    for it, and each worker's peak RSS stays under it with the products asked."""
    n = 200
    # 400 MiB of float32: a tile of half the image (what the planner picks for one thread
    # without a limit) takes a worker over 250 MB and its nanny kills it (tried by hand)
    data = make_frames(np.random.default_rng(7), n, (1024, 512))
    paths = write_fits(tmp_path / "big", data)
    kw = dict(rejectors=[SigClip(3.0)], diagnostics=["mask", "nused", "std"])
    ref = Combiner(data).combine("median", rejectors=kw["rejectors"], diagnostics="simple")
    del data
    name = "imc-mem"
    cluster = jobqueue_cluster(local_slurm, name, memory="250MB")
    with cluster, distributed.Client(cluster) as client:
        cluster.scale(jobs=1)
        wait_workers(client, local_slurm, 1)
        (limit,) = [int(w["memory_limit"]) for w in scheduler_workers(client).values()]
        assert abs(limit - 250e6) < 1e6  # memory= per worker process (dask-jobqueue rounds it)
        lazy = imd.combine(paths, "median", streaming=True, **kw)
        plan = lazy.plan
        assert plan.memory_limit == limit and plan.predicted_peak <= limit
        # the limit matters: the two strips an unlimited single-thread plan uses would not fit
        loose = imd.plan(paths, "median", tile=(512, 512), streaming=True, **kw)
        assert loose.predicted_peak > limit
        assert plan.ntiles > 2

        samples = []

        def progress(done, total):
            info = scheduler_workers(client).values()
            samples.append(max(w["metrics"]["memory"] for w in info))

        out = lazy.to_fits(tmp_path / "master.fits", progress=progress)
        peaks = client.run(peak_rss)
        check_fits(out, ref, ["data", "mask", "nused", "std"], n)
        for addr, peak in peaks.items():
            assert peak < limit, f"worker {addr}: peak RSS {peak / 2**20:.0f} MiB over its limit"
        print(f"\nworker memory: limit {limit / 2**20:.0f} MiB, plan {plan.ntiles} tiles of "
              f"{plan.tile}, predicted peak {plan.predicted_peak / 2**20:.0f} MiB; measured peak RSS "
              f"{max(peaks.values()) / 2**20:.0f} MiB (ru_maxrss of the worker process), scheduler "
              f"samples up to {max(samples) / 2**20:.0f} MiB")
    assert local_slurm.wait_no_jobs(name, timeout=60), local_slurm.jobs(name)
