"""The output products of every mode, in one table.

The library modes (:class:`~imcombiners.Combiner`, :func:`~imcombiners._job.run_job`,
:func:`imcombiners.dask.combine`) produce ``data`` and the diagnostics asked for; IRAF's
:func:`~imcombiners.imcombine` produces ``output`` and IRAF's optional products.  Shapes,
memory accounting, FITS extension names and the streaming sinks all read this table,
so a new product is added here once.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "SIMPLE_DIAGNOSTICS",
    "FULL_DIAGNOSTICS",
    "DIAGNOSTICS",
    "PLANE_PRODUCTS",
    "IRAF_PRODUCTS",
    "PER_SAMPLE",
    "WORKSPACE_TYPED",
    "ITEMSIZE",
    "FITS_EXTNAMES",
    "output_shape",
]

#: Diagnostics of ``diagnostics="simple"`` (library modes).
SIMPLE_DIAGNOSTICS: tuple[str, ...] = ("mask", "low", "upp", "std", "nit", "output_flags", "nused",
                                       "clip_low", "clip_upp")
#: Diagnostics of ``diagnostics="full"``: the simple ones and the per-sample flags.
FULL_DIAGNOSTICS: tuple[str, ...] = SIMPLE_DIAGNOSTICS + ("sample_flags",)
#: Survey products (docs/design.md "Survey planes"): the propagated variance, the sum of
#: the weights, the sum of the exposure times and the DQ of the samples used.  They are
#: asked for by name (``diagnostics=["variance", "weight", ...]``), never by "simple"/"full".
PLANE_PRODUCTS: tuple[str, ...] = ("variance", "weight", "exposure", "dq")
#: Every optional output of a library job (``data`` is always produced).
DIAGNOSTICS: frozenset[str] = frozenset(FULL_DIAGNOSTICS + PLANE_PRODUCTS)

#: IRAF imcombine's optional products, in IRAF's order (``sigmas``, ``rejmasks``,
#: ``nrejmasks``, ``expmasks``, ``bpmasks``); the combined image is ``output``.
IRAF_PRODUCTS: tuple[str, ...] = ("sigma", "rejmask", "nrejmask", "expmask", "bpmask")

#: Outputs with one plane per input frame: shape ``(N, *spatial)``.
PER_SAMPLE: frozenset[str] = frozenset({"mask", "sample_flags", "rejmask"})

#: Outputs in the workspace dtype (float32 or float64, as the combined image).
WORKSPACE_TYPED: frozenset[str] = frozenset({"data", "output", "std", "low", "upp", "clip_low", "clip_upp",
                                             "sigma", "variance", "weight", "exposure"})

#: Bytes per element of the other outputs (per-sample ones: per sample).
ITEMSIZE: Mapping[str, int] = {
    "mask": 1,
    "sample_flags": 1,
    "nit": 1,
    "output_flags": 1,
    "nused": 4,
    "dq": 4,  # at most: the DQ input's width (uint8 without one)
    "rejmask": 1,
    "nrejmask": 4,
    "expmask": 4,
    "bpmask": 4,
}

#: FITS extension name of each output (the combined image is the primary HDU).
FITS_EXTNAMES: Mapping[str, str] = {
    "mask": "MASK", "sample_flags": "SAMPFLAG", "std": "STD", "low": "LOW", "upp": "UPP",
    "nit": "NIT", "output_flags": "OUTFLAGS", "nused": "NUSED", "clip_low": "CLIPLOW", "clip_upp": "CLIPUPP",
    "variance": "VAR", "weight": "WHT", "exposure": "EXPOSURE", "dq": "DQ",
    "sigma": "SIGMA", "rejmask": "REJMASK", "nrejmask": "NREJMASK", "expmask": "EXPMASK", "bpmask": "BPMASK",
}


def output_shape(name: str, n: int, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of output ``name`` for ``n`` frames of shape ``spatial``."""
    return (n, *spatial) if name in PER_SAMPLE else tuple(spatial)
