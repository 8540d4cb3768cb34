"""Streaming outputs: zarr groups and multi-extension FITS files.

Every tile task reads, combines and writes its own region, so no output is ever
held whole in memory and a killed worker's tiles are simply recomputed and
rewritten (region writes are idempotent).  Outputs go to a temporary name and
are renamed atomically when complete: a failed run never leaves a product
under the final name.

zarr is the primary format (safe for concurrent writes when each task owns
whole chunks: the arrays are chunked exactly like the tiles).  FITS is written
into a preallocated file through picklable region targets, which also works on
``dask.distributed`` process workers sharing the filesystem (astropy's own dask
writer writes zeros there).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union

import numpy as np

from imcombiners._products import FITS_EXTNAMES, output_shape
from imcombiners.canvas import shift_wcs_header
from imcombiners.dask.planner import Plan
from imcombiners.dask.scheduling import Progress
from imcombiners.dask.tasks import RegionTarget
from imcombiners.io.atomic import commit, discard, temporary_sibling
from imcombiners.io.fits import create_fits, output_header
from imcombiners.io.fits.outputs import FitsProduct, mef_specs, open_products
from imcombiners.io.provenance import provenance_cards

if TYPE_CHECKING:  # zarr is imported only when writing zarr (~0.2 s)
    import zarr

__all__ = ["StreamableResult", "primary_header", "write_zarr", "write_fits", "write_fits_files", "FitsProduct", "EXTNAMES",
           "ZarrStore", "Compressors"]

#: FITS extension name of each output (the image is the primary HDU).
EXTNAMES = FITS_EXTNAMES
#: A directory path or any zarr store / group.
ZarrStore = Union[str, os.PathLike, "zarr.Group", MutableMapping]
#: zarr compressors: ``"default"`` (zarr's), None (uncompressed) or zarr codecs.
Compressors = object


class StreamableResult(Protocol):
    """What the sinks need from a lazy result (:class:`~imcombiners.dask.lazy.LazyCombine`)."""

    @property
    def out_dtypes(self) -> Mapping[str, np.dtype]:
        """dtype of every output computed."""

    @property
    def n(self) -> int:
        """Number of frames (planes of the per-sample outputs)."""

    @property
    def spatial(self) -> tuple[int, ...]:
        """Shape of one output image."""

    @property
    def plan(self) -> Plan:
        """The tiling (the zarr chunks follow it)."""

    @property
    def provenance(self) -> dict:
        """What the primary header / group attributes record."""

    @property
    def primary(self) -> str:
        """Name of the combined image (the primary HDU)."""

    @property
    def extra_cards(self) -> Mapping[str, tuple]:
        """Extra header cards per output."""

    @property
    def template(self) -> object:
        """The first input when the inputs are FITS images (a FitsFrame), else None."""

    def write_tiles(self, targets: Mapping[str, RegionTarget], progress: Progress) -> None:
        """Read, combine and write every tile into ``targets`` (output name -> target)."""


def _outputs(result: StreamableResult, outputs: Sequence[str] | None) -> list[str]:
    names = list(result.out_dtypes) if outputs is None else list(outputs)
    unknown = [n for n in names if n not in result.out_dtypes]
    if unknown:
        raise ValueError(f"outputs: {unknown} were not computed; available: {sorted(result.out_dtypes)}")
    primary = result.primary
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)
    return names


def _shape_of(result: StreamableResult, name: str) -> tuple[int, ...]:
    return output_shape(name, result.n, result.spatial)


def _fill(dtype: np.dtype) -> float:
    return np.nan if np.dtype(dtype).kind == "f" else 0


def write_zarr(result: StreamableResult, store: ZarrStore, *, outputs: Sequence[str] | None = None,
               overwrite: bool = False, progress: Progress = None, compressors: Compressors = "default",
               atomic: bool = True) -> zarr.Group:
    """Stream the outputs of a combine into a zarr group.

    Parameters
    ----------
    result : LazyCombine
        From :func:`imcombiners.dask.combine`.
    store : str, path or zarr store
        A directory path (written under a temporary name and renamed when
        complete if ``atomic``) or any zarr store/group (written in place).
    outputs : sequence of str, optional
        Which outputs (default: all computed).
    overwrite : bool
        Replace an existing group.
    progress : bool or callable
        Progress bar / ``callable(done, total)`` per finished tile.
    compressors : optional
        Passed to zarr (``"default"``: zarr's default; None: uncompressed).
    atomic : bool
        Write a path under a temporary name first.

    Returns
    -------
    zarr.Group
        The written group (reopened at the final location).

    Notes
    -----
    Arrays are named after the outputs (``data``, ``mask``, ...), chunked like the
    tiles (per-sample outputs: one frame per chunk), carry ``dimension_names``
    (``frame``, ``y``, ``x``) for xarray, and the group carries the provenance
    in its attributes.
    """
    import zarr  # heavy optional module (~0.2 s): only when writing zarr

    names = _outputs(result, outputs)
    is_path = isinstance(store, (str, os.PathLike))
    if is_path:
        final = os.fspath(store)
        if os.path.exists(final) and not overwrite:
            raise FileExistsError(f"{final!r} exists; pass overwrite=True to replace it")
        target = temporary_sibling(final) if atomic else final
    else:
        final = target = store
    try:
        group = zarr.open_group(target, mode="w")
        group.attrs.update({"imcombiners": result.provenance})
        wcs_header = getattr(result, "wcs_header", None)
        if wcs_header is not None:  # the canvas WCS as FITS cards (astropy.wcs.WCS(dict) reads it)
            group.attrs["wcs"] = {k: v for k, v in wcs_header.items() if k not in ("COMMENT", "HISTORY", "")}
        tile = tuple(max(c) for c in result.plan.chunks)
        spatial_dims = ["y", "x"][-len(result.spatial):] if len(result.spatial) <= 2 else [
            f"dim_{k}" for k in range(len(result.spatial))]
        arrays = {}
        for name in names:
            dtype = np.dtype(result.out_dtypes[name])
            store_dtype = np.uint8 if dtype == bool else dtype
            shape = _shape_of(result, name)
            per_sample = len(shape) == len(result.spatial) + 1
            chunks = ((1,) + tile) if per_sample else tile
            dims = (["frame"] + spatial_dims) if per_sample else spatial_dims
            kw: dict[str, object] = {"name": name, "shape": shape, "chunks": chunks, "dtype": store_dtype,
                                  "fill_value": _fill(dtype)}
            if compressors != "default":
                kw["compressors"] = compressors
            if hasattr(group, "create_array"):
                kw["dimension_names"] = dims
                arr = group.create_array(**kw, overwrite=True)
            else:  # zarr 2
                kw.pop("compressors", None)
                arr = group.create_dataset(**kw, overwrite=True)
                arr.attrs["_ARRAY_DIMENSIONS"] = dims
            arrays[name] = _BoolAsUint8(arr) if dtype == bool else arr
        result.write_tiles(arrays, progress)
    except BaseException:
        if is_path and atomic:
            discard(target)
        raise
    if is_path and atomic:
        commit(target, final, overwrite=overwrite)
    return zarr.open_group(final, mode="r") if is_path else group


class _BoolAsUint8:
    """Write bool tiles into a uint8 zarr array (portable across zarr versions/readers)."""

    def __init__(self, arr: zarr.Array) -> None:
        self.arr = arr

    def __setitem__(self, key: tuple[slice, ...], value: np.ndarray) -> None:
        self.arr[key] = np.asarray(value, dtype=np.uint8)

    def __reduce__(self):
        return (_BoolAsUint8, (self.arr,))


def primary_header(result: StreamableResult, cards: Sequence[tuple] = ()) -> Any:
    """Header of the combined image, or None when there is nothing but ``cards``.

    FITS inputs: the first input's header (IRAF's rule, :func:`output_header`) with its
    WCS moved to where the first frame sits on the output grid (offsets).  Otherwise the
    canvas WCS of ``offsets="wcs"`` when there is one.  ``cards`` follow.
    """
    template = getattr(result, "template", None)
    origin = getattr(result, "origin", None)
    wcs_header = getattr(result, "wcs_header", None)
    if template is not None:  # FITS inputs: the first input's header, as IRAF does
        header = output_header(template, cards)
        for key in getattr(result, "removed_cards", ()):  # IRAF's imcombine deletes these
            header.remove(key, ignore_missing=True, remove_all=True)
        return shift_wcs_header(header, origin) if origin else header
    if wcs_header is not None:
        return output_header(wcs_header, cards)
    return None


def write_fits(result: StreamableResult, path: str | os.PathLike[str], *,
               outputs: Sequence[str] | None = None, overwrite: bool = False,
               progress: Progress = None, science_extension: bool = False) -> str:
    """Stream the outputs of a combine into one multi-extension FITS file.

    The primary HDU holds the combined image; its header starts, for FITS inputs, from
    the first input's header as IRAF does (:func:`imcombiners.io.fits.output_header`:
    stale structural/scaling/checksum cards removed, non-standard cards repaired or
    dropped with a warning, WCS kept and moved to the output grid when frames sit at
    offsets), followed by the provenance cards (``NCOMBINE``, ``IMCMBnnn``,
    ``IMCPARAM``, ``IMCZ/S/Wnnnn``, ``IMCVERS``); each other output is an image
    extension (``MASK`` with N planes, ``NUSED``, ``STD``, ``LOW``, ``UPP``, ``NIT``,
    ``OUTFLAGS``, ``SAMPFLAG``; the survey products ``VAR``, ``WHT``, ``EXPOSURE``,
    ``DQ``).  ``science_extension=True`` writes the survey layout instead: a primary
    HDU without data holding that header, the image in a ``SCI`` extension, and every
    image extension carrying the WCS.  The file is preallocated under a temporary
    name, written region by region by the tile tasks, flushed and renamed.

    Returns
    -------
    str
        The final path.
    """
    final = os.fspath(path)
    if os.path.exists(final) and not overwrite:
        raise FileExistsError(f"{final!r} exists; pass overwrite=True to replace it")
    if os.path.isdir(final):  # reliability: fail before computing, never delete a directory
        raise IsADirectoryError(f"path {final!r} is a directory; give a file name for the FITS output")
    names = _outputs(result, outputs)
    primary = result.primary
    if names[0] != primary:
        raise ValueError(f"to_fits needs the {primary!r} output (it is the primary HDU)")
    cards = tuple(provenance_cards(result.provenance))
    header = primary_header(result, cards)
    if header is not None:
        cards = ()
    specs = mef_specs(names, primary, header, cards, science_extension, result.out_dtypes,
                      lambda name: _shape_of(result, name), extra_cards=result.extra_cards or {})
    tmp = temporary_sibling(final)
    try:
        targets = create_fits(tmp, [spec for _, spec in specs])
        by_output = {name: targets[spec.name] for name, spec in specs if name is not None}
        result.write_tiles(by_output, progress)
        commit(tmp, final, overwrite=overwrite)
    except BaseException:
        discard(tmp)
        raise
    return final


# --------------------------------------------------------------------------
# one FITS file per output (the command line's master + diagnostic images)
# --------------------------------------------------------------------------


def write_fits_files(result: StreamableResult, products: Sequence[FitsProduct], *, overwrite: bool = False,
                     progress: Progress = None) -> list[str]:
    """Stream outputs into separate FITS files in one pass (each tile combined once).

    Every file is preallocated under a temporary name, written region by region by the
    tile tasks and renamed when all are complete; a failure leaves none of them
    (:func:`imcombiners.io.fits.outputs.open_products`). No output is ever held whole in
    memory, so ``memory_limit`` holds whatever the products (a per-sample ``mask``
    included).

    Returns
    -------
    list of str
        The final paths.
    """
    files = open_products(products, result.out_dtypes, lambda name: _shape_of(result, name), int(result.n),
                          overwrite=overwrite)
    try:
        result.write_tiles(files.targets, progress)
        return files.commit(overwrite)
    except BaseException:
        files.discard()
        raise
