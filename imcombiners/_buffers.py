"""Tile buffers kept by each worker thread from one tile to the next (the Dask engine's
tiles and the command line's strips).

A tile of N frames is hundreds of megabytes. Reading every tile into a fresh array makes
the kernel fault in (and zero) every page of it again: on Linux about 0.1 s per 256 MB on
bare metal, and up to 2 s in virtual machines whose host backs guest memory lazily,
which is more than reading and combining the tile. Tiles of one run have the same
shape (except at the edges), so each worker thread reads the next tile into the array of
its previous one instead.

The planners already count one tile per thread in flight, so keeping it between tiles
does not raise the peak. A thread keeps at most one buffer per role; it is released when
the thread ends (the local engines' pools end with the run; a dask.distributed worker
thread keeps one tile's worth) or when :func:`release` is called.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

__all__ = ["tile_buffer", "forget_if_shared", "release"]

_local = threading.local()


def _pool() -> dict[str, np.ndarray]:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def tile_buffer(role: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """This thread's C-contiguous array of ``shape`` and ``dtype`` for ``role`` (reused).

    The contents are whatever the previous tile left: callers overwrite every element.
    """
    pool = _pool()
    buf = pool.get(role)
    if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
        pool.pop(role, None)  # drop the old one first: never two tiles' worth at once
        buf = pool[role] = np.empty(shape, dtype)
    return buf


def forget_if_shared(role: str, outputs: Iterable[object]) -> None:
    """Stop reusing ``role``'s buffer when any output may be a view of it.

    A custom tile function may return (a view of) its input; the next tile must not
    overwrite what the caller still holds.
    """
    buf = _pool().get(role)
    if buf is not None and any(isinstance(o, np.ndarray) and np.may_share_memory(o, buf) for o in outputs):
        _pool().pop(role, None)


def release() -> None:
    """Free this thread's tile buffers."""
    _pool().clear()
