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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .write import HduSpec, create_fits

__all__ = ["FitsProduct", "ProductFiles", "open_products"]


@dataclass(frozen=True)
class FitsProduct:
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
    """

    path: str
    output: str
    dtype: Any = None
    complement: bool = False
    header: Any = None
    cards: tuple = ()


@dataclass(frozen=True)
class _Complement:
    """A region target storing ``n - value`` (picklable)."""

    target: Any
    n: int

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        self.target[key] = self.n - np.asarray(value).astype(np.int64)


@dataclass(frozen=True)
class _Fanout:
    """Write one output into several region targets (picklable)."""

    targets: tuple

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        for t in self.targets:
            t[key] = value


@dataclass
class ProductFiles:
    """Preallocated temporary files of a set of products.

    Attributes
    ----------
    targets : dict of str to region target
        Engine output name -> where its regions go (``target[window] = values``).
    """

    products: list[FitsProduct]
    temps: list[str]
    targets: dict[str, Any] = field(default_factory=dict)

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
        if prod.output not in available:
            raise ValueError(f"{prod.path}: output {prod.output!r} was not computed; available: "
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
            dtype = np.dtype(prod.dtype if prod.dtype is not None else out_dtypes[prod.output])
            dtype = np.dtype(np.uint8) if dtype == bool else dtype
            tmp = temporary_sibling(prod.path)
            files.temps.append(tmp)
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
