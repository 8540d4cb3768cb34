"""The out-of-core engine on a real SLURM cluster, through dask_jobqueue.SLURMCluster.

A single-node SLURM (munged, slurmctld, slurmd: the ``local_slurm`` fixture) runs
the Dask workers as batch jobs.  The reference for every output is the in-memory
API (``Combiner``) on the same stack: equal bit for bit.  Faults (a cancelled job,
adapt) and the memory limit are in ``test_slurm_faults.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

distributed = pytest.importorskip("distributed")

import imcombiners.dask as imd  # noqa: E402
from imcombiners.dask.engine import _replace_kernels  # noqa: E402
from imcombiners.dask.scheduling import scheduler_workers  # noqa: E402
from tests.helpers.slurm_checks import (  # noqa: E402
    check_fits, check_zarr, job_of_worker, leftovers, slow_tile, wait_workers,
)
from tests.helpers.slurm import jobqueue_cluster  # noqa: E402

NAME = "imc-eq"


@pytest.fixture(scope="module")
def cluster_client(local_slurm):
    """Two SLURM jobs of one single-threaded worker each (the node has two cores)."""
    cluster = jobqueue_cluster(local_slurm, NAME)
    client = distributed.Client(cluster)
    try:
        cluster.scale(jobs=2)
        wait_workers(client, local_slurm, 2)
        yield cluster, client
    finally:
        client.close()
        cluster.close()
    # closing the cluster cancels its jobs
    assert local_slurm.wait_no_jobs(NAME, timeout=60), local_slurm.jobs(NAME)


def test_fits_and_zarr_stacks_through_slurm_equal_in_memory(cluster_client, slurm_stack, tmp_path,
                                                            local_slurm):
    cluster, client = cluster_client
    paths, zstack, ref, kw = slurm_stack
    n, h, w = zstack.shape
    # the workers really are SLURM jobs
    assert len(local_slurm.running_jobs(NAME)) == 2
    jobs = set(job_of_worker(client).values())
    assert len(jobs) == 2 and "" not in jobs
    limits = [int(w["memory_limit"]) for w in scheduler_workers(client).values()]

    for label, inputs in (("fits", paths), ("zarr", zstack)):
        # an explicit limit above the workers' is lowered to theirs: the planner reads them
        lazy = imd.combine(inputs, "median", tile=(8, w), memory_limit="64GB", **kw)
        assert lazy.plan.memory_limit == min(limits)
        assert lazy.plan.threads == 1 and lazy.plan.ntiles == h // 8
        np.testing.assert_array_equal(lazy.scale, ref.scale)
        outputs = list(lazy.out_dtypes)
        assert {"mask", "nused", "std", "output_flags"} <= set(outputs)
        check_fits(lazy.to_fits(tmp_path / f"{label}.fits"), ref, outputs, n)
        lazy.to_zarr(str(tmp_path / f"{label}.zarr"))
        check_zarr(tmp_path / f"{label}.zarr", ref, outputs)
    assert leftovers(tmp_path, "fits.fits", "fits.zarr", "zarr.fits", "zarr.zarr") == []


def test_failed_run_leaves_nothing_under_the_final_name(cluster_client, slurm_stack, tmp_path):
    paths, _, _, kw = slurm_stack
    kw = dict(kw, diagnostics=["nused"])
    with _replace_kernels(tile_fn=slow_tile):
        lazy = imd.combine(paths, "median", tile=(4, 64), **kw)

    class Stop(Exception):
        pass

    def progress(done, total):
        if done == 3:
            raise Stop

    for name, write in (("out.fits", lazy.to_fits), ("out.zarr", lazy.to_zarr)):
        with pytest.raises(Stop):
            write(str(tmp_path / name), progress=progress)
        assert not (tmp_path / name).exists()
    time.sleep(1.0)  # tiles in flight when it failed must not re-create anything
    assert leftovers(tmp_path) == []
