"""Loading and checking the second set of real-IRAF cases (tests/data/iraf/v2).

Shared by the in-memory, out-of-core and command-line case tests. A case holds the
stack, IRAF's parameters and everything IRAF wrote: the output (in its ``outtype``),
the products it was asked for, the offsets it printed and its output header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "iraf" / "v2"
INDEX = json.loads((DATA / "index.json").read_text())
CASES = INDEX["cases"]
PRODUCTS = ("sigma", "rejmask", "nrejmask", "expmask")


def load(case: dict) -> tuple[Any, dict]:
    z = np.load(DATA / case["file"])
    params = json.loads(str(z["params_json"]))
    assert params == case["params"]
    return z, params


def products_of(params: dict) -> list[str]:
    return [k for k in PRODUCTS if params.get(f"want_{k}")]


def kwargs_of(z: Any, params: dict, tmp: Path, *, offsets_as: str = "file") -> dict:
    """Keyword arguments of :func:`imcombiners.imcombine` for a case.

    ``offsets_as``: "file" writes IRAF's offsets file (always for ``# absolute``),
    "numbers" passes the list (IRAF order, x first).
    """
    p = dict(params)
    headers = p.pop("frame_headers", None)
    for k in PRODUCTS:
        p.pop(f"want_{k}", None)
    absolute = p.pop("offsets_absolute", False)
    offs = p["offsets"]
    if isinstance(offs, list):
        if absolute or offsets_as == "file":
            path = tmp / "offsets.txt"
            path.write_text(str(z["offsets_file"]))
            p["offsets"] = str(path)
        else:
            p["offsets"] = [[float(v) for v in row] for row in offs]
    for key in ("statsec", "expname", "outlimits"):
        if p.get(key) == "":
            p[key] = None
    for key in ("zero", "scale", "weight"):
        if isinstance(p[key], list):
            p[key] = [float(v) for v in p[key]]
    p["headers"] = headers
    p["products"] = products_of(params)
    if "masks" in z.files:
        p["masks"] = z["masks"]
    return p


def write_fits_case(z: Any, params: dict, tmp: Path) -> list[str]:
    """The case as IRAF saw it: FITS frames with their headers, masks named by ``BPM``."""
    from astropy.io import fits

    headers = params.get("frame_headers") or [{}] * len(z["stack"])
    paths = []
    for i, frame in enumerate(z["stack"]):
        h = fits.Header()
        for k, v in (headers[i] or {}).items():
            h[k] = v
        if "masks" in z.files:
            name = f"bpm{i + 1:04d}.fits"
            fits.PrimaryHDU(z["masks"][i].astype(np.int32)).writeto(tmp / name)
            h["BPM"] = name
        path = tmp / f"im{i + 1:04d}.fits"
        fits.PrimaryHDU(frame, header=h).writeto(path)
        paths.append(str(path))
    return paths


def _same(ours: np.ndarray, iraf: np.ndarray) -> np.ndarray:
    """Bit-for-bit agreement (NaN only matches NaN)."""
    return (ours == iraf) | (np.isnan(ours) & np.isnan(iraf))


def differences(res: Any, z: Any, params: dict) -> dict[str, int]:
    """Number of differing pixels per product (empty dict: everything matches).

    Every comparison is exact: the output and sigma bit for bit, the masks value for
    value."""
    out: dict[str, int] = {}
    iraf = z["output"]
    if res.output.shape != iraf.shape or res.output.dtype != iraf.dtype:
        return {"output shape/dtype": 1}
    if iraf.dtype.kind in "iu":
        bad = res.output != iraf
    else:
        bad = ~_same(res.output, iraf)
    if bad.any():
        out["output"] = int(bad.sum())
    for name in products_of(params):
        ours = getattr(res, name)
        ref = z[name]
        if name == "sigma":
            d = ~_same(ours, ref)
        elif name == "rejmask":
            d = (ours != ref.astype(bool)).any(axis=0)
        else:
            d = ours != ref
        if d.any():
            out[name] = int(d.sum())
    if "expmask" in products_of(params):
        # IRAF writes the float32 encoding in decimal
        ours = (np.float32(res.maskscal), np.float32(res.maskzero))
        if ours != (np.float32(z["expmask_maskscal"]), np.float32(z["expmask_maskzero"])):
            out["maskscal/maskzero"] = 1
    if "iraf_offsets" in z.files and not np.array_equal(res.offsets, z["iraf_offsets"]):
        out["offsets"] = 1
    hd = header_differences(res.header, json.loads(str(z["output_header_json"])))
    if hd:
        out["header: " + ", ".join(hd)] = 1
    return out


def header_differences(ours: dict, iraf: dict) -> list[str]:
    """Keywords of IRAF's output header that describe the pixels and their coordinates
    and differ in ours (IRAF-internal WAT keywords and CD/CDELT spelling aside)."""
    from imcombiners._iraf_wcs import FrameWcs

    bad = []
    keys = {k for k in iraf if k.startswith(("NAXIS", "CRPIX", "CRVAL", "CTYPE", "LTV", "LTM"))}
    keys |= {"NCOMBINE", "WCSDIM"} & set(iraf)
    for k in sorted(keys | {k for k in ours if k.startswith(("LTV", "LTM", "CRPIX"))}):
        a, b = iraf.get(k), ours.get(k)
        if k.startswith(("LTV", "CRPIX", "CRVAL", "LTM")):
            default = 1.0 if k.startswith("LTM") and k[3] == k[5] else 0.0
            a = default if a is None else float(a)
            b = default if b is None else float(b)
            if abs(a - b) > 1e-9 * max(1.0, abs(a)):
                bad.append(k)
        elif a != b:
            bad.append(k)
    ndim = int(iraf.get("NAXIS", 2))
    if not np.allclose(FrameWcs.from_header(iraf, ndim).cd, FrameWcs.from_header(ours, ndim).cd, rtol=1e-12,
                       atol=0):
        bad.append("CD")
    return bad
