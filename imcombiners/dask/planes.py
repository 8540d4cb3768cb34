"""Planes of an out-of-core stack: variance, per-pixel weights and DQ words.

A plane is read next to the frames, window by window, by the same tile task (never a
separate pass, never a padded copy).  What users give for a plane becomes a source here:

* an extension of every input FITS file, named by EXTNAME (``"VAR"``, ``"ERR"``,
  ``"WHT"``, ``"DQ"``, or a :class:`~imcombiners._planes.PlaneSpec`): each file's
  extension is read as a frame, variances converted on read (``ERR`` squared, ``WHT``
  inverted; :func:`imcombiners._planes.to_variance`);
* a list of N frames (arrays, memmaps, zarr arrays, FITS paths);
* one ``(N, *spatial)`` array-like (NumPy, memmap, zarr), or a dask array with a dask
  stack (blocks used directly, rechunked like the stack).

With ``offsets`` the frames of a plane are placed like the frames of the stack
(uncovered samples: variance NaN, weights 0, DQ 0; the stack's NaN fill already
excludes them).  Variances and weights are read as float32/float64 (other numbers as
float64), DQ words as the unsigned integers of their width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from dask.base import tokenize

from imcombiners._planes import PlaneSpec, dq_unsigned, plane_spec, to_variance, variance_spec
from imcombiners.dask.inputs import FrameView, Offsets, is_dask
from imcombiners.dask.sources import FrameReader, FramesSource, StackArraySource, StackSource, as_frame
from imcombiners.dask.tasks import PLANE_ROLES
from imcombiners.io.fits import FitsFrame, split_name
from imcombiners.io.fits.window import normalise_window as _normalise_window
from imcombiners.offsets import padded_layout

if TYPE_CHECKING:  # dask.array is heavy (~1 s); only its type is used
    import dask.array as da

__all__ = ["PLANE_ROLES", "PlaneFrame", "PlaneFrames", "PlaneArray", "plane_inputs", "plane_dtype",
           "check_plane_names"]

_FILL = {"variance": np.nan, "weights": 0.0, "dq": 0}


def plane_dtype(role: str, dtype: np.dtype, what: str) -> np.dtype:
    """dtype a plane's values are delivered in (see the module doc)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if role == "dq":
        return dq_unsigned(dtype, what)
    if dtype.kind not in "iuf":
        raise TypeError(f"{what} must be numeric; got dtype {dtype}")
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


@dataclass(frozen=True, eq=False)
class PlaneFrame:
    """One frame of a plane: a reader whose values are converted as the role says.

    ``kind`` is a variance kind (variance, stddev, inverse_variance), ``"weights"`` or
    ``"dq"``.
    """

    reader: FrameReader
    role: str
    kind: str

    @property
    def shape(self) -> tuple[int, ...]:
        return self.reader.shape

    @property
    def dtype(self) -> np.dtype:
        return plane_dtype(self.role, self.reader.dtype, self.role)

    @property
    def path(self) -> str | None:
        return getattr(self.reader, "path", None)

    def read(self, window: Sequence[slice] | None = None, out: np.ndarray | None = None) -> np.ndarray:
        raw = self.reader.read(window)
        if self.role == "dq":
            words = raw.view(raw.dtype.str.replace("i", "u")) if raw.dtype.kind == "i" else raw
            res = np.asarray(words, dtype=self.dtype)
        elif self.role == "variance" and self.kind != "variance":
            # a private copy: an array reader may hand out a view of the user's array
            res = to_variance(np.array(raw, dtype=self.dtype, copy=True), self.kind)
        else:
            res = np.asarray(raw, dtype=self.dtype)
        if out is None:
            return np.ascontiguousarray(res)
        out[...] = res
        return out


class PlaneFrames(FramesSource):
    """N plane frames (FITS extensions, arrays), placed at the stack's offsets."""

    def __init__(self, frames: Sequence[object], role: str, kind: str,
                 offsets: Offsets | None = None, hdu: object = None) -> None:
        readers = [as_frame(f, hdu) for f in frames]  # type: ignore[arg-type]
        self.frames = [PlaneFrame(r, role, kind) for r in readers]
        shapes = [tuple(f.shape) for f in self.frames]
        self.names = None
        if offsets is None:
            if len(set(shapes)) != 1:
                raise ValueError(f"{role}: frames have different shapes {sorted(set(shapes))}; give offsets=")
            self.offsets, spatial = None, shapes[0]
        else:
            offs, spatial = padded_layout(shapes, offsets)
            self.offsets = [tuple(int(v) for v in o) for o in offs]
        dtypes = {f.dtype for f in self.frames}
        self.dtype = max(dtypes, key=lambda d: d.itemsize) if len(dtypes) > 1 else dtypes.pop()
        self.fill = _FILL[role]
        self.shape = (len(self.frames),) + tuple(spatial)
        self.disk_itemsize = max(np.dtype(r.dtype).itemsize for r in readers)
        self.align = ()
        self.token = tokenize("plane", role, kind, [(getattr(r, "path", None), getattr(r, "hdu", None),
                                                     id(getattr(r, "array", r))) for r in readers],
                              self.offsets)


