"""xarray accessor: ``da.imc.combine(dim="frame", ...)``.

A one-line forwarder to :func:`imcombiners.dask.combine` that moves ``dim`` to
axis 0, keeps the coordinates and attributes that do not involve ``dim``, and
returns lazy xarray objects (dask-backed) built from the engine's outputs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import xarray as xr

from imcombiners._products import PER_SAMPLE
from imcombiners.dask.engine import combine

if TYPE_CHECKING:
    import dask.array as da  # heavy (~1 s); only its type is used

__all__ = ["ImcAccessor"]


@xr.register_dataarray_accessor("imc")
class ImcAccessor:
    """``DataArray.imc``: image-stack combining along a frame dimension."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def combine(self, method: str = "mean", *, dim: str = "frame", mask: xr.DataArray | object = None,
                **kwargs: object) -> xr.DataArray | xr.Dataset:
        """Combine along ``dim`` out of core (see :func:`imcombiners.dask.combine`).

        Parameters
        ----------
        method : str
            Combine method, as :meth:`imcombiners.Combiner.combine`.
        dim : str
            The frame dimension reduced.
        mask : DataArray or array, optional
            Bad-pixel mask (True = bad) with the same dimensions.
        **kwargs
            Every other argument of :func:`imcombiners.dask.combine`
            (rejectors, thresholds, zero, scale, weights, diagnostics, memory_limit, ...).

        Returns
        -------
        DataArray or Dataset
            Without diagnostics: the combined image as a lazy DataArray keeping
            the coordinates not on ``dim`` and the attributes (plus an
            ``imcombiners`` attribute with the provenance as JSON).  With
            diagnostics: a Dataset with ``data`` and one variable per diagnostic
            (per-sample ones keep ``dim`` and its coordinate).  The lazy result
            object is in ``.attrs``-free form at ``result.encoding["imcombiners"]``.
        """
        obj = self._obj
        if dim not in obj.dims:
            raise ValueError(f"dim={dim!r} is not a dimension of this DataArray; dims are {obj.dims}")
        order = (dim,) + tuple(d for d in obj.dims if d != dim)
        arr = obj.transpose(*order)
        if isinstance(mask, xr.DataArray):
            mask = mask.transpose(*order).data
        lazy = combine(arr.data, method, mask=mask, **kwargs)
        spatial_dims = order[1:]
        coords = {k: v for k, v in arr.coords.items() if dim not in v.dims}
        attrs = dict(obj.attrs)
        attrs["imcombiners"] = json.dumps(lazy.provenance, sort_keys=True)

        def wrap(name: str, data: da.Array) -> xr.DataArray:
            if name in PER_SAMPLE:
                return xr.DataArray(data, dims=order, coords=dict(arr.coords), name=name)
            return xr.DataArray(data, dims=spatial_dims, coords=coords, name=name)

        image = wrap("data", lazy.data).rename(obj.name)
        image.attrs.update(attrs)
        image.encoding["imcombiners"] = lazy
        if len(lazy.arrays) == 1:
            return image
        ds = xr.Dataset({name: wrap(name, a) for name, a in lazy.arrays.items()}, attrs=attrs)
        ds["data"].attrs.update(obj.attrs)
        ds.encoding["imcombiners"] = lazy
        return ds
