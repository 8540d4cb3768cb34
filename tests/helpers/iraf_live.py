"""Run real IRAF 2.17 ``imcombine`` on FITS files of any shapes, with any outputs.

``tests/test_iraf_live.py`` runs IRAF on N equally shaped images with one output. The
geometry tests need more: images of different sizes and of three axes, and
``project=yes``, where every input image gives its own output (IRAF's matching output
lists). This helper links the files (and extra files: masks, offsets lists) under short
names in a fresh directory, passes every imcombine parameter explicitly (through
``benchmarks._iraf.imcombine_script``), and reads back each output and the products
asked for (pixel-list masks converted to FITS with ``imcopy``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np
from astropy.io import fits

from benchmarks._iraf import _run_cl, imcombine_script

__all__ = ["run_iraf", "PRODUCT_FILES"]

#: product -> (imcombine parameter, file name stem)
PRODUCT_FILES = {"sigma": ("sigmas", "sig"), "nrejmask": ("nrejmasks", "nrej"),
                 "expmask": ("expmasks", "exp"), "bpmask": ("bpmasks", "bpm")}


def _read(path: str) -> tuple[np.ndarray, dict]:
    with fits.open(path) as hdul:
        data = np.asarray(hdul[0].data)
        header = {k: hdul[0].header[k] for k in hdul[0].header if k not in ("COMMENT", "HISTORY", "")}
    return data.astype(data.dtype.newbyteorder("=")), header


def link_inputs(files: Sequence[str], extra: Mapping[str, str] | None, work: str) -> None:
    """Link the inputs under IRAF-friendly short names (``iNNNN.fits``, listed in
    ``in.lis``) and the ``extra`` files under their own names, in ``work``."""
    for i, name in enumerate(files):
        os.symlink(os.path.abspath(name), os.path.join(work, f"i{i:04d}.fits"))
    for name, path in (extra or {}).items():
        os.symlink(os.path.abspath(path), os.path.join(work, name))
    with open(os.path.join(work, "in.lis"), "w") as f:
        f.write("".join(f"i{i:04d}.fits\n" for i in range(len(files))))


def run_iraf(files: Sequence[str], params: Mapping[str, object], *, outputs: int = 1,
             products: Sequence[str] = (), extra: Mapping[str, str] | None = None,
             timeout: float = 120) -> list[dict[str, object]] | None:
    """IRAF's results: one dict per output (``output``, ``header`` and each product).

    ``outputs`` > 1: ``project=yes`` with several inputs (one output per input). Returns
    None when IRAF wrote no output (it refused the parameters).
    """
    work = tempfile.mkdtemp(prefix="imc_iraf_geom_")
    try:
        link_inputs(files, extra, work)
        outs = [f"o{k:03d}" for k in range(outputs)]
        p = dict(params)
        lists = {}
        for prod in products:
            par, stem = PRODUCT_FILES[prod]
            ext = "fits" if prod == "sigma" else "pl"
            lists[prod] = [f"{stem}{k:03d}.{ext}" for k in range(outputs)]
            with open(os.path.join(work, f"{stem}.lis"), "w") as f:
                f.write("".join(nm + "\n" for nm in lists[prod]))
            p[par] = f"@{stem}.lis"
        with open(os.path.join(work, "out.lis"), "w") as f:
            f.write("".join(o + ".fits\n" for o in outs))
        script = imcombine_script(len(files), p).replace('"out.fits"', '"@out.lis"', 1)
        copies = [f'imcopy ("{nm}", "{nm[:-3]}_m.fits", verbose=no)'
                  for prod in products if prod != "sigma" for nm in lists[prod]]
        script = script.replace("logout", "\n".join([*copies, "logout"]))
        _, log = _run_cl(script, work, timeout)
        results = []
        for k, o in enumerate(outs):
            path = os.path.join(work, o + ".fits")
            if not os.path.exists(path):
                return None
            data, header = _read(path)
            res: dict[str, object] = {"output": data, "header": header, "log": log}
            for prod in products:
                nm = lists[prod][k]
                res[prod] = _read(os.path.join(work, nm if prod == "sigma" else nm[:-3] + "_m.fits"))[0]
            results.append(res)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)
