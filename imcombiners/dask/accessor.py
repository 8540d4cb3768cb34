"""xarray accessors: ``da.imc.combine(dim="frame", ...)`` and ``ds.imc.combine(...)``.

These are the implementations; ``DataArray.imc``/``Dataset.imc`` are registered by
``import imcombiners`` (:mod:`imcombiners._xarray`: proxies that load this module on
first use).

One-line forwarders to :func:`imcombiners.dask.combine` that move ``dim`` to axis 0,
keep the coordinates and attributes that do not involve ``dim``, and return lazy xarray
objects (dask-backed) built from the engine's outputs.  The Dataset accessor takes the
variables of a survey stack by name (data, variance, DQ, mask, per-pixel weights) and
returns a Dataset of the products (docs/design.md, "Survey planes").
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import xarray as xr

from imcombiners._job import VARIANCE_METHODS
from imcombiners._planes import is_inverse_variance
from imcombiners._products import PER_SAMPLE
from imcombiners._validate import canonical_method
from imcombiners.dask.engine import LazyCombine, combine

if TYPE_CHECKING:
    import dask.array as da  # heavy (~1 s); only its type is used

__all__ = ["ImcAccessor", "ImcDatasetAccessor"]


def _order(obj: xr.DataArray, dim: Hashable) -> tuple[Hashable, ...]:
    if dim not in obj.dims:
        raise ValueError(f"dim={dim!r} is not a dimension of this {type(obj).__name__}; dims are {tuple(obj.dims)}")
    return (dim,) + tuple(d for d in obj.dims if d != dim)


def _plane(x: object, order: tuple[Hashable, ...], name: str) -> object:
    """A plane argument: a DataArray is transposed like the stack; anything else as given."""
    if isinstance(x, xr.DataArray):
        if set(x.dims) == set(order[1:]):  # one frame's shape, shared by every frame
            return x.transpose(*order[1:]).data
        if set(x.dims) != set(order):
            raise ValueError(f"{name} has dims {tuple(x.dims)} but the stack has {order}")
        return x.transpose(*order).data
    return x


def _wrap(lazy: LazyCombine, arr: xr.DataArray, order: tuple[Hashable, ...], dim: Hashable,
          names: dict[str, str]) -> dict[str, xr.DataArray]:
    """The engine's outputs as DataArrays (per-sample ones keep ``dim``), renamed."""
    spatial_dims = order[1:]
    coords = {k: v for k, v in arr.coords.items() if dim not in v.dims}

    def one(name: str, data: da.Array) -> xr.DataArray:
        if name in PER_SAMPLE:
            return xr.DataArray(data, dims=order, coords=dict(arr.coords), name=names.get(name, name))
        return xr.DataArray(data, dims=spatial_dims, coords=coords, name=names.get(name, name))

    return {names.get(k, k): one(k, a) for k, a in lazy.arrays.items()}


