"""``imcombiners combine --cluster slurm`` on a real SLURM cluster, as a user runs it.

The command line starts a dask-jobqueue SLURMCluster for the run, shows it starting
and the progress, and cancels its jobs at the end, on an error and on Ctrl-C.  The
outputs are compared bit for bit with the same command computed by threads in this
machine (no cluster), and with the in-memory API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

distributed = pytest.importorskip("distributed")
fits = pytest.importorskip("astropy.io.fits")

from tests.helpers.slurm import jobqueue_cluster, loopback_interface  # noqa: E402
from tests.helpers.slurm_checks import leftovers, same_bits, wait_workers  # noqa: E402

#: the combine asked in every run (sigma clipping, scale by the median, diagnostics)
COMBINE = ["--method", "median", "--reject", "sigclip", "--scale", "median"]
PRODUCTS = ["--products", "nrej,nused,std,flags,mask"]
RUN_TIMEOUT = 240  # s, per command: bounded even if a job never starts


def _cli(args: list[str], env: dict, cwd, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imcombiners", "combine", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _iface() -> list[str]:
    iface = loopback_interface()
    return ["--interface", iface] if iface else []


def _list_file(tmp_path, paths) -> str:
    lst = tmp_path / "frames.lis"
    lst.write_text("\n".join(paths) + "\n")
    return f"@{lst}"


@pytest.fixture(scope="module")
def threads_result(slurm_stack, tmp_path_factory):
    """The same command computed by threads in this process (the CLI's default)."""
    paths = slurm_stack[0]
    d = tmp_path_factory.mktemp("cli-threads")
    res = _cli([_list_file(d, paths), "-o", str(d / "master.fits"), *COMBINE,
                "--diagnostics", str(d / "diag"), *PRODUCTS, "-q"], dict(os.environ), d)
    assert res.returncode == 0, res.stderr
    return d


def _same_file(a, b, name: str) -> None:
    with fits.open(a) as ha, fits.open(b) as hb:
        same_bits(ha[0].data, hb[0].data, name)


def test_cli_runs_a_slurm_cluster_for_the_combine(local_slurm, slurm_stack, threads_result, tmp_path):
    paths, _, ref, _ = slurm_stack
    run = tmp_path / "run"
    run.mkdir()
    res = _cli([_list_file(tmp_path, paths), "-o", str(tmp_path / "master.fits"), *COMBINE,
                "--diagnostics", str(tmp_path / "diag"), *PRODUCTS, "--progress",
                "--cluster", "slurm", "--jobs", "2", "--cores", "1", "--memory", "1GB",
                "--queue", local_slurm.partition, "--walltime", "00:10:00", *_iface()],
               local_slurm.env, run)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}\n{local_slurm.job_logs()}"
    # it said what it did: jobs submitted, workers connected, progress, shut down
    assert "SLURM cluster: submitting 2 job(s)" in res.stdout
    assert "worker(s) connected" in res.stdout and "memory limit 0.93 GiB each" in res.stdout
    assert "SLURM cluster: stopping" in res.stdout
    assert "combining" in res.stderr  # the tqdm bar
    # the jobs ran as SLURM jobs (their output files are in the submission directory)
    assert any(p.name.startswith("slurm-") for p in run.iterdir())
    assert local_slurm.wait_no_jobs(timeout=60), local_slurm.jobs()

    same_bits(fits.getdata(tmp_path / "master.fits"), ref.data, "master")
    _same_file(tmp_path / "master.fits", threads_result / "master.fits", "master")
    for product in ("nrej", "nused", "std", "flags", "mask"):
        _same_file(tmp_path / "diag" / f"{product}.fits", threads_result / "diag" / f"{product}.fits",
                   product)


