"""Shared pytest configuration: hypothesis profiles and small fixtures.

Profiles (select with the environment variable ``HYPOTHESIS_PROFILE``; default ``ci``):

* ``ci``: bounded example counts, no deadline (the twin is slow by design and CI
  machines are noisy), no "too slow" health checks;
* ``dev``: a quick smoke run;
* ``thorough``: many examples, for a local hunt.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=_QUIET,
                          print_blob=True)
settings.register_profile("dev", max_examples=8, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator (tests that need randomness stay reproducible)."""
    return np.random.default_rng(20240601)


@pytest.fixture(scope="session")
def local_slurm():
    """A real single-node SLURM cluster (munged, slurmctld, slurmd) for the session.

    Skipped, with the reason and the daemons' logs, where SLURM cannot run; where
    ``scripts/test.sh`` installed it (``IMC_REQUIRE_SLURM=1``) that is a failure
    instead.  ``SLURM_CONF`` points the client commands (sbatch from
    dask-jobqueue, squeue, scancel) at it while the session runs.
    """
    from tests.helpers.slurm import LocalSlurm, SlurmUnavailable

    import importlib.util

    required = bool(os.environ.get("IMC_REQUIRE_SLURM"))
    if importlib.util.find_spec("dask_jobqueue") is None:
        msg = "dask-jobqueue is not installed (pip install -e '.[test]' or '.[hpc]')"
        pytest.fail(msg) if required else pytest.skip(msg)
    try:
        cluster = LocalSlurm.start()
    except SlurmUnavailable as exc:
        msg = f"SLURM cannot run here: {exc}"
        pytest.fail(msg, pytrace=False) if required else pytest.skip(msg)
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        cluster.stop()


@pytest.fixture(scope="session")
def slurm_stack(tmp_path_factory):
    """200 frames of 64x64 as FITS files and as a zarr array, with the in-memory reference.

    Returns ``(paths, zarr_array, reference, kwargs)``: ``reference`` is
    ``Combiner(stack).combine("median", **kwargs)`` (sigma clipping, scale=median,
    the simple diagnostics).
    """
    import zarr

    from imcombiners import Combiner
    from imcombiners._rejectors import SigClip
    from tests.helpers.slurm_checks import make_frames, write_fits

    d = tmp_path_factory.mktemp("slurm-stack")
    data = make_frames(np.random.default_rng(2026), 200, (64, 64))
    paths = write_fits(d / "fits", data)
    # 4-row chunks holding every frame: a tile of 4 rows reads one chunk
    z = zarr.open_array(str(d / "stack.zarr"), mode="w", shape=data.shape, dtype=data.dtype,
                        chunks=(200, 4, 64))
    z[...] = data
    kwargs = dict(rejectors=[SigClip(3.0)], scale="median", diagnostics="simple")
    ref = Combiner(data).combine("median", **kwargs)
    return paths, zarr.open_array(str(d / "stack.zarr"), mode="r"), ref, kwargs
