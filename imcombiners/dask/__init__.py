"""Out-of-core combining on Dask: ``imcombiners.dask.combine(...)``.

The same methods, rejectors, thresholds, zero/scale/weights and diagnostics as
:meth:`imcombiners.Combiner.combine`, over stacks far larger than memory: dask
arrays, NumPy arrays/memmaps, zarr arrays, lists of FITS files, and xarray
DataArrays (``da.imc.combine(dim="frame")``; importing this package registers the
accessor, and so imports xarray).  Results are lazy dask arrays
computed together with one kernel run per spatial tile, or streamed to zarr or
FITS.  ``memory_limit`` bounds the peak resident memory; :func:`plan` shows the
tiling and the predicted peak before anything runs.

:func:`imcombine` is IRAF ``imcombine`` (:func:`imcombiners.imcombine`, bit for
bit) run the same way: full-width row strips, a first pass over the sampled
statistics rows only, and the same products streamed to FITS/zarr or NumPy.
"""

from imcombiners._xarray import register as _register_accessors
from imcombiners.dask import accessor as _accessor  # noqa: F401  (the accessors' implementations)
from imcombiners.dask.engine import CombinedArrays, LazyCombine, combine, plan
from imcombiners.dask.iraf import LazyImcombine, imcombine, plan_imcombine
from imcombiners.dask.planner import Plan

__all__ = ["combine", "plan", "imcombine", "plan_imcombine", "Plan", "LazyCombine",
           "LazyImcombine", "CombinedArrays"]

# ``import imcombiners.dask`` registers DataArray.imc / Dataset.imc too (imports xarray)
_register_accessors()
