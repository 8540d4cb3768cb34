"""Real IRAF 2.17 `imcombine`, run headless through `irafcl`, on FITS files.

Each call writes a CL script into a fresh temporary directory (with a private HOME so
no uparm parameter file leaks between calls), links the input files there under short
names (IRAF limits file-name lengths), passes every imcombine parameter explicitly, and
times the whole `irafcl` process. The CL start-up cost is measured separately
(`startup_seconds`) and reported next to it; it is tens of milliseconds.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time

import numpy as np

NOT_INSTALLED = "not installed: apt-get install iraf iraf-noao"


def available() -> bool:
    return shutil.which("irafcl") is not None


def _env(home: str, tmp: str) -> dict:
    env = dict(os.environ)
    env["HOME"] = home
    env["USER"] = env.get("USER") or "iraf"  # the CL refuses to start without USER
    env["TMPDIR"] = tmp
    env.pop("iraf", None)
    # IRAF's avsigclip + grow path reads memory it did not initialise: its output then
    # depends on glibc malloc settings (dask.distributed sets MALLOC_TRIM_THRESHOLD_ in
    # the parent process). Run IRAF with glibc's defaults so its results are reproducible.
    for key in [k for k in env if k.startswith("MALLOC_")]:
        env.pop(key)
    return env


def _run_cl(script: str, workdir: str, timeout: float) -> tuple[float, str]:
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    path = os.path.join(workdir, "run.cl")
    with open(path, "w") as f:
        f.write(script)
    t0 = time.perf_counter()
    with open(path) as fin:
        proc = subprocess.Popen([shutil.which("irafcl") or "irafcl", "-c"], stdin=fin,
                                cwd=workdir, env=_env(home, workdir),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            raw, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the CL and its x_images.e child, this call only
            proc.communicate()
            raise RuntimeError(f"IRAF timed out after {timeout:.0f} s") from None
    return time.perf_counter() - t0, raw.decode("latin-1", "replace")


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        s = repr(float(v))
        return s if ("." in s or "e" in s) else s + "."
    return '"' + str(v) + '"'


# Every imcombine parameter, IRAF's defaults except the outputs we do not want.
DEFAULTS = {
    "headers": "", "bpmasks": "", "rejmasks": "", "nrejmasks": "", "expmasks": "",
    "sigmas": "", "imcmb": "$I", "logfile": "", "combine": "average", "reject": "none",
    "project": False, "outtype": "real", "outlimits": "", "offsets": "none",
    "masktype": "none", "maskvalue": "0", "blank": 0.0, "scale": "none", "zero": "none",
    "weight": "none", "statsec": "", "expname": "", "lthreshold": "INDEF",
    "hthreshold": "INDEF", "nlow": 1, "nhigh": 1, "nkeep": 1, "mclip": True,
    "lsigma": 3.0, "hsigma": 3.0, "rdnoise": "0.", "gain": "1.", "snoise": "0.",
    "sigscale": 0.1, "pclip": -0.5, "grow": 0.0,
}


def imcombine_script(nfiles: int, params: dict) -> str:
    p = dict(DEFAULTS)
    p.update(params)
    args = ['"@in.lis"', '"out.fits"']
    for k, v in p.items():
        if k in ("lthreshold", "hthreshold") and v == "INDEF":
            args.append(f"{k}=INDEF")
        elif k in ("nlow", "nhigh", "nkeep"):
            args.append(f"{k}={int(v)}")
        else:
            args.append(f"{k}={_fmt(v)}")
    args.append('mode="h"')
    return "\n".join(["images", "immatch", "imcombine (" + ", ".join(args) + ")",
                      "logout", ""])


def startup_seconds(repeats: int = 3) -> float:
    """Median wall time of an irafcl that loads the packages and logs out."""
    times = []
    for _ in range(repeats):
        tmp = tempfile.mkdtemp(prefix="imc_iraf_")
        try:
            t, _ = _run_cl("images\nimmatch\nlogout\n", tmp, 60)
            times.append(t)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return float(np.median(times))


def make_setup(files: list[str], params: dict, timeout: float = 600.0):
    """Setup function for an Impl: returns a self-timed caller running IRAF once.

    The warm-up call reads IRAF's output back (for the comparison with the reference);
    the timed calls discard it.
    """

    def setup():
        if not available():
            raise RuntimeError(NOT_INSTALLED)
        first = {"done": False}

        def timed():
            tmp = tempfile.mkdtemp(prefix="imc_iraf_")
            try:
                for i, name in enumerate(files):
                    os.symlink(os.path.abspath(name), os.path.join(tmp, f"i{i:04d}.fits"))
                with open(os.path.join(tmp, "in.lis"), "w") as f:
                    f.write("".join(f"i{i:04d}.fits\n" for i in range(len(files))))
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall, text = _run_cl(imcombine_script(len(files), params), tmp, timeout)
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                # CPU of the reaped CL and what it waited for (its x_images.e process).
                cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
                out_path = os.path.join(tmp, "out.fits")
                if not os.path.exists(out_path):
                    raise RuntimeError("IRAF wrote no output: " + text[-500:].replace("\n", " "))
                out = None
                if not first["done"]:
                    from astropy.io import fits

                    out = fits.getdata(out_path).astype(np.float32)
                    first["done"] = True
                return wall, cpu, out
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

        return timed

    return setup
