"""``imcombiners combine --cluster ...``: option errors, caught before any job is submitted.

The runs on a real batch system are in ``test_slurm_cli.py``; these need no SLURM.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from imcombiners.cli import main

# not importorskip: importing dask_jobqueue replaces the SIGINT handler (the CLI restores it)
needs_jobqueue = pytest.mark.skipif(importlib.util.find_spec("dask_jobqueue") is None,
                                    reason="dask-jobqueue is not installed (pip install '.[hpc]')")


@pytest.fixture
def frames(tmp_path):
    from astropy.io import fits

    paths = []
    for i in range(3):
        p = tmp_path / f"f{i}.fits"
        fits.PrimaryHDU(np.full((8, 8), i, np.float32)).writeto(p)
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("options, message", [
    (["--cluster", "slurm", "--scheduler", "local"], "--cluster and --scheduler are exclusive"),
    (["--cluster", "slurm", "--workers", "2"], "--workers is for threads or --scheduler local"),
    (["--cluster-config", "site.yaml"], "--cluster-config needs --cluster KIND"),
    (["--cluster", "slurm", "--cluster-config", "/no/such/site.yaml"], "--cluster-config: no such file"),
    (["--cluster", "slurm", "--jobs", "0"], "--jobs must be at least 1"),
    (["--cluster", "slurm", "--cores", "0"], "--cores must be at least 1"),
    (["--cluster", "slurm", "--memory", "4XB"], "--memory: expected a size such as"),
    (["--cluster", "slurm", "--cluster-wait", "0"], "--cluster-wait must be positive"),
    (["--cluster", "nosuch"], "invalid choice"),
])
def test_bad_cluster_options_fail_in_one_line(frames, tmp_path, capsys, options, message):
    status = main(["combine", *frames, "-o", str(tmp_path / "out.fits"), *options])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out.fits").exists()


@needs_jobqueue
def test_a_config_file_without_a_jobqueue_section_is_refused(frames, tmp_path, capsys):
    cfg = tmp_path / "site.yaml"
    cfg.write_text("distributed:\n  worker:\n    memory:\n      target: 0.6\n")
    status = main(["combine", *frames, "-o", str(tmp_path / "out.fits"), "--cluster", "slurm",
                   "--cluster-config", str(cfg)])
    err = capsys.readouterr().err
    assert status == 2 and "has no 'jobqueue:' section" in err, err


@needs_jobqueue
def test_cores_and_memory_are_asked_for_when_nothing_sets_them(frames, tmp_path, capsys, monkeypatch):
    import dask

    from imcombiners.cli._cluster import _jobqueue

    _jobqueue()  # registers jobqueue's configuration defaults

    # whatever the machine's dask configuration says, nothing sets cores/memory here
    monkeypatch.setitem(dask.config.config, "jobqueue", {
        **dask.config.config.get("jobqueue", {}),
        "slurm": {**dask.config.config.get("jobqueue", {}).get("slurm", {}), "cores": None,
                  "memory": None},
    })
    status = main(["combine", *frames, "-o", str(tmp_path / "out.fits"), "--cluster", "slurm"])
    err = capsys.readouterr().err
    assert status == 2 and "give --cores and --memory" in err, err