class ImcAccessor:
    """``DataArray.imc``: image-stack combining along a frame dimension."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def combine(self, method: str = "mean", *, dim: str = "frame", mask: xr.DataArray | object = None,
                variance: xr.DataArray | object = None, dq: xr.DataArray | object = None,
                weights: xr.DataArray | object = None, **kwargs: object) -> xr.DataArray | xr.Dataset:
        """Combine along ``dim`` out of core (see :func:`imcombiners.dask.combine`).

        Parameters
        ----------
        method : str
            Combine method, as :meth:`imcombiners.Combiner.combine`.
        dim : str
            The frame dimension reduced.
        mask, variance, dq : DataArray or array, optional
            Bad-pixel mask (True = bad), per-sample variances, integer DQ words with the
            same dimensions (any order).
        weights : optional
            Per-frame numbers or a statistic name, per-sample weights (a DataArray with
            the same dimensions), or ``"inverse_variance"``.
        **kwargs
            Every other argument of :func:`imcombiners.dask.combine`
            (rejectors, thresholds, zero, scale, diagnostics, bad_bits, memory_limit, ...).

        Returns
        -------
        DataArray or Dataset
            Without diagnostics: the combined image as a lazy DataArray keeping
            the coordinates not on ``dim`` and the attributes (plus an
            ``imcombiners`` attribute with the provenance as JSON).  With
            diagnostics: a Dataset with ``data`` and one variable per diagnostic
            (per-sample ones keep ``dim`` and its coordinate).  The lazy result
            object is at ``result.encoding["imcombiners"]``.
        """
        obj = self._obj
        order = _order(obj, dim)
        arr = obj.transpose(*order)
        lazy = combine(arr.data, method, mask=_plane(mask, order, "mask"),
                       variance=_plane(variance, order, "variance"), dq=_plane(dq, order, "dq"),
                       weights=_plane(weights, order, "weights"), **kwargs)  # type: ignore[arg-type]
        attrs = dict(obj.attrs)
        attrs["imcombiners"] = json.dumps(lazy.provenance, sort_keys=True)
        out = _wrap(lazy, arr, order, dim, {})
        image = out["data"].rename(obj.name)
        image.attrs.update(attrs)
        image.encoding["imcombiners"] = lazy
        if len(out) == 1:
            return image
        ds = xr.Dataset(out, attrs=attrs)
        ds["data"].attrs.update(obj.attrs)
        ds.encoding["imcombiners"] = lazy
        return ds


class ImcDatasetAccessor:
    """``Dataset.imc``: combine a survey stack held as variables of one Dataset."""

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    def _var(self, name: Hashable | None, what: str) -> xr.DataArray | None:
        if name is None:
            return None
        if name not in self._obj.data_vars:
            raise ValueError(f"{what}={name!r} is not a data variable of this Dataset; "
                             f"variables are {list(self._obj.data_vars)}")
        return self._obj[name]

    def combine(self, method: str = "mean", *, dim: str = "frame", data: Hashable | None = None,
                variance: Hashable | None = None, dq: Hashable | None = None, mask: Hashable | None = None,
                weights: Hashable | object = None, diagnostics: str | Sequence[str] | None = None,
                **kwargs: object) -> xr.Dataset:
        """Combine the stack variable ``data`` along ``dim`` with its planes.

        Parameters
        ----------
        method : str
            Combine method, as :meth:`imcombiners.Combiner.combine`.
        dim : str
            The frame dimension reduced.
        data : str, optional
            The image variable (default: the only data variable with ``dim``).
        variance, dq, mask : str, optional
            Names of the variables holding per-sample variances, integer DQ words and a
            bad-pixel mask (same dimensions as ``data``).
        weights : optional
            A variable name (per-sample weights), ``"inverse_variance"``, or per-frame
            numbers / a statistic name as for :func:`imcombiners.dask.combine`.
        diagnostics : optional
            Output names (default: ``variance`` when a variance is given and the method
            has one, ``dq`` when DQ words are given, ``weight`` when weighting).
        **kwargs
            Every other argument of :func:`imcombiners.dask.combine` (rejectors,
            bad_bits, nodata_bit, memory_limit, ...).

        Returns
        -------
        Dataset
            The combined image under the name of ``data``, the propagated variance under
            the name of ``variance`` and the DQ under the name of ``dq`` (other products
            under their own names: ``weight``, ``nused``, ...), with the coordinates not
            on ``dim``, the Dataset's attributes (plus the provenance as JSON in
            ``imcombiners``) and each input variable's attributes on its product.  The lazy
            result object is at ``result.encoding["imcombiners"]``.
        """
        ds = self._obj
        if data is None:
            stacks = [k for k, v in ds.data_vars.items() if dim in v.dims and k not in (variance, dq, mask, weights)]
            if len(stacks) != 1:
                raise ValueError(f"data: give the name of the image variable (variables with {dim!r}: {stacks})")
            data = stacks[0]
        image = self._var(data, "data")
        assert image is not None
        order = _order(image, dim)
        planes = {k: self._var(v, k) for k, v in (("variance", variance), ("dq", dq), ("mask", mask))}
        w: object = weights
        if isinstance(weights, str) and not is_inverse_variance(weights) and weights in ds.data_vars:
            w = ds[weights]
        if diagnostics is None:
            wanted = []
            if variance is not None and canonical_method(method) in VARIANCE_METHODS:
                wanted.append("variance")
            if dq is not None:
                wanted.append("dq")
            if weights is not None:
                wanted.append("weight")
            diagnostics = wanted or None
        arr = image.transpose(*order)
        lazy = combine(arr.data, method, mask=_plane(planes["mask"], order, "mask"),
                       variance=_plane(planes["variance"], order, "variance"),
                       dq=_plane(planes["dq"], order, "dq"), weights=_plane(w, order, "weights"),
                       diagnostics=diagnostics, **kwargs)  # type: ignore[arg-type]
        names = {"data": str(data)}
        if variance is not None:
            names["variance"] = str(variance)
        if dq is not None:
            names["dq"] = str(dq)
        out = _wrap(lazy, arr, order, dim, names)
        attrs = dict(ds.attrs)
        attrs["imcombiners"] = json.dumps(lazy.provenance, sort_keys=True)
        result = xr.Dataset(out, attrs=attrs)
        for role, src in (("data", image), ("variance", planes["variance"]), ("dq", planes["dq"])):
            if src is not None and names.get(role) in result:
                result[names[role]].attrs.update(src.attrs)
        result.encoding["imcombiners"] = lazy
        return result