def test_cli_cluster_from_a_config_file_to_zarr_then_ctrl_c(local_slurm, slurm_stack, tmp_path):
    """A site's dask-jobqueue configuration file; a run to zarr; then Ctrl-C mid-run."""
    paths, _, ref, _ = slurm_stack
    iface = loopback_interface()
    cfg = tmp_path / "site.yaml"
    cfg.write_text(
        "jobqueue:\n"
        "  slurm:\n"
        "    name: imc-cli-cfg\n"
        "    cores: 1\n"
        "    memory: 1GB\n"
        f"    queue: {local_slurm.partition}\n"
        "    walltime: '00:10:00'\n"
        f"    log-directory: {local_slurm.job_log_dir}\n"
        + (f"    interface: {iface}\n" if iface else "")
    )
    args = [_list_file(tmp_path, paths), *COMBINE, "--cluster", "slurm", "--cluster-config", str(cfg),
            "--jobs", "2"]
    res = _cli([*args, "-o", str(tmp_path / "master.zarr")], local_slurm.env, tmp_path)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}\n{local_slurm.job_logs()}"
    assert local_slurm.wait_no_jobs("imc-cli-cfg", timeout=60), local_slurm.jobs()
    import zarr

    same_bits(zarr.open_group(str(tmp_path / "master.zarr"), mode="r")["data"][...], ref.data, "master")

    # Ctrl-C once the jobs are in the queue: exit 130, jobs cancelled, nothing written
    proc = subprocess.Popen([sys.executable, "-m", "imcombiners", "combine", *args, "-o",
                             str(tmp_path / "interrupted.fits")], env=local_slurm.env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not local_slurm.jobs("imc-cli-cfg"):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert local_slurm.jobs("imc-cli-cfg"), "the jobs were never submitted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, f"{out}\n{err}"
    assert "interrupted" in err
    assert "SLURM cluster: stopping" in out
    assert local_slurm.wait_no_jobs("imc-cli-cfg", timeout=60), local_slurm.jobs()
    assert leftovers(tmp_path, "frames.lis", "site.yaml", "master.zarr") == []


def test_cli_error_after_the_cluster_started_cancels_its_jobs(local_slurm, slurm_stack, tmp_path):
    """A plan that cannot fit the workers' memory fails with one line; the jobs go away."""
    paths = slurm_stack[0]
    res = _cli([_list_file(tmp_path, paths), "-o", str(tmp_path / "master.fits"), *COMBINE,
                "--cluster", "slurm", "--jobs", "1", "--cores", "1", "--memory", "100MB",
                "--queue", local_slurm.partition, "--walltime", "00:10:00", *_iface()],
               local_slurm.env, tmp_path)
    assert res.returncode == 2, f"{res.stdout}\n{res.stderr}"
    assert res.stderr.count("\n") == 1 and "memory_limit" in res.stderr, res.stderr
    assert "SLURM cluster: stopping" in res.stdout
    assert local_slurm.wait_no_jobs(timeout=60), local_slurm.jobs()
    assert not (tmp_path / "master.fits").exists()


def test_cli_bad_queue_fails_with_the_reason(local_slurm, slurm_stack, tmp_path):
    """A submission the batch system refuses ends the run at once (no wait for ever)."""
    paths = slurm_stack[0]
    env = dict(local_slurm.env)
    t0 = time.monotonic()
    res = _cli([paths[0], paths[1], paths[2], "-o", str(tmp_path / "m.fits"), "--cluster", "slurm",
                "--cores", "1", "--memory", "1GB", "--queue", "no-such-partition", *_iface()],
               env, tmp_path)
    assert res.returncode == 1, f"{res.stdout}\n{res.stderr}"
    # one line, with sbatch's own words
    assert res.stderr.count("\n") == 1, res.stderr
    assert "the batch system refused the job" in res.stderr
    assert "invalid partition" in res.stderr.lower()
    assert time.monotonic() - t0 < 30


def test_cli_scheduler_file_of_a_running_cluster(local_slurm, slurm_stack, threads_result, tmp_path):
    """--scheduler FILE: a cluster started elsewhere (here: by this test) is used, not stopped."""
    paths = slurm_stack[0]
    name = "imc-cli-sched"
    cluster = jobqueue_cluster(local_slurm, name)
    with cluster, distributed.Client(cluster) as client:
        cluster.scale(jobs=1)
        wait_workers(client, local_slurm, 1)
        sched = tmp_path / "scheduler.json"
        client.write_scheduler_file(str(sched))
        res = _cli([_list_file(tmp_path, paths), "-o", str(tmp_path / "master.fits"), *COMBINE, "-q",
                    "--scheduler", str(sched)], local_slurm.env, tmp_path)
        assert res.returncode == 0, res.stderr
        _same_file(tmp_path / "master.fits", threads_result / "master.fits", "master")
        assert len(local_slurm.running_jobs(name)) == 1  # still there: not the CLI's to stop
        missing = _cli([paths[0], "-o", str(tmp_path / "x.fits"), "--scheduler",
                        str(tmp_path / "nope.json")], local_slurm.env, tmp_path)
        assert missing.returncode == 2 and "no such scheduler file" in missing.stderr
    assert local_slurm.wait_no_jobs(name, timeout=60), local_slurm.jobs(name)
    assert np.isfinite(fits.getdata(tmp_path / "master.fits")).any()
