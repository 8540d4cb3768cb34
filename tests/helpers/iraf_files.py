"""Real IRAF 2.17 ``imcombine`` run on FITS files as they are (IRAF image names allowed).

:func:`iraf_on_files` links the files into a fresh directory under short names (IRAF
limits name lengths), keeps any ``[...]`` selector (``file.fits[1]`` for an image in an
extension) in the @list, passes every imcombine parameter explicitly and returns IRAF's
output image. The CL runner is the benchmarks' (``benchmarks/_iraf.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from benchmarks._iraf import _run_cl, available, imcombine_script

__all__ = ["available", "iraf_on_files"]


def iraf_on_files(names: list[str], params: dict, timeout: float = 600.0) -> np.ndarray:
    """IRAF's combined image for ``names`` (paths, optionally with an IRAF selector)."""
    from astropy.io import fits

    tmp = tempfile.mkdtemp(prefix="imc_iraf_files_")
    try:
        lines = []
        for i, name in enumerate(names):
            path, sel = (name[:name.index("[")], name[name.index("["):]) if name.endswith("]") else (name, "")
            os.symlink(os.path.abspath(path), os.path.join(tmp, f"i{i:04d}.fits"))
            lines.append(f"i{i:04d}.fits{sel}\n")
        with open(os.path.join(tmp, "in.lis"), "w") as fh:
            fh.write("".join(lines))
        _wall, text = _run_cl(imcombine_script(len(names), params), tmp, timeout)
        out = os.path.join(tmp, "out.fits")
        if not os.path.exists(out):
            raise RuntimeError("IRAF wrote no output: " + text[-800:].replace("\n", " "))
        data = fits.getdata(out)
        return np.asarray(data, dtype=data.dtype.newbyteorder("="))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
