"""Several outputs of one combine, each in its own FITS file, written together by regions.

The command line writes the master image and its diagnostic images (``nrej``, ``std``,
``mask``...) this way, whichever engine computes them (Dask tile tasks or the local
strips of :mod:`imcombiners.cli._local`): every file is preallocated under a temporary
name, written region by region through picklable targets (so ``dask.distributed``
workers sharing the filesystem can write them too), and renamed to its final name only
when all are complete; a failure leaves none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from imcombiners._record import Record, factory

from .write import HduSpec, create_fits

__all__ = ["FitsProduct", "ProductFiles", "open_products", "mef_specs", "wcs_cards"]


class FitsProduct(Record):
    """One output written to its own FITS file (a primary image).

    Attributes
    ----------
    path : str
        Final file name.
    output : str
        The engine output it is made from (``data``, ``nused``, ``mask``, ...).
    dtype : numpy dtype, optional
        Stored dtype (default: the output's; bool is stored as uint8).
    complement : bool
        Store ``N - value`` (e.g. the number of samples not used from ``nused``).
    header : optional
        Header cards placed first (:func:`imcombiners.io.fits.output_header`).
    cards : tuple of (keyword, value, comment)
        More cards.
    extensions : tuple of str
        More outputs written into the same file as image extensions, named by
        ``imcombiners._products.FITS_EXTNAMES`` (``VAR``, ``DQ``, ``WHT``...).
    science_extension : bool
        The survey layout (:func:`mef_specs`): a primary HDU without data holding the
        header, ``output`` in a ``SCI`` extension, the WCS on every image extension.
    """

    path: str
    output: str
    dtype: Any = None
    complement: bool = False
    header: Any = None
    cards: tuple = ()
    extensions: tuple = ()
    science_extension: bool = False


def mef_specs(names: Sequence[str], primary: str, header: Any, cards: tuple, science_extension: bool,
              out_dtypes: Mapping[str, Any], shape_of: Callable[[str], tuple[int, ...]], *,
              dtype: Any = None, extra_cards: Mapping[str, tuple] | None = None) -> list[tuple[str | None, HduSpec]]:
    """(output or None, HDU) of a multi-extension file of several outputs.

    The ``primary`` output comes first: the primary HDU (``header`` + ``cards``), or with
    ``science_extension`` a primary HDU without data holding them followed by a ``SCI``
    extension; the other outputs follow as extensions named by ``FITS_EXTNAMES``
    (``VAR``, ``DQ``, ``WHT``, ``NUSED``...), carrying the WCS cards of ``header`` in the
    survey layout.  ``dtype`` overrides the primary output's stored dtype.
    """
    from imcombiners._products import FITS_EXTNAMES

    extra = extra_cards or {}
    wcs = wcs_cards(header) if science_extension else None
    specs: list[tuple[str | None, HduSpec]] = []
    for name in names:
        dt = np.dtype(dtype if (dtype is not None and name == primary) else out_dtypes[name])
        dt = np.dtype(np.uint8) if dt == bool else dt
        own = tuple(extra.get(name, ()))
        if name == primary and science_extension:
            specs.append((None, HduSpec("PRIMARY", (), np.uint8, tuple(cards), header)))
            specs.append((name, HduSpec("SCI", tuple(shape_of(name)), dt, own, wcs)))
        elif name == primary:
            specs.append((name, HduSpec("PRIMARY", tuple(shape_of(name)), dt, tuple(cards) + own, header)))
        else:
            specs.append((name, HduSpec(FITS_EXTNAMES.get(name, name.upper()[:8]), tuple(shape_of(name)), dt,
                                        own, wcs)))
    return specs


def wcs_cards(header: Any) -> Any:
    """The WCS (and BUNIT) cards of a header, for the image extensions of a survey file
    (None for None; the header itself when astropy cannot read its WCS)."""
    if header is None:
        return None
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS

    out = fits.Header()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning: not ours to report
        try:
            w = WCS(header)
        except Exception:  # a WCS astropy cannot read: copied as it is
            return header
        if w.wcs.ctype[0]:
            out.extend(w.to_header(relax=True), end=True)
    if "BUNIT" in header:
        out["BUNIT"] = header["BUNIT"]
    return out


class _Complement(Record):
    """A region target storing ``n - value`` (picklable)."""

    target: Any
    n: int

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        self.target[key] = self.n - np.asarray(value).astype(np.int64)


class _Fanout(Record):
    """Write one output into several region targets (picklable)."""

    targets: tuple

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        for t in self.targets:
            t[key] = value


class ProductFiles(Record, frozen=False):
    """Preallocated temporary files of a set of products.

    Attributes
    ----------
    targets : dict of str to region target
        Engine output name -> where its regions go (``target[window] = values``).
    """

    products: list[FitsProduct]
    temps: list[str]
    targets: dict[str, Any] = factory(dict)

    def commit(self, overwrite: bool) -> list[str]:
        """Rename every file to its final name (all written); returns the final paths."""
        from imcombiners.io.atomic import commit

        for prod, tmp in zip(self.products, self.temps):
            commit(tmp, prod.path, overwrite=overwrite)
        return [os.fspath(p.path) for p in self.products]

    def discard(self) -> None:
        """Remove every temporary file (after a failure)."""
        from imcombiners.io.atomic import discard

        for tmp in self.temps:
            discard(tmp)


def check_product_paths(products: Sequence[FitsProduct], available: Mapping[str, Any],
                        overwrite: bool) -> None:
    """Refuse a product of an output not computed, an existing file, a directory."""
    for prod in products:
        for output in (prod.output, *prod.extensions):
            if output not in available:
                raise ValueError(f"{prod.path}: output {output!r} was not computed; available: "
                                 f"{sorted(available)}")
        final = os.fspath(prod.path)
        if os.path.exists(final) and not overwrite:
            raise FileExistsError(f"{final!r} exists; pass overwrite=True to replace it")
        if os.path.isdir(final):
            raise IsADirectoryError(f"path {final!r} is a directory; give a file name for the FITS output")


def open_products(products: Sequence[FitsProduct], out_dtypes: Mapping[str, Any],
                  shape_of: Callable[[str], tuple[int, ...]], n: int, *,
                  overwrite: bool = False) -> ProductFiles:
    """Check the paths and preallocate every product under a temporary name.

    Parameters
    ----------
    products : sequence of FitsProduct
    out_dtypes : mapping of str to dtype
        dtype of every engine output computed.
    shape_of : callable
        Engine output name -> its shape (per-sample outputs have N planes).
    n : int
        Number of frames (for complements).
    overwrite : bool
        Existing final files may be replaced.

    Returns
    -------
    ProductFiles
        Call :meth:`ProductFiles.commit` when every region is written, or
        :meth:`ProductFiles.discard` on failure.
    """
    check_product_paths(products, out_dtypes, overwrite)
    from imcombiners.io.atomic import temporary_sibling

    files = ProductFiles(list(products), [])
    by_output: dict[str, list[Any]] = {}
    try:
        for prod in products:
            tmp = temporary_sibling(prod.path)
            files.temps.append(tmp)
            if prod.extensions or prod.science_extension:
                specs = mef_specs([prod.output, *prod.extensions], prod.output, prod.header, tuple(prod.cards),
                                  prod.science_extension, out_dtypes, shape_of, dtype=prod.dtype)
                made = create_fits(tmp, [spec for _, spec in specs])
                for name, mspec in specs:
                    if name is not None:
                        by_output.setdefault(name, []).append(made[mspec.name])
                continue
            dtype = np.dtype(prod.dtype if prod.dtype is not None else out_dtypes[prod.output])
            dtype = np.dtype(np.uint8) if dtype == bool else dtype
            spec = HduSpec("PRIMARY", tuple(shape_of(prod.output)), dtype, tuple(prod.cards), prod.header)
            target: Any = create_fits(tmp, [spec])["PRIMARY"]
            if prod.complement:
                target = _Complement(target, int(n))
            by_output.setdefault(prod.output, []).append(target)
    except BaseException:
        files.discard()
        raise
    files.targets = {k: (v[0] if len(v) == 1 else _Fanout(tuple(v))) for k, v in by_output.items()}
    return files