class PlaneArray(StackArraySource):
    """An ``(N, *spatial)`` plane array-like (zarr, memmap, ndarray), converted on read."""

    def __init__(self, array: object, role: str) -> None:
        arr_dtype = np.dtype(array.dtype)  # type: ignore[attr-defined]
        self._role = role
        self._raw_dtype = arr_dtype
        self.shape = tuple(int(s) for s in array.shape)  # type: ignore[attr-defined]
        self.dtype = plane_dtype(role, arr_dtype, role)
        self.names = None
        self._reader = array
        self.align = ()
        self.disk_itemsize = arr_dtype.itemsize
        self.read_overhead = 0.0 if isinstance(array, np.ndarray) else 1.0
        self.token = tokenize("planearray", role, id(array), self.shape, str(arr_dtype))

    def _convert(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if self._role == "dq" and block.dtype.kind == "i":
            block = block.view(block.dtype.str.replace("i", "u"))
        return np.ascontiguousarray(block, dtype=self.dtype)

    def read(self, window: Sequence[slice]) -> np.ndarray:
        win = (slice(None),) + _normalise_window(self.shape[1:], window)
        return self._convert(self._reader[win])  # type: ignore[index]

    def read_frame(self, i: int, window: Sequence[slice] | None = None) -> np.ndarray:
        win = (slice(i, i + 1),) + _normalise_window(self.shape[1:], window)
        return self._convert(self._reader[win])[0]  # type: ignore[index]


def _spec_of(value: object, role: str) -> PlaneSpec | None:
    """An extension-name plane argument as a :class:`PlaneSpec` (None for arrays)."""
    if isinstance(value, PlaneSpec):
        return value
    if isinstance(value, str) or (isinstance(value, tuple) and value and isinstance(value[0], str)):
        return variance_spec(value) if role == "variance" else plane_spec(value, role, role)
    return None


def check_plane_names(planes: Mapping[str, object]) -> None:
    """Check the extension names of plane arguments before any file is opened."""
    for role, value in planes.items():
        if value is not None:
            _spec_of(value, role)


def plane_inputs(value: object, *, role: str, inputs: object, shape: tuple[int, ...],
                 offsets: Offsets | None,
                 dask_stack: bool) -> tuple[StackSource | None, da.Array | None]:
    """A plane argument -> (source, None) or (None, dask array) with the stack's shape.

    ``inputs`` is what the stack was given as (needed when the plane names an extension
    of the input files).
    """
    if role not in PLANE_ROLES:
        raise ValueError(f"unknown plane {role!r}")
    spec = _spec_of(value, role)
    if spec is not None:
        paths = inputs if isinstance(inputs, (list, tuple)) else None
        if not paths or not all(isinstance(p, (str, FitsFrame)) or hasattr(p, "__fspath__") for p in paths):
            raise TypeError(f"{role}={value!r} names a FITS extension: the inputs must then be FITS files")
        kind = spec.kind if role == "variance" else role
        # the plane's extension of each input file (an image selector such as
        # "a.fits[SCI]" or a probed frame names the file, not the plane's HDU)
        files = [p.path if isinstance(p, FitsFrame) else split_name(p)[0] for p in paths]
        source: StackSource = PlaneFrames(files, role, kind, offsets=offsets, hdu=spec.hdu)
    elif dask_stack:
        import dask.array as da  # a dask stack: dask.array is already imported

        darr = value if is_dask(value) else da.from_array(np.asarray(value))
        if tuple(darr.shape) != shape:  # type: ignore[union-attr]
            raise ValueError(f"{role} has shape {tuple(darr.shape)} but the stack has shape {shape}")  # type: ignore[union-attr]
        plane_dtype(role, darr.dtype, role)  # type: ignore[union-attr]
        return None, darr  # type: ignore[return-value]
    elif is_dask(value):
        raise TypeError(f"{role}: a dask array needs a dask array stack; give it as a NumPy or zarr array "
                        "or a list of frames, or the stack as a dask array")
    elif isinstance(value, (list, tuple)):
        kind = "variance" if role == "variance" else role
        source = PlaneFrames(list(value), role, kind, offsets=offsets)
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        if offsets is not None:
            frames = [FrameView(value, i) for i in range(value.shape[0])]  # type: ignore[attr-defined]
            source = PlaneFrames(frames, role, "variance" if role == "variance" else role, offsets=offsets)
        else:
            source = PlaneArray(value, role)
    else:
        raise TypeError(f"{role} must be an array of the stack's shape, a list of N frames, a dask array, "
                        f"or an extension name of FITS inputs; got {type(value).__name__}")
    if tuple(source.shape) != shape:
        raise ValueError(f"{role} has shape {tuple(source.shape)} but the stack has shape {shape}")
    return source, None


def read_planes(sources: Mapping[str, StackSource], window: Sequence[slice]) -> dict[str, np.ndarray]:
    """Every plane's ``(N, *window)`` block."""
    return {role: src.read(window) for role, src in sources.items()}
