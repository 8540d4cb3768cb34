"""Out-of-core combining on Dask: ``imcombiners.dask.combine(...)``.

The same methods, rejectors, thresholds, zero/scale/weights and diagnostics as
:meth:`imcombiners.Combiner.combine`, over stacks far larger than memory: dask
arrays, NumPy arrays/memmaps, zarr arrays, lists of FITS files, and xarray
DataArrays (``da.imc.combine(dim="frame")``).  Results are lazy dask arrays
computed together with one kernel run per spatial tile, or streamed to zarr or
FITS.  ``memory_limit`` bounds the peak resident memory; :func:`plan` shows the
tiling and the predicted peak before anything runs.
"""

from imcombiners.dask.engine import CombinedArrays, LazyCombine, combine, plan
from imcombiners.dask.planner import Plan

__all__ = ["combine", "plan", "Plan", "LazyCombine", "CombinedArrays"]

try:  # register the xarray accessor when xarray is installed
    from imcombiners.dask import accessor as _accessor  # noqa: F401
except ImportError:  # pragma: no cover - xarray is optional at import time
    pass
